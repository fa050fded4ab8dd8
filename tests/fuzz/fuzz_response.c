/*
 * fuzz_response: Intercom answers are untrusted input.  Every helper the
 * worker applies to an answer body or header must survive any bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "intercom.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*s, code[64], msg[256], id[25], buf[32];
	json_t	*o;

	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	/* Headers and messages as text. */
	ic_conflict_id(s, id);
	ic_link_contact(s, id);
	ic_has_word(s, "cs0011223344556677");
	if ((o = ic_parse((const char *)data, size)) != NULL) {
		ic_error(o, code, sizeof(code), msg, sizeof(msg));
		ic_conflict_id(msg, id);
		ic_pick_contact(json_object_get(o, "data"));
		ic_conv_has_marker(o, "cs0011223344556677");
		ic_conv_has_tag(o, "12");
		ic_conv_assignee(o, 't', buf, sizeof(buf));
		ic_id(o, "conversation_id", buf, sizeof(buf));
		json_decref(o);
	}
	free(s);
	return 0;
}
