/* test_store: the on-disk layout, refusal of bad state, --fresh, crash recovery. */
#include <criterion/criterion.h>

#include "arena.h"
#include "engine.h"
#include "snapshot.h"
#include "store.h"
#include "helpers/testutil.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define HEAD "sovereign: {name: t1, fqdn: t1.example.com, provider: hetzner, regions: [fsn1]}\n"

static struct engine *open_engine(const struct spec *sp, const char *dir, bool fresh,
                                  struct error *err)
{
    struct engine_config cfg = {.workers = 2, .speed = 1, .state_dir = dir, .fresh = fresh};
    return engine_new(sp, &cfg, err);
}

static void wait_done(struct engine *e, bool cutover)
{
    struct engine_progress p;
    tu_wait_for(e, cutover ? tu_settled : tu_jobs_done, &p);
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
    struct spec *sp = tu_load(SPEC_BASIC);
    struct error err;
    struct engine *e = open_engine(sp, dir, false, &err);
    cr_assert_not_null(e, "%s", err.msg);
    cr_assert_eq(engine_start(e, &err), 0);
    wait_done(e, false);
    struct engine_result r;
    engine_cutover_start(e, true, &r);
    cr_assert_eq(r.code, 200);
    wait_done(e, true);
    snprintf(dep_id, n, "%s", engine_deployment_id(e));
    engine_free(e);
    spec_free(sp);
}

Test(store, layout_modes_and_formats)
{
    char base[64], dir[128], dep[80], p[512];
    tu_tmpdir("store", base, sizeof(base));
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
    struct spec *sp = tu_load(SPEC_BASIC);
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
    tu_rm_rf(base);
}

static void expect_refused(const char *dir, const char *file_part)
{
    struct spec *sp = tu_load(SPEC_BASIC);
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
    tu_tmpdir("store", base, sizeof(base));
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
    tu_rm_rf(base);
}

/* An execution id is a log file name: one that walks out of the dir is corruption. */
Test(store, exec_id_with_path_refused)
{
    char base[64], dir[128], dep[80], p[512], victim[512];
    tu_tmpdir("store", base, sizeof(base));
    snprintf(dir, sizeof(dir), "%s/state", base);
    run_basic(dir, dep, sizeof(dep));
    /* executions/<dep>/ + this 32-byte id + ".log" is <base>/victim.log */
    const char *id = "././././././././../../..//victim";
    cr_assert_eq(strlen(id), 32);
    snprintf(victim, sizeof(victim), "%s/victim.log", base);
    const char *keep = "precious\ntorn tail";
    cr_assert_eq(write_file_atomic(victim, keep, strlen(keep), 0600), 0);
    snprintf(p, sizeof(p), "%s/executions/%s/index.json", dir, dep);
    char doc[512];
    snprintf(doc, sizeof(doc),
             "{\"formatVersion\":1,\"deploymentId\":\"%s\",\"jobs\":[],\"executions\":"
             "[{\"id\":\"%s\",\"jobId\":\"%s:one\",\"status\":\"running\"}]}",
             dep, id, dep);
    cr_assert_eq(write_file_atomic(p, doc, strlen(doc), 0600), 0);
    expect_refused(dir, "index.json");
    char *data;
    size_t len;
    cr_assert_eq(read_file(victim, 4096, &data, &len), 0);
    cr_assert_eq(len, strlen(keep), "a file outside the state dir was rewritten");
    free(data);
    tu_rm_rf(base);
}

Test(store, newer_format_refused)
{
    char base[64], dir[128], dep[80], p[512];
    tu_tmpdir("store", base, sizeof(base));
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
    tu_rm_rf(base);
}

Test(store, fresh_moves_aside)
{
    char base[64], dir[128], dep[80], p[512];
    tu_tmpdir("store", base, sizeof(base));
    snprintf(dir, sizeof(dir), "%s/state", base);
    run_basic(dir, dep, sizeof(dep));
    snprintf(p, sizeof(p), "%s/deployment.json", dir);
    cr_assert_eq(write_file_atomic(p, "garbage", 7, 0600), 0);
    struct spec *sp = tu_load(SPEC_BASIC);
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
    tu_rm_rf(base);
}

Test(store, log_read_and_repair)
{
    char base[64];
    tu_tmpdir("store", base, sizeof(base));
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
    tu_rm_rf(base);
}

/*
 * A page costs its own lines, not the whole log: a log far past what fits in
 * memory at once (a sparse 1 GiB tail here) still serves its first pages, and
 * a line longer than one read is put together.
 */
