/* test_cutover: start codes, halt and resume, auto start, holds, durability, crash resume. */
#include <criterion/criterion.h>

#include "cutover.h"
#include "engine.h"
#include "snapshot.h"
#include "helpers/testutil.h"

#include <cjson/cJSON.h>
#include <glob.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define HEAD "sovereign: {name: t1, fqdn: t1.example.com, provider: hetzner, regions: [fsn1]}\n"
#define GROUP "groups:\n  - name: g\n    jobs:\n      - {name: base, simulate: {duration: 0s}}\n"

static struct engine *open_engine(const struct spec *sp, const char *dir, double speed,
                                  bool read_only)
{
    struct engine_config cfg = {.workers = 2, .speed = speed, .state_dir = dir,
                                .read_only = read_only};
    struct error err;
    struct engine *e = engine_new(sp, &cfg, &err);
    cr_assert_not_null(e, "engine_new: %s", err.msg);
    return e;
}

static struct engine *start(const struct spec *sp, const char *dir, double speed)
{
    struct engine *e = open_engine(sp, dir, speed, false);
    struct error err;
    cr_assert_eq(engine_start(e, &err), 0);
    return e;
}

/* Waits (bounded, a guard against hangs) until pred holds. */
static bool wait_for(struct engine *e, bool (*pred)(const struct engine_progress *))
{
    return tu_wait_for(e, pred, NULL);
}

static bool settled(const struct engine_progress *p)
{
    return p->jobs_done && (p->cutover_complete || p->cutover_failed);
}
static bool jobs_done(const struct engine_progress *p) { return p->jobs_done; }
static bool complete(const struct engine_progress *p) { return p->cutover_complete; }

static struct snapshot *snap(struct engine *e)
{
    struct snapshot *s = snapshot_new();
    cr_assert_eq(engine_fill_snapshot(e, s, NULL), 0);
    cr_assert_eq(snapshot_finalize(s), 0);
    return s;
}

static const char *raw(const struct snapshot *s, const char *key)
{
    for (size_t i = 0; i < s->cutover.n_raw; i++)
        if (strcmp(s->cutover.raw[i].key, key) == 0)
            return s->cutover.raw[i].value;
    return NULL;
}

static int runs(const struct snapshot *s, const char *job)
{
    int32_t i = snapshot_find_job(s, job);
    cr_assert_geq(i, 0, "no job %s", job);
    return s->jobs[i].run_count;
}

Test(cutover, start_200_then_409_while_running)
{
    struct spec *sp = tu_load(HEAD GROUP "cutover:\n  steps:\n"
                                         "    - {name: gitea-mirror, "
                                         "simulate: {duration: 60s}}\n");
    struct engine *e = start(sp, NULL, 1);
    struct engine_result r;
    engine_cutover_start(e, true, &r);
    cr_assert_eq(r.code, 200);
    cr_assert_str_empty(r.error);
    engine_cutover_start(e, true, &r);
    cr_assert_eq(r.code, 409);
    cr_assert_str_eq(r.error, "cutover-in-progress");
    struct snapshot *s = snap(e);
    cr_assert(s->cutover.available);
    cr_assert(s->cutover.running);
    cr_assert_eq(s->cutover.state, SOV_TETHERED);
    cr_assert_eq(s->cutover.total_steps, 1);
    cr_assert_gt(s->cutover.started_at, 0);
    snapshot_release(s);
    engine_free(e);
    spec_free(sp);
}

Test(cutover, no_steps_424)
{
    struct spec *sp = tu_load(HEAD GROUP);
    struct engine *e = start(sp, NULL, 1);
    struct engine_result r;
    engine_cutover_start(e, true, &r);
    cr_assert_eq(r.code, 424);
    cr_assert_str_eq(r.error, "no-steps-found");
    engine_free(e);
    spec_free(sp);
}

