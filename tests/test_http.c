/* test_http: the libcurl client against the scripted fixture server. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* mkstemp/mkdtemp template tail, spelled so it reads as no marker. */
#define MKSTEMP_SUFFIX "XX" "XXXX"

#include "helpers/fixture_server.h"
#include "http.h"

#define TOKEN "eyJhbGciOiJSUzI1NiJ9.c2VjcmV0LXRva2Vu.c2ln"

static struct http_client *client(struct fx_server *s, const char *token, long timeout_ms)
{
    struct http_options o = {.base_url = fx_base(s), .token = token, .timeout_ms = timeout_ms,
                             .connect_timeout_ms = 2000};
    struct error err;
    struct http_client *c = http_client_new(&o, &err);
    cr_assert_not_null(c, "%s", err.msg);
    return c;
}

Test(http, get_ok_with_bearer_and_user_agent)
{
    struct fx_server *s = fx_start();
    cr_assert_not_null(s);
    fx_json(s, "GET", "/api/v1/sovereign/self", 200,
            "{\"deploymentId\":\"3f9a1c7e52b04d8a\",\"sovereignFQDN\":\"a.b\"}\n");
    struct http_client *c = client(s, TOKEN, 5000);
    struct http_response r;
    struct error err;
    cr_assert_eq(http_get(c, "/sovereign/self", &r, &err), 0, "%s", err.msg);
    cr_assert_eq(r.status, 200);
    cr_assert(strstr(r.body, "3f9a1c7e52b04d8a") != NULL);
    cr_assert_eq(r.len, strlen(r.body));
    cr_assert_str_eq(r.content_type, "application/json");
    char h[512];
    cr_assert_str_eq(fx_last_header(s, "Authorization", h, sizeof(h)), "Bearer " TOKEN);
    cr_assert(strncmp(fx_last_header(s, "User-Agent", h, sizeof(h)), "catalyst-tui", 12) == 0);
    http_response_fini(&r);
    http_client_free(c);
    fx_stop(s);
}

Test(http, trailing_slash_in_base_and_post_body)
{
    struct fx_server *s = fx_start();
    fx_json(s, "POST", "/api/v1/sovereign/cutover/start", 200, "{\"cutoverComplete\":false}\n");
    char base[128];
    snprintf(base, sizeof(base), "%s//", fx_base(s));
    struct http_options o = {.base_url = base};
    struct error err;
    struct http_client *c = http_client_new(&o, &err);
    cr_assert_not_null(c);
    cr_assert_str_eq(http_client_base(c), fx_base(s));
    struct http_response r;
    cr_assert_eq(http_request(c, "POST", "/sovereign/cutover/start", "{}", &r, &err), 0, "%s",
                 err.msg);
    cr_assert_eq(fx_hits(s, "POST", "/api/v1/sovereign/cutover/start"), 1);
    char h[128];
    cr_assert_str_eq(fx_last_header(s, "Content-Length", h, sizeof(h)), "2");
    http_response_fini(&r);
    http_client_free(c);
    fx_stop(s);
}

Test(http, etag_304_reuses_cached_body)
{
    struct fx_server *s = fx_start();
    struct fx_route rt = {.method = "GET", .path = "/api/v1/deployments/x/jobs",
                          .body = "{\"jobs\":[]}\n", .etag = "\"v1\""};
    fx_set(s, &rt);
    struct http_client *c = client(s, NULL, 5000);
    struct http_response r;
    struct error err;
    cr_assert_eq(http_get(c, "/deployments/x/jobs", &r, &err), 0);
    cr_assert_not(r.not_modified);
    http_response_fini(&r);
    size_t before = http_bytes_received(c);
    cr_assert_eq(http_get(c, "/deployments/x/jobs", &r, &err), 0, "%s", err.msg);
    cr_assert(r.not_modified);
    cr_assert_eq(r.status, 304);
    cr_assert_str_eq(r.body, "{\"jobs\":[]}\n");
    char h[128];
    cr_assert_str_eq(fx_last_header(s, "If-None-Match", h, sizeof(h)), "\"v1\"");
    cr_assert_lt(http_bytes_received(c) - before, 300u);
    http_response_fini(&r);
    http_client_free(c);
    fx_stop(s);
}

Test(http, status_401_is_auth_and_token_never_in_error)
{
    struct fx_server *s = fx_start();
    fx_json(s, "GET", "/api/v1/deployments", 401, "{\"error\":\"unauthenticated\"}\n");
    struct http_client *c = client(s, TOKEN, 5000);
    struct http_response r;
    struct error err;
    cr_assert_eq(http_get(c, "/deployments", &r, &err), -1);
    cr_assert_eq(r.status, 401);
    cr_assert_eq(err.code, EXIT_AUTH);
    cr_assert(strstr(err.msg, "401") != NULL, "%s", err.msg);
    cr_assert(strstr(err.msg, "unauthenticated") != NULL, "%s", err.msg);
    cr_assert_null(strstr(err.msg, "c2VjcmV0"), "%s", err.msg);
    http_response_fini(&r);
    http_client_free(c);
    fx_stop(s);
}