Test(store, log_read_streams_a_huge_log)
{
    char base[64];
    tu_tmpdir("store", base, sizeof(base));
    struct error err;
    struct store *st = store_open(base, false, &err);
    cr_assert_not_null(st);
    const char *xid = "0123456789abcdef0123456789abcdef";
    int fd = store_log_open(st, "dep", xid);
    cr_assert_geq(fd, 0);
    char *big = malloc(150001);
    cr_assert_not_null(big);
    memset(big, 'x', 150000);
    big[150000] = 0;
    for (int i = 1; i <= 3; i++) {
        struct log_line l = {i, 1000 * i, LOG_INFO, i == 2 ? big : "short"};
        cr_assert_eq(store_log_append(fd, &l), 0);
    }
    struct stat sb;
    cr_assert_eq(fstat(fd, &sb), 0);
    cr_assert_eq(ftruncate(fd, ((off_t)1 << 30) + sb.st_size), 0);
    close(fd);
    struct arena *a = arena_new();
    struct log_line *lines;
    size_t n;
    cr_assert_eq(store_log_read(st, "dep", xid, 1, 3, a, &lines, &n), 0);
    cr_assert_eq(n, 3);
    cr_assert_eq(strlen(lines[1].message), 150000);
    cr_assert_eq(lines[1].line_number, 2);
    cr_assert_str_eq(lines[2].message, "short");
    cr_assert_eq(store_log_read(st, "dep", xid, 3, 1, a, &lines, &n), 0);
    cr_assert_eq(n, 1);
    cr_assert_eq(lines[0].line_number, 3);
    free(big);
    arena_free(a);
    store_free(st);
    tu_rm_rf(base);
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

/*
 * True once index.json shows an execution of job `name` running and, when
 * needle is non-NULL, that execution's log holds needle.
 */
static bool shows_running_with(const char *dir, const char *name, const char *needle)
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
    char dep[80];
    snprintf(dep, sizeof(dep), "%s", cJSON_GetObjectItem(d, "id")->valuestring);
    cJSON_Delete(d);
    snprintf(p, sizeof(p), "%s/executions/%s/index.json", dir, dep);
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
            strcmp(cJSON_GetObjectItem(it, "status")->valuestring, "running") == 0) {
            found = true;
            if (needle) {
                char lp[600];
                snprintf(lp, sizeof(lp), "%s/executions/%s/%s.log", dir, dep,
                         cJSON_GetObjectItem(it, "id")->valuestring);
                if (read_file(lp, 1 << 20, &data, &len) != 0) {
                    found = false;
                } else {
                    found = strstr(data, needle) != NULL;
                    free(data);
                }
            }
        }
    }
    cJSON_Delete(ix);
    return found;
}

static bool shows_running(const char *dir, const char *name)
{
    return shows_running_with(dir, name, NULL);
}

/* A live process (a zombie no longer runs anything; its reaper may be slow). */
static bool alive(pid_t pid)
{
    char path[64], b[512];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    size_t n = fread(b, 1, sizeof(b) - 1, f);
    fclose(f);
    b[n] = 0;
    const char *p = strrchr(b, ')');
    return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

static pid_t read_pidfile(const char *path)
{
    char *data;
    size_t len;
    for (int i = 0; i < 100; i++) {
        if (read_file(path, 64, &data, &len) == 0 && len > 0) {
            pid_t pid = (pid_t)atoi(data);
            free(data);
            return pid;
        }
        usleep(20000);
    }
    return -1;
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
    tu_tmpdir("store", base, sizeof(base));
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
    /* Until its first line is on disk, not just its start. */
    while (!shows_running_with(dir, "sleeper", "\"going\"") && mono_ms() < until)
        usleep(20000);
    bool seen = shows_running_with(dir, "sleeper", "\"going\"");
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    pid_t orphan = read_pidfile(pidf);
    if (!seen || orphan <= 1)
        kill_pidfile(pidf);
    cr_assert(seen, "the sleeper never showed running");
    cr_assert_gt(orphan, 1);
    /* The crash left the command running, orphaned, in its own session. */
    cr_assert(alive(orphan), "the orphan is gone before the restart");
    cr_assert_eq(getsid(orphan), orphan);

    struct spec *sp = tu_load(yaml);
    struct error err;
    struct engine *e = open_engine(sp, dir, false, &err);
    cr_assert_not_null(e, "reopen: %s", err.msg);
    /* engine_new returns once recovery ended it. */
    bool gone = !alive(orphan);
    if (!gone)
        kill(-orphan, SIGKILL);
    cr_assert(gone, "recovery left the orphaned command running");
    struct snapshot *s = snapshot_new();
    cr_assert_eq(engine_fill_snapshot(e, s, "sleeper"), 0);
    cr_assert_eq(snapshot_finalize(s), 0);
    const struct job *first = &s->jobs[snapshot_find_job(s, "first")];
    cr_assert_eq(first->status, JOB_SUCCEEDED);
    cr_assert_eq(first->run_count, 1);
    /* An interruption is not a failure: the job (retries: 0) runs again. */
    cr_assert_eq(s->jobs[snapshot_find_job(s, "sleeper")].status, JOB_PENDING);
    cr_assert_eq(s->detail.n_executions, 1);
    cr_assert_eq(s->detail.executions[0].status, EXEC_FAILED);
    cr_assert_gt(s->detail.executions[0].finished_at, 0);
    size_t nl = s->detail.n_lines;
    cr_assert_geq(nl, 3);
    cr_assert_str_eq(s->detail.lines[0].message, "going");
    cr_assert(strncmp(s->detail.lines[nl - 2].message, "[interrupted]", 13) == 0);
    char want[160];
    snprintf(want, sizeof(want), "[recovery] ended surviving process group %d of the "
             "interrupted execution (SIGTERM)", (int)orphan);
    cr_assert_str_eq(s->detail.lines[nl - 1].message, want);
    /* The feed is refilled from the logs, the recovery notes last. */
    cr_assert_geq(s->n_activity, 3);
    cr_assert_str_eq(s->activity[s->n_activity - 1].job_name, "sleeper");
    cr_assert(strncmp(s->activity[s->n_activity - 1].line.message, "[recovery]", 10) == 0);
    cr_assert(strncmp(s->activity[s->n_activity - 2].line.message, "[interrupted]", 13) == 0);
    cr_assert_str_eq(s->activity[s->n_activity - 3].line.message, "going");
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
    cr_assert_eq(s->jobs[snapshot_find_job(s, "sleeper")].status, JOB_PENDING);
    snapshot_release(s);
    engine_free(e);
    spec_free(sp);
    tu_rm_rf(base);
}

Test(store, in_memory_writes_nothing)
{
    char base[64];
    tu_tmpdir("store", base, sizeof(base));
    cr_assert_eq(chdir(base), 0);
    struct spec *sp = tu_load(SPEC_BASIC);
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
    tu_rm_rf(base);
}

Test(store, second_opener_refused)
{
    char base[64], dir[128];
    tu_tmpdir("store", base, sizeof(base));
    snprintf(dir, sizeof(dir), "%s/state", base);
    struct spec *sp = tu_load(SPEC_BASIC);
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
    tu_rm_rf(base);
}

/* ---------------------------------------------------------------- observe */

/* Every path under dir with size, mode, mtime, then every file's bytes. */
static char *dir_digest(const char *dir)
{
    char cmd[1200];
    snprintf(cmd, sizeof(cmd),
             "cd '%s' 2>/dev/null && { find . -printf '%%p %%s %%m %%T@\\n' | LC_ALL=C sort; "
             "find . -type f | LC_ALL=C sort | xargs -r cat; }",
             dir);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    struct strbuf sb;
    sb_init(&sb);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), p)) > 0)
        sb_append(&sb, buf, n);
    pclose(p);
    sb_append(&sb, "", 0);
    cr_assert_not(sb.oom);
    return sb.buf ? sb.buf : strdup("");
}

