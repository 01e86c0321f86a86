/* The library never allocates: this file interposes malloc and friends for
 * the whole test binary (forwarding to glibc's own entry points) and counts
 * the calls made while a model is built, trained, evaluated and served.
 *
 * Interposition needs glibc's __libc_* entry points and must stay out of
 * the sanitizer builds (ASan and TSan own malloc there: TSan would see the
 * reuse of a block freed by another thread as a race); there the test says
 * it was skipped. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "ttrank.h"
#include "testutil.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define TTR_TEST_SANITIZER 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define TTR_TEST_SANITIZER 1
#endif

#if defined(__GLIBC__) && !defined(TTR_TEST_SANITIZER)
#define TTR_INTERPOSE 1
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
extern void *__libc_memalign(size_t align, size_t n);
extern void __libc_free(void *p);

static volatile int armed;
static volatile long calls;

void *malloc(size_t n)
{
    if (armed)
        calls++;
    return __libc_malloc(n);
}

void *calloc(size_t n, size_t size)
{
    if (armed)
        calls++;
    return __libc_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
    if (armed)
        calls++;
    return __libc_realloc(p, n);
}

void *aligned_alloc(size_t align, size_t n); /* C11: not declared under -std=c99 */
void *aligned_alloc(size_t align, size_t n)
{
    if (armed)
        calls++;
    return __libc_memalign(align, n);
}

int posix_memalign(void **out, size_t align, size_t n)
{
    if (armed)
        calls++;
    *out = __libc_memalign(align, n);
    return *out ? 0 : 12; /* ENOMEM */
}

void free(void *p)
{
    if (armed && p)
        calls++;
    __libc_free(p);
}
#endif

Test(no_malloc, building_training_and_serving_allocate_nothing)
{
#ifndef TTR_INTERPOSE
    cr_skip_test("allocation interposition needs glibc without ASan");
#else
    static const ttr_variant variants[] = {TTR_NAIVE, TTR_ADDITIVE, TTR_PAL,
                                           TTR_DOT,   TTR_MIXEM,    TTR_XPA};
    for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
        ttr_config c;
        ttr_config_default(&c, variants[v], 6);
        c.rows = 2;
        c.cols = 5;
        c.max_batch = 4;
        size_t tb = ttr_arena_bytes(&c, TTR_MODE_TRAIN), sb = ttr_arena_bytes(&c, TTR_MODE_SERVE_F32);
        size_t qb = ttr_arena_bytes(&c, TTR_MODE_SERVE_S8);
        unsigned char *ta = __libc_malloc(tb), *sa = __libc_malloc(sb), *qa = __libc_malloc(qb);
        size_t offsets[5] = {0, 10, 13, 20, 30};
        float x[30 * 6], probs[30], scores[30], curve[10], pi[2], bref[4], att[100];
        uint16_t slots[30];
        uint8_t clicks[30];
        tu_rng r = tu_rng_seed(3);
        tu_fill_uniform(&r, x, 30 * 6, -1.0f, 1.0f);
        for (int i = 0; i < 30; i++) {
            slots[i] = (uint16_t)(i % 10);
            clicks[i] = (uint8_t)(tu_u32(&r) & 1);
        }
        ttr_batch b = {4, offsets, x, 6, slots, clicks, NULL};
        ttr_model *m, *s, *q;
        double loss;
        int ok = 1;

        calls = 0;
        armed = 1;
        ok &= ttr_model_init(&m, &c, TTR_MODE_TRAIN, ta, tb) == TTR_OK;
        for (int step = 0; step < 3; step++)
            ok &= ttr_train(m, &b, NULL) == TTR_OK;
        ok &= ttr_eval_loss(m, &b, &loss) == TTR_OK;
        ok &= ttr_click_probs(m, &b, probs) == TTR_OK;
        ok &= ttr_score(m, 30, x, 6, scores) == TTR_OK;
        ok &= ttr_model_to_serving(m, &s, sa, sb) == TTR_OK;
        ok &= ttr_score(s, 30, x, 6, scores) == TTR_OK;
        ok &= ttr_model_quantize(m, &q, qa, qb) == TTR_OK; /* int8 serving */
        ok &= ttr_score(q, 30, x, 6, scores) == TTR_OK;
        (void)ttr_bias_curve(m, 0, 0, curve);
        (void)ttr_mixem_params(m, pi, NULL);
        (void)ttr_dot_reference(m, bref, 0, NULL);
        (void)ttr_xpa_attention(m, att);
        (void)ttr_strerror(ttr_train(m, NULL, NULL));
        armed = 0;

        cr_assert(ok, "variant %d: a call failed", c.variant);
        cr_assert_eq(calls, 0, "variant %d: %ld allocation calls", c.variant, calls);
        __libc_free(ta);
        __libc_free(sa);
        __libc_free(qa);
    }
    /* the interposer itself works: a deliberate allocation is counted */
    calls = 0;
    armed = 1;
    void *volatile p = malloc(16); /* volatile: the compiler may not elide the pair */
    free(p);
    armed = 0;
    cr_assert_eq(calls, 2);
#endif
}
