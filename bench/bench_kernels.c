/* `ttrank bench`: time every kernel of ttr_kernels.h on every ISA path this
 * CPU supports, over the shapes of the ranking towers and the attention layer.
 *
 * For each (kernel, shape) the scalar reference is timed first, then the
 * same call under each faster mask of the CPU's ladder (avx2, avxvnni on x86;
 * neon, neonfma, neondot on ARM), skipping a mask whose path for that kernel was
 * already timed; "speedup" compares with the scalar time of the same run.
 *
 * A measurement: one warm-up call, then the number of calls per sample R is
 * calibrated so that one sample lasts >= --min-time (50 us); then S samples
 * (21) of R back-to-back calls are timed with clock_gettime(CLOCK_MONOTONIC;
 * --clock cpu: the thread's CPU time) and "ns" is the median of sample time / R. The buffers are allocated once
 * per (kernel, shape), 64-byte aligned, filled with deterministic
 * pseudo-random data, and stay warm in cache between calls.
 *
 * This file is compiled for the target's baseline (no ISA flags): it only
 * calls the public kernels, which dispatch at run time. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include "bench.h"
#include "ttr_kernels.h"
#include "ttrank.h"

#define B_DEFAULT_SAMPLES 21
#define B_MIN_SAMPLES 7           /* fewest samples kept when a call is slow */
#define B_DEFAULT_MIN_TIME_US 50.0
#define B_BUDGET_NS 1e9           /* target wall time of one measurement */
#define B_MAX_CASES 64
#define B_ISA_LEN 32

/* ------------------------------------------------------------------------
 * Options
 * ------------------------------------------------------------------------ */

typedef struct bopts {
    int json;
    int quick;
    int list;
    int isa_given;
    unsigned isa_mask;          /* with isa_given: the only mask reported */
    long reps;                  /* > 0: fixed calls per sample */
    int samples;
    double min_time_ns;
    const char *kernels;        /* comma-separated names, or NULL for all */
    int cpu_clock;              /* --clock cpu: CLOCK_THREAD_CPUTIME_ID */
} bopts;

/* ------------------------------------------------------------------------
 * Deterministic data
 * ------------------------------------------------------------------------ */

static uint64_t g_rng = 0x9e3779b97f4a7c15ull;
static volatile float g_sink; /* results land here: the calls can't be dropped */

static uint32_t rng_u32(void)
{
    /* xorshift64* */
    g_rng ^= g_rng >> 12;
    g_rng ^= g_rng << 25;
    g_rng ^= g_rng >> 27;
    return (uint32_t)((g_rng * 0x2545f4914f6cdd1dull) >> 32);
}

static float rng_uniform(float lo, float hi)
{
    return lo + (hi - lo) * (float)(rng_u32() >> 8) * (1.0f / 16777216.0f);
}

static void fill_uniform(float *x, size_t n, float lo, float hi)
{
    for (size_t i = 0; i < n; i++)
        x[i] = rng_uniform(lo, hi);
}

/* 64-byte aligned, never a zero-size request. */
static void *balloc(size_t bytes)
{
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes ? bytes : 64) != 0)
        return NULL;
    memset(p, 0, bytes ? bytes : 64);
    return p;
}

/* ------------------------------------------------------------------------
 * Kernels, shapes and their buffers
 * ------------------------------------------------------------------------ */

enum bfam { F_GEMV, F_GEMM, F_BWD, F_QUANT, F_GEMV8, F_GEMM8, F_ATTN, F_VEC, F_TRAIN, F_SCORE,
            F_RATIO };

/* One shape. Dense layers: m outputs x k inputs, batch vectors. Attention:
 * k = list items (m = k), d = width of q, k and v. Quantize and vectors:
 * k elements per row, batch rows (m = 1). */
typedef struct bshape {
    size_t m, k, batch, d;
} bshape;

/* The buffers of one (kernel, shape); unused pointers stay NULL. */
typedef struct bctx {
    bshape s;
    float *w, *packed, *x, *b, *y, *dy, *dx, *dw, *xscale, *wscale;
    int8_t *w8, *packed8, *q8;
    float *qa, *ka, *va, *p, *out, *dout, *dp, *dp0, *dv, *dq, *dk;
    float attn_scale;
    int toggle;
    /* whole-model cases: the reference configuration (46 features, relevance
     * 64-32, lists of 10 items) */
    void *arena, *serve_arena, *s8_arena;
    ttr_model *model, *serve, *serve8; /* serve8: int8 copy (score_s8, score_ratio) */
    ttr_batch batch;
    size_t offsets[17];
    uint16_t *slots;
    uint8_t *clicks;
} bctx;

typedef void (*brun_fn)(bctx *c);

typedef struct bkernel {
    const char *name;
    int id, id2;    /* ttr_kernel_id, and a second one for attn_fwd (else -1) */
    enum bfam fam;
    brun_fn run;
} bkernel;

static void run_gemv_f32(bctx *c)
{
    ttr_gemv_f32(c->s.m, c->s.k, c->packed, c->x, c->b, c->y, 1);
}
static void run_gemm_f32(bctx *c)
{
    ttr_gemm_f32(c->s.batch, c->s.m, c->s.k, c->packed, c->x, c->s.k, c->b, c->y, c->s.m, 1);
}
static void run_backprop_in(bctx *c)
{
    ttr_backprop_input_f32(c->s.batch, c->s.m, c->s.k, c->w, c->s.k, c->dy, c->s.m, c->dx,
                           c->s.k, 0);
}
static void run_outer_acc(bctx *c)
{
    ttr_outer_acc_f32(c->s.batch, c->s.m, c->s.k, c->dy, c->s.m, c->x, c->s.k, c->dw, c->s.k);
}
static void run_quantize(bctx *c)
{
    ttr_quantize_s8(c->s.batch, c->s.k, c->x, c->s.k, c->q8, TTR_S8_KPAD(c->s.k), c->xscale);
}
/* mean and normalisation scale: wscale and b (k floats each, F_QUANT) */
static void run_quantize_norm(bctx *c)
{
    ttr_quantize_norm_s8(c->s.batch, c->s.k, c->x, c->s.k, c->wscale, c->b, c->q8,
                         TTR_S8_KPAD(c->s.k), c->xscale);
}
static void run_gemv_s8(bctx *c)
{
    ttr_gemv_s8(c->s.m, c->s.k, c->packed8, c->q8, c->xscale[0], c->wscale, c->b, c->y, 1);
}
static void run_gemm_s8_relu_q(bctx *c)
{
    /* y doubles as the int8 output (n x KPAD(m) <= n x m floats), dy as the scales */
    ttr_gemm_s8_relu_q(c->s.batch, c->s.m, c->s.k, c->packed8, c->q8, TTR_S8_KPAD(c->s.k),
                       c->xscale, c->wscale, c->b, (int8_t *)(void *)c->y, TTR_S8_KPAD(c->s.m),
                       c->dy);
}
static void run_gemm_s8(bctx *c)
{
    ttr_gemm_s8(c->s.batch, c->s.m, c->s.k, c->packed8, c->q8, TTR_S8_KPAD(c->s.k), c->xscale,
                c->wscale, c->b, c->y, c->s.m, 1);
}
static void run_attn_probs(bctx *c)
{
    size_t n = c->s.k, d = c->s.d;
    ttr_attn_probs_f32(n, d, c->qa, d, c->ka, d, c->attn_scale, NULL, c->p, n);
}
static void run_attn_apply(bctx *c)
{
    size_t n = c->s.k, d = c->s.d;
    ttr_attn_apply_f32(n, d, c->p, n, c->va, d, c->out, d);
}
static void run_attn_fwd(bctx *c)
{
    run_attn_probs(c);
    run_attn_apply(c);
}
static void run_attn_apply_bwd(bctx *c)
{
    size_t n = c->s.k, d = c->s.d;
    ttr_attn_apply_bwd_f32(n, d, c->p, n, c->va, d, c->dout, d, c->dp, n, c->dv, d);
}
/* ttr_attn_probs_bwd_f32 overwrites dP with dS: restore dP before each call
 * (or the values would decay into denormals); the copy is timed on its own
 * (run_restore_dp) and subtracted. */
