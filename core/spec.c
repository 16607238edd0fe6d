/*
 * spec: the Sovereign spec loader (see spec.h).
 *
 * The YAML is read as a libyaml event stream by a recursive-descent walk of
 * the schema, so nothing nests deeper than the schema does: a value of the
 * wrong shape is refused at its first event, before the parser has to look
 * inside it. Arrays grow in malloc'd vectors while parsing and are copied
 * into the spec's arena once the whole document has been validated.
 *
 * Validation after parsing, in order: blueprints (names, unknown deps and
 * cycles via dag.h), applications naming blueprints, derivation of the
 * `apps` group, group names and `after` references, job names (across every
 * group and the cutover-step jobs), dependsOn resolution, and job cycles.
 * `after` edges take part in the cycle check through one barrier node per
 * group: the barrier depends on every job of its group, and each root job of
 * a group (a job without dependsOn, as the engine schedules it) depends on
 * the barriers of the group's `after` list. Everything is linear in jobs +
 * edges.
 */
#include "spec.h"

#include "arena.h"
#include "dag.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define SPEC_MAX_BYTES ((size_t)64 << 20)
#define SPEC_MAX_DEPTH 64
#define SPEC_NAME_MAX 200
#define SPEC_KEY_MAX 64
#define SPEC_MAX_RETRIES 1000
#define SPEC_FQDN_MAX 253
#define SPEC_FQDN_LABEL_MAX 63

extern const char catalyst_demo_yaml[], catalyst_demo_yaml_end[];

/* ---- small containers ------------------------------------------------- */

struct vec {
    char *data;
    size_t n, cap;
};

static void *vec_push(struct vec *v, size_t size)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 8;
        char *d = realloc(v->data, cap * size);
        if (!d)
            return NULL;
        v->data = d;
        v->cap = cap;
    }
    void *slot = v->data + v->n * size;
    memset(slot, 0, size);
    v->n++;
    return slot;
}

static void vec_free(struct vec *v)
{
    free(v->data);
    v->data = NULL;
    v->n = v->cap = 0;
}

/* Open-addressing map from borrowed C strings to integers. */
struct smap {
    const char **keys;
    int64_t *vals;
    size_t cap, n;
};

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h ^ (h >> 29);
}

static bool smap_grow(struct smap *m)
{
    size_t cap = m->cap ? m->cap * 2 : 64;
    const char **keys = calloc(cap, sizeof(*keys));
    int64_t *vals = calloc(cap, sizeof(*vals));
    if (!keys || !vals) {
        free(keys);
        free(vals);
        return false;
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->keys[i])
            continue;
        size_t j = hash_str(m->keys[i]) & (cap - 1);
        while (keys[j])
            j = (j + 1) & (cap - 1);
        keys[j] = m->keys[i];
        vals[j] = m->vals[i];
    }
    free(m->keys);
    free(m->vals);
    m->keys = keys;
    m->vals = vals;
    m->cap = cap;
    return true;
}

static bool smap_get(const struct smap *m, const char *key, int64_t *val)
{
    if (!m->cap)
        return false;
    for (size_t j = hash_str(key) & (m->cap - 1); m->keys[j]; j = (j + 1) & (m->cap - 1)) {
        if (strcmp(m->keys[j], key) == 0) {
            if (val)
                *val = m->vals[j];
            return true;
        }
    }
    return false;
}

/* 1 inserted, 0 already present (*old set), -1 out of memory. */
static int smap_put(struct smap *m, const char *key, int64_t val, int64_t *old)
{
    if ((m->n + 1) * 2 > m->cap && !smap_grow(m))
        return -1;
    size_t j = hash_str(key) & (m->cap - 1);
    for (; m->keys[j]; j = (j + 1) & (m->cap - 1)) {
        if (strcmp(m->keys[j], key) == 0) {
            if (old)
                *old = m->vals[j];
            return 0;
        }
    }
    m->keys[j] = key;
    m->vals[j] = val;
    m->n++;
    return 1;
}

static void smap_free(struct smap *m)
{
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof(*m));
}

/* ---- loader state ----------------------------------------------------- */

struct mark {
    int line, col;
};

struct jmeta {
    struct mark *dep_marks; /* one per dependsOn entry; NULL for derived jobs */
};

struct gbuild {
    struct spec_group g;     /* jobs/n_jobs filled at the end */
    struct mark *after_marks;
    struct vec jobs;         /* struct spec_job */
    struct vec metas;        /* struct jmeta */
};

struct loader {
    yaml_parser_t parser;
    yaml_event_t ev;
    bool have_ev;
    int depth;
    struct error *err;
    const char *file;
    const char *buf;
    size_t len;
    struct arena *a;         /* the spec's arena */
    struct arena *tmp;       /* marks and scratch, freed after loading */
    struct spec *spec;
    struct vec groups;       /* struct gbuild */
    struct vec blueprints;   /* struct spec_blueprint */
    struct vec bp_marks;     /* struct mark *, dep marks per blueprint */
    struct vec orgs;         /* struct spec_org */
    struct vec steps;        /* struct spec_job */
    struct vec step_metas;   /* struct jmeta */
    struct mark *cutover_after_marks;
    struct smap bp_index;    /* blueprint name -> index */
    char key[SPEC_KEY_MAX + 1];
    bool key_long;
    char q[2][96];           /* quoted values for messages */
};

