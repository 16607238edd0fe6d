/*
 * term: terminal lifecycle (see term.h). The crash path only uses calls that
 * are tolerable in a signal handler in practice (endwin, as htop does; the
 * rest is async-signal-safe: dup2, fstat, lseek, read, write, close,
 * sigaction, raise).
 */
#include "term.h"

#include <curses.h>
#include <ncursesw/term.h> /* not tui/term.h */
#include <errno.h>
#include <fcntl.h>
#include <langinfo.h>
#include <limits.h>
#include <locale.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <limits.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

/*
 * Read by the watchdog's thread or written by term_emergency_restore there, so
 * atomics rather than sig_atomic_t (which only covers a handler and its own
 * thread); lock-free, so still safe in a signal handler. g_active is stored
 * after the exit sequence and the shell's termios are filled in: another
 * thread that sees it set sees them too, and whoever clears it restores.
 */
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "signal handlers need lock-free atomic ints");
static atomic_int g_quit_count; /* requests so far, for the watchdog */
static atomic_int g_quit_sig;   /* the last one's signal number */
static atomic_int g_active;
static atomic_int g_quit;   /* written by a handler on any thread */
static atomic_int g_hangup;
static volatile sig_atomic_t g_wake_fd = -1;
static volatile sig_atomic_t g_saved_stderr = -1;
static volatile sig_atomic_t g_capture_fd = -1;
/* The console log: where captured stderr stays after the run (see term.h). */
static off_t g_capture_start;             /* size after this run's header line */
static char g_capture_path[PATH_MAX];     /* the console log's path, "" for the temp file */
static char g_capture_note[PATH_MAX + 96]; /* "diagnostics ... in PATH\n", made up front */
static size_t g_capture_note_len;
static SCREEN *g_screen;
static bool g_atexit_done;
/* For term_emergency_restore, filled on the UI thread before it could be needed. */
static struct termios g_shell_tio;
static volatile sig_atomic_t g_have_tio;
static char g_exit_seq[256];
static size_t g_exit_len;

static const int quit_signals[] = {SIGINT, SIGTERM, SIGHUP};
static const int crash_signals[] = {SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL};
#define N_QUIT (sizeof(quit_signals) / sizeof(quit_signals[0]))
#define N_CRASH (sizeof(crash_signals) / sizeof(crash_signals[0]))
static struct sigaction g_old_quit[N_QUIT];
static struct sigaction g_old_crash[N_CRASH];
static bool g_handlers;

static void on_quit_signal(int sig)
{
    int saved = errno;
    g_quit = 1;
    atomic_store(&g_quit_sig, sig);
    int n = atomic_load(&g_quit_count);
    atomic_store(&g_quit_count, n < INT_MAX ? n + 1 : 1); /* changes, never wraps */
    if (sig == SIGHUP)
        g_hangup = 1;
    if (g_wake_fd >= 0) {
        ssize_t r = write(g_wake_fd, "s", 1);
        (void)r;
    }
    errno = saved;
}

/* Output of this run shown again on the terminal when it is this short; else only the path. */
#define CAPTURE_ECHO_MAX 8192

static void write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

/*
 * Puts the real stderr back and, when this run wrote anything to the
 * capture, shows it there (up to CAPTURE_ECHO_MAX bytes, as htop does) and
 * where the file is. Async-signal-safe: the crash handler calls it.
 */
static void stderr_restore(void)
{
    if (g_saved_stderr < 0)
        return;
    dup2(g_saved_stderr, STDERR_FILENO);
    close(g_saved_stderr);
    g_saved_stderr = -1;
    if (g_capture_fd < 0)
        return;
    struct stat st;
    off_t end = fstat(g_capture_fd, &st) == 0 ? st.st_size : g_capture_start;
    if (end > g_capture_start) {
        /* The unlinked fallback is all there is: it is copied back whole. */
        bool echo = g_capture_note_len == 0 || end - g_capture_start <= CAPTURE_ECHO_MAX;
        if (echo &&
            lseek(g_capture_fd, g_capture_start, SEEK_SET) == g_capture_start) {
            char buf[4096];
            ssize_t n;
            while ((n = read(g_capture_fd, buf, sizeof(buf))) > 0)
                write_all(STDERR_FILENO, buf, (size_t)n);
        }
        write_all(STDERR_FILENO, g_capture_note, g_capture_note_len);
    }
    close(g_capture_fd);
    g_capture_fd = -1;
}

static void on_crash_signal(int sig)
{
    if (atomic_exchange(&g_active, 0))
        endwin();
    stderr_restore();
    for (size_t i = 0; i < N_CRASH; i++)
        if (crash_signals[i] == sig)
            sigaction(sig, &g_old_crash[i], NULL);
    /* Delivered on return with the previous action (default: core dump). */
    raise(sig);
}

