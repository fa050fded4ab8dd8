/*
 * t_http: http.c against a loopback HTTP/1.1 server forked by the test,
 * driven by its own event_base.  The server numbers its connections in
 * accept order and answers by path:
 *
 *   /hello    "conn=N", Content-Length, keep-alive (N: accept serial)
 *   /5m       5 MiB of a known pattern, Content-Length
 *   /70m      70 MiB, no Content-Length, Connection: close
 *   /70m-cl   Content-Length of 70 MiB, 64 KiB of body, then silence
 *   /rl       X-RateLimit-Reset 10 s from now (wall clock)
 *   /rl-skew  Date 3 h ahead of the wall clock, Reset 5 s after it (a box
 *             whose clock is 3 h behind Intercom's)
 *   /rl-day   Date now, Reset a day ahead (a hostile answer)
 *
 * The silence is what proves the early refusal: a client that waited for
 * the body would sit until its timeout.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <cmocka.h>

#include <event2/event.h>

#include "clock.h"
#include "http.h"

#define MIB		((size_t)1024 * 1024)
#define SRV_MAXC	32

static pid_t		 srv_pid = -1;
static int		 srv_port;
static struct event_base *base;
static struct http	*http;

/* ------------------------------------------------------------------ */
/* the server (child process)                                          */

