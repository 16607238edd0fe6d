/* store: durable state files (see store.h). */
#include "store.h"

#include "arena.h"
#include "wire.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#define STORE_MAX_JSON ((size_t)1 << 30)

static int (*fault_fn)(void *, const char *);
static void *fault_ctx;

void store_set_fault_hook(int (*fn)(void *ctx, const char *what), void *ctx)
{
    fault_ctx = ctx;
    fault_fn = fn;
}

/* True (errno set) when the test hook fails this operation. */
static bool fault(const char *what)
{
    int e = fault_fn ? fault_fn(fault_ctx, what) : 0;
    if (e)
        errno = e;
    return e != 0;
}

struct store {
    char *dir;                 /* owned */
    int lock_fd;               /* the dir itself, flock'ed while the store is open; -1 observing */
    bool observe;              /* read only: another process may own the dir */
    bool index_dir_synced;     /* executions/<depId> is durably linked into the dir */
};

/* fsync of a directory, so the entries just made in it survive a crash. */
static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int r = fsync(fd);
    close(fd);
    return r;
}

/* An observing store must never change the dir another process is running. */
static bool refuse_write(const struct store *s, struct error *err)
{
    if (!s->observe)
        return false;
    if (err)
        error_at(err, EXIT_FAILED, s->dir, 0, 0, "state dir opened to observe; not written");
    errno = EROFS;
    return true;
}

static char *path_join(const char *a, const char *b, const char *c);

long store_lock_holder(const char *dir)
{
    char *path = path_join(dir, STORE_PID_FILE, NULL);
    if (!path)
        return 0;
    long pid = 0;
    /* The holder writes the file right after taking the lock: give it a moment. */
    for (int attempt = 0; attempt < 5 && pid <= 0; attempt++) {
        if (attempt) {
            struct timespec ts = {0, 20 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
            continue;
        char buf[32];
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n <= 0)
            continue;
        buf[n] = '\0';
        char *end;
        errno = 0;
        long v = strtol(buf, &end, 10);
        if (!errno && end != buf && (*end == '\n' || !*end) && v > 0)
            pid = v;
    }
    free(path);
    /* A file left by a crash may name a pid that is gone (or reused; the lock decides). */
    if (pid > 0 && kill((pid_t)pid, 0) != 0 && errno != EPERM)
        pid = 0;
    return pid;
}

int store_lock_probe(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : -1;
    int rc = 0;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0)
        rc = errno == EWOULDBLOCK ? 1 : -1;
    close(fd); /* releases the trial lock at once */
    return rc;
}

/* Records who holds the lock, for the refusals and attach labels of later launches. */
static void write_pid_file(const char *dir)
{
    char *path = path_join(dir, STORE_PID_FILE, NULL);
    if (!path)
        return;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    free(path);
    if (fd < 0)
        return;
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
    ssize_t w = write(fd, buf, (size_t)n);
    (void)w; /* best effort: without it the refusal just cannot name the pid */
    close(fd);
}

/* One process per state dir: a second engine would "recover" live executions. */
static int lock_dir(const char *dir, struct error *err)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        error_at(err, EXIT_USAGE, dir, 0, 0, "cannot open the state dir: %s", strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        close(fd);
        long pid = e == EWOULDBLOCK ? store_lock_holder(dir) : 0;
        if (pid > 0)
            error_at(err, EXIT_USAGE, dir, 0, 0,
                     "state dir is in use by catalyst-tui pid %ld; wait for it to finish "
                     "or stop it with kill %ld", pid, pid);
        else if (e == EWOULDBLOCK)
            error_at(err, EXIT_USAGE, dir, 0, 0,
                     "state dir is in use by another catalyst-tui process");
        else
            error_at(err, EXIT_USAGE, dir, 0, 0, "cannot lock the state dir: %s", strerror(e));
        return -1;
    }
    return fd;
}

static char *path_join(const char *a, const char *b, const char *c)
{
    size_t n = strlen(a) + strlen(b) + (c ? strlen(c) : 0) + 3;
    char *p = malloc(n);
    if (!p)
        return NULL;
    if (c)
        snprintf(p, n, "%s/%s/%s", a, b, c);
    else
        snprintf(p, n, "%s/%s", a, b);
    return p;
}

static int move_aside(const char *dir, struct error *err)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    char stamp[32];
    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%S", &tm);
    size_t n = strlen(dir) + 64;
    char *to = malloc(n);
    if (!to) {
        error_set(err, EXIT_FAILED, "out of memory");
        return -1;
    }
    snprintf(to, n, "%s.old-%s", dir, stamp);
    /* Two --fresh runs in one second must not collide. */
    for (int k = 1; access(to, F_OK) == 0 && k < 1000; k++)
        snprintf(to, n, "%s.old-%s-%d", dir, stamp, k);
    if (rename(dir, to) != 0) {
        error_at(err, EXIT_USAGE, dir, 0, 0, "cannot move the state dir aside to %s: %s", to,
                 strerror(errno));
        free(to);
        return -1;
    }
    free(to);
    return 0;
}

