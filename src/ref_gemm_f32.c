/* Scalar reference of the f32 dense-layer kernels (forward and backward).
 * These loops define the results the vector paths are compared with, so they
 * are written for clarity: one sequential sum per output, no reordering. */
#include "kernel_table.h"

size_t ttr_gemm_f32_packed_size(size_t m, size_t k)
{
    size_t panels = (m + TTR_F32_PANEL - 1) / TTR_F32_PANEL;
    return panels * TTR_F32_PANEL * k;
}

void ttr_gemm_f32_pack(size_t m, size_t k, const float *w, size_t ldw, float *packed)
{
    size_t panels = (m + TTR_F32_PANEL - 1) / TTR_F32_PANEL;
    for (size_t p = 0; p < panels; p++) {
        float *dst = packed + p * TTR_F32_PANEL * k;
        /* row by row: reads stay contiguous (training repacks after every step) */
        for (size_t r = 0; r < TTR_F32_PANEL; r++) {
            size_t j = p * TTR_F32_PANEL + r;
            if (j < m) {
                const float *src = w + j * ldw;
                for (size_t t = 0; t < k; t++)
                    dst[t * TTR_F32_PANEL + r] = src[t];
            } else {
                for (size_t t = 0; t < k; t++)
                    dst[t * TTR_F32_PANEL + r] = 0.0f;
            }
        }
    }
}

void ttr__gemm_f32_c(size_t n, size_t m, size_t k, const float *packed, const float *x,
                     size_t ldx, const float *b, float *y, size_t ldy, int relu)
{
    for (size_t i = 0; i < n; i++) {
        const float *xi = x + i * ldx;
        for (size_t j = 0; j < m; j++) {
            const float *col = packed + (j / TTR_F32_PANEL) * TTR_F32_PANEL * k + j % TTR_F32_PANEL;
            float acc = 0.0f;
            for (size_t t = 0; t < k; t++)
                acc += col[t * TTR_F32_PANEL] * xi[t];
            acc += b ? b[j] : 0.0f;
            y[i * ldy + j] = relu && !(acc > 0.0f) ? 0.0f : acc;
        }
    }
}

void ttr__backprop_in_f32_c(size_t n, size_t m, size_t k, const float *w, size_t ldw,
                            const float *dy, size_t lddy, float *dx, size_t lddx, int accumulate)
{
    for (size_t i = 0; i < n; i++) {
        float *dxi = dx + i * lddx;
        if (!accumulate)
            for (size_t t = 0; t < k; t++)
                dxi[t] = 0.0f;
        for (size_t j = 0; j < m; j++) {
            float g = dy[i * lddy + j];
            const float *wj = w + j * ldw;
            for (size_t t = 0; t < k; t++)
                dxi[t] += g * wj[t];
        }
    }
}

void ttr__outer_acc_f32_c(size_t n, size_t m, size_t k, const float *dy, size_t lddy,
                          const float *x, size_t ldx, float *dw, size_t lddw)
{
    for (size_t i = 0; i < n; i++) {
        const float *xi = x + i * ldx;
        for (size_t j = 0; j < m; j++) {
            float g = dy[i * lddy + j];
            float *dwj = dw + j * lddw;
            for (size_t t = 0; t < k; t++)
                dwj[t] += g * xi[t];
        }
    }
}
