/* viewutil: helpers shared by the view models (see viewutil.h). */
#include "viewutil.h"

#include "util.h"

#include <curses.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

enum role vu_status_role(enum job_status s)
{
    switch (s) {
    case JOB_RUNNING:
        return ROLE_RUNNING;
    case JOB_SUCCEEDED:
    case JOB_HEALTHY:
        return ROLE_SUCCEEDED;
    case JOB_FAILED:
    case JOB_FAILING:
        return ROLE_FAILED;
    case JOB_DEGRADED:
        return ROLE_BLOCKED;
    default:
        return ROLE_PENDING;
    }
}

bool vu_job_blocked(const struct snapshot *s, size_t i)
{
    return s->blocked_by && i < s->n_jobs && s->blocked_by[i] >= 0;
}

enum role vu_job_role(const struct snapshot *s, size_t i)
{
    if (vu_job_blocked(s, i))
        return ROLE_BLOCKED;
    return vu_status_role(s->jobs[i].status);
}

uint32_t vu_job_glyph(const struct glyphs *g, const struct snapshot *s, size_t i)
{
    return glyphs_job(g, s->jobs[i].status, vu_job_blocked(s, i));
}

const char *vu_job_word(const struct snapshot *s, size_t i)
{
    if (vu_job_blocked(s, i))
        return "blocked";
    return job_status_name(s->jobs[i].status);
}

const char *vu_job_label(const struct job *j)
{
    return (j->display_name && *j->display_name) ? j->display_name : j->job_name;
}

const char *vu_job_group(const struct snapshot *s, size_t i)
{
    if (!s->parent || i >= s->n_jobs || s->parent[i] < 0)
        return "";
    return s->jobs[s->parent[i]].job_name;
}

int64_t vu_job_elapsed(const struct job *j, int64_t now_ms)
{
    if (j->status == JOB_RUNNING && j->started_at > 0)
        return now_ms > j->started_at ? vu_span(j->started_at, now_ms) : 0;
    if (j->finished_at > 0 && j->started_at > 0)
        return vu_span(j->started_at, j->finished_at);
    if (j->duration_ms > 0)
        return j->duration_ms;
    if (j->started_at > 0 && job_status_terminal(j->status))
        return 0;
    return -1;
}

enum role vu_step_role(enum step_result r)
{
    switch (r) {
    case STEP_RUNNING:
        return ROLE_RUNNING;
    case STEP_SUCCESS:
    case STEP_SKIPPED:
        return ROLE_SUCCEEDED;
    case STEP_FAILED:
        return ROLE_FAILED;
    default:
        return ROLE_PENDING;
    }
}

enum role vu_word_role(const char *w)
{
    if (!w || !*w)
        return ROLE_PENDING;
    int st = job_status_parse(w);
    if (st >= 0)
        return vu_status_role((enum job_status)st);
    static const struct {
        const char *word;
        enum role role;
    } words[] = {
        {"installed", ROLE_SUCCEEDED}, {"ready", ROLE_SUCCEEDED}, {"done", ROLE_SUCCEEDED},
        {"installing", ROLE_RUNNING},  {"updating", ROLE_RUNNING}, {"degraded", ROLE_BLOCKED},
        {"blocked", ROLE_BLOCKED},     {"error", ROLE_FAILED},     {"failing", ROLE_FAILED},
    };
    for (size_t k = 0; k < sizeof(words) / sizeof(words[0]); k++)
        if (strcasecmp(w, words[k].word) == 0)
            return words[k].role;
    return ROLE_PENDING;
}

enum role vu_level_role(enum log_level l)
{
    switch (l) {
    case LOG_DEBUG:
        return ROLE_LOG_DEBUG;
    case LOG_WARN:
        return ROLE_LOG_WARN;
    case LOG_ERROR:
        return ROLE_LOG_ERROR;
    default:
        return ROLE_LOG_INFO;
    }
}

int64_t vu_sat_add(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_add_overflow(a, b, &r))
        return b > 0 ? INT64_MAX : INT64_MIN;
    return r;
}