static struct engine *open_observer(const struct spec *sp, const char *dir, bool fresh,
                                    struct error *err)
{
    struct engine_config cfg = {.workers = 2, .speed = 1, .state_dir = dir, .fresh = fresh,
                                .observe = true};
    error_clear(err);
    return engine_new(sp, &cfg, err);
}

static bool lines_have(const struct log_line *l, size_t n, const char *needle)
{
    for (size_t i = 0; i < n; i++)
        if (strstr(l[i].message, needle))
            return true;
    return false;
}

static bool file_has(const char *path, const char *needle)
{
    char *data;
    size_t len;
    if (read_file(path, 1 << 20, &data, &len) != 0)
        return false;
    bool found = strstr(data, needle) != NULL;
    free(data);
    return found;
}

/* An observer beside a live engine: sees the running job as running and writes nothing. */
Test(store, observe_live_dir_writes_nothing)
{
    char base[64], dir[128], logp[600];
    tu_tmpdir("store", base, sizeof(base));
    snprintf(dir, sizeof(dir), "%s/state", base);
    struct spec *sp = tu_load(HEAD "groups:\n  - name: g\n    jobs:\n"
                                   "      - {name: first, run: \"echo hello\"}\n"
                                   "      - {name: sleeper, dependsOn: [first], run: \""
                                   "echo going; exec sleep 30\"}\n"
                                   "      - {name: later, dependsOn: [sleeper], run: \"true\"}\n"
                                   "cutover:\n  steps:\n    - {name: gitea-mirror, simulate: "
                                   "{duration: 0s}}\n");
    struct error err;
    struct engine *live = open_engine(sp, dir, false, &err);
    cr_assert_not_null(live, "%s", err.msg);
    cr_assert_eq(engine_start(live, &err), 0);
    int64_t until = mono_ms() + 20000;
    logp[0] = 0;
    while (mono_ms() < until) {
        struct snapshot *s = tu_snap(live, "sleeper");
        if (s->detail.n_executions == 1)
            snprintf(logp, sizeof(logp), "%s/executions/%s/%s.log", dir, engine_deployment_id(live),
                     s->detail.executions[0].id);
        snapshot_release(s);
        if (*logp && file_has(logp, "\"going\"") && shows_running(dir, "sleeper"))
            break;
        usleep(20000);
    }
    cr_assert(*logp && file_has(logp, "\"going\""), "the sleeper never logged");
    cr_assert(shows_running(dir, "sleeper"));
    /* The live engine is idle now (the sleeper sleeps): wait until its dir is still. */
    char *before = dir_digest(dir);
    for (int i = 0; i < 50; i++) {
        usleep(100000);
        char *again = dir_digest(dir);
        bool same = strcmp(before, again) == 0;
        free(before);
        before = again;
        if (same)
            break;
    }
    char *log_before;
    size_t log_len;
    cr_assert_eq(read_file(logp, 1 << 20, &log_before, &log_len), 0);

    /* A second engine that would recover the dir is still refused. */
    cr_assert_null(open_engine(sp, dir, false, &err));
    cr_assert(strstr(err.msg, "in use"), "%s", err.msg);

    struct engine *obs = open_observer(sp, dir, false, &err);
    cr_assert_not_null(obs, "observe: %s", err.msg);
    cr_assert_str_eq(engine_deployment_id(obs), engine_deployment_id(live));
    struct snapshot *s = tu_snap(obs, "sleeper");
    cr_assert_eq(s->jobs[snapshot_find_job(s, "first")].status, JOB_SUCCEEDED);
    cr_assert_eq(s->jobs[snapshot_find_job(s, "sleeper")].status, JOB_RUNNING);
    cr_assert_eq(s->jobs[snapshot_find_job(s, "later")].status, JOB_PENDING);
    cr_assert(s->source.read_only);
    cr_assert_eq(s->detail.n_executions, 1);
    cr_assert_eq(s->detail.executions[0].status, EXEC_RUNNING);
    cr_assert_not(s->detail.log_finished);
    cr_assert(lines_have(s->detail.lines, s->detail.n_lines, "going"));
    cr_assert_not(lines_have(s->detail.lines, s->detail.n_lines, "[interrupted]"));
    cr_assert_geq(s->n_activity, 2);
    cr_assert_str_eq(s->activity[s->n_activity - 1].job_name, "sleeper");
    cr_assert_str_eq(s->activity[s->n_activity - 1].line.message, "going");
    cr_assert_str_eq(s->activity[0].job_name, "first");
    cr_assert_str_eq(s->activity[0].line.message, "hello");
    struct arena *a = arena_new();
    struct log_page pg;
    cr_assert_eq(engine_log_page(obs, s->detail.executions[0].id, 1, 100, a, &pg), 0);
    cr_assert_geq(pg.total, 1);
    cr_assert_not(pg.execution_finished);
    cr_assert(lines_have(pg.lines, pg.n_lines, "going"));
    cr_assert_not(lines_have(pg.lines, pg.n_lines, "[interrupted]"));
    arena_free(a);
    snapshot_release(s);

    struct engine_progress p;
    engine_progress(obs, &p);
    cr_assert_eq(p.jobs_running, 1);
    cr_assert_not(p.jobs_done);
    cr_assert_eq(engine_start(obs, &err), -1);
    cr_assert(strstr(err.msg, "observe"), "%s", err.msg);
    struct engine_result r;
    engine_retry(obs, "sleeper", "test", &r);
    cr_assert_eq(r.code, 403);
    cr_assert_str_eq(r.error, "read-only");
    engine_cutover_start(obs, true, &r);
    cr_assert_eq(r.code, 403);
    engine_stop(obs);
    engine_free(obs);

    char *after = dir_digest(dir);
    cr_assert_str_eq(after, before, "the observer changed the state dir");
    char *log_after;
    size_t log_len2;
    cr_assert_eq(read_file(logp, 1 << 20, &log_after, &log_len2), 0);
    cr_assert_eq(log_len2, log_len);
    cr_assert_eq(memcmp(log_after, log_before, log_len), 0);
    free(log_after);
    free(log_before);
    free(after);
    free(before);
    engine_free(live);
    spec_free(sp);
    tu_rm_rf(base);
}

