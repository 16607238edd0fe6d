/*
 * bench_wire: encode and decode a realistic 10,000-job late jobs list.
 *
 * Usage: bench_wire OUT.json. The generated frame is written to OUT.json so
 * bench/run.sh can time `jq . >/dev/null` on the very same bytes.
 * Prints one line per figure.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "bench_util.h"
#include "model.h"
#include "util.h"
#include "wire.h"

#define N_JOBS 10000
#define RUNS 5

static const char *const groups[] = {"provisioner", "bootstrap-kit", "day-2-mutations",
                                     "reconcilers", "cutover"};
#define N_GROUPS 5

/* Groups first, then leaves spread over them with 0-3 bare-name edges to earlier leaves. */
static struct job *make_jobs(struct arena *a, size_t n)
{
    const char *dep = "3f9a1c7e52b04d8a";
    struct job *jobs = arena_calloc(a, n, sizeof *jobs);
    int64_t t0 = 1778572200000; /* 2026-05-12T07:50:00Z */
    unsigned seed = 12345;
    size_t per_group[N_GROUPS] = {0};
    for (size_t i = 0; i < n; i++) {
        struct job *j = &jobs[i];
        seed = seed * 1103515245u + 12345u;
        j->deployment_id = dep;
        j->display_name = "";
        j->app_id = "";
        j->region = "";
        j->latest_execution_id = "";
        if (i < N_GROUPS) {
            j->job_name = groups[i];
            j->is_group = true;
            j->kind = KIND_GROUP;
            j->parent_id = "";
            j->display_name = i == 1 ? "Bootstrap" : groups[i];
        } else {
            size_t g = 1 + (seed >> 8) % 4;
            per_group[g]++;
            const char *prefix = g == 1 ? "install" : g == 2 ? "mutation-create-pool"
                                 : g == 3 ? "reconcile" : "cutover-step";
            j->job_name = arena_printf(a, "%s-component-%05zu", prefix, i);
            j->app_id = g == 1 ? arena_printf(a, "component-%05zu", i) : "";
            j->parent_id = arena_printf(a, "%s:%s", dep, groups[g]);
            j->kind = job_kind_from_name(j->job_name, false);
            if (i % 7 == 0)
                j->region = "hel1";
            size_t nd = i > N_GROUPS + 3 ? (seed >> 12) % 4 : 0;
            j->depends_on = arena_calloc(a, nd ? nd : 1, sizeof *j->depends_on);
            for (size_t d = 0; d < nd; d++)
                j->depends_on[d] = jobs[N_GROUPS + (seed >> (4 + d)) % (i - N_GROUPS)].job_name;
            j->n_depends_on = nd;
            unsigned st = (seed >> 16) % 10;
            j->status = st < 6 ? JOB_SUCCEEDED : st < 8 ? JOB_RUNNING : st < 9 ? JOB_PENDING
                                                                               : JOB_FAILED;
            if (j->status != JOB_PENDING) {
                j->started_at = t0 + (int64_t)i * 1371 + (seed >> 20) % 1000;
                char hex[33];
                snprintf(hex, sizeof hex, "%08x%08x%08x%08x", seed, seed ^ 0x5a5a5a5au,
                         seed * 31u, (unsigned)i);
                j->latest_execution_id = arena_strdup(a, hex);
            }
            if (job_status_terminal(j->status)) {
                j->finished_at = j->started_at + 5000 + (seed >> 10) % 300000;
                j->duration_ms = j->finished_at - j->started_at;
            }
        }
        j->id = arena_printf(a, "%s:%s", dep, j->job_name);
    }
    for (size_t g = 0; g < N_GROUPS; g++) {
        struct job *gj = &jobs[g];
        gj->child_ids = arena_calloc(a, per_group[g] + 1, sizeof *gj->child_ids);
        for (size_t i = N_GROUPS; i < n; i++)
            if (strcmp(jobs[i].parent_id + strlen(dep) + 1, groups[g]) == 0)
                gj->child_ids[gj->n_child_ids++] = jobs[i].id;
        gj->status = gj->n_child_ids ? JOB_RUNNING : JOB_PENDING;
        gj->started_at = gj->n_child_ids ? t0 : 0;
    }
    return jobs;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s OUT.json\n", argv[0]);
        return 2;
    }
    struct arena *a = arena_new();
    struct job *jobs = make_jobs(a, N_JOBS);
    if (!jobs) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }

    struct strbuf sb;
    sb_init(&sb);
    double enc[RUNS], dec[RUNS];
    for (int r = 0; r < RUNS; r++) {
        sb_reset(&sb);
        double t = bench_now_ms();
        wire_encode_jobs(&sb, jobs, N_JOBS);
        enc[r] = bench_now_ms() - t;
    }
    if (sb.oom) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    if (write_file_atomic(argv[1], sb.buf, sb.len, 0644) != 0) {
        perror(argv[1]);
        return 1;
    }

    size_t n = 0;
    for (int r = 0; r < RUNS; r++) {
        struct arena *da = arena_new();
        struct job *out;
        struct error err;
        double t = bench_now_ms();
        int rc = wire_decode_jobs(sb.buf, sb.len, da, &out, &n, &err);
        dec[r] = bench_now_ms() - t;
        arena_free(da);
        if (rc) {
            fprintf(stderr, "decode failed: %s\n", err.msg);
            return 1;
        }
    }
    printf("wire jobs frame: %d jobs, %.2f MB\n", N_JOBS, (double)sb.len / 1e6);
    printf("wire decode %zu jobs: %.2f ms (median of %d)\n", n, bench_median(dec, RUNS),
           RUNS);
    printf("wire encode %d jobs: %.2f ms (median of %d)\n", N_JOBS, bench_median(enc, RUNS),
           RUNS);
    sb_fini(&sb);
    arena_free(a);
    return 0;
}
