/* watchdog: the stuck-UI detector (see watchdog.h). */
#include "watchdog.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The most one look adds to a stuck clock, unless two periods are more. */
#define GAP_MAX_MS 250

struct watchdog {
    struct watchdog_config cfg;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;   /* signalled by watchdog_stop */
    bool stop;           /* under mu */
    atomic_bool armed;
    atomic_ulong steps;  /* arms plus disarms: the UI thread's heartbeat */
    atomic_bool fired;
};

void watchdog_arm(struct watchdog *wd)
{
    if (!wd)
        return;
    atomic_store(&wd->armed, true);
    atomic_fetch_add(&wd->steps, 1);
}

void watchdog_disarm(struct watchdog *wd)
{
    if (!wd)
        return;
    atomic_store(&wd->armed, false);
    atomic_fetch_add(&wd->steps, 1);
}

bool watchdog_fired(struct watchdog *wd)
{
    return wd && atomic_load(&wd->fired);
}

/* Sleeps one period unless stopped; true when stopped. */
static bool wait_period(struct watchdog *wd)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t ns = ts.tv_nsec + wd->cfg.period_ms % 1000 * 1000000;
    ts.tv_sec += (time_t)(wd->cfg.period_ms / 1000 + ns / 1000000000);
    ts.tv_nsec = (long)(ns % 1000000000);
    pthread_mutex_lock(&wd->mu);
    while (!wd->stop) {
        int rc = pthread_cond_timedwait(&wd->cv, &wd->mu, &ts);
        if (rc == ETIMEDOUT)
            break;
    }
    bool stop = wd->stop;
    pthread_mutex_unlock(&wd->mu);
    return stop;
}

static void *watch(void *arg)
{
    struct watchdog *wd = arg;
    const struct watchdog_config *c = &wd->cfg;
    unsigned long seen_req = c->requests ? c->requests(c->arg) : 0;
    unsigned long prev_steps = atomic_load(&wd->steps);
    unsigned long pending_steps = 0;
    bool pending = false;
    int64_t frame_clock = 0, quit_clock = 0;
    int64_t last = mono_ms();
    while (!wait_period(wd)) {
        int64_t now = mono_ms();
        /* A stopped process (SIGTSTP) is not a stuck UI: a long gap between looks counts
         * as little; a starved thread's looks still count in full. */
        int64_t gap_max = 2 * c->period_ms > GAP_MAX_MS ? 2 * c->period_ms : GAP_MAX_MS;
        int64_t dt = now - last < gap_max ? now - last : gap_max;
        if (dt < 0)
            dt = 0;
        last = now;
        /* Steps before requests: a step read here happened before any request read below. */
        unsigned long steps = atomic_load(&wd->steps);
        bool armed = atomic_load(&wd->armed);
        unsigned long req = c->requests ? c->requests(c->arg) : 0;

        frame_clock = armed && steps == prev_steps ? frame_clock + dt : 0;
        if (req != seen_req && !pending) {
            /* The request came after the last look: any step since then is the UI's answer. */
            pending = true;
            pending_steps = prev_steps;
            quit_clock = 0;
        }
        seen_req = req;
        if (pending && steps != pending_steps)
            pending = false;
        else if (pending)
            quit_clock += dt;
        prev_steps = steps;

        enum watchdog_reason why;
        int64_t stuck;
        if (armed && frame_clock >= c->frame_limit_ms) {
            why = WATCHDOG_FRAME;
            stuck = frame_clock;
        } else if (pending && quit_clock >= c->quit_grace_ms) {
            why = WATCHDOG_QUIT;
            stuck = quit_clock;
        } else {
            continue;
        }
        atomic_store(&wd->fired, true);
        c->fire(why, stuck, c->arg);
        break;
    }
    return NULL;
}

struct watchdog *watchdog_start(const struct watchdog_config *cfg, struct error *err)
{
    if (!cfg || !cfg->fire) {
        error_set(err, EXIT_USAGE, "watchdog: no fire action");
        return NULL;
    }
    struct watchdog *wd = calloc(1, sizeof(*wd));
    if (!wd) {
        error_set(err, EXIT_USAGE, "out of memory");
        return NULL;
    }
    wd->cfg = *cfg;
    if (wd->cfg.frame_limit_ms <= 0)
        wd->cfg.frame_limit_ms = WATCHDOG_FRAME_LIMIT_MS;
    if (wd->cfg.quit_grace_ms <= 0)
        wd->cfg.quit_grace_ms = WATCHDOG_QUIT_GRACE_MS;
    if (wd->cfg.period_ms <= 0)
        wd->cfg.period_ms = WATCHDOG_PERIOD_MS;
    atomic_init(&wd->armed, false);
    atomic_init(&wd->steps, 0);
    atomic_init(&wd->fired, false);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(&wd->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (rc != 0) {
        free(wd);
        error_set(err, EXIT_USAGE, "watchdog: %s", strerror(rc));
        return NULL;
    }
    pthread_mutex_init(&wd->mu, NULL);
    /* Signals go to the other threads: the UI's handlers run where a wake-up helps. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&wd->thread, NULL, watch, wd);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        pthread_cond_destroy(&wd->cv);
        pthread_mutex_destroy(&wd->mu);
        free(wd);
        error_set(err, EXIT_USAGE, "watchdog: %s", strerror(rc));
        return NULL;
    }
    return wd;
}

void watchdog_stop(struct watchdog *wd)
{
    if (!wd)
        return;
    pthread_mutex_lock(&wd->mu);
    wd->stop = true;
    pthread_cond_signal(&wd->cv);
    pthread_mutex_unlock(&wd->mu);
    pthread_join(wd->thread, NULL);
    pthread_cond_destroy(&wd->cv);
    pthread_mutex_destroy(&wd->mu);
    free(wd);
}
