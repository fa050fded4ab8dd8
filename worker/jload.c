/*
 * jload: see jload.h.
 *
 * Why: jansson's decoder pulls every byte through a stream, a UTF-8
 * check and a string buffer (a memcpy per byte): about 150 instructions
 * a byte, a quarter of all the worker's instructions (callgrind, issue
 * 15 item 6: Intercom's answers and the outbox payloads).  This parser
 * walks the buffer once, recursively, and builds the tree with jansson's
 * own constructors in the order jansson's decoder calls them, so objects
 * keep the same member order and values the same types.
 *
 * It is a fast path only: whatever it would have to reject, and the few
 * things it leaves to jansson (\u0000, nesting deeper than JLOAD_DEPTH),
 * make it give up and the whole text is parsed again by json_loadb.
 * Giving up is never wrong, accepting is: each rule below mirrors
 * jansson 2.14's lexer (load.c, utf.c) so that nothing jansson rejects
 * is accepted here; tests/unit/t_jload.c checks both against each other.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jload.h"

struct jl {
	const unsigned char	*p, *end;
	size_t			 flags;
	int			 depth;
	char			*scratch;	/* decoded strings with escapes */
	size_t			 scap;
};

static json_t	*jl_value(struct jl *);

/* 1: a byte that stands for itself inside a string (ASCII from 0x20 up,
 * DEL included, but '"' and '\\'). */
static const unsigned char jl_plain[256] = {
	[0x20] = 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,	/* 20-2f */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,		/* 30-3f */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,		/* 40-4f */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,		/* 50-5f */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,		/* 60-6f */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,		/* 70-7f */
};

static void
jl_ws(struct jl *l)
{
	while (l->p < l->end && (*l->p == ' ' || *l->p == '\t' ||
	    *l->p == '\n' || *l->p == '\r'))
		l->p++;
}

/* Length of the valid UTF-8 sequence at p (first byte >= 0x80), or 0
 * (jansson utf8_check_first/utf8_check_full: no overlong forms, no
 * surrogates, nothing past U+10FFFF). */
size_t
jload_utf8(const unsigned char *p, const unsigned char *end)
{
	unsigned char	 c = p[0];
	size_t		 n, i;
	int32_t		 v;

	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		v = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		v = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		v = c & 0x07;
	} else
		return 0;
	if ((size_t)(end - p) < n)
		return 0;
	for (i = 1; i < n; i++) {
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
		v = (v << 6) | (p[i] & 0x3f);
	}
	if (v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff) ||
	    (n == 3 && v < 0x800) || (n == 4 && v < 0x10000))
		return 0;
	return n;
}

/* The 4 hex digits at p as a number, or -1. */
static int32_t
jl_hex4(const unsigned char *p)
{
	int32_t	 v = 0;
	int	 i;

	for (i = 0; i < 4; i++) {
		v <<= 4;
		if (p[i] >= '0' && p[i] <= '9')
			v |= p[i] - '0';
		else if (p[i] >= 'a' && p[i] <= 'f')
			v |= p[i] - 'a' + 10;
		else if (p[i] >= 'A' && p[i] <= 'F')
			v |= p[i] - 'A' + 10;
		else
			return -1;
	}
	return v;
}

static int
jl_room(struct jl *l, size_t need)
{
	char	*np;
	size_t	 cap;

	if (need <= l->scap)
		return 0;
	cap = need < 256 ? 256 : need;
	if ((np = realloc(l->scratch, cap)) == NULL)
		return -1;
	l->scratch = np;
	l->scap = cap;
	return 0;
}

/*
 * Decode the escapes of the string body [s, e) (already checked by
 * jl_string) into l->scratch; its length in *n.  -1: an escape jansson
 * rejects or leaves to its own NUL rule (\u0000), or out of memory.
 */
