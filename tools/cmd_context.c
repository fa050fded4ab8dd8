/*
 * cmd_context: `callsync context --phone P | --email E`, the caller
 * context the worker's local API serves (docs/contract.md section 5).  With a
 * configured [worker] listen, it asks the running worker (GET
 * /v1/context, with the bearer token of listen_token_file when one is
 * set), so the operator sees exactly what a voice agent gets.  When no
 * worker answers there (or with --db alone), it answers from the cache
 * in the database, built by the same code as the worker's cache answers
 * (ctx_cache.c), and says so on stderr.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "clock.h"
#include "ctx_cache.h"
#include "tool.h"

#define CTX_CLI_TIMEOUT_MS	3000	/* the worker answers in < 1 s */
#define CTX_CLI_MAX		(4 * 1024 * 1024)

static const struct tool_cmd context_c = { "context", NULL,
	"context [--json] [--workspace NAME] --phone PHONE | --email EMAIL",
	"Print the caller context of a phone number or email: the Intercom\n"
	"contact, its recent and open conversations, open tickets and company,\n"
	"with where each part came from (live or cache) and how old it is.\n"
	"Asks the running worker on [worker] listen, else answers from the\n"
	"local cache and says so on stderr.  --json prints the answer of GET\n"
	"/v1/context as one JSON object.  Exit 0 on an answer (an unknown\n"
	"caller included), 1 on failure, 2 on usage." };

/* Loopback address to reach listen from this host, "host:port". */
static void
local_url(const char *listen, char *out, size_t outsz)
{
	const char	*colon = strrchr(listen, ':');

	if (strncmp(listen, "0.0.0.0:", 8) == 0)
		snprintf(out, outsz, "http://127.0.0.1%s", colon);
	else if (strncmp(listen, "[::]:", 5) == 0)
		snprintf(out, outsz, "http://[::1]%s", colon);
	else
		snprintf(out, outsz, "http://%s", listen);
}

/*
 * Ask the worker.  New reference to its answer, or NULL: *status 0 when
 * nobody answered (why in err), else the HTTP status of a refusal.
 */
static json_t *
ask_worker(struct conf *c, const char *ws, const char *phone,
    const char *email, long *status, char *err, size_t errsz)
{
	CURL			*h;
	CURLcode		 cc;
	struct curl_slist	*hdr = NULL;
	struct tool_buf		 b = { NULL, 0, CTX_CLI_MAX };
	char			 url[1024], base[300], auth[4200], cerr[256];
	char			*ews = NULL, *eph = NULL, *eem = NULL;
	json_t			*o = NULL;

	*status = 0;
	if ((h = curl_easy_init()) == NULL) {
		snprintf(err, errsz, "cannot start libcurl");
		return NULL;
	}
	ews = curl_easy_escape(h, ws, 0);
	eph = curl_easy_escape(h, phone ? phone : "", 0);
	eem = curl_easy_escape(h, email ? email : "", 0);
	local_url(c->listen, base, sizeof(base));
	snprintf(url, sizeof(url), "%s/v1/context?workspace=%s%s%s%s%s", base,
	    ews ? ews : "", phone ? "&phone=" : "", phone ? eph : "",
	    email ? "&email=" : "", email ? eem : "");
	if (c->listen_token != NULL) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s",
		    c->listen_token);
		hdr = curl_slist_append(hdr, auth);
		explicit_bzero(auth, sizeof(auth));
	}
	cerr[0] = '\0';
	if (curl_easy_setopt(h, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS,
	    (long)CTX_CLI_TIMEOUT_MS) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_NOPROXY, "*") != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, tool_buf_write_cb) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr) != CURLE_OK) {
		snprintf(err, errsz, "cannot set up the request");
		goto out;
	}
	if ((cc = curl_easy_perform(h)) != CURLE_OK) {
		snprintf(err, errsz, "%s", cerr[0] ? cerr :
		    curl_easy_strerror(cc));
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	o = b.p ? json_loads(b.p, 0, NULL) : NULL;
	if (*status != 200) {
		snprintf(err, errsz, "%s", json_string_value(json_object_get(o,
		    "message")) ? json_string_value(json_object_get(o,
		    "message")) : "refused");
		json_decref(o);
		o = NULL;
	} else if (o == NULL) {
		*status = 0;
		snprintf(err, errsz, "unreadable answer");
	}
out:
	curl_free(ews);
	curl_free(eph);
	curl_free(eem);
	curl_slist_free_all(hdr);
	curl_easy_cleanup(h);
	free(b.p);
	return o;
}

