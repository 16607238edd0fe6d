/* snapshot: refcounted immutable pictures (see snapshot.h). */
#include "snapshot.h"

#include "arena.h"
#include "dag.h"

#include <stdlib.h>
#include <string.h>

struct snapshot *snapshot_new(void)
{
    struct snapshot *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->arena_ = arena_new();
    if (!s->arena_) {
        free(s);
        return NULL;
    }
    atomic_init(&s->refs_, 1);
    s->source.mode = s->source.url = s->source.state_dir = s->source.error = "";
    s->sovereign_name = s->provider = "";
    s->detail.job_id = s->detail.log_execution_id = "";
    s->cutover.current_step = s->cutover.failed_step = s->cutover.last_error = "";
    s->cutover.mirrored_commit_sha = s->cutover.settled_roll_overrides = "";
    s->cutover.harbor_project_count = -1;
    s->cutover.egress_test_passed = -1;
    s->last_action.error = s->last_action.message = "";
    return s;
}

struct arena *snapshot_arena(struct snapshot *s) { return s->arena_; }

/* A job reported failed with no execution of its own, because a dependency failed. */
static bool is_blocked_candidate(const struct job *j)
{
    return !j->is_group && j->status == JOB_FAILED &&
           (!j->latest_execution_id || !*j->latest_execution_id);
}

int snapshot_finalize(struct snapshot *s)
{
    struct error err;
    const char *dep = s->has_deployment ? s->deployment.id : NULL;
    if (!dep && s->n_jobs)
        dep = s->jobs[0].deployment_id;
    s->dag = dag_build_jobs(s->jobs, s->n_jobs, dep, &err);
    if (!s->dag)
        return -1;
    s->blocked_by = arena_calloc(s->arena_, s->n_jobs ? s->n_jobs : 1, sizeof(int32_t));
    s->parent = arena_calloc(s->arena_, s->n_jobs ? s->n_jobs : 1, sizeof(int32_t));
    if (!s->blocked_by || !s->parent)
        return -1;
    memset(&s->counts, 0, sizeof(s->counts));
    for (size_t i = 0; i < s->n_jobs; i++) {
        const struct job *j = &s->jobs[i];
        s->parent[i] = (j->parent_id && *j->parent_id) ? dag_find(s->dag, j->parent_id) : -1;
        s->blocked_by[i] = -1;
        if (is_blocked_candidate(j)) {
            size_t nd;
            const int32_t *d = dag_deps(s->dag, (int32_t)i, &nd);
            for (size_t k = 0; k < nd; k++)
                if (s->jobs[d[k]].status == JOB_FAILED) {
                    s->blocked_by[i] = d[k];
                    break;
                }
        }
        if (j->is_group) {
            s->counts.groups++;
            continue;
        }
        s->counts.total++;
        if ((unsigned)j->status < JOB_STATUS_COUNT)
            s->counts.by_status[j->status]++;
        if (s->blocked_by[i] >= 0)
            s->counts.blocked++;
    }
    /* Point blocked jobs at the root failure, not at another blocked job. */
    for (size_t i = 0; i < s->n_jobs; i++) {
        int32_t b = s->blocked_by[i];
        for (size_t hops = 0; b >= 0 && s->blocked_by[b] >= 0 && hops < s->n_jobs; hops++)
            b = s->blocked_by[b];
        s->blocked_by[i] = b;
    }
    return 0;
}

struct snapshot *snapshot_retain(struct snapshot *s)
{
    if (s)
        atomic_fetch_add(&s->refs_, 1);
    return s;
}

void snapshot_release(struct snapshot *s)
{
    if (!s || atomic_fetch_sub(&s->refs_, 1) != 1)
        return;
    dag_free(s->dag);
    arena_free(s->arena_);
    free(s);
}

int32_t snapshot_find_job(const struct snapshot *s, const char *key)
{
    if (!key || !*key)
        return -1;
    if (s->dag)
        return dag_find(s->dag, key);
    for (size_t i = 0; i < s->n_jobs; i++)
        if (strcmp(s->jobs[i].id, key) == 0 || strcmp(s->jobs[i].job_name, key) == 0)
            return (int32_t)i;
    return -1;
}

size_t snapshot_job_executions(const struct snapshot *s, int32_t i, const struct execution **out,
                               size_t max)
{
    if (i < 0 || (size_t)i >= s->n_jobs)
        return 0;
    const char *id = s->jobs[i].id;
    size_t n = 0;
    for (size_t k = 0; k < s->n_executions && n < max; k++)
        if (strcmp(s->executions[k].job_id, id) == 0)
            out[n++] = &s->executions[k];
    /* newest first */
    for (size_t a = 1; a < n; a++)
        for (size_t b = a; b > 0 && out[b]->started_at > out[b - 1]->started_at; b--) {
            const struct execution *t = out[b];
            out[b] = out[b - 1];
            out[b - 1] = t;
        }
    return n;
}
