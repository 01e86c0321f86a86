/* AVX2 int8 kernels: per-vector activation quantization, the int8 dense
 * layer over the packed layout of ttr_kernels.h (panels of 16 outputs,
 * blocks of 4 inputs, 64 bytes per block: output r's 4 weights at r*4), and
 * the layer with quantized output (ttr_gemm_s8_relu_q). All are bit-exact
 * with src/ref_gemm_s8.c. Layers of up to 64 outputs take the one-item,
 * all-outputs-in-registers path further down (with an exact u8 fast path
 * for rows without negative bytes; its driver is gemm_s8_rows.h); wider ones
 * the panel tiles below. gemm_s8_avxvnni.c is the same with vpdpbusd
 * products; the helpers and the float epilogue both use are in
 * gemm_s8_x86.h.
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
 * float epilogue (gemm_s8_x86.h) repeats the reference's operations one by one.
 *
 * The float epilogue (cvt, mul, mul, add, max) relies on the build's
 * -ffp-contract=off: the multiply and the bias add must not be fused. */
#include "gemm_s8_x86.h"

/* ------------------------------------------------------------------------
 * Quantization
 * ------------------------------------------------------------------------ */

static inline uint32_t hmax8u(__m256i v)
{
    __m128i m = _mm_max_epu32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    m = _mm_max_epu32(m, _mm_shuffle_epi32(m, 0x4e));
    m = _mm_max_epu32(m, _mm_shuffle_epi32(m, 0xb1));
    return (uint32_t)_mm_cvtsi128_si32(m);
}

/* 8 int32 in [-127, 127] to 8 bytes (no saturation happens). */
static inline __m128i pack8(__m256i v)
{
    __m128i w16 = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    return _mm_packs_epi16(w16, w16);
}

/* 8 values of a row from xi + t: x, or (x - mean) * nscale (mean non-NULL),
 * rounded after each operation as the reference does. The masked form
 * loads 0 in the lanes off `mk`, which stay 0 ((0 - 0) * 0). always_inline
 * with a constant NULL mean: each caller gets its own loop. */
TTR_AI __m256 row8(const float *xi, const float *mean, const float *nscale, size_t t)
{
    const __m256 v = _mm256_loadu_ps(xi + t);
    if (!mean)
        return v;
    return _mm256_mul_ps(_mm256_sub_ps(v, _mm256_loadu_ps(mean + t)), _mm256_loadu_ps(nscale + t));
}

TTR_AI __m256 row8_masked(const float *xi, const float *mean, const float *nscale, size_t t,
                          __m256i mk)
{
    const __m256 v = _mm256_maskload_ps(xi + t, mk);
    if (!mean)
        return v;
    return _mm256_mul_ps(_mm256_sub_ps(v, _mm256_maskload_ps(mean + t, mk)),
                         _mm256_maskload_ps(nscale + t, mk));
}

/* max |v[0..k)| of a row as the bit pattern of a non-negative float. For
 * such patterns the order as integers is the floats' order, and NaN/Inf
 * (exponent all ones) come out >= 0x7f800000, above every finite value. */
TTR_AI uint32_t maxabs_bits(const float *xi, const float *mean, const float *nscale, size_t k,
                            size_t k8, __m256i tail)
{
    const __m256i absmask = _mm256_set1_epi32(0x7fffffff);
    __m256i m0 = _mm256_setzero_si256(), m1 = m0;
    size_t t = 0;
#define ABS8(v) _mm256_and_si256(_mm256_castps_si256(v), absmask)
    for (; t + 16 <= k; t += 16) {
        m0 = _mm256_max_epu32(m0, ABS8(row8(xi, mean, nscale, t)));
        m1 = _mm256_max_epu32(m1, ABS8(row8(xi, mean, nscale, t + 8)));
    }
    if (t < k8)
        m0 = _mm256_max_epu32(m0, ABS8(row8(xi, mean, nscale, t)));
    if (k8 < k)
        m1 = _mm256_max_epu32(m1, ABS8(row8_masked(xi, mean, nscale, k8, tail)));
#undef ABS8
    return hmax8u(_mm256_max_epu32(m0, m1));
}

/* Rows are done in groups: first every row's max, then every row's bytes
 * (the second pass recomputes the values: cheaper than storing them).
 * A row is one long chain (max, horizontal max, division, quantization);
 * side by side, the chains of a group overlap. */
#define QUANT_GROUP 8

TTR_AI void quantize_rows(size_t n, size_t k, const float *x, size_t ldx, const float *mean,
                          const float *nscale, int8_t *q, size_t ldq, float *scale)
{
    const size_t kpad = TTR_S8_KPAD(k), k8 = k & ~(size_t)7;
    const __m256i tail = ttr__lane_mask((long)(k - k8)); /* the last k % 8 elements */
    uint32_t mb[QUANT_GROUP];
    for (size_t i0 = 0; i0 < n; i0 += QUANT_GROUP) {
        const size_t g = n - i0 < QUANT_GROUP ? n - i0 : QUANT_GROUP;
        for (size_t u = 0; u < g; u++)
            mb[u] = maxabs_bits(x + (i0 + u) * ldx, mean, nscale, k, k8, tail);
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
                                    pack32(quant8(row8(xi, mean, nscale, t), inv),
                                           quant8(row8(xi, mean, nscale, t + 8), inv),
                                           quant8(row8(xi, mean, nscale, t + 16), inv),
                                           quant8(row8(xi, mean, nscale, t + 24), inv)));
            for (; t < k8; t += 8)
                _mm_storel_epi64((__m128i *)(void *)(qi + t),
                                 pack8(quant8(row8(xi, mean, nscale, t), inv)));
            if (k8 < k) { /* lanes beyond k give 0: the zero padding up to KPAD */
                __m256i v = _mm256_and_si256(
                    quant8(row8_masked(xi, mean, nscale, k8, tail), inv), tail);
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

void ttr__quantize_s8_avx2(size_t n, size_t k, const float *x, size_t ldx, int8_t *q,
                           size_t ldq, float *scale)
{
    quantize_rows(n, k, x, ldx, NULL, NULL, q, ldq, scale);
}

static void quantize_norm_s8_avx2(size_t n, size_t k, const float *x, size_t ldx,
                                  const float *mean, const float *nscale, int8_t *q, size_t ldq,
                                  float *scale)
{
    quantize_rows(n, k, x, ldx, mean, nscale, q, ldq, scale);
}

/* ------------------------------------------------------------------------
 * int8 dense layer
 * ------------------------------------------------------------------------ */

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




#define ROWS_WIDE gemm_s8_avx2
#include "gemm_s8_rows.h"

void ttr__init_gemm_s8_avx2(ttr__kernels *t)
{
    TTR__SET(t, quantize_s8, ttr__quantize_s8_avx2, "avx2");
    TTR__SET(t, quantize_norm_s8, quantize_norm_s8_avx2, "avx2");
    TTR__SET(t, gemm_s8, rows_gemm_s8, "avx2");
    TTR__SET(t, gemm_s8_relu_q, rows_gemm_s8_relu_q, "avx2");
    TTR__SET(t, gemm_s8_dot, rows_gemm_s8_dot, "avx2");
}
