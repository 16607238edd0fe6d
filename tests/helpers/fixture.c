/* fixture: hand-built snapshots for view tests and benches (see fixture.h). */
#include "fixture.h"

#include "arena.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEC INT64_C(1000)

struct builder {
    struct snapshot *s;
    struct arena *a;
    size_t cap;
    const char *dep;
};

static const char *fmt_id(struct builder *b, const char *name)
{
    return arena_printf(b->a, "%s:%s", b->dep, name);
}

/* Splits "a,b,c" into arena strings. */
static void set_deps(struct builder *b, struct job *j, const char *csv)
{
    if (!csv || !*csv)
        return;
    size_t n = 1;
    for (const char *p = csv; *p; p++)
        n += *p == ',';
    j->depends_on = arena_calloc(b->a, n, sizeof(char *));
    j->n_depends_on = 0;
    const char *p = csv;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        j->depends_on[j->n_depends_on++] = arena_strndup(b->a, p, len);
        p += len + (e ? 1 : 0);
    }
}

static struct job *add_job(struct builder *b, const char *name, const char *parent,
                           const char *app, enum job_status st, int64_t start_s, int64_t dur_s,
                           const char *deps)
{
    struct snapshot *s = b->s;
    if (s->n_jobs >= b->cap)
        abort();
    struct job *j = &s->jobs[s->n_jobs++];
    j->id = fmt_id(b, name);
    j->deployment_id = b->dep;
    j->job_name = arena_strdup(b->a, name);
    j->display_name = "";
    j->app_id = arena_strdup(b->a, app);
    j->region = "";
    j->parent_id = parent ? fmt_id(b, parent) : "";
    j->latest_execution_id = "";
    j->kind = KIND_INSTALL;
    j->status = st;
    if (start_s >= 0) {
        j->started_at = FIXTURE_T0 + start_s * SEC;
        if (st != JOB_RUNNING && st != JOB_PENDING && dur_s >= 0) {
            j->finished_at = j->started_at + dur_s * SEC;
            j->duration_ms = dur_s * SEC;
        }
    }
    set_deps(b, j, deps);
    return j;
}

static struct job *add_group(struct builder *b, const char *name, const char *display,
                             enum job_status st)
{
    struct job *g = add_job(b, name, NULL, "", st, -1, -1, NULL);
    g->is_group = true;
    g->kind = KIND_GROUP;
    g->display_name = display;
    return g;
}

/* Group times and children from the leaves that name it as parent. */
static void close_groups(struct builder *b)
{
    struct snapshot *s = b->s;
    for (size_t g = 0; g < s->n_jobs; g++) {
        struct job *gj = &s->jobs[g];
        if (!gj->is_group)
            continue;
        size_t n = 0;
        for (size_t i = 0; i < s->n_jobs; i++)
            n += strcmp(s->jobs[i].parent_id, gj->id) == 0;
        gj->child_ids = arena_calloc(b->a, n ? n : 1, sizeof(char *));
        int64_t start = 0, end = 0;
        bool open = false;
        for (size_t i = 0; i < s->n_jobs; i++) {
            const struct job *c = &s->jobs[i];
            if (strcmp(c->parent_id, gj->id) != 0)
                continue;
            gj->child_ids[gj->n_child_ids++] = c->id;
            if (c->started_at && (!start || c->started_at < start))
                start = c->started_at;
            if (c->finished_at > end)
                end = c->finished_at;
            if (!job_status_terminal(c->status))
                open = true;
        }
        gj->started_at = start;
        if (!open && end) {
            gj->finished_at = end;
            gj->duration_ms = end - start;
        }
    }
}

static const char *hex_id(struct builder *b, size_t k)
{
    return arena_printf(b->a, "%08zx%024llx", k + 1, (unsigned long long)0xc0ffee);
}

