/* int8 kernels: the corner cases where armv7 NEON differs from IEEE.
 *
 * Advanced SIMD on armv7 always flushes denormal float inputs and results to
 * zero, while the scalar reference runs on IEEE VFP (arch/arm/gemm_s8_neon.c
 * explains how the NEON path stays bit-exact anyway). These cases put
 * denormals and near-denormals exactly where a flush would change bits:
 * quantize rows that are denormal or close to the 2^-100 switch-over, and
 * gemm epilogues with denormal / tiny scales and biases, cancellations that
 * end in a denormal, and overflowing scales. The checks are generic (every
 * mask of tu_masks() against mask 0, memcmp), so they run on every target;
 * they only have teeth on armv7 (qemu-arm emulates the flush).
 *
 * Rows whose max|x| is below 127 / FLT_MAX (inverse scale +inf) hold no zero
 * here: 0 * inf is NaN and the reference's (int8_t) of a NaN is undefined. */
#include <criterion/criterion.h>

#include <stdint.h>
#include <string.h>

#include "testutil.h"
#include "ttr_kernels.h"

static void restore_mask(void)
{
    ttr_set_cpu_mask(TTR_CPU_ALL);
}

TestSuite(neon_s8, .fini = restore_mask);

static float from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* a denormal of random magnitude and sign (never zero) */
static float denormal(tu_rng *r)
{
    return from_bits((1u + tu_u32(r) % 0x007fffffu) | (tu_u32(r) & 0x80000000u));
}

/* a float with |v| = 2^e * [1, 2), random sign */
static float pow2ish(tu_rng *r, int e)
{
    return from_bits(((uint32_t)(e + 127) << 23 | (tu_u32(r) & 0x007fffffu)) |
                     (tu_u32(r) & 0x80000000u));
}

#define NROWS 12

/* Row kinds of the quantize test. */
static void fill_row(tu_rng *r, float *x, size_t k, int kind)
{
    for (size_t t = 0; t < k; t++) {
        switch (kind) {
        case 0: /* all denormal: max|x| denormal, 127 / max|x| = inf */
            x[t] = denormal(r);
            break;
        case 1: /* denormals and tiny normals below 2^-118 (inv may be inf) */
            x[t] = t % 3 ? denormal(r) : pow2ish(r, -126 + (int)(tu_u32(r) % 8));
            break;
        case 2: /* max|x| just below / at / above 2^-100, denormals, zeros */
        case 3:
        case 4:
            x[t] = t % 4 == 0 ? 0.0f : t % 4 == 1 ? -0.0f : denormal(r);
            break;
        case 5: /* denormals in a row of max|x| ~ 2^-117: q of a denormal could reach 0.5 */
            x[t] = t % 2 ? denormal(r) : tu_uniform(r, -1.0f, 1.0f) * from_bits(0x05000000u);
            break;
        case 6: /* denormals with ordinary values */
            x[t] = t % 2 ? denormal(r) : tu_uniform(r, -2.0f, 2.0f);
            break;
        case 7: /* huge: x * inv for max|x| near FLT_MAX (inv ~ 2^-121, products denormal) */
            x[t] = t % 3 ? tu_uniform(r, -1.0f, 1.0f) * 3.0e38f : pow2ish(r, -20);
            break;
        case 8: /* exact ties at every step: max|x| = 127 * 2^-110 */
            x[t] = (float)((int)(t % 61) - 30) * 0.5f * from_bits(0x08800000u); /* 2^-110 */
            break;
        case 9: /* the smallest normal as max|x| */
            x[t] = t % 2 ? denormal(r) : from_bits(0x00800000u);
            break;
        case 10: /* denormal products of a normal row: max|x| = 2^100, tiny elements */
            x[t] = t % 2 ? pow2ish(r, -100 + (int)(tu_u32(r) % 40) - 20) : denormal(r);
            break;
        default: /* mixed magnitudes */
            x[t] = tu_uniform(r, -1.0f, 1.0f) * pow2ish(r, (int)(tu_u32(r) % 200) - 100);
            break;
        }
    }
    if (k == 0)
        return;
    if (kind == 2)
        x[k / 2] = from_bits(0x0d7fffffu); /* just below 2^-100 */
    if (kind == 3)
        x[k / 2] = from_bits(0x0d800000u); /* 2^-100 */
    if (kind == 4)
        x[k / 2] = -from_bits(0x0d800001u); /* just above */
    if (kind == 5)
        x[0] = from_bits(0x05000000u); /* 2^-117 */
    if (kind == 8)
        x[k - 1] = -127.0f * from_bits(0x08800000u);
    if (kind == 10)
        x[0] = from_bits(0x71800000u); /* 2^100 */
}

Test(neon_s8, quantize_denormals)
{
    unsigned masks[8];
    const char *names[8];
    int nm = tu_masks(masks, names);
    tu_rng rng = tu_rng_seed(41);
    static const size_t ks[] = {1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 31, 46, 64, 67};
    for (size_t ki = 0; ki < sizeof ks / sizeof ks[0]; ki++) {
        size_t k = ks[ki], kpad = TTR_S8_KPAD(k), ldx = k + 1, ldq = kpad + 3;
        float *x = tu_alloc(NROWS * ldx * sizeof(float), 4 * (ki % 8));
        for (int i = 0; i < NROWS; i++)
            fill_row(&rng, x + (size_t)i * ldx, k, i);
        int8_t *q0 = NULL;
        float s0[NROWS];
        for (int mi = 0; mi < nm; mi++) {
            int8_t *q = tu_alloc(NROWS * ldq, (size_t)mi + 1);
            float s[NROWS];
            ttr_set_cpu_mask(masks[mi]);
            ttr_quantize_s8(NROWS, k, x, ldx, q, ldq, s);
            cr_assert(tu_guard_ok(q) && tu_untouched_2d(q, 1, NROWS * ldq, NROWS, kpad, ldq),
                      "quantize %s k=%zu: wrote outside the rows", names[mi], k);
            if (mi == 0) {
                q0 = q;
                memcpy(s0, s, sizeof s);
                continue;
            }
            for (int i = 0; i < NROWS; i++) {
                cr_assert(!memcmp(q0 + (size_t)i * ldq, q + (size_t)i * ldq, kpad),
                          "quantize %s k=%zu row kind %d: q differs", names[mi], k, i);
                cr_assert(!memcmp(&s0[i], &s[i], sizeof(float)),
                          "quantize %s k=%zu row kind %d: scale differs", names[mi], k, i);
            }
            tu_free(q);
        }
        tu_free(q0);
        tu_free(x);
    }
}

