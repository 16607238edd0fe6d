/* Tests for core/dag: WIRE §3.4 resolution, cycles, layers, critical path, closures. */
#include "dag.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEP "3f9a1c7e52b04d8a"
#define MAX_DEPS 6

/* A job row for hand-written graphs: bare name plus raw dependsOn entries. */
struct row {
    const char *name;
    const char *deps[MAX_DEPS];
};

/* Owns the node array and the "<DEP>:<name>" ids built for it. */
struct graph {
    struct dag_node_in *in;
    char **ids;
    size_t n;
    struct dag *dag;
};

static size_t count_deps(const struct row *r)
{
    size_t k = 0;
    while (k < MAX_DEPS && r->deps[k])
        k++;
    return k;
}

static void graph_build(struct graph *g, const struct row *rows, size_t n, const char *dep_id)
{
    g->n = n;
    g->in = calloc(n ? n : 1, sizeof(*g->in));
    g->ids = calloc(n ? n : 1, sizeof(char *));
    cr_assert(g->in && g->ids);
    for (size_t i = 0; i < n; i++) {
        cr_assert(asprintf(&g->ids[i], "%s:%s", DEP, rows[i].name) > 0);
        g->in[i].id = g->ids[i];
        g->in[i].name = rows[i].name;
        g->in[i].deps = rows[i].deps;
        g->in[i].n_deps = count_deps(&rows[i]);
    }
    struct error err;
    error_clear(&err);
    g->dag = dag_build(g->in, n, dep_id, &err);
    cr_assert_not_null(g->dag, "dag_build: %s", err.msg);
}

static void graph_free(struct graph *g)
{
    dag_free(g->dag);
    for (size_t i = 0; i < g->n; i++)
        free(g->ids[i]);
    free(g->ids);
    free(g->in);
}

static int32_t idx(const struct dag *d, const char *name)
{
    int32_t i = dag_find(d, name);
    cr_assert_geq(i, 0, "no node %s", name);
    return i;
}

/* Every resolved edge that is not part of a cycle goes from an earlier layer and topo slot. */
static void assert_topo_consistent(const struct dag *d)
{
    size_t n = dag_size(d);
    const int32_t *topo = dag_topo_order(d);
    int32_t *pos = malloc((n ? n : 1) * sizeof(int32_t));
    cr_assert_not_null(pos);
    memset(pos, 0xff, (n ? n : 1) * sizeof(int32_t));
    for (size_t k = 0; k < n; k++) {
        cr_assert(topo[k] >= 0 && (size_t)topo[k] < n);
        cr_assert_eq(pos[topo[k]], -1, "node %d twice in topo order", topo[k]);
        pos[topo[k]] = (int32_t)k;
    }
    bool cyclic = dag_cycle(d, NULL, NULL);
    for (size_t v = 0; v < n; v++) {
        size_t nd;
        const int32_t *dp = dag_deps(d, (int32_t)v, &nd);
        for (size_t k = 0; k < nd; k++) {
            if (cyclic)
                continue;
            cr_assert_lt(pos[dp[k]], pos[v]);
            cr_assert_lt(dag_layer(d, dp[k]), dag_layer(d, (int32_t)v));
        }
    }
    free(pos);
}

