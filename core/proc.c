/* proc: child processes for run: jobs (see proc.h). */
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
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

static int spawn_child(const struct proc_opts *o, int out_w, int err_w, pid_t *pid,
                       struct error *err)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    sigdelset(&all, SIGKILL);
    sigdelset(&all, SIGSTOP);
    char **env = build_env(o->env, o->n_env);
    if (!env) {
        error_set(err, EXIT_FAILED, "out of memory");
        return -1;
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, out_w, 1);
    posix_spawn_file_actions_adddup2(&fa, err_w, 2);
    posix_spawnattr_init(&at);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &all);
    char *argv[] = {(char *)(uintptr_t) "sh", (char *)(uintptr_t) "-c",
                    (char *)(uintptr_t)o->command, NULL};
    int rc = posix_spawn(pid, "/bin/sh", &fa, &at, argv, env);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    free(env);
    if (rc != 0) {
        error_set(err, EXIT_FAILED, "cannot start /bin/sh: %s", strerror(rc));
        return -1;
    }
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
    int rc = spawn_child(o, po[1], pe[1], &pid, err);
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
        if (!term_sent && ((deadline >= 0 && now >= deadline) || cancel)) {
            if (cancel)
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
