/* Feature statistics (ttr_feature_stats_*): the normalisation against a
 * two-pass computation in the test, merging, refusals that leave the
 * statistics and the model unchanged, and the caller's buffer. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "ttrank.h"

#define F 5
#define LD 7 /* item stride: two padding floats that must be ignored */
#define N 2000

/* Items whose features have very different means and spreads; feature 3
 * is constant, feature 4 has a mean of 1e6 and an sd near 1 (where E[x^2]
 * - E[x]^2 in double loses the variance to cancellation). */
static void make_items(float *x, size_t n, uint64_t seed)
{
    tu_rng r = tu_rng_seed(seed);
    for (size_t i = 0; i < n; i++) {
        float *xi = x + i * LD;
        xi[0] = tu_uniform(&r, -1.0f, 1.0f);
        xi[1] = 100.0f + 30.0f * tu_uniform(&r, 0.0f, 1.0f);
        xi[2] = tu_uniform(&r, 0.0f, 1e-3f);
        xi[3] = 7.0f;
        xi[4] = 1e6f + (float)(tu_u32(&r) % 5) - 2.0f;
        xi[5] = xi[6] = NAN; /* padding */
    }
}

/* Two passes in long double: the reference mean and population sd. */
static void reference(const float *x, size_t n, double *mean, double *sd)
{
    for (int t = 0; t < F; t++) {
        long double s = 0, q = 0;
        for (size_t i = 0; i < n; i++)
            s += x[i * LD + t];
        long double mu = s / n;
        for (size_t i = 0; i < n; i++)
            q += (x[i * LD + t] - mu) * (x[i * LD + t] - mu);
        mean[t] = (double)mu;
        sd[t] = sqrt((double)(q / n));
    }
}

static ttr_feature_stats *new_stats(void **buf)
{
    size_t bytes = ttr_feature_stats_bytes(F);
    cr_assert_gt(bytes, 0);
    *buf = tu_alloc(bytes, 3); /* an odd address: any alignment */
    ttr_feature_stats *s;
    cr_assert_eq(ttr_feature_stats_init(&s, F, *buf, bytes), TTR_OK);
    return s;
}

static void check_against_reference(const ttr_feature_stats *s, const float *x, size_t n)
{
    double mu[F], sd[F];
    float mean[F], scale[F];
    reference(x, n, mu, sd);
    cr_assert_eq(ttr_feature_stats_count(s), n);
    cr_assert_eq(ttr_feature_stats_normalization(s, mean, scale), TTR_OK);
    for (int t = 0; t < F; t++) {
        cr_assert(fabs(mean[t] - mu[t]) <= 1e-6 * fabs(mu[t]) + 1e-9, "mean[%d] %.9g vs %.9g", t,
                  (double)mean[t], mu[t]);
        if (sd[t] * sd[t] <= 1e-12) {
            cr_assert_eq(scale[t], 0.0f, "constant feature %d: scale %g", t, (double)scale[t]);
            continue;
        }
        double want = 1.0 / sd[t];
        cr_assert(fabs(scale[t] - want) <= 1e-5 * want, "scale[%d] %.9g vs %.9g", t,
                  (double)scale[t], want);
    }
}

Test(feature_stats, streaming_in_pieces_matches_two_passes)
{
    float *x = malloc(N * LD * sizeof *x);
    make_items(x, N, 1);
    void *buf;
    ttr_feature_stats *s = new_stats(&buf);
    /* uneven pieces, an empty one included */
    static const size_t cuts[] = {0, 1, 1, 300, 1999, N};
    for (size_t c = 0; c + 1 < sizeof cuts / sizeof cuts[0]; c++)
        cr_assert_eq(ttr_feature_stats_add(s, cuts[c + 1] - cuts[c], x + cuts[c] * LD, LD), TTR_OK);
    check_against_reference(s, x, N);
    cr_assert(tu_guard_ok(buf));
    tu_free(buf);
    free(x);
}

Test(feature_stats, merged_pieces_are_the_statistics_of_the_union)
{
    float *x = malloc(N * LD * sizeof *x);
    make_items(x, N, 2);
    void *ba, *bb, *be;
    ttr_feature_stats *a = new_stats(&ba), *b = new_stats(&bb), *empty = new_stats(&be);
    cr_assert_eq(ttr_feature_stats_add(a, 700, x, LD), TTR_OK);
    cr_assert_eq(ttr_feature_stats_add(b, N - 700, x + 700 * LD, LD), TTR_OK);
    cr_assert_eq(ttr_feature_stats_merge(a, empty), TTR_OK); /* no-op */
    cr_assert_eq(ttr_feature_stats_merge(a, b), TTR_OK);
    check_against_reference(a, x, N);
    /* into an empty one: a copy */
    cr_assert_eq(ttr_feature_stats_merge(empty, a), TTR_OK);
    check_against_reference(empty, x, N);
    /* with itself: every item twice, so the same mean and variance */
    cr_assert_eq(ttr_feature_stats_merge(b, b), TTR_OK);
    check_against_reference(a, x, N);
    cr_assert_eq(ttr_feature_stats_count(b), 2 * (N - 700));
    tu_free(ba);
    tu_free(bb);
    tu_free(be);
    free(x);
}

