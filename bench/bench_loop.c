/* `ttrank bench --loop`: what the on-device loop costs (issue targets in
 * docs/performance.md): one ttr_loop_observe per impression against one
 * ttr_train of one list, the promotion check and copy amortised over the
 * impressions between checks, and the loop's bytes, for the reference
 * configuration (46 features, relevance 64-32, lists of 10). Medians of
 * samples measured side by side, alternating. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_private.h"
#include "ttr_loop.h"

#define L_F 46
#define L_N 10
#define L_POOL 512   /* distinct random lists, reused */
#define L_SAMPLES 15

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void loop_config(ttr_config *c, ttr_variant v)
{
    ttr_config_default(c, v, L_F);
    c->hidden[0] = 64;
    c->hidden[1] = 32;
    c->bias_hidden = 0;
    c->weight_decay = 0.0f;
    c->lr = 1e-3f;
    c->max_batch = 16;
    if (v == TTR_XPA) {
        c->rows = 2;
        c->cols = 5;
    }
}

typedef struct pool {
    float x[L_POOL * L_N * L_F];
    uint16_t slots[L_N];
    uint8_t clicks[L_POOL * L_N];
} pool;

static void fill_pool(pool *p)
{
    uint64_t s = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < sizeof p->x / sizeof p->x[0]; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        p->x[i] = (float)((s >> 40) & 0xffff) / 32768.0f - 1.0f;
    }
    for (size_t i = 0; i < L_POOL * L_N; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        p->clicks[i] = (s >> 60) < 3;
    }
    for (uint16_t j = 0; j < L_N; j++)
        p->slots[j] = j;
}

/* One variant: ns per observe, per one-list train step, per promotion copy. */
static int bench_variant(ttr_variant v, const pool *p, double out[4], size_t *bytes)
{
    ttr_config c;
    ttr_loop_config lc;
    loop_config(&c, v);
    ttr_loop_config_default(&lc);
    *bytes = ttr_loop_bytes(&c, &lc);
    size_t mb = ttr_arena_bytes(&c, TTR_MODE_TRAIN);
    void *lbuf = malloc(*bytes), *mbuf = malloc(mb);
    ttr_loop *L;
    ttr_model *m;
    if (!lbuf || !mbuf || ttr_loop_init(&L, &c, &lc, lbuf, *bytes) ||
        ttr_model_init(&m, &c, TTR_MODE_TRAIN, mbuf, mb)) {
        free(lbuf), free(mbuf);
        return 1;
    }
    double obs[L_SAMPLES], trn[L_SAMPLES], cp[L_SAMPLES];
    const int reps = 512;
    size_t k = 0;
    for (int s = 0; s < L_SAMPLES; s++) {
        double t0 = now_ns();
        for (int r = 0; r < reps; r++, k = (k + 1) % L_POOL)
            (void)ttr_loop_observe(L, L_N, p->x + k * L_N * L_F, L_F, p->slots,
                                   p->clicks + k * L_N, 0, NULL);
        double t1 = now_ns();
        for (int r = 0; r < reps; r++, k = (k + 1) % L_POOL) {
            size_t offs[2] = {0, L_N};
            ttr_batch b = {1, offs, p->x + k * L_N * L_F, L_F, p->slots, p->clicks + k * L_N,
                           NULL};
            (void)ttr_train(m, &b, NULL);
        }
        double t2 = now_ns();
        for (int r = 0; r < 16; r++)
            (void)ttr_loop_promote(L);
        double t3 = now_ns();
        obs[s] = (t1 - t0) / reps;
        trn[s] = (t2 - t1) / reps;
        cp[s] = (t3 - t2) / 16;
    }
    out[0] = median(obs, L_SAMPLES);
    out[1] = median(trn, L_SAMPLES);
    out[2] = median(cp, L_SAMPLES);
    out[3] = out[2] / (lc.window / 16.0); /* a check (and at most a copy) per block */
    free(lbuf), free(mbuf);
    return 0;
}

int bench_loop(const bopts *o)
{
    static const ttr_variant vs[] = {TTR_NAIVE, TTR_ADDITIVE, TTR_PAL, TTR_DOT, TTR_MIXEM,
                                     TTR_XPA};
    static const char *const names[] = {"naive", "additive", "pal", "dot", "mixem", "xpa"};
    pool *p = malloc(sizeof *p);
    if (!p)
        return 1;
    fill_pool(p);
    ttr_loop_config lc;
    ttr_loop_config_default(&lc);
    if (!o->json)
        printf("loop: reference configuration (46 features, relevance 64-32, lists of 10), "
               "loop defaults (buffer %u lists bfloat16, a step of %u new + %u replayed lists "
               "every %u impressions, window %u); gemm_f32 path %s; medians of %d samples\n"
               "%-9s %12s %14s %7s %16s %12s\n",
               (unsigned)lc.capacity, (unsigned)lc.train_every, (unsigned)lc.replay,
               (unsigned)lc.train_every, (unsigned)lc.window,
               ttr_kernel_isa(TTR_K_GEMM_F32), L_SAMPLES, "variant", "observe ns",
               "train(1) ns", "ratio", "promote ns/imp", "loop bytes");
    for (size_t i = 0; i < NELEM(vs); i++) {
        double r[4];
        size_t bytes;
        if (bench_variant(vs[i], p, r, &bytes)) {
            free(p);
            return 1;
        }
        if (o->json)
            printf("{\"loop\":\"%s\",\"isa\":\"%s\",\"observe_ns\":%.0f,\"train1_ns\":%.0f,"
                   "\"ratio\":%.3f,\"promote_ns_per_impression\":%.2f,\"bytes\":%zu}\n",
                   names[i], ttr_kernel_isa(TTR_K_GEMM_F32), r[0], r[1], r[0] / r[1], r[3],
                   bytes);
        else
            printf("%-9s %12.0f %14.0f %7.2f %16.2f %12zu\n", names[i], r[0], r[1], r[0] / r[1],
                   r[3], bytes);
    }
    free(p);
    return 0;
}
