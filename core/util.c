/* util: errors, clocks, time and duration text, ids, string buffer, files (see util.h). */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void error_clear(struct error *e)
{
    if (e)
        memset(e, 0, sizeof(*e));
}

static void error_vset(struct error *e, int code, const char *fmt, va_list ap)
{
    e->code = code;
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
}

void error_set(struct error *e, int code, const char *fmt, ...)
{
    if (!e)
        return;
    e->file[0] = 0;
    e->line = e->column = 0;
    va_list ap;
    va_start(ap, fmt);
    error_vset(e, code, fmt, ap);
    va_end(ap);
}

void error_at(struct error *e, int code, const char *file, int line, int column,
              const char *fmt, ...)
{
    if (!e)
        return;
    snprintf(e->file, sizeof(e->file), "%s", file ? file : "");
    e->line = line;
    e->column = column;
    va_list ap;
    va_start(ap, fmt);
    error_vset(e, code, fmt, ap);
    va_end(ap);
}

const char *error_format(const struct error *e, char *buf, size_t n)
{
    if (e->file[0] && e->line > 0)
        snprintf(buf, n, "%s:%d:%d: %s", e->file, e->line, e->column, e->msg);
    else if (e->file[0])
        snprintf(buf, n, "%s: %s", e->file, e->msg);
    else
        snprintf(buf, n, "%s", e->msg);
    return buf;
}

int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t pinned_ms; /* CATALYST_TUI_NOW in ms, 0 when not pinned */
static pthread_once_t pinned_once = PTHREAD_ONCE_INIT;

static void read_pinned_clock(void)
{
    const char *p = getenv("CATALYST_TUI_NOW");
    int64_t v = 0;
    pinned_ms = (p && *p && time_parse(p, &v) == 0 && v > 0) ? v : 0;
}

int64_t time_now_ms(void)
{
    /* Once, for every thread: a plain flag here was a data race. */
    pthread_once(&pinned_once, read_pinned_clock);
    if (pinned_ms)
        return pinned_ms;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Days from civil date (proleptic Gregorian), Howard Hinnant's algorithm. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int time_parse(const char *s, int64_t *out)
{
    *out = 0;
    if (!s || !*s)
        return 0;
    int Y, M, D, h, m, sec;
    size_t len = strlen(s);
    if (len < 20 || digits(s, 4, &Y) || s[4] != '-' || digits(s + 5, 2, &M) || s[7] != '-' ||
        digits(s + 8, 2, &D) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &m) || s[16] != ':' ||
        digits(s + 17, 2, &sec))
        return -1;
    if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60)
        return -1;
    const char *p = s + 19;
    int64_t frac_ms = 0;
    if (*p == '.') {
        p++;
        int nd = 0;
        int64_t scale = 100;
        while (*p >= '0' && *p <= '9') {
            if (nd < 3) {
                frac_ms += (*p - '0') * scale;
                scale /= 10;
            }
            nd++;
            p++;
        }
        if (nd == 0)
            return -1;
    }
    int64_t off = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        if (digits(p + 1, 2, &oh) || p[3] != ':' || digits(p + 4, 2, &om))
            return -1;
        off = (int64_t)(oh * 60 + om) * 60000 * (*p == '-' ? -1 : 1);
        p += 6;
    } else {
        return -1;
    }
    if (*p)
        return -1;
    if (Y == 1 && M == 1 && D == 1 && h == 0 && m == 0 && sec == 0)
        return 0; /* Go zero time: absent */
    int64_t days = days_from_civil(Y, (unsigned)M, (unsigned)D);
    *out = ((days * 86400 + h * 3600 + m * 60 + sec) * 1000 + frac_ms) - off;
    return 0;
}

