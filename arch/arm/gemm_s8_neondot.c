/* PLACEHOLDER: dot-product int8 kernel not written yet. */
#include "arm_kernels.h"

void ttr__init_gemm_s8_neondot(ttr__kernels *t)
{
    (void)t;
}
