/*
 * dag: the job dependency graph. Resolves dependsOn entries the way WIRE §3.4
 * says (id, else jobName, else "<deploymentId>:<entry>"; unresolved entries are
 * kept aside, not fatal), detects cycles (back edges are ignored for layout and
 * one cycle is reported as a path), computes longest-path layers, the critical
 * path, and upstream/downstream closures. Everything is linear in nodes +
 * edges; it is built for 100,000 jobs.
 *
 * Ownership: a struct dag owns its arrays and copies nothing it does not need
 * (names are borrowed from the input and must outlive the dag).
 * Thread safety: immutable after dag_build; any thread may read it.
 */
#ifndef CATALYST_DAG_H
#define CATALYST_DAG_H

#include "model.h"
#include "util.h"

#include <sys/types.h>

struct dag;

struct dag_node_in {
    const char *id;            /* full id, or NULL */
    const char *name;          /* jobName */
    const char *const *deps;   /* raw dependsOn entries */
    size_t n_deps;
};

/* NULL only on out-of-memory (err filled). A cycle is not an error here. */
struct dag *dag_build(const struct dag_node_in *nodes, size_t n, const char *deployment_id,
                      struct error *err);
/* Convenience over model jobs (uses id, job_name, depends_on). */
struct dag *dag_build_jobs(const struct job *jobs, size_t n, const char *deployment_id,
                           struct error *err);
void dag_free(struct dag *d);

size_t dag_size(const struct dag *d);
/* Resolved upstream / downstream indices of node i (deduplicated). */
const int32_t *dag_deps(const struct dag *d, int32_t i, size_t *n);
const int32_t *dag_dependents(const struct dag *d, int32_t i, size_t *n);
/* Raw entries of node i that matched nothing. */
size_t dag_unresolved(const struct dag *d, int32_t i, const char *const **out);
/* Node by id, else name, else deployment_id:name; -1 when absent. O(1) average. */
int32_t dag_find(const struct dag *d, const char *key);

/* Cycle: true when one exists; *path gets its nodes in order (a -> b -> c -> a
 * is returned as [a, b, c], where each node depends on the next and the last
 * on the first; it starts at the lowest index), valid while the dag lives. */
bool dag_cycle(const struct dag *d, const int32_t **path, size_t *n);

/* Longest-path layer of node i (0 = no resolved deps). */
int32_t dag_layer(const struct dag *d, int32_t i);
int32_t dag_layer_count(const struct dag *d);
/* A topological order of all nodes (cycle back edges ignored). */
const int32_t *dag_topo_order(const struct dag *d);

/*
 * Critical path: the chain with the largest total weight (weights[i] >= 0,
 * e.g. actual or expected duration in ms). Writes the chain (root first) into
 * a malloc'd array the caller frees; returns its length, 0 for an empty dag,
 * -1 on out-of-memory. *total gets the summed weight when non-NULL.
 */
ssize_t dag_critical_path(const struct dag *d, const int64_t *weights, int32_t **out,
                          int64_t *total);

/*
 * Upstream (up=true) or downstream closure of node i, excluding i: sets
 * mark[j]=1 for every node reached (mark has dag_size bytes, caller zeroes).
 * Returns the count reached.
 */
size_t dag_closure(const struct dag *d, int32_t i, bool up, uint8_t *mark);

#endif
