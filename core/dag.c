/*
 * dag: the job dependency graph (see dag.h).
 *
 * Layout. Nodes keep their input indices. Resolved edges live in two CSR
 * arrays: deps (node -> its upstreams, in dependsOn order, deduplicated) and
 * dependents (node -> its downstreams, ascending index). Unresolved raw
 * entries are kept in a third CSR array of borrowed strings.
 *
 * Lookup. Two open-addressing tables (ids, jobNames) map a key to its node;
 * each slot carries 32 bits of the key's hash so most probes never touch the
 * string. The "<deploymentId>:<entry>" form is hashed by streaming the prefix
 * state into the entry, so resolution allocates nothing per edge.
 * Odd inputs may repeat an id or a jobName (e.g. a secondary-region leaf with
 * the same jobName as the primary's): the first occurrence in input order
 * wins, later duplicates are reachable only through their other key.
 * Empty ids, names and entries never match anything.
 *
 * Cycles. One iterative DFS along deps edges (explicit stack, so a 100,000
 * long chain is fine) marks back edges, including self-edges. Every other
 * edge goes from a finished node, so the DFS finish order is a topological
 * order of the graph minus its back edges; longest-path layers (what Kahn's
 * layering gives) are computed over it, and dag_topo_order is the nodes
 * sorted by layer, ties by index. The first back edge found yields the
 * reported cycle: path[k] depends on path[k+1] and the last node depends on
 * the first, rotated so the lowest index comes first (deterministic for a
 * given input). Self-edges stay in dag_deps/dag_dependents, marked back.
 */
#include "dag.h"

#include <stdlib.h>
#include <string.h>

struct slot {
    uint32_t tag;   /* high hash bits, to skip most strcmp calls */
    int32_t node;   /* node index + 1; 0 = empty */
};

struct table {
    struct slot *slots; /* owned; mask + 1 entries */
    size_t mask;
};

struct dag {
    size_t n;
    const char **ids;      /* owned array of borrowed strings (may be NULL) */
    const char **names;    /* same */
    char *dep_id;          /* owned copy of the deployment id, NULL when none */
    size_t dep_id_len;
    uint64_t dep_prefix_hash; /* hash state after "<dep_id>:" */
    struct table by_id, by_name;

    size_t *dep_off;       /* owned, n + 1 */
    int32_t *deps;         /* owned, dep_off[n] */
    uint8_t *back;         /* owned, per deps edge: 1 = back edge (cycle) */
    size_t *rdep_off;      /* owned, n + 1 */
    int32_t *rdeps;        /* owned, rdep_off[n] */
    size_t *unres_off;     /* owned, n + 1 */
    const char **unres;    /* owned array of borrowed strings */

    int32_t *layer;        /* owned, n */
    int32_t n_layers;
    int32_t *topo;         /* owned, n */
    int32_t *cycle;        /* owned, n_cycle; NULL when acyclic */
    size_t n_cycle;
};

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

static uint64_t hash_feed(uint64_t h, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        h ^= *p;
        h *= FNV_PRIME;
    }
    return h;
}

/* FNV-1a has weak low bits for short keys; fold the high half in. */
static uint64_t hash_final(uint64_t h) { return h ^ (h >> 29); }

static uint32_t hash_tag(uint64_t h) { return (uint32_t)(h >> 32); }

static int table_init(struct table *t, size_t n)
{
    size_t cap = 16;
    while (cap < n * 2)
        cap <<= 1;
    t->slots = calloc(cap, sizeof(*t->slots));
    t->mask = cap - 1;
    return t->slots ? 0 : -1;
}

/* Inserts unless an equal key is present (first occurrence wins). */
static void table_put(struct table *t, const char *const *keys, const char *key, uint64_t h,
                      int32_t node)
{
    uint32_t tag = hash_tag(h);
    for (size_t i = h & t->mask;; i = (i + 1) & t->mask) {
        struct slot *s = &t->slots[i];
        if (!s->node) {
            s->tag = tag;
            s->node = node + 1;
            return;
        }
        if (s->tag == tag && strcmp(keys[s->node - 1], key) == 0)
            return;
    }
}

