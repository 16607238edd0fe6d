/* remote: the catalyst-api source: poller, SSE followers, actions (see remote.h). */
#include "remote.h"

#include "arena.h"
#include "http.h"
#include "snapshot.h"
#include "sse.h"
#include "wire.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ACTIVITY_MAX 200
#define LOG_KEEP 20000
#define LOG_PAGE 500
#define LOG_PAGES_PER_POLL 40
#define BACKOFF_MAX_MS 30000
#define REBUILD_MIN_MS 100
#define SSE_POLL_MIN_MS 1000
#define SSE_IDLE_S 120
#define SSE_FRAME_MAX ((size_t)1 << 20)
#define AGE_REFRESH_MS 5000
/* The log tail is polled every second while it runs (WIRE §3.6), whatever --refresh says. */
#define TAIL_POLL_MS 1000
/* The server's event buffer (WIRE §4.2): once full, its head may move between /events and SSE. */
#define EVENT_BUFFER_MAX 10000

enum endpoint { EP_DEPLOYMENT, EP_JOBS, EP_CUTOVER, EP_SOVSTATUS, EP_ORGS, EP_APPS, EP_DETAIL,
                EP_COUNT };
enum slot_state { SLOT_NONE = 0, SLOT_OK, SLOT_ABSENT };

struct slot {
    enum slot_state st;
    char *body;
    size_t len;
    char *path;
};

struct pending_action {
    uint64_t seq;
    enum action_kind kind;
    char *arg;
};

struct act_line {
    char *job_name;
    char *message;
    int64_t ts;
    enum log_level level;
};

struct tail_line {
    int64_t number, ts;
    enum log_level level;
    char *message;
};

/* Log tail of the watched job's latest execution (poller-only). */
struct tail {
    char *exec_id;
    struct tail_line *lines;
    size_t n, cap;
    int64_t next_from;
    int64_t total;
    bool finished;
    bool done;
};

struct dep_entry {
    char *id;
    char **deps;
    size_t n;
};

struct remote {
    struct source base;
    /* immutable after creation */
    char *api;
    char *api_shown;           /* api without user:password@, for snapshots and screens */
    char *token, *session, *cacert;
    char *unix_socket;         /* attached: the AF_UNIX path every request goes to, or NULL */
    char *mode;                /* source.mode word: "remote" or the attach label */
    bool insecure, read_only;
    int64_t refresh_ms;
    long connect_timeout_ms, timeout_ms;

    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_bool stop;
    pthread_t poller, logs_th, cut_th;
    bool poller_started, logs_started, cut_started;

    /* under mu */
    struct snapshot *current;
    uint64_t gen;
    bool poll_now;
    int64_t poll_soon_at;      /* SSE-triggered poll not before this (0: none) */
    bool rebuild;
    char *watch;
    struct pending_action *actions;
    size_t n_actions, cap_actions;
    uint64_t next_seq;
    struct action_result la;   /* strings malloc'd (error, message) */
    struct preflight la_pf;    /* a 425 cutover start's checks (n_checks 0: none) */
    char *dep_id;
    uint64_t dep_epoch;
    char *deps_body;           /* /deployments body when several were listed */
    size_t deps_len;
    bool first_done;
    int first_code;
    struct error first_err;
    struct act_line activity[ACTIVITY_MAX];
    size_t act_head, act_n;
    int64_t act_seq;

    /* poller-only */
    struct slot good[EP_COUNT];
    bool have_good;
    int64_t good_at;
    int fails;
    bool failing;
    char last_error[1024];
    int last_status;
    bool auth_failed;
    struct tail tail;
    char *tail_job;
    struct dep_entry *dcache;
    size_t dcache_cap, dcache_n;
    uint64_t seen_epoch;
    int64_t last_build;
    int64_t published_at;      /* fetched_at of the last published snapshot */
    int64_t last_tail;         /* mono time of the last log-tail poll */
};

static struct remote *R(struct source *s) { return (struct remote *)s; }
static bool stopping(struct remote *r) { return atomic_load(&r->stop); }

static void deadline_ts(int64_t mono_deadline, struct timespec *ts)
{
    int64_t now = mono_ms();
    struct timespec cur;
    clock_gettime(CLOCK_MONOTONIC, &cur);
    int64_t wait = mono_deadline - now;
    if (wait < 0)
        wait = 0;
    int64_t ns = cur.tv_nsec + (wait % 1000) * 1000000;
    ts->tv_sec = cur.tv_sec + wait / 1000 + ns / 1000000000;
    ts->tv_nsec = ns % 1000000000;
}

/* Sleeps up to ms on the condition variable; returns early on stop. mu held. */
static void wait_locked(struct remote *r, int64_t deadline)
{
    struct timespec ts;
    deadline_ts(deadline, &ts);
    pthread_cond_timedwait(&r->cv, &r->mu, &ts);
}

static void slot_clear(struct slot *s)
{
    free(s->body);
    free(s->path);
    memset(s, 0, sizeof(*s));
}

/* ---------------------------------------------------------------- dependsOn cache */

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    while (*s)
        h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
    return h;
}

static void dcache_free(struct remote *r)
{
    for (size_t i = 0; i < r->dcache_cap; i++) {
        struct dep_entry *e = &r->dcache[i];
        if (!e->id)
            continue;
        free(e->id);
        for (size_t k = 0; k < e->n; k++)
            free(e->deps[k]);
        free(e->deps);
    }
    free(r->dcache);
    r->dcache = NULL;
    r->dcache_cap = r->dcache_n = 0;
}

static struct dep_entry *dcache_slot(struct remote *r, const char *id, bool create)
{
    if (create && (r->dcache_n + 1) * 10 >= r->dcache_cap * 7) {
        size_t nc = r->dcache_cap ? r->dcache_cap * 2 : 256;
        struct dep_entry *n = calloc(nc, sizeof(*n));
        if (!n)
            return NULL;
        for (size_t i = 0; i < r->dcache_cap; i++) {
            if (!r->dcache[i].id)
                continue;
            size_t j = hash_str(r->dcache[i].id) & (nc - 1);
            while (n[j].id)
                j = (j + 1) & (nc - 1);
            n[j] = r->dcache[i];
        }
        free(r->dcache);
        r->dcache = n;
        r->dcache_cap = nc;
    }
    if (!r->dcache_cap)
        return NULL;
    size_t j = hash_str(id) & (r->dcache_cap - 1);
    while (r->dcache[j].id) {
        if (strcmp(r->dcache[j].id, id) == 0)
            return &r->dcache[j];
        j = (j + 1) & (r->dcache_cap - 1);
    }
    if (!create)
        return NULL;
    r->dcache[j].id = strdup(id);
    if (!r->dcache[j].id)
        return NULL;
    r->dcache_n++;
    return &r->dcache[j];
}

/*
 * Early servers wipe dependsOn on state-change upserts (WIRE §3.4): remember
 * the last non-empty list per job id and put it back when a row comes empty.
 */
static void apply_dep_cache(struct remote *r, struct job *jobs, size_t n, struct arena *a)
{
    for (size_t i = 0; i < n; i++) {
        struct job *j = &jobs[i];
        if (j->is_group)
            continue;
        if (j->n_depends_on) {
            struct dep_entry *e = dcache_slot(r, j->id, true);
            if (!e)
                continue;
            bool same = e->n == j->n_depends_on;
            for (size_t k = 0; same && k < e->n; k++)
                same = strcmp(e->deps[k], j->depends_on[k]) == 0;
            if (same)
                continue;
            char **nd = calloc(j->n_depends_on, sizeof(*nd));
            size_t k = 0;
            for (; nd && k < j->n_depends_on; k++)
                if (!(nd[k] = strdup(j->depends_on[k])))
                    break;
            if (!nd || k < j->n_depends_on) { /* out of memory: keep the old list */
                for (size_t q = 0; nd && q < k; q++)
                    free(nd[q]);
                free(nd);
                continue;
            }
            for (size_t q = 0; q < e->n; q++)
                free(e->deps[q]);
            free(e->deps);
            e->deps = nd;
            e->n = j->n_depends_on;
        } else {
            struct dep_entry *e = dcache_slot(r, j->id, false);
            if (!e || !e->n)
                continue;
            const char **d = arena_calloc(a, e->n, sizeof(*d));
            if (!d)
                continue;
            for (size_t k = 0; k < e->n; k++)
                d[k] = arena_strdup(a, e->deps[k]);
            j->depends_on = d;
            j->n_depends_on = e->n;
        }
    }
}

/* ---------------------------------------------------------------- log tail */

