/*
 * fixture_server: a scripted HTTP/1.1 server on 127.0.0.1 for tests.
 *
 * Routes map "METHOD path" to a canned response (status, content type, body,
 * optional ETag honouring If-None-Match) or to a hostile behaviour: never
 * answer, close in the middle of the body, or stream SSE bytes that never end
 * a frame. A route path with a '?' matches the exact path+query; one without
 * matches any query. Unknown routes answer 404 text/plain like Go's router.
 * Routes can be replaced while the server runs, so a test can make a healthy
 * server fail between two polls.
 *
 * Threading: one accept thread plus one thread per connection; every
 * function is thread-safe. fx_stop closes every connection and joins all
 * threads. Ownership: bodies and strings passed in are copied.
 */
#ifndef FIXTURE_SERVER_H
#define FIXTURE_SERVER_H

#include <stdbool.h>
#include <stddef.h>

enum fx_mode {
    FX_NORMAL = 0,   /* status + headers + body, keep-alive */
    FX_HANG,         /* read the request, never answer */
    FX_CLOSE_MID,    /* announce Content-Length, send half the body, close */
    FX_SSE,          /* text/event-stream: body, then close (or hold when hold is set) */
    FX_SSE_ENDLESS,  /* text/event-stream: "data: xxxx..." forever, never a blank line */
};

struct fx_route {
    const char *method;        /* "GET" / "POST" */
    const char *path;          /* "/api/v1/deployments" (query optional) */
    enum fx_mode mode;
    int status;                /* default 200 */
    const char *content_type;  /* default application/json */
    const char *body;          /* NULL => "" */
    size_t body_len;           /* 0 => strlen(body) */
    const char *etag;          /* optional: sent, and If-None-Match => 304 */
    bool hold;                 /* FX_SSE: keep the stream open after the body */
};

struct fx_server;

/* Starts on 127.0.0.1 with an ephemeral port; NULL on failure. */
struct fx_server *fx_start(void);
/* Closes every connection, joins every thread, frees. */
void fx_stop(struct fx_server *s);
int fx_port(const struct fx_server *s);
/* "http://127.0.0.1:<port>/api/v1" (owned by the server). */
const char *fx_base(const struct fx_server *s);

/* Adds or replaces a route. */
void fx_set(struct fx_server *s, const struct fx_route *r);
/* Shorthand for a FX_NORMAL route. */
void fx_json(struct fx_server *s, const char *method, const char *path, int status,
             const char *body);
void fx_text(struct fx_server *s, const char *method, const char *path, int status,
             const char *body);
void fx_remove(struct fx_server *s, const char *method, const char *path);

/* Requests seen for a route (by its registered path), and in total. */
unsigned fx_hits(struct fx_server *s, const char *method, const char *path);
unsigned fx_total(struct fx_server *s);
/*
 * Copies the last value of request header `name` seen on any request into buf
 * ("" when never seen); returns buf.
 */
char *fx_last_header(struct fx_server *s, const char *name, char *buf, size_t n);
/* true when some request target contained `needle` (e.g. "%3A"). */
bool fx_saw_target(struct fx_server *s, const char *needle);

#endif
