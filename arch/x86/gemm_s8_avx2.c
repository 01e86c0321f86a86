/* AVX2 int8 kernels: per-vector activation quantization, the int8 dense
 * layer over the packed layout of ttr_kernels.h (panels of 16 outputs,
 * blocks of 4 inputs, 64 bytes per block: output r's 4 weights at r*4), and
 * the layer with quantized output (ttr_gemm_s8_relu_q). All are bit-exact
 * with src/ref_gemm_s8.c. Layers of up to 64 outputs take the one-item,
 * all-outputs-in-registers path further down (with an exact u8 fast path
 * for rows without negative bytes); wider ones the panel tiles below.
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

static inline uint32_t hmax8u(__m256i v)
{
    __m128i m = _mm_max_epu32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    m = _mm_max_epu32(m, _mm_shuffle_epi32(m, 0x4e));
    m = _mm_max_epu32(m, _mm_shuffle_epi32(m, 0xb1));
    return (uint32_t)_mm_cvtsi128_si32(m);
}

#define LOADX(p) _mm256_loadu_si256((const __m256i *)(const void *)(p))

/* Lanes [0, cnt) set, cnt in 0..8. */
static inline __m256i lane_mask(size_t cnt)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)cnt),
                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* round_half_even(x * inv) of 8 lanes as int32 (cvtps rounds half to even
 * under the default MXCSR). The reference then clamps to [-127, 127]; that
 * never changes anything: |x| <= max|x| and inv = fl(127 / max|x|), so
 * |x * inv| <= 127 (1 + 2^-24)^2 < 127.5 rounds to at most 127. inv is
 * finite: rows below TTR_S8_MIN_RANGE or not finite never get here. */
static inline __m256i quant8(__m256 x, __m256 inv)
{
    return _mm256_cvtps_epi32(_mm256_mul_ps(x, inv));
}

/* 8 int32 in [-127, 127] to 8 bytes (no saturation happens). */
static inline __m128i pack8(__m256i v)
{
    __m128i w16 = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    return _mm_packs_epi16(w16, w16);
}

/* 32 int32 in [-127, 127] (four vectors, in order) to 32 bytes: two packs
 * work per 128-bit lane, so the dwords come out as a0 b0 c0 d0 | a1 b1 c1 d1
 * (a0 = bytes 0..3 of a's result, a1 = 4..7) and one permute orders them. */
