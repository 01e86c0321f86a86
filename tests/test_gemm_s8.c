/* int8 kernels: ttr_quantize_s8, ttr_gemm_s8_pack, ttr_gemm_s8 / ttr_gemv_s8.
 *
 * Every vector path must be bit-exact with the scalar reference, so results
 * under each mask of tu_masks() are compared with memcmp against the mask-0
 * result; the scalar reference itself is checked against an independent
 * int64 computation. Outputs live in guarded buffers (tu_alloc) with strides
 * larger than needed, so writes outside the documented ranges are caught.
 *
 * Only the Criterion subset of tests/shim/criterion/criterion.h is used (the
 * same file runs on armv7 through the shim): many cases per Test(). */
#include <criterion/criterion.h>

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "testutil.h"
#include "dot_fixed.h"   /* ttr__dot_fixed: the output layer of gemm_s8_dot */
#include "kernel_table.h" /* ttr__gemm_s8_relu_q_c, the two-pass reference */
#include "ttr_kernels.h"

static void restore_mask(void)
{
    ttr_set_cpu_mask(TTR_CPU_ALL);
}

TestSuite(gemm_s8, .fini = restore_mask);

static const size_t k_sizes[] = {0, 1, 2, 3, 4, 5, 15, 16, 17, 31, 33, 46, 64, 100, 256, 700};
static const size_t n_sizes[] = {1, 2, 3, 4, 5, 7, 100};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static int8_t rand_s8(tu_rng *r, int lo, int hi) /* in [lo, hi] */
{
    return (int8_t)(lo + (int)(tu_u32(r) % (uint32_t)(hi - lo + 1)));
}

/* ---------------------------------------------------------------------------
 * quantize
 * ------------------------------------------------------------------------- */

/* Quantize under `mask` into fresh guarded buffers; checks sentinels. */
static void run_quantize(unsigned mask, size_t n, size_t k, const float *x, size_t ldx,
                         size_t ldq, size_t mis, int8_t **q_out, float **s_out)
{
    size_t kpad = TTR_S8_KPAD(k);
    int8_t *q = tu_alloc(n * ldq + 1, mis);
    float *s = tu_alloc(n * sizeof(float) + 1, 4 * (mis % 16)); /* floats: 4-byte aligned */
    ttr_set_cpu_mask(mask);
    ttr_quantize_s8(n, k, x, ldx, q, ldq, s);
    cr_assert(tu_guard_ok(q) && tu_guard_ok(s), "quantize n=%zu k=%zu mask=%#x: guard", n, k,
              mask);
    cr_assert(tu_untouched_2d(q, 1, n * ldq, n, kpad, ldq),
              "quantize n=%zu k=%zu mask=%#x: wrote outside rows[0, KPAD)", n, k, mask);
    for (size_t i = 0; i < n; i++)
        for (size_t t = k; t < kpad; t++)
            cr_assert_eq(q[i * ldq + t], 0, "quantize: padding not zeroed");
    *q_out = q;
    *s_out = s;
}

Test(gemm_s8, quantize_bit_exact)
{
    unsigned masks[8];
    const char *names[8];
    int nm = tu_masks(masks, names);
    tu_rng rng = tu_rng_seed(11);
    for (size_t ki = 0; ki < COUNT(k_sizes); ki++) {
        size_t k = k_sizes[ki], n = 5, ldx = k + 3, ldq = TTR_S8_KPAD(k) + 5;
        float *x = tu_alloc((n * ldx + 1) * sizeof(float), 4 * (ki % 4) + 4);
        for (size_t i = 0; i < n * ldx; i++)
            x[i] = NAN; /* the gaps between rows must never be read */
        for (size_t i = 0; i < n; i++) {
            float *xi = x + i * ldx;
            float amp = i == 3 ? 1e-30f : i == 4 ? 3e20f : 4.0f;
            tu_fill_uniform(&rng, xi, k, -amp, amp);
            if (i == 1) /* all zero, including -0 */
                for (size_t t = 0; t < k; t++)
                    xi[t] = t % 2 ? -0.0f : 0.0f;
            if (i == 2 && k > 0) { /* ties: maxabs 127 gives inv 1, so q = rne(x) */
                for (size_t t = 0; t < k; t++)
                    xi[t] = (float)((int)(t % 50) - 25) + 0.5f;
                xi[k - 1] = -127.0f;
            }
        }
        int8_t *q0, *qm;
        float *s0, *sm;
        run_quantize(0, n, k, x, ldx, ldq, 0, &q0, &s0);
        /* independent expectations for the zero row and the tie row */
        for (size_t t = 0; t < k; t++) {
            cr_assert_eq(q0[1 * ldq + t], 0);
            if (t + 1 < k) {
                int v = (int)(t % 50) - 25;      /* x = v + 0.5 */
                int even = v % 2 == 0 ? v : v + 1; /* the even neighbour of v + 0.5 */
                cr_assert_eq(q0[2 * ldq + t], even, "tie k=%zu t=%zu: %d", k, t,
                             q0[2 * ldq + t]);
            }
        }
        if (k > 0) {
            cr_assert_eq(s0[1], 0.0f);
            cr_assert_eq(s0[2], 1.0f);
        }
        for (int mi = 0; mi < nm; mi++) {
            run_quantize(masks[mi], n, k, x, ldx, ldq, (size_t)mi * 7 + 3, &qm, &sm);
            for (size_t i = 0; i < n; i++)
                cr_assert(!memcmp(q0 + i * ldq, qm + i * ldq, TTR_S8_KPAD(k)),
                          "quantize %s k=%zu row %zu: q differs", names[mi], k, i);
            cr_assert(!memcmp(s0, sm, n * sizeof(float)), "quantize %s k=%zu: scale differs",
                      names[mi], k);
            tu_free(qm);
            tu_free(sm);
        }
        tu_free(q0);
        tu_free(s0);
        tu_free(x);
    }
}

/* ---------------------------------------------------------------------------
 * pack
 * ------------------------------------------------------------------------- */

