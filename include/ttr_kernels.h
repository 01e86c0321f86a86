/* ttrank — numeric kernels and CPU dispatch.
 *
 * These are the hot loops of the towers and of the attention layer. They are
 * public so that users can call them, test them and benchmark them on their
 * own chips. Each kernel has a portable scalar C reference and, where it
 * pays, AVX2+FMA (x86-64), AVX-VNNI (int8 layers, x86-64), NEON (aarch64,
 * armv7 with and without VFPv4) and NEON dot-product (int8, aarch64)
 * implementations. The implementation is
 * chosen at run time from the detected CPU features, intersected with a mask
 * (ttr_set_cpu_mask() or the TTR_CPU_MASK environment variable).
 *
 * Conventions for every kernel below:
 * - Matrices are row-major with an explicit leading dimension (row stride,
 *   in elements, >= the row length). Sizes and strides are size_t.
 * - No alignment is required of any pointer (aligned data is faster).
 * - Outputs must not overlap inputs unless the function says so.
 * - Kernels never allocate, never fail and never write outside the output
 *   ranges documented for them; their preconditions (non-NULL pointers for
 *   non-empty ranges, strides large enough) are the caller's to keep.
 * - Any size may be 0: the call then writes nothing (or zeros, as stated).
 * - Float results of a vector path agree with the scalar reference within
 *   the tolerance stated per kernel (summation order and fused multiply-add
 *   differ); integer results, and the int8 GEMV's float output, are
 *   bit-exact on every path.
 */
#ifndef TTR_KERNELS_H
#define TTR_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "ttr_error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------
 * CPU features and dispatch
 * ------------------------------------------------------------------------ */

/* Feature bits. A path is used only if all of its bits are detected and
 * allowed by the mask. */
#define TTR_CPU_AVX2     (1u << 0)  /* x86-64: AVX2 and FMA3, with YMM state saved by the OS */
#define TTR_CPU_AVXVNNI  (1u << 1)  /* x86-64: AVX-VNNI (VEX vpdpbusd), detected only with TTR_CPU_AVX2;
                                     * its int8 kernels need both bits (Alder Lake and later
                                     * client cores, Sapphire Rapids and later Xeons) */
#define TTR_CPU_NEON     (1u << 8)  /* ARM: Advanced SIMD (armv7 NEON or aarch64 ASIMD) */
#define TTR_CPU_NEON_FMA (1u << 9)  /* ARM: fused NEON multiply-add (always on aarch64; VFPv4 on armv7) */
#define TTR_CPU_NEON_DOT (1u << 10) /* aarch64: SDOT/UDOT (ASIMDDP, Armv8.2 dot product) */
#define TTR_CPU_ALL      0xffffffffu

/* Features of this CPU, detected once (thread-safe) and not masked.
 * x86: CPUID + XGETBV; ARM: getauxval(AT_HWCAP). 0 on other CPUs. */
TTR_API unsigned ttr_cpu_detected(void);

/* Detected features intersected with the current mask: what the kernels use. */
TTR_API unsigned ttr_cpu_flags(void);

/* Restrict the paths the kernels may use to `mask` (a set of TTR_CPU_* bits;
 * TTR_CPU_ALL restores everything detected, 0 forces the scalar reference).
 * Replaces any earlier mask, including one from TTR_CPU_MASK.
 * Not synchronised with concurrent kernel calls: set it before other threads
 * start using ttrank (tests and benchmarks switch it between calls). */
TTR_API void ttr_set_cpu_mask(unsigned mask);

/* Parse a mask as accepted in the TTR_CPU_MASK environment variable, which
 * is read once, at the first use of any kernel:
 *   a number (decimal, or hex with 0x): the TTR_CPU_* bits themselves;
 *   a name, each allowing its path and every lower one of its architecture:
 *   "scalar" (or "none", "c"), "avx2" (AVX2 without AVX-VNNI), "avxvnni"
 *   (AVX2 + AVX-VNNI), "neon" (no fused multiply-add),
 *   "neonfma", "neondot" (or "dotprod"), "all".
 * Returns 0 and stores the mask, or TTR_ERR_ARG for anything else (an
 * invalid TTR_CPU_MASK is ignored: everything detected stays allowed). */
