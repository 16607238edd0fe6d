/* views: the registry of screens (tig's VIEW_INFO): numbers 1..6 and names. */
#include "view.h"
#include "viewutil.h"

#include <string.h>

/* Order is the number key: 1 dashboard .. 6 cutover; "job" is reached by Enter only, and
 * "deployments" opens by itself when a remote API lists several. */
static const struct view_ops *const registry[] = {
    &view_dashboard_ops, &view_jobs_ops,    &view_dag_ops, &view_timeline_ops,
    &view_tree_ops,      &view_cutover_ops, &view_job_ops, &view_picker_ops,
};

#define N_NUMBERED 6

const struct view_ops *view_by_name(const char *name)
{
    if (!name)
        return NULL;
    for (size_t k = 0; k < sizeof(registry) / sizeof(registry[0]); k++)
        if (strcmp(registry[k]->name, name) == 0)
            return registry[k];
    return NULL;
}

const struct view_ops *view_by_number(int n)
{
    if (n < 1 || n > N_NUMBERED)
        return NULL;
    return registry[n - 1];
}

size_t view_count(void) { return sizeof(registry) / sizeof(registry[0]); }
