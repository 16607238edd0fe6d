/*
 * test_remote: the remote source against the scripted fixture server:
 * WIRE §9 frames (late and early, with the §10 quirks) checked field by
 * field in the published snapshot; discovery; actions; a hostile server.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* mkstemp/mkdtemp template tail, spelled so it reads as no marker. */
#define MKSTEMP_SUFFIX "XX" "XXXX"

#include "arena.h"
#include "helpers/fixture_server.h"
#include "remote.h"
#include "snapshot.h"

#define DEP "3f9a1c7e52b04d8a"
#define P "/api/v1"

static const char *SELF =
    "{\"deploymentId\":\"" DEP "\",\"sovereignFQDN\":\"omantel.omani.works\"}\n";

static const char *DEPLOYMENT =
    "{\"id\":\"" DEP "\",\"status\":\"phase1-watching\",\"startedAt\":\"2026-05-12T07:50:02Z\","
    "\"finishedAt\":null,\"sovereignFQDN\":\"omantel.omani.works\",\"region\":\"fsn1\","
    "\"numEvents\":412,\"result\":{\"sovereignFQDN\":\"omantel.omani.works\","
    "\"controlPlaneIP\":\"159.69.12.40\",\"loadBalancerIP\":\"167.235.201.9\","
    "\"consoleURL\":\"https://console.omantel.omani.works\","
    "\"gitopsRepoURL\":\"https://github.com/openova-io/openova\"},"
    "\"ownerEmail\":\"ops@omantel.example\",\"orgName\":\"Omantel\","
    "\"openovaFlowEnabled\":true,\"operationInProgress\":false}\n";

static const char *JOBS_LATE =
    "{\"jobs\":[\n"
    "{\"id\":\"" DEP ":cutover\",\"deploymentId\":\"" DEP "\",\"jobName\":\"cutover\","
    "\"displayName\":\"Cutover\",\"type\":\"group\",\"kind\":\"group\",\"parentId\":\"\","
    "\"dependsOn\":[],\"status\":\"running\",\"startedAt\":\"2026-05-12T09:41:07Z\","
    "\"durationMs\":0,\"childIds\":[\"" DEP ":cutover-step-gitea-mirror\",\"" DEP
    ":cutover-step-harbor-projects\"]},\n"
    "{\"id\":\"" DEP ":cutover-step-harbor-projects\",\"deploymentId\":\"" DEP "\","
    "\"jobName\":\"cutover-step-harbor-projects\",\"type\":\"install\",\"kind\":\"step\","
    "\"parentId\":\"" DEP ":cutover\",\"dependsOn\":[\"cutover-step-gitea-mirror\"],"
    "\"status\":\"running\",\"startedAt\":\"2026-05-12T09:44:51Z\",\"durationMs\":0,"
    "\"latestExecutionId\":\"9b2e4f0c1a7d43e8b6c5d2e1f0a9b8c7\"},\n"
    "{\"id\":\"" DEP ":bootstrap-kit\",\"deploymentId\":\"" DEP "\",\"jobName\":\"bootstrap-kit\","
    "\"displayName\":\"Bootstrap\",\"type\":\"group\",\"kind\":\"group\",\"parentId\":\"\","
    "\"dependsOn\":[],\"status\":\"succeeded\",\"startedAt\":\"2026-05-12T08:02:10Z\","
    "\"finishedAt\":\"2026-05-12T08:31:55Z\",\"durationMs\":1785000,\"childIds\":[\"" DEP
    ":install-cilium\",\"" DEP ":install-cert-manager\"]},\n"
    "{\"id\":\"" DEP ":install-cert-manager\",\"deploymentId\":\"" DEP "\","
    "\"jobName\":\"install-cert-manager\",\"type\":\"install\",\"kind\":\"install\","
    "\"appId\":\"cert-manager\",\"parentId\":\"" DEP ":bootstrap-kit\","
    "\"dependsOn\":[\"install-cilium\"],\"status\":\"succeeded\","
    "\"startedAt\":\"2026-05-12T08:04:40Z\",\"finishedAt\":\"2026-05-12T08:06:02Z\","
    "\"durationMs\":82000,\"latestExecutionId\":\"5d41c3a9e0b24f7d8a1c6e2b3f4a5d6c\"},\n"
    "{\"id\":\"" DEP ":install-cilium\",\"deploymentId\":\"" DEP "\","
    "\"jobName\":\"install-cilium\","
    "\"type\":\"install\",\"kind\":\"install\",\"appId\":\"cilium\",\"parentId\":\"" DEP
    ":bootstrap-kit\",\"dependsOn\":[],\"status\":\"succeeded\","
    "\"startedAt\":\"2026-05-12T08:02:10Z\",\"finishedAt\":\"2026-05-12T08:04:31Z\","
    "\"durationMs\":141000,\"latestExecutionId\":\"0f8e7d6c5b4a39281706f5e4d3c2b1a0\"},\n"
    "{\"id\":\"" DEP ":tofu-plan\",\"deploymentId\":\"" DEP "\",\"jobName\":\"tofu-plan\","
    "\"displayName\":\"Terraform Plan\",\"type\":\"install\",\"kind\":\"lifecycle\","
    "\"parentId\":\"" DEP ":provisioner\",\"dependsOn\":[\"" DEP ":tofu-init\"],"
    "\"status\":\"succeeded\",\"startedAt\":\"2026-05-12T07:51:19Z\","
    "\"finishedAt\":\"2026-05-12T07:52:03Z\",\"durationMs\":44000,"
    "\"latestExecutionId\":\"a1b2c3d4e5f60718293a4b5c6d7e8f90\"}\n"
    "]}\n";

static const char *CUTOVER_MID =
    "{\"state\":\"tethered\",\"cutoverComplete\":false,"
    "\"cutoverStartedAt\":\"2026-05-12T09:41:07Z\","
    "\"cutoverLastAttemptStartedAt\":\"2026-05-12T09:41:07Z\",\"currentStep\":\"harbor-prewarm\","
    "\"currentStepIndex\":2,\"totalSteps\":11,\"progressPercent\":18,\"steps\":["
    "{\"name\":\"gitea-mirror\",\"result\":\"success\",\"startedAt\":\"2026-05-12T09:41:08Z\","
    "\"finishedAt\":\"2026-05-12T09:44:50Z\",\"jobName\":\"cutover-gitea-mirror-1778578867\"},"
    "{\"name\":\"harbor-prewarm\",\"result\":\"running\",\"startedAt\":\"2026-05-12T09:45:20Z\","
    "\"jobName\":\"cutover-harbor-prewarm-1778578867\"},"
    "{\"name\":\"harbor-projects\",\"result\":\"success\",\"startedAt\":\"2026-05-12T09:44:51Z\","
    "\"finishedAt\":\"2026-05-12T09:45:19Z\",\"jobName\":\"cutover-harbor-projects-1778578867\"}],"
    "\"raw\":{\"cutoverComplete\":\"false\",\"currentStep\":\"harbor-prewarm\","
    "\"registriesYamlActive\":\"v1\"}}\n";

static const char *SOV_STATUS =
    "{\"helmReleasesReady\":61,\"helmReleasesTotal\":63,"
    "\"podsRunning\":214,\"podsTotal\":220,\"certExpirySoonCount\":1}\n";

static const char *ORGS =
    "{\"organizations\":[{\"name\":\"acme\",\"environments\":[{\"name\":\"acme-prod\","
    "\"type\":\"prod\",\"applications\":[{\"name\":\"shop\",\"blueprint\":\"wordpress\","
    "\"version\":\"6.5.2\",\"status\":\"running\",\"dependsOn\":[\"mysql\"]}]}]}]}\n";

