/*
 * phone: see phone.h.  Numbers are normalised in two passes.  The first
 * walks the text once, keeping digits and a leading '+', skipping the
 * punctuation people type ("(555) 123-4567", "020.7946.0958", NBSP), and
 * stopping at an extension marker ("x12", "ext. 12", "#12", ";ext=12"),
 * whose digits are dropped: Intercom has no extension field and a search
 * for the number must not depend on it.  Any other letter fails: we do
 * not guess vanity numbers ("1-800-FLOWERS").
 *
 * The second pass decides what the digits mean using a small table of
 * regions: country calling code, trunk prefix, international prefix and
 * the range of national significant number lengths.  The table is
 * deliberately coarse (lengths, not numbering plans): the goal is one
 * canonical key per caller for identity matching, not full validation,
 * which would need libphonenumber's metadata.  A '+' number whose country
 * code is not in the table is accepted if E.164 allows its length.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "phone.h"

#define E164_MAX	15	/* ITU-T E.164: country code + NSN */
#define E164_MIN	7	/* shortest plausible number, any country */
#define DIGITS_MAX	32	/* refuse anything longer before parsing */

struct region {
	const char	*iso;		/* ISO 3166 alpha-2 */
	const char	*cc;		/* country calling code */
	const char	*trunk;		/* national prefix, "" if none */
	const char	*intl;		/* international prefix besides "00" */
	int		 min;		/* national significant number length */
	int		 max;
};

/*
 * Where two regions share a calling code (US/CA, RU/KZ) the first entry
 * is used to interpret "+<cc>" numbers; lengths must agree.
 */
static const struct region regions[] = {
	{ "US", "1",   "1", "011",  10, 10 },
	{ "CA", "1",   "1", "011",  10, 10 },
	{ "PR", "1",   "1", "011",  10, 10 },
	{ "GB", "44",  "0", "00",    9, 10 },
	{ "IE", "353", "0", "00",    7,  9 },
	{ "DE", "49",  "0", "00",    6, 13 },
	{ "FR", "33",  "0", "00",    9,  9 },
	{ "IT", "39",  "",  "00",    6, 11 },	/* keeps its leading 0 */
	{ "ES", "34",  "",  "00",    9,  9 },
	{ "PT", "351", "",  "00",    9,  9 },
	{ "NL", "31",  "0", "00",    9,  9 },
	{ "BE", "32",  "0", "00",    8,  9 },
	{ "LU", "352", "",  "00",    4, 11 },
	{ "CH", "41",  "0", "00",    9,  9 },
	{ "AT", "43",  "0", "00",    4, 13 },
	{ "DK", "45",  "",  "00",    8,  8 },
	{ "NO", "47",  "",  "00",    8,  8 },
	{ "SE", "46",  "0", "00",    7,  9 },
	{ "FI", "358", "0", "00",    5, 12 },
	{ "IS", "354", "",  "00",    7,  7 },
	{ "PL", "48",  "",  "00",    9,  9 },
	{ "CZ", "420", "",  "00",    9,  9 },
	{ "HU", "36",  "06", "00",   8,  9 },
	{ "RO", "40",  "0", "00",    9,  9 },
	{ "GR", "30",  "",  "00",   10, 10 },
	{ "RU", "7",   "8", "810",  10, 10 },
	{ "KZ", "7",   "8", "810",  10, 10 },
	{ "UA", "380", "0", "00",    9,  9 },
	{ "TR", "90",  "0", "00",   10, 10 },
	{ "IL", "972", "0", "00",    8,  9 },
	{ "AE", "971", "0", "00",    8,  9 },
	{ "SA", "966", "0", "00",    8,  9 },
	{ "EG", "20",  "0", "00",    9, 10 },
	{ "ZA", "27",  "0", "00",    9,  9 },
	{ "NG", "234", "0", "009",   8, 10 },
	{ "KE", "254", "0", "000",   9,  9 },
	{ "IN", "91",  "0", "00",   10, 10 },
	{ "CN", "86",  "0", "00",    9, 11 },
	{ "JP", "81",  "0", "010",   9, 10 },
	{ "KR", "82",  "0", "001",   8, 10 },
	{ "HK", "852", "",  "001",   8,  8 },
	{ "SG", "65",  "",  "000",   8,  8 },
	{ "MY", "60",  "0", "00",    8, 10 },
	{ "TH", "66",  "0", "001",   8,  9 },
	{ "ID", "62",  "0", "001",   8, 12 },
	{ "PH", "63",  "0", "00",    8, 10 },
	{ "AU", "61",  "0", "0011",  9,  9 },
	{ "NZ", "64",  "0", "00",    8, 10 },
	{ "BR", "55",  "0", "00",   10, 11 },
	{ "MX", "52",  "",  "00",   10, 10 },	/* trunk prefixes gone in 2019 */
	{ "AR", "54",  "0", "00",   10, 11 },
	{ "CL", "56",  "",  "00",    9,  9 },
	{ "CO", "57",  "",  "00",   10, 10 },
	{ "PE", "51",  "0", "00",    8,  9 },
};
#define NREGIONS	(sizeof(regions) / sizeof(regions[0]))

