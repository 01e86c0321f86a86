/* PLACEHOLDER: NEON gemm_s8 kernels not written yet; the scalar entries stay. */
#include "neon_common.h"

void TTR_NEON_FN(ttr__init_gemm_s8)(ttr__kernels *t)
{
    (void)t;
}