static int32_t table_get(const struct table *t, const char *const *keys, const char *key,
                         uint64_t h)
{
    uint32_t tag = hash_tag(h);
    for (size_t i = h & t->mask;; i = (i + 1) & t->mask) {
        const struct slot *s = &t->slots[i];
        if (!s->node)
            return -1;
        if (s->tag == tag && strcmp(keys[s->node - 1], key) == 0)
            return s->node - 1;
    }
}

/* Looks up "<dep_id>:<key>" in the id table without building the string. */
static int32_t find_prefixed(const struct dag *d, const char *key)
{
    if (!d->dep_id)
        return -1;
    uint64_t h = hash_final(hash_feed(d->dep_prefix_hash, key));
    uint32_t tag = hash_tag(h);
    const struct table *t = &d->by_id;
    for (size_t i = h & t->mask;; i = (i + 1) & t->mask) {
        const struct slot *s = &t->slots[i];
        if (!s->node)
            return -1;
        if (s->tag != tag)
            continue;
        const char *id = d->ids[s->node - 1];
        if (strncmp(id, d->dep_id, d->dep_id_len) == 0 && id[d->dep_id_len] == ':' &&
            strcmp(id + d->dep_id_len + 1, key) == 0)
            return s->node - 1;
    }
}

static int32_t resolve(const struct dag *d, const char *key)
{
    if (!key || !*key)
        return -1;
    uint64_t h = hash_final(hash_feed(FNV_OFFSET, key));
    int32_t j = table_get(&d->by_id, d->ids, key, h);
    if (j < 0)
        j = table_get(&d->by_name, d->names, key, h);
    if (j < 0)
        j = find_prefixed(d, key);
    return j;
}

void dag_free(struct dag *d)
{
    if (!d)
        return;
    free(d->ids);
    free(d->names);
    free(d->dep_id);
    free(d->by_id.slots);
    free(d->by_name.slots);
    free(d->dep_off);
    free(d->deps);
    free(d->back);
    free(d->rdep_off);
    free(d->rdeps);
    free(d->unres_off);
    free(d->unres);
    free(d->layer);
    free(d->topo);
    free(d->cycle);
    free(d);
}

static int build_tables(struct dag *d, const struct dag_node_in *nodes, const char *deployment_id)
{
    size_t n = d->n;
    if (table_init(&d->by_id, n) || table_init(&d->by_name, n))
        return -1;
    if (deployment_id && *deployment_id) {
        d->dep_id = strdup(deployment_id);
        if (!d->dep_id)
            return -1;
        d->dep_id_len = strlen(deployment_id);
        d->dep_prefix_hash = hash_feed(hash_feed(FNV_OFFSET, deployment_id), ":");
    }
    for (size_t i = 0; i < n; i++) {
        d->ids[i] = nodes[i].id;
        d->names[i] = nodes[i].name;
        if (nodes[i].id && *nodes[i].id)
            table_put(&d->by_id, d->ids, nodes[i].id,
                      hash_final(hash_feed(FNV_OFFSET, nodes[i].id)), (int32_t)i);
        if (nodes[i].name && *nodes[i].name)
            table_put(&d->by_name, d->names, nodes[i].name,
                      hash_final(hash_feed(FNV_OFFSET, nodes[i].name)), (int32_t)i);
    }
    return 0;
}

