/*
 * Tests for server: every route of `serve` over loopback with libcurl as the
 * client, against a real engine running a small inline spec. Each test starts
 * and stops its own server on an ephemeral port.
 */
#include <criterion/criterion.h>

#include "arena.h"
#include "engine.h"
#include "server.h"
#include "source_local.h"
#include "spec.h"
#include "wire.h"

#include <arpa/inet.h>
#include <cJSON.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define DEP "0123456789abcdef"

static const char spec_full[] =
    "sovereign: {name: testsov, fqdn: test.example.org, provider: hetzner, regions: [fsn1],\n"
    "            deploymentId: " DEP "}\n"
    "blueprints:\n"
    "  - {name: valkey, version: 7.2.5, depends: []}\n"
    "organizations:\n"
    "  - name: acme-corp\n"
    "    environments:\n"
    "      - type: prod\n"
    "        applications: [{name: cache, blueprint: valkey}]\n"
    "groups:\n"
    "  - name: provisioner\n"
    "    displayName: Provision Hetzner\n"
    "    jobs:\n"
    "      - {name: tofu-init, simulate: {duration: 1s, logs: [\"Initialising OpenTofu\"]}}\n"
    "      - {name: tofu-plan, dependsOn: [tofu-init], simulate: {duration: 1s}}\n"
    "  - name: bootstrap-kit\n"
    "    displayName: Bootstrap\n"
    "    after: [provisioner]\n"
    "    jobs:\n"
    "      - {name: install-cilium, app: cilium,\n"
    "         simulate: {duration: 1s, logs: [\"helm install cilium\", \"release in-sync\"]}}\n"
    "      - {name: install-flux, app: flux, dependsOn: [install-cilium],\n"
    "         simulate: {duration: 4s, failFirst: 1}}\n"
    "cutover:\n"
    "  steps:\n"
    "    - {name: gitea-mirror, simulate: {duration: 4s}}\n"
    "    - {name: harbor-projects, simulate: {duration: 4s}}\n";

static const char spec_no_steps[] =
    "sovereign: {name: nosteps, fqdn: nosteps.example.org, provider: hetzner, regions: [fsn1],\n"
    "            deploymentId: " DEP "}\n"
    "groups:\n"
    "  - name: provisioner\n"
    "    jobs:\n"
    "      - {name: tofu-init, simulate: {duration: 1s}}\n";

struct fx {
    struct spec *spec;
    struct engine *e;
    struct source *src;
    struct server *srv;
    int port;
    char token_path[64];
};

struct resp {
    long status;
    struct strbuf body, hdr;
};

static struct fx fx;

static unsigned fx_max_connections; /* 0: the server's default */
static struct server_options fx_extra; /* allow_hosts and the flood limits for one test */

static void fx_start_opts(const char *yaml, const char *token, bool read_only)
{
    struct error err;
    error_clear(&err);
    memset(&fx, 0, sizeof(fx));
    fx.spec = spec_load_buffer(yaml, strlen(yaml), "test.yaml", &err);
    cr_assert_not_null(fx.spec, "spec: %s", err.msg);
    struct engine_config cfg = {.workers = 4, .speed = 10, .mode = "serve"};
    fx.e = engine_new(fx.spec, &cfg, &err);
    cr_assert_not_null(fx.e, "engine: %s", err.msg);
    cr_assert_eq(engine_start(fx.e, &err), 0, "engine_start: %s", err.msg);
    fx.src = source_local_new(fx.e, NULL, NULL, &err);
    cr_assert_not_null(fx.src, "source: %s", err.msg);
    struct server_options o = fx_extra;
    o.listen = "127.0.0.1:0";
    o.read_only = read_only;
    o.max_connections = fx_max_connections;
    if (token) {
        /* mkstemp's template: six trailing 'X's */
        size_t tl = (size_t)snprintf(fx.token_path, sizeof(fx.token_path), "/tmp/ctui-token-");
        memset(fx.token_path + tl, 'X', 6);
        fx.token_path[tl + 6] = '\0';
        int fd = mkstemp(fx.token_path);
        cr_assert_geq(fd, 0);
        cr_assert_eq(write(fd, token, strlen(token)), (ssize_t)strlen(token));
        cr_assert_eq(write(fd, "\n", 1), 1);
        close(fd);
        o.token_file = fx.token_path;
    }
    fx.srv = server_start(fx.src, fx.e, &o, &err);
    cr_assert_not_null(fx.srv, "server_start: %s", err.msg);
    fx.port = server_port(fx.srv);
    cr_assert_gt(fx.port, 0);
    /* Routes other than the probes answer 503 until the first snapshot. */
    int64_t deadline = mono_ms() + 10000;
    struct snapshot *s;
    while (!(s = source_snapshot(fx.src)) && mono_ms() < deadline) {
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    cr_assert_not_null(s, "the source never published");
    snapshot_release(s);
}

static void fx_start(void) { fx_start_opts(spec_full, NULL, false); }

static void fx_stop(void)
{
    server_stop(fx.srv);
    source_free(fx.src);
    engine_stop(fx.e);
    engine_free(fx.e);
    spec_free(fx.spec);
    if (fx.token_path[0])
        unlink(fx.token_path);
}

static size_t on_data(char *p, size_t sz, size_t n, void *ud)
{
    sb_append(ud, p, sz * n);
    return sz * n;
}

/* One request; headers is NULL or NULL-terminated "Name: value" strings. */
static void http(const char *method, const char *path, const char *const *headers,
                 const char *body, size_t body_len, struct resp *r)
{
    memset(r, 0, sizeof(*r));
    sb_init(&r->body);
    sb_init(&r->hdr);
    char url[1024];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", fx.port, path);
    CURL *c = curl_easy_init();
    cr_assert_not_null(c);
    struct curl_slist *hl = NULL;
    for (size_t i = 0; headers && headers[i]; i++)
        hl = curl_slist_append(hl, headers[i]);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)(body ? body_len : 0));
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r->hdr);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    CURLcode rc = curl_easy_perform(c);
    cr_assert_eq(rc, CURLE_OK, "%s %s: %s", method, path, curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    if (!r->body.buf)
        sb_puts(&r->body, "");
    if (!r->hdr.buf)
        sb_puts(&r->hdr, "");
}

static void get(const char *path, struct resp *r) { http("GET", path, NULL, NULL, 0, r); }
static const char *const json_ct[] = {"Content-Type: application/json", NULL};

/* A POST as the project's own client sends it (core/http.c: JSON content type). */
static void post(const char *path, struct resp *r) { http("POST", path, json_ct, NULL, 0, r); }

static void resp_free(struct resp *r)
{
    sb_fini(&r->body);
    sb_fini(&r->hdr);
}

/* The value of a response header ("" when absent) into out. */
static const char *header(const struct resp *r, const char *name, char *out, size_t n)
{
    out[0] = '\0';
    size_t nl = strlen(name);
    for (const char *p = r->hdr.buf; p && *p;) {
        const char *e = strstr(p, "\r\n");
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (*v == ' ')
                v++;
            snprintf(out, n, "%.*s", (int)(l - (size_t)(v - p)), v);
            return out;
        }
        p = e ? e + 2 : p + l;
    }
    return out;
}

static void expect_json(const struct resp *r)
{
    char ct[128];
    cr_expect_str_eq(header(r, "Content-Type", ct, sizeof(ct)), "application/json");
    cr_expect(r->body.len > 0 && r->body.buf[r->body.len - 1] == '\n',
              "JSON bodies end with a newline like Go's json.Encoder");
}