Test(http, plain_text_404_and_json_503_messages)
{
    struct fx_server *s = fx_start();
    fx_text(s, "GET", "/api/v1/deployments/nope", 404, "deployment not found\n");
    fx_json(s, "GET", "/api/v1/deployments/x/jobs", 503,
            "{\"error\":\"jobs-store-unavailable\",\"detail\":\"persistence disabled\"}\n");
    struct http_client *c = client(s, NULL, 5000);
    struct http_response r;
    struct error err;
    cr_assert_eq(http_get(c, "/deployments/nope", &r, &err), -1);
    cr_assert_eq(r.status, 404);
    cr_assert_eq(err.code, EXIT_API);
    cr_assert(strstr(err.msg, "GET /deployments/nope: HTTP 404") == err.msg, "%s", err.msg);
    cr_assert(strstr(err.msg, "deployment not found") != NULL, "%s", err.msg);
    http_response_fini(&r);
    cr_assert_eq(http_get(c, "/deployments/x/jobs", &r, &err), -1);
    cr_assert_str_eq(err.msg,
                     "GET /deployments/x/jobs: HTTP 503 jobs-store-unavailable: "
                     "persistence disabled");
    http_response_fini(&r);
    http_client_free(c);
    fx_stop(s);
}

Test(http, never_answering_server_times_out)
{
    struct fx_server *s = fx_start();
    struct fx_route rt = {.method = "GET", .path = "/api/v1/deployments", .mode = FX_HANG};
    fx_set(s, &rt);
    struct http_client *c = client(s, TOKEN, 1500);
    struct http_response r;
    struct error err;
    cr_assert_eq(http_get(c, "/deployments", &r, &err), -1);
    cr_assert_eq(r.status, 0);
    cr_assert_eq(err.code, EXIT_API);
    cr_assert(strstr(err.msg, "could not reach the catalyst-api") == err.msg, "%s", err.msg);
    cr_assert_null(strstr(err.msg, "c2VjcmV0"));
    http_response_fini(&r);
    http_client_free(c);
    fx_stop(s);
}

Test(http, closed_mid_body_is_an_error)
{
    struct fx_server *s = fx_start();
    struct fx_route rt = {.method = "GET", .path = "/api/v1/deployments", .mode = FX_CLOSE_MID,
                          .body = "{\"deployments\":[{\"id\":\"aaaaaaaaaaaaaaaa\"}]}\n"};
    fx_set(s, &rt);
    struct http_client *c = client(s, NULL, 5000);
    struct http_response r;
    struct error err;
    cr_assert_eq(http_get(c, "/deployments", &r, &err), -1);
    cr_assert_eq(err.code, EXIT_API);
    cr_assert(strstr(err.msg, "could not reach the catalyst-api") != NULL, "%s", err.msg);
    http_response_fini(&r);
    http_client_free(c);
    fx_stop(s);
}

Test(http, refused_connection)
{
    struct fx_server *s = fx_start();
    char base[128];
    snprintf(base, sizeof(base), "%s", fx_base(s));
    fx_stop(s); /* the port is now closed */
    struct http_options o = {.base_url = base};
    struct error err;
    struct http_client *c = http_client_new(&o, &err);
    struct http_response r;
    cr_assert_eq(http_get(c, "/deployments", &r, &err), -1);
    cr_assert_eq(err.code, EXIT_API);
    cr_assert(strstr(err.msg, "could not reach the catalyst-api:") == err.msg, "%s", err.msg);
    http_response_fini(&r);
    http_client_free(c);
}

Test(http, ten_megabyte_body_and_cap)
{
    struct fx_server *s = fx_start();
    size_t n = 10u << 20;
    char *big = malloc(n);
    memset(big, 'a', n);
    big[0] = '"';
    big[n - 1] = '"';
    struct fx_route rt = {.method = "GET", .path = "/api/v1/big", .body = big, .body_len = n};
    fx_set(s, &rt);
    free(big);
    struct http_client *c = client(s, NULL, 10000);
    struct http_response r;
    struct error err;
    cr_assert_eq(http_get(c, "/big", &r, &err), 0, "%s", err.msg);
    cr_assert_eq(r.len, n);
    http_response_fini(&r);
    http_client_free(c);

    struct http_options o = {.base_url = fx_base(s), .max_body = 1u << 20};
    c = http_client_new(&o, &err);
    cr_assert_eq(http_get(c, "/big", &r, &err), -1);
    cr_assert(strstr(err.msg, "exceeds") != NULL, "%s", err.msg);
    http_response_fini(&r);
    http_client_free(c);
    fx_stop(s);
}

struct stream_ctx {
    size_t bytes;
    int stop_at;
};

static int on_bytes(void *ctx, const char *buf, size_t n)
{
    (void)buf;
    struct stream_ctx *sc = ctx;
    sc->bytes += n;
    return sc->stop_at && sc->bytes >= (size_t)sc->stop_at;
}

