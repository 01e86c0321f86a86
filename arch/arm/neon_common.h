/* Private: what the two builds of a *_neon.c file differ in. Include only
 * from *_neon.c files. */
#ifndef TTR_ARCH_ARM_NEON_COMMON_H
#define TTR_ARCH_ARM_NEON_COMMON_H

#include <arm_neon.h>

#include "arm_kernels.h"
#include "fcmp_neon.h"

#if TTR_NEON_FMA
#define TTR_NEON_FN(name) name##_neonfma
#define TTR_NEON_ISA "neonfma"
/* acc + a * b, fused */
#define TTR_VMLAQ(acc, a, b) vfmaq_f32((acc), (a), (b))
#else
#define TTR_NEON_FN(name) name##_neon
#define TTR_NEON_ISA "neon"
/* acc + a * b, rounded twice (armv7 NEON has no fused form without VFPv4) */
#define TTR_VMLAQ(acc, a, b) vaddq_f32((acc), vmulq_f32((a), (b)))
#endif

/* Small matrix products of gemm_f32_neon.c, shared with attn_neon.c (each
 * build flavour has its own pair):
 *   mm_nn: c[i][t] = (accumulate ? c[i][t] : 0) + alpha sum_s a[i][s] b[s][t]
 *   mm_tn: c[j][t] += alpha sum_s a[s][j] b[s][t]  */
void TTR_NEON_FN(ttr__neon_mm_nn)(size_t rows, size_t cols, size_t kred, const float *a,
                                  size_t lda, const float *b, size_t ldb, float alpha, float *c,
                                  size_t ldc, int accumulate);
void TTR_NEON_FN(ttr__neon_mm_tn)(size_t nred, size_t rows, size_t cols, const float *a,
                                  size_t lda, const float *b, size_t ldb, float alpha, float *c,
                                  size_t ldc);

/* Horizontal sum of 4 lanes (armv7 has no vaddvq_f32). */
static inline float ttr__hsum_neon(float32x4_t v)
{
#if defined(__aarch64__)
    return vaddvq_f32(v);
#else
    float32x2_t s = vadd_f32(vget_low_f32(v), vget_high_f32(v));
    return vget_lane_f32(vpadd_f32(s, s), 0);
#endif
}

#endif
