/* NEON attention kernels for one list (exact two-pass softmax over a stored
 * score row, as src/ref_attn.c). Built twice (neon_common.h).
 *
 * Scores and dP += dOut V^T are dot products of contiguous rows: four keys
 * at a time, one accumulator each, reduced by pairwise adds. The products
 * with a row-major right-hand side (out = P V, dQ += scale dS K) and with a
 * transposed left-hand side (dV += P^T dOut, dK += scale dS^T Q) reuse the
 * register-tiled kernels of gemm_f32_neon.c. */
#include <string.h>

#include "exp_neon.h"


/* {sum a0, sum a1, sum a2, sum a3} */
static inline float32x4_t hsum4(float32x4_t a0, float32x4_t a1, float32x4_t a2, float32x4_t a3)
{
    float32x2_t s0 = vpadd_f32(vget_low_f32(a0), vget_high_f32(a0));
    float32x2_t s1 = vpadd_f32(vget_low_f32(a1), vget_high_f32(a1));
    float32x2_t s2 = vpadd_f32(vget_low_f32(a2), vget_high_f32(a2));
    float32x2_t s3 = vpadd_f32(vget_low_f32(a3), vget_high_f32(a3));
    return vcombine_f32(vpadd_f32(s0, s1), vpadd_f32(s2, s3));
}

