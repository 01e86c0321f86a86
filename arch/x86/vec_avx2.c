/* PLACEHOLDER: AVX2 vec kernels not written yet; the scalar entries stay. */
#include "x86_kernels.h"

void ttr__init_vec_avx2(ttr__kernels *t)
{
    (void)t;
}
