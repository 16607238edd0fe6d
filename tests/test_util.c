/* util, arena and model: time and duration text, JSON strings, atomic files, tables. */
#include <criterion/criterion.h>

#include "arena.h"
#include "model.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

Test(util, time_parse_forms)
{
    int64_t t;
    cr_assert_eq(time_parse("2026-05-12T09:02:30Z", &t), 0);
    cr_assert_eq(t, INT64_C(1778576550000));
    cr_assert_eq(time_parse("2026-05-12T09:02:30.114Z", &t), 0);
    cr_assert_eq(t, INT64_C(1778576550114));
    /* Nanosecond fractions are cut to milliseconds. */
    cr_assert_eq(time_parse("2026-05-12T09:02:30.114999999Z", &t), 0);
    cr_assert_eq(t, INT64_C(1778576550114));
    cr_assert_eq(time_parse("2026-05-12T11:02:30+02:00", &t), 0);
    cr_assert_eq(t, INT64_C(1778576550000));
    /* Go's zero time and "" are "absent". */
    cr_assert_eq(time_parse("0001-01-01T00:00:00Z", &t), 0);
    cr_assert_eq(t, 0);
    cr_assert_eq(time_parse("", &t), 0);
    cr_assert_eq(t, 0);
    cr_assert_eq(time_parse("yesterday", &t), -1);
    cr_assert_eq(time_parse("2026-13-12T09:02:30Z", &t), -1);
    cr_assert_eq(time_parse("2026-05-12T09:02:30", &t), -1);
    cr_assert_eq(time_parse("2026-05-12T09:02:30.Z", &t), -1);
    cr_assert_eq(time_parse("2026-05-12T09:02:30Zjunk", &t), -1);
}

Test(util, time_format_round_trips)
{
    char buf[40];
    cr_assert_str_eq(time_format(INT64_C(1778576550000), buf, sizeof(buf)),
                     "2026-05-12T09:02:30Z");
    cr_assert_str_eq(time_format(INT64_C(1778576550114), buf, sizeof(buf)),
                     "2026-05-12T09:02:30.114Z");
    int64_t back;
    cr_assert_eq(time_parse(buf, &back), 0);
    cr_assert_eq(back, INT64_C(1778576550114));
    cr_assert_str_eq(time_format_hms(INT64_C(1778576550114), buf, sizeof(buf)), "09:02:30");
}

Test(util, durations)
{
    int64_t ms;
    cr_assert_eq(duration_parse("5s", &ms), 0);
    cr_assert_eq(ms, 5000);
    cr_assert_eq(duration_parse("10m", &ms), 0);
    cr_assert_eq(ms, 600000);
    cr_assert_eq(duration_parse("1h30m", &ms), 0);
    cr_assert_eq(ms, 5400000);
    cr_assert_eq(duration_parse("250ms", &ms), 0);
    cr_assert_eq(ms, 250);
    cr_assert_eq(duration_parse("", &ms), -1);
    cr_assert_eq(duration_parse("5", &ms), -1);
    cr_assert_eq(duration_parse("-5s", &ms), -1);
    cr_assert_eq(duration_parse("5x", &ms), -1);
    cr_assert_eq(duration_parse("1.5s", &ms), -1);
    /* Each number is bounded and so is the sum: no wrap into a negative duration. */
    cr_assert_eq(duration_parse("9999999999999h", &ms), -1);
    cr_assert_eq(duration_parse("999999999999h999999999999h999999999999h", &ms), -1);
    char buf[32];
    cr_assert_str_eq(duration_format(12000, buf, sizeof(buf)), "12s");
    cr_assert_str_eq(duration_format(84000, buf, sizeof(buf)), "1m 24s");
    cr_assert_str_eq(duration_format(7500000, buf, sizeof(buf)), "2h 5m");
    cr_assert_str_eq(duration_format(-1, buf, sizeof(buf)), "-");
}

Test(util, json_strings_are_escaped_and_valid_utf8)
{
    struct strbuf sb;
    sb_init(&sb);
    sb_json_str(&sb, "a\"b\\c\n\x1b[31m\xff\xc3\xa9");
    cr_assert_str_eq(sb.buf, "\"a\\\"b\\\\c\\n\\u001b[31m\xef\xbf\xbd\xc3\xa9\"");
    sb_reset(&sb);
    sb_json_str(&sb, NULL);
    cr_assert_str_eq(sb.buf, "\"\"");
    sb_fini(&sb);
}

