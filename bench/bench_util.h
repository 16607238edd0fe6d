/*
 * bench_util: the clock and statistics every benchmark uses. Header-only
 * (static inline) because the Makefile builds each bench/bench_*.c as a
 * program of its own and links no shared bench objects.
 */
#ifndef CATALYST_BENCH_UTIL_H
#define CATALYST_BENCH_UTIL_H

#include <stddef.h>
#include <stdlib.h>
#include <time.h>

/* Monotonic clock in ms, fractional: single runs are often well under 1 ms. */
static inline double bench_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static inline double bench_now_s(void) { return bench_now_ms() / 1e3; }

static inline int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of v[0..n) (n >= 1); sorts v in place. */
static inline double bench_median(double *v, size_t n)
{
    qsort(v, n, sizeof(double), bench_cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#endif
