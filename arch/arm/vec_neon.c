/* PLACEHOLDER: NEON vec kernels not written yet; the scalar entries stay. */
#include "neon_common.h"

void TTR_NEON_FN(ttr__init_vec)(ttr__kernels *t)
{
    (void)t;
}
