/* proc: child processes for run: jobs (see proc.h). */
#include "proc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* How long output is still read after the shell exited (background children). */
#define PROC_DRAIN_MS 500

size_t proc_sanitize_utf8(const char *in, size_t n, char *out)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        if (s[i] == 0) {
            i++;
            continue;
        }
        size_t v = utf8_valid_len(s + i, n - i);
        if (v == 0) {
            out[o++] = (char)0xEF;
            out[o++] = (char)0xBF;
            out[o++] = (char)0xBD;
            i++;
            continue;
        }
        memcpy(out + o, s + i, v);
        o += v;
        i += v;
    }
    out[o] = 0;
    return o;
}

/* One output stream being cut into lines. */
struct stream {
    int fd;                    /* -1 once at EOF */
    enum log_level level;
    char buf[PROC_LINE_MAX + 8];
    size_t len;
};

/* Where to cut a full buffer so a multi-byte sequence is not split. */
static size_t cut_point(const unsigned char *b, size_t n)
{
    for (size_t back = 1; back <= 3 && back <= n; back++) {
        unsigned char c = b[n - back];
        if ((c & 0xC0) == 0x80)
            continue;
        size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
        return need > back ? n - back : n;
    }
    return n;
}

static void emit(proc_line_fn fn, void *ctx, enum log_level level, const char *p, size_t n)
{
    if (n && p[n - 1] == '\r')
        n--;
    char out[PROC_LINE_MAX * 3 + 1];
    proc_sanitize_utf8(p, n, out);
    if (fn)
        fn(ctx, level, out);
}

/* Emits every complete line in st; with flush, the rest too. */
static void drain(struct stream *st, proc_line_fn fn, void *ctx, bool flush)
{
    size_t start = 0;
    for (;;) {
        char *nl = memchr(st->buf + start, '\n', st->len - start);
        if (nl) {
            emit(fn, ctx, st->level, st->buf + start, (size_t)(nl - st->buf) - start);
            start = (size_t)(nl - st->buf) + 1;
            continue;
        }
        size_t rest = st->len - start;
        if (rest >= PROC_LINE_MAX) {
            size_t c = cut_point((const unsigned char *)st->buf + start, PROC_LINE_MAX);
            if (c == 0)
                c = PROC_LINE_MAX;
            emit(fn, ctx, st->level, st->buf + start, c);
            start += c;
            continue;
        }
        if (flush && rest) {
            emit(fn, ctx, st->level, st->buf + start, rest);
            start += rest;
        }
        break;
    }
    memmove(st->buf, st->buf + start, st->len - start);
    st->len -= start;
}

/* parent environ + extra, extra overriding same-named entries; NULL on OOM. */
static char **build_env(const char *const *extra, size_t n_extra)
{
    size_t n = 0;
    while (environ && environ[n])
        n++;
    char **env = calloc(n + n_extra + 1, sizeof(char *));
    if (!env)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const char *eq = strchr(environ[i], '=');
        size_t kl = eq ? (size_t)(eq - environ[i]) : strlen(environ[i]);
        bool overridden = false;
        for (size_t j = 0; j < n_extra && !overridden; j++)
            overridden = strncmp(extra[j], environ[i], kl) == 0 && extra[j][kl] == '=';
        if (!overridden)
            env[k++] = environ[i];
    }
    for (size_t j = 0; j < n_extra; j++)
        env[k++] = (char *)(uintptr_t)extra[j];
    env[k] = NULL;
    return env;
}

int proc_boot_id(char *out, size_t n)
{
    out[0] = 0;
    int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    char b[64];
    ssize_t r = read(fd, b, sizeof(b) - 1);
    close(fd);
    if (r <= 0)
        return -1;
    b[r] = 0;
    b[strcspn(b, "\n")] = 0;
    snprintf(out, n, "%s", b);
    return *out ? 0 : -1;
}

/*
 * Fields of /proc/PID/stat after the command name (which may hold spaces and
 * parentheses, hence the last ')'): state, process group, session and start
 * time (field 22, clock ticks since boot). -1 when the process is gone.
 */
static int read_stat(pid_t pid, char *state, pid_t *pgrp, pid_t *sid, int64_t *start)
{
    char path[64], b[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t r = read(fd, b, sizeof(b) - 1);
    close(fd);
    if (r <= 0)
        return -1;
    b[r] = 0;
    char *p = strrchr(b, ')');
    if (!p)
        return -1;
    /* p+2 is field 3 (state); field 22 is 19 fields further on. */
    char st;
    int pp, pg, se;
    long long v[15];
    unsigned long long t;
    if (sscanf(p + 2, "%c %d %d %d %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld "
                      "%lld %lld %lld %llu",
               &st, &pp, &pg, &se, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8],
               &v[9], &v[10], &v[11], &v[12], &v[13], &v[14], &t) != 20)
        return -1;
    if (state)
        *state = st;
    if (pgrp)
        *pgrp = pg;
    if (sid)
        *sid = se;
    if (start)
        *start = (int64_t)t;
    return 0;
}

