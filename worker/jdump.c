/*
 * jdump: see jdump.h.
 *
 * Why: json_dumps writes through a callback per piece and walks every
 * string a code point at a time; request bodies carry whole transcripts,
 * so the worker spent 5% of its instructions there (callgrind, issue 15
 * item 6).  This writer copies runs of plain bytes at once into one
 * growing buffer.  Its output follows jansson 2.14's encoder (dump.c)
 * with JSON_COMPACT: members in insertion order, "," and ":" without
 * blanks, '"' '\\' and control characters escaped ("\\b" "\\f" "\\n"
 * "\\r" "\\t", others "\\u%04X"), '/' and non-ASCII text as they are;
 * tests/unit/t_jdump.c checks both against each other.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jdump.h"
#include "jload.h"

struct jd {
	char	*p;
	size_t	 len, cap;
};

static int
jd_room(struct jd *b, size_t n)
{
	char	*np;
	size_t	 cap;

	if (b->len + n < b->cap)
		return 0;
	cap = b->cap ? b->cap : 256;
	while (b->len + n >= cap)
		cap *= 2;
	if ((np = realloc(b->p, cap)) == NULL)
		return -1;
	b->p = np;
	b->cap = cap;
	return 0;
}

static int
jd_add(struct jd *b, const void *s, size_t n)
{
	if (jd_room(b, n) == -1)
		return -1;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	return 0;
}

/* -1: out of memory or not valid UTF-8 (jansson refuses it too). */
static int
jd_string(struct jd *b, const char *str, size_t len)
{
	const unsigned char	*s = (const unsigned char *)str;
	const unsigned char	*end = s + len, *run = s;
	char			 seq[8];
	const char		*text;
	size_t			 u;

	if (jd_add(b, "\"", 1) == -1)
		return -1;
	while (s < end) {
		if (*s >= 0x80) {
			if ((u = jload_utf8(s, end)) == 0)
				return -1;
			s += u;
			continue;
		}
		if (*s >= 0x20 && *s != '"' && *s != '\\') {
			s++;
			continue;
		}
		if (s > run && jd_add(b, run, (size_t)(s - run)) == -1)
			return -1;
		switch (*s) {
		case '\\': text = "\\\\"; break;
		case '"': text = "\\\""; break;
		case '\b': text = "\\b"; break;
		case '\f': text = "\\f"; break;
		case '\n': text = "\\n"; break;
		case '\r': text = "\\r"; break;
		case '\t': text = "\\t"; break;
		default:
			snprintf(seq, sizeof(seq), "\\u%04X", (unsigned int)*s);
			text = seq;
			break;
		}
		if (jd_add(b, text, strlen(text)) == -1)
			return -1;
		run = ++s;
	}
	if (s > run && jd_add(b, run, (size_t)(s - run)) == -1)
		return -1;
	return jd_add(b, "\"", 1);
}

static int
jd_value(struct jd *b, const json_t *v, int depth)
{
	char	 num[32];
	void	*it;
	size_t	 i, n;
	int	 k;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		if (depth >= JDUMP_DEPTH || jd_add(b, "{", 1) == -1)
			return -1;
		for (it = json_object_iter((json_t *)v), i = 0; it != NULL;
		    it = json_object_iter_next((json_t *)v, it), i++) {
			if ((i > 0 && jd_add(b, ",", 1) == -1) ||
			    jd_string(b, json_object_iter_key(it),
			    json_object_iter_key_len(it)) == -1 ||
			    jd_add(b, ":", 1) == -1 ||
			    jd_value(b, json_object_iter_value(it),
			    depth + 1) == -1)
				return -1;
		}
		return jd_add(b, "}", 1);
	case JSON_ARRAY:
		if (depth >= JDUMP_DEPTH || jd_add(b, "[", 1) == -1)
			return -1;
		n = json_array_size(v);
		for (i = 0; i < n; i++)
			if ((i > 0 && jd_add(b, ",", 1) == -1) ||
			    jd_value(b, json_array_get(v, i), depth + 1) == -1)
				return -1;
		return jd_add(b, "]", 1);
	case JSON_STRING:
		return jd_string(b, json_string_value(v),
		    json_string_length(v));
	case JSON_INTEGER:
		k = snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
		    json_integer_value(v));
		return jd_add(b, num, (size_t)k);
	case JSON_TRUE:
		return jd_add(b, "true", 4);
	case JSON_FALSE:
		return jd_add(b, "false", 5);
	case JSON_NULL:
		return jd_add(b, "null", 4);
	default:
		return -1;	/* a real: jansson's own formatting */
	}
}

char *
jdump_fast(const json_t *v)
{
	struct jd	 b = { NULL, 0, 0 };

	if (!json_is_object(v) && !json_is_array(v))
		return NULL;
	if (jd_value(&b, v, 0) == -1 || jd_add(&b, "", 1) == -1) {
		free(b.p);
		return NULL;
	}
	return b.p;
}

char *
jdump(const json_t *v)
{
	char	*s;

	if ((s = jdump_fast(v)) == NULL)
		s = json_dumps(v, JSON_COMPACT);
	return s;
}