static void tail_reset(struct tail *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->lines[i].message);
    free(t->lines);
    free(t->exec_id);
    memset(t, 0, sizeof(*t));
    t->next_from = 1;
}

static void tail_append(struct tail *t, const struct log_line *l)
{
    if (t->n == t->cap) {
        size_t nc = t->cap ? t->cap * 2 : 256;
        if (nc > LOG_KEEP + LOG_PAGE)
            nc = LOG_KEEP + LOG_PAGE;
        if (t->n == nc) { /* full: drop the oldest half-page to make room */
            size_t drop = LOG_PAGE;
            for (size_t i = 0; i < drop; i++)
                free(t->lines[i].message);
            memmove(t->lines, t->lines + drop, (t->n - drop) * sizeof(*t->lines));
            t->n -= drop;
        } else {
            struct tail_line *nl = realloc(t->lines, nc * sizeof(*nl));
            if (!nl)
                return;
            t->lines = nl;
            t->cap = nc;
        }
    }
    char *m = strdup(l->message ? l->message : "");
    if (!m)
        return;
    t->lines[t->n++] = (struct tail_line){l->line_number, l->timestamp, l->level, m};
}

static void tail_trim(struct tail *t)
{
    if (t->n <= LOG_KEEP)
        return;
    size_t drop = t->n - LOG_KEEP;
    for (size_t i = 0; i < drop; i++)
        free(t->lines[i].message);
    memmove(t->lines, t->lines + drop, LOG_KEEP * sizeof(*t->lines));
    t->n = LOG_KEEP;
}

/* ---------------------------------------------------------------- activity */

static void activity_clear_locked(struct remote *r)
{
    for (size_t i = 0; i < ACTIVITY_MAX; i++) {
        free(r->activity[i].job_name);
        free(r->activity[i].message);
        memset(&r->activity[i], 0, sizeof(r->activity[i]));
    }
    r->act_head = r->act_n = 0;
}

static void activity_push_locked(struct remote *r, const char *job, const char *msg, int64_t ts,
                                 enum log_level level)
{
    size_t idx = (r->act_head + r->act_n) % ACTIVITY_MAX;
    if (r->act_n == ACTIVITY_MAX) {
        idx = r->act_head;
        r->act_head = (r->act_head + 1) % ACTIVITY_MAX;
    } else {
        r->act_n++;
    }
    struct act_line *l = &r->activity[idx];
    free(l->job_name);
    free(l->message);
    l->job_name = strdup(job ? job : "");
    l->message = strdup(msg ? msg : "");
    l->ts = ts;
    l->level = level;
    r->act_seq++;
}