Test(store, observe_missing_dir_creates_nothing)
{
    char base[64], dir[128], p[160];
    tu_tmpdir("store", base, sizeof(base));
    snprintf(dir, sizeof(dir), "%s/state/deeper", base);
    char *before = dir_digest(base);
    struct spec *sp = tu_load(SPEC_BASIC);
    struct error err;
    struct engine *e = open_observer(sp, dir, false, &err);
    cr_assert_not_null(e, "%s", err.msg);
    struct snapshot *s = tu_snap(e, "one");
    cr_assert_eq(s->n_executions, 0);
    cr_assert_eq(s->n_activity, 0);
    for (size_t i = 0; i < s->n_jobs; i++)
        cr_assert_eq(s->jobs[i].status, JOB_PENDING, "%s", s->jobs[i].job_name);
    cr_assert_str_eq(s->deployment.status, "pending");
    cr_assert_not(s->cutover.complete);
    snapshot_release(s);
    cr_assert_eq(engine_start(e, &err), -1);
    engine_free(e);
    spec_free(sp);
    snprintf(p, sizeof(p), "%s/state", base);
    cr_assert_neq(access(p, F_OK), 0, "the observer created %s", p);
    char *after = dir_digest(base);
    cr_assert_str_eq(after, before);
    free(after);
    free(before);
    tu_rm_rf(base);
}

