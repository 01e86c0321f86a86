/* NEON optimizer updates. aarch64 has IEEE vector division and square root,
 * so the arithmetic is the reference's operation for operation; armv7 NEON
 * has only reciprocal and reciprocal-square-root estimates, refined here by
 * Newton steps to within a few ulp (see the tolerance in ttr_kernels.h). The
 * state is flushed below TTR_OPT_FLUSH before anything can become denormal
 * (armv7 NEON flushes denormals itself). */
#include "neon_common.h"

static inline float32x4_t flush_tiny(float32x4_t x)
{
    uint32x4_t keep = ttr__abs_ge_q(x, TTR_OPT_FLUSH);
    return vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(x), keep));
}

#if defined(__aarch64__)
static inline float32x4_t div4(float32x4_t a, float32x4_t b)
{
    return vdivq_f32(a, b);
}
static inline float32x4_t sqrt4(float32x4_t a)
{
    return vsqrtq_f32(a);
}
#else
/* a / b: reciprocal estimate + two Newton steps, then one correction of the quotient */
static inline float32x4_t div4(float32x4_t a, float32x4_t b)
{
    float32x4_t r = vrecpeq_f32(b);
    r = vmulq_f32(r, vrecpsq_f32(b, r));
    r = vmulq_f32(r, vrecpsq_f32(b, r));
    float32x4_t q = vmulq_f32(a, r);
    return vaddq_f32(q, vmulq_f32(r, vsubq_f32(a, vmulq_f32(q, b))));
}
/* sqrt(a) = a * rsqrt(a), rsqrt by estimate + three Newton steps; sqrt(0) = 0 */
static inline float32x4_t sqrt4(float32x4_t a)
{
    float32x4_t e = vrsqrteq_f32(a);
    e = vmulq_f32(e, vrsqrtsq_f32(vmulq_f32(a, e), e));
    e = vmulq_f32(e, vrsqrtsq_f32(vmulq_f32(a, e), e));
    e = vmulq_f32(e, vrsqrtsq_f32(vmulq_f32(a, e), e));
    uint32x4_t zero = ttr__eq0_q(a);
    float32x4_t r = vmulq_f32(a, e);
    return vreinterpretq_f32_u32(vbicq_u32(vreinterpretq_u32_f32(r), zero));
}
#endif

static void adam_neon(size_t n, float *w, const float *g, float *m, float *v, float gscale,
                      const ttr_adam_step *s)
{
    const float32x4_t b1 = vdupq_n_f32(s->beta1), b2 = vdupq_n_f32(s->beta2);
    const float32x4_t c1 = vdupq_n_f32(1.0f - s->beta1), c2 = vdupq_n_f32(1.0f - s->beta2);
    const float32x4_t lr = vdupq_n_f32(s->lr_t), eps = vdupq_n_f32(s->eps_t);
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        float32x4_t gs = vmulq_n_f32(vld1q_f32(g + i), gscale);
        float32x4_t mi = vaddq_f32(vmulq_f32(b1, vld1q_f32(m + i)), vmulq_f32(c1, gs));
        float32x4_t vi =
            vaddq_f32(vmulq_f32(b2, vld1q_f32(v + i)), vmulq_f32(c2, vmulq_f32(gs, gs)));
        mi = flush_tiny(mi);
        vi = flush_tiny(vi);
        float32x4_t den = vaddq_f32(sqrt4(vi), eps);
        float32x4_t step = div4(vmulq_f32(lr, mi), den);
        vst1q_f32(m + i, mi);
        vst1q_f32(v + i, vi);
        vst1q_f32(w + i, vsubq_f32(vld1q_f32(w + i), step));
    }
    if (i < n)
        ttr__adam_c(n - i, w + i, g + i, m + i, v + i, gscale, s);
}

static void momentum_neon(size_t n, float *w, const float *g, float *vel, float gscale, float lr,
                          float momentum)
{
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        float32x4_t vi = vaddq_f32(vmulq_n_f32(vld1q_f32(vel + i), momentum),
                                   vmulq_n_f32(vld1q_f32(g + i), gscale));
        vi = flush_tiny(vi);
        vst1q_f32(vel + i, vi);
        vst1q_f32(w + i, vsubq_f32(vld1q_f32(w + i), vmulq_n_f32(vi, lr)));
    }
    if (i < n)
        ttr__momentum_c(n - i, w + i, g + i, vel + i, gscale, lr, momentum);
}

void TTR_NEON_FN(ttr__init_optim)(ttr__kernels *t)
{
    TTR__SET(t, adam, adam_neon, TTR_NEON_ISA);
    TTR__SET(t, momentum, momentum_neon, TTR_NEON_ISA);
}
