/*
 * store: the standalone core's durable state on disk (DESIGN §5):
 *
 *   <dir>/deployment.json                  {"formatVersion":1, deployment record}
 *   <dir>/executions/<depId>/index.json    {"formatVersion":1,"deploymentId","jobs","executions"}
 *   <dir>/executions/<depId>/<execId>.log  NDJSON LogLines, append-only
 *   <dir>/cutover-status.json              flat string map
 *
 * JSON files are replaced atomically (tmp, fsync, rename, fsync dir); files
 * are 0600 and directories 0700. A crash (or kill -9) at any point leaves
 * each JSON file whole, old or new, and a log with at most one torn last
 * line, which store_log_repair cuts off on restart. A log append that fails
 * (a full disk) cuts its partial line off again at once. Execution records
 * carry our fields beside the wire's: "interrupted" (ended by the engine
 * stopping or dying, which does not count against retries) and the child's
 * "pgid", "procStart" and "bootId", with which a restart finds and ends a
 * command the crash left running, and "error" (why the engine, not the job,
 * failed it: a log it could not write). Field names are the wire's (WIRE §3). A file
 * that does not parse, or carries a newer formatVersion, is refused with a
 * message naming it (EXIT_USAGE) and is never written over.
 *
 * No symlink is followed in the state dir: the dir itself, executions/,
 * executions/<depId>/ and every file in them are checked at open (lstat) and
 * opened with O_NOFOLLOW afterwards; a symlink (or a FIFO, device...) there
 * is refused with a message naming it (EXIT_USAGE). Only the components the
 * operator named above the state dir may be symlinks.
 *
 * The store holds an exclusive flock on the directory while open: a second
 * process opening the same state dir is refused (it would close the first
 * one's live executions as interrupted). A store opened to observe takes no
 * lock and never writes: it may read a dir another process is running.
 * The lock holder writes its pid into <dir>/catalyst.pid (removed on
 * store_free, still under the lock) so that later launches can name it, and
 * its engine may serve the wire on <dir>/catalyst.sock (server.h) for them
 * to attach to.
 *
 * Threading: a struct store is immutable after store_open; its functions may
 * be called from several threads for different files. The caller serialises
 * writes of the same file. Ownership: store_state owns what store_load put in
 * it (store_state_fini releases it).
 */
#ifndef CATALYST_STORE_H
#define CATALYST_STORE_H

#include "model.h"
#include "util.h"

struct arena;
struct store;

#define STORE_FORMAT_VERSION 1

struct store_deployment {
    char id[72];
    char status[32];
    int64_t started_at, finished_at;
    int64_t phase1_finished_at;
    char phase1_outcome[32];
    int64_t handover_fired_at;
};

struct store_job {
    char *id;                  /* owned */
    char *job_name;            /* owned */
    enum job_status status;    /* the job's own status (no read-time cascade) */
    int64_t started_at, finished_at;
    int retries_left;          /* -1 when not recorded */
    bool is_group;
};

/*
 * Our fields of an execution record beside the wire's: why it ended, and who
 * its child was, so that a restart can end a command a crash left running.
 */
struct store_exec_meta {
    bool interrupted;          /* ended by the engine stopping or dying, not by the job */
    int pgid;                  /* the child's session and process group id; 0: none */
    int64_t proc_start;        /* its start time, field 22 of /proc/PID/stat */
    char boot_id[40];          /* the boot it ran in */
    char error[256];           /* why the engine (not the job) failed it, "" when it did not */
};

struct store_exec {
    char id[33];
    char *job_id;              /* owned */
    enum exec_status status;
    int64_t started_at, finished_at;
    int64_t line_count;
    struct store_exec_meta meta;
};

struct store_state {
    bool has_deployment;
    struct store_deployment dep;
    bool has_index;
    struct store_job *jobs;    /* owned */
    size_t n_jobs;
    struct store_exec *execs;  /* owned */
    size_t n_execs;
    char *cutover_json;        /* owned raw text of cutover-status.json, NULL when absent */
    size_t cutover_len;
};

/*
 * Opens and locks dir (created 0700 when missing). fresh: an existing dir is
 * first moved to "<dir>.old-<YYYYmmddTHHMMSS>". NULL with err on failure
 * (EXIT_USAGE when another process holds the dir).
 */
