/*
 * bench_idle: what the console costs when nothing happens, and how fast it
 * shows its first frame. It drives the real binary on a pseudo-terminal.
 *
 *   bench_idle [BIN]      BIN defaults to $BIN, then ./catalyst-tui
 *   IDLE_SECONDS=N        length of the idle window (default 60)
 *
 * First, a finished demo state is made with `BIN wait cutover --speed 50`.
 * Time to first frame: BIN --state-dir D on a 120x40 pty (TERM=xterm-256color,
 * UTF-8), from fork until the output holds the Sovereign's FQDN; median of 5.
 * Idle cost: BIN --state-dir D --refresh 2 and `htop -d 20` (same 2 s
 * period) run side by side, each on its own 120x40 pty; after a 2 s settle,
 * every byte read from each master during the window is counted, and the
 * CPU time each child used in the window is taken from /proc (the per-thread
 * schedstat nanosecond counters, else utime+stime of /proc/<pid>/stat); the
 * whole-life CPU time comes from wait4.
 * Children are asked to quit with `q`, then SIGTERM, then SIGKILL.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FQDN "omantel.omani.works"
#define FIRST_FRAME_RUNS 5
#define FIRST_FRAME_TIMEOUT_MS 10000.0
#define SETTLE_MS 2000.0
#define COLS 120
#define ROWS 40

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One program on its own pty. */
struct child {
    const char *name;
    pid_t pid;
    int master;           /* -1 once closed */
    int exited;
    int status;
    struct rusage ru;
};

enum prog { PROG_CONSOLE, PROG_HTOP };

struct config {
    const char *bin;
    char state[4096];
    char home[4096];
};

/* In the child, after forkpty: the environment and the exec. */
static void exec_prog(const struct config *cfg, enum prog p)
{
    setenv("TERM", "xterm-256color", 1);
    setenv("LANG", "C.UTF-8", 1);
    unsetenv("LC_ALL");
    unsetenv("LC_CTYPE");
    unsetenv("NO_COLOR");
    unsetenv("COLUMNS");
    unsetenv("LINES");
    /* htop saves its settings on exit: keep it away from the real ones. */
    setenv("HOME", cfg->home, 1);
    setenv("XDG_CONFIG_HOME", cfg->home, 1);
    if (p == PROG_CONSOLE)
        execl(cfg->bin, "catalyst-tui", "--state-dir", cfg->state, "--refresh", "2",
              (char *)NULL);
    else
        execlp("htop", "htop", "-d", "20", (char *)NULL);
    _exit(127);
}

static int spawn(struct child *c, const char *name, const struct config *cfg, enum prog p)
{
    struct winsize ws = {.ws_row = ROWS, .ws_col = COLS};
    int master = -1;

    memset(c, 0, sizeof(*c));
    c->name = name;
    c->master = -1;
    pid_t pid = forkpty(&master, NULL, NULL, &ws);
    if (pid < 0) {
        fprintf(stderr, "bench_idle: forkpty: %s\n", strerror(errno));
        return -1;
    }
    if (pid == 0)
        exec_prog(cfg, p);
    c->pid = pid;
    c->master = master;
    int fl = fcntl(master, F_GETFL);
    if (fl >= 0)
        fcntl(master, F_SETFL, fl | O_NONBLOCK);
    return 0;
}

/* Reads what is there; returns the bytes read, and closes the master at EOF
 * or EIO (the child is gone). When buf is given, the bytes are appended to
 * it (up to cap). */
