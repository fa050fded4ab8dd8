/*
 * t_phone: table-driven tests for phone.c.  Each table row becomes one
 * cmocka test (one TAP line) named after its input, so a failure names
 * the format that broke.  Expected results are written out by hand from
 * the numbering plans, never computed by the code under test.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "phone.h"

struct prow {
	const char	*in;
	const char	*region;
	const char	*want;		/* E.164, or NULL for an error */
	const char	*why;		/* expected reason (substring) */
};

static const struct prow phones[] = {
	/* NANP */
	{ "+1 (555) 123-4567", "US", "+15551234567", NULL },
	{ "+15551234567", "US", "+15551234567", NULL },
	{ "(555) 123-4567", "US", "+15551234567", NULL },
	{ "555-123-4567", "US", "+15551234567", NULL },
	{ "555.123.4567", "US", "+15551234567", NULL },
	{ "5551234567", "US", "+15551234567", NULL },
	{ "1-555-123-4567", "US", "+15551234567", NULL },
	{ "1 (555) 123 4567", "US", "+15551234567", NULL },
	{ "15551234567", "us", "+15551234567", NULL },
	{ "011 44 20 7946 0958", "US", "+442079460958", NULL },
	{ "+1 555 123 4567 ext. 89", "US", "+15551234567", NULL },
	{ "555-123-4567 x123", "US", "+15551234567", NULL },
	{ "555-123-4567 X 12", "US", "+15551234567", NULL },
	{ "555-123-4567 ext 123", "US", "+15551234567", NULL },
	{ "555-123-4567 extension 7", "US", "+15551234567", NULL },
	{ "555-123-4567#123", "US", "+15551234567", NULL },
	{ "tel:+1-555-123-4567;ext=123", "US", "+15551234567", NULL },
	{ "TEL:+15551234567", NULL, "+15551234567", NULL },
	{ "  +1\xc2\xa0" "555\xc2\xa0" "123\xc2\xa0" "4567  ", "US",
	    "+15551234567", NULL },
	{ "+1\xe2\x80\xaf" "555 123 4567", "US", "+15551234567", NULL },
	{ "+1 1 555 123 4567", "US", "+15551234567", NULL },
	{ "416 555 0199", "CA", "+14165550199", NULL },
	{ "1-416-555-0199", "CA", "+14165550199", NULL },
	{ "555-1234", "US", NULL, "too few digits for US" },
	{ "555 123 45678", "US", NULL, "too many digits for US" },
	{ "055 123 4567", "US", NULL, "area code cannot start with 0 or 1" },
	{ "1-800-FLOWERS", "US", NULL, "letters in number" },
	{ "555-CALL-NOW", "US", NULL, "letters in number" },
	{ "call me", "US", NULL, "letters in number" },
	{ "+1 555 123 4567 x", "US", NULL, "invalid extension" },
	{ "555 123 4567 ext abc", "US", NULL, "invalid extension" },
	{ "555+1234567", "US", NULL, "'+' inside the number" },
	{ "++15551234567", "US", NULL, "'+' inside the number" },
	{ "555_123_4567", "US", NULL, "unexpected '_' in number" },
	{ "555\t123\x01" "4567", "US", NULL, "unexpected character" },
	{ "", "US", NULL, "no digits" },
	{ "   ", "US", NULL, "no digits" },
	{ "()-.", "US", NULL, "no digits" },
	{ "+", "US", NULL, "no digits" },
	{ "x123", "US", NULL, "extension without a number" },
	/* United Kingdom */
	{ "020 7946 0958", "GB", "+442079460958", NULL },
	{ "(020) 7946-0958", "GB", "+442079460958", NULL },
	{ "+44 20 7946 0958", "GB", "+442079460958", NULL },
	{ "+44 (0)20 7946 0958", "US", "+442079460958", NULL },
	{ "+44 020 7946 0958", "US", "+442079460958", NULL },
	{ "0044 20 7946 0958", "GB", "+442079460958", NULL },
	{ "0044 20 7946 0958", "DE", "+442079460958", NULL },
	{ "07700 900123", "GB", "+447700900123", NULL },
	{ "7700 900123", "GB", "+447700900123", NULL },
	{ "020 7946", "GB", NULL, "too few digits for GB" },
	{ "020 7946 0958 123", "GB", NULL, "too many digits for GB" },
	{ "+44 20 79", "US", NULL, "too few digits for GB" },
	/* Europe */
	{ "030 123456", "DE", "+4930123456", NULL },
	{ "030/12345678", "DE", "+493012345678", NULL },
	{ "+49 (0)30 1234 5678", "FR", "+493012345678", NULL },
	{ "0171 1234567", "DE", "+491711234567", NULL },
	{ "01 23 45 67 89", "FR", "+33123456789", NULL },
	{ "06.12.34.56.78", "FR", "+33612345678", NULL },
	{ "+33 6 12 34 56 78", "GB", "+33612345678", NULL },
	{ "06 12 34 56", "FR", NULL, "too few digits for FR" },
	{ "06 1234 5678", "IT", "+390612345678", NULL },
	{ "+39 06 1234 5678", "US", "+390612345678", NULL },
	{ "0039 347 123 4567", "DE", "+393471234567", NULL },
	{ "912 345 678", "ES", "+34912345678", NULL },
	{ "020 123 4567", "NL", "+31201234567", NULL },
	{ "044 668 18 00", "CH", "+41446681800", NULL },
	{ "06 1 234 5678", "HU", "+3612345678", NULL },
	{ "8 (812) 123-45-67", "RU", "+78121234567", NULL },
	{ "812 123 4567", "RU", "+78121234567", NULL },
	{ "+7 812 123 45 67", "US", "+78121234567", NULL },
	{ "810 44 20 7946 0958", "RU", "+442079460958", NULL },
	{ "22 123 45 67", "PL", "+48221234567", NULL },
	{ "32 12 34 56", "DK", "+4532123456", NULL },
	{ "061 234 567", "HU", NULL, "too few digits for HU" },
	{ "+44 00 207946095", "US", NULL,
	    "national number cannot start with 0 in GB" },
	/* Asia-Pacific, Americas, Africa */
	{ "(02) 5550 1234", "AU", "+61255501234", NULL },
	{ "0412 345 678", "AU", "+61412345678", NULL },
	{ "0011 44 20 7946 0958", "AU", "+442079460958", NULL },
	{ "09 123 4567", "NZ", "+6491234567", NULL },
	{ "03-1234-5678", "JP", "+81312345678", NULL },
	{ "090-1234-5678", "JP", "+819012345678", NULL },
	{ "010 1 555 123 4567", "JP", "+15551234567", NULL },
	{ "098765 43210", "IN", "+919876543210", NULL },
	{ "6123 4567", "SG", "+6561234567", NULL },
	{ "(11) 91234-5678", "BR", "+5511912345678", NULL },
	{ "(01) 9124-5678", "BR", NULL, "too few digits for BR" },
	{ "55 1234 5678", "MX", "+525512345678", NULL },
	{ "011 555 1234", "ZA", "+27115551234", NULL },
	{ "0803 123 4567", "NG", "+2348031234567", NULL },
	{ "050-123-4567", "IL", "+972501234567", NULL },
	/* '+' numbers outside the table: E.164 bounds only */
	{ "+297 520 1234", "US", "+2975201234", NULL },
	{ "+297 52", "US", NULL, "too few digits" },
	{ "+2975201234567890", "US", NULL, "too many digits (E.164" },
	{ "+0 555 123", "US", NULL, "country code cannot start with 0" },
	{ "00", "GB", NULL, "no country code" },
	{ "+49 30 1234 5678 9012 3456", "US", NULL, "too many digits for DE" },
	{ "123456789012345678901234567890123", "US", NULL, "too many digits" },
	/* regions */
	{ "555 123 4567", "XX", NULL, "unknown region XX" },
	{ "555 123 4567", "USA", NULL, "unknown region USA" },
	{ "555 123 4567", NULL, NULL, "national number without a region" },
};

