/* theme: YAML colour themes, the compiled-in default, the colour ladder. */
#include "theme.h"
#include "yamlcheck.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

/* Same content as themes/default.yaml (tests/test_theme.c checks they agree). */
const char theme_default_yaml[] =
    "# catalyst-tui theme: default (dark background). DOMAIN.md §2.4 palette:\n"
    "# pending grey, running blue, succeeded green, failed red, tethered amber,\n"
    "# sovereign green; log levels INFO blue, DEBUG grey, WARN amber, ERROR red.\n"
    "# fg/bg: names or 0..255; fg16/bg16: the 16/8-colour fallback; mono: the\n"
    "# attributes used without colour. See catalyst-tui(1), THEMES.\n"
    "name: default\n"
    "roles:\n"
    "  normal: {fg: default, bg: default}\n"
    "  dim: {fg: 245, fg16: bright-black, mono: [dim]}\n"
    "  header: {fg: 255, bg: 24, fg16: bright-white, bg16: blue, attrs: [bold],"
    " mono: [reverse, bold]}\n"
    "  title: {fg: 75, fg16: bright-cyan, attrs: [bold], mono: [bold, underline]}\n"
    "  border: {fg: 240, fg16: bright-black, mono: []}\n"
    "  selected: {fg: 255, bg: 25, fg16: bright-white, bg16: blue, attrs: [bold],"
    " mono: [reverse]}\n"
    "  pending: {fg: 245, fg16: bright-black, mono: [dim]}\n"
    "  running: {fg: 39, fg16: bright-blue, attrs: [bold], mono: [bold]}\n"
    "  succeeded: {fg: 77, fg16: green, mono: []}\n"
    "  failed: {fg: 203, fg16: bright-red, attrs: [bold], mono: [bold, underline]}\n"
    "  blocked: {fg: 167, fg16: red, mono: [dim, underline]}\n"
    "  tethered: {fg: 214, fg16: yellow, attrs: [bold], mono: [bold]}\n"
    "  sovereign: {fg: 77, fg16: bright-green, attrs: [bold], mono: [bold,"
    " reverse]}\n"
    "  log-info: {fg: 39, fg16: blue, mono: []}\n"
    "  log-debug: {fg: 245, fg16: bright-black, mono: [dim]}\n"
    "  log-warn: {fg: 214, fg16: yellow, mono: [bold]}\n"
    "  log-error: {fg: 203, fg16: bright-red, attrs: [bold], mono: [bold,"
    " underline]}\n"
    "  stale: {fg: 16, bg: 214, fg16: black, bg16: yellow, attrs: [bold], mono:"
    " [reverse, bold]}\n"
    "  error: {fg: 203, fg16: bright-red, attrs: [bold], mono: [bold]}\n"
    "  accent: {fg: 81, fg16: bright-cyan, mono: [bold]}\n"
    "  upstream: {fg: 141, fg16: magenta, mono: [underline]}\n"
    "  downstream: {fg: 80, fg16: cyan, mono: [underline]}\n"
    "  critical: {fg: 214, fg16: yellow, attrs: [bold], mono: [bold]}\n"
    "  gauge-fill: {fg: 77, fg16: green, mono: []}\n"
    "  gauge-empty: {fg: 238, fg16: bright-black, mono: [dim]}\n"
    "  statusbar: {fg: 252, bg: 236, fg16: black, bg16: white, mono: [reverse]}\n"
    "  dialog: {fg: 255, bg: 237, fg16: bright-white, bg16: black, mono: []}\n";

static const char *const role_names[ROLE_COUNT] = {
    [ROLE_NORMAL] = "normal",         [ROLE_DIM] = "dim",
    [ROLE_HEADER] = "header",         [ROLE_TITLE] = "title",
    [ROLE_BORDER] = "border",         [ROLE_SELECTED] = "selected",
    [ROLE_PENDING] = "pending",       [ROLE_RUNNING] = "running",
    [ROLE_SUCCEEDED] = "succeeded",   [ROLE_FAILED] = "failed",
    [ROLE_BLOCKED] = "blocked",       [ROLE_TETHERED] = "tethered",
    [ROLE_SOVEREIGN] = "sovereign",   [ROLE_LOG_INFO] = "log-info",
    [ROLE_LOG_DEBUG] = "log-debug",   [ROLE_LOG_WARN] = "log-warn",
    [ROLE_LOG_ERROR] = "log-error",   [ROLE_STALE] = "stale",
    [ROLE_ERROR] = "error",           [ROLE_ACCENT] = "accent",
    [ROLE_UPSTREAM] = "upstream",     [ROLE_DOWNSTREAM] = "downstream",
    [ROLE_CRITICAL] = "critical",     [ROLE_GAUGE_FILL] = "gauge-fill",
    [ROLE_GAUGE_EMPTY] = "gauge-empty", [ROLE_STATUSBAR] = "statusbar",
    [ROLE_DIALOG] = "dialog",
};

