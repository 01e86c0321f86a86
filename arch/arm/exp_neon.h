/* Private: ttrank's exp on 4 floats (the algorithm of src/vec_exp.h), for
 * both NEON builds. The range reduction is unfused, as in the scalar
 * reference, so n and r match it exactly. */
#ifndef TTR_ARCH_ARM_EXP_NEON_H
#define TTR_ARCH_ARM_EXP_NEON_H

#include "neon_common.h"
#include "vec_exp.h"

static inline float32x4_t ttr__exp_neon(float32x4_t x)
{
    const float32x4_t hi = vdupq_n_f32(TTR_EXP_HI), lo = vdupq_n_f32(TTR_EXP_LO);
    const float32x4_t magic = vdupq_n_f32(TTR_EXP_MAGIC);
    float32x4_t xc = vminq_f32(vmaxq_f32(x, lo), hi);
    float32x4_t n = vsubq_f32(vaddq_f32(vmulq_f32(xc, vdupq_n_f32(TTR_LOG2E)), magic), magic);
    float32x4_t r = vsubq_f32(xc, vmulq_f32(n, vdupq_n_f32(TTR_LN2_HI)));
    r = vsubq_f32(r, vmulq_f32(n, vdupq_n_f32(TTR_LN2_LO)));
    float32x4_t p = vdupq_n_f32(TTR_EXP_P5);
    p = TTR_VMLAQ(vdupq_n_f32(TTR_EXP_P4), p, r);
    p = TTR_VMLAQ(vdupq_n_f32(TTR_EXP_P3), p, r);
    p = TTR_VMLAQ(vdupq_n_f32(TTR_EXP_P2), p, r);
    p = TTR_VMLAQ(vdupq_n_f32(TTR_EXP_P1), p, r);
    p = TTR_VMLAQ(vdupq_n_f32(TTR_EXP_P0), p, r);
    float32x4_t e = vaddq_f32(TTR_VMLAQ(r, p, vmulq_f32(r, r)), vdupq_n_f32(1.0f));
    /* 2^n = 2^n1 * 2^n2: n reaches 128, whose power is not a float. n is
     * integral already, so the truncating conversion is exact. */
    int32x4_t ni = vcvtq_s32_f32(n);
    int32x4_t n1 = vshrq_n_s32(ni, 1);
    int32x4_t n2 = vsubq_s32(ni, n1);
    const int32x4_t bias = vdupq_n_s32(127);
    float32x4_t s1 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(n1, bias), 23));
    float32x4_t s2 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(n2, bias), 23));
    float32x4_t y = vmulq_f32(vmulq_f32(e, s1), s2);
    y = vbslq_f32(ttr__gt_q(x, TTR_EXP_HI), vdupq_n_f32(__builtin_inff()), y);
    y = vbslq_f32(ttr__lt_q(x, TTR_EXP_LO), vdupq_n_f32(0.0f), y);
    return vbslq_f32(ttr__not_nan_q(x), y, x); /* NaN in, NaN out */
}

#endif