struct erow {
	const char	*in;
	const char	*want;
	const char	*why;
};

static const struct erow emails[] = {
	{ "ana@example.com", "ana@example.com", NULL },
	{ "  Ana.Lopez@Example.COM \n", "ana.lopez@example.com", NULL },
	{ "\tBOB+calls@sub.example.co.uk", "bob+calls@sub.example.co.uk",
	    NULL },
	{ "x@y.io", "x@y.io", NULL },
	{ "jos\xc3\xa9@example.com", "jos\xc3\xa9@example.com", NULL },
	{ "", NULL, "empty address" },
	{ "   ", NULL, "empty address" },
	{ "ana.example.com", NULL, "no '@'" },
	{ "ana@@example.com", NULL, "more than one '@'" },
	{ "a@b@example.com", NULL, "more than one '@'" },
	{ "@example.com", NULL, "empty local part" },
	{ "ana@", NULL, "empty domain" },
	{ "ana@localhost", NULL, "domain has no dot" },
	{ "ana@.example.com", NULL, "domain starts or ends with a dot" },
	{ "ana@example.com.", NULL, "domain starts or ends with a dot" },
	{ "ana@example..com", NULL, "empty domain label" },
	{ "ana lopez@example.com", NULL, "space in address" },
	{ "ana@exa\x01mple.com", NULL, "control character" },
	{ "ana\x7f@example.com", NULL, "control character" },
	{ "ana@example.com\r\nBcc: x@y.z", NULL, "control character" },
};