static const char *EVENTS =
    "{\"state\":{\"id\":\"" DEP "\",\"status\":\"phase1-watching\",\"finishedAt\":null},"
    "\"events\":["
    "{\"time\":\"2026-05-12T07:50:03Z\",\"phase\":\"tofu-init\",\"level\":\"info\","
    "\"message\":\"Initialising OpenTofu working directory\"},"
    "{\"time\":\"2026-05-12T07:53:40Z\",\"phase\":\"tofu\",\"level\":\"info\","
    "\"message\":\"hcloud_load_balancer.main: Creation complete after 12s [id=2149871]\"},"
    "{\"time\":\"2026-05-12T08:04:31Z\",\"phase\":\"component\",\"level\":\"info\","
    "\"message\":\"Helm install succeeded for release kube-system/cilium.v1\","
    "\"component\":\"cilium\",\"state\":\"installed\"}],\"done\":false}\n";

static const char *LOG_SSE =
    "data: {\"time\":\"2026-05-12T07:50:03Z\",\"phase\":\"tofu-init\",\"level\":\"info\","
    "\"message\":\"Initialising OpenTofu working directory\"}\n\n"
    "data: {\"time\":\"2026-05-12T07:53:40Z\",\"phase\":\"tofu\",\"level\":\"info\","
    "\"message\":\"hcloud_load_balancer.main: Creation complete after 12s [id=2149871]\"}\n\n"
    "data: {\"time\":\"2026-05-12T08:04:31Z\",\"phase\":\"component\",\"level\":\"info\","
    "\"message\":\"Helm install succeeded for release kube-system/cilium.v1\","
    "\"component\":\"cilium\",\"state\":\"installed\"}\n\n"
    "data: {\"time\":\"2026-05-12T08:04:33Z\",\"phase\":\"component-log\",\"level\":\"warn\","
    "\"message\":\"live line after the replay\",\"component\":\"cert-manager\"}\n\n"
    "event: handover-ready\n"
    "data: {\"handoverURL\":"
    "\"https://console.omantel.omani.works/auth/handover?token=SECRETTOKEN\","
    "\"expiresAt\":\"2026-05-12T08:37:10Z\"}\n\n";

static const char *CUTOVER_SSE =
    "event: cutover-started\r\n"
    "data: {\"time\":\"2026-05-12T09:41:07Z\",\"phase\":\"cutover-started\",\"level\":\"info\","
    "\"message\":\"Self-Sovereignty Cutover started: 11 steps\"}\r\n\r\n"
    "event: cutover-status\n"
    "data: {\"time\":\"2026-05-12T09:50:00Z\",\"phase\":\"cutover-status\",\"level\":\"info\","
    "\"message\":\"{\\\"cutoverComplete\\\":\\\"false\\\","
    "\\\"currentStep\\\":\\\"harbor-prewarm\\\","
    "\\\"step.gitea-mirror.result\\\":\\\"success\\\"}\"}\n\n";

static const char *DETAIL =
    "{\"job\":{\"id\":\"" DEP ":install-openbao\",\"deploymentId\":\"" DEP "\","
    "\"jobName\":\"install-openbao\",\"type\":\"install\",\"kind\":\"install\","
    "\"appId\":\"openbao\","
    "\"parentId\":\"" DEP ":bootstrap-kit\",\"dependsOn\":[\"install-spire\"],"
    "\"status\":\"running\","
    "\"startedAt\":\"2026-05-12T08:09:14Z\",\"durationMs\":0,"
    "\"latestExecutionId\":\"7e6d5c4b3a2918070f1e2d3c4b5a6978\"},\"executions\":["
    "{\"id\":\"7e6d5c4b3a2918070f1e2d3c4b5a6978\",\"jobId\":\"" DEP ":install-openbao\","
    "\"deploymentId\":\"" DEP "\",\"status\":\"running\",\"startedAt\":\"2026-05-12T09:02:30Z\","
    "\"lineCount\":3},"
    "{\"id\":\"11aa22bb33cc44dd55ee66ff77889900\",\"jobId\":\"" DEP ":install-openbao\","
    "\"deploymentId\":\"" DEP "\",\"status\":\"failed\",\"startedAt\":\"2026-05-12T08:09:14Z\","
    "\"finishedAt\":\"2026-05-12T08:24:40Z\",\"lineCount\":57}]}\n";

static const char *LOG_PAGE_3 =
    "{\"lines\":["
    "{\"lineNumber\":1,\"timestamp\":\"2026-05-12T09:02:30.114Z\",\"level\":\"INFO\","
    "\"message\":\"[retry] requested by ops@omantel.example\"},"
    "{\"lineNumber\":2,\"timestamp\":\"2026-05-12T09:02:41.902Z\",\"level\":\"INFO\","
    "\"message\":\"[installing] Running 'upgrade' action with timeout of 10m0s\"},"
    "{\"lineNumber\":3,\"timestamp\":\"2026-05-12T09:03:58.377Z\",\"level\":\"WARN\","
    "\"message\":\"[degraded] Helm upgrade failed: context deadline exceeded\"}"
    "],\"total\":3,\"executionFinished\":false}\n";

static int64_t ts(const char *s)
{
    int64_t v = 0;
    cr_assert_eq(time_parse(s, &v), 0);
    return v;
}

/* A healthy late server. */
static struct fx_server *late_server(void)
{
    struct fx_server *s = fx_start();
    cr_assert_not_null(s);
    fx_json(s, "GET", P "/sovereign/self", 200, SELF);
    fx_json(s, "GET", P "/deployments/" DEP, 200, DEPLOYMENT);
    fx_json(s, "GET", P "/deployments/" DEP "/jobs", 200, JOBS_LATE);
    fx_json(s, "GET", P "/sovereign/cutover/status", 200, CUTOVER_MID);
    fx_json(s, "GET", P "/sovereign/status", 200, SOV_STATUS);
    fx_json(s, "GET", P "/organizations", 200, ORGS);
    fx_json(s, "GET", P "/deployments/" DEP "/events", 200, EVENTS);
    struct fx_route logs = {.method = "GET", .path = P "/deployments/" DEP "/logs",
                            .mode = FX_SSE, .body = LOG_SSE, .hold = true};
    fx_set(s, &logs);
    struct fx_route cut = {.method = "GET", .path = P "/sovereign/cutover/events",
                           .mode = FX_SSE, .body = CUTOVER_SSE, .hold = true};
    fx_set(s, &cut);
    return s;
}

static struct source *open_remote(struct fx_server *s, const char *deployment, bool ro,
                                  long timeout_ms)
{
    struct remote_options o = {.api = fx_base(s), .deployment = deployment, .refresh_s = 0.2,
                               .connect_timeout_ms = 1000, .timeout_ms = timeout_ms,
                               .read_only = ro};
    struct error err;
    struct source *src = source_remote_new(&o, &err);
    cr_assert_not_null(src, "%s", err.msg);
    return src;
}

typedef bool (*snap_pred)(const struct snapshot *s, const void *arg);

/* Waits (bounded) for a published snapshot satisfying pred; returns it retained. */
static struct snapshot *wait_snap(struct source *src, snap_pred pred, const void *arg, int ms)
{
    for (int waited = 0; waited <= ms; waited += 20) {
        struct snapshot *s = source_snapshot(src);
        if (pred(s, arg))
            return s;
        snapshot_release(s);
        usleep(20 * 1000);
    }
    struct snapshot *s = source_snapshot(src);
    cr_assert_fail("condition not reached in %d ms (ok=%d stale=%d error=%s)", ms, s->source.ok,
                   s->source.stale, s->source.error);
    return NULL;
}

static bool has_jobs(const struct snapshot *s, const void *arg)
{
    return s->source.ok && s->n_jobs >= (size_t)(uintptr_t)arg;
}

static bool error_has(const struct snapshot *s, const void *arg)
{
    return s->source.stale && strstr(s->source.error, (const char *)arg) != NULL;
}

static bool activity_at_least(const struct snapshot *s, const void *arg)
{
    return s->n_activity >= (size_t)(uintptr_t)arg;
}

