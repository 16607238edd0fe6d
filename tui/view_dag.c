/*
 * view_dag: the dependency graph as a layered drawing (DOMAIN §5, §7 row 13).
 * The layout (dag_layout.c) is cached and rebuilt only when the graph's shape
 * changes; each frame draws only what intersects the viewport: edges are
 * routed orthogonally in the gaps between columns into a per-cell direction
 * mask that becomes box-drawing characters (so junctions merge), then nodes
 * are drawn on top. The focused job's upstream and downstream closures and
 * the critical path are highlighted by role, and named in the header line.
 */
#include "view.h"
#include "viewutil.h"

#include "dag.h"
#include "dag_layout.h"
#include "ui.h"
#include "util.h"

#include <curses.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define M_N 1u
#define M_E 2u
#define M_S 4u
#define M_W 8u
#define M_ARROW 16u
#define PAN_X 8
#define PAN_Y 4
#define PENDING_ESTIMATE_MS 30000

struct dag_state {
    struct dag_layout *layout;
    const struct snapshot *layout_s;   /* cache keys: pointer, generation and size */
    uint64_t layout_gen;
    size_t layout_n;
    int32_t layout_scope;
    char scope_id[512];          /* "" = all */
    char focus_id[512];
    int vx, vy;
    bool follow;
    int page;
    /* highlight caches */
    const struct snapshot *mark_s;
    uint64_t mark_gen;
    size_t mark_n;
    int32_t mark_focus;
    size_t cap;
    uint8_t *up, *down, *crit;
    int32_t *crit_next;
    int64_t crit_total;
    size_t crit_len;
    /* per-frame scratch */
    uint8_t *mask, *mrole;
    size_t mask_cap;
};

static void *dag_open(const char *arg)
{
    struct dag_state *st = calloc(1, sizeof(*st));
    if (!st)
        return NULL;
    if (arg)
        snprintf(st->focus_id, sizeof(st->focus_id), "%s", arg);
    st->follow = true;
    st->mark_focus = -2;
    st->layout_scope = -2;
    return st;
}

static void dag_close(void *state)
{
    struct dag_state *st = state;
    if (!st)
        return;
    dag_layout_free(st->layout);
    free(st->up);
    free(st->down);
    free(st->crit);
    free(st->crit_next);
    free(st->mask);
    free(st->mrole);
    free(st);
}

static int32_t current_scope(const struct dag_state *st, const struct snapshot *s)
{
    if (!st->scope_id[0])
        return -1;
    int32_t g = snapshot_find_job(s, st->scope_id);
    return g >= 0 && s->jobs[g].is_group ? g : -1;
}

static const struct dag_layout *get_layout(struct dag_state *st, const struct snapshot *s)
{
    int32_t scope = current_scope(st, s);
    if (st->layout && st->layout_s == s && st->layout_gen == s->generation &&
        st->layout_n == s->n_jobs && st->layout_scope == scope)
        return st->layout;
    const struct dag_layout *l = dag_layout_get(&st->layout, s, scope, NULL);
    if (l) {
        st->layout_s = s;
        st->layout_gen = s->generation;
        st->layout_n = s->n_jobs;
        st->layout_scope = scope;
    }
    return l;
}

static int32_t get_focus(struct dag_state *st, const struct snapshot *s,
                         const struct dag_layout *l)
{
    int32_t f = st->focus_id[0] ? snapshot_find_job(s, st->focus_id) : -1;
    if (f >= 0 && (size_t)f < l->n_jobs && l->col_of[f] >= 0)
        return f;
    if (l->n == 0)
        return -1;
    f = l->order[0];
    snprintf(st->focus_id, sizeof(st->focus_id), "%s", s->jobs[f].id);
    return f;
}

static bool grow(struct dag_state *st, size_t n)
{
    if (st->cap >= n)
        return true;
    uint8_t *up = realloc(st->up, n), *down = NULL, *crit = NULL;
    if (up)
        st->up = up;
    down = realloc(st->down, n);
    if (down)
        st->down = down;
    crit = realloc(st->crit, n);
    if (crit)
        st->crit = crit;
    int32_t *next = realloc(st->crit_next, n * sizeof(int32_t));
    if (next)
        st->crit_next = next;
    if (!up || !down || !crit || !next)
        return false;
    st->cap = n;
    return true;
}