static const char *const color_names[8] = {
    "black", "red", "green", "yellow", "blue", "magenta", "cyan", "white",
};

const char *theme_role_name(enum role r)
{
    return (unsigned)r < ROLE_COUNT ? role_names[r] : "?";
}

int theme_role_parse(const char *name)
{
    for (int i = 0; i < ROLE_COUNT; i++)
        if (role_names[i] && strcmp(role_names[i], name) == 0)
            return i;
    return -1;
}

int theme_color_parse(const char *s)
{
    if (!s || !*s)
        return -2;
    if (strcmp(s, "default") == 0)
        return THEME_DEFAULT_COLOR;
    if (s[0] >= '0' && s[0] <= '9') {
        char *end;
        long v = strtol(s, &end, 10);
        return (*end || v < 0 || v > 255) ? -2 : (int)v;
    }
    int base = 0;
    if (strncmp(s, "bright-", 7) == 0) {
        base = 8;
        s += 7;
    }
    for (int i = 0; i < 8; i++)
        if (strcmp(s, color_names[i]) == 0)
            return base + i;
    return -2;
}

/* xterm's RGB for colour c (0..255). */
static void color_rgb(int c, int rgb[3])
{
    static const int ansi[16][3] = {
        {0, 0, 0},       {205, 0, 0},     {0, 205, 0},     {205, 205, 0},
        {0, 0, 238},     {205, 0, 205},   {0, 205, 205},   {229, 229, 229},
        {127, 127, 127}, {255, 0, 0},     {0, 255, 0},     {255, 255, 0},
        {92, 92, 255},   {255, 0, 255},   {0, 255, 255},   {255, 255, 255},
    };
    if (c < 16) {
        memcpy(rgb, ansi[c], sizeof(ansi[c]));
    } else if (c < 232) {
        static const int lvl[6] = {0, 95, 135, 175, 215, 255};
        int i = c - 16;
        rgb[0] = lvl[i / 36];
        rgb[1] = lvl[(i / 6) % 6];
        rgb[2] = lvl[i % 6];
    } else {
        rgb[0] = rgb[1] = rgb[2] = 8 + 10 * (c - 232);
    }
}

int theme_color_to16(int c)
{
    if (c < 16)
        return c;
    if (c > 255)
        return 7;
    int rgb[3], best = 0;
    long best_d = LONG_MAX;
    color_rgb(c, rgb);
    for (int i = 0; i < 16; i++) {
        int q[3];
        color_rgb(i, q);
        long d = 0;
        for (int k = 0; k < 3; k++)
            d += (long)(rgb[k] - q[k]) * (rgb[k] - q[k]);
        if (d < best_d) {
            best_d = d;
            best = i;
        }
    }
    return best;
}

struct theme_style theme_resolve(const struct theme *t, enum role r, int colors)
{
    struct theme_style s = {THEME_DEFAULT_COLOR, THEME_DEFAULT_COLOR, 0};
    if ((unsigned)r >= ROLE_COUNT)
        return s;
    const struct theme_role *tr = &t->roles[r];
    if (t->monochrome || colors < 8) {
        s.attrs = tr->mono;
        return s;
    }
    if (colors >= 256)
        return tr->c256;
    s = tr->c16;
    if (colors >= 16)
        return s;
    /* 8 colours: bright foregrounds become bold base colours; bright black is grey. */
    if (s.fg == 8) {
        s.fg = 7;
        s.attrs |= ATTR_DIM;
    } else if (s.fg > 8) {
        s.fg -= 8;
        s.attrs |= ATTR_BOLD;
    }
    if (s.bg >= 8)
        s.bg = s.bg == 8 ? 0 : s.bg - 8;
    return s;
}

