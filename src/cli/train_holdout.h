/* Held-out items for `ttrank train`: early stopping from clicks alone.
 *
 * A click log has no relevance labels, so the stopping signal is the click
 * log-likelihood of data the model did not train on. Held-out *lists* would
 * not do: the same documents come back in many lists, and a model that
 * memorises them scores well on such lists while it ranks new documents
 * worse. So items are held out by identity: a hash of an item's feature
 * vector decides, the same way in every list and every epoch, whether the
 * item is held out. Training lists lose their held-out items (slots of the
 * others unchanged); up to `cap` lists that hold some are kept whole, and
 * the log-likelihood is the mean over their held-out items of
 * log P(click = c) under the full click model, the list's other items in
 * place (XPA's neighbours, MixEM's list). */
#ifndef TTR_CLI_TRAIN_HOLDOUT_H
#define TTR_CLI_TRAIN_HOLDOUT_H

#include <stddef.h>
#include <stdint.h>

#include "sim/ttr_sim.h"
#include "ttrank.h"

typedef struct holdout_set {
    float frac;          /* share of distinct items held out, in [0, 1) (ttr_item_held_out) */
    uint64_t seed;
    size_t F, max_items, cap;
    size_t n_lists, seen;/* lists kept; lists offered (reservoir sampling) */
    ttr_rng rng;
    float *x;            /* cap x max_items x F */
    uint16_t *slots;     /* cap x max_items */
    uint8_t *clicks;     /* cap x max_items */
    uint8_t *held;       /* cap x max_items: 1 = held-out item */
    size_t *n;           /* cap: items per list */
    uint32_t *ctx;       /* cap */
    float *probs;        /* max_items: click probabilities of one list */
} holdout_set;

/* 1 when the item with features x[0..F-1] is held out. */
int holdout_item(const holdout_set *h, const float *x);

/* Allocate for up to cap lists. Returns 0, or -1 when out of memory. */
int holdout_init(holdout_set *h, float frac, uint64_t seed, size_t F, size_t max_items,
                 size_t cap);
void holdout_free(holdout_set *h);

/* Offer a list (n items, x with row stride F) read from the log. If it holds
 * held-out items it may be kept for evaluation (reservoir of `cap` lists).
 * Then removes its held-out items in place (x, slots, clicks) and returns
 * how many items are left for training. */
size_t holdout_split(holdout_set *h, size_t n, float *x, uint16_t *slots, uint8_t *clicks,
                     uint32_t ctx, int keep);

/* Mean log-likelihood per held-out item of the kept lists under m's click
 * model (ttr_click_probs); *items receives their count. Returns 0 or a ttr
 * error. */
int holdout_loglik(const holdout_set *h, ttr_model *m, int has_ctx, double *ll, size_t *items);

#endif
