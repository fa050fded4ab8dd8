/*
 * webhook: see webhook.h.
 *
 * Each notification is committed in a transaction of its own before the
 * answer (the engine's open group, if any, is committed first so that
 * this one is not a savepoint inside it): a 200 means the notification
 * and its tasks survive a crash.  Secrets are re-read when their file
 * changes (a rotation needs no SIGHUP) and never logged.
 */
#include <sys/stat.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "clock.h"
#include "rt.h"
#include "intercom.h"
#include "inbox.h"
#include "log.h"
#include "taskdb.h"
#include "tasks.h"
#include "webhook.h"

#define WH_IDLE_S	10		/* a silent connection is closed */
#define WH_MAXHDR	16384
#define WH_SHARE_MS	500		/* of each second the receiver may use */
#define FILL_MS		100		/* phone fill-in scan */
#define FILL_MAX	8		/* reads in flight per workspace */
#define FILL_AGAIN_S	300		/* a contact without a phone: ask later */

static const int wh_codes[] = { 200, 400, 401, 404, 405, 413, 429, 503 };
#define WH_NCODES	(sizeof(wh_codes) / sizeof(wh_codes[0]))

struct wh_secret {
	char		*path;
	int64_t		 mtime_ns;
	char		*s[INBOX_MAX_SECRETS];
	size_t		 n;
	bool		 warned;
};

struct webhook {
	struct rt	*e;
	struct evhttp	*http;
	struct wh_secret *sec;		/* [rt_nws(e)] */
	size_t		 nsec;
	uint64_t	 answers[WH_NCODES];
	uint64_t	 sig_failures, stored, duplicates, stale, tasks_made;
	int64_t		 win_start;	/* monotonic ms of this 1-s window */
	int64_t		 win_used;	/* ms spent committing in it */
	struct event	*fill_ev;	/* phone fill-in timer */
	int		*filling;	/* [nsec]: reads in flight per workspace */
	uint64_t	 phones_filled;
	bool		 fill_more;	/* a scan may find work (tasks made, or
					 * a minute passed) */
	int64_t		 fill_all_ms;	/* monotonic: last unconditional scan */
};

/* One GET /contacts/{id} for a task's phone (a warm read: last, paced). */
struct fill {
	struct ws_read	 rd;
	struct webhook	*w;
	size_t		 wi;
	int64_t		 task_id;
};

static void
count(struct webhook *w, int code)
{
	size_t	 i;

	for (i = 0; i < WH_NCODES; i++)
		if (wh_codes[i] == code)
			w->answers[i]++;
}

static void
answer(struct webhook *w, struct evhttp_request *req, int code,
    const char *reason, const char *text)
{
	struct evbuffer	*b = evbuffer_new();

	count(w, code);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "text/plain; charset=utf-8");
	if (b != NULL && text != NULL)
		evbuffer_add_printf(b, "%s\n", text);
	evhttp_send_reply(req, code, reason, b);
	if (b != NULL)
		evbuffer_free(b);
}

static void
secret_clear(struct wh_secret *s)
{
	size_t	 i;

	for (i = 0; i < s->n; i++) {
		explicit_bzero(s->s[i], strlen(s->s[i]));
		free(s->s[i]);
		s->s[i] = NULL;
	}
	s->n = 0;
}

