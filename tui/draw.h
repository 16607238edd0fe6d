/*
 * draw: copies a canvas to curses (the only place besides term.c and ui.c
 * that calls curses). Each role gets one colour pair built from the theme
 * for the terminal's colour count; mono uses attributes only. Drawing never
 * clears the screen: it rewrites stdscr and lets curses send only the cells
 * that changed (wnoutrefresh + doupdate).
 *
 * UI thread only.
 */
#ifndef CATALYST_DRAW_H
#define CATALYST_DRAW_H

#include "canvas.h"
#include "theme.h"

/* Build the colour pairs for a theme at `colors` (256, 16, 8, 0 = mono). */
void draw_init(const struct theme *t, int colors);
/* Copy canvas c to the screen with its top-left at (y0, x0), clipped. */
void draw_canvas(const struct canvas *c, int y0, int x0);
/* Send the changes to the terminal. */
void draw_flush(void);
/* Erase the screen's contents (after a resize); the next flush repaints all. */
void draw_erase(void);

#endif
