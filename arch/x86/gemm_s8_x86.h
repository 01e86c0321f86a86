/* Private: the helpers that the AVX2 and the AVX-VNNI int8 kernels share
 * (gemm_s8_avx2.c, gemm_s8_avxvnni.c): broadcasts and loads, quantization
 * and packing of 8/16/32 lanes, and the float epilogue of ttr_gemm_s8 and
 * ttr_gemm_s8_relu_q. The two files differ only in how they form the exact
 * int32 sums; from the sums on, both run this code, so their outputs are
 * the same bits (and those of src/ref_gemm_s8.c).
 *
 * Include only from arch/x86 files compiled with at least -mavx2 -mfma, and
 * with the build's -ffp-contract=off: the epilogue's multiply and bias add
 * must not be fused (the reference rounds after each). Everything here is
 * static inline: each including file gets its own copy, compiled with its
 * own flags. */
#ifndef TTR_ARCH_X86_GEMM_S8_X86_H
#define TTR_ARCH_X86_GEMM_S8_X86_H

#include <immintrin.h>
#include <string.h>

#include "avx2_common.h"
#include "x86_kernels.h"

#define LOADX(p) _mm256_loadu_si256((const __m256i *)(const void *)(p))

/* round_half_even(x * inv) of 8 lanes as int32 (cvtps rounds half to even
 * under the default MXCSR). The reference then clamps to [-127, 127]; that
 * never changes anything: |x| <= max|x| and inv = fl(127 / max|x|), so
 * |x * inv| <= 127 (1 + 2^-24)^2 < 127.5 rounds to at most 127. inv is
 * finite: rows below TTR_S8_MIN_RANGE or not finite never get here. */
static inline __m256i quant8(__m256 x, __m256 inv)
{
    return _mm256_cvtps_epi32(_mm256_mul_ps(x, inv));
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

/* 4 bytes broadcast to every 32-bit lane. */
static inline __m256i bcast4(const int8_t *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}

#define LOADW(p) _mm256_loadu_si256((const __m256i *)(const void *)(p))

/* |q| of the rows of one item tile, computed once and reused by every panel:
 * the abs then costs nothing per panel, which matters because the kernel is
 * bound by the vector ALU ports that abs, sign, maddubs and madd share. */
#define QABS_BYTES 4096

static inline void abs_row(const int8_t *q, size_t kpad, int8_t *a)
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
        __m256i mk = ttr__lane_mask((long)cnt);
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
        _mm256_maskstore_ps(y, ttr__lane_mask((long)cnt), v);
}

/* Outputs [j, j + mr) of one item, mr in 1..16. */
static inline void s8_out16(__m256i acc0, __m256i acc1, float xs, const float *ws, const float *b,
                            float *y, size_t mr, int relu)
{
    s8_out8(acc0, xs, ws, b, y, mr < 8 ? mr : 8, relu);
    if (mr > 8)
        s8_out8(acc1, xs, ws + 8, b ? b + 8 : NULL, y + 8, mr - 8, relu);
}

/* ------------------------------------------------------------------------
 * The register path of layers of up to 64 outputs (see gemm_s8_avx2.c):
 * epilogue constants, the sign test of a row, and one item's epilogue.
 * ------------------------------------------------------------------------ */
#define ROW_MAX_M 64

/* Epilogue constants of one call, zero beyond m: padded outputs (whose
 * packed weights are zero) give y = 0 * 0 + 0 = +0, which changes neither
 * a row's max nor the zero padding of a quantized row. */
typedef struct row_consts {
    float ws[ROW_MAX_M], bs[ROW_MAX_M];
    size_t m;
    int relu;
    /* gemm_s8_dot: the output layer's weights (0 beyond m) and bias */
    int dot;
    float w2[ROW_MAX_M], b2;
} row_consts;

/* x[j..j+8) with lanes at or beyond m set to 0 (x NULL: all 0). */
static inline __m256 load8_below(const float *x, size_t j, size_t m)
{
    if (!x || j >= m)
        return _mm256_setzero_ps();
    if (j + 8 <= m)
        return _mm256_loadu_ps(x + j);
    return _mm256_maskload_ps(x + j, ttr__lane_mask((long)m - j));
}

/* Fills the vectors of the whole panels that cover m (m in 1..64). */
static inline void row_consts_fill(row_consts *rc, size_t m, const float *wscale, const float *b,
                            int relu)
{
    const size_t mp = (m + TTR_S8_PANEL - 1) / TTR_S8_PANEL * TTR_S8_PANEL;
    for (size_t j = 0; j < mp; j += 8) {
        _mm256_storeu_ps(rc->ws + j, load8_below(wscale, j, m));
        _mm256_storeu_ps(rc->bs + j, load8_below(b, j, m));
    }
    rc->m = m;
    rc->relu = relu;
    rc->dot = 0;
}

/* For gemm_s8_dot: w2[0..m) and b2, after row_consts_fill. */
static inline void row_consts_dot(row_consts *rc, const float *w2, float b2)
{
    const size_t m = rc->m, mp = (m + TTR_S8_PANEL - 1) / TTR_S8_PANEL * TTR_S8_PANEL;
    for (size_t j = 0; j < mp; j += 8)
        _mm256_storeu_ps(rc->w2 + j, load8_below(w2, j, m));
    rc->b2 = b2;
    rc->dot = 1;
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
        _mm256_maskstore_ps(y + j, ttr__lane_mask((long)m - j), v);
}

/* 16 int32 in [0, 127] (two vectors, in order) to 16 bytes. */
static inline __m128i pack16(__m256i a, __m256i b)
{
    __m256i ab = _mm256_permute4x64_epi64(_mm256_packs_epi32(a, b), 0xd8);
    return _mm_packs_epi16(_mm256_castsi256_si128(ab), _mm256_extracti128_si256(ab, 1));
}

/* ttr__dot_fixed(m, w2, y) + b2 (src/dot_fixed.h) from the 2P vectors of y:
 * vector v holds outputs 8v..8v+7, so lane l of p gathers t = l mod 8 in
 * increasing t, starting from +0 as the C does (0 + a turns a -0 product
 * into +0); outputs beyond m add w2 = 0 times y = +0, which changes no
 * lane (a lane that starts at +0 is never -0). Then the C's tree:
 * (p0+p4, p1+p5, p2+p6, p3+p7), then (s0+s2) + (s1+s3). */
TTR_AI float row_dot(const int P, const __m256 y[8], const row_consts *rc)
{
    __m256 p = _mm256_setzero_ps();
    for (int v = 0; v < 2 * P; v++)
        p = _mm256_add_ps(p, _mm256_mul_ps(_mm256_loadu_ps(rc->w2 + 8 * v), y[v]));
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(p), _mm256_extractf128_ps(p, 1));
    __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
    __m128 r = _mm_add_ss(t, _mm_shuffle_ps(t, t, 1));
    return _mm_cvtss_f32(_mm_add_ss(r, _mm_set_ss(rc->b2)));
}

/* One item's epilogue from its accumulators: store y (qo NULL), or its
 * output-layer score in *y (rc->dot), or quantize into qo[0..KPAD(m)) and
 * *oscale. */
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
    if (rc->dot) {
        const __m256 yv[8] = {y0, y1, y2, y3, y4, y5, y6, y7};
        *y = row_dot(P, yv, rc);
        return;
    }
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
    const float maxabs = ttr__hmax8(mx);
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

#endif