static inline __m256i pack32(__m256i a, __m256i b, __m256i c, __m256i d)
{
    __m256i ab = _mm256_packs_epi32(a, b), cd = _mm256_packs_epi32(c, d);
    return _mm256_permutevar8x32_epi32(_mm256_packs_epi16(ab, cd),
                                       _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

/* max |x[0..k)| as the bit pattern of a non-negative float. For such
 * patterns the order as integers is the floats' order, and NaN/Inf
 * (exponent all ones) come out >= 0x7f800000, above every finite value.
 * Masked-off lanes load 0. */
static inline uint32_t maxabs_bits(const float *xi, size_t k, size_t k8, __m256i tail)
{
    const __m256i absmask = _mm256_set1_epi32(0x7fffffff);
    __m256i m0 = _mm256_setzero_si256(), m1 = m0;
    size_t t = 0;
    for (; t + 16 <= k; t += 16) {
        m0 = _mm256_max_epu32(m0, _mm256_and_si256(LOADX(xi + t), absmask));
        m1 = _mm256_max_epu32(m1, _mm256_and_si256(LOADX(xi + t + 8), absmask));
    }
    if (t < k8)
        m0 = _mm256_max_epu32(m0, _mm256_and_si256(LOADX(xi + t), absmask));
    if (k8 < k)
        m1 = _mm256_max_epu32(
            m1, _mm256_and_si256(
                    _mm256_maskload_epi32((const int *)(const void *)(xi + k8), tail), absmask));
    return hmax8u(_mm256_max_epu32(m0, m1));
}

/* Rows are done in groups: first every row's max, then every row's bytes.
 * A row is one long chain (max, horizontal max, division, quantization);
 * side by side, the chains of a group overlap. */
#define QUANT_GROUP 8

static void quantize_s8_avx2(size_t n, size_t k, const float *x, size_t ldx, int8_t *q,
                             size_t ldq, float *scale)
{
    const size_t kpad = TTR_S8_KPAD(k), k8 = k & ~(size_t)7;
    const __m256i tail = lane_mask(k - k8); /* the last k % 8 elements */
    uint32_t mb[QUANT_GROUP];
    for (size_t i0 = 0; i0 < n; i0 += QUANT_GROUP) {
        const size_t g = n - i0 < QUANT_GROUP ? n - i0 : QUANT_GROUP;
        for (size_t u = 0; u < g; u++)
            mb[u] = maxabs_bits(x + (i0 + u) * ldx, k, k8, tail);
        for (size_t u = 0; u < g; u++) {
            const float *xi = x + (i0 + u) * ldx;
            int8_t *qi = q + (i0 + u) * ldq;
            const uint32_t mbits = mb[u];
            float maxabs;
            memcpy(&maxabs, &mbits, sizeof maxabs);
            if (mbits >= 0x7f800000u || !(maxabs >= TTR_S8_MIN_RANGE)) {
                memset(qi, 0, kpad);
                scale[i0 + u] = mbits >= 0x7f800000u ? ttr__s8_nan() : 0.0f;
                continue;
            }
            const __m256 inv = _mm256_set1_ps(127.0f / maxabs);
            size_t t = 0;
            for (; t + 32 <= k; t += 32)
                _mm256_storeu_si256((__m256i *)(void *)(qi + t),
                                    pack32(quant8(_mm256_loadu_ps(xi + t), inv),
                                           quant8(_mm256_loadu_ps(xi + t + 8), inv),
                                           quant8(_mm256_loadu_ps(xi + t + 16), inv),
                                           quant8(_mm256_loadu_ps(xi + t + 24), inv)));
            for (; t < k8; t += 8)
                _mm_storel_epi64((__m128i *)(void *)(qi + t),
                                 pack8(quant8(_mm256_loadu_ps(xi + t), inv)));
            if (k8 < k) { /* lanes beyond k give 0: the zero padding up to KPAD */
                __m256i v =
                    _mm256_and_si256(quant8(_mm256_maskload_ps(xi + k8, tail), inv), tail);
                __m128i b8 = pack8(v);
                if (kpad - k8 == 8)
                    _mm_storel_epi64((__m128i *)(void *)(qi + k8), b8);
                else /* kpad - k8 == 4 */
                    _mm_storeu_si32(qi + k8, b8);
            }
            scale[i0 + u] = maxabs / 127.0f;
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

/* ------------------------------------------------------------------------
 * Layers of up to 64 outputs: one item at a time, every output in registers
 *
 * Per block of 4 inputs, the item's 4 bytes are broadcast once (a load
 * uop: vpbroadcastd from memory) and meet the block's weights of all P
 * panels (2P vectors of 8 outputs x 4 inputs). Rows whose bytes are all
 * >= 0 (every ReLU output of ttr_gemm_s8_relu_q, and raw features that are
 * never negative) take maddubs directly: the activation is the unsigned
 * operand (0..127), the weight the signed one (-127..127), so an int16 lane
 * is at most 2 * 127 * 127 = 32258 < 32767 in magnitude and maddubs never
 * saturates: maddubs + madd(ones) + add, 3 vector uops per 32 products.
 * Rows with a negative byte take the sign trick of the top of the file (one
 * more uop per vector; abs once per block). The test costs a few loads and
 * one movemask per item. Both give the exact int32 sums.
 *
 * Then the epilogue of the reference, lane for lane (cvt, mul, mul, add,
 * max), and either a store of the f32 outputs (ttr_gemm_s8) or, for
 * ttr_gemm_s8_relu_q, the row's max (a vmaxps tree, exact) and its
 * quantization (quant8 + packs) straight from the registers.
 * ------------------------------------------------------------------------ */
#define TTR_AI static inline __attribute__((always_inline))
#define ROW_MAX_M 64

/* Epilogue constants of one call, zero beyond m: padded outputs (whose
 * packed weights are zero) give y = 0 * 0 + 0 = +0, which changes neither
 * a row's max nor the zero padding of a quantized row. */
typedef struct row_consts {
    float ws[ROW_MAX_M], bs[ROW_MAX_M];
    size_t m;
    int relu;
} row_consts;

/* Fills the vectors of the whole panels that cover m (m in 1..64). */
static void row_consts_fill(row_consts *rc, size_t m, const float *wscale, const float *b,
                            int relu)
{
    const size_t mp = (m + TTR_S8_PANEL - 1) / TTR_S8_PANEL * TTR_S8_PANEL;
    for (size_t j = 0; j < mp; j += 8) {
        __m256 w = _mm256_setzero_ps(), bb = w;
        if (j + 8 <= m) {
            w = _mm256_loadu_ps(wscale + j);
            if (b)
                bb = _mm256_loadu_ps(b + j);
        } else if (j < m) {
            const __m256i mk = lane_mask(m - j);
            w = _mm256_maskload_ps(wscale + j, mk);
            if (b)
                bb = _mm256_maskload_ps(b + j, mk);
        }
        _mm256_storeu_ps(rc->ws + j, w);
        _mm256_storeu_ps(rc->bs + j, bb);
    }
    rc->m = m;
    rc->relu = relu;
}

/* 1 if one of the kpad (a multiple of 4) bytes of q is negative. */
static inline int row_has_negative(const int8_t *q, size_t kpad)
{
    __m128i o = _mm_setzero_si128();
    size_t t = 0;
    if (kpad >= 32) {
        __m256i o2 = _mm256_setzero_si256();
        for (; t + 32 <= kpad; t += 32)
            o2 = _mm256_or_si256(o2, LOADX(q + t));
        o = _mm_or_si128(_mm256_castsi256_si128(o2), _mm256_extracti128_si256(o2, 1));
    }
    for (; t + 16 <= kpad; t += 16)
        o = _mm_or_si128(o, _mm_loadu_si128((const __m128i *)(const void *)(q + t)));
    for (; t < kpad; t += 4)
        o = _mm_or_si128(o, _mm_loadu_si32(q + t));
    return _mm_movemask_epi8(o) != 0;
}

/* acc[0..2P) = the exact int32 sums of one item over P panels (see above).
 * SGN 0: the row has no negative byte (maddubs on it directly); 1: the sign
 * trick, |q| of each block computed in the loop; 2: the sign trick with |q|
 * read from ua (abs_row), which saves that instruction where few vectors
 * share a block (P <= 2). */
TTR_AI void row_acc(const int P, const int SGN, const int8_t *w, size_t pstride,
                    const int8_t *qi, const int8_t *ua, size_t nblk, __m256i acc[8])
{
    const __m256i ones = _mm256_set1_epi16(1);
    const int8_t *w0 = w, *w1 = P > 1 ? w + pstride : w;
    const int8_t *w2 = P > 2 ? w + 2 * pstride : w, *w3 = P > 3 ? w + 3 * pstride : w;
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
    __m256i a4 = a0, a5 = a0, a6 = a0, a7 = a0;
    for (size_t bk = 0, off = 0; bk < nblk; bk++, off += 64) {
        const __m256i xb = bcast4(qi + 4 * bk);
        const __m256i xu = SGN == 2 ? bcast4(ua + 4 * bk) : SGN ? _mm256_abs_epi8(xb) : xb;
#define ROW_STEP(A, WP)                                                                     \
    do {                                                                                    \
        __m256i wv_ = LOADW(WP);                                                            \
        if (SGN)                                                                            \
            wv_ = _mm256_sign_epi8(wv_, xb);                                                \
        A = _mm256_add_epi32(A, _mm256_madd_epi16(_mm256_maddubs_epi16(xu, wv_), ones));    \
    } while (0)
        ROW_STEP(a0, w0 + off);
        ROW_STEP(a1, w0 + off + 32);
        if (P > 1) {
            ROW_STEP(a2, w1 + off);
            ROW_STEP(a3, w1 + off + 32);
        }
        if (P > 2) {
            ROW_STEP(a4, w2 + off);
            ROW_STEP(a5, w2 + off + 32);
        }
        if (P > 3) {
            ROW_STEP(a6, w3 + off);
            ROW_STEP(a7, w3 + off + 32);
        }
#undef ROW_STEP
    }
    acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3;
    acc[4] = a4, acc[5] = a5, acc[6] = a6, acc[7] = a7;
}

/* Outputs 8v..8v+7: relu?((float)acc * (xs * ws) + b), the reference's
 * operations in its order (mul(xs, ws) = xs * ws: IEEE products commute). */
TTR_AI __m256 row_y8(__m256i acc, __m256 vxs, const row_consts *rc, int v)
{
    __m256 sc = _mm256_mul_ps(vxs, _mm256_loadu_ps(rc->ws + 8 * v));
    __m256 y = _mm256_mul_ps(_mm256_cvtepi32_ps(acc), sc);
    y = _mm256_add_ps(y, _mm256_loadu_ps(rc->bs + 8 * v));
    if (rc->relu) /* max(y, 0) = second operand unless y > 0: !(y > 0) ? +0 : y */
        y = _mm256_max_ps(y, _mm256_setzero_ps());
    return y;
}

TTR_AI void row_store8(float *y, __m256 v, size_t j, size_t m)
{
    if (j + 8 <= m)
        _mm256_storeu_ps(y + j, v);
    else if (j < m)
        _mm256_maskstore_ps(y + j, lane_mask(m - j), v);
}

/* 16 int32 in [0, 127] (two vectors, in order) to 16 bytes. */
static inline __m128i pack16(__m256i a, __m256i b)
{
    __m256i ab = _mm256_permute4x64_epi64(_mm256_packs_epi32(a, b), 0xd8);
    return _mm_packs_epi16(_mm256_castsi256_si128(ab), _mm256_extracti128_si256(ab, 1));
}

/* One item's accumulators, for the sign of its row. */
TTR_AI void row_item_acc(const int P, const int8_t *w, size_t pstride, const int8_t *qi,
                         size_t kpad, __m256i acc[8])
{
    if (!row_has_negative(qi, kpad)) {
        row_acc(P, 0, w, pstride, qi, NULL, kpad / 4, acc);
    } else if (P <= 2 && kpad <= QABS_BYTES) {
        int8_t ua[QABS_BYTES];
        abs_row(qi, kpad, ua);
        row_acc(P, 2, w, pstride, qi, ua, kpad / 4, acc);
    } else {
        row_acc(P, 1, w, pstride, qi, NULL, kpad / 4, acc);
    }
}

/* One item's epilogue from its accumulators: store y (qo NULL) or quantize
 * into qo[0..KPAD(m)) and *oscale. */
TTR_AI void row_item_out(const int P, const __m256i acc[8], float xs, const row_consts *rc,
                         float *y, int8_t *qo, float *oscale)
{
    const __m256 vxs = _mm256_set1_ps(xs);
    __m256 y0 = row_y8(acc[0], vxs, rc, 0), y1 = row_y8(acc[1], vxs, rc, 1);
    __m256 y2 = y0, y3 = y0, y4 = y0, y5 = y0, y6 = y0, y7 = y0;
    if (P > 1) {
        y2 = row_y8(acc[2], vxs, rc, 2);
        y3 = row_y8(acc[3], vxs, rc, 3);
    }
    if (P > 2) {
        y4 = row_y8(acc[4], vxs, rc, 4);
        y5 = row_y8(acc[5], vxs, rc, 5);
    }
    if (P > 3) {
        y6 = row_y8(acc[6], vxs, rc, 6);
        y7 = row_y8(acc[7], vxs, rc, 7);
    }
    const size_t m = rc->m;
    if (!qo) {
        row_store8(y, y0, 0, m);
        row_store8(y, y1, 8, m);
        if (P > 1) {
            row_store8(y, y2, 16, m);
            row_store8(y, y3, 24, m);
        }
        if (P > 2) {
            row_store8(y, y4, 32, m);
            row_store8(y, y5, 40, m);
        }
        if (P > 3) {
            row_store8(y, y6, 48, m);
            row_store8(y, y7, 56, m);
        }
        return;
    }
    /* ttr_quantize_s8 of the row: y >= +0, so max|y| = max y (exact) */
    __m256 mx = _mm256_max_ps(y0, y1);
    if (P > 1)
        mx = _mm256_max_ps(mx, _mm256_max_ps(y2, y3));
    if (P > 2)
        mx = _mm256_max_ps(mx, _mm256_max_ps(y4, y5));
    if (P > 3)
        mx = _mm256_max_ps(mx, _mm256_max_ps(y6, y7));
    const float maxabs = hmax8(mx);
    const size_t mpad = TTR_S8_KPAD(m);
    if (!(maxabs >= TTR_S8_MIN_RANGE)) {
        memset(qo, 0, mpad);
        *oscale = 0.0f;
        return;
    }
    const __m256 inv = _mm256_set1_ps(127.0f / maxabs);
    int8_t tmp[ROW_MAX_M];
    int8_t *dst = mpad == (size_t)P * 16 ? qo : tmp;
    if (P == 1) {
        _mm_storeu_si128((__m128i *)(void *)dst, pack16(quant8(y0, inv), quant8(y1, inv)));
    } else {
        _mm256_storeu_si256((__m256i *)(void *)dst, pack32(quant8(y0, inv), quant8(y1, inv),
                                                           quant8(y2, inv), quant8(y3, inv)));
        if (P == 3)
            _mm_storeu_si128((__m128i *)(void *)(dst + 32),
                             pack16(quant8(y4, inv), quant8(y5, inv)));
        if (P == 4)
            _mm256_storeu_si256((__m256i *)(void *)(dst + 32),
                                pack32(quant8(y4, inv), quant8(y5, inv), quant8(y6, inv),
                                       quant8(y7, inv)));
    }
    if (dst == tmp)
        memcpy(qo, tmp, mpad);
    *oscale = maxabs / 127.0f;
}

/* n items through a layer of P panels (y rows of ldy, or qo rows of ldqo).
 * Items go in groups: the accumulators of ROW_GROUP items first (parked on
 * the stack), then their epilogues. An epilogue is one long dependency
 * chain (row max, a division, quantization: ~80 cycles) of few uops; back
 * to back, the epilogues of a group overlap each other and the next
 * group's products, where one item at a time left most of the chain
 * exposed. */
#define ROW_GROUP 4
TTR_AI void rows_impl(const int P, size_t n, size_t kpad, const int8_t *packed, const int8_t *q,
                      size_t ldq, const float *xscale, const row_consts *rc, float *y,
                      size_t ldy, int8_t *qo, size_t ldqo, float *oscale)
{
    const size_t pstride = TTR_S8_PANEL * kpad;
    __m256i acc[ROW_GROUP][8];
    for (size_t i0 = 0; i0 < n; i0 += ROW_GROUP) {
        size_t g = n - i0 < ROW_GROUP ? n - i0 : ROW_GROUP;
        for (size_t u = 0; u < g; u++)
            row_item_acc(P, packed, pstride, q + (i0 + u) * ldq, kpad, acc[u]);
        for (size_t u = 0; u < g; u++) {
            size_t i = i0 + u;
            row_item_out(P, acc[u], xscale[i], rc, qo ? NULL : y + i * ldy,
                         qo ? qo + i * ldqo : NULL, qo ? oscale + i : NULL);
        }
    }
}

#define ROWS_FN(P)                                                                          \
    static void rows_p##P(size_t n, size_t kpad, const int8_t *packed, const int8_t *q,      \
                          size_t ldq, const float *xscale, const row_consts *rc, float *y,   \
                          size_t ldy, int8_t *qo, size_t ldqo, float *oscale)                \
    {                                                                                       \
        rows_impl(P, n, kpad, packed, q, ldq, xscale, rc, y, ldy, qo, ldqo, oscale);         \
    }
ROWS_FN(1)
ROWS_FN(2)
ROWS_FN(3)
ROWS_FN(4)

/* m in 1..64: the layer through the register path. */
static void rows_run(size_t n, size_t m, size_t k, const int8_t *packed, const int8_t *q,
                     size_t ldq, const float *xscale, const float *wscale, const float *b,
                     int relu, float *y, size_t ldy, int8_t *qo, size_t ldqo, float *oscale)
{
    row_consts rc;
    const size_t kpad = TTR_S8_KPAD(k);
    row_consts_fill(&rc, m, wscale, b, relu);
    switch ((m + TTR_S8_PANEL - 1) / TTR_S8_PANEL) {
    case 1:
        rows_p1(n, kpad, packed, q, ldq, xscale, &rc, y, ldy, qo, ldqo, oscale);
        break;
    case 2:
        rows_p2(n, kpad, packed, q, ldq, xscale, &rc, y, ldy, qo, ldqo, oscale);
        break;
    case 3:
        rows_p3(n, kpad, packed, q, ldq, xscale, &rc, y, ldy, qo, ldqo, oscale);
        break;
    default:
        rows_p4(n, kpad, packed, q, ldq, xscale, &rc, y, ldy, qo, ldqo, oscale);
        break;
    }
}

static void gemm_s8_avx2_dispatch(size_t n, size_t m, size_t k, const int8_t *packed,
                                  const int8_t *q, size_t ldq, const float *xscale,
                                  const float *wscale, const float *b, float *y, size_t ldy,
                                  int relu)
{
    if (m == 0 || n == 0)
        return;
    if (m <= ROW_MAX_M)
        rows_run(n, m, k, packed, q, ldq, xscale, wscale, b, relu, y, ldy, NULL, 0, NULL);
    else
        gemm_s8_avx2(n, m, k, packed, q, ldq, xscale, wscale, b, y, ldy, relu);
}

/* Wider layers: ttr_gemm_s8 then ttr_quantize_s8 through a stack buffer. */
#define RELU_Q_FLOATS 1024

static void gemm_s8_relu_q_avx2(size_t n, size_t m, size_t k, const int8_t *packed,
                                const int8_t *q, size_t ldq, const float *xscale,
                                const float *wscale, const float *b, int8_t *qo, size_t ldqo,
                                float *oscale)
{
    if (n == 0)
        return;
    if (m == 0) {
        for (size_t i = 0; i < n; i++)
            oscale[i] = 0.0f;
        return;
    }
    if (m <= ROW_MAX_M) {
        rows_run(n, m, k, packed, q, ldq, xscale, wscale, b, 1, NULL, 0, qo, ldqo, oscale);
        return;
    }
    if (m > RELU_Q_FLOATS) {
        ttr__gemm_s8_relu_q_c(n, m, k, packed, q, ldq, xscale, wscale, b, qo, ldqo, oscale);
        return;
    }
    float yb[RELU_Q_FLOATS];
    size_t rows = RELU_Q_FLOATS / m;
    for (size_t i = 0; i < n; i += rows) {
        size_t c = n - i < rows ? n - i : rows;
        gemm_s8_avx2(c, m, k, packed, q + i * ldq, ldq, xscale + i, wscale, b, yb, m, 1);
        quantize_s8_avx2(c, m, yb, m, qo + i * ldqo, ldqo, oscale + i);
    }
}

void ttr__init_gemm_s8_avx2(ttr__kernels *t)
{
    t->quantize_s8 = quantize_s8_avx2;
    t->isa[TTR_K_QUANTIZE_S8] = "avx2";
    t->gemm_s8 = gemm_s8_avx2_dispatch;
    t->isa[TTR_K_GEMM_S8] = "avx2";
    t->gemm_s8_relu_q = gemm_s8_relu_q_avx2;
    t->isa[TTR_K_GEMM_S8_RELU_Q] = "avx2";
}