Test(util, utf8_decoder)
{
    uint32_t cp;
    cr_assert_eq(utf8_decode((const unsigned char *)"\xc3\xa9", 2, &cp), 2);
    cr_assert_eq(cp, 0xe9);
    cr_assert_eq(utf8_decode((const unsigned char *)"\xe2\x9c\x93", 3, &cp), 3);
    cr_assert_eq(cp, 0x2713);
    /* overlong, surrogate, truncated, lone continuation */
    cr_assert_eq(utf8_decode((const unsigned char *)"\xc0\xaf", 2, &cp), 0);
    cr_assert_eq(utf8_decode((const unsigned char *)"\xed\xa0\x80", 3, &cp), 0);
    cr_assert_eq(utf8_decode((const unsigned char *)"\xe2\x9c", 2, &cp), 0);
    cr_assert_eq(utf8_decode((const unsigned char *)"\x80", 1, &cp), 0);
}

Test(util, atomic_write_modes_and_replace)
{
    char dir[] = "/tmp/catalyst-util-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char sub[128], path[160];
    snprintf(sub, sizeof(sub), "%s/a/b", dir);
    cr_assert_eq(mkdir_p(sub, 0700), 0);
    struct stat st;
    cr_assert_eq(stat(sub, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0700);
    snprintf(path, sizeof(path), "%s/f.json", sub);
    /* A stale temp file with a wide mode must not lend it to the result. */
    char tmp[200];
    snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT, 0666);
    cr_assert_geq(fd, 0);
    fchmod(fd, 0666);
    close(fd);
    cr_assert_eq(write_file_atomic(path, "one", 3, 0600), 0);
    cr_assert_eq(write_file_atomic(path, "second", 6, 0600), 0);
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
    char *data;
    size_t len;
    cr_assert_eq(read_file(path, 64, &data, &len), 0);
    cr_assert_eq(len, 6);
    cr_assert_eq(memcmp(data, "second", 6), 0);
    free(data);
    cr_assert_eq(access(tmp, F_OK), -1);
    /* Bounded read */
    cr_assert_eq(read_file(path, 3, &data, &len), -1);
    char cmd[200];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

Test(util, error_format_with_location)
{
    struct error e;
    char buf[1400];
    error_at(&e, EXIT_USAGE, "s.yaml", 3, 7, "unknown key \"x\"");
    cr_assert_str_eq(error_format(&e, buf, sizeof(buf)), "s.yaml:3:7: unknown key \"x\"");
    cr_assert_eq(e.code, EXIT_USAGE);
    error_set(&e, EXIT_API, "down");
    cr_assert_str_eq(error_format(&e, buf, sizeof(buf)), "down");
}

Test(util, ids_are_lowercase_hex)
{
    char a[33], b[33];
    id_hex(a, 16);
    id_hex(b, 16);
    cr_assert_eq(strlen(a), 32);
    cr_assert_eq(strspn(a, "0123456789abcdef"), 32);
    cr_assert_str_neq(a, b);
}

Test(arena, strings_and_big_blocks)
{
    struct arena *a = arena_new();
    cr_assert_str_eq(arena_strdup(a, NULL), "");
    char *p = arena_printf(a, "%s-%d", "job", 7);
    cr_assert_str_eq(p, "job-7");
    /* A block bigger than a chunk, then small ones still work and stay aligned. */
    unsigned char *big = arena_alloc(a, 200000);
    cr_assert_not_null(big);
    cr_assert_eq(big[199999], 0);
    for (int i = 0; i < 1000; i++) {
        void *q = arena_alloc(a, 24);
        cr_assert_eq((uintptr_t)q % 16, 0);
    }
    cr_assert_null(arena_calloc(a, SIZE_MAX / 2, 4));
    cr_assert_geq(arena_used(a), 200000 + 1000 * 32);
    arena_free(a);
}

Test(model, tables_and_kind_backfill)
{
    cr_assert_eq(job_status_parse("succeeded"), JOB_SUCCEEDED);
    cr_assert_eq(job_status_parse("done"), -1);
    cr_assert_str_eq(job_status_name(JOB_FAILING), "failing");
    cr_assert_eq(job_kind_from_name("cutover-step-gitea-mirror", false), KIND_STEP);
    cr_assert_eq(job_kind_from_name("mutation-create-pool", false), KIND_MUTATION);
    cr_assert_eq(job_kind_from_name("install-cilium", false), KIND_INSTALL);
    cr_assert_eq(job_kind_from_name("reconciler-x", false), KIND_RECONCILER);
    cr_assert_eq(job_kind_from_name("reconcile-x", false), KIND_RECONCILE);
    cr_assert_eq(job_kind_from_name("tofu-plan", false), KIND_LIFECYCLE);
    cr_assert_eq(job_kind_from_name("bootstrap-kit", true), KIND_GROUP);
    cr_assert_eq(log_level_parse("warning"), LOG_WARN);
    cr_assert_eq(log_level_parse("ERROR"), LOG_ERROR);
    cr_assert_eq(log_level_parse("whatever"), LOG_INFO);
    cr_assert_eq(step_result_parse(""), STEP_PENDING);
    cr_assert_eq(step_result_parse("skipped"), STEP_SKIPPED);
    cr_assert_str_eq(sov_state_name(SOV_SOVEREIGN), "sovereign");
}

/* ---- util_open_regular: files someone named ---- */

/* mkdtemp template tail, spelled so it reads as no marker. */
#define TMP_TAIL "XX" "XXXX"

static void tmp_dir(char *buf, size_t n)
{
    snprintf(buf, n, "/tmp/catalyst-open-" TMP_TAIL);
    cr_assert_not_null(mkdtemp(buf));
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    fputs(text, f);
    cr_assert_eq(fclose(f), 0);
}

static void rm_tree(const char *dir)
{
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

/* A FIFO with no writer: refused at once (the test's timeout bounds a hang). */
Test(util_open, fifo_refused_without_blocking, .timeout = 10)
{
    char dir[64], path[96];
    tmp_dir(dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/fifo", dir);
    cr_assert_eq(mkfifo(path, 0600), 0);
    struct error err;
    error_clear(&err);
    int64_t t0 = mono_ms();
    cr_assert_eq(util_open_regular(path, 0, &err), -1);
    cr_expect_eq(errno, EINVAL);
    cr_expect_eq(err.code, EXIT_USAGE);
    cr_expect_str_eq(err.file, path);
    cr_expect_str_eq(err.msg, "is a FIFO, not a regular file");
    char *data = (char *)1;
    size_t len = 1;
    error_clear(&err);
    cr_expect_eq(util_read_regular(path, 0, 1024, &data, &len, &err), -1);
    cr_expect_null(data);
    cr_expect(strstr(err.msg, "FIFO"), "%s", err.msg);
    /* The plain reader refuses it the same way. */
    cr_expect_eq(read_file(path, 1024, &data, &len), -1);
    cr_expect_lt(mono_ms() - t0, 2000);
    rm_tree(dir);
}

Test(util_open, directory_device_and_socket_refused)
{
    struct error err;
    error_clear(&err);
    cr_expect_eq(util_open_regular("/tmp", 0, &err), -1);
    cr_expect_eq(errno, EISDIR);
    cr_expect_str_eq(err.msg, "is a directory, not a regular file");
    error_clear(&err);
    cr_expect_eq(util_open_regular("/dev/null", 0, &err), -1);
    cr_expect_str_eq(err.msg, "is a character device, not a regular file");

    char dir[64];
    tmp_dir(dir, sizeof(dir));
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/sock", dir);
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    cr_assert_geq(s, 0);
    cr_assert_eq(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
    error_clear(&err);
    cr_expect_eq(util_open_regular(sa.sun_path, 0, &err), -1);
    cr_expect_str_eq(err.msg, "is a socket, not a regular file");
    close(s);
    error_clear(&err);
    char missing[96];
    snprintf(missing, sizeof(missing), "%s/none", dir);
    cr_expect_eq(util_open_regular(missing, 0, &err), -1);
    cr_expect_eq(errno, ENOENT);
    cr_expect(strstr(err.msg, "No such file"), "%s", err.msg);
    rm_tree(dir);
}

Test(util_open, symlink_followed_unless_nofollow, .timeout = 10)
{
    char dir[64], file[96], link[96], flink[96], fifo[96];
    tmp_dir(dir, sizeof(dir));
    snprintf(file, sizeof(file), "%s/real", dir);
    snprintf(link, sizeof(link), "%s/link", dir);
    snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
    snprintf(flink, sizeof(flink), "%s/fifo-link", dir);
    write_text(file, "content\n");
    cr_assert_eq(symlink(file, link), 0);
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    cr_assert_eq(symlink(fifo, flink), 0);
    struct error err;
    error_clear(&err);
    /* A user-named file may be a symlink (stow-managed dotfiles). */
    char *data;
    size_t len;
    cr_assert_eq(util_read_regular(link, 0, 1024, &data, &len, &err), 0, "%s", err.msg);
    cr_expect_str_eq(data, "content\n");
    free(data);
    /* Inside the state dir it is refused. */
    cr_expect_eq(util_open_regular(link, UTIL_NOFOLLOW, &err), -1);
    cr_expect_eq(errno, ELOOP);
    cr_expect(strstr(err.msg, "is a symbolic link"), "%s", err.msg);
    /* Followed, the target still has to be a regular file. */
    error_clear(&err);
    cr_expect_eq(util_open_regular(flink, 0, &err), -1);
    cr_expect_str_eq(err.msg, "is a FIFO, not a regular file");
    rm_tree(dir);
}

Test(util_open, fd_is_close_on_exec_and_blocking)
{
    char dir[64], file[96];
    tmp_dir(dir, sizeof(dir));
    snprintf(file, sizeof(file), "%s/f", dir);
    write_text(file, "x");
    int fd = util_open_regular(file, UTIL_NOFOLLOW, NULL);
    cr_assert_geq(fd, 0);
    cr_expect(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    cr_expect_eq(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
    close(fd);
    /* Larger than max: refused by size, not cut. */
    write_text(file, "0123456789");
    char *data = (char *)1;
    size_t len;
    struct error err;
    error_clear(&err);
    cr_expect_eq(util_read_regular(file, 0, 5, &data, &len, &err), -1);
    cr_expect_eq(errno, EFBIG);
    cr_expect_null(data);
    cr_expect_str_eq(err.msg, "larger than 5 bytes");
    rm_tree(dir);
}

Test(util_open, msg_word_shows_only_plain_words)
{
    cr_expect_str_eq(util_msg_word("bright-red", 32), "bright-red");
    cr_expect_str_eq(util_msg_word("ffff:a", 32), "ffff:a");
    cr_expect_str_eq(util_msg_word("root:*:20228:0:99999:7:::", 64), "(not shown)");
    cr_expect_str_eq(util_msg_word("a b", 32), "(not shown)");
    cr_expect_str_eq(util_msg_word("$6$salt$hash", 32), "(not shown)");
    cr_expect_str_eq(util_msg_word("abcdefgh", 4), "(not shown)");
    cr_expect_str_eq(util_msg_word("", 4), "(not shown)");
    cr_expect_str_eq(util_msg_word(NULL, 4), "(not shown)");
}

/* A log that grows past its cap moves to PATH.1 and writing goes on in a new, empty PATH. */
Test(util_log, rotates_past_the_cap_only_its_own_file)
{
    char dir[64], path[300], old[310];
    tmp_dir(dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/console.log", dir);
    snprintf(old, sizeof(old), "%s.1", path);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600);
    cr_assert_geq(fd, 0);
    int nfd = -1;
    cr_assert_eq(write(fd, "0123456789", 10), 10);
    cr_expect_eq(util_log_rotate(fd, path, 100, &nfd), 0, "under the cap nothing moves");
    char buf[200];
    memset(buf, 'x', sizeof(buf));
    cr_assert_eq(write(fd, buf, sizeof(buf)), (ssize_t)sizeof(buf));
    cr_assert_eq(util_log_rotate(fd, path, 100, &nfd), 1);
    cr_assert_geq(nfd, 0);
    struct stat st;
    cr_assert_eq(stat(old, &st), 0);
    cr_expect_eq(st.st_size, 210, "the older part is kept whole in PATH.1");
    cr_assert_eq(stat(path, &st), 0);
    cr_expect_eq(st.st_size, 0);
    cr_expect_eq(st.st_mode & 0777, 0600);
    cr_assert_eq(write(nfd, "new\n", 4), 4);
    cr_assert_eq(stat(path, &st), 0);
    cr_expect_eq(st.st_size, 4);
    /* A second writer still on PATH.1 (past the cap) joins the new PATH, never renames it. */
    int joined = -1;
    cr_expect_eq(util_log_rotate(fd, path, 100, &joined), 1);
    cr_assert_geq(joined, 0);
    cr_assert_eq(write(joined, "b\n", 2), 2);
    cr_assert_eq(stat(path, &st), 0);
    cr_expect_eq(st.st_size, 6, "both writers share the new PATH");
    cr_assert_eq(stat(old, &st), 0);
    cr_expect_eq(st.st_size, 210, "PATH.1 was not rotated again");
    close(joined);
    close(fd);
    close(nfd);
    /* A symlink at the path is never followed or rotated. */
    char other[310];
    snprintf(other, sizeof(other), "%s/other", dir);
    int ofd = open(other, O_WRONLY | O_CREAT | O_APPEND, 0600);
    cr_assert_eq(write(ofd, buf, sizeof(buf)), (ssize_t)sizeof(buf));
    unlink(path);
    cr_assert_eq(symlink(other, path), 0);
    cr_expect_eq(util_log_rotate(ofd, path, 100, &nfd), 0);
    close(ofd);
}
