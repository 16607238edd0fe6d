/*
 * view_tree: Sovereign -> Organizations -> Environments -> Applications ->
 * Blueprint dependencies (recursively through the snapshot's blueprints, or
 * the applications' flattened depends_on when the server sent none).
 * Expansion is remembered by path, so it survives refreshes; by default the
 * tree opens down to the applications.
 */
#include "view.h"
#include "viewutil.h"

#include <curses.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PATH_MAX_LEN 256
#define DEP_DEPTH_MAX 12

enum tkind { TK_SOV = 0, TK_ORG, TK_ENV, TK_APP, TK_DEP };
enum tmode { TM_DEFAULT = 0, TM_ALL, TM_NONE };

struct trow {
    enum tkind kind;
    int depth;
    bool kids, open;
    const struct organization *org;
    const struct environment *env;
    const struct application *app;
    const char *dep;          /* blueprint name for TK_DEP */
    char path[PATH_MAX_LEN];
};

struct tree_state {
    enum tmode mode;
    char **toggled;           /* paths whose state differs from the mode's default */
    size_t n_toggled, cap_toggled;
    struct trow *rows;
    size_t n_rows, cap_rows;
    int sel, top, page;
    char sel_path[PATH_MAX_LEN];
};

static void *tree_open(const char *arg)
{
    (void)arg;
    return calloc(1, sizeof(struct tree_state));
}

static void tree_close(void *state)
{
    struct tree_state *st = state;
    if (!st)
        return;
    for (size_t k = 0; k < st->n_toggled; k++)
        free(st->toggled[k]);
    free(st->toggled);
    free(st->rows);
    free(st);
}

static ssize_t toggled_find(const struct tree_state *st, const char *path)
{
    for (size_t k = 0; k < st->n_toggled; k++)
        if (strcmp(st->toggled[k], path) == 0)
            return (ssize_t)k;
    return -1;
}

static bool default_open(enum tmode m, int depth)
{
    if (depth == 0)
        return true;
    if (m == TM_ALL)
        return true;
    if (m == TM_NONE)
        return false;
    return depth < 3;
}

static bool is_open(const struct tree_state *st, const char *path, int depth)
{
    bool d = default_open(st->mode, depth);
    return toggled_find(st, path) >= 0 ? !d : d;
}

static void toggle(struct tree_state *st, const char *path)
{
    ssize_t k = toggled_find(st, path);
    if (k >= 0) {
        free(st->toggled[k]);
        st->toggled[k] = st->toggled[--st->n_toggled];
        return;
    }
    if (st->n_toggled == st->cap_toggled) {
        size_t cap = st->cap_toggled ? st->cap_toggled * 2 : 16;
        char **t = realloc(st->toggled, cap * sizeof(char *));
        if (!t)
            return;
        st->toggled = t;
        st->cap_toggled = cap;
    }
    char *p = strdup(path);
    if (p)
        st->toggled[st->n_toggled++] = p;
}

static struct trow *push(struct tree_state *st, enum tkind kind, int depth, const char *parent,
                         const char *seg)
{
    if (st->n_rows == st->cap_rows) {
        size_t cap = st->cap_rows ? st->cap_rows * 2 : 64;
        struct trow *r = realloc(st->rows, cap * sizeof(*r));
        if (!r)
            return NULL;
        st->rows = r;
        st->cap_rows = cap;
    }
    struct trow *r = &st->rows[st->n_rows++];
    memset(r, 0, sizeof(*r));
    r->kind = kind;
    r->depth = depth;
    snprintf(r->path, sizeof(r->path), "%s/%s", parent, seg);
    r->open = is_open(st, r->path, depth);
    return r;
}

static const struct blueprint *find_bp(const struct snapshot *s, const char *name)
{
    for (size_t k = 0; k < s->n_blueprints; k++)
        if (strcmp(s->blueprints[k].name, name) == 0)
            return &s->blueprints[k];
    return NULL;
}

static void add_deps(struct tree_state *st, const struct snapshot *s, const char *bp_name,
                     const char *parent_path, int depth)
{
    const struct blueprint *bp = find_bp(s, bp_name);
    if (!bp || depth > DEP_DEPTH_MAX + 4)
        return;
    for (size_t k = 0; k < bp->n_depends; k++) {
        const struct blueprint *child = find_bp(s, bp->depends[k]);
        char path_copy[PATH_MAX_LEN];
        snprintf(path_copy, sizeof(path_copy), "%s", parent_path);
        struct trow *r = push(st, TK_DEP, depth, path_copy, bp->depends[k]);
        if (!r)
            return;
        r->dep = bp->depends[k];
        r->kids = child && child->n_depends > 0;
        if (r->kids && r->open) {
            char here[PATH_MAX_LEN];
            snprintf(here, sizeof(here), "%s", r->path);
            add_deps(st, s, bp->depends[k], here, depth + 1);
        }
    }
}

