/*
 * fuzz_sse: the text/event-stream parser (core/sse.c). The first byte picks
 * a chunk size; the stream is fed whole and then in chunks of that size, and
 * both feeds must deliver the same frames (a digest of event and data), each
 * within the frame bound. A third feed stops at the first frame, resets and
 * goes on, as a reconnect does.
 */
#include "fuzz.h"
#include "sse.h"

#define MAX_FRAME 512

struct seen {
    size_t frames;
    uint64_t digest;
    int stop_after;    /* > 0: ask to stop after this many frames */
};

static uint64_t mix(uint64_t h, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211u;
    return (h ^ 0xff) * 1099511628211u;
}

static int on_frame(void *ctx, const char *event, const char *data, size_t len)
{
    struct seen *s = ctx;
    size_t elen = strlen(event);
    FUZZ_CHECK(data[len] == 0);
    FUZZ_CHECK(elen + len <= MAX_FRAME);
    FUZZ_CHECK(!memchr(event, '\n', elen) && !memchr(event, '\r', elen));
    FUZZ_CHECK(!memchr(data, '\r', len));
    s->frames++;
    s->digest = mix(mix(s->digest, event, elen), data, len);
    return s->stop_after > 0 && (int)s->frames >= s->stop_after;
}

/* Feeds buf in pieces of `chunk` bytes; returns whether a frame overflowed. */
static int feed(struct sse_parser *p, const char *buf, size_t n, size_t chunk, struct seen *s)
{
    int overflow = 0;
    for (size_t off = 0; off < n;) {
        size_t k = n - off < chunk ? n - off : chunk;
        struct error err;
        error_clear(&err);
        int rc = sse_feed(p, buf + off, k, on_frame, s, &err);
        FUZZ_CHECK(rc >= -1 && rc <= 1);
        if (rc == -1) {
            FUZZ_CHECK(err.msg[0] != 0);
            overflow = 1;
        }
        if (rc == 1)
            return overflow;
        off += k;
    }
    return overflow;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t chunk = (size_t)data[0] % 17 + 1;
    char *buf = fuzz_copy(data + 1, size - 1);
    size_t n = size - 1;
    struct sse_parser *p = sse_parser_new(MAX_FRAME);
    if (!buf || !p) {
        sse_parser_free(p);
        free(buf);
        return 0;
    }
    struct seen whole = {0, 14695981039346656037u, 0};
    int of1 = feed(p, buf, n, n ? n : 1, &whole);
    FUZZ_CHECK(sse_frames(p) == whole.frames);

    sse_parser_reset(p);
    struct seen parts = {0, 14695981039346656037u, 0};
    int of2 = feed(p, buf, n, chunk, &parts);
    /* Whether a frame overflows does not depend on how the bytes arrived. */
    FUZZ_CHECK(of1 == of2);
    FUZZ_CHECK(parts.frames == whole.frames && parts.digest == whole.digest);

    /* Stop after the first frame, forget the rest, and parse it again. */
    sse_parser_reset(p);
    struct seen first = {0, 14695981039346656037u, 1};
    feed(p, buf, n, chunk, &first);
    FUZZ_CHECK(first.frames == (whole.frames ? 1u : 0u));
    sse_parser_free(p);
    free(buf);
    return 0;
}
