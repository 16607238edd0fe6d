/*
 * model: the nouns of a Catalyst Sovereign as the console sees them.
 *
 * These are plain value structs shared by every layer: the engine fills them
 * when it builds a snapshot, the wire codec fills them when it decodes a
 * catalyst-api frame, the views read them. Strings are `const char *` into an
 * arena owned by whoever owns the enclosing object (normally a snapshot), so
 * a model value is never freed field by field. Timestamps are milliseconds
 * since the Unix epoch (UTC); 0 means "absent" (Go's zero time decodes to 0).
 *
 * Thread safety: none needed; values are immutable once published.
 */
#ifndef CATALYST_MODEL_H
#define CATALYST_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum job_status {
    JOB_PENDING = 0,
    JOB_RUNNING,
    JOB_SUCCEEDED,
    JOB_FAILED,
    JOB_HEALTHY,   /* late recurring kinds */
    JOB_DEGRADED,
    JOB_FAILING,
    JOB_STATUS_COUNT
};

enum job_kind {
    KIND_LIFECYCLE = 0,
    KIND_INSTALL,
    KIND_RECONCILE,
    KIND_STEP,
    KIND_MUTATION,
    KIND_CRON,
    KIND_TASK,
    KIND_RECONCILER,
    KIND_GROUP,
    KIND_COUNT
};

enum exec_status { EXEC_RUNNING = 0, EXEC_SUCCEEDED, EXEC_FAILED, EXEC_STATUS_COUNT };

enum log_level { LOG_INFO = 0, LOG_DEBUG, LOG_WARN, LOG_ERROR, LOG_LEVEL_COUNT };

/* Cutover step result as on the wire: "" | running | success | failed | skipped */
enum step_result {
    STEP_PENDING = 0, /* "" */
    STEP_RUNNING,
    STEP_SUCCESS,
    STEP_FAILED,
    STEP_SKIPPED,
    STEP_RESULT_COUNT
};

enum sov_state { SOV_TETHERED = 0, SOV_SOVEREIGN };

struct job {
    const char *id;            /* "<deploymentId>:<jobName>" */
    const char *deployment_id;
    const char *job_name;
    const char *display_name;  /* "" => render job_name */
    const char *app_id;        /* "" when none */
    const char *region;        /* "" when none */
    const char *parent_id;     /* full id of the parent group, "" at top level */
    const char *latest_execution_id; /* "" when none */
    const char **depends_on;   /* raw strings as on the wire (ids or bare names) */
    size_t n_depends_on;
    const char **child_ids;    /* groups only */
    size_t n_child_ids;
    bool is_group;             /* wire type == "group" */
    enum job_kind kind;
    enum job_status status;    /* as reported (after server-side rollup/cascade) */
    int64_t started_at;        /* ms, 0 = absent */
    int64_t finished_at;
    int64_t duration_ms;
    int32_t run_count;         /* executions so far (0 when unknown) */
};

struct execution {
    const char *id;            /* 32 lowercase hex */
    const char *job_id;
    const char *deployment_id;
    enum exec_status status;
    int64_t started_at;
    int64_t finished_at;       /* 0 while running */
    int64_t line_count;
    const char *error;         /* why the engine failed it (an unwritable log); NULL or "" */
};

struct log_line {
    int64_t line_number;       /* 1-based */
    int64_t timestamp;         /* ms */
    enum log_level level;
    const char *message;
};

struct log_page {
    struct log_line *lines;
    size_t n_lines;
    int64_t total;
    bool execution_finished;
};

struct cutover_step {
    const char *name;
    enum step_result result;
    int64_t started_at;
    int64_t finished_at;
    const char *job_name;      /* "" when none */
    const char *message;       /* error line of a failed step, "" otherwise */
    int64_t hold_until;        /* ms; >0 while a hold is running (our addition) */
    int64_t hold_seconds;      /* configured hold length, 0 when none */
};

struct kv {
    const char *key;
    const char *value;
};

struct cutover_status {
    bool available;            /* false: no status known (404, not yet read) */
    bool state_present;        /* the wire carried "state" */
    enum sov_state state;
    bool complete;
    int64_t started_at;
    int64_t finished_at;
    int64_t last_attempt_started_at;
    bool running;              /* a run is in progress (ours; derived on decode) */
    const char *current_step;  /* "" when idle */
    int current_step_index;
    int total_steps;
    int progress_percent;
    const char *failed_step;   /* "" */
    const char *last_error;    /* "" */
    struct cutover_step *steps;/* canonical (execution) order */
    size_t n_steps;
    struct kv *raw;            /* flat string map, sorted by key */
    size_t n_raw;
    /* summary values, "" / -1 when absent */
    const char *mirrored_commit_sha;
    int harbor_project_count;
    int egress_test_passed;    /* 1 passed, 0 failed, -1 unknown */
    const char *settled_roll_overrides;
};

struct deployment {
    const char *id;
    const char *status;        /* pending|provisioning|...|ready|failed */
    int64_t started_at;
    int64_t finished_at;
    const char *sovereign_fqdn;
    const char *region;
    const char *error;         /* "" */
    int64_t num_events;
    const char *org_name;
    const char *owner_email;
    const char *control_plane_ip;
    const char *load_balancer_ip;
    const char *console_url;
    const char *gitops_repo_url;
    int64_t phase1_finished_at;
    const char *phase1_outcome;
    int64_t handover_fired_at;
    bool operation_in_progress;
};

struct application {
    const char *name;
    const char *blueprint;
    const char *version;
    const char *status;        /* job status word of its install job, or helm state */
    const char **depends_on;   /* blueprint names (flattened) */
    size_t n_depends_on;
};

struct environment {
    const char *name;          /* "<org>-<type>" */
    const char *type;          /* prod|stg|uat|dev|poc */
    struct application *apps;
    size_t n_apps;
};

struct organization {
    const char *name;
    struct environment *envs;
    size_t n_envs;
};

struct blueprint {
    const char *name;
    const char *version;
    const char **depends;      /* direct dependencies, by name */
    size_t n_depends;
};

struct sovereign_status {
    bool available;
    int helm_releases_ready, helm_releases_total;
    int pods_running, pods_total;
    int cert_expiry_soon_count;
};

/* String tables. *_name returns the wire word; *_parse returns -1 when unknown. */
const char *job_status_name(enum job_status s);
int job_status_parse(const char *s);
const char *job_kind_name(enum job_kind k);
int job_kind_parse(const char *s);
/* WIRE §3.1 back-fill rule when `kind` is absent. */
enum job_kind job_kind_from_name(const char *job_name, bool is_group);
const char *exec_status_name(enum exec_status s);
int exec_status_parse(const char *s);
const char *log_level_name(enum log_level l);
/* Accepts wire levels (INFO/DEBUG/WARN/ERROR) and event levels (info/warn/warning/...). */
enum log_level log_level_parse(const char *s);
const char *step_result_name(enum step_result r);
int step_result_parse(const char *s);
const char *sov_state_name(enum sov_state s);
bool job_status_terminal(enum job_status s);

#endif
