/* AVX2+FMA element-wise helpers: exp, sigmoid, softplus, ReLU backward,
 * axpy, scale, dot. Main loops work on 8 (or 32) floats; tails use masked
 * loads and stores, so nothing outside [0, n) is read or written. Every
 * element-wise kernel loads a block before storing it, so y may alias x. */
#include <immintrin.h>

#include "avx2_common.h"
#include "exp_avx2.h"
#include "x86_kernels.h"

/* log(1 + u) for u in [0, 1] (and NaN -> NaN).
 * w = 1 + u is rounded; c = (u - (w - 1)) / w restores the lost low part
 * (log1p(u) = log(w) + log(1 + (u - (w-1))/w), the second term ~ c).
 * log(w) = e ln2 + log(m), m = w or w/2 in [sqrt(1/2), sqrt(2)],
 * log(m) = 2 atanh(f), f = (m - 1)/(m + 1), |f| <= 0.1716, by the odd series
 * up to f^11 (truncation < 3e-10). Absolute error about 1e-7 (a few ulp of
 * results <= ln 2), far inside the 2e-6 the contract allows. */
static inline __m256 log1p_01_avx2(__m256 u)
{
    const __m256 one = _mm256_set1_ps(1.0f);
    __m256 w = _mm256_add_ps(one, u);
    __m256 c = _mm256_div_ps(_mm256_sub_ps(u, _mm256_sub_ps(w, one)), w);
    __m256 big = _mm256_cmp_ps(w, _mm256_set1_ps(1.41421356f), _CMP_GE_OQ);
    __m256 m = _mm256_blendv_ps(w, _mm256_mul_ps(w, _mm256_set1_ps(0.5f)), big);
    __m256 e = _mm256_and_ps(big, _mm256_set1_ps(0.693147180559945f));
    __m256 f = _mm256_div_ps(_mm256_sub_ps(m, one), _mm256_add_ps(m, one));
    __m256 f2 = _mm256_mul_ps(f, f);
    __m256 p = _mm256_set1_ps(2.0f / 11.0f);
    p = _mm256_fmadd_ps(p, f2, _mm256_set1_ps(2.0f / 9.0f));
    p = _mm256_fmadd_ps(p, f2, _mm256_set1_ps(2.0f / 7.0f));
    p = _mm256_fmadd_ps(p, f2, _mm256_set1_ps(2.0f / 5.0f));
    p = _mm256_fmadd_ps(p, f2, _mm256_set1_ps(2.0f / 3.0f));
    __m256 lm = _mm256_fmadd_ps(_mm256_mul_ps(p, f2), f, _mm256_add_ps(f, f));
    return _mm256_add_ps(_mm256_add_ps(e, c), lm);
}

static inline __m256 sigmoid8(__m256 x)
{
    const __m256 one = _mm256_set1_ps(1.0f);
    __m256 e = ttr__exp_avx2(_mm256_xor_ps(x, _mm256_set1_ps(-0.0f)));
    return _mm256_div_ps(one, _mm256_add_ps(one, e));
}

static inline __m256 softplus8(__m256 x)
{
    const __m256 zero = _mm256_setzero_ps();
    __m256 negabs = _mm256_or_ps(x, _mm256_set1_ps(-0.0f)); /* -|x| */
    __m256 l = log1p_01_avx2(ttr__exp_avx2(negabs));
    /* max(x, 0) with NaN going to 0 (then NaN + l = NaN from l) */
    __m256 pos = _mm256_max_ps(x, zero);
    __m256 y = _mm256_add_ps(pos, l);
    return _mm256_blendv_ps(y, x, _mm256_cmp_ps(x, _mm256_set1_ps(30.0f), _CMP_GT_OQ));
}

#define TTR_VMAP(name, op)                                                                   \
    static void name(size_t n, const float *x, float *y)                                    \
    {                                                                                        \
        size_t i = 0;                                                                        \
        for (; i + 8 <= n; i += 8)                                                           \
            _mm256_storeu_ps(y + i, op(_mm256_loadu_ps(x + i)));                            \
        if (i < n) {                                                                         \
            __m256i mk = ttr__lane_mask((long)n - i);                                                   \
            _mm256_maskstore_ps(y + i, mk, op(_mm256_maskload_ps(x + i, mk)));              \
        }                                                                                    \
    }
