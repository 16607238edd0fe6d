/* test_engine: running real and simulated jobs, retries, cascades, stop. */
#include <criterion/criterion.h>

#include "arena.h"
#include "dag.h"
#include "engine.h"
#include "snapshot.h"
#include "helpers/testutil.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HEAD "sovereign: {name: t1, fqdn: t1.example.com, provider: hetzner, regions: [fsn1]}\n"

static struct spec *load(const char *yaml)
{
    struct error err;
    error_clear(&err);
    struct spec *sp = spec_load_buffer(yaml, strlen(yaml), "test.yaml", &err);
    if (!sp) {
        char b[1400];
        cr_assert_fail("spec: %s", error_format(&err, b, sizeof(b)));
    }
    return sp;
}

static struct engine *start(const struct spec *sp, double speed, bool read_only)
{
    struct engine_config cfg = {.workers = 4, .speed = speed, .read_only = read_only,
                                .mode = "standalone"};
    struct error err;
    struct engine *e = engine_new(sp, &cfg, &err);
    cr_assert_not_null(e, "engine_new: %s", err.msg);
    cr_assert_eq(engine_start(e, &err), 0);
    return e;
}

/* Waits (bounded, as a guard against hangs) until the jobs settle. */
static void wait_done(struct engine *e)
{
    cr_assert(tu_wait_for(e, tu_jobs_done, NULL), "jobs did not settle");
}

static const struct job *job_named(const struct snapshot *s, const char *name)
{
    int32_t i = snapshot_find_job(s, name);
    cr_assert_geq(i, 0, "no job %s", name);
    return &s->jobs[i];
}

static bool detail_has(const struct snapshot *s, const char *needle)
{
    for (size_t i = 0; i < s->detail.n_lines; i++)
        if (strstr(s->detail.lines[i].message, needle))
            return true;
    return false;
}

Test(engine, echo_succeeds_with_log_line)
{
    struct spec *sp = load(HEAD "groups:\n  - name: g\n    jobs:\n"
                                "      - {name: hello, run: \"echo hi; echo oops >&2\"}\n");
    struct engine *e = start(sp, 1, false);
    wait_done(e);
    struct snapshot *s = tu_snap(e, "hello");
    const struct job *j = job_named(s, "hello");
    cr_assert_eq(j->status, JOB_SUCCEEDED);
    cr_assert_eq(j->run_count, 1);
    cr_assert_eq(strlen(j->latest_execution_id), 32);
    cr_assert_eq(s->detail.n_executions, 1);
    cr_assert_eq(s->detail.executions[0].status, EXEC_SUCCEEDED);
    cr_assert(s->detail.log_finished);
    bool info = false, warn = false;
    for (size_t i = 0; i < s->detail.n_lines; i++) {
        const struct log_line *l = &s->detail.lines[i];
        cr_assert_eq(l->line_number, (int64_t)i + 1);
        cr_assert_gt(l->timestamp, 0);
        if (strcmp(l->message, "hi") == 0 && l->level == LOG_INFO)
            info = true;
        if (strcmp(l->message, "oops") == 0 && l->level == LOG_WARN)
            warn = true;
    }
    cr_assert(info && warn);
    cr_assert_str_eq(s->deployment.status, "ready");
    cr_assert_gt(s->n_activity, 0);
    snapshot_release(s);
    engine_free(e);
    spec_free(sp);
}

Test(engine, exit_code_fails)
{
    struct spec *sp = load(HEAD "groups:\n  - name: g\n    jobs:\n"
                                "      - {name: bad, run: \"exit 3\"}\n");
    struct engine *e = start(sp, 1, false);
    wait_done(e);
    struct snapshot *s = tu_snap(e, "bad");
    cr_assert_eq(job_named(s, "bad")->status, JOB_FAILED);
    cr_assert_eq(s->detail.n_executions, 1);
    cr_assert_eq(s->detail.executions[0].status, EXEC_FAILED);
    cr_assert(detail_has(s, "[exit] status 3"));
    cr_assert_str_eq(s->deployment.status, "failed");
    struct engine_progress p;
    engine_progress(e, &p);
    cr_assert_eq(p.jobs_failed, 1);
    snapshot_release(s);
    engine_free(e);
    spec_free(sp);
}