static bool failv(struct loader *L, struct mark m, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
static bool failv(struct loader *L, struct mark m, const char *fmt, va_list ap)
{
    if (L->err && L->err->code)
        return false;
    char msg[900];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    error_at(L->err, EXIT_USAGE, L->file, m.line, m.col, "%s", msg);
    return false;
}

static bool fail(struct loader *L, struct mark m, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static bool fail(struct loader *L, struct mark m, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    failv(L, m, fmt, ap);
    va_end(ap);
    return false;
}

static bool oom(struct loader *L)
{
    return fail(L, (struct mark){0, 0}, "out of memory");
}

/*
 * An untrusted value for messages: shown only when it is a short plain word
 * (util_msg_word), so an error never prints a line of the file (a spec
 * path may point at anything, e.g. a secret).
 */
static const char *quote(struct loader *L, int slot, const char *s, size_t n)
{
    char *out = L->q[slot];
    if (n > SPEC_KEY_MAX || memchr(s, '\0', n)) {
        snprintf(out, sizeof(L->q[slot]), "%s", "(not shown)");
        return out;
    }
    snprintf(out, sizeof(L->q[slot]), "%.*s", (int)n, s);
    if (util_msg_word(out, SPEC_KEY_MAX) != out)
        snprintf(out, sizeof(L->q[slot]), "%s", "(not shown)");
    return out;
}

static const char *q0(struct loader *L, const char *s) { return quote(L, 0, s, strlen(s)); }

static struct mark ev_mark(const struct loader *L)
{
    return (struct mark){(int)L->ev.start_mark.line + 1, (int)L->ev.start_mark.column + 1};
}

/* Line and column of a byte offset, for reader errors that carry only an offset. */
static struct mark offset_mark(const struct loader *L, size_t off)
{
    struct mark m = {1, 1};
    if (off > L->len)
        off = L->len;
    for (size_t i = 0; i < off; i++) {
        if (L->buf[i] == '\n') {
            m.line++;
            m.col = 1;
        } else if (((unsigned char)L->buf[i] & 0xc0) != 0x80) {
            m.col++;
        }
    }
    return m;
}

static bool yaml_fail(struct loader *L)
{
    yaml_parser_t *p = &L->parser;
    const char *problem = p->problem ? p->problem : "malformed YAML";
    if (p->error == YAML_MEMORY_ERROR)
        return oom(L);
    if (p->error == YAML_READER_ERROR) {
        struct mark m = offset_mark(L, p->problem_offset);
        if (p->problem_value != -1)
            return fail(L, m, "invalid input: %s (byte 0x%02x)", problem,
                        (unsigned)p->problem_value & 0xff);
        return fail(L, m, "invalid input: %s", problem);
    }
    struct mark m = {(int)p->problem_mark.line + 1, (int)p->problem_mark.column + 1};
    if (p->context)
        return fail(L, m, "YAML syntax error: %s (%s)", problem, p->context);
    return fail(L, m, "YAML syntax error: %s", problem);
}

static bool ev_next(struct loader *L)
{
    if (L->have_ev) {
        yaml_event_delete(&L->ev);
        L->have_ev = false;
    }
    if (!yaml_parser_parse(&L->parser, &L->ev))
        return yaml_fail(L);
    L->have_ev = true;
    switch (L->ev.type) {
    case YAML_ALIAS_EVENT:
        return fail(L, ev_mark(L), "aliases (*%s) are not supported in a spec",
                    q0(L, (const char *)L->ev.data.alias.anchor));
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT:
        if (++L->depth > SPEC_MAX_DEPTH)
            return fail(L, ev_mark(L), "nesting deeper than %d levels", SPEC_MAX_DEPTH);
        break;
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        L->depth--;
        break;
    default:
        break;
    }
    return true;
}

static bool ev_is_null(const struct loader *L)
{
    if (L->ev.type != YAML_SCALAR_EVENT || L->ev.data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *v = (const char *)L->ev.data.scalar.value;
    size_t n = L->ev.data.scalar.length;
    return n == 0 || (n == 1 && v[0] == '~') || (n == 4 && (strcmp(v, "null") == 0 ||
                                                            strcmp(v, "Null") == 0 ||
                                                            strcmp(v, "NULL") == 0));
}

static const char *ev_found(const struct loader *L)
{
    switch (L->ev.type) {
    case YAML_MAPPING_START_EVENT: return "a mapping";
    case YAML_SEQUENCE_START_EVENT: return "a sequence";
    case YAML_SCALAR_EVENT: return ev_is_null(L) ? "nothing" : "a scalar";
    default: return "the end of a collection";
    }
}

static bool type_fail(struct loader *L, const char *want, const char *key)
{
    return fail(L, ev_mark(L), "expected %s for \"%s\", found %s", want, key, ev_found(L));
}

/* ---- scalar and collection readers ------------------------------------ */

/* The current scalar event's value copied into the spec arena. */
static const char *ev_str(struct loader *L)
{
    const char *v = (const char *)L->ev.data.scalar.value;
    size_t n = L->ev.data.scalar.length;
    if (memchr(v, '\0', n)) {
        fail(L, ev_mark(L), "value contains a NUL character");
        return NULL;
    }
    char *s = arena_strndup(L->a, v, n);
    if (!s)
        oom(L);
    return s;
}

/* Reads a string value. A null value leaves *out alone when nullable. */
static bool read_str(struct loader *L, const char *key, bool nullable, const char **out,
                     struct mark *where)
{
    if (!ev_next(L))
        return false;
    if (where)
        *where = ev_mark(L);
    if (L->ev.type != YAML_SCALAR_EVENT || (!nullable && ev_is_null(L)))
        return type_fail(L, "a string", key);
    if (ev_is_null(L))
        return true;
    *out = ev_str(L);
    return *out != NULL;
}

static bool read_int(struct loader *L, const char *key, int *out)
{
    if (!ev_next(L))
        return false;
    if (L->ev.type != YAML_SCALAR_EVENT || ev_is_null(L))
        return type_fail(L, "an integer", key);
    const char *v = (const char *)L->ev.data.scalar.value;
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (end == v || *end || errno || x < -1000000000LL || x > 1000000000LL)
        return fail(L, ev_mark(L), "expected an integer for \"%s\", found \"%s\"", key,
                    q0(L, v));
    if (x < 0)
        return fail(L, ev_mark(L), "\"%s\" must be >= 0, found %lld", key, x);
    if (x > SPEC_MAX_RETRIES)
        return fail(L, ev_mark(L), "\"%s\" must be <= %d, found %lld", key, SPEC_MAX_RETRIES,
                    x);
    *out = (int)x;
    return true;
}

static bool read_bool(struct loader *L, const char *key, bool *out)
{
    if (!ev_next(L))
        return false;
    if (L->ev.type == YAML_SCALAR_EVENT) {
        const char *v = (const char *)L->ev.data.scalar.value;
        if (!strcmp(v, "true") || !strcmp(v, "True") || !strcmp(v, "TRUE")) {
            *out = true;
            return true;
        }
        if (!strcmp(v, "false") || !strcmp(v, "False") || !strcmp(v, "FALSE")) {
            *out = false;
            return true;
        }
        if (!ev_is_null(L))
            return fail(L, ev_mark(L), "expected true or false for \"%s\", found \"%s\"", key,
                        q0(L, v));
    }
    return type_fail(L, "a boolean", key);
}

static bool read_duration(struct loader *L, const char *key, int64_t *out)
{
    if (!ev_next(L))
        return false;
    if (L->ev.type != YAML_SCALAR_EVENT || ev_is_null(L))
        return type_fail(L, "a duration", key);
    const char *v = (const char *)L->ev.data.scalar.value;
    /*
     * duration_parse bounds each number, not their sum: past 32 characters
     * enough huge parts could overflow it. No sane duration is that long.
     */
    if (L->ev.data.scalar.length > 32 || duration_parse(v, out) != 0)
        return fail(L, ev_mark(L), "bad duration \"%s\" for \"%s\" (use e.g. 5s, 10m, 1h30m, "
                    "250ms)", q0(L, v), key);
    return true;
}

/*
 * Opens a collection whose first event is start: 1 opened, 0 the value is
 * null (nothing opened; callers treat it as empty or missing), -1 error.
 */
static int open_coll(struct loader *L, const char *key, yaml_event_type_t start,
                     const char *want)
{
    if (!ev_next(L))
        return -1;
    if (L->ev.type == start)
        return 1;
    if (ev_is_null(L))
        return 0;
    type_fail(L, want, key);
    return -1;
}

static int open_seq(struct loader *L, const char *key)
{
    return open_coll(L, key, YAML_SEQUENCE_START_EVENT, "a sequence");
}

static int open_map(struct loader *L, const char *key)
{
    return open_coll(L, key, YAML_MAPPING_START_EVENT, "a mapping");
}

/* Next item of an open sequence: 1 item event current, 0 at the end, -1 error. */
static int seq_item(struct loader *L)
{
    if (!ev_next(L))
        return -1;
    return L->ev.type == YAML_SEQUENCE_END_EVENT ? 0 : 1;
}

/* Next item of an open sequence of mappings: 1 at its MAPPING_START, 0 at the end, -1 error. */
static int seq_map(struct loader *L, const char *key)
{
    int r = seq_item(L);
    if (r == 1 && L->ev.type != YAML_MAPPING_START_EVENT) {
        type_fail(L, "a mapping", key);
        return -1;
    }
    return r;
}

/* Next key of an open mapping into L->key: 1 key read, 0 at the end, -1 error. */
static int map_key(struct loader *L, struct mark *where)
{
    if (!ev_next(L))
        return -1;
    if (L->ev.type == YAML_MAPPING_END_EVENT)
        return 0;
    *where = ev_mark(L);
    if (L->ev.type != YAML_SCALAR_EVENT) {
        fail(L, *where, "expected a string key, found %s", ev_found(L));
        return -1;
    }
    size_t n = L->ev.data.scalar.length;
    if (memchr(L->ev.data.scalar.value, '\0', n)) {
        fail(L, *where, "key contains a NUL character");
        return -1;
    }
    L->key_long = n > SPEC_KEY_MAX;
    memcpy(L->key, L->ev.data.scalar.value, L->key_long ? SPEC_KEY_MAX : n);
    L->key[L->key_long ? SPEC_KEY_MAX : n] = '\0';
    return 1;
}

/* Index of L->key in keys[], or fails with "unknown key"; checks duplicates via *seen. */
static int key_index(struct loader *L, const char *const *keys, const char *what,
                     unsigned *seen, struct mark where)
{
    for (int i = 0; keys[i] && !L->key_long; i++) {
        if (strcmp(keys[i], L->key) == 0) {
            if (*seen & (1u << i)) {
                fail(L, where, "duplicate key \"%s\" in %s", keys[i], what);
                return -1;
            }
            *seen |= 1u << i;
            return i;
        }
    }
    fail(L, where, "unknown key \"%s\" in %s", quote(L, 0, L->key, strlen(L->key)), what);
    return -1;
}

static bool name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > SPEC_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '-' && c != '_' && c != '.')))
            return false;
    }
    return true;
}

static bool check_name(struct loader *L, const char *what, const char *s, struct mark where)
{
    if (name_ok(s))
        return true;
    return fail(L, where, "invalid %s name \"%s\" (letters, digits, '-', '_', '.'; at most %d)",
                what, q0(L, s), SPEC_NAME_MAX);
}

