/*
 * sanitize: the one sanitizer every string from outside passes before it
 * reaches the screen (DESIGN §7). Pure: no curses, no global state besides
 * the C library's locale (wcwidth, MB_CUR_MAX).
 *
 * Rules, applied to UTF-8 input:
 * - invalid UTF-8 (bad lead bytes, truncated, overlong, surrogates, beyond
 *   U+10FFFF) becomes U+FFFD, one per offending byte;
 * - C0 controls and DEL become their Unicode "control pictures" (ESC ->
 *   U+241B) or, on the ASCII ladder, caret notation ("^["); TAB becomes one
 *   space so log columns stay readable;
 * - a whole escape sequence (CSI "ESC [ ... final", OSC/DCS/APC/PM/SOS
 *   strings ended by BEL or "ESC \\", nF "ESC ( B", two-byte "ESC x") and the
 *   C1 introducers U+009B/U+009D/U+0090... are shown as ONE placeholder and
 *   never interpreted; other C1 controls become U+FFFD ('?');
 * - widths come from wcwidth; zero-width and combining characters are
 *   dropped (a cell holds one code point), unprintable ones become U+FFFD;
 * - in the ASCII ladder, or when the locale is not multibyte, every code
 *   point >= 0x80 becomes '?' so no byte >= 0x80 is ever emitted;
 * - text cut to fit ends with an ellipsis (U+2026, or '~' in ASCII).
 *
 * Thread safety: reentrant (the locale must not change concurrently).
 */
#ifndef CATALYST_SANITIZE_H
#define CATALYST_SANITIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SAN_ELLIPSIS_UTF8 0x2026u
#define SAN_ELLIPSIS_ASCII '~'

/*
 * Sanitize `in` (NUL-terminated, NULL treated as "") into display cells:
 * out[i] is a code point, widths[i] its width (1 or 2). At most max_cells
 * cells and max_cols columns (max_cols < 0: unlimited); when the text does
 * not fit, the last column is an ellipsis. Returns the number of cells;
 * *cols (may be NULL) receives the columns used.
 */
size_t sanitize_cells(const char *in, bool ascii, uint32_t *out, uint8_t *widths,
                      size_t max_cells, int max_cols, int *cols);

/* Display width of `in` once sanitized (no truncation). */
int sanitize_width(const char *in, bool ascii);

/*
 * Sanitize into a UTF-8 string (ASCII only when ascii), at most max_cols
 * columns (< 0 unlimited), truncated with the ellipsis. buf always ends in
 * NUL (n > 0). Returns the columns used.
 */
int sanitize_str(const char *in, bool ascii, int max_cols, char *buf, size_t n);

/* Encode one code point as UTF-8 into out (>= 4 bytes); returns the length. */
size_t sanitize_utf8_encode(uint32_t cp, char *out);

/*
 * Whether a trusted glyph (from a glyph table) can be drawn as is: returns
 * its width (1 or 2), or 0 when it must be replaced ('?' in ASCII).
 */
int sanitize_glyph_width(uint32_t cp, bool ascii);

#endif
