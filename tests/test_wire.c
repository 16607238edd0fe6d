/* Wire codec: every WIRE §9 example, the §10 quirks, malformed frames, round trips. */
#include <criterion/criterion.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "snapshot.h"
#include "util.h"
#include "wire.h"

static struct arena *A;
static char *buf;
static size_t buflen;

static void setup(void) { A = arena_new(); }
static void teardown(void)
{
    arena_free(A);
    free(buf);
    buf = NULL;
}

TestSuite(wire, .init = setup, .fini = teardown);

/* Fixtures live next to this file, whatever the working directory. */
static const char *fixture(const char *name)
{
    char path[512];
    const char *file = __FILE__;
    const char *slash = strrchr(file, '/');
    int dir = slash ? (int)(slash - file) : 1;
    snprintf(path, sizeof path, "%.*s/fixtures/wire/%s", dir, slash ? file : ".", name);
    free(buf);
    buf = NULL;
    cr_assert_eq(read_file(path, 64u << 20, &buf, &buflen), 0, "cannot read %s", path);
    return buf;
}

static int64_t T(const char *s)
{
    int64_t v;
    cr_assert_eq(time_parse(s, &v), 0, "bad time %s", s);
    return v;
}

static const struct job *find_job(const struct job *jobs, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(jobs[i].job_name, name) == 0)
            return &jobs[i];
    return NULL;
}

/* ---- 9.1 late jobs ---- */

Test(wire, jobs_late)
{
    struct job *jobs;
    size_t n;
    struct error err;
    fixture("jobs_late.json");
    cr_assert_eq(wire_decode_jobs(buf, buflen, A, &jobs, &n, &err), 0, "%s", err.msg);
    /* Six rows plus the synthesised provisioner group (tofu-plan's parent is absent). */
    cr_assert_eq(n, 7);

    const struct job *g = &jobs[0];
    cr_assert_str_eq(g->id, "3f9a1c7e52b04d8a:cutover");
    cr_assert_str_eq(g->deployment_id, "3f9a1c7e52b04d8a");
    cr_assert_str_eq(g->job_name, "cutover");
    cr_assert_str_eq(g->display_name, "Cutover");
    cr_assert(g->is_group);
    cr_assert_eq(g->kind, KIND_GROUP);
    cr_assert_str_eq(g->parent_id, "");
    cr_assert_eq(g->n_depends_on, 0);
    cr_assert_eq(g->status, JOB_RUNNING);
    cr_assert_eq(g->started_at, T("2026-05-12T09:41:07Z"));
    cr_assert_eq(g->finished_at, 0);
    cr_assert_eq(g->n_child_ids, 2);
    cr_assert_str_eq(g->child_ids[0], "3f9a1c7e52b04d8a:cutover-step-gitea-mirror");
    cr_assert_str_eq(g->child_ids[1], "3f9a1c7e52b04d8a:cutover-step-harbor-projects");
    cr_assert_str_eq(g->latest_execution_id, "");

    const struct job *s = &jobs[1];
    cr_assert_str_eq(s->job_name, "cutover-step-harbor-projects");
    cr_assert_not(s->is_group);
    cr_assert_eq(s->kind, KIND_STEP);
    cr_assert_str_eq(s->parent_id, "3f9a1c7e52b04d8a:cutover");
    cr_assert_eq(s->n_depends_on, 1);
    cr_assert_str_eq(s->depends_on[0], "cutover-step-gitea-mirror");
    cr_assert_eq(s->status, JOB_RUNNING);
    cr_assert_eq(s->started_at, T("2026-05-12T09:44:51Z"));
    cr_assert_str_eq(s->latest_execution_id, "9b2e4f0c1a7d43e8b6c5d2e1f0a9b8c7");

    const struct job *bk = &jobs[2];
    cr_assert_str_eq(bk->display_name, "Bootstrap");
    cr_assert_eq(bk->status, JOB_SUCCEEDED);
    cr_assert_eq(bk->finished_at, T("2026-05-12T08:31:55Z"));
    cr_assert_eq(bk->duration_ms, 1785000);

    const struct job *cm = &jobs[3];
    cr_assert_str_eq(cm->app_id, "cert-manager");
    cr_assert_eq(cm->kind, KIND_INSTALL);
    cr_assert_str_eq(cm->depends_on[0], "install-cilium");
    cr_assert_eq(cm->duration_ms, 82000);
    cr_assert_eq(cm->finished_at - cm->started_at, 82000);

    const struct job *cil = &jobs[4];
    cr_assert_eq(cil->n_depends_on, 0);
    cr_assert_str_eq(cil->latest_execution_id, "0f8e7d6c5b4a39281706f5e4d3c2b1a0");

    const struct job *tp = &jobs[5];
    cr_assert_str_eq(tp->display_name, "Terraform Plan");
    cr_assert_eq(tp->kind, KIND_LIFECYCLE);
    cr_assert_str_eq(tp->depends_on[0], "3f9a1c7e52b04d8a:tofu-init");

    const struct job *pv = &jobs[6];
    cr_assert_str_eq(pv->id, "3f9a1c7e52b04d8a:provisioner");
    cr_assert_str_eq(pv->job_name, "provisioner");
    cr_assert_str_eq(pv->display_name, "provisioner");
    cr_assert(pv->is_group);
    cr_assert_eq(pv->n_child_ids, 1);
    cr_assert_str_eq(pv->child_ids[0], "3f9a1c7e52b04d8a:tofu-plan");
    cr_assert_eq(pv->status, JOB_SUCCEEDED);
    cr_assert_eq(pv->started_at, T("2026-05-12T07:51:19Z"));
    cr_assert_eq(pv->finished_at, T("2026-05-12T07:52:03Z"));
    cr_assert_eq(pv->duration_ms, 44000);
}

/* ---- 9.2 early jobs + group synthesis ---- */

Test(wire, jobs_early_synthesises_group)
{
    struct job *jobs;
    size_t n;
    struct error err;
    fixture("jobs_early.json");
    cr_assert_eq(wire_decode_jobs(buf, buflen, A, &jobs, &n, &err), 0, "%s", err.msg);
    cr_assert_eq(n, 3);
    const struct job *f = &jobs[0];
    cr_assert_str_eq(f->job_name, "install-flux");
    cr_assert_str_eq(f->app_id, "flux");
    cr_assert_not(f->is_group);
    cr_assert_eq(f->kind, KIND_INSTALL);
    cr_assert_str_eq(f->parent_id, "3f9a1c7e52b04d8a:bootstrap-kit");
    cr_assert_str_eq(f->depends_on[0], "install-cert-manager");
    cr_assert_eq(f->status, JOB_RUNNING);
    cr_assert_eq(f->started_at, T("2026-04-30T10:12:09Z"));
    cr_assert_str_eq(f->latest_execution_id, "c0ffee00112233445566778899aabbcc");
    const struct job *c = &jobs[1];
    cr_assert_eq(c->status, JOB_PENDING);
    cr_assert_eq(c->started_at, 0);
    cr_assert_str_eq(c->latest_execution_id, "");
    cr_assert_str_eq(c->region, "");

    const struct job *g = &jobs[2];
    cr_assert_str_eq(g->id, "3f9a1c7e52b04d8a:bootstrap-kit");
    cr_assert_str_eq(g->deployment_id, "3f9a1c7e52b04d8a");
    cr_assert_str_eq(g->job_name, "bootstrap-kit");
    cr_assert_str_eq(g->display_name, "Bootstrap");
    cr_assert(g->is_group);
    cr_assert_eq(g->kind, KIND_GROUP);
    cr_assert_str_eq(g->parent_id, "");
    cr_assert_eq(g->n_child_ids, 2);
    cr_assert_str_eq(g->child_ids[0], "3f9a1c7e52b04d8a:install-flux");
    cr_assert_str_eq(g->child_ids[1], "3f9a1c7e52b04d8a:install-crossplane");
    /* running + pending => running; start = earliest child, no finish while not all terminal. */
    cr_assert_eq(g->status, JOB_RUNNING);
    cr_assert_eq(g->started_at, T("2026-04-30T10:12:09Z"));
    cr_assert_eq(g->finished_at, 0);
}

