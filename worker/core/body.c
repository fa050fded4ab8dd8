/*
 * body: see body.h.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "body.h"

void
body_token(const char *marker, size_t piece, char *tok, size_t sz)
{
	if (piece == 0)
		snprintf(tok, sz, "%s", marker);
	else
		snprintf(tok, sz, "%sn%zu", marker, piece + 1);
}

/*
 * Intercom renders bodies as HTML: text goes out escaped, blank lines as
 * paragraphs and single line breaks as <br>, so a summary and a transcript
 * (one line per speaker turn) read as the agent wrote them.  A control
 * character from a speech engine (BEL, ESC, ...) has no rendering: it is
 * dropped, not a reason to refuse a call.
 */

/* Length of the control character at s (0: none), to be dropped. */
static size_t
body_ctl(const unsigned char *s, size_t left)
{
	if ((s[0] < 0x20 && s[0] != '\n' && s[0] != '\t') || s[0] == 0x7f)
		return 1;
	/* U+0080..U+009F (C1) are 0xc2 0x80..0x9f in UTF-8. */
	if (s[0] == 0xc2 && left > 1 && s[1] >= 0x80 && s[1] <= 0x9f)
		return 2;
	return 0;
}

/* An upper bound of the HTML bytes that source byte c becomes. */
static size_t
body_cost(unsigned char c)
{
	switch (c) {
	case '&':
		return 5;		/* &amp; */
	case '<':
	case '>':
		return 4;		/* &lt; &gt; */
	case '"':
		return 6;		/* &quot; */
	case '\n':
		return 4;		/* <br>, or half of </p><p> */
	default:
		return c < 0x20 && c != '\t' ? 0 : 1;
	}
}

/* Append src[0..n) as HTML to a new string: <p>...</p> paragraphs. */
static char *
body_html(const char *src, size_t n)
{
	const unsigned char	*u = (const unsigned char *)src;
	char			*out, *o;
	size_t			 i, k, nl;

	/* Every byte costs at most 6, plus <p></p> and the NUL. */
	if ((out = malloc(n * 6 + 8)) == NULL)
		return NULL;
	o = out;
	o += sprintf(o, "<p>");
	/* Line breaks at either end of a piece would render as blank
	 * space: a piece starts and ends with text. */
	while (n > 0 && (u[n - 1] == '\n' || u[n - 1] == '\r' ||
	    u[n - 1] == ' '))
		n--;
	i = 0;
	while (i < n && (u[i] == '\n' || u[i] == '\r'))
		i++;
	while (i < n) {
		if (u[i] == '\n' || u[i] == '\r') {
			for (nl = 0; i < n && (u[i] == '\n' || u[i] == '\r');
			    i++)
				nl += u[i] == '\n';
			o += sprintf(o, "%s", nl >= 2 ? "</p><p>" : "<br>");
			continue;
		}
		if ((k = body_ctl(u + i, n - i)) > 0) {
			i += k;
			continue;
		}
		switch (u[i]) {
		case '&':
			o += sprintf(o, "&amp;");
			break;
		case '<':
			o += sprintf(o, "&lt;");
			break;
		case '>':
			o += sprintf(o, "&gt;");
			break;
		case '"':
			o += sprintf(o, "&quot;");
			break;
		default:
			*o++ = (char)u[i];
		}
		i++;
	}
	sprintf(o, "</p>");
	return out;
}

/*
 * POST /conversations takes plain text ("The content of the message.
 * HTML is not supported.", create_conversation_request.body in the 2.16
 * description): markup sent there is shown literally.  The same text as
 * body_html() without the markup: control characters dropped, CR LF and
 * CR as LF, no line breaks at either end, at most one blank line in a
 * row.  New string.
 */
static char *
body_plain(const char *src, size_t n)
{
	const unsigned char	*u = (const unsigned char *)src;
	char			*out, *o;
	size_t			 i, k, nl;

	if ((out = malloc(n + 1)) == NULL)
		return NULL;
	o = out;
	while (n > 0 && (u[n - 1] == '\n' || u[n - 1] == '\r' ||
	    u[n - 1] == ' '))
		n--;
	i = 0;
	while (i < n && (u[i] == '\n' || u[i] == '\r'))
		i++;
	while (i < n) {
		if (u[i] == '\n' || u[i] == '\r') {
			for (nl = 0; i < n && (u[i] == '\n' || u[i] == '\r');
			    i++)
				nl += u[i] == '\n' || (u[i] == '\r' &&
				    (i + 1 == n || u[i + 1] != '\n'));
			*o++ = '\n';
			if (nl >= 2)
				*o++ = '\n';
			continue;
		}
		if ((k = body_ctl(u + i, n - i)) > 0) {
			i += k;
			continue;
		}
		*o++ = (char)u[i++];
	}
	*o = '\0';
	return out;
}

/*
 * How many source bytes from off go into one piece whose HTML must fit
 * room bytes.  Cuts prefer, in the last half of what fits, a paragraph
 * break, then a line break, then the end of a sentence, then a space;
 * never inside a UTF-8 sequence.  The text is cut in order and nothing
 * is lost: the pieces put together are the text.
 */
