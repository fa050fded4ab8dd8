/*
 * t_sent: http.c's "never left the box" flag (r->unsent, http_unsent),
 * issue 20 item 1.  Each failure is made for real on loopback:
 *
 *   refused        a port nobody listens on
 *   connect timeout a listener whose accept queue is full (backlog 0,
 *                  one connection queued): Linux drops the SYN
 *   not resolved   a name under .invalid
 *   TLS failed     an https:// URL to a server that answers plain text
 *   answer dropped a server that reads the request and closes
 *   timed out      a server that reads the request and never answers
 *   closed at once a server that accepts and closes without reading
 *
 * The first four never wrote a byte of the request: unsent 1 on a
 * connection of the request's own (fresh), 0 otherwise.  The last three
 * were connected: the request may have reached the server, unsent 0.
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
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <cmocka.h>

#include <event2/event.h>

#include "http.h"

enum { L_DROP, L_SILENT, L_GARBAGE, L_CLOSE, L_N };

static pid_t		 srv_pid = -1;
static int		 srv_port[L_N];
static int		 full_ls = -1, full_c = -1, full_port;
static struct event_base *base;
static struct http	*http;

static int
listener(int backlog, int *port)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);
	int			 fd, one = 1;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(fd, backlog) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) == -1) {
		close(fd);
		return -1;
	}
	*port = ntohs(sin.sin_port);
	return fd;
}

/* The child: accept on every listener, act by which one it was. */
static void
srv_loop(int *ls)
{
	struct pollfd	 pfd[L_N];
	char		 buf[8192];
	const char	*junk = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
	size_t		 len;
	ssize_t		 n;
	int		 i, fd;

	for (i = 0; i < L_N; i++) {
		pfd[i].fd = ls[i];
		pfd[i].events = POLLIN;
	}
	for (;;) {
		if (poll(pfd, L_N, -1) == -1)
			continue;
		for (i = 0; i < L_N; i++) {
			if (!(pfd[i].revents & POLLIN) ||
			    (fd = accept(ls[i], NULL, NULL)) == -1)
				continue;
			if (i == L_CLOSE) {
				close(fd);
				continue;
			}
			if (i == L_GARBAGE) {
				(void)send(fd, junk, strlen(junk), MSG_NOSIGNAL);
				close(fd);
				continue;
			}
			/* Read the whole request (headers and a small body). */
			len = 0;
			while (len < sizeof(buf) - 1 && (n = read(fd, buf + len,
			    sizeof(buf) - 1 - len)) > 0) {
				len += (size_t)n;
				buf[len] = '\0';
				if (strstr(buf, "\r\n\r\n") != NULL &&
				    strstr(buf, "}") != NULL)
					break;
			}
			if (i == L_DROP)
				close(fd);
			/* L_SILENT: keep it open, answer nothing (leaked). */
		}
	}
}

static int
setup(void **state)
{
	struct sockaddr_in	 sin;
	int			 ls[L_N], i;

	(void)state;
	signal(SIGPIPE, SIG_IGN);
	for (i = 0; i < L_N; i++)
		if ((ls[i] = listener(16, &srv_port[i])) == -1)
			return -1;
	if ((srv_pid = fork()) == -1)
		return -1;
	if (srv_pid == 0) {
		srv_loop(ls);
		_exit(0);
	}
	for (i = 0; i < L_N; i++)
		close(ls[i]);
	/* Backlog 0 holds one connection; it is made now, never accepted. */
	if ((full_ls = listener(0, &full_port)) == -1 ||
	    (full_c = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return -1;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(full_port);
	if (connect(full_c, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		return -1;
	if ((base = event_base_new()) == NULL ||
	    (http = http_new(base)) == NULL)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	http_free(http);
	event_base_free(base);
	if (srv_pid > 0) {
		kill(srv_pid, SIGKILL);
		waitpid(srv_pid, NULL, 0);
	}
	close(full_c);
	close(full_ls);
	return 0;
}

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

/* POST a small JSON body to url, fresh or not, until it ends (20 s). */
static struct http_req *
post(const char *url, int fresh)
{
	struct http_req	*r;
	struct event	*deadline;
	struct timeval	 tv = { 20, 0 };
	int		 done = 0;

	assert_non_null(r = http_req_new("POST", url));
	assert_non_null(r->body = strdup("{\"a\":1}"));
	r->fresh = fresh;
	r->timeout_s = 2;
	r->connect_timeout_s = 1;
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
	return r;
}

static char *
url(const char *scheme, int port)
{
	static char	 u[64];

	snprintf(u, sizeof(u), "%s://127.0.0.1:%d/x", scheme, port);
	return u;
}

/* A port with no listener: refused. */
static int
closed_port(void)
{
	int	 fd, port;

	assert_true((fd = listener(1, &port)) != -1);
	close(fd);
	return port;
}

static void
t_refused(void **state)
{
	struct http_req	*r;

	(void)state;
	r = post(url("http", closed_port()), 1);
	assert_int_equal(r->cc, CURLE_COULDNT_CONNECT);
	assert_int_equal(r->unsent, 1);
	http_req_free(r);
	/* Not fresh: a reused connection has no connect time either, and
	 * libcurl may have resent it: never claimed unsent. */
	r = post(url("http", closed_port()), 0);
	assert_int_equal(r->cc, CURLE_COULDNT_CONNECT);
	assert_int_equal(r->unsent, 0);
	http_req_free(r);
}

static void
t_connect_timeout(void **state)
{
	struct http_req	*r;

	(void)state;
	r = post(url("http", full_port), 1);
	assert_int_equal(r->cc, CURLE_OPERATION_TIMEDOUT);
	assert_int_equal(r->unsent, 1);
	http_req_free(r);
}

static void
t_not_resolved(void **state)
{
	struct http_req	*r;

	(void)state;
	r = post("http://callsync-t-sent.invalid/x", 1);
	/* No resolver at all times out: not connected either way. */
	assert_true(r->cc == CURLE_COULDNT_RESOLVE_HOST ||
	    r->cc == CURLE_OPERATION_TIMEDOUT);
	assert_int_equal(r->unsent, 1);
	http_req_free(r);
}

static void
t_tls_failed(void **state)
{
	struct http_req	*r;

	(void)state;
	r = post(url("https", srv_port[L_GARBAGE]), 1);
	assert_int_equal(r->cc, CURLE_SSL_CONNECT_ERROR);
	assert_int_equal(r->unsent, 1);
	http_req_free(r);
}

/* Connected: the request may have arrived, whatever came after. */
static void
t_connected(void **state)
{
	struct http_req	*r;

	(void)state;
	r = post(url("http", srv_port[L_DROP]), 1);
	assert_int_equal(r->cc, CURLE_GOT_NOTHING);
	assert_int_equal(r->unsent, 0);
	http_req_free(r);
	r = post(url("http", srv_port[L_SILENT]), 1);
	assert_int_equal(r->cc, CURLE_OPERATION_TIMEDOUT);
	assert_int_equal(r->unsent, 0);
	http_req_free(r);
	r = post(url("http", srv_port[L_CLOSE]), 1);
	assert_int_not_equal(r->cc, CURLE_OK);
	assert_int_equal(r->unsent, 0);
	http_req_free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_refused),
		cmocka_unit_test(t_connect_timeout),
		cmocka_unit_test(t_not_resolved),
		cmocka_unit_test(t_tls_failed),
		cmocka_unit_test(t_connected),
	};

	curl_global_init(CURL_GLOBAL_DEFAULT);
	return cmocka_run_group_tests(tests, setup, teardown);
}
