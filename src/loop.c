/* The on-device loop: progressive validation of a learner and a champion
 * on every impression, an impression buffer, training steps that mix the
 * newest lists with replayed ones, and the window that promotes or rolls
 * back (include/ttr_loop.h has the contract, docs/loop.md the reasons). */
#include <math.h>
#include <string.h>

#include "loop_internal.h"

void ttr_loop_config_default(ttr_loop_config *lc)
{
    if (!lc)
        return;
    memset(lc, 0, sizeof *lc);
    lc->capacity = 256;
    lc->precision = TTR_REPLAY_BF16;
    lc->train_every = 12;
    lc->replay = 4;
    lc->window = 4096;
    lc->promote_margin = 0.0005f;
    lc->rollback_margin = 0.02f;
    lc->min_gain = 0.01f;
    lc->seed = 1;
}

static int bad(const char **bad_field, const char *what)
{
    if (bad_field)
        *bad_field = what;
    return TTR_ERR_ARG;
}

int ttr_loop_config_check(const ttr_config *mc, const ttr_loop_config *lc, const char **bad_field)
{
    if (!mc || !lc)
        return bad(bad_field, "config must not be NULL");
    int err = ttr_config_check(mc, bad_field);
    if (err)
        return err;
    if (lc->capacity < 1 || lc->capacity > (1u << 24))
        return bad(bad_field, "capacity must be 1..16777216");
    if (lc->precision != TTR_REPLAY_BF16 && lc->precision != TTR_REPLAY_F32)
        return bad(bad_field, "precision must be TTR_REPLAY_BF16 or TTR_REPLAY_F32");
    if (lc->train_every < 1 || lc->train_every > mc->max_batch)
        return bad(bad_field, "train_every must be 1..max_batch");
    if (lc->replay > mc->max_batch - lc->train_every)
        return bad(bad_field, "replay must keep train_every + replay at most max_batch");
    if (lc->window < TTR__LOOP_BLOCKS || lc->window > (1u << 24) ||
        lc->window % TTR__LOOP_BLOCKS)
        return bad(bad_field, "window must be a multiple of 16, 16..16777216");
    if (!(lc->promote_margin >= 0.0f && lc->promote_margin <= 10.0f))
        return bad(bad_field, "promote_margin must be 0..10");
    if (!(lc->rollback_margin > 0.0f && lc->rollback_margin <= 10.0f))
        return bad(bad_field, "rollback_margin must be in (0, 10]");
    if (!(lc->min_gain >= 0.0f && lc->min_gain <= 10.0f))
        return bad(bad_field, "min_gain must be 0..10");
    return TTR_OK;
}

/* Lay the loop out in l (measuring when l->base is NULL); the models and
 * the ring get their own sub-buffers. */
static void plan(ttr_loop *L, ttr__layout *l)
{
    const ttr_config *mc = &L->mc;
    size_t lists = (size_t)L->lc.train_every + L->lc.replay, N = mc->max_items;
    (void)ttr__alloc(l, sizeof *L);
    L->model_bytes = ttr_arena_bytes(mc, TTR_MODE_TRAIN);
    L->champion_bytes = ttr__shared_step_bytes(mc);
    L->ring_bytes = ttr_replay_bytes(mc->n_features, mc->max_items, L->lc.capacity,
                                     L->lc.precision);
    L->learner_buf = ttr__alloc(l, L->model_bytes);
    L->champion_buf = ttr__alloc(l, L->champion_bytes);
    L->ring_buf = ttr__alloc(l, L->ring_bytes);
    if (lists * N > SIZE_MAX / sizeof(float) / mc->n_features) {
        l->overflow = 1;
        return;
    }
    L->x = ttr__alloc(l, lists * N * mc->n_features * sizeof(float));
    L->slots = ttr__alloc(l, lists * N * sizeof(uint16_t));
    L->clicks = ttr__alloc(l, lists * N);
    L->contexts = ttr__alloc(l, lists * sizeof(uint32_t));
    L->offsets = ttr__alloc(l, (lists + 1) * sizeof(size_t));
    L->probs = ttr__alloc(l, N * sizeof(float));
}

