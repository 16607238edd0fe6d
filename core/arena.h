/*
 * arena: a bump allocator for values that live and die together (a snapshot,
 * a decoded frame, a parsed spec). Allocation never fails silently: every
 * function returns NULL on out-of-memory and the arena stays usable.
 *
 * Ownership: the arena owns every block it handed out; arena_free releases
 * them all at once. Not thread-safe: one arena, one writer.
 */
#ifndef CATALYST_ARENA_H
#define CATALYST_ARENA_H

#include <stddef.h>

struct arena;

struct arena *arena_new(void);
void arena_free(struct arena *a);
/* Zeroed, 16-byte aligned. */
void *arena_alloc(struct arena *a, size_t size);
/* Zeroed array of n items; NULL on overflow. */
void *arena_calloc(struct arena *a, size_t n, size_t size);
/* NULL in => "" out, so model strings are never NULL. */
char *arena_strdup(struct arena *a, const char *s);
char *arena_strndup(struct arena *a, const char *s, size_t n);
char *arena_printf(struct arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Bytes handed out so far (for benchmarks and tests). */
size_t arena_used(const struct arena *a);

#endif
