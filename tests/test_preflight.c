/*
 * test_preflight: the cutover readiness checklist (core/preflight.c) on fixed
 * snapshots, the engine's start refused with 425 until forced and its auto
 * start held back by the checklist, and the checklist in the cutover view.
 */
#include <criterion/criterion.h>

#include "arena.h"
#include "canvas.h"
#include "engine.h"
#include "preflight.h"
#include "snapshot.h"
#include "view.h"
#include "helpers/testutil.h"

#include <locale.h>
#include <stdio.h>
#include <string.h>

#define DEP "0123456789abcdef"

/* ---------------------------------------------------------------- builder */

struct b {
    struct snapshot *s;
    struct arena *a;
};

static struct b b_new(void)
{
    struct b b = {snapshot_new(), NULL};
    cr_assert_not_null(b.s);
    b.a = snapshot_arena(b.s);
    b.s->jobs = arena_calloc(b.a, 1200, sizeof(struct job));
    cr_assert_not_null(b.s->jobs);
    b.s->has_deployment = true;
    b.s->deployment.id = DEP;
    b.s->cutover.available = true;
    return b;
}

static struct job *job(struct b *b, const char *name, const char *group, const char *app,
                       enum job_status st)
{
    struct job *j = &b->s->jobs[b->s->n_jobs++];
    j->id = arena_printf(b->a, "%s:%s", DEP, name);
    j->deployment_id = DEP;
    j->job_name = arena_strdup(b->a, name);
    j->display_name = "";
    j->app_id = arena_strdup(b->a, app ? app : "");
    j->region = "";
    j->parent_id = group ? arena_printf(b->a, "%s:%s", DEP, group) : "";
    j->latest_execution_id = "";
    j->depends_on = arena_calloc(b->a, 1, sizeof(char *));
    j->kind = job_kind_from_name(name, false);
    j->status = st;
    return j;
}

static void group(struct b *b, const char *name, enum job_status st)
{
    struct job *g = job(b, name, NULL, "", st);
    g->is_group = true;
    g->kind = KIND_GROUP;
}

static const char *const steps4[] = {"gitea-mirror", "harbor-projects",
                                     "flux-gitrepository-patch", "registry-pivot"};

/* The cutover group with steps (all pending unless running_step >= 0). */
static void cutover(struct b *b, const char *const *names, size_t n, int running_step)
{
    group(b, "cutover", running_step >= 0 ? JOB_RUNNING : JOB_PENDING);
    struct cutover_status *c = &b->s->cutover;
    c->steps = arena_calloc(b->a, n, sizeof(*c->steps));
    c->n_steps = n;
    for (size_t k = 0; k < n; k++) {
        bool run = (int)k == running_step;
        c->steps[k].name = names[k];
        c->steps[k].job_name = arena_printf(b->a, "cutover-step-%s", names[k]);
        c->steps[k].message = "";
        c->steps[k].result = run ? STEP_RUNNING : (int)k < running_step ? STEP_SUCCESS
                                                                          : STEP_PENDING;
        job(b, c->steps[k].job_name, "cutover", "",
            run ? JOB_RUNNING : (int)k < running_step ? JOB_SUCCEEDED : JOB_PENDING);
    }
    c->running = running_step >= 0;
}

/* A small Sovereign: provisioner, bootstrap kit (gitea, harbor, flux), handover, cutover. */
static struct snapshot *sov(enum job_status harbor, enum job_status handover, bool with_harbor)
{
    struct b b = b_new();
    group(&b, "provisioner", JOB_SUCCEEDED);
    job(&b, "tofu-init", "provisioner", "", JOB_SUCCEEDED);
    group(&b, "bootstrap-kit", JOB_SUCCEEDED);
    job(&b, "install-gitea", "bootstrap-kit", "gitea", JOB_SUCCEEDED);
    if (with_harbor)
        job(&b, "install-harbor", "bootstrap-kit", "harbor", harbor);
    job(&b, "install-flux", "bootstrap-kit", "flux", JOB_SUCCEEDED);
    group(&b, "handover", handover);
    job(&b, "handover-step-dns-records", "handover", "", JOB_SUCCEEDED);
    job(&b, "handover-step-console-ready", "handover", "", handover);
    cutover(&b, steps4, 4, -1);
    cr_assert_eq(snapshot_finalize(b.s), 0);
    return b.s;
}