Test(gemm_s8, pack_layout_and_range)
{
    tu_rng rng = tu_rng_seed(12);
    static const size_t ms[] = {1, 3, 15, 16, 17, 33};
    static const size_t ks[] = {0, 1, 3, 4, 5, 17, 46};
    for (size_t mi = 0; mi < COUNT(ms); mi++)
        for (size_t ki = 0; ki < COUNT(ks); ki++) {
            size_t m = ms[mi], k = ks[ki], ldw = k + 2, kpad = TTR_S8_KPAD(k);
            size_t mpad = (m + 15) / 16 * 16, bytes = ttr_gemm_s8_packed_size(m, k);
            cr_assert_eq(bytes, mpad * kpad);
            int8_t *w = tu_alloc(m * ldw + 1, 1);
            for (size_t i = 0; i < m * ldw; i++)
                w[i] = rand_s8(&rng, -127, 127);
            int8_t *pk = tu_alloc(bytes + 1, 3);
            cr_assert_eq(ttr_gemm_s8_pack(m, k, w, ldw, pk), TTR_OK);
            cr_assert(tu_guard_ok(pk));
            cr_assert(tu_untouched_2d(pk, 1, bytes + 1, bytes, 1, 1)); /* nothing past the end */
            for (size_t j = 0; j < mpad; j++)
                for (size_t t = 0; t < kpad; t++) {
                    /* panel of 16 outputs, block of 4 inputs = 64 bytes, r * 4 + t % 4 */
                    size_t off = (j / 16) * 16 * kpad + (t / 4) * 64 + (j % 16) * 4 + t % 4;
                    int8_t want = j < m && t < k ? w[j * ldw + t] : 0;
                    cr_assert_eq(pk[off], want, "pack m=%zu k=%zu j=%zu t=%zu", m, k, j, t);
                }
            if (m * k > 0) { /* one -128 anywhere is rejected */
                w[(m - 1) * ldw + (k - 1) / 2] = -128;
                cr_assert_eq(ttr_gemm_s8_pack(m, k, w, ldw, pk), TTR_ERR_RANGE);
                w[0] = -128;
                cr_assert_eq(ttr_gemm_s8_pack(m, k, w, ldw, pk), TTR_ERR_RANGE);
                /* ... but -128 in the row gap beyond k is not a weight */
                w[0] = 1;
                w[(m - 1) * ldw + (k - 1) / 2] = 2;
                w[k] = -128;
                cr_assert_eq(ttr_gemm_s8_pack(m, k, w, ldw, pk), TTR_OK);
            }
            tu_free(pk);
            tu_free(w);
        }
}

/* ---------------------------------------------------------------------------
 * gemm
 * ------------------------------------------------------------------------- */

typedef struct s8_case {
    size_t n, m, k, ldq, ldy;
    int8_t *w, *packed, *q;
    float *xs, *ws, *b; /* b may be NULL */
    int relu;
} s8_case;

/* Random case; extremes: 0 random, 1 saturated (weights +-127, activations
 * -128 / 127). */
static void make_case(s8_case *c, tu_rng *r, size_t n, size_t m, size_t k, int extremes,
                      int with_b, int relu, size_t mis)
{
    size_t kpad = TTR_S8_KPAD(k);
    c->n = n;
    c->m = m;
    c->k = k;
    c->ldq = kpad + (mis % 3) * 4 + (mis % 2); /* >= KPAD, sometimes not a multiple of 4 */
    c->ldy = m + (mis % 4);
    c->relu = relu;
    c->w = tu_alloc(m * k + 1, mis);
    for (size_t i = 0; i < m * k; i++)
        c->w[i] = extremes ? (tu_u32(r) % 4 ? -127 : 127) : rand_s8(r, -127, 127);
    c->packed = tu_alloc(ttr_gemm_s8_packed_size(m, k) + 1, mis + 1);
    cr_assert_eq(ttr_gemm_s8_pack(m, k, c->w, k, c->packed), TTR_OK);
    c->q = tu_alloc(n * c->ldq + 1, mis + 2);
    for (size_t i = 0; i < n; i++)
        for (size_t t = 0; t < c->ldq; t++) {
            int8_t v = extremes ? (tu_u32(r) % 4 ? -128 : 127) : rand_s8(r, -128, 127);
            /* padding k..KPAD is zero (contract); beyond KPAD: garbage never read */
            c->q[i * c->ldq + t] = t < k ? v : t < kpad ? 0 : (int8_t)0x5a;
        }
    c->xs = tu_alloc(n * sizeof(float) + 1, 4 * ((mis + 3) % 16));
    c->ws = tu_alloc(m * sizeof(float) + 1, 4 * ((mis + 5) % 16));
    tu_fill_uniform(r, c->xs, n, 1e-4f, 0.05f);
    tu_fill_uniform(r, c->ws, m, 1e-4f, 0.05f);
    if (n > 0)
        c->xs[0] = 0.0f; /* an all-zero input row */
    c->b = NULL;
    if (with_b) {
        c->b = tu_alloc(m * sizeof(float) + 1, 4 * ((mis + 7) % 16));
        tu_fill_uniform(r, c->b, m, -3.0f, 3.0f);
    }
}

static void free_case(s8_case *c)
{
    tu_free(c->w);
    tu_free(c->packed);
    tu_free(c->q);
    tu_free(c->xs);
    tu_free(c->ws);
    tu_free(c->b);
}

/* Run ttr_gemm_s8 (or ttr_gemv_s8 when n == 1 and gemv) under `mask` into a
 * fresh guarded y; checks that only y's n x m block was written. */
static float *run_gemm(const s8_case *c, unsigned mask, size_t mis, int gemv)
{
    size_t ldy = gemv ? c->m : c->ldy;
    size_t total = c->n * ldy + 3;
    float *y = tu_alloc(total * sizeof(float), 4 * (mis % 16));
    ttr_set_cpu_mask(mask);
    if (gemv)
        ttr_gemv_s8(c->m, c->k, c->packed, c->q, c->xs[0], c->ws, c->b, y, c->relu);
    else
        ttr_gemm_s8(c->n, c->m, c->k, c->packed, c->q, c->ldq, c->xs, c->ws, c->b, y, ldy,
                    c->relu);
    cr_assert(tu_guard_ok(y), "gemm_s8 n=%zu m=%zu k=%zu mask=%#x: guard", c->n, c->m, c->k,
              mask);
    cr_assert(tu_untouched_2d(y, sizeof(float), total, c->n, c->m, ldy),
              "gemm_s8 n=%zu m=%zu k=%zu mask=%#x: wrote outside y", c->n, c->m, c->k, mask);
    return y;
}

