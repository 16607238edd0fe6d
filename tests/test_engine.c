/* test_engine: running real and simulated jobs, retries, cascades, stop. */
#include <criterion/criterion.h>

#include "arena.h"
#include "dag.h"
#include "engine.h"
#include "snapshot.h"
#include "store.h"
#include "helpers/testutil.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

/* ---------------------------------------------------------------- crash safety, store faults */

static struct engine *open_dir(const struct spec *sp, const char *dir, int64_t log_cap)
{
    struct engine_config cfg = {.workers = 2, .speed = 1, .state_dir = dir, .mode = "standalone",
                                .log_cap = log_cap, .store_reserve = -1};
    struct error err;
    struct engine *e = engine_new(sp, &cfg, &err);
    cr_assert_not_null(e, "engine_new: %s", err.msg);
    return e;
}

/* Polls (bounded) until job `name` has the status st. */
static bool wait_status(struct engine *e, const char *name, enum job_status st)
{
    int64_t until = mono_ms() + 20000;
    uint64_t g = 0;
    while (mono_ms() < until) {
        struct snapshot *s = tu_snap(e, NULL);
        bool ok = s->jobs[snapshot_find_job(s, name)].status == st;
        snapshot_release(s);
        if (ok)
            return true;
        g = engine_wait(e, g, 100);
    }
    return false;
}

/* The state dir's index.json, parsed. */
static cJSON *index_json(struct engine *e, const char *dir)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/executions/%s/index.json", dir, engine_deployment_id(e));
    char *data;
    size_t len;
    cr_assert_eq(read_file(p, 1 << 24, &data, &len), 0, "cannot read %s", p);
    cJSON *ix = cJSON_ParseWithLength(data, len);
    free(data);
    cr_assert_not_null(ix, "%s does not parse", p);
    return ix;
}

static const cJSON *index_job(const cJSON *ix, const char *name)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItem(ix, "jobs")) {
        const char *c = strchr(cJSON_GetObjectItem(it, "id")->valuestring, ':');
        if (c && strcmp(c + 1, name) == 0)
            return it;
    }
    cr_assert_fail("no job %s in index.json", name);
    return NULL;
}

Test(engine_crash, interruptions_use_no_retry, .timeout = 60)
{
    char dir[96];
    tu_tmpdir("engine", dir, sizeof(dir));
    struct spec *sp = load(HEAD "groups:\n  - name: g\n    jobs:\n"
                                "      - {name: slow, retries: 0, run: \"echo begun; sleep 2\"}\n"
                                "      - {name: next, dependsOn: [slow], run: \"true\"}\n");
    for (int round = 0; round < 3; round++) {
        struct engine *e = open_dir(sp, dir, 0);
        struct error err;
        cr_assert_eq(engine_start(e, &err), 0);
        cr_assert(wait_status(e, "slow", JOB_RUNNING), "round %d: never ran", round);
        usleep(300 * 1000);
        if (round == 1)
            engine_stop_jobs(e, "stopped by the operator");
        else
            engine_stop(e);
        struct snapshot *s = tu_snap(e, "slow");
        cr_assert_eq(s->jobs[snapshot_find_job(s, "slow")].status, JOB_PENDING, "round %d",
                     round);
        cr_assert_eq(s->detail.n_executions, (size_t)round + 1);
        cr_assert_eq(s->detail.executions[0].status, EXEC_FAILED);
        const char *last = s->detail.lines[s->detail.n_lines - 1].message;
        if (round == 1)
            cr_assert(strncmp(last, "[stopped] stopped by the operator", 33) == 0, "%s", last);
        else
            cr_assert(strncmp(last, "[interrupted]", 13) == 0, "%s", last);
        snapshot_release(s);
        cJSON *ix = index_json(e, dir);
        cr_assert_eq(cJSON_GetObjectItem(index_job(ix, "slow"), "retriesLeft")->valueint, 0);
        const cJSON *x = cJSON_GetArrayItem(cJSON_GetObjectItem(ix, "executions"), round);
        cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(x, "interrupted")), "not flagged durably");
        cr_assert_gt(cJSON_GetObjectItem(x, "pgid")->valueint, 1);
        cr_assert_eq(strlen(cJSON_GetObjectItem(x, "bootId")->valuestring), 36);
        cJSON_Delete(ix);
        engine_free(e);
    }
    /* Three interruptions later, a retries: 0 job still runs to success. */
    struct engine *e = open_dir(sp, dir, 0);
    struct error err;
    cr_assert_eq(engine_start(e, &err), 0);
    wait_done(e);
    struct snapshot *s = tu_snap(e, "slow");
    cr_assert_eq(s->jobs[snapshot_find_job(s, "slow")].status, JOB_SUCCEEDED);
    cr_assert_eq(s->jobs[snapshot_find_job(s, "next")].status, JOB_SUCCEEDED);
    cr_assert_eq(s->detail.n_executions, 4);
    cr_assert_eq(s->detail.executions[0].status, EXEC_SUCCEEDED);
    snapshot_release(s);
    engine_free(e);
    spec_free(sp);
    tu_rm_rf(dir);
}

