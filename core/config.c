/* config: contexts file loader with libyaml (see config.h). */
#include "config.h"
#include "yamlcheck.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#define CONFIG_MAX_BYTES (1u << 20)
/* Keys are quoted in messages only when short plain words (util_msg_word); values never. */
#define CONFIG_WORD_MAX 64

char *config_default_path(char *buf, size_t n)
{
    const char *x = getenv("XDG_CONFIG_HOME");
    const char *h = getenv("HOME");
    if (x && *x)
        snprintf(buf, n, "%s/catalyst-tui/config.yaml", x);
    else if (h && *h)
        snprintf(buf, n, "%s/.config/catalyst-tui/config.yaml", h);
    else if (n)
        buf[0] = 0;
    return buf;
}

static void context_fini(struct context *c)
{
    free((char *)(uintptr_t)c->name);
    free((char *)(uintptr_t)c->api);
    free((char *)(uintptr_t)c->deployment);
    free((char *)(uintptr_t)c->token_file);
    free((char *)(uintptr_t)c->session_file);
    free((char *)(uintptr_t)c->cacert);
    free((char *)(uintptr_t)c->theme);
    free((char *)(uintptr_t)c->theme_file);
}

void config_free(struct config *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n_contexts; i++)
        context_fini(&c->contexts[i]);
    free(c->contexts);
    free((char *)(uintptr_t)c->path);
    free((char *)(uintptr_t)c->current_context);
    free(c);
}

const struct context *config_find(const struct config *c, const char *name)
{
    if (!c)
        return NULL;
    if (!name)
        name = c->current_context;
    if (!name)
        return NULL;
    for (size_t i = 0; i < c->n_contexts; i++)
        if (strcmp(c->contexts[i].name, name) == 0)
            return &c->contexts[i];
    return NULL;
}

struct loader {
    yaml_document_t *doc;
    const char *path;
    struct error *err;
};

static int fail_at(struct loader *L, const yaml_node_t *n, const char *fmt, const char *a)
{
    char msg[600];
    snprintf(msg, sizeof(msg), fmt, a);
    error_at(L->err, EXIT_USAGE, L->path, (int)n->start_mark.line + 1,
             (int)n->start_mark.column + 1, "%s", msg);
    return -1;
}

static const char *node_kind(const yaml_node_t *n)
{
    switch (n->type) {
    case YAML_SCALAR_NODE: return "a scalar";
    case YAML_SEQUENCE_NODE: return "a list";
    case YAML_MAPPING_NODE: return "a mapping";
    default: return "nothing";
    }
}

static int want_string(struct loader *L, const yaml_node_t *v, const char *key, char **out)
{
    if (v->type != YAML_SCALAR_NODE)
        return fail_at(L, v, "%s: expected a string", key);
    const char *s = (const char *)v->data.scalar.value;
    if (strlen(s) != v->data.scalar.length)
        return fail_at(L, v, "%s: the value contains a NUL byte", key);
    char *d;
    const char *home = getenv("HOME");
    if (s[0] == '~' && s[1] == '/' && home && *home) {
        if (asprintf(&d, "%s%s", home, s + 1) < 0)
            d = NULL;
    } else {
        d = strdup(s);
    }
    if (!d)
        return fail_at(L, v, "%s: out of memory", key);
    free(*out);
    *out = d;
    return 0;
}

static int want_bool(struct loader *L, const yaml_node_t *v, const char *key, bool *out)
{
    if (v->type == YAML_SCALAR_NODE && v->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
        const char *s = (const char *)v->data.scalar.value;
        static const char *const yes[] = {"true", "yes", "on"};
        static const char *const no[] = {"false", "no", "off"};
        for (int i = 0; i < 3; i++) {
            if (strcasecmp(s, yes[i]) == 0) {
                *out = true;
                return 0;
            }
            if (strcasecmp(s, no[i]) == 0) {
                *out = false;
                return 0;
            }
        }
    }
    return fail_at(L, v, "%s: expected true or false", key);
}