TTR_API int ttr_parse_cpu_mask(const char *text, unsigned *mask);

/* The kernel paths in ISA order, lowest first: path i's name ("scalar",
 * "avx2", "avxvnni", "neon", "neonfma", "neondot") and, in *mask (may be
 * NULL), the cumulative mask that allows it and every lower path of its
 * architecture (what TTR_CPU_MASK=name sets). NULL for i past the last, so
 * `for (i = 0; (name = ttr_cpu_path(i, &mask)); i++)` visits them all; a
 * path runs on this CPU when (mask & ttr_cpu_detected()) == mask. */
TTR_API const char *ttr_cpu_path(size_t i, unsigned *mask);

/* Name of a set of flags' best path: "avxvnni", "avx2", "neondot", "neonfma",
 * "neon" or "scalar". ttr_cpu_path_name(ttr_cpu_flags()) names the active
 * path. ("avxvnni" and "neondot" name a set of flags whose int8 kernels use
 * that extension; their other kernels run the "avx2" or "neonfma" code.) */
TTR_API const char *ttr_cpu_path_name(unsigned flags);

/* Every kernel, for ttr_kernel_isa(). */
typedef enum ttr_kernel_id {
    TTR_K_GEMM_F32 = 0,     /* ttr_gemv_f32 / ttr_gemm_f32 */
    TTR_K_BACKPROP_IN_F32,  /* ttr_backprop_input_f32 */
    TTR_K_OUTER_ACC_F32,    /* ttr_outer_acc_f32 */
    TTR_K_QUANTIZE_S8,      /* ttr_quantize_s8 */
    TTR_K_GEMM_S8,          /* ttr_gemv_s8 / ttr_gemm_s8 */
    TTR_K_ATTN_PROBS,       /* ttr_attn_probs_f32 */
    TTR_K_ATTN_APPLY,       /* ttr_attn_apply_f32 */
    TTR_K_ATTN_APPLY_BWD,   /* ttr_attn_apply_bwd_f32 */
    TTR_K_ATTN_PROBS_BWD,   /* ttr_attn_probs_bwd_f32 */
    TTR_K_VEXP,             /* ttr_vexp_f32 */
    TTR_K_VSIGMOID,         /* ttr_vsigmoid_f32 */
    TTR_K_VSOFTPLUS,        /* ttr_vsoftplus_f32 */
    TTR_K_RELU_BWD,         /* ttr_relu_bwd_f32 */
    TTR_K_AXPY,             /* ttr_axpy_f32 */
    TTR_K_SCALE,            /* ttr_scale_f32 */
    TTR_K_DOT,              /* ttr_dot_f32 */
    TTR_K_ADAM,             /* ttr_adam_f32 */
    TTR_K_MOMENTUM,         /* ttr_momentum_f32 */
    TTR_K_GEMM_S8_RELU_Q,   /* ttr_gemm_s8_relu_q */
    TTR_K_QUANTIZE_NORM_S8, /* ttr_quantize_norm_s8 */
    TTR_K_COUNT
} ttr_kernel_id;

/* The path ("avxvnni", "avx2", "neondot", "neonfma", "neon", "scalar") that
 * kernel `id` runs under the current mask, or NULL for an id out of range.
 * "avxvnni" is reported only by the int8 layer kernels (TTR_K_GEMM_S8,
 * TTR_K_GEMM_S8_RELU_Q); TTR_K_QUANTIZE_S8 and TTR_K_QUANTIZE_NORM_S8 stay
 * "avx2". */
TTR_API const char *ttr_kernel_isa(ttr_kernel_id id);

/* ------------------------------------------------------------------------
 * f32 dense layers: y = W x + b, optionally followed by ReLU
 *
 * W (m outputs x k inputs) is packed once into panels of TTR_F32_PANEL
 * outputs; inside a panel the k columns are contiguous and each holds the
 * panel's outputs side by side (outputs beyond m are zero). The layout is the
 * same on every path, so a packed matrix stays valid when the mask changes.
 * ------------------------------------------------------------------------ */
#define TTR_F32_PANEL 16

