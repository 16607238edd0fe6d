/*
 * catalyst-tui: the command line (DESIGN §2). The only place that prints
 * errors and chooses the exit status; everything below returns a struct error.
 *
 *   catalyst-tui [options]                 standalone console on the demo
 *   catalyst-tui --spec FILE | --api URL | --context NAME
 *   catalyst-tui serve [--listen HOST:PORT] [--allow-host NAME]... [--insecure-no-auth]
 *   catalyst-tui wait jobs|cutover [--timeout D]
 *   catalyst-tui --once [--view VIEW] [-o text|json]
 */
#include "config.h"
#include "engine.h"
#include "http.h"
#include "once.h"
#include "remote.h"
#include "server.h"
#include "source_local.h"
#include "spec.h"
#include "store.h"
#include "term.h"
#include "theme.h"
#include "ui.h"
#include "watchdog.h"
#include "wire.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <langinfo.h>
#include <limits.h>
#include <locale.h>
#include <pthread.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef CATALYST_VERSION
#define CATALYST_VERSION "0.1.0"
#endif

enum command { CMD_CONSOLE, CMD_SERVE, CMD_WAIT };

struct options {
    enum command cmd;
    const char *wait_what;      /* "jobs" | "cutover" */
    const char *spec;
    const char *api;
    const char *context;
    const char *deployment;
    const char *state_dir;
    bool fresh;
    double speed;
    int jobs;
    double refresh;
    bool refresh_set;
    const char *theme;
    const char *theme_file;
    int color;                  /* 0 auto, 1 never, 2 always */
    bool ascii;
    bool read_only;
    const char *token_file;
    const char *session_file;
    const char *cacert;
    bool insecure;
    bool once;
    const char *view;
    bool json;
    int64_t timeout_ms;         /* wait: -1 none */
    const char *listen;
    const char *allow_hosts[16]; /* serve --allow-host, repeatable */
    size_t n_allow_hosts;
    bool insecure_no_auth;
    const char *config;
    int64_t log_cap;            /* --log-cap bytes; 0: the engine's default, -1: none */
};

/*
 * A signal may land on any thread (engine workers, the HTTP server's), and
 * other threads read these: lock-free atomics, which a handler may also use.
 */
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "signal handlers need lock-free atomic ints");
static atomic_int stop_requested;
static atomic_int stop_signal;      /* the signal that asked to stop, 0: none */
static atomic_int hangup_requested;
/* Set by a process that owns a standalone engine: SIGHUP then detaches, not stops. */
static atomic_int detach_on_hangup;

static void on_signal(int sig)
{
    if (sig == SIGHUP)
        hangup_requested = 1;
    if (sig != SIGHUP || !detach_on_hangup) {
        stop_requested = 1;
        stop_signal = sig;
    }
}

/* run_wait and the attach path: the terminal went away (detach), the owner went away. */
#define RC_DETACHED (-2)
#define RC_ATTACH_GONE (-3)
#define RC_ATTACH_LOST (-4)

static void install_stop_handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static int fail(const struct error *e)
{
    char buf[1400];
    /* Messages quote the server (codes, details, ids): printed through the sanitizer. */
    once_error(stderr, error_format(e, buf, sizeof(buf)));
    return e->code ? e->code : EXIT_FAILED;
}

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "catalyst-tui: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry 'catalyst-tui --help'.\n");
    return EXIT_USAGE;
}

static void print_help(void)
{
    puts("Usage:\n"
         "  catalyst-tui [options]                  standalone console, embedded demo Sovereign\n"
         "  catalyst-tui --spec FILE [options]      standalone, your Sovereign spec\n"
         "  catalyst-tui --api URL [options]        remote catalyst-api (base URL incl. /api/v1)\n"
         "  catalyst-tui --context NAME             a named context from the config file\n"
         "  catalyst-tui serve [--listen HOST:PORT] [--spec FILE] [options]\n"
         "  catalyst-tui wait jobs|cutover [--timeout DURATION] [options]\n"
         "  catalyst-tui --once [--view VIEW] [-o text|json] [options]\n"
         "\n"
         "Options:\n"
         "  --state-dir DIR      standalone state (default $XDG_STATE_HOME/catalyst-tui/<name>)\n"
         "  --fresh              move an existing state dir aside (<dir>.old-<timestamp>)\n"
         "  --speed N            time scale for simulated jobs, default 1\n"
         "  --jobs N             parallel jobs in the engine, default 4\n"
         "  --log-cap SIZE       job output kept per execution log (512K, 64M, 1G; 0: no cap),\n"
         "                       default 64M\n"
         "  --refresh SECONDS    poll interval, default 2\n"
         "  --theme NAME         default, light, high-contrast, colorblind, mono (a theme name)\n"
         "  --theme-file FILE    a theme YAML file of your own\n"
         "  --color auto|never|always   --ascii   --read-only\n"
         "  --token-file F  --session-file F  --cacert F  --insecure  --deployment ID  (remote)\n"
         "  --config FILE        contexts file\n"
         "                       (default $XDG_CONFIG_HOME/catalyst-tui/config.yaml)\n"
         "  --listen HOST:PORT   serve: where to listen (default 127.0.0.1:8080)\n"
         "  --allow-host NAME    serve: another Host name clients use (repeatable)\n"
         "  --insecure-no-auth   serve: allow a non-loopback --listen without --token-file\n"
         "  --once  --view VIEW  -o text|json   --timeout DURATION   --help  --version\n"
         "\n"
         "VIEW: dashboard, jobs, dag, timeline, tree, cutover, job:<name-or-id>\n"
         "Exit status: 0 ok, 1 outcome failed, 2 usage or invalid input, 3 API error,\n"
         "4 authentication refused, 5 wait timed out.");
}

/* --help and --version: their text reached stdout, or a message and status 1. */
static int info_done(void)
{
    struct error err;
    error_clear(&err);
    errno = 0;
    if (once_flush(stdout, "stdout", &err) == 0)
        return EXIT_OK;
    return fail(&err);
}

static int parse_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v > 0) || v > 1e6)
        return -1;
    *out = v;
    return 0;
}