/* The secrets of workspace i (re-read when the file changed); count. */
static size_t
secrets(struct webhook *w, size_t i)
{
	struct wh_secret	*s = &w->sec[i];
	const char		*path =
	    ws_conf(rt_ws(w->e, i))->webhook_secret_file;
	struct stat		 sb;
	int64_t			 m;
	char			 why[512];
	int			 n;

	if (path == NULL) {
		secret_clear(s);
		return 0;
	}
	if (stat(path, &sb) == -1) {
		if (!s->warned)
			log_warnx("%s: webhook_secret_file %s: %s; "
			    "notifications are refused (401)",
			    ws_name(rt_ws(w->e, i)), path, strerror(errno));
		s->warned = true;
		secret_clear(s);
		return 0;
	}
	m = (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
	if (s->n > 0 && m == s->mtime_ns && s->path != NULL &&
	    strcmp(s->path, path) == 0)
		return s->n;
	secret_clear(s);
	free(s->path);
	s->path = strdup(path);
	s->mtime_ns = m;
	if ((n = inbox_read_secrets(path, s->s, INBOX_MAX_SECRETS, why,
	    sizeof(why))) == -1) {
		if (!s->warned)
			log_warnx("%s: %s; notifications are refused (401)",
			    ws_name(rt_ws(w->e, i)), why);
		s->warned = true;
		return 0;
	}
	s->warned = false;
	s->n = (size_t)n;
	return s->n;
}

/* The workspace index of app_id, or -1. */
static ssize_t
ws_of_app(struct webhook *w, const char *app_id)
{
	struct rt	*e = w->e;
	char		 name[80];
	size_t		 i;

	/* A SIGHUP's new workspaces are here too (webhook_grow). */
	for (i = 0; i < rt_nws(e) && i < w->nsec; i++)
		if (ws_app_id(rt_ws(e, i))[0] != '\0' &&
		    strcmp(ws_app_id(rt_ws(e, i)), app_id) == 0)
			return (ssize_t)i;
	if (inbox_app_ws(rt_db(e), app_id, name, sizeof(name)) == -1)
		return -1;
	for (i = 0; i < rt_nws(e) && i < w->nsec; i++)
		if (strcmp(ws_name(rt_ws(e, i)), name) == 0)
			return (ssize_t)i;
	return -1;
}

/* s for a log line: at most 64 printable ASCII bytes, others '?'
 * (the app id of an unsigned request is anyone's text). */
static const char *
loggable(const char *s, char *buf, size_t bufsz)
{
	size_t	 i;

	for (i = 0; s[i] != '\0' && i < 64 && i + 1 < bufsz; i++)
		buf[i] = s[i] > 0x20 && s[i] < 0x7f ? s[i] : '?';
	buf[i] = '\0';
	return buf;
}

static void
request_cb(struct evhttp_request *req, void *arg)
{
	struct webhook		*w = arg;
	struct rt		*e = w->e;
	const struct evhttp_uri	*u = evhttp_request_get_evhttp_uri(req);
	const char		*path = u ? evhttp_uri_get_path(u) : NULL;
	enum evhttp_cmd_type	 m = evhttp_request_get_command(req);
	struct evbuffer		*in = evhttp_request_get_input_buffer(req);
	struct inbox_note	 n;
	enum inbox_result	 r;
	const char		*body, *sig;
	const char		*sv[INBOX_MAX_SECRETS];
	char			 why[256];
	size_t			 len, k, ns;
	ssize_t			 wi;
	int64_t			 t0;
	int			 made;

	if (path == NULL || strcmp(path, WEBHOOK_PATH) != 0) {
		answer(w, req, 404, "Not Found", "not found");
		return;
	}
	if (m == EVHTTP_REQ_HEAD) {
		answer(w, req, 200, "OK", NULL);
		return;
	}
	if (m != EVHTTP_REQ_POST) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Allow", "POST, HEAD");
		answer(w, req, 405, "Method Not Allowed", "POST only");
		return;
	}
	len = evbuffer_get_length(in);
	if (len > INBOX_MAX_BODY) {
		answer(w, req, 413, "Payload Too Large", "at most 1 MiB");
		return;
	}
	body = len > 0 ? (const char *)evbuffer_pullup(in, -1) : "";
	if (inbox_parse(body, len, &n, why, sizeof(why)) == -1) {
		answer(w, req, 400, "Bad Request", why);
		return;
	}
	if ((wi = ws_of_app(w, n.app_id)) == -1) {
		log_info("webhook: notification for app %s, which no "
		    "workspace is: 404", loggable(n.app_id, why,
		    sizeof(why)));
		inbox_note_free(&n);
		answer(w, req, 404, "Not Found", "unknown app_id");
		return;
	}
	ns = secrets(w, (size_t)wi);
	for (k = 0; k < ns; k++)
		sv[k] = w->sec[wi].s[k];
	sig = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "X-Hub-Signature");
	if (!inbox_sig_ok(sv, ns, sig, body, len)) {
		w->sig_failures++;
		log_info("%s: webhook: %s X-Hub-Signature: 401",
		    ws_name(rt_ws(e, wi)), sig == NULL ? "no" : "a wrong");
		inbox_note_free(&n);
		answer(w, req, 401, "Unauthorized", "bad signature");
		return;
	}
	t0 = clock_mono_ms();
	if (t0 - w->win_start >= 1000) {
		w->win_start = t0;
		w->win_used = 0;
	}
	if (w->win_used >= WH_SHARE_MS) {
		inbox_note_free(&n);
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Retry-After", "1");
		answer(w, req, 429, "Too Many Requests", "busy; retry");
		return;
	}
	rt_tx_flush(e);	/* a transaction of its own, durable now */
	if (rt_db(e)->txdepth > 0 || db_begin(rt_db(e)) == -1) {
		inbox_note_free(&n);
		answer(w, req, 503, "Service Unavailable", "database busy");
		return;
	}
	r = inbox_store(rt_db(e), ws_conf(rt_ws(e, wi)), ws_name(rt_ws(e, wi)),
	    &n, "webhook", clock_wall_s(), &made);
	if (r == INBOX_ERR || (r == INBOX_NEW && db_commit(rt_db(e)) == -1)) {
		log_warnx("%s: webhook: cannot store notification: %s",
		    ws_name(rt_ws(e, wi)), db_errmsg(rt_db(e)));
		db_rollback(rt_db(e));
		inbox_note_free(&n);
		answer(w, req, 503, "Service Unavailable", "database busy");
		return;
	}
	if (r == INBOX_DUP) {
		db_rollback(rt_db(e));
		w->duplicates++;
	} else {
		w->stored++;
		w->tasks_made += (uint64_t)made;
		if (made > 0)
			w->fill_more = true;
		if (made > 0)
			log_info("%s: %s %s made %d call task%s",
			    ws_name(rt_ws(e, wi)), n.topic, n.id, made,
			    made == 1 ? "" : "s");
	}
	w->win_used += clock_mono_ms() - t0;
	inbox_note_free(&n);
	answer(w, req, 200, "OK", "ok");
}

