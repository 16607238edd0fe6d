/*
 * server: `catalyst-tui serve`, the in-process core exposed over the
 * catalyst-api wire (WIRE §2.1 probes and identity, §2.2 deployments with the
 * events list and the /logs SSE stream, §2.3 jobs, detail, retry and
 * execution log pages, §2.6 cutover status, start and the events SSE stream,
 * §5.2 sovereign status, and the §11 additions: organizations, ETag /
 * If-None-Match, version, sovereign/self, bearer auth, read-only).
 *
 * Built on libmicrohttpd with one thread per connection (bounded by
 * max_connections): SSE streams block on a condition variable without
 * starving other clients, and idle connections close after 30 s. Encoded
 * JSON bodies are cached per snapshot generation, so polling the 1,000-job
 * list costs one encode per change, not per request. Loopback by default.
 *
 * Browsers and floods (issue 8): every request's Host must name this server
 * (loopback names, the listen host, --allow-host names, or the IP literal the
 * connection arrived on; Unix-socket peers and Host-less HTTP/1.0 are exempt),
 * else 421 misdirected-request, which defeats DNS rebinding. A POST is refused
 * with 403 cross-site-request when Origin is not this origin (or "null") or
 * Sec-Fetch-Site is neither same-origin nor none, and with 415
 * unsupported-media-type unless Content-Type is application/json: a web page
 * cannot send that without a CORS preflight, which is never granted. These
 * checks, the token and read-only run on the request head, before any body is
 * read. A connection must deliver a whole request (head and body) within
 * request_timeout_s of opening or of its previous answer. When the server or
 * one peer address is at its connection limit, a new connection evicts the
 * oldest connection still waiting for its request; event streams may hold at
 * most all but a reserve of slots (the oldest stream gives way to a new one),
 * so the reserve always goes to short requests and an operator always gets
 * in. A stream whose client stops reading (its bounded send buffer stays
 * full) is dropped after stream_stall_s.
 *
 * Choices where upstream leaves room: an unparsable fromLine or limit takes
 * its default (like Go's strconv fallback) before the §3.6 clamping, so
 * `fromLine=abc&limit=-5` is page 1 of 500 lines, never an error; every
 * deployment-scoped route answers an unknown id with upstream's plain-text
 * "deployment not found\n"; the /logs stream closes after `event: done`
 * (deployment ready or failed); the cutover stream closes after a live
 * cutover-completed / cutover-step-failed, and right after its status frame
 * when the Sovereign is already sovereign (nothing more can happen); requests
 * are attributed to "catalyst-tui" (requestedBy). Event-source clients may pass
 * the token as ?access_token= (WIRE §1.3). The cutover start (WIRE §11) answers
 * 425 {"error":"handover-incomplete","detail","checks":[{"id","name","title",
 * "ok","detail"}]} while a preflight check fails; its body may be empty or a
 * JSON object, and only {"force":true} overrides (no query parameter: a URL
 * is too easily replayed); any other body is 400 invalid-body.
 * GET /api/v1/sovereign/cutover/preflight returns {"ready","checks"}.
 *
 * The same wire can be served on a Unix socket instead (unix_path): the
 * standalone console's engine, for consoles and `wait` that attach to it. The
 * socket is 0600 inside the 0700 state dir; file permissions are its access
 * control.
 *
 * Threading: server_start spawns the daemon threads, a feeder thread that
 * turns every new snapshot of `local` into deployment / cutover events
 * (events.h), and a reaper thread that enforces the request deadline and the
 * stream stall limit (4 Hz). Request threads only read snapshots; mutations
 * call the engine. Connection records live under one mutex; an eviction is a
 * shutdown() of the socket, done before libmicrohttpd can close and reuse it.
 * server_stop is graceful: stop accepting, end SSE streams, give in-flight
 * requests up to 3 s, then close everything. Call it from one thread.
 * Ownership: the server borrows the source and the engine (both must outlive
 * it) and copies the options. The bearer token is kept in memory only and is
 * never logged, echoed or put in an error message.
 */