static void run_restore_dp(bctx *c)
{
    memcpy(c->dp, c->dp0, c->s.k * c->s.k * sizeof(float));
}
static void run_attn_probs_bwd(bctx *c)
{
    size_t n = c->s.k, d = c->s.d;
    run_restore_dp(c);
    ttr_attn_probs_bwd_f32(n, d, c->qa, d, c->ka, d, c->attn_scale, c->p, n, c->dp, n, c->dq, d,
                           c->dk, d);
}
static void run_vexp(bctx *c)
{
    ttr_vexp_f32(c->s.k, c->x, c->y);
}
static void run_vsigmoid(bctx *c)
{
    ttr_vsigmoid_f32(c->s.k, c->x, c->y);
}
static void run_vsoftplus(bctx *c)
{
    ttr_vsoftplus_f32(c->s.k, c->x, c->y);
}
static void run_relu_bwd(bctx *c)
{
    ttr_relu_bwd_f32(c->s.k, c->x, c->dy, c->dx);
}
static void run_axpy(bctx *c)
{
    ttr_axpy_f32(c->s.k, 1e-3f, c->x, c->y);
}
static void run_scale(bctx *c)
{
    /* x2 then x0.5: exact, so the data never drift */
    ttr_scale_f32(c->s.k, c->toggle ? 0.5f : 2.0f, c->y);
    c->toggle ^= 1;
}
static void run_dot(bctx *c)
{
    g_sink += ttr_dot_f32(c->s.k, c->x, c->y);
}

/* Optimizer steps over k parameters: w = y, g = x, first moment / velocity
 * = dx, second moment = dy. Repeated steps keep every value bounded. */
static void run_adam(bctx *c)
{
    ttr_adam_step st;
    ttr_adam_step_init(&st, 1e-3f, 0.9f, 0.999f, 1e-8f, 10);
    ttr_adam_f32(c->s.k, c->y, c->x, c->dx, c->dy, 1.0f, &st);
}
static void run_momentum(bctx *c)
{
    ttr_momentum_f32(c->s.k, c->y, c->x, c->dx, 1.0f, 1e-3f, 0.9f);
}

/* One optimizer step (forward, backward, update) on s.batch lists of 10
 * items, and scoring s.batch items with a serving copy. */
static void run_train(bctx *c)
{
    ttr_train(c->model, &c->batch, NULL);
}
static void run_score(bctx *c)
{
    ttr_score(c->serve, c->s.batch, c->x, c->s.k, c->y);
}
static void run_score_s8(bctx *c)
{
    ttr_score(c->serve8, c->s.batch, c->x, c->s.k, c->y);
}
/* score_ratio: times run_score and run_score_s8 itself (bench_ratio) */
static void run_score_ratio(bctx *c)
{
    run_score_s8(c);
}

static const bkernel g_kernels[] = {
    {"gemv_f32", TTR_K_GEMM_F32, -1, F_GEMV, run_gemv_f32},
    {"gemm_f32", TTR_K_GEMM_F32, -1, F_GEMM, run_gemm_f32},
    {"backprop_in_f32", TTR_K_BACKPROP_IN_F32, -1, F_BWD, run_backprop_in},
    {"outer_acc_f32", TTR_K_OUTER_ACC_F32, -1, F_BWD, run_outer_acc},
    {"quantize_s8", TTR_K_QUANTIZE_S8, -1, F_QUANT, run_quantize},
    {"quantize_norm_s8", TTR_K_QUANTIZE_NORM_S8, -1, F_QUANT, run_quantize_norm},
    {"gemv_s8", TTR_K_GEMM_S8, -1, F_GEMV8, run_gemv_s8},
    {"gemm_s8", TTR_K_GEMM_S8, -1, F_GEMM8, run_gemm_s8},
    {"gemm_s8_relu_q", TTR_K_GEMM_S8_RELU_Q, -1, F_GEMM8, run_gemm_s8_relu_q},
    {"attn_probs", TTR_K_ATTN_PROBS, -1, F_ATTN, run_attn_probs},
    {"attn_apply", TTR_K_ATTN_APPLY, -1, F_ATTN, run_attn_apply},
    {"attn_fwd", TTR_K_ATTN_PROBS, TTR_K_ATTN_APPLY, F_ATTN, run_attn_fwd},
    {"attn_apply_bwd", TTR_K_ATTN_APPLY_BWD, -1, F_ATTN, run_attn_apply_bwd},
    {"attn_probs_bwd", TTR_K_ATTN_PROBS_BWD, -1, F_ATTN, run_attn_probs_bwd},
    {"vexp", TTR_K_VEXP, -1, F_VEC, run_vexp},
    {"vsigmoid", TTR_K_VSIGMOID, -1, F_VEC, run_vsigmoid},
    {"vsoftplus", TTR_K_VSOFTPLUS, -1, F_VEC, run_vsoftplus},
    {"relu_bwd", TTR_K_RELU_BWD, -1, F_VEC, run_relu_bwd},
    {"axpy", TTR_K_AXPY, -1, F_VEC, run_axpy},
    {"scale", TTR_K_SCALE, -1, F_VEC, run_scale},
    {"dot", TTR_K_DOT, -1, F_VEC, run_dot},
    {"adam", TTR_K_ADAM, -1, F_VEC, run_adam},
    {"momentum", TTR_K_MOMENTUM, -1, F_VEC, run_momentum},
    {"train_naive", TTR_K_GEMM_F32, TTR_K_ADAM, F_TRAIN, run_train},
    {"train_additive", TTR_K_GEMM_F32, TTR_K_ADAM, F_TRAIN, run_train},
    {"train_pal", TTR_K_GEMM_F32, TTR_K_ADAM, F_TRAIN, run_train},
    {"train_dot", TTR_K_GEMM_F32, TTR_K_ADAM, F_TRAIN, run_train},
    {"train_mixem", TTR_K_GEMM_F32, TTR_K_ADAM, F_TRAIN, run_train},
    {"train_xpa", TTR_K_GEMM_F32, TTR_K_ATTN_PROBS, F_TRAIN, run_train},
    {"score_f32", TTR_K_GEMM_F32, -1, F_SCORE, run_score},
    {"score_s8", TTR_K_GEMM_S8_RELU_Q, TTR_K_GEMM_S8, F_SCORE, run_score_s8},
    {"score_ratio", TTR_K_GEMM_S8_RELU_Q, TTR_K_GEMM_F32, F_RATIO, run_score_ratio},
};

/* The variant a train_* case runs (its name, after "train_"). */
static ttr_variant train_variant(const char *name)
{
    static const char *const names[] = {"naive", "additive", "pal", "dot", "mixem", "xpa"};
    for (int v = 0; v < 6; v++)
        if (!strcmp(name + 6, names[v]))
            return (ttr_variant)v;
    return TTR_ADDITIVE;
}

/* The reference configuration of the project's targets; XPA gets a 2 x 5 grid. */
static void reference_config(ttr_config *cfg, ttr_variant v, size_t batch)
{
    ttr_config_default(cfg, v, 46);
    /* the reference configuration of every dated table (46-64-32-1, linear
     * bias tower, no weight decay), not the defaults of the day */
    cfg->hidden[0] = 64;
    cfg->hidden[1] = 32;
    cfg->bias_hidden = 0;
    cfg->weight_decay = 0.0f;
    cfg->lr = 1e-3f;
    if (v == TTR_XPA) {
        cfg->rows = 2;
        cfg->cols = 5;
    }
    cfg->max_batch = (uint32_t)batch;
}
#define B_NKERNELS (sizeof g_kernels / sizeof g_kernels[0])

/* Dense layer shapes (m outputs x k inputs): the towers (46/700 LETOR
 * features, hidden 64/32/16) and square sizes for the roofline. */