/* ------------------------------------------------------------------ */
/* phones: a conversation's notification names the contact, not its    */
/* phone; a task without one gets it from GET /contacts/{id}            */

static void
fill_done(struct ws_read *rd, enum verdict v)
{
	struct fill	*f = rd->arg;
	struct webhook	*w = f->w;
	struct rt	*e = w->e;
	struct http_req	*r = rd->req;
	json_t		*o;
	const char	*phone;

	w->filling[f->wi]--;
	o = v == V_OK && r != NULL ? ic_parse(r->resp, r->resplen) : NULL;
	phone = json_string_value(json_object_get(o, "phone"));
	if (phone != NULL && phone[0] != '\0' && taskdb_fill_phone(rt_db(e),
	    f->task_id, phone, json_string_value(json_object_get(o, "email")),
	    json_string_value(json_object_get(o, "name"))) == 0)
		w->phones_filled++;
	json_decref(o);
	http_req_free(r);
	free(f);
}

/* Ask for the phones of up to FILL_MAX tasks of workspace wi; how many
 * it asked for. */
static int
fill_ws(struct webhook *w, size_t wi)
{
	struct rt	*e = w->e;
	struct wsrt	*ws = rt_ws(e, wi);
	struct fill	*f;
	struct http_req	*r;
	int64_t		 ids[FILL_MAX], now = clock_wall_s();
	char		*cids[FILL_MAX], url[512];
	int		 n, i;

	if (!ws_is_ready(ws))	/* try again at the next tick */
		return 1;
	if (w->filling[wi] >= FILL_MAX)
		return w->filling[wi];
	if ((n = taskdb_phones_unread(rt_db(e), ws_name(ws),
	    now - FILL_AGAIN_S, FILL_MAX - w->filling[wi], ids, cids)) == -1)
		return 0;
	for (i = 0; i < n; i++) {
		(void)taskdb_phone_asked(rt_db(e), ids[i], now);
		snprintf(url, sizeof(url), "%s/contacts/%s",
		    ws_conf(ws)->api_base, cids[i] ? cids[i] : "");
		free(cids[i]);
		if ((f = calloc(1, sizeof(*f))) == NULL ||
		    (r = http_req_new("GET", url)) == NULL) {
			free(f);
			continue;
		}
		if (ws_prepare(ws_conf(ws), r) == -1) {
			http_req_free(r);
			free(f);
			continue;
		}
		f->w = w;
		f->wi = wi;
		f->task_id = ids[i];
		f->rd.req = r;
		f->rd.done = fill_done;
		f->rd.arg = f;
		f->rd.warm = true;
		w->filling[wi]++;
		if (ws_read(ws, &f->rd) == -1) {
			w->filling[wi]--;
			http_req_free(r);
			free(f);
		}
	}
	return n + w->filling[wi];
}