/* WIRE §9.1-style: bare jobNames, full ids, "<dep>:<name>" and an unresolved entry. */
Test(dag, mixed_depends_on_resolution)
{
    static const char *const cut_deps[] = {"cutover-step-gitea-mirror"};
    static const char *const cm_deps[] = {"install-cilium"};
    static const char *const plan_deps[] = {DEP ":tofu-init"};
    static const char *const dns_deps[] = {"tofu-plan", "dns-record", "install-missing"};
    static const char *const flux_deps[] = {"install-cert-manager", "reconcile-gone"};
    struct dag_node_in in[] = {
        {DEP ":cutover", "cutover", NULL, 0},
        {DEP ":cutover-step-harbor-projects", "cutover-step-harbor-projects", cut_deps, 1},
        {DEP ":cutover-step-gitea-mirror", "cutover-step-gitea-mirror", NULL, 0},
        {DEP ":install-cert-manager", "install-cert-manager", cm_deps, 1},
        {DEP ":install-cilium", "install-cilium", NULL, 0},
        {DEP ":tofu-plan", "tofu-plan", plan_deps, 1},
        {DEP ":tofu-init", "tofu-init", NULL, 0},
        /* no jobName: only its id's "<dep>:" form can reach it */
        {DEP ":dns-record", NULL, NULL, 0},
        {DEP ":handover-dns", "handover-dns", dns_deps, 3},
        {DEP ":install-flux", "install-flux", flux_deps, 2},
    };
    struct error err;
    struct dag *d = dag_build(in, 10, DEP, &err);
    cr_assert_not_null(d);
    cr_assert_eq(dag_size(d), 10);

    size_t n;
    const int32_t *dp = dag_deps(d, 1, &n);
    cr_assert_eq(n, 1);
    cr_assert_eq(dp[0], 2, "bare jobName of a step");
    dp = dag_deps(d, 3, &n);
    cr_assert_eq(n, 1);
    cr_assert_eq(dp[0], 4, "bare jobName of an install leaf");
    dp = dag_deps(d, 5, &n);
    cr_assert_eq(n, 1);
    cr_assert_eq(dp[0], 6, "full id of a provisioner leaf");
    dp = dag_deps(d, 8, &n);
    cr_assert_eq(n, 2);
    cr_assert_eq(dp[0], 5);
    cr_assert_eq(dp[1], 7, "\"<dep>:<entry>\" form");

    const char *const *un;
    cr_assert_eq(dag_unresolved(d, 8, &un), 1);
    cr_assert_str_eq(un[0], "install-missing");
    cr_assert_eq(dag_unresolved(d, 9, &un), 1);
    cr_assert_str_eq(un[0], "reconcile-gone");
    cr_assert_eq(dag_unresolved(d, 3, &un), 0);

    /* Unresolved entries are not fatal and add no edge. */
    dp = dag_deps(d, 9, &n);
    cr_assert_eq(n, 1);
    cr_assert_eq(dp[0], 3);

    dp = dag_dependents(d, 3, &n);
    cr_assert_eq(n, 1);
    cr_assert_eq(dp[0], 9);
    dp = dag_dependents(d, 5, &n);
    cr_assert_eq(n, 1);
    cr_assert_eq(dp[0], 8);

    cr_assert_not(dag_cycle(d, NULL, NULL));
    cr_assert_eq(dag_layer(d, 8), 2);
    cr_assert_eq(dag_layer(d, 9), 2);
    cr_assert_eq(dag_layer_count(d), 3);
    assert_topo_consistent(d);
    dag_free(d);
}

Test(dag, prefixed_form_needs_deployment_id)
{
    static const char *const deps[] = {"dns-record"};
    struct dag_node_in in[] = {
        {DEP ":dns-record", NULL, NULL, 0},
        {DEP ":handover", "handover", deps, 1},
    };
    struct error err;
    struct dag *d = dag_build(in, 2, NULL, &err);
    cr_assert_not_null(d);
    size_t n;
    dag_deps(d, 1, &n);
    cr_assert_eq(n, 0);
    const char *const *un;
    cr_assert_eq(dag_unresolved(d, 1, &un), 1);
    cr_assert_str_eq(un[0], "dns-record");
    cr_assert_eq(dag_find(d, "dns-record"), -1);
    dag_free(d);
}

Test(dag, find_by_id_name_and_prefixed)
{
    struct dag_node_in in[] = {
        {DEP ":tofu-init", "tofu-init", NULL, 0},
        {DEP ":odd-id", "odd-name", NULL, 0},
        {"tofu-init-2", "x", NULL, 0},
    };
    struct error err;
    struct dag *d = dag_build(in, 3, DEP, &err);
    cr_assert_not_null(d);
    cr_assert_eq(dag_find(d, DEP ":tofu-init"), 0);
    cr_assert_eq(dag_find(d, "tofu-init"), 0);
    cr_assert_eq(dag_find(d, "odd-name"), 1);
    cr_assert_eq(dag_find(d, "odd-id"), 1);
    cr_assert_eq(dag_find(d, DEP ":odd-id"), 1);
    cr_assert_eq(dag_find(d, "tofu-init-2"), 2);
    cr_assert_eq(dag_find(d, "tofu"), -1);
    cr_assert_eq(dag_find(d, ""), -1);
    cr_assert_eq(dag_find(d, NULL), -1);
    cr_assert_eq(dag_find(d, DEP ":"), -1);
    dag_free(d);
}