/* Floats needed by the packed form of an m x k matrix:
 * ceil(m / 16) * 16 * k. (Overflow is the caller's: m, k <= 2^20 is safe.) */
TTR_API size_t ttr_gemm_f32_packed_size(size_t m, size_t k);

/* Pack W (m x k, row stride ldw >= k) into `packed`, which must hold
 * ttr_gemm_f32_packed_size(m, k) floats and not overlap W. */
TTR_API void ttr_gemm_f32_pack(size_t m, size_t k, const float *w, size_t ldw, float *packed);

/* Batched layer over n input vectors:
 *   y[i][j] = relu?( sum_t W[j][t] * x[i][t] + b[j] ),  i < n, j < m.
 * x: n x k, row stride ldx >= k. y: n x m, row stride ldy >= m; only the
 * first m floats of each row are written. b: m floats, or NULL for zero bias
 * (+0.0f is then added, on every path).
 * relu: 0 for none, non-zero to clamp negative results to 0.
 * Tolerance vs scalar: |y - y_ref| <= 1e-5 * (sum_t |W[j][t] x[i][t]| + |b[j]|) + 1e-30. */
TTR_API void ttr_gemm_f32(size_t n, size_t m, size_t k, const float *packed,
                  const float *x, size_t ldx, const float *b,
                  float *y, size_t ldy, int relu);

/* One vector: ttr_gemm_f32 with n = 1 (a separate entry so that paths can
 * specialise the latency-bound case). */
TTR_API void ttr_gemv_f32(size_t m, size_t k, const float *packed, const float *x,
                  const float *b, float *y, int relu);

/* ------------------------------------------------------------------------
 * f32 backpropagation through a dense layer (W unpacked, row-major m x k)
 * ------------------------------------------------------------------------ */

/* Input gradient, dX = dY W:
 *   dx[i][t] (+)= sum_j dy[i][j] * W[j][t],  i < n, t < k.
 * dy: n x m (lddy >= m); W: m x k (ldw >= k); dx: n x k (lddx >= k).
 * accumulate: 0 to overwrite dx, non-zero to add to it.
 * Tolerance: 1e-5 * (sum_j |dy[i][j] W[j][t]| + |dx_in|) + 1e-30. */
TTR_API void ttr_backprop_input_f32(size_t n, size_t m, size_t k,
                            const float *w, size_t ldw,
                            const float *dy, size_t lddy,
                            float *dx, size_t lddx, int accumulate);

/* Weight gradient, dW += dY^T X:
 *   dw[j][t] += sum_i dy[i][j] * x[i][t],  j < m, t < k.
 * dy: n x m (lddy >= m); x: n x k (ldx >= k); dw: m x k (lddw >= k), accumulated.
 * Tolerance: 1e-5 * (sum_i |dy[i][j] x[i][t]| + |dw_in|) + 1e-30. */
TTR_API void ttr_outer_acc_f32(size_t n, size_t m, size_t k,
                       const float *dy, size_t lddy,
                       const float *x, size_t ldx,
                       float *dw, size_t lddw);

/* ------------------------------------------------------------------------
 * int8 dense layers: symmetric per-output-channel weights, dynamic
 * per-vector activations, int32 accumulation, f32 out.
 *
 * Activations are quantized per vector: q = round_half_even(x * 127 / max|x|),
 * scale = max|x| / 127, so x ~= q * scale and q is in [-127, 127].
 * Weights must be in [-127, 127] (never -128): that is what keeps the
 * pairwise int16 sums of the AVX2 and NEON kernels from overflowing.
 * Rows of quantized activations are padded with zeros to TTR_S8_KPAD(k).
 * The packed weights hold panels of TTR_S8_PANEL outputs; inside a panel,
 * blocks of 4 consecutive inputs: for each block, output 0's 4 weights,
 * output 1's 4 weights, ... (64 bytes per block; zero padded).
 * ------------------------------------------------------------------------ */
#define TTR_S8_PANEL 16
#define TTR_S8_KPAD(k) (((k) + 3u) & ~(size_t)3u)
#define TTR_S8_MIN_RANGE 1e-36f

