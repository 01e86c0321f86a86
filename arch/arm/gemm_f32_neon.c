/* NEON f32 dense-layer kernels: forward (packed panels), input gradient
 * (dX = dY W) and weight gradient (dW += dY^T X).
 *
 * Built twice (neon_common.h): TTR_NEON_FMA=0 multiplies then adds,
 * TTR_NEON_FMA=1 uses fused vfma. Everything is one register-tile
 * micro-kernel in two flavours:
 *
 *   tile_k: C[r][0..4*NQ) = sum_s A[r][s] * B[s][0..4*NQ) for R rows, where
 *           A rows are contiguous along the reduction s: four reduction
 *           steps of a row are loaded at once and used by lane (FMLA by
 *           element on aarch64, VMLA by scalar on armv7).
 *           Used by gemm_f32 (B = a packed panel, stride 16) and by
 *           C = A B in general (backprop_in, attention apply / dQ).
 *   tile_r: C[r][0..4*NQ) += sum_s A[s][r] * B[s][0..4*NQ): A is contiguous
 *           along the rows r, so one load gives the four rows' values of a
 *           step (outer_acc, attention dV / dK).
 *
 * Tiles: aarch64 (32 q registers) R=4 x 16 columns = 16 accumulators;
 * armv7 (16 q registers) tile_k R=2 x 16 columns, tile_r R=4 x 8 columns =
 * 8 accumulators. A single row (n = 1, tails) splits the reduction over two
 * accumulator sets, so even the GEMV has 8 independent chains.
 *
 * Bounds: B is read only where it exists (column tails go 16 -> 8 -> 4 ->
 * scalar); a partial output panel (m % 16) goes through a stack tile; the
 * bias is read for j < m only. */
#include <string.h>

#include "neon_common.h"

#define TTR_AI static inline __attribute__((always_inline))

#if defined(__aarch64__)
#define RK_MAX 4 /* tile_k rows */
#define NQ_R 4   /* tile_r q-columns */
#if TTR_NEON_FMA
#define MLA_LANE(acc, w, x, l) vfmaq_laneq_f32((acc), (w), (x), (l))
#else
#define MLA_LANE(acc, w, x, l) vmlaq_laneq_f32((acc), (w), (x), (l))
#endif
#else /* armv7 */
#define RK_MAX 2
#define NQ_R 2
#define XHALF(x, l) ((l) < 2 ? vget_low_f32(x) : vget_high_f32(x))
#if TTR_NEON_FMA
/* armv7 VFMA has no by-scalar form: duplicate the lane (shared by NQ FMAs) */
#define MLA_LANE(acc, w, x, l) vfmaq_f32((acc), (w), vdupq_lane_f32(XHALF(x, l), (l) & 1))
#else
#define MLA_LANE(acc, w, x, l) vmlaq_lane_f32((acc), (w), XHALF(x, l), (l) & 1)
#endif
#endif


static const float g_zero16[16];

/* (v > 0) ? v : +0, as the scalar reference (NaN and -0 give +0). */
TTR_AI float32x4_t relu_q(float32x4_t v)
{
    uint32x4_t pos = ttr__gt_q(v, 0.0f);
    return vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(v), pos));
}

/* y = relu?(alpha? * v + add?) for one q register. */
TTR_AI void out_q(const int use_alpha, float alpha, const float *add, int relu, float *y,
                  float32x4_t v)
{
    if (use_alpha)
        v = vmulq_n_f32(v, alpha);
    if (add)
        v = vaddq_f32(v, vld1q_f32(add));
    if (relu)
        v = relu_q(v);
    vst1q_f32(y, v);
}

TTR_AI void out_row(const int NQ, const int use_alpha, float alpha, const float *add, int relu,
                    float *y, float32x4_t v0, float32x4_t v1, float32x4_t v2, float32x4_t v3)
{
    out_q(use_alpha, alpha, add, relu, y, v0);
    if (NQ > 1)
        out_q(use_alpha, alpha, add ? add + 4 : add, relu, y + 4, v1);
    if (NQ > 2)
        out_q(use_alpha, alpha, add ? add + 8 : add, relu, y + 8, v2);
    if (NQ > 3)
        out_q(use_alpha, alpha, add ? add + 12 : add, relu, y + 12, v3);
}

/* Load the NQ q registers of one B row. */
#define LOADW(p)                                                                                   \
    do {                                                                                           \
        const float *p_ = (p);                                                                     \
        w0 = vld1q_f32(p_);                                                                        \
        if (NQ > 1)                                                                                \
            w1 = vld1q_f32(p_ + 4);                                                                \
        if (NQ > 2)                                                                                \
            w2 = vld1q_f32(p_ + 8);                                                                \
        if (NQ > 3)                                                                                \
            w3 = vld1q_f32(p_ + 12);                                                               \
    } while (0)

