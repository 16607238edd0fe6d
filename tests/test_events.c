/* Tests for events: the event logs derived from successive snapshots. */
#include <criterion/criterion.h>

#include "arena.h"
#include "events.h"

#include <cJSON.h>
#include <stdio.h>
#include <string.h>

#define DEP "0123456789abcdef"

/* A tiny picture: provisioner group with tofu-init, bootstrap-kit with install-cilium. */
struct pic {
    enum job_status tofu, cilium;
    const char *tofu_exec, *cilium_exec;
    const char *dep_status;
    const char *activity_job;  /* one activity line when non-NULL */
    int64_t activity_line;
    enum step_result step[2];
    bool co_running, co_complete;
};

static struct snapshot *make(const struct pic *p, uint64_t gen)
{
    struct snapshot *s = snapshot_new();
    cr_assert_not_null(s);
    struct arena *a = snapshot_arena(s);
    s->generation = gen;
    s->has_deployment = true;
    s->deployment.id = DEP;
    s->deployment.status = p->dep_status ? p->dep_status : "pending";
    s->deployment.sovereign_fqdn = "t.example.org";
    s->n_jobs = 4;
    s->jobs = arena_calloc(a, 4, sizeof(struct job));
    const char *names[4] = {"provisioner", "tofu-init", "bootstrap-kit", "install-cilium"};
    for (int i = 0; i < 4; i++) {
        struct job *j = &s->jobs[i];
        j->job_name = names[i];
        j->id = arena_printf(a, DEP ":%s", names[i]);
        j->deployment_id = DEP;
        j->display_name = j->app_id = j->region = "";
        j->latest_execution_id = "";
        j->is_group = (i % 2) == 0;
        j->parent_id = j->is_group ? "" : arena_printf(a, DEP ":%s", names[i - 1]);
        j->kind = j->is_group ? KIND_GROUP : job_kind_from_name(names[i], false);
    }
    s->jobs[3].app_id = "cilium";
    s->jobs[1].status = p->tofu;
    s->jobs[1].latest_execution_id = p->tofu_exec ? p->tofu_exec : "";
    s->jobs[3].status = p->cilium;
    s->jobs[3].latest_execution_id = p->cilium_exec ? p->cilium_exec : "";
    s->jobs[1].duration_ms = 1500;
    if (p->activity_job) {
        s->n_activity = 1;
        s->activity = arena_calloc(a, 1, sizeof(struct activity_line));
        s->activity[0].job_name = p->activity_job;
        s->activity[0].line = (struct log_line){p->activity_line, 1000 * p->activity_line,
                                                LOG_WARN, "a line"};
    }
    s->cutover.n_steps = 2;
    s->cutover.steps = arena_calloc(a, 2, sizeof(struct cutover_step));
    s->cutover.steps[0].name = "gitea-mirror";
    s->cutover.steps[1].name = "harbor-projects";
    for (int i = 0; i < 2; i++) {
        s->cutover.steps[i].result = p->step[i];
        s->cutover.steps[i].job_name = arena_printf(a, "cutover-%s-1", s->cutover.steps[i].name);
        s->cutover.steps[i].message = "";
    }
    s->cutover.running = p->co_running;
    s->cutover.complete = p->co_complete;
    s->cutover.total_steps = 2;
    return s;
}

static void feed(struct events *ev, const struct pic *p, uint64_t gen)
{
    struct snapshot *s = make(p, gen);
    events_feed(ev, s);
    snapshot_release(s);
}

static cJSON *dep_events(struct events *ev)
{
    struct strbuf sb;
    sb_init(&sb);
    events_deploy_json(ev, &sb);
    cJSON *arr = cJSON_Parse(sb.buf);
    sb_fini(&sb);
    cr_assert(cJSON_IsArray(arr), "events are a JSON array");
    return arr;
}

static const char *field(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : "";
}

