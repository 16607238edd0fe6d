/*
 * watchdog: a thread that ends a console whose UI thread is stuck. The UI
 * thread arms it when a frame starts (model + draw) and disarms it once the
 * frame is computed, before the terminal write (a terminal may rightly be
 * slow to take bytes). It fires when a frame stays armed longer than the frame
 * limit, or when a termination request (SIGINT/SIGTERM/SIGHUP, counted by the
 * requests callback) sees no step of the UI thread (an arm or a disarm)
 * within the quit grace. While the UI thread keeps stepping, what a request
 * means stays its decision. Time the process spends stopped (Ctrl-Z) barely
 * counts: each look adds at most max(two periods, 250 ms) to a stuck clock.
 *
 * fire is injectable: the console restores the terminal and exits there,
 * tests record the call.
 *
 * Threading: watchdog_arm/disarm are lock-free and meant for one thread (the
 * UI thread); requests and fire run on the watchdog's own thread, fire at most
 * once (the watchdog stops looking after it returns). Ownership: the handle
 * from watchdog_start is freed by watchdog_stop, which joins the thread.
 * Every call accepts NULL as "no watchdog".
 */
#ifndef CATALYST_WATCHDOG_H
#define CATALYST_WATCHDOG_H

#include "util.h"

#include <stdbool.h>
#include <stdint.h>

/* Defaults of the console: a frame of 5 s is a hang, a quit unheeded for 1 s is one. */
#define WATCHDOG_FRAME_LIMIT_MS 5000
#define WATCHDOG_QUIT_GRACE_MS 1000
#define WATCHDOG_PERIOD_MS 100

enum watchdog_reason {
    WATCHDOG_FRAME, /* a frame ran past the frame limit */
    WATCHDOG_QUIT,  /* a termination request went unheeded past the grace */
};

struct watchdog_config {
    int64_t frame_limit_ms;  /* <= 0: WATCHDOG_FRAME_LIMIT_MS */
    int64_t quit_grace_ms;   /* <= 0: WATCHDOG_QUIT_GRACE_MS */
    int64_t period_ms;       /* how often the thread looks; <= 0: WATCHDOG_PERIOD_MS */
    /* Termination requests so far, a count that only grows; NULL: none watched. */
    unsigned long (*requests)(void *arg);
    /* Called once on the watchdog thread with how long the UI has been stuck; may not return. */
    void (*fire)(enum watchdog_reason why, int64_t stuck_ms, void *arg);
    void *arg;
};

/* Starts the thread. NULL with err (EXIT_USAGE) when it cannot; cfg->fire is required. */
struct watchdog *watchdog_start(const struct watchdog_config *cfg, struct error *err);
/* A frame starts (again): its clock restarts from zero. */
void watchdog_arm(struct watchdog *wd);
/* The frame is done. */
void watchdog_disarm(struct watchdog *wd);
/* Whether fire has been called. */
bool watchdog_fired(struct watchdog *wd);
/* Stops and joins the thread (promptly, not after a period), then frees. */
void watchdog_stop(struct watchdog *wd);

#endif