/* A corrupted or newer-format dir is refused to an observer too, and left as it was. */
Test(store, observe_refuses_bad_dir_untouched)
{
    char base[64], dir[128], dep[80], p[512], doc[256];
    tu_tmpdir("store", base, sizeof(base));
    snprintf(dir, sizeof(dir), "%s/state", base);
    run_basic(dir, dep, sizeof(dep));
    snprintf(p, sizeof(p), "%s/executions/%s/index.json", dir, dep);
    const char *junk = "{\"formatVersion\":1,\"jobs\":[tru";
    cr_assert_eq(write_file_atomic(p, junk, strlen(junk), 0600), 0);
    struct spec *sp = tu_load(SPEC_BASIC);
    struct error err;
    char *before = dir_digest(base);
    cr_assert_null(open_observer(sp, dir, false, &err));
    cr_assert_eq(err.code, EXIT_USAGE);
    cr_assert(strstr(err.file, "index.json") || strstr(err.msg, "index.json"), "%s", err.msg);
    char *after = dir_digest(base);
    cr_assert_str_eq(after, before);
    free(after);
    free(before);

    snprintf(p, sizeof(p), "%s/deployment.json", dir);
    snprintf(doc, sizeof(doc), "{\"formatVersion\":999,\"id\":\"%s\",\"status\":\"ready\"}", dep);
    cr_assert_eq(write_file_atomic(p, doc, strlen(doc), 0600), 0);
    before = dir_digest(base);
    cr_assert_null(open_observer(sp, dir, false, &err));
    cr_assert_eq(err.code, EXIT_USAGE);
    after = dir_digest(base);
    cr_assert_str_eq(after, before);
    free(after);
    free(before);
    spec_free(sp);
    tu_rm_rf(base);
}

/* --fresh would move the dir aside: an observer refuses it and moves nothing. */
Test(store, observe_with_fresh_refused)
{
    char base[64], dir[128], dep[80];
    tu_tmpdir("store", base, sizeof(base));
    snprintf(dir, sizeof(dir), "%s/state", base);
    run_basic(dir, dep, sizeof(dep));
    struct spec *sp = tu_load(SPEC_BASIC);
    struct error err;
    char *before = dir_digest(base);
    cr_assert_null(open_observer(sp, dir, true, &err));
    cr_assert_eq(err.code, EXIT_USAGE);
    cr_assert(strstr(err.msg, "fresh"), "%s", err.msg);
    char *after = dir_digest(base);
    cr_assert_str_eq(after, before);
    free(after);
    /* Without --fresh it observes the finished run. */
    struct engine *e = open_observer(sp, dir, false, &err);
    cr_assert_not_null(e, "%s", err.msg);
    struct snapshot *s = tu_snap(e, NULL);
    cr_assert(s->cutover.complete);
    cr_assert_not(s->cutover.running);
    cr_assert_eq(s->jobs[snapshot_find_job(s, "two")].status, JOB_SUCCEEDED);
    cr_assert_str_eq(s->deployment.status, "ready");
    snapshot_release(s);
    engine_free(e);
    after = dir_digest(base);
    cr_assert_str_eq(after, before);
    free(after);
    free(before);
    spec_free(sp);
    tu_rm_rf(base);
}

Test(store, observe_store_refuses_writes)
{
    char base[64];
    tu_tmpdir("store", base, sizeof(base));
    struct error err;
    error_clear(&err);
    struct store *st = store_open_observe(base, &err);
    cr_assert_not_null(st, "%s", err.msg);
    cr_assert_lt(store_log_open(st, "dep", "0123456789abcdef0123456789abcdef"), 0);
    cr_assert_neq(store_write_cutover(st, "{}", 2, &err), 0);
    cr_assert(strstr(err.msg, "observe"), "%s", err.msg);
    struct deployment d = {.id = "dep", .status = "pending"};
    cr_assert_neq(store_write_deployment(st, &d, &err), 0);
    cr_assert_neq(store_write_index(st, "dep", NULL, 0, NULL, NULL, NULL, 0, &err), 0);
    store_free(st);
    DIR *dd = opendir(base);
    struct dirent *de;
    int n = 0;
    while ((de = readdir(dd)))
        n += de->d_name[0] != '.';
    closedir(dd);
    cr_assert_eq(n, 0);
    /* A plain file is not a state dir. */
    char f[128];
    snprintf(f, sizeof(f), "%s/file", base);
    cr_assert_eq(write_file_atomic(f, "x", 1, 0600), 0);
    cr_assert_null(store_open_observe(f, &err));
    cr_assert_eq(err.code, EXIT_USAGE);
    tu_rm_rf(base);
}

