/* dag_layout: layers, crossing reduction, shape-only caching, scoping. */
#include "helpers/fixture.h"

#include "arena.h"
#include "dag.h"
#include "dag_layout.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

struct spec_job {
    const char *name;
    const char *deps; /* comma separated */
    const char *parent;
};

/* A finalized snapshot from a tiny table of jobs (ids "d:<name>"). */
static struct snapshot *mk(const struct spec_job *js, size_t n)
{
    struct snapshot *s = snapshot_new();
    cr_assert_not_null(s);
    struct arena *a = snapshot_arena(s);
    s->jobs = arena_calloc(a, n, sizeof(struct job));
    for (size_t k = 0; k < n; k++) {
        struct job *j = &s->jobs[k];
        j->id = arena_printf(a, "d:%s", js[k].name);
        j->deployment_id = "d";
        j->job_name = js[k].name;
        j->display_name = j->app_id = j->region = j->latest_execution_id = "";
        j->parent_id = js[k].parent ? arena_printf(a, "d:%s", js[k].parent) : "";
        j->is_group = js[k].deps && strcmp(js[k].deps, "GROUP") == 0;
        if (js[k].deps && *js[k].deps && !j->is_group) {
            const char **d = arena_calloc(a, 8, sizeof(char *));
            char buf[256];
            snprintf(buf, sizeof(buf), "%s", js[k].deps);
            for (char *sv = NULL, *t = strtok_r(buf, ",", &sv); t; t = strtok_r(NULL, ",", &sv))
                d[j->n_depends_on++] = arena_strdup(a, t);
            j->depends_on = d;
        }
    }
    s->n_jobs = n;
    cr_assert_eq(snapshot_finalize(s), 0);
    return s;
}

Test(dag_layout, columns_match_dag_layers)
{
    struct snapshot *s = fixture_demo();
    struct dag_layout *l = dag_layout_build(s, -1, DAG_SWEEPS);
    cr_assert_not_null(l);
    cr_assert_eq(l->n, (size_t)s->counts.total, "every leaf placed, groups not");
    cr_assert_eq(l->n_cols, dag_layer_count(s->dag));
    for (size_t i = 0; i < s->n_jobs; i++) {
        if (s->jobs[i].is_group) {
            cr_assert_eq(l->col_of[i], -1);
            continue;
        }
        cr_assert_eq(l->col_of[i], dag_layer(s->dag, (int32_t)i), "%s", s->jobs[i].job_name);
        /* every dependency sits in an earlier column */
        size_t nd;
        const int32_t *d = dag_deps(s->dag, (int32_t)i, &nd);
        for (size_t k = 0; k < nd; k++)
            if (!s->jobs[d[k]].is_group)
                cr_assert_lt(l->col_of[d[k]], l->col_of[i]);
    }
    /* order[] is a permutation grouped by column, row_of consistent with it */
    for (int32_t c = 0; c < l->n_cols; c++)
        for (int32_t k = l->col_start[c]; k < l->col_start[c + 1]; k++) {
            cr_assert_eq(l->col_of[l->order[k]], c);
            cr_assert_eq(l->row_of[l->order[k]], k - l->col_start[c]);
        }
    /* columns left to right without overlap */
    for (int32_t c = 1; c < l->n_cols; c++)
        cr_assert_eq(l->col_x[c], l->col_x[c - 1] + l->col_w[c - 1] + DAG_GAP);
    dag_layout_free(l);
    snapshot_release(s);
}

Test(dag_layout, initial_order_by_dependents_then_id)
{
    static const struct spec_job js[] = {
        {"b", "", NULL}, {"a", "", NULL}, {"c", "", NULL},
        {"x", "c", NULL}, {"y", "c", NULL}, {"z", "a", NULL},
    };
    struct snapshot *s = mk(js, 6);
    struct dag_layout *l = dag_layout_build(s, -1, 0);
    /* column 0: c (2 dependents), then a (1), then b (0) */
    cr_assert_str_eq(s->jobs[l->order[0]].job_name, "c");
    cr_assert_str_eq(s->jobs[l->order[1]].job_name, "a");
    cr_assert_str_eq(s->jobs[l->order[2]].job_name, "b");
    dag_layout_free(l);
    snapshot_release(s);
}