/* id beats jobName: an entry equal to one node's id and another's name goes to the id. */
Test(dag, id_match_wins_over_name)
{
    static const char *const deps[] = {"shared"};
    struct dag_node_in in[] = {
        {"other", "shared", NULL, 0},
        {"shared", "by-id", NULL, 0},
        {"c", "c", deps, 1},
    };
    struct error err;
    struct dag *d = dag_build(in, 3, NULL, &err);
    cr_assert_not_null(d);
    size_t n;
    const int32_t *dp = dag_deps(d, 2, &n);
    cr_assert_eq(n, 1);
    cr_assert_eq(dp[0], 1);
    cr_assert_eq(dag_find(d, "shared"), 1);
    dag_free(d);
}

Test(dag, duplicate_edges_collapse)
{
    static const struct row rows[] = {
        {"install-cilium", {NULL}},
        {"install-cert-manager",
         {"install-cilium", "install-cilium", DEP ":install-cilium", "nope", "nope", NULL}},
    };
    struct graph g;
    graph_build(&g, rows, 2, DEP);
    size_t n;
    const int32_t *dp = dag_deps(g.dag, 1, &n);
    cr_assert_eq(n, 1);
    cr_assert_eq(dp[0], 0);
    dp = dag_dependents(g.dag, 0, &n);
    cr_assert_eq(n, 1);
    cr_assert_eq(dp[0], 1);
    /* unresolved entries are kept as given, repeats included */
    const char *const *un;
    cr_assert_eq(dag_unresolved(g.dag, 1, &un), 2);
    cr_assert_str_eq(un[0], "nope");
    graph_free(&g);
}

/* Repeated ids / names: the first occurrence wins, for edges and for dag_find. */
Test(dag, repeated_names_first_wins)
{
    static const char *const deps[] = {"install-harbor"};
    struct dag_node_in in[] = {
        {"r1:install-harbor", "install-harbor", NULL, 0},
        {"r2:install-harbor", "install-harbor", NULL, 0},
        {"r1:install-harbor", "dup-id", NULL, 0},
        {"app", "app", deps, 1},
    };
    struct error err;
    struct dag *d = dag_build(in, 4, NULL, &err);
    cr_assert_not_null(d);
    size_t n;
    const int32_t *dp = dag_deps(d, 3, &n);
    cr_assert_eq(n, 1);
    cr_assert_eq(dp[0], 0);
    cr_assert_eq(dag_find(d, "install-harbor"), 0);
    cr_assert_eq(dag_find(d, "r1:install-harbor"), 0);
    cr_assert_eq(dag_find(d, "r2:install-harbor"), 1);
    cr_assert_eq(dag_find(d, "dup-id"), 2);
    dag_free(d);
}

Test(dag, named_three_cycle)
{
    static const struct row rows[] = {
        {"root", {NULL}},
        {"a", {"b", "root", NULL}},
        {"b", {"c", NULL}},
        {"c", {"a", NULL}},
        {"tail", {"c", NULL}},
    };
    struct graph g;
    graph_build(&g, rows, 5, DEP);
    const int32_t *path;
    size_t n;
    cr_assert(dag_cycle(g.dag, &path, &n));
    cr_assert_eq(n, 3);
    /* path[k] depends on path[k+1]; the last depends on the first */
    cr_assert_eq(path[0], 1);
    cr_assert_eq(path[1], 2);
    cr_assert_eq(path[2], 3);
    /* layout still covers every node once, back edge ignored */
    assert_topo_consistent(g.dag);
    cr_assert_eq(dag_layer(g.dag, 0), 0);
    cr_assert_geq(dag_layer(g.dag, 4), 1);
    graph_free(&g);
}

/* Entering the cycle from its highest node still reports it lowest index first. */
Test(dag, cycle_rotation_is_deterministic)
{
    static const struct row rows[] = {
        {"z", {"y", NULL}},
        {"x", {"z", NULL}},
        {"y", {"x", NULL}},
    };
    struct graph g;
    graph_build(&g, rows, 3, DEP);
    const int32_t *path;
    size_t n;
    cr_assert(dag_cycle(g.dag, &path, &n));
    cr_assert_eq(n, 3);
    cr_assert_eq(path[0], 0); /* z depends on y */
    cr_assert_eq(path[1], 2); /* y depends on x */
    cr_assert_eq(path[2], 1); /* x depends on z */
    graph_free(&g);
}