Test(events, job_transitions_make_provisioner_and_component_events)
{
    struct events *ev = events_new(0, 0);
    struct pic p = {0};
    feed(ev, &p, 1);
    cr_assert_eq(events_deploy_count(ev), 0, "an all-pending start says nothing");

    p.tofu = JOB_RUNNING;
    p.tofu_exec = "e1";
    p.activity_job = "tofu-init";
    p.activity_line = 1;
    p.dep_status = "provisioning";
    feed(ev, &p, 2);
    p.tofu = JOB_SUCCEEDED;
    p.cilium = JOB_RUNNING;
    p.cilium_exec = "e2";
    p.activity_job = "install-cilium";
    p.activity_line = 1;
    feed(ev, &p, 3);
    p.cilium = JOB_FAILED;
    p.dep_status = "failed";
    feed(ev, &p, 4);

    cJSON *arr = dep_events(ev);
    const char *want[][3] = {
        /* phase, state, component */
        {"tofu-init", "", ""},
        {"tofu", "", ""},
        {"deployment", "", ""},
        {"tofu-init", "", ""},
        {"component", "installing", "cilium"},
        {"component-log", "", "cilium"},
        {"component", "failed", "cilium"},
        {"deployment", "", ""},
    };
    size_t n = sizeof(want) / sizeof(want[0]);
    cr_assert_eq((size_t)cJSON_GetArraySize(arr), n, "got %d events",
                 cJSON_GetArraySize(arr));
    for (size_t i = 0; i < n; i++) {
        const cJSON *e = cJSON_GetArrayItem(arr, (int)i);
        cr_expect_str_eq(field(e, "phase"), want[i][0], "event %zu phase", i);
        cr_expect_str_eq(field(e, "state"), want[i][1], "event %zu state", i);
        cr_expect_str_eq(field(e, "component"), want[i][2], "event %zu component", i);
        cr_expect_neq(field(e, "time")[0], '\0', "event %zu has a time", i);
    }
    cr_expect_str_eq(field(cJSON_GetArrayItem(arr, 1), "level"), "warn");
    cr_expect_str_eq(field(cJSON_GetArrayItem(arr, 6), "level"), "error");
    cr_expect(strstr(field(cJSON_GetArrayItem(arr, 3), "message"), "succeeded"));
    cr_expect_str_eq(field(cJSON_GetArrayItem(arr, 7), "status"), "failed");
    cr_expect(events_deploy_done(ev), "failed is terminal");
    cJSON_Delete(arr);

    /* A retry is a new execution: installing again, then installed. */
    p.cilium = JOB_SUCCEEDED;
    p.cilium_exec = "e3";
    p.dep_status = "ready";
    feed(ev, &p, 5);
    arr = dep_events(ev);
    int m = cJSON_GetArraySize(arr);
    cr_assert_eq(m, 11);
    cr_expect_str_eq(field(cJSON_GetArrayItem(arr, 8), "state"), "installing");
    cr_expect_str_eq(field(cJSON_GetArrayItem(arr, 9), "state"), "installed");
    cJSON_Delete(arr);
    events_free(ev);
}

Test(events, first_feed_replays_a_finished_deployment_in_time_order)
{
    struct events *ev = events_new(0, 0);
    struct pic p = {.tofu = JOB_SUCCEEDED, .cilium = JOB_SUCCEEDED, .tofu_exec = "a",
                    .cilium_exec = "b", .dep_status = "ready"};
    struct snapshot *s = make(&p, 7);
    s->jobs[1].started_at = 1000, s->jobs[1].finished_at = 2000;
    s->jobs[3].started_at = 3000, s->jobs[3].finished_at = 4000;
    s->deployment.finished_at = 5000;
    events_feed(ev, s);
    snapshot_release(s);
    cJSON *arr = dep_events(ev);
    cr_assert_eq(cJSON_GetArraySize(arr), 5);
    const char *phases[] = {"tofu-init", "tofu-init", "component", "component", "deployment"};
    for (int i = 0; i < 5; i++)
        cr_expect_str_eq(field(cJSON_GetArrayItem(arr, i), "phase"), phases[i]);
    cr_expect_str_eq(field(cJSON_GetArrayItem(arr, 0), "time"), "1970-01-01T00:00:01Z");
    cr_expect_str_eq(field(cJSON_GetArrayItem(arr, 3), "state"), "installed");
    cr_expect(events_deploy_done(ev));
    cJSON_Delete(arr);
    events_free(ev);
}

