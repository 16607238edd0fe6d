/*
 * glyphs: the two glyph tables (UTF-8 and ASCII), chosen once at start-up
 * from the locale and --ascii (htop's CRT_treeStrUtf8/CRT_treeStrAscii).
 * Views and the framework take every status mark, box-drawing piece, gauge
 * block and decorative string from here, so the ASCII ladder never lets a
 * byte >= 0x80 reach the screen.
 *
 * Ownership: the tables are static and immutable. Thread safety: read-only.
 */
#ifndef CATALYST_GLYPHS_H
#define CATALYST_GLYPHS_H

#include "model.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GLYPH_SPINNER_FRAMES 4

struct glyphs {
    bool ascii;
    /* job status marks, by enum job_status; blocked is separate */
    uint32_t status[JOB_STATUS_COUNT];
    uint32_t blocked;
    /* cutover step marks, by enum step_result */
    uint32_t step[STEP_RESULT_COUNT];
    uint32_t spinner[GLYPH_SPINNER_FRAMES];
    /* box drawing */
    uint32_t hline, vline;
    uint32_t tl, tr, bl, br;       /* corners ┌ ┐ └ ┘ */
    uint32_t ltee, rtee, ttee, btee, cross; /* ├ ┤ ┬ ┴ ┼ */
    /* arrows */
    uint32_t arrow_right, arrow_left, arrow_up, arrow_down;
    /* gauges: full block, empty shade, eighths[k] = k/8 filled (k 1..7; [0] blank) */
    uint32_t gauge_full, gauge_empty;
    uint32_t eighths[8];
    uint32_t shade;                /* pending placeholder ░ */
    /* tree */
    uint32_t expanded, collapsed, leaf;
    /* marks */
    uint32_t bullet, selected, sovereign_mark, tethered_mark, hold_mark;
    /* strings for text runs */
    const char *arrow;             /* " → " */
    const char *dash;              /* "—" */
    const char *ellipsis;          /* "…" */
    const char *middot;            /* " · " */
    const char *tree_branch;       /* "├─ " */
    const char *tree_last;         /* "└─ " */
    const char *tree_pipe;         /* "│  " */
    const char *tree_space;        /* "   " */
};

/* The table for the ladder; never NULL. */
const struct glyphs *glyphs_get(bool ascii);
/* Status mark for a job, blocked taking precedence. */
uint32_t glyphs_job(const struct glyphs *g, enum job_status s, bool blocked);
/* Spinner frame for a tick (e.g. seconds since epoch). */
uint32_t glyphs_spinner(const struct glyphs *g, int64_t tick);

#endif