static void request_rebuild(struct remote *r)
{
    pthread_mutex_lock(&r->mu);
    r->rebuild = true;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static void push_event(struct remote *r, const struct wire_event *ev)
{
    char job[300];
    if (ev->component && *ev->component)
        snprintf(job, sizeof(job), "install-%s", ev->component);
    else
        snprintf(job, sizeof(job), "%s", ev->phase ? ev->phase : "");
    pthread_mutex_lock(&r->mu);
    activity_push_locked(r, job, ev->message, ev->time, ev->level);
    r->rebuild = true;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

/* ---------------------------------------------------------------- snapshot build */

static void first_label(struct arena *a, const char *fqdn, const char **out)
{
    const char *dot = strchr(fqdn, '.');
    *out = dot ? arena_strndup(a, fqdn, (size_t)(dot - fqdn)) : arena_strdup(a, fqdn);
}

/* The wire has no provider field; the provisioner group is named "Provision <Provider>". */
static void provider_from_jobs(struct snapshot *s, struct arena *a)
{
    for (size_t i = 0; i < s->n_jobs; i++) {
        const struct job *j = &s->jobs[i];
        if (!j->is_group || strcmp(j->job_name, "provisioner") != 0 || !j->display_name ||
            strncmp(j->display_name, "Provision ", 10) != 0 || !j->display_name[10])
            continue;
        char *p = arena_strdup(a, j->display_name + 10);
        for (char *c = p; c && *c; c++)
            if (*c >= 'A' && *c <= 'Z')
                *c = (char)(*c - 'A' + 'a');
        if (p)
            s->provider = p;
        return;
    }
}

static int decode_fail(struct error *err, const struct slot *s, const struct error *inner)
{
    error_set(err, EXIT_API, "GET %s: %s", s->path ? s->path : "?", inner->msg);
    return -1;
}

/*
 * Builds a snapshot from the given slots plus the shared state (activity,
 * last action, log tail). NULL with err when a body does not decode.
 */
static struct snapshot *build(struct remote *r, struct slot *sl, struct error *err)
{
    struct snapshot *s = snapshot_new();
    if (!s) {
        error_set(err, EXIT_API, "out of memory building a snapshot");
        return NULL;
    }
    struct arena *a = snapshot_arena(s);
    struct error e;
    error_clear(&e);
    s->source.mode = arena_strdup(a, r->mode);
    s->source.url = arena_strdup(a, r->unix_socket ? r->unix_socket : r->api_shown);
    s->source.insecure = r->insecure;
    s->source.read_only = r->read_only;

    if (sl[EP_DEPLOYMENT].st == SLOT_OK) {
        if (wire_decode_deployment(sl[EP_DEPLOYMENT].body, sl[EP_DEPLOYMENT].len, a,
                                   &s->deployment, &e))
            goto bad_dep;
        s->has_deployment = true;
        first_label(a, s->deployment.sovereign_fqdn && *s->deployment.sovereign_fqdn
                           ? s->deployment.sovereign_fqdn
                           : s->deployment.id,
                    &s->sovereign_name);
    }
    if (sl[EP_JOBS].st == SLOT_OK) {
        if (wire_decode_jobs(sl[EP_JOBS].body, sl[EP_JOBS].len, a, &s->jobs, &s->n_jobs, &e)) {
            decode_fail(err, &sl[EP_JOBS], &e);
            goto fail;
        }
        apply_dep_cache(r, s->jobs, s->n_jobs, a);
        provider_from_jobs(s, a);
    }
    if (sl[EP_CUTOVER].st == SLOT_OK) {
        if (wire_decode_cutover_status(sl[EP_CUTOVER].body, sl[EP_CUTOVER].len, a, &s->cutover,
                                       &e)) {
            decode_fail(err, &sl[EP_CUTOVER], &e);
            goto fail;
        }
        s->cutover.available = true;
    } else {
        s->cutover.available = false;
    }
    if (sl[EP_SOVSTATUS].st == SLOT_OK) {
        if (wire_decode_sovereign_status(sl[EP_SOVSTATUS].body, sl[EP_SOVSTATUS].len,
                                         &s->sov_status, &e)) {
            decode_fail(err, &sl[EP_SOVSTATUS], &e);
            goto fail;
        }
        s->sov_status.available = true;
    }
    if (sl[EP_ORGS].st == SLOT_OK) {
        if (wire_decode_organizations(sl[EP_ORGS].body, sl[EP_ORGS].len, a, &s->orgs,
                                      &s->n_orgs, &s->blueprints, &s->n_blueprints, &e)) {
            decode_fail(err, &sl[EP_ORGS], &e);
            goto fail;
        }
        s->orgs_available = true;
    } else if (sl[EP_APPS].st == SLOT_OK) {
        if (wire_decode_applications(sl[EP_APPS].body, sl[EP_APPS].len, a, &s->orgs, &s->n_orgs,
                                     &e)) {
            decode_fail(err, &sl[EP_APPS], &e);
            goto fail;
        }
        s->orgs_available = true;
    }
    if (r->tail_job) {
        s->detail.job_id = arena_strdup(a, r->tail_job);
        if (sl[EP_DETAIL].st == SLOT_OK) {
            struct job j;
            if (wire_decode_job_detail(sl[EP_DETAIL].body, sl[EP_DETAIL].len, a, &j,
                                       &s->detail.executions, &s->detail.n_executions, &e)) {
                decode_fail(err, &sl[EP_DETAIL], &e);
                goto fail;
            }
            s->detail.found = true;
            if (j.id && *j.id) /* the full id, also when a bare jobName was watched */
                s->detail.job_id = j.id;
            s->executions = s->detail.executions;
            s->n_executions = s->detail.n_executions;
            struct tail *t = &r->tail;
            s->detail.log_execution_id = arena_strdup(a, t->exec_id ? t->exec_id : "");
            s->detail.log_total = t->total;
            s->detail.log_finished = t->finished;
            if (t->n) {
                s->detail.lines = arena_calloc(a, t->n, sizeof(*s->detail.lines));
                if (!s->detail.lines)
                    goto oom;
                for (size_t i = 0; i < t->n; i++)
                    s->detail.lines[i] = (struct log_line){t->lines[i].number, t->lines[i].ts,
                                                           t->lines[i].level,
                                                           arena_strdup(a, t->lines[i].message)};
                s->detail.n_lines = t->n;
            }
        }
    }

    pthread_mutex_lock(&r->mu);
    if (r->act_n) {
        s->activity = arena_calloc(a, r->act_n, sizeof(*s->activity));
        if (s->activity) {
            for (size_t i = 0; i < r->act_n; i++) {
                const struct act_line *l = &r->activity[(r->act_head + i) % ACTIVITY_MAX];
                s->activity[i].job_name = arena_strdup(a, l->job_name);
                s->activity[i].line.line_number = r->act_seq - (int64_t)(r->act_n - 1 - i);
                s->activity[i].line.timestamp = l->ts;
                s->activity[i].line.level = l->level;
                s->activity[i].line.message = arena_strdup(a, l->message);
            }
            s->n_activity = r->act_n;
        }
    }
    s->last_action = r->la;
    s->last_action.error = arena_strdup(a, r->la.error);
    s->last_action.message = arena_strdup(a, r->la.message);
    if (r->la_pf.n_checks) {
        struct preflight_check *pc = arena_calloc(a, r->la_pf.n_checks, sizeof(*pc));
        if (pc) {
            memcpy(pc, r->la_pf.checks, r->la_pf.n_checks * sizeof(*pc));
            s->last_action.checks = pc;
            s->last_action.n_checks = r->la_pf.n_checks;
        }
    }
    if (!r->dep_id && r->deps_body) {
        /* Several deployments and none chosen: the console shows a picker. */
        struct error de;
        if (wire_decode_deployments(r->deps_body, r->deps_len, a, &s->deployments,
                                    &s->n_deployments, &de) != 0)
            s->n_deployments = 0;
    }
    pthread_mutex_unlock(&r->mu);

    if (snapshot_finalize(s))
        goto oom;
    return s;
bad_dep:
    decode_fail(err, &sl[EP_DEPLOYMENT], &e);
    goto fail;
oom:
    error_set(err, EXIT_API, "out of memory building a snapshot");
fail:
    snapshot_release(s);
    return NULL;
}

static void set_source_health(struct remote *r, struct snapshot *s)
{
    struct arena *a = snapshot_arena(s);
    s->source.ok = !r->failing;
    s->source.stale = r->failing && r->have_good;
    s->source.error = r->failing ? arena_strdup(a, r->last_error) : "";
    s->source.http_status = r->last_status;
    s->source.auth_failed = r->auth_failed;
    s->source.fetched_at = r->have_good ? r->good_at : 0;
}

static void publish(struct remote *r, struct snapshot *s)
{
    pthread_mutex_lock(&r->mu);
    s->generation = ++r->gen;
    struct snapshot *old = r->current;
    r->current = s;
    pthread_mutex_unlock(&r->mu);
    snapshot_release(old);
    r->last_build = mono_ms();
    r->published_at = s->source.fetched_at;
    if (r->base.notify)
        r->base.notify(r->base.notify_ctx);
}

/* Publishes the last good data (or an empty picture) with the current health. */
static void publish_from_good(struct remote *r)
{
    struct error e;
    struct snapshot *s = build(r, r->good, &e);
    if (!s) {
        struct slot none[EP_COUNT];
        memset(none, 0, sizeof(none));
        s = build(r, none, &e);
        if (!s)
            return;
    }
    set_source_health(r, s);
    publish(r, s);
}

/* ---------------------------------------------------------------- polling */

static void record_failure(struct remote *r, const struct error *e, int status)
{
    r->failing = true;
    r->fails++;
    snprintf(r->last_error, sizeof(r->last_error), "%s", e->msg);
    r->last_status = status;
    if (status == 401 || e->code == EXIT_AUTH)
        r->auth_failed = true;
}

static int64_t backoff_ms(int fails)
{
    int64_t ms = 1000;
    for (int i = 1; i < fails && ms < BACKOFF_MAX_MS; i++)
        ms *= 2;
    return ms < BACKOFF_MAX_MS ? ms : BACKOFF_MAX_MS;
}

/*
 * Fetches path into slot. Returns 0 (slot OK), 1 (slot ABSENT: a status the
 * caller said means "not available"), -1 (failure, err filled).
 */
static int fetch(struct http_client *h, const char *path, struct slot *sl, const int *absent,
                 int *status, struct error *err)
{
    struct http_response resp;
    slot_clear(sl);
    sl->path = strdup(path);
    int rc = http_get(h, path, &resp, err);
    *status = (int)resp.status;
    if (rc == 0) {
        sl->st = SLOT_OK;
        sl->body = resp.body;
        sl->len = resp.len;
        resp.body = NULL;
        http_response_fini(&resp);
        return 0;
    }
    for (const int *p = absent; p && *p; p++)
        if (resp.status == *p) {
            sl->st = SLOT_ABSENT;
            http_response_fini(&resp);
            return 1;
        }
    http_response_fini(&resp);
    return -1;
}

static char *path_printf(const char *fmt, const char *a, const char *b)
{
    struct strbuf sb, ea, eb;
    sb_init(&sb);
    sb_init(&ea);
    sb_init(&eb);
    http_path_escape(&ea, a ? a : "");
    http_path_escape(&eb, b ? b : "");
    sb_printf(&sb, fmt, ea.buf ? ea.buf : "", eb.buf ? eb.buf : "");
    sb_fini(&ea);
    sb_fini(&eb);
    if (sb.oom) {
        sb_fini(&sb);
        return NULL;
    }
    return sb_take(&sb);
}

/* Fetches and appends new log pages of the watched job's latest execution. */
static int poll_log(struct remote *r, struct http_client *h, const char *exec_id, bool *changed,
                    int *status, struct error *err)
{
    struct tail *t = &r->tail;
    if (!exec_id || !*exec_id) {
        if (t->exec_id) {
            tail_reset(t);
            *changed = true;
        }
        return 0;
    }
    if (!t->exec_id || strcmp(t->exec_id, exec_id) != 0) {
        tail_reset(t);
        t->exec_id = strdup(exec_id);
        *changed = true;
    }
    for (int page = 0; page < LOG_PAGES_PER_POLL && !t->done; page++) {
        char num[32];
        snprintf(num, sizeof(num), "%lld", (long long)t->next_from);
        char *path = path_printf("/actions/executions/%s/logs?fromLine=%s&limit=500", exec_id,
                                 num);
        if (!path)
            return 0;
        struct http_response resp;
        int rc = http_get(h, path, &resp, err);
        *status = (int)resp.status;
        if (rc) {
            bool missing = resp.status == 404;
            http_response_fini(&resp);
            if (missing) { /* execution-not-found: nothing to tail yet */
                error_clear(err);
                free(path);
                return 0;
            }
            free(path);
            return -1;
        }
        struct arena *a = arena_new();
        struct log_page pg;
        struct error e;
        if (!a || wire_decode_log_page(resp.body, resp.len, a, &pg, &e)) {
            if (a)
                error_set(err, EXIT_API, "GET %s: %s", path, e.msg);
            else
                error_set(err, EXIT_API, "out of memory");
            arena_free(a);
            http_response_fini(&resp);
            free(path);
            return -1;
        }
        http_response_fini(&resp);
        free(path);
        size_t added = 0;
        for (size_t i = 0; i < pg.n_lines; i++) {
            if (pg.lines[i].line_number < t->next_from)
                continue; /* a server that ignores fromLine */
            tail_append(t, &pg.lines[i]);
            t->next_from = pg.lines[i].line_number + 1;
            added++;
        }
        tail_trim(t);
        if (t->total != pg.total || t->finished != pg.execution_finished)
            *changed = true;
        t->total = pg.total;
        t->finished = pg.execution_finished;
        if (added)
            *changed = true;
        if (pg.n_lines == 0 && pg.execution_finished)
            t->done = true;
        arena_free(a);
        if (pg.n_lines < LOG_PAGE)
            break;
    }
    return 0;
}

static bool slot_same(const struct slot *a, const struct slot *b)
{
    if (a->st != b->st)
        return false;
    if (a->st != SLOT_OK)
        return true;
    return a->len == b->len && memcmp(a->body, b->body, a->len) == 0;
}

/* One poll of every endpoint. Returns 0 with *changed, or -1 with err and *status. */
static int poll_cycle(struct remote *r, struct http_client *h, const char *dep, bool *changed,
                      int *status, struct error *err)
{
    struct slot fresh[EP_COUNT];
    memset(fresh, 0, sizeof(fresh));
    static const int absent_404[] = {404, 0};
    static const int absent_optional[] = {404, 405, 501, 503, 0};
    int rc = -1;
    char *p = NULL;
    *changed = false;

    p = path_printf("/deployments/%s%s", dep, "");
    if (!p || fetch(h, p, &fresh[EP_DEPLOYMENT], NULL, status, err) < 0)
        goto out;
    free(p);
    p = path_printf("/deployments/%s/jobs?inventory=full%s", dep, "");
    if (!p || fetch(h, p, &fresh[EP_JOBS], NULL, status, err) < 0)
        goto out;
    int c = fetch(h, "/sovereign/cutover/status", &fresh[EP_CUTOVER], absent_404, status, err);
    if (c < 0 && *status == 503 && strstr(err->msg, "cutover-unconfigured")) {
        fresh[EP_CUTOVER].st = SLOT_ABSENT;
        c = 1;
    }
    if (c < 0)
        goto out;
    if (fetch(h, "/sovereign/status", &fresh[EP_SOVSTATUS], absent_optional, status, err) < 0) {
        if (*status == 0 || *status == 401)
            goto out;
        fresh[EP_SOVSTATUS].st = SLOT_ABSENT; /* optional: any error means "not shown" */
    }
    int o = fetch(h, "/organizations", &fresh[EP_ORGS], absent_404, status, err);
    if (o < 0)
        goto out;
    if (o == 1) {
        free(p);
        p = path_printf("/sovereigns/%s/applications%s", dep, "");
        if (!p || fetch(h, p, &fresh[EP_APPS], absent_404, status, err) < 0)
            goto out;
    }

    /* The watched job: detail, then its latest execution's log. */
    pthread_mutex_lock(&r->mu);
    char *watch = r->watch ? strdup(r->watch) : NULL;
    pthread_mutex_unlock(&r->mu);
    bool watch_changed = (watch == NULL) != (r->tail_job == NULL) ||
                         (watch && strcmp(watch, r->tail_job) != 0);
    if (watch_changed) {
        free(r->tail_job);
        r->tail_job = watch;
        watch = NULL;
        tail_reset(&r->tail);
        *changed = true;
    }
    free(watch);
    if (r->tail_job) {
        free(p);
        p = path_printf("/deployments/%s/jobs/%s", dep, r->tail_job);
        if (!p)
            goto out;
        int d = fetch(h, p, &fresh[EP_DETAIL], absent_404, status, err);
        if (d < 0)
            goto out;
        if (d == 0) {
            struct arena *a = arena_new();
            struct job j;
            struct execution *ex = NULL;
            size_t nx = 0;
            struct error e;
            if (!a || wire_decode_job_detail(fresh[EP_DETAIL].body, fresh[EP_DETAIL].len, a, &j,
                                             &ex, &nx, &e)) {
                if (a)
                    decode_fail(err, &fresh[EP_DETAIL], &e);
                else
                    error_set(err, EXIT_API, "out of memory");
                arena_free(a);
                goto out;
            }
            const char *latest = nx ? ex[0].id : j.latest_execution_id;
            int lrc = poll_log(r, h, latest, changed, status, err);
            arena_free(a);
            if (lrc)
                goto out;
        } else if (r->tail.exec_id) {
            tail_reset(&r->tail);
            *changed = true;
        }
    }

    for (int i = 0; i < EP_COUNT; i++)
        if (!slot_same(&fresh[i], &r->good[i]))
            *changed = true;
    if (*changed || !r->have_good) {
        /* Decode now: a bad frame must fail this cycle, not reach a snapshot. */
        struct snapshot *s = build(r, fresh, err);
        if (!s) {
            *status = 200;
            goto out;
        }
        for (int i = 0; i < EP_COUNT; i++) {
            slot_clear(&r->good[i]);
            r->good[i] = fresh[i];
            memset(&fresh[i], 0, sizeof(fresh[i]));
        }
        r->have_good = true;
        r->good_at = time_now_ms();
        r->failing = false;
        r->fails = 0;
        r->last_error[0] = 0;
        r->last_status = 200;
        r->auth_failed = false;
        set_source_health(r, s);
        publish(r, s);
        *changed = true;
    } else {
        r->good_at = time_now_ms();
        /*
         * Unchanged: no new snapshot, except now and then so the age the
         * header shows stays "confirmed recently" rather than "last changed".
         */
        if (!r->failing && r->good_at - r->published_at >= AGE_REFRESH_MS) {
            *changed = true;
            publish_from_good(r);
        }
        if (r->failing) {
            r->failing = false;
            r->fails = 0;
            r->last_error[0] = 0;
            r->last_status = 200;
            r->auth_failed = false;
            *changed = true;
            publish_from_good(r);
        }
    }
    rc = 0;
out:
    free(p);
    for (int i = 0; i < EP_COUNT; i++)
        slot_clear(&fresh[i]);
    return rc;
}

/* ---------------------------------------------------------------- actions */

static const char *action_words(enum action_kind kind, int status, const char *code)
{
    bool cut = kind == ACTION_CUTOVER_START || kind == ACTION_CUTOVER_START_FORCE;
    switch (status) {
    case 400:
        return "the server refused the request as malformed (missing-path-params)";
    case 401:
        return "authentication refused: the token or session is not accepted";
    case 403:
        if (strcmp(code, "read-only") == 0)
            return "the server is read-only";
        return "not allowed: this needs the operator tier or above";
    case 404:
        if (cut)
            return "the cutover API is not available on this server";
        if (strcmp(code, "job-not-found") == 0)
            return "no such job on the server";
        return "the deployment or job was not found on the server";
    case 409:
        if (cut || strcmp(code, "cutover-in-progress") == 0)
            return "a cutover is already running";
        if (strcmp(code, "not-retryable") == 0)
            return "the job is not retryable: only failed, degraded or failing jobs can be "
                   "retried";
        return "the request conflicts with the current state";
    case 424:
        return "no cutover steps found (is bp-self-sovereign-cutover installed?)";
    case 425:
        return "too early: the Sovereign has not been handed over yet";
    case 502:
        if (strcmp(code, "cluster-client-unavailable") == 0)
            return "the catalyst-api cannot reach the cluster";
        if (strcmp(code, "remediation-failed") == 0)
            return "the retry could not be applied to the cluster";
        if (strcmp(code, "status-read-failed") == 0)
            return "the catalyst-api could not read the cutover status";
        if (strcmp(code, "step-discovery-failed") == 0)
            return "the catalyst-api could not discover the cutover steps";
        return cut ? "the cutover could not be started (bad gateway)"
                   : "retrying this kind of job is not supported, or the cluster refused";
    case 503:
        if (strcmp(code, "jobs-store-unavailable") == 0)
            return "the jobs store is unavailable (persistence is disabled on the server)";
        if (strcmp(code, "cutover-unconfigured") == 0)
            return "the cutover is not configured on this catalyst-api (no in-cluster config)";
        return "the catalyst-api is unavailable right now";
    default:
        return NULL;
    }
}

static void set_action_result(struct remote *r, uint64_t seq, enum action_kind kind, int code,
                              const char *ecode, const char *msg, const struct preflight *pf)
{
    pthread_mutex_lock(&r->mu);
    free((char *)(uintptr_t)r->la.error);
    free((char *)(uintptr_t)r->la.message);
    r->la.seq = seq;
    r->la.kind = kind;
    r->la.code = code;
    r->la.error = strdup(ecode ? ecode : "");
    r->la.message = strdup(msg ? msg : "");
    r->la_pf = pf ? *pf : (struct preflight){0};
    pthread_mutex_unlock(&r->mu);
}

/*
 * The checks of a 425 cutover refusal (WIRE §11): [{"id"|"name","title","ok",
 * "detail"}]. An upstream 425 has none; a malformed list is dropped whole.
 */
static void decode_checks(const char *body, size_t len, struct preflight *pf)
{
    memset(pf, 0, sizeof(*pf));
    cJSON *root = wire_json_parse(body, len, NULL);
    const cJSON *arr = root ? cJSON_GetObjectItemCaseSensitive(root, "checks") : NULL;
    if (!cJSON_IsArray(arr))
        arr = NULL;
    const cJSON *c;
    cJSON_ArrayForEach(c, arr)
    {
        if (pf->n_checks == PREFLIGHT_MAX_CHECKS)
            break;
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(c, "id");
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(c, "name");
        const cJSON *title = cJSON_GetObjectItemCaseSensitive(c, "title");
        const cJSON *ok = cJSON_GetObjectItemCaseSensitive(c, "ok");
        const cJSON *detail = cJSON_GetObjectItemCaseSensitive(c, "detail");
        const char *ids = cJSON_IsString(id) ? id->valuestring
                          : cJSON_IsString(name) ? name->valuestring
                                                 : NULL;
        if (!ids || !cJSON_IsBool(ok)) {
            pf->n_checks = 0;
            break;
        }
        preflight_check_set(&pf->checks[pf->n_checks++], ids,
                            cJSON_IsString(title) ? title->valuestring : ids, cJSON_IsTrue(ok),
                            cJSON_IsString(detail) ? detail->valuestring : "");
    }
    for (size_t k = 0; k < pf->n_checks; k++)
        pf->n_failing += !pf->checks[k].ok;
    pf->ready = pf->n_checks && !pf->n_failing;
    cJSON_Delete(root);
}

static void run_action(struct remote *r, struct http_client *h, const char *dep,
                       const struct pending_action *pa)
{
    char *path;
    const char *body = NULL;
    if (pa->kind == ACTION_RETRY_JOB) {
        if (!pa->arg || !*pa->arg) {
            set_action_result(r, pa->seq, pa->kind, 400, "missing-path-params",
                              "no job given to retry", NULL);
            return;
        }
        path = path_printf("/deployments/%s/jobs/%s/retry", dep, pa->arg);
    } else {
        path = strdup("/sovereign/cutover/start");
        /* Our server refuses a start while its preflight fails unless forced. */
        body = pa->kind == ACTION_CUTOVER_START_FORCE ? "{\"force\":true}" : "{}";
    }
    if (!path)
        return;
    struct http_response resp;
    struct error e;
    error_clear(&e);
    int rc = http_request(h, "POST", path, body, &resp, &e);
    struct arena *a = arena_new();
    char msg[1200];
    const char *ecode = "";
    struct preflight pf = {0};
    if (rc == 0) {
        if (pa->kind == ACTION_RETRY_JOB) {
            const char *exec = "", *act = "";
            struct error de;
            if (a && wire_decode_retry(resp.body, resp.len, a, &exec, &act, &de) == 0 && *act)
                snprintf(msg, sizeof(msg), "retry requested: %s", act);
            else
                snprintf(msg, sizeof(msg), "retry requested");
        } else {
            struct cutover_status cs;
            struct error de;
            if (a && wire_decode_cutover_status(resp.body, resp.len, a, &cs, &de) == 0 &&
                cs.complete)
                snprintf(msg, sizeof(msg), "the cutover is already complete; nothing re-runs");
            else
                snprintf(msg, sizeof(msg), "cutover started");
        }
    } else if (resp.status == 0) {
        ecode = "unreachable";
        snprintf(msg, sizeof(msg), "%s", e.msg);
    } else {
        const char *code = "", *detail = "";
        if (a)
            wire_decode_error(resp.body, resp.len, a, &code, &detail);
        ecode = code ? code : "";
        const char *words = action_words(pa->kind, (int)resp.status, ecode);
        if (resp.status == 425 && detail && *detail)
            snprintf(msg, sizeof(msg), "too early: %s", detail);
        else if (words)
            snprintf(msg, sizeof(msg), "%s", words);
        else
            snprintf(msg, sizeof(msg), "%s", e.msg);
        if (resp.status == 425)
            decode_checks(resp.body, resp.len, &pf);
        if (resp.status == 401) {
            r->auth_failed = true;
        }
    }
    for (char *c = msg; *c; c++)
        if ((unsigned char)*c < 0x20)
            *c = ' ';
    set_action_result(r, pa->seq, pa->kind, (int)resp.status, ecode, msg, &pf);
    arena_free(a);
    http_response_fini(&resp);
    free(path);
}

/* ---------------------------------------------------------------- discovery */

static void set_first_locked(struct remote *r, int code, const struct error *e)
{
    if (r->first_done)
        return;
    r->first_done = true;
    r->first_code = code;
    if (e)
        r->first_err = *e;
    else
        error_clear(&r->first_err);
    pthread_cond_broadcast(&r->cv);
}

/* 0: deployment chosen; 1: several listed (picker); -1: failure with err/status. */
static int discover(struct remote *r, struct http_client *h, int *status, struct error *err)
{
    struct http_response resp;
    int rc = http_get(h, "/sovereign/self", &resp, err);
    *status = (int)resp.status;
    if (rc == 0) {
        struct arena *a = arena_new();
        const char *id = NULL, *fqdn = NULL;
        struct error e;
        if (a && wire_decode_sovereign_self(resp.body, resp.len, a, &id, &fqdn, &e) == 0 && id &&
            *id) {
            pthread_mutex_lock(&r->mu);
            free(r->dep_id);
            r->dep_id = strdup(id);
            pthread_mutex_unlock(&r->mu);
            arena_free(a);
            http_response_fini(&resp);
            return 0;
        }
        arena_free(a);
    } else if (resp.status == 0 || resp.status == 401) {
        http_response_fini(&resp);
        return -1;
    }
    http_response_fini(&resp);

    rc = http_get(h, "/deployments", &resp, err);
    *status = (int)resp.status;
    if (rc) {
        http_response_fini(&resp);
        return -1;
    }
    struct arena *a = arena_new();
    struct deployment *d = NULL;
    size_t n = 0;
    struct error e;
    if (!a || wire_decode_deployments(resp.body, resp.len, a, &d, &n, &e)) {
        error_set(err, EXIT_API, "GET /deployments: %s", a ? e.msg : "out of memory");
        *status = 200;
        arena_free(a);
        http_response_fini(&resp);
        return -1;
    }
    int out;
    if (n == 0) {
        error_set(err, EXIT_API, "the catalyst-api lists no deployments (and /sovereign/self "
                                 "gave none); pass --deployment ID");
        out = -1;
    } else if (n == 1) {
        pthread_mutex_lock(&r->mu);
        free(r->dep_id);
        r->dep_id = strdup(d[0].id);
        pthread_mutex_unlock(&r->mu);
        out = 0;
    } else {
        struct strbuf sb;
        sb_init(&sb);
        sb_printf(&sb, "the catalyst-api has %zu deployments; pick one with --deployment:", n);
        for (size_t i = 0; i < n && sb.len < 900; i++)
            sb_printf(&sb, "%s %s (%s)", i ? "," : "", d[i].id,
                      d[i].sovereign_fqdn && *d[i].sovereign_fqdn ? d[i].sovereign_fqdn
                                                                  : "no FQDN");
        error_set(err, EXIT_USAGE, "%s", sb.buf ? sb.buf : "several deployments");
        sb_fini(&sb);
        pthread_mutex_lock(&r->mu);
        free(r->deps_body);
        r->deps_body = resp.body;
        r->deps_len = resp.len;
        resp.body = NULL;
        pthread_mutex_unlock(&r->mu);
        out = 1;
    }
    arena_free(a);
    http_response_fini(&resp);
    return out;
}

/* ---------------------------------------------------------------- SSE followers */

struct stream_ctx {
    struct remote *r;
    struct sse_parser *p;
    struct error err;
    bool overflow;
    bool cutover;
    uint64_t epoch;
    size_t skip;        /* unnamed frames to skip (already known from /events) */
    size_t unnamed;     /* unnamed frames seen on this connection */
    size_t skip_hv;     /* named handover-ready frames to skip (also from /events) */
    size_t handovers;   /* named handover-ready frames seen on this connection */
    size_t delivered;
    bool done;
};

static bool epoch_changed(struct remote *r, uint64_t epoch)
{
    pthread_mutex_lock(&r->mu);
    bool ch = r->dep_epoch != epoch;
    pthread_mutex_unlock(&r->mu);
    return ch;
}

static int on_frame(void *ctx, const char *event, const char *data, size_t len)
{
    struct stream_ctx *sc = ctx;
    struct remote *r = sc->r;
    if (stopping(r))
        return 1;
    sc->delivered++;
    struct arena *a = arena_new();
    if (!a)
        return 0;
    struct wire_event ev;
    struct error e;
    if (!sc->cutover) {
        if (!*event) {
            sc->unnamed++;
            if (sc->unnamed > sc->skip && wire_decode_event(data, len, a, &ev, &e) == 0) {
                /* Its message may carry the handover token: say only that it happened. */
                if (strcmp(ev.phase, "handover-ready") == 0)
                    ev.message = "handover ready";
                push_event(r, &ev);
            }
        } else if (strcmp(event, "done") == 0) {
            sc->done = true;
            arena_free(a);
            return 1;
        } else if (strcmp(event, "handover-ready") == 0 && ++sc->handovers > sc->skip_hv) {
            /* The payload carries a handover token: show only that it happened. */
            struct wire_event hv = {.time = time_now_ms(), .phase = "handover-ready",
                                    .level = LOG_INFO, .message = "handover ready",
                                    .component = "", .state = "", .step = "", .job_name = ""};
            push_event(r, &hv);
        }
    } else if (wire_decode_event(data, len, a, &ev, &e) == 0) {
        bool ok = true;
        if (strcmp(event, "cutover-status") == 0) {
            struct cutover_status cs;
            ok = wire_decode_cutover_configmap(ev.message, strlen(ev.message), a, &cs, &e) == 0;
        }
        /* The feed is the deployment's log; cutover frames only trigger a status re-read. */
        if (ok) {
            pthread_mutex_lock(&r->mu);
            int64_t at = mono_ms();
            if (!r->poll_soon_at || r->poll_soon_at > at + SSE_POLL_MIN_MS)
                r->poll_soon_at = at + SSE_POLL_MIN_MS / 4;
            pthread_cond_broadcast(&r->cv);
            pthread_mutex_unlock(&r->mu);
        }
    }
    arena_free(a);
    return 0;
}

static int on_stream_bytes(void *ctx, const char *buf, size_t n)
{
    struct stream_ctx *sc = ctx;
    if (stopping(sc->r) || (!sc->cutover && epoch_changed(sc->r, sc->epoch)))
        return 1;
    int rc = sse_feed(sc->p, buf, n, on_frame, sc, &sc->err);
    if (rc < 0) {
        sc->overflow = true;
        return 1; /* a frame that never ends: drop the connection */
    }
    return rc;
}

static struct http_client *stream_client(struct remote *r)
{
    struct http_options o = {.base_url = r->api, .token = r->token, .session = r->session,
                             .cacert = r->cacert, .insecure = r->insecure,
                             .connect_timeout_ms = r->connect_timeout_ms,
                             .timeout_ms = r->timeout_ms, .stop = &r->stop,
                             .unix_socket = r->unix_socket};
    struct error e;
    return http_client_new(&o, &e);
}

/* Sleeps ms unless stopping (or, when epoch is given, the deployment changes). */
static void stream_sleep(struct remote *r, int64_t ms, const uint64_t *epoch)
{
    int64_t deadline = mono_ms() + ms;
    pthread_mutex_lock(&r->mu);
    while (!stopping(r) && mono_ms() < deadline && !(epoch && r->dep_epoch != *epoch))
        wait_locked(r, deadline);
    pthread_mutex_unlock(&r->mu);
}

/*
 * Backfills the activity feed from /events; returns the number of events, -1
 * on error. *handovers counts the handover-ready events among them: the SSE
 * replay sends those as named frames, not unnamed ones (WIRE §4.2).
 */
static long backfill_events(struct remote *r, struct http_client *h, const char *dep,
                            size_t *handovers)
{
    *handovers = 0;
    char *path = path_printf("/deployments/%s/events%s", dep, "");
    if (!path)
        return -1;
    struct http_response resp;
    struct error e;
    int rc = http_get(h, path, &resp, &e);
    free(path);
    if (rc) {
        http_response_fini(&resp);
        return -1;
    }
    cJSON *root = wire_json_parse(resp.body, resp.len, NULL);
    http_response_fini(&resp);
    cJSON *evs = root ? cJSON_GetObjectItemCaseSensitive(root, "events") : NULL;
    if (!cJSON_IsArray(evs)) {
        cJSON_Delete(root);
        return -1;
    }
    long n = cJSON_GetArraySize(evs);
    pthread_mutex_lock(&r->mu);
    activity_clear_locked(r);
    pthread_mutex_unlock(&r->mu);
    long i = 0;
    for (cJSON *it = evs->child; it; it = it->next, i++) {
        const char *phase = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "phase"));
        bool hv = phase && strcmp(phase, "handover-ready") == 0;
        if (hv)
            (*handovers)++;
        if (i < n - ACTIVITY_MAX)
            continue;
        char *txt = cJSON_PrintUnformatted(it);
        struct arena *a = arena_new();
        struct wire_event ev;
        if (txt && a && wire_decode_event(txt, strlen(txt), a, &ev, &e) == 0) {
            if (hv) /* its message carries the handover token */
                ev.message = "handover ready";
            push_event(r, &ev);
        }
        arena_free(a);
        free(txt);
    }
    cJSON_Delete(root);
    request_rebuild(r);
    return n;
}