Test(engine, timeout_kills)
{
    struct spec *sp = load(HEAD "groups:\n  - name: g\n    jobs:\n"
                                "      - {name: slow, run: \"sleep 100\", timeout: 1s}\n");
    struct engine *e = start(sp, 1, false);
    wait_done(e);
    struct snapshot *s = tu_snap(e, "slow");
    cr_assert_eq(job_named(s, "slow")->status, JOB_FAILED);
    cr_assert(detail_has(s, "[timeout] killed after 1s"));
    snapshot_release(s);
    engine_free(e);
    spec_free(sp);
}

Test(engine, retry_succeeds_second_time)
{
    char dir[] = "/tmp/catalyst-test-......";
    memset(dir + sizeof(dir) - 7, 'X', 6); /* mkdtemp template */
    cr_assert_not_null(mkdtemp(dir));
    char yaml[2048];
    snprintf(yaml, sizeof(yaml),
             HEAD "groups:\n  - name: g\n    jobs:\n"
                  "      - name: flaky\n        retries: 1\n        env: {MARK: %s/mark}\n"
                  "        run: \"if [ -f \\\"$MARK\\\" ]; then echo second; else touch "
                  "\\\"$MARK\\\"; exit 1; fi\"\n",
             dir);
    struct spec *sp = load(yaml);
    struct engine *e = start(sp, 1, false);
    wait_done(e);
    struct snapshot *s = tu_snap(e, "flaky");
    const struct job *j = job_named(s, "flaky");
    cr_assert_eq(j->status, JOB_SUCCEEDED);
    cr_assert_eq(j->run_count, 2);
    cr_assert_eq(s->detail.n_executions, 2);
    cr_assert_eq(s->detail.executions[0].status, EXEC_SUCCEEDED); /* newest first */
    cr_assert_eq(s->detail.executions[1].status, EXEC_FAILED);
    cr_assert_str_neq(s->detail.executions[0].id, s->detail.executions[1].id);
    cr_assert(detail_has(s, "second"));
    snapshot_release(s);
    engine_free(e);
    spec_free(sp);
    char mark[600];
    snprintf(mark, sizeof(mark), "%s/mark", dir);
    unlink(mark);
    rmdir(dir);
}

Test(engine, cascading_failure_blocks_dependents)
{
    struct spec *sp = load(HEAD "groups:\n  - name: g\n    jobs:\n"
                                "      - {name: a, run: \"exit 1\"}\n"
                                "      - {name: b, dependsOn: [a], run: \"echo b\"}\n"
                                "      - {name: c, dependsOn: [b], simulate: {duration: 0s}}\n"
                                "      - {name: d, simulate: {duration: 0s}}\n");
    struct engine *e = start(sp, 1, false);
    wait_done(e);
    struct snapshot *s = tu_snap(e, NULL);
    const struct job *b = job_named(s, "b"), *c = job_named(s, "c");
    cr_assert_eq(b->status, JOB_FAILED);
    cr_assert_eq(c->status, JOB_FAILED);
    cr_assert_eq(b->run_count, 0);
    cr_assert_str_empty(b->latest_execution_id);
    cr_assert_str_empty(c->latest_execution_id);
    cr_assert_eq(job_named(s, "d")->status, JOB_SUCCEEDED);
    int32_t ai = snapshot_find_job(s, "a");
    cr_assert_eq(s->blocked_by[snapshot_find_job(s, "b")], ai);
    cr_assert_eq(s->blocked_by[snapshot_find_job(s, "c")], ai);
    cr_assert_eq(s->counts.blocked, 2);
    snapshot_release(s);
    engine_free(e);
    spec_free(sp);
}

Test(engine, mixed_depends_on_resolution)
{
    struct spec *sp = load(
        "sovereign: {name: t1, fqdn: t1.example.com, provider: hetzner, regions: [fsn1],"
        " deploymentId: abcdef0123456789}\n"
        "groups:\n  - name: g\n    jobs:\n"
        "      - {name: first, simulate: {duration: 50ms}}\n"
        "      - {name: second, dependsOn: [\"abcdef0123456789:first\"], "
        "simulate: {duration: 0s}}\n"
        "      - {name: third, dependsOn: [second], simulate: {duration: 0s}}\n");
    struct engine *e = start(sp, 1, false);
    cr_assert_str_eq(engine_deployment_id(e), "abcdef0123456789");
    wait_done(e);
    struct snapshot *s = tu_snap(e, NULL);
    const struct job *f = job_named(s, "first"), *se = job_named(s, "second"),
                     *t = job_named(s, "third");
    cr_assert_str_eq(f->id, "abcdef0123456789:first");
    cr_assert_str_eq(se->depends_on[0], "abcdef0123456789:first");
    cr_assert_str_eq(t->depends_on[0], "second");
    cr_assert_eq(t->status, JOB_SUCCEEDED);
    cr_assert_geq(se->started_at, f->finished_at);
    cr_assert_geq(t->started_at, se->finished_at);
    size_t nd;
    const int32_t *d = dag_deps(s->dag, snapshot_find_job(s, "second"), &nd);
    cr_assert_eq(nd, 1);
    cr_assert_eq(d[0], snapshot_find_job(s, "first"));
    snapshot_release(s);
    engine_free(e);
    spec_free(sp);
}