/*
 * Symlinks in the state dir: everything in it is ours, so a symlink there was
 * planted (by another user who could write a parent, a restored backup, a
 * mistake) and following it would read or write a file elsewhere: the dir
 * itself, executions/, executions/<depId>/ and the files in them are refused
 * when they are symlinks (lstat, O_NOFOLLOW), naming the path (EXIT_USAGE).
 */
static int refuse_kind(const char *path, const struct stat *st, bool want_dir, struct error *err)
{
    if (S_ISLNK(st->st_mode)) {
        error_at(err, EXIT_USAGE, path, 0, 0,
                 "is a symbolic link inside the state dir; refused, never followed "
                 "(remove it, or use --state-dir with a real directory)");
        return -1;
    }
    if (want_dir ? !S_ISDIR(st->st_mode) : !S_ISREG(st->st_mode)) {
        error_at(err, EXIT_USAGE, path, 0, 0, "should be a %s in the state dir; refused",
                 want_dir ? "directory" : "regular file");
        return -1;
    }
    return 0;
}

/* path (absent is fine) must be a real directory, not a symlink to one. */
static int check_dir(const char *path, struct error *err)
{
    struct stat st;
    if (lstat(path, &st) != 0) {
        if (errno == ENOENT)
            return 0;
        error_at(err, EXIT_USAGE, path, 0, 0, "cannot stat: %s", strerror(errno));
        return -1;
    }
    return refuse_kind(path, &st, true, err);
}

/* Every entry of the open directory dfd (named path) is a real file (or dir when dirs). */
static int check_entries(int dfd, const char *path, bool dirs, struct error *err)
{
    DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        error_at(err, EXIT_USAGE, path, 0, 0, "cannot read: %s", strerror(errno));
        return -1;
    }
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        struct stat st;
        char *p = path_join(path, e->d_name, NULL);
        if (!p) {
            error_set(err, EXIT_FAILED, "out of memory");
            rc = -1;
        } else if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno != ENOENT) {
                error_at(err, EXIT_USAGE, p, 0, 0, "cannot stat: %s", strerror(errno));
                rc = -1;
            }
        } else if (dirs && S_ISDIR(st.st_mode)) {
            int sub = openat(dirfd(d), e->d_name,
                             O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub < 0) {
                error_at(err, EXIT_USAGE, p, 0, 0, "cannot open: %s", strerror(errno));
                rc = -1;
            } else {
                rc = check_entries(sub, p, false, err);
            }
        } else {
            rc = refuse_kind(p, &st, dirs, err);
        }
        free(p);
    }
    closedir(d);
    return rc;
}

/* The layout under dir (DESIGN §5) holds no symlink; checked once at open. */
static int check_layout(const char *dir, struct error *err)
{
    static const char *const files[] = {"deployment.json", "cutover-status.json",
                                        "console.log", "console.log.1", STORE_PID_FILE};
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < sizeof(files) / sizeof(files[0]); i++) {
        char *p = path_join(dir, files[i], NULL);
        struct stat st;
        if (!p) {
            error_set(err, EXIT_FAILED, "out of memory");
            return -1;
        }
        if (lstat(p, &st) == 0)
            rc = refuse_kind(p, &st, false, err);
        free(p);
    }
    char *ex = rc == 0 ? path_join(dir, "executions", NULL) : NULL;
    if (rc == 0 && !ex) {
        error_set(err, EXIT_FAILED, "out of memory");
        return -1;
    }
    if (rc == 0)
        rc = check_dir(ex, err);
    if (rc == 0) {
        int fd = open(ex, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0)
            rc = check_entries(fd, ex, true, err);
    }
    free(ex);
    return rc;
}

/* executions/ and executions/<depId>/ are real directories (after mkdir_p made them). */
static int check_dep_dirs(const struct store *s, const char *dep_id, struct error *err)
{
    char sub[128];
    snprintf(sub, sizeof(sub), "executions/%s", dep_id);
    char *ex = path_join(s->dir, "executions", NULL);
    char *dd = path_join(s->dir, sub, NULL);
    int rc = -1;
    if (!ex || !dd) {
        error_set(err, EXIT_FAILED, "out of memory");
        errno = ENOMEM;
    } else if (check_dir(ex, err) == 0 && check_dir(dd, err) == 0) {
        rc = 0;
    } else {
        errno = ELOOP;
    }
    free(ex);
    free(dd);
    return rc;
}

