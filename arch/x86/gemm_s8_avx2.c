/* PLACEHOLDER: AVX2 gemm_s8 kernels not written yet; the scalar entries stay. */
#include "x86_kernels.h"

void ttr__init_gemm_s8_avx2(ttr__kernels *t)
{
    (void)t;
}
