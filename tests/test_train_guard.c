/* What a training step does at the edges, found by a mutation run of
 * src/train.c and src/train_step.c (scripts/mutate.py): the listwise
 * softmax with logits far apart, a batch without contexts on a model with
 * contexts, and the refusal of updates that would overflow when the
 * optimizer state or the gradient is huge (the bounds that decide whether
 * the exact check runs must not let such a step through). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "testutil.h"

/* A linear model over F features: f(x) = w . x + b, no hidden layer, no
 * normalisation, no decay, no dropout. */
static ttr_model *linear_model(ttr_variant v, ttr_optimizer opt, uint32_t F, void **arena)
{
    ttr_config c;
    ttr_config_default(&c, v, F);
    c.n_hidden = 0;
    c.rows = 4;
    c.cols = 1;
    c.max_items = 4;
    c.max_batch = 2;
    c.optimizer = opt;
    c.lr = opt == TTR_OPT_SGD ? 10.0f : 1e-3f;
    c.momentum = 0.9f;
    c.l2 = 0.0f;
    c.weight_decay = 0.0f;
    c.clip_norm = 0.0f;
    c.slot_dropout = 0.0f;
    c.bias_hidden = 0;
    c.lr_schedule = TTR_LR_CONSTANT;
    size_t need = ttr_arena_bytes(&c, TTR_MODE_TRAIN);
    /* defined bytes in the alignment gaps init does not write: the tests
     * compare the model's bytes (valgrind would see uninitialised reads) */
    *arena = calloc(1, need);
    ttr_model *m;
    cr_assert_eq(ttr_model_init(&m, &c, TTR_MODE_TRAIN, *arena, need), TTR_OK);
    return m;
}

/* The bytes a step may change: every parameter and optimizer value. */
static unsigned char *params_copy(const ttr_model *m, size_t *len)
{
    *len = (size_t)(m->step_begin - (const unsigned char *)m);
    unsigned char *c = malloc(*len);
    memcpy(c, m, *len);
    return c;
}

/* Softmax over a list whose logits are 2,000 apart, the largest last: the
 * log-sum-exp must shift by the maximum (by the first logit it overflows
 * exp and the step is refused as non-finite). */
Test(train_guard, softmax_with_logits_far_apart_trains)
{
    void *arena;
    ttr_model *m = linear_model(TTR_NAIVE, TTR_OPT_ADAM, 1, &arena);
    ttr__tensor *w = tu_tensor(m, "rel.0.w");
    w->w[0] = 1000.0f;
    m->cfg.loss = TTR_LOSS_SOFTMAX;
    ttr__repack(m);
    static const float x[3] = {-1.0f, 0.0f, 1.0f}; /* z = -1000, 0, 1000 */
    static const uint16_t slots[3] = {0, 1, 2};
    static const uint8_t clicks[3] = {1, 0, 0};
    static const size_t off[2] = {0, 3};
    ttr_batch b = {1, off, x, 1, slots, clicks, NULL};
    ttr_train_stats st;
    cr_assert_eq(ttr_train(m, &b, &st), TTR_OK);
    /* the clicked item is 2,000 below the top: the loss is that gap */
    cr_assert(isfinite(st.loss) && fabs(st.loss - 2000.0) < 1e-3, "loss %.9g", st.loss);
    free(arena);
}

/* A model with contexts trained on a batch without them: context 0, the
 * same bits as with every list's context given as 0. */
Test(train_guard, no_contexts_means_context_zero)
{
    ttr_config c;
    ttr_config_default(&c, TTR_ADDITIVE, 2);
    c.n_contexts = 3;
    c.rows = 4;
    c.max_items = 4;
    c.max_batch = 2;
    c.slot_dropout = 0.0f;
    size_t need = ttr_arena_bytes(&c, TTR_MODE_TRAIN);
    void *a1 = malloc(need), *a2 = malloc(need);
    memset(a1, 0, need);
    memset(a2, 0, need);
    ttr_model *m1, *m2;
    cr_assert_eq(ttr_model_init(&m1, &c, TTR_MODE_TRAIN, a1, need), TTR_OK);
    cr_assert_eq(ttr_model_init(&m2, &c, TTR_MODE_TRAIN, a2, need), TTR_OK);
    static const float x[6] = {0.5f, -1.0f, 1.5f, 0.25f, -0.5f, 2.0f};
    static const uint16_t slots[3] = {0, 1, 2};
    static const uint8_t clicks[3] = {1, 0, 1};
    static const size_t off[3] = {0, 2, 3};
    static const uint32_t zeros[2] = {0, 0};
    ttr_batch none = {2, off, x, 2, slots, clicks, NULL};
    ttr_batch given = {2, off, x, 2, slots, clicks, zeros};
    for (int s = 0; s < 3; s++) {
        cr_assert_eq(ttr_train(m1, &none, NULL), TTR_OK);
        cr_assert_eq(ttr_train(m2, &given, NULL), TTR_OK);
    }
    for (uint32_t t = 0; t < m1->n_tensors; t++) {
        size_t n = (size_t)m1->tensors[t].rows * m1->tensors[t].cols;
        cr_assert(!memcmp(m1->tensors[t].w, m2->tensors[t].w, n * sizeof(float)), "%s differs",
                  m1->tensors[t].name);
    }
    free(a1);
    free(a2);
}

