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

static inline float32x4_t ttr__s8_epi4(int32x4_t acc, float32x4_t vxs, const float *ws,
                                       const float *bs, int relu)
{
    float32x4_t s = vmulq_f32(vxs, vld1q_f32(ws));
    float32x4_t v = vmulq_f32(vcvtq_f32_s32(acc), s);
    v = vaddq_f32(v, vld1q_f32(bs));
    if (relu) /* v > 0 ? v : +0.0f (also maps NaN to 0, like the reference) */
        v = vreinterpretq_f32_u32(
            vandq_u32(vreinterpretq_u32_f32(v), ttr__gt_q(v, 0.0f)));
    return v;
}

/* y[0..mc) of one item from its 16 accumulators (outputs in order). */
static inline void ttr__s8_finish_neon(int32x4_t a0, int32x4_t a1, int32x4_t a2, int32x4_t a3,
                                       float xs, const ttr__s8_panel *pp, float *y)
{
    float32x4_t vxs = vdupq_n_f32(xs);
    float32x4_t v0 = ttr__s8_epi4(a0, vxs, pp->ws, pp->bs, pp->relu);
    float32x4_t v1 = ttr__s8_epi4(a1, vxs, pp->ws + 4, pp->bs + 4, pp->relu);
    float32x4_t v2 = ttr__s8_epi4(a2, vxs, pp->ws + 8, pp->bs + 8, pp->relu);
    float32x4_t v3 = ttr__s8_epi4(a3, vxs, pp->ws + 12, pp->bs + 12, pp->relu);
    if (pp->mc == TTR_S8_PANEL) {
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
        memcpy(y, tmp, pp->mc * sizeof(float)); /* never past the m-th output */
    }
}

#endif
