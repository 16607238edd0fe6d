/* source_local: publication, notify, watched job detail and the asynchronous action path. */
#include <criterion/criterion.h>

#include "source_local.h"
#include "spec.h"

#include <stdatomic.h>
#include <string.h>

static atomic_int notified;

static void count_notify(void *ctx)
{
    (void)ctx;
    atomic_fetch_add(&notified, 1);
}

static const char spec_yaml[] =
    "sovereign: {name: local, fqdn: local.example.test, provider: hetzner, regions: [fsn1]}\n"
    "groups:\n"
    "  - name: provisioner\n"
    "    jobs:\n"
    "      - {name: tofu-init, simulate: {duration: 50ms, logs: [\"hello\"]}}\n"
    "      - {name: broken, dependsOn: [tofu-init], simulate: {duration: 10ms, failFirst: 1}}\n";

/* The newest snapshot for which pred holds, waiting up to 10 s; NULL on timeout. */
static struct snapshot *wait_for(struct source *src, bool (*pred)(const struct snapshot *))
{
    uint64_t gen = 0;
    for (int i = 0; i < 100; i++) {
        struct snapshot *s = source_local_wait(src, gen, 100);
        if (s && pred(s))
            return s;
        if (s) {
            gen = s->generation;
            snapshot_release(s);
        }
    }
    return NULL;
}

static bool broken_failed(const struct snapshot *s)
{
    int32_t i = snapshot_find_job(s, "broken");
    return i >= 0 && s->jobs[i].status == JOB_FAILED;
}

static bool retry_answered(const struct snapshot *s) { return s->last_action.seq == 1; }
static bool select_answered(const struct snapshot *s) { return s->last_action.seq == 2; }

static bool detail_ready(const struct snapshot *s)
{
    return strcmp(s->detail.job_id, "") != 0 && s->detail.n_lines > 0;
}

static bool broken_succeeded(const struct snapshot *s)
{
    int32_t i = snapshot_find_job(s, "broken");
    return i >= 0 && s->jobs[i].status == JOB_SUCCEEDED;
}

Test(source_local, publishes_watches_and_acts)
{
    struct error err;
    struct spec *sp = spec_load_buffer(spec_yaml, strlen(spec_yaml), "t.yaml", &err);
    cr_assert_not_null(sp, "%s", err.msg);
    struct engine_config cfg = {.workers = 2, .speed = 1, .mode = "standalone"};
    struct engine *e = engine_new(sp, &cfg, &err);
    cr_assert_not_null(e, "%s", err.msg);
    cr_assert_eq(engine_start(e, &err), 0, "%s", err.msg);
    struct source *src = source_local_new(e, count_notify, NULL, &err);
    cr_assert_not_null(src, "%s", err.msg);

    /* A first snapshot exists at once. */
    struct snapshot *first = source_snapshot(src);
    cr_assert_not_null(first);
    cr_assert_str_eq(first->source.mode, "standalone");
    snapshot_release(first);

    struct snapshot *s = wait_for(src, broken_failed);
    cr_assert_not_null(s, "the failing job never failed");
    cr_assert_gt(atomic_load(&notified), 0);
    snapshot_release(s);

    /* Retry goes through the action thread; its outcome comes back in a snapshot. */
    uint64_t seq = source_act(src, ACTION_RETRY_JOB, "broken");
    cr_assert_eq(seq, 1);
    s = wait_for(src, retry_answered);
    cr_assert_not_null(s, "no action result");
    cr_assert_eq(s->last_action.code, 200);
    cr_assert_eq(s->last_action.kind, ACTION_RETRY_JOB);
    cr_assert(strstr(s->last_action.message, "retry started"));
    snapshot_release(s);
    s = wait_for(src, broken_succeeded);
    cr_assert_not_null(s, "the retried job did not succeed");
    snapshot_release(s);

    /* Standalone has one deployment: choosing one is refused in words. */
    cr_assert_eq(source_act(src, ACTION_SELECT_DEPLOYMENT, "x"), 2);
    s = wait_for(src, select_answered);
    cr_assert_not_null(s);
    cr_assert_eq(s->last_action.code, 400);
    cr_assert_str_eq(s->last_action.error, "not-applicable");
    snapshot_release(s);

    /* Watching a job brings its executions and log lines. */
    source_watch_job(src, "tofu-init");
    s = wait_for(src, detail_ready);
    cr_assert_not_null(s, "the watched job's detail never came");
    cr_assert(strstr(s->detail.job_id, "tofu-init"));
    cr_assert_geq(s->detail.n_executions, 1);
    snapshot_release(s);

    source_free(src);
    engine_stop(e);
    engine_free(e);
    spec_free(sp);
}
