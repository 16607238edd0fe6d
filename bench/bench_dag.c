/*
 * bench_dag: DAG build on synthetic layered random graphs (fixed seed) at
 * 1,000 / 10,000 / 100,000 jobs with ~3 dependsOn entries each (mixed bare
 * jobNames, full ids and a few unresolved entries, as WIRE §3.4 allows),
 * the critical path at 10,000, and snapshot_finalize on a 10,000-job
 * snapshot built by hand. Each figure is the median of several runs.
 */
#include "bench_util.h"

#include "arena.h"
#include "dag.h"
#include "snapshot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEP_ID "3f9a1c7e52b04d8a"
#define WIDTH 100   /* jobs per layer */
#define WINDOW 3    /* deps come from the previous WINDOW layers */
#define FANIN 3

static uint64_t rng_state;

static uint64_t rng(void)
{
    /* xorshift64*: deterministic, good enough to scatter edges */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dULL;
}

/* Owns every string and array of one synthetic graph (in one arena). */
struct synth {
    struct arena *arena;
    struct job *jobs;
    size_t n;
};

static int synth_make(struct synth *s, size_t n, uint64_t seed)
{
    rng_state = seed;
    s->n = n;
    s->arena = arena_new();
    if (!s->arena)
        return -1;
    s->jobs = arena_calloc(s->arena, n, sizeof(struct job));
    if (!s->jobs)
        return -1;
    for (size_t i = 0; i < n; i++) {
        struct job *j = &s->jobs[i];
        j->job_name = arena_printf(s->arena, "install-comp-%06zu", i);
        j->id = arena_printf(s->arena, DEP_ID ":install-comp-%06zu", i);
        if (!j->job_name || !j->id)
            return -1;
        j->deployment_id = DEP_ID;
        j->display_name = j->app_id = j->region = j->parent_id = j->latest_execution_id = "";
        size_t layer = i / WIDTH;
        if (layer == 0)
            continue;
        size_t lo = layer > WINDOW ? (layer - WINDOW) * WIDTH : 0, hi = layer * WIDTH;
        j->depends_on = arena_calloc(s->arena, FANIN, sizeof(char *));
        if (!j->depends_on)
            return -1;
        for (size_t k = 0; k < FANIN; k++) {
            size_t t = lo + rng() % (hi - lo);
            unsigned form = (unsigned)(rng() % 100);
            if (form < 65)
                j->depends_on[k] = s->jobs[t].job_name;
            else if (form < 95)
                j->depends_on[k] = s->jobs[t].id;
            else
                j->depends_on[k] = arena_printf(s->arena, "gone-%zu", t);
            if (!j->depends_on[k])
                return -1;
        }
        j->n_depends_on = FANIN;
    }
    return 0;
}

static int bench_build(size_t n, int runs, const char *target)
{
    struct synth s;
    if (synth_make(&s, n, 0x9e3779b97f4a7c15ULL)) {
        fprintf(stderr, "bench_dag: out of memory\n");
        return -1;
    }
    double t[16];
    size_t edges = 0;
    for (int r = 0; r < runs; r++) {
        struct error err;
        double t0 = bench_now_ms();
        struct dag *d = dag_build_jobs(s.jobs, n, DEP_ID, &err);
        t[r] = bench_now_ms() - t0;
        if (!d) {
            fprintf(stderr, "bench_dag: %s\n", err.msg);
            arena_free(s.arena);
            return -1;
        }
        edges = 0;
        for (size_t i = 0; i < n; i++) {
            size_t k;
            dag_deps(d, (int32_t)i, &k);
            edges += k;
        }
        dag_free(d);
    }
    printf("dag build %zu jobs (%zu edges): %.2f ms%s\n", n, edges, bench_median(t, (size_t)runs),
           target);
    arena_free(s.arena);
    return 0;
}