/* y under every mask == y under mask 0, byte for byte. */
static void check_paths(const s8_case *c, const unsigned *masks, const char **names, int nm,
                        int gemv)
{
    size_t ldy = gemv ? c->m : c->ldy;
    float *ref = run_gemm(c, 0, 0, gemv);
    for (int mi = 1; mi < nm; mi++) {
        float *y = run_gemm(c, masks[mi], (size_t)mi * 4 + 1, gemv);
        for (size_t i = 0; i < c->n; i++)
            cr_assert(!memcmp(y + i * ldy, ref + i * ldy, c->m * sizeof(float)),
                      "gemm_s8 %s n=%zu m=%zu k=%zu relu=%d b=%d: row %zu differs", names[mi],
                      c->n, c->m, c->k, c->relu, c->b != NULL, i);
        tu_free(y);
    }
    tu_free(ref);
}

Test(gemm_s8, gemm_bit_exact_all_shapes)
{
    unsigned masks[8];
    const char *names[8];
    int nm = tu_masks(masks, names);
    tu_rng rng = tu_rng_seed(13);
    size_t rot = 0;
    for (size_t mi = 0; mi < COUNT(k_sizes); mi++)
        for (size_t ki = 0; ki < COUNT(k_sizes); ki++) {
            size_t m = k_sizes[mi], k = k_sizes[ki];
            if (m == 0)
                continue; /* covered below */
            /* rotate through the batch sizes, smaller batches for the big shapes */
            size_t n = n_sizes[rot++ % COUNT(n_sizes)];
            while (n > 1 && n * m * k > 400000)
                n /= 2;
            s8_case c;
            make_case(&c, &rng, n, m, k, 0, rot % 3 != 0, (int)(rot % 2), rot % 64);
            check_paths(&c, masks, names, nm, 0);
            free_case(&c);
        }
    /* every batch size on a few shapes (full register tiles and remainders) */
    static const size_t shapes[][2] = {{17, 33}, {46, 64}, {64, 46}, {1, 1}, {16, 4}};
    for (size_t s = 0; s < COUNT(shapes); s++)
        for (size_t ni = 0; ni < COUNT(n_sizes); ni++) {
            s8_case c;
            make_case(&c, &rng, n_sizes[ni], shapes[s][0], shapes[s][1], 0, (int)(ni % 2),
                      (int)(s % 2), ni + s);
            check_paths(&c, masks, names, nm, 0);
            free_case(&c);
        }
    /* sizes 0: nothing is written */
    for (int mi = 0; mi < nm; mi++) {
        float *y = tu_alloc(64, 0);
        int8_t pk[64] = {0}, q[64] = {0};
        float xs[4] = {1, 1, 1, 1}, ws[4] = {1, 1, 1, 1};
        ttr_set_cpu_mask(masks[mi]);
        ttr_gemm_s8(0, 3, 4, pk, q, 4, xs, ws, NULL, y, 3, 0);
        ttr_gemm_s8(3, 0, 4, pk, q, 4, xs, ws, NULL, y, 3, 0);
        cr_assert(tu_guard_ok(y) && tu_untouched_2d(y, 1, 64, 0, 0, 1), "%s: size 0 wrote",
                  names[mi]);
        tu_free(y);
    }
}

Test(gemm_s8, gemv_and_extremes)
{
    unsigned masks[8];
    const char *names[8];
    int nm = tu_masks(masks, names);
    tu_rng rng = tu_rng_seed(14);
    /* ttr_gemv_s8, both relu settings, with and without bias */
    static const size_t gv[][2] = {{1, 1}, {7, 5}, {16, 16}, {33, 46}, {64, 46}, {256, 256},
                                   {100, 700}};
    for (size_t s = 0; s < COUNT(gv); s++)
        for (int v = 0; v < 4; v++) {
            s8_case c;
            make_case(&c, &rng, 1, gv[s][0], gv[s][1], 0, v & 1, v >> 1, s + (size_t)v);
            c.xs[0] = 0.01f;
            check_paths(&c, masks, names, nm, 1);
            free_case(&c);
        }
    /* saturated operands, long k (int32 accumulation) */
    /* (the AVX2 and AVX-VNNI paths precompute |q| for 4 rows up to k = 1024, 1 row up
     * to 4096; beyond, they take |q| per block: also for layers of > 64 outputs) */
    static const size_t ex[][3] = {{5, 17, 4096}, {3, 16, 4093}, {9, 33, 64}, {4, 3, 255},
                                   {4, 20, 1024}, {4, 20, 1028}, {5, 17, 1500}, {1, 18, 4100},
                                   {4, 65, 1100}, {5, 80, 4100}, {1, 70, 4100}};
    for (size_t s = 0; s < COUNT(ex); s++)
        for (int v = 0; v < 2; v++) {
            s8_case c;
            make_case(&c, &rng, ex[s][0], ex[s][1], ex[s][2], 1, v, v, s * 2 + (size_t)v);
            check_paths(&c, masks, names, nm, 0);
            free_case(&c);
        }
    /* the worst case of the int16 pair sums: w = -127, q = -128 everywhere
     * (each maddubs lane would be 2 * 128 * 127 = 32512) and w = 127, q = -128 */
    for (int sign = 0; sign < 2; sign++) {
        s8_case c;
        make_case(&c, &rng, 5, 16, 4096, 1, 1, 0, 9);
        for (size_t i = 0; i < 16 * 4096; i++)
            c.w[i] = sign ? 127 : -127;
        cr_assert_eq(ttr_gemm_s8_pack(16, 4096, c.w, 4096, c.packed), TTR_OK);
        for (size_t i = 0; i < 5; i++)
            for (size_t t = 0; t < 4096; t++)
                c.q[i * c.ldq + t] = -128;
        for (size_t i = 0; i < 5; i++)
            c.xs[i] = 1.0f;
        for (size_t j = 0; j < 16; j++)
            c.ws[j] = 1.0f;
        for (int mi = 0; mi < nm; mi++) {
            float *y = run_gemm(&c, masks[mi], 5, 0);
            float want = (sign ? -1.0f : 1.0f) * 4096.0f * 128.0f * 127.0f; /* exact in f32 */
            for (size_t i = 0; i < 5; i++)
                for (size_t j = 0; j < 16; j++)
                    cr_assert_eq(y[i * c.ldy + j], want + c.b[j], "%s sat: y[%zu][%zu] = %.9g",
                                 names[mi], i, j, (double)y[i * c.ldy + j]);
            tu_free(y);
        }
        free_case(&c);
    }
}

