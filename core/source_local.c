/* source_local: snapshots and actions over the in-process engine (see source_local.h). */
#include "source_local.h"

#include "arena.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct action_req {
    struct action_req *next;
    uint64_t seq;
    enum action_kind kind;
    char *arg;               /* owned */
};

struct local {
    struct source base;
    struct engine *engine;   /* borrowed */
    pthread_t publisher, actor;
    pthread_mutex_t mu;
    pthread_cond_t cond;     /* signals a new snapshot, a queued action or stop */
    bool stop;
    struct snapshot *latest; /* owned reference */
    uint64_t generation;     /* of latest */
    char *watch;             /* owned, NULL: no job watched */
    bool dirty;              /* rebuild even if the engine did not change (watch changed) */
    struct action_req *queue_head, *queue_tail;
    uint64_t next_seq;
    struct action_result done;  /* last finished action; strings in done_buf */
    char done_error[64], done_message[600];
    struct preflight done_pf;   /* a refused cutover start's checklist (n_checks 0: none) */
};

static struct snapshot *build(struct local *l)
{
    pthread_mutex_lock(&l->mu);
    char *watch = l->watch ? strdup(l->watch) : NULL;
    struct action_result act = l->done;
    char err[64], msg[600];
    memcpy(err, l->done_error, sizeof(err));
    memcpy(msg, l->done_message, sizeof(msg));
    struct preflight pf = l->done_pf;
    uint64_t gen = l->generation + 1;
    pthread_mutex_unlock(&l->mu);

    struct snapshot *s = snapshot_new();
    if (!s) {
        free(watch);
        return NULL;
    }
    if (engine_fill_snapshot(l->engine, s, watch) < 0 || snapshot_finalize(s) < 0) {
        free(watch);
        snapshot_release(s);
        return NULL;
    }
    free(watch);
    s->generation = gen;
    s->last_action = act;
    s->last_action.error = arena_strdup(snapshot_arena(s), err);
    s->last_action.message = arena_strdup(snapshot_arena(s), msg);
    if (pf.n_checks) {
        struct preflight_check *c = arena_calloc(snapshot_arena(s), pf.n_checks, sizeof(*c));
        if (c) {
            memcpy(c, pf.checks, pf.n_checks * sizeof(*c));
            s->last_action.checks = c;
            s->last_action.n_checks = pf.n_checks;
        }
    }
    return s;
}

static void publish(struct local *l, struct snapshot *s)
{
    pthread_mutex_lock(&l->mu);
    struct snapshot *old = l->latest;
    l->latest = s;
    l->generation = s->generation;
    pthread_cond_broadcast(&l->cond);
    pthread_mutex_unlock(&l->mu);
    snapshot_release(old);
    if (l->base.notify)
        l->base.notify(l->base.notify_ctx);
}

static void *publisher_main(void *arg)
{
    struct local *l = arg;
    uint64_t seen = engine_generation(l->engine) - 1; /* force a first build */
    for (;;) {
        pthread_mutex_lock(&l->mu);
        bool stop = l->stop, dirty = l->dirty;
        l->dirty = false;
        pthread_mutex_unlock(&l->mu);
        if (stop)
            break;
        uint64_t g = engine_generation(l->engine);
        if (g != seen || dirty) {
            seen = g;
            struct snapshot *s = build(l);
            if (s)
                publish(l, s);
            continue;
        }
        /* Bounded wait so stop and watch changes are seen promptly. */
        engine_wait(l->engine, seen, 200);
    }
    return NULL;
}

static void finish_action(struct local *l, uint64_t seq, enum action_kind kind,
                          const struct engine_result *r)
{
    pthread_mutex_lock(&l->mu);
    l->done.seq = seq;
    l->done.kind = kind;
    l->done.code = r->code;
    snprintf(l->done_error, sizeof(l->done_error), "%s", r->error);
    if (r->code == 200 && kind == ACTION_RETRY_JOB)
        snprintf(l->done_message, sizeof(l->done_message), "retry started (execution %s)",
                 r->execution_id);
    else if (r->code == 200)
        snprintf(l->done_message, sizeof(l->done_message), "%s",
                 r->detail[0] ? r->detail : "cutover started");
    else
        snprintf(l->done_message, sizeof(l->done_message), "%s%s%s", r->error,
                 r->detail[0] ? ": " : "", r->detail);
    l->done_pf = r->code == 425 ? r->preflight : (struct preflight){0};
    l->dirty = true;
    pthread_mutex_unlock(&l->mu);
}