Test(engine_crash, own_failures_still_count)
{
    char dir[96];
    tu_tmpdir("engine", dir, sizeof(dir));
    struct spec *sp = load(HEAD "groups:\n  - name: g\n    jobs:\n"
                                "      - {name: bad, retries: 2, run: \"exit 4\"}\n");
    struct engine *e = open_dir(sp, dir, 0);
    struct error err;
    cr_assert_eq(engine_start(e, &err), 0);
    wait_done(e);
    struct snapshot *s = tu_snap(e, "bad");
    cr_assert_eq(s->jobs[snapshot_find_job(s, "bad")].status, JOB_FAILED);
    cr_assert_eq(s->detail.n_executions, 3);
    snapshot_release(s);
    engine_free(e);
    spec_free(sp);
    tu_rm_rf(dir);
}

Test(engine_store, log_cap_drops_and_counts)
{
    char dir[96];
    tu_tmpdir("engine", dir, sizeof(dir));
    struct spec *sp = load(HEAD "groups:\n  - name: g\n    jobs:\n"
                                "      - {name: chatty, run: \"seq 1 5000\"}\n");
    struct engine *e = open_dir(sp, dir, 16 << 10);
    struct error err;
    cr_assert_eq(engine_start(e, &err), 0);
    wait_done(e);
    struct snapshot *s = tu_snap(e, "chatty");
    cr_assert_eq(s->jobs[snapshot_find_job(s, "chatty")].status, JOB_SUCCEEDED);
    int64_t total = s->detail.log_total;
    const struct log_line *m = &s->detail.lines[s->detail.n_lines - 1];
    long long dropped = -1;
    cr_assert_eq(sscanf(m->message, "[log-cap] %lld lines", &dropped), 1, "%s", m->message);
    cr_assert(strstr(m->message, "dropped past the 16 KiB cap"), "%s", m->message);
    /* Kept lines 1..k, the dropped rest counted: together all 5000. */
    cr_assert_eq(total - 1 + dropped, 5000);
    cr_assert_gt(dropped, 4000);
    char path[512];
    snprintf(path, sizeof(path), "%s/executions/%s/%s.log", dir, engine_deployment_id(e),
             s->detail.executions[0].id);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_leq(st.st_size, (16 << 10) + 512, "log is %lld bytes", (long long)st.st_size);
    /* What the record says is what the file holds (stop: the last commit is done). */
    engine_stop(e);
    cJSON *ix = index_json(e, dir);
    const cJSON *x = cJSON_GetArrayItem(cJSON_GetObjectItem(ix, "executions"), 0);
    cr_assert_eq((int64_t)cJSON_GetObjectItem(x, "lineCount")->valuedouble, total);
    cJSON_Delete(ix);
    struct arena *a = arena_new();
    struct log_page pg;
    cr_assert_eq(engine_log_page(e, s->detail.executions[0].id, total - 2, 10, a, &pg), 0);
    cr_assert_eq(pg.n_lines, 3);
    char want[32];
    snprintf(want, sizeof(want), "%lld", (long long)(total - 1)); /* the last line kept */
    cr_assert_str_eq(pg.lines[1].message, want);
    cr_assert(strncmp(pg.lines[2].message, "[log-cap]", 9) == 0);
    arena_free(a);
    snapshot_release(s);
    engine_free(e);
    spec_free(sp);
    tu_rm_rf(dir);
}