/* "512K", "64M", "1G", "64MiB", "1048576": bytes into out; -1 when malformed. */
static int parse_size(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *s == '-')
        return -1;
    int shift = 0;
    if (*end == 'K' || *end == 'k')
        shift = 10;
    else if (*end == 'M' || *end == 'm')
        shift = 20;
    else if (*end == 'G' || *end == 'g')
        shift = 30;
    if (shift) {
        end++;
        if (strcmp(end, "iB") == 0 || strcmp(end, "B") == 0)
            end += strlen(end);
    } else if (strcmp(end, "B") == 0) {
        end++;
    }
    if (*end || v > (1ULL << 40) >> shift)
        return -1;
    *out = (int64_t)(v << shift);
    return 0;
}

static int parse_args(int argc, char **argv, struct options *o)
{
    memset(o, 0, sizeof(*o));
    o->speed = 1;
    o->jobs = 4;
    o->refresh = 2;
    o->timeout_ms = -1;
    int first = 1;
    if (argc > 1 && strcmp(argv[1], "serve") == 0) {
        o->cmd = CMD_SERVE;
        first = 2;
    } else if (argc > 1 && strcmp(argv[1], "wait") == 0) {
        o->cmd = CMD_WAIT;
        if (argc < 3 || (strcmp(argv[2], "jobs") != 0 && strcmp(argv[2], "cutover") != 0))
            return usage_error("wait needs 'jobs' or 'cutover'%s", "");
        o->wait_what = argv[2];
        first = 3;
    }
    enum {
        O_SPEC = 256, O_API, O_CONTEXT, O_DEPLOYMENT, O_STATE_DIR, O_FRESH, O_SPEED, O_JOBS,
        O_REFRESH, O_THEME, O_COLOR, O_ASCII, O_READ_ONLY, O_TOKEN, O_SESSION, O_CACERT,
        O_INSECURE, O_ONCE, O_VIEW, O_TIMEOUT, O_LISTEN, O_CONFIG, O_HELP, O_VERSION,
        O_ALLOW_HOST, O_NO_AUTH,
        O_LOG_CAP, O_THEME_FILE,
    };
    static const struct option longopts[] = {
        {"spec", required_argument, 0, O_SPEC},
        {"api", required_argument, 0, O_API},
        {"context", required_argument, 0, O_CONTEXT},
        {"deployment", required_argument, 0, O_DEPLOYMENT},
        {"state-dir", required_argument, 0, O_STATE_DIR},
        {"fresh", no_argument, 0, O_FRESH},
        {"speed", required_argument, 0, O_SPEED},
        {"jobs", required_argument, 0, O_JOBS},
        {"log-cap", required_argument, 0, O_LOG_CAP},
        {"refresh", required_argument, 0, O_REFRESH},
        {"theme", required_argument, 0, O_THEME},
        {"theme-file", required_argument, 0, O_THEME_FILE},
        {"color", required_argument, 0, O_COLOR},
        {"ascii", no_argument, 0, O_ASCII},
        {"read-only", no_argument, 0, O_READ_ONLY},
        {"token-file", required_argument, 0, O_TOKEN},
        {"session-file", required_argument, 0, O_SESSION},
        {"cacert", required_argument, 0, O_CACERT},
        {"insecure", no_argument, 0, O_INSECURE},
        {"once", no_argument, 0, O_ONCE},
        {"view", required_argument, 0, O_VIEW},
        {"output", required_argument, 0, 'o'},
        {"timeout", required_argument, 0, O_TIMEOUT},
        {"listen", required_argument, 0, O_LISTEN},
        {"allow-host", required_argument, 0, O_ALLOW_HOST},
        {"insecure-no-auth", no_argument, 0, O_NO_AUTH},
        {"config", required_argument, 0, O_CONFIG},
        {"help", no_argument, 0, O_HELP},
        {"version", no_argument, 0, O_VERSION},
        {0, 0, 0, 0},
    };
    optind = first;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":o:h", longopts, NULL)) != -1) {
        switch (c) {
        case O_SPEC: o->spec = optarg; break;
        case O_API: o->api = optarg; break;
        case O_CONTEXT: o->context = optarg; break;
        case O_DEPLOYMENT: o->deployment = optarg; break;
        case O_STATE_DIR: o->state_dir = optarg; break;
        case O_FRESH: o->fresh = true; break;
        case O_SPEED:
            if (parse_double(optarg, &o->speed) < 0)
                return usage_error("--speed: expected a positive number, got \"%s\"", optarg);
            break;
        case O_JOBS: {
            double v;
            if (parse_double(optarg, &v) < 0 || v != (int)v || v > 256)
                return usage_error("--jobs: expected a whole number 1..256, got \"%s\"", optarg);
            o->jobs = (int)v;
            break;
        }
        case O_LOG_CAP:
            if (parse_size(optarg, &o->log_cap) < 0)
                return usage_error("--log-cap: expected a size like 512K, 64M or 1G (at most "
                                   "1T), got \"%s\"", optarg);
            if (o->log_cap == 0)
                o->log_cap = -1;
            break;
        case O_REFRESH:
            if (parse_double(optarg, &o->refresh) < 0)
                return usage_error("--refresh: expected seconds > 0, got \"%s\"", optarg);
            o->refresh_set = true;
            break;
        case O_THEME:
            /* A name is never a path: files come through --theme-file (theme.h). */
            if (!theme_name_ok(optarg))
                return usage_error("--theme: \"%s\" is not a theme name (a-z, 0-9, '-', '_'); "
                                   "for a file use --theme-file FILE", optarg);
            o->theme = optarg;
            break;
        case O_THEME_FILE: o->theme_file = optarg; break;
        case O_COLOR:
            if (strcmp(optarg, "auto") == 0)
                o->color = 0;
            else if (strcmp(optarg, "never") == 0)
                o->color = 1;
            else if (strcmp(optarg, "always") == 0)
                o->color = 2;
            else
                return usage_error("--color: expected auto, never or always, got \"%s\"", optarg);
            break;
        case O_ASCII: o->ascii = true; break;
        case O_READ_ONLY: o->read_only = true; break;
        case O_TOKEN: o->token_file = optarg; break;
        case O_SESSION: o->session_file = optarg; break;
        case O_CACERT: o->cacert = optarg; break;
        case O_INSECURE: o->insecure = true; break;
        case O_ONCE: o->once = true; break;
        case O_VIEW: o->view = optarg; break;
        case 'o':
            if (strcmp(optarg, "json") == 0)
                o->json = true;
            else if (strcmp(optarg, "text") != 0)
                return usage_error("-o: expected text or json, got \"%s\"", optarg);
            break;
        case O_TIMEOUT: {
            int64_t ms;
            if (duration_parse(optarg, &ms) < 0)
                return usage_error("--timeout: expected a duration like 30s or 5m, got \"%s\"",
                                   optarg);
            o->timeout_ms = ms;
            break;
        }
        case O_LISTEN: o->listen = optarg; break;
        case O_ALLOW_HOST:
            if (o->n_allow_hosts == sizeof(o->allow_hosts) / sizeof(o->allow_hosts[0]))
                return usage_error("--allow-host: at most 16 names%s", "");
            o->allow_hosts[o->n_allow_hosts++] = optarg;
            break;
        case O_NO_AUTH: o->insecure_no_auth = true; break;
        case O_CONFIG: o->config = optarg; break;
        case 'h':
        case O_HELP: print_help(); exit(info_done());
        case O_VERSION: printf("catalyst-tui %s\n", CATALYST_VERSION); exit(info_done());
        case ':': return usage_error("option %s needs a value", argv[optind - 1]);
        default: return usage_error("unknown option %s", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument \"%s\"", argv[optind]);
    if (o->api && o->spec)
        return usage_error("--api and --spec exclude each other%s", "");
    if (o->cmd == CMD_SERVE && o->api)
        return usage_error("serve runs its own core; --api makes no sense with it%s", "");
    if (o->cmd != CMD_SERVE && (o->n_allow_hosts || o->insecure_no_auth))
        return usage_error("--allow-host and --insecure-no-auth are for serve%s", "");
    return 0;
}

/* $XDG_STATE_HOME/catalyst-tui/<name>, else ~/.local/state/catalyst-tui/<name>. */
static void default_state_dir(const char *name, char *out, size_t n)
{
    const char *xdg = getenv("XDG_STATE_HOME");
    const char *home = getenv("HOME");
    if (xdg && *xdg)
        snprintf(out, n, "%s/catalyst-tui/%s", xdg, name);
    else
        snprintf(out, n, "%s/.local/state/catalyst-tui/%s", home && *home ? home : ".", name);
}

static bool locale_is_utf8(void)
{
    const char *cs = nl_langinfo(CODESET);
    return cs && (strcasecmp(cs, "UTF-8") == 0 || strcasecmp(cs, "utf8") == 0);
}

static int terminal_width(void)
{
    struct winsize ws;
    if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    const char *c = getenv("COLUMNS");
    int v = c ? atoi(c) : 0;
    return v > 0 ? v : 120;
}

/* Prints one snapshot as --once asks. Returns an exit class. */
static int print_once(const struct snapshot *s, const struct options *o)
{
    struct error err;
    error_clear(&err);
    errno = 0; /* once_flush reports the errno of a failed write */
    if (o->json) {
        struct strbuf sb;
        sb_init(&sb);
        wire_encode_snapshot(&sb, s, true);
        fwrite(sb.buf, 1, sb.len, stdout);
        sb_fini(&sb);
    } else if (once_render(s, o->view, terminal_width(), o->ascii || !locale_is_utf8(), stdout,
                           &err) < 0) {
        return fail(&err);
    }
    if (once_flush(stdout, "stdout", &err) != 0)
        return fail(&err);
    return s->source.ok ? EXIT_OK : (s->source.auth_failed ? EXIT_AUTH : EXIT_API);
}

/* A job of the cutover group (`wait cutover`'s business; handover steps are not). */
static bool in_cutover_group(const struct job *j)
{
    if (strncmp(j->job_name, "cutover-step-", 13) == 0)
        return true;
    const char *colon = j->parent_id ? strrchr(j->parent_id, ':') : NULL;
    return colon && strcmp(colon + 1, "cutover") == 0;
}

/*
 * The outcome `wait` is waiting for, read from a snapshot: -1 not yet, else
 * an exit class. Every job counts but the cutover group's: handover steps
 * (kind step, group handover) are jobs the Sovereign still has to run.
 */
static int wait_outcome(const struct snapshot *s, bool cutover)
{
    int pending = 0, failed = 0;
    for (size_t i = 0; i < s->n_jobs; i++) {
        const struct job *j = &s->jobs[i];
        if (j->is_group || in_cutover_group(j))
            continue;
        if (j->status == JOB_PENDING || j->status == JOB_RUNNING)
            pending++;
        else if (j->status == JOB_FAILED)
            failed++;
    }
    if (!cutover) {
        if (pending)
            return -1;
        return failed ? EXIT_FAILED : EXIT_OK;
    }
    const struct cutover_status *c = &s->cutover;
    if (c->complete || c->state == SOV_SOVEREIGN)
        return EXIT_OK;
    if (c->failed_step[0] && !c->running)
        return EXIT_FAILED;
    if (!pending && failed)
        return EXIT_FAILED; /* the cutover's prerequisites can no longer succeed */
    return -1;
}

struct standalone {
    char console_log[PATH_MAX + 16]; /* <state-dir>/console.log */
    struct spec *spec;
    struct engine *engine;
    struct source *source;
    struct server *sock;        /* the wire on <dir>/catalyst.sock, for attaching launches */
    char dir[PATH_MAX];
};

static void standalone_close(struct standalone *st)
{
    /* The socket goes first: it borrows the source and the engine. */
    server_stop(st->sock);
    source_free(st->source);
    if (st->engine) {
        /* The jobs' logs say why they stopped; they run again on the next start. */
        int sig = stop_signal;
        if (sig == SIGTERM)
            engine_stop_jobs(st->engine, "stopped by SIGTERM");
        else if (sig == SIGINT)
            engine_stop_jobs(st->engine, "stopped by SIGINT (Ctrl-C)");
        else if (sig == SIGHUP)
            engine_stop_jobs(st->engine, "stopped by SIGHUP");
        else
            engine_stop(st->engine);
        engine_free(st->engine);
    }
    spec_free(st->spec);
    memset(st, 0, sizeof(*st));
}

/* Loads the spec and names the state dir; the engine comes from standalone_engine. */
static int standalone_load(struct standalone *st, const struct options *o, struct error *err)
{
    memset(st, 0, sizeof(*st));
    st->spec = o->spec ? spec_load_file(o->spec, err) : spec_load_demo(err);
    if (!st->spec)
        return -1;
    if (o->state_dir)
        snprintf(st->dir, sizeof(st->dir), "%s", o->state_dir);
    else
        default_state_dir(st->spec->name, st->dir, sizeof(st->dir));
    snprintf(st->console_log, sizeof(st->console_log), "%s/console.log", st->dir);
    return 0;
}

/*
 * Opens the engine on st->dir. Returns 0; -1 with err; 1 when another
 * process holds the dir (err names its pid): the caller may attach to it.
 */
static int standalone_engine(struct standalone *st, const struct options *o, const char *mode,
                             struct error *err)
{
    /* --once only looks: no lock, no recovery, nothing written, even beside a live run. */
    bool observe = o->cmd == CMD_CONSOLE && o->once;
    struct engine_config cfg = {
        .workers = o->jobs, .speed = o->speed, .state_dir = st->dir, .fresh = o->fresh,
        .read_only = o->read_only, .mode = mode, .observe = observe, .log_cap = o->log_cap,
    };
    st->engine = engine_new(st->spec, &cfg, err);
    if (st->engine)
        return 0;
    return !observe && store_lock_probe(st->dir) == 1 ? 1 : -1;
}

/* True while a job can still run or a cutover runs: the engine must not end yet. */
static bool work_in_flight(void *arg)
{
    const struct standalone *st = arg;
    struct engine_progress p;
    engine_progress(st->engine, &p);
    if (!p.jobs_done)
        return true;
    struct snapshot *s = source_snapshot(st->source);
    bool running = s && s->cutover.running;
    snapshot_release(s);
    return running;
}

/*
 * Lets go of the terminal: stdin and stdout to /dev/null, stderr to
 * <dir>/console.log when it is still the terminal, SIGHUP ignored, and a
 * session of our own so the terminal's later hangups never reach us.
 */
static void detach_terminal(const struct standalone *st)
{
    fflush(stdout);
    int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (nul >= 0) {
        dup2(nul, STDIN_FILENO);
        dup2(nul, STDOUT_FILENO);
        close(nul);
    }
    /* A hung-up terminal answers isatty with EIO. */
    if (isatty(STDERR_FILENO) || errno == EIO) {
        char path[PATH_MAX + 16];
        snprintf(path, sizeof(path), "%s/console.log", st->dir);
        int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
        dup2(fd >= 0 ? fd : STDIN_FILENO, STDERR_FILENO);
        if (fd >= 0)
            close(fd);
    }
    signal(SIGHUP, SIG_IGN);
    setsid(); /* fails harmlessly when we already lead a process group */
}

/* Headless: serve the socket until nothing can run any more, then end (records committed). */
static int run_headless(struct standalone *st)
{
    fprintf(stderr, "catalyst-tui: pid %ld detached; running %s headless until its jobs end\n",
            (long)getpid(), st->dir);
    uint64_t gen = 0;
    int64_t idle_since = -1;
    char log[PATH_MAX + 16];
    snprintf(log, sizeof(log), "%s/console.log", st->dir);
    while (!stop_requested) {
        if (work_in_flight(st)) {
            idle_since = -1;
        } else if (idle_since < 0) {
            idle_since = mono_ms();
        } else if (mono_ms() - idle_since >= 2000) {
            /* A moment for attached consoles and `wait` to read the final picture. */
            break;
        }
        gen = engine_wait(st->engine, gen, 500);
        /* A headless run that writes without end keeps its log within about twice the cap. */
        int nfd;
        if (util_log_rotate(STDERR_FILENO, log, TERM_LOG_MAX, &nfd) == 1) {
            dup2(nfd, STDERR_FILENO);
            close(nfd);
        }
    }
    fprintf(stderr, "catalyst-tui: pid %ld: %s; ending\n", (long)getpid(),
            stop_requested ? "stopped by a signal" : "nothing left to run");
    return EXIT_OK;
}

static volatile sig_atomic_t forward_sig;

static void on_forward_signal(int sig)
{
    forward_sig = sig;
}

/*
 * After `q` -> detach the shell must get its prompt back, but a process with
 * engine threads cannot fork. So an interactive console forks first, before
 * any thread exists: the child does everything, the parent only waits. The
 * child writes one byte on the pipe when it detaches; the parent then exits 0
 * (else with the child's status). Returns in the child (its pipe end in
 * *detach_fd) or, when forking fails, in the only process (*detach_fd -1).
 */
static void fork_for_detach(int *detach_fd)
{
    *detach_fd = -1;
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0)
        return;
    fflush(NULL);
    pid_t child = fork();
    if (child < 0) {
        close(p[0]);
        close(p[1]);
        return;
    }
    if (child == 0) {
        close(p[0]);
        *detach_fd = p[1];
        return;
    }
    close(p[1]);
    /*
     * Signals sent to us are meant for the console: passed on. A hangup may
     * reach only us (the session leader gets it, not its children); Ctrl-C
     * reaches both, and the child takes a second SIGINT like the first.
     */
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_forward_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGQUIT, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    char c = 0;
    for (;;) {
        if (forward_sig) {
            kill(child, forward_sig);
            forward_sig = 0;
        }
        /* Bounded: a signal landing just before poll is passed on within 200 ms. */
        struct pollfd pfd = {p[0], POLLIN, 0};
        int r = poll(&pfd, 1, 200);
        if (r < 0 && errno != EINTR)
            break;
        if (r > 0) {
            if (read(p[0], &c, 1) <= 0)
                c = 0;
            break;
        }
    }
    if (c == 'D')
        _exit(EXIT_OK);
    int status = 0;
    while (waitpid(child, &status, 0) < 0) {
        if (errno != EINTR)
            _exit(EXIT_FAILED);
    }
    if (WIFEXITED(status))
        _exit(WEXITSTATUS(status));
    _exit(128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0));
}

