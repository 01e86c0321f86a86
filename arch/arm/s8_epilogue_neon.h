/* Private: the f32 epilogue of the NEON int8 layers (gemm_s8_neon.c and
 * gemm_s8_neondot.c), in the reference's order and unfused:
 *   y = relu?( (float)acc * (xscale * wscale[j]) + b[j] )
 * so that the output is bit-exact (the build uses -ffp-contract=off). */
#ifndef TTR_ARCH_ARM_S8_EPILOGUE_NEON_H
#define TTR_ARCH_ARM_S8_EPILOGUE_NEON_H

#include <arm_neon.h>
#include <string.h>

#include "arm_kernels.h"
#include "fcmp_neon.h"

/* One panel's epilogue constants, zero beyond mc (so +0.0f is added where b
 * is NULL, as the reference does). */
typedef struct ttr__s8_panel {
    float ws[TTR_S8_PANEL];
    float bs[TTR_S8_PANEL];
    size_t mc;   /* outputs of this panel that exist, 1..16 */
    int relu;
    int neon_ok; /* armv7: NEON float gives the IEEE bits for this panel */
} ttr__s8_panel;

static inline void ttr__s8_panel_fill(ttr__s8_panel *pp, size_t mc, const float *wscale,
                                      const float *b, int relu)
{
    memset(pp, 0, sizeof *pp);
    memcpy(pp->ws, wscale, mc * sizeof(float));
    if (b)
        memcpy(pp->bs, b, mc * sizeof(float));
    pp->mc = mc;
    pp->relu = relu;
    pp->neon_ok = 1;
}

static inline float32x4_t ttr__s8_epi4(int32x4_t acc, float32x4_t vxs, float32x4_t ws,
                                       float32x4_t bs, int relu)
{
    float32x4_t s = vmulq_f32(vxs, ws);
    float32x4_t v = vmulq_f32(vcvtq_f32_s32(acc), s);
    v = vaddq_f32(v, bs);
    if (relu) /* v > 0 ? v : +0.0f (also maps NaN to 0, like the reference) */
        v = vreinterpretq_f32_u32(
            vandq_u32(vreinterpretq_u32_f32(v), ttr__gt_q(v, 0.0f)));
    return v;
}

/* A panel's constants as vectors: loaded once for the items of a tile
 * (read through pp after a store to y, they were reloaded for every item:
 * both are float, so the compiler had to assume the store might change
 * them). */
typedef struct ttr__s8_pvec {
    float32x4_t ws[4], bs[4];
    size_t mc;
    int relu;
} ttr__s8_pvec;

static inline ttr__s8_pvec ttr__s8_pvec_load(const ttr__s8_panel *pp)
{
    ttr__s8_pvec pv;
    for (int r = 0; r < 4; r++) {
        pv.ws[r] = vld1q_f32(pp->ws + 4 * r);
        pv.bs[r] = vld1q_f32(pp->bs + 4 * r);
    }
    pv.mc = pp->mc;
    pv.relu = pp->relu;
    return pv;
}

/* What an epilogue does with y (MODE, a constant in each instance of the
 * layer, so that the plain one pays nothing for the others):
 *   TTR_S8_EPI_Y: store it;
 *   TTR_S8_EPI_MAX (aarch64): store it, and keep ext->ymax[i], the running
 *     max of item i's y as bit patterns (y >= +0 under ReLU, so integer
 *     order is float order), for relu_q's quantization without a second
 *     pass;
 *   TTR_S8_EPI_DOT (aarch64, whose NEON is IEEE): add it into
 *     ext->lanes[2i], ext->lanes[2i + 1], item i's eight partial sums of the
 *     one-output f32 layer in ttr__dot_fixed's order (src/dot_fixed.h: lane
 *     l gathers output t = l mod 8, t increasing; panels come in order);
 *     ext->w2 holds its weights, 0 from m to the panels' end. y is not
 *     stored. */
#define TTR_S8_EPI_Y 0
#define TTR_S8_EPI_MAX 1
#define TTR_S8_EPI_DOT 2
typedef struct ttr__s8_ext {
    uint32x4_t *ymax;
    float32x4_t *lanes;
    const float *w2;
} ttr__s8_ext;

/* What MODE does with item i's y of panel j0 (v0..v3: outputs in order;
 * mc of them exist). */
