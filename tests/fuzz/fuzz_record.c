/*
 * fuzz_record: record_parse on arbitrary bytes.  The payload is copied
 * into a NUL-terminated buffer, as the worker reads it from SQLite.  On
 * success the record must be self-consistent: a lane, a key, a phone that
 * is E.164, and a repair of the bytes (bytes.h) can be described; on
 * failure a reason and a one-line message in our words (never jansson's
 * "near '...'", which quotes the payload).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static char	 region[] = "US";
static char	 attr1[] = "plan_interest", attr2[] = "callback_requested";
static const struct conf_ws ws = {
	.default_region = region,
	.allowed_attributes = { attr1, attr2 },
	.nallowed_attributes = 2,
	.allow_public_replies = true,
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct record	 r;
	struct rec_err	 e;
	char		*p, lane[512], note[300];

	if ((p = malloc(size + 1)) == NULL)
		return 0;
	memcpy(p, data, size);
	p[size] = '\0';
	if (record_parse(p, &ws, &r, &e) == 0) {
		if (r.key == NULL || r.root == NULL)
			abort();
		if (r.phone[0] != '\0' && r.phone[0] != '+')
			abort();
		record_lane(&r, lane, sizeof(lane));
		if (lane[1] != ':')
			abort();
		(void)record_key_of(r.root);
		bytes_describe(&r.fix, note, sizeof(note));
		if (bytes_fixed(&r.fix) != (note[0] != '\0'))
			abort();
		record_free(&r);
	} else {
		if (e.reason == NULL || strchr(e.message, '\n') != NULL ||
		    r.root != NULL || strstr(e.message, " near ") != NULL)
			abort();
	}
	free(p);
	return 0;
}
