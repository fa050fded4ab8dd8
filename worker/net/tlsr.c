/*
 * tlsr: see tlsr.h.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "clock.h"
#include "tlsr.h"

/*
 * Tickets kept per peer: a burst of fresh connections larger than this
 * pays full handshakes for the rest, and each of those brings tickets
 * back (OpenSSL servers send two after a full handshake, one after a
 * resumed one).  About the most requests the engine keeps in flight.
 */
#define TLSR_MAX	64

struct tlsr_peer {
	char			*key;	/* origin "\n" CA file */
	SSL_SESSION		*s[TLSR_MAX];	/* oldest first, owned */
	int			 n;
	struct tlsr_peer	*next;
};

struct tlsr {
	struct tlsr_peer	*peers;
};

/* OpenSSL's registry of SSL_CTX ex_data slots is process-wide. */
static int	tlsr_idx = -1;

struct tlsr *
tlsr_new(void)
{
	if (tlsr_idx < 0 &&
	    (tlsr_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL,
	    NULL)) < 0)
		return NULL;
	return calloc(1, sizeof(struct tlsr));
}

void
tlsr_free(struct tlsr *t)
{
	struct tlsr_peer	*p;
	int			 i;

	if (t == NULL)
		return;
	while ((p = t->peers) != NULL) {
		t->peers = p->next;
		for (i = 0; i < p->n; i++)
			SSL_SESSION_free(p->s[i]);
		free(p->key);
		free(p);
	}
	free(t);
}

/* Drop the i-th ticket, keeping the order of the others. */
static void
tlsr_drop(struct tlsr_peer *p, int i)
{
	SSL_SESSION_free(p->s[i]);
	memmove(&p->s[i], &p->s[i + 1], (size_t)(p->n - i - 1) *
	    sizeof(p->s[0]));
	p->n--;
}

static struct tlsr_peer *
tlsr_peer_of(const SSL *ssl)
{
	return SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), tlsr_idx);
}

/*
 * SSL_CTX_sess_set_new_cb: a ticket (TLS 1.3) or a session (TLS 1.2)
 * arrived on a connection whose peer was verified.  Returns 1 when the
 * pool keeps OpenSSL's reference.
 */
static int
tlsr_new_cb(SSL *ssl, SSL_SESSION *sess)
{
	struct tlsr_peer	*p;

	if ((p = tlsr_peer_of(ssl)) == NULL ||
	    SSL_get_verify_result(ssl) != X509_V_OK ||
	    !SSL_SESSION_is_resumable(sess))
		return 0;
	if (p->n == TLSR_MAX)
		tlsr_drop(p, 0);
	p->s[p->n++] = sess;
	return 1;
}

/*
 * SSL_CTX_set_info_callback: at the start of a connection's first
 * handshake, before its ClientHello is built, give it the newest ticket
 * that is still valid.  A TLS 1.3 ticket leaves the pool (used once); a
 * TLS 1.2 session stays (resuming it does not spend it).
 */
static void
tlsr_info_cb(const SSL *cssl, int where, int ret)
{
	SSL			*ssl = (SSL *)cssl;	/* OpenSSL's own, ours to set up */
	struct tlsr_peer	*p;
	SSL_SESSION		*s;
	time_t			 now;

	(void)ret;
	if (!(where & SSL_CB_HANDSHAKE_START) || SSL_is_server(ssl) ||
	    SSL_get_session(ssl) != NULL || (p = tlsr_peer_of(ssl)) == NULL)
		return;
	now = clock_wall_s();
	while (p->n > 0) {
		s = p->s[p->n - 1];
		if (!SSL_SESSION_is_resumable(s) ||
		    (time_t)(SSL_SESSION_get_time(s) +
		    SSL_SESSION_get_timeout(s)) <= now) {
			tlsr_drop(p, p->n - 1);
			continue;
		}
		/* Refused: a full handshake, as without the pool. */
		if (SSL_set_session(ssl, s) == 1 &&
		    SSL_SESSION_get_protocol_version(s) >= TLS1_3_VERSION)
			tlsr_drop(p, p->n - 1);
		return;
	}
}

/* CURLOPT_SSL_CTX_FUNCTION: a new connection's SSL_CTX, before SSL_new. */
static CURLcode
tlsr_ctx_cb(CURL *e, void *sslctx, void *arg)
{
	SSL_CTX	*ctx = sslctx;

	(void)e;
	if (SSL_CTX_set_ex_data(ctx, tlsr_idx, arg) != 1)
		return CURLE_OK;	/* no pool: full handshakes, still safe */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
	    SSL_SESS_CACHE_NO_INTERNAL);
	SSL_CTX_sess_set_new_cb(ctx, tlsr_new_cb);
	SSL_CTX_set_info_callback(ctx, tlsr_info_cb);
	return CURLE_OK;
}

/* The peer of (url's origin, ca_file), made on first use. */
static struct tlsr_peer *
tlsr_peer(struct tlsr *t, const char *url, const char *ca_file)
{
	struct tlsr_peer	*p;
	const char		*o, *end;
	size_t			 olen, len;
	char			*key;

	if ((o = strstr(url, "://")) == NULL)
		return NULL;
	end = o + 3 + strcspn(o + 3, "/?#");
	olen = (size_t)(end - url);
	if (ca_file == NULL)
		ca_file = "";
	len = olen + 1 + strlen(ca_file);
	for (p = t->peers; p != NULL; p = p->next)
		if (strlen(p->key) == len && strncmp(p->key, url, olen) == 0 &&
		    p->key[olen] == '\n' && strcmp(p->key + olen + 1,
		    ca_file) == 0)
			return p;
	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (key = malloc(len + 1)) == NULL) {
		free(p);
		return NULL;
	}
	memcpy(key, url, olen);
	key[olen] = '\n';
	memcpy(key + olen + 1, ca_file, strlen(ca_file) + 1);
	p->key = key;
	p->next = t->peers;
	t->peers = p;
	return p;
}

int
tlsr_attach(struct tlsr *t, CURL *e, const char *url, const char *ca_file)
{
	struct tlsr_peer	*p;

	if (t == NULL || (p = tlsr_peer(t, url, ca_file)) == NULL)
		return -1;
	if (curl_easy_setopt(e, CURLOPT_SSL_CTX_FUNCTION,
	    tlsr_ctx_cb) != CURLE_OK)
		return -1;
	/* From here on the pool, not libcurl's cache, resumes sessions. */
	if (curl_easy_setopt(e, CURLOPT_SSL_CTX_DATA, p) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_SSL_SESSIONID_CACHE, 0L) != CURLE_OK) {
		curl_easy_setopt(e, CURLOPT_SSL_CTX_FUNCTION, NULL);
		return -1;
	}
	return 0;
}
