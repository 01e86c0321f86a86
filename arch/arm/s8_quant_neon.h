/* Private: the NEON row quantizer of ttr_quantize_s8 (gemm_s8_neon.c), also
 * used by the fused relu_q of both NEON int8 files, which know a row's max
 * from their epilogue (s8_epilogue_neon.h) and skip that pass. armv7 NEON
 * flushes subnormals: rows with max|x| < 2^-100 (or not finite) take the
 * scalar reference (see gemm_s8_neon.c's top comment). */
#ifndef TTR_ARCH_ARM_S8_QUANT_NEON_H
#define TTR_ARCH_ARM_S8_QUANT_NEON_H

#include <arm_neon.h>
#include <string.h>

#include "arm_kernels.h"

#define S8_ABS_MASK 0x7fffffffu
#define S8_QUANT_MIN_BITS 0x0d800000u /* 2^-100 */
#define S8_F32_INF_BITS 0x7f800000u

/* round half to even, for |v| < 2^22 */
static inline int32x4_t s8_round(float32x4_t v)
{
#if defined(__aarch64__)
    return vcvtnq_s32_f32(v);
#else
    /* armv7 converts by truncation only. Add 1.5 * 2^23 as the reference
     * does: the sum lies in [2^23, 2^24), where the float's ulp is 1, so its
     * bit pattern is bits(1.5 * 2^23) + round(v). */
    const float32x4_t magic = vdupq_n_f32(12582912.0f);
    return vsubq_s32(vreinterpretq_s32_f32(vaddq_f32(v, magic)), vreinterpretq_s32_f32(magic));
#endif
}

/* 16 floats -> 16 int8 in [-127, 127] */
static inline int8x16_t s8_quant16(const float *x, float32x4_t vinv)
{
    int32x4_t r0 = s8_round(vmulq_f32(vld1q_f32(x), vinv));
    int32x4_t r1 = s8_round(vmulq_f32(vld1q_f32(x + 4), vinv));
    int32x4_t r2 = s8_round(vmulq_f32(vld1q_f32(x + 8), vinv));
    int32x4_t r3 = s8_round(vmulq_f32(vld1q_f32(x + 12), vinv));
    int16x8_t h0 = vcombine_s16(vqmovn_s32(r0), vqmovn_s32(r1));
    int16x8_t h1 = vcombine_s16(vqmovn_s32(r2), vqmovn_s32(r3));
    int8x16_t q = vcombine_s8(vqmovn_s16(h0), vqmovn_s16(h1));
    return vmaxq_s8(q, vdupq_n_s8(-127)); /* saturation gave <= 127; clamp -128 too */
}

/* ttr_quantize_s8 of one row x[0..k) into q[0..KPAD(k)) and *scale, given
 * mbits, the bit pattern of max|x| (non-negative). */
static inline __attribute__((always_inline)) void
ttr__s8_quant_row(const float *xi, size_t k, uint32_t mbits, int8_t *qi, float *scale)
{
    const size_t kpad = TTR_S8_KPAD(k);
    if (mbits < S8_QUANT_MIN_BITS || mbits >= S8_F32_INF_BITS) {
        /* all-zero, tiny (see the top of the file) or invalid rows */
        ttr__quantize_s8_c(1, k, xi, k, qi, kpad, scale);
        return;
    }
    float maxabs;
    memcpy(&maxabs, &mbits, sizeof maxabs);
    float inv = 127.0f / maxabs; /* scalar: IEEE on every target */
    float32x4_t vinv = vdupq_n_f32(inv);
    size_t t = 0;
    for (; t + 16 <= k; t += 16)
        vst1q_s8(qi + t, s8_quant16(xi + t, vinv));
    if (t < k && k >= 16) {
        /* the last 16 inputs, overlapping bytes already written (with the
         * same values), then the zero padding (bytes k..kpad-1) */
        vst1q_s8(qi + k - 16, s8_quant16(xi + k - 16, vinv));
        if (k < kpad) /* 1..3 bytes: stores, where a loop became a memset call */
            qi[k] = 0;
        if (k + 1 < kpad)
            qi[k + 1] = 0;
        if (k + 2 < kpad)
            qi[k + 2] = 0;
    } else if (t < kpad) {
        /* k < 16: the 1..15 inputs, zero-extended: zeros quantize to the
         * zero padding */
        float tail[16] = {0};
        int8_t out[16];
        memcpy(tail, xi + t, (k - t) * sizeof(float));
        vst1q_s8(out, s8_quant16(tail, vinv));
        memcpy(qi + t, out, kpad - t);
    }
    *scale = maxabs / 127.0f;
}

#endif
