/* int8 dense layer with the Armv8.2 dot-product instructions (aarch64 only;
 * this file alone is built with -march=armv8.2-a+dotprod and is installed
 * only when AT_HWCAP has ASIMDDP). Quantization stays the NEON one.
 *
 * The packed layout was chosen for SDOT: one 16-byte load from a panel is
 * 4 outputs x 4 inputs (output r's weights at 4r), exactly the four int32
 * lanes x four int8 products of SDOT. vdotq_laneq_s32(acc, w, x, l) takes
 * the 4 activations of block l of a 16-byte activation load, so 16 inputs
 * of one item cost one load. Products go straight into int32 lanes (no int16
 * stage, no overflow concern: 4 products per lane per instruction, and with
 * k <= 2^16 a lane stays below 2^16 * 127 * 128 < 2^30).
 *
 * Tile: 4 items x 16 outputs = 16 accumulators + 4 activation vectors + 4
 * weight vectors (24 of the 32 registers); each weight vector is used by 4
 * SDOTs (one per item). The epilogue is the reference's, unfused:
 * y = relu?((float)acc * (xscale * wscale) + b); aarch64 NEON is IEEE (FPCR,
 * no flush on Linux), so it is bit-exact as is. */
#include <arm_neon.h>
#include <string.h>

#include "arm_kernels.h"
#include "s8_epilogue_neon.h"

#if !defined(__aarch64__) || !defined(__ARM_FEATURE_DOTPROD)
#error "gemm_s8_neondot.c is for aarch64 with -march=armv8.2-a+dotprod"
#endif

typedef ttr__s8_panel dot_panel;

/* aarch64 NEON is IEEE (no flush): the epilogue never needs a scalar
 * fallback. MODE: TTR_S8_EPI_* (s8_epilogue_neon.h). */
#define DOT_AI static inline __attribute__((always_inline))
DOT_AI void dot_finish(const int MODE, int32x4_t a0, int32x4_t a1, int32x4_t a2, int32x4_t a3,
                       float xs, const ttr__s8_pvec *pv, float *y, size_t ldy,
                       const ttr__s8_ext *ext, size_t i, size_t j0)
{
    ttr__s8_finish_pv(MODE, a0, a1, a2, a3, xs, pv,
                      MODE == TTR_S8_EPI_DOT ? NULL : y + i * ldy + j0, ext, i, j0);
}

/* One block's 4 activations broadcast to the 4 words (for the last blocks,
 * where a 16-byte load could pass the end of the row). */
static inline int8x16_t dot_load_x1(const int8_t *x)
{
    uint32_t u;
    memcpy(&u, x, sizeof u);
    return vreinterpretq_s8_u32(vdupq_n_u32(u));
}

/* Block l of a 16-input step for one item: 4 SDOTs over the 16 outputs. */
#define DOT_LANE(A, w0, w1, w2, w3, xv, l)              \
    do {                                                \
        A##0 = vdotq_laneq_s32(A##0, (w0), (xv), (l));  \
        A##1 = vdotq_laneq_s32(A##1, (w1), (xv), (l));  \
        A##2 = vdotq_laneq_s32(A##2, (w2), (xv), (l));  \
        A##3 = vdotq_laneq_s32(A##3, (w3), (xv), (l));  \
    } while (0)
#define DOT_BCAST(A, w0, w1, w2, w3, xv)                \
    do {                                                \
        A##0 = vdotq_s32(A##0, (w0), (xv));             \
        A##1 = vdotq_s32(A##1, (w1), (xv));             \
        A##2 = vdotq_s32(A##2, (w2), (xv));             \
        A##3 = vdotq_s32(A##3, (w3), (xv));             \
    } while (0)

