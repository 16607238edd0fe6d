/*
 * fuzz: what every harness in tests/fuzz/ shares. Each fuzz_<name>.c defines
 * LLVMFuzzerTestOneInput (and, when it needs set-up, LLVMFuzzerInitialize);
 * it is linked either with libFuzzer (`make fuzz`, clang) or with replay.c
 * (`make fuzz-regress`, any compiler), which feeds it files.
 *
 * A harness frees everything it allocated (leaks are reported) and checks
 * its cheap invariants with FUZZ_CHECK, which aborts so both drivers see a
 * crash, with or without NDEBUG.
 */
#ifndef CATALYST_FUZZ_H
#define CATALYST_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define FUZZ_CHECK(cond)                                                              \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                  \
        }                                                                             \
    } while (0)

/* An exact-size heap copy (no NUL), so reads past the end are caught. */
static inline char *fuzz_copy(const uint8_t *data, size_t size)
{
    char *p = malloc(size ? size : 1);
    if (p && size)
        memcpy(p, data, size);
    return p;
}

/* A NUL-terminated heap copy for APIs that take C strings. */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
    char *p = malloc(size + 1);
    if (p) {
        if (size)
            memcpy(p, data, size);
        p[size] = 0;
    }
    return p;
}

#endif
