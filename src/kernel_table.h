/* Private: the table of kernel implementations that dispatch fills.
 *
 * Each public kernel in ttr_kernels.h forwards to one entry here. The table
 * starts with the scalar references and is upgraded, in ISA order, by the
 * arch init functions for the detected-and-allowed features. Every
 * implementation of an entry has exactly the signature of its typedef. */
#ifndef TTR_SRC_KERNEL_TABLE_H
#define TTR_SRC_KERNEL_TABLE_H

#include "ttr_kernels.h"

typedef void (*ttr__gemm_f32_fn)(size_t n, size_t m, size_t k, const float *packed,
                                 const float *x, size_t ldx, const float *b,
                                 float *y, size_t ldy, int relu);
typedef void (*ttr__backprop_in_f32_fn)(size_t n, size_t m, size_t k, const float *w, size_t ldw,
                                        const float *dy, size_t lddy, float *dx, size_t lddx,
                                        int accumulate);
typedef void (*ttr__outer_acc_f32_fn)(size_t n, size_t m, size_t k, const float *dy, size_t lddy,
                                      const float *x, size_t ldx, float *dw, size_t lddw);
typedef void (*ttr__quantize_s8_fn)(size_t n, size_t k, const float *x, size_t ldx,
                                    int8_t *q, size_t ldq, float *scale);
typedef void (*ttr__quantize_norm_s8_fn)(size_t n, size_t k, const float *x, size_t ldx,
                                         const float *mean, const float *nscale, int8_t *q,
                                         size_t ldq, float *scale);
typedef void (*ttr__gemm_s8_fn)(size_t n, size_t m, size_t k, const int8_t *packed,
                                const int8_t *q, size_t ldq, const float *xscale,
                                const float *wscale, const float *b, float *y, size_t ldy,
                                int relu);
typedef void (*ttr__gemm_s8_relu_q_fn)(size_t n, size_t m, size_t k, const int8_t *packed,
                                       const int8_t *q, size_t ldq, const float *xscale,
                                       const float *wscale, const float *b, int8_t *qo,
                                       size_t ldqo, float *oscale);
/* The last int8 layer of a model with one output and the f32 output layer:
 * score[i] = ttr__dot_fixed(m, w2, y_i) + b2, y_i being row i of
 * ttr_gemm_s8(..., relu = 1); the same bits as that on every path. */
typedef void (*ttr__gemm_s8_dot_fn)(size_t n, size_t m, size_t k, const int8_t *packed,
                                    const int8_t *q, size_t ldq, const float *xscale,
                                    const float *wscale, const float *b, const float *w2,
                                    float b2, float *score);
typedef void (*ttr__attn_probs_fn)(size_t n, size_t d, const float *q, size_t ldq,
                                   const float *k, size_t ldk, float scale,
                                   const uint8_t *key_mask, float *p, size_t ldp);
typedef void (*ttr__attn_apply_fn)(size_t n, size_t dv, const float *p, size_t ldp,
                                   const float *v, size_t ldv, float *out, size_t ldo);
typedef void (*ttr__attn_apply_bwd_fn)(size_t n, size_t dv_cols, const float *p, size_t ldp,
                                       const float *v, size_t ldv, const float *dout, size_t ldo,
                                       float *dp, size_t lddp, float *dv, size_t lddv);
typedef void (*ttr__attn_probs_bwd_fn)(size_t n, size_t d, const float *q, size_t ldq,
                                       const float *k, size_t ldk, float scale,
                                       const float *p, size_t ldp, float *dp, size_t lddp,
                                       float *dq, size_t lddq, float *dk, size_t lddk);
typedef void (*ttr__vmap_fn)(size_t n, const float *x, float *y);
typedef void (*ttr__relu_bwd_fn)(size_t n, const float *y, const float *dy, float *dx);
typedef void (*ttr__axpy_fn)(size_t n, float a, const float *x, float *y);
typedef void (*ttr__scale_fn)(size_t n, float a, float *x);
typedef float (*ttr__dot_fn)(size_t n, const float *x, const float *y);
typedef void (*ttr__adam_fn)(size_t n, float *w, const float *g, float *m, float *v, float gscale,
                             const ttr_adam_step *s);
typedef void (*ttr__momentum_fn)(size_t n, float *w, const float *g, float *vel, float gscale,
                                 float lr, float momentum);

typedef struct ttr__kernels {
    ttr__gemm_f32_fn gemm_f32;
    ttr__backprop_in_f32_fn backprop_in_f32;
    ttr__outer_acc_f32_fn outer_acc_f32;
    ttr__quantize_s8_fn quantize_s8;
    ttr__gemm_s8_fn gemm_s8;
    ttr__attn_probs_fn attn_probs;
    ttr__attn_apply_fn attn_apply;
    ttr__attn_apply_bwd_fn attn_apply_bwd;
    ttr__attn_probs_bwd_fn attn_probs_bwd;
    ttr__vmap_fn vexp, vsigmoid, vsoftplus;
    ttr__relu_bwd_fn relu_bwd;
    ttr__axpy_fn axpy;
    ttr__scale_fn scale;
    ttr__dot_fn dot;
    ttr__adam_fn adam;
    ttr__momentum_fn momentum;
    ttr__gemm_s8_relu_q_fn gemm_s8_relu_q;
    ttr__quantize_norm_s8_fn quantize_norm_s8;
    ttr__gemm_s8_dot_fn gemm_s8_dot; /* internal: no ttr_kernel_id, follows gemm_s8 */
    /* isa[id]: the path name of the entry for ttr_kernel_id id */
    const char *isa[TTR_K_COUNT];
} ttr__kernels;