struct store *store_open(const char *dir, bool fresh, struct error *err)
{
    struct stat sb;
    bool exists = lstat(dir, &sb) == 0;
    if (exists && S_ISLNK(sb.st_mode)) {
        error_at(err, EXIT_USAGE, dir, 0, 0,
                 "state dir is a symbolic link; refused (give the real directory)");
        return NULL;
    }
    if (exists && !S_ISDIR(sb.st_mode)) {
        error_at(err, EXIT_USAGE, dir, 0, 0, "state dir is not a directory");
        return NULL;
    }
    if (exists && fresh) {
        /* Never move a dir another process is using. */
        int fd = lock_dir(dir, err);
        if (fd < 0)
            return NULL;
        int rc = move_aside(dir, err);
        close(fd);
        if (rc != 0)
            return NULL;
    }
    if (mkdir_p(dir, 0700) != 0) {
        error_at(err, EXIT_USAGE, dir, 0, 0, "cannot create the state dir: %s", strerror(errno));
        return NULL;
    }
    /* A dir the operator made by hand holds logs and secrets' neighbours: 0700 like ours. */
    if (exists && !fresh && (sb.st_mode & 077) && chmod(dir, 0700) != 0) {
        error_at(err, EXIT_USAGE, dir, 0, 0, "cannot restrict the state dir to 0700: %s",
                 strerror(errno));
        return NULL;
    }
    if (!exists || fresh) {
        /* A new dir must stay linked in its parent, or a crash loses all of it. */
        char *parent = strdup(dir);
        char *slash = parent ? strrchr(parent, '/') : NULL;
        if (slash == parent)
            slash[1] = '\0';
        else if (slash)
            *slash = '\0';
        if (parent)
            fsync_dir(slash ? parent : ".");
        free(parent);
    }
    int fd = lock_dir(dir, err);
    if (fd < 0)
        return NULL;
    if (check_layout(dir, err) != 0) {
        close(fd);
        return NULL;
    }
    struct store *s = calloc(1, sizeof(*s));
    if (!s || !(s->dir = strdup(dir))) {
        free(s);
        close(fd);
        error_set(err, EXIT_FAILED, "out of memory");
        return NULL;
    }
    s->lock_fd = fd;
    write_pid_file(dir);
    return s;
}

struct store *store_open_observe(const char *dir, struct error *err)
{
    struct stat sb;
    if (lstat(dir, &sb) == 0) {
        if (S_ISLNK(sb.st_mode)) {
            error_at(err, EXIT_USAGE, dir, 0, 0,
                     "state dir is a symbolic link; refused (give the real directory)");
            return NULL;
        }
        if (!S_ISDIR(sb.st_mode)) {
            error_at(err, EXIT_USAGE, dir, 0, 0, "state dir is not a directory");
            return NULL;
        }
        if (check_layout(dir, err) != 0)
            return NULL;
    } else if (errno != ENOENT) {
        error_at(err, EXIT_USAGE, dir, 0, 0, "cannot open the state dir: %s", strerror(errno));
        return NULL;
    }
    struct store *s = calloc(1, sizeof(*s));
    if (!s || !(s->dir = strdup(dir))) {
        free(s);
        error_set(err, EXIT_FAILED, "out of memory");
        return NULL;
    }
    s->lock_fd = -1;
    s->observe = true;
    return s;
}

void store_free(struct store *s)
{
    if (!s)
        return;
    if (s->lock_fd >= 0) {
        /* Under the lock still: a successor's own pid file is never removed. */
        char *pid_path = path_join(s->dir, STORE_PID_FILE, NULL);
        if (pid_path)
            unlink(pid_path);
        free(pid_path);
        close(s->lock_fd);
    }
    free(s->dir);
    free(s);
}

const char *store_dir(const struct store *s) { return s->dir; }

void store_state_fini(struct store_state *st)
{
    for (size_t i = 0; i < st->n_jobs; i++) {
        free(st->jobs[i].id);
        free(st->jobs[i].job_name);
    }
    free(st->jobs);
    for (size_t i = 0; i < st->n_execs; i++)
        free(st->execs[i].job_id);
    free(st->execs);
    free(st->cutover_json);
    memset(st, 0, sizeof(*st));
}

/* Reads and parses a JSON object file. 1 loaded, 0 missing, -1 refused (err). */
static int load_json(const char *path, cJSON **out, struct error *err)
{
    char *data;
    size_t len;
    *out = NULL;
    struct error rerr;
    error_clear(&rerr);
    if (util_read_regular(path, UTIL_NOFOLLOW, STORE_MAX_JSON, &data, &len, &rerr) != 0) {
        if (errno == ENOENT)
            return 0;
        error_at(err, EXIT_USAGE, path, 0, 0, "state file %s", rerr.msg);
        return -1;
    }
    cJSON *root = wire_json_parse(data, len, NULL);
    free(data);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        error_at(err, EXIT_USAGE, path, 0, 0,
                 "corrupted state file (not a JSON object); use --fresh to start over");
        return -1;
    }
    const cJSON *fv = cJSON_GetObjectItemCaseSensitive(root, "formatVersion");
    if (!cJSON_IsNumber(fv)) {
        cJSON_Delete(root);
        error_at(err, EXIT_USAGE, path, 0, 0, "corrupted state file (no formatVersion)");
        return -1;
    }
    if (fv->valuedouble > STORE_FORMAT_VERSION || fv->valuedouble < 1) {
        error_at(err, EXIT_USAGE, path, 0, 0,
                 "state file has formatVersion %g; this build reads %d (newer catalyst-tui?)",
                 fv->valuedouble, STORE_FORMAT_VERSION);
        cJSON_Delete(root);
        return -1;
    }
    *out = root;
    return 1;
}

static const char *jstr(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static int64_t jtime(const cJSON *o, const char *k)
{
    int64_t v = 0;
    if (time_parse(jstr(o, k), &v) != 0)
        return 0;
    return v;
}

static int64_t jint(const cJSON *o, const char *k, int64_t dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!cJSON_IsNumber(v))
        return dflt;
    /* A tampered file's 1e300 or NaN must not reach the cast (undefined behaviour). */
    double d = v->valuedouble;
    if (!(d >= -4611686018427387904.0 && d <= 4611686018427387904.0))
        return dflt;
    return (int64_t)d;
}

