/*
 * ui: the UI loop and the chrome (DESIGN §4, §7). One thread: it waits in
 * poll() on stdin and a self-pipe (written by ui_wake from the source's
 * thread and by the quit-signal handlers), with a timeout to the next whole
 * second for the age tick. A frame is recomputed only on input, a new
 * snapshot generation, a resize or the tick; each frame is composed on one
 * screen canvas (header, the top view's canvas, status bar, overlays) and
 * copied to curses, which sends only the cells that changed.
 *
 * The cutover dialog shows the readiness preflight (preflight.h) computed
 * from each new snapshot, or the server's own checks after a 425; while a
 * check fails, Start needs "force cutover <name>" typed instead of the name,
 * and the start is sent forced ({"force":true}).
 *
 * Views on the navigation stack are either the six numbered views, whose
 * states are kept for the whole run (selection survives switching), or
 * pushed views (job detail) owned by their stack entry. Entries popped from
 * inside a view's key() are closed only after key() returned.
 */
#include "ui.h"

#include "canvas.h"
#include "cmdline.h"
#include "draw.h"
#include "glyphs.h"
#include "preflight.h"
#include "sanitize.h"
#include "term.h"
#include "theme.h"
#include "view.h"
#include "wire.h"

#include <curses.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NAV_MAX 16
#define N_ROOTS 6
#define MIN_W 40
#define MIN_H 10
#define CTRL(c) ((c) & 0x1f)
#define KEY_ESC 27

struct nav {
    const struct view_ops *ops;
    void *state;
    bool owned;           /* pushed view: closed when popped */
};

enum mode { MODE_VIEW, MODE_HELP, MODE_CMD, MODE_FILTER, MODE_DIALOG };
enum dialog { DLG_NONE, DLG_RETRY, DLG_CUTOVER, DLG_QUIT };

struct ui {
    struct source *src;
    struct ui_options opt;
    struct theme theme;
    struct term_info ti;
    const struct glyphs *g;
    int wake[2];
    struct nav stack[NAV_MAX];
    int depth;
    void *roots[N_ROOTS + 1];       /* by view number */
    struct nav grave[NAV_MAX * 2];  /* popped, closed after key() */
    int n_grave;
    struct snapshot *snap;
    struct canvas *screen, *view;
    bool quit, dirty;
    enum ui_end end;                /* what quit means (the quit dialog's choice) */
    enum mode mode;
    struct cmdline cmd;             /* ':' with history */
    struct cmdline filter;          /* '/' */
    char filter_before[CMDLINE_MAX];
    char message[256];
    bool message_error;
    char completions[256];
    int help_top;
    /* dialog */
    enum dialog dlg;
    char dlg_id[256];               /* job id (retry) */
    char dlg_name[256];             /* what must be typed */
    struct cmdline dlg_input;
    char dlg_error[512];
    uint64_t dlg_seq;
    /* cutover: the server refused with 425: its checklist, shown until the dialog closes */
    struct preflight dlg_refused;
};

static atomic_int g_wake_fd = -1;
/*
 * The self-pipe lives as long as the process: sources call ui_wake from their
 * own threads until they are freed, after ui_run returned, so closing it here
 * could let a late wake-up write into a reused descriptor.
 */
static int g_wake_pipe[2] = {-1, -1};

static void switch_context(struct ui *ui, const char *name);

/* ---- small helpers ---- */

static bool read_only(const struct ui *ui)
{
    return ui->opt.read_only || (ui->snap && ui->snap->source.read_only);
}

