/* Private: the NEON kernel files of arch/arm.
 *
 * The float kernel files (gemm_f32, attn, vec: NEON_FMA_SRCS in the
 * Makefile) are compiled twice: with TTR_NEON_FMA=0 (plain NEON, multiply
 * then add: armv7 Cortex-A8/A9 without VFPv4) and TTR_NEON_FMA=1 (fused
 * vfma: every aarch64 core, armv7 with VFPv4); TTR_NEON_FN() gives the two
 * builds distinct symbol names. The int8 and optimizer files are compiled
 * once (TTR_NEON_FMA=0: they have no fused float operation to choose).
 * *_neondot.c files (aarch64 only) are compiled with the dot-product
 * extension. init_arm.c installs them in ISA order. */
#ifndef TTR_ARCH_ARM_KERNELS_H
#define TTR_ARCH_ARM_KERNELS_H

#include "kernel_table.h"

void ttr__init_gemm_f32_neon(ttr__kernels *t);    /* gemm_f32, backprop_in_f32, outer_acc_f32 */
void ttr__init_gemm_f32_neonfma(ttr__kernels *t);
void ttr__init_attn_neon(ttr__kernels *t);        /* the four attention entries */
void ttr__init_attn_neonfma(ttr__kernels *t);
void ttr__init_vec_neon(ttr__kernels *t);         /* vexp .. dot */
void ttr__init_vec_neonfma(ttr__kernels *t);
void ttr__init_optim_neon(ttr__kernels *t);       /* adam, momentum */
void ttr__init_gemm_s8_neon(ttr__kernels *t);     /* quantize_s8, gemm_s8 (widening multiply-accumulate) */
void ttr__init_gemm_s8_neondot(ttr__kernels *t);  /* gemm_s8 with SDOT (aarch64) */

#endif
