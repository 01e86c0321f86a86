/* Private: constants of ttrank's exp, shared by the scalar reference and the
 * vector paths (arch/ files include this header too).
 *
 * exp(x) = 2^n * e^r with n = round(x log2 e), r = x - n ln2 (ln2 split in a
 * high part exact in float and a low correction), e^r ~= 1 + r + r^2 P(r)
 * with the degree-5 minimax P of Cephes' expf; |r| <= ln2/2. Relative error
 * about 2 ulp. The result is scaled by 2^n in two steps because n reaches
 * 128. Inputs below TTR_EXP_LO would give denormals: they return 0. */
#ifndef TTR_SRC_VEC_EXP_H
#define TTR_SRC_VEC_EXP_H

#include <stdint.h>
#include <string.h>

#define TTR_EXP_HI 88.72283172607421875f  /* largest x with exp(x) < FLT_MAX */
#define TTR_EXP_LO (-87.33654022216796875f) /* exp(x) >= FLT_MIN above this */
#define TTR_LOG2E 1.44269502162933349609375f
#define TTR_EXP_MAGIC 12582912.0f /* 1.5 * 2^23: float add rounds to an integer */
#define TTR_LN2_HI 0.693359375f
#define TTR_LN2_LO (-2.12194440e-4f)
#define TTR_EXP_P5 1.9875691500e-4f
#define TTR_EXP_P4 1.3981999507e-3f
#define TTR_EXP_P3 8.3334519073e-3f
#define TTR_EXP_P2 4.1665795894e-2f
#define TTR_EXP_P1 1.6666665459e-1f
#define TTR_EXP_P0 5.0000001201e-1f

/* 2^n for n in [-126, 127], built from its exponent bits. */
static inline float ttr__pow2i(int n)
{
    uint32_t bits = (uint32_t)(n + 127) << 23;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* Scalar exp with exactly the algorithm above (ref_vec.c). */
float ttr__expf(float x);

#endif
