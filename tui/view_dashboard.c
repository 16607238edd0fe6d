/*
 * view_dashboard: the Sovereign at a glance (DOMAIN §3.1, §2.1): lifecycle
 * strip, a gauge per lifecycle group with an ETA from the completion rate,
 * the sovereignty card, failed and blocked jobs, and the newest log lines.
 * Sections are dropped from the bottom up when the terminal is short.
 */
#include "view.h"
#include "viewutil.h"

#include "ui.h"
#include "util.h"

#include <curses.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_LIFE 5

static const char *const life_name[N_LIFE] = {"provisioner", "bootstrap-kit", "apps", "handover",
                                             "cutover"};
static const char *const life_label[N_LIFE] = {"Provisioner", "Bootstrap", "Apps", "Handover",
                                              "Cutover"};

struct life {
    int32_t group;     /* first matching group job, -1 */
    int total, done, running, failed, blocked, pending;
    int64_t first_start, last_finish;
};

struct dash_state {
    int problems_top;
};

static void *dash_open(const char *arg)
{
    (void)arg;
    return calloc(1, sizeof(struct dash_state));
}

static void dash_close(void *state) { free(state); }

/* Which lifecycle group a group's jobName names ("apps", or "<region>:apps"). */
static int life_index(const char *job_name)
{
    const char *base = strrchr(job_name, ':');
    base = base ? base + 1 : job_name;
    for (int k = 0; k < N_LIFE; k++)
        if (strcmp(base, life_name[k]) == 0)
            return k;
    return -1;
}

static void collect(const struct snapshot *s, struct life *L)
{
    for (int k = 0; k < N_LIFE; k++) {
        memset(&L[k], 0, sizeof(L[k]));
        L[k].group = -1;
    }
    for (size_t i = 0; i < s->n_jobs; i++) {
        const struct job *j = &s->jobs[i];
        if (j->is_group) {
            int k = life_index(j->job_name);
            if (k >= 0 && L[k].group < 0)
                L[k].group = (int32_t)i;
            continue;
        }
        /* The nearest ancestor that is a lifecycle group. */
        int k = -1;
        int32_t p = s->parent ? s->parent[i] : -1;
        for (int hops = 0; p >= 0 && hops < 64 && k < 0; hops++) {
            k = life_index(s->jobs[p].job_name);
            p = s->parent[p];
        }
        if (k < 0)
            continue;
        struct life *l = &L[k];
        l->total++;
        switch (j->status) {
        case JOB_SUCCEEDED:
        case JOB_HEALTHY:
            l->done++;
            break;
        case JOB_RUNNING:
        case JOB_DEGRADED:
            l->running++;
            break;
        case JOB_FAILED:
        case JOB_FAILING:
            if (vu_job_blocked(s, i))
                l->blocked++;
            else
                l->failed++;
            break;
        default:
            l->pending++;
        }
        if (j->started_at > 0 && (!l->first_start || j->started_at < l->first_start))
            l->first_start = j->started_at;
        if (j->finished_at > l->last_finish)
            l->last_finish = j->finished_at;
    }
}

static enum job_status life_status(const struct snapshot *s, const struct life *l)
{
    if (l->group >= 0)
        return s->jobs[l->group].status;
    if (l->failed || l->blocked)
        return JOB_FAILED;
    if (l->running)
        return JOB_RUNNING;
    if (l->pending)
        return JOB_PENDING;
    /* Empty groups count as done once handover has fired (upstream does the same). */
    if (l->total == 0 && !(s->has_deployment && s->deployment.handover_fired_at > 0))
        return JOB_PENDING;
    return JOB_SUCCEEDED;
}