static const struct preflight_check *check(const struct preflight *p, const char *id)
{
    for (size_t k = 0; k < p->n_checks; k++)
        if (strcmp(p->checks[k].id, id) == 0)
            return &p->checks[k];
    cr_assert_fail("no check %s", id);
    return NULL;
}

static bool has(const char *hay, const char *needle) { return strstr(hay, needle) != NULL; }

/* ---------------------------------------------------------------- pure checks */

Test(preflight, all_ok)
{
    struct snapshot *s = sov(JOB_SUCCEEDED, JOB_SUCCEEDED, true);
    struct preflight p;
    preflight_compute(s, &p);
    cr_assert(p.ready);
    cr_assert_eq(p.n_checks, 4);
    cr_assert_eq(p.n_failing, 0);
    const char *ids[] = {"handover-complete", "jobs-succeeded", "components-installed",
                         "cutover-idle"};
    for (size_t k = 0; k < 4; k++) {
        cr_assert_str_eq(p.checks[k].id, ids[k]);
        cr_assert(p.checks[k].ok, "%s: %s", ids[k], p.checks[k].detail);
        cr_assert_gt(strlen(p.checks[k].title), 5);
    }
    cr_assert_str_eq(check(&p, "handover-complete")->detail, "2 handover steps succeeded");
    cr_assert_str_eq(check(&p, "jobs-succeeded")->detail, "all 6 jobs succeeded");
    /* registry-pivot also touches dragonfly, which this Sovereign does not have. */
    cr_assert_str_eq(check(&p, "components-installed")->detail,
                     "installed: gitea, harbor, flux; not in this Sovereign: dragonfly");
    char sum[64];
    preflight_summary(&p, sum, sizeof(sum));
    cr_assert_str_empty(sum);
    snapshot_release(s);
}

Test(preflight, handover_pending)
{
    struct snapshot *s = sov(JOB_SUCCEEDED, JOB_PENDING, true);
    struct preflight p;
    preflight_compute(s, &p);
    cr_assert_not(p.ready);
    const struct preflight_check *h = check(&p, "handover-complete");
    cr_assert_not(h->ok);
    cr_assert_str_eq(h->detail,
                     "1 of 2 handover steps not succeeded: handover-step-console-ready (pending)");
    /* The same step is a job outside the cutover, so that check fails too. */
    const struct preflight_check *j = check(&p, "jobs-succeeded");
    cr_assert_not(j->ok);
    cr_assert_str_eq(j->detail, "1 job not succeeded: handover-step-console-ready (pending)");
    cr_assert(check(&p, "components-installed")->ok);
    cr_assert(check(&p, "cutover-idle")->ok);
    cr_assert_eq(p.n_failing, 2);
    char sum[512];
    preflight_summary(&p, sum, sizeof(sum));
    cr_assert(has(sum, "2 of 4 preflight checks fail: Handover finished: 1 of 2"), "%s", sum);
    cr_assert(has(sum, "; Every job outside the cutover succeeded: 1 job"), "%s", sum);
    snapshot_release(s);
}

Test(preflight, a_job_failed)
{
    struct b b = b_new();
    group(&b, "provisioner", JOB_FAILED);
    job(&b, "tofu-init", "provisioner", "", JOB_SUCCEEDED);
    job(&b, "tofu-plan", "provisioner", "", JOB_PENDING);
    job(&b, "tofu-apply", "provisioner", "", JOB_FAILED);
    job(&b, "tofu-output", "provisioner", "", JOB_RUNNING);
    cutover(&b, steps4, 1, -1);
    cr_assert_eq(snapshot_finalize(b.s), 0);
    struct preflight p;
    preflight_compute(b.s, &p);
    const struct preflight_check *j = check(&p, "jobs-succeeded");
    cr_assert_not(j->ok);
    /* The most telling first: failed, then running, then pending. */
    cr_assert_str_eq(j->detail, "3 jobs not succeeded: tofu-apply (failed), tofu-output "
                                "(running), tofu-plan (pending)");
    /* No handover group and no handoverFiredAt: not in this Sovereign. */
    const struct preflight_check *h = check(&p, "handover-complete");
    cr_assert(h->ok);
    cr_assert(has(h->detail, "no handover in this Sovereign"), "%s", h->detail);
    cr_assert_not(p.ready);
    cr_assert_eq(p.n_failing, 1);
    snapshot_release(b.s);
}

