/*
 * remote: the source (source.h) that reads a catalyst-api over HTTP(S)
 * (DESIGN §3, §4; WIRE §1-§6, §10, §11).
 *
 * A poller thread discovers the deployment (--deployment, else
 * /sovereign/self, else /deployments), then polls on the refresh interval
 * (and at once after an action or source_refresh): the deployment, its jobs
 * (inventory=full), the cutover status, the sovereign status, the
 * organizations (or the upstream applications fallback), and, for a watched
 * job, its detail and log tail (WIRE §3.6). A snapshot is built only when a
 * response changed. Two more threads follow the SSE streams: the
 * deployment's event log (the activity feed, with the replay skip of WIRE
 * §4.3) and the cutover events (each frame triggers a status re-read).
 *
 * Failures keep the last good data: the published copy is marked stale with
 * the error and its age, and polling backs off 1, 2, 4 ... 30 s. A 401 sets
 * source.auth_failed. Actions are queued to the poller; their outcome, in
 * words, appears in a later snapshot's last_action. Secrets are read from
 * files, kept in memory only, and never appear in errors or snapshots.
 *
 * With unix_socket set the same wire is read over a Unix socket: a console
 * attached to the process that owns a standalone state dir (server.h's
 * unix_path), labelled with mode_label in the header.
 *
 * Threading: every function is thread-safe; destroy (source_free) stops and
 * joins all threads within about a second. Ownership: the source copies its
 * options.
 */
#ifndef CATALYST_REMOTE_H
#define CATALYST_REMOTE_H

#include "model.h"
#include "source.h"
#include "util.h"

#include <stdbool.h>
#include <stddef.h>

struct arena;

struct remote_options {
    const char *api;           /* base URL up to and including /api/v1 */
    const char *deployment;    /* NULL: discover */
    const char *token_file;    /* NULL: $CATALYST_TOKEN_FILE, if set */
    const char *session_file;  /* catalyst_session cookie value, instead of a token */
    const char *cacert;
    bool insecure;
    double refresh_s;          /* <= 0 => 2 */
    long connect_timeout_ms;   /* <= 0 => 5000 */
    long timeout_ms;           /* <= 0 => 15000 */
    bool read_only;            /* act() refuses locally with 403 read-only */
    /* Called from the source's threads after each publication (cheap only). */
    /* A job to watch from the very first poll (--once --view job:NAME), or NULL. */
    const char *watch_job;
    void (*notify)(void *ctx);
    void *notify_ctx;
    /*
     * Attached to a local engine: every request goes over this AF_UNIX socket
     * (api is then e.g. http://localhost/api/v1), and snapshots show the
     * socket path as their url. NULL: TCP to api's host.
     */
    const char *unix_socket;
    /* The snapshot's source.mode word (e.g. "attached to pid 12345"); NULL: "remote". */
    const char *mode_label;
};

/*
 * Reads the token or session file (EXIT_USAGE naming the file when it cannot
 * be read), checks the URL, and starts the poller. NULL with err on failure.
 */
struct source *source_remote_new(const struct remote_options *o, struct error *err);
/*
 * Blocks until the first full fetch ended (or timeout_ms passed). Returns
 * EXIT_OK; EXIT_API or EXIT_AUTH with err filled; EXIT_USAGE when several
 * deployments exist and none was chosen (the message lists ids and FQDNs).
 */
int source_remote_wait_first(struct source *s, int timeout_ms, struct error *err);
/* The deployments listed by discovery (for a picker), decoded into a. */
size_t source_remote_deployments(struct source *s, struct deployment *out, size_t max,
                                 struct arena *a);
/* Switches to deployment id (from the picker); polling restarts at once. */
int source_remote_select(struct source *s, const char *id);

#endif
