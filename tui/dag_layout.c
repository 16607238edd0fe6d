/*
 * dag_layout: layered layout with barycenter crossing reduction (see
 * dag_layout.h). Everything is O((V + E) log V) per sweep; nothing here
 * allocates per edge.
 */
#include "dag_layout.h"

#include "dag.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    return h * 0x100000001b3ULL;
}

static uint64_t mix_str(uint64_t h, const char *s)
{
    for (; s && *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return mix(h, 0xff);
}

bool dag_layout_in_scope(const struct snapshot *s, int32_t i, int32_t scope)
{
    if (scope < 0)
        return true;
    /* Bounded walk: parent chains are short, but never trust input to be acyclic. */
    for (int hops = 0; i >= 0 && hops < 64; hops++) {
        i = s->parent ? s->parent[i] : -1;
        if (i == scope)
            return true;
    }
    return false;
}

uint64_t dag_layout_hash(const struct snapshot *s, int32_t scope)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    h = mix(h, s->n_jobs);
    h = mix(h, (uint64_t)(int64_t)scope);
    for (size_t i = 0; i < s->n_jobs; i++) {
        const struct job *j = &s->jobs[i];
        h = mix_str(h, j->id);
        h = mix_str(h, j->job_name);
        h = mix_str(h, j->display_name);
        h = mix(h, (uint64_t)(int64_t)(s->parent ? s->parent[i] : -1));
        h = mix(h, j->is_group);
        size_t nd = 0;
        const int32_t *d = s->dag ? dag_deps(s->dag, (int32_t)i, &nd) : NULL;
        for (size_t k = 0; k < nd; k++)
            h = mix(h, (uint64_t)d[k]);
    }
    return h;
}

void dag_layout_free(struct dag_layout *l)
{
    if (!l)
        return;
    free(l->col_of);
    free(l->row_of);
    free(l->col_start);
    free(l->order);
    free(l->col_x);
    free(l->col_w);
    free(l);
}

struct sort_item {
    double key;
    int32_t tie;  /* rank by dependents desc, then id */
    int32_t job;
};

static int cmp_item(const void *a, const void *b)
{
    const struct sort_item *x = a, *y = b;
    if (x->key < y->key)
        return -1;
    if (x->key > y->key)
        return 1;
    return (x->tie > y->tie) - (x->tie < y->tie);
}

/* Initial order: dependents count descending, then id (glibc qsort_r context). */
static int cmp_tie(const void *a, const void *b, void *ctx)
{
    const struct snapshot *tie_snap = ctx;
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    size_t nx = 0, ny = 0;
    dag_dependents(tie_snap->dag, x, &nx);
    dag_dependents(tie_snap->dag, y, &ny);
    if (nx != ny)
        return nx > ny ? -1 : 1;
    int c = strcmp(tie_snap->jobs[x].id, tie_snap->jobs[y].id);
    return c ? c : (x > y) - (x < y);
}

/* Counts inversions of v[0..n) by merge sort (tmp has n slots). */
static long inversions(int32_t *v, int32_t *tmp, size_t n)
{
    if (n < 2)
        return 0;
    size_t m = n / 2;
    long c = inversions(v, tmp, m) + inversions(v + m, tmp, n - m);
    size_t i = 0, j = m, k = 0;
    while (i < m && j < n) {
        if (v[i] <= v[j]) {
            tmp[k++] = v[i++];
        } else {
            c += (long)(m - i);
            tmp[k++] = v[j++];
        }
    }
    while (i < m)
        tmp[k++] = v[i++];
    while (j < n)
        tmp[k++] = v[j++];
    memcpy(v, tmp, n * sizeof(*v));
    return c;
}

struct pair {
    int32_t a, b;
};

static int cmp_pair(const void *x, const void *y)
{
    const struct pair *p = x, *q = y;
    if (p->a != q->a)
        return (p->a > q->a) - (p->a < q->a);
    return (p->b > q->b) - (p->b < q->b);
}