static const char *
s_or(json_t *o, const char *k, const char *dflt)
{
	const char	*s = json_string_value(json_object_get(o, k));

	return s != NULL ? s : dflt;
}

/* An attribute whose name says it is a date: *_at, *_date. */
static bool
ctx_date_key(const char *k)
{
	size_t	 n = strlen(k);

	return (n > 3 && strcmp(k + n - 3, "_at") == 0) ||
	    (n > 5 && strcmp(k + n - 5, "_date") == 0);
}

static void
print_text(json_t *a)
{
	json_t		*c = json_object_get(a, "contact"), *v, *x;
	const char	*k;
	size_t		 i;
	char		 tb[64];

	printf("workspace %s: source %s, as of %s%s\n", s_or(a, "workspace",
	    "?"), s_or(a, "source", "?"), s_or(a, "as_of", "?"),
	    json_is_true(json_object_get(a, "stale")) ? " (stale)" : "");
	json_object_foreach(json_object_get(a, "sources"), k, v)
		printf("  %s: %s\n", k, json_string_value(v));
	if (!json_is_object(c)) {
		printf("contact: unknown caller\n");
		return;
	}
	printf("contact %s (%s) %s  %s  %s\n", s_or(c, "id", "?"), s_or(c,
	    "role", "-"), s_or(c, "name", "-"), s_or(c, "phone", "-"),
	    s_or(c, "email", "-"));
	json_array_foreach(json_object_get(c, "tags"), i, v)
		printf("  tag %s\n", s_or(v, "name", s_or(v, "id", "?")));
	json_object_foreach(json_object_get(c, "attributes"), k, v) {
		char *t = json_dumps(v, JSON_ENCODE_ANY);

		/* Date attributes (last_call_at...) are Unix seconds. */
		if (json_is_integer(v) && ctx_date_key(k))
			printf("  %s = %s\n", k, tool_fmt_time(
			    json_integer_value(v), tb, sizeof(tb)));
		else
			printf("  %s = %s\n", k, t ? t : "?");
		free(t);
	}
	json_array_foreach(json_object_get(a, "conversations"), i, v) {
		x = json_object_get(v, "updated_at");
		printf("conversation %s  %s  updated %s  %s\n", s_or(v, "id",
		    "?"), s_or(v, "state", "-"), tool_fmt_time(
		    json_integer_value(x), tb, sizeof(tb)), s_or(v, "snippet",
		    ""));
		if (s_or(v, "link", NULL) != NULL)
			printf("  %s\n", s_or(v, "link", ""));
	}
	json_array_foreach(json_object_get(a, "tickets"), i, v)
		printf("ticket %s  %s  %s  %s\n", s_or(v, "id", "?"), s_or(v,
		    "state", "-"), s_or(v, "type", "-"), s_or(v, "title", ""));
	if (json_is_object(x = json_object_get(a, "company"))) {
		char *sp = json_dumps(json_object_get(x, "monthly_spend"),
		    JSON_ENCODE_ANY);

		printf("company %s  plan %s  monthly spend %s\n", s_or(x,
		    "name", "-"), s_or(x, "plan", "-"), sp ? sp : "-");
		free(sp);
		json_object_foreach(json_object_get(x, "attributes"), k, v) {
			char *t = json_dumps(v, JSON_ENCODE_ANY);

			printf("  %s = %s\n", k, t ? t : "?");
			free(t);
		}
	}
}

