/* The closed loop (ttr_sim.h): a device that ranks with its champion,
 * shows the ranking to simulated users and learns from their clicks
 * through ttr_loop, so that what it learns from depends on what it showed. */
#include <string.h>

#include "sim_internal.h"
#include "ttr_loop.h"
#include "ttr_sim.h"

#define S_N TTR_SCENARIO_SLOTS
#define S_F TTR_SCENARIO_F
#define TEST_QUERY0 ((size_t)1 << 30) /* held-out queries: far from the stream's */
#define WARM_QUERY0 ((size_t)1 << 29) /* the starting tower's queries */
#define WARM_BATCH 16
#define WARM_EPOCHS 3

void ttr_closed_loop_config_default(ttr_closed_loop_config *c, ttr_scenario_kind kind,
                                    uint64_t seed)
{
    memset(c, 0, sizeof *c);
    ttr_scenario_config_default(&c->scenario, kind, seed);
    c->impressions = 50000;
    c->every = 2500;
    c->test_lists = 1000;
    c->warm_lists = 20000;
    ttr_loop_config_default(&c->loop);
}

size_t ttr_closed_loop_points(const ttr_closed_loop_config *c)
{
    return c && c->every ? c->impressions / c->every + 1 : 0;
}

static void learner_config(const ttr_closed_loop_config *c, ttr_variant v, ttr_config *mc,
                           ttr_loop_config *lc)
{
    const ttr_scenario_config *s = &c->scenario;
    ttr_config_default(mc, v, S_F);
    mc->hidden[0] = s->hidden[0];
    mc->hidden[1] = s->hidden[1];
    mc->rows = s->sim.rows;
    mc->cols = s->sim.cols;
    mc->embed_dim = 4;
    mc->attn_dim = 4;
    mc->max_items = S_N;
    mc->max_batch = 16;
    mc->lr = s->lr;
    mc->seed = s->seed * 7919u + 17u;
    *lc = c->loop;
    lc->seed = s->seed;
}

/* The arena: the loop, the test queries, then the starting tower's model. */
static size_t test_bytes(const ttr_closed_loop_config *c)
{
    return c->test_lists * S_N * (S_F * sizeof(float) + 1);
}

static size_t warm_bytes(const ttr_closed_loop_config *c)
{
    ttr_config mc;
    ttr_loop_config lc;
    learner_config(c, TTR_NAIVE, &mc, &lc);
    return c->warm_lists ? ttr_arena_bytes(&mc, TTR_MODE_TRAIN) + 64 : 0;
}

size_t ttr_closed_loop_bytes(const ttr_closed_loop_config *c, ttr_variant v)
{
    ttr_config mc;
    ttr_loop_config lc;
    if (!c || c->every < 1 || c->impressions < c->every || c->test_lists < 1 ||
        c->test_lists > ((size_t)1 << 24) || c->scenario.sim.rows * c->scenario.sim.cols != S_N ||
        ttr_sim_config_check(&c->scenario.sim))
        return 0;
    learner_config(c, v, &mc, &lc);
    size_t loop = ttr_loop_bytes(&mc, &lc);
    return loop ? loop + 64 + test_bytes(c) + warm_bytes(c) : 0;
}

/* The champion's NDCG@10 on the held-out queries. */
static int test_ndcg(const ttr_model *champ, const float *x, const uint8_t *labels, size_t n,
                     float *out)
{
    ttr_rank_metrics rm;
    float s[S_N];
    uint32_t scratch[S_N];
    unsigned char sbuf[4096];
    size_t need = ttr_score_scratch_bytes(champ);
    if (need > sizeof sbuf)
        return TTR_ERR_NOMEM;
    ttr_rank_metrics_reset(&rm);
    for (size_t q = 0; q < n; q++) {
        int err = ttr_score_with_scratch(champ, sbuf, sizeof sbuf, S_N, x + q * S_N * S_F, S_F, s);
        if (!err)
            err = ttr_rank_metrics_add(&rm, S_N, s, labels + q * S_N, scratch);
        if (err)
            return err;
    }
    *out = (float)ttr_rank_metrics_ndcg(&rm, 10);
    return TTR_OK;
}

