/*
 * engine: schedules and runs a spec's jobs (see engine.h).
 *
 * Shape: one mutex (mu) guards all mutable state. Threads:
 *   - the scheduler releases dependents of jobs whose success is committed
 *     (durably recorded) and pushes ready jobs onto the run queue;
 *   - workers pop the run queue and run one execution each (a child process
 *     or a simulated sleep), appending log lines as they arrive;
 *   - the store thread (state dir only) writes index.json, deployment.json
 *     and cutover-status.json whenever they changed, coalescing changes
 *     (group commit), and tells the scheduler which change it committed.
 * A job's dependents start only after the commit that records it succeeded,
 * so no dependent ever runs on an unrecorded result.
 *
 * Jobs live in one array: each spec group is a node followed by its leaves,
 * then the cutover group and its steps. Internally a group's `after` list is
 * an edge from each root leaf to the after-group node, which is satisfied
 * once all its leaves succeeded (and were committed). These edges are not on
 * the wire (dependsOn stays as written), but the read-time cascade follows
 * them: a root leaf whose after-group failed is reported failed, so `wait`
 * sees that nothing can still run.
 *
 * An engine opened to observe (--once) only loads the state dir: nothing is
 * locked, recovered, started or written, and running executions stay running
 * (they may be live in the process that owns the dir).
 *
 * Steps run only while a cutover run is in progress (co_running); the run
 * resumes at the first step that has not succeeded. A start (and auto) is
 * judged by the preflight (preflight.h) on a bare snapshot built under mu, so
 * the check and the start are one atomic step. A stopped job goes back to
 * pending (it runs again on the next start); a crash leaves a running
 * execution that recovery closes as interrupted, after ending what its
 * command left running, and the job runs again. Neither uses up a retry.
 *
 * A `run:` command starts only once the record of its child (process group,
 * start time, boot id) is committed: on_proc_start waits for the store
 * thread's commit while the child waits on a pipe. A state dir that cannot
 * record sets the sticky store_fault: workers then start nothing.
 */
#include "engine.h"

#include "arena.h"
#include "cutover.h"
#include "proc.h"
#include "store.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LINES_IN_MEMORY 20000
#define ACTIVITY_MAX 200
/* Refilling the activity feed on open reads at most this much (10,000-job states open fast). */
#define ACTIVITY_SCAN_LOGS (4 * ACTIVITY_MAX)
#define ACTIVITY_SCAN_BYTES ((size_t)16 << 20)
#define ACTIVITY_TAIL_BYTES ((size_t)256 << 10)
#define KILL_GRACE_MS 5000
#define LOG_CAP_DEFAULT ((int64_t)64 << 20)
#define STORE_RESERVE_DEFAULT ((int64_t)1 << 20)
#define LOG_SPACE_CHECK_BYTES ((int64_t)64 << 10)

/* ---------------------------------------------------------------- maps */

/* Open-addressing string -> int map; keys are borrowed. */
struct strmap {
    const char **keys;
    int *vals;
    size_t cap, n;
};

static uint64_t str_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static int strmap_grow(struct strmap *m)
{
    size_t nc = m->cap ? m->cap * 2 : 64;
    const char **k = calloc(nc, sizeof(*k));
    int *v = calloc(nc, sizeof(*v));
    if (!k || !v) {
        free(k);
        free(v);
        return -1;
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->keys[i])
            continue;
        size_t p = str_hash(m->keys[i]) & (nc - 1);
        while (k[p])
            p = (p + 1) & (nc - 1);
        k[p] = m->keys[i];
        v[p] = m->vals[i];
    }
    free(m->keys);
    free(m->vals);
    m->keys = k;
    m->vals = v;
    m->cap = nc;
    return 0;
}

/* First insertion of a key wins. */
static int strmap_put(struct strmap *m, const char *key, int val)
{
    if ((m->n + 1) * 2 > m->cap && strmap_grow(m) != 0)
        return -1;
    size_t p = str_hash(key) & (m->cap - 1);
    while (m->keys[p]) {
        if (strcmp(m->keys[p], key) == 0)
            return 0;
        p = (p + 1) & (m->cap - 1);
    }
    m->keys[p] = key;
    m->vals[p] = val;
    m->n++;
    return 0;
}

static int strmap_get(const struct strmap *m, const char *key)
{
    if (!m->cap || !key)
        return -1;
    size_t p = str_hash(key) & (m->cap - 1);
    while (m->keys[p]) {
        if (strcmp(m->keys[p], key) == 0)
            return m->vals[p];
        p = (p + 1) & (m->cap - 1);
    }
    return -1;
}

static void strmap_fini(struct strmap *m)
{
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof(*m));
}

/* ---------------------------------------------------------------- types */

struct mline {
    int64_t ts;
    enum log_level level;
    char *msg;                 /* owned */
};

struct exec {
    char id[33];
    int job;
    enum exec_status status;
    int64_t started_at, finished_at;
    int64_t line_count;
    struct mline *ring;        /* owned; the newest lines, at most LINES_IN_MEMORY */
    size_t ring_cap, ring_head, ring_n;
    bool has_runner;           /* a worker is running it (else engine_stop closes it) */
    bool interrupted;          /* ended by the engine (stop, crash, store fault), not the job */
    int pgid;                  /* its child's process group (= session, pid); 0: none */
    int64_t proc_start;        /* the child's start time (/proc/PID/stat field 22) */
    char boot_id[PROC_BOOT_ID_MAX];
    char error[256];           /* why the engine failed it (its log could not be written) */
};

struct ejob {
    const char *id, *name, *display, *app, *parent_id; /* in e->arena */
    const char **depends_on;   /* as written (wire) */
    size_t n_depends_on;
    const char **child_ids;    /* groups */
    size_t n_child_ids;
    int *children;             /* groups: leaf indices */
    size_t n_children;
    int group;                 /* parent group index, -1 */
    int *deps;                 /* resolved internal deps (leaves or groups) */
    size_t n_deps;
    int *dependents;
    size_t n_dependents, cap_dependents;
    const struct spec_job *sj; /* leaves */
    bool is_group, is_step, in_cutover;
    int step_index;
    enum job_kind kind;
    /* mutable (under mu) */
    enum job_status status;
    int64_t started_at, finished_at;
    int retries_left;
    int *execs;                /* owned, indices into e->execs, oldest first */
    size_t n_execs, cap_execs;
    bool queued;
    bool released;             /* leaves: success committed; groups: all leaves released */
    size_t n_released;         /* groups */
    int cnt[JOB_STATUS_COUNT]; /* groups: own statuses of the leaves */
};

struct work {
    int job;
    int exec;                  /* -1: create a new execution */
};

struct release {
    int job;
    uint64_t seq;
};

struct act_line {
    int job;
    int64_t line_number, ts;
    enum log_level level;
    char *msg;                 /* owned */
};

struct engine {
    const struct spec *spec;   /* borrowed */
    struct engine_config cfg;
    char *state_dir;           /* owned copy, NULL in memory */
    char *mode;                /* owned */
    double speed;
    int n_workers;
    struct arena *arena;       /* immutable job strings */
    char dep_id[72];
    struct store *store;       /* NULL in memory */
    struct cutover *co;        /* owned */

    struct ejob *jobs;         /* owned */
    size_t n_jobs;
    struct strmap names;       /* id and jobName -> index */
    int *topo;                 /* owned: leaves after deps, groups after children */
    int cutover_group;         /* -1 */
    int *steps;                /* owned: step job indices */
    size_t n_steps;
    int *co_after;             /* owned: group indices */
    size_t n_co_after;
    int g_bootstrap, g_handover, j_tofu_apply, j_cluster_bootstrap, g_first;

    pthread_mutex_t mu;
    pthread_cond_t work_cv, sched_cv, store_cv, gen_cv, stop_cv;
    pthread_cond_t commit_cv;  /* after every commit attempt */
    struct exec **execs;       /* owned */
    size_t n_execs, cap_execs;
    struct strmap exec_ids;
    struct work *runq;         /* ring */
    size_t rq_cap, rq_head, rq_n;
    struct release *rel;       /* FIFO */
    size_t rel_cap, rel_head, rel_n;
    struct act_line act[ACTIVITY_MAX];
    size_t act_head, act_n;
    uint64_t gen;
    uint64_t change_seq, committed_seq;
    uint64_t co_written;       /* cutover_version written */
    struct deployment dep;     /* strings: static or e->arena */
    char dep_status[32];
    char dep_outcome[32];
    bool co_running, co_auto_done;
    int64_t co_epoch;
    bool ready;                /* engine_new completed: only then may state be written */
    bool started, stopping, stopped, store_quit;
    atomic_bool cancel;
    pthread_t sched_thr, store_thr;
    pthread_t *workers;
    int n_started_workers;
    bool sched_started, store_started;
    void (*notify_fn)(void *);
    void *notify_ctx;
    char last_store_error[1024];
    /*
     * Sticky: the state dir failed to record something (a commit, a log
     * write, the room to start). No job starts until the next engine_new.
     */
    char store_fault[1200];
    char stop_reason[200];     /* engine_stop_jobs' words, "" for a plain stop */
    char dep_written[160];     /* store thread only: what deployment.json holds */
    int64_t log_cap;           /* bytes of job output per execution log; <= 0: none */
    int64_t reserve;           /* free bytes a start needs in the state dir */
    int64_t recovery_grace_ms; /* SIGTERM -> SIGKILL for groups a crash left */
};

/* ---------------------------------------------------------------- helpers */

static void notify(struct engine *e)
{
    pthread_mutex_lock(&e->mu);
    void (*fn)(void *) = e->notify_fn;
    void *ctx = e->notify_ctx;
    pthread_mutex_unlock(&e->mu);
    if (fn)
        fn(ctx);
}

static void bump_gen(struct engine *e)
{
    e->gen++;
    pthread_cond_broadcast(&e->gen_cv);
}

/* A state change that must reach the disk. */
static void mark_dirty(struct engine *e)
{
    e->change_seq++;
    if (!e->store)
        e->committed_seq = e->change_seq;
    else
        pthread_cond_signal(&e->store_cv);
    bump_gen(e);
}

static bool is_leaf(const struct ejob *j) { return !j->is_group; }

static void set_status(struct engine *e, int ji, enum job_status st)
{
    struct ejob *j = &e->jobs[ji];
    if (j->status == st)
        return;
    if (j->group >= 0) {
        e->jobs[j->group].cnt[j->status]--;
        e->jobs[j->group].cnt[st]++;
    }
    j->status = st;
}

static void cond_init_mono(pthread_cond_t *c)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(c, &a);
    pthread_condattr_destroy(&a);
}

static struct timespec mono_deadline(int64_t ms_from_now)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    if (ms_from_now < 0)
        ms_from_now = 0;
    ts.tv_sec += ms_from_now / 1000;
    ts.tv_nsec += (long)(ms_from_now % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

/*
 * A spec duration at --speed. A tiny speed or a huge duration must not leave
 * int64 (the cast would be undefined, on x86 a negative "run it now"): a year
 * is as good as forever, and deadlines and fractions of it stay in range.
 */
#define SCALED_MAX_MS ((int64_t)366 * 24 * 3600 * 1000)

static int64_t scaled_ms(const struct engine *e, int64_t ms)
{
    double v = (double)ms / e->speed;
    if (!(v < (double)SCALED_MAX_MS))
        return SCALED_MAX_MS;
    return v > 0 ? (int64_t)v : 0;
}

/* Bytes in words: "812 B", "512 KiB", "97 MiB", "2.5 GiB". */
static const char *size_format(int64_t b, char *out, size_t n)
{
    static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)b;
    size_t u = 0;
    while (v >= 1024 && u + 1 < sizeof(unit) / sizeof(unit[0])) {
        v /= 1024;
        u++;
    }
    if (u == 0 || v >= 10 || v == (double)(int64_t)v)
        snprintf(out, n, "%lld %s", (long long)(v + (u ? 0.5 : 0)), unit[u]);
    else
        snprintf(out, n, "%.1f %s", v, unit[u]);
    return out;
}

/* Sleeps until mono time `until` unless the engine stops; true when stopped. */
static bool sleep_until(struct engine *e, int64_t until)
{
    pthread_mutex_lock(&e->mu);
    while (!e->stopping && mono_ms() < until) {
        struct timespec ts = mono_deadline(until - mono_ms());
        pthread_cond_timedwait(&e->stop_cv, &e->mu, &ts);
    }
    bool stopped = e->stopping;
    pthread_mutex_unlock(&e->mu);
    return stopped;
}

/*
 * Like realloc for a full ring of n items of size bytes: returns the ring at
 * twice the room, unrolled so *head is 0 (the old one freed), or NULL with
 * the old ring untouched when out of memory.
 */
static void *ring_grow(void *ring, size_t size, size_t n, size_t *head, size_t *cap)
{
    size_t nc = *cap ? *cap * 2 : 256;
    char *q = malloc(nc * size);
    if (!q)
        return NULL;
    for (size_t i = 0; i < n; i++)
        memcpy(q + i * size, (char *)ring + (*head + i) % *cap * size, size);
    free(ring);
    *cap = nc;
    *head = 0;
    return q;
}

static int runq_push(struct engine *e, int job, int exec)
{
    if (e->rq_n == e->rq_cap) {
        struct work *q = ring_grow(e->runq, sizeof(*q), e->rq_n, &e->rq_head, &e->rq_cap);
        if (!q)
            return -1;
        e->runq = q;
    }
    e->runq[(e->rq_head + e->rq_n) % e->rq_cap] = (struct work){job, exec};
    e->rq_n++;
    e->jobs[job].queued = true;
    pthread_cond_signal(&e->work_cv);
    return 0;
}

static int rel_push(struct engine *e, int job, uint64_t seq)
{
    if (e->rel_n == e->rel_cap) {
        struct release *q = ring_grow(e->rel, sizeof(*q), e->rel_n, &e->rel_head, &e->rel_cap);
        if (!q)
            return -1;
        e->rel = q;
    }
    e->rel[(e->rel_head + e->rel_n) % e->rel_cap] = (struct release){job, seq};
    e->rel_n++;
    pthread_cond_signal(&e->sched_cv);
    return 0;
}

/* ---------------------------------------------------------------- executions */

