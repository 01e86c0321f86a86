/* AVX2 int8 kernels: per-vector activation quantization and the int8 dense
 * layer over the packed layout of ttr_kernels.h (panels of 16 outputs,
 * blocks of 4 inputs, 64 bytes per block: output r's 4 weights at r*4).
 * Both are bit-exact with src/ref_gemm_s8.c.
 *
 * Inner product, the sign trick: for one block and 8 outputs,
 *   qb = q[t..t+3] broadcast to every 32-bit lane,
 *   u  = |qb| as unsigned bytes           (0..128; abs(-128) = 0x80 = 128 unsigned)
 *   s  = sign(w, qb) = w * sign(q)         (-127..127: w is never -128, so -w fits)
 *   p  = maddubs(u, s): int16 lanes u0*s0 + u1*s1 = w0*q0 + w1*q1
 *   acc += madd(p, 1):  int32 lanes p0 + p1 = the block's 4 products for one output.
 * No-overflow bound: each int16 lane of maddubs is at most 2 * 128 * 127 = 32512
 * < 32767 in magnitude, so its saturation never triggers. This is exactly what
 * excluding -128 from the weights buys: with w = -128, -w would wrap in sign()
 * and a lane could reach 2 * 128 * 128 = 32768. Activations may be -128: they
 * only enter as |q| <= 128 (unsigned) and as signs. Each int32 block sum is at most
 * 4 * 128 * 127 = 65024, and KPAD(k)/4 of them at most 16256 * KPAD(k) <=
 * 1.07e9 < 2^31 for k <= 2^16 (the header's limit). So the int32 accumulator
 * holds the exact sum, i.e. the same integer as the scalar reference, and the
 * float epilogue below repeats the reference's operations one by one.
 *
 * The float epilogue (cvt, mul, mul, add, max) relies on the build's
 * -ffp-contract=off: the multiply and the bias add must not be fused. */
#include <immintrin.h>
#include <string.h>

#include "x86_kernels.h"

/* ------------------------------------------------------------------------
 * Quantization
 * ------------------------------------------------------------------------ */

static inline float hmax8(__m256 v)
{
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
    return _mm_cvtss_f32(m);
}

/* Lanes [0, cnt) set, cnt in 0..8. */
static inline __m256i lane_mask(size_t cnt)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)cnt),
                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* round_half_even(clamp(x * inv, -127, 127)) of 8 lanes as int32. Clamping
 * before rounding equals the reference's clamping after it (rounding is
 * monotonic and +-127 are integers); cvtps rounds half to even under the
 * default MXCSR. inv is finite: rows below TTR_S8_MIN_RANGE never get here. */
static inline __m256i quant8(__m256 x, __m256 inv)
{
    __m256 r = _mm256_mul_ps(x, inv);
    r = _mm256_min_ps(_mm256_max_ps(r, _mm256_set1_ps(-127.0f)), _mm256_set1_ps(127.0f));
    return _mm256_cvtps_epi32(r);
}

/* 8 int32 in [-127, 127] to 8 bytes (no saturation happens). */
static inline __m128i pack8(__m256i v)
{
    __m128i w16 = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    return _mm_packs_epi16(w16, w16);
}

static void quantize_s8_avx2(size_t n, size_t k, const float *x, size_t ldx, int8_t *q,
                             size_t ldq, float *scale)
{
    const size_t kpad = TTR_S8_KPAD(k), k8 = k & ~(size_t)7;
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    const __m256i tail = lane_mask(k - k8); /* the last k % 8 elements */
    for (size_t i = 0; i < n; i++) {
        const float *xi = x + i * ldx;
        int8_t *qi = q + i * ldq;
        /* max |x|: order-independent for finite inputs; masked-off lanes load 0 */
        __m256 m0 = _mm256_setzero_ps(), m1 = _mm256_setzero_ps();
        size_t t = 0;
        for (; t + 16 <= k; t += 16) {
            m0 = _mm256_max_ps(m0, _mm256_and_ps(_mm256_loadu_ps(xi + t), absmask));
            m1 = _mm256_max_ps(m1, _mm256_and_ps(_mm256_loadu_ps(xi + t + 8), absmask));
        }
        if (t < k8)
            m0 = _mm256_max_ps(m0, _mm256_and_ps(_mm256_loadu_ps(xi + t), absmask));
        if (k8 < k)
            m1 = _mm256_max_ps(m1, _mm256_and_ps(_mm256_maskload_ps(xi + k8, tail), absmask));
        const float maxabs = hmax8(_mm256_max_ps(m0, m1));
        if (maxabs >= TTR_S8_MIN_RANGE) {
            const __m256 inv = _mm256_set1_ps(127.0f / maxabs);
            for (t = 0; t < k8; t += 8)
                _mm_storel_epi64((__m128i *)(void *)(qi + t),
                                 pack8(quant8(_mm256_loadu_ps(xi + t), inv)));
            if (k8 < k) { /* lanes beyond k give 0: they are the zero padding up to KPAD */
                __m256i v = _mm256_and_si256(quant8(_mm256_maskload_ps(xi + k8, tail), inv), tail);
                __m128i b8 = pack8(v);
                if (kpad - k8 == 8)
                    _mm_storel_epi64((__m128i *)(void *)(qi + k8), b8);
                else /* kpad - k8 == 4 */
                    _mm_storeu_si32(qi + k8, b8);
            }
            scale[i] = maxabs / 127.0f;
        } else {
            for (t = 0; t < kpad; t++)
                qi[t] = 0;
            scale[i] = 0.0f;
        }
    }
}