/*
 * A DNS name (RFC 1035 shape): at most 253 characters, dot-separated labels of
 * 1-63 letters, digits and hyphens, no label starting or ending with a hyphen;
 * one trailing dot (an absolute name) is allowed and not counted in the 253.
 * The empty string means "not set". The value reaches files, URLs and screens.
 */
static bool check_fqdn(struct loader *L, const char *s, struct mark where)
{
    size_t n = strlen(s);
    if (n == 0)
        return true;
    if (s[n - 1] == '.' && --n == 0)
        return fail(L, where, "invalid fqdn \"%s\": empty label", q0(L, s));
    if (n > SPEC_FQDN_MAX)
        return fail(L, where, "fqdn is %zu characters long (at most %d)", n, SPEC_FQDN_MAX);
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != '.') {
            char c = s[i];
            bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                         (c >= '0' && c <= '9');
            if (!alnum && c != '-')
                return fail(L, where, "invalid fqdn \"%s\": character %zu is not a letter, "
                            "digit, '-' or '.'", q0(L, s), i + 1);
            continue;
        }
        size_t len = i - start;
        if (len == 0)
            return fail(L, where, "invalid fqdn \"%s\": empty label", q0(L, s));
        if (len > SPEC_FQDN_LABEL_MAX)
            return fail(L, where, "invalid fqdn \"%s\": label %zu characters long (at most %d)",
                        q0(L, s), len, SPEC_FQDN_LABEL_MAX);
        if (s[start] == '-' || s[i - 1] == '-')
            return fail(L, where, "invalid fqdn \"%s\": a label starts or ends with '-'",
                        q0(L, s));
        start = i + 1;
    }
    return true;
}

static void *arena_copy(struct loader *L, const void *src, size_t n, size_t size)
{
    if (n == 0)
        return NULL;
    void *p = arena_calloc(L->a, n, size);
    if (!p) {
        oom(L);
        return NULL;
    }
    memcpy(p, src, n * size);
    return p;
}

/* A sequence of strings (names of a kind when kind is set), marks in the scratch arena. */
static bool read_str_list(struct loader *L, const char *key, const char *kind,
                          const char ***out, size_t *n_out, struct mark **marks_out)
{
    int opened = open_seq(L, key);
    if (opened < 0)
        return false;
    *out = NULL;
    *n_out = 0;
    if (opened == 0)
        return true;
    struct vec items = {0}, marks = {0};
    bool ok = true;
    int r;
    while ((r = seq_item(L)) == 1) {
        struct mark m = ev_mark(L);
        if (L->ev.type != YAML_SCALAR_EVENT || ev_is_null(L)) {
            ok = type_fail(L, "a string item", key);
            break;
        }
        const char *s = ev_str(L);
        const char **slot = s ? vec_push(&items, sizeof(*slot)) : NULL;
        struct mark *ms = slot ? vec_push(&marks, sizeof(*ms)) : NULL;
        if (!ms) {
            ok = s ? oom(L) : false;
            break;
        }
        *slot = s;
        *ms = m;
        if (kind && !check_name(L, kind, s, m)) {
            ok = false;
            break;
        }
    }
    if (r < 0)
        ok = false;
    if (ok && items.n) {
        *out = arena_copy(L, items.data, items.n, sizeof(const char *));
        *n_out = items.n;
        if (marks_out) {
            *marks_out = arena_calloc(L->tmp, marks.n, sizeof(struct mark));
            if (*marks_out)
                memcpy(*marks_out, marks.data, marks.n * sizeof(struct mark));
            else
                ok = oom(L);
        }
        ok = ok && *out;
    }
    vec_free(&items);
    vec_free(&marks);
    return ok;
}

/* ---- schema walk ------------------------------------------------------ */

static bool parse_sovereign(struct loader *L)
{
    static const char *const keys[] = {"name", "fqdn", "provider", "regions", "deploymentId",
                                       NULL};
    int opened = open_map(L, "sovereign");
    if (opened < 0)
        return false;
    if (opened == 0)
        return fail(L, ev_mark(L), "missing required key \"name\" in sovereign");
    struct spec *s = L->spec;
    struct mark start = ev_mark(L), km, vm;
    unsigned seen = 0;
    int r;
    while ((r = map_key(L, &km)) == 1) {
        int k = key_index(L, keys, "sovereign", &seen, km);
        bool ok;
        switch (k) {
        case 0:
            ok = read_str(L, "name", false, &s->name, &vm) && check_name(L, "sovereign",
                                                                         s->name, vm);
            break;
        case 1: ok = read_str(L, "fqdn", true, &s->fqdn, &vm) && check_fqdn(L, s->fqdn, vm);
            break;
        case 2: ok = read_str(L, "provider", true, &s->provider, NULL); break;
        case 3: ok = read_str_list(L, "regions", NULL, &s->regions, &s->n_regions, NULL); break;
        case 4:
            ok = read_str(L, "deploymentId", true, &s->deployment_id, &vm);
            if (ok) {
                const char *d = s->deployment_id;
                size_t n = strlen(d), i = 0;
                while (i < n && ((d[i] >= '0' && d[i] <= '9') || (d[i] >= 'a' && d[i] <= 'f')))
                    i++;
                if (n && (n != 16 || i != n))
                    ok = fail(L, vm, "bad deploymentId \"%s\" (16 lowercase hex digits)",
                              q0(L, d));
            }
            break;
        default: ok = false;
        }
        if (!ok)
            return false;
    }
    if (r < 0)
        return false;
    if (!(seen & 1))
        return fail(L, start, "missing required key \"name\" in sovereign");
    return true;
}

static bool parse_blueprints(struct loader *L)
{
    static const char *const keys[] = {"name", "version", "depends", NULL};
    int opened = open_seq(L, "blueprints");
    if (opened <= 0)
        return opened == 0;
    int r;
    while ((r = seq_map(L, "blueprints")) == 1) {
        struct spec_blueprint *b = vec_push(&L->blueprints, sizeof(*b));
        struct mark **bm = b ? vec_push(&L->bp_marks, sizeof(*bm)) : NULL;
        if (!bm)
            return oom(L);
        struct mark start = ev_mark(L), km, vm;
        b->line = start.line;
        b->column = start.col;
        b->version = "";
        unsigned seen = 0;
        int rk;
        while ((rk = map_key(L, &km)) == 1) {
            int k = key_index(L, keys, "blueprint", &seen, km);
            bool ok;
            switch (k) {
            case 0:
                ok = read_str(L, "name", false, &b->name, &vm) &&
                     check_name(L, "blueprint", b->name, vm);
                break;
            case 1: ok = read_str(L, "version", true, &b->version, NULL); break;
            case 2:
                ok = read_str_list(L, "depends", "blueprint", &b->depends, &b->n_depends, bm);
                break;
            default: ok = false;
            }
            if (!ok)
                return false;
        }
        if (rk < 0)
            return false;
        if (!(seen & 1))
            return fail(L, start, "missing required key \"name\" in blueprint");
    }
    return r == 0;
}

static const char *const reserved_orgs[] = {
    "system", "flux", "crossplane", "catalyst", "gitea",
    "hz", "hw", "oci", "aws", "gcp", "az", "ct",
    "fsn", "nbg", "hel", "ash", "hil", "sin", "apse", "cnn", "las", "mer",
    "dxb", "fra", "sg", "iad", "syd", "eu",
    "rtz", "dmz", "mgt", "mgmt",
    "prod", "stg", "uat", "dev", "poc", NULL};

static bool check_org_name(struct loader *L, const char *s, struct mark m)
{
    size_t n = strlen(s);
    bool ok = n >= 3 && n <= 32 && s[0] >= 'a' && s[0] <= 'z';
    for (size_t i = 1; ok && i < n; i++)
        ok = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-';
    if (!ok)
        return fail(L, m, "invalid organization name \"%s\" (must match "
                    "^[a-z][a-z0-9-]{2,31}$)", q0(L, s));
    bool reserved = strncmp(s, "kube-", 5) == 0;
    for (int i = 0; !reserved && reserved_orgs[i]; i++)
        reserved = strcmp(reserved_orgs[i], s) == 0;
    if (reserved)
        return fail(L, m, "organization name \"%s\" is reserved", s);
    return true;
}

