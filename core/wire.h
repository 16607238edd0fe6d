/*
 * wire: the catalyst-api JSON codec (WIRE.md), both directions.
 *
 * Decoders read both server generations (early flat jobs with batchId, late
 * job trees with type/parentId/childIds/kind) and every quirk of WIRE §10;
 * unknown fields are ignored. A frame that does not parse, or whose fields
 * have the wrong types, is rejected whole with the JSON path of the problem in
 * err->msg, e.g. "jobs[12].dependsOn[0]: expected string". Times are RFC3339
 * within 1970-01-01..2200-01-01 (Go's zero time means absent); anything else
 * is refused so that time arithmetic downstream cannot overflow. Decoded
 * values live in the caller's arena.
 *
 * Encoders write the late shapes (what our server sends) into a strbuf, with
 * a trailing "\n" like Go's json.Encoder.
 *
 * Threading: reentrant. The one global is a mutex around cJSON's parser,
 * which writes a process-wide error record on every call: every JSON parse in
 * the core goes through wire_json_parse so that threads never race on it.
 * Ownership: decoders allocate only from the arena passed in; encoders only
 * append to the strbuf.
 */
#ifndef CATALYST_WIRE_H
#define CATALYST_WIRE_H

#include "model.h"
#include "snapshot.h"
#include "util.h"

struct arena;

struct cJSON;

/*
 * cJSON_ParseWithLengthOpts (no NUL required) under the parser lock; *end
 * (may be NULL) gets where parsing stopped. Free the tree with cJSON_Delete.
 */
struct cJSON *wire_json_parse(const char *json, size_t len, const char **end);

/* ---- decoders: 0 on success, -1 with err (code EXIT_API, msg "path: problem") ---- */

/*
 * {"jobs":[Job...]} early or late. Early rows get parentId "<dep>:<batchId>"
 * and missing groups are synthesised (displayName Bootstrap / Day-2 Mutations
 * for the known slugs), kind is back-filled from jobName (WIRE §3.1), and
 * group status is rolled up when the server did not (early).
 */
int wire_decode_jobs(const char *json, size_t len, struct arena *a, struct job **jobs,
                     size_t *n, struct error *err);
/* {"job":Job,"executions":[Execution...]} */
int wire_decode_job_detail(const char *json, size_t len, struct arena *a, struct job *job,
                           struct execution **execs, size_t *n, struct error *err);
/* {"lines":[LogLine...],"total":T,"executionFinished":B} */
int wire_decode_log_page(const char *json, size_t len, struct arena *a, struct log_page *out,
                         struct error *err);
/*
 * Cutover status (WIRE §6.2, §6.7): state derived when absent, an unknown
 * state rejected, steps sorted into canonical order (catalogue of §6.4 first,
 * unknown names after, pseudo `x.region.y` names dropped), lastError copied to
 * the failed step's message, summary values from top level or raw.
 */
int wire_decode_cutover_status(const char *json, size_t len, struct arena *a,
                               struct cutover_status *out, struct error *err);
/* The flat string map of an SSE cutover-status frame (the decoded inner JSON). */
int wire_decode_cutover_configmap(const char *json, size_t len, struct arena *a,
                                  struct cutover_status *out, struct error *err);
/* Deployment state object (finishedAt may be null, result lifted). */
int wire_decode_deployment(const char *json, size_t len, struct arena *a,
                           struct deployment *out, struct error *err);
/* {"deployments":[...]} */
int wire_decode_deployments(const char *json, size_t len, struct arena *a,
                            struct deployment **out, size_t *n, struct error *err);
/* {"deploymentId","sovereignFQDN"} */
int wire_decode_sovereign_self(const char *json, size_t len, struct arena *a,
                               const char **deployment_id, const char **fqdn, struct error *err);
/* {"helmReleasesReady",...} */
int wire_decode_sovereign_status(const char *json, size_t len, struct sovereign_status *out,
                                 struct error *err);
/* Our §11 {"organizations":[...],"blueprints":[...]} (blueprints optional). */
int wire_decode_organizations(const char *json, size_t len, struct arena *a,
                              struct organization **orgs, size_t *n_orgs,
                              struct blueprint **bps, size_t *n_bps, struct error *err);
/* Upstream fallback: {"items":[{"name","namespace","blueprint","version","phase"}],...} */
int wire_decode_applications(const char *json, size_t len, struct arena *a,
                             struct organization **orgs, size_t *n_orgs, struct error *err);
/* SSE event data (provisioner.Event / cutover event). */
struct wire_event {
    int64_t time;
    const char *phase;
    enum log_level level;
    const char *message;
    const char *component;     /* "" */
    const char *state;         /* "" */
    const char *step;          /* "" */
    const char *job_name;      /* "" */
};
int wire_decode_event(const char *json, size_t len, struct arena *a, struct wire_event *out,
                      struct error *err);
/* Retry response {"id","kind","action","executionId","requestedAt","requestedBy"}. */
int wire_decode_retry(const char *json, size_t len, struct arena *a, const char **execution_id,
                      const char **action, struct error *err);
/*
 * Error bodies: canonical {"error","detail"}; plain-text bodies are returned
 * trimmed as detail with code "". Never fails.
 */
void wire_decode_error(const char *body, size_t len, struct arena *a, const char **code,
                       const char **detail);

/* ---- encoders (late shapes, trailing newline) ---- */

void wire_encode_job(struct strbuf *sb, const struct job *j);
void wire_encode_jobs(struct strbuf *sb, const struct job *jobs, size_t n);
void wire_encode_job_detail(struct strbuf *sb, const struct job *j,
                            const struct execution *const *execs, size_t n);
void wire_encode_execution(struct strbuf *sb, const struct execution *x);
void wire_encode_log_page(struct strbuf *sb, const struct log_page *p);
void wire_encode_cutover_status(struct strbuf *sb, const struct cutover_status *c);
void wire_encode_deployment(struct strbuf *sb, const struct deployment *d);
void wire_encode_organizations(struct strbuf *sb, const struct organization *orgs, size_t n,
                               const struct blueprint *bps, size_t n_bps);
void wire_encode_error(struct strbuf *sb, const char *code, const char *detail);
/*
 * `-o json` (DESIGN §6): {"source":{...},"deployment":{...},"jobs":[...],
 * "cutover":{...},"organizations":[...],"counts":{...}} with wire field names.
 * When with_source is false the "source" block is left out (for comparisons).
 */
void wire_encode_snapshot(struct strbuf *sb, const struct snapshot *s, bool with_source);

/* qsort comparator over `const struct job *` items: startedAt DESC, never-started last,
 * ties by jobName (WIRE §3.3). */
int wire_job_order(const void *a, const void *b);

/* Canonical cutover step catalogue (WIRE §6.4): index by name, -1 when unknown. */
int wire_cutover_step_order(const char *name);
const char *wire_cutover_step_label(const char *name);

#endif
