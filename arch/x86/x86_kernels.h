/* Private: the AVX2 kernel files of arch/x86. Each *_avx2.c file is compiled
 * with -mavx2 -mfma and exports one init function that installs its kernels
 * into the table; init_x86.c calls them only when the CPU has AVX2+FMA. */
#ifndef TTR_ARCH_X86_KERNELS_H
#define TTR_ARCH_X86_KERNELS_H

#include "kernel_table.h"

void ttr__init_gemm_f32_avx2(ttr__kernels *t); /* gemm_f32, backprop_in_f32, outer_acc_f32 */
void ttr__init_gemm_s8_avx2(ttr__kernels *t);  /* quantize_s8, gemm_s8, gemm_s8_relu_q */
void ttr__init_attn_avx2(ttr__kernels *t);     /* attn_probs, attn_apply, attn_apply_bwd, attn_probs_bwd */
void ttr__init_vec_avx2(ttr__kernels *t);      /* vexp, vsigmoid, vsoftplus, relu_bwd, axpy, scale, dot */
void ttr__init_optim_avx2(ttr__kernels *t);    /* adam, momentum */

#endif