/* One execution per started leaf (two for the failed postgres install). */
static void add_executions(struct builder *b)
{
    struct snapshot *s = b->s;
    size_t cap = s->n_jobs + 4;
    s->executions = arena_calloc(b->a, cap, sizeof(struct execution));
    s->n_executions = 0;
    for (size_t i = 0; i < s->n_jobs; i++) {
        struct job *j = &s->jobs[i];
        if (j->is_group || !j->started_at)
            continue;
        if (strcmp(j->job_name, "install-globex-prod-postgres") == 0) {
            struct execution *x = &s->executions[s->n_executions];
            x->id = hex_id(b, s->n_executions);
            s->n_executions++;
            x->job_id = j->id;
            x->deployment_id = b->dep;
            x->status = EXEC_FAILED;
            x->started_at = FIXTURE_T0 + 1506 * SEC;
            x->finished_at = FIXTURE_T0 + 1560 * SEC;
            x->line_count = 12;
        }
        struct execution *x = &s->executions[s->n_executions];
        x->id = hex_id(b, s->n_executions);
        s->n_executions++;
        x->job_id = j->id;
        x->deployment_id = b->dep;
        x->status = j->status == JOB_RUNNING  ? EXEC_RUNNING
                    : j->status == JOB_FAILED ? EXEC_FAILED
                                              : EXEC_SUCCEEDED;
        x->started_at = j->started_at;
        x->finished_at = j->finished_at;
        x->line_count = 20;
        j->latest_execution_id = x->id;
        j->run_count = strcmp(j->job_name, "install-globex-prod-postgres") == 0 ? 2 : 1;
    }
}

static const char *const step_names[] = {
    "gitea-mirror",          "harbor-projects",        "harbor-prewarm",
    "registry-pivot",        "flux-gitrepository-patch", "helmrepository-patches",
    "catalyst-api-env-patch", "egress-block-test",     "gitea-token-mint",
    "vcluster-registry-pivot", "crossplane-provider-pivot",
};
#define N_STEPS 11

static void add_cutover(struct builder *b, bool sovereign)
{
    struct snapshot *s = b->s;
    struct cutover_status *c = &s->cutover;
    c->available = true;
    c->state_present = true;
    c->state = sovereign ? SOV_SOVEREIGN : SOV_TETHERED;
    c->complete = sovereign;
    c->started_at = FIXTURE_T0 + 3000 * SEC;
    c->last_attempt_started_at = c->started_at;
    c->running = !sovereign;
    c->total_steps = N_STEPS;
    c->steps = arena_calloc(b->a, N_STEPS, sizeof(struct cutover_step));
    c->n_steps = N_STEPS;
    int done = 0;
    for (int k = 0; k < N_STEPS; k++) {
        struct cutover_step *st = &c->steps[k];
        st->name = step_names[k];
        st->job_name = arena_printf(b->a, "cutover-step-%s", step_names[k]);
        st->message = "";
        bool ok = sovereign || k < 7;
        if (ok) {
            st->result = STEP_SUCCESS;
            st->started_at = FIXTURE_T0 + (3000 + k * 500) * SEC;
            st->finished_at = st->started_at + 400 * SEC;
            done++;
        } else if (k == 7) {
            st->result = STEP_RUNNING;
            st->started_at = FIXTURE_NOW - 48 * SEC;
        }
        if (strcmp(st->name, "egress-block-test") == 0) {
            st->hold_seconds = 600;
            if (st->result == STEP_RUNNING)
                st->hold_until = st->started_at + 600 * SEC;
        }
    }
    c->current_step = sovereign ? "" : "egress-block-test";
    c->current_step_index = sovereign ? N_STEPS : 7;
    c->progress_percent = done * 100 / N_STEPS;
    c->mirrored_commit_sha = "4e1f0c9a2b7d8e6f5a4b3c2d1e0f9a8b7c6d5e4f";
    c->harbor_project_count = 7;
    c->egress_test_passed = sovereign ? 1 : -1;
    c->settled_roll_overrides =
        "flux-system/bp-langfuse=Stalled\nflux-system/bp-velero=DependencyNotReady";
    if (sovereign)
        c->finished_at = FIXTURE_T0 + 9000 * SEC;
    c->raw = arena_calloc(b->a, 2, sizeof(struct kv));
    c->raw[0].key = "cutoverComplete";
    c->raw[0].value = sovereign ? "true" : "false";
    c->raw[1].key = "mirroredCommitSHA";
    c->raw[1].value = c->mirrored_commit_sha;
    c->n_raw = 2;
}

struct app_def {
    const char *org, *env, *type, *name, *bp, *status;
};

static const struct app_def app_defs[] = {
    {"acme", "acme-prod", "prod", "shop", "wordpress", "succeeded"},
    {"acme", "acme-prod", "prod", "blog", "wordpress", "succeeded"},
    {"acme", "acme-stg", "stg", "shop", "wordpress", "pending"},
    {"globex", "globex-prod", "prod", "erp", "odoo", "failed"},
    {"globex", "globex-dev", "dev", "wiki", "mediawiki", "pending"},
    {"initech", "initech-prod", "prod", "cache", "valkey", "running"},
    {"initech", "initech-uat", "uat", "crm", "suitecrm", "pending"},
    {"initech", "initech-dev", "dev", "analytics", "metabase", "pending"},
};

