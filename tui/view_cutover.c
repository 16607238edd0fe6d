/*
 * view_cutover: "Achieve true sovereignty" progress (DOMAIN §4): every step
 * in canonical order with its mark, label and times, the failed step's error
 * line, the header sentence, a percentage bar, the egress hold countdown the
 * web console lacks, summary values and the settled-roll overrides. While no
 * run is in progress it also shows the readiness preflight (preflight.h),
 * recomputed from every snapshot, so whatever the source (even a server with
 * no preflight of its own) the operator sees what a start would skip. The
 * action itself is the framework's typed-confirmation dialog.
 */
#include "view.h"
#include "viewutil.h"

#include "preflight.h"
#include "sanitize.h"
#include "ui.h"
#include "util.h"
#include "wire.h"

#include <curses.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cutover_state {
    int top;
    int page;
    int content;   /* rows the last frame wanted */
    /*
     * The checklist of the last snapshot drawn, recomputed only when another
     * one arrives; holding a reference keeps its address from being reused.
     */
    struct snapshot *pf_snap;
    uint64_t pf_gen;
    struct preflight pf;
};

static void *cutover_open(const char *arg)
{
    (void)arg;
    return calloc(1, sizeof(struct cutover_state));
}

static void cutover_close(void *state)
{
    struct cutover_state *st = state;
    if (st)
        snapshot_release(st->pf_snap);
    free(state);
}

static bool step_done(enum step_result r) { return r == STEP_SUCCESS || r == STEP_SKIPPED; }

static const char *step_label(const struct cutover_step *st)
{
    const char *l = wire_cutover_step_label(st->name);
    return (l && *l) ? l : st->name;
}

static const char *step_word(enum step_result r)
{
    switch (r) {
    case STEP_RUNNING:
        return "running";
    case STEP_SUCCESS:
        return "done";
    case STEP_FAILED:
        return "failed";
    case STEP_SKIPPED:
        return "skipped";
    default:
        return "pending";
    }
}

/* Whether the operator may start (or resume) the cutover from here. */
static bool can_start(const struct snapshot *s, const struct view_ctx *ctx)
{
    const struct cutover_status *cs = &s->cutover;
    return !ctx->read_only && !s->source.read_only && cs->available && !cs->complete &&
           cs->state != SOV_SOVEREIGN && !cs->running && cs->n_steps > 0;
}

/*
 * The checklist from row y: a title with the verdict, then one row per check
 * (mark, title, detail beside it when the canvas is wide, else under it).
 * Returns the next free row.
 */
static int draw_preflight(struct canvas *c, const struct glyphs *g, int y,
                          const struct preflight *pf)
{
    if (pf->ready)
        canvas_printf(c, y, 0, -1, ROLE_SUCCEEDED, ATTR_BOLD,
                      "Preflight%sall %zu checks pass", g->middot, pf->n_checks);
    else
        canvas_printf(c, y, 0, -1, ROLE_FAILED, ATTR_BOLD,
                      "Preflight%s%zu of %zu checks fail %s a start needs a typed override",
                      g->middot, pf->n_failing, pf->n_checks, g->dash);
    y++;
    bool wide = c->w >= 100;
    for (size_t k = 0; k < pf->n_checks; k++) {
        const struct preflight_check *ck = &pf->checks[k];
        enum role r = ck->ok ? ROLE_SUCCEEDED : ROLE_FAILED;
        canvas_glyph(c, y, 1, g->step[ck->ok ? STEP_SUCCESS : STEP_FAILED], r, ATTR_BOLD);
        canvas_text(c, y, 3, wide ? 46 : -1, ck->title, ck->ok ? ROLE_NORMAL : ROLE_FAILED,
                    ck->ok ? 0 : ATTR_BOLD);
        if (*ck->detail) {
            /* Beside the title when it fits whole, else on its own row. */
            bool beside = wide && sanitize_width(ck->detail, c->ascii) <= c->w - 50;
            if (!beside)
                y++;
            canvas_text(c, y, beside ? 50 : 5, -1, ck->detail,
                        ck->ok ? ROLE_DIM : ROLE_NORMAL, 0);
        }
        y++;
    }
    return y;
}