/*
 * wait: one line per change until the outcome is known. With follow set (a
 * terminal that cannot move the cursor) it never decides: it prints changes
 * until interrupted, like a log.
 */
static int run_wait(struct source *src, struct engine *engine, const struct options *o,
                    bool follow, bool attached, int64_t started)
{
    bool cutover = follow || strcmp(o->wait_what, "cutover") == 0;
    int64_t deadline = o->timeout_ms >= 0 ? started + o->timeout_ms : -1;
    /* Following after the dashboard was printed: only what changes from here on. */
    struct snapshot *prev = follow ? source_snapshot(src) : NULL;
    uint64_t gen = prev ? prev->generation : 0;
    int rc = -1;
    for (;;) {
        struct snapshot *s;
        if (engine) {
            /* Never past the deadline: the timeout is told at once, before the jobs stop. */
            int64_t left = deadline >= 0 ? deadline - mono_ms() : 500;
            s = source_local_wait(src, gen, left < 0 ? 0 : left < 500 ? (int)left : 500);
        } else {
            s = source_snapshot(src);
            if (s && s->generation == gen) {
                snapshot_release(s);
                s = NULL;
                usleep(100 * 1000);
            }
        }
        if (s) {
            gen = s->generation;
            errno = 0;
            once_changes(prev, s, cutover, stdout);
            struct error werr;
            error_clear(&werr);
            if (once_flush(stdout, "stdout", &werr) != 0) {
                snapshot_release(s);
                snapshot_release(prev);
                return fail(&werr);
            }
            /* Attached and the owner stopped answering: the caller takes over or re-attaches. */
            if (attached && !s->source.ok) {
                rc = RC_ATTACH_LOST;
            /* Refused credentials end the wait (exit 4) even with stale data to show. */
            } else if (!engine && !s->source.ok && (!s->source.stale || s->source.auth_failed)) {
                rc = s->source.auth_failed ? EXIT_AUTH : EXIT_API;
                once_error(stderr, s->source.error);
            } else if (engine && !follow && s->source.error && *s->source.error) {
                /* The state dir cannot record results: nothing more will start. */
                rc = EXIT_API;
                once_error(stderr, s->source.error);
            } else if (!follow) {
                rc = wait_outcome(s, cutover);
            }
            snapshot_release(prev);
            prev = s;
        }
        if (rc >= 0 || rc == RC_ATTACH_LOST)
            break;
        if (engine && hangup_requested && detach_on_hangup) {
            rc = RC_DETACHED; /* the terminal is gone; the jobs are not */
            break;
        }
        if (stop_requested) {
            if (!follow)
                fprintf(stderr, "catalyst-tui: interrupted\n");
            rc = follow ? EXIT_OK : EXIT_FAILED;
            break;
        }
        if (deadline >= 0 && mono_ms() >= deadline) {
            fprintf(stderr, "catalyst-tui: wait %s timed out\n", o->wait_what);
            rc = EXIT_TIMEOUT;
            break;
        }
    }
    snapshot_release(prev);
    return rc;
}

