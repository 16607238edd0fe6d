/*
 * Tests for attaching to a running standalone engine: the wire served on a
 * Unix socket (server unix_path, mode 0600, removed at stop), the HTTP client
 * and the remote source reading it over that socket, and the state dir lock's
 * holder pid (discovery, probe, and the refusal that names it). Each test makes
 * its own temporary dir and starts and stops its own server.
 */
#include <criterion/criterion.h>

#include "engine.h"
#include "http.h"
#include "remote.h"
#include "server.h"
#include "source_local.h"
#include "spec.h"
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DEP "00000000000000a7"

static const char spec_yaml[] =
    "sovereign: {name: attachsov, fqdn: attach.example.org, provider: hetzner,\n"
    "            regions: [fsn1], deploymentId: " DEP "}\n"
    "groups:\n"
    "  - name: provisioner\n"
    "    jobs:\n"
    "      - {name: first, simulate: {duration: 1s}}\n"
    "      - {name: second, dependsOn: [first], simulate: {duration: 1s}}\n";

struct fx {
    char dir[64];
    char sock[128];
    struct spec *spec;
    struct engine *e;
    struct source *src;
    struct server *srv;
};

static struct fx fx;

static void make_dir(void)
{
    snprintf(fx.dir, sizeof(fx.dir), "/tmp/ctui-attach-XXXXXX");
    cr_assert_not_null(mkdtemp(fx.dir), "mkdtemp: %s", strerror(errno));
    snprintf(fx.sock, sizeof(fx.sock), "%s/%s", fx.dir, STORE_SOCKET_NAME);
}

/* An engine on an in-memory state and its local source; the server is up to the test. */
static void fx_engine(void)
{
    struct error err;
    error_clear(&err);
    fx.spec = spec_load_buffer(spec_yaml, strlen(spec_yaml), "attach.yaml", &err);
    cr_assert_not_null(fx.spec, "spec: %s", err.msg);
    struct engine_config cfg = {.workers = 2, .speed = 10, .mode = "standalone"};
    fx.e = engine_new(fx.spec, &cfg, &err);
    cr_assert_not_null(fx.e, "engine: %s", err.msg);
    cr_assert_eq(engine_start(fx.e, &err), 0, "engine_start: %s", err.msg);
    fx.src = source_local_new(fx.e, NULL, NULL, &err);
    cr_assert_not_null(fx.src, "source: %s", err.msg);
    int64_t deadline = mono_ms() + 10000;
    struct snapshot *s;
    while (!(s = source_snapshot(fx.src)) && mono_ms() < deadline) {
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    cr_assert_not_null(s, "the source never published");
    snapshot_release(s);
}

static struct server *start_unix(const char *path, struct error *err)
{
    struct server_options o = {.unix_path = path, .max_connections = 16};
    return server_start(fx.src, fx.e, &o, err);
}

static void fx_init(void)
{
    memset(&fx, 0, sizeof(fx));
    make_dir();
}

static void fx_fini(void)
{
    server_stop(fx.srv);
    source_free(fx.src);
    if (fx.e) {
        engine_stop(fx.e);
        engine_free(fx.e);
    }
    spec_free(fx.spec);
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx.dir);
    cr_expect_eq(system(cmd), 0);
}

TestSuite(attach, .init = fx_init, .fini = fx_fini, .timeout = 60);

Test(attach, http_over_unix_socket_and_mode_0600)
{
    fx_engine();
    struct error err;
    error_clear(&err);
    fx.srv = start_unix(fx.sock, &err);
    cr_assert_not_null(fx.srv, "server_start: %s", err.msg);
    cr_expect_eq(server_port(fx.srv), 0);

    struct stat st;
    cr_assert_eq(lstat(fx.sock, &st), 0, "no socket at %s", fx.sock);
    cr_expect(S_ISSOCK(st.st_mode), "not a socket");
    cr_expect_eq(st.st_mode & 07777, 0600, "socket mode %o, want 0600", st.st_mode & 07777);
    cr_expect(http_unix_listening(fx.sock));

    /* curl sends Host: localhost; the server must answer it on the socket. */
    struct http_options ho = {.base_url = "http://localhost/api/v1", .unix_socket = fx.sock,
                              .timeout_ms = 10000};
    struct http_client *c = http_client_new(&ho, &err);
    cr_assert_not_null(c, "%s", err.msg);
    struct http_response r;
    http_response_init(&r);
    cr_assert_eq(http_get(c, "/deployments/" DEP "/jobs", &r, &err), 0, "GET jobs: %s",
                 err.msg);
    cr_expect_eq(r.status, 200);
    cr_expect_not_null(strstr(r.body, "\"second\""), "jobs body: %.200s", r.body);
    http_response_fini(&r);
    http_response_init(&r);
    cr_assert_eq(http_get(c, "/version", &r, &err), 0, "GET version: %s", err.msg);
    cr_expect_eq(r.status, 200);
    http_response_fini(&r);
    http_client_free(c);

    /* Stopping removes the path: a later launch must not find a dead socket. */
    server_stop(fx.srv);
    fx.srv = NULL;
    cr_expect_neq(lstat(fx.sock, &st), 0, "the socket outlived server_stop");
    cr_expect_not(http_unix_listening(fx.sock));
}

