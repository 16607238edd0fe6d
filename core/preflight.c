/* preflight: the cutover readiness checklist (see preflight.h). */
#include "preflight.h"

#include "snapshot.h"

#include <stdio.h>
#include <string.h>

#define STEP_PREFIX "cutover-step-"
#define MAX_SLUGS 16

/*
 * Which components each canonical cutover step (DOMAIN §4) works on. Unknown
 * step names touch nothing we can check; the list is data, not a contract.
 */
static const struct {
    const char *step;
    const char *slugs[4];
} step_components[] = {
    {"gitea-mirror", {"gitea"}},
    {"harbor-projects", {"harbor"}},
    {"harbor-prewarm", {"harbor"}},
    {"registry-pivot", {"harbor", "dragonfly"}},
    {"flux-gitrepository-patch", {"flux", "gitea"}},
    {"helmrepository-patches", {"flux", "harbor"}},
    {"helmrepo-patches", {"flux", "harbor"}},
    {"catalyst-api-env-patch", {"catalyst-platform", "gitea"}},
    {"egress-block-test", {"flux"}},
    {"gitea-token-mint", {"gitea"}},
    {"vcluster-registry-pivot", {"harbor", "vcluster"}},
    {"crossplane-provider-pivot", {"crossplane", "harbor"}},
};

/* ---------------------------------------------------------------- text */

/* Bounded list text: items until the buffer is nearly full, then "and N more". */
struct list {
    char buf[PREFLIGHT_DETAIL_MAX - 60]; /* leaves room for the check's own words */
    size_t len;
    int shown, more;
};

/* Room kept for the ", and 99999 more" tail. */
#define LIST_TAIL 20

static void list_add(struct list *l, const char *sep, const char *fmt_a, const char *a,
                     const char *b)
{
    if (l->more) {
        l->more++;
        return;
    }
    char item[PREFLIGHT_DETAIL_MAX * 2];
    int k = b ? snprintf(item, sizeof(item), fmt_a, a, b) : snprintf(item, sizeof(item), "%s", a);
    size_t need = (size_t)(k > 0 ? k : 0) + (l->shown ? strlen(sep) : 0);
    if (l->more || l->len + need + LIST_TAIL >= sizeof(l->buf)) {
        l->more++;
        return;
    }
    l->len += (size_t)snprintf(l->buf + l->len, sizeof(l->buf) - l->len, "%s%s",
                               l->shown ? sep : "", item);
    l->shown++;
}

static const char *list_text(struct list *l);
static bool list_full(const struct list *l) { return l->more > 0; }

/* The list of `total` items, of which those not shown become "and N more". */
static const char *list_total(struct list *l, size_t total)
{
    if ((size_t)l->shown < total)
        l->more = (int)(total - (size_t)l->shown);
    return list_text(l);
}

static const char *list_text(struct list *l)
{
    if (l->more)
        snprintf(l->buf + l->len, sizeof(l->buf) - l->len, ", and %d more", l->more);
    return l->buf;
}

/* Copies src into dst (n bytes), cutting on a UTF-8 boundary. */
static void copy_cut(char *dst, size_t n, const char *src)
{
    if (!n)
        return;
    size_t len = src ? strlen(src) : 0;
    if (len >= n) {
        len = n - 1;
        while (len > 0 && ((unsigned char)src[len] & 0xc0) == 0x80)
            len--;
    }
    if (len)
        memcpy(dst, src, len);
    dst[len] = '\0';
}

void preflight_check_set(struct preflight_check *c, const char *id, const char *title, bool ok,
                         const char *detail)
{
    copy_cut(c->id, sizeof(c->id), id);
    copy_cut(c->title, sizeof(c->title), title);
    copy_cut(c->detail, sizeof(c->detail), detail);
    c->ok = ok;
}

/* ---------------------------------------------------------------- jobs */

static bool status_ok(enum job_status st) { return st == JOB_SUCCEEDED || st == JOB_HEALTHY; }

/* Rank for listing: the most telling statuses first. */
static int status_rank(enum job_status st)
{
    switch (st) {
    case JOB_FAILED:
    case JOB_FAILING:
        return 0;
    case JOB_RUNNING:
    case JOB_DEGRADED:
        return 1;
    default:
        return 2;
    }
}

static const char *safe(const char *s) { return s ? s : ""; }

