/*
 * yamlcheck: a cheap pre-pass over YAML text before a loader builds anything.
 * libyaml's scanner slows down quadratically with nesting (100,000 '[' take
 * many seconds), and no file of ours nests deeper than a few levels, so the
 * loaders (config, themes) refuse deep nesting with its position first.
 *
 * Stateless and reentrant; borrows the text.
 */
#ifndef CATALYST_YAMLCHECK_H
#define CATALYST_YAMLCHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <yaml.h>

/* Nesting deeper than this is refused by the loaders. */
#define YAML_NESTING_MAX 64

/*
 * false when collections nest deeper than max_depth; *where then gets the
 * mark of the first collection too deep. A syntax error ends the pass with
 * true: the loader itself reports it with its own position.
 */
bool yaml_nesting_ok(const char *text, size_t len, int max_depth, yaml_mark_t *where);

#endif