TTR_VMAP(vexp_avx2, ttr__exp_avx2)
TTR_VMAP(vsigmoid_avx2, sigmoid8)
TTR_VMAP(vsoftplus_avx2, softplus8)
#undef TTR_VMAP

static void relu_bwd_avx2(size_t n, const float *y, const float *dy, float *dx)
{
    const __m256 zero = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 keep = _mm256_cmp_ps(_mm256_loadu_ps(y + i), zero, _CMP_GT_OQ);
        _mm256_storeu_ps(dx + i, _mm256_and_ps(keep, _mm256_loadu_ps(dy + i)));
    }
    if (i < n) {
        __m256i mk = ttr__lane_mask((long)n - i);
        __m256 keep = _mm256_cmp_ps(_mm256_maskload_ps(y + i, mk), zero, _CMP_GT_OQ);
        _mm256_maskstore_ps(dx + i, mk, _mm256_and_ps(keep, _mm256_maskload_ps(dy + i, mk)));
    }
}

static void axpy_avx2(size_t n, float a, const float *x, float *y)
{
    const __m256 va = _mm256_set1_ps(a);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 y0 = _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i));
        __m256 y1 = _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8));
        _mm256_storeu_ps(y + i, y0);
        _mm256_storeu_ps(y + i + 8, y1);
    }
    for (; i < n; i += 8) {
        size_t r = n - i < 8 ? n - i : 8;
        __m256i mk = ttr__lane_mask((long)r);
        __m256 v = _mm256_fmadd_ps(va, _mm256_maskload_ps(x + i, mk), _mm256_maskload_ps(y + i, mk));
        _mm256_maskstore_ps(y + i, mk, v);
    }
}

static void scale_avx2(size_t n, float a, float *x)
{
    const __m256 va = _mm256_set1_ps(a);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 x0 = _mm256_mul_ps(_mm256_loadu_ps(x + i), va);
        __m256 x1 = _mm256_mul_ps(_mm256_loadu_ps(x + i + 8), va);
        _mm256_storeu_ps(x + i, x0);
        _mm256_storeu_ps(x + i + 8, x1);
    }
    for (; i < n; i += 8) {
        size_t r = n - i < 8 ? n - i : 8;
        __m256i mk = ttr__lane_mask((long)r);
        _mm256_maskstore_ps(x + i, mk, _mm256_mul_ps(_mm256_maskload_ps(x + i, mk), va));
    }
}

/* Four independent accumulators (32 floats per step) hide the FMA latency. */
static float dot_avx2(size_t n, const float *x, const float *y)
{
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    __m256 a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8), a1);
        a2 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 16), _mm256_loadu_ps(y + i + 16), a2);
        a3 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 24), _mm256_loadu_ps(y + i + 24), a3);
    }
    for (; i + 8 <= n; i += 8)
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), a0);
    if (i < n) {
        __m256i mk = ttr__lane_mask((long)n - i);
        a1 = _mm256_fmadd_ps(_mm256_maskload_ps(x + i, mk), _mm256_maskload_ps(y + i, mk), a1);
    }
    __m256 s = _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3));
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_movehdup_ps(h));
    return _mm_cvtss_f32(h);
}

void ttr__init_vec_avx2(ttr__kernels *t)
{
    TTR__SET(t, vexp, vexp_avx2, "avx2");
    TTR__SET(t, vsigmoid, vsigmoid_avx2, "avx2");
    TTR__SET(t, vsoftplus, vsoftplus_avx2, "avx2");
    TTR__SET(t, relu_bwd, relu_bwd_avx2, "avx2");
    TTR__SET(t, axpy, axpy_avx2, "avx2");
    TTR__SET(t, scale, scale_avx2, "avx2");
    TTR__SET(t, dot, dot_avx2, "avx2");
}