size_t ttr_loop_bytes(const ttr_config *mc, const ttr_loop_config *lc)
{
    ttr_loop probe;
    ttr__layout l = {NULL, 0, 0, NULL};
    if (ttr_loop_config_check(mc, lc, NULL) != TTR_OK)
        return 0;
    memset(&probe, 0, sizeof probe);
    probe.mc = *mc;
    probe.lc = *lc;
    plan(&probe, &l);
    if (l.overflow || !probe.model_bytes || !probe.champion_bytes || !probe.ring_bytes ||
        l.used > SIZE_MAX - TTR__ALIGN)
        return 0;
    return l.used + TTR__ALIGN - 1;
}

static void reset_window(ttr_loop *L)
{
    memset(L->blocks, 0, sizeof L->blocks);
    memset(&L->cur, 0, sizeof L->cur);
    L->n_blocks = 0;
    L->block_head = 0;
    L->block_fill = 0;
}

int ttr_loop_init(ttr_loop **out, const ttr_config *mc, const ttr_loop_config *lc, void *buf,
                  size_t bytes)
{
    if (!out || !buf)
        return TTR_ERR_ARG;
    size_t need = ttr_loop_bytes(mc, lc);
    if (!need)
        return TTR_ERR_ARG;
    if (bytes < need)
        return TTR_ERR_NOMEM;
    ttr__layout l = {ttr__align_up(buf), 0, 0, NULL};
    ttr_loop *L = (ttr_loop *)(void *)l.base;
    memset(L, 0, sizeof *L);
    L->mc = *mc;
    L->lc = *lc;
    plan(L, &l);
    int err = ttr_model_init(&L->learner, mc, TTR_MODE_TRAIN, L->learner_buf, L->model_bytes);
    if (!err)
        err = ttr__model_create_sharing(&L->champion, mc, L->champion_buf, L->champion_bytes,
                                        L->learner);
    if (!err)
        err = ttr_replay_init(&L->ring, mc->n_features, mc->max_items, lc->capacity,
                              lc->precision, L->ring_buf, L->ring_bytes);
    if (err)
        return err; /* unreachable: the sizes come from the same plan */
    L->rng = lc->seed ^ 0x6c6f6f70u; /* "loop" */
    L->magic = TTR__LOOP_MAGIC;
    *out = L;
    return TTR_OK;
}

static int loop_ok(const ttr_loop *L)
{
    return L && L->magic == TTR__LOOP_MAGIC;
}

int ttr_loop_start_from(ttr_loop *L, const ttr_model *m)
{
    if (!loop_ok(L) || !m)
        return TTR_ERR_ARG;
    int err = ttr__model_copy(L->learner, m);
    if (err)
        return err;
    (void)ttr__model_copy(L->champion, m);
    (void)ttr_replay_init(&L->ring, L->mc.n_features, L->mc.max_items, L->lc.capacity,
                          L->lc.precision, L->ring_buf, L->ring_bytes);
    L->pending = 0;
    reset_window(L);
    return TTR_OK;
}

ttr_model *ttr_loop_learner(ttr_loop *L)
{
    return loop_ok(L) ? L->learner : NULL;
}

const ttr_model *ttr_loop_champion(const ttr_loop *L)
{
    return loop_ok(L) ? L->champion : NULL;
}

int ttr_loop_promote(ttr_loop *L)
{
    if (!loop_ok(L))
        return TTR_ERR_ARG;
    (void)ttr__model_copy(L->champion, L->learner);
    L->promotions++;
    reset_window(L);
    return TTR_OK;
}

int ttr_loop_rollback(ttr_loop *L)
{
    if (!loop_ok(L))
        return TTR_ERR_ARG;
    (void)ttr__model_copy(L->learner, L->champion);
    L->rollbacks++;
    reset_window(L);
    return TTR_OK;
}

/* ---- progressive validation ------------------------------------------------- */

