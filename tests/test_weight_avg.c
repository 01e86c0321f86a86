/* Weight averaging (ttr_weight_avg_*): the moving average against one
 * computed here from the weights after each step, swaps that restore every
 * bit, and the refusals. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define WF 4
#define WN 5

static ttr_model *tiny(ttr_variant v, void **arena)
{
    ttr_config c;
    ttr_config_default(&c, v, WF);
    c.n_hidden = 1, c.hidden[0] = 3, c.rows = WN, c.max_items = WN, c.max_batch = 4;
    size_t bytes = ttr_arena_bytes(&c, TTR_MODE_TRAIN);
    *arena = calloc(1, bytes);
    ttr_model *m;
    cr_assert_eq(ttr_model_init(&m, &c, TTR_MODE_TRAIN, *arena, bytes), TTR_OK);
    return m;
}

/* One training step on a random list. */
static void train_once(ttr_model *m, tu_rng *r)
{
    float x[WN * WF];
    uint16_t slots[WN];
    uint8_t clicks[WN];
    size_t off[2] = {0, WN};
    tu_fill_uniform(r, x, WN * WF, -1, 1);
    for (int i = 0; i < WN; i++) {
        slots[i] = (uint16_t)i;
        clicks[i] = tu_u32(r) % 3 == 0;
    }
    ttr_batch b = {1, off, x, WF, slots, clicks, NULL};
    cr_assert_eq(ttr_train(m, &b, NULL), TTR_OK);
}

/* All of m's parameters, in tensor order. */
static size_t params(const ttr_model *m, float *out)
{
    size_t at = 0;
    for (uint32_t i = 0; i < ttr_model_tensor_count(m); i++) {
        const char *name;
        uint32_t r, c;
        cr_assert_eq(ttr_model_tensor_info(m, i, &name, &r, &c), TTR_OK);
        cr_assert_eq(ttr_model_tensor_get(m, name, out + at, (size_t)r * c), TTR_OK);
        at += (size_t)r * c;
    }
    return at;
}

Test(weight_avg, the_average_of_the_steps_and_swaps_that_restore_every_bit)
{
    static const ttr_variant variants[] = {TTR_ADDITIVE, TTR_MIXEM, TTR_XPA};
    for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
        void *arena;
        ttr_model *m = tiny(variants[v], &arena);
        size_t bytes = ttr_weight_avg_bytes(m);
        cr_assert_gt(bytes, 0);
        void *buf = malloc(bytes);
        ttr_weight_avg *a;
        const float d = 0.9f;
        cr_assert_eq(ttr_weight_avg_init(&a, m, d, buf, bytes - 1), TTR_ERR_NOMEM);
        cr_assert_eq(ttr_weight_avg_init(&a, m, d, buf, bytes), TTR_OK);
        cr_assert_eq(ttr_weight_avg_swap(a, m), TTR_ERR_ARG, "nothing averaged yet");
        float want[4096], w[4096], got[4096];
        tu_rng r = tu_rng_seed(3 + v);
        size_t n = 0;
        for (int k = 0; k < 6; k++) {
            train_once(m, &r);
            cr_assert_eq(ttr_weight_avg_update(a, m), TTR_OK);
            n = params(m, w);
            cr_assert_lt(n, 4096);
            for (size_t i = 0; i < n; i++) /* the first update starts the average */
                want[i] = k ? d * want[i] + (1.0f - d) * w[i] : w[i];
        }
        size_t s0, s1;
        unsigned char *before = tu_save_mem(m, 1, &s0);
        cr_assert_eq(ttr_weight_avg_swap(a, m), TTR_OK);
        cr_assert(ttr_weight_avg_swapped(a));
        cr_assert_eq(params(m, got), n);
        for (size_t i = 0; i < n; i++)
            cr_assert(got[i] == want[i], "variant %d, parameter %zu: %g, want %g",
                      (int)variants[v], i, got[i], want[i]);
        cr_assert_eq(ttr_weight_avg_update(a, m), TTR_ERR_ARG, "a swapped average");
        cr_assert_eq(ttr_weight_avg_swap(a, m), TTR_OK);
        cr_assert(!ttr_weight_avg_swapped(a));
        unsigned char *after = tu_save_mem(m, 1, &s1);
        cr_assert(s0 == s1 && !memcmp(before, after, s0), "two swaps changed the model");
        free(before), free(after), free(buf), free(arena);
    }
}

Test(weight_avg, refusals)
{
    void *arena, *arena2;
    ttr_model *m = tiny(TTR_ADDITIVE, &arena), *other = tiny(TTR_PAL, &arena2);
    size_t bytes = ttr_weight_avg_bytes(m);
    void *buf = malloc(bytes);
    ttr_weight_avg *a = NULL;
    cr_assert_eq(ttr_weight_avg_bytes(NULL), 0);
    cr_assert_eq(ttr_weight_avg_init(NULL, m, 0.9f, buf, bytes), TTR_ERR_ARG);
    cr_assert_eq(ttr_weight_avg_init(&a, NULL, 0.9f, buf, bytes), TTR_ERR_ARG);
    cr_assert_eq(ttr_weight_avg_init(&a, m, 0.9f, NULL, bytes), TTR_ERR_ARG);
    cr_assert_eq(ttr_weight_avg_init(&a, m, 1.0f, buf, bytes), TTR_ERR_ARG);
    cr_assert_eq(ttr_weight_avg_init(&a, m, -0.1f, buf, bytes), TTR_ERR_ARG);
    cr_assert_eq(ttr_weight_avg_init(&a, m, NAN, buf, bytes), TTR_ERR_ARG);
    cr_assert_null(a);
    cr_assert_eq(ttr_weight_avg_init(&a, m, 0.0f, buf, bytes), TTR_OK);
    cr_assert_eq(ttr_weight_avg_update(a, other), TTR_ERR_ARG, "another structure");
    cr_assert_eq(ttr_weight_avg_update(NULL, m), TTR_ERR_ARG);
    cr_assert_eq(ttr_weight_avg_update(a, m), TTR_OK);
    cr_assert_eq(ttr_weight_avg_swap(a, other), TTR_ERR_ARG);
    cr_assert_eq(ttr_weight_avg_swapped(NULL), 0);
    /* a serving model has nothing to average */
    ttr_model *s;
    size_t sb = ttr_arena_bytes(ttr_model_config(m), TTR_MODE_SERVE_F32);
    void *sa = malloc(sb);
    cr_assert_eq(ttr_model_to_serving(m, &s, sa, sb), TTR_OK);
    cr_assert_eq(ttr_weight_avg_bytes(s), 0);
    cr_assert_eq(ttr_weight_avg_init(&a, s, 0.9f, buf, bytes), TTR_ERR_ARG);
    free(sa), free(buf), free(arena), free(arena2);
}