static unsigned long quit_count(void *arg)
{
    (void)arg;
    return term_quit_count();
}

static const char *quit_signal_name(int sig)
{
    switch (sig) {
    case SIGINT:
        return "SIGINT";
    case SIGTERM:
        return "SIGTERM";
    case SIGHUP:
        return "SIGHUP";
    default:
        return "the signal";
    }
}

/*
 * The watchdog's action, on its own thread: the UI thread is stuck in a frame
 * or did not heed a termination request. The terminal comes back without
 * curses, the reason goes to stderr, and the process ends: by the request's
 * own signal (the shell sees it as such), else with status 1. _exit: atexit
 * handlers would call curses under the stuck thread's feet.
 */
static void on_watchdog(enum watchdog_reason why, int64_t stuck_ms, void *arg)
{
    (void)arg;
    term_emergency_restore();
    int sig = term_quit_signal();
    char msg[256];
    int n;
    if (why == WATCHDOG_QUIT)
        n = snprintf(msg, sizeof(msg), "catalyst-tui: the console did not stop within %lld ms "
                     "of %s; terminal restored, exiting\n", (long long)stuck_ms,
                     quit_signal_name(sig));
    else
        n = snprintf(msg, sizeof(msg), "catalyst-tui: the console stopped responding (a screen "
                     "update ran for %lld ms); terminal restored, exiting\n",
                     (long long)stuck_ms);
    if (n > 0) {
        ssize_t w = write(STDERR_FILENO, msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg));
        (void)w;
    }
    if (why == WATCHDOG_QUIT && sig > 0) {
        sigset_t one;
        sigemptyset(&one);
        sigaddset(&one, sig);
        signal(sig, SIG_DFL);
        pthread_sigmask(SIG_UNBLOCK, &one, NULL);
        raise(sig);
    }
    _exit(EXIT_FAILED);
}

