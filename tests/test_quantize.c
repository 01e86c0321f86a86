/* int8 serving (ttr_model_quantize + ttr_score on TTR_MODE_SERVE_S8): the
 * weight quantization and its packed layout, the arena (exact size, short
 * buffers, the size budget against f32 serving), ranking agreement with the
 * f32 model on planted data for every variant, and bit-exact scores on every
 * CPU path. Kept small: it also runs under qemu. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "s8_layout.h"
#include "ttrank.h"
#include "testutil.h"

#define QF 8
#define QL 10
#define QLISTS 48

static const ttr_variant q_variants[] = {TTR_NAIVE, TTR_ADDITIVE, TTR_PAL,
                                         TTR_DOT,   TTR_MIXEM,    TTR_XPA};
#define Q_NV (sizeof q_variants / sizeof q_variants[0])

static float q_truth(const float *x)
{
    return 1.2f * x[0] - 0.9f * x[1] + 0.7f * x[2] + 0.5f * x[3] * x[4] + 0.3f * x[5];
}

/* Planted lists: features, a relevance grade 0..4 and position-biased clicks. */
static void q_data(tu_rng *r, size_t lists, float *x, uint8_t *grade, uint16_t *slots,
                   uint8_t *clicks, size_t *offsets)
{
    for (size_t l = 0; l < lists; l++) {
        offsets[l] = l * QL;
        for (size_t i = 0; i < QL; i++) {
            size_t it = l * QL + i;
            float *xi = x + it * QF;
            tu_fill_uniform(r, xi, QF, -1.0f, 1.0f);
            float s = q_truth(xi) + tu_uniform(r, -0.3f, 0.3f);
            uint8_t g = (uint8_t)(s > -0.6f) + (uint8_t)(s > 0.2f) + (uint8_t)(s > 0.9f) +
                        (uint8_t)(s > 1.5f);
            grade[it] = g;
            slots[it] = (uint16_t)i;
            float p = (0.1f + 0.9f * (float)((1 << g) - 1) / 15.0f) / (1.0f + 0.3f * (float)i);
            clicks[it] = tu_uniform(r, 0.0f, 1.0f) < p;
        }
    }
    offsets[lists] = lists * QL;
}

/* A training and a held-out set of QLISTS lists of QL items, and score
 * buffers for the held-out items. */
typedef struct q_sets {
    size_t n;
    float *x, *xt, *s32, *s8, *s8b;
    uint8_t *grade, *gt, *clicks, *ct;
    uint16_t *slots, *st;
    size_t offsets[QLISTS + 1], ot[QLISTS + 1];
} q_sets;

static void q_sets_make(q_sets *d, uint64_t seed)
{
    size_t n = d->n = QLISTS * QL;
    d->x = malloc(n * QF * sizeof(float));
    d->xt = malloc(n * QF * sizeof(float));
    d->s32 = malloc(n * sizeof(float));
    d->s8 = malloc(n * sizeof(float));
    d->s8b = malloc(n * sizeof(float));
    d->grade = malloc(n);
    d->gt = malloc(n);
    d->clicks = malloc(n);
    d->ct = malloc(n);
    d->slots = malloc(n * sizeof(uint16_t));
    d->st = malloc(n * sizeof(uint16_t));
    tu_rng r = tu_rng_seed(seed);
    q_data(&r, QLISTS, d->x, d->grade, d->slots, d->clicks, d->offsets);
    q_data(&r, QLISTS, d->xt, d->gt, d->st, d->ct, d->ot);
}

static void q_sets_free(q_sets *d)
{
    void *p[] = {d->x, d->xt, d->s32, d->s8, d->s8b, d->grade, d->gt, d->clicks, d->ct,
                 d->slots, d->st};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++)
        free(p[i]);
}

static void q_config(ttr_config *c, ttr_variant v, uint32_t n_hidden)
{
    ttr_config_default(c, v, QF);
    c->n_hidden = n_hidden;
    c->hidden[0] = 16;
    c->hidden[1] = 8;
    c->rows = QL;
    c->cols = 1;
    c->embed_dim = 4;
    c->attn_dim = 4;
    c->max_items = QL;
    c->max_batch = 16;
    c->lr = 1e-2f;
    c->seed = 77 + (uint64_t)v;
}