static int want_seconds(struct loader *L, const yaml_node_t *v, const char *key, double *out)
{
    if (v->type == YAML_SCALAR_NODE) {
        const char *s = (const char *)v->data.scalar.value;
        char *end = NULL;
        errno = 0;
        double d = strtod(s, &end);
        int64_t ms;
        if (*s && end && !*end && !errno && d > 0 && d <= 86400) {
            *out = d;
            return 0;
        }
        if (duration_parse(s, &ms) == 0 && ms > 0 && ms <= 86400000) {
            *out = (double)ms / 1000.0;
            return 0;
        }
    }
    return fail_at(L, v, "%s: expected a number of seconds between 0 and 86400", key);
}

static int load_context(struct loader *L, yaml_node_t *m, struct context *c)
{
    if (m->type != YAML_MAPPING_NODE)
        return fail_at(L, m, "contexts: each entry must be a mapping, not %s", node_kind(m));
    c->line = (int)m->start_mark.line + 1;
    bool have_name = false;
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(L->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(L->doc, p->value);
        if (!k || !v)
            continue;
        if (k->type != YAML_SCALAR_NODE)
            return fail_at(L, k, "%s", "context keys must be plain words");
        const char *key = (const char *)k->data.scalar.value;
        char **sp = NULL;
        int rc;
        if (strcmp(key, "name") == 0) {
            sp = (char **)(uintptr_t)&c->name;
            have_name = true;
        } else if (strcmp(key, "api") == 0) {
            sp = (char **)(uintptr_t)&c->api;
        } else if (strcmp(key, "deployment") == 0) {
            sp = (char **)(uintptr_t)&c->deployment;
        } else if (strcmp(key, "token-file") == 0) {
            sp = (char **)(uintptr_t)&c->token_file;
        } else if (strcmp(key, "session-file") == 0) {
            sp = (char **)(uintptr_t)&c->session_file;
        } else if (strcmp(key, "cacert") == 0) {
            sp = (char **)(uintptr_t)&c->cacert;
        } else if (strcmp(key, "theme") == 0) {
            sp = (char **)(uintptr_t)&c->theme;
        } else if (strcmp(key, "theme-file") == 0) {
            sp = (char **)(uintptr_t)&c->theme_file;
        }
        if (sp)
            rc = want_string(L, v, key, sp);
        else if (strcmp(key, "insecure") == 0)
            rc = want_bool(L, v, key, &c->insecure);
        else if (strcmp(key, "read-only") == 0) {
            rc = want_bool(L, v, key, &c->read_only);
            c->has_read_only = true;
        } else if (strcmp(key, "refresh") == 0)
            rc = want_seconds(L, v, key, &c->refresh);
        else
            rc = fail_at(L, k,
                         "unknown key \"%s\" in a context (expected name, api, deployment, "
                         "token-file, session-file, cacert, insecure, theme, theme-file, "
                         "read-only, refresh)", util_msg_word(key, CONFIG_WORD_MAX));
        if (rc)
            return rc;
    }
    if (!have_name || !c->name[0])
        return fail_at(L, m, "%s", "a context needs a name");
    return 0;
}

static int load_root(struct loader *L, struct config *cfg)
{
    yaml_node_t *root = yaml_document_get_root_node(L->doc);
    if (!root)
        return 0; /* an empty file is an empty config */
    if (root->type == YAML_SCALAR_NODE && root->data.scalar.length == 0)
        return 0;
    if (root->type != YAML_MAPPING_NODE)
        return fail_at(L, root, "the file must be a mapping, not %s", node_kind(root));
    yaml_node_t *current = NULL;
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start;
         p < root->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(L->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(L->doc, p->value);
        if (!k || !v)
            continue;
        if (k->type != YAML_SCALAR_NODE)
            return fail_at(L, k, "%s", "top-level keys must be plain words");
        const char *key = (const char *)k->data.scalar.value;
        if (strcmp(key, "current-context") == 0) {
            if (want_string(L, v, key, (char **)(uintptr_t)&cfg->current_context))
                return -1;
            current = v;
        } else if (strcmp(key, "contexts") == 0) {
            if (v->type != YAML_SEQUENCE_NODE)
                return fail_at(L, v, "contexts: expected a list, not %s", node_kind(v));
            size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
            for (size_t i = 0; i < cfg->n_contexts; i++)
                context_fini(&cfg->contexts[i]);
            free(cfg->contexts);
            cfg->n_contexts = 0;
            cfg->contexts = calloc(n ? n : 1, sizeof(*cfg->contexts));
            if (!cfg->contexts)
                return fail_at(L, v, "%s", "out of memory");
            for (size_t i = 0; i < n; i++) {
                yaml_node_t *m = yaml_document_get_node(L->doc, v->data.sequence.items.start[i]);
                if (!m)
                    continue;
                struct context *c = &cfg->contexts[cfg->n_contexts++];
                if (load_context(L, m, c))
                    return -1;
                for (size_t j = 0; j + 1 < cfg->n_contexts; j++)
                    if (strcmp(cfg->contexts[j].name, c->name) == 0)
                        return fail_at(L, m, "duplicate context name%s (one before has it)", "");
            }
        } else {
            return fail_at(L, k,
                           "unknown key \"%s\" (expected current-context or contexts)",
                           util_msg_word(key, CONFIG_WORD_MAX));
        }
    }
    if (current && !config_find(cfg, cfg->current_context))
        return fail_at(L, current, "current-context names no context of this file%s", "");
    return 0;
}