/* Closures of the focus and the critical path, recomputed only when they can change. */
static void update_marks(struct dag_state *st, const struct snapshot *s, int32_t focus,
                         int64_t now)
{
    size_t n = s->n_jobs;
    bool snap_changed =
        st->mark_s != s || st->mark_gen != s->generation || st->mark_n != n || st->cap < n;
    if (!snap_changed && st->mark_focus == focus)
        return;
    if (!grow(st, n ? n : 1))
        return;
    memset(st->up, 0, n);
    memset(st->down, 0, n);
    if (focus >= 0) {
        dag_closure(s->dag, focus, true, st->up);
        dag_closure(s->dag, focus, false, st->down);
    }
    st->mark_focus = focus;
    if (!snap_changed)
        return;
    st->mark_s = s;
    st->mark_gen = s->generation;
    st->mark_n = n;
    memset(st->crit, 0, n);
    for (size_t i = 0; i < n; i++)
        st->crit_next[i] = -1;
    /* Weights: actual duration, elapsed while running, the mean finished one when pending. */
    int64_t *w = malloc((n ? n : 1) * sizeof(int64_t));
    if (!w)
        return;
    int64_t sum = 0, cnt = 0;
    for (size_t i = 0; i < n; i++) {
        const struct job *j = &s->jobs[i];
        if (!j->is_group && job_status_terminal(j->status) && j->started_at > 0) {
            sum = vu_sat_add(sum, vu_job_elapsed(j, now) > 0 ? vu_job_elapsed(j, now) : 0);
            cnt++;
        }
    }
    int64_t est = cnt ? sum / cnt : PENDING_ESTIMATE_MS;
    for (size_t i = 0; i < n; i++) {
        const struct job *j = &s->jobs[i];
        int64_t e = vu_job_elapsed(j, now);
        w[i] = j->is_group ? 0 : e >= 0 ? e : est;
    }
    int32_t *chain = NULL;
    int64_t total = 0;
    ssize_t len = dag_critical_path(s->dag, w, &chain, &total);
    free(w);
    st->crit_total = total;
    st->crit_len = len > 0 ? (size_t)len : 0;
    for (ssize_t k = 0; k < len; k++) {
        st->crit[chain[k]] = 1;
        if (k + 1 < len)
            st->crit_next[chain[k]] = chain[k + 1];
    }
    free(chain);
}

struct frame {
    int vx, vy, w, h;     /* viewport in layout coordinates; h excludes the header row */
    uint8_t *mask, *role;
};

static int prio(uint8_t role)
{
    switch (role) {
    case ROLE_UPSTREAM:
    case ROLE_DOWNSTREAM:
        return 2;
    case ROLE_CRITICAL:
        return 1;
    default:
        return 0;
    }
}

static void mark(struct frame *f, int x, int y, unsigned bits, uint8_t role)
{
    int sx = x - f->vx, sy = y - f->vy;
    if (sx < 0 || sy < 0 || sx >= f->w || sy >= f->h)
        return;
    size_t k = (size_t)sy * (size_t)f->w + (size_t)sx;
    f->mask[k] |= (uint8_t)bits;
    if (prio(role) > prio(f->role[k]) || !f->role[k])
        f->role[k] = role;
}

static void hseg(struct frame *f, int y, int x0, int x1, uint8_t role)
{
    if (x0 > x1) {
        int t = x0;
        x0 = x1;
        x1 = t;
    }
    if (y < f->vy || y >= f->vy + f->h)
        return;
    int a = x0 > f->vx ? x0 : f->vx, b = x1 < f->vx + f->w - 1 ? x1 : f->vx + f->w - 1;
    for (int x = a; x <= b; x++)
        mark(f, x, y, (x > x0 ? M_W : 0) | (x < x1 ? M_E : 0), role);
}

