/* server: the catalyst-api wire over libmicrohttpd (see server.h). */
#include "server.h"

#include "arena.h"
#include "events.h"
#include "source_local.h"
#include "wire.h"

#include <cjson/cJSON.h>
#include <microhttpd.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#ifndef CATALYST_TUI_VERSION
#define CATALYST_TUI_VERSION "0.1.0"
#endif

#define PARAM_MAX 512
#define SSE_BLOCK (16 * 1024)

/* Cached bodies of one snapshot generation. */
enum slot {
    SLOT_DEPLOYMENTS = 0,
    SLOT_DEPLOYMENT,
    SLOT_CUTOVER,
    SLOT_SOV_STATUS,
    SLOT_ORGS,
    SLOT_JOBS,                 /* + full*5 + status filter (0 none, 1 + enum job_status) */
    SLOT_COUNT = SLOT_JOBS + 10
};

struct cache {
    uint64_t gen;
    bool valid;
    struct MHD_Response *resp[SLOT_COUNT];
    char etag[SLOT_COUNT][48];
    uint64_t evseq[SLOT_COUNT]; /* deployment slots: event log position when encoded */
};

struct server {
    struct MHD_Daemon *d;
    struct source *src;
    struct engine *e;
    struct events *ev;
    struct server_options o;
    char *token;
    size_t token_len;
    int port;
    /* Listening on an AF_UNIX path (unix_path) instead of TCP: removed at stop. */
    char *unix_path;
    dev_t unix_dev;
    ino_t unix_ino;
    pthread_t feeder;
    bool feeder_started;
    atomic_bool stopping;
    atomic_int inflight;
    pthread_mutex_t mu;        /* guards cache */
    struct cache cache;
};

enum route_id {
    R_HEALTHZ, R_READYZ, R_VERSION, R_SELF, R_DEPLOYMENTS, R_DEPLOYMENT, R_EVENTS, R_LOGS,
    R_JOBS, R_JOB, R_RETRY, R_EXEC_LOGS, R_CUT_STATUS, R_CUT_START, R_CUT_EVENTS,
    R_SOV_STATUS, R_ORGS, R_CUT_PREFLIGHT
};

struct route {
    const char *pattern;       /* '*' matches one non-empty segment */
    enum route_id id;
    bool post;                 /* else GET/HEAD */
    bool public_;              /* WIRE §1.3: never needs a token */
};

static const struct route routes[] = {
    {"/healthz", R_HEALTHZ, false, true},
    {"/readyz", R_READYZ, false, true},
    {"/api/v1/version", R_VERSION, false, true},
    {"/api/v1/sovereign/self", R_SELF, false, true},
    {"/api/v1/deployments", R_DEPLOYMENTS, false, false},
    {"/api/v1/deployments/*", R_DEPLOYMENT, false, false},
    {"/api/v1/deployments/*/events", R_EVENTS, false, false},
    {"/api/v1/deployments/*/logs", R_LOGS, false, false},
    {"/api/v1/deployments/*/jobs", R_JOBS, false, false},
    {"/api/v1/deployments/*/jobs/*", R_JOB, false, false},
    {"/api/v1/deployments/*/jobs/*/retry", R_RETRY, true, false},
    {"/api/v1/actions/executions/*/logs", R_EXEC_LOGS, false, false},
    {"/api/v1/sovereign/cutover/status", R_CUT_STATUS, false, false},
    {"/api/v1/sovereign/cutover/start", R_CUT_START, true, false},
    {"/api/v1/sovereign/cutover/events", R_CUT_EVENTS, false, false},
    {"/api/v1/sovereign/cutover/preflight", R_CUT_PREFLIGHT, false, false},
    {"/api/v1/sovereign/status", R_SOV_STATUS, false, false},
    {"/api/v1/organizations", R_ORGS, false, false},
};

/* A cutover start's body ({"force":true}) is kept up to this many bytes. */
#define START_BODY_MAX 1024

/* Per-request state, from the first call of the access handler to completion. */
struct req {
    char head[START_BODY_MAX]; /* the body's first bytes (only the cutover start reads them) */
    size_t body;               /* bytes of request body seen (and dropped) */
    bool too_large;
    bool answered;
};

/* ---------------------------------------------------------------- helpers */

static char empty_body[1]; /* never written: libmicrohttpd wants a non-const pointer */

void server_etag(const char *body, size_t len, char *out, size_t n)
{
    /* Two independent 64-bit hashes and the length: strong enough for caching. */
    uint64_t h1 = 1469598103934665603ULL, h2 = 0x9e3779b97f4a7c15ULL ^ len;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)body[i];
        h1 = (h1 ^ c) * 1099511628211ULL;
        h2 = (h2 + c) * 0xff51afd7ed558ccdULL;
        h2 ^= h2 >> 29;
    }
    snprintf(out, n, "\"%016llx%016llx\"", (unsigned long long)h1, (unsigned long long)h2);
}

/* If-None-Match holds our tag (weak comparison, as RFC 9110 says for this header). */
static bool etag_matches(struct MHD_Connection *c, const char *etag)
{
    const char *inm = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                  MHD_HTTP_HEADER_IF_NONE_MATCH);
    if (!inm)
        return false;
    size_t el = strlen(etag);
    const char *p = inm;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (!*p)
            break;
        const char *q = p;
        while (*q && *q != ',')
            q++;
        const char *end = q;
        while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
            end--;
        const char *t = p;
        if (end - t >= 2 && t[0] == 'W' && t[1] == '/')
            t += 2;
        if ((end - t == 1 && *t == '*') || ((size_t)(end - t) == el && memcmp(t, etag, el) == 0))
            return true;
        p = q;
    }
    return false;
}

static enum MHD_Result queue(struct MHD_Connection *c, unsigned status, struct MHD_Response *r)
{
    if (!r)
        return MHD_NO;
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

/* A response owning body (from sb_take), with Content-Type. */
static struct MHD_Response *make_response(char *body, size_t len, const char *ctype)
{
    struct MHD_Response *r = body ? MHD_create_response_from_buffer(len, body,
                                                                    MHD_RESPMEM_MUST_FREE)
                                  : MHD_create_response_from_buffer(0, empty_body,
                                                                    MHD_RESPMEM_PERSISTENT);
    if (!r) {
        free(body);
        return NULL;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    return r;
}

static enum MHD_Result reply_sb(struct MHD_Connection *c, unsigned status, struct strbuf *sb,
                                const char *ctype)
{
    if (sb->oom) {
        sb_fini(sb);
        return MHD_NO;
    }
    size_t len = sb->len;
    return queue(c, status, make_response(sb_take(sb), len, ctype));
}

static enum MHD_Result reply_error(struct MHD_Connection *c, unsigned status, const char *code,
                                   const char *detail)
{
    struct strbuf sb;
    sb_init(&sb);
    wire_encode_error(&sb, code, detail);
    return reply_sb(c, status, &sb, "application/json");
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned status, const char *text)
{
    struct strbuf sb;
    sb_init(&sb);
    sb_puts(&sb, text);
    return reply_sb(c, status, &sb, "text/plain; charset=utf-8");
}

static enum MHD_Result reply_304(struct MHD_Connection *c, const char *etag)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(0, empty_body,
                                                             MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, etag);
    return queue(c, MHD_HTTP_NOT_MODIFIED, r);
}

/* 200 JSON with an ETag, or 304 when the client already has it. */
static enum MHD_Result reply_json_etag(struct MHD_Connection *c, struct strbuf *sb)
{
    if (sb->oom || !sb->buf) {
        sb_fini(sb);
        return reply_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out-of-memory", NULL);
    }
    char etag[48];
    server_etag(sb->buf, sb->len, etag, sizeof(etag));
    if (etag_matches(c, etag)) {
        sb_fini(sb);
        return reply_304(c, etag);
    }
    size_t len = sb->len;
    struct MHD_Response *r = make_response(sb_take(sb), len, "application/json");
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, etag);
    return queue(c, MHD_HTTP_OK, r);
}

