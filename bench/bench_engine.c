/*
 * bench_engine: engine throughput on 10,000 zero-duration simulated jobs in a
 * layered DAG (in memory, then with a state dir under /tmp), and the time to
 * build a snapshot (engine_fill_snapshot + snapshot_finalize) at 10,000 jobs.
 * Prints one line per figure.
 */
#include "bench_util.h"
#include "engine.h"
#include "snapshot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LAYERS 100
#define WIDTH 100

static char *make_spec(void)
{
    struct strbuf sb;
    sb_init(&sb);
    sb_puts(&sb, "sovereign: {name: bench, fqdn: bench.example.com, provider: hetzner, "
                 "regions: [fsn1]}\ngroups:\n");
    for (int l = 0; l < LAYERS; l++) {
        sb_printf(&sb, "  - name: layer-%d\n    jobs:\n", l);
        for (int w = 0; w < WIDTH; w++) {
            sb_printf(&sb, "      - {name: job-%d-%d, simulate: {duration: 0s}", l, w);
            if (l > 0)
                sb_printf(&sb, ", dependsOn: [job-%d-%d, job-%d-%d]", l - 1, w,
                          l - 1, (w + 1) % WIDTH);
            sb_puts(&sb, "}\n");
        }
    }
    return sb_take(&sb);
}

/* Runs the spec to the end; returns seconds, or -1. */
static double run(const struct spec *sp, const char *dir, struct engine **keep)
{
    struct engine_config cfg = {.workers = 4, .speed = 1, .state_dir = dir, .fresh = true};
    struct error err;
    struct engine *e = engine_new(sp, &cfg, &err);
    if (!e) {
        fprintf(stderr, "engine_new: %s\n", err.msg);
        return -1;
    }
    double t0 = bench_now_s();
    if (engine_start(e, &err) != 0) {
        engine_free(e);
        return -1;
    }
    uint64_t g = 0;
    struct engine_progress p;
    for (;;) {
        engine_progress(e, &p);
        if (p.jobs_done)
            break;
        g = engine_wait(e, g, 50);
    }
    double t = bench_now_s() - t0;
    if (p.jobs_succeeded != LAYERS * WIDTH)
        fprintf(stderr, "only %d jobs succeeded\n", p.jobs_succeeded);
    if (keep)
        *keep = e;
    else
        engine_free(e);
    return t;
}

int main(void)
{
    char *yaml = make_spec();
    struct error err;
    struct spec *sp = spec_load_buffer(yaml, strlen(yaml), "bench.yaml", &err);
    free(yaml);
    if (!sp) {
        fprintf(stderr, "spec: %s\n", err.msg);
        return 1;
    }
    int n = LAYERS * WIDTH;
    struct engine *e = NULL;
    double t = run(sp, NULL, &e);
    if (t < 0)
        return 1;
    printf("engine throughput, %d zero-duration simulated jobs, in memory: %.0f jobs/s "
           "(target >= 5000)\n", n, n / t);

    int reps = 20;
    double best = 1e9, sum = 0;
    for (int i = 0; i < reps; i++) {
        double t0 = bench_now_s();
        struct snapshot *s = snapshot_new();
        if (!s || engine_fill_snapshot(e, s, "job-50-50") != 0 || snapshot_finalize(s) != 0) {
            fprintf(stderr, "snapshot failed\n");
            return 1;
        }
        double dt = bench_now_s() - t0;
        snapshot_release(s);
        sum += dt;
        if (dt < best)
            best = dt;
    }
    printf("snapshot build (fill + finalize) at %d jobs: %.2f ms mean, %.2f ms best "
           "(target <= 10 ms)\n", n, sum / reps * 1e3, best * 1e3);
    engine_free(e);

    char dir[] = "/tmp/catalyst-bench-......";
    memset(dir + sizeof(dir) - 7, 'X', 6); /* mkdtemp template */
    if (!mkdtemp(dir))
        return 1;
    char state[64];
    snprintf(state, sizeof(state), "%s/state", dir);
    t = run(sp, state, NULL);
    if (t >= 0)
        printf("engine throughput, %d zero-duration simulated jobs, state dir in /tmp: "
               "%.0f jobs/s\n", n, n / t);
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    int rc = system(cmd);
    (void)rc;
    spec_free(sp);
    return 0;
}
