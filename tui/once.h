/*
 * once: one rendering of a view as plain aligned text (--once), and the
 * one-line-per-change log of `wait`. Both are pure over snapshots: the view
 * models fill a canvas (so every string passes the sanitizer) and the rows
 * are printed without any escape code.
 *
 * Threading: any thread, no curses.
 */
#ifndef CATALYST_ONCE_H
#define CATALYST_ONCE_H

#include "snapshot.h"
#include "util.h"

#include <stdio.h>

/*
 * view: dashboard, jobs, dag, timeline, tree, cutover or job:<name-or-id>.
 * width: columns to lay out for. Returns 0, or -1 with err (EXIT_USAGE for an
 * unknown view or job).
 */
int once_render(const struct snapshot *s, const char *view, int width, bool ascii, FILE *out,
                struct error *err);

/*
 * Appends to out one line per change between prev (may be NULL) and cur: job
 * status changes, cutover step results and the sovereignty state, every name
 * and message sanitized. Returns the number of lines written.
 */
int once_changes(const struct snapshot *prev, const struct snapshot *cur, bool cutover, FILE *out);

/*
 * Flushes out and tells whether any write to it failed (a full disk, a closed
 * pipe): -1 with err (EXIT_FAILED, "writing to NAME: <reason>"), else 0. The
 * reason is errno from the failing write: callers set errno = 0 before
 * writing so an older errno is never shown.
 */
int once_flush(FILE *out, const char *name, struct error *err);

/* Columns a name or message from the server may take on a change line. */
#define ONCE_TEXT_COLS 400

/*
 * Writes "catalyst-tui: <msg>" and a newline to out, msg sanitized: error
 * messages carry server text (codes, details, deployment ids, JSON keys), so
 * no control character or escape sequence may reach the terminal raw.
 */
void once_error(FILE *out, const char *msg);

#endif