static bool parse_apps(struct loader *L, struct spec_env *env)
{
    static const char *const keys[] = {"name", "blueprint", NULL};
    int opened = open_seq(L, "applications");
    if (opened <= 0)
        return opened == 0;
    struct vec apps = {0};
    struct smap names = {0};
    bool ok = true;
    int r;
    while (ok && (r = seq_map(L, "applications")) == 1) {
        struct spec_app *app = vec_push(&apps, sizeof(*app));
        if (!app) {
            ok = oom(L);
            break;
        }
        struct mark start = ev_mark(L), km, name_m = start;
        app->line = start.line;
        app->column = start.col;
        unsigned seen = 0;
        int rk;
        while (ok && (rk = map_key(L, &km)) == 1) {
            int k = key_index(L, keys, "application", &seen, km);
            if (k == 0)
                ok = read_str(L, "name", false, &app->name, &name_m) &&
                     check_name(L, "application", app->name, name_m);
            else if (k == 1)
                ok = read_str(L, "blueprint", false, &app->blueprint, NULL);
            else
                ok = false;
        }
        if (!ok || rk < 0) {
            ok = false;
            break;
        }
        if (!(seen & 1))
            ok = fail(L, start, "missing required key \"name\" in application");
        else if (!(seen & 2))
            ok = fail(L, start, "missing required key \"blueprint\" in application");
        if (!ok)
            break;
        int put = smap_put(&names, app->name, 0, NULL);
        if (put < 0)
            ok = oom(L);
        else if (put == 0)
            ok = fail(L, name_m, "duplicate application \"%s\" in the %s environment",
                      app->name, env->type ? env->type : "");
    }
    if (ok && r < 0)
        ok = false;
    if (ok) {
        env->n_apps = apps.n;
        env->apps = arena_copy(L, apps.data, apps.n, sizeof(struct spec_app));
        ok = !apps.n || env->apps;
    }
    vec_free(&apps);
    smap_free(&names);
    return ok;
}

static bool parse_envs(struct loader *L, struct spec_org *org)
{
    static const char *const keys[] = {"type", "applications", NULL};
    static const char *const types[] = {"prod", "stg", "uat", "dev", "poc"};
    int opened = open_seq(L, "environments");
    if (opened <= 0)
        return opened == 0;
    struct vec envs = {0};
    bool ok = true;
    int r;
    while (ok && (r = seq_map(L, "environments")) == 1) {
        struct spec_env *env = vec_push(&envs, sizeof(*env));
        if (!env) {
            ok = oom(L);
            break;
        }
        struct mark start = ev_mark(L), km, tm;
        unsigned seen = 0;
        int rk;
        while (ok && (rk = map_key(L, &km)) == 1) {
            int k = key_index(L, keys, "environment", &seen, km);
            if (k == 0) {
                ok = read_str(L, "type", false, &env->type, &tm);
                int t = 0;
                while (ok && t < 5 && strcmp(types[t], env->type) != 0)
                    t++;
                if (ok && t == 5)
                    ok = fail(L, tm, "invalid environment type \"%s\" (expected prod, stg, "
                              "uat, dev or poc)", q0(L, env->type));
                for (size_t i = 0; ok && i + 1 < envs.n; i++)
                    if (strcmp(((struct spec_env *)envs.data)[i].type, env->type) == 0)
                        ok = fail(L, tm, "duplicate environment type \"%s\" in organization",
                                  env->type);
            } else if (k == 1) {
                ok = parse_apps(L, env);
            } else {
                ok = false;
            }
        }
        if (!ok || rk < 0) {
            ok = false;
            break;
        }
        if (!(seen & 1))
            ok = fail(L, start, "missing required key \"type\" in environment");
    }
    if (ok && r < 0)
        ok = false;
    if (ok) {
        org->n_envs = envs.n;
        org->envs = arena_copy(L, envs.data, envs.n, sizeof(struct spec_env));
        ok = !envs.n || org->envs;
    }
    vec_free(&envs);
    return ok;
}

static bool parse_orgs(struct loader *L)
{
    static const char *const keys[] = {"name", "environments", NULL};
    int opened = open_seq(L, "organizations");
    if (opened <= 0)
        return opened == 0;
    struct smap org_names = {0};
    bool ok = true;
    int r;
    while (ok && (r = seq_map(L, "organizations")) == 1) {
        struct spec_org *org = vec_push(&L->orgs, sizeof(*org));
        if (!org) {
            ok = oom(L);
            break;
        }
        struct mark start = ev_mark(L), km, nm;
        unsigned seen = 0;
        int rk;
        while (ok && (rk = map_key(L, &km)) == 1) {
            int k = key_index(L, keys, "organization", &seen, km);
            if (k == 0) {
                ok = read_str(L, "name", false, &org->name, &nm) && check_org_name(L, org->name,
                                                                                    nm);
                int put = ok ? smap_put(&org_names, org->name, 0, NULL) : 1;
                if (put < 0)
                    ok = oom(L);
                else if (put == 0)
                    ok = fail(L, nm, "duplicate organization \"%s\"", org->name);
            } else if (k == 1) {
                ok = parse_envs(L, org);
            } else {
                ok = false;
            }
        }
        if (!ok || rk < 0) {
            ok = false;
            break;
        }
        if (!(seen & 1)) {
            ok = fail(L, start, "missing required key \"name\" in organization");
            break;
        }
        /* Names last: the keys of an organization may come in any order. */
        for (size_t e = 0; ok && e < org->n_envs; e++) {
            org->envs[e].name = arena_printf(L->a, "%s-%s", org->name, org->envs[e].type);
            ok = org->envs[e].name || oom(L);
        }
    }
    if (ok && r < 0)
        ok = false;
    smap_free(&org_names);
    return ok;
}

static bool parse_env_map(struct loader *L, struct spec_job *j)
{
    int opened = open_map(L, "env");
    if (opened <= 0)
        return opened == 0;
    struct vec kvs = {0};
    struct smap seen = {0};
    bool ok = true;
    for (;;) {
        if (!ev_next(L)) {
            ok = false;
            break;
        }
        if (L->ev.type == YAML_MAPPING_END_EVENT)
            break;
        struct mark km = ev_mark(L);
        if (L->ev.type != YAML_SCALAR_EVENT) {
            ok = fail(L, km, "expected a string key, found %s", ev_found(L));
            break;
        }
        const char *k = ev_str(L);
        struct kv *kv = k ? vec_push(&kvs, sizeof(*kv)) : NULL;
        if (!kv) {
            ok = k ? oom(L) : false;
            break;
        }
        kv->key = k;
        bool valid = k[0] && !(k[0] >= '0' && k[0] <= '9');
        for (const char *p = k; valid && *p; p++)
            valid = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                    (*p >= '0' && *p <= '9') || *p == '_';
        if (!valid) {
            ok = fail(L, km, "invalid environment variable name \"%s\"", q0(L, k));
            break;
        }
        int put = smap_put(&seen, k, 0, NULL);
        if (put <= 0) {
            ok = put < 0 ? oom(L) : fail(L, km, "duplicate key \"%s\" in env", q0(L, k));
            break;
        }
        kv->value = "";
        if (!read_str(L, k, true, &kv->value, NULL)) {
            ok = false;
            break;
        }
    }
    if (ok && kvs.n) {
        j->n_env = kvs.n;
        j->env = arena_copy(L, kvs.data, kvs.n, sizeof(struct kv));
        ok = j->env != NULL;
    }
    vec_free(&kvs);
    smap_free(&seen);
    return ok;
}

static bool parse_simulate(struct loader *L, struct spec_job *j)
{
    static const char *const keys[] = {"duration", "failFirst", "logs", NULL};
    int opened = open_map(L, "simulate");
    if (opened < 0)
        return false;
    j->simulated = true;
    if (opened == 0)
        return true;
    struct mark km;
    unsigned seen = 0;
    int r;
    while ((r = map_key(L, &km)) == 1) {
        int k = key_index(L, keys, "simulate", &seen, km);
        bool ok;
        if (k == 0)
            ok = read_duration(L, "duration", &j->sim_duration_ms);
        else if (k == 1)
            ok = read_int(L, "failFirst", &j->sim_fail_first);
        else if (k == 2)
            ok = read_str_list(L, "logs", NULL, &j->sim_logs, &j->n_sim_logs, NULL);
        else
            ok = false;
        if (!ok)
            return false;
    }
    return r == 0;
}

