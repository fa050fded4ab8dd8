/*
 * phone: normalise phone numbers to E.164 and emails to their canonical
 * lower-case form.  Pure functions; table-driven tests in tests/unit.
 */
#ifndef CALLSYNC_PHONE_H
#define CALLSYNC_PHONE_H

#include <stddef.h>

/*
 * Normalise in (as a caller would type it: "+1 (555) 123-4567 ext. 89",
 * "0044 20 7946 0958", "020 7946 0958" with region "GB") to E.164 in out
 * ("+15551234567"; extensions dropped).  region is an ISO 3166 alpha-2
 * code used for national numbers.  Returns 0, or -1 with a precise reason
 * in why ("too few digits for GB", "letters in number", ...).
 */
int	 phone_normalize(const char *in, const char *region, char *out,
	    size_t outsz, char *why, size_t whysz);
/*
 * Trim and lower-case an email; -1 with why when it is not plausibly an
 * address (no '@', empty local part or domain, spaces, control chars).
 */
int	 email_normalize(const char *in, char *out, size_t outsz, char *why,
	    size_t whysz);
/*
 * Other forms Intercom may hold for an E.164 number, for search:
 * "+15551234567" -> "15551234567", "(555) 123-4567" style is not produced.
 * Fills up to max forms into out (each outsz bytes); returns the count.
 */
size_t	 phone_variants(const char *e164, const char *region,
	    char out[][32], size_t max);
/*
 * The formatted forms a teammate types into Intercom, for an exact
 * search on the stored string: for a NANP number "+1 415-555-0199",
 * "+1 (415) 555-0199", "+1 415 555 0199", "(415) 555-0199",
 * "415-555-0199", "415.555.0199", "1-415-555-0199"; elsewhere
 * "+<cc> <national number>" and the national number after its trunk
 * prefix.  Fills up to max forms; returns the count.
 */
size_t	 phone_formatted(const char *e164, const char *region,
	    char out[][32], size_t max);

#endif