int64_t vu_span(int64_t from, int64_t to)
{
    int64_t r;
    if (__builtin_sub_overflow(to, from, &r))
        return from < 0 ? INT64_MAX : INT64_MIN;
    return r;
}

char *vu_ago(int64_t now_ms, int64_t t_ms, const struct glyphs *g, char *buf, size_t n)
{
    if (t_ms <= 0) {
        snprintf(buf, n, "%s", g->dash);
        return buf;
    }
    /* Seconds, at most INT64_MAX / 1000 either way: negating cannot overflow. */
    int64_t d = vu_span(t_ms, now_ms) / 1000;
    bool future = d < 0;
    if (future)
        d = -d;
    const char *unit = "s";
    int64_t v = d;
    if (d >= 86400) {
        v = d / 86400;
        unit = "d";
    } else if (d >= 3600) {
        v = d / 3600;
        unit = "h";
    } else if (d >= 60) {
        v = d / 60;
        unit = "m";
    }
    if (!future && d < 2)
        snprintf(buf, n, "just now");
    else if (future)
        snprintf(buf, n, "in %lld%s", (long long)v, unit);
    else
        snprintf(buf, n, "%lld%s ago", (long long)v, unit);
    return buf;
}

char *vu_countdown(int64_t ms, char *buf, size_t n)
{
    if (ms < 0)
        ms = 0;
    int64_t s = ms / 1000 + (ms % 1000 != 0);
    if (s >= 3600)
        snprintf(buf, n, "%lld:%02lld:%02lld", (long long)(s / 3600),
                 (long long)(s % 3600 / 60), (long long)(s % 60));
    else
        snprintf(buf, n, "%02lld:%02lld", (long long)(s / 60), (long long)(s % 60));
    return buf;
}

char *vu_hms_ms(int64_t ms, char *buf, size_t n)
{
    char hms[16];
    time_format_hms(ms, hms, sizeof(hms));
    int64_t frac = ms % 1000;
    if (frac < 0)
        frac += 1000;
    snprintf(buf, n, "%s.%03lld", hms, (long long)frac);
    return buf;
}

char *vu_duration(int64_t ms, const struct glyphs *g, char *buf, size_t n)
{
    if (ms < 0) {
        snprintf(buf, n, "%s", g->dash);
        return buf;
    }
    return duration_format(ms, buf, n);
}

void vu_gauge(struct canvas *c, const struct glyphs *g, int y, int x, int w, int64_t done,
              int64_t total, enum role fill)
{
    if (w <= 0)
        return;
    /* Eighths of a cell filled, rounded down so "full" means really done. */
    int64_t eighths = 0, scaled;
    if (total > 0 && done >= total)
        eighths = 8 * (int64_t)w;
    else if (total > 0 && !__builtin_mul_overflow(done, 8 * (int64_t)w, &scaled))
        eighths = scaled / total;
    else if (total > 0)
        eighths = (int64_t)((double)done * 8.0 * w / (double)total);
    if (eighths < 0)
        eighths = 0;
    if (eighths > 8 * (int64_t)w)
        eighths = 8 * (int64_t)w;
    for (int k = 0; k < w; k++) {
        int64_t cell = eighths - 8 * (int64_t)k;
        if (cell >= 8) {
            canvas_glyph(c, y, x + k, g->gauge_full, fill, 0);
        } else if (cell > 0 && !g->ascii) {
            canvas_glyph(c, y, x + k, g->eighths[cell], fill, 0);
        } else if (cell >= 4) {
            canvas_glyph(c, y, x + k, g->gauge_full, fill, 0);
        } else {
            canvas_glyph(c, y, x + k, g->gauge_empty, ROLE_GAUGE_EMPTY, 0);
        }
    }
}

