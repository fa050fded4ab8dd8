/*
 * t_body: the pure body builders (worker/core/body.c): HTML bodies, splitting
 * a transcript into pieces under max_body (measured on the HTML), public
 * replies without internals, the per-piece marker tokens, tag names.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "body.h"
#include "intercom.h"

static void
t_token(void **state)
{
	char	 tok[64];

	(void)state;
	body_token("cs0123456789abcdef", 0, tok, sizeof(tok));
	assert_string_equal(tok, "cs0123456789abcdef");
	body_token("cs0123456789abcdef", 1, tok, sizeof(tok));
	assert_string_equal(tok, "cs0123456789abcdefn2");
	body_token("cs0123456789abcdef", 9, tok, sizeof(tok));
	assert_string_equal(tok, "cs0123456789abcdefn10");
}

/* A short call is one piece: summary, transcript, reference line, as
 * plain text (POST /conversations takes no HTML). */
static void
t_one_piece(void **state)
{
	struct record	 r;
	json_t		*a;

	(void)state;
	memset(&r, 0, sizeof(r));
	r.type = REC_CALL;
	r.summary = "Asked about invoices";
	r.transcript = "hello\nbye";
	a = body_pieces(&r, 16384, "k1", "csaaaa");
	assert_non_null(a);
	assert_int_equal(json_array_size(a), 1);
	assert_string_equal(json_string_value(json_array_get(a, 0)),
	    "Asked about invoices\n\nTranscript:\nhello\nbye\n\n"
	    "ref k1 csaaaa");
	json_decref(a);
}

/* Text back from a piece's HTML, newlines and markup left out. */
static size_t
unhtml(const char *p, size_t n, char *out)
{
	size_t	 i, o = 0;

	for (i = 0; i < n; i++) {
		if (p[i] == '<') {
			while (i < n && p[i] != '>')
				i++;
			continue;
		}
		if (p[i] != '\n')
			out[o++] = p[i];
	}
	return o;
}

/* A long transcript: every piece fits (as HTML), tokens are in order,
 * and the pieces put back together give the whole text, in order,
 * nothing lost. */
static void
t_split(void **state)
{
	struct record	 r;
	json_t		*a;
	char		*t, *whole, *flat, tok[64], tail[128];
	size_t		 i, n, off = 0, len, k, nf = 0;
	const char	*p, *ref;

	(void)state;
	memset(&r, 0, sizeof(r));
	r.type = REC_CALL;
	r.summary = "S";
	n = 5000;
	t = malloc(n + 1);
	assert_non_null(t);
	for (i = 0; i < n; i++)
		t[i] = (i % 61 == 60) ? '\n' : (char)('a' + i % 26);
	t[n] = '\0';
	r.transcript = t;
	a = body_pieces(&r, 1024, "key-7", "csbeef");
	assert_non_null(a);
	assert_true(json_array_size(a) >= 5);
	whole = calloc(1, n + 64);
	flat = calloc(1, n + 64);
	assert_non_null(whole);
	assert_non_null(flat);
	for (i = 0; i < json_array_size(a); i++) {
		p = json_string_value(json_array_get(a, i));
		assert_true(strlen(p) <= 1024);
		body_token("csbeef", i, tok, sizeof(tok));
		snprintf(tail, sizeof(tail), i > 0 ? "ref key-7 %s</p>" :
		    "ref key-7 %s", tok);
		len = strlen(p);
		assert_true(len > strlen(tail));
		assert_string_equal(p + len - strlen(tail), tail);
		/* Whole lines only: a cut is at a line break. */
		assert_null(strstr(p, "<br></p>"));
		ref = i > 0 ? strstr(p, "<p>(transcript continued) ref ") :
		    strstr(p, "\n\nref ");
		assert_non_null(ref);
		off += unhtml(p, (size_t)(ref - p), whole + off);
	}
	assert_int_equal(strncmp(whole, "STranscript:", 12), 0);
	for (k = 0; k < n; k++)
		if (t[k] != '\n')
			flat[nf++] = t[k];
	assert_int_equal(off, nf + 12);
	assert_memory_equal(whole + 12, flat, nf);
	free(whole);
	free(flat);
	free(t);
	json_decref(a);
}