static bool action_seq(const struct snapshot *s, const void *arg)
{
    return s->last_action.seq == *(const uint64_t *)arg;
}

static bool log_lines(const struct snapshot *s, const void *arg)
{
    return s->detail.found && s->detail.n_lines >= (size_t)(uintptr_t)arg;
}

static const struct job *job_named(const struct snapshot *s, const char *name)
{
    int32_t i = snapshot_find_job(s, name);
    cr_assert_geq(i, 0, "job %s missing", name);
    return &s->jobs[i];
}

Test(remote, late_frames_field_by_field)
{
    struct fx_server *srv = late_server();
    struct source *src = open_remote(srv, NULL, false, 5000);
    struct error err;
    cr_assert_eq(source_remote_wait_first(src, 10000, &err), EXIT_OK, "%s", err.msg);
    struct snapshot *s = wait_snap(src, has_jobs, (void *)6, 5000);

    cr_assert_str_eq(s->source.mode, "remote");
    cr_assert_str_eq(s->source.url, fx_base(srv));
    cr_assert_not(s->source.stale);
    cr_assert_str_eq(s->source.error, "");
    cr_assert_gt(s->source.fetched_at, 0);
    cr_assert_not(s->source.insecure);
    cr_assert_str_eq(s->sovereign_name, "omantel");

    cr_assert(s->has_deployment);
    cr_assert_str_eq(s->deployment.id, DEP);
    cr_assert_str_eq(s->deployment.status, "phase1-watching");
    cr_assert_eq(s->deployment.started_at, ts("2026-05-12T07:50:02Z"));
    cr_assert_eq(s->deployment.finished_at, 0);
    cr_assert_str_eq(s->deployment.sovereign_fqdn, "omantel.omani.works");
    cr_assert_str_eq(s->deployment.region, "fsn1");
    cr_assert_eq(s->deployment.num_events, 412);
    cr_assert_str_eq(s->deployment.control_plane_ip, "159.69.12.40");
    cr_assert_str_eq(s->deployment.org_name, "Omantel");

    /* 6 rows plus the provisioner group the decoder synthesises for tofu-plan */
    cr_assert_geq(s->n_jobs, 6);
    cr_assert_geq(snapshot_find_job(s, DEP ":provisioner"), 0);
    const struct job *cm = job_named(s, "install-cert-manager");
    cr_assert_str_eq(cm->id, DEP ":install-cert-manager");
    cr_assert_eq(cm->kind, KIND_INSTALL);
    cr_assert_eq(cm->status, JOB_SUCCEEDED);
    cr_assert_str_eq(cm->app_id, "cert-manager");
    cr_assert_str_eq(cm->parent_id, DEP ":bootstrap-kit");
    cr_assert_eq(cm->n_depends_on, 1);
    cr_assert_str_eq(cm->depends_on[0], "install-cilium");
    cr_assert_eq(cm->started_at, ts("2026-05-12T08:04:40Z"));
    cr_assert_eq(cm->finished_at, ts("2026-05-12T08:06:02Z"));
    cr_assert_eq(cm->duration_ms, 82000);
    cr_assert_str_eq(cm->latest_execution_id, "5d41c3a9e0b24f7d8a1c6e2b3f4a5d6c");
    const struct job *plan = job_named(s, "tofu-plan");
    cr_assert_str_eq(plan->depends_on[0], DEP ":tofu-init");
    cr_assert_str_eq(plan->display_name, "Terraform Plan");
    cr_assert_eq(plan->kind, KIND_LIFECYCLE);
    const struct job *grp = job_named(s, "cutover");
    cr_assert(grp->is_group);
    cr_assert_eq(grp->n_child_ids, 2);
    const struct job *step = job_named(s, "cutover-step-harbor-projects");
    cr_assert_eq(step->kind, KIND_STEP);
    cr_assert_eq(step->status, JOB_RUNNING);
    cr_assert_eq(step->finished_at, 0);

    cr_assert(s->cutover.available);
    cr_assert(s->cutover.state_present);
    cr_assert_eq(s->cutover.state, SOV_TETHERED);
    cr_assert_not(s->cutover.complete);
    cr_assert_str_eq(s->cutover.current_step, "harbor-prewarm");
    cr_assert_eq(s->cutover.current_step_index, 2);
    cr_assert_eq(s->cutover.total_steps, 11);
    cr_assert_eq(s->cutover.progress_percent, 18);
    cr_assert_geq(s->cutover.n_steps, 3);
    /* alphabetical on the wire, canonical order in the model */
    cr_assert_str_eq(s->cutover.steps[0].name, "gitea-mirror");
    cr_assert_str_eq(s->cutover.steps[1].name, "harbor-projects");
    cr_assert_str_eq(s->cutover.steps[2].name, "harbor-prewarm");
    cr_assert_eq(s->cutover.steps[2].result, STEP_RUNNING);
    cr_assert_eq(s->cutover.steps[0].finished_at, ts("2026-05-12T09:44:50Z"));

    cr_assert(s->sov_status.available);
    cr_assert_eq(s->sov_status.helm_releases_ready, 61);
    cr_assert_eq(s->sov_status.helm_releases_total, 63);
    cr_assert_eq(s->sov_status.pods_running, 214);
    cr_assert_eq(s->sov_status.cert_expiry_soon_count, 1);

    cr_assert(s->orgs_available);
    cr_assert_eq(s->n_orgs, 1);
    cr_assert_str_eq(s->orgs[0].name, "acme");
    cr_assert_eq(s->orgs[0].n_envs, 1);
    cr_assert_str_eq(s->orgs[0].envs[0].type, "prod");
    cr_assert_str_eq(s->orgs[0].envs[0].apps[0].blueprint, "wordpress");
    cr_assert(fx_saw_target(srv, "/jobs?inventory=full"));
    snapshot_release(s);

    /*
     * Activity: 3 backfilled from /events, the 3 replayed frames skipped, then the live
     * frame and the handover.
     */
    s = wait_snap(src, activity_at_least, (void *)5, 8000);
    usleep(300 * 1000);
    snapshot_release(s);
    s = source_snapshot(src);
    cr_assert_eq(s->n_activity, 5, "activity %zu", s->n_activity);
    const char *want[] = {"Initialising OpenTofu working directory",
                          "hcloud_load_balancer.main: Creation complete after 12s [id=2149871]",
                          "Helm install succeeded for release kube-system/cilium.v1",
                          "live line after the replay", "handover ready"};
    size_t at = 0;
    for (size_t i = 0; i < s->n_activity; i++) {
        const struct activity_line *l = &s->activity[i];
        cr_assert_null(strstr(l->line.message, "SECRETTOKEN"));
        cr_assert_lt(at, 5u);
        cr_assert_str_eq(l->line.message, want[at], "line %zu", i);
        if (at == 2)
            cr_assert_str_eq(l->job_name, "install-cilium");
        if (at == 3) {
            cr_assert_eq(l->line.level, LOG_WARN);
            cr_assert_str_eq(l->job_name, "install-cert-manager");
        }
        at++;
    }
    cr_assert_eq(at, 5u);
    /* the cutover stream's frames made the poller re-read the status */
    cr_assert_geq(fx_hits(srv, "GET", P "/sovereign/cutover/status"), 2);
    snapshot_release(s);

    source_free(src);
    fx_stop(srv);
}

/*
 * WIRE §4.2/§4.3: /events lists a buffered handover-ready event, which the SSE
 * replay sends as a *named* frame; the unnamed frames to skip are the others.
 * Live frames after the replay must all show, and no handover token may reach
 * the feed, also from an unnamed frame whose phase is handover-ready.
 */