char *time_format(int64_t ms, char *buf, size_t n)
{
    /* Floor division without forming ms - 999 (which wraps near INT64_MIN). */
    time_t t = (time_t)(ms / 1000 - (ms % 1000 < 0));
    int frac = (int)(ms % 1000 < 0 ? ms % 1000 + 1000 : ms % 1000);
    struct tm tm;
    if (!gmtime_r(&t, &tm)) {
        /* Beyond what struct tm holds: a fixed placeholder rather than garbage. */
        snprintf(buf, n, "(out of range)");
        return buf;
    }
    if (frac)
        snprintf(buf, n, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
    else
        snprintf(buf, n, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    return buf;
}

char *time_format_hms(int64_t ms, char *buf, size_t n)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (!gmtime_r(&t, &tm))
        snprintf(buf, n, "--:--:--");
    else
        snprintf(buf, n, "%02d:%02d:%02d", tm.tm_hour, tm.tm_min, tm.tm_sec);
    return buf;
}

int duration_parse(const char *s, int64_t *out)
{
    *out = 0;
    if (!s || !*s)
        return -1;
    int64_t total = 0;
    const char *p = s;
    while (*p) {
        if (*p < '0' || *p > '9')
            return -1;
        int64_t v = 0;
        while (*p >= '0' && *p <= '9') {
            v = v * 10 + (*p - '0');
            if (v > (int64_t)1e12)
                return -1;
            p++;
        }
        int64_t unit;
        if (p[0] == 'm' && p[1] == 's') {
            unit = 1;
            p += 2;
        } else if (*p == 's') {
            unit = 1000;
            p++;
        } else if (*p == 'm') {
            unit = 60000;
            p++;
        } else if (*p == 'h') {
            unit = 3600000;
            p++;
        } else {
            return -1;
        }
        /* v <= 1e12 and unit <= 3.6e6 fit in int64; the sum must not wrap either. */
        if (v * unit > INT64_MAX - total)
            return -1;
        total += v * unit;
    }
    *out = total;
    return 0;
}

/* Durations from a million hours (114 years) on are shown as ">999999h". */
#define DURATION_MAX_HOURS INT64_C(999999)

char *duration_format(int64_t ms, char *buf, size_t n)
{
    if (ms < 0) {
        snprintf(buf, n, "-");
        return buf;
    }
    int64_t s = ms / 1000;
    if (s / 3600 > DURATION_MAX_HOURS) {
        /* Centuries are a clock or data error, not a duration: one bounded width. */
        snprintf(buf, n, ">%lldh", (long long)DURATION_MAX_HOURS);
        return buf;
    }
    if (s < 60)
        snprintf(buf, n, "%llds", (long long)s);
    else if (s < 3600)
        snprintf(buf, n, "%lldm %llds", (long long)(s / 60), (long long)(s % 60));
    else
        snprintf(buf, n, "%lldh %lldm", (long long)(s / 3600), (long long)(s % 3600 / 60));
    return buf;
}

void id_hex(char *out, size_t nbytes)
{
    unsigned char b[64];
    if (nbytes > sizeof(b))
        nbytes = sizeof(b);
    size_t got = 0;
    while (got < nbytes) {
        ssize_t r = getrandom(b + got, nbytes - got, 0);
        if (r <= 0) {
            /* No entropy source: fall back to time-seeded rand, ids need only be unique. */
            for (; got < nbytes; got++)
                b[got] = (unsigned char)(rand() ^ (int)mono_ms());
            break;
        }
        got += (size_t)r;
    }
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < nbytes; i++) {
        out[2 * i] = hex[b[i] >> 4];
        out[2 * i + 1] = hex[b[i] & 15];
    }
    out[2 * nbytes] = 0;
}

void sb_init(struct strbuf *sb) { memset(sb, 0, sizeof(*sb)); }
void sb_fini(struct strbuf *sb)
{
    free(sb->buf);
    memset(sb, 0, sizeof(*sb));
}
void sb_reset(struct strbuf *sb)
{
    sb->len = 0;
    if (sb->buf)
        sb->buf[0] = 0;
}

static bool sb_grow(struct strbuf *sb, size_t extra)
{
    if (sb->oom)
        return false;
    if (sb->len + extra + 1 <= sb->cap)
        return true;
    size_t cap = sb->cap ? sb->cap : 256;
    while (cap < sb->len + extra + 1)
        cap *= 2;
    char *p = realloc(sb->buf, cap);
    if (!p) {
        sb->oom = true;
        return false;
    }
    sb->buf = p;
    sb->cap = cap;
    return true;
}

void sb_append(struct strbuf *sb, const char *s, size_t n)
{
    if (!sb_grow(sb, n))
        return;
    memcpy(sb->buf + sb->len, s, n);
    sb->len += n;
    sb->buf[sb->len] = 0;
}
void sb_puts(struct strbuf *sb, const char *s) { sb_append(sb, s, strlen(s)); }
void sb_putc(struct strbuf *sb, char c) { sb_append(sb, &c, 1); }