static int load_index(const cJSON *root, const char *path, struct store_state *st,
                      struct error *err)
{
    const cJSON *jobs = cJSON_GetObjectItemCaseSensitive(root, "jobs");
    const cJSON *execs = cJSON_GetObjectItemCaseSensitive(root, "executions");
    if (!cJSON_IsArray(jobs) || !cJSON_IsArray(execs)) {
        error_at(err, EXIT_USAGE, path, 0, 0, "corrupted state file (jobs/executions missing)");
        return -1;
    }
    size_t nj = (size_t)cJSON_GetArraySize(jobs), ne = (size_t)cJSON_GetArraySize(execs);
    st->jobs = calloc(nj ? nj : 1, sizeof(*st->jobs));
    st->execs = calloc(ne ? ne : 1, sizeof(*st->execs));
    if (!st->jobs || !st->execs) {
        error_set(err, EXIT_FAILED, "out of memory");
        return -1;
    }
    const cJSON *it;
    size_t i = 0;
    cJSON_ArrayForEach(it, jobs) {
        if (!cJSON_IsObject(it) || !*jstr(it, "id")) {
            error_at(err, EXIT_USAGE, path, 0, 0, "corrupted state file (jobs[%zu])", i);
            return -1;
        }
        struct store_job *j = &st->jobs[st->n_jobs++];
        j->id = strdup(jstr(it, "id"));
        j->job_name = strdup(jstr(it, "jobName"));
        int s = job_status_parse(jstr(it, "status"));
        j->status = s < 0 ? JOB_PENDING : (enum job_status)s;
        j->started_at = jtime(it, "startedAt");
        j->finished_at = jtime(it, "finishedAt");
        j->retries_left = (int)jint(it, "retriesLeft", -1);
        j->is_group = strcmp(jstr(it, "type"), "group") == 0;
        if (!j->id || !j->job_name) {
            error_set(err, EXIT_FAILED, "out of memory");
            return -1;
        }
        i++;
    }
    i = 0;
    cJSON_ArrayForEach(it, execs) {
        const char *id = cJSON_IsObject(it) ? jstr(it, "id") : "";
        int s = exec_status_parse(jstr(it, "status"));
        /* The id names a log file that recovery truncates: hex only, never a path. */
        if (strlen(id) != 32 || strspn(id, "0123456789abcdef") != 32 || s < 0) {
            error_at(err, EXIT_USAGE, path, 0, 0, "corrupted state file (executions[%zu])", i);
            return -1;
        }
        struct store_exec *x = &st->execs[st->n_execs++];
        memcpy(x->id, id, 33);
        x->job_id = strdup(jstr(it, "jobId"));
        x->status = (enum exec_status)s;
        x->started_at = jtime(it, "startedAt");
        x->finished_at = jtime(it, "finishedAt");
        x->line_count = jint(it, "lineCount", 0);
        x->meta.interrupted = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "interrupted"));
        int64_t pg = jint(it, "pgid", 0);
        x->meta.pgid = pg > 1 && pg < INT_MAX ? (int)pg : 0;
        x->meta.proc_start = jint(it, "procStart", 0);
        snprintf(x->meta.boot_id, sizeof(x->meta.boot_id), "%s", jstr(it, "bootId"));
        snprintf(x->meta.error, sizeof(x->meta.error), "%s", jstr(it, "error"));
        if (!x->job_id) {
            error_set(err, EXIT_FAILED, "out of memory");
            return -1;
        }
        i++;
    }
    return 0;
}