Test(cutover, read_only_403)
{
    struct spec *sp = tu_load(HEAD GROUP "cutover:\n  steps:\n"
                                         "    - {name: gitea-mirror, simulate: {duration: 0s}}\n");
    struct engine *e = open_engine(sp, NULL, 1, true);
    struct error err;
    cr_assert_eq(engine_start(e, &err), 0);
    struct engine_result r;
    engine_cutover_start(e, true, &r);
    cr_assert_eq(r.code, 403);
    cr_assert_str_eq(r.error, "read-only");
    engine_free(e);
    spec_free(sp);
}

#define THREE_STEPS                                                                         \
    "cutover:\n  steps:\n"                                                                  \
    "    - {name: gitea-mirror, simulate: {duration: 0s}}\n"                                \
    "    - {name: harbor-projects, simulate: {duration: 0s}}\n"                             \
    "    - {name: harbor-prewarm, simulate: {duration: 0s}}\n"

Test(cutover, complete_then_nothing_reruns)
{
    struct spec *sp = tu_load(HEAD GROUP THREE_STEPS);
    struct engine *e = start(sp, NULL, 1);
    cr_assert(wait_for(e, jobs_done));
    struct engine_result r;
    engine_cutover_start(e, true, &r);
    cr_assert_eq(r.code, 200);
    cr_assert(wait_for(e, complete));
    struct snapshot *s = snap(e);
    cr_assert_eq(s->cutover.state, SOV_SOVEREIGN);
    cr_assert(s->cutover.complete);
    cr_assert_not(s->cutover.running);
    cr_assert_eq(s->cutover.progress_percent, 100);
    cr_assert_eq(s->cutover.current_step_index, 3);
    cr_assert_gt(s->cutover.finished_at, 0);
    cr_assert_str_eq(s->cutover.steps[0].name, "gitea-mirror");
    cr_assert_str_eq(s->cutover.steps[2].name, "harbor-prewarm");
    for (size_t i = 0; i < 3; i++)
        cr_assert_eq(s->cutover.steps[i].result, STEP_SUCCESS);
    cr_assert_eq(strlen(s->cutover.mirrored_commit_sha), 40);
    cr_assert_eq(s->cutover.harbor_project_count, 7);
    cr_assert_str_eq(raw(s, "registriesYamlActive"), "v2");
    const char *jn = raw(s, "step.gitea-mirror.jobName");
    cr_assert(jn && strncmp(jn, "cutover-gitea-mirror-", 21) == 0);
    const struct job *g = &s->jobs[snapshot_find_job(s, "cutover")];
    cr_assert(g->is_group);
    cr_assert_eq(g->status, JOB_SUCCEEDED);
    const struct job *st = &s->jobs[snapshot_find_job(s, "cutover-step-harbor-projects")];
    cr_assert_eq(st->kind, KIND_STEP);
    cr_assert_str_eq(st->depends_on[0], "cutover-step-gitea-mirror");
    snapshot_release(s);
    engine_cutover_start(e, true, &r);
    cr_assert_eq(r.code, 200);
    usleep(100000);
    s = snap(e);
    cr_assert_eq(runs(s, "cutover-step-gitea-mirror"), 1);
    cr_assert_eq(runs(s, "cutover-step-harbor-prewarm"), 1);
    cr_assert_not(s->cutover.running);
    snapshot_release(s);
    engine_free(e);
    spec_free(sp);
}