/* Accumulator row r += B row * lane l of x. */
#define ROW(r, x, l)                                                                               \
    do {                                                                                           \
        c##r##0 = MLA_LANE(c##r##0, w0, (x), (l));                                                 \
        if (NQ > 1)                                                                                \
            c##r##1 = MLA_LANE(c##r##1, w1, (x), (l));                                             \
        if (NQ > 2)                                                                                \
            c##r##2 = MLA_LANE(c##r##2, w2, (x), (l));                                             \
        if (NQ > 3)                                                                                \
            c##r##3 = MLA_LANE(c##r##3, w3, (x), (l));                                             \
    } while (0)

/* One reduction step of tile_k using lane l of the row quads x0..x3. With a
 * single row, odd lanes go to the second accumulator set (c1*). */
#define STEP_K(l)                                                                                  \
    do {                                                                                           \
        if (R == 1 && ((l) & 1)) {                                                                 \
            ROW(1, x0, l);                                                                         \
        } else {                                                                                   \
            ROW(0, x0, l);                                                                         \
            if (R > 1)                                                                             \
                ROW(1, x1, l);                                                                     \
            if (R > 2)                                                                             \
                ROW(2, x2, l);                                                                     \
            if (R > 3)                                                                             \
                ROW(3, x3, l);                                                                     \
        }                                                                                          \
    } while (0)

#define ACC_DECL                                                                                   \
    const float32x4_t z = vdupq_n_f32(0.0f);                                                      \
    float32x4_t c00 = z, c01 = z, c02 = z, c03 = z, c10 = z, c11 = z, c12 = z, c13 = z;           \
    float32x4_t c20 = z, c21 = z, c22 = z, c23 = z, c30 = z, c31 = z, c32 = z, c33 = z;           \
    float32x4_t w0 = z, w1 = z, w2 = z, w3 = z

/* y[r][0..4NQ) = relu?(alpha? * sum_s a[r*lda+s] b[s*ldb+0..4NQ) + add[r*ldadd+..]?)
 * for r < R; add may alias y. */
TTR_AI void tile_k(const int R, const int NQ, const int use_alpha, size_t kk, const float *a,
                   size_t lda, const float *b, size_t ldb, float alpha, const float *add,
                   size_t ldadd, int relu, float *y, size_t ldy)
{
    ACC_DECL;
    const float *a0 = a, *a1 = R > 1 ? a + lda : a, *a2 = R > 2 ? a + 2 * lda : a,
                *a3 = R > 3 ? a + 3 * lda : a;
    size_t t = 0;
    for (; t + 4 <= kk; t += 4) {
        float32x4_t x0 = vld1q_f32(a0 + t), x1 = z, x2 = z, x3 = z;
        if (R > 1)
            x1 = vld1q_f32(a1 + t);
        if (R > 2)
            x2 = vld1q_f32(a2 + t);
        if (R > 3)
            x3 = vld1q_f32(a3 + t);
        const float *bt = b + t * ldb;
        LOADW(bt);
        STEP_K(0);
        LOADW(bt + ldb);
        STEP_K(1);
        LOADW(bt + 2 * ldb);
        STEP_K(2);
        LOADW(bt + 3 * ldb);
        STEP_K(3);
    }
    for (; t < kk; t++) {
        float32x4_t x0 = vld1q_dup_f32(a0 + t), x1 = z, x2 = z, x3 = z;
        if (R > 1)
            x1 = vld1q_dup_f32(a1 + t);
        if (R > 2)
            x2 = vld1q_dup_f32(a2 + t);
        if (R > 3)
            x3 = vld1q_dup_f32(a3 + t);
        LOADW(b + t * ldb);
        STEP_K(0);
    }
    if (R == 1) {
        c00 = vaddq_f32(c00, c10);
        c01 = vaddq_f32(c01, c11);
        c02 = vaddq_f32(c02, c12);
        c03 = vaddq_f32(c03, c13);
    }
    out_row(NQ, use_alpha, alpha, add, relu, y, c00, c01, c02, c03);
    if (R > 1)
        out_row(NQ, use_alpha, alpha, add ? add + ldadd : add, relu, y + ldy, c10, c11, c12, c13);
    if (R > 2)
        out_row(NQ, use_alpha, alpha, add ? add + 2 * ldadd : add, relu, y + 2 * ldy, c20, c21,
                c22, c23);
    if (R > 3)
        out_row(NQ, use_alpha, alpha, add ? add + 3 * ldadd : add, relu, y + 3 * ldy, c30, c31,
                c32, c33);
}