/* Quantize each of n rows of x (n x k, ldx >= k) into q (n x TTR_S8_KPAD(k),
 * ldq >= TTR_S8_KPAD(k); bytes k..KPAD(k)-1 of each row are set to 0) and
 * scale[i] = max_t |x[i][t]| / 127. A row whose max |x| is below
 * TTR_S8_MIN_RANGE (all zero, or so small that 127 / max|x| would overflow)
 * gets q = 0 and scale 0. A row holding a NaN or an infinity gets q = 0 and
 * scale NaN (callers test scale[i] != scale[i] instead of scanning the
 * inputs again). Bit-exact on every path. */
TTR_API void ttr_quantize_s8(size_t n, size_t k, const float *x, size_t ldx,
                     int8_t *q, size_t ldq, float *scale);

/* ttr_quantize_s8 of the normalised rows
 *   v[i][t] = (x[i][t] - mean[t]) * nscale[t]     (f32: subtract, then multiply)
 * without storing them: bit for bit the same q and scale as writing v into a
 * buffer and calling ttr_quantize_s8 on it, on every path (so a v that is
 * NaN or infinite, from the input or from overflow, gives scale NaN). This
 * is how an int8 model that keeps its feature normalisation reads features:
 * one pass over x instead of a pass that writes v and one that reads it.
 * mean, nscale: k floats. Other arguments as ttr_quantize_s8 (q must not
 * overlap x, mean or nscale). */
TTR_API void ttr_quantize_norm_s8(size_t n, size_t k, const float *x, size_t ldx,
                                  const float *mean, const float *nscale, int8_t *q, size_t ldq,
                                  float *scale);

/* Bytes needed by the packed form of an m x k int8 matrix:
 * ceil(m / 16) * 16 * TTR_S8_KPAD(k). */
TTR_API size_t ttr_gemm_s8_packed_size(size_t m, size_t k);

/* Pack W (m x k int8, ldw >= k) into `packed` (ttr_gemm_s8_packed_size bytes).
 * Returns TTR_OK, or TTR_ERR_RANGE (packed left unspecified) if a weight is -128. */
TTR_API int ttr_gemm_s8_pack(size_t m, size_t k, const int8_t *w, size_t ldw, int8_t *packed);

/* Batched int8 layer over n quantized vectors:
 *   acc = sum_t W[j][t] * q[i][t]            (exact int32)
 *   y[i][j] = relu?( (float)acc * (xscale[i] * wscale[j]) + b[j] )
 * evaluated in exactly that order in f32 (no fused multiply-add), so the
 * output is bit-exact on every path. q: n x KPAD(k) (ldq >= KPAD(k), padding
 * zero, values in [-128, 127]); xscale: n; wscale: m; b: m or NULL (adds +0.0f);
 * y: n x m (ldy >= m). k <= 2^16 keeps acc far from int32 overflow. */
TTR_API void ttr_gemm_s8(size_t n, size_t m, size_t k, const int8_t *packed,
                 const int8_t *q, size_t ldq, const float *xscale,
                 const float *wscale, const float *b,
                 float *y, size_t ldy, int relu);

/* One vector: ttr_gemm_s8 with n = 1. */
TTR_API void ttr_gemv_s8(size_t m, size_t k, const int8_t *packed, const int8_t *q,
                 float xscale, const float *wscale, const float *b,
                 float *y, int relu);

/* A hidden int8 layer whose output feeds the next int8 layer: ttr_gemm_s8
 * with ReLU, its f32 rows quantized as ttr_quantize_s8 does, without
 * storing them. For each item i:
 *   y[j]  = relu( (float)acc * (xscale[i] * wscale[j]) + b[j] )   (as ttr_gemm_s8)
 *   qo[i][0..m), oscale[i] = ttr_quantize_s8 of the row y[0..m)
 * bit for bit on every path; bytes m..TTR_S8_KPAD(m)-1 of each output row
 * are set to 0 and nothing else of qo is written. y >= 0, so the values are
 * in [0, 127]: the next layer's products need no sign handling (the AVX2
 * kernels feed such rows to maddubs directly, exactly: 2 * 127 * 127 =
 * 32258 < 32767; the AVX-VNNI ones to vpdpbusd, whose int32 sums of four
 * u8 x s8 products never saturate).
 * q, ldq, xscale, wscale, b: as ttr_gemm_s8 (b may be NULL). qo: n rows of
 * ldqo >= TTR_S8_KPAD(m) bytes, not overlapping q; oscale: n floats.
 * Scales and biases must make every y finite (as ttr_quantize_s8 needs).
 * The AVX2 and AVX-VNNI paths keep up to 64 outputs of an item in
 * registers; aarch64 NEON stores y into a stack buffer while keeping each
 * row's max, then quantizes it in one pass (up to 1024 outputs); wider
 * layers, and armv7, run ttr_gemm_s8 into a stack buffer then
 * ttr_quantize_s8, which gives the same bits. */
