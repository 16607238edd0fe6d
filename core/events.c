/* events: deployment and cutover event logs derived from snapshots (see events.h). */
#include "events.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct ring {
    char **json;       /* encoded event, per slot */
    char **phase;      /* SSE event name (cutover ring only) */
    size_t cap;
    uint64_t first, next; /* sequence numbers: [first, next) are buffered */
};

struct events {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct ring dep, cut;
    bool shutdown;
    bool done;                 /* last deployment status fed is terminal */
    /* feeder-only state */
    struct snapshot *prev;
    char *act_job;             /* newest activity line seen: job, number, time */
    int64_t act_line, act_time;
    bool act_seen;
};

/* One derived event before it is appended; `at` orders the first feed. */
struct pending {
    int64_t at;
    char *json;
    char *phase;               /* cutover only */
    size_t order;              /* position when added: ties keep it */
};

struct plist {
    struct pending *v;
    size_t n, cap;
};

static int ring_init(struct ring *r, size_t cap, bool with_phase)
{
    r->cap = cap;
    r->first = r->next = 0;
    r->json = calloc(cap, sizeof(char *));
    r->phase = with_phase ? calloc(cap, sizeof(char *)) : NULL;
    return (!r->json || (with_phase && !r->phase)) ? -1 : 0;
}

static void ring_fini(struct ring *r)
{
    for (uint64_t s = r->first; s < r->next; s++) {
        free(r->json[s % r->cap]);
        if (r->phase)
            free(r->phase[s % r->cap]);
    }
    free(r->json);
    free(r->phase);
}

/* Takes ownership of json and phase; evicts the oldest when full. */
static void ring_push(struct ring *r, char *json, char *phase)
{
    if (r->next - r->first == r->cap) {
        size_t old = r->first % r->cap;
        free(r->json[old]);
        if (r->phase)
            free(r->phase[old]);
        r->first++;
    }
    size_t slot = r->next % r->cap;
    r->json[slot] = json;
    if (r->phase)
        r->phase[slot] = phase;
    else
        free(phase);
    r->next++;
}

struct events *events_new(size_t deploy_cap, size_t cutover_cap)
{
    struct events *ev = calloc(1, sizeof(*ev));
    if (!ev)
        return NULL;
    if (ring_init(&ev->dep, deploy_cap ? deploy_cap : EVENTS_DEPLOY_CAP, false) < 0 ||
        ring_init(&ev->cut, cutover_cap ? cutover_cap : EVENTS_CUTOVER_CAP, true) < 0) {
        ring_fini(&ev->dep);
        ring_fini(&ev->cut);
        free(ev);
        return NULL;
    }
    pthread_mutex_init(&ev->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&ev->cv, &ca);
    pthread_condattr_destroy(&ca);
    return ev;
}

void events_free(struct events *ev)
{
    if (!ev)
        return;
    ring_fini(&ev->dep);
    ring_fini(&ev->cut);
    snapshot_release(ev->prev);
    free(ev->act_job);
    pthread_cond_destroy(&ev->cv);
    pthread_mutex_destroy(&ev->mu);
    free(ev);
}

static void plist_add(struct plist *l, int64_t at, struct strbuf *json, const char *phase)
{
    if (json->oom || !json->buf) {
        sb_fini(json);
        return;
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        struct pending *v = realloc(l->v, cap * sizeof(*v));
        if (!v) {
            sb_fini(json);
            return;
        }
        l->v = v;
        l->cap = cap;
    }
    char *ph = phase ? strdup(phase) : NULL;
    l->v[l->n] = (struct pending){at, sb_take(json), ph, l->n};
    l->n++;
}

static int pending_cmp(const void *a, const void *b)
{
    const struct pending *x = a, *y = b;
    if (x->at != y->at)
        return x->at < y->at ? -1 : 1;
    /*
     * qsort is not stable and moves elements while sorting, so their
     * addresses say nothing about the original order: the recorded one does.
     */
    return x->order < y->order ? -1 : (x->order > y->order);
}