/* Only characters that cannot escape the executions dir. */
static bool safe_component(const char *s)
{
    if (!*s || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return false;
    for (; *s; s++)
        if (*s == '/')
            return false;
    return true;
}

int store_load(struct store *s, struct store_state *st, struct error *err)
{
    memset(st, 0, sizeof(*st));
    char *dpath = path_join(s->dir, "deployment.json", NULL);
    char *cpath = path_join(s->dir, "cutover-status.json", NULL);
    char *ipath = NULL;
    cJSON *root = NULL;
    int rc = -1;
    if (!dpath || !cpath) {
        error_set(err, EXIT_FAILED, "out of memory");
        goto out;
    }
    int r = load_json(dpath, &root, err);
    if (r < 0)
        goto out;
    if (r > 0) {
        const char *id = jstr(root, "id");
        if (!safe_component(id) || strlen(id) >= sizeof(st->dep.id)) {
            error_at(err, EXIT_USAGE, dpath, 0, 0, "corrupted state file (bad \"id\")");
            goto out;
        }
        st->has_deployment = true;
        snprintf(st->dep.id, sizeof(st->dep.id), "%s", id);
        snprintf(st->dep.status, sizeof(st->dep.status), "%s", jstr(root, "status"));
        st->dep.started_at = jtime(root, "startedAt");
        st->dep.finished_at = jtime(root, "finishedAt");
        st->dep.phase1_finished_at = jtime(root, "phase1FinishedAt");
        snprintf(st->dep.phase1_outcome, sizeof(st->dep.phase1_outcome), "%s",
                 jstr(root, "phase1Outcome"));
        st->dep.handover_fired_at = jtime(root, "handoverFiredAt");
        cJSON_Delete(root);
        root = NULL;
        char sub[128];
        snprintf(sub, sizeof(sub), "executions/%s", st->dep.id);
        ipath = path_join(s->dir, sub, "index.json");
        if (!ipath) {
            error_set(err, EXIT_FAILED, "out of memory");
            goto out;
        }
        if (check_dep_dirs(s, st->dep.id, err) != 0)
            goto out;
        r = load_json(ipath, &root, err);
        if (r < 0)
            goto out;
        if (r > 0) {
            if (strcmp(jstr(root, "deploymentId"), st->dep.id) != 0) {
                error_at(err, EXIT_USAGE, ipath, 0, 0,
                         "corrupted state file (deploymentId is not %s)", st->dep.id);
                goto out;
            }
            st->has_index = true;
            if (load_index(root, ipath, st, err) != 0)
                goto out;
        }
    }
    char *data;
    size_t len;
    struct error rerr;
    error_clear(&rerr);
    if (util_read_regular(cpath, UTIL_NOFOLLOW, STORE_MAX_JSON, &data, &len, &rerr) == 0) {
        st->cutover_json = data;
        st->cutover_len = len;
    } else if (errno != ENOENT) {
        error_at(err, EXIT_USAGE, cpath, 0, 0, "state file %s", rerr.msg);
        goto out;
    }
    rc = 0;
out:
    if (rc != 0)
        store_state_fini(st);
    cJSON_Delete(root);
    free(dpath);
    free(cpath);
    free(ipath);
    return rc;
}

static void put_time(struct strbuf *sb, const char *key, int64_t ms)
{
    if (!ms)
        return;
    char t[40];
    sb_printf(sb, ",\"%s\":\"%s\"", key, time_format(ms, t, sizeof(t)));
}

static void put_str(struct strbuf *sb, const char *key, const char *v)
{
    sb_printf(sb, ",\"%s\":", key);
    sb_json_str(sb, v ? v : "");
}

static int write_json(const char *path, const char *what, struct strbuf *sb, struct error *err)
{
    if (sb->oom) {
        error_set(err, EXIT_FAILED, "out of memory");
        return -1;
    }
    if (fault(what) || write_file_atomic(path, sb->buf, sb->len, 0600) != 0) {
        error_at(err, EXIT_FAILED, path, 0, 0, "cannot write state file: %s", strerror(errno));
        return -1;
    }
    return 0;
}

int store_write_deployment(struct store *s, const struct deployment *d, struct error *err)
{
    if (refuse_write(s, err))
        return -1;
    struct strbuf sb;
    sb_init(&sb);
    sb_printf(&sb, "{\"formatVersion\":%d", STORE_FORMAT_VERSION);
    put_str(&sb, "id", d->id);
    put_str(&sb, "status", d->status);
    put_time(&sb, "startedAt", d->started_at);
    if (d->finished_at)
        put_time(&sb, "finishedAt", d->finished_at);
    else
        sb_puts(&sb, ",\"finishedAt\":null");
    put_str(&sb, "sovereignFQDN", d->sovereign_fqdn);
    put_str(&sb, "region", d->region);
    put_time(&sb, "phase1FinishedAt", d->phase1_finished_at);
    if (d->phase1_outcome && *d->phase1_outcome)
        put_str(&sb, "phase1Outcome", d->phase1_outcome);
    put_time(&sb, "handoverFiredAt", d->handover_fired_at);
    sb_puts(&sb, "}\n");
    char *path = path_join(s->dir, "deployment.json", NULL);
    int rc = path ? write_json(path, "deployment", &sb, err) : -1;
    if (!path)
        error_set(err, EXIT_FAILED, "out of memory");
    free(path);
    sb_fini(&sb);
    return rc;
}

static void put_str_array(struct strbuf *sb, const char *key, const char *const *v, size_t n)
{
    sb_printf(sb, ",\"%s\":[", key);
    for (size_t i = 0; i < n; i++) {
        if (i)
            sb_putc(sb, ',');
        sb_json_str(sb, v[i]);
    }
    sb_putc(sb, ']');
}

static void encode_job(struct strbuf *sb, const struct job *j, int retries_left)
{
    sb_puts(sb, "{\"id\":");
    sb_json_str(sb, j->id);
    put_str(sb, "deploymentId", j->deployment_id);
    put_str(sb, "jobName", j->job_name);
    if (j->display_name && *j->display_name)
        put_str(sb, "displayName", j->display_name);
    sb_printf(sb, ",\"type\":\"%s\",\"kind\":\"%s\"", j->is_group ? "group" : "install",
              job_kind_name(j->kind));
    if (j->app_id && *j->app_id)
        put_str(sb, "appId", j->app_id);
    put_str(sb, "parentId", j->parent_id);
    put_str_array(sb, "dependsOn", j->depends_on, j->n_depends_on);
    if (j->is_group)
        put_str_array(sb, "childIds", j->child_ids, j->n_child_ids);
    sb_printf(sb, ",\"status\":\"%s\"", job_status_name(j->status));
    put_time(sb, "startedAt", j->started_at);
    put_time(sb, "finishedAt", j->finished_at);
    sb_printf(sb, ",\"durationMs\":%lld", (long long)j->duration_ms);
    if (j->latest_execution_id && *j->latest_execution_id)
        put_str(sb, "latestExecutionId", j->latest_execution_id);
    if (retries_left >= 0)
        sb_printf(sb, ",\"retriesLeft\":%d", retries_left);
    sb_putc(sb, '}');
}

static void encode_exec(struct strbuf *sb, const struct execution *x,
                        const struct store_exec_meta *m)
{
    sb_puts(sb, "{\"id\":");
    sb_json_str(sb, x->id);
    put_str(sb, "jobId", x->job_id);
    put_str(sb, "deploymentId", x->deployment_id);
    sb_printf(sb, ",\"status\":\"%s\"", exec_status_name(x->status));
    put_time(sb, "startedAt", x->started_at);
    put_time(sb, "finishedAt", x->finished_at);
    sb_printf(sb, ",\"lineCount\":%lld", (long long)x->line_count);
    if (m && m->interrupted)
        sb_puts(sb, ",\"interrupted\":true");
    if (m && m->pgid > 1) {
        sb_printf(sb, ",\"pgid\":%d,\"procStart\":%lld", m->pgid, (long long)m->proc_start);
        put_str(sb, "bootId", m->boot_id);
    }
    if (m && m->error[0])
        put_str(sb, "error", m->error);
    sb_putc(sb, '}');
}

int store_write_index(struct store *s, const char *dep_id, const struct job *jobs, size_t n_jobs,
                      const int *retries_left, const struct execution *execs,
                      const struct store_exec_meta *meta, size_t n_execs, struct error *err)
{
    if (refuse_write(s, err))
        return -1;
    char sub[128];
    snprintf(sub, sizeof(sub), "executions/%s", dep_id);
    char *dir = path_join(s->dir, sub, NULL);
    char *path = path_join(s->dir, sub, "index.json");
    int rc = -1;
    struct strbuf sb;
    sb_init(&sb);
    if (!dir || !path) {
        error_set(err, EXIT_FAILED, "out of memory");
        goto out;
    }
    if (mkdir_p(dir, 0700) != 0) {
        error_at(err, EXIT_FAILED, dir, 0, 0, "cannot create: %s", strerror(errno));
        goto out;
    }
    /* mkdir_p accepts an existing symlink to a directory: refuse it here. */
    if (check_dep_dirs(s, dep_id, err) != 0)
        goto out;
    /*
     * The rename below fsyncs only executions/<depId>; the entries that link
     * it into the state dir must be durable too, or a crash could lose the
     * whole index (every finished result) while deployment.json survives.
     */
    if (!s->index_dir_synced) {
        char *ex = path_join(s->dir, "executions", NULL);
        if (!ex || fsync_dir(ex) != 0 || fsync_dir(s->dir) != 0) {
            error_at(err, EXIT_FAILED, dir, 0, 0, "cannot sync: %s",
                     ex ? strerror(errno) : "out of memory");
            free(ex);
            goto out;
        }
        free(ex);
        s->index_dir_synced = true;
    }
    sb_printf(&sb, "{\"formatVersion\":%d,\"deploymentId\":", STORE_FORMAT_VERSION);
    sb_json_str(&sb, dep_id);
    sb_puts(&sb, ",\"jobs\":[");
    for (size_t i = 0; i < n_jobs; i++) {
        if (i)
            sb_putc(&sb, ',');
        encode_job(&sb, &jobs[i], retries_left ? retries_left[i] : -1);
    }
    sb_puts(&sb, "],\"executions\":[");
    for (size_t i = 0; i < n_execs; i++) {
        if (i)
            sb_putc(&sb, ',');
        encode_exec(&sb, &execs[i], meta ? &meta[i] : NULL);
    }
    sb_puts(&sb, "]}\n");
    rc = write_json(path, "index", &sb, err);
out:
    sb_fini(&sb);
    free(dir);
    free(path);
    return rc;
}

int store_write_cutover(struct store *s, const char *json, size_t len, struct error *err)
{
    if (refuse_write(s, err))
        return -1;
    char *path = path_join(s->dir, "cutover-status.json", NULL);
    if (!path) {
        error_set(err, EXIT_FAILED, "out of memory");
        return -1;
    }
    int rc = 0;
    if (fault("cutover") || write_file_atomic(path, json, len, 0600) != 0) {
        error_at(err, EXIT_FAILED, path, 0, 0, "cannot write state file: %s", strerror(errno));
        rc = -1;
    }
    free(path);
    return rc;
}

static char *log_path(struct store *s, const char *dep_id, const char *exec_id)
{
    char sub[128], name[64];
    snprintf(sub, sizeof(sub), "executions/%s", dep_id);
    snprintf(name, sizeof(name), "%s.log", exec_id);
    return path_join(s->dir, sub, name);
}

/* An execution's log opened for reading; -1 when it is missing or out of memory. */
static int log_open_read(struct store *s, const char *dep_id, const char *exec_id)
{
    char *path = log_path(s, dep_id, exec_id);
    if (!path)
        return -1;
    int fd = util_open_regular(path, UTIL_NOFOLLOW, NULL);
    free(path);
    return fd;
}

int store_log_open(struct store *s, const char *dep_id, const char *exec_id)
{
    if (refuse_write(s, NULL))
        return -1;
    char sub[128];
    snprintf(sub, sizeof(sub), "executions/%s", dep_id);
    char *dir = path_join(s->dir, sub, NULL);
    char *path = log_path(s, dep_id, exec_id);
    int fd = -1;
    if (fault("log-open")) {
        fd = -1; /* errno is the test hook's */
    } else if (dir && path && mkdir_p(dir, 0700) == 0 && check_dep_dirs(s, dep_id, NULL) == 0) {
        /* No symlink followed; a FIFO planted there fails (ENXIO) or is refused. */
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC,
                  0600);
        struct stat st;
        if (fd >= 0 && (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))) {
            close(fd);
            fd = -1;
            errno = EINVAL;
        }
    } else if (!dir || !path) {
        errno = ENOMEM;
    }
    free(dir);
    free(path);
    return fd;
}