static void *logs_main(void *arg)
{
    struct remote *r = arg;
    struct http_client *h = stream_client(r);
    struct sse_parser *p = sse_parser_new(SSE_FRAME_MAX);
    int tries = 0;
    uint64_t done_epoch = 0;
    bool done = false;
    size_t seen_unnamed = 0, seen_hv = 0;
    uint64_t seen_epoch = 0;
    while (h && p && !stopping(r)) {
        pthread_mutex_lock(&r->mu);
        while (!stopping(r) && (!r->dep_id || (done && r->dep_epoch == done_epoch)))
            wait_locked(r, mono_ms() + 1000);
        char *dep = r->dep_id ? strdup(r->dep_id) : NULL;
        uint64_t epoch = r->dep_epoch;
        pthread_mutex_unlock(&r->mu);
        if (stopping(r) || !dep) {
            free(dep);
            break;
        }
        if (epoch != seen_epoch) {
            seen_epoch = epoch;
            seen_unnamed = seen_hv = 0;
            done = false;
            tries = 0;
            pthread_mutex_lock(&r->mu);
            activity_clear_locked(r);
            pthread_mutex_unlock(&r->mu);
        }
        size_t hv = 0;
        long n = backfill_events(r, h, dep, &hv);
        struct stream_ctx sc = {.r = r, .p = p, .epoch = epoch,
                                .skip = n >= 0 ? (size_t)n - hv : seen_unnamed,
                                .skip_hv = n >= 0 ? hv : seen_hv};
        if (n >= EVENT_BUFFER_MAX) {
            /*
             * A full buffer may drop its head between /events and the replay,
             * so counting frames would skip live ones: reduce from scratch.
             */
            pthread_mutex_lock(&r->mu);
            activity_clear_locked(r);
            pthread_mutex_unlock(&r->mu);
            sc.skip = sc.skip_hv = 0;
        }
        sse_parser_reset(p);
        char *path = path_printf("/deployments/%s/logs%s", dep, "");
        struct http_response resp;
        struct error e;
        int rc = path ? http_stream(h, path, SSE_IDLE_S, on_stream_bytes, &sc, &resp, &e) : -1;
        if (path)
            http_response_fini(&resp);
        free(path);
        free(dep);
        if (sc.unnamed > seen_unnamed)
            seen_unnamed = sc.unnamed;
        if (sc.handovers > seen_hv)
            seen_hv = sc.handovers;
        if (sc.done) {
            done = true;
            done_epoch = epoch;
            continue;
        }
        (void)rc;
        tries = sc.delivered && !sc.overflow ? 0 : tries + 1;
        stream_sleep(r, backoff_ms(tries), &epoch);
    }
    sse_parser_free(p);
    http_client_free(h);
    return NULL;
}

