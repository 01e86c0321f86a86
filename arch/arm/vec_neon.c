/* NEON element-wise helpers: exp, sigmoid, softplus, ReLU backward, axpy,
 * scale, dot. Built twice (neon_common.h: unfused / fused multiply-add).
 *
 * Tails (n % 4) of the element-wise maps go through a 4-float stack buffer,
 * so that they use exactly the vector arithmetic and nothing is read or
 * written outside [0, n). y may alias x. */
#include <string.h>

#include "exp_neon.h"

/* 1 / d: exact division on aarch64; on armv7 (no vector divide) the
 * reciprocal estimate and two Newton steps (about 1-2 ulp). d = +Inf gives 0
 * (VRECPS(Inf, 0) is 2 by definition). */
static inline float32x4_t recip_q(float32x4_t d)
{
#if defined(__aarch64__)
    return vdivq_f32(vdupq_n_f32(1.0f), d);
#else
    float32x4_t r = vrecpeq_f32(d);
    r = vmulq_f32(r, vrecpsq_f32(d, r));
    r = vmulq_f32(r, vrecpsq_f32(d, r));
    return r;
#endif
}

/* log1p(u) for u in [0, 1] as 2 atanh(s), s = u / (2 + u) in [0, 1/3]:
 * 2 (s + s^3/3 + ... + s^13/13); the first term left out is below 1e-8. */
static inline float32x4_t log1p01_q(float32x4_t u)
{
    float32x4_t s = vmulq_f32(u, recip_q(vaddq_f32(u, vdupq_n_f32(2.0f))));
    float32x4_t s2 = vmulq_f32(s, s);
    float32x4_t p = vdupq_n_f32(2.0f / 13.0f);
    p = TTR_VMLAQ(vdupq_n_f32(2.0f / 11.0f), p, s2);
    p = TTR_VMLAQ(vdupq_n_f32(2.0f / 9.0f), p, s2);
    p = TTR_VMLAQ(vdupq_n_f32(2.0f / 7.0f), p, s2);
    p = TTR_VMLAQ(vdupq_n_f32(2.0f / 5.0f), p, s2);
    p = TTR_VMLAQ(vdupq_n_f32(2.0f / 3.0f), p, s2);
    /* 2s + s^3 p */
    return TTR_VMLAQ(vaddq_f32(s, s), vmulq_f32(s, s2), p);
}

static inline float32x4_t sigmoid_q(float32x4_t x)
{
    float32x4_t e = ttr__exp_neon(vnegq_f32(x));
    return recip_q(vaddq_f32(vdupq_n_f32(1.0f), e));
}

static inline float32x4_t softplus_q(float32x4_t v)
{
    float32x4_t u = ttr__exp_neon(vnegq_f32(vabsq_f32(v)));
    float32x4_t y = vaddq_f32(vmaxq_f32(v, vdupq_n_f32(0.0f)), log1p01_q(u));
    return vbslq_f32(ttr__gt_q(v, 30.0f), v, y);
}

#define VMAP(name, fn)                                                                             \
    static void name(size_t n, const float *x, float *y)                                           \
    {                                                                                              \
        size_t i = 0;                                                                              \
        for (; i + 8 <= n; i += 8) {                                                               \
            float32x4_t a = vld1q_f32(x + i), b = vld1q_f32(x + i + 4);                            \
            vst1q_f32(y + i, fn(a));                                                               \
            vst1q_f32(y + i + 4, fn(b));                                                           \
        }                                                                                          \
        for (; i + 4 <= n; i += 4)                                                                 \
            vst1q_f32(y + i, fn(vld1q_f32(x + i)));                                                \
        if (i < n) {                                                                               \
            float buf[4] = {0.0f, 0.0f, 0.0f, 0.0f};                                               \
            memcpy(buf, x + i, (n - i) * sizeof(float));                                           \
            vst1q_f32(buf, fn(vld1q_f32(buf)));                                                    \
            memcpy(y + i, buf, (n - i) * sizeof(float));                                           \
        }                                                                                          \
    }

VMAP(vexp, ttr__exp_neon)
VMAP(vsigmoid, sigmoid_q)
VMAP(vsoftplus, softplus_q)

/* y > 0 decided on the bits (positive, non-zero, not NaN), so that a
 * denormal y counts as positive even where NEON flushes denormals (armv7). */
