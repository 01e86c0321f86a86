/* NEON int8 kernels (aarch64 and armv7): activation quantization and the
 * int8 dense layer with widening multiply-accumulate (for cores without the
 * dot-product extension: Cortex-A53, A7, A9, ...).
 *
 * Both are bit-exact with the scalar reference (src/ref_gemm_s8.c).
 *
 * gemm_s8, inner step. A 16-byte load from the packed panel holds 4 outputs
 * x 4 inputs (output r's weights at 4r). The block's 4 activations are
 * broadcast to all 4 words of a vector, so SMULL/VMULL.S8 on one half gives
 * 8 int16 products (2 outputs x 4 inputs), and ONE SMLAL/VMLAL.S8 adds the
 * next block's products to the same lanes. Then SADALP/VPADAL.S16 widens
 * pairs into int32. Overflow: |w| <= 127 (the packer rejects -128) and
 * |x| <= 128, so each product is within [-16256, 16256] and an int16 lane
 * holding two of them within [-32512, 32512], inside [-32768, 32767]. Each
 * int32 lane then collects 4 products per block pair; with k <= 2^16 its
 * magnitude stays below 2^16 * 16256 < 2^30.
 * The int32 lanes hold two half-sums per output; a final pairwise add folds
 * them.
 *
 * Epilogue, in the reference's order and never fused:
 * y = relu?((float)acc * (xscale * wscale) + b), b = +0.0f when NULL. The
 * Makefile builds everything with -ffp-contract=off, so vmulq/vaddq stay
 * separate instructions (gcc expands them to plain vector * and +).
 *
 * armv7: Advanced SIMD float arithmetic always flushes denormal inputs and
 * results to zero (it ignores FPSCR.FZ), while the scalar reference runs on
 * IEEE VFP. Where that could change a bit, this file takes the scalar route:
 * - quantize: max|x| is found on the integer bit patterns (no flush); rows
 *   with max|x| < 2^-100 (or not finite) go to the scalar reference. For the
 *   others, inv = 127/max|x| <= 127 * 2^100 is normal and a denormal x gives
 *   |x * inv| < 2^-126 * 127 * 2^100 < 0.5, which rounds to 0 on both sides
 *   (a product that underflows rounds to 0 on both sides too).
 * - gemm epilogue: it runs in NEON only when every xscale/wscale used is 0
 *   or in [2^-51, inf] and every bias is 0 or in [2^-102, inf] (no NaN).
 *   Then s = xscale * wscale is 0 or >= 2^-102, (float)acc * s too (|acc| >=
 *   1 when non-zero), and the sum of two floats that are each 0 or >= 2^-102
 *   is 0 or a multiple of ulp(2^-102) = 2^-125: normal. No denormal ever
 *   appears, so NEON and VFP agree. Otherwise (absurdly small scales, NaN
 *   payloads) the epilogue of that panel and item is computed in scalar C,
 *   which gcc and clang never vectorize on armv7 (NEON is not IEEE).
 * aarch64 NEON follows FPCR like scalar code (no flush on Linux): no checks. */
#include <string.h>

#include "neon_common.h"
#include "s8_epilogue_neon.h"
#include "s8_quant_neon.h"

#define S8_AI static inline __attribute__((always_inline))
/* The tiles: inlined into the three instances of the layer on aarch64 (a
 * call returned the accumulators through memory); left to the compiler on
 * armv7, where forcing them cost instructions (qemu counts). */
#if defined(__aarch64__)
#define S8_TILE_AI S8_AI
#else
#define S8_TILE_AI static inline
#endif

/* ------------------------------------------------------------------------
 * quantize_s8
 * ------------------------------------------------------------------------ */

/* max |x[t]| as the bit pattern of a non-negative float. For finite values
 * the order of these patterns as unsigned integers is the order of the
 * floats, and integer max neither flushes nor rounds. */
