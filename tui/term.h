/*
 * term: the terminal lifecycle in one module (htop's CRT.c): locale, wide
 * curses, the colour ladder (256 -> 16 -> 8 -> mono), the glyph ladder
 * (UTF-8 / ASCII), signals and restoring the terminal on every exit path
 * (normal, error, SIGINT/SIGTERM/SIGHUP via a flag the loop reads, crash
 * signals via a handler that restores and re-raises, atexit, and a stuck UI
 * thread via term_emergency_restore from the watchdog's thread).
 *
 * While curses owns the screen, stderr goes to the console log
 * (term_options.stderr_log: <state-dir>/console.log standalone, else
 * $XDG_STATE_HOME/catalyst-tui/console.log), opened O_APPEND, 0600, never
 * through a symlink. A log over TERM_LOG_MAX when the console starts, or
 * later in the run (term_log_bound), is renamed to console.log.1 (one
 * generation kept). Each run appends a
 * "--- catalyst-tui console started TIME pid N" line. When the run wrote
 * anything (warnings, a sanitizer report, a crash message), that output is
 * printed again on the terminal after endwin if at most 8 KiB (as htop does),
 * and in every case the log's path is printed; the file stays. Without a
 * usable log, an unlinked temporary file is used and copied back as before.
 *
 * Singleton: one terminal per process. UI thread only, except the calls
 * marked "any thread" (the watchdog's: a stuck UI thread cannot restore).
 * What those calls share with the UI thread and the signal handlers (the
 * active flag, the quit count and signal) is in lock-free atomics; whichever
 * of term_fini and term_emergency_restore clears the active flag restores.
 */
#ifndef CATALYST_TERM_H
#define CATALYST_TERM_H

#include "util.h"

#include <stdbool.h>

struct term_options {
    int color;     /* 0 auto, 1 never, 2 always */
    bool ascii;    /* force the ASCII glyph ladder */
    const char *stderr_log; /* the console log for captured stderr (NULL: temp file) */
};

/* The console log is rotated when larger than this at start (1 MiB). */
#define TERM_LOG_MAX (1L << 20)
/*
 * UI thread: rotates the console log once more when this run has grown it
 * past TERM_LOG_MAX (PATH.1 keeps the older part), so a run that writes
 * without end stays within about twice the cap. Cheap: one fstat.
 */
void term_log_bound(void);

struct term_info {
    bool utf8;     /* the locale's codeset is UTF-8 */
    bool ascii;    /* glyph ladder in use */
    int colors;    /* 256, 16, 8, or 0 for mono */
};

/*
 * setlocale(LC_ALL, "") and the ladders, without touching the terminal
 * (also used by --once). NO_COLOR (non-empty) means mono unless color == 2.
 */
void term_detect(const struct term_options *o, struct term_info *out);
/*
 * Whether $TERM can move the cursor (has "cup"). A terminal that cannot
 * (TERM=dumb, an emacs shell) gets line output instead of the screen.
 */
bool term_addressable(void);
/* Start curses. Returns 0, or -1 with err (EXIT_USAGE) when the terminal is unusable. */
int term_init(const struct term_options *o, struct term_info *out, struct error *err);
/* Restore the terminal and print captured stderr. Idempotent; safe before term_init. */
void term_fini(void);
/* Set when SIGINT/SIGTERM/SIGHUP arrived: the loop should end. */
bool term_quit_requested(void);
/* Any thread: how many of those signals arrived so far, and the last one's number (0: none). */
unsigned long term_quit_count(void);
int term_quit_signal(void);
/*
 * Any thread, async-signal-safe: the terminal back as the shell had it while
 * another thread may be stuck inside curses: the saved termios and exit
 * sequences precomputed by term_init (no curses call), then the captured
 * stderr. The caller exits right after; curses is not usable any more.
 */
void term_emergency_restore(void);
/* Set when the quit was SIGHUP: the terminal is gone (a standalone console detaches). */
bool term_hangup_requested(void);
/* The handlers also write one byte here so a blocked poll() wakes (-1: none). */
void term_set_wake_fd(int fd);
/* Current size (at least 0x0). */
void term_size(int *w, int *h);
/* Force a full repaint on the next refresh (Ctrl-L). */
void term_repaint(void);

#endif