/* Kendall tau-a between two score vectors of n items. */
static double kendall(const float *a, const float *b, int n)
{
    int conc = 0, disc = 0;
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) {
            double s = ((double)a[i] - a[j]) * ((double)b[i] - b[j]);
            conc += s > 0;
            disc += s < 0;
        }
    return (double)(conc - disc) / (n * (n - 1) / 2);
}

static double ndcg(const float *s, const uint8_t *g, int n)
{
    int order[QL], ideal[QL];
    double dcg = 0, idcg = 0;
    for (int i = 0; i < n; i++)
        order[i] = ideal[i] = i;
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0; j--) {
            if (s[order[j]] > s[order[j - 1]]) {
                int t = order[j];
                order[j] = order[j - 1];
                order[j - 1] = t;
            }
            if (g[ideal[j]] > g[ideal[j - 1]]) {
                int t = ideal[j];
                ideal[j] = ideal[j - 1];
                ideal[j - 1] = t;
            }
        }
    for (int i = 0; i < n; i++) {
        dcg += ((1 << g[order[i]]) - 1) / log2(i + 2.0);
        idcg += ((1 << g[ideal[i]]) - 1) / log2(i + 2.0);
    }
    return idcg > 0 ? dcg / idcg : 1.0;
}

/* The folded f32 weight W'[j][t] of relevance layer l of a train model. */
static float folded_w(const ttr_model *m, uint32_t l, uint32_t j, uint32_t t)
{
    const ttr__dense *d = &m->rel[l];
    float w = d->W->w[(size_t)j * d->in + t];
    return l == 0 ? w * m->norm_scale[t] : w;
}

/* The f32 weight an int8 model of m quantizes: folded_w, or with the
 * normalisation kept (int8 models from a train model with hidden layers)
 * layer 0's own weight. */
static float expected_w(const ttr_model *m, uint32_t l, uint32_t j, uint32_t t, int kept)
{
    return l == 0 && kept ? m->rel[0].W->w[(size_t)j * m->rel[0].in + t] : folded_w(m, l, j, t);
}

/* Every layer of int8 model q against train model m: scales, rounding, the
 * packed layout, f32 last layer and biases (layer 0's with the shift of the
 * folded normalisation, or the model's own with it kept). */
static void check_int8_layers(const ttr_model *m, const ttr_model *q, int kept,
                              const float *mean, const char *what)
{
    for (uint32_t l = 0; l < q->n_rel; l++) {
        const ttr__dense *d = &q->rel[l];
        uint32_t in = d->in, out = d->out;
        if (l + 1 == q->n_rel) { /* the f32 last layer */
            cr_assert_null(d->qpacked);
            for (uint32_t j = 0; j < out; j++)
                for (uint32_t t = 0; t < in; t++)
                    cr_assert(d->W->w[(size_t)j * in + t] == expected_w(m, l, j, t, kept), "%s",
                              what);
        } else {
            size_t psz = ttr_gemm_s8_packed_size(out, in);
            int8_t *w8 = malloc((size_t)out * in), *pk = malloc(psz);
            for (uint32_t j = 0; j < out; j++) {
                float mx = 0.0f;
                for (uint32_t t = 0; t < in; t++)
                    mx = fmaxf(mx, fabsf(expected_w(m, l, j, t, kept)));
                float sc = d->wscale[j];
                cr_assert(sc == mx / 127.0f, "%s layer %u row %u: scale %g vs %g", what, l, j,
                          (double)sc, (double)(mx / 127.0f));
                for (uint32_t t = 0; t < in; t++) {
                    int8_t v = d->qpacked[ttr__s8_offset(j, t, TTR_S8_KPAD(in))];
                    double w = expected_w(m, l, j, t, kept);
                    w8[(size_t)j * in + t] = v;
                    cr_assert(v != -128);
                    cr_assert(fabs(w - (double)v * sc) <= 0.5 * sc * (1 + 1e-6) + 1e-30,
                              "%s layer %u [%u][%u]: %g vs %d * %g", what, l, j, t, w, v,
                              (double)sc);
                }
            }
            /* exactly what the public packing gives */
            cr_assert_eq(ttr_gemm_s8_pack(out, in, w8, in, pk), TTR_OK);
            cr_assert(memcmp(pk, d->qpacked, psz) == 0, "%s layer %u: packed layout", what, l);
            free(w8);
            free(pk);
        }
        for (uint32_t j = 0; j < out; j++) {
            double sh = 0;
            if (l == 0 && !kept)
                for (uint32_t t = 0; t < m->rel[0].in; t++)
                    sh += (double)folded_w(m, 0, j, t) * mean[t];
            cr_assert(d->b->w[j] == (float)((double)m->rel[l].b->w[j] - sh), "%s bias %u", what,
                      l);
        }
    }
}