/* A job mapping (the current event is its MAPPING_START). */
static bool parse_job(struct loader *L, struct spec_job *j, struct jmeta *meta, bool step)
{
    static const char *const keys[] = {"name", "displayName", "app", "dependsOn", "run", "env",
                                       "timeout", "retries", "simulate", "hold", "label", NULL};
    const char *what = step ? "cutover step" : "job";
    struct mark start = ev_mark(L), km, nm = start;
    j->line = start.line;
    j->column = start.col;
    j->display_name = j->app = j->label = "";
    unsigned seen = 0;
    bool has_sim = false;
    int r;
    while ((r = map_key(L, &km)) == 1) {
        int k = key_index(L, keys, what, &seen, km);
        if (k < 0)
            return false;
        if ((k >= 9 && !step) || (k == 3 && step)) {
            if (step)
                return fail(L, km, "unknown key \"dependsOn\" in cutover step (steps run in "
                            "order)");
            return fail(L, km, "unknown key \"%s\" in job", keys[k]);
        }
        bool ok;
        switch (k) {
        case 0:
            ok = read_str(L, "name", false, &j->name, &nm) && check_name(L, what, j->name, nm);
            break;
        case 1: ok = read_str(L, "displayName", true, &j->display_name, NULL); break;
        case 2: ok = read_str(L, "app", true, &j->app, NULL); break;
        case 3:
            ok = read_str_list(L, "dependsOn", NULL, &j->depends_on, &j->n_depends_on,
                               &meta->dep_marks);
            break;
        case 4: ok = read_str(L, "run", false, &j->run, NULL); break;
        case 5: ok = parse_env_map(L, j); break;
        case 6: ok = read_duration(L, "timeout", &j->timeout_ms); break;
        case 7: ok = read_int(L, "retries", &j->retries); break;
        case 8: ok = parse_simulate(L, j); has_sim = true; break;
        case 9: ok = read_duration(L, "hold", &j->hold_ms); break;
        case 10: ok = read_str(L, "label", true, &j->label, NULL); break;
        default: ok = false;
        }
        if (!ok)
            return false;
    }
    if (r < 0)
        return false;
    if (!(seen & 1))
        return fail(L, start, "missing required key \"name\" in %s", what);
    if (j->run && has_sim)
        return fail(L, start, "%s \"%s\" has both \"run\" and \"simulate\"", what, j->name);
    if (!j->run)
        j->simulated = true;
    return true;
}

static bool parse_jobs(struct loader *L, struct gbuild *gb)
{
    int opened = open_seq(L, "jobs");
    if (opened <= 0)
        return opened == 0;
    int r;
    while ((r = seq_map(L, "jobs")) == 1) {
        struct spec_job *j = vec_push(&gb->jobs, sizeof(*j));
        struct jmeta *m = j ? vec_push(&gb->metas, sizeof(*m)) : NULL;
        if (!m)
            return oom(L);
        if (!parse_job(L, j, m, false))
            return false;
    }
    return r == 0;
}

static bool parse_groups(struct loader *L)
{
    static const char *const keys[] = {"name", "displayName", "after", "jobs", NULL};
    int opened = open_seq(L, "groups");
    if (opened <= 0)
        return opened == 0;
    int r;
    while ((r = seq_map(L, "groups")) == 1) {
        struct gbuild *gb = vec_push(&L->groups, sizeof(*gb));
        if (!gb)
            return oom(L);
        struct mark start = ev_mark(L), km, nm;
        size_t gi = L->groups.n - 1;
        gb->g.line = start.line;
        gb->g.column = start.col;
        gb->g.display_name = "";
        unsigned seen = 0;
        int rk;
        while ((rk = map_key(L, &km)) == 1) {
            int k = key_index(L, keys, "group", &seen, km);
            gb = (struct gbuild *)L->groups.data + gi;
            bool ok;
            switch (k) {
            case 0:
                ok = read_str(L, "name", false, &gb->g.name, &nm) &&
                     check_name(L, "group", gb->g.name, nm);
                break;
            case 1: ok = read_str(L, "displayName", true, &gb->g.display_name, NULL); break;
            case 2:
                ok = read_str_list(L, "after", "group", &gb->g.after, &gb->g.n_after,
                                   &gb->after_marks);
                break;
            case 3: ok = parse_jobs(L, gb); break;
            default: ok = false;
            }
            if (!ok)
                return false;
        }
        if (rk < 0)
            return false;
        if (!(seen & 1))
            return fail(L, start, "missing required key \"name\" in group");
    }
    return r == 0;
}

static bool parse_cutover(struct loader *L)
{
    static const char *const keys[] = {"auto", "after", "steps", NULL};
    struct spec_cutover *c = &L->spec->cutover;
    int opened = open_map(L, "cutover");
    if (opened < 0)
        return false;
    c->present = true;
    if (opened == 0)
        return true;
    struct mark km;
    unsigned seen = 0;
    int r;
    while ((r = map_key(L, &km)) == 1) {
        int k = key_index(L, keys, "cutover", &seen, km);
        bool ok;
        if (k == 0) {
            ok = read_bool(L, "auto", &c->auto_start);
        } else if (k == 1) {
            ok = read_str_list(L, "after", "group", &c->after, &c->n_after,
                               &L->cutover_after_marks);
        } else if (k == 2) {
            int rs = open_seq(L, "steps");
            while (rs == 1 && (rs = seq_map(L, "steps")) == 1) {
                struct spec_job *j = vec_push(&L->steps, sizeof(*j));
                struct jmeta *m = j ? vec_push(&L->step_metas, sizeof(*m)) : NULL;
                if (!m)
                    return oom(L);
                j->group = "cutover";
                if (!parse_job(L, j, m, true))
                    return false;
            }
            ok = rs >= 0;
        } else {
            ok = false;
        }
        if (!ok)
            return false;
    }
    return r == 0;
}

static bool parse_document(struct loader *L)
{
    static const char *const keys[] = {"sovereign", "blueprints", "organizations", "groups",
                                       "cutover", NULL};
    if (!ev_next(L))   /* STREAM_START */
        return false;
    if (!ev_next(L))
        return false;
    if (L->ev.type == YAML_STREAM_END_EVENT)
        return fail(L, ev_mark(L), "empty document");
    if (!ev_next(L))   /* the root node */
        return false;
    struct mark root = ev_mark(L);
    if (ev_is_null(L))
        return fail(L, root, "empty document");
    if (L->ev.type != YAML_MAPPING_START_EVENT)
        return fail(L, root, "expected a mapping at the top level, found %s", ev_found(L));
    struct mark km;
    unsigned seen = 0;
    int r;
    while ((r = map_key(L, &km)) == 1) {
        int k = key_index(L, keys, "the spec", &seen, km);
        bool ok;
        switch (k) {
        case 0: ok = parse_sovereign(L); break;
        case 1: ok = parse_blueprints(L); break;
        case 2: ok = parse_orgs(L); break;
        case 3: ok = parse_groups(L); break;
        case 4: ok = parse_cutover(L); break;
        default: ok = false;
        }
        if (!ok)
            return false;
    }
    if (r < 0)
        return false;
    if (!(seen & 1))
        return fail(L, root, "missing required key \"sovereign\"");
    if (!ev_next(L))   /* DOCUMENT_END */
        return false;
    if (!ev_next(L))
        return false;
    if (L->ev.type != YAML_STREAM_END_EVENT)
        return fail(L, ev_mark(L), "only one YAML document is allowed in a spec");
    return true;
}

/* ---- validation ------------------------------------------------------- */

/* "a -> b -> c -> a", starting at the lowest index so the text is stable. */
static void cycle_text(char *out, size_t cap, const int32_t *path, size_t n,
                       const char *(*name)(void *, int32_t), void *ctx, int32_t *first)
{
    size_t start = 0;
    for (size_t i = 1; i < n; i++)
        if (path[i] < path[start])
            start = i;
    *first = path[start];
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i <= n && o < cap; i++) {
        const char *s = name(ctx, path[(start + i) % n]);
        int w = snprintf(out + o, cap - o, "%s%s", i ? " -> " : "", s);
        if (w < 0 || (size_t)w >= cap - o) {
            if (cap > 8)
                memcpy(out + cap - 8, " -> ...", 8);
            return;
        }
        o += (size_t)w;
    }
}

static const char *bp_node_name(void *ctx, int32_t i)
{
    return ((const struct spec_blueprint *)ctx)[i].name;
}