/*
 * The deployment object without the encoder's trailing newline (for
 * embedding), numEvents being what our event log buffers (WIRE §4.1).
 */
static void put_deployment(struct strbuf *sb, const struct deployment *dep, size_t n_events)
{
    struct deployment d = *dep;
    d.num_events = (int64_t)n_events;
    size_t at = sb->len;
    wire_encode_deployment(sb, &d);
    if (!sb->oom && sb->len > at && sb->buf[sb->len - 1] == '\n')
        sb->buf[--sb->len] = '\0';
}

/* ------------------------------------------------------------- jobs views */

static bool hidden_in_default_view(const struct job *j)
{
    return !j->is_group &&
           (j->kind == KIND_INSTALL || j->kind == KIND_RECONCILE || j->kind == KIND_RECONCILER);
}

static int rank_status(enum job_status s)
{
    switch (s) {
    case JOB_FAILED: case JOB_FAILING: return 3;
    case JOB_RUNNING: case JOB_DEGRADED: return 2;
    case JOB_PENDING: return 1;
    default: return 0;
    }
}

static int32_t parent_index(const struct snapshot *s, size_t i)
{
    if (s->parent)
        return s->parent[i];
    const char *p = s->jobs[i].parent_id;
    return (p && *p) ? snapshot_find_job(s, p) : -1;
}

/*
 * WIRE §3.3 finite-work view: drop install/reconcile/reconciler leaves, prune
 * groups left without surviving descendants, recompute childIds and rollups.
 * rows is a copy of s->jobs that this rewrites; keep[] says what survives.
 */
static int default_view(const struct snapshot *s, struct job *rows, bool *keep,
                        const char ***kids_out)
{
    size_t n = s->n_jobs;
    int32_t *par = malloc((n ? n : 1) * sizeof(*par));
    int *depth = calloc(n ? n : 1, sizeof(*depth));
    size_t *nkids = calloc(n ? n : 1, sizeof(*nkids));
    const char **kids = malloc((n ? n : 1) * sizeof(*kids));
    size_t *off = calloc(n + 1, sizeof(*off));
    if (!par || !depth || !nkids || !kids || !off) {
        free(par), free(depth), free(nkids), free(kids), free(off);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        par[i] = parent_index(s, i);
        keep[i] = !rows[i].is_group && !hidden_in_default_view(&rows[i]);
    }
    int max_depth = 0;
    for (size_t i = 0; i < n; i++) {
        int d = 0;
        for (int32_t p = par[i]; p >= 0 && (size_t)d < n; p = par[p])
            d++;
        depth[i] = d;
        if (d > max_depth)
            max_depth = d;
    }
    /* A group survives when any kept leaf descends from it. */
    for (size_t i = 0; i < n; i++) {
        if (!keep[i] || rows[i].is_group)
            continue;
        size_t hops = 0;
        for (int32_t p = par[i]; p >= 0 && !keep[p] && hops < n; p = par[p], hops++)
            keep[p] = true;
    }
    for (size_t i = 0; i < n; i++)
        if (keep[i] && par[i] >= 0 && keep[par[i]])
            nkids[par[i]]++;
    for (size_t i = 0; i < n; i++)
        off[i + 1] = off[i] + nkids[i];
    memset(nkids, 0, n * sizeof(*nkids));
    for (size_t i = 0; i < n; i++)
        if (keep[i] && par[i] >= 0 && keep[par[i]]) {
            size_t g = (size_t)par[i];
            kids[off[g] + nkids[g]++] = rows[i].id;
        }
    /* Roll groups up from their surviving direct children, deepest first. */
    for (int d = max_depth; d >= 0; d--) {
        for (size_t g = 0; g < n; g++) {
            if (!keep[g] || !rows[g].is_group || depth[g] != d)
                continue;
            rows[g].child_ids = &kids[off[g]];
            rows[g].n_child_ids = nkids[g];
            int worst = -1;
            bool all_done = nkids[g] > 0;
            int64_t start = 0, fin = 0;
            for (size_t i = 0; i < n; i++) {
                if (!keep[i] || par[i] != (int32_t)g)
                    continue;
                const struct job *k = &rows[i];
                int r = rank_status(k->status);
                if (r > worst)
                    worst = r;
                if (k->started_at && (!start || k->started_at < start))
                    start = k->started_at;
                if (!job_status_terminal(k->status) || !k->finished_at)
                    all_done = false;
                else if (k->finished_at > fin)
                    fin = k->finished_at;
            }
            rows[g].status = worst == 3   ? JOB_FAILED
                             : worst == 2 ? JOB_RUNNING
                             : worst == 0 ? JOB_SUCCEEDED
                                          : JOB_PENDING;
            rows[g].started_at = start;
            rows[g].finished_at = all_done ? fin : 0;
            rows[g].duration_ms = (all_done && start) ? fin - start : 0;
        }
    }
    free(par), free(depth), free(nkids), free(off);
    *kids_out = kids;
    return 0;
}