static int bench_critical(size_t n, int runs)
{
    struct synth s;
    struct error err;
    if (synth_make(&s, n, 0x9e3779b97f4a7c15ULL))
        return -1;
    struct dag *d = dag_build_jobs(s.jobs, n, DEP_ID, &err);
    int64_t *w = malloc(n * sizeof(int64_t));
    if (!d || !w) {
        dag_free(d);
        free(w);
        arena_free(s.arena);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        w[i] = (int64_t)(1000 + rng() % 120000);
    double t[16];
    ssize_t len = 0;
    int64_t total = 0;
    for (int r = 0; r < runs; r++) {
        int32_t *chain;
        double t0 = bench_now_ms();
        len = dag_critical_path(d, w, &chain, &total);
        t[r] = bench_now_ms() - t0;
        free(chain);
    }
    printf("dag critical path %zu jobs: %.2f ms (chain of %zd jobs, %lld ms)\n", n,
           bench_median(t, (size_t)runs), len, (long long)total);
    dag_free(d);
    free(w);
    arena_free(s.arena);
    return len > 0 ? 0 : -1;
}

/* A snapshot as a producer fills it: every 50th job failed, some without an execution. */
static struct snapshot *snapshot_make(size_t n)
{
    struct snapshot *snap = snapshot_new();
    if (!snap)
        return NULL;
    struct arena *a = snapshot_arena(snap);
    rng_state = 0x243f6a8885a308d3ULL;
    struct job *jobs = arena_calloc(a, n, sizeof(struct job));
    if (!jobs) {
        snapshot_release(snap);
        return NULL;
    }
    snap->jobs = jobs;
    for (size_t i = 0; i < n; i++) {
        struct job *j = &jobs[i];
        j->job_name = arena_printf(a, "install-comp-%06zu", i);
        j->id = arena_printf(a, DEP_ID ":install-comp-%06zu", i);
        j->deployment_id = DEP_ID;
        j->display_name = j->app_id = j->region = j->latest_execution_id = "";
        j->parent_id = DEP_ID ":bootstrap-kit";
        j->status = i % 50 == 7 ? JOB_FAILED : i % 3 ? JOB_SUCCEEDED : JOB_PENDING;
        size_t layer = i / WIDTH;
        if (layer == 0 || !j->job_name || !j->id) {
            j->latest_execution_id = "0f8e7d6c5b4a39281706f5e4d3c2b1a0";
            continue;
        }
        size_t lo = layer > WINDOW ? (layer - WINDOW) * WIDTH : 0, hi = layer * WIDTH;
        j->depends_on = arena_calloc(a, FANIN, sizeof(char *));
        if (!j->depends_on)
            break;
        for (size_t k = 0; k < FANIN; k++)
            j->depends_on[k] = jobs[lo + rng() % (hi - lo)].job_name;
        j->n_depends_on = FANIN;
    }
    snap->n_jobs = n;
    snap->has_deployment = true;
    snap->deployment.id = DEP_ID;
    return snap;
}

static int bench_snapshot(size_t n, int runs)
{
    double t[16];
    int blocked = 0;
    for (int r = 0; r < runs; r++) {
        struct snapshot *snap = snapshot_make(n);
        if (!snap)
            return -1;
        double t0 = bench_now_ms();
        int rc = snapshot_finalize(snap);
        t[r] = bench_now_ms() - t0;
        blocked = snap->counts.blocked;
        snapshot_release(snap);
        if (rc)
            return -1;
    }
    printf("snapshot_finalize %zu jobs: %.2f ms (%d blocked) (target <= 10 ms)\n", n,
           bench_median(t, (size_t)runs), blocked);
    return 0;
}

int main(void)
{
    if (bench_build(1000, 15, "") || bench_build(10000, 11, " (target <= 50 ms)") ||
        bench_build(100000, 7, " (target < 100 ms)") || bench_critical(10000, 11) ||
        bench_snapshot(10000, 9)) {
        fprintf(stderr, "bench_dag: failed\n");
        return 1;
    }
    return 0;
}