static int draw_strip(struct canvas *c, const struct glyphs *g, const struct snapshot *s,
                      const struct life *L, int y)
{
    int x = 0;
    for (int k = 0; k < N_LIFE; k++) {
        enum job_status st = life_status(s, &L[k]);
        enum role r = vu_status_role(st);
        if (k) {
            x += canvas_text(c, y, x, -1, g->arrow, ROLE_DIM, 0);
        }
        canvas_glyph(c, y, x, glyphs_job(g, st, false), r, ATTR_BOLD);
        x += 2;
        x += canvas_text(c, y, x, -1, life_label[k], r, ATTR_BOLD);
    }
    return y + 1;
}

static void draw_gauge_row(struct canvas *c, const struct glyphs *g, const struct snapshot *s,
                           const struct life *l, int k, int y, int64_t now)
{
    char right[160], el[32], eta[32];
    int64_t end = l->running || l->pending ? now : l->last_finish;
    int64_t elapsed = l->first_start ? vu_span(l->first_start, end) : -1;
    int remaining = l->total - l->done - l->failed - l->blocked;
    eta[0] = 0;
    if (remaining > 0 && l->done > 0 && elapsed > 0) {
        int64_t eta_ms;
        if (__builtin_mul_overflow(elapsed, (int64_t)remaining, &eta_ms))
            eta_ms = INT64_MAX; /* shown as ">999999h" */
        else
            eta_ms /= l->done;
        snprintf(eta, sizeof(eta), "  ETA %s", duration_format(eta_ms, el, sizeof(el)));
    }
    char blk[32] = "";
    if (l->blocked)
        snprintf(blk, sizeof(blk), "  %d blocked", l->blocked);
    snprintf(right, sizeof(right), "%3d/%-3d %d run  %d fail%s  %s%s", l->done, l->total,
             l->running, l->failed, blk, vu_duration(elapsed, g, el, sizeof(el)), eta);
    enum job_status st = life_status(s, l);
    enum role r = vu_status_role(st);
    int lw = 12;
    /* Same gauge width on every row so the counts line up. */
    int gw = c->w - lw - 46;
    if (gw > 40)
        gw = 40;
    canvas_text(c, y, 0, lw, life_label[k], ROLE_NORMAL, 0);
    int x = lw;
    if (gw >= 4) {
        vu_gauge(c, g, y, x, gw, l->done, l->total,
                 l->failed || l->blocked ? ROLE_FAILED : ROLE_GAUGE_FILL);
        x += gw + 1;
    }
    canvas_text(c, y, x, -1, right, r == ROLE_FAILED ? ROLE_FAILED : ROLE_NORMAL, 0);
}