int64_t proc_start_time(pid_t pid)
{
    int64_t t;
    return read_stat(pid, NULL, NULL, NULL, &t) == 0 ? t : -1;
}

/*
 * Live (not zombie) members of the session-and-group id.pid that started no
 * earlier than its leader did: the processes a crashed engine left behind.
 * A leader whose pid now belongs to a newer process means the group is gone.
 */
static int group_members(const struct proc_ident *id)
{
    int64_t lead = proc_start_time(id->pid);
    if (lead >= 0 && lead != id->start_time)
        return 0;
    DIR *d = opendir("/proc");
    if (!d)
        return kill(-id->pid, 0) == 0 ? 1 : 0;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] < '1' || de->d_name[0] > '9')
            continue;
        char st;
        pid_t pg, se;
        int64_t t;
        if (read_stat((pid_t)atoi(de->d_name), &st, &pg, &se, &t) != 0)
            continue;
        if (pg == id->pid && se == id->pid && st != 'Z' && t >= id->start_time)
            n++;
    }
    closedir(d);
    return n;
}

/* Waits up to ms until no group in ids[0..n) with live[i] set has a live member; clears live[i]
 * of the groups that are gone. True when none is left. */
static bool groups_wait_gone(const struct proc_ident *ids, bool *live, size_t n, int64_t ms)
{
    int64_t until = mono_ms() + ms;
    for (;;) {
        bool any = false;
        for (size_t i = 0; i < n; i++) {
            if (live[i] && group_members(&ids[i]) == 0)
                live[i] = false;
            any = any || live[i];
        }
        if (!any)
            return true;
        if (mono_ms() >= until)
            return false;
        usleep(20 * 1000);
    }
}

void proc_end_groups(const struct proc_ident *ids, size_t n, int64_t grace_ms, int *how)
{
    char boot[PROC_BOOT_ID_MAX];
    bool have_boot = proc_boot_id(boot, sizeof(boot)) == 0;
    bool *live = calloc(n ? n : 1, sizeof(*live));
    size_t n_live = 0;
    for (size_t i = 0; i < n; i++) {
        const struct proc_ident *id = &ids[i];
        how[i] = 0;
        /* Another boot: every process of the old one is gone, and pids mean nothing. */
        if (id->pid <= 1 || id->start_time <= 0 || !id->boot_id[0] || !have_boot ||
            strcmp(boot, id->boot_id) != 0 || group_members(id) == 0)
            continue;
        if (!live) {
            /* No memory for the shared wait: this group alone, one after another. */
            kill(-id->pid, SIGTERM);
            bool one = true;
            if (groups_wait_gone(id, &one, 1, grace_ms > 0 ? grace_ms : 5000)) {
                how[i] = SIGTERM;
                continue;
            }
            kill(-id->pid, SIGKILL);
            how[i] = groups_wait_gone(id, &one, 1, 5000) ? SIGKILL : -1;
            continue;
        }
        live[i] = true;
        n_live++;
        how[i] = SIGTERM;
        kill(-id->pid, SIGTERM);
    }
    if (!live || n_live == 0) {
        free(live);
        return;
    }
    /* One grace for all of them, then SIGKILL to whatever is left, one wait again. */
    if (!groups_wait_gone(ids, live, n, grace_ms > 0 ? grace_ms : 5000)) {
        for (size_t i = 0; i < n; i++)
            if (live[i]) {
                how[i] = SIGKILL;
                kill(-ids[i].pid, SIGKILL);
            }
        groups_wait_gone(ids, live, n, 5000);
        for (size_t i = 0; i < n; i++)
            if (live[i])
                how[i] = -1;
    }
    free(live);
}

int proc_end_group(const struct proc_ident *id, int64_t grace_ms)
{
    int how;
    proc_end_groups(id, 1, grace_ms, &how);
    return how;
}

/*
 * The child between fork and exec: async-signal-safe calls only (the parent
 * has other threads). It leaves the parent's session, takes its pipes, and
 * waits on the gate until the parent recorded it; EOF there means "do not run".
 */
