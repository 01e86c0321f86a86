/* Private: IEEE compares of 4 float lanes against a constant, for both NEON
 * targets.
 *
 * Why not vcgtq_f32 & co. on armv7: gcc 12's arm_neon.h writes them as
 * generic vector compares, and since NEON's own compares flush subnormals
 * (not IEEE), gcc lowers each to a VFP compare per lane: ~35 instructions
 * for 4 lanes where one would do (seen in objdump: no vcgt.f32 at all in
 * the armv7 objects; clang emits vcgt.f32, which flushes). On the bit
 * patterns the same tests are exact and cheap: for non-negative floats,
 * subnormals included, IEEE order is the integers' order, and a NaN's
 * magnitude bits are above 0x7f800000 (+Inf), so NaN compares false as
 * IEEE requires. aarch64 NEON compares are IEEE: there the instruction. */
#ifndef TTR_ARCH_ARM_FCMP_NEON_H
#define TTR_ARCH_ARM_FCMP_NEON_H

#include <arm_neon.h>
#include <stdint.h>
#include <string.h>

static inline uint32_t ttr__f32_bits(float c)
{
    uint32_t u;
    memcpy(&u, &c, sizeof u);
    return u;
}

#if !defined(__aarch64__)
/* |v| as bits; above 0x7f800000 for NaN */
static inline uint32x4_t ttr__abs_bits_q(float32x4_t v)
{
    return vandq_u32(vreinterpretq_u32_f32(v), vdupq_n_u32(0x7fffffffu));
}

/* a > c on the bits of a, for c >= +0 (c's bits as int32 >= 0) */
static inline uint32x4_t ttr__gt_bits_q(int32x4_t a, float c)
{
    return vandq_u32(vcgtq_s32(a, vdupq_n_s32((int32_t)ttr__f32_bits(c))),
                     vcleq_s32(a, vdupq_n_s32(0x7f800000)));
}
#endif

/* v > c, c finite and >= +0 */
static inline uint32x4_t ttr__gt_q(float32x4_t v, float c)
{
#if defined(__aarch64__)
    return vcgtq_f32(v, vdupq_n_f32(c));
#else
    return ttr__gt_bits_q(vreinterpretq_s32_f32(v), c);
#endif
}

/* v < c, c finite and <= -0: -v > -c, with the sign flipped on the bits */
static inline uint32x4_t ttr__lt_q(float32x4_t v, float c)
{
#if defined(__aarch64__)
    return vcltq_f32(v, vdupq_n_f32(c));
#else
    uint32x4_t neg = veorq_u32(vreinterpretq_u32_f32(v), vdupq_n_u32(0x80000000u));
    return ttr__gt_bits_q(vreinterpretq_s32_u32(neg), -c);
#endif
}

/* v is not NaN (v == v) */
static inline uint32x4_t ttr__not_nan_q(float32x4_t v)
{
#if defined(__aarch64__)
    return vceqq_f32(v, v);
#else
    return vcleq_u32(ttr__abs_bits_q(v), vdupq_n_u32(0x7f800000u));
#endif
}

/* |v| >= c, c finite and > 0 */
static inline uint32x4_t ttr__abs_ge_q(float32x4_t v, float c)
{
#if defined(__aarch64__)
    return vcgeq_f32(vabsq_f32(v), vdupq_n_f32(c));
#else
    uint32x4_t a = ttr__abs_bits_q(v);
    return vandq_u32(vcgeq_u32(a, vdupq_n_u32(ttr__f32_bits(c))),
                     vcleq_u32(a, vdupq_n_u32(0x7f800000u)));
#endif
}

/* |v| < c, c finite and > 0 */
static inline uint32x4_t ttr__abs_lt_q(float32x4_t v, float c)
{
#if defined(__aarch64__)
    return vcltq_f32(vabsq_f32(v), vdupq_n_f32(c));
#else
    return vcltq_u32(ttr__abs_bits_q(v), vdupq_n_u32(ttr__f32_bits(c)));
#endif
}

/* v == 0 (either sign) */
static inline uint32x4_t ttr__eq0_q(float32x4_t v)
{
#if defined(__aarch64__)
    return vceqq_f32(v, vdupq_n_f32(0.0f));
#else
    return vceqq_u32(ttr__abs_bits_q(v), vdupq_n_u32(0));
#endif
}

#endif