static void handlers_install(void)
{
    if (g_handlers)
        return;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_quit_signal;
    /* No SA_RESTART: poll() must return EINTR so the loop sees the flag. */
    for (size_t i = 0; i < N_QUIT; i++)
        sigaction(quit_signals[i], &sa, &g_old_quit[i]);
    sa.sa_handler = on_crash_signal;
    for (size_t i = 0; i < N_CRASH; i++)
        sigaction(crash_signals[i], &sa, &g_old_crash[i]);
    g_handlers = true;
}

static void handlers_restore(void)
{
    if (!g_handlers)
        return;
    for (size_t i = 0; i < N_QUIT; i++)
        sigaction(quit_signals[i], &g_old_quit[i], NULL);
    for (size_t i = 0; i < N_CRASH; i++)
        sigaction(crash_signals[i], &g_old_crash[i], NULL);
    g_handlers = false;
}

/*
 * The console log opened for appending: no symlink followed, 0600, a
 * regular file only. Over TERM_LOG_MAX at open, it becomes PATH.1 (the one
 * before is dropped) and a new file starts. -1 when it cannot be had.
 */
static int console_log_open(const char *path)
{
    char parent[PATH_MAX];
    snprintf(parent, sizeof(parent), "%s", path);
    char *slash = strrchr(parent, '/');
    if (slash && slash != parent) {
        *slash = 0;
        mkdir_p(parent, 0700);
    }
    for (int attempt = 0; attempt < 2; attempt++) {
        int fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC,
                      0600);
        if (fd < 0)
            return -1;
        struct stat st;
        if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
            close(fd);
            return -1;
        }
        if (st.st_size <= TERM_LOG_MAX || attempt == 1)
            return fd;
        close(fd);
        char old[PATH_MAX + 8];
        snprintf(old, sizeof(old), "%s.1", path);
        if (rename(path, old) != 0)
            return -1;
    }
    return -1;
}

/*
 * While curses owns the screen, fd 2 goes to the console log (a persistent
 * file, so a sanitizer report or a crash message outlives the run), else,
 * without a usable path, to an unlinked temporary file as before.
 */
static void stderr_capture(const char *log_path)
{
    if (g_saved_stderr >= 0)
        return;
    int fd = log_path && *log_path ? console_log_open(log_path) : -1;
    g_capture_note_len = 0;
    if (fd >= 0) {
        char stamp[40];
        char head[128];
        int hl = snprintf(head, sizeof(head), "--- catalyst-tui console started %s pid %d\n",
                          time_format(time_now_ms(), stamp, sizeof(stamp)), (int)getpid());
        if (hl > 0)
            write_all(fd, head, (size_t)hl);
        int nl = snprintf(g_capture_note, sizeof(g_capture_note),
                          "catalyst-tui: diagnostics from this run are in %s\n", log_path);
        if (nl > 0 && (size_t)nl < sizeof(g_capture_note))
            g_capture_note_len = (size_t)nl;
    } else {
        const char *dir = getenv("TMPDIR");
        char path[512], tpl[7];
        memset(tpl, 'X', 6); /* mkstemp's template suffix */
        tpl[6] = 0;
        snprintf(path, sizeof(path), "%s/catalyst-tui-stderr-%s", dir && *dir ? dir : "/tmp",
                 tpl);
        fd = mkstemp(path);
        if (fd < 0)
            return;
        unlink(path);
    }
    struct stat st;
    g_capture_start = fstat(fd, &st) == 0 ? st.st_size : 0;
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    if (saved < 0 || dup2(fd, STDERR_FILENO) < 0) {
        if (saved >= 0)
            close(saved);
        close(fd);
        return;
    }
    fcntl(saved, F_SETFD, FD_CLOEXEC);
    g_saved_stderr = saved;
    g_capture_fd = fd;
    snprintf(g_capture_path, sizeof(g_capture_path), "%s",
             g_capture_note_len && log_path ? log_path : "");
}

void term_log_bound(void)
{
    int nfd;
    if (g_saved_stderr < 0 || g_capture_fd < 0 || !g_capture_path[0] ||
        util_log_rotate(g_capture_fd, g_capture_path, TERM_LOG_MAX, &nfd) != 1)
        return;
    /* What this run wrote before now is in PATH.1; the echo at exit shows the new file. */
    dup2(nfd, STDERR_FILENO);
    int old = g_capture_fd;
    g_capture_start = 0;
    g_capture_fd = nfd;
    close(old);
}

void term_detect(const struct term_options *o, struct term_info *out)
{
    setlocale(LC_ALL, "");
    const char *cs = nl_langinfo(CODESET);
    out->utf8 = cs && (strcasecmp(cs, "UTF-8") == 0 || strcasecmp(cs, "utf8") == 0);
    out->ascii = (o && o->ascii) || !out->utf8;
    int color = o ? o->color : 0;
    const char *nc = getenv("NO_COLOR");
    bool mono = color == 1 || (color == 0 && nc && *nc);
    /* -1: not decided until curses knows the terminal. */
    out->colors = mono ? 0 : -1;
}

