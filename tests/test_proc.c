/* test_proc: child processes, line splitting, sanitising, env, timeouts. */
#include <criterion/criterion.h>

#include "proc.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct lines {
    char *text[256];
    enum log_level level[256];
    size_t n;
};

static void collect(void *ctx, enum log_level lv, const char *line)
{
    struct lines *l = ctx;
    if (l->n < 256) {
        l->text[l->n] = strdup(line);
        l->level[l->n] = lv;
        l->n++;
    }
}

static void lines_free(struct lines *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->text[i]);
}

static int run(const char *cmd, struct lines *l, struct proc_result *r, int64_t timeout_ms)
{
    struct proc_opts o = {.command = cmd, .timeout_ms = timeout_ms, .kill_grace_ms = 5000};
    struct error err;
    error_clear(&err);
    memset(l, 0, sizeof(*l));
    return proc_run(&o, collect, l, r, &err);
}

Test(proc, stdout_info_stderr_warn)
{
    struct lines l;
    struct proc_result r;
    cr_assert_eq(run("echo out1; echo err1 >&2", &l, &r, 0), 0);
    cr_assert_eq(r.exit_code, 0);
    cr_assert_eq(l.n, 2);
    bool saw_out = false, saw_err = false;
    for (size_t i = 0; i < l.n; i++) {
        if (strcmp(l.text[i], "out1") == 0) {
            saw_out = true;
            cr_assert_eq(l.level[i], LOG_INFO);
        }
        if (strcmp(l.text[i], "err1") == 0) {
            saw_err = true;
            cr_assert_eq(l.level[i], LOG_WARN);
        }
    }
    cr_assert(saw_out && saw_err);
    lines_free(&l);
}

Test(proc, last_line_without_newline)
{
    struct lines l;
    struct proc_result r;
    cr_assert_eq(run("printf 'a\\nb'", &l, &r, 0), 0);
    cr_assert_eq(l.n, 2);
    cr_assert_str_eq(l.text[1], "b");
    lines_free(&l);
}

Test(proc, long_lines_split)
{
    struct lines l;
    struct proc_result r;
    cr_assert_eq(run("head -c 10000 /dev/zero | tr '\\0' x; echo", &l, &r, 0), 0);
    cr_assert_eq(l.n, 3);
    cr_assert_eq(strlen(l.text[0]), PROC_LINE_MAX);
    cr_assert_eq(strlen(l.text[1]), PROC_LINE_MAX);
    cr_assert_eq(strlen(l.text[2]), 10000 - 2 * PROC_LINE_MAX);
    lines_free(&l);
}

Test(proc, invalid_utf8_replaced)
{
    struct lines l;
    struct proc_result r;
    cr_assert_eq(run("printf 'a\\377b\\n'", &l, &r, 0), 0);
    cr_assert_eq(l.n, 1);
    cr_assert_str_eq(l.text[0], "a\xEF\xBF\xBD" "b");
    lines_free(&l);
    char out[16];
    cr_assert_eq(proc_sanitize_utf8("\xC3\xA9", 2, out), 2);
    cr_assert_str_eq(out, "\xC3\xA9");
}

Test(proc, env_visible)
{
    const char *env[] = {"CATALYST_JOB=probe", "HOME=/nowhere"};
    struct proc_opts o = {.command = "echo $CATALYST_JOB $HOME; echo ${PATH:+has-path}",
                          .env = env, .n_env = 2};
    struct lines l = {0};
    struct proc_result r;
    struct error err;
    cr_assert_eq(proc_run(&o, collect, &l, &r, &err), 0);
    cr_assert_eq(l.n, 2);
    cr_assert_str_eq(l.text[0], "probe /nowhere");
    cr_assert_str_eq(l.text[1], "has-path");
    lines_free(&l);
}

Test(proc, exit_code)
{
    struct lines l;
    struct proc_result r;
    cr_assert_eq(run("exit 3", &l, &r, 0), 0);
    cr_assert_not(r.signaled);
    cr_assert_eq(r.exit_code, 3);
    cr_assert_not(r.timed_out);
    lines_free(&l);
}

