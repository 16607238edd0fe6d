/* test_once: wait's change lines and the error line never carry raw control bytes. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers/fixture.h"
#include "once.h"

/* The bytes a terminal would interpret: C0 controls but LF, DEL, and C1 (raw or UTF-8). */
static void assert_no_controls(const char *out, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)out[i];
        cr_assert(c == '\n' || (c >= 0x20 && c != 0x7f), "control byte 0x%02x at %zu in: %s", c,
                  i, out);
        cr_assert(!(c == 0xc2 && i + 1 < len && (unsigned char)out[i + 1] >= 0x80 &&
                    (unsigned char)out[i + 1] <= 0x9f),
                  "C1 control at %zu in: %s", i, out);
        cr_assert(c < 0x80 || c >= 0xc0 || i > 0, "stray continuation byte at %zu", i);
    }
}

static const char EVIL[] = "evil\x1b]0;pwned\x07\x1b[2J\r\xc2\x9b" "31m\x9b";

Test(once, change_lines_sanitize_server_names_and_messages)
{
    struct snapshot *s = fixture_demo();
    cr_assert_not_null(s);
    /* Server-provided strings: a job name and a cutover step's name and message. */
    size_t named = 0;
    for (size_t i = 0; i < s->n_jobs; i++) {
        if (s->jobs[i].is_group || s->jobs[i].status == JOB_PENDING)
            continue;
        s->jobs[i].job_name = EVIL;
        named++;
    }
    cr_assert_gt(named, 0);
    cr_assert_gt(s->cutover.n_steps, 0);
    s->cutover.steps[0].name = EVIL;
    s->cutover.steps[0].message = EVIL;

    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    cr_assert_not_null(f);
    int lines = once_changes(NULL, s, true, f);
    fclose(f);
    cr_assert_gt(lines, 0);
    cr_assert(strstr(out, "evil") != NULL, "%s", out);
    assert_no_controls(out, len);
    free(out);
    snapshot_release(s);
}

Test(once, error_line_is_sanitized)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    cr_assert_not_null(f);
    once_error(f, "GET /deployments: HTTP 500 boom: ");
    once_error(f, EVIL);
    fclose(f);
    cr_assert(strncmp(out, "catalyst-tui: GET /deployments: HTTP 500 boom: \n", 48) == 0, "%s",
              out);
    cr_assert(strstr(out, "catalyst-tui: evil") != NULL, "%s", out);
    assert_no_controls(out, len);
    free(out);
}