Test(preflight, harbor_running_then_missing)
{
    struct snapshot *s = sov(JOB_RUNNING, JOB_SUCCEEDED, true);
    struct preflight p;
    preflight_compute(s, &p);
    const struct preflight_check *c = check(&p, "components-installed");
    cr_assert_not(c->ok);
    cr_assert_str_eq(c->detail, "not installed: harbor (install-harbor running); not in this "
                                "Sovereign: dragonfly");
    cr_assert_not(check(&p, "jobs-succeeded")->ok);
    snapshot_release(s);

    s = sov(JOB_SUCCEEDED, JOB_SUCCEEDED, false);
    preflight_compute(s, &p);
    c = check(&p, "components-installed");
    cr_assert(c->ok, "%s", c->detail);
    cr_assert_str_eq(c->detail,
                     "installed: gitea, flux; not in this Sovereign: harbor, dragonfly");
    cr_assert(p.ready);
    snapshot_release(s);
}

Test(preflight, component_matching_by_app_region_and_name)
{
    struct b b = b_new();
    group(&b, "bootstrap-kit", JOB_RUNNING);
    job(&b, "install-gitea", "bootstrap-kit", "", JOB_SUCCEEDED);  /* by name */
    job(&b, "install-harbor", "bootstrap-kit", "harbor", JOB_SUCCEEDED);
    job(&b, "install-hel1-harbor", "bootstrap-kit", "hel1:harbor", JOB_FAILED); /* region */
    job(&b, "install-harbor-exporter", "bootstrap-kit", "harbor-exporter", JOB_PENDING);
    job(&b, "mutation-create-gitea", "bootstrap-kit", "gitea", JOB_PENDING); /* not gitea */
    cutover(&b, steps4, 2, -1);
    cr_assert_eq(snapshot_finalize(b.s), 0);
    struct preflight p;
    preflight_compute(b.s, &p);
    const struct preflight_check *c = check(&p, "components-installed");
    cr_assert_not(c->ok);
    cr_assert_str_eq(c->detail, "not installed: harbor (install-hel1-harbor failed)");
    /* gitea (by name) is fine: the pending mutation with appId gitea is not an install. */
    cr_assert_null(strstr(c->detail, "gitea"), "%s", c->detail);
    snapshot_release(b.s);
}

Test(preflight, cutover_running)
{
    struct b b = b_new();
    group(&b, "provisioner", JOB_SUCCEEDED);
    job(&b, "tofu-init", "provisioner", "", JOB_SUCCEEDED);
    cutover(&b, steps4, 4, 1);
    cr_assert_eq(snapshot_finalize(b.s), 0);
    struct preflight p;
    preflight_compute(b.s, &p);
    const struct preflight_check *c = check(&p, "cutover-idle");
    cr_assert_not(c->ok);
    cr_assert_str_eq(c->detail, "a cutover is running (step harbor-projects)");
    /* The steps themselves are not jobs outside the cutover. */
    cr_assert(check(&p, "jobs-succeeded")->ok);
    cr_assert_eq(p.n_failing, 1);

    /* A remote status without the running flag: the running step job still counts. */
    b.s->cutover.running = false;
    b.s->cutover.steps[1].result = STEP_PENDING;
    preflight_compute(b.s, &p);
    c = check(&p, "cutover-idle");
    cr_assert_not(c->ok);
    cr_assert_str_eq(c->detail, "a cutover is running (step cutover-step-harbor-projects)");
    snapshot_release(b.s);
}

