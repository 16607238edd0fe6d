/*
 * view_job: one job in detail (DOMAIN §2.3 JobDetail + the execution log
 * viewer): identity and status, upstream and downstream jobs to jump to,
 * executions newest first, and a log pane that tails by default, pauses when
 * the operator scrolls up ("resume tail (F)"), searches with n/N and filters
 * by level. Opening it asks the source to watch the job, which brings its
 * detail and log tail into later snapshots.
 */
#include "view.h"
#include "viewutil.h"

#include "dag.h"
#include "source.h"
#include "ui.h"
#include "util.h"

#include <curses.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum lvfilter { LV_ALL = 0, LV_WARN, LV_ERROR, LV_N };
static const char *const lv_word[LV_N] = {"all levels", ">= WARN", "ERROR only"};

#define EXEC_ROWS 3

struct job_state {
    char arg[512];
    char watched[512];
    int dep_sel;          /* index over upstream then downstream; -1 none */
    bool follow;
    int top, page;
    int level;
    char search[256];
    int match;            /* filtered index of the current match, -1 */
    size_t *idx;          /* filtered line indices into detail.lines */
    size_t n_idx, cap_idx;
};

static void *job_open(const char *arg)
{
    struct job_state *st = calloc(1, sizeof(*st));
    if (!st)
        return NULL;
    snprintf(st->arg, sizeof(st->arg), "%s", arg ? arg : "");
    st->dep_sel = -1;
    st->follow = true;
    st->match = -1;
    return st;
}

static void job_close(void *state)
{
    struct job_state *st = state;
    if (!st)
        return;
    free(st->idx);
    free(st);
}

static bool detail_matches(const struct snapshot *s, const struct job *j)
{
    return s->detail.job_id && strcmp(s->detail.job_id, j->id) == 0;
}

static bool level_ok(int filter, enum log_level l)
{
    if (filter == LV_WARN)
        return l == LOG_WARN || l == LOG_ERROR;
    if (filter == LV_ERROR)
        return l == LOG_ERROR;
    return true;
}

static void filter_lines(struct job_state *st, const struct snapshot *s, bool ok)
{
    st->n_idx = 0;
    if (!ok)
        return;
    const struct job_detail *d = &s->detail;
    if (st->cap_idx < d->n_lines) {
        size_t *p = realloc(st->idx, d->n_lines * sizeof(size_t));
        if (!p)
            return;
        st->idx = p;
        st->cap_idx = d->n_lines;
    }
    for (size_t k = 0; k < d->n_lines; k++)
        if (level_ok(st->level, d->lines[k].level))
            st->idx[st->n_idx++] = k;
}

static bool line_hit(const struct job_state *st, const struct snapshot *s, size_t f)
{
    return st->search[0] && vu_contains(s->detail.lines[st->idx[f]].message, st->search);
}

/* Next (dir 1) or previous (-1) match from `from`, wrapping; -1 when none. */
static int find_match(const struct job_state *st, const struct snapshot *s, int from, int dir)
{
    int n = (int)st->n_idx;
    if (!st->search[0] || n == 0)
        return -1;
    for (int k = 0; k < n; k++) {
        int f = ((from + dir * k) % n + n) % n;
        if (line_hit(st, s, (size_t)f))
            return f;
    }
    return -1;
}

static int32_t resolve(const struct snapshot *s, const struct job_state *st)
{
    return s ? snapshot_find_job(s, st->arg) : -1;
}

static void watch(struct job_state *st, const struct snapshot *s, const struct view_ctx *ctx,
                  int32_t i)
{
    const char *id = i >= 0 ? s->jobs[i].id : st->arg;
    if (!ctx->ui || strcmp(st->watched, id) == 0)
        return;
    struct source *src = ui_source(ctx->ui);
    if (src)
        source_watch_job(src, id);
    snprintf(st->watched, sizeof(st->watched), "%s", id);
}

/* Dependency k of the combined upstream+downstream list. */
static int32_t dep_at(const struct snapshot *s, int32_t i, int k)
{
    size_t nu = 0, nd = 0;
    const int32_t *up = dag_deps(s->dag, i, &nu);
    const int32_t *down = dag_dependents(s->dag, i, &nd);
    if (k < 0)
        return -1;
    if ((size_t)k < nu)
        return up[k];
    if ((size_t)k < nu + nd)
        return down[(size_t)k - nu];
    return -1;
}

