/* test_store: the on-disk layout, refusal of bad state, --fresh, crash recovery. */
#include <criterion/criterion.h>

#include "arena.h"
#include "engine.h"
#include "snapshot.h"
#include "store.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define HEAD "sovereign: {name: t1, fqdn: t1.example.com, provider: hetzner, regions: [fsn1]}\n"

static struct spec *load(const char *yaml)
{
    struct error err;
    error_clear(&err);
    struct spec *sp = spec_load_buffer(yaml, strlen(yaml), "test.yaml", &err);
    cr_assert_not_null(sp, "spec: %s", err.msg);
    return sp;
}

static void tmpdir(char *out, size_t n)
{
    char t[] = "/tmp/catalyst-store-......";
    memset(t + sizeof(t) - 7, 'X', 6); /* mkdtemp template */
    cr_assert_not_null(mkdtemp(t));
    snprintf(out, n, "%s", t);
}

static void rm_rf(const char *path)
{
    char cmd[1200];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s'.old-*", path, path);
    int rc = system(cmd);
    (void)rc;
}

static struct engine *open_engine(const struct spec *sp, const char *dir, bool fresh,
                                  struct error *err)
{
    struct engine_config cfg = {.workers = 2, .speed = 1, .state_dir = dir, .fresh = fresh};
    return engine_new(sp, &cfg, err);
}

static void wait_done(struct engine *e, bool cutover)
{
    uint64_t g = 0;
    struct engine_progress p;
    int64_t until = mono_ms() + 30000;
    for (;;) {
        engine_progress(e, &p);
        if ((p.jobs_done && (!cutover || p.cutover_complete || p.cutover_failed)) ||
            mono_ms() > until)
            break;
        g = engine_wait(e, g, 100);
    }
    cr_assert(p.jobs_done);
}

static cJSON *read_json(const char *path)
{
    char *data;
    size_t len;
    cr_assert_eq(read_file(path, 1 << 26, &data, &len), 0, "read %s", path);
    cJSON *j = cJSON_ParseWithLength(data, len);
    free(data);
    cr_assert_not_null(j, "%s is not JSON", path);
    return j;
}

static int mode_of(const char *path)
{
    struct stat st;
    cr_assert_eq(stat(path, &st), 0, "stat %s", path);
    return (int)(st.st_mode & 0777);
}

static const char *SPEC_BASIC =
    HEAD "groups:\n  - name: g\n    jobs:\n"
         "      - {name: one, run: \"echo one; echo two >&2\"}\n"
         "      - {name: two, dependsOn: [one], simulate: {duration: 0s, logs: [x]}}\n"
         "cutover:\n  steps:\n    - {name: gitea-mirror, simulate: {duration: 0s}}\n";

/* Runs SPEC_BASIC (jobs and cutover) to the end in dir. */
static void run_basic(const char *dir, char *dep_id, size_t n)
{
    struct spec *sp = load(SPEC_BASIC);
    struct error err;
    struct engine *e = open_engine(sp, dir, false, &err);
    cr_assert_not_null(e, "%s", err.msg);
    cr_assert_eq(engine_start(e, &err), 0);
    wait_done(e, false);
    struct engine_result r;
    engine_cutover_start(e, &r);
    cr_assert_eq(r.code, 200);
    wait_done(e, true);
    snprintf(dep_id, n, "%s", engine_deployment_id(e));
    engine_free(e);
    spec_free(sp);
}