struct bp_def {
    const char *name, *version, *deps;
};

static const struct bp_def bp_defs[] = {
    {"wordpress", "6.5.2", "mysql,valkey"}, {"mysql", "8.4.0", "cnpg"},
    {"cnpg", "1.23.1", ""},                 {"valkey", "7.2.4", ""},
    {"odoo", "17.0", "postgres"},           {"postgres", "16.2", "cnpg"},
    {"mediawiki", "1.41.1", "mysql"},       {"suitecrm", "8.5.0", "mysql"},
    {"metabase", "0.49.3", "postgres"},
};

#define N_APPS (sizeof(app_defs) / sizeof(app_defs[0]))
#define N_BPS (sizeof(bp_defs) / sizeof(bp_defs[0]))

static const struct bp_def *find_bp(const char *name)
{
    for (size_t k = 0; k < N_BPS; k++)
        if (strcmp(bp_defs[k].name, name) == 0)
            return &bp_defs[k];
    return NULL;
}

static size_t split_csv(struct builder *b, const char *csv, const char ***out)
{
    struct job tmp = {0};
    set_deps(b, &tmp, csv);
    *out = tmp.depends_on;
    return tmp.n_depends_on;
}

/* Flattened blueprint dependencies of bp (depth first, deduplicated). */
static void flatten(const char *bp, const char **acc, size_t *n, size_t cap)
{
    const struct bp_def *d = find_bp(bp);
    if (!d || !*d->deps)
        return;
    char buf[128];
    snprintf(buf, sizeof(buf), "%s", d->deps);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        const struct bp_def *dd = find_bp(t);
        if (!dd)
            continue;
        bool seen = false;
        for (size_t k = 0; k < *n; k++)
            seen |= strcmp(acc[k], dd->name) == 0;
        if (!seen && *n < cap)
            acc[(*n)++] = dd->name;
        flatten(dd->name, acc, n, cap);
    }
}

static void add_orgs(struct builder *b)
{
    struct snapshot *s = b->s;
    s->orgs_available = true;
    s->blueprints = arena_calloc(b->a, N_BPS, sizeof(struct blueprint));
    s->n_blueprints = N_BPS;
    for (size_t k = 0; k < N_BPS; k++) {
        s->blueprints[k].name = bp_defs[k].name;
        s->blueprints[k].version = bp_defs[k].version;
        s->blueprints[k].n_depends = split_csv(b, bp_defs[k].deps, &s->blueprints[k].depends);
    }
    s->orgs = arena_calloc(b->a, 3, sizeof(struct organization));
    for (size_t k = 0; k < N_APPS; k++) {
        const struct app_def *d = &app_defs[k];
        struct organization *o = NULL;
        for (size_t i = 0; i < s->n_orgs; i++)
            if (strcmp(s->orgs[i].name, d->org) == 0)
                o = &s->orgs[i];
        if (!o) {
            o = &s->orgs[s->n_orgs++];
            o->name = d->org;
            o->envs = arena_calloc(b->a, 3, sizeof(struct environment));
        }
        struct environment *e = NULL;
        for (size_t i = 0; i < o->n_envs; i++)
            if (strcmp(o->envs[i].name, d->env) == 0)
                e = &o->envs[i];
        if (!e) {
            e = &o->envs[o->n_envs++];
            e->name = d->env;
            e->type = d->type;
            e->apps = arena_calloc(b->a, 4, sizeof(struct application));
        }
        struct application *ap = &e->apps[e->n_apps++];
        ap->name = d->name;
        ap->blueprint = d->bp;
        ap->version = find_bp(d->bp)->version;
        ap->status = d->status;
        const char **acc = arena_calloc(b->a, 8, sizeof(char *));
        size_t n = 0;
        flatten(d->bp, acc, &n, 8);
        ap->depends_on = acc;
        ap->n_depends_on = n;
    }
}

