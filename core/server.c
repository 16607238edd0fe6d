/* server: the catalyst-api wire over libmicrohttpd (see server.h). */
#include "server.h"

#include "arena.h"
#include "events.h"
#include "source_local.h"
#include "wire.h"

#include <cjson/cJSON.h>
#include <microhttpd.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
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
#define SSE_SNDBUF (64 * 1024)  /* kernel send buffer of a stream: the bound on a slow reader */
/* libmicrohttpd's hard limits: twice ours and a little, room for evicted connections closing. */
#define HARD_LIMIT(n) (2 * (n) + 16)
#define HOST_MAX 256

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

struct shared;

struct cache {
    uint64_t gen;
    bool valid;
    struct shared *body[SLOT_COUNT];
    uint64_t evseq[SLOT_COUNT]; /* deployment slots: event log position when encoded */
};

/*
 * A response body shared by every request of one snapshot generation; the
 * cache and each queued response hold a reference.
 */
struct shared {
    atomic_int refs;
    size_t len;
    char etag[48];
    char buf[];
};

/* Where a connection is: what decides its deadline and whether it may be evicted. */
enum conn_state {
    C_WAITING,                 /* no complete request yet (head or body still due) */
    C_BUSY,                    /* a whole request is in: being answered */
    C_STREAM                   /* answering with an event stream */
};

/* One accepted connection; guarded by server.conn_mu, freed when libmicrohttpd closes it. */
struct conn {
    struct conn *prev, *next;
    int fd;
    int family;                /* AF_INET, AF_INET6 or AF_UNIX */
    unsigned char ip[16];      /* peer address (v4 in the first 4 bytes) */
    enum conn_state state;
    int64_t since;             /* mono ms when state was entered */
    bool evicted;              /* shut down by us, libmicrohttpd closes it next */
    atomic_bool in_read;       /* a stream's reader is producing (not stuck on the client) */
    _Atomic int64_t pulled;    /* mono ms when the stream's reader last returned */
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
    pthread_t feeder;
    bool feeder_started;
    atomic_bool stopping;
    atomic_int inflight;
    pthread_mutex_t mu;        /* guards cache */
    struct cache cache;
    char **allow;              /* extra Host names: the listen host, then --allow-host */
    size_t n_allow, allow_from; /* allow[allow_from..] came from --allow-host */
    pthread_mutex_t conn_mu;   /* guards the connection list and its counts */
    pthread_cond_t reaper_cv;
    struct conn *conns;        /* oldest first */
    struct conn *conns_tail;
    unsigned n_conns, n_streams, n_evicted;
    unsigned stream_cap, per_ip_stream_cap;
    pthread_t reaper;
    bool reaper_started;
    /* Listening on an AF_UNIX path (unix_path) instead of TCP: removed at stop. */
    char *unix_path;
    dev_t unix_dev;
    ino_t unix_ino;
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
    size_t body;               /* bytes of request body seen (and dropped) */
    char head[START_BODY_MAX]; /* the body's first bytes (only the cutover start reads them) */
    bool too_large;
    bool answered;
};

struct sse;

/* What a handler answers: queued to libmicrohttpd, or handed back by server_handle. */
struct answer {
    unsigned status;
    char *body;                /* owned (malloc), or NULL */
    size_t len;
    struct shared *shared;     /* else a cached body: one reference held */
    const char *ctype;
    char etag[48];             /* "" none */
    const char *allow;         /* Allow header, or NULL */
    bool close;                /* Connection: close */
    struct sse *sse;           /* an event stream instead of a body */
};

/* One request as the checks and handlers see it, over libmicrohttpd or from server_handle. */
struct hreq {
    struct server *srv;
    struct MHD_Connection *mc; /* NULL under server_handle */
    const struct server_header *hdrs; /* server_handle's headers and decoded query */
    size_t n_hdrs;
    const struct server_header *args;
    size_t n_args;
    struct conn *conn;         /* NULL when not tracked */
    int fd;
    bool unix_peer;
    bool answered;
    struct answer a;
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

/* A header or query argument of the request (the first one), NULL when absent. */
static const char *req_value(const struct hreq *q, enum MHD_ValueKind kind, const char *key)
{
    if (q->mc)
        return MHD_lookup_connection_value(q->mc, kind, key);
    bool hdr = kind == MHD_HEADER_KIND;
    const struct server_header *v = hdr ? q->hdrs : q->args;
    size_t n = hdr ? q->n_hdrs : q->n_args;
    for (size_t i = 0; i < n; i++)
        if (hdr ? strcasecmp(v[i].name, key) == 0 : strcmp(v[i].name, key) == 0)
            return v[i].value;
    return NULL;
}

/* Every header line of the request, duplicates included. */
static void req_each_header(const struct hreq *q, MHD_KeyValueIterator it, void *cls)
{
    if (q->mc) {
        MHD_get_connection_values(q->mc, MHD_HEADER_KIND, it, cls);
        return;
    }
    for (size_t i = 0; i < q->n_hdrs; i++)
        if (it(cls, MHD_HEADER_KIND, q->hdrs[i].name, q->hdrs[i].value) != MHD_YES)
            break;
}

static void shared_unref(void *p)
{
    struct shared *b = p;
    if (b && atomic_fetch_sub(&b->refs, 1) == 1)
        free(b);
}

static struct shared *shared_from(const struct strbuf *sb)
{
    struct shared *b = malloc(sizeof(*b) + sb->len + 1);
    if (!b)
        return NULL;
    atomic_init(&b->refs, 1);
    b->len = sb->len;
    memcpy(b->buf, sb->buf, sb->len);
    b->buf[sb->len] = '\0';
    server_etag(b->buf, b->len, b->etag, sizeof(b->etag));
    return b;
}

static void answer_free(struct answer *a);

/* Takes body (from sb_take, may be NULL for an empty one). */
static enum MHD_Result answer_with(struct hreq *c, unsigned status, char *body, size_t len,
                                   const char *ctype)
{
    answer_free(&c->a);
    c->a.status = status;
    c->a.body = body;
    c->a.len = body ? len : 0;
    c->a.ctype = ctype;
    c->answered = true;
    return MHD_YES;
}

static enum MHD_Result reply_sb(struct hreq *c, unsigned status, struct strbuf *sb,
                                const char *ctype)
{
    if (sb->oom) {
        sb_fini(sb);
        return MHD_NO;
    }
    size_t len = sb->len;
    return answer_with(c, status, sb_take(sb), len, ctype);
}

static enum MHD_Result reply_error(struct hreq *c, unsigned status, const char *code,
                                   const char *detail)
{
    struct strbuf sb;
    sb_init(&sb);
    wire_encode_error(&sb, code, detail);
    return reply_sb(c, status, &sb, "application/json");
}

static enum MHD_Result reply_text(struct hreq *c, unsigned status, const char *text)
{
    struct strbuf sb;
    sb_init(&sb);
    sb_puts(&sb, text);
    return reply_sb(c, status, &sb, "text/plain; charset=utf-8");
}

static enum MHD_Result reply_304(struct hreq *c, const char *etag)
{
    answer_with(c, MHD_HTTP_NOT_MODIFIED, NULL, 0, NULL);
    snprintf(c->a.etag, sizeof(c->a.etag), "%s", etag);
    return MHD_YES;
}

/* If-None-Match holds our tag (weak comparison, as RFC 9110 says for this header). */
static bool etag_matches(const struct hreq *c, const char *etag)
{
    const char *inm = req_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
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

/* 200 JSON with an ETag, or 304 when the client already has it. */
static enum MHD_Result reply_json_etag(struct hreq *c, struct strbuf *sb)
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
    answer_with(c, MHD_HTTP_OK, sb_take(sb), len, "application/json");
    memcpy(c->a.etag, etag, sizeof(etag));
    return MHD_YES;
}

/* A cached body (the answer takes the reference given), 304 when the client has it. */
static enum MHD_Result reply_shared(struct hreq *c, struct shared *b)
{
    if (etag_matches(c, b->etag)) {
        reply_304(c, b->etag);
        shared_unref(b);
        return MHD_YES;
    }
    answer_with(c, MHD_HTTP_OK, NULL, 0, "application/json");
    c->a.shared = b;
    memcpy(c->a.etag, b->etag, sizeof(b->etag));
    return MHD_YES;
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
        shared_unref(c->body[i]); /* queued answers keep their own reference */
        c->body[i] = NULL;
    }
    c->gen = gen;
    c->valid = true;
}

