/* Composite kernels: a fused int8 kernel spelled as its parts through the
 * active table (see kernel_table.h). They are the defaults of paths without
 * a fused kernel, and of the fused kernels' wide layers; the scalar
 * references (ref_*.c) never call them or the table. */
#include "dot_fixed.h"
#include "kernel_table.h"

/* Rows of f32 outputs held on the stack at a time (16 KiB would be too much
 * for small embedded stacks; 4 KiB is fine). */
#define S8_COMPOSITE_FLOATS 1024

/* row_value of a whole row, in blocks of 16 then of 4 with a constant trip
 * count, which gcc -O2 vectorises where the baseline has IEEE vectors
 * (aarch64 NEON, x86-64 SSE; its very cheap cost model takes no loop that
 * needs a scalar epilogue); at most 3 values are left to scalar code (46
 * features: 2, not 14). Baseline armv7 has no NEON: scalar VFP, IEEE too. */
static void normalise_row(size_t k, const float *xi, const float *mean, const float *nscale,
                          float *out)
{
    size_t t = 0;
    for (; t + 16 <= k; t += 16)
        for (int u = 0; u < 16; u++) {
            float d = xi[t + u] - mean[t + u];
            out[t + u] = d * nscale[t + u];
        }
    for (; t + 4 <= k; t += 4)
        for (int u = 0; u < 4; u++) {
            float d = xi[t + u] - mean[t + u];
            out[t + u] = d * nscale[t + u];
        }
    for (; t < k; t++)
        out[t] = (xi[t] - mean[t]) * nscale[t]; /* as the reference: two roundings */
}

void ttr__quantize_norm_s8_composite(size_t n, size_t k, const float *x, size_t ldx,
                                     const float *mean, const float *nscale, int8_t *q,
                                     size_t ldq, float *scale)
{
    float v[S8_COMPOSITE_FLOATS];
    if (k > S8_COMPOSITE_FLOATS) { /* wider than the buffer: the reference */
        ttr__quantize_norm_s8_c(n, k, x, ldx, mean, nscale, q, ldq, scale);
        return;
    }
    const ttr__kernels *t = ttr__kernels_get();
    size_t rows = S8_COMPOSITE_FLOATS / (k ? k : 1);
    for (size_t i = 0; i < n; i += rows) {
        size_t c = n - i < rows ? n - i : rows;
        for (size_t r = 0; r < c; r++)
            normalise_row(k, x + (i + r) * ldx, mean, nscale, v + r * k);
        t->quantize_s8(c, k, v, k, q + i * ldq, ldq, scale + i);
    }
}

void ttr__gemm_s8_relu_q_composite(size_t n, size_t m, size_t k, const int8_t *packed,
                                   const int8_t *q, size_t ldq, const float *xscale,
                                   const float *wscale, const float *b, int8_t *qo,
                                   size_t ldqo, float *oscale)
{
    float y[S8_COMPOSITE_FLOATS];
    if (m > S8_COMPOSITE_FLOATS) { /* wider than the buffer: the reference */
        ttr__gemm_s8_relu_q_c(n, m, k, packed, q, ldq, xscale, wscale, b, qo, ldqo, oscale);
        return;
    }
    const ttr__kernels *t = ttr__kernels_get();
    size_t rows = S8_COMPOSITE_FLOATS / (m ? m : 1);
    for (size_t i = 0; i < n; i += rows) {
        size_t c = n - i < rows ? n - i : rows;
        t->gemm_s8(c, m, k, packed, q + i * ldq, ldq, xscale + i, wscale, b, y, m, 1);
        t->quantize_s8(c, m, y, m, qo + i * ldqo, ldqo, oscale + i);
    }
}

void ttr__gemm_s8_dot_composite(size_t n, size_t m, size_t k, const int8_t *packed,
                                const int8_t *q, size_t ldq, const float *xscale,
                                const float *wscale, const float *b, const float *w2, float b2,
                                float *score)
{
    float y[S8_COMPOSITE_FLOATS];
    const ttr__kernels *t = ttr__kernels_get();
    if (m > S8_COMPOSITE_FLOATS) {
        /* wider than the buffer: one item at a time, its outputs in pieces
         * of whole panels (a multiple of 8: the lanes of ttr__dot_lanes
         * carry over from piece to piece) */
        size_t kpad = TTR_S8_KPAD(k);
        for (size_t i = 0; i < n; i++) {
            float p[8] = {0, 0, 0, 0, 0, 0, 0, 0};
            for (size_t j0 = 0; j0 < m; j0 += S8_COMPOSITE_FLOATS) {
                size_t mc = m - j0 < S8_COMPOSITE_FLOATS ? m - j0 : S8_COMPOSITE_FLOATS;
                t->gemm_s8(1, mc, k, packed + j0 * kpad, q + i * ldq, ldq, xscale + i,
                           wscale + j0, b ? b + j0 : NULL, y, mc, 1);
                ttr__dot_lanes(p, mc, w2 + j0, y);
            }
            score[i] = ttr__dot_tree(p) + b2;
        }
        return;
    }
    size_t rows = S8_COMPOSITE_FLOATS / (m ? m : 1);
    for (size_t i = 0; i < n; i += rows) {
        size_t c = n - i < rows ? n - i : rows;
        t->gemm_s8(c, m, k, packed, q + i * ldq, ldq, xscale + i, wscale, b, y, m, 1);
        for (size_t r = 0; r < c; r++)
            score[i + r] = ttr__dot_fixed(m, w2, y + r * m) + b2;
    }
}
