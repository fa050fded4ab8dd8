/*
 * wscheck: see wscheck.h.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "record.h"
#include "wscheck.h"

json_t *
wscheck_ids(const json_t *o, const char *key)
{
	json_t		*list, *item, *v, *ids;
	size_t		 i;
	char		 buf[32];

	list = json_object_get(o, key);
	if (!json_is_array(list) || (ids = json_array()) == NULL)
		return NULL;
	json_array_foreach(list, i, item) {
		v = json_object_get(item, "id");
		if (json_is_string(v))
			json_array_append(ids, v);
		else if (json_is_integer(v)) {
			snprintf(buf, sizeof(buf), "%lld",
			    (long long)json_integer_value(v));
			json_array_append_new(ids, json_string(buf));
		}
	}
	return ids;
}

static bool
has_id(const json_t *ids, const char *id)
{
	const json_t	*v;
	size_t		 i;

	json_array_foreach(ids, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), id) == 0)
			return true;
	return false;
}

/* Append one "; "-separated problem to out (cut, never overrun). */
static void
problem(char *out, size_t outsz, int *n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
problem(char *out, size_t outsz, int *n, const char *fmt, ...)
{
	va_list	 ap;
	size_t	 len = strlen(out);

	if (*n > 0 && len + 2 < outsz) {
		memcpy(out + len, "; ", 3);
		len += 2;
	}
	(*n)++;
	if (len + 1 >= outsz)
		return;
	va_start(ap, fmt);
	vsnprintf(out + len, outsz - len, fmt, ap);
	va_end(ap);
}

/* One route (routes[] entry, or the escalation when category is NULL). */
static void
check_route(const struct conf_route *r, const json_t *admins,
    const json_t *teams, char *out, size_t outsz, int *n)
{
	const json_t	*ids = r->kind == 't' ? teams : admins;
	const char	*what = r->kind == 't' ? "team" : "admin";

	if (ids == NULL || r->id == NULL || has_id(ids, r->id))
		return;
	if (r->category != NULL)
		problem(out, outsz, n, "route = %s:%s:%s: GET /%ss has no %s "
		    "%s", r->category, what, r->id, what, what, r->id);
	else
		problem(out, outsz, n, "escalation_%s = %s: GET /%ss has no "
		    "%s %s", what, r->id, what, what, r->id);
}

int
wscheck_config(const struct conf_ws *cw, const json_t *admins,
    const json_t *teams, char *out, size_t outsz)
{
	size_t		 i;
	int		 n = 0;

	if (outsz == 0)
		return 0;
	out[0] = '\0';
	if (admins != NULL && cw->admin_id != NULL &&
	    !has_id(admins, cw->admin_id))
		problem(out, outsz, &n, "admin_id = %s: GET /admins has no "
		    "admin %s", cw->admin_id, cw->admin_id);
	for (i = 0; i < cw->nroutes; i++)
		check_route(&cw->routes[i], admins, teams, out, outsz, &n);
	if (cw->has_escalation)
		check_route(&cw->escalation, admins, teams, out, outsz, &n);
	return n;
}

int
wscheck_assign(char kind, const char *id, const json_t *admins,
    const json_t *teams, char *why, size_t whysz)
{
	const json_t	*ids = kind == 't' ? teams : admins;
	const char	*what = kind == 't' ? "team" : "admin";

	if (whysz > 0)
		why[0] = '\0';
	if (ids == NULL || id == NULL || (kind != 't' && kind != 'a') ||
	    has_id(ids, id))
		return 0;
	snprintf(why, whysz, "assign.%s_id %s: GET /%ss has no %s %s", what,
	    id, what, what, id);
	return -1;
}

int
wscheck_allowed(const struct conf_ws *cw, const json_t *attrs, char *out,
    size_t outsz)
{
	size_t		 i;
	const char	*a;
	int		 n = 0;

	if (outsz == 0)
		return 0;
	out[0] = '\0';
	for (i = 0; attrs != NULL && i < cw->nallowed_attributes; i++) {
		a = cw->allowed_attributes[i];
		if (json_object_get(attrs, a) == NULL)
			problem(out, outsz, &n, "allowed_attributes = %s: "
			    "GET /data_attributes?model=contact has no "
			    "attribute %s", a, a);
	}
	return n;
}

const char *
wscheck_value(const char *t, const json_t *v)
{
	if (t == NULL || json_is_null(v))
		return NULL;
	if (strcmp(t, "string") == 0)
		return json_is_string(v) ? NULL : "a string";
	if (strcmp(t, "integer") == 0)
		return json_is_integer(v) ? NULL : "an integer";
	if (strcmp(t, "float") == 0)
		return json_is_number(v) ? NULL : "a number";
	if (strcmp(t, "boolean") == 0)
		return json_is_boolean(v) ? NULL : "true or false";
	if (strcmp(t, "date") == 0 || strcmp(t, "datetime") == 0)
		return json_is_integer(v) ? NULL : "a date in Unix seconds";
	return NULL;
}

int
wscheck_attr(const json_t *attrs, const char *name, const json_t *v,
    char *why, size_t whysz)
{
	const json_t	*t;
	const char	*want;

	if (whysz > 0)
		why[0] = '\0';
	if (attrs == NULL)
		return 0;
	if ((t = json_object_get(attrs, name)) == NULL) {
		snprintf(why, whysz, "Intercom has no contact attribute %s",
		    name);
		return -1;
	}
	if ((want = wscheck_value(json_string_value(t), v)) == NULL)
		return 0;
	snprintf(why, whysz, "%s is a %s attribute in Intercom: the value "
	    "must be %s, not %s", name, json_string_value(t), want,
	    record_json_kind(v));
	return -1;
}

const char *
wscheck_api_region(const char *api_base, char *host, size_t hostsz)
{
	static const struct {
		const char	*host, *region;
	} hosts[] = {
		{ "api.intercom.io", "US" },
		{ "api.eu.intercom.io", "EU" },
		{ "api.au.intercom.io", "AU" },
	};
	const char	*h;
	size_t		 n, i;

	if (hostsz == 0)
		return NULL;
	h = strstr(api_base, "://");
	h = h != NULL ? h + 3 : api_base;
	n = h[0] == '[' ? strcspn(h, "]/") + (strchr(h, ']') != NULL) :
	    strcspn(h, ":/");
	snprintf(host, hostsz, "%.*s", (int)n, h);
	if (n > 10 && strncasecmp(h + n - 10, ".localhost", 10) == 0)
		n -= 10;
	for (i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++)
		if (strlen(hosts[i].host) == n &&
		    strncasecmp(h, hosts[i].host, n) == 0)
			return hosts[i].region;
	return NULL;
}