static void cutover_model(void *state, const struct snapshot *s, const struct view_ctx *ctx,
                          struct canvas *c)
{
    struct cutover_state *st = state;
    const struct glyphs *g = glyphs_get(ctx->ascii);
    if (!st || c->h < 1 || c->w < 1)
        return;
    if (!s) {
        canvas_printf(c, 0, 0, -1, ROLE_DIM, 0, "waiting for data%s", g->ellipsis);
        return;
    }
    const struct cutover_status *cs = &s->cutover;
    int top = ctx->once ? 0 : st->top;
    int y = -top;
    int w = c->w;
    char b1[64], b2[64], b3[64];
    if (!cs->available) {
        canvas_text(c, y, 0, -1, "Cutover status not available on this Sovereign", ROLE_DIM,
                    0);
        canvas_text(c, y + 1, 0, -1, "(the cutover API answered nothing yet)", ROLE_DIM, 0);
        st->content = 2;
        return;
    }
    size_t n = cs->n_steps;
    size_t done = 0;
    bool failed = false;
    for (size_t k = 0; k < n; k++) {
        done += step_done(cs->steps[k].result);
        failed |= cs->steps[k].result == STEP_FAILED;
    }
    bool sovereign = cs->state == SOV_SOVEREIGN || cs->complete;

    /* Badge and header sentence. */
    int x = canvas_printf(c, y, 0, -1, sovereign ? ROLE_SOVEREIGN : ROLE_TETHERED,
                          ATTR_BOLD | ATTR_REVERSE, " %s ", sovereign ? "SOVEREIGN" : "TETHERED");
    x++;
    if (sovereign || (n > 0 && done == n))
        canvas_printf(c, y, x, -1, ROLE_SUCCEEDED, ATTR_BOLD, "All %zu steps completed", n);
    else if (failed)
        canvas_printf(c, y, x, -1, ROLE_FAILED, ATTR_BOLD,
                      "Step %zu of %zu complete%shalted on a failed step %s fix and re-trigger",
                      done, n, g->middot, g->dash);
    else if (cs->running || done > 0)
        canvas_printf(c, y, x, -1, ROLE_RUNNING, ATTR_BOLD,
                      "Step %zu of %zu complete%scutover in progress", done, n, g->middot);
    else
        canvas_printf(c, y, x, -1, ROLE_NORMAL, ATTR_BOLD, "Not started%s%zu steps", g->middot,
                      n);
    y++;

    /* Percentage bar: red on failure, green when sovereign. */
    int pct = n ? (int)(done * 100 / n) : 0;
    int bw = w - 6;
    if (bw > 60)
        bw = 60;
    if (bw > 0) {
        vu_gauge(c, g, y, 0, bw, (int64_t)done, (int64_t)n,
                 failed ? ROLE_FAILED : sovereign ? ROLE_SUCCEEDED : ROLE_GAUGE_FILL);
        canvas_printf(c, y, bw + 1, -1, ROLE_NORMAL, ATTR_BOLD, "%d%%", pct);
    }
    y++;

    /* Hold countdowns (egress-block self-test). */
    for (size_t k = 0; k < n; k++) {
        const struct cutover_step *sp = &cs->steps[k];
        if (sp->hold_until <= 0 || sp->hold_until <= ctx->now_ms ||
            sp->result != STEP_RUNNING)
            continue;
        canvas_glyph(c, y, 0, g->hold_mark, ROLE_ACCENT, 0);
        int used = canvas_printf(c, y, 2, -1, ROLE_ACCENT, ATTR_BOLD, "%s hold: %s left",
                                 step_label(sp),
                                 vu_countdown(vu_span(ctx->now_ms, sp->hold_until), b1,
                                              sizeof(b1)));
        if (sp->hold_seconds > 0) {
            /* holdSeconds comes from the server as any integer: saturate, do not wrap. */
            int64_t hold_ms = sp->hold_seconds > INT64_MAX / 1000 ? INT64_MAX
                                                                   : sp->hold_seconds * 1000;
            canvas_printf(c, y, 3 + used, -1, ROLE_DIM, 0, "(of %s)",
                          duration_format(hold_ms, b2, sizeof(b2)));
        }
        y++;
    }
    y++;