/* Fault hooks: fail the k-th log append, every log open, or index writes once armed. */
static int fail_append_at = -1, appends, fail_open, index_armed_at_open = -1, opens;
static bool index_broken;

static int fault_hook(void *ctx, const char *what)
{
    (void)ctx;
    if (strcmp(what, "log-append") == 0 && ++appends == fail_append_at)
        return ENOSPC;
    if (strcmp(what, "log-open") == 0) {
        if (fail_open)
            return EROFS;
        if (++opens == index_armed_at_open)
            index_broken = true;
    }
    if (strcmp(what, "index") == 0 && index_broken)
        return ENOSPC;
    return 0;
}

static bool file_exists(const char *p) { return access(p, F_OK) == 0; }

Test(engine_store, failed_log_write_fails_the_execution, .timeout = 60)
{
    char dir[96], mark[160], yaml[900];
    tu_tmpdir("engine", dir, sizeof(dir));
    snprintf(mark, sizeof(mark), "%s-after", dir);
    /* No retry: if the store's failure counted as the job's, it would end failed for good. */
    snprintf(yaml, sizeof(yaml),
             HEAD "groups:\n  - name: g\n    jobs:\n"
                  "      - {name: writer, retries: 0, run: \"test -e %s.second || "
                  "{ touch %s.second; seq 1 100000; sleep 30; }\"}\n"
                  "      - {name: after, dependsOn: [writer], run: \"touch %s\"}\n",
             dir, dir, mark);
    struct spec *sp = load(yaml);
    fail_append_at = 1000;
    appends = 0;
    store_set_fault_hook(fault_hook, NULL);
    struct engine *e = open_dir(sp, dir, 0);
    struct error err;
    int64_t t0 = mono_ms();
    cr_assert_eq(engine_start(e, &err), 0);
    struct snapshot *s = NULL;
    int64_t until = mono_ms() + 20000;
    for (;;) {
        s = tu_snap(e, "writer");
        if ((s->detail.n_executions == 1 && s->detail.executions[0].status == EXEC_FAILED) ||
            mono_ms() > until)
            break;
        snapshot_release(s);
        usleep(20 * 1000);
    }
    /* The child was killed, not waited for (sleep 30). */
    cr_assert_lt(mono_ms() - t0, 15000);
    struct engine_progress p;
    engine_progress(e, &p);
    cr_assert(p.store_fault);
    cr_assert(strstr(s->source.error, "cannot write the log of writer"), "%s", s->source.error);
    cr_assert(strstr(s->source.error, "No space left on device"), "%s", s->source.error);
    cr_assert_eq(s->detail.n_executions, 1, "a store fault is retried, not the job's fault");
    cr_assert_eq(s->detail.executions[0].status, EXEC_FAILED);
    const char *why = s->detail.executions[0].error;
    cr_assert(why && strstr(why, "cannot write the log: No space left on device"), "%s",
              why ? why : "(null)");
    cr_assert_eq(s->jobs[snapshot_find_job(s, "writer")].status, JOB_PENDING,
                 "not the job's failure: it runs again on the next start");
    /* On disk: whole lines only, as many as recorded, the reason last (the hook let it pass). */
    int64_t total = s->detail.executions[0].line_count;
    cr_assert_eq(total, 1000);
    char path[512], first_id[33];
    snprintf(first_id, sizeof(first_id), "%s", s->detail.executions[0].id);
    snprintf(path, sizeof(path), "%s/executions/%s/%s.log", dir, engine_deployment_id(e),
             first_id);
    char *data;
    size_t len;
    cr_assert_eq(read_file(path, 1 << 24, &data, &len), 0);
    int64_t nl = 0;
    for (size_t i = 0; i < len; i++)
        nl += data[i] == '\n';
    cr_assert_eq(nl, total);
    cr_assert_eq(data[len - 1], '\n');
    data[len - 1] = 0;
    const char *last = strrchr(data, '\n');
    cr_assert(last && strstr(last, "\"lineNumber\":1000") && strstr(last, "cannot write the log"),
              "%s", last ? last : data);
    free(data);
    cr_assert_eq(s->jobs[snapshot_find_job(s, "after")].status, JOB_PENDING);
    snapshot_release(s);
    /* A retry would only wait: it is refused while the state dir cannot record. */
    struct engine_result res;
    engine_retry(e, "writer", "test", &res);
    cr_assert_eq(res.code, 409);
    cr_assert(strstr(res.detail, "state dir cannot record"), "%s", res.detail);
    engine_free(e);
    cr_assert_not(file_exists(mark), "a dependent ran on a failed write");
    store_set_fault_hook(NULL, NULL);

    /* The fault is gone: the next start runs the job again, then its dependent. */
    e = open_dir(sp, dir, 0);
    cr_assert_eq(engine_start(e, &err), 0);
    cr_assert(wait_status(e, "after", JOB_SUCCEEDED));
    s = tu_snap(e, "writer");
    cr_assert_eq(s->jobs[snapshot_find_job(s, "writer")].status, JOB_SUCCEEDED);
    cr_assert_eq(s->detail.n_executions, 2);
    cr_assert_eq(s->detail.executions[0].status, EXEC_SUCCEEDED);
    cr_assert(s->detail.executions[0].error == NULL || !s->detail.executions[0].error[0]);
    cr_assert_str_eq(s->detail.executions[1].id, first_id);
    cr_assert_eq(s->detail.executions[1].status, EXEC_FAILED);
    why = s->detail.executions[1].error;
    cr_assert(why && strstr(why, "cannot write the log: No space left on device"),
              "the reason survives a restart: %s", why ? why : "(null)");
    snprintf(path, sizeof(path), "%s/executions/%s/index.json", dir, engine_deployment_id(e));
    cr_assert_eq(read_file(path, 1 << 24, &data, &len), 0);
    cr_assert(strstr(data, "\"error\":\"cannot write the log: No space left"), "%s", data);
    free(data);
    snapshot_release(s);
    engine_free(e);
    cr_assert(file_exists(mark));
    unlink(mark);
    snprintf(path, sizeof(path), "%s.second", dir);
    unlink(path);
    spec_free(sp);
    tu_rm_rf(dir);
}

