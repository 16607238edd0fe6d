/*
 * view_timeline: Gantt bars (DOMAIN §5). One row per leaf job, from start to
 * finish (running bars grow to now), pending jobs as a stippled placeholder
 * at the right edge of the axis; the axis runs from the earliest start to
 * the latest end with "nice" ticks; +/- zoom, 0 fits the whole run again.
 *
 * Zoom stays between TL_MIN_MPC ms a column and the whole run in 1/TL_ZOOM_OUT
 * of the bar area, the scroll within the run; time sums saturate and every
 * loop over ticks or columns is bounded by the bar width, so no snapshot
 * (years apart, INT64 extremes) and no key sequence can spin the UI thread.
 */
#include "view.h"
#include "viewutil.h"

#include "util.h"

#include <curses.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TICK_MIN_COLS 8
/* Zoom-in floor, ms a column (or the fit, when finer): the finest tick (1 s) is then
 * 10 columns apart. */
#define TL_MIN_MPC 100
/* Zoom-out ceiling: the whole run fills at least 1/TL_ZOOM_OUT of the bar area. */
#define TL_ZOOM_OUT 4

struct tl_state {
    int64_t zoom;        /* ms per column; 0 = fit */
    int64_t last_mpc;    /* what the last frame used */
    int64_t min_mpc;     /* the last frame's zoom-in floor (0: no frame yet) */
    int64_t max_mpc;     /* the last frame's zoom-out ceiling (0: no frame yet) */
    int hx;              /* horizontal scroll, columns */
    int max_hx;          /* the last frame's scroll limit */
    int top, page, bar_w;
    int32_t *rows;
    size_t n_rows, cap;
};

static void *tl_open(const char *arg)
{
    (void)arg;
    return calloc(1, sizeof(struct tl_state));
}

static void tl_close(void *state)
{
    struct tl_state *st = state;
    if (!st)
        return;
    free(st->rows);
    free(st);
}

static int cmp_start(const void *pa, const void *pb, void *ctx)
{
    const struct snapshot *s = ctx;
    const struct job *a = &s->jobs[*(const int32_t *)pa], *b = &s->jobs[*(const int32_t *)pb];
    bool sa = a->started_at > 0, sb = b->started_at > 0;
    if (sa != sb)
        return sa ? -1 : 1;
    if (a->started_at != b->started_at)
        return a->started_at < b->started_at ? -1 : 1;
    int32_t x = *(const int32_t *)pa, y = *(const int32_t *)pb;
    return (x > y) - (x < y);
}

/* Where a job's bar ends: now while running, else its finish (or start + duration). */
static int64_t bar_end(const struct job *j, int64_t now)
{
    if (j->status == JOB_RUNNING)
        return now;
    if (j->finished_at > 0)
        return j->finished_at;
    return vu_sat_add(j->started_at, j->duration_ms > 0 ? j->duration_ms : 0);
}

static void build_rows(struct tl_state *st, const struct snapshot *s)
{
    if (st->cap < s->n_jobs) {
        int32_t *r = realloc(st->rows, s->n_jobs * sizeof(int32_t));
        if (!r) {
            st->n_rows = 0;
            return;
        }
        st->rows = r;
        st->cap = s->n_jobs;
    }
    st->n_rows = 0;
    for (size_t i = 0; i < s->n_jobs; i++)
        if (!s->jobs[i].is_group)
            st->rows[st->n_rows++] = (int32_t)i;
    if (st->n_rows > 1)
        qsort_r(st->rows, st->n_rows, sizeof(int32_t), cmp_start, (void *)(uintptr_t)s);
}

/* Compact relative label: "0", "30s", "5m", "1h", "1h30m". */
static char *tick_label(int64_t ms, char *buf, size_t n)
{
    int64_t s = ms / 1000;
    if (s == 0)
        snprintf(buf, n, "0");
    else if (s % 3600 == 0)
        snprintf(buf, n, "%lldh", (long long)(s / 3600));
    else if (s >= 3600)
        snprintf(buf, n, "%lldh%02lldm", (long long)(s / 3600), (long long)(s % 3600 / 60));
    else if (s % 60 == 0)
        snprintf(buf, n, "%lldm", (long long)(s / 60));
    else if (s >= 60)
        snprintf(buf, n, "%lldm%02llds", (long long)(s / 60), (long long)(s % 60));
    else
        snprintf(buf, n, "%llds", (long long)s);
    return buf;
}