static const struct region *
region_by_iso(const char *iso)
{
	size_t	 i;

	if (iso == NULL || strlen(iso) != 2)
		return NULL;
	for (i = 0; i < NREGIONS; i++)
		if (toupper((unsigned char)iso[0]) == regions[i].iso[0] &&
		    toupper((unsigned char)iso[1]) == regions[i].iso[1])
			return &regions[i];
	return NULL;
}

/* The region whose calling code prefixes digits, or NULL. */
static const struct region *
region_by_cc(const char *digits)
{
	size_t	 i, n;

	/* Calling codes are prefix-free, so the first match is the one. */
	for (n = 1; n <= 3; n++)
		for (i = 0; i < NREGIONS; i++)
			if (strlen(regions[i].cc) == n &&
			    strncmp(digits, regions[i].cc, n) == 0)
				return &regions[i];
	return NULL;
}

static bool
is_nanp(const struct region *rg)
{
	return strcmp(rg->cc, "1") == 0;
}

static bool
prefixed(const char *s, const char *prefix)
{
	return *prefix != '\0' && strncmp(s, prefix, strlen(prefix)) == 0;
}

/*
 * Length of the punctuation at s that may sit between digits, 0 if none.
 * NBSP (U+00A0), narrow NBSP (U+202F) and figure space (U+2007) come from
 * word processors and web forms.
 */
static size_t
separator_len(const char *s)
{
	const unsigned char *u = (const unsigned char *)s;

	switch (*u) {
	case ' ': case '\t': case '.': case '-': case '(': case ')': case '/':
		return 1;
	case 0xc2:
		return u[1] == 0xa0 ? 2 : 0;
	case 0xe2:
		if (u[1] == 0x80 && (u[2] == 0xaf || u[2] == 0x87))
			return 3;
		return 0;
	}
	return 0;
}

/*
 * Length of the extension marker at s ("x", "ext", "ext.", "extension",
 * "#", ";ext="), 0 if none.  Longest match first.
 */
static size_t
extension_len(const char *s)
{
	static const char *const markers[] = {
		";ext=", "extension", "ext.", "ext", "x", "#",
	};
	size_t	 i, n;

	for (i = 0; i < sizeof(markers) / sizeof(markers[0]); i++) {
		n = strlen(markers[i]);
		if (strncasecmp(s, markers[i], n) == 0)
			return n;
	}
	return 0;
}

/* True if s (after an extension marker) is separators then digits. */
static bool
valid_extension(const char *s)
{
	size_t	 n, ndig = 0;

	while (*s != '\0') {
		if (isdigit((unsigned char)*s)) {
			ndig++;
			s++;
		} else if (*s == ':' || *s == '=') {
			s++;
		} else if ((n = separator_len(s)) > 0) {
			s += n;
		} else
			return false;
	}
	return ndig > 0 && ndig <= 10;
}