static void draw_deps(struct canvas *c, const struct glyphs *g, const struct snapshot *s,
                      const int32_t *list, size_t n, int y, const char *title, int sel_base,
                      int sel)
{
    int x = canvas_printf(c, y, 0, -1, ROLE_TITLE, ATTR_BOLD, "%s (%zu):", title, n);
    x++;
    if (n == 0) {
        canvas_text(c, y, x, -1, "none", ROLE_DIM, 0);
        return;
    }
    size_t first = 0;
    if (sel >= sel_base && sel < sel_base + (int)n && sel - sel_base > 2)
        first = (size_t)(sel - sel_base - 2);
    if (first)
        x += canvas_text(c, y, x, -1, g->ellipsis, ROLE_DIM, 0) + 1;
    for (size_t k = first; k < n && x < c->w; k++) {
        int32_t d = list[k];
        canvas_glyph(c, y, x, vu_job_glyph(g, s, (size_t)d), vu_job_role(s, (size_t)d), 0);
        int w = canvas_text(c, y, x + 2, c->w - x - 2, s->jobs[d].job_name, ROLE_NORMAL, 0);
        if (sel == sel_base + (int)k)
            canvas_style(c, y, x, w + 2, ROLE_SELECTED, ATTR_REVERSE);
        x += w + 4;
    }
}

static void job_model(void *state, const struct snapshot *s, const struct view_ctx *ctx,
                      struct canvas *c)
{
    struct job_state *st = state;
    const struct glyphs *g = glyphs_get(ctx->ascii);
    if (!st || c->h < 1 || c->w < 1)
        return;
    if (!s) {
        canvas_printf(c, 0, 0, -1, ROLE_DIM, 0, "waiting for data%s", g->ellipsis);
        return;
    }
    int32_t i = resolve(s, st);
    watch(st, s, ctx, i);
    if (i < 0) {
        canvas_printf(c, 0, 0, -1, ROLE_ERROR, 0, "job %s not found", st->arg);
        return;
    }
    const struct job *j = &s->jobs[i];
    char b1[64], b2[64], b3[64];
    int y = 0;
    /* Title: mark, name, status in words. */
    enum role r = vu_job_role(s, (size_t)i);
    canvas_glyph(c, y, 0, vu_job_glyph(g, s, (size_t)i), r, ATTR_BOLD);
    int x = 2 + canvas_text(c, y, 2, c->w / 2, vu_job_label(j), ROLE_TITLE, ATTR_BOLD);
    x += 2;
    x += canvas_text(c, y, x, -1, vu_job_word(s, (size_t)i), r, ATTR_BOLD);
    if (vu_job_blocked(s, (size_t)i)) {
        x += canvas_text(c, y, x, -1, " blocked by ", ROLE_BLOCKED, 0);
        canvas_text(c, y, x, -1, s->jobs[s->blocked_by[i]].job_name, ROLE_NORMAL, 0);
    } else if (j->status == JOB_FAILED && !ctx->read_only && !s->source.read_only) {
        canvas_text(c, y, x + 2, -1, "(r retries)", ROLE_ACCENT, 0);
    }
    if (++y >= c->h)
        return;
    const char *grp = vu_job_group(s, (size_t)i);
    canvas_printf(c, y, 0, -1, ROLE_DIM, 0, "id %s%sapp %s%sgroup %s%sstarted %s%sduration %s",
                  j->id, g->middot, *j->app_id ? j->app_id : g->dash, g->middot,
                  *grp ? grp : g->dash, g->middot, vu_ago(ctx->now_ms, j->started_at, g, b1,
                                                          sizeof(b1)),
                  g->middot, vu_duration(vu_job_elapsed(j, ctx->now_ms), g, b2, sizeof(b2)));
    if (++y >= c->h)
        return;

    size_t nu = 0, nd = 0;
    const int32_t *up = dag_deps(s->dag, i, &nu);
    const int32_t *down = dag_dependents(s->dag, i, &nd);
    if (st->dep_sel >= (int)(nu + nd))
        st->dep_sel = (int)(nu + nd) - 1;
    draw_deps(c, g, s, up, nu, y, "Upstream", 0, st->dep_sel);
    if (++y >= c->h)
        return;
    draw_deps(c, g, s, down, nd, y, "Downstream", (int)nu, st->dep_sel);
    if (++y >= c->h)
        return;

