/*
 * view_jobs: the jobs table (DOMAIN §2.3 Jobs page). Rows are recomputed
 * only when the snapshot, the clock second or a setting changes; the
 * selection follows the job id, not the row number, so a refresh that
 * reorders rows keeps the operator's place.
 */
#include "view.h"
#include "viewutil.h"

#include "dag.h"
#include "ui.h"

#include <curses.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum jcol { JC_STATUS = 0, JC_NAME, JC_APP, JC_GROUP, JC_DEPS, JC_STARTED, JC_DURATION, JC_N };

static const char *const col_title[JC_N] = {"STATUS", "NAME",    "APP",     "GROUP",
                                            "DEPS",   "STARTED", "DURATION"};

enum sfilter { SF_ALL = 0, SF_RUNNING, SF_PENDING, SF_FAILED, SF_DONE, SF_BLOCKED };
static const char *const sfilter_word[] = {"all", "running", "pending", "failed", "done",
                                           "blocked"};

struct jobs_state {
    int sort;              /* enum jcol; JC_STATUS is the default order */
    bool invert;
    int sfilter;           /* enum sfilter */
    bool groups;           /* include group rows */
    char filter[256];
    char sel_id[512];
    int sel, top, page;
    int32_t *rows;
    size_t n_rows, cap;
    const struct snapshot *built_for;  /* cache keys: pointer, generation, size, second */
    uint64_t built_gen;
    size_t built_n;
    int64_t built_sec;
    bool dirty;
};

struct sort_ctx {
    const struct snapshot *s;
    int sort;
    bool invert;
    int64_t now;
};

static int default_rank(const struct snapshot *s, size_t i)
{
    switch (s->jobs[i].status) {
    case JOB_RUNNING:
        return 0;
    case JOB_PENDING:
        return 1;
    case JOB_SUCCEEDED:
    case JOB_HEALTHY:
        return 2;
    case JOB_DEGRADED:
        return 1;
    default:
        return 3;
    }
}

static int cmp_i64(int64_t a, int64_t b) { return (a > b) - (a < b); }

static int cmp_default(const struct snapshot *s, int32_t a, int32_t b)
{
    int c = default_rank(s, (size_t)a) - default_rank(s, (size_t)b);
    if (c)
        return c;
    c = cmp_i64(s->jobs[b].started_at, s->jobs[a].started_at); /* newest first */
    if (c)
        return c;
    return strcmp(s->jobs[a].id, s->jobs[b].id);
}

static size_t n_deps(const struct snapshot *s, int32_t i)
{
    size_t n = 0;
    if (s->dag)
        dag_deps(s->dag, i, &n);
    return n ? n : s->jobs[i].n_depends_on;
}

static int cmp_rows(const void *pa, const void *pb, void *vctx)
{
    const struct sort_ctx *x = vctx;
    const struct snapshot *s = x->s;
    int32_t a = *(const int32_t *)pa, b = *(const int32_t *)pb;
    const struct job *ja = &s->jobs[a], *jb = &s->jobs[b];
    int c = 0;
    switch (x->sort) {
    case JC_NAME:
        c = strcmp(vu_job_label(ja), vu_job_label(jb));
        break;
    case JC_APP:
        c = strcmp(ja->app_id, jb->app_id);
        break;
    case JC_GROUP:
        c = strcmp(vu_job_group(s, (size_t)a), vu_job_group(s, (size_t)b));
        break;
    case JC_DEPS:
        c = cmp_i64((int64_t)n_deps(s, a), (int64_t)n_deps(s, b));
        break;
    case JC_STARTED:
        c = cmp_i64(jb->started_at, ja->started_at); /* newest first */
        break;
    case JC_DURATION:
        c = cmp_i64(vu_job_elapsed(jb, x->now), vu_job_elapsed(ja, x->now)); /* longest */
        break;
    default:
        break;
    }
    if (!c)
        c = cmp_default(s, a, b);
    return x->invert ? -c : c;
}