static bool validate_blueprints(struct loader *L)
{
    struct spec_blueprint *bps = (struct spec_blueprint *)L->blueprints.data;
    struct mark **marks = (struct mark **)L->bp_marks.data;
    size_t n = L->blueprints.n;
    for (size_t i = 0; i < n; i++) {
        int64_t old;
        int put = smap_put(&L->bp_index, bps[i].name, (int64_t)i, &old);
        if (put < 0)
            return oom(L);
        if (put == 0)
            return fail(L, (struct mark){bps[i].line, bps[i].column},
                        "duplicate blueprint \"%s\" (first declared at %d:%d)", bps[i].name,
                        bps[old].line, bps[old].column);
    }
    for (size_t i = 0; i < n; i++)
        for (size_t d = 0; d < bps[i].n_depends; d++)
            if (!smap_get(&L->bp_index, bps[i].depends[d], NULL))
                return fail(L, marks[i][d], "blueprint \"%s\" depends on unknown blueprint "
                            "\"%s\"", bps[i].name, q0(L, bps[i].depends[d]));
    if (n == 0)
        return true;
    struct dag_node_in *nodes = calloc(n, sizeof(*nodes));
    if (!nodes)
        return oom(L);
    for (size_t i = 0; i < n; i++) {
        nodes[i].name = bps[i].name;
        nodes[i].deps = bps[i].depends;
        nodes[i].n_deps = bps[i].n_depends;
    }
    struct error derr;
    error_clear(&derr);
    struct dag *d = dag_build(nodes, n, "", &derr);
    free(nodes);
    if (!d)
        return oom(L);
    const int32_t *path;
    size_t plen;
    bool ok = true;
    if (dag_cycle(d, &path, &plen) && plen) {
        char text[800];
        int32_t first;
        cycle_text(text, sizeof(text), path, plen, bp_node_name, bps, &first);
        ok = fail(L, (struct mark){bps[first].line, bps[first].column},
                  "blueprint dependency cycle: %s", text);
    }
    dag_free(d);
    return ok;
}

static bool validate_apps(struct loader *L)
{
    struct spec_org *orgs = (struct spec_org *)L->orgs.data;
    for (size_t o = 0; o < L->orgs.n; o++)
        for (size_t e = 0; e < orgs[o].n_envs; e++)
            for (size_t a = 0; a < orgs[o].envs[e].n_apps; a++) {
                const struct spec_app *app = &orgs[o].envs[e].apps[a];
                if (!smap_get(&L->bp_index, app->blueprint, NULL))
                    return fail(L, (struct mark){app->line, app->column},
                                "application \"%s\" names unknown blueprint \"%s\"", app->name,
                                q0(L, app->blueprint));
            }
    return true;
}

static int64_t derived_duration(const char *name, int64_t base)
{
    /* Deterministic spread from the name so the demo is the same on every run. */
    size_t n = strlen(name);
    return base + 250 * (int64_t)((n * 7 + (unsigned char)name[0]) % 9);
}

static bool emit_job(struct loader *L, size_t gi, const struct spec_env *env,
                     const struct spec_app *app, const struct spec_blueprint *bp, bool is_app)
{
    struct gbuild *gb = (struct gbuild *)L->groups.data + gi;
    struct spec_job *j = vec_push(&gb->jobs, sizeof(*j));
    struct jmeta *m = j ? vec_push(&gb->metas, sizeof(*m)) : NULL;
    if (!m)
        return oom(L);
    const char *what = is_app ? app->name : bp->name;
    j->name = arena_printf(L->a, "install-%s-%s", env->name, what);
    /* The Environment leads: the same Application or Blueprint lives in several of them. */
    j->display_name = is_app ? arena_printf(L->a, "%s/%s (%s@%s)", env->name, app->name,
                                            bp->name, bp->version)
                             : arena_printf(L->a, "%s/%s@%s", env->name, bp->name, bp->version);
    j->app = what;
    j->line = app->line;
    j->column = app->column;
    j->retries = 1;
    j->simulated = true;
    j->label = "";
    j->sim_duration_ms = derived_duration(j->name ? j->name : "", is_app ? 3000 : 1500);
    if (bp->n_depends) {
        const char **deps = arena_calloc(L->a, bp->n_depends, sizeof(*deps));
        if (!deps)
            return oom(L);
        for (size_t i = 0; i < bp->n_depends; i++)
            if (!(deps[i] = arena_printf(L->a, "install-%s-%s", env->name, bp->depends[i])))
                return oom(L);
        j->depends_on = deps;
        j->n_depends_on = bp->n_depends;
    }
    const char **logs = arena_calloc(L->a, 3, sizeof(*logs));
    if (!logs)
        return oom(L);
    logs[0] = arena_printf(L->a, "[installing] bp-%s@%s as %s into %s", bp->name, bp->version,
                           what, env->name);
    logs[1] = arena_printf(L->a, "reconciling HelmRelease %s/%s (vcluster %s)", env->name, what,
                           env->name);
    logs[2] = arena_printf(L->a, "[installed] Helm install succeeded for release %s/%s",
                           env->name, what);
    j->sim_logs = logs;
    j->n_sim_logs = 3;
    if (!j->name || !j->display_name || !logs[0] || !logs[1] || !logs[2])
        return oom(L);
    return true;
}

/* Post-order walk of bp's dependency closure, one job per blueprint not yet in this env. */
static bool emit_closure(struct loader *L, size_t gi, const struct spec_env *env,
                         const struct spec_app *app, size_t root, struct smap *present,
                         struct vec *stack)
{
    const struct spec_blueprint *bps = (const struct spec_blueprint *)L->blueprints.data;
    struct frame {
        size_t bp, next;
    };
    stack->n = 0;
    struct frame *f = vec_push(stack, sizeof(*f));
    if (!f)
        return oom(L);
    f->bp = root;
    while (stack->n) {
        f = (struct frame *)stack->data + stack->n - 1;
        const struct spec_blueprint *b = &bps[f->bp];
        if (f->next < b->n_depends) {
            const char *dn = b->depends[f->next++];
            int64_t di;
            smap_get(&L->bp_index, dn, &di);
            int put = smap_put(present, bps[di].name, 0, NULL);
            if (put < 0)
                return oom(L);
            if (put == 0)
                continue;
            struct frame *nf = vec_push(stack, sizeof(*nf));
            if (!nf)
                return oom(L);
            nf->bp = (size_t)di;
            continue;
        }
        size_t bpi = f->bp;
        stack->n--;
        if (stack->n && !emit_job(L, gi, env, app, &bps[bpi], false))
            return false;
    }
    return true;
}

static bool derive_apps(struct loader *L)
{
    struct spec_org *orgs = (struct spec_org *)L->orgs.data;
    size_t n_apps = 0;
    for (size_t o = 0; o < L->orgs.n; o++)
        for (size_t e = 0; e < orgs[o].n_envs; e++)
            n_apps += orgs[o].envs[e].n_apps;
    if (n_apps == 0)
        return true;
    size_t gi = L->groups.n, handover = L->groups.n;
    struct gbuild *gbs = (struct gbuild *)L->groups.data;
    for (size_t i = 0; i < L->groups.n; i++) {
        if (strcmp(gbs[i].g.name, "apps") == 0 && gi == L->groups.n)
            gi = i;
        if (strcmp(gbs[i].g.name, "handover") == 0 && handover == L->groups.n)
            handover = i;
    }
    if (gi == L->groups.n) {
        if (!vec_push(&L->groups, sizeof(struct gbuild)))
            return oom(L);
        gbs = (struct gbuild *)L->groups.data;
        gi = handover;
        memmove(&gbs[gi + 1], &gbs[gi], (L->groups.n - 1 - gi) * sizeof(*gbs));
        memset(&gbs[gi], 0, sizeof(*gbs));
        gbs[gi].g.name = "apps";
        gbs[gi].g.display_name = "Apps";
        if (gi > 0) {
            const char **after = arena_calloc(L->a, 1, sizeof(*after));
            gbs[gi].after_marks = arena_calloc(L->tmp, 1, sizeof(struct mark));
            if (!after || !gbs[gi].after_marks)
                return oom(L);
            after[0] = gbs[gi - 1].g.name;
            gbs[gi].g.after = after;
            gbs[gi].g.n_after = 1;
            gbs[gi].after_marks[0] = (struct mark){gbs[gi - 1].g.line, gbs[gi - 1].g.column};
        }
    }
    const struct spec_blueprint *bps = (const struct spec_blueprint *)L->blueprints.data;
    struct smap present = {0};
    struct vec stack = {0};
    bool ok = true;
    for (size_t o = 0; ok && o < L->orgs.n; o++) {
        for (size_t e = 0; ok && e < orgs[o].n_envs; e++) {
            const struct spec_env *env = &orgs[o].envs[e];
            smap_free(&present);
            /* An Application named after its own blueprint is that blueprint's install
             * in this Environment: dependents reuse it instead of a second job. */
            for (size_t a = 0; ok && a < env->n_apps; a++)
                if (strcmp(env->apps[a].name, env->apps[a].blueprint) == 0 &&
                    smap_put(&present, env->apps[a].name, 0, NULL) < 0)
                    ok = oom(L);
            for (size_t a = 0; ok && a < env->n_apps; a++) {
                const struct spec_app *app = &env->apps[a];
                int64_t bi;
                smap_get(&L->bp_index, app->blueprint, &bi);
                ok = emit_closure(L, gi, env, app, (size_t)bi, &present, &stack) &&
                     emit_job(L, gi, env, app, &bps[bi], true);
            }
        }
    }
    smap_free(&present);
    vec_free(&stack);
    return ok;
}