Test(quantize, weights_layout_and_arena)
{
    for (size_t vi = 0; vi < Q_NV; vi++)
        for (uint32_t nh = 0; nh <= 2; nh++) {
            ttr_config c;
            q_config(&c, q_variants[vi], nh);
            c.hidden[0] = 21; /* odd widths: panel and KPAD padding */
            c.hidden[1] = 7;
            size_t tb = ttr_arena_bytes(&c, TTR_MODE_TRAIN);
            size_t fb = ttr_arena_bytes(&c, TTR_MODE_SERVE_F32);
            size_t qb = ttr_arena_bytes(&c, TTR_MODE_SERVE_S8);
            cr_assert(qb > 0 && qb < fb, "variant %d nh %u: %zu vs %zu", c.variant, nh, qb, fb);
            void *ta = tu_alloc(tb, 0), *fa = tu_alloc(fb, 0);
            ttr_model *m, *f, *q, *q2;
            cr_assert_eq(ttr_model_init(&m, &c, TTR_MODE_TRAIN, ta, tb), TTR_OK);
            float mean[QF], scale[QF];
            tu_rng r = tu_rng_seed(5 + vi);
            tu_fill_uniform(&r, mean, QF, -0.5f, 0.5f);
            tu_fill_uniform(&r, scale, QF, 0.2f, 3.0f);
            scale[3] = 0.0f; /* an ignored feature */
            cr_assert_eq(ttr_set_normalization(m, mean, scale), TTR_OK);
            {
                ttr__dense *d0 = &m->rel[0];
                for (size_t i = 0; i < d0->out; i++)
                    d0->b->w[i] = tu_uniform(&r, -0.5f, 0.5f);
                /* a zero row and an exact tie for rounding */
                memset(d0->W->w, 0, d0->in * sizeof(float));
                ttr__repack(m);
            }
            cr_assert_eq(ttr_model_to_serving(m, &f, fa, fb), TTR_OK);

            /* int8 models are not built by init; short buffers write nothing */
            void *qa = tu_alloc(qb, 8);
            cr_assert_eq(ttr_model_init(&q, &c, TTR_MODE_SERVE_S8, qa, qb), TTR_ERR_ARG);
            cr_assert_eq(ttr_model_quantize(m, &q, qa, qb - 1), TTR_ERR_NOMEM);
            cr_assert_eq(ttr_model_quantize(m, NULL, qa, qb), TTR_ERR_ARG);
            cr_assert(tu_untouched_2d(qa, 1, qb, 0, 0, 1), "NOMEM wrote into the buffer");
            cr_assert_eq(ttr_model_quantize(m, &q, qa, qb), TTR_OK);
            cr_assert(tu_guard_ok(qa), "wrote outside the arena");
            cr_assert_eq(ttr_model_mode(q), TTR_MODE_SERVE_S8);
            /* with hidden layers it quantizes normalised features (the
             * normalisation kept, so it can be set); a linear tower folds */
            int kept = q->n_rel > 1;
            cr_assert_eq(ttr_set_normalization(q, mean, scale),
                         kept ? TTR_OK : TTR_ERR_UNSUPPORTED);
            void *qa2 = tu_alloc(qb, 0);
            cr_assert_eq(ttr_model_quantize(q, &q2, qa2, qb), TTR_ERR_ARG);
            check_int8_layers(m, q, kept, mean, "from the train model");
            /* from the serving copy (folded): the normalisation stays folded */
            cr_assert_eq(ttr_model_quantize(f, &q2, qa2, qb), TTR_OK);
            check_int8_layers(m, q2, 0, mean, "from the serving copy");
            if (kept) {
                float km[QF], ks[QF];
                ttr_get_normalization(q, km, ks);
                cr_assert(!memcmp(km, mean, sizeof km) && !memcmp(ks, scale, sizeof ks));
            }
            tu_free(ta);
            tu_free(fa);
            tu_free(qa);
            tu_free(qa2);
        }

    /* the budget: reference tower 46 -> 64 -> 32 -> 1, max_items 10 */
    for (size_t vi = 0; vi < Q_NV; vi++) {
        ttr_config c;
        ttr_config_default(&c, q_variants[vi], 46);
        c.hidden[0] = 64;
        c.hidden[1] = 32;
        c.max_items = 10;
        size_t fb = ttr_arena_bytes(&c, TTR_MODE_SERVE_F32);
        size_t qb = ttr_arena_bytes(&c, TTR_MODE_SERVE_S8);
        cr_log_info("quantize: variant %d: serve f32 %zu bytes, serve int8 %zu (%.1f%%)",
                    c.variant, fb, qb, 100.0 * (double)qb / (double)fb);
        cr_assert(qb * 10 <= fb * 4, "variant %d: int8 arena %zu > 40%% of %zu", c.variant, qb,
                  fb);
    }
}

