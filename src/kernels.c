/* The kernel table and the public kernel entry points.
 *
 * The table is filled with the scalar references, then each architecture's
 * init upgrades the entries it has for the allowed features (dav1d style:
 * C first, then in ISA order). Public functions forward to the table. */
#include <pthread.h>

#include "cpu.h"
#include "kernel_table.h"

static ttr__kernels g_table;
static pthread_once_t g_table_once = PTHREAD_ONCE_INIT;

static void build_table(void)
{
    static const ttr__kernels scalar = {
        ttr__gemm_f32_c, ttr__backprop_in_f32_c, ttr__outer_acc_f32_c, ttr__quantize_s8_c,
        ttr__gemm_s8_c, ttr__attn_probs_c, ttr__attn_apply_c, ttr__attn_apply_bwd_c,
        ttr__attn_probs_bwd_c, ttr__vexp_c, ttr__vsigmoid_c, ttr__vsoftplus_c, ttr__relu_bwd_c,
        ttr__axpy_c, ttr__scale_c, ttr__dot_c, ttr__adam_c, ttr__momentum_c,
        ttr__gemm_s8_relu_q_composite, ttr__quantize_norm_s8_composite,
        ttr__gemm_s8_dot_composite, {0}};
    ttr__kernels t = scalar;
    for (int i = 0; i < TTR_K_COUNT; i++)
        t.isa[i] = "scalar";
    unsigned flags = ttr_cpu_flags();
#if defined(__x86_64__) || defined(__i386__)
    ttr__kernels_init_x86(&t, flags);
#endif
#if defined(__aarch64__) || defined(__arm__)
    ttr__kernels_init_arm(&t, flags);
#endif
    (void)flags;
    g_table = t;
}

const ttr__kernels *ttr__kernels_get(void)
{
    pthread_once(&g_table_once, build_table);
    return &g_table;
}

void ttr_set_cpu_mask(unsigned mask)
{
    pthread_once(&g_table_once, build_table);
    ttr__cpu_set_mask(mask);
    build_table();
}

const char *ttr_kernel_isa(ttr_kernel_id id)
{
    if ((int)id < 0 || id >= TTR_K_COUNT)
        return NULL;
    return ttr__kernels_get()->isa[id];
}

void ttr_gemm_f32(size_t n, size_t m, size_t k, const float *packed, const float *x, size_t ldx,
                  const float *b, float *y, size_t ldy, int relu)
{
    ttr__kernels_get()->gemm_f32(n, m, k, packed, x, ldx, b, y, ldy, relu);
}

void ttr_gemv_f32(size_t m, size_t k, const float *packed, const float *x, const float *b,
                  float *y, int relu)
{
    ttr__kernels_get()->gemm_f32(1, m, k, packed, x, k, b, y, m, relu);
}

void ttr_backprop_input_f32(size_t n, size_t m, size_t k, const float *w, size_t ldw,
                            const float *dy, size_t lddy, float *dx, size_t lddx, int accumulate)
{
    ttr__kernels_get()->backprop_in_f32(n, m, k, w, ldw, dy, lddy, dx, lddx, accumulate);
}

void ttr_outer_acc_f32(size_t n, size_t m, size_t k, const float *dy, size_t lddy,
                       const float *x, size_t ldx, float *dw, size_t lddw)
{
    ttr__kernels_get()->outer_acc_f32(n, m, k, dy, lddy, x, ldx, dw, lddw);
}

void ttr_quantize_s8(size_t n, size_t k, const float *x, size_t ldx, int8_t *q, size_t ldq,
                     float *scale)
{
    ttr__kernels_get()->quantize_s8(n, k, x, ldx, q, ldq, scale);
}

void ttr_quantize_norm_s8(size_t n, size_t k, const float *x, size_t ldx, const float *mean,
                          const float *nscale, int8_t *q, size_t ldq, float *scale)
{
    ttr__kernels_get()->quantize_norm_s8(n, k, x, ldx, mean, nscale, q, ldq, scale);
}