Test(feature_stats, refusals_change_nothing)
{
    float x[4 * LD];
    make_items(x, 4, 3);
    void *buf, *b6;
    ttr_feature_stats *s = new_stats(&buf);
    float mean[F], scale[F];
    cr_assert_eq(ttr_feature_stats_normalization(s, mean, scale), TTR_ERR_ARG); /* empty */
    cr_assert_eq(ttr_feature_stats_add(s, 4, x, LD), TTR_OK);
    float m0[F], s0[F];
    cr_assert_eq(ttr_feature_stats_normalization(s, m0, s0), TTR_OK);

    float bad[4 * LD];
    memcpy(bad, x, sizeof bad);
    bad[3 * LD + 2] = INFINITY; /* the last item: the first three must not be counted */
    cr_assert_eq(ttr_feature_stats_add(s, 4, bad, LD), TTR_ERR_NONFINITE);
    bad[3 * LD + 2] = NAN;
    cr_assert_eq(ttr_feature_stats_add(s, 4, bad, LD), TTR_ERR_NONFINITE);
    cr_assert_eq(ttr_feature_stats_add(s, 4, x, F - 1), TTR_ERR_ARG);
    cr_assert_eq(ttr_feature_stats_add(s, 4, NULL, LD), TTR_ERR_ARG);
    cr_assert_eq(ttr_feature_stats_add(s, 0, NULL, 0), TTR_OK);

    size_t bytes6 = ttr_feature_stats_bytes(F + 1);
    b6 = malloc(bytes6);
    ttr_feature_stats *s6;
    cr_assert_eq(ttr_feature_stats_init(&s6, F + 1, b6, bytes6), TTR_OK);
    cr_assert_eq(ttr_feature_stats_merge(s, s6), TTR_ERR_ARG);

    cr_assert_eq(ttr_feature_stats_count(s), 4);
    cr_assert_eq(ttr_feature_stats_normalization(s, mean, scale), TTR_OK);
    cr_assert(!memcmp(mean, m0, sizeof mean) && !memcmp(scale, s0, sizeof scale));

    ttr_feature_stats *t;
    size_t bytes = ttr_feature_stats_bytes(F);
    cr_assert_eq(ttr_feature_stats_bytes(0), 0);
    cr_assert_eq(ttr_feature_stats_bytes(65537), 0);
    cr_assert_eq(ttr_feature_stats_init(&t, F, b6, bytes - 1), TTR_ERR_NOMEM);
    cr_assert_eq(ttr_feature_stats_init(&t, 0, b6, bytes), TTR_ERR_ARG);
    cr_assert_eq(ttr_feature_stats_count(NULL), 0);
    free(b6);
    tu_free(buf);
}

Test(feature_stats, apply_sets_the_model_normalisation)
{
    float x[50 * LD];
    make_items(x, 50, 4);
    void *buf;
    ttr_feature_stats *s = new_stats(&buf);
    ttr_config c;
    ttr_config_default(&c, TTR_ADDITIVE, F);
    size_t need = ttr_arena_bytes(&c, TTR_MODE_TRAIN);
    void *arena = malloc(need);
    ttr_model *m;
    cr_assert_eq(ttr_model_init(&m, &c, TTR_MODE_TRAIN, arena, need), TTR_OK);
    float mean[F], scale[F], want_m[F], want_s[F];
    cr_assert_eq(ttr_feature_stats_apply(s, m), TTR_ERR_ARG); /* nothing added */
    ttr_get_normalization(m, mean, scale);
    for (int t = 0; t < F; t++)
        cr_assert(mean[t] == 0.0f && scale[t] == 1.0f, "model changed by a refused apply");

    cr_assert_eq(ttr_feature_stats_add(s, 50, x, LD), TTR_OK);
    cr_assert_eq(ttr_feature_stats_apply(s, m), TTR_OK);
    cr_assert_eq(ttr_feature_stats_normalization(s, want_m, want_s), TTR_OK);
    ttr_get_normalization(m, mean, scale);
    cr_assert(!memcmp(mean, want_m, sizeof mean) && !memcmp(scale, want_s, sizeof scale));

    /* another feature count, and a serving copy (normalisation folded) */
    void *b4 = malloc(ttr_feature_stats_bytes(F - 1));
    ttr_feature_stats *s4;
    cr_assert_eq(ttr_feature_stats_init(&s4, F - 1, b4, ttr_feature_stats_bytes(F - 1)), TTR_OK);
    cr_assert_eq(ttr_feature_stats_add(s4, 1, x, LD), TTR_OK);
    cr_assert_eq(ttr_feature_stats_apply(s4, m), TTR_ERR_ARG);
    size_t sneed = ttr_arena_bytes(&c, TTR_MODE_SERVE_F32);
    void *sarena = malloc(sneed);
    ttr_model *sm;
    cr_assert_eq(ttr_model_to_serving(m, &sm, sarena, sneed), TTR_OK);
    cr_assert_eq(ttr_feature_stats_apply(s, sm), TTR_ERR_UNSUPPORTED);
    ttr_get_normalization(m, mean, scale);
    cr_assert(!memcmp(mean, want_m, sizeof mean) && !memcmp(scale, want_s, sizeof scale));
    free(sarena);
    free(b4);
    free(arena);
    tu_free(buf);
}