    /* Executions, from the watched detail when it is this job's, else the snapshot's. */
    bool ok = detail_matches(s, j);
    const struct execution *ex[EXEC_ROWS + 1];
    size_t nx = 0;
    if (ok) {
        for (size_t k = 0; k < s->detail.n_executions && nx < EXEC_ROWS; k++)
            ex[nx++] = &s->detail.executions[k];
    } else {
        nx = snapshot_job_executions(s, i, ex, EXEC_ROWS);
    }
    size_t total_x = ok ? s->detail.n_executions : nx;
    snprintf(b1, sizeof(b1), "Executions (%zu)", total_x);
    vu_rule(c, g, y, 0, c->w, b1);
    if (++y >= c->h)
        return;
    if (nx == 0) {
        canvas_text(c, y, 2, -1,
                    j->is_group ? "a group has no executions"
                                : "No execution recorded yet",
                    ROLE_DIM, 0);
        y++;
    }
    for (size_t k = 0; k < nx && y < c->h; k++, y++) {
        const struct execution *e = ex[k];
        enum role er = e->status == EXEC_RUNNING     ? ROLE_RUNNING
                       : e->status == EXEC_SUCCEEDED ? ROLE_SUCCEEDED
                                                     : ROLE_FAILED;
        uint32_t eg = e->status == EXEC_RUNNING     ? g->status[JOB_RUNNING]
                      : e->status == EXEC_SUCCEEDED ? g->status[JOB_SUCCEEDED]
                                                    : g->status[JOB_FAILED];
        canvas_glyph(c, y, 2, eg, er, 0);
        int64_t dur = vu_span(e->started_at, e->finished_at ? e->finished_at : ctx->now_ms);
        /* The engine's own reason (a log it could not write) follows, when it recorded one. */
        bool why = e->error && e->error[0];
        canvas_printf(c, y, 4, -1, ROLE_NORMAL, 0, "%.12s  %-9s %s  %8s  %lld lines%s%s", e->id,
                      exec_status_name(e->status), time_format_hms(e->started_at, b2, sizeof(b2)),
                      vu_duration(e->started_at ? dur : -1, g, b3, sizeof(b3)),
                      (long long)e->line_count, why ? g->middot : "", why ? e->error : "");
        canvas_style(c, y, 4 + 14, 9, er, 0);
    }
    if (y >= c->h)
        return;

    /* Log pane. */
    filter_lines(st, s, ok);
    int rows = c->h - y - 1;
    if (rows < 0)
        rows = 0;
    st->page = rows;
    int n = (int)st->n_idx;
    if (st->follow || ctx->once)
        st->top = n - rows;
    if (st->top > n - rows)
        st->top = n - rows;
    if (st->top < 0)
        st->top = 0;
    char title[256];
    if (!ok)
        snprintf(title, sizeof(title), "Log");
    else
        snprintf(title, sizeof(title), "Log %.8s%s%zu of %lld lines%s%s%s%s%s",
                 s->detail.log_execution_id, g->middot, st->n_idx,
                 (long long)s->detail.log_total, g->middot, lv_word[st->level], g->middot,
                 st->follow ? "following" : "paused: resume tail (F)",
                 s->detail.log_finished ? " (finished)" : "");
    vu_rule(c, g, y, 0, c->w, title);
    if (st->search[0]) {
        int nm = 0;
        for (size_t k = 0; k < st->n_idx; k++)
            nm += line_hit(st, s, k);
        canvas_printf(c, y, c->w > 30 ? c->w - 26 : 0, -1, ROLE_ACCENT, 0, " /%.10s: %d hits ",
                      st->search, nm);
    }
    y++;
    if (!ok) {
        canvas_printf(c, y, 2, -1, ROLE_DIM, 0, "loading%s", g->ellipsis);
        return;
    }
    if (n == 0 && rows > 0)
        canvas_text(c, y, 2, -1, s->detail.n_lines ? "no lines at this level" : "no log lines",
                    ROLE_DIM, 0);
    for (int k = 0; k < rows && st->top + k < n; k++) {
        size_t f = (size_t)(st->top + k);
        const struct log_line *ln = &s->detail.lines[st->idx[f]];
        int yy = y + k;
        bool hit = line_hit(st, s, f);
        canvas_printf(c, yy, 0, 7, hit ? ROLE_ACCENT : ROLE_DIM, hit ? ATTR_REVERSE : 0,
                      "%6lld", (long long)ln->line_number);
        canvas_text(c, yy, 7, 13, vu_hms_ms(ln->timestamp, b1, sizeof(b1)), ROLE_DIM, 0);
        canvas_text(c, yy, 20, 5, log_level_name(ln->level), vu_level_role(ln->level),
                    ATTR_BOLD);
        canvas_text(c, yy, 26, -1, ln->message, ROLE_NORMAL, 0);
        if ((int)f == st->match && !ctx->once)
            canvas_style(c, yy, 26, c->w - 26, ROLE_SELECTED, ATTR_REVERSE);
    }
}

static void jump_to_match(struct job_state *st, int m)
{
    if (m < 0)
        return;
    st->match = m;
    st->follow = false;
    if (m < st->top || m >= st->top + st->page)
        st->top = m - st->page / 2;
    if (st->top < 0)
        st->top = 0;
}

