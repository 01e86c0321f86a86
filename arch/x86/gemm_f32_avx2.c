/* AVX2+FMA f32 dense-layer kernels: forward (packed W), input gradient
 * (dX = dY W) and weight gradient (dW += dY^T X).
 *
 * All three are one register-tiled product C (+)= A B:
 *   - B is read as rows of 16 contiguous floats per "block" (a packed panel
 *     of 16 outputs, or 16 columns of a row-major matrix), 2 ymm per block;
 *   - A(r, s) is broadcast from memory (any row and column stride);
 *   - the tile is MR rows x NP blocks (2*NP ymm accumulators per row).
 * Tiles used: 6 rows x 1 block (12 accumulators + 2 B + 1 broadcast = 15
 * of the 16 ymm registers, so no compiler spills; 2 B loads + 6 broadcasts
 * per 12 FMAs) for batches, and 1 row x 4 blocks (8 accumulators, one
 * broadcast per 8 FMAs) for a single vector. When a tile has fewer than 8
 * accumulators the reduction dimension is split KS ways (1 row only) so that
 * at least 8 independent FMA chains hide the FMA latency; the partial sums
 * are added at the end. The batched forward pass walks k in blocks of
 * TTR_FWD_KC so that the panel slab stays in L1 (partial sums go through y).
 *
 * Edges: the forward pass reads B from padded panels (never out of range)
 * and stores only the m valid outputs with masked stores. The backward
 * kernels read B (W or X rows) with masked loads on the last partial block.
 * Nothing is read or written outside the ranges of the contract. */
#include <immintrin.h>

#include "avx2_common.h"
#include "x86_kernels.h"

/* Tile kinds: what the accumulators start from and what the epilogue does.
 * K_FWD: 0, then relu?(acc + bias). K_OVR: 0, stored as is. K_ACC: C, stored
 * as is. K_FWDACC: C (a partial sum over earlier k blocks), then relu?(acc + bias).
 * K_AXPY: 0, then C + alpha acc. */
enum { K_FWD = 0, K_OVR = 1, K_ACC = 2, K_FWDACC = 3, K_AXPY = 4 };
#define TTR_LOADC(KIND) ((KIND) == K_ACC || (KIND) == K_FWDACC)
#define TTR_EPI(KIND) ((KIND) == K_FWD || (KIND) == K_FWDACC)

/* Expand X(r, q) for every accumulator index (r < 6 rows/splits, q < 8 halves). */
#define TTR_Q8(X, r) X(r, 0) X(r, 1) X(r, 2) X(r, 3) X(r, 4) X(r, 5) X(r, 6) X(r, 7)
#define TTR_ALL(X) TTR_Q8(X, 0) TTR_Q8(X, 1) TTR_Q8(X, 2) TTR_Q8(X, 3) TTR_Q8(X, 4) TTR_Q8(X, 5)
#define TTR_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5)
#define TTR_HALVES(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)

/* One tile: C[r][0 .. ncols) for r < MR.
 *   ns     : length of the reduction (s)
 *   a      : A(r, s) = a[r*rs_a + s*cs_a]
 *   b      : block p, half h of step s = b[p*pstride + h*8 + s*ldb]
 *   MASKB  : load the last block with masks (ncols valid columns in the tile)
 *   KIND   : K_FWD (C = relu?(acc + bias)), K_OVR (C = acc), K_ACC (C += acc),
 *            K_AXPY (C += alpha acc)
 * MR*KS rows of accumulators, KS > 1 only with MR == 1. */