/* y[r][0..4NQ) += alpha * sum_s a[s*lda+r] b[s*ldb+0..4NQ), r < R (R = 1, 2 or 4). */
TTR_AI void tile_r(const int R, const int NQ, size_t nred, const float *a, size_t lda,
                   const float *b, size_t ldb, float alpha, float *y, size_t ldy)
{
    ACC_DECL;
    size_t s = 0;
    if (R == 1) /* two accumulator sets over even / odd steps */
        for (; s + 2 <= nred; s += 2) {
            float32x4_t x0 = vld1q_dup_f32(a + s * lda);
            LOADW(b + s * ldb);
            ROW(0, x0, 0);
            x0 = vld1q_dup_f32(a + (s + 1) * lda);
            LOADW(b + (s + 1) * ldb);
            ROW(1, x0, 0);
        }
    for (; s < nred; s++) {
        const float *as = a + s * lda;
        float32x4_t x0;
        if (R == 4)
            x0 = vld1q_f32(as);
        else if (R == 2)
            x0 = vcombine_f32(vld1_f32(as), vget_low_f32(z));
        else
            x0 = vld1q_dup_f32(as);
        LOADW(b + s * ldb);
        ROW(0, x0, 0);
        if (R > 1)
            ROW(1, x0, 1);
        if (R > 2)
            ROW(2, x0, 2);
        if (R > 3)
            ROW(3, x0, 3);
    }
    if (R == 1) {
        c00 = vaddq_f32(c00, c10);
        c01 = vaddq_f32(c01, c11);
        c02 = vaddq_f32(c02, c12);
        c03 = vaddq_f32(c03, c13);
    }
    out_row(NQ, 1, alpha, y, 0, y, c00, c01, c02, c03);
    if (R > 1)
        out_row(NQ, 1, alpha, y + ldy, 0, y + ldy, c10, c11, c12, c13);
    if (R > 2)
        out_row(NQ, 1, alpha, y + 2 * ldy, 0, y + 2 * ldy, c20, c21, c22, c23);
    if (R > 3)
        out_row(NQ, 1, alpha, y + 3 * ldy, 0, y + 3 * ldy, c30, c31, c32, c33);
}

/* ---- forward: packed panels ------------------------------------------- */

static void gemm_f32(size_t n, size_t m, size_t k, const float *packed, const float *x,
                     size_t ldx, const float *b, float *y, size_t ldy, int relu)
{
    for (size_t j0 = 0; j0 < m; j0 += TTR_F32_PANEL) {
        const float *pp = packed + j0 * k; /* panel j0/16 starts at j0*k floats */
        size_t w = m - j0 < TTR_F32_PANEL ? m - j0 : TTR_F32_PANEL;
        float bpad[16], tmp[RK_MAX * 16];
        const float *bp = g_zero16;
        if (b && w == TTR_F32_PANEL) {
            bp = b + j0;
        } else if (b) {
            memcpy(bpad, b + j0, w * sizeof(float));
            memset(bpad + w, 0, (16 - w) * sizeof(float));
            bp = bpad;
        }
        size_t i = 0;
        for (; i + RK_MAX <= n; i += RK_MAX) {
            const float *xi = x + i * ldx;
            if (w == TTR_F32_PANEL) {
                tile_k(RK_MAX, 4, 0, k, xi, ldx, pp, 16, 1.0f, bp, 0, relu, y + i * ldy + j0, ldy);
            } else {
                tile_k(RK_MAX, 4, 0, k, xi, ldx, pp, 16, 1.0f, bp, 0, relu, tmp, 16);
                for (size_t r = 0; r < RK_MAX; r++)
                    memcpy(y + (i + r) * ldy + j0, tmp + r * 16, w * sizeof(float));
            }
        }
        for (; i < n; i++) {
            const float *xi = x + i * ldx;
            if (w == TTR_F32_PANEL) {
                tile_k(1, 4, 0, k, xi, ldx, pp, 16, 1.0f, bp, 0, relu, y + i * ldy + j0, ldy);
            } else {
                tile_k(1, 4, 0, k, xi, ldx, pp, 16, 1.0f, bp, 0, relu, tmp, 16);
                memcpy(y + i * ldy + j0, tmp, w * sizeof(float));
            }
        }
    }
}

/* ---- C (+)= alpha A B, B row-major ------------------------------------ */

