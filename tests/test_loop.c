/* The on-device loop: its configuration checks, progressive validation
 * before learning, training steps on the buffer, promotion and rollback
 * (bit for bit), and the guard against clicks that carry no information. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "ttr_loop.h"

#define F 6
#define N 5

static void model_config(ttr_config *c)
{
    ttr_config_default(c, TTR_ADDITIVE, F);
    c->hidden[0] = 8;
    c->hidden[1] = 4;
    c->rows = N;
    c->max_items = N;
    c->max_batch = 16;
    c->lr = 0.01f;
}

static ttr_loop *new_loop(const ttr_loop_config *lc, void **buf)
{
    ttr_config c;
    model_config(&c);
    size_t bytes = ttr_loop_bytes(&c, lc);
    cr_assert_gt(bytes, 0);
    *buf = calloc(1, bytes);
    ttr_loop *L;
    cr_assert_eq(ttr_loop_init(&L, &c, lc, *buf, bytes - 1), TTR_ERR_NOMEM);
    cr_assert_eq(ttr_loop_init(&L, &c, lc, *buf, bytes), TTR_OK);
    return L;
}

/* A simulated impression: N items with random features, shown in slots
 * 0..N-1; clicks by a position-based user (relevance feature 0, seen-odds
 * falling with the slot) or, `random`, at the same rate regardless. */
typedef struct imp {
    float x[N * F];
    uint16_t slots[N];
    uint8_t clicks[N];
} imp;

static void draw(tu_rng *r, int random, imp *m)
{
    for (int i = 0; i < N; i++) {
        for (int t = 0; t < F; t++)
            m->x[i * F + t] = tu_uniform(r, -1, 1);
        m->slots[i] = (uint16_t)i;
        double rel = 1.0 / (1.0 + exp(-3.0 * m->x[i * F]));
        double seen = 1.0 / (1.0 + i);
        double p = random ? 0.2 : rel * seen;
        m->clicks[i] = tu_uniform(r, 0, 1) < p;
    }
}

static unsigned char *model_bytes(const ttr_model *m, size_t *size)
{
    return tu_save_mem(m, 1, size);
}

static int same_model(const ttr_model *a, const ttr_model *b)
{
    size_t na, nb;
    unsigned char *fa = model_bytes(a, &na), *fb = model_bytes(b, &nb);
    int same = na == nb && !memcmp(fa, fb, na);
    free(fa), free(fb);
    return same;
}

Test(loop, config_check_names_the_field)
{
    ttr_config c;
    ttr_loop_config lc;
    const char *bad = NULL;
    model_config(&c);
    ttr_loop_config_default(&lc);
    cr_assert_eq(ttr_loop_config_check(&c, &lc, &bad), TTR_OK);
    lc.capacity = 0;
    cr_assert_eq(ttr_loop_config_check(&c, &lc, &bad), TTR_ERR_ARG);
    cr_assert(!strncmp(bad, "capacity ", 9), "%s", bad);
    ttr_loop_config_default(&lc);
    lc.train_every = 17;
    cr_assert_eq(ttr_loop_config_check(&c, &lc, &bad), TTR_ERR_ARG);
    cr_assert(!strncmp(bad, "train_every ", 12), "%s", bad);
    ttr_loop_config_default(&lc);
    lc.replay = 9; /* 8 + 9 > 16 */
    cr_assert_eq(ttr_loop_config_check(&c, &lc, &bad), TTR_ERR_ARG);
    cr_assert(!strncmp(bad, "replay ", 7), "%s", bad);
    lc.replay = 8;
    cr_assert_eq(ttr_loop_config_check(&c, &lc, &bad), TTR_OK);
    lc.window = 100;
    cr_assert_eq(ttr_loop_config_check(&c, &lc, &bad), TTR_ERR_ARG);
    cr_assert(!strncmp(bad, "window ", 7), "%s", bad);
    ttr_loop_config_default(&lc);
    lc.rollback_margin = 0.0f;
    cr_assert_eq(ttr_loop_config_check(&c, &lc, &bad), TTR_ERR_ARG);
    cr_assert(!strncmp(bad, "rollback_margin ", 16), "%s", bad);
    ttr_loop_config_default(&lc);
    lc.promote_margin = NAN;
    cr_assert_eq(ttr_loop_config_check(&c, &lc, &bad), TTR_ERR_ARG);
    cr_assert(!strncmp(bad, "promote_margin ", 15), "%s", bad);
    ttr_loop_config_default(&lc);
    lc.min_gain = -1.0f;
    cr_assert_eq(ttr_loop_config_check(&c, &lc, &bad), TTR_ERR_ARG);
    cr_assert(!strncmp(bad, "min_gain ", 9), "%s", bad);
    ttr_loop_config_default(&lc);
    c.hidden[0] = 0;
    cr_assert_eq(ttr_loop_config_check(&c, &lc, &bad), TTR_ERR_ARG);
    cr_assert(!strncmp(bad, "hidden[0] ", 10), "%s", bad);
    cr_assert_eq(ttr_loop_bytes(&c, &lc), 0);
}