/* {x . b0, x . b1, x . b2, x . b3} with b_i = b + i * ldb, length d. */
static inline float32x4_t dot4(size_t d, const float *x, const float *b, size_t ldb)
{
    const float *b0 = b, *b1 = b + ldb, *b2 = b + 2 * ldb, *b3 = b + 3 * ldb;
    float32x4_t a0 = vdupq_n_f32(0.0f), a1 = a0, a2 = a0, a3 = a0;
    size_t c = 0;
    for (; c + 4 <= d; c += 4) {
        float32x4_t xv = vld1q_f32(x + c);
        a0 = TTR_VMLAQ(a0, xv, vld1q_f32(b0 + c));
        a1 = TTR_VMLAQ(a1, xv, vld1q_f32(b1 + c));
        a2 = TTR_VMLAQ(a2, xv, vld1q_f32(b2 + c));
        a3 = TTR_VMLAQ(a3, xv, vld1q_f32(b3 + c));
    }
    float32x4_t s = hsum4(a0, a1, a2, a3);
    if (c < d) {
        float t[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        for (; c < d; c++) {
            t[0] += x[c] * b0[c];
            t[1] += x[c] * b1[c];
            t[2] += x[c] * b2[c];
            t[3] += x[c] * b3[c];
        }
        s = vaddq_f32(s, vld1q_f32(t));
    }
    return s;
}

static inline float dot1(size_t d, const float *x, const float *b)
{
    float32x4_t a0 = vdupq_n_f32(0.0f), a1 = a0;
    size_t c = 0;
    for (; c + 8 <= d; c += 8) {
        a0 = TTR_VMLAQ(a0, vld1q_f32(x + c), vld1q_f32(b + c));
        a1 = TTR_VMLAQ(a1, vld1q_f32(x + c + 4), vld1q_f32(b + c + 4));
    }
    for (; c + 4 <= d; c += 4)
        a0 = TTR_VMLAQ(a0, vld1q_f32(x + c), vld1q_f32(b + c));
    float s = ttr__hsum_neon(vaddq_f32(a0, a1));
    for (; c < d; c++)
        s += x[c] * b[c];
    return s;
}

/* All-ones lanes for the valid keys m..m+3. */
static inline uint32x4_t keymask4(const uint8_t *key_mask, size_t m)
{
    if (!key_mask)
        return vdupq_n_u32(0xffffffffu);
    uint32_t w;
    memcpy(&w, key_mask + m, 4);
    uint16x8_t h = vmovl_u8(vreinterpret_u8_u32(vdup_n_u32(w)));
    uint32x4_t v = vmovl_u16(vget_low_u16(h));
    return vtstq_u32(v, v);
}

static inline float hmax_q(float32x4_t v)
{
#if defined(__aarch64__)
    return vmaxvq_f32(v);
#else
    float32x2_t m = vpmax_f32(vget_low_f32(v), vget_high_f32(v));
    return vget_lane_f32(vpmax_f32(m, m), 0);
#endif
}

static void attn_probs(size_t n, size_t d, const float *q, size_t ldq, const float *k, size_t ldk,
                       float scale, const uint8_t *key_mask, float *p, size_t ldp)
{
    const float32x4_t ninf = vdupq_n_f32(-__builtin_inff());
    for (size_t j = 0; j < n; j++) {
        const float *qj = q + j * ldq;
        float *pj = p + j * ldp;
        /* pass 1: scores of the valid keys (masked: -Inf for now) and max */
        float32x4_t mxv = ninf;
        float mx = -__builtin_inff();
        int any = 0;
        size_t m = 0;
        for (; m + 4 <= n; m += 4) {
            uint32x4_t valid = keymask4(key_mask, m);
            uint32x2_t v2 = vorr_u32(vget_low_u32(valid), vget_high_u32(valid));
            if (!(vget_lane_u32(v2, 0) | vget_lane_u32(v2, 1))) {
                vst1q_f32(pj + m, ninf);
                continue;
            }
            any = 1;
            float32x4_t s = vmulq_n_f32(dot4(d, qj, k + m * ldk, ldk), scale);
            s = vbslq_f32(valid, s, ninf);
            mxv = vmaxq_f32(mxv, s);
            vst1q_f32(pj + m, s);
        }
        for (; m < n; m++) {
            if (key_mask && !key_mask[m]) {
                pj[m] = -__builtin_inff();
                continue;
            }
            float s = dot1(d, qj, k + m * ldk) * scale;
            pj[m] = s;
            if (!any || s > mx)
                mx = s;
            any = 1;
        }
        if (!any) { /* every key masked: the row is all zero */
            memset(pj, 0, n * sizeof(float));
            continue;
        }
        float vm = hmax_q(mxv);
        if (vm > mx)
            mx = vm;
        /* pass 2: e = exp(s - max) (exp(-Inf) = 0 for masked keys), summed */
        const float32x4_t mxq = vdupq_n_f32(mx);
        float32x4_t sum4 = vdupq_n_f32(0.0f);
        for (m = 0; m + 4 <= n; m += 4) {
            float32x4_t e = ttr__exp_neon(vsubq_f32(vld1q_f32(pj + m), mxq));
            sum4 = vaddq_f32(sum4, e);
            vst1q_f32(pj + m, e);
        }
        float sum = ttr__hsum_neon(sum4);
        for (; m < n; m++) {
            float e = (key_mask && !key_mask[m]) ? 0.0f : ttr__expf(pj[m] - mx);
            pj[m] = e;
            sum += e;
        }
        /* pass 3: normalise (sum >= 1: the max term is exp(0)) */
        float inv = 1.0f / sum;
        for (m = 0; m + 4 <= n; m += 4)
            vst1q_f32(pj + m, vmulq_n_f32(vld1q_f32(pj + m), inv));
        for (; m < n; m++)
            pj[m] *= inv;
    }
}

static void attn_apply(size_t n, size_t dv, const float *p, size_t ldp, const float *v,
                       size_t ldv, float *out, size_t ldo)
{
    TTR_NEON_FN(ttr__neon_mm_nn)(n, dv, n, p, ldp, v, ldv, 1.0f, out, ldo, 0);
}

static void attn_apply_bwd(size_t n, size_t dv_cols, const float *p, size_t ldp, const float *v,
                           size_t ldv, const float *dout, size_t ldo, float *dp, size_t lddp,
                           float *dv, size_t lddv)
{
    /* dP += dOut V^T */
    for (size_t j = 0; j < n; j++) {
        const float *gj = dout + j * ldo;
        float *dpj = dp + j * lddp;
        size_t m = 0;
        for (; m + 4 <= n; m += 4)
            vst1q_f32(dpj + m, vaddq_f32(vld1q_f32(dpj + m), dot4(dv_cols, gj, v + m * ldv, ldv)));
        for (; m < n; m++)
            dpj[m] += dot1(dv_cols, gj, v + m * ldv);
    }
    /* dV += P^T dOut */
    TTR_NEON_FN(ttr__neon_mm_tn)(n, n, dv_cols, p, ldp, dout, ldo, 1.0f, dv, lddv);
}

static void attn_probs_bwd(size_t n, size_t d, const float *q, size_t ldq, const float *k,
                           size_t ldk, float scale, const float *p, size_t ldp, float *dp,
                           size_t lddp, float *dq, size_t lddq, float *dk, size_t lddk)
{
    /* dS = P o (dP - sum_m dP P), in place */
    for (size_t j = 0; j < n; j++) {
        const float *pj = p + j * ldp;
        float *dpj = dp + j * lddp;
        float dt = dot1(n, dpj, pj);
        const float32x4_t dtq = vdupq_n_f32(dt);
        size_t m = 0;
        for (; m + 4 <= n; m += 4)
            vst1q_f32(dpj + m, vmulq_f32(vld1q_f32(pj + m), vsubq_f32(vld1q_f32(dpj + m), dtq)));
        for (; m < n; m++)
            dpj[m] = pj[m] * (dpj[m] - dt);
    }
    /* dQ += scale dS K;  dK += scale dS^T Q */
    TTR_NEON_FN(ttr__neon_mm_nn)(n, d, n, dp, lddp, k, ldk, scale, dq, lddq, 1);
    TTR_NEON_FN(ttr__neon_mm_tn)(n, n, d, dp, lddp, q, ldq, scale, dk, lddk);
}

void TTR_NEON_FN(ttr__init_attn)(ttr__kernels *t)
{
    TTR__SET(t, attn_probs, attn_probs, TTR_NEON_ISA);
    TTR__SET(t, attn_apply, attn_apply, TTR_NEON_ISA);
    TTR__SET(t, attn_apply_bwd, attn_apply_bwd, TTR_NEON_ISA);
    TTR__SET(t, attn_probs_bwd, attn_probs_bwd, TTR_NEON_ISA);
}
