/* PLACEHOLDER: AVX2 gemm_f32 kernels not written yet; the scalar entries stay. */
#include "x86_kernels.h"

void ttr__init_gemm_f32_avx2(ttr__kernels *t)
{
    (void)t;
}