static void *cutover_main(void *arg)
{
    struct remote *r = arg;
    struct http_client *h = stream_client(r);
    struct sse_parser *p = sse_parser_new(SSE_FRAME_MAX);
    static const int64_t steps[] = {1000, 2000, 4000, 8000};
    int tries = 0;
    while (h && p && !stopping(r)) {
        struct stream_ctx sc = {.r = r, .p = p, .cutover = true};
        sse_parser_reset(p);
        struct http_response resp;
        struct error e;
        http_stream(h, "/sovereign/cutover/events", SSE_IDLE_S, on_stream_bytes, &sc, &resp, &e);
        long status = resp.status;
        http_response_fini(&resp);
        if (stopping(r))
            break;
        /* After any close the status may have moved: re-read it. */
        pthread_mutex_lock(&r->mu);
        r->poll_soon_at = mono_ms();
        pthread_cond_broadcast(&r->cv);
        pthread_mutex_unlock(&r->mu);
        if (sc.delivered && !sc.overflow)
            tries = 0;
        int64_t wait = status == 404 ? BACKOFF_MAX_MS : (tries < 4 ? steps[tries] : 8000);
        if (tries >= 5)
            wait = BACKOFF_MAX_MS;
        tries++;
        stream_sleep(r, wait, NULL);
    }
    sse_parser_free(p);
    http_client_free(h);
    return NULL;
}