/* Slots by the champion's ranking: the best-scored document in slot 0,
 * ties by document order. */
static int rank_slots(const ttr_model *champ, const float *x, uint16_t *slots)
{
    float s[S_N];
    unsigned char sbuf[4096];
    int err = ttr_score_with_scratch(champ, sbuf, sizeof sbuf, S_N, x, S_F, s);
    if (err)
        return err;
    for (size_t i = 0; i < S_N; i++) {
        uint16_t r = 0;
        for (size_t j = 0; j < S_N; j++)
            r += s[j] > s[i] || (s[j] == s[i] && j < i);
        slots[i] = r;
    }
    return TTR_OK;
}

/* The user of impression q: the same draw for every learner. */
static ttr_user draw_user(const ttr_sim_config *sim, ttr_rng *rng)
{
    float total = 0.0f, u = ttr_rng_uniform(rng), acc = 0.0f;
    for (int k = 0; k < TTR_USER_TYPES; k++)
        total += sim->users[k];
    for (int k = 0; k < TTR_USER_TYPES; k++) {
        acc += sim->users[k] / total;
        if (u < acc && sim->users[k] > 0.0f)
            return (ttr_user)k;
    }
    return TTR_USER_THOROUGH;
}

/* One impression: query q shown by the champion, clicked, taken. */
static int impression(const ttr_closed_loop_config *c, ttr_loop *L, int oracle, size_t q)
{
    const ttr_scenario_config *s = &c->scenario;
    ttr_planted_config pc;
    float x[S_N * S_F], p[S_N];
    uint8_t labels[S_N], clicks[S_N];
    uint16_t slots[S_N];
    ttr_planted_config_default(&pc);
    pc.seed = s->seed;
    int err = ttr_sim_planted(&pc, q, 1, x, labels);
    if (!err)
        err = rank_slots(ttr_loop_champion(L), x, slots);
    ttr_rng rng;
    ttr_rng_seed(&rng, s->seed * 0x9e3779b97f4a7c15ull + q);
    ttr_user user = draw_user(&s->sim, &rng);
    if (!err)
        err = ttr_sim_click_probs(&s->sim, oracle ? TTR_USER_THOROUGH : user, S_N, labels, slots,
                                  p);
    if (err)
        return err;
    for (size_t r = 0; r < S_N; r++) /* one draw per slot, in slot order */
        for (size_t i = 0; i < S_N; i++)
            if (slots[i] == r)
                clicks[i] = ttr_rng_uniform(&rng) < p[i];
    return ttr_loop_observe(L, S_N, x, S_F, slots, clicks, 0, NULL);
}

/* Warm-start lists: planted query q shown by the logging ranker. */
static int warm_batch(const ttr_closed_loop_config *c, size_t q0, size_t n, float *x,
                      uint16_t *slots, uint8_t *clicks, size_t *offsets)
{
    ttr_planted_config pc;
    ttr_planted_config_default(&pc);
    pc.seed = c->scenario.seed;
    uint8_t labels[WARM_BATCH * S_N];
    int err = ttr_sim_planted(&pc, WARM_QUERY0 + q0, n, x, labels);
    for (size_t i = 0; !err && i < n; i++) {
        ttr_rng rng;
        ttr_rng_seed(&rng, c->scenario.seed * 0x2545f4914f6cdd1dull + q0 + i);
        err = ttr_sim_impression(&c->scenario.sim, &rng, S_N, x + i * S_N * S_F, S_F,
                                 labels + i * S_N, slots + i * S_N, clicks + i * S_N, NULL, NULL);
        offsets[i + 1] = (i + 1) * S_N;
    }
    offsets[0] = 0;
    return err;
}

/* The starting tower: a naive model trained on the logging ranker's
 * impressions; its relevance tensors go into the loop's learner, which
 * then becomes the champion too. */