static int32_t find_group(const struct snapshot *s, const char *name)
{
    int32_t found = -1;
    for (size_t i = 0; i < s->n_jobs; i++) {
        const struct job *j = &s->jobs[i];
        if (!j->is_group || strcmp(safe(j->job_name), name) != 0)
            continue;
        if (!*safe(j->parent_id))
            return (int32_t)i; /* a top-level group wins over a nested namesake */
        if (found < 0)
            found = (int32_t)i;
    }
    return found;
}

/* Job i sits (at any depth) under group g. */
static bool under(const struct snapshot *s, size_t i, int32_t g)
{
    if (g < 0)
        return false;
    if (s->parent) {
        int32_t p = s->parent[i];
        for (int hops = 0; p >= 0 && hops < 64; hops++, p = s->parent[p])
            if (p == g)
                return true;
        return false;
    }
    return strcmp(safe(s->jobs[i].parent_id), safe(s->jobs[g].id)) == 0;
}

static bool in_cutover(const struct snapshot *s, size_t i, int32_t cg)
{
    return strncmp(safe(s->jobs[i].job_name), STEP_PREFIX, strlen(STEP_PREFIX)) == 0 ||
           under(s, i, cg);
}

/* Leaves that never finish by design: their health is not a provisioning outcome. */
static bool recurring(const struct job *j)
{
    return j->kind == KIND_CRON || j->kind == KIND_RECONCILER;
}

/* ---------------------------------------------------------------- checks */

static void check_handover(const struct snapshot *s, int32_t hg, struct preflight_check *c)
{
    const char *title = "Handover finished";
    size_t leaves = 0, bad = 0;
    struct list l = {0};
    for (size_t i = 0; hg >= 0 && i < s->n_jobs; i++)
        if (!s->jobs[i].is_group && under(s, i, hg)) {
            leaves++;
            bad += !status_ok(s->jobs[i].status);
        }
    /* The most telling first; stop once the list is full (the total is known). */
    for (int rank = 0; bad && rank < 3 && !list_full(&l); rank++)
        for (size_t i = 0; i < s->n_jobs && !list_full(&l); i++) {
            const struct job *j = &s->jobs[i];
            if (j->is_group || status_ok(j->status) || status_rank(j->status) != rank ||
                !under(s, i, hg))
                continue;
            list_add(&l, ", ", "%s (%s)", safe(j->job_name), job_status_name(j->status));
        }
    bool fired = s->has_deployment && s->deployment.handover_fired_at > 0;
    char d[PREFLIGHT_DETAIL_MAX * 3]; /* cut to fit by preflight_check_set */
    if (leaves) {
        if (bad)
            snprintf(d, sizeof(d), "%zu of %zu handover step%s not succeeded: %s", bad, leaves,
                     leaves == 1 ? "" : "s", list_total(&l, bad));
        else
            snprintf(d, sizeof(d), "%zu handover step%s succeeded", leaves,
                     leaves == 1 ? "" : "s");
        preflight_check_set(c, "handover-complete", title, bad == 0, d);
    } else if (fired) {
        preflight_check_set(c, "handover-complete", title, true, "handover fired");
    } else if (hg >= 0) {
        bool ok = s->jobs[hg].status == JOB_SUCCEEDED;
        snprintf(d, sizeof(d), "the handover group is %s and handover has not fired",
                 job_status_name(s->jobs[hg].status));
        preflight_check_set(c, "handover-complete", title, ok, ok ? "handover group succeeded"
                                                                   : d);
    } else {
        preflight_check_set(c, "handover-complete", title, true,
                            "no handover in this Sovereign (the jobs check covers it)");
    }
}

static void check_jobs(const struct snapshot *s, int32_t cg, struct preflight_check *c)
{
    size_t total = 0, bad = 0;
    struct list l = {0};
    for (size_t i = 0; i < s->n_jobs; i++) {
        const struct job *j = &s->jobs[i];
        if (j->is_group || recurring(j) || in_cutover(s, i, cg))
            continue;
        total++;
        bad += !status_ok(j->status);
    }
    for (int rank = 0; bad && rank < 3 && !list_full(&l); rank++)
        for (size_t i = 0; i < s->n_jobs && !list_full(&l); i++) {
            const struct job *j = &s->jobs[i];
            if (j->is_group || status_ok(j->status) || status_rank(j->status) != rank ||
                recurring(j) || in_cutover(s, i, cg))
                continue;
            list_add(&l, ", ", "%s (%s)", safe(j->job_name), job_status_name(j->status));
        }
    char d[PREFLIGHT_DETAIL_MAX * 3]; /* cut to fit by preflight_check_set */
    if (bad)
        snprintf(d, sizeof(d), "%zu job%s not succeeded: %s", bad, bad == 1 ? "" : "s",
                 list_total(&l, bad));
    else if (total == 1)
        snprintf(d, sizeof(d), "the one job succeeded");
    else if (total)
        snprintf(d, sizeof(d), "all %zu jobs succeeded", total);
    else
        snprintf(d, sizeof(d), "no jobs outside the cutover");
    preflight_check_set(c, "jobs-succeeded", "Every job outside the cutover succeeded", bad == 0,
                        d);
}

