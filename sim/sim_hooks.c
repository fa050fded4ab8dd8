/*
 * sim_hooks: the simulator sends Intercom's webhook notifications for its
 * own state changes to a configured URL (POST /_sim/webhooks {url,
 * secret}).
 *
 * From Intercom's documentation (developers.intercom.com, "Webhooks",
 * "Webhook models"; ../shared/INTERCOM-API.md section 9): the envelope
 * {type: "notification_event", id: "notif_...", app_id, topic,
 * created_at, delivery_attempts, first_sent_at, data: {type:
 * "notification_event_data", item}}, the item being the API's own object
 * (a conversation, a contact); the topics conversation_part.tag.created
 * (a conversation tagged), conversation.admin.noted|replied|assigned|
 * closed|opened|snoozed (an admin's part, the item carrying that part in
 * conversation_parts) and contact.user.updated; the X-Hub-Signature
 * header "sha1=" + hex HMAC-SHA1 of the raw body keyed with the app's
 * client secret; at-least-once delivery, retries after a failure, and
 * pausing an endpoint after many consecutive errors.
 *
 * Invented here (test knobs, marked so in sim/README.md): "copies" (each
 * notification delivered that many times, delivery_attempts counting up),
 * "shuffle" (deliveries in random order), the compressed retry schedule
 * (50 ms doubling up to 2 s instead of Intercom's minutes), the pause
 * (after "pause_after" consecutive errors, for "pause_ms"), and
 * "max_attempts" before a delivery is dropped.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "sim.h"
#include "sim_hooks.h"

#define HK_CONNS	8

struct dl {
	char		*nid;		/* notification id */
	char		*topic;
	json_t		*item;		/* data.item (owned) */
	long long	 created_at;
	int		 copy;		/* delivery_attempts of this copy */
	int		 attempts;	/* failed sends of this copy */
	double		 next_at;
	double		 sent_at;	/* when this send went */
};

struct hconn {
	struct evhttp_connection *c;
	struct dl	*busy;		/* in flight on it, or NULL */
	unsigned long long gen;		/* H.url_gen it was made for */
};

/* Answer times are kept to 1 ms up to 5 s (Intercom's own timeout),
 * so that a p99 near 500 ms is told exactly. */
#define LAT_N	5000

static struct {
	struct event_base *base;
	struct sim_store *st;
	struct event	*tick;
	char		*url, *secret, *host, *path;
	int		 port;
	char		 app_id[64];
	int		 copies;
	bool		 shuffle;
	int		 max_attempts, pause_after, pause_ms;
	struct dl	**q;
	size_t		 nq, capq;
	struct hconn	 conns[HK_CONNS];
	unsigned long long next_id, rng;
	unsigned long long url_gen;	/* bumped when the url changes */
	/* figures */
	unsigned long long sent, errors, dropped, notifications, acked_copies;
	unsigned long long answers[6];	/* 1xx..5xx by class, [0] none */
	int		 consecutive;
	double		 paused_until;
	json_t		*acked;		/* nid -> copies acked */
	unsigned long long lat_hist[LAT_N];	/* answer times, 1 ms buckets,
						 * the last: LAT_N - 1 ms and more */
	double		 lat_max;
} H;

/* The q-quantile of answer times, ms (bucket upper bound). */
static int
lat_quantile(double q)
{
	unsigned long long	 n = 0, k = 0;
	int			 i;

	for (i = 0; i < LAT_N; i++)
		n += H.lat_hist[i];
	for (i = 0; i < LAT_N && n > 0; i++)
		if ((k += H.lat_hist[i]) >= (unsigned long long)(q * n + 0.5))
			return i + 1;
	return n > 0 ? LAT_N : 0;
}