/* ------------------------------------------------------------------------
 * int8 dense layer
 * ------------------------------------------------------------------------ */

static inline __m256i bcast4(const int8_t *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}

/* acc += the exact int32 dot products of one block (see the top comment);
 * qa_ = |q| of the block, from a precomputed row (S8_STEP_U) or computed here. */
#define S8_STEP_QA(qb_, qa_, acc0, acc1)                                                    \
    do {                                                                                    \
        acc0 = _mm256_add_epi32(                                                            \
            acc0, _mm256_madd_epi16(_mm256_maddubs_epi16(qa_, _mm256_sign_epi8(w0, qb_)), ones)); \
        acc1 = _mm256_add_epi32(                                                            \
            acc1, _mm256_madd_epi16(_mm256_maddubs_epi16(qa_, _mm256_sign_epi8(w1, qb_)), ones)); \
    } while (0)
#define S8_STEP(qp, acc0, acc1)                                                             \
    do {                                                                                    \
        const __m256i qb_ = bcast4(qp);                                                     \
        S8_STEP_QA(qb_, _mm256_abs_epi8(qb_), acc0, acc1);                                  \
    } while (0)
#define S8_STEP_U(qp, up, acc0, acc1) S8_STEP_QA(bcast4(qp), bcast4(up), acc0, acc1)

/* |q| of the rows of one item tile, computed once and reused by every panel:
 * the abs then costs nothing per panel, which matters because the kernel is
 * bound by the vector ALU ports that abs, sign, maddubs and madd share. */
#define QABS_BYTES 4096

static void abs_row(const int8_t *q, size_t kpad, int8_t *a)
{
    size_t t = 0;
    for (; t + 32 <= kpad; t += 32)
        _mm256_storeu_si256((__m256i *)(void *)(a + t),
                            _mm256_abs_epi8(_mm256_loadu_si256((const __m256i *)(const void *)(q + t))));
    for (; t < kpad; t += 4) /* kpad is a multiple of 4 */
        _mm_storeu_si32(a + t, _mm_abs_epi8(_mm_loadu_si32(q + t)));
}

/* y[0..cnt) = relu?( (float)acc * (xs * ws) + b ), cnt in 1..8: the reference's
 * operations in its order, lane by lane. */
static inline void s8_out8(__m256i acc, float xs, const float *ws, const float *b, float *y,
                           size_t cnt, int relu)
{
    __m256 w, bb = _mm256_setzero_ps();
    if (cnt >= 8) {
        w = _mm256_loadu_ps(ws);
        if (b)
            bb = _mm256_loadu_ps(b);
    } else {
        __m256i mk = lane_mask(cnt);
        w = _mm256_maskload_ps(ws, mk);
        if (b)
            bb = _mm256_maskload_ps(b, mk);
    }
    __m256 s = _mm256_mul_ps(_mm256_set1_ps(xs), w);
    __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(acc), s);
    v = _mm256_add_ps(v, bb);
    if (relu) /* max(v, 0) returns its second operand unless v > 0: = !(v > 0) ? 0 : v */
        v = _mm256_max_ps(v, _mm256_setzero_ps());
    if (cnt >= 8)
        _mm256_storeu_ps(y, v);
    else
        _mm256_maskstore_ps(y, lane_mask(cnt), v);
}

/* Outputs [j, j + mr) of one item, mr in 1..16. */
static inline void s8_out16(__m256i acc0, __m256i acc1, float xs, const float *ws, const float *b,
                            float *y, size_t mr, int relu)
{
    s8_out8(acc0, xs, ws, b, y, mr < 8 ? mr : 8, relu);
    if (mr > 8)
        s8_out8(acc1, xs, ws + 8, b ? b + 8 : NULL, y + 8, mr - 8, relu);
}

#define LOADW(p) _mm256_loadu_si256((const __m256i *)(const void *)(p))