static void tl_model(void *state, const struct snapshot *s, const struct view_ctx *ctx,
                     struct canvas *c)
{
    struct tl_state *st = state;
    const struct glyphs *g = glyphs_get(ctx->ascii);
    if (!st || c->h < 1 || c->w < 1)
        return;
    if (!s) {
        canvas_printf(c, 0, 0, -1, ROLE_DIM, 0, "waiting for data%s", g->ellipsis);
        return;
    }
    build_rows(st, s);
    if (st->n_rows == 0) {
        canvas_text(c, 0, 0, -1, "No jobs yet", ROLE_DIM, 0);
        return;
    }
    int64_t t0 = 0, t1 = 0;
    int label_w = 8;
    for (size_t k = 0; k < st->n_rows; k++) {
        const struct job *j = &s->jobs[st->rows[k]];
        int len = (int)strlen(vu_job_label(j));
        if (len > label_w)
            label_w = len;
        if (j->started_at <= 0)
            continue;
        if (!t0 || j->started_at < t0)
            t0 = j->started_at;
        int64_t end = bar_end(j, ctx->now_ms);
        if (end > t1)
            t1 = end;
    }
    int max_label = c->w / 3 < 32 ? c->w / 3 : 32;
    if (label_w > max_label)
        label_w = max_label;
    if (label_w < 1)
        label_w = 1;
    int bx = label_w + 1;
    int bw = c->w - bx;
    st->bar_w = bw;
    if (bw < 2 || c->h < 3) {
        canvas_text(c, 0, 0, -1, "too small for the timeline", ROLE_DIM, 0);
        return;
    }
    char b1[32], b2[32], b3[32], b4[32];
    if (!t0) {
        canvas_text(c, 0, 0, -1, "nothing has started yet", ROLE_DIM, 0);
        t0 = t1 = ctx->now_ms;
    }
    if (t1 < t0)
        t1 = t0;
    int64_t span = vu_span(t0, t1) > 1000 ? vu_span(t0, t1) : 1000;
    int64_t fit = span / bw + (span % bw != 0);
    st->max_mpc = fit > INT64_MAX / TL_ZOOM_OUT ? INT64_MAX / TL_ZOOM_OUT : fit * TL_ZOOM_OUT;
    st->min_mpc = fit < TL_MIN_MPC ? fit : TL_MIN_MPC;
    if (st->zoom > st->max_mpc)
        st->zoom = st->max_mpc;
    else if (st->zoom > 0 && st->zoom < st->min_mpc)
        st->zoom = st->min_mpc;
    int64_t mpc = st->zoom > 0 ? st->zoom : fit;
    if (mpc < 1)
        mpc = 1;
    st->last_mpc = mpc;
    int64_t tick = vu_nice_tick(mpc, TICK_MIN_COLS);
    /* Scroll no further than the end of the run at the right edge. */
    int64_t run_cols = span / mpc;
    int64_t max_hx = run_cols > bw - 1 ? run_cols - (bw - 1) : 0;
    st->max_hx = max_hx > INT_MAX / 2 ? INT_MAX / 2 : (int)max_hx;
    if (ctx->once || st->hx < 0)
        st->hx = 0;
    if (st->hx > st->max_hx)
        st->hx = st->max_hx;

    /* Row 0: range and scale; row 1: the axis with tick labels above the marks. */
    canvas_printf(c, 0, 0, -1, ROLE_DIM, 0, "%s %s %s%stick %s%s%s per column",
                  time_format_hms(t0, b1, sizeof(b1)), g->dash,
                  time_format_hms(t1, b2, sizeof(b2)), g->middot, tick_label(tick, b3, sizeof(b3)),
                  g->middot, mpc >= 1000 ? tick_label(mpc - mpc % 1000, b4, sizeof(b4)) : "<1s");
    for (int x = 0; x < bw; x++)
        canvas_glyph(c, 2, bx + x, g->hline, ROLE_BORDER, 0);
    /* hx <= span / mpc, so hx * mpc <= span; a tick is >= TICK_MIN_COLS columns wide. */
    int64_t t = (int64_t)st->hx * mpc / tick * tick;
    for (int k = 0; k <= bw; k++) {
        if (k > 0 && __builtin_add_overflow(t, tick, &t))
            break;
        int64_t col = t / mpc - st->hx;
        if (col >= bw)
            break;
        if (col < 0)
            continue;
        canvas_glyph(c, 2, bx + (int)col, g->ttee, ROLE_BORDER, 0);
        canvas_text(c, 1, bx + (int)col, bw - (int)col, tick_label(t, b1, sizeof(b1)), ROLE_DIM,
                    0);
    }
    canvas_text(c, 1, 0, label_w, "job", ROLE_TITLE, ATTR_BOLD);

