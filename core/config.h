/*
 * config: the contexts file ($XDG_CONFIG_HOME/catalyst-tui/config.yaml, else
 * ~/.config/catalyst-tui/config.yaml): named sets of remote options an
 * operator picks with --context NAME or `:ctx NAME`.
 *
 *   current-context: prod            # optional
 *   contexts:
 *     - name: prod
 *       api: https://console.omantel.omani.works/api/v1
 *       deployment: 3f9a1c7e52b04d8a # optional
 *       token-file: ~/.config/catalyst-tui/prod.token
 *       session-file: ...            # instead of token-file
 *       cacert: /etc/ssl/omantel.pem
 *       insecure: false
 *       theme: high-contrast         # a theme name; or theme-file: ~/my-theme.yaml
 *       read-only: true
 *       refresh: 2                   # seconds
 *
 * Errors (YAML syntax, unknown keys, wrong types, duplicate or missing names,
 * a current-context that names no context) carry file:line:column and
 * EXIT_USAGE. A missing default file is not an error: it loads as empty.
 * A leading "~/" in file paths is expanded with $HOME. Messages never quote
 * a line of the file: a key or name is shown only when it is a short plain
 * word. The file may be a symlink (followed); a FIFO, device or directory is
 * refused without blocking (util_open_regular).
 *
 * Threading: none; load once, then read-only. Ownership: config_free frees
 * the config and every string in it.
 */
#ifndef CATALYST_CONFIG_H
#define CATALYST_CONFIG_H

#include "util.h"

#include <stdbool.h>
#include <stddef.h>

struct context {
    const char *name;
    const char *api;           /* NULL when absent (same for every string) */
    const char *deployment;
    const char *token_file;
    const char *session_file;
    const char *cacert;
    const char *theme;         /* a name */
    const char *theme_file;    /* a path (like --theme-file) */
    bool insecure;
    bool read_only;
    bool has_read_only;        /* read-only was given (else the command line decides) */
    double refresh;            /* seconds; 0 when absent */
    int line;                  /* where the context starts, for messages */
};

struct config {
    const char *path;          /* the file read ("" when none existed) */
    const char *current_context; /* NULL when absent */
    struct context *contexts;
    size_t n_contexts;
};

/* The default path into buf; returns buf ("" when neither variable is set). */
char *config_default_path(char *buf, size_t n);
/*
 * Loads path, or the default path when NULL. Returns 0 with *out set (free
 * with config_free), or -1 with err filled (err->code EXIT_USAGE) and *out NULL.
 */
int config_load(const char *path_or_null, struct config **out, struct error *err);
/* The same from text in memory (need not end in NUL); name is what errors and
 * config->path call it ("<config>" when NULL). */
int config_load_string(const char *text, size_t len, const char *name, struct config **out,
                       struct error *err);
/* The context named name (NULL: the current context); NULL when absent. */
const struct context *config_find(const struct config *c, const char *name);
void config_free(struct config *c);

#endif