static const char *level_word(enum log_level l)
{
    switch (l) {
    case LOG_ERROR: return "error";
    case LOG_WARN: return "warn";
    default: return "info";
    }
}

/* Starts an event object: {"time","phase","level","message" (closed by the caller). */
static void event_open(struct strbuf *sb, int64_t at, const char *phase, const char *level,
                       const char *message)
{
    char tb[40];
    sb_init(sb);
    sb_puts(sb, "{\"time\":");
    sb_json_str(sb, time_format(at, tb, sizeof(tb)));
    sb_puts(sb, ",\"phase\":");
    sb_json_str(sb, phase);
    sb_puts(sb, ",\"level\":");
    sb_json_str(sb, level);
    sb_puts(sb, ",\"message\":");
    sb_json_str(sb, message);
}

/* An optional member (bracketed in the shapes below): left out when v is empty. */
static void event_opt(struct strbuf *sb, const char *key_colon, const char *v)
{
    if (v && *v) {
        sb_puts(sb, key_colon);
        sb_json_str(sb, v);
    }
}

/* {"time","phase","level","message"[,"component"][,"state"][,"status"]} */
static void dep_event(struct plist *l, int64_t at, const char *phase, const char *level,
                      const char *message, const char *component, const char *state,
                      const char *status)
{
    struct strbuf sb;
    event_open(&sb, at, phase, level, message);
    event_opt(&sb, ",\"component\":", component);
    event_opt(&sb, ",\"state\":", state);
    event_opt(&sb, ",\"status\":", status);
    sb_putc(&sb, '}');
    plist_add(l, at, &sb, NULL);
}

/* {"time","phase","level","message"[,"step"][,"jobName"]} */
static void cut_event(struct plist *l, int64_t at, const char *phase, const char *level,
                      const char *message, const char *step, const char *job_name)
{
    struct strbuf sb;
    event_open(&sb, at, phase, level, message);
    event_opt(&sb, ",\"step\":", step);
    event_opt(&sb, ",\"jobName\":", job_name);
    sb_putc(&sb, '}');
    plist_add(l, at, &sb, phase);
}