Test(engine_store, unwritable_log_keeps_the_job_pending)
{
    char dir[96], mark[160], yaml[600];
    tu_tmpdir("engine", dir, sizeof(dir));
    snprintf(mark, sizeof(mark), "%s-ran", dir);
    snprintf(yaml, sizeof(yaml),
             HEAD "groups:\n  - name: g\n    jobs:\n"
                  "      - {name: effect, run: \"touch %s\"}\n", mark);
    struct spec *sp = load(yaml);
    fail_open = 1;
    store_set_fault_hook(fault_hook, NULL);
    struct engine *e = open_dir(sp, dir, 0);
    struct error err;
    cr_assert_eq(engine_start(e, &err), 0);
    int64_t until = mono_ms() + 10000;
    struct engine_progress p;
    do {
        usleep(20000);
        engine_progress(e, &p);
    } while (!p.store_fault && mono_ms() < until);
    cr_assert(p.store_fault);
    usleep(200 * 1000);
    struct snapshot *s = tu_snap(e, "effect");
    cr_assert_eq(s->jobs[snapshot_find_job(s, "effect")].status, JOB_PENDING);
    cr_assert_eq(s->detail.n_executions, 0);
    cr_assert(strstr(s->source.error, "cannot create the log of effect"), "%s",
              s->source.error);
    cr_assert(strstr(s->source.error, "Read-only file system"), "%s", s->source.error);
    snapshot_release(s);
    engine_free(e);
    cr_assert_not(file_exists(mark), "a job ran whose result could not be recorded");
    spec_free(sp);
    store_set_fault_hook(NULL, NULL);
    tu_rm_rf(dir);
}

