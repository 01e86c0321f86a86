/* Private: ttrank's exp on 8 floats (the algorithm of src/vec_exp.h).
 * Include only from files compiled with -mavx2 -mfma. The range reduction
 * uses the same unfused steps as the scalar reference, so n and r match it
 * exactly; only the polynomial is fused. */
#ifndef TTR_ARCH_X86_EXP_AVX2_H
#define TTR_ARCH_X86_EXP_AVX2_H

#include <immintrin.h>

#include "vec_exp.h"

static inline __m256 ttr__exp_avx2(__m256 x)
{
    const __m256 hi = _mm256_set1_ps(TTR_EXP_HI), lo = _mm256_set1_ps(TTR_EXP_LO);
    const __m256 magic = _mm256_set1_ps(TTR_EXP_MAGIC);
    __m256 xc = _mm256_min_ps(_mm256_max_ps(x, lo), hi); /* NaN becomes lo here */
    __m256 n = _mm256_sub_ps(_mm256_add_ps(_mm256_mul_ps(xc, _mm256_set1_ps(TTR_LOG2E)), magic), magic);
    __m256 r = _mm256_sub_ps(xc, _mm256_mul_ps(n, _mm256_set1_ps(TTR_LN2_HI)));
    r = _mm256_sub_ps(r, _mm256_mul_ps(n, _mm256_set1_ps(TTR_LN2_LO)));
    __m256 p = _mm256_set1_ps(TTR_EXP_P5);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(TTR_EXP_P4));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(TTR_EXP_P3));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(TTR_EXP_P2));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(TTR_EXP_P1));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(TTR_EXP_P0));
    __m256 e = _mm256_add_ps(_mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r), _mm256_set1_ps(1.0f));
    /* 2^n = 2^n1 * 2^n2: n reaches 128, whose power is not a float */
    __m256i ni = _mm256_cvtps_epi32(n);
    __m256i n1 = _mm256_srai_epi32(ni, 1);
    __m256i n2 = _mm256_sub_epi32(ni, n1);
    const __m256i bias = _mm256_set1_epi32(127);
    __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
    __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
    __m256 y = _mm256_mul_ps(_mm256_mul_ps(e, s1), s2);
    y = _mm256_blendv_ps(y, _mm256_set1_ps(__builtin_inff()), _mm256_cmp_ps(x, hi, _CMP_GT_OQ));
    y = _mm256_andnot_ps(_mm256_cmp_ps(x, lo, _CMP_LT_OQ), y);
    return _mm256_blendv_ps(y, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
}

#endif