Test(wire, jobs_mixed_depends_and_day2_group)
{
    struct job *jobs;
    size_t n;
    struct error err;
    fixture("quirk_mixed_depends.json");
    cr_assert_eq(wire_decode_jobs(buf, buflen, A, &jobs, &n, &err), 0, "%s", err.msg);
    cr_assert_eq(n, 7);
    const struct job *ic = find_job(jobs, n, "install-cilium");
    cr_assert_not_null(ic);
    /* dependsOn is kept raw: a bare name and a full id side by side. */
    cr_assert_eq(ic->n_depends_on, 2);
    cr_assert_str_eq(ic->depends_on[0], "tofu-plan");
    cr_assert_str_eq(ic->depends_on[1], "d:tofu-init");
    const struct job *pv = find_job(jobs, n, "provisioner");
    cr_assert_not_null(pv);
    cr_assert(pv->is_group);
    cr_assert_eq(pv->status, JOB_FAILED);
    cr_assert_eq(pv->n_child_ids, 2);
    const struct job *d2 = find_job(jobs, n, "day-2-mutations");
    cr_assert_not_null(d2);
    cr_assert_str_eq(d2->display_name, "Day-2 Mutations");
    cr_assert_eq(d2->status, JOB_SUCCEEDED);
    cr_assert_eq(d2->finished_at, T("2026-05-12T12:00:05Z"));
    cr_assert_eq(d2->duration_ms, 5000);
    const struct job *m = find_job(jobs, n, "mutation-create-pool-gpu");
    cr_assert_eq(m->kind, KIND_MUTATION);
    cr_assert_str_eq(m->parent_id, "d:day-2-mutations");
    const struct job *bk = find_job(jobs, n, "bootstrap-kit");
    cr_assert_not_null(bk);
    cr_assert_eq(bk->status, JOB_PENDING);
}

Test(wire, jobs_quirks_zero_times_and_vocabulary)
{
    struct job *jobs;
    size_t n;
    struct error err;
    fixture("quirk_zero_times.json");
    cr_assert_eq(wire_decode_jobs(buf, buflen, A, &jobs, &n, &err), 0, "%s", err.msg);
    cr_assert_eq(n, 3);
    cr_assert_eq(jobs[0].started_at, 0);
    cr_assert_eq(jobs[0].finished_at, 0);
    cr_assert_eq(jobs[0].n_depends_on, 0);
    cr_assert_eq(jobs[0].status, JOB_HEALTHY);
    cr_assert_eq(jobs[0].duration_ms, 12);
    cr_assert_not(jobs[0].is_group);
    cr_assert_eq(jobs[1].kind, KIND_RECONCILER);
    cr_assert_eq(jobs[1].status, JOB_DEGRADED);
    cr_assert_eq(jobs[2].kind, KIND_CRON);
    cr_assert_eq(jobs[2].status, JOB_PENDING);
    cr_assert_eq(jobs[2].started_at, T("2026-05-12T09:02:30.123Z"));
}

Test(wire, jobs_missing_type_group_slug)
{
    const char *j = "{\"jobs\":[{\"id\":\"d:handover\",\"deploymentId\":\"d\","
                    "\"jobName\":\"handover\",\"status\":\"pending\",\"dependsOn\":[]},"
                    "{\"id\":\"d:install-x\","
                    "\"jobName\":\"install-x\",\"kind\":\"bogus\",\"parentId\":\"d:handover\"}]}";
    struct job *jobs;
    size_t n;
    struct error err;
    cr_assert_eq(wire_decode_jobs(j, strlen(j), A, &jobs, &n, &err), 0, "%s", err.msg);
    cr_assert_eq(n, 2);
    cr_assert(jobs[0].is_group);
    cr_assert_eq(jobs[0].kind, KIND_GROUP);
    cr_assert_eq(jobs[0].n_child_ids, 1);
    cr_assert_not(jobs[1].is_group);
    cr_assert_eq(jobs[1].kind, KIND_INSTALL);
    cr_assert_str_eq(jobs[1].deployment_id, "d");
}

/* ---- 9.3 job detail, retry ---- */

Test(wire, job_detail)
{
    struct job j;
    struct execution *x;
    size_t n;
    struct error err;
    fixture("job_detail.json");
    cr_assert_eq(wire_decode_job_detail(buf, buflen, A, &j, &x, &n, &err), 0, "%s", err.msg);
    cr_assert_str_eq(j.id, "3f9a1c7e52b04d8a:install-openbao");
    cr_assert_str_eq(j.app_id, "openbao");
    cr_assert_str_eq(j.parent_id, "3f9a1c7e52b04d8a:bootstrap-kit");
    cr_assert_str_eq(j.depends_on[0], "install-spire");
    cr_assert_eq(j.status, JOB_RUNNING);
    cr_assert_str_eq(j.latest_execution_id, "7e6d5c4b3a2918070f1e2d3c4b5a6978");
    cr_assert_eq(n, 2);
    /* Newest first, as sent. */
    cr_assert_str_eq(x[0].id, "7e6d5c4b3a2918070f1e2d3c4b5a6978");
    cr_assert_str_eq(x[0].job_id, "3f9a1c7e52b04d8a:install-openbao");
    cr_assert_str_eq(x[0].deployment_id, "3f9a1c7e52b04d8a");
    cr_assert_eq(x[0].status, EXEC_RUNNING);
    cr_assert_eq(x[0].started_at, T("2026-05-12T09:02:30Z"));
    cr_assert_eq(x[0].finished_at, 0);
    cr_assert_eq(x[0].line_count, 3);
    cr_assert_str_eq(x[1].id, "11aa22bb33cc44dd55ee66ff77889900");
    cr_assert_eq(x[1].status, EXEC_FAILED);
    cr_assert_eq(x[1].finished_at, T("2026-05-12T08:24:40Z"));
    cr_assert_eq(x[1].line_count, 57);
}

Test(wire, job_detail_group_and_retry)
{
    struct job j;
    struct execution *x;
    size_t n;
    struct error err;
    fixture("job_detail_group.json");
    cr_assert_eq(wire_decode_job_detail(buf, buflen, A, &j, &x, &n, &err), 0, "%s", err.msg);
    cr_assert(j.is_group);
    cr_assert_eq(n, 0);
    cr_assert_eq(j.n_child_ids, 1);

    const char *id, *action;
    fixture("retry.json");
    cr_assert_eq(wire_decode_retry(buf, buflen, A, &id, &action, &err), 0, "%s", err.msg);
    cr_assert_str_eq(id, "7e6d5c4b3a2918070f1e2d3c4b5a6978");
    cr_assert_str_eq(action, "annotated HelmRelease bp-openbao for reconcile");
}

/* ---- 9.4 log pages ---- */

Test(wire, log_pages)
{
    struct log_page p;
    struct error err;
    fixture("log_page.json");
    cr_assert_eq(wire_decode_log_page(buf, buflen, A, &p, &err), 0, "%s", err.msg);
    cr_assert_eq(p.n_lines, 3);
    cr_assert_eq(p.total, 3);
    cr_assert_not(p.execution_finished);
    cr_assert_eq(p.lines[0].line_number, 1);
    cr_assert_eq(p.lines[0].timestamp, T("2026-05-12T09:02:30.114Z"));
    cr_assert_eq(p.lines[0].level, LOG_INFO);
    cr_assert(strstr(p.lines[0].message, "[retry] requested by ops@omantel.example"));
    cr_assert(strstr(p.lines[0].message, "\xe2\x80\x94 annotated"));
    cr_assert_eq(p.lines[1].timestamp, T("2026-05-12T09:02:41.902Z"));
    cr_assert_str_eq(p.lines[1].message,
                     "[installing] Running 'upgrade' action with timeout of 10m0s");
    cr_assert_eq(p.lines[2].level, LOG_WARN);
    cr_assert_eq(p.lines[2].line_number, 3);

    fixture("log_tail_finished.json");
    cr_assert_eq(wire_decode_log_page(buf, buflen, A, &p, &err), 0, "%s", err.msg);
    cr_assert_eq(p.n_lines, 0);
    cr_assert_eq(p.total, 57);
    cr_assert(p.execution_finished);

    fixture("log_seeded.json");
    cr_assert_eq(wire_decode_log_page(buf, buflen, A, &p, &err), 0, "%s", err.msg);
    cr_assert_eq(p.n_lines, 1);
    cr_assert(strncmp(p.lines[0].message, "[seeded] state=installed", 24) == 0);
    cr_assert_eq(p.lines[0].timestamp, T("2026-05-12T08:04:31Z"));
}

/* ---- 9.5 cutover status ---- */

