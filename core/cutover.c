/* cutover: the flat status map and its transitions (see cutover.h). */
#include "cutover.h"

#include "arena.h"
#include "wire.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct entry {
    char *key;                 /* owned */
    char *value;               /* owned */
};

struct cutover {
    struct entry *map;         /* owned, sorted by key */
    size_t n, cap;
    char **steps;              /* owned names, execution order */
    int64_t *hold_ms;          /* owned, per step */
    size_t n_steps;
    uint64_t version;
};

struct cutover *cutover_new(const char *const *steps, const int64_t *hold_ms, size_t n)
{
    struct cutover *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->steps = calloc(n ? n : 1, sizeof(char *));
    c->hold_ms = calloc(n ? n : 1, sizeof(int64_t));
    if (!c->steps || !c->hold_ms) {
        cutover_free(c);
        return NULL;
    }
    c->n_steps = n;
    for (size_t i = 0; i < n; i++) {
        c->steps[i] = strdup(steps[i]);
        if (!c->steps[i]) {
            cutover_free(c);
            return NULL;
        }
        c->hold_ms[i] = hold_ms ? hold_ms[i] : 0;
    }
    if (cutover_set(c, "cutoverComplete", "false") != 0) {
        cutover_free(c);
        return NULL;
    }
    return c;
}

static void clear_map(struct cutover *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->map[i].key);
        free(c->map[i].value);
    }
    c->n = 0;
}

void cutover_free(struct cutover *c)
{
    if (!c)
        return;
    clear_map(c);
    free(c->map);
    if (c->steps)
        for (size_t i = 0; i < c->n_steps; i++)
            free(c->steps[i]);
    free(c->steps);
    free(c->hold_ms);
    free(c);
}