static uint32_t s8_maxabs_bits(const float *x, size_t k)
{
    const uint32x4_t mask = vdupq_n_u32(S8_ABS_MASK);
    uint32x4_t m0 = vdupq_n_u32(0), m1 = m0;
    size_t t = 0;
    for (; t + 8 <= k; t += 8) {
        m0 = vmaxq_u32(m0, vandq_u32(vreinterpretq_u32_f32(vld1q_f32(x + t)), mask));
        m1 = vmaxq_u32(m1, vandq_u32(vreinterpretq_u32_f32(vld1q_f32(x + t + 4)), mask));
    }
    if (t + 4 <= k) {
        m0 = vmaxq_u32(m0, vandq_u32(vreinterpretq_u32_f32(vld1q_f32(x + t)), mask));
        t += 4;
    }
    if (t < k && k >= 4) { /* the last 4 again, overlapping: a max minds no repeats */
        m1 = vmaxq_u32(m1, vandq_u32(vreinterpretq_u32_f32(vld1q_f32(x + k - 4)), mask));
        t = k;
    }
    m0 = vmaxq_u32(m0, m1);
#if defined(__aarch64__)
    uint32_t m = vmaxvq_u32(m0);
#else
    uint32x2_t h = vpmax_u32(vget_low_u32(m0), vget_high_u32(m0));
    uint32_t m = vget_lane_u32(vpmax_u32(h, h), 0);
#endif
    for (; t < k; t++) { /* k < 4 */
        uint32_t u;
        memcpy(&u, x + t, sizeof u);
        u &= S8_ABS_MASK;
        if (u > m)
            m = u;
    }
    return m;
}

static void quantize_s8_neon(size_t n, size_t k, const float *x, size_t ldx, int8_t *q,
                             size_t ldq, float *scale)
{
    for (size_t i = 0; i < n; i++)
        ttr__s8_quant_row(x + i * ldx, k, s8_maxabs_bits(x + i * ldx, k), q + i * ldq, scale + i);
}

/* ------------------------------------------------------------------------
 * gemm_s8
 * ------------------------------------------------------------------------ */

typedef ttr__s8_panel s8_panel;

#if !defined(__aarch64__)
#define S8_SCALE_MIN_BITS 0x26000000u /* 2^-51 */
#define S8_BIAS_MIN_BITS 0x0c800000u  /* 2^-102 */

/* 0, or in [2^lo, inf]: not denormal-prone, not NaN */
static int s8_f32_plain(float v, uint32_t lo)
{
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    u &= S8_ABS_MASK;
    return u == 0 || (u >= lo && u <= S8_F32_INF_BITS);
}
#endif

static void s8_panel_init(s8_panel *pp, size_t mc, const float *wscale, const float *b, int relu)
{
    ttr__s8_panel_fill(pp, mc, wscale, b, relu);
#if !defined(__aarch64__)
    for (size_t j = 0; j < mc; j++)
        if (!s8_f32_plain(pp->ws[j], S8_SCALE_MIN_BITS) || !s8_f32_plain(pp->bs[j], S8_BIAS_MIN_BITS))
            pp->neon_ok = 0;
#endif
}

/* Item i of panel j0 from its 16 accumulators (4 vectors, outputs in
 * order), in the epilogue MODE (s8_epilogue_neon.h). */
S8_TILE_AI void s8_finish(const int MODE, const int32x4_t acc[4], float xs, const s8_panel *pp,
                     float *y, const ttr__s8_ext *ext, size_t i, size_t j0)
{
#if !defined(__aarch64__)
    if (!pp->neon_ok || !s8_f32_plain(xs, S8_SCALE_MIN_BITS)) {
        int32_t a[TTR_S8_PANEL];
        for (int r = 0; r < 4; r++)
            vst1q_s32(a + 4 * r, acc[r]);
        for (size_t j = 0; j < pp->mc; j++) {
            float s = xs * pp->ws[j];
            float v = (float)a[j] * s;
            v = v + pp->bs[j];
            y[j] = pp->relu && !(v > 0.0f) ? 0.0f : v;
        }
        return;
    }
#endif
    ttr__s8_finish_neon(MODE, acc[0], acc[1], acc[2], acc[3], xs, pp, y, ext, i, j0);
}

/* Broadcast activations of one block: its 4 bytes in every word. aarch64
 * keeps them in a 16-byte register, so that SMULL2/SMLAL2 read the high
 * half of the weights directly; armv7 needs only 8 bytes (VMULL.S8 takes
 * D registers) and saves registers for the accumulators. */
#if defined(__aarch64__)
typedef int8x16_t s8_xv;
#else
typedef int8x8_t s8_xv;
#endif

/* Widening products of one half of a 4-output x 4-input weight vector with
 * the broadcast activations: lo = outputs 0,1; hi = outputs 2,3. */
