/*
 * fuzz_spec: the Sovereign spec loader (core/spec.c) on arbitrary bytes from
 * memory. A load either succeeds with a consistent spec or fails with a
 * message and an exit class; either way nothing leaks. An accepted spec's
 * jobs also go through the DAG (core/dag.c), which must find no cycle: the
 * loader refuses cyclic specs.
 */
#include "dag.h"
#include "fuzz.h"
#include "spec.h"

static void check_dag(const struct spec *s)
{
    size_t n = spec_job_count(s);
    struct dag_node_in *in = calloc(n ? n : 1, sizeof(*in));
    int64_t *w = calloc(n ? n : 1, sizeof(*w));
    FUZZ_CHECK(in && w);
    size_t k = 0;
    for (size_t g = 0; g < s->n_groups; g++)
        for (size_t j = 0; j < s->groups[g].n_jobs; j++, k++) {
            const struct spec_job *job = &s->groups[g].jobs[j];
            in[k].name = job->name;
            in[k].deps = job->depends_on;
            in[k].n_deps = job->n_depends_on;
            w[k] = job->sim_duration_ms;
        }
    struct error err;
    error_clear(&err);
    struct dag *d = dag_build(in, n, s->deployment_id, &err);
    FUZZ_CHECK(d != NULL);
    const int32_t *path;
    size_t plen;
    FUZZ_CHECK(!dag_cycle(d, &path, &plen));
    int32_t *chain = NULL;
    ssize_t clen = dag_critical_path(d, w, &chain, NULL);
    FUZZ_CHECK(clen >= 0 && (size_t)clen <= n);
    free(chain);
    dag_free(d);
    free(w);
    free(in);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = fuzz_copy(data, size);
    if (!buf)
        return 0;
    struct error err;
    error_clear(&err);
    struct spec *s = spec_load_buffer(buf, size, "fuzz.yaml", &err);
    if (s) {
        FUZZ_CHECK(err.code == 0);
        FUZZ_CHECK(s->name != NULL);
        for (size_t g = 0; g < s->n_groups; g++) {
            const struct spec_group *grp = &s->groups[g];
            for (size_t j = 0; j < grp->n_jobs; j++) {
                FUZZ_CHECK(grp->jobs[j].name && grp->jobs[j].name[0]);
                FUZZ_CHECK(grp->jobs[j].retries >= 0);
            }
        }
        check_dag(s);
        spec_free(s);
    } else {
        FUZZ_CHECK(err.code != 0);
        FUZZ_CHECK(err.msg[0] != 0);
    }
    free(buf);
    return 0;
}