static int
failf(char *why, size_t whysz, const char *fmt, const char *arg)
{
	if (why != NULL && whysz > 0)
		snprintf(why, whysz, fmt, arg);
	return -1;
}

/*
 * First pass: the digits of in (at most DIGITS_MAX) into digits, whether
 * it began with '+' into *plus.
 */
static int
extract_digits(const char *in, char *digits, bool *plus, char *why,
    size_t whysz)
{
	const char	*p = in;
	size_t		 n, nd = 0;

	*plus = false;
	while ((n = separator_len(p)) > 0)
		p += n;
	if (strncasecmp(p, "tel:", 4) == 0)
		p += 4;
	while (*p != '\0') {
		if (isdigit((unsigned char)*p)) {
			if (nd == DIGITS_MAX)
				return failf(why, whysz, "%s",
				    "too many digits");
			digits[nd++] = *p++;
		} else if (*p == '+') {
			if (nd > 0 || *plus)
				return failf(why, whysz, "%s",
				    "'+' inside the number");
			*plus = true;
			p++;
		} else if (*plus && nd > 0 && strncmp(p, "(0)", 3) == 0) {
			/* "+44 (0)20 ...": the trunk prefix shown for locals */
			p += 3;
		} else if ((n = separator_len(p)) > 0) {
			p += n;
		} else if ((n = extension_len(p)) > 0) {
			if (nd == 0)
				return failf(why, whysz, "%s",
				    "extension without a number");
			if (!valid_extension(p + n))
				return failf(why, whysz, "%s",
				    "invalid extension");
			break;
		} else if (isalpha((unsigned char)*p)) {
			return failf(why, whysz, "%s", "letters in number");
		} else if ((unsigned char)*p < 0x20 || *p == 0x7f ||
		    (unsigned char)*p >= 0x80) {
			return failf(why, whysz, "%s",
			    "unexpected character in number");
		} else {
			char	 c[2] = { *p, '\0' };

			return failf(why, whysz, "unexpected '%s' in number",
			    c);
		}
	}
	digits[nd] = '\0';
	if (nd == 0)
		return failf(why, whysz, "%s", "no digits");
	return 0;
}

static int
check_length(const struct region *rg, const char *nsn, char *why,
    size_t whysz)
{
	int	 n = (int)strlen(nsn);

	if (n < rg->min)
		return failf(why, whysz, "too few digits for %s", rg->iso);
	if (n > rg->max)
		return failf(why, whysz, "too many digits for %s", rg->iso);
	if (is_nanp(rg) && (nsn[0] == '0' || nsn[0] == '1'))
		return failf(why, whysz, "%s",
		    "area code cannot start with 0 or 1");
	/* Where the trunk prefix is 0, no national number starts with 0. */
	if (rg->trunk[0] == '0' && nsn[0] == '0')
		return failf(why, whysz,
		    "national number cannot start with 0 in %s", rg->iso);
	return 0;
}

