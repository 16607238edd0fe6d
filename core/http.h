/*
 * http: a small libcurl client for the catalyst-api wire (WIRE §1).
 *
 * One client wraps one CURL easy handle, so consecutive requests reuse the
 * connection (keep-alive, TLS session). Paths such as "/deployments/x/jobs"
 * are appended to the base URL, which runs up to and including "/api/v1"
 * (a trailing slash is dropped). Every request carries User-Agent
 * catalyst-tui and, when configured, the bearer token or the catalyst_session
 * cookie. GET responses that carry an ETag are cached per path and revalidated
 * with If-None-Match; a 304 hands back the cached body with not_modified set.
 *
 * Errors are classified into struct error: transport failures (refused,
 * timeout, TLS) read "could not reach the catalyst-api: ..." with EXIT_API;
 * 401 gives EXIT_AUTH; any other 4xx/5xx reads
 * "<METHOD> <path>: HTTP <status> <code>: <detail>" with EXIT_API. Secrets
 * never appear in an error message.
 *
 * With unix_socket set, every request goes over that AF_UNIX socket (an
 * attached console talking to the engine that owns a state dir); the URL
 * only supplies the Host header and the path.
 *
 * Threading: a client belongs to one thread at a time. The stop flag given in
 * the options may be set from any thread; it aborts a transfer in progress
 * within about a second. Ownership: the client copies every option string;
 * response bodies belong to the response until http_response_fini.
 */
#ifndef CATALYST_HTTP_H
#define CATALYST_HTTP_H

#include "util.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#define HTTP_MAX_BODY_DEFAULT ((size_t)64 << 20)

struct http_client;

struct http_options {
    const char *base_url;      /* e.g. https://console.example/api/v1 */
    const char *token;         /* bearer token (already trimmed) or NULL */
    const char *session;       /* catalyst_session cookie value or NULL */
    const char *cacert;        /* CA bundle file, NULL => system CAs */
    bool insecure;             /* skip TLS verification (only when asked) */
    long connect_timeout_ms;   /* 0 => 5000 */
    long timeout_ms;           /* 0 => 15000 */
    size_t max_body;           /* 0 => HTTP_MAX_BODY_DEFAULT */
    atomic_bool *stop;         /* optional: aborts transfers when set */
    const char *unix_socket;   /* optional: connect to this AF_UNIX path instead of the
                                  URL's host (the URL keeps its path, e.g.
                                  http://localhost/api/v1; curl sends Host: localhost) */
};

struct http_response {
    long status;               /* 0 when no response arrived */
    char *body;                /* NUL-terminated, owned; never NULL after a request */
    size_t len;
    bool not_modified;         /* 304: body is the cached copy */
    char content_type[96];
};

struct http_client *http_client_new(const struct http_options *o, struct error *err);
void http_client_free(struct http_client *c);
const char *http_client_base(const struct http_client *c);

void http_response_init(struct http_response *r);
void http_response_fini(struct http_response *r);

/*
 * One request. method is "GET" or "POST"; body (JSON) may be NULL. Returns 0
 * for a 2xx or a 304, -1 otherwise with err classified (see above) and
 * r->status set (0 for transport failures) so callers can branch on it.
 */
int http_request(struct http_client *c, const char *method, const char *path,
                 const char *body, struct http_response *r, struct error *err);
static inline int http_get(struct http_client *c, const char *path, struct http_response *r,
                           struct error *err)
{
    return http_request(c, "GET", path, NULL, r, err);
}

/*
 * Streams a GET (an SSE endpoint): on_data receives the body bytes as they
 * arrive and returns non-zero to end the stream. No total timeout; the
 * connection is dropped when fewer than 1 byte/s arrive for idle_s seconds.
 * Returns 0 when the server closed the stream or on_data ended it, -1 with
 * err on a transport failure or a non-2xx status (r->status set, r->body
 * holding the error body).
 */
int http_stream(struct http_client *c, const char *path, long idle_s,
                int (*on_data)(void *ctx, const char *buf, size_t n), void *ctx,
                struct http_response *r, struct error *err);

/*
 * Whether something listens on the AF_UNIX socket at path (one connect, no
 * request): tells a live engine's socket from a stale file.
 */
bool http_unix_listening(const char *path);

/* Drops every cached ETag and body. */
void http_cache_clear(struct http_client *c);
/* Bytes received (headers + bodies) since the client was made, for benchmarks. */
size_t http_bytes_received(const struct http_client *c);

/*
 * Reads a secret (token or session value) from a file: at most 64 KB,
 * surrounding whitespace trimmed, must not be empty or contain line breaks
 * inside. *out is malloc'd. Errors name the file, never its contents, with
 * EXIT_USAGE.
 */
int http_read_secret(const char *path, char **out, struct error *err);
/* Wipes and frees a secret. */
void http_secret_free(char *s);

/*
 * Appends s percent-encoded for a path segment into sb; ':' is kept raw
 * because proxies 404 on %3A (WIRE §10.3).
 */
void http_path_escape(struct strbuf *sb, const char *s);

#endif
