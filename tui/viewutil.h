/*
 * viewutil: helpers shared by the view models: status to role/glyph/word,
 * job labels, relative times and countdowns, gauges, boxes, list scrolling
 * and the navigation keys every list view understands. No curses calls.
 *
 * Also declares the view_ops of each view, for the registry in views.c.
 * Threading: UI thread only. Ownership: helpers write into caller buffers.
 */
#ifndef CATALYST_VIEWUTIL_H
#define CATALYST_VIEWUTIL_H

#include "canvas.h"
#include "glyphs.h"
#include "snapshot.h"
#include "view.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

extern const struct view_ops view_dashboard_ops;
extern const struct view_ops view_jobs_ops;
extern const struct view_ops view_dag_ops;
extern const struct view_ops view_timeline_ops;
extern const struct view_ops view_tree_ops;
extern const struct view_ops view_cutover_ops;
extern const struct view_ops view_job_ops;
extern const struct view_ops view_picker_ops;

/* Role of a job status (ROLE_PENDING ... ROLE_FAILED). */
enum role vu_status_role(enum job_status s);
/* Role, glyph and word of job i, "blocked" taking precedence over failed. */
bool vu_job_blocked(const struct snapshot *s, size_t i);
enum role vu_job_role(const struct snapshot *s, size_t i);
uint32_t vu_job_glyph(const struct glyphs *g, const struct snapshot *s, size_t i);
const char *vu_job_word(const struct snapshot *s, size_t i);
/* Display name when set, else jobName. */
const char *vu_job_label(const struct job *j);
/* jobName of job i's parent group, "" at top level. */
const char *vu_job_group(const struct snapshot *s, size_t i);
/* Elapsed ms: duration for finished jobs, now - start while running, -1 unknown. */
int64_t vu_job_elapsed(const struct job *j, int64_t now_ms);
/* Role of a cutover step result, and of an application status word. */
enum role vu_step_role(enum step_result r);
enum role vu_word_role(const char *status);
enum role vu_level_role(enum log_level l);

/*
 * Saturating time arithmetic: a + b and to - from clamped to the int64 range.
 * Times read from disk or a clock are not range-checked like the wire's, so
 * every difference a view shows goes through these.
 */
int64_t vu_sat_add(int64_t a, int64_t b);
int64_t vu_span(int64_t from, int64_t to);

/* "just now", "12s ago", "3m ago", "2h ago", "4d ago"; dash for t == 0. */
char *vu_ago(int64_t now_ms, int64_t t_ms, const struct glyphs *g, char *buf, size_t n);
/* "mm:ss" (or "h:mm:ss" beyond an hour) of a non-negative ms count. */
char *vu_countdown(int64_t ms, char *buf, size_t n);
/* "HH:MM:SS.mmm" UTC. */
char *vu_hms_ms(int64_t ms, char *buf, size_t n);
/* Duration, or dash when ms < 0. */
char *vu_duration(int64_t ms, const struct glyphs *g, char *buf, size_t n);

/* A horizontal gauge of w cells at (y, x): done/total filled, in eighths when UTF-8. */
void vu_gauge(struct canvas *c, const struct glyphs *g, int y, int x, int w, int64_t done,
              int64_t total, enum role fill);
/* A box outline with an optional title on the top edge. */
void vu_box(struct canvas *c, const struct glyphs *g, int y, int x, int h, int w,
            const char *title, enum role role);
/* A horizontal rule with a title: "── Title ──────". */
void vu_rule(struct canvas *c, const struct glyphs *g, int y, int x, int w, const char *title);

/*
 * List navigation: j/k/arrows/PgUp/PgDn/g/G/Home/End over n rows with a page
 * of `page` rows. Returns true when ch was a navigation key (*sel updated).
 */
bool vu_nav_key(int ch, int *sel, int n, int page);
/* Rows a page key moves in a window of `rows` rows: one less, so a line stays in view. */
int vu_page_step(int rows);
/*
 * Scrolling a window of `rows` rows over `content` rows with the navigation
 * keys: *top stays within [0, content - rows]. True when ch was one of them.
 */
bool vu_scroll_key(int ch, int *top, int content, int rows);
/* Keep sel visible in a window of `rows` rows starting at *top. */
void vu_scroll_to(int *top, int sel, int rows, int n);
/* Case-insensitive substring test. */
bool vu_contains(const char *hay, const char *needle);

/*
 * Timeline ticks (DOMAIN §5): the smallest "nice" step (1 s, 10 s, 30 s, 1 m,
 * 5 m, 15 m, 1 h, then whole hours) that puts ticks at least min_cols columns
 * apart at ms_per_col milliseconds per column.
 */
int64_t vu_nice_tick(int64_t ms_per_col, int min_cols);

#endif
