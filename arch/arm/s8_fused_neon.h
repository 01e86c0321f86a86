/* Private: the fused int8 layers of a NEON int8 file (aarch64), as a
 * template. The
 * including file (gemm_s8_neon.c, gemm_s8_neondot.c) defines its layer in
 * the epilogue modes TTR_S8_EPI_MAX and TTR_S8_EPI_DOT of
 * s8_epilogue_neon.h, as macros S8_FUSED_GEMM_MAX and S8_FUSED_GEMM_DOT
 * naming functions (n, m, k, packed, q, ldq, xscale, wscale, b, y, ldy,
 * relu, const ttr__s8_ext *ext), then includes this file, which defines
 *   s8_fused_relu_q: ttr_gemm_s8_relu_q. The layer writes y into a stack
 *     buffer and keeps each row's max in its epilogue, so the quantization
 *     (s8_quant_neon.h) makes one pass over y instead of two;
 *   s8_fused_dot: the table's gemm_s8_dot. The epilogue adds y
 *     into the output layer's eight lanes directly; y is never stored.
 * Both give the bits of their composites (src/ref_gemm_s8.c), which also
 * take the layers wider than the buffers. Include once per file. */
#ifndef TTR_ARCH_ARM_S8_FUSED_NEON_H
#define TTR_ARCH_ARM_S8_FUSED_NEON_H

#if !defined(__aarch64__)
#error "s8_fused_neon.h is for aarch64 (see gemm_s8_neon.c)"
#endif

#include "dot_fixed.h" /* ttr__dot_tree */
#include "s8_epilogue_neon.h"
#include "s8_quant_neon.h"

/* Stack: relu_q holds y (4 KB) and 32 rows' maxima (512 B); the output
 * layer its weights (up to 256: 1 KB) and 32 items' lanes (1 KB), as the
 * composites' 4 KB buffers, for small embedded stacks. Wider layers take
 * the composites. */
#define S8_FUSED_ITEMS 32
#define S8_FUSED_FLOATS 1024
#define S8_FUSED_DOT_MAX 256

static void s8_fused_relu_q(size_t n, size_t m, size_t k, const int8_t *packed, const int8_t *q,
                            size_t ldq, const float *xscale, const float *wscale, const float *b,
                            int8_t *qo, size_t ldqo, float *oscale)
{
    if (m == 0 || m > S8_FUSED_FLOATS) {
        ttr__gemm_s8_relu_q_composite(n, m, k, packed, q, ldq, xscale, wscale, b, qo, ldqo,
                                      oscale);
        return;
    }
    float y[S8_FUSED_FLOATS];
    uint32x4_t ymax[S8_FUSED_ITEMS];
    size_t rows = S8_FUSED_FLOATS / m;
    if (rows > S8_FUSED_ITEMS)
        rows = S8_FUSED_ITEMS;
    const ttr__s8_ext ext = {ymax, NULL, NULL};
    for (size_t i = 0; i < n; i += rows) {
        size_t c = n - i < rows ? n - i : rows;
        for (size_t r = 0; r < c; r++)
            ymax[r] = vdupq_n_u32(0);
        S8_FUSED_GEMM_MAX(c, m, k, packed, q + i * ldq, ldq, xscale + i, wscale, b, y, m, 1, &ext);
        for (size_t r = 0; r < c; r++) {
            uint32_t mbits = vmaxvq_u32(ymax[r]);
            ttr__s8_quant_row(y + r * m, m, mbits, qo + (i + r) * ldqo, oscale + i + r);
        }
    }
}

static void s8_fused_dot(size_t n, size_t m, size_t k, const int8_t *packed, const int8_t *q,
                         size_t ldq, const float *xscale, const float *wscale, const float *b,
                         const float *w2, float b2, float *score)
{
    if (m == 0 || m > S8_FUSED_DOT_MAX) {
        ttr__gemm_s8_dot_composite(n, m, k, packed, q, ldq, xscale, wscale, b, w2, b2, score);
        return;
    }
    float w2p[S8_FUSED_DOT_MAX]; /* w2, then zeros to the end of the last panel */
    float32x4_t lanes[2 * S8_FUSED_ITEMS];
    const size_t mpad = (m + TTR_S8_PANEL - 1) / TTR_S8_PANEL * TTR_S8_PANEL;
    memcpy(w2p, w2, m * sizeof(float));
    memset(w2p + m, 0, (mpad - m) * sizeof(float));
    const ttr__s8_ext ext = {NULL, lanes, w2p};
    for (size_t i = 0; i < n; i += S8_FUSED_ITEMS) {
        size_t c = n - i < S8_FUSED_ITEMS ? n - i : S8_FUSED_ITEMS;
        for (size_t r = 0; r < 2 * c; r++)
            lanes[r] = vdupq_n_f32(0.0f);
        S8_FUSED_GEMM_DOT(c, m, k, packed, q + i * ldq, ldq, xscale + i, wscale, b, NULL, 0, 1,
                          &ext);
        for (size_t r = 0; r < c; r++) {
            float p[8];
            vst1q_f32(p, lanes[2 * r]);
            vst1q_f32(p + 4, lanes[2 * r + 1]);
            score[i + r] = ttr__dot_tree(p) + b2;
        }
    }
}

#endif