static const size_t g_layers[][2] = {
    {32, 46}, {64, 46}, {64, 64}, {32, 64}, {128, 128},
    {256, 256}, {512, 512}, {16, 700}, {256, 700},
};
/* Backprop shapes: the tower layers only. */
static const size_t g_bwd_layers[][2] = {
    {32, 46}, {64, 46}, {64, 64}, {32, 64}, {128, 128}, {16, 700}, {256, 700},
};
static const size_t g_gemm_batches[] = {10, 100, 200};
static const size_t g_bwd_batches[] = {10, 100};
static const size_t g_quant_k[] = {46, 64, 128, 256, 700};
static const size_t g_quant_batches[] = {1, 100};
static const size_t g_attn_n[] = {10, 20, 50, 100, 200};
static const size_t g_attn_d[] = {8, 16, 32};
static const size_t g_vec_n[] = {64, 256, 1024, 4096};
static const size_t g_train_lists[] = {1, 16};
static const size_t g_score_items[] = {1, 10, 100};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* The shapes of a family, smallest first (--quick keeps the first two). */
static int make_shapes(enum bfam fam, bshape *out)
{
    int n = 0;
    bshape s;
    memset(&s, 0, sizeof s);
    switch (fam) {
    case F_GEMV:
    case F_GEMV8:
        for (size_t i = 0; i < NELEM(g_layers); i++) {
            s.m = g_layers[i][0], s.k = g_layers[i][1], s.batch = 1;
            out[n++] = s;
        }
        break;
    case F_GEMM:
    case F_GEMM8:
        for (size_t b = 0; b < NELEM(g_gemm_batches); b++)
            for (size_t i = 0; i < NELEM(g_layers); i++) {
                s.m = g_layers[i][0], s.k = g_layers[i][1], s.batch = g_gemm_batches[b];
                out[n++] = s;
            }
        break;
    case F_BWD:
        for (size_t b = 0; b < NELEM(g_bwd_batches); b++)
            for (size_t i = 0; i < NELEM(g_bwd_layers); i++) {
                s.m = g_bwd_layers[i][0], s.k = g_bwd_layers[i][1], s.batch = g_bwd_batches[b];
                out[n++] = s;
            }
        break;
    case F_QUANT:
        for (size_t b = 0; b < NELEM(g_quant_batches); b++)
            for (size_t i = 0; i < NELEM(g_quant_k); i++) {
                s.m = 1, s.k = g_quant_k[i], s.batch = g_quant_batches[b];
                out[n++] = s;
            }
        break;
    case F_ATTN:
        for (size_t i = 0; i < NELEM(g_attn_n); i++)
            for (size_t j = 0; j < NELEM(g_attn_d); j++) {
                s.m = s.k = g_attn_n[i], s.d = g_attn_d[j], s.batch = 1;
                out[n++] = s;
            }
        break;
    case F_VEC:
        for (size_t i = 0; i < NELEM(g_vec_n); i++) {
            s.m = 1, s.k = g_vec_n[i], s.batch = 1;
            out[n++] = s;
        }
        break;
    case F_TRAIN:
        for (size_t i = 0; i < NELEM(g_train_lists); i++) {
            s.m = 1, s.k = 46, s.batch = g_train_lists[i];
            out[n++] = s;
        }
        break;
    case F_SCORE:
        for (size_t i = 0; i < NELEM(g_score_items); i++) {
            s.m = 1, s.k = 46, s.batch = g_score_items[i];
            out[n++] = s;
        }
        break;
    case F_RATIO: /* 100 items: the default int8 copy, then the folded one (d = 1) */
        s.m = 1, s.k = 46, s.batch = 100;
        out[n++] = s;
        s.d = 1;
        out[n++] = s;
        break;
    }
    return n;
}

static void ctx_free(bctx *c)
{
    float *f[] = {c->w,  c->packed, c->x,   c->b,   c->y,    c->dy,   c->dx,  c->dw,
                  c->xscale, c->wscale, c->qa, c->ka, c->va, c->p, c->out, c->dout,
                  c->dp, c->dp0, c->dv, c->dq, c->dk};
    for (size_t i = 0; i < NELEM(f); i++)
        free(f[i]);
    free(c->w8);
    free(c->packed8);
    free(c->q8);
    free(c->arena);
    free(c->serve_arena);
    free(c->s8_arena);
    free(c->slots);
    free(c->clicks);
    memset(c, 0, sizeof *c);
}

#define FALLOC(ptr, count) ((ptr) = (float *)balloc((count) * sizeof(float)), ok = ok && (ptr))

/* Allocate and fill the buffers of one (family, shape). Returns 0, or -1 when
 * out of memory (everything then freed). */
static int ctx_setup(bctx *c, const bkernel *kd, const bshape *s)
{
    enum bfam fam = kd->fam;
    int ok = 1;
    size_t m = s->m, k = s->k, nb = s->batch, d = s->d;
    memset(c, 0, sizeof *c);
    c->s = *s;
    /* the same data for a shape whatever else runs (--kernel, --quick) */
    g_rng = 0x9e3779b97f4a7c15ull ^ ((uint64_t)fam << 56) ^ ((uint64_t)m << 40) ^
            ((uint64_t)k << 20) ^ ((uint64_t)nb << 8) ^ (uint64_t)d;
    switch (fam) {
    case F_GEMV:
    case F_GEMM:
        FALLOC(c->w, m * k);
        FALLOC(c->packed, ttr_gemm_f32_packed_size(m, k));
        FALLOC(c->x, nb * k);
        FALLOC(c->b, m);
        FALLOC(c->y, nb * m);
        if (!ok)
            break;
        fill_uniform(c->w, m * k, -0.2f, 0.2f);
        fill_uniform(c->x, nb * k, -1.0f, 1.0f);
        fill_uniform(c->b, m, -0.1f, 0.1f);
        ttr_gemm_f32_pack(m, k, c->w, k, c->packed);
        break;
    case F_BWD:
        FALLOC(c->w, m * k);
        FALLOC(c->dy, nb * m);
        FALLOC(c->dx, nb * k);
        FALLOC(c->x, nb * k);
        FALLOC(c->dw, m * k);
        if (!ok)
            break;
        fill_uniform(c->w, m * k, -0.2f, 0.2f);
        fill_uniform(c->dy, nb * m, -0.1f, 0.1f);
        fill_uniform(c->x, nb * k, -1.0f, 1.0f);
        break;
    case F_QUANT:
        FALLOC(c->x, nb * k);
        FALLOC(c->xscale, nb);
        FALLOC(c->wscale, k); /* quantize_norm_s8: mean */
        FALLOC(c->b, k);      /* and normalisation scale */
        ok = ok && (c->q8 = (int8_t *)balloc(nb * TTR_S8_KPAD(k))) != NULL;
        if (ok) {
            fill_uniform(c->x, nb * k, -3.0f, 3.0f);
            fill_uniform(c->wscale, k, -1.0f, 1.0f);
            fill_uniform(c->b, k, 0.2f, 2.0f);
        }
        break;
    case F_GEMV8:
    case F_GEMM8: {
        FALLOC(c->x, nb * k);
        FALLOC(c->xscale, nb);
        FALLOC(c->wscale, m);
        FALLOC(c->b, m);
        FALLOC(c->y, nb * m);
        FALLOC(c->dy, nb);
        ok = ok && (c->w8 = (int8_t *)balloc(m * k)) != NULL;
        ok = ok && (c->packed8 = (int8_t *)balloc(ttr_gemm_s8_packed_size(m, k))) != NULL;
        ok = ok && (c->q8 = (int8_t *)balloc(nb * TTR_S8_KPAD(k))) != NULL;
        if (!ok)
            break;
        for (size_t i = 0; i < m * k; i++)
            c->w8[i] = (int8_t)((int)(rng_u32() % 255u) - 127);
        fill_uniform(c->x, nb * k, -1.0f, 1.0f);
        fill_uniform(c->wscale, m, 0.5f / 127.0f, 2.0f / 127.0f);
        fill_uniform(c->b, m, -0.1f, 0.1f);
        if (ttr_gemm_s8_pack(m, k, c->w8, k, c->packed8) != TTR_OK)
            ok = 0;
        ttr_quantize_s8(nb, k, c->x, k, c->q8, TTR_S8_KPAD(k), c->xscale);
        break;
    }
    case F_ATTN:
        FALLOC(c->qa, k * d);
        FALLOC(c->ka, k * d);
        FALLOC(c->va, k * d);
        FALLOC(c->dout, k * d);
        FALLOC(c->out, k * d);
        FALLOC(c->dv, k * d);
        FALLOC(c->dq, k * d);
        FALLOC(c->dk, k * d);
        FALLOC(c->p, k * k);
        FALLOC(c->dp, k * k);
        FALLOC(c->dp0, k * k);
        if (!ok)
            break;
        fill_uniform(c->qa, k * d, -1.0f, 1.0f);
        fill_uniform(c->ka, k * d, -1.0f, 1.0f);
        fill_uniform(c->va, k * d, -1.0f, 1.0f);
        fill_uniform(c->dout, k * d, -0.1f, 0.1f);
        fill_uniform(c->dp0, k * k, -0.1f, 0.1f);
        memcpy(c->dp, c->dp0, k * k * sizeof(float));
        c->attn_scale = 1.0f / sqrtf((float)d);
        ttr_attn_probs_f32(k, d, c->qa, d, c->ka, d, c->attn_scale, NULL, c->p, k);
        break;
    case F_VEC:
        FALLOC(c->x, k);
        FALLOC(c->y, k);
        FALLOC(c->dy, k);
        FALLOC(c->dx, k);
        if (!ok)
            break;
        fill_uniform(c->x, k, -8.0f, 8.0f);
        fill_uniform(c->y, k, -1.0f, 1.0f);
        /* dy doubles as Adam's second moment: keep it non-negative */
        fill_uniform(c->dy, k, 0.0f, 1.0f);
        fill_uniform(c->dx, k, -0.1f, 0.1f);
        break;
    case F_TRAIN:
    case F_SCORE:
    case F_RATIO: {
        ttr_config cfg;
        size_t items = fam == F_TRAIN ? nb * 10 : nb;
        reference_config(&cfg, fam == F_TRAIN ? train_variant(kd->name) : TTR_ADDITIVE,
                         fam == F_TRAIN ? nb : 1);
        size_t tb = ttr_arena_bytes(&cfg, TTR_MODE_TRAIN);
        size_t sb = ttr_arena_bytes(&cfg, TTR_MODE_SERVE_F32);
        c->arena = balloc(tb);
        c->serve_arena = balloc(sb);
        c->slots = balloc(items * sizeof(uint16_t) + 1);
        c->clicks = balloc(items + 1);
        FALLOC(c->x, items * k);
        FALLOC(c->y, items);
        if (!ok || !c->arena || !c->serve_arena || !c->slots || !c->clicks ||
            ttr_model_init(&c->model, &cfg, TTR_MODE_TRAIN, c->arena, tb) != TTR_OK) {
            ok = 0;
            break;
        }
        /* Features >= 0 (as LETOR's) and the normalisation a trained model
         * would have for them (mean 0.5, 1 / std sqrt(12)): the int8 model
         * keeps it, so its first layer sees signed values as it would in use. */
        fill_uniform(c->x, items * k, 0.0f, 1.0f);
        if (fam != F_TRAIN) {
            float mean[64], scale[64];
            for (size_t t = 0; t < k; t++)
                mean[t] = 0.5f, scale[t] = 3.4641016f;
            if (ttr_set_normalization(c->model, mean, scale) != TTR_OK)
                ok = 0;
        }
        for (size_t i = 0; i < items; i++) {
            c->slots[i] = (uint16_t)(i % 10);
            c->clicks[i] = (uint8_t)(rng_u32() % 4 == 0);
        }
        for (size_t l = 0; l <= nb && fam == F_TRAIN; l++)
            c->offsets[l] = l * 10;
        c->batch.n_lists = fam == F_TRAIN ? nb : 0;
        c->batch.offsets = c->offsets;
        c->batch.x = c->x;
        c->batch.ldx = k;
        c->batch.slots = c->slots;
        c->batch.clicks = c->clicks;
        c->batch.contexts = NULL;
        if (ttr_model_to_serving(c->model, &c->serve, c->serve_arena, sb) != TTR_OK)
            ok = 0;
        if (ok && fam != F_TRAIN) {
            size_t qb = ttr_arena_bytes(&cfg, TTR_MODE_SERVE_S8);
            c->s8_arena = balloc(qb);
            /* score_ratio's second case (d = 1): the int8 copy of the serving
             * copy, its normalisation folded into layer 0 (ttrank quantize
             * --fold), so that layer reads the raw, non-negative features */
            ttr_model *from = fam == F_RATIO && d ? c->serve : c->model;
            if (!c->s8_arena || ttr_model_quantize(from, &c->serve8, c->s8_arena, qb) != TTR_OK)
                ok = 0;
        }
        break;
    }
    }
    if (!ok) {
        ctx_free(c);
        return -1;
    }
    return 0;
}