/* 4 items (x[0..3]) x one panel. */
#define DOT_STEP4(l)                                                    \
    do {                                                                \
        int8x16_t w0 = vld1q_s8(w + 64 * (l)), w1 = vld1q_s8(w + 64 * (l) + 16); \
        int8x16_t w2 = vld1q_s8(w + 64 * (l) + 32), w3 = vld1q_s8(w + 64 * (l) + 48); \
        DOT_LANE(a, w0, w1, w2, w3, v0, l);                             \
        DOT_LANE(c, w0, w1, w2, w3, v1, l);                             \
        DOT_LANE(d, w0, w1, w2, w3, v2, l);                             \
        DOT_LANE(e, w0, w1, w2, w3, v3, l);                             \
    } while (0)

DOT_AI void dot_tile4(const int MODE, const int8_t *w, size_t nb, const int8_t *const x[4],
                      const float *xs, const dot_panel *pp, float *y, size_t ldy, size_t i,
                      size_t j0, const ttr__s8_ext *ext)
{
    const int8_t *x0 = x[0], *x1 = x[1], *x2 = x[2], *x3 = x[3];
    int32x4_t a0 = vdupq_n_s32(0), a1 = a0, a2 = a0, a3 = a0;
    int32x4_t c0 = a0, c1 = a0, c2 = a0, c3 = a0;
    int32x4_t d0 = a0, d1 = a0, d2 = a0, d3 = a0;
    int32x4_t e0 = a0, e1 = a0, e2 = a0, e3 = a0;
    size_t bk = 0;
    for (; bk + 4 <= nb; bk += 4, w += 256) {
        int8x16_t v0 = vld1q_s8(x0 + 4 * bk), v1 = vld1q_s8(x1 + 4 * bk);
        int8x16_t v2 = vld1q_s8(x2 + 4 * bk), v3 = vld1q_s8(x3 + 4 * bk);
        DOT_STEP4(0);
        DOT_STEP4(1);
        DOT_STEP4(2);
        DOT_STEP4(3);
    }
    for (; bk < nb; bk++, w += 64) {
        int8x16_t w0 = vld1q_s8(w), w1 = vld1q_s8(w + 16);
        int8x16_t w2 = vld1q_s8(w + 32), w3 = vld1q_s8(w + 48);
        int8x16_t v0 = dot_load_x1(x0 + 4 * bk), v1 = dot_load_x1(x1 + 4 * bk);
        int8x16_t v2 = dot_load_x1(x2 + 4 * bk), v3 = dot_load_x1(x3 + 4 * bk);
        DOT_BCAST(a, w0, w1, w2, w3, v0);
        DOT_BCAST(c, w0, w1, w2, w3, v1);
        DOT_BCAST(d, w0, w1, w2, w3, v2);
        DOT_BCAST(e, w0, w1, w2, w3, v3);
    }
    const ttr__s8_pvec pv = ttr__s8_pvec_load(pp);
    dot_finish(MODE, a0, a1, a2, a3, xs[i], &pv, y, ldy, ext, i, j0);
    dot_finish(MODE, c0, c1, c2, c3, xs[i + 1], &pv, y, ldy, ext, i + 1, j0);
    dot_finish(MODE, d0, d1, d2, d3, xs[i + 2], &pv, y, ldy, ext, i + 2, j0);
    dot_finish(MODE, e0, e1, e2, e3, xs[i + 3], &pv, y, ldy, ext, i + 3, j0);
}

/* 2 items (x0, x1) x one panel, block l of a 16-input step. */
#define DOT_STEP2(l)                                                    \
    do {                                                                \
        int8x16_t w0 = vld1q_s8(w + 64 * (l)), w1 = vld1q_s8(w + 64 * (l) + 16); \
        int8x16_t w2 = vld1q_s8(w + 64 * (l) + 32), w3 = vld1q_s8(w + 64 * (l) + 48); \
        DOT_LANE(a, w0, w1, w2, w3, v0, l);                             \
        DOT_LANE(c, w0, w1, w2, w3, v1, l);                             \
    } while (0)

/* 2 items x one panel (what is left of a chunk after the 4-item tiles,
 * e.g. 10 = 4 + 4 + 2): each weight vector serves both items. 8
 * accumulators, so 8 SDOT chains are in flight, as in dot_tile1. */