void sb_printf(struct strbuf *sb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !sb_grow(sb, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb->len += (size_t)n;
}

size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
    if (n == 0)
        return 0;
    unsigned c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t need;
    uint32_t min;
    if (c >= 0xc2 && c <= 0xdf) {
        need = 2;
        min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        need = 3;
        min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        need = 4;
        min = 0x10000;
    } else {
        return 0;
    }
    if (n < need)
        return 0;
    uint32_t v = c & (0xffu >> (need + 1));
    for (size_t i = 1; i < need; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return need;
}

size_t utf8_valid_len(const unsigned char *s, size_t n)
{
    uint32_t cp;
    return utf8_decode(s, n, &cp);
}

void sb_json_str(struct strbuf *sb, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    sb_putc(sb, '"');
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    size_t n = strlen((const char *)p);
    size_t run = 0; /* bytes copied verbatim in one go */
    for (size_t i = 0; i < n;) {
        unsigned c = p[i];
        if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
            run++;
            i++;
            continue;
        }
        if (c >= 0x80) {
            size_t l = utf8_valid_len(p + i, n - i);
            if (l) {
                run += l;
                i += l;
                continue;
            }
        }
        sb_append(sb, (const char *)p + i - run, run);
        run = 0;
        if (c >= 0x80) {
            sb_puts(sb, "\xef\xbf\xbd");
        } else if (c == '"') {
            sb_puts(sb, "\\\"");
        } else if (c == '\\') {
            sb_puts(sb, "\\\\");
        } else if (c == '\n') {
            sb_puts(sb, "\\n");
        } else if (c == '\t') {
            sb_puts(sb, "\\t");
        } else if (c == '\r') {
            sb_puts(sb, "\\r");
        } else {
            char u[7] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0};
            sb_puts(sb, u);
        }
        i++;
    }
    sb_append(sb, (const char *)p + n - run, run);
    sb_putc(sb, '"');
}

char *sb_take(struct strbuf *sb)
{
    char *p = sb->buf;
    if (!p)
        p = calloc(1, 1);
    memset(sb, 0, sizeof(*sb));
    return p;
}

int read_file(const char *path, size_t max, char **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    /* Never blocks on a FIFO, never reads a device; close-on-exec (see util.h). */
    int fd = util_open_regular(path, 0, NULL);
    if (fd < 0)
        return -1;
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    struct strbuf sb;
    sb_init(&sb);
    char buf[65536];
    size_t r;
    while ((r = fread(buf, 1, sizeof(buf), f)) > 0) {
        if (sb.len + r > max) {
            fclose(f);
            sb_fini(&sb);
            errno = EFBIG;
            return -1;
        }
        sb_append(&sb, buf, r);
    }
    int err = ferror(f);
    fclose(f);
    if (err || sb.oom) {
        sb_fini(&sb);
        errno = err ? EIO : ENOMEM;
        return -1;
    }
    *len = sb.len;
    *out = sb_take(&sb);
    return 0;
}

static const char *file_kind(mode_t m)
{
    if (S_ISDIR(m))
        return "a directory";
    if (S_ISFIFO(m))
        return "a FIFO";
    if (S_ISCHR(m))
        return "a character device";
    if (S_ISBLK(m))
        return "a block device";
    if (S_ISSOCK(m))
        return "a socket";
    if (S_ISLNK(m))
        return "a symbolic link";
    return "not a plain file";
}

int util_open_regular(const char *path, int flags, struct error *err)
{
    int oflags = O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY;
    if (flags & UTIL_NOFOLLOW)
        oflags |= O_NOFOLLOW;
    /* Look before opening: opening a device can have effects of its own (a watchdog arms). */
    struct stat pre;
    bool looked = ((flags & UTIL_NOFOLLOW) ? lstat(path, &pre) : stat(path, &pre)) == 0;
    if (looked && S_ISLNK(pre.st_mode)) {
        error_at(err, EXIT_USAGE, path, 0, 0,
                 "is a symbolic link, refused here (it could point anywhere)");
        errno = ELOOP;
        return -1;
    }
    if (looked && !S_ISREG(pre.st_mode)) {
        error_at(err, EXIT_USAGE, path, 0, 0, "is %s, not a regular file", file_kind(pre.st_mode));
        errno = S_ISDIR(pre.st_mode) ? EISDIR : EINVAL;
        return -1;
    }
    int fd = open(path, oflags);
    if (fd < 0) {
        int e = errno;
        struct stat st;
        if (e == ELOOP && (flags & UTIL_NOFOLLOW)) {
            error_at(err, EXIT_USAGE, path, 0, 0,
                     "is a symbolic link, refused here (it could point anywhere)");
        } else if (e == ENXIO && stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
            /* A socket cannot be open()ed: say what it is rather than "no such device". */
            error_at(err, EXIT_USAGE, path, 0, 0, "is %s, not a regular file",
                     file_kind(st.st_mode));
            e = EINVAL;
        } else {
            error_at(err, EXIT_USAGE, path, 0, 0, "cannot open: %s", strerror(e));
        }
        errno = e;
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        error_at(err, EXIT_USAGE, path, 0, 0, "cannot stat: %s", strerror(e));
        errno = e;
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        error_at(err, EXIT_USAGE, path, 0, 0, "is %s, not a regular file",
                 file_kind(st.st_mode));
        errno = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
        return -1;
    }
    if (looked && (st.st_dev != pre.st_dev || st.st_ino != pre.st_ino)) {
        close(fd);
        error_at(err, EXIT_USAGE, path, 0, 0, "was replaced while being opened");
        errno = EAGAIN;
        return -1;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
        int e = errno;
        close(fd);
        error_at(err, EXIT_USAGE, path, 0, 0, "cannot open: %s", strerror(e));
        errno = e;
        return -1;
    }
    return fd;
}

