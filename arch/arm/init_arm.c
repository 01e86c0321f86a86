/* ARM dispatch: upgrade the scalar table to NEON (fused or not) and, on
 * aarch64, to the dot-product int8 kernel. Compiled for the baseline. */
#include "arm_kernels.h"

void ttr__kernels_init_arm(ttr__kernels *t, unsigned flags)
{
    if (!(flags & TTR_CPU_NEON))
        return;
    if (flags & TTR_CPU_NEON_FMA) {
        ttr__init_gemm_f32_neonfma(t);
        ttr__init_attn_neonfma(t);
        ttr__init_vec_neonfma(t);
    } else {
        ttr__init_gemm_f32_neon(t);
        ttr__init_attn_neon(t);
        ttr__init_vec_neon(t);
    }
    ttr__init_gemm_s8_neon(t);
    ttr__init_optim_neon(t);
#if defined(__aarch64__)
    if (flags & TTR_CPU_NEON_DOT)
        ttr__init_gemm_s8_neondot(t);
#endif
    /* Normalising quantization: scalar normalisation into a stack buffer,
     * then the NEON quantize_s8 (armv7 NEON flushes subnormals, so the
     * normalisation itself must stay IEEE scalar code). */
    TTR__SET(t, quantize_norm_s8, ttr__quantize_norm_s8_composite, t->quantize_s8_isa);
}