static const char *EVENTS_HV =
    "{\"state\":{\"id\":\"" DEP "\",\"status\":\"phase1-watching\",\"finishedAt\":null},"
    "\"events\":["
    "{\"time\":\"2026-05-12T07:50:03Z\",\"phase\":\"tofu-init\",\"level\":\"info\","
    "\"message\":\"first\"},"
    "{\"time\":\"2026-05-12T08:30:00Z\",\"phase\":\"handover-ready\",\"level\":\"info\","
    "\"message\":\"https://console.omantel.omani.works/auth/handover?token=SECRET1\"},"
    "{\"time\":\"2026-05-12T08:31:00Z\",\"phase\":\"tofu\",\"level\":\"info\","
    "\"message\":\"second\"}],\"done\":false}\n";

static const char *LOG_SSE_HV =
    "data: {\"time\":\"2026-05-12T07:50:03Z\",\"phase\":\"tofu-init\",\"level\":\"info\","
    "\"message\":\"first\"}\n\n"
    "event: handover-ready\n"
    "data: {\"handoverURL\":\"https://console.omantel.omani.works/auth/handover?token=SECRET1\","
    "\"expiresAt\":\"2026-05-12T08:37:10Z\"}\n\n"
    "data: {\"time\":\"2026-05-12T08:31:00Z\",\"phase\":\"tofu\",\"level\":\"info\","
    "\"message\":\"second\"}\n\n"
    "data: {\"time\":\"2026-05-12T08:32:00Z\",\"phase\":\"tofu\",\"level\":\"info\","
    "\"message\":\"live after the replay\"}\n\n"
    "data: {\"time\":\"2026-05-12T08:33:00Z\",\"phase\":\"handover-ready\",\"level\":\"info\","
    "\"message\":\"https://console.omantel.omani.works/auth/handover?token=SECRET2\"}\n\n";

Test(remote, replay_skip_counts_named_handover_and_hides_tokens)
{
    struct fx_server *srv = late_server();
    fx_json(srv, "GET", P "/deployments/" DEP "/events", 200, EVENTS_HV);
    struct fx_route logs = {.method = "GET", .path = P "/deployments/" DEP "/logs",
                            .mode = FX_SSE, .body = LOG_SSE_HV, .hold = true};
    fx_set(srv, &logs);
    struct source *src = open_remote(srv, DEP, false, 5000);
    struct snapshot *s = wait_snap(src, activity_at_least, (void *)5, 8000);
    usleep(300 * 1000);
    snapshot_release(s);
    s = source_snapshot(src);
    const char *want[] = {"first", "handover ready", "second", "live after the replay",
                          "handover ready"};
    cr_assert_eq(s->n_activity, 5, "activity %zu", s->n_activity);
    for (size_t i = 0; i < s->n_activity; i++) {
        const char *m = s->activity[i].line.message;
        cr_assert_null(strstr(m, "SECRET"), "token in the feed: %s", m);
        cr_assert_str_eq(m, want[i], "line %zu", i);
    }
    snapshot_release(s);
    source_free(src);
    fx_stop(srv);
}

Test(remote, watched_job_detail_and_log_tail)
{
    struct fx_server *srv = late_server();
    fx_json(srv, "GET", P "/deployments/" DEP "/jobs/" DEP ":install-openbao", 200, DETAIL);
    fx_json(srv, "GET", P "/actions/executions/7e6d5c4b3a2918070f1e2d3c4b5a6978/logs", 200,
            LOG_PAGE_3);
    struct source *src = open_remote(srv, DEP, false, 5000);
    struct error err;
    cr_assert_eq(source_remote_wait_first(src, 10000, &err), EXIT_OK, "%s", err.msg);
    source_watch_job(src, DEP ":install-openbao");
    struct snapshot *s = wait_snap(src, log_lines, (void *)3, 8000);
    cr_assert_str_eq(s->detail.job_id, DEP ":install-openbao");
    cr_assert_eq(s->detail.n_executions, 2);
    cr_assert_str_eq(s->detail.executions[0].id, "7e6d5c4b3a2918070f1e2d3c4b5a6978");
    cr_assert_eq(s->detail.executions[1].status, EXEC_FAILED);
    cr_assert_eq(s->detail.executions[1].line_count, 57);
    cr_assert_str_eq(s->detail.log_execution_id, "7e6d5c4b3a2918070f1e2d3c4b5a6978");
    cr_assert_eq(s->detail.n_lines, 3);
    cr_assert_eq(s->detail.lines[0].line_number, 1);
    cr_assert_eq(s->detail.lines[2].level, LOG_WARN);
    cr_assert_eq(s->detail.log_total, 3);
    cr_assert_not(s->detail.log_finished);
    snapshot_release(s);
    /* Later polls ask from line 4 and never duplicate lines. */
    usleep(600 * 1000);
    s = source_snapshot(src);
    cr_assert_eq(s->detail.n_lines, 3);
    snapshot_release(s);
    cr_assert(fx_saw_target(srv, "fromLine=4&limit=500"));
    cr_assert(fx_saw_target(srv, "/jobs/" DEP ":install-openbao"));
    cr_assert_not(fx_saw_target(srv, "%3A"));
    source_free(src);
    fx_stop(srv);
}

/* WIRE §3.6: the tail polls every second while it runs, even with a slow --refresh. */
Test(remote, log_tail_polls_every_second_between_refreshes)
{
    struct fx_server *srv = late_server();
    fx_json(srv, "GET", P "/deployments/" DEP "/jobs/" DEP ":install-openbao", 200, DETAIL);
    fx_json(srv, "GET", P "/actions/executions/7e6d5c4b3a2918070f1e2d3c4b5a6978/logs", 200,
            LOG_PAGE_3);
    struct remote_options o = {.api = fx_base(srv), .deployment = DEP, .refresh_s = 30,
                               .connect_timeout_ms = 1000, .timeout_ms = 5000};
    struct error err;
    struct source *src = source_remote_new(&o, &err);
    cr_assert_not_null(src, "%s", err.msg);
    source_watch_job(src, DEP ":install-openbao");
    struct snapshot *s = wait_snap(src, log_lines, (void *)3, 8000);
    snapshot_release(s);
    /* Let the polls the stream openings trigger pass: from here only the tail may ask. */
    usleep(1500 * 1000);
    fx_json(srv, "GET",
            P "/actions/executions/7e6d5c4b3a2918070f1e2d3c4b5a6978/logs?fromLine=4&limit=500",
            200,
            "{\"lines\":[{\"lineNumber\":4,\"timestamp\":\"2026-05-12T09:04:00Z\","
            "\"level\":\"INFO\",\"message\":\"fourth\"}],\"total\":4,"
            "\"executionFinished\":false}\n");
    s = wait_snap(src, log_lines, (void *)4, 3000);
    cr_assert_str_eq(s->detail.lines[3].message, "fourth");
    snapshot_release(s);
    source_free(src);
    fx_stop(srv);
}

static const char *JOBS_EARLY =
    "{\"jobs\":[\n"
    "{\"id\":\"" DEP ":install-flux\",\"deploymentId\":\"" DEP "\",\"jobName\":\"install-flux\","
    "\"appId\":\"flux\",\"batchId\":\"bootstrap-kit\",\"dependsOn\":[\"install-cert-manager\"],"
    "\"status\":\"running\",\"startedAt\":\"2026-04-30T10:12:09Z\",\"durationMs\":0,"
    "\"latestExecutionId\":\"c0ffee00112233445566778899aabbcc\"},\n"
    "{\"id\":\"" DEP ":install-crossplane\",\"deploymentId\":\"" DEP "\","
    "\"jobName\":\"install-crossplane\",\"appId\":\"crossplane\",\"batchId\":\"bootstrap-kit\","
    "\"dependsOn\":[\"install-flux\"],\"status\":\"pending\",\"durationMs\":0}\n"
    "]}\n";