/*
 * Starts whichever follower is not running yet; one that could not start is
 * tried again on the next poll. A started one is only ever joined by destroy:
 * stopping it here would mean toggling the stop flag destroy may be setting.
 */
static void start_streams(struct remote *r)
{
    if (!r->logs_started)
        r->logs_started = pthread_create(&r->logs_th, NULL, logs_main, r) == 0;
    if (!r->cut_started)
        r->cut_started = pthread_create(&r->cut_th, NULL, cutover_main, r) == 0;
}

/* ---------------------------------------------------------------- poller */

static void reset_for_new_deployment(struct remote *r, struct http_client *h)
{
    for (int i = 0; i < EP_COUNT; i++)
        slot_clear(&r->good[i]);
    r->have_good = false;
    r->good_at = 0;
    tail_reset(&r->tail);
    free(r->tail_job);
    r->tail_job = NULL;
    dcache_free(r);
    http_cache_clear(h);
}

static void *poller_main(void *arg)
{
    struct remote *r = arg;
    struct http_options o = {.base_url = r->api, .token = r->token, .session = r->session,
                             .cacert = r->cacert, .insecure = r->insecure,
                             .connect_timeout_ms = r->connect_timeout_ms,
                             .timeout_ms = r->timeout_ms, .stop = &r->stop,
                             .unix_socket = r->unix_socket};
    struct error err;
    struct http_client *h = http_client_new(&o, &err);
    if (!h) {
        pthread_mutex_lock(&r->mu);
        set_first_locked(r, err.code ? err.code : EXIT_API, &err);
        pthread_mutex_unlock(&r->mu);
        return NULL;
    }
    int64_t next = 0;
    while (!stopping(r)) {
        /* A running log tail is polled on its own, once a second, between full polls. */
        bool tailing = r->tail.exec_id && !r->tail.done && !r->failing && r->tail_job;
        int64_t tail_at = tailing ? r->last_tail + TAIL_POLL_MS : INT64_MAX;
        bool tail_only = false;
        /* Wait for the next poll, an action, a refresh, or a rebuild request. */
        pthread_mutex_lock(&r->mu);
        for (;;) {
            if (stopping(r) || r->poll_now || r->dep_epoch != r->seen_epoch)
                break;
            if (r->n_actions && r->dep_id)
                break;
            int64_t now = mono_ms();
            if (r->poll_soon_at && now >= r->poll_soon_at)
                break;
            if (now >= next && (r->dep_id || !r->deps_body))
                break;
            if (now >= tail_at) {
                tail_only = true;
                break;
            }
            if (r->rebuild && now >= r->last_build + REBUILD_MIN_MS) {
                r->rebuild = false;
                pthread_mutex_unlock(&r->mu);
                publish_from_good(r);
                pthread_mutex_lock(&r->mu);
                continue;
            }
            int64_t until = next < tail_at ? next : tail_at;
            if (r->rebuild && r->last_build + REBUILD_MIN_MS < until)
                until = r->last_build + REBUILD_MIN_MS;
            if (r->poll_soon_at && r->poll_soon_at < until)
                until = r->poll_soon_at;
            if (!r->dep_id && r->deps_body)
                until = now + 1000;
            wait_locked(r, until);
        }
        if (stopping(r)) {
            pthread_mutex_unlock(&r->mu);
            break;
        }
        if (tail_only) {
            pthread_mutex_unlock(&r->mu);
            char *exec = strdup(r->tail.exec_id);
            bool changed = false;
            int status = 0;
            error_clear(&err);
            /* A failed tail poll waits for the next full poll to report it. */
            if (exec && poll_log(r, h, exec, &changed, &status, &err) == 0 && changed)
                publish_from_good(r);
            free(exec);
            r->last_tail = mono_ms();
            continue;
        }
        r->poll_now = false;
        r->poll_soon_at = 0;
        bool want_rebuild = r->rebuild;
        r->rebuild = false;
        bool new_dep = r->dep_epoch != r->seen_epoch;
        r->seen_epoch = r->dep_epoch;
        char *dep = r->dep_id ? strdup(r->dep_id) : NULL;
        struct pending_action *acts = r->actions;
        size_t n_acts = dep ? r->n_actions : 0;
        if (dep) {
            r->actions = NULL;
            r->n_actions = r->cap_actions = 0;
        } else {
            acts = NULL;
        }
        pthread_mutex_unlock(&r->mu);
        if (new_dep)
            reset_for_new_deployment(r, h);

        int status = 0;
        error_clear(&err);
        if (!dep) {
            int d = discover(r, h, &status, &err);
            if (d == 0) {
                next = 0;
                pthread_mutex_lock(&r->mu);
                r->poll_now = true;
                pthread_mutex_unlock(&r->mu);
                continue;
            }
            if (d == 1) {
                pthread_mutex_lock(&r->mu);
                set_first_locked(r, EXIT_USAGE, &err);
                pthread_mutex_unlock(&r->mu);
                r->failing = true;
                snprintf(r->last_error, sizeof(r->last_error), "%s", err.msg);
                r->last_status = status;
                publish_from_good(r);
                next = mono_ms() + 3600 * 1000;
                continue;
            }
            record_failure(r, &err, status);
            pthread_mutex_lock(&r->mu);
            set_first_locked(r, err.code ? err.code : EXIT_API, &err);
            pthread_mutex_unlock(&r->mu);
            publish_from_good(r);
            next = mono_ms() + backoff_ms(r->fails);
            continue;
        }
        start_streams(r);
        for (size_t i = 0; i < n_acts; i++) {
            run_action(r, h, dep, &acts[i]);
            free(acts[i].arg);
        }
        free(acts);
        bool changed = false;
        int rc = poll_cycle(r, h, dep, &changed, &status, &err);
        r->last_tail = mono_ms(); /* the cycle polled the log too */
        free(dep);
        if (rc) {
            record_failure(r, &err, status);
            publish_from_good(r);
        } else if ((n_acts || want_rebuild) && !changed) {
            publish_from_good(r); /* an action's outcome or new activity must be shown */
        }
        pthread_mutex_lock(&r->mu);
        set_first_locked(r, rc ? (err.code ? err.code : EXIT_API) : EXIT_OK, rc ? &err : NULL);
        pthread_mutex_unlock(&r->mu);
        next = mono_ms() + (rc ? backoff_ms(r->fails) : r->refresh_ms);
    }
    http_client_free(h);
    return NULL;
}

