/*
 * intercom: see intercom.h.  Every accessor tolerates a missing or
 * wrongly typed member: answers come from the network and are not trusted.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "intercom.h"
#include "phone.h"

json_t *
ic_parse(const char *body, size_t len)
{
	json_t	*o;

	if (body == NULL || len == 0)
		return NULL;
	o = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	if (o != NULL && !json_is_object(o)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

const char *
ic_str(json_t *o, const char *key)
{
	json_t	*v = json_is_object(o) ? json_object_get(o, key) : NULL;

	return json_is_string(v) ? json_string_value(v) : NULL;
}

const char *
ic_id(json_t *o, const char *key, char *buf, size_t sz)
{
	json_t	*v = json_is_object(o) ? json_object_get(o, key) : NULL;

	if (json_is_string(v) && json_string_length(v) > 0 &&
	    json_string_length(v) < sz) {
		snprintf(buf, sz, "%s", json_string_value(v));
		return buf;
	}
	if (json_is_integer(v)) {
		snprintf(buf, sz, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return buf;
	}
	return NULL;
}

void
ic_error(json_t *o, char *code, size_t codesz, char *msg, size_t msgsz)
{
	json_t		*errs, *e;
	const char	*s;

	code[0] = msg[0] = '\0';
	errs = json_is_object(o) ? json_object_get(o, "errors") : NULL;
	if (!json_is_array(errs) || json_array_size(errs) == 0)
		return;
	e = json_array_get(errs, 0);
	if ((s = ic_str(e, "code")) != NULL)
		snprintf(code, codesz, "%s", s);
	if ((s = ic_str(e, "message")) != NULL)
		snprintf(msg, msgsz, "%s", s);
}

int
ic_is_contact_id(const char *s)
{
	size_t	 i;

	if (s == NULL)
		return 0;
	for (i = 0; i < 24; i++)
		if (!isxdigit((unsigned char)s[i]) ||
		    isupper((unsigned char)s[i]))
			return 0;
	return s[24] == '\0';
}

/* Copy 24 hex chars at p into out if they are exactly that. */
static int
ic_take_id(const char *p, char out[25])
{
	size_t	 i;

	for (i = 0; i < 24; i++)
		if (!isxdigit((unsigned char)p[i]))
			return -1;
	if (isalnum((unsigned char)p[24]))
		return -1;
	for (i = 0; i < 24; i++)
		out[i] = (char)tolower((unsigned char)p[i]);
	out[24] = '\0';
	return 0;
}

int
ic_conflict_id(const char *msg, char out[25])
{
	const char	*p;

	for (p = msg; p != NULL && (p = strstr(p, "id=")) != NULL; p += 3)
		if (ic_take_id(p + 3, out) == 0)
			return 0;
	return -1;
}

int
ic_link_contact(const char *link, char out[25])
{
	const char	*p;

	if (link == NULL || strstr(link, "canonical") == NULL)
		return -1;
	if ((p = strstr(link, "/contacts/")) == NULL)
		return -1;
	return ic_take_id(p + 10, out);
}

static long long
ic_num(json_t *o, const char *key)
{
	json_t	*v = json_object_get(o, key);

	return json_is_integer(v) ? (long long)json_integer_value(v) : 0;
}

int
ic_pick_contact(json_t *data)
{
	size_t		 i;
	json_t		*c, *w = NULL;
	int		 wi = -1, cu, wu;
	const char	*cid, *wid;

	if (!json_is_array(data))
		return -1;
	json_array_foreach(data, i, c) {
		if (!json_is_object(c) || !ic_is_contact_id(ic_str(c, "id")))
			continue;
		if (w == NULL)
			goto take;
		cu = ic_str(c, "role") != NULL &&
		    strcmp(ic_str(c, "role"), "user") == 0;
		wu = ic_str(w, "role") != NULL &&
		    strcmp(ic_str(w, "role"), "user") == 0;
		if (cu != wu) {
			if (cu)
				goto take;
			continue;
		}
		if (ic_num(c, "updated_at") != ic_num(w, "updated_at")) {
			if (ic_num(c, "updated_at") > ic_num(w, "updated_at"))
				goto take;
			continue;
		}
		cid = ic_str(c, "id");
		wid = ic_str(w, "id");
		if (strcmp(cid, wid) < 0)
			goto take;
		continue;
take:
		w = c;
		wi = (int)i;
	}
	return wi;
}

int
ic_has_word(const char *text, const char *token)
{
	size_t		 tl = strlen(token);
	const char	*p;

	if (text == NULL || tl == 0)
		return 0;
	for (p = text; (p = strstr(p, token)) != NULL; p++) {
		if ((p == text || !isalnum((unsigned char)p[-1])) &&
		    !isalnum((unsigned char)p[tl]))
			return 1;
	}
	return 0;
}

int
ic_conv_has_marker(json_t *conv, const char *token)
{
	json_t	*src, *parts, *list, *p;
	size_t	 i;

	src = json_object_get(conv, "source");
	if (ic_has_word(ic_str(src, "body"), token))
		return 1;
	parts = json_object_get(conv, "conversation_parts");
	list = json_object_get(parts, "conversation_parts");
	if (!json_is_array(list))
		return 0;
	json_array_foreach(list, i, p)
		if (ic_has_word(ic_str(p, "body"), token))
			return 1;
	return 0;
}