Test(store, log_tail)
{
    char base[64];
    tu_tmpdir("store", base, sizeof(base));
    struct error err;
    struct store *st = store_open(base, false, &err);
    cr_assert_not_null(st);
    const char *id = "0123456789abcdef0123456789abcdef";
    struct arena *a = arena_new();
    struct log_line *l;
    size_t n, bytes;
    cr_assert_eq(store_log_tail(st, "dep", id, 10, 1 << 20, a, &l, &n, &bytes), -1);
    int fd = store_log_open(st, "dep", id);
    cr_assert_geq(fd, 0);
    /* Long enough that the window has to grow several times. */
    char m[200];
    memset(m, 'x', sizeof(m) - 1);
    m[sizeof(m) - 1] = 0;
    for (int i = 1; i <= 1000; i++) {
        snprintf(m, 8, "%06d", i);
        m[6] = ' ';
        struct log_line ll = {i, 1000 * (int64_t)i, LOG_INFO, m};
        cr_assert_eq(store_log_append(fd, &ll), 0);
    }
    cr_assert_eq(write(fd, "{\"lineNum", 9), 9); /* a torn tail */
    close(fd);
    cr_assert_eq(store_log_tail(st, "dep", id, 300, 1 << 20, a, &l, &n, &bytes), 0);
    cr_assert_eq(n, 300);
    cr_assert_eq(l[0].line_number, 701);
    cr_assert_eq(l[0].timestamp, 701000);
    cr_assert(strncmp(l[0].message, "000701 ", 7) == 0, "%s", l[0].message);
    cr_assert_eq(l[299].line_number, 1000);
    cr_assert_lt(bytes, (size_t)600 * 280, "read %zu bytes for 300 lines of ~280", bytes);
    /* Fewer lines than asked: the whole file. */
    cr_assert_eq(store_log_tail(st, "dep", id, 5000, 1 << 20, a, &l, &n, &bytes), 0);
    cr_assert_eq(n, 1000);
    cr_assert_eq(l[0].line_number, 1);
    /* The byte cap wins over the line count, and only whole lines come back. */
    cr_assert_eq(store_log_tail(st, "dep", id, 300, 2000, a, &l, &n, &bytes), 0);
    cr_assert_leq(bytes, 2000);
    cr_assert_gt(n, 0);
    cr_assert_lt(n, 20);
    cr_assert_eq(l[n - 1].line_number, 1000);
    cr_assert_eq(l[0].line_number, 1000 - (int64_t)n + 1);
    cr_assert_eq(store_log_count(st, "dep", id), 1000);
    arena_free(a);
    store_free(st);
    tu_rm_rf(base);
}

/* ---------------------------------------------------------------- activity after reopen */

Test(store, activity_refilled_on_reopen)
{
    char base[64], dir[128];
    tu_tmpdir("store", base, sizeof(base));
    snprintf(dir, sizeof(dir), "%s/state", base);
    /* 5 chained jobs x 60 lines: the feed keeps the newest 200 (b:41 .. e:60). */
    struct spec *sp = tu_load(HEAD "groups:\n  - name: g\n    jobs:\n"
                                   "      - {name: a, run: \"seq 1 60\"}\n"
                                   "      - {name: b, dependsOn: [a], run: \"seq 1 60\"}\n"
                                   "      - {name: c, dependsOn: [b], run: \"seq 1 60\"}\n"
                                   "      - {name: d, dependsOn: [c], run: \"seq 1 60\"}\n"
                                   "      - {name: e, dependsOn: [d], run: \"seq 1 60\"}\n");
    struct error err;
    struct engine *e = open_engine(sp, dir, false, &err);
    cr_assert_not_null(e, "%s", err.msg);
    cr_assert_eq(engine_start(e, &err), 0);
    wait_done(e, false);
    struct snapshot *live = tu_snap(e, NULL);
    engine_free(e);
    size_t nl = live->n_activity;
    const struct activity_line *want = live->activity;
    cr_assert_eq(nl, 200);
    cr_assert_str_eq(want[0].job_name, "b");
    cr_assert_str_eq(want[0].line.message, "41");

    for (int observe = 0; observe < 2; observe++) {
        e = observe ? open_observer(sp, dir, false, &err) : open_engine(sp, dir, false, &err);
        cr_assert_not_null(e, "reopen: %s", err.msg);
        struct snapshot *s = tu_snap(e, NULL);
        cr_assert_eq(s->n_activity, 200);
        for (size_t i = 0; i < nl; i++) {
            const struct activity_line *g = &s->activity[i];
            cr_assert_str_eq(g->job_name, want[i].job_name, "activity[%zu]", i);
            cr_assert_str_eq(g->line.message, want[i].line.message, "activity[%zu]", i);
            cr_assert_eq(g->line.line_number, want[i].line.line_number, "activity[%zu]", i);
            cr_assert_eq(g->line.timestamp, want[i].line.timestamp, "activity[%zu]", i);
            cr_assert_eq(g->line.level, want[i].line.level);
            if (i)
                cr_assert_geq(g->line.timestamp, s->activity[i - 1].line.timestamp);
        }
        cr_assert_str_eq(s->activity[199].job_name, "e");
        cr_assert_str_eq(s->activity[199].line.message, "60");
        snapshot_release(s);
        engine_free(e);
    }
    snapshot_release(live);
    spec_free(sp);
    tu_rm_rf(base);
}

