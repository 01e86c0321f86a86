/* Scoring through the caller's scratch (ttr_score_with_scratch): the same
 * bits as ttr_score on every model kind, the model only read, and several
 * threads scoring one model at once (the ThreadSanitizer configuration of
 * make check runs this file). */
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define F 13
#define N_ITEMS 37 /* more than max_items: several chunks per call */
#define THREADS 4
#define ROUNDS 40

/* A model of `variant` trained for a few steps on random lists (steps 0:
 * fresh, so dot's b_ref is the top slot's b). */
static ttr_model *trained(ttr_variant variant, int steps, void **arena)
{
    ttr_config c;
    ttr_config_default(&c, variant, F);
    c.hidden[0] = 24; /* wider than one 16-output panel */
    c.max_items = 8;
    c.max_batch = 4;
    c.rows = variant == TTR_XPA ? 2 : 8;
    c.cols = variant == TTR_XPA ? 4 : 1;
    size_t bytes = ttr_arena_bytes(&c, TTR_MODE_TRAIN);
    ttr_model *m;
    *arena = calloc(1, bytes);
    cr_assert_eq(ttr_model_init(&m, &c, TTR_MODE_TRAIN, *arena, bytes), TTR_OK);
    float mean[F], scale[F], x[32 * F];
    tu_rng r = tu_rng_seed(7 + variant);
    tu_fill_uniform(&r, mean, F, -1, 1);
    tu_fill_uniform(&r, scale, F, 0.5f, 2);
    cr_assert_eq(ttr_set_normalization(m, mean, scale), TTR_OK);
    size_t offsets[5] = {0, 8, 16, 24, 32};
    uint16_t slots[32];
    uint8_t clicks[32];
    ttr_batch b = {4, offsets, x, F, slots, clicks, NULL};
    for (int s = 0; s < steps; s++) {
        tu_fill_uniform(&r, x, 32 * F, -2, 2);
        for (int i = 0; i < 32; i++) {
            slots[i] = (uint16_t)(i % 8);
            clicks[i] = (uint8_t)(tu_u32(&r) % 3 == 0);
        }
        cr_assert_eq(ttr_train(m, &b, NULL), TTR_OK);
    }
    return m;
}

/* ttr_score_with_scratch == ttr_score, bit for bit, with the scratch at
 * every alignment; a short scratch is refused untouched. */
static void assert_same_scores(ttr_model *m, const char *what)
{
    float x[N_ITEMS * (F + 3)], want[N_ITEMS], got[N_ITEMS];
    tu_rng r = tu_rng_seed(11);
    tu_fill_uniform(&r, x, sizeof x / sizeof x[0], -3, 3);
    cr_assert_eq(ttr_score(m, N_ITEMS, x, F + 3, want), TTR_OK, "%s", what);
    size_t need = ttr_score_scratch_bytes(m);
    cr_assert_gt(need, 0, "%s", what);
    for (size_t mis = 0; mis < 64; mis += 4) {
        unsigned char *s = tu_alloc(need, mis);
        memset(got, 0, sizeof got);
        cr_assert_eq(ttr_score_with_scratch(m, s, need, N_ITEMS, x, F + 3, got), TTR_OK,
                     "%s, misalign %zu", what, mis);
        cr_assert(!memcmp(got, want, sizeof got), "%s, misalign %zu: scores differ", what, mis);
        cr_assert(tu_guard_ok(s), "%s, misalign %zu: wrote outside the scratch", what, mis);
        tu_free(s);
    }
    unsigned char *s = tu_alloc(need - 1, 0);
    cr_assert_eq(ttr_score_with_scratch(m, s, need - 1, N_ITEMS, x, F + 3, got), TTR_ERR_NOMEM,
                 "%s", what);
    unsigned char sentinel[64];
    memset(sentinel, TU_SENTINEL_BYTE, sizeof sentinel);
    cr_assert(!memcmp(s, sentinel, need - 1 < 64 ? need - 1 : 64), "%s: short scratch written",
              what);
    tu_free(s);
}

Test(concurrent, scratch_scores_equal_own_scratch_scores)
{
    const ttr_variant variants[] = {TTR_NAIVE, TTR_ADDITIVE, TTR_DOT, TTR_MIXEM, TTR_XPA};
    for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
        for (int steps = 0; steps <= 3; steps += 3) {
            void *a, *sa, *qa;
            ttr_model *m = trained(variants[v], steps, &a), *s, *q;
            const ttr_config *c = ttr_model_config(m);
            size_t sb = ttr_arena_bytes(c, TTR_MODE_SERVE_F32);
            size_t qb = ttr_arena_bytes(c, TTR_MODE_SERVE_S8);
            sa = calloc(1, sb);
            qa = calloc(1, qb);
            cr_assert_eq(ttr_model_to_serving(m, &s, sa, sb), TTR_OK);
            cr_assert_eq(ttr_model_quantize(m, &q, qa, qb), TTR_OK);
            char what[64];
            snprintf(what, sizeof what, "variant %d, %d steps, train", (int)variants[v], steps);
            assert_same_scores(m, what);
            snprintf(what, sizeof what, "variant %d, %d steps, f32", (int)variants[v], steps);
            assert_same_scores(s, what);
            snprintf(what, sizeof what, "variant %d, %d steps, int8", (int)variants[v], steps);
            assert_same_scores(q, what);
            free(a), free(sa), free(qa);
        }
    }
}