Test(wire, cutover_running_reordered)
{
    struct cutover_status c;
    struct error err;
    fixture("cutover_running.json");
    cr_assert_eq(wire_decode_cutover_status(buf, buflen, A, &c, &err), 0, "%s", err.msg);
    cr_assert(c.available);
    cr_assert(c.state_present);
    cr_assert_eq(c.state, SOV_TETHERED);
    cr_assert_not(c.complete);
    cr_assert(c.running);
    cr_assert_eq(c.started_at, T("2026-05-12T09:41:07Z"));
    cr_assert_eq(c.last_attempt_started_at, T("2026-05-12T09:41:07Z"));
    cr_assert_eq(c.finished_at, 0);
    cr_assert_str_eq(c.current_step, "harbor-prewarm");
    cr_assert_eq(c.current_step_index, 2);
    cr_assert_eq(c.total_steps, 11);
    cr_assert_eq(c.progress_percent, 18);
    cr_assert_str_eq(c.failed_step, "");
    cr_assert_eq(c.n_steps, 3);
    /* Alphabetical on the wire, canonical order after decoding. */
    cr_assert_str_eq(c.steps[0].name, "gitea-mirror");
    cr_assert_str_eq(c.steps[1].name, "harbor-projects");
    cr_assert_str_eq(c.steps[2].name, "harbor-prewarm");
    cr_assert_eq(c.steps[0].result, STEP_SUCCESS);
    cr_assert_eq(c.steps[0].started_at, T("2026-05-12T09:41:08Z"));
    cr_assert_eq(c.steps[0].finished_at, T("2026-05-12T09:44:50Z"));
    cr_assert_str_eq(c.steps[0].job_name, "cutover-gitea-mirror-1778578867");
    cr_assert_eq(c.steps[2].result, STEP_RUNNING);
    cr_assert_eq(c.steps[2].finished_at, 0);
    cr_assert_str_eq(c.steps[2].message, "");
    cr_assert_eq(c.n_raw, 12);
    for (size_t i = 1; i < c.n_raw; i++)
        cr_assert_lt(strcmp(c.raw[i - 1].key, c.raw[i].key), 0);
    cr_assert_str_eq(c.raw[0].key, "currentStep");
    cr_assert_eq(c.egress_test_passed, -1);
    cr_assert_eq(c.harbor_project_count, -1);
    cr_assert_str_eq(c.mirrored_commit_sha, "");
}

Test(wire, cutover_complete)
{
    struct cutover_status c;
    struct error err;
    fixture("cutover_complete.json");
    cr_assert_eq(wire_decode_cutover_status(buf, buflen, A, &c, &err), 0, "%s", err.msg);
    cr_assert_eq(c.state, SOV_SOVEREIGN);
    cr_assert(c.complete);
    cr_assert_not(c.running);
    cr_assert_eq(c.progress_percent, 100);
    cr_assert_eq(c.current_step_index, 11);
    /* The pseudo region step is dropped. */
    cr_assert_eq(c.n_steps, 11);
    for (size_t i = 0; i < c.n_steps; i++) {
        cr_assert_eq(wire_cutover_step_order(c.steps[i].name), (int)i);
        cr_assert_eq(c.steps[i].result, STEP_SUCCESS);
        /* Terminal steps without their own times fall back to the run's times. */
        cr_assert_eq(c.steps[i].started_at, T("2026-05-12T09:41:07Z"));
        cr_assert_eq(c.steps[i].finished_at, T("2026-05-12T11:18:44Z"));
    }
    cr_assert_str_eq(c.mirrored_commit_sha, "4b825dc642cb6eb9a060e54bf8d69288fbee4904");
    cr_assert_eq(c.harbor_project_count, 7);
    cr_assert_eq(c.egress_test_passed, 1);
}

Test(wire, cutover_failed)
{
    struct cutover_status c;
    struct error err;
    fixture("cutover_failed.json");
    cr_assert_eq(wire_decode_cutover_status(buf, buflen, A, &c, &err), 0, "%s", err.msg);
    cr_assert_eq(c.state, SOV_TETHERED);
    cr_assert_not(c.running);
    cr_assert_eq(c.progress_percent, 63);
    cr_assert_str_eq(c.failed_step, "egress-block-test");
    cr_assert_eq(c.n_steps, 11);
    const struct cutover_step *eg = &c.steps[7];
    cr_assert_str_eq(eg->name, "egress-block-test");
    cr_assert_eq(eg->result, STEP_FAILED);
    cr_assert_str_eq(eg->message, "Job catalyst/cutover-egress-block-test-1778578867 "
                                  "reported Failed condition");
    /* Failed without own times: start falls back, finish stays absent (no cutoverFinishedAt). */
    cr_assert_eq(eg->started_at, T("2026-05-12T09:41:07Z"));
    cr_assert_eq(eg->finished_at, 0);
    cr_assert_eq(c.steps[8].result, STEP_PENDING);
    cr_assert_eq(c.steps[8].started_at, 0);
    cr_assert_eq(c.steps[0].started_at, T("2026-05-12T10:00:00Z"));
    cr_assert_str_eq(c.steps[6].message, "");
    cr_assert_eq(c.egress_test_passed, 0);
}

Test(wire, cutover_never_run_older_server)
{
    struct cutover_status c;
    struct error err;
    fixture("cutover_never.json");
    cr_assert_eq(wire_decode_cutover_status(buf, buflen, A, &c, &err), 0, "%s", err.msg);
    cr_assert_not(c.state_present);
    cr_assert_eq(c.state, SOV_TETHERED);
    cr_assert_not(c.complete);
    cr_assert_not(c.running);
    cr_assert_eq(c.total_steps, 0);
    cr_assert_eq(c.n_steps, 11);
    cr_assert_eq(c.steps[0].result, STEP_PENDING);
    cr_assert_eq(c.steps[0].started_at, 0);
    cr_assert_eq(c.n_raw, 0);

    const char *derived = "{\"cutoverComplete\":true,\"steps\":null}";
    cr_assert_eq(wire_decode_cutover_status(derived, strlen(derived), A, &c, &err), 0);
    cr_assert_eq(c.state, SOV_SOVEREIGN);
    cr_assert_eq(c.n_steps, 0);
    const char *bystate = "{\"state\":\"sovereign\"}";
    cr_assert_eq(wire_decode_cutover_status(bystate, strlen(bystate), A, &c, &err), 0);
    cr_assert(c.complete);
}

Test(wire, cutover_ui_shape_hold_and_unknown_steps)
{
    const char *j =
        "{\"state\":\"tethered\",\"cutoverComplete\":false,\"cutoverStartedAt\":"
        "\"2026-05-12T09:41:07Z\",\"currentStep\":\"egress-block-test\",\"harborProjectCount\":"
        "\"9\",\"egressTestPassed\":true,\"steps\":["
        "{\"step\":\"smtp-relay-pivot\",\"status\":\"done\"},"
        "{\"step\":\"egress-block-test\",\"status\":\"running\",\"holdSeconds\":600},"
        "{\"step\":\"zz-later\",\"status\":\"pending\"},"
        "{\"name\":\"harbor-projects\",\"result\":\"skipped\"}],"
        "\"raw\":{\"step.egress-block-test.holdUntil\":\"2026-05-12T10:20:00Z\"}}";
    struct cutover_status c;
    struct error err;
    cr_assert_eq(wire_decode_cutover_status(j, strlen(j), A, &c, &err), 0, "%s", err.msg);
    cr_assert_eq(c.n_steps, 4);
    cr_assert_str_eq(c.steps[0].name, "harbor-projects");
    cr_assert_eq(c.steps[0].result, STEP_SKIPPED);
    cr_assert_str_eq(c.steps[1].name, "egress-block-test");
    cr_assert_eq(c.steps[1].result, STEP_RUNNING);
    cr_assert_eq(c.steps[1].hold_seconds, 600);
    cr_assert_eq(c.steps[1].hold_until, T("2026-05-12T10:20:00Z"));
    /* Unknown names after the catalogue, in their given order. */
    cr_assert_str_eq(c.steps[2].name, "smtp-relay-pivot");
    cr_assert_eq(c.steps[2].result, STEP_SUCCESS);
    cr_assert_str_eq(c.steps[3].name, "zz-later");
    cr_assert_eq(c.harbor_project_count, 9);
    cr_assert_eq(c.egress_test_passed, 1);
    cr_assert(c.running);
}

/* ---- 9.6 cutover SSE frames ---- */

Test(wire, cutover_sse_frames)
{
    struct wire_event ev;
    struct error err;
    fixture("sse_cutover_started.json");
    cr_assert_eq(wire_decode_event(buf, buflen, A, &ev, &err), 0, "%s", err.msg);
    cr_assert_str_eq(ev.phase, "cutover-started");
    cr_assert_eq(ev.level, LOG_INFO);
    cr_assert_eq(ev.time, T("2026-05-12T09:41:07Z"));
    cr_assert_str_eq(ev.message, "Self-Sovereignty Cutover started: 11 steps");
    cr_assert_str_eq(ev.step, "");

    fixture("sse_cutover_step_started.json");
    cr_assert_eq(wire_decode_event(buf, buflen, A, &ev, &err), 0, "%s", err.msg);
    cr_assert_str_eq(ev.step, "gitea-mirror");
    cr_assert_str_eq(ev.job_name, "cutover-gitea-mirror-1778578867");

    fixture("sse_cutover_completed.json");
    cr_assert_eq(wire_decode_event(buf, buflen, A, &ev, &err), 0, "%s", err.msg);
    cr_assert_str_eq(ev.phase, "cutover-completed");

    fixture("sse_cutover_status.json");
    cr_assert_eq(wire_decode_event(buf, buflen, A, &ev, &err), 0, "%s", err.msg);
    cr_assert_str_eq(ev.phase, "cutover-status");
    struct cutover_status c;
    cr_assert_eq(wire_decode_cutover_configmap(ev.message, strlen(ev.message), A, &c, &err), 0,
                 "%s", err.msg);
    cr_assert_not(c.complete);
    cr_assert_not(c.state_present);
    cr_assert_eq(c.state, SOV_TETHERED);
    cr_assert_str_eq(c.current_step, "harbor-prewarm");
    cr_assert(c.running);
    cr_assert_eq(c.n_steps, 1);
    cr_assert_str_eq(c.steps[0].name, "gitea-mirror");
    cr_assert_eq(c.steps[0].result, STEP_SUCCESS);
    cr_assert_eq(c.n_raw, 3);
    cr_assert_str_eq(c.raw[2].key, "step.gitea-mirror.result");
}