/* status_filter: -1 none, else enum job_status. */
static void encode_jobs_view(const struct snapshot *s, bool full, int status_filter,
                             struct strbuf *sb)
{
    size_t n = s->n_jobs;
    struct job *rows = malloc((n ? n : 1) * sizeof(*rows));
    bool *keep = malloc((n ? n : 1) * sizeof(*keep));
    const struct job **sel = malloc((n ? n : 1) * sizeof(*sel));
    struct job *out = malloc((n ? n : 1) * sizeof(*out));
    const char **kids = NULL;
    if (!rows || !keep || !sel || !out) {
        sb->oom = true;
        goto done;
    }
    if (n)
        memcpy(rows, s->jobs, n * sizeof(*rows));
    if (full) {
        for (size_t i = 0; i < n; i++)
            keep[i] = true;
    } else if (default_view(s, rows, keep, &kids) < 0) {
        sb->oom = true;
        goto done;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (keep[i] && (status_filter < 0 || (int)rows[i].status == status_filter))
            sel[m++] = &rows[i];
    qsort(sel, m, sizeof(*sel), wire_job_order);
    for (size_t i = 0; i < m; i++)
        out[i] = *sel[i];
    wire_encode_jobs(sb, out, m);
done:
    free(rows), free(keep), free(sel), free(out), free(kids);
}

/* ------------------------------------------------------------ cached GETs */

static void encode_sov_status(const struct snapshot *s, struct strbuf *sb)
{
    struct sovereign_status st = s->sov_status;
    if (!st.available) {
        /* Our numbers: an install job is a HelmRelease; say three pods each. */
        memset(&st, 0, sizeof(st));
        for (size_t i = 0; i < s->n_jobs; i++) {
            const struct job *j = &s->jobs[i];
            if (j->is_group || j->kind != KIND_INSTALL)
                continue;
            st.helm_releases_total++;
            if (j->status == JOB_SUCCEEDED)
                st.helm_releases_ready++;
        }
        st.pods_total = 3 * st.helm_releases_total;
        st.pods_running = 3 * st.helm_releases_ready;
        for (size_t i = 0; i < s->n_jobs; i++)
            if (!s->jobs[i].is_group && s->jobs[i].kind == KIND_INSTALL &&
                s->jobs[i].status == JOB_RUNNING)
                st.pods_running++;
    }
    sb_printf(sb,
              "{\"helmReleasesReady\":%d,\"helmReleasesTotal\":%d,\"podsRunning\":%d,"
              "\"podsTotal\":%d,\"certExpirySoonCount\":%d}\n",
              st.helm_releases_ready, st.helm_releases_total, st.pods_running, st.pods_total,
              st.cert_expiry_soon_count);
}

static void encode_slot(const struct snapshot *s, int slot, size_t n_events, struct strbuf *sb)
{
    switch (slot) {
    case SLOT_DEPLOYMENTS:
        sb_puts(sb, "{\"deployments\":[");
        if (s->has_deployment)
            put_deployment(sb, &s->deployment, n_events);
        sb_puts(sb, "]}\n");
        break;
    case SLOT_DEPLOYMENT:
        put_deployment(sb, &s->deployment, n_events);
        sb_putc(sb, '\n');
        break;
    case SLOT_CUTOVER: wire_encode_cutover_status(sb, &s->cutover); break;
    case SLOT_SOV_STATUS: encode_sov_status(s, sb); break;
    case SLOT_ORGS:
        wire_encode_organizations(sb, s->orgs, s->n_orgs, s->blueprints, s->n_blueprints);
        break;
    default: {
        int v = slot - SLOT_JOBS;
        encode_jobs_view(s, v / 5 != 0, v % 5 - 1, sb);
        break;
    }
    }
}

static void cache_reset(struct cache *c, uint64_t gen)
{
    for (int i = 0; i < SLOT_COUNT; i++) {
        if (c->resp[i])
            MHD_destroy_response(c->resp[i]); /* queued copies keep their own reference */
        c->resp[i] = NULL;
        c->etag[i][0] = '\0';
    }
    c->gen = gen;
    c->valid = true;
}

static struct MHD_Response *body_response(const struct snapshot *s, int slot, size_t n_events,
                                          char *etag, size_t etag_n)
{
    struct strbuf sb;
    sb_init(&sb);
    encode_slot(s, slot, n_events, &sb);
    if (sb.oom || !sb.buf) {
        sb_fini(&sb);
        return NULL;
    }
    server_etag(sb.buf, sb.len, etag, etag_n);
    size_t len = sb.len;
    struct MHD_Response *r = make_response(sb_take(&sb), len, "application/json");
    if (r)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, etag);
    return r;
}

/*
 * Serves a cacheable body: encoded once per snapshot generation and queued to
 * every request of that generation (libmicrohttpd responses are refcounted).
 */
static enum MHD_Result reply_cached(struct server *srv, struct MHD_Connection *c,
                                    const struct snapshot *s, int slot)
{
    enum MHD_Result ret;
    bool dep_slot = slot == SLOT_DEPLOYMENT || slot == SLOT_DEPLOYMENTS;
    uint64_t evseq = dep_slot ? events_deploy_next(srv->ev) : 0;
    size_t n_events = dep_slot ? events_deploy_count(srv->ev) : 0;
    pthread_mutex_lock(&srv->mu);
    struct cache *k = &srv->cache;
    if (!k->valid || s->generation > k->gen)
        cache_reset(k, s->generation);
    if (s->generation < k->gen) {
        /* An older snapshot than the cache: serve it uncached. */
        pthread_mutex_unlock(&srv->mu);
        char etag[48];
        struct MHD_Response *r = body_response(s, slot, n_events, etag, sizeof(etag));
        if (!r)
            return reply_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out-of-memory", NULL);
        if (etag_matches(c, etag)) {
            MHD_destroy_response(r);
            return reply_304(c, etag);
        }
        return queue(c, MHD_HTTP_OK, r);
    }
    if (k->resp[slot] && k->evseq[slot] != evseq) {
        /* The event log grew: numEvents changed though the snapshot did not. */
        MHD_destroy_response(k->resp[slot]);
        k->resp[slot] = NULL;
    }
    if (!k->resp[slot]) {
        k->resp[slot] = body_response(s, slot, n_events, k->etag[slot], sizeof(k->etag[slot]));
        k->evseq[slot] = evseq;
    }
    if (!k->resp[slot]) {
        pthread_mutex_unlock(&srv->mu);
        return reply_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out-of-memory", NULL);
    }
    if (etag_matches(c, k->etag[slot])) {
        char etag[48];
        memcpy(etag, k->etag[slot], sizeof(etag));
        pthread_mutex_unlock(&srv->mu);
        return reply_304(c, etag);
    }
    ret = MHD_queue_response(c, MHD_HTTP_OK, k->resp[slot]);
    pthread_mutex_unlock(&srv->mu);
    return ret;
}

/* ---------------------------------------------------------------- SSE */

enum sse_kind { SSE_LOGS, SSE_CUTOVER };

struct sse {
    struct server *srv;
    enum sse_kind kind;
    uint64_t dcur, ccur;
    struct strbuf out;
    size_t off;
    bool replayed;             /* cutover: replay and status frame written */
    bool final;                /* close once out is flushed */
    int fd;
};

static bool peer_gone(int fd)
{
    if (fd < 0)
        return false;
    char b;
    ssize_t r = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    if (r == 0)
        return true;
    return r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
}

static void sse_fill_logs(struct sse *x)
{
    struct events *ev = x->srv->ev;
    bool done = events_deploy_done(ev);
    if (events_deploy_frames(ev, &x->dcur, &x->out) || !done)
        return;
    /* Everything up to the terminal status went out: `done` with the state, then close. */
    struct snapshot *s = source_snapshot(x->srv->src);
    sb_puts(&x->out, "event: done\ndata: ");
    if (s && s->has_deployment)
        put_deployment(&x->out, &s->deployment, events_deploy_count(ev));
    else
        sb_puts(&x->out, "{}");
    sb_puts(&x->out, "\n\n");
    snapshot_release(s);
    x->final = true;
}

