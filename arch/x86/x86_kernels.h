/* Private: the kernel files of arch/x86. Each *_avx2.c file is compiled
 * with -mavx2 -mfma, each *_avxvnni.c file with -mavx2 -mfma -mavxvnni; each
 * exports one init function that installs its kernels into the table.
 * init_x86.c calls the AVX2 ones only when the CPU has AVX2+FMA, and the
 * AVX-VNNI ones after them, only when it also has AVX-VNNI. */
#ifndef TTR_ARCH_X86_KERNELS_H
#define TTR_ARCH_X86_KERNELS_H

#include "kernel_table.h"

void ttr__init_gemm_f32_avx2(ttr__kernels *t); /* gemm_f32, backprop_in_f32, outer_acc_f32 */
void ttr__init_gemm_s8_avx2(ttr__kernels *t);  /* quantize_s8, gemm_s8, gemm_s8_relu_q */
void ttr__init_attn_avx2(ttr__kernels *t);     /* attn_probs, attn_apply, attn_apply_bwd, attn_probs_bwd */
void ttr__init_vec_avx2(ttr__kernels *t);      /* vexp, vsigmoid, vsoftplus, relu_bwd, axpy, scale, dot */
void ttr__init_optim_avx2(ttr__kernels *t);    /* adam, momentum */
void ttr__init_gemm_s8_avxvnni(ttr__kernels *t); /* gemm_s8, gemm_s8_relu_q */

/* Row-major product on the dense-layer tiles of gemm_f32_avx2.c, shared
 * with the attention kernels: C (rows x cols, ldc) = A B (TTR__MM_SET),
 * += A B (TTR__MM_ADD) or += alpha A B (TTR__MM_AXPY), with A(r, s) =
 * a[r * rs_a + s * cs_a] (s < ns, so A or A^T in place) and B ns x cols
 * (ldb). Columns past `cols` are neither read as output nor written. */
typedef enum ttr__mm_mode { TTR__MM_SET, TTR__MM_ADD, TTR__MM_AXPY } ttr__mm_mode;
void ttr__avx2_matmul(size_t rows, size_t cols, size_t ns, const float *a, size_t rs_a,
                      size_t cs_a, const float *b, size_t ldb, float *c, size_t ldc,
                      ttr__mm_mode mode, float alpha);

/* The AVX2 ttr_quantize_s8, also used by the AVX-VNNI ttr_gemm_s8_relu_q of
 * wide layers. */
void ttr__quantize_s8_avx2(size_t n, size_t k, const float *x, size_t ldx, int8_t *q, size_t ldq,
                           float *scale);

#endif