static void set_message(struct ui *ui, bool error, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
static void set_message(struct ui *ui, bool error, const char *fmt, va_list ap)
{
    vsnprintf(ui->message, sizeof(ui->message), fmt, ap);
    ui->message_error = error;
    ui->dirty = true;
}

void ui_message(struct ui *ui, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_message(ui, false, fmt, ap);
    va_end(ap);
}

static void ui_error(struct ui *ui, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ui_error(struct ui *ui, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_message(ui, true, fmt, ap);
    va_end(ap);
}

struct source *ui_source(struct ui *ui)
{
    return ui->src;
}

void ui_wake(void *ui_ctx)
{
    (void)ui_ctx; /* the pipe is process-wide, so a NULL context works too */
    int fd = atomic_load(&g_wake_fd);
    if (fd >= 0) {
        ssize_t r = write(fd, "w", 1);
        (void)r; /* a full pipe already holds a wake-up */
    }
}

/*
 * "just now", "15s ago", "3m ago", "2h ago", "4d ago"; "no data yet" when
 * never fetched. Seconds move in 5 s steps: an idle console then rewrites
 * the age a few times a minute, not every second (bytes sent to the terminal).
 */
static void format_age(int64_t now, int64_t t, char *buf, size_t n)
{
    if (t <= 0) {
        snprintf(buf, n, "no data yet");
        return;
    }
    int64_t s = (now - t) / 1000;
    if (s < 0)
        s = 0;
    if (s < 5)
        snprintf(buf, n, "just now");
    else if (s < 60)
        snprintf(buf, n, "%llds ago", (long long)(s - s % 5));
    else if (s < 3600)
        snprintf(buf, n, "%lldm ago", (long long)(s / 60));
    else if (s < 86400)
        snprintf(buf, n, "%lldh ago", (long long)(s / 3600));
    else
        snprintf(buf, n, "%lldd ago", (long long)(s / 86400));
}

static int root_number(const struct view_ops *ops)
{
    for (int n = 1; n <= N_ROOTS; n++)
        if (view_by_number(n) == ops)
            return n;
    return 0;
}

static struct nav *top(struct ui *ui)
{
    return ui->depth > 0 ? &ui->stack[ui->depth - 1] : NULL;
}

/* ---- navigation ---- */

static void bury(struct ui *ui, struct nav e)
{
    if (!e.owned)
        return;
    if (ui->n_grave < (int)(sizeof(ui->grave) / sizeof(ui->grave[0])))
        ui->grave[ui->n_grave++] = e;
    else if (e.ops->close)
        e.ops->close(e.state); /* cannot happen with NAV_MAX entries; stay safe */
}

static void flush_grave(struct ui *ui)
{
    for (int i = 0; i < ui->n_grave; i++)
        if (ui->grave[i].ops->close)
            ui->grave[i].ops->close(ui->grave[i].state);
    ui->n_grave = 0;
}

static void *root_state(struct ui *ui, int n)
{
    if (!ui->roots[n]) {
        const struct view_ops *ops = view_by_number(n);
        ui->roots[n] = ops && ops->open ? ops->open(NULL) : NULL;
    }
    return ui->roots[n];
}

static void on_view_change(struct ui *ui)
{
    ui->filter_before[0] = 0;
    ui->dirty = true;
}

static void switch_root(struct ui *ui, int n)
{
    const struct view_ops *ops = view_by_number(n);
    if (!ops)
        return;
    while (ui->depth > 0)
        bury(ui, ui->stack[--ui->depth]);
    ui->stack[0] = (struct nav){ops, root_state(ui, n), false};
    ui->depth = 1;
    on_view_change(ui);
}

void ui_open_view(struct ui *ui, const char *name, const char *arg)
{
    const struct view_ops *ops = view_by_name(name);
    if (!ops) {
        ui_error(ui, "no view named %s", name ? name : "?");
        return;
    }
    int n = root_number(ops);
    struct nav e = {ops, NULL, false};
    if (n && (!arg || !*arg)) {
        e.state = root_state(ui, n);
    } else {
        e.state = ops->open ? ops->open(arg) : NULL;
        e.owned = true;
    }
    if (ui->depth == NAV_MAX) {
        /* Forget the oldest pushed entry, keeping the root. */
        bury(ui, ui->stack[1]);
        memmove(&ui->stack[1], &ui->stack[2], (NAV_MAX - 2) * sizeof(ui->stack[0]));
        ui->depth--;
    }
    ui->stack[ui->depth++] = e;
    on_view_change(ui);
}

void ui_back(struct ui *ui)
{
    if (ui->depth > 1) {
        bury(ui, ui->stack[--ui->depth]);
        on_view_change(ui);
    }
}

/* ---- dialogs ---- */

static const char *sovereign_name(const struct snapshot *s)
{
    if (!s)
        return "";
    if (s->sovereign_name && *s->sovereign_name)
        return s->sovereign_name;
    if (s->has_deployment && s->deployment.sovereign_fqdn)
        return s->deployment.sovereign_fqdn;
    return "";
}

static void dialog_open(struct ui *ui, enum dialog d, const char *id, const char *name)
{
    ui->dlg = d;
    snprintf(ui->dlg_id, sizeof(ui->dlg_id), "%s", id ? id : "");
    snprintf(ui->dlg_name, sizeof(ui->dlg_name), "%s", name ? name : "");
    cmdline_reset(&ui->dlg_input);
    ui->dlg_error[0] = 0;
    ui->dlg_seq = 0;
    ui->dlg_refused = (struct preflight){0};
    ui->mode = MODE_DIALOG;
    ui->dirty = true;
}

static void dialog_close(struct ui *ui)
{
    ui->dlg = DLG_NONE;
    ui->dlg_seq = 0;
    ui->mode = MODE_VIEW;
    ui->dirty = true;
}

void ui_request_retry(struct ui *ui, const char *job_id)
{
    if (read_only(ui)) {
        ui_error(ui, "read-only: retrying jobs is disabled");
        return;
    }
    int32_t i = ui->snap ? snapshot_find_job(ui->snap, job_id ? job_id : "") : -1;
    if (i < 0) {
        ui_error(ui, "no job named %s", job_id ? job_id : "");
        return;
    }
    const struct job *j = &ui->snap->jobs[i];
    /* A cut id could name another job: refuse rather than retry the wrong one. */
    if (strlen(j->id) >= sizeof(ui->dlg_id) || strlen(j->job_name) >= sizeof(ui->dlg_name)) {
        ui_error(ui, "this job's id is too long to retry from the console");
        return;
    }
    dialog_open(ui, DLG_RETRY, j->id, j->job_name);
}

void ui_request_cutover(struct ui *ui)
{
    if (read_only(ui)) {
        ui_error(ui, "read-only: starting the cutover is disabled");
        return;
    }
    dialog_open(ui, DLG_CUTOVER, "", sovereign_name(ui->snap));
}

#define FORCE_WORDS "force cutover "

/* The checklist the cutover dialog judges by: the server's after a 425, else our own. */
static void dialog_preflight(const struct ui *ui, struct preflight *pf)
{
    if (ui->dlg_refused.n_checks)
        *pf = ui->dlg_refused;
    else
        preflight_compute(ui->snap, pf);
}

/* A start must be forced: a check fails here, or the server said so. */
static bool dialog_needs_force(const struct ui *ui)
{
    struct preflight pf;
    dialog_preflight(ui, &pf);
    return !pf.ready;
}

/* typed names the Sovereign: its name, or its FQDN. */
static bool names_sovereign(const struct ui *ui, const char *typed)
{
    if (!*typed)
        return false;
    if (strcmp(typed, ui->dlg_name) == 0)
        return true;
    const struct snapshot *s = ui->snap;
    return s && s->has_deployment && s->deployment.sovereign_fqdn &&
           *s->deployment.sovereign_fqdn && strcmp(typed, s->deployment.sovereign_fqdn) == 0;
}

/* "force cutover <name or FQDN>": the override names itself and its target. */
static bool typed_force(const struct ui *ui)
{
    const char *typed = ui->dlg_input.buf;
    size_t n = strlen(FORCE_WORDS);
    return strncmp(typed, FORCE_WORDS, n) == 0 && names_sovereign(ui, typed + n);
}

/*
 * q on the first view and :quit. A console that owns its engine asks first
 * while work is in flight: leaving must not silently end the jobs.
 */
static void request_quit(struct ui *ui)
{
    if (ui->opt.work_in_flight && ui->opt.work_in_flight(ui->opt.work_arg)) {
        dialog_open(ui, DLG_QUIT, "", "");
        return;
    }
    ui->end = UI_END_QUIT;
    ui->quit = true;
}

static bool dialog_confirmed(const struct ui *ui)
{
    const char *typed = ui->dlg_input.buf;
    if (!*typed)
        return false;
    if (ui->dlg == DLG_RETRY)
        return strcmp(typed, ui->dlg_name) == 0 || strcmp(typed, ui->dlg_id) == 0;
    if (typed_force(ui))
        return true;
    return !dialog_needs_force(ui) && names_sovereign(ui, typed);
}

static void dialog_submit(struct ui *ui)
{
    if (ui->dlg_seq) {
        ui->dlg_error[0] = 0;
        snprintf(ui->dlg_error, sizeof(ui->dlg_error), "still waiting for the answer");
        return;
    }
    if (!dialog_confirmed(ui)) {
        if (ui->dlg == DLG_CUTOVER && dialog_needs_force(ui))
            snprintf(ui->dlg_error, sizeof(ui->dlg_error),
                     "the preflight fails: type " FORCE_WORDS "%s exactly to override it",
                     ui->dlg_name);
        else
            snprintf(ui->dlg_error, sizeof(ui->dlg_error), "type %s exactly to confirm",
                     ui->dlg_name);
        return;
    }
    if (read_only(ui)) {
        snprintf(ui->dlg_error, sizeof(ui->dlg_error), "403 refused: the console is read-only");
        return;
    }
    enum action_kind k = ui->dlg == DLG_RETRY ? ACTION_RETRY_JOB
                         : typed_force(ui)    ? ACTION_CUTOVER_START_FORCE
                                              : ACTION_CUTOVER_START;
    uint64_t seq = source_act(ui->src, k, ui->dlg == DLG_RETRY ? ui->dlg_id : NULL);
    if (seq == 0) {
        snprintf(ui->dlg_error, sizeof(ui->dlg_error), "the source refused the action");
        return;
    }
    ui->dlg_error[0] = 0;
    ui->dlg_seq = seq;
}

/* The outcome of our action arrived in a snapshot: close on success, else explain. */
static void dialog_check_result(struct ui *ui)
{
    if (ui->dlg == DLG_NONE || !ui->dlg_seq || !ui->snap)
        return;
    const struct action_result *r = &ui->snap->last_action;
    if (r->seq != ui->dlg_seq)
        return;
    ui->dlg_seq = 0;
    const char *msg = r->message && *r->message ? r->message : "";
    const char *code = r->error && *r->error ? r->error : "";
    if (r->code >= 200 && r->code < 300) {
        if (ui->dlg == DLG_RETRY)
            ui_message(ui, "retry of %s started", ui->dlg_name);
        else
            ui_message(ui, "cutover started%s%s", *msg ? ": " : "", msg);
        dialog_close(ui);
        return;
    }
    if (ui->dlg == DLG_CUTOVER && r->code == 425) {
        /* Too early: the server's checks replace ours; only the override can start now. */
        if (r->n_checks) {
            struct preflight *pf = &ui->dlg_refused;
            *pf = (struct preflight){0};
            for (size_t k = 0; k < r->n_checks && k < PREFLIGHT_MAX_CHECKS; k++) {
                pf->checks[pf->n_checks++] = r->checks[k];
                pf->n_failing += !r->checks[k].ok;
            }
            pf->ready = pf->n_failing == 0;
        }
        if (!ui->dlg_refused.n_checks || ui->dlg_refused.ready) {
            /* An upstream 425 carries no list: still, only an override may go on. */
            struct preflight *pf = &ui->dlg_refused;
            *pf = (struct preflight){0};
            preflight_check_set(&pf->checks[0], "server-refused", "The server's handover gate",
                                false, *msg ? msg : "425 too early");
            pf->n_checks = pf->n_failing = 1;
        }
        snprintf(ui->dlg_error, sizeof(ui->dlg_error),
                 "425 the server refused: the preflight fails; type " FORCE_WORDS
                 "%s to override", ui->dlg_name);
        cmdline_reset(&ui->dlg_input);
    } else if (r->code == 0)
        snprintf(ui->dlg_error, sizeof(ui->dlg_error), "could not reach the catalyst-api%s%s",
                 *msg ? ": " : "", msg);
    else if (r->code == 403)
        snprintf(ui->dlg_error, sizeof(ui->dlg_error), "403 refused (read-only)%s%s",
                 *msg ? ": " : "", msg);
    else if (*code && !strncmp(msg, code, strlen(code)))
        snprintf(ui->dlg_error, sizeof(ui->dlg_error), "%d %s", r->code, msg);
    else
        snprintf(ui->dlg_error, sizeof(ui->dlg_error), "%d %s%s%s", r->code,
                 *code ? code : "error", *msg ? ": " : "", msg);
    ui->dirty = true;
}

/* ---- drawing the chrome ---- */

static void frame(struct ui *ui, struct canvas *c, int y, int x, int h, int w, enum role role,
                const char *title)
{
    const struct glyphs *g = ui->g;
    if (h < 2 || w < 2)
        return;
    canvas_fill(c, y, x, h, w, role);
    canvas_glyph(c, y, x, g->tl, ROLE_BORDER, 0);
    canvas_glyph(c, y, x + w - 1, g->tr, ROLE_BORDER, 0);
    canvas_glyph(c, y + h - 1, x, g->bl, ROLE_BORDER, 0);
    canvas_glyph(c, y + h - 1, x + w - 1, g->br, ROLE_BORDER, 0);
    for (int i = 1; i < w - 1; i++) {
        canvas_glyph(c, y, x + i, g->hline, ROLE_BORDER, 0);
        canvas_glyph(c, y + h - 1, x + i, g->hline, ROLE_BORDER, 0);
    }
    for (int i = 1; i < h - 1; i++) {
        canvas_glyph(c, y + i, x, g->vline, ROLE_BORDER, 0);
        canvas_glyph(c, y + i, x + w - 1, g->vline, ROLE_BORDER, 0);
    }
    if (title && *title)
        canvas_printf(c, y, x + 2, w - 4, ROLE_TITLE, ATTR_BOLD, " %s ", title);
}

/* Text field with a reverse-video cursor cell. */
static void field(struct canvas *c, int y, int x, int w, const struct cmdline *cl, enum role r)
{
    if (w < 2)
        return;
    canvas_fill(c, y, x, 1, w, r);
    /* Show the tail when the text is wider than the field. */
    const char *s = cl->buf;
    while (sanitize_width(s, c->ascii) > w - 1 && *s) {
        s++;
        while ((*s & 0xc0) == 0x80)
            s++;
    }
    int used = canvas_text(c, y, x, w - 1, s, r, 0);
    canvas_style(c, y, x + used, 1, r, ATTR_REVERSE);
}

/* Up to two lines of text, broken at a space when it does not fit on one. */
static int text2(struct canvas *c, int y, int x, int w, const char *s, enum role r)
{
    if (w < 2 || sanitize_width(s, c->ascii) <= w) {
        canvas_text(c, y, x, w, s, r, ATTR_BOLD);
        return 1;
    }
    char first[512];
    size_t cut = 0;
    for (size_t i = 0; s[i] && i < sizeof(first) - 1; i++) {
        memcpy(first, s, i);
        first[i] = 0;
        if (sanitize_width(first, c->ascii) > w)
            break;
        if (s[i] == ' ')
            cut = i;
    }
    if (cut == 0) {
        canvas_text(c, y, x, w, s, r, ATTR_BOLD);
        return 1;
    }
    memcpy(first, s, cut);
    first[cut] = 0;
    canvas_text(c, y, x, w, first, r, ATTR_BOLD);
    canvas_text(c, y + 1, x, w, s + cut + 1, r, ATTR_BOLD);
    return 2;
}

static void draw_header(struct ui *ui, int64_t now)
{
    struct canvas *c = ui->screen;
    const struct snapshot *s = ui->snap;
    canvas_fill(c, 0, 0, 1, c->w, ROLE_HEADER);
    if (!s) {
        canvas_text(c, 0, 1, -1, "catalyst-tui  waiting for data", ROLE_HEADER, ATTR_BOLD);
        return;
    }
    /* Right part first: badge and age must survive narrow widths. */
    char age[48], right[128];
    format_age(now, s->source.fetched_at, age, sizeof(age));
    bool sov = s->cutover.state == SOV_SOVEREIGN;
    const char *badge = sov ? "SOVEREIGN" : "TETHERED";
    snprintf(right, sizeof(right), "%s%s", s->source.stale ? "STALE " : "", age);
    int rw = sanitize_width(right, c->ascii);
    int bw = (int)strlen(badge) + 4;
    int rx = c->w - rw - 1;
    int bx = rx - bw - 1;
    if (bx > c->w / 3) {
        uint32_t mark = sov ? ui->g->sovereign_mark : ui->g->tethered_mark;
        enum role br = sov ? ROLE_SOVEREIGN : ROLE_TETHERED;
        canvas_fill(c, 0, bx, 1, bw, br);
        canvas_glyph(c, 0, bx + 1, mark, br, ATTR_REVERSE | ATTR_BOLD);
        canvas_style(c, 0, bx, bw, br, ATTR_REVERSE | ATTR_BOLD);
        canvas_text(c, 0, bx + 3, -1, badge, br, ATTR_REVERSE | ATTR_BOLD);
        canvas_text(c, 0, rx, rw, right, s->source.stale ? ROLE_STALE : ROLE_HEADER, 0);
    } else {
        bx = c->w;
    }
    const char *name = s->has_deployment && s->deployment.sovereign_fqdn &&
                               *s->deployment.sovereign_fqdn
                           ? s->deployment.sovereign_fqdn
                           : sovereign_name(s);
    int x = 1, room = bx - 2;
    x += canvas_text(c, 0, x, room - x, *name ? name : "catalyst-tui", ROLE_HEADER, ATTR_BOLD);
    if (s->has_deployment && s->deployment.id && *s->deployment.id && x + 4 < room)
        x += canvas_printf(c, 0, x, room - x, ROLE_HEADER, 0, "  dep %s", s->deployment.id);
    if (x + 4 < room) {
        const char *mode = s->source.mode && *s->source.mode ? s->source.mode : "source";
        const char *url = s->source.url ? s->source.url : "";
        x += canvas_printf(c, 0, x, room - x, ROLE_HEADER, 0, "  %s%s%s", mode,
                           *url ? " " : "", url);
    }
    if (s->source.insecure && x + 4 < room)
        canvas_text(c, 0, x + 2, room - x - 2, "INSECURE TLS (not verified)", ROLE_ERROR,
                    ATTR_BOLD);
}

static void draw_status(struct ui *ui, int64_t now)
{
    struct canvas *c = ui->screen;
    int y = c->h - 1;
    const struct snapshot *s = ui->snap;
    canvas_fill(c, y, 0, 1, c->w, ROLE_STATUSBAR);
    if (ui->mode == MODE_CMD || ui->mode == MODE_FILTER) {
        canvas_text(c, y, 0, 1, ui->mode == MODE_CMD ? ":" : "/", ROLE_STATUSBAR, ATTR_BOLD);
        field(c, y, 1, c->w - 1, ui->mode == MODE_CMD ? &ui->cmd : &ui->filter,
              ROLE_STATUSBAR);
        if (ui->mode == MODE_CMD && ui->completions[0] && c->h > 2) {
            canvas_fill(c, y - 1, 0, 1, c->w, ROLE_DIALOG);
            canvas_text(c, y - 1, 1, c->w - 2, ui->completions, ROLE_DIALOG, 0);
        }
        return;
    }
    const char *hints = ui->depth > 1 ? "1-6 views  ? help  : cmd  q back"
                                      : "1-6 views  ? help  : cmd  q quit";
    int hw = (int)strlen(hints);
    int room = c->w - 1;
    if (room - hw > 30 && !ui->message[0]) {
        canvas_text(c, y, c->w - hw - 1, hw, hints, ROLE_STATUSBAR, 0);
        room = c->w - hw - 2;
    }
    int x = 1;
    if (ui->message[0]) {
        x += canvas_text(c, y, x, room - x, ui->message,
                         ui->message_error ? ROLE_ERROR : ROLE_ACCENT, ATTR_BOLD);
        x += 2;
    }
    if (!s)
        return;
    char age[48];
    format_age(now, s->source.fetched_at, age, sizeof(age));
    const char *mode = s->source.mode && *s->source.mode ? s->source.mode : "source";
    if (x < room) {
        if (ui->opt.refresh_s > 0 && strcmp(mode, "remote") == 0)
            x += canvas_printf(c, y, x, room - x, ROLE_STATUSBAR, 0, "%s every %ds  %s", mode,
                               ui->opt.refresh_s, age);
        else
            x += canvas_printf(c, y, x, room - x, ROLE_STATUSBAR, 0, "%s  %s", mode, age);
    }
    if (s->source.stale && x + 2 < room)
        x += 1 + canvas_text(c, y, x + 1, room - x - 1, " STALE ", ROLE_STALE, ATTR_BOLD);
    if (read_only(ui) && x + 2 < room)
        x += 1 + canvas_text(c, y, x + 1, room - x - 1, "READ-ONLY", ROLE_ACCENT, ATTR_BOLD);
    if (s->source.error && *s->source.error && x + 2 < room)
        canvas_printf(c, y, x + 2, room - x - 2, ROLE_ERROR, 0, "error: %s", s->source.error);
}

static const struct key_help global_keys[] = {
    {"1-6", "dashboard, jobs, dag, timeline, tree, cutover"},
    {"Tab, S-Tab", "next / previous view"},
    {"Enter", "open the selected item"},
    {"Esc, q", "back (q on the first view quits)"},
    {"/", "filter this view"},
    {":", "command line (Tab completes, Up/Down history)"},
    {"?", "this help"},
    {"Ctrl-L", "repaint the screen"},
    {":job NAME", "open a job"},
    {":filter TEXT", "filter this view"},
    {":theme NAME", "default light high-contrast colorblind mono"},
    {":retry JOB", "retry a job (asks for its name)"},
    {":cutover start", "achieve true sovereignty (asks for the name)"},
    {":quit", "leave the console"},
    {NULL, NULL},
};

/* Help lines: the view's keys first, then the global ones; NULL key = heading. */
static int help_lines(struct ui *ui, struct key_help *out, int max)
{
    int n = 0;
    struct nav *t = top(ui);
    if (t && t->ops->help) {
        out[n++] = (struct key_help){NULL, t->ops->title ? t->ops->title : t->ops->name};
        for (const struct key_help *k = t->ops->help(); k && k->key && n < max - 1; k++)
            out[n++] = *k;
    }
    if (n < max)
        out[n++] = (struct key_help){NULL, "Everywhere"};
    for (const struct key_help *k = global_keys; k->key && n < max; k++)
        out[n++] = *k;
    return n;
}

static void draw_help(struct ui *ui)
{
    struct canvas *c = ui->screen;
    struct key_help lines[128];
    int n = help_lines(ui, lines, 128);
    int w = c->w - 4 < 72 ? c->w - 4 : 72;
    int h = c->h - 2 < n + 3 ? c->h - 2 : n + 3;
    int y0 = (c->h - h) / 2, x0 = (c->w - w) / 2;
    int rows = h - 3;
    if (ui->help_top > n - rows)
        ui->help_top = n - rows;
    if (ui->help_top < 0)
        ui->help_top = 0;
    frame(ui, c, y0, x0, h, w, ROLE_DIALOG, "Help");
    for (int i = 0; i < rows && ui->help_top + i < n; i++) {
        const struct key_help *k = &lines[ui->help_top + i];
        int y = y0 + 1 + i;
        if (!k->key) {
            canvas_text(c, y, x0 + 2, w - 4, k->what, ROLE_TITLE, ATTR_BOLD);
            continue;
        }
        canvas_text(c, y, x0 + 3, 16, k->key, ROLE_ACCENT, ATTR_BOLD);
        canvas_text(c, y, x0 + 20, w - 22, k->what, ROLE_DIALOG, 0);
    }
    canvas_text(c, y0 + h - 2, x0 + 2, w - 4,
                n > rows ? "j/k scroll, any other key closes" : "any key closes", ROLE_DIM, 0);
}

static void draw_retry(struct ui *ui)
{
    struct canvas *c = ui->screen;
    int w = c->w - 4 < 70 ? c->w - 4 : 70, h = 9;
    int y0 = (c->h - h) / 2, x0 = (c->w - w) / 2;
    frame(ui, c, y0, x0, h, w, ROLE_DIALOG, "Retry job");
    canvas_printf(c, y0 + 1, x0 + 2, w - 4, ROLE_DIALOG, 0, "Retry %s? A new execution starts.",
                  ui->dlg_name);
    canvas_text(c, y0 + 3, x0 + 2, w - 4, "Type the job name to confirm:", ROLE_DIALOG, 0);
    field(c, y0 + 4, x0 + 2, w - 4, &ui->dlg_input, ROLE_SELECTED);
    if (ui->dlg_seq)
        canvas_text(c, y0 + 5, x0 + 2, w - 4, "waiting for the answer...", ROLE_RUNNING, 0);
    else if (ui->dlg_error[0])
        text2(c, y0 + 5, x0 + 2, w - 4, ui->dlg_error, ROLE_ERROR);
    bool ok = dialog_confirmed(ui);
    canvas_text(c, y0 + 7, x0 + 2, w - 4, "Esc cancel", ROLE_DIALOG, 0);
    canvas_text(c, y0 + 7, x0 + 16, w - 18, "Enter retry", ok ? ROLE_ACCENT : ROLE_DIM,
                ok ? ATTR_BOLD | ATTR_REVERSE : 0);
}

/* The dialog's checklist: one line when it passes, else the verdict and every check. */
static int draw_dialog_preflight(const struct ui *ui, struct canvas *c, int y, int x, int tw,
                                 const struct preflight *pf)
{
    const struct glyphs *g = ui->g;
    const char *whose = ui->dlg_refused.n_checks ? "Preflight (as the 425 answer gave it)"
                                                 : "Preflight";
    if (pf->ready) {
        canvas_printf(c, y++, x, tw, ROLE_SUCCEEDED, 0, "%s: all %zu checks pass", whose,
                      pf->n_checks);
        return y;
    }
    canvas_printf(c, y++, x, tw, ROLE_ERROR, ATTR_BOLD, "%s: %zu of %zu checks fail", whose,
                  pf->n_failing, pf->n_checks);
    for (size_t k = 0; k < pf->n_checks; k++) {
        const struct preflight_check *ck = &pf->checks[k];
        canvas_glyph(c, y, x + 1, g->step[ck->ok ? STEP_SUCCESS : STEP_FAILED],
                     ck->ok ? ROLE_SUCCEEDED : ROLE_FAILED, ATTR_BOLD);
        char line[PREFLIGHT_TITLE_MAX + PREFLIGHT_DETAIL_MAX + 4];
        snprintf(line, sizeof(line), "%s%s%s", ck->title, ck->ok ? "" : ": ",
                 ck->ok ? "" : ck->detail);
        canvas_text(c, y++, x + 3, tw - 3, line, ck->ok ? ROLE_DIALOG : ROLE_ERROR, 0);
    }
    return y;
}

static void draw_quit(struct ui *ui)
{
    struct canvas *c = ui->screen;
    int w = c->w - 4 < 64 ? c->w - 4 : 64, h = 10;
    int y0 = (c->h - h) / 2, x0 = (c->w - w) / 2, x = x0 + 2, tw = w - 4;
    frame(ui, c, y0, x0, h, w, ROLE_DIALOG, "Quit");
    canvas_text(c, y0 + 1, x, tw, "Jobs are still running or waiting to run.", ROLE_DIALOG, 0);
    canvas_text(c, y0 + 3, x, 6, "d", ROLE_ACCENT, ATTR_BOLD | ATTR_REVERSE);
    canvas_text(c, y0 + 3, x + 4, tw - 4, "detach: they keep running; launch again to attach",
                ROLE_DIALOG, 0);
    canvas_text(c, y0 + 4, x, 6, "s", ROLE_ACCENT, ATTR_BOLD);
    canvas_text(c, y0 + 4, x + 4, tw - 4, "stop the jobs, then quit", ROLE_DIALOG, 0);
    canvas_text(c, y0 + 5, x + 4, tw - 4, "(the next start resumes them)", ROLE_DIM, 0);
    canvas_text(c, y0 + 6, x, 6, "c", ROLE_ACCENT, ATTR_BOLD);
    canvas_text(c, y0 + 6, x + 4, tw - 4, "cancel: back to the console", ROLE_DIALOG, 0);
    canvas_text(c, y0 + h - 2, x, tw, "Enter detach   Esc cancel", ROLE_DIM, 0);
}

static void draw_cutover(struct ui *ui)
{
    struct canvas *c = ui->screen;
    const struct snapshot *s = ui->snap;
    size_t n_steps = s ? s->cutover.n_steps : 0;
    int w = c->w - 4 < 78 ? c->w - 4 : 78;
    struct preflight pf;
    dialog_preflight(ui, &pf);
    bool force = !pf.ready;
    int pf_rows = force ? 1 + (int)pf.n_checks : 1;
    int fixed = 15 + pf_rows; /* every line but the step list */
    int max_steps = c->h - 2 - fixed;
    if (max_steps < 1)
        max_steps = 1;
    int shown = (int)n_steps < max_steps ? (int)n_steps : max_steps;
    int h = fixed + (shown > 0 ? shown : 1);
    bool compact = h > c->h - 2;
    if (compact)
        h = force ? 9 : 8; /* a failing preflight takes one line more (MIN_H is 10) */
    int y0 = (c->h - h) / 2, x0 = (c->w - w) / 2, tw = w - 4, x = x0 + 2;
    frame(ui, c, y0, x0, h, w, ROLE_DIALOG, "Achieve true sovereignty");
    int64_t hold_s = 0;
    for (size_t i = 0; i < n_steps; i++)
        if (s->cutover.steps[i].hold_seconds > 0)
            hold_s = s->cutover.steps[i].hold_seconds;
    char hold[48];
    if (hold_s > 0)
        snprintf(hold, sizeof(hold), "a %lld-minute", (long long)((hold_s + 59) / 60));
    else
        snprintf(hold, sizeof(hold), "an");
    int y = y0 + 1;
    bool ok = dialog_confirmed(ui) && !ui->dlg_seq;
    if (compact) {
        /* Short terminal: the essentials only, the steps are in the cutover view. */
        canvas_printf(c, y++, x, tw, ROLE_DIALOG, 0, "Irreversible: %zu step%s, then %s hold.",
                      n_steps, n_steps == 1 ? "" : "s", hold);
        canvas_text(c, y++, x, tw, "Blocks github.com, ghcr.io and harbor.openova.io.",
                    ROLE_LOG_WARN, ATTR_BOLD);
        if (force) {
            const char *first = "";
            for (size_t k = 0; k < pf.n_checks && !*first; k++)
                if (!pf.checks[k].ok)
                    first = pf.checks[k].title;
            canvas_printf(c, y++, x, tw, ROLE_ERROR, ATTR_BOLD,
                          "Preflight: %zu of %zu checks fail (%s)", pf.n_failing, pf.n_checks,
                          first);
            canvas_printf(c, y++, x, tw, ROLE_ERROR, ATTR_BOLD,
                          "Type " FORCE_WORDS "%s to override:", ui->dlg_name);
        } else {
            canvas_printf(c, y++, x, tw, ROLE_DIALOG, 0, "Type %s to enable Start:",
                          ui->dlg_name);
        }
        field(c, y++, x, tw, &ui->dlg_input, ROLE_SELECTED);
        if (ui->dlg_seq)
            canvas_text(c, y, x, tw, "starting...", ROLE_RUNNING, 0);
        else if (ui->dlg_error[0])
            canvas_text(c, y, x, tw, ui->dlg_error, ROLE_ERROR, ATTR_BOLD);
        canvas_text(c, y0 + h - 2, x, tw, "Esc cancel", ROLE_DIALOG, 0);
        canvas_text(c, y0 + h - 2, x + 12, tw - 12, "Enter start", ok ? ROLE_ACCENT : ROLE_DIM,
                    ok ? ATTR_BOLD | ATTR_REVERSE : 0);
        return;
    }
    canvas_text(c, y++, x, tw, "This cuts every tether to the OpenOva mothership.", ROLE_DIALOG,
                0);
    canvas_printf(c, y++, x, tw, ROLE_DIALOG, 0,
                  "It is irreversible and ends with %s egress-block hold.", hold);
    if (s && s->cutover.complete)
        canvas_text(c, y, x, tw, "Already sovereign: starting again re-runs nothing.",
                    ROLE_SOVEREIGN, 0);
    else if (s && s->cutover.failed_step && *s->cutover.failed_step)
        canvas_printf(c, y, x, tw, ROLE_LOG_WARN, 0, "Halted at %s: Start resumes there.",
                      s->cutover.failed_step);
    y++;
    canvas_printf(c, y++, x, tw, ROLE_TITLE, ATTR_BOLD, "%zu step%s:", n_steps,
                  n_steps == 1 ? "" : "s");
    if (n_steps == 0)
        canvas_text(c, y++, x + 2, tw - 2, "(no cutover steps known yet)", ROLE_DIM, 0);
    for (int i = 0; i < shown; i++) {
        if (i == shown - 1 && (size_t)shown < n_steps) {
            canvas_printf(c, y++, x + 2, tw - 2, ROLE_DIM, 0, "... and %zu more",
                          n_steps - (size_t)shown + 1);
            break;
        }
        const char *label = wire_cutover_step_label(s->cutover.steps[i].name);
        canvas_printf(c, y++, x + 2, tw - 2, ROLE_DIALOG, 0, "%2d. %s", i + 1,
                      label && *label ? label : s->cutover.steps[i].name);
    }
    y++;
    canvas_text(c, y++, x, tw, "Warning: github.com, ghcr.io and harbor.openova.io will be",
                ROLE_LOG_WARN, ATTR_BOLD);
    canvas_text(c, y++, x, tw, "blocked; any failing Flux reconcile halts the cutover.",
                ROLE_LOG_WARN, ATTR_BOLD);
    y = draw_dialog_preflight(ui, c, y, x, tw, &pf);
    y++;
    if (force)
        canvas_printf(c, y++, x, tw, ROLE_ERROR, ATTR_BOLD,
                      "To start anyway, type " FORCE_WORDS "%s:", ui->dlg_name);
    else
        canvas_printf(c, y++, x, tw, ROLE_DIALOG, 0,
                      "Type the Sovereign's name (%s) to enable Start:", ui->dlg_name);
    field(c, y++, x, tw, &ui->dlg_input, ROLE_SELECTED);
    if (ui->dlg_seq)
        canvas_text(c, y, x, tw, "starting... waiting for the answer", ROLE_RUNNING, 0);
    else if (ui->dlg_error[0])
        text2(c, y, x, tw, ui->dlg_error, ROLE_ERROR);
    y = y0 + h - 2;
    canvas_text(c, y, x, tw, "[ Cancel: Esc ]", ROLE_DIALOG, 0);
    canvas_text(c, y, x + 18, tw - 18,
                force ? "[ Force start cutover: Enter ]" : "[ Start cutover: Enter ]",
                ok ? ROLE_ACCENT : ROLE_DIM, ok ? ATTR_BOLD | ATTR_REVERSE : 0);
}

/*
 * A banner under the header when the source is failing: refused credentials
 * (401) in words, or data that is stale, with its age and the error. Returns
 * the rows it used (0 or 1).
 */
static int draw_banner(struct ui *ui, int64_t now)
{
    const struct snapshot *s = ui->snap;
    if (!s || s->source.ok)
        return 0;
    struct canvas *c = ui->screen;
    char line[1400], age[32];
    if (s->source.auth_failed)
        snprintf(line, sizeof(line),
                 " AUTHENTICATION REFUSED: the catalyst-api rejected the credentials; check "
                 "--token-file / --session-file (%s) ", s->source.error);
    else if (s->source.stale)
        snprintf(line, sizeof(line), " STALE: showing data from %s ago; %s ",
                 duration_format(now - s->source.fetched_at, age, sizeof(age)),
                 s->source.error);
    else
        snprintf(line, sizeof(line), " NO DATA: %s ", s->source.error);
    canvas_fill(c, 1, 0, 1, c->w, ROLE_ERROR);
    canvas_text(c, 1, 0, c->w, line, ROLE_ERROR, ATTR_BOLD | ATTR_REVERSE);
    return 1;
}

static void render(struct ui *ui)
{
    int w, h;
    term_size(&w, &h);
    struct canvas *sc = ui->screen;
    if (sc->w != w || sc->h != h) {
        if (canvas_resize(sc, w, h) != 0)
            return;
    } else {
        canvas_clear(sc);
    }
    int64_t now = time_now_ms();
    if (w < MIN_W || h < MIN_H) {
        /* One clear line, in the shortest form that fits. */
        const char *msg = w >= 31 ? "terminal too small (need 40x10)"
                          : w >= 16 ? "too small: 40x10"
                                    : "40x10";
        canvas_text(sc, 0, 0, w, msg, ROLE_ERROR, ATTR_BOLD);
    } else {
        draw_header(ui, now);
        int top_rows = 1 + draw_banner(ui, now);
        int vh = h - 1 - top_rows;
        struct nav *t = top(ui);
        struct canvas *vc = ui->view;
        if (vc->w != w || vc->h != vh) {
            if (canvas_resize(vc, w, vh) != 0)
                return;
        } else {
            canvas_clear(vc);
        }
        if (t && ui->snap && t->ops->model) {
            struct view_ctx ctx = {now, ui->ti.ascii, read_only(ui), false, ui};
            t->ops->model(t->state, ui->snap, &ctx, vc);
        } else {
            canvas_text(vc, 1, 2, -1, "waiting for the first snapshot...", ROLE_DIM, 0);
        }
        memcpy(&sc->cells[(size_t)w * (size_t)top_rows], vc->cells,
               (size_t)w * (size_t)vh * sizeof(*vc->cells));
        draw_status(ui, now);
        if (ui->mode == MODE_HELP)
            draw_help(ui);
        else if (ui->mode == MODE_DIALOG && ui->dlg == DLG_RETRY)
            draw_retry(ui);
        else if (ui->mode == MODE_DIALOG && ui->dlg == DLG_CUTOVER)
            draw_cutover(ui);
        else if (ui->mode == MODE_DIALOG && ui->dlg == DLG_QUIT)
            draw_quit(ui);
    }
    draw_canvas(sc, 0, 0);
    /* Computed: a terminal slow to take the bytes (XOFF, a slow link) is not a hung UI. */
    watchdog_disarm(ui->opt.watchdog);
    draw_flush();
}

/* ---- commands ---- */

static const char *const commands[] = {
    "dashboard", "jobs", "dag", "timeline", "tree", "cutover", "job", "filter",
    "theme", "theme-file", "retry", "ctx", "refresh", "help", "quit",
};
static const char *const theme_names[] = {
    "default", "light", "high-contrast", "colorblind", "mono",
};
static const char *const cutover_args[] = {"start"};

/* ":theme NAME" looks a name up; ":theme-file FILE" reads that file (theme.h). */
static void apply_theme(struct ui *ui, const char *name, bool file)
{
    struct theme t;
    struct error err;
    error_clear(&err);
    if ((file ? theme_load_file(&t, name, &err) : theme_find(&t, name, NULL, 0, &err)) != 0) {
        char buf[1400];
        ui_error(ui, "theme: %s", error_format(&err, buf, sizeof(buf)));
        return;
    }
    ui->theme = t;
    draw_init(&ui->theme, ui->ti.colors);
    term_repaint();
    ui_message(ui, "theme %s", t.name);
}

static void set_filter(struct ui *ui, const char *text)
{
    struct nav *t = top(ui);
    if (!t || !t->ops->set_filter) {
        ui_error(ui, "this view has no filter");
        return;
    }
    t->ops->set_filter(t->state, text);
    ui->dirty = true;
}

static void run_command(struct ui *ui, const char *line)
{
    char word[64] = "";
    while (*line == ' ')
        line++;
    size_t wl = strcspn(line, " ");
    snprintf(word, sizeof(word), "%.*s", (int)(wl < 63 ? wl : 63), line);
    const char *rest = line + wl;
    while (*rest == ' ')
        rest++;
    char arg[CMDLINE_MAX];
    snprintf(arg, sizeof(arg), "%s", rest);
    for (size_t l = strlen(arg); l > 0 && arg[l - 1] == ' '; l--)
        arg[l - 1] = 0;

    if (!word[0])
        return;
    if (!strcmp(word, "q") || !strcmp(word, "quit") || !strcmp(word, "exit")) {
        request_quit(ui);
    } else if (!strcmp(word, "help")) {
        ui->mode = MODE_HELP;
        ui->help_top = 0;
    } else if (!strcmp(word, "cutover") && !strcmp(arg, "start")) {
        ui_request_cutover(ui);
    } else if (!strcmp(word, "job")) {
        if (!arg[0])
            ui_error(ui, "usage: job NAME");
        else if (!ui->snap || snapshot_find_job(ui->snap, arg) < 0)
            ui_error(ui, "no job named %s", arg);
        else
            ui_open_view(ui, "job", arg);
    } else if (!strcmp(word, "filter")) {
        set_filter(ui, arg);
    } else if (!strcmp(word, "theme")) {
        if (!arg[0])
            ui_message(ui, "theme %s (default light high-contrast colorblind mono)",
                       ui->theme.name);
        else
            apply_theme(ui, arg, false);
    } else if (!strcmp(word, "theme-file")) {
        if (!arg[0])
            ui_error(ui, "usage: theme-file FILE");
        else
            apply_theme(ui, arg, true);
    } else if (!strcmp(word, "retry")) {
        if (!arg[0])
            ui_error(ui, "usage: retry JOB");
        else
            ui_request_retry(ui, arg);
    } else if (!strcmp(word, "ctx") || !strcmp(word, "context")) {
        switch_context(ui, arg);
    } else if (!strcmp(word, "refresh")) {
        source_refresh(ui->src);
        ui_message(ui, "refresh requested");
    } else {
        const struct view_ops *ops = view_by_name(word);
        int n = ops ? root_number(ops) : 0;
        if (n && !arg[0])
            switch_root(ui, n);
        else
            ui_error(ui, "unknown command: %s (Tab completes)", word);
    }
}

/* ":ctx NAME": a new source replaces the current one; views start over on it. */
static void switch_context(struct ui *ui, const char *name)
{
    if (!ui->opt.switch_context) {
        ui_error(ui, "no contexts here: start with --context NAME (see config.yaml)");
        return;
    }
    if (!name[0]) {
        ui_error(ui, "usage: ctx NAME");
        return;
    }
    struct error err;
    error_clear(&err);
    struct source *next = ui->opt.switch_context(ui->opt.switch_arg, name, &err);
    if (!next) {
        char buf[1400];
        ui_error(ui, "ctx %s: %s", name, error_format(&err, buf, sizeof(buf)));
        return;
    }
    /* The new source got its wake-up at creation (ui_options.switch_context). */
    source_free(ui->src);
    ui->src = next;
    if (ui->snap)
        snapshot_release(ui->snap);
    ui->snap = NULL;
    /* Views keep per-source state (watched job, selection): start them afresh. */
    while (ui->depth > 0)
        bury(ui, ui->stack[--ui->depth]);
    for (int n = 1; n <= N_ROOTS; n++) {
        const struct view_ops *ops = view_by_number(n);
        if (ui->roots[n] && ops && ops->close)
            ops->close(ui->roots[n]);
        ui->roots[n] = NULL;
    }
    switch_root(ui, 1);
    ui_message(ui, "context %s", name);
}

static void complete(struct ui *ui)
{
    size_t start;
    int idx = cmdline_word_index(&ui->cmd, &start);
    const char *const *cands = NULL;
    size_t n = 0;
    const char **jobs = NULL;
    if (idx == 0) {
        cands = commands;
        n = sizeof(commands) / sizeof(commands[0]);
    } else if (idx == 1) {
        const char *b = ui->cmd.buf;
        while (*b == ' ')
            b++;
        size_t wl = strcspn(b, " ");
        if (wl == 5 && !strncmp(b, "theme", 5)) {
            cands = theme_names;
            n = sizeof(theme_names) / sizeof(theme_names[0]);
        } else if (wl == 7 && !strncmp(b, "cutover", 7)) {
            cands = cutover_args;
            n = 1;
        } else if (((wl == 3 && !strncmp(b, "job", 3)) || (wl == 5 && !strncmp(b, "retry", 5))) &&
                   ui->snap && ui->snap->n_jobs) {
            jobs = malloc(ui->snap->n_jobs * sizeof(*jobs));
            if (jobs) {
                for (size_t i = 0; i < ui->snap->n_jobs; i++)
                    if (!ui->snap->jobs[i].is_group)
                        jobs[n++] = ui->snap->jobs[i].job_name;
                cands = jobs;
            }
        }
    }
    size_t m = cands ? cmdline_complete(&ui->cmd, cands, n, ui->completions,
                                        sizeof(ui->completions))
                     : 0;
    if (m <= 1)
        ui->completions[0] = 0;
    if (m == 0)
        ui_error(ui, "no completion");
    free(jobs);
}

/* ---- keys ---- */

static bool is_enter(int k)
{
    return k == '\n' || k == '\r' || k == KEY_ENTER;
}

/* Editing keys shared by the command line, the filter prompt and dialogs. */
static bool edit_key(struct cmdline *cl, int k, bool is_code)
{
    if (!is_code && k >= 0x20 && k != 0x7f)
        return cmdline_insert(cl, (uint32_t)k), true;
    switch (k) {
    case KEY_BACKSPACE:
    case 0x7f:
    case CTRL('h'):
        cmdline_backspace(cl);
        return true;
    case KEY_DC:
    case CTRL('d'):
        cmdline_delete(cl);
        return true;
    case KEY_LEFT:
    case CTRL('b'):
        cmdline_left(cl);
        return true;
    case KEY_RIGHT:
    case CTRL('f'):
        cmdline_right(cl);
        return true;
    case KEY_HOME:
    case CTRL('a'):
        cmdline_home(cl);
        return true;
    case KEY_END:
    case CTRL('e'):
        cmdline_end(cl);
        return true;
    case CTRL('u'):
        cmdline_kill_line(cl);
        return true;
    case CTRL('w'):
        cmdline_kill_word(cl);
        return true;
    default:
        return false;
    }
}

static void key_cmd(struct ui *ui, int k, bool is_code)
{
    if (k == KEY_ESC || (k == CTRL('c') && !is_code)) {
        ui->mode = MODE_VIEW;
    } else if (is_enter(k)) {
        char line[CMDLINE_MAX];
        snprintf(line, sizeof(line), "%s", ui->cmd.buf);
        cmdline_history_add(&ui->cmd, line);
        ui->mode = MODE_VIEW;
        ui->completions[0] = 0;
        run_command(ui, line);
        return;
    } else if (k == '\t') {
        complete(ui);
        return;
    } else if (k == KEY_UP) {
        cmdline_history_prev(&ui->cmd);
    } else if (k == KEY_DOWN) {
        cmdline_history_next(&ui->cmd);
    } else if ((k == KEY_BACKSPACE || k == 0x7f || k == CTRL('h')) && ui->cmd.len == 0) {
        ui->mode = MODE_VIEW;
    } else {
        edit_key(&ui->cmd, k, is_code);
    }
    ui->completions[0] = 0;
}

static void key_filter(struct ui *ui, int k, bool is_code)
{
    if (k == KEY_ESC) {
        set_filter(ui, ui->filter_before);
        ui->mode = MODE_VIEW;
        return;
    }
    if (is_enter(k)) {
        snprintf(ui->filter_before, sizeof(ui->filter_before), "%s", ui->filter.buf);
        cmdline_history_add(&ui->filter, ui->filter.buf);
        ui->mode = MODE_VIEW;
        return;
    }
    if (k == KEY_UP)
        cmdline_history_prev(&ui->filter);
    else if (k == KEY_DOWN)
        cmdline_history_next(&ui->filter);
    else if (!edit_key(&ui->filter, k, is_code))
        return;
    /* Filter as you type. */
    set_filter(ui, ui->filter.buf);
}

/* The quit dialog answers on one key: d or Enter detach, s stop, c or Esc cancel. */
static void key_quit_dialog(struct ui *ui, int k, bool is_code)
{
    if (k == KEY_ESC || (!is_code && (k == 'c' || k == 'C'))) {
        dialog_close(ui);
    } else if (is_enter(k) || (!is_code && (k == 'd' || k == 'D'))) {
        ui->end = UI_END_DETACH;
        ui->quit = true;
    } else if (!is_code && (k == 's' || k == 'S')) {
        ui->end = UI_END_STOP;
        ui->quit = true;
    }
}

static void key_dialog(struct ui *ui, int k, bool is_code)
{
    if (ui->dlg == DLG_QUIT) {
        key_quit_dialog(ui, k, is_code);
        return;
    }
    if (k == KEY_ESC) {
        dialog_close(ui);
        return;
    }
    if (is_enter(k)) {
        dialog_submit(ui);
        return;
    }
    if (edit_key(&ui->dlg_input, k, is_code))
        ui->dlg_error[0] = 0;
}

static void cycle_view(struct ui *ui, int dir)
{
    int n = ui->depth > 0 ? root_number(ui->stack[0].ops) : 0;
    if (n == 0)
        n = 1;
    n = (n - 1 + dir + N_ROOTS) % N_ROOTS + 1;
    switch_root(ui, n);
}

static void key_view(struct ui *ui, int k, bool is_code)
{
    struct nav *t = top(ui);
    if (!is_code && k >= '1' && k <= '0' + N_ROOTS) {
        switch_root(ui, k - '0');
        return;
    }
    if (k == '\t') {
        cycle_view(ui, 1);
        return;
    }
    if (k == KEY_BTAB) {
        cycle_view(ui, -1);
        return;
    }
    if (k == '?') {
        ui->mode = MODE_HELP;
        ui->help_top = 0;
        return;
    }
    if (k == ':') {
        cmdline_reset(&ui->cmd);
        ui->completions[0] = 0;
        ui->mode = MODE_CMD;
        return;
    }
    if (k == '/' && t && t->ops->set_filter) {
        cmdline_reset(&ui->filter);
        cmdline_set(&ui->filter, ui->filter_before);
        ui->mode = MODE_FILTER;
        return;
    }
    if (t && t->ops->key && ui->snap) {
        struct view_ctx ctx = {time_now_ms(), ui->ti.ascii, read_only(ui), false, ui};
        if (t->ops->key(t->state, ui->snap, &ctx, k) == KEY_HANDLED)
            return;
    }
    if (k == 'q') {
        if (ui->depth > 1)
            ui_back(ui);
        else
            request_quit(ui);
    } else if (k == KEY_ESC) {
        ui_back(ui);
    }
}

static void handle_key(struct ui *ui, int k, bool is_code)
{
    ui->dirty = true;
    if (k == KEY_RESIZE) {
        draw_erase();
        return;
    }
    if (k == CTRL('l') && !is_code) {
        term_repaint();
        return;
    }
    if (ui->mode == MODE_VIEW)
        ui->message[0] = 0;
    switch (ui->mode) {
    case MODE_HELP:
        if (k == 'j' || k == KEY_DOWN)
            ui->help_top++;
        else if (k == 'k' || k == KEY_UP)
            ui->help_top--;
        else
            ui->mode = MODE_VIEW;
        break;
    case MODE_CMD:
        key_cmd(ui, k, is_code);
        break;
    case MODE_FILTER:
        key_filter(ui, k, is_code);
        break;
    case MODE_DIALOG:
        key_dialog(ui, k, is_code);
        break;
    case MODE_VIEW:
        key_view(ui, k, is_code);
        break;
    }
    flush_grave(ui);
}

/* Reads every pending key; returns false when stdin is gone. */
static bool read_keys(struct ui *ui)
{
    for (int i = 0; i < 256; i++) {
        wint_t wc;
        int r = get_wch(&wc);
        if (r == ERR)
            return i > 0 || errno == EINTR || errno == EAGAIN;
        handle_key(ui, (int)wc, r == KEY_CODE_YES);
        if (ui->quit)
            break;
    }
    return true;
}

static void check_snapshot(struct ui *ui)
{
    struct snapshot *s = source_snapshot(ui->src);
    if (!s)
        return;
    if (ui->snap && s->generation == ui->snap->generation && s == ui->snap) {
        snapshot_release(s);
        return;
    }
    if (ui->snap)
        snapshot_release(ui->snap);
    ui->snap = s;
    ui->dirty = true;
    dialog_check_result(ui);
    /* Several deployments and none chosen: the picker comes up by itself, and goes once
     * one is chosen. */
    const struct nav *t = top(ui);
    bool picking = t && strcmp(t->ops->name, "deployments") == 0;
    if (s->n_deployments && !picking)
        ui_open_view(ui, "deployments", NULL);
    else if (!s->n_deployments && picking)
        ui_back(ui);
}

static void drain(int fd)
{
    char buf[64];
    while (read(fd, buf, sizeof(buf)) > 0)
        ;
}

static void open_initial(struct ui *ui)
{
    const char *v = ui->opt.initial_view;
    switch_root(ui, 1);
    if (!v || !*v)
        return;
    if (!strncmp(v, "job:", 4)) {
        ui_open_view(ui, "job", v + 4);
        return;
    }
    const struct view_ops *ops = view_by_name(v);
    int n = ops ? root_number(ops) : 0;
    if (n)
        switch_root(ui, n);
    else
        ui_error(ui, "no view named %s", v);
}

static void ui_free(struct ui *ui)
{
    while (ui->depth > 0)
        bury(ui, ui->stack[--ui->depth]);
    flush_grave(ui);
    for (int n = 1; n <= N_ROOTS; n++) {
        const struct view_ops *ops = view_by_number(n);
        if (ui->roots[n] && ops && ops->close)
            ops->close(ui->roots[n]);
    }
    if (ui->snap)
        snapshot_release(ui->snap);
    cmdline_fini(&ui->cmd);
    cmdline_fini(&ui->filter);
    cmdline_fini(&ui->dlg_input);
    canvas_free(ui->screen);
    canvas_free(ui->view);
    free(ui);
}

int ui_run(struct source **srcp, const struct ui_options *opt, struct error *err)
{
    struct source *src = *srcp;
    error_clear(err);
    struct ui *ui = calloc(1, sizeof(*ui));
    if (!ui) {
        error_set(err, EXIT_USAGE, "out of memory");
        return EXIT_USAGE;
    }
    ui->src = src;
    ui->opt = *opt;
    ui->wake[0] = ui->wake[1] = -1;
    cmdline_init(&ui->cmd);
    cmdline_init(&ui->filter);
    cmdline_init(&ui->dlg_input);
    /* A bad theme is a usage error, reported before the screen changes. */
    if ((opt->theme_file ? theme_load_file(&ui->theme, opt->theme_file, err)
                         : theme_find(&ui->theme, opt->theme, NULL, 0, err)) != 0) {
        ui_free(ui);
        return err->code ? err->code : EXIT_USAGE;
    }
    if (g_wake_pipe[0] < 0 && pipe2(g_wake_pipe, O_NONBLOCK | O_CLOEXEC) != 0) {
        error_set(err, EXIT_USAGE, "pipe: %s", strerror(errno));
        g_wake_pipe[0] = g_wake_pipe[1] = -1;
        ui_free(ui);
        return EXIT_USAGE;
    }
    ui->wake[0] = g_wake_pipe[0];
    ui->wake[1] = g_wake_pipe[1];
    struct term_options to = {opt->color, opt->ascii, opt->console_log};
    if (term_init(&to, &ui->ti, err) != 0) {
        ui_free(ui);
        return err->code ? err->code : EXIT_USAGE;
    }
    int w, h;
    term_size(&w, &h);
    ui->screen = canvas_new(w, h, ui->ti.ascii);
    ui->view = canvas_new(w, h > 2 ? h - 2 : 0, ui->ti.ascii);
    if (!ui->screen || !ui->view) {
        term_fini();
        ui_free(ui);
        error_set(err, EXIT_USAGE, "out of memory");
        return EXIT_USAGE;
    }
    ui->g = glyphs_get(ui->ti.ascii);
    draw_init(&ui->theme, ui->ti.colors);
    nodelay(stdscr, TRUE);
    atomic_store(&g_wake_fd, ui->wake[1]);
    term_set_wake_fd(ui->wake[1]);
    /* The source was made with ui_wake as its notify: writing it now would race. */
    drain(ui->wake[0]);

    open_initial(ui);
    check_snapshot(ui);
    ui->dirty = true;
    bool hung_up = false;
    while (!ui->quit && !term_quit_requested()) {
        if (ui->dirty) {
            watchdog_arm(ui->opt.watchdog);
            render(ui);
            watchdog_disarm(ui->opt.watchdog);
            ui->dirty = false;
        }
        int64_t now = time_now_ms();
        int timeout = 1000 - (int)(now % 1000);
        if (timeout <= 0 || timeout > 1000)
            timeout = 1000;
        struct pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0}, {ui->wake[0], POLLIN, 0}};
        int r = poll(fds, 2, timeout);
        term_log_bound();
        if (r < 0) {
            if (errno != EINTR)
                break;
            /* SIGWINCH: curses turns it into KEY_RESIZE on the next read. */
            read_keys(ui);
            continue;
        }
        if (r == 0)
            ui->dirty = true; /* the age tick */
        if (fds[1].revents & POLLIN)
            drain(ui->wake[0]);
        check_snapshot(ui);
        if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            /* A hung-up terminal would otherwise wake us forever (reads may say EAGAIN). */
            read_keys(ui);
            if (fds[0].revents & (POLLHUP | POLLERR)) {
                hung_up = true;
                break;
            }
        }
    }
    /* The loop saw the quit request: a step that tells the watchdog the UI heeded it. */
    watchdog_disarm(ui->opt.watchdog);
    *srcp = ui->src;
    if (opt->end)
        *opt->end = ui->quit ? ui->end : hung_up || term_hangup_requested() ? UI_END_HANGUP
                                                                            : UI_END_SIGNAL;
    term_set_wake_fd(-1);
    atomic_store(&g_wake_fd, -1);
    term_fini();
    ui_free(ui);
    return EXIT_OK;
}
