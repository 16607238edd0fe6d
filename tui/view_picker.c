/*
 * view_picker: choose one of several deployments when a remote catalyst-api
 * lists more than one and no --deployment was given (DOMAIN §7, row 3). The
 * choice goes through the source's action path like every other action.
 */
#include "glyphs.h"
#include "ui.h"
#include "viewutil.h"

#include <curses.h>
#include <stdlib.h>

struct picker {
    int sel, top;
};

static void *picker_open(const char *arg)
{
    (void)arg;
    return calloc(1, sizeof(struct picker));
}

static void picker_close(void *st) { free(st); }

static void picker_model(void *st, const struct snapshot *s, const struct view_ctx *ctx,
                         struct canvas *c)
{
    struct picker *p = st;
    const struct glyphs *g = glyphs_get(ctx->ascii);
    int n = s ? (int)s->n_deployments : 0;
    if (c->h < 1)
        return;
    canvas_printf(c, 0, 0, -1, ROLE_TITLE, ATTR_BOLD,
                  "%d deployments on this catalyst-api: choose one (Enter)", n);
    if (n == 0) {
        if (c->h > 2)
            canvas_text(c, 2, 2, -1, "no deployments to choose from", ROLE_DIM, 0);
        return;
    }
    if (p->sel >= n)
        p->sel = n - 1;
    if (c->h < 3)
        return;
    /* FQDN, status, started, finished, region, id: the upstream list's columns. */
    static const int col[] = {2, 34, 54, 66, 78, 86};
    static const char *const head[] = {"FQDN", "STATUS", "STARTED", "FINISHED", "REGION", "ID"};
    for (int k = 0; k < 6; k++)
        canvas_text(c, 2, col[k], k < 5 ? col[k + 1] - col[k] - 1 : -1, head[k], ROLE_HEADER, 0);
    int rows = c->h - 3;
    vu_scroll_to(&p->top, p->sel, rows, n);
    for (int r = 0; r < rows && p->top + r < n; r++) {
        int i = p->top + r, y = 3 + r;
        const struct deployment *d = &s->deployments[i];
        char started[32], finished[32];
        vu_ago(ctx->now_ms, d->started_at, g, started, sizeof(started));
        vu_ago(ctx->now_ms, d->finished_at, g, finished, sizeof(finished));
        const char *cells[6] = {d->sovereign_fqdn && *d->sovereign_fqdn ? d->sovereign_fqdn : "-",
                                d->status, started, finished, d->region, d->id};
        for (int k = 0; k < 6; k++)
            canvas_text(c, y, col[k], k < 5 ? col[k + 1] - col[k] - 1 : -1, cells[k],
                        k == 1 ? vu_word_role(d->status) : ROLE_NORMAL, 0);
        if (i == p->sel && !ctx->once)
            canvas_style(c, y, 0, c->w, ROLE_SELECTED, ATTR_REVERSE);
    }
}

static enum key_result picker_key(void *st, const struct snapshot *s, const struct view_ctx *ctx,
                                  int ch)
{
    struct picker *p = st;
    int n = s ? (int)s->n_deployments : 0;
    if (vu_nav_key(ch, &p->sel, n, 10))
        return KEY_HANDLED;
    if ((ch == '\r' || ch == '\n' || ch == KEY_ENTER) && n > 0 && ctx->ui) {
        source_act(ui_source(ctx->ui), ACTION_SELECT_DEPLOYMENT, s->deployments[p->sel].id);
        ui_message(ctx->ui, "opening %s", s->deployments[p->sel].id);
        return KEY_HANDLED;
    }
    return KEY_UNHANDLED;
}

static const struct key_help picker_help_table[] = {
    {"j/k arrows", "move"},
    {"Enter", "open the deployment"},
    {NULL, NULL},
};

static const struct key_help *picker_help(void) { return picker_help_table; }

const struct view_ops view_picker_ops = {
    .name = "deployments",
    .title = "Deployments",
    .open = picker_open,
    .close = picker_close,
    .model = picker_model,
    .key = picker_key,
    .help = picker_help,
    .set_filter = NULL,
};