/* Fold some outputs into the sink (the calls are external, so this is only
 * belt and braces against a whole-program optimizer). */
static void ctx_sink(const bctx *c)
{
    const float *o[] = {c->y, c->dx, c->dw, c->out, c->dv, c->dq, c->dk, c->xscale};
    float s = 0.0f;
    for (size_t i = 0; i < NELEM(o); i++)
        if (o[i])
            s += o[i][0];
    if (c->q8)
        s += (float)c->q8[0];
    g_sink += s;
}

/* Work of one call: flops (0 when not meaningful), compulsory bytes (inputs
 * read once, outputs written once, accumulated outputs read and written),
 * items (vectors, list items or elements). */
static void metrics(const bkernel *kd, const bshape *s, double *flops, double *bytes,
                    double *items)
{
    double m = (double)s->m, k = (double)s->k, nb = (double)s->batch, d = (double)s->d;
    double n2 = k * k, nd = k * d;
    const char *nm = kd->name;
    *flops = 0.0;
    *bytes = 0.0;
    *items = nb;
    switch (kd->fam) {
    case F_GEMV:
    case F_GEMM:
        *flops = 2.0 * m * k * nb;
        *bytes = 4.0 * ((double)ttr_gemm_f32_packed_size(s->m, s->k) + nb * k + m + nb * m);
        break;
    case F_BWD:
        *flops = 2.0 * m * k * nb;
        if (!strcmp(nm, "backprop_in_f32"))
            *bytes = 4.0 * (m * k + nb * m + nb * k);
        else
            *bytes = 4.0 * (nb * m + nb * k + 2.0 * m * k);
        break;
    case F_QUANT:
        *bytes = nb * (4.0 * k + (double)TTR_S8_KPAD(s->k) + 4.0);
        if (!strcmp(nm, "quantize_norm_s8"))
            *bytes += 8.0 * k; /* mean and scale */
        *items = nb * k;
        break;
    case F_GEMV8:
    case F_GEMM8:
        *flops = 2.0 * m * k * nb;
        *bytes = (double)ttr_gemm_s8_packed_size(s->m, s->k) + nb * (double)TTR_S8_KPAD(s->k) +
                 4.0 * (nb + 2.0 * m + nb * m);
        break;
    case F_ATTN:
        *items = k;
        if (!strcmp(nm, "attn_probs")) {
            *flops = 2.0 * n2 * d;
            *bytes = 4.0 * (2.0 * nd + n2);
        } else if (!strcmp(nm, "attn_apply")) {
            *flops = 2.0 * n2 * d;
            *bytes = 4.0 * (n2 + 2.0 * nd);
        } else if (!strcmp(nm, "attn_fwd")) {
            *flops = 4.0 * n2 * d;
            *bytes = 4.0 * (4.0 * nd + n2);
        } else if (!strcmp(nm, "attn_apply_bwd")) {
            *flops = 4.0 * n2 * d;
            *bytes = 4.0 * (3.0 * n2 + 4.0 * nd);
        } else { /* attn_probs_bwd */
            *flops = 4.0 * n2 * d;
            *bytes = 4.0 * (3.0 * n2 + 6.0 * nd);
        }
        break;
    case F_TRAIN:
        *items = nb * 10; /* list items per step; lists per second = batch / ns */
        break;
    case F_SCORE:
    case F_RATIO:
        *items = nb;
        *flops = 2.0 * nb * (46.0 * 64 + 64.0 * 32 + 32.0); /* the tower's products */
        break;
    case F_VEC:
        *items = k;
        if (!strcmp(nm, "axpy")) {
            *flops = 2.0 * k;
            *bytes = 12.0 * k;
        } else if (!strcmp(nm, "dot")) {
            *flops = 2.0 * k;
            *bytes = 8.0 * k;
        } else if (!strcmp(nm, "adam")) {
            *bytes = 28.0 * k; /* read w g m v, write w m v */
        } else if (!strcmp(nm, "momentum")) {
            *bytes = 20.0 * k; /* read w g vel, write w vel */
        } else if (!strcmp(nm, "scale")) {
            *flops = k;
            *bytes = 8.0 * k;
        } else if (!strcmp(nm, "relu_bwd")) {
            *bytes = 12.0 * k;
        } else {
            *bytes = 8.0 * k;
        }
        break;
    }
}

static void shape_text(const bkernel *kd, const bshape *s, char *buf, size_t len)
{
    switch (kd->fam) {
    case F_GEMV:
    case F_GEMV8:
        snprintf(buf, len, "%zux%zu", s->m, s->k);
        break;
    case F_GEMM:
    case F_GEMM8:
    case F_BWD:
        snprintf(buf, len, "%zux%zu b%zu", s->m, s->k, s->batch);
        break;
    case F_QUANT:
        snprintf(buf, len, "k%zu b%zu", s->k, s->batch);
        break;
    case F_ATTN:
        snprintf(buf, len, "n%zu d%zu", s->k, s->d);
        break;
    case F_VEC:
        snprintf(buf, len, "n%zu", s->k);
        break;
    case F_TRAIN:
        snprintf(buf, len, "%zu list%s x10", s->batch, s->batch > 1 ? "s" : "");
        break;
    case F_SCORE:
        snprintf(buf, len, "%zu items", s->batch);
        break;
    case F_RATIO:
        snprintf(buf, len, "%zu items%s", s->batch, s->d ? " fold" : "");
        break;
    }
}

/* Arena bytes of the reference configuration per variant (train with
 * batches of 16 lists, the serving copy, the int8 copy and its share of the
 * serving copy's). */
static void print_arena(const bopts *o)
{
    static const char *const names[] = {"naive", "additive", "pal", "dot", "mixem", "xpa"};
    if (!o->json)
        printf("\n# arena bytes, reference configuration (46 features, relevance 64-32, "
               "lists <= 10, batches of 16)\n%-10s %12s %12s %12s %9s\n", "variant", "train",
               "serve_f32", "serve_s8", "s8/f32");
    for (int v = 0; v < 6; v++) {
        ttr_config cfg;
        reference_config(&cfg, (ttr_variant)v, 16);
        size_t tb = ttr_arena_bytes(&cfg, TTR_MODE_TRAIN), sb = ttr_arena_bytes(&cfg, TTR_MODE_SERVE_F32);
        size_t qb = ttr_arena_bytes(&cfg, TTR_MODE_SERVE_S8);
        double share = sb ? 100.0 * (double)qb / (double)sb : 0.0;
        if (o->json)
            printf("{\"kernel\":\"arena\",\"variant\":\"%s\",\"train_bytes\":%zu,"
                   "\"serve_f32_bytes\":%zu,\"serve_s8_bytes\":%zu}\n", names[v], tb, sb, qb);
        else
            printf("%-10s %12zu %12zu %12zu %8.1f%%\n", names[v], tb, sb, qb, share);
    }
}

