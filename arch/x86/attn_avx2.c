/* AVX2 attention kernels for one list of n items (see ttr_kernels.h).
 *
 * Everything is built from two register-tiled products:
 * - nt_product: C (+)= A B^T over rows of A and B (scores Q K^T, dP += dOut V^T).
 *   Blocks of 16 rows of B are transposed into a small stack buffer (16 x 64
 *   floats), so each row of A yields 16 results with broadcast FMAs and no
 *   horizontal sums; 4 rows of A at a time give 8 independent accumulators.
 * - A B products with A read through (row, inner) strides, so that A can be
 *   P, P^T, dS or dS^T without copies (P V, P^T dOut, dS K, dS^T Q): the
 *   dense-layer tiles of gemm_f32_avx2.c (ttr__avx2_matmul), as the NEON
 *   kernels use theirs.
 * The softmax is the exact two-pass one of the reference over the stored score
 * row (max, then exp and sum, then scale), with ttrank's vector exp.
 * Column tails use masked loads and stores, so nothing outside the documented
 * output ranges is read as output or written. */
#include <immintrin.h>

#include "avx2_common.h"
#include "exp_avx2.h"
#include "x86_kernels.h"

#define KT_D 64 /* inner-dimension chunk of a transposed block of B */


/* ------------------------------------------------------------------------
 * C (+)= A B^T
 * ------------------------------------------------------------------------ */

/* Store one 16-wide result row of nt_product. scores: C = scale * acc, with
 * -inf for keys that are masked (valid lanes clear); else C = C_in + acc
 * (C_in already folded into acc by the caller). */
static inline void nt_store(float *c, __m256 s0, __m256 s1, __m256i m0, __m256i m1, int fin,
                            int scores, __m256 vscale, __m256 v0, __m256 v1)
{
    if (fin && scores) {
        const __m256 ninf = _mm256_set1_ps(-__builtin_inff());
        s0 = _mm256_blendv_ps(ninf, _mm256_mul_ps(s0, vscale), v0);
        s1 = _mm256_blendv_ps(ninf, _mm256_mul_ps(s1, vscale), v1);
    }
    _mm256_maskstore_ps(c, m0, s0);
    _mm256_maskstore_ps(c + 8, m1, s1);
}

/* For j < nr, m < nc:
 *   scores: c[j][m] = key valid ? scale * (a_j . b_m) : -inf
 *   else:   c[j][m] += a_j . b_m
 * a: nr x d (lda), b: nc x d (ldb). key_mask may be NULL (all valid). */