Test(wire, cutover_configmap_full)
{
    const char *j =
        "{\"cutoverComplete\":\"true\",\"cutoverStartedAt\":\"2026-05-12T09:41:07Z\","
        "\"cutoverFinishedAt\":\"2026-05-12T11:18:44Z\",\"currentStepIndex\":\"11\","
        "\"totalSteps\":\"11\",\"progressPercent\":\"100\",\"harborProjectCount\":\"7\","
        "\"step.harbor-projects.result\":\"success\",\"step.gitea-mirror.result\":\"success\","
        "\"step.gitea-mirror.startedAt\":\"2026-05-12T09:41:08Z\","
        "\"step.gitea-mirror.jobName\":\"cutover-gitea-mirror-1\","
        "\"step.gitea-mirror.holdUntil\":\"2026-05-12T09:45:00Z\","
        "\"step.egress-block-test.region.hel1.result\":\"success\","
        "\"step.egress-block-test.holdSeconds\":\"600\","
        "\"step.egress-block-test.result\":\"success\"}";
    struct cutover_status c;
    struct error err;
    cr_assert_eq(wire_decode_cutover_configmap(j, strlen(j), A, &c, &err), 0, "%s", err.msg);
    cr_assert(c.complete);
    cr_assert_eq(c.state, SOV_SOVEREIGN);
    cr_assert_eq(c.current_step_index, 11);
    cr_assert_eq(c.total_steps, 11);
    cr_assert_eq(c.progress_percent, 100);
    cr_assert_eq(c.harbor_project_count, 7);
    cr_assert_eq(c.n_steps, 3);
    cr_assert_str_eq(c.steps[0].name, "gitea-mirror");
    cr_assert_eq(c.steps[0].started_at, T("2026-05-12T09:41:08Z"));
    cr_assert_str_eq(c.steps[0].job_name, "cutover-gitea-mirror-1");
    /* A finished step's leftover holdUntil is not a running hold. */
    cr_assert_eq(c.steps[0].hold_until, 0);
    cr_assert_str_eq(c.steps[1].name, "harbor-projects");
    cr_assert_str_eq(c.steps[2].name, "egress-block-test");
    cr_assert_eq(c.steps[2].hold_seconds, 600);
    cr_assert_eq(c.egress_test_passed, 1);
    cr_assert_eq(c.n_raw, 15);
}

Test(wire, cutover_configmap_rejects)
{
    struct cutover_status c;
    struct error err;
    const char *bad1 = "{\"cutoverComplete\":\"yes\"}";
    cr_assert_eq(wire_decode_cutover_configmap(bad1, strlen(bad1), A, &c, &err), -1);
    cr_assert_str_eq(err.msg, "cutoverComplete: expected \"true\" or \"false\", got \"yes\"");
    const char *bad2 = "{\"totalSteps\":11}";
    cr_assert_eq(wire_decode_cutover_configmap(bad2, strlen(bad2), A, &c, &err), -1);
    cr_assert_str_eq(err.msg, "totalSteps: expected string, got number");
    const char *bad3 = "{\"step.gitea-mirror.startedAt\":\"noon\"}";
    cr_assert_eq(wire_decode_cutover_configmap(bad3, strlen(bad3), A, &c, &err), -1);
    cr_assert_str_eq(err.msg, "step.gitea-mirror.startedAt: invalid time \"noon\"");
    cr_assert_eq(err.code, EXIT_API);
}

/* ---- 9.7 deployment + SSE ---- */

Test(wire, deployment_state)
{
    struct deployment d;
    struct error err;
    fixture("deployment.json");
    cr_assert_eq(wire_decode_deployment(buf, buflen, A, &d, &err), 0, "%s", err.msg);
    cr_assert_str_eq(d.id, "3f9a1c7e52b04d8a");
    cr_assert_str_eq(d.status, "phase1-watching");
    cr_assert_eq(d.started_at, T("2026-05-12T07:50:02Z"));
    cr_assert_eq(d.finished_at, 0);
    cr_assert_str_eq(d.sovereign_fqdn, "omantel.omani.works");
    cr_assert_str_eq(d.region, "fsn1");
    cr_assert_eq(d.num_events, 412);
    cr_assert_str_eq(d.control_plane_ip, "159.69.12.40");
    cr_assert_str_eq(d.load_balancer_ip, "167.235.201.9");
    cr_assert_str_eq(d.console_url, "https://console.omantel.omani.works");
    cr_assert_str_eq(d.gitops_repo_url, "https://github.com/openova-io/openova");
    cr_assert_str_eq(d.owner_email, "ops@omantel.example");
    cr_assert_str_eq(d.org_name, "Omantel");
    cr_assert_not(d.operation_in_progress);
    cr_assert_str_eq(d.error, "");

    fixture("sse_done.json");
    cr_assert_eq(wire_decode_deployment(buf, buflen, A, &d, &err), 0, "%s", err.msg);
    cr_assert_str_eq(d.status, "ready");
    cr_assert_eq(d.finished_at, T("2026-05-12T08:32:10Z"));
    cr_assert_eq(d.phase1_finished_at, T("2026-05-12T08:32:10Z"));
    cr_assert_str_eq(d.phase1_outcome, "ready");
    cr_assert_eq(d.num_events, 988);
    cr_assert_str_eq(d.control_plane_ip, "");

    struct deployment *ds;
    size_t n;
    fixture("deployments.json");
    cr_assert_eq(wire_decode_deployments(buf, buflen, A, &ds, &n, &err), 0, "%s", err.msg);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(ds[0].sovereign_fqdn, "omantel.omani.works");
    cr_assert_str_eq(ds[1].error, "tofu apply failed");
    cr_assert_eq(ds[1].finished_at, 0);
}

Test(wire, deployment_sse_events)
{
    struct wire_event ev;
    struct error err;
    fixture("sse_tofu_init.json");
    cr_assert_eq(wire_decode_event(buf, buflen, A, &ev, &err), 0, "%s", err.msg);
    cr_assert_str_eq(ev.phase, "tofu-init");
    cr_assert_eq(ev.time, T("2026-05-12T07:50:03Z"));
    fixture("sse_tofu.json");
    cr_assert_eq(wire_decode_event(buf, buflen, A, &ev, &err), 0, "%s", err.msg);
    cr_assert(strstr(ev.message, "hcloud_load_balancer.main"));
    fixture("sse_component.json");
    cr_assert_eq(wire_decode_event(buf, buflen, A, &ev, &err), 0, "%s", err.msg);
    cr_assert_str_eq(ev.component, "cilium");
    cr_assert_str_eq(ev.state, "installed");
    fixture("sse_component_log.json");
    cr_assert_eq(wire_decode_event(buf, buflen, A, &ev, &err), 0, "%s", err.msg);
    cr_assert_str_eq(ev.message,
                     "{\"level\":\"info\",\"msg\":\"release in-sync\","
                     "\"HelmRelease\":{\"name\":\"bp-cilium\"}}");
    cr_assert_str_eq(ev.state, "");
    /* handover-ready is not an Event wrapper: decodes, with every Event field empty. */
    fixture("sse_handover_ready.json");
    cr_assert_eq(wire_decode_event(buf, buflen, A, &ev, &err), 0, "%s", err.msg);
    cr_assert_str_eq(ev.phase, "");
    cr_assert_eq(ev.time, 0);
    const char *warn = "{\"phase\":\"tofu\",\"level\":\"warning\",\"message\":\"x\"}";
    cr_assert_eq(wire_decode_event(warn, strlen(warn), A, &ev, &err), 0);
    cr_assert_eq(ev.level, LOG_WARN);
}

/* ---- 9.8 sovereign status, self, organizations, applications ---- */