Test(cutover, failed_step_halts_and_resumes)
{
    char dir[64], yaml[1024], mark[128];
    tu_tmpdir("cutover", dir, sizeof(dir));
    snprintf(mark, sizeof(mark), "%s/mark", dir);
    snprintf(yaml, sizeof(yaml),
             HEAD GROUP "cutover:\n  steps:\n"
                        "    - {name: gitea-mirror, simulate: {duration: 0s}}\n"
                        "    - {name: harbor-projects, run: \"test -f %s\"}\n"
                        "    - {name: harbor-prewarm, simulate: {duration: 0s}}\n",
             mark);
    struct spec *sp = tu_load(yaml);
    struct engine *e = start(sp, NULL, 1);
    cr_assert(wait_for(e, jobs_done));
    struct engine_result r;
    engine_cutover_start(e, true, &r);
    cr_assert_eq(r.code, 200);
    cr_assert(wait_for(e, settled));
    struct engine_progress p;
    engine_progress(e, &p);
    cr_assert(p.cutover_failed);
    cr_assert_not(p.cutover_complete);
    struct snapshot *s = snap(e);
    cr_assert_str_eq(s->cutover.failed_step, "harbor-projects");
    cr_assert(strstr(s->cutover.last_error, "[exit] status 1"), "%s", s->cutover.last_error);
    cr_assert_str_empty(s->cutover.current_step);
    cr_assert_eq(s->cutover.steps[1].result, STEP_FAILED);
    cr_assert_str_eq(s->cutover.steps[1].message, s->cutover.last_error);
    cr_assert_eq(s->cutover.steps[2].result, STEP_PENDING);
    cr_assert_eq(s->cutover.progress_percent, 33);
    cr_assert_eq(s->cutover.state, SOV_TETHERED);
    int64_t first_start = s->cutover.started_at;
    snapshot_release(s);

    FILE *f = fopen(mark, "w");
    cr_assert_not_null(f);
    fclose(f);
    usleep(5000);
    engine_cutover_start(e, true, &r);
    cr_assert_eq(r.code, 200);
    cr_assert(wait_for(e, complete));
    s = snap(e);
    cr_assert_eq(runs(s, "cutover-step-gitea-mirror"), 1);
    cr_assert_eq(runs(s, "cutover-step-harbor-projects"), 2);
    cr_assert_eq(runs(s, "cutover-step-harbor-prewarm"), 1);
    cr_assert_eq(s->cutover.started_at, first_start);
    cr_assert_geq(s->cutover.last_attempt_started_at, first_start);
    cr_assert_str_empty(s->cutover.failed_step);
    cr_assert_eq(s->cutover.state, SOV_SOVEREIGN);
    snapshot_release(s);
    engine_free(e);
    spec_free(sp);
    unlink(mark);
    tu_rm_rf(dir);
}

Test(cutover, retry_of_failed_step_resumes)
{
    struct spec *sp = tu_load(HEAD GROUP "cutover:\n  steps:\n"
                                         "    - {name: gitea-mirror, simulate: {duration: 0s, "
                                         "failFirst: 1}}\n"
                                         "    - {name: harbor-projects, "
                                         "simulate: {duration: 0s}}\n");
    struct engine *e = start(sp, NULL, 1);
    struct engine_result r;
    engine_cutover_start(e, true, &r);
    cr_assert_eq(r.code, 200);
    cr_assert(wait_for(e, settled));
    engine_retry(e, "cutover-step-gitea-mirror", "ops", &r);
    cr_assert_eq(r.code, 200, "%s", r.detail);
    cr_assert(wait_for(e, complete));
    struct snapshot *s = snap(e);
    cr_assert_eq(runs(s, "cutover-step-gitea-mirror"), 2);
    cr_assert_eq(runs(s, "cutover-step-harbor-projects"), 1);
    snapshot_release(s);
    engine_free(e);
    spec_free(sp);
}

Test(cutover, auto_start_after_groups)
{
    struct spec *sp = tu_load(HEAD GROUP "  - name: h\n    jobs:\n"
                                         "      - {name: other, simulate: {duration: 20ms}}\n"
                                         "cutover:\n  auto: true\n  after: [g, h]\n  steps:\n"
                                         "    - {name: gitea-mirror, simulate: {duration: 0s}}\n");
    struct engine *e = start(sp, NULL, 1);
    cr_assert(wait_for(e, complete));
    struct snapshot *s = snap(e);
    const struct job *step = &s->jobs[snapshot_find_job(s, "cutover-step-gitea-mirror")];
    const struct job *other = &s->jobs[snapshot_find_job(s, "other")];
    cr_assert_geq(step->started_at, other->finished_at);
    cr_assert(s->cutover.complete);
    snapshot_release(s);
    engine_free(e);
    spec_free(sp);
}