/* k = 2^16, the header's limit, with the largest products (w = -127 and 127
 * per output, all k alike). Rows of q: 0, 1 all -128: |acc| = 65536 * 128 *
 * 127 = 127 * 2^23, exact in int32 and f32, on every path (an int32 lane of
 * vpdpbusd or madd adds 4 products a step); 2: 127 but q[k-1] = -128, and
 * 3: -128, 127 alternating, which on AVX-VNNI (a call of 3 items or more)
 * take the bias encoding: u = q + 128 is 255 nearly everywhere in row 2
 * (|sum u * w| = 127 * (255 * 65535 + 0) = 2122350975, 98.8% of 2^31), and
 * row 3's small sum (127 * 32768 in magnitude, exact in f32) shows an error
 * of 1 in the start. m = 17 and 64: 2 and 4 panels, the two loops of the register path. */
Test(gemm_s8, int32_bound_at_k_limit)
{
    unsigned masks[8];
    const char *names[8];
    int nm = tu_masks(masks, names);
    const size_t n = 4, k = 65536;
    static const size_t ms[] = {17, 64};
    int8_t *q = tu_alloc(n * k, 2);
    int64_t qsum[4] = {0};
    memset(q, -128, 2 * k);
    memset(q + 2 * k, 127, k);
    q[3 * k - 1] = -128;
    for (size_t t = 0; t < k; t++)
        q[3 * k + t] = t % 2 ? 127 : -128;
    for (size_t i = 0; i < n; i++)
        for (size_t t = 0; t < k; t++)
            qsum[i] += q[i * k + t];
    for (size_t mi = 0; mi < COUNT(ms); mi++) {
        const size_t m = ms[mi];
        int8_t *w = tu_alloc(m * k, 0), *packed = tu_alloc(ttr_gemm_s8_packed_size(m, k), 1);
        float xs[4] = {1.0f, 1.0f, 1.0f, 1.0f}, ws[64];
        for (size_t j = 0; j < m; j++) {
            ws[j] = 1.0f;
            memset(w + j * k, j % 2 ? 127 : -127, k);
        }
        cr_assert_eq(ttr_gemm_s8_pack(m, k, w, k, packed), TTR_OK);
        for (int mi2 = 0; mi2 < nm; mi2++) {
            float *y = tu_alloc(n * m * sizeof(float), 12);
            ttr_set_cpu_mask(masks[mi2]);
            ttr_gemm_s8(n, m, k, packed, q, k, xs, ws, NULL, y, m, 0);
            cr_assert(tu_guard_ok(y));
            for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < m; j++) {
                    int64_t acc = (j % 2 ? 127 : -127) * qsum[i];
                    cr_assert(acc < INT32_MAX && acc > INT32_MIN);
                    cr_assert_eq(y[i * m + j], (float)acc, "%s m=%zu: y[%zu][%zu] = %.9g",
                                 names[mi2], m, i, j, (double)y[i * m + j]);
                }
            tu_free(y);
        }
        tu_free(w);
        tu_free(packed);
    }
    tu_free(q);
}

/* The scalar reference against an independent int64 computation on the
 * unpacked weights, with the epilogue spelled out here. */
Test(gemm_s8, reference_vs_int64)
{
    tu_rng rng = tu_rng_seed(15);
    static const size_t sh[][3] = {{3, 1, 1}, {4, 17, 5}, {2, 33, 46}, {5, 16, 256},
                                   {2, 3, 4096}, {1, 64, 700}};
    for (size_t s = 0; s < COUNT(sh); s++)
        for (int v = 0; v < 4; v++) {
            s8_case c;
            make_case(&c, &rng, sh[s][0], sh[s][1], sh[s][2], v >= 2, v & 1, v & 1, s);
            float *y = run_gemm(&c, 0, 0, 0);
            for (size_t i = 0; i < c.n; i++)
                for (size_t j = 0; j < c.m; j++) {
                    int64_t acc = 0;
                    for (size_t t = 0; t < c.k; t++)
                        acc += (int64_t)c.w[j * c.k + t] * (int64_t)c.q[i * c.ldq + t];
                    cr_assert(acc < INT32_MAX && acc > INT32_MIN);
                    volatile float sc = c.xs[i] * c.ws[j];
                    volatile float want = (float)acc * sc;
                    want = want + (c.b ? c.b[j] : 0.0f);
                    if (c.relu && !(want > 0.0f))
                        want = 0.0f;
                    float got = y[i * c.ldy + j], wnt = want;
                    cr_assert(!memcmp(&got, &wnt, sizeof got),
                              "ref n=%zu m=%zu k=%zu [%zu][%zu]: %.9g vs %.9g", c.n, c.m, c.k, i,
                              j, (double)got, (double)want);
                }
            tu_free(y);
            free_case(&c);
        }
}

/* ---------------------------------------------------------------------------
 * non-negative rows (the AVX2 u8 path), quantize of non-finite rows, and
 * ttr_gemm_s8_relu_q
 * ------------------------------------------------------------------------- */

/* Rows of q: pattern 0 random signed, 1 all in [0, 127], 2 all 127,
 * 3 alternating rows of 0 and 1, 4 [0, 127] but one -1 at the end of k,
 * 5 alternating rows of 1 and 0. */
static void set_rows(s8_case *c, tu_rng *r, int pattern)
{
    size_t kpad = TTR_S8_KPAD(c->k);
    for (size_t i = 0; i < c->n; i++) {
        int p = pattern == 3 ? (int)(i % 2) : pattern == 5 ? (int)(1 - i % 2) : pattern;
        for (size_t t = 0; t < c->k; t++) {
            int8_t v = p == 0 ? rand_s8(r, -128, 127) : p == 2 ? 127 : rand_s8(r, 0, 127);
            c->q[i * c->ldq + t] = v;
        }
        if (p == 4 && c->k > 0)
            c->q[i * c->ldq + c->k - 1] = -1;
        for (size_t t = c->k; t < kpad; t++)
            c->q[i * c->ldq + t] = 0;
    }
}