Test(dag, self_loop_is_a_cycle)
{
    static const struct row rows[] = {
        {"a", {NULL}},
        {"loop", {"loop", "a", NULL}},
        {"after", {"loop", NULL}},
    };
    struct graph g;
    graph_build(&g, rows, 3, DEP);
    const int32_t *path;
    size_t n;
    cr_assert(dag_cycle(g.dag, &path, &n));
    cr_assert_eq(n, 1);
    cr_assert_eq(path[0], 1);
    cr_assert_eq(dag_layer(g.dag, 1), 1);
    cr_assert_eq(dag_layer(g.dag, 2), 2);
    cr_assert_eq(dag_layer_count(g.dag), 3);
    uint8_t mark[3] = {0};
    cr_assert_eq(dag_closure(g.dag, 1, false, mark), 1, "the node itself is excluded");
    cr_assert_eq(mark[1], 0);
    cr_assert_eq(mark[2], 1);
    graph_free(&g);
}

Test(dag, acyclic_reports_no_cycle)
{
    static const struct row rows[] = {{"a", {NULL}}, {"b", {"a", NULL}}};
    struct graph g;
    graph_build(&g, rows, 2, DEP);
    const int32_t *path = (const int32_t *)1;
    size_t n = 7;
    cr_assert_not(dag_cycle(g.dag, &path, &n));
    cr_assert_eq(n, 0);
    cr_assert_null(path);
    graph_free(&g);
}

/* WIRE §8: HelmRelease dependsOn with "bp-" stripped and "install-" prefixed; Level column. */
static const struct row kit[] = {
    {"install-cilium", {NULL}},
    {"install-cert-manager", {"install-cilium", NULL}},
    {"install-flux", {"install-cert-manager", NULL}},
    {"install-crossplane", {"install-flux", NULL}},
    {"install-sealed-secrets", {"install-cert-manager", NULL}},
    {"install-spire", {"install-cert-manager", NULL}},
    {"install-nats-jetstream", {"install-spire", NULL}},
    {"install-openbao", {"install-spire", NULL}},
    {"install-keycloak", {"install-cert-manager", NULL}},
    {"install-gitea", {"install-keycloak", NULL}},
    {"install-powerdns", {"install-cert-manager", NULL}},
    {"install-external-dns", {"install-cert-manager", "install-powerdns", NULL}},
    {"install-catalyst-platform", {"install-gitea", NULL}},
    {"install-crossplane-claims", {"install-crossplane", NULL}},
    {"install-external-secrets", {"install-openbao", "install-cert-manager", NULL}},
    {"install-cnpg", {"install-flux", NULL}},
    {"install-valkey", {"install-flux", NULL}},
    {"install-seaweedfs", {"install-flux", "install-cert-manager", NULL}},
    {"install-harbor", {"install-cnpg", "install-seaweedfs", "install-cert-manager", NULL}},
    {"install-opentelemetry", {"install-cert-manager", NULL}},
    {"install-alloy", {"install-opentelemetry", NULL}},
    {"install-loki", {"install-seaweedfs", NULL}},
    {"install-mimir", {"install-seaweedfs", NULL}},
    {"install-tempo", {"install-seaweedfs", NULL}},
    {"install-grafana",
     {"install-cnpg", "install-loki", "install-mimir", "install-tempo", "install-keycloak", NULL}},
    {"install-langfuse", {"install-cnpg", "install-keycloak", "install-cert-manager", NULL}},
    {"install-kyverno", {"install-cilium", NULL}},
    {"install-reloader", {NULL}},
    {"install-vpa", {NULL}},
    {"install-trivy", {"install-cert-manager", NULL}},
    {"install-falco", {"install-cilium", NULL}},
    {"install-sigstore", {"install-cert-manager", NULL}},
    {"install-syft-grype", {"install-cert-manager", NULL}},
    {"install-velero", {"install-seaweedfs", NULL}},
    {"install-coraza", {"install-cilium", "install-cert-manager", NULL}},
};
static const int32_t kit_level[] = {0, 1, 2, 3, 2, 2, 3, 3, 2, 3, 2, 3, 4, 4, 4, 3, 3, 3,
                                    4, 2, 3, 4, 4, 4, 5, 4, 1, 0, 0, 2, 1, 2, 2, 4, 2};