/* Resolves every dependsOn entry into the deps / unresolved CSR arrays. */
static int build_edges(struct dag *d, const struct dag_node_in *nodes)
{
    size_t n = d->n, raw = 0;
    for (size_t i = 0; i < n; i++)
        raw += nodes[i].deps ? nodes[i].n_deps : 0;
    d->dep_off = malloc((n + 1) * sizeof(size_t));
    d->unres_off = malloc((n + 1) * sizeof(size_t));
    d->rdep_off = calloc(n + 1, sizeof(size_t));
    d->deps = malloc((raw ? raw : 1) * sizeof(int32_t));
    d->unres = malloc((raw ? raw : 1) * sizeof(char *));
    int32_t *seen = malloc((n ? n : 1) * sizeof(int32_t)); /* last node that took edge to j */
    if (!d->dep_off || !d->unres_off || !d->rdep_off || !d->deps || !d->unres || !seen) {
        free(seen);
        return -1;
    }
    memset(seen, 0xff, (n ? n : 1) * sizeof(int32_t));
    size_t ne = 0, nu = 0;
    for (size_t i = 0; i < n; i++) {
        d->dep_off[i] = ne;
        d->unres_off[i] = nu;
        if (!nodes[i].deps)
            continue;
        for (size_t k = 0; k < nodes[i].n_deps; k++) {
            const char *e = nodes[i].deps[k];
            int32_t j = resolve(d, e);
            if (j < 0) {
                if (e)
                    d->unres[nu++] = e;
            } else if (seen[j] != (int32_t)i) {
                seen[j] = (int32_t)i;
                d->deps[ne++] = j;
                d->rdep_off[j + 1]++;
            }
        }
    }
    d->dep_off[n] = ne;
    d->unres_off[n] = nu;
    free(seen);

    for (size_t i = 0; i < n; i++)
        d->rdep_off[i + 1] += d->rdep_off[i];
    d->rdeps = malloc((ne ? ne : 1) * sizeof(int32_t));
    size_t *fill = malloc((n ? n : 1) * sizeof(size_t));
    d->back = calloc(ne ? ne : 1, 1);
    if (!d->rdeps || !fill || !d->back) {
        free(fill);
        return -1;
    }
    memcpy(fill, d->rdep_off, n * sizeof(size_t));
    for (size_t i = 0; i < n; i++)
        for (size_t e = d->dep_off[i]; e < d->dep_off[i + 1]; e++)
            d->rdeps[fill[d->deps[e]]++] = (int32_t)i;
    free(fill);
    return 0;
}

/* Copies the stack slice that forms the first cycle, lowest index first. */
static int record_cycle(struct dag *d, const int32_t *stack, size_t from, size_t top)
{
    size_t len = top - from + 1, lo = 0;
    d->cycle = malloc(len * sizeof(int32_t));
    if (!d->cycle)
        return -1;
    for (size_t k = 1; k < len; k++)
        if (stack[from + k] < stack[from + lo])
            lo = k;
    for (size_t k = 0; k < len; k++)
        d->cycle[k] = stack[from + (lo + k) % len];
    d->n_cycle = len;
    return 0;
}

/* DFS along deps: back edges, the first cycle, then layers and topo order. */
static int build_order(struct dag *d)
{
    size_t n = d->n;
    uint8_t *color = calloc(n ? n : 1, 1); /* 0 new, 1 on stack, 2 done */
    size_t *cur = malloc((n ? n : 1) * sizeof(size_t));
    int32_t *stack = malloc((n ? n : 1) * sizeof(int32_t));
    int32_t *post = malloc((n ? n : 1) * sizeof(int32_t));
    size_t *count = NULL;
    d->layer = calloc(n ? n : 1, sizeof(int32_t));
    d->topo = malloc((n ? n : 1) * sizeof(int32_t));
    int rc = -1;
    if (!color || !cur || !stack || !post || !d->layer || !d->topo)
        goto out;
    memcpy(cur, d->dep_off, n * sizeof(size_t));

    size_t np = 0;
    for (size_t s = 0; s < n; s++) {
        if (color[s])
            continue;
        size_t sp = 0;
        stack[sp++] = (int32_t)s;
        color[s] = 1;
        while (sp) {
            int32_t v = stack[sp - 1];
            if (cur[v] == d->dep_off[v + 1]) {
                color[v] = 2;
                post[np++] = v;
                sp--;
                continue;
            }
            size_t e = cur[v]++;
            int32_t u = d->deps[e];
            if (color[u] == 0) {
                color[u] = 1;
                stack[sp++] = u;
            } else if (color[u] == 1) {
                d->back[e] = 1;
                if (!d->cycle) {
                    size_t from = sp - 1;
                    while (stack[from] != u)
                        from--;
                    if (record_cycle(d, stack, from, sp - 1))
                        goto out;
                }
            }
        }
    }

    int32_t max_layer = -1;
    for (size_t k = 0; k < np; k++) {
        int32_t v = post[k], l = 0;
        for (size_t e = d->dep_off[v]; e < d->dep_off[v + 1]; e++)
            if (!d->back[e] && d->layer[d->deps[e]] + 1 > l)
                l = d->layer[d->deps[e]] + 1;
        d->layer[v] = l;
        if (l > max_layer)
            max_layer = l;
    }
    d->n_layers = max_layer + 1;

    /* Counting sort by layer keeps index order inside a layer. */
    count = calloc((size_t)d->n_layers + 1, sizeof(size_t));
    if (!count)
        goto out;
    for (size_t i = 0; i < n; i++)
        count[d->layer[i] + 1]++;
    for (int32_t l = 0; l < d->n_layers; l++)
        count[l + 1] += count[l];
    for (size_t i = 0; i < n; i++)
        d->topo[count[d->layer[i]]++] = (int32_t)i;
    rc = 0;
out:
    free(color);
    free(cur);
    free(stack);
    free(post);
    free(count);
    return rc;
}