static void expect_error(const struct resp *r, long status, const char *code)
{
    cr_expect_eq(r->status, status, "status %ld, want %ld (%s)", r->status, status, r->body.buf);
    expect_json(r);
    struct arena *a = arena_new();
    const char *got, *detail;
    wire_decode_error(r->body.buf, r->body.len, a, &got, &detail);
    cr_expect_str_eq(got, code);
    arena_free(a);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Polls the deployment until its status is want (or any terminal one when NULL). */
static void wait_deployment(const char *want)
{
    int64_t deadline = mono_ms() + 30000;
    for (;;) {
        struct resp r;
        get("/api/v1/deployments/" DEP, &r);
        struct arena *a = arena_new();
        struct deployment d;
        struct error err;
        bool ok = r.status == 200 &&
                  wire_decode_deployment(r.body.buf, r.body.len, a, &d, &err) == 0 &&
                  (want ? strcmp(d.status, want) == 0
                        : (strcmp(d.status, "ready") == 0 || strcmp(d.status, "failed") == 0));
        arena_free(a);
        resp_free(&r);
        if (ok)
            return;
        cr_assert_lt(mono_ms(), deadline, "deployment never reached %s", want ? want : "done");
        sleep_ms(50);
    }
}

/* Decodes GET path as a jobs list into a. */
static size_t get_jobs(const char *path, struct arena *a, struct job **jobs)
{
    struct resp r;
    get(path, &r);
    cr_assert_eq(r.status, 200, "%s: %ld %s", path, r.status, r.body.buf);
    expect_json(&r);
    struct error err;
    size_t n = 0;
    cr_assert_eq(wire_decode_jobs(r.body.buf, r.body.len, a, jobs, &n, &err), 0, "%s", err.msg);
    resp_free(&r);
    return n;
}

static const struct job *find(const struct job *jobs, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(jobs[i].job_name, name) == 0)
            return &jobs[i];
    return NULL;
}

TestSuite(server, .init = fx_start, .fini = fx_stop, .timeout = 60);

Test(server, probes_version_and_identity)
{
    struct resp r;
    char v[128];
    get("/healthz", &r);
    cr_expect_eq(r.status, 200);
    cr_expect_str_eq(r.body.buf, "ok");
    cr_expect(strncmp(header(&r, "Content-Type", v, sizeof(v)), "text/plain", 10) == 0);
    resp_free(&r);

    int64_t deadline = mono_ms() + 10000;
    do {
        get("/readyz", &r);
        long st = r.status;
        resp_free(&r);
        if (st == 200)
            break;
        cr_assert_eq(st, 503);
        sleep_ms(20);
    } while (mono_ms() < deadline);
    get("/readyz", &r);
    cr_expect_eq(r.status, 200);
    resp_free(&r);

    get("/api/v1/version", &r);
    cr_expect_eq(r.status, 200);
    expect_json(&r);
    cJSON *o = cJSON_Parse(r.body.buf);
    cr_assert_not_null(o);
    cr_expect_str_eq(cJSON_GetObjectItem(o, "service")->valuestring, "catalyst-tui");
    cr_expect(cJSON_IsString(cJSON_GetObjectItem(o, "version")));
    cJSON_Delete(o);
    resp_free(&r);

    get("/api/v1/sovereign/self", &r);
    cr_expect_eq(r.status, 200);
    expect_json(&r);
    struct arena *a = arena_new();
    const char *id, *fqdn;
    struct error err;
    cr_assert_eq(wire_decode_sovereign_self(r.body.buf, r.body.len, a, &id, &fqdn, &err), 0);
    cr_expect_str_eq(id, DEP);
    cr_expect_str_eq(fqdn, "test.example.org");
    arena_free(a);
    resp_free(&r);
}

Test(server, deployments_list_one_and_unknown)
{
    wait_deployment(NULL);
    struct resp r;
    struct arena *a = arena_new();
    struct error err;
    get("/api/v1/deployments", &r);
    cr_expect_eq(r.status, 200);
    expect_json(&r);
    struct deployment *ds;
    size_t n;
    cr_assert_eq(wire_decode_deployments(r.body.buf, r.body.len, a, &ds, &n, &err), 0, "%s",
                 err.msg);
    cr_assert_eq(n, 1);
    cr_expect_str_eq(ds[0].id, DEP);
    cr_expect_str_eq(ds[0].sovereign_fqdn, "test.example.org");
    resp_free(&r);

    get("/api/v1/deployments/" DEP, &r);
    cr_expect_eq(r.status, 200);
    struct deployment d;
    cr_assert_eq(wire_decode_deployment(r.body.buf, r.body.len, a, &d, &err), 0, "%s", err.msg);
    cr_expect_str_eq(d.status, "failed", "install-flux fails on its first attempt");
    cr_expect_gt(d.started_at, 0);
    resp_free(&r);

    const char *paths[] = {"/api/v1/deployments/ffffffffffffffff",
                           "/api/v1/deployments/ffffffffffffffff/events",
                           "/api/v1/deployments/ffffffffffffffff/logs",
                           "/api/v1/deployments/ffffffffffffffff/jobs"};
    for (size_t i = 0; i < 4; i++) {
        char ct[64];
        get(paths[i], &r);
        cr_expect_eq(r.status, 404, "%s", paths[i]);
        cr_expect_str_eq(r.body.buf, "deployment not found\n");
        cr_expect(strncmp(header(&r, "Content-Type", ct, sizeof(ct)), "text/plain", 10) == 0);
        resp_free(&r);
    }
    arena_free(a);
}

Test(server, jobs_views_filters_and_order)
{
    wait_deployment(NULL);
    struct arena *a = arena_new();
    struct job *jobs;
    size_t n = get_jobs("/api/v1/deployments/" DEP "/jobs?inventory=full", a, &jobs);
    cr_assert_not_null(find(jobs, n, "install-cilium"));
    cr_assert_not_null(find(jobs, n, "bootstrap-kit"));
    cr_expect(find(jobs, n, "bootstrap-kit")->is_group);
    cr_expect_eq(find(jobs, n, "install-flux")->status, JOB_FAILED);
    cr_expect_eq(find(jobs, n, "install-cilium")->status, JOB_SUCCEEDED);
    /* startedAt DESC, rows without startedAt last, ties by jobName. */
    for (size_t i = 1; i < n; i++) {
        const struct job *x = &jobs[i - 1], *y = &jobs[i];
        if (x->started_at && y->started_at)
            cr_expect(x->started_at > y->started_at ||
                          (x->started_at == y->started_at &&
                           strcmp(x->job_name, y->job_name) < 0),
                      "%s before %s", x->job_name, y->job_name);
        else
            cr_expect(x->started_at || !y->started_at, "unstarted rows come last");
    }

    /* Default (finite-work) view: no install leaves, empty groups pruned. */
    struct job *dv;
    size_t dn = get_jobs("/api/v1/deployments/" DEP "/jobs", a, &dv);
    cr_expect_lt(dn, n);
    for (size_t i = 0; i < dn; i++)
        cr_expect(dv[i].is_group || dv[i].kind != KIND_INSTALL, "%s in the default view",
                  dv[i].job_name);
    cr_expect_null(find(dv, dn, "bootstrap-kit"), "a group of installs only is pruned");
    const struct job *prov = find(dv, dn, "provisioner");
    cr_assert_not_null(prov);
    cr_expect_eq(prov->n_child_ids, 2);
    cr_expect_eq(prov->status, JOB_SUCCEEDED);

    struct job *fv;
    size_t fn = get_jobs("/api/v1/deployments/" DEP "/jobs?inventory=FULL&status=failed", a, &fv);
    cr_assert_geq(fn, 2);
    for (size_t i = 0; i < fn; i++)
        cr_expect_eq(fv[i].status, JOB_FAILED, "%s", fv[i].job_name);
    cr_expect_not_null(find(fv, fn, "install-flux"));
    cr_expect_not_null(find(fv, fn, "bootstrap-kit"), "groups filter by rolled-up status");

    struct resp r;
    get("/api/v1/deployments/" DEP "/jobs?status=done", &r);
    expect_error(&r, 400, "invalid-status");
    cJSON *o = cJSON_Parse(r.body.buf);
    cr_expect_str_eq(cJSON_GetObjectItem(o, "detail")->valuestring,
                     "status \"done\" must be one of pending / running / succeeded / failed");
    cJSON_Delete(o);
    resp_free(&r);
    arena_free(a);
}

