/*
 * fuzz_sanitize: the one sanitizer (tui/sanitize.c) under the C.UTF-8
 * locale. The first byte picks the ASCII ladder (bit 7) and a column limit
 * (the low bits; 127 means unlimited); the rest is the untrusted text. The
 * output must never carry a control byte, ESC, DEL or C1 control, must be
 * valid UTF-8 (pure ASCII on the ladder), and must fit the limit it was given.
 */
#include "fuzz.h"
#include "sanitize.h"

#include <locale.h>

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    FUZZ_CHECK(setlocale(LC_ALL, "C.UTF-8") != NULL);
    return 0;
}

static bool displayable(uint32_t cp)
{
    return cp >= 0x20 && cp != 0x7f && !(cp >= 0x80 && cp <= 0x9f) &&
           !(cp >= 0xd800 && cp <= 0xdfff) && cp <= 0x10ffff;
}

/* Walks UTF-8 out, checking every code point; returns the count or -1. */
static long check_utf8(const unsigned char *s, bool ascii)
{
    long n = 0;
    while (*s) {
        uint32_t cp;
        size_t l;
        if (*s < 0x80) {
            cp = *s;
            l = 1;
        } else {
            FUZZ_CHECK(!ascii);
            if ((*s & 0xe0) == 0xc0) {
                cp = *s & 0x1fu;
                l = 2;
            } else if ((*s & 0xf0) == 0xe0) {
                cp = *s & 0x0fu;
                l = 3;
            } else {
                FUZZ_CHECK((*s & 0xf8) == 0xf0);
                cp = *s & 0x07u;
                l = 4;
            }
            for (size_t i = 1; i < l; i++) {
                FUZZ_CHECK((s[i] & 0xc0) == 0x80);
                cp = cp << 6 | (s[i] & 0x3fu);
            }
        }
        FUZZ_CHECK(displayable(cp));
        s += l;
        n++;
    }
    return n;
}

static void check_cells(const char *in, bool ascii, int max_cols, size_t max_cells)
{
    uint32_t *cps = malloc((max_cells ? max_cells : 1) * sizeof(*cps));
    uint8_t *ws = malloc(max_cells ? max_cells : 1);
    FUZZ_CHECK(cps && ws);
    int cols = -1;
    size_t n = sanitize_cells(in, ascii, cps, ws, max_cells, max_cols, &cols);
    FUZZ_CHECK(n <= max_cells);
    int sum = 0;
    for (size_t i = 0; i < n; i++) {
        FUZZ_CHECK(displayable(cps[i]));
        FUZZ_CHECK(!ascii || cps[i] < 0x80);
        FUZZ_CHECK(ws[i] == 1 || ws[i] == 2);
        sum += ws[i];
    }
    FUZZ_CHECK(sum == cols);
    FUZZ_CHECK(max_cols < 0 || cols <= max_cols);
    if (max_cols < 0 && max_cells >= 2 * strlen(in) + 2)
        FUZZ_CHECK(cols == sanitize_width(in, ascii));
    free(cps);
    free(ws);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    bool ascii = data[0] & 0x80;
    int max_cols = data[0] & 0x7f;
    if (max_cols == 0x7f)
        max_cols = -1;
    char *in = fuzz_cstr(data + 1, size - 1);
    if (!in)
        return 0;
    size_t len = strlen(in);

    size_t cap = 4 * (2 * len + 2) + 1;
    char *out = malloc(cap);
    FUZZ_CHECK(out);
    int cols = sanitize_str(in, ascii, max_cols, out, cap);
    FUZZ_CHECK(strlen(out) < cap);
    FUZZ_CHECK(max_cols < 0 || cols <= max_cols);
    long cps = check_utf8((const unsigned char *)out, ascii);
    FUZZ_CHECK(cps <= cols);
    free(out);

    /* A small buffer cuts on a code point boundary. */
    char small[8];
    sanitize_str(in, ascii, max_cols, small, sizeof(small));
    check_utf8((const unsigned char *)small, ascii);

    check_cells(in, ascii, max_cols, 2 * len + 2);
    check_cells(in, ascii, -1, 2 * len + 2);
    check_cells(in, ascii, max_cols, len / 2 + 1);
    free(in);
    return 0;
}