static void
phone_row(void **state)
{
	const struct prow	*t = *state;
	char			 out[32], why[128] = "";
	int			 rc;

	rc = phone_normalize(t->in, t->region, out, sizeof(out), why,
	    sizeof(why));
	if (t->want != NULL) {
		if (rc != 0)
			fail_msg("'%s' (%s): unexpected error: %s", t->in,
			    t->region ? t->region : "-", why);
		assert_string_equal(out, t->want);
	} else {
		if (rc != -1)
			fail_msg("'%s' (%s): accepted as %s", t->in,
			    t->region ? t->region : "-", out);
		assert_string_equal(out, "");
		if (strstr(why, t->why) == NULL)
			fail_msg("'%s': reason '%s', want '%s'", t->in, why,
			    t->why);
	}
}

static void
email_row(void **state)
{
	const struct erow	*t = *state;
	char			 out[256], why[128] = "";
	int			 rc;

	rc = email_normalize(t->in, out, sizeof(out), why, sizeof(why));
	if (t->want != NULL) {
		if (rc != 0)
			fail_msg("'%s': unexpected error: %s", t->in, why);
		assert_string_equal(out, t->want);
	} else {
		if (rc != -1)
			fail_msg("'%s': accepted as %s", t->in, out);
		assert_string_equal(why, t->why);
	}
}

static void
email_too_long(void **state)
{
	char	 in[300], out[300], why[128];

	(void)state;
	memset(in, 'a', 250);
	memcpy(in + 240, "@example.com", sizeof("@example.com"));
	assert_int_equal(strlen(in), 252);
	assert_int_equal(email_normalize(in, out, sizeof(out), why,
	    sizeof(why)), -1);	/* local part is 240 > 64 */
	assert_string_equal(why, "local part longer than 64 characters");

	memset(in, 'a', sizeof(in));
	in[0] = 'b';
	in[1] = '@';
	memcpy(in + 255 - 4, ".com", 5);	/* 255 characters */
	assert_int_equal(email_normalize(in, out, sizeof(out), why,
	    sizeof(why)), -1);
	assert_string_equal(why, "longer than 254 characters");
	in[1] = 'c';
	in[2] = '@';
	memcpy(in + 254 - 4, ".com", 5);	/* 254: the limit */
	assert_int_equal(email_normalize(in, out, sizeof(out), why,
	    sizeof(why)), 0);
	assert_int_equal(strlen(out), 254);
}

static void
small_buffers(void **state)
{
	char	 out[8], why[128];

	(void)state;
	assert_int_equal(phone_normalize("+15551234567", "US", out,
	    sizeof(out), why, sizeof(why)), -1);
	assert_string_equal(why, "output buffer too small");
	assert_string_equal(out, "");
	assert_int_equal(email_normalize("abcdef@example.com", out,
	    sizeof(out), why, sizeof(why)), -1);
	assert_string_equal(why, "output buffer too small");
	/* why may be NULL: callers that only want a yes/no */
	assert_int_equal(phone_normalize("12", "US", out, sizeof(out),
	    NULL, 0), -1);
	assert_int_equal(phone_normalize(NULL, "US", out, sizeof(out),
	    why, sizeof(why)), -1);
	assert_int_equal(email_normalize(NULL, out, sizeof(out), why,
	    sizeof(why)), -1);
}

static void
variants_gb(void **state)
{
	char	 v[4][32];

	(void)state;
	assert_int_equal(phone_variants("+442079460958", "GB", v, 4), 3);
	assert_string_equal(v[0], "+442079460958");
	assert_string_equal(v[1], "442079460958");
	assert_string_equal(v[2], "02079460958");
}

static void
variants_nanp(void **state)
{
	char	 v[4][32];

	(void)state;
	assert_int_equal(phone_variants("+15551234567", "US", v, 4), 3);
	assert_string_equal(v[0], "+15551234567");
	assert_string_equal(v[1], "15551234567");
	assert_string_equal(v[2], "5551234567");
	/* CA shares +1: same national form */
	assert_int_equal(phone_variants("+14165550199", "CA", v, 4), 3);
	assert_string_equal(v[2], "4165550199");
}

