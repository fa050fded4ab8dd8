/*
 * body: see body.h.
 */
#include <ctype.h>
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

/* Where to cut src (len bytes from off) to fit room bytes. */
static size_t
body_cut(const char *src, size_t off, size_t len, size_t room)
{
	size_t	 cut = len - off, k;

	if (cut <= room)
		return cut;
	cut = room;
	/* Prefer a line break, never split a UTF-8 sequence. */
	for (k = cut; k > room / 2; k--)
		if (src[off + k] == '\n')
			break;
	if (k > room / 2)
		cut = k;
	while (cut > 0 && ((unsigned char)src[off + cut] & 0xc0) == 0x80)
		cut--;
	return cut;
}

json_t *
body_pieces(const struct record *r, size_t max, const char *key,
    const char *marker)
{
	size_t		 room, len, cut, off, n, total;
	char		*text = NULL, *piece, tok[64];
	json_t		*a, *s;
	const char	*src;

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
	/* Room for "\n\n(transcript continued) ref <key> <token>". */
	if (max < 1024)
		max = 1024;
	room = max - 64 - strlen(key) - strlen(marker);
	if (strlen(key) + 200 > max)
		room = max / 2;
	total = len / room + 1;
	for (off = 0, n = 0; off < len || n == 0; n++) {
		cut = body_cut(src, off, len, room);
		body_token(marker, n, tok, sizeof(tok));
		if (asprintf(&piece, "%.*s\n\n%sref %s %s", (int)cut, src + off,
		    n > 0 ? "(transcript continued) " : "", key, tok) == -1)
			goto fail;
		s = json_string(piece);
		free(piece);
		if (s == NULL || json_array_append_new(a, s) == -1)
			goto fail;
		off += cut;
		if (n > total + 2)
			break;
	}
	free(text);
	return a;
fail:
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
