/* Optimizer kernels: every path against the scalar reference, the flush of
 * tiny state to zero, tails and untouched neighbours. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "testutil.h"

typedef struct bufs {
    float *w, *g, *m, *v;
} bufs;

static bufs make(size_t n, size_t mis, uint64_t seed)
{
    bufs b;
    tu_rng r = tu_rng_seed(seed);
    b.w = tu_alloc(n * sizeof(float), mis);
    b.g = tu_alloc(n * sizeof(float), mis);
    b.m = tu_alloc(n * sizeof(float), mis);
    b.v = tu_alloc(n * sizeof(float), mis);
    for (size_t i = 0; i < n; i++) {
        b.w[i] = tu_uniform(&r, -2.0f, 2.0f);
        b.g[i] = tu_uniform(&r, -1.0f, 1.0f) * (i % 7 == 0 ? 1e-16f : 1.0f);
        b.m[i] = tu_uniform(&r, -0.1f, 0.1f) * (i % 5 == 0 ? 1e-29f : 1.0f);
        b.v[i] = tu_uniform(&r, 0.0f, 0.01f) * (i % 3 == 0 ? 1e-29f : 1.0f);
    }
    return b;
}

static void release(bufs *b)
{
    tu_free(b->w);
    tu_free(b->g);
    tu_free(b->m);
    tu_free(b->v);
}

static int guards(const bufs *b)
{
    return tu_guard_ok(b->w) && tu_guard_ok(b->g) && tu_guard_ok(b->m) && tu_guard_ok(b->v);
}

Test(optim, adam_and_momentum_match_scalar_on_every_path)
{
    static const size_t sizes[] = {0, 1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 33, 100, 1031};
    unsigned masks[8];
    const char *names[8];
    int nm = tu_masks(masks, names);
    ttr_adam_step st;
    ttr_adam_step_init(&st, 1e-3f, 0.9f, 0.999f, 1e-8f, 3);
    cr_assert(st.lr_t > 0.0f && st.eps_t > 0.0f);
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        size_t n = sizes[si];
        for (int k = 0; k < nm; k++) {
            for (int opt = 0; opt < 2; opt++) {
                bufs ref = make(n, 0, 7 + n), got = make(n, 4, 7 + n);
                float *w_init = tu_alloc(n * sizeof(float) + 4, 0);
                memcpy(w_init, ref.w, n * sizeof(float));
                ttr_set_cpu_mask(0);
                if (opt == 0)
                    ttr_adam_f32(n, ref.w, ref.g, ref.m, ref.v, 0.7f, &st);
                else
                    ttr_momentum_f32(n, ref.w, ref.g, ref.m, 0.7f, 0.01f, 0.9f);
                ttr_set_cpu_mask(masks[k]);
                if (opt == 0)
                    ttr_adam_f32(n, got.w, got.g, got.m, got.v, 0.7f, &st);
                else
                    ttr_momentum_f32(n, got.w, got.g, got.m, 0.7f, 0.01f, 0.9f);
                ttr_set_cpu_mask(TTR_CPU_ALL);
                cr_assert(guards(&got) && guards(&ref), "%s n=%zu: wrote outside", names[k], n);
                for (size_t i = 0; i < n; i++) {
                    /* state: flushed identically, else within 2e-7 relative */
                    cr_assert((ref.m[i] == 0.0f) == (got.m[i] == 0.0f) &&
                                  fabsf(got.m[i] - ref.m[i]) <= 2e-7f * fabsf(ref.m[i]),
                              "%s opt %d n=%zu i=%zu: state %g vs %g", names[k], opt, n, i,
                              got.m[i], ref.m[i]);
                    if (opt == 0)
                        cr_assert(fabsf(got.v[i] - ref.v[i]) <= 2e-7f * fabsf(ref.v[i]));
                    cr_assert(fabsf(got.m[i]) == 0.0f || fabsf(got.m[i]) >= TTR_OPT_FLUSH);
                    /* weights: the step within 1e-6 relative, plus w's own rounding */
                    double step = (double)w_init[i] - ref.w[i];
                    cr_assert(fabs((double)got.w[i] - ref.w[i]) <=
                                  1e-6 * fabs(step) + 1.2e-7 * fabs(ref.w[i]),
                              "%s opt %d n=%zu i=%zu: w %.9g vs %.9g", names[k], opt, n, i,
                              got.w[i], ref.w[i]);
                }
                tu_free(w_init);
                release(&ref);
                release(&got);
            }
        }
    }
}

Test(optim, flush_and_first_step)
{
    /* Step 1 with zero state: m = (1 - b1) g, v = (1 - b2) g^2, and the
     * update is about lr * sign(g) (the bias corrections cancel). */
    float w[4] = {1, 1, 1, 1}, g[4] = {0.5f, -2.0f, 1e-20f, 0.0f}, m[4] = {0}, v[4] = {0};
    ttr_adam_step st;
    ttr_adam_step_init(&st, 0.01f, 0.9f, 0.999f, 1e-8f, 1);
    ttr_adam_f32(4, w, g, m, v, 1.0f, &st);
    cr_assert_float_eq(w[0], 1.0f - 0.01f, 1e-6);
    cr_assert_float_eq(w[1], 1.0f + 0.01f, 1e-6);
    cr_assert_eq(v[2], 0.0f, "g^2 = 1e-40 must flush to 0");
    cr_assert(m[2] != 0.0f, "m = 1e-21 is above the flush threshold");
    cr_assert_eq(w[3], 1.0f);
    cr_assert_eq(m[3], 0.0f);
}
