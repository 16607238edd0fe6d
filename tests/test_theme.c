/* theme: shipped files, the compiled-in default, errors with line:column, the ladder. */
#include "theme.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Tests run from the repository root (make test); fall back to the source path. */
static void theme_path(const char *name, char *buf, size_t n)
{
    snprintf(buf, n, "themes/%s.yaml", name);
    if (access(buf, R_OK) != 0) {
        const char *f = __FILE__;
        const char *slash = strrchr(f, '/');
        int dl = slash ? (int)(slash - f) : 1;
        snprintf(buf, n, "%.*s/../themes/%s.yaml", dl, slash ? f : ".", name);
    }
}

/* Field by field: struct padding is not compared. */
static bool style_eq(struct theme_style a, struct theme_style b)
{
    return a.fg == b.fg && a.bg == b.bg && a.attrs == b.attrs;
}

static bool role_eq(const struct theme_role *a, const struct theme_role *b)
{
    return style_eq(a->c256, b->c256) && style_eq(a->c16, b->c16) && a->mono == b->mono;
}

static int load_text(struct theme *t, const char *yaml, struct error *err)
{
    return theme_load_string(t, yaml, strlen(yaml), "bad.yaml", err);
}

Test(theme, every_shipped_theme_defines_every_role)
{
    static const char *const names[] = {"default", "light", "high-contrast", "colorblind",
                                        "mono"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char path[512];
        struct theme t;
        struct error err;
        error_clear(&err);
        theme_path(names[i], path, sizeof(path));
        cr_assert_eq(theme_load_file(&t, path, &err), 0, "%s: %s", path, err.msg);
        cr_assert_str_eq(t.name, names[i]);
        for (int r = 0; r < ROLE_COUNT; r++)
            cr_assert(t.defined[r], "%s lacks role %s", names[i], theme_role_name(r));
    }
}

Test(theme, builtin_equals_default_file)
{
    char path[512];
    struct theme file, builtin;
    struct error err;
    theme_path("default", path, sizeof(path));
    cr_assert_eq(theme_load_file(&file, path, &err), 0, "%s", err.msg);
    theme_builtin(&builtin);
    cr_assert_str_eq(builtin.name, "default");
    cr_assert_eq(builtin.monochrome, file.monochrome);
    for (int r = 0; r < ROLE_COUNT; r++) {
        cr_assert(builtin.defined[r], "built-in lacks %s", theme_role_name(r));
        cr_assert(role_eq(&builtin.roles[r], &file.roles[r]), "role %s differs",
                  theme_role_name(r));
    }
}

Test(theme, unknown_role_has_line_and_column)
{
    struct theme t;
    struct error err;
    error_clear(&err);
    cr_assert_eq(load_text(&t, "name: x\nroles:\n  bogus: {fg: red}\n", &err), -1);
    cr_assert_eq(err.code, EXIT_USAGE);
    cr_assert_eq(err.line, 3);
    cr_assert_eq(err.column, 3);
    cr_assert(strstr(err.msg, "bogus"));
    char buf[1400];
    cr_assert(strncmp(error_format(&err, buf, sizeof(buf)), "bad.yaml:3:3: ", 14) == 0, "%s",
              buf);
}

Test(theme, bad_colour_has_line_and_column)
{
    struct theme t;
    struct error err;
    cr_assert_eq(load_text(&t, "roles:\n  normal: {fg: purple}\n", &err), -1);
    cr_assert_eq(err.line, 2);
    cr_assert_eq(err.column, 16);
    cr_assert(strstr(err.msg, "purple"));
    cr_assert_eq(load_text(&t, "roles:\n  dim: {bg: 256}\n", &err), -1);
    cr_assert_eq(err.line, 2);
    cr_assert_eq(err.column, 13);
    cr_assert_eq(load_text(&t, "roles:\n  dim: {fg16: 200}\n", &err), -1);
    cr_assert_eq(err.column, 15);
}

Test(theme, wrong_types_and_unknown_keys)
{
    struct theme t;
    struct error err;
    cr_assert_eq(load_text(&t, "roles:\n  normal: red\n", &err), -1);
    cr_assert_eq(err.line, 2);
    cr_assert_eq(err.column, 11);
    cr_assert_eq(load_text(&t, "roles:\n  dim: {attrs: bold}\n", &err), -1);
    cr_assert_eq(err.line, 2);
    cr_assert_eq(err.column, 16);
    cr_assert_eq(load_text(&t, "roles:\n  dim: {attrs: [blink]}\n", &err), -1);
    cr_assert_eq(err.column, 17);
    cr_assert_eq(load_text(&t, "name: x\ncolours: {}\n", &err), -1);
    cr_assert_eq(err.line, 2);
    cr_assert_eq(err.column, 1);
    cr_assert_eq(load_text(&t, "roles:\n  dim: {fg: red, shade: 3}\n", &err), -1);
    cr_assert_eq(err.column, 18);
    cr_assert_eq(load_text(&t, "- a\n- b\n", &err), -1);
    cr_assert_eq(err.line, 1);
}

Test(theme, yaml_syntax_and_empty)
{
    struct theme t;
    struct error err;
    cr_assert_eq(load_text(&t, "roles:\n  dim: {fg: red\n", &err), -1);
    cr_assert_eq(err.code, EXIT_USAGE);
    cr_assert(strstr(err.msg, "YAML"), "%s", err.msg);
    cr_assert_geq(err.line, 2);
    cr_assert_gt(err.column, 0);
    cr_assert_eq(load_text(&t, "", &err), -1);
    cr_assert(strstr(err.msg, "empty"));
}