/* The active table (detects features on first use). */
const ttr__kernels *ttr__kernels_get(void);

/* Scalar references: also the fallbacks of every path. */
void ttr__gemm_f32_c(size_t n, size_t m, size_t k, const float *packed, const float *x,
                     size_t ldx, const float *b, float *y, size_t ldy, int relu);
void ttr__backprop_in_f32_c(size_t n, size_t m, size_t k, const float *w, size_t ldw,
                            const float *dy, size_t lddy, float *dx, size_t lddx, int accumulate);
void ttr__outer_acc_f32_c(size_t n, size_t m, size_t k, const float *dy, size_t lddy,
                          const float *x, size_t ldx, float *dw, size_t lddw);
/* The quiet NaN (bits 0x7fc00000) that ttr_quantize_s8 stores as the scale
 * of a row holding NaN or Inf. */
float ttr__s8_nan(void);
void ttr__quantize_s8_c(size_t n, size_t k, const float *x, size_t ldx, int8_t *q, size_t ldq,
                        float *scale);
void ttr__quantize_norm_s8_c(size_t n, size_t k, const float *x, size_t ldx, const float *mean,
                             const float *nscale, int8_t *q, size_t ldq, float *scale);
/* ttr_quantize_norm_s8 as normalising rows into a stack buffer, then
 * ttr_quantize_s8 through the active table (the same bits): the fallback of
 * paths without a fused kernel. */
void ttr__quantize_norm_s8_composite(size_t n, size_t k, const float *x, size_t ldx,
                                     const float *mean, const float *nscale, int8_t *q,
                                     size_t ldq, float *scale);
void ttr__gemm_s8_c(size_t n, size_t m, size_t k, const int8_t *packed, const int8_t *q,
                    size_t ldq, const float *xscale, const float *wscale, const float *b,
                    float *y, size_t ldy, int relu);
void ttr__gemm_s8_relu_q_c(size_t n, size_t m, size_t k, const int8_t *packed, const int8_t *q,
                           size_t ldq, const float *xscale, const float *wscale, const float *b,
                           int8_t *qo, size_t ldqo, float *oscale);
/* ttr_gemm_s8_relu_q as ttr_gemm_s8 (ReLU) into a stack buffer, then
 * ttr_quantize_s8, both through the active table: the same bits as the
 * reference on any path whose gemm_s8 and quantize_s8 are bit-exact. The
 * fallback of paths without a fused kernel, and of their wide layers. */
void ttr__gemm_s8_relu_q_composite(size_t n, size_t m, size_t k, const int8_t *packed,
                                   const int8_t *q, size_t ldq, const float *xscale,
                                   const float *wscale, const float *b, int8_t *qo,
                                   size_t ldqo, float *oscale);
/* gemm_s8_dot as ttr_gemm_s8 (ReLU) into a stack buffer, then
 * ttr__dot_fixed per row, through the active table: the fallback of paths
 * without a fused kernel, and of their wide layers. */
void ttr__gemm_s8_dot_composite(size_t n, size_t m, size_t k, const int8_t *packed,
                                const int8_t *q, size_t ldq, const float *xscale,
                                const float *wscale, const float *b, const float *w2, float b2,
                                float *score);
void ttr__attn_probs_c(size_t n, size_t d, const float *q, size_t ldq, const float *k, size_t ldk,
                       float scale, const uint8_t *key_mask, float *p, size_t ldp);
void ttr__attn_apply_c(size_t n, size_t dv, const float *p, size_t ldp, const float *v,
                       size_t ldv, float *out, size_t ldo);
void ttr__attn_apply_bwd_c(size_t n, size_t dv_cols, const float *p, size_t ldp, const float *v,
                           size_t ldv, const float *dout, size_t ldo, float *dp, size_t lddp,
                           float *dv, size_t lddv);
void ttr__attn_probs_bwd_c(size_t n, size_t d, const float *q, size_t ldq, const float *k,
                           size_t ldk, float scale, const float *p, size_t ldp, float *dp,
                           size_t lddp, float *dq, size_t lddq, float *dk, size_t lddk);
void ttr__vexp_c(size_t n, const float *x, float *y);
void ttr__vsigmoid_c(size_t n, const float *x, float *y);
void ttr__vsoftplus_c(size_t n, const float *x, float *y);
void ttr__relu_bwd_c(size_t n, const float *y, const float *dy, float *dx);
void ttr__axpy_c(size_t n, float a, const float *x, float *y);
void ttr__scale_c(size_t n, float a, float *x);
float ttr__dot_c(size_t n, const float *x, const float *y);
void ttr__adam_c(size_t n, float *w, const float *g, float *m, float *v, float gscale,
                 const ttr_adam_step *s);
void ttr__momentum_c(size_t n, float *w, const float *g, float *vel, float gscale, float lr,
                     float momentum);

/* Arch upgrades: each overrides the entries it implements for `flags`
 * (already masked) and records their path names. Defined in arch/. */
#if defined(__x86_64__) || defined(__i386__)
void ttr__kernels_init_x86(ttr__kernels *t, unsigned flags);
#endif
#if defined(__aarch64__) || defined(__arm__)
void ttr__kernels_init_arm(ttr__kernels *t, unsigned flags);
#endif

#endif
