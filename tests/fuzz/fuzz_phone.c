/*
 * fuzz_phone: phone_normalize, email_normalize and phone_variants on
 * arbitrary text.  The first two bytes pick a region from a list, so the
 * region-specific paths (trunk and international prefixes) get explored.
 * Properties: output is E.164 ('+' and at most 15 digits), normalising
 * twice gives the same result, and variants are distinct.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "phone.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const char *const regions[] = {
	"US", "CA", "GB", "DE", "FR", "IT", "RU", "HU", "JP", "AU", "IN",
	"BR", "SG", "KE", "XX", "", "gb",
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*region;
	char		*in, out[32], again[32], why[128];
	char		 email[256], email2[256];
	char		 v[4][32];
	size_t		 i, j, n;

	if (size < 1)
		return 0;
	region = regions[data[0] % (sizeof(regions) / sizeof(regions[0]))];
	if ((in = malloc(size)) == NULL)
		return 0;
	memcpy(in, data + 1, size - 1);
	in[size - 1] = '\0';

	if (phone_normalize(in, region, out, sizeof(out), why,
	    sizeof(why)) == 0) {
		if (out[0] != '+' || strlen(out) > 16 || strlen(out) < 2)
			abort();
		for (i = 1; out[i] != '\0'; i++)
			if (!isdigit((unsigned char)out[i]))
				abort();
		if (phone_normalize(out, region, again, sizeof(again), why,
		    sizeof(why)) != 0 || strcmp(out, again) != 0)
			abort();
		n = phone_variants(out, region, v, 4);
		if (n < 2 || strcmp(v[0], out) != 0)
			abort();
		for (i = 0; i < n; i++)
			for (j = i + 1; j < n; j++)
				if (strcmp(v[i], v[j]) == 0)
					abort();
	} else if (why[0] == '\0' || out[0] != '\0')
		abort();
	(void)phone_variants(in, region, v, 4);

	if (email_normalize(in, email, sizeof(email), why,
	    sizeof(why)) == 0) {
		if (strchr(email, '@') == NULL || strlen(email) > 254)
			abort();
		if (email_normalize(email, email2, sizeof(email2), why,
		    sizeof(why)) != 0 || strcmp(email, email2) != 0)
			abort();
	}
	free(in);
	return 0;
}
