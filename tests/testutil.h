/* Helpers shared by the test files: a deterministic RNG, guarded buffers
 * that catch out-of-bounds writes, the CPU masks to test under, and
 * tolerance checks that say where a comparison failed. Tests may allocate;
 * the library may not. */
#ifndef TTR_TESTS_TESTUTIL_H
#define TTR_TESTS_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "ttr_kernels.h"
#include "ttr_stream.h"
#include "ttrank.h"

/* 1 when TTR_TEST_SKIP_SLOW is set (to anything but "0"): the end-to-end
 * learning tests (seconds natively, about a minute under qemu) then skip.
 * make check runs them on the native rows and on one emulated row per
 * architecture; the other emulated and valgrind rows set it, because there
 * the kernels those tests drive are checked by the kernel tests.
 * TU_SLOW_TEST() opens such a test. */
int tu_skip_slow(void);
#define TU_SLOW_TEST()                                                                            \
    do {                                                                                          \
        if (tu_skip_slow())                                                                       \
            cr_skip_test("a slow learning test, TTR_TEST_SKIP_SLOW is set");                      \
    } while (0)

/* The whole file at path in a malloc'd buffer (*size its bytes; at least
 * one byte allocated, so an empty file is not NULL), or NULL. */
unsigned char *tu_read_file(const char *path, size_t *size);

/* xorshift64*: the same sequence on every target. */
typedef struct tu_rng {
    uint64_t s;
} tu_rng;
tu_rng tu_rng_seed(uint64_t seed);
uint32_t tu_u32(tu_rng *r);
float tu_uniform(tu_rng *r, float lo, float hi); /* in [lo, hi) */
void tu_fill_uniform(tu_rng *r, float *x, size_t n, float lo, float hi);

/* Guarded allocation: `bytes` usable bytes starting `misalign` bytes (0..63)
 * past a 64-byte boundary, with 256 bytes of 0xA5 sentinel on each side.
 * The usable part is filled with the sentinel too, so a test can also check
 * the parts of an output the kernel must not touch (tu_untouched_*).
 * tu_guard_ok() checks both guard zones; tu_free() releases. For float
 * buffers keep misalign a multiple of 4: C (and UBSan) require it. */
void *tu_alloc(size_t bytes, size_t misalign);
int tu_guard_ok(const void *p);
void tu_free(void *p);
#define TU_SENTINEL_BYTE 0xA5

/* An input array of exactly n floats, starting `mis` bytes (a multiple of
 * 4) past malloc's alignment and ending at the end of its block, so that the
 * sanitizer build catches any read past it. */
typedef struct tu_exact {
    void *base;
    float *p;
} tu_exact;
tu_exact tu_exact_alloc(size_t n, size_t mis);
void tu_exact_free(tu_exact b);

/* 1 if every byte of the `rows` x `cols` elements of size `esize` at stride
 * `ld` elements, *outside* the first `wcols` columns of each row, still holds
 * the sentinel (i.e. the kernel wrote only columns [0, wcols) of each row),
 * and the tail after the last row up to `total` elements does too. */
int tu_untouched_2d(const void *buf, size_t esize, size_t total, size_t rows, size_t wcols,
                    size_t ld);

/* The masks to run every kernel under: 0 (scalar) and, for each path the
 * CPU supports, the cumulative mask that enables it (e.g. neon, neonfma,
 * neondot). Returns the count (<= 8) and names each path in `names`. */
int tu_masks(unsigned masks[8], const char *names[8]);

/* Compare got[i] with ref[i] within tol * scale[i] + abs_floor (scale NULL:
 * tol * |ref[i]| ). Returns -1 if all agree, else the first index that
 * differs; NaN only matches NaN. */
long tu_first_mismatch(const float *got, const float *ref, const float *scale, size_t n,
                       float tol, float abs_floor);

/* A read callback (ttr_read_fn) over `size` bytes at `data` that hands out
 * at most `chunk` bytes per call: readers must not depend on how input
 * arrives. */
typedef struct tu_chunk_src {
    const char *data;
    size_t size, pos, chunk;
} tu_chunk_src;
size_t tu_chunk_read(void *ctx, void *buf, size_t n);

/* The .ttr bytes of model m (with the optimizer state if `state`) in a
 * malloc'ed buffer of *size bytes (the caller frees it); asserts that the
 * save works and that a counting pass gives the same size. */
unsigned char *tu_save_mem(const ttr_model *m, int state, size_t *size);

/* ttr_model_load through `read` into arena (a tu_alloc block of `bytes`):
 * returns the code; asserts that *out is untouched on error, set on
 * success, and that nothing outside the arena was written. tu_try_load:
 * the same from data[0..size), and ttr_model_check agrees (it passes what
 * loads; what it refuses does not load). */
int tu_try_load_fn(void *arena, size_t bytes, ttr_read_fn read, void *ctx);
int tu_try_load(const unsigned char *data, size_t size, void *arena, size_t bytes);

/* Offset of the state block (u64 step, u64 rng, f64 b_ref count, u32
 * record count; the records follow) in the .ttr bytes f: after the header,
 * the schedule block (version 3+, train) and the metadata (version 4). */
size_t tu_state_offset(const unsigned char *f);

/* The arena bytes the .ttr file data[0..size) asks for (asserts it parses). */
size_t tu_arena_for(const unsigned char *data, size_t size);

/* A model's tensor by name (asserts that it exists). Declared with an
 * incomplete type so that only the tests that include model.h use it. */
struct ttr__tensor;
struct ttr__tensor *tu_tensor(ttr_model *m, const char *name);

/* Directory for test files: $TMPDIR if set and not empty, else /tmp. */
const char *tu_tmp_dir(void);

#endif