Test(gemm_s8, nonnegative_rows_bit_exact)
{
    unsigned masks[8];
    const char *names[8];
    int nm = tu_masks(masks, names);
    tu_rng rng = tu_rng_seed(16);
    static const size_t ms[] = {1, 7, 8, 16, 17, 32, 33, 46, 63, 64, 65, 100};
    static const size_t ks[] = {1, 4, 5, 46, 64, 100, 257};
    size_t rot = 0;
    for (size_t mi = 0; mi < COUNT(ms); mi++)
        for (size_t ki = 0; ki < COUNT(ks); ki++)
            for (int pat = 1; pat <= 4; pat++) {
                size_t n = n_sizes[rot++ % COUNT(n_sizes)];
                s8_case c;
                make_case(&c, &rng, n, ms[mi], ks[ki], pat == 2, (int)(rot % 2), (int)(rot % 3 != 0),
                          rot % 64);
                set_rows(&c, &rng, pat);
                check_paths(&c, masks, names, nm, 0);
                free_case(&c);
            }
    /* the u8 worst case: every maddubs lane 2 * 127 * 127 = 32258, long k */
    for (int sign = 0; sign < 2; sign++) {
        s8_case c;
        make_case(&c, &rng, 5, 64, 4096, 1, 1, 0, 3);
        for (size_t i = 0; i < 64 * 4096; i++)
            c.w[i] = sign ? 127 : -127;
        cr_assert_eq(ttr_gemm_s8_pack(64, 4096, c.w, 4096, c.packed), TTR_OK);
        set_rows(&c, &rng, 2);
        for (size_t i = 0; i < 5; i++)
            c.xs[i] = 1.0f;
        for (size_t j = 0; j < 64; j++)
            c.ws[j] = 1.0f;
        for (int mi = 0; mi < nm; mi++) {
            float *y = run_gemm(&c, masks[mi], 5, 0);
            float want = (sign ? 1.0f : -1.0f) * 4096.0f * 127.0f * 127.0f; /* exact in f32 */
            for (size_t i = 0; i < 5; i++)
                for (size_t j = 0; j < 64; j++)
                    cr_assert_eq(y[i * c.ldy + j], want + c.b[j], "%s u8 sat: y[%zu][%zu]",
                                 names[mi], i, j);
            tu_free(y);
        }
        free_case(&c);
    }
}

Test(gemm_s8, quantize_nonfinite_rows)
{
    unsigned masks[8];
    const char *names[8];
    int nm = tu_masks(masks, names);
    tu_rng rng = tu_rng_seed(17);
    static const size_t ks[] = {1, 7, 8, 9, 31, 46, 64, 100};
    const float bad[] = {NAN, -NAN, INFINITY, -INFINITY};
    for (size_t ki = 0; ki < COUNT(ks); ki++) {
        size_t k = ks[ki], n = 11, ldq = TTR_S8_KPAD(k) + 1;
        float *x = tu_alloc(n * k * sizeof(float) + 4, 0);
        tu_fill_uniform(&rng, x, n * k, -2.0f, 2.0f);
        /* rows 1..8: one bad value at a rotating place; row 9 also huge values */
        for (size_t i = 1; i <= 8; i++)
            x[i * k + (i * 5) % k] = bad[i % 4];
        x[9 * k] = 3e38f;
        x[9 * k + (k - 1)] = bad[(ki + 1) % 4];
        for (int mi = -1; mi < nm; mi++) {
            int8_t *q;
            float *s;
            run_quantize(mi < 0 ? 0 : masks[mi], n, k, x, k, ldq, 1, &q, &s);
            for (size_t i = 0; i < n; i++) {
                int nonfinite = i >= 1 && i <= 9;
                uint32_t bits;
                memcpy(&bits, &s[i], sizeof bits);
                if (nonfinite) {
                    cr_assert_eq(bits, 0x7fc00000u, "%s k=%zu row %zu: scale bits %#x",
                                 mi < 0 ? "scalar" : names[mi], k, i, bits);
                    for (size_t t = 0; t < TTR_S8_KPAD(k); t++)
                        cr_assert_eq(q[i * ldq + t], 0);
                } else {
                    cr_assert(s[i] > 0.0f && s[i] == s[i], "row %zu: finite row's scale", i);
                }
            }
            tu_free(q);
            tu_free(s);
        }
        tu_free(x);
    }
}

/* ---------------------------------------------------------------------------
 * quantize_norm: normalise-and-quantize in one pass
 * ------------------------------------------------------------------------- */

/* ttr_quantize_norm_s8 under `mask` into fresh guarded buffers. */
static void run_quantize_norm(unsigned mask, size_t n, size_t k, const float *x, size_t ldx,
                              const float *mean, const float *nscale, size_t ldq, size_t mis,
                              int8_t **q_out, float **s_out)
{
    size_t kpad = TTR_S8_KPAD(k);
    int8_t *q = tu_alloc(n * ldq + 1, mis);
    float *s = tu_alloc(n * sizeof(float) + 1, 4 * (mis % 16));
    ttr_set_cpu_mask(mask);
    ttr_quantize_norm_s8(n, k, x, ldx, mean, nscale, q, ldq, s);
    cr_assert(tu_guard_ok(q) && tu_guard_ok(s), "quantize_norm n=%zu k=%zu mask=%#x: guard", n,
              k, mask);
    cr_assert(tu_untouched_2d(q, 1, n * ldq, n, kpad, ldq),
              "quantize_norm n=%zu k=%zu mask=%#x: wrote outside rows[0, KPAD)", n, k, mask);
    *q_out = q;
    *s_out = s;
}

/* The definition: normalise into a buffer (subtract, then multiply: two
 * statements, so no compiler fuses them), then the scalar ttr_quantize_s8. */
static void quantize_norm_expected(size_t n, size_t k, const float *x, size_t ldx,
                                   const float *mean, const float *nscale, int8_t *q, size_t ldq,
                                   float *s)
{
    float *v = tu_alloc((n * k + 1) * sizeof(float), 0);
    for (size_t i = 0; i < n; i++)
        for (size_t t = 0; t < k; t++) {
            float d = x[i * ldx + t] - mean[t];
            v[i * k + t] = d * nscale[t];
        }
    ttr__quantize_s8_c(n, k, v, k, q, ldq, s);
    tu_free(v);
}