/* Equal stamps (fast jobs, coarse clocks) replay in the order the events were derived. */
Test(events, first_feed_replay_keeps_order_of_equal_times)
{
    struct events *ev = events_new(0, 0);
    struct pic p = {.tofu = JOB_SUCCEEDED, .cilium = JOB_SUCCEEDED, .tofu_exec = "a",
                    .cilium_exec = "b", .dep_status = "ready"};
    struct snapshot *s = make(&p, 7);
    s->jobs[1].started_at = s->jobs[1].finished_at = 1000;
    s->jobs[3].started_at = s->jobs[3].finished_at = 1000;
    s->deployment.finished_at = 1000;
    events_feed(ev, s);
    snapshot_release(s);
    cJSON *arr = dep_events(ev);
    cr_assert_eq(cJSON_GetArraySize(arr), 5);
    const char *phases[] = {"tofu-init", "tofu-init", "component", "component", "deployment"};
    for (int i = 0; i < 5; i++)
        cr_expect_str_eq(field(cJSON_GetArrayItem(arr, i), "phase"), phases[i]);
    cr_expect_str_eq(field(cJSON_GetArrayItem(arr, 3), "state"), "installed");
    cJSON_Delete(arr);
    events_free(ev);
}

Test(events, blocked_job_reports_failed_without_an_execution)
{
    struct events *ev = events_new(0, 0);
    struct pic p = {0};
    feed(ev, &p, 1);
    p.cilium = JOB_FAILED; /* no execution: blocked by a failed dependency */
    feed(ev, &p, 2);
    cJSON *arr = dep_events(ev);
    cr_assert_eq(cJSON_GetArraySize(arr), 1);
    const cJSON *e = cJSON_GetArrayItem(arr, 0);
    cr_expect_str_eq(field(e, "state"), "failed");
    cr_expect_str_eq(field(e, "level"), "warn");
    cr_expect(strstr(field(e, "message"), "blocked"));
    cJSON_Delete(arr);
    events_free(ev);
}

static size_t cutover_phases(struct events *ev, uint64_t *cur, char out[][40], size_t max,
                             bool *closing)
{
    struct strbuf sb;
    sb_init(&sb);
    events_cutover_frames(ev, cur, &sb, closing);
    size_t n = 0;
    for (const char *p = sb.buf; p && (p = strstr(p, "event: ")) && n < max; n++) {
        p += 7;
        size_t l = strcspn(p, "\n");
        snprintf(out[n], 40, "%.*s", (int)l, p);
        const char *d = strstr(p, "\ndata: {");
        cr_assert_not_null(d, "every frame has a data line");
    }
    sb_fini(&sb);
    return n;
}

Test(events, cutover_transitions_and_closing_frames)
{
    struct events *ev = events_new(0, 0);
    struct pic p = {0};
    feed(ev, &p, 1);
    p.co_running = true;
    p.step[0] = STEP_RUNNING;
    feed(ev, &p, 2);
    p.step[0] = STEP_SUCCESS;
    p.step[1] = STEP_FAILED;
    p.co_running = false;
    feed(ev, &p, 3);

    uint64_t cur = events_cutover_first(ev);
    char ph[16][40];
    bool closing = false;
    size_t n = cutover_phases(ev, &cur, ph, 16, &closing);
    cr_assert_eq(n, 5);
    cr_expect_str_eq(ph[0], "cutover-started");
    cr_expect_str_eq(ph[1], "cutover-step-started");
    cr_expect_str_eq(ph[2], "cutover-step-finished");
    cr_expect_str_eq(ph[3], "cutover-step-started");
    cr_expect_str_eq(ph[4], "cutover-step-failed");
    cr_expect(closing, "a step failure closes the stream");

    /* Resume: the failed step runs again and the cutover completes. */
    p.co_running = true;
    p.step[1] = STEP_RUNNING;
    feed(ev, &p, 4);
    p.co_running = false;
    p.step[1] = STEP_SUCCESS;
    p.co_complete = true;
    feed(ev, &p, 5);
    events_cutover_note(ev, 0, "cutover-already-complete", "info", "nothing re-runs");
    n = cutover_phases(ev, &cur, ph, 16, &closing);
    cr_assert_eq(n, 4, "stops right after cutover-completed, got %zu", n);
    cr_expect_str_eq(ph[0], "cutover-started");
    cr_expect_str_eq(ph[1], "cutover-step-started");
    cr_expect_str_eq(ph[2], "cutover-step-finished");
    cr_expect_str_eq(ph[3], "cutover-completed");
    cr_expect(closing);
    n = cutover_phases(ev, &cur, ph, 16, &closing);
    cr_assert_eq(n, 1);
    cr_expect_str_eq(ph[0], "cutover-already-complete");
    cr_expect_not(closing);
    events_free(ev);
}