Test(engine, group_rollup_and_after)
{
    struct spec *sp = load(HEAD "groups:\n"
                                "  - name: one\n    displayName: One\n    jobs:\n"
                                "      - {name: a1, simulate: {duration: 0s}}\n"
                                "      - {name: a2, run: \"exit 2\"}\n"
                                "  - name: two\n    after: [one]\n    jobs:\n"
                                "      - {name: b1, simulate: {duration: 0s}}\n"
                                "  - name: three\n    jobs:\n"
                                "      - {name: c1, simulate: {duration: 20ms}}\n"
                                "      - {name: c2, dependsOn: [c1], simulate: {duration: 0s}}\n");
    struct engine *e = start(sp, 1, false);
    wait_done(e);
    struct snapshot *s = tu_snap(e, NULL);
    const struct job *one = job_named(s, "one");
    cr_assert(one->is_group);
    cr_assert_eq(one->kind, KIND_GROUP);
    cr_assert_str_eq(one->display_name, "One");
    cr_assert_eq(one->n_child_ids, 2);
    cr_assert_eq(one->status, JOB_FAILED);
    /* b1 waits for every job of `one`, which failed: it never ran. */
    cr_assert_eq(job_named(s, "b1")->status, JOB_FAILED);
    cr_assert_eq(job_named(s, "b1")->run_count, 0);
    cr_assert_str_eq(job_named(s, "b1")->parent_id, job_named(s, "two")->id);
    const struct job *three = job_named(s, "three");
    cr_assert_eq(three->status, JOB_SUCCEEDED);
    cr_assert_eq(three->started_at, job_named(s, "c1")->started_at);
    cr_assert_eq(three->finished_at, job_named(s, "c2")->finished_at);
    cr_assert_eq(three->duration_ms, three->finished_at - three->started_at);
    snapshot_release(s);
    engine_free(e);
    spec_free(sp);
}

Test(engine, speed_scales_simulated_jobs)
{
    struct spec *sp = load(HEAD "groups:\n  - name: g\n    jobs:\n"
                                "      - {name: install-x, app: x, simulate: {duration: 20s, "
                                "logs: [\"WARN: careful\", \"ERROR: bad\", \"DEBUG: d\", "
                                "\"plain\"]}}\n");
    struct engine *e = start(sp, 100, false);
    wait_done(e);
    struct snapshot *s = tu_snap(e, "install-x");
    const struct job *j = job_named(s, "install-x");
    cr_assert_eq(j->status, JOB_SUCCEEDED);
    cr_assert_eq(j->kind, KIND_INSTALL);
    cr_assert_str_eq(j->app_id, "x");
    /* 20 s at speed 100 is 200 ms: never shorter. */
    cr_assert_geq(j->finished_at - j->started_at, 190);
    bool w = false, er = false, dbg = false, plain = false, inst = false;
    for (size_t i = 0; i < s->detail.n_lines; i++) {
        const struct log_line *l = &s->detail.lines[i];
        w |= l->level == LOG_WARN && strcmp(l->message, "careful") == 0;
        er |= l->level == LOG_ERROR && strcmp(l->message, "bad") == 0;
        dbg |= l->level == LOG_DEBUG && strcmp(l->message, "d") == 0;
        plain |= l->level == LOG_INFO && strcmp(l->message, "plain") == 0;
        inst |= strncmp(l->message, "[installed]", 11) == 0;
    }
    cr_assert(w && er && dbg && plain && inst);
    snapshot_release(s);
    engine_free(e);
    spec_free(sp);
}

/* A tiny --speed stretches simulated time: out of int64 it must not become "now". */
Test(engine, tiny_speed_is_slow_not_instant)
{
    struct spec *sp = load(HEAD "groups:\n  - name: g\n    jobs:\n"
                                "      - {name: s, simulate: {duration: 1s, logs: [a]}}\n"
                                "cutover:\n  steps:\n    - {name: h, hold: 600s}\n");
    struct engine *e = start(sp, 1e-300, false);
    usleep(300 * 1000);
    struct snapshot *s = tu_snap(e, NULL);
    cr_assert_eq(job_named(s, "s")->status, JOB_RUNNING);
    snapshot_release(s);
    engine_free(e);
    spec_free(sp);
}

