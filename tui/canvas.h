/*
 * canvas: a grid of styled cells that view models fill and a thin draw step
 * copies to curses (htop's RichString, tig's column data). No curses here, so
 * every view model is testable without a terminal.
 *
 * Every string put on a canvas goes through the one sanitizer (sanitize.h):
 * control characters and escape sequences become visible placeholders,
 * invalid UTF-8 becomes U+FFFD, widths come from wcwidth, and text cut to fit
 * ends with an ellipsis glyph. That makes the canvas the single funnel from
 * outside data to the terminal.
 *
 * Ownership: a canvas owns its cells. Not thread-safe (UI thread only).
 */
#ifndef CATALYST_CANVAS_H
#define CATALYST_CANVAS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Colour roles: themes (the YAML files in themes/) map each to colours; mono uses attrs. */
enum role {
    ROLE_NORMAL = 0,
    ROLE_DIM,
    ROLE_HEADER,          /* header bar */
    ROLE_TITLE,           /* section titles */
    ROLE_BORDER,
    ROLE_SELECTED,        /* the selected row */
    ROLE_PENDING,         /* job/step status roles */
    ROLE_RUNNING,
    ROLE_SUCCEEDED,
    ROLE_FAILED,
    ROLE_BLOCKED,
    ROLE_TETHERED,        /* sovereignty badge */
    ROLE_SOVEREIGN,
    ROLE_LOG_INFO,
    ROLE_LOG_DEBUG,
    ROLE_LOG_WARN,
    ROLE_LOG_ERROR,
    ROLE_STALE,
    ROLE_ERROR,
    ROLE_ACCENT,          /* key hints, links, focus */
    ROLE_UPSTREAM,        /* DAG highlights */
    ROLE_DOWNSTREAM,
    ROLE_CRITICAL,
    ROLE_GAUGE_FILL,
    ROLE_GAUGE_EMPTY,
    ROLE_STATUSBAR,
    ROLE_DIALOG,
    ROLE_COUNT
};

enum cell_attr {
    ATTR_BOLD = 1,
    ATTR_REVERSE = 2,
    ATTR_UNDERLINE = 4,
    ATTR_DIM = 8,
};

struct cell {
    uint32_t ch;          /* Unicode scalar; 0 = right half of a wide character */
    uint8_t role;         /* enum role */
    uint8_t attr;         /* enum cell_attr bits */
};

struct canvas {
    int w, h;
    struct cell *cells;   /* owned, w*h */
    bool ascii;           /* glyph ladder: ASCII only (no byte >= 0x80 reaches the screen) */
};

struct canvas *canvas_new(int w, int h, bool ascii);
void canvas_free(struct canvas *c);
/* Resize, keeping nothing; all cells blank ROLE_NORMAL. Returns 0 or -1 (OOM). */
int canvas_resize(struct canvas *c, int w, int h);
void canvas_clear(struct canvas *c);
/* Fill a rectangle with blanks of a role (clipped). */
void canvas_fill(struct canvas *c, int y, int x, int h, int w, enum role role);
/*
 * Put untrusted UTF-8 text at (y, x), at most maxw columns (clipped to the
 * canvas; maxw < 0 means to the right edge). Sanitized; truncated text ends
 * with an ellipsis. Returns the columns written.
 */
int canvas_text(struct canvas *c, int y, int x, int maxw, const char *s, enum role role,
                unsigned attr);
/* printf-style convenience over canvas_text. */
int canvas_printf(struct canvas *c, int y, int x, int maxw, enum role role, unsigned attr,
                  const char *fmt, ...) __attribute__((format(printf, 7, 8)));
/* One glyph (a code point already chosen from the glyph table). */
void canvas_glyph(struct canvas *c, int y, int x, uint32_t ch, enum role role, unsigned attr);
/* Change role/attr of a run of cells without touching the text. */
void canvas_style(struct canvas *c, int y, int x, int w, enum role role, unsigned attr);
const struct cell *canvas_at(const struct canvas *c, int y, int x);
/* Row y as UTF-8 text, trailing blanks trimmed (tests, --once output). */
size_t canvas_row_text(const struct canvas *c, int y, char *buf, size_t n);

#endif
