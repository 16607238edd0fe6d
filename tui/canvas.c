/* canvas: a grid of styled cells; the only funnel from text to the screen. */
#include "canvas.h"

#include "sanitize.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int clamp_dim(int v)
{
    return v < 0 ? 0 : v;
}

static struct cell blank(enum role role)
{
    struct cell b = {' ', (uint8_t)role, 0};
    return b;
}

struct canvas *canvas_new(int w, int h, bool ascii)
{
    struct canvas *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->ascii = ascii;
    if (canvas_resize(c, w, h) != 0) {
        free(c);
        return NULL;
    }
    return c;
}

void canvas_free(struct canvas *c)
{
    if (!c)
        return;
    free(c->cells);
    free(c);
}

int canvas_resize(struct canvas *c, int w, int h)
{
    w = clamp_dim(w);
    h = clamp_dim(h);
    size_t n = (size_t)w * (size_t)h;
    /* Always keep a valid pointer, even for an empty canvas. */
    struct cell *cells = malloc((n ? n : 1) * sizeof(*cells));
    if (!cells)
        return -1;
    free(c->cells);
    c->cells = cells;
    c->w = w;
    c->h = h;
    canvas_clear(c);
    return 0;
}

void canvas_clear(struct canvas *c)
{
    size_t n = (size_t)c->w * (size_t)c->h;
    for (size_t i = 0; i < n; i++)
        c->cells[i] = blank(ROLE_NORMAL);
}

static struct cell *cell_at(struct canvas *c, int y, int x)
{
    return &c->cells[(size_t)y * (size_t)c->w + (size_t)x];
}

/*
 * Writes one cell (and the right half of a wide one), first breaking any
 * wide character it would split so no half glyph is left behind.
 */
static void put(struct canvas *c, int y, int x, uint32_t ch, int width, enum role role,
                unsigned attr)
{
    if (y < 0 || y >= c->h || x < 0 || x + width > c->w)
        return;
    if (cell_at(c, y, x)->ch == 0 && x > 0)
        cell_at(c, y, x - 1)->ch = ' ';
    int last = x + width - 1;
    if (last + 1 < c->w && cell_at(c, y, last + 1)->ch == 0)
        cell_at(c, y, last + 1)->ch = ' ';
    struct cell *p = cell_at(c, y, x);
    p->ch = ch;
    p->role = (uint8_t)role;
    p->attr = (uint8_t)attr;
    if (width == 2) {
        p[1].ch = 0;
        p[1].role = (uint8_t)role;
        p[1].attr = (uint8_t)attr;
    }
}

void canvas_fill(struct canvas *c, int y, int x, int h, int w, enum role role)
{
    int y0 = y < 0 ? 0 : y, x0 = x < 0 ? 0 : x;
    long y1 = (long)y + h, x1 = (long)x + w;
    if (y1 > c->h)
        y1 = c->h;
    if (x1 > c->w)
        x1 = c->w;
    for (int yy = y0; yy < y1; yy++)
        for (int xx = x0; xx < x1; xx++)
            put(c, yy, xx, ' ', 1, role, 0);
}

int canvas_text(struct canvas *c, int y, int x, int maxw, const char *s, enum role role,
                unsigned attr)
{
    if (!c || y < 0 || y >= c->h || x >= c->w)
        return 0;
    long room = (long)c->w - x;
    if (maxw < 0 || maxw > room)
        maxw = (int)room;
    if (maxw <= 0)
        return 0;
    uint32_t cps[512];
    uint8_t ws[512];
    size_t cap = sizeof(cps) / sizeof(cps[0]);
    if ((size_t)maxw < cap)
        cap = (size_t)maxw;
    int cols = 0;
    size_t n = sanitize_cells(s, c->ascii, cps, ws, cap, maxw, &cols);
    int col = x;
    for (size_t i = 0; i < n; i++) {
        if (col >= 0)
            put(c, y, col, cps[i], ws[i], role, attr);
        else if (col + ws[i] > 0)
            put(c, y, 0, ' ', 1, role, attr); /* wide glyph cut by the left edge */
        col += ws[i];
    }
    return cols;
}

int canvas_printf(struct canvas *c, int y, int x, int maxw, enum role role, unsigned attr,
                  const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n < 0)
        return 0;
    if ((size_t)n < sizeof(buf))
        return canvas_text(c, y, x, maxw, buf, role, attr);
    char *big = malloc((size_t)n + 1);
    if (!big)
        return canvas_text(c, y, x, maxw, buf, role, attr);
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    int r = canvas_text(c, y, x, maxw, big, role, attr);
    free(big);
    return r;
}

void canvas_glyph(struct canvas *c, int y, int x, uint32_t ch, enum role role, unsigned attr)
{
    if (!c)
        return;
    int w = sanitize_glyph_width(ch, c->ascii);
    if (w == 0) {
        ch = c->ascii ? '?' : 0xfffdu;
        w = 1;
    }
    if (x + w > c->w && w == 2) {
        ch = c->ascii ? SAN_ELLIPSIS_ASCII : SAN_ELLIPSIS_UTF8;
        w = 1;
    }
    put(c, y, x, ch, w, role, attr);
}

void canvas_style(struct canvas *c, int y, int x, int w, enum role role, unsigned attr)
{
    if (!c || y < 0 || y >= c->h)
        return;
    int x0 = x < 0 ? 0 : x;
    long x1 = (long)x + w;
    if (x1 > c->w)
        x1 = c->w;
    for (int xx = x0; xx < x1; xx++) {
        struct cell *p = cell_at(c, y, xx);
        p->role = (uint8_t)role;
        p->attr = (uint8_t)attr;
    }
}

const struct cell *canvas_at(const struct canvas *c, int y, int x)
{
    if (!c || y < 0 || y >= c->h || x < 0 || x >= c->w)
        return NULL;
    return &c->cells[(size_t)y * (size_t)c->w + (size_t)x];
}

size_t canvas_row_text(const struct canvas *c, int y, char *buf, size_t n)
{
    if (n == 0)
        return 0;
    buf[0] = 0;
    if (!c || y < 0 || y >= c->h)
        return 0;
    size_t o = 0, trimmed = 0;
    for (int x = 0; x < c->w; x++) {
        uint32_t ch = c->cells[(size_t)y * (size_t)c->w + (size_t)x].ch;
        if (ch == 0)
            continue;
        char tmp[4];
        size_t l = sanitize_utf8_encode(ch, tmp);
        if (o + l + 1 > n)
            break;
        memcpy(buf + o, tmp, l);
        o += l;
        if (ch != ' ')
            trimmed = o;
    }
    buf[trimmed] = 0;
    return trimmed;
}