Test(proc, stdin_is_dev_null)
{
    struct lines l;
    struct proc_result r;
    cr_assert_eq(run("cat; echo done", &l, &r, 0), 0);
    cr_assert_eq(l.n, 1);
    cr_assert_str_eq(l.text[0], "done");
    lines_free(&l);
}

Test(proc, timeout_terminates)
{
    struct lines l;
    struct proc_result r;
    cr_assert_eq(run("sleep 100", &l, &r, 300), 0);
    cr_assert(r.timed_out);
    cr_assert(r.signaled);
    /* SIGTERM was enough: no SIGKILL needed. */
    cr_assert_eq(r.term_signal, SIGTERM);
    lines_free(&l);
}

Test(proc, timeout_kills_child_ignoring_sigterm)
{
    struct lines l;
    struct proc_result r;
    int64_t t0 = mono_ms();
    cr_assert_eq(run("trap '' TERM; echo ready; sleep 100", &l, &r, 300), 0);
    int64_t took = mono_ms() - t0;
    cr_assert(r.timed_out);
    cr_assert(r.signaled);
    cr_assert_eq(r.term_signal, SIGKILL);
    /* SIGTERM at 0.3 s is ignored; SIGKILL follows only after the 5 s grace. */
    cr_assert_geq(took, 5000);
    cr_assert_eq(l.n, 1);
    lines_free(&l);
}

Test(proc, cancel_flag)
{
    atomic_bool cancel;
    atomic_init(&cancel, true);
    struct proc_opts o = {.command = "sleep 100", .cancel = &cancel};
    struct lines l = {0};
    struct proc_result r;
    struct error err;
    cr_assert_eq(proc_run(&o, collect, &l, &r, &err), 0);
    cr_assert(r.cancelled);
    cr_assert(r.signaled);
    lines_free(&l);
}

/* A live (not zombie) process whose process group is pgid exists. */
static bool group_alive(pid_t pgid)
{
    DIR *d = opendir("/proc");
    if (!d)
        return false;
    bool alive = false;
    struct dirent *de;
    while (!alive && (de = readdir(d))) {
        char path[300], buf[512];
        snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = 0;
        /* pid (comm) state ppid pgrp: comm may hold spaces, so parse after ')'. */
        const char *p = strrchr(buf, ')');
        char state;
        int ppid, pgrp;
        if (p && sscanf(p + 1, " %c %d %d", &state, &ppid, &pgrp) == 3 && pgrp == pgid &&
            state != 'Z' && state != 'X')
            alive = true;
    }
    closedir(d);
    return alive;
}

static bool group_gone_within(pid_t pgid, int ms)
{
    for (int t = 0; t < ms; t += 20) {
        if (!group_alive(pgid))
            return true;
        usleep(20 * 1000);
    }
    return !group_alive(pgid);
}

Test(proc, background_child_does_not_hold_the_job)
{
    struct lines l;
    struct proc_result r;
    int64_t t0 = mono_ms();
    cr_assert_eq(run("sleep 30 & echo $$", &l, &r, 0), 0);
    cr_assert_lt(mono_ms() - t0, 5000);
    cr_assert_eq(r.exit_code, 0);
    cr_assert_not(r.timed_out);
    cr_assert_eq(l.n, 1);
    pid_t group = (pid_t)atoi(l.text[0]);
    cr_assert_gt(group, 1);
    /* The leftover sleep ends with the job rather than outliving it (and the engine). */
    bool gone = group_gone_within(group, 2000);
    kill(-group, SIGKILL);
    cr_assert(gone, "a background child of the job is still running");
    lines_free(&l);
}