/* The log-likelihoods an impression reports are the models' predictions
 * before it was learned from; a refused impression changes nothing. */
Test(loop, validates_before_learning_and_refuses_cleanly)
{
    ttr_loop_config lc;
    ttr_loop_config_default(&lc);
    lc.train_every = 1;
    lc.replay = 0;
    void *buf;
    ttr_loop *L = new_loop(&lc, &buf);
    tu_rng r = tu_rng_seed(4);
    imp m;
    float p[N];
    for (int k = 0; k < 5; k++) {
        draw(&r, 0, &m);
        size_t offs[2] = {0, N};
        ttr_batch b = {1, offs, m.x, F, m.slots, m.clicks, NULL};
        cr_assert_eq(ttr_click_probs(ttr_loop_learner(L), &b, p), TTR_OK);
        double want = 0.0;
        for (int i = 0; i < N; i++)
            want += m.clicks[i] ? log(p[i]) : log1p(-p[i]);
        ttr_loop_event ev;
        cr_assert_eq(ttr_loop_observe(L, N, m.x, F, m.slots, m.clicks, 0, &ev), TTR_OK);
        cr_assert_float_eq(ev.loglik_learner, want, 1e-9);
        cr_assert_eq(ev.trained, 1);
        cr_assert_eq(ev.train_error, 0);
    }
    ttr_loop_stats before, after;
    cr_assert_eq(ttr_loop_stats_get(L, &before), TTR_OK);
    size_t nl;
    unsigned char *lb = model_bytes(ttr_loop_learner(L), &nl);
    m.x[3] = NAN;
    cr_assert_eq(ttr_loop_observe(L, N, m.x, F, m.slots, m.clicks, 0, NULL), TTR_ERR_NONFINITE);
    m.x[3] = 0.5f;
    m.slots[1] = 0; /* two items in slot 0 */
    cr_assert_eq(ttr_loop_observe(L, N, m.x, F, m.slots, m.clicks, 0, NULL), TTR_ERR_ARG);
    m.slots[1] = 1;
    cr_assert_eq(ttr_loop_observe(L, N, m.x, F, m.slots, m.clicks, 3, NULL), TTR_ERR_ARG,
                 "a context without contexts");
    cr_assert_eq(ttr_loop_observe(L, N + 1, m.x, F, m.slots, m.clicks, 0, NULL), TTR_ERR_ARG);
    cr_assert_eq(ttr_loop_observe(L, 0, m.x, F, m.slots, m.clicks, 0, NULL), TTR_ERR_ARG);
    cr_assert_eq(ttr_loop_stats_get(L, &after), TTR_OK);
    cr_assert(!memcmp(&before, &after, sizeof before), "a refused impression counted");
    size_t nl2;
    unsigned char *lb2 = model_bytes(ttr_loop_learner(L), &nl2);
    cr_assert(nl == nl2 && !memcmp(lb, lb2, nl), "a refused impression changed the learner");
    free(lb), free(lb2), free(buf);
}

/* With replay 0 a step is ttr_train on the newest train_every lists,
 * newest first: the same bits as doing it by hand. */
