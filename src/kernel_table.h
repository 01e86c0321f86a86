/* Private: the table of kernel implementations that dispatch fills, all of
 * it generated from the list in kernel_list.h.
 *
 * Each public kernel in ttr_kernels.h forwards to one entry here. The table
 * starts with the scalar references and is upgraded, in ISA order, by one
 * init function per architecture for the detected-and-allowed features
 * (arch/x86/init_x86.c, arch/arm/init_arm.c). */
#ifndef TTR_SRC_KERNEL_TABLE_H
#define TTR_SRC_KERNEL_TABLE_H

#include "ttr_kernels.h"

#include "kernel_list.h"

/* ttr__NAME_fn: the type of every implementation of kernel NAME. */
#define TTR__KERNEL_TYPEDEF(name, id, ret, rk, pub, params, args)                                  \
    typedef ret(*ttr__##name##_fn) params;
TTR__KERNELS(TTR__KERNEL_TYPEDEF)
TTR__INTERNAL_KERNELS(TTR__KERNEL_TYPEDEF)
#undef TTR__KERNEL_TYPEDEF

/* The table: per kernel, the implementation in use and its path name. */
#define TTR__KERNEL_FIELD(name, ...)                                                               \
    ttr__##name##_fn name;                                                                         \
    const char *name##_isa;
typedef struct ttr__kernels {
    TTR__KERNELS(TTR__KERNEL_FIELD)
    TTR__INTERNAL_KERNELS(TTR__KERNEL_FIELD)
} ttr__kernels;
#undef TTR__KERNEL_FIELD

/* Install fn as kernel `name` for path `path` (a string literal such as
 * "avx2"): the pointer and the name it reports always go together. */
#define TTR__SET(t, name, fn, path) ((t)->name = (fn), (t)->name##_isa = (path))

/* The active table (detects features on first use). */
const ttr__kernels *ttr__kernels_get(void);

/* Scalar references (src/ref_*.c): the definition of every kernel, and the
 * fallback of every path. They call no dispatched kernel. */
#define TTR__KERNEL_REF(name, id, ret, rk, pub, params, args) ret ttr__##name##_c params;
TTR__KERNELS(TTR__KERNEL_REF)
#undef TTR__KERNEL_REF
/* The quiet NaN (bits 0x7fc00000) that ttr_quantize_s8 stores as the scale
 * of a row holding NaN or Inf. */
float ttr__s8_nan(void);

/* Composites (src/kernel_composites.c): a fused kernel spelled as its
 * parts through the active table, with the same bits as the reference on
 * every path whose parts are bit-exact. The defaults of paths without a
 * fused kernel (and of the scalar table: one pass where the reference
 * recomputes), and of the fused kernels' wide layers. */
/* ttr_quantize_norm_s8: rows normalised into a stack buffer, then
 * ttr_quantize_s8. */
void ttr__quantize_norm_s8_composite(size_t n, size_t k, const float *x, size_t ldx,
                                     const float *mean, const float *nscale, int8_t *q,
                                     size_t ldq, float *scale);
/* ttr_gemm_s8_relu_q: ttr_gemm_s8 (ReLU) into a stack buffer, then
 * ttr_quantize_s8. */
void ttr__gemm_s8_relu_q_composite(size_t n, size_t m, size_t k, const int8_t *packed,
                                   const int8_t *q, size_t ldq, const float *xscale,
                                   const float *wscale, const float *b, int8_t *qo,
                                   size_t ldqo, float *oscale);
/* gemm_s8_dot: ttr_gemm_s8 (ReLU) into a stack buffer, then ttr__dot_fixed
 * per row. */
void ttr__gemm_s8_dot_composite(size_t n, size_t m, size_t k, const int8_t *packed,
                                const int8_t *q, size_t ldq, const float *xscale,
                                const float *wscale, const float *b, const float *w2, float b2,
                                float *score);

/* Arch upgrades: each overrides the entries it implements for `flags`
 * (already masked) and records their path names. Defined in arch/. */
#if defined(__x86_64__) || defined(__i386__)
void ttr__kernels_init_x86(ttr__kernels *t, unsigned flags);
#endif
#if defined(__aarch64__) || defined(__arm__)
void ttr__kernels_init_arm(ttr__kernels *t, unsigned flags);
#endif

#endif