Test(server, job_detail_by_name_and_id_and_log_pages)
{
    wait_deployment(NULL);
    struct arena *a = arena_new();
    struct error err;
    struct resp r1, r2;
    get("/api/v1/deployments/" DEP "/jobs/install-cilium", &r1);
    get("/api/v1/deployments/" DEP "/jobs/" DEP ":install-cilium", &r2);
    cr_assert_eq(r1.status, 200);
    cr_assert_eq(r2.status, 200);
    expect_json(&r1);
    cr_expect_str_eq(r1.body.buf, r2.body.buf, "bare name and full id give the same job");
    struct job j;
    struct execution *ex;
    size_t nx;
    cr_assert_eq(wire_decode_job_detail(r1.body.buf, r1.body.len, a, &j, &ex, &nx, &err), 0,
                 "%s", err.msg);
    cr_expect_str_eq(j.id, DEP ":install-cilium");
    cr_assert_geq(nx, 1);
    cr_expect_str_eq(ex[0].id, j.latest_execution_id, "newest execution first");
    cr_expect_eq(strlen(ex[0].id), 32);
    char exec_id[40];
    snprintf(exec_id, sizeof(exec_id), "%s", ex[0].id);
    resp_free(&r1);
    resp_free(&r2);

    get("/api/v1/deployments/" DEP "/jobs/bootstrap-kit", &r1);
    cr_expect_eq(r1.status, 200);
    cr_assert_eq(wire_decode_job_detail(r1.body.buf, r1.body.len, a, &j, &ex, &nx, &err), 0);
    cr_expect(j.is_group);
    cr_expect_eq(nx, 0, "groups have no executions");
    resp_free(&r1);

    get("/api/v1/deployments/" DEP "/jobs/no-such-job", &r1);
    expect_error(&r1, 404, "job-not-found");
    resp_free(&r1);
    get("/api/v1/deployments/" DEP "/jobs/batches", &r1);
    expect_error(&r1, 404, "job-not-found");
    resp_free(&r1);

    char path[256];
    struct log_page pg;
    snprintf(path, sizeof(path), "/api/v1/actions/executions/%s/logs?fromLine=abc&limit=-5",
             exec_id);
    get(path, &r1);
    cr_assert_eq(r1.status, 200, "clamped, never an error: %s", r1.body.buf);
    expect_json(&r1);
    cr_assert_eq(wire_decode_log_page(r1.body.buf, r1.body.len, a, &pg, &err), 0, "%s",
                 err.msg);
    cr_assert_geq(pg.n_lines, 2);
    cr_expect_eq(pg.lines[0].line_number, 1);
    cr_expect(pg.execution_finished);
    cr_expect_eq(pg.total, (int64_t)pg.n_lines);
    int64_t total = pg.total;
    resp_free(&r1);

    snprintf(path, sizeof(path), "/api/v1/actions/executions/%s/logs?fromLine=2&limit=1",
             exec_id);
    get(path, &r1);
    cr_assert_eq(wire_decode_log_page(r1.body.buf, r1.body.len, a, &pg, &err), 0);
    cr_expect_eq(pg.n_lines, 1);
    cr_expect_eq(pg.lines[0].line_number, 2);
    cr_expect_eq(pg.total, total, "total is the whole log, not the page");
    resp_free(&r1);

    snprintf(path, sizeof(path), "/api/v1/actions/executions/%s/logs?fromLine=99999", exec_id);
    get(path, &r1);
    cr_assert_eq(wire_decode_log_page(r1.body.buf, r1.body.len, a, &pg, &err), 0);
    cr_expect_eq(pg.n_lines, 0);
    resp_free(&r1);

    get("/api/v1/actions/executions/00000000000000000000000000000000/logs", &r1);
    expect_error(&r1, 404, "execution-not-found");
    resp_free(&r1);
    arena_free(a);
}