Test(concurrent, bad_arguments_are_refused)
{
    void *a;
    ttr_model *m = trained(TTR_ADDITIVE, 1, &a);
    float x[F] = {0}, out[1];
    unsigned char s[8192];
    size_t need = ttr_score_scratch_bytes(m);
    cr_assert_leq(need, sizeof s);
    cr_assert_eq(ttr_score_scratch_bytes(NULL), 0);
    cr_assert_eq(ttr_score_with_scratch(NULL, s, need, 1, x, F, out), TTR_ERR_ARG);
    cr_assert_eq(ttr_score_with_scratch(m, NULL, need, 1, x, F, out), TTR_ERR_ARG);
    cr_assert_eq(ttr_score_with_scratch(m, s, need, 1, NULL, F, out), TTR_ERR_ARG);
    cr_assert_eq(ttr_score_with_scratch(m, s, need, 1, x, F - 1, out), TTR_ERR_ARG);
    cr_assert_eq(ttr_score_with_scratch(m, s, need, 0, NULL, F, NULL), TTR_OK);
    x[3] = NAN;
    cr_assert_eq(ttr_score_with_scratch(m, s, need, 1, x, F, out), TTR_ERR_NONFINITE);
    free(a);
}

/* The model is only read: its bytes are the same after scoring. */
Test(concurrent, scoring_with_scratch_does_not_write_the_model)
{
    void *a;
    ttr_model *m = trained(TTR_DOT, 2, &a);
    const ttr_config *c = ttr_model_config(m);
    size_t bytes = ttr_arena_bytes(c, TTR_MODE_SERVE_S8);
    void *qa = calloc(1, bytes), *copy = malloc(bytes);
    ttr_model *q;
    cr_assert_eq(ttr_model_quantize(m, &q, qa, bytes), TTR_OK);
    memcpy(copy, qa, bytes);
    float x[N_ITEMS * F], out[N_ITEMS];
    tu_rng r = tu_rng_seed(5);
    tu_fill_uniform(&r, x, N_ITEMS * F, -1, 1);
    size_t need = ttr_score_scratch_bytes(q);
    void *s = malloc(need);
    cr_assert_eq(ttr_score_with_scratch(q, s, need, N_ITEMS, x, F, out), TTR_OK);
    cr_assert(!memcmp(copy, qa, bytes), "the int8 model's arena changed");
    free(s), free(copy), free(qa), free(a);
}

typedef struct worker {
    const ttr_model *m;
    const float *x;   /* ROUNDS x N_ITEMS x F */
    const float *want;/* ROUNDS x N_ITEMS */
    int first, ok;
} worker;

static void *score_rounds(void *arg)
{
    worker *w = arg;
    size_t need = ttr_score_scratch_bytes(w->m);
    void *s = malloc(need);
    float out[N_ITEMS];
    w->ok = s != NULL;
    for (int k = 0; w->ok && k < ROUNDS; k++) {
        int round = (w->first + k) % ROUNDS; /* threads in different places */
        if (ttr_score_with_scratch(w->m, s, need, N_ITEMS, w->x + (size_t)round * N_ITEMS * F,
                                   F, out) != TTR_OK ||
            memcmp(out, w->want + (size_t)round * N_ITEMS, sizeof out))
            w->ok = 0;
    }
    free(s);
    return NULL;
}

/* THREADS threads score one model at once, each with its own scratch: every
 * thread gets the scores one thread alone gets. */
static void assert_threads_agree(const ttr_model *m, const char *what)
{
    static float x[ROUNDS * N_ITEMS * F], want[ROUNDS * N_ITEMS];
    tu_rng r = tu_rng_seed(3);
    tu_fill_uniform(&r, x, sizeof x / sizeof x[0], -2, 2);
    size_t need = ttr_score_scratch_bytes(m);
    void *s = malloc(need);
    for (int k = 0; k < ROUNDS; k++)
        cr_assert_eq(ttr_score_with_scratch(m, s, need, N_ITEMS, x + (size_t)k * N_ITEMS * F, F,
                                            want + (size_t)k * N_ITEMS),
                     TTR_OK);
    free(s);
    pthread_t t[THREADS];
    worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){m, x, want, i * ROUNDS / THREADS, 0};
        cr_assert_eq(pthread_create(&t[i], NULL, score_rounds, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        cr_assert_eq(pthread_join(t[i], NULL), 0);
        cr_assert(w[i].ok, "%s: thread %d got other scores", what, i);
    }
}

Test(concurrent, threads_share_one_model)
{
    void *a, *sa, *qa;
    ttr_model *m = trained(TTR_DOT, 3, &a), *s, *q;
    const ttr_config *c = ttr_model_config(m);
    size_t sb = ttr_arena_bytes(c, TTR_MODE_SERVE_F32), qb = ttr_arena_bytes(c, TTR_MODE_SERVE_S8);
    sa = calloc(1, sb);
    qa = calloc(1, qb);
    cr_assert_eq(ttr_model_to_serving(m, &s, sa, sb), TTR_OK);
    cr_assert_eq(ttr_model_quantize(m, &q, qa, qb), TTR_OK);
    assert_threads_agree(s, "serve-f32");
    assert_threads_agree(q, "int8");
    assert_threads_agree(m, "train model");
    free(a), free(sa), free(qa);
}
