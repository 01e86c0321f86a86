/* Ranking metrics: NDCG@k, MRR, click log-likelihood (see ttr_metrics.h). */
#include <math.h>
#include <string.h>

#include "ttr_metrics.h"

/* Stable order of items by score, descending, into idx. */
static void rank_by(size_t n, const float *scores, uint32_t *idx)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t t = (uint32_t)i;
        size_t j = i;
        while (j > 0 && scores[idx[j - 1]] < scores[t]) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = t;
    }
}

static int any_nan(size_t n, const float *s)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != s[i])
            return 1;
    return 0;
}

static double gain(uint8_t y)
{
    return (double)((1u << (y > 31 ? 31 : y)) - 1u);
}

static double discount(size_t rank0)
{
    return 1.0 / log2((double)rank0 + 2.0);
}

int ttr_ndcg(size_t n, const float *scores, const uint8_t *labels, uint32_t k, uint32_t *scratch,
             double *ndcg)
{
    if (!ndcg || k < 1 || (n && (!scores || !labels || !scratch)))
        return TTR_ERR_ARG;
    *ndcg = 0.0;
    if (any_nan(n, scores))
        return TTR_ERR_NONFINITE;
    size_t relevant = 0;
    for (size_t i = 0; i < n; i++)
        relevant += labels[i] > 0;
    if (!relevant)
        return 0;
    /* ideal DCG: labels sorted descending (counting sort over 0..255) */
    double idcg = 0.0;
    size_t rank = 0;
    for (int y = 255; y > 0 && rank < k; y--)
        for (size_t i = 0; i < n && rank < k; i++)
            if (labels[i] == y)
                idcg += gain((uint8_t)y) * discount(rank++);
    rank_by(n, scores, scratch);
    double dcg = 0.0;
    for (size_t r = 0; r < n && r < k; r++)
        dcg += gain(labels[scratch[r]]) * discount(r);
    *ndcg = dcg / idcg;
    return 1;
}

int ttr_mrr(size_t n, const float *scores, const uint8_t *labels, uint32_t *scratch, double *rr)
{
    if (!rr || (n && (!scores || !labels || !scratch)))
        return TTR_ERR_ARG;
    *rr = 0.0;
    if (any_nan(n, scores))
        return TTR_ERR_NONFINITE;
    rank_by(n, scores, scratch);
    for (size_t r = 0; r < n; r++)
        if (labels[scratch[r]] > 0) {
            *rr = 1.0 / (double)(r + 1);
            return 1;
        }
    return 0;
}

int ttr_click_loglik(size_t n, const float *probs, const uint8_t *clicks, double *sum)
{
    if (!sum || (n && (!probs || !clicks)))
        return TTR_ERR_ARG;
    double s = 0.0;
    for (size_t i = 0; i < n; i++) {
        double p = probs[i];
        if (p != p)
            return TTR_ERR_NONFINITE;
        if (clicks[i] > 1)
            return TTR_ERR_ARG;
        p = p < 1e-6 ? 1e-6 : p > 1.0 - 1e-6 ? 1.0 - 1e-6 : p;
        s += clicks[i] ? log(p) : log(1.0 - p);
    }
    *sum = s;
    return TTR_OK;
}

static const uint32_t g_ks[TTR_METRIC_KS] = {1, 3, 5, 10};

void ttr_rank_metrics_reset(ttr_rank_metrics *m)
{
    memset(m, 0, sizeof *m);
}

int ttr_rank_metrics_add(ttr_rank_metrics *m, size_t n, const float *scores,
                         const uint8_t *labels, uint32_t *scratch)
{
    if (!m)
        return TTR_ERR_ARG;
    double v[TTR_METRIC_KS], rr;
    for (int j = 0; j < TTR_METRIC_KS; j++) {
        int r = ttr_ndcg(n, scores, labels, g_ks[j], scratch, &v[j]);
        if (r < 0)
            return r;
        if (r == 0) {
            m->skipped++;
            return TTR_OK;
        }
    }
    int r = ttr_mrr(n, scores, labels, scratch, &rr);
    if (r < 0)
        return r;
    for (int j = 0; j < TTR_METRIC_KS; j++)
        m->ndcg_sum[j] += v[j];
    m->rr_sum += rr;
    m->counted++;
    return TTR_OK;
}

double ttr_rank_metrics_ndcg(const ttr_rank_metrics *m, uint32_t k)
{
    for (int j = 0; j < TTR_METRIC_KS; j++)
        if (g_ks[j] == k)
            return m->counted ? m->ndcg_sum[j] / (double)m->counted : 0.0;
    return 0.0;
}

double ttr_rank_metrics_mrr(const ttr_rank_metrics *m)
{
    return m->counted ? m->rr_sum / (double)m->counted : 0.0;
}