static void nt_product(size_t nr, size_t nc, size_t d, const float *a, size_t lda,
                       const float *b, size_t ldb, float *c, size_t ldc, int scores, float scale,
                       const uint8_t *key_mask)
{
    float kt[KT_D * 16];
    const __m256 vscale = _mm256_set1_ps(scale);
    for (size_t mb = 0; mb < nc; mb += 16) {
        const size_t w = nc - mb < 16 ? nc - mb : 16;
        const __m256i m0 = ttr__lane_mask(w), m1 = ttr__lane_mask(w > 8 ? w - 8 : 0);
        int valid[16];
        for (size_t r = 0; r < 16; r++)
            valid[r] = r < w && (!key_mask || key_mask[mb + r]) ? -1 : 0;
        const __m256 v0 = _mm256_castsi256_ps(_mm256_loadu_si256((const __m256i *)(void *)valid));
        const __m256 v1 =
            _mm256_castsi256_ps(_mm256_loadu_si256((const __m256i *)(void *)(valid + 8)));
        size_t c0 = 0;
        do { /* once even for d == 0 (every sum is then 0) */
            const size_t dc = d - c0 < KT_D ? d - c0 : KT_D;
            const int first = c0 == 0, fin = c0 + dc >= d;
            /* transpose: kt[cc][r] = b[mb + r][c0 + cc], rows beyond nc are 0 */
            for (size_t r = 0; r < 16; r++) {
                const float *br = b + (mb + r) * ldb + c0;
                if (r < w)
                    for (size_t cc = 0; cc < dc; cc++)
                        kt[cc * 16 + r] = br[cc];
                else
                    for (size_t cc = 0; cc < dc; cc++)
                        kt[cc * 16 + r] = 0.0f;
            }
            /* partial sums of earlier chunks (scores) or the initial C (else) */
            const int load = !(scores && first);
            size_t j = 0;
            for (; j + 4 <= nr; j += 4) {
                const float *a0 = a + j * lda + c0, *a1 = a0 + lda, *a2 = a1 + lda, *a3 = a2 + lda;
                float *cj = c + j * ldc + mb;
                __m256 s00, s01, s10, s11, s20, s21, s30, s31;
                if (load) {
                    s00 = _mm256_maskload_ps(cj, m0);
                    s01 = _mm256_maskload_ps(cj + 8, m1);
                    s10 = _mm256_maskload_ps(cj + ldc, m0);
                    s11 = _mm256_maskload_ps(cj + ldc + 8, m1);
                    s20 = _mm256_maskload_ps(cj + 2 * ldc, m0);
                    s21 = _mm256_maskload_ps(cj + 2 * ldc + 8, m1);
                    s30 = _mm256_maskload_ps(cj + 3 * ldc, m0);
                    s31 = _mm256_maskload_ps(cj + 3 * ldc + 8, m1);
                } else {
                    s00 = s01 = s10 = s11 = s20 = s21 = s30 = s31 = _mm256_setzero_ps();
                }
                for (size_t cc = 0; cc < dc; cc++) {
                    const __m256 k0 = _mm256_loadu_ps(kt + cc * 16);
                    const __m256 k1 = _mm256_loadu_ps(kt + cc * 16 + 8);
                    __m256 x = _mm256_broadcast_ss(a0 + cc);
                    s00 = _mm256_fmadd_ps(x, k0, s00);
                    s01 = _mm256_fmadd_ps(x, k1, s01);
                    x = _mm256_broadcast_ss(a1 + cc);
                    s10 = _mm256_fmadd_ps(x, k0, s10);
                    s11 = _mm256_fmadd_ps(x, k1, s11);
                    x = _mm256_broadcast_ss(a2 + cc);
                    s20 = _mm256_fmadd_ps(x, k0, s20);
                    s21 = _mm256_fmadd_ps(x, k1, s21);
                    x = _mm256_broadcast_ss(a3 + cc);
                    s30 = _mm256_fmadd_ps(x, k0, s30);
                    s31 = _mm256_fmadd_ps(x, k1, s31);
                }
                nt_store(cj, s00, s01, m0, m1, fin, scores, vscale, v0, v1);
                nt_store(cj + ldc, s10, s11, m0, m1, fin, scores, vscale, v0, v1);
                nt_store(cj + 2 * ldc, s20, s21, m0, m1, fin, scores, vscale, v0, v1);
                nt_store(cj + 3 * ldc, s30, s31, m0, m1, fin, scores, vscale, v0, v1);
            }
            for (; j < nr; j++) {
                const float *a0 = a + j * lda + c0;
                float *cj = c + j * ldc + mb;
                __m256 s00 = _mm256_setzero_ps(), s01 = s00;
                if (load) {
                    s00 = _mm256_maskload_ps(cj, m0);
                    s01 = _mm256_maskload_ps(cj + 8, m1);
                }
                for (size_t cc = 0; cc < dc; cc++) {
                    const __m256 x = _mm256_broadcast_ss(a0 + cc);
                    s00 = _mm256_fmadd_ps(x, _mm256_loadu_ps(kt + cc * 16), s00);
                    s01 = _mm256_fmadd_ps(x, _mm256_loadu_ps(kt + cc * 16 + 8), s01);
                }
                nt_store(cj, s00, s01, m0, m1, fin, scores, vscale, v0, v1);
            }
            c0 += dc;
        } while (c0 < d);
    }
}

/* ------------------------------------------------------------------------
 * C (op)= alpha * A B
 * ------------------------------------------------------------------------ */

/* ------------------------------------------------------------------------
 * The four kernels
 * ------------------------------------------------------------------------ */

static void attn_probs_avx2(size_t n, size_t d, const float *q, size_t ldq, const float *k,
                            size_t ldk, float scale, const uint8_t *key_mask, float *p,
                            size_t ldp)
{
    int any = key_mask == NULL && n > 0;
    for (size_t m = 0; m < n && !any; m++)
        any = key_mask[m] != 0;
    if (!any) { /* every key masked: all rows zero */
        for (size_t j = 0; j < n; j++)
            for (size_t m = 0; m < n; m++)
                p[j * ldp + m] = 0.0f;
        return;
    }
    /* scores, -inf at masked keys (exp then gives exactly 0) */
    nt_product(n, n, d, q, ldq, k, ldk, p, ldp, 1, scale, key_mask);
    const __m256 ninf = _mm256_set1_ps(-__builtin_inff());
    for (size_t j = 0; j < n; j++) {
        float *pj = p + j * ldp;
        __m256 mx0 = ninf, mx1 = ninf;
        size_t m = 0;
        for (; m + 16 <= n; m += 16) {
            mx0 = _mm256_max_ps(mx0, _mm256_loadu_ps(pj + m));
            mx1 = _mm256_max_ps(mx1, _mm256_loadu_ps(pj + m + 8));
        }
        for (; m < n; m += 8) {
            __m256i mk = ttr__lane_mask(n - m);
            __m256 x = _mm256_blendv_ps(ninf, _mm256_maskload_ps(pj + m, mk),
                                        _mm256_castsi256_ps(mk));
            mx0 = _mm256_max_ps(mx0, x);
        }
        const __m256 vmx = _mm256_set1_ps(ttr__hmax8(_mm256_max_ps(mx0, mx1)));
        __m256 sum0 = _mm256_setzero_ps(), sum1 = sum0;
        for (m = 0; m + 16 <= n; m += 16) {
            __m256 e0 = ttr__exp_avx2(_mm256_sub_ps(_mm256_loadu_ps(pj + m), vmx));
            __m256 e1 = ttr__exp_avx2(_mm256_sub_ps(_mm256_loadu_ps(pj + m + 8), vmx));
            _mm256_storeu_ps(pj + m, e0);
            _mm256_storeu_ps(pj + m + 8, e1);
            sum0 = _mm256_add_ps(sum0, e0);
            sum1 = _mm256_add_ps(sum1, e1);
        }
        for (; m < n; m += 8) {
            __m256i mk = ttr__lane_mask(n - m);
            __m256 x = _mm256_blendv_ps(ninf, _mm256_maskload_ps(pj + m, mk),
                                        _mm256_castsi256_ps(mk));
            __m256 e = ttr__exp_avx2(_mm256_sub_ps(x, vmx));
            _mm256_maskstore_ps(pj + m, mk, e);
            sum0 = _mm256_add_ps(sum0, e);
        }
        const __m256 inv = _mm256_set1_ps(1.0f / ttr__hsum8(_mm256_add_ps(sum0, sum1)));
        for (m = 0; m + 8 <= n; m += 8)
            _mm256_storeu_ps(pj + m, _mm256_mul_ps(_mm256_loadu_ps(pj + m), inv));
        if (m < n) {
            __m256i mk = ttr__lane_mask(n - m);
            _mm256_maskstore_ps(pj + m, mk, _mm256_mul_ps(_mm256_maskload_ps(pj + m, mk), inv));
        }
    }
}

