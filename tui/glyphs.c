/* glyphs: UTF-8 and ASCII glyph tables (see glyphs.h). */
#include "glyphs.h"

static const struct glyphs utf8_table = {
    .ascii = false,
    .status = {
        [JOB_PENDING] = 0x25CB,   /* ○ */
        [JOB_RUNNING] = 0x25D0,   /* ◐ */
        [JOB_SUCCEEDED] = 0x2713, /* ✓ */
        [JOB_FAILED] = 0x2717,    /* ✗ */
        [JOB_HEALTHY] = 0x25CF,   /* ● */
        [JOB_DEGRADED] = 0x25D2,  /* ◒ */
        [JOB_FAILING] = 0x25D3,   /* ◓ */
    },
    .blocked = 0x2298,            /* ⊘ */
    .step = {
        [STEP_PENDING] = 0x25CC,  /* ◌ dashed circle */
        [STEP_RUNNING] = 0x25D0,
        [STEP_SUCCESS] = 0x2713,
        [STEP_FAILED] = 0x2717,
        [STEP_SKIPPED] = 0x2713,
    },
    .spinner = {0x25D0, 0x25D3, 0x25D1, 0x25D2},
    .hline = 0x2500, .vline = 0x2502,
    .tl = 0x250C, .tr = 0x2510, .bl = 0x2514, .br = 0x2518,
    .ltee = 0x251C, .rtee = 0x2524, .ttee = 0x252C, .btee = 0x2534, .cross = 0x253C,
    .arrow_right = 0x2192, .arrow_left = 0x2190, .arrow_up = 0x2191, .arrow_down = 0x2193,
    .gauge_full = 0x2588, .gauge_empty = 0x2591,
    .eighths = {' ', 0x258F, 0x258E, 0x258D, 0x258C, 0x258B, 0x258A, 0x2589},
    .shade = 0x2591,
    .expanded = 0x25BE, .collapsed = 0x25B8, .leaf = 0x2022,
    .bullet = 0x2022, .selected = 0x25B6, .sovereign_mark = 0x265B, .tethered_mark = 0x26D3,
    .hold_mark = 0x25F7, /* ◷: one column wide, unlike ⏳ */
    .arrow = " \xE2\x86\x92 ",
    .dash = "\xE2\x80\x94",
    .ellipsis = "\xE2\x80\xA6",
    .middot = " \xC2\xB7 ",
    .tree_branch = "\xE2\x94\x9C\xE2\x94\x80 ",
    .tree_last = "\xE2\x94\x94\xE2\x94\x80 ",
    .tree_pipe = "\xE2\x94\x82  ",
    .tree_space = "   ",
};

static const struct glyphs ascii_table = {
    .ascii = true,
    .status = {
        [JOB_PENDING] = '.',
        [JOB_RUNNING] = '*',
        [JOB_SUCCEEDED] = '+',
        [JOB_FAILED] = 'x',
        [JOB_HEALTHY] = 'o',
        [JOB_DEGRADED] = '~',
        [JOB_FAILING] = '!',
    },
    .blocked = '-',
    .step = {
        [STEP_PENDING] = '.',
        [STEP_RUNNING] = '*',
        [STEP_SUCCESS] = '+',
        [STEP_FAILED] = 'x',
        [STEP_SKIPPED] = '+',
    },
    .spinner = {'|', '/', '-', '\\'},
    .hline = '-', .vline = '|',
    .tl = '+', .tr = '+', .bl = '+', .br = '+',
    .ltee = '+', .rtee = '+', .ttee = '+', .btee = '+', .cross = '+',
    .arrow_right = '>', .arrow_left = '<', .arrow_up = '^', .arrow_down = 'v',
    .gauge_full = '#', .gauge_empty = '=',
    .eighths = {' ', ' ', ' ', ' ', '#', '#', '#', '#'},
    .shade = '.',
    .expanded = 'v', .collapsed = '>', .leaf = '-',
    .bullet = '*', .selected = '>', .sovereign_mark = '*', .tethered_mark = '~',
    .hold_mark = '@',
    .arrow = " -> ",
    .dash = "-",
    .ellipsis = "...",
    .middot = " | ",
    .tree_branch = "|- ",
    .tree_last = "`- ",
    .tree_pipe = "|  ",
    .tree_space = "   ",
};

const struct glyphs *glyphs_get(bool ascii) { return ascii ? &ascii_table : &utf8_table; }

uint32_t glyphs_job(const struct glyphs *g, enum job_status s, bool blocked)
{
    if (blocked)
        return g->blocked;
    if ((unsigned)s >= JOB_STATUS_COUNT)
        return '?';
    return g->status[s];
}

uint32_t glyphs_spinner(const struct glyphs *g, int64_t tick)
{
    if (tick < 0)
        tick = -tick;
    return g->spinner[tick % GLYPH_SPINNER_FRAMES];
}