static size_t
body_cut(const char *src, size_t off, size_t len, size_t room)
{
	const unsigned char	*u = (const unsigned char *)src + off;
	size_t			 n = len - off, i, acc = 7, c;
	size_t			 para = 0, line = 0, sent = 0, space = 0;

	for (i = 0; i < n; i++) {
		c = body_cost(u[i]);
		if (acc + c > room)
			break;
		acc += c;
		if (u[i] == '\n' && i > 0 && u[i - 1] == '\n')
			para = i + 1;
		else if (u[i] == '\n')
			line = i + 1;
		else if (u[i] == ' ' && i > 0 && (u[i - 1] == '.' ||
		    u[i - 1] == '!' || u[i - 1] == '?'))
			sent = i + 1;
		else if (u[i] == ' ')
			space = i + 1;
	}
	if (i == n)
		return n;
	if (para > i / 2)
		return para;
	if (line > i / 2)
		return line;
	if (sent > i / 2)
		return sent;
	if (space > i / 2)
		return space;
	while (i > 0 && (u[i] & 0xc0) == 0x80)
		i--;
	return i > 0 ? i : 1;
}

json_t *
body_pieces(const struct record *r, size_t max, const char *key,
    const char *marker)
{
	size_t		 room, len, cut, off, n, total, refl;
	char		*text = NULL, *html = NULL, *ekey = NULL, *piece, tok[64];
	json_t		*a, *s;
	const char	*src;
	bool		 reply = r->type == REC_REPLY, plain;

	if ((a = json_array()) == NULL)
		return NULL;
	if (r->type == REC_CALL) {
		size_t sl = strlen(r->summary), tl = r->transcript ?
		    strlen(r->transcript) : 0;

		if ((text = malloc(sl + tl + 32)) == NULL)
			goto fail;
		snprintf(text, sl + tl + 32, "%s%s%s", r->summary,
		    r->transcript ? "\n\nTranscript:\n" : "",
		    r->transcript ? r->transcript : "");
		src = text;
	} else
		src = r->body;
	len = strlen(src);
	if (max < 1024)
		max = 1024;
	/* The reference line is a paragraph of its own:
	 * "<p>(transcript continued) ref <key> <token></p>".  A public
	 * reply carries none: the customer sees only what was written. */
	if ((ekey = body_html(key, strlen(key))) == NULL)
		goto fail;
	refl = reply ? 0 : strlen(ekey) + strlen(marker) + 48;
	room = max > refl + 256 ? max - refl : 256;
	total = len / (room / 6 > 0 ? room / 6 : 1) + 1;
	for (off = 0, n = 0; off < len || n == 0; n++) {
		cut = len > off ? body_cut(src, off, len, room) : 0;
		body_token(marker, n, tok, sizeof(tok));
		/* The first piece of a call opens its conversation: plain
		 * text there, HTML in notes and replies. */
		plain = n == 0 && r->type == REC_CALL &&
		    r->conversation_id == NULL;
		if ((html = plain ? body_plain(src + off, cut) :
		    body_html(src + off, cut)) == NULL)
			goto fail;
		if (plain) {
			if (asprintf(&piece, "%s\n\nref %s %s", html, key,
			    tok) == -1)
				goto fail;
			free(html);
			html = NULL;
		} else if (reply)
			piece = html, html = NULL;
		else {
			/* ekey is "<p>key</p>": the key's text is inside. */
			if (asprintf(&piece, "%s<p>%sref %.*s %s</p>", html,
			    n > 0 ? "(transcript continued) " : "",
			    (int)(strlen(ekey) - 7), ekey + 3, tok) == -1)
				goto fail;
			free(html);
			html = NULL;
		}
		s = json_string(piece);
		free(piece);
		if (s == NULL || json_array_append_new(a, s) == -1)
			goto fail;
		off += cut;
		if (n > total + 2)
			break;
	}
	free(ekey);
	free(text);
	return a;
fail:
	free(html);
	free(ekey);
	free(text);
	json_decref(a);
	return NULL;
}

json_t *
body_tag_names(const struct conf_ws *cw, const struct record *r)
{
	json_t		*a, *t;
	size_t		 i, k;
	const char	*names[CONF_MAX_LIST + REC_MAX_TAGS + 1];
	size_t		 n = 0;
	int		 dup;

	if ((a = json_array()) == NULL)
		return NULL;
	for (i = 0; i < cw->ndefault_tags; i++)
		names[n++] = cw->default_tags[i];
	for (i = 0; i < r->ntags; i++)
		names[n++] = r->tags[i];
	if (r->category != NULL && r->category[0] != '\0')
		names[n++] = r->category;
	for (i = 0; i < n; i++) {
		dup = 0;
		json_array_foreach(a, k, t)
			if (strcasecmp(json_string_value(t), names[i]) == 0)
				dup = 1;
		if (!dup && json_array_append_new(a,
		    json_string(names[i])) == -1) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

void
body_step_name(char *out, size_t sz, const char *prefix, const char *name)
{
	size_t	 i, p;

	p = (size_t)snprintf(out, sz, "%s", prefix);
	for (i = 0; name[i] != '\0' && p + 1 < sz; i++)
		out[p++] = (char)tolower((unsigned char)name[i]);
	out[p < sz ? p : sz - 1] = '\0';
}
