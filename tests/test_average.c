/* Fleet averaging: the weighted mean tensor by tensor, MixEM components
 * matched before they are averaged, refusals that change nothing. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define F 5

static ttr_model *make(ttr_variant v, void **arena)
{
    ttr_config c;
    ttr_config_default(&c, v, F);
    c.hidden[0] = 6;
    c.hidden[1] = 3;
    c.rows = 4;
    c.max_items = 4;
    c.max_batch = 4;
    size_t bytes = ttr_arena_bytes(&c, TTR_MODE_TRAIN);
    *arena = calloc(1, bytes);
    ttr_model *m;
    cr_assert_eq(ttr_model_init(&m, &c, TTR_MODE_TRAIN, *arena, bytes), TTR_OK);
    return m;
}

static void train(ttr_model *m, uint64_t seed, int steps)
{
    tu_rng r = tu_rng_seed(seed);
    float x[4 * F];
    uint16_t slots[4] = {0, 1, 2, 3};
    uint8_t clicks[4];
    size_t offs[2] = {0, 4};
    for (int s = 0; s < steps; s++) {
        tu_fill_uniform(&r, x, 4 * F, -1, 1);
        for (int i = 0; i < 4; i++)
            clicks[i] = tu_u32(&r) % 3 == 0;
        ttr_batch b = {1, offs, x, F, slots, clicks, NULL};
        cr_assert_eq(ttr_train(m, &b, NULL), TTR_OK);
    }
}

Test(average, weighted_mean_of_every_tensor)
{
    void *a1, *a2, *ao;
    ttr_model *m1 = make(TTR_ADDITIVE, &a1), *m2 = make(TTR_ADDITIVE, &a2);
    ttr_model *out = make(TTR_ADDITIVE, &ao);
    train(m1, 1, 5);
    train(m2, 2, 9);
    const ttr_model *ms[2] = {m1, m2};
    double w[2] = {1.0, 3.0};
    cr_assert_eq(ttr_model_average(out, ms, w, 2), TTR_OK);
    for (uint32_t i = 0; i < ttr_model_tensor_count(out); i++) {
        const char *name;
        uint32_t rows, cols;
        cr_assert_eq(ttr_model_tensor_info(out, i, &name, &rows, &cols), TTR_OK);
        size_t n = (size_t)rows * cols;
        float *v1 = malloc(n * 4), *v2 = malloc(n * 4), *vo = malloc(n * 4);
        cr_assert_eq(ttr_model_tensor_get(m1, name, v1, n), TTR_OK);
        cr_assert_eq(ttr_model_tensor_get(m2, name, v2, n), TTR_OK);
        cr_assert_eq(ttr_model_tensor_get(out, name, vo, n), TTR_OK);
        for (size_t e = 0; e < n; e++)
            cr_assert_eq(vo[e], (float)((1.0 * v1[e] + 3.0 * v2[e]) / 4.0), "%s[%zu]", name, e);
        free(v1), free(v2), free(vo);
    }
    cr_assert_eq(ttr_model_impressions(out), 14);
    cr_assert_eq(ttr_model_steps(out), 0, "the optimizer starts afresh");
    free(a1), free(a2), free(ao);
}

/* A MixEM model and its copy with the two components swapped average to
 * the model itself: the components are matched first. */
Test(average, mixem_components_are_matched)
{
    void *a1, *a2, *ao;
    ttr_model *m = make(TTR_MIXEM, &a1), *sw = make(TTR_MIXEM, &a2), *out = make(TTR_MIXEM, &ao);
    train(m, 3, 12);
    for (uint32_t i = 0; i < ttr_model_tensor_count(m); i++) {
        const char *name;
        uint32_t rows, cols;
        cr_assert_eq(ttr_model_tensor_info(m, i, &name, &rows, &cols), TTR_OK);
        size_t n = (size_t)rows * cols;
        float *v = malloc(n * 4);
        char other[40];
        snprintf(other, sizeof other, "%s", name);
        if (!strncmp(name, "bias", 4))
            other[4] = name[4] == '0' ? '1' : '0';
        cr_assert_eq(ttr_model_tensor_get(m, name, v, n), TTR_OK);
        if (!strcmp(name, "mixem.gain") || !strcmp(name, "mixem.phi")) {
            float t = v[0];
            v[0] = v[1], v[1] = t;
        }
        cr_assert_eq(ttr_model_tensor_set(sw, other, v, n), TTR_OK);
        free(v);
    }
    float x[3 * F], s1[3], s2[3];
    tu_rng r = tu_rng_seed(4);
    tu_fill_uniform(&r, x, 3 * F, -1, 1);
    const ttr_model *ms[2] = {m, sw};
    cr_assert_eq(ttr_model_average(out, ms, NULL, 2), TTR_OK);
    float pi_m[2], pi_o[2], g_m[2], g_o[2];
    cr_assert_eq(ttr_mixem_params(m, pi_m, g_m), TTR_OK);
    cr_assert_eq(ttr_mixem_params(out, pi_o, g_o), TTR_OK);
    cr_assert(!memcmp(g_m, g_o, sizeof g_m) && !memcmp(pi_m, pi_o, sizeof pi_m),
              "the swapped components were averaged with the wrong partners");
    cr_assert_eq(ttr_score(m, 3, x, F, s1), TTR_OK);
    cr_assert_eq(ttr_score(out, 3, x, F, s2), TTR_OK);
    cr_assert(!memcmp(s1, s2, sizeof s1));
    free(a1), free(a2), free(ao);
}

Test(average, refusals_change_nothing)
{
    void *a1, *a2, *ao, *ax;
    ttr_model *m1 = make(TTR_ADDITIVE, &a1), *m2 = make(TTR_ADDITIVE, &a2);
    ttr_model *out = make(TTR_ADDITIVE, &ao), *naive = make(TTR_NAIVE, &ax);
    train(m1, 1, 3);
    train(m2, 2, 3);
    size_t before_n;
    unsigned char *before = tu_save_mem(out, 1, &before_n);
    const ttr_model *ms[2] = {m1, m2};
    double neg[2] = {1.0, -1.0}, zero[2] = {0.0, 0.0};
    cr_assert_eq(ttr_model_average(out, ms, neg, 2), TTR_ERR_ARG);
    cr_assert_eq(ttr_model_average(out, ms, zero, 2), TTR_ERR_ARG);
    cr_assert_eq(ttr_model_average(out, ms, NULL, 0), TTR_ERR_ARG);
    const ttr_model *mixed[2] = {m1, naive};
    cr_assert_eq(ttr_model_average(out, mixed, NULL, 2), TTR_ERR_ARG);
    const ttr_model *self[2] = {m1, out};
    cr_assert_eq(ttr_model_average(out, self, NULL, 2), TTR_ERR_ARG);
    float mean[F] = {0}, scale[F] = {1, 1, 1, 1, 2};
    cr_assert_eq(ttr_set_normalization(m2, mean, scale), TTR_OK);
    cr_assert_eq(ttr_model_average(out, ms, NULL, 2), TTR_ERR_ARG, "two normalisations");
    size_t after_n;
    unsigned char *after = tu_save_mem(out, 1, &after_n);
    cr_assert(before_n == after_n && !memcmp(before, after, before_n));
    const ttr_model *one[1] = {m1};
    cr_assert_eq(ttr_model_average(m1, one, NULL, 1), TTR_OK, "out may be models[0]");
    free(before), free(after), free(a1), free(a2), free(ao), free(ax);
}