/* ---- YAML ---- */

/*
 * Messages name a key only when it is a short plain word (util_msg_word), and
 * never a value: the file may be anything the operator pointed at.
 */
#define THEME_WORD_MAX 32

struct parse {
    struct theme *t;
    yaml_document_t *doc;
    const char *file;
    struct error *err;
};

static int fail_at(struct parse *p, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail_at(struct parse *p, const yaml_node_t *n, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    int line = n ? (int)n->start_mark.line + 1 : 1;
    int col = n ? (int)n->start_mark.column + 1 : 1;
    error_at(p->err, EXIT_USAGE, p->file, line, col, "%s", msg);
    return -1;
}

static const char *scalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static int parse_attrs(struct parse *p, yaml_node_t *n, const char *key, uint8_t *out)
{
    if (n->type != YAML_SEQUENCE_NODE)
        return fail_at(p, n, "'%s' must be a list, e.g. [bold, underline]", key);
    uint8_t a = 0;
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
         it++) {
        yaml_node_t *v = yaml_document_get_node(p->doc, *it);
        const char *s = scalar(v);
        if (!s)
            return fail_at(p, v, "'%s' items must be attribute names", key);
        if (strcmp(s, "bold") == 0)
            a |= ATTR_BOLD;
        else if (strcmp(s, "reverse") == 0)
            a |= ATTR_REVERSE;
        else if (strcmp(s, "underline") == 0)
            a |= ATTR_UNDERLINE;
        else if (strcmp(s, "dim") == 0)
            a |= ATTR_DIM;
        else
            return fail_at(p, v, "unknown attribute (bold, reverse, underline, dim)");
    }
    *out = a;
    return 0;
}

static int parse_color(struct parse *p, yaml_node_t *n, bool sixteen, int16_t *out)
{
    const char *s = scalar(n);
    if (!s)
        return fail_at(p, n, "%s", "a colour must be a name or a number");
    int c = theme_color_parse(s);
    if (c == -2 || (sixteen && c > 15))
        return fail_at(p, n, "bad colour (a name, bright-NAME, default or 0..%d)",
                       sixteen ? 15 : 255);
    *out = (int16_t)c;
    return 0;
}

static int parse_role(struct parse *p, int r, yaml_node_t *n)
{
    if (n->type != YAML_MAPPING_NODE)
        return fail_at(p, n, "role '%s' must be a mapping, e.g. {fg: red}", role_names[r]);
    struct theme_role tr = {{THEME_DEFAULT_COLOR, THEME_DEFAULT_COLOR, 0},
                            {THEME_DEFAULT_COLOR, THEME_DEFAULT_COLOR, 0}, 0};
    bool have_fg16 = false, have_bg16 = false, have_mono = false;
    for (yaml_node_pair_t *pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top;
         pr++) {
        yaml_node_t *k = yaml_document_get_node(p->doc, pr->key);
        yaml_node_t *v = yaml_document_get_node(p->doc, pr->value);
        const char *key = scalar(k);
        int rc;
        if (!key)
            return fail_at(p, k, "%s", "keys must be plain words");
        if (strcmp(key, "fg") == 0)
            rc = parse_color(p, v, false, &tr.c256.fg);
        else if (strcmp(key, "bg") == 0)
            rc = parse_color(p, v, false, &tr.c256.bg);
        else if (strcmp(key, "fg16") == 0)
            rc = parse_color(p, v, true, &tr.c16.fg), have_fg16 = true;
        else if (strcmp(key, "bg16") == 0)
            rc = parse_color(p, v, true, &tr.c16.bg), have_bg16 = true;
        else if (strcmp(key, "attrs") == 0)
            rc = parse_attrs(p, v, key, &tr.c256.attrs);
        else if (strcmp(key, "mono") == 0)
            rc = parse_attrs(p, v, key, &tr.mono), have_mono = true;
        else
            return fail_at(p, k, "unknown key '%s' (fg, bg, fg16, bg16, attrs, mono)",
                           util_msg_word(key, THEME_WORD_MAX));
        if (rc)
            return rc;
    }
    if (!have_fg16)
        tr.c16.fg = tr.c256.fg < 0 ? tr.c256.fg : (int16_t)theme_color_to16(tr.c256.fg);
    if (!have_bg16)
        tr.c16.bg = tr.c256.bg < 0 ? tr.c256.bg : (int16_t)theme_color_to16(tr.c256.bg);
    tr.c16.attrs = tr.c256.attrs;
    if (!have_mono)
        tr.mono = tr.c256.attrs;
    p->t->roles[r] = tr;
    p->t->defined[r] = true;
    return 0;
}