static void sse_fill_cutover(struct sse *x)
{
    struct events *ev = x->srv->ev;
    bool closing = false;
    if (!x->replayed) {
        /* Replay the whole ring (closing frames included), then one status frame. */
        while (events_cutover_frames(ev, &x->ccur, &x->out, &closing))
            ;
        struct snapshot *s = source_snapshot(x->srv->src);
        if (s) {
            events_cutover_status_frame(&s->cutover, time_now_ms(), &x->out);
            /* A sovereign Sovereign has nothing more to say. */
            x->final = s->cutover.complete && !s->cutover.running;
        }
        snapshot_release(s);
        x->replayed = true;
        return;
    }
    events_cutover_frames(ev, &x->ccur, &x->out, &closing);
    if (closing)
        x->final = true;
}

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    struct sse *x = cls;
    for (;;) {
        if (x->off < x->out.len) {
            size_t n = x->out.len - x->off;
            if (n > max)
                n = max;
            memcpy(buf, x->out.buf + x->off, n);
            x->off += n;
            return (ssize_t)n;
        }
        sb_reset(&x->out);
        x->off = 0;
        if (x->final || atomic_load(&x->srv->stopping) || events_is_shutdown(x->srv->ev))
            return MHD_CONTENT_READER_END_OF_STREAM;
        if (x->kind == SSE_LOGS)
            sse_fill_logs(x);
        else
            sse_fill_cutover(x);
        if (x->out.oom)
            return MHD_CONTENT_READER_END_WITH_ERROR;
        if (x->out.len || x->final)
            continue;
        /* Nothing new: sleep on the event log; wake each second to see if the peer left. */
        if (!events_wait(x->srv->ev, x->kind == SSE_LOGS ? x->dcur : UINT64_MAX,
                         x->kind == SSE_CUTOVER ? x->ccur : UINT64_MAX, 1000) &&
            peer_gone(x->fd))
            return MHD_CONTENT_READER_END_WITH_ERROR;
    }
}

static void sse_free(void *cls)
{
    struct sse *x = cls;
    sb_fini(&x->out);
    free(x);
}

static enum MHD_Result reply_sse(struct server *srv, struct MHD_Connection *c, enum sse_kind k)
{
    struct sse *x = calloc(1, sizeof(*x));
    if (!x)
        return MHD_NO;
    x->srv = srv;
    x->kind = k;
    sb_init(&x->out);
    x->dcur = events_deploy_first(srv->ev);
    x->ccur = events_cutover_first(srv->ev);
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    x->fd = ci ? ci->connect_fd : -1;
    struct MHD_Response *r =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, SSE_BLOCK, sse_read, x, sse_free);
    if (!r) {
        sse_free(x);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    MHD_add_response_header(r, "X-Accel-Buffering", "no");
    /* Connection: libmicrohttpd owns it (keep-alive is HTTP/1.1's default). */
    /* A stream may stay quiet for long: no idle timeout for it. */
    MHD_set_connection_option(c, MHD_CONNECTION_OPTION_TIMEOUT, 0u);
    return queue(c, MHD_HTTP_OK, r);
}

/* ------------------------------------------------------------- handlers */

static bool deployment_known(const struct snapshot *s, const char *id)
{
    return s->has_deployment && strcmp(s->deployment.id, id) == 0;
}

/* Unset or unparsable => dflt (as upstream's strconv fallback); the engine clamps. */
static int64_t query_int(struct MHD_Connection *c, const char *key, int64_t dflt)
{
    const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, key);
    if (!v || !*v)
        return dflt;
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || *end)
        return dflt;
    return x;
}

static enum MHD_Result h_jobs(struct server *srv, struct MHD_Connection *c,
                              const struct snapshot *s)
{
    const char *inv = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "inventory");
    const char *st = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "status");
    bool full = inv && strcasecmp(inv, "full") == 0;
    int filter = -1;
    if (st && *st) {
        static const char *const ok[] = {"pending", "running", "succeeded", "failed"};
        for (int i = 0; i < 4; i++)
            if (strcmp(st, ok[i]) == 0)
                filter = i;
        if (filter < 0) {
            char detail[PARAM_MAX + 96];
            struct strbuf q;
            sb_init(&q);
            sb_json_str(&q, st); /* Go's %q quoting, close enough and never raw */
            snprintf(detail, sizeof(detail),
                     "status %.*s must be one of pending / running / succeeded / failed",
                     PARAM_MAX, q.buf ? q.buf : "\"\"");
            sb_fini(&q);
            return reply_error(c, MHD_HTTP_BAD_REQUEST, "invalid-status", detail);
        }
    }
    /* JOB_PENDING..JOB_FAILED are 0..3, matching ok[] above. */
    return reply_cached(srv, c, s, SLOT_JOBS + (full ? 5 : 0) + filter + 1);
}

static enum MHD_Result h_job(struct MHD_Connection *c, const struct snapshot *s,
                             const char *job_key)
{
    int32_t i = snapshot_find_job(s, job_key);
    if (i < 0)
        return reply_error(c, MHD_HTTP_NOT_FOUND, "job-not-found", NULL);
    size_t cap = s->n_executions ? s->n_executions : 1;
    const struct execution **ex = malloc(cap * sizeof(*ex));
    if (!ex)
        return MHD_NO;
    size_t n = s->jobs[i].is_group ? 0 : snapshot_job_executions(s, i, ex, cap);
    struct strbuf sb;
    sb_init(&sb);
    wire_encode_job_detail(&sb, &s->jobs[i], ex, n);
    free(ex);
    return reply_json_etag(c, &sb);
}

static enum MHD_Result reply_engine_error(struct MHD_Connection *c,
                                          const struct engine_result *r)
{
    unsigned status = (r->code >= 400 && r->code <= 599) ? (unsigned)r->code : 500;
    return reply_error(c, status, r->error[0] ? r->error : "internal-error",
                       r->detail[0] ? r->detail : NULL);
}

static enum MHD_Result h_retry(struct server *srv, struct MHD_Connection *c,
                               const struct snapshot *s, const char *job_key)
{
    struct engine_result r;
    memset(&r, 0, sizeof(r));
    engine_retry(srv->e, job_key, "catalyst-tui", &r);
    if (r.code != 200)
        return reply_engine_error(c, &r);
    source_refresh(srv->src);
    int32_t i = snapshot_find_job(s, job_key);
    const char *id = i >= 0 ? s->jobs[i].id : job_key;
    enum job_kind kind = i >= 0 ? s->jobs[i].kind : job_kind_from_name(job_key, false);
    char tb[40];
    struct strbuf sb;
    sb_init(&sb);
    sb_puts(&sb, "{\"id\":");
    sb_json_str(&sb, id);
    sb_puts(&sb, ",\"kind\":");
    sb_json_str(&sb, job_kind_name(kind));
    sb_puts(&sb, ",\"action\":");
    if (r.detail[0]) {
        sb_json_str(&sb, r.detail);
    } else {
        char act[PARAM_MAX + 16];
        snprintf(act, sizeof(act), "re-ran job %s", i >= 0 ? s->jobs[i].job_name : job_key);
        sb_json_str(&sb, act);
    }
    sb_puts(&sb, ",\"executionId\":");
    sb_json_str(&sb, r.execution_id);
    sb_puts(&sb, ",\"requestedAt\":");
    sb_json_str(&sb, time_format(r.requested_at ? r.requested_at : time_now_ms(), tb,
                                 sizeof(tb)));
    sb_puts(&sb, ",\"requestedBy\":\"catalyst-tui\"}\n");
    return reply_sb(c, MHD_HTTP_OK, &sb, "application/json");
}