/* log P(click = c) for a predicted click probability p, kept away from
 * log(0) (a model certain and wrong costs ~ 13.8 nats, not infinity). */
static double loglik(float p, uint8_t c)
{
    double q = p < 1e-6f ? 1e-6 : p > 1.0f - 1e-6f ? 1.0 - 1e-6 : (double)p;
    return c ? log(q) : log1p(-q);
}

/* The window's sums (complete blocks only) into w. */
static void window_sums(const ttr_loop *L, ttr__pv_block *w)
{
    memset(w, 0, sizeof *w);
    for (uint32_t i = 0; i < L->n_blocks; i++) {
        const ttr__pv_block *b = &L->blocks[i];
        w->learner += b->learner;
        w->champion += b->champion;
        w->constant += b->constant;
        w->items += b->items;
        w->impressions += b->impressions;
    }
}

/* The learner beats the constant click rate by min_gain per item in every
 * block of the window: the clicks carried information all along. Over the
 * whole window alone, a stream that has just turned to noise (a broken
 * logger's random clicks) would still pass on its older blocks. */
static int informative(const ttr_loop *L)
{
    for (uint32_t i = 0; i < L->n_blocks; i++) {
        const ttr__pv_block *b = &L->blocks[i];
        if (!b->items || (b->learner - b->constant) / (double)b->items <= L->lc.min_gain)
            return 0;
    }
    return 1;
}

/* A block is complete: keep it, and once the window is whole, decide. */
static void close_block(ttr_loop *L, ttr_loop_event *ev)
{
    L->blocks[L->block_head] = L->cur;
    L->block_head = (L->block_head + 1) % TTR__LOOP_BLOCKS;
    L->n_blocks += L->n_blocks < TTR__LOOP_BLOCKS;
    memset(&L->cur, 0, sizeof L->cur);
    L->block_fill = 0;
    if (L->n_blocks < TTR__LOOP_BLOCKS)
        return;
    ttr__pv_block w;
    window_sums(L, &w);
    double n = (double)w.items;
    double ahead = (w.learner - w.champion) / n;
    if (ahead > L->lc.promote_margin && informative(L)) {
        (void)ttr_loop_promote(L);
        ev->promoted = 1;
    } else if (-ahead > L->lc.rollback_margin) {
        (void)ttr_loop_rollback(L);
        ev->rolled_back = 1;
    }
}

/* Score the impression under both models and the constant rate; nothing is
 * kept until all three are known. */
static int validate(ttr_loop *L, const ttr_batch *b, ttr_loop_event *ev)
{
    size_t n = b->offsets[1];
    double ll[2] = {0.0, 0.0}, lc = 0.0;
    ttr_model *models[2] = {L->learner, L->champion};
    for (int k = 0; k < 2; k++) {
        int err = ttr_click_probs(models[k], b, L->probs);
        if (err)
            return err;
        for (size_t i = 0; i < n; i++)
            ll[k] += loglik(L->probs[i], b->clicks[i]);
    }
    /* the constant rate as it stood before this impression (add-1/2) */
    float rate = (float)((L->clicks_seen + 0.5) / (L->items_seen + 1.0));
    uint64_t clicks = 0;
    for (size_t i = 0; i < n; i++) {
        lc += loglik(rate, b->clicks[i]);
        clicks += b->clicks[i];
    }
    ev->loglik_learner = ll[0];
    ev->loglik_champion = ll[1];
    L->cur.learner += ll[0];
    L->cur.champion += ll[1];
    L->cur.constant += lc;
    L->cur.items += n;
    L->cur.impressions++;
    L->clicks_seen += clicks;
    L->items_seen += n;
    double decay = exp2(-2.0 / L->lc.window); /* half-life window / 2 impressions */
    L->ew_learner = L->ew_learner * decay + ll[0];
    L->ew_champion = L->ew_champion * decay + ll[1];
    L->ew_items = L->ew_items * decay + (double)n;
    return TTR_OK;
}

/* ---- training ----------------------------------------------------------------- */