static void
fill_cb(evutil_socket_t fd, short what, void *arg)
{
	struct webhook	*w = arg;
	size_t		 i;

	int64_t		 now = clock_mono_ms();
	int		 busy = 0;

	(void)fd;
	(void)what;
	if (rt_stopping(w->e))
		return;
	/* Scan only when there may be work: tasks were made, reads are on
	 * their way, or once a minute (a contact without a phone, or a
	 * workspace that was not ready, is asked again). */
	if (now - w->fill_all_ms >= 60000) {
		w->fill_all_ms = now;
		w->fill_more = true;
	}
	if (!w->fill_more)
		return;
	for (i = 0; i < w->nsec && i < rt_nws(w->e); i++)
		busy += fill_ws(w, i);
	w->fill_more = busy > 0;
}

int
webhook_grow(struct webhook *w)
{
	struct rt		*e = w->e;
	struct wh_secret	*sec;
	int			*filling;
	size_t			 i, n = rt_nws(e);

	if (n <= w->nsec && w->sec != NULL)
		return 0;
	if ((sec = reallocarray(w->sec, n + 1, sizeof(*sec))) == NULL)
		return -1;
	w->sec = sec;
	if ((filling = reallocarray(w->filling, n + 1, sizeof(*filling))) ==
	    NULL)
		return -1;
	w->filling = filling;
	for (i = w->nsec; i <= n; i++) {
		memset(&w->sec[i], 0, sizeof(w->sec[i]));
		w->filling[i] = 0;
	}
	/* Secrets only where notifications are received (not on a
	 * polling-only site, which has no receiver). */
	for (i = w->nsec; i < n && w->http != NULL; i++)
		if (ws_conf(rt_ws(e, i))->webhook_secret_file != NULL)
			(void)secrets(w, i);
	w->nsec = n;
	w->fill_more = true;
	return 0;
}

/* One per process, as the local API (webhook_one): the loop and polling
 * find it here. */
static struct webhook	*webhook_the;

struct webhook *
webhook_one(void)
{
	return webhook_the;
}

struct webhook *
webhook_new(struct rt *e, const char *listen, char *err, size_t errsz)
{
	struct webhook	*w;
	char		 host[256];
	const char	*hs = listen, *he, *colon;
	char		*end;
	long		 port;

	if (listen == NULL)	/* the phone fill-in alone (polling) */
		goto alloc;
	if (*listen == '[') {
		hs = listen + 1;
		if ((he = strchr(hs, ']')) == NULL || he[1] != ':')
			goto syntax;
		colon = he + 1;
	} else {
		if ((colon = strrchr(listen, ':')) == NULL)
			goto syntax;
		he = colon;
	}
	if ((size_t)(he - hs) >= sizeof(host) || he == hs)
		goto syntax;
	memcpy(host, hs, he - hs);
	host[he - hs] = '\0';
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno != 0 || *end != '\0' || port < 1 || port > 65535)
		goto syntax;
alloc:
	if ((w = calloc(1, sizeof(*w))) == NULL) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	w->e = e;
	if (listen == NULL)
		goto fill;
	if ((w->http = evhttp_new(rt_base(e))) == NULL) {
		snprintf(err, errsz, "webhook_listen = %s: cannot make the "
		    "HTTP server", listen);
		webhook_free(w);
		return NULL;
	}
	evhttp_set_max_headers_size(w->http, WH_MAXHDR);
	/* One byte more than we accept: a bigger body is ours to refuse
	 * (413, counted); one far bigger, evhttp's. */
	evhttp_set_max_body_size(w->http, INBOX_MAX_BODY + 1);
	evhttp_set_timeout(w->http, WH_IDLE_S);
	evhttp_set_allowed_methods(w->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD |
	    EVHTTP_REQ_POST | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
	    EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
	evhttp_set_gencb(w->http, request_cb, w);
	if (evhttp_bind_socket_with_handle(w->http, host, (ev_uint16_t)port)
	    == NULL) {
		snprintf(err, errsz, "webhook_listen = %s: cannot listen: %s",
		    listen, strerror(errno));
		webhook_free(w);
		return NULL;
	}
fill:
	{
		struct timeval	 tv = { FILL_MS / 1000, FILL_MS % 1000 * 1000 };

		/* The workspaces known now, as a SIGHUP's new ones later. */
		if (webhook_grow(w) == -1 ||
		    (w->fill_ev = event_new(rt_base(e), -1, EV_PERSIST, fill_cb,
		    w)) == NULL || event_add(w->fill_ev, &tv) == -1) {
			snprintf(err, errsz, "out of memory");
			webhook_free(w);
			return NULL;
		}
	}
	webhook_the = w;
	return w;
syntax:
	snprintf(err, errsz, "webhook_listen = %s: expected host:port", listen);
	return NULL;
}

