/* sse: incremental text/event-stream parser (see sse.h). */
#include "sse.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct sse_parser {
    size_t max_frame;
    struct strbuf line;   /* the current, unfinished line */
    struct strbuf event;  /* event name of the current frame */
    struct strbuf data;   /* data of the current frame, lines joined with \n */
    bool has_data;
    bool after_cr;        /* the last byte was CR: a following LF is part of it */
    bool skipping;        /* dropping an oversized frame until its blank line */
    bool line_seen;       /* the current line had bytes (even skipped ones): not blank */
    size_t frames;
};

struct sse_parser *sse_parser_new(size_t max_frame)
{
    struct sse_parser *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->max_frame = max_frame ? max_frame : (size_t)1 << 20;
    sb_init(&p->line);
    sb_init(&p->event);
    sb_init(&p->data);
    return p;
}

void sse_parser_free(struct sse_parser *p)
{
    if (!p)
        return;
    sb_fini(&p->line);
    sb_fini(&p->event);
    sb_fini(&p->data);
    free(p);
}

static void frame_clear(struct sse_parser *p)
{
    sb_reset(&p->event);
    sb_reset(&p->data);
    p->has_data = false;
}

void sse_parser_reset(struct sse_parser *p)
{
    sb_reset(&p->line);
    frame_clear(p);
    p->after_cr = p->skipping = p->line_seen = false;
}

size_t sse_frames(const struct sse_parser *p) { return p->frames; }

static size_t frame_bytes(const struct sse_parser *p)
{
    return p->line.len + p->event.len + p->data.len;
}

/* One complete line. Returns 1 when the callback asked to stop. */
static int process_line(struct sse_parser *p, sse_frame_fn fn, void *ctx)
{
    const char *l = p->line.buf ? p->line.buf : "";
    size_t n = p->line.len;
    /*
     * While skipping, the line buffer stays empty: only a line that really had
     * no bytes ends the dropped frame, else its later lines would make a frame.
     */
    if (n == 0 && !p->line_seen) {
        int stop = 0;
        if (!p->skipping && p->has_data) {
            p->frames++;
            stop = fn(ctx, p->event.buf ? p->event.buf : "", p->data.buf ? p->data.buf : "",
                      p->data.len);
        }
        frame_clear(p);
        p->skipping = false;
        return stop ? 1 : 0;
    }
    if (p->skipping || l[0] == ':')
        return 0;
    const char *colon = memchr(l, ':', n);
    size_t name_len = colon ? (size_t)(colon - l) : n;
    const char *val = colon ? colon + 1 : l + n;
    size_t val_len = (size_t)(l + n - val);
    if (val_len && *val == ' ') {
        val++;
        val_len--;
    }
    if (name_len == 4 && memcmp(l, "data", 4) == 0) {
        if (p->has_data)
            sb_putc(&p->data, '\n');
        sb_append(&p->data, val, val_len);
        p->has_data = true;
    } else if (name_len == 5 && memcmp(l, "event", 5) == 0) {
        sb_reset(&p->event);
        sb_append(&p->event, val, val_len);
    }
    /* id, retry and unknown fields carry nothing we use. */
    return 0;
}

int sse_feed(struct sse_parser *p, const char *buf, size_t n, sse_frame_fn fn, void *ctx,
             struct error *err)
{
    bool overflow = false;
    for (size_t i = 0; i < n; i++) {
        char c = buf[i];
        if (p->after_cr) {
            p->after_cr = false;
            if (c == '\n')
                continue;
        }
        if (c == '\r' || c == '\n') {
            p->after_cr = c == '\r';
            int r = process_line(p, fn, ctx);
            sb_reset(&p->line);
            p->line_seen = false;
            if (r)
                return 1;
            continue;
        }
        p->line_seen = true;
        if (p->skipping)
            continue;
        /* Append the run of ordinary bytes in one go. */
        size_t j = i;
        while (j < n && buf[j] != '\r' && buf[j] != '\n')
            j++;
        sb_append(&p->line, buf + i, j - i);
        i = j - 1;
        if (frame_bytes(p) > p->max_frame || p->line.oom || p->data.oom || p->event.oom) {
            /* Free the partial frame now; the rest of it is skipped unread. */
            sb_fini(&p->line);
            sb_fini(&p->event);
            sb_fini(&p->data);
            p->has_data = false;
            p->skipping = true;
            overflow = true;
        }
    }
    if (overflow) {
        error_set(err, EXIT_API, "event stream: a frame exceeded %zu bytes and was dropped",
                  p->max_frame);
        return -1;
    }
    return 0;
}