/* Index of key, or where it would go (*found false). */
static size_t find(const struct cutover *c, const char *key, bool *found)
{
    size_t lo = 0, hi = c->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int r = strcmp(c->map[mid].key, key);
        if (r == 0) {
            *found = true;
            return mid;
        }
        if (r < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

const char *cutover_get(const struct cutover *c, const char *key)
{
    bool f;
    size_t i = find(c, key, &f);
    return f ? c->map[i].value : "";
}

int cutover_set(struct cutover *c, const char *key, const char *value)
{
    bool f;
    size_t i = find(c, key, &f);
    if (!value) {
        if (f) {
            free(c->map[i].key);
            free(c->map[i].value);
            memmove(&c->map[i], &c->map[i + 1], (c->n - i - 1) * sizeof(*c->map));
            c->n--;
            c->version++;
        }
        return 0;
    }
    if (f) {
        if (strcmp(c->map[i].value, value) == 0)
            return 0;
        char *v = strdup(value);
        if (!v)
            return -1;
        free(c->map[i].value);
        c->map[i].value = v;
        c->version++;
        return 0;
    }
    if (c->n == c->cap) {
        size_t nc = c->cap ? c->cap * 2 : 32;
        struct entry *m = realloc(c->map, nc * sizeof(*m));
        if (!m)
            return -1;
        c->map = m;
        c->cap = nc;
    }
    char *k = strdup(key), *v = strdup(value);
    if (!k || !v) {
        free(k);
        free(v);
        return -1;
    }
    memmove(&c->map[i + 1], &c->map[i], (c->n - i) * sizeof(*c->map));
    c->map[i].key = k;
    c->map[i].value = v;
    c->n++;
    c->version++;
    return 0;
}

uint64_t cutover_version(const struct cutover *c) { return c->version; }

int cutover_load_json(struct cutover *c, const char *json, size_t len, const char *file,
                      struct error *err)
{
    cJSON *root = wire_json_parse(json, len, NULL);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        error_at(err, EXIT_USAGE, file, 0, 0, "not a JSON object (corrupted state file)");
        return -1;
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, root) {
        if (!cJSON_IsString(it)) {
            error_at(err, EXIT_USAGE, file, 0, 0, "%s: expected a string value", it->string);
            cJSON_Delete(root);
            return -1;
        }
    }
    clear_map(c);
    cJSON_ArrayForEach(it, root) {
        if (cutover_set(c, it->string, it->valuestring) != 0) {
            cJSON_Delete(root);
            error_set(err, EXIT_FAILED, "out of memory");
            return -1;
        }
    }
    cJSON_Delete(root);
    if (!*cutover_get(c, "cutoverComplete"))
        cutover_set(c, "cutoverComplete", "false");
    return 0;
}

void cutover_encode(const struct cutover *c, struct strbuf *sb)
{
    sb_putc(sb, '{');
    for (size_t i = 0; i < c->n; i++) {
        if (i)
            sb_putc(sb, ',');
        sb_json_str(sb, c->map[i].key);
        sb_putc(sb, ':');
        sb_json_str(sb, c->map[i].value);
    }
    sb_puts(sb, "}\n");
}

size_t cutover_step_count(const struct cutover *c) { return c->n_steps; }
const char *cutover_step_name(const struct cutover *c, size_t i) { return c->steps[i]; }

static const char *step_key(const struct cutover *c, size_t i, const char *field, char *buf,
                            size_t n)
{
    snprintf(buf, n, "step.%s.%s", c->steps[i], field);
    return buf;
}

enum step_result cutover_step_result(const struct cutover *c, size_t i)
{
    char k[256];
    int r = step_result_parse(cutover_get(c, step_key(c, i, "result", k, sizeof(k))));
    return r < 0 ? STEP_PENDING : (enum step_result)r;
}

bool cutover_is_complete(const struct cutover *c)
{
    return strcmp(cutover_get(c, "cutoverComplete"), "true") == 0;
}

bool cutover_was_started(const struct cutover *c) { return *cutover_get(c, "cutoverStartedAt"); }

bool cutover_step_running(const struct cutover *c)
{
    for (size_t i = 0; i < c->n_steps; i++)
        if (cutover_step_result(c, i) == STEP_RUNNING)
            return true;
    return false;
}

static void set_time(struct cutover *c, const char *key, int64_t ms)
{
    char t[40];
    cutover_set(c, key, time_format(ms, t, sizeof(t)));
}

static void set_int(struct cutover *c, const char *key, int64_t v)
{
    char t[32];
    snprintf(t, sizeof(t), "%lld", (long long)v);
    cutover_set(c, key, t);
}

void cutover_begin(struct cutover *c, int64_t now)
{
    if (!cutover_was_started(c))
        set_time(c, "cutoverStartedAt", now);
    set_time(c, "cutoverLastAttemptStartedAt", now);
    set_int(c, "totalSteps", (int64_t)c->n_steps);
    cutover_set(c, "failedStep", "");
    cutover_set(c, "lastError", "");
    cutover_set(c, "cutoverComplete", "false");
    if (!*cutover_get(c, "registriesYamlActive"))
        cutover_set(c, "registriesYamlActive", "v1");
    if (!*cutover_get(c, "progressPercent"))
        set_int(c, "progressPercent", 0);
    if (!*cutover_get(c, "currentStepIndex"))
        set_int(c, "currentStepIndex", 0);
}

void cutover_step_start(struct cutover *c, size_t i, int64_t now, int64_t attempt_epoch,
                        int64_t hold_until)
{
    char k[256], v[320];
    cutover_set(c, "currentStep", c->steps[i]);
    set_int(c, "currentStepIndex", (int64_t)i);
    set_int(c, "progressPercent", c->n_steps ? (int64_t)(100 * i / c->n_steps) : 0);
    set_time(c, step_key(c, i, "startedAt", k, sizeof(k)), now);
    cutover_set(c, step_key(c, i, "finishedAt", k, sizeof(k)), NULL);
    cutover_set(c, step_key(c, i, "result", k, sizeof(k)), "running");
    snprintf(v, sizeof(v), "cutover-%s-%lld", c->steps[i], (long long)attempt_epoch);
    cutover_set(c, step_key(c, i, "jobName", k, sizeof(k)), v);
    if (hold_until > 0)
        set_time(c, step_key(c, i, "holdUntil", k, sizeof(k)), hold_until);
    else
        cutover_set(c, step_key(c, i, "holdUntil", k, sizeof(k)), NULL);
}

void cutover_step_finish(struct cutover *c, size_t i, bool ok, const char *error, int64_t now)
{
    char k[256];
    const char *name = c->steps[i];
    set_time(c, step_key(c, i, "finishedAt", k, sizeof(k)), now);
    cutover_set(c, step_key(c, i, "holdUntil", k, sizeof(k)), NULL);
    cutover_set(c, step_key(c, i, "result", k, sizeof(k)), ok ? "success" : "failed");
    if (!ok) {
        cutover_set(c, "currentStep", "");
        cutover_set(c, "failedStep", name);
        cutover_set(c, "lastError", error && *error ? error : "step failed");
        return;
    }
    /* The side facts upstream's engine records after these steps. */
    if (strcmp(name, "harbor-prewarm") == 0) {
        cutover_set(c, "registriesYamlActive", "v2");
    } else if (strcmp(name, "gitea-mirror") == 0) {
        char sha[41];
        id_hex(sha, 20);
        cutover_set(c, "mirroredCommitSHA", sha);
    } else if (strcmp(name, "harbor-projects") == 0) {
        cutover_set(c, "harborProjectCount", "7");
    }
}

void cutover_complete(struct cutover *c, int64_t now)
{
    cutover_set(c, "cutoverComplete", "true");
    set_time(c, "cutoverFinishedAt", now);
    cutover_set(c, "currentStep", "");
    set_int(c, "currentStepIndex", (int64_t)c->n_steps);
    set_int(c, "totalSteps", (int64_t)c->n_steps);
    set_int(c, "progressPercent", 100);
    cutover_set(c, "failedStep", "");
    cutover_set(c, "lastError", "");
}

static int64_t get_time(const struct cutover *c, const char *key)
{
    int64_t v = 0;
    if (time_parse(cutover_get(c, key), &v) != 0)
        return 0;
    return v;
}

static int get_int(const struct cutover *c, const char *key, int dflt)
{
    const char *s = cutover_get(c, key);
    if (!*s)
        return dflt;
    char *end;
    long v = strtol(s, &end, 10);
    return *end ? dflt : (int)v;
}

int cutover_fill(const struct cutover *c, bool running, struct arena *a,
                 struct cutover_status *out)
{
    out->available = true;
    out->state_present = true;
    out->complete = cutover_is_complete(c);
    out->state = out->complete ? SOV_SOVEREIGN : SOV_TETHERED;
    out->started_at = get_time(c, "cutoverStartedAt");
    out->finished_at = get_time(c, "cutoverFinishedAt");
    out->last_attempt_started_at = get_time(c, "cutoverLastAttemptStartedAt");
    out->running = running;
    out->current_step = arena_strdup(a, cutover_get(c, "currentStep"));
    out->current_step_index = get_int(c, "currentStepIndex", 0);
    out->total_steps = get_int(c, "totalSteps", 0);
    out->progress_percent = get_int(c, "progressPercent", 0);
    out->failed_step = arena_strdup(a, cutover_get(c, "failedStep"));
    out->last_error = arena_strdup(a, cutover_get(c, "lastError"));
    out->mirrored_commit_sha = arena_strdup(a, cutover_get(c, "mirroredCommitSHA"));
    out->harbor_project_count = get_int(c, "harborProjectCount", -1);
    out->settled_roll_overrides = arena_strdup(a, cutover_get(c, "settledRollOverrides"));
    out->egress_test_passed = -1;
    out->n_steps = c->n_steps;
    out->steps = arena_calloc(a, c->n_steps ? c->n_steps : 1, sizeof(*out->steps));
    out->n_raw = c->n;
    out->raw = arena_calloc(a, c->n ? c->n : 1, sizeof(*out->raw));
    if (!out->steps || !out->raw || !out->current_step || !out->failed_step ||
        !out->last_error || !out->mirrored_commit_sha || !out->settled_roll_overrides)
        return -1;
    for (size_t i = 0; i < c->n_steps; i++) {
        struct cutover_step *s = &out->steps[i];
        char k[256];
        s->name = arena_strdup(a, c->steps[i]);
        s->result = cutover_step_result(c, i);
        s->started_at = get_time(c, step_key(c, i, "startedAt", k, sizeof(k)));
        s->finished_at = get_time(c, step_key(c, i, "finishedAt", k, sizeof(k)));
        s->job_name = arena_strdup(a, cutover_get(c, step_key(c, i, "jobName", k, sizeof(k))));
        bool failed_here = s->result == STEP_FAILED &&
                           strcmp(cutover_get(c, "failedStep"), c->steps[i]) == 0;
        s->message = failed_here ? out->last_error : "";
        s->hold_until = s->result == STEP_RUNNING
                            ? get_time(c, step_key(c, i, "holdUntil", k, sizeof(k)))
                            : 0;
        s->hold_seconds = c->hold_ms[i] / 1000;
        if (!s->name || !s->job_name)
            return -1;
        if (strcmp(c->steps[i], "egress-block-test") == 0) {
            if (s->result == STEP_SUCCESS)
                out->egress_test_passed = 1;
            else if (s->result == STEP_FAILED)
                out->egress_test_passed = 0;
        }
    }
    for (size_t i = 0; i < c->n; i++) {
        out->raw[i].key = arena_strdup(a, c->map[i].key);
        out->raw[i].value = arena_strdup(a, c->map[i].value);
        if (!out->raw[i].key || !out->raw[i].value)
            return -1;
    }
    return 0;
}
