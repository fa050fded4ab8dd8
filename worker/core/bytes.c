/*
 * bytes: see bytes.h.
 *
 * One pass over the text with a tokenizer that knows only what it needs:
 * where strings start and end (a '"' outside a string opens one, an
 * unescaped '"' closes it), the nesting depth, and which strings are the
 * top-level object's member names (to say which fields were repaired).
 * Nothing is copied until the first repair: most payloads are clean and
 * cost one scan.  The output is allocated once, 3 * len + 1 bytes, since
 * the largest growth is one invalid byte becoming the 3 bytes of U+FFFD.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"

#define KEY_MAX	32	/* longest member name a note names */

struct rp {
	const unsigned char	*start, *p, *end;
	char			*out;		/* NULL until the first repair */
	size_t			 olen;
	struct bytes_fix	*fix;
	int			 depth;
	bool			 obj_top;	/* the text is an object */
	bool			 expect_key;	/* next string is a member name */
	bool			 in_key;	/* inside a top-level member name */
	char			 key[KEY_MAX + 1];	/* the name being read */
	size_t			 keylen;
	bool			 key_ok;	/* short printable ASCII so far */
	char			 member[KEY_MAX + 1];	/* "" or the last name */
	bool			 member_ok;
};

/* Append n bytes of s to the output, once there is one. */
static void
emit(struct rp *r, const void *s, size_t n)
{
	if (r->out == NULL)
		return;
	memcpy(r->out + r->olen, s, n);
	r->olen += n;
}

/* The first repair: allocate the output and copy what came before. */
static int
begin(struct rp *r)
{
	size_t	 len = (size_t)(r->end - r->start), done;

	if (r->out != NULL)
		return 0;
	if ((r->out = malloc(3 * len + 1)) == NULL)
		return -1;
	done = (size_t)(r->p - r->start);
	memcpy(r->out, r->start, done);
	r->olen = done;
	return 0;
}

/* Name the field being repaired in fix->fields, once. */
static void
note_field(struct rp *r)
{
	const char	*label;
	char		*f = r->fix->fields;
	size_t		 have = strlen(f), n;
	const char	*s;

	if (r->in_key)
		label = "a member name";
	else if (r->depth == 0 || !r->obj_top || r->member[0] == '\0')
		label = "payload";
	else if (r->member_ok)
		label = r->member;
	else
		label = "another field";
	/* Already listed?  (whole items between ", ") */
	n = strlen(label);
	for (s = f; (s = strstr(s, label)) != NULL; s += n)
		if ((s == f || (s >= f + 2 && s[-2] == ',' && s[-1] == ' ')) &&
		    (s[n] == '\0' || s[n] == ','))
			return;
	if (have >= 3 && strcmp(f + have - 3, "...") == 0)
		return;
	if (have + 2 + n + 1 > sizeof(r->fix->fields) - 4) {
		snprintf(f + have, sizeof(r->fix->fields) - have, "%s...",
		    have > 0 ? ", " : "");
		return;
	}
	snprintf(f + have, sizeof(r->fix->fields) - have, "%s%s",
	    have > 0 ? ", " : "", label);
}

/* The 4 hex digits at p as a number, or -1. */
static int32_t
hex4(const unsigned char *p)
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

/*
 * The sequence at p (p[0] >= 0x80): its length, with *valid set when it
 * is one well-formed character; otherwise the length of its maximal
 * subpart (at least 1), to become one U+FFFD (Unicode 15, section 3.9,
 * "U+FFFD Substitution of Maximal Subparts").  The second byte's range
 * is what excludes overlong forms (E0, F0), surrogates (ED) and values
 * past U+10FFFF (F4): table 3-7.
 */
static size_t
utf8_seq(const unsigned char *p, const unsigned char *end, bool *valid)
{
	unsigned char	 c = p[0], lo = 0x80, hi = 0xbf;
	size_t		 n, i;

	*valid = false;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else
		return 1;
	if (p + 1 >= end || p[1] < lo || p[1] > hi)
		return 1;
	for (i = 2; i < n; i++)
		if (p + i >= end || p[i] < 0x80 || p[i] > 0xbf)
			return i;
	*valid = true;
	return n;
}

/* 1: a byte that stands for itself in a string and needs no look
 * (printable ASCII and DEL, but '"' and '\\'). */
static const unsigned char plain[256] = {
	[0x20] = 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,	/* 20-2f */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,		/* 30-3f */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,		/* 40-4f */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,		/* 50-5f */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,		/* 60-6f */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,		/* 70-7f */
};