/* ---------------------------------------------------------------- source ops */

static struct snapshot *remote_snapshot(struct source *src)
{
    struct remote *r = R(src);
    pthread_mutex_lock(&r->mu);
    struct snapshot *s = snapshot_retain(r->current);
    pthread_mutex_unlock(&r->mu);
    return s;
}

static uint64_t remote_act(struct source *src, enum action_kind kind, const char *arg)
{
    struct remote *r = R(src);
    if (kind == ACTION_SELECT_DEPLOYMENT) {
        /* Choosing what to look at changes nothing on the server: read-only allows it. */
        bool ok = source_remote_select(src, arg) == 0;
        pthread_mutex_lock(&r->mu);
        uint64_t seq = ++r->next_seq;
        free((char *)(uintptr_t)r->la.error);
        free((char *)(uintptr_t)r->la.message);
        r->la = (struct action_result){.seq = seq, .kind = kind, .code = ok ? 200 : 400,
                                       .error = strdup(ok ? "" : "bad-id"),
                                       .message = strdup(ok ? "deployment selected"
                                                            : "no deployment id")};
        r->la_pf = (struct preflight){0};
        r->rebuild = true;
        pthread_cond_broadcast(&r->cv);
        pthread_mutex_unlock(&r->mu);
        return seq;
    }
    pthread_mutex_lock(&r->mu);
    uint64_t seq = ++r->next_seq;
    if (r->read_only) {
        free((char *)(uintptr_t)r->la.error);
        free((char *)(uintptr_t)r->la.message);
        r->la = (struct action_result){.seq = seq, .kind = kind, .code = 403,
                                       .error = strdup("read-only"),
                                       .message = strdup("refused: the console is read-only "
                                                         "(--read-only)")};
        r->la_pf = (struct preflight){0};
        r->rebuild = true;
    } else {
        if (r->n_actions == r->cap_actions) {
            size_t nc = r->cap_actions ? r->cap_actions * 2 : 4;
            struct pending_action *na = realloc(r->actions, nc * sizeof(*na));
            if (!na) {
                pthread_mutex_unlock(&r->mu);
                return 0;
            }
            r->actions = na;
            r->cap_actions = nc;
        }
        r->actions[r->n_actions++] = (struct pending_action){seq, kind, arg ? strdup(arg) : NULL};
    }
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    return seq;
}