struct dag *dag_build(const struct dag_node_in *nodes, size_t n, const char *deployment_id,
                      struct error *err)
{
    if (n > (size_t)INT32_MAX - 1) {
        error_set(err, EXIT_USAGE, "dag: %zu jobs is more than the graph can index", n);
        return NULL;
    }
    struct dag *d = calloc(1, sizeof(*d));
    if (!d)
        goto oom;
    d->n = n;
    d->ids = malloc((n ? n : 1) * sizeof(char *));
    d->names = malloc((n ? n : 1) * sizeof(char *));
    if (!d->ids || !d->names || build_tables(d, nodes, deployment_id) ||
        build_edges(d, nodes) || build_order(d))
        goto oom;
    return d;
oom:
    dag_free(d);
    error_set(err, EXIT_FAILED, "dag: out of memory building a graph of %zu jobs", n);
    return NULL;
}

struct dag *dag_build_jobs(const struct job *jobs, size_t n, const char *deployment_id,
                           struct error *err)
{
    struct dag_node_in *in = malloc((n ? n : 1) * sizeof(*in));
    if (!in) {
        error_set(err, EXIT_FAILED, "dag: out of memory building a graph of %zu jobs", n);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        in[i].id = jobs[i].id;
        in[i].name = jobs[i].job_name;
        in[i].deps = jobs[i].depends_on;
        in[i].n_deps = jobs[i].depends_on ? jobs[i].n_depends_on : 0;
    }
    struct dag *d = dag_build(in, n, deployment_id, err);
    free(in);
    return d;
}

size_t dag_size(const struct dag *d) { return d ? d->n : 0; }

static bool valid(const struct dag *d, int32_t i) { return d && i >= 0 && (size_t)i < d->n; }

const int32_t *dag_deps(const struct dag *d, int32_t i, size_t *n)
{
    if (!valid(d, i)) {
        *n = 0;
        return NULL;
    }
    *n = d->dep_off[i + 1] - d->dep_off[i];
    return d->deps + d->dep_off[i];
}

const int32_t *dag_dependents(const struct dag *d, int32_t i, size_t *n)
{
    if (!valid(d, i)) {
        *n = 0;
        return NULL;
    }
    *n = d->rdep_off[i + 1] - d->rdep_off[i];
    return d->rdeps + d->rdep_off[i];
}

size_t dag_unresolved(const struct dag *d, int32_t i, const char *const **out)
{
    if (!valid(d, i)) {
        *out = NULL;
        return 0;
    }
    *out = d->unres + d->unres_off[i];
    return d->unres_off[i + 1] - d->unres_off[i];
}

int32_t dag_find(const struct dag *d, const char *key)
{
    return d ? resolve(d, key) : -1;
}

bool dag_cycle(const struct dag *d, const int32_t **path, size_t *n)
{
    if (!d || !d->cycle) {
        if (path)
            *path = NULL;
        if (n)
            *n = 0;
        return false;
    }
    if (path)
        *path = d->cycle;
    if (n)
        *n = d->n_cycle;
    return true;
}

int32_t dag_layer(const struct dag *d, int32_t i) { return valid(d, i) ? d->layer[i] : -1; }