static bool starts_with(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

/* How a job shows in the deployment stream. */
enum job_class { JC_COMPONENT, JC_TOFU, JC_FLUX, JC_CUTOVER, JC_OTHER };

static enum job_class classify(const struct job *j)
{
    if (starts_with(j->job_name, "cutover-step-"))
        return JC_CUTOVER;
    if (j->kind == KIND_INSTALL)
        return JC_COMPONENT;
    if (starts_with(j->job_name, "tofu-"))
        return JC_TOFU;
    if (strcmp(j->job_name, "cluster-bootstrap") == 0)
        return JC_FLUX;
    return JC_OTHER;
}

/* Bare component slug: appId, else jobName without "install-". */
static const char *component_of(const struct job *j)
{
    if (j->app_id && *j->app_id)
        return j->app_id;
    return starts_with(j->job_name, "install-") ? j->job_name + 8 : j->job_name;
}

/* The group slug of a job ("provisioner"), else its own name. */
static const char *group_of(const struct job *j)
{
    const char *p = j->parent_id ? strrchr(j->parent_id, ':') : NULL;
    if (p && p[1])
        return p + 1;
    if (j->parent_id && *j->parent_id)
        return j->parent_id;
    return j->job_name;
}

enum edge { EDGE_START, EDGE_OK, EDGE_FAIL, EDGE_BLOCKED };

static void job_event(struct plist *l, const struct job *j, enum edge e, int64_t at)
{
    char msg[512];
    const char *name = (j->display_name && *j->display_name) ? j->display_name : j->job_name;
    const char *level = e == EDGE_FAIL ? "error" : e == EDGE_BLOCKED ? "warn" : "info";
    char dur[32];
    duration_format(j->duration_ms, dur, sizeof(dur));
    switch (classify(j)) {
    case JC_CUTOVER:
        return;
    case JC_COMPONENT: {
        const char *c = component_of(j);
        static const char *const state[] = {"installing", "installed", "failed", "failed"};
        static const char *const verb[] = {"started", "succeeded", "failed",
                                           "blocked: a dependency failed"};
        snprintf(msg, sizeof(msg), "Helm install %s for release bp-%s", verb[e], c);
        dep_event(l, at, "component", level, msg, c, state[e], NULL);
        return;
    }
    case JC_TOFU:
    case JC_FLUX:
    case JC_OTHER:
        break;
    }
    const char *phase = classify(j) == JC_TOFU   ? j->job_name
                        : classify(j) == JC_FLUX ? "flux-bootstrap"
                                                 : group_of(j);
    switch (e) {
    case EDGE_START: snprintf(msg, sizeof(msg), "%s started", name); break;
    case EDGE_OK: snprintf(msg, sizeof(msg), "%s succeeded in %s", name, dur); break;
    case EDGE_FAIL: snprintf(msg, sizeof(msg), "%s failed after %s", name, dur); break;
    case EDGE_BLOCKED: snprintf(msg, sizeof(msg), "%s blocked: a dependency failed", name); break;
    }
    dep_event(l, at, phase, level, msg, NULL, NULL, NULL);
}

static const struct job *prev_job(const struct snapshot *prev, size_t i, const struct job *j)
{
    if (!prev)
        return NULL;
    /* Producers keep their job order, so the same index is almost always right. */
    if (i < prev->n_jobs && strcmp(prev->jobs[i].id, j->id) == 0)
        return &prev->jobs[i];
    int32_t k = snapshot_find_job(prev, j->id);
    return k >= 0 ? &prev->jobs[k] : NULL;
}

static bool same_str(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

static void derive_jobs(struct plist *l, const struct snapshot *prev, const struct snapshot *s,
                        int64_t now)
{
    for (size_t i = 0; i < s->n_jobs; i++) {
        const struct job *j = &s->jobs[i];
        if (j->is_group)
            continue;
        const struct job *p = prev_job(prev, i, j);
        enum job_status ps = p ? p->status : JOB_PENDING;
        const char *pexec = p ? p->latest_execution_id : "";
        bool new_exec = j->latest_execution_id && *j->latest_execution_id &&
                        !same_str(pexec, j->latest_execution_id);
        if (ps == j->status && !new_exec)
            continue;
        /* First feed: place events at the job's own times; later: now. */
        int64_t t_start = (!prev && j->started_at) ? j->started_at : now;
        int64_t t_end = (!prev && j->finished_at) ? j->finished_at : now;
        bool has_exec = j->latest_execution_id && *j->latest_execution_id;
        switch (j->status) {
        case JOB_RUNNING:
        case JOB_DEGRADED:
            job_event(l, j, EDGE_START, t_start);
            break;
        case JOB_SUCCEEDED:
        case JOB_HEALTHY:
            if (ps != JOB_RUNNING || new_exec)
                job_event(l, j, EDGE_START, t_start);
            job_event(l, j, EDGE_OK, t_end);
            break;
        case JOB_FAILED:
        case JOB_FAILING:
            if (!has_exec) {
                job_event(l, j, EDGE_BLOCKED, t_end);
                break;
            }
            if (ps != JOB_RUNNING || new_exec)
                job_event(l, j, EDGE_START, t_start);
            job_event(l, j, EDGE_FAIL, t_end);
            break;
        default:
            break;
        }
    }
}

static void derive_activity(struct events *ev, struct plist *l, const struct snapshot *s)
{
    if (!s->n_activity)
        return;
    size_t from = 0;
    if (ev->act_seen) {
        /* The feed is newest last: resume after the newest line seen before. */
        for (size_t k = s->n_activity; k-- > 0;) {
            const struct activity_line *a = &s->activity[k];
            if (a->line.line_number == ev->act_line && a->line.timestamp == ev->act_time &&
                same_str(a->job_name, ev->act_job)) {
                from = k + 1;
                break;
            }
        }
    }
    for (size_t k = from; k < s->n_activity; k++) {
        const struct activity_line *a = &s->activity[k];
        int32_t ji = snapshot_find_job(s, a->job_name);
        const struct job *j = ji >= 0 ? &s->jobs[ji] : NULL;
        const char *level = level_word(a->line.level);
        const char *msg = a->line.message ? a->line.message : "";
        int64_t at = a->line.timestamp;
        if (!j) {
            dep_event(l, at, a->job_name, level, msg, NULL, NULL, NULL);
            continue;
        }
        switch (classify(j)) {
        case JC_CUTOVER: break;
        case JC_COMPONENT:
            dep_event(l, at, "component-log", level, msg, component_of(j), NULL, NULL);
            break;
        case JC_TOFU: dep_event(l, at, "tofu", level, msg, NULL, NULL, NULL); break;
        case JC_FLUX: dep_event(l, at, "flux-bootstrap", level, msg, NULL, NULL, NULL); break;
        case JC_OTHER: dep_event(l, at, group_of(j), level, msg, NULL, NULL, NULL); break;
        }
    }
    const struct activity_line *last = &s->activity[s->n_activity - 1];
    free(ev->act_job);
    ev->act_job = strdup(last->job_name ? last->job_name : "");
    ev->act_line = last->line.line_number;
    ev->act_time = last->line.timestamp;
    ev->act_seen = true;
}

static const struct cutover_step *find_step(const struct cutover_status *c, const char *name)
{
    for (size_t i = 0; i < c->n_steps; i++)
        if (strcmp(c->steps[i].name, name) == 0)
            return &c->steps[i];
    return NULL;
}

static void derive_cutover(struct plist *l, const struct cutover_status *pc,
                           const struct cutover_status *c, int64_t now)
{
    char msg[768];
    bool started = (c->running && !pc->running) ||
                   (c->last_attempt_started_at &&
                    c->last_attempt_started_at != pc->last_attempt_started_at) ||
                   (c->started_at && !pc->started_at);
    if (started) {
        snprintf(msg, sizeof(msg), "Self-Sovereignty Cutover started: %d steps",
                 c->total_steps ? c->total_steps : (int)c->n_steps);
        int64_t at = c->last_attempt_started_at ? c->last_attempt_started_at : now;
        cut_event(l, at, "cutover-started", "info", msg, NULL, NULL);
    }
    for (size_t i = 0; i < c->n_steps; i++) {
        const struct cutover_step *st = &c->steps[i];
        const struct cutover_step *ps = find_step(pc, st->name);
        enum step_result pr = ps ? ps->result : STEP_PENDING;
        bool rerun = ps && st->started_at && st->started_at != ps->started_at;
        if (pr == st->result && !rerun)
            continue;
        int64_t t0 = st->started_at ? st->started_at : now;
        int64_t t1 = st->finished_at ? st->finished_at : now;
        const char *jn = st->job_name;
        bool need_start = pr != STEP_RUNNING || rerun;
        if (st->result != STEP_PENDING && st->result != STEP_SKIPPED && need_start) {
            snprintf(msg, sizeof(msg), "step %s started (job)", st->name);
            cut_event(l, t0, "cutover-step-started", "info", msg, st->name, jn);
        }
        switch (st->result) {
        case STEP_SUCCESS:
            snprintf(msg, sizeof(msg), "step %s finished", st->name);
            cut_event(l, t1, "cutover-step-finished", "info", msg, st->name, jn);
            break;
        case STEP_SKIPPED:
            snprintf(msg, sizeof(msg), "step %s skipped", st->name);
            cut_event(l, t1, "cutover-step-finished", "info", msg, st->name, jn);
            break;
        case STEP_FAILED: {
            const char *why = (st->message && *st->message) ? st->message
                              : (c->last_error && *c->last_error) ? c->last_error
                                                                  : "reported Failed";
            snprintf(msg, sizeof(msg), "step %s failed: %s", st->name, why);
            cut_event(l, t1, "cutover-step-failed", "error", msg, st->name, jn);
            break;
        }
        default:
            break;
        }
    }
    if (c->complete && !pc->complete)
        cut_event(l, c->finished_at ? c->finished_at : now, "cutover-completed", "info",
                  "Self-Sovereignty Cutover completed successfully", NULL, NULL);
}

static bool status_done(const char *st)
{
    return st && (strcmp(st, "ready") == 0 || strcmp(st, "failed") == 0);
}

static void push_all(struct ring *r, struct plist *l)
{
    for (size_t i = 0; i < l->n; i++)
        ring_push(r, l->v[i].json, l->v[i].phase);
    l->n = 0;
}

void events_feed(struct events *ev, struct snapshot *s)
{
    if (!ev || !s)
        return;
    const struct snapshot *prev = ev->prev;
    int64_t now = time_now_ms();
    struct plist dl = {0}, cl = {0};

    derive_jobs(&dl, prev, s, now);
    derive_activity(ev, &dl, s);
    if (!prev && dl.n > 1) /* replay a restored deployment in the order it happened */
        qsort(dl.v, dl.n, sizeof(*dl.v), pending_cmp);
    const char *pst = (prev && prev->has_deployment) ? prev->deployment.status : "pending";
    const char *st = s->deployment.status ? s->deployment.status : "";
    if (s->has_deployment && *st && !same_str(pst, st)) {
        char msg[128];
        bool failed = strcmp(st, "failed") == 0;
        snprintf(msg, sizeof(msg), "deployment %s", st);
        int64_t at = (!prev && s->deployment.finished_at) ? s->deployment.finished_at : now;
        dep_event(&dl, at, "deployment", failed ? "error" : "info", msg, NULL, NULL, st);
    }
    /* The cutover ring is per process, like upstream's: nothing to replay at first. */
    if (prev)
        derive_cutover(&cl, &prev->cutover, &s->cutover, now);

    pthread_mutex_lock(&ev->mu);
    push_all(&ev->dep, &dl);
    push_all(&ev->cut, &cl);
    ev->done = s->has_deployment && status_done(s->deployment.status);
    pthread_cond_broadcast(&ev->cv);
    pthread_mutex_unlock(&ev->mu);
    free(dl.v);
    free(cl.v);

    snapshot_release(ev->prev);
    ev->prev = snapshot_retain(s);
}

void events_cutover_note(struct events *ev, int64_t time_ms, const char *phase,
                         const char *level, const char *message)
{
    struct plist l = {0};
    cut_event(&l, time_ms, phase, level, message, NULL, NULL);
    pthread_mutex_lock(&ev->mu);
    push_all(&ev->cut, &l);
    pthread_cond_broadcast(&ev->cv);
    pthread_mutex_unlock(&ev->mu);
    free(l.v);
}

uint64_t events_deploy_first(struct events *ev)
{
    pthread_mutex_lock(&ev->mu);
    uint64_t v = ev->dep.first;
    pthread_mutex_unlock(&ev->mu);
    return v;
}

uint64_t events_cutover_first(struct events *ev)
{
    pthread_mutex_lock(&ev->mu);
    uint64_t v = ev->cut.first;
    pthread_mutex_unlock(&ev->mu);
    return v;
}

size_t events_deploy_count(struct events *ev)
{
    pthread_mutex_lock(&ev->mu);
    size_t v = (size_t)(ev->dep.next - ev->dep.first);
    pthread_mutex_unlock(&ev->mu);
    return v;
}

uint64_t events_deploy_next(struct events *ev)
{
    pthread_mutex_lock(&ev->mu);
    uint64_t v = ev->dep.next;
    pthread_mutex_unlock(&ev->mu);
    return v;
}

bool events_deploy_done(struct events *ev)
{
    pthread_mutex_lock(&ev->mu);
    bool v = ev->done;
    pthread_mutex_unlock(&ev->mu);
    return v;
}

size_t events_deploy_frames(struct events *ev, uint64_t *cursor, struct strbuf *sb)
{
    size_t n = 0;
    pthread_mutex_lock(&ev->mu);
    if (*cursor < ev->dep.first)
        *cursor = ev->dep.first;
    for (; *cursor < ev->dep.next; (*cursor)++, n++) {
        sb_puts(sb, "data: ");
        sb_puts(sb, ev->dep.json[*cursor % ev->dep.cap]);
        sb_puts(sb, "\n\n");
    }
    pthread_mutex_unlock(&ev->mu);
    return n;
}

size_t events_deploy_json(struct events *ev, struct strbuf *sb)
{
    size_t n = 0;
    sb_putc(sb, '[');
    pthread_mutex_lock(&ev->mu);
    for (uint64_t s = ev->dep.first; s < ev->dep.next; s++, n++) {
        if (n)
            sb_putc(sb, ',');
        sb_puts(sb, ev->dep.json[s % ev->dep.cap]);
    }
    pthread_mutex_unlock(&ev->mu);
    sb_putc(sb, ']');
    return n;
}

size_t events_cutover_frames(struct events *ev, uint64_t *cursor, struct strbuf *sb,
                             bool *closing)
{
    size_t n = 0;
    *closing = false;
    pthread_mutex_lock(&ev->mu);
    if (*cursor < ev->cut.first)
        *cursor = ev->cut.first;
    while (*cursor < ev->cut.next && !*closing) {
        size_t slot = *cursor % ev->cut.cap;
        const char *ph = ev->cut.phase[slot];
        sb_puts(sb, "event: ");
        sb_puts(sb, ph);
        sb_puts(sb, "\ndata: ");
        sb_puts(sb, ev->cut.json[slot]);
        sb_puts(sb, "\n\n");
        *closing = strcmp(ph, "cutover-completed") == 0 || strcmp(ph, "cutover-step-failed") == 0;
        (*cursor)++;
        n++;
    }
    pthread_mutex_unlock(&ev->mu);
    return n;
}

bool events_wait(struct events *ev, uint64_t deploy_cursor, uint64_t cutover_cursor,
                 int timeout_ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    bool ready;
    pthread_mutex_lock(&ev->mu);
    for (;;) {
        ready = ev->shutdown || ev->dep.next > deploy_cursor || ev->cut.next > cutover_cursor;
        if (ready || pthread_cond_timedwait(&ev->cv, &ev->mu, &ts) != 0)
            break;
    }
    ready = ev->shutdown || ev->dep.next > deploy_cursor || ev->cut.next > cutover_cursor;
    pthread_mutex_unlock(&ev->mu);
    return ready;
}

void events_shutdown(struct events *ev)
{
    pthread_mutex_lock(&ev->mu);
    ev->shutdown = true;
    pthread_cond_broadcast(&ev->cv);
    pthread_mutex_unlock(&ev->mu);
}

bool events_is_shutdown(struct events *ev)
{
    pthread_mutex_lock(&ev->mu);
    bool v = ev->shutdown;
    pthread_mutex_unlock(&ev->mu);
    return v;
}

void events_cutover_status_frame(const struct cutover_status *c, int64_t now_ms,
                                 struct strbuf *sb)
{
    struct strbuf map;
    char tb[40];
    sb_init(&map);
    sb_putc(&map, '{');
    for (size_t i = 0; i < c->n_raw; i++) {
        if (i)
            sb_putc(&map, ',');
        sb_json_str(&map, c->raw[i].key);
        sb_putc(&map, ':');
        sb_json_str(&map, c->raw[i].value);
    }
    sb_putc(&map, '}');
    sb_puts(sb, "event: cutover-status\ndata: {\"time\":");
    sb_json_str(sb, time_format(now_ms, tb, sizeof(tb)));
    sb_puts(sb, ",\"phase\":\"cutover-status\",\"level\":\"info\",\"message\":");
    /* Upstream double-encodes: the message is the map as a JSON string. */
    sb_json_str(sb, map.buf ? map.buf : "{}");
    sb_puts(sb, "}\n\n");
    sb_fini(&map);
}