static int draw_card(struct canvas *c, const struct glyphs *g, const struct snapshot *s,
                     const struct view_ctx *ctx, int y, int max_rows)
{
    const struct cutover_status *cs = &s->cutover;
    bool sov = cs->state == SOV_SOVEREIGN || cs->complete;
    char b[64];
    int y0 = y;
    vu_rule(c, g, y++, 0, c->w, "Sovereignty");
    if (y - y0 >= max_rows)
        return y;
    int x = canvas_printf(c, y, 0, -1, sov ? ROLE_SOVEREIGN : ROLE_TETHERED,
                          ATTR_BOLD | ATTR_REVERSE, " %s ", sov ? "SOVEREIGN" : "TETHERED");
    x++;
    if (!cs->available) {
        canvas_text(c, y, x, -1, "cutover status not available", ROLE_DIM, 0);
        return y + 1;
    }
    size_t done = 0;
    bool failed = false;
    const struct cutover_step *cur = NULL;
    for (size_t k = 0; k < cs->n_steps; k++) {
        enum step_result r = cs->steps[k].result;
        done += r == STEP_SUCCESS || r == STEP_SKIPPED;
        failed |= r == STEP_FAILED;
        if (r == STEP_RUNNING && !cur)
            cur = &cs->steps[k];
    }
    if (sov)
        x += canvas_printf(c, y, x, -1, ROLE_SUCCEEDED, 0, "all %zu cutover steps done",
                           cs->n_steps);
    else if (failed)
        x += canvas_printf(c, y, x, -1, ROLE_FAILED, 0, "cutover halted at step %zu of %zu",
                           done + 1, cs->n_steps);
    else if (cur || done)
        x += canvas_printf(c, y, x, -1, ROLE_RUNNING, 0, "cutover step %zu of %zu%s%s", done,
                           cs->n_steps, cur ? g->middot : "", cur ? cur->name : "");
    else
        x += canvas_printf(c, y, x, -1, ROLE_NORMAL, 0, "cutover not started (%zu steps)",
                           cs->n_steps);
    if (cur && cur->hold_until > ctx->now_ms)
        canvas_printf(c, y, x, -1, ROLE_ACCENT, ATTR_BOLD, "%shold %s left", g->middot,
                      vu_countdown(vu_span(ctx->now_ms, cur->hold_until), b, sizeof(b)));
    y++;
    if (y - y0 >= max_rows)
        return y;
    if (sov || *cs->mirrored_commit_sha || cs->harbor_project_count >= 0) {
        char sha[16];
        snprintf(sha, sizeof(sha), "%.12s", cs->mirrored_commit_sha);
        char hp[16];
        if (cs->harbor_project_count >= 0)
            snprintf(hp, sizeof(hp), "%d", cs->harbor_project_count);
        else
            snprintf(hp, sizeof(hp), "%s", g->dash);
        canvas_printf(c, y++, 0, -1, ROLE_NORMAL, 0,
                      "mirrored commit %s%sHarbor projects %s%segress %s", *sha ? sha : g->dash,
                      g->middot, hp, g->middot,
                      cs->egress_test_passed == 1   ? "passed"
                      : cs->egress_test_passed == 0 ? "failed"
                                                    : g->dash);
    } else if (!ctx->read_only && !cs->running) {
        canvas_text(c, y++, 0, -1, "6 opens the cutover: Achieve true sovereignty", ROLE_ACCENT,
                    0);
    }
    const struct sovereign_status *ss = &s->sov_status;
    if (ss->available && y - y0 < max_rows)
        canvas_printf(c, y++, 0, -1, ss->cert_expiry_soon_count > 0 ? ROLE_FAILED : ROLE_NORMAL,
                      0, "HelmReleases %d/%d ready%sPods %d/%d running%s%d certificates expiring",
                      ss->helm_releases_ready, ss->helm_releases_total, g->middot,
                      ss->pods_running, ss->pods_total, g->middot, ss->cert_expiry_soon_count);
    return y;
}

static int draw_problems(struct canvas *c, const struct glyphs *g, const struct snapshot *s,
                         const struct view_ctx *ctx, int y, int max_rows)
{
    int nf = 0;
    for (size_t i = 0; i < s->n_jobs; i++)
        nf += !s->jobs[i].is_group && s->jobs[i].status == JOB_FAILED;
    if (nf == 0 || max_rows < 2)
        return y;
    char title[64];
    snprintf(title, sizeof(title), "Failed and blocked (%d)", nf);
    vu_rule(c, g, y++, 0, c->w, title);
    int rows = max_rows - 1;
    int shown = 0;
    char b[64];
    /* Failures first, then what they block. */
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < s->n_jobs; i++) {
            const struct job *j = &s->jobs[i];
            if (j->is_group || j->status != JOB_FAILED || vu_job_blocked(s, i) != (pass == 1))
                continue;
            if (shown == rows - 1 && nf - shown > 1) {
                canvas_printf(c, y++, 2, -1, ROLE_DIM, 0, "and %d more (2 lists the jobs)",
                              nf - shown);
                return y;
            }
            if (shown >= rows)
                return y;
            canvas_glyph(c, y, 0, vu_job_glyph(g, s, i), vu_job_role(s, i), ATTR_BOLD);
            int x = 2 + canvas_text(c, y, 2, c->w / 2, vu_job_label(j), ROLE_NORMAL, 0);
            if (pass == 1) {
                x += canvas_text(c, y, x, -1, " blocked by ", ROLE_BLOCKED, 0);
                canvas_text(c, y, x, -1, s->jobs[s->blocked_by[i]].job_name, ROLE_NORMAL, 0);
            } else {
                canvas_printf(c, y, x, -1, ROLE_FAILED, 0, " failed %s",
                              vu_ago(ctx->now_ms, j->finished_at, g, b, sizeof(b)));
            }
            y++;
            shown++;
        }
    return y;
}