static inline __attribute__((always_inline)) void
ttr__s8_out(const int MODE, float32x4_t v0, float32x4_t v1, float32x4_t v2, float32x4_t v3,
            size_t mc, float *y, const ttr__s8_ext *ext, size_t i, size_t j0)
{
#if defined(__aarch64__)
    if (MODE == TTR_S8_EPI_MAX) { /* lanes beyond mc hold +0: no effect on a max */
        uint32x4_t m01 = vmaxq_u32(vreinterpretq_u32_f32(v0), vreinterpretq_u32_f32(v1));
        uint32x4_t m23 = vmaxq_u32(vreinterpretq_u32_f32(v2), vreinterpretq_u32_f32(v3));
        ext->ymax[i] = vmaxq_u32(ext->ymax[i], vmaxq_u32(m01, m23));
    }
    if (MODE == TTR_S8_EPI_DOT) { /* outputs j0..j0+7 go to lanes 0..7, then j0+8..j0+15 */
        const float *w2 = ext->w2 + j0;
        float32x4_t lo = ext->lanes[2 * i], hi = ext->lanes[2 * i + 1];
        lo = vaddq_f32(lo, vmulq_f32(vld1q_f32(w2), v0));
        hi = vaddq_f32(hi, vmulq_f32(vld1q_f32(w2 + 4), v1));
        lo = vaddq_f32(lo, vmulq_f32(vld1q_f32(w2 + 8), v2));
        hi = vaddq_f32(hi, vmulq_f32(vld1q_f32(w2 + 12), v3));
        ext->lanes[2 * i] = lo;
        ext->lanes[2 * i + 1] = hi;
        return;
    }
#endif
    (void)MODE, (void)ext, (void)i, (void)j0;
    if (mc == TTR_S8_PANEL) {
        vst1q_f32(y, v0);
        vst1q_f32(y + 4, v1);
        vst1q_f32(y + 8, v2);
        vst1q_f32(y + 12, v3);
    } else {
        float tmp[TTR_S8_PANEL];
        vst1q_f32(tmp, v0);
        vst1q_f32(tmp + 4, v1);
        vst1q_f32(tmp + 8, v2);
        vst1q_f32(tmp + 12, v3);
        memcpy(y, tmp, mc * sizeof(float)); /* never past the m-th output */
    }
}

/* Item i of panel j0 from its 16 accumulators (outputs in order), the
 * constants in registers (pv: aarch64's tiles). */
static inline __attribute__((always_inline)) void
ttr__s8_finish_pv(const int MODE, int32x4_t a0, int32x4_t a1, int32x4_t a2, int32x4_t a3,
                  float xs, const ttr__s8_pvec *pv, float *y, const ttr__s8_ext *ext, size_t i,
                  size_t j0)
{
    float32x4_t vxs = vdupq_n_f32(xs);
    ttr__s8_out(MODE, ttr__s8_epi4(a0, vxs, pv->ws[0], pv->bs[0], pv->relu),
                ttr__s8_epi4(a1, vxs, pv->ws[1], pv->bs[1], pv->relu),
                ttr__s8_epi4(a2, vxs, pv->ws[2], pv->bs[2], pv->relu),
                ttr__s8_epi4(a3, vxs, pv->ws[3], pv->bs[3], pv->relu), pv->mc, y, ext, i, j0);
}

/* The same with the constants read from pp as they are needed (armv7's 16
 * registers have no room to keep them). */
static inline __attribute__((always_inline)) void
ttr__s8_finish_neon(const int MODE, int32x4_t a0, int32x4_t a1, int32x4_t a2, int32x4_t a3,
                    float xs, const ttr__s8_panel *pp, float *y, const ttr__s8_ext *ext,
                    size_t i, size_t j0)
{
    float32x4_t vxs = vdupq_n_f32(xs);
    ttr__s8_out(MODE,
                ttr__s8_epi4(a0, vxs, vld1q_f32(pp->ws), vld1q_f32(pp->bs), pp->relu),
                ttr__s8_epi4(a1, vxs, vld1q_f32(pp->ws + 4), vld1q_f32(pp->bs + 4), pp->relu),
                ttr__s8_epi4(a2, vxs, vld1q_f32(pp->ws + 8), vld1q_f32(pp->bs + 8), pp->relu),
                ttr__s8_epi4(a3, vxs, vld1q_f32(pp->ws + 12), vld1q_f32(pp->bs + 12), pp->relu),
                pp->mc, y, ext, i, j0);
}

#endif
