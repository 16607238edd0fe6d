/*
 * Time arithmetic at the edges: the timeline at extreme zooms and spans (it
 * must terminate with bounded rows), saturating helpers and formatting of
 * absurd durations and instants. Run under UBSan by `make check`, where any
 * signed overflow left would abort the test.
 */
#include "helpers/fixture.h"

#include "arena.h"
#include "canvas.h"
#include "util.h"
#include "view.h"
#include "viewutil.h"

#include <criterion/criterion.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>

static void setup(void) { setlocale(LC_ALL, "C.UTF-8"); }

TestSuite(timeguard, .init = setup, .timeout = 20);

struct rig {
    const struct view_ops *v;
    void *st;
    struct canvas *c;
    struct view_ctx ctx;
};

static struct rig rig_open(const char *name, const char *arg, int w, int h, int64_t now)
{
    struct rig r = {0};
    r.v = view_by_name(name);
    cr_assert_not_null(r.v, "view %s", name);
    r.st = r.v->open(arg);
    cr_assert_not_null(r.st);
    r.c = canvas_new(w, h, false);
    cr_assert_not_null(r.c);
    r.ctx.now_ms = now;
    return r;
}

static void rig_draw(struct rig *r, const struct snapshot *s)
{
    canvas_clear(r->c);
    r->v->model(r->st, s, &r->ctx, r->c);
}

static void rig_keys(struct rig *r, const struct snapshot *s, int ch, int times)
{
    for (int k = 0; k < times; k++)
        r->v->key(r->st, s, &r->ctx, ch);
}

static void rig_close(struct rig *r)
{
    r->v->close(r->st);
    canvas_free(r->c);
}

static const char *row(const struct canvas *c, int y)
{
    static char buf[8192];
    canvas_row_text(c, y, buf, sizeof(buf));
    return buf;
}

static int count_rows(const struct canvas *c, const char *needle)
{
    int n = 0;
    for (int y = 0; y < c->h; y++)
        n += strstr(row(c, y), needle) != NULL;
    return n;
}

/* Cells holding ch on row y. */
static int count_cells(const struct canvas *c, int y, uint32_t ch)
{
    int n = 0;
    for (int x = 0; x < c->w; x++)
        n += canvas_at(c, y, x)->ch == ch;
    return n;
}

/* First column of the bar area: where the axis line (row 2) starts. */
static int bar_x(const struct canvas *c)
{
    for (int x = 0; x < c->w; x++)
        if (canvas_at(c, 2, x)->ch != ' ')
            return x;
    return c->w;
}

/* Rightmost column holding a bar cell, below the axis. */
static int last_bar_col(const struct canvas *c)
{
    int last = -1;
    for (int y = 3; y < c->h; y++)
        for (int x = 0; x < c->w; x++)
            if (canvas_at(c, y, x)->ch == 0x2588 && x > last)
                last = x;
    return last;
}

struct span_job {
    const char *name;
    enum job_status status;
    int64_t started_at, finished_at, duration_ms;
};

/* A finalized snapshot of flat leaf jobs with the given (unchecked) times. */
static struct snapshot *snap_of(const struct span_job *jobs, size_t n)
{
    struct snapshot *s = snapshot_new();
    cr_assert_not_null(s);
    struct arena *a = snapshot_arena(s);
    s->generation = 1;
    s->source.mode = "standalone";
    s->sovereign_name = "edge";
    s->provider = "";
    s->jobs = arena_calloc(a, n, sizeof(struct job));
    cr_assert_not_null(s->jobs);
    for (size_t i = 0; i < n; i++) {
        struct job *j = &s->jobs[i];
        j->id = arena_printf(a, "dep:%s", jobs[i].name);
        j->deployment_id = "dep";
        j->job_name = jobs[i].name;
        j->display_name = "";
        j->app_id = "";
        j->region = "";
        j->parent_id = "";
        j->latest_execution_id = "";
        j->kind = KIND_INSTALL;
        j->status = jobs[i].status;
        j->started_at = jobs[i].started_at;
        j->finished_at = jobs[i].finished_at;
        j->duration_ms = jobs[i].duration_ms;
        s->n_jobs++;
    }
    s->deployment.id = "dep";
    s->deployment.status = "running";
    cr_assert_eq(snapshot_finalize(s), 0);
    return s;
}