/* The checklist as [{"id","name","title","ok","detail"}] ("name" = "id", WIRE §11). */
static void put_checks(struct strbuf *sb, const struct preflight *p)
{
    sb_puts(sb, "[");
    for (size_t k = 0; k < p->n_checks; k++) {
        const struct preflight_check *c = &p->checks[k];
        sb_puts(sb, k ? ",{\"id\":" : "{\"id\":");
        sb_json_str(sb, c->id);
        sb_puts(sb, ",\"name\":");
        sb_json_str(sb, c->id);
        sb_puts(sb, ",\"title\":");
        sb_json_str(sb, c->title);
        sb_puts(sb, c->ok ? ",\"ok\":true,\"detail\":" : ",\"ok\":false,\"detail\":");
        sb_json_str(sb, c->detail);
        sb_puts(sb, "}");
    }
    sb_puts(sb, "]");
}

/* GET .../cutover/preflight: {"ready":bool,"checks":[...]} of the current snapshot. */
static enum MHD_Result h_cutover_preflight(struct MHD_Connection *c, const struct snapshot *s)
{
    struct preflight pf;
    preflight_compute(s, &pf);
    struct strbuf sb;
    sb_init(&sb);
    sb_puts(&sb, pf.ready ? "{\"ready\":true,\"checks\":" : "{\"ready\":false,\"checks\":");
    put_checks(&sb, &pf);
    sb_puts(&sb, "}\n");
    return reply_json_etag(c, &sb);
}

/*
 * The start's body: empty (upstream's UI sends "{}"), or a JSON object whose
 * optional "force" is a boolean. Anything else is refused rather than guessed
 * at: an override of the preflight must be meant. 0, or -1 with *why.
 */
static int start_force(const char *body, size_t len, size_t seen, bool *force, const char **why)
{
    *force = false;
    if (seen > len) {
        *why = "a cutover start body is at most 1 KiB: {} or {\"force\":true}";
        return -1;
    }
    size_t k = 0;
    while (k < len && (body[k] == ' ' || body[k] == '\t' || body[k] == '\r' || body[k] == '\n'))
        k++;
    if (k == len)
        return 0;
    cJSON *root = cJSON_ParseWithLength(body, len);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        *why = "the body must be a JSON object: {} or {\"force\":true}";
        return -1;
    }
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(root, "force");
    int rc = 0;
    if (f && !cJSON_IsBool(f)) {
        *why = "\"force\" must be true or false";
        rc = -1;
    } else {
        *force = f && cJSON_IsTrue(f);
    }
    cJSON_Delete(root);
    return rc;
}

static enum MHD_Result h_cutover_start(struct server *srv, struct MHD_Connection *c,
                                       const struct snapshot *s, const struct req *rq)
{
    bool was_complete = s->cutover.complete;
    bool force;
    const char *why = "";
    size_t kept = rq->body < sizeof(rq->head) ? rq->body : sizeof(rq->head);
    if (start_force(rq->head, kept, rq->body, &force, &why) != 0)
        return reply_error(c, MHD_HTTP_BAD_REQUEST, "invalid-body", why);
    struct engine_result r;
    memset(&r, 0, sizeof(r));
    engine_cutover_start(srv->e, force, &r);
    if (r.code == 425) {
        /* Too Early, with the checklist so a client can show what is missing. */
        struct strbuf sb;
        sb_init(&sb);
        sb_puts(&sb, "{\"error\":\"handover-incomplete\",\"detail\":");
        sb_json_str(&sb, r.detail);
        sb_puts(&sb, ",\"checks\":");
        put_checks(&sb, &r.preflight);
        sb_puts(&sb, "}\n");
        return reply_sb(c, 425, &sb, "application/json");
    }
    if (r.code != 200)
        return reply_engine_error(c, &r);
    if (was_complete)
        events_cutover_note(srv->ev, time_now_ms(), "cutover-already-complete", "info",
                            "Self-Sovereignty Cutover already complete: nothing re-runs");
    source_refresh(srv->src);
    /* Answer with the status re-read right after the start, like upstream. */
    struct snapshot *fresh = snapshot_new();
    struct strbuf sb;
    sb_init(&sb);
    if (fresh && engine_fill_snapshot(srv->e, fresh, NULL) == 0)
        wire_encode_cutover_status(&sb, &fresh->cutover);
    else
        wire_encode_cutover_status(&sb, &s->cutover);
    snapshot_release(fresh);
    return reply_sb(c, MHD_HTTP_OK, &sb, "application/json");
}

static enum MHD_Result h_exec_logs(struct server *srv, struct MHD_Connection *c,
                                   const char *exec_id)
{
    /* WIRE §3.6: fromLine <= 0 => 1; limit <= 0 => 500; > 5000 => 5000. */
    int64_t from = query_int(c, "fromLine", 1);
    int64_t limit = query_int(c, "limit", 500);
    if (from <= 0)
        from = 1;
    if (limit <= 0)
        limit = 500;
    if (limit > 5000)
        limit = 5000;
    struct arena *a = arena_new();
    if (!a)
        return MHD_NO;
    struct log_page page;
    memset(&page, 0, sizeof(page));
    int rc = engine_log_page(srv->e, exec_id, from, limit, a, &page);
    enum MHD_Result ret;
    if (rc == 0) {
        struct strbuf sb;
        sb_init(&sb);
        wire_encode_log_page(&sb, &page);
        ret = reply_json_etag(c, &sb);
    } else if (rc == 404) {
        ret = reply_error(c, MHD_HTTP_NOT_FOUND, "execution-not-found", NULL);
    } else {
        ret = reply_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "log-read-failed", NULL);
    }
    arena_free(a);
    return ret;
}

static enum MHD_Result h_events(struct server *srv, struct MHD_Connection *c,
                                const struct snapshot *s)
{
    struct strbuf sb;
    sb_init(&sb);
    bool done = events_deploy_done(srv->ev);
    struct strbuf evs;
    sb_init(&evs);
    size_t n = events_deploy_json(srv->ev, &evs);
    sb_puts(&sb, "{\"state\":");
    put_deployment(&sb, &s->deployment, n);
    sb_puts(&sb, ",\"events\":");
    if (evs.buf)
        sb_append(&sb, evs.buf, evs.len);
    sb_fini(&evs);
    sb_puts(&sb, done ? ",\"done\":true}\n" : ",\"done\":false}\n");
    return reply_json_etag(c, &sb);
}