/* ------------------------------------------------------------------------
 * CPU description
 * ------------------------------------------------------------------------ */

static void trim_copy(char *dst, size_t len, const char *src)
{
    while (*src == ' ' || *src == '\t')
        src++;
    size_t n = strlen(src);
    while (n && (src[n - 1] == ' ' || src[n - 1] == '\t' || src[n - 1] == '\n' ||
                 src[n - 1] == '\r'))
        n--;
    if (n >= len)
        n = len - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* Append src to the string in dst (size len), truncating. */
static void str_append(char *dst, size_t len, const char *src)
{
    size_t n = strlen(dst), m = strlen(src);
    if (n + 1 >= len)
        return;
    if (m > len - 1 - n)
        m = len - 1 - n;
    memcpy(dst + n, src, m);
    dst[n + m] = '\0';
}

#if !defined(__x86_64__) && !defined(__i386__)
static const char *arm_part_name(unsigned impl, unsigned part)
{
    static const struct {
        unsigned part;
        const char *name;
    } arm[] = {
        {0xc05, "Cortex-A5"},   {0xc07, "Cortex-A7"},   {0xc08, "Cortex-A8"},
        {0xc09, "Cortex-A9"},   {0xc0d, "Cortex-A12"},  {0xc0e, "Cortex-A17"},
        {0xc0f, "Cortex-A15"},  {0xd03, "Cortex-A53"},  {0xd04, "Cortex-A35"},
        {0xd05, "Cortex-A55"},  {0xd07, "Cortex-A57"},  {0xd08, "Cortex-A72"},
        {0xd09, "Cortex-A73"},  {0xd0a, "Cortex-A75"},  {0xd0b, "Cortex-A76"},
        {0xd0c, "Neoverse-N1"}, {0xd0d, "Cortex-A77"},  {0xd40, "Neoverse-V1"},
        {0xd41, "Cortex-A78"},  {0xd44, "Cortex-X1"},   {0xd46, "Cortex-A510"},
        {0xd47, "Cortex-A710"}, {0xd48, "Cortex-X2"},   {0xd49, "Neoverse-N2"},
        {0xd4b, "Cortex-A78C"}, {0xd4d, "Cortex-A715"}, {0xd4e, "Cortex-X3"},
    };
    if (impl != 0x41)
        return NULL;
    for (size_t i = 0; i < NELEM(arm); i++)
        if (arm[i].part == part)
            return arm[i].name;
    return NULL;
}
#endif

/* Best effort from /proc/cpuinfo (and the device tree): "model name", the
 * ARM core names from "CPU implementer"/"CPU part", the board or SoC. */
static void cpu_name_proc(char *out, size_t len)
{
    char line[512], model[160] = "", hardware[160] = "", parts[200] = "", board[160] = "";
    unsigned impl = 0;
    int x86_fields = 0; /* an x86 /proc/cpuinfo: an ARM build runs under emulation */
    FILE *f = fopen("/proc/cpuinfo", "r");
    out[0] = '\0';
    if (f) {
        while (fgets(line, sizeof line, f)) {
            char *colon = strchr(line, ':');
            if (!colon)
                continue;
            *colon = '\0';
            char key[64], val[160];
            trim_copy(key, sizeof key, line);
            trim_copy(val, sizeof val, colon + 1);
            if (!strcmp(key, "model name") && !model[0])
                str_append(model, sizeof model, val);
            else if (!strcmp(key, "vendor_id"))
                x86_fields = 1;
            else if (!strcmp(key, "Hardware") && !hardware[0])
                str_append(hardware, sizeof hardware, val);
            else if (!strcmp(key, "CPU implementer"))
                impl = (unsigned)strtoul(val, NULL, 0);
            else if (!strcmp(key, "CPU part")) {
                char name[48] = "";
                unsigned part = (unsigned)strtoul(val, NULL, 0);
                const char *known = NULL;
#if !defined(__x86_64__) && !defined(__i386__)
                known = arm_part_name(impl, part);
#endif
                if (known)
                    str_append(name, sizeof name, known);
                else
                    snprintf(name, sizeof name, "0x%02x:0x%03x", impl, part);
                if (!strstr(parts, name) && strlen(parts) + strlen(name) + 4 < sizeof parts) {
                    if (parts[0])
                        strcat(parts, " + ");
                    strcat(parts, name);
                }
            }
        }
        fclose(f);
    }
    f = fopen("/proc/device-tree/model", "r");
    if (f) {
        size_t n = fread(board, 1, sizeof board - 1, f);
        board[n] = '\0'; /* the device tree string is NUL-terminated already */
        fclose(f);
    }
    if (!board[0])
        str_append(board, sizeof board, hardware);
    const char *core = parts[0] ? parts : model;
    out[0] = '\0';
#if !defined(__x86_64__) && !defined(__i386__)
    if (x86_fields && !parts[0]) {
        str_append(out, len, "emulated on ");
        str_append(out, len, model[0] ? model : "x86");
        return;
    }
#else
    (void)x86_fields;
#endif
    str_append(out, len, core[0] ? core : board);
    if (core[0] && board[0]) {
        str_append(out, len, " (");
        str_append(out, len, board);
        str_append(out, len, ")");
    }
}

static void cpu_name(char *out, size_t len)
{
    out[0] = '\0';
#if defined(__x86_64__) || defined(__i386__)
    unsigned r[12], a, b, c, d;
    if (__get_cpuid(0x80000000u, &a, &b, &c, &d) && a >= 0x80000004u) {
        char brand[49];
        for (unsigned i = 0; i < 3; i++)
            __get_cpuid(0x80000002u + i, &r[4 * i], &r[4 * i + 1], &r[4 * i + 2], &r[4 * i + 3]);
        memcpy(brand, r, 48);
        brand[48] = '\0';
        trim_copy(out, len, brand);
    }
#endif
    if (!out[0])
        cpu_name_proc(out, len);
    if (!out[0])
        snprintf(out, len, "unknown");
}

static const char *arch_name(void)
{
#if defined(__x86_64__)
    return "x86_64";
#elif defined(__i386__)
    return "i386";
#elif defined(__aarch64__)
    return "aarch64";
#elif defined(__arm__)
    return "armv7";
#else
    return "unknown";
#endif
}

/* The 1-minute load average (Linux), or -1: other work on the machine skews
 * the times, so the header records it. */
static double load_average(void)
{
    double l = -1.0;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &l) != 1)
            l = -1.0;
        fclose(f);
    }
    return l;
}

static void compiler_name(char *out, size_t len)
{
#if defined(__clang__)
    trim_copy(out, len, "clang " __clang_version__);
#elif defined(__GNUC__)
    trim_copy(out, len, "gcc " __VERSION__);
#else
    trim_copy(out, len, "unknown");
#endif
}

/* The ladder of cumulative masks, lowest first (as tests/testutil.c). */
static const struct {
    const char *name;
    unsigned mask;
} g_ladder[] = {
    {"scalar", 0},
    {"avx2", TTR_CPU_AVX2},
    {"avxvnni", TTR_CPU_AVX2 | TTR_CPU_AVXVNNI},
    {"neon", TTR_CPU_NEON},
    {"neonfma", TTR_CPU_NEON | TTR_CPU_NEON_FMA},
    {"neondot", TTR_CPU_NEON | TTR_CPU_NEON_FMA | TTR_CPU_NEON_DOT},
};
#define B_NLADDER NELEM(g_ladder)

static int ladder_supported(size_t i)
{
    return (g_ladder[i].mask & ttr_cpu_detected()) == g_ladder[i].mask;
}

/* ------------------------------------------------------------------------
 * Output
 * ------------------------------------------------------------------------ */

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

