/*
 * source_local: the source over the in-process engine (standalone and serve
 * modes). A publisher thread waits for the engine's generation to change,
 * builds a snapshot (engine_fill_snapshot + snapshot_finalize, the engine
 * lock held only while copying) and publishes it; snapshot() just takes a
 * reference to the latest one. Actions run on a separate action thread so the
 * caller (the UI thread) never waits on the engine's disk writes.
 *
 * Ownership: the source borrows the engine (it must outlive the source).
 * Threading: all source_ops are thread-safe.
 */
#ifndef CATALYST_SOURCE_LOCAL_H
#define CATALYST_SOURCE_LOCAL_H

#include "engine.h"
#include "source.h"

/* notify may be NULL; it is called after every publication. */
struct source *source_local_new(struct engine *e, void (*notify)(void *), void *notify_ctx,
                                struct error *err);
/* Blocks until a snapshot newer than generation gen is published or timeout_ms passed. */
struct snapshot *source_local_wait(struct source *src, uint64_t gen, int timeout_ms);

#endif
