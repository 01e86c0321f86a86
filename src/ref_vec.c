/* Scalar reference of the element-wise helpers. exp is computed by the same
 * range reduction and polynomial that the vector paths use (not libm), so
 * that every path agrees to a few ulp and softmax outputs stay comparable
 * across targets. */
#include <math.h>

#include "kernel_table.h"
#include "vec_exp.h"

float ttr__expf(float x)
{
    if (x != x)
        return x;
    if (x > TTR_EXP_HI)
        return INFINITY;
    if (x < TTR_EXP_LO)
        return 0.0f;
    /* n = round(x / ln2) with the same magic-number rounding as the SIMD code */
    volatile float t = x * TTR_LOG2E + TTR_EXP_MAGIC;
    float n = t - TTR_EXP_MAGIC;
    float r = x - n * TTR_LN2_HI;
    r = r - n * TTR_LN2_LO;
    float p = TTR_EXP_P5;
    p = p * r + TTR_EXP_P4;
    p = p * r + TTR_EXP_P3;
    p = p * r + TTR_EXP_P2;
    p = p * r + TTR_EXP_P1;
    p = p * r + TTR_EXP_P0;
    float r2 = r * r;
    float e = p * r2 + r;
    e = e + 1.0f;
    /* 2^n as two normal factors: n is in [-126, 128] and 2^128 is not a float */
    int ni = (int)n;
    int n1 = ni / 2, n2 = ni - n1;
    return e * ttr__pow2i(n1) * ttr__pow2i(n2);
}

void ttr__vexp_c(size_t n, const float *x, float *y)
{
    for (size_t i = 0; i < n; i++)
        y[i] = ttr__expf(x[i]);
}

void ttr__vsigmoid_c(size_t n, const float *x, float *y)
{
    for (size_t i = 0; i < n; i++)
        y[i] = 1.0f / (1.0f + ttr__expf(-x[i]));
}

void ttr__vsoftplus_c(size_t n, const float *x, float *y)
{
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        if (v > 30.0f) {
            y[i] = v; /* log1p(exp(-v)) < 1e-13: below half an ulp of v */
        } else {
            float a = v < 0.0f ? -v : v;
            y[i] = (v > 0.0f ? v : 0.0f) + log1pf(ttr__expf(-a));
        }
    }
}

void ttr__relu_bwd_c(size_t n, const float *y, const float *dy, float *dx)
{
    for (size_t i = 0; i < n; i++)
        dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

void ttr__axpy_c(size_t n, float a, const float *x, float *y)
{
    for (size_t i = 0; i < n; i++)
        y[i] += a * x[i];
}

void ttr__scale_c(size_t n, float a, float *x)
{
    for (size_t i = 0; i < n; i++)
        x[i] *= a;
}

float ttr__dot_c(size_t n, const float *x, const float *y)
{
    float acc = 0.0f;
    for (size_t i = 0; i < n; i++)
        acc += x[i] * y[i];
    return acc;
}