static void remote_watch_job(struct source *src, const char *job)
{
    struct remote *r = R(src);
    pthread_mutex_lock(&r->mu);
    bool same = (!job || !*job) ? !r->watch : (r->watch && strcmp(r->watch, job) == 0);
    if (!same) {
        free(r->watch);
        r->watch = (job && *job) ? strdup(job) : NULL;
        r->poll_now = true;
        pthread_cond_broadcast(&r->cv);
    }
    pthread_mutex_unlock(&r->mu);
}

static void remote_refresh(struct source *src)
{
    struct remote *r = R(src);
    pthread_mutex_lock(&r->mu);
    r->poll_now = true;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static void remote_free_all(struct remote *r)
{
    for (int i = 0; i < EP_COUNT; i++)
        slot_clear(&r->good[i]);
    tail_reset(&r->tail);
    free(r->tail_job);
    dcache_free(r);
    activity_clear_locked(r);
    for (size_t i = 0; i < r->n_actions; i++)
        free(r->actions[i].arg);
    free(r->actions);
    free((char *)(uintptr_t)r->la.error);
    free((char *)(uintptr_t)r->la.message);
    snapshot_release(r->current);
    free(r->watch);
    free(r->dep_id);
    free(r->deps_body);
    free(r->api);
    free(r->api_shown);
    free(r->unix_socket);
    free(r->mode);
    http_secret_free(r->token);
    http_secret_free(r->session);
    free(r->cacert);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

static void remote_destroy(struct source *src)
{
    struct remote *r = R(src);
    pthread_mutex_lock(&r->mu);
    atomic_store(&r->stop, true);
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    if (r->poller_started)
        pthread_join(r->poller, NULL);
    /* Written by the poller only, which has been joined. */
    if (r->logs_started)
        pthread_join(r->logs_th, NULL);
    if (r->cut_started)
        pthread_join(r->cut_th, NULL);
    remote_free_all(r);
}

static const struct source_ops remote_ops = {
    .snapshot = remote_snapshot,
    .act = remote_act,
    .watch_job = remote_watch_job,
    .refresh = remote_refresh,
    .destroy = remote_destroy,
};

/* "https://user:pass@host/api/v1" -> "https://host/api/v1": credentials never get shown. */
static char *redact_userinfo(const char *url)
{
    const char *scheme = strstr(url, "://");
    const char *host = scheme ? scheme + 3 : url;
    const char *end = host + strcspn(host, "/?#");
    const char *at = memchr(host, '@', (size_t)(end - host));
    if (!at)
        return strdup(url);
    size_t head = (size_t)(host - url);
    char *out = malloc(strlen(url) + 1);
    if (!out)
        return NULL;
    memcpy(out, url, head);
    strcpy(out + head, at + 1);
    return out;
}

struct source *source_remote_new(const struct remote_options *o, struct error *err)
{
    if (!o->api || !*o->api) {
        error_set(err, EXIT_USAGE, "no catalyst-api URL given (--api URL)");
        return NULL;
    }
    if (strncmp(o->api, "http://", 7) != 0 && strncmp(o->api, "https://", 8) != 0) {
        error_set(err, EXIT_USAGE, "--api must start with http:// or https://");
        return NULL;
    }
    struct remote *r = calloc(1, sizeof(*r));
    if (!r) {
        error_set(err, EXIT_API, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&r->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->cv, &ca);
    pthread_condattr_destroy(&ca);
    r->base.ops = &remote_ops;
    r->base.notify = o->notify;
    r->base.notify_ctx = o->notify_ctx;
    r->tail.next_from = 1;

    const char *token_file = o->token_file;
    if ((!token_file || !*token_file) && (!o->session_file || !*o->session_file)) {
        const char *env = getenv("CATALYST_TOKEN_FILE");
        token_file = env && *env ? env : NULL;
    }
    if (token_file && *token_file && http_read_secret(token_file, &r->token, err))
        goto fail;
    if (o->session_file && *o->session_file &&
        http_read_secret(o->session_file, &r->session, err))
        goto fail;
    if (o->cacert && *o->cacert) {
        /* curl would block on a FIFO or read a device: the rule of every named file. */
        int cfd = util_open_regular(o->cacert, 0, err);
        if (cfd < 0)
            goto fail;
        close(cfd);
    }
    r->api = strdup(o->api);
    size_t al = r->api ? strlen(r->api) : 0;
    while (al > 0 && r->api[al - 1] == '/')
        r->api[--al] = 0;
    r->api_shown = r->api ? redact_userinfo(r->api) : NULL;
    r->cacert = o->cacert ? strdup(o->cacert) : NULL;
    r->unix_socket = o->unix_socket && *o->unix_socket ? strdup(o->unix_socket) : NULL;
    r->mode = strdup(o->mode_label && *o->mode_label ? o->mode_label : "remote");
    r->insecure = o->insecure;
    r->read_only = o->read_only;
    r->watch = o->watch_job && *o->watch_job ? strdup(o->watch_job) : NULL;
    r->refresh_ms = o->refresh_s > 0 ? (int64_t)(o->refresh_s * 1000.0) : 2000;
    if (r->refresh_ms < 50)
        r->refresh_ms = 50;
    r->connect_timeout_ms = o->connect_timeout_ms > 0 ? o->connect_timeout_ms : 5000;
    r->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 15000;
    if (o->deployment && *o->deployment)
        r->dep_id = strdup(o->deployment);
    if (!r->api || !r->api_shown || (o->cacert && !r->cacert) || !r->mode ||
        (o->unix_socket && *o->unix_socket && !r->unix_socket) ||
        (o->deployment && *o->deployment && !r->dep_id)) {
        error_set(err, EXIT_API, "out of memory");
        goto fail;
    }
    r->current = snapshot_new();
    if (!r->current) {
        error_set(err, EXIT_API, "out of memory");
        goto fail;
    }
    r->current->source.mode = arena_strdup(snapshot_arena(r->current), r->mode);
    r->current->source.url = arena_strdup(snapshot_arena(r->current),
                                          r->unix_socket ? r->unix_socket : r->api_shown);
    r->current->source.error = "connecting to the catalyst-api";
    r->current->source.insecure = r->insecure;
    r->current->source.read_only = r->read_only;
    if (snapshot_finalize(r->current)) {
        error_set(err, EXIT_API, "out of memory");
        goto fail;
    }
    if (pthread_create(&r->poller, NULL, poller_main, r) != 0) {
        error_set(err, EXIT_API, "cannot start the poller thread: %s", strerror(errno));
        goto fail;
    }
    r->poller_started = true;
    return &r->base;
fail:
    remote_free_all(r);
    return NULL;
}

int source_remote_wait_first(struct source *s, int timeout_ms, struct error *err)
{
    struct remote *r = R(s);
    int64_t deadline = mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    pthread_mutex_lock(&r->mu);
    while (!r->first_done && mono_ms() < deadline && !stopping(r))
        wait_locked(r, deadline);
    int code;
    if (r->first_done) {
        code = r->first_code;
        if (err)
            *err = r->first_err;
    } else {
        code = EXIT_API;
        error_set(err, EXIT_API, "no answer from the catalyst-api within %d s",
                  (timeout_ms + 999) / 1000);
    }
    pthread_mutex_unlock(&r->mu);
    return code;
}

size_t source_remote_deployments(struct source *s, struct deployment *out, size_t max,
                                 struct arena *a)
{
    struct remote *r = R(s);
    size_t n = 0;
    pthread_mutex_lock(&r->mu);
    if (r->deps_body) {
        struct deployment *d = NULL;
        size_t nd = 0;
        struct error e;
        if (wire_decode_deployments(r->deps_body, r->deps_len, a, &d, &nd, &e) == 0)
            for (; n < nd && n < max; n++)
                out[n] = d[n];
    }
    pthread_mutex_unlock(&r->mu);
    return n;
}

int source_remote_select(struct source *s, const char *id)
{
    struct remote *r = R(s);
    if (!id || !*id)
        return -1;
    char *d = strdup(id);
    if (!d)
        return -1;
    pthread_mutex_lock(&r->mu);
    free(r->dep_id);
    r->dep_id = d;
    r->dep_epoch++;
    r->poll_now = true;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    return 0;
}