/* The bug report's sequence: zoom out 60 times, then scroll right. */
Test(timeguard, timeline_zoom_out_is_bounded)
{
    struct snapshot *s = fixture_demo();
    struct rig r = rig_open("timeline", NULL, 120, 40, FIXTURE_NOW);
    rig_draw(&r, s);
    int bx = bar_x(r.c), bw = r.c->w - bx;
    cr_assert_geq(last_bar_col(r.c) - bx, bw - 2, "fit: the run fills the bar area");

    rig_keys(&r, s, '-', 60);
    rig_keys(&r, s, 'l', 1);
    rig_draw(&r, s);
    char at_ceiling[512];
    snprintf(at_ceiling, sizeof(at_ceiling), "%.500s", row(r.c, 0));
    cr_assert(strstr(at_ceiling, "per column"), "%s", at_ceiling);
    /* Past the ceiling more '-' changes nothing. */
    rig_keys(&r, s, '-', 500);
    rig_draw(&r, s);
    cr_assert_str_eq(row(r.c, 0), at_ceiling);
    /* The whole run still fills about a quarter of the bar area (TL_ZOOM_OUT 4). */
    cr_assert_eq(bar_x(r.c), bx);
    int end = last_bar_col(r.c) - bx;
    cr_assert_geq(end, bw / 4 - 2, "run ends at column %d of %d", end, bw);
    cr_assert_leq(end, bw / 4 + 1, "run ends at column %d of %d", end, bw);
    cr_assert_eq(count_rows(r.c, "tofu-apply"), 1);
    /* The run fits: nothing to scroll to, the axis still starts at 0. */
    cr_assert_eq(row(r.c, 1)[bx], '0', "%s", row(r.c, 1));
    rig_close(&r);
    snapshot_release(s);
}

Test(timeguard, timeline_zoom_in_is_bounded)
{
    struct snapshot *s = fixture_demo();
    struct rig r = rig_open("timeline", NULL, 120, 40, FIXTURE_NOW);
    rig_draw(&r, s);
    rig_keys(&r, s, '+', 200);
    rig_draw(&r, s);
    cr_assert(strstr(row(r.c, 0), "<1s per column"), "%s", row(r.c, 0));
    char floor_row[512];
    snprintf(floor_row, sizeof(floor_row), "%.500s", row(r.c, 0));
    rig_keys(&r, s, '+', 50);
    rig_draw(&r, s);
    cr_assert_str_eq(row(r.c, 0), floor_row, "the zoom-in floor holds");
    /* Scrolling as far as it goes lands at the end of the run, not beyond it. */
    rig_keys(&r, s, 'l', 100000);
    rig_draw(&r, s);
    cr_assert(strstr(row(r.c, 1), "1h49m"), "axis at the run's end: %s", row(r.c, 1));
    cr_assert_null(strstr(row(r.c, 1), "1h51m"), "%s", row(r.c, 1));
    rig_keys(&r, s, '0', 1);
    rig_draw(&r, s);
    cr_assert(strstr(row(r.c, 0), "08:00:00"), "%s", row(r.c, 0));
    rig_close(&r);
    snapshot_release(s);
}

/* A run shorter than the zoom-in floor: '+' never makes the scale coarser than the fit. */
Test(timeguard, timeline_short_run_zoom_in_keeps_fit)
{
    const struct span_job jobs[] = {
        {"short", JOB_SUCCEEDED, FIXTURE_T0, FIXTURE_T0 + 5000, 5000},
    };
    struct snapshot *s = snap_of(jobs, 1);
    struct rig r = rig_open("timeline", NULL, 120, 20, FIXTURE_NOW);
    rig_draw(&r, s);
    int fit = count_cells(r.c, 3, 0x2588);
    cr_assert_gt(fit, 60, "the 5 s bar fills the bar area at fit: %d", fit);
    rig_keys(&r, s, '+', 3);
    rig_draw(&r, s);
    cr_assert_eq(count_cells(r.c, 3, 0x2588), fit, "%s", row(r.c, 3));
    rig_keys(&r, s, '-', 1);
    rig_draw(&r, s);
    cr_assert_lt(count_cells(r.c, 3, 0x2588), fit, "'-' still zooms out: %s", row(r.c, 3));
    rig_close(&r);
    snapshot_release(s);
}

/* Data no wire frame can carry any more (disk, clocks): the model must still end. */
Test(timeguard, timeline_extreme_spans_terminate)
{
    const struct span_job jobs[] = {
        {"first", JOB_SUCCEEDED, 1, INT64_MAX, 0},
        {"forever", JOB_SUCCEEDED, 2, 0, INT64_MAX},
        {"late", JOB_RUNNING, INT64_MAX - 5, 0, 0},
        {"backwards", JOB_FAILED, INT64_MAX, 1, -5},
        {"waiting", JOB_PENDING, 0, 0, 0},
    };
    size_t n = sizeof(jobs) / sizeof(jobs[0]);
    struct snapshot *s = snap_of(jobs, n);
    const int64_t nows[] = {INT64_MAX, 1, INT64_MIN, FIXTURE_NOW};
    for (size_t k = 0; k < sizeof(nows) / sizeof(nows[0]); k++) {
        struct rig r = rig_open("timeline", NULL, 100, 30, nows[k]);
        rig_draw(&r, s);
        rig_keys(&r, s, '-', 70);
        rig_keys(&r, s, 'l', 40);
        rig_draw(&r, s);
        rig_keys(&r, s, '+', 90);
        rig_keys(&r, s, 'l', 40);
        rig_draw(&r, s);
        /* Every job on exactly one row; nothing beyond the canvas. */
        for (size_t i = 0; i < n; i++)
            cr_assert_eq(count_rows(r.c, jobs[i].name), 1, "%s at now %zu", jobs[i].name, k);
        rig_keys(&r, s, 'h', 40);
        rig_keys(&r, s, '0', 1);
        rig_draw(&r, s);
        cr_assert(strstr(row(r.c, 0), "per column"), "%s", row(r.c, 0));
        rig_close(&r);
    }
    snapshot_release(s);
}

