/*
 * proc: runs one shell command as a child process for the engine. The child
 * gets /bin/sh -c CMD through posix_spawn in its own process group, stdin from
 * /dev/null, and the parent environment plus extra variables. Its stdout and
 * stderr are read with poll() and cut into lines (stdout INFO, stderr WARN;
 * lines over PROC_LINE_MAX bytes are split on a UTF-8 boundary, invalid UTF-8
 * becomes U+FFFD). A timeout or a cancel request sends SIGTERM to the group,
 * then SIGKILL after a grace period. Once the shell exited, output of any
 * background process it left behind is read for a short while, then the
 * pipes are closed so a daemonised child cannot hold the job open, and what
 * is left of the group is killed: nothing of a job outlives it.
 *
 * Threading: proc_run blocks the calling thread until the child is reaped;
 * many threads may run children at once (every fd is close-on-exec). The
 * cancel flag may be set from any thread. Ownership: the line callback gets a
 * NUL-terminated line valid only during the call.
 */
#ifndef CATALYST_PROC_H
#define CATALYST_PROC_H

#include "model.h"
#include "util.h"

#include <stdatomic.h>

#define PROC_LINE_MAX 4096

struct proc_opts {
    const char *command;       /* run through /bin/sh -c */
    const char *const *env;    /* extra "KEY=value" entries; they override the parent's */
    size_t n_env;
    int64_t timeout_ms;        /* 0: none */
    int64_t kill_grace_ms;     /* SIGTERM -> SIGKILL delay; <= 0 means 5000 */
    const atomic_bool *cancel; /* NULL or a flag that ends the child like a timeout */
};

struct proc_result {
    int exit_code;             /* valid when !signaled */
    bool signaled;
    int term_signal;
    bool timed_out;            /* the timeout fired */
    bool cancelled;            /* the cancel flag ended it */
};

typedef void (*proc_line_fn)(void *ctx, enum log_level level, const char *line);

/* 0 once the child was reaped (whatever its outcome); -1 with err when it could not start. */
int proc_run(const struct proc_opts *o, proc_line_fn fn, void *ctx, struct proc_result *out,
             struct error *err);

/*
 * Copies n bytes into out (size >= 3n+1), replacing each invalid UTF-8 byte by
 * U+FFFD and dropping NUL bytes; returns the length written.
 */
size_t proc_sanitize_utf8(const char *in, size_t n, char *out);

#endif
