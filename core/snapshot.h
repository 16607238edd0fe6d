/*
 * snapshot: one immutable, refcounted picture of a Sovereign: deployment,
 * jobs (with their resolved DAG), executions, the watched job's detail and
 * log tail, cutover status, organizations, activity feed and source health.
 *
 * A producer (the local source, the remote poller, the wire decoder in tests)
 * creates one with snapshot_new, fills the public fields with memory from
 * snapshot_arena, calls snapshot_finalize once, then publishes it. From then
 * on nobody writes to it; any thread may read it while holding a reference.
 *
 * Ownership: the snapshot owns its arena, its dag and every string in it.
 * snapshot_retain/snapshot_release are thread-safe (atomic refcount).
 */
#ifndef CATALYST_SNAPSHOT_H
#define CATALYST_SNAPSHOT_H

#include "model.h"
#include "preflight.h"

#include <stdatomic.h>

struct arena;
struct dag;

struct source_info {
    const char *mode;        /* "standalone" | "remote" | "serve" */
    const char *url;         /* remote base URL, "" otherwise */
    const char *state_dir;   /* standalone state directory, "" otherwise */
    bool ok;                 /* the last fetch/build succeeded */
    bool stale;              /* data shown is older than the last attempt */
    const char *error;       /* last error in words, "" when ok */
    int http_status;         /* last HTTP status seen (remote), 0 otherwise */
    bool auth_failed;        /* a 401 was seen */
    int64_t fetched_at;      /* ms of the data's last good fetch/build */
    bool insecure;           /* TLS verification disabled (remote) */
    bool read_only;          /* actions refused */
};

enum action_kind {
    ACTION_RETRY_JOB = 0,
    ACTION_CUTOVER_START,
    ACTION_SELECT_DEPLOYMENT,  /* remote: pick one of snapshot.deployments (arg = id) */
    ACTION_CUTOVER_START_FORCE,/* the operator overrode a failing preflight ({"force":true}) */
};

struct action_result {
    uint64_t seq;            /* 0: no action yet */
    enum action_kind kind;
    int code;                /* HTTP-like: 200, 403, 404, 409, 424, 0 = transport failure */
    const char *error;       /* kebab code, "" on success */
    const char *message;     /* words for the operator */
    /* A cutover start refused with 425: the server's (or engine's) checklist; else 0. */
    struct preflight_check *checks;
    size_t n_checks;
};

struct activity_line {
    const char *job_name;
    struct log_line line;
};

/* The job whose detail and log the console is looking at (source_watch_job). */
struct job_detail {
    const char *job_id;          /* "" when no job is watched */
    bool found;                  /* false: the watched job does not exist */
    struct execution *executions;/* newest first */
    size_t n_executions;
    const char *log_execution_id;/* the execution the log lines belong to ("" none) */
    struct log_line *lines;      /* ascending line numbers, at most the newest 20,000 */
    size_t n_lines;
    int64_t log_total;           /* lines in the whole execution log */
    bool log_finished;           /* execution finished */
};

struct job_counts {
    int total;                   /* leaves only (groups excluded) */
    int by_status[JOB_STATUS_COUNT];
    int blocked;                 /* failed with no execution because a dependency failed */
    int groups;
};

struct snapshot {
    uint64_t generation;         /* increases with every publication from one source */
    struct source_info source;
    const char *sovereign_name;  /* spec name, or the FQDN's first label */
    const char *provider;        /* "" when unknown */
    bool has_deployment;
    struct deployment deployment;
    struct job *jobs;            /* groups and leaves, producer's order */
    size_t n_jobs;
    struct execution *executions;/* every execution known (remote: the watched job's) */
    size_t n_executions;
    struct job_detail detail;
    struct cutover_status cutover;
    bool orgs_available;         /* false: the server has no organizations endpoint */
    struct organization *orgs;
    size_t n_orgs;
    struct blueprint *blueprints;
    size_t n_blueprints;
    struct activity_line *activity; /* newest last, at most 200 */
    size_t n_activity;
    struct sovereign_status sov_status;
    struct action_result last_action;
    /* Remote discovery found several deployments and none is chosen yet: the picker's list. */
    struct deployment *deployments;
    size_t n_deployments;

    /* Filled by snapshot_finalize: */
    struct dag *dag;             /* over jobs[], same indices */
    int32_t *blocked_by;         /* per job: index of the failed dependency, -1 */
    int32_t *parent;             /* per job: index of its parent group, -1 */
    struct job_counts counts;

    /* private */
    struct arena *arena_;
    atomic_int refs_;
};

/* A new empty snapshot with refcount 1; NULL on out-of-memory. */
struct snapshot *snapshot_new(void);
struct arena *snapshot_arena(struct snapshot *s);
/*
 * Builds the DAG, parents, blocked_by and counts. Call once, after the
 * producer filled jobs. Returns 0, or -1 on out-of-memory.
 */
int snapshot_finalize(struct snapshot *s);
struct snapshot *snapshot_retain(struct snapshot *s);
void snapshot_release(struct snapshot *s);
/* Index of a job by id, else jobName, else "<depId>:<name>"; -1 when absent. */
int32_t snapshot_find_job(const struct snapshot *s, const char *id_or_name);
/* Executions of job i, newest first, into out (up to max); returns the count. */
size_t snapshot_job_executions(const struct snapshot *s, int32_t i,
                               const struct execution **out, size_t max);

#endif