static int warm_start(const ttr_closed_loop_config *c, ttr_loop *L, void *arena, size_t bytes)
{
    ttr_config mc;
    ttr_loop_config lc;
    ttr_model *m;
    learner_config(c, TTR_NAIVE, &mc, &lc);
    int err = ttr_model_init(&m, &mc, TTR_MODE_TRAIN, arena, bytes);
    float x[WARM_BATCH * S_N * S_F], w[64 * 64];
    uint16_t slots[WARM_BATCH * S_N];
    uint8_t clicks[WARM_BATCH * S_N];
    size_t offsets[WARM_BATCH + 1];
    for (uint32_t e = 0; !err && e < WARM_EPOCHS; e++)
        for (size_t q = 0; !err && q < c->warm_lists; q += WARM_BATCH) {
            size_t n = c->warm_lists - q < WARM_BATCH ? c->warm_lists - q : WARM_BATCH;
            err = warm_batch(c, q, n, x, slots, clicks, offsets);
            ttr_batch b = {n, offsets, x, S_F, slots, clicks, NULL};
            if (!err)
                err = ttr_train(m, &b, NULL);
        }
    ttr_model *learner = ttr_loop_learner(L);
    for (uint32_t i = 0; !err && i < ttr_model_tensor_count(m); i++) {
        const char *name;
        uint32_t rows, cols;
        (void)ttr_model_tensor_info(m, i, &name, &rows, &cols);
        if (strncmp(name, "rel.", 4) || (size_t)rows * cols > sizeof w / sizeof w[0])
            continue;
        err = ttr_model_tensor_get(m, name, w, (size_t)rows * cols);
        if (!err)
            err = ttr_model_tensor_set(learner, name, w, (size_t)rows * cols);
    }
    return err ? err : ttr_loop_start_from(L, learner);
}

int ttr_closed_loop_run(const ttr_closed_loop_config *c, ttr_variant v, int oracle, void *arena,
                        size_t bytes, float *ndcg10, uint64_t *promotions,
                        ttr_progress_fn progress, void *ctx)
{
    size_t need = ttr_closed_loop_bytes(c, v);
    if (!need || !arena || !ndcg10)
        return TTR_ERR_ARG;
    if (bytes < need)
        return TTR_ERR_NOMEM;
    ttr_config mc;
    ttr_loop_config lc;
    ttr_loop *L;
    learner_config(c, v, &mc, &lc);
    size_t lb = ttr_loop_bytes(&mc, &lc);
    int err = ttr_loop_init(&L, &mc, &lc, arena, lb);
    if (err)
        return err;
    unsigned char *t = (unsigned char *)arena + lb;
    t += (64 - (uintptr_t)t % 64) % 64;
    float *tx = (float *)(void *)t;
    uint8_t *tl = (uint8_t *)(tx + c->test_lists * S_N * S_F);
    ttr_planted_config pc;
    ttr_planted_config_default(&pc);
    pc.seed = c->scenario.seed;
    if ((err = ttr_sim_planted(&pc, TEST_QUERY0, c->test_lists, tx, tl)) != 0)
        return err;
    if (c->warm_lists) {
        unsigned char *w = tl + c->test_lists * S_N;
        w += (64 - (uintptr_t)w % 64) % 64;
        if ((err = warm_start(c, L, w, warm_bytes(c) - 64)) != 0)
            return err;
    }
    size_t points = ttr_closed_loop_points(c);
    for (size_t k = 0; k < points; k++) {
        if ((err = test_ndcg(ttr_loop_champion(L), tx, tl, c->test_lists, &ndcg10[k])) != 0)
            return err;
        for (size_t q = k * c->every; k + 1 < points && q < (k + 1) * c->every; q++)
            if ((err = impression(c, L, oracle, q)) != 0)
                return err;
        if (progress)
            progress(ctx, "closed loop", (double)(k + 1) / (double)points);
    }
    if (promotions) {
        ttr_loop_stats st;
        (void)ttr_loop_stats_get(L, &st);
        *promotions = st.promotions;
    }
    return TTR_OK;
}