static int
jl_unescape(struct jl *l, const unsigned char *s, const unsigned char *e,
    size_t *n)
{
	char	*t;
	int32_t	 v, v2;

	/* Decoded text is never longer than its escaped form. */
	if (jl_room(l, (size_t)(e - s) + 1) == -1)
		return -1;
	t = l->scratch;
	while (s < e) {
		if (*s != '\\') {
			*t++ = (char)*s++;
			continue;
		}
		s++;
		switch (*s++) {
		case '"': *t++ = '"'; continue;
		case '\\': *t++ = '\\'; continue;
		case '/': *t++ = '/'; continue;
		case 'b': *t++ = '\b'; continue;
		case 'f': *t++ = '\f'; continue;
		case 'n': *t++ = '\n'; continue;
		case 'r': *t++ = '\r'; continue;
		case 't': *t++ = '\t'; continue;
		case 'u': break;
		default: return -1;
		}
		v = jl_hex4(s);		/* checked by jl_string */
		s += 4;
		if (v == 0)
			return -1;	/* jansson: NUL not allowed */
		if (v >= 0xdc00 && v <= 0xdfff)
			return -1;	/* a lone low surrogate */
		if (v >= 0xd800 && v <= 0xdbff) {
			if (e - s < 6 || s[0] != '\\' || s[1] != 'u' ||
			    (v2 = jl_hex4(s + 2)) < 0xdc00 || v2 > 0xdfff)
				return -1;
			s += 6;
			v = ((v - 0xd800) << 10) + (v2 - 0xdc00) + 0x10000;
		}
		if (v < 0x80)
			*t++ = (char)v;
		else if (v < 0x800) {
			*t++ = (char)(0xc0 | (v >> 6));
			*t++ = (char)(0x80 | (v & 0x3f));
		} else if (v < 0x10000) {
			*t++ = (char)(0xe0 | (v >> 12));
			*t++ = (char)(0x80 | ((v >> 6) & 0x3f));
			*t++ = (char)(0x80 | (v & 0x3f));
		} else {
			*t++ = (char)(0xf0 | (v >> 18));
			*t++ = (char)(0x80 | ((v >> 12) & 0x3f));
			*t++ = (char)(0x80 | ((v >> 6) & 0x3f));
			*t++ = (char)(0x80 | (v & 0x3f));
		}
	}
	*n = (size_t)(t - l->scratch);
	return 0;
}

/*
 * The string at l->p (on its opening quote): its text in *s and *n,
 * pointing into the input when it has no escape, else into l->scratch
 * (valid until the next string).  -1: not a string jansson takes.
 */
static int
jl_string(struct jl *l, const char **s, size_t *n)
{
	const unsigned char	*b = ++l->p, *q = b;
	size_t			 u;
	int			 esc = 0;

	for (;;) {
		/* Plain bytes by table: the bulk of every answer. */
		while (q < l->end && jl_plain[*q])
			q++;
		if (q >= l->end)
			return -1;
		if (*q == '"')
			break;
		if (*q == '\\') {
			if (l->end - q < 2)
				return -1;
			if (q[1] == 'u') {
				if (l->end - q < 6 || jl_hex4(q + 2) < 0)
					return -1;
				q += 6;
			} else
				q += 2;
			esc = 1;
		} else if (*q < 0x20)
			return -1;	/* a control character */
		else if (*q < 0x80)
			q++;
		else {
			if ((u = jload_utf8(q, l->end)) == 0)
				return -1;
			q += u;
		}
	}
	l->p = q + 1;
	if (!esc) {
		*s = (const char *)b;
		*n = (size_t)(q - b);
		return 0;
	}
	if (jl_unescape(l, b, q, n) == -1)
		return -1;
	*s = l->scratch;
	return 0;
}

static json_t *
jl_str_value(struct jl *l)
{
	const char	*s;
	size_t		 n;

	if (jl_string(l, &s, &n) == -1)
		return NULL;
	return json_stringn_nocheck(s, n);
}

/* jansson's number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static json_t *
jl_number(struct jl *l)
{
	const unsigned char	*b = l->p, *q = l->p;
	char			 text[64], *end;
	int			 real = 0;
	size_t			 n;
	json_int_t		 iv;
	double			 dv;

	if (q < l->end && *q == '-')
		q++;
	if (q >= l->end || *q < '0' || *q > '9')
		return NULL;
	if (*q == '0') {
		q++;
		if (q < l->end && *q >= '0' && *q <= '9')
			return NULL;	/* a leading zero */
	} else
		while (q < l->end && *q >= '0' && *q <= '9')
			q++;
	if (q < l->end && *q == '.') {
		real = 1;
		if (++q >= l->end || *q < '0' || *q > '9')
			return NULL;
		while (q < l->end && *q >= '0' && *q <= '9')
			q++;
	}
	if (q < l->end && (*q == 'e' || *q == 'E')) {
		real = 1;
		if (++q < l->end && (*q == '+' || *q == '-'))
			q++;
		if (q >= l->end || *q < '0' || *q > '9')
			return NULL;
		while (q < l->end && *q >= '0' && *q <= '9')
			q++;
	}
	if ((n = (size_t)(q - b)) >= sizeof(text))
		return NULL;	/* rare: jansson decides */
	memcpy(text, b, n);
	text[n] = '\0';
	l->p = q;
	errno = 0;
	if (!real) {
		iv = strtoll(text, &end, 10);
		if (errno == ERANGE || end != text + n)
			return NULL;	/* jansson: too big an integer */
		return json_integer(iv);
	}
	dv = strtod(text, &end);
	if (end != text + n || ((dv == HUGE_VAL || dv == -HUGE_VAL) &&
	    errno == ERANGE))
		return NULL;	/* jansson: real number overflow */
	return json_real(dv);
}

/*
 * Past the opening byte of a container and its blanks: 1 when the
 * closing byte follows at once (consumed: the container is empty), else 0.
 */
