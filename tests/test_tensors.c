/* A train model's tensors by name: enumeration, get and set (the scores
 * follow: the packed copy is refreshed), refusals that change nothing. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static ttr_model *make(ttr_variant v, uint64_t seed, void **arena)
{
    ttr_config c;
    ttr_config_default(&c, v, 5);
    c.hidden[0] = 20; /* two panels */
    c.hidden[1] = 3;
    c.rows = 4;
    c.max_items = 4;
    c.seed = seed;
    size_t bytes = ttr_arena_bytes(&c, TTR_MODE_TRAIN);
    *arena = calloc(1, bytes);
    ttr_model *m;
    cr_assert_eq(ttr_model_init(&m, &c, TTR_MODE_TRAIN, *arena, bytes), TTR_OK);
    return m;
}

Test(tensors, enumerate_get_set)
{
    void *a1, *a2;
    ttr_model *m1 = make(TTR_MIXEM, 1, &a1), *m2 = make(TTR_MIXEM, 2, &a2);
    uint32_t n = ttr_model_tensor_count(m1);
    cr_assert_gt(n, 4);
    float x[3 * 5], s1[3], s2[3];
    tu_rng r = tu_rng_seed(3);
    tu_fill_uniform(&r, x, 15, -1, 1);
    cr_assert_eq(ttr_score(m1, 3, x, 5, s1), TTR_OK);
    cr_assert_eq(ttr_score(m2, 3, x, 5, s2), TTR_OK);
    cr_assert(memcmp(s1, s2, sizeof s1), "two seeds, the same scores");
    int saw_rel0 = 0;
    for (uint32_t i = 0; i < n; i++) {
        const char *name;
        uint32_t rows, cols;
        cr_assert_eq(ttr_model_tensor_info(m1, i, &name, &rows, &cols), TTR_OK);
        if (!strcmp(name, "rel.0.w")) {
            saw_rel0 = 1;
            cr_assert_eq(rows, 20, "dense weights are [out, in]");
            cr_assert_eq(cols, 5);
        }
        size_t k = (size_t)rows * cols;
        float *v = malloc(k * sizeof *v);
        cr_assert_eq(ttr_model_tensor_get(m1, name, v, k - 1), TTR_ERR_ARG);
        cr_assert_eq(ttr_model_tensor_get(m1, name, v, k), TTR_OK);
        cr_assert_eq(ttr_model_tensor_set(m2, name, v, k), TTR_OK);
        free(v);
    }
    cr_assert(saw_rel0);
    cr_assert_eq(ttr_model_tensor_info(m1, n, NULL, NULL, NULL), TTR_ERR_ARG);
    /* every tensor copied: the same scores (through the refreshed packed layers) */
    cr_assert_eq(ttr_score(m2, 3, x, 5, s2), TTR_OK);
    cr_assert(!memcmp(s1, s2, sizeof s1), "copied tensors, other scores");
    free(a1), free(a2);
}

Test(tensors, refusals_change_nothing)
{
    void *a;
    ttr_model *m = make(TTR_ADDITIVE, 1, &a);
    float b[20], before[20];
    cr_assert_eq(ttr_model_tensor_get(m, "rel.0.b", before, 20), TTR_OK);
    memcpy(b, before, sizeof b);
    b[7] = NAN;
    cr_assert_eq(ttr_model_tensor_set(m, "rel.0.b", b, 20), TTR_ERR_NONFINITE);
    cr_assert_eq(ttr_model_tensor_set(m, "rel.9.b", b, 20), TTR_ERR_ARG);
    cr_assert_eq(ttr_model_tensor_set(m, NULL, b, 20), TTR_ERR_ARG);
    cr_assert_eq(ttr_model_tensor_set(m, "rel.0.b", b, 19), TTR_ERR_ARG);
    cr_assert_eq(ttr_model_tensor_get(m, "rel.0.b", b, 20), TTR_OK);
    cr_assert(!memcmp(b, before, sizeof b));
    ttr_model *s;
    size_t sb = ttr_arena_bytes(ttr_model_config(m), TTR_MODE_SERVE_F32);
    void *sa = calloc(1, sb);
    cr_assert_eq(ttr_model_to_serving(m, &s, sa, sb), TTR_OK);
    cr_assert_eq(ttr_model_tensor_count(s), 0);
    cr_assert_eq(ttr_model_tensor_get(s, "rel.0.b", b, 20), TTR_ERR_UNSUPPORTED);
    cr_assert_eq(ttr_model_tensor_set(s, "rel.0.b", b, 20), TTR_ERR_UNSUPPORTED);
    cr_assert_eq(ttr_model_tensor_info(s, 0, NULL, NULL, NULL), TTR_ERR_UNSUPPORTED);
    free(sa), free(a);
}