static void vseg(struct frame *f, int x, int y0, int y1, uint8_t role)
{
    if (y0 > y1) {
        int t = y0;
        y0 = y1;
        y1 = t;
    }
    if (x < f->vx || x >= f->vx + f->w)
        return;
    int a = y0 > f->vy ? y0 : f->vy, b = y1 < f->vy + f->h - 1 ? y1 : f->vy + f->h - 1;
    for (int y = a; y <= b; y++)
        mark(f, x, y, (y > y0 ? M_N : 0) | (y < y1 ? M_S : 0), role);
}

static uint32_t box_char(const struct glyphs *g, unsigned m)
{
    switch (m & 15u) {
    case M_E | M_W:
    case M_E:
    case M_W:
        return g->hline;
    case M_N | M_S:
    case M_N:
    case M_S:
        return g->vline;
    case M_E | M_S:
        return g->tl;
    case M_W | M_S:
        return g->tr;
    case M_N | M_E:
        return g->bl;
    case M_N | M_W:
        return g->br;
    case M_N | M_S | M_E:
        return g->ltee;
    case M_N | M_S | M_W:
        return g->rtee;
    case M_E | M_W | M_S:
        return g->ttee;
    case M_E | M_W | M_N:
        return g->btee;
    case 15u:
        return g->cross;
    default:
        return ' ';
    }
}

static uint8_t edge_role(const struct dag_state *st, int32_t u, int32_t v, int32_t focus,
                         bool once)
{
    if (!once && focus >= 0) {
        if ((v == focus || st->up[v]) && st->up[u])
            return ROLE_UPSTREAM;
        if ((u == focus || st->down[u]) && st->down[v])
            return ROLE_DOWNSTREAM;
    }
    if (st->crit_next[u] == v)
        return ROLE_CRITICAL;
    return ROLE_BORDER;
}

static void route_edge(struct frame *f, const struct dag_layout *l, int32_t u, int32_t v,
                       uint8_t role)
{
    int32_t cu = l->col_of[u], cv = l->col_of[v];
    int xs = l->col_x[cu] + l->col_w[cu];
    int xt = l->col_x[cv] - 1;
    int ys = l->row_of[u] * DAG_ROW_STRIDE, yt = l->row_of[v] * DAG_ROW_STRIDE;
    int yr = yt != ys ? (yt > ys ? yt - 1 : yt + 1) : ys + 1;
    int ylo = ys < yt ? ys : yt, yhi = ys > yt ? ys : yt;
    if (yr < ylo)
        ylo = yr;
    if (yr > yhi)
        yhi = yr;
    /* Skip edges whose bounding box misses the viewport. */
    if (xt < f->vx || xs >= f->vx + f->w || yhi < f->vy || ylo >= f->vy + f->h)
        return;
    /* One vertical trunk per target, spread over the gap so unrelated edges rarely merge. */
    int lane = 1 + (int)(l->row_of[v] % (DAG_GAP - 2));
    if (cv == cu + 1) {
        int xm = xs + lane;
        if (ys == yt) {
            hseg(f, ys, xs, xt, role);
        } else {
            hseg(f, ys, xs, xm, role);
            vseg(f, xm, ys, yt, role);
            hseg(f, yt, xm, xt, role);
        }
    } else {
        /* Long edges run along the empty spacer row next to the target's row. */
        int xm1 = xs + 1 + (int)(l->row_of[u] % (DAG_GAP - 2));
        int xm2 = l->col_x[cv] - DAG_GAP + lane;
        hseg(f, ys, xs, xm1, role);
        vseg(f, xm1, ys, yr, role);
        hseg(f, yr, xm1, xm2, role);
        vseg(f, xm2, yr, yt, role);
        hseg(f, yt, xm2, xt, role);
    }
    mark(f, xt, yt, M_ARROW, role);
}

static void ensure_visible(struct dag_state *st, const struct dag_layout *l, int32_t focus,
                           int w, int h)
{
    if (focus < 0)
        return;
    int32_t c = l->col_of[focus];
    int x0 = l->col_x[c], x1 = x0 + l->col_w[c];
    int y = l->row_of[focus] * DAG_ROW_STRIDE;
    /* Scroll to a column boundary, keeping one column of context on the left. */
    if (x0 < st->vx || x1 > st->vx + w)
        st->vx = c > 0 && x1 - l->col_x[c - 1] <= w ? l->col_x[c - 1] : x0;
    if (y < st->vy)
        st->vy = y - 2 > 0 ? y - 2 : 0;
    if (y >= st->vy + h)
        st->vy = y - h + 3;
}