Test(store, layout_modes_and_formats)
{
    char base[64], dir[128], dep[80], p[512];
    tmpdir(base, sizeof(base));
    snprintf(dir, sizeof(dir), "%s/state", base);
    run_basic(dir, dep, sizeof(dep));
    cr_assert_eq(strlen(dep), 16);
    cr_assert_eq(mode_of(dir), 0700);
    snprintf(p, sizeof(p), "%s/executions", dir);
    cr_assert_eq(mode_of(p), 0700);
    snprintf(p, sizeof(p), "%s/executions/%s", dir, dep);
    cr_assert_eq(mode_of(p), 0700);

    snprintf(p, sizeof(p), "%s/deployment.json", dir);
    cr_assert_eq(mode_of(p), 0600);
    cJSON *d = read_json(p);
    cr_assert_eq(cJSON_GetObjectItem(d, "formatVersion")->valueint, 1);
    cr_assert_str_eq(cJSON_GetObjectItem(d, "id")->valuestring, dep);
    cr_assert_str_eq(cJSON_GetObjectItem(d, "status")->valuestring, "ready");
    cr_assert_str_eq(cJSON_GetObjectItem(d, "sovereignFQDN")->valuestring, "t1.example.com");
    cr_assert_str_eq(cJSON_GetObjectItem(d, "region")->valuestring, "fsn1");
    cr_assert(cJSON_IsString(cJSON_GetObjectItem(d, "startedAt")));
    cJSON_Delete(d);

    snprintf(p, sizeof(p), "%s/cutover-status.json", dir);
    cr_assert_eq(mode_of(p), 0600);
    cJSON *c = read_json(p);
    cr_assert_str_eq(cJSON_GetObjectItem(c, "cutoverComplete")->valuestring, "true");
    const cJSON *it;
    cJSON_ArrayForEach(it, c) cr_assert(cJSON_IsString(it), "%s not a string", it->string);
    cJSON_Delete(c);

    snprintf(p, sizeof(p), "%s/executions/%s/index.json", dir, dep);
    cr_assert_eq(mode_of(p), 0600);
    cJSON *ix = read_json(p);
    cr_assert_eq(cJSON_GetObjectItem(ix, "formatVersion")->valueint, 1);
    cr_assert_str_eq(cJSON_GetObjectItem(ix, "deploymentId")->valuestring, dep);
    cJSON *jobs = cJSON_GetObjectItem(ix, "jobs"), *execs = cJSON_GetObjectItem(ix, "executions");
    cr_assert_eq(cJSON_GetArraySize(jobs), 5); /* g, one, two, cutover, its step */
    cr_assert_eq(cJSON_GetArraySize(execs), 3);
    cJSON_ArrayForEach(it, jobs) {
        cr_assert(cJSON_IsString(cJSON_GetObjectItem(it, "jobName")));
        cr_assert(cJSON_IsArray(cJSON_GetObjectItem(it, "dependsOn")));
        cr_assert(cJSON_IsString(cJSON_GetObjectItem(it, "status")));
    }
    int lines_seen = 0;
    cJSON_ArrayForEach(it, execs) {
        const char *id = cJSON_GetObjectItem(it, "id")->valuestring;
        cr_assert_eq(strlen(id), 32);
        cr_assert_str_eq(cJSON_GetObjectItem(it, "status")->valuestring, "succeeded");
        cr_assert(cJSON_IsString(cJSON_GetObjectItem(it, "jobId")));
        cr_assert(cJSON_IsString(cJSON_GetObjectItem(it, "finishedAt")));
        int count = cJSON_GetObjectItem(it, "lineCount")->valueint;
        char lp[600];
        snprintf(lp, sizeof(lp), "%s/executions/%s/%s.log", dir, dep, id);
        cr_assert_eq(mode_of(lp), 0600);
        FILE *f = fopen(lp, "r");
        cr_assert_not_null(f);
        char line[8192];
        int n = 0;
        while (fgets(line, sizeof(line), f)) {
            cJSON *l = cJSON_Parse(line);
            cr_assert_not_null(l, "NDJSON line: %s", line);
            cr_assert_eq(cJSON_GetObjectItem(l, "lineNumber")->valueint, n + 1);
            cr_assert(cJSON_IsString(cJSON_GetObjectItem(l, "timestamp")));
            cr_assert(cJSON_IsString(cJSON_GetObjectItem(l, "level")));
            cr_assert(cJSON_IsString(cJSON_GetObjectItem(l, "message")));
            cJSON_Delete(l);
            n++;
        }
        fclose(f);
        cr_assert_eq(n, count);
        lines_seen += n;
    }
    cr_assert_geq(lines_seen, 3);
    cJSON_Delete(ix);

    /* Reopening changes nothing and re-runs nothing. */
    struct spec *sp = load(SPEC_BASIC);
    struct error err;
    struct engine *e = open_engine(sp, dir, false, &err);
    cr_assert_not_null(e, "%s", err.msg);
    cr_assert_str_eq(engine_deployment_id(e), dep);
    cr_assert_eq(engine_start(e, &err), 0);
    wait_done(e, false);
    struct snapshot *s = snapshot_new();
    cr_assert_eq(engine_fill_snapshot(e, s, "one"), 0);
    cr_assert_eq(s->n_executions, 3);
    cr_assert_eq(s->detail.n_lines, 2); /* read back from disk */
    cr_assert_str_eq(s->detail.lines[0].message, "one");
    cr_assert(s->cutover.complete);
    snapshot_release(s);
    engine_free(e);
    spec_free(sp);
    rm_rf(base);
}

