/*
 * fuzz_theme: the theme loader (tui/theme.c) on YAML from memory. An
 * accepted theme resolves every role on every colour depth to colours in
 * range; a refused one leaves the theme it was given untouched.
 */
#include "fuzz.h"
#include "theme.h"

/* The compiled-in default, parsed once: a fresh copy is where every load starts. */
static struct theme builtin;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    theme_builtin(&builtin);
    return 0;
}

static void check_style(struct theme_style s, int colors)
{
    int top = colors >= 256 ? 255 : colors >= 16 ? 15 : 7;
    FUZZ_CHECK(s.fg == THEME_DEFAULT_COLOR || (s.fg >= 0 && s.fg <= top));
    FUZZ_CHECK(s.bg == THEME_DEFAULT_COLOR || (s.bg >= 0 && s.bg <= top));
    if (colors == 0)
        FUZZ_CHECK(s.fg == THEME_DEFAULT_COLOR && s.bg == THEME_DEFAULT_COLOR);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = fuzz_copy(data, size);
    if (!buf)
        return 0;
    struct theme t = builtin, before = builtin;
    struct error err;
    error_clear(&err);
    if (theme_load_string(&t, buf, size, "themes/fuzz.yaml", &err) == 0) {
        FUZZ_CHECK(memchr(t.name, 0, sizeof(t.name)) != NULL);
        static const int depths[] = {256, 16, 8, 0};
        for (int r = 0; r < ROLE_COUNT; r++)
            for (size_t d = 0; d < sizeof(depths) / sizeof(depths[0]); d++)
                check_style(theme_resolve(&t, (enum role)r, depths[d]), depths[d]);
    } else {
        FUZZ_CHECK(err.code != 0 && err.msg[0] != 0);
        FUZZ_CHECK(memcmp(&t, &before, sizeof(t)) == 0);
    }
    free(buf);
    return 0;
}
