/*
 * bench_tui: DAG layout time at 1,000 and 10,000 jobs, and the frame render
 * time of every view at 200x50 on a 10,000-job snapshot (median of several
 * frames). One line per figure: "<name> <value> <unit>".
 *
 * The Makefile links no test helpers into benches, so the synthetic snapshot
 * builder is compiled in from the shared fixture source.
 */
#include "../tests/helpers/fixture.c"

#include "bench_util.h"
#include "canvas.h"
#include "dag_layout.h"
#include "view.h"

#include <locale.h>

#define FRAMES 21
#define LAYOUT_RUNS 7

static void bench_layout(size_t n)
{
    struct snapshot *s = fixture_synthetic(n, 7);
    if (!s)
        exit(1);
    double t[LAYOUT_RUNS];
    long cross0 = 0, cross1 = 0;
    for (int k = 0; k < LAYOUT_RUNS; k++) {
        double a = bench_now_ms();
        struct dag_layout *l = dag_layout_build(s, -1, DAG_SWEEPS);
        t[k] = bench_now_ms() - a;
        if (!l)
            exit(1);
        cross0 = l->crossings_initial;
        cross1 = l->crossings_final;
        dag_layout_free(l);
    }
    printf("dag_layout_%zu_jobs %.3f ms\n", n, bench_median(t, LAYOUT_RUNS));
    printf("dag_layout_%zu_jobs_crossings %ld -> %ld\n", n, cross0, cross1);
    snapshot_release(s);
}

static void bench_views(size_t n)
{
    struct snapshot *s = fixture_synthetic(n, 7);
    struct snapshot *s2 = fixture_synthetic(n, 7); /* same shape, another publication */
    if (!s || !s2)
        exit(1);
    s2->generation = 2;
    struct canvas *c = canvas_new(200, 50, false);
    static const char *const names[] = {"dashboard", "jobs", "dag", "timeline",
                                        "tree",      "cutover", "job"};
    char arg[64];
    snprintf(arg, sizeof(arg), "%s", s->jobs[n / 2].id);
    for (size_t v = 0; v < sizeof(names) / sizeof(names[0]); v++) {
        const struct view_ops *ops = view_by_name(names[v]);
        void *st = ops->open(strcmp(names[v], "job") == 0 ? arg : NULL);
        struct view_ctx ctx = {.now_ms = FIXTURE_NOW, .ascii = false};
        ops->model(st, s, &ctx, c); /* warm caches: layout, rows */
        double t[FRAMES], t2[FRAMES];
        for (int k = 0; k < FRAMES; k++) {
            double a = bench_now_ms();
            canvas_clear(c);
            ops->model(st, s, &ctx, c);
            t[k] = bench_now_ms() - a;
        }
        /* A new snapshot every frame (statuses may differ, shape the same). */
        for (int k = 0; k < FRAMES; k++) {
            const struct snapshot *cur = k % 2 ? s : s2;
            double a = bench_now_ms();
            canvas_clear(c);
            ops->model(st, cur, &ctx, c);
            t2[k] = bench_now_ms() - a;
        }
        printf("frame_%s_200x50_%zu_jobs %.3f ms\n", names[v], n, bench_median(t, FRAMES));
        printf("frame_%s_200x50_%zu_jobs_new_snapshot %.3f ms\n", names[v], n,
               bench_median(t2, FRAMES));
        ops->close(st);
    }
    canvas_free(c);
    snapshot_release(s);
    snapshot_release(s2);
}

int main(void)
{
    setlocale(LC_ALL, "C.UTF-8");
    bench_layout(1000);
    bench_layout(10000);
    bench_views(10000);
    return 0;
}