Test(gemm_s8, quantize_norm_bit_exact)
{
    unsigned masks[8];
    const char *names[8];
    int nm = tu_masks(masks, names);
    tu_rng rng = tu_rng_seed(23);
    /* 1100 > the composite's 1024-float buffer: its fallback to the reference */
    static const size_t ks[] = {0, 1, 3, 4, 7, 8, 9, 15, 16, 17, 31, 32, 33, 46, 64, 100, 700, 1100};
    static const size_t ns[] = {1, 5, 13};
    for (size_t ki = 0; ki < COUNT(ks); ki++) {
        for (size_t ni = 0; ni < COUNT(ns); ni++) {
            size_t k = ks[ki], n = ns[ni], ldx = k + 3, ldq = TTR_S8_KPAD(k) + 5;
            float *x = tu_alloc((n * ldx + 1) * sizeof(float), 4 * (ki % 4) + 4);
            float *mean = tu_alloc(k * sizeof(float) + 4, 4 * (ni % 4));
            float *nscale = tu_alloc(k * sizeof(float) + 4, 4);
            for (size_t i = 0; i < n * ldx; i++)
                x[i] = NAN; /* the gaps between rows must never be read */
            tu_fill_uniform(&rng, mean, k, -3.0f, 3.0f);
            tu_fill_uniform(&rng, nscale, k, 0.01f, 4.0f);
            if (k >= 1)
                nscale[k - 1] = 2.0f; /* -3e38 there overflows (row 3) */
            if (k >= 2)
                nscale[0] = 1e-38f; /* feature 0 normalises to subnormals in every row */
            for (size_t i = 0; i < n; i++) {
                float *xi = x + i * ldx;
                tu_fill_uniform(&rng, xi, k, -5.0f, 5.0f);
                if (k == 0)
                    continue;
                switch (i % 13) {
                case 1: /* every value at its mean: normalised row all zero (scale 0) */
                    memcpy(xi, mean, k * sizeof(float));
                    break;
                case 2: /* a NaN feature */
                    xi[(i * 7) % k] = NAN;
                    break;
                case 3: /* finite input whose normalised value overflows to -Inf */
                    xi[k - 1] = -3e38f;
                    break;
                case 4: /* k >= 2: only feature 0 off its mean: max |v| subnormal (scale 0) */
                    memcpy(xi, mean, k * sizeof(float));
                    xi[0] = mean[0] + 1.0f;
                    break;
                case 5: /* an infinite feature */
                    xi[0] = -INFINITY;
                    break;
                default:
                    break;
                }
            }
            int8_t *q0 = tu_alloc(n * ldq + 1, 0), *qm;
            float *s0 = tu_alloc(n * sizeof(float) + 1, 0), *sm;
            quantize_norm_expected(n, k, x, ldx, mean, nscale, q0, ldq, s0);
            for (int mi = -1; mi < nm; mi++) {
                const char *name = mi < 0 ? "scalar" : names[mi];
                run_quantize_norm(mi < 0 ? 0 : masks[mi], n, k, x, ldx, mean, nscale, ldq,
                                  (size_t)(mi + 1) * 5 + 1, &qm, &sm);
                for (size_t i = 0; i < n; i++)
                    cr_assert(!memcmp(q0 + i * ldq, qm + i * ldq, TTR_S8_KPAD(k)),
                              "quantize_norm %s n=%zu k=%zu row %zu: q differs", name, n, k, i);
                cr_assert(!memcmp(s0, sm, n * sizeof(float)),
                          "quantize_norm %s n=%zu k=%zu: scale bits differ", name, n, k);
                tu_free(qm);
                tu_free(sm);
            }
            /* the cases above are what they say (in the scalar result) */
            for (size_t i = 0; i < n && k > 0; i++) {
                uint32_t bits;
                memcpy(&bits, &s0[i], sizeof bits);
                if (i % 13 == 1 || (i % 13 == 4 && k >= 2))
                    cr_assert_eq(bits, 0u, "k=%zu row %zu: max |v| below the range", k, i);
                else if (i % 13 == 2 || i % 13 == 3 || i % 13 == 5)
                    cr_assert_eq(bits, 0x7fc00000u, "k=%zu row %zu: non-finite", k, i);
                else
                    cr_assert(s0[i] > 0.0f, "k=%zu row %zu: finite row", k, i);
            }
            tu_free(q0);
            tu_free(s0);
            tu_free(nscale);
            tu_free(mean);
            tu_free(x);
        }
    }
}

/* ttr_gemm_s8_relu_q under `mask` into fresh guarded buffers; checks that
 * only bytes [0, KPAD(m)) of each output row and oscale[0..n) are written. */
static void run_relu_q(const s8_case *c, unsigned mask, size_t mis, size_t ldqo, int8_t **qo_out,
                       float **os_out)
{
    size_t total = c->n * ldqo + 5;
    int8_t *qo = tu_alloc(total, mis);
    float *os = tu_alloc(c->n * sizeof(float) + 4, 4 * (mis % 8));
    ttr_set_cpu_mask(mask);
    ttr_gemm_s8_relu_q(c->n, c->m, c->k, c->packed, c->q, c->ldq, c->xs, c->ws, c->b, qo, ldqo,
                       os);
    cr_assert(tu_guard_ok(qo) && tu_guard_ok(os), "relu_q n=%zu m=%zu k=%zu mask=%#x: guard",
              c->n, c->m, c->k, mask);
    cr_assert(tu_untouched_2d(qo, 1, total, c->n, TTR_S8_KPAD(c->m), ldqo),
              "relu_q n=%zu m=%zu k=%zu mask=%#x: wrote outside rows[0, KPAD(m))", c->n, c->m,
              c->k, mask);
    cr_assert(tu_untouched_2d(os, sizeof(float), c->n + 1, c->n, 1, 1),
              "relu_q: wrote past oscale[n-1]");
    *qo_out = qo;
    *os_out = os;
}

/* The definition (ttr_gemm_s8 with ReLU, then ttr_quantize_s8) under mask
 * 0 and the two-pass reference (ttr__gemm_s8_relu_q_c: the scalar table
 * composes gemm_s8 and quantize_s8, so its output alone would prove
 * nothing) against mask 0's output, then every path against it. */