static struct shared *encode_shared(const struct snapshot *s, int slot, size_t n_events)
{
    struct strbuf sb;
    sb_init(&sb);
    encode_slot(s, slot, n_events, &sb);
    struct shared *b = (sb.oom || !sb.buf) ? NULL : shared_from(&sb);
    sb_fini(&sb);
    return b;
}

/*
 * Serves a cacheable body: encoded once per snapshot generation and shared
 * by every request of that generation (each answer holds a reference).
 */
static enum MHD_Result reply_cached(struct server *srv, struct hreq *c,
                                    const struct snapshot *s, int slot)
{
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
        struct shared *b = encode_shared(s, slot, n_events);
        if (!b)
            return reply_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out-of-memory", NULL);
        return reply_shared(c, b);
    }
    if (k->body[slot] && k->evseq[slot] != evseq) {
        /* The event log grew: numEvents changed though the snapshot did not. */
        shared_unref(k->body[slot]);
        k->body[slot] = NULL;
    }
    if (!k->body[slot]) {
        k->body[slot] = encode_shared(s, slot, n_events);
        k->evseq[slot] = evseq;
    }
    struct shared *b = k->body[slot];
    if (b)
        atomic_fetch_add(&b->refs, 1);
    pthread_mutex_unlock(&srv->mu);
    if (!b)
        return reply_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out-of-memory", NULL);
    return reply_shared(c, b);
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
    struct conn *conn;         /* NULL when untracked; outlives the reader (see conn) */
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

/* Appends what the stream has to say now; false when it has ended. */
static bool sse_fill(struct sse *x)
{
    if (x->final || atomic_load(&x->srv->stopping) || events_is_shutdown(x->srv->ev))
        return false;
    if (x->kind == SSE_LOGS)
        sse_fill_logs(x);
    else
        sse_fill_cutover(x);
    return true;
}

static ssize_t sse_read_inner(struct sse *x, char *buf, size_t max)
{
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
        if (!sse_fill(x))
            return MHD_CONTENT_READER_END_OF_STREAM;
        if (x->out.oom)
            return MHD_CONTENT_READER_END_WITH_ERROR;
        if (x->out.len || x->final)
            continue;
        /*
         * Nothing new: sleep on the event log; wake five times a second to see
         * if the peer left or we evicted it (its slot is wanted).
         */
        if (!events_wait(x->srv->ev, x->kind == SSE_LOGS ? x->dcur : UINT64_MAX,
                         x->kind == SSE_CUTOVER ? x->ccur : UINT64_MAX, 200) &&
            peer_gone(x->fd))
            return MHD_CONTENT_READER_END_WITH_ERROR;
    }
}

/*
 * libmicrohttpd calls this only when the client has taken what went before:
 * the time since the last return, outside a call, is how long the client has
 * left our bytes unread (the reaper drops it past stream_stall_s).
 */
static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    struct sse *x = cls;
    if (x->conn)
        atomic_store(&x->conn->in_read, true);
    ssize_t n = sse_read_inner(x, buf, max);
    if (x->conn) {
        atomic_store(&x->conn->pulled, mono_ms());
        atomic_store(&x->conn->in_read, false);
    }
    return n;
}

static void sse_free(void *cls)
{
    struct sse *x = cls;
    sb_fini(&x->out);
    free(x);
}

static void conn_stream_begin(struct server *srv, struct conn *cn);