static inline int16x8_t s8_mull_lo(int8x16_t w, s8_xv x)
{
#if defined(__aarch64__)
    return vmull_s8(vget_low_s8(w), vget_low_s8(x));
#else
    return vmull_s8(vget_low_s8(w), x);
#endif
}
static inline int16x8_t s8_mull_hi(int8x16_t w, s8_xv x)
{
#if defined(__aarch64__)
    return vmull_high_s8(w, x);
#else
    return vmull_s8(vget_high_s8(w), x);
#endif
}
static inline int16x8_t s8_mlal_lo(int16x8_t a, int8x16_t w, s8_xv x)
{
#if defined(__aarch64__)
    return vmlal_s8(a, vget_low_s8(w), vget_low_s8(x));
#else
    return vmlal_s8(a, vget_low_s8(w), x);
#endif
}
static inline int16x8_t s8_mlal_hi(int16x8_t a, int8x16_t w, s8_xv x)
{
#if defined(__aarch64__)
    return vmlal_high_s8(a, w, x);
#else
    return vmlal_s8(a, vget_high_s8(w), x);
#endif
}

/* Two blocks (wa: block b, wb: block b+1) of one 4-output group for one
 * item: exactly one product pair per int16 lane, then widened. */
#define S8_PAIR(lo, hi, wa, wb, xa, xb)                                        \
    do {                                                                       \
        lo = vpadalq_s16(lo, s8_mlal_lo(s8_mull_lo((wa), (xa)), (wb), (xb)));  \
        hi = vpadalq_s16(hi, s8_mlal_hi(s8_mull_hi((wa), (xa)), (wb), (xb)));  \
    } while (0)
/* The last block when the block count is odd. */
#define S8_ONE(lo, hi, wa, xa)                                                 \
    do {                                                                       \
        lo = vpadalq_s16(lo, s8_mull_lo((wa), (xa)));                          \
        hi = vpadalq_s16(hi, s8_mull_hi((wa), (xa)));                          \
    } while (0)

/* Activations of blocks b, b+1 (8 bytes), each broadcast. */
static inline void s8_load_x2(const int8_t *x, s8_xv *xa, s8_xv *xb)
{
    int32x2_t v = vreinterpret_s32_s8(vld1_s8(x));
#if defined(__aarch64__)
    *xa = vreinterpretq_s8_s32(vdupq_lane_s32(v, 0));
    *xb = vreinterpretq_s8_s32(vdupq_lane_s32(v, 1));
#else
    *xa = vreinterpret_s8_s32(vdup_lane_s32(v, 0));
    *xb = vreinterpret_s8_s32(vdup_lane_s32(v, 1));
#endif
}
/* Activations of one block (4 bytes), broadcast. */
static inline s8_xv s8_load_x1(const int8_t *x)
{
    uint32_t u;
    memcpy(&u, x, sizeof u);
#if defined(__aarch64__)
    return vreinterpretq_s8_u32(vdupq_n_u32(u));
#else
    return vreinterpret_s8_u32(vdup_n_u32(u));
#endif
}

/* {o0a, o0b, o1a, o1b}, {o2a, o2b, o3a, o3b} -> {o0, o1, o2, o3} */
static inline int32x4_t s8_fold(int32x4_t lo, int32x4_t hi)
{
#if defined(__aarch64__)
    return vpaddq_s32(lo, hi);
#else
    return vcombine_s32(vpadd_s32(vget_low_s32(lo), vget_high_s32(lo)),
                        vpadd_s32(vget_low_s32(hi), vget_high_s32(hi)));
#endif
}

/* One item x one panel: nb blocks of 64 weight bytes at w, activations x.
 * 8 int32 accumulators. */
S8_TILE_AI void s8_tile1(const int8_t *w, size_t nb, const int8_t *x, int32x4_t o[4])
{
    int32x4_t a0 = vdupq_n_s32(0), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
    size_t b = 0;
    for (; b + 2 <= nb; b += 2, w += 128) {
        s8_xv xa, xb;
        int8x16_t wa, wb;
        s8_load_x2(x + 4 * b, &xa, &xb);
        wa = vld1q_s8(w), wb = vld1q_s8(w + 64);
        S8_PAIR(a0, a1, wa, wb, xa, xb);
        wa = vld1q_s8(w + 16), wb = vld1q_s8(w + 80);
        S8_PAIR(a2, a3, wa, wb, xa, xb);
        wa = vld1q_s8(w + 32), wb = vld1q_s8(w + 96);
        S8_PAIR(a4, a5, wa, wb, xa, xb);
        wa = vld1q_s8(w + 48), wb = vld1q_s8(w + 112);
        S8_PAIR(a6, a7, wa, wb, xa, xb);
    }
    if (b < nb) {
        s8_xv xa = s8_load_x1(x + 4 * b);
        S8_ONE(a0, a1, vld1q_s8(w), xa);
        S8_ONE(a2, a3, vld1q_s8(w + 16), xa);
        S8_ONE(a4, a5, vld1q_s8(w + 32), xa);
        S8_ONE(a6, a7, vld1q_s8(w + 48), xa);
    }
    o[0] = s8_fold(a0, a1);
    o[1] = s8_fold(a2, a3);
    o[2] = s8_fold(a4, a5);
    o[3] = s8_fold(a6, a7);
}