/* The console under a watchdog that ends it when its UI thread hangs. */
static int run_console(struct source **src, const struct ui_options *uo, struct error *err)
{
    struct ui_options wo = *uo;
    struct watchdog_config wc = {.requests = quit_count, .fire = on_watchdog};
    wo.watchdog = watchdog_start(&wc, err);
    if (!wo.watchdog)
        return err->code ? err->code : EXIT_USAGE;
    int rc = ui_run(src, &wo, err);
    watchdog_stop(wo.watchdog);
    return rc;
}

/*
 * The curses console, or, on a terminal that cannot move the cursor
 * (TERM=dumb), the dashboard once and then one line per change.
 */
static int console_or_lines(struct source **src, struct engine *engine, const struct options *o,
                            const struct ui_options *uo, struct error *err)
{
    if (term_addressable())
        return run_console(src, uo, err);
    const char *t = getenv("TERM");
    fprintf(stderr, "catalyst-tui: terminal \"%s\" cannot move the cursor; printing the "
                    "dashboard, then one line per change (Ctrl-C quits)\n", t ? t : "");
    struct snapshot *s = source_snapshot(*src);
    errno = 0;
    if (s && (once_render(s, "dashboard", terminal_width(), o->ascii || !locale_is_utf8(),
                          stdout, err) < 0 ||
              once_flush(stdout, "stdout", err) < 0)) {
        snapshot_release(s);
        return err->code;
    }
    snapshot_release(s);
    return run_wait(*src, engine, o, true, false, mono_ms());
}

