/*
 * fuzz_jload: the fast JSON reader and writer (worker/jload.c, jdump.c)
 * against jansson, which they stand in for.  jload_fast may give up on
 * anything (the caller then asks jansson), but whatever it accepts
 * jansson must accept too, as the same tree with its members in the
 * same order; and jdump must write any tree exactly as json_dumps with
 * JSON_COMPACT does.  A difference is a crash here.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jdump.h"
#include "jload.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
same_text(json_t *a, json_t *b)
{
	char	*ta = json_dumps(a, JSON_COMPACT | JSON_ENCODE_ANY);
	char	*tb = json_dumps(b, JSON_COMPACT | JSON_ENCODE_ANY);

	if (ta == NULL || tb == NULL || strcmp(ta, tb) != 0)
		abort();
	free(ta);
	free(tb);
}

static void
one(const char *s, size_t n, size_t flags)
{
	json_t	*f, *j;
	char	*d, *t;

	f = jload_fast(s, n, flags);
	j = json_loadb(s, n, flags, NULL);
	if (f != NULL) {
		if (j == NULL || !json_equal(f, j))
			abort();	/* accepted what jansson rejects */
		same_text(f, j);
	}
	if (j != NULL) {
		d = jdump(j);
		t = json_dumps(j, JSON_COMPACT);
		if ((d == NULL) != (t == NULL) ||
		    (d != NULL && strcmp(d, t) != 0))
			abort();
		free(d);
		free(t);
	}
	json_decref(f);
	json_decref(j);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	one((const char *)data, size, 0);
	one((const char *)data, size, JSON_REJECT_DUPLICATES);
	return 0;
}