/* libyaml slows down quadratically with nesting: deep themes are refused at once. */
Test(theme, deep_nesting_refused_quickly, .timeout = 5)
{
    size_t n = 200000;
    char *text = malloc(n + 16);
    cr_assert_not_null(text);
    memcpy(text, "roles: ", 7);
    memset(text + 7, '{', n);
    strcpy(text + 7 + n, "\n");
    struct theme t;
    struct error err;
    cr_assert_eq(load_text(&t, text, &err), -1);
    cr_assert_eq(err.code, EXIT_USAGE);
    cr_assert_eq(err.line, 1);
    cr_assert(strstr(err.msg, "nested deeper") != NULL, "%s", err.msg);
    free(text);
}

Test(theme, partial_file_inherits_the_default)
{
    struct theme t, d;
    struct error err;
    cr_assert_eq(load_text(&t, "name: mine\nroles:\n  failed: {fg: 196}\n", &err), 0);
    theme_builtin(&d);
    cr_assert_str_eq(t.name, "mine");
    cr_assert(t.defined[ROLE_FAILED]);
    cr_assert_not(t.defined[ROLE_RUNNING]);
    cr_assert_eq(t.roles[ROLE_FAILED].c256.fg, 196);
    cr_assert_eq(t.roles[ROLE_FAILED].c16.fg, 9, "196 maps to bright red");
    cr_assert(role_eq(&t.roles[ROLE_RUNNING], &d.roles[ROLE_RUNNING]));
}

Test(theme, colour_ladder)
{
    struct theme t;
    struct error err;
    cr_assert_eq(load_text(&t,
                           "roles:\n  running: {fg: 39, fg16: bright-blue, attrs: [underline], "
                           "mono: [bold]}\n  pending: {fg: 245, fg16: bright-black}\n",
                           &err),
                 0, "%s", err.msg);
    struct theme_style s = theme_resolve(&t, ROLE_RUNNING, 256);
    cr_assert_eq(s.fg, 39);
    cr_assert_eq(s.attrs, ATTR_UNDERLINE);
    s = theme_resolve(&t, ROLE_RUNNING, 16);
    cr_assert_eq(s.fg, 12);
    s = theme_resolve(&t, ROLE_RUNNING, 8);
    cr_assert_eq(s.fg, 4);
    cr_assert(s.attrs & ATTR_BOLD);
    s = theme_resolve(&t, ROLE_PENDING, 8);
    cr_assert_eq(s.fg, 7, "bright black stays visible on 8 colours");
    s = theme_resolve(&t, ROLE_RUNNING, 0);
    cr_assert_eq(s.fg, THEME_DEFAULT_COLOR);
    cr_assert_eq(s.bg, THEME_DEFAULT_COLOR);
    cr_assert_eq(s.attrs, ATTR_BOLD);
}

Test(theme, mono_theme_never_uses_colour)
{
    char path[512];
    struct theme t;
    struct error err;
    theme_path("mono", path, sizeof(path));
    cr_assert_eq(theme_load_file(&t, path, &err), 0);
    cr_assert(t.monochrome);
    for (int r = 0; r < ROLE_COUNT; r++) {
        struct theme_style s = theme_resolve(&t, r, 256);
        cr_assert_eq(s.fg, THEME_DEFAULT_COLOR);
        cr_assert_eq(s.bg, THEME_DEFAULT_COLOR);
    }
    cr_assert_eq(theme_resolve(&t, ROLE_SELECTED, 256).attrs, ATTR_REVERSE);
}

Test(theme, colour_names_and_mapping)
{
    cr_assert_eq(theme_color_parse("default"), THEME_DEFAULT_COLOR);
    cr_assert_eq(theme_color_parse("red"), 1);
    cr_assert_eq(theme_color_parse("bright-white"), 15);
    cr_assert_eq(theme_color_parse("200"), 200);
    cr_assert_eq(theme_color_parse("256"), -2);
    cr_assert_eq(theme_color_parse("crimson"), -2);
    cr_assert_eq(theme_color_parse("12x"), -2);
    cr_assert_eq(theme_color_to16(196), 9);
    cr_assert_eq(theme_color_to16(16), 0);
    cr_assert_eq(theme_color_to16(231), 15);
    cr_assert_eq(theme_color_to16(244), 8);
    cr_assert_eq(theme_color_to16(5), 5);
    for (int r = 0; r < ROLE_COUNT; r++)
        cr_assert_eq(theme_role_parse(theme_role_name(r)), r);
    cr_assert_eq(theme_role_parse("nope"), -1);
}

Test(theme, find_by_name_file_and_fallback)
{
    char dir[512], found[1024];
    theme_path("light", dir, sizeof(dir));
    *strrchr(dir, '/') = 0;
    setenv("CATALYST_TUI_THEMES", dir, 1);
    struct theme t;
    struct error err;
    error_clear(&err);
    cr_assert_eq(theme_find(&t, "light", found, sizeof(found), &err), 0, "%s", err.msg);
    cr_assert_str_eq(t.name, "light");
    cr_assert(strstr(found, "light.yaml"));
    cr_assert_eq(theme_find(&t, "no-such-theme", NULL, 0, &err), -1);
    cr_assert_eq(err.code, EXIT_USAGE);
    cr_assert_eq(theme_find(&t, "/nonexistent/x.yaml", NULL, 0, &err), -1);
    cr_assert_eq(err.code, EXIT_USAGE);
    cr_assert_eq(theme_find(&t, NULL, NULL, 0, &err), 0);
    cr_assert_str_eq(t.name, "default");
    /* "default" with no file anywhere falls back to the built-in. */
    setenv("CATALYST_TUI_THEMES", "/nonexistent", 1);
    cr_assert_eq(chdir("/"), 0);
    cr_assert_eq(theme_find(&t, "default", NULL, 0, &err), 0);
    cr_assert_str_eq(t.name, "default");
}