static bool status_match(const struct snapshot *s, size_t i, int sf)
{
    enum job_status st = s->jobs[i].status;
    switch (sf) {
    case SF_RUNNING:
        return st == JOB_RUNNING;
    case SF_PENDING:
        return st == JOB_PENDING;
    case SF_FAILED:
        return st == JOB_FAILED || st == JOB_FAILING;
    case SF_DONE:
        return st == JOB_SUCCEEDED || st == JOB_HEALTHY;
    case SF_BLOCKED:
        return vu_job_blocked(s, i);
    default:
        return true;
    }
}

static bool text_match(const struct snapshot *s, size_t i, const char *f)
{
    const struct job *j = &s->jobs[i];
    if (vu_contains(vu_job_label(j), f) || vu_contains(j->job_name, f) ||
        vu_contains(j->app_id, f) || vu_contains(vu_job_group(s, i), f) ||
        vu_contains(vu_job_word(s, i), f))
        return true;
    for (size_t k = 0; k < j->n_depends_on; k++)
        if (vu_contains(j->depends_on[k], f))
            return true;
    return false;
}

static bool row_visible(const struct jobs_state *st, const struct snapshot *s, size_t i)
{
    if (s->jobs[i].is_group && !st->groups)
        return false;
    if (!status_match(s, i, st->sfilter))
        return false;
    const char *f = st->filter;
    bool invert = f[0] == '!';
    if (invert)
        f++;
    if (!*f)
        return true;
    return text_match(s, i, f) != invert;
}

static void set_sel_id(struct jobs_state *st, const struct snapshot *s)
{
    if (st->n_rows == 0)
        return;
    snprintf(st->sel_id, sizeof(st->sel_id), "%s", s->jobs[st->rows[st->sel]].id);
}

static void build_rows(struct jobs_state *st, const struct snapshot *s, int64_t now)
{
    int64_t sec = now / 1000;
    if (!st->dirty && st->built_for == s && st->built_gen == s->generation &&
        st->built_n == s->n_jobs && st->built_sec == sec)
        return;
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
        if (row_visible(st, s, i))
            st->rows[st->n_rows++] = (int32_t)i;
    struct sort_ctx x = {s, st->sort, st->invert, now};
    if (st->n_rows > 1)
        qsort_r(st->rows, st->n_rows, sizeof(int32_t), cmp_rows, &x);
    st->built_for = s;
    st->built_gen = s->generation;
    st->built_n = s->n_jobs;
    st->built_sec = sec;
    st->dirty = false;
    /* Keep the selected job selected wherever it moved. */
    int found = -1;
    if (st->sel_id[0])
        for (size_t k = 0; k < st->n_rows; k++)
            if (strcmp(s->jobs[st->rows[k]].id, st->sel_id) == 0) {
                found = (int)k;
                break;
            }
    if (found >= 0) {
        st->sel = found;
    } else {
        if (st->sel >= (int)st->n_rows)
            st->sel = (int)st->n_rows - 1;
        if (st->sel < 0)
            st->sel = 0;
        set_sel_id(st, s);
    }
}

static void *jobs_open(const char *arg)
{
    struct jobs_state *st = calloc(1, sizeof(*st));
    if (!st)
        return NULL;
    st->dirty = true;
    if (arg)
        snprintf(st->sel_id, sizeof(st->sel_id), "%s", arg);
    return st;
}

static void jobs_close(void *state)
{
    struct jobs_state *st = state;
    if (!st)
        return;
    free(st->rows);
    free(st);
}

struct layout {
    int x[JC_N], w[JC_N];
    bool on[JC_N];
};