static int parse_root(struct parse *p, yaml_node_t *root)
{
    if (!root)
        return fail_at(p, NULL, "%s", "empty theme file");
    if (root->type != YAML_MAPPING_NODE)
        return fail_at(p, root, "%s", "a theme must be a mapping with 'name' and 'roles'");
    for (yaml_node_pair_t *pr = root->data.mapping.pairs.start;
         pr < root->data.mapping.pairs.top; pr++) {
        yaml_node_t *k = yaml_document_get_node(p->doc, pr->key);
        yaml_node_t *v = yaml_document_get_node(p->doc, pr->value);
        const char *key = scalar(k);
        if (!key)
            return fail_at(p, k, "%s", "keys must be plain words");
        if (strcmp(key, "name") == 0 || strcmp(key, "description") == 0) {
            const char *s = scalar(v);
            if (!s)
                return fail_at(p, v, "'%s' must be a string", key);
            if (key[0] == 'n')
                snprintf(p->t->name, sizeof(p->t->name), "%s", s);
        } else if (strcmp(key, "monochrome") == 0) {
            const char *s = scalar(v);
            if (s && strcmp(s, "true") == 0)
                p->t->monochrome = true;
            else if (s && strcmp(s, "false") == 0)
                p->t->monochrome = false;
            else
                return fail_at(p, v, "'%s' must be true or false", key);
        } else if (strcmp(key, "roles") == 0) {
            if (v->type != YAML_MAPPING_NODE)
                return fail_at(p, v, "%s", "'roles' must be a mapping of role: {fg, bg, ...}");
            for (yaml_node_pair_t *q = v->data.mapping.pairs.start;
                 q < v->data.mapping.pairs.top; q++) {
                yaml_node_t *rk = yaml_document_get_node(p->doc, q->key);
                yaml_node_t *rv = yaml_document_get_node(p->doc, q->value);
                const char *rname = scalar(rk);
                int r = rname ? theme_role_parse(rname) : -1;
                if (r < 0)
                    return fail_at(p, rk, "unknown role '%s'",
                                   util_msg_word(rname, THEME_WORD_MAX));
                if (parse_role(p, r, rv))
                    return -1;
            }
        } else {
            return fail_at(p, k, "unknown key '%s' (name, description, monochrome, roles)",
                           util_msg_word(key, THEME_WORD_MAX));
        }
    }
    return 0;
}

static int parse_yaml(struct theme *t, const char *yaml, size_t len, const char *file,
                      struct error *err)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser)) {
        error_set(err, EXIT_USAGE, "out of memory");
        return -1;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, len);
    yaml_mark_t deep;
    if (!yaml_nesting_ok(yaml, len, YAML_NESTING_MAX, &deep)) {
        error_at(err, EXIT_USAGE, file, (int)deep.line + 1, (int)deep.column + 1,
                 "nested deeper than %d levels", YAML_NESTING_MAX);
        yaml_parser_delete(&parser);
        return -1;
    }
    if (!yaml_parser_load(&parser, &doc)) {
        error_at(err, EXIT_USAGE, file, (int)parser.problem_mark.line + 1,
                 (int)parser.problem_mark.column + 1, "YAML syntax: %s%s%s",
                 parser.problem ? parser.problem : "error", parser.context ? " " : "",
                 parser.context ? parser.context : "");
        yaml_parser_delete(&parser);
        return -1;
    }
    struct parse p = {t, &doc, file, err};
    int rc = parse_root(&p, yaml_document_get_root_node(&doc));
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    return rc;
}

static void theme_zero(struct theme *t)
{
    memset(t, 0, sizeof(*t));
    for (int i = 0; i < ROLE_COUNT; i++) {
        struct theme_style d = {THEME_DEFAULT_COLOR, THEME_DEFAULT_COLOR, 0};
        t->roles[i].c256 = d;
        t->roles[i].c16 = d;
    }
}

