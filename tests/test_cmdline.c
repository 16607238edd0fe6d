/* cmdline: editing, completion of commands and arguments, history. */
#include "cmdline.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

static struct cmdline cl;

static void setup(void)
{
    cmdline_init(&cl);
}

static void teardown(void)
{
    cmdline_fini(&cl);
}

static void type(const char *s)
{
    for (; *s; s++)
        cmdline_insert(&cl, (unsigned char)*s);
}

static const char *const cmds[] = {
    "dashboard", "jobs", "dag", "timeline", "tree", "cutover", "job", "filter",
    "theme", "retry", "quit",
};
#define N_CMDS (sizeof(cmds) / sizeof(cmds[0]))

TestSuite(cmdline, .init = setup, .fini = teardown);

Test(cmdline, typing_and_editing)
{
    type("jobz");
    cmdline_backspace(&cl);
    type("s");
    cr_assert_str_eq(cl.buf, "jobs");
    cmdline_home(&cl);
    type(":");
    cr_assert_str_eq(cl.buf, ":jobs");
    cmdline_delete(&cl);
    cr_assert_str_eq(cl.buf, ":obs");
    cmdline_end(&cl);
    cmdline_left(&cl);
    cmdline_left(&cl);
    type("X");
    cr_assert_str_eq(cl.buf, ":oXbs");
    cr_assert_eq(cl.cur, 3);
    cmdline_right(&cl);
    cmdline_kill_line(&cl);
    cr_assert_str_eq(cl.buf, "s");
    cr_assert_eq(cl.cur, 0);
}

Test(cmdline, kill_word_and_controls)
{
    type("filter  foo bar");
    cmdline_kill_word(&cl);
    cr_assert_str_eq(cl.buf, "filter  foo ");
    cmdline_kill_word(&cl);
    cr_assert_str_eq(cl.buf, "filter  ");
    cr_assert_not(cmdline_insert(&cl, 0x1b));
    cr_assert_not(cmdline_insert(&cl, '\n'));
    cr_assert_not(cmdline_insert(&cl, 0x9b));
    cr_assert_str_eq(cl.buf, "filter  ");
}

Test(cmdline, utf8_is_edited_by_whole_characters)
{
    cmdline_insert(&cl, 0xe9);      /* é: two bytes */
    cmdline_insert(&cl, 0x4e2d);    /* 中: three bytes */
    cr_assert_eq(cl.len, 5);
    cmdline_left(&cl);
    cr_assert_eq(cl.cur, 2);
    cmdline_backspace(&cl);
    cr_assert_eq(cl.cur, 0);
    cr_assert_str_eq(cl.buf, "\u4e2d");
}

Test(cmdline, full_buffer_refuses)
{
    for (int i = 0; i < CMDLINE_MAX + 10; i++)
        cmdline_insert(&cl, 'a');
    cr_assert_eq(cl.len, CMDLINE_MAX - 1);
    cr_assert_eq(strlen(cl.buf), CMDLINE_MAX - 1);
}

Test(cmdline, complete_unique_command)
{
    type("ti");
    char shown[128];
    cr_assert_eq(cmdline_complete(&cl, cmds, N_CMDS, shown, sizeof(shown)), 1);
    cr_assert_str_eq(cl.buf, "timeline ");
    cr_assert_eq(cl.cur, cl.len);
}

Test(cmdline, complete_common_prefix_lists_matches)
{
    type("d");
    char shown[128];
    cr_assert_eq(cmdline_complete(&cl, cmds, N_CMDS, shown, sizeof(shown)), 2);
    cr_assert_str_eq(cl.buf, "da");
    cr_assert_str_eq(shown, "dashboard  dag");
    type("s");
    cr_assert_eq(cmdline_complete(&cl, cmds, N_CMDS, shown, sizeof(shown)), 1);
    cr_assert_str_eq(cl.buf, "dashboard ");
    cmdline_reset(&cl);
    type("jo");
    cr_assert_eq(cmdline_complete(&cl, cmds, N_CMDS, NULL, 0), 2);
    cr_assert_str_eq(cl.buf, "job");
    cmdline_reset(&cl);
    type("zz");
    cr_assert_eq(cmdline_complete(&cl, cmds, N_CMDS, shown, sizeof(shown)), 0);
    cr_assert_str_eq(cl.buf, "zz");
}

Test(cmdline, complete_argument_word)
{
    static const char *const themes[] = {"default", "light", "high-contrast", "colorblind",
                                         "mono"};
    type("theme hi");
    size_t start;
    cr_assert_eq(cmdline_word_index(&cl, &start), 1);
    cr_assert_eq(start, 6);
    cr_assert_eq(cmdline_complete(&cl, themes, 5, NULL, 0), 1);
    cr_assert_str_eq(cl.buf, "theme high-contrast ");
    cmdline_reset(&cl);
    type("retry ");
    static const char *const jobs[] = {"install-cilium", "install-cert-manager", "tofu-init"};
    cr_assert_eq(cmdline_complete(&cl, jobs, 3, NULL, 0), 3);
    cr_assert_str_eq(cl.buf, "retry ");
    type("in");
    cr_assert_eq(cmdline_complete(&cl, jobs, 3, NULL, 0), 2);
    cr_assert_str_eq(cl.buf, "retry install-c");
}

Test(cmdline, history_up_and_down)
{
    cmdline_history_add(&cl, "jobs");
    cmdline_history_add(&cl, "dag");
    cmdline_history_add(&cl, "dag");
    cmdline_history_add(&cl, "");
    cr_assert_eq(cl.n_hist, 2);
    cmdline_reset(&cl);
    type("dr");
    cmdline_history_prev(&cl);
    cr_assert_str_eq(cl.buf, "dag");
    cmdline_history_prev(&cl);
    cr_assert_str_eq(cl.buf, "jobs");
    cmdline_history_prev(&cl);
    cr_assert_str_eq(cl.buf, "jobs");
    cmdline_history_next(&cl);
    cr_assert_str_eq(cl.buf, "dag");
    cmdline_history_next(&cl);
    cr_assert_str_eq(cl.buf, "dr", "the draft comes back");
    cmdline_history_next(&cl);
    cr_assert_str_eq(cl.buf, "dr");
}

Test(cmdline, history_is_bounded)
{
    char line[16];
    for (int i = 0; i < CMDLINE_HISTORY + 5; i++) {
        snprintf(line, sizeof(line), "cmd%d", i);
        cmdline_history_add(&cl, line);
    }
    cr_assert_eq(cl.n_hist, CMDLINE_HISTORY);
    cr_assert_str_eq(cl.hist[0], "cmd5");
    cmdline_reset(&cl);
    cmdline_history_prev(&cl);
    snprintf(line, sizeof(line), "cmd%d", CMDLINE_HISTORY + 4);
    cr_assert_str_eq(cl.buf, line);
}