long dag_layout_crossings(const struct dag_layout *l, const struct snapshot *s)
{
    if (!l || l->n_cols < 2 || !s->dag)
        return 0;
    size_t cap = 0;
    for (size_t k = 0; k < l->n; k++) {
        size_t nd;
        dag_deps(s->dag, l->order[k], &nd);
        cap += nd;
    }
    struct pair *p = malloc((cap ? cap : 1) * sizeof(*p));
    int32_t *v = malloc((cap ? cap : 1) * sizeof(*v));
    int32_t *tmp = malloc((cap ? cap : 1) * sizeof(*tmp));
    long total = 0;
    if (!p || !v || !tmp)
        goto out;
    for (int32_t c = 0; c + 1 < l->n_cols; c++) {
        size_t np = 0;
        for (int32_t k = l->col_start[c + 1]; k < l->col_start[c + 2]; k++) {
            int32_t t = l->order[k];
            size_t nd;
            const int32_t *d = dag_deps(s->dag, t, &nd);
            for (size_t e = 0; e < nd; e++)
                if (l->col_of[d[e]] == c)
                    p[np++] = (struct pair){l->row_of[d[e]], l->row_of[t]};
        }
        qsort(p, np, sizeof(*p), cmp_pair);
        for (size_t e = 0; e < np; e++)
            v[e] = p[e].b;
        total += inversions(v, tmp, np);
    }
out:
    free(p);
    free(v);
    free(tmp);
    return total;
}

/* One barycenter pass over column c from its neighbours (deps when down, dependents when up). */
static void sweep_column(struct dag_layout *l, const struct snapshot *s, int32_t c, bool down,
                         const int32_t *tie, struct sort_item *items)
{
    int32_t a = l->col_start[c], b = l->col_start[c + 1];
    for (int32_t k = a; k < b; k++) {
        int32_t j = l->order[k];
        size_t nn;
        const int32_t *nb = down ? dag_deps(s->dag, j, &nn) : dag_dependents(s->dag, j, &nn);
        double sum = 0;
        int cnt = 0;
        for (size_t e = 0; e < nn; e++) {
            int32_t o = nb[e];
            int32_t oc = l->col_of[o];
            if (oc < 0 || oc == c)
                continue;
            int32_t size = l->col_start[oc + 1] - l->col_start[oc];
            sum += (l->row_of[o] + 0.5) / size;
            cnt++;
        }
        double self = (l->row_of[j] + 0.5) / (b - a);
        items[k - a] = (struct sort_item){cnt ? sum / cnt : self, tie[j], j};
    }
    qsort(items, (size_t)(b - a), sizeof(*items), cmp_item);
    for (int32_t k = a; k < b; k++) {
        l->order[k] = items[k - a].job;
        l->row_of[items[k - a].job] = k - a;
    }
}

static void place_coords(struct dag_layout *l, const struct snapshot *s)
{
    int32_t x = 0;
    for (int32_t c = 0; c < l->n_cols; c++) {
        int32_t name = 4;
        for (int32_t k = l->col_start[c]; k < l->col_start[c + 1]; k++) {
            const struct job *j = &s->jobs[l->order[k]];
            const char *lab = (j->display_name && *j->display_name) ? j->display_name
                                                                    : j->job_name;
            int32_t len = (int32_t)strlen(lab);
            if (len > name)
                name = len;
        }
        if (name > DAG_NAME_MAX)
            name = DAG_NAME_MAX;
        l->col_x[c] = x;
        l->col_w[c] = 2 + name + 8; /* glyph, space, name, space, duration */
        x += l->col_w[c] + DAG_GAP;
    }
    l->width = x > DAG_GAP ? x - DAG_GAP : 0;
    l->height = l->max_rows > 0 ? (l->max_rows - 1) * DAG_ROW_STRIDE + 1 : 0;
}

struct dag_layout *dag_layout_build(const struct snapshot *s, int32_t scope, int sweeps)
{
    struct dag_layout *l = calloc(1, sizeof(*l));
    if (!l)
        return NULL;
    size_t n = s->n_jobs;
    l->hash = dag_layout_hash(s, scope);
    l->scope = scope;
    l->n_jobs = n;
    int32_t nl = s->dag ? dag_layer_count(s->dag) : 0;
    l->col_of = malloc((n ? n : 1) * sizeof(int32_t));
    l->row_of = malloc((n ? n : 1) * sizeof(int32_t));
    l->order = malloc((n ? n : 1) * sizeof(int32_t));
    int32_t *colmap = calloc((size_t)nl + 1, sizeof(int32_t));
    int32_t *tie = malloc((n ? n : 1) * sizeof(int32_t));
    struct sort_item *items = malloc((n ? n : 1) * sizeof(*items));
    int32_t *best = malloc((n ? n : 1) * sizeof(int32_t));
    if (!l->col_of || !l->row_of || !l->order || !colmap || !tie || !items || !best)
        goto fail;