#define KIT_N (sizeof(kit) / sizeof(kit[0]))

Test(dag, bootstrap_kit_levels)
{
    cr_assert_eq(KIT_N, 35);
    cr_assert_eq(sizeof(kit_level) / sizeof(kit_level[0]), 35);
    struct graph g;
    graph_build(&g, kit, KIT_N, DEP);
    for (size_t i = 0; i < KIT_N; i++)
        cr_assert_eq(dag_layer(g.dag, (int32_t)i), kit_level[i], "%s: level %d, want %d",
                     kit[i].name, dag_layer(g.dag, (int32_t)i), kit_level[i]);
    cr_assert_eq(dag_layer(g.dag, idx(g.dag, "install-grafana")), 5);
    cr_assert_eq(dag_layer(g.dag, idx(g.dag, "install-cilium")), 0);
    cr_assert_eq(dag_layer(g.dag, idx(g.dag, "install-reloader")), 0);
    cr_assert_eq(dag_layer(g.dag, idx(g.dag, "install-vpa")), 0);
    cr_assert_eq(dag_layer_count(g.dag), 6);
    cr_assert_not(dag_cycle(g.dag, NULL, NULL));
    assert_topo_consistent(g.dag);
    /* roots first, index order inside a layer */
    const int32_t *topo = dag_topo_order(g.dag);
    cr_assert_eq(topo[0], idx(g.dag, "install-cilium"));
    cr_assert_eq(topo[1], idx(g.dag, "install-reloader"));
    cr_assert_eq(topo[2], idx(g.dag, "install-vpa"));
    cr_assert_eq(topo[KIT_N - 1], idx(g.dag, "install-grafana"));
    graph_free(&g);
}

/* With equal weights the critical path is the deepest chain of WIRE §8 (6 jobs). */
Test(dag, bootstrap_kit_deepest_chain)
{
    struct graph g;
    graph_build(&g, kit, KIT_N, DEP);
    int64_t w[KIT_N];
    for (size_t i = 0; i < KIT_N; i++)
        w[i] = 1;
    int32_t *chain;
    int64_t total;
    ssize_t n = dag_critical_path(g.dag, w, &chain, &total);
    cr_assert_eq(n, 6);
    cr_assert_eq(total, 6);
    static const char *const want[] = {"install-cilium", "install-cert-manager", "install-flux",
                                       "install-seaweedfs", "install-loki", "install-grafana"};
    for (size_t k = 0; k < 6; k++)
        cr_assert_eq(chain[k], idx(g.dag, want[k]), "chain[%zu] is %s", k, kit[chain[k]].name);
    free(chain);

    /* no weights at all: still the longest chain, total 0 */
    n = dag_critical_path(g.dag, NULL, &chain, &total);
    cr_assert_eq(n, 6);
    cr_assert_eq(total, 0);
    cr_assert_eq(chain[5], idx(g.dag, "install-grafana"));
    free(chain);
    graph_free(&g);
}

Test(dag, bootstrap_kit_closures)
{
    struct graph g;
    graph_build(&g, kit, KIT_N, DEP);
    uint8_t mark[KIT_N];

    memset(mark, 0, sizeof(mark));
    int32_t graf = idx(g.dag, "install-grafana");
    cr_assert_eq(dag_closure(g.dag, graf, true, mark), 9);
    static const char *const up[] = {"install-cnpg", "install-loki", "install-mimir",
                                     "install-tempo", "install-keycloak", "install-flux",
                                     "install-seaweedfs", "install-cert-manager",
                                     "install-cilium"};
    size_t marked = 0;
    for (size_t i = 0; i < KIT_N; i++)
        marked += mark[i];
    cr_assert_eq(marked, 9);
    for (size_t k = 0; k < 9; k++)
        cr_assert_eq(mark[idx(g.dag, up[k])], 1, "%s upstream of grafana", up[k]);
    cr_assert_eq(mark[graf], 0);

    memset(mark, 0, sizeof(mark));
    cr_assert_eq(dag_closure(g.dag, idx(g.dag, "install-spire"), false, mark), 3);
    cr_assert_eq(mark[idx(g.dag, "install-nats-jetstream")], 1);
    cr_assert_eq(mark[idx(g.dag, "install-openbao")], 1);
    cr_assert_eq(mark[idx(g.dag, "install-external-secrets")], 1);

    memset(mark, 0, sizeof(mark));
    cr_assert_eq(dag_closure(g.dag, idx(g.dag, "install-cilium"), false, mark), 32);
    cr_assert_eq(mark[idx(g.dag, "install-reloader")], 0);
    cr_assert_eq(mark[idx(g.dag, "install-vpa")], 0);
    cr_assert_eq(mark[idx(g.dag, "install-cilium")], 0);

    memset(mark, 0, sizeof(mark));
    cr_assert_eq(dag_closure(g.dag, idx(g.dag, "install-vpa"), true, mark), 0);
    cr_assert_eq(dag_closure(g.dag, idx(g.dag, "install-vpa"), false, mark), 0);
    cr_assert_eq(dag_closure(g.dag, -1, false, mark), 0);
    graph_free(&g);
}