void vu_box(struct canvas *c, const struct glyphs *g, int y, int x, int h, int w,
            const char *title, enum role role)
{
    if (h < 2 || w < 2)
        return;
    for (int k = 1; k < w - 1; k++) {
        canvas_glyph(c, y, x + k, g->hline, role, 0);
        canvas_glyph(c, y + h - 1, x + k, g->hline, role, 0);
    }
    for (int k = 1; k < h - 1; k++) {
        canvas_glyph(c, y + k, x, g->vline, role, 0);
        canvas_glyph(c, y + k, x + w - 1, g->vline, role, 0);
    }
    canvas_glyph(c, y, x, g->tl, role, 0);
    canvas_glyph(c, y, x + w - 1, g->tr, role, 0);
    canvas_glyph(c, y + h - 1, x, g->bl, role, 0);
    canvas_glyph(c, y + h - 1, x + w - 1, g->br, role, 0);
    if (title && *title && w > 6) {
        canvas_glyph(c, y, x + 1, ' ', role, 0);
        int n = canvas_text(c, y, x + 2, w - 5, title, ROLE_TITLE, ATTR_BOLD);
        canvas_glyph(c, y, x + 2 + n, ' ', role, 0);
    }
}

void vu_rule(struct canvas *c, const struct glyphs *g, int y, int x, int w, const char *title)
{
    if (w <= 0)
        return;
    for (int k = 0; k < w; k++)
        canvas_glyph(c, y, x + k, g->hline, ROLE_BORDER, 0);
    if (title && *title && w > 6) {
        canvas_glyph(c, y, x + 2, ' ', ROLE_BORDER, 0);
        int n = canvas_text(c, y, x + 3, w - 5, title, ROLE_TITLE, ATTR_BOLD);
        canvas_glyph(c, y, x + 3 + n, ' ', ROLE_BORDER, 0);
    }
}

bool vu_nav_key(int ch, int *sel, int n, int page)
{
    int s = *sel;
    if (page < 1)
        page = 1;
    switch (ch) {
    case 'j':
    case KEY_DOWN:
        s++;
        break;
    case 'k':
    case KEY_UP:
        s--;
        break;
    case KEY_NPAGE:
    case ' ':
        s += page;
        break;
    case KEY_PPAGE:
        s -= page;
        break;
    case 'g':
    case KEY_HOME:
        s = 0;
        break;
    case 'G':
    case KEY_END:
        s = n - 1;
        break;
    default:
        return false;
    }
    if (s >= n)
        s = n - 1;
    if (s < 0)
        s = 0;
    *sel = s;
    return true;
}

int vu_page_step(int rows) { return rows > 1 ? rows - 1 : 1; }

bool vu_scroll_key(int ch, int *top, int content, int rows)
{
    int max_top = content - rows;
    if (max_top < 0)
        max_top = 0;
    int line = *top;
    if (!vu_nav_key(ch, &line, max_top + 1, vu_page_step(rows)))
        return false;
    *top = line;
    return true;
}

void vu_scroll_to(int *top, int sel, int rows, int n)
{
    if (rows < 1)
        rows = 1;
    if (sel < *top)
        *top = sel;
    if (sel >= *top + rows)
        *top = sel - rows + 1;
    if (*top > n - rows)
        *top = n - rows;
    if (*top < 0)
        *top = 0;
}

bool vu_contains(const char *hay, const char *needle)
{
    if (!needle || !*needle)
        return true;
    if (!hay)
        return false;
    return strcasestr(hay, needle) != NULL;
}

int64_t vu_nice_tick(int64_t ms_per_col, int min_cols)
{
    static const int64_t nice[] = {1000, 10000, 30000, 60000, 300000, 900000, 3600000};
    if (ms_per_col < 1)
        ms_per_col = 1;
    if (min_cols < 1)
        min_cols = 1;
    int64_t need;
    if (__builtin_mul_overflow(ms_per_col, (int64_t)min_cols, &need))
        need = INT64_MAX;
    for (size_t k = 0; k < sizeof(nice) / sizeof(nice[0]); k++)
        if (nice[k] >= need)
            return nice[k];
    /* Whole hours, rounded up, but never past the largest whole hour an int64 holds. */
    int64_t hours = need / 3600000 + (need % 3600000 != 0);
    if (hours > INT64_MAX / 3600000)
        hours = INT64_MAX / 3600000;
    return hours * 3600000;
}