Test(http, stream_receives_and_can_end)
{
    struct fx_server *s = fx_start();
    struct fx_route rt = {.method = "GET", .path = "/api/v1/sse", .mode = FX_SSE_ENDLESS};
    fx_set(s, &rt);
    fx_json(s, "GET", "/api/v1/sse404", 404, "{\"error\":\"nope\"}\n");
    struct http_client *c = client(s, NULL, 1000);
    struct http_response r;
    struct error err;
    struct stream_ctx sc = {.stop_at = 100000};
    cr_assert_eq(http_stream(c, "/sse", 5, on_bytes, &sc, &r, &err), 0, "%s", err.msg);
    cr_assert_geq(sc.bytes, 100000u);
    http_response_fini(&r);
    sc.bytes = 0;
    cr_assert_eq(http_stream(c, "/sse404", 5, on_bytes, &sc, &r, &err), -1);
    cr_assert_eq(r.status, 404);
    cr_assert_eq(sc.bytes, 0u);
    http_response_fini(&r);
    http_client_free(c);
    fx_stop(s);
}

Test(http, read_secret_trims_and_rejects)
{
    char path[] = "/tmp/catalyst-http-secret-" MKSTEMP_SUFFIX;
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    const char *content = "  " TOKEN "\n\n";
    cr_assert_eq(write(fd, content, strlen(content)), (ssize_t)strlen(content));
    close(fd);
    char *sec = NULL;
    struct error err;
    cr_assert_eq(http_read_secret(path, &sec, &err), 0, "%s", err.msg);
    cr_assert_str_eq(sec, TOKEN);
    http_secret_free(sec);
    FILE *f = fopen(path, "w");
    fputs("abc\ndef\n", f);
    fclose(f);
    cr_assert_eq(http_read_secret(path, &sec, &err), -1);
    cr_assert_eq(err.code, EXIT_USAGE);
    cr_assert_null(strstr(err.msg, "abc"));
    unlink(path);
    cr_assert_eq(http_read_secret(path, &sec, &err), -1);
    cr_assert(strstr(err.msg, path) != NULL);
}

/* Token and session files: a FIFO (no writer) or a dir fails at once; a symlink is followed. */
Test(http, read_secret_refuses_fifo_and_directory, .timeout = 10)
{
    char dir[] = "/tmp/catalyst-http-dir-" MKSTEMP_SUFFIX;
    cr_assert_not_null(mkdtemp(dir));
    char fifo[96], file[96], link[96];
    snprintf(fifo, sizeof(fifo), "%s/token", dir);
    snprintf(file, sizeof(file), "%s/real", dir);
    snprintf(link, sizeof(link), "%s/link", dir);
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    char *sec = NULL;
    struct error err;
    error_clear(&err);
    cr_expect_eq(http_read_secret(fifo, &sec, &err), -1);
    cr_expect_eq(err.code, EXIT_USAGE);
    cr_expect(strstr(err.msg, "is a FIFO, not a regular file"), "%s", err.msg);
    error_clear(&err);
    cr_expect_eq(http_read_secret(dir, &sec, &err), -1);
    cr_expect(strstr(err.msg, "is a directory"), "%s", err.msg);
    FILE *f = fopen(file, "w");
    cr_assert_not_null(f);
    fputs(TOKEN "\n", f);
    fclose(f);
    cr_assert_eq(symlink(file, link), 0);
    cr_expect_eq(http_read_secret(link, &sec, &err), 0, "%s", err.msg);
    cr_expect_str_eq(sec, TOKEN);
    http_secret_free(sec);
    unlink(link);
    unlink(file);
    unlink(fifo);
    rmdir(dir);
}

Test(http, path_escape_keeps_colon)
{
    struct strbuf sb;
    sb_init(&sb);
    http_path_escape(&sb, "3f9a:install-hel1-2:cilium x/y");
    cr_assert_str_eq(sb.buf, "3f9a:install-hel1-2:cilium%20x%2Fy");
    sb_fini(&sb);
}

Test(http, session_cookie_sent_and_kept_out_of_errors)
{
    struct fx_server *s = fx_start();
    fx_json(s, "GET", "/api/v1/whoami", 401, "{\"error\":\"unauthenticated\"}\n");
    struct http_options o = {.base_url = fx_base(s), .session = "jwt.part.sig-SESSIONSECRET"};
    struct error err;
    struct http_client *c = http_client_new(&o, &err);
    cr_assert_not_null(c);
    struct http_response r;
    cr_assert_eq(http_get(c, "/whoami", &r, &err), -1);
    cr_assert_eq(err.code, EXIT_AUTH);
    char h[256];
    cr_assert_str_eq(fx_last_header(s, "Cookie", h, sizeof(h)),
                     "catalyst_session=jwt.part.sig-SESSIONSECRET");
    cr_assert_str_eq(fx_last_header(s, "Authorization", h, sizeof(h)), "");
    cr_assert_null(strstr(err.msg, "SESSIONSECRET"));
    http_response_fini(&r);
    http_client_free(c);
    fx_stop(s);
}