static void gemm_s8_avx2(size_t n, size_t m, size_t k, const int8_t *packed, const int8_t *q,
                         size_t ldq, const float *xscale, const float *wscale, const float *b,
                         float *y, size_t ldy, int relu)
{
    const size_t kpad = TTR_S8_KPAD(k), nblk = kpad / 4;
    const __m256i ones = _mm256_set1_epi16(1);
    int8_t qa[QABS_BYTES]; /* |q| as unsigned bytes (abs(-128) = 0x80 = 128) */
    size_t i = 0;
    /* Four items per weight load: 8 accumulators. Item tiles outside, panels
     * inside, so that |q| of the tile is computed once. */
    for (; i + 4 <= n; i += 4) {
        const int8_t *q0 = q + i * ldq, *q1 = q0 + ldq, *q2 = q1 + ldq, *q3 = q2 + ldq;
        const int pre = 4 * kpad <= QABS_BYTES;
        const int8_t *u0 = qa, *u1 = qa + kpad, *u2 = u1 + kpad, *u3 = u2 + kpad;
        if (pre) {
            abs_row(q0, kpad, qa);
            abs_row(q1, kpad, qa + kpad);
            abs_row(q2, kpad, qa + 2 * kpad);
            abs_row(q3, kpad, qa + 3 * kpad);
        }
        for (size_t j = 0; j < m; j += TTR_S8_PANEL) {
            const int8_t *w = packed + j * kpad;
            __m256i a00 = _mm256_setzero_si256(), a01 = a00, a10 = a00, a11 = a00;
            __m256i a20 = a00, a21 = a00, a30 = a00, a31 = a00;
            if (pre) {
                for (size_t t = 0; t < 4 * nblk; t += 4, w += 64) {
                    const __m256i w0 = LOADW(w), w1 = LOADW(w + 32);
                    S8_STEP_U(q0 + t, u0 + t, a00, a01);
                    S8_STEP_U(q1 + t, u1 + t, a10, a11);
                    S8_STEP_U(q2 + t, u2 + t, a20, a21);
                    S8_STEP_U(q3 + t, u3 + t, a30, a31);
                }
            } else {
                for (size_t t = 0; t < 4 * nblk; t += 4, w += 64) {
                    const __m256i w0 = LOADW(w), w1 = LOADW(w + 32);
                    S8_STEP(q0 + t, a00, a01);
                    S8_STEP(q1 + t, a10, a11);
                    S8_STEP(q2 + t, a20, a21);
                    S8_STEP(q3 + t, a30, a31);
                }
            }
            const size_t mr = m - j < TTR_S8_PANEL ? m - j : TTR_S8_PANEL;
            const float *bj = b ? b + j : NULL;
            float *yi = y + i * ldy + j;
            s8_out16(a00, a01, xscale[i], wscale + j, bj, yi, mr, relu);
            s8_out16(a10, a11, xscale[i + 1], wscale + j, bj, yi + ldy, mr, relu);
            s8_out16(a20, a21, xscale[i + 2], wscale + j, bj, yi + 2 * ldy, mr, relu);
            s8_out16(a30, a31, xscale[i + 3], wscale + j, bj, yi + 3 * ldy, mr, relu);
        }
    }
    /* Single items (the GEMV): two accumulator pairs, even and odd blocks. */
    for (; i < n; i++) {
        const int8_t *qi = q + i * ldq;
        const int pre = kpad <= QABS_BYTES;
        if (pre)
            abs_row(qi, kpad, qa);
        for (size_t j = 0; j < m; j += TTR_S8_PANEL) {
            const int8_t *w = packed + j * kpad;
            __m256i a0 = _mm256_setzero_si256(), a1 = a0, b0 = a0, b1 = a0;
            size_t t = 0;
            if (pre) {
                for (; t + 8 <= 4 * nblk; t += 8, w += 128) {
                    __m256i w0 = LOADW(w), w1 = LOADW(w + 32);
                    S8_STEP_U(qi + t, qa + t, a0, a1);
                    w0 = LOADW(w + 64);
                    w1 = LOADW(w + 96);
                    S8_STEP_U(qi + t + 4, qa + t + 4, b0, b1);
                }
            } else {
                for (; t + 8 <= 4 * nblk; t += 8, w += 128) {
                    __m256i w0 = LOADW(w), w1 = LOADW(w + 32);
                    S8_STEP(qi + t, a0, a1);
                    w0 = LOADW(w + 64);
                    w1 = LOADW(w + 96);
                    S8_STEP(qi + t + 4, b0, b1);
                }
            }
            if (t < 4 * nblk) {
                const __m256i w0 = LOADW(w), w1 = LOADW(w + 32);
                S8_STEP(qi + t, a0, a1);
            }
            const size_t mr = m - j < TTR_S8_PANEL ? m - j : TTR_S8_PANEL;
            s8_out16(_mm256_add_epi32(a0, b0), _mm256_add_epi32(a1, b1), xscale[i], wscale + j,
                     b ? b + j : NULL, y + i * ldy + j, mr, relu);
        }
    }
}

void ttr__init_gemm_s8_avx2(ttr__kernels *t)
{
    t->quantize_s8 = quantize_s8_avx2;
    t->isa[TTR_K_QUANTIZE_S8] = "avx2";
    t->gemm_s8 = gemm_s8_avx2;
    t->isa[TTR_K_GEMM_S8] = "avx2";
}