int util_read_regular(const char *path, int flags, size_t max, char **out, size_t *len,
                      struct error *err)
{
    *out = NULL;
    *len = 0;
    int fd = util_open_regular(path, flags, err);
    if (fd < 0)
        return -1;
    struct strbuf sb;
    sb_init(&sb);
    char buf[65536];
    int e = 0;
    for (;;) {
        ssize_t r = read(fd, buf, sizeof(buf));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            e = errno;
            break;
        }
        if (r == 0)
            break;
        if (sb.len + (size_t)r > max) {
            e = EFBIG;
            break;
        }
        sb_append(&sb, buf, (size_t)r);
    }
    close(fd);
    if (!e && sb.oom)
        e = ENOMEM;
    if (e) {
        sb_fini(&sb);
        if (e == EFBIG)
            error_at(err, EXIT_USAGE, path, 0, 0, "larger than %zu bytes", max);
        else
            error_at(err, EXIT_USAGE, path, 0, 0, "cannot read: %s", strerror(e));
        errno = e;
        return -1;
    }
    *len = sb.len;
    *out = sb_take(&sb);
    return 0;
}

const char *util_msg_word(const char *s, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > max)
        return "(not shown)";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-' || c == ':';
        if (!ok)
            return "(not shown)";
    }
    return s;
}

static int fsync_dir_of(const char *path)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof(tmp), "%s", path);
    int fd = open(dirname(tmp), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int r = fsync(fd);
    close(fd);
    return r;
}

int write_file_atomic(const char *path, const void *data, size_t len, int mode)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof(tmp)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    /* A stale temp file from a crash would keep its own mode under O_TRUNC. */
    unlink(tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0)
        return -1;
    const char *p = data;
    size_t left = len;
    while (left) {
        ssize_t w = write(fd, p, left);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            goto fail;
        }
        p += w;
        left -= (size_t)w;
    }
    if (fsync(fd) < 0)
        goto fail;
    if (close(fd) < 0) {
        fd = -1;
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) < 0)
        goto fail;
    return fsync_dir_of(path);
fail: {
    int e = errno;
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    errno = e;
    return -1;
}
}

int mkdir_p(const char *path, int mode)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(tmp, (mode_t)mode) < 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(tmp, (mode_t)mode) < 0 && errno != EEXIST)
        return -1;
    return 0;
}

int util_log_rotate(int fd, const char *path, long long max, int *new_fd)
{
    struct stat open_st, path_st;
    if (fd < 0 || !path || !*path || fstat(fd, &open_st) != 0 || !S_ISREG(open_st.st_mode) ||
        open_st.st_size <= max)
        return 0;
    if (lstat(path, &path_st) != 0 || !S_ISREG(path_st.st_mode))
        return 0;
    if (path_st.st_ino != open_st.st_ino || path_st.st_dev != open_st.st_dev) {
        /*
         * Another writer (a second remote console) rotated the shared log: ours
         * now points at PATH.1. Join the new PATH rather than grow the old one.
         */
        int nfd = open(path, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
        struct stat nst;
        if (nfd < 0)
            return 0;
        if (fstat(nfd, &nst) != 0 || !S_ISREG(nst.st_mode)) {
            close(nfd);
            return 0;
        }
        *new_fd = nfd;
        return 1;
    }
    char old[4096];
    if ((size_t)snprintf(old, sizeof(old), "%s.1", path) >= sizeof(old) || rename(path, old) != 0)
        return 0;
    int nfd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (nfd < 0)
        return -1;
    *new_fd = nfd;
    return 1;
}
