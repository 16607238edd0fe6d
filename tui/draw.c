/* draw: canvas -> curses with the theme's pairs and attributes (see draw.h). */
#include "draw.h"

#include <curses.h>
#include <wchar.h>

static struct {
    attr_t attrs[ROLE_COUNT];
    short pair[ROLE_COUNT];
} g_style;

static attr_t curses_attrs(unsigned a)
{
    attr_t r = A_NORMAL;
    if (a & ATTR_BOLD)
        r |= A_BOLD;
    if (a & ATTR_REVERSE)
        r |= A_REVERSE;
    if (a & ATTR_UNDERLINE)
        r |= A_UNDERLINE;
    if (a & ATTR_DIM)
        r |= A_DIM;
    return r;
}

void draw_init(const struct theme *t, int colors)
{
    for (int r = 0; r < ROLE_COUNT; r++) {
        struct theme_style s = theme_resolve(t, (enum role)r, colors);
        g_style.attrs[r] = curses_attrs(s.attrs);
        g_style.pair[r] = 0;
        if (colors > 0 && !t->monochrome && r + 1 < COLOR_PAIRS) {
            /* Pair 0 is fixed by curses; role r uses pair r + 1. */
            if (init_pair((short)(r + 1), s.fg, s.bg) == OK)
                g_style.pair[r] = (short)(r + 1);
        }
    }
}

void draw_canvas(const struct canvas *c, int y0, int x0)
{
    int sh, sw;
    getmaxyx(stdscr, sh, sw);
    for (int y = 0; y < c->h; y++) {
        int sy = y0 + y;
        if (sy < 0 || sy >= sh)
            continue;
        for (int x = 0; x < c->w; x++) {
            int sx = x0 + x;
            const struct cell *p = &c->cells[(size_t)y * (size_t)c->w + (size_t)x];
            if (p->ch == 0 || sx < 0 || sx >= sw)
                continue;
            unsigned role = p->role < ROLE_COUNT ? p->role : ROLE_NORMAL;
            wchar_t wc[2] = {(wchar_t)p->ch, 0};
            /* The canvas already sanitized text; this guards the ASCII promise. */
            if (c->ascii && p->ch >= 0x80)
                wc[0] = L'?';
            cchar_t cc;
            attr_t a = g_style.attrs[role] | curses_attrs(p->attr);
            if (setcchar(&cc, wc, a, g_style.pair[role], NULL) == OK)
                mvwadd_wch(stdscr, sy, sx, &cc);
        }
    }
}

void draw_flush(void)
{
    wnoutrefresh(stdscr);
    doupdate();
}

void draw_erase(void)
{
    werase(stdscr);
}