static void plan_columns(int width, struct layout *L)
{
    static const int want[JC_N] = {12, 0, 14, 16, 4, 9, 8};
    /* Columns dropped first when narrow: group, app, deps, started, duration. */
    static const int drop[] = {JC_GROUP, JC_APP, JC_DEPS, JC_STARTED, JC_DURATION};
    for (int k = 0; k < JC_N; k++)
        L->on[k] = true;
    int fixed = 0;
    for (int k = 0; k < JC_N; k++)
        fixed += k == JC_NAME ? 0 : want[k] + 1;
    for (size_t d = 0; d < sizeof(drop) / sizeof(drop[0]) && width - fixed < 16; d++) {
        L->on[drop[d]] = false;
        fixed -= want[drop[d]] + 1;
    }
    int x = 0;
    for (int k = 0; k < JC_N; k++) {
        if (!L->on[k])
            continue;
        L->x[k] = x;
        L->w[k] = k == JC_NAME ? width - fixed : want[k];
        if (L->w[k] < 1)
            L->w[k] = 1;
        x += L->w[k] + 1;
    }
}

static void jobs_model(void *state, const struct snapshot *s, const struct view_ctx *ctx,
                       struct canvas *c)
{
    struct jobs_state *st = state;
    const struct glyphs *g = glyphs_get(ctx->ascii);
    if (!st || c->h < 1 || c->w < 1)
        return;
    if (!s) {
        canvas_printf(c, 0, 0, -1, ROLE_DIM, 0, "waiting for data%s", g->ellipsis);
        return;
    }
    build_rows(st, s, ctx->now_ms);
    struct layout L;
    plan_columns(c->w, &L);
    bool footer = c->h >= 4;
    int body = c->h - 1 - (footer ? 1 : 0);
    if (body < 0)
        body = 0;
    st->page = body;
    for (int k = 0; k < JC_N; k++) {
        if (!L.on[k])
            continue;
        int n = canvas_text(c, 0, L.x[k], L.w[k], col_title[k], ROLE_TITLE, ATTR_BOLD);
        if (k == st->sort && n < L.w[k])
            canvas_glyph(c, 0, L.x[k] + n, st->invert ? g->arrow_up : g->arrow_down,
                         ROLE_ACCENT, ATTR_BOLD);
    }
    if (st->n_rows == 0 && body > 0)
        canvas_text(c, 1, 0, -1, s->n_jobs ? "no jobs match" : "No jobs yet", ROLE_DIM, 0);
    if (ctx->once)
        st->top = 0;
    else
        vu_scroll_to(&st->top, st->sel, body, (int)st->n_rows);
    char buf[64];
    for (int r = 0; r < body && st->top + r < (int)st->n_rows; r++) {
        int y = 1 + r;
        size_t i = (size_t)st->rows[st->top + r];
        const struct job *j = &s->jobs[i];
        enum role sr = vu_job_role(s, i);
        canvas_glyph(c, y, L.x[JC_STATUS], vu_job_glyph(g, s, i), sr, ATTR_BOLD);
        canvas_text(c, y, L.x[JC_STATUS] + 2, L.w[JC_STATUS] - 2, vu_job_word(s, i), sr, 0);
        canvas_text(c, y, L.x[JC_NAME], L.w[JC_NAME], vu_job_label(j),
                    j->is_group ? ROLE_TITLE : ROLE_NORMAL, j->is_group ? ATTR_BOLD : 0);
        if (L.on[JC_APP])
            canvas_text(c, y, L.x[JC_APP], L.w[JC_APP], *j->app_id ? j->app_id : g->dash,
                        ROLE_DIM, 0);
        if (L.on[JC_GROUP]) {
            const char *grp = vu_job_group(s, i);
            canvas_text(c, y, L.x[JC_GROUP], L.w[JC_GROUP], *grp ? grp : g->dash, ROLE_DIM, 0);
        }
        if (L.on[JC_DEPS]) {
            snprintf(buf, sizeof(buf), "%zu", n_deps(s, (int32_t)i));
            canvas_text(c, y, L.x[JC_DEPS], L.w[JC_DEPS], buf, ROLE_NORMAL, 0);
        }
        if (L.on[JC_STARTED])
            canvas_text(c, y, L.x[JC_STARTED], L.w[JC_STARTED],
                        vu_ago(ctx->now_ms, j->started_at, g, buf, sizeof(buf)), ROLE_DIM, 0);
        if (L.on[JC_DURATION])
            canvas_text(c, y, L.x[JC_DURATION], L.w[JC_DURATION],
                        vu_duration(vu_job_elapsed(j, ctx->now_ms), g, buf, sizeof(buf)),
                        ROLE_NORMAL, 0);
        if (!ctx->once && st->top + r == st->sel)
            canvas_style(c, y, 0, c->w, ROLE_SELECTED, ATTR_REVERSE);
    }
    if (footer) {
        char line[512];
        int n = snprintf(line, sizeof(line), "%zu of %zu rows%s%sstatus %s%ssort %s%s",
                         st->n_rows, s->n_jobs, st->groups ? "" : " (leaves)", g->middot,
                         sfilter_word[st->sfilter], g->middot, col_title[st->sort],
                         st->invert ? " inverted" : "");
        if (st->filter[0] && n > 0 && (size_t)n < sizeof(line))
            snprintf(line + n, sizeof(line) - (size_t)n, "%sfilter %s", g->middot, st->filter);
        /* On screen the footer sits on the last line; in --once text it follows the rows. */
        int fy = c->h - 1;
        if (ctx->once && 1 + (int)st->n_rows + 1 < fy)
            fy = 1 + (int)(st->n_rows ? st->n_rows : 1) + 1;
        canvas_text(c, fy, 0, -1, line, ROLE_DIM, 0);
    }
}

