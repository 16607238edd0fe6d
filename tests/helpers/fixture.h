/*
 * fixture: hand-built, finalized snapshots for view tests and benchmarks.
 *
 * fixture_demo() is a demo-like Sovereign "omantel" frozen mid-cutover:
 * provisioner chain and a bootstrap-kit subset succeeded, handover done,
 * apps with one failed install (install-globex-prod-postgres, two failed
 * executions) and one job blocked by it (install-globex-prod-erp), one app
 * install running and one pending, cutover steps 1-7 succeeded and step 8
 * (egress-block-test) running with a hold that ends 9 min 12 s after
 * FIXTURE_NOW. Orgs acme, globex, initech with environments and apps,
 * blueprints three deep, the failed job watched with log lines (one carrying
 * escape sequences), and an activity feed.
 *
 * fixture_synthetic(n) is a layered random-looking (seeded, deterministic)
 * DAG of n leaf jobs in groups of 200 with mixed statuses, for benches; it
 * carries the demo's cutover and organizations too.
 *
 * Ownership: the caller releases the snapshot (snapshot_release).
 */
#ifndef CATALYST_TEST_FIXTURE_H
#define CATALYST_TEST_FIXTURE_H

#include "snapshot.h"

#include <stddef.h>
#include <stdint.h>

/* 2026-05-12T08:00:00Z and 2026-05-12T09:50:00Z */
#define FIXTURE_T0 INT64_C(1778572800000)
#define FIXTURE_NOW (FIXTURE_T0 + INT64_C(6600000))
#define FIXTURE_DEP "3f9a1c7e52b04d8a"

struct snapshot *fixture_demo(void);
/* The demo with the cutover finished: state sovereign, every step succeeded. */
struct snapshot *fixture_sovereign(void);
/* The demo with jobs' statuses changed but the same ids and edges. */
struct snapshot *fixture_demo_restatused(void);
struct snapshot *fixture_synthetic(size_t n, uint64_t seed);

#endif
