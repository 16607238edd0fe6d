/*
 * wire: catalyst-api JSON codec (see wire.h, WIRE.md).
 *
 * Decoding parses with cJSON, then walks the tree with a linked path record
 * on the stack so an error can name "jobs[12].dependsOn[0]" without building
 * path strings on the happy path. Every string is UTF-8 checked and copied
 * into the caller's arena; the cJSON tree is freed before returning.
 *
 * Encoding writes JSON directly into a strbuf (no cJSON tree) because the
 * server encodes 10,000-job lists on every poll.
 *
 * Threading: every entry point is reentrant; the one lock serialises cJSON's
 * parser, which records its last error in a process-wide variable.
 */
#include "wire.h"

#include "arena.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

/* Frames larger than this are refused before parsing (bounded input). */
#define WIRE_MAX_BYTES ((size_t)256 << 20)
/* Accepted instants: 1970-01-01T00:00:00Z .. 2200-01-01T00:00:00Z (in ms). */
#define WIRE_TIME_MIN_MS INT64_C(0)
#define WIRE_TIME_MAX_MS INT64_C(7258118400000)
/* Distinct step names accepted from a status ConfigMap (11 today, plus region legs). */
#define WIRE_MAX_STEPS 1024

/* ------------------------------------------------------------------------ */
/* decode context and paths                                                 */

struct wpath {
    const struct wpath *up;
    const char *key; /* NULL: array index */
    size_t idx;
};

#define PKEY(parent, k) (&(const struct wpath){(parent), (k), 0})
#define PIDX(parent, i) (&(const struct wpath){(parent), NULL, (i)})

struct dctx {
    struct arena *a;
    struct error *err;
};

static void path_append(const struct wpath *p, char *buf, size_t n, size_t *pos)
{
    if (!p)
        return;
    path_append(p->up, buf, n, pos);
    if (*pos >= n)
        return;
    int w;
    if (p->key)
        w = snprintf(buf + *pos, n - *pos, "%s%.64s", *pos ? "." : "", p->key);
    else
        w = snprintf(buf + *pos, n - *pos, "[%zu]", p->idx);
    if (w > 0)
        *pos += (size_t)w;
    if (*pos >= n)
        *pos = n - 1;
}

static const char *path_format(const struct wpath *p, char *buf, size_t n)
{
    size_t pos = 0;
    buf[0] = 0;
    path_append(p, buf, n, &pos);
    if (!buf[0])
        snprintf(buf, n, "<root>");
    return buf;
}

__attribute__((format(printf, 3, 4)))
static int fail(struct dctx *c, const struct wpath *p, const char *fmt, ...)
{
    char path[256], msg[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    error_set(c->err, EXIT_API, "%s: %s", path_format(p, path, sizeof path), msg);
    return -1;
}

/* A value for an error message: at most 32 bytes, printable ASCII only. */
static const char *quote(const char *s, char *buf, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; s && s[i] && i < 32 && o + 5 < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\') {
            buf[o++] = (char)ch;
        } else {
            o += (size_t)snprintf(buf + o, n - o, "\\x%02x", ch);
        }
    }
    buf[o] = 0;
    return buf;
}

static const char *type_name(const cJSON *v)
{
    if (cJSON_IsString(v))
        return "string";
    if (cJSON_IsNumber(v))
        return "number";
    if (cJSON_IsBool(v))
        return "boolean";
    if (cJSON_IsArray(v))
        return "array";
    if (cJSON_IsObject(v))
        return "object";
    return "null";
}

static bool absent(const cJSON *v) { return !v || cJSON_IsNull(v); }

static const cJSON *field(const cJSON *o, const char *k)
{
    return cJSON_GetObjectItemCaseSensitive(o, k);
}

static int want_object(struct dctx *c, const struct wpath *p, const cJSON *v)
{
    return cJSON_IsObject(v) ? 0 : fail(c, p, "expected object, got %s", type_name(v));
}

/* Members of an object or elements of an array. */
static size_t n_children(const cJSON *v)
{
    size_t n = 0;
    for (const cJSON *e = v->child; e; e = e->next)
        n++;
    return n;
}

static bool utf8_ok(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        size_t l = utf8_valid_len(p + i, n - i);
        if (!l)
            return false;
        i += l;
    }
    return true;
}

static int dup_checked(struct dctx *c, const struct wpath *p, const char *s, const char **out)
{
    if (!utf8_ok(s))
        return fail(c, p, "invalid UTF-8 in string");
    *out = arena_strdup(c->a, s);
    if (!*out)
        return fail(c, p, "out of memory");
    return 0;
}

/* Absent or null => "". */
static int str_at(struct dctx *c, const struct wpath *p, const cJSON *v, const char **out)
{
    *out = "";
    if (absent(v))
        return 0;
    if (!cJSON_IsString(v))
        return fail(c, p, "expected string, got %s", type_name(v));
    return dup_checked(c, p, v->valuestring, out);
}

static int get_str(struct dctx *c, const struct wpath *p, const cJSON *o, const char *k,
                   const char **out)
{
    return str_at(c, PKEY(p, k), field(o, k), out);
}

/*
 * RFC3339 into *out, refusing instants outside [WIRE_TIME_MIN_MS, WIRE_TIME_MAX_MS]
 * so every later sum or difference of two times stays far from the int64 limits.
 * Go's zero time still decodes to 0 (absent). Fails with p's path; *out is 0 then.
 */
static int time_str_at(struct dctx *c, const struct wpath *p, const char *s, int64_t *out)
{
    char q[160];
    if (time_parse(s, out) != 0) {
        *out = 0;
        return fail(c, p, "invalid time \"%s\"", quote(s, q, sizeof q));
    }
    if (*out < WIRE_TIME_MIN_MS || *out > WIRE_TIME_MAX_MS) {
        *out = 0;
        return fail(c, p, "time \"%s\" outside 1970-01-01..2200-01-01", quote(s, q, sizeof q));
    }
    return 0;
}

static int time_at(struct dctx *c, const struct wpath *p, const cJSON *v, int64_t *out)
{
    *out = 0;
    if (absent(v))
        return 0;
    if (!cJSON_IsString(v))
        return fail(c, p, "expected RFC3339 time string, got %s", type_name(v));
    return time_str_at(c, p, v->valuestring, out);
}

static int get_time(struct dctx *c, const struct wpath *p, const cJSON *o, const char *k,
                    int64_t *out)
{
    return time_at(c, PKEY(p, k), field(o, k), out);
}

static int i64_at(struct dctx *c, const struct wpath *p, const cJSON *v, int64_t *out,
                  int64_t def, int64_t lo, int64_t hi)
{
    *out = def;
    if (absent(v))
        return 0;
    if (!cJSON_IsNumber(v))
        return fail(c, p, "expected number, got %s", type_name(v));
    double d = v->valuedouble;
    if (!isfinite(d) || d < (double)lo || d > (double)hi)
        return fail(c, p, "number out of range");
    *out = (int64_t)d;
    return 0;
}

static int get_i64(struct dctx *c, const struct wpath *p, const cJSON *o, const char *k,
                   int64_t *out)
{
    /* 2^62: far beyond any count or duration, and exactly representable. */
    return i64_at(c, PKEY(p, k), field(o, k), out, 0, -4611686018427387904LL,
                  4611686018427387904LL);
}

static int get_int(struct dctx *c, const struct wpath *p, const cJSON *o, const char *k,
                   int *out)
{
    int64_t v;
    if (i64_at(c, PKEY(p, k), field(o, k), &v, 0, INT_MIN, INT_MAX))
        return -1;
    *out = (int)v;
    return 0;
}

static int get_bool(struct dctx *c, const struct wpath *p, const cJSON *o, const char *k,
                    bool *out, bool def)
{
    const cJSON *v = field(o, k);
    *out = def;
    if (absent(v))
        return 0;
    if (!cJSON_IsBool(v))
        return fail(c, PKEY(p, k), "expected boolean, got %s", type_name(v));
    *out = cJSON_IsTrue(v);
    return 0;
}

/* Absent or null => empty. */
static int strs_at(struct dctx *c, const struct wpath *p, const cJSON *v, const char ***out,
                   size_t *n)
{
    *out = NULL;
    *n = 0;
    if (absent(v))
        return 0;
    if (!cJSON_IsArray(v))
        return fail(c, p, "expected array, got %s", type_name(v));
    size_t cnt = n_children(v);
    if (!cnt)
        return 0;
    const char **arr = arena_calloc(c->a, cnt, sizeof *arr);
    if (!arr)
        return fail(c, p, "out of memory");
    size_t i = 0;
    for (const cJSON *e = v->child; e; e = e->next, i++) {
        if (!cJSON_IsString(e))
            return fail(c, PIDX(p, i), "expected string, got %s", type_name(e));
        if (dup_checked(c, PIDX(p, i), e->valuestring, &arr[i]))
            return -1;
    }
    *out = arr;
    *n = cnt;
    return 0;
}

/* The array at o[k] (absent/null => NULL, count 0). */
static int arr_field(struct dctx *c, const struct wpath *p, const cJSON *o, const char *k,
                     bool required, const cJSON **arr, size_t *n)
{
    const cJSON *v = field(o, k);
    *arr = NULL;
    *n = 0;
    if (absent(v)) {
        if (required && !v)
            return fail(c, PKEY(p, k), "missing array");
        return 0;
    }
    if (!cJSON_IsArray(v))
        return fail(c, PKEY(p, k), "expected array, got %s", type_name(v));
    *arr = v;
    *n = n_children(v);
    return 0;
}

static void *alloc_n(struct dctx *c, const struct wpath *p, size_t n, size_t size)
{
    void *m = arena_calloc(c->a, n ? n : 1, size);
    if (!m)
        fail(c, p, "out of memory");
    return m;
}

/*
 * The array at o[k] (see arr_field) with a zeroed arena block of *n items of
 * size bytes to decode it into; *first is its first element (NULL: none).
 * Returns the block, or NULL with the error set.
 */
static void *arr_items(struct dctx *c, const struct wpath *p, const cJSON *o, const char *k,
                       bool required, size_t size, const cJSON **first, size_t *n)
{
    const cJSON *arr;
    *first = NULL;
    if (arr_field(c, p, o, k, required, &arr, n))
        return NULL;
    void *items = alloc_n(c, p, *n, size);
    if (items && arr)
        *first = arr->child;
    return items;
}

/*
 * cJSON's parser writes a process-wide error record on every call; this lock
 * (the module's only global) keeps concurrent parses from racing on it.
 */
static pthread_mutex_t cjson_lock = PTHREAD_MUTEX_INITIALIZER;