#if defined(__aarch64__)
/* Two items x one panel (aarch64 has 32 vector registers: 16 accumulators,
 * 4 broadcast activations, 2 weight vectors, 2 products): each weight load
 * serves both items. armv7's 16 registers fit one item only. */
#define S8_ITEMS 2
S8_TILE_AI void s8_tile2(const int8_t *w, size_t nb, const int8_t *x0, const int8_t *x1,
                            int32x4_t o0[4], int32x4_t o1[4])
{
    int32x4_t a0 = vdupq_n_s32(0), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
    int32x4_t c0 = a0, c1 = a0, c2 = a0, c3 = a0, c4 = a0, c5 = a0, c6 = a0, c7 = a0;
    size_t b = 0;
    for (; b + 2 <= nb; b += 2, w += 128) {
        s8_xv xa0, xb0, xa1, xb1;
        int8x16_t wa, wb;
        s8_load_x2(x0 + 4 * b, &xa0, &xb0);
        s8_load_x2(x1 + 4 * b, &xa1, &xb1);
        wa = vld1q_s8(w), wb = vld1q_s8(w + 64);
        S8_PAIR(a0, a1, wa, wb, xa0, xb0);
        S8_PAIR(c0, c1, wa, wb, xa1, xb1);
        wa = vld1q_s8(w + 16), wb = vld1q_s8(w + 80);
        S8_PAIR(a2, a3, wa, wb, xa0, xb0);
        S8_PAIR(c2, c3, wa, wb, xa1, xb1);
        wa = vld1q_s8(w + 32), wb = vld1q_s8(w + 96);
        S8_PAIR(a4, a5, wa, wb, xa0, xb0);
        S8_PAIR(c4, c5, wa, wb, xa1, xb1);
        wa = vld1q_s8(w + 48), wb = vld1q_s8(w + 112);
        S8_PAIR(a6, a7, wa, wb, xa0, xb0);
        S8_PAIR(c6, c7, wa, wb, xa1, xb1);
    }
    if (b < nb) {
        s8_xv xa0 = s8_load_x1(x0 + 4 * b), xa1 = s8_load_x1(x1 + 4 * b);
        int8x16_t wa;
        wa = vld1q_s8(w);
        S8_ONE(a0, a1, wa, xa0);
        S8_ONE(c0, c1, wa, xa1);
        wa = vld1q_s8(w + 16);
        S8_ONE(a2, a3, wa, xa0);
        S8_ONE(c2, c3, wa, xa1);
        wa = vld1q_s8(w + 32);
        S8_ONE(a4, a5, wa, xa0);
        S8_ONE(c4, c5, wa, xa1);
        wa = vld1q_s8(w + 48);
        S8_ONE(a6, a7, wa, xa0);
        S8_ONE(c6, c7, wa, xa1);
    }
    o0[0] = s8_fold(a0, a1);
    o0[1] = s8_fold(a2, a3);
    o0[2] = s8_fold(a4, a5);
    o0[3] = s8_fold(a6, a7);
    o1[0] = s8_fold(c0, c1);
    o1[1] = s8_fold(c2, c3);
    o1[2] = s8_fold(c4, c5);
    o1[3] = s8_fold(c6, c7);
}
#else
#define S8_ITEMS 1
#endif

/* ttr_gemm_s8 with the epilogue MODE (s8_epilogue_neon.h): y unused with
 * TTR_S8_EPI_DOT (aarch64 only). */