static void add_detail(struct builder *b)
{
    struct snapshot *s = b->s;
    int32_t i = -1;
    for (size_t k = 0; k < s->n_jobs; k++)
        if (strcmp(s->jobs[k].job_name, "install-globex-prod-postgres") == 0)
            i = (int32_t)k;
    struct job_detail *d = &s->detail;
    d->job_id = s->jobs[i].id;
    d->found = true;
    d->executions = arena_calloc(b->a, 2, sizeof(struct execution));
    for (size_t k = 0; k < s->n_executions; k++)
        if (strcmp(s->executions[k].job_id, d->job_id) == 0)
            d->executions[d->n_executions++] = s->executions[k];
    /* newest first */
    if (d->n_executions == 2 && d->executions[0].started_at < d->executions[1].started_at) {
        struct execution t = d->executions[0];
        d->executions[0] = d->executions[1];
        d->executions[1] = t;
    }
    d->log_execution_id = d->executions[0].id;
    static const struct {
        enum log_level lv;
        const char *msg;
    } lines[] = {
        {LOG_INFO, "helm upgrade --install bp-postgres oci://ghcr.io/openova-io/bp-postgres"},
        {LOG_DEBUG, "values: replicas=3 storage=20Gi"},
        {LOG_INFO, "Release \"bp-postgres\" does not exist. Installing it now."},
        {LOG_INFO, "waiting for StatefulSet globex-prod/postgres to be ready"},
        {LOG_WARN, "pod postgres-0: 0/1 ready (ImagePullBackOff)"},
        {LOG_INFO, "evil \x1b[31mred\x1b]0;pwned\x07 bell\x07 cr\r end \xff\xfe"},
        {LOG_WARN, "pod postgres-0: back-off pulling image"},
        {LOG_INFO, "still waiting (30s)"},
        {LOG_WARN, "pod postgres-0: 0/1 ready (ImagePullBackOff)"},
        {LOG_INFO, "still waiting (60s)"},
        {LOG_ERROR, "helm install failed: timed out waiting for the condition"},
        {LOG_ERROR, "execution failed after 60s"},
    };
    size_t n = sizeof(lines) / sizeof(lines[0]);
    d->lines = arena_calloc(b->a, n, sizeof(struct log_line));
    for (size_t k = 0; k < n; k++) {
        d->lines[k].line_number = (int64_t)k + 1;
        d->lines[k].timestamp = d->executions[0].started_at + (int64_t)k * 5 * SEC + 123;
        d->lines[k].level = lines[k].lv;
        d->lines[k].message = lines[k].msg;
    }
    d->n_lines = n;
    d->log_total = (int64_t)n;
    d->log_finished = true;
}

static void add_activity(struct builder *b)
{
    static const struct {
        const char *job;
        int64_t ago_s;
        enum log_level lv;
        const char *msg;
    } act[] = {
        {"install-globex-prod-postgres", 2950, LOG_ERROR, "helm install failed: timed out"},
        {"cutover-step-catalyst-api-env-patch", 210, LOG_INFO, "catalyst-api rolled"},
        {"install-initech-prod-valkey", 90, LOG_INFO, "helm upgrade --install bp-valkey"},
        {"cutover-step-egress-block-test", 48, LOG_INFO, "egress to github.com denied"},
        {"cutover-step-egress-block-test", 40, LOG_INFO, "egress to ghcr.io denied"},
        {"install-initech-prod-valkey", 20, LOG_WARN, "pod valkey-0: 0/1 ready"},
        {"cutover-step-egress-block-test", 10, LOG_INFO, "all 48 reconcilers Ready"},
        {"install-initech-prod-valkey", 3, LOG_INFO, "waiting for valkey-0"},
    };
    size_t n = sizeof(act) / sizeof(act[0]);
    struct snapshot *s = b->s;
    s->activity = arena_calloc(b->a, n, sizeof(struct activity_line));
    for (size_t k = 0; k < n; k++) {
        s->activity[k].job_name = act[k].job;
        s->activity[k].line.line_number = (int64_t)k + 1;
        s->activity[k].line.timestamp = FIXTURE_NOW - act[k].ago_s * SEC;
        s->activity[k].line.level = act[k].lv;
        s->activity[k].line.message = act[k].msg;
    }
    s->n_activity = n;
}

