/* AVX2 optimizer updates. The arithmetic is the reference's, operation for
 * operation and unfused (division and square root are correctly rounded in
 * AVX too), so results equal the scalar path; only the tail is masked. */
#include <immintrin.h>

#include "avx2_common.h"
#include "x86_kernels.h"

/* Lanes below TTR_OPT_FLUSH in magnitude become +0. */
static inline __m256 flush_tiny(__m256 x)
{
    const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    __m256 keep = _mm256_cmp_ps(_mm256_and_ps(x, abs_mask), _mm256_set1_ps(TTR_OPT_FLUSH),
                                _CMP_GE_OQ);
    return _mm256_and_ps(x, keep);
}

static void adam_avx2(size_t n, float *w, const float *g, float *m, float *v, float gscale,
                      const ttr_adam_step *s)
{
    const __m256 b1 = _mm256_set1_ps(s->beta1), b2 = _mm256_set1_ps(s->beta2);
    const __m256 c1 = _mm256_set1_ps(1.0f - s->beta1), c2 = _mm256_set1_ps(1.0f - s->beta2);
    const __m256 lr = _mm256_set1_ps(s->lr_t), eps = _mm256_set1_ps(s->eps_t);
    const __m256 gsc = _mm256_set1_ps(gscale);
    for (size_t i = 0; i < n; i += 8) {
        __m256i mask = ttr__lane_mask((long)n - i < 8 ? n - i : 8);
        __m256 gs = _mm256_mul_ps(_mm256_maskload_ps(g + i, mask), gsc);
        __m256 mi = _mm256_add_ps(_mm256_mul_ps(b1, _mm256_maskload_ps(m + i, mask)),
                                  _mm256_mul_ps(c1, gs));
        __m256 vi = _mm256_add_ps(_mm256_mul_ps(b2, _mm256_maskload_ps(v + i, mask)),
                                  _mm256_mul_ps(c2, _mm256_mul_ps(gs, gs)));
        mi = flush_tiny(mi);
        vi = flush_tiny(vi);
        __m256 den = _mm256_add_ps(_mm256_sqrt_ps(vi), eps);
        __m256 step = _mm256_div_ps(_mm256_mul_ps(lr, mi), den);
        _mm256_maskstore_ps(m + i, mask, mi);
        _mm256_maskstore_ps(v + i, mask, vi);
        _mm256_maskstore_ps(w + i, mask, _mm256_sub_ps(_mm256_maskload_ps(w + i, mask), step));
    }
}

static void momentum_avx2(size_t n, float *w, const float *g, float *vel, float gscale, float lr,
                          float momentum)
{
    const __m256 mom = _mm256_set1_ps(momentum), gsc = _mm256_set1_ps(gscale);
    const __m256 lrv = _mm256_set1_ps(lr);
    for (size_t i = 0; i < n; i += 8) {
        __m256i mask = ttr__lane_mask((long)n - i < 8 ? n - i : 8);
        __m256 vi = _mm256_add_ps(_mm256_mul_ps(mom, _mm256_maskload_ps(vel + i, mask)),
                                  _mm256_mul_ps(_mm256_maskload_ps(g + i, mask), gsc));
        vi = flush_tiny(vi);
        _mm256_maskstore_ps(vel + i, mask, vi);
        _mm256_maskstore_ps(w + i, mask,
                            _mm256_sub_ps(_mm256_maskload_ps(w + i, mask), _mm256_mul_ps(lrv, vi)));
    }
}

void ttr__init_optim_avx2(ttr__kernels *t)
{
    TTR__SET(t, adam, adam_avx2, "avx2");
    TTR__SET(t, momentum, momentum_avx2, "avx2");
}