/*
 *   A(3) -> B(2) -> D(4)      F(1) -> G(1) -> H(1) -> I(1)
 *   A(3) -> C(10) -> D(4)     E(1)
 * The heaviest chain is A, C, D (17), not the longest one (F..I).
 */
Test(dag, critical_path_weighted)
{
    static const struct row rows[] = {
        {"A", {NULL}},           {"B", {"A", NULL}}, {"C", {"A", NULL}},
        {"D", {"B", "C", NULL}}, {"E", {NULL}},      {"F", {NULL}},
        {"G", {"F", NULL}},      {"H", {"G", NULL}}, {"I", {"H", NULL}},
    };
    const int64_t w[] = {3, 2, 10, 4, 1, 1, 1, 1, 1};
    struct graph g;
    graph_build(&g, rows, 9, DEP);
    int32_t *chain;
    int64_t total = -1;
    ssize_t n = dag_critical_path(g.dag, w, &chain, &total);
    cr_assert_eq(n, 3);
    cr_assert_eq(total, 17);
    cr_assert_eq(chain[0], 0);
    cr_assert_eq(chain[1], 2);
    cr_assert_eq(chain[2], 3);
    free(chain);

    /* make the F..I chain heavier: it takes over */
    const int64_t w2[] = {3, 2, 10, 4, 1, 5, 5, 5, 5};
    n = dag_critical_path(g.dag, w2, &chain, NULL);
    cr_assert_eq(n, 4);
    cr_assert_eq(chain[0], 5);
    cr_assert_eq(chain[3], 8);
    free(chain);
    graph_free(&g);
}

Test(dag, empty)
{
    struct error err;
    struct dag *d = dag_build(NULL, 0, DEP, &err);
    cr_assert_not_null(d);
    cr_assert_eq(dag_size(d), 0);
    cr_assert_eq(dag_layer_count(d), 0);
    cr_assert_not(dag_cycle(d, NULL, NULL));
    cr_assert_eq(dag_find(d, "x"), -1);
    cr_assert_eq(dag_layer(d, 0), -1);
    size_t n = 9;
    cr_assert_null(dag_deps(d, 0, &n));
    cr_assert_eq(n, 0);
    int32_t *chain = (int32_t *)1;
    int64_t total = 5;
    cr_assert_eq(dag_critical_path(d, NULL, &chain, &total), 0);
    cr_assert_null(chain);
    cr_assert_eq(total, 0);
    dag_free(d);

    d = dag_build_jobs(NULL, 0, NULL, &err);
    cr_assert_not_null(d);
    cr_assert_eq(dag_size(d), 0);
    dag_free(d);
    dag_free(NULL);
}

Test(dag, build_jobs_uses_model_fields)
{
    const char *cm_deps[] = {"install-cilium"};
    const char *plan_deps[] = {DEP ":tofu-init"};
    struct job jobs[4];
    memset(jobs, 0, sizeof(jobs));
    jobs[0].id = DEP ":install-cilium";
    jobs[0].job_name = "install-cilium";
    jobs[1].id = DEP ":install-cert-manager";
    jobs[1].job_name = "install-cert-manager";
    jobs[1].depends_on = cm_deps;
    jobs[1].n_depends_on = 1;
    jobs[2].id = DEP ":tofu-plan";
    jobs[2].job_name = "tofu-plan";
    jobs[2].depends_on = plan_deps;
    jobs[2].n_depends_on = 1;
    jobs[3].id = DEP ":tofu-init";
    jobs[3].job_name = "tofu-init";
    struct error err;
    struct dag *d = dag_build_jobs(jobs, 4, DEP, &err);
    cr_assert_not_null(d);
    size_t n;
    const int32_t *dp = dag_deps(d, 1, &n);
    cr_assert_eq(n, 1);
    cr_assert_eq(dp[0], 0);
    dp = dag_deps(d, 2, &n);
    cr_assert_eq(n, 1);
    cr_assert_eq(dp[0], 3);
    cr_assert_eq(dag_find(d, "tofu-init"), 3);
    dag_free(d);
}

