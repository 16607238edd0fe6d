/*
 * testutil: setup shared by the engine, store and cutover tests: loading a
 * spec from a string, scratch state dirs under /tmp, waiting for an engine
 * to settle, and taking a snapshot. Failures are Criterion assertions.
 *
 * Ownership: the caller frees what it gets (spec_free, snapshot_release).
 */
#ifndef CATALYST_TEST_TESTUTIL_H
#define CATALYST_TEST_TESTUTIL_H

#include "engine.h"
#include "snapshot.h"
#include "spec.h"

#include <stdbool.h>
#include <stddef.h>

/* The spec in yaml (named "test.yaml" in messages); asserts that it loads. */
struct spec *tu_load(const char *yaml);
/* A fresh directory /tmp/catalyst-<tag>-NNNNNN, its path into out. */
void tu_tmpdir(const char *tag, char *out, size_t n);
/* Removes path and the path.old-* directories --fresh sets aside. */
void tu_rm_rf(const char *path);

/*
 * Polls e until pred holds (true) or 30 s pass (false), a bound that only
 * guards against hangs. *last, when given, gets the last progress read.
 */
bool tu_wait_for(struct engine *e, bool (*pred)(const struct engine_progress *),
                 struct engine_progress *last);
/* Predicates for tu_wait_for: every job settled; that and the cutover ended too. */
bool tu_jobs_done(const struct engine_progress *p);
bool tu_settled(const struct engine_progress *p);

/* A finalized snapshot of e, with the detail of job watch (NULL: none). */
struct snapshot *tu_snap(struct engine *e, const char *watch);

#endif