static void child_main(const struct proc_opts *o, char **env, int out_w, int err_w, int gate_r,
                       int ready_w)
{
    /* Handlers back to default while still blocked, so no inherited handler runs here. */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            sigaction(sig, &dfl, NULL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (setsid() < 0)
        _exit(126);
    /* The group exists now: signals to it reach this child from here on. */
    if (write(ready_w, "r", 1) != 1)
        _exit(126);
    int nul = open("/dev/null", O_RDONLY);
    if (nul < 0 || dup2(nul, 0) < 0 || dup2(out_w, 1) < 0 || dup2(err_w, 2) < 0 ||
        dup2(gate_r, 3) < 0)
        _exit(126);
    /* Other children's gate ends must not stay open here, or a dead parent's EOF never comes. */
    if (close_range(4, ~0U, 0) != 0)
        for (int fd = 4; fd < 1024; fd++)
            close(fd);
    char go = 0;
    ssize_t r;
    while ((r = read(3, &go, 1)) < 0 && errno == EINTR)
        ;
    if (r != 1 || go != 'g')
        _exit(125);
    close(3);
    char *argv[] = {(char *)(uintptr_t) "sh", (char *)(uintptr_t) "-c",
                    (char *)(uintptr_t)o->command, NULL};
    execve("/bin/sh", argv, env);
    _exit(127);
}

/*
 * Starts the child in its own session, tells on_start who it is, and only
 * then lets it exec the command. -1 with err (the child, if any, reaped).
 */
static int spawn_child(const struct proc_opts *o, int out_w, int err_w, pid_t *pid,
                       struct proc_ident *ident, struct error *err)
{
    char **env = build_env(o->env, o->n_env);
    if (!env) {
        error_set(err, EXIT_FAILED, "out of memory");
        return -1;
    }
    int gate[2], ready[2];
    if (pipe2(gate, O_CLOEXEC) != 0) {
        error_set(err, EXIT_FAILED, "pipe: %s", strerror(errno));
        free(env);
        return -1;
    }
    if (pipe2(ready, O_CLOEXEC) != 0) {
        error_set(err, EXIT_FAILED, "pipe: %s", strerror(errno));
        close(gate[0]);
        close(gate[1]);
        free(env);
        return -1;
    }
    /* Everything blocked across fork: the child must not run a handler it inherited. */
    sigset_t all, saved;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &saved);
    pid_t c = fork();
    if (c == 0)
        child_main(o, env, out_w, err_w, gate[0], ready[1]);
    int fe = errno;
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
    free(env);
    close(gate[0]);
    close(ready[1]);
    if (c < 0) {
        close(gate[1]);
        close(ready[0]);
        error_set(err, EXIT_FAILED, "cannot start /bin/sh: %s", strerror(fe));
        return -1;
    }
    /* Until the child has its own session, kill(-pid) would miss it. */
    char rb = 0;
    ssize_t rr;
    while ((rr = read(ready[0], &rb, 1)) < 0 && errno == EINTR)
        ;
    close(ready[0]);
    if (rr != 1) {
        close(gate[1]);
        while (waitpid(c, NULL, 0) < 0 && errno == EINTR)
            ;
        error_set(err, EXIT_FAILED, "cannot start /bin/sh: the child failed to set up");
        return -1;
    }
    memset(ident, 0, sizeof(*ident));
    ident->pid = c;
    ident->start_time = proc_start_time(c);
    proc_boot_id(ident->boot_id, sizeof(ident->boot_id));
    int rc = o->on_start ? o->on_start(o->start_ctx, ident, err) : 0;
    if (rc == 0) {
        /* A failed write means the child is gone already: its exit is read later. */
        ssize_t w = write(gate[1], "g", 1);
        (void)w;
    }
    close(gate[1]);
    if (rc != 0) {
        /* Not recorded, so not run: the child sees EOF on the gate and exits. */
        kill(c, SIGKILL);
        while (waitpid(c, NULL, 0) < 0 && errno == EINTR)
            ;
        return -1;
    }
    *pid = c;
    return 0;
}

