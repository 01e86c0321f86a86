/* x86 dispatch: upgrade the scalar table to AVX2, then the int8 layer
 * kernels to AVX-VNNI. Compiled for the baseline (no ISA flags): it only
 * stores function pointers. */
#include "x86_kernels.h"

void ttr__kernels_init_x86(ttr__kernels *t, unsigned flags)
{
    if (!(flags & TTR_CPU_AVX2))
        return;
    ttr__init_gemm_f32_avx2(t);
    ttr__init_gemm_s8_avx2(t);
    ttr__init_attn_avx2(t);
    ttr__init_vec_avx2(t);
    ttr__init_optim_avx2(t);
    if (flags & TTR_CPU_AVXVNNI)
        ttr__init_gemm_s8_avxvnni(t);
}
