/* The one sanitizer: controls, escape sequences, invalid UTF-8, widths, truncation. */
#include "sanitize.h"

#include <criterion/criterion.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>

static void utf8_locale(void)
{
    cr_assert_not_null(setlocale(LC_ALL, "C.UTF-8"), "C.UTF-8 locale missing");
}

static const char *san(const char *in, bool ascii, int cols)
{
    static char buf[1024];
    sanitize_str(in, ascii, cols, buf, sizeof(buf));
    return buf;
}

static bool all_ascii(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p >= 0x80)
            return false;
    return true;
}

Test(sanitize, csi_colour_is_one_placeholder, .init = utf8_locale)
{
    cr_assert_str_eq(san("a\x1b[31mred\x1b[0m!", false, -1), "a\u241bred\u241b!");
    cr_assert_str_eq(san("a\x1b[31mred\x1b[0m!", true, -1), "a^[red^[!");
    cr_assert_str_eq(san("\x1b[38;2;1;2;3mX", false, -1), "\u241bX");
}

Test(sanitize, osc_title_bel_and_st, .init = utf8_locale)
{
    cr_assert_str_eq(san("x\x1b]0;evil title\x07y", false, -1), "x\u241by");
    cr_assert_str_eq(san("x\x1b]2;t\x1b\\z", false, -1), "x\u241bz");
    cr_assert_str_eq(san("x\x1b]0;title\x07y", true, -1), "x^[y");
    /* An unterminated OSC stops at the next control, which is shown too. */
    cr_assert_str_eq(san("\x1b]0;abc\ndef", false, -1), "\u241b\u240adef");
}

Test(sanitize, two_byte_and_nf_escapes, .init = utf8_locale)
{
    cr_assert_str_eq(san("a\x1b" "cb", false, -1), "a\u241bb");
    cr_assert_str_eq(san("a\x1b(Bb", false, -1), "a\u241bb");
    cr_assert_str_eq(san("a\x1b", false, -1), "a\u241b");
}

Test(sanitize, c0_controls_and_del, .init = utf8_locale)
{
    cr_assert_str_eq(san("a\x07" "b", false, -1), "a\u2407b");
    cr_assert_str_eq(san("a\rb", false, -1), "a\u240db");
    cr_assert_str_eq(san("a\bb", false, -1), "a\u2408b");
    cr_assert_str_eq(san("a\x7f" "b", false, -1), "a\u2421b");
    cr_assert_str_eq(san("a\x07\r\b\x7f" "b", true, -1), "a^G^M^H^?b");
    cr_assert_str_eq(san("a\tb", false, -1), "a b");
}

Test(sanitize, c1_controls, .init = utf8_locale)
{
    /* A raw 0x9b byte is invalid UTF-8. */
    cr_assert_str_eq(san("a\x9b" "31mb", false, -1), "a\ufffd31mb");
    /* U+009B (CSI as UTF-8) swallows its sequence like ESC [. */
    cr_assert_str_eq(san("a\xc2\x9b" "31mb", false, -1), "a\u241bb");
    cr_assert_str_eq(san("a\xc2\x85" "b", false, -1), "a\ufffdb");
    cr_assert_str_eq(san("a\xc2\x9b" "31mb", true, -1), "a^[b");
}

Test(sanitize, invalid_and_overlong_utf8, .init = utf8_locale)
{
    cr_assert_str_eq(san("\xff\xfe", false, -1), "\ufffd\ufffd");
    cr_assert_str_eq(san("a\xe2\x82", false, -1), "a\ufffd\ufffd");
    cr_assert_str_eq(san("\xc0\xaf", false, -1), "\ufffd\ufffd");
    cr_assert_str_eq(san("\xe0\x80\xaf", false, -1), "\ufffd\ufffd\ufffd");
    cr_assert_str_eq(san("\xed\xa0\x80", false, -1), "\ufffd\ufffd\ufffd");
    cr_assert_str_eq(san("\xf4\x90\x80\x80", false, -1), "\ufffd\ufffd\ufffd\ufffd");
    cr_assert_str_eq(san("caf\xc3\xa9", false, -1), "caf\xc3\xa9");
}