Test(server, retry_then_409_while_running)
{
    wait_deployment("failed");
    struct resp r;
    post("/api/v1/deployments/" DEP "/jobs/install-flux/retry", &r);
    cr_assert_eq(r.status, 200, "%s", r.body.buf);
    expect_json(&r);
    struct arena *a = arena_new();
    const char *exec_id, *action;
    struct error err;
    cr_assert_eq(wire_decode_retry(r.body.buf, r.body.len, a, &exec_id, &action, &err), 0, "%s",
                 err.msg);
    cr_expect_eq(strlen(exec_id), 32);
    cJSON *o = cJSON_Parse(r.body.buf);
    cr_expect_str_eq(cJSON_GetObjectItem(o, "id")->valuestring, DEP ":install-flux");
    cr_expect_str_eq(cJSON_GetObjectItem(o, "kind")->valuestring, "install");
    cr_expect_str_eq(cJSON_GetObjectItem(o, "requestedBy")->valuestring, "catalyst-tui");
    cJSON_Delete(o);
    resp_free(&r);

    post("/api/v1/deployments/" DEP "/jobs/install-flux/retry", &r);
    expect_error(&r, 409, "not-retryable");
    resp_free(&r);
    post("/api/v1/deployments/" DEP "/jobs/install-cilium/retry", &r);
    expect_error(&r, 409, "not-retryable");
    resp_free(&r);
    post("/api/v1/deployments/" DEP "/jobs/nope/retry", &r);
    expect_error(&r, 404, "job-not-found");
    resp_free(&r);

    /* The retry succeeds on its second attempt and the deployment becomes ready. */
    wait_deployment("ready");
    arena_free(a);
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

Test(server, cutover_start_409_events_stream)
{
    struct resp r;
    struct arena *a = arena_new();
    struct error err;
    struct cutover_status cs;
    get("/api/v1/sovereign/cutover/status", &r);
    cr_assert_eq(r.status, 200);
    expect_json(&r);
    cr_assert_eq(wire_decode_cutover_status(r.body.buf, r.body.len, a, &cs, &err), 0, "%s",
                 err.msg);
    cr_expect_not(cs.complete);
    cr_expect_eq(cs.state, SOV_TETHERED);
    resp_free(&r);

    /* Forced: provisioning is still running (the preflight is tests/test_server_preflight.c). */
    http("POST", "/api/v1/sovereign/cutover/start", json_ct, "{\"force\":true}", 14, &r);
    cr_assert_eq(r.status, 200, "%s", r.body.buf);
    cr_assert_eq(wire_decode_cutover_status(r.body.buf, r.body.len, a, &cs, &err), 0, "%s",
                 err.msg);
    cr_expect_eq(cs.total_steps, 2);
    cr_expect_gt(cs.started_at, 0, "the start response shows cutoverStartedAt");
    resp_free(&r);
    post("/api/v1/sovereign/cutover/start", &r);
    expect_error(&r, 409, "cutover-in-progress");
    resp_free(&r);

    /* A live stream from mid-run ends right after cutover-completed. */
    get("/api/v1/sovereign/cutover/events", &r);
    cr_assert_eq(r.status, 200);
    char ct[64];
    cr_expect_str_eq(header(&r, "Content-Type", ct, sizeof(ct)), "text/event-stream");
    cr_expect_str_eq(header(&r, "Cache-Control", ct, sizeof(ct)), "no-cache");
    cr_expect_eq(count(r.body.buf, "event: cutover-status\n"), 1);
    cr_expect(strstr(r.body.buf, "event: cutover-started\n"));
    const char *done = strstr(r.body.buf, "event: cutover-completed\n");
    cr_assert_not_null(done, "%s", r.body.buf);
    cr_expect(strstr(r.body.buf, "event: cutover-step-finished\ndata: {"));
    resp_free(&r);

    get("/api/v1/sovereign/cutover/status", &r);
    cr_assert_eq(wire_decode_cutover_status(r.body.buf, r.body.len, a, &cs, &err), 0);
    resp_free(&r);
    int64_t deadline = mono_ms() + 10000;
    while (!cs.complete && mono_ms() < deadline) {
        sleep_ms(50);
        get("/api/v1/sovereign/cutover/status", &r);
        cr_assert_eq(wire_decode_cutover_status(r.body.buf, r.body.len, a, &cs, &err), 0);
        resp_free(&r);
    }
    cr_assert(cs.complete);
    cr_expect_eq(cs.state, SOV_SOVEREIGN);

    post("/api/v1/sovereign/cutover/start", &r);
    cr_expect_eq(r.status, 200, "already complete: 200 and nothing re-runs");
    resp_free(&r);

    /* Replay of the ring, then one double-encoded cutover-status frame, then close. */
    get("/api/v1/sovereign/cutover/events", &r);
    cr_assert_eq(r.status, 200);
    const char *b = r.body.buf;
    const char *st = strstr(b, "event: cutover-status\ndata: ");
    cr_assert_not_null(st, "%s", b);
    cr_expect(strstr(b, "event: cutover-started\n") < st, "replay comes first");
    cr_expect(strstr(b, "event: cutover-completed\n") < st);
    cr_expect(strstr(b, "event: cutover-already-complete\n") < st);
    cr_expect_eq(count(b, "event: cutover-step-started\n"), 2);
    const char *data = st + strlen("event: cutover-status\ndata: ");
    char *line = strndup(data, strcspn(data, "\n"));
    cJSON *o = cJSON_Parse(line);
    cr_assert_not_null(o, "%s", line);
    cJSON *inner = cJSON_Parse(cJSON_GetObjectItem(o, "message")->valuestring);
    cr_assert(cJSON_IsObject(inner), "message is the JSON-encoded flat map");
    cr_expect_str_eq(cJSON_GetObjectItem(inner, "cutoverComplete")->valuestring, "true");
    struct cutover_status flat;
    const char *msg = cJSON_GetObjectItem(o, "message")->valuestring;
    cr_expect_eq(wire_decode_cutover_configmap(msg, strlen(msg), a, &flat, &err), 0, "%s",
                 err.msg);
    cJSON_Delete(inner);
    cJSON_Delete(o);
    free(line);
    resp_free(&r);
    arena_free(a);
}

Test(server, sse_logs_replay_and_done, .timeout = 60)
{
    wait_deployment(NULL);
    struct resp r, ev;
    get("/api/v1/deployments/" DEP "/logs", &r);
    cr_assert_eq(r.status, 200);
    char ct[64];
    cr_expect_str_eq(header(&r, "Content-Type", ct, sizeof(ct)), "text/event-stream");
    cr_expect_str_eq(header(&r, "X-Accel-Buffering", ct, sizeof(ct)), "no");
    const char *b = r.body.buf;
    cr_expect(strncmp(b, "data: {\"time\":", 14) == 0, "replay starts with unnamed frames");
    const char *done = strstr(b, "event: done\ndata: ");
    cr_assert_not_null(done, "%s", b);
    const char *data = done + strlen("event: done\ndata: ");
    size_t dl = strcspn(data, "\n");
    cr_expect_str_eq(data + dl, "\n\n", "done is the last frame");
    struct arena *a = arena_new();
    struct deployment d;
    struct error err;
    cr_assert_eq(wire_decode_deployment(data, dl, a, &d, &err), 0, "%s", err.msg);
    cr_expect_str_eq(d.id, DEP);
    cr_expect_str_eq(d.status, "failed");
    cr_expect(strstr(b, "\"phase\":\"component\""), "component events");
    cr_expect(strstr(b, "\"state\":\"installed\""));
    cr_expect(strstr(b, "\"phase\":\"tofu-init\""));
    cr_expect(strstr(b, "\"phase\":\"component-log\""));

    get("/api/v1/deployments/" DEP "/events", &ev);
    cr_assert_eq(ev.status, 200);
    expect_json(&ev);
    cJSON *o = cJSON_Parse(ev.body.buf);
    cr_assert_not_null(o);
    cr_expect(cJSON_IsTrue(cJSON_GetObjectItem(o, "done")));
    cr_expect_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "state"), "id")->valuestring,
                     DEP);
    cJSON *events = cJSON_GetObjectItem(o, "events");
    cr_expect_eq((size_t)cJSON_GetArraySize(events), count(b, "data: {\"time\""),
                 "/events holds the same buffer as the SSE replay");
    cr_expect_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "state"), "numEvents")->valueint,
                 cJSON_GetArraySize(events), "numEvents counts the buffered events");
    struct resp dr;
    get("/api/v1/deployments/" DEP, &dr);
    cr_assert_eq(wire_decode_deployment(dr.body.buf, dr.body.len, a, &d, &err), 0);
    cr_expect_eq(d.num_events, cJSON_GetArraySize(events));
    resp_free(&dr);
    struct wire_event we;
    char *first = cJSON_PrintUnformatted(cJSON_GetArrayItem(events, 0));
    cr_expect_eq(wire_decode_event(first, strlen(first), a, &we, &err), 0, "%s", err.msg);
    free(first);
    cJSON_Delete(o);
    resp_free(&ev);
    resp_free(&r);
    arena_free(a);
}

Test(server, sovereign_status_and_organizations)
{
    wait_deployment(NULL);
    struct arena *a = arena_new();
    struct error err;
    struct job *jobs;
    size_t n = get_jobs("/api/v1/deployments/" DEP "/jobs?inventory=full", a, &jobs);
    int installs = 0, ok = 0;
    for (size_t i = 0; i < n; i++)
        if (!jobs[i].is_group && jobs[i].kind == KIND_INSTALL) {
            installs++;
            ok += jobs[i].status == JOB_SUCCEEDED;
        }
    struct resp r;
    get("/api/v1/sovereign/status", &r);
    cr_assert_eq(r.status, 200);
    expect_json(&r);
    struct sovereign_status st;
    cr_assert_eq(wire_decode_sovereign_status(r.body.buf, r.body.len, &st, &err), 0);
    cr_expect_eq(st.helm_releases_total, installs);
    cr_expect_eq(st.helm_releases_ready, ok);
    cr_expect_geq(st.pods_total, st.pods_running);
    cr_expect_eq(st.cert_expiry_soon_count, 0);
    resp_free(&r);

    get("/api/v1/organizations", &r);
    cr_assert_eq(r.status, 200);
    expect_json(&r);
    struct organization *orgs;
    struct blueprint *bps;
    size_t no, nb;
    cr_assert_eq(wire_decode_organizations(r.body.buf, r.body.len, a, &orgs, &no, &bps, &nb,
                                           &err), 0, "%s", err.msg);
    cr_assert_eq(no, 1);
    cr_expect_str_eq(orgs[0].name, "acme-corp");
    cr_assert_eq(orgs[0].n_envs, 1);
    cr_expect_str_eq(orgs[0].envs[0].name, "acme-corp-prod");
    cr_expect_eq(nb, 1);
    resp_free(&r);
    arena_free(a);
}