static enum MHD_Result reply_sse(struct server *srv, struct hreq *c, enum sse_kind k)
{
    struct sse *x = calloc(1, sizeof(*x));
    if (!x)
        return MHD_NO;
    x->srv = srv;
    x->kind = k;
    sb_init(&x->out);
    x->dcur = events_deploy_first(srv->ev);
    x->ccur = events_cutover_first(srv->ev);
    x->fd = c->fd;
    x->conn = c->conn;
    answer_with(c, MHD_HTTP_OK, NULL, 0, "text/event-stream");
    c->a.sse = x;
    if (c->mc) {
        /* A stream may stay quiet for long: no idle timeout, the reaper watches it. */
        MHD_set_connection_option(c->mc, MHD_CONNECTION_OPTION_TIMEOUT, 0u);
        if (c->fd >= 0 && !c->unix_peer) {
            /* A small send buffer: a client that stops reading shows up soon. */
            int sz = SSE_SNDBUF;
            setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
        }
        if (c->conn)
            conn_stream_begin(srv, c->conn);
    }
    return MHD_YES;
}

static void answer_free(struct answer *a)
{
    free(a->body);
    shared_unref(a->shared);
    if (a->sse)
        sse_free(a->sse);
    memset(a, 0, sizeof(*a));
}

/* Queues the answer to libmicrohttpd (and lets go of it). */
static enum MHD_Result send_answer(struct hreq *c)
{
    struct answer *a = &c->a;
    struct MHD_Response *r;
    if (a->sse) {
        r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, SSE_BLOCK, sse_read, a->sse,
                                              sse_free);
        if (r)
            a->sse = NULL;
    } else if (a->shared) {
        r = MHD_create_response_from_buffer_with_free_callback_cls(
            a->shared->len, a->shared->buf, shared_unref, a->shared);
        if (r)
            a->shared = NULL;
    } else if (a->body) {
        r = MHD_create_response_from_buffer(a->len, a->body, MHD_RESPMEM_MUST_FREE);
        if (r)
            a->body = NULL;
    } else {
        r = MHD_create_response_from_buffer(0, empty_body, MHD_RESPMEM_PERSISTENT);
    }
    unsigned status = a->status;
    if (r) {
        if (a->ctype)
            MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, a->ctype);
        if (a->etag[0])
            MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, a->etag);
        if (a->allow)
            MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, a->allow);
        if (a->close)
            MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
        if (a->ctype && strcmp(a->ctype, "text/event-stream") == 0) {
            MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
            MHD_add_response_header(r, "X-Accel-Buffering", "no");
            /* Connection: libmicrohttpd owns it (keep-alive is HTTP/1.1's default). */
        }
    }
    answer_free(a);
    if (!r)
        return MHD_NO;
    enum MHD_Result ret = MHD_queue_response(c->mc, status, r);
    MHD_destroy_response(r);
    return ret;
}

/* ------------------------------------------------------------- handlers */

static bool deployment_known(const struct snapshot *s, const char *id)
{
    return s->has_deployment && strcmp(s->deployment.id, id) == 0;
}

/* Unset or unparsable => dflt (as upstream's strconv fallback); the engine clamps. */
static int64_t query_int(struct hreq *c, const char *key, int64_t dflt)
{
    const char *v = req_value(c, MHD_GET_ARGUMENT_KIND, key);
    if (!v || !*v)
        return dflt;
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || *end)
        return dflt;
    return x;
}