Test(proc, background_child_without_output_ends_with_the_job)
{
    struct lines l;
    struct proc_result r;
    cr_assert_eq(run("sleep 30 >/dev/null 2>&1 & echo $$", &l, &r, 0), 0);
    cr_assert_eq(l.n, 1);
    pid_t group = (pid_t)atoi(l.text[0]);
    cr_assert_gt(group, 1);
    bool gone = group_gone_within(group, 2000);
    kill(-group, SIGKILL);
    cr_assert(gone, "a background child of the job is still running");
    lines_free(&l);
}

Test(proc, timeout_does_not_wait_for_a_child_that_left_the_group, .timeout = 20)
{
    struct lines l;
    struct proc_result r;
    int64_t t0 = mono_ms();
    /* setsid: the child escapes the group's SIGKILL but still holds stdout. */
    cr_assert_eq(run("setsid sleep 30 & echo $!; sleep 100", &l, &r, 300), 0);
    int64_t took = mono_ms() - t0;
    if (l.n >= 1 && atoi(l.text[0]) > 1)
        kill((pid_t)atoi(l.text[0]), SIGKILL);
    cr_assert(r.timed_out);
    cr_assert_lt(took, 5000, "proc_run waited %lld ms for an escaped child", (long long)took);
    lines_free(&l);
}

/* on_start hooks: one records who the child is, one refuses it. */
struct start_rec {
    struct proc_ident id;
    int calls;
    bool refuse;
};

static int record_start(void *ctx, const struct proc_ident *id, struct error *err)
{
    struct start_rec *s = ctx;
    s->id = *id;
    s->calls++;
    if (s->refuse) {
        error_set(err, EXIT_FAILED, "not recorded");
        return -1;
    }
    return 0;
}

Test(proc, child_has_its_own_session_and_is_recorded_first)
{
    struct start_rec rec = {0};
    /* Field 6 of /proc/PID/stat is the session id; sh's comm has no spaces. */
    struct proc_opts o = {.command = "echo $$ $(cut -d' ' -f6 /proc/$$/stat)",
                          .kill_grace_ms = 5000, .on_start = record_start, .start_ctx = &rec};
    struct lines l;
    memset(&l, 0, sizeof(l));
    struct proc_result r;
    struct error err;
    cr_assert_eq(proc_run(&o, collect, &l, &r, &err), 0, "%s", err.msg);
    cr_assert_eq(rec.calls, 1);
    cr_assert_eq(l.n, 1);
    char want[64];
    snprintf(want, sizeof(want), "%d %d", (int)rec.id.pid, (int)rec.id.pid);
    cr_assert_str_eq(l.text[0], want, "pid and session id: %s", l.text[0]);
    cr_assert_gt(rec.id.start_time, 0);
    char boot[PROC_BOOT_ID_MAX];
    cr_assert_eq(proc_boot_id(boot, sizeof(boot)), 0);
    cr_assert_str_eq(rec.id.boot_id, boot);
    cr_assert_eq(strlen(boot), 36);
    lines_free(&l);
}

Test(proc, refused_start_never_runs_the_command)
{
    char path[] = "/tmp/catalyst-proc-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    close(fd);
    unlink(path);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "touch %s", path);
    struct start_rec rec = {.refuse = true};
    struct proc_opts o = {.command = cmd, .on_start = record_start, .start_ctx = &rec};
    struct lines l;
    memset(&l, 0, sizeof(l));
    struct proc_result r;
    struct error err;
    error_clear(&err);
    cr_assert_eq(proc_run(&o, collect, &l, &r, &err), -1);
    cr_assert_str_eq(err.msg, "not recorded");
    cr_assert_eq(rec.calls, 1);
    usleep(100 * 1000);
    cr_assert_neq(access(path, F_OK), 0, "the refused command ran");
    /* The child is gone, reaped. */
    cr_assert_neq(kill(rec.id.pid, 0), 0);
}

