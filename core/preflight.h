/*
 * preflight: the cutover readiness checklist (DESIGN §5), one pure function
 * of a snapshot. The cutover is irreversible, so a start is refused while a
 * check fails unless the operator forces it. Four checks, in this order:
 *
 *   handover-complete     the `handover` group's leaves all succeeded; with no
 *                         leaves, handoverFiredAt (or the group's status) counts;
 *                         a Sovereign with no handover group at all passes
 *                         ("not in this Sovereign": the jobs check covers it);
 *   jobs-succeeded        every leaf outside the `cutover` group succeeded
 *                         (recurring kinds, cron and reconciler, never finish and
 *                         are left out; `healthy` counts as succeeded);
 *   components-installed  the components the cutover steps touch (a fixed map
 *                         from step name to component slugs: gitea, harbor, flux,
 *                         crossplane, dragonfly ...) are installed: every leaf
 *                         (mutations aside) whose appId is the slug (or
 *                         "<region>:<slug>") or whose name is install-<slug>
 *                         succeeded; a slug with no such job is "not in this
 *                         Sovereign" and passes;
 *   cutover-idle          no cutover run is in progress.
 *
 * The engine uses it to refuse a start (425 handover-incomplete) and to hold
 * `auto: true` back; the console uses it on any source's snapshot, so it warns
 * before starting against a server that has no preflight of its own.
 *
 * Only the snapshot's public fields are read: jobs (id, jobName, parentId,
 * appId, kind, status, is_group), parent[] when finalized (else parentId is
 * compared directly), deployment.handover_fired_at and the cutover status.
 *
 * Threading: none (no I/O, no locks, no allocation). Cost: one pass per check
 * over the jobs (about 0.4 ms for 10,000 jobs). Ownership: results are plain
 * values with fixed-size strings; copy them freely.
 */
#ifndef CATALYST_PREFLIGHT_H
#define CATALYST_PREFLIGHT_H

#include <stdbool.h>
#include <stddef.h>

struct snapshot;

#define PREFLIGHT_MAX_CHECKS 8
#define PREFLIGHT_ID_MAX 40
#define PREFLIGHT_TITLE_MAX 80
#define PREFLIGHT_DETAIL_MAX 240

struct preflight_check {
    char id[PREFLIGHT_ID_MAX];         /* kebab: "jobs-succeeded" */
    char title[PREFLIGHT_TITLE_MAX];   /* words: "Every job outside the cutover succeeded" */
    bool ok;
    char detail[PREFLIGHT_DETAIL_MAX]; /* what is missing, or what passed; bounded */
};

struct preflight {
    struct preflight_check checks[PREFLIGHT_MAX_CHECKS];
    size_t n_checks;
    size_t n_failing;
    bool ready;                        /* every check ok */
};

/* The checklist of s into out (s NULL: every check fails with "no data yet"). */
void preflight_compute(const struct snapshot *s, struct preflight *out);

/*
 * One line naming the failing checks into buf (at most n bytes, cut on a
 * character boundary with "..."): "2 of 4 preflight checks fail: <title>:
 * <detail>; ...". "" when ready.
 */
void preflight_summary(const struct preflight *p, char *buf, size_t n);

/* Sets a check (strings are cut to fit); for decoders that rebuild a list. */
void preflight_check_set(struct preflight_check *c, const char *id, const char *title, bool ok,
                         const char *detail);

#endif
