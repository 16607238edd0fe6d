/*
 * cmdline: the ':' command line and '/' prompt as a pure line editor (no
 * curses, so it is unit-tested): a byte buffer edited at a cursor, word
 * completion against a candidate list, and a history browsed with Up/Down.
 * The UI maps keys to these calls. Input is kept printable ASCII/UTF-8;
 * control bytes are refused by cmdline_insert.
 *
 * Ownership: a cmdline owns its buffer and history strings (cmdline_fini).
 * Not thread-safe (UI thread).
 */
#ifndef CATALYST_CMDLINE_H
#define CATALYST_CMDLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CMDLINE_MAX 256
#define CMDLINE_HISTORY 64

struct cmdline {
    char buf[CMDLINE_MAX];   /* NUL-terminated */
    size_t len, cur;         /* bytes; cur is always on a UTF-8 boundary */
    char *hist[CMDLINE_HISTORY]; /* oldest first, owned */
    int n_hist;
    int hist_pos;            /* n_hist while editing a new line */
    char draft[CMDLINE_MAX]; /* the new line, kept while browsing history */
};

void cmdline_init(struct cmdline *c);
void cmdline_fini(struct cmdline *c);
/* Start a new line (history kept). */
void cmdline_reset(struct cmdline *c);
void cmdline_set(struct cmdline *c, const char *text);
/* Insert a Unicode code point at the cursor; false when refused (control or full). */
bool cmdline_insert(struct cmdline *c, uint32_t cp);
void cmdline_backspace(struct cmdline *c);
void cmdline_delete(struct cmdline *c);
void cmdline_left(struct cmdline *c);
void cmdline_right(struct cmdline *c);
void cmdline_home(struct cmdline *c);
void cmdline_end(struct cmdline *c);
void cmdline_kill_line(struct cmdline *c);   /* Ctrl-U: delete before the cursor */
void cmdline_kill_word(struct cmdline *c);   /* Ctrl-W: delete the word before the cursor */
/* Remember a submitted line (empty lines and repeats of the last one are skipped). */
void cmdline_history_add(struct cmdline *c, const char *line);
void cmdline_history_prev(struct cmdline *c);   /* Up */
void cmdline_history_next(struct cmdline *c);   /* Down */

/* Index of the word the cursor is in (0 = the command) and its start offset. */
int cmdline_word_index(const struct cmdline *c, size_t *word_start);
/*
 * Complete the word before the cursor against cands: a unique match is
 * completed and followed by a space; several extend the word to their common
 * prefix. Returns the number of matches; `shown` (may be NULL) receives them
 * separated by two spaces, for the status line.
 */
size_t cmdline_complete(struct cmdline *c, const char *const *cands, size_t n, char *shown,
                        size_t shown_n);

#endif
