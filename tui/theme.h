/*
 * theme: colour roles (enum role in canvas.h) mapped to colours and
 * attributes, loaded from YAML (themes/NAME.yaml) with one default compiled
 * in so a missing file never stops the console. No curses here: draw.c turns
 * a resolved style into colour pairs.
 *
 * File format:
 *
 *   name: default
 *   monochrome: false          # optional; true: attributes only, never colour
 *   roles:
 *     running: {fg: 39, fg16: bright-blue, bg: default, attrs: [bold], mono: [bold]}
 *
 * fg/bg: a name (black red green yellow blue magenta cyan white, bright-*,
 * default) or a 256-colour number 0..255. fg16/bg16 (optional, names or
 * 0..15) are used on 16- and 8-colour terminals; without them a 256-colour
 * number is mapped to the nearest of the 16 ANSI colours. On 8 colours a
 * bright foreground becomes its base colour plus bold. attrs (bold, reverse,
 * underline, dim) apply in colour; mono (default: attrs) applies without
 * colour. A role a user file leaves out inherits the built-in default.
 *
 * Errors name file:line:column and use exit class EXIT_USAGE. They never
 * quote a line of the file: a key is named only when it is a short plain
 * word (util_msg_word), a value never, since the file may be anything.
 * Ownership: plain values, no heap. Not thread-safe (UI thread).
 */
#ifndef CATALYST_THEME_H
#define CATALYST_THEME_H

#include "canvas.h"
#include "util.h"

#define THEME_DEFAULT_COLOR (-1)

struct theme_style {
    int16_t fg, bg;      /* THEME_DEFAULT_COLOR or 0..255 */
    uint8_t attrs;       /* enum cell_attr bits */
};

struct theme_role {
    struct theme_style c256;   /* colour on 256-colour terminals */
    struct theme_style c16;    /* 16/8-colour fallback (fg, bg in 0..15 or default) */
    uint8_t mono;              /* attributes without colour */
};

struct theme {
    char name[64];
    bool monochrome;
    bool defined[ROLE_COUNT];  /* role given by the file (not inherited) */
    struct theme_role roles[ROLE_COUNT];
};

/* The YAML text of the compiled-in default theme (same as themes/default.yaml). */
extern const char theme_default_yaml[];

/* The compiled-in default; never fails. */
void theme_builtin(struct theme *t);
/* Parse YAML text; `file` names it in errors. Returns 0 or -1 with err set. */
int theme_load_string(struct theme *t, const char *yaml, size_t len, const char *file,
                      struct error *err);
/*
 * --theme-file FILE: the file as given (a symlink is followed, its target
 * must be a regular file: a FIFO or a device is refused, never read).
 */
int theme_load_file(struct theme *t, const char *path, struct error *err);
/* A theme name: ^[a-z0-9][a-z0-9_-]*$, shorter than 64. */
bool theme_name_ok(const char *name);
/*
 * --theme NAME: a name only (theme_name_ok; a path is refused: files come
 * through --theme-file), searched as NAME.yaml in $CATALYST_TUI_THEMES,
 * ./themes, <exe dir>/themes, <exe dir>/../share/catalyst-tui/themes,
 * /usr/local/share/catalyst-tui/themes and /usr/share/catalyst-tui/themes.
 * NULL, "" or an unfound "default" give the built-in default. found_path
 * (may be NULL) receives the file used.
 */
int theme_find(struct theme *t, const char *name, char *found_path, size_t n,
               struct error *err);

const char *theme_role_name(enum role r);
int theme_role_parse(const char *name);
/* Colour 0..255 or THEME_DEFAULT_COLOR from a name or number; -2 when bad. */
int theme_color_parse(const char *s);
/* Nearest of the 16 ANSI colours to xterm colour c (0..255). */
int theme_color_to16(int c);

/*
 * The style to draw role r with on a terminal with `colors` colours
 * (256, 16, 8, or 0 for mono: fg/bg then are THEME_DEFAULT_COLOR).
 */
struct theme_style theme_resolve(const struct theme *t, enum role r, int colors);

#endif
