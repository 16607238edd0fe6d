/* test_sse: the incremental SSE parser on split feeds, CRLF, named and oversized frames. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sse.h"

struct got {
    char event[8][64];
    char data[8][256];
    int n;
    int stop_after;
};

static int collect(void *ctx, const char *event, const char *data, size_t len)
{
    struct got *g = ctx;
    cr_assert_eq(strlen(data), len);
    if (g->n < 8) {
        snprintf(g->event[g->n], sizeof(g->event[0]), "%s", event);
        snprintf(g->data[g->n], sizeof(g->data[0]), "%s", data);
    }
    g->n++;
    return g->stop_after && g->n >= g->stop_after;
}

static void feed_bytewise(struct sse_parser *p, const char *s, struct got *g)
{
    struct error err;
    for (size_t i = 0; s[i]; i++)
        cr_assert_eq(sse_feed(p, s + i, 1, collect, g, &err), 0);
}

Test(sse, frames_split_across_feeds)
{
    struct sse_parser *p = sse_parser_new(0);
    struct got g = {0};
    const char *s = "data: {\"phase\":\"tofu-init\"}\n\ndata: second\n\n";
    feed_bytewise(p, s, &g);
    cr_assert_eq(g.n, 2);
    cr_assert_str_eq(g.event[0], "");
    cr_assert_str_eq(g.data[0], "{\"phase\":\"tofu-init\"}");
    cr_assert_str_eq(g.data[1], "second");
    cr_assert_eq(sse_frames(p), 2);
    sse_parser_free(p);
}

Test(sse, multi_line_data_named_events_and_ignored_fields)
{
    struct sse_parser *p = sse_parser_new(0);
    struct got g = {0};
    struct error err;
    const char *s = ": a comment\nid: 7\nretry: 100\nevent: done\ndata: a\ndata:b\ndata\n\n"
                    "event: handover-ready\ndata: {}\n\n";
    cr_assert_eq(sse_feed(p, s, strlen(s), collect, &g, &err), 0);
    cr_assert_eq(g.n, 2);
    cr_assert_str_eq(g.event[0], "done");
    cr_assert_str_eq(g.data[0], "a\nb\n");
    cr_assert_str_eq(g.event[1], "handover-ready");
    cr_assert_str_eq(g.data[1], "{}");
    sse_parser_free(p);
}

Test(sse, crlf_and_cr_line_endings_even_split)
{
    struct sse_parser *p = sse_parser_new(0);
    struct got g = {0};
    feed_bytewise(p, "event: x\r\ndata: 1\r\n\r\ndata: 2\r\rdata: 3\n\n", &g);
    cr_assert_eq(g.n, 3);
    cr_assert_str_eq(g.event[0], "x");
    cr_assert_str_eq(g.data[0], "1");
    cr_assert_str_eq(g.event[1], "", "the event name must not leak into the next frame");
    cr_assert_str_eq(g.data[1], "2");
    cr_assert_str_eq(g.data[2], "3");
    sse_parser_free(p);
}

Test(sse, event_without_data_is_not_dispatched)
{
    struct sse_parser *p = sse_parser_new(0);
    struct got g = {0};
    feed_bytewise(p, "event: ping\n\ndata: y\n\n", &g);
    cr_assert_eq(g.n, 1);
    cr_assert_str_eq(g.event[0], "");
    cr_assert_str_eq(g.data[0], "y");
    sse_parser_free(p);
}

Test(sse, oversized_frame_rejected_then_parsing_resumes)
{
    struct sse_parser *p = sse_parser_new(1024);
    struct got g = {0};
    struct error err;
    char *big = malloc(4096);
    memset(big, 'x', 4096);
    cr_assert_eq(sse_feed(p, "data: ", 6, collect, &g, &err), 0);
    int rc = sse_feed(p, big, 4096, collect, &g, &err);
    cr_assert_eq(rc, -1);
    cr_assert(strstr(err.msg, "exceeded") != NULL, "%s", err.msg);
    /* Still inside the dropped frame: more bytes are skipped, no growth, no frame. */
    cr_assert_eq(sse_feed(p, big, 100, collect, &g, &err), 0);
    const char *tail = "\n\ndata: ok\n\n";
    cr_assert_eq(sse_feed(p, tail, strlen(tail), collect, &g, &err), 0);
    cr_assert_eq(g.n, 1);
    cr_assert_str_eq(g.data[0], "ok");
    free(big);
    sse_parser_free(p);
}

/* The dropped frame ends at its blank line, not at the end of the line that overflowed. */
Test(sse, oversized_multi_line_frame_is_dropped_whole)
{
    struct sse_parser *p = sse_parser_new(64);
    struct got g = {0};
    struct error err;
    char big[200];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    char frame[400];
    snprintf(frame, sizeof(frame), "data: %s\ndata: tail of the big frame\n\n", big);
    cr_assert_eq(sse_feed(p, frame, strlen(frame), collect, &g, &err), -1);
    cr_assert_eq(g.n, 0, "a fragment of the dropped frame was delivered: %s", g.data[0]);
    const char *next = "data: ok\n\n";
    cr_assert_eq(sse_feed(p, next, strlen(next), collect, &g, &err), 0);
    cr_assert_eq(g.n, 1);
    cr_assert_str_eq(g.data[0], "ok");
    sse_parser_free(p);
}

Test(sse, callback_can_stop_and_reset_forgets_partial)
{
    struct sse_parser *p = sse_parser_new(0);
    struct got g = {.stop_after = 1};
    struct error err;
    const char *s = "data: 1\n\ndata: 2\n\n";
    cr_assert_eq(sse_feed(p, s, strlen(s), collect, &g, &err), 1);
    cr_assert_eq(g.n, 1);
    sse_parser_reset(p);
    g.stop_after = 0;
    cr_assert_eq(sse_feed(p, "data: part", 10, collect, &g, &err), 0);
    sse_parser_reset(p);
    cr_assert_eq(sse_feed(p, "\n\ndata: 3\n\n", 11, collect, &g, &err), 0);
    cr_assert_eq(g.n, 2);
    cr_assert_str_eq(g.data[1], "3");
    sse_parser_free(p);
}