void ttr_gemm_s8(size_t n, size_t m, size_t k, const int8_t *packed, const int8_t *q, size_t ldq,
                 const float *xscale, const float *wscale, const float *b, float *y, size_t ldy,
                 int relu)
{
    ttr__kernels_get()->gemm_s8(n, m, k, packed, q, ldq, xscale, wscale, b, y, ldy, relu);
}

void ttr_gemv_s8(size_t m, size_t k, const int8_t *packed, const int8_t *q, float xscale,
                 const float *wscale, const float *b, float *y, int relu)
{
    ttr__kernels_get()->gemm_s8(1, m, k, packed, q, TTR_S8_KPAD(k), &xscale, wscale, b, y, m,
                                relu);
}

void ttr_gemm_s8_relu_q(size_t n, size_t m, size_t k, const int8_t *packed, const int8_t *q,
                        size_t ldq, const float *xscale, const float *wscale, const float *b,
                        int8_t *qo, size_t ldqo, float *oscale)
{
    ttr__kernels_get()->gemm_s8_relu_q(n, m, k, packed, q, ldq, xscale, wscale, b, qo, ldqo,
                                       oscale);
}

void ttr_attn_probs_f32(size_t n, size_t d, const float *q, size_t ldq, const float *k,
                        size_t ldk, float scale, const uint8_t *key_mask, float *p, size_t ldp)
{
    ttr__kernels_get()->attn_probs(n, d, q, ldq, k, ldk, scale, key_mask, p, ldp);
}

void ttr_attn_apply_f32(size_t n, size_t dv, const float *p, size_t ldp, const float *v,
                        size_t ldv, float *out, size_t ldo)
{
    ttr__kernels_get()->attn_apply(n, dv, p, ldp, v, ldv, out, ldo);
}

void ttr_attn_apply_bwd_f32(size_t n, size_t dv_cols, const float *p, size_t ldp, const float *v,
                            size_t ldv, const float *dout, size_t ldo, float *dp, size_t lddp,
                            float *dv, size_t lddv)
{
    ttr__kernels_get()->attn_apply_bwd(n, dv_cols, p, ldp, v, ldv, dout, ldo, dp, lddp, dv, lddv);
}

void ttr_attn_probs_bwd_f32(size_t n, size_t d, const float *q, size_t ldq, const float *k,
                            size_t ldk, float scale, const float *p, size_t ldp, float *dp,
                            size_t lddp, float *dq, size_t lddq, float *dk, size_t lddk)
{
    ttr__kernels_get()->attn_probs_bwd(n, d, q, ldq, k, ldk, scale, p, ldp, dp, lddp, dq, lddq,
                                       dk, lddk);
}

void ttr_vexp_f32(size_t n, const float *x, float *y)
{
    ttr__kernels_get()->vexp(n, x, y);
}

void ttr_vsigmoid_f32(size_t n, const float *x, float *y)
{
    ttr__kernels_get()->vsigmoid(n, x, y);
}

void ttr_vsoftplus_f32(size_t n, const float *x, float *y)
{
    ttr__kernels_get()->vsoftplus(n, x, y);
}

void ttr_relu_bwd_f32(size_t n, const float *y, const float *dy, float *dx)
{
    ttr__kernels_get()->relu_bwd(n, y, dy, dx);
}

void ttr_axpy_f32(size_t n, float a, const float *x, float *y)
{
    ttr__kernels_get()->axpy(n, a, x, y);
}

void ttr_scale_f32(size_t n, float a, float *x)
{
    ttr__kernels_get()->scale(n, a, x);
}

float ttr_dot_f32(size_t n, const float *x, const float *y)
{
    return ttr__kernels_get()->dot(n, x, y);
}

void ttr_adam_f32(size_t n, float *w, const float *g, float *m, float *v, float gscale,
                  const ttr_adam_step *s)
{
    ttr__kernels_get()->adam(n, w, g, m, v, gscale, s);
}

void ttr_momentum_f32(size_t n, float *w, const float *g, float *vel, float gscale, float lr,
                      float momentum)
{
    ttr__kernels_get()->momentum(n, w, g, vel, gscale, lr, momentum);
}