static void check_relu_q(const s8_case *c, const unsigned *masks, const char **names, int nm,
                         size_t rot)
{
    size_t mpad = TTR_S8_KPAD(c->m), ldqo = mpad + rot % 5;
    int8_t *q0, *qm;
    float *s0, *sm;
    run_relu_q(c, 0, 0, ldqo, &q0, &s0);
    {
        float *y = tu_alloc(c->n * (c->m + 1) * sizeof(float) + 4, 0);
        int8_t *qd = tu_alloc(c->n * ldqo + 1, 0);
        float *sd = tu_alloc(c->n * sizeof(float) + 4, 0);
        ttr_set_cpu_mask(0);
        ttr_gemm_s8(c->n, c->m, c->k, c->packed, c->q, c->ldq, c->xs, c->ws, c->b, y, c->m + 1, 1);
        ttr_quantize_s8(c->n, c->m, y, c->m + 1, qd, ldqo, sd);
        for (size_t i = 0; i < c->n; i++) {
            cr_assert(!memcmp(q0 + i * ldqo, qd + i * ldqo, mpad),
                      "relu_q ref n=%zu m=%zu k=%zu: row %zu is not gemm_s8 + quantize_s8", c->n,
                      c->m, c->k, i);
            for (size_t j = 0; j < c->m; j++)
                cr_assert(q0[i * ldqo + j] >= 0, "relu_q: negative output");
        }
        cr_assert(!memcmp(s0, sd, c->n * sizeof(float)), "relu_q ref: scales differ");
        ttr__gemm_s8_relu_q_c(c->n, c->m, c->k, c->packed, c->q, c->ldq, c->xs, c->ws, c->b, qd,
                              ldqo, sd);
        for (size_t i = 0; i < c->n; i++)
            cr_assert(!memcmp(q0 + i * ldqo, qd + i * ldqo, mpad),
                      "relu_q n=%zu m=%zu k=%zu: row %zu differs from the two-pass reference",
                      c->n, c->m, c->k, i);
        cr_assert(!memcmp(s0, sd, c->n * sizeof(float)), "relu_q two-pass reference: scales");
        tu_free(y);
        tu_free(qd);
        tu_free(sd);
    }
    for (int mi = 0; mi < nm; mi++) {
        run_relu_q(c, masks[mi], (size_t)mi * 5 + 1 + rot % 3, ldqo, &qm, &sm);
        for (size_t i = 0; i < c->n; i++)
            cr_assert(!memcmp(q0 + i * ldqo, qm + i * ldqo, mpad),
                      "relu_q %s n=%zu m=%zu k=%zu b=%d: row %zu differs", names[mi], c->n, c->m,
                      c->k, c->b != NULL, i);
        cr_assert(!memcmp(s0, sm, c->n * sizeof(float)), "relu_q %s n=%zu m=%zu k=%zu: scales",
                  names[mi], c->n, c->m, c->k);
        tu_free(qm);
        tu_free(sm);
    }
    tu_free(q0);
    tu_free(s0);
}

Test(gemm_s8, relu_q_bit_exact)
{
    unsigned masks[8];
    const char *names[8];
    int nm = tu_masks(masks, names);
    tu_rng rng = tu_rng_seed(18);
    static const size_t ms[] = {1, 3, 8, 15, 16, 17, 31, 32, 33, 46, 48, 63, 64, 65, 100, 300};
    static const size_t ks[] = {1, 3, 4, 17, 46, 64, 130};
    size_t rot = 0;
    for (size_t mi = 0; mi < COUNT(ms); mi++)
        for (size_t ki = 0; ki < COUNT(ks); ki++) {
            int pat = (int)(rot % 5);
            size_t n = n_sizes[rot % COUNT(n_sizes)];
            while (n > 1 && n * ms[mi] * ks[ki] > 200000)
                n /= 2;
            s8_case c;
            /* biases around 0: some outputs (and some whole rows) ReLU to 0 */
            make_case(&c, &rng, n, ms[mi], ks[ki], pat == 2, rot % 4 != 0, 1, rot % 64);
            set_rows(&c, &rng, pat);
            if (rot % 7 == 3 && c.b) /* whole rows of zeros: scale 0 */
                for (size_t j = 0; j < c.m; j++)
                    c.b[j] = -1e30f;
            check_relu_q(&c, masks, names, nm, rot);
            free_case(&c);
            rot++;
        }
    /* wider than the stack buffer of the composite path */
    {
        s8_case c;
        make_case(&c, &rng, 3, 1030, 9, 0, 1, 1, 7);
        set_rows(&c, &rng, 1);
        check_relu_q(&c, masks, names, nm, 1);
        free_case(&c);
    }
    /* sizes 0: n = 0 writes nothing; m = 0 writes only the scales (0) */
    for (int mi = 0; mi < nm; mi++) {
        int8_t *qo = tu_alloc(64, 0);
        float *os = tu_alloc(64, 0);
        int8_t pk[64] = {0}, q[64] = {0};
        float xs[4] = {1, 1, 1, 1}, ws[4] = {1, 1, 1, 1};
        ttr_set_cpu_mask(masks[mi]);
        ttr_gemm_s8_relu_q(0, 3, 4, pk, q, 4, xs, ws, NULL, qo, 4, os);
        cr_assert(tu_untouched_2d(qo, 1, 64, 0, 0, 1) && tu_untouched_2d(os, 1, 64, 0, 0, 1),
                  "%s: n = 0 wrote", names[mi]);
        ttr_gemm_s8_relu_q(3, 0, 4, pk, q, 4, xs, ws, NULL, qo, 4, os);
        cr_assert(tu_untouched_2d(qo, 1, 64, 0, 0, 1), "%s: m = 0 wrote bytes", names[mi]);
        for (int i = 0; i < 3; i++)
            cr_assert_eq(os[i], 0.0f);
        cr_assert(tu_guard_ok(qo) && tu_guard_ok(os));
        tu_free(qo);
        tu_free(os);
    }
}

/* Signed rows through the register path (m <= 64) of each panel count, for
 * ttr_gemm_s8 and ttr_gemm_s8_relu_q. On AVX-VNNI, calls of 3 items or more
 * take such rows as q ^ 0x80 (q + 128, unsigned) from a start of -128 * the
 * column sums, which the call's first signed row computes; calls of 1 or 2
 * items keep the sign trick. Rows: pattern 0 all signed; 3 signed first,
 * then alternating with [0, 127] rows; 5 the other way round (the start
 * is computed at item 1, then reused); 6 saturated operands (weights +-127)
 * by rows of 4: random -128 / 127, all 127 (no negative byte), all -128
 * (u = 0) and 127 but one -128 (u = 255 nearly everywhere). */
