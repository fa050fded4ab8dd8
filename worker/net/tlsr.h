/*
 * tlsr: TLS session tickets kept per peer, one per fresh connection.
 *
 * Writes that are not repeatable get a connection of their own (http.c),
 * so at 10,000/min a worker opens a few TLS connections a second, many
 * at once.  libcurl (7.88, OpenSSL) keeps one session per host and hands
 * the same one to every connection; OpenSSL marks a TLS 1.3 session
 * unresumable once one connection has resumed it, so every other
 * connection started meanwhile sends its ClientHello without the ticket
 * and pays a full handshake (measured: 1 in 4 connections of a drain,
 * tests/integration/59_tls.sh).  TLS 1.3 servers send several tickets for
 * exactly this (RFC 8446 4.6.1, C.4: a client should use each once), so
 * this pool keeps every ticket it is given and gives each new connection
 * its own.  TLS 1.2 sessions are reusable: they stay in the pool.
 *
 * Wired through CURLOPT_SSL_CTX_FUNCTION (OpenSSL builds of libcurl
 * only; elsewhere libcurl's own cache stays on).  Single-threaded, like
 * the event loop that drives libcurl.  Ownership: the pool owns its
 * sessions; a peer lives as long as its pool, so the SSL_CTXs of
 * connections still open may point at it until tlsr_free, which must run
 * after every connection is closed (after curl_multi_cleanup).
 */
#ifndef CALLSYNC_TLSR_H
#define CALLSYNC_TLSR_H

#include <curl/curl.h>

struct tlsr;

struct tlsr	*tlsr_new(void);
void		 tlsr_free(struct tlsr *);
/*
 * Install the pool on easy handle e, whose URL is url and CA bundle
 * ca_file (NULL: the system's), both as given to libcurl: a session is
 * offered only to the same origin verified against the same CA.  Returns
 * 0, or -1 when libcurl refuses the callback (not OpenSSL): the caller
 * then keeps libcurl's own session cache.
 */
int		 tlsr_attach(struct tlsr *, CURL *e, const char *url,
		    const char *ca_file);

#endif
