/*
 * events: the deployment event log and the cutover event log that `serve`
 * streams (WIRE §4.2 and §6.6), derived from successive snapshots.
 *
 * The core has no provisioner channel of its own, so the server feeds every
 * new snapshot here and this module turns what changed into upstream-style
 * events: job status transitions become `component` events (install jobs,
 * with helm-like states), `tofu-*` / `flux-bootstrap` phase headers
 * (provisioner jobs) or `<group>` lines; new activity-feed lines become
 * `component-log` / `tofu` / phase lines; deployment status changes become
 * `deployment` events; cutover status transitions become cutover-started,
 * cutover-step-started/-finished/-failed and cutover-completed. The first
 * snapshot fed is compared with an all-pending picture, so a restarted
 * server still replays how a finished deployment got there.
 *
 * Each log is a ring with a global sequence number per event (10,000 and 256
 * by default, oldest evicted), so a reader keeps a cursor and asks for what
 * came after it. Events are stored already encoded as JSON.
 *
 * Threading: events_feed must be called from one thread at a time (the
 * feeder); every other function is thread-safe. events_wait blocks on a
 * condition variable until new events, events_shutdown or the timeout.
 * Ownership: the module copies what it keeps; it never holds on to a
 * snapshot passed to events_feed beyond the call except one retained
 * reference to the previous one.
 */
#ifndef CATALYST_EVENTS_H
#define CATALYST_EVENTS_H

#include "snapshot.h"
#include "util.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EVENTS_DEPLOY_CAP 10000
#define EVENTS_CUTOVER_CAP 256

struct events;

/* Capacities of 0 take the defaults above. NULL on out-of-memory. */
struct events *events_new(size_t deploy_cap, size_t cutover_cap);
void events_free(struct events *ev);

/* Derives and appends the events between the previous snapshot fed and s. */
void events_feed(struct events *ev, struct snapshot *s);

/* Appends one cutover event (e.g. cutover-already-complete). level: info|warn|error. */
void events_cutover_note(struct events *ev, int64_t time_ms, const char *phase,
                         const char *level, const char *message);

/* Sequence number of the oldest buffered deployment / cutover event. */
uint64_t events_deploy_first(struct events *ev);
uint64_t events_cutover_first(struct events *ev);
/* Deployment events buffered now. */
size_t events_deploy_count(struct events *ev);
/* Sequence number the next deployment event will get (changes with every append). */
uint64_t events_deploy_next(struct events *ev);
/* The last deployment status fed is terminal (ready or failed). */
bool events_deploy_done(struct events *ev);

/*
 * Appends the deployment events with sequence >= *cursor to sb as SSE frames
 * (`data: <json>\n\n`), advancing *cursor (a cursor older than the buffer
 * starts at its oldest event). Returns the number of frames.
 */
size_t events_deploy_frames(struct events *ev, uint64_t *cursor, struct strbuf *sb);
/* Appends every buffered deployment event as a JSON array; returns the count. */
size_t events_deploy_json(struct events *ev, struct strbuf *sb);
/*
 * Cutover frames (`event: <phase>\ndata: <json>\n\n`) after *cursor. *closing
 * is set when a cutover-completed or cutover-step-failed frame was written;
 * frames after it are left for a later call.
 */
size_t events_cutover_frames(struct events *ev, uint64_t *cursor, struct strbuf *sb,
                             bool *closing);

/*
 * Blocks until an event newer than either cursor exists, events_shutdown was
 * called, or timeout_ms passed. Returns true when something is to be read
 * (or the module shut down), false on timeout.
 */
bool events_wait(struct events *ev, uint64_t deploy_cursor, uint64_t cutover_cursor,
                 int timeout_ms);
/* Wakes every waiter now and on every later wait. */
void events_shutdown(struct events *ev);
bool events_is_shutdown(struct events *ev);

/* The JSON string literal holding the flat cutover map (SSE cutover-status message). */
void events_cutover_status_frame(const struct cutover_status *c, int64_t now_ms,
                                 struct strbuf *sb);

#endif
