/*
 * t_hmac: X-Hub-Signature checks (worker/store/inbox.c).  RFC 2202's HMAC-SHA1
 * vector; either of two secrets (a rotation) signs; a wrong, truncated,
 * non-hex or missing signature, or no secret at all, is refused; the
 * secret file is one secret a line, trimmed, mode 0600 or refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "inbox.h"

#define RFC_KEY		"Jefe"
#define RFC_DATA	"what do ya want for nothing?"
#define RFC_MAC		"sha1=effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"

static void
t_rfc2202(void **state)
{
	char	 out[64];

	(void)state;
	inbox_sign(RFC_KEY, RFC_DATA, strlen(RFC_DATA), out, sizeof(out));
	assert_string_equal(out, RFC_MAC);
}

static void
t_check(void **state)
{
	const char	*one[] = { RFC_KEY };
	const char	*two[] = { "old-secret", RFC_KEY };
	const char	*none[] = { NULL };
	const char	*body = RFC_DATA;
	size_t		 n = strlen(body);
	char		 up[64], bad[64];

	(void)state;
	assert_true(inbox_sig_ok(one, 1, RFC_MAC, body, n));
	assert_true(inbox_sig_ok(two, 2, RFC_MAC, body, n));
	snprintf(up, sizeof(up), "SHA1=EFFCDF6AE5EB2FA2D27416D5F184DF9C259A7C79");
	assert_true(inbox_sig_ok(one, 1, up, body, n));
	snprintf(bad, sizeof(bad), "%s", RFC_MAC);
	bad[10] = bad[10] == '0' ? '1' : '0';
	assert_false(inbox_sig_ok(one, 1, bad, body, n));
	assert_false(inbox_sig_ok(one, 1, "sha1=effcdf6ae5eb2fa2d274", body,
	    n));
	assert_false(inbox_sig_ok(one, 1, RFC_MAC "00", body, n));
	assert_false(inbox_sig_ok(one, 1, "effcdf6ae5eb2fa2d27416d5f184df9c"
	    "259a7c79", body, n));
	assert_false(inbox_sig_ok(one, 1, "sha1=zzcdf6ae5eb2fa2d27416d5f184df"
	    "9c259a7c79", body, n));
	assert_false(inbox_sig_ok(one, 1, NULL, body, n));
	assert_false(inbox_sig_ok(none, 1, RFC_MAC, body, n));
	assert_false(inbox_sig_ok(one, 0, RFC_MAC, body, n));
	/* One byte more of body. */
	assert_false(inbox_sig_ok(one, 1, RFC_MAC, "what do ya want for "
	    "nothing?!", n + 1));
	/* The old secret alone does not sign it. */
	assert_false(inbox_sig_ok(two, 1, RFC_MAC, body, n));
}

static void
t_secret_file(void **state)
{
	char	 dir[] = "/tmp/t_hmac.XXXXXX", path[128], why[256];
	char	*s[INBOX_MAX_SECRETS];
	FILE	*f;
	int	 n;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/secret", dir);
	assert_non_null(f = fopen(path, "w"));
	fputs("\n  new-secret  \n\nold-secret\nthird\n", f);
	fclose(f);
	chmod(path, 0644);
	assert_int_equal(inbox_read_secrets(path, s, INBOX_MAX_SECRETS, why,
	    sizeof(why)), -1);
	assert_non_null(strstr(why, "chmod 600"));
	assert_null(strstr(why, "new-secret"));
	chmod(path, 0600);
	n = inbox_read_secrets(path, s, INBOX_MAX_SECRETS, why, sizeof(why));
	assert_int_equal(n, 2);
	assert_string_equal(s[0], "new-secret");
	assert_string_equal(s[1], "old-secret");
	free(s[0]);
	free(s[1]);
	assert_non_null(f = fopen(path, "w"));
	fputs(" \n\t\n", f);
	fclose(f);
	assert_int_equal(inbox_read_secrets(path, s, INBOX_MAX_SECRETS, why,
	    sizeof(why)), -1);
	unlink(path);
	assert_int_equal(inbox_read_secrets(path, s, INBOX_MAX_SECRETS, why,
	    sizeof(why)), -1);
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_rfc2202),
		cmocka_unit_test(t_check),
		cmocka_unit_test(t_secret_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