static void *actor_main(void *arg)
{
    struct local *l = arg;
    pthread_mutex_lock(&l->mu);
    for (;;) {
        while (!l->stop && !l->queue_head)
            pthread_cond_wait(&l->cond, &l->mu);
        if (l->stop)
            break;
        struct action_req *r = l->queue_head;
        l->queue_head = r->next;
        if (!l->queue_head)
            l->queue_tail = NULL;
        pthread_mutex_unlock(&l->mu);

        struct engine_result res;
        memset(&res, 0, sizeof(res));
        if (r->kind == ACTION_RETRY_JOB) {
            engine_retry(l->engine, r->arg, "catalyst-tui", &res);
        } else if (r->kind == ACTION_CUTOVER_START || r->kind == ACTION_CUTOVER_START_FORCE) {
            engine_cutover_start(l->engine, r->kind == ACTION_CUTOVER_START_FORCE, &res);
        } else {
            /* The in-process core has exactly one deployment. */
            res.code = 400;
            snprintf(res.error, sizeof(res.error), "not-applicable");
            snprintf(res.detail, sizeof(res.detail), "standalone mode has one deployment");
        }
        finish_action(l, r->seq, r->kind, &res);
        free(r->arg);
        free(r);
        pthread_mutex_lock(&l->mu);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

static struct snapshot *local_snapshot(struct source *src)
{
    struct local *l = (struct local *)src;
    pthread_mutex_lock(&l->mu);
    struct snapshot *s = snapshot_retain(l->latest);
    pthread_mutex_unlock(&l->mu);
    return s;
}

static uint64_t local_act(struct source *src, enum action_kind kind, const char *arg)
{
    struct local *l = (struct local *)src;
    struct action_req *r = calloc(1, sizeof(*r));
    if (!r)
        return 0;
    r->kind = kind;
    r->arg = strdup(arg ? arg : "");
    if (!r->arg) {
        free(r);
        return 0;
    }
    pthread_mutex_lock(&l->mu);
    r->seq = ++l->next_seq;
    if (l->queue_tail)
        l->queue_tail->next = r;
    else
        l->queue_head = r;
    l->queue_tail = r;
    uint64_t seq = r->seq;
    pthread_cond_broadcast(&l->cond);
    pthread_mutex_unlock(&l->mu);
    return seq;
}

static void local_watch(struct source *src, const char *job)
{
    struct local *l = (struct local *)src;
    pthread_mutex_lock(&l->mu);
    bool same = (!job || !*job) ? !l->watch : (l->watch && strcmp(l->watch, job) == 0);
    if (!same) {
        free(l->watch);
        l->watch = (job && *job) ? strdup(job) : NULL;
        l->dirty = true;
    }
    pthread_mutex_unlock(&l->mu);
}

static void local_refresh(struct source *src)
{
    struct local *l = (struct local *)src;
    pthread_mutex_lock(&l->mu);
    l->dirty = true;
    pthread_mutex_unlock(&l->mu);
}

static void local_destroy(struct source *src)
{
    struct local *l = (struct local *)src;
    pthread_mutex_lock(&l->mu);
    l->stop = true;
    pthread_cond_broadcast(&l->cond);
    pthread_mutex_unlock(&l->mu);
    pthread_join(l->publisher, NULL);
    pthread_join(l->actor, NULL);
    for (struct action_req *r = l->queue_head, *n; r; r = n) {
        n = r->next;
        free(r->arg);
        free(r);
    }
    snapshot_release(l->latest);
    free(l->watch);
    pthread_cond_destroy(&l->cond);
    pthread_mutex_destroy(&l->mu);
    free(l);
}

static const struct source_ops local_ops = {
    .snapshot = local_snapshot,
    .act = local_act,
    .watch_job = local_watch,
    .refresh = local_refresh,
    .destroy = local_destroy,
};

struct source *source_local_new(struct engine *e, void (*notify)(void *), void *notify_ctx,
                                struct error *err)
{
    struct local *l = calloc(1, sizeof(*l));
    if (!l) {
        error_set(err, EXIT_FAILED, "out of memory");
        return NULL;
    }
    l->base.ops = &local_ops;
    l->base.notify = notify;
    l->base.notify_ctx = notify_ctx;
    l->engine = e;
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cond, NULL);
    /* The first snapshot is built synchronously so snapshot() never returns NULL. */
    struct snapshot *s = build(l);
    if (!s) {
        error_set(err, EXIT_FAILED, "out of memory building the first snapshot");
        pthread_cond_destroy(&l->cond);
        pthread_mutex_destroy(&l->mu);
        free(l);
        return NULL;
    }
    l->latest = s;
    l->generation = s->generation;
    bool published = pthread_create(&l->publisher, NULL, publisher_main, l) == 0;
    if (published && pthread_create(&l->actor, NULL, actor_main, l) == 0)
        return &l->base;
    error_set(err, EXIT_FAILED, "cannot start the %s thread", published ? "action" : "snapshot");
    if (published) {
        pthread_mutex_lock(&l->mu);
        l->stop = true;
        pthread_mutex_unlock(&l->mu);
        pthread_join(l->publisher, NULL);
    }
    snapshot_release(l->latest);
    pthread_cond_destroy(&l->cond);
    pthread_mutex_destroy(&l->mu);
    free(l);
    return NULL;
}

struct snapshot *source_local_wait(struct source *src, uint64_t gen, int timeout_ms)
{
    struct local *l = (struct local *)src;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&l->mu);
    while (l->generation <= gen && !l->stop)
        if (pthread_cond_timedwait(&l->cond, &l->mu, &ts) != 0)
            break;
    struct snapshot *s = snapshot_retain(l->latest);
    pthread_mutex_unlock(&l->mu);
    return s;
}