Test(sanitize, wide_cjk_widths, .init = utf8_locale)
{
    uint32_t cps[8];
    uint8_t ws[8];
    int cols = 0;
    size_t n = sanitize_cells("\u4e2d\u6587x", false, cps, ws, 8, -1, &cols);
    cr_assert_eq(n, 3);
    cr_assert_eq(cps[0], 0x4e2d);
    cr_assert_eq(ws[0], 2);
    cr_assert_eq(ws[1], 2);
    cr_assert_eq(ws[2], 1);
    cr_assert_eq(cols, 5);
    cr_assert_eq(sanitize_width("\u4e2d\u6587", false), 4);
}

Test(sanitize, combining_and_zero_width_dropped, .init = utf8_locale)
{
    cr_assert_eq(sanitize_width("e\xcc\x81", false), 1);
    cr_assert_str_eq(san("e\xcc\x81", false, -1), "e");
    cr_assert_str_eq(san("a\u200bb", false, -1), "ab");
    /* A bidi override must not reorder what follows. */
    cr_assert_str_eq(san("a\u202eb", false, -1), "ab");
}

Test(sanitize, truncation_at_exact_widths, .init = utf8_locale)
{
    cr_assert_str_eq(san("abcdef", false, 6), "abcdef");
    cr_assert_str_eq(san("abcdef", false, 5), "abcd\u2026");
    cr_assert_str_eq(san("abcdef", true, 5), "abcd~");
    cr_assert_str_eq(san("abcdef", false, 1), "\u2026");
    cr_assert_str_eq(san("abcdef", false, 0), "");
    /* 6 columns of CJK into 5: two glyphs and the ellipsis. */
    cr_assert_eq(sanitize_str("\u4e2d\u6587\u5b57", false, 5, (char[64]){0}, 64), 5);
    cr_assert_str_eq(san("\u4e2d\u6587\u5b57", false, 5), "\u4e2d\u6587\u2026");
    /* Into 4 the second glyph no longer fits beside the ellipsis. */
    cr_assert_str_eq(san("\u4e2d\u6587\u5b57", false, 4), "\u4e2d\u2026");
    cr_assert_str_eq(san("\u4e2d\u6587", false, 4), "\u4e2d\u6587");
    /* A placeholder pair is cut whole or not at all. */
    cr_assert_str_eq(san("ab\x1b[0mcd", true, 4), "ab~");
    cr_assert_str_eq(san("ab\x1b[0mcd", true, 5), "ab^[~");
}

Test(sanitize, ascii_ladder_never_emits_high_bytes, .init = utf8_locale)
{
    static const char *const inputs[] = {
        "caf\xc3\xa9", "\u4e2d\u6587", "\xff\xfe\x9b", "\xc2\x9b" "1m", "e\xcc\x81",
        "\u2500\u2502", "\x1b[31mx", "\xf0\x9f\x98\x80 smile",
    };
    for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++)
        cr_assert(all_ascii(san(inputs[i], true, -1)), "input %zu", i);
    /* Pseudo-random bytes, fixed seed. */
    unsigned seed = 42;
    for (int round = 0; round < 200; round++) {
        char buf[64];
        for (int i = 0; i < 63; i++) {
            seed = seed * 1103515245u + 12345u;
            buf[i] = (char)((seed >> 16) & 0xff);
            if (!buf[i])
                buf[i] = 1;
        }
        buf[63] = 0;
        cr_assert(all_ascii(san(buf, true, 40)));
    }
}

Test(sanitize, c_locale_is_ascii)
{
    setlocale(LC_ALL, "C");
    const char *s = san("caf\xc3\xa9 \u4e2d", false, -1);
    cr_assert(all_ascii(s));
    cr_assert_str_eq(s, "caf? ?");
    cr_assert_str_eq(san("abcdef", false, 3), "ab~");
}

Test(sanitize, null_and_glyph_width, .init = utf8_locale)
{
    cr_assert_str_eq(san(NULL, false, -1), "");
    cr_assert_eq(sanitize_glyph_width(0x2500, false), 1);
    cr_assert_eq(sanitize_glyph_width(0x2500, true), 0);
    cr_assert_eq(sanitize_glyph_width(0x1b, false), 0);
    cr_assert_eq(sanitize_glyph_width('x', true), 1);
}