    int rows = c->h - 3;
    st->page = rows;
    int n = (int)st->n_rows;
    if (ctx->once)
        st->top = 0;
    if (st->top > n - rows)
        st->top = n - rows;
    if (st->top < 0)
        st->top = 0;
    int64_t end_col = span / mpc - st->hx;
    for (int r = 0; r < rows && st->top + r < n; r++) {
        int y = 3 + r;
        size_t i = (size_t)st->rows[st->top + r];
        const struct job *j = &s->jobs[i];
        enum role role = vu_job_role(s, i);
        canvas_text(c, y, 0, label_w, vu_job_label(j), ROLE_NORMAL, 0);
        if (j->started_at <= 0) {
            /* Pending: a stippled placeholder at the right edge of the axis. */
            int64_t pc = end_col < bw - 3 ? end_col : bw - 3;
            if (pc < 0)
                pc = 0;
            for (int k = 0; k < 3 && pc + k < bw; k++)
                canvas_glyph(c, y, bx + (int)pc + k, g->shade,
                             vu_job_blocked(s, i) ? ROLE_BLOCKED : ROLE_PENDING, 0);
            const char *word = vu_job_word(s, i);
            int wl = (int)strlen(word);
            if (pc - 1 - wl >= 0)
                canvas_text(c, y, bx + (int)pc - 1 - wl, wl, word, role, 0);
            continue;
        }
        int64_t end = bar_end(j, ctx->now_ms);
        int64_t c0 = vu_span(t0, j->started_at) / mpc - st->hx;
        int64_t c1 = vu_span(t0, end) / mpc - st->hx;
        if (c1 <= c0)
            c1 = c0 < INT64_MAX ? c0 + 1 : c0;
        for (int64_t x = c0 < 0 ? 0 : c0; x < c1 && x < bw; x++)
            canvas_glyph(c, y, bx + (int)x, g->gauge_full, role, 0);
        if (c1 < bw) {
            int64_t x = c1 + 1 > 0 ? c1 + 1 : 0;
            snprintf(b1, sizeof(b1), "%s %s", vu_duration(vu_job_elapsed(j, ctx->now_ms), g,
                                                          b2, sizeof(b2)),
                     j->status == JOB_SUCCEEDED ? "" : vu_job_word(s, i));
            canvas_text(c, y, bx + (int)x, bw - (int)x, b1, role, 0);
        }
    }
}

static enum key_result tl_key(void *state, const struct snapshot *s, const struct view_ctx *ctx,
                              int ch)
{
    struct tl_state *st = state;
    (void)ctx;
    if (!st || !s)
        return KEY_UNHANDLED;
    int step = st->bar_w > 8 ? st->bar_w / 4 : 2;
    switch (ch) {
    case '+': {
        /* Never coarser than now: a run shorter than the floor stays at its fit. */
        int64_t z = st->zoom > 0 ? st->zoom : st->last_mpc;
        int64_t floor = st->min_mpc > 0 ? st->min_mpc : TL_MIN_MPC;
        st->zoom = z / 2 >= floor ? z / 2 : z < floor ? z : floor;
        return KEY_HANDLED;
    }
    case '-': {
        /* The ceiling is the last frame's; the next frame re-checks it against new data. */
        int64_t z = st->zoom > 0 ? st->zoom : st->last_mpc;
        int64_t cap = st->max_mpc > 0 ? st->max_mpc : INT64_MAX / TL_ZOOM_OUT;
        st->zoom = z > cap / 2 ? cap : z * 2; /* 0 before any frame: still "fit" */
        return KEY_HANDLED;
    }
    case '0':
    case '=':
        st->zoom = 0;
        st->hx = 0;
        return KEY_HANDLED;
    case 'h':
    case KEY_LEFT:
        st->hx = st->hx > step ? st->hx - step : 0;
        return KEY_HANDLED;
    case 'l':
    case KEY_RIGHT:
        st->hx = st->hx < st->max_hx - step ? st->hx + step : st->max_hx;
        return KEY_HANDLED;
    default:
        break;
    }
    build_rows(st, s);
    return vu_scroll_key(ch, &st->top, (int)st->n_rows, st->page) ? KEY_HANDLED
                                                                  : KEY_UNHANDLED;
}

static const struct key_help tl_help_table[] = {
    {"+ / -", "zoom in / out"},
    {"0", "fit the whole run"},
    {"h/l, left/right", "scroll in time"},
    {"j/k, PgUp/PgDn", "scroll the rows"},
    {NULL, NULL},
};

static const struct key_help *tl_help(void) { return tl_help_table; }

const struct view_ops view_timeline_ops = {
    .name = "timeline",
    .title = "Timeline",
    .open = tl_open,
    .close = tl_close,
    .model = tl_model,
    .key = tl_key,
    .help = tl_help,
    .set_filter = NULL,
};
