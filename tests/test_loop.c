/* The on-device loop: its configuration checks, progressive validation
 * before learning, training steps on the buffer, promotion and rollback
 * (bit for bit), and the guard against clicks that carry no information. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loop_internal.h"
#include "testutil.h"
#include "ttr_io.h"
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
    lc.replay = c.max_batch - lc.train_every + 1;
    cr_assert_eq(ttr_loop_config_check(&c, &lc, &bad), TTR_ERR_ARG);
    cr_assert(!strncmp(bad, "replay ", 7), "%s", bad);
    lc.replay = c.max_batch - lc.train_every;
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

/* Clicks that turn random (the same rate, nothing to learn) after 20,000
 * impressions promote nothing after the switch, however the learner fits
 * them (the loop's defaults). */
Test(loop, random_clicks_promote_nothing)
{
    TU_SLOW_TEST();
    ttr_loop_config lc;
    ttr_loop_config_default(&lc);
    void *buf;
    ttr_loop *L = new_loop(&lc, &buf);
    tu_rng r = tu_rng_seed(7);
    imp m;
    ttr_loop_stats st;
    for (int k = 0; k < 20000; k++) {
        draw(&r, 0, &m);
        cr_assert_eq(ttr_loop_observe(L, N, m.x, F, m.slots, m.clicks, 0, NULL), TTR_OK);
    }
    cr_assert_eq(ttr_loop_stats_get(L, &st), TTR_OK);
    cr_assert_geq(st.promotions, 1, "nothing promoted on the real clicks");
    uint64_t before = st.promotions;
    for (int k = 0; k < 20000; k++) {
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

/* ---- checkpoints ---------------------------------------------------------------- */

static unsigned char *loop_bytes_of(const ttr_loop *L, size_t *size)
{
    ttr_mem_writer count = {NULL, 0, 0};
    cr_assert_eq(ttr_loop_save(L, ttr_mem_write, &count), TTR_OK);
    unsigned char *b = malloc(count.size);
    ttr_mem_writer w = {b, count.size, 0};
    cr_assert_eq(ttr_loop_save(L, ttr_mem_write, &w), TTR_OK);
    cr_assert_eq(w.size, count.size);
    *size = w.size;
    return b;
}

static ttr_loop *loop_from_bytes(const unsigned char *b, size_t size, void **buf, int *err)
{
    ttr_config mc;
    ttr_loop_config lc;
    ttr_mem_reader r = {b, size, 0};
    *buf = NULL;
    *err = ttr_loop_load_config(ttr_mem_read, &r, &mc, &lc);
    if (*err)
        return NULL;
    size_t bytes = ttr_loop_bytes(&mc, &lc);
    *buf = calloc(1, bytes);
    ttr_loop *L = NULL;
    ttr_mem_reader r2 = {b, size, 0};
    *err = ttr_loop_load(&L, *buf, bytes, ttr_mem_read, &r2);
    return *err ? NULL : L;
}

/* A loop saved mid-stream and loaded elsewhere goes on to the same bits as
 * the one that never stopped (replay draws, window, promotions included). */
Test(loop, checkpoint_resumes_bit_for_bit)
{
    for (int p = 0; p < 2; p++) {
        ttr_loop_config lc;
        ttr_loop_config_default(&lc);
        lc.window = 256;
        lc.precision = (ttr_replay_precision)p;
        lc.capacity = 64;
        void *buf, *buf2;
        ttr_loop *L = new_loop(&lc, &buf), *R = NULL;
        tu_rng r = tu_rng_seed(10);
        imp m;
        for (int k = 0; k < 2500; k++) {
            if (k == 1203) { /* mid-step, mid-block */
                cr_assert_eq(ttr_loop_set_cursor(L, 1203), TTR_OK);
                /* a rate changed on the learner travels with it */
                cr_assert_eq(ttr_set_learning_rate(ttr_loop_learner(L), 0.02f, TTR_LR_CONSTANT,
                                                   0, 0),
                             TTR_OK);
                size_t size;
                int err;
                unsigned char *b = loop_bytes_of(L, &size);
                R = loop_from_bytes(b, size, &buf2, &err);
                cr_assert_eq(err, TTR_OK, "%s", ttr_strerror(err));
                size_t size2;
                unsigned char *b2 = loop_bytes_of(R, &size2);
                cr_assert(size == size2 && !memcmp(b, b2, size), "a loaded loop saves other bytes");
                cr_assert_eq(ttr_loop_cursor(R), 1203);
                cr_assert_float_eq(ttr_model_config(ttr_loop_learner(R))->lr, 0.02f, 0);
                free(b), free(b2);
            }
            draw(&r, 0, &m);
            ttr_loop_event e1, e2;
            cr_assert_eq(ttr_loop_observe(L, N, m.x, F, m.slots, m.clicks, 0, &e1), TTR_OK);
            if (R) {
                cr_assert_eq(ttr_loop_observe(R, N, m.x, F, m.slots, m.clicks, 0, &e2), TTR_OK);
                cr_assert(!memcmp(&e1, &e2, sizeof e1), "impression %d: other events", k);
            }
        }
        ttr_loop_stats s1, s2;
        cr_assert_eq(ttr_loop_stats_get(L, &s1), TTR_OK);
        cr_assert_eq(ttr_loop_stats_get(R, &s2), TTR_OK);
        cr_assert_geq(s1.promotions, 1);
        cr_assert(!memcmp(&s1, &s2, sizeof s1));
        cr_assert(same_model(ttr_loop_learner(L), ttr_loop_learner(R)));
        cr_assert(same_model(ttr_loop_champion(L), ttr_loop_champion(R)));
        free(buf), free(buf2);
    }
}

Test(loop, damaged_checkpoints_are_refused)
{
    ttr_loop_config lc;
    ttr_loop_config_default(&lc);
    lc.capacity = 8;
    lc.window = 64;
    void *buf, *buf2;
    ttr_loop *L = new_loop(&lc, &buf);
    tu_rng r = tu_rng_seed(12);
    imp m;
    for (int k = 0; k < 30; k++) {
        draw(&r, 0, &m);
        cr_assert_eq(ttr_loop_observe(L, N, m.x, F, m.slots, m.clicks, 0, NULL), TTR_OK);
    }
    size_t size;
    int err;
    unsigned char *b = loop_bytes_of(L, &size);
    /* a flipped bit anywhere (a sample of positions), a truncation */
    for (size_t at = 0; at < size; at += 1 + at / 16) {
        b[at] ^= 0x10;
        ttr_loop *R = loop_from_bytes(b, size, &buf2, &err);
        cr_assert_null(R, "flip at %zu loaded", at);
        cr_assert(err < 0);
        free(buf2);
        b[at] ^= 0x10;
    }
    for (size_t cut = 0; cut < size; cut += 1 + cut / 8) {
        ttr_loop *R = loop_from_bytes(b, cut, &buf2, &err);
        cr_assert_null(R, "truncated to %zu loaded", cut);
        free(buf2);
    }
    cr_assert_not_null(loop_from_bytes(b, size, &buf2, &err));
    free(buf2);
    /* files: atomic save, the CRC checked before the buffer is sized */
    char path[512];
    snprintf(path, sizeof path, "%s/ttr-loop-%d.ckpt", tu_tmp_dir(), (int)getpid());
    cr_assert_eq(ttr_loop_save_file(L, path), TTR_OK);
    ttr_config mc;
    ttr_loop_config lc2;
    cr_assert_eq(ttr_loop_file_config(path, &mc, &lc2), TTR_OK);
    cr_assert(!memcmp(&lc2, &lc, sizeof lc));
    size_t bytes = ttr_loop_bytes(&mc, &lc2);
    buf2 = calloc(1, bytes);
    ttr_loop *R;
    cr_assert_eq(ttr_loop_load_file(&R, buf2, bytes, path), TTR_OK);
    cr_assert(same_model(ttr_loop_learner(L), ttr_loop_learner(R)));
    cr_assert_eq(ttr_loop_load_file(&R, buf2, bytes - 1, path), TTR_ERR_NOMEM);
    FILE *fp = fopen(path, "r+b");
    cr_assert_not_null(fp);
    fseek(fp, (long)size / 2, SEEK_SET);
    fputc(0x55, fp);
    fclose(fp);
    cr_assert_eq(ttr_loop_file_config(path, &mc, &lc2), TTR_ERR_FORMAT);
    cr_assert_eq(ttr_loop_load_file(&R, buf2, bytes, path), TTR_ERR_FORMAT);
    cr_assert_eq(remove(path), 0);
    cr_assert_eq(ttr_loop_file_config(path, &mc, &lc2), TTR_ERR_IO);
    cr_assert_eq(ttr_loop_file_config(NULL, &mc, &lc2), TTR_ERR_ARG);
    cr_assert_eq(ttr_loop_file_config("/", &mc, &lc2), TTR_ERR_IO, "a directory");
    cr_assert_eq(ttr_loop_load_file(NULL, buf2, bytes, path), TTR_ERR_ARG);
    cr_assert_eq(ttr_loop_load_file(&R, buf2, bytes, NULL), TTR_ERR_ARG);
    cr_assert_eq(ttr_loop_save_file(NULL, path), TTR_ERR_ARG);
    cr_assert_eq(ttr_loop_save_file(L, "/nonexistent-dir/ttr.ckpt"), TTR_ERR_IO);
    cr_assert_eq(ttr_loop_save_file(L, ""), TTR_ERR_ARG);
    free(buf2), free(b), free(buf);
}

/* The champion uses the learner's per-step region (gradients, scratch),
 * which is what keeps the loop small. That is sound only if nothing in the
 * region outlives a call: a loop whose region is overwritten with NaN bytes
 * after every call goes on to the same bits as one left alone, for every
 * variant, through promotions and rollbacks. */
Test(loop, nothing_in_the_shared_step_region_outlives_a_call)
{
    static const ttr_variant variants[] = {TTR_NAIVE, TTR_ADDITIVE, TTR_PAL,
                                           TTR_DOT,   TTR_MIXEM,    TTR_XPA};
    for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
        ttr_config c;
        model_config(&c);
        c.variant = variants[v];
        ttr_loop_config lc;
        ttr_loop_config_default(&lc);
        lc.window = 256, lc.capacity = 64;
        size_t bytes = ttr_loop_bytes(&c, &lc);
        cr_assert_lt(ttr__shared_step_bytes(&c), ttr_arena_bytes(&c, TTR_MODE_TRAIN));
        void *ba = calloc(1, bytes), *bb = calloc(1, bytes);
        ttr_loop *A, *B;
        cr_assert_eq(ttr_loop_init(&A, &c, &lc, ba, bytes), TTR_OK);
        cr_assert_eq(ttr_loop_init(&B, &c, &lc, bb, bytes), TTR_OK);
        cr_assert_eq(B->champion->step_begin, B->learner->step_begin);
        unsigned char *region = B->learner->step_begin;
        size_t n = (size_t)((unsigned char *)B->learner_buf + B->model_bytes - region);
        tu_rng r = tu_rng_seed(40 + v);
        imp m;
        for (int k = 0; k < 2500; k++) {
            draw(&r, 0, &m);
            ttr_loop_event ea, eb;
            cr_assert_eq(ttr_loop_observe(A, N, m.x, F, m.slots, m.clicks, 0, &ea), TTR_OK);
            cr_assert_eq(ttr_loop_observe(B, N, m.x, F, m.slots, m.clicks, 0, &eb), TTR_OK);
            memset(region, 0xff, n);
            cr_assert(!memcmp(&ea, &eb, sizeof ea), "variant %d, impression %d", (int)v, k);
            if (k == 2000) {
                cr_assert_eq(ttr_loop_rollback(A), TTR_OK);
                cr_assert_eq(ttr_loop_rollback(B), TTR_OK);
                memset(region, 0xff, n);
            }
        }
        ttr_loop_stats st;
        cr_assert_eq(ttr_loop_stats_get(B, &st), TTR_OK);
        cr_assert_geq(st.promotions, 1, "variant %d: no promotion to check", (int)v);
        size_t sa, sb;
        unsigned char *fa = loop_bytes_of(A, &sa), *fb = loop_bytes_of(B, &sb);
        cr_assert(sa == sb && !memcmp(fa, fb, sa), "variant %d: other bits", (int)v);
        free(fa), free(fb), free(ba), free(bb);
    }
}
