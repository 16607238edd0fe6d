/*
 * view: the small vtable every screen implements (tig's view_ops). A view's
 * model() is a pure function of (snapshot, view state, size) into a canvas;
 * it never touches curses. key() changes only the view state, or asks the UI
 * for something through the ui_* calls in ui.h (navigate, act, prompt).
 * Views are registered once in the table in views.c.
 *
 * Ownership: open() returns a state the view owns; close() frees it.
 * Threading: UI thread only.
 */
#ifndef CATALYST_VIEW_H
#define CATALYST_VIEW_H

#include "canvas.h"
#include "snapshot.h"

struct ui;

struct key_help {
    const char *key;    /* "j/k", "Enter" */
    const char *what;   /* "move", "open the job" */
};

/* What a view needs besides the snapshot to compute a frame. */
struct view_ctx {
    int64_t now_ms;     /* the clock for ages, elapsed and countdowns */
    bool ascii;         /* glyph ladder */
    bool read_only;     /* hide actions */
    bool once;          /* --once text rendering: no selection, list every row that fits */
    struct ui *ui;      /* for key(): navigation and actions; NULL in pure tests */
};

enum key_result { KEY_UNHANDLED = 0, KEY_HANDLED = 1 };

struct view_ops {
    const char *name;                   /* "dashboard", "jobs", "dag", ... "job" */
    const char *title;                  /* "Dashboard" */
    void *(*open)(const char *arg);     /* arg: job id/name for "job", else NULL */
    void (*close)(void *state);
    /* Fill c (the view's area, already cleared) from the snapshot. */
    void (*model)(void *state, const struct snapshot *s, const struct view_ctx *ctx,
                  struct canvas *c);
    /* ch: a curses key code or wide char. */
    enum key_result (*key)(void *state, const struct snapshot *s, const struct view_ctx *ctx,
                           int ch);
    const struct key_help *(*help)(void); /* NULL-terminated {NULL, NULL} */
    /* Set the view's filter string (":filter", "/"); may be NULL if unsupported. */
    void (*set_filter)(void *state, const char *filter);
};

/* The registry (views.c): views by number 1..6 and by name. */
const struct view_ops *view_by_name(const char *name);
const struct view_ops *view_by_number(int n);   /* 1 dashboard .. 6 cutover */
size_t view_count(void);

#endif