Test(server, etag_and_304)
{
    wait_deployment(NULL);
    const char *paths[] = {"/api/v1/deployments/" DEP "/jobs?inventory=full",
                           "/api/v1/sovereign/cutover/status", "/api/v1/deployments",
                           "/api/v1/deployments/" DEP "/jobs/install-cilium"};
    for (size_t i = 0; i < 4; i++) {
        struct resp r, r2, r3;
        char etag[64], hdr[128], etag2[64];
        get(paths[i], &r);
        cr_assert_eq(r.status, 200);
        header(&r, "ETag", etag, sizeof(etag));
        cr_assert(etag[0] == '"' && etag[strlen(etag) - 1] == '"', "quoted strong tag: %s",
                  etag);
        snprintf(hdr, sizeof(hdr), "If-None-Match: %s", etag);
        const char *h[] = {hdr, NULL};
        http("GET", paths[i], h, NULL, 0, &r2);
        cr_expect_eq(r2.status, 304, "%s", paths[i]);
        cr_expect_eq(r2.body.len, 0, "no body on 304");
        cr_expect_str_eq(header(&r2, "ETag", etag2, sizeof(etag2)), etag);
        cr_expect_lt(r2.hdr.len, 300, "an unchanged poll is small");
        const char *h2[] = {"If-None-Match: \"stale\"", NULL};
        http("GET", paths[i], h2, NULL, 0, &r3);
        cr_expect_eq(r3.status, 200);
        cr_expect_str_eq(r3.body.buf, r.body.buf);
        resp_free(&r);
        resp_free(&r2);
        resp_free(&r3);
    }
}

Test(server, bad_requests_get_the_right_codes)
{
    struct resp r;
    get("/api/v1/nope", &r);
    expect_error(&r, 404, "not-found");
    resp_free(&r);
    get("/nope", &r);
    expect_error(&r, 404, "not-found");
    resp_free(&r);

    char allow[64];
    http("DELETE", "/api/v1/deployments", NULL, NULL, 0, &r);
    expect_error(&r, 405, "method-not-allowed");
    cr_expect(strstr(header(&r, "Allow", allow, sizeof(allow)), "GET"));
    resp_free(&r);
    get("/api/v1/sovereign/cutover/start", &r);
    expect_error(&r, 405, "method-not-allowed");
    cr_expect(strstr(header(&r, "Allow", allow, sizeof(allow)), "POST"));
    resp_free(&r);
    post("/api/v1/sovereign/cutover/status", &r);
    expect_error(&r, 405, "method-not-allowed");
    resp_free(&r);

    /* Oversized request heads are refused; the server keeps answering. */
    size_t bigs[] = {20 * 1024, 64 * 1024};
    for (size_t i = 0; i < 2; i++) {
        size_t big = bigs[i];
        char *h = malloc(big + 16);
        memcpy(h, "X-Big: ", 7);
        memset(h + 7, 'a', big);
        h[7 + big] = '\0';
        const char *hs[] = {h, NULL};
        http("GET", "/api/v1/deployments", hs, NULL, 0, &r);
        if (i == 0)
            expect_error(&r, 431, "request-header-too-large");
        else
            cr_expect(r.status == 431 || r.status == 400, "oversized head: %ld", r.status);
        resp_free(&r);
        free(h);
    }

    char *body = malloc(128 * 1024);
    memset(body, '{', 128 * 1024);
    http("POST", "/api/v1/sovereign/cutover/start", NULL, body, 128 * 1024, &r);
    expect_error(&r, 413, "request-too-large");
    resp_free(&r);
    free(body);

    get("/api/v1/actions/executions/x/logs?limit=-5&fromLine=abc", &r);
    expect_error(&r, 404, "execution-not-found");
    resp_free(&r);

    get("/healthz", &r);
    cr_expect_eq(r.status, 200, "still answering");
    resp_free(&r);
}