#define S8_ROW(y, i) (MODE == TTR_S8_EPI_DOT ? NULL : (y) + (i) * ldy + j0)
S8_AI void gemm_neon_impl(const int MODE, size_t n, size_t m, size_t k, const int8_t *packed,
                          const int8_t *q, size_t ldq, const float *xscale, const float *wscale,
                          const float *b, float *y, size_t ldy, int relu, const ttr__s8_ext *ext)
{
    size_t kpad = TTR_S8_KPAD(k), nb = kpad / 4;
    if (n == 0)
        return;
    /* Panel outside, items inside: the panel's 16 * kpad weight bytes stay
     * in L1 while the items stream past them. */
    for (size_t j0 = 0; j0 < m; j0 += TTR_S8_PANEL) {
        const int8_t *w = packed + j0 * kpad; /* panel j0/16 starts at 16 * kpad * (j0/16) */
        size_t mc = m - j0 < TTR_S8_PANEL ? m - j0 : TTR_S8_PANEL;
        s8_panel pp;
        s8_panel_init(&pp, mc, wscale + j0, b ? b + j0 : NULL, relu);
        size_t i = 0;
#if S8_ITEMS == 2
        for (; i + 2 <= n; i += 2) {
            int32x4_t o0[4], o1[4];
            s8_tile2(w, nb, q + i * ldq, q + (i + 1) * ldq, o0, o1);
            s8_finish(MODE, o0, xscale[i], &pp, S8_ROW(y, i), ext, i, j0);
            s8_finish(MODE, o1, xscale[i + 1], &pp, S8_ROW(y, i + 1), ext, i + 1, j0);
        }
#endif
        for (; i < n; i++) {
            int32x4_t o[4];
            s8_tile1(w, nb, q + i * ldq, o);
            s8_finish(MODE, o, xscale[i], &pp, S8_ROW(y, i), ext, i, j0);
        }
    }
}

static void gemm_s8_neon(size_t n, size_t m, size_t k, const int8_t *packed, const int8_t *q,
                         size_t ldq, const float *xscale, const float *wscale, const float *b,
                         float *y, size_t ldy, int relu)
{
    gemm_neon_impl(TTR_S8_EPI_Y, n, m, k, packed, q, ldq, xscale, wscale, b, y, ldy, relu, NULL);
}

/* The fused layers (s8_fused_neon.h), aarch64 only: with armv7's 16
 * registers the epilogue's extra state cost more than it saved (qemu
 * instruction counts: +5% per scored item), so armv7 keeps the
 * composites. */
#if defined(__aarch64__)
static void gemm_neon_max(size_t n, size_t m, size_t k, const int8_t *packed, const int8_t *q,
                          size_t ldq, const float *xscale, const float *wscale, const float *b,
                          float *y, size_t ldy, int relu, const ttr__s8_ext *ext)
{
    gemm_neon_impl(TTR_S8_EPI_MAX, n, m, k, packed, q, ldq, xscale, wscale, b, y, ldy, relu, ext);
}

static void gemm_neon_dot(size_t n, size_t m, size_t k, const int8_t *packed, const int8_t *q,
                          size_t ldq, const float *xscale, const float *wscale, const float *b,
                          float *y, size_t ldy, int relu, const ttr__s8_ext *ext)
{
    gemm_neon_impl(TTR_S8_EPI_DOT, n, m, k, packed, q, ldq, xscale, wscale, b, y, ldy, relu, ext);
}
#define S8_FUSED_GEMM_MAX gemm_neon_max
#define S8_FUSED_GEMM_DOT gemm_neon_dot
#include "s8_fused_neon.h"
#endif

void TTR_NEON_FN(ttr__init_gemm_s8)(ttr__kernels *t)
{
    TTR__SET(t, quantize_s8, quantize_s8_neon, TTR_NEON_ISA);
    TTR__SET(t, gemm_s8, gemm_s8_neon, TTR_NEON_ISA);
#if defined(__aarch64__)
    TTR__SET(t, gemm_s8_relu_q, s8_fused_relu_q, TTR_NEON_ISA);
    TTR__SET(t, gemm_s8_dot, s8_fused_dot, TTR_NEON_ISA);
#else
    /* armv7: the composites, on this path's gemm_s8 and quantize_s8 */
    TTR__SET(t, gemm_s8_relu_q, ttr__gemm_s8_relu_q_composite, TTR_NEON_ISA);
    TTR__SET(t, gemm_s8_dot, ttr__gemm_s8_dot_composite, TTR_NEON_ISA);
#endif
}