Test(preflight, spec_without_those_components)
{
    struct b b = b_new();
    group(&b, "build", JOB_SUCCEEDED);
    job(&b, "compile", "build", "", JOB_SUCCEEDED);
    job(&b, "cron-nightly", "build", "", JOB_PENDING); /* recurring: left out */
    b.s->jobs[b.s->n_jobs - 1].status = JOB_DEGRADED;
    static const char *const custom[] = {"announce", "gitea-mirror"};
    cutover(&b, custom, 2, -1);
    cr_assert_eq(snapshot_finalize(b.s), 0);
    struct preflight p;
    preflight_compute(b.s, &p);
    cr_assert(p.ready, "%s / %s", p.checks[1].detail, p.checks[2].detail);
    cr_assert_str_eq(check(&p, "components-installed")->detail,
                     "not in this Sovereign: gitea");
    cr_assert_str_eq(check(&p, "jobs-succeeded")->detail, "the one job succeeded");

    /* Only steps no map entry knows: nothing to check. */
    b.s->cutover.n_steps = 1;
    b.s->n_jobs -= 1; /* drop cutover-step-gitea-mirror */
    preflight_compute(b.s, &p);
    cr_assert_str_eq(check(&p, "components-installed")->detail,
                     "no known cutover step touches a component");
    snapshot_release(b.s);
}

Test(preflight, handover_fired_without_leaves)
{
    struct b b = b_new();
    group(&b, "handover", JOB_PENDING); /* upstream: an empty group */
    cutover(&b, steps4, 1, -1);
    cr_assert_eq(snapshot_finalize(b.s), 0);
    struct preflight p;
    preflight_compute(b.s, &p);
    const struct preflight_check *h = check(&p, "handover-complete");
    cr_assert_not(h->ok);
    cr_assert(has(h->detail, "has not fired"), "%s", h->detail);
    b.s->deployment.handover_fired_at = 1778572800000;
    preflight_compute(b.s, &p);
    h = check(&p, "handover-complete");
    cr_assert(h->ok);
    cr_assert_str_eq(h->detail, "handover fired");
    snapshot_release(b.s);
}

Test(preflight, unfinalized_snapshot_reads_parent_ids)
{
    /* The engine feeds a bare snapshot (no parent[]): the same answers. */
    struct snapshot *s = sov(JOB_RUNNING, JOB_PENDING, true);
    struct preflight a, b2;
    preflight_compute(s, &a);
    int32_t *saved = s->parent;
    s->parent = NULL;
    preflight_compute(s, &b2);
    s->parent = saved;
    cr_assert_eq(memcmp(&a, &b2, sizeof(a)), 0);
    snapshot_release(s);
}

Test(preflight, details_are_bounded)
{
    struct b b = b_new();
    group(&b, "bootstrap-kit", JOB_PENDING);
    for (int i = 0; i < 1000; i++) {
        char name[64];
        snprintf(name, sizeof(name), "install-component-with-a-long-name-%04d", i);
        job(&b, name, "bootstrap-kit", "", JOB_PENDING);
    }
    cutover(&b, steps4, 4, -1);
    cr_assert_eq(snapshot_finalize(b.s), 0);
    struct preflight p;
    preflight_compute(b.s, &p);
    const char *d = check(&p, "jobs-succeeded")->detail;
    cr_assert_lt(strlen(d), PREFLIGHT_DETAIL_MAX);
    cr_assert(has(d, "1000 jobs not succeeded: install-component-with-a-long-name-0000 "
                     "(pending)"), "%s", d);
    cr_assert(has(d, " more"), "%s", d);
    int listed = 0;
    for (const char *q = d; (q = strstr(q, "(pending)")); q++)
        listed++;
    char tail[64];
    snprintf(tail, sizeof(tail), ", and %d more", 1000 - listed);
    cr_assert(has(d, tail), "%s / %s", d, tail);

    char sum[100];
    preflight_summary(&p, sum, sizeof(sum));
    cr_assert_eq(strlen(sum), sizeof(sum) - 1);
    cr_assert(has(sum, "..."), "%s", sum);
    snapshot_release(b.s);
}

Test(preflight, no_snapshot_fails_every_check)
{
    struct preflight p;
    preflight_compute(NULL, &p);
    cr_assert_eq(p.n_checks, 4);
    cr_assert_eq(p.n_failing, 4);
    cr_assert_not(p.ready);
    cr_assert_str_eq(p.checks[2].detail, "no data yet");
}