static int
srv_write(int fd, const void *buf, size_t len)
{
	const char	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		if ((n = send(fd, p, len, MSG_NOSIGNAL)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;	/* the client went away */
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Body bytes follow 'a' + i % 26 so the client can check its copy. */
static int
srv_body(int fd, size_t len)
{
	static char	 chunk[64 * 1024];
	size_t		 i, off, n;

	for (off = 0; off < len; off += n) {
		n = len - off < sizeof(chunk) ? len - off : sizeof(chunk);
		for (i = 0; i < n; i++)
			chunk[i] = (char)('a' + (off + i) % 26);
		if (srv_write(fd, chunk, n) == -1)
			return -1;
	}
	return 0;
}

/* Answer one request; -1 closes the connection. */
static int
srv_answer(int fd, int serial, const char *path)
{
	char	 hdr[256], body[64];
	int	 n;

	if (strcmp(path, "/hello") == 0) {
		n = snprintf(body, sizeof(body), "conn=%d", serial);
		snprintf(hdr, sizeof(hdr), "HTTP/1.1 200 OK\r\n"
		    "Content-Length: %d\r\n\r\n%s", n, body);
		return srv_write(fd, hdr, strlen(hdr));
	}
	if (strcmp(path, "/rl") == 0) {
		snprintf(hdr, sizeof(hdr), "HTTP/1.1 200 OK\r\n"
		    "X-RateLimit-Reset: %lld\r\n"
		    "Content-Length: 0\r\n\r\n", (long long)time(NULL) + 10);
		return srv_write(fd, hdr, strlen(hdr));
	}
	if (strcmp(path, "/rl-skew") == 0 || strcmp(path, "/rl-day") == 0) {
		time_t		 d = time(NULL);
		struct tm	 tm;
		char		 date[64];
		int		 skew = strcmp(path, "/rl-skew") == 0;

		d += skew ? 3 * 3600 : 0;
		gmtime_r(&d, &tm);
		strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
		/* The reset before the Date, as the order is the server's. */
		snprintf(hdr, sizeof(hdr), "HTTP/1.1 200 OK\r\n"
		    "X-RateLimit-Reset: %lld\r\nDate: %s\r\n"
		    "Content-Length: 0\r\n\r\n",
		    (long long)d + (skew ? 5 : 86400), date);
		return srv_write(fd, hdr, strlen(hdr));
	}
	if (strcmp(path, "/5m") == 0) {
		snprintf(hdr, sizeof(hdr), "HTTP/1.1 200 OK\r\n"
		    "Content-Length: %zu\r\n\r\n", 5 * MIB);
		if (srv_write(fd, hdr, strlen(hdr)) == -1)
			return -1;
		return srv_body(fd, 5 * MIB);
	}
	if (strcmp(path, "/70m") == 0) {
		snprintf(hdr, sizeof(hdr), "HTTP/1.1 200 OK\r\n"
		    "Connection: close\r\n\r\n");
		if (srv_write(fd, hdr, strlen(hdr)) == 0)
			srv_body(fd, 70 * MIB);
		return -1;
	}
	if (strcmp(path, "/70m-cl") == 0) {
		snprintf(hdr, sizeof(hdr), "HTTP/1.1 200 OK\r\n"
		    "Content-Length: %zu\r\n\r\n", 70 * MIB);
		if (srv_write(fd, hdr, strlen(hdr)) == -1)
			return -1;
		return srv_body(fd, 64 * 1024);	/* then nothing more */
	}
	snprintf(hdr, sizeof(hdr), "HTTP/1.1 404 Not Found\r\n"
	    "Content-Length: 0\r\n\r\n");
	return srv_write(fd, hdr, strlen(hdr));
}

static void
srv_loop(int ls)
{
	struct pollfd	 pfd[SRV_MAXC + 1];
	struct {
		char	 buf[8192];
		size_t	 len;
		int	 serial;
	}		 c[SRV_MAXC + 1];
	char		 path[256], *eoh;
	int		 nfds = 1, accepts = 0, i, fd, close_it;
	ssize_t		 n;
	size_t		 used;

	pfd[0].fd = ls;
	pfd[0].events = POLLIN;
	for (;;) {
		if (poll(pfd, (nfds_t)nfds, -1) == -1)
			continue;
		if ((pfd[0].revents & POLLIN) &&
		    (fd = accept(ls, NULL, NULL)) != -1) {
			if (nfds > SRV_MAXC)
				close(fd);
			else {
				pfd[nfds].fd = fd;
				pfd[nfds].events = POLLIN;
				pfd[nfds].revents = 0;
				c[nfds].len = 0;
				c[nfds].serial = ++accepts;
				nfds++;
			}
		}
		for (i = 1; i < nfds; i++) {
			if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			close_it = 0;
			n = read(pfd[i].fd, c[i].buf + c[i].len,
			    sizeof(c[i].buf) - 1 - c[i].len);
			if (n <= 0)
				close_it = 1;
			else {
				c[i].len += (size_t)n;
				c[i].buf[c[i].len] = '\0';
			}
			while (!close_it &&
			    (eoh = strstr(c[i].buf, "\r\n\r\n")) != NULL) {
				if (sscanf(c[i].buf, "%*s %255s", path) != 1)
					path[0] = '\0';
				used = (size_t)(eoh + 4 - c[i].buf);
				memmove(c[i].buf, eoh + 4, c[i].len - used + 1);
				c[i].len -= used;
				if (srv_answer(pfd[i].fd, c[i].serial,
				    path) == -1)
					close_it = 1;
			}
			if (close_it) {
				close(pfd[i].fd);
				pfd[i] = pfd[nfds - 1];
				c[i] = c[nfds - 1];
				nfds--;
				i--;
			}
		}
	}
}

/* ------------------------------------------------------------------ */
/* the client side                                                     */

static void
done_cb(struct http_req *r, void *arg)
{
	int	*done = arg;

	(void)r;
	*done = 1;
	event_base_loopbreak(base);
}

static void
deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	event_base_loopbreak(base);
}

/* Submit r and run the loop until it ends (or 30 s pass: a failure). */
static void
run(struct http_req *r)
{
	struct event	*deadline;
	struct timeval	 tv = { 30, 0 };
	int		 done = 0;

	r->done = done_cb;
	r->arg = &done;
	assert_int_equal(http_submit(http, r), 0);
	assert_non_null(deadline = evtimer_new(base, deadline_cb, NULL));
	evtimer_add(deadline, &tv);
	while (!done && event_base_dispatch(base) == 0 &&
	    evtimer_pending(deadline, NULL))
		;
	event_free(deadline);
	assert_true(done);
	assert_int_equal(http_active(http), 0);
}

static struct http_req *
req(const char *path, int fresh)
{
	struct http_req	*r;
	char		 url[128];

	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", srv_port, path);
	assert_non_null(r = http_req_new("GET", url));
	r->fresh = fresh;
	r->timeout_s = 20;
	return r;
}

static int
hello_conn(int fresh)
{
	struct http_req	*r = req("/hello", fresh);
	int		 conn = -1;

	run(r);
	assert_int_equal(r->cc, CURLE_OK);
	assert_int_equal(r->status, 200);
	assert_non_null(r->resp);
	assert_int_equal(sscanf(r->resp, "conn=%d", &conn), 1);
	http_req_free(r);
	return conn;
}

static int
setup(void **state)
{
	struct sockaddr_in	 sin;
	socklen_t		 sl = sizeof(sin);
	int			 ls, one = 1;

	(void)state;
	if ((ls = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return -1;
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(ls, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(ls, 16) == -1 ||
	    getsockname(ls, (struct sockaddr *)&sin, &sl) == -1) {
		close(ls);
		return -1;
	}
	srv_port = ntohs(sin.sin_port);
	if ((srv_pid = fork()) == -1) {
		close(ls);
		return -1;
	}
	if (srv_pid == 0) {
		srv_loop(ls);
		_exit(0);
	}
	close(ls);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
	    (base = event_base_new()) == NULL ||
	    (http = http_new(base)) == NULL)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	http_free(http);
	if (base != NULL)
		event_base_free(base);
	if (srv_pid > 0) {
		kill(srv_pid, SIGTERM);
		waitpid(srv_pid, NULL, 0);
	}
	curl_global_cleanup();
	return 0;
}

/* ------------------------------------------------------------------ */
/* tests                                                               */

static void
t_defaults(void **state)
{
	struct http_req	*r;
	int64_t		 t0, t1;

	(void)state;
	assert_int_equal(HTTP_RESP_MAX, 64 * MIB);
	assert_non_null(r = http_req_new("GET", "http://127.0.0.1/"));
	assert_int_equal(r->resp_max, HTTP_RESP_MAX);
	/* The CA path is the request's own copy. */
	assert_int_equal(http_req_set_ca(r, "/etc/ssl/a.pem"), 0);
	assert_non_null(r->ca_own);
	assert_ptr_equal(r->ca_file, r->ca_own);
	assert_string_equal(r->ca_file, "/etc/ssl/a.pem");
	assert_int_equal(http_req_set_ca(r, "/etc/ssl/b.pem"), 0);
	assert_string_equal(r->ca_file, "/etc/ssl/b.pem");
	assert_int_equal(http_req_set_ca(r, NULL), 0);
	assert_null(r->ca_file);
	assert_null(r->ca_own);
	assert_int_equal(http_req_set_ca(r, "/etc/ssl/c.pem"), 0);
	http_req_free(r);		/* frees ca_own: ASan checks */
	t0 = clock_mono_ms();
	t1 = clock_mono_ms();
	assert_true(t1 >= t0);
}

static void
t_5mib_whole(void **state)
{
	struct http_req	*r = req("/5m", 0);
	size_t		 i;

	(void)state;
	run(r);
	assert_int_equal(r->cc, CURLE_OK);
	assert_int_equal(r->status, 200);
	assert_false(r->too_big);
	assert_int_equal(r->resplen, 5 * MIB);
	assert_int_equal(r->resp[r->resplen], '\0');
	for (i = 0; i < r->resplen; i += 4093)
		assert_int_equal(r->resp[i], 'a' + i % 26);
	assert_int_equal(r->resp[r->resplen - 1], 'a' + (5 * MIB - 1) % 26);
	assert_true(r->sent_ms >= r->started_ms);
	assert_true(r->duration_ms >= 0);
	http_req_free(r);
}

static void
t_70mib_too_big(void **state)
{
	struct http_req	*r = req("/70m", 0);
	const char	*pre = "answer larger than 64 MiB (";
	const char	*suf = " bytes received)";
	unsigned long long n = 0;
	size_t		 el;

	(void)state;
	run(r);
	assert_int_equal(r->cc, CURLE_WRITE_ERROR);
	assert_true(r->too_big);
	assert_true(r->resplen <= 64 * MIB);
	/* Grown by doubling, capped at the bound: never over it. */
	assert_true(r->respcap <= 64 * MIB + 1);
	el = strlen(r->errbuf);
	assert_true(strncmp(r->errbuf, pre, strlen(pre)) == 0);
	assert_true(el > strlen(suf) &&
	    strcmp(r->errbuf + el - strlen(suf), suf) == 0);
	assert_int_equal(sscanf(r->errbuf + strlen(pre), "%llu", &n), 1);
	assert_true(n > 64 * MIB);
	assert_true(n <= 70 * MIB);
	http_req_free(r);
}

static void
t_70mib_content_length(void **state)
{
	struct http_req	*r = req("/70m-cl", 0);
	char		 want[128];

	(void)state;
	r->timeout_s = 10;
	run(r);
	assert_int_equal(r->cc, CURLE_WRITE_ERROR);
	assert_true(r->too_big);
	/* Refused on the header: no body byte kept, no wait for the rest. */
	assert_int_equal(r->resplen, 0);
	assert_null(r->resp);
	assert_true(r->duration_ms < 5000);
	snprintf(want, sizeof(want), "answer larger than 64 MiB "
	    "(%zu bytes announced)", 70 * MIB);
	assert_string_equal(r->errbuf, want);
	http_req_free(r);
}

/* A lower bound set by the caller is honoured and named in bytes. */
static void
t_resp_max_field(void **state)
{
	struct http_req	*r = req("/5m", 0);

	(void)state;
	r->resp_max = 1000;
	run(r);
	assert_true(r->too_big);
	assert_string_equal(r->errbuf,
	    "answer larger than 1000 bytes (5242880 bytes announced)");
	http_req_free(r);
}

static void
t_fresh_connections(void **state)
{
	int	 a, b, c, d;

	(void)state;
	/* fresh: a new connection each time, never kept. */
	a = hello_conn(1);
	b = hello_conn(1);
	assert_int_equal(b, a + 1);
	/* not fresh: the second rides the first's connection. */
	c = hello_conn(0);
	d = hello_conn(0);
	assert_int_equal(c, d);
	/* fresh again: not the kept connection, a new accept. */
	a = hello_conn(1);
	assert_true(a > c && a > b);
}

/* The server's reset (wall clock) lands on the limiter's clock. */
static void
t_rl_reset_monotonic(void **state)
{
	struct http_req	*r = req("/rl", 0);
	int64_t		 left;

	(void)state;
	run(r);
	assert_int_equal(r->cc, CURLE_OK);
	assert_true(r->rl_reset_epoch > 0);
	left = r->rl_reset_ms - clock_mono_ms();
	assert_true(left > 8000 && left <= 10000);
	assert_int_equal(r->rl_reset, (r->rl_reset_ms + 999) / 1000);
	http_req_free(r);
}

/*
 * The wait is judged on the server's clock (its Date), not the box's: a
 * box 3 h behind waits the 5 s the server means, not 3 h 5 s.
 */
static void
t_rl_reset_date(void **state)
{
	struct http_req	*r = req("/rl-skew", 0);
	int64_t		 left;

	(void)state;
	run(r);
	assert_int_equal(r->cc, CURLE_OK);
	assert_true(r->date_epoch > 0);
	assert_true(r->date_epoch - (long long)time(NULL) > 3 * 3600 - 5);
	assert_true(r->rl_wait_ms >= 4000 && r->rl_wait_ms <= 5000);
	left = r->rl_reset_ms - clock_mono_ms();
	assert_true(left > 3000 && left <= 5000);
	http_req_free(r);
}

/* A reset a day ahead is kept as advertised, and capped at the window. */
static void
t_rl_reset_capped(void **state)
{
	struct http_req	*r = req("/rl-day", 0);
	int64_t		 left;

	(void)state;
	run(r);
	assert_int_equal(r->cc, CURLE_OK);
	assert_true(r->rl_wait_ms > 86399000 && r->rl_wait_ms <= 86400000);
	left = r->rl_reset_ms - clock_mono_ms();
	assert_true(left > 9000 && left <= HTTP_RL_WAIT_MAX_MS);
	http_req_free(r);
}

/* http_rl_wait_ms, row by row. */
static void
t_rl_wait_pure(void **state)
{
	const int64_t	 w = 1800000000000LL;	/* a wall clock, ms */

	(void)state;
	/* No Date: the local clock alone. */
	assert_int_equal(http_rl_wait_ms(1800000010, 0, w, 0), 10000);
	/* A Date within the local second: the local clock's ms count. */
	assert_int_equal(http_rl_wait_ms(1800000010, 1800000000, w + 300, 0),
	    9700);
	/* ...or within the second plus the time since the request left. */
	assert_int_equal(http_rl_wait_ms(1800000010, 1800000000, w + 1500,
	    800), 8500);
	/* The box 3 h behind: Intercom's Date rules, rounded to be safe. */
	assert_int_equal(http_rl_wait_ms(1800010810, 1800010800, w, 50),
	    10000);
	/* The box 3 h ahead: the reset is not past. */
	assert_int_equal(http_rl_wait_ms(1799989210, 1799989200, w, 50),
	    10000);
	/* A reset before the Date is past. */
	assert_true(http_rl_wait_ms(1800000000, 1800000005, w, 0) < 0);
}

/* A refused option starts nothing and says why. */
static void
t_setopt_refused(void **state)
{
	struct http_req	*r;
	char		*url;
	size_t		 len = 9 * MIB;	/* over CURL_MAX_INPUT_LENGTH */

	(void)state;
	assert_non_null(url = malloc(len + 1));
	memcpy(url, "http://127.0.0.1/", 17);
	memset(url + 17, 'x', len - 17);
	url[len] = '\0';
	assert_non_null(r = http_req_new("POST", url));
	free(url);
	r->fresh = 1;
	assert_int_equal(http_submit(http, r), -1);
	assert_int_equal(http_active(http), 0);
	assert_null(r->easy);
	assert_int_equal(r->sent_ms, 0);
	assert_true(strncmp(r->errbuf, "setting up the transfer: ", 25) == 0);
	http_req_free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_defaults),
		cmocka_unit_test(t_5mib_whole),
		cmocka_unit_test(t_70mib_too_big),
		cmocka_unit_test(t_70mib_content_length),
		cmocka_unit_test(t_resp_max_field),
		cmocka_unit_test(t_fresh_connections),
		cmocka_unit_test(t_rl_reset_monotonic),
		cmocka_unit_test(t_rl_reset_date),
		cmocka_unit_test(t_rl_reset_capped),
		cmocka_unit_test(t_rl_wait_pure),
		cmocka_unit_test(t_setopt_refused),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