void theme_builtin(struct theme *t)
{
    struct error e;
    theme_zero(t);
    /* The text is ours and tested; a failure would leave plain default colours. */
    parse_yaml(t, theme_default_yaml, strlen(theme_default_yaml), "<built-in>", &e);
    if (!t->name[0])
        snprintf(t->name, sizeof(t->name), "default");
}

int theme_load_string(struct theme *t, const char *yaml, size_t len, const char *file,
                      struct error *err)
{
    struct theme tmp;
    theme_builtin(&tmp);
    memset(tmp.defined, 0, sizeof(tmp.defined));
    tmp.name[0] = 0;
    if (parse_yaml(&tmp, yaml, len, file ? file : "<theme>", err))
        return -1;
    if (!tmp.name[0] && file) {
        const char *base = strrchr(file, '/');
        base = base ? base + 1 : file;
        size_t n = strcspn(base, ".");
        snprintf(tmp.name, sizeof(tmp.name), "%.*s", (int)n, base);
    }
    *t = tmp;
    return 0;
}

int theme_load_file(struct theme *t, const char *path, struct error *err)
{
    char *data = NULL;
    size_t len = 0;
    /* A symlink is followed (themes kept in dotfiles); its target must be a plain file. */
    if (util_read_regular(path, 0, 1 << 20, &data, &len, err) != 0)
        return -1;
    int rc = theme_load_string(t, data, len, path, err);
    free(data);
    return rc;
}

static bool exe_dir(char *buf, size_t n)
{
    ssize_t l = readlink("/proc/self/exe", buf, n - 1);
    if (l <= 0)
        return false;
    buf[l] = 0;
    char *slash = strrchr(buf, '/');
    if (!slash)
        return false;
    *slash = 0;
    return true;
}

bool theme_name_ok(const char *name)
{
    if (!name || !((*name >= 'a' && *name <= 'z') || (*name >= '0' && *name <= '9')))
        return false;
    size_t n = strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_-");
    return name[n] == 0 && n < 64;
}

int theme_find(struct theme *t, const char *name, char *found_path, size_t n,
               struct error *err)
{
    if (found_path && n)
        found_path[0] = 0;
    if (!name || !*name) {
        theme_builtin(t);
        return 0;
    }
    /* A name is never a path: no "../", no absolute file through a name. */
    if (!theme_name_ok(name)) {
        error_set(err, EXIT_USAGE,
                  "a theme name is a word (a-z, 0-9, '-', '_'); give a file with "
                  "--theme-file FILE, :theme-file FILE or theme-file: in a context");
        return -1;
    }
    char dirs[6][PATH_MAX];
    int nd = 0;
    const char *env = getenv("CATALYST_TUI_THEMES");
    if (env && *env)
        snprintf(dirs[nd++], PATH_MAX, "%s", env);
    snprintf(dirs[nd++], PATH_MAX, "themes");
    char exe[PATH_MAX - 64];
    if (exe_dir(exe, sizeof(exe))) {
        snprintf(dirs[nd++], PATH_MAX, "%s/themes", exe);
        snprintf(dirs[nd++], PATH_MAX, "%s/../share/catalyst-tui/themes", exe);
    }
    snprintf(dirs[nd++], PATH_MAX, "/usr/local/share/catalyst-tui/themes");
    snprintf(dirs[nd++], PATH_MAX, "/usr/share/catalyst-tui/themes");
    for (int i = 0; i < nd; i++) {
        char path[PATH_MAX + 80];
        int pl = snprintf(path, sizeof(path), "%s/%s.yaml", dirs[i], name);
        if (pl > 0 && (size_t)pl < sizeof(path) && access(path, R_OK) == 0) {
            if (found_path && n)
                snprintf(found_path, n, "%s", path);
            return theme_load_file(t, path, err);
        }
    }
    if (strcmp(name, "default") == 0) {
        theme_builtin(t);
        return 0;
    }
    error_set(err, EXIT_USAGE,
              "theme '%s' not found (built in: default; files: light, high-contrast, "
              "colorblind, mono; a file of your own: --theme-file FILE)", name);
    return -1;
}
