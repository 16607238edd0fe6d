/*
 * test_server_preflight: the cutover preflight over the wire. The demo
 * Sovereign served at --speed 1 over loopback: a start two seconds in is
 * answered 425 with the failing checks and starts nothing; {"force":true}
 * starts it; malformed bodies are refused; GET .../cutover/preflight lists
 * the checks; and the remote source (the console against a server) sends the
 * force flag and shows the server's checks. Each test starts and stops its
 * own server on an ephemeral port.
 */
#include <criterion/criterion.h>

#include "arena.h"
#include "engine.h"
#include "remote.h"
#include "server.h"
#include "source_local.h"
#include "spec.h"
#include "wire.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

struct fx {
    struct spec *spec;
    struct engine *e;
    struct source *src;
    struct server *srv;
    int port;
};

static struct fx fx;

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void fx_start(void)
{
    struct error err;
    error_clear(&err);
    memset(&fx, 0, sizeof(fx));
    fx.spec = spec_load_demo(&err);
    cr_assert_not_null(fx.spec, "demo: %s", err.msg);
    struct engine_config cfg = {.workers = 4, .speed = 1, .mode = "serve"};
    fx.e = engine_new(fx.spec, &cfg, &err);
    cr_assert_not_null(fx.e, "engine: %s", err.msg);
    cr_assert_eq(engine_start(fx.e, &err), 0, "engine_start: %s", err.msg);
    fx.src = source_local_new(fx.e, NULL, NULL, &err);
    cr_assert_not_null(fx.src, "source: %s", err.msg);
    struct server_options o = {.listen = "127.0.0.1:0"};
    fx.srv = server_start(fx.src, fx.e, &o, &err);
    cr_assert_not_null(fx.srv, "server_start: %s", err.msg);
    fx.port = server_port(fx.srv);
    cr_assert_gt(fx.port, 0);
}

static void fx_stop(void)
{
    server_stop(fx.srv);
    source_free(fx.src);
    engine_stop(fx.e);
    engine_free(fx.e);
    spec_free(fx.spec);
}

struct resp {
    long status;
    struct strbuf body;
};

static size_t on_data(char *p, size_t sz, size_t n, void *ud)
{
    sb_append((struct strbuf *)ud, p, sz * n);
    return sz * n;
}

/* One request; body NULL sends none (POST with an empty body). */
static void http(const char *method, const char *path, const char *body, struct resp *r)
{
    memset(r, 0, sizeof(*r));
    sb_init(&r->body);
    char url[256];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", fx.port, path);
    CURL *c = curl_easy_init();
    cr_assert_not_null(c);
    struct curl_slist *hl = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)(body ? strlen(body) : 0));
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    }
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    CURLcode rc = curl_easy_perform(c);
    cr_assert_eq(rc, CURLE_OK, "%s %s: %s", method, path, curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    if (!r->body.buf)
        sb_puts(&r->body, "");
}

static void resp_free(struct resp *r) { sb_fini(&r->body); }

#define START "/api/v1/sovereign/cutover/start"

/* The checks array of a body, asserting its shape; the failing ids joined by ','. */
static void failing_ids(const cJSON *checks, char *out, size_t n)
{
    cr_assert(cJSON_IsArray(checks));
    cr_assert_eq(cJSON_GetArraySize(checks), 4);
    out[0] = '\0';
    const cJSON *c;
    cJSON_ArrayForEach(c, checks)
    {
        const cJSON *id = cJSON_GetObjectItem(c, "id");
        cr_assert(cJSON_IsString(id));
        cr_assert(cJSON_IsString(cJSON_GetObjectItem(c, "title")));
        cr_assert(cJSON_IsString(cJSON_GetObjectItem(c, "detail")));
        const cJSON *name = cJSON_GetObjectItem(c, "name");
        cr_assert(cJSON_IsString(name));
        cr_assert_str_eq(name->valuestring, id->valuestring, "name mirrors id (WIRE §11)");
        const cJSON *ok = cJSON_GetObjectItem(c, "ok");
        cr_assert(cJSON_IsBool(ok));
        if (!cJSON_IsTrue(ok))
            snprintf(out + strlen(out), n - strlen(out), "%s%s", *out ? "," : "",
                     id->valuestring);
    }
}

static void expect_not_started(void)
{
    struct resp r;
    http("GET", "/api/v1/sovereign/cutover/status", NULL, &r);
    cr_assert_eq(r.status, 200);
    struct arena *a = arena_new();
    struct cutover_status cs;
    struct error err;
    cr_assert_eq(wire_decode_cutover_status(r.body.buf, r.body.len, a, &cs, &err), 0, "%s",
                 err.msg);
    cr_assert_not(cs.running, "a refused start starts nothing");
    cr_assert_eq(cs.started_at, 0, "%s", r.body.buf);
    for (size_t k = 0; k < cs.n_steps; k++)
        cr_assert_eq(cs.steps[k].result, STEP_PENDING);
    arena_free(a);
    resp_free(&r);
}