int store_log_append(int fd, const struct log_line *l)
{
    return store_log_append_n(fd, l, NULL);
}

int store_log_append_n(int fd, const struct log_line *l, size_t *bytes)
{
    struct strbuf sb;
    char t[40];
    if (bytes)
        *bytes = 0;
    sb_init(&sb);
    sb_printf(&sb, "{\"lineNumber\":%lld,\"timestamp\":\"%s\",\"level\":\"%s\",\"message\":",
              (long long)l->line_number, time_format(l->timestamp, t, sizeof(t)),
              log_level_name(l->level));
    sb_json_str(&sb, l->message);
    sb_puts(&sb, "}\n");
    if (sb.oom) {
        sb_fini(&sb);
        errno = ENOMEM;
        return -1;
    }
    /* One writer per log: where the file ends is where this line starts. */
    off_t start = lseek(fd, 0, SEEK_END);
    size_t off = 0;
    int rc = 0;
    if (fault("log-append")) {
        rc = -1;
        /* Like a disk that filled up mid-line: half of it lands. */
        int e = errno;
        ssize_t w = write(fd, sb.buf, sb.len / 2);
        (void)w;
        errno = e;
    }
    while (rc == 0 && off < sb.len) {
        ssize_t w = write(fd, sb.buf + off, sb.len - off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            rc = -1;
            break;
        }
        off += (size_t)w;
    }
    if (rc != 0 && start >= 0) {
        /* A torn line would be the file's last: cut it, so count == readable lines. */
        int e = errno;
        int tr = ftruncate(fd, start);
        (void)tr;
        errno = e;
    }
    if (rc == 0 && bytes)
        *bytes = sb.len;
    sb_fini(&sb);
    return rc;
}