static double
now_s(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t
rnd(void)
{
	uint64_t	z = (H.rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void
dl_free(struct dl *d)
{
	if (d == NULL)
		return;
	free(d->nid);
	free(d->topic);
	json_decref(d->item);
	free(d);
}

static int
q_add(struct dl *d)
{
	size_t	 i;

	if (sim_grow(&H.q, &H.capq, H.nq, sizeof(*H.q)) == -1)
		return -1;
	H.q[H.nq++] = d;
	if (H.shuffle && H.nq > 1) {	/* a random place among the waiting */
		i = (size_t)(rnd() % H.nq);
		H.q[H.nq - 1] = H.q[i];
		H.q[i] = d;
	}
	return 0;
}

/* Queue one notification (copies of it) about item (stolen). */
static void
notify(const char *topic, json_t *item)
{
	struct dl	*d;
	char		 nid[64];
	int		 k;

	if (H.url == NULL || item == NULL) {
		json_decref(item);
		return;
	}
	snprintf(nid, sizeof(nid), "notif_sim_%llu_%llu", H.rng & 0xffff,
	    ++H.next_id);
	H.notifications++;
	for (k = 1; k <= H.copies; k++) {
		if ((d = calloc(1, sizeof(*d))) == NULL)
			break;
		d->nid = strdup(nid);
		d->topic = strdup(topic);
		d->item = json_incref(item);
		d->created_at = (long long)now_s();
		d->copy = k;
		if (q_add(d) == -1) {
			dl_free(d);
			break;
		}
	}
	json_decref(item);
}

static void send_one(struct hconn *, struct dl *);

static void
done_cb(struct evhttp_request *req, void *arg)
{
	struct hconn	*hc = arg;
	struct dl	*d = hc->busy;
	int		 code = req ? evhttp_request_get_response_code(req) : 0;
	json_t		*v;

	double		 ms;

	hc->busy = NULL;
	if (d == NULL)
		return;
	if (code != 0) {
		ms = (now_s() - d->sent_at) * 1000;
		H.lat_hist[ms < LAT_N - 1 ? (int)ms : LAT_N - 1]++;
		if (ms > H.lat_max)
			H.lat_max = ms;
	}
	H.answers[code >= 100 && code < 600 ? code / 100 : 0]++;
	if (code >= 200 && code < 300) {
		H.consecutive = 0;
		H.acked_copies++;
		v = json_object_get(H.acked, d->nid);
		json_object_set_new(H.acked, d->nid, json_integer(v ?
		    json_integer_value(v) + 1 : 1));
		dl_free(d);
		return;
	}
	H.errors++;
	if (++H.consecutive >= H.pause_after)
		H.paused_until = now_s() + H.pause_ms / 1000.0;
	if (++d->attempts >= H.max_attempts) {
		H.dropped++;
		dl_free(d);
		return;
	}
	d->next_at = now_s() + (d->attempts < 6 ? 0.05 * (1 << d->attempts) :
	    2.0);
	if (q_add(d) == -1)
		dl_free(d);
}

static void
send_one(struct hconn *hc, struct dl *d)
{
	struct evhttp_request	*req;
	struct evkeyvalq	*hd;
	json_t			*o;
	unsigned char		 md[20];
	unsigned int		 mdlen = 20;
	char			*body, sig[48], hostport[300];
	size_t			 i, len;

	o = json_pack("{s:s,s:s,s:s,s:s,s:I,s:i,s:I,s:{s:s,s:O}}",
	    "type", "notification_event", "id", d->nid, "app_id", H.app_id,
	    "topic", d->topic, "created_at", (json_int_t)d->created_at,
	    "delivery_attempts", d->copy + d->attempts, "first_sent_at",
	    (json_int_t)d->created_at, "data", "type",
	    "notification_event_data", "item", d->item);
	body = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (body == NULL) {
		dl_free(d);
		return;
	}
	len = strlen(body);
	HMAC(EVP_sha1(), H.secret, (int)strlen(H.secret),
	    (unsigned char *)body, len, md, &mdlen);
	memcpy(sig, "sha1=", 5);
	for (i = 0; i < 20; i++)
		snprintf(sig + 5 + 2 * i, 3, "%02x", md[i]);
	/* A connection made for an earlier url goes (it is idle here). */
	if (hc->c != NULL && hc->gen != H.url_gen) {
		evhttp_connection_free(hc->c);
		hc->c = NULL;
	}
	if (hc->c == NULL) {
		hc->gen = H.url_gen;
		hc->c = evhttp_connection_base_new(H.base, NULL, H.host,
		    (unsigned short)H.port);
		if (hc->c != NULL)
			evhttp_connection_set_timeout(hc->c, 5);
	}
	if (hc->c == NULL || (req = evhttp_request_new(done_cb, hc)) == NULL) {
		free(body);
		if (q_add(d) == -1)
			dl_free(d);
		return;
	}
	hd = evhttp_request_get_output_headers(req);
	snprintf(hostport, sizeof(hostport), "%s:%d", H.host, H.port);
	evhttp_add_header(hd, "Host", hostport);
	evhttp_add_header(hd, "Content-Type", "application/json");
	evhttp_add_header(hd, "X-Hub-Signature", sig);
	evhttp_add_header(hd, "User-Agent", "intercom-sim-webhooks");
	evbuffer_add(evhttp_request_get_output_buffer(req), body, len);
	free(body);
	hc->busy = d;
	d->sent_at = now_s();
	H.sent++;
	if (evhttp_make_request(hc->c, req, EVHTTP_REQ_POST, H.path) == -1) {
		hc->busy = NULL;
		H.errors++;
		d->next_at = now_s() + 0.1;
		if (q_add(d) == -1)
			dl_free(d);
	}
}

static void
tick_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct dl	*d;
	double		 t = now_s();
	size_t		 i, j;

	(void)fd; (void)ev; (void)arg;
	if (H.url == NULL || t < H.paused_until)
		return;
	for (i = 0; i < HK_CONNS; i++) {
		if (H.conns[i].busy != NULL)
			continue;
		for (j = 0; j < H.nq; j++)
			if (H.q[j]->next_at <= t)
				break;
		if (j == H.nq)
			return;
		d = H.q[j];
		memmove(&H.q[j], &H.q[j + 1], (H.nq - j - 1) * sizeof(*H.q));
		H.nq--;
		send_one(&H.conns[i], d);
	}
}

void
sim_hooks_init(struct event_base *base, struct sim_store *st)
{
	struct timeval	 tv = { 0, 2000 };

	H.base = base;
	H.st = st;
	H.copies = 1;
	H.max_attempts = 20;
	H.pause_after = 1000;
	H.pause_ms = 2000;
	H.rng = 22;
	snprintf(H.app_id, sizeof(H.app_id), "%s", sim_app_id);
	H.acked = json_object();
	H.tick = event_new(base, -1, EV_PERSIST, tick_cb, NULL);
	if (H.tick != NULL)
		event_add(H.tick, &tv);
}

/* Parse http://host:port/path into H. */
static int
set_url(const char *url)
{
	const char	*p, *slash, *colon;

	if (strncmp(url, "http://", 7) != 0)
		return -1;
	p = url + 7;
	slash = strchr(p, '/');
	colon = strchr(p, ':');
	if (slash == NULL || colon == NULL || colon > slash)
		return -1;
	free(H.host);
	free(H.path);
	free(H.url);
	H.host = strndup(p, colon - p);
	H.port = atoi(colon + 1);
	H.path = strdup(slash);
	H.url = strdup(url);
	H.url_gen++;
	return H.port > 0 ? 0 : -1;
}

static json_t *
stats(void)
{
	json_t		*o;
	size_t		 i;
	int		 inflight = 0;

	for (i = 0; i < HK_CONNS; i++)
		inflight += H.conns[i].busy != NULL;
	o = json_pack("{s:s?,s:i,s:b,s:I,s:I,s:i,s:I,s:I,s:I,s:I,s:I,"
	    "s:{s:I,s:I,s:I,s:I,s:I},s:b}",
	    "url", H.url, "copies", H.copies, "shuffle", H.shuffle,
	    "notifications", (json_int_t)H.notifications,
	    "queued", (json_int_t)H.nq, "inflight", inflight,
	    "sent", (json_int_t)H.sent, "errors", (json_int_t)H.errors,
	    "dropped", (json_int_t)H.dropped,
	    "acked_copies", (json_int_t)H.acked_copies,
	    "acked_notifications", (json_int_t)json_object_size(H.acked),
	    "answers", "none", (json_int_t)H.answers[0],
	    "2xx", (json_int_t)H.answers[2], "3xx", (json_int_t)H.answers[3],
	    "4xx", (json_int_t)H.answers[4], "5xx", (json_int_t)H.answers[5],
	    "paused", now_s() < H.paused_until);
	if (o != NULL)
		json_object_set_new(o, "answer_ms", json_pack("{s:i,s:i,s:f}",
		    "p50", lat_quantile(0.5), "p99", lat_quantile(0.99), "max",
		    H.lat_max));
	return o;
}

/* Find or make the tag called name; apply it to cv now. */
static int
tag_conv(struct sim_conv *cv, const char *name)
{
	struct sim_tag	*tg;
	struct sim_ctag	*t;

	if ((tg = sim_tag_find_name(H.st, name)) == NULL &&
	    (tg = sim_tag_new(H.st, name)) == NULL)
		return -1;
	if (sim_grow(&cv->tags, &cv->captags, cv->ntags, sizeof(*cv->tags))
	    == -1)
		return -1;
	t = &cv->tags[cv->ntags++];
	memset(t, 0, sizeof(*t));
	snprintf(t->tag_id, sizeof(t->tag_id), "%s", tg->id);
	t->applications = 1;
	t->applied_at = (long long)now_s();
	snprintf(t->applied_by, sizeof(t->applied_by), "%s", sim_admins[0].id);
	cv->updated_at = t->applied_at;
	return 0;
}

/*
 * "This customer asked for a call": a contact (contact_id, or a new one
 * with phone), then via "tag" a conversation of theirs tagged tag, or
 * via "attribute" the contact's callback_requested set true.
 */
static json_t *
callback(json_t *b, int *status, char *err, size_t errsz)
{
	struct sim_contact	*k = NULL;
	struct sim_conv		*cv;
	const char		*cid, *via, *tag, *phone;
	json_t			*o, *a;
	char			 buf[64];
	double			 lag;

	/* Objects made here unsearchable for lag_s (Intercom's search lag,
	 * "a few minutes"; the control itself is invented). */
	lag = json_number_value(json_object_get(b, "lag_s"));
	cid = json_string_value(json_object_get(b, "contact_id"));
	via = json_string_value(json_object_get(b, "via"));
	tag = json_string_value(json_object_get(b, "tag"));
	phone = json_string_value(json_object_get(b, "phone"));
	if (via == NULL)
		via = "tag";
	if (tag == NULL)
		tag = "callback";
	*status = 400;
	if (cid != NULL && (k = sim_contact_find(H.st, cid)) == NULL) {
		snprintf(err, errsz, "no contact %s", cid);
		return NULL;
	}
	if (k == NULL) {
		if ((k = sim_contact_new(H.st, 0)) == NULL)
			return NULL;
		if (phone == NULL) {
			snprintf(buf, sizeof(buf), "+1555%07llu",
			    (unsigned long long)(rnd() % 10000000));
			phone = buf;
		}
		a = json_pack("{s:s,s:s,s:s}", "role", "user", "phone", phone,
		    "name", "Caller");
		if (sim_obj_set_contact(H.st, k, a, true, err, errsz) == -1) {
			json_decref(a);
			return NULL;
		}
		json_decref(a);
		if (lag > 0)
			k->visible_at = now_s() + lag;
	}
	if (strcmp(via, "attribute") == 0) {
		a = json_pack("{s:{s:b}}", "custom_attributes",
		    "callback_requested", 1);
		if (sim_obj_set_contact(H.st, k, a, true, err, errsz) == -1) {
			json_decref(a);
			return NULL;
		}
		json_decref(a);
		sim_hooks_contact(k, "contact.user.updated");
		*status = 200;
		return sim_obj_contact(H.st, k);
	}
	if (strcmp(via, "tag") != 0) {
		snprintf(err, errsz, "via is tag or attribute");
		return NULL;
	}
	a = json_pack("{s:[s],s:s,s:s}", "contact_ids", k->id, "body",
	    "Can we talk on the phone?", "state", "open");
	o = sim_obj_seed_conv(H.st, a, err, errsz);
	json_decref(a);
	if (o == NULL)
		return NULL;
	cv = sim_conv_find(H.st, json_string_value(json_object_get(o, "id")));
	json_decref(o);
	if (cv == NULL || tag_conv(cv, tag) == -1) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	if (lag > 0)
		cv->visible_at = now_s() + lag;
	sim_hooks_conv(cv, "conversation_part.tag.created");
	*status = 200;
	return sim_obj_conv(H.st, cv, false);
}

json_t *
sim_hooks_ctl(const char *path, const char *method, json_t *b, int *status)
{
	const char	*url, *secret;
	json_t		*v, *o;
	char		 err[256] = "";
	long long	 n, i;

	*status = 200;
	if (strcmp(path, "/_sim/webhooks/acked") == 0 &&
	    strcmp(method, "GET") == 0)	/* id -> copies answered 2xx */
		return json_incref(H.acked);
	if (strcmp(path, "/_sim/webhooks") == 0) {
		if (strcmp(method, "GET") == 0)
			return stats();
		if (strcmp(method, "POST") != 0)
			goto notours;
		url = json_string_value(json_object_get(b, "url"));
		secret = json_string_value(json_object_get(b, "secret"));
		if (url != NULL && set_url(url) == -1) {
			*status = 400;
			return json_pack("{s:s}", "error", "url: http://host:"
			    "port/path");
		}
		if (secret != NULL) {
			free(H.secret);
			H.secret = strdup(secret);
		}
		if ((v = json_object_get(b, "copies")) && json_is_integer(v) &&
		    json_integer_value(v) >= 1 && json_integer_value(v) <= 10)
			H.copies = (int)json_integer_value(v);
		if ((v = json_object_get(b, "shuffle")) && json_is_boolean(v))
			H.shuffle = json_is_true(v);
		if ((v = json_object_get(b, "max_attempts")) &&
		    json_is_integer(v) && json_integer_value(v) >= 1)
			H.max_attempts = (int)json_integer_value(v);
		if ((v = json_object_get(b, "pause_after")) &&
		    json_is_integer(v) && json_integer_value(v) >= 1)
			H.pause_after = (int)json_integer_value(v);
		if ((v = json_object_get(b, "pause_ms")) &&
		    json_is_integer(v) && json_integer_value(v) >= 0)
			H.pause_ms = (int)json_integer_value(v);
		if ((v = json_object_get(b, "app_id")) && json_is_string(v))
			snprintf(H.app_id, sizeof(H.app_id), "%s",
			    json_string_value(v));
		if (H.secret == NULL)
			H.secret = strdup("");
		return stats();
	}
	if (strcmp(path, "/_sim/callback") == 0 && strcmp(method, "POST") == 0) {
		if ((o = callback(b, status, err, sizeof(err))) == NULL) {
			if (*status == 200)
				*status = 500;
			return json_pack("{s:s}", "error", err[0] ? err :
			    "out of memory");
		}
		return o;
	}
	if (strcmp(path, "/_sim/webhook_burst") == 0 &&
	    strcmp(method, "POST") == 0) {
		/* n customers asking for a call at once (a test's load). */
		v = json_object_get(b, "n");
		n = json_is_integer(v) ? json_integer_value(v) : 0;
		if (n < 1 || n > 100000) {
			*status = 400;
			return json_pack("{s:s}", "error", "n: 1..100000");
		}
		json_object_del(b, "contact_id");
		for (i = 0; i < n; i++) {
			o = callback(b, status, err, sizeof(err));
			if (o == NULL)
				return json_pack("{s:s}", "error", err);
			json_decref(o);
		}
		*status = 200;
		return stats();
	}
notours:
	*status = 0;
	return NULL;
}

void
sim_hooks_conv(const struct sim_conv *cv, const char *topic)
{
	if (H.url != NULL)
		notify(topic, sim_obj_conv(H.st, cv, false));
}

void
sim_hooks_conv_part(const struct sim_conv *cv, const struct sim_part *p,
    const char *topic)
{
	if (H.url != NULL)
		notify(topic, sim_obj_conv_part(H.st, cv, p));
}

void
sim_hooks_contact(const struct sim_contact *k, const char *topic)
{
	if (H.url != NULL)
		notify(topic, sim_obj_contact(H.st, k));
}