/* A call's first piece: plain text, markup left as typed, paragraphs
 * and line breaks kept, control characters from a speech engine
 * dropped.  A note's: HTML, escaped, the key in the reference line
 * escaped. */
static void
t_html(void **state)
{
	struct record	 r;
	json_t		*a;

	(void)state;
	memset(&r, 0, sizeof(r));
	r.type = REC_CALL;
	r.summary = "Refund <5 USD> & \"soon\"\x07\n\nSecond\x1b[0m para\r\n";
	r.transcript = "agent: hi\ncaller: a<b\n";
	a = body_pieces(&r, 16384, "k&1", "csaaaa");
	assert_non_null(a);
	assert_int_equal(json_array_size(a), 1);
	assert_string_equal(json_string_value(json_array_get(a, 0)),
	    "Refund <5 USD> & \"soon\"\n\nSecond[0m para\n\nTranscript:\n"
	    "agent: hi\ncaller: a<b\n\nref k&1 csaaaa");
	json_decref(a);
	r.type = REC_NOTE;
	r.body = "Refund <5 USD> & \"soon\"\x07\n\nSecond\x1b[0m para\r\n"
	    "agent: hi\ncaller: a<b\n";
	a = body_pieces(&r, 16384, "k&1", "csaaaa");
	assert_non_null(a);
	assert_string_equal(json_string_value(json_array_get(a, 0)),
	    "<p>Refund &lt;5 USD&gt; &amp; &quot;soon&quot;</p>"
	    "<p>Second[0m para<br>agent: hi<br>"
	    "caller: a&lt;b</p><p>ref k&amp;1 csaaaa</p>");
	json_decref(a);
}

/* A public reply: every piece is the text only (no key, no marker),
 * cut at sentence ends, and the pieces together are the whole reply. */
static void
t_reply(void **state)
{
	struct record	 r;
	json_t		*a;
	char		*t, *whole;
	size_t		 i, n = 3600, off = 0, len;
	const char	*p, *s = "Your refund was approved. ";

	(void)state;
	memset(&r, 0, sizeof(r));
	r.type = REC_REPLY;
	t = malloc(n + 1);
	whole = calloc(1, n + 64);
	assert_non_null(t);
	assert_non_null(whole);
	for (i = 0; i < n; i++)
		t[i] = s[i % strlen(s)];
	t[n] = '\0';
	r.body = t;
	a = body_pieces(&r, 1024, "key-7", "csbeef");
	assert_non_null(a);
	assert_true(json_array_size(a) >= 4);
	for (i = 0; i < json_array_size(a); i++) {
		p = json_string_value(json_array_get(a, i));
		len = strlen(p);
		assert_true(len <= 1024);
		assert_null(strstr(p, "csbeef"));
		assert_null(strstr(p, "key-7"));
		assert_int_equal(strncmp(p, "<p>", 3), 0);
		assert_string_equal(p + len - 4, "</p>");
		if (i + 1 < json_array_size(a))
			assert_string_equal(p + len - 5, ".</p>");
		memcpy(whole + off, p + 3, len - 7);
		off += len - 7;
		if (i + 1 < json_array_size(a))
			whole[off++] = ' ';
	}
	/* Only the trailing space of the text is not rendered. */
	assert_int_equal(off, n - 1);
	assert_memory_equal(whole, t, n - 1);
	free(whole);
	free(t);
	json_decref(a);
}

/* Marker reconciliation reads the HTML bodies Intercom stores: each
 * piece's token is found as a word, and only that piece's. */