static int
jl_open(struct jl *l, unsigned char close)
{
	l->p++;
	jl_ws(l);
	if (l->p < l->end && *l->p == close) {
		l->p++;
		return 1;
	}
	return 0;
}

/*
 * After a member or an element: 1 past the closing byte, 0 past a comma
 * and its blanks (another one follows), -1 anything else.
 */
static int
jl_sep(struct jl *l, unsigned char close)
{
	jl_ws(l);
	if (l->p >= l->end)
		return -1;
	if (*l->p == close) {
		l->p++;
		return 1;
	}
	if (*l->p++ != ',')
		return -1;
	jl_ws(l);
	return 0;
}

static json_t *
jl_object(struct jl *l)
{
	json_t		*o, *v;
	const char	*k;
	char		*key = NULL, kbuf[128];
	size_t		 kn;
	int		 sep;

	if ((o = json_object()) == NULL)
		return NULL;
	if (jl_open(l, '}'))
		return o;
	for (;;) {
		if (l->p >= l->end || *l->p != '"' || jl_string(l, &k, &kn) == -1)
			goto fail;
		/* k may point into the scratch that the value reuses. */
		if (k == l->scratch) {
			if (kn < sizeof(kbuf))
				key = kbuf;
			else if ((key = malloc(kn + 1)) == NULL)
				goto fail;
			memcpy(key, k, kn);
			k = key;
		}
		if ((l->flags & JSON_REJECT_DUPLICATES) &&
		    json_object_getn(o, k, kn) != NULL)
			goto fail;
		jl_ws(l);
		if (l->p >= l->end || *l->p != ':')
			goto fail;
		l->p++;
		jl_ws(l);
		if ((v = jl_value(l)) == NULL)
			goto fail;
		if (json_object_setn_new_nocheck(o, k, kn, v) == -1)
			goto fail;
		if (key != kbuf)
			free(key);
		key = NULL;
		if ((sep = jl_sep(l, '}')) == 1)
			return o;
		if (sep == -1)
			goto fail;
	}
fail:
	if (key != kbuf)
		free(key);
	json_decref(o);
	return NULL;
}

static json_t *
jl_array(struct jl *l)
{
	json_t	*a, *v;
	int	 sep;

	if ((a = json_array()) == NULL)
		return NULL;
	if (jl_open(l, ']'))
		return a;
	for (;;) {
		if ((v = jl_value(l)) == NULL ||
		    json_array_append_new(a, v) == -1)
			goto fail;
		if ((sep = jl_sep(l, ']')) == 1)
			return a;
		if (sep == -1)
			goto fail;
	}
fail:
	json_decref(a);
	return NULL;
}

static int
jl_word(struct jl *l, const char *w, size_t n)
{
	if ((size_t)(l->end - l->p) < n || memcmp(l->p, w, n) != 0)
		return -1;
	l->p += n;
	return 0;
}

/* The value at l->p (no leading blanks), or NULL: give up. */
static json_t *
jl_value(struct jl *l)
{
	json_t	*v = NULL;

	if (l->p >= l->end || ++l->depth > JLOAD_DEPTH)
		return NULL;
	switch (*l->p) {
	case '{':
		v = jl_object(l);
		break;
	case '[':
		v = jl_array(l);
		break;
	case '"':
		v = jl_str_value(l);
		break;
	case 't':
		v = jl_word(l, "true", 4) == 0 ? json_true() : NULL;
		break;
	case 'f':
		v = jl_word(l, "false", 5) == 0 ? json_false() : NULL;
		break;
	case 'n':
		v = jl_word(l, "null", 4) == 0 ? json_null() : NULL;
		break;
	default:
		v = jl_number(l);
		break;
	}
	l->depth--;
	return v;
}

json_t *
jload_fast(const char *buf, size_t len, size_t flags)
{
	struct jl	 l;
	json_t		*v = NULL;

	if (buf == NULL || (flags & ~(size_t)JSON_REJECT_DUPLICATES) != 0)
		return NULL;
	memset(&l, 0, sizeof(l));
	l.p = (const unsigned char *)buf;
	l.end = l.p + len;
	l.flags = flags;
	jl_ws(&l);
	/* Without JSON_DECODE_ANY jansson takes only an array or object. */
	if (l.p < l.end && (*l.p == '{' || *l.p == '[')) {
		v = jl_value(&l);
		jl_ws(&l);
		if (v != NULL && l.p != l.end) {
			json_decref(v);		/* trailing garbage */
			v = NULL;
		}
	}
	free(l.scratch);
	return v;
}

json_t *
jload(const char *buf, size_t len, size_t flags, json_error_t *err)
{
	json_t	*v;

	if ((v = jload_fast(buf, len, flags)) == NULL)
		v = json_loadb(buf, len, flags, err);
	return v;
}