/* Sends raw bytes on a fresh connection; the status code of the first answer (0: none). */
static int raw_status(const char *req)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)fx.port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    struct timeval tv = {3, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    cr_assert_eq(write(fd, req, strlen(req)), (ssize_t)strlen(req));
    char buf[256];
    size_t got = 0;
    while (got < 12) {
        ssize_t r = read(fd, buf + got, sizeof(buf) - 1 - got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    buf[got] = '\0';
    int code = 0;
    return sscanf(buf, "HTTP/1.%*d %d", &code) == 1 ? code : 0;
}

/* Two answers to "where does the body end" are refused: that is how requests get smuggled. */
Test(server, ambiguous_body_length_refused)
{
    cr_expect_eq(raw_status("POST /api/v1/sovereign/cutover/start HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                            "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
                            "0\r\n\r\n"),
                 400);
    cr_expect_eq(raw_status("POST /api/v1/sovereign/cutover/start HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                            "Content-Length: 2\r\nContent-Length: 40\r\n\r\n{}"),
                 400);
    /* The same length twice is only redundant. */
    cr_expect_eq(raw_status("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n"
                            "Content-Length: 0\r\n\r\n"),
                 200);
    struct resp r;
    get("/healthz", &r);
    cr_expect_eq(r.status, 200, "still answering");
    resp_free(&r);
}

Test(server, idle_connections_do_not_block_service)
{
    enum { N = 200 };
    int fds[N];
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)fx.port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    for (int i = 0; i < N; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        cr_assert_geq(fds[i], 0);
        cr_assert_eq(connect(fds[i], (struct sockaddr *)&sa, sizeof(sa)), 0, "connect %d", i);
    }
    int64_t t0 = mono_ms();
    struct resp r;
    get("/api/v1/deployments", &r);
    cr_expect_eq(r.status, 200);
    cr_expect_lt(mono_ms() - t0, 5000);
    resp_free(&r);
    for (int i = 0; i < N; i++)
        close(fds[i]);
    get("/healthz", &r);
    cr_expect_eq(r.status, 200);
    resp_free(&r);
}

Test(auth, bearer_token_guards_all_but_public_routes, .timeout = 60)
{
    fx_start_opts(spec_full, "s3cret-token-value", false);
    struct resp r;
    get("/api/v1/deployments", &r);
    expect_error(&r, 401, "unauthenticated");
    cr_expect_null(strstr(r.body.buf, "s3cret"), "the token is never echoed");
    resp_free(&r);
    const char *wrong[] = {"Authorization: Bearer s3cret-token-valuX", NULL};
    http("GET", "/api/v1/deployments", wrong, NULL, 0, &r);
    expect_error(&r, 401, "unauthenticated");
    resp_free(&r);
    const char *prefix[] = {"Authorization: Bearer s3cret", NULL};
    http("GET", "/api/v1/sovereign/cutover/status", prefix, NULL, 0, &r);
    expect_error(&r, 401, "unauthenticated");
    resp_free(&r);
    post("/api/v1/sovereign/cutover/start", &r);
    expect_error(&r, 401, "unauthenticated");
    resp_free(&r);

    const char *good[] = {"Authorization: Bearer s3cret-token-value", NULL};
    http("GET", "/api/v1/deployments", good, NULL, 0, &r);
    cr_expect_eq(r.status, 200);
    resp_free(&r);
    get("/api/v1/deployments?access_token=s3cret-token-value", &r);
    cr_expect_eq(r.status, 200, "query token for EventSource clients");
    resp_free(&r);
    /* A token in a URL never authorises a mutation. */
    post("/api/v1/sovereign/cutover/start?access_token=s3cret-token-value", &r);
    expect_error(&r, 401, "unauthenticated");
    resp_free(&r);

    const char *open[] = {"/healthz", "/api/v1/version", "/api/v1/sovereign/self"};
    for (size_t i = 0; i < 3; i++) {
        get(open[i], &r);
        cr_expect_eq(r.status, 200, "%s is public", open[i]);
        resp_free(&r);
    }
    fx_stop();
}

Test(auth, read_only_refuses_mutations, .timeout = 60)
{
    fx_start_opts(spec_full, NULL, true);
    struct resp r;
    post("/api/v1/sovereign/cutover/start", &r);
    expect_error(&r, 403, "read-only");
    resp_free(&r);
    post("/api/v1/deployments/" DEP "/jobs/install-flux/retry", &r);
    expect_error(&r, 403, "read-only");
    resp_free(&r);
    get("/api/v1/sovereign/cutover/status", &r);
    cr_expect_eq(r.status, 200);
    resp_free(&r);
    fx_stop();
}

Test(auth, cutover_without_steps_is_424, .timeout = 60)
{
    fx_start_opts(spec_no_steps, NULL, false);
    struct resp r;
    post("/api/v1/sovereign/cutover/start", &r);
    expect_error(&r, 424, "no-steps-found");
    resp_free(&r);
    fx_stop();
}

/*
 * A FIFO as the token file is refused at once: reading it would hold the
 * start until someone writes. (The token fd's close-on-exec comes from
 * util_open_regular, checked in test_util.)
 */
Test(auth, token_file_fifo_is_refused_without_blocking, .timeout = 60)
{
    fx_start();
    char path[64];
    snprintf(path, sizeof(path), "/tmp/ctui-fifo-%d", (int)getpid());
    unlink(path);
    cr_assert_eq(mkfifo(path, 0600), 0);
    struct server_options o = {.listen = "127.0.0.1:0", .token_file = path};
    struct error err;
    error_clear(&err);
    int64_t t0 = mono_ms();
    struct server *srv = server_start(fx.src, fx.e, &o, &err);
    int64_t took = mono_ms() - t0;
    unlink(path);
    cr_expect_null(srv);
    if (srv)
        server_stop(srv);
    cr_expect_eq(err.code, EXIT_USAGE);
    cr_expect(strstr(err.msg, "not a regular file"), "%s", err.msg);
    cr_expect_lt(took, 2000);
    fx_stop();
}

Test(auth, bad_listen_and_token_file_are_usage_errors)
{
    struct error err;
    error_clear(&err);
    struct server_options o = {.listen = "127.0.0.1:notaport"};
    cr_expect_null(server_start(NULL, NULL, &o, &err));
    cr_expect_eq(err.code, EXIT_USAGE);
    struct server_options o2 = {.listen = "127.0.0.1:0", .token_file = "/nonexistent/tok"};
    error_clear(&err);
    cr_expect_null(server_start(NULL, NULL, &o2, &err));
    cr_expect_eq(err.code, EXIT_USAGE);
    cr_expect(strstr(err.msg, "/nonexistent/tok"));
}

Test(server, sse_logs_live_until_done, .timeout = 60)
{
    /* Opened while the run is in progress: live frames, then `done`, then close. */
    struct resp r;
    get("/api/v1/deployments/" DEP "/logs", &r);
    cr_assert_eq(r.status, 200);
    const char *done = strstr(r.body.buf, "event: done\ndata: {");
    cr_assert_not_null(done, "%s", r.body.buf);
    cr_expect(strstr(r.body.buf, "\"state\":\"failed\"") < done, "the failure precedes done");
    cr_expect(strstr(r.body.buf, "\"phase\":\"deployment\""));
    resp_free(&r);
}

struct bg_get {
    const char *path;
    long status;
    CURLcode rc;
    struct strbuf body;
    int64_t ended;
};

static void *bg_get_main(void *arg)
{
    struct bg_get *g = arg;
    char url[256];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", fx.port, g->path);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &g->body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    g->rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &g->status);
    curl_easy_cleanup(c);
    g->ended = mono_ms();
    return NULL;
}

Test(server, stop_is_graceful_and_closes_streams, .timeout = 60)
{
    /* An idle cutover stream stays open until the server stops. */
    struct bg_get g = {.path = "/api/v1/sovereign/cutover/events"};
    sb_init(&g.body);
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, bg_get_main, &g), 0);
    sleep_ms(500);
    cr_assert_eq(g.ended, 0, "the stream is still open");
    int64_t t0 = mono_ms();
    server_stop(fx.srv);
    fx.srv = NULL;
    pthread_join(t, NULL);
    cr_expect_lt(mono_ms() - t0, 5000, "stop does not wait for streams");
    cr_expect_eq(g.rc, CURLE_OK, "the stream ended cleanly: %s", curl_easy_strerror(g.rc));
    cr_expect_eq(g.status, 200);
    cr_expect(g.body.buf && strstr(g.body.buf, "event: cutover-status\n"));
    sb_fini(&g.body);

    /* Nothing listens any more. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)fx.port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    cr_expect_neq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    close(fd);
}

/* A raw connection to the fixture's port. */
static int raw_connect(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)fx.port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

/* Reads and drops until the server closes fd; true when that happens within ms. */
static bool closed_within(int fd, int ms)
{
    int64_t deadline = mono_ms() + ms;
    char buf[4096];
    while (mono_ms() < deadline) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0)
            continue;
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n <= 0)
            return true;
    }
    return false;
}

/* One /healthz over libcurl; its status (0: no answer) and how long it took. */
static long timed_healthz(int64_t *ms)
{
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/healthz", fx.port);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 5L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    struct strbuf sink;
    sb_init(&sink);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
    int64_t t0 = mono_ms();
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    *ms = mono_ms() - t0;
    curl_easy_cleanup(c);
    sb_fini(&sink);
    return status;
}

/* At the limit, the oldest connection still waiting for its request makes room. */
Test(auth, connection_limit_evicts_the_oldest_idle, .timeout = 60)
{
    fx_max_connections = 8;
    fx_start_opts(spec_full, NULL, false);
    int fds[8];
    for (int i = 0; i < 8; i++) {
        fds[i] = raw_connect();
        sleep_ms(20); /* accepted in this order */
    }
    sleep_ms(200);
    int64_t ms;
    cr_expect_eq(timed_healthz(&ms), 200, "a 9th client is served while 8 idle ones are open");
    cr_expect_lt(ms, 2000);
    cr_expect(closed_within(fds[0], 2000), "the oldest idle connection was dropped");
    for (int i = 0; i < 8; i++)
        close(fds[i]);
    fx_stop();
    fx_max_connections = 0;
}

/* Slowloris: a byte now and then keeps libmicrohttpd's idle timer happy, not our deadline. */
Test(auth, whole_request_deadline, .timeout = 60)
{
    fx_extra.request_timeout_s = 1;
    fx_start_opts(spec_full, NULL, false);
    int fd = raw_connect();
    const char *head = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
    cr_assert_eq(write(fd, head, strlen(head)), (ssize_t)strlen(head));
    int64_t t0 = mono_ms();
    bool closed = false;
    while (!closed && mono_ms() - t0 < 5000) {
        if (write(fd, "a", 1) != 1)
            break;
        closed = closed_within(fd, 300);
    }
    int64_t took = mono_ms() - t0;
    cr_expect(closed, "a trickling request is cut off");
    cr_expect_lt(took, 3000, "cut off after ~1 s, took %lld ms", (long long)took);
    close(fd);
    /* A complete request on a fresh connection is unaffected. */
    struct resp r;
    get("/healthz", &r);
    cr_expect_eq(r.status, 200);
    resp_free(&r);
    fx_stop();
    memset(&fx_extra, 0, sizeof(fx_extra));
}

/* Streams never take the reserve: past their cap the oldest gives way to a new one. */
Test(auth, streams_leave_a_reserve, .timeout = 60)
{
    fx_max_connections = 8; /* 6 streams at most, 2 slots reserved */
    fx_start_opts(spec_full, NULL, false);
    enum { N = 7 };
    int fds[N];
    const char *req = "GET /api/v1/sovereign/cutover/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    for (int i = 0; i < N; i++) {
        fds[i] = raw_connect();
        cr_assert_eq(write(fds[i], req, strlen(req)), (ssize_t)strlen(req));
        sleep_ms(100);
    }
    cr_expect(closed_within(fds[0], 3000), "the oldest stream gave way to the 7th");
    int64_t ms;
    cr_expect_eq(timed_healthz(&ms), 200, "the reserve still serves requests");
    cr_expect_lt(ms, 2000);
    for (int i = 0; i < N; i++)
        close(fds[i]);
    fx_stop();
    fx_max_connections = 0;
}