    /* Which jobs are placed, and which layers are non-empty. */
    for (size_t i = 0; i < n; i++) {
        l->col_of[i] = -1;
        l->row_of[i] = -1;
        if (!s->dag || s->jobs[i].is_group || !dag_layout_in_scope(s, (int32_t)i, scope))
            continue;
        int32_t ly = dag_layer(s->dag, (int32_t)i);
        if (ly < 0 || ly >= nl)
            continue;
        l->order[l->n++] = (int32_t)i;
        colmap[ly] = 1;
    }
    int32_t nc = 0;
    for (int32_t k = 0; k < nl; k++)
        colmap[k] = colmap[k] ? nc++ : -1;
    l->n_cols = nc;
    l->col_start = calloc((size_t)nc + 2, sizeof(int32_t));
    l->col_x = calloc((size_t)nc + 1, sizeof(int32_t));
    l->col_w = calloc((size_t)nc + 1, sizeof(int32_t));
    if (!l->col_start || !l->col_x || !l->col_w)
        goto fail;

    /* Initial order: dependents count descending, then id; stable rank for ties later. */
    qsort_r(l->order, l->n, sizeof(int32_t), cmp_tie, (void *)(uintptr_t)s);
    for (size_t k = 0; k < l->n; k++)
        tie[l->order[k]] = (int32_t)k;
    for (size_t k = 0; k < l->n; k++) {
        int32_t j = l->order[k];
        l->col_of[j] = colmap[dag_layer(s->dag, j)];
        l->col_start[l->col_of[j] + 1]++;
    }
    for (int32_t c = 0; c < nc; c++)
        l->col_start[c + 1] += l->col_start[c];
    l->col_start[nc + 1] = l->col_start[nc];
    /* Bucket by column keeping the tie order (counting sort). */
    int32_t *fill = calloc((size_t)nc + 1, sizeof(int32_t));
    if (!fill)
        goto fail;
    memcpy(best, l->order, l->n * sizeof(int32_t));
    for (size_t k = 0; k < l->n; k++) {
        int32_t j = best[k];
        int32_t c = l->col_of[j];
        int32_t at = l->col_start[c] + fill[c]++;
        l->order[at] = j;
        l->row_of[j] = at - l->col_start[c];
    }
    free(fill);
    for (int32_t c = 0; c < nc; c++) {
        int32_t rows = l->col_start[c + 1] - l->col_start[c];
        if (rows > l->max_rows)
            l->max_rows = rows;
    }

    l->crossings_initial = l->crossings_final = dag_layout_crossings(l, s);
    memcpy(best, l->order, l->n * sizeof(int32_t));
    for (int it = 0; it < sweeps && l->crossings_final > 0; it++) {
        for (int32_t c = 1; c < nc; c++)
            sweep_column(l, s, c, true, tie, items);
        for (int32_t c = nc - 2; c >= 0; c--)
            sweep_column(l, s, c, false, tie, items);
        long x = dag_layout_crossings(l, s);
        if (x < l->crossings_final) {
            l->crossings_final = x;
            memcpy(best, l->order, l->n * sizeof(int32_t));
        }
    }
    /* Restore the best order seen. */
    memcpy(l->order, best, l->n * sizeof(int32_t));
    for (int32_t c = 0; c < nc; c++)
        for (int32_t k = l->col_start[c]; k < l->col_start[c + 1]; k++)
            l->row_of[l->order[k]] = k - l->col_start[c];
    place_coords(l, s);
    free(colmap);
    free(tie);
    free(items);
    free(best);
    return l;
fail:
    free(colmap);
    free(tie);
    free(items);
    free(best);
    dag_layout_free(l);
    return NULL;
}

struct dag_layout *dag_layout_get(struct dag_layout **cache, const struct snapshot *s,
                                  int32_t scope, bool *rebuilt)
{
    uint64_t h = dag_layout_hash(s, scope);
    if (*cache && (*cache)->hash == h && (*cache)->scope == scope &&
        (*cache)->n_jobs == s->n_jobs) {
        if (rebuilt)
            *rebuilt = false;
        return *cache;
    }
    struct dag_layout *l = dag_layout_build(s, scope, DAG_SWEEPS);
    if (!l)
        return NULL;
    dag_layout_free(*cache);
    *cache = l;
    if (rebuilt)
        *rebuilt = true;
    return l;
}
