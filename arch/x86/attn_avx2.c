/* PLACEHOLDER: AVX2 attn kernels not written yet; the scalar entries stay. */
#include "x86_kernels.h"

void ttr__init_attn_avx2(ttr__kernels *t)
{
    (void)t;
}