/* A spec whose finished run leaves a long event log (~200 jobs with log lines). */
static char *chatty_spec(void)
{
    struct strbuf sb;
    sb_init(&sb);
    sb_puts(&sb, "sovereign: {name: chatty, fqdn: chatty.example.org, provider: hetzner,\n"
                 "            regions: [fsn1], deploymentId: " DEP "}\n"
                 "groups:\n  - name: provisioner\n    jobs:\n");
    for (int i = 0; i < 200; i++) {
        sb_printf(&sb, "      - {name: job-%03d, simulate: {duration: 100ms, logs: [", i);
        for (int l = 0; l < 8; l++)
            sb_printf(&sb, "%s\"line %d of job %d, padded so that the log has some bulk\"",
                      l ? ", " : "", l, i);
        sb_puts(&sb, "]}}\n");
    }
    cr_assert_not(sb.oom);
    return sb_take(&sb);
}

/* A stream client that stops reading is dropped once its bounded buffers are full. */
Test(auth, stalled_stream_is_dropped, .timeout = 60)
{
    char *yaml = chatty_spec();
    fx_extra.stream_stall_s = 1;
    fx_start_opts(yaml, NULL, false);
    wait_deployment(NULL);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0);
    int small = 2048;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)fx.port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    const char *req = "GET /api/v1/deployments/" DEP "/logs HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    cr_assert_eq(write(fd, req, strlen(req)), (ssize_t)strlen(req));
    sleep_ms(3000); /* not reading: the server's send buffer fills and stays full */
    struct strbuf got;
    sb_init(&got);
    char buf[8192];
    bool eof = false;
    int64_t deadline = mono_ms() + 10000;
    while (!eof && mono_ms() < deadline) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0)
            continue;
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n <= 0)
            eof = true;
        else
            sb_append(&got, buf, (size_t)n);
    }
    close(fd);
    cr_expect(eof, "the server closed the stream");
    cr_expect(got.len > 1000, "the stream had started (%zu bytes)", got.len);
    cr_expect_null(got.buf ? strstr(got.buf, "event: done\n") : NULL,
                   "dropped before the end: the stream never got to `done`");
    sb_fini(&got);
    /* A reading client gets the whole stream. */
    struct resp r;
    get("/api/v1/deployments/" DEP "/logs", &r);
    cr_expect(strstr(r.body.buf, "event: done\n"), "a reader gets to done");
    cr_expect_gt(r.body.len, 100000, "the whole log is long: %zu bytes", r.body.len);
    resp_free(&r);
    fx_stop();
    free(yaml);
    memset(&fx_extra, 0, sizeof(fx_extra));
}

/* The cutover state as GET status reports it. */
static struct cutover_status cutover_now(struct arena *a)
{
    struct resp r;
    struct error err;
    struct cutover_status cs;
    get("/api/v1/sovereign/cutover/status", &r);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(wire_decode_cutover_status(r.body.buf, r.body.len, a, &cs, &err), 0);
    resp_free(&r);
    return cs;
}

/* The reported attack: a web page POSTing text/plain cross-site to a plain `serve`. */
Test(server, cross_site_mutations_refused)
{
    struct arena *a = arena_new();
    struct resp r;
    char host[64];
    snprintf(host, sizeof(host), "Host: evil.example:%d", fx.port);
    const char *attack[] = {"Origin: https://evil.example", "Content-Type: text/plain", host,
                            NULL};
    http("POST", "/api/v1/sovereign/cutover/start", attack, NULL, 0, &r);
    expect_error(&r, 421, "misdirected-request");
    resp_free(&r);
    const char *origin[] = {"Origin: https://evil.example", "Content-Type: application/json",
                            NULL};
    http("POST", "/api/v1/sovereign/cutover/start", origin, "{}", 2, &r);
    expect_error(&r, 403, "cross-site-request");
    resp_free(&r);
    const char *null_origin[] = {"Origin: null", "Content-Type: application/json", NULL};
    http("POST", "/api/v1/sovereign/cutover/start", null_origin, NULL, 0, &r);
    expect_error(&r, 403, "cross-site-request");
    resp_free(&r);
    /* Another port on the same name is another origin (another local web app). */
    const char *port[] = {"Origin: http://127.0.0.1:1", "Content-Type: application/json", NULL};
    http("POST", "/api/v1/sovereign/cutover/start", port, NULL, 0, &r);
    expect_error(&r, 403, "cross-site-request");
    resp_free(&r);
    const char *fetch[] = {"Sec-Fetch-Site: cross-site", "Content-Type: application/json", NULL};
    http("POST", "/api/v1/sovereign/cutover/start", fetch, NULL, 0, &r);
    expect_error(&r, 403, "cross-site-request");
    resp_free(&r);
    const char *sibling[] = {"Sec-Fetch-Site: same-site", "Content-Type: application/json",
                             NULL};
    http("POST", "/api/v1/deployments/" DEP "/jobs/install-flux/retry", sibling, NULL, 0, &r);
    expect_error(&r, 403, "cross-site-request");
    resp_free(&r);
    const char *text[] = {"Content-Type: text/plain", NULL};
    http("POST", "/api/v1/sovereign/cutover/start", text, "{}", 2, &r);
    expect_error(&r, 415, "unsupported-media-type");
    resp_free(&r);
    const char *form[] = {"Content-Type: application/jsonx", NULL};
    http("POST", "/api/v1/deployments/" DEP "/jobs/install-flux/retry", form, NULL, 0, &r);
    expect_error(&r, 415, "unsupported-media-type");
    resp_free(&r);
    const char *none[] = {"Content-Type:", NULL}; /* curl: send no Content-Type at all */
    http("POST", "/api/v1/sovereign/cutover/start", none, NULL, 0, &r);
    expect_error(&r, 415, "unsupported-media-type");
    resp_free(&r);

    struct cutover_status cs = cutover_now(a);
    cr_expect_eq(cs.started_at, 0, "no refused request started the cutover");
    cr_expect_eq(cs.state, SOV_TETHERED);

    /* The console's own page: same origin, fetch metadata, JSON with a charset. */
    char self[64];
    snprintf(self, sizeof(self), "Origin: http://127.0.0.1:%d", fx.port);
    const char *same[] = {self, "Sec-Fetch-Site: same-origin",
                          "Content-Type: application/json; charset=utf-8", NULL};
    http("POST", "/api/v1/sovereign/cutover/start", same, "{\"force\":true}", 14, &r);
    cr_expect_eq(r.status, 200, "same origin: %ld %s", r.status, r.body.buf);
    resp_free(&r);
    cs = cutover_now(a);
    cr_expect_gt(cs.started_at, 0, "the same-origin start went through");
    arena_free(a);
}

Test(server, foreign_host_refused_on_every_route)
{
    struct resp r;
    const char *routes_[] = {"/healthz", "/api/v1/deployments", "/api/v1/deployments/" DEP
                             "/logs", "/api/v1/actions/executions/x/logs", "/nope"};
    const char *evil[] = {"Host: rebind.evil.example", NULL};
    for (size_t i = 0; i < sizeof(routes_) / sizeof(routes_[0]); i++) {
        http("GET", routes_[i], evil, NULL, 0, &r);
        expect_error(&r, 421, "misdirected-request");
        cr_expect_null(strstr(r.body.buf, DEP), "nothing of the state leaks");
        resp_free(&r);
    }
    const char *ok[] = {"Host: localhost:1", "Host: 127.0.0.2", "Host: [::1]:80",
                        "Host: console.localhost", "Host: LOCALHOST."};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        const char *h[] = {ok[i], NULL};
        http("GET", "/api/v1/deployments", h, NULL, 0, &r);
        cr_expect_eq(r.status, 200, "%s: %ld", ok[i], r.status);
        resp_free(&r);
    }
    /* HTTP/1.0 without Host: no browser sends that, so no rebinding. */
    cr_expect_eq(raw_status("GET /healthz HTTP/1.0\r\n\r\n"), 200);
}