/* Parses text into cfg (cfg->path already set); 0 or -1 with err. */
static int parse_text(struct config *cfg, const char *text, size_t len, const char *path,
                      struct error *err)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    int rc = 0;
    yaml_mark_t deep;
    if (!yaml_nesting_ok(text, len, YAML_NESTING_MAX, &deep)) {
        error_at(err, EXIT_USAGE, path, (int)deep.line + 1, (int)deep.column + 1,
                 "nested deeper than %d levels", YAML_NESTING_MAX);
        rc = -1;
    } else if (!yaml_parser_load(&parser, &doc)) {
        const yaml_mark_t *m = parser.context ? &parser.context_mark : &parser.problem_mark;
        if (parser.problem)
            m = &parser.problem_mark;
        error_at(err, EXIT_USAGE, path, (int)m->line + 1, (int)m->column + 1,
                 "invalid YAML: %s%s%s", parser.problem ? parser.problem : "syntax error",
                 parser.context ? " " : "", parser.context ? parser.context : "");
        rc = -1;
    } else {
        struct loader L = {&doc, path, err};
        if (load_root(&L, cfg))
            rc = -1;
        yaml_document_delete(&doc);
    }
    yaml_parser_delete(&parser);
    return rc;
}

int config_load_string(const char *text, size_t len, const char *name, struct config **out,
                       struct error *err)
{
    *out = NULL;
    if (len > CONFIG_MAX_BYTES) {
        error_at(err, EXIT_USAGE, name ? name : "<config>", 0, 0,
                 "cannot read the config file: larger than 1 MB");
        return -1;
    }
    struct config *cfg = calloc(1, sizeof(*cfg));
    if (cfg)
        cfg->path = strdup(name ? name : "<config>");
    if (!cfg || !cfg->path) {
        config_free(cfg);
        error_set(err, EXIT_USAGE, "out of memory loading the config");
        return -1;
    }
    if (parse_text(cfg, text ? text : "", text ? len : 0, cfg->path, err)) {
        config_free(cfg);
        return -1;
    }
    *out = cfg;
    return 0;
}

int config_load(const char *path_or_null, struct config **out, struct error *err)
{
    *out = NULL;
    char def[4096];
    const char *path = path_or_null ? path_or_null : config_default_path(def, sizeof(def));
    char *text = NULL;
    size_t len = 0;
    struct error rerr;
    error_clear(&rerr);
    /* A symlink is followed (dotfiles managed by stow); its target must be a plain file. */
    if (!*path || util_read_regular(path, 0, CONFIG_MAX_BYTES, &text, &len, &rerr) < 0) {
        if (!path_or_null && (!*path || errno == ENOENT))
            return config_load_string("", 0, "", out, err);
        error_at(err, EXIT_USAGE, path, 0, 0, "cannot read the config file: %s",
                 errno == EFBIG ? "larger than 1 MB" : rerr.msg);
        return -1;
    }
    int rc = config_load_string(text, len, path, out, err);
    free(text);
    return rc;
}
