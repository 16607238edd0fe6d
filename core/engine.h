/*
 * engine: runs a Sovereign spec for real. A scheduler thread and a bounded
 * pool of worker threads start every job whose dependencies all succeeded:
 * `run:` jobs through /bin/sh -c in a session of their own (stdout INFO,
 * stderr WARN, line by line into the execution's NDJSON log; timeout =>
 * SIGTERM to the group, SIGKILL 5 s later), simulated jobs by sleeping their
 * scaled duration and emitting their log lines. Each attempt is an Execution.
 * It also runs the cutover state machine (cutover steps are jobs
 * `cutover-step-<name>` of group `cutover`, chained linearly) and keeps
 * everything durable through the store (DESIGN §5). A start, and the
 * `auto: true` start, wait for the readiness preflight (preflight.h): auto
 * starts only once every check passes (after its `after` groups succeeded).
 *
 * Hangup, quit, crash and restart:
 *   - a hangup never reaches a job's command (its own session);
 *   - engine_stop / engine_stop_jobs (quit, SIGTERM) end the running commands
 *     (SIGTERM, SIGKILL 5 s later) and record each execution failed with a
 *     "[stopped] <reason>" (or "[interrupted]") line; the job goes back to
 *     pending and runs again on the next start;
 *   - a crash (SIGKILL) leaves executions recorded running, with their
 *     child's process group, start time and boot id, which are on disk before
 *     the command may run; engine_new ends whatever is left of such groups
 *     (SIGTERM to all, then SIGKILL to those left after one recovery_grace_ms,
 *     "[recovery] ..." in the log) before the job may run again, so a command
 *     never runs twice at once;
 *   - none of these use up a retry: only the job's own failures (non-zero
 *     exit, signal, timeout) count against `retries`.
 * Before a job starts its log is created and the state dir must have
 * store_reserve bytes free; a state dir that cannot record (read-only, full)
 * sets a sticky fault (snapshot source.error): nothing new starts, the job
 * stays pending, and an execution whose log could not be written ends
 * failed, its child killed, its recorded line count what is on disk, the
 * reason in its record (execution.error, "error" in index.json) and, room
 * permitting, as its last "[error]" line; its job goes back to pending and
 * runs again on the next start without using a retry. Job
 * output past log_cap bytes is dropped and counted in one "[log-cap]" line.
 *
 * Threading: all public functions are thread-safe. Internal state sits under
 * one mutex that is held only for short copies; disk writes happen outside it.
 * Ownership: the engine borrows the spec (it must outlive the engine).
 */
#ifndef CATALYST_ENGINE_H
#define CATALYST_ENGINE_H

#include "model.h"
#include "preflight.h"
#include "snapshot.h"
#include "spec.h"
#include "util.h"

struct engine;
struct arena;

struct engine_config {
    int workers;               /* --jobs N, default 4 */
    double speed;              /* time scale for simulated jobs and holds, default 1 */
    const char *state_dir;     /* NULL: in memory only (tests, benches) */
    bool fresh;                /* move an existing state dir aside first */
    bool read_only;            /* refuse retry / cutover start (403 read-only) */
    const char *mode;          /* source mode word for snapshots: "standalone" | "serve" */
    /*
     * Only look at state_dir (--once): no lock, so it works while another
     * process runs the dir; nothing is created, recovered, repaired or
     * written (a missing dir is an all-pending picture of the spec);
     * executions recorded running stay running; implies read_only;
     * engine_start fails. Combined with fresh, engine_new refuses (EXIT_USAGE).
     */
    bool observe;
    int64_t log_cap;           /* --log-cap: bytes of job output per execution log;
                                  0: 64 MiB, < 0: no cap */
    int64_t store_reserve;     /* free bytes a start needs in the state dir; 0: 1 MiB, < 0: 0 */
    int64_t recovery_grace_ms; /* SIGTERM -> SIGKILL for groups a crash left; 0: 5000 */
};