Test(engine, sim_fail_first_with_retries)
{
    struct spec *sp = load(HEAD "groups:\n  - name: g\n    jobs:\n"
                                "      - {name: s, retries: 1, simulate: {duration: 0s, "
                                "failFirst: 1}}\n"
                                "      - {name: t, simulate: {duration: 0s, failFirst: 1}}\n");
    struct engine *e = start(sp, 1, false);
    wait_done(e);
    struct snapshot *s = tu_snap(e, "t");
    cr_assert_eq(job_named(s, "s")->status, JOB_SUCCEEDED);
    cr_assert_eq(job_named(s, "s")->run_count, 2);
    cr_assert_eq(job_named(s, "t")->status, JOB_FAILED);
    cr_assert(detail_has(s, "simulated failure"));
    snapshot_release(s);
    engine_free(e);
    spec_free(sp);
}

Test(engine, manual_retry)
{
    struct spec *sp = load(HEAD "groups:\n  - name: g\n    jobs:\n"
                                "      - {name: t, simulate: {duration: 0s, failFirst: 1}}\n"
                                "      - {name: u, dependsOn: [t], simulate: {duration: 0s}}\n"
                                "      - {name: ok, simulate: {duration: 0s}}\n");
    struct engine *e = start(sp, 1, false);
    wait_done(e);
    struct engine_result r;
    engine_retry(e, "u", "ops@example.com", &r);
    cr_assert_eq(r.code, 409);
    cr_assert_str_eq(r.error, "not-retryable");
    cr_assert(strstr(r.detail, "t"), "detail names the failed dependency: %s", r.detail);
    engine_retry(e, "ok", "ops@example.com", &r);
    cr_assert_eq(r.code, 409);
    engine_retry(e, "nope", "ops@example.com", &r);
    cr_assert_eq(r.code, 404);
    cr_assert_str_eq(r.error, "job-not-found");
    engine_retry(e, "t", "ops@example.com", &r);
    cr_assert_eq(r.code, 200, "%s", r.detail);
    cr_assert_eq(strlen(r.execution_id), 32);
    cr_assert_gt(r.requested_at, 0);
    wait_done(e);
    struct snapshot *s = tu_snap(e, "t");
    cr_assert_eq(job_named(s, "t")->status, JOB_SUCCEEDED);
    cr_assert_eq(job_named(s, "u")->status, JOB_SUCCEEDED);
    cr_assert_eq(s->detail.n_executions, 2);
    cr_assert_str_eq(s->detail.executions[0].id, r.execution_id);
    cr_assert_geq(s->detail.n_lines, 1);
    const char *first = s->detail.lines[0].message;
    cr_assert(strncmp(first, "[retry] requested by ops@example.com at ", 40) == 0, "%s", first);
    cr_assert(strstr(first, "re-running t"));
    snapshot_release(s);
    engine_free(e);
    spec_free(sp);
}

Test(engine, read_only_refuses_retry)
{
    struct spec *sp = load(HEAD "groups:\n  - name: g\n    jobs:\n"
                                "      - {name: t, run: \"exit 1\"}\n");
    struct engine *e = start(sp, 1, true);
    wait_done(e);
    struct engine_result r;
    engine_retry(e, "t", "x", &r);
    cr_assert_eq(r.code, 403);
    cr_assert_str_eq(r.error, "read-only");
    struct snapshot *s = tu_snap(e, NULL);
    cr_assert(s->source.read_only);
    snapshot_release(s);
    engine_free(e);
    spec_free(sp);
}

Test(engine, stop_interrupts_running_job)
{
    struct spec *sp = load(HEAD "groups:\n  - name: g\n    jobs:\n"
                                "      - {name: long, run: \"echo started; sleep 30\"}\n"
                                "      - {name: sim, simulate: {duration: 60s}}\n");
    struct engine *e = start(sp, 1, false);
    uint64_t g = 0;
    int64_t until = mono_ms() + 20000;
    struct engine_progress p;
    do {
        g = engine_wait(e, g, 100);
        engine_progress(e, &p);
    } while (p.jobs_running < 2 && mono_ms() < until);
    cr_assert_eq(p.jobs_running, 2);
    engine_stop(e);
    struct snapshot *s = tu_snap(e, "long");
    cr_assert_eq(s->detail.n_executions, 1);
    cr_assert_eq(s->detail.executions[0].status, EXEC_FAILED);
    cr_assert(detail_has(s, "[interrupted]"));
    snapshot_release(s);
    s = tu_snap(e, "sim");
    cr_assert_eq(s->detail.executions[0].status, EXEC_FAILED);
    cr_assert(detail_has(s, "[interrupted]"));
    snapshot_release(s);
    engine_stop(e); /* idempotent */
    engine_free(e);
    spec_free(sp);
}