int
cmd_context(struct tool *t, int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "email", required_argument, NULL, 'e' },
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ "phone", required_argument, NULL, 'p' },
		{ "workspace", required_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 }
	};
	struct conf_ws	 dflt, *cw;
	const char	*phone = NULL, *email = NULL, *ws = NULL;
	char		 np[32], ne[256], why[256], err[512];
	json_t		*a = NULL;
	long		 status = 0;
	int		 ch, json = 0;

	optind = 0;
	while ((ch = getopt_long(argc, argv, ":hj", lopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			return tool_usage(&context_c, true);
		case 'e':
			email = optarg;
			break;
		case 'j':
			json = 1;
			break;
		case 'p':
			phone = optarg;
			break;
		case 'w':
			ws = optarg;
			break;
		default:
			return tool_badopt(&context_c, argv, ch);
		}
	}
	if (optind != argc || (phone == NULL && email == NULL)) {
		tool_err("context: --phone or --email is required");
		return tool_usage(&context_c, false);
	}
	if (tool_conf(t, false) == -1)
		return TOOL_EXIT_FAIL;
	if (ws == NULL && t->conf != NULL && t->conf->nws > 1) {
		tool_err("context: %zu workspaces are configured: name one "
		    "with --workspace NAME", t->conf->nws);
		return tool_usage(&context_c, false);
	}
	if (ws == NULL)
		ws = tool_default_ws(t);
	if ((cw = tool_ws_conf(t, ws)) == NULL) {
		if (t->conf != NULL) {
			tool_err("context: no [workspace %s] in %s", ws,
			    t->conf_path);
			return TOOL_EXIT_FAIL;
		}
		memset(&dflt, 0, sizeof(dflt));
		dflt.default_region = "US";
		cw = &dflt;
	}
	if (ctx_normalize(cw, phone, email, np, sizeof(np), ne, sizeof(ne),
	    why, sizeof(why)) == -1) {
		tool_err("context: %s", why);
		return TOOL_EXIT_USAGE;
	}
	if (t->conf != NULL && t->conf->listen != NULL &&
	    t->conf->listen[0] != '\0' && t->db_path == NULL) {
		if (conf_load_listen_token(t->conf, err, sizeof(err)) == -1) {
			tool_err("context: %s", err);
			return TOOL_EXIT_FAIL;
		}
		a = ask_worker(t->conf, ws, phone ? np : NULL, email ? ne :
		    NULL, &status, err, sizeof(err));
		if (a == NULL && status != 0) {
			tool_err("context: the worker refused (HTTP %ld): %s",
			    status, err);
			return TOOL_EXIT_FAIL;
		}
		if (a == NULL)
			tool_warn("context: no worker answers on %s (%s); "
			    "answering from the local cache",
			    t->conf->listen, err);
	} else
		tool_warn("context: no [worker] listen to ask; answering "
		    "from the local cache");
	if (a == NULL) {
		if (tool_open(t, 0) == -1)
			return TOOL_EXIT_FAIL;
		a = ctx_from_cache(&t->db, ws, np, ne, clock_wall_s(),
		    t->conf ? t->conf->context_ttl : 300, t->conf ?
		    t->conf->context_max_age : 30 * 86400);
		if (a == NULL) {
			tool_err("context: %s: %s", tool_db_path(t),
			    db_errmsg(&t->db));
			return TOOL_EXIT_FAIL;
		}
	}
	if (json)		/* tool_print_json takes a */
		return tool_print_json(stdout, a) == 0 ? TOOL_EXIT_OK :
		    TOOL_EXIT_FAIL;
	print_text(a);
	json_decref(a);
	return TOOL_EXIT_OK;
}