Test(attach, client_names_the_socket_when_nothing_answers)
{
    struct error err;
    error_clear(&err);
    struct http_options ho = {.base_url = "http://localhost/api/v1", .unix_socket = fx.sock,
                              .connect_timeout_ms = 2000, .timeout_ms = 2000};
    struct http_client *c = http_client_new(&ho, &err);
    cr_assert_not_null(c, "%s", err.msg);
    struct http_response r;
    http_response_init(&r);
    cr_expect_neq(http_get(c, "/version", &r, &err), 0);
    cr_expect_eq(err.code, EXIT_API);
    cr_expect_not_null(strstr(err.msg, fx.sock), "message: %s", err.msg);
    cr_expect_null(strstr(err.msg, "port 80"), "message: %s", err.msg);
    http_response_fini(&r);
    http_client_free(c);
}

Test(attach, stale_socket_replaced_other_files_refused)
{
    fx_engine();
    struct error err;
    /* A stale socket left by a crash: bound once, its listener gone. */
    error_clear(&err);
    fx.srv = start_unix(fx.sock, &err);
    cr_assert_not_null(fx.srv, "%s", err.msg);
    struct stat before;
    cr_assert_eq(lstat(fx.sock, &before), 0);
    char moved[160];
    snprintf(moved, sizeof(moved), "%s/old.sock", fx.dir);
    cr_assert_eq(rename(fx.sock, moved), 0);
    server_stop(fx.srv); /* the path it made is gone: nothing is removed */
    fx.srv = NULL;
    cr_assert_eq(rename(moved, fx.sock), 0);
    cr_expect_not(http_unix_listening(fx.sock), "a stale socket answered");
    error_clear(&err);
    fx.srv = start_unix(fx.sock, &err);
    cr_assert_not_null(fx.srv, "stale socket not replaced: %s", err.msg);
    cr_expect(http_unix_listening(fx.sock));
    server_stop(fx.srv);
    fx.srv = NULL;

    /* Anything else at the path is the operator's: refused, left alone. */
    int fd = open(fx.sock, O_WRONLY | O_CREAT | O_EXCL, 0600);
    cr_assert_geq(fd, 0);
    close(fd);
    error_clear(&err);
    fx.srv = start_unix(fx.sock, &err);
    cr_expect_null(fx.srv);
    cr_expect_eq(err.code, EXIT_USAGE);
    cr_expect_not_null(strstr(err.msg, "not a socket"), "message: %s", err.msg);
    struct stat st;
    cr_expect(lstat(fx.sock, &st) == 0 && S_ISREG(st.st_mode), "the file was touched");

    /* A path too long for sun_path is refused with words, not truncated. */
    char longp[200];
    memset(longp, 'a', sizeof(longp) - 1);
    longp[0] = '/';
    longp[sizeof(longp) - 1] = '\0';
    error_clear(&err);
    fx.srv = start_unix(longp, &err);
    cr_expect_null(fx.srv);
    cr_expect_not_null(strstr(err.msg, "too long"), "message: %s", err.msg);
}