Test(server_preflight, early_start_is_425_with_checks_then_forced, .timeout = 60)
{
    fx_start();
    sleep_ms(2000);
    struct resp r;
    http("POST", START, NULL, &r);
    cr_assert_eq(r.status, 425, "%s", r.body.buf);
    cJSON *root = cJSON_Parse(r.body.buf);
    cr_assert_not_null(root, "%s", r.body.buf);
    cr_assert_str_eq(cJSON_GetObjectItem(root, "error")->valuestring, "handover-incomplete");
    const char *detail = cJSON_GetObjectItem(root, "detail")->valuestring;
    cr_assert(strstr(detail, "3 of 4 preflight checks fail: Handover finished"), "%s", detail);
    char ids[256];
    failing_ids(cJSON_GetObjectItem(root, "checks"), ids, sizeof(ids));
    cr_assert_str_eq(ids, "handover-complete,jobs-succeeded,components-installed");
    cJSON_Delete(root);
    resp_free(&r);
    expect_not_started();

    /* The UI's "{}" and an explicit false are not overrides. */
    http("POST", START, "{}", &r);
    cr_assert_eq(r.status, 425);
    resp_free(&r);
    http("POST", START, "{\"force\":false}", &r);
    cr_assert_eq(r.status, 425);
    resp_free(&r);
    /* A query parameter is not accepted as one either. */
    http("POST", START "?force=true", NULL, &r);
    cr_assert_eq(r.status, 425);
    resp_free(&r);
    expect_not_started();

    http("GET", "/api/v1/sovereign/cutover/preflight", NULL, &r);
    cr_assert_eq(r.status, 200);
    root = cJSON_Parse(r.body.buf);
    cr_assert_not_null(root);
    cr_assert(cJSON_IsFalse(cJSON_GetObjectItem(root, "ready")));
    failing_ids(cJSON_GetObjectItem(root, "checks"), ids, sizeof(ids));
    cr_assert(strstr(ids, "jobs-succeeded"), "%s", ids);
    cJSON_Delete(root);
    resp_free(&r);

    http("POST", START, "{\"force\":true}", &r);
    cr_assert_eq(r.status, 200, "%s", r.body.buf);
    struct arena *a = arena_new();
    struct cutover_status cs;
    struct error err;
    cr_assert_eq(wire_decode_cutover_status(r.body.buf, r.body.len, a, &cs, &err), 0);
    cr_assert_gt(cs.started_at, 0, "the forced start began the run");
    arena_free(a);
    resp_free(&r);
    http("POST", START, "{\"force\":true}", &r);
    cr_assert_eq(r.status, 409, "%s", r.body.buf);
    resp_free(&r);
    fx_stop();
}

Test(server_preflight, malformed_bodies_are_refused, .timeout = 60)
{
    fx_start();
    const char *bad[] = {"{\"force\":\"yes\"}", "{\"force\":1}", "not json", "[true]",
                         "{\"force\":true"};
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        struct resp r;
        http("POST", START, bad[k], &r);
        cr_assert_eq(r.status, 400, "%s: %ld %s", bad[k], r.status, r.body.buf);
        cr_assert(strstr(r.body.buf, "\"invalid-body\""), "%s", r.body.buf);
        resp_free(&r);
    }
    char big[1400];
    snprintf(big, sizeof(big), "{\"force\":true,\"pad\":\"%01200d\"}", 0);
    struct resp r;
    http("POST", START, big, &r);
    cr_assert_eq(r.status, 400, "over 1 KiB: %ld", r.status);
    resp_free(&r);
    expect_not_started();
    /* Whitespace only is an empty body. */
    http("POST", START, " \n", &r);
    cr_assert_eq(r.status, 425);
    resp_free(&r);
    fx_stop();
}

/* ---------------------------------------------------------------- remote source */

static struct snapshot *wait_action(struct source *src, uint64_t seq)
{
    for (int i = 0; i < 200; i++) {
        struct snapshot *s = source_snapshot(src);
        if (s && s->last_action.seq == seq)
            return s;
        snapshot_release(s);
        sleep_ms(50);
    }
    cr_assert_fail("no answer to action %llu", (unsigned long long)seq);
    return NULL;
}

Test(server_preflight, remote_source_shows_server_checks_and_forces, .timeout = 60)
{
    fx_start();
    char api[64];
    snprintf(api, sizeof(api), "http://127.0.0.1:%d/api/v1", fx.port);
    struct remote_options o = {.api = api, .refresh_s = 0.2};
    struct error err;
    struct source *src = source_remote_new(&o, &err);
    cr_assert_not_null(src, "%s", err.msg);
    cr_assert_eq(source_remote_wait_first(src, 10000, &err), EXIT_OK, "%s", err.msg);

    uint64_t seq = source_act(src, ACTION_CUTOVER_START, NULL);
    struct snapshot *s = wait_action(src, seq);
    cr_assert_eq(s->last_action.code, 425);
    cr_assert_str_eq(s->last_action.error, "handover-incomplete");
    cr_assert(strstr(s->last_action.message, "too early: 3 of 4 preflight checks fail"), "%s",
              s->last_action.message);
    cr_assert_eq(s->last_action.n_checks, 4);
    cr_assert_str_eq(s->last_action.checks[0].id, "handover-complete");
    cr_assert_str_eq(s->last_action.checks[0].title, "Handover finished");
    cr_assert_not(s->last_action.checks[0].ok);
    cr_assert(s->last_action.checks[3].ok);
    snapshot_release(s);
    expect_not_started();

    seq = source_act(src, ACTION_CUTOVER_START_FORCE, NULL);
    s = wait_action(src, seq);
    cr_assert_eq(s->last_action.code, 200, "%s", s->last_action.message);
    cr_assert_eq(s->last_action.n_checks, 0);
    snapshot_release(s);
    struct snapshot *l = snapshot_new();
    cr_assert_eq(engine_fill_snapshot(fx.e, l, NULL), 0);
    cr_assert_gt(l->cutover.started_at, 0, "the forced start reached the engine");
    snapshot_release(l);
    source_free(src);
    fx_stop();
}
