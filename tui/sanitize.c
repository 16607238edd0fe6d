/* sanitize: untrusted UTF-8 -> safe display cells (see sanitize.h). */
#include "sanitize.h"

#include "util.h"

#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#define REPLACEMENT 0xfffdu
/* Marks the second cell of a caret pair while truncating. */
#define CONT 0x80u

/* Skips a string-type sequence body (OSC, DCS, ...): ends at BEL, ST or a control. */
static const unsigned char *skip_string_seq(const unsigned char *p)
{
    for (;;) {
        unsigned c = *p;
        if (c == 0)
            return p;
        if (c == 0x07)
            return p + 1;
        if (c == 0x1b)
            return p[1] == '\\' ? p + 2 : p;
        if (c == 0xc2 && p[1] == 0x9c) /* C1 ST as UTF-8 */
            return p + 2;
        if (c < 0x20 && c != 0x09)
            return p;
        p++;
    }
}

/* Skips CSI parameters, intermediates and the final byte. */
static const unsigned char *skip_csi(const unsigned char *p)
{
    while (*p >= 0x30 && *p <= 0x3f)
        p++;
    while (*p >= 0x20 && *p <= 0x2f)
        p++;
    if (*p >= 0x40 && *p <= 0x7e)
        p++;
    return p;
}

/* p points just after ESC: returns the end of the escape sequence. */
static const unsigned char *skip_escape(const unsigned char *p)
{
    unsigned c = *p;
    if (c == '[')
        return skip_csi(p + 1);
    if (c == ']' || c == 'P' || c == 'X' || c == '^' || c == '_')
        return skip_string_seq(p + 1);
    if (c >= 0x20 && c <= 0x2f) {
        while (*p >= 0x20 && *p <= 0x2f)
            p++;
        if (*p >= 0x30 && *p <= 0x7e)
            p++;
        return p;
    }
    if (c >= 0x30 && c <= 0x7e)
        return p + 1;
    return p; /* lone ESC */
}

/* Placeholder for control byte c (C0 or DEL): control picture or caret pair. */
static size_t control_placeholder(unsigned c, bool ascii, uint32_t *cps, uint8_t *ws)
{
    if (ascii) {
        cps[0] = '^';
        cps[1] = c == 0x7f ? '?' : c + 0x40;
        ws[0] = ws[1] = 1;
        return 2;
    }
    cps[0] = c == 0x7f ? 0x2421u : 0x2400u + c;
    ws[0] = 1;
    return 1;
}

/*
 * One display unit from *pp: 0 cells (dropped), 1 cell, or 2 (caret
 * notation). Advances *pp past everything it consumed.
 */
static size_t next_unit(const unsigned char **pp, bool ascii, bool mb, uint32_t *cps,
                        uint8_t *ws)
{
    const unsigned char *p = *pp;
    unsigned c = *p;
    if (c == 0x1b) {
        *pp = skip_escape(p + 1);
        return control_placeholder(0x1b, ascii, cps, ws);
    }
    if (c == '\t') {
        *pp = p + 1;
        cps[0] = ' ';
        ws[0] = 1;
        return 1;
    }
    if (c < 0x20 || c == 0x7f) {
        *pp = p + 1;
        return control_placeholder(c, ascii, cps, ws);
    }
    if (c < 0x80) {
        *pp = p + 1;
        cps[0] = c;
        ws[0] = 1;
        return 1;
    }
    uint32_t cp;
    /* The input is NUL-terminated: a sequence cut short by the end is invalid. */
    size_t n = utf8_decode(p, strnlen((const char *)p, 4), &cp);
    if (n == 0) {
        *pp = p + 1;
        cps[0] = ascii || !mb ? '?' : REPLACEMENT;
        ws[0] = 1;
        return 1;
    }
    *pp = p + n;
    if (cp >= 0x80 && cp <= 0x9f) {
        /* C1: sequence introducers swallow their sequence like ESC does. */
        if (cp == 0x9b)
            *pp = skip_csi(*pp);
        else if (cp == 0x9d || cp == 0x90 || cp == 0x98 || cp == 0x9e || cp == 0x9f)
            *pp = skip_string_seq(*pp);
        else {
            cps[0] = ascii || !mb ? '?' : REPLACEMENT;
            ws[0] = 1;
            return 1;
        }
        return control_placeholder(0x1b, ascii, cps, ws);
    }
    if (ascii || !mb) {
        int w = mb ? wcwidth((wchar_t)cp) : 1;
        if (w == 0)
            return 0;
        cps[0] = '?';
        ws[0] = 1;
        return 1;
    }
    int w = wcwidth((wchar_t)cp);
    if (w == 0)
        return 0;
    if (w < 0 || w > 2) {
        cps[0] = REPLACEMENT;
        ws[0] = 1;
        return 1;
    }
    cps[0] = cp;
    ws[0] = (uint8_t)w;
    return 1;
}

