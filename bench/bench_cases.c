/* `ttrank bench`: the kernels it times, their shapes (those of the ranking
 * towers and the attention layer), the buffers of each case with
 * deterministic data, and what each case counts (bench_private.h).
 * Compiled for the baseline: only public kernels, dispatched at run time. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_private.h"

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
 * (bench_run_restore_dp) and subtracted. */
void bench_run_restore_dp(bctx *c)
{
    memcpy(c->dp, c->dp0, c->s.k * c->s.k * sizeof(float));
}
void bench_run_attn_probs_bwd(bctx *c)
{
    size_t n = c->s.k, d = c->s.d;
    bench_run_restore_dp(c);
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
void bench_run_score(bctx *c)
{
    ttr_score(c->serve, c->s.batch, c->x, c->s.k, c->y);
}
void bench_run_score_s8(bctx *c)
{
    ttr_score(c->serve8, c->s.batch, c->x, c->s.k, c->y);
}
/* score_ratio: times bench_run_score and bench_run_score_s8 itself (bench_ratio) */
static void run_score_ratio(bctx *c)
{
    bench_run_score_s8(c);
}

const bkernel g_bench_kernels[] = {
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
    {"attn_probs_bwd", TTR_K_ATTN_PROBS_BWD, -1, F_ATTN, bench_run_attn_probs_bwd},
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
    {"score_f32", TTR_K_GEMM_F32, -1, F_SCORE, bench_run_score},
    {"score_s8", TTR_K_GEMM_S8_RELU_Q, TTR_K_GEMM_S8, F_SCORE, bench_run_score_s8},
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
const size_t g_bench_nkernels = sizeof g_bench_kernels / sizeof g_bench_kernels[0];

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


/* The shapes of a family, smallest first (--quick keeps the first two). */
int bench_make_shapes(enum bfam fam, bshape *out)
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

void bench_ctx_free(bctx *c)
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
int bench_ctx_setup(bctx *c, const bkernel *kd, const bshape *s)
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
        bench_ctx_free(c);
        return -1;
    }
    return 0;
}

/* Fold some outputs into the sink (the calls are external, so this is only
 * belt and braces against a whole-program optimizer). */
void bench_ctx_sink(const bctx *c)
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
void bench_metrics(const bkernel *kd, const bshape *s, double *flops, double *bytes,
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

void bench_shape_text(const bkernel *kd, const bshape *s, char *buf, size_t len)
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
void bench_print_arena(const bopts *o)
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