#ifndef CATALYST_SERVER_H
#define CATALYST_SERVER_H

#include "engine.h"
#include "source.h"
#include "util.h"

#include <stdbool.h>
#include <stddef.h>

struct server;

struct server_options {
    const char *listen;        /* "HOST:PORT", "[v6]:PORT" or ":PORT"; NULL: 127.0.0.1:8080;
                                  port 0 picks a free one (see server_port) */
    const char *token_file;    /* NULL: no auth; else Bearer <file contents, trimmed> */
    bool read_only;            /* POST retry / cutover start => 403 read-only */
    unsigned max_connections;  /* 0: 256 */
    size_t max_body;           /* 0: 64 KiB; larger bodies => 413 request-too-large */
    size_t max_header;         /* 0: 16 KiB; larger request heads => 431
                                  request-header-too-large (past twice that,
                                  libmicrohttpd's own 431) */
    unsigned idle_timeout_s;   /* 0: 30 s; SSE streams are exempt */
    unsigned request_timeout_s; /* 0: 10 s to receive a whole request (head and body) */
    unsigned max_per_ip;       /* 0: max_connections / 4 (at least 8) per peer address */
    unsigned stream_stall_s;   /* 0: 10 s that a stream may wait on a client not reading */
    const char *const *allow_hosts; /* more Host names to accept (--allow-host) */
    size_t n_allow_hosts;
    bool insecure_no_auth;     /* allow a non-loopback listen address without token_file */
    /*
     * Listen on this AF_UNIX path instead of TCP (listen is then ignored):
     * the standalone engine's <state-dir>/catalyst.sock that later launches
     * attach to. Created 0600 (a stale socket is replaced, any other file
     * refused) and removed by server_stop. Clients send Host: localhost.
     */
    const char *unix_path;
};

/*
 * Whether o may start: EXIT_USAGE when the listen address is malformed, or
 * reaches beyond loopback with neither token_file nor insecure_no_auth.
 * *exposed (may be NULL) says the address is not loopback. Resolves the host
 * like server_start does; server_start applies the same check.
 */
int server_check_options(const struct server_options *o, bool *exposed, struct error *err);

/*
 * Binds, starts the daemon and the feeder. local must come from
 * source_local_new over e (the feeder waits on source_local_wait). NULL with
 * err filled: EXIT_USAGE for a bad listen address or an unreadable/empty token
 * file, EXIT_FAILED when the address cannot be bound.
 */
struct server *server_start(struct source *local, struct engine *e,
                            const struct server_options *o, struct error *err);
/* The bound TCP port (the real one when the options asked for port 0); 0 on a Unix socket. */
int server_port(const struct server *s);
/* Graceful stop and free; NULL is a no-op. */
void server_stop(struct server *s);

/* The strong ETag (quoted) of a body, as the server sends it. out >= 40 bytes. */
void server_etag(const char *body, size_t len, char *out, size_t n);

/*
 * For tests and fuzzing: one request through the same checks and handlers
 * as the HTTP access handler, without sockets. method and url must not be
 * NULL; url may carry a ?query (percent-decoded like libmicrohttpd does);
 * headers are n name/value pairs (duplicates allowed); only req_len of the
 * body counts (bodies are ignored). An event stream answers with what it
 * has now, without waiting. The peer counts as a TCP client with no local
 * address, so only loopback and allow-listed Host names pass. On return
 * *body (malloc'd, NUL-terminated, caller frees) and *body_len hold the
 * answer; returns the HTTP status, or 0 when the connection would be dropped
 * without an answer (then *body is NULL). Thread-safe like the access handler.
 */
struct server_header {
    const char *name, *value;
};
int server_handle(struct server *s, const char *method, const char *url,
                  const struct server_header *headers, size_t n, const char *req_body,
                  size_t req_len, char **body, size_t *body_len);

#endif
