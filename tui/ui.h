/*
 * ui: the console's UI loop (DESIGN §4) and the chrome around views: header,
 * status bar, help overlay, ':' command line, confirmation dialogs. It waits
 * on input and a self-pipe and redraws only on input, a new snapshot
 * generation, a resize or the once-a-second age tick.
 *
 * Views reach the UI only through the calls below (from their key()).
 * Threading: UI thread only, except ui_wake which any thread may call.
 */
#ifndef CATALYST_UI_H
#define CATALYST_UI_H

#include "source.h"
#include "watchdog.h"

struct ui;

/* Why ui_run returned. */
enum ui_end {
    UI_END_QUIT = 0,   /* q / :quit with nothing in flight, or an attached console */
    UI_END_DETACH,     /* the quit dialog's "detach": the engine keeps running headless */
    UI_END_STOP,       /* the quit dialog's "stop the jobs" */
    UI_END_HANGUP,     /* SIGHUP or the terminal went away: detach, like UI_END_DETACH */
    UI_END_SIGNAL,     /* SIGINT / SIGTERM */
};

struct ui_options {
    const char *theme;        /* a theme name, NULL => default */
    const char *theme_file;   /* --theme-file: wins over theme when set */
    int color;                /* 0 auto, 1 never, 2 always */
    bool ascii;               /* force the ASCII glyph ladder */
    const char *console_log;  /* where stderr goes while the screen is up (term.h) */
    bool read_only;
    const char *initial_view; /* "dashboard" or "job:<name>" ... */
    int refresh_s;            /* for the status bar ("every 2s") */
    /*
     * ":ctx NAME": returns a new source for the named context (NULL with err
     * filled when it cannot), which replaces the current one. NULL when the
     * console has no contexts to switch to.
     */
    struct source *(*switch_context)(void *arg, const char *name, struct error *err);
    void *switch_arg;
    /* Armed while a frame is computed (model + draw, not the terminal write), and
     * disarmed once more when the loop ends. */
    struct watchdog *watchdog; /* NULL: none */
    /*
     * A console that owns its engine: true while a job can still run or a
     * cutover runs. q then asks: detach (the default), stop the jobs, or
     * cancel. NULL (remote and attached consoles): q just quits.
     */
    bool (*work_in_flight)(void *arg);
    void *work_arg;
    enum ui_end *end;         /* optional out: why the loop ended */
};

/*
 * Runs the console until quit. *srcp is the source to read; after ":ctx" it
 * may have been replaced (the old one freed), so the caller frees *srcp.
 * Returns an exit class (EXIT_OK, EXIT_USAGE ...).
 */
int ui_run(struct source **srcp, const struct ui_options *opt, struct error *err);

/* Any thread: wake the loop (a new snapshot was published). */
void ui_wake(void *ui_ctx);

/* ---- for views ---- */
/* Push a view on the navigation stack ("job" with arg = job id). */
void ui_open_view(struct ui *ui, const char *name, const char *arg);
/* Pop back (Esc/q). */
void ui_back(struct ui *ui);
/* Ask for a typed confirmation, then retry the job through the source. */
void ui_request_retry(struct ui *ui, const char *job_id);
/* Open the "Achieve true sovereignty" dialog. */
void ui_request_cutover(struct ui *ui);
/* A one-line message in the status bar. */
void ui_message(struct ui *ui, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The source, to tell it which job to watch. */
struct source *ui_source(struct ui *ui);

#endif