Test(auth, allow_host_names_pass, .timeout = 60)
{
    static const char *const names[] = {"Box.Example.", "10.1.2.3"};
    fx_extra.allow_hosts = names;
    fx_extra.n_allow_hosts = 2;
    fx_start_opts(spec_full, NULL, false);
    struct resp r;
    char h1[64], o1[64];
    snprintf(h1, sizeof(h1), "Host: box.example:%d", fx.port);
    const char *hs[] = {h1, NULL};
    http("GET", "/api/v1/deployments", hs, NULL, 0, &r);
    cr_expect_eq(r.status, 200, "--allow-host name: %ld", r.status);
    resp_free(&r);
    const char *ip[] = {"Host: 10.1.2.3:9", NULL};
    http("GET", "/api/v1/sovereign/status", ip, NULL, 0, &r);
    cr_expect_eq(r.status, 200);
    resp_free(&r);
    const char *other[] = {"Host: box.example.evil", NULL};
    http("GET", "/api/v1/deployments", other, NULL, 0, &r);
    expect_error(&r, 421, "misdirected-request");
    resp_free(&r);
    /* A page served under the allowed name may mutate (a proxy in front of us). */
    snprintf(o1, sizeof(o1), "Origin: https://box.example");
    const char *proxied[] = {o1, "Content-Type: application/json", NULL};
    http("POST", "/api/v1/sovereign/cutover/start", proxied, "{\"force\":true}", 14, &r);
    cr_expect_eq(r.status, 200, "%ld %s", r.status, r.body.buf);
    resp_free(&r);
    fx_stop();
    memset(&fx_extra, 0, sizeof(fx_extra));
}

Test(auth, allow_host_rejects_a_port)
{
    static const char *const names[] = {"box.example:80"};
    struct server_options o = {.listen = "127.0.0.1:0", .allow_hosts = names,
                               .n_allow_hosts = 1};
    struct error err;
    error_clear(&err);
    cr_expect_null(server_start(NULL, NULL, &o, &err));
    cr_expect_eq(err.code, EXIT_USAGE);
    cr_expect(strstr(err.msg, "--allow-host"));
}

Test(auth, non_loopback_needs_a_token_or_insecure_no_auth)
{
    struct error err;
    bool exposed = true;
    const char *loop[] = {"127.0.0.1:0", "[::1]:0", "localhost:0", ":0", "127.9.9.9:0"};
    for (size_t i = 0; i < sizeof(loop) / sizeof(loop[0]); i++) {
        struct server_options o = {.listen = loop[i]};
        error_clear(&err);
        cr_expect_eq(server_check_options(&o, &exposed, &err), 0, "%s: %s", loop[i], err.msg);
        cr_expect_not(exposed, "%s is loopback", loop[i]);
    }
    struct server_options wide = {.listen = "0.0.0.0:0"};
    error_clear(&err);
    cr_expect_eq(server_check_options(&wide, &exposed, &err), -1);
    cr_expect_eq(err.code, EXIT_USAGE);
    cr_expect(strstr(err.msg, "--token-file") && strstr(err.msg, "--insecure-no-auth"));
    error_clear(&err);
    cr_expect_null(server_start(NULL, NULL, &wide, &err), "server_start applies it too");
    cr_expect_eq(err.code, EXIT_USAGE);
    wide.insecure_no_auth = true;
    error_clear(&err);
    cr_expect_eq(server_check_options(&wide, &exposed, &err), 0);
    cr_expect(exposed);
    struct server_options tok = {.listen = "[::]:0", .token_file = "/some/file"};
    error_clear(&err);
    cr_expect_eq(server_check_options(&tok, &exposed, &err), 0);
    cr_expect(exposed);
}

/* A Unix-socket peer is no browser: any Host passes; the mutation checks still apply. */
Test(auth, unix_socket_peers_skip_the_host_check, .timeout = 60)
{
    fx_start();
    char dir[] = "/tmp/ctui-unix-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char path[96];
    snprintf(path, sizeof(path), "%s/catalyst.sock", dir);
    struct server_options o = {.unix_path = path, .max_connections = 16};
    struct error err;
    error_clear(&err);
    cr_assert_eq(server_check_options(&o, NULL, &err), 0, "the listen check leaves sockets be");
    struct server *us = server_start(fx.src, fx.e, &o, &err);
    cr_assert_not_null(us, "%s", err.msg);
    const char *paths[] = {"/api/v1/deployments", "/api/v1/sovereign/cutover/start"};
    const char *hdrs[][3] = {{"Host: rebind.evil.example", NULL, NULL},
                             {"Host: rebind.evil.example", "Content-Type: text/plain", NULL}};
    long want[] = {200, 415};
    for (int i = 0; i < 2; i++) {
        CURL *c = curl_easy_init();
        char url[128];
        snprintf(url, sizeof(url), "http://localhost%s", paths[i]);
        struct curl_slist *hl = NULL;
        for (int k = 0; hdrs[i][k]; k++)
            hl = curl_slist_append(hl, hdrs[i][k]);
        struct strbuf sink;
        sb_init(&sink);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, path);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
        if (i == 1)
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, "{}");
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
        curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        cr_expect_eq(curl_easy_perform(c), CURLE_OK);
        long st = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
        cr_expect_eq(st, want[i], "%s over the socket: %ld %s", paths[i], st,
                     sink.buf ? sink.buf : "");
        sb_fini(&sink);
        curl_slist_free_all(hl);
        curl_easy_cleanup(c);
    }
    server_stop(us);
    rmdir(dir);
    fx_stop();
}

/* The socketless entry runs the same checks and handlers (tests and fuzzing use it). */
Test(server, handle_without_sockets)
{
    char *body = NULL;
    size_t len = 0;
    const struct server_header local[] = {{"Host", "localhost"}};
    int st = server_handle(fx.srv, "GET", "/api/v1/deployments", local, 1, NULL, 0, &body,
                           &len);
    cr_expect_eq(st, 200);
    cr_expect(body && strstr(body, DEP), "%s", body ? body : "(null)");
    cr_expect_eq(len, body ? strlen(body) : 0);
    free(body);
    st = server_handle(fx.srv, "GET", "/api/v1/deployments/" DEP "/jobs?status=bo%67us", local,
                       1, NULL, 0, &body, &len);
    cr_expect_eq(st, 400);
    cr_expect(body && strstr(body, "invalid-status") && strstr(body, "bogus"));
    free(body);
    const struct server_header evil[] = {{"Host", "localhost"}, {"Origin", "http://evil"},
                                         {"Content-Type", "application/json"}};
    st = server_handle(fx.srv, "POST", "/api/v1/sovereign/cutover/start", evil, 3, "{}", 2,
                       &body, &len);
    cr_expect_eq(st, 403);
    cr_expect(body && strstr(body, "cross-site-request"));
    free(body);
    const struct server_header rebind[] = {{"Host", "evil.example"}};
    st = server_handle(fx.srv, "GET", "/healthz", rebind, 1, NULL, 0, &body, &len);
    cr_expect_eq(st, 421);
    free(body);
    st = server_handle(fx.srv, "GET", "/api/v1/sovereign/cutover/events", local, 1, NULL, 0,
                       &body, &len);
    cr_expect_eq(st, 200);
    cr_expect(body && strstr(body, "event: cutover-status\n"), "what the stream has now");
    free(body);
}