Test(gemm_s8, signed_rows_register_path)
{
    unsigned masks[8];
    const char *names[8];
    int nm = tu_masks(masks, names);
    tu_rng rng = tu_rng_seed(19);
    static const size_t ms[] = {1, 16, 17, 32, 33, 48, 63, 64};
    static const size_t ns[] = {1, 2, 3, 5, 100};
    static const size_t ks[] = {1, 5, 46, 64, 257};
    static const int pats[] = {0, 3, 5, 6};
    size_t rot = 0;
    for (size_t mi = 0; mi < COUNT(ms); mi++)
        for (size_t ni = 0; ni < COUNT(ns); ni++)
            for (size_t ki = 0; ki < COUNT(ks); ki++)
                for (size_t pi = 0; pi < COUNT(pats); pi++, rot++) {
                    const int pat = pats[pi];
                    const size_t n = ns[ni], k = ks[ki];
                    s8_case c;
                    make_case(&c, &rng, n, ms[mi], k, pat == 6, rot % 3 != 0, (int)(rot % 2),
                              rot % 64);
                    if (pat == 6) {
                        for (size_t i = 0; i < n; i++) {
                            int8_t *qi = c.q + i * c.ldq;
                            if (i % 4 == 1)
                                memset(qi, 127, k);
                            else if (i % 4 == 2)
                                memset(qi, -128, k);
                            else if (i % 4 == 3) {
                                memset(qi, 127, k);
                                qi[k / 2] = -128;
                            }
                        }
                    } else {
                        set_rows(&c, &rng, pat);
                    }
                    check_paths(&c, masks, names, nm, 0);
                    check_relu_q(&c, masks, names, nm, rot);
                    free_case(&c);
                }
}

/* gemm_s8_dot (the table's internal entry for the last int8 layer and the
 * f32 output layer of one output) under every mask against its
 * definition: ttr_gemm_s8 with ReLU under mask 0, then ttr__dot_fixed per
 * row, plus b2; byte for byte, the scores in a guarded buffer. Register
 * path widths (1..64, padded panels and the zero lanes beyond m), wider
 * layers (the composite; 2100: pieces of 1024 outputs whose lanes carry
 * over), rows that ReLU to all zeros against weights all negative and
 * b2 = -0 (the sum must start at +0, and +0 + -0 = +0), empty n. */
Test(gemm_s8, dot_bit_exact)
{
    unsigned masks[8];
    const char *names[8];
    int nm = tu_masks(masks, names);
    tu_rng rng = tu_rng_seed(23);
    static const size_t ms[] = {1, 5, 8, 9, 16, 17, 31, 32, 33, 48, 63, 64, 65, 100, 257, 2100};
    static const size_t ks[] = {1, 5, 46, 64};
    size_t rot = 0;
    for (size_t mi = 0; mi < COUNT(ms); mi++)
        for (size_t ki = 0; ki < COUNT(ks); ki++)
            for (size_t ni = 0; ni < COUNT(n_sizes); ni++, rot++) {
                const size_t m = ms[mi], k = ks[ki];
                size_t n = n_sizes[ni];
                if ((m > 64 && n > 5) || (m > 1024 && n > 2))
                    continue;
                s8_case c;
                make_case(&c, &rng, n, m, k, rot % 5 == 4, 1, 1, rot % 64);
                float *w2 = tu_alloc(m * sizeof(float) + 4, 4 * (rot % 16));
                tu_fill_uniform(&rng, w2, m, -1.0f, 1.0f);
                float b2 = rot % 3 ? (float)tu_u32(&rng) / 4294967296.0f - 0.5f : 0.0f;
                if (rot % 4 == 1) { /* every y = +0, every w2 < 0: products -0, */
                    for (size_t j = 0; j < m; j++) {
                        c.b[j] = -1e30f;
                        w2[j] = -fabsf(w2[j]) - 0.25f;
                    }
                    b2 = -0.0f; /* whose sum is +0 (+0 + -0), and stays so */
                }
                float *y = tu_alloc(n * m * sizeof(float) + 4, 0);
                float *want = tu_alloc(n * sizeof(float) + 4, 0);
                ttr_set_cpu_mask(0);
                ttr_gemm_s8(n, m, k, c.packed, c.q, c.ldq, c.xs, c.ws, c.b, y, m, 1);
                for (size_t i = 0; i < n; i++)
                    want[i] = ttr__dot_fixed(m, w2, y + i * m) + b2;
                for (int mk = 0; mk < nm; mk++) {
                    float *got = tu_alloc(n * sizeof(float) + 4, 4 * ((rot + (size_t)mk) % 8));
                    ttr_set_cpu_mask(masks[mk]);
                    ttr__kernels_get()->gemm_s8_dot(n, m, k, c.packed, c.q, c.ldq, c.xs, c.ws,
                                                    c.b, w2, b2, got);
                    cr_assert(tu_guard_ok(got) &&
                                  tu_untouched_2d(got, sizeof(float), n + 1, n, 1, 1),
                              "gemm_s8_dot %s n=%zu m=%zu k=%zu: wrote outside score[0, n)",
                              names[mk], n, m, k);
                    for (size_t i = 0; i < n; i++)
                        cr_assert(!memcmp(&got[i], &want[i], sizeof(float)),
                                  "gemm_s8_dot %s n=%zu m=%zu k=%zu: score %zu = %a, want %a",
                                  names[mk], n, m, k, i, (double)got[i], (double)want[i]);
                    tu_free(got);
                }
                tu_free(w2);
                tu_free(y);
                tu_free(want);
                free_case(&c);
            }
    /* n = 0 writes nothing */
    for (int mk = 0; mk < nm; mk++) {
        float *got = tu_alloc(4 * sizeof(float), 0);
        int8_t pk[64] = {0}, q[64] = {0};
        float xs[1] = {1}, ws[4] = {1, 1, 1, 1}, w2[4] = {1, 1, 1, 1};
        ttr_set_cpu_mask(masks[mk]);
        ttr__kernels_get()->gemm_s8_dot(0, 3, 4, pk, q, 4, xs, ws, NULL, w2, 1.0f, got);
        cr_assert(tu_guard_ok(got) && tu_untouched_2d(got, sizeof(float), 4, 0, 1, 1),
                  "gemm_s8_dot %s: n = 0 wrote", names[mk]);
        tu_free(got);
    }
}
