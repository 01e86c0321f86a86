/* Scalar reference of the attention kernels (one list, exact two-pass
 * softmax over a stored score row). */
#include <math.h>

#include "kernel_table.h"
#include "vec_exp.h"

void ttr__attn_probs_c(size_t n, size_t d, const float *q, size_t ldq, const float *k, size_t ldk,
                       float scale, const uint8_t *key_mask, float *p, size_t ldp)
{
    for (size_t j = 0; j < n; j++) {
        float *pj = p + j * ldp;
        float mx = -INFINITY;
        int any = 0;
        for (size_t m = 0; m < n; m++) {
            if (key_mask && !key_mask[m]) {
                pj[m] = 0.0f;
                continue;
            }
            float s = 0.0f;
            for (size_t c = 0; c < d; c++)
                s += q[j * ldq + c] * k[m * ldk + c];
            s *= scale;
            pj[m] = s;
            if (!any || s > mx)
                mx = s;
            any = 1;
        }
        if (!any)
            continue; /* every key masked: the row stays all zero */
        float sum = 0.0f;
        for (size_t m = 0; m < n; m++) {
            if (key_mask && !key_mask[m])
                continue;
            pj[m] = ttr__expf(pj[m] - mx);
            sum += pj[m];
        }
        float inv = 1.0f / sum; /* sum >= 1: the max term is exp(0) */
        for (size_t m = 0; m < n; m++)
            pj[m] *= inv;
    }
}

void ttr__attn_apply_c(size_t n, size_t dv, const float *p, size_t ldp, const float *v,
                       size_t ldv, float *out, size_t ldo)
{
    for (size_t j = 0; j < n; j++)
        for (size_t c = 0; c < dv; c++) {
            float acc = 0.0f;
            for (size_t m = 0; m < n; m++)
                acc += p[j * ldp + m] * v[m * ldv + c];
            out[j * ldo + c] = acc;
        }
}

void ttr__attn_apply_bwd_c(size_t n, size_t dv_cols, const float *p, size_t ldp, const float *v,
                           size_t ldv, const float *dout, size_t ldo, float *dp, size_t lddp,
                           float *dv, size_t lddv)
{
    for (size_t j = 0; j < n; j++)
        for (size_t m = 0; m < n; m++) {
            float acc = 0.0f;
            for (size_t c = 0; c < dv_cols; c++)
                acc += dout[j * ldo + c] * v[m * ldv + c];
            dp[j * lddp + m] += acc;
        }
    for (size_t m = 0; m < n; m++)
        for (size_t c = 0; c < dv_cols; c++) {
            float acc = 0.0f;
            for (size_t j = 0; j < n; j++)
                acc += p[j * ldp + m] * dout[j * ldo + c];
            dv[m * lddv + c] += acc;
        }
}

void ttr__attn_probs_bwd_c(size_t n, size_t d, const float *q, size_t ldq, const float *k,
                           size_t ldk, float scale, const float *p, size_t ldp, float *dp,
                           size_t lddp, float *dq, size_t lddq, float *dk, size_t lddk)
{
    /* softmax backward, in place: dS = P o (dP - sum_m dP P) */
    for (size_t j = 0; j < n; j++) {
        float dot = 0.0f;
        for (size_t m = 0; m < n; m++)
            dot += dp[j * lddp + m] * p[j * ldp + m];
        for (size_t m = 0; m < n; m++)
            dp[j * lddp + m] = p[j * ldp + m] * (dp[j * lddp + m] - dot);
    }
    for (size_t j = 0; j < n; j++)
        for (size_t c = 0; c < d; c++) {
            float acc = 0.0f;
            for (size_t m = 0; m < n; m++)
                acc += dp[j * lddp + m] * k[m * ldk + c];
            dq[j * lddq + c] += scale * acc;
        }
    for (size_t m = 0; m < n; m++)
        for (size_t c = 0; c < d; c++) {
            float acc = 0.0f;
            for (size_t j = 0; j < n; j++)
                acc += dp[j * lddp + m] * q[j * ldq + c];
            dk[m * lddk + c] += scale * acc;
        }
}