struct jref {
    struct spec_job *job;
    struct jmeta *meta;
    uint32_t group;
};

struct cyc_ctx {
    const struct jref *jobs;
    size_t n_jobs;
    const char **barrier_names;
};

static const char *job_node_name(void *ctx, int32_t i)
{
    const struct cyc_ctx *c = ctx;
    if ((size_t)i < c->n_jobs)
        return c->jobs[i].job->name;
    return c->barrier_names[(size_t)i - c->n_jobs];
}

/* Bare job name of a dependsOn entry ("<depId>:<name>" only for this deployment). */
static const char *dep_target(const struct spec *s, const char *entry)
{
    const char *colon = strchr(entry, ':');
    if (!colon)
        return entry;
    size_t n = strlen(s->deployment_id);
    if (n && (size_t)(colon - entry) == n && strncmp(entry, s->deployment_id, n) == 0)
        return colon + 1;
    return NULL;
}

static bool check_jobs(struct loader *L, struct jref *jobs, size_t n, struct smap *names)
{
    for (size_t i = 0; i < n; i++) {
        int64_t old;
        int put = smap_put(names, jobs[i].job->name, (int64_t)i, &old);
        if (put < 0)
            return oom(L);
        if (put == 0)
            return fail(L, (struct mark){jobs[i].job->line, jobs[i].job->column},
                        "duplicate job name \"%s\" (first declared at %d:%d)", jobs[i].job->name,
                        jobs[old].job->line, jobs[old].job->column);
    }
    struct spec_job *steps = (struct spec_job *)L->steps.data;
    struct smap step_names = {0};
    bool ok = true;
    for (size_t i = 0; ok && i < L->steps.n; i++) {
        struct mark m = {steps[i].line, steps[i].column};
        int64_t old;
        int put = smap_put(&step_names, steps[i].name, (int64_t)i, &old);
        char *jn = arena_printf(L->tmp, "cutover-step-%s", steps[i].name);
        if (put < 0 || !jn)
            ok = oom(L);
        else if (put == 0)
            ok = fail(L, m, "duplicate cutover step \"%s\" (first declared at %d:%d)",
                      steps[i].name, steps[old].line, steps[old].column);
        else if (smap_get(names, jn, &old))
            ok = fail(L, m, "duplicate job name \"%s\": cutover step \"%s\" becomes a job of "
                      "that name (first declared at %d:%d)", jn, steps[i].name,
                      jobs[old].job->line, jobs[old].job->column);
    }
    smap_free(&step_names);
    if (!ok)
        return false;
    for (size_t i = 0; i < n; i++) {
        struct spec_job *j = jobs[i].job;
        for (size_t d = 0; d < j->n_depends_on; d++) {
            const char *t = dep_target(L->spec, j->depends_on[d]);
            if (!t || !smap_get(names, t, NULL)) {
                struct mark m = {j->line, j->column};
                if (jobs[i].meta->dep_marks)
                    m = jobs[i].meta->dep_marks[d];
                return fail(L, m, "job \"%s\" depends on unknown job \"%s\"", j->name,
                            q0(L, j->depends_on[d]));
            }
        }
    }
    return true;
}

static bool check_cycles(struct loader *L, struct jref *jobs, size_t n,
                         struct smap *group_index)
{
    struct gbuild *gbs = (struct gbuild *)L->groups.data;
    size_t ng = L->groups.n;
    /* Which groups need a barrier node, and how many edges everything takes. */
    int32_t *barrier = malloc((ng ? ng : 1) * sizeof(*barrier));
    uint8_t *root = calloc(n ? n : 1, 1);
    if (!barrier || !root) {
        free(barrier);
        free(root);
        return oom(L);
    }
    for (size_t g = 0; g < ng; g++)
        barrier[g] = -1;
    size_t nb = 0;
    for (size_t g = 0; g < ng; g++)
        for (size_t a = 0; a < gbs[g].g.n_after; a++) {
            int64_t t;
            smap_get(group_index, gbs[g].g.after[a], &t);
            if (barrier[t] < 0)
                barrier[t] = (int32_t)(n + nb++);
        }
    size_t edges = 0;
    for (size_t i = 0; i < n; i++) {
        struct spec_job *j = jobs[i].job;
        /* As the engine schedules: only a job without dependsOn waits for `after`. */
        bool is_root = j->n_depends_on == 0;
        root[i] = is_root;
        edges += j->n_depends_on + (is_root ? gbs[jobs[i].group].g.n_after : 0);
    }
    for (size_t g = 0; g < ng; g++)
        if (barrier[g] >= 0)
            edges += gbs[g].jobs.n;
    struct dag_node_in *nodes = calloc(n + nb ? n + nb : 1, sizeof(*nodes));
    const char **pool = malloc((edges ? edges : 1) * sizeof(*pool));
    const char **bnames = calloc(nb ? nb : 1, sizeof(*bnames));
    bool ok = nodes && pool && bnames;
    for (size_t g = 0; ok && g < ng; g++)
        if (barrier[g] >= 0 &&
            !(bnames[(size_t)barrier[g] - n] = arena_printf(L->tmp, "(group %s)",
                                                            gbs[g].g.name)))
            ok = false;
    if (!ok) {
        free(barrier);
        free(root);
        free(nodes);
        free(pool);
        free(bnames);
        return oom(L);
    }
    size_t o = 0;
    size_t *first_job = calloc(ng ? ng : 1, sizeof(*first_job));
    ok = first_job != NULL;
    for (size_t i = 0; ok && i < n; i++) {
        struct spec_job *j = jobs[i].job;
        nodes[i].name = j->name;
        nodes[i].deps = pool + o;
        for (size_t d = 0; d < j->n_depends_on; d++)
            pool[o++] = dep_target(L->spec, j->depends_on[d]);
        if (root[i]) {
            const struct spec_group *g = &gbs[jobs[i].group].g;
            for (size_t a = 0; a < g->n_after; a++) {
                int64_t t;
                smap_get(group_index, g->after[a], &t);
                pool[o++] = bnames[(size_t)barrier[t] - n];
            }
        }
        nodes[i].n_deps = (size_t)(pool + o - nodes[i].deps);
    }
    /* Jobs of a group are contiguous in jobs[]; find each group's first. */
    for (size_t i = n; ok && i-- > 0;)
        first_job[jobs[i].group] = i;
    for (size_t g = 0; ok && g < ng; g++) {
        if (barrier[g] < 0)
            continue;
        struct dag_node_in *bn = &nodes[barrier[g]];
        bn->name = bnames[(size_t)barrier[g] - n];
        bn->deps = pool + o;
        for (size_t k = 0; k < gbs[g].jobs.n; k++)
            pool[o++] = jobs[first_job[g] + k].job->name;
        bn->n_deps = gbs[g].jobs.n;
    }
    struct error derr;
    error_clear(&derr);
    struct dag *d = ok ? dag_build(nodes, n + nb, "", &derr) : NULL;
    if (!d) {
        ok = oom(L);
    } else {
        const int32_t *path;
        size_t plen;
        if (dag_cycle(d, &path, &plen) && plen) {
            char text[800];
            int32_t first;
            struct cyc_ctx ctx = {jobs, n, bnames};
            cycle_text(text, sizeof(text), path, plen, job_node_name, &ctx, &first);
            struct mark m = {1, 1};
            if ((size_t)first < n)
                m = (struct mark){jobs[first].job->line, jobs[first].job->column};
            ok = fail(L, m, "dependency cycle: %s", text);
        }
        dag_free(d);
    }
    free(first_job);
    free(barrier);
    free(root);
    free(nodes);
    free(pool);
    free(bnames);
    return ok;
}