static void attn_apply_avx2(size_t n, size_t dv, const float *p, size_t ldp, const float *v,
                            size_t ldv, float *out, size_t ldo)
{
    ttr__avx2_matmul(n, dv, n, p, ldp, 1, v, ldv, out, ldo, TTR__MM_SET, 1.0f);
}

static void attn_apply_bwd_avx2(size_t n, size_t dv_cols, const float *p, size_t ldp,
                                const float *v, size_t ldv, const float *dout, size_t ldo,
                                float *dp, size_t lddp, float *dv, size_t lddv)
{
    /* dP += dOut V^T */
    if (dv_cols > 0)
        nt_product(n, n, dv_cols, dout, ldo, v, ldv, dp, lddp, 0, 1.0f, NULL);
    /* dV += P^T dOut: A(m, j) = p[j][m] */
    ttr__avx2_matmul(n, dv_cols, n, p, 1, ldp, dout, ldo, dv, lddv, TTR__MM_ADD, 1.0f);
}

static void attn_probs_bwd_avx2(size_t n, size_t d, const float *q, size_t ldq, const float *k,
                                size_t ldk, float scale, const float *p, size_t ldp, float *dp,
                                size_t lddp, float *dq, size_t lddq, float *dk, size_t lddk)
{
    /* softmax backward in place: dS = P o (dP - sum_m dP P) */
    for (size_t j = 0; j < n; j++) {
        const float *pj = p + j * ldp;
        float *gj = dp + j * lddp;
        __m256 s0 = _mm256_setzero_ps(), s1 = s0;
        size_t m = 0;
        for (; m + 16 <= n; m += 16) {
            s0 = _mm256_fmadd_ps(_mm256_loadu_ps(gj + m), _mm256_loadu_ps(pj + m), s0);
            s1 = _mm256_fmadd_ps(_mm256_loadu_ps(gj + m + 8), _mm256_loadu_ps(pj + m + 8), s1);
        }
        for (; m < n; m += 8) {
            __m256i mk = ttr__lane_mask(n - m);
            s0 = _mm256_fmadd_ps(_mm256_maskload_ps(gj + m, mk), _mm256_maskload_ps(pj + m, mk),
                                 s0);
        }
        const __m256 dot = _mm256_set1_ps(ttr__hsum8(_mm256_add_ps(s0, s1)));
        for (m = 0; m + 8 <= n; m += 8)
            _mm256_storeu_ps(gj + m, _mm256_mul_ps(_mm256_loadu_ps(pj + m),
                                                   _mm256_sub_ps(_mm256_loadu_ps(gj + m), dot)));
        if (m < n) {
            __m256i mk = ttr__lane_mask(n - m);
            _mm256_maskstore_ps(gj + m, mk,
                                _mm256_mul_ps(_mm256_maskload_ps(pj + m, mk),
                                              _mm256_sub_ps(_mm256_maskload_ps(gj + m, mk), dot)));
        }
    }
    /* dQ += scale dS K;  dK += scale dS^T Q */
    ttr__avx2_matmul(n, d, n, dp, lddp, 1, k, ldk, dq, lddq, TTR__MM_AXPY, scale);
    ttr__avx2_matmul(n, d, n, dp, 1, lddp, q, ldq, dk, lddk, TTR__MM_AXPY, scale);
}

void ttr__init_attn_avx2(ttr__kernels *t)
{
    TTR__SET(t, attn_probs, attn_probs_avx2, "avx2");
    TTR__SET(t, attn_apply, attn_apply_avx2, "avx2");
    TTR__SET(t, attn_apply_bwd, attn_apply_bwd_avx2, "avx2");
    TTR__SET(t, attn_probs_bwd, attn_probs_bwd_avx2, "avx2");
}
