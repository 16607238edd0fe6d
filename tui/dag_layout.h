/*
 * dag_layout: the DAG view's layered layout (DOMAIN §5). Columns are the
 * longest-path layers of snapshot_finalize's dag (empty layers squeezed out
 * when scoped to one group), rows within a column come from crossing
 * reduction: start ordered by dependents count (descending) then id, then a
 * few barycenter sweeps down and up; the order with the fewest crossings
 * between adjacent columns is kept, so reduction never makes it worse.
 *
 * Only leaves are placed (groups are containers, not steps). A layout
 * depends on the graph's shape only: ids, parents and resolved edges, not
 * statuses, so dag_layout_get reuses a cached one across status changes.
 *
 * Coordinates: column c spans x in [col_x[c], col_x[c] + col_w[c]); a node at
 * row r sits on y = r * DAG_ROW_STRIDE; the DAG_GAP columns between two
 * columns carry the edges.
 *
 * Ownership: dag_layout_build returns a layout the caller frees with
 * dag_layout_free. Threading: UI thread only.
 */
#ifndef CATALYST_DAG_LAYOUT_H
#define CATALYST_DAG_LAYOUT_H

#include "snapshot.h"

#include <stdbool.h>
#include <stdint.h>

#define DAG_GAP 6
#define DAG_ROW_STRIDE 2
#define DAG_NAME_MAX 24
#define DAG_SWEEPS 4

struct dag_layout {
    uint64_t hash;          /* dag_layout_hash of the input */
    int32_t scope;          /* group job index, -1 for all */
    size_t n_jobs;          /* jobs in the snapshot it was built from */
    size_t n;               /* nodes placed */
    int32_t n_cols;
    int32_t *col_of;        /* per job: column, -1 when not placed */
    int32_t *row_of;        /* per job: row within its column */
    int32_t *col_start;     /* n_cols + 1 offsets into order[] */
    int32_t *order;         /* placed jobs, column by column, top to bottom */
    int32_t *col_x, *col_w; /* per column: left x and width in cells */
    int32_t width, height;  /* extent in cells */
    int32_t max_rows;
    long crossings_initial; /* before reduction */
    long crossings_final;   /* after */
};

/* Hash of the shape (ids, parents, resolved edges, scope); statuses excluded. */
uint64_t dag_layout_hash(const struct snapshot *s, int32_t scope);
/* NULL on out-of-memory. sweeps: barycenter round trips (0 = initial order only). */
struct dag_layout *dag_layout_build(const struct snapshot *s, int32_t scope, int sweeps);
void dag_layout_free(struct dag_layout *l);
/*
 * The cached layout when its hash matches (scope included), else a new one
 * replacing *cache. *rebuilt (may be NULL) says which. NULL on out-of-memory.
 */
struct dag_layout *dag_layout_get(struct dag_layout **cache, const struct snapshot *s,
                                  int32_t scope, bool *rebuilt);
/* Crossings between adjacent columns in the layout's current order. */
long dag_layout_crossings(const struct dag_layout *l, const struct snapshot *s);
/* Whether job i is inside the scope (a descendant of group `scope`, or any when -1). */
bool dag_layout_in_scope(const struct snapshot *s, int32_t i, int32_t scope);

#endif