    /* The steps. */
    /* Wide: label, id, word, start, finish. Narrow: label, word, one time (start while
     * running, finish when done), as the web card does. */
    bool wide = w >= 100, narrow = w < 64;
    int label_w = wide ? 34 : narrow ? w - 23 : w - 34;
    if (label_w < 8)
        label_w = 8;
    for (size_t k = 0; k < n; k++) {
        const struct cutover_step *sp = &cs->steps[k];
        enum role r = vu_step_role(sp->result);
        canvas_printf(c, y, 0, 3, ROLE_DIM, 0, "%2zu", k + 1);
        canvas_glyph(c, y, 3, g->step[sp->result < STEP_RESULT_COUNT ? sp->result : 0], r,
                     ATTR_BOLD);
        int cx = 5;
        canvas_text(c, y, cx, label_w, step_label(sp),
                    sp->result == STEP_PENDING ? ROLE_DIM : ROLE_NORMAL, 0);
        cx += label_w + 1;
        if (wide) {
            canvas_text(c, y, cx, 26, sp->name, ROLE_DIM, 0);
            cx += 27;
        }
        canvas_text(c, y, cx, 8, step_word(sp->result), r, 0);
        cx += 9;
        if (narrow) {
            int64_t t = sp->finished_at > 0 ? sp->finished_at : sp->started_at;
            if (t > 0)
                canvas_text(c, y, cx, 8, time_format_hms(t, b1, sizeof(b1)), ROLE_NORMAL, 0);
        } else {
            if (sp->started_at > 0)
                canvas_text(c, y, cx, 8, time_format_hms(sp->started_at, b1, sizeof(b1)),
                            ROLE_NORMAL, 0);
            cx += 9;
            if (sp->finished_at > 0)
                canvas_text(c, y, cx, 8, time_format_hms(sp->finished_at, b2, sizeof(b2)),
                            ROLE_NORMAL, 0);
            else if (sp->result == STEP_RUNNING && sp->started_at > 0)
                canvas_text(c, y, cx, -1,
                            vu_duration(vu_span(sp->started_at, ctx->now_ms), g, b3, sizeof(b3)),
                            ROLE_RUNNING, 0);
        }
        y++;
        if (sp->result == STEP_FAILED) {
            const char *msg = *sp->message ? sp->message : cs->last_error;
            canvas_printf(c, y, 5, -1, ROLE_ERROR, 0, "error: %s",
                          (msg && *msg) ? msg : "step failed");
            y++;
        }
    }
    y++;

    /* Summary values. */
    bool any = *cs->mirrored_commit_sha || cs->harbor_project_count >= 0 ||
               cs->egress_test_passed >= 0;
    if (any) {
        if (sovereign)
            canvas_text(c, y++, 0, -1, "Sovereignty achieved", ROLE_SOVEREIGN, ATTR_BOLD);
        char sha[16];
        snprintf(sha, sizeof(sha), "%.12s", cs->mirrored_commit_sha);
        canvas_printf(c, y++, 2, -1, ROLE_NORMAL, 0, "Mirrored commit  %s",
                      *sha ? sha : g->dash);
        if (cs->harbor_project_count >= 0)
            canvas_printf(c, y++, 2, -1, ROLE_NORMAL, 0, "Harbor projects  %d",
                          cs->harbor_project_count);
        else
            canvas_printf(c, y++, 2, -1, ROLE_NORMAL, 0, "Harbor projects  %s", g->dash);
        canvas_printf(c, y++, 2, -1,
                      cs->egress_test_passed == 1   ? ROLE_SUCCEEDED
                      : cs->egress_test_passed == 0 ? ROLE_FAILED
                                                    : ROLE_DIM,
                      0, "Egress test      %s",
                      cs->egress_test_passed == 1   ? "passed"
                      : cs->egress_test_passed == 0 ? "failed"
                                                    : g->dash);
        y++;
    }

