/*
 * sse: an incremental parser for text/event-stream bodies (WIRE §4.2, §6.6).
 *
 * Bytes are fed as they arrive, in chunks of any size; every complete frame
 * (ended by a blank line) is handed to a callback as {event, data}. Multi-line
 * data is joined with "\n"; comment lines and the id/retry fields are
 * ignored; CR, LF and CRLF all end a line, even when a CRLF is split across
 * two feeds. A frame larger than the configured bound is dropped whole and
 * reported once, so a stream that never ends a frame cannot grow memory.
 *
 * Threading: a parser belongs to one thread. Ownership: the strings passed to
 * the callback are valid only during the call.
 */
#ifndef CATALYST_SSE_H
#define CATALYST_SSE_H

#include "util.h"

#include <stddef.h>

struct sse_parser;

/*
 * Called for each frame. event is "" for an unnamed frame; data is
 * NUL-terminated (len excludes the NUL). Return non-zero to stop feeding.
 */
typedef int (*sse_frame_fn)(void *ctx, const char *event, const char *data, size_t len);

/* max_frame: bound on one frame's bytes (event + data); 0 means 1 MB. NULL on OOM. */
struct sse_parser *sse_parser_new(size_t max_frame);
void sse_parser_free(struct sse_parser *p);
/* Forgets any partial frame (for a reconnect). */
void sse_parser_reset(struct sse_parser *p);
/*
 * Feeds n bytes. Returns 0 when all bytes were consumed, 1 when the callback
 * asked to stop (the rest of buf is not parsed), -1 with err (EXIT_API) when a
 * frame exceeded the bound or memory ran out; the oversized frame is skipped
 * up to its end and parsing goes on with the next feed.
 */
int sse_feed(struct sse_parser *p, const char *buf, size_t n, sse_frame_fn fn, void *ctx,
             struct error *err);
/* Frames delivered so far (for tests and replay counting). */
size_t sse_frames(const struct sse_parser *p);

#endif
