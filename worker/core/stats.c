/*
 * stats: see stats.h.  Linear scans over tiny fixed tables: a workspace
 * sees a handful of reasons, classes and endpoints, so a scan of at most
 * 32 slots is cheaper than any hashing and allocates nothing.
 */
#include <ctype.h>
#include <stdbool.h>
#include <string.h>

#include "stats.h"

/* Intercom answers in tens to hundreds of ms; timeouts are seconds. */
const double stats_req_bounds[STATS_NB] = {
	0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30
};
/* A healthy record lands in seconds; an outage holds it hours or days. */
const double stats_e2e_bounds[STATS_NB] = {
	0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600, 21600, 86400
};
/* A context answer is due in under a second; from the cache in ms. */
const double stats_ctx_bounds[STATS_NB] = {
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.4, 0.8, 1, 2.5
};
const char *const stats_ctx_names[3] = { "live", "partial", "cache" };
const char *const stats_class_names[STATS_NSC] = {
	"1xx", "2xx", "3xx", "4xx", "5xx", "error"
};

/* Path words of Intercom's API kept as they are; anything else is an id. */
static const char *const words[] = {
	"admins", "archive", "articles", "assign", "attach", "close",
	"companies", "contacts", "conversations", "convert", "data_attributes",
	"detach", "help_center", "me", "merge", "notes", "open", "parts",
	"redact", "reply", "search", "segments", "tags", "teams", "tickets",
	"unarchive", NULL
};

int
stats_status_class(long status)
{
	if (status >= 100 && status < 600)
		return (int)(status / 100) - 1;
	return STATS_NSC - 1;
}

static bool
known_word(const char *s, size_t n)
{
	size_t	 i;

	for (i = 0; words[i] != NULL; i++)
		if (strlen(words[i]) == n && memcmp(words[i], s, n) == 0)
			return true;
	return false;
}

void
stats_endpoint(const char *url, char *buf, size_t bufsz)
{
	const char	*p, *seg, *end;
	size_t		 len = 0, n;
	int		 nseg = 0;
	const char	*add;

	if (bufsz == 0)
		return;
	buf[0] = '\0';
	p = url;
	if ((seg = strstr(p, "://")) != NULL)
		p = seg + 3;
	p = p + strcspn(p, "/?#");	/* skip the host */
	end = p + strcspn(p, "?#");	/* never the query string */
	while (p < end && nseg < 4) {
		while (p < end && *p == '/')
			p++;
		if (p >= end)
			break;
		n = strcspn(p, "/?#");
		if (p + n > end)
			n = end - p;
		add = known_word(p, n) ? NULL : "{id}";
		if (len + 1 + (add ? strlen(add) : n) + 1 > bufsz)
			break;
		buf[len++] = '/';
		memcpy(buf + len, add ? add : p, add ? strlen(add) : n);
		len += add ? strlen(add) : n;
		buf[len] = '\0';
		p += n;
		nseg++;
	}
	if (len == 0 && bufsz > 1) {
		buf[0] = '/';
		buf[1] = '\0';
	}
}

void
stats_request(struct stats_ws *s, const char *method, const char *url,
    long status, double dur_s)
{
	char		 path[48], m[8];
	size_t		 i;
	struct stats_ep	*ep = NULL;

	stats_endpoint(url != NULL ? url : "", path, sizeof(path));
	strncpy(m, method != NULL ? method : "", sizeof(m) - 1);
	m[sizeof(m) - 1] = '\0';
	for (i = 0; i < STATS_NEP; i++) {
		if (s->req[i].path[0] == '\0') {
			ep = &s->req[i];
			memcpy(ep->method, m, sizeof(m));
			memcpy(ep->path, path, sizeof(path));
			break;
		}
		if (strcmp(s->req[i].path, path) == 0 &&
		    strcmp(s->req[i].method, m) == 0) {
			ep = &s->req[i];
			break;
		}
	}
	if (ep == NULL) {		/* table full: the last slot is "other" */
		ep = &s->req[STATS_NEP - 1];
		strcpy(ep->method, "other");
		strcpy(ep->path, "other");
	}
	ep->n[stats_status_class(status)]++;
	if (status == 429)
		s->throttled++;
	stats_observe(&s->req_lat, stats_req_bounds, dur_s);
}

void
stats_label(struct stats_lab *t, const char *name)
{
	char	 clean[sizeof(t->name)];
	size_t	 i, k;

	if (name == NULL || *name == '\0')
		name = "unknown";
	/* A reason may come from Intercom's answer: keep a plain token, so
	 * a label is always valid UTF-8 and needs no escaping. */
	for (k = 0; name[k] != '\0' && k < sizeof(clean) - 1; k++)
		clean[k] = isalnum((unsigned char)name[k]) || name[k] == '_' ||
		    name[k] == '-' || name[k] == '.' || name[k] == ':' ?
		    name[k] : '_';
	clean[k] = '\0';
	for (i = 0; i < STATS_NLAB; i++) {
		if (t[i].name[0] == '\0') {
			memcpy(t[i].name, clean, sizeof(clean));
			break;
		}
		if (strcmp(t[i].name, clean) == 0)
			break;
	}
	if (i == STATS_NLAB) {
		i = STATS_NLAB - 1;
		strcpy(t[i].name, "other");
	}
	t[i].n++;
}

void
stats_observe(struct stats_hist *h, const double *bounds, double v)
{
	size_t	 i;

	if (v < 0)
		v = 0;
	for (i = 0; i < STATS_NB; i++)
		if (v <= bounds[i]) {
			h->le[i]++;
			break;
		}
	h->count++;
	h->sum += v;
}