/* The early per-event upsert wiped dependsOn (WIRE §3.4) and flux finished. */
static const char *JOBS_EARLY_WIPED =
    "{\"jobs\":[\n"
    "{\"id\":\"" DEP ":install-flux\",\"deploymentId\":\"" DEP "\",\"jobName\":\"install-flux\","
    "\"appId\":\"flux\",\"batchId\":\"bootstrap-kit\",\"dependsOn\":[],"
    "\"status\":\"succeeded\",\"startedAt\":\"2026-04-30T10:12:09Z\","
    "\"finishedAt\":\"2026-04-30T10:14:00Z\",\"durationMs\":111000,"
    "\"latestExecutionId\":\"c0ffee00112233445566778899aabbcc\"},\n"
    "{\"id\":\"" DEP ":install-crossplane\",\"deploymentId\":\"" DEP "\","
    "\"jobName\":\"install-crossplane\",\"appId\":\"crossplane\",\"batchId\":\"bootstrap-kit\","
    "\"dependsOn\":[\"install-flux\"],\"status\":\"pending\",\"durationMs\":0}\n"
    "]}\n";

static const char *CUTOVER_NEVER =
    "{\"cutoverComplete\":false,\"currentStepIndex\":0,\"totalSteps\":0,\"progressPercent\":0,"
    "\"steps\":[{\"name\":\"gitea-mirror\",\"result\":\"\"}]}\n";

static const char *APPS =
    "{\"items\":[{\"name\":\"shop\",\"namespace\":\"acme\",\"blueprint\":\"wordpress\","
    "\"version\":\"6.5.2\",\"phase\":\"Ready\"}],\"total\":1}\n";

static bool flux_done(const struct snapshot *s, const void *arg)
{
    (void)arg;
    int32_t i = snapshot_find_job(s, "install-flux");
    return i >= 0 && s->jobs[i].status == JOB_SUCCEEDED;
}

Test(remote, early_frames_and_fallbacks)
{
    struct fx_server *srv = fx_start();
    fx_text(srv, "GET", P "/sovereign/self", 404, "404 page not found\n");
    fx_json(srv, "GET", P "/deployments", 200,
            "{\"deployments\":[{\"id\":\"" DEP "\",\"status\":\"phase1-watching\","
            "\"sovereignFQDN\":\"omantel.omani.works\"}]}\n");
    fx_json(srv, "GET", P "/deployments/" DEP, 200,
            "{\"id\":\"" DEP "\",\"status\":\"flux-bootstrapping\","
            "\"startedAt\":\"2026-04-30T10:00:00Z\",\"finishedAt\":null,"
            "\"sovereignFQDN\":\"omantel.omani.works\",\"region\":\"fsn1\",\"numEvents\":3}\n");
    fx_json(srv, "GET", P "/deployments/" DEP "/jobs", 200, JOBS_EARLY);
    fx_json(srv, "GET", P "/sovereign/cutover/status", 200, CUTOVER_NEVER);
    fx_text(srv, "GET", P "/sovereign/status", 404, "404 page not found\n");
    fx_text(srv, "GET", P "/organizations", 404, "404 page not found\n");
    fx_json(srv, "GET", P "/sovereigns/" DEP "/applications", 200, APPS);
    struct source *src = open_remote(srv, NULL, false, 5000);
    struct error err;
    cr_assert_eq(source_remote_wait_first(src, 10000, &err), EXIT_OK, "%s", err.msg);
    struct snapshot *s = wait_snap(src, has_jobs, (void *)2, 5000);
    cr_assert_str_eq(s->deployment.id, DEP, "discovered through /deployments");
    cr_assert_eq(s->deployment.finished_at, 0);
    const struct job *flux = job_named(s, "install-flux");
    cr_assert_str_eq(flux->parent_id, DEP ":bootstrap-kit");
    cr_assert_eq(flux->kind, KIND_INSTALL);
    cr_assert_not(flux->is_group);
    cr_assert_geq(snapshot_find_job(s, DEP ":bootstrap-kit"), 0, "group synthesised");
    cr_assert(s->cutover.available);
    cr_assert_not(s->cutover.state_present);
    cr_assert_eq(s->cutover.state, SOV_TETHERED);
    cr_assert_eq(s->cutover.total_steps, 0);
    cr_assert_not(s->sov_status.available);
    cr_assert(s->orgs_available, "applications fallback");
    cr_assert_eq(s->n_orgs, 1);
    cr_assert_str_eq(s->orgs[0].name, "acme");
    snapshot_release(s);

    /* dependsOn wiped by the early server: the client keeps the last non-empty list. */
    fx_json(srv, "GET", P "/deployments/" DEP "/jobs", 200, JOBS_EARLY_WIPED);
    source_refresh(src);
    s = wait_snap(src, flux_done, NULL, 5000);
    flux = job_named(s, "install-flux");
    cr_assert_eq(flux->n_depends_on, 1);
    cr_assert_str_eq(flux->depends_on[0], "install-cert-manager");
    cr_assert_eq(flux->finished_at, ts("2026-04-30T10:14:00Z"));
    snapshot_release(s);

    /* No organizations and no applications: not available; no cutover API either. */
    fx_text(srv, "GET", P "/sovereigns/" DEP "/applications", 404, "404 page not found\n");
    fx_text(srv, "GET", P "/sovereign/cutover/status", 404, "404 page not found\n");
    source_refresh(src);
    for (int i = 0; i < 250; i++) {
        s = source_snapshot(src);
        bool done = !s->orgs_available && !s->cutover.available;
        snapshot_release(s);
        if (done)
            break;
        usleep(20 * 1000);
    }
    s = source_snapshot(src);
    cr_assert_not(s->orgs_available);
    cr_assert_not(s->cutover.available);
    cr_assert(s->source.ok);
    snapshot_release(s);
    source_free(src);
    fx_stop(srv);
}

Test(remote, several_deployments_then_select)
{
    struct fx_server *srv = late_server();
    fx_json(srv, "GET", P "/sovereign/self", 404, "{\"error\":\"not-a-sovereign\"}\n");
    fx_json(srv, "GET", P "/deployments", 200,
            "{\"deployments\":[{\"id\":\"" DEP "\",\"status\":\"ready\","
            "\"sovereignFQDN\":\"omantel.omani.works\"},{\"id\":\"aaaabbbbccccdddd\","
            "\"status\":\"failed\",\"sovereignFQDN\":\"other.example\"}]}\n");
    struct source *src = open_remote(srv, NULL, false, 5000);
    struct error err;
    cr_assert_eq(source_remote_wait_first(src, 10000, &err), EXIT_USAGE);
    cr_assert(strstr(err.msg, DEP " (omantel.omani.works)") != NULL, "%s", err.msg);
    cr_assert(strstr(err.msg, "aaaabbbbccccdddd (other.example)") != NULL, "%s", err.msg);
    struct arena *a = arena_new();
    struct deployment d[4];
    cr_assert_eq(source_remote_deployments(src, d, 4, a), 2);
    cr_assert_str_eq(d[1].id, "aaaabbbbccccdddd");
    arena_free(a);
    cr_assert_eq(source_remote_select(src, DEP), 0);
    struct snapshot *s = wait_snap(src, has_jobs, (void *)6, 8000);
    cr_assert_str_eq(s->deployment.id, DEP);
    snapshot_release(s);
    source_free(src);
    fx_stop(srv);
}

