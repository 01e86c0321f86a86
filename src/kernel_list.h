/* Private: every dispatched kernel, declared once. Everything else about a
 * kernel is generated from this list: its function-pointer type
 * (ttr__NAME_fn), its scalar reference's declaration (ttr__NAME_c), its
 * field and path name in the table (NAME, NAME_isa), the public function
 * of ttr_kernels.h that forwards to it, and its case in ttr_kernel_isa.
 *
 *   X(name, id, ret, return-or-nothing, public function, (params), (args))
 *
 * The public prototypes in ttr_kernels.h are the documented API; a
 * forwarder generated here that disagrees with one does not compile. */
#ifndef TTR_SRC_KERNEL_LIST_H
#define TTR_SRC_KERNEL_LIST_H

#define TTR__KERNELS(X)                                                                           \
    X(gemm_f32, TTR_K_GEMM_F32, void, , ttr_gemm_f32,                                             \
      (size_t n, size_t m, size_t k, const float *packed, const float *x, size_t ldx,             \
       const float *b, float *y, size_t ldy, int relu),                                           \
      (n, m, k, packed, x, ldx, b, y, ldy, relu))                                                 \
    X(backprop_in_f32, TTR_K_BACKPROP_IN_F32, void, , ttr_backprop_input_f32,                     \
      (size_t n, size_t m, size_t k, const float *w, size_t ldw, const float *dy, size_t lddy,    \
       float *dx, size_t lddx, int accumulate),                                                   \
      (n, m, k, w, ldw, dy, lddy, dx, lddx, accumulate))                                          \
    X(outer_acc_f32, TTR_K_OUTER_ACC_F32, void, , ttr_outer_acc_f32,                              \
      (size_t n, size_t m, size_t k, const float *dy, size_t lddy, const float *x, size_t ldx,    \
       float *dw, size_t lddw),                                                                   \
      (n, m, k, dy, lddy, x, ldx, dw, lddw))                                                      \
    X(quantize_s8, TTR_K_QUANTIZE_S8, void, , ttr_quantize_s8,                                    \
      (size_t n, size_t k, const float *x, size_t ldx, int8_t *q, size_t ldq, float *scale),      \
      (n, k, x, ldx, q, ldq, scale))                                                              \
    X(quantize_norm_s8, TTR_K_QUANTIZE_NORM_S8, void, , ttr_quantize_norm_s8,                     \
      (size_t n, size_t k, const float *x, size_t ldx, const float *mean, const float *nscale,    \
       int8_t *q, size_t ldq, float *scale),                                                      \
      (n, k, x, ldx, mean, nscale, q, ldq, scale))                                                \
    X(gemm_s8, TTR_K_GEMM_S8, void, , ttr_gemm_s8,                                                \
      (size_t n, size_t m, size_t k, const int8_t *packed, const int8_t *q, size_t ldq,           \
       const float *xscale, const float *wscale, const float *b, float *y, size_t ldy,            \
       int relu),                                                                                 \
      (n, m, k, packed, q, ldq, xscale, wscale, b, y, ldy, relu))                                 \
    X(gemm_s8_relu_q, TTR_K_GEMM_S8_RELU_Q, void, , ttr_gemm_s8_relu_q,                           \
      (size_t n, size_t m, size_t k, const int8_t *packed, const int8_t *q, size_t ldq,           \
       const float *xscale, const float *wscale, const float *b, int8_t *qo, size_t ldqo,         \
       float *oscale),                                                                            \
      (n, m, k, packed, q, ldq, xscale, wscale, b, qo, ldqo, oscale))                             \
    X(attn_probs, TTR_K_ATTN_PROBS, void, , ttr_attn_probs_f32,                                   \
      (size_t n, size_t d, const float *q, size_t ldq, const float *k, size_t ldk, float scale,   \
       const uint8_t *key_mask, float *p, size_t ldp),                                            \
      (n, d, q, ldq, k, ldk, scale, key_mask, p, ldp))                                            \
    X(attn_apply, TTR_K_ATTN_APPLY, void, , ttr_attn_apply_f32,                                   \
      (size_t n, size_t dv, const float *p, size_t ldp, const float *v, size_t ldv, float *out,   \
       size_t ldo),                                                                               \
      (n, dv, p, ldp, v, ldv, out, ldo))                                                          \
    X(attn_apply_bwd, TTR_K_ATTN_APPLY_BWD, void, , ttr_attn_apply_bwd_f32,                       \
      (size_t n, size_t dv_cols, const float *p, size_t ldp, const float *v, size_t ldv,          \
       const float *dout, size_t ldo, float *dp, size_t lddp, float *dv, size_t lddv),            \
      (n, dv_cols, p, ldp, v, ldv, dout, ldo, dp, lddp, dv, lddv))                                \
    X(attn_probs_bwd, TTR_K_ATTN_PROBS_BWD, void, , ttr_attn_probs_bwd_f32,                       \
      (size_t n, size_t d, const float *q, size_t ldq, const float *k, size_t ldk, float scale,   \
       const float *p, size_t ldp, float *dp, size_t lddp, float *dq, size_t lddq, float *dk,     \
       size_t lddk),                                                                              \
      (n, d, q, ldq, k, ldk, scale, p, ldp, dp, lddp, dq, lddq, dk, lddk))                        \
    X(vexp, TTR_K_VEXP, void, , ttr_vexp_f32,                                                     \
      (size_t n, const float *x, float *y),                                                       \
      (n, x, y))                                                                                  \
    X(vsigmoid, TTR_K_VSIGMOID, void, , ttr_vsigmoid_f32,                                         \
      (size_t n, const float *x, float *y),                                                       \
      (n, x, y))                                                                                  \
    X(vsoftplus, TTR_K_VSOFTPLUS, void, , ttr_vsoftplus_f32,                                      \
      (size_t n, const float *x, float *y),                                                       \
      (n, x, y))                                                                                  \
    X(relu_bwd, TTR_K_RELU_BWD, void, , ttr_relu_bwd_f32,                                         \
      (size_t n, const float *y, const float *dy, float *dx),                                     \
      (n, y, dy, dx))                                                                             \
    X(axpy, TTR_K_AXPY, void, , ttr_axpy_f32,                                                     \
      (size_t n, float a, const float *x, float *y),                                              \
      (n, a, x, y))                                                                               \
    X(scale, TTR_K_SCALE, void, , ttr_scale_f32,                                                  \
      (size_t n, float a, float *x),                                                              \
      (n, a, x))                                                                                  \
    X(dot, TTR_K_DOT, float, return, ttr_dot_f32,                                                 \
      (size_t n, const float *x, const float *y),                                                 \
      (n, x, y))                                                                                  \
    X(adam, TTR_K_ADAM, void, , ttr_adam_f32,                                                     \
      (size_t n, float *w, const float *g, float *m, float *v, float gscale,                      \
       const ttr_adam_step *s),                                                                   \
      (n, w, g, m, v, gscale, s))                                                                 \
    X(momentum, TTR_K_MOMENTUM, void, , ttr_momentum_f32,                                         \
      (size_t n, float *w, const float *g, float *vel, float gscale, float lr, float momentum),   \
      (n, w, g, vel, gscale, lr, momentum))

/* Kernels without a public function or ttr_kernel_id (internal fusions). */
/* gemm_s8_dot: the last int8 layer of a model with one output and the f32
 * output layer, score[i] = ttr__dot_fixed(m, w2, y_i) + b2 with y_i row i
 * of ttr_gemm_s8(..., relu = 1); the same bits as that on every path. */
#define TTR__INTERNAL_KERNELS(X)                                                                  \
    X(gemm_s8_dot, -1, void, , -,                                                                 \
      (size_t n, size_t m, size_t k, const int8_t *packed, const int8_t *q, size_t ldq,           \
       const float *xscale, const float *wscale, const float *b, const float *w2, float b2,       \
       float *score),                                                                             \
      (n, m, k, packed, q, ldq, xscale, wscale, b, w2, b2, score))

#endif