/* Fills the remote options from the flags, then from the context for what is unset. */
static int remote_options_from(const struct options *o, const struct context *ctx,
                               struct remote_options *ro, struct error *err)
{
    memset(ro, 0, sizeof(*ro));
    ro->api = o->api ? o->api : ctx ? ctx->api : NULL;
    ro->deployment = o->deployment ? o->deployment : ctx ? ctx->deployment : NULL;
    ro->token_file = o->token_file ? o->token_file
                     : ctx && ctx->token_file ? ctx->token_file
                                              : getenv("CATALYST_TOKEN_FILE");
    ro->session_file = o->session_file ? o->session_file : ctx ? ctx->session_file : NULL;
    ro->cacert = o->cacert ? o->cacert : ctx ? ctx->cacert : NULL;
    ro->insecure = o->insecure || (ctx && ctx->insecure);
    ro->refresh_s = o->refresh_set ? o->refresh : (ctx && ctx->refresh > 0 ? ctx->refresh : 2);
    ro->connect_timeout_ms = 5000;
    ro->timeout_ms = 15000;
    ro->read_only = o->read_only || (ctx && ctx->read_only);
    /*
     * Set before the poller starts (the source reads it from its threads);
     * a no-op until a console loop runs.
     */
    ro->notify = ui_wake;
    if (!ro->api || !*ro->api) {
        error_set(err, EXIT_USAGE, "context \"%s\" has no api URL", ctx ? ctx->name : "");
        return -1;
    }
    return 0;
}

/* What ":ctx NAME" needs to build a source for another context. */
struct switcher {
    const struct options *o;
    const struct config *cfg;
};

static struct source *switch_context(void *arg, const char *name, struct error *err)
{
    const struct switcher *sw = arg;
    const struct context *ctx = config_find(sw->cfg, name);
    if (!ctx) {
        error_set(err, EXIT_USAGE, "no context named \"%s\" in %s", name, sw->cfg->path);
        return NULL;
    }
    /* The context's own endpoint and credentials; only the global switches carry over. */
    struct options o = *sw->o;
    o.api = o.deployment = o.token_file = o.session_file = o.cacert = NULL;
    o.refresh_set = false;
    struct remote_options ro;
    if (remote_options_from(&o, ctx, &ro, err) < 0)
        return NULL;
    return source_remote_new(&ro, err);
}

/*
 * Another process holds the state dir: read it over its socket, as a remote
 * source ("attached to pid N"). RC_ATTACH_GONE when nothing answers there,
 * RC_ATTACH_LOST when it stops answering during `wait`: the caller retries,
 * or takes the dir over once the holder has ended.
 */
static int run_attached(const struct options *o, const struct config *cfg,
                        const struct standalone *st, int64_t started)
{
    char sock[PATH_MAX + 16];
    snprintf(sock, sizeof(sock), "%s/%s", st->dir, STORE_SOCKET_NAME);
    if (!http_unix_listening(sock))
        return RC_ATTACH_GONE;
    long pid = store_lock_holder(st->dir);
    char label[64];
    if (pid > 0)
        snprintf(label, sizeof(label), "attached to pid %ld", pid);
    else
        snprintf(label, sizeof(label), "attached");
    struct remote_options ro = {
        .api = "http://localhost/api/v1", .unix_socket = sock, .mode_label = label,
        /* A local socket is cheap: a livelier default than a remote API's 2 s. */
        .refresh_s = o->refresh_set ? o->refresh : 1,
        .connect_timeout_ms = 2000, .timeout_ms = 15000, .read_only = o->read_only,
        .notify = ui_wake,
    };
    if (o->once && o->view && strncmp(o->view, "job:", 4) == 0)
        ro.watch_job = o->view + 4;
    struct error err;
    error_clear(&err);
    struct source *src = source_remote_new(&ro, &err);
    if (!src)
        return fail(&err);
    /* `wait --timeout` bounds the whole wait, attaching included. */
    int first_ms = 5000;
    if (o->cmd == CMD_WAIT && o->timeout_ms >= 0) {
        int64_t left = started + o->timeout_ms - mono_ms();
        first_ms = left < first_ms ? (left > 0 ? (int)left : 1) : first_ms;
    }
    if (source_remote_wait_first(src, first_ms, &err) != EXIT_OK) {
        source_free(src);
        if (o->cmd == CMD_WAIT && o->timeout_ms >= 0 &&
            mono_ms() >= started + o->timeout_ms) {
            fprintf(stderr, "catalyst-tui: wait %s timed out\n", o->wait_what);
            return EXIT_TIMEOUT;
        }
        return RC_ATTACH_GONE;
    }
    int rc = EXIT_OK;
    if (o->cmd == CMD_WAIT) {
        char msg[2 * PATH_MAX + 128];
        snprintf(msg, sizeof(msg), "%s is in use; %s over %s", st->dir, label, sock);
        once_error(stderr, msg);
        install_stop_handlers();
        rc = run_wait(src, NULL, o, false, true, started);
    } else if (o->once) {
        struct snapshot *s = source_snapshot(src);
        rc = print_once(s, o);
        snapshot_release(s);
    } else {
        /* No quit dialog: the engine stays with its owner when this console quits. */
        struct ui_options uo = {
            .theme = o->theme, .theme_file = o->theme_file, .color = o->color,
            .ascii = o->ascii, .console_log = st->console_log, .read_only = o->read_only,
            .initial_view = o->view, .refresh_s = (int)ro.refresh_s,
        };
        struct switcher sw = {o, cfg};
        uo.switch_context = cfg && cfg->n_contexts ? switch_context : NULL;
        uo.switch_arg = &sw;
        install_stop_handlers();
        rc = console_or_lines(&src, NULL, o, &uo, &err);
        if (rc != EXIT_OK) {
            source_free(src);
            return fail(&err);
        }
    }
    source_free(src);
    return rc;
}

