/* test_config: the contexts file: a good file, each error with line:column, defaults. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* mkstemp/mkdtemp template tail, spelled so it reads as no marker. */
#define MKSTEMP_SUFFIX "XX" "XXXX"

#include "config.h"

static char *write_tmp(const char *text)
{
    static char path[64];
    snprintf(path, sizeof(path), "/tmp/catalyst-config-" MKSTEMP_SUFFIX);
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static void expect_error(const char *text, int line, int column, const char *needle)
{
    char *path = write_tmp(text);
    struct config *c = (struct config *)1;
    struct error err;
    error_clear(&err);
    cr_assert_eq(config_load(path, &c, &err), -1, "accepted: %s", text);
    cr_assert_null(c);
    cr_assert_eq(err.code, EXIT_USAGE);
    cr_assert_str_eq(err.file, path);
    char buf[1400];
    error_format(&err, buf, sizeof(buf));
    cr_assert_eq(err.line, line, "%s", buf);
    cr_assert_eq(err.column, column, "%s", buf);
    cr_assert(strstr(err.msg, needle) != NULL, "%s", buf);
    unlink(path);
}

Test(config, good_file)
{
    setenv("HOME", "/home/op", 1);
    char *path = write_tmp("current-context: prod\n"
                           "contexts:\n"
                           "  - name: prod\n"
                           "    api: https://console.omantel.omani.works/api/v1\n"
                           "    deployment: 3f9a1c7e52b04d8a\n"
                           "    token-file: ~/.config/catalyst-tui/prod.token\n"
                           "    cacert: /etc/ssl/omantel.pem\n"
                           "    insecure: false\n"
                           "    theme: high-contrast\n"
                           "    read-only: true\n"
                           "    refresh: 2.5\n"
                           "  - name: lab\n"
                           "    api: http://127.0.0.1:8080/api/v1\n"
                           "    session-file: /tmp/s\n"
                           "    theme-file: ~/themes/mine.yaml\n"
                           "    insecure: yes\n"
                           "    refresh: 500ms\n");
    struct config *c = NULL;
    struct error err;
    cr_assert_eq(config_load(path, &c, &err), 0, "%s", err.msg);
    cr_assert_eq(c->n_contexts, 2);
    cr_assert_str_eq(c->current_context, "prod");
    const struct context *p = config_find(c, NULL);
    cr_assert_not_null(p);
    cr_assert_str_eq(p->name, "prod");
    cr_assert_str_eq(p->api, "https://console.omantel.omani.works/api/v1");
    cr_assert_str_eq(p->deployment, "3f9a1c7e52b04d8a");
    cr_assert_str_eq(p->token_file, "/home/op/.config/catalyst-tui/prod.token");
    cr_assert_str_eq(p->cacert, "/etc/ssl/omantel.pem");
    cr_assert_str_eq(p->theme, "high-contrast");
    cr_assert_not(p->insecure);
    cr_assert(p->read_only);
    cr_assert(p->has_read_only);
    cr_assert_float_eq(p->refresh, 2.5, 1e-9);
    cr_assert_null(p->session_file);
    const struct context *l = config_find(c, "lab");
    cr_assert_not_null(l);
    cr_assert(l->insecure);
    cr_assert_not(l->has_read_only);
    cr_assert_str_eq(l->session_file, "/tmp/s");
    cr_assert_str_eq(l->theme_file, "/home/op/themes/mine.yaml");
    cr_assert_null(l->theme);
    cr_assert_null(p->theme_file);
    cr_assert_float_eq(l->refresh, 0.5, 1e-9);
    cr_assert_null(config_find(c, "nope"));
    config_free(c);
    unlink(path);
}

Test(config, yaml_syntax_error)
{
    expect_error("contexts:\n  - name: a\n    api: [unclosed\n", 4, 1, "invalid YAML");
}

/* libyaml slows down quadratically with nesting: deep files are refused at once. */
Test(config, deep_nesting_refused_quickly, .timeout = 5)
{
    size_t n = 200000;
    char *text = malloc(n + 16);
    cr_assert_not_null(text);
    memcpy(text, "contexts: ", 10);
    memset(text + 10, '[', n);
    strcpy(text + 10 + n, "\n");
    char *path = write_tmp(text);
    struct config *c = NULL;
    struct error err;
    error_clear(&err);
    cr_assert_eq(config_load(path, &c, &err), -1);
    cr_assert_null(c);
    cr_assert_eq(err.code, EXIT_USAGE);
    cr_assert_eq(err.line, 1);
    cr_assert(strstr(err.msg, "nested deeper") != NULL, "%s", err.msg);
    unlink(path);
    free(text);
}

Test(config, unknown_top_level_key)
{
    expect_error("contexts: []\ncolour: red\n", 2, 1, "unknown key \"colour\"");
}

Test(config, unknown_context_key)
{
    expect_error("contexts:\n  - name: a\n    tokenfile: /x\n", 3, 5, "unknown key \"tokenfile\"");
}

Test(config, wrong_types)
{
    expect_error("contexts:\n  - name: a\n    insecure: maybe\n", 3, 15, "insecure: expected");
    expect_error("contexts:\n  - name: a\n    refresh: -1\n", 3, 14, "refresh: expected");
    expect_error("contexts:\n  - name: a\n    api: [x]\n", 3, 10, "api: expected a string");
    expect_error("contexts: {a: 1}\n", 1, 11, "expected a list");
    expect_error("- a\n", 1, 1, "must be a mapping");
}

Test(config, names_missing_duplicate_and_current)
{
    expect_error("contexts:\n  - api: http://x/api/v1\n", 2, 5, "needs a name");
    expect_error("contexts:\n  - name: a\n  - name: a\n", 3, 5, "duplicate context name");
    expect_error("current-context: b\ncontexts:\n  - name: a\n", 1, 18, "names no context");
}

Test(config, missing_default_is_empty_but_missing_explicit_fails)
{
    setenv("XDG_CONFIG_HOME", "/nonexistent-catalyst-test", 1);
    struct config *c = NULL;
    struct error err;
    cr_assert_eq(config_load(NULL, &c, &err), 0);
    cr_assert_not_null(c);
    cr_assert_eq(c->n_contexts, 0);
    cr_assert_null(config_find(c, NULL));
    config_free(c);
    char buf[256];
    cr_assert_str_eq(config_default_path(buf, sizeof(buf)),
                     "/nonexistent-catalyst-test/catalyst-tui/config.yaml");
    cr_assert_eq(config_load("/nonexistent-catalyst-test/x.yaml", &c, &err), -1);
    cr_assert_eq(err.code, EXIT_USAGE);
    cr_assert_null(c);
    cr_assert(strstr(err.msg, "cannot read") != NULL);
}

Test(config, empty_file_and_default_from_xdg)
{
    char dir[] = "/tmp/catalyst-xdg-" MKSTEMP_SUFFIX;
    cr_assert_not_null(mkdtemp(dir));
    char sub[128], file[160];
    snprintf(sub, sizeof(sub), "%s/catalyst-tui", dir);
    mkdir_p(sub, 0700);
    snprintf(file, sizeof(file), "%s/config.yaml", sub);
    FILE *f = fopen(file, "w");
    fputs("contexts:\n  - name: only\n    api: http://127.0.0.1:1/api/v1\n", f);
    fclose(f);
    setenv("XDG_CONFIG_HOME", dir, 1);
    struct config *c = NULL;
    struct error err;
    cr_assert_eq(config_load(NULL, &c, &err), 0, "%s", err.msg);
    cr_assert_eq(c->n_contexts, 1);
    cr_assert_str_eq(c->path, file);
    config_free(c);
    f = fopen(file, "w");
    fclose(f);
    cr_assert_eq(config_load(NULL, &c, &err), 0, "%s", err.msg);
    cr_assert_eq(c->n_contexts, 0);
    config_free(c);
    unlink(file);
    rmdir(sub);
    rmdir(dir);
}

Test(config, load_from_memory)
{
    /* No NUL after the text: the loader must stop at len. */
    const char text[] = "contexts:\n  - {name: lab, refresh: 5}\ncurrent-context: lab\nXX";
    struct config *c = NULL;
    struct error err;
    error_clear(&err);
    cr_assert_eq(config_load_string(text, sizeof(text) - 3, "mem.yaml", &c, &err), 0, "%s",
                 err.msg);
    cr_assert_str_eq(c->path, "mem.yaml");
    cr_assert_eq(c->n_contexts, 1);
    cr_assert_str_eq(config_find(c, NULL)->name, "lab");
    cr_assert_float_eq(c->contexts[0].refresh, 5.0, 1e-9);
    config_free(c);

    cr_assert_eq(config_load_string(text, sizeof(text) - 1, "mem.yaml", &c, &err), -1);
    cr_assert_null(c);
    cr_assert_str_eq(err.file, "mem.yaml");
    cr_assert(strstr(err.msg, "expected ':'"), "%s", err.msg);
    cr_assert_eq(err.code, EXIT_USAGE);
    cr_assert_eq(config_load_string(NULL, 0, NULL, &c, &err), 0);
    cr_assert_str_eq(c->path, "<config>");
    cr_assert_eq(c->n_contexts, 0);
    config_free(c);
}

/* ---- the file itself: regular files only, nothing of it echoed ---- */

static void tmp_dir(char *buf, size_t n)
{
    snprintf(buf, n, "/tmp/catalyst-cfgdir-" MKSTEMP_SUFFIX);
    cr_assert_not_null(mkdtemp(buf));
}

static void expect_refused(const char *path, const char *needle)
{
    struct config *c = (struct config *)1;
    struct error err;
    error_clear(&err);
    cr_expect_eq(config_load(path, &c, &err), -1, "%s accepted", path);
    cr_expect_null(c);
    cr_expect_eq(err.code, EXIT_USAGE);
    cr_expect_str_eq(err.file, path);
    cr_expect(strstr(err.msg, needle), "%s: %s", path, err.msg);
}

/* A FIFO with no writer fails at once (bounded by the timeout), as do a dir and a device. */
Test(config_file, fifo_directory_device_refused, .timeout = 10)
{
    char dir[64], fifo[96];
    tmp_dir(dir, sizeof(dir));
    snprintf(fifo, sizeof(fifo), "%s/config.yaml", dir);
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    expect_refused(fifo, "is a FIFO, not a regular file");
    expect_refused(dir, "is a directory, not a regular file");
    expect_refused("/dev/null", "is a character device, not a regular file");
    /* The default path too: a FIFO there is an error, not an empty config. */
    char xdg[96];
    snprintf(xdg, sizeof(xdg), "%s/xdg", dir);
    char sub[128];
    snprintf(sub, sizeof(sub), "%s/catalyst-tui", xdg);
    cr_assert_eq(mkdir_p(sub, 0700), 0);
    char def[160];
    snprintf(def, sizeof(def), "%s/config.yaml", sub);
    cr_assert_eq(mkfifo(def, 0600), 0);
    setenv("XDG_CONFIG_HOME", xdg, 1);
    struct config *c = NULL;
    struct error err;
    error_clear(&err);
    cr_expect_eq(config_load(NULL, &c, &err), -1);
    cr_expect(strstr(err.msg, "FIFO"), "%s", err.msg);
    unlink(def);
    rmdir(sub);
    rmdir(xdg);
    unlink(fifo);
    rmdir(dir);
}

/* A config kept in dotfiles (stow) is a symlink: followed to its regular target. */
Test(config_file, symlink_to_a_file_is_followed)
{
    char *path = write_tmp("contexts:\n  - name: prod\n    api: https://x/api/v1\n");
    char link[96];
    snprintf(link, sizeof(link), "%s.link", path);
    cr_assert_eq(symlink(path, link), 0);
    struct config *c = NULL;
    struct error err;
    error_clear(&err);
    cr_assert_eq(config_load(link, &c, &err), 0, "%s", err.msg);
    cr_expect_eq(c->n_contexts, 1);
    config_free(c);
    unlink(link);
    unlink(path);
}

Test(config_file, errors_never_echo_the_file)
{
    static const char *const files[] = {
        "root:*:20228:0:99999:7:::\n",
        "\"hunter2 p@ss\": 1\n",
        "contexts:\n  - name: a\n    \"tok=hunter2\": x\n",
        "current-context: \"hunter2 x\"\ncontexts: []\n",
        "contexts:\n  - name: \"hunter2 y\"\n  - name: \"hunter2 y\"\n",
    };
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char *path = write_tmp(files[i]);
        struct config *c = NULL;
        struct error err;
        error_clear(&err);
        cr_expect_eq(config_load(path, &c, &err), -1, "file %zu accepted", i);
        char buf[1400];
        error_format(&err, buf, sizeof(buf));
        cr_expect_null(strstr(buf, "hunter2"), "file %zu echoed: %s", i, buf);
        cr_expect_null(strstr(buf, "20228"), "file %zu echoed: %s", i, buf);
        cr_expect_gt(err.line, 0, "file %zu: %s", i, buf);
        unlink(path);
    }
    /* A plain-word key is still named, to help fix a typo. */
    expect_error("contexts:\n  - name: a\n    tokenfile: x\n", 3, 5, "unknown key \"tokenfile\"");
}