struct store *store_open(const char *dir, bool fresh, struct error *err);
/*
 * Opens dir only to read it: no lock, nothing created, moved, repaired or
 * written (every write function fails with EROFS / an error). A missing dir
 * reads as empty. NULL with err (EXIT_USAGE) when dir is not a directory.
 */
struct store *store_open_observe(const char *dir, struct error *err);
void store_free(struct store *s);

#define STORE_PID_FILE "catalyst.pid"
#define STORE_SOCKET_NAME "catalyst.sock"
/*
 * The pid recorded by the process holding dir's lock, when that process is
 * alive; 0 when unknown (no file, unreadable, or the process is gone).
 */
long store_lock_holder(const char *dir);
/*
 * 1 when another open file description holds dir's lock, 0 when it is free
 * (or dir does not exist), -1 when dir cannot be opened. Takes the lock for
 * an instant when it is free.
 */
int store_lock_probe(const char *dir);
const char *store_dir(const struct store *s);

/*
 * Reads deployment.json, then (when it names a deployment) that deployment's
 * index.json, and cutover-status.json. Missing files are not errors. Corrupted
 * or newer-format files fail with EXIT_USAGE naming the file.
 */
int store_load(struct store *s, struct store_state *out, struct error *err);
void store_state_fini(struct store_state *st);

/* deployment.json from d (id, status, startedAt, finishedAt, sovereignFQDN, region, ...). */
int store_write_deployment(struct store *s, const struct deployment *d, struct error *err);
/*
 * index.json: jobs in wire form (retries_left[i] >= 0 adds our "retriesLeft"
 * field; NULL for none) and executions (meta[i] adds "interrupted", "pgid",
 * "procStart" and "bootId" where set; NULL for none).
 */
int store_write_index(struct store *s, const char *dep_id, const struct job *jobs, size_t n_jobs,
                      const int *retries_left, const struct execution *execs,
                      const struct store_exec_meta *meta, size_t n_execs, struct error *err);
/* cutover-status.json from already-encoded JSON text. */
int store_write_cutover(struct store *s, const char *json, size_t len, struct error *err);

/* Opens an execution's log for appending (created 0600); -1 with errno. */
int store_log_open(struct store *s, const char *dep_id, const char *exec_id);
/*
 * Appends one NDJSON line with a single write(2). 0 or -1 with errno; a line
 * that could be written only in part (a full disk) is cut off again, so the
 * file holds whole lines only. *bytes (when non-NULL) gets the bytes added.
 */
int store_log_append(int fd, const struct log_line *l);
int store_log_append_n(int fd, const struct log_line *l, size_t *bytes);
/*
 * 0 when the file system of fd has at least reserve bytes free (for an
 * unprivileged writer); -1 with errno (ENOSPC when it has less).
 */
int store_check_space(int fd, uint64_t reserve);

/*
 * Test hook: when set, every state file write and log append or open first
 * asks fn, and fails with the errno it returns (0: go ahead). what names the
 * operation: "index", "deployment", "cutover", "log-open" or "log-append".
 * Process-wide; set it before an engine starts, clear it with NULL.
 */
void store_set_fault_hook(int (*fn)(void *ctx, const char *what), void *ctx);
/*
 * Counts the complete lines of an execution log, cutting off a torn last line
 * left by a crash. Returns the count (0 when the file is missing).
 */
int64_t store_log_repair(struct store *s, const char *dep_id, const char *exec_id);
/* Counts the complete lines of an execution log without changing it; -1 when unreadable. */
int64_t store_log_count(struct store *s, const char *dep_id, const char *exec_id);
/*
 * Lines from_line .. from_line+limit-1 of an execution log (1-based), strings
 * in a. *n may be less than limit at the end of the file. 0 or -1 (missing
 * file, out-of-memory).
 */
int store_log_read(struct store *s, const char *dep_id, const char *exec_id, int64_t from_line,
                   int64_t limit, struct arena *a, struct log_line **out, size_t *n);
/*
 * The last complete lines of an execution log, oldest first, strings in a:
 * at most max_lines, reading at most max_bytes back from the end (a line
 * longer than that is not returned). A torn last line is skipped. *bytes
 * gets the bytes read. 0 or -1 (missing file, out-of-memory).
 */
int store_log_tail(struct store *s, const char *dep_id, const char *exec_id, size_t max_lines,
                   size_t max_bytes, struct arena *a, struct log_line **out, size_t *n,
                   size_t *bytes);

#endif
