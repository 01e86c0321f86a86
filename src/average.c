/* Fleet averaging (the FedAvg step): the weighted mean of identically
 * configured train models, MixEM components aligned first. */
#include <math.h>
#include <string.h>

#include "model.h"

/* Component c of a MixEM model: its tensors are the ones named "bias<c>.",
 * plus entry c of the gains and mixing logits. */
static int component_of(const ttr__tensor *t)
{
    if (!strncmp(t->name, "bias", 4) && t->name[4] >= '0' && t->name[4] <= '7' &&
        t->name[5] == '.')
        return t->name[4] - '0';
    return -1;
}

static int is_per_component(const ttr_model *m, const ttr__tensor *t)
{
    return t == m->gain || t == m->phi;
}

/* Squared distance between component a of m0 and component b of m. */
static double component_distance(const ttr_model *m0, int a, const ttr_model *m, int b)
{
    double d = 0.0;
    for (uint32_t i = 0; i < m0->n_tensors; i++) {
        const ttr__tensor *t0 = &m0->tensors[i];
        if (is_per_component(m0, t0)) {
            double x = (double)t0->w[a] - m->tensors[i].w[b];
            d += x * x;
        }
    }
    /* bias towers: compare tensor by tensor, found by name suffix */
    for (uint32_t i = 0; i < m0->n_tensors; i++) {
        const ttr__tensor *t0 = &m0->tensors[i];
        if (component_of(t0) != a)
            continue;
        for (uint32_t j = 0; j < m->n_tensors; j++) {
            const ttr__tensor *t1 = &m->tensors[j];
            if (component_of(t1) != b || strcmp(t0->name + 5, t1->name + 5))
                continue;
            for (size_t k = 0; k < (size_t)t0->rows * t0->cols; k++) {
                double x = (double)t0->w[k] - t1->w[k];
                d += x * x;
            }
        }
    }
    return d;
}

/* The permutation perm (component c of m0 <-> perm[c] of m) with the least
 * total distance, by trying them all (K <= 8: 40,320 at most). */
static void best_perm(const double D[TTR_MAX_COMPONENTS][TTR_MAX_COMPONENTS], uint32_t K,
                      uint32_t depth, uint32_t *cur, uint32_t used, double acc, double *best,
                      uint32_t *perm)
{
    if (acc >= *best)
        return;
    if (depth == K) {
        *best = acc;
        memcpy(perm, cur, K * sizeof *perm);
        return;
    }
    for (uint32_t b = 0; b < K; b++)
        if (!(used & (1u << b))) {
            cur[depth] = b;
            best_perm(D, K, depth + 1, cur, used | (1u << b), acc + D[depth][b], best, perm);
        }
}

static void align(const ttr_model *m0, const ttr_model *m, uint32_t *perm)
{
    uint32_t K = m0->cfg.variant == TTR_MIXEM ? m0->cfg.components : 1, cur[TTR_MAX_COMPONENTS];
    double D[TTR_MAX_COMPONENTS][TTR_MAX_COMPONENTS], best = INFINITY;
    for (uint32_t c = 0; c < TTR_MAX_COMPONENTS; c++)
        perm[c] = c;
    if (K < 2)
        return;
    for (uint32_t a = 0; a < K; a++)
        for (uint32_t b = 0; b < K; b++)
            D[a][b] = component_distance(m0, (int)a, m, (int)b);
    best_perm(D, K, 0, cur, 0, 0.0, &best, perm);
}

/* The tensor of m holding what tensor i of m0 holds for component c of
 * m0, after alignment (the same tensor when it is not per component). */
static const ttr__tensor *aligned_tensor(const ttr_model *m0, const ttr_model *m, uint32_t i,
                                         const uint32_t *perm)
{
    const ttr__tensor *t0 = &m0->tensors[i];
    int c = component_of(t0);
    if (c < 0)
        return &m->tensors[i];
    for (uint32_t j = 0; j < m->n_tensors; j++) {
        const ttr__tensor *t1 = &m->tensors[j];
        if (component_of(t1) == (int)perm[c] && !strcmp(t0->name + 5, t1->name + 5))
            return t1;
    }
    return &m->tensors[i]; /* unreachable: the same configuration has the same names */
}

/* The weighted mean of tensor i over the models (each model's aligned
 * tensor) into out, or, with out NULL, only whether it is finite and well
 * inside float. */