/* One step on the newest train_every lists and `replay` lists drawn
 * (uniformly, with replacement) from the older ones in the buffer. */
static int train_step(ttr_loop *L)
{
    uint32_t fresh = L->lc.train_every, held = ttr_replay_count(L->ring);
    size_t lists = 0, F = L->mc.n_features;
    L->offsets[0] = 0;
    for (uint32_t j = 0; j < fresh + L->lc.replay; j++) {
        uint32_t age = j;
        if (j >= fresh) {
            if (held <= fresh)
                break; /* nothing older to replay yet */
            age = fresh + (uint32_t)(ttr__rng_next(&L->rng) % (held - fresh));
        }
        size_t at = L->offsets[lists], n;
        (void)ttr_replay_get(L->ring, age, &n, L->x + at * F, F, L->slots + at, L->clicks + at,
                             L->contexts + lists);
        L->offsets[++lists] = at + n;
    }
    ttr_batch b = {lists, L->offsets, L->x, F, L->slots, L->clicks,
                   L->mc.n_contexts ? L->contexts : NULL};
    return ttr_train(L->learner, &b, NULL);
}

int ttr_loop_observe(ttr_loop *L, size_t n_items, const float *x, size_t ldx,
                     const uint16_t *slots, const uint8_t *clicks, uint32_t context,
                     ttr_loop_event *ev)
{
    ttr_loop_event none;
    if (!ev)
        ev = &none;
    memset(ev, 0, sizeof *ev);
    if (!loop_ok(L) || n_items == 0 || n_items > L->mc.max_items)
        return TTR_ERR_ARG;
    size_t offs[2] = {0, n_items};
    ttr_batch b = {1, offs, x, ldx, slots, clicks, L->mc.n_contexts ? &context : NULL};
    int err = ttr__check_batch(L->learner, &b);
    if (!err && !L->mc.n_contexts && context)
        err = TTR_ERR_ARG;
    if (!err)
        err = ttr__replay_check(L->ring, &b, 0);
    if (!err)
        err = validate(L, &b, ev);
    if (err)
        return err;
    (void)ttr_replay_add(L->ring, &b, 0); /* checked above */
    L->impressions++;
    if (++L->pending == L->lc.train_every) {
        L->pending = 0;
        ev->trained = 1;
        ev->train_error = train_step(L);
        if (ev->train_error)
            L->failed_steps++;
        else
            L->steps++;
    }
    if (++L->block_fill == L->lc.window / TTR__LOOP_BLOCKS)
        close_block(L, ev);
    return TTR_OK;
}

int ttr_loop_set_cursor(ttr_loop *L, uint64_t cursor)
{
    if (!loop_ok(L))
        return TTR_ERR_ARG;
    L->cursor = cursor;
    return TTR_OK;
}

uint64_t ttr_loop_cursor(const ttr_loop *L)
{
    return loop_ok(L) ? L->cursor : 0;
}

int ttr_loop_stats_get(const ttr_loop *L, ttr_loop_stats *st)
{
    if (!loop_ok(L) || !st)
        return TTR_ERR_ARG;
    ttr__pv_block w;
    window_sums(L, &w);
    w.learner += L->cur.learner;
    w.champion += L->cur.champion;
    w.constant += L->cur.constant;
    w.items += L->cur.items;
    w.impressions += L->cur.impressions;
    memset(st, 0, sizeof *st);
    st->impressions = L->impressions;
    st->items = L->items_seen;
    st->steps = L->steps;
    st->failed_steps = L->failed_steps;
    st->promotions = L->promotions;
    st->rollbacks = L->rollbacks;
    st->window_impressions = (uint32_t)w.impressions;
    if (w.items) {
        st->window_learner = w.learner / (double)w.items;
        st->window_champion = w.champion / (double)w.items;
        st->window_constant = w.constant / (double)w.items;
    }
    if (L->ew_items > 0.0) {
        st->ewma_learner = L->ew_learner / L->ew_items;
        st->ewma_champion = L->ew_champion / L->ew_items;
    }
    return TTR_OK;
}
