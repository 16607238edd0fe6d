/* yamlcheck: deep nesting is refused at its position; shallow and broken text pass on. */
#include <criterion/criterion.h>

#include "yamlcheck.h"

#include <stdlib.h>
#include <string.h>

Test(yamlcheck, deep_nesting_refused_with_mark)
{
    size_t n = 100000;
    char *deep = malloc(n + 1);
    memset(deep, '[', n);
    deep[n] = 0;
    yaml_mark_t where = {0};
    cr_assert_not(yaml_nesting_ok(deep, n, YAML_NESTING_MAX, &where));
    /* The 65th '[' (0-based column 64) on the first line is the first one too deep. */
    cr_assert_eq(where.line, 0);
    cr_assert_eq(where.column, 64);
    free(deep);
}

Test(yamlcheck, shallow_and_broken_pass)
{
    yaml_mark_t where = {0};
    const char *ok = "a: {b: [1, 2, {c: d}]}\n";
    cr_assert(yaml_nesting_ok(ok, strlen(ok), YAML_NESTING_MAX, &where));
    const char *three = "[[[x]]]";
    cr_assert(yaml_nesting_ok(three, strlen(three), 3, &where));
    cr_assert_not(yaml_nesting_ok(three, strlen(three), 2, &where));
    /* A syntax error is the loader's to report. */
    const char *bad = "a: [1, 2\n";
    cr_assert(yaml_nesting_ok(bad, strlen(bad), YAML_NESTING_MAX, &where));
}