static void
t_marker_html(void **state)
{
	struct record	 r;
	json_t		*a, *conv;
	char		*t;
	size_t		 i, n = 4000;

	(void)state;
	memset(&r, 0, sizeof(r));
	r.type = REC_CALL;
	r.summary = "S";
	t = malloc(n + 1);
	assert_non_null(t);
	for (i = 0; i < n; i++)
		t[i] = i % 50 == 49 ? '\n' : 'x';
	t[n] = '\0';
	r.transcript = t;
	a = body_pieces(&r, 1024, "k", "cs00ff");
	assert_non_null(a);
	assert_true(json_array_size(a) >= 3);
	conv = json_pack("{s:{s:O},s:{s:[{s:O}]}}", "source", "body",
	    json_array_get(a, 0), "conversation_parts", "conversation_parts",
	    "body", json_array_get(a, 1));
	assert_non_null(conv);
	assert_true(ic_conv_has_marker(conv, "cs00ff"));
	assert_true(ic_conv_has_marker(conv, "cs00ffn2"));
	assert_false(ic_conv_has_marker(conv, "cs00ffn3"));
	json_decref(conv);
	json_decref(a);
	free(t);
}

/* The text of a body, as reply reconciliation compares it. */
static void
t_text_norm(void **state)
{
	char	*a, *b;

	(void)state;
	a = ic_text_norm("<p>Thanks, we have &quot;booked&quot; you<br>for "
	    "Monday &amp; Tuesday.</p>");
	b = ic_text_norm("<p class=\"no-margin\">Thanks, we have \"booked\" "
	    "you<br/>for  Monday &amp; Tuesday.</p>\n");
	assert_non_null(a);
	assert_non_null(b);
	assert_string_equal(a, "Thanks, we have \"booked\" you for Monday & "
	    "Tuesday.");
	assert_string_equal(a, b);
	free(a);
	free(b);
	a = ic_text_norm("<p>a &lt;b&gt; &#39;c&#39; &nbsp; d</p><p>e</p>");
	assert_string_equal(a, "a <b> 'c' d e");
	free(a);
	a = ic_text_norm("");
	assert_string_equal(a, "");
	free(a);
}

/* A split never cuts a UTF-8 sequence. */
static void
t_utf8(void **state)
{
	struct record	 r;
	json_t		*a;
	char		*t;
	size_t		 i, n = 3000;
	const char	*p;

	(void)state;
	memset(&r, 0, sizeof(r));
	r.type = REC_NOTE;
	t = malloc(n * 2 + 1);
	assert_non_null(t);
	for (i = 0; i < n; i++)
		memcpy(t + 2 * i, "\xc3\xa9", 2);	/* é */
	t[2 * n] = '\0';
	r.body = t;
	a = body_pieces(&r, 1024, "k", "cs1");
	assert_non_null(a);
	for (i = 0; i < json_array_size(a); i++) {
		p = json_string_value(json_array_get(a, i));
		/* jansson refuses invalid UTF-8: a cut sequence gives NULL. */
		assert_non_null(p);
		assert_int_equal((unsigned char)p[3], 0xc3);
	}
	json_decref(a);
	free(t);
}

static void
t_tags(void **state)
{
	struct conf_ws	 cw;
	struct record	 r;
	json_t		*a;
	char		 step[64];

	(void)state;
	memset(&cw, 0, sizeof(cw));
	memset(&r, 0, sizeof(r));
	cw.default_tags[0] = (char *)"voice-ai";
	cw.ndefault_tags = 1;
	r.tags[0] = "VIP";
	r.tags[1] = "Voice-AI";
	r.ntags = 2;
	r.category = "vip";
	a = body_tag_names(&cw, &r);
	assert_non_null(a);
	assert_int_equal(json_array_size(a), 2);
	assert_string_equal(json_string_value(json_array_get(a, 0)), "voice-ai");
	assert_string_equal(json_string_value(json_array_get(a, 1)), "VIP");
	json_decref(a);
	body_step_name(step, sizeof(step), "tag:", "VIP Caller");
	assert_string_equal(step, "tag:vip caller");
	body_step_name(step, 8, "tag:", "ABCDEFG");
	assert_string_equal(step, "tag:abc");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_token),
		cmocka_unit_test(t_one_piece),
		cmocka_unit_test(t_split),
		cmocka_unit_test(t_text_norm),
		cmocka_unit_test(t_html),
		cmocka_unit_test(t_reply),
		cmocka_unit_test(t_marker_html),
		cmocka_unit_test(t_utf8),
		cmocka_unit_test(t_tags),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
