/* Held-out items for `ttrank train` (see train_holdout.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train_holdout.h"

int holdout_item(const holdout_set *h, const float *x)
{
    return ttr_item_held_out(x, (uint32_t)h->F, h->seed, h->frac);
}

int holdout_init(holdout_set *h, float frac, uint64_t seed, size_t F, size_t max_items,
                 size_t cap)
{
    memset(h, 0, sizeof *h);
    h->frac = frac;
    h->seed = seed;
    h->F = F;
    h->max_items = max_items;
    h->cap = frac > 0.0 ? cap : 0;
    ttr_rng_seed(&h->rng, seed ^ 0x7265736572766full);
    if (!h->cap)
        return 0;
    size_t cells = cap * max_items;
    h->x = malloc(cells * F * sizeof *h->x);
    h->slots = malloc(cells * sizeof *h->slots);
    h->clicks = malloc(cells);
    h->held = malloc(cells);
    h->n = malloc(cap * sizeof *h->n);
    h->ctx = malloc(cap * sizeof *h->ctx);
    h->probs = malloc(max_items * sizeof *h->probs);
    if (!h->x || !h->slots || !h->clicks || !h->held || !h->n || !h->ctx || !h->probs) {
        holdout_free(h);
        return -1;
    }
    return 0;
}

void holdout_free(holdout_set *h)
{
    free(h->x);
    free(h->slots);
    free(h->clicks);
    free(h->held);
    free(h->n);
    free(h->ctx);
    free(h->probs);
    memset(h, 0, sizeof *h);
}

/* Reservoir sampling: the place for the next offered list, or cap (drop). */
static size_t reservoir_place(holdout_set *h)
{
    h->seen++;
    if (h->n_lists < h->cap)
        return h->n_lists++;
    uint64_t r = ((uint64_t)ttr_rng_u32(&h->rng) * h->seen) >> 32;
    return r < h->cap ? (size_t)r : h->cap;
}

size_t holdout_split(holdout_set *h, size_t n, float *x, uint16_t *slots, uint8_t *clicks,
                     uint32_t ctx, int keep)
{
    if (h->frac <= 0.0)
        return n;
    uint8_t held[TTR_MAX_SLOTS]; /* a list holds at most max_items <= TTR_MAX_SLOTS items */
    size_t i, n_held = 0, kept = 0;
    for (i = 0; i < n; i++)
        n_held += held[i] = (uint8_t)holdout_item(h, x + i * h->F);
    if (!n_held)
        return n;
    size_t at = keep && h->cap ? reservoir_place(h) : h->cap;
    if (at < h->cap) {
        size_t base = at * h->max_items;
        memcpy(h->x + base * h->F, x, n * h->F * sizeof *x);
        memcpy(h->slots + base, slots, n * sizeof *slots);
        memcpy(h->clicks + base, clicks, n);
        memcpy(h->held + base, held, n);
        h->n[at] = n;
        h->ctx[at] = ctx;
    }
    for (i = 0; i < n; i++) {
        if (held[i])
            continue;
        if (kept != i) {
            memmove(x + kept * h->F, x + i * h->F, h->F * sizeof *x);
            slots[kept] = slots[i];
            clicks[kept] = clicks[i];
        }
        kept++;
    }
    return kept;
}

int holdout_loglik(const holdout_set *h, ttr_model *m, int has_ctx, double *ll, size_t *items)
{
    double sum = 0.0;
    size_t count = 0;
    ttr_batch b;
    memset(&b, 0, sizeof b);
    b.n_lists = 1;
    b.x = h->x;
    b.ldx = h->F;
    b.slots = h->slots;
    b.clicks = h->clicks;
    /* the kept lists sit max_items apart, so they go one per call */
    for (size_t l = 0; l < h->n_lists; l++) {
        size_t base = l * h->max_items, n = h->n[l];
        size_t off[2] = {base, base + n};
        b.offsets = off;
        b.contexts = has_ctx ? h->ctx + l : NULL;
        int err = ttr_click_probs(m, &b, h->probs);
        if (err)
            return err;
        for (size_t i = 0; i < n; i++) {
            if (!h->held[base + i])
                continue;
            double p = h->probs[i];
            p = p < 1e-7 ? 1e-7 : p > 1.0 - 1e-7 ? 1.0 - 1e-7 : p;
            sum += h->clicks[base + i] ? log(p) : log1p(-p);
            count++;
        }
    }
    *ll = count ? sum / (double)count : 0.0;
    *items = count;
    return 0;
}