/* A train model of configuration c (normalisation mean/scale unless NULL)
 * trained 4 epochs on d's lists, its serving copy f and its int8 copy q;
 * d->s32 and d->s8 get their scores of d's test items. */
typedef struct q_models {
    void *ta, *fa, *qa;
    ttr_model *m, *f, *q;
} q_models;

static void q_models_make(q_models *mm, const ttr_config *c, q_sets *d, const float *mean,
                          const float *scale)
{
    size_t tb = ttr_arena_bytes(c, TTR_MODE_TRAIN), fb = ttr_arena_bytes(c, TTR_MODE_SERVE_F32);
    size_t qb = ttr_arena_bytes(c, TTR_MODE_SERVE_S8);
    mm->ta = malloc(tb), mm->fa = malloc(fb), mm->qa = malloc(qb);
    cr_assert_eq(ttr_model_init(&mm->m, c, TTR_MODE_TRAIN, mm->ta, tb), TTR_OK);
    if (mean)
        cr_assert_eq(ttr_set_normalization(mm->m, mean, scale), TTR_OK);
    for (int e = 0; e < 4; e++)
        for (size_t l0 = 0; l0 < QLISTS; l0 += c->max_batch) {
            ttr_batch b = {c->max_batch, d->offsets + l0, d->x, QF, d->slots, d->clicks, NULL};
            cr_assert_eq(ttr_train(mm->m, &b, NULL), TTR_OK);
        }
    cr_assert_eq(ttr_model_to_serving(mm->m, &mm->f, mm->fa, fb), TTR_OK);
    cr_assert_eq(ttr_model_quantize(mm->m, &mm->q, mm->qa, qb), TTR_OK);
    cr_assert_eq(ttr_score(mm->f, d->n, d->xt, QF, d->s32), TTR_OK);
    cr_assert_eq(ttr_score(mm->q, d->n, d->xt, QF, d->s8), TTR_OK); /* n > max_items: chunks */
}

static void q_models_free(q_models *mm)
{
    free(mm->ta);
    free(mm->fa);
    free(mm->qa);
}