cJSON *wire_json_parse(const char *json, size_t len, const char **end)
{
    pthread_mutex_lock(&cjson_lock);
    cJSON *root = cJSON_ParseWithLengthOpts(json, len, end, false);
    pthread_mutex_unlock(&cjson_lock);
    return root;
}

static cJSON *parse(struct dctx *c, const char *json, size_t len)
{
    if (!json || len == 0) {
        fail(c, NULL, "not valid JSON at byte 0");
        return NULL;
    }
    if (len > WIRE_MAX_BYTES) {
        fail(c, NULL, "frame too large (%zu bytes)", len);
        return NULL;
    }
    const char *end = NULL;
    cJSON *root = wire_json_parse(json, len, &end);
    if (!root) {
        size_t at = end && end >= json && end <= json + len ? (size_t)(end - json) : 0;
        fail(c, NULL, "not valid JSON at byte %zu", at);
        return NULL;
    }
    const char *e = end ? end : json + len;
    while (e < json + len && (*e == ' ' || *e == '\t' || *e == '\n' || *e == '\r'))
        e++;
    if (e < json + len) {
        cJSON_Delete(root);
        fail(c, NULL, "not valid JSON at byte %zu", (size_t)(e - json));
        return NULL;
    }
    return root;
}

/* Every decoder's start: clears err, then parses json, which must be one object. */
static cJSON *decode_begin(struct dctx *c, struct arena *a, struct error *err,
                           const char *json, size_t len)
{
    c->a = a;
    c->err = err;
    error_clear(err);
    cJSON *root = parse(c, json, len);
    if (root && want_object(c, NULL, root)) {
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}

/* ------------------------------------------------------------------------ */
/* jobs                                                                     */

static const char *const group_slugs[] = {
    "provisioner", "bootstrap-kit", "day-2-mutations", "cutover", "handover", "apps",
    "reconcilers",
};

static bool is_group_slug(const char *s)
{
    for (size_t i = 0; i < sizeof group_slugs / sizeof group_slugs[0]; i++)
        if (strcmp(s, group_slugs[i]) == 0)
            return true;
    return false;
}

static enum job_status status_word(const char *s)
{
    int v = job_status_parse(s);
    /* Vocabularies differ per surface (WIRE §10.20): unknown words read as pending. */
    return v < 0 ? JOB_PENDING : (enum job_status)v;
}

/* Job fields, gathered in one pass over the object (the hot path of big lists). */
enum {
    JF_ID, JF_DEP, JF_NAME, JF_DISPLAY, JF_TYPE, JF_KIND, JF_APP, JF_REGION, JF_BATCH,
    JF_PARENT, JF_STATUS, JF_LATEST, JF_DEPENDS, JF_CHILDREN, JF_STARTED, JF_FINISHED,
    JF_DURATION, JF_RUNS, JF_COUNT
};
static const char *const job_keys[JF_COUNT] = {
    "id", "deploymentId", "jobName", "displayName", "type", "kind", "appId", "region",
    "batchId", "parentId", "status", "latestExecutionId", "dependsOn", "childIds", "startedAt",
    "finishedAt", "durationMs", "runCount",
};

/* slots[k] = the member named keys[k] (the last one wins, like Go), or NULL. */
static void collect(const cJSON *o, const char *const *keys, size_t nk, const cJSON **slots)
{
    memset(slots, 0, nk * sizeof *slots);
    for (const cJSON *e = o->child; e; e = e->next) {
        const char *k = e->string;
        if (!k)
            continue;
        for (size_t i = 0; i < nk; i++)
            if (k[0] == keys[i][0] && strcmp(k, keys[i]) == 0) {
                slots[i] = e;
                break;
            }
    }
}

static int job_from(struct dctx *c, const struct wpath *p, const cJSON *o, struct job *j)
{
    if (want_object(c, p, o))
        return -1;
    memset(j, 0, sizeof *j);
    const cJSON *f[JF_COUNT];
    collect(o, job_keys, JF_COUNT, f);
#define JP(k) PKEY(p, job_keys[k])
    const char *type, *kind, *status, *batch;
    if (str_at(c, JP(JF_ID), f[JF_ID], &j->id) ||
        str_at(c, JP(JF_DEP), f[JF_DEP], &j->deployment_id) ||
        str_at(c, JP(JF_NAME), f[JF_NAME], &j->job_name) ||
        str_at(c, JP(JF_DISPLAY), f[JF_DISPLAY], &j->display_name) ||
        str_at(c, JP(JF_TYPE), f[JF_TYPE], &type) || str_at(c, JP(JF_KIND), f[JF_KIND], &kind) ||
        str_at(c, JP(JF_APP), f[JF_APP], &j->app_id) ||
        str_at(c, JP(JF_REGION), f[JF_REGION], &j->region) ||
        str_at(c, JP(JF_BATCH), f[JF_BATCH], &batch) ||
        str_at(c, JP(JF_PARENT), f[JF_PARENT], &j->parent_id) ||
        str_at(c, JP(JF_STATUS), f[JF_STATUS], &status) ||
        str_at(c, JP(JF_LATEST), f[JF_LATEST], &j->latest_execution_id) ||
        strs_at(c, JP(JF_DEPENDS), f[JF_DEPENDS], &j->depends_on, &j->n_depends_on) ||
        strs_at(c, JP(JF_CHILDREN), f[JF_CHILDREN], &j->child_ids, &j->n_child_ids) ||
        time_at(c, JP(JF_STARTED), f[JF_STARTED], &j->started_at) ||
        time_at(c, JP(JF_FINISHED), f[JF_FINISHED], &j->finished_at) ||
        i64_at(c, JP(JF_DURATION), f[JF_DURATION], &j->duration_ms, 0, -4611686018427387904LL,
               4611686018427387904LL))
        return -1;
    int64_t runs;
    if (i64_at(c, JP(JF_RUNS), f[JF_RUNS], &runs, 0, 0, INT32_MAX))
        return -1;
#undef JP
    j->run_count = (int32_t)runs;

    /* Fill whichever of id / deploymentId / jobName is missing from the others. */
    if (!*j->job_name && *j->id) {
        const char *colon = strchr(j->id, ':');
        j->job_name = colon ? colon + 1 : j->id;
    }
    if (!*j->job_name)
        return fail(c, PKEY(p, "jobName"), "missing");
    if (!*j->deployment_id && *j->id) {
        const char *colon = strchr(j->id, ':');
        if (colon)
            j->deployment_id = arena_strndup(c->a, j->id, (size_t)(colon - j->id));
    }
    if (!*j->id)
        j->id = *j->deployment_id ? arena_printf(c->a, "%s:%s", j->deployment_id, j->job_name)
                                  : j->job_name;
    if (!j->id || !j->deployment_id)
        return fail(c, p, "out of memory");

    j->is_group = *type ? strcmp(type, "group") == 0 : is_group_slug(j->job_name);
    int k = job_kind_parse(kind);
    j->kind = j->is_group ? KIND_GROUP
                          : (k >= 0 && k != KIND_GROUP ? (enum job_kind)k
                                                        : job_kind_from_name(j->job_name, false));
    j->status = status_word(status);
    /* Early rows: batchId is the parent group's slug (late servers hoist it the same way). */
    if (!*j->parent_id && *batch) {
        j->parent_id = arena_printf(c->a, "%s:%s", j->deployment_id, batch);
        if (!j->parent_id)
            return fail(c, p, "out of memory");
    }
    /* A missing parent is synthesised from this id; it needs a job name to be a job. */
    const char *pcolon = strchr(j->parent_id, ':');
    if (pcolon && !pcolon[1])
        return fail(c, PKEY(p, "parentId"), "no job name after the deployment id");
    return 0;
}

/* Open-addressing id index, only for the duration of one decode. */
struct id_index {
    int32_t *slot;
    size_t mask;
};

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static int index_init(struct id_index *ix, size_t n)
{
    size_t cap = 16;
    while (cap < n * 2 + 2)
        cap <<= 1;
    ix->slot = malloc(cap * sizeof *ix->slot);
    if (!ix->slot)
        return -1;
    memset(ix->slot, 0xff, cap * sizeof *ix->slot);
    ix->mask = cap - 1;
    return 0;
}

static int32_t index_find(const struct id_index *ix, const struct job *jobs, const char *id)
{
    for (size_t h = hash_str(id) & ix->mask;; h = (h + 1) & ix->mask) {
        int32_t v = ix->slot[h];
        if (v < 0 || strcmp(jobs[v].id, id) == 0)
            return v;
    }
}

/* First row wins for duplicate ids. */
static void index_put(struct id_index *ix, const struct job *jobs, int32_t i)
{
    for (size_t h = hash_str(jobs[i].id) & ix->mask;; h = (h + 1) & ix->mask) {
        int32_t v = ix->slot[h];
        if (v < 0) {
            ix->slot[h] = i;
            return;
        }
        if (strcmp(jobs[v].id, jobs[i].id) == 0)
            return;
    }
}

static const char *group_display(const char *slug)
{
    if (strcmp(slug, "bootstrap-kit") == 0)
        return "Bootstrap";
    if (strcmp(slug, "day-2-mutations") == 0)
        return "Day-2 Mutations";
    return slug;
}

/* Rollup rule of WIRE §3.2 over the direct children of a synthesised group. */
static void rollup_group(struct job *g, struct job *jobs, const int32_t *kids, size_t nk)
{
    bool any_failed = false, any_running = false, any_pending = false, all_terminal = nk > 0;
    int64_t start = 0, fin = 0;
    for (size_t k = 0; k < nk; k++) {
        const struct job *ch = &jobs[kids[k]];
        switch (ch->status) {
        case JOB_FAILED:
        case JOB_FAILING:
            any_failed = true;
            break;
        case JOB_RUNNING:
        case JOB_DEGRADED:
            any_running = true;
            break;
        case JOB_PENDING:
            any_pending = true;
            break;
        default:
            break;
        }
        if (!job_status_terminal(ch->status))
            all_terminal = false;
        if (ch->started_at && (!start || ch->started_at < start))
            start = ch->started_at;
        if (ch->finished_at > fin)
            fin = ch->finished_at;
    }
    g->status = nk == 0        ? JOB_PENDING
                : any_failed  ? JOB_FAILED
                : any_running ? JOB_RUNNING
                : any_pending ? JOB_PENDING
                              : JOB_SUCCEEDED;
    g->started_at = start;
    g->finished_at = all_terminal ? fin : 0;
    g->duration_ms = g->started_at && g->finished_at ? g->finished_at - g->started_at : 0;
}

/* Synthesises missing parent groups, fills childIds, rolls up synthesised groups. */
static int jobs_complete_tree(struct dctx *c, struct job **jobs_io, size_t *n_io)
{
    struct job *jobs = *jobs_io;
    size_t n = *n_io;
    struct id_index ix;
    if (index_init(&ix, n * 2 + 8))
        return fail(c, NULL, "out of memory");
    for (size_t i = 0; i < n; i++)
        index_put(&ix, jobs, (int32_t)i);

    /* Pass 1: which parents are missing (distinct, first-seen order). */
    size_t n_new = 0;
    for (size_t i = 0; i < n; i++)
        if (*jobs[i].parent_id && index_find(&ix, jobs, jobs[i].parent_id) < 0) {
            n_new++; /* upper bound; duplicates filtered below */
        }
    if (n_new) {
        struct job *all = arena_calloc(c->a, n + n_new, sizeof *all);
        if (!all) {
            free(ix.slot);
            return fail(c, NULL, "out of memory");
        }
        memcpy(all, jobs, n * sizeof *all);
        size_t m = n;
        for (size_t i = 0; i < n; i++) {
            const char *pid = all[i].parent_id;
            if (!*pid || index_find(&ix, all, pid) >= 0)
                continue;
            struct job *g = &all[m];
            const char *colon = strchr(pid, ':');
            g->id = pid;
            g->deployment_id = colon ? arena_strndup(c->a, pid, (size_t)(colon - pid)) : "";
            g->job_name = colon ? colon + 1 : pid;
            g->display_name = group_display(g->job_name);
            g->app_id = g->region = g->parent_id = g->latest_execution_id = "";
            g->is_group = true;
            g->kind = KIND_GROUP;
            if (!g->deployment_id) {
                free(ix.slot);
                return fail(c, NULL, "out of memory");
            }
            index_put(&ix, all, (int32_t)m);
            m++;
        }
        jobs = all;
        n = m;
    }

    /* Pass 2: children per group in row order, bucketed (counting sort) to stay linear. */
    size_t *start = calloc(n + 1, sizeof *start);
    int32_t *parent = malloc((n + 1) * sizeof *parent);
    int32_t *kids = malloc((n + 1) * sizeof *kids);
    if (!start || !parent || !kids) {
        free(start);
        free(parent);
        free(kids);
        free(ix.slot);
        return fail(c, NULL, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        parent[i] = *jobs[i].parent_id ? index_find(&ix, jobs, jobs[i].parent_id) : -1;
        if (parent[i] >= 0 && (size_t)parent[i] != i)
            start[parent[i] + 1]++;
        else
            parent[i] = -1;
    }
    for (size_t g = 0; g < n; g++)
        start[g + 1] += start[g];
    for (size_t i = 0; i < n; i++)
        if (parent[i] >= 0)
            kids[start[parent[i]]++] = (int32_t)i;
    /* Filling advanced start[g] to the end of bucket g, i.e. the beginning of g+1. */
    int rc = 0;
    for (size_t g = 0; g < n && rc == 0; g++) {
        struct job *gj = &jobs[g];
        bool synth = g >= *n_io;
        size_t lo = g ? start[g - 1] : 0, nk = start[g] - lo;
        if (!gj->is_group || (!synth && gj->n_child_ids > 0) || nk == 0) {
            if (synth)
                rollup_group(gj, jobs, NULL, 0);
            continue;
        }
        const char **ids = arena_calloc(c->a, nk, sizeof *ids);
        if (!ids) {
            rc = fail(c, NULL, "out of memory");
            break;
        }
        for (size_t k = 0; k < nk; k++)
            ids[k] = jobs[kids[lo + k]].id;
        gj->child_ids = ids;
        gj->n_child_ids = nk;
        if (synth)
            rollup_group(gj, jobs, kids + lo, nk);
    }
    free(start);
    free(kids);
    free(parent);
    free(ix.slot);
    *jobs_io = jobs;
    *n_io = n;
    return rc;
}

int wire_decode_jobs(const char *json, size_t len, struct arena *a, struct job **jobs,
                     size_t *n, struct error *err)
{
    struct dctx c;
    *jobs = NULL;
    *n = 0;
    cJSON *root = decode_begin(&c, a, err, json, len);
    if (!root)
        return -1;
    const cJSON *e;
    size_t cnt;
    struct job *out = arr_items(&c, NULL, root, "jobs", true, sizeof *out, &e, &cnt);
    int rc = out ? 0 : -1;
    const struct wpath *pj = PKEY(NULL, "jobs");
    for (size_t i = 0; rc == 0 && e; e = e->next, i++)
        rc = job_from(&c, PIDX(pj, i), e, &out[i]);
    cJSON_Delete(root);
    if (rc == 0)
        rc = jobs_complete_tree(&c, &out, &cnt);
    if (rc)
        return -1;
    *jobs = out;
    *n = cnt;
    return 0;
}

static int exec_from(struct dctx *c, const struct wpath *p, const cJSON *o, struct execution *x)
{
    if (want_object(c, p, o))
        return -1;
    memset(x, 0, sizeof *x);
    const char *status;
    if (get_str(c, p, o, "id", &x->id) || get_str(c, p, o, "jobId", &x->job_id) ||
        get_str(c, p, o, "deploymentId", &x->deployment_id) ||
        get_str(c, p, o, "status", &status) || get_time(c, p, o, "startedAt", &x->started_at) ||
        get_time(c, p, o, "finishedAt", &x->finished_at) ||
        get_i64(c, p, o, "lineCount", &x->line_count))
        return -1;
    int s = exec_status_parse(status);
    /* An unknown word on a finished execution is a failure, otherwise it is still running. */
    x->status = s >= 0 ? (enum exec_status)s : x->finished_at ? EXEC_FAILED : EXEC_RUNNING;
    return 0;
}

int wire_decode_job_detail(const char *json, size_t len, struct arena *a, struct job *job,
                           struct execution **execs, size_t *n, struct error *err)
{
    struct dctx c;
    *execs = NULL;
    *n = 0;
    cJSON *root = decode_begin(&c, a, err, json, len);
    if (!root)
        return -1;
    int rc = 0;
    const cJSON *jo = field(root, "job");
    if (!jo)
        rc = fail(&c, PKEY(NULL, "job"), "missing object");
    else
        rc = job_from(&c, PKEY(NULL, "job"), jo, job);
    const cJSON *e = NULL;
    size_t cnt = 0;
    struct execution *xs = NULL;
    if (rc == 0) {
        xs = arr_items(&c, NULL, root, "executions", false, sizeof *xs, &e, &cnt);
        rc = xs ? 0 : -1;
    }
    const struct wpath *px = PKEY(NULL, "executions");
    for (size_t i = 0; rc == 0 && e; e = e->next, i++)
        rc = exec_from(&c, PIDX(px, i), e, &xs[i]);
    cJSON_Delete(root);
    if (rc)
        return -1;
    *execs = xs;
    *n = cnt;
    return 0;
}

int wire_decode_log_page(const char *json, size_t len, struct arena *a, struct log_page *out,
                         struct error *err)
{
    struct dctx c;
    memset(out, 0, sizeof *out);
    cJSON *root = decode_begin(&c, a, err, json, len);
    if (!root)
        return -1;
    const cJSON *e;
    size_t cnt;
    struct log_line *lines = arr_items(&c, NULL, root, "lines", false, sizeof *lines, &e, &cnt);
    int rc = lines ? 0 : -1;
    const struct wpath *pl = PKEY(NULL, "lines");
    for (size_t i = 0; rc == 0 && e; e = e->next, i++) {
        const struct wpath *p = PIDX(pl, i);
        struct log_line *l = &lines[i];
        const char *level;
        rc = want_object(&c, p, e) || get_i64(&c, p, e, "lineNumber", &l->line_number) ||
             get_time(&c, p, e, "timestamp", &l->timestamp) ||
             get_str(&c, p, e, "level", &level) || get_str(&c, p, e, "message", &l->message);
        if (rc == 0)
            l->level = log_level_parse(level);
    }
    if (rc == 0)
        rc = get_i64(&c, NULL, root, "total", &out->total) ||
             get_bool(&c, NULL, root, "executionFinished", &out->execution_finished, false);
    cJSON_Delete(root);
    if (rc) {
        memset(out, 0, sizeof *out);
        return -1;
    }
    out->lines = lines;
    out->n_lines = cnt;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* cutover                                                                  */

static const char *const step_catalogue[][2] = {
    {"gitea-mirror", "Mirror GitOps repository"},
    {"harbor-projects", "Create Harbor proxy projects"},
    {"harbor-prewarm", "Pre-warm critical images"},
    {"registry-pivot", "Pivot containerd registries"},
    {"flux-gitrepository-patch", "Repoint Flux GitRepository"},
    {"helmrepository-patches", "Repoint HelmRepositories"},
    {"catalyst-api-env-patch", "Update catalyst-api environment"},
    {"egress-block-test", "Egress-block self-test"},
    {"gitea-token-mint", "Mint local Gitea token"},
    {"vcluster-registry-pivot", "Pivot vCluster registries"},
    {"crossplane-provider-pivot", "Pivot Crossplane providers"},
};
#define N_CATALOGUE ((int)(sizeof step_catalogue / sizeof step_catalogue[0]))

int wire_cutover_step_order(const char *name)
{
    if (!name)
        return -1;
    for (int i = 0; i < N_CATALOGUE; i++)
        if (strcmp(name, step_catalogue[i][0]) == 0)
            return i;
    return -1;
}

const char *wire_cutover_step_label(const char *name)
{
    int i = wire_cutover_step_order(name);
    return i >= 0 ? step_catalogue[i][1] : name ? name : "";
}

static const char *raw_get(const struct cutover_status *s, const char *key)
{
    size_t lo = 0, hi = s->n_raw;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int cmp = strcmp(s->raw[mid].key, key);
        if (cmp == 0)
            return s->raw[mid].value;
        if (cmp < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static int kv_cmp(const void *x, const void *y)
{
    return strcmp(((const struct kv *)x)->key, ((const struct kv *)y)->key);
}

struct step_slot {
    struct cutover_step step;
    int key;
};

static int step_slot_cmp(const void *x, const void *y)
{
    const struct step_slot *a = x, *b = y;
    return (a->key > b->key) - (a->key < b->key);
}

/* Integer from a decimal string; false when s is not one. */
static bool parse_int_str(const char *s, int64_t *out)
{
    if (!s || !*s)
        return false;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || end == s)
        return false;
    *out = v;
    return true;
}

/* UI status words (pending|running|done|failed) first, else the wire result; -1 unknown. */
static int step_status(const char *status, const char *result)
{
    if (*status) {
        if (strcmp(status, "pending") == 0)
            return STEP_PENDING;
        if (strcmp(status, "running") == 0)
            return STEP_RUNNING;
        if (strcmp(status, "done") == 0)
            return STEP_SUCCESS;
        if (strcmp(status, "failed") == 0)
            return STEP_FAILED;
        return -1;
    }
    return step_result_parse(result);
}

static int decode_steps(struct dctx *c, const cJSON *root, struct cutover_status *out)
{
    const cJSON *arr;
    size_t cnt;
    if (arr_field(c, NULL, root, "steps", false, &arr, &cnt))
        return -1;
    struct step_slot *slots = cnt ? calloc(cnt, sizeof *slots) : NULL;
    if (cnt && !slots)
        return fail(c, NULL, "out of memory");
    size_t kept = 0, i = 0;
    int rc = 0;
    const struct wpath *ps = PKEY(NULL, "steps");
    for (const cJSON *e = arr ? arr->child : NULL; e; e = e->next, i++) {
        const struct wpath *p = PIDX(ps, i);
        struct cutover_step st = {0};
        const char *name, *alt, *status, *result;
        if (want_object(c, p, e) || get_str(c, p, e, "name", &name) ||
            get_str(c, p, e, "step", &alt) ||
            get_str(c, p, e, "status", &status) || get_str(c, p, e, "result", &result) ||
            get_time(c, p, e, "startedAt", &st.started_at) ||
            get_time(c, p, e, "finishedAt", &st.finished_at) ||
            get_str(c, p, e, "jobName", &st.job_name) ||
            get_str(c, p, e, "message", &st.message) ||
            get_time(c, p, e, "holdUntil", &st.hold_until) ||
            get_i64(c, p, e, "holdSeconds", &st.hold_seconds)) {
            rc = -1;
            break;
        }
        st.name = *alt ? alt : name;
        int r = step_status(status, result);
        /* Unknown results, unnamed records and multi-region pseudo steps are dropped, as the
         * reference UI does (WIRE §6.2, §6.7); the rest of the frame still counts. */
        if (r < 0 || !*st.name || strstr(st.name, ".region."))
            continue;
        st.result = (enum step_result)r;
        /* hold_until means "a hold is running" (model.h); a finished step has none. */
        if (st.result != STEP_RUNNING)
            st.hold_until = 0;
        int ord = wire_cutover_step_order(st.name);
        slots[kept].step = st;
        slots[kept].key = ord >= 0 ? ord : N_CATALOGUE + (int)i;
        kept++;
    }
    if (rc == 0 && kept) {
        qsort(slots, kept, sizeof *slots, step_slot_cmp);
        out->steps = arena_calloc(c->a, kept, sizeof *out->steps);
        if (!out->steps)
            rc = fail(c, NULL, "out of memory");
        for (size_t k = 0; rc == 0 && k < kept; k++)
            out->steps[k] = slots[k].step;
        out->n_steps = rc == 0 ? kept : 0;
    }
    free(slots);
    return rc;
}

static int decode_raw(struct dctx *c, const cJSON *root, struct cutover_status *out)
{
    const cJSON *raw = field(root, "raw");
    const struct wpath *pr = PKEY(NULL, "raw");
    if (absent(raw))
        return 0;
    if (want_object(c, pr, raw))
        return -1;
    size_t cnt = n_children(raw);
    if (!cnt)
        return 0;
    out->raw = arena_calloc(c->a, cnt, sizeof *out->raw);
    if (!out->raw)
        return fail(c, pr, "out of memory");
    size_t i = 0;
    for (const cJSON *e = raw->child; e; e = e->next, i++) {
        const char *key = e->string ? e->string : "";
        const struct wpath *p = PKEY(pr, key);
        if (!cJSON_IsString(e))
            return fail(c, p, "expected string, got %s", type_name(e));
        if (dup_checked(c, p, key, &out->raw[i].key) ||
            dup_checked(c, p, e->valuestring, &out->raw[i].value))
            return -1;
    }
    qsort(out->raw, cnt, sizeof *out->raw, kv_cmp);
    out->n_raw = cnt;
    return 0;
}

static int decode_summary(struct dctx *c, const cJSON *root, struct cutover_status *out)
{
    const char *v;
    if (get_str(c, NULL, root, "mirroredCommitSHA", &out->mirrored_commit_sha))
        return -1;
    if (!*out->mirrored_commit_sha && (v = raw_get(out, "mirroredCommitSHA")))
        out->mirrored_commit_sha = v;

    out->harbor_project_count = -1;
    const cJSON *h = field(root, "harborProjectCount");
    int64_t num;
    if (cJSON_IsNumber(h)) {
        if (i64_at(c, PKEY(NULL, "harborProjectCount"), h, &num, -1, 0, INT_MAX))
            return -1;
        out->harbor_project_count = (int)num;
    } else if (cJSON_IsString(h) && parse_int_str(h->valuestring, &num) && num >= 0 &&
               num <= INT_MAX) {
        out->harbor_project_count = (int)num;
    } else if (!absent(h) && !cJSON_IsString(h)) {
        return fail(c, PKEY(NULL, "harborProjectCount"), "expected number, got %s",
                    type_name(h));
    } else if ((v = raw_get(out, "harborProjectCount")) && parse_int_str(v, &num) && num >= 0 &&
               num <= INT_MAX) {
        out->harbor_project_count = (int)num;
    }

    const cJSON *sr = field(root, "settledRollOverrides");
    if (cJSON_IsString(sr) || absent(sr)) {
        if (get_str(c, NULL, root, "settledRollOverrides", &out->settled_roll_overrides))
            return -1;
    } else {
        char *txt = cJSON_PrintUnformatted(sr);
        out->settled_roll_overrides = arena_strdup(c->a, txt);
        cJSON_free(txt);
    }
    if (!*out->settled_roll_overrides && (v = raw_get(out, "settledRollOverrides")))
        out->settled_roll_overrides = v;

    out->egress_test_passed = -1;
    const cJSON *eg = field(root, "egressTestPassed");
    if (cJSON_IsBool(eg)) {
        out->egress_test_passed = cJSON_IsTrue(eg) ? 1 : 0;
    } else if (!absent(eg)) {
        return fail(c, PKEY(NULL, "egressTestPassed"), "expected boolean, got %s",
                    type_name(eg));
    } else if ((v = raw_get(out, "egressTestPassed")) && (!strcmp(v, "true") ||
                                                          !strcmp(v, "false"))) {
        out->egress_test_passed = strcmp(v, "true") == 0;
    } else {
        for (size_t i = 0; i < out->n_steps; i++) {
            if (strcmp(out->steps[i].name, "egress-block-test") != 0)
                continue;
            if (out->steps[i].result == STEP_SUCCESS || out->steps[i].result == STEP_SKIPPED)
                out->egress_test_passed = 1;
            else if (out->steps[i].result == STEP_FAILED)
                out->egress_test_passed = 0;
        }
    }
    return 0;
}

/* Per-step values that only live in raw (step.<name>.holdUntil / holdSeconds). */
static int steps_from_raw(struct dctx *c, struct cutover_status *out)
{
    char key[320];
    for (size_t i = 0; i < out->n_steps; i++) {
        struct cutover_step *st = &out->steps[i];
        const char *v;
        if (!st->hold_until && st->result == STEP_RUNNING) {
            snprintf(key, sizeof key, "step.%s.holdUntil", st->name);
            if ((v = raw_get(out, key)) &&
                time_str_at(c, PKEY(PKEY(NULL, "raw"), key), v, &st->hold_until) != 0)
                return -1;
        }
        if (!st->hold_seconds) {
            snprintf(key, sizeof key, "step.%s.holdSeconds", st->name);
            int64_t num;
            if ((v = raw_get(out, key)) && parse_int_str(v, &num) && num >= 0)
                st->hold_seconds = num;
        }
    }
    return 0;
}

static int cutover_from(struct dctx *c, const cJSON *root, struct cutover_status *out)
{
    memset(out, 0, sizeof *out);
    const cJSON *st = field(root, "state");
    if (!absent(st)) {
        if (!cJSON_IsString(st))
            return fail(c, PKEY(NULL, "state"), "invalid cutover state (%s)", type_name(st));
        char q[160];
        if (strcmp(st->valuestring, "tethered") == 0)
            out->state = SOV_TETHERED;
        else if (strcmp(st->valuestring, "sovereign") == 0)
            out->state = SOV_SOVEREIGN;
        else
            return fail(c, PKEY(NULL, "state"), "invalid cutover state \"%s\"",
                        quote(st->valuestring, q, sizeof q));
        out->state_present = true;
    }
    bool complete;
    if (get_bool(c, NULL, root, "cutoverComplete", &complete,
                 out->state_present && out->state == SOV_SOVEREIGN))
        return -1;
    out->complete = complete;
    if (!out->state_present)
        out->state = complete ? SOV_SOVEREIGN : SOV_TETHERED;
    const char *alt_err;
    if (get_time(c, NULL, root, "cutoverStartedAt", &out->started_at) ||
        get_time(c, NULL, root, "cutoverFinishedAt", &out->finished_at) ||
        get_time(c, NULL, root, "cutoverLastAttemptStartedAt", &out->last_attempt_started_at) ||
        get_str(c, NULL, root, "currentStep", &out->current_step) ||
        get_int(c, NULL, root, "currentStepIndex", &out->current_step_index) ||
        get_int(c, NULL, root, "totalSteps", &out->total_steps) ||
        get_int(c, NULL, root, "progressPercent", &out->progress_percent) ||
        get_str(c, NULL, root, "failedStep", &out->failed_step) ||
        get_str(c, NULL, root, "lastError", &out->last_error) ||
        get_str(c, NULL, root, "error", &alt_err))
        return -1;
    if (!*out->last_error)
        out->last_error = alt_err;
    if (decode_raw(c, root, out) || decode_steps(c, root, out) || steps_from_raw(c, out))
        return -1;

    bool any_running = false;
    for (size_t i = 0; i < out->n_steps; i++) {
        struct cutover_step *s = &out->steps[i];
        if (!s->started_at && s->result != STEP_PENDING)
            s->started_at = out->started_at;
        if (!s->finished_at && s->result != STEP_PENDING && s->result != STEP_RUNNING)
            s->finished_at = out->finished_at;
        if (s->result == STEP_FAILED && !*s->message && *out->failed_step &&
            strcmp(s->name, out->failed_step) == 0)
            s->message = out->last_error;
        if (s->result == STEP_RUNNING)
            any_running = true;
    }
    if (decode_summary(c, root, out))
        return -1;
    out->running = any_running ||
                   (*out->current_step && !out->complete && !*out->failed_step);
    out->available = true;
    return 0;
}

int wire_decode_cutover_status(const char *json, size_t len, struct arena *a,
                               struct cutover_status *out, struct error *err)
{
    struct dctx c;
    memset(out, 0, sizeof *out);
    cJSON *root = decode_begin(&c, a, err, json, len);
    if (!root)
        return -1;
    int rc = cutover_from(&c, root, out);
    cJSON_Delete(root);
    if (rc)
        memset(out, 0, sizeof *out);
    return rc;
}

static bool key_is(const char *k, const char *const *set, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(k, set[i]) == 0)
            return true;
    return false;
}

static bool step_named(const cJSON *step, const char *name, size_t n)
{
    const char *sn = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(step, "name"));
    return sn && strlen(sn) == n && strncmp(sn, name, n) == 0;
}

/* Converts the flat ConfigMap map into the status shape, checking values as it goes. */
static int configmap_to_status(struct dctx *c, const cJSON *map, cJSON *doc)
{
    static const char *const times[] = {"cutoverStartedAt", "cutoverFinishedAt",
                                        "cutoverLastAttemptStartedAt"};
    static const char *const ints[] = {"currentStepIndex", "totalSteps", "progressPercent"};
    static const char *const strs[] = {"state", "currentStep", "failedStep", "lastError",
                                       "mirroredCommitSHA", "harborProjectCount",
                                       "settledRollOverrides"};
    cJSON *steps = cJSON_AddArrayToObject(doc, "steps");
    cJSON *raw = cJSON_AddObjectToObject(doc, "raw");
    if (!steps || !raw)
        return fail(c, NULL, "out of memory");
    char q[160];
    cJSON *last = NULL;
    int n_steps = 0;
    for (const cJSON *e = map->child; e; e = e->next) {
        const char *k = e->string ? e->string : "";
        const struct wpath *p = PKEY(NULL, k);
        if (!cJSON_IsString(e))
            return fail(c, p, "expected string, got %s", type_name(e));
        const char *v = e->valuestring;
        if (!utf8_ok(k) || !utf8_ok(v))
            return fail(c, p, "invalid UTF-8 in string");
        if (!cJSON_AddStringToObject(raw, k, v))
            return fail(c, NULL, "out of memory");
        int64_t num, t;
        if (strcmp(k, "cutoverComplete") == 0 || strcmp(k, "egressTestPassed") == 0) {
            if (strcmp(v, "true") && strcmp(v, "false"))
                return fail(c, p, "expected \"true\" or \"false\", got \"%s\"",
                            quote(v, q, sizeof q));
            cJSON_AddBoolToObject(doc, k, strcmp(v, "true") == 0);
        } else if (key_is(k, ints, sizeof ints / sizeof ints[0])) {
            if (!*v)
                continue;
            if (!parse_int_str(v, &num) || num < INT_MIN || num > INT_MAX)
                return fail(c, p, "expected integer, got \"%s\"", quote(v, q, sizeof q));
            cJSON_AddNumberToObject(doc, k, (double)num);
        } else if (key_is(k, times, sizeof times / sizeof times[0])) {
            if (time_str_at(c, p, v, &t) != 0)
                return -1;
            cJSON_AddStringToObject(doc, k, v);
        } else if (key_is(k, strs, sizeof strs / sizeof strs[0])) {
            cJSON_AddStringToObject(doc, k, v);
        } else if (strncmp(k, "step.", 5) == 0) {
            const char *rest = k + 5;
            const char *dot = strrchr(rest, '.');
            if (!dot || dot == rest)
                continue;
            size_t nl = (size_t)(dot - rest);
            const char *fld = dot + 1;
            /* Keys of one step are usually adjacent: try the newest step first. */
            cJSON *st = last && step_named(last, rest, nl) ? last : NULL;
            for (cJSON *s = st ? NULL : steps->child; s && !st; s = s->next)
                if (step_named(s, rest, nl))
                    st = s;
            if (!st && ++n_steps > WIRE_MAX_STEPS)
                return fail(c, p, "more than %d cutover steps", WIRE_MAX_STEPS);
            if (!st) {
                char *name = strndup(rest, nl);
                st = cJSON_CreateObject();
                if (!name || !st || !cJSON_AddStringToObject(st, "name", name)) {
                    free(name);
                    cJSON_Delete(st);
                    return fail(c, NULL, "out of memory");
                }
                free(name);
                cJSON_AddItemToArray(steps, st);
            }
            last = st;
            if (!strcmp(fld, "startedAt") || !strcmp(fld, "finishedAt") ||
                !strcmp(fld, "holdUntil")) {
                if (time_str_at(c, p, v, &t) != 0)
                    return -1;
                cJSON_AddStringToObject(st, fld, v);
            } else if (!strcmp(fld, "result") || !strcmp(fld, "jobName") ||
                       !strcmp(fld, "message")) {
                cJSON_AddStringToObject(st, fld, v);
            } else if (!strcmp(fld, "holdSeconds")) {
                if (*v && (!parse_int_str(v, &num) || num < 0))
                    return fail(c, p, "expected integer, got \"%s\"", quote(v, q, sizeof q));
                if (*v)
                    cJSON_AddNumberToObject(st, fld, (double)num);
            }
        }
    }
    return 0;
}

int wire_decode_cutover_configmap(const char *json, size_t len, struct arena *a,
                                  struct cutover_status *out, struct error *err)
{
    struct dctx c;
    memset(out, 0, sizeof *out);
    cJSON *root = decode_begin(&c, a, err, json, len);
    if (!root)
        return -1;
    cJSON *doc = cJSON_CreateObject();
    int rc = doc ? configmap_to_status(&c, root, doc) : fail(&c, NULL, "out of memory");
    if (rc == 0)
        rc = cutover_from(&c, doc, out);
    cJSON_Delete(doc);
    cJSON_Delete(root);
    if (rc)
        memset(out, 0, sizeof *out);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* deployments, sovereign, organizations, events, retry, errors             */

/* Lifted values: the top level wins, else result{} (WIRE §4.1). */
static int str_lift(struct dctx *c, const struct wpath *p, const cJSON *o, const cJSON *res,
                    const char *k, const char **out)
{
    if (get_str(c, p, o, k, out))
        return -1;
    if (!**out && res)
        return get_str(c, PKEY(p, "result"), res, k, out);
    return 0;
}

static int time_lift(struct dctx *c, const struct wpath *p, const cJSON *o, const cJSON *res,
                     const char *k, int64_t *out)
{
    if (get_time(c, p, o, k, out))
        return -1;
    if (!*out && res)
        return get_time(c, PKEY(p, "result"), res, k, out);
    return 0;
}

static int deployment_from(struct dctx *c, const struct wpath *p, const cJSON *o,
                           struct deployment *d)
{
    if (want_object(c, p, o))
        return -1;
    memset(d, 0, sizeof *d);
    const cJSON *res = field(o, "result");
    if (absent(res))
        res = NULL;
    else if (want_object(c, PKEY(p, "result"), res))
        return -1;
    if (get_str(c, p, o, "id", &d->id) || get_str(c, p, o, "status", &d->status) ||
        get_time(c, p, o, "startedAt", &d->started_at) ||
        get_time(c, p, o, "finishedAt", &d->finished_at) ||
        get_str(c, p, o, "region", &d->region) || get_str(c, p, o, "error", &d->error) ||
        get_i64(c, p, o, "numEvents", &d->num_events) ||
        get_str(c, p, o, "orgName", &d->org_name) ||
        get_str(c, p, o, "ownerEmail", &d->owner_email) ||
        get_bool(c, p, o, "operationInProgress", &d->operation_in_progress, false))
        return -1;
    if (str_lift(c, p, o, res, "sovereignFQDN", &d->sovereign_fqdn) ||
        str_lift(c, p, o, res, "controlPlaneIP", &d->control_plane_ip) ||
        str_lift(c, p, o, res, "loadBalancerIP", &d->load_balancer_ip) ||
        str_lift(c, p, o, res, "consoleURL", &d->console_url) ||
        str_lift(c, p, o, res, "gitopsRepoURL", &d->gitops_repo_url) ||
        str_lift(c, p, o, res, "phase1Outcome", &d->phase1_outcome) ||
        time_lift(c, p, o, res, "phase1FinishedAt", &d->phase1_finished_at) ||
        time_lift(c, p, o, res, "handoverFiredAt", &d->handover_fired_at))
        return -1;
    return 0;
}

static void deployment_defaults(struct deployment *d)
{
    const char **s[] = {&d->id, &d->status, &d->sovereign_fqdn, &d->region, &d->error,
                        &d->org_name, &d->owner_email, &d->control_plane_ip,
                        &d->load_balancer_ip, &d->console_url, &d->gitops_repo_url,
                        &d->phase1_outcome};
    for (size_t i = 0; i < sizeof s / sizeof s[0]; i++)
        if (!*s[i])
            *s[i] = "";
}

int wire_decode_deployment(const char *json, size_t len, struct arena *a,
                           struct deployment *out, struct error *err)
{
    struct dctx c;
    memset(out, 0, sizeof *out);
    cJSON *root = decode_begin(&c, a, err, json, len);
    if (!root)
        return -1;
    int rc = deployment_from(&c, NULL, root, out);
    cJSON_Delete(root);
    deployment_defaults(out);
    return rc;
}

int wire_decode_deployments(const char *json, size_t len, struct arena *a,
                            struct deployment **out, size_t *n, struct error *err)
{
    struct dctx c;
    *out = NULL;
    *n = 0;
    cJSON *root = decode_begin(&c, a, err, json, len);
    if (!root)
        return -1;
    const cJSON *e;
    size_t cnt;
    struct deployment *ds = arr_items(&c, NULL, root, "deployments", true, sizeof *ds, &e, &cnt);
    int rc = ds ? 0 : -1;
    const struct wpath *pd = PKEY(NULL, "deployments");
    for (size_t i = 0; rc == 0 && e; e = e->next, i++) {
        rc = deployment_from(&c, PIDX(pd, i), e, &ds[i]);
        deployment_defaults(&ds[i]);
    }
    cJSON_Delete(root);
    if (rc)
        return -1;
    *out = ds;
    *n = cnt;
    return 0;
}

/* An object of two top-level strings; both stay "" unless both decode. */
static int decode_str_pair(const char *json, size_t len, struct arena *a, const char *k1,
                           const char **v1, const char *k2, const char **v2, struct error *err)
{
    struct dctx c;
    *v1 = *v2 = "";
    cJSON *root = decode_begin(&c, a, err, json, len);
    if (!root)
        return -1;
    int rc = get_str(&c, NULL, root, k1, v1) || get_str(&c, NULL, root, k2, v2);
    cJSON_Delete(root);
    if (rc)
        *v1 = *v2 = "";
    return rc ? -1 : 0;
}

int wire_decode_sovereign_self(const char *json, size_t len, struct arena *a,
                               const char **deployment_id, const char **fqdn, struct error *err)
{
    return decode_str_pair(json, len, a, "deploymentId", deployment_id, "sovereignFQDN", fqdn,
                           err);
}

int wire_decode_sovereign_status(const char *json, size_t len, struct sovereign_status *out,
                                 struct error *err)
{
    struct dctx c;
    memset(out, 0, sizeof *out);
    cJSON *root = decode_begin(&c, NULL, err, json, len);
    if (!root)
        return -1;
    int rc = get_int(&c, NULL, root, "helmReleasesReady", &out->helm_releases_ready) ||
             get_int(&c, NULL, root, "helmReleasesTotal", &out->helm_releases_total) ||
             get_int(&c, NULL, root, "podsRunning", &out->pods_running) ||
             get_int(&c, NULL, root, "podsTotal", &out->pods_total) ||
             get_int(&c, NULL, root, "certExpirySoonCount", &out->cert_expiry_soon_count);
    cJSON_Delete(root);
    if (rc) {
        memset(out, 0, sizeof *out);
        return -1;
    }
    out->available = true;
    return 0;
}

static int app_from(struct dctx *c, const struct wpath *p, const cJSON *o, struct application *ap)
{
    return want_object(c, p, o) || get_str(c, p, o, "name", &ap->name) ||
                   get_str(c, p, o, "blueprint", &ap->blueprint) ||
                   get_str(c, p, o, "version", &ap->version) ||
                   get_str(c, p, o, "status", &ap->status) ||
                   strs_at(c, PKEY(p, "dependsOn"), field(o, "dependsOn"), &ap->depends_on,
                           &ap->n_depends_on)
               ? -1
               : 0;
}

static int env_from(struct dctx *c, const struct wpath *p, const cJSON *o, struct environment *e)
{
    const cJSON *x;
    size_t cnt;
    if (want_object(c, p, o) || get_str(c, p, o, "name", &e->name) ||
        get_str(c, p, o, "type", &e->type))
        return -1;
    e->apps = arr_items(c, p, o, "applications", false, sizeof *e->apps, &x, &cnt);
    if (!e->apps)
        return -1;
    const struct wpath *pa = PKEY(p, "applications");
    for (size_t i = 0; x; x = x->next, i++)
        if (app_from(c, PIDX(pa, i), x, &e->apps[i]))
            return -1;
    e->n_apps = cnt;
    return 0;
}

static int org_from(struct dctx *c, const struct wpath *p, const cJSON *o,
                    struct organization *org)
{
    const cJSON *x;
    size_t cnt;
    if (want_object(c, p, o) || get_str(c, p, o, "name", &org->name))
        return -1;
    org->envs = arr_items(c, p, o, "environments", false, sizeof *org->envs, &x, &cnt);
    if (!org->envs)
        return -1;
    const struct wpath *pe = PKEY(p, "environments");
    for (size_t i = 0; x; x = x->next, i++)
        if (env_from(c, PIDX(pe, i), x, &org->envs[i]))
            return -1;
    org->n_envs = cnt;
    return 0;
}

int wire_decode_organizations(const char *json, size_t len, struct arena *a,
                              struct organization **orgs, size_t *n_orgs,
                              struct blueprint **bps, size_t *n_bps, struct error *err)
{
    struct dctx c;
    *orgs = NULL;
    *bps = NULL;
    *n_orgs = *n_bps = 0;
    cJSON *root = decode_begin(&c, a, err, json, len);
    if (!root)
        return -1;
    const cJSON *oa, *ba;
    size_t no, nb;
    int rc = arr_field(&c, NULL, root, "organizations", true, &oa, &no) ||
             arr_field(&c, NULL, root, "blueprints", false, &ba, &nb);
    struct organization *os = NULL;
    struct blueprint *bs = NULL;
    if (rc == 0) {
        os = alloc_n(&c, NULL, no, sizeof *os);
        bs = alloc_n(&c, NULL, nb, sizeof *bs);
        rc = os && bs ? 0 : -1;
    }
    size_t i = 0;
    const struct wpath *po = PKEY(NULL, "organizations");
    for (const cJSON *e = rc == 0 && oa ? oa->child : NULL; rc == 0 && e; e = e->next, i++)
        rc = org_from(&c, PIDX(po, i), e, &os[i]);
    i = 0;
    const struct wpath *pb = PKEY(NULL, "blueprints");
    for (const cJSON *e = rc == 0 && ba ? ba->child : NULL; rc == 0 && e; e = e->next, i++) {
        const struct wpath *p = PIDX(pb, i);
        rc = want_object(&c, p, e) || get_str(&c, p, e, "name", &bs[i].name) ||
             get_str(&c, p, e, "version", &bs[i].version) ||
             strs_at(&c, PKEY(p, "depends"), field(e, "depends"), &bs[i].depends,
                     &bs[i].n_depends);
    }
    cJSON_Delete(root);
    if (rc)
        return -1;
    *orgs = os;
    *n_orgs = no;
    *bps = bs;
    *n_bps = nb;
    return 0;
}

/* Environment types in a fixed order (DOMAIN); environments are listed in this order. */
static const char *const env_types[] = {"prod", "stg", "uat", "dev", "poc"};
#define N_ENV_TYPES 5

static bool env_type_ok(const char *t) { return key_is(t, env_types, N_ENV_TYPES); }

/* environmentRef may be a bare type, "<org>-<type>", or an object with a name. */
static const char *env_type_of(const cJSON *ref)
{
    if (cJSON_IsObject(ref))
        ref = cJSON_GetObjectItemCaseSensitive(ref, "name");
    const char *s = cJSON_GetStringValue(ref);
    if (!s || !*s)
        return "dev";
    if (env_type_ok(s))
        return s;
    const char *dash = strrchr(s, '-');
    if (dash && env_type_ok(dash + 1))
        return dash + 1;
    return "dev";
}

static int env_type_index(const char *t)
{
    for (int i = 0; i < N_ENV_TYPES; i++)
        if (strcmp(t, env_types[i]) == 0)
            return i;
    return 3; /* dev */
}

/*
 * Two passes so memory stays linear in the item count: first assign every
 * item an (org, env type) cell and count the cells, then allocate and fill.
 */
int wire_decode_applications(const char *json, size_t len, struct arena *a,
                             struct organization **orgs, size_t *n_orgs, struct error *err)
{
    struct dctx c;
    *orgs = NULL;
    *n_orgs = 0;
    cJSON *root = decode_begin(&c, a, err, json, len);
    if (!root)
        return -1;
    const cJSON *arr;
    size_t cnt;
    int rc = arr_field(&c, NULL, root, "items", false, &arr, &cnt);
    struct organization *os = NULL;
    struct application *apps = NULL;
    size_t *org_of = NULL, no = 0;
    int *type_of = NULL;
    size_t *cells = NULL; /* apps per (org, type) */
    /* Namespace -> org index (open addressing), so distinct namespaces stay linear. */
    size_t ns_mask = 15;
    while (ns_mask < 2 * cnt)
        ns_mask = ns_mask * 2 + 1;
    ssize_t *ns_slot = NULL;
    if (rc == 0) {
        os = alloc_n(&c, NULL, cnt, sizeof *os);
        apps = alloc_n(&c, NULL, cnt, sizeof *apps);
        org_of = calloc(cnt ? cnt : 1, sizeof *org_of);
        type_of = calloc(cnt ? cnt : 1, sizeof *type_of);
        cells = calloc((cnt ? cnt : 1) * N_ENV_TYPES, sizeof *cells);
        ns_slot = malloc((ns_mask + 1) * sizeof *ns_slot);
        if (!os || !apps || !org_of || !type_of || !cells || !ns_slot)
            rc = fail(&c, NULL, "out of memory");
        else
            memset(ns_slot, 0xff, (ns_mask + 1) * sizeof *ns_slot);
    }
    size_t i = 0;
    const struct wpath *pi = PKEY(NULL, "items");
    for (const cJSON *e = arr ? arr->child : NULL; rc == 0 && e; e = e->next, i++) {
        const struct wpath *p = PIDX(pi, i);
        struct application *ap = &apps[i];
        const char *ns;
        if (want_object(&c, p, e) || get_str(&c, p, e, "name", &ap->name) ||
            get_str(&c, p, e, "namespace", &ns) ||
            get_str(&c, p, e, "blueprint", &ap->blueprint) ||
            get_str(&c, p, e, "version", &ap->version) ||
            get_str(&c, p, e, "phase", &ap->status)) {
            rc = -1;
            break;
        }
        if (!*ns)
            ns = "default";
        size_t h = hash_str(ns) & ns_mask;
        while (ns_slot[h] >= 0 && strcmp(os[ns_slot[h]].name, ns) != 0)
            h = (h + 1) & ns_mask;
        if (ns_slot[h] < 0) {
            ns_slot[h] = (ssize_t)no;
            os[no++].name = ns;
        }
        size_t k = (size_t)ns_slot[h];
        org_of[i] = k;
        type_of[i] = env_type_index(env_type_of(field(e, "environmentRef")));
        cells[k * N_ENV_TYPES + (size_t)type_of[i]]++;
    }
    for (size_t k = 0; rc == 0 && k < no; k++) {
        struct organization *o = &os[k];
        o->envs = alloc_n(&c, NULL, N_ENV_TYPES, sizeof *o->envs);
        if (!o->envs) {
            rc = -1;
            break;
        }
        for (int t = 0; t < N_ENV_TYPES; t++) {
            size_t na = cells[k * N_ENV_TYPES + (size_t)t];
            if (!na)
                continue;
            struct environment *env = &o->envs[o->n_envs++];
            env->type = env_types[t];
            env->name = arena_printf(c.a, "%s-%s", o->name, env_types[t]);
            env->apps = alloc_n(&c, NULL, na, sizeof *env->apps);
            if (!env->name || !env->apps) {
                rc = fail(&c, NULL, "out of memory");
                break;
            }
            /* Reuse the counter as this cell's environment index + 1. */
            cells[k * N_ENV_TYPES + (size_t)t] = o->n_envs;
        }
    }
    for (size_t x = 0; rc == 0 && x < cnt; x++) {
        size_t cell = org_of[x] * N_ENV_TYPES + (size_t)type_of[x];
        struct environment *env = &os[org_of[x]].envs[cells[cell] - 1];
        env->apps[env->n_apps++] = apps[x];
    }
    free(org_of);
    free(type_of);
    free(cells);
    free(ns_slot);
    cJSON_Delete(root);
    if (rc)
        return -1;
    *orgs = os;
    *n_orgs = no;
    return 0;
}

int wire_decode_event(const char *json, size_t len, struct arena *a, struct wire_event *out,
                      struct error *err)
{
    struct dctx c;
    memset(out, 0, sizeof *out);
    cJSON *root = decode_begin(&c, a, err, json, len);
    if (!root)
        return -1;
    const char *level;
    int rc = get_time(&c, NULL, root, "time", &out->time) ||
             get_str(&c, NULL, root, "phase", &out->phase) ||
             get_str(&c, NULL, root, "level", &level) ||
             get_str(&c, NULL, root, "message", &out->message) ||
             get_str(&c, NULL, root, "component", &out->component) ||
             get_str(&c, NULL, root, "state", &out->state) ||
             get_str(&c, NULL, root, "step", &out->step) ||
             get_str(&c, NULL, root, "jobName", &out->job_name);
    cJSON_Delete(root);
    if (rc) {
        memset(out, 0, sizeof *out);
        return -1;
    }
    out->level = log_level_parse(level);
    return 0;
}

int wire_decode_retry(const char *json, size_t len, struct arena *a, const char **execution_id,
                      const char **action, struct error *err)
{
    return decode_str_pair(json, len, a, "executionId", execution_id, "action", action, err);
}

/* Error text kept for the operator; longer bodies are cut (HTML error pages). */
#define WIRE_ERROR_TEXT_MAX 512

static const char *clean_text(struct arena *a, const char *s, size_t n)
{
    while (n && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')) {
        s++;
        n--;
    }
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        n--;
    if (n > WIRE_ERROR_TEXT_MAX)
        n = WIRE_ERROR_TEXT_MAX;
    /* Keep whole UTF-8 sequences only; anything else becomes '?'. */
    char *out = arena_alloc(a, n + 1);
    if (!out)
        return "";
    size_t o = 0;
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t l = utf8_valid_len(p + i, n - i);
        if (l == 0 || p[i] == 0) {
            out[o++] = '?';
            i++;
        } else {
            memcpy(out + o, p + i, l);
            o += l;
            i += l;
        }
    }
    out[o] = 0;
    return out;
}

void wire_decode_error(const char *body, size_t len, struct arena *a, const char **code,
                       const char **detail)
{
    *code = "";
    *detail = "";
    if (!body || !len)
        return;
    const char *end;
    cJSON *root = len <= WIRE_MAX_BYTES ? wire_json_parse(body, len, &end) : NULL;
    const cJSON *e = cJSON_IsObject(root) ? field(root, "error") : NULL;
    if (cJSON_IsString(e)) {
        const char *msg = e->valuestring;
        const char *det = cJSON_GetStringValue(field(root, "detail"));
        const char *cm = clean_text(a, msg, strlen(msg));
        const char *cd = det ? clean_text(a, det, strlen(det)) : "";
        if (strpbrk(cm, " \t")) {
            /* A sentence in "error" is prose, not a code (WIRE §1.4). */
            *detail = *cd ? arena_printf(a, "%s: %s", cm, cd) : cm;
            if (!*detail)
                *detail = cm;
        } else {
            *code = cm;
            *detail = cd;
        }
    } else {
        *detail = clean_text(a, body, len);
    }
    cJSON_Delete(root);
}

/* ------------------------------------------------------------------------ */
/* encoders                                                                 */

static void put_i64(struct strbuf *sb, int64_t v)
{
    char buf[24];
    char *p = buf + sizeof buf;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    sb_append(sb, p, (size_t)(buf + sizeof buf - p));
}

static void put2(char *p, int v)
{
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
}

/* Same text as time_format, without gmtime_r/snprintf (hot in job lists). */
static void put_time(struct strbuf *sb, int64_t ms)
{
    if (ms < 0 || ms >= 253402300800000LL) {
        char buf[40];
        sb_putc(sb, '"');
        sb_puts(sb, time_format(ms, buf, sizeof buf));
        sb_putc(sb, '"');
        return;
    }
    int64_t secs = ms / 1000, frac = ms % 1000;
    int64_t days = secs / 86400, rem = secs % 86400;
    /* Civil date from days since 1970-01-01 (Hinnant's algorithm). */
    int64_t z = days + 719468;
    int64_t era = z / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int d = (int)(doy - (153 * mp + 2) / 5 + 1);
    int m = (int)(mp < 10 ? mp + 3 : mp - 9);
    if (m <= 2)
        y++;
    char b[32];
    b[0] = '"';
    put2(b + 1, (int)(y / 100));
    put2(b + 3, (int)(y % 100));
    b[5] = '-';
    put2(b + 6, m);
    b[8] = '-';
    put2(b + 9, d);
    b[11] = 'T';
    put2(b + 12, (int)(rem / 3600));
    b[14] = ':';
    put2(b + 15, (int)(rem / 60 % 60));
    b[17] = ':';
    put2(b + 18, (int)(rem % 60));
    size_t n = 20;
    if (frac) {
        b[n++] = '.';
        b[n++] = (char)('0' + frac / 100);
        b[n++] = (char)('0' + frac / 10 % 10);
        b[n++] = (char)('0' + frac % 10);
    }
    b[n++] = 'Z';
    b[n++] = '"';
    sb_append(sb, b, n);
}

/* ,"key": — keys are compile-time constants, never escaped. */
static void put_key(struct strbuf *sb, const char *k, bool comma)
{
    if (comma)
        sb_putc(sb, ',');
    sb_putc(sb, '"');
    sb_puts(sb, k);
    sb_append(sb, "\":", 2);
}

static void f_str(struct strbuf *sb, const char *k, const char *v)
{
    put_key(sb, k, true);
    sb_json_str(sb, v);
}

static void f_str_opt(struct strbuf *sb, const char *k, const char *v)
{
    if (v && *v)
        f_str(sb, k, v);
}

static void f_i64(struct strbuf *sb, const char *k, int64_t v)
{
    put_key(sb, k, true);
    put_i64(sb, v);
}

static void f_bool(struct strbuf *sb, const char *k, bool v)
{
    put_key(sb, k, true);
    sb_puts(sb, v ? "true" : "false");
}

static void f_time_opt(struct strbuf *sb, const char *k, int64_t ms)
{
    if (ms) {
        put_key(sb, k, true);
        put_time(sb, ms);
    }
}

static void f_time_or_null(struct strbuf *sb, const char *k, int64_t ms)
{
    put_key(sb, k, true);
    if (ms)
        put_time(sb, ms);
    else
        sb_puts(sb, "null");
}

static void f_strs(struct strbuf *sb, const char *k, const char *const *v, size_t n)
{
    put_key(sb, k, true);
    sb_putc(sb, '[');
    for (size_t i = 0; i < n; i++) {
        if (i)
            sb_putc(sb, ',');
        sb_json_str(sb, v[i]);
    }
    sb_putc(sb, ']');
}

static void put_job(struct strbuf *sb, const struct job *j)
{
    sb_append(sb, "{\"id\":", 6);
    sb_json_str(sb, j->id);
    f_str(sb, "deploymentId", j->deployment_id);
    f_str(sb, "jobName", j->job_name);
    f_str_opt(sb, "displayName", j->display_name);
    f_str(sb, "type", j->is_group ? "group" : "install");
    f_str(sb, "kind", j->is_group ? "group" : job_kind_name(j->kind));
    f_str_opt(sb, "appId", j->app_id);
    f_str_opt(sb, "region", j->region);
    f_str(sb, "parentId", j->parent_id);
    f_strs(sb, "dependsOn", j->depends_on, j->n_depends_on);
    f_str(sb, "status", job_status_name(j->status));
    f_time_opt(sb, "startedAt", j->started_at);
    f_time_opt(sb, "finishedAt", j->finished_at);
    f_i64(sb, "durationMs", j->duration_ms);
    f_str_opt(sb, "latestExecutionId", j->latest_execution_id);
    if (j->n_child_ids)
        f_strs(sb, "childIds", j->child_ids, j->n_child_ids);
    sb_putc(sb, '}');
}

void wire_encode_job(struct strbuf *sb, const struct job *j)
{
    put_job(sb, j);
    sb_putc(sb, '\n');
}

int wire_job_order(const void *a, const void *b)
{
    const struct job *x = *(const struct job *const *)a, *y = *(const struct job *const *)b;
    if (x->started_at != y->started_at) {
        if (!x->started_at)
            return 1;
        if (!y->started_at)
            return -1;
        return x->started_at > y->started_at ? -1 : 1;
    }
    return strcmp(x->job_name, y->job_name);
}

static void put_jobs_array(struct strbuf *sb, const struct job *jobs, size_t n)
{
    sb_putc(sb, '[');
    for (size_t i = 0; i < n; i++) {
        if (i)
            sb_putc(sb, ',');
        put_job(sb, &jobs[i]);
    }
    sb_putc(sb, ']');
}

void wire_encode_jobs(struct strbuf *sb, const struct job *jobs, size_t n)
{
    sb_append(sb, "{\"jobs\":", 8);
    put_jobs_array(sb, jobs, n);
    sb_append(sb, "}\n", 2);
}

static void put_execution(struct strbuf *sb, const struct execution *x)
{
    sb_append(sb, "{\"id\":", 6);
    sb_json_str(sb, x->id);
    f_str(sb, "jobId", x->job_id);
    f_str(sb, "deploymentId", x->deployment_id);
    f_str(sb, "status", exec_status_name(x->status));
    f_time_opt(sb, "startedAt", x->started_at);
    f_time_opt(sb, "finishedAt", x->finished_at);
    f_i64(sb, "lineCount", x->line_count);
    sb_putc(sb, '}');
}

void wire_encode_execution(struct strbuf *sb, const struct execution *x)
{
    put_execution(sb, x);
    sb_putc(sb, '\n');
}

void wire_encode_job_detail(struct strbuf *sb, const struct job *j,
                            const struct execution *const *execs, size_t n)
{
    sb_append(sb, "{\"job\":", 7);
    put_job(sb, j);
    sb_append(sb, ",\"executions\":[", 15);
    for (size_t i = 0; i < n; i++) {
        if (i)
            sb_putc(sb, ',');
        put_execution(sb, execs[i]);
    }
    sb_append(sb, "]}\n", 3);
}

void wire_encode_log_page(struct strbuf *sb, const struct log_page *p)
{
    sb_append(sb, "{\"lines\":[", 10);
    for (size_t i = 0; i < p->n_lines; i++) {
        const struct log_line *l = &p->lines[i];
        if (i)
            sb_putc(sb, ',');
        sb_append(sb, "{\"lineNumber\":", 14);
        put_i64(sb, l->line_number);
        put_key(sb, "timestamp", true);
        put_time(sb, l->timestamp);
        f_str(sb, "level", log_level_name(l->level));
        f_str(sb, "message", l->message);
        sb_putc(sb, '}');
    }
    sb_putc(sb, ']');
    f_i64(sb, "total", p->total);
    f_bool(sb, "executionFinished", p->execution_finished);
    sb_append(sb, "}\n", 2);
}

static void put_cutover(struct strbuf *sb, const struct cutover_status *c)
{
    sb_append(sb, "{\"state\":", 9);
    sb_json_str(sb, sov_state_name(c->state));
    f_bool(sb, "cutoverComplete", c->complete);
    f_time_opt(sb, "cutoverStartedAt", c->started_at);
    f_time_opt(sb, "cutoverFinishedAt", c->finished_at);
    f_time_opt(sb, "cutoverLastAttemptStartedAt", c->last_attempt_started_at);
    f_str_opt(sb, "currentStep", c->current_step);
    f_i64(sb, "currentStepIndex", c->current_step_index);
    f_i64(sb, "totalSteps", c->total_steps);
    f_i64(sb, "progressPercent", c->progress_percent);
    f_str_opt(sb, "failedStep", c->failed_step);
    f_str_opt(sb, "lastError", c->last_error);
    put_key(sb, "steps", true);
    sb_putc(sb, '[');
    for (size_t i = 0; i < c->n_steps; i++) {
        const struct cutover_step *s = &c->steps[i];
        if (i)
            sb_putc(sb, ',');
        sb_append(sb, "{\"name\":", 8);
        sb_json_str(sb, s->name);
        f_str(sb, "result", step_result_name(s->result));
        f_time_opt(sb, "startedAt", s->started_at);
        f_time_opt(sb, "finishedAt", s->finished_at);
        f_str_opt(sb, "jobName", s->job_name);
        f_str_opt(sb, "message", s->message);
        f_time_opt(sb, "holdUntil", s->hold_until);
        if (s->hold_seconds)
            f_i64(sb, "holdSeconds", s->hold_seconds);
        sb_putc(sb, '}');
    }
    sb_putc(sb, ']');
    if (c->n_raw) {
        put_key(sb, "raw", true);
        for (size_t i = 0; i < c->n_raw; i++) {
            sb_putc(sb, i ? ',' : '{');
            sb_json_str(sb, c->raw[i].key);
            sb_putc(sb, ':');
            sb_json_str(sb, c->raw[i].value);
        }
        sb_putc(sb, '}');
    }
    f_str_opt(sb, "mirroredCommitSHA", c->mirrored_commit_sha);
    if (c->harbor_project_count >= 0)
        f_i64(sb, "harborProjectCount", c->harbor_project_count);
    if (c->egress_test_passed >= 0)
        f_bool(sb, "egressTestPassed", c->egress_test_passed > 0);
    f_str_opt(sb, "settledRollOverrides", c->settled_roll_overrides);
    sb_putc(sb, '}');
}

void wire_encode_cutover_status(struct strbuf *sb, const struct cutover_status *c)
{
    put_cutover(sb, c);
    sb_putc(sb, '\n');
}

/* with_events: numEvents is a server's event-buffer count, not a fact of the Sovereign. */
static void put_deployment(struct strbuf *sb, const struct deployment *d, bool with_events)
{
    sb_append(sb, "{\"id\":", 6);
    sb_json_str(sb, d->id);
    f_str(sb, "status", d->status);
    f_time_opt(sb, "startedAt", d->started_at);
    f_time_or_null(sb, "finishedAt", d->finished_at);
    f_str(sb, "sovereignFQDN", d->sovereign_fqdn);
    f_str(sb, "region", d->region);
    if (with_events)
        f_i64(sb, "numEvents", d->num_events);
    f_str_opt(sb, "error", d->error);
    bool has_result = (d->control_plane_ip && *d->control_plane_ip) ||
                      (d->load_balancer_ip && *d->load_balancer_ip) ||
                      (d->console_url && *d->console_url) ||
                      (d->gitops_repo_url && *d->gitops_repo_url);
    if (has_result) {
        put_key(sb, "result", true);
        sb_append(sb, "{\"sovereignFQDN\":", 17);
        sb_json_str(sb, d->sovereign_fqdn);
        f_str_opt(sb, "controlPlaneIP", d->control_plane_ip);
        f_str_opt(sb, "loadBalancerIP", d->load_balancer_ip);
        f_str_opt(sb, "consoleURL", d->console_url);
        f_str_opt(sb, "gitopsRepoURL", d->gitops_repo_url);
        sb_putc(sb, '}');
    }
    f_time_opt(sb, "phase1FinishedAt", d->phase1_finished_at);
    f_str_opt(sb, "phase1Outcome", d->phase1_outcome);
    f_time_opt(sb, "handoverFiredAt", d->handover_fired_at);
    f_str_opt(sb, "ownerEmail", d->owner_email);
    f_str_opt(sb, "orgName", d->org_name);
    f_bool(sb, "operationInProgress", d->operation_in_progress);
    sb_putc(sb, '}');
}

void wire_encode_deployment(struct strbuf *sb, const struct deployment *d)
{
    put_deployment(sb, d, true);
    sb_putc(sb, '\n');
}

static void put_orgs(struct strbuf *sb, const struct organization *orgs, size_t n, bool deps)
{
    sb_putc(sb, '[');
    for (size_t i = 0; i < n; i++) {
        const struct organization *o = &orgs[i];
        if (i)
            sb_putc(sb, ',');
        sb_append(sb, "{\"name\":", 8);
        sb_json_str(sb, o->name);
        sb_append(sb, ",\"environments\":[", 17);
        for (size_t e = 0; e < o->n_envs; e++) {
            const struct environment *env = &o->envs[e];
            if (e)
                sb_putc(sb, ',');
            sb_append(sb, "{\"name\":", 8);
            sb_json_str(sb, env->name);
            f_str(sb, "type", env->type);
            sb_append(sb, ",\"applications\":[", 17);
            for (size_t k = 0; k < env->n_apps; k++) {
                const struct application *ap = &env->apps[k];
                if (k)
                    sb_putc(sb, ',');
                sb_append(sb, "{\"name\":", 8);
                sb_json_str(sb, ap->name);
                f_str(sb, "blueprint", ap->blueprint);
                f_str(sb, "version", ap->version);
                f_str(sb, "status", ap->status);
                if (deps)
                    f_strs(sb, "dependsOn", ap->depends_on, ap->n_depends_on);
                sb_putc(sb, '}');
            }
            sb_append(sb, "]}", 2);
        }
        sb_append(sb, "]}", 2);
    }
    sb_putc(sb, ']');
}

void wire_encode_organizations(struct strbuf *sb, const struct organization *orgs, size_t n,
                               const struct blueprint *bps, size_t n_bps)
{
    sb_append(sb, "{\"organizations\":", 17);
    put_orgs(sb, orgs, n, true);
    if (n_bps) {
        put_key(sb, "blueprints", true);
        for (size_t i = 0; i < n_bps; i++) {
            sb_append(sb, i ? ",{\"name\":" : "[{\"name\":", 9);
            sb_json_str(sb, bps[i].name);
            f_str(sb, "version", bps[i].version);
            f_strs(sb, "depends", bps[i].depends, bps[i].n_depends);
            sb_putc(sb, '}');
        }
        sb_putc(sb, ']');
    }
    sb_append(sb, "}\n", 2);
}

void wire_encode_error(struct strbuf *sb, const char *code, const char *detail)
{
    sb_append(sb, "{\"error\":", 9);
    sb_json_str(sb, code);
    f_str_opt(sb, "detail", detail);
    sb_append(sb, "}\n", 2);
}

void wire_encode_snapshot(struct strbuf *sb, const struct snapshot *s, bool with_source)
{
    const struct cutover_status *c = &s->cutover;
    enum sov_state state = c->complete ? SOV_SOVEREIGN : c->state;
    sb_putc(sb, '{');
    if (with_source) {
        const struct source_info *src = &s->source;
        sb_append(sb, "\"source\":{\"mode\":", 17);
        sb_json_str(sb, src->mode);
        f_str(sb, "url", src->url);
        f_bool(sb, "ok", src->ok);
        f_bool(sb, "stale", src->stale);
        f_str(sb, "error", src->error);
        f_time_or_null(sb, "fetchedAt", src->fetched_at);
        sb_append(sb, "},", 2);
    }
    sb_append(sb, "\"state\":", 8);
    sb_json_str(sb, sov_state_name(state));
    put_key(sb, "sovereign", true);
    sb_append(sb, "{\"name\":", 8);
    sb_json_str(sb, s->sovereign_name);
    f_str(sb, "fqdn", s->has_deployment ? s->deployment.sovereign_fqdn : "");
    f_str(sb, "provider", s->provider);
    sb_putc(sb, '}');
    put_key(sb, "deployment", true);
    if (s->has_deployment)
        put_deployment(sb, &s->deployment, false);
    else
        sb_puts(sb, "null");
    put_key(sb, "jobs", true);
    /* The server's order (WIRE §3.3), so a served and a standalone picture print alike. */
    const struct job **order = malloc((s->n_jobs ? s->n_jobs : 1) * sizeof(*order));
    if (!order) {
        sb->oom = true;
        return;
    }
    for (size_t i = 0; i < s->n_jobs; i++)
        order[i] = &s->jobs[i];
    qsort(order, s->n_jobs, sizeof(*order), wire_job_order);
    sb_putc(sb, '[');
    for (size_t i = 0; i < s->n_jobs; i++) {
        if (i)
            sb_putc(sb, ',');
        put_job(sb, order[i]);
    }
    sb_putc(sb, ']');
    free(order);
    put_key(sb, "cutover", true);
    struct cutover_status cc = *c;
    cc.state = state;
    if (!cc.available) {
        /* A zeroed status means "unknown": no summary values rather than 0 / false. */
        cc.harbor_project_count = -1;
        cc.egress_test_passed = -1;
    }
    put_cutover(sb, &cc);
    put_key(sb, "organizations", true);
    put_orgs(sb, s->orgs, s->n_orgs, false);
    put_key(sb, "counts", true);
    const struct job_counts *k = &s->counts;
    sb_append(sb, "{\"total\":", 9);
    put_i64(sb, k->total);
    f_i64(sb, "pending", k->by_status[JOB_PENDING]);
    f_i64(sb, "running", k->by_status[JOB_RUNNING]);
    f_i64(sb, "succeeded", k->by_status[JOB_SUCCEEDED]);
    f_i64(sb, "failed", k->by_status[JOB_FAILED]);
    f_i64(sb, "blocked", k->blocked);
    sb_append(sb, "}}\n", 3);
}