Test(proc, abort_flag_ends_the_child)
{
    atomic_bool ab;
    atomic_init(&ab, true);
    struct proc_opts o = {.command = "sleep 30", .kill_grace_ms = 5000, .abort = &ab};
    struct lines l;
    memset(&l, 0, sizeof(l));
    struct proc_result r;
    struct error err;
    int64_t t0 = mono_ms();
    cr_assert_eq(proc_run(&o, collect, &l, &r, &err), 0);
    cr_assert(r.aborted);
    cr_assert_not(r.cancelled);
    cr_assert_not(r.timed_out);
    cr_assert_lt(mono_ms() - t0, 3000);
}

/* A group like the one a crashed engine leaves: a session leader with a background child. */
static pid_t orphan_group(const char *script, struct proc_ident *id)
{
    pid_t c = fork();
    cr_assert_geq(c, 0);
    if (c == 0) {
        setsid();
        execl("/bin/sh", "sh", "-c", script, (char *)NULL);
        _exit(127);
    }
    usleep(200 * 1000); /* the shell sets its traps and starts the background sleep */
    memset(id, 0, sizeof(*id));
    id->pid = c;
    id->start_time = proc_start_time(c);
    cr_assert_gt(id->start_time, 0);
    cr_assert_eq(proc_boot_id(id->boot_id, sizeof(id->boot_id)), 0);
    return c;
}

Test(proc, end_group_terms_then_kills)
{
    struct proc_ident id;
    pid_t c = orphan_group("sleep 30 & sleep 30", &id);
    cr_assert_eq(proc_end_group(&id, 2000), SIGTERM);
    int st;
    cr_assert_eq(waitpid(c, &st, WNOHANG), c, "the leader still runs");
    cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);
    cr_assert_eq(proc_end_group(&id, 2000), 0, "nothing of the group is left");

    c = orphan_group("trap '' TERM; sleep 30 & sleep 30", &id);
    int64_t t0 = mono_ms();
    cr_assert_eq(proc_end_group(&id, 300), SIGKILL);
    cr_assert_geq(mono_ms() - t0, 300);
    cr_assert_eq(waitpid(c, &st, 0), c);
    cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
}

Test(proc, end_groups_share_one_grace)
{
    /* Three TERM-ignoring orphans and one that obeys: one grace for all, not one each. */
    struct proc_ident ids[4];
    pid_t c[4];
    for (int i = 0; i < 3; i++)
        c[i] = orphan_group("trap '' TERM; sleep 30 & sleep 30", &ids[i]);
    c[3] = orphan_group("sleep 30 & sleep 30", &ids[3]);
    int how[4];
    int64_t t0 = mono_ms();
    proc_end_groups(ids, 4, 600, how);
    int64_t took = mono_ms() - t0;
    cr_assert_geq(took, 600, "the TERM-ignoring groups had their grace");
    cr_assert_lt(took, 1500, "one grace for all took %lld ms", (long long)took);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(how[i], SIGKILL, "group %d", i);
    cr_assert_eq(how[3], SIGTERM);
    for (int i = 0; i < 4; i++) {
        int st;
        cr_assert_eq(waitpid(c[i], &st, 0), c[i]);
        cr_assert(WIFSIGNALED(st));
        cr_assert_eq(WTERMSIG(st), i < 3 ? SIGKILL : SIGTERM);
    }
    proc_end_groups(ids, 4, 200, how);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(how[i], 0, "nothing of group %d is left", i);
}

Test(proc, end_group_leaves_strangers_alone)
{
    struct proc_ident id;
    pid_t c = orphan_group("sleep 30", &id);
    struct proc_ident other = id;
    other.start_time = id.start_time - 1; /* the pid now names a newer process */
    cr_assert_eq(proc_end_group(&other, 200), 0);
    other = id;
    snprintf(other.boot_id, sizeof(other.boot_id), "00000000-0000-0000-0000-000000000000");
    cr_assert_eq(proc_end_group(&other, 200), 0, "another boot's pids mean nothing");
    cr_assert_eq(waitpid(c, NULL, WNOHANG), 0, "the process was signalled");
    cr_assert_eq(proc_end_group(&id, 2000), SIGTERM);
    waitpid(c, NULL, 0);
}
