/* ttrank — ranking metrics: NDCG@k, MRR and the click log-likelihood, per
 * list and as running means over many lists.
 *
 * No allocation (the caller passes the scratch), no global state, no
 * printing; every function is reentrant and may be called from any thread
 * on distinct arguments. */
#ifndef TTR_METRICS_H
#define TTR_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "ttr_error.h"
#include "ttrank.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The ranking is by score, descending; ties keep input order (a stable
 * sort). Gain 2^y - 1, discount 1 / log2(rank + 1). A list without a
 * relevant item (every label 0) has no defined NDCG or MRR: the functions
 * return 0 (skipped) and write 0; the caller counts it apart and leaves it
 * out of the mean (ttr_rank_metrics does). They return 1 when the value
 * counts, a negative code on bad arguments. `scratch` holds n uint32_t. */
TTR_API int ttr_ndcg(size_t n, const float *scores, const uint8_t *labels, uint32_t k,
                     uint32_t *scratch, double *ndcg);
/* Reciprocal rank of the first item with label > 0. */
TTR_API int ttr_mrr(size_t n, const float *scores, const uint8_t *labels, uint32_t *scratch,
                    double *rr);
/* Sum over items of c log p + (1 - c) log(1 - p), p clamped to
 * [1e-6, 1 - 1e-6]; divide by the item count for a mean. TTR_ERR_NONFINITE
 * for a NaN probability. */
TTR_API int ttr_click_loglik(size_t n, const float *probs, const uint8_t *clicks, double *sum);

/* Running means over many lists: NDCG@1,3,5,10 and MRR. */
#define TTR_METRIC_KS 4
typedef struct ttr_rank_metrics {
    double ndcg_sum[TTR_METRIC_KS]; /* k = 1, 3, 5, 10 */
    double rr_sum;
    size_t counted;                 /* lists with a relevant item */
    size_t skipped;                 /* lists without one (not in the means) */
} ttr_rank_metrics;

TTR_API void ttr_rank_metrics_reset(ttr_rank_metrics *m);
TTR_API int ttr_rank_metrics_add(ttr_rank_metrics *m, size_t n, const float *scores,
                                 const uint8_t *labels, uint32_t *scratch);
/* Mean NDCG@k for k in {1, 3, 5, 10} (0 for another k or nothing counted). */
TTR_API double ttr_rank_metrics_ndcg(const ttr_rank_metrics *m, uint32_t k);
TTR_API double ttr_rank_metrics_mrr(const ttr_rank_metrics *m);

#ifdef __cplusplus
}
#endif

#endif