static enum MHD_Result h_jobs(struct server *srv, struct hreq *c,
                              const struct snapshot *s)
{
    const char *inv = req_value(c, MHD_GET_ARGUMENT_KIND, "inventory");
    const char *st = req_value(c, MHD_GET_ARGUMENT_KIND, "status");
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

static enum MHD_Result h_job(struct hreq *c, const struct snapshot *s,
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

static enum MHD_Result reply_engine_error(struct hreq *c,
                                          const struct engine_result *r)
{
    unsigned status = (r->code >= 400 && r->code <= 599) ? (unsigned)r->code : 500;
    return reply_error(c, status, r->error[0] ? r->error : "internal-error",
                       r->detail[0] ? r->detail : NULL);
}

static enum MHD_Result h_retry(struct server *srv, struct hreq *c,
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
static enum MHD_Result h_cutover_preflight(struct hreq *c, const struct snapshot *s)
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
    cJSON *root = wire_json_parse(body, len, NULL);
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

static enum MHD_Result h_cutover_start(struct server *srv, struct hreq *c,
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

static enum MHD_Result h_exec_logs(struct server *srv, struct hreq *c,
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

static enum MHD_Result h_events(struct server *srv, struct hreq *c,
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

static enum MHD_Result h_simple_json(struct hreq *c, struct strbuf *sb)
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

static bool authorized(const struct server *srv, struct hreq *c, bool is_get)
{
    if (!srv->token)
        return true;
    const char *h = req_value(c, MHD_HEADER_KIND,
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
    const char *q = req_value(c, MHD_GET_ARGUMENT_KIND, "access_token");
    return q && token_ok(srv, q);
}

static enum MHD_Result reply_allow(struct hreq *c, unsigned status, bool post)
{
    struct strbuf sb;
    sb_init(&sb);
    if (status != MHD_HTTP_NO_CONTENT)
        wire_encode_error(&sb, "method-not-allowed", post ? "use POST" : "use GET");
    enum MHD_Result ret = reply_sb(c, status, &sb, "application/json");
    if (ret == MHD_YES)
        c->a.allow = post ? "POST, OPTIONS" : "GET, HEAD, OPTIONS";
    return ret;
}

/* ------------------------------------------------------- browser checks */

/*
 * Splits an authority (name, name:port, [v6], [v6]:port) into a lowercase
 * host without brackets or trailing dot, and its port ("" when none). IP
 * literals come back in their canonical text form.
 */
static bool split_authority(const char *v, size_t n, char *host, char *port)
{
    const char *hs = v, *he, *ps = NULL;
    if (n && v[0] == '[') {
        const char *rb = memchr(v, ']', n);
        if (!rb)
            return false;
        hs = v + 1;
        he = rb;
        if (rb + 1 < v + n) {
            if (rb[1] != ':')
                return false;
            ps = rb + 2;
        }
    } else {
        const char *colon = memchr(v, ':', n);
        he = colon ? colon : v + n;
        ps = colon ? colon + 1 : NULL;
    }
    size_t hl = (size_t)(he - hs);
    size_t pl = ps ? (size_t)(v + n - ps) : 0;
    if (!hl || hl >= HOST_MAX || pl > 5)
        return false;
    for (size_t i = 0; i < pl; i++)
        if (ps[i] < '0' || ps[i] > '9')
            return false;
    for (size_t i = 0; i < hl; i++)
        host[i] = (char)((hs[i] >= 'A' && hs[i] <= 'Z') ? hs[i] - 'A' + 'a' : hs[i]);
    host[hl] = '\0';
    if (hl > 1 && host[hl - 1] == '.')
        host[hl - 1] = '\0';
    memcpy(port, ps ? ps : "", pl);
    port[pl] = '\0';
    unsigned char ip[16];
    char canon[INET6_ADDRSTRLEN];
    if (inet_pton(AF_INET6, host, ip) == 1 && inet_ntop(AF_INET6, ip, canon, sizeof(canon)))
        snprintf(host, HOST_MAX, "%s", canon);
    return true;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* localhost, *.localhost, 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104. */
static bool loopback_name(const char *host)
{
    if (strcmp(host, "localhost") == 0 || ends_with(host, ".localhost"))
        return true;
    unsigned char ip[16];
    if (inet_pton(AF_INET, host, ip) == 1)
        return ip[0] == 127;
    if (inet_pton(AF_INET6, host, ip) != 1)
        return false;
    static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(ip, v4mapped, 12) == 0)
        return ip[12] == 127;
    return memcmp(ip, in6addr_loopback.s6_addr, 16) == 0;
}

/* The local address of the connection, as text (IP literal hosts name it). */
static bool local_address(int fd, char *out, size_t n)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (fd < 0 || getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
        return false;
    if (ss.ss_family == AF_INET)
        return inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, out, (socklen_t)n);
    if (ss.ss_family != AF_INET6)
        return false;
    const struct in6_addr *a = &((struct sockaddr_in6 *)&ss)->sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(a))
        return inet_ntop(AF_INET, &a->s6_addr[12], out, (socklen_t)n);
    return inet_ntop(AF_INET6, a, out, (socklen_t)n);
}

/* host is in srv->allow from index from on (the --allow-host names start at allow_from). */
static bool in_allow_list(const struct server *srv, const char *host, size_t from)
{
    for (size_t i = from; i < srv->n_allow; i++)
        if (strcmp(srv->allow[i], host) == 0)
            return true;
    return false;
}

/*
 * DNS rebinding: a page on evil.example whose name now resolves to us sends
 * "Host: evil.example". Only names that are ours pass. A browser always sends
 * Host, so none (HTTP/1.0) is no rebinding; Unix-socket peers are no browser.
 */
static bool host_ok(const struct hreq *q)
{
    if (q->unix_peer)
        return true;
    const char *v = req_value(q, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
    if (!v)
        return true;
    char host[HOST_MAX], port[8];
    if (!split_authority(v, strlen(v), host, port))
        return false;
    if (loopback_name(host) || in_allow_list(q->srv, host, 0))
        return true;
    /* An IP literal of the address the client reached cannot be a rebound name. */
    char local[INET6_ADDRSTRLEN];
    return local_address(q->fd, local, sizeof(local)) && strcmp(local, host) == 0;
}

static const char *default_port(const char *scheme)
{
    return strcmp(scheme, "https") == 0 ? "443" : "80";
}

/*
 * A mutation from a web page: Sec-Fetch-Site says so (same-site is another
 * origin too), or Origin names another origin than the Host asked for.
 * Origin "null" (sandboxed frames, file: pages) is always another origin. An
 * Origin on an --allow-host name passes (a proxy that rewrites Host).
 */
static const char *cross_site(const struct hreq *q)
{
    const char *sfs = req_value(q, MHD_HEADER_KIND, "Sec-Fetch-Site");
    if (sfs && strcasecmp(sfs, "same-origin") != 0 && strcasecmp(sfs, "none") != 0)
        return "Sec-Fetch-Site is not same-origin";
    const char *o = req_value(q, MHD_HEADER_KIND, "Origin");
    if (!o)
        return NULL;
    const char *sep = strstr(o, "://");
    if (!sep || (size_t)(sep - o) > 5)
        return "the Origin is not this server";
    char scheme[8];
    snprintf(scheme, sizeof(scheme), "%.*s", (int)(sep - o), o);
    for (char *p = scheme; *p; p++)
        *p = (char)((*p >= 'A' && *p <= 'Z') ? *p - 'A' + 'a' : *p);
    if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)
        return "the Origin is not this server";
    const char *auth = sep + 3;
    size_t al = strcspn(auth, "/");
    if (auth[al] == '/' && auth[al + 1])
        return "the Origin is not this server";
    char oh[HOST_MAX], op[8], hh[HOST_MAX], hp[8];
    if (!split_authority(auth, al, oh, op))
        return "the Origin is not this server";
    if (in_allow_list(q->srv, oh, q->srv->allow_from))
        return NULL;
    const char *h = req_value(q, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
    if (!h || !split_authority(h, strlen(h), hh, hp) || strcmp(oh, hh) != 0)
        return "the Origin is not this server";
    if (strcmp(op[0] ? op : default_port(scheme), hp[0] ? hp : default_port(scheme)) != 0)
        return "the Origin is not this server";
    return NULL;
}

/* application/json, parameters allowed: what no HTML form or simple fetch can send. */
static bool json_content_type(const struct hreq *q)
{
    const char *v = req_value(q, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (!v)
        return false;
    while (*v == ' ' || *v == '\t')
        v++;
    if (strncasecmp(v, "application/json", 16) != 0)
        return false;
    v += 16;
    while (*v == ' ' || *v == '\t')
        v++;
    return *v == '\0' || *v == ';';
}

/* ------------------------------------------------------------- dispatch */

static const struct route *find_route(const char *url, char p[2][PARAM_MAX])
{
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        if (route_match(routes[i].pattern, url, p))
            return &routes[i];
    return NULL;
}

/*
 * Everything decided by the request head, before any body is read: Host,
 * route, method, the browser checks, the token and read-only. Leaves the
 * request unanswered when it may go on.
 */
static enum MHD_Result gate(struct server *srv, struct hreq *c, const char *url,
                            const char *method)
{
    if (!host_ok(c))
        return reply_error(c, MHD_HTTP_MISDIRECTED_REQUEST, "misdirected-request",
                           "the Host header names no address of this server "
                           "(serve --allow-host NAME adds one)");
    char p[2][PARAM_MAX];
    const struct route *rt = find_route(url, p);
    if (!rt)
        return reply_error(c, MHD_HTTP_NOT_FOUND, "not-found", NULL);
    if (strcmp(method, "OPTIONS") == 0)
        return reply_allow(c, MHD_HTTP_NO_CONTENT, rt->post);
    bool is_get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    bool is_post = strcmp(method, "POST") == 0;
    if (rt->post && is_post) {
        const char *why = cross_site(c);
        if (why)
            return reply_error(c, MHD_HTTP_FORBIDDEN, "cross-site-request", why);
        if (!json_content_type(c))
            return reply_error(c, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type",
                               "send Content-Type: application/json");
    }
    if (!rt->public_ && !authorized(srv, c, is_get))
        return reply_error(c, MHD_HTTP_UNAUTHORIZED, "unauthenticated", NULL);
    if (rt->post ? !is_post : !is_get)
        return reply_allow(c, MHD_HTTP_METHOD_NOT_ALLOWED, rt->post);
    if (rt->post && srv->o.read_only)
        return reply_error(c, MHD_HTTP_FORBIDDEN, "read-only",
                           "this server runs --read-only");
    return MHD_YES;
}

/* The handler of a request that passed gate and whose body is in. */
static enum MHD_Result dispatch(struct server *srv, struct hreq *c, const char *url,
                                const struct req *rq)
{
    char p[2][PARAM_MAX];
    const struct route *rt = find_route(url, p);
    if (!rt)
        return reply_error(c, MHD_HTTP_NOT_FOUND, "not-found", NULL);
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
 * The request head is in: its size, its framing, a declared body size, then
 * gate. Answers (and the body is never read) or leaves it to go on.
 */
static enum MHD_Result head_stage(struct server *srv, struct hreq *c, const char *url,
                                  const char *method)
{
    /*
     * libmicrohttpd's pool is twice max_header so that it can still answer;
     * the limit itself is ours, with a JSON body like every other error.
     */
    size_t head = strlen(url) + strlen(method) + 12;
    req_each_header(c, add_header_size, &head);
    if (head > srv->o.max_header)
        return reply_error(c, MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE,
                           "request-header-too-large", NULL);
    struct framing fr = {0};
    req_each_header(c, scan_framing, &fr);
    if (fr.lengths_differ || (fr.n_length && fr.chunked)) {
        /*
         * 400 and the connection closed: with two answers to "where does this
         * body end" a proxy in front of us may pick the other one and smuggle
         * a request.
         */
        enum MHD_Result ret = reply_error(c, MHD_HTTP_BAD_REQUEST, "bad-request",
                                          "ambiguous request body length");
        c->a.close = true;
        return ret;
    }
    /* Refuse a declared oversized body before reading any of it. */
    const char *cl = fr.length;
    if (cl && strtoull(cl, NULL, 10) > srv->o.max_body)
        return reply_error(c, MHD_HTTP_CONTENT_TOO_LARGE, "request-too-large", NULL);
    return gate(srv, c, url, method);
}

/* ------------------------------------------------------ connection limits */

static void conn_evict(struct server *srv, struct conn *cn)
{
    /* The connection's thread wakes on the shutdown and libmicrohttpd closes it. */
    cn->evicted = true;
    srv->n_evicted++;
    shutdown(cn->fd, SHUT_RDWR);
}

static bool same_peer(const struct conn *a, int family, const unsigned char *ip)
{
    return a->family == family && memcmp(a->ip, ip, 16) == 0;
}

/* The oldest live connection in state st (of that peer when family != 0). */
static struct conn *oldest(struct server *srv, enum conn_state st, int family,
                           const unsigned char *ip)
{
    for (struct conn *cn = srv->conns; cn; cn = cn->next)
        if (!cn->evicted && cn->state == st && (!family || same_peer(cn, family, ip)))
            return cn;
    return NULL;
}

static unsigned peer_count(struct server *srv, int family, const unsigned char *ip,
                           bool streams_only)
{
    unsigned n = 0;
    for (struct conn *cn = srv->conns; cn; cn = cn->next)
        if (!cn->evicted && same_peer(cn, family, ip) && (!streams_only || cn->state == C_STREAM))
            n++;
    return n;
}

static int peer_of(const struct sockaddr *sa, unsigned char ip[16])
{
    memset(ip, 0, 16);
    if (!sa)
        return 0;
    if (sa->sa_family == AF_INET)
        memcpy(ip, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
    else if (sa->sa_family == AF_INET6)
        memcpy(ip, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
    return sa->sa_family;
}

/*
 * A new connection, before libmicrohttpd takes it. At the limit (of the
 * server or of the peer address) the oldest connection still waiting for its
 * request makes room: a flood of slow or idle connections cannot lock an
 * operator out. Refused only when every connection there is being answered.
 */
static enum MHD_Result on_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
    (void)addrlen;
    struct server *srv = cls;
    unsigned char ip[16];
    int family = peer_of(addr, ip);
    enum MHD_Result ok = MHD_YES;
    pthread_mutex_lock(&srv->conn_mu);
    if (srv->n_conns - srv->n_evicted >= srv->o.max_connections) {
        struct conn *v = oldest(srv, C_WAITING, 0, ip);
        if (v)
            conn_evict(srv, v);
        else
            ok = MHD_NO;
    }
    if (ok == MHD_YES && family != AF_UNIX && family != 0 &&
        peer_count(srv, family, ip, false) >= srv->o.max_per_ip) {
        struct conn *v = oldest(srv, C_WAITING, family, ip);
        if (v)
            conn_evict(srv, v);
        else
            ok = MHD_NO;
    }
    pthread_mutex_unlock(&srv->conn_mu);
    return ok;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    struct server *srv = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        struct conn *cn = calloc(1, sizeof(*cn));
        *socket_context = cn;
        if (!cn)
            return; /* untracked: served, never evicted */
        const union MHD_ConnectionInfo *fi =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        const union MHD_ConnectionInfo *ai =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        cn->fd = fi ? fi->connect_fd : -1;
        cn->family = peer_of(ai ? ai->client_addr : NULL, cn->ip);
        cn->state = C_WAITING;
        cn->since = mono_ms();
        atomic_init(&cn->in_read, false);
        atomic_init(&cn->pulled, cn->since);
        pthread_mutex_lock(&srv->conn_mu);
        cn->prev = srv->conns_tail;
        if (srv->conns_tail)
            srv->conns_tail->next = cn;
        else
            srv->conns = cn;
        srv->conns_tail = cn;
        srv->n_conns++;
        pthread_mutex_unlock(&srv->conn_mu);
        return;
    }
    struct conn *cn = *socket_context;
    if (!cn)
        return;
    /* Called before libmicrohttpd closes the fd: no eviction can hit a reused one. */
    pthread_mutex_lock(&srv->conn_mu);
    if (cn->prev)
        cn->prev->next = cn->next;
    else
        srv->conns = cn->next;
    if (cn->next)
        cn->next->prev = cn->prev;
    else
        srv->conns_tail = cn->prev;
    srv->n_conns--;
    if (cn->evicted)
        srv->n_evicted--;
    if (cn->state == C_STREAM)
        srv->n_streams--;
    pthread_mutex_unlock(&srv->conn_mu);
    free(cn);
    *socket_context = NULL;
}

static void conn_set(struct server *srv, struct conn *cn, enum conn_state st)
{
    if (!cn)
        return;
    pthread_mutex_lock(&srv->conn_mu);
    if (cn->state == C_STREAM)
        srv->n_streams--;
    cn->state = st;
    cn->since = mono_ms();
    pthread_mutex_unlock(&srv->conn_mu);
}

/*
 * A stream takes a slot for long: streams may hold all but a reserve of the
 * slots (overall and per peer), and past that the oldest one gives way. An
 * EventSource reconnects by itself.
 */
static void conn_stream_begin(struct server *srv, struct conn *cn)
{
    pthread_mutex_lock(&srv->conn_mu);
    if (srv->n_streams >= srv->stream_cap) {
        struct conn *v = oldest(srv, C_STREAM, 0, cn->ip);
        if (v)
            conn_evict(srv, v);
    }
    if (cn->family != AF_UNIX && cn->family != 0 &&
        peer_count(srv, cn->family, cn->ip, true) >= srv->per_ip_stream_cap) {
        struct conn *v = oldest(srv, C_STREAM, cn->family, cn->ip);
        if (v)
            conn_evict(srv, v);
    }
    cn->state = C_STREAM;
    cn->since = mono_ms();
    atomic_store(&cn->pulled, cn->since);
    srv->n_streams++;
    pthread_mutex_unlock(&srv->conn_mu);
}

/*
 * Every 250 ms: a connection waiting for its request past request_timeout_s
 * (slowloris: one byte now and then resets libmicrohttpd's idle timer, not
 * this), and a stream whose client left our bytes unread past stream_stall_s.
 */
static void *reaper_main(void *arg)
{
    struct server *srv = arg;
    pthread_mutex_lock(&srv->conn_mu);
    while (!atomic_load(&srv->stopping)) {
        int64_t now = mono_ms();
        int64_t req_ms = (int64_t)srv->o.request_timeout_s * 1000;
        int64_t stall_ms = (int64_t)srv->o.stream_stall_s * 1000;
        for (struct conn *cn = srv->conns; cn; cn = cn->next) {
            if (cn->evicted)
                continue;
            if (cn->state == C_WAITING && now - cn->since > req_ms)
                conn_evict(srv, cn);
            else if (cn->state == C_STREAM && !atomic_load(&cn->in_read) &&
                     now - atomic_load(&cn->pulled) > stall_ms)
                conn_evict(srv, cn);
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 250L * 1000 * 1000;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&srv->reaper_cv, &srv->conn_mu, &ts);
    }
    pthread_mutex_unlock(&srv->conn_mu);
    return NULL;
}

/* -------------------------------------------------------- access handler */

static void hreq_mhd(struct hreq *q, struct server *srv, struct MHD_Connection *c)
{
    memset(q, 0, sizeof(*q));
    q->srv = srv;
    q->mc = c;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    q->conn = ci ? ci->socket_context : NULL;
    const union MHD_ConnectionInfo *fi =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    q->fd = fi ? fi->connect_fd : -1;
    const union MHD_ConnectionInfo *ai =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    q->unix_peer = ai && ai->client_addr && ai->client_addr->sa_family == AF_UNIX;
}

/* Queues the answer if there is one; MHD_NO (the connection drops) when ret says so. */
static enum MHD_Result finish(struct hreq *q, enum MHD_Result ret)
{
    if (ret != MHD_YES || !q->answered) {
        answer_free(&q->a);
        return ret;
    }
    return send_answer(q);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)version;
    struct server *srv = cls;
    struct req *r = *con_cls;
    struct hreq q;
    if (!r) {
        r = calloc(1, sizeof(*r));
        if (!r)
            return MHD_NO;
        *con_cls = r;
        atomic_fetch_add(&srv->inflight, 1);
        hreq_mhd(&q, srv, c);
        enum MHD_Result ret = head_stage(srv, &q, url, method);
        r->answered = q.answered;
        return finish(&q, ret);
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
    hreq_mhd(&q, srv, c);
    conn_set(srv, q.conn, C_BUSY);
    enum MHD_Result ret = r->too_large
                              ? reply_error(&q, MHD_HTTP_CONTENT_TOO_LARGE,
                                            "request-too-large", NULL)
                              : dispatch(srv, &q, url, r);
    return finish(&q, ret);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)toe;
    struct server *srv = cls;
    if (*con_cls) {
        free(*con_cls);
        *con_cls = NULL;
        atomic_fetch_sub(&srv->inflight, 1);
    }
    /* Keep-alive: the next request's time starts now. */
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    conn_set(srv, ci ? ci->socket_context : NULL, C_WAITING);
}

/* ---------------------------------------------------- socketless requests */

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* In place: %XX escapes (and '+' as a space in query parts), as libmicrohttpd unescapes. */
static void unescape(char *s, bool plus)
{
    char *w = s;
    for (char *p = s; *p; p++) {
        if (*p == '%' && hexval(p[1]) >= 0 && hexval(p[2]) >= 0) {
            *w++ = (char)(hexval(p[1]) * 16 + hexval(p[2]));
            p += 2;
        } else {
            *w++ = plus && *p == '+' ? ' ' : *p;
        }
    }
    *w = '\0';
}

#define HANDLE_ARGS_MAX 64

int server_handle(struct server *srv, const char *method, const char *url,
                  const struct server_header *headers, size_t n, const char *req_body,
                  size_t req_len, char **body, size_t *body_len)
{
    *body = NULL;
    *body_len = 0;
    char *path = strdup(url ? url : "");
    if (!path)
        return 0;
    struct server_header args[HANDLE_ARGS_MAX];
    size_t n_args = 0;
    char *qs = strchr(path, '?');
    if (qs) {
        *qs++ = '\0';
        for (char *save = NULL, *kv = strtok_r(qs, "&", &save);
             kv && n_args < HANDLE_ARGS_MAX; kv = strtok_r(NULL, "&", &save)) {
            char *eq = strchr(kv, '=');
            if (eq)
                *eq++ = '\0';
            unescape(kv, true);
            if (eq)
                unescape(eq, true);
            args[n_args].name = kv;
            args[n_args++].value = eq ? eq : "";
        }
    }
    unescape(path, false);
    struct hreq q;
    memset(&q, 0, sizeof(q));
    q.srv = srv;
    q.hdrs = headers;
    q.n_hdrs = n;
    q.args = args;
    q.n_args = n_args;
    q.fd = -1;
    struct req *rq = calloc(1, sizeof(*rq));
    if (!rq) {
        free(path);
        return 0;
    }
    rq->body = req_body ? req_len : 0;
    size_t kept = rq->body < sizeof(rq->head) ? rq->body : sizeof(rq->head);
    if (kept)
        memcpy(rq->head, req_body, kept);
    atomic_fetch_add(&srv->inflight, 1);
    enum MHD_Result ret = head_stage(srv, &q, path, method);
    if (ret == MHD_YES && !q.answered)
        ret = rq->body > srv->o.max_body
                  ? reply_error(&q, MHD_HTTP_CONTENT_TOO_LARGE, "request-too-large", NULL)
                  : dispatch(srv, &q, path, rq);
    free(rq);
    atomic_fetch_sub(&srv->inflight, 1);
    free(path);
    int status = 0;
    if (ret == MHD_YES && q.answered) {
        struct answer *a = &q.a;
        struct strbuf out;
        sb_init(&out);
        if (a->sse) {
            /* What the stream would send first, without waiting for more. */
            sse_fill(a->sse);
            sb_append(&out, a->sse->out.buf ? a->sse->out.buf : "", a->sse->out.len);
        } else if (a->shared) {
            sb_append(&out, a->shared->buf, a->shared->len);
        } else {
            sb_append(&out, a->body ? a->body : "", a->len);
        }
        sb_putc(&out, '\0');
        if (!out.oom) {
            status = (int)a->status;
            *body_len = out.len - 1;
            *body = sb_take(&out);
        }
        sb_fini(&out);
    }
    answer_free(&q.a);
    return status;
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

/* HOST:PORT, [v6]:PORT or :PORT into host ("" for none) and port. */
static int parse_listen(const char *spec, char host[256], char port[16], struct error *err)
{
    const char *colon = strrchr(spec, ':');
    if (!colon || !colon[1] || strlen(colon + 1) >= 16) {
        error_set(err, EXIT_USAGE, "--listen %s: expected HOST:PORT", spec);
        return -1;
    }
    size_t hl = (size_t)(colon - spec);
    if (hl >= 2 && spec[0] == '[' && spec[hl - 1] == ']') {
        spec++;
        hl -= 2;
    }
    if (hl >= 256) {
        error_set(err, EXIT_USAGE, "--listen: host name too long");
        return -1;
    }
    memcpy(host, spec, hl);
    host[hl] = '\0';
    snprintf(port, 16, "%s", colon + 1);
    char *end;
    long pv = strtol(port, &end, 10);
    if (*end || pv < 0 || pv > 65535) {
        error_set(err, EXIT_USAGE, "--listen: bad port \"%s\"", port);
        return -1;
    }
    return 0;
}

static int resolve_listen(const char *spec, struct addrinfo **res, struct error *err)
{
    char host[256], port[16];
    if (parse_listen(spec, host, port, err) < 0)
        return -1;
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int gai = getaddrinfo(host[0] ? host : "127.0.0.1", port, &hints, res);
    if (gai != 0) {
        error_set(err, EXIT_USAGE, "--listen %s: %s", spec, gai_strerror(gai));
        return -1;
    }
    return 0;
}

static bool sockaddr_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)(const void *)sa)->sin_addr.s_addr) >>
                24) == 127;
    if (sa->sa_family != AF_INET6)
        return false;
    const struct in6_addr *a = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(a))
        return a->s6_addr[12] == 127;
    return IN6_IS_ADDR_LOOPBACK(a);
}

int server_check_options(const struct server_options *o, bool *exposed, struct error *err)
{
    if (exposed)
        *exposed = false;
    if (o && o->unix_path)
        return 0; /* file permissions guard a Unix socket; listen is not used */
    const char *spec = o && o->listen && *o->listen ? o->listen : "127.0.0.1:8080";
    struct addrinfo *res = NULL;
    if (resolve_listen(spec, &res, err) < 0)
        return -1;
    bool wide = false;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next)
        if (!sockaddr_loopback(ai->ai_addr))
            wide = true;
    freeaddrinfo(res);
    if (exposed)
        *exposed = wide;
    if (wide && !(o && o->token_file) && !(o && o->insecure_no_auth)) {
        error_set(err, EXIT_USAGE,
                  "--listen %s reaches beyond this machine and there is no --token-file: "
                  "anyone who can connect could retry jobs and start the cutover. Give "
                  "--token-file FILE, or --insecure-no-auth to accept that",
                  spec);
        return -1;
    }
    return 0;
}

static int open_listener(const char *listen_addr, int *port_out, int *family, struct error *err)
{
    const char *spec = listen_addr && *listen_addr ? listen_addr : "127.0.0.1:8080";
    struct addrinfo *res = NULL;
    if (resolve_listen(spec, &res, err) < 0)
        return -1;
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
    for (size_t i = 0; i < srv->n_allow; i++)
        free(srv->allow[i]);
    free(srv->allow);
    free(srv->unix_path);
    pthread_mutex_destroy(&srv->mu);
    pthread_mutex_destroy(&srv->conn_mu);
    pthread_cond_destroy(&srv->reaper_cv);
    free(srv);
}

/* The listen host (unless a wildcard) and the --allow-host names, canonical. */
static int build_allow_list(struct server *srv, const struct server_options *o,
                            struct error *err)
{
    size_t n = (o ? o->n_allow_hosts : 0) + 1;
    srv->allow = calloc(n, sizeof(*srv->allow));
    if (!srv->allow) {
        error_set(err, EXIT_FAILED, "out of memory");
        return -1;
    }
    char host[HOST_MAX], port[8], lh[256], lp[16];
    struct error ignored;
    if (o && o->listen && parse_listen(o->listen, lh, lp, &ignored) == 0 && lh[0] &&
        split_authority(lh, strlen(lh), host, port) && strcmp(host, "0.0.0.0") != 0 &&
        strcmp(host, "::") != 0)
        srv->allow[srv->n_allow++] = strdup(host);
    srv->allow_from = srv->n_allow;
    for (size_t i = 0; o && i < o->n_allow_hosts; i++) {
        const char *v = o->allow_hosts[i] ? o->allow_hosts[i] : "";
        if (!split_authority(v, strlen(v), host, port) || port[0]) {
            error_set(err, EXIT_USAGE, "--allow-host %s: expected a host name or address", v);
            return -1;
        }
        srv->allow[srv->n_allow++] = strdup(host);
    }
    for (size_t i = 0; i < srv->n_allow; i++)
        if (!srv->allow[i]) {
            error_set(err, EXIT_FAILED, "out of memory");
            return -1;
        }
    return 0;
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
    pthread_mutex_init(&srv->conn_mu, NULL);
    pthread_cond_init(&srv->reaper_cv, NULL);
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
    if (!srv->o.request_timeout_s)
        srv->o.request_timeout_s = 10;
    if (!srv->o.stream_stall_s)
        srv->o.stream_stall_s = 10;
    unsigned max = srv->o.max_connections;
    if (!srv->o.max_per_ip)
        srv->o.max_per_ip = max / 4 > 8 ? max / 4 : 8;
    if (srv->o.max_per_ip > max)
        srv->o.max_per_ip = max;
    /* The reserve that streams never take: at least 2, about an eighth. */
    unsigned reserve = max / 8 < 2 ? 2 : max / 8 > 32 ? 32 : max / 8;
    srv->stream_cap = max > reserve ? max - reserve : 1;
    unsigned ip_reserve = srv->o.max_per_ip / 8 < 2 ? 2 : srv->o.max_per_ip / 8;
    srv->per_ip_stream_cap = srv->o.max_per_ip > ip_reserve ? srv->o.max_per_ip - ip_reserve
                                                            : 1;
    srv->o.allow_hosts = NULL;
    srv->o.n_allow_hosts = 0;
    srv->o.token_file = NULL;
    srv->ev = events_new(0, 0);
    if (!srv->ev) {
        error_set(err, EXIT_FAILED, "out of memory");
        free_server(srv);
        return NULL;
    }
    if (server_check_options(o, NULL, err) < 0 || build_allow_list(srv, o, err) < 0) {
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
    /*
     * Our limits evict; libmicrohttpd's, a little higher, refuse outright and
     * cover connections we evicted that are not closed yet.
     */
    srv->d = MHD_start_daemon(flags, 0, on_accept, srv, on_request, srv,
                              MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
                              MHD_OPTION_CONNECTION_LIMIT, HARD_LIMIT(max),
                              MHD_OPTION_PER_IP_CONNECTION_LIMIT,
                              HARD_LIMIT(srv->o.max_per_ip),
                              MHD_OPTION_CONNECTION_TIMEOUT, srv->o.idle_timeout_s,
                              MHD_OPTION_CONNECTION_MEMORY_LIMIT, pool,
                              MHD_OPTION_THREAD_STACK_SIZE, (size_t)(1024 * 1024),
                              MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
                              MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv,
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
    if (pthread_create(&srv->reaper, NULL, reaper_main, srv) != 0) {
        error_set(err, EXIT_FAILED, "cannot start the connection reaper thread");
        server_stop(srv);
        return NULL;
    }
    srv->reaper_started = true;
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
    if (srv->reaper_started) {
        pthread_mutex_lock(&srv->conn_mu);
        pthread_cond_broadcast(&srv->reaper_cv);
        pthread_mutex_unlock(&srv->conn_mu);
        pthread_join(srv->reaper, NULL);
    }
    /* Let requests already being answered finish, within reason. */
    for (int i = 0; i < 300 && atomic_load(&srv->inflight) > 0; i++) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    MHD_stop_daemon(srv->d);
    free_server(srv);
}
