/*
 * util: the small shared pieces every core module needs: the error record
 * (message plus location, returned instead of printed), exit classes, wall
 * and monotonic clocks, RFC3339 and duration parsing/formatting, random hex
 * ids, a growable string buffer for encoders, and the one safe way to open
 * a file someone named (util_open_regular: never blocks, regular files only).
 *
 * Thread safety: all functions are reentrant; the pinned clock is read from
 * the environment once, under pthread_once, whichever thread asks first.
 */
#ifndef CATALYST_UTIL_H
#define CATALYST_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Exit classes (DESIGN §2). Lower layers put one in error.code. */
enum exit_class {
    EXIT_OK = 0,
    EXIT_FAILED = 1,   /* the awaited outcome failed */
    EXIT_USAGE = 2,    /* usage error or invalid input */
    EXIT_API = 3,      /* API unreachable or answered an error */
    EXIT_AUTH = 4,     /* authentication refused */
    EXIT_TIMEOUT = 5,  /* wait timed out */
};

struct error {
    int code;          /* enum exit_class, 0 when no error */
    char file[256];    /* "" when not about a file */
    int line, column;  /* 1-based; 0 when unknown */
    char msg[1024];
};

void error_clear(struct error *e);
void error_set(struct error *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void error_at(struct error *e, int code, const char *file, int line, int column,
              const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* "file:line:column: msg", "file: msg" or "msg" into buf; returns buf. */
const char *error_format(const struct error *e, char *buf, size_t n);

/* Wall clock in ms. CATALYST_TUI_NOW=<RFC3339> pins it (frozen) for golden tests. */
int64_t time_now_ms(void);
/* Monotonic clock in ms, for scheduling and timeouts. */
int64_t mono_ms(void);
/*
 * RFC3339 with optional fraction and Z or ±hh:mm offset. Go's zero time and
 * "" decode to 0 (absent). Returns 0 on success, -1 on a malformed value.
 */
int time_parse(const char *s, int64_t *out_ms);
/* "2026-05-12T09:02:30Z", with ".mmm" only when ms%1000 != 0. buf >= 32. */
char *time_format(int64_t ms, char *buf, size_t n);
/* "09:02:30" (UTC) */
char *time_format_hms(int64_t ms, char *buf, size_t n);

/* "5s", "10m", "1h30m", "250ms", "2h". Returns 0, or -1 when malformed. */
int duration_parse(const char *s, int64_t *out_ms);
/*
 * Operator form: "0s", "12s", "1m 24s", "2h 5m"; ">999999h" from a million
 * hours on (up to INT64_MAX). ms < 0 gives "-".
 */
char *duration_format(int64_t ms, char *buf, size_t n);

/* nbytes random bytes as 2*nbytes lowercase hex into out (size >= 2*nbytes+1). */
void id_hex(char *out, size_t nbytes);

struct strbuf {
    char *buf;   /* NUL-terminated, owned; NULL until first append */
    size_t len, cap;
    bool oom;    /* set once an allocation failed; further appends are no-ops */
};

void sb_init(struct strbuf *sb);
void sb_fini(struct strbuf *sb);
void sb_reset(struct strbuf *sb);
void sb_append(struct strbuf *sb, const char *s, size_t n);
void sb_puts(struct strbuf *sb, const char *s);
void sb_putc(struct strbuf *sb, char c);
void sb_printf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s as a JSON string literal (quotes included); invalid UTF-8 becomes U+FFFD. */
void sb_json_str(struct strbuf *sb, const char *s);
/* Takes the buffer (caller frees); the strbuf is left empty. */
char *sb_take(struct strbuf *sb);

/*
 * Reads a whole file (at most max bytes; larger => -1 with errno EFBIG).
 * Opens through util_open_regular (symlinks followed): a FIFO or a device is
 * refused (errno EINVAL/EISDIR) instead of blocking.
 */
int read_file(const char *path, size_t max, char **out, size_t *len);
/*
 * Atomic durable write: tmp file in the same dir (mode), fsync, rename over,
 * fsync the directory. Returns 0 or -1 with errno.
 */
int write_file_atomic(const char *path, const void *data, size_t len, int mode);
/*
 * Opening files named by the user or found in our own directories.
 *
 * util_open_regular opens path read-only with O_NONBLOCK (a FIFO without a
 * writer would block open() and then read() forever), O_CLOEXEC (a job
 * spawned meanwhile never inherits the fd) and, with UTIL_NOFOLLOW,
 * O_NOFOLLOW; it fstat's the open fd and refuses anything but a regular
 * file: "PATH: is a FIFO, not a regular file", "... a directory", "... a
 * character device", "... a block device", "... a socket", "PATH: is a
 * symbolic link, refused here" (UTIL_NOFOLLOW, errno ELOOP). O_NONBLOCK is
 * cleared before returning, so reads behave as usual.
 *
 * Follow or not: a file the operator names on the command line or in the
 * config (theme, config, spec, token) may be a symlink (dotfiles managed by
 * stow, a secret mounted by an agent): it is followed, but its target must be
 * a regular file. Files inside the state dir are ours: a symlink there was
 * planted, so store.c passes UTIL_NOFOLLOW.
 *
 * Returns the fd, or -1 with errno set (EISDIR, ELOOP, EINVAL for the other
 * kinds, or open's errno) and err (may be NULL) filled with EXIT_USAGE and
 * err->file = path. Never prints a byte of the file.
 */
#define UTIL_NOFOLLOW 1
int util_open_regular(const char *path, int flags, struct error *err);
/*
 * util_open_regular, then the whole file (at most max bytes: larger is
 * refused with errno EFBIG, "PATH: larger than N bytes"). *out is NUL-
 * terminated (caller frees); *len excludes the NUL. Returns 0 or -1 (errno,
 * err as above; *out NULL).
 */
int util_read_regular(const char *path, int flags, size_t max, char **out, size_t *len,
                      struct error *err);
/*
 * Keeps a log that fd appends to bounded: when fd is the regular file at
 * path (same inode, path not a symlink) and it has grown past max bytes,
 * path becomes path.1 (the one before is dropped) and a new empty path is
 * opened (0600, O_APPEND, no symlink followed, close-on-exec). When another
 * writer already rotated it (fd is past max but path is a newer file), the
 * newer path is opened instead. Returns 1 with *new_fd set (the caller owns
 * it and puts it where fd was), 0 when nothing was done, -1 when the new
 * file could not be opened (the log then keeps going to path.1).
 */
int util_log_rotate(int fd, const char *path, long long max, int *new_fd);
/*
 * For error messages about a file's content: s itself when it is a short
 * plain word (1..max bytes of [A-Za-z0-9._:-]), else "(not shown)". A key or
 * value may be named in a message; a line of someone's file (a password
 * hash, a token) must never be: it would end up on screen and in logs.
 */
const char *util_msg_word(const char *s, size_t max);

/* mkdir -p with mode for each created level. */
int mkdir_p(const char *path, int mode);

/*
 * Strict decode of the one UTF-8 sequence at s (at most n bytes read): stores
 * the scalar in *cp and returns the sequence length, or returns 0 (leaving
 * *cp alone) when s[0] does not start a valid sequence. Overlong forms,
 * surrogates and values past U+10FFFF are invalid.
 */
size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);
/* Bytes of valid UTF-8 at s (0 when s[0] does not start a valid sequence). */
size_t utf8_valid_len(const unsigned char *s, size_t n);

#endif