Test(wire, sovereign_status_and_self)
{
    struct sovereign_status st;
    struct error err;
    fixture("sovereign_status.json");
    cr_assert_eq(wire_decode_sovereign_status(buf, buflen, &st, &err), 0, "%s", err.msg);
    cr_assert(st.available);
    cr_assert_eq(st.helm_releases_ready, 61);
    cr_assert_eq(st.helm_releases_total, 63);
    cr_assert_eq(st.pods_running, 214);
    cr_assert_eq(st.pods_total, 220);
    cr_assert_eq(st.cert_expiry_soon_count, 1);
    const char *id, *fqdn;
    fixture("sovereign_self.json");
    cr_assert_eq(wire_decode_sovereign_self(buf, buflen, A, &id, &fqdn, &err), 0);
    cr_assert_str_eq(id, "3f9a1c7e52b04d8a");
    cr_assert_str_eq(fqdn, "omantel.omani.works");
    const char *bad = "{\"podsTotal\":\"many\"}";
    cr_assert_eq(wire_decode_sovereign_status(bad, strlen(bad), &st, &err), -1);
    cr_assert_str_eq(err.msg, "podsTotal: expected number, got string");
    cr_assert_not(st.available);
}

Test(wire, organizations_and_applications)
{
    struct organization *orgs;
    struct blueprint *bps;
    size_t no, nb;
    struct error err;
    fixture("organizations.json");
    cr_assert_eq(wire_decode_organizations(buf, buflen, A, &orgs, &no, &bps, &nb, &err), 0,
                 "%s", err.msg);
    cr_assert_eq(no, 1);
    cr_assert_str_eq(orgs[0].name, "acme");
    cr_assert_eq(orgs[0].n_envs, 2);
    cr_assert_str_eq(orgs[0].envs[0].name, "acme-prod");
    cr_assert_str_eq(orgs[0].envs[0].type, "prod");
    cr_assert_eq(orgs[0].envs[0].n_apps, 1);
    const struct application *ap = &orgs[0].envs[0].apps[0];
    cr_assert_str_eq(ap->blueprint, "bp-shop");
    cr_assert_str_eq(ap->version, "1.2.0");
    cr_assert_str_eq(ap->status, "succeeded");
    cr_assert_eq(ap->n_depends_on, 2);
    cr_assert_eq(orgs[0].envs[1].n_apps, 0);
    cr_assert_eq(nb, 2);
    cr_assert_str_eq(bps[0].depends[1], "bp-redis");
    cr_assert_eq(bps[1].n_depends, 0);

    fixture("applications.json");
    cr_assert_eq(wire_decode_applications(buf, buflen, A, &orgs, &no, &err), 0, "%s", err.msg);
    cr_assert_eq(no, 2);
    cr_assert_str_eq(orgs[0].name, "acme");
    cr_assert_eq(orgs[0].n_envs, 2);
    cr_assert_str_eq(orgs[0].envs[0].name, "acme-prod");
    cr_assert_str_eq(orgs[0].envs[0].type, "prod");
    cr_assert_str_eq(orgs[0].envs[1].name, "acme-dev");
    cr_assert_str_eq(orgs[0].envs[1].apps[0].name, "blog");
    cr_assert_str_eq(orgs[0].envs[1].apps[0].status, "Ready");
    cr_assert_str_eq(orgs[1].envs[0].name, "globex-stg");
}

/* A hostile list of distinct namespaces (one Organization each) decodes in linear time. */
Test(wire, applications_many_namespaces_linear, .timeout = 8)
{
    struct strbuf sb;
    sb_init(&sb);
    sb_puts(&sb, "{\"items\":[");
    size_t n = 150000;
    for (size_t i = 0; i < n; i++)
        sb_printf(&sb, "%s{\"name\":\"a\",\"namespace\":\"org-%zu\"}", i ? "," : "", i);
    sb_puts(&sb, "]}\n");
    cr_assert_not(sb.oom);
    struct organization *orgs;
    size_t no;
    struct error err;
    cr_assert_eq(wire_decode_applications(sb.buf, sb.len, A, &orgs, &no, &err), 0, "%s",
                 err.msg);
    cr_assert_eq(no, n);
    cr_assert_str_eq(orgs[n - 1].name, "org-149999");
    cr_assert_eq(orgs[n - 1].n_envs, 1);
    cr_assert_str_eq(orgs[n - 1].envs[0].name, "org-149999-dev");
    sb_fini(&sb);
}

/* ---- 9.9 error bodies ---- */

Test(wire, error_bodies)
{
    const char *code, *detail;
    fixture("error_jobs_store.json");
    wire_decode_error(buf, buflen, A, &code, &detail);
    cr_assert_str_eq(code, "jobs-store-unavailable");
    cr_assert(strncmp(detail, "catalyst-api is running with persistence disabled", 49) == 0);
    fixture("error_job_not_found.json");
    wire_decode_error(buf, buflen, A, &code, &detail);
    cr_assert_str_eq(code, "job-not-found");
    cr_assert_str_eq(detail, "");
    fixture("error_execution_not_found.json");
    wire_decode_error(buf, buflen, A, &code, &detail);
    cr_assert_str_eq(code, "execution-not-found");
    fixture("error_unauthenticated.json");
    wire_decode_error(buf, buflen, A, &code, &detail);
    cr_assert_str_eq(code, "unauthenticated");
    fixture("error_invalid_status.json");
    wire_decode_error(buf, buflen, A, &code, &detail);
    cr_assert_str_eq(code, "invalid-status");
    cr_assert_str_eq(detail,
                     "status \"done\" must be one of pending / running / succeeded / failed");
    fixture("error_in_flight.json");
    wire_decode_error(buf, buflen, A, &code, &detail);
    cr_assert_str_eq(code, "");
    cr_assert(strncmp(detail, "deployment is still in-flight", 29) == 0);

    fixture("error_cutover_in_progress.json");
    wire_decode_error(buf, buflen, A, &code, &detail);
    cr_assert_str_eq(code, "cutover-in-progress");
    cr_assert_str_eq(detail, "a cutover is already running on this catalyst-api Pod");
    fixture("error_handover_incomplete.json");
    wire_decode_error(buf, buflen, A, &code, &detail);
    cr_assert_str_eq(code, "handover-incomplete");

    /* §10.8: a plain-text 404 body and the spaced variant. */
    const char *plain = "deployment not found\n";
    wire_decode_error(plain, strlen(plain), A, &code, &detail);
    cr_assert_str_eq(code, "");
    cr_assert_str_eq(detail, "deployment not found");
    const char *spaced = "{\"error\":\"deployment not found\"}\n";
    wire_decode_error(spaced, strlen(spaced), A, &code, &detail);
    cr_assert_str_eq(code, "");
    cr_assert_str_eq(detail, "deployment not found");
    wire_decode_error("", 0, A, &code, &detail);
    cr_assert_str_eq(detail, "");
    const char bin[] = "bad \xff\x00 body";
    wire_decode_error(bin, sizeof bin - 1, A, &code, &detail);
    cr_assert_str_eq(detail, "bad ?? body");
}

/* ---- malformed frames ---- */

static void expect_reject_jobs(const char *json, size_t len, const char *msg)
{
    struct job *jobs = (struct job *)1;
    size_t n = 99;
    struct error err;
    cr_assert_eq(wire_decode_jobs(json, len, A, &jobs, &n, &err), -1);
    cr_assert_eq(err.code, EXIT_API);
    cr_assert_str_eq(err.msg, msg);
    cr_assert_null(jobs);
    cr_assert_eq(n, 0);
}