int
ic_conv_has_tag(json_t *conv, const char *tag_id)
{
	json_t	*tags, *list, *t;
	size_t	 i;
	char	 buf[32];

	tags = json_object_get(conv, "tags");
	list = json_object_get(tags, "tags");
	if (!json_is_array(list))
		return 0;
	json_array_foreach(list, i, t)
		if (ic_id(t, "id", buf, sizeof(buf)) != NULL &&
		    strcmp(buf, tag_id) == 0)
			return 1;
	return 0;
}

const char *
ic_conv_assignee(json_t *conv, char kind, char *buf, size_t sz)
{
	return ic_id(conv, kind == 't' ? "team_assignee_id" :
	    "admin_assignee_id", buf, sz);
}

static json_t	*ic_phone_query_fmt(const char *, const char *, bool);

json_t *
ic_phone_query(const char *e164, const char *region)
{
	return ic_phone_query_fmt(e164, region, true);
}

json_t *
ic_phone_query_plain(const char *e164, const char *region)
{
	return ic_phone_query_fmt(e164, region, false);
}

static json_t *
ic_phone_query_fmt(const char *e164, const char *region, bool fmt)
{
	char	 forms[14][32];
	size_t	 n, i;
	json_t	*or;

	/* 2.16's phone search is exact on the stored string: the forms
	 * Intercom may hold (E.164, digits, national, as typed), and
	 * formatted_phone, which 2.16 lists as searchable (the Preview
	 * description: "normalized to the E164 format").  At most 15
	 * filters in a group. */
	n = phone_variants(e164, region, forms, 6);
	if (n == 0)
		return json_pack("{s:s,s:s,s:s}", "field", "phone", "operator",
		    "=", "value", e164);
	n += phone_formatted(e164, region, forms + n, 14 - n);
	or = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(or, json_pack("{s:s,s:s,s:s}", "field",
		    "phone", "operator", "=", "value", forms[i]));
	if (fmt)
		json_array_append_new(or, json_pack("{s:s,s:s,s:s}", "field",
		    "formatted_phone", "operator", "=", "value", e164));
	return json_pack("{s:s,s:o}", "operator", "OR", "value", or);
}

int
ic_me_check(const char *body, size_t len)
{
	json_t		*o = ic_parse(body, len);
	const char	*type = ic_str(o, "type"), *app;
	char		 id[64];
	int		 rc = -1;

	app = ic_str(json_object_get(o, "app"), "id_code");
	if (type != NULL && strcmp(type, "admin") == 0 &&
	    ic_id(o, "id", id, sizeof(id)) != NULL && app != NULL &&
	    app[0] != '\0')
		rc = 0;
	json_decref(o);
	return rc;
}

int
ic_me_app_id(const char *body, size_t len, char *out, size_t outsz)
{
	json_t		*o = ic_parse(body, len);
	const char	*id = ic_str(json_object_get(o, "app"), "id_code");
	size_t		 i;
	int		 rc = -1;

	out[0] = '\0';
	/* It goes into links: letters, digits, '_' and '-' only. */
	if (id != NULL && id[0] != '\0' && strlen(id) < outsz) {
		for (i = 0; id[i] != '\0'; i++)
			if (!isalnum((unsigned char)id[i]) && id[i] != '_' &&
			    id[i] != '-')
				break;
		if (id[i] == '\0') {
			memcpy(out, id, i + 1);
			rc = 0;
		}
	}
	json_decref(o);
	return rc;
}

/* The character an entity at s stands for, into out; its length or 0. */
static size_t
ic_entity(const char *s, char *out, size_t *outn)
{
	static const struct { const char *e; const char *c; } ents[] = {
		{ "&amp;", "&" }, { "&lt;", "<" }, { "&gt;", ">" },
		{ "&quot;", "\"" }, { "&#39;", "'" }, { "&apos;", "'" },
		{ "&nbsp;", " " }, { "&#34;", "\"" }, { "&#x27;", "'" },
		{ NULL, NULL } };
	size_t	 i;

	for (i = 0; ents[i].e != NULL; i++)
		if (strncmp(s, ents[i].e, strlen(ents[i].e)) == 0) {
			*outn = strlen(ents[i].c);
			memcpy(out, ents[i].c, *outn);
			return strlen(ents[i].e);
		}
	return 0;
}

char *
ic_text_norm(const char *html)
{
	char	*out, *o, ch[8];
	size_t	 n, k, cn;
	bool	 space = true;

	if (html == NULL || (out = malloc(strlen(html) + 1)) == NULL)
		return NULL;
	o = out;
	for (n = 0; html[n] != '\0'; ) {
		cn = 0;
		if (html[n] == '<') {
			/* A tag separates words: <br>, </p><p>. */
			while (html[n] != '\0' && html[n] != '>')
				n++;
			if (html[n] == '>')
				n++;
			ch[0] = ' ';
			cn = 1;
		} else if (html[n] == '&' && (k = ic_entity(html + n, ch,
		    &cn)) > 0)
			n += k;
		else
			ch[0] = html[n++], cn = 1;
		for (k = 0; k < cn; k++) {
			if (isspace((unsigned char)ch[k])) {
				if (!space)
					*o++ = ' ';
				space = true;
			} else {
				*o++ = ch[k];
				space = false;
			}
		}
	}
	if (o > out && o[-1] == ' ')
		o--;
	*o = '\0';
	return out;
}