/* Many concurrent jobs: the refilled feed is the newest 200 lines of all logs, in time order. */
Test(store, activity_refill_merges_concurrent_logs)
{
    char base[64], dir[128];
    tu_tmpdir("store", base, sizeof(base));
    snprintf(dir, sizeof(dir), "%s/state", base);
    struct strbuf y;
    sb_init(&y);
    sb_puts(&y, HEAD "groups:\n  - name: g\n    jobs:\n");
    for (int i = 0; i < 60; i++)
        sb_printf(&y, "      - {name: j%02d, simulate: {duration: %ds, logs: [a%d, b%d, c%d]}}\n",
                  i, i % 3, i, i, i);
    struct spec *sp = tu_load(y.buf);
    sb_fini(&y);
    struct error err;
    struct engine_config cfg = {.workers = 6, .speed = 20, .state_dir = dir};
    struct engine *e = engine_new(sp, &cfg, &err);
    cr_assert_not_null(e, "%s", err.msg);
    cr_assert_eq(engine_start(e, &err), 0);
    wait_done(e, false);
    engine_free(e);

    e = open_engine(sp, dir, false, &err);
    cr_assert_not_null(e, "%s", err.msg);
    struct snapshot *s = tu_snap(e, NULL);
    cr_assert_eq(s->n_activity, 200); /* 60 jobs x 4 lines = 240 */
    for (size_t i = 1; i < s->n_activity; i++)
        cr_assert_geq(s->activity[i].line.timestamp, s->activity[i - 1].line.timestamp);
    /* Every line strictly newer than the feed's oldest is in the feed. */
    int64_t oldest = s->activity[0].line.timestamp;
    size_t newer = 0, in_feed = 0;
    struct arena *a = arena_new();
    for (size_t k = 0; k < s->n_executions; k++) {
        struct log_page pg;
        cr_assert_eq(engine_log_page(e, s->executions[k].id, 1, 100, a, &pg), 0);
        cr_assert_eq(pg.n_lines, 4); /* [started] and the 3 simulated lines */
        for (size_t i = 0; i < pg.n_lines; i++)
            newer += pg.lines[i].timestamp > oldest;
    }
    for (size_t i = 0; i < s->n_activity; i++)
        in_feed += s->activity[i].line.timestamp > oldest;
    cr_assert_eq(newer, in_feed);
    arena_free(a);
    snapshot_release(s);
    engine_free(e);
    spec_free(sp);
    tu_rm_rf(base);
}

/* A state dir the operator created with a wide mode is restricted to 0700 on open. */
Test(store, existing_dir_restricted_to_0700)
{
    char base[256];
    tu_tmpdir("mode", base, sizeof(base));
    cr_assert_eq(chmod(base, 0755), 0);
    struct error err;
    struct store *st = store_open(base, false, &err);
    cr_assert_not_null(st, "%s", err.msg);
    struct stat sb;
    cr_assert_eq(stat(base, &sb), 0);
    cr_assert_eq(sb.st_mode & 0777, 0700);
    store_free(st);
    tu_rm_rf(base);
}

/* ---- symlinks in the state dir: refused, never followed ---- */

static void expect_open_refused(const char *dir, const char *planted)
{
    struct error err;
    error_clear(&err);
    struct store *st = store_open(dir, false, &err);
    cr_expect_null(st, "opened with %s planted", planted);
    store_free(st);
    cr_expect_eq(err.code, EXIT_USAGE, "%s: %s", planted, err.msg);
    cr_expect_str_eq(err.file, planted);
    cr_expect(strstr(err.msg, "symbolic link"), "%s", err.msg);
    error_clear(&err);
    st = store_open_observe(dir, &err);
    cr_expect_null(st, "observed with %s planted", planted);
    store_free(st);
    cr_expect_str_eq(err.file, planted);
}

Test(store, state_dir_symlink_refused)
{
    char base[64], real[128], link[128];
    tu_tmpdir("slink", base, sizeof(base));
    snprintf(real, sizeof(real), "%s/real", base);
    snprintf(link, sizeof(link), "%s/link", base);
    cr_assert_eq(mkdir(real, 0700), 0);
    cr_assert_eq(symlink(real, link), 0);
    struct error err;
    error_clear(&err);
    cr_expect_null(store_open(link, false, &err));
    cr_expect_eq(err.code, EXIT_USAGE);
    cr_expect_str_eq(err.file, link);
    cr_expect(strstr(err.msg, "symbolic link"), "%s", err.msg);
    error_clear(&err);
    cr_expect_null(store_open_observe(link, &err));
    cr_expect_str_eq(err.file, link);
    /* Nothing was made in the target. */
    DIR *d = opendir(real);
    cr_assert_not_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    cr_expect_eq(n, 0);
    tu_rm_rf(base);
}

/*
 * Each entry of a finished state dir replaced by a symlink to a copy kept
 * outside: the store refuses to open, naming the symlink, and the target is
 * neither read into state nor written.
 */