Test(attach, remote_source_attached_over_the_socket)
{
    fx_engine();
    struct error err;
    error_clear(&err);
    fx.srv = start_unix(fx.sock, &err);
    cr_assert_not_null(fx.srv, "%s", err.msg);
    struct remote_options ro = {
        .api = "http://localhost/api/v1", .unix_socket = fx.sock,
        .mode_label = "attached to pid 4242", .refresh_s = 0.2,
    };
    struct source *rs = source_remote_new(&ro, &err);
    cr_assert_not_null(rs, "%s", err.msg);
    cr_assert_eq(source_remote_wait_first(rs, 10000, &err), EXIT_OK, "%s", err.msg);
    struct snapshot *s = source_snapshot(rs);
    cr_assert_not_null(s);
    cr_expect_str_eq(s->source.mode, "attached to pid 4242");
    cr_expect_str_eq(s->source.url, fx.sock);
    cr_expect(s->source.ok, "error: %s", s->source.error);
    cr_expect(s->has_deployment);
    cr_expect_str_eq(s->deployment.id, DEP);
    cr_expect_geq(snapshot_find_job(s, "second"), 0, "job 'second' not seen over the socket");
    snapshot_release(s);

    /* Live: the jobs finish on the engine side and the attached picture follows. */
    int64_t deadline = mono_ms() + 20000;
    bool done = false;
    while (!done && mono_ms() < deadline) {
        s = source_snapshot(rs);
        int32_t i = s ? snapshot_find_job(s, "second") : -1;
        done = i >= 0 && s->jobs[i].status == JOB_SUCCEEDED;
        snapshot_release(s);
        if (!done) {
            struct timespec ts = {0, 50 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    cr_expect(done, "the attached source never saw 'second' succeed");
    source_free(rs);
}

Test(attach, lock_holder_pid_probe_and_refusal)
{
    struct error err;
    error_clear(&err);
    cr_expect_eq(store_lock_probe(fx.dir), 0, "a fresh dir reads as locked");
    cr_expect_eq(store_lock_holder(fx.dir), 0);

    struct store *s = store_open(fx.dir, false, &err);
    cr_assert_not_null(s, "%s", err.msg);
    long me = (long)getpid();
    cr_expect_eq(store_lock_holder(fx.dir), me, "holder pid not discoverable");
    char pidfile[160];
    snprintf(pidfile, sizeof(pidfile), "%s/%s", fx.dir, STORE_PID_FILE);
    struct stat st;
    cr_assert_eq(stat(pidfile, &st), 0);
    cr_expect_eq(st.st_mode & 0777, 0600);
    /* flock belongs to the open file description: a second open is another holder. */
    cr_expect_eq(store_lock_probe(fx.dir), 1, "the probe did not see the lock");

    /* A second opener is refused with the holder's pid and what to do. */
    error_clear(&err);
    struct store *s2 = store_open(fx.dir, false, &err);
    cr_expect_null(s2);
    cr_expect_eq(err.code, EXIT_USAGE);
    char want[64];
    snprintf(want, sizeof(want), "pid %ld", me);
    cr_expect_not_null(strstr(err.msg, want), "refusal: %s", err.msg);
    snprintf(want, sizeof(want), "kill %ld", me);
    cr_expect_not_null(strstr(err.msg, want), "refusal: %s", err.msg);
    /* --fresh must not move a held dir either, and says who holds it. */
    error_clear(&err);
    s2 = store_open(fx.dir, true, &err);
    cr_expect_null(s2);
    snprintf(want, sizeof(want), "pid %ld", me);
    cr_expect_not_null(strstr(err.msg, want), "fresh refusal: %s", err.msg);
    cr_expect_eq(stat(fx.dir, &st), 0, "the held dir was moved");

    store_free(s);
    cr_expect_neq(stat(pidfile, &st), 0, "the pid file outlived the lock");
    cr_expect_eq(store_lock_probe(fx.dir), 0, "the lock outlived store_free");
    cr_expect_eq(store_lock_holder(fx.dir), 0);
}

Test(attach, stale_pid_file_names_nobody)
{
    /* A crash leaves the file behind; a pid that is gone must not be named. */
    char pidfile[160];
    snprintf(pidfile, sizeof(pidfile), "%s/%s", fx.dir, STORE_PID_FILE);
    pid_t child = fork();
    cr_assert_geq(child, 0);
    if (child == 0)
        _exit(0);
    int status;
    cr_assert_eq(waitpid(child, &status, 0), child);
    FILE *f = fopen(pidfile, "w");
    cr_assert_not_null(f);
    fprintf(f, "%ld\n", (long)child);
    fclose(f);
    cr_expect_eq(store_lock_holder(fx.dir), 0, "a dead pid was named");
    f = fopen(pidfile, "w");
    cr_assert_not_null(f);
    fprintf(f, "not a pid\n");
    fclose(f);
    cr_expect_eq(store_lock_holder(fx.dir), 0);
}
