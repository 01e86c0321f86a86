/* Vector helpers: exp, sigmoid, softplus (accuracy against double-precision
 * libm on every path, special values), ReLU backward and scale (exact, bit
 * for bit with the scalar reference), axpy and dot (within the header's
 * tolerance of the scalar reference and of a double sum). Sizes cover 0,
 * every tail 1..37 and large arrays; inputs are allocated at their exact size
 * and misaligned, outputs are guarded; in-place calls (y == x) are tested. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "ttr_kernels.h"

static const size_t g_mis[] = {0, 4, 12, 8};

/* Sizes: 0, every tail 1..37, and some large ones. */
static size_t size_at(size_t i)
{
    static const size_t big[] = {63, 64, 65, 100, 255, 700, 1031};
    return i <= 37 ? i : big[i - 38];
}
#define N_SIZES (38 + 7)

static int same_bits(float a, float b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

/* Interesting inputs followed by uniform values in [lo, hi). */
static void fill_inputs(tu_rng *r, float *x, size_t n, float lo, float hi)
{
    static const float special[] = {0.0f, -0.0f, 1.0f, -1.0f, 30.0f, 30.5f, -30.0f,
                                    88.72f, 88.73f, -87.33f, -87.34f, -100.0f, 100.0f,
                                    1e-8f, -1e-8f, 0.5f};
    size_t ns = sizeof special / sizeof special[0];
    for (size_t i = 0; i < n; i++)
        x[i] = (i % 5 == 3) ? special[(i / 5) % ns] : tu_uniform(r, lo, hi);
}

/* ---- element-wise maps ------------------------------------------------------ */

typedef void (*map_fn)(size_t, const float *, float *);
typedef int (*map_ok)(float x, float y); /* accuracy check of one result */

static double exp_ref(float x)
{
    return exp((double)x);
}

static int exp_ok(float x, float y)
{
    if (isnan(x))
        return isnan(y);
    if (x > 88.72283172607421875f)
        return isinf(y) && y > 0;
    if (x < -87.33654022216796875f)
        return y == 0.0f;
    double e = exp_ref(x);
    /* the stated 4e-7 holds on [-87.3, 88.7]; near the limits allow 1e-6 */
    double tol = (x >= -87.3f && x <= 88.7f) ? 4e-7 : 1e-6;
    return fabs((double)y - e) <= tol * e;
}

static double sigmoid_ref(float x)
{
    return 1.0 / (1.0 + exp(-(double)x));
}

static int sigmoid_ok(float x, float y)
{
    if (isnan(x))
        return isnan(y);
    double s = sigmoid_ref(x);
    if (!(y >= 0.0f && y <= 1.0f))
        return 0;
    double err = fabs((double)y - s);
    return err <= 1e-6 && (s < 1e-30 || err <= 1e-6 * s);
}

static double softplus_ref(float x)
{
    double v = x;
    return v > 0 ? v + log1p(exp(-v)) : log1p(exp(v));
}

static int softplus_ok(float x, float y)
{
    if (isnan(x))
        return isnan(y);
    if (isinf(x))
        return x > 0 ? (isinf(y) && y > 0) : y == 0.0f;
    double ax = fabs((double)x);
    return fabs((double)y - softplus_ref(x)) <= 2e-6 * (ax > 1.0 ? ax : 1.0);
}

static void check_map(map_fn fn, map_ok ok, float lo, float hi, const char *what)
{
    unsigned masks[8];
    const char *names[8];
    int nm = tu_masks(masks, names);
    tu_rng r = tu_rng_seed(42);
    for (size_t si = 0; si < N_SIZES; si++) {
        size_t n = size_at(si), mis = g_mis[si % 4];
        tu_exact x = tu_exact_alloc(n, mis);
        fill_inputs(&r, x.p, n, lo, hi);
        if (n > 7) {
            x.p[1] = NAN;
            x.p[2] = INFINITY;
            x.p[4] = -INFINITY;
        }
        for (int mi = 0; mi < nm; mi++) {
            ttr_set_cpu_mask(masks[mi]);
            float *y = tu_alloc(n * sizeof(float), mis);
            fn(n, x.p, y);
            cr_assert(tu_guard_ok(y), "%s path %s n=%zu: wrote out of range", what, names[mi], n);
            for (size_t i = 0; i < n; i++)
                cr_assert(ok(x.p[i], y[i]), "%s path %s n=%zu: f(%.9g) = %.9g", what, names[mi],
                          n, x.p[i], y[i]);
            /* in place gives the same bits */
            tu_exact z = tu_exact_alloc(n, mis);
            memcpy(z.p, x.p, n * sizeof(float));
            fn(n, z.p, z.p);
            for (size_t i = 0; i < n; i++)
                cr_assert(same_bits(z.p[i], y[i]), "%s path %s n=%zu: in-place differs at %zu",
                          what, names[mi], n, i);
            tu_exact_free(z);
            tu_free(y);
        }
        tu_exact_free(x);
    }
    ttr_set_cpu_mask(TTR_CPU_ALL);
}

/* A dense sweep of the whole finite range, plus every float near the edges. */
static void sweep_map(map_fn fn, map_ok ok, float lo, float hi, size_t steps, const char *what)
{
    unsigned masks[8];
    const char *names[8];
    int nm = tu_masks(masks, names);
    float *x = malloc(steps * sizeof(float)), *y = malloc(steps * sizeof(float));
    cr_assert(x && y);
    for (size_t i = 0; i < steps; i++)
        x[i] = lo + (hi - lo) * (float)i / (float)(steps - 1);
    for (int mi = 0; mi < nm; mi++) {
        ttr_set_cpu_mask(masks[mi]);
        fn(steps, x, y);
        for (size_t i = 0; i < steps; i++)
            cr_assert(ok(x[i], y[i]), "%s path %s: f(%.9g) = %.9g (ref %.9g)", what, names[mi],
                      x[i], y[i], what[0] == 'e' ? exp_ref(x[i]) : 0.0);
    }
    ttr_set_cpu_mask(TTR_CPU_ALL);
    free(x);
    free(y);
}

Test(vec, exp_accuracy_and_tails)
{
    check_map(ttr_vexp_f32, exp_ok, -90.0f, 90.0f, "exp");
    sweep_map(ttr_vexp_f32, exp_ok, -87.3f, 88.7f, 200001, "exp");
    sweep_map(ttr_vexp_f32, exp_ok, -1.0f, 1.0f, 20001, "exp");
}

Test(vec, exp_special_values)
{
    unsigned masks[8];
    const char *names[8];
    int nm = tu_masks(masks, names);
    /* the two range limits and their neighbours */
    const float hi = 88.72283172607421875f, lo = -87.33654022216796875f;
    float x[12] = {hi, nextafterf(hi, 100.0f), nextafterf(hi, 0.0f), lo, nextafterf(lo, -100.0f),
                   nextafterf(lo, 0.0f), INFINITY, -INFINITY, NAN, -1000.0f, 1000.0f, 0.0f};
    float y[12];
    for (int mi = 0; mi < nm; mi++) {
        ttr_set_cpu_mask(masks[mi]);
        ttr_vexp_f32(12, x, y);
        cr_assert(isfinite(y[0]) && y[0] > 3.4e38f, "path %s: exp(hi) = %g", names[mi], y[0]);
        cr_assert(isinf(y[1]) && y[1] > 0, "path %s: exp(hi+) = %g", names[mi], y[1]);
        cr_assert(exp_ok(x[2], y[2]), "path %s", names[mi]);
        cr_assert(y[3] >= 1.17e-38f && exp_ok(x[3], y[3]), "path %s: exp(lo) = %g", names[mi],
                  y[3]);
        cr_assert(y[4] == 0.0f, "path %s: exp(lo-) = %g (denormals flush to 0)", names[mi], y[4]);
        cr_assert(exp_ok(x[5], y[5]), "path %s", names[mi]);
        cr_assert(isinf(y[6]) && y[6] > 0, "path %s", names[mi]);
        cr_assert(y[7] == 0.0f && !signbit(y[7]), "path %s: exp(-inf) = %g", names[mi], y[7]);
        cr_assert(isnan(y[8]), "path %s: exp(NaN) = %g", names[mi], y[8]);
        cr_assert(y[9] == 0.0f && isinf(y[10]), "path %s", names[mi]);
        cr_assert(y[11] == 1.0f, "path %s: exp(0) = %.9g", names[mi], y[11]);
    }
    ttr_set_cpu_mask(TTR_CPU_ALL);
}

Test(vec, sigmoid_accuracy_and_tails)
{
    check_map(ttr_vsigmoid_f32, sigmoid_ok, -120.0f, 120.0f, "sigmoid");
    sweep_map(ttr_vsigmoid_f32, sigmoid_ok, -110.0f, 110.0f, 100001, "sigmoid");
    sweep_map(ttr_vsigmoid_f32, sigmoid_ok, -4.0f, 4.0f, 20001, "sigmoid");
}

Test(vec, softplus_accuracy_and_tails)
{
    check_map(ttr_vsoftplus_f32, softplus_ok, -120.0f, 120.0f, "softplus");
    sweep_map(ttr_vsoftplus_f32, softplus_ok, -110.0f, 110.0f, 100001, "softplus");
    sweep_map(ttr_vsoftplus_f32, softplus_ok, -4.0f, 4.0f, 20001, "softplus");
    sweep_map(ttr_vsoftplus_f32, softplus_ok, 29.0f, 31.0f, 2001, "softplus");
}

/* ---- relu_bwd and scale: exact ------------------------------------------------ */

Test(vec, relu_bwd_exact)
{
    unsigned masks[8];
    const char *names[8];
    int nm = tu_masks(masks, names);
    tu_rng r = tu_rng_seed(7);
    for (size_t si = 0; si < N_SIZES; si++) {
        size_t n = size_at(si), mis = g_mis[si % 4];
        tu_exact y = tu_exact_alloc(n, mis), dy = tu_exact_alloc(n, (mis + 4) % 16);
        tu_fill_uniform(&r, y.p, n, -1.0f, 1.0f);
        tu_fill_uniform(&r, dy.p, n, -1.0f, 1.0f);
        for (size_t i = 0; i < n; i += 7)
            y.p[i] = (i / 7) % 3 == 0 ? 0.0f : (i / 7) % 3 == 1 ? -0.0f : NAN;
        if (n > 5)
            dy.p[5] = NAN;
        float *ref = malloc((n + 1) * sizeof(float));
        ttr_set_cpu_mask(0);
        ttr_relu_bwd_f32(n, y.p, dy.p, ref);
        for (int mi = 0; mi < nm; mi++) {
            ttr_set_cpu_mask(masks[mi]);
            float *dx = tu_alloc(n * sizeof(float), mis);
            ttr_relu_bwd_f32(n, y.p, dy.p, dx);
            cr_assert(tu_guard_ok(dx), "path %s n=%zu: out of range", names[mi], n);
            for (size_t i = 0; i < n; i++)
                cr_assert(same_bits(dx[i], ref[i]), "path %s n=%zu: dx[%zu] = %g, scalar %g",
                          names[mi], n, i, dx[i], ref[i]);
            /* dx aliasing dy */
            tu_exact d2 = tu_exact_alloc(n, mis);
            memcpy(d2.p, dy.p, n * sizeof(float));
            ttr_relu_bwd_f32(n, y.p, d2.p, d2.p);
            for (size_t i = 0; i < n; i++)
                cr_assert(same_bits(d2.p[i], ref[i]), "path %s n=%zu: in place", names[mi], n);
            tu_exact_free(d2);
            tu_free(dx);
        }
        free(ref);
        tu_exact_free(y);
        tu_exact_free(dy);
    }
    ttr_set_cpu_mask(TTR_CPU_ALL);
}

Test(vec, scale_exact)
{
    unsigned masks[8];
    const char *names[8];
    int nm = tu_masks(masks, names);
    tu_rng r = tu_rng_seed(8);
    for (size_t si = 0; si < N_SIZES; si++) {
        size_t n = size_at(si), mis = g_mis[si % 4];
        float a = si % 3 == 0 ? -0.0f : tu_uniform(&r, -3.0f, 3.0f);
        float *x0 = malloc((n + 1) * sizeof(float)), *ref = malloc((n + 1) * sizeof(float));
        tu_fill_uniform(&r, x0, n, -1e3f, 1e3f);
        memcpy(ref, x0, n * sizeof(float));
        ttr_set_cpu_mask(0);
        ttr_scale_f32(n, a, ref);
        for (int mi = 0; mi < nm; mi++) {
            ttr_set_cpu_mask(masks[mi]);
            float *x = tu_alloc(n * sizeof(float), mis);
            memcpy(x, x0, n * sizeof(float));
            ttr_scale_f32(n, a, x);
            cr_assert(tu_guard_ok(x), "path %s n=%zu: out of range", names[mi], n);
            for (size_t i = 0; i < n; i++)
                cr_assert(same_bits(x[i], ref[i]), "path %s n=%zu: x[%zu]", names[mi], n, i);
            tu_free(x);
        }
        free(x0);
        free(ref);
    }
    ttr_set_cpu_mask(TTR_CPU_ALL);
}

/* ---- axpy and dot ------------------------------------------------------------- */

Test(vec, axpy_tolerance)
{
    unsigned masks[8];
    const char *names[8];
    int nm = tu_masks(masks, names);
    tu_rng r = tu_rng_seed(9);
    for (size_t si = 0; si < N_SIZES; si++) {
        size_t n = size_at(si), mis = g_mis[si % 4];
        float a = tu_uniform(&r, -2.0f, 2.0f);
        tu_exact x = tu_exact_alloc(n, (mis + 4) % 16);
        float *y0 = malloc((n + 1) * sizeof(float)), *ref = malloc((n + 1) * sizeof(float));
        tu_fill_uniform(&r, x.p, n, -1.0f, 1.0f);
        tu_fill_uniform(&r, y0, n, -1.0f, 1.0f);
        memcpy(ref, y0, n * sizeof(float));
        ttr_set_cpu_mask(0);
        ttr_axpy_f32(n, a, x.p, ref);
        for (size_t i = 0; i < n; i++) {
            double exact = (double)y0[i] + (double)a * x.p[i];
            cr_assert(fabs(ref[i] - exact) <= 1e-6 * (fabs((double)a * x.p[i]) + fabs(y0[i])));
        }
        for (int mi = 0; mi < nm; mi++) {
            ttr_set_cpu_mask(masks[mi]);
            float *y = tu_alloc(n * sizeof(float), mis);
            memcpy(y, y0, n * sizeof(float));
            ttr_axpy_f32(n, a, x.p, y);
            cr_assert(tu_guard_ok(y), "path %s n=%zu: out of range", names[mi], n);
            for (size_t i = 0; i < n; i++) {
                double tol = 1e-6 * (fabs((double)a * x.p[i]) + fabs(y0[i]));
                cr_assert(fabs((double)y[i] - ref[i]) <= tol, "path %s n=%zu: y[%zu] %.9g vs %.9g",
                          names[mi], n, i, y[i], ref[i]);
            }
            tu_free(y);
        }
        tu_exact_free(x);
        free(y0);
        free(ref);
    }
    ttr_set_cpu_mask(TTR_CPU_ALL);
}

Test(vec, dot_tolerance)
{
    unsigned masks[8];
    const char *names[8];
    int nm = tu_masks(masks, names);
    tu_rng r = tu_rng_seed(10);
    for (size_t si = 0; si < N_SIZES; si++) {
        size_t n = size_at(si), mis = g_mis[si % 4];
        tu_exact x = tu_exact_alloc(n, mis), y = tu_exact_alloc(n, (mis + 8) % 16);
        tu_fill_uniform(&r, x.p, n, -1.0f, 1.0f);
        tu_fill_uniform(&r, y.p, n, -1.0f, 1.0f);
        double exact = 0, sa = 0;
        for (size_t i = 0; i < n; i++) {
            exact += (double)x.p[i] * y.p[i];
            sa += fabs((double)x.p[i] * y.p[i]);
        }
        ttr_set_cpu_mask(0);
        float ref = ttr_dot_f32(n, x.p, y.p);
        cr_assert(fabs(ref - exact) <= (double)(n + 1) * ldexp(1.0, -24) * sa + 1e-30,
                  "scalar dot n=%zu: %.9g vs exact %.12g", n, ref, exact);
        for (int mi = 0; mi < nm; mi++) {
            ttr_set_cpu_mask(masks[mi]);
            float got = ttr_dot_f32(n, x.p, y.p);
            cr_assert(fabs((double)got - ref) <= 1e-5 * sa + 1e-30,
                      "path %s n=%zu: dot %.9g, scalar %.9g", names[mi], n, got, ref);
        }
        tu_exact_free(x);
        tu_exact_free(y);
    }
    ttr_set_cpu_mask(TTR_CPU_ALL);
}

Test(vec, isa_names)
{
    unsigned masks[8];
    const char *names[8];
    int nm = tu_masks(masks, names);
    static const ttr_kernel_id ids[] = {TTR_K_VEXP, TTR_K_VSIGMOID, TTR_K_VSOFTPLUS,
                                        TTR_K_RELU_BWD, TTR_K_AXPY, TTR_K_SCALE, TTR_K_DOT};
    for (int mi = 0; mi < nm; mi++) {
        ttr_set_cpu_mask(masks[mi]);
        for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
            const char *isa = ttr_kernel_isa(ids[i]);
            cr_assert_not_null(isa);
            if (masks[mi] == 0 || strcmp(names[mi], "avx2") == 0)
                cr_assert_str_eq(isa, names[mi], "kernel %d under %s runs %s", (int)ids[i],
                                 names[mi], isa);
        }
    }
    ttr_set_cpu_mask(TTR_CPU_ALL);
}