static enum MHD_Result h_simple_json(struct MHD_Connection *c, struct strbuf *sb)
{
    return reply_json_etag(c, sb);
}

/* ------------------------------------------------------------- dispatch */

/* Matches url against pattern, copying '*' segments into p0/p1. */
static bool route_match(const char *pat, const char *url, char p[2][PARAM_MAX])
{
    int np = 0;
    while (*pat && *url) {
        if (*pat != '/' || *url != '/')
            return false;
        pat++, url++;
        const char *pe = strchr(pat, '/'), *ue = strchr(url, '/');
        size_t pl = pe ? (size_t)(pe - pat) : strlen(pat);
        size_t ul = ue ? (size_t)(ue - url) : strlen(url);
        if (pl == 1 && *pat == '*') {
            if (ul == 0 || ul >= PARAM_MAX || np >= 2)
                return false;
            memcpy(p[np], url, ul);
            p[np][ul] = '\0';
            np++;
        } else if (pl != ul || memcmp(pat, url, pl) != 0) {
            return false;
        }
        pat += pl, url += ul;
    }
    return !*pat && !*url;
}

static bool token_ok(const struct server *srv, const char *got)
{
    if (!got)
        return false;
    size_t gl = strlen(got);
    /* Constant time in the secret: every byte of it is compared. */
    unsigned char diff = gl != srv->token_len;
    for (size_t i = 0; i < srv->token_len; i++)
        diff |= (unsigned char)srv->token[i] ^ (unsigned char)(i < gl ? got[i] : 0);
    return diff == 0;
}

static bool authorized(const struct server *srv, struct MHD_Connection *c, bool is_get)
{
    if (!srv->token)
        return true;
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                MHD_HTTP_HEADER_AUTHORIZATION);
    if (h && strncasecmp(h, "Bearer ", 7) == 0) {
        h += 7;
        while (*h == ' ')
            h++;
        return token_ok(srv, h);
    }
    /* EventSource clients cannot set headers (WIRE §1.3); a mutation must use the header,
     * so a token in a URL (logs, history, Referer) never authorises a change. */
    if (!is_get)
        return false;
    const char *q = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "access_token");
    return q && token_ok(srv, q);
}

static enum MHD_Result reply_allow(struct MHD_Connection *c, unsigned status, bool post)
{
    struct strbuf sb;
    sb_init(&sb);
    if (status != MHD_HTTP_NO_CONTENT)
        wire_encode_error(&sb, "method-not-allowed", post ? "use POST" : "use GET");
    size_t len = sb.len;
    struct MHD_Response *r = make_response(sb_take(&sb), len, "application/json");
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, post ? "POST, OPTIONS"
                                                          : "GET, HEAD, OPTIONS");
    return queue(c, status, r);
}

static enum MHD_Result dispatch(struct server *srv, struct MHD_Connection *c, const char *url,
                                const char *method, const struct req *rq)
{
    char p[2][PARAM_MAX];
    const struct route *rt = NULL;
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]) && !rt; i++)
        if (route_match(routes[i].pattern, url, p))
            rt = &routes[i];
    if (!rt)
        return reply_error(c, MHD_HTTP_NOT_FOUND, "not-found", NULL);
    if (strcmp(method, "OPTIONS") == 0)
        return reply_allow(c, MHD_HTTP_NO_CONTENT, rt->post);
    bool is_get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    bool is_post = strcmp(method, "POST") == 0;
    if (!rt->public_ && !authorized(srv, c, is_get))
        return reply_error(c, MHD_HTTP_UNAUTHORIZED, "unauthenticated", NULL);
    if (rt->post ? !is_post : !is_get)
        return reply_allow(c, MHD_HTTP_METHOD_NOT_ALLOWED, rt->post);
    if (rt->post && srv->o.read_only)
        return reply_error(c, MHD_HTTP_FORBIDDEN, "read-only",
                           "this server runs --read-only");

    struct strbuf sb;
    sb_init(&sb);
    switch (rt->id) {
    case R_HEALTHZ:
        return reply_text(c, MHD_HTTP_OK, "ok");
    case R_VERSION:
        sb_puts(&sb, "{\"service\":\"catalyst-tui\",\"version\":");
        sb_json_str(&sb, CATALYST_TUI_VERSION);
        sb_puts(&sb, "}\n");
        return h_simple_json(c, &sb);
    default:
        break;
    }

    struct snapshot *s = source_snapshot(srv->src);
    enum MHD_Result ret;
    if (!s) {
        if (rt->id == R_READYZ)
            return reply_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, "not ready");
        return reply_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "not-ready",
                           "the core has not published a snapshot yet");
    }
    switch (rt->id) {
    case R_READYZ:
        ret = reply_text(c, MHD_HTTP_OK, "ok");
        break;
    case R_SELF:
        sb_puts(&sb, "{\"deploymentId\":");
        sb_json_str(&sb, s->has_deployment ? s->deployment.id : engine_deployment_id(srv->e));
        sb_puts(&sb, ",\"sovereignFQDN\":");
        sb_json_str(&sb, s->has_deployment ? s->deployment.sovereign_fqdn : "");
        sb_puts(&sb, "}\n");
        ret = h_simple_json(c, &sb);
        break;
    case R_DEPLOYMENTS: ret = reply_cached(srv, c, s, SLOT_DEPLOYMENTS); break;
    case R_CUT_STATUS: ret = reply_cached(srv, c, s, SLOT_CUTOVER); break;
    case R_SOV_STATUS: ret = reply_cached(srv, c, s, SLOT_SOV_STATUS); break;
    case R_ORGS: ret = reply_cached(srv, c, s, SLOT_ORGS); break;
    case R_CUT_START: ret = h_cutover_start(srv, c, s, rq); break;
    case R_CUT_PREFLIGHT: ret = h_cutover_preflight(c, s); break;
    case R_CUT_EVENTS: ret = reply_sse(srv, c, SSE_CUTOVER); break;
    case R_EXEC_LOGS: ret = h_exec_logs(srv, c, p[0]); break;
    default:
        /* Deployment-scoped routes: an unknown id is upstream's plain-text 404. */
        if (!deployment_known(s, p[0])) {
            ret = reply_text(c, MHD_HTTP_NOT_FOUND, "deployment not found\n");
            break;
        }
        switch (rt->id) {
        case R_DEPLOYMENT: ret = reply_cached(srv, c, s, SLOT_DEPLOYMENT); break;
        case R_EVENTS: ret = h_events(srv, c, s); break;
        case R_LOGS: ret = reply_sse(srv, c, SSE_LOGS); break;
        case R_JOBS: ret = h_jobs(srv, c, s); break;
        case R_JOB: ret = h_job(c, s, p[1]); break;
        case R_RETRY: ret = h_retry(srv, c, s, p[1]); break;
        default: ret = reply_error(c, MHD_HTTP_NOT_FOUND, "not-found", NULL); break;
        }
    }
    sb_fini(&sb);
    snapshot_release(s);
    return ret;
}