Test(remote, discovery_through_sovereign_self_sends_token)
{
    struct fx_server *srv = late_server();
    char base[128];
    snprintf(base, sizeof(base), "%s", fx_base(srv));
    char path[] = "/tmp/catalyst-remote-token-" MKSTEMP_SUFFIX;
    int fd = mkstemp(path);
    cr_assert(write(fd, "tok.en.value\n", 13) == 13);
    close(fd);
    setenv("CATALYST_TOKEN_FILE", path, 1);
    struct remote_options o = {.api = base, .refresh_s = 0.2, .timeout_ms = 5000};
    struct error err;
    struct source *src = source_remote_new(&o, &err);
    cr_assert_not_null(src, "%s", err.msg);
    cr_assert_eq(source_remote_wait_first(src, 10000, &err), EXIT_OK, "%s", err.msg);
    char h[256];
    cr_assert_str_eq(fx_last_header(srv, "Authorization", h, sizeof(h)), "Bearer tok.en.value");
    cr_assert_eq(fx_hits(srv, "GET", P "/sovereign/self"), 1);
    struct snapshot *s = source_snapshot(src);
    cr_assert_null(strstr(s->source.url, "tok.en"));
    snapshot_release(s);
    source_free(src);
    unlink(path);
    fx_stop(srv);

    /* An unreadable token file is a usage error naming the file. */
    setenv("CATALYST_TOKEN_FILE", "/nonexistent/token", 1);
    cr_assert_null(source_remote_new(&o, &err));
    cr_assert_eq(err.code, EXIT_USAGE);
    cr_assert(strstr(err.msg, "/nonexistent/token") != NULL);
}

/* A FIFO given as --cacert is refused at creation, not handed to curl to block on. */
Test(remote, cacert_fifo_refused_at_once, .timeout = 10)
{
    char path[64];
    snprintf(path, sizeof(path), "/tmp/ctui-cacert-%d", (int)getpid());
    unlink(path);
    cr_assert_eq(mkfifo(path, 0600), 0);
    struct remote_options o = {.api = "http://127.0.0.1:9/api/v1", .cacert = path};
    struct error err;
    error_clear(&err);
    struct source *src = source_remote_new(&o, &err);
    unlink(path);
    cr_expect_null(src);
    source_free(src);
    cr_expect_eq(err.code, EXIT_USAGE);
    cr_expect_str_eq(err.file, path);
    cr_expect(strstr(err.msg, "is a FIFO"), "%s", err.msg);
}

Test(remote, auth_401_exits_4)
{
    struct fx_server *srv = fx_start();
    fx_json(srv, "GET", P "/sovereign/self", 401, "{\"error\":\"unauthenticated\"}\n");
    fx_json(srv, "GET", P "/deployments/" DEP, 401, "{\"error\":\"unauthenticated\"}\n");
    struct source *src = open_remote(srv, NULL, false, 5000);
    struct error err;
    cr_assert_eq(source_remote_wait_first(src, 10000, &err), EXIT_AUTH, "%s", err.msg);
    struct snapshot *s = source_snapshot(src);
    for (int i = 0; i < 100 && !s->source.auth_failed; i++) {
        snapshot_release(s);
        usleep(20 * 1000);
        s = source_snapshot(src);
    }
    cr_assert(s->source.auth_failed);
    cr_assert_not(s->source.ok);
    snapshot_release(s);
    source_free(src);

    src = open_remote(srv, DEP, false, 5000);
    cr_assert_eq(source_remote_wait_first(src, 10000, &err), EXIT_AUTH, "%s", err.msg);
    cr_assert(strstr(err.msg, "401") != NULL);
    source_free(src);
    fx_stop(srv);
}

Test(remote, unreachable_exits_3)
{
    struct fx_server *srv = fx_start();
    char base[128];
    snprintf(base, sizeof(base), "%s", fx_base(srv));
    fx_stop(srv);
    struct remote_options o = {.api = base, .refresh_s = 0.2, .timeout_ms = 2000,
                               .connect_timeout_ms = 1000};
    struct error err;
    struct source *src = source_remote_new(&o, &err);
    cr_assert_not_null(src);
    cr_assert_eq(source_remote_wait_first(src, 10000, &err), EXIT_API);
    cr_assert(strstr(err.msg, "could not reach the catalyst-api") != NULL, "%s", err.msg);
    source_free(src);
}

Test(remote, never_answering_server_is_bounded)
{
    struct fx_server *srv = fx_start();
    struct fx_route hang = {.method = "GET", .path = P "/deployments/" DEP, .mode = FX_HANG};
    fx_set(srv, &hang);
    struct source *src = open_remote(srv, DEP, false, 1500);
    struct error err;
    cr_assert_eq(source_remote_wait_first(src, 10000, &err), EXIT_API);
    cr_assert(strstr(err.msg, "could not reach") != NULL, "%s", err.msg);
    source_free(src);
    fx_stop(srv);
}

struct hostile {
    const char *path;
    enum fx_mode mode;
    int status;
    const char *body;
    const char *expect;
};

