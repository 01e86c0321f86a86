/* PLACEHOLDER: NEON gemm_f32 kernels not written yet; the scalar entries stay. */
#include "neon_common.h"

void TTR_NEON_FN(ttr__init_gemm_f32)(ttr__kernels *t)
{
    (void)t;
}