static struct snapshot *build_demo(bool sovereign, bool restatus)
{
    struct builder b = {0};
    b.s = snapshot_new();
    if (!b.s)
        return NULL;
    b.a = snapshot_arena(b.s);
    b.cap = 96;
    b.dep = FIXTURE_DEP;
    struct snapshot *s = b.s;
    s->generation = restatus ? 2 : 1;
    s->source.mode = "standalone";
    s->source.state_dir = "/var/lib/catalyst";
    s->source.ok = true;
    s->source.fetched_at = FIXTURE_NOW - 1000;
    s->sovereign_name = "omantel";
    s->provider = "hetzner";
    s->has_deployment = true;
    struct deployment *d = &s->deployment;
    d->id = FIXTURE_DEP;
    d->status = "ready";
    d->started_at = FIXTURE_T0;
    d->sovereign_fqdn = "omantel.omani.works";
    d->region = "fsn1";
    d->error = d->org_name = d->owner_email = d->control_plane_ip = "";
    d->load_balancer_ip = d->console_url = d->gitops_repo_url = d->phase1_outcome = "";
    d->handover_fired_at = FIXTURE_T0 + 1451 * SEC;
    s->sov_status.available = true;
    s->sov_status.helm_releases_ready = 52;
    s->sov_status.helm_releases_total = 54;
    s->sov_status.pods_running = 131;
    s->sov_status.pods_total = 133;
    s->jobs = arena_calloc(b.a, b.cap, sizeof(struct job));

    enum job_status S = JOB_SUCCEEDED, F = JOB_FAILED, R = JOB_RUNNING, P = JOB_PENDING;
    add_group(&b, "provisioner", "Provision Hetzner", S);
    add_job(&b, "tofu-init", "provisioner", "", S, 0, 20, "");
    add_job(&b, "tofu-plan", "provisioner", "", S, 20, 40, "tofu-init");
    add_job(&b, "tofu-apply", "provisioner", "", S, 60, 300, "tofu-plan");
    add_job(&b, "tofu-output", "provisioner", "", S, 360, 10, "tofu-apply");
    add_job(&b, "cluster-bootstrap", "provisioner", "", S, 370, 230, "tofu-output");
    add_group(&b, "bootstrap-kit", "Bootstrap", S);
    add_job(&b, "install-cilium", "bootstrap-kit", "cilium", S, 600, 141, "cluster-bootstrap");
    add_job(&b, "install-cert-manager", "bootstrap-kit", "cert-manager", S, 741, 60,
            "install-cilium");
    add_job(&b, "install-flux", "bootstrap-kit", "flux", S, 801, 45, "install-cert-manager");
    add_job(&b, "install-crossplane", "bootstrap-kit", "crossplane", S, 846, 120,
            "install-flux");
    add_job(&b, "install-spire", "bootstrap-kit", "spire", S, 801, 90, "install-cert-manager");
    add_job(&b, "install-openbao", "bootstrap-kit", "openbao", S, 891, 150, "install-spire");
    add_job(&b, "install-keycloak", "bootstrap-kit", "keycloak", S, 801, 200,
            "install-cert-manager");
    add_job(&b, "install-gitea", "bootstrap-kit", "gitea", S, 1001, 180, "install-keycloak");
    add_job(&b, "install-catalyst-platform", "bootstrap-kit", "catalyst-platform", S, 1181, 240,
            "install-gitea");
    add_job(&b, "install-cnpg", "bootstrap-kit", "cnpg", S, 846, 60, "install-flux");
    add_job(&b, "install-seaweedfs", "bootstrap-kit", "seaweedfs", S, 846, 100,
            "install-flux,install-cert-manager");
    add_job(&b, "install-harbor", "bootstrap-kit", "harbor", S, 946, 260,
            "install-cnpg,install-seaweedfs,install-cert-manager");
    add_group(&b, "handover", "Handover", S);
    add_job(&b, "handover-import", "handover", "", S, 1421, 30,
            "install-catalyst-platform,install-harbor");
    add_group(&b, "apps", "Apps", restatus ? S : F);
    add_job(&b, "install-acme-prod-cnpg", "apps", "cnpg", S, 1451, 60, "handover-import");
    add_job(&b, "install-acme-prod-mysql", "apps", "mysql", S, 1511, 90,
            "install-acme-prod-cnpg");
    add_job(&b, "install-acme-prod-valkey", "apps", "valkey", S, 1451, 40, "handover-import");
    add_job(&b, "install-acme-prod-shop", "apps", "shop", S, 1601, 120,
            "install-acme-prod-mysql,install-acme-prod-valkey");
    add_job(&b, "install-globex-prod-cnpg", "apps", "cnpg", S, 1451, 55, "handover-import");
    add_job(&b, "install-globex-prod-postgres", "apps", "postgres", restatus ? S : F, 1700, 60,
            "install-globex-prod-cnpg");
    add_job(&b, "install-globex-prod-erp", "apps", "erp", restatus ? R : F, restatus ? 1800 : -1,
            -1, "install-globex-prod-postgres");
    add_job(&b, "install-initech-prod-valkey", "apps", "valkey", R, 6505, -1, "handover-import");
    add_job(&b, "install-initech-prod-cache", "apps", "cache", P, -1, -1,
            "install-initech-prod-valkey");
    add_group(&b, "cutover", "Cutover", sovereign ? S : R);
    for (int k = 0; k < N_STEPS; k++) {
        char name[80], prev[80];
        snprintf(name, sizeof(name), "cutover-step-%s", step_names[k]);
        snprintf(prev, sizeof(prev), "cutover-step-%s", k ? step_names[k - 1] : "");
        enum job_status st = sovereign || k < 7 ? S : k == 7 ? R : P;
        int64_t start = st == P ? -1 : k == 7 && !sovereign ? 6552 : 3000 + k * 500;
        struct job *j = add_job(&b, name, "cutover", "", st, start, 400,
                                k ? prev : "handover-import");
        j->kind = KIND_STEP;
    }
    /* provisioner jobs are lifecycle kind */
    for (size_t k = 1; k <= 5; k++)
        s->jobs[k].kind = KIND_LIFECYCLE;
    close_groups(&b);
    add_executions(&b);
    add_cutover(&b, sovereign);
    add_orgs(&b);
    add_detail(&b);
    add_activity(&b);
    if (snapshot_finalize(s) != 0) {
        snapshot_release(s);
        return NULL;
    }
    return s;
}

