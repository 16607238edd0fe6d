/* theme: shipped files, the compiled-in default, errors with line:column, the ladder. */
#include "theme.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
    /* The place and what was expected, never the value itself (the file may be a secret). */
    cr_assert(strstr(err.msg, "bad colour"));
    cr_assert_null(strstr(err.msg, "purple"));
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

/* ---- names are names, files come through theme_load_file ---- */

#define TMP_TAIL "XX" "XXXX"

static void tmp_dir(char *buf, size_t n)
{
    snprintf(buf, n, "/tmp/catalyst-theme-" TMP_TAIL);
    cr_assert_not_null(mkdtemp(buf));
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    fputs(text, f);
    cr_assert_eq(fclose(f), 0);
}

static void rm_tree(const char *dir)
{
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

Test(theme_files, a_name_is_never_a_path)
{
    cr_expect(theme_name_ok("high-contrast"));
    cr_expect(theme_name_ok("mono2_x"));
    cr_expect_not(theme_name_ok("../../../../etc/shadow"));
    cr_expect_not(theme_name_ok("/etc/passwd"));
    cr_expect_not(theme_name_ok("light.yaml"));
    cr_expect_not(theme_name_ok("Light"));
    cr_expect_not(theme_name_ok("-x"));
    cr_expect_not(theme_name_ok(""));
    struct theme t;
    struct error err;
    error_clear(&err);
    cr_assert_eq(theme_find(&t, "../../../../etc/shadow", NULL, 0, &err), -1);
    cr_expect_eq(err.code, EXIT_USAGE);
    cr_expect(strstr(err.msg, "--theme-file"), "%s", err.msg);
    /* Not read at all: the message says nothing about the file. */
    cr_expect_null(strstr(err.msg, "root"), "%s", err.msg);
}

/* FIFO (no writer), directory, device: refused at once; a symlink to a good file is used. */
Test(theme_files, fifo_directory_device_refused_symlink_followed, .timeout = 10)
{
    char dir[64], fifo[96], good[96], link[96];
    tmp_dir(dir, sizeof(dir));
    snprintf(fifo, sizeof(fifo), "%s/t.yaml", dir);
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    struct theme t;
    struct error err;
    error_clear(&err);
    cr_expect_eq(theme_load_file(&t, fifo, &err), -1);
    cr_expect_eq(err.code, EXIT_USAGE);
    cr_expect_str_eq(err.file, fifo);
    cr_expect(strstr(err.msg, "is a FIFO, not a regular file"), "%s", err.msg);
    error_clear(&err);
    cr_expect_eq(theme_load_file(&t, dir, &err), -1);
    cr_expect(strstr(err.msg, "is a directory"), "%s", err.msg);
    error_clear(&err);
    cr_expect_eq(theme_load_file(&t, "/dev/zero", &err), -1);
    cr_expect(strstr(err.msg, "is a character device"), "%s", err.msg);
    snprintf(good, sizeof(good), "%s/mine.yaml", dir);
    snprintf(link, sizeof(link), "%s/link.yaml", dir);
    write_text(good, "name: mine\nroles:\n  running: {fg: red}\n");
    cr_assert_eq(symlink(good, link), 0);
    error_clear(&err);
    cr_expect_eq(theme_load_file(&t, link, &err), 0, "%s", err.msg);
    cr_expect_str_eq(t.name, "mine");
    rm_tree(dir);
}

/* An error names file:line:column (and a key when it is a plain word), never a line. */
Test(theme_files, errors_never_echo_the_file)
{
    static const char *const files[] = {
        "root:*:20228:0:99999:7:::\ndaemon:*:20228:0:99999:7:::\n",
        "s3cr3t-T0ken/abc+def==\n",
        "ghp_0123456789abcdefghij0123456789abcdefghij: x\n",
        "name: x\nroles:\n  running: {fg: \"hunter2 p@ss\"}\n",
        "name: x\nroles:\n  \"p@ss w0rd!\": {fg: red}\n",
        "machine api.example.com login me password hunter2\n",
        "name: x\n\"pw=hunter2\": [\n",
    };
    static const char *const secrets[] = {
        "20228", "s3cr3t", "ghp_0123456789", "hunter2", "p@ss", "hunter2", "hunter2",
    };
    char dir[64], path[96];
    tmp_dir(dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/secret", dir);
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        write_text(path, files[i]);
        struct theme t;
        struct error err;
        error_clear(&err);
        cr_assert_eq(theme_load_file(&t, path, &err), -1, "accepted file %zu", i);
        char buf[1400];
        error_format(&err, buf, sizeof(buf));
        cr_expect_null(strstr(buf, secrets[i]), "file %zu echoed: %s", i, buf);
        cr_expect_gt(err.line, 0, "file %zu: no line in %s", i, buf);
    }
    rm_tree(dir);
}