static bool slug_add(const char **slugs, size_t *n, const char *slug)
{
    for (size_t k = 0; k < *n; k++)
        if (strcmp(slugs[k], slug) == 0)
            return false;
    if (*n < MAX_SLUGS)
        slugs[(*n)++] = slug;
    return true;
}

static void step_slugs(const char *step, const char **slugs, size_t *n)
{
    for (size_t k = 0; k < sizeof(step_components) / sizeof(step_components[0]); k++) {
        if (strcmp(step_components[k].step, step) != 0)
            continue;
        for (size_t m = 0; m < 4 && step_components[k].slugs[m]; m++)
            slug_add(slugs, n, step_components[k].slugs[m]);
    }
}

/*
 * Which of the slugs job j installs (-1: none): its appId is the slug or
 * "<region>:slug", or its name is install-<slug>.
 */
static int installs(const struct job *j, const char *const *slugs, size_t n)
{
    const char *app = safe(j->app_id);
    const char *colon = strrchr(app, ':');
    if (colon)
        app = colon + 1;
    const char *name = safe(j->job_name);
    name = strncmp(name, "install-", 8) == 0 ? name + 8 : NULL;
    if (!*app && !name)
        return -1;
    for (size_t k = 0; k < n; k++)
        if (strcmp(app, slugs[k]) == 0 || (name && strcmp(name, slugs[k]) == 0))
            return (int)k;
    return -1;
}

static void check_components(const struct snapshot *s, int32_t cg, struct preflight_check *c)
{
    const char *slugs[MAX_SLUGS];
    size_t n = 0;
    const struct cutover_status *cs = &s->cutover;
    for (size_t k = 0; k < cs->n_steps; k++)
        step_slugs(safe(cs->steps[k].name), slugs, &n);
    for (size_t i = 0; i < s->n_jobs; i++) {
        const char *name = safe(s->jobs[i].job_name);
        if (!s->jobs[i].is_group && strncmp(name, STEP_PREFIX, strlen(STEP_PREFIX)) == 0)
            step_slugs(name + strlen(STEP_PREFIX), slugs, &n);
    }
    const char *title = "Components the cutover touches are installed";
    if (!n) {
        preflight_check_set(c, "components-installed", title, true,
                            "no known cutover step touches a component");
        return;
    }
    /* One pass: per slug, whether a job installs it and its least finished one. */
    int32_t worst_of[MAX_SLUGS];
    bool seen_of[MAX_SLUGS] = {false};
    for (size_t k = 0; k < n; k++)
        worst_of[k] = -1;
    for (size_t i = 0; i < s->n_jobs; i++) {
        const struct job *j = &s->jobs[i];
        /* A mutation's appId is the resource kind it changes, not a component. */
        int k = j->is_group || j->kind == KIND_MUTATION ? -1 : installs(j, slugs, n);
        if (k < 0 || in_cutover(s, i, cg))
            continue;
        seen_of[k] = true;
        int32_t w = worst_of[k];
        if (!status_ok(j->status) &&
            (w < 0 || status_rank(j->status) < status_rank(s->jobs[w].status)))
            worst_of[k] = (int32_t)i;
    }
    struct list missing = {0}, absent = {0}, fine = {0};
    for (size_t k = 0; k < n; k++) {
        int32_t worst = worst_of[k];
        if (!seen_of[k]) {
            list_add(&absent, ", ", "%s", slugs[k], NULL);
        } else if (worst >= 0) {
            char what[PREFLIGHT_DETAIL_MAX];
            snprintf(what, sizeof(what), "%s %s", safe(s->jobs[worst].job_name),
                     job_status_name(s->jobs[worst].status));
            list_add(&missing, ", ", "%s (%s)", slugs[k], what);
        } else {
            list_add(&fine, ", ", "%s", slugs[k], NULL);
        }
    }
    char d[PREFLIGHT_DETAIL_MAX * 3]; /* cut to fit by preflight_check_set */
    bool ok = missing.shown == 0 && missing.more == 0;
    /* The missing ones first: they are what the operator must act on. */
    struct list *head = ok ? &fine : &missing;
    const char *head_words = ok ? "installed: " : "not installed: ";
    if (!head->shown && !head->more)
        head_words = "";
    const char *tail = absent.shown || absent.more ? list_text(&absent) : "";
    snprintf(d, sizeof(d), "%s%s%s%s", head_words, head->shown || head->more ? list_text(head)
                                                                              : "",
             *tail ? (*head_words ? "; not in this Sovereign: " : "not in this Sovereign: ")
                   : "",
             tail);
    preflight_check_set(c, "components-installed", title, ok, d);
}