    /* Settled-roll overrides: HelmReleases excluded because already stuck. */
    if (cs->settled_roll_overrides && *cs->settled_roll_overrides) {
        int lines = 1;
        for (const char *p = cs->settled_roll_overrides; *p; p++)
            lines += *p == '\n';
        int bw2 = w < 72 ? w : 72;
        vu_box(c, g, y, 0, lines + 2, bw2, "Settled-roll overrides", ROLE_BLOCKED);
        const char *p = cs->settled_roll_overrides;
        for (int k = 0; k < lines; k++) {
            const char *e = strchr(p, '\n');
            size_t len = e ? (size_t)(e - p) : strlen(p);
            char line[256];
            snprintf(line, sizeof(line), "%.*s", (int)(len < 255 ? len : 255), p);
            canvas_text(c, y + 1 + k, 2, bw2 - 4, line, ROLE_BLOCKED, 0);
            p = e ? e + 1 : p + len;
        }
        y += lines + 3;
    }

    /* The readiness preflight, live, while nothing runs. */
    if (st->pf_snap != s || st->pf_gen != s->generation) {
        preflight_compute(s, &st->pf);
        snapshot_release(st->pf_snap);
        st->pf_snap = snapshot_retain((struct snapshot *)(uintptr_t)s);
        st->pf_gen = s->generation;
    }
    const struct preflight pf = st->pf;
    if (!sovereign && !cs->running) {
        y = draw_preflight(c, g, y, &pf);
        y++;
    }

    /* The action hint. */
    if (!sovereign) {
        if (can_start(s, ctx) && !pf.ready)
            canvas_text(c, y++, 0, -1,
                        "Press S or Enter to Achieve true sovereignty anyway (the dialog "
                        "asks for a typed override)",
                        ROLE_LOG_WARN, ATTR_BOLD);
        else if (can_start(s, ctx))
            canvas_text(c, y++, 0, -1,
                        failed ? "Press S or Enter to resume the cutover (Achieve true "
                                 "sovereignty)"
                               : "Press S or Enter to Achieve true sovereignty",
                        ROLE_ACCENT, ATTR_BOLD);
        else if (ctx->read_only || s->source.read_only)
            canvas_text(c, y++, 0, -1, "read-only: the cutover cannot be started from here",
                        ROLE_DIM, 0);
    }
    st->content = y + top;
    st->page = c->h;
}

static enum key_result cutover_key(void *state, const struct snapshot *s,
                                   const struct view_ctx *ctx, int ch)
{
    struct cutover_state *st = state;
    if (!st)
        return KEY_UNHANDLED;
    switch (ch) {
    case 'S':
    case '\n':
    case '\r':
    case KEY_ENTER:
        if (!s || !can_start(s, ctx)) {
            if (ctx->ui)
                ui_message(ctx->ui, "%s", s && (s->cutover.complete ||
                                                s->cutover.state == SOV_SOVEREIGN)
                                              ? "already sovereign"
                                          : ctx->read_only ? "read-only: actions disabled"
                                                           : "the cutover cannot start now");
            return KEY_HANDLED;
        }
        if (ctx->ui)
            ui_request_cutover(ctx->ui);
        return KEY_HANDLED;
    default:
        break;
    }
    return vu_scroll_key(ch, &st->top, st->content, st->page) ? KEY_HANDLED : KEY_UNHANDLED;
}

static const struct key_help cutover_help_table[] = {
    {"S or Enter", "Achieve true sovereignty (typed confirmation; a failing preflight needs "
                   "\"force cutover NAME\")"},
    {"j/k, PgUp/PgDn", "scroll"},
    {NULL, NULL},
};

static const struct key_help *cutover_help(void) { return cutover_help_table; }

const struct view_ops view_cutover_ops = {
    .name = "cutover",
    .title = "Cutover",
    .open = cutover_open,
    .close = cutover_close,
    .model = cutover_model,
    .key = cutover_key,
    .help = cutover_help,
    .set_filter = NULL,
};
