/* Scalar reference of the int8 kernels: activation quantization, weight
 * packing and the int8 dense layer. Every vector path must reproduce these
 * results bit for bit, so the float steps are spelled out one operation at a
 * time (the build uses -ffp-contract=off). */
#include <string.h>

#include "dot_fixed.h"
#include "kernel_table.h"
#include "s8_layout.h"

/* Round half to even for |v| < 2^22 without libm or the rounding mode's
 * help beyond the default: adding 1.5 * 2^23 pushes the fraction bits out.
 * The NEON and AVX2 paths use their round-to-nearest-even conversions, which
 * agree for the |v| <= 127.5 this is used for. */
static float round_half_even(float v)
{
    const float magic = 12582912.0f;
    volatile float t = v + magic; /* volatile: no algebraic shortcut, ever */
    return t - magic;
}

/* The quiet NaN that marks a non-finite row (0x7fc00000 on every path). */
float ttr__s8_nan(void)
{
    const uint32_t bits = 0x7fc00000u;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* Element t of row xi: x itself, or (x - mean) * nscale rounded after each
 * operation (the expression of the model's normalisation). */
static float row_value(const float *xi, const float *mean, const float *nscale, size_t t)
{
    if (!mean)
        return xi[t];
    float d = xi[t] - mean[t];
    return d * nscale[t];
}

/* ttr_quantize_s8 and ttr_quantize_norm_s8 (mean NULL: no normalisation):
 * two passes over each row, the second recomputing the values. */
static void quantize_rows(size_t n, size_t k, const float *x, size_t ldx, const float *mean,
                          const float *nscale, int8_t *q, size_t ldq, float *scale)
{
    size_t kpad = TTR_S8_KPAD(k);
    for (size_t i = 0; i < n; i++) {
        const float *xi = x + i * ldx;
        int8_t *qi = q + i * ldq;
        float maxabs = 0.0f;
        int finite = 1;
        for (size_t t = 0; t < k; t++) {
            float v = row_value(xi, mean, nscale, t);
            uint32_t bits;
            memcpy(&bits, &v, sizeof bits);
            finite &= (bits & 0x7f800000u) != 0x7f800000u; /* exponent all ones: NaN, Inf */
            float a = v < 0.0f ? -v : v;
            if (a > maxabs)
                maxabs = a;
        }
        if (!finite) {
            for (size_t t = 0; t < k; t++)
                qi[t] = 0;
            scale[i] = ttr__s8_nan();
        } else if (maxabs >= TTR_S8_MIN_RANGE) {
            float inv = 127.0f / maxabs;
            for (size_t t = 0; t < k; t++) {
                float r = round_half_even(row_value(xi, mean, nscale, t) * inv);
                if (r > 127.0f)
                    r = 127.0f;
                if (r < -127.0f)
                    r = -127.0f;
                qi[t] = (int8_t)r;
            }
            scale[i] = maxabs / 127.0f;
        } else {
            for (size_t t = 0; t < k; t++)
                qi[t] = 0;
            scale[i] = 0.0f;
        }
        for (size_t t = k; t < kpad; t++)
            qi[t] = 0;
    }
}

void ttr__quantize_s8_c(size_t n, size_t k, const float *x, size_t ldx, int8_t *q, size_t ldq,
                        float *scale)
{
    quantize_rows(n, k, x, ldx, NULL, NULL, q, ldq, scale);
}

void ttr__quantize_norm_s8_c(size_t n, size_t k, const float *x, size_t ldx, const float *mean,
                             const float *nscale, int8_t *q, size_t ldq, float *scale)
{
    quantize_rows(n, k, x, ldx, mean, nscale, q, ldq, scale);
}

size_t ttr_gemm_s8_packed_size(size_t m, size_t k)
{
    size_t panels = (m + TTR_S8_PANEL - 1) / TTR_S8_PANEL;
    return panels * TTR_S8_PANEL * TTR_S8_KPAD(k);
}

int ttr_gemm_s8_pack(size_t m, size_t k, const int8_t *w, size_t ldw, int8_t *packed)
{
    size_t kpad = TTR_S8_KPAD(k);
    size_t mpad = (m + TTR_S8_PANEL - 1) / TTR_S8_PANEL * TTR_S8_PANEL;
    for (size_t j = 0; j < m; j++)
        for (size_t t = 0; t < k; t++)
            if (w[j * ldw + t] == -128)
                return TTR_ERR_RANGE;
    for (size_t j = 0; j < mpad; j++)
        for (size_t t = 0; t < kpad; t++)
            packed[ttr__s8_offset(j, t, kpad)] = j < m && t < k ? w[j * ldw + t] : 0;
    return TTR_OK;
}

void ttr__gemm_s8_c(size_t n, size_t m, size_t k, const int8_t *packed, const int8_t *q,
                    size_t ldq, const float *xscale, const float *wscale, const float *b,
                    float *y, size_t ldy, int relu)
{
    size_t kpad = TTR_S8_KPAD(k);
    for (size_t i = 0; i < n; i++) {
        const int8_t *qi = q + i * ldq;
        for (size_t j = 0; j < m; j++) {
            int32_t acc = 0;
            for (size_t t = 0; t < kpad; t++)
                acc += (int32_t)packed[ttr__s8_offset(j, t, kpad)] * (int32_t)qi[t];
            float s = xscale[i] * wscale[j];
            float v = (float)acc * s;
            v = v + (b ? b[j] : 0.0f);
            y[i * ldy + j] = relu && !(v > 0.0f) ? 0.0f : v;
        }
    }
}

/* y[j] of item i, as ttr__gemm_s8_c computes it with ReLU. */
static float s8_relu_value(size_t k, const int8_t *packed, const int8_t *qi, float xs,
                           const float *wscale, const float *b, size_t j)
{
    size_t kpad = TTR_S8_KPAD(k);
    int32_t acc = 0;
    for (size_t t = 0; t < kpad; t++)
        acc += (int32_t)packed[ttr__s8_offset(j, t, kpad)] * (int32_t)qi[t];
    float s = xs * wscale[j];
    float v = (float)acc * s;
    v = v + (b ? b[j] : 0.0f);
    return !(v > 0.0f) ? 0.0f : v;
}

/* Two passes over the outputs (max |y|, then quantize), recomputing y: the
 * definition, spelled as ttr__gemm_s8_c then ttr__quantize_s8_c of one row
 * (y >= +0, so |y| = y). */
void ttr__gemm_s8_relu_q_c(size_t n, size_t m, size_t k, const int8_t *packed, const int8_t *q,
                           size_t ldq, const float *xscale, const float *wscale, const float *b,
                           int8_t *qo, size_t ldqo, float *oscale)
{
    size_t mpad = TTR_S8_KPAD(m);
    for (size_t i = 0; i < n; i++) {
        const int8_t *qi = q + i * ldq;
        int8_t *oi = qo + i * ldqo;
        float maxabs = 0.0f;
        for (size_t j = 0; j < m; j++) {
            float v = s8_relu_value(k, packed, qi, xscale[i], wscale, b, j);
            if (v > maxabs)
                maxabs = v;
        }
        if (maxabs >= TTR_S8_MIN_RANGE) {
            float inv = 127.0f / maxabs;
            for (size_t j = 0; j < m; j++) {
                float r = round_half_even(s8_relu_value(k, packed, qi, xscale[i], wscale, b, j) *
                                          inv);
                if (r > 127.0f)
                    r = 127.0f;
                if (r < -127.0f)
                    r = -127.0f;
                oi[j] = (int8_t)r;
            }
            oscale[i] = maxabs / 127.0f;
        } else {
            for (size_t j = 0; j < m; j++)
                oi[j] = 0;
            oscale[i] = 0.0f;
        }
        for (size_t j = m; j < mpad; j++)
            oi[j] = 0;
    }
}
