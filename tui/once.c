/* once: --once text renderings and wait's change lines (see once.h). */
#include "once.h"

#include "arena.h"
#include "canvas.h"
#include "sanitize.h"
#include "view.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Enough rows for every job plus the view's own chrome. */
static int rows_for(const struct snapshot *s, const char *name)
{
    int n = (int)s->n_jobs + (int)s->detail.n_lines + (int)s->n_executions + 40;
    for (size_t i = 0; i < s->n_orgs; i++)
        for (size_t k = 0; k < s->orgs[i].n_envs; k++)
            n += 2 + (int)s->orgs[i].envs[k].n_apps * 8;
    if (strcmp(name, "dashboard") == 0 || strcmp(name, "cutover") == 0)
        n = n < 80 ? n : 80;
    if (strcmp(name, "dag") == 0)
        n = n * 3 > 20000 ? 20000 : n * 3;
    return n > 20000 ? 20000 : n;
}

int once_render(const struct snapshot *s, const char *view, int width, bool ascii, FILE *out,
                struct error *err)
{
    const char *name = view && *view ? view : "dashboard";
    const char *arg = NULL;
    char namebuf[32];
    if (strncmp(name, "job:", 4) == 0) {
        arg = name + 4;
        snprintf(namebuf, sizeof(namebuf), "job");
        name = namebuf;
        if (snapshot_find_job(s, arg) < 0) {
            error_set(err, EXIT_USAGE, "no job named \"%s\"", arg);
            return -1;
        }
    }
    const struct view_ops *ops = view_by_name(name);
    if (!ops) {
        error_set(err, EXIT_USAGE,
                  "unknown view \"%s\" (dashboard, jobs, dag, timeline, tree, cutover, job:<name>)",
                  view);
        return -1;
    }
    if (width < 40)
        width = 40;
    if (width > 1000)
        width = 1000;
    int h = rows_for(s, name);
    struct canvas *c = canvas_new(width, h, ascii);
    void *state = ops->open(arg);
    if (!c || !state) {
        canvas_free(c);
        if (state)
            ops->close(state);
        error_set(err, EXIT_FAILED, "out of memory");
        return -1;
    }
    struct view_ctx ctx = {
        .now_ms = time_now_ms(), .ascii = ascii, .read_only = true, .once = true, .ui = NULL,
    };
    ops->model(state, s, &ctx, c);
    size_t cap = (size_t)width * 4 + 8;
    char *line = malloc(cap);
    if (!line) {
        ops->close(state);
        canvas_free(c);
        error_set(err, EXIT_FAILED, "out of memory");
        return -1;
    }
    int last = -1;
    for (int y = 0; y < h; y++) {
        canvas_row_text(c, y, line, cap);
        if (line[0])
            last = y;
    }
    for (int y = 0; y <= last; y++) {
        canvas_row_text(c, y, line, cap);
        fprintf(out, "%s\n", line);
    }
    free(line);
    ops->close(state);
    canvas_free(c);
    return 0;
}

/*
 * Server text made safe for a terminal line: names and messages come from
 * outside, so they pass the sanitizer like everything drawn on a canvas.
 */
static const char *clean(const char *s, char *buf, size_t n)
{
    sanitize_str(s ? s : "", false, ONCE_TEXT_COLS, buf, n);
    return buf;
}

void once_error(FILE *out, const char *msg)
{
    size_t len = msg ? strlen(msg) : 0;
    /* A sanitized byte takes at most 3 bytes (a control picture or U+FFFD). */
    size_t cap = 3 * len + 8;
    char *buf = malloc(cap);
    if (!buf) {
        fputs("catalyst-tui: out of memory\n", out);
        return;
    }
    sanitize_str(msg ? msg : "", false, -1, buf, cap);
    fprintf(out, "catalyst-tui: %s\n", buf);
    free(buf);
}

int once_changes(const struct snapshot *prev, const struct snapshot *cur, bool cutover, FILE *out)
{
    int lines = 0;
    char ts[40];
    char b1[ONCE_TEXT_COLS * 4 + 8], b2[ONCE_TEXT_COLS * 4 + 8];
    time_format(cur->source.fetched_at ? cur->source.fetched_at : time_now_ms(), ts, sizeof(ts));
    for (size_t i = 0; i < cur->n_jobs; i++) {
        const struct job *j = &cur->jobs[i];
        /* With the cutover's own lines below, its step jobs would say everything twice. */
        if (j->is_group || (cutover && j->kind == KIND_STEP &&
                            strncmp(j->job_name, "cutover-step-", 13) == 0))
            continue;
        int32_t p = prev ? snapshot_find_job(prev, j->id) : -1;
        if (p >= 0 && prev->jobs[p].status == j->status &&
            strcmp(prev->jobs[p].latest_execution_id, j->latest_execution_id) == 0)
            continue;
        if (p < 0 && j->status == JOB_PENDING)
            continue; /* nothing happened to it yet */
        const char *word = job_status_name(j->status);
        if (cur->blocked_by && cur->blocked_by[i] >= 0)
            fprintf(out, "%s  %-40s blocked by %s\n", ts, clean(j->job_name, b1, sizeof(b1)),
                    clean(cur->jobs[cur->blocked_by[i]].job_name, b2, sizeof(b2)));
        else
            fprintf(out, "%s  %-40s %s\n", ts, clean(j->job_name, b1, sizeof(b1)), word);
        lines++;
    }
    if (cutover) {
        const struct cutover_status *c = &cur->cutover, *pc = prev ? &prev->cutover : NULL;
        for (size_t i = 0; i < c->n_steps; i++) {
            const struct cutover_step *st = &c->steps[i];
            enum step_result before = STEP_PENDING;
            if (pc)
                for (size_t k = 0; k < pc->n_steps; k++)
                    if (strcmp(pc->steps[k].name, st->name) == 0)
                        before = pc->steps[k].result;
            if (st->result == before)
                continue;
            fprintf(out, "%s  cutover step %-27s %s%s%s\n", ts, clean(st->name, b1, sizeof(b1)),
                    st->result == STEP_PENDING ? "pending" : step_result_name(st->result),
                    st->message[0] ? ": " : "", clean(st->message, b2, sizeof(b2)));
            lines++;
        }
        if (!pc || pc->state != c->state || pc->complete != c->complete) {
            fprintf(out, "%s  sovereignty %s\n", ts, sov_state_name(c->state));
            lines++;
        }
    }
    fflush(out);
    return lines;
}

int once_flush(FILE *out, const char *name, struct error *err)
{
    int e = errno;
    if (fflush(out) != 0)
        e = errno;
    if (!ferror(out))
        return 0;
    error_set(err, EXIT_FAILED, "writing to %s: %s", name, strerror(e ? e : EIO));
    return -1;
}
