/* canvas: clipping at every edge, wide characters, row text, the sanitizer funnel. */
#include "canvas.h"

#include <criterion/criterion.h>
#include <locale.h>
#include <string.h>

static void utf8_locale(void)
{
    cr_assert_not_null(setlocale(LC_ALL, "C.UTF-8"));
}

static const char *row(const struct canvas *c, int y)
{
    static char buf[512];
    canvas_row_text(c, y, buf, sizeof(buf));
    return buf;
}

Test(canvas, text_clips_at_the_right_edge, .init = utf8_locale)
{
    struct canvas *c = canvas_new(10, 3, false);
    cr_assert_not_null(c);
    cr_assert_eq(canvas_text(c, 0, 7, -1, "abcdef", ROLE_NORMAL, 0), 3);
    cr_assert_str_eq(row(c, 0), "       ab\u2026");
    cr_assert_eq(canvas_text(c, 1, 0, 4, "abcdef", ROLE_NORMAL, 0), 4);
    cr_assert_str_eq(row(c, 1), "abc\u2026");
    cr_assert_eq(canvas_text(c, 2, 0, 20, "0123456789", ROLE_NORMAL, 0), 10);
    cr_assert_str_eq(row(c, 2), "0123456789");
    canvas_free(c);
}

Test(canvas, text_clips_at_left_top_bottom, .init = utf8_locale)
{
    struct canvas *c = canvas_new(10, 2, false);
    canvas_text(c, 0, -2, -1, "abcdef", ROLE_NORMAL, 0);
    cr_assert_str_eq(row(c, 0), "cdef");
    cr_assert_eq(canvas_text(c, -1, 0, -1, "x", ROLE_NORMAL, 0), 0);
    cr_assert_eq(canvas_text(c, 2, 0, -1, "x", ROLE_NORMAL, 0), 0);
    cr_assert_eq(canvas_text(c, 0, 10, -1, "x", ROLE_NORMAL, 0), 0);
    /* A wide glyph cut by the left edge leaves a blank, not half a glyph. */
    canvas_text(c, 1, -1, -1, "\u4e2dz", ROLE_NORMAL, 0);
    cr_assert_eq(canvas_at(c, 1, 0)->ch, ' ');
    cr_assert_eq(canvas_at(c, 1, 1)->ch, 'z');
    cr_assert_null(canvas_at(c, 2, 0));
    cr_assert_null(canvas_at(c, 0, -1));
    canvas_free(c);
}

Test(canvas, wide_chars_take_two_cells, .init = utf8_locale)
{
    struct canvas *c = canvas_new(6, 1, false);
    cr_assert_eq(canvas_text(c, 0, 0, -1, "\u4e2d\u6587", ROLE_RUNNING, ATTR_BOLD), 4);
    cr_assert_eq(canvas_at(c, 0, 0)->ch, 0x4e2d);
    cr_assert_eq(canvas_at(c, 0, 1)->ch, 0);
    cr_assert_eq(canvas_at(c, 0, 1)->role, ROLE_RUNNING);
    cr_assert_eq(canvas_at(c, 0, 2)->ch, 0x6587);
    cr_assert_str_eq(row(c, 0), "\u4e2d\u6587");
    /* Overwriting the right half blanks the left half. */
    canvas_text(c, 0, 1, 1, "x", ROLE_NORMAL, 0);
    cr_assert_eq(canvas_at(c, 0, 0)->ch, ' ');
    cr_assert_eq(canvas_at(c, 0, 1)->ch, 'x');
    /* Overwriting the left half blanks the right half. */
    canvas_text(c, 0, 2, 1, "y", ROLE_NORMAL, 0);
    cr_assert_eq(canvas_at(c, 0, 3)->ch, ' ');
    canvas_free(c);
}