/* Years the arithmetic downstream cannot take are refused whole, naming the field. */
Test(wire, reject_times_outside_1970_2200)
{
    const char *y1 = "{\"jobs\":[{\"jobName\":\"a\",\"status\":\"succeeded\","
                     "\"startedAt\":\"0001-06-01T00:00:00Z\","
                     "\"finishedAt\":\"2026-05-12T09:00:00Z\"}]}";
    expect_reject_jobs(y1, strlen(y1), "jobs[0].startedAt: time \"0001-06-01T00:00:00Z\" "
                                       "outside 1970-01-01..2200-01-01");
    const char *y9 = "{\"jobs\":[{\"jobName\":\"a\"},{\"jobName\":\"b\","
                     "\"startedAt\":\"2026-05-12T09:00:00Z\","
                     "\"finishedAt\":\"9999-12-31T23:59:59Z\"}]}";
    expect_reject_jobs(y9, strlen(y9), "jobs[1].finishedAt: time \"9999-12-31T23:59:59Z\" "
                                       "outside 1970-01-01..2200-01-01");
    /* An offset can carry a 1970 wall time below the epoch. */
    const char *neg = "{\"jobs\":[{\"jobName\":\"a\","
                      "\"startedAt\":\"1970-01-01T00:30:00+01:00\"}]}";
    expect_reject_jobs(neg, strlen(neg), "jobs[0].startedAt: time \"1970-01-01T00:30:00+01:00\" "
                                         "outside 1970-01-01..2200-01-01");

    struct cutover_status c;
    struct error err;
    const char *cm = "{\"step.gitea-mirror.finishedAt\":\"9999-01-01T00:00:00Z\"}";
    cr_assert_eq(wire_decode_cutover_configmap(cm, strlen(cm), A, &c, &err), -1);
    cr_assert_str_eq(err.msg, "step.gitea-mirror.finishedAt: time \"9999-01-01T00:00:00Z\" "
                              "outside 1970-01-01..2200-01-01");
    const char *top = "{\"cutoverStartedAt\":\"0001-02-03T00:00:00Z\"}";
    cr_assert_eq(wire_decode_cutover_configmap(top, strlen(top), A, &c, &err), -1);
    cr_assert_str_eq(err.msg, "cutoverStartedAt: time \"0001-02-03T00:00:00Z\" "
                              "outside 1970-01-01..2200-01-01");
    const char *dep = "{\"id\":\"d1\",\"status\":\"running\","
                      "\"startedAt\":\"9999-12-31T23:59:59Z\"}";
    struct deployment d;
    cr_assert_eq(wire_decode_deployment(dep, strlen(dep), A, &d, &err), -1);
    cr_assert_str_eq(err.msg, "startedAt: time \"9999-12-31T23:59:59Z\" "
                              "outside 1970-01-01..2200-01-01");
}

/* Both ends of the accepted range, and Go's zero time (absent), still decode. */
Test(wire, accepts_time_range_edges)
{
    const char *j = "{\"jobs\":[{\"jobName\":\"a\",\"status\":\"succeeded\","
                    "\"startedAt\":\"1970-01-01T00:00:01Z\","
                    "\"finishedAt\":\"2200-01-01T00:00:00Z\"},"
                    "{\"jobName\":\"b\",\"startedAt\":\"0001-01-01T00:00:00Z\"}]}";
    struct job *jobs = NULL;
    size_t n = 0;
    struct error err;
    cr_assert_eq(wire_decode_jobs(j, strlen(j), A, &jobs, &n, &err), 0, "%s", err.msg);
    cr_assert_eq(n, 2);
    cr_assert_eq(jobs[0].started_at, 1000);
    cr_assert_eq(jobs[0].finished_at, INT64_C(7258118400000));
    cr_assert_eq(jobs[1].started_at, 0);
}

Test(wire, reject_wrong_type_deep)
{
    fixture("bad_dependson_type.json");
    expect_reject_jobs(buf, buflen, "jobs[12].dependsOn[0]: expected string, got number");
    const char *j = "{\"jobs\":[{\"jobName\":\"a\",\"status\":3}]}";
    expect_reject_jobs(j, strlen(j), "jobs[0].status: expected string, got number");
    const char *t = "{\"jobs\":[{\"jobName\":\"a\",\"startedAt\":\"2026-13-01T00:00:00Z\"}]}";
    expect_reject_jobs(t, strlen(t), "jobs[0].startedAt: invalid time \"2026-13-01T00:00:00Z\"");
    const char *d = "{\"jobs\":[{\"jobName\":\"a\",\"durationMs\":\"5\"}]}";
    expect_reject_jobs(d, strlen(d), "jobs[0].durationMs: expected number, got string");
    const char *o = "{\"jobs\":[{\"jobName\":\"a\"},7]}";
    expect_reject_jobs(o, strlen(o), "jobs[1]: expected object, got number");
    const char *m = "{\"jobs\":[{\"status\":\"running\"}]}";
    expect_reject_jobs(m, strlen(m), "jobs[0].jobName: missing");
    /* Found by fuzzing: the group synthesised for "d:" had no name, so our own
     * encoding of the frame did not decode. */
    const char *pe = "{\"jobs\":[{\"jobName\":\"a\",\"parentId\":\"d:\"}]}";
    expect_reject_jobs(pe, strlen(pe), "jobs[0].parentId: no job name after the deployment id");
    /* The early batches summary is not a jobs list. */
    fixture("job_batches_early.json");
    expect_reject_jobs(buf, buflen, "jobs: missing array");
}

Test(wire, reject_truncated_and_root)
{
    fixture("bad_truncated.json");
    struct job *jobs;
    size_t n;
    struct error err;
    cr_assert_eq(wire_decode_jobs(buf, buflen, A, &jobs, &n, &err), -1);
    cr_assert(strncmp(err.msg, "<root>: not valid JSON at byte ", 31) == 0, "%s", err.msg);
    cr_assert_gt(atoi(err.msg + 31), 80);
    expect_reject_jobs("", 0, "<root>: not valid JSON at byte 0");
    expect_reject_jobs("{\"jobs\":[]} x", 13, "<root>: not valid JSON at byte 12");

    struct cutover_status c;
    fixture("bad_root_array.json");
    cr_assert_eq(wire_decode_cutover_status(buf, buflen, A, &c, &err), -1);
    cr_assert_str_eq(err.msg, "<root>: expected object, got array");
    cr_assert_not(c.available);
}

Test(wire, reject_cutover_problems)
{
    struct cutover_status c;
    struct error err;
    fixture("bad_state.json");
    cr_assert_eq(wire_decode_cutover_status(buf, buflen, A, &c, &err), -1);
    cr_assert_str_eq(err.msg, "state: invalid cutover state \"weird\"");
    cr_assert_eq(err.code, EXIT_API);
    fixture("bad_step_time.json");
    cr_assert_eq(wire_decode_cutover_status(buf, buflen, A, &c, &err), -1);
    cr_assert_str_eq(err.msg, "steps[2].startedAt: invalid time \"yesterday\"");
    fixture("bad_step_result_type.json");
    cr_assert_eq(wire_decode_cutover_status(buf, buflen, A, &c, &err), -1);
    cr_assert_str_eq(err.msg, "steps[2].result: expected string, got number");
    /* Unknown results drop the record, not the frame (WIRE §6.2, §6.7). */
    fixture("bad_step_result.json");
    cr_assert_eq(wire_decode_cutover_status(buf, buflen, A, &c, &err), 0);
    cr_assert_eq(c.n_steps, 2);
    cr_assert_str_eq(c.steps[0].name, "gitea-mirror");
    cr_assert_str_eq(c.steps[1].name, "harbor-projects");
    const char *ui = "{\"steps\":[{\"step\":\"gitea-mirror\",\"status\":\"weird\"}]}";
    cr_assert_eq(wire_decode_cutover_status(ui, strlen(ui), A, &c, &err), 0);
    cr_assert_eq(c.n_steps, 0);
    const char *raw = "{\"raw\":{\"a\":\"b\",\"n\":1}}";
    cr_assert_eq(wire_decode_cutover_status(raw, strlen(raw), A, &c, &err), -1);
    cr_assert_str_eq(err.msg, "raw.n: expected string, got number");
    const char *st = "{\"state\":1}";
    cr_assert_eq(wire_decode_cutover_status(st, strlen(st), A, &c, &err), -1);
    cr_assert_str_eq(err.msg, "state: invalid cutover state (number)");

    struct log_page p;
    fixture("bad_log_line.json");
    cr_assert_eq(wire_decode_log_page(buf, buflen, A, &p, &err), -1);
    cr_assert_str_eq(err.msg, "lines[1].lineNumber: expected number, got string");
    cr_assert_eq(p.n_lines, 0);
}

Test(wire, reject_deep_nesting)
{
    size_t depth = 10000;
    char *j = malloc(2 * depth + 16);
    cr_assert_not_null(j);
    size_t o = 0;
    o += (size_t)sprintf(j, "{\"jobs\":");
    for (size_t i = 0; i < depth; i++)
        j[o++] = '[';
    for (size_t i = 0; i < depth; i++)
        j[o++] = ']';
    j[o++] = '}';
    struct job *jobs;
    size_t n;
    struct error err;
    int rc = wire_decode_jobs(j, o, A, &jobs, &n, &err);
    free(j);
    cr_assert_eq(rc, -1);
    cr_assert(strncmp(err.msg, "<root>: not valid JSON at byte ", 31) == 0, "%s", err.msg);
}

Test(wire, reject_invalid_utf8)
{
    fixture("bad_utf8.json");
    expect_reject_jobs(buf, buflen, "jobs[0].displayName: invalid UTF-8 in string");
}

Test(wire, huge_string_works)
{
    size_t big = 10u << 20;
    char *j = malloc(big + 128);
    cr_assert_not_null(j);
    size_t o = (size_t)sprintf(j, "{\"lines\":[{\"lineNumber\":1,\"message\":\"");
    memset(j + o, 'x', big);
    o += big;
    o += (size_t)sprintf(j + o, "\"}],\"total\":1,\"executionFinished\":true}");
    struct log_page p;
    struct error err;
    int rc = wire_decode_log_page(j, o, A, &p, &err);
    free(j);
    cr_assert_eq(rc, 0, "%s", err.msg);
    cr_assert_eq(p.n_lines, 1);
    cr_assert_eq(strlen(p.lines[0].message), big);
}