static enum key_result jobs_key(void *state, const struct snapshot *s,
                                const struct view_ctx *ctx, int ch)
{
    struct jobs_state *st = state;
    if (!st || !s)
        return KEY_UNHANDLED;
    build_rows(st, s, ctx->now_ms);
    int n = (int)st->n_rows;
    if (vu_nav_key(ch, &st->sel, n, vu_page_step(st->page))) {
        set_sel_id(st, s);
        return KEY_HANDLED;
    }
    switch (ch) {
    case 's':
        st->sort = (st->sort + 1) % JC_N;
        break;
    case 'S':
    case 'i':
        st->invert = !st->invert;
        break;
    case 'a':
        st->sfilter = SF_ALL;
        break;
    case 'r':
        st->sfilter = SF_RUNNING;
        break;
    case 'p':
        st->sfilter = SF_PENDING;
        break;
    case 'f':
        st->sfilter = SF_FAILED;
        break;
    case 'd':
        st->sfilter = SF_DONE;
        break;
    case 'b':
        st->sfilter = SF_BLOCKED;
        break;
    case 't':
        st->groups = !st->groups;
        break;
    case '\n':
    case '\r':
    case KEY_ENTER:
        if (n > 0 && ctx->ui)
            ui_open_view(ctx->ui, "job", s->jobs[st->rows[st->sel]].id);
        return KEY_HANDLED;
    default:
        return KEY_UNHANDLED;
    }
    st->dirty = true;
    return KEY_HANDLED;
}

static void jobs_set_filter(void *state, const char *filter)
{
    struct jobs_state *st = state;
    if (!st)
        return;
    snprintf(st->filter, sizeof(st->filter), "%s", filter ? filter : "");
    st->dirty = true;
}

static const struct key_help jobs_help_table[] = {
    {"j/k, arrows", "move the selection"},
    {"PgUp/PgDn g/G", "page, first, last"},
    {"Enter", "open the job"},
    {"s", "sort by the next column"},
    {"S or i", "invert the sort"},
    {"/", "filter (substring; a leading ! inverts)"},
    {"a r p f d b", "status: all, running, pending, failed, done, blocked"},
    {"t", "show or hide group rows"},
    {NULL, NULL},
};

static const struct key_help *jobs_help(void) { return jobs_help_table; }

const struct view_ops view_jobs_ops = {
    .name = "jobs",
    .title = "Jobs",
    .open = jobs_open,
    .close = jobs_close,
    .model = jobs_model,
    .key = jobs_key,
    .help = jobs_help,
    .set_filter = jobs_set_filter,
};