/* A string's bytes from r->p (after its '"'); stops after its end. */
static int
string(struct rp *r)
{
	static const char	 fffd[] = "\xef\xbf\xbd";
	const unsigned char	*p, *q;
	int32_t			 v, w;
	size_t			 n;
	bool			 valid, broken = false;

	while ((p = r->p) < r->end) {
		/* A run of plain bytes and valid UTF-8 at once (most of any
		 * text). */
		if (!r->in_key) {
			for (q = p; q < r->end; q += n) {
				if (plain[*q])
					n = 1;
				else if (*q < 0x80 || (n = utf8_seq(q, r->end,
				    &valid)) == 0 || !valid)
					break;
			}
			if (q > p) {
				emit(r, p, (size_t)(q - p));
				r->p = q;
				continue;
			}
		}
		if (*p == '"') {
			emit(r, p, 1);
			r->p++;
			return 0;
		}
		if (r->in_key) {
			if (*p < 0x21 || *p > 0x7e || *p == '\\' ||
			    r->keylen == KEY_MAX)
				r->key_ok = false;
			else
				r->key[r->keylen++] = (char)*p;
		}
		if (*p == '\\') {
			/* "\u" without 4 hex digits: jansson refuses the
			 * string whatever follows.  Repair nothing more in
			 * it: dropping a later "\u0000" could complete this
			 * escape ("\u00\u0000e9" would become "\u00e9"). */
			if (p + 1 < r->end && p[1] == 'u' &&
			    (p + 6 > r->end || hex4(p + 2) < 0))
				broken = true;
			if (!broken && p + 6 <= r->end && p[1] == 'u' &&
			    (v = hex4(p + 2)) >= 0) {
				if (v == 0) {
					if (begin(r) == -1)
						return -1;
					r->fix->nul++;
					note_field(r);
					r->p += 6;	/* dropped */
					continue;
				}
				if (v >= 0xd800 && v <= 0xdbff &&
				    p + 12 <= r->end && p[6] == '\\' &&
				    p[7] == 'u' && (w = hex4(p + 8)) >= 0xdc00 &&
				    w <= 0xdfff) {
					emit(r, p, 12);	/* a pair */
					r->p += 12;
					continue;
				}
				if (v >= 0xd800 && v <= 0xdfff) {
					if (begin(r) == -1)
						return -1;
					r->fix->surrogate++;
					note_field(r);
					emit(r, "\\ufffd", 6);
					r->p += 6;
					continue;
				}
				emit(r, p, 6);
				r->p += 6;
				continue;
			}
			/* Another escape: both bytes as they are (an ASCII
			 * one only: jansson judges it).  A '\' at the end, or
			 * before a non-ASCII byte, goes alone. */
			n = p + 1 < r->end && p[1] < 0x80 ? 2 : 1;
			emit(r, p, n);
			r->p += n;
			continue;
		}
		if (*p < 0x80 || broken) {
			emit(r, p, 1);	/* a raw control byte too: jansson's */
			r->p++;
			continue;
		}
		n = utf8_seq(p, r->end, &valid);
		if (valid) {
			emit(r, p, n);
			r->p += n;
			continue;
		}
		if (begin(r) == -1)
			return -1;
		r->fix->utf8++;
		note_field(r);
		emit(r, fffd, 3);
		r->p += n;
	}
	return 0;
}

int
bytes_repair(const char *in, size_t len, char **out, size_t *outlen,
    struct bytes_fix *fix)
{
	struct rp	 r;
	unsigned char	 c;
	bool		 first = true;

	memset(fix, 0, sizeof(*fix));
	memset(&r, 0, sizeof(r));
	r.start = r.p = (const unsigned char *)in;
	r.end = r.start + len;
	r.fix = fix;
	*out = NULL;
	*outlen = 0;
	while (r.p < r.end) {
		c = *r.p;
		emit(&r, r.p, 1);
		r.p++;
		switch (c) {
		case '{':
		case '[':
			if (first && c == '{')
				r.obj_top = true;
			if (r.depth < 0x7fff)
				r.depth++;
			r.expect_key = r.depth == 1 && c == '{';
			break;
		case '}':
		case ']':
			if (r.depth > 0)
				r.depth--;
			r.expect_key = false;
			break;
		case ',':
			r.expect_key = r.depth == 1 && r.obj_top;
			break;
		case '"':
			r.in_key = r.expect_key;
			r.expect_key = false;
			if (r.in_key) {
				r.keylen = 0;
				r.key_ok = true;
			}
			if (string(&r) == -1)
				goto out_free;
			if (r.in_key) {
				r.key[r.keylen] = '\0';
				memcpy(r.member, r.key, sizeof(r.member));
				r.member_ok = r.key_ok && r.keylen > 0;
				if (r.keylen == 0)
					snprintf(r.member, sizeof(r.member),
					    "%s", "another field");
				r.in_key = false;
			}
			break;
		default:
			break;
		}
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			first = false;
	}
	if (r.out == NULL)
		return 0;
	r.out[r.olen] = '\0';
	*out = r.out;
	*outlen = r.olen;
	return 1;
out_free:
	free(r.out);
	return -1;
}

bool
bytes_fixed(const struct bytes_fix *fix)
{
	return fix->nul + fix->utf8 + fix->surrogate > 0;
}

void
bytes_describe(const struct bytes_fix *fix, char *buf, size_t bufsz)
{
	size_t	 n = 0;

	if (bufsz == 0)
		return;
	buf[0] = '\0';
#define ADD(...) do {							\
	if (n < bufsz)							\
		n += (size_t)snprintf(buf + n, bufsz - n, __VA_ARGS__);	\
} while (0)
	if (fix->nul > 0)
		ADD("%u NUL character%s (\\u0000) dropped", fix->nul,
		    fix->nul == 1 ? "" : "s");
	if (fix->utf8 > 0)
		ADD("%s%u invalid UTF-8 sequence%s replaced with U+FFFD",
		    n > 0 ? ", " : "", fix->utf8, fix->utf8 == 1 ? "" : "s");
	if (fix->surrogate > 0)
		ADD("%s%u lone surrogate escape%s replaced with U+FFFD",
		    n > 0 ? ", " : "", fix->surrogate,
		    fix->surrogate == 1 ? "" : "s");
	if (n > 0 && fix->fields[0] != '\0')
		ADD(" (%s)", fix->fields);
#undef ADD
}