static int draw_activity(struct canvas *c, const struct glyphs *g, const struct snapshot *s,
                         int y, int max_rows)
{
    if (max_rows < 2)
        return y;
    vu_rule(c, g, y++, 0, c->w, "Activity");
    if (s->n_activity == 0) {
        canvas_text(c, y++, 0, -1, "no log lines yet", ROLE_DIM, 0);
        return y;
    }
    char t[16];
    int name_w = c->w >= 100 ? 28 : 20;
    for (int r = 0; r < max_rows - 1 && (size_t)r < s->n_activity; r++) {
        const struct activity_line *a = &s->activity[s->n_activity - 1 - (size_t)r];
        canvas_text(c, y, 0, 8, time_format_hms(a->line.timestamp, t, sizeof(t)), ROLE_DIM, 0);
        canvas_text(c, y, 9, name_w, a->job_name, ROLE_NORMAL, 0);
        canvas_text(c, y, 10 + name_w, 5, log_level_name(a->line.level),
                    vu_level_role(a->line.level), ATTR_BOLD);
        canvas_text(c, y, 16 + name_w, -1, a->line.message, ROLE_NORMAL, 0);
        y++;
    }
    return y;
}

static void dash_model(void *state, const struct snapshot *s, const struct view_ctx *ctx,
                       struct canvas *c)
{
    const struct glyphs *g = glyphs_get(ctx->ascii);
    (void)state;
    if (c->h < 1 || c->w < 1)
        return;
    if (!s) {
        canvas_printf(c, 0, 0, -1, ROLE_DIM, 0, "waiting for data%s", g->ellipsis);
        return;
    }
    struct life L[N_LIFE];
    collect(s, L);
    int h = c->h;
    int y = draw_strip(c, g, s, L, 0);
    for (int k = 0; k < N_LIFE && y < h; k++)
        draw_gauge_row(c, g, s, &L[k], k, y++, ctx->now_ms);
    if (y + 1 >= h)
        return;
    y++;
    y = draw_card(c, g, s, ctx, y, h - y);
    if (y + 2 >= h)
        return;
    /* Share what is left: problems get up to half, activity the rest. */
    int left = h - y;
    int prob = left / 2;
    if (prob > 6)
        prob = 6;
    int y2 = draw_problems(c, g, s, ctx, y, prob);
    draw_activity(c, g, s, y2, h - y2);
}

static enum key_result dash_key(void *state, const struct snapshot *s,
                                const struct view_ctx *ctx, int ch)
{
    (void)state;
    (void)s;
    if ((ch == 'S' || ch == 'c') && ctx->ui) {
        ui_open_view(ctx->ui, "cutover", NULL);
        return KEY_HANDLED;
    }
    if (ch == 'f' && ctx->ui) {
        ui_open_view(ctx->ui, "jobs", NULL);
        return KEY_HANDLED;
    }
    return KEY_UNHANDLED;
}

static const struct key_help dash_help_table[] = {
    {"c", "open the cutover view"},
    {"f", "open the jobs table"},
    {NULL, NULL},
};

static const struct key_help *dash_help(void) { return dash_help_table; }

const struct view_ops view_dashboard_ops = {
    .name = "dashboard",
    .title = "Dashboard",
    .open = dash_open,
    .close = dash_close,
    .model = dash_model,
    .key = dash_key,
    .help = dash_help,
    .set_filter = NULL,
};