DOT_AI void dot_tile2(const int MODE, const int8_t *w, size_t nb, const int8_t *x0,
                      const int8_t *x1, const float *xs, const dot_panel *pp, float *y,
                      size_t ldy, const ttr__s8_ext *ext, size_t i, size_t j0)
{
    int32x4_t a0 = vdupq_n_s32(0), a1 = a0, a2 = a0, a3 = a0;
    int32x4_t c0 = a0, c1 = a0, c2 = a0, c3 = a0;
    size_t bk = 0;
    for (; bk + 4 <= nb; bk += 4, w += 256) {
        int8x16_t v0 = vld1q_s8(x0 + 4 * bk), v1 = vld1q_s8(x1 + 4 * bk);
        DOT_STEP2(0);
        DOT_STEP2(1);
        DOT_STEP2(2);
        DOT_STEP2(3);
    }
    for (; bk < nb; bk++, w += 64) {
        int8x16_t w0 = vld1q_s8(w), w1 = vld1q_s8(w + 16);
        int8x16_t w2 = vld1q_s8(w + 32), w3 = vld1q_s8(w + 48);
        int8x16_t v0 = dot_load_x1(x0 + 4 * bk), v1 = dot_load_x1(x1 + 4 * bk);
        DOT_BCAST(a, w0, w1, w2, w3, v0);
        DOT_BCAST(c, w0, w1, w2, w3, v1);
    }
    const ttr__s8_pvec pv = ttr__s8_pvec_load(pp);
    dot_finish(MODE, a0, a1, a2, a3, xs[i], &pv, y, ldy, ext, i, j0);
    dot_finish(MODE, c0, c1, c2, c3, xs[i + 1], &pv, y, ldy, ext, i + 1, j0);
}

/* 1 item x one panel (the GEMV case, latency-bound): two accumulator sets,
 * even and odd blocks, so 8 SDOT chains are in flight. */
DOT_AI void dot_tile1(const int MODE, const int8_t *w, size_t nb, const int8_t *x, float xs,
                      const dot_panel *pp, float *y, size_t ldy, const ttr__s8_ext *ext,
                      size_t i, size_t j0)
{
    int32x4_t a0 = vdupq_n_s32(0), a1 = a0, a2 = a0, a3 = a0;
    int32x4_t c0 = a0, c1 = a0, c2 = a0, c3 = a0;
    size_t bk = 0;
    for (; bk + 4 <= nb; bk += 4, w += 256) {
        int8x16_t v = vld1q_s8(x + 4 * bk);
        int8x16_t w0, w1, w2, w3;
        w0 = vld1q_s8(w), w1 = vld1q_s8(w + 16), w2 = vld1q_s8(w + 32), w3 = vld1q_s8(w + 48);
        DOT_LANE(a, w0, w1, w2, w3, v, 0);
        w0 = vld1q_s8(w + 64), w1 = vld1q_s8(w + 80), w2 = vld1q_s8(w + 96), w3 = vld1q_s8(w + 112);
        DOT_LANE(c, w0, w1, w2, w3, v, 1);
        w0 = vld1q_s8(w + 128), w1 = vld1q_s8(w + 144), w2 = vld1q_s8(w + 160), w3 = vld1q_s8(w + 176);
        DOT_LANE(a, w0, w1, w2, w3, v, 2);
        w0 = vld1q_s8(w + 192), w1 = vld1q_s8(w + 208), w2 = vld1q_s8(w + 224), w3 = vld1q_s8(w + 240);
        DOT_LANE(c, w0, w1, w2, w3, v, 3);
    }
    for (; bk < nb; bk++, w += 64) {
        int8x16_t v = dot_load_x1(x + 4 * bk);
        DOT_BCAST(a, vld1q_s8(w), vld1q_s8(w + 16), vld1q_s8(w + 32), vld1q_s8(w + 48), v);
    }
    const ttr__s8_pvec pv = ttr__s8_pvec_load(pp);
    dot_finish(MODE, vaddq_s32(a0, c0), vaddq_s32(a1, c1), vaddq_s32(a2, c2), vaddq_s32(a3, c3),
               xs, &pv, y, ldy, ext, i, j0);
}