static void print_header(const bopts *o)
{
    char cpu[256], cc[128];
    unsigned det = ttr_cpu_detected();
    double load = load_average();
    static const struct {
        unsigned bit;
        const char *name;
    } feat[] = {
        {TTR_CPU_AVX2, "avx2"},
        {TTR_CPU_AVXVNNI, "avxvnni"},
        {TTR_CPU_NEON, "neon"},
        {TTR_CPU_NEON_FMA, "neonfma"},
        {TTR_CPU_NEON_DOT, "neondot"},
    };
    cpu_name(cpu, sizeof cpu);
    compiler_name(cc, sizeof cc);
    if (o->json) {
        int first = 1;
        printf("{\"cpu\":");
        json_string(stdout, cpu);
        printf(",\"arch\":\"%s\",\"features\":[", arch_name());
        for (size_t i = 0; i < NELEM(feat); i++)
            if (det & feat[i].bit) {
                printf("%s\"%s\"", first ? "" : ",", feat[i].name);
                first = 0;
            }
        printf("],\"detected\":%u,\"paths\":[", det);
        first = 1;
        for (size_t i = 0; i < B_NLADDER; i++)
            if (ladder_supported(i)) {
                printf("%s\"%s\"", first ? "" : ",", g_ladder[i].name);
                first = 0;
            }
        printf("],\"compiler\":");
        json_string(stdout, cc);
        printf(",\"samples\":%d,\"min_time_us\":%.1f,\"reps\":%ld,\"quick\":%s", o->samples,
               o->min_time_ns / 1e3, o->reps, o->quick ? "true" : "false");
        if (load >= 0.0)
            printf(",\"loadavg\":%.2f", load);
        printf(",\"clock\":\"%s\"}\n", o->cpu_clock ? "cpu" : "monotonic");
    } else {
        printf("# ttrank bench | cpu: %s | arch: %s | features:", cpu, arch_name());
        int any = 0;
        for (size_t i = 0; i < NELEM(feat); i++)
            if (det & feat[i].bit) {
                printf(" %s", feat[i].name);
                any = 1;
            }
        printf("%s | compiler: %s", any ? "" : " none", cc);
        if (load >= 0.0)
            printf(" | load: %.2f", load);
        printf("\n");
        if (o->reps > 0)
            printf("# ns: median over %d samples of %ld call%s each", o->samples, o->reps,
                   o->reps == 1 ? "" : "s");
        else
            printf("# ns: median over %d samples of >= %.0f us each", o->samples,
                   o->min_time_ns / 1e3);
        printf(", per call, warm cache%s; speedup = scalar ns / ns (same run)%s\n",
               o->cpu_clock ? ", thread CPU time" : "", o->quick ? "; --quick: smoke test only" : "");
        printf("%-15s %-12s %-14s %12s %9s %8s %8s\n", "kernel", "isa", "shape", "ns/call",
               "GFLOP/s", "GB/s", "speedup");
    }
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (!o->quick && ncpu > 0 && load >= (double)ncpu) {
        fflush(stdout);
        fprintf(stderr, "ttrank bench: warning: load average %.2f on %ld CPUs: other work skews "
                        "the times\n",
                load, ncpu);
    }
    fflush(stdout);
}

static void print_row(const bopts *o, const bkernel *kd, const bshape *s, const char *isa,
                      const char *mask, double ns, double speedup, long reps, int samples)
{
    double flops, bytes, items;
    metrics(kd, s, &flops, &bytes, &items);
    if (o->json) {
        printf("{\"kernel\":\"%s\",\"isa\":\"%s\",\"m\":%zu,\"n\":%zu,\"batch\":%zu,\"ns\":%.1f",
               kd->name, isa, s->m, s->k, s->batch, ns);
        if (flops > 0)
            printf(",\"gflops\":%.3f", flops / ns);
        if (kd->fam == F_ATTN)
            printf(",\"d\":%zu", s->d);
        printf(",\"gbps\":%.3f,\"items\":%.0f,\"speedup\":%.2f,\"mask\":\"%s\",\"reps\":%ld,"
               "\"samples\":%d}\n",
               bytes / ns, items, speedup, mask, reps, samples);
    } else {
        char shape[48], gf[16];
        shape_text(kd, s, shape, sizeof shape);
        if (flops > 0)
            snprintf(gf, sizeof gf, "%9.2f", flops / ns);
        else
            snprintf(gf, sizeof gf, "%9s", "-");
        printf("%-15s %-12s %-14s %12.1f %s %8.2f %8.2f\n", kd->name, isa, shape, ns, gf,
               bytes / ns, speedup);
    }
    fflush(stdout);
}

/* ------------------------------------------------------------------------
 * Timing
 * ------------------------------------------------------------------------ */