/* ---- encode -> decode round trips ---- */

static void jobs_equal(const struct job *a, const struct job *b)
{
    cr_assert_str_eq(a->id, b->id);
    cr_assert_str_eq(a->deployment_id, b->deployment_id);
    cr_assert_str_eq(a->job_name, b->job_name);
    cr_assert_str_eq(a->display_name, b->display_name);
    cr_assert_str_eq(a->app_id, b->app_id);
    cr_assert_str_eq(a->region, b->region);
    cr_assert_str_eq(a->parent_id, b->parent_id);
    cr_assert_str_eq(a->latest_execution_id, b->latest_execution_id);
    cr_assert_eq(a->n_depends_on, b->n_depends_on);
    for (size_t i = 0; i < a->n_depends_on; i++)
        cr_assert_str_eq(a->depends_on[i], b->depends_on[i]);
    cr_assert_eq(a->n_child_ids, b->n_child_ids);
    for (size_t i = 0; i < a->n_child_ids; i++)
        cr_assert_str_eq(a->child_ids[i], b->child_ids[i]);
    cr_assert_eq(a->is_group, b->is_group);
    cr_assert_eq(a->kind, b->kind);
    cr_assert_eq(a->status, b->status);
    cr_assert_eq(a->started_at, b->started_at);
    cr_assert_eq(a->finished_at, b->finished_at);
    cr_assert_eq(a->duration_ms, b->duration_ms);
}

Test(wire, roundtrip_jobs)
{
    struct job *jobs, *back;
    size_t n, m;
    struct error err;
    fixture("jobs_late.json");
    cr_assert_eq(wire_decode_jobs(buf, buflen, A, &jobs, &n, &err), 0);
    /* A non-ASCII name, a region and a millisecond time survive too. */
    jobs[4].display_name = "Cilium \xe2\x9c\x93 \"eBPF\"\n";
    jobs[4].region = "hel1";
    jobs[4].started_at += 7;
    struct strbuf sb;
    sb_init(&sb);
    wire_encode_jobs(&sb, jobs, n);
    cr_assert_eq(sb.buf[sb.len - 1], '\n');
    cr_assert(strstr(sb.buf, "\"dependsOn\":[]"));
    cr_assert_null(strstr(sb.buf, "batchId"));
    cr_assert_eq(wire_decode_jobs(sb.buf, sb.len, A, &back, &m, &err), 0, "%s", err.msg);
    cr_assert_eq(m, n);
    for (size_t i = 0; i < n; i++)
        jobs_equal(&jobs[i], &back[i]);
    /* Deterministic: the same input encodes byte for byte the same. */
    struct strbuf sb2;
    sb_init(&sb2);
    wire_encode_jobs(&sb2, back, m);
    cr_assert_eq(sb.len, sb2.len);
    cr_assert(memcmp(sb.buf, sb2.buf, sb.len) == 0);
    sb_fini(&sb);
    sb_fini(&sb2);
}

Test(wire, encode_job_exact_bytes)
{
    const char *deps[] = {"install-cilium"};
    struct job j = {
        .id = "d:install-cert-manager", .deployment_id = "d", .job_name = "install-cert-manager",
        .display_name = "", .app_id = "cert-manager", .region = "", .parent_id = "d:bootstrap-kit",
        .latest_execution_id = "", .depends_on = deps, .n_depends_on = 1,
        .kind = KIND_INSTALL, .status = JOB_SUCCEEDED,
        .started_at = 1778572480000, .finished_at = 1778572562123, .duration_ms = 82123,
    };
    struct strbuf sb;
    sb_init(&sb);
    wire_encode_job(&sb, &j);
    cr_assert_str_eq(sb.buf,
                     "{\"id\":\"d:install-cert-manager\",\"deploymentId\":\"d\",\"jobName\":"
                     "\"install-cert-manager\",\"type\":\"install\",\"kind\":\"install\","
                     "\"appId\":\"cert-manager\",\"parentId\":\"d:bootstrap-kit\",\"dependsOn\":"
                     "[\"install-cilium\"],\"status\":\"succeeded\",\"startedAt\":"
                     "\"2026-05-12T07:54:40Z\",\"finishedAt\":\"2026-05-12T07:56:02.123Z\","
                     "\"durationMs\":82123}\n");
    char tb[40];
    cr_assert(strstr(sb.buf, time_format(j.finished_at, tb, sizeof tb)));
    sb_fini(&sb);
}

Test(wire, roundtrip_detail_and_log)
{
    struct job j, j2;
    struct execution *x, *x2;
    size_t n, n2;
    struct error err;
    fixture("job_detail.json");
    cr_assert_eq(wire_decode_job_detail(buf, buflen, A, &j, &x, &n, &err), 0);
    const struct execution *xp[2] = {&x[0], &x[1]};
    struct strbuf sb;
    sb_init(&sb);
    wire_encode_job_detail(&sb, &j, xp, n);
    cr_assert_eq(wire_decode_job_detail(sb.buf, sb.len, A, &j2, &x2, &n2, &err), 0, "%s",
                 err.msg);
    jobs_equal(&j, &j2);
    cr_assert_eq(n2, n);
    for (size_t i = 0; i < n; i++) {
        cr_assert_str_eq(x[i].id, x2[i].id);
        cr_assert_str_eq(x[i].job_id, x2[i].job_id);
        cr_assert_str_eq(x[i].deployment_id, x2[i].deployment_id);
        cr_assert_eq(x[i].status, x2[i].status);
        cr_assert_eq(x[i].started_at, x2[i].started_at);
        cr_assert_eq(x[i].finished_at, x2[i].finished_at);
        cr_assert_eq(x[i].line_count, x2[i].line_count);
    }

    struct log_page p, p2;
    fixture("log_page.json");
    cr_assert_eq(wire_decode_log_page(buf, buflen, A, &p, &err), 0);
    p.lines[1].level = LOG_ERROR;
    p.lines[2].message = "ansi \x1b[31mred\x1b[0m\ttab";
    sb_reset(&sb);
    wire_encode_log_page(&sb, &p);
    cr_assert_eq(wire_decode_log_page(sb.buf, sb.len, A, &p2, &err), 0, "%s", err.msg);
    cr_assert_eq(p2.n_lines, p.n_lines);
    cr_assert_eq(p2.total, p.total);
    cr_assert_eq(p2.execution_finished, p.execution_finished);
    for (size_t i = 0; i < p.n_lines; i++) {
        cr_assert_eq(p.lines[i].line_number, p2.lines[i].line_number);
        cr_assert_eq(p.lines[i].timestamp, p2.lines[i].timestamp);
        cr_assert_eq(p.lines[i].level, p2.lines[i].level);
        cr_assert_str_eq(p.lines[i].message, p2.lines[i].message);
    }
    sb_fini(&sb);
}

static void cutover_equal(const struct cutover_status *a, const struct cutover_status *b)
{
    cr_assert_eq(a->available, b->available);
    cr_assert_eq(a->state, b->state);
    cr_assert_eq(a->complete, b->complete);
    cr_assert_eq(a->started_at, b->started_at);
    cr_assert_eq(a->finished_at, b->finished_at);
    cr_assert_eq(a->last_attempt_started_at, b->last_attempt_started_at);
    cr_assert_eq(a->running, b->running);
    cr_assert_str_eq(a->current_step, b->current_step);
    cr_assert_eq(a->current_step_index, b->current_step_index);
    cr_assert_eq(a->total_steps, b->total_steps);
    cr_assert_eq(a->progress_percent, b->progress_percent);
    cr_assert_str_eq(a->failed_step, b->failed_step);
    cr_assert_str_eq(a->last_error, b->last_error);
    cr_assert_eq(a->n_steps, b->n_steps);
    for (size_t i = 0; i < a->n_steps; i++) {
        cr_assert_str_eq(a->steps[i].name, b->steps[i].name);
        cr_assert_eq(a->steps[i].result, b->steps[i].result);
        cr_assert_eq(a->steps[i].started_at, b->steps[i].started_at);
        cr_assert_eq(a->steps[i].finished_at, b->steps[i].finished_at);
        cr_assert_str_eq(a->steps[i].job_name, b->steps[i].job_name);
        cr_assert_str_eq(a->steps[i].message, b->steps[i].message);
        cr_assert_eq(a->steps[i].hold_until, b->steps[i].hold_until);
        cr_assert_eq(a->steps[i].hold_seconds, b->steps[i].hold_seconds);
    }
    cr_assert_eq(a->n_raw, b->n_raw);
    for (size_t i = 0; i < a->n_raw; i++) {
        cr_assert_str_eq(a->raw[i].key, b->raw[i].key);
        cr_assert_str_eq(a->raw[i].value, b->raw[i].value);
    }
    cr_assert_str_eq(a->mirrored_commit_sha, b->mirrored_commit_sha);
    cr_assert_eq(a->harbor_project_count, b->harbor_project_count);
    cr_assert_eq(a->egress_test_passed, b->egress_test_passed);
    cr_assert_str_eq(a->settled_roll_overrides, b->settled_roll_overrides);
}