static void check_idle(const struct snapshot *s, int32_t cg, struct preflight_check *c)
{
    const struct cutover_status *cs = &s->cutover;
    const char *step = "";
    bool running = cs->running;
    for (size_t k = 0; k < cs->n_steps; k++)
        if (cs->steps[k].result == STEP_RUNNING) {
            running = true;
            step = safe(cs->steps[k].name);
            break;
        }
    for (size_t i = 0; !*step && i < s->n_jobs; i++)
        if (!s->jobs[i].is_group && s->jobs[i].status == JOB_RUNNING && in_cutover(s, i, cg)) {
            running = true;
            step = safe(s->jobs[i].job_name);
        }
    char d[PREFLIGHT_DETAIL_MAX * 3]; /* cut to fit by preflight_check_set */
    if (running && *step)
        snprintf(d, sizeof(d), "a cutover is running (step %s)", step);
    else if (running)
        snprintf(d, sizeof(d), "a cutover is running");
    else if (cs->complete || cs->state == SOV_SOVEREIGN)
        snprintf(d, sizeof(d), "the cutover is complete");
    else
        snprintf(d, sizeof(d), "no cutover run in progress");
    preflight_check_set(c, "cutover-idle", "No cutover running", !running, d);
}

void preflight_compute(const struct snapshot *s, struct preflight *out)
{
    memset(out, 0, sizeof(*out));
    if (!s) {
        static const char *const ids[] = {"handover-complete", "jobs-succeeded",
                                          "components-installed", "cutover-idle"};
        static const char *const titles[] = {"Handover finished",
                                             "Every job outside the cutover succeeded",
                                             "Components the cutover touches are installed",
                                             "No cutover running"};
        for (size_t k = 0; k < 4; k++)
            preflight_check_set(&out->checks[k], ids[k], titles[k], false, "no data yet");
        out->n_checks = out->n_failing = 4;
        return;
    }
    int32_t cg = find_group(s, "cutover");
    int32_t hg = find_group(s, "handover");
    check_handover(s, hg, &out->checks[0]);
    check_jobs(s, cg, &out->checks[1]);
    check_components(s, cg, &out->checks[2]);
    check_idle(s, cg, &out->checks[3]);
    out->n_checks = 4;
    for (size_t k = 0; k < out->n_checks; k++)
        out->n_failing += !out->checks[k].ok;
    out->ready = out->n_failing == 0;
}

void preflight_summary(const struct preflight *p, char *buf, size_t n)
{
    if (!n)
        return;
    buf[0] = '\0';
    if (p->n_failing == 0)
        return;
    char tmp[2048];
    size_t len = (size_t)snprintf(tmp, sizeof(tmp), "%zu of %zu preflight check%s fail%s: ",
                                  p->n_failing, p->n_checks, p->n_checks == 1 ? "" : "s",
                                  p->n_failing == 1 ? "s" : "");
    bool first = true;
    for (size_t k = 0; k < p->n_checks && len < sizeof(tmp); k++) {
        const struct preflight_check *c = &p->checks[k];
        if (c->ok)
            continue;
        len += (size_t)snprintf(tmp + len, sizeof(tmp) - len, "%s%s: %s", first ? "" : "; ",
                                c->title, c->detail);
        first = false;
    }
    if (strlen(tmp) < n) {
        memcpy(buf, tmp, strlen(tmp) + 1);
        return;
    }
    if (n < 4) {
        copy_cut(buf, n, "");
        return;
    }
    copy_cut(buf, n - 3, tmp);
    strcat(buf, "...");
}