Test(events, rings_evict_the_oldest)
{
    struct events *ev = events_new(3, 2);
    struct pic p = {0};
    feed(ev, &p, 1);
    for (int i = 0; i < 5; i++) {
        p.activity_job = "tofu-init";
        p.activity_line = i + 1;
        feed(ev, &p, (uint64_t)i + 2);
    }
    cr_assert_eq(events_deploy_count(ev), 3);
    cr_assert_eq(events_deploy_first(ev), 2);
    uint64_t cur = 0; /* older than the buffer: starts at its oldest */
    struct strbuf sb;
    sb_init(&sb);
    cr_assert_eq(events_deploy_frames(ev, &cur, &sb), 3);
    cr_assert_eq(cur, 5);
    cr_assert(strncmp(sb.buf, "data: {\"time\":", 14) == 0);
    cr_assert_eq(events_deploy_frames(ev, &cur, &sb), 0, "nothing new after the cursor");
    sb_fini(&sb);
    for (int i = 0; i < 3; i++)
        events_cutover_note(ev, 0, "cutover-started", "info", "x");
    cr_assert_eq(events_cutover_first(ev), 1);
    events_free(ev);
}

Test(events, wait_times_out_wakes_and_shuts_down)
{
    struct events *ev = events_new(0, 0);
    int64_t t0 = mono_ms();
    cr_assert_not(events_wait(ev, 0, 0, 100));
    cr_assert_geq(mono_ms() - t0, 90);
    events_cutover_note(ev, 0, "cutover-started", "info", "x");
    cr_assert(events_wait(ev, UINT64_MAX, 0, 5000), "a new cutover event wakes the waiter");
    cr_assert_not(events_wait(ev, 0, 1, 10), "nothing beyond the cursors");
    events_shutdown(ev);
    cr_assert(events_is_shutdown(ev));
    cr_assert(events_wait(ev, 0, 1, 5000));
    events_free(ev);
}

Test(events, cutover_status_frame_is_double_encoded)
{
    struct cutover_status c;
    memset(&c, 0, sizeof(c));
    struct kv raw[] = {{"cutoverComplete", "false"}, {"step.gitea-mirror.result", "success"}};
    c.raw = raw;
    c.n_raw = 2;
    struct strbuf sb;
    sb_init(&sb);
    events_cutover_status_frame(&c, 0, &sb);
    cr_assert(strncmp(sb.buf, "event: cutover-status\ndata: ", 28) == 0);
    cr_assert(sb.len > 2 && strcmp(sb.buf + sb.len - 2, "\n\n") == 0);
    cJSON *o = cJSON_Parse(sb.buf + 28);
    cr_assert_not_null(o);
    cr_expect_str_eq(field(o, "phase"), "cutover-status");
    cJSON *inner = cJSON_Parse(field(o, "message"));
    cr_assert(cJSON_IsObject(inner), "message is a JSON-encoded object");
    cr_expect_str_eq(field(inner, "cutoverComplete"), "false");
    cr_expect_str_eq(field(inner, "step.gitea-mirror.result"), "success");
    cJSON_Delete(inner);
    cJSON_Delete(o);
    sb_fini(&sb);
}