int32_t dag_layer_count(const struct dag *d) { return d ? d->n_layers : 0; }

const int32_t *dag_topo_order(const struct dag *d) { return d ? d->topo : NULL; }

/*
 * Heaviest chain over the graph minus back edges. NULL weights or negative
 * ones count as 0. Ties prefer the chain with more jobs (so all-zero weights
 * still give the longest chain), then the earlier upstream / lower end index,
 * which keeps the answer stable.
 */
ssize_t dag_critical_path(const struct dag *d, const int64_t *weights, int32_t **out,
                          int64_t *total)
{
    *out = NULL;
    if (total)
        *total = 0;
    if (!d || d->n == 0)
        return 0;
    size_t n = d->n;
    int64_t *best = malloc(n * sizeof(int64_t));
    int32_t *len = malloc(n * sizeof(int32_t));
    int32_t *pred = malloc(n * sizeof(int32_t));
    if (!best || !len || !pred) {
        free(best);
        free(len);
        free(pred);
        return -1;
    }
    int32_t end = -1;
    for (size_t k = 0; k < n; k++) {
        int32_t v = d->topo[k], p = -1;
        for (size_t e = d->dep_off[v]; e < d->dep_off[v + 1]; e++) {
            int32_t u = d->deps[e];
            if (d->back[e])
                continue;
            if (p < 0 || best[u] > best[p] || (best[u] == best[p] && len[u] > len[p]))
                p = u;
        }
        int64_t w = weights && weights[v] > 0 ? weights[v] : 0;
        int64_t base = p >= 0 ? best[p] : 0;
        best[v] = base > INT64_MAX - w ? INT64_MAX : base + w;
        len[v] = p >= 0 ? len[p] + 1 : 1;
        pred[v] = p;
        if (end < 0 || best[v] > best[end] ||
            (best[v] == best[end] && (len[v] > len[end] || (len[v] == len[end] && v < end))))
            end = v;
    }
    int32_t *chain = malloc((size_t)len[end] * sizeof(int32_t));
    ssize_t count = len[end];
    if (chain) {
        int32_t v = end;
        for (ssize_t k = count - 1; k >= 0; k--, v = pred[v])
            chain[k] = v;
        if (total)
            *total = best[end];
    }
    free(best);
    free(len);
    free(pred);
    if (!chain)
        return -1;
    *out = chain;
    return count;
}

/*
 * Without memory for a stack the closure is still computed, by sweeping the
 * topological order until nothing changes (each sweep is linear; only back
 * edges force another one).
 */
static size_t closure_sweep(const struct dag *d, int32_t i, bool up, uint8_t *mark)
{
    size_t reached = 0;
    bool changed = true;
    while (changed) {
        changed = false;
        for (size_t k = 0; k < d->n; k++) {
            int32_t v = up ? d->topo[d->n - 1 - k] : d->topo[k];
            if (v == i || mark[v])
                continue;
            const size_t *off = up ? d->rdep_off : d->dep_off;
            const int32_t *adj = up ? d->rdeps : d->deps;
            for (size_t e = off[v]; e < off[v + 1]; e++)
                if (adj[e] == i || mark[adj[e]]) {
                    mark[v] = 1;
                    reached++;
                    changed = true;
                    break;
                }
        }
    }
    return reached;
}

size_t dag_closure(const struct dag *d, int32_t i, bool up, uint8_t *mark)
{
    if (!valid(d, i))
        return 0;
    const size_t *off = up ? d->dep_off : d->rdep_off;
    const int32_t *adj = up ? d->deps : d->rdeps;
    int32_t *stack = malloc(d->n * sizeof(int32_t));
    if (!stack)
        return closure_sweep(d, i, up, mark);
    size_t sp = 0, reached = 0;
    stack[sp++] = i;
    while (sp) {
        int32_t v = stack[--sp];
        for (size_t e = off[v]; e < off[v + 1]; e++) {
            int32_t u = adj[e];
            if (u == i || mark[u])
                continue;
            mark[u] = 1;
            reached++;
            stack[sp++] = u;
        }
    }
    free(stack);
    return reached;
}
