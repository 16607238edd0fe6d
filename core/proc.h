/*
 * proc: runs one shell command as a child process for the engine. The child
 * is forked into a session of its own (setsid: a hangup of the console's
 * terminal never reaches it, and its process group id is its pid), stdin from
 * /dev/null, the parent environment plus extra variables. Before it execs
 * /bin/sh -c CMD it waits on a pipe until the caller's on_start hook has
 * recorded who it is (pid, start time, boot id); if the hook fails, or the
 * parent dies first, the pipe reads EOF and the command never runs. Its
 * stdout and stderr are read with poll() and cut into lines (stdout INFO,
 * stderr WARN; lines over PROC_LINE_MAX bytes are split on a UTF-8 boundary,
 * invalid UTF-8 becomes U+FFFD). A timeout, a cancel request or an abort
 * request sends SIGTERM to the group, then SIGKILL after a grace period. Once
 * the shell exited, output of any background process it left behind is read
 * for a short while, then the pipes are closed so a daemonised child cannot
 * hold the job open, and what is left of the group is killed: nothing of a
 * job outlives it while its parent lives.
 *
 * If the parent is killed outright (SIGKILL, a crash), the group survives it;
 * proc_end_group, given the recorded identity, ends such a group on the next
 * start (same boot, same process start time) so a command never runs twice.
 *
 * Threading: proc_run blocks the calling thread until the child is reaped;
 * many threads may run children at once (every fd is close-on-exec, and the
 * child closes every other descriptor before waiting). The cancel and abort
 * flags may be set from any thread. Ownership: the line callback gets a
 * NUL-terminated line valid only during the call.
 */
#ifndef CATALYST_PROC_H
#define CATALYST_PROC_H

#include "model.h"
#include "util.h"

#include <stdatomic.h>
#include <sys/types.h>

#define PROC_LINE_MAX 4096
#define PROC_BOOT_ID_MAX 40

/* Who a child is, durably enough to recognise it after a crash. */
struct proc_ident {
    pid_t pid;                 /* also its session and process group id */
    int64_t start_time;        /* field 22 of /proc/PID/stat (clock ticks since boot) */
    char boot_id[PROC_BOOT_ID_MAX]; /* /proc/sys/kernel/random/boot_id */
};

/* Called before the command runs; non-zero (with err) and it never runs. */
typedef int (*proc_start_fn)(void *ctx, const struct proc_ident *id, struct error *err);

struct proc_opts {
    const char *command;       /* run through /bin/sh -c */
    const char *const *env;    /* extra "KEY=value" entries; they override the parent's */
    size_t n_env;
    int64_t timeout_ms;        /* 0: none */
    int64_t kill_grace_ms;     /* SIGTERM -> SIGKILL delay; <= 0 means 5000 */
    const atomic_bool *cancel; /* NULL or a flag that ends the child like a timeout */
    const atomic_bool *abort;  /* NULL or a per-run flag that ends it too (result.aborted) */
    proc_start_fn on_start;    /* NULL or the hook that records the child before it runs */
    void *start_ctx;
};

struct proc_result {
    int exit_code;             /* valid when !signaled */
    bool signaled;
    int term_signal;
    bool timed_out;            /* the timeout fired */
    bool cancelled;            /* the cancel flag ended it */
    bool aborted;              /* the abort flag ended it */
};

typedef void (*proc_line_fn)(void *ctx, enum log_level level, const char *line);

/*
 * 0 once the child was reaped (whatever its outcome); -1 with err when it
 * could not start or on_start refused it (then the command did not run).
 */
int proc_run(const struct proc_opts *o, proc_line_fn fn, void *ctx, struct proc_result *out,
             struct error *err);

/*
 * Copies n bytes into out (size >= 3n+1), replacing each invalid UTF-8 byte by
 * U+FFFD and dropping NUL bytes; returns the length written.
 */
size_t proc_sanitize_utf8(const char *in, size_t n, char *out);

/* This boot's id into out (n >= PROC_BOOT_ID_MAX); -1 ("" in out) when unreadable. */
int proc_boot_id(char *out, size_t n);
/* Start time of pid (field 22 of /proc/PID/stat); -1 when there is no such process. */
int64_t proc_start_time(pid_t pid);
/*
 * Ends what is left of a child's group after its parent died: when id is of
 * this boot and its group still has live members that are not younger
 * impostors (the leader pid, if alive, must have the recorded start time),
 * SIGTERM to the group, then SIGKILL after grace_ms (<= 0: 5000). Blocks
 * until the group is gone. Returns 0 (nothing of it was left), SIGTERM or
 * SIGKILL (the signal that ended it), or -1 (members survived SIGKILL).
 */
int proc_end_group(const struct proc_ident *id, int64_t grace_ms);
/*
 * proc_end_group for n groups at once: SIGTERM to every live one first, one
 * wait of grace_ms for all of them, then SIGKILL to those left, so recovery
 * takes one grace however many orphans there are. how[i] gets what
 * proc_end_group would return for ids[i].
 */
void proc_end_groups(const struct proc_ident *ids, size_t n, int64_t grace_ms, int *how);

#endif
