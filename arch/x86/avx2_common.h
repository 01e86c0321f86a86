/* Private: helpers shared by the AVX2 (and AVX-VNNI) kernel files, as
 * neon_common.h is for NEON. Include only from files compiled with -mavx2
 * -mfma. */
#ifndef TTR_ARCH_X86_AVX2_COMMON_H
#define TTR_ARCH_X86_AVX2_COMMON_H

#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

/* Inlined even where the compiler would not: the tile macros rely on it. */
#define TTR_AI static inline __attribute__((always_inline))

/* Lanes [0, n) set, n clamped to [0, 8] (a count of elements left, which
 * may be negative or more than one vector): one unaligned load from a
 * window of 8 set and 8 clear lanes. */
static const int32_t ttr__mask_window[16] = {-1, -1, -1, -1, -1, -1, -1, -1,
                                             0,  0,  0,  0,  0,  0,  0,  0};
static inline __m256i ttr__lane_mask(long n)
{
    long c = n < 0 ? 0 : n > 8 ? 8 : n;
    return _mm256_loadu_si256((const __m256i *)(const void *)(ttr__mask_window + 8 - c));
}

/* Horizontal sum and maximum of 8 floats (pairwise: halves, then pairs). */
static inline float ttr__hsum8(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}

static inline float ttr__hmax8(__m256 v)
{
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}

#endif