struct snapshot *fixture_demo(void) { return build_demo(false, false); }
struct snapshot *fixture_sovereign(void) { return build_demo(true, false); }
struct snapshot *fixture_demo_restatused(void) { return build_demo(false, true); }

static uint64_t lcg(uint64_t *st)
{
    *st = *st * 6364136223846793005ULL + 1442695040888963407ULL;
    return *st >> 33;
}

struct snapshot *fixture_synthetic(size_t n, uint64_t seed)
{
    struct builder b = {0};
    b.s = snapshot_new();
    if (!b.s)
        return NULL;
    b.a = snapshot_arena(b.s);
    size_t per_group = 200;
    size_t n_groups = (n + per_group - 1) / per_group;
    b.cap = n + n_groups;
    b.dep = "synthetic0000001";
    struct snapshot *s = b.s;
    s->generation = 1;
    s->source.mode = "standalone";
    s->sovereign_name = "synthetic";
    s->jobs = arena_calloc(b.a, b.cap, sizeof(struct job));
    uint64_t st = seed ? seed : 1;
    for (size_t g = 0; g < n_groups; g++) {
        char gname[32];
        snprintf(gname, sizeof(gname), "group-%03zu", g);
        add_group(&b, gname, "", JOB_RUNNING);
        size_t end = (g + 1) * per_group < n ? (g + 1) * per_group : n;
        for (size_t i = g * per_group; i < end; i++) {
            char name[32], deps[128] = "";
            snprintf(name, sizeof(name), "job-%05zu", i);
            size_t nd = i ? 1 + lcg(&st) % 3 : 0;
            size_t len = 0;
            for (size_t k = 0; k < nd; k++) {
                size_t window = i < 300 ? i : 300;
                size_t d = i - 1 - lcg(&st) % window;
                len += (size_t)snprintf(deps + len, sizeof(deps) - len, "%sjob-%05zu",
                                        k ? "," : "", d);
            }
            double frac = (double)i / (double)n;
            enum job_status js = frac < 0.70   ? JOB_SUCCEEDED
                                 : frac < 0.72 ? JOB_RUNNING
                                 : frac < 0.74 ? JOB_FAILED
                                               : JOB_PENDING;
            int64_t start = js == JOB_PENDING ? -1 : (int64_t)(i / 4);
            add_job(&b, name, gname, i % 7 ? "" : "app", js, start,
                    (int64_t)(5 + lcg(&st) % 120), deps);
        }
    }
    close_groups(&b);
    add_executions(&b);
    /* The demo's cutover and tree, so every view has something to draw. */
    add_cutover(&b, false);
    add_orgs(&b);
    if (snapshot_finalize(s) != 0) {
        snapshot_release(s);
        return NULL;
    }
    return s;
}