TTR_AI void nn_cols(const int NQ, size_t rows, size_t kred, const float *a, size_t lda,
                    const float *b, size_t ldb, float alpha, float *c, size_t ldc,
                    int accumulate)
{
    size_t i = 0;
    for (; i + RK_MAX <= rows; i += RK_MAX) {
        float *ci = c + i * ldc;
        tile_k(RK_MAX, NQ, 1, kred, a + i * lda, lda, b, ldb, alpha, accumulate ? ci : NULL,
               ldc, 0, ci, ldc);
    }
    for (; i < rows; i++) {
        float *ci = c + i * ldc;
        tile_k(1, NQ, 1, kred, a + i * lda, lda, b, ldb, alpha, accumulate ? ci : NULL, ldc, 0,
               ci, ldc);
    }
}

/* c[i][t] = (accumulate ? c[i][t] : 0) + alpha * sum_s a[i][s] b[s][t],
 * i < rows, t < cols, s < kred. */
void TTR_NEON_FN(ttr__neon_mm_nn)(size_t rows, size_t cols, size_t kred, const float *a,
                                  size_t lda, const float *b, size_t ldb, float alpha, float *c,
                                  size_t ldc, int accumulate)
{
    size_t t0 = 0;
    for (; t0 + 16 <= cols; t0 += 16)
        nn_cols(4, rows, kred, a, lda, b + t0, ldb, alpha, c + t0, ldc, accumulate);
    if (t0 + 8 <= cols) {
        nn_cols(2, rows, kred, a, lda, b + t0, ldb, alpha, c + t0, ldc, accumulate);
        t0 += 8;
    }
    if (t0 + 4 <= cols) {
        nn_cols(1, rows, kred, a, lda, b + t0, ldb, alpha, c + t0, ldc, accumulate);
        t0 += 4;
    }
    for (; t0 < cols; t0++)
        for (size_t i = 0; i < rows; i++) {
            const float *ai = a + i * lda;
            float acc = 0.0f;
            for (size_t s = 0; s < kred; s++)
                acc += ai[s] * b[s * ldb + t0];
            float *ct = c + i * ldc + t0;
            *ct = (accumulate ? *ct : 0.0f) + alpha * acc;
        }
}

/* ---- C += alpha A^T B ----------------------------------------------- */

TTR_AI void tn_rows(const int R, size_t nred, size_t cols, const float *a, size_t lda,
                    const float *b, size_t ldb, float alpha, float *c, size_t ldc)
{
    size_t t0 = 0;
    for (; t0 + 4 * NQ_R <= cols; t0 += 4 * NQ_R)
        tile_r(R, NQ_R, nred, a, lda, b + t0, ldb, alpha, c + t0, ldc);
    for (; t0 + 4 <= cols; t0 += 4)
        tile_r(R, 1, nred, a, lda, b + t0, ldb, alpha, c + t0, ldc);
    for (; t0 < cols; t0++)
        for (int r = 0; r < R; r++) {
            float acc = 0.0f;
            for (size_t s = 0; s < nred; s++)
                acc += a[s * lda + (size_t)r] * b[s * ldb + t0];
            c[(size_t)r * ldc + t0] += alpha * acc;
        }
}

/* c[j][t] += alpha * sum_s a[s][j] b[s][t], j < rows, t < cols, s < nred. */
void TTR_NEON_FN(ttr__neon_mm_tn)(size_t nred, size_t rows, size_t cols, const float *a,
                                  size_t lda, const float *b, size_t ldb, float alpha, float *c,
                                  size_t ldc)
{
    size_t j = 0;
    for (; j + 4 <= rows; j += 4)
        tn_rows(4, nred, cols, a + j, lda, b, ldb, alpha, c + j * ldc, ldc);
    for (; j < rows; j++)
        tn_rows(1, nred, cols, a + j, lda, b, ldb, alpha, c + j * ldc, ldc);
}

static void backprop_in_f32(size_t n, size_t m, size_t k, const float *w, size_t ldw,
                            const float *dy, size_t lddy, float *dx, size_t lddx, int accumulate)
{
    TTR_NEON_FN(ttr__neon_mm_nn)(n, k, m, dy, lddy, w, ldw, 1.0f, dx, lddx, accumulate);
}

static void outer_acc_f32(size_t n, size_t m, size_t k, const float *dy, size_t lddy,
                          const float *x, size_t ldx, float *dw, size_t lddw)
{
    TTR_NEON_FN(ttr__neon_mm_tn)(n, m, k, dy, lddy, x, ldx, 1.0f, dw, lddw);
}

void TTR_NEON_FN(ttr__init_gemm_f32)(ttr__kernels *t)
{
    TTR__SET(t, gemm_f32, gemm_f32, TTR_NEON_ISA);
    TTR__SET(t, backprop_in_f32, backprop_in_f32, TTR_NEON_ISA);
    TTR__SET(t, outer_acc_f32, outer_acc_f32, TTR_NEON_ISA);
}
