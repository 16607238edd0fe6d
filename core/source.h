/*
 * source: the one thing the console reads from (DESIGN §3). Two
 * implementations: local (wraps the in-process engine) and remote (wraps the
 * HTTP client). Views never know which one they have.
 *
 * Threading: every function may be called from any thread. snapshot() never
 * blocks on I/O; act() is asynchronous: it queues the action and returns a
 * sequence number, and the outcome appears in a later snapshot's last_action.
 * The notify callback (set at creation) is called from the source's own
 * thread after each publication; it must only do something cheap, such as
 * writing a byte to a self-pipe.
 *
 * Ownership: snapshot() returns a reference the caller releases.
 */
#ifndef CATALYST_SOURCE_H
#define CATALYST_SOURCE_H

#include "snapshot.h"
#include "util.h"

struct source;

struct source_ops {
    struct snapshot *(*snapshot)(struct source *src);
    uint64_t (*act)(struct source *src, enum action_kind kind, const char *arg);
    void (*watch_job)(struct source *src, const char *job_id_or_name);
    void (*refresh)(struct source *src);
    void (*destroy)(struct source *src);   /* stops threads, frees */
};

struct source {
    const struct source_ops *ops;
    void (*notify)(void *ctx);
    void *notify_ctx;
};

static inline struct snapshot *source_snapshot(struct source *s) { return s->ops->snapshot(s); }
static inline uint64_t source_act(struct source *s, enum action_kind k, const char *arg)
{
    return s->ops->act(s, k, arg);
}
/* Which job's detail + log tail the snapshots carry; NULL or "" for none. */
static inline void source_watch_job(struct source *s, const char *job)
{
    s->ops->watch_job(s, job);
}
/* Ask for a new snapshot as soon as possible (remote: poll now). */
static inline void source_refresh(struct source *s) { s->ops->refresh(s); }
static inline void source_free(struct source *s)
{
    if (s)
        s->ops->destroy(s);
}

#endif