/* Every view over the same absurd snapshot: each frame ends (UBSan checks the sums). */
Test(timeguard, every_view_survives_extreme_times)
{
    const struct span_job jobs[] = {
        {"first", JOB_SUCCEEDED, 1, INT64_MAX, 0},
        {"forever", JOB_SUCCEEDED, 2, 0, INT64_MAX},
        {"late", JOB_RUNNING, INT64_MAX - 5, 0, 0},
        {"waiting", JOB_PENDING, 0, 0, 0},
    };
    struct snapshot *s = snap_of(jobs, sizeof(jobs) / sizeof(jobs[0]));
    static const char *const names[] = {"dashboard", "jobs", "dag", "timeline", "tree",
                                        "cutover"};
    for (size_t v = 0; v < sizeof(names) / sizeof(names[0]); v++) {
        struct rig r = rig_open(names[v], NULL, 120, 40, INT64_MIN);
        rig_draw(&r, s);
        r.ctx.now_ms = INT64_MAX;
        rig_draw(&r, s);
        rig_close(&r);
    }
    struct rig r = rig_open("job", "dep:first", 120, 40, INT64_MAX);
    rig_draw(&r, s);
    cr_assert_eq(count_rows(r.c, ">999999h"), 1, "the duration is capped");
    rig_close(&r);
    snapshot_release(s);
}

Test(timeguard, saturating_helpers)
{
    cr_assert_eq(vu_sat_add(INT64_MAX, 1), INT64_MAX);
    cr_assert_eq(vu_sat_add(INT64_MIN, -1), INT64_MIN);
    cr_assert_eq(vu_sat_add(40, 2), 42);
    cr_assert_eq(vu_span(INT64_MIN, INT64_MAX), INT64_MAX);
    cr_assert_eq(vu_span(INT64_MAX, INT64_MIN), INT64_MIN);
    cr_assert_eq(vu_span(10, 52), 42);
    int64_t t = vu_nice_tick(INT64_MAX, 8);
    cr_assert_gt(t, 0);
    cr_assert_eq(t % 3600000, 0);
    cr_assert_eq(vu_nice_tick(INT64_MAX / 8, 8), t);
}

Test(timeguard, formatting_absurd_values)
{
    const struct glyphs *g = glyphs_get(true);
    char b[64];
    cr_assert_str_eq(duration_format(INT64_MAX, b, sizeof(b)), ">999999h");
    cr_assert_str_eq(duration_format(INT64_C(999999) * 3600000, b, sizeof(b)), "999999h 0m");
    cr_assert_str_eq(duration_format(INT64_MIN, b, sizeof(b)), "-");
    cr_assert_str_eq(vu_duration(INT64_MIN, g, b, sizeof(b)), "-");
    /* Year 292277026596: longer than the documented 32 bytes, cut, never overrun. */
    char small[32];
    cr_assert_lt(strlen(time_format(INT64_MAX, small, sizeof(small))), sizeof(small));
    cr_assert(strncmp(small, "292278994-", 10) == 0, "%s", small);
    cr_assert_lt(strlen(time_format(INT64_MIN, small, sizeof(small))), sizeof(small));
    cr_assert_str_eq(time_format(-1, b, sizeof(b)), "1969-12-31T23:59:59.999Z");
    cr_assert_str_eq(time_format_hms(INT64_MAX, b, sizeof(b)), "07:12:55");
    cr_assert_str_eq(vu_ago(INT64_MAX, 1, g, b, sizeof(b)), "106751991167d ago");
    cr_assert_str_eq(vu_ago(INT64_MIN, INT64_MAX, g, b, sizeof(b)), "in 106751991167d");
    cr_assert_str_eq(vu_countdown(INT64_MAX, b, sizeof(b)), "2562047788015:12:56");
    cr_assert_str_eq(vu_countdown(INT64_MIN, b, sizeof(b)), "00:00");
    struct canvas *c = canvas_new(10, 1, true);
    cr_assert_not_null(c);
    vu_gauge(c, g, 0, 0, 10, INT64_MAX, 1, ROLE_RUNNING);
    cr_assert_eq(count_cells(c, 0, g->gauge_full), 10);
    canvas_clear(c);
    vu_gauge(c, g, 0, 0, 10, INT64_MAX / 2, INT64_MAX, ROLE_RUNNING);
    cr_assert_eq(count_cells(c, 0, g->gauge_full), 5);
    canvas_free(c);
}