/* A new execution of job; id: its id (its log may exist already), NULL for a new one. */
static struct exec *exec_new(struct engine *e, int job, int64_t now, const char *id)
{
    if (e->n_execs == e->cap_execs) {
        size_t nc = e->cap_execs ? e->cap_execs * 2 : 256;
        struct exec **v = realloc(e->execs, nc * sizeof(*v));
        if (!v)
            return NULL;
        e->execs = v;
        e->cap_execs = nc;
    }
    struct ejob *j = &e->jobs[job];
    if (j->n_execs == j->cap_execs) {
        size_t nc = j->cap_execs ? j->cap_execs * 2 : 2;
        int *v = realloc(j->execs, nc * sizeof(*v));
        if (!v)
            return NULL;
        j->execs = v;
        j->cap_execs = nc;
    }
    struct exec *x = calloc(1, sizeof(*x));
    if (!x)
        return NULL;
    if (id)
        snprintf(x->id, sizeof(x->id), "%s", id);
    else
        id_hex(x->id, 16);
    x->job = job;
    x->status = EXEC_RUNNING;
    x->started_at = now;
    int idx = (int)e->n_execs;
    if (strmap_put(&e->exec_ids, x->id, idx) != 0) {
        free(x);
        return NULL;
    }
    e->execs[e->n_execs++] = x;
    j->execs[j->n_execs++] = idx;
    return x;
}

/* Appends a line to x in memory; returns its line number (0 on out-of-memory). */
static int64_t exec_add_line(struct engine *e, struct exec *x, enum log_level lv, const char *msg,
                             int64_t ts)
{
    if (x->ring_n == x->ring_cap) {
        if (x->ring_cap < LINES_IN_MEMORY) {
            size_t nc = x->ring_cap ? x->ring_cap * 2 : 8;
            if (nc > LINES_IN_MEMORY)
                nc = LINES_IN_MEMORY;
            struct mline *r = malloc(nc * sizeof(*r));
            if (!r)
                return 0;
            for (size_t i = 0; i < x->ring_n; i++)
                r[i] = x->ring[(x->ring_head + i) % x->ring_cap];
            free(x->ring);
            x->ring = r;
            x->ring_cap = nc;
            x->ring_head = 0;
        } else {
            /* Full window: drop the oldest (it stays on disk). */
            free(x->ring[x->ring_head].msg);
            x->ring_head = (x->ring_head + 1) % x->ring_cap;
            x->ring_n--;
        }
    }
    char *m = strdup(msg);
    if (!m)
        return 0;
    x->ring[(x->ring_head + x->ring_n) % x->ring_cap] = (struct mline){ts, lv, m};
    x->ring_n++;
    x->line_count++;
    struct act_line *a;
    if (e->act_n == ACTIVITY_MAX) {
        a = &e->act[e->act_head];
        free(a->msg);
        e->act_head = (e->act_head + 1) % ACTIVITY_MAX;
    } else {
        a = &e->act[(e->act_head + e->act_n) % ACTIVITY_MAX];
        e->act_n++;
    }
    *a = (struct act_line){x->job, x->line_count, ts, lv, strdup(msg)};
    bump_gen(e);
    return x->line_count;
}

/* ---------------------------------------------------------------- deployment */

static bool group_all_succeeded(const struct ejob *g)
{
    return g->n_children > 0 && (size_t)g->cnt[JOB_SUCCEEDED] == g->n_children;
}

static void update_deployment(struct engine *e)
{
    int64_t now = time_now_ms();
    bool any_failed = false, all_ok = true, any_running = false;
    for (size_t i = 0; i < e->n_jobs; i++) {
        const struct ejob *g = &e->jobs[i];
        if (!g->is_group || g->in_cutover)
            continue;
        if (g->cnt[JOB_FAILED])
            any_failed = true;
        if (g->cnt[JOB_RUNNING])
            any_running = true;
        if (!group_all_succeeded(g) && g->n_children)
            all_ok = false;
    }
    const char *st = e->dep_status;
    if (any_failed && !any_running)
        st = "failed";
    else if (all_ok && !any_failed)
        st = "ready";
    else if (e->j_tofu_apply >= 0 && e->jobs[e->j_tofu_apply].status == JOB_RUNNING)
        st = "tofu-applying";
    else if (e->j_cluster_bootstrap >= 0 &&
             e->jobs[e->j_cluster_bootstrap].status == JOB_RUNNING)
        st = "flux-bootstrapping";
    else if (e->g_first >= 0 && e->jobs[e->g_first].cnt[JOB_RUNNING])
        st = "provisioning";
    else if (any_running)
        st = "phase1-watching";
    if (st != e->dep_status)
        snprintf(e->dep_status, sizeof(e->dep_status), "%s", st);
    bool terminal = strcmp(st, "ready") == 0 || strcmp(st, "failed") == 0;
    if (terminal && !e->dep.finished_at)
        e->dep.finished_at = now;
    else if (!terminal)
        e->dep.finished_at = 0;
    if (e->g_bootstrap >= 0 && !e->dep.phase1_finished_at) {
        const struct ejob *g = &e->jobs[e->g_bootstrap];
        if ((size_t)(g->cnt[JOB_SUCCEEDED] + g->cnt[JOB_FAILED]) == g->n_children &&
            g->n_children) {
            e->dep.phase1_finished_at = now;
            snprintf(e->dep_outcome, sizeof(e->dep_outcome), "%s",
                     g->cnt[JOB_FAILED] ? "failed" : "ready");
        }
    }
    if (e->g_handover >= 0 && !e->dep.handover_fired_at &&
        group_all_succeeded(&e->jobs[e->g_handover]))
        e->dep.handover_fired_at = now;
}

/* ---------------------------------------------------------------- readiness */

static bool dep_satisfied(const struct engine *e, int d)
{
    const struct ejob *j = &e->jobs[d];
    return j->released;
}

static bool job_ready(const struct engine *e, int ji)
{
    const struct ejob *j = &e->jobs[ji];
    if (j->is_group || j->status != JOB_PENDING || j->queued || e->stopping || !e->started)
        return false;
    if (j->is_step && !e->co_running)
        return false;
    for (size_t k = 0; k < j->n_deps; k++)
        if (!dep_satisfied(e, j->deps[k]))
            return false;
    return true;
}

static void try_ready(struct engine *e, int ji)
{
    if (job_ready(e, ji))
        runq_push(e, ji, -1);
}

static void co_begin(struct engine *e);
static void compute_eff(const struct engine *e, const enum job_status *own,
                        enum job_status *eff);

/*
 * The preflight checklist of the current state, under mu: a bare snapshot
 * (jobs with their read-time statuses, the handover time, the cutover's steps
 * and running flag) fed to the one pure function. committed: a success counts
 * only once it is durably recorded (released), as dependents wait for that too.
 * -1 on out-of-memory.
 */
static int preflight_locked(struct engine *e, bool committed, struct preflight *out)
{
    size_t n = e->n_jobs ? e->n_jobs : 1;
    enum job_status *own = calloc(n, sizeof(*own));
    enum job_status *eff = calloc(n, sizeof(*eff));
    struct job *jobs = calloc(n, sizeof(*jobs));
    struct cutover_step *steps = calloc(e->n_steps ? e->n_steps : 1, sizeof(*steps));
    if (!own || !eff || !jobs || !steps) {
        free(own);
        free(eff);
        free(jobs);
        free(steps);
        return -1;
    }
    for (size_t i = 0; i < e->n_jobs; i++)
        own[i] = e->jobs[i].status;
    compute_eff(e, own, eff);
    for (size_t i = 0; i < e->n_jobs; i++) {
        const struct ejob *j = &e->jobs[i];
        enum job_status st = eff[i];
        if (committed && !j->is_group && st == JOB_SUCCEEDED && !j->released)
            st = JOB_RUNNING;
        jobs[i] = (struct job){.id = j->id, .job_name = j->name, .app_id = j->app,
                               .parent_id = j->parent_id, .is_group = j->is_group,
                               .kind = j->kind, .status = st};
    }
    for (size_t k = 0; k < e->n_steps; k++) {
        steps[k].name = e->spec->cutover.steps[k].name;
        steps[k].result = cutover_step_result(e->co, k);
    }
    struct snapshot s = {0};
    s.jobs = jobs;
    s.n_jobs = e->n_jobs;
    s.has_deployment = true;
    s.deployment.handover_fired_at = e->dep.handover_fired_at;
    s.cutover.available = true;
    s.cutover.running = e->co_running;
    s.cutover.complete = cutover_is_complete(e->co);
    s.cutover.steps = steps;
    s.cutover.n_steps = e->n_steps;
    preflight_compute(&s, out);
    free(own);
    free(eff);
    free(jobs);
    free(steps);
    return 0;
}

/* auto: true starts once the `after` groups are recorded and every preflight check passes. */
static void maybe_auto_cutover(struct engine *e)
{
    if (!e->started || !e->spec->cutover.auto_start || e->co_auto_done || e->co_running ||
        !e->n_steps || cutover_was_started(e->co) || cutover_is_complete(e->co))
        return;
    for (size_t i = 0; i < e->n_co_after; i++)
        if (!e->jobs[e->co_after[i]].released)
            return;
    struct preflight pf;
    if (preflight_locked(e, true, &pf) != 0 || !pf.ready)
        return;
    e->co_auto_done = true;
    co_begin(e);
}

/* A success is committed: dependents may start. */
static void release_job(struct engine *e, int ji)
{
    struct ejob *j = &e->jobs[ji];
    if (j->released || j->status != JOB_SUCCEEDED)
        return;
    j->released = true;
    for (size_t k = 0; k < j->n_dependents; k++)
        try_ready(e, j->dependents[k]);
    if (j->group >= 0) {
        struct ejob *g = &e->jobs[j->group];
        g->n_released++;
        if (g->n_released == g->n_children && !g->released) {
            g->released = true;
            for (size_t k = 0; k < g->n_dependents; k++)
                try_ready(e, g->dependents[k]);
            maybe_auto_cutover(e);
        }
    }
}

/* ---------------------------------------------------------------- cutover */

/* Starts (or resumes) a run at the first step that has not succeeded. */
static void co_begin(struct engine *e)
{
    int64_t now = time_now_ms();
    e->co_running = true;
    e->co_epoch = now / 1000;
    cutover_begin(e->co, now);
    for (size_t i = 0; i < e->n_steps; i++) {
        struct ejob *s = &e->jobs[e->steps[i]];
        if (s->status == JOB_SUCCEEDED) {
            /* The map may lag the jobs after a crash: the job is the truth. */
            if (cutover_step_result(e->co, i) != STEP_SUCCESS)
                cutover_step_finish(e->co, i, true, NULL, s->finished_at ? s->finished_at : now);
            continue;
        }
        if (s->status == JOB_FAILED) {
            set_status(e, e->steps[i], JOB_PENDING);
            s->retries_left = s->sj ? s->sj->retries : 0;
        }
        try_ready(e, e->steps[i]);
        mark_dirty(e);
        return;
    }
    /* Every step already succeeded (the map lagged): the run is complete. */
    cutover_complete(e->co, now);
    e->co_running = false;
    mark_dirty(e);
}

/* ---------------------------------------------------------------- running */

static void trim_to_disk_locked(struct exec *x, int64_t disk_lines);

/* One execution being run by a worker: where its lines go and what became of them. */
struct run_ctx {
    struct engine *e;
    struct exec *x;
    int fd;                    /* its log, -1 in memory */
    int64_t cap;               /* bytes of job output kept on disk; <= 0: no cap */
    int64_t bytes;             /* bytes appended so far */
    int64_t disk_lines;        /* lines on disk */
    int64_t dropped, dropped_bytes; /* job output past the cap */
    int64_t space_check_at;    /* bytes at which free space is looked at next */
    bool log_failed;           /* an append failed: nothing more is written */
    bool log_no_room;          /* the space check stopped it, before the disk filled */
    int log_errno;
    bool start_refused;        /* the child could not be recorded, so it never ran */
    bool stop_refused;         /* ... because the engine was stopping */
    char start_error[1200];
    atomic_bool abort;         /* ends the child when the log cannot be written */
};