TTR_AI void tile(const int MR, const int NP, const int KS, const int KIND, const int MASKB,
                 size_t ns, const float *a, size_t rs_a, size_t cs_a, const float *b, size_t ldb,
                 size_t pstride, float *c, size_t ldc, size_t ncols, const float *bias, int relu,
                 float alpha)
{
    const int NQ = 2 * NP, NR = MR * KS;
    const int full = ncols >= (size_t)(16 * NP);
    __m256 acc[6][8];
    __m256i mlo = _mm256_setzero_si256(), mhi = _mm256_setzero_si256();
    if (MASKB || !full) {
        long last = (long)ncols - 16 * (NP - 1);
        mlo = ttr__lane_mask(last);
        mhi = ttr__lane_mask(last - 8);
    }

    /* Initial values: C itself for K_ACC (split 0 only), else zero. */
#define TTR_INIT(r, q)                                                                       \
    if ((r) < NR && (q) < NQ) {                                                              \
        acc[r][q] = _mm256_setzero_ps();                                                     \
        if (TTR_LOADC(KIND) && ((r) < MR)) {                                                 \
            float *cp = c + (size_t)(r) * ldc + (q) * 8;                                     \
            if (full || (q) < NQ - 2)                                                        \
                acc[r][q] = _mm256_loadu_ps(cp);                                             \
            else                                                                             \
                acc[r][q] = _mm256_maskload_ps(cp, ((q) & 1) ? mhi : mlo);                   \
        }                                                                                    \
    }
    TTR_ALL(TTR_INIT)
#undef TTR_INIT

    /* B half q at step s */
#define TTR_LDB(q, s)                                                                        \
    ((MASKB && (q) >= NQ - 2)                                                                \
         ? _mm256_maskload_ps(b + ((q) >> 1) * pstride + ((q) & 1) * 8 + (s) * ldb,          \
                              ((q) & 1) ? mhi : mlo)                                         \
         : _mm256_loadu_ps(b + ((q) >> 1) * pstride + ((q) & 1) * 8 + (s) * ldb))

    size_t s = 0;
    if (KS > 1) {
        for (; s + (size_t)KS <= ns; s += (size_t)KS) {
#define TTR_KSTEP(u, q)                                                                      \
    if ((u) < KS && (q) < NQ) {                                                              \
        __m256 xb = _mm256_broadcast_ss(a + (s + (u)) * cs_a);                               \
        acc[u][q] = _mm256_fmadd_ps(TTR_LDB(q, s + (u)), xb, acc[u][q]);                     \
    }
            TTR_ALL(TTR_KSTEP)
#undef TTR_KSTEP
        }
    }
    for (; s < ns; s++) {
        __m256 bq[8];
#define TTR_LOADQ(q)                                                                         \
    if ((q) < NQ)                                                                            \
        bq[q] = TTR_LDB(q, s);
        TTR_HALVES(TTR_LOADQ)
#undef TTR_LOADQ
#define TTR_ROWFMA(r)                                                                        \
    if ((r) < MR) {                                                                          \
        __m256 xb = _mm256_broadcast_ss(a + (size_t)(r) * rs_a + s * cs_a);                  \
        if (NQ > 0) acc[r][0] = _mm256_fmadd_ps(bq[0], xb, acc[r][0]);                       \
        if (NQ > 1) acc[r][1] = _mm256_fmadd_ps(bq[1], xb, acc[r][1]);                       \
        if (NQ > 2) acc[r][2] = _mm256_fmadd_ps(bq[2], xb, acc[r][2]);                       \
        if (NQ > 3) acc[r][3] = _mm256_fmadd_ps(bq[3], xb, acc[r][3]);                       \
        if (NQ > 4) acc[r][4] = _mm256_fmadd_ps(bq[4], xb, acc[r][4]);                       \
        if (NQ > 5) acc[r][5] = _mm256_fmadd_ps(bq[5], xb, acc[r][5]);                       \
        if (NQ > 6) acc[r][6] = _mm256_fmadd_ps(bq[6], xb, acc[r][6]);                       \
        if (NQ > 7) acc[r][7] = _mm256_fmadd_ps(bq[7], xb, acc[r][7]);                       \
    }
        TTR_ROWS(TTR_ROWFMA)
#undef TTR_ROWFMA
    }
#undef TTR_LDB

    /* Fold the K splits into row 0. */
    if (KS > 1) {
#define TTR_FOLD(q)                                                                          \
    if ((q) < NQ) {                                                                          \
        if (KS > 2) {                                                                        \
            acc[0][q] = _mm256_add_ps(acc[0][q], acc[2][q]);                                 \
            acc[1][q] = _mm256_add_ps(acc[1][q], acc[3][q]);                                 \
        }                                                                                    \
        acc[0][q] = _mm256_add_ps(acc[0][q], acc[1][q]);                                     \
    }
        TTR_HALVES(TTR_FOLD)
#undef TTR_FOLD
    }

    /* Epilogue. */
    __m256 bv[8];
    if (TTR_EPI(KIND)) {
#define TTR_BIAS(q)                                                                          \
    if ((q) < NQ) {                                                                          \
        if (!bias)                                                                           \
            bv[q] = _mm256_setzero_ps();                                                     \
        else if (full || (q) < NQ - 2)                                                       \
            bv[q] = _mm256_loadu_ps(bias + (q) * 8);                                         \
        else                                                                                 \
            bv[q] = _mm256_maskload_ps(bias + (q) * 8, ((q) & 1) ? mhi : mlo);               \
    }
        TTR_HALVES(TTR_BIAS)
#undef TTR_BIAS
    }
    const __m256 zero = _mm256_setzero_ps(), va = _mm256_set1_ps(alpha);
#define TTR_STORE(r, q)                                                                      \
    if ((r) < MR && (q) < NQ) {                                                              \
        __m256 v = acc[r][q];                                                                \
        float *cp = c + (size_t)(r) * ldc + (q) * 8;                                         \
        const int whole = full || (q) < NQ - 2;                                              \
        if (TTR_EPI(KIND)) {                                                                 \
            v = _mm256_add_ps(v, bv[q]);                                                     \
            if (relu)                                                                        \
                v = _mm256_max_ps(v, zero); /* NaN and -0 become +0, as in the reference */  \
        }                                                                                    \
        if (KIND == K_AXPY)                                                                  \
            v = _mm256_add_ps(whole ? _mm256_loadu_ps(cp)                                    \
                                    : _mm256_maskload_ps(cp, ((q) & 1) ? mhi : mlo),         \
                              _mm256_mul_ps(va, v));                                         \
        if (whole)                                                                           \
            _mm256_storeu_ps(cp, v);                                                         \
        else                                                                                 \
            _mm256_maskstore_ps(cp, ((q) & 1) ? mhi : mlo, v);                               \
    }
    TTR_ALL(TTR_STORE)
#undef TTR_STORE
    (void)zero;
    (void)va;
    (void)bv;
}

