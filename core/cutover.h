/*
 * cutover: the cutover status as a flat string map (the upstream status
 * ConfigMap, WIRE §6.5) and the transitions the engine applies to it: an
 * attempt begins, a step starts, a step finishes, the run completes or halts.
 * Every value is a string; timestamps are RFC3339. The map knows the step
 * names in execution order so it can fill a struct cutover_status.
 *
 * The engine decides when transitions happen (it owns the run and its
 * threads); this module only keeps the map consistent and (de)serialises it.
 *
 * Threading: none; the engine calls it under its lock. Ownership: a struct
 * cutover owns copies of its keys, values and step names.
 */
#ifndef CATALYST_CUTOVER_H
#define CATALYST_CUTOVER_H

#include "model.h"
#include "util.h"

struct arena;
struct cutover;

/* steps in execution order (copied); hold_ms per step (may be NULL). */
struct cutover *cutover_new(const char *const *steps, const int64_t *hold_ms, size_t n);
void cutover_free(struct cutover *c);

/* Replaces the map by a JSON object of strings. -1 with err (EXIT_USAGE) when invalid. */
int cutover_load_json(struct cutover *c, const char *json, size_t len, const char *file,
                      struct error *err);
/* The map as a JSON object, keys sorted, into sb. */
void cutover_encode(const struct cutover *c, struct strbuf *sb);

const char *cutover_get(const struct cutover *c, const char *key); /* "" when absent */
/* Sets key (value NULL removes it). Returns -1 on out-of-memory. */
int cutover_set(struct cutover *c, const char *key, const char *value);
/* Changes since the counter was last read (the engine persists when non-zero). */
uint64_t cutover_version(const struct cutover *c);

size_t cutover_step_count(const struct cutover *c);
const char *cutover_step_name(const struct cutover *c, size_t i);
enum step_result cutover_step_result(const struct cutover *c, size_t i);
bool cutover_is_complete(const struct cutover *c);
bool cutover_was_started(const struct cutover *c);
/* A step is recorded running: a run was interrupted (crash) when no run is live. */
bool cutover_step_running(const struct cutover *c);

/* An attempt starts: cutoverStartedAt (first only), cutoverLastAttemptStartedAt, totals. */
void cutover_begin(struct cutover *c, int64_t now);
/* Step i starts (hold_until 0 = no hold). */
void cutover_step_start(struct cutover *c, size_t i, int64_t now, int64_t attempt_epoch,
                        int64_t hold_until);
/* Step i finished. ok: success and its side keys; else the run halts with error. */
void cutover_step_finish(struct cutover *c, size_t i, bool ok, const char *error, int64_t now);
/* Every step succeeded: complete, 100 %, finished. */
void cutover_complete(struct cutover *c, int64_t now);

/* Fills out (strings in a). running: a run is in progress. -1 on out-of-memory. */
int cutover_fill(const struct cutover *c, bool running, struct arena *a,
                 struct cutover_status *out);

#endif