static void expect_refused(const char *dir, const char *file_part)
{
    struct spec *sp = load(SPEC_BASIC);
    struct error err;
    error_clear(&err);
    struct engine *e = open_engine(sp, dir, false, &err);
    cr_assert_null(e);
    cr_assert_eq(err.code, EXIT_USAGE);
    char b[1400];
    error_format(&err, b, sizeof(b));
    cr_assert(strstr(b, file_part), "message names the file: %s", b);
    spec_free(sp);
}

Test(store, corrupted_index_refused_untouched)
{
    char base[64], dir[128], dep[80], p[512];
    tmpdir(base, sizeof(base));
    snprintf(dir, sizeof(dir), "%s/state", base);
    run_basic(dir, dep, sizeof(dep));
    snprintf(p, sizeof(p), "%s/executions/%s/index.json", dir, dep);
    const char *junk = "{\"formatVersion\":1,\"jobs\":[tru";
    cr_assert_eq(write_file_atomic(p, junk, strlen(junk), 0600), 0);
    expect_refused(dir, "index.json");
    char *data;
    size_t len;
    cr_assert_eq(read_file(p, 4096, &data, &len), 0);
    cr_assert_eq(len, strlen(junk));
    cr_assert_eq(memcmp(data, junk, len), 0);
    free(data);
    rm_rf(base);
}

Test(store, newer_format_refused)
{
    char base[64], dir[128], dep[80], p[512];
    tmpdir(base, sizeof(base));
    snprintf(dir, sizeof(dir), "%s/state", base);
    run_basic(dir, dep, sizeof(dep));
    snprintf(p, sizeof(p), "%s/deployment.json", dir);
    char doc[256];
    snprintf(doc, sizeof(doc), "{\"formatVersion\":999,\"id\":\"%s\",\"status\":\"ready\"}", dep);
    cr_assert_eq(write_file_atomic(p, doc, strlen(doc), 0600), 0);
    expect_refused(dir, "deployment.json");
    char *data;
    size_t len;
    cr_assert_eq(read_file(p, 4096, &data, &len), 0);
    cr_assert(strstr(data, "999"));
    free(data);
    /* A corrupted cutover map is refused as well. */
    snprintf(doc, sizeof(doc), "{\"formatVersion\":1,\"id\":\"%s\",\"status\":\"ready\"}", dep);
    cr_assert_eq(write_file_atomic(p, doc, strlen(doc), 0600), 0);
    snprintf(p, sizeof(p), "%s/cutover-status.json", dir);
    cr_assert_eq(write_file_atomic(p, "[1,2", 4, 0600), 0);
    expect_refused(dir, "cutover-status.json");
    rm_rf(base);
}

Test(store, fresh_moves_aside)
{
    char base[64], dir[128], dep[80], p[512];
    tmpdir(base, sizeof(base));
    snprintf(dir, sizeof(dir), "%s/state", base);
    run_basic(dir, dep, sizeof(dep));
    snprintf(p, sizeof(p), "%s/deployment.json", dir);
    cr_assert_eq(write_file_atomic(p, "garbage", 7, 0600), 0);
    struct spec *sp = load(SPEC_BASIC);
    struct error err;
    struct engine *e = open_engine(sp, dir, true, &err);
    cr_assert_not_null(e, "%s", err.msg);
    cr_assert_str_neq(engine_deployment_id(e), dep);
    engine_free(e);
    spec_free(sp);
    DIR *d = opendir(base);
    cr_assert_not_null(d);
    struct dirent *de;
    bool found = false;
    while ((de = readdir(d)))
        if (strncmp(de->d_name, "state.old-", 10) == 0) {
            found = true;
            char old[600];
            snprintf(old, sizeof(old), "%s/%s/deployment.json", base, de->d_name);
            char *data;
            size_t len;
            cr_assert_eq(read_file(old, 4096, &data, &len), 0);
            cr_assert_eq(len, 7);
            free(data);
        }
    closedir(d);
    cr_assert(found, "no state.old-* dir");
    rm_rf(base);
}

