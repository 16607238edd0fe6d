/*
 * spec: the Sovereign spec (DESIGN §5), loaded from YAML with libyaml and
 * validated whole. Every error names file:line:column and the offending key
 * or value when it is a short plain word (else "(not shown)": a message never
 * prints a line of the file, which may be anything); the loader never crashes
 * or hangs on hostile input (empty files, binary garbage, huge lines, deep
 * nesting, invalid UTF-8, a FIFO or device given as the file).
 *
 * After loading, the `apps` group is derived from the organizations: each
 * Application becomes an install job `install-<env>-<app>` and its Blueprint's
 * dependencies (flattened, deduplicated per Environment) become jobs
 * `install-<env>-<blueprint>` it depends on, each depending on its own
 * blueprint dependencies. Cutover steps stay in spec.cutover (the engine turns
 * them into jobs `cutover-step-<name>` of group `cutover`).
 *
 * Ownership: a struct spec owns an arena holding every string and array in it;
 * spec_free releases all of it. Thread safety: a loaded spec is immutable and
 * may be read from any thread.
 */
#ifndef CATALYST_SPEC_H
#define CATALYST_SPEC_H

#include "model.h"
#include "util.h"

struct arena;

struct spec_job {
    const char *name;          /* jobName, a slug */
    const char *display_name;  /* "" */
    const char *app;           /* appId, "" */
    const char *group;         /* the group's name (set by the loader) */
    const char **depends_on;   /* names as written (bare names or "<depId>:<name>") */
    size_t n_depends_on;
    const char *run;           /* shell command; NULL when simulated */
    struct kv *env;            /* extra environment for run */
    size_t n_env;
    int64_t timeout_ms;        /* 0: none */
    int retries;               /* extra attempts after the first, >= 0 */
    bool simulated;            /* simulate: block present (or neither run nor simulate) */
    int64_t sim_duration_ms;   /* at --speed 1 */
    int sim_fail_first;        /* the first N attempts fail */
    const char **sim_logs;     /* log lines spread over the duration ("WARN: x" => WARN) */
    size_t n_sim_logs;
    int64_t hold_ms;           /* cutover steps: egress-block style hold, 0 none */
    const char *label;         /* cutover steps: operator label, "" */
    int line, column;          /* where the job was declared */
};

struct spec_group {
    const char *name;
    const char *display_name;
    const char **after;        /* groups whose every job must succeed first */
    size_t n_after;
    struct spec_job *jobs;
    size_t n_jobs;
    int line, column;
};

struct spec_blueprint {
    const char *name;
    const char *version;
    const char **depends;
    size_t n_depends;
    int line, column;
};

struct spec_app {
    const char *name;
    const char *blueprint;
    int line, column;
};

struct spec_env {
    const char *type;          /* prod|stg|uat|dev|poc */
    const char *name;          /* "<org>-<type>" */
    struct spec_app *apps;
    size_t n_apps;
};

struct spec_org {
    const char *name;
    struct spec_env *envs;
    size_t n_envs;
};

struct spec_cutover {
    bool present;
    bool auto_start;
    const char **after;
    size_t n_after;
    struct spec_job *steps;    /* in execution order */
    size_t n_steps;
};

struct spec {
    const char *file;          /* name used in messages ("<demo>" for the embedded one) */
    const char *name;          /* sovereign.name */
    const char *fqdn;
    const char *provider;
    const char **regions;
    size_t n_regions;
    const char *deployment_id; /* sovereign.deploymentId, "" => the store assigns one */
    struct spec_blueprint *blueprints;
    size_t n_blueprints;
    struct spec_org *orgs;
    size_t n_orgs;
    struct spec_group *groups; /* lifecycle order, derived `apps` included */
    size_t n_groups;
    struct spec_cutover cutover;
    struct arena *arena;       /* owns everything above */
};

/* NULL with err filled (code EXIT_USAGE, file:line:column) on any problem. */
struct spec *spec_load_file(const char *path, struct error *err);
struct spec *spec_load_buffer(const char *data, size_t len, const char *name, struct error *err);
/* The embedded demo Sovereign (compiled in from core/demo.yaml). */
struct spec *spec_load_demo(struct error *err);
void spec_free(struct spec *spec);

/* Total jobs over all groups (cutover steps excluded). */
size_t spec_job_count(const struct spec *spec);
/* A blueprint by name, NULL when absent. */
const struct spec_blueprint *spec_find_blueprint(const struct spec *spec, const char *name);

#endif