Test(canvas, wide_char_at_the_right_edge, .init = utf8_locale)
{
    struct canvas *c = canvas_new(5, 1, false);
    /* Two columns left: the first glyph fits exactly. */
    cr_assert_eq(canvas_text(c, 0, 3, -1, "\u4e2d", ROLE_NORMAL, 0), 2);
    cr_assert_eq(canvas_at(c, 0, 3)->ch, 0x4e2d);
    cr_assert_eq(canvas_at(c, 0, 4)->ch, 0);
    canvas_clear(c);
    /* One column left: an ellipsis, never half a glyph. */
    cr_assert_eq(canvas_text(c, 0, 4, -1, "\u4e2d", ROLE_NORMAL, 0), 1);
    cr_assert_eq(canvas_at(c, 0, 4)->ch, 0x2026);
    canvas_glyph(c, 0, 4, 0x4e2d, ROLE_NORMAL, 0);
    cr_assert_neq(canvas_at(c, 0, 4)->ch, 0x4e2d);
    for (int x = 0; x < 5; x++)
        cr_assert_neq(canvas_at(c, 0, x)->ch, 0, "dangling right half at %d", x);
    canvas_free(c);
}

Test(canvas, untrusted_text_is_sanitized, .init = utf8_locale)
{
    struct canvas *c = canvas_new(20, 1, false);
    canvas_text(c, 0, 0, -1, "a\x1b[31mb\x07", ROLE_NORMAL, 0);
    cr_assert_str_eq(row(c, 0), "a\u241bb\u2407");
    canvas_free(c);
    c = canvas_new(20, 1, true);
    canvas_text(c, 0, 0, -1, "a\x1b[31mb\xc3\xa9", ROLE_NORMAL, 0);
    cr_assert_str_eq(row(c, 0), "a^[b?");
    canvas_glyph(c, 0, 10, 0x2500, ROLE_BORDER, 0);
    cr_assert_eq(canvas_at(c, 0, 10)->ch, '?');
    canvas_free(c);
}

Test(canvas, fill_style_and_printf, .init = utf8_locale)
{
    struct canvas *c = canvas_new(8, 4, false);
    canvas_fill(c, -5, -5, 100, 100, ROLE_DIALOG);
    for (int y = 0; y < 4; y++)
        for (int x = 0; x < 8; x++)
            cr_assert_eq(canvas_at(c, y, x)->role, ROLE_DIALOG);
    canvas_fill(c, 1, 1, 2, 2, ROLE_ERROR);
    cr_assert_eq(canvas_at(c, 1, 1)->role, ROLE_ERROR);
    cr_assert_eq(canvas_at(c, 3, 3)->role, ROLE_DIALOG);
    canvas_style(c, 0, 6, 10, ROLE_ACCENT, ATTR_REVERSE);
    cr_assert_eq(canvas_at(c, 0, 7)->role, ROLE_ACCENT);
    cr_assert_eq(canvas_at(c, 0, 7)->attr, ATTR_REVERSE);
    cr_assert_eq(canvas_at(c, 0, 5)->role, ROLE_DIALOG);
    cr_assert_eq(canvas_printf(c, 3, 0, -1, ROLE_NORMAL, 0, "%d/%d", 12, 34), 5);
    cr_assert_str_eq(row(c, 3), "12/34");
    canvas_free(c);
}

Test(canvas, row_text_trims_and_bounds, .init = utf8_locale)
{
    struct canvas *c = canvas_new(10, 1, false);
    canvas_text(c, 0, 2, -1, "hi", ROLE_NORMAL, 0);
    char small[3];
    canvas_row_text(c, 0, small, sizeof(small));
    cr_assert_str_eq(small, "");
    cr_assert_str_eq(row(c, 0), "  hi");
    cr_assert_eq(canvas_row_text(c, 5, small, sizeof(small)), 0);
    canvas_free(c);
}

Test(canvas, tiny_and_empty_sizes, .init = utf8_locale)
{
    struct canvas *c = canvas_new(0, 0, false);
    cr_assert_not_null(c);
    cr_assert_eq(canvas_text(c, 0, 0, -1, "x", ROLE_NORMAL, 0), 0);
    canvas_fill(c, 0, 0, 5, 5, ROLE_NORMAL);
    cr_assert_eq(canvas_resize(c, 1, 1), 0);
    cr_assert_eq(canvas_text(c, 0, 0, -1, "hello", ROLE_NORMAL, 0), 1);
    cr_assert_eq(canvas_at(c, 0, 0)->ch, 0x2026);
    cr_assert_eq(canvas_resize(c, -3, 2), 0);
    cr_assert_eq(c->w, 0);
    canvas_free(c);
}