int proc_run(const struct proc_opts *o, proc_line_fn fn, void *ctx, struct proc_result *out,
             struct error *err)
{
    memset(out, 0, sizeof(*out));
    int po[2], pe[2];
    if (pipe2(po, O_CLOEXEC) != 0) {
        error_set(err, EXIT_FAILED, "pipe: %s", strerror(errno));
        return -1;
    }
    if (pipe2(pe, O_CLOEXEC) != 0) {
        error_set(err, EXIT_FAILED, "pipe: %s", strerror(errno));
        close(po[0]);
        close(po[1]);
        return -1;
    }
    pid_t pid;
    struct proc_ident ident;
    int rc = spawn_child(o, po[1], pe[1], &pid, &ident, err);
    close(po[1]);
    close(pe[1]);
    if (rc != 0) {
        close(po[0]);
        close(pe[0]);
        return -1;
    }
    struct stream *st = calloc(2, sizeof(*st));
    if (!st) {
        /* Without buffers we cannot read; end the child rather than leak it. */
        kill(-pid, SIGKILL);
        close(po[0]);
        close(pe[0]);
        waitpid(pid, NULL, 0);
        error_set(err, EXIT_FAILED, "out of memory");
        return -1;
    }
    st[0].fd = po[0];
    st[0].level = LOG_INFO;
    st[1].fd = pe[0];
    st[1].level = LOG_WARN;
    int64_t grace = o->kill_grace_ms > 0 ? o->kill_grace_ms : 5000;
    int64_t t0 = mono_ms();
    int64_t deadline = o->timeout_ms > 0 ? t0 + o->timeout_ms : -1;
    int64_t kill_at = -1;
    /*
     * The shell's exit is seen with WNOWAIT and it is reaped only at the end:
     * while it is a zombie its pid, which is the group id, cannot be reused,
     * so signalling the group never reaches an unrelated process.
     */
    bool exited = false, lost = false, term_sent = false, kill_sent = false;
    int64_t exited_at = 0;
    int status = 0;
    while (!exited || st[0].fd >= 0 || st[1].fd >= 0) {
        int64_t now = mono_ms();
        bool cancel = o->cancel && atomic_load(o->cancel);
        bool abort_now = o->abort && atomic_load(o->abort);
        if (!term_sent && ((deadline >= 0 && now >= deadline) || cancel || abort_now)) {
            if (abort_now)
                out->aborted = true;
            else if (cancel)
                out->cancelled = true;
            else
                out->timed_out = true;
            kill(-pid, SIGTERM);
            term_sent = true;
            kill_at = now + grace;
        }
        if (term_sent && !kill_sent && now >= kill_at) {
            kill(-pid, SIGKILL);
            kill_sent = true;
        }
        struct pollfd pfd[2];
        int np = 0;
        for (int i = 0; i < 2; i++)
            if (st[i].fd >= 0) {
                pfd[np].fd = st[i].fd;
                pfd[np].events = POLLIN;
                pfd[np].revents = 0;
                np++;
            }
        /* Short waits keep timeout, cancel and reaping responsive without signals. */
        int wait_ms = np ? 50 : 10;
        if (deadline >= 0 && !term_sent && deadline - now < wait_ms)
            wait_ms = (int)(deadline - now > 0 ? deadline - now : 0);
        int pr = poll(pfd, (nfds_t)np, wait_ms);
        if (pr < 0 && errno != EINTR)
            break;
        for (int k = 0; pr > 0 && k < np; k++) {
            if (!pfd[k].revents)
                continue;
            struct stream *s = st[0].fd == pfd[k].fd ? &st[0] : &st[1];
            ssize_t r = read(s->fd, s->buf + s->len, PROC_LINE_MAX - s->len);
            if (r > 0) {
                s->len += (size_t)r;
                drain(s, fn, ctx, false);
            } else if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
                drain(s, fn, ctx, true);
                close(s->fd);
                s->fd = -1;
            }
        }
        if (!exited) {
            siginfo_t si;
            memset(&si, 0, sizeof(si));
            int w = waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT);
            if ((w == 0 && si.si_pid == pid) || (w < 0 && errno == ECHILD)) {
                exited = true;
                lost = w < 0; /* reaped elsewhere: the group id is no longer ours */
                exited_at = mono_ms();
            }
        }
        /*
         * Something still holds the pipes after the shell exited: a
         * background child in the group, or one that left it (setsid). Once
         * killing was decided the group dies now; either way the pipes are
         * read briefly and then closed, so nothing outside the group can hold
         * the job (and engine_stop) open.
         */
        if (exited && (st[0].fd >= 0 || st[1].fd >= 0)) {
            if (term_sent && !kill_sent && !lost) {
                kill(-pid, SIGKILL);
                kill_sent = true;
                exited_at = mono_ms();
            } else if (mono_ms() - exited_at > PROC_DRAIN_MS) {
                for (int i = 0; i < 2; i++)
                    if (st[i].fd >= 0) {
                        drain(&st[i], fn, ctx, true);
                        close(st[i].fd);
                        st[i].fd = -1;
                    }
            }
        }
    }
    for (int i = 0; i < 2; i++)
        if (st[i].fd >= 0)
            close(st[i].fd);
    free(st);
    /*
     * The job ends with its group: whatever it left running in the background
     * would otherwise outlive the job and the engine's stop. Also unblocks the
     * wait below when polling failed before the shell exited.
     */
    if (!lost) {
        kill(-pid, SIGKILL);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
    }
    if (WIFSIGNALED(status)) {
        out->signaled = true;
        out->term_signal = WTERMSIG(status);
    } else {
        out->exit_code = WEXITSTATUS(status);
    }
    return 0;
}