static void
variants_other(void **state)
{
	char	 v[4][32];

	(void)state;
	/* Italy has no trunk prefix: its national form is the NSN. */
	assert_int_equal(phone_variants("+390612345678", "IT", v, 4), 3);
	assert_string_equal(v[2], "0612345678");
	/* A foreign number: national form of its own country. */
	assert_int_equal(phone_variants("+33612345678", "US", v, 4), 3);
	assert_string_equal(v[2], "0612345678");
	/* Not in the table: no national form. */
	assert_int_equal(phone_variants("+2975201234", "US", v, 4), 2);
	/* max is honoured, and dedup keeps the count honest. */
	assert_int_equal(phone_variants("+442079460958", "GB", v, 1), 1);
	assert_string_equal(v[0], "+442079460958");
	assert_int_equal(phone_variants("+39", "IT", v, 4), 2);
	/* Not E.164: nothing. */
	assert_int_equal(phone_variants("442079460958", "GB", v, 4), 0);
	assert_int_equal(phone_variants("+44 20", "GB", v, 4), 0);
	assert_int_equal(phone_variants("+", "GB", v, 4), 0);
	assert_int_equal(phone_variants(NULL, "GB", v, 4), 0);
}

/* The forms a teammate types, each normalising back to the number. */
static void
formatted(void **state)
{
	char	 v[8][32], e[32], why[128];
	size_t	 n, i;

	(void)state;
	n = phone_formatted("+14155550199", "US", v, 8);
	assert_int_equal(n, 7);
	assert_string_equal(v[0], "+1 415-555-0199");
	assert_string_equal(v[3], "(415) 555-0199");
	for (i = 0; i < n; i++) {
		assert_int_equal(phone_normalize(v[i], "US", e, sizeof(e), why,
		    sizeof(why)), 0);
		assert_string_equal(e, "+14155550199");
	}
	assert_int_equal(phone_formatted("+442079460958", "GB", v, 8), 2);
	assert_string_equal(v[0], "+44 2079460958");
	assert_string_equal(v[1], "02079460958");
	assert_int_equal(phone_formatted("+14155550199", "US", v, 2), 2);
	assert_int_equal(phone_formatted("+2975201234", "US", v, 8), 0);
	assert_int_equal(phone_formatted("4155550199", "US", v, 8), 0);
}

/* Whatever phone_normalize accepts, it accepts again unchanged. */
static void
idempotent(void **state)
{
	char	 a[32], b[32], why[128];
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(phones) / sizeof(phones[0]); i++) {
		if (phones[i].want == NULL)
			continue;
		assert_int_equal(phone_normalize(phones[i].in,
		    phones[i].region, a, sizeof(a), why, sizeof(why)), 0);
		assert_int_equal(phone_normalize(a, "GB", b, sizeof(b), why,
		    sizeof(why)), 0);
		assert_string_equal(a, b);
	}
}

int
main(void)
{
	static const struct CMUnitTest fixed[] = {
		cmocka_unit_test(email_too_long),
		cmocka_unit_test(small_buffers),
		cmocka_unit_test(variants_gb),
		cmocka_unit_test(variants_nanp),
		cmocka_unit_test(variants_other),
		cmocka_unit_test(formatted),
		cmocka_unit_test(idempotent),
	};
	size_t		 np = sizeof(phones) / sizeof(phones[0]);
	size_t		 ne = sizeof(emails) / sizeof(emails[0]);
	size_t		 nf = sizeof(fixed) / sizeof(fixed[0]);
	size_t		 n = 0, i;
	struct CMUnitTest *tests;
	char		(*names)[96];
	int		 rc;

	tests = calloc(np + ne + nf, sizeof(*tests));
	names = calloc(np + ne, sizeof(*names));
	if (tests == NULL || names == NULL)
		return 1;
	for (i = 0; i < np; i++, n++) {
		snprintf(names[n], sizeof(names[n]), "phone '%s' %s",
		    phones[i].in, phones[i].region ? phones[i].region : "-");
		tests[n].name = names[n];
		tests[n].test_func = phone_row;
		tests[n].initial_state = (void *)&phones[i];
	}
	for (i = 0; i < ne; i++, n++) {
		snprintf(names[n], sizeof(names[n]), "email '%s'",
		    emails[i].in);
		tests[n].name = names[n];
		tests[n].test_func = email_row;
		tests[n].initial_state = (void *)&emails[i];
	}
	/* Names reach TAP output: keep control bytes out of it. */
	for (i = 0; i < n; i++) {
		char	*c;

		for (c = names[i]; *c != '\0'; c++)
			if ((unsigned char)*c < 0x20 ||
			    (unsigned char)*c >= 0x7f)
				*c = '?';
	}
	for (i = 0; i < nf; i++)
		tests[n++] = fixed[i];
	rc = _cmocka_run_group_tests("phone", tests, n, NULL, NULL);
	free(tests);
	free(names);
	return rc;
}