/* ttr_gemm_s8 with the epilogue MODE (s8_epilogue_neon.h): y unused with
 * TTR_S8_EPI_DOT. */
DOT_AI void gemm_neondot_impl(const int MODE, size_t n, size_t m, size_t k, const int8_t *packed,
                              const int8_t *q, size_t ldq, const float *xscale,
                              const float *wscale, const float *b, float *y, size_t ldy, int relu,
                              const ttr__s8_ext *ext)
{
    size_t kpad = TTR_S8_KPAD(k), nb = kpad / 4;
    if (n == 0)
        return;
    /* Panel outside, items inside: the panel's 16 * kpad weight bytes stay
     * in L1 while the items stream past them. */
    for (size_t j0 = 0; j0 < m; j0 += TTR_S8_PANEL) {
        const int8_t *w = packed + j0 * kpad;
        size_t mc = m - j0 < TTR_S8_PANEL ? m - j0 : TTR_S8_PANEL;
        dot_panel pp;
        ttr__s8_panel_fill(&pp, mc, wscale + j0, b ? b + j0 : NULL, relu);
        size_t i = 0;
        for (; i + 4 <= n; i += 4) {
            const int8_t *const x[4] = {q + i * ldq, q + (i + 1) * ldq, q + (i + 2) * ldq,
                                        q + (i + 3) * ldq};
            dot_tile4(MODE, w, nb, x, xscale, &pp, y, ldy, i, j0, ext);
        }
        for (; i + 2 <= n; i += 2)
            dot_tile2(MODE, w, nb, q + i * ldq, q + (i + 1) * ldq, xscale, &pp, y, ldy, ext, i,
                      j0);
        for (; i < n; i++)
            dot_tile1(MODE, w, nb, q + i * ldq, xscale[i], &pp, y, ldy, ext, i, j0);
    }
}

static void gemm_s8_neondot(size_t n, size_t m, size_t k, const int8_t *packed, const int8_t *q,
                            size_t ldq, const float *xscale, const float *wscale, const float *b,
                            float *y, size_t ldy, int relu)
{
    gemm_neondot_impl(TTR_S8_EPI_Y, n, m, k, packed, q, ldq, xscale, wscale, b, y, ldy, relu,
                      NULL);
}

static void gemm_neondot_max(size_t n, size_t m, size_t k, const int8_t *packed, const int8_t *q,
                             size_t ldq, const float *xscale, const float *wscale, const float *b,
                             float *y, size_t ldy, int relu, const ttr__s8_ext *ext)
{
    gemm_neondot_impl(TTR_S8_EPI_MAX, n, m, k, packed, q, ldq, xscale, wscale, b, y, ldy, relu,
                      ext);
}

static void gemm_neondot_dot(size_t n, size_t m, size_t k, const int8_t *packed, const int8_t *q,
                             size_t ldq, const float *xscale, const float *wscale, const float *b,
                             float *y, size_t ldy, int relu, const ttr__s8_ext *ext)
{
    gemm_neondot_impl(TTR_S8_EPI_DOT, n, m, k, packed, q, ldq, xscale, wscale, b, y, ldy, relu,
                      ext);
}

#define S8_FUSED_GEMM_MAX gemm_neondot_max
#define S8_FUSED_GEMM_DOT gemm_neondot_dot
#include "s8_fused_neon.h"

void ttr__init_gemm_s8_neondot(ttr__kernels *t)
{
    TTR__SET(t, gemm_s8, gemm_s8_neondot, "neondot");
    TTR__SET(t, gemm_s8_relu_q, s8_fused_relu_q, "neondot");
    TTR__SET(t, gemm_s8_dot, s8_fused_dot, "neondot");
}
