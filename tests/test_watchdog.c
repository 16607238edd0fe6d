/*
 * The UI watchdog with an injected fire action: a deliberately slow fake
 * frame must fire it, a frame that ends in time must not, and a termination
 * request must fire it only while the UI thread takes no step.
 */
#include "util.h"
#include "watchdog.h"

#include <criterion/criterion.h>
#include <stdatomic.h>
#include <time.h>

TestSuite(watchdog, .timeout = 20);

struct probe {
    atomic_int calls;
    atomic_int why;
    atomic_llong stuck_ms;
    atomic_llong fired_at;  /* mono_ms() when fire ran */
    atomic_ulong requests;  /* the fake signal counter */
};

static void on_fire(enum watchdog_reason why, int64_t stuck_ms, void *arg)
{
    struct probe *p = arg;
    atomic_store(&p->why, (int)why);
    atomic_store(&p->stuck_ms, stuck_ms);
    atomic_store(&p->fired_at, mono_ms());
    atomic_fetch_add(&p->calls, 1);
}

static unsigned long count_requests(void *arg)
{
    struct probe *p = arg;
    return atomic_load(&p->requests);
}

static struct watchdog *start(struct probe *p, int64_t frame_ms, int64_t grace_ms)
{
    struct watchdog_config cfg = {
        .frame_limit_ms = frame_ms,
        .quit_grace_ms = grace_ms,
        .period_ms = 10,
        .requests = count_requests,
        .fire = on_fire,
        .arg = p,
    };
    struct error err;
    error_clear(&err);
    struct watchdog *wd = watchdog_start(&cfg, &err);
    cr_assert_not_null(wd, "%s", err.msg);
    return wd;
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* A frame that computes (spins) for ms, as a stuck model would. */
static void slow_frame(int64_t ms)
{
    volatile unsigned long sink = 0;
    int64_t end = mono_ms() + ms;
    while (mono_ms() < end)
        sink++;
    (void)sink;
}

/* A stuck frame: spins until the watchdog fires, or gives up after 5 s. */
static void stuck_frame(struct probe *p)
{
    volatile unsigned long sink = 0;
    int64_t end = mono_ms() + 5000;
    while (!atomic_load(&p->calls) && mono_ms() < end)
        sink++;
    (void)sink;
}

Test(watchdog, slow_frame_fires)
{
    struct probe p = {0};
    struct watchdog *wd = start(&p, 150, 1000);
    int64_t t0 = mono_ms();
    watchdog_arm(wd);
    stuck_frame(&p);
    watchdog_disarm(wd);
    cr_assert_eq(atomic_load(&p.calls), 1, "fired once, during the frame");
    cr_assert(watchdog_fired(wd));
    cr_assert_eq(atomic_load(&p.why), WATCHDOG_FRAME);
    cr_assert_geq(atomic_load(&p.stuck_ms), 150);
    int64_t after = atomic_load(&p.fired_at) - t0;
    cr_assert_geq(after, 140, "not before the limit: %lld ms", (long long)after);
    /* One shot: more slow frames do not call it again. */
    watchdog_arm(wd);
    slow_frame(300);
    watchdog_disarm(wd);
    cr_assert_eq(atomic_load(&p.calls), 1);
    watchdog_stop(wd);
}

Test(watchdog, frames_in_time_do_not_fire)
{
    struct probe p = {0};
    struct watchdog *wd = start(&p, 300, 1000);
    /* Many frames, each well within the limit, together far longer than it. */
    for (int k = 0; k < 12; k++) {
        watchdog_arm(wd);
        slow_frame(60);
        watchdog_disarm(wd);
        sleep_ms(20);
    }
    /* Idle (disarmed) for longer than the limit. */
    sleep_ms(500);
    cr_assert_eq(atomic_load(&p.calls), 0);
    cr_assert_not(watchdog_fired(wd));
    /* Re-arming restarts the clock: back-to-back frames just under the limit. */
    for (int k = 0; k < 3; k++) {
        watchdog_arm(wd);
        slow_frame(200);
    }
    watchdog_disarm(wd);
    cr_assert_eq(atomic_load(&p.calls), 0);
    watchdog_stop(wd);
}

Test(watchdog, unheeded_quit_fires)
{
    struct probe p = {0};
    struct watchdog *wd = start(&p, 60000, 200);
    watchdog_arm(wd);
    slow_frame(50);
    int64_t t0 = mono_ms();
    atomic_fetch_add(&p.requests, 1); /* SIGTERM while the frame computes */
    stuck_frame(&p);
    cr_assert_eq(atomic_load(&p.calls), 1);
    cr_assert_eq(atomic_load(&p.why), WATCHDOG_QUIT);
    int64_t after = atomic_load(&p.fired_at) - t0;
    cr_assert_geq(after, 190, "not before the grace: %lld ms", (long long)after);
    watchdog_disarm(wd);
    watchdog_stop(wd);
}

Test(watchdog, heeded_quit_does_not_fire)
{
    struct probe p = {0};
    struct watchdog *wd = start(&p, 60000, 200);
    /* The request arrives while idle; the UI wakes and steps (its own decision). */
    atomic_fetch_add(&p.requests, 1);
    sleep_ms(30);
    watchdog_arm(wd);
    slow_frame(20);
    watchdog_disarm(wd);
    sleep_ms(500);
    cr_assert_eq(atomic_load(&p.calls), 0);
    /* A responsive UI that keeps running after a request (SIGHUP detaching) is left alone. */
    atomic_fetch_add(&p.requests, 1);
    for (int k = 0; k < 10; k++) {
        watchdog_arm(wd);
        slow_frame(20);
        watchdog_disarm(wd);
        sleep_ms(40);
    }
    cr_assert_eq(atomic_load(&p.calls), 0);
    watchdog_stop(wd);
}

Test(watchdog, stop_is_prompt_and_null_is_harmless)
{
    struct probe p = {0};
    struct watchdog_config cfg = {.period_ms = 5000, .fire = on_fire, .arg = &p};
    struct error err;
    struct watchdog *wd = watchdog_start(&cfg, &err);
    cr_assert_not_null(wd);
    int64_t t0 = mono_ms();
    watchdog_stop(wd);
    cr_assert_lt(mono_ms() - t0, 1000, "stop does not wait out the period");
    watchdog_arm(NULL);
    watchdog_disarm(NULL);
    watchdog_stop(NULL);
    cr_assert_not(watchdog_fired(NULL));
    struct watchdog_config none = {0};
    cr_assert_null(watchdog_start(&none, &err));
    cr_assert_eq(err.code, EXIT_USAGE);
}