/* Scale kinds for the gemm epilogue test. */
static float pick_scale(tu_rng *r, int kind)
{
    switch (kind) {
    case 0: return tu_uniform(r, 1e-4f, 0.05f);
    case 1: return denormal(r);
    case 2: return from_bits(0x26000000u - 1 + tu_u32(r) % 3); /* about 2^-51 */
    case 3: return pow2ish(r, -70 + (int)(tu_u32(r) % 30));    /* tiny normal */
    case 4: return pow2ish(r, 60 + (int)(tu_u32(r) % 8));      /* products overflow */
    default: return tu_u32(r) % 3 ? 0.0f : -0.0f;
    }
}

/* Bias kinds: ordinary, denormal, about 2^-102, tiny enough to cancel a
 * product to a denormal, -0. */
static float pick_bias(tu_rng *r, int kind)
{
    switch (kind) {
    case 0: return tu_uniform(r, -3.0f, 3.0f);
    case 1: return denormal(r);
    case 2: return from_bits((0x0c800000u - 1 + tu_u32(r) % 3) | (tu_u32(r) & 0x80000000u));
    case 3: return pow2ish(r, -125 + (int)(tu_u32(r) % 30));
    default: return -0.0f;
    }
}

Test(neon_s8, gemm_epilogue_denormals)
{
    unsigned masks[8];
    const char *names[8];
    int nm = tu_masks(masks, names);
    tu_rng rng = tu_rng_seed(42);
    static const size_t shapes[][3] = {{1, 1, 1}, {2, 5, 3}, {3, 16, 8}, {4, 17, 12},
                                       {5, 33, 46}, {6, 20, 16}};
    int rot = 0;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int xk = 0; xk < 6; xk++)
            for (int wk = 0; wk < 6; wk++, rot++) {
                size_t n = shapes[s][0], m = shapes[s][1], k = shapes[s][2];
                size_t kpad = TTR_S8_KPAD(k), ldq = kpad + 4, ldy = m + 1;
                int8_t *w = tu_alloc(m * k, 0), *pk = tu_alloc(ttr_gemm_s8_packed_size(m, k), 1);
                int8_t *q = tu_alloc(n * ldq, 2);
                float xs[8], ws[40], b[40];
                for (size_t i = 0; i < m * k; i++)
                    w[i] = (int8_t)((int)(tu_u32(&rng) % 255) - 127);
                /* small activations make small accumulators, so that a tiny
                 * product and a tiny bias can cancel */
                for (size_t i = 0; i < n * ldq; i++)
                    q[i] = (int8_t)(i % ldq < k ? (int)(tu_u32(&rng) % 5) - 2 : 0);
                cr_assert_eq(ttr_gemm_s8_pack(m, k, w, k, pk), TTR_OK);
                for (size_t i = 0; i < n; i++)
                    xs[i] = pick_scale(&rng, i % 2 ? xk : (xk + 1) % 6);
                for (size_t j = 0; j < m; j++) {
                    ws[j] = pick_scale(&rng, j % 3 ? wk : (int)(tu_u32(&rng) % 6));
                    b[j] = pick_bias(&rng, (int)((j + (size_t)rot) % 5));
                }
                if (xk == 3 && wk == 3) { /* biases that cancel tiny products */
                    xs[0] = pick_scale(&rng, 3);
                    for (size_t i = 1; i < n; i++)
                        xs[i] = xs[0];
                    for (size_t j = 0; j < m; j++) {
                        float sc = xs[0] * ws[j];
                        b[j] = -(float)(j % 3) * sc;
                    }
                }
                for (int v = 0; v < 4; v++) {
                    const float *bb = v & 1 ? b : NULL;
                    int relu = v >> 1;
                    float *y0 = NULL;
                    for (int mi = 0; mi < nm; mi++) {
                        float *y = tu_alloc((n * ldy + 2) * sizeof(float), 4 * (size_t)mi);
                        ttr_set_cpu_mask(masks[mi]);
                        ttr_gemm_s8(n, m, k, pk, q, ldq, xs, ws, bb, y, ldy, relu);
                        cr_assert(tu_guard_ok(y) && tu_untouched_2d(y, sizeof(float),
                                                                    n * ldy + 2, n, m, ldy),
                                  "gemm %s: wrote outside y", names[mi]);
                        if (mi == 0) {
                            y0 = y;
                            continue;
                        }
                        for (size_t i = 0; i < n; i++)
                            cr_assert(!memcmp(y0 + i * ldy, y + i * ldy, m * sizeof(float)),
                                      "gemm %s n=%zu m=%zu k=%zu scales %d/%d b=%d relu=%d: "
                                      "row %zu differs",
                                      names[mi], n, m, k, xk, wk, bb != NULL, relu, i);
                        tu_free(y);
                    }
                    tu_free(y0);
                }
                tu_free(w);
                tu_free(pk);
                tu_free(q);
            }
}