Test(cutover, auto_blocked_when_after_failed)
{
    struct spec *sp = tu_load(HEAD "groups:\n  - name: g\n    jobs:\n"
                                   "      - {name: bad, run: \"exit 1\"}\n"
                                   "cutover:\n  auto: true\n  after: [g]\n  steps:\n"
                                   "    - {name: gitea-mirror, simulate: {duration: 0s}}\n");
    struct engine *e = start(sp, NULL, 1);
    cr_assert(wait_for(e, jobs_done));
    struct engine_progress p;
    engine_progress(e, &p);
    cr_assert(p.cutover_blocked);
    cr_assert_not(p.cutover_complete);
    engine_free(e);
    spec_free(sp);
}

Test(cutover, hold_exposes_countdown)
{
    struct spec *sp = tu_load(HEAD GROUP "cutover:\n  steps:\n"
                                         "    - {name: egress-block-test, hold: 600s, "
                                         "simulate: {duration: 0s}}\n");
    struct engine *e = start(sp, NULL, 1);
    struct engine_result r;
    engine_cutover_start(e, true, &r);
    cr_assert_eq(r.code, 200);
    uint64_t g = 0;
    struct snapshot *s = NULL;
    int64_t until = mono_ms() + 10000;
    for (;;) {
        s = snap(e);
        if ((s->cutover.n_steps && s->cutover.steps[0].hold_until > 0) || mono_ms() > until)
            break;
        snapshot_release(s);
        g = engine_wait(e, g, 100);
    }
    const struct cutover_step *st = &s->cutover.steps[0];
    cr_assert_eq(st->result, STEP_RUNNING);
    cr_assert_gt(st->hold_until, time_now_ms() + 500000);
    cr_assert_eq(st->hold_seconds, 600);
    cr_assert_not_null(raw(s, "step.egress-block-test.holdUntil"));
    cr_assert_eq(s->cutover.egress_test_passed, -1);
    snapshot_release(s);
    engine_free(e);
    spec_free(sp);
}

Test(cutover, hold_must_elapse)
{
    struct spec *sp = tu_load(HEAD GROUP "cutover:\n  steps:\n"
                                         "    - {name: egress-block-test, hold: 20s, "
                                         "run: \"true\"}\n");
    struct engine *e = start(sp, NULL, 100); /* 200 ms */
    struct engine_result r;
    engine_cutover_start(e, true, &r);
    cr_assert(wait_for(e, complete));
    struct snapshot *s = snap(e);
    const struct cutover_step *st = &s->cutover.steps[0];
    cr_assert_geq(st->finished_at - st->started_at, 190);
    cr_assert_eq(st->hold_until, 0);
    cr_assert_eq(s->cutover.egress_test_passed, 1);
    snapshot_release(s);
    engine_free(e);
    spec_free(sp);
}