static void clamp_view(struct dag_state *st, const struct dag_layout *l, int w, int h)
{
    int mx = l->width - w, my = l->height - h;
    if (st->vx > mx)
        st->vx = mx;
    if (st->vy > my)
        st->vy = my;
    if (st->vx < 0)
        st->vx = 0;
    if (st->vy < 0)
        st->vy = 0;
}

static void draw_node(struct canvas *c, const struct glyphs *g, const struct snapshot *s,
                      const struct dag_state *st, const struct dag_layout *l, int32_t i,
                      int32_t focus, bool once, int sx, int sy, int64_t now)
{
    int32_t col = l->col_of[i];
    int w = l->col_w[col];
    enum role nr = ROLE_NORMAL;
    unsigned attr = 0;
    if (!once && i == focus) {
        nr = ROLE_SELECTED;
        attr = ATTR_REVERSE | ATTR_BOLD;
    } else if (!once && st->up[i]) {
        nr = ROLE_UPSTREAM;
    } else if (!once && st->down[i]) {
        nr = ROLE_DOWNSTREAM;
    } else if (st->crit[i]) {
        nr = ROLE_CRITICAL;
    }
    char dur[32];
    vu_duration(vu_job_elapsed(&s->jobs[i], now), g, dur, sizeof(dur));
    /* Blank the cell run first so edges never show through a node. */
    for (int k = 0; k < w; k++)
        canvas_glyph(c, sy, sx + k, ' ', nr, attr);
    canvas_glyph(c, sy, sx, vu_job_glyph(g, s, (size_t)i), vu_job_role(s, (size_t)i),
                 ATTR_BOLD);
    canvas_text(c, sy, sx + 2, w - 10, vu_job_label(&s->jobs[i]), nr, attr);
    int dl = (int)strlen(dur);
    if (dl > 7)
        dl = 7;
    canvas_text(c, sy, sx + w - dl, dl, dur, nr == ROLE_NORMAL ? ROLE_DIM : nr, attr);
}

static void dag_model(void *state, const struct snapshot *s, const struct view_ctx *ctx,
                      struct canvas *c)
{
    struct dag_state *st = state;
    const struct glyphs *g = glyphs_get(ctx->ascii);
    if (!st || c->h < 1 || c->w < 1)
        return;
    if (!s || !s->dag) {
        canvas_printf(c, 0, 0, -1, ROLE_DIM, 0, "waiting for data%s", g->ellipsis);
        return;
    }
    const struct dag_layout *l = get_layout(st, s);
    if (!l) {
        canvas_text(c, 0, 0, -1, "out of memory laying out the graph", ROLE_ERROR, 0);
        return;
    }
    int32_t focus = get_focus(st, s, l);
    update_marks(st, s, focus, ctx->now_ms);
    if (!st->up)
        return;
    bool once = ctx->once;
    int vw = c->w, vh = c->h - 1;
    st->page = vh / DAG_ROW_STRIDE;
    if (once) {
        st->vx = st->vy = 0;
    } else if (st->follow) {
        ensure_visible(st, l, focus, vw, vh);
        st->follow = false;
    }
    clamp_view(st, l, vw, vh);