Test(loop, a_step_trains_on_the_newest_lists)
{
    ttr_loop_config lc;
    ttr_loop_config_default(&lc);
    lc.train_every = 4;
    lc.replay = 0;
    lc.precision = TTR_REPLAY_F32;
    void *buf;
    ttr_loop *L = new_loop(&lc, &buf);
    ttr_config c;
    model_config(&c);
    size_t mb = ttr_arena_bytes(&c, TTR_MODE_TRAIN);
    void *ma = calloc(1, mb);
    ttr_model *hand;
    cr_assert_eq(ttr_model_init(&hand, &c, TTR_MODE_TRAIN, ma, mb), TTR_OK);
    tu_rng r = tu_rng_seed(8);
    imp m[4], rev[4];
    for (int round = 0; round < 3; round++) {
        for (int k = 0; k < 4; k++) {
            draw(&r, 0, &m[k]);
            ttr_loop_event ev;
            cr_assert_eq(ttr_loop_observe(L, N, m[k].x, F, m[k].slots, m[k].clicks, 0, &ev),
                         TTR_OK);
            cr_assert_eq(ev.trained, k == 3);
        }
        for (int k = 0; k < 4; k++)
            rev[k] = m[3 - k];
        size_t offs[5] = {0, N, 2 * N, 3 * N, 4 * N};
        float x[4 * N * F];
        uint16_t slots[4 * N];
        uint8_t clicks[4 * N];
        for (int k = 0; k < 4; k++) {
            memcpy(x + k * N * F, rev[k].x, sizeof rev[k].x);
            memcpy(slots + k * N, rev[k].slots, sizeof rev[k].slots);
            memcpy(clicks + k * N, rev[k].clicks, sizeof rev[k].clicks);
        }
        ttr_batch b = {4, offs, x, F, slots, clicks, NULL};
        cr_assert_eq(ttr_train(hand, &b, NULL), TTR_OK);
        cr_assert(same_model(hand, ttr_loop_learner(L)), "round %d: the learner differs", round);
    }
    ttr_loop_stats st;
    cr_assert_eq(ttr_loop_stats_get(L, &st), TTR_OK);
    cr_assert_eq(st.steps, 3);
    cr_assert_eq(st.impressions, 12);
    cr_assert_eq(ttr_model_impressions(ttr_loop_learner(L)), 12);
    free(ma), free(buf);
}

/* Replayed lists come from the older part of the buffer: with a buffer of
 * exactly train_every lists nothing is replayed (the step equals one
 * without replay), and with more the learner moves differently. */
Test(loop, replay_draws_older_lists)
{
    void *b1, *b2;
    ttr_loop_config lc;
    ttr_loop_config_default(&lc);
    lc.train_every = 4;
    lc.replay = 4;
    lc.capacity = 4;
    ttr_loop *L1 = new_loop(&lc, &b1);
    lc.replay = 0;
    ttr_loop *L2 = new_loop(&lc, &b2);
    tu_rng r = tu_rng_seed(5);
    imp m;
    for (int k = 0; k < 16; k++) {
        draw(&r, 0, &m);
        cr_assert_eq(ttr_loop_observe(L1, N, m.x, F, m.slots, m.clicks, 0, NULL), TTR_OK);
        cr_assert_eq(ttr_loop_observe(L2, N, m.x, F, m.slots, m.clicks, 0, NULL), TTR_OK);
    }
    cr_assert(same_model(ttr_loop_learner(L1), ttr_loop_learner(L2)));
    free(b1), free(b2);
    lc.capacity = 64;
    lc.replay = 4;
    L1 = new_loop(&lc, &b1);
    lc.replay = 0;
    L2 = new_loop(&lc, &b2);
    for (int k = 0; k < 16; k++) {
        draw(&r, 0, &m);
        cr_assert_eq(ttr_loop_observe(L1, N, m.x, F, m.slots, m.clicks, 0, NULL), TTR_OK);
        cr_assert_eq(ttr_loop_observe(L2, N, m.x, F, m.slots, m.clicks, 0, NULL), TTR_OK);
    }
    cr_assert(!same_model(ttr_loop_learner(L1), ttr_loop_learner(L2)));
    free(b1), free(b2);
}

/* A learner that learns promotes itself; the champion is then its copy,
 * and a rollback gives the learner the champion's bits back. */