Test(remote, hostile_server_keeps_last_good_snapshot_stale)
{
    struct fx_server *srv = late_server();
    struct source *src = open_remote(srv, DEP, false, 1500);
    struct error err;
    cr_assert_eq(source_remote_wait_first(src, 10000, &err), EXIT_OK, "%s", err.msg);
    struct snapshot *good = wait_snap(src, has_jobs, (void *)6, 5000);
    int64_t good_at = good->source.fetched_at;
    size_t good_jobs = good->n_jobs;
    snapshot_release(good);

    size_t deep_n = 10000;
    char *deep = malloc(2 * deep_n + 32);
    strcpy(deep, "{\"jobs\":");
    size_t o = strlen(deep);
    for (size_t i = 0; i < deep_n; i++)
        deep[o++] = '[';
    for (size_t i = 0; i < deep_n; i++)
        deep[o++] = ']';
    strcpy(deep + o, "}\n");

    const char *jobs = P "/deployments/" DEP "/jobs";
    const struct hostile cases[] = {
        {jobs, FX_NORMAL, 200, "{\"jobs\":[{\"id\":\"a\",", "GET /deployments/" DEP "/jobs"},
        {jobs, FX_NORMAL, 200, "{\"jobs\":[{\"id\":5}]}\n", "jobs[0]"},
        {jobs, FX_NORMAL, 200, "{\"jobs\":{}}\n", "jobs"},
        /* Years no arithmetic downstream can take: refused, frame and all. */
        {jobs, FX_NORMAL, 200,
         "{\"jobs\":[{\"jobName\":\"a\",\"startedAt\":\"0001-06-01T00:00:00Z\","
         "\"finishedAt\":\"9999-12-31T23:59:59Z\"}]}\n",
         "jobs[0].startedAt: time \"0001-06-01T00:00:00Z\" outside 1970-01-01..2200-01-01"},
        {jobs, FX_NORMAL, 200,
         "{\"jobs\":[{\"jobName\":\"a\",\"startedAt\":\"2026-05-12T08:00:00Z\","
         "\"finishedAt\":\"9999-12-31T23:59:59Z\"}]}\n",
         "jobs[0].finishedAt: time \"9999-12-31T23:59:59Z\" outside"},
        {jobs, FX_NORMAL, 200, deep, "GET /deployments/" DEP "/jobs"},
        {jobs, FX_NORMAL, 500, "{\"error\":\"boom\"}\n", "HTTP 500 boom"},
        {jobs, FX_NORMAL, 502, "<html>bad gateway</html>", "HTTP 502"},
        {jobs, FX_NORMAL, 503,
         "{\"error\":\"jobs-store-unavailable\",\"detail\":\"persistence disabled\"}\n",
         "HTTP 503 jobs-store-unavailable: persistence disabled"},
        {P "/deployments/" DEP, FX_NORMAL, 404, "deployment not found\n", "HTTP 404"},
        {P "/deployments/" DEP, FX_HANG, 200, "", "could not reach"},
        {P "/deployments/" DEP, FX_CLOSE_MID, 200, DEPLOYMENT, "could not reach"},
        {P "/sovereign/cutover/status", FX_NORMAL, 200,
         "{\"state\":\"elsewhere\",\"cutoverComplete\":false,\"steps\":[]}\n", "state"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct hostile *h = &cases[i];
        /* restore the healthy routes, then break one */
        fx_json(srv, "GET", P "/deployments/" DEP, 200, DEPLOYMENT);
        fx_json(srv, "GET", jobs, 200, JOBS_LATE);
        fx_json(srv, "GET", P "/sovereign/cutover/status", 200, CUTOVER_MID);
        struct fx_route rt = {.method = "GET", .path = h->path, .mode = h->mode,
                              .status = h->status, .body = h->body,
                              .content_type = h->status == 404 ? "text/plain" : NULL};
        fx_set(srv, &rt);
        source_refresh(src);
        struct snapshot *s = wait_snap(src, error_has, h->expect, 10000);
        cr_assert(s->source.stale, "case %zu", i);
        cr_assert_not(s->source.ok);
        cr_assert_eq(s->n_jobs, good_jobs, "case %zu: last good jobs kept", i);
        cr_assert_str_eq(s->deployment.id, DEP);
        cr_assert_leq(s->source.fetched_at, time_now_ms());
        cr_assert_geq(s->source.fetched_at, good_at);
        cr_assert_lt(strlen(s->source.error), 1100u);
        snapshot_release(s);
    }
    free(deep);

    /* ESC sequences and invalid UTF-8 in names survive decode; the TUI sanitizes on draw. */
    fx_json(srv, "GET", P "/deployments/" DEP, 200, DEPLOYMENT);
    fx_json(srv, "GET", P "/sovereign/cutover/status", 200, CUTOVER_MID);
    fx_json(srv, "GET", jobs, 200,
            "{\"jobs\":[{\"id\":\"" DEP ":install-x\",\"deploymentId\":\"" DEP "\","
            "\"jobName\":\"install-x\",\"displayName\":\"\\u001b[31mred\\u001b[0m \xff\xfe\","
            "\"dependsOn\":[],\"status\":\"failed\",\"durationMs\":0}]}\n");
    source_refresh(src);
    for (int i = 0; i < 250; i++) {
        struct snapshot *s = source_snapshot(src);
        bool done = !s->source.stale && s->n_jobs == 1;
        if (done || (s->source.stale && !strstr(s->source.error, "state"))) {
            /* Accepted (strings kept) or rejected with a message: both survive. */
            if (done)
                cr_assert(strstr(job_named(s, "install-x")->display_name, "\x1b[31m") != NULL);
            snapshot_release(s);
            break;
        }
        snapshot_release(s);
        usleep(20 * 1000);
    }

    /* Recovery clears the stale mark. */
    fx_json(srv, "GET", jobs, 200, JOBS_LATE);
    source_refresh(src);
    struct snapshot *s = wait_snap(src, has_jobs, (void *)6, 10000);
    cr_assert_not(s->source.stale);
    cr_assert_str_eq(s->source.error, "");
    snapshot_release(s);
    source_free(src);
    fx_stop(srv);
}

Test(remote, ten_megabyte_string_and_endless_sse)
{
    struct fx_server *srv = late_server();
    struct fx_route endless = {.method = "GET", .path = P "/deployments/" DEP "/logs",
                               .mode = FX_SSE_ENDLESS};
    fx_set(srv, &endless);
    struct fx_route endless2 = {.method = "GET", .path = P "/sovereign/cutover/events",
                                .mode = FX_SSE_ENDLESS};
    fx_set(srv, &endless2);
    size_t n = 10u << 20;
    char *big = malloc(n + 256);
    int o = snprintf(big, 256, "{\"id\":\"" DEP "\",\"status\":\"ready\",\"finishedAt\":null,"
                               "\"error\":\"");
    memset(big + o, 'e', n);
    strcpy(big + o + n, "\"}\n");
    struct fx_route dep = {.method = "GET", .path = P "/deployments/" DEP, .body = big};
    fx_set(srv, &dep);
    free(big);
    struct source *src = open_remote(srv, DEP, false, 10000);
    struct error err;
    int rc = source_remote_wait_first(src, 20000, &err);
    cr_assert(rc == EXIT_OK || rc == EXIT_API, "rc %d: %s", rc, err.msg);
    struct snapshot *s = source_snapshot(src);
    if (rc == EXIT_OK)
        cr_assert_eq(strlen(s->deployment.error), n);
    snapshot_release(s);
    /* let the endless streams run into their frame bound at least once */
    usleep(1500 * 1000);
    s = source_snapshot(src);
    cr_assert_eq(s->n_activity, 3, "only the /events backfill, no runaway frame");
    snapshot_release(s);
    source_free(src);
    fx_stop(srv);
}

static uint64_t act_and_wait(struct source *src, enum action_kind k, const char *arg,
                             struct snapshot **out)
{
    uint64_t seq = source_act(src, k, arg);
    cr_assert_gt(seq, 0);
    *out = wait_snap(src, action_seq, &seq, 8000);
    return seq;
}

Test(remote, actions_map_status_codes_to_words)
{
    struct fx_server *srv = late_server();
    fx_json(srv, "POST", P "/deployments/" DEP "/jobs/" DEP ":install-openbao/retry", 200,
            "{\"id\":\"" DEP ":install-openbao\",\"kind\":\"install\","
            "\"action\":\"annotated HelmRelease bp-openbao for reconcile\","
            "\"executionId\":\"7e6d5c4b3a2918070f1e2d3c4b5a6978\","
            "\"requestedAt\":\"2026-05-12T09:02:30Z\",\"requestedBy\":\"ops@omantel.example\"}\n");
    fx_json(srv, "POST", P "/deployments/" DEP "/jobs/install-cilium/retry", 409,
            "{\"error\":\"not-retryable\"}\n");
    fx_json(srv, "POST", P "/sovereign/cutover/start", 409,
            "{\"error\":\"cutover-in-progress\",\"detail\":\"a cutover is already running on "
            "this catalyst-api Pod\"}\n");
    struct source *src = open_remote(srv, DEP, false, 5000);
    struct error err;
    cr_assert_eq(source_remote_wait_first(src, 10000, &err), EXIT_OK, "%s", err.msg);

    struct snapshot *s;
    act_and_wait(src, ACTION_RETRY_JOB, DEP ":install-openbao", &s);
    cr_assert_eq(s->last_action.code, 200);
    cr_assert_eq(s->last_action.kind, ACTION_RETRY_JOB);
    cr_assert_str_eq(s->last_action.error, "");
    cr_assert_str_eq(s->last_action.message,
                     "retry requested: annotated HelmRelease bp-openbao for reconcile");
    snapshot_release(s);
    cr_assert_not(fx_saw_target(srv, "%3A"));

    act_and_wait(src, ACTION_RETRY_JOB, "install-cilium", &s);
    cr_assert_eq(s->last_action.code, 409);
    cr_assert_str_eq(s->last_action.error, "not-retryable");
    cr_assert(strstr(s->last_action.message, "not retryable") != NULL);
    snapshot_release(s);

    act_and_wait(src, ACTION_CUTOVER_START, NULL, &s);
    cr_assert_eq(s->last_action.code, 409);
    cr_assert_eq(s->last_action.kind, ACTION_CUTOVER_START);
    cr_assert_str_eq(s->last_action.message, "a cutover is already running");
    snapshot_release(s);
    char h[64];
    cr_assert_str_eq(fx_last_header(srv, "Content-Length", h, sizeof(h)), "2");

    fx_json(srv, "POST", P "/sovereign/cutover/start", 424,
            "{\"error\":\"no-steps-found\",\"detail\":\"bp-self-sovereign-cutover not "
            "installed?\"}\n");
    act_and_wait(src, ACTION_CUTOVER_START, NULL, &s);
    cr_assert_eq(s->last_action.code, 424);
    cr_assert_str_eq(s->last_action.message,
                     "no cutover steps found (is bp-self-sovereign-cutover installed?)");
    snapshot_release(s);

    fx_json(srv, "POST", P "/sovereign/cutover/start", 200, CUTOVER_MID);
    act_and_wait(src, ACTION_CUTOVER_START, NULL, &s);
    cr_assert_eq(s->last_action.code, 200);
    cr_assert_str_eq(s->last_action.message, "cutover started");
    snapshot_release(s);

    fx_json(srv, "POST", P "/sovereign/cutover/start", 403, "{\"error\":\"read-only\"}\n");
    act_and_wait(src, ACTION_CUTOVER_START, NULL, &s);
    cr_assert_eq(s->last_action.code, 403);
    cr_assert_str_eq(s->last_action.message, "the server is read-only");
    snapshot_release(s);

    fx_json(srv, "POST", P "/sovereign/cutover/start", 503,
            "{\"error\":\"cutover-unconfigured\"}\n");
    act_and_wait(src, ACTION_CUTOVER_START, NULL, &s);
    cr_assert_eq(s->last_action.code, 503);
    cr_assert(strstr(s->last_action.message, "not configured") != NULL);
    snapshot_release(s);
    source_free(src);
    fx_stop(srv);
}

Test(remote, read_only_refuses_locally)
{
    struct fx_server *srv = late_server();
    struct source *src = open_remote(srv, DEP, true, 5000);
    struct error err;
    cr_assert_eq(source_remote_wait_first(src, 10000, &err), EXIT_OK, "%s", err.msg);
    struct snapshot *s;
    act_and_wait(src, ACTION_CUTOVER_START, NULL, &s);
    cr_assert_eq(s->last_action.code, 403);
    cr_assert_str_eq(s->last_action.error, "read-only");
    cr_assert(s->source.read_only);
    snapshot_release(s);
    cr_assert_eq(fx_hits(srv, "POST", P "/sovereign/cutover/start"), 0);
    source_free(src);
    fx_stop(srv);
}

static bool log_exec_is(const struct snapshot *s, const void *arg)
{
    return strcmp(s->detail.log_execution_id, (const char *)arg) == 0 && s->detail.n_lines > 0;
}

Test(remote, log_tail_stops_when_finished_and_restarts_on_new_execution)
{
    struct fx_server *srv = late_server();
    const char *exec_a = "11aa22bb33cc44dd55ee66ff77889900";
    const char *detail_a =
        "{\"job\":{\"id\":\"" DEP ":install-x\",\"deploymentId\":\"" DEP "\","
        "\"jobName\":\"install-x\",\"dependsOn\":[],\"status\":\"failed\",\"durationMs\":0,"
        "\"latestExecutionId\":\"11aa22bb33cc44dd55ee66ff77889900\"},\"executions\":["
        "{\"id\":\"11aa22bb33cc44dd55ee66ff77889900\",\"jobId\":\"" DEP ":install-x\","
        "\"status\":\"failed\",\"startedAt\":\"2026-05-12T08:09:14Z\","
        "\"finishedAt\":\"2026-05-12T08:24:40Z\",\"lineCount\":2}]}\n";
    fx_json(srv, "GET", P "/deployments/" DEP "/jobs/install-x", 200, detail_a);
    fx_json(srv, "GET",
            P "/actions/executions/11aa22bb33cc44dd55ee66ff77889900/logs?fromLine=1&limit=500",
            200,
            "{\"lines\":[{\"lineNumber\":1,\"timestamp\":\"2026-05-12T08:09:14Z\","
            "\"level\":\"INFO\",\"message\":\"a1\"},{\"lineNumber\":2,"
            "\"timestamp\":\"2026-05-12T08:24:40Z\",\"level\":\"ERROR\",\"message\":\"a2\"}],"
            "\"total\":2,\"executionFinished\":true}\n");
    const char *tail_path =
        P "/actions/executions/11aa22bb33cc44dd55ee66ff77889900/logs?fromLine=3&limit=500";
    fx_json(srv, "GET", tail_path, 200, "{\"lines\":[],\"total\":2,\"executionFinished\":true}\n");
    struct source *src = open_remote(srv, DEP, false, 5000);
    source_watch_job(src, "install-x");
    struct error err;
    cr_assert_eq(source_remote_wait_first(src, 10000, &err), EXIT_OK, "%s", err.msg);
    struct snapshot *s = wait_snap(src, log_exec_is, exec_a, 8000);
    cr_assert_str_eq(s->detail.job_id, DEP ":install-x", "the full id, not the bare name");
    cr_assert_eq(s->detail.n_lines, 2);
    cr_assert_eq(s->detail.lines[1].level, LOG_ERROR);
    cr_assert(s->detail.log_finished);
    snapshot_release(s);
    /* An empty page on a finished execution ends the tail: no more log requests. */
    for (int i = 0; i < 100 && fx_hits(srv, "GET", tail_path) < 1; i++)
        usleep(20 * 1000);
    unsigned hits = fx_hits(srv, "GET", tail_path);
    cr_assert_eq(hits, 1);
    usleep(800 * 1000);
    cr_assert_eq(fx_hits(srv, "GET", tail_path), hits);

    /* A retry makes a new latest execution: the tail restarts on it. */
    const char *exec_b = "7e6d5c4b3a2918070f1e2d3c4b5a6978";
    fx_json(srv, "GET", P "/deployments/" DEP "/jobs/install-x", 200,
            "{\"job\":{\"id\":\"" DEP ":install-x\",\"deploymentId\":\"" DEP "\","
            "\"jobName\":\"install-x\",\"dependsOn\":[],\"status\":\"running\","
            "\"durationMs\":0,\"latestExecutionId\":\"7e6d5c4b3a2918070f1e2d3c4b5a6978\"},"
            "\"executions\":[{\"id\":\"7e6d5c4b3a2918070f1e2d3c4b5a6978\",\"jobId\":\"" DEP
            ":install-x\",\"status\":\"running\",\"startedAt\":\"2026-05-12T09:02:30Z\","
            "\"lineCount\":3},{\"id\":\"11aa22bb33cc44dd55ee66ff77889900\",\"jobId\":\"" DEP
            ":install-x\",\"status\":\"failed\",\"startedAt\":\"2026-05-12T08:09:14Z\","
            "\"finishedAt\":\"2026-05-12T08:24:40Z\",\"lineCount\":2}]}\n");
    fx_json(srv, "GET", P "/actions/executions/7e6d5c4b3a2918070f1e2d3c4b5a6978/logs", 200,
            LOG_PAGE_3);
    source_refresh(src);
    s = wait_snap(src, log_exec_is, exec_b, 8000);
    cr_assert_eq(s->detail.n_lines, 3);
    cr_assert_eq(s->detail.lines[0].line_number, 1);
    cr_assert_eq(s->detail.n_executions, 2);
    cr_assert_not(s->detail.log_finished);
    snapshot_release(s);

    /* Unwatching drops the detail. */
    source_watch_job(src, NULL);
    for (int i = 0; i < 250; i++) {
        s = source_snapshot(src);
        bool gone = s->detail.job_id[0] == 0;
        snapshot_release(s);
        if (gone)
            break;
        usleep(20 * 1000);
    }
    s = source_snapshot(src);
    cr_assert_str_eq(s->detail.job_id, "");
    cr_assert_eq(s->detail.n_lines, 0);
    snapshot_release(s);
    source_free(src);
    fx_stop(srv);
}

/* Credentials written into --api never reach a snapshot (header, -o json). */
Test(remote, api_userinfo_is_not_shown)
{
    struct remote_options o = {.api = "http://bob:s3cret@127.0.0.1:9/api/v1/",
                               .connect_timeout_ms = 500, .timeout_ms = 1000};
    struct error err;
    struct source *src = source_remote_new(&o, &err);
    cr_assert_not_null(src, "%s", err.msg);
    cr_assert_eq(source_remote_wait_first(src, 5000, &err), EXIT_API);
    cr_assert_null(strstr(err.msg, "s3cret"));
    struct snapshot *s = source_snapshot(src);
    cr_assert_not_null(s);
    cr_assert_str_eq(s->source.url, "http://127.0.0.1:9/api/v1");
    snapshot_release(s);
    source_free(src);
}