    /* Header: scope, size, critical path, focus. */
    int32_t scope = current_scope(st, s);
    char b1[32];
    int x = canvas_printf(c, 0, 0, -1, ROLE_TITLE, ATTR_BOLD, "scope %s",
                          scope >= 0 ? s->jobs[scope].job_name : "all");
    x += canvas_printf(c, 0, x, -1, ROLE_DIM, 0, "%s%zu jobs%s%d layers%s", g->middot, l->n,
                       g->middot, l->n_cols, g->middot);
    x += canvas_printf(c, 0, x, -1, ROLE_CRITICAL, 0, "critical path %zu jobs %s",
                       st->crit_len, vu_duration(st->crit_total, g, b1, sizeof(b1)));
    if (!once && focus >= 0) {
        size_t nu = 0, nd = 0;
        for (size_t i = 0; i < s->n_jobs; i++) {
            nu += st->up[i];
            nd += st->down[i];
        }
        x += canvas_text(c, 0, x, -1, g->middot, ROLE_DIM, 0);
        x += canvas_text(c, 0, x, 32, s->jobs[focus].job_name, ROLE_ACCENT, ATTR_BOLD);
        canvas_printf(c, 0, x, -1, ROLE_DIM, 0, " %s%s%zu up %zu down",
                      vu_job_word(s, (size_t)focus), g->middot, nu, nd);
    }
    if (l->n == 0) {
        if (vh > 0)
            canvas_text(c, 1, 0, -1, "No jobs yet", ROLE_DIM, 0);
        return;
    }
    if (vh <= 0)
        return;

    /* Edges into the mask. */
    size_t cells = (size_t)vw * (size_t)vh;
    if (st->mask_cap < cells) {
        uint8_t *m = realloc(st->mask, cells), *r = realloc(st->mrole, cells);
        if (m)
            st->mask = m;
        if (r)
            st->mrole = r;
        if (!m || !r)
            return;
        st->mask_cap = cells;
    }
    memset(st->mask, 0, cells);
    memset(st->mrole, 0, cells);
    struct frame f = {st->vx, st->vy, vw, vh, st->mask, st->mrole};
    for (size_t k = 0; k < l->n; k++) {
        int32_t v = l->order[k];
        size_t nd;
        const int32_t *d = dag_deps(s->dag, v, &nd);
        for (size_t e = 0; e < nd; e++) {
            int32_t u = d[e];
            if (l->col_of[u] < 0 || l->col_of[u] >= l->col_of[v])
                continue;
            route_edge(&f, l, u, v, edge_role(st, u, v, focus, once));
        }
    }
    for (int sy = 0; sy < vh; sy++)
        for (int sx = 0; sx < vw; sx++) {
            uint8_t m = st->mask[(size_t)sy * (size_t)vw + (size_t)sx];
            if (!m)
                continue;
            uint8_t r = st->mrole[(size_t)sy * (size_t)vw + (size_t)sx];
            canvas_glyph(c, sy + 1, sx, (m & M_ARROW) ? g->arrow_right : box_char(g, m), r,
                         r == ROLE_BORDER ? 0 : ATTR_BOLD);
        }

    /* Nodes in the visible columns and rows only. */
    for (int32_t col = 0; col < l->n_cols; col++) {
        int cx = l->col_x[col];
        if (cx >= st->vx + vw || cx + l->col_w[col] <= st->vx)
            continue;
        int32_t rows = l->col_start[col + 1] - l->col_start[col];
        int32_t r0 = st->vy / DAG_ROW_STRIDE;
        int32_t r1 = (st->vy + vh) / DAG_ROW_STRIDE + 1;
        for (int32_t r = r0; r < r1 && r < rows; r++) {
            int32_t i = l->order[l->col_start[col] + r];
            int sy = r * DAG_ROW_STRIDE - st->vy;
            if (sy < 0 || sy >= vh)
                continue;
            draw_node(c, g, s, st, l, i, focus, once, cx - st->vx, sy + 1, ctx->now_ms);
        }
    }
}

/* Among cand[0..n) (placed, in column col), the one nearest to row y. */
static int32_t nearest(const struct dag_layout *l, const int32_t *cand, size_t n, int32_t y,
                       bool want_less_col, int32_t col)
{
    int32_t best = -1, bd = 0;
    for (size_t k = 0; k < n; k++) {
        int32_t j = cand[k];
        if (l->col_of[j] < 0)
            continue;
        if (want_less_col ? l->col_of[j] >= col : l->col_of[j] <= col)
            continue;
        int32_t d = abs(l->row_of[j] - y);
        if (best < 0 || d < bd) {
            best = j;
            bd = d;
        }
    }
    return best;
}