Test(preflight, check_set_cuts_on_a_character)
{
    struct preflight_check c;
    char longer[400];
    memset(longer, 'a', sizeof(longer));
    /* "é" (2 bytes) straddling the limit is dropped whole. */
    longer[PREFLIGHT_DETAIL_MAX - 2] = '\xc3';
    longer[PREFLIGHT_DETAIL_MAX - 1] = '\xa9';
    longer[sizeof(longer) - 1] = '\0';
    preflight_check_set(&c, "x", "X", false, longer);
    cr_assert_eq(strlen(c.detail), PREFLIGHT_DETAIL_MAX - 2);
}

/* ---------------------------------------------------------------- engine */

#define HEAD "sovereign: {name: t1, fqdn: t1.example.com, provider: hetzner, regions: [fsn1]}\n"

Test(preflight_engine, start_refused_425_while_pending_then_forced)
{
    struct spec *sp = tu_load(HEAD "groups:\n  - name: bootstrap-kit\n    jobs:\n"
                                   "      - {name: install-harbor, app: harbor,"
                                   " simulate: {duration: 30s}}\n"
                                   "  - name: handover\n    after: [bootstrap-kit]\n"
                                   "    jobs:\n"
                                   "      - {name: handover-step-x, simulate: {duration: 0s}}\n"
                                   "cutover:\n  steps:\n"
                                   "    - {name: harbor-projects, simulate: {duration: 30s}}\n");
    struct engine_config cfg = {.workers = 2, .speed = 1};
    struct error err;
    struct engine *e = engine_new(sp, &cfg, &err);
    cr_assert_not_null(e, "%s", err.msg);
    cr_assert_eq(engine_start(e, &err), 0);
    struct engine_result r;
    engine_cutover_start(e, false, &r);
    cr_assert_eq(r.code, 425);
    cr_assert_str_eq(r.error, "handover-incomplete");
    cr_assert_eq(r.preflight.n_checks, 4);
    cr_assert_eq(r.preflight.n_failing, 3, "%s", r.detail);
    cr_assert(has(r.detail, "3 of 4 preflight checks fail: Handover finished"), "%s", r.detail);
    cr_assert(has(r.detail, "install-harbor"), "%s", r.detail);
    struct snapshot *s = tu_snap(e, NULL);
    cr_assert_not(s->cutover.running, "a refused start starts nothing");
    cr_assert_eq(s->cutover.started_at, 0);
    snapshot_release(s);

    engine_cutover_start(e, true, &r);
    cr_assert_eq(r.code, 200, "%s", r.detail);
    cr_assert_str_eq(r.detail, "cutover started (preflight forced)");
    s = tu_snap(e, NULL);
    cr_assert(s->cutover.running);
    snapshot_release(s);
    engine_cutover_start(e, true, &r);
    cr_assert_eq(r.code, 409, "running beats forced");
    engine_free(e);
    spec_free(sp);
}

Test(preflight_engine, auto_waits_for_the_whole_checklist)
{
    /* after: [g] alone would start at once; the slow job in h holds it back. */
    struct spec *sp = tu_load(HEAD "groups:\n  - name: g\n    jobs:\n"
                                   "      - {name: base, simulate: {duration: 0s}}\n"
                                   "  - name: h\n    jobs:\n"
                                   "      - {name: install-gitea, app: gitea,"
                                   " simulate: {duration: 300ms}}\n"
                                   "cutover:\n  auto: true\n  after: [g]\n  steps:\n"
                                   "    - {name: gitea-mirror, simulate: {duration: 0s}}\n");
    struct engine_config cfg = {.workers = 2, .speed = 1};
    struct error err;
    struct engine *e = engine_new(sp, &cfg, &err);
    cr_assert_not_null(e, "%s", err.msg);
    cr_assert_eq(engine_start(e, &err), 0);
    cr_assert(tu_wait_for(e, tu_settled, NULL));
    struct snapshot *s = tu_snap(e, NULL);
    const struct job *step = &s->jobs[snapshot_find_job(s, "cutover-step-gitea-mirror")];
    const struct job *gitea = &s->jobs[snapshot_find_job(s, "install-gitea")];
    cr_assert_gt(gitea->finished_at, 0);
    cr_assert_geq(step->started_at, gitea->finished_at);
    cr_assert(s->cutover.complete);
    snapshot_release(s);
    engine_free(e);
    spec_free(sp);
}