#define CHAIN_N 100000

struct chain {
    struct dag_node_in *in;
    char (*names)[16];
    const char **dep; /* dep[i] = names[i - 1] */
};

static void chain_make(struct chain *c, bool closed)
{
    c->in = calloc(CHAIN_N, sizeof(*c->in));
    c->names = calloc(CHAIN_N, sizeof(*c->names));
    c->dep = calloc(CHAIN_N, sizeof(*c->dep));
    cr_assert(c->in && c->names && c->dep);
    for (size_t i = 0; i < CHAIN_N; i++) {
        snprintf(c->names[i], sizeof(c->names[i]), "job-%zu", i);
        c->in[i].name = c->names[i];
    }
    for (size_t i = 0; i < CHAIN_N; i++) {
        size_t prev = i ? i - 1 : CHAIN_N - 1;
        c->dep[i] = c->names[prev];
        c->in[i].deps = &c->dep[i];
        c->in[i].n_deps = (i || closed) ? 1 : 0;
    }
}

static void chain_free(struct chain *c)
{
    free(c->in);
    free(c->names);
    free(c->dep);
}

/* Listed downstream first, so the DFS has to walk the whole chain from node 0. */
Test(dag, long_chain_no_stack_overflow)
{
    struct chain c;
    chain_make(&c, false);
    /* reverse the order: node 0 is the deepest */
    struct dag_node_in *rev = calloc(CHAIN_N, sizeof(*rev));
    cr_assert_not_null(rev);
    for (size_t i = 0; i < CHAIN_N; i++)
        rev[i] = c.in[CHAIN_N - 1 - i];
    struct error err;
    struct dag *d = dag_build(rev, CHAIN_N, NULL, &err);
    cr_assert_not_null(d);
    cr_assert_eq(dag_layer_count(d), CHAIN_N);
    cr_assert_eq(dag_layer(d, 0), CHAIN_N - 1);
    cr_assert_eq(dag_layer(d, CHAIN_N - 1), 0);
    cr_assert_not(dag_cycle(d, NULL, NULL));
    const int32_t *topo = dag_topo_order(d);
    cr_assert_eq(topo[0], CHAIN_N - 1);
    cr_assert_eq(topo[CHAIN_N - 1], 0);

    uint8_t *mark = calloc(CHAIN_N, 1);
    cr_assert_not_null(mark);
    cr_assert_eq(dag_closure(d, 0, true, mark), CHAIN_N - 1);
    cr_assert_eq(mark[0], 0);
    cr_assert_eq(mark[1], 1);
    cr_assert_eq(mark[CHAIN_N - 1], 1);
    free(mark);

    int32_t *path;
    int64_t total;
    cr_assert_eq(dag_critical_path(d, NULL, &path, &total), CHAIN_N);
    cr_assert_eq(path[0], CHAIN_N - 1);
    cr_assert_eq(path[CHAIN_N - 1], 0);
    free(path);
    dag_free(d);
    free(rev);
    chain_free(&c);
}

Test(dag, long_cycle_reported_whole)
{
    struct chain c;
    chain_make(&c, true);
    struct error err;
    struct dag *d = dag_build(c.in, CHAIN_N, NULL, &err);
    cr_assert_not_null(d);
    const int32_t *path;
    size_t n;
    cr_assert(dag_cycle(d, &path, &n));
    cr_assert_eq(n, CHAIN_N);
    /* job-0 depends on job-99999, which depends on job-99998, ... */
    cr_assert_eq(path[0], 0);
    cr_assert_eq(path[1], CHAIN_N - 1);
    cr_assert_eq(path[CHAIN_N - 1], 1);
    cr_assert_eq(dag_layer_count(d), CHAIN_N);
    assert_topo_consistent(d);
    dag_free(d);
    chain_free(&c);
}
