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

void ttr_closed_loop_config_default(ttr_closed_loop_config *c, ttr_scenario_kind kind,
                                    uint64_t seed)
{
    memset(c, 0, sizeof *c);
    ttr_scenario_config_default(&c->scenario, kind, seed);
    c->impressions = 50000;
    c->every = 2500;
    c->test_lists = 1000;
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

/* The arena: the loop, then the test queries. */
static size_t test_bytes(const ttr_closed_loop_config *c)
{
    return c->test_lists * S_N * (S_F * sizeof(float) + 1);
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
    return loop ? loop + test_bytes(c) + 64 : 0;
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