Test(cutover, status_map_durable)
{
    char base[64], dir[128];
    tu_tmpdir("cutover", base, sizeof(base));
    snprintf(dir, sizeof(dir), "%s/state", base);
    struct spec *sp = tu_load(HEAD GROUP THREE_STEPS);
    struct engine *e = start(sp, dir, 1);
    struct engine_result r;
    engine_cutover_start(e, true, &r);
    cr_assert(wait_for(e, complete));
    struct snapshot *a = snap(e);
    static const char *const keys[] = {
        "cutoverComplete", "cutoverStartedAt", "cutoverLastAttemptStartedAt",
        "cutoverFinishedAt", "currentStep", "currentStepIndex", "totalSteps",
        "progressPercent", "failedStep", "lastError", "step.gitea-mirror.startedAt",
        "step.gitea-mirror.finishedAt", "step.gitea-mirror.result", "step.gitea-mirror.jobName",
        "registriesYamlActive", "mirroredCommitSHA", "harborProjectCount"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        cr_assert_not_null(raw(a, keys[i]), "missing %s", keys[i]);
    cr_assert_str_eq(raw(a, "cutoverComplete"), "true");
    cr_assert_str_eq(raw(a, "progressPercent"), "100");
    for (size_t i = 1; i < a->cutover.n_raw; i++)
        cr_assert_lt(strcmp(a->cutover.raw[i - 1].key, a->cutover.raw[i].key), 0);
    engine_free(e);

    e = open_engine(sp, dir, 1, false);
    struct snapshot *b = snap(e);
    cr_assert_eq(b->cutover.n_raw, a->cutover.n_raw);
    for (size_t i = 0; i < a->cutover.n_raw; i++) {
        cr_assert_str_eq(b->cutover.raw[i].key, a->cutover.raw[i].key);
        cr_assert_str_eq(b->cutover.raw[i].value, a->cutover.raw[i].value);
    }
    cr_assert_eq(b->cutover.state, SOV_SOVEREIGN);
    snapshot_release(a);
    snapshot_release(b);
    engine_free(e);
    spec_free(sp);
    tu_rm_rf(base);
}

static bool step_running_on_disk(const char *dir, const char *step)
{
    char p[300], key[128];
    snprintf(p, sizeof(p), "%s/cutover-status.json", dir);
    snprintf(key, sizeof(key), "step.%s.result", step);
    char *data;
    size_t len;
    if (read_file(p, 1 << 20, &data, &len) != 0)
        return false;
    cJSON *c = cJSON_ParseWithLength(data, len);
    free(data);
    const cJSON *v = cJSON_GetObjectItem(c, key);
    bool r = cJSON_IsString(v) && strcmp(v->valuestring, "running") == 0;
    cJSON_Delete(c);
    return r;
}

/* The step's execution is recorded running in index.json (the last file a commit writes). */
static bool exec_running_in_index(const char *dir, const char *job)
{
    char pat[300], needle[200];
    snprintf(pat, sizeof(pat), "%s/executions/*/index.json", dir);
    snprintf(needle, sizeof(needle), ":%s", job);
    glob_t g;
    if (glob(pat, 0, NULL, &g) != 0)
        return false;
    bool found = false;
    char *data;
    size_t len;
    if (g.gl_pathc == 1 && read_file(g.gl_pathv[0], 1 << 24, &data, &len) == 0) {
        cJSON *root = cJSON_ParseWithLength(data, len);
        free(data);
        const cJSON *x;
        cJSON_ArrayForEach(x, cJSON_GetObjectItem(root, "executions")) {
            const cJSON *id = cJSON_GetObjectItem(x, "jobId");
            const cJSON *st = cJSON_GetObjectItem(x, "status");
            const char *tail = cJSON_IsString(id) ? strstr(id->valuestring, needle) : NULL;
            if (tail && !tail[strlen(needle)] && cJSON_IsString(st) &&
                strcmp(st->valuestring, "running") == 0)
                found = true;
        }
        cJSON_Delete(root);
    }
    globfree(&g);
    return found;
}

Test(cutover, crash_mid_run_resumes)
{
    char base[64], dir[128], yaml[1400], pidf[128], mark[128];
    tu_tmpdir("cutover", base, sizeof(base));
    snprintf(dir, sizeof(dir), "%s/state", base);
    snprintf(pidf, sizeof(pidf), "%s/pid", base);
    snprintf(mark, sizeof(mark), "%s/mark", base);
    snprintf(yaml, sizeof(yaml),
             HEAD GROUP "cutover:\n  steps:\n"
                        "    - {name: gitea-mirror, simulate: {duration: 0s}}\n"
                        "    - {name: harbor-projects, run: \"if [ -f %s ]; then exit 0; fi; "
                        "touch %s; echo $$ > %s; exec sleep 30\"}\n"
                        "    - {name: harbor-prewarm, simulate: {duration: 0s}}\n",
             mark, mark, pidf);
    pid_t child = fork();
    cr_assert_geq(child, 0);
    if (child == 0) {
        struct error err;
        struct spec *sp = spec_load_buffer(yaml, strlen(yaml), "t.yaml", &err);
        struct engine_config cfg = {.workers = 2, .speed = 1, .state_dir = dir};
        struct engine *e = sp ? engine_new(sp, &cfg, &err) : NULL;
        if (!e || engine_start(e, &err) != 0)
            _exit(3);
        struct engine_result r;
        engine_cutover_start(e, true, &r);
        for (;;)
            pause();
    }
    int64_t until = mono_ms() + 20000;
    /*
     * Kill only once every file records the step running and its command
     * runs (it wrote its pid), as a real crash mid-step would.
     */
    while (!(step_running_on_disk(dir, "harbor-projects") &&
             exec_running_in_index(dir, "cutover-step-harbor-projects") &&
             access(pidf, F_OK) == 0) &&
           mono_ms() < until)
        usleep(20000);
    bool seen = step_running_on_disk(dir, "harbor-projects") &&
                exec_running_in_index(dir, "cutover-step-harbor-projects") &&
                access(pidf, F_OK) == 0;
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    for (int i = 0; i < 100; i++) {
        char *data;
        size_t len;
        if (read_file(pidf, 64, &data, &len) == 0 && len) {
            kill(-(pid_t)atoi(data), SIGKILL);
            free(data);
            break;
        }
        usleep(20000);
    }
    cr_assert(seen, "step never showed running");

    struct spec *sp = tu_load(yaml);
    struct engine *e = start(sp, dir, 1);
    cr_assert(wait_for(e, complete), "the cutover did not resume");
    struct snapshot *s = snap(e);
    cr_assert_eq(runs(s, "cutover-step-gitea-mirror"), 1);
    cr_assert_eq(runs(s, "cutover-step-harbor-projects"), 2);
    cr_assert_eq(runs(s, "cutover-step-harbor-prewarm"), 1);
    cr_assert_eq(s->cutover.state, SOV_SOVEREIGN);
    snapshot_release(s);
    engine_free(e);
    spec_free(sp);
    tu_rm_rf(base);
}

Test(cutover, map_transitions_unit)
{
    const char *names[] = {"a", "b"};
    struct cutover *c = cutover_new(names, NULL, 2);
    cr_assert_not_null(c);
    cr_assert_not(cutover_was_started(c));
    cutover_begin(c, 1000);
    cr_assert(cutover_was_started(c));
    cutover_step_start(c, 0, 1000, 1, 0);
    cr_assert(cutover_step_running(c));
    cr_assert_str_eq(cutover_get(c, "progressPercent"), "0");
    cutover_step_finish(c, 0, true, NULL, 2000);
    cutover_step_start(c, 1, 2000, 1, 0);
    cr_assert_str_eq(cutover_get(c, "progressPercent"), "50");
    cutover_step_finish(c, 1, false, "boom", 3000);
    cr_assert_str_eq(cutover_get(c, "failedStep"), "b");
    cr_assert_str_eq(cutover_get(c, "lastError"), "boom");
    cutover_begin(c, 5000);
    cr_assert_str_eq(cutover_get(c, "cutoverStartedAt"), "1970-01-01T00:00:01Z");
    cr_assert_str_eq(cutover_get(c, "cutoverLastAttemptStartedAt"), "1970-01-01T00:00:05Z");
    struct strbuf sb;
    sb_init(&sb);
    cutover_encode(c, &sb);
    struct cutover *d = cutover_new(names, NULL, 2);
    struct error err;
    cr_assert_eq(cutover_load_json(d, sb.buf, sb.len, "x", &err), 0);
    cr_assert_str_eq(cutover_get(d, "step.a.result"), "success");
    cr_assert_neq(cutover_load_json(d, "{\"a\":1}", 7, "x", &err), 0);
    sb_fini(&sb);
    cutover_free(c);
    cutover_free(d);
}