static size_t drain(struct child *c, char *buf, size_t *len, size_t cap)
{
    size_t total = 0;
    char tmp[16384];

    while (c->master >= 0) {
        ssize_t n = read(c->master, tmp, sizeof(tmp));
        if (n > 0) {
            total += (size_t)n;
            if (buf && *len < cap) {
                size_t k = (size_t)n;
                if (k > cap - *len)
                    k = cap - *len;
                memcpy(buf + *len, tmp, k);
                *len += k;
            }
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        close(c->master);
        c->master = -1;
    }
    return total;
}

static void reap(struct child *c, int options)
{
    if (c->exited || c->pid <= 0)
        return;
    pid_t r = wait4(c->pid, &c->status, options, &c->ru);
    if (r == c->pid)
        c->exited = 1;
}

/* Asks the child to quit (`q`), then SIGTERM, then SIGKILL; reaps it. */
static void stop_child(struct child *c)
{
    static const char q = 'q';
    static const int sigs[] = {0, SIGTERM, SIGKILL};

    if (c->pid <= 0)
        return;
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]) && !c->exited; i++) {
        if (sigs[i] == 0) {
            if (c->master >= 0 && write(c->master, &q, 1) != 1)
                continue;
        } else {
            kill(c->pid, sigs[i]);
        }
        double end = now_ms() + 2000.0;
        while (!c->exited && now_ms() < end) {
            drain(c, NULL, NULL, 0);
            reap(c, WNOHANG);
            if (!c->exited)
                usleep(10000);
        }
    }
    if (!c->exited)
        reap(c, 0);
    if (c->master >= 0) {
        close(c->master);
        c->master = -1;
    }
}

/* CPU time of every thread of a live process, in seconds, from the
 * nanosecond counters of /proc/<pid>/task/<tid>/schedstat; -1 when
 * unreadable. */
static double proc_sched_s(pid_t pid)
{
    char path[96];
    unsigned long long sum = 0;
    int found = 0;

    snprintf(path, sizeof(path), "/proc/%ld/task", (long)pid);
    DIR *d = opendir(path);
    if (!d)
        return -1.0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        char file[160];
        unsigned long long ns = 0;
        snprintf(file, sizeof(file), "/proc/%ld/task/%.20s/schedstat", (long)pid, e->d_name);
        FILE *f = fopen(file, "r");
        if (!f)
            continue;
        if (fscanf(f, "%llu", &ns) == 1) {
            sum += ns;
            found = 1;
        }
        fclose(f);
    }
    closedir(d);
    return found ? (double)sum / 1e9 : -1.0;
}

/* utime + stime of a live process, in seconds (clock-tick resolution);
 * -1 when unreadable. */