void
webhook_free(struct webhook *w)
{
	size_t	 i;

	if (w == NULL)
		return;
	if (w == webhook_the)
		webhook_the = NULL;
	if (w->http != NULL)
		evhttp_free(w->http);
	if (w->fill_ev != NULL)
		event_free(w->fill_ev);
	free(w->filling);
	for (i = 0; i < w->nsec; i++) {
		secret_clear(&w->sec[i]);
		free(w->sec[i].path);
	}
	free(w->sec);
	free(w);
}

void
webhook_tasks_made(struct rt *e)
{
	(void)e;
	if (webhook_the != NULL)
		webhook_the->fill_more = true;
}

void
webhook_note_app(struct rt *e, struct wsrt *ws)
{
	if (ws_app_id(ws)[0] == '\0')
		return;
	rt_tx_flush(e);
	if (inbox_set_app(rt_db(e), ws_name(ws), ws_app_id(ws)) == -1)
		log_warnx("%s: cannot remember app %s: %s", ws_name(ws),
		    ws_app_id(ws), db_errmsg(rt_db(e)));
}

static void
head(struct evbuffer *b, const char *name, const char *type,
    const char *help)
{
	evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help,
	    name, type);
}

void
webhook_metrics(struct rt *e, struct evbuffer *b)
{
	struct webhook	*w = webhook_the;
	json_t		*due, *v;
	int64_t		 now = clock_wall_s();
	size_t		 i;

	head(b, "callsync_webhook_answers_total", "counter",
	    "Answers of the webhook receiver by HTTP status.");
	for (i = 0; i < WH_NCODES; i++)
		evbuffer_add_printf(b, "callsync_webhook_answers_total{status="
		    "\"%d\"} %" PRIu64 "\n", wh_codes[i], w ? w->answers[i] : 0);
	head(b, "callsync_webhook_signature_failures_total", "counter",
	    "Notifications refused for a missing or wrong X-Hub-Signature.");
	evbuffer_add_printf(b, "callsync_webhook_signature_failures_total %"
	    PRIu64 "\n", w ? w->sig_failures : 0);
	head(b, "callsync_inbox_stored_total", "counter",
	    "Notifications stored in the inbox (new ids).");
	evbuffer_add_printf(b, "callsync_inbox_stored_total %" PRIu64 "\n",
	    w ? w->stored : 0);
	head(b, "callsync_inbox_duplicates_total", "counter",
	    "Notifications whose id was stored before (nothing changed).");
	evbuffer_add_printf(b, "callsync_inbox_duplicates_total %" PRIu64 "\n",
	    w ? w->duplicates : 0);
	head(b, "callsync_inbox_tasks_made_total", "counter",
	    "Call tasks the rules made from stored notifications.");
	evbuffer_add_printf(b, "callsync_inbox_tasks_made_total %" PRIu64 "\n",
	    w ? w->tasks_made : 0);
	head(b, "callsync_tasks_phones_read_total", "counter",
	    "Task phones read from GET /contacts/{id} (the notification named "
	    "only the contact).");
	evbuffer_add_printf(b, "callsync_tasks_phones_read_total %" PRIu64
	    "\n", w ? w->phones_filled : 0);
	head(b, "callsync_tasks_due", "gauge",
	    "Call tasks due now (an expired lease counts), per workspace.");
	due = tasks_due_counts(rt_db(e), now);
	for (i = 0; i < rt_nws(e); i++) {
		v = due ? json_object_get(due, ws_name(rt_ws(e, i))) : NULL;
		evbuffer_add_printf(b, "callsync_tasks_due{workspace=\"%s\"} %"
		    JSON_INTEGER_FORMAT "\n", ws_name(rt_ws(e, i)),
		    v ? json_integer_value(json_array_get(v, 0)) : 0);
	}
	head(b, "callsync_tasks_oldest_due_age_seconds", "gauge",
	    "Age of the oldest due call task (0 when none), per workspace.");
	for (i = 0; i < rt_nws(e); i++) {
		v = due ? json_object_get(due, ws_name(rt_ws(e, i))) : NULL;
		evbuffer_add_printf(b, "callsync_tasks_oldest_due_age_seconds{"
		    "workspace=\"%s\"} %" PRId64 "\n", ws_name(rt_ws(e, i)), v ?
		    now - (int64_t)json_integer_value(json_array_get(v, 1)) :
		    0);
	}
	json_decref(due);
}