static enum key_result job_key(void *state, const struct snapshot *s, const struct view_ctx *ctx,
                               int ch)
{
    struct job_state *st = state;
    if (!st || !s)
        return KEY_UNHANDLED;
    int32_t i = resolve(s, st);
    if (i < 0)
        return KEY_UNHANDLED;
    const struct job *j = &s->jobs[i];
    filter_lines(st, s, detail_matches(s, j));
    int n = (int)st->n_idx;
    int page = vu_page_step(st->page);
    int bottom = n - st->page > 0 ? n - st->page : 0;
    size_t nu = 0, nd = 0;
    dag_deps(s->dag, i, &nu);
    dag_dependents(s->dag, i, &nd);
    int ndeps = (int)(nu + nd);
    switch (ch) {
    case 'k':
    case KEY_UP:
        st->follow = false;
        if (st->top > 0)
            st->top--;
        return KEY_HANDLED;
    case 'j':
    case KEY_DOWN:
        if (st->top < bottom)
            st->top++;
        st->follow = st->top >= bottom;
        return KEY_HANDLED;
    case KEY_PPAGE:
        st->follow = false;
        st->top = st->top > page ? st->top - page : 0;
        return KEY_HANDLED;
    case KEY_NPAGE:
        st->top = st->top + page < bottom ? st->top + page : bottom;
        st->follow = st->top >= bottom;
        return KEY_HANDLED;
    case 'g':
    case KEY_HOME:
        st->follow = false;
        st->top = 0;
        return KEY_HANDLED;
    case 'G':
    case 'F':
    case KEY_END:
        st->follow = true;
        return KEY_HANDLED;
    case 'L':
        st->level = (st->level + 1) % LV_N;
        st->match = -1;
        return KEY_HANDLED;
    case 'n':
    case 'N':
        if (!st->search[0]) {
            if (ctx->ui)
                ui_message(ctx->ui, "no search: / to search the log");
            return KEY_HANDLED;
        }
        {
            int from = st->match >= 0 ? st->match + (ch == 'n' ? 1 : -1)
                                      : (ch == 'n' ? st->top : st->top + st->page - 1);
            int m = find_match(st, s, from, ch == 'n' ? 1 : -1);
            if (m < 0 && ctx->ui)
                ui_message(ctx->ui, "not found: %s", st->search);
            jump_to_match(st, m);
        }
        return KEY_HANDLED;
    case 'u':
    case 'U':
        if (ndeps == 0)
            return KEY_HANDLED;
        if (st->dep_sel < 0)
            st->dep_sel = ch == 'u' ? 0 : ndeps - 1;
        else
            st->dep_sel = (st->dep_sel + (ch == 'u' ? 1 : ndeps - 1)) % ndeps;
        return KEY_HANDLED;
    case '\n':
    case '\r':
    case KEY_ENTER: {
        int32_t d = dep_at(s, i, st->dep_sel);
        if (d >= 0 && ctx->ui)
            ui_open_view(ctx->ui, "job", s->jobs[d].id);
        return KEY_HANDLED;
    }
    case 'r':
        if (!ctx->ui)
            return KEY_HANDLED;
        if (ctx->read_only || s->source.read_only)
            ui_message(ctx->ui, "read-only: retry is disabled");
        else if (j->status != JOB_FAILED || j->is_group)
            ui_message(ctx->ui, "only a failed job can be retried");
        else if (vu_job_blocked(s, (size_t)i))
            ui_message(ctx->ui, "blocked by %s: retry that job first",
                       s->jobs[s->blocked_by[i]].job_name);
        else
            ui_request_retry(ctx->ui, j->id);
        return KEY_HANDLED;
    default:
        return KEY_UNHANDLED;
    }
}

static void job_set_filter(void *state, const char *filter)
{
    struct job_state *st = state;
    if (!st)
        return;
    snprintf(st->search, sizeof(st->search), "%s", filter ? filter : "");
    st->match = -1;
    if (st->search[0])
        st->follow = false;
}

static const struct key_help job_help_table[] = {
    {"j/k, PgUp/PgDn", "scroll the log (scrolling up pauses the tail)"},
    {"F or G", "resume tail (follow)"},
    {"g", "top of the log"},
    {"/", "search the log"},
    {"n/N", "next / previous match"},
    {"L", "level filter: all, >= WARN, ERROR"},
    {"u/U", "select the next / previous upstream or downstream job"},
    {"Enter", "open the selected job"},
    {"r", "retry a failed job (asks for confirmation)"},
    {NULL, NULL},
};

static const struct key_help *job_help(void) { return job_help_table; }

const struct view_ops view_job_ops = {
    .name = "job",
    .title = "Job",
    .open = job_open,
    .close = job_close,
    .model = job_model,
    .key = job_key,
    .help = job_help,
    .set_filter = job_set_filter,
};