Test(wire, roundtrip_cutover)
{
    static const char *const files[] = {"cutover_running.json", "cutover_complete.json",
                                        "cutover_failed.json", "cutover_never.json"};
    struct error err;
    struct strbuf sb;
    sb_init(&sb);
    for (size_t f = 0; f < 4; f++) {
        struct cutover_status c, c2;
        fixture(files[f]);
        cr_assert_eq(wire_decode_cutover_status(buf, buflen, A, &c, &err), 0);
        if (f == 0) {
            c.steps[2].hold_until = 1778580000000;
            c.steps[2].hold_seconds = 600;
            c.settled_roll_overrides = "{\"a\":1}";
        }
        sb_reset(&sb);
        wire_encode_cutover_status(&sb, &c);
        cr_assert_eq(sb.buf[sb.len - 1], '\n');
        cr_assert(strstr(sb.buf, c.state == SOV_SOVEREIGN ? "\"state\":\"sovereign\""
                                                          : "\"state\":\"tethered\""));
        cr_assert_eq(wire_decode_cutover_status(sb.buf, sb.len, A, &c2, &err), 0, "%s %s",
                     files[f], err.msg);
        cutover_equal(&c, &c2);
    }
    sb_fini(&sb);
}

Test(wire, roundtrip_deployment_and_orgs)
{
    struct deployment d, d2;
    struct error err;
    fixture("deployment.json");
    cr_assert_eq(wire_decode_deployment(buf, buflen, A, &d, &err), 0);
    d.handover_fired_at = 1778575000000;
    d.phase1_outcome = "ready";
    struct strbuf sb;
    sb_init(&sb);
    wire_encode_deployment(&sb, &d);
    cr_assert(strstr(sb.buf, "\"finishedAt\":null"));
    cr_assert_eq(wire_decode_deployment(sb.buf, sb.len, A, &d2, &err), 0, "%s", err.msg);
    cr_assert_str_eq(d2.console_url, d.console_url);
    cr_assert_str_eq(d2.control_plane_ip, d.control_plane_ip);
    cr_assert_str_eq(d2.gitops_repo_url, d.gitops_repo_url);
    cr_assert_eq(d2.handover_fired_at, d.handover_fired_at);
    cr_assert_str_eq(d2.phase1_outcome, "ready");
    cr_assert_str_eq(d2.org_name, "Omantel");
    cr_assert_eq(d2.num_events, 412);

    struct organization *orgs, *o2;
    struct blueprint *bps, *b2;
    size_t no, nb, no2, nb2;
    fixture("organizations.json");
    cr_assert_eq(wire_decode_organizations(buf, buflen, A, &orgs, &no, &bps, &nb, &err), 0);
    sb_reset(&sb);
    wire_encode_organizations(&sb, orgs, no, bps, nb);
    cr_assert_eq(wire_decode_organizations(sb.buf, sb.len, A, &o2, &no2, &b2, &nb2, &err), 0);
    cr_assert_eq(no2, no);
    cr_assert_eq(nb2, nb);
    cr_assert_str_eq(o2[0].envs[0].apps[0].depends_on[1], "bp-redis");
    cr_assert_str_eq(b2[0].depends[0], "bp-postgres");
    /* The bytes are exactly the fixture's (same field order, compact). */
    fixture("organizations.json");
    cr_assert_str_eq(sb.buf, buf);

    sb_reset(&sb);
    wire_encode_error(&sb, "job-not-found", "");
    cr_assert_str_eq(sb.buf, "{\"error\":\"job-not-found\"}\n");
    sb_fini(&sb);
}

Test(wire, snapshot_json)
{
    struct snapshot *s = snapshot_new();
    cr_assert_not_null(s);
    struct arena *sa = snapshot_arena(s);
    struct error err;
    fixture("jobs_late.json");
    cr_assert_eq(wire_decode_jobs(buf, buflen, sa, &s->jobs, &s->n_jobs, &err), 0);
    fixture("cutover_complete.json");
    cr_assert_eq(wire_decode_cutover_status(buf, buflen, sa, &s->cutover, &err), 0);
    fixture("deployment.json");
    cr_assert_eq(wire_decode_deployment(buf, buflen, sa, &s->deployment, &err), 0);
    s->has_deployment = true;
    s->sovereign_name = "omantel";
    s->provider = "hetzner";
    s->source.mode = "remote";
    s->source.url = "http://127.0.0.1:8080/api/v1";
    s->source.ok = true;
    s->source.error = "";
    s->source.fetched_at = 1778578867000;
    s->counts.total = 4;
    s->counts.by_status[JOB_SUCCEEDED] = 3;
    s->counts.by_status[JOB_RUNNING] = 1;
    struct strbuf sb, sb2;
    sb_init(&sb);
    sb_init(&sb2);
    wire_encode_snapshot(&sb, s, true);
    wire_encode_snapshot(&sb2, s, true);
    cr_assert_str_eq(sb.buf, sb2.buf);
    cr_assert(strncmp(sb.buf, "{\"source\":{\"mode\":\"remote\"", 26) == 0);
    cr_assert(strstr(sb.buf, "\"state\":\"sovereign\",\"sovereign\":{\"name\":\"omantel\","
                             "\"fqdn\":\"omantel.omani.works\",\"provider\":\"hetzner\"}"));
    cr_assert(strstr(sb.buf, "\"cutover\":{\"state\":\"sovereign\",\"cutoverComplete\":true"));
    cr_assert(strstr(sb.buf, "\"counts\":{\"total\":4,\"pending\":0,\"running\":1,"
                             "\"succeeded\":3,\"failed\":0,\"blocked\":0}}\n"));
    /* Compact: no space after separators. */
    cr_assert_null(strstr(sb.buf, "\": "));
    cr_assert_null(strstr(sb.buf, ", \""));
    sb_reset(&sb);
    wire_encode_snapshot(&sb, s, false);
    cr_assert(strncmp(sb.buf, "{\"state\":\"sovereign\"", 20) == 0);
    cr_assert_null(strstr(sb.buf, "\"source\""));
    sb_fini(&sb);
    sb_fini(&sb2);
    snapshot_release(s);
}

Test(wire, step_catalogue)
{
    cr_assert_eq(wire_cutover_step_order("gitea-mirror"), 0);
    cr_assert_eq(wire_cutover_step_order("egress-block-test"), 7);
    cr_assert_eq(wire_cutover_step_order("crossplane-provider-pivot"), 10);
    cr_assert_eq(wire_cutover_step_order("smtp-relay-pivot"), -1);
    cr_assert_eq(wire_cutover_step_order(NULL), -1);
    cr_assert_str_eq(wire_cutover_step_label("egress-block-test"), "Egress-block self-test");
    cr_assert_str_eq(wire_cutover_step_label("smtp-relay-pivot"), "smtp-relay-pivot");
}

/* Reentrancy: decoders on several threads at once, good and bad frames mixed. */
static void *decode_worker(void *arg)
{
    const char *good = arg;
    const char *bad = "{\"jobs\":[{\"jobName\":\"a\",\"dependsOn\":[1]}]}";
    intptr_t ok = 1;
    for (int r = 0; r < 50; r++) {
        struct arena *a = arena_new();
        struct job *jobs;
        size_t n;
        struct error err;
        if (wire_decode_jobs(good, strlen(good), a, &jobs, &n, &err) != 0 || n != 7)
            ok = 0;
        if (wire_decode_jobs(bad, strlen(bad), a, &jobs, &n, &err) != -1 ||
            strcmp(err.msg, "jobs[0].dependsOn[0]: expected string, got number") != 0)
            ok = 0;
        if (wire_decode_jobs("{", 1, a, &jobs, &n, &err) != -1 ||
            strcmp(err.msg, "<root>: not valid JSON at byte 0") != 0)
            ok = 0;
        arena_free(a);
    }
    return (void *)ok;
}

Test(wire, concurrent_decoders)
{
    fixture("jobs_late.json");
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, decode_worker, buf), 0);
    for (int i = 0; i < 4; i++) {
        void *ok;
        pthread_join(t[i], &ok);
        cr_assert_eq((intptr_t)ok, 1, "thread %d saw a wrong result", i);
    }
}