static enum MHD_Result add_header_size(void *cls, enum MHD_ValueKind kind, const char *key,
                                       const char *value)
{
    (void)kind;
    *(size_t *)cls += strlen(key) + (value ? strlen(value) : 0) + 4; /* ": " and CRLF */
    return MHD_YES;
}

/* How the request says its body is framed (every header line, duplicates too). */
struct framing {
    int n_length;              /* Content-Length lines */
    const char *length;        /* the first one */
    bool lengths_differ;
    bool chunked;              /* a Transfer-Encoding line */
};

static enum MHD_Result scan_framing(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
    (void)kind;
    struct framing *f = cls;
    const char *v = value ? value : "";
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
        if (f->n_length++ == 0)
            f->length = v;
        else if (strcmp(f->length, v) != 0)
            f->lengths_differ = true;
    } else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
        f->chunked = true;
    }
    return MHD_YES;
}

/*
 * 400 and the connection closed: with two answers to "where does this body
 * end" a proxy in front of us may pick the other one and smuggle a request.
 */
static enum MHD_Result reply_ambiguous_framing(struct MHD_Connection *c)
{
    struct strbuf sb;
    sb_init(&sb);
    wire_encode_error(&sb, "bad-request", "ambiguous request body length");
    if (sb.oom) {
        sb_fini(&sb);
        return MHD_NO;
    }
    size_t len = sb.len;
    struct MHD_Response *r = make_response(sb_take(&sb), len, "application/json");
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    return queue(c, MHD_HTTP_BAD_REQUEST, r);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)version;
    struct server *srv = cls;
    struct req *r = *con_cls;
    if (!r) {
        r = calloc(1, sizeof(*r));
        if (!r)
            return MHD_NO;
        *con_cls = r;
        atomic_fetch_add(&srv->inflight, 1);
        /*
         * libmicrohttpd's pool is twice max_header so that it can still answer;
         * the limit itself is ours, with a JSON body like every other error.
         */
        size_t head = strlen(url) + strlen(method) + 12;
        MHD_get_connection_values(c, MHD_HEADER_KIND, add_header_size, &head);
        if (head > srv->o.max_header) {
            r->answered = true;
            return reply_error(c, MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE,
                               "request-header-too-large", NULL);
        }
        struct framing fr = {0};
        MHD_get_connection_values(c, MHD_HEADER_KIND, scan_framing, &fr);
        if (fr.lengths_differ || (fr.n_length && fr.chunked)) {
            r->answered = true;
            return reply_ambiguous_framing(c);
        }
        /* Refuse a declared oversized body before reading any of it. */
        const char *cl = fr.length;
        if (cl && strtoull(cl, NULL, 10) > srv->o.max_body) {
            r->answered = true;
            return reply_error(c, MHD_HTTP_CONTENT_TOO_LARGE, "request-too-large", NULL);
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        /*
         * Bodies are ignored (WIRE §6.3) but counted, so chunked uploads are bounded too;
         * the first bytes are kept for the cutover start's {"force":true}.
         */
        if (r->body < sizeof(r->head)) {
            size_t room = sizeof(r->head) - r->body;
            size_t k = *upload_data_size < room ? *upload_data_size : room;
            memcpy(r->head + r->body, upload_data, k);
        }
        r->body += *upload_data_size;
        *upload_data_size = 0;
        if (r->body > srv->o.max_body)
            r->too_large = true;
        return MHD_YES;
    }
    if (r->answered)
        return MHD_YES;
    r->answered = true;
    if (r->too_large)
        return reply_error(c, MHD_HTTP_CONTENT_TOO_LARGE, "request-too-large", NULL);
    return dispatch(srv, c, url, method, r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)c;
    (void)toe;
    struct server *srv = cls;
    if (*con_cls) {
        free(*con_cls);
        *con_cls = NULL;
        atomic_fetch_sub(&srv->inflight, 1);
    }
}

/* ------------------------------------------------------------- lifecycle */

static void *feeder_main(void *arg)
{
    struct server *srv = arg;
    uint64_t fed = 0;
    bool any = false;
    while (!atomic_load(&srv->stopping)) {
        struct snapshot *s = source_local_wait(srv->src, fed, 200);
        if (s && (!any || s->generation > fed)) {
            events_feed(srv->ev, s);
            fed = s->generation;
            any = true;
        }
        snapshot_release(s);
    }
    return NULL;
}

static int open_listener(const char *listen_addr, int *port_out, int *family, struct error *err)
{
    char host[256], port[16];
    const char *spec = listen_addr && *listen_addr ? listen_addr : "127.0.0.1:8080";
    const char *colon = strrchr(spec, ':');
    if (!colon || !colon[1] || strlen(colon + 1) >= sizeof(port)) {
        error_set(err, EXIT_USAGE, "--listen %s: expected HOST:PORT", spec);
        return -1;
    }
    size_t hl = (size_t)(colon - spec);
    if (hl >= 2 && spec[0] == '[' && spec[hl - 1] == ']') {
        spec++;
        hl -= 2;
    }
    if (hl >= sizeof(host)) {
        error_set(err, EXIT_USAGE, "--listen: host name too long");
        return -1;
    }
    memcpy(host, spec, hl);
    host[hl] = '\0';
    snprintf(port, sizeof(port), "%s", colon + 1);
    char *end;
    long pv = strtol(port, &end, 10);
    if (*end || pv < 0 || pv > 65535) {
        error_set(err, EXIT_USAGE, "--listen: bad port \"%s\"", port);
        return -1;
    }
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int gai = getaddrinfo(hl ? host : "127.0.0.1", port, &hints, &res);
    if (gai != 0) {
        error_set(err, EXIT_USAGE, "--listen %s: %s", listen_addr ? listen_addr : "",
                  gai_strerror(gai));
        return -1;
    }
    int fd = -1, saved = 0;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            saved = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 512) < 0) {
            saved = errno;
            close(fd);
            fd = -1;
            continue;
        }
        *family = ai->ai_family;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        error_set(err, EXIT_FAILED, "cannot listen on %s: %s", listen_addr ? listen_addr : "",
                  strerror(saved));
        return -1;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    if (ss.ss_family == AF_INET6)
        *port_out = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    else
        *port_out = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

/*
 * An AF_UNIX listener at path, mode 0600 from the moment the path exists: it
 * is bound under a temporary name, restricted, listening, and only then
 * renamed into place (no process-wide umask change, which would race with
 * jobs being spawned). A stale socket left by a crash is replaced; anything
 * else at path is refused. The caller owns the directory (the state dir lock).
 */