/* Adam from a hostile state: a first moment of 1e36 and a second moment of
 * 0 on a weight that gets no gradient. The step lr m / (sqrt(v) + eps)
 * would be about 1e41: refused, nothing changed. (The bound that decides
 * whether the exact check runs must count the division by eps.) */
Test(train_guard, adam_step_from_a_hostile_moment_is_refused)
{
    void *arena;
    ttr_model *m = linear_model(TTR_NAIVE, TTR_OPT_ADAM, 2, &arena);
    ttr__tensor *w = tu_tensor(m, "rel.0.w");
    w->s1[1] = 1e36f; /* feature 1 is 0 in the batch: no gradient */
    w->s2[1] = 0.0f;
    static const float x[4] = {1.0f, 0.0f, -1.0f, 0.0f};
    static const uint16_t slots[2] = {0, 1};
    static const uint8_t clicks[2] = {1, 0};
    static const size_t off[2] = {0, 2};
    ttr_batch b = {1, off, x, 2, slots, clicks, NULL};
    size_t len;
    unsigned char *before = params_copy(m, &len);
    cr_assert_eq(ttr_train(m, &b, NULL), TTR_ERR_NONFINITE);
    cr_assert(!memcmp(before, m, len), "a refused step changed the model");
    cr_assert(isfinite(w->w[1]));
    free(before);
    free(arena);
}

/* SGD at lr 10 from a hostile velocity of 1e38 on one weight: the step
 * lr (momentum v + g) would take it to about -9e38: refused, nothing
 * changed. (Gradients themselves cannot get there: a component above about
 * 1.8e19 makes the float gradient norm overflow, and that step is refused
 * first.) A velocity of 1e36 moves it to about -9e36: accepted. */
Test(train_guard, sgd_step_from_a_hostile_velocity_is_refused)
{
    void *arena;
    ttr_model *m = linear_model(TTR_NAIVE, TTR_OPT_SGD, 2, &arena);
    ttr__tensor *w = tu_tensor(m, "rel.0.w");
    w->s1[1] = 1e38f; /* feature 1 is 0 in the batch: only the velocity moves it */
    static const float x[2] = {0.5f, 0.0f};
    static const uint16_t slots[1] = {0};
    static const uint8_t clicks[1] = {1};
    static const size_t off[2] = {0, 1};
    ttr_batch b = {1, off, x, 2, slots, clicks, NULL};
    size_t len;
    unsigned char *before = params_copy(m, &len);
    cr_assert_eq(ttr_train(m, &b, NULL), TTR_ERR_NONFINITE);
    cr_assert(!memcmp(before, m, len), "a refused step changed the model");
    w->s1[1] = 1e36f;
    cr_assert_eq(ttr_train(m, &b, NULL), TTR_OK);
    cr_assert(w->w[1] < -8e36f && w->w[1] > -1e37f, "w %g", (double)w->w[1]);
    free(before);
    free(arena);
}

/* A model holding a weight beyond the guard's limit (a hostile or damaged
 * checkpoint: 2e38 > FLT_MAX / 2) takes no step: any update would leave it
 * there. (The bound must start from the largest weight.) */
Test(train_guard, a_weight_past_the_limit_takes_no_step)
{
    void *arena;
    ttr_model *m = linear_model(TTR_NAIVE, TTR_OPT_ADAM, 2, &arena);
    ttr__tensor *w = tu_tensor(m, "rel.0.w");
    w->w[1] = 2e38f; /* feature 1 is 0 in the batch: the score stays finite */
    ttr__repack(m);
    static const float x[2] = {0.5f, 0.0f};
    static const uint16_t slots[1] = {0};
    static const uint8_t clicks[1] = {1};
    static const size_t off[2] = {0, 1};
    ttr_batch b = {1, off, x, 2, slots, clicks, NULL};
    size_t len;
    unsigned char *before = params_copy(m, &len);
    cr_assert_eq(ttr_train(m, &b, NULL), TTR_ERR_NONFINITE);
    cr_assert(!memcmp(before, m, len), "a refused step changed the model");
    free(before);
    free(arena);
}