static bool locale_multibyte(void)
{
    return MB_CUR_MAX > 1;
}

size_t sanitize_cells(const char *in, bool ascii, uint32_t *out, uint8_t *widths,
                      size_t max_cells, int max_cols, int *cols)
{
    const unsigned char *p = (const unsigned char *)(in ? in : "");
    bool mb = locale_multibyte();
    bool asc = ascii || !mb;
    size_t n = 0;
    int used = 0;
    bool cut = false;
    while (*p) {
        uint32_t cps[2];
        uint8_t ws[2];
        size_t k = next_unit(&p, asc, mb, cps, ws);
        int uw = 0;
        for (size_t i = 0; i < k; i++)
            uw += ws[i];
        /* A unit (a caret pair) goes in whole or not at all. */
        if (n + k > max_cells || (max_cols >= 0 && used + uw > max_cols)) {
            cut = true;
            break;
        }
        for (size_t i = 0; i < k; i++) {
            out[n] = cps[i];
            widths[n] = (uint8_t)(ws[i] | (i ? CONT : 0));
            n++;
        }
        used += uw;
    }
    if (cut) {
        /* Make room for the one-column ellipsis at the end. */
        int limit = max_cols >= 0 ? max_cols : used + 1;
        while (n > 0 && (used + 1 > limit || n + 1 > max_cells)) {
            n--;
            used -= widths[n] & ~CONT;
            if ((widths[n] & CONT) && n > 0) {
                n--;
                used -= widths[n] & ~CONT;
            }
        }
        if (limit >= 1 && n < max_cells) {
            out[n] = asc ? (uint32_t)SAN_ELLIPSIS_ASCII : SAN_ELLIPSIS_UTF8;
            widths[n] = 1;
            n++;
            used++;
        }
    }
    for (size_t i = 0; i < n; i++)
        widths[i] &= (uint8_t)~CONT;
    if (cols)
        *cols = used;
    return n;
}

int sanitize_width(const char *in, bool ascii)
{
    const unsigned char *p = (const unsigned char *)(in ? in : "");
    bool mb = locale_multibyte();
    int used = 0;
    while (*p) {
        uint32_t cps[2];
        uint8_t ws[2];
        size_t k = next_unit(&p, ascii || !mb, mb, cps, ws);
        for (size_t i = 0; i < k; i++)
            used += ws[i];
    }
    return used;
}

size_t sanitize_utf8_encode(uint32_t cp, char *out)
{
    unsigned char *o = (unsigned char *)out;
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xc0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xe0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (unsigned char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (unsigned char)(0xf0 | (cp >> 18));
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (unsigned char)(0x80 | (cp & 0x3f));
    return 4;
}

int sanitize_str(const char *in, bool ascii, int max_cols, char *buf, size_t n)
{
    if (n == 0)
        return 0;
    buf[0] = 0;
    size_t len = in ? strlen(in) : 0;
    /* Every input byte yields at most two cells. */
    size_t cap = 2 * len + 2;
    uint32_t *cps = malloc(cap * sizeof(*cps));
    uint8_t *ws = malloc(cap);
    if (!cps || !ws) {
        free(cps);
        free(ws);
        return 0;
    }
    int cols = 0;
    size_t k = sanitize_cells(in, ascii, cps, ws, cap, max_cols, &cols);
    size_t o = 0;
    int written = 0;
    for (size_t i = 0; i < k; i++) {
        char tmp[4];
        size_t l = sanitize_utf8_encode(cps[i], tmp);
        if (o + l + 1 > n)
            break;
        memcpy(buf + o, tmp, l);
        o += l;
        written += ws[i];
    }
    buf[o] = 0;
    free(cps);
    free(ws);
    return written;
}

int sanitize_glyph_width(uint32_t cp, bool ascii)
{
    if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f))
        return 0;
    if (cp < 0x80)
        return 1;
    if (ascii || !locale_multibyte())
        return 0;
    int w = wcwidth((wchar_t)cp);
    return w == 1 || w == 2 ? w : 0;
}
