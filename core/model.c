/* model: enum <-> wire word tables (see model.h). */
#include "model.h"

#include <string.h>
#include <strings.h>

static const char *const job_status_names[JOB_STATUS_COUNT] = {
    "pending", "running", "succeeded", "failed", "healthy", "degraded", "failing",
};
static const char *const job_kind_names[KIND_COUNT] = {
    "lifecycle", "install", "reconcile", "step", "mutation",
    "cron", "task", "reconciler", "group",
};
static const char *const exec_status_names[EXEC_STATUS_COUNT] = {
    "running", "succeeded", "failed",
};
static const char *const log_level_names[LOG_LEVEL_COUNT] = {"INFO", "DEBUG", "WARN", "ERROR"};
static const char *const step_result_names[STEP_RESULT_COUNT] = {
    "", "running", "success", "failed", "skipped",
};

static int lookup(const char *const *names, int n, const char *s)
{
    if (!s)
        return -1;
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], s) == 0)
            return i;
    return -1;
}

const char *job_status_name(enum job_status s)
{
    return (unsigned)s < JOB_STATUS_COUNT ? job_status_names[s] : "pending";
}
int job_status_parse(const char *s) { return lookup(job_status_names, JOB_STATUS_COUNT, s); }

const char *job_kind_name(enum job_kind k)
{
    return (unsigned)k < KIND_COUNT ? job_kind_names[k] : "lifecycle";
}
int job_kind_parse(const char *s) { return lookup(job_kind_names, KIND_COUNT, s); }

static bool has_prefix(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

enum job_kind job_kind_from_name(const char *n, bool is_group)
{
    if (is_group)
        return KIND_GROUP;
    if (!n)
        return KIND_LIFECYCLE;
    if (strstr(n, "-step-"))
        return KIND_STEP;
    if (has_prefix(n, "mutation-"))
        return KIND_MUTATION;
    if (has_prefix(n, "install-"))
        return KIND_INSTALL;
    /* "reconciler-" must be tested before "reconcile-" would swallow it. */
    if (has_prefix(n, "reconciler-"))
        return KIND_RECONCILER;
    if (has_prefix(n, "reconcile-"))
        return KIND_RECONCILE;
    if (has_prefix(n, "cron-"))
        return KIND_CRON;
    if (has_prefix(n, "task-"))
        return KIND_TASK;
    return KIND_LIFECYCLE;
}

const char *exec_status_name(enum exec_status s)
{
    return (unsigned)s < EXEC_STATUS_COUNT ? exec_status_names[s] : "running";
}
int exec_status_parse(const char *s) { return lookup(exec_status_names, EXEC_STATUS_COUNT, s); }

const char *log_level_name(enum log_level l)
{
    return (unsigned)l < LOG_LEVEL_COUNT ? log_level_names[l] : "INFO";
}

enum log_level log_level_parse(const char *s)
{
    if (!s)
        return LOG_INFO;
    if (strcasecmp(s, "error") == 0)
        return LOG_ERROR;
    if (strcasecmp(s, "warn") == 0 || strcasecmp(s, "warning") == 0)
        return LOG_WARN;
    if (strcasecmp(s, "debug") == 0)
        return LOG_DEBUG;
    return LOG_INFO;
}

const char *step_result_name(enum step_result r)
{
    return (unsigned)r < STEP_RESULT_COUNT ? step_result_names[r] : "";
}
int step_result_parse(const char *s) { return lookup(step_result_names, STEP_RESULT_COUNT, s); }

const char *sov_state_name(enum sov_state s)
{
    return s == SOV_SOVEREIGN ? "sovereign" : "tethered";
}

bool job_status_terminal(enum job_status s) { return s == JOB_SUCCEEDED || s == JOB_FAILED; }
