/* Private: the f32 output layer of int8 models, sum_t w[t] h[t] in a fixed
 * order (8 interleaved partial sums: lane l takes t = l mod 8, in increasing
 * t; then the tree ((p0 + p4) + (p2 + p6)) + ((p1 + p5) + (p3 + p7))), plain
 * C under the build's -ffp-contract=off: the same bits on every path and
 * target, so that int8 scores stay bit-exact across CPU masks. Written as a
 * loop over the 8 lanes so that compilers turn it into 2 x 4-lane vector
 * multiplies and adds (SSE2, aarch64 NEON), which are the same operations
 * lane by lane; armv7 keeps it scalar (NEON float is not IEEE there, so
 * compilers never vectorize). The x86 int8 kernels repeat this order in
 * registers (gemm_s8_x86.h, row_dot). */
#ifndef TTR_SRC_DOT_FIXED_H
#define TTR_SRC_DOT_FIXED_H

#include <stddef.h>

/* p[l] += the products of lane l (w, h: k values). A row may come in
 * pieces whose lengths are multiples of 8 but the last. */
static inline void ttr__dot_lanes(float p[8], size_t k, const float *w, const float *h)
{
    size_t t = 0;
    for (; t + 8 <= k; t += 8) {
        const float *wt = w + t, *ht = h + t;
        for (size_t l = 0; l < 8; l++)
            p[l] += wt[l] * ht[l];
    }
    for (size_t l = 0; t + l < k; l++) /* the tail: lane l gets t + l, as in the loop */
        p[l] += w[t + l] * h[t + l];
}

static inline float ttr__dot_tree(const float p[8])
{
    return ((p[0] + p[4]) + (p[2] + p[6])) + ((p[1] + p[5]) + (p[3] + p[7]));
}

static inline float ttr__dot_fixed(size_t k, const float *w, const float *h)
{
    float p[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    ttr__dot_lanes(p, k, w, h);
    return ttr__dot_tree(p);
}

#endif