static clockid_t g_clock = CLOCK_MONOTONIC;

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(g_clock, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static double time_reps(brun_fn fn, bctx *c, long reps)
{
    double t0 = now_ns();
    for (long r = 0; r < reps; r++)
        fn(c);
    return now_ns() - t0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median ns of one call of fn; stores the calls per sample and samples used. */
static double measure(brun_fn fn, bctx *c, const bopts *o, long *reps_out, int *samples_out)
{
    double t[256];
    long reps = o->reps;
    double per_sample;
    fn(c); /* warm-up: caches, branch predictors, page faults */
    if (reps > 0) {
        per_sample = time_reps(fn, c, reps);
    } else {
        reps = 1;
        for (;;) {
            per_sample = time_reps(fn, c, reps);
            if (per_sample >= o->min_time_ns || reps >= (1L << 28))
                break;
            double grow = 1.25 * o->min_time_ns / (per_sample > 1.0 ? per_sample : 1.0);
            long next = grow > 100.0 ? reps * 100 : (long)((double)reps * grow) + 1;
            reps = next > reps ? next : reps + 1;
        }
    }
    int samples = o->samples;
    if (per_sample * samples > B_BUDGET_NS && samples > B_MIN_SAMPLES) {
        int fit = (int)(B_BUDGET_NS / (per_sample > 1.0 ? per_sample : 1.0));
        samples = fit > B_MIN_SAMPLES ? fit : B_MIN_SAMPLES;
    }
    for (int i = 0; i < samples; i++)
        t[i] = time_reps(fn, c, reps) / (double)reps;
    qsort(t, (size_t)samples, sizeof t[0], cmp_double);
    *reps_out = reps;
    *samples_out = samples;
    double med = samples % 2 ? t[samples / 2] : 0.5 * (t[samples / 2 - 1] + t[samples / 2]);
    return med > 1e-3 ? med : 1e-3; /* a coarse clock can read 0: keep the rates finite */
}

/* The path of a kernel under the current mask ("a+b" when attn_fwd's two
 * kernels run different paths). */
static void kernel_isa(const bkernel *kd, char *buf, size_t len)
{
    const char *a = ttr_kernel_isa((ttr_kernel_id)kd->id);
    const char *b = kd->id2 >= 0 ? ttr_kernel_isa((ttr_kernel_id)kd->id2) : NULL;
    if (!a)
        a = "?";
    if (b && strcmp(a, b))
        snprintf(buf, len, "%s+%s", a, b);
    else
        snprintf(buf, len, "%s", a);
}

/* score_ratio: per path of the ladder, ttr_score of the same items with the
 * f32 serving copy and with the int8 copy, their samples interleaved (f32,
 * int8, f32, ...) so that both see the same machine; one row per path with
 * both medians and f32 / int8. */
static int bench_ratio(const bopts *o, const bkernel *kd, const bshape *s)
{
    bctx c;
    char shape[48];
    if (ctx_setup(&c, kd, s) != 0)
        return -1;
    shape_text(kd, s, shape, sizeof shape);
    for (size_t li = 0; li < B_NLADDER; li++) {
        if (!ladder_supported(li) || (o->isa_given && g_ladder[li].mask != o->isa_mask))
            continue;
        ttr_set_cpu_mask(g_ladder[li].mask);
        double tf[256], tq[256];
        long rf, rq;
        int nf, nq;
        /* calibrate each, then interleave samples with the calibrated counts */
        (void)measure(run_score, &c, o, &rf, &nf);
        (void)measure(run_score_s8, &c, o, &rq, &nq);
        int ns = nf < nq ? nf : nq;
        for (int i = 0; i < ns; i++) {
            tf[i] = time_reps(run_score, &c, rf) / (double)rf;
            tq[i] = time_reps(run_score_s8, &c, rq) / (double)rq;
        }
        qsort(tf, (size_t)ns, sizeof tf[0], cmp_double);
        qsort(tq, (size_t)ns, sizeof tq[0], cmp_double);
        double mf = ns % 2 ? tf[ns / 2] : 0.5 * (tf[ns / 2 - 1] + tf[ns / 2]);
        double mq = ns % 2 ? tq[ns / 2] : 0.5 * (tq[ns / 2 - 1] + tq[ns / 2]);
        const char *isa = ttr_kernel_isa(TTR_K_GEMM_S8_RELU_Q);
        if (o->json)
            printf("{\"kernel\":\"%s\",\"isa\":\"%s\",\"m\":%zu,\"n\":%zu,\"batch\":%zu,"
                   "\"folded\":%d,\"f32_ns\":%.1f,\"s8_ns\":%.1f,\"ratio\":%.3f,\"mask\":\"%s\","
                   "\"samples\":%d}\n",
                   kd->name, isa, s->m, s->k, s->batch, s->d ? 1 : 0, mf, mq, mf / mq,
                   g_ladder[li].name, ns);
        else
            printf("%-15s %-12s %-14s f32 %10.1f ns  int8 %10.1f ns  f32/int8 %5.2f\n", kd->name,
                   isa, shape, mf, mq, mf / mq);
        fflush(stdout);
    }
    ctx_sink(&c);
    ctx_free(&c);
    return 0;
}

/* One (kernel, shape) on every selected mask. Returns 0, or -1 on OOM. */
static int bench_case(const bopts *o, const bkernel *kd, const bshape *s)
{
    if (kd->fam == F_RATIO)
        return bench_ratio(o, kd, s);
    bctx c;
    char isas[B_NLADDER][B_ISA_LEN];
    double isa_ns[B_NLADDER];
    long isa_reps[B_NLADDER];
    int isa_samples[B_NLADDER];
    int nisa = 0;
    double scalar_ns = 0.0, restore_ns = 0.0;

    if (ctx_setup(&c, kd, s) != 0)
        return -1;
    if (kd->run == run_attn_probs_bwd) {
        long r;
        int n;
        restore_ns = measure(run_restore_dp, &c, o, &r, &n);
    }
    for (size_t li = 0; li < B_NLADDER; li++) {
        if (!ladder_supported(li))
            continue;
        int report = !o->isa_given || g_ladder[li].mask == o->isa_mask;
        if (li != 0 && !report)
            continue; /* the scalar reference is always timed, for "speedup" */
        char isa[B_ISA_LEN];
        ttr_set_cpu_mask(g_ladder[li].mask);
        kernel_isa(kd, isa, sizeof isa);
        int seen = -1;
        for (int i = 0; i < nisa; i++)
            if (!strcmp(isas[i], isa))
                seen = i;
        if (seen >= 0 && !o->isa_given)
            continue; /* same path as a lower mask: nothing new to time */
        if (seen < 0) {
            double ns = measure(kd->run, &c, o, &isa_reps[nisa], &isa_samples[nisa]);
            if (restore_ns > 0.0) {
                /* keep at least 1% of the raw time: never 0 or negative */
                ns = ns - restore_ns > 0.01 * ns ? ns - restore_ns : 0.01 * ns;
            }
            snprintf(isas[nisa], B_ISA_LEN, "%s", isa);
            isa_ns[nisa] = ns;
            seen = nisa++;
        }
        if (li == 0)
            scalar_ns = isa_ns[seen];
        if (report)
            print_row(o, kd, s, isa, g_ladder[li].name, isa_ns[seen],
                      isa_ns[seen] > 0.0 ? scalar_ns / isa_ns[seen] : 0.0, isa_reps[seen],
                      isa_samples[seen]);
    }
    ctx_sink(&c);
    ctx_free(&c);
    return 0;
}

/* ------------------------------------------------------------------------
 * Command line
 * ------------------------------------------------------------------------ */

static void usage(FILE *f)
{
    fputs(
        "Usage: ttrank bench [OPTIONS]\n"
        "\n"
        "Time the numeric kernels (ttr_kernels.h) on this CPU: every kernel, on every ISA\n"
        "path the CPU supports, over the shapes of the ranking towers and the attention\n"
        "layer. Each kernel and shape is timed on the scalar reference first, then under\n"
        "each faster CPU mask (x86: avx2, avxvnni; ARM: neon, neonfma, neondot); a mask\n"
        "whose path for that kernel was already timed is skipped. Single-threaded; the\n"
        "bench sets the CPU mask itself (TTR_CPU_MASK is ignored: use --isa).\n"
        "\n"
        "Options:\n"
        "  --json             one JSON object per line instead of the table: first a\n"
        "                     header {\"cpu\",\"arch\",\"features\",\"detected\",\"paths\",\n"
        "                     \"compiler\",\"loadavg\",...}, then one line per kernel,\n"
        "                     shape and path (rows have a \"kernel\" field, the header not)\n"
        "  --isa NAME         report only the mask NAME: scalar, avx2, avxvnni, neon,\n"
        "                     neonfma or neondot (must be supported by this CPU). The\n"
        "                     scalar reference is still timed for \"speedup\"; a kernel\n"
        "                     without a NAME path shows the path it falls back to under\n"
        "                     that mask.\n"
        "  --kernel LIST      only these kernels (comma-separated, see below)\n"
        "  --quick            smoke test (e.g. under qemu, where times mean nothing): the\n"
        "                     two smallest shapes per kernel, 3 samples of 1 call\n"
        "  --reps N           N calls per sample (default: calibrated by --min-time)\n"
        "  --samples N        samples per measurement, 1..255 (default 21; fewer, but at\n"
        "                     least 7, when one measurement would take over 1 s)\n"
        "  --min-time US      calls per sample calibrated so that a sample lasts at least\n"
        "                     US microseconds (default 50)\n"
        "  --clock CLOCK      monotonic (default): wall time, CLOCK_MONOTONIC; cpu: this\n"
        "                     thread's CPU time (CLOCK_THREAD_CPUTIME_ID), which leaves\n"
        "                     out the time other processes hold the core (busy machines)\n"
        "  --list             print the kernels and shapes that would run, and exit\n"
        "  -h, --help         print this help and exit\n"
        "\n"
        "Kernels (dense layers: m outputs x n inputs, batch vectors per call):\n"
        "  gemv_f32         ttr_gemv_f32: packed W, bias, ReLU; batch 1\n"
        "  gemm_f32         ttr_gemm_f32: the same for batch 10, 100, 200 (list sizes)\n"
        "  backprop_in_f32  ttr_backprop_input_f32: dX = dY W (overwrite); batch 10, 100\n"
        "  outer_acc_f32    ttr_outer_acc_f32: dW += dY^T X; batch 10, 100\n"
        "  quantize_s8      ttr_quantize_s8: batch rows (1, 100) of n floats (m = 1)\n"
        "  quantize_norm_s8 ttr_quantize_norm_s8: the same rows, normalised on the way\n"
        "  gemv_s8          ttr_gemv_s8: packed int8 W, bias, ReLU; batch 1\n"
        "  gemm_s8          ttr_gemm_s8: the same for batch 10, 100, 200\n"
        "  gemm_s8_relu_q   ttr_gemm_s8_relu_q: the same shapes, int8 output\n"
        "  attn_probs       ttr_attn_probs_f32: scores + softmax, no key mask\n"
        "  attn_apply       ttr_attn_apply_f32: P V\n"
        "  attn_fwd         attn_probs then attn_apply (isa \"a+b\" if they differ)\n"
        "  attn_apply_bwd   ttr_attn_apply_bwd_f32: dP += dOut V^T, dV += P^T dOut\n"
        "  attn_probs_bwd   ttr_attn_probs_bwd_f32: dS, dQ, dK. It overwrites its dP\n"
        "                   input, so each call is preceded by a copy restoring dP; the\n"
        "                   copy is timed on its own and its median subtracted.\n"
        "                   (attention: m = n = list items 10..200, d = width of q, k, v\n"
        "                   8, 16, 32)\n"
        "  vexp, vsigmoid, vsoftplus   element-wise on n floats in [-8, 8]\n"
        "  relu_bwd, axpy, scale, dot  the other vector helpers (n = 64..4096, m = 1)\n"
        "  adam, momentum        optimizer steps over n parameters\n"
        "  train_naive, train_additive, train_pal, train_dot, train_mixem, train_xpa\n"
        "                        one ttr_train step on 1 or 16 lists of 10 items, reference\n"
        "                        configuration (46 features, relevance 64-32); lists/s = batch/ns\n"
        "  score_f32             ttr_score of 1, 10, 100 items with a serving copy; features\n"
        "                        in [0, 1) (LETOR-like), normalisation mean 0.5, scale\n"
        "                        sqrt(12) (what training would set)\n"
        "  score_s8              the same with its int8 copy (ttr_model_quantize), which\n"
        "                        keeps the normalisation: its first layer reads signed values\n"
        "  score_ratio           score_f32 and score_s8 of 100 items, samples interleaved,\n"
        "                        one row per path: both medians and f32/int8; then the same\n"
        "                        with the int8 copy of the serving copy (\"fold\": the\n"
        "                        normalisation folded into layer 0, ttrank quantize --fold)\n"
        "  arena                 arena bytes per variant (train, serve_f32, serve_s8), no timing\n"
        "\n"
        "Timing: one warm-up call, then the calls per sample R are calibrated (unless\n"
        "--reps) so that a sample lasts >= --min-time; each sample times R back-to-back\n"
        "calls with clock_gettime(CLOCK_MONOTONIC, or see --clock) on the same 64-byte\n"
        "aligned buffers (deterministic pseudo-random data, warm cache). ns = median\n"
        "over the samples of sample time / R: the time of one call.\n"
        "\n"
        "Columns and JSON fields:\n"
        "  kernel, isa      kernel name; its path (ttr_kernel_isa()) under the mask\n"
        "  m, n, batch      shape as above; \"d\" too for attention kernels\n"
        "  ns               median time of one call, in nanoseconds\n"
        "  gflops           GFLOP/s, counting 2 flops per multiply-add of the matrix\n"
        "                   products only: 2*m*n*batch for dense layers (int8 operations,\n"
        "                   i.e. GOP/s, for gemv_s8/gemm_s8), 2*n*n*d per attention\n"
        "                   product (probs 1, apply 1, fwd 2, apply_bwd 2, probs_bwd 2;\n"
        "                   softmax not counted), 2n for axpy and dot, n for scale.\n"
        "                   Omitted (\"-\" in the table) for quantize_s8(_norm), vexp, vsigmoid,\n"
        "                   vsoftplus and relu_bwd, where flops mean nothing.\n"
        "  gbps             GB/s: bytes one call must move (inputs read once, outputs\n"
        "                   written once, accumulated outputs read and written) / ns.\n"
        "                   Data stay in cache between calls: not DRAM bandwidth.\n"
        "  items            per call: vectors (dense layers), list items (attention),\n"
        "                   elements (quantize_s8: batch*n; vector helpers: n)\n"
        "  speedup          scalar ns / ns, same kernel and shape, same run\n"
        "  mask             JSON only: the mask the row was timed under\n"
        "  reps, samples    JSON only: calls per sample and samples taken\n",
        f);
}

/* "--name VALUE" or "--name=VALUE". Returns 1 and sets *val when arg is the
 * option (*val NULL if its value is missing), 0 otherwise. */
static int opt_value(const char *arg, const char *name, int argc, char **argv, int *i,
                     const char **val)
{
    size_t n = strlen(name);
    if (strncmp(arg, name, n))
        return 0;
    if (arg[n] == '=') {
        *val = arg + n + 1;
        return 1;
    }
    if (arg[n] != '\0')
        return 0;
    *val = *i + 1 < argc ? argv[++*i] : NULL;
    return 1;
}

static int parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    if (!s || !*s)
        return -1;
    long v = strtol(s, &end, 10);
    if (*end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static const bkernel *find_kernel(const char *name, size_t len)
{
    for (size_t i = 0; i < B_NKERNELS; i++)
        if (strlen(g_kernels[i].name) == len && !strncmp(g_kernels[i].name, name, len))
            return &g_kernels[i];
    return NULL;
}

/* Is kernel kd in the comma-separated list (NULL: all)? */
static int kernel_selected(const char *list, const bkernel *kd)
{
    if (!list)
        return 1;
    size_t n = strlen(kd->name);
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, ",");
        if (len == n && !strncmp(p, kd->name, n))
            return 1;
        p += len;
        if (*p == ',')
            p++;
    }
    return 0;
}

static int check_kernel_list(const char *list)
{
    for (const char *p = list;;) {
        size_t len = strcspn(p, ",");
        if (!find_kernel(p, len) && !(len == 5 && !strncmp(p, "arena", 5))) {
            fprintf(stderr, "ttrank bench: unknown kernel '%.*s' (valid:", (int)len, p);
            for (size_t i = 0; i < B_NKERNELS; i++)
                fprintf(stderr, " %s", g_kernels[i].name);
            fprintf(stderr, ")\n");
            return -1;
        }
        p += len;
        if (!*p)
            return 0;
        p++;
    }
}

static int parse_isa(const char *name, unsigned *mask)
{
    static const struct {
        const char *alias, *name;
    } aliases[] = {{"c", "scalar"}, {"none", "scalar"}, {"dotprod", "neondot"}};
    for (size_t i = 0; i < NELEM(aliases); i++)
        if (!strcmp(name, aliases[i].alias))
            name = aliases[i].name;
    for (size_t i = 0; i < B_NLADDER; i++)
        if (!strcmp(name, g_ladder[i].name)) {
            *mask = g_ladder[i].mask;
            if (!ladder_supported(i)) {
                fprintf(stderr, "ttrank bench: ISA path '%s' is not available on this CPU "
                                "(available:", name);
                for (size_t j = 0; j < B_NLADDER; j++)
                    if (ladder_supported(j))
                        fprintf(stderr, " %s", g_ladder[j].name);
                fprintf(stderr, ")\n");
                return 1;
            }
            return 0;
        }
    fprintf(stderr,
            "ttrank bench: unknown ISA path '%s' (scalar, avx2, avxvnni, neon, neonfma, neondot)\n",
            name);
    return 2;
}

static void list_cases(const bopts *o)
{
    bshape shapes[B_MAX_CASES];
    for (size_t ki = 0; ki < B_NKERNELS; ki++) {
        const bkernel *kd = &g_kernels[ki];
        if (!kernel_selected(o->kernels, kd))
            continue;
        int n = make_shapes(kd->fam, shapes);
        if (o->quick && n > 2)
            n = 2;
        printf("%-15s", kd->name);
        for (int i = 0; i < n; i++) {
            char shape[48];
            shape_text(kd, &shapes[i], shape, sizeof shape);
            printf("%s%s", i ? ", " : " ", shape);
        }
        printf("\n");
    }
}

int ttr_bench_main(int argc, char **argv)
{
    bopts o;
    int samples_given = 0, min_time_given = 0;
    memset(&o, 0, sizeof o);
    o.samples = B_DEFAULT_SAMPLES;
    o.min_time_ns = B_DEFAULT_MIN_TIME_US * 1e3;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        long num;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--json")) {
            o.json = 1;
        } else if (!strcmp(a, "--quick")) {
            o.quick = 1;
        } else if (!strcmp(a, "--list")) {
            o.list = 1;
        } else if (opt_value(a, "--isa", argc, argv, &i, &v)) {
            if (!v) {
                fprintf(stderr, "ttrank bench: --isa needs a value\n");
                return 2;
            }
            int rc = parse_isa(v, &o.isa_mask);
            if (rc)
                return rc;
            o.isa_given = 1;
        } else if (opt_value(a, "--kernel", argc, argv, &i, &v)) {
            if (!v) {
                fprintf(stderr, "ttrank bench: --kernel needs a value\n");
                return 2;
            }
            if (check_kernel_list(v))
                return 2;
            o.kernels = v;
        } else if (opt_value(a, "--clock", argc, argv, &i, &v)) {
            if (v && !strcmp(v, "monotonic")) {
                o.cpu_clock = 0;
            } else if (v && !strcmp(v, "cpu")) {
                o.cpu_clock = 1;
            } else {
                fprintf(stderr, "ttrank bench: --clock needs 'monotonic' or 'cpu'\n");
                return 2;
            }
        } else if (opt_value(a, "--reps", argc, argv, &i, &v)) {
            if (parse_long(v, 1, 1L << 30, &num)) {
                fprintf(stderr, "ttrank bench: --reps needs an integer in 1..2^30\n");
                return 2;
            }
            o.reps = num;
        } else if (opt_value(a, "--samples", argc, argv, &i, &v)) {
            if (parse_long(v, 1, 255, &num)) {
                fprintf(stderr, "ttrank bench: --samples needs an integer in 1..255\n");
                return 2;
            }
            o.samples = (int)num;
            samples_given = 1;
        } else if (opt_value(a, "--min-time", argc, argv, &i, &v)) {
            if (parse_long(v, 0, 10000000, &num)) {
                fprintf(stderr, "ttrank bench: --min-time needs microseconds in 0..10000000\n");
                return 2;
            }
            o.min_time_ns = (double)num * 1e3;
            min_time_given = 1;
        } else {
            fprintf(stderr, "ttrank bench: unknown option '%s' (try 'ttrank bench --help')\n",
                    a);
            return 2;
        }
    }
    if (o.quick) {
        if (!samples_given)
            o.samples = 3;
        if (!min_time_given && o.reps == 0)
            o.reps = 1;
    }
    if (o.list) {
        list_cases(&o);
        return 0;
    }

    g_clock = o.cpu_clock ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC;
    unsigned mask_before = ttr_cpu_flags();
    int rc = 0;
    print_header(&o);
    for (size_t ki = 0; ki < B_NKERNELS && rc == 0; ki++) {
        const bkernel *kd = &g_kernels[ki];
        bshape shapes[B_MAX_CASES];
        if (!kernel_selected(o.kernels, kd))
            continue;
        int n = make_shapes(kd->fam, shapes);
        if (o.quick && n > 2)
            n = 2;
        for (int i = 0; i < n; i++)
            if (bench_case(&o, kd, &shapes[i]) != 0) {
                fprintf(stderr, "ttrank bench: out of memory for %s\n", kd->name);
                rc = 1;
                break;
            }
    }
    if (rc == 0 && (!o.kernels || strstr(o.kernels, "arena")))
        print_arena(&o);
    ttr_set_cpu_mask(mask_before);
    return rc;
}