Test(store, planted_symlinks_refused_never_followed)
{
    char base[64], dir[128], dep[80];
    tu_tmpdir("plant", base, sizeof(base));
    snprintf(dir, sizeof(dir), "%s/state", base);
    run_basic(dir, dep, sizeof(dep));
    char logname[600] = "";
    char edir[300];
    snprintf(edir, sizeof(edir), "%s/executions/%s", dir, dep);
    DIR *d = opendir(edir);
    cr_assert_not_null(d);
    for (struct dirent *e; (e = readdir(d));)
        if (strstr(e->d_name, ".log"))
            snprintf(logname, sizeof(logname), "executions/%s/%s", dep, e->d_name);
    closedir(d);
    cr_assert(logname[0]);
    char depdir[128], index[160];
    snprintf(depdir, sizeof(depdir), "executions/%s", dep);
    snprintf(index, sizeof(index), "executions/%s/index.json", dep);
    const char *rels[] = {"executions", depdir, "deployment.json", "cutover-status.json",
                          index, logname};
    for (size_t i = 0; i < sizeof(rels) / sizeof(rels[0]); i++) {
        char at[700], outside[700];
        snprintf(at, sizeof(at), "%s/%s", dir, rels[i]);
        snprintf(outside, sizeof(outside), "%s/outside-%zu", base, i);
        cr_assert_eq(rename(at, outside), 0, "%s", at);
        cr_assert_eq(symlink(outside, at), 0);
        struct stat before, after;
        cr_assert_eq(stat(outside, &before), 0);
        expect_open_refused(dir, at);
        /* The engine, which would write through it, is refused the same way. */
        struct spec *sp = tu_load(SPEC_BASIC);
        struct error err;
        error_clear(&err);
        struct engine *e = open_engine(sp, dir, false, &err);
        cr_expect_null(e, "engine opened with %s planted", at);
        engine_free(e);
        spec_free(sp);
        cr_expect_eq(err.code, EXIT_USAGE);
        cr_assert_eq(stat(outside, &after), 0);
        cr_expect_eq(before.st_mtime, after.st_mtime, "%s was written", outside);
        cr_expect_eq(before.st_size, after.st_size, "%s was written", outside);
        cr_assert_eq(unlink(at), 0);
        cr_assert_eq(rename(outside, at), 0);
    }
    /* Restored, the dir opens again. */
    struct error err;
    struct store *st = store_open(dir, false, &err);
    cr_expect_not_null(st, "%s", err.msg);
    store_free(st);
    tu_rm_rf(base);
}

/* A FIFO planted as a state file is refused at open, without blocking. */
Test(store, planted_fifo_refused_without_blocking, .timeout = 20)
{
    char base[64], dir[128], p[200];
    tu_tmpdir("sfifo", base, sizeof(base));
    snprintf(dir, sizeof(dir), "%s/state", base);
    cr_assert_eq(mkdir(dir, 0700), 0);
    snprintf(p, sizeof(p), "%s/deployment.json", dir);
    cr_assert_eq(mkfifo(p, 0600), 0);
    struct error err;
    error_clear(&err);
    cr_expect_null(store_open(dir, false, &err));
    cr_expect_str_eq(err.file, p);
    cr_expect(strstr(err.msg, "regular file"), "%s", err.msg);
    tu_rm_rf(base);
}

/* Planted after the store opened: the write paths still never follow it. */
Test(store, symlink_planted_while_open_not_followed)
{
    char base[64], dir[128], p[300], outside[200];
    tu_tmpdir("late", base, sizeof(base));
    snprintf(dir, sizeof(dir), "%s/state", base);
    struct error err;
    error_clear(&err);
    struct store *st = store_open(dir, false, &err);
    cr_assert_not_null(st, "%s", err.msg);
    const char *dep = "0123456789abcdef";
    snprintf(outside, sizeof(outside), "%s/outside.log", base);
    FILE *f = fopen(outside, "w");
    cr_assert_not_null(f);
    fclose(f);
    snprintf(p, sizeof(p), "%s/executions/%s", dir, dep);
    cr_assert_eq(mkdir_p(p, 0700), 0);
    snprintf(p, sizeof(p), "%s/executions/%s/x.log", dir, dep);
    cr_assert_eq(symlink(outside, p), 0);
    int fd = store_log_open(st, dep, "x");
    cr_expect_lt(fd, 0);
    cr_expect_eq(errno, ELOOP);
    if (fd >= 0)
        close(fd);
    /* executions/<depId> itself replaced by a symlink to a dir outside. */
    char edir[300], odir[200];
    snprintf(edir, sizeof(edir), "%s/executions/%s", dir, dep);
    snprintf(odir, sizeof(odir), "%s/outside-dir", base);
    cr_assert_eq(mkdir(odir, 0700), 0);
    tu_rm_rf(edir);
    cr_assert_eq(symlink(odir, edir), 0);
    fd = store_log_open(st, dep, "y");
    cr_expect_lt(fd, 0);
    error_clear(&err);
    cr_expect_eq(store_write_index(st, dep, NULL, 0, NULL, NULL, NULL, 0, &err), -1);
    cr_expect_str_eq(err.file, edir);
    DIR *d = opendir(odir);
    cr_assert_not_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    cr_expect_eq(n, 0, "files were made through the symlink");
    struct stat sb;
    cr_assert_eq(stat(outside, &sb), 0);
    cr_expect_eq(sb.st_size, 0);
    store_free(st);
    tu_rm_rf(base);
}