static int32_t column_neighbour(const struct dag_layout *l, int32_t col, int32_t row)
{
    if (col < 0 || col >= l->n_cols)
        return -1;
    int32_t rows = l->col_start[col + 1] - l->col_start[col];
    if (rows == 0)
        return -1;
    if (row >= rows)
        row = rows - 1;
    if (row < 0)
        row = 0;
    return l->order[l->col_start[col] + row];
}

static void cycle_scope(struct dag_state *st, const struct snapshot *s)
{
    int32_t cur = current_scope(st, s);
    for (size_t k = (size_t)(cur + 1); k < s->n_jobs; k++)
        if (s->jobs[k].is_group) {
            snprintf(st->scope_id, sizeof(st->scope_id), "%s", s->jobs[k].id);
            st->follow = true;
            return;
        }
    st->scope_id[0] = 0;
    st->follow = true;
}

static enum key_result dag_key(void *state, const struct snapshot *s, const struct view_ctx *ctx,
                               int ch)
{
    struct dag_state *st = state;
    if (!st || !s || !s->dag)
        return KEY_UNHANDLED;
    const struct dag_layout *l = get_layout(st, s);
    if (!l)
        return KEY_UNHANDLED;
    int32_t focus = get_focus(st, s, l);
    int32_t next = -1;
    switch (ch) {
    case KEY_LEFT:
    case KEY_RIGHT: {
        if (focus < 0)
            return KEY_HANDLED;
        bool left = ch == KEY_LEFT;
        size_t n;
        const int32_t *cand = left ? dag_deps(s->dag, focus, &n)
                                   : dag_dependents(s->dag, focus, &n);
        next = nearest(l, cand, n, l->row_of[focus], left, l->col_of[focus]);
        if (next < 0)
            next = column_neighbour(l, l->col_of[focus] + (left ? -1 : 1), l->row_of[focus]);
        break;
    }
    case KEY_UP:
    case KEY_DOWN:
    case KEY_PPAGE:
    case KEY_NPAGE: {
        if (focus < 0)
            return KEY_HANDLED;
        int step = ch == KEY_UP ? -1 : ch == KEY_DOWN ? 1 : ch == KEY_PPAGE ? -st->page
                                                                            : st->page;
        int32_t row = l->row_of[focus] + step;
        if (row < 0)
            row = 0;
        next = column_neighbour(l, l->col_of[focus], row);
        break;
    }
    case 'h':
    case KEY_SLEFT:
        st->vx -= PAN_X;
        return KEY_HANDLED;
    case 'l':
    case KEY_SRIGHT:
        st->vx += PAN_X;
        return KEY_HANDLED;
    case 'k':
    case KEY_SR:
        st->vy -= PAN_Y;
        return KEY_HANDLED;
    case 'j':
    case KEY_SF:
        st->vy += PAN_Y;
        return KEY_HANDLED;
    case 'c':
        st->follow = true;
        return KEY_HANDLED;
    case 'g':
        cycle_scope(st, s);
        return KEY_HANDLED;
    case '\n':
    case '\r':
    case KEY_ENTER:
        if (focus >= 0 && ctx->ui)
            ui_open_view(ctx->ui, "job", s->jobs[focus].id);
        return KEY_HANDLED;
    default:
        return KEY_UNHANDLED;
    }
    if (next >= 0) {
        snprintf(st->focus_id, sizeof(st->focus_id), "%s", s->jobs[next].id);
        st->follow = true;
    }
    return KEY_HANDLED;
}

static const struct key_help dag_help_table[] = {
    {"left/right", "focus an upstream / downstream job (along edges)"},
    {"up/down, PgUp/PgDn", "focus within the layer"},
    {"h/j/k/l, shift-arrows", "pan the view"},
    {"c", "centre on the focused job"},
    {"g", "scope: next group, then all"},
    {"Enter", "open the focused job"},
    {NULL, NULL},
};

static const struct key_help *dag_help(void) { return dag_help_table; }

const struct view_ops view_dag_ops = {
    .name = "dag",
    .title = "DAG",
    .open = dag_open,
    .close = dag_close,
    .model = dag_model,
    .key = dag_key,
    .help = dag_help,
    .set_filter = NULL,
};