static int mean_tensor(const ttr_model *const *models, const double *weights, size_t n,
                       double total, const uint32_t (*perm)[TTR_MAX_COMPONENTS], uint32_t i,
                       float *out)
{
    const ttr_model *m0 = models[0];
    const ttr__tensor *t0 = &m0->tensors[i], *src[64];
    int per_component = is_per_component(m0, t0);
    size_t len = (size_t)t0->rows * t0->cols;
    for (size_t k = 0; k < n; k++)
        src[k] = aligned_tensor(m0, models[k], i, perm[k]);
    for (size_t e = 0; e < len; e++) {
        double s = 0.0;
        for (size_t k = 0; k < n; k++)
            s += (weights ? weights[k] : 1.0) * src[k]->w[per_component ? perm[k][e] : e];
        double mean = s / total;
        if (!out && (!isfinite(mean) || fabs(mean) > 0x1p126))
            return TTR_ERR_NONFINITE;
        if (out)
            out[e] = (float)mean;
    }
    return TTR_OK;
}

static int inputs_ok(ttr_model *out, const ttr_model *const *ms, const double *wts, size_t n)
{
    if (!out || !ms || n < 1 || n > 64 || out->magic != TTR__MAGIC ||
        out->mode != TTR_MODE_TRAIN)
        return TTR_ERR_ARG;
    for (size_t k = 1; k < n; k++)
        if (ms[k] == out)
            return TTR_ERR_ARG; /* out is written as it is read: only models[0] may be out */
    uint32_t F = out->cfg.n_features;
    double total = 0.0;
    for (size_t k = 0; k < n; k++) {
        const ttr_model *m = ms[k];
        if (!m || m->magic != TTR__MAGIC || m->mode != TTR_MODE_TRAIN ||
            !ttr__same_structure(&m->cfg, &out->cfg) || m->n_tensors != out->n_tensors)
            return TTR_ERR_ARG;
        if (memcmp(m->norm_mean, ms[0]->norm_mean, F * sizeof(float)) ||
            memcmp(m->norm_scale, ms[0]->norm_scale, F * sizeof(float)))
            return TTR_ERR_ARG; /* a fleet shares one normalisation */
        if (wts && !(wts[k] >= 0.0 && isfinite(wts[k])))
            return TTR_ERR_ARG;
        total += wts ? wts[k] : 1.0;
    }
    return total > 0.0 ? TTR_OK : TTR_ERR_ARG;
}

int ttr_model_average(ttr_model *out, const ttr_model *const *models, const double *weights,
                      size_t n)
{
    int err = inputs_ok(out, models, weights, n);
    if (err)
        return err;
    const ttr_model *m0 = models[0];
    uint32_t perm[64][TTR_MAX_COMPONENTS];
    double total = 0.0;
    for (size_t k = 0; k < n; k++) {
        align(m0, models[k], perm[k]);
        total += weights ? weights[k] : 1.0;
    }
    /* every value first, into out only when all are finite */
    for (uint32_t i = 0; i < out->n_tensors; i++)
        if ((err = mean_tensor(models, weights, n, total, perm, i, NULL)) != 0)
            return err;
    for (uint32_t i = 0; i < out->n_tensors; i++) {
        ttr__tensor *to = &out->tensors[i];
        size_t len = (size_t)to->rows * to->cols;
        (void)mean_tensor(models, weights, n, total, perm, i, to->w);
        if (to->s1)
            memset(to->s1, 0, len * sizeof(float));
        if (to->s2)
            memset(to->s2, 0, len * sizeof(float));
    }
    uint32_t F = out->cfg.n_features, P = out->n_slots;
    memcpy(out->norm_mean, m0->norm_mean, F * sizeof(float));
    memcpy(out->norm_scale, m0->norm_scale, F * sizeof(float));
    /* running statistics: pooled over the models' own counts */
    if (out->bref_mean) {
        double cnt = 0.0;
        for (uint32_t j = 0; j < out->f_out; j++) {
            double s = 0.0;
            cnt = 0.0;
            for (size_t k = 0; k < n; k++) {
                s += models[k]->bref_count * models[k]->bref_mean[j];
                cnt += models[k]->bref_count;
            }
            out->bref_mean[j] = cnt > 0.0 ? (float)(s / cnt) : 0.0f;
        }
        out->bref_count = cnt;
    }
    if (out->attn_mean)
        for (uint32_t p = 0; p < P; p++) {
            double cnt = 0.0;
            for (size_t k = 0; k < n; k++)
                cnt += models[k]->attn_n[p];
            for (uint32_t q = 0; q < P; q++) {
                double s = 0.0;
                for (size_t k = 0; k < n; k++)
                    s += (double)models[k]->attn_n[p] * models[k]->attn_mean[(size_t)p * P + q];
                out->attn_mean[(size_t)p * P + q] = cnt > 0.0 ? (float)(s / cnt) : 0.0f;
            }
            out->attn_n[p] = (float)cnt;
        }
    uint64_t imp = 0;
    for (size_t k = 0; k < n; k++)
        imp += models[k]->impressions;
    out->impressions = imp;
    out->step = 0;
    out->ub_valid = 0;
    ttr__repack(out);
    return TTR_OK;
}