int store_check_space(int fd, uint64_t reserve)
{
    struct statvfs v;
    if (fstatvfs(fd, &v) != 0)
        return -1;
    /* f_bavail counts the blocks an unprivileged writer may still use. */
    if ((uint64_t)v.f_bavail * (uint64_t)v.f_frsize < reserve) {
        errno = ENOSPC;
        return -1;
    }
    return 0;
}

/* Complete lines of fd from its start and the offset just past the last one; -1 on error. */
static int count_lines(int fd, int64_t *n, off_t *end)
{
    char buf[65536];
    off_t off = 0;
    *n = 0;
    *end = 0;
    for (;;) {
        ssize_t r = pread(fd, buf, sizeof(buf), off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            return 0;
        for (ssize_t i = 0; i < r; i++)
            if (buf[i] == '\n') {
                (*n)++;
                *end = off + i + 1;
            }
        off += r;
    }
}

int64_t store_log_count(struct store *s, const char *dep_id, const char *exec_id)
{
    int fd = log_open_read(s, dep_id, exec_id);
    if (fd < 0)
        return -1;
    int64_t n;
    off_t end;
    int rc = count_lines(fd, &n, &end);
    close(fd);
    return rc == 0 ? n : -1;
}

int64_t store_log_repair(struct store *s, const char *dep_id, const char *exec_id)
{
    char *path = log_path(s, dep_id, exec_id);
    if (!path)
        return 0;
    int fd = s->observe ? -1 : open(path, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    free(path);
    if (fd < 0) {
        /* Not ours to cut (or not writable): count; reads skip a torn tail anyway. */
        int64_t c = store_log_count(s, dep_id, exec_id);
        return c > 0 ? c : 0;
    }
    int64_t n = 0;
    off_t end = 0;
    struct stat sb;
    if (count_lines(fd, &n, &end) == 0 && fstat(fd, &sb) == 0 && end < sb.st_size) {
        /* A torn tail that cannot be cut is still skipped on read. */
        int tr = ftruncate(fd, end);
        (void)tr;
    }
    close(fd);
    return n;
}

/* One NDJSON line (without its newline) into l; ln when it carries no lineNumber. */
static int parse_line(const char *p, size_t len, int64_t ln, struct arena *a, struct log_line *l)
{
    cJSON *o = wire_json_parse(p, len, NULL);
    bool ok = cJSON_IsObject(o);
    l->line_number = ok ? jint(o, "lineNumber", ln) : ln;
    l->timestamp = ok ? jtime(o, "timestamp") : 0;
    l->level = log_level_parse(ok ? jstr(o, "level") : "INFO");
    l->message = arena_strdup(a, ok ? jstr(o, "message") : "");
    cJSON_Delete(o);
    return l->message ? 0 : -1;
}

/* A log line longer than this is not ours (ours stay far below): it reads as empty. */
#define STORE_LOG_LINE_MAX ((size_t)1 << 20)

/*
 * Streams the file instead of reading it whole: a page costs memory for its
 * own lines only, however long the log (a page is requested per HTTP call).
 */
int store_log_read(struct store *s, const char *dep_id, const char *exec_id, int64_t from_line,
                   int64_t limit, struct arena *a, struct log_line **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (from_line < 1)
        from_line = 1;
    int fd = log_open_read(s, dep_id, exec_id);
    if (fd < 0)
        return -1;
    struct log_line *lines = arena_calloc(a, limit > 0 ? (size_t)limit : 1, sizeof(*lines));
    char *buf = malloc(65536);
    struct strbuf cur; /* the line being assembled across reads (wanted lines only) */
    sb_init(&cur);
    int rc = -1;
    if (!lines || !buf)
        goto out;
    int64_t ln = 1;       /* number of the line being read */
    bool too_long = false;
    while ((int64_t)*n < limit) {
        ssize_t r = read(fd, buf, 65536);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            goto out;
        if (r == 0)
            break; /* a last line without its newline is a torn tail: skipped */
        size_t pos = 0;
        while (pos < (size_t)r && (int64_t)*n < limit) {
            char *nl = memchr(buf + pos, '\n', (size_t)r - pos);
            size_t end = nl ? (size_t)(nl - buf) : (size_t)r;
            if (ln >= from_line && !too_long) {
                if (cur.len + (end - pos) > STORE_LOG_LINE_MAX) {
                    too_long = true;
                    sb_reset(&cur);
                } else {
                    sb_append(&cur, buf + pos, end - pos);
                    if (cur.oom)
                        goto out;
                }
            }
            if (!nl)
                break;
            if (ln >= from_line) {
                const char *p = too_long ? "" : (cur.buf ? cur.buf : "");
                size_t len = too_long ? 0 : cur.len;
                if (parse_line(p, len, ln, a, &lines[*n]) != 0)
                    goto out;
                (*n)++;
            }
            sb_reset(&cur);
            too_long = false;
            ln++;
            pos = end + 1;
        }
    }
    *out = lines;
    rc = 0;
out:
    if (rc != 0)
        *n = 0;
    sb_fini(&cur);
    free(buf);
    close(fd);
    return rc;
}

int store_log_tail(struct store *s, const char *dep_id, const char *exec_id, size_t max_lines,
                   size_t max_bytes, struct arena *a, struct log_line **out, size_t *n,
                   size_t *bytes)
{
    *out = NULL;
    *n = 0;
    *bytes = 0;
    int fd = log_open_read(s, dep_id, exec_id);
    if (fd < 0)
        return -1;
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        close(fd);
        return -1;
    }
    /* Only what is there now: lines appended meanwhile belong to a later read. */
    size_t size = (size_t)sb.st_size;
    char *buf = NULL;
    size_t got = 0, want = 16384, lines = 0;
    int rc = -1;
    /* Grow a window back from the end until it holds max_lines complete lines. */
    for (;;) {
        size_t take = want < size ? want : size;
        if (take > max_bytes)
            take = max_bytes;
        if (take > got) {
            char *nb = malloc(take);
            if (!nb)
                goto out;
            size_t fresh = take - got;
            size_t off = 0;
            while (off < fresh) {
                ssize_t r = pread(fd, nb + off, fresh - off, (off_t)(size - take + off));
                if (r < 0 && errno == EINTR)
                    continue;
                if (r <= 0) {
                    free(nb);
                    goto out;
                }
                off += (size_t)r;
            }
            if (got)
                memcpy(nb + fresh, buf, got);
            free(buf);
            buf = nb;
            got = take;
        }
        lines = 0;
        for (size_t i = 0; i < got; i++)
            lines += buf[i] == '\n';
        /* Unless the window starts the file, its first line is partial. */
        if (got < size && lines)
            lines--;
        if (lines >= max_lines || got == size || got >= max_bytes)
            break;
        want *= 2;
    }
    *bytes = got;
    size_t k = lines < max_lines ? lines : max_lines;
    struct log_line *l = arena_calloc(a, k ? k : 1, sizeof(*l));
    if (!l)
        goto out;
    /* end: past the last complete line; walk back k lines from there. */
    size_t end = got;
    while (end > 0 && buf[end - 1] != '\n')
        end--;
    size_t start = end, seen = 0;
    for (size_t i = end; i > 0; i--) {
        if (buf[i - 1] == '\n' && seen++ == k) {
            start = i;
            break;
        }
        start = i - 1;
    }
    size_t pos = start;
    for (size_t i = 0; i < k; i++) {
        char *nl = memchr(buf + pos, '\n', end - pos);
        if (!nl)
            break;
        size_t e = (size_t)(nl - buf);
        if (parse_line(buf + pos, e - pos, 0, a, &l[i]) != 0)
            goto out;
        (*n)++;
        pos = e + 1;
    }
    *out = l;
    rc = 0;
out:
    if (rc != 0)
        *n = 0;
    free(buf);
    close(fd);
    return rc;
}