int
phone_normalize(const char *in, const char *region, char *out, size_t outsz,
    char *why, size_t whysz)
{
	const struct region	*rg = NULL, *home = NULL;
	char			 digits[DIGITS_MAX + 1];
	const char		*nsn;
	bool			 plus, intl;
	int			 n;

	if (out != NULL && outsz > 0)
		out[0] = '\0';
	if (in == NULL || out == NULL)
		return failf(why, whysz, "%s", "no number");
	if (region != NULL && (home = region_by_iso(region)) == NULL)
		return failf(why, whysz, "unknown region %.8s", region);
	if (extract_digits(in, digits, &plus, why, whysz) == -1)
		return -1;

	intl = plus;
	nsn = digits;
	if (!intl && home != NULL && prefixed(digits, home->intl)) {
		nsn += strlen(home->intl);
		intl = true;
	} else if (!intl && strncmp(digits, "00", 2) == 0) {
		nsn += 2;
		intl = true;
	}

	if (intl) {
		if (*nsn == '\0')
			return failf(why, whysz, "%s", "no country code");
		if (*nsn == '0')
			return failf(why, whysz, "%s",
			    "country code cannot start with 0");
		if ((rg = region_by_cc(nsn)) == NULL) {
			/* Not in our table: E.164 limits only. */
			if (strlen(nsn) < E164_MIN)
				return failf(why, whysz, "%s",
				    "too few digits");
			if (strlen(nsn) > E164_MAX)
				return failf(why, whysz, "%s",
				    "too many digits (E.164 allows 15)");
			n = snprintf(out, outsz, "+%s", nsn);
			goto out_check;
		}
		nsn += strlen(rg->cc);
		/*
		 * "+44 020 ..." is a common slip.  A national number never
		 * starts with 0 where the trunk prefix starts with 0; other
		 * trunks ("8" in RU, "1" in NANP) can start one, so strip
		 * those only when that is what makes the length right.
		 */
		if (prefixed(nsn, rg->trunk) && (rg->trunk[0] == '0' ||
		    ((int)strlen(nsn) > rg->max &&
		    (int)(strlen(nsn) - strlen(rg->trunk)) <= rg->max)))
			nsn += strlen(rg->trunk);
	} else {
		if (home == NULL)
			return failf(why, whysz, "%s",
			    "national number without a region");
		rg = home;
		/*
		 * The trunk prefix is optional: "020 7946 0958", "20 ...".
		 * A leading "8" in RU may be the trunk or the number: the
		 * length decides, as above.
		 */
		if (prefixed(nsn, rg->trunk) && (rg->trunk[0] == '0' ||
		    (int)(strlen(nsn) - strlen(rg->trunk)) >= rg->min))
			nsn += strlen(rg->trunk);
	}
	if (check_length(rg, nsn, why, whysz) == -1)
		return -1;
	if (strlen(rg->cc) + strlen(nsn) > E164_MAX)
		return failf(why, whysz, "%s",
		    "too many digits (E.164 allows 15)");
	n = snprintf(out, outsz, "+%s%s", rg->cc, nsn);
out_check:
	if (n < 0 || (size_t)n >= outsz) {
		if (outsz > 0)
			out[0] = '\0';
		return failf(why, whysz, "%s", "output buffer too small");
	}
	return 0;
}

int
email_normalize(const char *in, char *out, size_t outsz, char *why,
    size_t whysz)
{
	const char	*start, *end, *at = NULL, *p;
	size_t		 len, i;

	if (out != NULL && outsz > 0)
		out[0] = '\0';
	if (in == NULL || out == NULL)
		return failf(why, whysz, "%s", "no address");
	start = in;
	while (*start != '\0' && isspace((unsigned char)*start))
		start++;
	end = start + strlen(start);
	while (end > start && isspace((unsigned char)end[-1]))
		end--;
	len = (size_t)(end - start);
	if (len == 0)
		return failf(why, whysz, "%s", "empty address");
	if (len > 254)
		return failf(why, whysz, "%s", "longer than 254 characters");
	for (p = start; p < end; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return failf(why, whysz, "%s", "control character");
		if (*p == ' ')
			return failf(why, whysz, "%s", "space in address");
		if (*p == '@') {
			if (at != NULL)
				return failf(why, whysz, "%s",
				    "more than one '@'");
			at = p;
		}
	}
	if (at == NULL)
		return failf(why, whysz, "%s", "no '@'");
	if (at == start)
		return failf(why, whysz, "%s", "empty local part");
	if (at - start > 64)
		return failf(why, whysz, "%s",
		    "local part longer than 64 characters");
	if (at + 1 == end)
		return failf(why, whysz, "%s", "empty domain");
	if (at[1] == '.' || end[-1] == '.')
		return failf(why, whysz, "%s",
		    "domain starts or ends with a dot");
	if (memchr(at + 1, '.', (size_t)(end - at - 1)) == NULL)
		return failf(why, whysz, "%s", "domain has no dot");
	for (p = at + 1; p + 1 < end; p++)
		if (p[0] == '.' && p[1] == '.')
			return failf(why, whysz, "%s", "empty domain label");
	if (len >= outsz)
		return failf(why, whysz, "%s", "output buffer too small");
	/* ASCII only: non-ASCII bytes of UTF-8 addresses stay as they are. */
	for (i = 0; i < len; i++)
		out[i] = (char)tolower((unsigned char)start[i]);
	out[len] = '\0';
	return 0;
}