static bool jobs_done(const struct engine_progress *p) { return p->jobs_done; }

Test(preflight_engine, auto_held_by_a_failed_job_is_blocked)
{
    struct spec *sp = tu_load(HEAD "groups:\n  - name: g\n    jobs:\n"
                                   "      - {name: base, simulate: {duration: 0s}}\n"
                                   "  - name: h\n    jobs:\n"
                                   "      - {name: bad, run: \"exit 1\"}\n"
                                   "cutover:\n  auto: true\n  after: [g]\n  steps:\n"
                                   "    - {name: gitea-mirror, simulate: {duration: 0s}}\n");
    struct engine_config cfg = {.workers = 2, .speed = 1};
    struct error err;
    struct engine *e = engine_new(sp, &cfg, &err);
    cr_assert_not_null(e, "%s", err.msg);
    cr_assert_eq(engine_start(e, &err), 0);
    struct engine_progress pr;
    cr_assert(tu_wait_for(e, jobs_done, &pr));
    engine_progress(e, &pr);
    cr_assert(pr.cutover_blocked);
    cr_assert_not(pr.cutover_complete);
    struct snapshot *s = tu_snap(e, NULL);
    cr_assert_eq(s->cutover.started_at, 0, "auto never started past a failed job");
    snapshot_release(s);
    engine_free(e);
    spec_free(sp);
}

/* ---------------------------------------------------------------- view */

static void utf8(void) { setlocale(LC_ALL, "C.UTF-8"); }

static int find_row(const struct canvas *c, const char *needle)
{
    static char buf[8192];
    for (int y = 0; y < c->h; y++) {
        canvas_row_text(c, y, buf, sizeof(buf));
        if (strstr(buf, needle))
            return y;
    }
    return -1;
}

Test(preflight_view, checklist_in_the_cutover_view_is_live, .init = utf8)
{
    const struct view_ops *v = view_by_name("cutover");
    cr_assert_not_null(v);
    void *st = v->open(NULL);
    struct canvas *c = canvas_new(120, 40, false);
    struct view_ctx ctx = {.now_ms = 1778572800000};
    struct snapshot *s = sov(JOB_RUNNING, JOB_PENDING, true);
    canvas_clear(c);
    v->model(st, s, &ctx, c);
    int y = find_row(c, "Preflight · 3 of 4 checks fail");
    cr_assert_geq(y, 0);
    cr_assert_geq(find_row(c, "✗ Handover finished"), y);
    cr_assert_geq(find_row(c, "✗ Every job outside the cutover succeeded"), y);
    cr_assert_geq(find_row(c, "✗ Components the cutover touches are installed"), y);
    cr_assert_geq(find_row(c, "✓ No cutover running"), y);
    cr_assert_geq(find_row(c, "not installed: harbor (install-harbor running)"), y);
    cr_assert_geq(find_row(c, "Achieve true sovereignty anyway"), y);
    snapshot_release(s);

    /* The next snapshot has everything done: the same view state redraws it all ok. */
    s = sov(JOB_SUCCEEDED, JOB_SUCCEEDED, true);
    canvas_clear(c);
    v->model(st, s, &ctx, c);
    cr_assert_geq(find_row(c, "Preflight · all 4 checks pass"), 0);
    cr_assert_lt(find_row(c, "✗"), 0);
    cr_assert_geq(find_row(c, "Press S or Enter to Achieve true sovereignty"), 0);
    cr_assert_lt(find_row(c, "anyway"), 0);

    /* Narrow: the detail goes on its own row under the title. */
    struct canvas *n = canvas_new(60, 40, true);
    v->model(st, s, &ctx, n);
    int t = find_row(n, "Components the cutover touches");
    cr_assert_geq(t, 0);
    cr_assert_eq(find_row(n, "installed: gitea, harbor, flux"), t + 1);
    canvas_free(n);

    /* While a run is in progress the checklist gives way to the progress. */
    s->cutover.running = true;
    canvas_clear(c);
    v->model(st, s, &ctx, c);
    cr_assert_lt(find_row(c, "Preflight"), 0);
    snapshot_release(s);
    canvas_free(c);
    v->close(st);
}