static void term_atexit(void)
{
    term_fini();
}

bool term_addressable(void)
{
    int rc = 0;
    if (setupterm(NULL, STDOUT_FILENO, &rc) != OK)
        return false;
    const char *cup = tigetstr("cup");
    bool ok = cup && cup != (const char *)-1 && *cup;
    del_curterm(cur_term);
    cur_term = NULL;
    return ok;
}

static int exit_seq_put(int ch)
{
    if (g_exit_len + 1 < sizeof(g_exit_seq))
        g_exit_seq[g_exit_len++] = (char)ch;
    return ch;
}

/*
 * What endwin would send, precomputed (tputs expands padding): attributes and
 * colours off, keypad transmit off, cursor visible, the normal screen back.
 */
static void exit_seq_prepare(void)
{
    static const char *const caps[] = {"sgr0", "op", "rmkx", "cnorm", "rmcup"};
    g_exit_len = 0;
    for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
        const char *v = tigetstr(caps[i]);
        if (v && v != (const char *)-1)
            tputs(v, 1, exit_seq_put);
    }
    exit_seq_put('\r');
    exit_seq_put('\n');
}

int term_init(const struct term_options *o, struct term_info *out, struct error *err)
{
    term_detect(o, out);
    if (g_active)
        return 0;
    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
        error_set(err, EXIT_USAGE, "the console needs a terminal (use --once for text output)");
        return -1;
    }
    g_quit = 0;
    g_hangup = 0;
    /* Before newterm: ncurses only installs its own handlers over SIG_DFL. */
    handlers_install();
    stderr_capture(o ? o->stderr_log : NULL);
    /* The shell's mode, for a restore from another thread (curses keeps its own copy). */
    g_have_tio = tcgetattr(STDOUT_FILENO, &g_shell_tio) == 0;
    g_screen = newterm(NULL, stdout, stdin);
    if (!g_screen) {
        stderr_restore();
        handlers_restore();
        const char *t = getenv("TERM");
        error_set(err, EXIT_USAGE, "cannot start the terminal (TERM=%s)", t ? t : "(unset)");
        return -1;
    }
    set_term(g_screen);
    if (!g_atexit_done) {
        atexit(term_atexit);
        g_atexit_done = true;
    }
    exit_seq_prepare();
    atomic_store(&g_active, 1);
    cbreak();
    noecho();
    nonl();
    intrflush(stdscr, FALSE);
    keypad(stdscr, TRUE);
    curs_set(0);
    /* The cursor is hidden: never spend bytes moving it after an update. */
    leaveok(stdscr, TRUE);
    set_escdelay(25);
    if (out->colors != 0 && has_colors() && start_color() == OK) {
        use_default_colors();
        out->colors = COLORS >= 256 ? 256 : COLORS >= 16 ? 16 : COLORS >= 8 ? 8 : 0;
    } else {
        out->colors = 0;
    }
    return 0;
}

void term_emergency_restore(void)
{
    int saved = errno;
    if (atomic_exchange(&g_active, 0)) {
        if (g_exit_len) {
            ssize_t w = write(STDOUT_FILENO, g_exit_seq, g_exit_len);
            (void)w;
        }
        if (g_have_tio)
            tcsetattr(STDOUT_FILENO, TCSADRAIN, &g_shell_tio);
    }
    stderr_restore();
    errno = saved;
}

unsigned long term_quit_count(void)
{
    return (unsigned long)atomic_load(&g_quit_count);
}

int term_quit_signal(void)
{
    return atomic_load(&g_quit_sig);
}

void term_fini(void)
{
    if (atomic_exchange(&g_active, 0)) {
        endwin();
        if (g_screen) {
            delscreen(g_screen);
            g_screen = NULL;
        }
    }
    stderr_restore();
    handlers_restore();
}

bool term_quit_requested(void)
{
    return g_quit != 0;
}

bool term_hangup_requested(void)
{
    return g_hangup != 0;
}

void term_set_wake_fd(int fd)
{
    g_wake_fd = fd;
}

void term_size(int *w, int *h)
{
    int ww = 0, hh = 0;
    if (g_active) {
        getmaxyx(stdscr, hh, ww);
    } else {
        struct winsize ws;
        if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0) {
            ww = ws.ws_col;
            hh = ws.ws_row;
        }
    }
    *w = ww < 0 ? 0 : ww;
    *h = hh < 0 ? 0 : hh;
}

void term_repaint(void)
{
    if (g_active)
        clearok(curscr, TRUE);
}