Test(engine, log_page_clamping)
{
    struct spec *sp = load(HEAD "groups:\n  - name: g\n    jobs:\n"
                                "      - {name: ten, run: \"seq 1 10\"}\n");
    struct engine *e = start(sp, 1, false);
    wait_done(e);
    struct snapshot *s = tu_snap(e, "ten");
    const char *xid = job_named(s, "ten")->latest_execution_id;
    struct arena *a = arena_new();
    struct log_page pg;
    cr_assert_eq(engine_log_page(e, xid, 0, 3, a, &pg), 0);
    cr_assert_eq(pg.n_lines, 3);
    cr_assert_eq(pg.lines[0].line_number, 1);
    cr_assert_str_eq(pg.lines[2].message, "3");
    cr_assert_eq(pg.total, 10);
    cr_assert(pg.execution_finished);
    cr_assert_eq(engine_log_page(e, xid, 9, 0, a, &pg), 0);
    cr_assert_eq(pg.n_lines, 2);
    cr_assert_str_eq(pg.lines[1].message, "10");
    cr_assert_eq(engine_log_page(e, xid, 11, 99999, a, &pg), 0);
    cr_assert_eq(pg.n_lines, 0);
    cr_assert_eq(pg.total, 10);
    /* fromLine is the client's: near INT64_MAX the page end must not overflow (UBSan). */
    cr_assert_eq(engine_log_page(e, xid, INT64_MAX, 5000, a, &pg), 0);
    cr_assert_eq(pg.n_lines, 0);
    cr_assert_eq(engine_log_page(e, xid, INT64_MAX - 3, 5000, a, &pg), 0);
    cr_assert_eq(pg.n_lines, 0);
    cr_assert_eq(pg.total, 10);
    cr_assert_eq(engine_log_page(e, "00000000000000000000000000000000", 1, 1, a, &pg), 404);
    arena_free(a);
    snapshot_release(s);
    engine_free(e);
    spec_free(sp);
}

Test(engine, env_and_orgs)
{
    struct spec *sp = load(
        HEAD "blueprints:\n"
             "  - {name: wordpress, version: 6.5.2, depends: [mysql]}\n"
             "  - {name: mysql, version: 8.4.0, depends: [cnpg]}\n"
             "  - {name: cnpg, version: 1.0.0}\n"
             "organizations:\n  - name: acme\n    environments:\n"
             "      - type: prod\n        applications: [{name: shop, blueprint: wordpress}]\n"
             "groups:\n  - name: g\n    jobs:\n"
             "      - {name: envjob, run: \"echo $CATALYST_JOB:$CATALYST_DEPLOYMENT_ID:"
             "${#CATALYST_EXECUTION_ID}:$FOO\", env: {FOO: bar}}\n");
    struct engine *e = start(sp, 1000, false);
    wait_done(e);
    struct snapshot *s = tu_snap(e, "envjob");
    char want[128];
    snprintf(want, sizeof(want), "envjob:%s:32:bar", engine_deployment_id(e));
    cr_assert(detail_has(s, want), "want %s", want);
    cr_assert_eq(s->n_orgs, 1);
    cr_assert_eq(s->orgs[0].n_envs, 1);
    cr_assert_str_eq(s->orgs[0].envs[0].name, "acme-prod");
    const struct application *app = &s->orgs[0].envs[0].apps[0];
    cr_assert_str_eq(app->name, "shop");
    cr_assert_str_eq(app->version, "6.5.2");
    cr_assert_str_eq(app->status, "succeeded");
    cr_assert_eq(app->n_depends_on, 2);
    cr_assert_eq(s->n_blueprints, 3);
    cr_assert_str_eq(s->sovereign_name, "t1");
    cr_assert_str_eq(s->provider, "hetzner");
    cr_assert_str_eq(s->source.mode, "standalone");
    snapshot_release(s);
    engine_free(e);
    spec_free(sp);
}