Test(store, log_read_and_repair)
{
    char base[64];
    tmpdir(base, sizeof(base));
    struct error err;
    struct store *st = store_open(base, false, &err);
    cr_assert_not_null(st);
    int fd = store_log_open(st, "dep", "0123456789abcdef0123456789abcdef");
    cr_assert_geq(fd, 0);
    for (int i = 1; i <= 5; i++) {
        char m[32];
        snprintf(m, sizeof(m), "line \"%d\"", i);
        struct log_line l = {i, 1000 * i, i == 3 ? LOG_WARN : LOG_INFO, m};
        cr_assert_eq(store_log_append(fd, &l), 0);
    }
    cr_assert_eq(write(fd, "{\"lineNum", 9), 9); /* a torn tail */
    close(fd);
    cr_assert_eq(store_log_repair(st, "dep", "0123456789abcdef0123456789abcdef"), 5);
    struct arena *a = arena_new();
    struct log_line *lines;
    size_t n;
    cr_assert_eq(store_log_read(st, "dep", "0123456789abcdef0123456789abcdef", 3, 10, a, &lines,
                                &n),
                 0);
    cr_assert_eq(n, 3);
    cr_assert_eq(lines[0].line_number, 3);
    cr_assert_eq(lines[0].level, LOG_WARN);
    cr_assert_str_eq(lines[0].message, "line \"3\"");
    cr_assert_eq(lines[0].timestamp, 3000);
    arena_free(a);
    store_free(st);
    rm_rf(base);
}

/* The child: runs the engine until killed. */
static void crash_child(const char *dir, const char *yaml)
{
    struct error err;
    struct spec *sp = spec_load_buffer(yaml, strlen(yaml), "t.yaml", &err);
    if (!sp)
        _exit(3);
    struct engine_config cfg = {.workers = 2, .speed = 1, .state_dir = dir};
    struct engine *e = engine_new(sp, &cfg, &err);
    if (!e || engine_start(e, &err) != 0)
        _exit(4);
    for (;;)
        pause();
}

/* True once index.json shows an execution of job `name` running. */
static bool shows_running(const char *dir, const char *name)
{
    char p[600];
    snprintf(p, sizeof(p), "%s/deployment.json", dir);
    char *data;
    size_t len;
    if (read_file(p, 1 << 20, &data, &len) != 0)
        return false;
    cJSON *d = cJSON_ParseWithLength(data, len);
    free(data);
    if (!d)
        return false;
    snprintf(p, sizeof(p), "%s/executions/%s/index.json", dir,
             cJSON_GetObjectItem(d, "id")->valuestring);
    cJSON_Delete(d);
    if (read_file(p, 1 << 24, &data, &len) != 0)
        return false;
    cJSON *ix = cJSON_ParseWithLength(data, len);
    free(data);
    if (!ix)
        return false;
    bool found = false;
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItem(ix, "executions")) {
        const char *jid = cJSON_GetObjectItem(it, "jobId")->valuestring;
        const char *colon = strchr(jid, ':');
        if (colon && strcmp(colon + 1, name) == 0 &&
            strcmp(cJSON_GetObjectItem(it, "status")->valuestring, "running") == 0)
            found = true;
    }
    cJSON_Delete(ix);
    return found;
}

static void kill_pidfile(const char *path)
{
    char *data;
    size_t len;
    for (int i = 0; i < 100; i++) {
        if (read_file(path, 64, &data, &len) == 0 && len > 0) {
            pid_t pid = (pid_t)atoi(data);
            free(data);
            if (pid > 1)
                kill(-pid, SIGKILL);
            return;
        }
        usleep(20000);
    }
}

