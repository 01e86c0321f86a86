/* PLACEHOLDER: NEON attn kernels not written yet; the scalar entries stay. */
#include "neon_common.h"

void TTR_NEON_FN(ttr__init_attn)(ttr__kernels *t)
{
    (void)t;
}