/* The lock holder does not answer on its socket: say who it is and what to do. */
static int refuse_busy(const struct standalone *st, const struct error *lock_err)
{
    long pid = store_lock_holder(st->dir);
    if (pid <= 0)
        return fail(lock_err);
    char msg[3 * PATH_MAX + 256];
    snprintf(msg, sizeof(msg), "state dir %s is in use by catalyst-tui pid %ld (not answering "
             "on %s/%s); wait for it to finish or stop it with kill %ld",
             st->dir, pid, st->dir, STORE_SOCKET_NAME, pid);
    once_error(stderr, msg); /* the path is the operator's, but still passes the sanitizer */
    return EXIT_USAGE;
}

/* The owner's wire on <dir>/catalyst.sock; without it the console still works. */
static void serve_socket(struct standalone *st)
{
    char sock[PATH_MAX + 16];
    snprintf(sock, sizeof(sock), "%s/%s", st->dir, STORE_SOCKET_NAME);
    struct server_options so = {
        .unix_path = sock, .max_connections = 64,
        .max_body = 64 * 1024, .max_header = 16 * 1024,
    };
    struct error err;
    error_clear(&err);
    st->sock = server_start(st->source, st->engine, &so, &err);
    if (!st->sock) {
        char buf[1400];
        fprintf(stderr, "catalyst-tui: later launches cannot attach: %s\n",
                error_format(&err, buf, sizeof(buf)));
    }
}

static int run_standalone(const struct options *o, const struct config *cfg)
{
    struct error err;
    error_clear(&err);
    struct standalone st;
    const char *mode = o->cmd == CMD_SERVE ? "serve" : "standalone";
    struct server_options so = {
        .listen = o->listen ? o->listen : "127.0.0.1:8080",
        .token_file = o->token_file,
        .read_only = o->read_only,
        .max_connections = 256,
        .max_body = 64 * 1024,
        .max_header = 16 * 1024,
        .allow_hosts = o->allow_hosts,
        .n_allow_hosts = o->n_allow_hosts,
        .insecure_no_auth = o->insecure_no_auth,
    };
    if (o->cmd == CMD_SERVE) {
        /* Before any job runs: a refused exposure must not have started anything. */
        bool exposed = false;
        if (server_check_options(&so, &exposed, &err) < 0)
            return fail(&err);
        if (exposed && !o->token_file)
            fprintf(stderr, "catalyst-tui: WARNING: --insecure-no-auth: %s is reachable beyond "
                            "this machine without a token; anyone who can connect can retry "
                            "jobs and start the cutover\n",
                    so.listen);
    }
    int64_t started = mono_ms();
    bool once = o->cmd == CMD_CONSOLE && o->once;
    int detach_fd = -1;
    if (o->cmd == CMD_CONSOLE && !once && isatty(STDIN_FILENO) && isatty(STDOUT_FILENO))
        fork_for_detach(&detach_fd);
    if (standalone_load(&st, o, &err) < 0)
        return fail(&err);
    int rc = EXIT_OK;

    /* A live engine answers on its socket: --once attaches; observing is the fallback. */
    if (once) {
        rc = run_attached(o, cfg, &st, started);
        if (rc != RC_ATTACH_GONE) {
            standalone_close(&st);
            return rc;
        }
    }
    /*
     * The dir is held by another process: attach to it. A holder that is just
     * starting or ending may not answer for a moment; retry before refusing.
     */
    int64_t tried_since = mono_ms();
    for (;;) {
        error_clear(&err);
        int r = standalone_engine(&st, o, mode, &err);
        if (r == 0)
            break;
        if (r < 0 || o->fresh || o->cmd == CMD_SERVE) {
            standalone_close(&st);
            return fail(&err);
        }
        rc = run_attached(o, cfg, &st, started);
        if (rc == RC_ATTACH_LOST && !stop_requested) {
            tried_since = mono_ms();
            continue;
        }
        if (rc != RC_ATTACH_GONE) {
            standalone_close(&st);
            return rc < 0 ? EXIT_FAILED : rc;
        }
        if (stop_requested || mono_ms() - tried_since > 3000) {
            rc = refuse_busy(&st, &err);
            standalone_close(&st);
            return rc;
        }
        usleep(100 * 1000);
    }

    if (once) {
        /* One picture of the state as it is: nothing is started. */
        struct snapshot *s = snapshot_new();
        const char *watch = o->view && strncmp(o->view, "job:", 4) == 0 ? o->view + 4 : NULL;
        if (!s || engine_fill_snapshot(st.engine, s, watch) < 0 || snapshot_finalize(s) < 0) {
            snapshot_release(s);
            standalone_close(&st);
            fprintf(stderr, "catalyst-tui: out of memory\n");
            return EXIT_FAILED;
        }
        rc = print_once(s, o);
        snapshot_release(s);
        standalone_close(&st);
        return rc;
    }

    detach_on_hangup = o->cmd != CMD_SERVE;
    install_stop_handlers();
    if (engine_start(st.engine, &err) < 0) {
        standalone_close(&st);
        return fail(&err);
    }
    /* The wake-up is given at creation: the source's threads read it from the start. */
    st.source = source_local_new(st.engine, o->cmd == CMD_CONSOLE ? ui_wake : NULL, NULL, &err);
    if (!st.source) {
        standalone_close(&st);
        return fail(&err);
    }
    serve_socket(&st);
    bool detach = false;
    if (o->cmd == CMD_WAIT) {
        rc = run_wait(st.source, st.engine, o, false, false, started);
        /* A hangup with nothing left to run ends the wait like an interrupt. */
        detach = rc == RC_DETACHED && work_in_flight(&st);
        if (rc == RC_DETACHED && !detach)
            rc = EXIT_FAILED;
    } else if (o->cmd == CMD_SERVE) {
        struct server *srv = server_start(st.source, st.engine, &so, &err);
        if (!srv) {
            standalone_close(&st);
            return fail(&err);
        }
        char host[256];
        snprintf(host, sizeof(host), "%s", so.listen);
        char *colon = strrchr(host, ':');
        if (colon)
            *colon = 0;
        fprintf(stderr, "catalyst-tui: serving %s on http://%s:%d/api/v1 (port %d)\n",
                st.spec->name, host, server_port(srv), server_port(srv));
        /*
         * Not pause(): the signal may be handled on any of the server's
         * threads, which leaves this one asleep. Look five times a second.
         */
        while (!stop_requested) {
            struct timespec nap = {0, 200 * 1000 * 1000};
            nanosleep(&nap, NULL);
        }
        server_stop(srv);
    } else {
        enum ui_end end = UI_END_QUIT;
        struct ui_options uo = {
            .theme = o->theme, .theme_file = o->theme_file, .color = o->color,
            .ascii = o->ascii, .console_log = st.console_log, .read_only = o->read_only,
            .initial_view = o->view, .refresh_s = (int)o->refresh,
            .work_in_flight = work_in_flight, .work_arg = &st, .end = &end,
        };
        struct switcher sw = {o, cfg};
        uo.switch_context = cfg && cfg->n_contexts ? switch_context : NULL;
        uo.switch_arg = &sw;
        rc = console_or_lines(&st.source, st.engine, o, &uo, &err);
        bool hangup = rc == RC_DETACHED || end == UI_END_HANGUP;
        if (rc == RC_DETACHED) {
            rc = EXIT_OK;
        } else if (rc != EXIT_OK) {
            standalone_close(&st);
            return fail(&err);
        }
        /* A hangup with nothing left to run just ends, as a quit would. */
        detach = end == UI_END_DETACH || (hangup && work_in_flight(&st));
        if (end == UI_END_DETACH)
            printf("catalyst-tui: detached; pid %ld keeps running the jobs in %s\n"
                   "catalyst-tui: launch again on that state dir to attach; log: "
                   "%s/console.log\n", (long)getpid(), st.dir, st.dir);
        if (end == UI_END_STOP)
            engine_stop_jobs(st.engine, "stopped by the operator"); /* the quit dialog's "s" */
    }
    if (detach) {
        detach_terminal(&st);
        if (detach_fd >= 0) {
            ssize_t w = write(detach_fd, "D", 1);
            (void)w; /* without it the waiting parent just keeps the prompt until we end */
        }
        rc = run_headless(&st);
    }
    if (detach_fd >= 0)
        close(detach_fd);
    standalone_close(&st);
    return rc;
}