static double proc_stat_s(pid_t pid)
{
    char path[64], buf[2048];
    unsigned long ut = 0, st = 0;
    char state = 0;

    snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1.0;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    if (!p || sscanf(p + 1, " %c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
                     &state, &ut, &st) != 3)
        return -1.0;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* The finest CPU counter available. */
static double proc_cpu_s(pid_t pid)
{
    double v = proc_sched_s(pid);
    return v >= 0 ? v : proc_stat_s(pid);
}

static int run_quiet(const char *bin, const char *state)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int fd = open("/dev/null", O_RDWR);
        if (fd >= 0) {
            dup2(fd, 0);
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execl(bin, "catalyst-tui", "wait", "cutover", "--speed", "50", "--state-dir", state,
              (char *)NULL);
        _exit(127);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int have_htop(void)
{
    const char *path = getenv("PATH");
    char dir[4096], file[4200];

    if (!path)
        path = "/usr/bin:/bin";
    while (*path) {
        size_t n = strcspn(path, ":");
        if (n > 0 && n < sizeof(dir)) {
            memcpy(dir, path, n);
            dir[n] = '\0';
            snprintf(file, sizeof(file), "%s/htop", dir);
            if (access(file, X_OK) == 0)
                return 1;
        }
        path += n;
        if (*path == ':')
            path++;
    }
    return 0;
}

/* Time to first frame, in ms; < 0 on failure. */
static double first_frame(const struct config *cfg)
{
    static char buf[1 << 20];
    size_t len = 0;
    struct child c;
    double t0 = now_ms(), t = -1.0;

    if (spawn(&c, "catalyst-tui", cfg, PROG_CONSOLE) < 0)
        return -1.0;
    while (!g_stop && c.master >= 0 && now_ms() - t0 < FIRST_FRAME_TIMEOUT_MS) {
        struct pollfd pfd = {.fd = c.master, .events = POLLIN};
        if (poll(&pfd, 1, 50) < 0 && errno != EINTR)
            break;
        drain(&c, buf, &len, sizeof(buf));
        if (memmem(buf, len, FQDN, strlen(FQDN))) {
            t = now_ms() - t0;
            break;
        }
    }
    stop_child(&c);
    if (t < 0)
        fprintf(stderr, "bench_idle: no \"%s\" on the pty within %.0f ms (%zu bytes seen)\n",
                FQDN, FIRST_FRAME_TIMEOUT_MS, len);
    return t;
}

struct idle_result {
    double cpu_s;          /* in the window */
    double cpu_life_s;     /* whole life, from wait4 */
    size_t bytes;          /* in the window */
    size_t settle_bytes;
    int ok;
};

/* Runs the given children side by side for the settle and the window. */
static void idle_window(struct child *cs, struct idle_result *rs, size_t n, double window_s)
{
    double t0 = now_ms(), start_cpu[2] = {0, 0};
    int started = 0;

    for (;;) {
        double t = now_ms() - t0;
        if (g_stop || t >= SETTLE_MS + window_s * 1000.0)
            break;
        if (!started && t >= SETTLE_MS) {
            for (size_t i = 0; i < n; i++)
                start_cpu[i] = proc_cpu_s(cs[i].pid);
            started = 1;
        }
        struct pollfd pfd[2];
        nfds_t np = 0;
        for (size_t i = 0; i < n; i++) {
            pfd[np].fd = cs[i].master;
            pfd[np].events = POLLIN;
            np++;
        }
        if (poll(pfd, np, 100) < 0 && errno != EINTR)
            break;
        for (size_t i = 0; i < n; i++) {
            size_t got = drain(&cs[i], NULL, NULL, 0);
            if (now_ms() - t0 < SETTLE_MS || !started)
                rs[i].settle_bytes += got;
            else
                rs[i].bytes += got;
        }
    }
    for (size_t i = 0; i < n; i++) {
        double end_cpu = proc_cpu_s(cs[i].pid);
        drain(&cs[i], NULL, NULL, 0);
        rs[i].ok = started && end_cpu >= 0 && start_cpu[i] >= 0 && cs[i].master >= 0;
        rs[i].cpu_s = rs[i].ok ? end_cpu - start_cpu[i] : -1.0;
        stop_child(&cs[i]);
        rs[i].cpu_life_s = (double)cs[i].ru.ru_utime.tv_sec + cs[i].ru.ru_utime.tv_usec / 1e6 +
                           (double)cs[i].ru.ru_stime.tv_sec + cs[i].ru.ru_stime.tv_usec / 1e6;
    }
}

int main(int argc, char **argv)
{
    struct config cfg;
    char tmpl[64];
    double window_s = 60.0;
    int rc = 0;

    memset(&cfg, 0, sizeof(cfg));
    cfg.bin = argc > 1 ? argv[1] : getenv("BIN");
    if (!cfg.bin || !*cfg.bin)
        cfg.bin = "./catalyst-tui";
    if (access(cfg.bin, X_OK) != 0) {
        fprintf(stderr, "bench_idle: %s is not executable (pass the binary or set BIN)\n",
                cfg.bin);
        return 2;
    }
    const char *env = getenv("IDLE_SECONDS");
    if (env && *env) {
        char *end = NULL;
        double v = strtod(env, &end);
        if (!end || *end || v <= 0 || v > 3600) {
            fprintf(stderr, "bench_idle: IDLE_SECONDS: expected 1..3600, got \"%s\"\n", env);
            return 2;
        }
        window_s = v;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* mkdtemp's template: the prefix, then six placeholder characters. */
    int plen = snprintf(tmpl, sizeof(tmpl), "/tmp/catalyst-bench-idle.");
    memset(tmpl + plen, 'X', 6);
    tmpl[plen + 6] = '\0';
    if (!mkdtemp(tmpl)) {
        fprintf(stderr, "bench_idle: mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    snprintf(cfg.state, sizeof(cfg.state), "%s/state", tmpl);
    snprintf(cfg.home, sizeof(cfg.home), "%s/home", tmpl);
    mkdir(cfg.home, 0700);

    double t = now_ms();
    int st = run_quiet(cfg.bin, cfg.state);
    if (st != 0) {
        fprintf(stderr, "bench_idle: %s wait cutover --speed 50 exited %d\n", cfg.bin, st);
        rc = 1;
        goto out;
    }
    printf("finished demo state made in %.1f s (wait cutover --speed 50)\n",
           (now_ms() - t) / 1e3);

    /* Time to first frame. */
    double ff[FIRST_FRAME_RUNS];
    size_t nff = 0;
    for (size_t i = 0; i < FIRST_FRAME_RUNS && !g_stop; i++) {
        double v = first_frame(&cfg);
        if (v < 0) {
            rc = 1;
            break;
        }
        ff[nff++] = v;
    }
    if (nff == FIRST_FRAME_RUNS) {
        qsort(ff, nff, sizeof(double), cmp_double);
        printf("first frame (120x40, finished demo): median %.1f ms of %d (min %.1f, max %.1f)"
               " (target <= 100 ms)%s\n",
               ff[nff / 2], FIRST_FRAME_RUNS, ff[0], ff[nff - 1],
               ff[nff / 2] <= 100.0 ? "" : " MISSED");
    }
    if (g_stop)
        goto out;

    /* Idle cost, side by side with htop. */
    struct child cs[2];
    struct idle_result rs[2];
    size_t n = 0;
    memset(rs, 0, sizeof(rs));
    if (spawn(&cs[n], "catalyst-tui", &cfg, PROG_CONSOLE) == 0)
        n++;
    int htop = have_htop();
    if (n == 1 && htop && spawn(&cs[n], "htop -d 20", &cfg, PROG_HTOP) == 0)
        n++;
    if (n == 0) {
        rc = 1;
        goto out;
    }
    if (!htop)
        printf("htop not installed: no comparison\n");
    printf("idle: measuring %.0f s after a %.0f s settle (--refresh 2, 120x40)...\n",
           window_s, SETTLE_MS / 1e3);
    fflush(stdout);
    idle_window(cs, rs, n, window_s);
    if (g_stop) {
        rc = 1;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if (!rs[i].ok) {
            fprintf(stderr, "bench_idle: %s ended during the idle window (status %d)\n",
                    cs[i].name, cs[i].status);
            rc = 1;
        }
    }
    if (rc == 0) {
        char line[512];
        int k = snprintf(line, sizeof(line), "idle %.0fs: catalyst-tui %.3f s CPU, %zu bytes",
                         window_s, rs[0].cpu_s, rs[0].bytes);
        if (n == 2 && k > 0 && (size_t)k < sizeof(line))
            snprintf(line + k, sizeof(line) - (size_t)k, "; htop -d 20: %.3f s CPU, %zu bytes",
                     rs[1].cpu_s, rs[1].bytes);
        printf("%s (targets: <= 0.3 s, <= 2 KB, less than htop)\n", line);
        double per_min = 60.0 / window_s;
        double cpu_m = rs[0].cpu_s * per_min, bytes_m = (double)rs[0].bytes * per_min;
        int met = cpu_m <= 0.3 && bytes_m <= 2048.0;
        if (n == 2)
            met = met && rs[0].cpu_s < rs[1].cpu_s && rs[0].bytes < rs[1].bytes;
        printf("idle per minute: catalyst-tui %.3f s CPU, %.0f bytes", cpu_m, bytes_m);
        if (n == 2)
            printf("; htop %.3f s CPU, %.0f bytes", rs[1].cpu_s * per_min,
                   (double)rs[1].bytes * per_min);
        printf(" -> %s\n", met ? "targets met" : "targets MISSED");
        printf("start-up output (first %.0f s): catalyst-tui %zu bytes", SETTLE_MS / 1e3,
               rs[0].settle_bytes);
        if (n == 2)
            printf(", htop %zu bytes", rs[1].settle_bytes);
        printf("; whole-life CPU: catalyst-tui %.2f s", rs[0].cpu_life_s);
        if (n == 2)
            printf(", htop %.2f s", rs[1].cpu_life_s);
        printf("\n");
    }

out:
    nftw(tmpl, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return rc;
}