TTR_API void ttr_gemm_s8_relu_q(size_t n, size_t m, size_t k, const int8_t *packed,
                        const int8_t *q, size_t ldq, const float *xscale,
                        const float *wscale, const float *b,
                        int8_t *qo, size_t ldqo, float *oscale);

/* ------------------------------------------------------------------------
 * Attention over one list of n items (n up to a few hundred; d, dv 1..64+)
 *
 * Forward:  s[j][m] = scale * q_j . k_m;  P = softmax over m of s (masked);
 *           out = P V (one call per value matrix).
 * Backward: dP += dOut V^T, dV += P^T dOut (per value matrix), then
 *           dS = P o (dP - rowsum(dP o P)), dQ += scale dS K, dK += scale dS^T Q.
 * ------------------------------------------------------------------------ */

/* Probabilities: p[j][m] = exp(s_jm - max_m s_jm) / sum_m exp(...) over the
 * keys m with key_mask[m] != 0 (key_mask NULL: all n keys); masked keys get
 * p = 0, and a row with no valid key is all 0.
 * q: n x d (ldq >= d), k: n x d (ldk >= d), p: n x n (ldp >= n).
 * Tolerance: |p - p_ref| <= 1e-5 (absolute; rows sum to 1 within 1e-5). */
TTR_API void ttr_attn_probs_f32(size_t n, size_t d, const float *q, size_t ldq,
                        const float *k, size_t ldk, float scale,
                        const uint8_t *key_mask, float *p, size_t ldp);

/* out[j][c] = sum_m p[j][m] v[m][c]: p n x n (ldp), v n x dv (ldv), out
 * n x dv (ldo), overwritten. Tolerance: 1e-5 * sum_m |p v| + 1e-30. */
TTR_API void ttr_attn_apply_f32(size_t n, size_t dv, const float *p, size_t ldp,
                        const float *v, size_t ldv, float *out, size_t ldo);

/* Backward of ttr_attn_apply_f32 for one value matrix, both accumulated:
 *   dp[j][m] += sum_c dout[j][c] v[m][c];   dv[m][c] += sum_j p[j][m] dout[j][c].
 * dp n x n (lddp), dv n x dv_cols (lddv). Call once per value matrix.
 * Tolerance: 1e-5 * (sum of |terms| + |initial value|) + 1e-30. */
TTR_API void ttr_attn_apply_bwd_f32(size_t n, size_t dv_cols, const float *p, size_t ldp,
                            const float *v, size_t ldv, const float *dout, size_t ldo,
                            float *dp, size_t lddp, float *dv, size_t lddv);

/* Backward of ttr_attn_probs_f32 (masked keys have p = 0 and so get no
 * gradient). dp (n x n, lddp) holds dL/dP on entry and is overwritten with
 * dL/dS. Then dq[j] += scale sum_m dS[j][m] k_m and
 * dk[m] += scale sum_j dS[j][m] q_j (dq, dk: n x d, lddq, lddk).
 * Tolerance: 1e-5 * (sum of |terms| + |initial value|) + 1e-30 (per output). */
TTR_API void ttr_attn_probs_bwd_f32(size_t n, size_t d, const float *q, size_t ldq,
                            const float *k, size_t ldk, float scale,
                            const float *p, size_t ldp, float *dp, size_t lddp,
                            float *dq, size_t lddq, float *dk, size_t lddk);