static void build(struct tree_state *st, const struct snapshot *s)
{
    st->n_rows = 0;
    struct trow *root = push(st, TK_SOV, 0, "", "sov");
    if (!root)
        return;
    root->kids = s->n_orgs > 0;
    if (!root->open)
        return;
    for (size_t o = 0; o < s->n_orgs; o++) {
        const struct organization *org = &s->orgs[o];
        struct trow *ro = push(st, TK_ORG, 1, "/sov", org->name);
        if (!ro)
            return;
        ro->org = org;
        ro->kids = org->n_envs > 0;
        if (!ro->open)
            continue;
        char op[PATH_MAX_LEN];
        snprintf(op, sizeof(op), "%s", ro->path);
        for (size_t e = 0; e < org->n_envs; e++) {
            const struct environment *env = &org->envs[e];
            struct trow *re = push(st, TK_ENV, 2, op, env->name);
            if (!re)
                return;
            re->env = env;
            re->kids = env->n_apps > 0;
            if (!re->open)
                continue;
            char ep[PATH_MAX_LEN];
            snprintf(ep, sizeof(ep), "%s", re->path);
            for (size_t a = 0; a < env->n_apps; a++) {
                const struct application *app = &env->apps[a];
                struct trow *ra = push(st, TK_APP, 3, ep, app->name);
                if (!ra)
                    return;
                ra->app = app;
                const struct blueprint *bp = find_bp(s, app->blueprint);
                ra->kids = s->n_blueprints ? (bp && bp->n_depends > 0) : app->n_depends_on > 0;
                if (!ra->open || !ra->kids)
                    continue;
                char ap[PATH_MAX_LEN];
                snprintf(ap, sizeof(ap), "%s", ra->path);
                if (s->n_blueprints) {
                    add_deps(st, s, app->blueprint, ap, 4);
                } else {
                    for (size_t d = 0; d < app->n_depends_on; d++) {
                        struct trow *rd = push(st, TK_DEP, 4, ap, app->depends_on[d]);
                        if (!rd)
                            return;
                        rd->dep = app->depends_on[d];
                    }
                }
            }
        }
    }
}

static void sync_selection(struct tree_state *st)
{
    if (st->sel_path[0])
        for (size_t k = 0; k < st->n_rows; k++)
            if (strcmp(st->rows[k].path, st->sel_path) == 0) {
                st->sel = (int)k;
                return;
            }
    if (st->sel >= (int)st->n_rows)
        st->sel = (int)st->n_rows - 1;
    if (st->sel < 0)
        st->sel = 0;
    if (st->n_rows)
        snprintf(st->sel_path, sizeof(st->sel_path), "%s", st->rows[st->sel].path);
}

static void draw_row(struct canvas *c, const struct glyphs *g, const struct snapshot *s,
                     const struct trow *r, int y)
{
    int x = r->depth * 2;
    if (r->kids)
        canvas_glyph(c, y, x, r->open ? g->expanded : g->collapsed, ROLE_ACCENT, 0);
    else
        canvas_glyph(c, y, x, r->kind == TK_DEP ? g->leaf : ' ', ROLE_DIM, 0);
    x += 2;
    char buf[128];
    switch (r->kind) {
    case TK_SOV: {
        const char *fqdn = s->has_deployment ? s->deployment.sovereign_fqdn : "";
        x += canvas_text(c, y, x, -1, *s->sovereign_name ? s->sovereign_name : "Sovereign",
                         ROLE_TITLE, ATTR_BOLD);
        if (fqdn && *fqdn)
            canvas_printf(c, y, x + 1, -1, ROLE_DIM, 0, "(%s)%s%zu organizations", fqdn,
                          g->middot, s->n_orgs);
        else
            canvas_printf(c, y, x + 1, -1, ROLE_DIM, 0, "%zu organizations", s->n_orgs);
        break;
    }
    case TK_ORG:
        x += canvas_text(c, y, x, -1, r->org->name, ROLE_NORMAL, ATTR_BOLD);
        canvas_printf(c, y, x + 2, -1, ROLE_DIM, 0, "%zu environment%s", r->org->n_envs,
                      r->org->n_envs == 1 ? "" : "s");
        break;
    case TK_ENV:
        x += canvas_text(c, y, x, -1, r->env->name, ROLE_NORMAL, 0);
        snprintf(buf, sizeof(buf), "[%s]", *r->env->type ? r->env->type : "?");
        x += 1 + canvas_text(c, y, x + 1, -1, buf,
                             strcmp(r->env->type, "prod") == 0 ? ROLE_ACCENT : ROLE_DIM,
                             ATTR_BOLD);
        canvas_printf(c, y, x + 2, -1, ROLE_DIM, 0, "%zu application%s", r->env->n_apps,
                      r->env->n_apps == 1 ? "" : "s");
        break;
    case TK_APP: {
        const struct application *a = r->app;
        enum role rr = vu_word_role(a->status);
        int st = job_status_parse(a->status);
        uint32_t gl = st >= 0 ? g->status[st]
                      : rr == ROLE_SUCCEEDED ? g->status[JOB_SUCCEEDED]
                      : rr == ROLE_RUNNING   ? g->status[JOB_RUNNING]
                      : rr == ROLE_FAILED    ? g->status[JOB_FAILED]
                                             : g->status[JOB_PENDING];
        canvas_glyph(c, y, x, gl, rr, ATTR_BOLD);
        x += 2;
        x += canvas_text(c, y, x, 20, a->name, ROLE_NORMAL, ATTR_BOLD);
        x += 2;
        x += canvas_text(c, y, x, 12, *a->status ? a->status : "unknown", rr, 0);
        x += 2;
        snprintf(buf, sizeof(buf), "%s@%s", a->blueprint, *a->version ? a->version : "?");
        canvas_text(c, y, x, -1, buf, ROLE_DIM, 0);
        break;
    }
    case TK_DEP: {
        const struct blueprint *bp = find_bp(s, r->dep);
        if (bp && *bp->version)
            snprintf(buf, sizeof(buf), "%s@%s", r->dep, bp->version);
        else
            snprintf(buf, sizeof(buf), "%s", r->dep);
        canvas_text(c, y, x, -1, buf, ROLE_NORMAL, 0);
        break;
    }
    }
}