Test(engine_store, unrecorded_start_never_runs)
{
    char dir[96], mark[160], yaml[600];
    tu_tmpdir("engine", dir, sizeof(dir));
    snprintf(mark, sizeof(mark), "%s-ran", dir);
    snprintf(yaml, sizeof(yaml),
             HEAD "groups:\n  - name: g\n    jobs:\n"
                  "      - {name: first, run: \"true\"}\n"
                  "      - {name: effect, dependsOn: [first], run: \"touch %s\"}\n", mark);
    struct spec *sp = load(yaml);
    /* The second log opened is the effect's: from then on index.json cannot be written. */
    index_armed_at_open = 2;
    store_set_fault_hook(fault_hook, NULL);
    struct engine *e = open_dir(sp, dir, 0);
    struct error err;
    cr_assert_eq(engine_start(e, &err), 0);
    cr_assert(wait_status(e, "first", JOB_SUCCEEDED));
    int64_t until = mono_ms() + 10000;
    struct engine_progress p;
    do {
        usleep(20000);
        engine_progress(e, &p);
    } while (!p.store_fault && mono_ms() < until);
    cr_assert(p.store_fault);
    cr_assert(wait_status(e, "effect", JOB_PENDING));
    usleep(300 * 1000);
    cr_assert_not(file_exists(mark), "the command ran before its start was recorded");
    struct snapshot *s = tu_snap(e, "effect");
    cr_assert(strstr(s->source.error, "cannot save state"), "%s", s->source.error);
    cr_assert_eq(s->detail.n_executions, 1);
    cr_assert_eq(s->detail.executions[0].status, EXEC_FAILED);
    snapshot_release(s);
    engine_free(e);
    cr_assert_not(file_exists(mark));
    spec_free(sp);
    store_set_fault_hook(NULL, NULL);
    tu_rm_rf(dir);
}

Test(engine, handover_steps_count_for_jobs_done)
{
    struct spec *sp = load(HEAD "groups:\n"
                                "  - name: apps\n    jobs:\n"
                                "      - {name: a, simulate: {duration: 50ms}}\n"
                                "  - name: handover\n    after: [apps]\n    jobs:\n"
                                "      - {name: handover-step-dns, simulate: {duration: 600ms}}\n"
                                "cutover:\n  after: [handover]\n  steps:\n"
                                "    - {name: one, simulate: {duration: 50ms}}\n");
    struct engine *e = start(sp, 1, false);
    struct engine_progress p;
    cr_assert(tu_wait_for(e, tu_jobs_done, &p));
    struct snapshot *s = tu_snap(e, NULL);
    const struct job *h = job_named(s, "handover-step-dns");
    cr_assert_eq(h->kind, KIND_STEP);
    cr_assert_eq(h->status, JOB_SUCCEEDED, "jobs_done before the handover step ended");
    /* The cutover group is `wait cutover`'s: not started, jobs are still done. */
    cr_assert_eq(job_named(s, "cutover-step-one")->status, JOB_PENDING);
    cr_assert_eq(p.jobs_total, 3);
    snapshot_release(s);
    engine_free(e);
    spec_free(sp);
}