static inline float32x4_t relu_bwd_q(float32x4_t y, float32x4_t dy)
{
    int32x4_t b = vreinterpretq_s32_f32(y);
    uint32x4_t pos = vandq_u32(vcgtq_s32(b, vdupq_n_s32(0)), vcleq_s32(b, vdupq_n_s32(0x7f800000)));
    return vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(dy), pos));
}

static void relu_bwd(size_t n, const float *y, const float *dy, float *dx)
{
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        vst1q_f32(dx + i, relu_bwd_q(vld1q_f32(y + i), vld1q_f32(dy + i)));
    ttr__relu_bwd_c(n - i, y + i, dy + i, dx + i);
}

static void axpy(size_t n, float a, const float *x, float *y)
{
    const float32x4_t va = vdupq_n_f32(a);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        float32x4_t y0 = vld1q_f32(y + i), y1 = vld1q_f32(y + i + 4);
        y0 = TTR_VMLAQ(y0, va, vld1q_f32(x + i));
        y1 = TTR_VMLAQ(y1, va, vld1q_f32(x + i + 4));
        vst1q_f32(y + i, y0);
        vst1q_f32(y + i + 4, y1);
    }
    for (; i + 4 <= n; i += 4)
        vst1q_f32(y + i, TTR_VMLAQ(vld1q_f32(y + i), va, vld1q_f32(x + i)));
    for (; i < n; i++)
        y[i] += a * x[i];
}

/* x * a in vector lanes; armv7 NEON flushes denormal operands and results
 * to zero, so there a quad with a tiny non-zero product (or a denormal
 * operand) is redone by the scalar reference (baseline VFP code in another
 * file: clang's SLP vectorizer would turn a local 4-lane loop back into a
 * flushing NEON multiply), which keeps them: exact on every path. */
static inline void scale4(float *x, float a, float32x4_t va)
{
    float32x4_t v = vld1q_f32(x);
    float32x4_t r = vmulq_f32(v, va);
#if !defined(__aarch64__)
    /* |r| < FLT_MIN while x != 0 (a != 0 is checked by the caller) */
    uint32x4_t tiny = ttr__abs_lt_q(r, 1.17549435e-38f);
    uint32x4_t nz = vtstq_u32(vreinterpretq_u32_f32(v), vdupq_n_u32(0x7fffffffu));
    uint32x4_t bad = vandq_u32(tiny, nz);
    uint32x2_t b2 = vorr_u32(vget_low_u32(bad), vget_high_u32(bad));
    if (a != 0.0f && (vget_lane_u32(b2, 0) | vget_lane_u32(b2, 1))) {
        ttr__scale_c(4, a, x);
        return;
    }
#else
    (void)a;
#endif
    vst1q_f32(x, r);
}

static void scale(size_t n, float a, float *x)
{
    const float32x4_t va = vdupq_n_f32(a);
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        scale4(x + i, a, va);
    ttr__scale_c(n - i, a, x + i);
}

static float dot(size_t n, const float *x, const float *y)
{
    float32x4_t a0 = vdupq_n_f32(0.0f), a1 = a0, a2 = a0, a3 = a0;
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        a0 = TTR_VMLAQ(a0, vld1q_f32(x + i), vld1q_f32(y + i));
        a1 = TTR_VMLAQ(a1, vld1q_f32(x + i + 4), vld1q_f32(y + i + 4));
        a2 = TTR_VMLAQ(a2, vld1q_f32(x + i + 8), vld1q_f32(y + i + 8));
        a3 = TTR_VMLAQ(a3, vld1q_f32(x + i + 12), vld1q_f32(y + i + 12));
    }
    for (; i + 4 <= n; i += 4)
        a0 = TTR_VMLAQ(a0, vld1q_f32(x + i), vld1q_f32(y + i));
    float acc = ttr__hsum_neon(vaddq_f32(vaddq_f32(a0, a1), vaddq_f32(a2, a3)));
    for (; i < n; i++)
        acc += x[i] * y[i];
    return acc;
}

void TTR_NEON_FN(ttr__init_vec)(ttr__kernels *t)
{
    TTR__SET(t, vexp, vexp, TTR_NEON_ISA);
    TTR__SET(t, vsigmoid, vsigmoid, TTR_NEON_ISA);
    TTR__SET(t, vsoftplus, vsoftplus, TTR_NEON_ISA);
    TTR__SET(t, relu_bwd, relu_bwd, TTR_NEON_ISA);
    TTR__SET(t, axpy, axpy, TTR_NEON_ISA);
    TTR__SET(t, scale, scale, TTR_NEON_ISA);
    TTR__SET(t, dot, dot, TTR_NEON_ISA);
}