Test(store, crash_recovery)
{
    char base[64], dir[128], yaml[1024], pidf[160];
    tmpdir(base, sizeof(base));
    snprintf(dir, sizeof(dir), "%s/state", base);
    snprintf(pidf, sizeof(pidf), "%s/pid", base);
    snprintf(yaml, sizeof(yaml),
             HEAD "groups:\n  - name: g\n    jobs:\n"
                  "      - {name: first, run: \"true\"}\n"
                  "      - {name: sleeper, dependsOn: [first], run: \"echo $$ > %s; echo "
                  "going; exec sleep 30\"}\n"
                  "      - {name: later, dependsOn: [sleeper], run: \"true\"}\n",
             pidf);
    pid_t child = fork();
    cr_assert_geq(child, 0);
    if (child == 0)
        crash_child(dir, yaml);
    int64_t until = mono_ms() + 20000;
    while (!shows_running(dir, "sleeper") && mono_ms() < until)
        usleep(20000);
    bool seen = shows_running(dir, "sleeper");
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    kill_pidfile(pidf);
    cr_assert(seen, "the sleeper never showed running");

    struct spec *sp = load(yaml);
    struct error err;
    struct engine *e = open_engine(sp, dir, false, &err);
    cr_assert_not_null(e, "reopen: %s", err.msg);
    struct snapshot *s = snapshot_new();
    cr_assert_eq(engine_fill_snapshot(e, s, "sleeper"), 0);
    cr_assert_eq(snapshot_finalize(s), 0);
    const struct job *first = &s->jobs[snapshot_find_job(s, "first")];
    cr_assert_eq(first->status, JOB_SUCCEEDED);
    cr_assert_eq(first->run_count, 1);
    cr_assert_eq(s->jobs[snapshot_find_job(s, "sleeper")].status, JOB_FAILED);
    cr_assert_eq(s->detail.n_executions, 1);
    cr_assert_eq(s->detail.executions[0].status, EXEC_FAILED);
    cr_assert_gt(s->detail.executions[0].finished_at, 0);
    cr_assert_geq(s->detail.n_lines, 2);
    cr_assert_str_eq(s->detail.lines[0].message, "going");
    cr_assert(strncmp(s->detail.lines[s->detail.n_lines - 1].message, "[interrupted]", 13) == 0);
    struct arena *a = arena_new();
    struct log_page pg;
    cr_assert_eq(engine_log_page(e, s->detail.executions[0].id, 1, 100, a, &pg), 0);
    cr_assert_eq(pg.total, (int64_t)s->detail.n_lines);
    cr_assert(pg.execution_finished);
    arena_free(a);
    snapshot_release(s);
    engine_free(e); /* flushes the recovered state */

    /* The state written back is valid and says the same. */
    cr_assert_not(shows_running(dir, "sleeper"));
    e = open_engine(sp, dir, false, &err);
    cr_assert_not_null(e, "second reopen: %s", err.msg);
    s = snapshot_new();
    cr_assert_eq(engine_fill_snapshot(e, s, NULL), 0);
    cr_assert_eq(snapshot_finalize(s), 0);
    cr_assert_eq(s->jobs[snapshot_find_job(s, "first")].status, JOB_SUCCEEDED);
    cr_assert_eq(s->jobs[snapshot_find_job(s, "sleeper")].status, JOB_FAILED);
    snapshot_release(s);
    engine_free(e);
    spec_free(sp);
    rm_rf(base);
}

Test(store, in_memory_writes_nothing)
{
    char base[64];
    tmpdir(base, sizeof(base));
    cr_assert_eq(chdir(base), 0);
    struct spec *sp = load(SPEC_BASIC);
    struct error err;
    struct engine_config cfg = {.workers = 2, .speed = 1};
    struct engine *e = engine_new(sp, &cfg, &err);
    cr_assert_not_null(e);
    cr_assert_eq(engine_start(e, &err), 0);
    wait_done(e, false);
    engine_free(e);
    spec_free(sp);
    DIR *d = opendir(base);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (de->d_name[0] != '.')
            n++;
    closedir(d);
    cr_assert_eq(n, 0);
    rm_rf(base);
}

Test(store, second_opener_refused)
{
    char base[64], dir[128];
    tmpdir(base, sizeof(base));
    snprintf(dir, sizeof(dir), "%s/state", base);
    struct spec *sp = load(SPEC_BASIC);
    struct error err;
    struct engine *e = open_engine(sp, dir, false, &err);
    cr_assert_not_null(e, "%s", err.msg);
    struct engine *f = open_engine(sp, dir, false, &err);
    cr_assert_null(f);
    cr_assert_eq(err.code, EXIT_USAGE);
    cr_assert(strstr(err.msg, "in use"), "%s", err.msg);
    f = open_engine(sp, dir, true, &err); /* --fresh must not move it away either */
    cr_assert_null(f);
    engine_free(e);
    f = open_engine(sp, dir, false, &err);
    cr_assert_not_null(f, "%s", err.msg);
    engine_free(f);
    spec_free(sp);
    rm_rf(base);
}