/* Append s to out[*n] unless present; false when out is full. */
static void
variant_add(char out[][32], size_t max, size_t *n, const char *s)
{
	size_t	 i;

	if (*n >= max || strlen(s) >= 32 || *s == '\0')
		return;
	for (i = 0; i < *n; i++)
		if (strcmp(out[i], s) == 0)
			return;
	snprintf(out[*n], 32, "%s", s);
	(*n)++;
}

size_t
phone_variants(const char *e164, const char *region, char out[][32],
    size_t max)
{
	const struct region	*rg, *home;
	char			 buf[32];
	const char		*nsn;
	size_t			 n = 0, i;

	if (e164 == NULL || out == NULL || e164[0] != '+' ||
	    strlen(e164) < 2 || strlen(e164) >= sizeof(buf))
		return 0;
	for (i = 1; e164[i] != '\0'; i++)
		if (!isdigit((unsigned char)e164[i]))
			return 0;
	variant_add(out, max, &n, e164);
	variant_add(out, max, &n, e164 + 1);
	/*
	 * The national form only for the number's own country: a GB number
	 * stored by a US team would have been typed with its country code.
	 */
	if ((rg = region_by_cc(e164 + 1)) == NULL)
		return n;
	home = region_by_iso(region);
	if (home != NULL && strcmp(home->cc, rg->cc) == 0)
		rg = home;
	nsn = e164 + 1 + strlen(rg->cc);
	if (is_nanp(rg)) {
		variant_add(out, max, &n, nsn);	/* NANP: no trunk prefix */
		return n;
	}
	snprintf(buf, sizeof(buf), "%s%s", rg->trunk, nsn);
	variant_add(out, max, &n, buf);
	return n;
}

size_t
phone_formatted(const char *e164, const char *region, char out[][32],
    size_t max)
{
	const struct region	*rg, *home;
	const char		*nsn, *a, *x, *l;
	char			 buf[64];
	size_t			 n = 0, i;

	if (e164 == NULL || out == NULL || e164[0] != '+' ||
	    strlen(e164) < 2 || strlen(e164) >= 32)
		return 0;
	for (i = 1; e164[i] != '\0'; i++)
		if (!isdigit((unsigned char)e164[i]))
			return 0;
	if ((rg = region_by_cc(e164 + 1)) == NULL)
		return 0;
	home = region_by_iso(region);
	if (home != NULL && strcmp(home->cc, rg->cc) == 0)
		rg = home;
	nsn = e164 + 1 + strlen(rg->cc);
	if (is_nanp(rg) && strlen(nsn) == 10) {
		static const char *const fmts[] = { "+1 %.3s-%.3s-%s",
		    "+1 (%.3s) %.3s-%s", "+1 %.3s %.3s %s", "(%.3s) %.3s-%s",
		    "%.3s-%.3s-%s", "%.3s.%.3s.%s", "1-%.3s-%.3s-%s", NULL };

		a = nsn;
		x = nsn + 3;
		l = nsn + 6;
		for (i = 0; fmts[i] != NULL; i++) {
			snprintf(buf, sizeof(buf), fmts[i], a, x, l);
			variant_add(out, max, &n, buf);
		}
		return n;
	}
	snprintf(buf, sizeof(buf), "+%s %s", rg->cc, nsn);
	variant_add(out, max, &n, buf);
	if (rg->trunk[0] != '\0') {
		snprintf(buf, sizeof(buf), "%s%s", rg->trunk, nsn);
		variant_add(out, max, &n, buf);
	}
	return n;
}