Test(dag_layout, crossing_reduction_on_crafted_graph)
{
    /* a, b in column 0; c depends on b, d on a: by id c, d are placed crossing. */
    static const struct spec_job js[] = {
        {"a", "", NULL}, {"b", "", NULL}, {"c", "b", NULL}, {"d", "a", NULL},
    };
    struct snapshot *s = mk(js, 4);
    struct dag_layout *l0 = dag_layout_build(s, -1, 0);
    cr_assert_eq(dag_layout_crossings(l0, s), 1);
    struct dag_layout *l = dag_layout_build(s, -1, DAG_SWEEPS);
    cr_assert_eq(l->crossings_initial, 1);
    cr_assert_eq(l->crossings_final, 0);
    cr_assert_eq(dag_layout_crossings(l, s), 0);
    dag_layout_free(l0);
    dag_layout_free(l);
    snapshot_release(s);

    /* A bigger one: never worse than the initial order. */
    s = fixture_synthetic(600, 42);
    l = dag_layout_build(s, -1, DAG_SWEEPS);
    cr_assert_not_null(l);
    cr_assert_leq(l->crossings_final, l->crossings_initial);
    cr_assert_eq(dag_layout_crossings(l, s), l->crossings_final);
    cr_assert_gt(l->crossings_initial, 0, "the synthetic graph has crossings to reduce");
    dag_layout_free(l);
    snapshot_release(s);
}

Test(dag_layout, cache_reused_when_only_statuses_change)
{
    struct snapshot *a = fixture_demo();
    struct snapshot *b = fixture_demo_restatused();
    cr_assert_eq(dag_layout_hash(a, -1), dag_layout_hash(b, -1));
    cr_assert_neq(dag_layout_hash(a, -1), dag_layout_hash(a, 0), "scope is part of the key");
    struct dag_layout *cache = NULL;
    bool rebuilt = false;
    struct dag_layout *l1 = dag_layout_get(&cache, a, -1, &rebuilt);
    cr_assert(rebuilt);
    struct dag_layout *l2 = dag_layout_get(&cache, b, -1, &rebuilt);
    cr_assert(!rebuilt);
    cr_assert_eq(l1, l2);
    /* A changed edge is a new shape. */
    static const struct spec_job j1[] = {{"a", "", NULL}, {"b", "a", NULL}, {"c", "b", NULL}};
    static const struct spec_job j2[] = {{"a", "", NULL}, {"b", "a", NULL}, {"c", "a", NULL}};
    struct snapshot *s1 = mk(j1, 3), *s2 = mk(j2, 3);
    cr_assert_neq(dag_layout_hash(s1, -1), dag_layout_hash(s2, -1));
    dag_layout_get(&cache, s1, -1, &rebuilt);
    cr_assert(rebuilt);
    cr_assert_eq(cache->n_cols, 3);
    dag_layout_get(&cache, s2, -1, &rebuilt);
    cr_assert(rebuilt);
    cr_assert_eq(cache->n_cols, 2);
    dag_layout_free(cache);
    snapshot_release(a);
    snapshot_release(b);
    snapshot_release(s1);
    snapshot_release(s2);
}

Test(dag_layout, scope_to_a_group_squeezes_layers)
{
    static const struct spec_job js[] = {
        {"g1", "GROUP", NULL}, {"g2", "GROUP", NULL},  {"a", "", "g1"},
        {"b", "a", "g1"},      {"c", "b", "g2"},       {"d", "c", "g2"},
        {"e", "c", "g2"},
    };
    struct snapshot *s = mk(js, 7);
    int32_t g2 = snapshot_find_job(s, "g2");
    struct dag_layout *l = dag_layout_build(s, g2, DAG_SWEEPS);
    cr_assert_eq(l->n, 3);
    cr_assert_eq(l->n_cols, 2, "layers 2 and 3 become columns 0 and 1");
    cr_assert_eq(l->col_of[snapshot_find_job(s, "c")], 0);
    cr_assert_eq(l->col_of[snapshot_find_job(s, "d")], 1);
    cr_assert_eq(l->col_of[snapshot_find_job(s, "a")], -1);
    cr_assert(dag_layout_in_scope(s, snapshot_find_job(s, "e"), g2));
    cr_assert(!dag_layout_in_scope(s, snapshot_find_job(s, "a"), g2));
    dag_layout_free(l);
    snapshot_release(s);
}

Test(dag_layout, empty_snapshot)
{
    struct snapshot *s = snapshot_new();
    cr_assert_eq(snapshot_finalize(s), 0);
    struct dag_layout *l = dag_layout_build(s, -1, DAG_SWEEPS);
    cr_assert_not_null(l);
    cr_assert_eq(l->n, 0);
    cr_assert_eq(l->n_cols, 0);
    cr_assert_eq(dag_layout_crossings(l, s), 0);
    dag_layout_free(l);
    snapshot_release(s);
}
