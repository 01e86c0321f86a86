/* Streaming, mergeable per-feature mean and variance over items, and the
 * normalisation they give (ttr_feature_stats_* in ttrank.h).
 *
 * Welford's update in double: the sum-of-squares formula var = E[x^2] -
 * E[x]^2 cancels catastrophically for a feature whose mean is large against
 * its spread (raw LETOR counts, timestamps), and its error would then be the
 * scale the towers see. Merging uses the pairwise form of the same update
 * (Chan, Golub and LeVeque), so per-thread or per-file statistics combine
 * into those of the union. */
#include <math.h>
#include <string.h>

#include "model.h"

struct ttr_feature_stats {
    uint32_t n_features;
    uint64_t count; /* items added */
    double *mean;   /* n_features running means */
    double *m2;     /* n_features sums of squared deviations from the mean */
};

/* A feature with a smaller variance is treated as constant (scale 0). */
#define MIN_VARIANCE 1e-12

/* The alignment of the struct and its arrays in the caller's buffer. */
static size_t stats_align(void)
{
    return sizeof(double) > sizeof(void *) ? sizeof(double) : sizeof(void *);
}

size_t ttr_feature_stats_bytes(uint32_t n_features)
{
    if (n_features < 1 || n_features > 65536)
        return 0;
    return sizeof(struct ttr_feature_stats) + 2 * (size_t)n_features * sizeof(double) +
           stats_align();
}

int ttr_feature_stats_init(ttr_feature_stats **out, uint32_t n_features, void *buf, size_t bytes)
{
    size_t need = ttr_feature_stats_bytes(n_features);
    if (!out || !buf || !need)
        return TTR_ERR_ARG;
    if (bytes < need)
        return TTR_ERR_NOMEM;
    size_t a = stats_align(), pad = (a - (uintptr_t)buf % a) % a;
    ttr_feature_stats *s = (ttr_feature_stats *)((unsigned char *)buf + pad);
    s->n_features = n_features;
    s->count = 0;
    s->mean = (double *)(s + 1);
    s->m2 = s->mean + n_features;
    memset(s->mean, 0, 2 * (size_t)n_features * sizeof(double));
    *out = s;
    return TTR_OK;
}

int ttr_feature_stats_add(ttr_feature_stats *s, size_t n_items, const float *x, size_t ldx)
{
    if (!s || (n_items && (!x || ldx < s->n_features)))
        return TTR_ERR_ARG;
    uint32_t F = s->n_features;
    /* validate first: on error nothing has been counted */
    for (size_t i = 0; i < n_items; i++)
        for (uint32_t t = 0; t < F; t++)
            if (!isfinite(x[i * ldx + t]))
                return TTR_ERR_NONFINITE;
    for (size_t i = 0; i < n_items; i++) {
        const float *xi = x + i * ldx;
        double inv = 1.0 / (double)++s->count;
        for (uint32_t t = 0; t < F; t++) {
            double d = (double)xi[t] - s->mean[t];
            s->mean[t] += d * inv;
            s->m2[t] += d * ((double)xi[t] - s->mean[t]);
        }
    }
    return TTR_OK;
}

int ttr_feature_stats_merge(ttr_feature_stats *into, const ttr_feature_stats *from)
{
    if (!into || !from || into->n_features != from->n_features)
        return TTR_ERR_ARG;
    if (!from->count)
        return TTR_OK;
    /* read `from` before writing `into`: they may be the same object */
    double na = (double)into->count, nb = (double)from->count, n = na + nb;
    for (uint32_t t = 0; t < into->n_features; t++) {
        double d = from->mean[t] - into->mean[t], mb = from->mean[t], m2b = from->m2[t];
        into->mean[t] = into->count ? into->mean[t] + d * (nb / n) : mb;
        into->m2[t] += m2b + d * d * (na * nb / n);
    }
    into->count += from->count;
    return TTR_OK;
}

uint64_t ttr_feature_stats_count(const ttr_feature_stats *s)
{
    return s ? s->count : 0;
}

int ttr_feature_stats_normalization(const ttr_feature_stats *s, float *mean, float *scale)
{
    if (!s || !mean || !scale || !s->count)
        return TTR_ERR_ARG;
    for (uint32_t t = 0; t < s->n_features; t++) {
        double var = s->m2[t] / (double)s->count;
        mean[t] = (float)s->mean[t];
        scale[t] = var > MIN_VARIANCE ? (float)(1.0 / sqrt(var)) : 0.0f;
    }
    return TTR_OK;
}

int ttr_feature_stats_apply(const ttr_feature_stats *s, ttr_model *m)
{
    if (!s || !m || !s->count || s->n_features != m->cfg.n_features)
        return TTR_ERR_ARG;
    if (m->norm_folded)
        return TTR_ERR_UNSUPPORTED; /* as ttr_set_normalization */
    /* finite by construction (finite inputs, scale at most 1e6) */
    return ttr_feature_stats_normalization(s, m->norm_mean, m->norm_scale);
}