static bool validate_groups(struct loader *L, struct smap *group_index)
{
    struct gbuild *gbs = (struct gbuild *)L->groups.data;
    for (size_t g = 0; g < L->groups.n; g++) {
        struct mark m = {gbs[g].g.line, gbs[g].g.column};
        if (strcmp(gbs[g].g.name, "cutover") == 0)
            return fail(L, m, "group name \"cutover\" is reserved for the cutover steps");
        int64_t old;
        int put = smap_put(group_index, gbs[g].g.name, (int64_t)g, &old);
        if (put < 0)
            return oom(L);
        if (put == 0)
            return fail(L, m, "duplicate group \"%s\" (first declared at %d:%d)", gbs[g].g.name,
                        gbs[old].g.line, gbs[old].g.column);
    }
    for (size_t g = 0; g < L->groups.n; g++) {
        for (size_t a = 0; a < gbs[g].g.n_after; a++) {
            if (!smap_get(group_index, gbs[g].g.after[a], NULL))
                return fail(L, gbs[g].after_marks[a], "group \"%s\" is after unknown group "
                            "\"%s\"", gbs[g].g.name, q0(L, gbs[g].g.after[a]));
            if (strcmp(gbs[g].g.after[a], gbs[g].g.name) == 0)
                return fail(L, gbs[g].after_marks[a], "group \"%s\" is after itself",
                            gbs[g].g.name);
        }
    }
    const struct spec_cutover *c = &L->spec->cutover;
    for (size_t a = 0; a < c->n_after; a++)
        if (!smap_get(group_index, c->after[a], NULL))
            return fail(L, L->cutover_after_marks[a], "cutover is after unknown group \"%s\"",
                        q0(L, c->after[a]));
    return true;
}

static bool validate_and_finish(struct loader *L)
{
    struct spec *s = L->spec;
    if (!validate_blueprints(L) || !validate_apps(L) || !derive_apps(L))
        return false;
    struct smap group_index = {0}, names = {0};
    bool ok = validate_groups(L, &group_index);
    struct gbuild *gbs = (struct gbuild *)L->groups.data;
    size_t n = 0;
    for (size_t g = 0; g < L->groups.n; g++)
        n += gbs[g].jobs.n;
    struct jref *jobs = ok ? calloc(n ? n : 1, sizeof(*jobs)) : NULL;
    if (ok && !jobs)
        ok = oom(L);
    size_t k = 0;
    for (size_t g = 0; ok && g < L->groups.n; g++) {
        for (size_t i = 0; i < gbs[g].jobs.n; i++, k++) {
            jobs[k].job = (struct spec_job *)gbs[g].jobs.data + i;
            jobs[k].meta = (struct jmeta *)gbs[g].metas.data + i;
            jobs[k].group = (uint32_t)g;
            jobs[k].job->group = gbs[g].g.name;
        }
    }
    ok = ok && check_jobs(L, jobs, n, &names) && check_cycles(L, jobs, n, &group_index);
    free(jobs);
    smap_free(&group_index);
    smap_free(&names);
    if (!ok)
        return false;
    /* Everything checks out: move the arrays into the arena. */
    s->n_groups = L->groups.n;
    if (L->groups.n && !(s->groups = arena_calloc(L->a, L->groups.n, sizeof(*s->groups))))
        return oom(L);
    for (size_t g = 0; g < L->groups.n; g++) {
        s->groups[g] = gbs[g].g;
        s->groups[g].n_jobs = gbs[g].jobs.n;
        s->groups[g].jobs = arena_copy(L, gbs[g].jobs.data, gbs[g].jobs.n,
                                       sizeof(struct spec_job));
        if (gbs[g].jobs.n && !s->groups[g].jobs)
            return false;
    }
    s->n_blueprints = L->blueprints.n;
    s->blueprints = arena_copy(L, L->blueprints.data, L->blueprints.n,
                               sizeof(struct spec_blueprint));
    s->n_orgs = L->orgs.n;
    s->orgs = arena_copy(L, L->orgs.data, L->orgs.n, sizeof(struct spec_org));
    s->cutover.n_steps = L->steps.n;
    s->cutover.steps = arena_copy(L, L->steps.data, L->steps.n, sizeof(struct spec_job));
    return !(L->err && L->err->code);
}

/* ---- public API ------------------------------------------------------- */

struct spec *spec_load_buffer(const char *data, size_t len, const char *name, struct error *err)
{
    struct error local;
    if (!err)
        err = &local;
    error_clear(err);
    if (!name)
        name = "<spec>";
    if (len > SPEC_MAX_BYTES) {
        error_at(err, EXIT_USAGE, name, 0, 0, "spec is larger than %zu MB",
                 SPEC_MAX_BYTES >> 20);
        return NULL;
    }
    struct loader L;
    memset(&L, 0, sizeof(L));
    L.err = err;
    L.file = name;
    L.buf = data ? data : "";
    L.len = data ? len : 0;
    L.a = arena_new();
    L.tmp = arena_new();
    L.spec = L.a ? arena_alloc(L.a, sizeof(struct spec)) : NULL;
    if (!L.spec || !L.tmp || !yaml_parser_initialize(&L.parser)) {
        arena_free(L.a);
        arena_free(L.tmp);
        error_set(err, EXIT_USAGE, "out of memory");
        return NULL;
    }
    struct spec *s = L.spec;
    s->arena = L.a;
    s->file = arena_strdup(L.a, name);
    s->name = s->fqdn = s->provider = s->deployment_id = "";
    yaml_parser_set_encoding(&L.parser, YAML_UTF8_ENCODING);
    yaml_parser_set_input_string(&L.parser, (const unsigned char *)L.buf, L.len);
    bool ok = s->file && parse_document(&L);
    if (L.have_ev)
        yaml_event_delete(&L.ev);
    yaml_parser_delete(&L.parser);
    ok = ok && validate_and_finish(&L);
    if (!ok && !err->code)
        error_at(err, EXIT_USAGE, name, 0, 0, "out of memory");
    struct gbuild *gbs = (struct gbuild *)L.groups.data;
    for (size_t g = 0; g < L.groups.n; g++) {
        vec_free(&gbs[g].jobs);
        vec_free(&gbs[g].metas);
    }
    vec_free(&L.groups);
    vec_free(&L.blueprints);
    vec_free(&L.bp_marks);
    vec_free(&L.orgs);
    vec_free(&L.steps);
    vec_free(&L.step_metas);
    smap_free(&L.bp_index);
    arena_free(L.tmp);
    if (!ok) {
        arena_free(L.a);
        return NULL;
    }
    return s;
}

struct spec *spec_load_file(const char *path, struct error *err)
{
    char *data = NULL;
    size_t len = 0;
    struct error rerr;
    error_clear(&rerr);
    /* A symlink is followed; a FIFO, device or directory is refused without blocking. */
    if (util_read_regular(path, 0, SPEC_MAX_BYTES, &data, &len, &rerr) != 0) {
        int e = errno;
        if (e == EFBIG)
            error_at(err, EXIT_USAGE, path, 0, 0, "spec is larger than %zu MB",
                     SPEC_MAX_BYTES >> 20);
        else
            error_at(err, EXIT_USAGE, path, 0, 0, "cannot read spec: %s", rerr.msg);
        return NULL;
    }
    struct spec *s = spec_load_buffer(data, len, path, err);
    free(data);
    return s;
}

struct spec *spec_load_demo(struct error *err)
{
    return spec_load_buffer(catalyst_demo_yaml,
                            (size_t)(catalyst_demo_yaml_end - catalyst_demo_yaml), "<demo>", err);
}

void spec_free(struct spec *spec)
{
    if (spec)
        arena_free(spec->arena);
}

size_t spec_job_count(const struct spec *spec)
{
    size_t n = 0;
    for (size_t g = 0; g < spec->n_groups; g++)
        n += spec->groups[g].n_jobs;
    return n;
}

const struct spec_blueprint *spec_find_blueprint(const struct spec *spec, const char *name)
{
    for (size_t i = 0; i < spec->n_blueprints; i++)
        if (strcmp(spec->blueprints[i].name, name) == 0)
            return &spec->blueprints[i];
    return NULL;
}
