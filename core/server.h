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
 * Threading: server_start spawns the daemon threads and a feeder thread that
 * turns every new snapshot of `local` into deployment / cutover events
 * (events.h). Request threads only read snapshots; mutations call the engine.
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
    /*
     * Listen on this AF_UNIX path instead of TCP (listen is then ignored):
     * the standalone engine's <state-dir>/catalyst.sock that later launches
     * attach to. Created 0600 (a stale socket is replaced, any other file
     * refused) and removed by server_stop. Clients send Host: localhost.
     */
    const char *unix_path;
};

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

#endif