/*
 * Opens (or creates) the state dir, recovers it (running executions become
 * failed with an "[interrupted]" line, what their command left running is
 * ended, and their jobs run again without using a retry), and prepares the
 * jobs. May block while it ends such groups (recovery_grace_ms + 5 s at
 * most, for all of them together). Does not start anything. NULL with err filled on a
 * corrupted or newer-format state dir (EXIT_USAGE, never overwritten), or
 * when another process holds it (EXIT_USAGE; observe never conflicts). The
 * activity feed is refilled from the tails of the newest execution logs.
 */
struct engine *engine_new(const struct spec *spec, const struct engine_config *cfg,
                          struct error *err);
/*
 * Starts the scheduler and workers (and a crashed cutover run, which resumes).
 * -1 with err on an engine opened to observe.
 */
int engine_start(struct engine *e, struct error *err);
/*
 * Stops cleanly: no new job starts, children are ended (SIGTERM, then SIGKILL),
 * their executions recorded failed (interrupted) with an "[interrupted]" line,
 * jobs back to pending, state saved. Idempotent. Safe from any thread but not
 * from a signal handler.
 */
void engine_stop(struct engine *e);
/*
 * engine_stop on purpose: the lines read "[stopped] <reason>; it runs again
 * on the next start" (e.g. "stopped by the operator", "stopped by SIGTERM").
 */
void engine_stop_jobs(struct engine *e, const char *reason);
void engine_free(struct engine *e);

/* Increases with every observable change. */
uint64_t engine_generation(struct engine *e);
/* Blocks until the generation differs from gen or timeout_ms passed; returns the new one. */
uint64_t engine_wait(struct engine *e, uint64_t gen, int timeout_ms);
/* Called (from an engine thread, without engine locks held) after each change. */
void engine_set_notify(struct engine *e, void (*fn)(void *ctx), void *ctx);

/*
 * Fills the public fields of an unfinalized snapshot (deployment, jobs with
 * read-time group rollup and cascading failure, executions, cutover, orgs,
 * blueprints, activity, and detail for watch_job when non-NULL). Holds the
 * engine lock only while copying. Returns 0 or -1 on out-of-memory.
 */
int engine_fill_snapshot(struct engine *e, struct snapshot *s, const char *watch_job);

/* Results of actions: an HTTP-like code plus words. */
struct engine_result {
    int code;                  /* 200 ok; 403 read-only; 404 job-not-found; 409 ...; 424 ... */
    char error[64];            /* kebab code, "" on success */
    char detail[512];          /* human text */
    char execution_id[33];     /* retry: the new execution */
    int64_t requested_at;
    /* cutover start: the readiness checklist it was judged by (n_checks 0: not computed) */
    struct preflight preflight;
};
/* Retry a failed job (new Execution, first line "[retry] requested by <who> at <ts> — ..."). */
void engine_retry(struct engine *e, const char *job, const char *requested_by,
                  struct engine_result *out);
/*
 * Cutover start per DESIGN §5: 200 (already complete or started), 409, 424, 403,
 * and 425 handover-incomplete while a preflight check fails (out->preflight holds
 * the checklist, detail names the failing checks) unless force is set. The check
 * and the start happen under one lock hold, so nothing slips in between.
 */
void engine_cutover_start(struct engine *e, bool force, struct engine_result *out);

/* WIRE §3.6 log page with its clamping rules; 404 when the execution is unknown. */
int engine_log_page(struct engine *e, const char *execution_id, int64_t from_line, int64_t limit,
                    struct arena *a, struct log_page *out);

/* Outcome summaries for `wait`. */
struct engine_progress {
    int jobs_total, jobs_succeeded, jobs_failed, jobs_running, jobs_pending;
    bool jobs_done;            /* nothing pending or running that can still run, outside the
                                  cutover group (handover steps included) */
    bool store_fault;          /* the state dir cannot record: nothing new starts */
    bool cutover_complete;
    bool cutover_failed;       /* halted on a failed step with no run in progress */
    bool cutover_blocked;      /* cannot start by itself: `after` groups failed, or (auto)
                                  a job outside the cutover failed and nothing runs */
};
void engine_progress(struct engine *e, struct engine_progress *out);

const char *engine_deployment_id(struct engine *e);

#endif