Test(loop, promotes_a_better_learner_and_rolls_back_bit_for_bit)
{
    ttr_loop_config lc;
    ttr_loop_config_default(&lc);
    lc.window = 256;
    void *buf;
    ttr_loop *L = new_loop(&lc, &buf);
    tu_rng r = tu_rng_seed(6);
    imp m;
    int promoted_at = -1;
    for (int k = 0; k < 6000 && promoted_at < 0; k++) {
        draw(&r, 0, &m);
        ttr_loop_event ev;
        cr_assert_eq(ttr_loop_observe(L, N, m.x, F, m.slots, m.clicks, 0, &ev), TTR_OK);
        cr_assert_eq(ev.rolled_back, 0);
        if (ev.promoted) {
            promoted_at = k;
            cr_assert(same_model(ttr_loop_champion(L), ttr_loop_learner(L)));
        }
    }
    cr_assert_geq(promoted_at, 255, "promoted before a window was seen");
    ttr_loop_stats st;
    cr_assert_eq(ttr_loop_stats_get(L, &st), TTR_OK);
    cr_assert_eq(st.promotions, 1);
    cr_assert_eq(st.window_impressions, 0, "a promotion empties the window");
    for (int k = 0; k < 50; k++) {
        draw(&r, 0, &m);
        cr_assert_eq(ttr_loop_observe(L, N, m.x, F, m.slots, m.clicks, 0, NULL), TTR_OK);
    }
    cr_assert(!same_model(ttr_loop_champion(L), ttr_loop_learner(L)));
    cr_assert_eq(ttr_loop_rollback(L), TTR_OK);
    cr_assert(same_model(ttr_loop_champion(L), ttr_loop_learner(L)),
              "rolled back, the learner is not the champion's bits");
    free(buf);
}

/* Clicks that turn random (the same rate, nothing to learn) promote
 * nothing after the switch, however the learner fits them. */
Test(loop, random_clicks_promote_nothing)
{
    ttr_loop_config lc;
    ttr_loop_config_default(&lc);
    lc.window = 1024;
    void *buf;
    ttr_loop *L = new_loop(&lc, &buf);
    tu_rng r = tu_rng_seed(7);
    imp m;
    ttr_loop_stats st;
    for (int k = 0; k < 3000; k++) {
        draw(&r, 0, &m);
        cr_assert_eq(ttr_loop_observe(L, N, m.x, F, m.slots, m.clicks, 0, NULL), TTR_OK);
    }
    cr_assert_eq(ttr_loop_stats_get(L, &st), TTR_OK);
    cr_assert_geq(st.promotions, 1, "nothing promoted on the real clicks");
    uint64_t before = st.promotions;
    for (int k = 0; k < 6000; k++) {
        draw(&r, 1, &m);
        ttr_loop_event ev;
        cr_assert_eq(ttr_loop_observe(L, N, m.x, F, m.slots, m.clicks, 0, &ev), TTR_OK);
        cr_assert_eq(ev.promoted, 0, "promoted %d impressions after the switch", k);
    }
    cr_assert_eq(ttr_loop_stats_get(L, &st), TTR_OK);
    cr_assert_eq(st.promotions, before);
    free(buf);
}

/* start_from copies a model in as learner and champion. */
Test(loop, start_from_a_model)
{
    ttr_loop_config lc;
    ttr_loop_config_default(&lc);
    void *buf;
    ttr_loop *L = new_loop(&lc, &buf);
    ttr_config c;
    model_config(&c);
    c.seed = 99;
    c.lr = 0.5f; /* the rate is the loop's own business */
    size_t mb = ttr_arena_bytes(&c, TTR_MODE_TRAIN);
    void *ma = calloc(1, mb);
    ttr_model *m;
    cr_assert_eq(ttr_model_init(&m, &c, TTR_MODE_TRAIN, ma, mb), TTR_OK);
    cr_assert_eq(ttr_set_model_tag(m, "server 1"), TTR_OK);
    cr_assert_eq(ttr_loop_start_from(L, m), TTR_OK);
    cr_assert_str_eq(ttr_model_tag(ttr_loop_champion(L)), "server 1");
    cr_assert(same_model(ttr_loop_champion(L), ttr_loop_learner(L)));
    cr_assert_float_eq(ttr_model_config(ttr_loop_learner(L))->lr, 0.01f, 0);
    c.hidden[0] = 9;
    void *oa = calloc(1, ttr_arena_bytes(&c, TTR_MODE_TRAIN));
    ttr_model *other;
    cr_assert_eq(ttr_model_init(&other, &c, TTR_MODE_TRAIN, oa, ttr_arena_bytes(&c, 0)), TTR_OK);
    cr_assert_eq(ttr_loop_start_from(L, other), TTR_ERR_ARG);
    free(oa), free(ma), free(buf);
}