static int run_remote(const struct options *o, const struct config *cfg,
                      const struct context *ctx)
{
    struct error err;
    error_clear(&err);
    struct remote_options ro;
    if (remote_options_from(o, ctx, &ro, &err) < 0)
        return fail(&err);
    if (o->once && o->view && strncmp(o->view, "job:", 4) == 0)
        ro.watch_job = o->view + 4;
    struct source *src = source_remote_new(&ro, &err);
    if (!src)
        return fail(&err);
    int rc = EXIT_OK;
    int64_t started = mono_ms();
    if (o->once || o->cmd == CMD_WAIT) {
        /* `wait --timeout` bounds the whole wait, the first fetch included. */
        int first_ms = (int)(ro.timeout_ms + 5000);
        bool bounded = o->cmd == CMD_WAIT && o->timeout_ms >= 0 && o->timeout_ms < first_ms;
        if (bounded)
            first_ms = (int)o->timeout_ms;
        int first = source_remote_wait_first(src, first_ms, &err);
        if (first != EXIT_OK) {
            source_free(src);
            if (bounded && first == EXIT_API && mono_ms() - started >= first_ms) {
                fprintf(stderr, "catalyst-tui: wait %s timed out\n", o->wait_what);
                return EXIT_TIMEOUT;
            }
            return fail(&err);
        }
    }
    if (o->cmd == CMD_WAIT) {
        install_stop_handlers();
        rc = run_wait(src, NULL, o, false, false, started);
    } else if (o->once) {
        struct snapshot *s = source_snapshot(src);
        rc = print_once(s, o);
        snapshot_release(s);
    } else {
        char log[PATH_MAX];
        default_state_dir("console.log", log, sizeof(log));
        struct ui_options uo = {
            .theme = o->theme ? o->theme : ctx ? ctx->theme : NULL,
            /* A --theme given on the command line wins over the context's theme-file. */
            .theme_file = o->theme_file ? o->theme_file
                          : !o->theme && ctx ? ctx->theme_file : NULL,
            .color = o->color, .ascii = o->ascii,
            .console_log = log, .read_only = ro.read_only,
            .initial_view = o->view, .refresh_s = (int)ro.refresh_s,
        };
        struct switcher sw = {o, cfg};
        uo.switch_context = cfg && cfg->n_contexts ? switch_context : NULL;
        uo.switch_arg = &sw;
        install_stop_handlers();
        rc = console_or_lines(&src, NULL, o, &uo, &err);
        if (rc != EXIT_OK) {
            source_free(src);
            return fail(&err);
        }
    }
    source_free(src);
    return rc;
}

int main(int argc, char **argv)
{
    setlocale(LC_ALL, "");
    struct options o;
    int rc = parse_args(argc, argv, &o);
    if (rc != 0)
        return rc;
    /* --once is chosen automatically when stdout is not a terminal. */
    if (o.cmd == CMD_CONSOLE && !isatty(STDOUT_FILENO))
        o.once = true;
    if (o.json && !o.once && o.cmd == CMD_CONSOLE)
        o.once = true;

    struct error err;
    error_clear(&err);
    struct config *cfg = NULL;
    const struct context *ctx = NULL;
    if (!o.api && !o.spec && o.cmd != CMD_SERVE) {
        if (config_load(o.config, &cfg, &err) < 0)
            return fail(&err);
        if (o.context) {
            ctx = config_find(cfg, o.context);
            if (!ctx) {
                config_free(cfg);
                return usage_error("no context named \"%s\" in the config file", o.context);
            }
        }
    } else if (o.context) {
        return usage_error("--context excludes --api, --spec and serve%s", "");
    }
    if (o.api || (ctx && ctx->api && *ctx->api))
        rc = run_remote(&o, cfg, ctx);
    else
        rc = run_standalone(&o, cfg);
    config_free(cfg);
    return rc;
}