/* Sets the sticky store fault (under mu): no job starts any more. */
static void store_fault_locked(struct engine *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void store_fault_locked(struct engine *e, const char *fmt, ...)
{
    if (e->store_fault[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->store_fault, sizeof(e->store_fault), fmt, ap);
    va_end(ap);
    bump_gen(e);
}

/*
 * Adds a line in memory and appends it to the log. Job output (capped) past
 * the cap is only counted. Once an append failed nothing more is kept, and
 * the child is ended: a result is never recorded over a log with a hole.
 */
static void exec_log_x(struct run_ctx *r, enum log_level lv, const char *msg, bool capped)
{
    struct engine *e = r->e;
    if (r->log_failed)
        return;
    size_t len = strlen(msg);
    if (capped && r->cap > 0 && r->bytes + (int64_t)len + 80 > r->cap) {
        r->dropped++;
        r->dropped_bytes += (int64_t)len;
        return;
    }
    int64_t ts = time_now_ms();
    pthread_mutex_lock(&e->mu);
    int64_t n = exec_add_line(e, r->x, lv, msg, ts);
    pthread_mutex_unlock(&e->mu);
    if (r->fd >= 0 && n > 0) {
        struct log_line l = {n, ts, lv, msg};
        size_t w;
        /*
         * A log must not take the last of the disk: half the start reserve is
         * kept so that the end of this execution can still be recorded.
         */
        bool room = true;
        if (r->bytes >= r->space_check_at) {
            r->space_check_at = r->bytes + LOG_SPACE_CHECK_BYTES;
            room = store_check_space(r->fd, (uint64_t)e->reserve / 2) == 0;
        }
        if (room && store_log_append_n(r->fd, &l, &w) == 0) {
            r->bytes += (int64_t)w;
            r->disk_lines = n;
        } else {
            r->log_failed = true;
            r->log_no_room = !room;
            r->log_errno = errno;
            atomic_store(&r->abort, true);
            pthread_mutex_lock(&e->mu);
            store_fault_locked(e, "cannot write the log of %s: %s", e->jobs[r->x->job].name,
                               strerror(r->log_errno));
            pthread_mutex_unlock(&e->mu);
        }
    }
    notify(e);
}

static void exec_log(struct run_ctx *r, enum log_level lv, const char *msg)
{
    exec_log_x(r, lv, msg, false);
}

static void exec_logf(struct run_ctx *r, enum log_level lv, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void exec_logf(struct run_ctx *r, enum log_level lv, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    exec_log(r, lv, buf);
}

static void on_proc_line(void *ctx, enum log_level lv, const char *line)
{
    exec_log_x(ctx, lv, line, true);
}

/*
 * proc's hook between fork and exec: the child's identity goes into the
 * execution record, and the command may run only once that record is on
 * disk, so that a restart after a crash can find and end it.
 */
static int on_proc_start(void *ctx, const struct proc_ident *id, struct error *err)
{
    struct run_ctx *r = ctx;
    struct engine *e = r->e;
    pthread_mutex_lock(&e->mu);
    r->x->pgid = (int)id->pid;
    r->x->proc_start = id->start_time;
    snprintf(r->x->boot_id, sizeof(r->x->boot_id), "%s", id->boot_id);
    mark_dirty(e);
    uint64_t seq = e->change_seq;
    while (e->store && e->committed_seq < seq && !e->store_fault[0])
        pthread_cond_wait(&e->commit_cv, &e->mu);
    bool ok = !e->store || e->committed_seq >= seq;
    /* A stop decided meanwhile: better not started than started and killed at once. */
    const char *why = !ok ? e->store_fault : e->stopping ? "the engine is stopping" : NULL;
    if (why) {
        ok = false;
        r->start_refused = true;
        r->stop_refused = e->stopping && !e->store_fault[0];
        snprintf(r->start_error, sizeof(r->start_error), "%s", why);
        error_set(err, EXIT_FAILED, "%s", why);
    }
    pthread_mutex_unlock(&e->mu);
    return ok ? 0 : -1;
}

static const char *level_prefix(const char *s, enum log_level *lv)
{
    static const struct {
        const char *p;
        enum log_level lv;
    } pre[] = {{"WARN: ", LOG_WARN}, {"ERROR: ", LOG_ERROR}, {"DEBUG: ", LOG_DEBUG},
               {"INFO: ", LOG_INFO}};
    for (size_t i = 0; i < sizeof(pre) / sizeof(pre[0]); i++)
        if (strncmp(s, pre[i].p, strlen(pre[i].p)) == 0) {
            *lv = pre[i].lv;
            return s + strlen(pre[i].p);
        }
    *lv = LOG_INFO;
    return s;
}

/*
 * NOT_STARTED: the state dir could not record the start, so nothing ran.
 * STORE_FAILED: it ran, but its log could not be written: failed with the
 * reason, but not the job's failure (no retry used; it runs on the next start).
 */
enum outcome { OUT_OK, OUT_FAILED, OUT_INTERRUPTED, OUT_NOT_STARTED, OUT_STORE_FAILED };

static enum outcome run_simulated(struct run_ctx *r, const struct spec_job *sj, int attempt,
                                  const char **why)
{
    struct engine *e = r->e;
    int64_t dur = scaled_ms(e, sj->sim_duration_ms);
    int64_t t0 = mono_ms();
    bool install = e->jobs[r->x->job].kind == KIND_INSTALL;
    if (install)
        exec_logf(r, LOG_INFO, "[installing] %s (attempt %d)",
                  sj->app && *sj->app ? sj->app : sj->name, attempt);
    else
        exec_logf(r, LOG_INFO, "[started] %s (attempt %d)", sj->name, attempt);
    for (size_t i = 0; i < sj->n_sim_logs && !r->log_failed; i++) {
        if (dur > 0 && sleep_until(e, t0 + dur * (int64_t)(i + 1) / (int64_t)(sj->n_sim_logs + 1)))
            return OUT_INTERRUPTED;
        enum log_level lv;
        const char *m = level_prefix(sj->sim_logs[i], &lv);
        exec_log_x(r, lv, m, true);
    }
    if (r->log_failed)
        return OUT_FAILED;
    if (dur > 0 && sleep_until(e, t0 + dur))
        return OUT_INTERRUPTED;
    /* Outside mu: stopping is not ours to read here, its atomic twin is. */
    if (atomic_load(&e->cancel))
        return OUT_INTERRUPTED;
    if (attempt <= sj->sim_fail_first) {
        *why = "simulated failure";
        exec_logf(r, LOG_ERROR, "[failed] simulated failure on attempt %d", attempt);
        return OUT_FAILED;
    }
    if (install)
        exec_logf(r, LOG_INFO, "[installed] %s", sj->app && *sj->app ? sj->app : sj->name);
    return OUT_OK;
}

static enum outcome run_command(struct run_ctx *r, const struct spec_job *sj, char *why,
                                size_t why_n)
{
    struct engine *e = r->e;
    struct exec *x = r->x;
    size_t n_env = 3 + sj->n_env;
    char **env = calloc(n_env, sizeof(char *));
    if (!env) {
        snprintf(why, why_n, "out of memory");
        return OUT_FAILED;
    }
    const struct ejob *j = &e->jobs[x->job];
    if (asprintf(&env[0], "CATALYST_DEPLOYMENT_ID=%s", e->dep_id) < 0)
        env[0] = NULL;
    if (asprintf(&env[1], "CATALYST_JOB=%s", j->name) < 0)
        env[1] = NULL;
    if (asprintf(&env[2], "CATALYST_EXECUTION_ID=%s", x->id) < 0)
        env[2] = NULL;
    size_t k = 3;
    for (size_t i = 0; i < sj->n_env; i++)
        if (asprintf(&env[k], "%s=%s", sj->env[i].key, sj->env[i].value) >= 0)
            k++;
    bool env_ok = env[0] && env[1] && env[2];
    struct proc_opts o = {
        .command = sj->run,
        .env = (const char *const *)env,
        .n_env = k,
        .timeout_ms = sj->timeout_ms,
        .kill_grace_ms = KILL_GRACE_MS,
        .cancel = &e->cancel,
        .abort = &r->abort,
        .on_start = on_proc_start,
        .start_ctx = r,
    };
    struct proc_result res;
    struct error err;
    error_clear(&err);
    int rc = env_ok ? proc_run(&o, on_proc_line, r, &res, &err) : -1;
    for (size_t i = 0; i < n_env; i++)
        free(env[i]);
    free(env);
    if (rc != 0 && r->start_refused)
        return r->stop_refused ? OUT_INTERRUPTED : OUT_NOT_STARTED;
    if (rc != 0) {
        snprintf(why, why_n, "[error] %.400s", env_ok ? err.msg : "out of memory");
        exec_log(r, LOG_ERROR, why);
        return OUT_FAILED;
    }
    if (res.aborted)
        return OUT_FAILED; /* the log failed: run_one says so */
    if (res.cancelled)
        return OUT_INTERRUPTED;
    if (res.timed_out) {
        char d[32];
        snprintf(why, why_n, "[timeout] killed after %s",
                 duration_format(sj->timeout_ms, d, sizeof(d)));
        exec_log(r, LOG_ERROR, why);
        return OUT_FAILED;
    }
    if (res.signaled) {
        snprintf(why, why_n, "[exit] killed by signal %d", res.term_signal);
        exec_log(r, LOG_ERROR, why);
        return OUT_FAILED;
    }
    if (res.exit_code != 0) {
        snprintf(why, why_n, "[exit] status %d", res.exit_code);
        exec_log(r, LOG_ERROR, why);
        return OUT_FAILED;
    }
    return OUT_OK;
}

/*
 * Records the end of an execution and decides the job's next state (under
 * mu). Only the job's own failures use up its retries: an execution the
 * engine ended (stop, crash) or could not record leaves the job pending.
 */
static void finish_locked(struct engine *e, struct exec *x, enum outcome out, const char *why)
{
    int64_t now = time_now_ms();
    int ji = x->job;
    struct ejob *j = &e->jobs[ji];
    x->status = out == OUT_OK ? EXEC_SUCCEEDED : EXEC_FAILED;
    x->interrupted = out == OUT_INTERRUPTED || out == OUT_NOT_STARTED || out == OUT_STORE_FAILED;
    x->finished_at = now;
    x->has_runner = false;
    j->queued = false;
    if (out == OUT_OK) {
        set_status(e, ji, JOB_SUCCEEDED);
        j->finished_at = now;
    } else if (x->interrupted) {
        /* Not the job's doing: it runs again on the next start. */
        set_status(e, ji, JOB_PENDING);
        j->finished_at = 0;
    } else if (out == OUT_FAILED && j->retries_left > 0) {
        j->retries_left--;
        if (e->stopping || e->store_fault[0])
            set_status(e, ji, JOB_PENDING); /* the retry runs on the next start */
        else
            runq_push(e, ji, -1);
    } else {
        set_status(e, ji, JOB_FAILED);
        j->finished_at = now;
    }
    if (j->is_step) {
        size_t si = (size_t)j->step_index;
        if (out == OUT_OK) {
            cutover_step_finish(e->co, si, true, NULL, now);
            if (si + 1 == e->n_steps) {
                cutover_complete(e->co, now);
                e->co_running = false;
            }
        } else if (j->status == JOB_FAILED) {
            cutover_step_finish(e->co, si, false, why, now);
            e->co_running = false;
        } else if (j->status == JOB_PENDING && !j->queued) {
            e->co_running = false;
        }
    }
    update_deployment(e);
    mark_dirty(e);
    if (out == OUT_OK)
        rel_push(e, ji, e->change_seq);
}

/* Attempts so far that were the job's own (interrupted ones do not count). */
static int own_attempts(const struct engine *e, const struct ejob *j)
{
    int n = 0;
    for (size_t i = 0; i < j->n_execs; i++)
        if (!e->execs[j->execs[i]]->interrupted)
            n++;
    return n;
}

/*
 * Before anything starts, its result must be recordable: the log can be
 * created and the file system has room. -1 (fault set, under mu) if not.
 */
static int prepare_log(struct engine *e, int ji, const char *exec_id, int *fd)
{
    *fd = -1;
    if (!e->store)
        return 0;
    *fd = store_log_open(e->store, e->dep_id, exec_id);
    int er = errno;
    const char *what = "cannot create the log of";
    if (*fd >= 0 && store_check_space(*fd, e->reserve) != 0) {
        er = errno;
        what = "no room left to record";
        close(*fd);
        *fd = -1;
    }
    if (*fd >= 0)
        return 0;
    pthread_mutex_lock(&e->mu);
    if (er == ENOSPC)
        store_fault_locked(e, "%s %s: %s (fewer than %lld KiB free in %s)", what,
                           e->jobs[ji].name, strerror(er), (long long)(e->reserve >> 10),
                           e->state_dir);
    else
        store_fault_locked(e, "%s %s: %s", what, e->jobs[ji].name, strerror(er));
    pthread_mutex_unlock(&e->mu);
    return -1;
}

/* A queued start that will not happen (under mu): the job waits, pending. */
static void unqueue_locked(struct engine *e, struct work w, const char *line)
{
    struct ejob *j = &e->jobs[w.job];
    j->queued = false;
    if (w.exec >= 0) {
        struct exec *x = e->execs[w.exec];
        if (line)
            exec_add_line(e, x, LOG_ERROR, line, time_now_ms());
        x->status = EXEC_FAILED;
        x->interrupted = true;
        x->finished_at = time_now_ms();
        /* Its pre-run lines never reached a log: only what is on disk counts. */
        if (e->store) {
            for (size_t k = 0; k < x->ring_n; k++)
                free(x->ring[(x->ring_head + k) % x->ring_cap].msg);
            x->ring_n = 0;
            x->line_count = 0;
        }
    }
    if (j->status == JOB_RUNNING)
        set_status(e, w.job, JOB_PENDING);
    if (j->is_step)
        e->co_running = false;
    update_deployment(e);
    mark_dirty(e);
}

/* Lines past disk_lines never reached the log: memory keeps what the disk has. */
static void trim_to_disk_locked(struct exec *x, int64_t disk_lines)
{
    while (x->line_count > disk_lines && x->ring_n) {
        size_t last = (x->ring_head + x->ring_n - 1) % x->ring_cap;
        free(x->ring[last].msg);
        x->ring_n--;
        x->line_count--;
    }
    if (x->line_count > disk_lines)
        x->line_count = disk_lines;
}

/*
 * The log could not be written: the reason goes into the execution record
 * (index.json, under mu) and, past the space check, the log still has room
 * for it as its last line. Lines memory has beyond the disk are dropped
 * first, so the numbering on disk stays without a gap.
 */
static void record_store_failure(struct run_ctx *r, const char *why)
{
    struct engine *e = r->e;
    int64_t ts = time_now_ms();
    pthread_mutex_lock(&e->mu);
    const char *bare = strncmp(why, "[error] ", 8) == 0 ? why + 8 : why;
    snprintf(r->x->error, sizeof(r->x->error), "%.250s", bare);
    trim_to_disk_locked(r->x, r->disk_lines);
    int64_t n = exec_add_line(e, r->x, LOG_ERROR, why, ts);
    pthread_mutex_unlock(&e->mu);
    struct log_line l = {n, ts, LOG_ERROR, why};
    if (r->fd >= 0 && n > 0 && store_log_append(r->fd, &l) == 0)
        r->disk_lines = n;
    notify(e);
}

static void run_one(struct engine *e, struct work w)
{
    char id[33];
    pthread_mutex_lock(&e->mu);
    if (e->store_fault[0]) {
        unqueue_locked(e, w, NULL);
        pthread_mutex_unlock(&e->mu);
        notify(e);
        return;
    }
    if (w.exec >= 0)
        memcpy(id, e->execs[w.exec]->id, sizeof(id));
    else
        id_hex(id, 16);
    pthread_mutex_unlock(&e->mu);
    int fd;
    if (prepare_log(e, w.job, id, &fd) != 0) {
        pthread_mutex_lock(&e->mu);
        unqueue_locked(e, w, NULL);
        pthread_mutex_unlock(&e->mu);
        notify(e);
        return;
    }

    pthread_mutex_lock(&e->mu);
    struct ejob *j = &e->jobs[w.job];
    int64_t now = time_now_ms();
    struct exec *x = w.exec >= 0 ? e->execs[w.exec] : exec_new(e, w.job, now, id);
    if (!x) {
        j->queued = false;
        set_status(e, w.job, JOB_FAILED);
        mark_dirty(e);
        pthread_mutex_unlock(&e->mu);
        if (fd >= 0)
            close(fd);
        return;
    }
    x->has_runner = true;
    int attempt = own_attempts(e, j);
    set_status(e, w.job, JOB_RUNNING);
    if (!j->started_at)
        j->started_at = x->started_at;
    j->finished_at = 0;
    if (!e->dep.started_at)
        e->dep.started_at = now;
    int64_t hold = 0;
    if (j->is_step) {
        hold = j->sj && j->sj->hold_ms > 0 ? scaled_ms(e, j->sj->hold_ms) : 0;
        cutover_step_start(e->co, (size_t)j->step_index, now, e->co_epoch,
                           hold > 0 ? now + hold : 0);
    }
    update_deployment(e);
    mark_dirty(e);
    /* Lines written before a runner existed (the [retry] note). */
    size_t pre = x->ring_n;
    struct log_line *pl = pre ? calloc(pre, sizeof(*pl)) : NULL;
    for (size_t i = 0; pl && i < pre; i++) {
        const struct mline *m = &x->ring[(x->ring_head + i) % x->ring_cap];
        pl[i] = (struct log_line){x->line_count - (int64_t)pre + (int64_t)i + 1, m->ts, m->level,
                                  strdup(m->msg)};
    }
    pthread_mutex_unlock(&e->mu);
    notify(e);

    struct run_ctx rc = {.e = e, .x = x, .fd = fd, .cap = e->log_cap};
    atomic_init(&rc.abort, false);
    for (size_t i = 0; pl && i < pre; i++) {
        if (fd >= 0 && pl[i].message && !rc.log_failed) {
            size_t nb;
            if (store_log_append_n(fd, &pl[i], &nb) == 0) {
                rc.bytes += (int64_t)nb;
                rc.disk_lines = pl[i].line_number;
            } else {
                rc.log_failed = true;
                rc.log_errno = errno;
            }
        }
        free((char *)(uintptr_t)pl[i].message);
    }
    free(pl);

    int64_t t0 = mono_ms();
    enum outcome out = OUT_OK;
    char why[512] = "";
    const struct spec_job *sj = j->sj;
    if (rc.log_failed) {
        out = OUT_FAILED;
    } else if (atomic_load(&e->cancel)) {
        out = OUT_INTERRUPTED;
    } else if (sj && sj->run && !sj->simulated) {
        out = run_command(&rc, sj, why, sizeof(why));
    } else if (sj) {
        const char *w2 = "";
        out = run_simulated(&rc, sj, attempt, &w2);
        snprintf(why, sizeof(why), "%s", w2);
    }
    if (out == OUT_OK && hold > 0) {
        exec_logf(&rc, LOG_INFO, "[hold] holding for %lld s", (long long)((hold + 999) / 1000));
        if (sleep_until(e, t0 + hold))
            out = OUT_INTERRUPTED;
        else
            exec_log(&rc, LOG_INFO, "[hold] hold elapsed");
    }
    if (rc.dropped > 0) {
        char cap[32], lost[32];
        exec_logf(&rc, LOG_WARN, "[log-cap] %lld lines (%s) dropped past the %s cap",
                  (long long)rc.dropped, size_format(rc.dropped_bytes, lost, sizeof(lost)),
                  size_format(rc.cap, cap, sizeof(cap)));
    }
    if (out == OUT_INTERRUPTED) {
        pthread_mutex_lock(&e->mu);
        char reason[sizeof(e->stop_reason)];
        memcpy(reason, e->stop_reason, sizeof(reason));
        pthread_mutex_unlock(&e->mu);
        if (reason[0])
            exec_logf(&rc, LOG_ERROR, "[stopped] %s; it runs again on the next start", reason);
        else
            exec_log(&rc, LOG_ERROR, "[interrupted] the engine stopped before this execution "
                                     "finished; it runs again on the next start");
    }
    if (rc.log_failed) {
        /* The result cannot be recorded truthfully: never a success over a cut log. */
        out = OUT_STORE_FAILED;
        if (rc.log_no_room)
            snprintf(why, sizeof(why), "[error] the log was stopped with fewer than %lld KiB "
                     "free in the state dir; this execution is failed, and the job runs again "
                     "on the next start", (long long)(e->reserve / 2 >> 10));
        else
            snprintf(why, sizeof(why), "[error] cannot write the log: %s; this execution is "
                     "failed, and the job runs again on the next start", strerror(rc.log_errno));
        record_store_failure(&rc, why);
    }
    if (out == OUT_NOT_STARTED) {
        snprintf(why, sizeof(why), "[not-started] %.480s", rc.start_error);
        exec_log(&rc, LOG_ERROR, why); /* dropped if even that cannot be written */
    }
    if (fd >= 0) {
        if (fsync(fd) != 0 && !rc.log_failed) {
            rc.log_failed = true;
            rc.log_errno = errno;
            out = OUT_STORE_FAILED;
            snprintf(why, sizeof(why), "[error] cannot write the log: %s; this execution is "
                     "failed, and the job runs again on the next start", strerror(rc.log_errno));
            /* Its lines may not be on disk: the record alone keeps the reason. */
            pthread_mutex_lock(&e->mu);
            snprintf(x->error, sizeof(x->error), "%.250s", why + 8);
            pthread_mutex_unlock(&e->mu);
        }
        close(fd);
    }
    pthread_mutex_lock(&e->mu);
    if (rc.log_failed)
        store_fault_locked(e, "cannot write the log of %s: %s", j->name,
                           strerror(rc.log_errno));
    if (fd >= 0)
        trim_to_disk_locked(x, rc.disk_lines);
    finish_locked(e, x, out, why);
    pthread_mutex_unlock(&e->mu);
    notify(e);
}

static void *worker_main(void *arg)
{
    struct engine *e = arg;
    pthread_mutex_lock(&e->mu);
    for (;;) {
        while (!e->stopping && e->rq_n == 0)
            pthread_cond_wait(&e->work_cv, &e->mu);
        if (e->stopping)
            break;
        struct work w = e->runq[e->rq_head];
        e->rq_head = (e->rq_head + 1) % e->rq_cap;
        e->rq_n--;
        pthread_mutex_unlock(&e->mu);
        run_one(e, w);
        pthread_mutex_lock(&e->mu);
    }
    pthread_mutex_unlock(&e->mu);
    return NULL;
}

static void *sched_main(void *arg)
{
    struct engine *e = arg;
    pthread_mutex_lock(&e->mu);
    while (!e->stopping) {
        bool did = false;
        while (e->rel_n && e->rel[e->rel_head].seq <= e->committed_seq) {
            int ji = e->rel[e->rel_head].job;
            e->rel_head = (e->rel_head + 1) % e->rel_cap;
            e->rel_n--;
            release_job(e, ji);
            did = true;
        }
        if (did)
            continue;
        pthread_cond_wait(&e->sched_cv, &e->mu);
    }
    pthread_mutex_unlock(&e->mu);
    return NULL;
}

/* ---------------------------------------------------------------- store thread */

/* Copies the state under mu and writes it outside; returns the committed seq. */
static void commit_once(struct engine *e)
{
    pthread_mutex_lock(&e->mu);
    uint64_t seq = e->change_seq;
    bool co_changed = cutover_version(e->co) != e->co_written;
    uint64_t co_ver = cutover_version(e->co);
    struct strbuf co_sb;
    sb_init(&co_sb);
    if (co_changed)
        cutover_encode(e->co, &co_sb);
    struct job *jobs = calloc(e->n_jobs ? e->n_jobs : 1, sizeof(*jobs));
    int *left = calloc(e->n_jobs ? e->n_jobs : 1, sizeof(int));
    struct execution *xs = calloc(e->n_execs ? e->n_execs : 1, sizeof(*xs));
    struct store_exec_meta *meta = calloc(e->n_execs ? e->n_execs : 1, sizeof(*meta));
    size_t nx = e->n_execs;
    struct deployment d = e->dep;
    char status[32];
    memcpy(status, e->dep_status, sizeof(status));
    d.status = status;
    char outcome[32];
    memcpy(outcome, e->dep_outcome, sizeof(outcome));
    d.phase1_outcome = outcome;
    if (jobs && left && xs && meta) {
        for (size_t i = 0; i < e->n_jobs; i++) {
            const struct ejob *s = &e->jobs[i];
            struct job *o = &jobs[i];
            o->id = s->id;
            o->deployment_id = e->dep_id;
            o->job_name = s->name;
            o->display_name = s->display;
            o->app_id = s->app;
            o->parent_id = s->parent_id;
            o->depends_on = s->depends_on;
            o->n_depends_on = s->n_depends_on;
            o->child_ids = s->child_ids;
            o->n_child_ids = s->n_child_ids;
            o->is_group = s->is_group;
            o->kind = s->kind;
            if (s->is_group) {
                o->status = s->cnt[JOB_FAILED]    ? JOB_FAILED
                            : s->cnt[JOB_RUNNING] ? JOB_RUNNING
                            : s->cnt[JOB_PENDING] || !s->n_children ? JOB_PENDING
                                                                    : JOB_SUCCEEDED;
                left[i] = -1;
            } else {
                o->status = s->status;
                o->started_at = s->started_at;
                o->finished_at = s->finished_at;
                o->duration_ms = s->finished_at ? s->finished_at - s->started_at : 0;
                o->latest_execution_id = s->n_execs ? e->execs[s->execs[s->n_execs - 1]]->id : "";
                o->run_count = (int32_t)s->n_execs;
                left[i] = s->retries_left;
            }
        }
        for (size_t i = 0; i < nx; i++) {
            const struct exec *x = e->execs[i];
            xs[i] = (struct execution){x->id, e->jobs[x->job].id, e->dep_id, x->status,
                                       x->started_at, x->finished_at, x->line_count, ""};
            meta[i].interrupted = x->interrupted;
            meta[i].pgid = x->pgid;
            meta[i].proc_start = x->proc_start;
            memcpy(meta[i].boot_id, x->boot_id, sizeof(meta[i].boot_id));
            memcpy(meta[i].error, x->error, sizeof(meta[i].error));
        }
    }
    pthread_mutex_unlock(&e->mu);

    struct error err;
    error_clear(&err);
    int rc = 0;
    if (!jobs || !left || !xs || !meta) {
        rc = -1;
        error_set(&err, EXIT_FAILED, "out of memory");
    } else {
        /*
         * The cutover map and the deployment go first: after a crash between
         * the writes a map ahead of the index only re-runs a step, and the
         * deployment id is never lost.
         */
        if (co_changed)
            rc = store_write_cutover(e->store, co_sb.buf, co_sb.len, &err);
        /*
         * deployment.json changes a few times a run: rewriting (and syncing) it
         * on every commit would double the latency of the commit a `run:`
         * command waits for before it starts.
         */
        char dep_key[sizeof(e->dep_written)];
        snprintf(dep_key, sizeof(dep_key), "%s|%lld|%lld|%lld|%s|%lld", d.status,
                 (long long)d.started_at, (long long)d.finished_at,
                 (long long)d.phase1_finished_at, d.phase1_outcome,
                 (long long)d.handover_fired_at);
        bool dep_changed = strcmp(dep_key, e->dep_written) != 0;
        if (rc == 0 && dep_changed)
            rc = store_write_deployment(e->store, &d, &err);
        if (rc == 0 && dep_changed)
            memcpy(e->dep_written, dep_key, sizeof(dep_key));
        if (rc == 0)
            rc = store_write_index(e->store, e->dep_id, jobs, e->n_jobs, left, xs, meta, nx,
                                   &err);
    }
    free(jobs);
    free(left);
    free(xs);
    free(meta);
    sb_fini(&co_sb);

    pthread_mutex_lock(&e->mu);
    bool had_error = e->last_store_error[0] != 0;
    if (rc == 0) {
        if (seq > e->committed_seq)
            e->committed_seq = seq;
        if (co_changed)
            e->co_written = co_ver;
        e->last_store_error[0] = 0;
    } else {
        snprintf(e->last_store_error, sizeof(e->last_store_error), "%s", err.msg);
        char where[1100];
        store_fault_locked(e, "cannot save state: %s", error_format(&err, where, sizeof(where)));
    }
    pthread_cond_signal(&e->sched_cv);
    pthread_cond_broadcast(&e->commit_cv);
    /* The error appears in (or leaves) snapshots. */
    if (had_error != (rc != 0))
        bump_gen(e);
    pthread_mutex_unlock(&e->mu);
}

static bool store_dirty(const struct engine *e)
{
    return e->committed_seq != e->change_seq || cutover_version(e->co) != e->co_written;
}

static void *store_main(void *arg)
{
    struct engine *e = arg;
    pthread_mutex_lock(&e->mu);
    for (;;) {
        while (!e->store_quit && !store_dirty(e))
            pthread_cond_wait(&e->store_cv, &e->mu);
        if (!store_dirty(e) && e->store_quit)
            break;
        bool failed_before = e->last_store_error[0] != 0;
        pthread_mutex_unlock(&e->mu);
        commit_once(e);
        pthread_mutex_lock(&e->mu);
        /* A failing disk must not spin: retry after a pause. */
        if (e->last_store_error[0] && failed_before && !e->store_quit) {
            struct timespec ts = mono_deadline(500);
            pthread_cond_timedwait(&e->store_cv, &e->mu, &ts);
        }
        if (e->store_quit && e->last_store_error[0])
            break;
    }
    pthread_mutex_unlock(&e->mu);
    return NULL;
}

/* ---------------------------------------------------------------- building */

static const char *sdup(struct engine *e, const char *s)
{
    return arena_strdup(e->arena, s ? s : "");
}

static int add_dependent(struct ejob *d, int who)
{
    if (d->n_dependents == d->cap_dependents) {
        size_t nc = d->cap_dependents ? d->cap_dependents * 2 : 4;
        int *v = realloc(d->dependents, nc * sizeof(*v));
        if (!v)
            return -1;
        d->dependents = v;
        d->cap_dependents = nc;
    }
    d->dependents[d->n_dependents++] = who;
    return 0;
}

static int find_job(const struct engine *e, const char *key)
{
    int i = strmap_get(&e->names, key);
    if (i >= 0)
        return i;
    size_t dl = strlen(e->dep_id);
    if (strncmp(key, e->dep_id, dl) == 0 && key[dl] == ':')
        return strmap_get(&e->names, key + dl + 1);
    return -1;
}

static int build_jobs(struct engine *e, struct error *err)
{
    const struct spec *sp = e->spec;
    size_t n = 0;
    for (size_t g = 0; g < sp->n_groups; g++)
        n += 1 + sp->groups[g].n_jobs;
    if (sp->cutover.n_steps)
        n += 1 + sp->cutover.n_steps;
    e->jobs = calloc(n ? n : 1, sizeof(*e->jobs));
    e->steps = calloc(sp->cutover.n_steps ? sp->cutover.n_steps : 1, sizeof(int));
    e->topo = calloc(n ? n : 1, sizeof(int));
    if (!e->jobs || !e->steps || !e->topo)
        goto oom;
    e->cutover_group = -1;
    e->g_bootstrap = e->g_handover = e->j_tofu_apply = e->j_cluster_bootstrap = e->g_first = -1;
    size_t k = 0;
    for (size_t g = 0; g < sp->n_groups + (sp->cutover.n_steps ? 1 : 0); g++) {
        bool is_co = g == sp->n_groups;
        const struct spec_group *sg = is_co ? NULL : &sp->groups[g];
        size_t nj = is_co ? sp->cutover.n_steps : sg->n_jobs;
        int gi = (int)k++;
        struct ejob *G = &e->jobs[gi];
        G->is_group = true;
        G->kind = KIND_GROUP;
        G->group = -1;
        G->in_cutover = is_co;
        G->name = sdup(e, is_co ? "cutover" : sg->name);
        G->display = sdup(e, is_co ? "Cutover" : sg->display_name);
        G->app = G->parent_id = "";
        G->id = arena_printf(e->arena, "%s:%s", e->dep_id, G->name);
        G->children = calloc(nj ? nj : 1, sizeof(int));
        G->child_ids = arena_calloc(e->arena, nj ? nj : 1, sizeof(char *));
        G->depends_on = arena_calloc(e->arena, 1, sizeof(char *));
        if (!G->name || !G->display || !G->id || !G->children || !G->child_ids || !G->depends_on)
            goto oom;
        G->cnt[JOB_PENDING] = (int)nj;
        if (is_co)
            e->cutover_group = gi;
        else if (strcmp(G->name, "bootstrap-kit") == 0)
            e->g_bootstrap = gi;
        else if (strcmp(G->name, "handover") == 0)
            e->g_handover = gi;
        if (!is_co && e->g_first < 0)
            e->g_first = gi;
        for (size_t i = 0; i < nj; i++) {
            const struct spec_job *sj = is_co ? &sp->cutover.steps[i] : &sg->jobs[i];
            int ji = (int)k++;
            struct ejob *J = &e->jobs[ji];
            J->sj = sj;
            J->group = gi;
            J->in_cutover = is_co;
            J->is_step = is_co;
            J->step_index = (int)i;
            J->name = is_co ? arena_printf(e->arena, "cutover-step-%s", sj->name)
                            : sdup(e, sj->name);
            J->display = sdup(e, is_co && sj->label && *sj->label ? sj->label : sj->display_name);
            J->app = sdup(e, sj->app);
            J->parent_id = G->id;
            if (!J->name)
                goto oom;
            J->id = arena_printf(e->arena, "%s:%s", e->dep_id, J->name);
            J->kind = is_co ? KIND_STEP : job_kind_from_name(J->name, false);
            J->retries_left = sj->retries;
            if (is_co) {
                J->n_depends_on = i ? 1 : 0;
                J->depends_on = arena_calloc(e->arena, 1, sizeof(char *));
                if (J->depends_on && i)
                    J->depends_on[0] = e->jobs[ji - 1].name;
                e->steps[e->n_steps++] = ji;
            } else {
                J->n_depends_on = sj->n_depends_on;
                J->depends_on = arena_calloc(e->arena, sj->n_depends_on + 1, sizeof(char *));
                for (size_t d = 0; J->depends_on && d < sj->n_depends_on; d++)
                    J->depends_on[d] = sj->depends_on[d];
            }
            if (!J->id || !J->display || !J->app || !J->depends_on)
                goto oom;
            G->children[G->n_children++] = ji;
            G->child_ids[G->n_child_ids++] = J->id;
            if (strcmp(J->name, "tofu-apply") == 0)
                e->j_tofu_apply = ji;
            else if (strcmp(J->name, "cluster-bootstrap") == 0)
                e->j_cluster_bootstrap = ji;
        }
    }
    e->n_jobs = k;
    for (size_t i = 0; i < e->n_jobs; i++)
        if (strmap_put(&e->names, e->jobs[i].id, (int)i) != 0 ||
            strmap_put(&e->names, e->jobs[i].name, (int)i) != 0)
            goto oom;
    /* Resolve dependencies (WIRE §3.4) plus the `after` edges of root jobs. */
    size_t gidx = 0;
    int cur_group = -1;
    for (size_t i = 0; i < e->n_jobs; i++) {
        struct ejob *J = &e->jobs[i];
        if (J->is_group) {
            cur_group = (int)i;
            if (!J->in_cutover)
                gidx++;
            continue;
        }
        const struct spec_group *sg = J->in_cutover ? NULL : &sp->groups[gidx - 1];
        size_t n_after = sg && J->n_depends_on == 0 ? sg->n_after : 0;
        J->deps = calloc(J->n_depends_on + n_after + 1, sizeof(int));
        if (!J->deps)
            goto oom;
        for (size_t d = 0; d < J->n_depends_on; d++) {
            int t = find_job(e, J->depends_on[d]);
            if (t < 0 || t == (int)i)
                continue;
            J->deps[J->n_deps++] = t;
        }
        for (size_t a = 0; a < n_after; a++) {
            int t = find_job(e, sg->after[a]);
            if (t >= 0 && e->jobs[t].is_group && t != cur_group)
                J->deps[J->n_deps++] = t;
        }
        for (size_t d = 0; d < J->n_deps; d++)
            if (add_dependent(&e->jobs[J->deps[d]], (int)i) != 0)
                goto oom;
    }
    if (sp->cutover.n_after) {
        e->co_after = calloc(sp->cutover.n_after, sizeof(int));
        if (!e->co_after)
            goto oom;
        for (size_t a = 0; a < sp->cutover.n_after; a++) {
            int t = find_job(e, sp->cutover.after[a]);
            if (t >= 0 && e->jobs[t].is_group)
                e->co_after[e->n_co_after++] = t;
        }
    }
    /* Topological order (Kahn): leaves after deps, groups after their leaves. */
    int *indeg = calloc(e->n_jobs ? e->n_jobs : 1, sizeof(int));
    bool *done = calloc(e->n_jobs ? e->n_jobs : 1, sizeof(bool));
    if (!indeg || !done) {
        free(indeg);
        free(done);
        goto oom;
    }
    for (size_t i = 0; i < e->n_jobs; i++)
        indeg[i] = e->jobs[i].is_group ? (int)e->jobs[i].n_children : (int)e->jobs[i].n_deps;
    size_t head = 0, tail = 0;
    for (size_t i = 0; i < e->n_jobs; i++)
        if (indeg[i] == 0) {
            e->topo[tail++] = (int)i;
            done[i] = true;
        }
    while (tail < e->n_jobs) {
        if (head == tail) {
            /* A cycle the loader let through: append the rest in order. */
            for (size_t i = 0; i < e->n_jobs; i++)
                if (!done[i] && indeg[i] > 0) {
                    indeg[i] = 0;
                    e->topo[tail++] = (int)i;
                    done[i] = true;
                    break;
                }
            continue;
        }
        int v = e->topo[head++];
        const struct ejob *V = &e->jobs[v];
        for (size_t d = 0; d < V->n_dependents; d++) {
            int w = V->dependents[d];
            if (!done[w] && --indeg[w] == 0) {
                e->topo[tail++] = w;
                done[w] = true;
            }
        }
        if (V->group >= 0 && !done[V->group] && --indeg[V->group] == 0) {
            e->topo[tail++] = V->group;
            done[V->group] = true;
        }
    }
    free(indeg);
    free(done);
    return 0;
oom:
    error_set(err, EXIT_FAILED, "out of memory");
    return -1;
}

/* ---------------------------------------------------------------- recovery */

/* Appends lines to a recovered execution's log (before any thread exists). */
static void append_lines(struct engine *e, struct exec *x, const char *const *msgs, size_t n)
{
    int fd = store_log_open(e->store, e->dep_id, x->id);
    for (size_t i = 0; i < n; i++) {
        int64_t ts = time_now_ms();
        int64_t ln = exec_add_line(e, x, LOG_ERROR, msgs[i], ts);
        struct log_line l = {ln, ts, LOG_ERROR, msgs[i]};
        if (fd < 0 || store_log_append(fd, &l) != 0)
            x->line_count--; /* not on disk: not counted */
    }
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/*
 * An execution a crash left "running": its command may still be running,
 * orphaned. It is ended (its whole group) before the job may run again, so
 * one job's command never runs twice at once. True when the job may run.
 */
static bool recover_running(struct engine *e, struct exec *x, int how)
{
    x->line_count = store_log_repair(e->store, e->dep_id, x->id);
    const char *msgs[2] = {"[interrupted] the engine ended (crash or kill) before this execution "
                           "finished; it runs again without using a retry",
                           NULL};
    char line[300];
    bool may_run = true;
    if (x->pgid > 1) {
        if (how > 0)
            snprintf(line, sizeof(line), "[recovery] ended surviving process group %d of the "
                     "interrupted execution (%s)", x->pgid,
                     how == SIGTERM ? "SIGTERM" : "SIGKILL");
        else if (how < 0)
            snprintf(line, sizeof(line), "[recovery] process group %d of the interrupted "
                     "execution survived SIGKILL; the job does not run again while it lives",
                     x->pgid);
        if (how != 0)
            msgs[1] = line;
        may_run = how >= 0;
    }
    append_lines(e, x, msgs, msgs[1] ? 2 : 1);
    x->status = EXEC_FAILED;
    x->interrupted = may_run;
    x->finished_at = time_now_ms();
    return may_run;
}

/*
 * Ends, all at once, the surviving groups of the executions a crash left
 * running: one grace for all of them rather than one each. how[i] is
 * proc_end_group's answer for st->execs[i] (0 when it had no group to end).
 */
static int *end_orphans(struct engine *e, const struct store_state *st)
{
    int *how = calloc(st->n_execs ? st->n_execs : 1, sizeof(*how));
    struct proc_ident *ids = calloc(st->n_execs ? st->n_execs : 1, sizeof(*ids));
    size_t *at = calloc(st->n_execs ? st->n_execs : 1, sizeof(*at));
    if (!how || !ids || !at) {
        free(how);
        free(ids);
        free(at);
        return NULL;
    }
    size_t n = 0;
    for (size_t i = 0; i < st->n_execs && !e->cfg.observe; i++) {
        const struct store_exec *sx = &st->execs[i];
        int ji = strmap_get(&e->names, sx->job_id);
        if (ji < 0 || e->jobs[ji].is_group || sx->status != EXEC_RUNNING || sx->meta.pgid <= 1)
            continue;
        ids[n].pid = sx->meta.pgid;
        ids[n].start_time = sx->meta.proc_start;
        snprintf(ids[n].boot_id, sizeof(ids[n].boot_id), "%s", sx->meta.boot_id);
        at[n++] = i;
    }
    int *res = calloc(n ? n : 1, sizeof(*res));
    if (!res) {
        free(how);
        how = NULL;
    } else {
        proc_end_groups(ids, n, e->recovery_grace_ms, res);
        for (size_t k = 0; k < n; k++)
            how[at[k]] = res[k];
    }
    free(res);
    free(ids);
    free(at);
    return how;
}

static int recover(struct engine *e, const struct store_state *st, struct error *err)
{
    /* Before anything else: no orphan may keep running while its job could start again. */
    int *how = end_orphans(e, st);
    if (!how) {
        error_set(err, EXIT_FAILED, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < st->n_jobs; i++) {
        const struct store_job *sj = &st->jobs[i];
        if (sj->is_group)
            continue;
        int ji = strmap_get(&e->names, sj->id);
        if (ji < 0 || e->jobs[ji].is_group)
            continue; /* no longer in the spec */
        struct ejob *J = &e->jobs[ji];
        J->started_at = sj->started_at;
        if (sj->retries_left >= 0)
            J->retries_left = sj->retries_left;
        if (sj->status == JOB_SUCCEEDED) {
            set_status(e, ji, JOB_SUCCEEDED);
            J->finished_at = sj->finished_at;
        } else if (sj->status == JOB_FAILED) {
            set_status(e, ji, JOB_FAILED);
            J->finished_at = sj->finished_at;
        } else if (sj->status == JOB_RUNNING && e->cfg.observe) {
            set_status(e, ji, JOB_RUNNING);
        }
    }
    for (size_t i = 0; i < st->n_execs; i++) {
        const struct store_exec *sx = &st->execs[i];
        int ji = strmap_get(&e->names, sx->job_id);
        if (ji < 0 || e->jobs[ji].is_group)
            continue;
        /* Keep the recorded id: its log file is named after it. */
        struct exec *x = exec_new(e, ji, sx->started_at, sx->id);
        if (!x) {
            free(how);
            error_set(err, EXIT_FAILED, "out of memory");
            return -1;
        }
        x->status = sx->status;
        x->finished_at = sx->finished_at;
        x->line_count = sx->line_count;
        x->interrupted = sx->meta.interrupted;
        x->pgid = sx->meta.pgid;
        x->proc_start = sx->meta.proc_start;
        snprintf(x->boot_id, sizeof(x->boot_id), "%s", sx->meta.boot_id);
        snprintf(x->error, sizeof(x->error), "%s", sx->meta.error);
        if (x->status == EXEC_RUNNING && e->cfg.observe) {
            /* index.json is not rewritten per line: the log knows more. */
            int64_t n = store_log_count(e->store, e->dep_id, x->id);
            if (n > x->line_count)
                x->line_count = n;
        } else if (x->status == EXEC_RUNNING) {
            /* An interruption is not the job's failure: no retry is used up. */
            bool may_run = recover_running(e, x, how[i]);
            struct ejob *J = &e->jobs[ji];
            if (J->status != JOB_SUCCEEDED) {
                set_status(e, ji, may_run ? JOB_PENDING : JOB_FAILED);
                J->finished_at = may_run ? 0 : x->finished_at;
            }
        }
    }
    free(how);
    /* Successes on disk are committed: release them so dependents can run. */
    for (size_t t = 0; t < e->n_jobs; t++) {
        int ji = e->topo[t];
        if (is_leaf(&e->jobs[ji]))
            release_job(e, ji);
    }
    if (st->has_deployment) {
        snprintf(e->dep_status, sizeof(e->dep_status), "%s",
                 *st->dep.status ? st->dep.status : "pending");
        e->dep.started_at = st->dep.started_at;
        e->dep.finished_at = st->dep.finished_at;
        e->dep.phase1_finished_at = st->dep.phase1_finished_at;
        snprintf(e->dep_outcome, sizeof(e->dep_outcome), "%s", st->dep.phase1_outcome);
        e->dep.handover_fired_at = st->dep.handover_fired_at;
    }
    /* An observer shows the record as written rather than deriving new times. */
    if (!e->cfg.observe || !st->has_deployment)
        update_deployment(e);
    if (e->cfg.observe)
        for (size_t i = 0; i < e->n_steps; i++)
            if (e->jobs[e->steps[i]].status == JOB_RUNNING)
                e->co_running = true;
    return 0;
}

/* ---------------------------------------------------------------- activity refill */

struct act_cand {
    int64_t ts, fin;
    int exec;
    int64_t line_number;
    enum log_level level;
    char *msg;                 /* owned */
};

struct exec_rank {
    int64_t key;               /* finished_at; running: newest of all */
    int exec;
};

static int cmp_rank_desc(const void *pa, const void *pb)
{
    const struct exec_rank *a = pa, *b = pb;
    if (a->key != b->key)
        return a->key < b->key ? 1 : -1;
    return a->exec < b->exec ? 1 : a->exec > b->exec ? -1 : 0;
}

/* Time order; equal stamps keep the execution order, then the line order. */
static int cmp_cand(const void *pa, const void *pb)
{
    const struct act_cand *a = pa, *b = pb;
    if (a->ts != b->ts)
        return a->ts < b->ts ? -1 : 1;
    if (a->fin != b->fin)
        return a->fin < b->fin ? -1 : 1;
    if (a->exec != b->exec)
        return a->exec < b->exec ? -1 : 1;
    return a->line_number < b->line_number ? -1 : a->line_number > b->line_number;
}

/* Sorts c and keeps its newest ACTIVITY_MAX entries. */
static void cand_trim(struct act_cand *c, size_t *n)
{
    qsort(c, *n, sizeof(*c), cmp_cand);
    if (*n <= ACTIVITY_MAX)
        return;
    size_t drop = *n - ACTIVITY_MAX;
    for (size_t i = 0; i < drop; i++)
        free(c[i].msg);
    memmove(c, c + drop, ACTIVITY_MAX * sizeof(*c));
    *n = ACTIVITY_MAX;
}

/*
 * Rebuilds the activity feed from the log tails of the most recently
 * finished executions (running ones first). A log's lines are all written
 * before its execution finishes, so once the feed is full, an execution that
 * finished before the feed's oldest line cannot contribute and the scan
 * stops; the caps bound pathological states. Best effort: a log that cannot
 * be read is skipped. Called before any thread exists.
 */
static void refill_activity(struct engine *e)
{
    for (size_t i = 0; i < e->act_n; i++)
        free(e->act[(e->act_head + i) % ACTIVITY_MAX].msg);
    e->act_n = e->act_head = 0;
    if (!e->store || !e->n_execs)
        return;
    struct exec_rank *order = malloc(e->n_execs * sizeof(*order));
    struct act_cand *c = malloc(2 * ACTIVITY_MAX * sizeof(*c));
    if (!order || !c) {
        free(order);
        free(c);
        return;
    }
    size_t no = 0, nc = 0;
    for (size_t i = 0; i < e->n_execs; i++) {
        const struct exec *x = e->execs[i];
        if (x->status == EXEC_RUNNING)
            order[no++] = (struct exec_rank){INT64_MAX, (int)i};
        else if (x->line_count > 0)
            order[no++] = (struct exec_rank){x->finished_at, (int)i};
    }
    qsort(order, no, sizeof(*order), cmp_rank_desc);
    size_t budget = ACTIVITY_SCAN_BYTES;
    for (size_t k = 0; k < no && k < ACTIVITY_SCAN_LOGS && budget > 0; k++) {
        if (nc == ACTIVITY_MAX && order[k].key < c[0].ts)
            break;
        const struct exec *x = e->execs[order[k].exec];
        struct arena *a = arena_new();
        if (!a)
            break;
        struct log_line *l;
        size_t n, used;
        size_t lim = budget < ACTIVITY_TAIL_BYTES ? budget : ACTIVITY_TAIL_BYTES;
        if (store_log_tail(e->store, e->dep_id, x->id, ACTIVITY_MAX, lim, a, &l, &n, &used) == 0) {
            budget -= used < budget ? used : budget;
            /* Only the newest ACTIVITY_MAX of this log can be kept. */
            for (size_t i = 0; i < n; i++) {
                char *m = strdup(l[i].message);
                if (!m)
                    break;
                c[nc++] = (struct act_cand){l[i].timestamp, order[k].key, order[k].exec,
                                            l[i].line_number, l[i].level, m};
                if (nc == 2 * ACTIVITY_MAX)
                    cand_trim(c, &nc);
            }
        }
        arena_free(a);
        if (nc >= ACTIVITY_MAX)
            cand_trim(c, &nc);
    }
    cand_trim(c, &nc);
    for (size_t i = 0; i < nc; i++)
        e->act[i] = (struct act_line){e->execs[c[i].exec]->job, c[i].line_number, c[i].ts,
                                      c[i].level, c[i].msg};
    e->act_n = nc;
    free(order);
    free(c);
}

/* ---------------------------------------------------------------- lifecycle */

struct engine *engine_new(const struct spec *spec, const struct engine_config *cfg,
                          struct error *err)
{
    error_clear(err);
    struct engine *e = calloc(1, sizeof(*e));
    if (!e) {
        error_set(err, EXIT_FAILED, "out of memory");
        return NULL;
    }
    e->spec = spec;
    if (cfg)
        e->cfg = *cfg;
    e->speed = e->cfg.speed > 0 ? e->cfg.speed : 1.0;
    e->n_workers = e->cfg.workers > 0 ? e->cfg.workers : 4;
    e->log_cap = e->cfg.log_cap ? e->cfg.log_cap : LOG_CAP_DEFAULT;
    e->reserve = e->cfg.store_reserve ? e->cfg.store_reserve : STORE_RESERVE_DEFAULT;
    if (e->reserve < 0)
        e->reserve = 0;
    e->recovery_grace_ms = e->cfg.recovery_grace_ms > 0 ? e->cfg.recovery_grace_ms : KILL_GRACE_MS;
    e->mode = strdup(e->cfg.mode && *e->cfg.mode ? e->cfg.mode : "standalone");
    e->state_dir = e->cfg.state_dir ? strdup(e->cfg.state_dir) : NULL;
    e->arena = arena_new();
    pthread_mutex_init(&e->mu, NULL);
    pthread_cond_init(&e->work_cv, NULL);
    pthread_cond_init(&e->sched_cv, NULL);
    cond_init_mono(&e->store_cv);
    cond_init_mono(&e->gen_cv);
    cond_init_mono(&e->stop_cv);
    pthread_cond_init(&e->commit_cv, NULL);
    atomic_init(&e->cancel, false);
    e->cutover_group = -1;
    snprintf(e->dep_status, sizeof(e->dep_status), "pending");
    if (!e->mode || !e->arena || (e->cfg.state_dir && !e->state_dir)) {
        error_set(err, EXIT_FAILED, "out of memory");
        goto fail;
    }
    if (e->cfg.observe && e->cfg.fresh) {
        /* --fresh moves the dir aside: that is a write, and the dir may be in use. */
        error_set(err, EXIT_USAGE,
                  "--fresh cannot be combined with only observing the state dir (--once)");
        goto fail;
    }
    if (e->cfg.observe)
        e->cfg.read_only = true;
    e->cfg.state_dir = e->state_dir;
    e->cfg.mode = e->mode;

    struct store_state st;
    memset(&st, 0, sizeof(st));
    if (e->state_dir) {
        e->store = e->cfg.observe ? store_open_observe(e->state_dir, err)
                                  : store_open(e->state_dir, e->cfg.fresh, err);
        if (!e->store)
            goto fail;
        if (store_load(e->store, &st, err) != 0)
            goto fail;
    }
    const char *want = spec->deployment_id && *spec->deployment_id ? spec->deployment_id : NULL;
    if (st.has_deployment) {
        if (want && strcmp(want, st.dep.id) != 0) {
            error_at(err, EXIT_USAGE, e->state_dir, 0, 0,
                     "state dir holds deployment %s but the spec says %s; use --fresh or "
                     "another --state-dir",
                     st.dep.id, want);
            store_state_fini(&st);
            goto fail;
        }
        snprintf(e->dep_id, sizeof(e->dep_id), "%s", st.dep.id);
    } else if (want) {
        snprintf(e->dep_id, sizeof(e->dep_id), "%s", want);
    } else {
        id_hex(e->dep_id, 8);
    }
    if (build_jobs(e, err) != 0) {
        store_state_fini(&st);
        goto fail;
    }
    const char **names = calloc(e->n_steps ? e->n_steps : 1, sizeof(char *));
    int64_t *holds = calloc(e->n_steps ? e->n_steps : 1, sizeof(int64_t));
    if (names && holds)
        for (size_t i = 0; i < e->n_steps; i++) {
            names[i] = spec->cutover.steps[i].name;
            holds[i] = scaled_ms(e, spec->cutover.steps[i].hold_ms);
        }
    e->co = names && holds ? cutover_new(names, holds, e->n_steps) : NULL;
    free(names);
    free(holds);
    if (!e->co) {
        error_set(err, EXIT_FAILED, "out of memory");
        store_state_fini(&st);
        goto fail;
    }
    if (st.cutover_json) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/cutover-status.json", e->state_dir);
        if (cutover_load_json(e->co, st.cutover_json, st.cutover_len, path, err) != 0) {
            store_state_fini(&st);
            goto fail;
        }
        e->co_written = cutover_version(e->co);
    }
    e->dep.id = e->dep_id;
    e->dep.status = e->dep_status;
    e->dep.sovereign_fqdn = sdup(e, spec->fqdn);
    e->dep.region = sdup(e, spec->n_regions ? spec->regions[0] : "");
    e->dep.error = e->dep.org_name = e->dep.owner_email = e->dep.control_plane_ip = "";
    e->dep.load_balancer_ip = e->dep.gitops_repo_url = e->dep.console_url = "";
    e->dep.phase1_outcome = e->dep_outcome;
    int rc = recover(e, &st, err);
    store_state_fini(&st);
    if (rc != 0)
        goto fail;
    refill_activity(e);
    /* Record what recovery changed before anything runs. */
    e->change_seq++;
    if (!e->store)
        e->committed_seq = e->change_seq;
    e->ready = true;
    return e;
fail:
    engine_free(e);
    return NULL;
}

int engine_start(struct engine *e, struct error *err)
{
    error_clear(err);
    if (e->cfg.observe) {
        error_set(err, EXIT_USAGE, "engine opened to observe: it runs nothing");
        return -1;
    }
    pthread_mutex_lock(&e->mu);
    if (e->started || e->stopping) {
        pthread_mutex_unlock(&e->mu);
        return 0;
    }
    e->started = true;
    pthread_mutex_unlock(&e->mu);
    e->workers = calloc((size_t)e->n_workers, sizeof(pthread_t));
    if (!e->workers) {
        error_set(err, EXIT_FAILED, "out of memory");
        return -1;
    }
    if (e->store) {
        if (pthread_create(&e->store_thr, NULL, store_main, e) != 0)
            goto fail;
        e->store_started = true;
    }
    if (pthread_create(&e->sched_thr, NULL, sched_main, e) != 0)
        goto fail;
    e->sched_started = true;
    for (int i = 0; i < e->n_workers; i++) {
        if (pthread_create(&e->workers[i], NULL, worker_main, e) != 0)
            goto fail;
        e->n_started_workers++;
    }
    pthread_mutex_lock(&e->mu);
    for (size_t t = 0; t < e->n_jobs; t++)
        try_ready(e, e->topo[t]);
    /*
     * A run that neither completed nor halted on a failed step was interrupted
     * (crash or stop): it resumes by itself, like upstream after a Pod restart.
     */
    if (e->n_steps && !e->co_running && cutover_was_started(e->co) &&
        !cutover_is_complete(e->co) &&
        (cutover_step_running(e->co) || !*cutover_get(e->co, "failedStep")))
        co_begin(e);
    else
        maybe_auto_cutover(e);
    bump_gen(e);
    pthread_mutex_unlock(&e->mu);
    notify(e);
    return 0;
fail:
    error_set(err, EXIT_FAILED, "cannot start engine threads: %s", strerror(errno));
    engine_stop(e);
    return -1;
}

void engine_stop(struct engine *e)
{
    engine_stop_jobs(e, NULL);
}

void engine_stop_jobs(struct engine *e, const char *reason)
{
    if (!e || !e->ready)
        return;
    pthread_mutex_lock(&e->mu);
    if (e->stopped) {
        pthread_mutex_unlock(&e->mu);
        return;
    }
    e->stopped = true;
    e->stopping = true;
    if (e->cfg.observe) {
        /* Nothing ever ran, and the dir is not ours to write. */
        pthread_mutex_unlock(&e->mu);
        return;
    }
    snprintf(e->stop_reason, sizeof(e->stop_reason), "%s", reason ? reason : "");
    atomic_store(&e->cancel, true);
    pthread_cond_broadcast(&e->work_cv);
    pthread_cond_broadcast(&e->sched_cv);
    pthread_cond_broadcast(&e->stop_cv);
    pthread_mutex_unlock(&e->mu);
    for (int i = 0; i < e->n_started_workers; i++)
        pthread_join(e->workers[i], NULL);
    if (e->sched_started)
        pthread_join(e->sched_thr, NULL);
    pthread_mutex_lock(&e->mu);
    /* Queued work never ran: jobs go back to pending, pre-made executions close. */
    char line[300];
    if (e->stop_reason[0])
        snprintf(line, sizeof(line), "[stopped] %s before this execution started",
                 e->stop_reason);
    else
        snprintf(line, sizeof(line),
                 "[interrupted] the engine stopped before this execution started");
    while (e->rq_n) {
        struct work w = e->runq[e->rq_head];
        e->rq_head = (e->rq_head + 1) % e->rq_cap;
        e->rq_n--;
        if (w.exec >= 0 && e->store) {
            /* Its lines so far are only in memory: they go to its log with the note. */
            struct exec *x = e->execs[w.exec];
            int64_t ts = time_now_ms();
            int64_t n = exec_add_line(e, x, LOG_ERROR, line, ts);
            int fd = store_log_open(e->store, e->dep_id, x->id);
            int64_t on_disk = 0;
            for (size_t i = 0; fd >= 0 && i < x->ring_n; i++) {
                const struct mline *m = &x->ring[(x->ring_head + i) % x->ring_cap];
                struct log_line l = {n - (int64_t)x->ring_n + (int64_t)i + 1, m->ts, m->level,
                                     m->msg};
                if (store_log_append(fd, &l) != 0)
                    break;
                on_disk = l.line_number;
            }
            if (fd >= 0) {
                fsync(fd);
                close(fd);
            }
            trim_to_disk_locked(x, on_disk);
            e->jobs[w.job].queued = false;
            x->status = EXEC_FAILED;
            x->interrupted = true;
            x->finished_at = time_now_ms();
            if (e->jobs[w.job].status == JOB_RUNNING)
                set_status(e, w.job, JOB_PENDING);
            if (e->jobs[w.job].is_step)
                e->co_running = false;
        } else {
            unqueue_locked(e, w, w.exec >= 0 ? line : NULL);
        }
    }
    if (e->co_running)
        e->co_running = false;
    update_deployment(e);
    mark_dirty(e);
    e->store_quit = true;
    pthread_cond_broadcast(&e->store_cv);
    pthread_mutex_unlock(&e->mu);
    if (e->store_started)
        pthread_join(e->store_thr, NULL);
    else if (e->store)
        commit_once(e);
    notify(e);
}

void engine_free(struct engine *e)
{
    if (!e)
        return;
    engine_stop(e);
    for (size_t i = 0; i < e->n_jobs; i++) {
        free(e->jobs[i].children);
        free(e->jobs[i].deps);
        free(e->jobs[i].dependents);
        free(e->jobs[i].execs);
    }
    free(e->jobs);
    for (size_t i = 0; i < e->n_execs; i++) {
        struct exec *x = e->execs[i];
        for (size_t k = 0; k < x->ring_n; k++)
            free(x->ring[(x->ring_head + k) % x->ring_cap].msg);
        free(x->ring);
        free(x);
    }
    free(e->execs);
    for (size_t i = 0; i < e->act_n; i++)
        free(e->act[(e->act_head + i) % ACTIVITY_MAX].msg);
    free(e->runq);
    free(e->rel);
    free(e->topo);
    free(e->steps);
    free(e->co_after);
    free(e->workers);
    strmap_fini(&e->names);
    strmap_fini(&e->exec_ids);
    cutover_free(e->co);
    store_free(e->store);
    arena_free(e->arena);
    free(e->mode);
    free(e->state_dir);
    pthread_mutex_destroy(&e->mu);
    pthread_cond_destroy(&e->work_cv);
    pthread_cond_destroy(&e->sched_cv);
    pthread_cond_destroy(&e->store_cv);
    pthread_cond_destroy(&e->gen_cv);
    pthread_cond_destroy(&e->stop_cv);
    pthread_cond_destroy(&e->commit_cv);
    free(e);
}

uint64_t engine_generation(struct engine *e)
{
    pthread_mutex_lock(&e->mu);
    uint64_t g = e->gen;
    pthread_mutex_unlock(&e->mu);
    return g;
}

uint64_t engine_wait(struct engine *e, uint64_t gen, int timeout_ms)
{
    pthread_mutex_lock(&e->mu);
    int64_t until = mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    while (e->gen == gen && mono_ms() < until) {
        struct timespec ts = mono_deadline(until - mono_ms());
        pthread_cond_timedwait(&e->gen_cv, &e->mu, &ts);
    }
    uint64_t g = e->gen;
    pthread_mutex_unlock(&e->mu);
    return g;
}

void engine_set_notify(struct engine *e, void (*fn)(void *ctx), void *ctx)
{
    pthread_mutex_lock(&e->mu);
    e->notify_fn = fn;
    e->notify_ctx = ctx;
    pthread_mutex_unlock(&e->mu);
}

const char *engine_deployment_id(struct engine *e) { return e->dep_id; }

/* ---------------------------------------------------------------- read side */

/* Read-time rollup and cascade (WIRE §3.2) over own statuses, in topo order. */
static void compute_eff(const struct engine *e, const enum job_status *own,
                        enum job_status *eff)
{
    for (size_t t = 0; t < e->n_jobs; t++) {
        int i = e->topo[t];
        const struct ejob *j = &e->jobs[i];
        if (j->is_group) {
            bool f = false, r = false, p = j->n_children == 0;
            for (size_t c = 0; c < j->n_children; c++) {
                enum job_status s = eff[j->children[c]];
                f |= s == JOB_FAILED;
                r |= s == JOB_RUNNING;
                p |= s == JOB_PENDING;
            }
            eff[i] = f ? JOB_FAILED : r ? JOB_RUNNING : p ? JOB_PENDING : JOB_SUCCEEDED;
            continue;
        }
        eff[i] = own[i];
        if (own[i] == JOB_PENDING)
            for (size_t d = 0; d < j->n_deps; d++)
                if (eff[j->deps[d]] == JOB_FAILED) {
                    eff[i] = JOB_FAILED;
                    break;
                }
    }
}

/* eff of every job, under mu; malloc'd (NULL on out-of-memory). */
static enum job_status *eff_locked(const struct engine *e)
{
    size_t n = e->n_jobs ? e->n_jobs : 1;
    enum job_status *own = malloc(n * sizeof(*own));
    enum job_status *eff = malloc(n * sizeof(*eff));
    if (!own || !eff) {
        free(own);
        free(eff);
        return NULL;
    }
    for (size_t i = 0; i < e->n_jobs; i++)
        own[i] = e->jobs[i].status;
    compute_eff(e, own, eff);
    free(own);
    return eff;
}

struct job_copy {
    enum job_status status;
    int64_t started_at, finished_at;
    const struct exec *latest;
    int32_t run_count;
};

static void flatten_bp(const struct spec *sp, const char *name, struct arena *a,
                       const char ***out, size_t *n, size_t cap, int depth)
{
    const struct spec_blueprint *bp = spec_find_blueprint(sp, name);
    if (!bp || depth > 64)
        return;
    for (size_t i = 0; i < bp->n_depends; i++) {
        bool seen = false;
        for (size_t k = 0; k < *n && !seen; k++)
            seen = strcmp((*out)[k], bp->depends[i]) == 0;
        if (seen || *n >= cap)
            continue;
        (*out)[(*n)++] = arena_strdup(a, bp->depends[i]);
        flatten_bp(sp, bp->depends[i], a, out, n, cap, depth + 1);
    }
}

static int fill_orgs(struct engine *e, struct snapshot *s, const enum job_status *eff)
{
    struct arena *a = snapshot_arena(s);
    const struct spec *sp = e->spec;
    s->orgs_available = true;
    s->n_orgs = sp->n_orgs;
    s->orgs = arena_calloc(a, sp->n_orgs ? sp->n_orgs : 1, sizeof(*s->orgs));
    s->n_blueprints = sp->n_blueprints;
    s->blueprints = arena_calloc(a, sp->n_blueprints ? sp->n_blueprints : 1,
                                 sizeof(*s->blueprints));
    if (!s->orgs || !s->blueprints)
        return -1;
    for (size_t b = 0; b < sp->n_blueprints; b++) {
        const struct spec_blueprint *sb = &sp->blueprints[b];
        struct blueprint *o = &s->blueprints[b];
        o->name = arena_strdup(a, sb->name);
        o->version = arena_strdup(a, sb->version);
        o->n_depends = sb->n_depends;
        o->depends = arena_calloc(a, sb->n_depends ? sb->n_depends : 1, sizeof(char *));
        if (!o->name || !o->version || !o->depends)
            return -1;
        for (size_t d = 0; d < sb->n_depends; d++)
            if (!(o->depends[d] = arena_strdup(a, sb->depends[d])))
                return -1;
    }
    for (size_t o = 0; o < sp->n_orgs; o++) {
        const struct spec_org *so = &sp->orgs[o];
        struct organization *org = &s->orgs[o];
        org->name = arena_strdup(a, so->name);
        org->n_envs = so->n_envs;
        org->envs = arena_calloc(a, so->n_envs ? so->n_envs : 1, sizeof(*org->envs));
        if (!org->name || !org->envs)
            return -1;
        for (size_t v = 0; v < so->n_envs; v++) {
            const struct spec_env *se = &so->envs[v];
            struct environment *env = &org->envs[v];
            env->name = arena_strdup(a, se->name);
            env->type = arena_strdup(a, se->type);
            env->n_apps = se->n_apps;
            env->apps = arena_calloc(a, se->n_apps ? se->n_apps : 1, sizeof(*env->apps));
            if (!env->name || !env->type || !env->apps)
                return -1;
            for (size_t p = 0; p < se->n_apps; p++) {
                const struct spec_app *sa = &se->apps[p];
                struct application *app = &env->apps[p];
                const struct spec_blueprint *bp = spec_find_blueprint(sp, sa->blueprint);
                char jn[512];
                snprintf(jn, sizeof(jn), "install-%s-%s", se->name, sa->name);
                int ji = find_job(e, jn);
                app->name = arena_strdup(a, sa->name);
                app->blueprint = arena_strdup(a, sa->blueprint);
                app->version = arena_strdup(a, bp ? bp->version : "");
                app->status = job_status_name(ji >= 0 ? eff[ji] : JOB_PENDING);
                size_t cap = sp->n_blueprints + 1;
                app->depends_on = arena_calloc(a, cap, sizeof(char *));
                if (!app->name || !app->blueprint || !app->version || !app->depends_on)
                    return -1;
                flatten_bp(sp, sa->blueprint, a, &app->depends_on, &app->n_depends_on, cap, 0);
            }
        }
    }
    return 0;
}

static struct log_line *copy_lines_locked(const struct exec *x, struct arena *a, size_t *n)
{
    *n = x->ring_n;
    struct log_line *l = arena_calloc(a, x->ring_n ? x->ring_n : 1, sizeof(*l));
    if (!l)
        return NULL;
    int64_t first = x->line_count - (int64_t)x->ring_n + 1;
    for (size_t i = 0; i < x->ring_n; i++) {
        const struct mline *m = &x->ring[(x->ring_head + i) % x->ring_cap];
        l[i] = (struct log_line){first + (int64_t)i, m->ts, m->level, arena_strdup(a, m->msg)};
        if (!l[i].message)
            return NULL;
    }
    return l;
}

/*
 * Lines read back from disk (an execution from before a restart) become the
 * in-memory window, so later snapshots need no I/O. Skipped if x moved on.
 */
static void cache_lines(struct engine *e, struct exec *x, const struct log_line *l, size_t n)
{
    if (!n)
        return;
    struct mline *r = calloc(n, sizeof(*r));
    if (!r)
        return;
    for (size_t i = 0; i < n; i++) {
        r[i] = (struct mline){l[i].timestamp, l[i].level, strdup(l[i].message)};
        if (!r[i].msg) {
            for (size_t k = 0; k < i; k++)
                free(r[k].msg);
            free(r);
            return;
        }
    }
    pthread_mutex_lock(&e->mu);
    bool fits = x->ring_n < n && l[n - 1].line_number == x->line_count;
    if (fits) {
        for (size_t k = 0; k < x->ring_n; k++)
            free(x->ring[(x->ring_head + k) % x->ring_cap].msg);
        free(x->ring);
        x->ring = r;
        x->ring_cap = x->ring_n = n;
        x->ring_head = 0;
    }
    pthread_mutex_unlock(&e->mu);
    if (!fits) {
        for (size_t k = 0; k < n; k++)
            free(r[k].msg);
        free(r);
    }
}

int engine_fill_snapshot(struct engine *e, struct snapshot *s, const char *watch_job)
{
    struct arena *a = snapshot_arena(s);
    size_t n = e->n_jobs;
    struct job_copy *jc = malloc((n ? n : 1) * sizeof(*jc));
    enum job_status *own = malloc((n ? n : 1) * sizeof(*own));
    enum job_status *eff = malloc((n ? n : 1) * sizeof(*eff));
    int rc = -1;
    if (!jc || !own || !eff)
        goto out;
    int wj = watch_job && *watch_job ? find_job(e, watch_job) : -1;
    bool need_file = false;
    struct exec *wlatest = NULL;
    int64_t now = time_now_ms();

    pthread_mutex_lock(&e->mu);
    for (size_t i = 0; i < n; i++) {
        const struct ejob *j = &e->jobs[i];
        jc[i] = (struct job_copy){j->status, j->started_at, j->finished_at,
                                  j->n_execs ? e->execs[j->execs[j->n_execs - 1]] : NULL,
                                  (int32_t)j->n_execs};
        own[i] = j->status;
    }
    size_t nx = e->n_execs;
    s->executions = arena_calloc(a, nx ? nx : 1, sizeof(*s->executions));
    bool ok = s->executions != NULL;
    for (size_t i = 0; ok && i < nx; i++) {
        const struct exec *x = e->execs[i];
        /* ids are immutable: the strings are copied after unlocking */
        s->executions[i] = (struct execution){x->id, NULL, NULL, x->status, x->started_at,
                                              x->finished_at, x->line_count, ""};
        s->executions[i].job_id = e->jobs[x->job].id;
        if (x->error[0])
            ok = (s->executions[i].error = arena_strdup(a, x->error)) != NULL;
    }
    s->n_executions = ok ? nx : 0;
    s->has_deployment = true;
    s->deployment = e->dep;
    s->deployment.status = arena_strdup(a, e->dep_status);
    s->deployment.phase1_outcome = arena_strdup(a, e->dep_outcome);
    ok = ok && s->deployment.status && s->deployment.phase1_outcome;
    if (ok)
        ok = cutover_fill(e->co, e->co_running, a, &s->cutover) == 0;
    s->activity = arena_calloc(a, e->act_n ? e->act_n : 1, sizeof(*s->activity));
    ok = ok && s->activity;
    for (size_t i = 0; ok && i < e->act_n; i++) {
        const struct act_line *l = &e->act[(e->act_head + i) % ACTIVITY_MAX];
        s->activity[i] = (struct activity_line){
            e->jobs[l->job].name, {l->line_number, l->ts, l->level, arena_strdup(a, l->msg)}};
        ok = s->activity[i].line.message != NULL;
    }
    s->n_activity = ok ? e->act_n : 0;
    if (ok && wj >= 0) {
        const struct ejob *j = &e->jobs[wj];
        struct job_detail *d = &s->detail;
        d->found = true;
        d->n_executions = j->n_execs;
        d->executions = arena_calloc(a, j->n_execs ? j->n_execs : 1, sizeof(*d->executions));
        ok = d->executions != NULL;
        for (size_t k = 0; ok && k < j->n_execs; k++) {
            const struct exec *x = e->execs[j->execs[j->n_execs - 1 - k]];
            d->executions[k] = (struct execution){x->id, j->id, NULL, x->status, x->started_at,
                                                  x->finished_at, x->line_count, ""};
            if (x->error[0])
                ok = (d->executions[k].error = arena_strdup(a, x->error)) != NULL;
        }
        if (ok && j->n_execs) {
            wlatest = e->execs[j->execs[j->n_execs - 1]];
            d->log_total = wlatest->line_count;
            d->log_finished = wlatest->status != EXEC_RUNNING;
            int64_t want = d->log_total < LINES_IN_MEMORY ? d->log_total : LINES_IN_MEMORY;
            need_file = e->store && (int64_t)wlatest->ring_n < want;
            if (!need_file) {
                d->lines = copy_lines_locked(wlatest, a, &d->n_lines);
                ok = d->lines != NULL;
            }
        }
    }
    /* The picture stays the last good one; the fault says why nothing new starts. */
    const char *store_error =
        e->store_fault[0]
            ? arena_printf(a, "state dir fault, no job starts: %s", e->store_fault)
        : e->last_store_error[0] ? arena_printf(a, "cannot save state: %s", e->last_store_error)
                                 : "";
    pthread_mutex_unlock(&e->mu);
    if (!ok || !store_error)
        goto out;

    /* Outside the lock: strings and derived values. */
    compute_eff(e, own, eff);
    s->source.mode = arena_strdup(a, e->mode);
    s->source.url = "";
    s->source.state_dir = arena_strdup(a, e->state_dir ? e->state_dir : "");
    s->source.ok = true;
    s->source.error = store_error;
    s->source.fetched_at = now;
    s->source.read_only = e->cfg.read_only;
    s->sovereign_name = arena_strdup(a, e->spec->name);
    s->provider = arena_strdup(a, e->spec->provider);
    const char *dep = arena_strdup(a, e->dep_id);
    s->deployment.id = dep;
    s->deployment.sovereign_fqdn = arena_strdup(a, e->dep.sovereign_fqdn);
    s->deployment.region = arena_strdup(a, e->dep.region);
    if (!s->source.mode || !s->source.state_dir || !s->sovereign_name || !s->provider || !dep ||
        !s->deployment.sovereign_fqdn || !s->deployment.region)
        goto out;
    for (size_t i = 0; i < s->n_executions; i++) {
        struct execution *x = &s->executions[i];
        x->id = arena_strdup(a, x->id);
        x->job_id = arena_strdup(a, x->job_id);
        x->deployment_id = dep;
        if (!x->id || !x->job_id)
            goto out;
    }
    s->jobs = arena_calloc(a, n ? n : 1, sizeof(*s->jobs));
    if (!s->jobs)
        goto out;
    s->n_jobs = n;
    for (size_t i = 0; i < n; i++) {
        const struct ejob *j = &e->jobs[i];
        struct job *o = &s->jobs[i];
        o->id = arena_strdup(a, j->id);
        o->deployment_id = dep;
        o->job_name = arena_strdup(a, j->name);
        o->display_name = arena_strdup(a, j->display);
        o->app_id = arena_strdup(a, j->app);
        o->region = "";
        o->parent_id = arena_strdup(a, j->parent_id);
        o->latest_execution_id = jc[i].latest ? arena_strdup(a, jc[i].latest->id) : "";
        o->n_depends_on = j->n_depends_on;
        o->depends_on = arena_calloc(a, j->n_depends_on ? j->n_depends_on : 1, sizeof(char *));
        if (!o->id || !o->job_name || !o->display_name || !o->app_id || !o->parent_id ||
            !o->latest_execution_id || !o->depends_on)
            goto out;
        for (size_t d = 0; d < j->n_depends_on; d++)
            if (!(o->depends_on[d] = arena_strdup(a, j->depends_on[d])))
                goto out;
        o->is_group = j->is_group;
        o->kind = j->kind;
        o->status = eff[i];
        o->run_count = jc[i].run_count;
        if (j->is_group) {
            o->n_child_ids = j->n_child_ids;
            o->child_ids = arena_calloc(a, j->n_child_ids ? j->n_child_ids : 1, sizeof(char *));
            if (!o->child_ids)
                goto out;
            int64_t st = 0, fin = 0;
            bool all_term = j->n_children > 0;
            for (size_t c = 0; c < j->n_children; c++) {
                int ci = j->children[c];
                o->child_ids[c] = arena_strdup(a, j->child_ids[c]);
                if (!o->child_ids[c])
                    goto out;
                if (jc[ci].started_at && (!st || jc[ci].started_at < st))
                    st = jc[ci].started_at;
                if (jc[ci].finished_at > fin)
                    fin = jc[ci].finished_at;
                if (!job_status_terminal(eff[ci]))
                    all_term = false;
            }
            o->started_at = st;
            o->finished_at = all_term && fin ? fin : 0;
            o->duration_ms = st ? (o->finished_at ? o->finished_at : now) - st : 0;
            if (o->duration_ms < 0)
                o->duration_ms = 0;
        } else {
            o->child_ids = NULL;
            o->started_at = jc[i].started_at;
            o->finished_at = job_status_terminal(jc[i].status) ? jc[i].finished_at : 0;
            if (o->started_at && o->finished_at)
                o->duration_ms = o->finished_at - o->started_at;
            else if (o->started_at && jc[i].status == JOB_RUNNING)
                o->duration_ms = now - o->started_at;
            if (o->duration_ms < 0)
                o->duration_ms = 0;
        }
    }
    for (size_t i = 0; i < s->n_activity; i++)
        if (!(s->activity[i].job_name = arena_strdup(a, s->activity[i].job_name)))
            goto out;
    if (wj >= 0) {
        struct job_detail *d = &s->detail;
        d->job_id = arena_strdup(a, e->jobs[wj].id);
        for (size_t k = 0; k < d->n_executions; k++) {
            d->executions[k].id = arena_strdup(a, d->executions[k].id);
            d->executions[k].job_id = d->job_id;
            d->executions[k].deployment_id = dep;
            if (!d->executions[k].id)
                goto out;
        }
        d->log_execution_id = d->n_executions ? d->executions[0].id : "";
        if (need_file && wlatest) {
            int64_t want = d->log_total < LINES_IN_MEMORY ? d->log_total : LINES_IN_MEMORY;
            if (store_log_read(e->store, e->dep_id, wlatest->id, d->log_total - want + 1, want,
                               a, &d->lines, &d->n_lines) == 0)
                cache_lines(e, wlatest, d->lines, d->n_lines);
        }
        if (!d->job_id)
            goto out;
    } else if (watch_job && *watch_job) {
        s->detail.job_id = arena_strdup(a, watch_job);
        s->detail.found = false;
    }
    if (fill_orgs(e, s, eff) != 0)
        goto out;
    rc = 0;
out:
    free(jc);
    free(own);
    free(eff);
    return rc;
}

/* ---------------------------------------------------------------- actions */

static void result_set(struct engine_result *r, int code, const char *error, const char *fmt,
                       ...) __attribute__((format(printf, 4, 5)));
static void result_set(struct engine_result *r, int code, const char *error, const char *fmt,
                       ...)
{
    r->code = code;
    snprintf(r->error, sizeof(r->error), "%s", error);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->detail, sizeof(r->detail), fmt, ap);
    va_end(ap);
}

/* Actions on a read-only console answer 403; true when out holds that answer. */
static bool refuse_read_only(const struct engine *e, struct engine_result *out)
{
    if (!e->cfg.read_only)
        return false;
    result_set(out, 403, "read-only", "%s",
               e->cfg.observe ? "this console only observes the state dir (read-only)"
                              : "this console is read-only");
    return true;
}

void engine_retry(struct engine *e, const char *job, const char *requested_by,
                  struct engine_result *out)
{
    memset(out, 0, sizeof(*out));
    if (refuse_read_only(e, out))
        return;
    int ji = job ? find_job(e, job) : -1;
    if (ji < 0) {
        result_set(out, 404, "job-not-found", "no job %s", job ? job : "");
        return;
    }
    pthread_mutex_lock(&e->mu);
    struct ejob *j = &e->jobs[ji];
    if (j->is_group) {
        result_set(out, 409, "not-retryable", "%s is a group; retry one of its jobs", j->name);
        goto unlock;
    }
    if (e->stopping) {
        result_set(out, 409, "not-retryable", "the engine is stopping");
        goto unlock;
    }
    if (e->store_fault[0]) {
        /* It would only go back to pending: nothing starts on a state dir that cannot record. */
        result_set(out, 409, "not-retryable", "the state dir cannot record results: %.400s",
                   e->store_fault);
        goto unlock;
    }
    enum job_status *eff = eff_locked(e);
    if (!eff) {
        result_set(out, 500, "internal", "out of memory");
        goto unlock;
    }
    if (j->status != JOB_FAILED || !j->n_execs) {
        if (eff[ji] == JOB_FAILED) {
            const char *by = "?";
            for (size_t d = 0; d < j->n_deps; d++)
                if (eff[j->deps[d]] == JOB_FAILED) {
                    by = e->jobs[j->deps[d]].name;
                    break;
                }
            result_set(out, 409, "not-retryable",
                       "%s is blocked by failed dependency %s; retry that one", j->name, by);
        } else {
            result_set(out, 409, "not-retryable", "%s is %s; only failed jobs can be retried",
                       j->name, job_status_name(eff[ji]));
        }
        free(eff);
        goto unlock;
    }
    free(eff);
    int64_t now = time_now_ms();
    struct exec *x = exec_new(e, ji, now, NULL);
    if (!x) {
        result_set(out, 500, "internal", "out of memory");
        goto unlock;
    }
    char ts[40];
    char line[768];
    snprintf(line, sizeof(line), "[retry] requested by %s at %s \xE2\x80\x94 re-running %s",
             requested_by && *requested_by ? requested_by : "unknown",
             time_format(now, ts, sizeof(ts)), j->name);
    exec_add_line(e, x, LOG_INFO, line, now);
    set_status(e, ji, JOB_RUNNING);
    j->finished_at = 0;
    j->retries_left = j->sj ? j->sj->retries : 0;
    if (j->is_step && !e->co_running) {
        e->co_running = true;
        e->co_epoch = now / 1000;
        cutover_begin(e->co, now);
    }
    runq_push(e, ji, (int)e->n_execs - 1);
    update_deployment(e);
    mark_dirty(e);
    result_set(out, 200, "", "re-running %s", j->name);
    snprintf(out->execution_id, sizeof(out->execution_id), "%s", x->id);
    out->requested_at = now;
unlock:
    pthread_mutex_unlock(&e->mu);
    if (out->code == 200)
        notify(e);
}

void engine_cutover_start(struct engine *e, bool force, struct engine_result *out)
{
    memset(out, 0, sizeof(*out));
    if (refuse_read_only(e, out))
        return;
    pthread_mutex_lock(&e->mu);
    if (cutover_is_complete(e->co))
        result_set(out, 200, "", "the cutover is already complete; nothing re-runs");
    else if (!e->n_steps)
        result_set(out, 424, "no-steps-found", "the spec has no cutover steps");
    else if (e->co_running)
        result_set(out, 409, "cutover-in-progress", "a cutover is already running");
    else if (e->stopping)
        result_set(out, 409, "cutover-in-progress", "the engine is stopping");
    else if (preflight_locked(e, false, &out->preflight) != 0)
        result_set(out, 500, "internal", "out of memory");
    else if (!out->preflight.ready && !force) {
        char sum[sizeof(out->detail)];
        preflight_summary(&out->preflight, sum, sizeof(sum));
        result_set(out, 425, "handover-incomplete", "%s", sum);
    } else {
        co_begin(e);
        result_set(out, 200, "", out->preflight.ready ? "cutover started"
                                                      : "cutover started (preflight forced)");
    }
    pthread_mutex_unlock(&e->mu);
    notify(e);
}

int engine_log_page(struct engine *e, const char *execution_id, int64_t from_line, int64_t limit,
                    struct arena *a, struct log_page *out)
{
    memset(out, 0, sizeof(*out));
    if (from_line <= 0)
        from_line = 1;
    if (limit <= 0)
        limit = 500;
    if (limit > 5000)
        limit = 5000;
    pthread_mutex_lock(&e->mu);
    int xi = strmap_get(&e->exec_ids, execution_id);
    if (xi < 0) {
        pthread_mutex_unlock(&e->mu);
        return 404;
    }
    const struct exec *x = e->execs[xi];
    out->total = x->line_count;
    out->execution_finished = x->status != EXEC_RUNNING;
    int64_t first = x->line_count - (int64_t)x->ring_n + 1;
    char id[33];
    memcpy(id, x->id, sizeof(id));
    if (from_line >= first || !e->store) {
        int64_t from = from_line > first ? from_line : first;
        int64_t last = x->line_count;
        /* fromLine comes from the URL: from + limit may not fit in int64. */
        if (last - from >= limit)
            last = from + limit - 1;
        size_t cnt = last >= from ? (size_t)(last - from + 1) : 0;
        out->lines = arena_calloc(a, cnt ? cnt : 1, sizeof(*out->lines));
        if (!out->lines) {
            pthread_mutex_unlock(&e->mu);
            return -1;
        }
        for (size_t k = 0; k < cnt; k++) {
            size_t off = (size_t)(from - first) + k;
            const struct mline *m = &x->ring[(x->ring_head + off) % x->ring_cap];
            out->lines[k] = (struct log_line){from + (int64_t)k, m->ts, m->level,
                                              arena_strdup(a, m->msg)};
            if (!out->lines[k].message) {
                pthread_mutex_unlock(&e->mu);
                return -1;
            }
        }
        out->n_lines = cnt;
        pthread_mutex_unlock(&e->mu);
        return 0;
    }
    pthread_mutex_unlock(&e->mu);
    if (store_log_read(e->store, e->dep_id, id, from_line, limit, a, &out->lines,
                       &out->n_lines) != 0) {
        out->lines = arena_calloc(a, 1, sizeof(*out->lines));
        out->n_lines = 0;
        if (!out->lines)
            return -1;
    }
    return 0;
}

void engine_progress(struct engine *e, struct engine_progress *out)
{
    memset(out, 0, sizeof(*out));
    size_t n = e->n_jobs ? e->n_jobs : 1;
    enum job_status *own = malloc(n * sizeof(*own));
    enum job_status *eff = malloc(n * sizeof(*eff));
    if (!own || !eff) {
        free(own);
        free(eff);
        return;
    }
    /* Copy under the lock; derive outside it. */
    pthread_mutex_lock(&e->mu);
    for (size_t i = 0; i < e->n_jobs; i++)
        own[i] = e->jobs[i].status;
    bool co_running = e->co_running;
    bool complete = cutover_is_complete(e->co);
    bool co_started = cutover_was_started(e->co);
    bool failed_step = *cutover_get(e->co, "failedStep") != 0;
    out->store_fault = e->store_fault[0] != 0;
    pthread_mutex_unlock(&e->mu);
    compute_eff(e, own, eff);
    bool done = true, outside_failed = false;
    for (size_t i = 0; i < e->n_jobs; i++) {
        const struct ejob *j = &e->jobs[i];
        if (j->is_group)
            continue;
        out->jobs_total++;
        switch (eff[i]) {
        case JOB_SUCCEEDED: out->jobs_succeeded++; break;
        case JOB_FAILED: out->jobs_failed++; break;
        case JOB_RUNNING: out->jobs_running++; break;
        default: out->jobs_pending++; break;
        }
        if (!j->in_cutover && !job_status_terminal(eff[i]))
            done = false;
        if (!j->in_cutover && eff[i] == JOB_FAILED)
            outside_failed = true;
    }
    out->jobs_done = done;
    out->cutover_complete = complete;
    out->cutover_failed = failed_step && !co_running && !complete;
    bool after_failed = false;
    for (size_t i = 0; i < e->n_co_after; i++)
        if (eff[e->co_after[i]] == JOB_FAILED)
            after_failed = true;
    /* auto waits for the preflight: a failed job outside the cutover holds it back for good. */
    bool auto_held = e->spec->cutover.auto_start && done && outside_failed;
    out->cutover_blocked = !co_running && !complete && !co_started && (after_failed || auto_held);
    free(own);
    free(eff);
}