static int open_unix_listener(struct server *srv, const char *path, struct error *err)
{
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    char tmp[sizeof(sa.sun_path) + 32];
    int tl = snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid());
    if (tl < 0 || (size_t)tl >= sizeof(sa.sun_path)) {
        error_set(err, EXIT_USAGE, "socket path too long for AF_UNIX (max %zu bytes): %s",
                  sizeof(sa.sun_path) - 20, path);
        return -1;
    }
    struct stat st;
    if (lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode)) {
        error_set(err, EXIT_USAGE, "%s exists and is not a socket; not replaced", path);
        return -1;
    }
    memcpy(sa.sun_path, tmp, (size_t)tl + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        error_set(err, EXIT_FAILED, "socket(AF_UNIX): %s", strerror(errno));
        return -1;
    }
    unlink(tmp);
    int e = 0;
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        e = errno;
    else if (chmod(tmp, 0600) < 0 || listen(fd, 64) < 0 || lstat(tmp, &st) < 0 ||
             rename(tmp, path) < 0)
        e = errno;
    if (e) {
        unlink(tmp);
        close(fd);
        error_set(err, EXIT_FAILED, "cannot listen on %s: %s", path, strerror(e));
        return -1;
    }
    srv->unix_path = strdup(path);
    if (!srv->unix_path) {
        unlink(path);
        close(fd);
        error_set(err, EXIT_FAILED, "out of memory");
        return -1;
    }
    srv->unix_dev = st.st_dev;
    srv->unix_ino = st.st_ino;
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

/* Removes the socket path, unless another process has since put its own there. */
static void remove_unix_path(struct server *srv)
{
    struct stat st;
    if (srv->unix_path && lstat(srv->unix_path, &st) == 0 && st.st_dev == srv->unix_dev &&
        st.st_ino == srv->unix_ino)
        unlink(srv->unix_path);
}

#define TOKEN_MAX (64 * 1024)

/*
 * The engine already runs jobs when the server starts: the secret's fd must
 * be close-on-exec from the moment it exists, or a child spawned meanwhile
 * inherits it (read_file's stdio open is not).
 */
static int read_token_file(const char *path, char **out, size_t *len)
{
    /* Close-on-exec, never blocks on a FIFO, regular files only (util.h). */
    int fd = util_open_regular(path, 0, NULL);
    if (fd < 0)
        return -1;
    char *buf = malloc(TOKEN_MAX + 1);
    size_t n = 0;
    int e = 0;
    while (buf && n <= TOKEN_MAX) {
        ssize_t r = read(fd, buf + n, TOKEN_MAX + 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            e = errno;
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    if (!buf || e || n > TOKEN_MAX) {
        if (buf)
            explicit_bzero(buf, n <= TOKEN_MAX ? n : TOKEN_MAX + 1);
        free(buf);
        errno = !buf ? ENOMEM : e ? e : EFBIG;
        return -1;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

static int load_token(struct server *srv, const char *path, struct error *err)
{
    char *buf = NULL;
    size_t len = 0;
    if (read_token_file(path, &buf, &len) < 0) {
        error_set(err, EXIT_USAGE, "--token-file %s: %s", path,
                  errno == EINVAL ? "not a regular file" : strerror(errno));
        return -1;
    }
    while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' ' ||
                   buf[len - 1] == '\t'))
        buf[--len] = '\0';
    if (!len || memchr(buf, '\0', len)) {
        explicit_bzero(buf, len);
        free(buf);
        error_set(err, EXIT_USAGE, "--token-file %s: empty or not a token", path);
        return -1;
    }
    srv->token = buf;
    srv->token_len = len;
    return 0;
}

static void free_server(struct server *srv)
{
    if (srv->cache.valid)
        cache_reset(&srv->cache, 0);
    events_free(srv->ev);
    if (srv->token) {
        explicit_bzero(srv->token, srv->token_len);
        free(srv->token);
    }
    free(srv->unix_path);
    pthread_mutex_destroy(&srv->mu);
    free(srv);
}

struct server *server_start(struct source *local, struct engine *e,
                            const struct server_options *o, struct error *err)
{
    struct server *srv = calloc(1, sizeof(*srv));
    if (!srv) {
        error_set(err, EXIT_FAILED, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&srv->mu, NULL);
    srv->src = local;
    srv->e = e;
    if (o)
        srv->o = *o;
    srv->o.listen = NULL; /* borrowed only during start */
    if (!srv->o.max_connections)
        srv->o.max_connections = 256;
    if (!srv->o.max_body)
        srv->o.max_body = 64 * 1024;
    if (!srv->o.max_header)
        srv->o.max_header = 16 * 1024;
    if (!srv->o.idle_timeout_s)
        srv->o.idle_timeout_s = 30;
    srv->o.token_file = NULL;
    srv->ev = events_new(0, 0);
    if (!srv->ev) {
        error_set(err, EXIT_FAILED, "out of memory");
        free_server(srv);
        return NULL;
    }
    if (o && o->token_file && load_token(srv, o->token_file, err) < 0) {
        free_server(srv);
        return NULL;
    }
    int family = AF_INET;
    int fd = o && o->unix_path ? open_unix_listener(srv, o->unix_path, err)
                               : open_listener(o ? o->listen : NULL, &srv->port, &family, err);
    if (fd < 0) {
        free_server(srv);
        return NULL;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                     MHD_USE_AUTO | MHD_USE_ITC;
    if (family == AF_INET6)
        flags |= MHD_USE_IPv6;
    /* The pool holds the request head and our response headers: room to refuse politely. */
    size_t pool = 2 * srv->o.max_header + 4096;
    srv->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, srv,
                              MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
                              MHD_OPTION_CONNECTION_LIMIT, srv->o.max_connections,
                              MHD_OPTION_CONNECTION_TIMEOUT, srv->o.idle_timeout_s,
                              MHD_OPTION_CONNECTION_MEMORY_LIMIT, pool,
                              MHD_OPTION_THREAD_STACK_SIZE, (size_t)(1024 * 1024),
                              MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
                              MHD_OPTION_END);
    if (!srv->d) {
        close(fd);
        remove_unix_path(srv);
        if (srv->unix_path)
            error_set(err, EXIT_FAILED, "cannot start the HTTP server on %s", srv->unix_path);
        else
            error_set(err, EXIT_FAILED, "cannot start the HTTP server on port %d", srv->port);
        free_server(srv);
        return NULL;
    }
    if (pthread_create(&srv->feeder, NULL, feeder_main, srv) != 0) {
        MHD_stop_daemon(srv->d);
        remove_unix_path(srv);
        error_set(err, EXIT_FAILED, "cannot start the event feeder thread");
        free_server(srv);
        return NULL;
    }
    srv->feeder_started = true;
    return srv;
}

int server_port(const struct server *s) { return s ? s->port : 0; }

void server_stop(struct server *srv)
{
    if (!srv)
        return;
    atomic_store(&srv->stopping, true);
    MHD_socket lfd = MHD_quiesce_daemon(srv->d); /* stop accepting */
    if (lfd != MHD_INVALID_SOCKET)
        close(lfd);
    /* Nobody new can reach us: a later launch must not find a dead path. */
    remove_unix_path(srv);
    events_shutdown(srv->ev); /* SSE streams end */
    if (srv->feeder_started)
        pthread_join(srv->feeder, NULL);
    /* Let requests already being answered finish, within reason. */
    for (int i = 0; i < 300 && atomic_load(&srv->inflight) > 0; i++) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    MHD_stop_daemon(srv->d);
    free_server(srv);
}