/* ---------------------------------------------------------------------------
 * Forward: y = relu?(W x + b) over packed panels.
 * ------------------------------------------------------------------------- */

/* Instantiations (each a real function so that the tiles stay in registers).
 * ns: the k range of this call; pstride: floats between two panels (16 k). */
#define TTR_FWD(name, MR, NP, KS, KIND)                                                      \
    static void name(size_t ns, const float *x, size_t ldx, const float *w, size_t pstride,  \
                     float *y, size_t ldy, size_t ncols, const float *bias, int relu)        \
    {                                                                                        \
        tile(MR, NP, KS, KIND, 0, ns, x, ldx, 1, w, 16, pstride, y, ldy, ncols, bias, relu,  \
             1.0f);                                                                          \
    }
TTR_FWD(fwd_1x4, 1, 4, 1, K_FWD)
TTR_FWD(fwd_1x3, 1, 3, 2, K_FWD)
TTR_FWD(fwd_1x2, 1, 2, 2, K_FWD)
TTR_FWD(fwd_1x1, 1, 1, 4, K_FWD)
/* batched tiles, one set per kind of k block */
#define TTR_FWD_SET(sfx, KIND)                                                               \
    TTR_FWD(fwd_6x1_##sfx, 6, 1, 1, KIND)                                                    \
    TTR_FWD(fwd_5x1_##sfx, 5, 1, 1, KIND)                                                    \
    TTR_FWD(fwd_4x1_##sfx, 4, 1, 1, KIND)                                                    \
    TTR_FWD(fwd_3x1_##sfx, 3, 1, 1, KIND)                                                    \
    TTR_FWD(fwd_2x1_##sfx, 2, 1, 1, KIND)                                                    \
    TTR_FWD(fwd_1x1_##sfx, 1, 1, 4, KIND)                                                    \
                                                                                             \
    /* All n items against panel p over the k block [k0, k0 + kc). */                        \
    static void fwd_block_##sfx(size_t n, size_t m, size_t k, size_t k0, size_t kc,          \
                                const float *packed, size_t p, const float *x, size_t ldx,   \
                                const float *b, float *y, size_t ldy, int relu)              \
    {                                                                                        \
        const float *w = packed + p * 16 * k + k0 * 16;                                      \
        const float *bp = b ? b + p * 16 : NULL;                                             \
        size_t ncols = m - p * 16 < 16 ? m - p * 16 : 16;                                    \
        const size_t ps = 16 * k;                                                            \
        size_t i = 0;                                                                        \
        x += k0;                                                                             \
        y += p * 16;                                                                         \
        for (; i + 6 <= n; i += 6)                                                           \
            fwd_6x1_##sfx(kc, x + i * ldx, ldx, w, ps, y + i * ldy, ldy, ncols, bp, relu);   \
        const float *xp = x + i * ldx;                                                       \
        float *yp = y + i * ldy;                                                             \
        switch (n - i) {                                                                     \
        case 5: fwd_5x1_##sfx(kc, xp, ldx, w, ps, yp, ldy, ncols, bp, relu); break;          \
        case 4: fwd_4x1_##sfx(kc, xp, ldx, w, ps, yp, ldy, ncols, bp, relu); break;          \
        case 3: fwd_3x1_##sfx(kc, xp, ldx, w, ps, yp, ldy, ncols, bp, relu); break;          \
        case 2: fwd_2x1_##sfx(kc, xp, ldx, w, ps, yp, ldy, ncols, bp, relu); break;          \
        case 1: fwd_1x1_##sfx(kc, xp, ldx, w, ps, yp, ldy, ncols, bp, relu); break;          \
        default: break;                                                                      \
        }                                                                                    \
    }
TTR_FWD_SET(one, K_FWD)     /* the whole k at once */
TTR_FWD_SET(first, K_OVR)   /* first k block: partial sums */
TTR_FWD_SET(mid, K_ACC)     /* middle k blocks: add to the partial sums */
TTR_FWD_SET(last, K_FWDACC) /* last k block: finish, bias, ReLU */
#undef TTR_FWD_SET
#undef TTR_FWD

/* k block of the batched forward pass: a panel slab of TTR_FWD_KC columns
 * (16 x 384 x 4 = 24 KiB) stays in L1 while every item streams past. */
#define TTR_FWD_KC 384

static void gemm_f32_avx2(size_t n, size_t m, size_t k, const float *packed, const float *x,
                          size_t ldx, const float *b, float *y, size_t ldy, int relu)
{
    const size_t panels = (m + 15) / 16;
    if (n == 0 || m == 0)
        return;
    if (n == 1) {
        const size_t ps = 16 * k;
        size_t p = 0;
        for (; p + 4 <= panels; p += 4)
            fwd_1x4(k, x, ldx, packed + p * ps, ps, y + p * 16, ldy,
                    m - p * 16 < 64 ? m - p * 16 : 64, b ? b + p * 16 : NULL, relu);
        const float *w = packed + p * ps;
        float *yp = y + p * 16;
        const float *bp = b ? b + p * 16 : NULL;
        switch (panels - p) {
        case 3: fwd_1x3(k, x, ldx, w, ps, yp, ldy, m - p * 16, bp, relu); break;
        case 2: fwd_1x2(k, x, ldx, w, ps, yp, ldy, m - p * 16, bp, relu); break;
        case 1: fwd_1x1(k, x, ldx, w, ps, yp, ldy, m - p * 16, bp, relu); break;
        default: break;
        }
        return;
    }
    /* Blocks of k: at most TTR_FWD_KC + TTR_FWD_KC/4 columns each, as even as possible. */
    size_t nkb = k <= TTR_FWD_KC + TTR_FWD_KC / 4 ? 1 : (k + TTR_FWD_KC - 1) / TTR_FWD_KC;
    for (size_t p = 0; p < panels; p++) {
        if (nkb == 1) {
            fwd_block_one(n, m, k, 0, k, packed, p, x, ldx, b, y, ldy, relu);
            continue;
        }
        size_t k0 = 0;
        for (size_t kb = 0; kb < nkb; kb++) {
            size_t kc = (k - k0) / (nkb - kb);
            if (kb == 0)
                fwd_block_first(n, m, k, k0, kc, packed, p, x, ldx, b, y, ldy, relu);
            else if (kb + 1 < nkb)
                fwd_block_mid(n, m, k, k0, kc, packed, p, x, ldx, b, y, ldy, relu);
            else
                fwd_block_last(n, m, k, k0, kc, packed, p, x, ldx, b, y, ldy, relu);
            k0 += kc;
        }
    }
}

/* ---------------------------------------------------------------------------
 * Row-major products (the backward pass, and the attention kernels through
 * ttr__avx2_matmul):
 *   C (rows x cols, ldc) (+)= [alpha] A (rows x ns, A(r,s) = a[r*rs_a + s*cs_a]) * B (ns x cols, ldb)
 * ------------------------------------------------------------------------- */

#define TTR_RM(name, MR, NP, KS, KIND, MASKB)                                                \
    static void name(size_t ns, const float *a, size_t rs_a, size_t cs_a, const float *b,    \
                     size_t ldb, float *c, size_t ldc, size_t ncols, float alpha)            \
    {                                                                                        \
        tile(MR, NP, KS, KIND, MASKB, ns, a, rs_a, cs_a, b, ldb, 16, c, ldc, ncols, NULL, 0, \
             alpha);                                                                         \
    }
#define TTR_RM_KIND(sfx, KIND)                                                               \
    TTR_RM(rm_1x4_##sfx, 1, 4, 1, KIND, 0)                                                   \
    TTR_RM(rm_1x4m_##sfx, 1, 4, 1, KIND, 1)                                                  \
    TTR_RM(rm_1x3m_##sfx, 1, 3, 2, KIND, 1)                                                  \
    TTR_RM(rm_1x2m_##sfx, 1, 2, 2, KIND, 1)                                                  \
    TTR_RM(rm_1x1m_##sfx, 1, 1, 4, KIND, 1)                                                  \
    TTR_RM(rm_6x1_##sfx, 6, 1, 1, KIND, 0)                                                   \
    TTR_RM(rm_6x1m_##sfx, 6, 1, 1, KIND, 1)                                                  \
    TTR_RM(rm_5x1m_##sfx, 5, 1, 1, KIND, 1)                                                  \
    TTR_RM(rm_4x1m_##sfx, 4, 1, 1, KIND, 1)                                                  \
    TTR_RM(rm_3x1m_##sfx, 3, 1, 1, KIND, 1)                                                  \
    TTR_RM(rm_2x1m_##sfx, 2, 1, 1, KIND, 1)                                                  \
                                                                                             \
    static void rowmajor_##sfx(size_t rows, size_t cols, size_t ns, const float *a,          \
                               size_t rs_a, size_t cs_a, const float *b, size_t ldb,         \
                               float *c, size_t ldc, float alpha)                            \
    {                                                                                        \
        if (rows == 1) {                                                                     \
            size_t t = 0;                                                                    \
            for (; t + 64 <= cols; t += 64)                                                  \
                rm_1x4_##sfx(ns, a, rs_a, cs_a, b + t, ldb, c + t, ldc, 64, alpha);                 \
            size_t rem = cols - t;                                                           \
            if (rem > 48)                                                                    \
                rm_1x4m_##sfx(ns, a, rs_a, cs_a, b + t, ldb, c + t, ldc, rem, alpha);               \
            else if (rem > 32)                                                               \
                rm_1x3m_##sfx(ns, a, rs_a, cs_a, b + t, ldb, c + t, ldc, rem, alpha);               \
            else if (rem > 16)                                                               \
                rm_1x2m_##sfx(ns, a, rs_a, cs_a, b + t, ldb, c + t, ldc, rem, alpha);               \
            else if (rem > 0)                                                                \
                rm_1x1m_##sfx(ns, a, rs_a, cs_a, b + t, ldb, c + t, ldc, rem, alpha);               \
            return;                                                                          \
        }                                                                                    \
        for (size_t t = 0; t < cols; t += 16) {                                              \
            size_t w = cols - t >= 16 ? 16 : cols - t;                                       \
            const float *bt = b + t;                                                         \
            size_t i = 0;                                                                    \
            if (w == 16)                                                                     \
                for (; i + 6 <= rows; i += 6)                                                \
                    rm_6x1_##sfx(ns, a + i * rs_a, rs_a, cs_a, bt, ldb, c + i * ldc + t,     \
                                 ldc, w, alpha);                                                    \
            else                                                                             \
                for (; i + 6 <= rows; i += 6)                                                \
                    rm_6x1m_##sfx(ns, a + i * rs_a, rs_a, cs_a, bt, ldb, c + i * ldc + t,    \
                                  ldc, w, alpha);                                                   \
            const float *ap = a + i * rs_a;                                                  \
            float *cp = c + i * ldc + t;                                                     \
            switch (rows - i) {                                                              \
            case 5: rm_5x1m_##sfx(ns, ap, rs_a, cs_a, bt, ldb, cp, ldc, w, alpha); break;           \
            case 4: rm_4x1m_##sfx(ns, ap, rs_a, cs_a, bt, ldb, cp, ldc, w, alpha); break;           \
            case 3: rm_3x1m_##sfx(ns, ap, rs_a, cs_a, bt, ldb, cp, ldc, w, alpha); break;           \
            case 2: rm_2x1m_##sfx(ns, ap, rs_a, cs_a, bt, ldb, cp, ldc, w, alpha); break;           \
            case 1: rm_1x1m_##sfx(ns, ap, rs_a, cs_a, bt, ldb, cp, ldc, w, alpha); break;           \
            default: break;                                                                  \
            }                                                                                \
        }                                                                                    \
    }
TTR_RM_KIND(ovr, K_OVR)
TTR_RM_KIND(acc, K_ACC)
TTR_RM_KIND(axpy, K_AXPY)
#undef TTR_RM_KIND
#undef TTR_RM

static void backprop_in_f32_avx2(size_t n, size_t m, size_t k, const float *w, size_t ldw,
                                 const float *dy, size_t lddy, float *dx, size_t lddx,
                                 int accumulate)
{
    if (n == 0 || k == 0)
        return;
    /* C = dx (n x k), A = dy (A(i, j) = dy[i*lddy + j]), B = W (m x k) */
    if (accumulate)
        rowmajor_acc(n, k, m, dy, lddy, 1, w, ldw, dx, lddx, 1.0f);
    else
        rowmajor_ovr(n, k, m, dy, lddy, 1, w, ldw, dx, lddx, 1.0f);
}

static void outer_acc_f32_avx2(size_t n, size_t m, size_t k, const float *dy, size_t lddy,
                               const float *x, size_t ldx, float *dw, size_t lddw)
{
    if (m == 0 || k == 0)
        return;
    /* C = dw (m x k), A(j, i) = dy[i*lddy + j], B = X (n x k) */
    rowmajor_acc(m, k, n, dy, 1, lddy, x, ldx, dw, lddw, 1.0f);
}

void ttr__avx2_matmul(size_t rows, size_t cols, size_t ns, const float *a, size_t rs_a,
                      size_t cs_a, const float *b, size_t ldb, float *c, size_t ldc,
                      ttr__mm_mode mode, float alpha)
{
    if (rows == 0 || cols == 0)
        return;
    if (mode == TTR__MM_SET)
        rowmajor_ovr(rows, cols, ns, a, rs_a, cs_a, b, ldb, c, ldc, 1.0f);
    else if (mode == TTR__MM_ADD)
        rowmajor_acc(rows, cols, ns, a, rs_a, cs_a, b, ldb, c, ldc, 1.0f);
    else
        rowmajor_axpy(rows, cols, ns, a, rs_a, cs_a, b, ldb, c, ldc, alpha);
}

void ttr__init_gemm_f32_avx2(ttr__kernels *t)
{
    TTR__SET(t, gemm_f32, gemm_f32_avx2, "avx2");
    TTR__SET(t, backprop_in_f32, backprop_in_f32_avx2, "avx2");
    TTR__SET(t, outer_acc_f32, outer_acc_f32_avx2, "avx2");
}