/* ------------------------------------------------------------------------
 * Vector helpers (y may alias x in the element-wise ones)
 * ------------------------------------------------------------------------ */

/* y[i] = exp(x[i]). Relative error <= 4e-7 (about 3 ulp) against the exact
 * value for x in [-87.3, 88.7]; x > 88.72 gives +Inf, x < -87.33 gives 0
 * (results that would be denormal are flushed to 0 on every path, so that
 * all paths agree). NaN gives NaN. */
TTR_API void ttr_vexp_f32(size_t n, const float *x, float *y);

/* y[i] = 1 / (1 + exp(-x[i])), in [0, 1]; absolute error <= 1e-6,
 * relative error <= 1e-6 where the result is >= 1e-30. */
TTR_API void ttr_vsigmoid_f32(size_t n, const float *x, float *y);

/* y[i] = log(1 + exp(x[i])), computed without overflow (x for x > 30);
 * absolute error <= 2e-6 * max(1, |x|). */
TTR_API void ttr_vsoftplus_f32(size_t n, const float *x, float *y);

/* ReLU backward: dx[i] = y[i] > 0 ? dy[i] : 0 (y is the ReLU's output).
 * dx may alias dy. Exact. */
TTR_API void ttr_relu_bwd_f32(size_t n, const float *y, const float *dy, float *dx);

/* y[i] += a * x[i]. Tolerance: 1e-6 relative to |a x| + |y|. */
TTR_API void ttr_axpy_f32(size_t n, float a, const float *x, float *y);

/* x[i] *= a. Exact. */
TTR_API void ttr_scale_f32(size_t n, float a, float *x);

/* Returns sum_i x[i] * y[i]. Tolerance: 1e-5 * sum_i |x[i] y[i]| + 1e-30. */
TTR_API float ttr_dot_f32(size_t n, const float *x, const float *y);

/* ------------------------------------------------------------------------
 * Optimizer updates (in place over n parameters; w, g, m, v distinct)
 *
 * Optimizer state decays geometrically and would otherwise spend its life as
 * denormals, which are slow on x86 and flushed by armv7 NEON: new state
 * values with magnitude below TTR_OPT_FLUSH are stored as 0 on every path.
 * ------------------------------------------------------------------------ */
#define TTR_OPT_FLUSH 1e-30f

/* Constants of one Adam step t >= 1, with bias corrections folded in (the
 * usual efficient form, algebraically equal to lr m^ / (sqrt(v^) + eps)):
 *   lr_t  = lr * sqrt(1 - beta2^t) / (1 - beta1^t)
 *   eps_t = eps * sqrt(1 - beta2^t)
 * ttr_adam_step_init() fills it. */
typedef struct ttr_adam_step {
    float beta1, beta2, lr_t, eps_t;
} ttr_adam_step;

/* The constants of step t (>= 1) for lr > 0, beta1, beta2 in [0, 1), eps > 0. */
TTR_API void ttr_adam_step_init(ttr_adam_step *s, float lr, float beta1, float beta2, float eps,
                                uint64_t t);

/* Adam, with the gradient scaled first (global-norm clipping):
 *   gs = g[i] * gscale
 *   m[i] = beta1 m[i] + (1 - beta1) gs;   v[i] = beta2 v[i] + (1 - beta2) gs^2
 *   w[i] -= lr_t * m[i] / (sqrt(v[i]) + eps_t)
 * Tolerance vs scalar: m, v within 2e-7 relative; the step lr_t m / (...)
 * within 1e-6 relative (reciprocal estimates on armv7; exact elsewhere). */
TTR_API void ttr_adam_f32(size_t n, float *w, const float *g, float *m, float *v, float gscale,
                          const ttr_adam_step *s);

/* SGD with momentum: vel[i] = momentum vel[i] + g[i] gscale; w[i] -= lr vel[i].
 * Tolerance vs scalar: 2e-7 relative to |momentum vel| + |g gscale|, and to |w| + |lr vel|. */
TTR_API void ttr_momentum_f32(size_t n, float *w, const float *g, float *vel, float gscale,
                              float lr, float momentum);

#ifdef __cplusplus
}
#endif
#endif
