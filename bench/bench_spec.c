/*
 * bench_spec: spec load + validation, and the job DAG build over the loaded
 * spec, for synthetic specs of 10,000 and 100,000 jobs (a layered random DAG
 * with a few dependencies per job, groups chained by `after`, fixed seed).
 * Prints the best of a few runs for each figure.
 */
#include "bench_util.h"
#include "dag.h"
#include "spec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state = 0x2545f4914f6cdd1dull;

static uint32_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 11);
}

/* Groups of 1,000 jobs in layers of 50; each job depends on 1-3 jobs of earlier layers. */
static char *make_spec(size_t n_jobs, size_t *len)
{
    const size_t per_group = 1000, per_layer = 50;
    struct strbuf sb;
    sb_init(&sb);
    sb_puts(&sb, "sovereign: {name: bench, fqdn: bench.example.org, provider: hetzner, "
                 "regions: [fsn1], deploymentId: 0123456789abcdef}\ngroups:\n");
    for (size_t base = 0; base < n_jobs; base += per_group) {
        size_t g = base / per_group;
        sb_printf(&sb, "  - name: g%zu\n    displayName: Group %zu\n", g, g);
        if (g)
            sb_printf(&sb, "    after: [g%zu]\n", g - 1);
        sb_puts(&sb, "    jobs:\n");
        for (size_t i = 0; i < per_group && base + i < n_jobs; i++) {
            sb_printf(&sb, "      - {name: j%zu, app: app-%zu", base + i, i % 97);
            if (i >= per_layer) {
                size_t layer_start = i - i % per_layer;
                size_t deps = 1 + rng() % 3;
                sb_puts(&sb, ", dependsOn: [");
                for (size_t d = 0; d < deps; d++)
                    sb_printf(&sb, "%sj%zu", d ? ", " : "", base + rng() % layer_start);
                sb_puts(&sb, "]");
            }
            sb_printf(&sb, ", simulate: {duration: %ums, logs: [\"step %zu\"]}}\n",
                      rng() % 2000, i);
        }
    }
    *len = sb.len;
    return sb_take(&sb);
}

static struct dag *build_dag(const struct spec *s, struct error *err)
{
    size_t n = spec_job_count(s), k = 0;
    struct dag_node_in *nodes = calloc(n, sizeof(*nodes));
    if (!nodes)
        return NULL;
    for (size_t g = 0; g < s->n_groups; g++)
        for (size_t i = 0; i < s->groups[g].n_jobs; i++, k++) {
            const struct spec_job *j = &s->groups[g].jobs[i];
            nodes[k].name = j->name;
            nodes[k].deps = j->depends_on;
            nodes[k].n_deps = j->n_depends_on;
        }
    struct dag *d = dag_build(nodes, n, s->deployment_id, err);
    free(nodes);
    return d;
}

static int run(size_t n_jobs, int rounds, double load_target, double dag_target)
{
    size_t len;
    char *yaml = make_spec(n_jobs, &len);
    if (!yaml) {
        fprintf(stderr, "bench_spec: out of memory\n");
        return 1;
    }
    double best_load = 1e18, best_dag = 1e18;
    for (int r = 0; r < rounds; r++) {
        struct error err;
        double t0 = bench_now_ms();
        struct spec *s = spec_load_buffer(yaml, len, "<bench>", &err);
        double t1 = bench_now_ms();
        if (!s || spec_job_count(s) != n_jobs) {
            char buf[1400];
            fprintf(stderr, "bench_spec: %s\n", error_format(&err, buf, sizeof(buf)));
            free(yaml);
            return 1;
        }
        struct dag *d = build_dag(s, &err);
        double t2 = bench_now_ms();
        if (!d) {
            fprintf(stderr, "bench_spec: dag_build failed\n");
            spec_free(s);
            free(yaml);
            return 1;
        }
        dag_free(d);
        spec_free(s);
        if (t1 - t0 < best_load)
            best_load = t1 - t0;
        if (t2 - t1 < best_dag)
            best_dag = t2 - t1;
    }
    printf("spec load + validation %zu jobs (%.1f MB YAML): %.1f ms (target <= %.0f ms)\n",
           n_jobs, (double)len / (1 << 20), best_load, load_target);
    printf("spec DAG build %zu jobs: %.1f ms (target <= %.0f ms)\n", n_jobs, best_dag,
           dag_target);
    printf("spec load + DAG build %zu jobs: %.1f ms\n", n_jobs, best_load + best_dag);
    free(yaml);
    return 0;
}

int main(void)
{
    if (run(10000, 5, 100, 50) != 0)
        return 1;
    return run(100000, 3, 1000, 500);
}