static void tree_model(void *state, const struct snapshot *s, const struct view_ctx *ctx,
                       struct canvas *c)
{
    struct tree_state *st = state;
    const struct glyphs *g = glyphs_get(ctx->ascii);
    if (!st || c->h < 1 || c->w < 1)
        return;
    if (!s) {
        canvas_printf(c, 0, 0, -1, ROLE_DIM, 0, "waiting for data%s", g->ellipsis);
        return;
    }
    if (!s->orgs_available) {
        canvas_text(c, 0, 0, -1, "Organizations: not available on this server", ROLE_DIM, 0);
        st->n_rows = 0;
        return;
    }
    build(st, s);
    sync_selection(st);
    st->page = c->h;
    if (ctx->once)
        st->top = 0;
    else
        vu_scroll_to(&st->top, st->sel, c->h, (int)st->n_rows);
    for (int y = 0; y < c->h && st->top + y < (int)st->n_rows; y++) {
        draw_row(c, g, s, &st->rows[st->top + y], y);
        if (!ctx->once && st->top + y == st->sel)
            canvas_style(c, y, 0, c->w, ROLE_SELECTED, ATTR_REVERSE);
    }
    if (s->n_orgs == 0 && c->h > 1)
        canvas_text(c, 1, 2, -1, "no organizations yet", ROLE_DIM, 0);
}

static enum key_result tree_key(void *state, const struct snapshot *s,
                                const struct view_ctx *ctx, int ch)
{
    struct tree_state *st = state;
    (void)ctx;
    if (!st || !s || !s->orgs_available)
        return KEY_UNHANDLED;
    build(st, s);
    sync_selection(st);
    int n = (int)st->n_rows;
    if (n == 0)
        return KEY_UNHANDLED;
    if (ch != ' ' && vu_nav_key(ch, &st->sel, n, vu_page_step(st->page))) {
        snprintf(st->sel_path, sizeof(st->sel_path), "%s", st->rows[st->sel].path);
        return KEY_HANDLED;
    }
    struct trow *r = &st->rows[st->sel];
    switch (ch) {
    case '\n':
    case '\r':
    case ' ':
    case KEY_ENTER:
        if (r->kids)
            toggle(st, r->path);
        return KEY_HANDLED;
    case KEY_RIGHT:
    case 'l':
        if (r->kids && !r->open)
            toggle(st, r->path);
        else if (r->kids && st->sel + 1 < n)
            snprintf(st->sel_path, sizeof(st->sel_path), "%s", st->rows[st->sel + 1].path);
        return KEY_HANDLED;
    case KEY_LEFT:
    case 'h':
        if (r->kids && r->open) {
            toggle(st, r->path);
        } else {
            for (int k = st->sel - 1; k >= 0; k--)
                if (st->rows[k].depth < r->depth) {
                    snprintf(st->sel_path, sizeof(st->sel_path), "%s", st->rows[k].path);
                    break;
                }
        }
        return KEY_HANDLED;
    case 'e':
    case 'c':
        for (size_t k = 0; k < st->n_toggled; k++)
            free(st->toggled[k]);
        st->n_toggled = 0;
        st->mode = ch == 'e' ? TM_ALL : TM_NONE;
        return KEY_HANDLED;
    default:
        return KEY_UNHANDLED;
    }
}

static const struct key_help tree_help_table[] = {
    {"j/k, arrows", "move"},
    {"Enter, space", "expand or collapse"},
    {"right/l, left/h", "expand; collapse or go to the parent"},
    {"e", "expand all"},
    {"c", "collapse all"},
    {NULL, NULL},
};

static const struct key_help *tree_help(void) { return tree_help_table; }

const struct view_ops view_tree_ops = {
    .name = "tree",
    .title = "Tree",
    .open = tree_open,
    .close = tree_close,
    .model = tree_model,
    .key = tree_key,
    .help = tree_help,
    .set_filter = NULL,
};