Test(quantize, ranking_agreement_and_bit_exact_paths)
{
    q_sets d;
    q_sets_make(&d, 2025);
    size_t n = d.n;
    float *xt = d.xt, *s32 = d.s32, *s8 = d.s8, *s8b = d.s8b;
    uint8_t *gt = d.gt;
    unsigned masks[8];
    const char *names[8];
    int n_masks = tu_masks(masks, names);

    for (size_t vi = 0; vi < Q_NV; vi++) {
        ttr_config c;
        q_config(&c, q_variants[vi], 2);
        q_models mm;
        q_models_make(&mm, &c, &d, NULL, NULL);
        ttr_model *q = mm.q;
        double tau = 0, dn = 0, n32 = 0;
        for (size_t l = 0; l < QLISTS; l++) {
            tau += kendall(s32 + l * QL, s8 + l * QL, QL);
            double a = ndcg(s32 + l * QL, gt + l * QL, QL), b = ndcg(s8 + l * QL, gt + l * QL, QL);
            dn += b - a;
            n32 += a;
        }
        tau /= QLISTS;
        dn /= QLISTS;
        n32 /= QLISTS;
        cr_log_info("quantize: variant %d: mean Kendall tau %.4f, NDCG@10 f32 %.4f, int8 - f32 %+.4f",
                    c.variant, tau, n32, dn);
        cr_assert(tau >= 0.98, "variant %d: Kendall tau %.4f", c.variant, tau);
        cr_assert(fabs(dn) <= 0.01, "variant %d: NDCG difference %.4f", c.variant, dn);

        /* the same bits on every CPU path, whatever the stride */
        for (int mi = 0; mi < n_masks; mi++) {
            ttr_set_cpu_mask(masks[mi]);
            cr_assert_eq(ttr_score(q, n, xt, QF, s8b), TTR_OK);
            cr_assert(memcmp(s8, s8b, n * sizeof(float)) == 0, "variant %d: path %s differs",
                      c.variant, names[mi]);
            cr_assert_eq(ttr_score(q, n / 2, xt, 2 * QF, s8b), TTR_OK);
            for (size_t i = 0; i < n / 2; i++)
                cr_assert(memcmp(&s8b[i], &s8[2 * i], sizeof(float)) == 0, "%s: ldx", names[mi]);
        }
        ttr_set_cpu_mask(TTR_CPU_ALL);

        /* non-finite features are refused, as on the f32 path */
        float bad[2 * QF];
        memcpy(bad, xt, sizeof bad);
        bad[QF + 3] = NAN;
        cr_assert_eq(ttr_score(q, 2, bad, QF, s8b), TTR_ERR_NONFINITE);
        bad[QF + 3] = INFINITY;
        cr_assert_eq(ttr_score(q, 2, bad, QF, s8b), TTR_ERR_NONFINITE);
        cr_assert_eq(ttr_score(q, 1, xt, QF - 1, s8b), TTR_ERR_ARG);
        cr_assert_eq(ttr_score(q, 0, NULL, QF, NULL), TTR_OK);
        q_models_free(&mm);
    }
    q_sets_free(&d);
}

/* Features of very different magnitudes (two scaled by 1000, one shifted by
 * 5000), normalised by the model: the int8 model quantizes the normalised
 * features, so it ranks as the float model does. (With the normalisation
 * folded into layer 0, the raw features would share one per-vector scale
 * and the small ones would round to 0.) */
Test(quantize, unnormalised_features_keep_their_resolution)
{
    q_sets d;
    q_sets_make(&d, 4242);
    size_t n = d.n;
    float *x = d.x, *xt = d.xt, *s32 = d.s32, *s8 = d.s8;
    for (size_t i = 0; i < n; i++) {
        float *rows[2] = {x + i * QF, xt + i * QF};
        for (int k = 0; k < 2; k++) {
            rows[k][0] *= 1000.0f;
            rows[k][1] *= 1000.0f;
            rows[k][2] += 5000.0f;
        }
    }
    /* the per-feature mean and 1/sd of the training features */
    float mean[QF], scale[QF];
    for (int t = 0; t < QF; t++) {
        double s = 0, q = 0;
        for (size_t i = 0; i < n; i++) {
            s += x[i * QF + t];
            q += (double)x[i * QF + t] * x[i * QF + t];
        }
        double mu = s / (double)n, var = q / (double)n - mu * mu;
        mean[t] = (float)mu;
        scale[t] = var > 1e-12 ? (float)(1.0 / sqrt(var)) : 1.0f;
    }
    ttr_config c;
    q_config(&c, TTR_ADDITIVE, 2);
    q_models mm;
    q_models_make(&mm, &c, &d, mean, scale);
    double tau = 0;
    for (size_t l = 0; l < QLISTS; l++)
        tau += kendall(s32 + l * QL, s8 + l * QL, QL);
    tau /= QLISTS;
    cr_log_info("quantize: unnormalised features: mean Kendall tau %.4f", tau);
    cr_assert(tau >= 0.98, "Kendall tau %.4f", tau);
    q_models_free(&mm);
    q_sets_free(&d);
}
