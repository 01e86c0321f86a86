/* The training step itself, against a hand computation.
 *
 * test_model_grad.c checks every gradient by finite differences; this file
 * checks what ttr_train does with them: the mean over non-empty lists, L2
 * on the decaying tensors only (weight matrices and embeddings, never
 * biases), the global-norm clip, the SGD-momentum and Adam updates with
 * their bias corrections, the refusal of a non-finite gradient norm, empty
 * batches and the max_batch limit.
 *
 * The model is tiny (2 features, one hidden layer of 2, an additive bias
 * tower over 4 slots with 2-d embeddings), so the test computes its forward
 * pass, the BCE gradient of every tensor and the optimizer update itself, in
 * double, from weights it sets, and compares every weight and optimizer
 * value after ttr_train. Every configuration field the computation depends
 * on is set here explicitly (defaults may change). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "testutil.h"

#define HF 2 /* features */
#define HH 2 /* hidden units */
#define HR 4 /* slots (rows; cols = 1) */
#define HD 2 /* embedding width */
#define MAXN 8

enum { T_W0, T_B0, T_W1, T_B1, T_ER, T_EC, T_EU, T_WO, T_BO, T_COUNT };
static const char *const tname[T_COUNT] = {"rel.0.w",   "rel.0.b",   "rel.1.w",
                                           "rel.1.b",   "bias0.row", "bias0.col",
                                           "bias0.unk", "bias0.out.w", "bias0.out.b"};
static const size_t tsize[T_COUNT] = {HH * HF, HH, HH, 1, HR * HD, HD, HD, HD, 1};
/* L2 applies to weight matrices and embeddings, not to biases (ttrank.h) */
static const int tdecay[T_COUNT] = {1, 0, 1, 0, 1, 1, 1, 1, 0};

/* Parameters and optimizer state in double; t counts Adam steps. */
typedef struct hand {
    int additive, n_t;
    double w[T_COUNT][MAXN], g[T_COUNT][MAXN], s1[T_COUNT][MAXN], s2[T_COUNT][MAXN];
    double mean[HF], scale[HF];
    unsigned t;
} hand;

/* A batch: lists of items with 2 features, a slot and a click. */
typedef struct hbatch {
    size_t offsets[8];
    float x[32 * HF];
    uint16_t slots[32];
    uint8_t clicks[32];
    ttr_batch b;
} hbatch;


static double sigmoid(double z)
{
    return 1.0 / (1.0 + exp(-z));
}

static double softplus(double z)
{
    return z > 0.0 ? z + log1p(exp(-z)) : log1p(exp(z));
}

/* Forward and backward of the whole batch into h->g (mean over non-empty
 * lists); `dropped` (may be NULL) says which items use the unknown slot.
 * Returns the mean loss per non-empty list. */
static double hand_grads(hand *h, const ttr_batch *b, const int *dropped)
{
    size_t lists = 0, l, i;
    for (l = 0; l < b->n_lists; l++)
        lists += b->offsets[l + 1] > b->offsets[l];
    memset(h->g, 0, sizeof h->g);
    if (!lists)
        return 0.0;
    double scale = 1.0 / (double)lists, total = 0.0;
    double *W0 = h->w[T_W0], *b0 = h->w[T_B0], *W1 = h->w[T_W1], *b1 = h->w[T_B1];
    double *Er = h->w[T_ER], *Ec = h->w[T_EC], *Eu = h->w[T_EU], *Wo = h->w[T_WO];
    double *bo = h->w[T_BO];
    for (l = 0; l < b->n_lists; l++)
        for (i = b->offsets[l]; i < b->offsets[l + 1]; i++) {
            double xn[HF], a[HH], hid[HH], e[HD], f, g = 0.0, z;
            int c = b->clicks[i], drop = dropped ? dropped[i - b->offsets[0]] : 0;
            unsigned row = b->slots[i];
            for (int t = 0; t < HF; t++)
                xn[t] = ((double)b->x[i * b->ldx + (size_t)t] - h->mean[t]) * h->scale[t];
            f = b1[0];
            for (int j = 0; j < HH; j++) {
                a[j] = b0[j];
                for (int t = 0; t < HF; t++)
                    a[j] += W0[j * HF + t] * xn[t];
                /* no item at a ReLU kink: float and double agree on the side */
                cr_assert(fabs(a[j]) > 1e-3, "item %zu unit %d at a kink (%g)", i, j, a[j]);
                hid[j] = a[j] > 0.0 ? a[j] : 0.0;
                f += W1[j] * hid[j];
            }
            if (h->additive) {
                g = bo[0];
                for (int d = 0; d < HD; d++) {
                    e[d] = drop ? Eu[d] : Er[row * HD + (unsigned)d] + Ec[d];
                    g += Wo[d] * e[d];
                }
            }
            z = f + g;
            total += softplus(z) - c * z;
            double dz = (sigmoid(z) - c) * scale;
            h->g[T_B1][0] += dz;
            for (int j = 0; j < HH; j++) {
                h->g[T_W1][j] += dz * hid[j];
                double dh = a[j] > 0.0 ? dz * W1[j] : 0.0;
                h->g[T_B0][j] += dh;
                for (int t = 0; t < HF; t++)
                    h->g[T_W0][j * HF + t] += dh * xn[t];
            }
            if (h->additive) {
                h->g[T_BO][0] += dz;
                for (int d = 0; d < HD; d++) {
                    h->g[T_WO][d] += dz * e[d];
                    if (drop) {
                        h->g[T_EU][d] += dz * Wo[d];
                    } else {
                        h->g[T_ER][row * HD + (unsigned)d] += dz * Wo[d];
                        h->g[T_EC][d] += dz * Wo[d];
                    }
                }
            }
        }
    return total / (double)lists;
}

/* L2 on the decaying tensors, then the global norm. */
static double hand_l2_norm(hand *h, double l2)
{
    double s = 0.0;
    for (int k = 0; k < h->n_t; k++)
        for (size_t j = 0; j < tsize[k]; j++) {
            if (tdecay[k])
                h->g[k][j] += l2 * h->w[k][j];
            s += h->g[k][j] * h->g[k][j];
        }
    return sqrt(s);
}

/* One optimizer step from h->g (L2 included) as ttrank.h and ttr_kernels.h
 * define it. Returns the gradient norm before clipping. */
static double hand_step(hand *h, const ttr_config *c)
{
    double norm = hand_l2_norm(h, c->l2);
    double gscale = c->clip_norm > 0.0f && norm > c->clip_norm ? c->clip_norm / norm : 1.0;
    h->t++;
    double b1 = c->beta1, b2 = c->beta2;
    double bc1 = 1.0 - pow(b1, h->t), sbc2 = sqrt(1.0 - pow(b2, h->t));
    double lr_t = c->lr * sbc2 / bc1, eps_t = c->adam_eps * sbc2;
    for (int k = 0; k < h->n_t; k++)
        for (size_t j = 0; j < tsize[k]; j++) {
            double gs = h->g[k][j] * gscale;
            if (c->optimizer == TTR_OPT_SGD) {
                h->s1[k][j] = c->momentum * h->s1[k][j] + gs;
                h->w[k][j] -= c->lr * h->s1[k][j];
            } else {
                h->s1[k][j] = b1 * h->s1[k][j] + (1.0 - b1) * gs;
                h->s2[k][j] = b2 * h->s2[k][j] + (1.0 - b2) * gs * gs;
                h->w[k][j] -= lr_t * h->s1[k][j] / (sqrt(h->s2[k][j]) + eps_t);
            }
        }
    return norm;
}

/* The tiny model's configuration, every field the step depends on set. */
static void tiny_config(ttr_config *c, ttr_variant v, ttr_optimizer opt)
{
    ttr_config_default(c, v, HF);
    c->n_hidden = 1;
    c->hidden[0] = HH;
    c->rows = HR;
    c->cols = 1;
    c->n_contexts = 0;
    c->embed_dim = HD;
    c->bias_hidden = 0;
    c->max_items = 4;
    c->max_batch = 4;
    c->loss = TTR_LOSS_BCE;
    c->optimizer = opt;
    c->lr = opt == TTR_OPT_SGD ? 0.2f : 0.05f;
    c->beta1 = 0.8f;
    c->beta2 = 0.99f;
    /* big against sqrt(v) ~ 0.1 |g|: the bias correction of eps shows */
    c->adam_eps = 0.02f;
    c->momentum = 0.7f;
    c->l2 = 0.3f;
    c->weight_decay = 0.0f; /* decoupled decay: tests/test_schedule.c */
    c->clip_norm = 0.0f;
    c->slot_dropout = 0.0f;
    c->seed = 11;
}

/* Weights the test chooses (every bias and embedding non-zero, so that L2
 * on a tensor that must not decay shows), copied into the model and h. */
static void set_weights(ttr_model *m, hand *h, int additive)
{
    static const double vals[T_COUNT][MAXN] = {
        {0.8, -0.5, -0.6, 0.9},                              /* W0 */
        {0.15, -0.1},                                        /* b0 */
        {0.7, -1.1},                                         /* W1 */
        {0.25},                                              /* b1 */
        {0.4, -0.3, 0.1, 0.2, -0.35, 0.05, 0.3, -0.45},      /* E_row */
        {-0.2, 0.15},                                        /* E_col */
        {0.12, -0.22},                                       /* E_unk */
        {0.9, -0.6},                                         /* Wo */
        {-0.3},                                              /* bo */
    };
    static const float mean[HF] = {0.1f, -0.2f}, scl[HF] = {1.5f, 0.5f};
    memset(h, 0, sizeof *h);
    h->additive = additive;
    h->n_t = additive ? T_COUNT : T_B1 + 1;
    cr_assert_eq(m->n_tensors, (uint32_t)h->n_t);
    for (int k = 0; k < h->n_t; k++) {
        ttr__tensor *t = tu_tensor(m, tname[k]);
        cr_assert_eq((size_t)t->rows * t->cols, tsize[k], "%s size", tname[k]);
        for (size_t j = 0; j < tsize[k]; j++) {
            t->w[j] = (float)vals[k][j];
            h->w[k][j] = t->w[j];
        }
    }
    cr_assert_eq(ttr_set_normalization(m, mean, scl), TTR_OK);
    for (int t = 0; t < HF; t++) {
        h->mean[t] = mean[t];
        h->scale[t] = scl[t];
    }
    ttr__repack(m);
}

/* Lists of 3, 0 (empty) and 2 items; clicks mixed; `seed` moves the features. */
static void make_batch(hbatch *hb, uint64_t seed)
{
    static const size_t lens[3] = {3, 0, 2};
    static const uint16_t slots[5] = {0, 2, 3, 1, 2};
    static const uint8_t clicks[5] = {1, 0, 0, 0, 1};
    tu_rng r = tu_rng_seed(seed);
    size_t at = 0;
    for (size_t l = 0; l < 3; l++) {
        hb->offsets[l] = at;
        at += lens[l];
    }
    hb->offsets[3] = at;
    for (size_t i = 0; i < at; i++) {
        tu_fill_uniform(&r, hb->x + i * HF, HF, -1.0f, 1.0f);
        hb->slots[i] = slots[i];
        hb->clicks[i] = clicks[i];
    }
    memset(&hb->b, 0, sizeof hb->b);
    hb->b.n_lists = 3;
    hb->b.offsets = hb->offsets;
    hb->b.x = hb->x;
    hb->b.ldx = HF;
    hb->b.slots = hb->slots;
    hb->b.clicks = hb->clicks;
}

/* Every weight and optimizer value of m against h: the float model's step
 * within 2e-5 of the step's size, plus the weight's own rounding. */
static void expect_model(ttr_model *m, const hand *h, const double *before, const char *what)
{
    size_t at = 0;
    for (int k = 0; k < h->n_t; k++) {
        ttr__tensor *t = tu_tensor(m, tname[k]);
        for (size_t j = 0; j < tsize[k]; j++, at++) {
            double want = h->w[k][j], step = fabs(want - before[at]);
            double tol = 2e-5 * step + 2.4e-7 * fabs(want) + 1e-12;
            cr_assert(fabs(t->w[j] - want) <= tol,
                      "%s: %s[%zu] = %.9g, hand computation %.9g (step %.3g)", what, tname[k], j,
                      (double)t->w[j], want, step);
            cr_assert(fabs(t->s1[j] - h->s1[k][j]) <= 2e-5 * fabs(h->s1[k][j]) + 1e-12,
                      "%s: %s[%zu] first state %.9g, hand computation %.9g", what, tname[k], j,
                      (double)t->s1[j], h->s1[k][j]);
            if (t->s2)
                cr_assert(fabs(t->s2[j] - h->s2[k][j]) <= 4e-5 * fabs(h->s2[k][j]) + 1e-14,
                          "%s: %s[%zu] second moment %.9g, hand computation %.9g", what,
                          tname[k], j, (double)t->s2[j], h->s2[k][j]);
        }
    }
}

static void snapshot_w(const hand *h, double *out)
{
    size_t at = 0;
    for (int k = 0; k < h->n_t; k++)
        for (size_t j = 0; j < tsize[k]; j++)
            out[at++] = h->w[k][j];
}

/* `steps` steps of ttr_train against the hand computation; the gradient
 * norm and the loss of each step are checked too. */
static void run_steps(ttr_variant v, ttr_config *c, int steps, const char *what)
{
    size_t bytes = ttr_arena_bytes(c, TTR_MODE_TRAIN);
    cr_assert(bytes > 0, "%s: config rejected", what);
    void *arena = malloc(bytes);
    ttr_model *m;
    hand h;
    cr_assert_eq(ttr_model_init(&m, c, TTR_MODE_TRAIN, arena, bytes), TTR_OK);
    set_weights(m, &h, v == TTR_ADDITIVE);
    for (int s = 0; s < steps; s++) {
        hbatch hb;
        double before[T_COUNT * MAXN];
        ttr_train_stats st;
        make_batch(&hb, 100 + (uint64_t)s);
        snapshot_w(&h, before);
        double loss = hand_grads(&h, &hb.b, NULL);
        double norm = hand_step(&h, c);
        cr_assert_eq(ttr_train(m, &hb.b, &st), TTR_OK, "%s: step %d", what, s);
        cr_assert(fabs(st.loss - loss) <= 1e-6 * loss, "%s step %d: loss %.9g, hand %.9g", what,
                  s, st.loss, loss);
        cr_assert(fabs(st.grad_norm - norm) <= 1e-5 * norm,
                  "%s step %d: gradient norm %.9g, hand %.9g", what, s, st.grad_norm, norm);
        cr_assert_eq(st.lists, 3);
        cr_assert_eq(st.items, 5);
        char label[64];
        snprintf(label, sizeof label, "%s, after step %d", what, s + 1);
        expect_model(m, &h, before, label);
        cr_assert_eq(m->step, (uint64_t)s + 1);
    }
    free(arena);
}

Test(train_step, sgd_momentum_with_l2_matches_hand_computation)
{
    ttr_config c;
    tiny_config(&c, TTR_ADDITIVE, TTR_OPT_SGD);
    run_steps(TTR_ADDITIVE, &c, 3, "additive sgd");
    tiny_config(&c, TTR_NAIVE, TTR_OPT_SGD);
    c.momentum = 0.0f;
    c.l2 = 0.0f;
    run_steps(TTR_NAIVE, &c, 2, "naive sgd, no momentum, no l2");
}

Test(train_step, adam_with_bias_corrections_matches_hand_computation)
{
    ttr_config c;
    tiny_config(&c, TTR_ADDITIVE, TTR_OPT_ADAM);
    run_steps(TTR_ADDITIVE, &c, 3, "additive adam");
    /* eps small: the update is about lr * sign(g) at step 1 */
    tiny_config(&c, TTR_NAIVE, TTR_OPT_ADAM);
    c.adam_eps = 1e-8f;
    c.beta1 = 0.9f;
    c.beta2 = 0.999f;
    run_steps(TTR_NAIVE, &c, 2, "naive adam");
}

/* The hand gradient norm of the first step, with L2. */
static double first_norm(const ttr_config *c)
{
    size_t bytes = ttr_arena_bytes(c, TTR_MODE_TRAIN);
    void *arena = malloc(bytes);
    ttr_model *m;
    hand h;
    hbatch hb;
    cr_assert_eq(ttr_model_init(&m, c, TTR_MODE_TRAIN, arena, bytes), TTR_OK);
    set_weights(m, &h, c->variant == TTR_ADDITIVE);
    make_batch(&hb, 100);
    hand_grads(&h, &hb.b, NULL);
    double norm = hand_l2_norm(&h, c->l2);
    free(arena);
    return norm;
}

Test(train_step, global_norm_clip)
{
    ttr_optimizer opts[2] = {TTR_OPT_SGD, TTR_OPT_ADAM};
    for (int o = 0; o < 2; o++) {
        ttr_config c;
        tiny_config(&c, TTR_ADDITIVE, opts[o]);
        double norm = first_norm(&c);
        cr_assert(norm > 0.1, "norm %g", norm);
        /* clipped to 0.4 of the norm, then not clipped (limit above the norm) */
        c.clip_norm = (float)(0.4 * norm);
        run_steps(TTR_ADDITIVE, &c, 2, o ? "adam, clip at 0.4 norm" : "sgd, clip at 0.4 norm");
        c.clip_norm = (float)(1.5 * norm);
        run_steps(TTR_ADDITIVE, &c, 1, o ? "adam, clip above the norm" : "sgd, clip above");
    }
}

/* ---- refused steps and no-ops ------------------------------------------------ */

/* Everything ttr_train may change, copied out. */
typedef struct state_copy {
    float *v;
    size_t n;
    uint64_t step, rng;
    double bref_count;
} state_copy;

static state_copy copy_state(const ttr_model *m)
{
    state_copy s;
    size_t n = 0, at = 0;
    for (uint32_t i = 0; i < m->n_tensors; i++)
        n += 3 * (size_t)m->tensors[i].rows * m->tensors[i].cols;
    s.v = calloc(n + 1, sizeof(float));
    s.n = n;
    for (uint32_t i = 0; i < m->n_tensors; i++) {
        const ttr__tensor *t = &m->tensors[i];
        size_t k = (size_t)t->rows * t->cols;
        memcpy(s.v + at, t->w, k * sizeof(float));
        at += k;
        memcpy(s.v + at, t->s1, k * sizeof(float));
        at += k;
        if (t->s2)
            memcpy(s.v + at, t->s2, k * sizeof(float));
        at += k;
    }
    s.step = m->step;
    s.rng = m->rng;
    s.bref_count = m->bref_count;
    return s;
}

static void expect_unchanged(const ttr_model *m, state_copy *before, const char *what)
{
    state_copy now = copy_state(m);
    cr_assert_eq(now.n, before->n);
    cr_assert(!memcmp(now.v, before->v, now.n * sizeof(float)),
              "%s: weights or optimizer state changed", what);
    cr_assert_eq(now.step, before->step, "%s: step count changed", what);
    cr_assert_eq(now.rng, before->rng, "%s: dropout stream moved", what);
    free(now.v);
    free(before->v);
    before->v = NULL;
}

Test(train_step, non_finite_gradient_norm_is_refused)
{
    /* A finite loss whose gradient norm overflows float: W1 = 1e30 makes
     * dL/dh ~ 1e30, every gradient element is finite, their squares are
     * not. SGD's update of such a gradient stays finite, so only the norm
     * check stands between it and the weights. */
    for (int clip = 0; clip < 2; clip++) {
        ttr_config c;
        tiny_config(&c, TTR_NAIVE, TTR_OPT_SGD);
        c.clip_norm = clip ? 1.0f : 0.0f;
        size_t bytes = ttr_arena_bytes(&c, TTR_MODE_TRAIN);
        void *arena = malloc(bytes);
        ttr_model *m;
        hand h;
        hbatch hb;
        cr_assert_eq(ttr_model_init(&m, &c, TTR_MODE_TRAIN, arena, bytes), TTR_OK);
        set_weights(m, &h, 0);
        tu_tensor(m, "rel.1.w")->w[0] = 1e30f;
        tu_tensor(m, "rel.1.w")->w[1] = 1e30f;
        ttr__repack(m);
        make_batch(&hb, 100);
        memset(hb.clicks, 0, sizeof hb.clicks); /* sigma(z) - c = 1: nothing cancels */
        double loss = 0.0;
        cr_assert_eq(ttr_eval_loss(m, &hb.b, &loss), TTR_OK);
        cr_assert(isfinite(loss) && loss > 1e29, "loss %g", loss);
        state_copy before = copy_state(m);
        ttr_train_stats st;
        cr_assert_eq(ttr_train(m, &hb.b, &st), TTR_ERR_NONFINITE, "clip %d", clip);
        expect_unchanged(m, &before, clip ? "refused step, clip on" : "refused step");
        free(arena);
    }
}

Test(train_step, empty_lists_and_empty_batches)
{
    ttr_config c;
    tiny_config(&c, TTR_ADDITIVE, TTR_OPT_ADAM);
    size_t bytes = ttr_arena_bytes(&c, TTR_MODE_TRAIN);
    void *arena = malloc(bytes);
    ttr_model *m;
    hand h;
    hbatch hb;
    cr_assert_eq(ttr_model_init(&m, &c, TTR_MODE_TRAIN, arena, bytes), TTR_OK);
    set_weights(m, &h, 1);
    make_batch(&hb, 100);
    /* the loss is the mean over the two non-empty lists (not three) */
    double loss = 0.0, want = hand_grads(&h, &hb.b, NULL);
    cr_assert_eq(ttr_eval_loss(m, &hb.b, &loss), TTR_OK);
    cr_assert(fabs(loss - want) <= 1e-6 * want, "loss %.9g, hand %.9g", loss, want);
    /* one real step first, so that Adam's moments are not zero: a step on
     * zero gradients would then still move the weights */
    ttr_train_stats st;
    cr_assert_eq(ttr_train(m, &hb.b, &st), TTR_OK);
    cr_assert_eq(m->step, 1);

    /* no lists at all (offsets may be NULL) */
    ttr_batch none;
    memset(&none, 0, sizeof none);
    state_copy before = copy_state(m);
    cr_assert_eq(ttr_train(m, &none, &st), TTR_OK);
    cr_assert_eq(st.lists, 0);
    cr_assert_eq(st.items, 0);
    cr_assert_eq(st.loss, 0.0);
    expect_unchanged(m, &before, "n_lists = 0");
    cr_assert_eq(ttr_eval_loss(m, &none, &loss), TTR_OK);
    cr_assert_eq(loss, 0.0);

    /* lists that are all empty, starting at a non-zero offset, no arrays */
    size_t offs[4] = {5, 5, 5, 5};
    ttr_batch empty;
    memset(&empty, 0, sizeof empty);
    empty.n_lists = 3;
    empty.offsets = offs;
    before = copy_state(m);
    cr_assert_eq(ttr_train(m, &empty, &st), TTR_OK);
    cr_assert_eq(st.lists, 3);
    cr_assert_eq(st.items, 0);
    cr_assert_eq(st.loss, 0.0);
    expect_unchanged(m, &before, "three empty lists");

    /* l2 > 0 gives a gradient even without items: still no step */
    cr_assert(m->cfg.l2 > 0.0f);
    free(arena);
}

Test(train_step, max_batch_is_inclusive)
{
    ttr_config c;
    tiny_config(&c, TTR_ADDITIVE, TTR_OPT_SGD);
    c.max_batch = 3;
    size_t bytes = ttr_arena_bytes(&c, TTR_MODE_TRAIN);
    void *arena = malloc(bytes);
    ttr_model *m;
    hand h;
    cr_assert_eq(ttr_model_init(&m, &c, TTR_MODE_TRAIN, arena, bytes), TTR_OK);
    set_weights(m, &h, 1);
    /* four one-item lists; the first three are a full batch */
    size_t offs[5] = {0, 1, 2, 3, 4};
    float x[4 * HF] = {0.5f, -0.3f, 0.2f, 0.7f, -0.6f, 0.1f, 0.9f, -0.8f};
    uint16_t slots[4] = {0, 1, 2, 3};
    uint8_t clicks[4] = {1, 0, 0, 1};
    ttr_batch b = {4, offs, x, HF, slots, clicks, NULL};
    state_copy before = copy_state(m);
    double loss;
    cr_assert_eq(ttr_train(m, &b, NULL), TTR_ERR_ARG, "max_batch + 1 lists accepted");
    cr_assert_eq(ttr_eval_loss(m, &b, &loss), TTR_ERR_ARG);
    expect_unchanged(m, &before, "max_batch + 1 lists");
    b.n_lists = 3;
    cr_assert_eq(ttr_eval_loss(m, &b, &loss), TTR_OK);
    cr_assert_eq(ttr_train(m, &b, NULL), TTR_OK, "max_batch lists refused");
    cr_assert_eq(m->step, 1);
    free(arena);
}

/* ---- slot dropout ------------------------------------------------------------- */

/* One list of four items at slots 0..3; dropout decisions as the model drew
 * them (s.dropped holds the last list's); the step against the hand
 * computation where a dropped item's embedding is E_unk and its gradient
 * goes to E_unk alone. Returns how many items were dropped. */
/* The tiny additive model (plain SGD, no L2) with slot dropout `rate`, the
 * weights of set_weights, and one list of 4 items in slots 0..3. */
typedef struct dropout_list {
    ttr_config c;
    void *arena;
    ttr_model *m;
    hand h;
    size_t offs[2];
    float x[4 * HF];
    uint16_t slots[4];
    uint8_t clicks[4];
    ttr_batch b;
} dropout_list;

static void dropout_list_init(dropout_list *d, float rate, uint64_t seed)
{
    static const float x[4 * HF] = {0.5f, -0.3f, 0.2f, 0.7f, -0.6f, 0.1f, 0.9f, -0.8f};
    static const uint8_t clicks[4] = {1, 0, 0, 1};
    tiny_config(&d->c, TTR_ADDITIVE, TTR_OPT_SGD);
    d->c.momentum = 0.0f;
    d->c.l2 = 0.0f;
    d->c.slot_dropout = rate;
    d->c.seed = seed;
    size_t bytes = ttr_arena_bytes(&d->c, TTR_MODE_TRAIN);
    d->arena = malloc(bytes);
    cr_assert_eq(ttr_model_init(&d->m, &d->c, TTR_MODE_TRAIN, d->arena, bytes), TTR_OK);
    set_weights(d->m, &d->h, 1);
    d->offs[0] = 0;
    d->offs[1] = 4;
    memcpy(d->x, x, sizeof x);
    memcpy(d->clicks, clicks, sizeof clicks);
    for (uint16_t i = 0; i < 4; i++)
        d->slots[i] = i;
    ttr_batch b = {1, d->offs, d->x, HF, d->slots, d->clicks, NULL};
    d->b = b;
}

static int dropout_step(float rate, uint64_t seed, int *dropped_out)
{
    dropout_list d;
    dropout_list_init(&d, rate, seed);
    ttr_config c = d.c;
    ttr_model *m = d.m;
    hand h = d.h;
    ttr_batch b = d.b;
    void *arena = d.arena;
    /* evaluation never drops */
    double loss, want = hand_grads(&h, &b, NULL);
    cr_assert_eq(ttr_eval_loss(m, &b, &loss), TTR_OK);
    cr_assert(fabs(loss - want) <= 1e-6 * want, "eval loss %.9g, undropped %.9g", loss, want);
    float rows0[HR * HD], col0[HD];
    memcpy(rows0, tu_tensor(m, "bias0.row")->w, sizeof rows0);
    memcpy(col0, tu_tensor(m, "bias0.col")->w, sizeof col0);
    ttr_train_stats st;
    cr_assert_eq(ttr_train(m, &b, &st), TTR_OK);
    int dropped[4], nd = 0;
    for (int i = 0; i < 4; i++) {
        dropped[i] = m->s.dropped[i] != 0;
        nd += dropped[i];
        dropped_out[i] = dropped[i];
    }
    double before[T_COUNT * MAXN];
    snapshot_w(&h, before);
    want = hand_grads(&h, &b, dropped);
    cr_assert(fabs(st.loss - want) <= 1e-6 * want, "loss %.9g, hand %.9g", st.loss, want);
    hand_step(&h, &c);
    expect_model(m, &h, before, "slot dropout");
    /* the rows of dropped items (slot p = row p here) got no gradient */
    for (int i = 0; i < 4; i++)
        if (dropped[i])
            cr_assert(!memcmp(tu_tensor(m, "bias0.row")->w + i * HD, rows0 + i * HD, sizeof col0),
                      "row %d of a dropped item moved", i);
    if (nd == 4)
        cr_assert(!memcmp(tu_tensor(m, "bias0.col")->w, col0, sizeof col0), "E_col moved");
    free(arena);
    return nd;
}

Test(train_step, slot_dropout_trains_the_unknown_slot)
{
    int d[4];
    /* about half dropped: both kinds of items in one list */
    int nd = dropout_step(0.5f, 3, d);
    cr_assert(nd > 0 && nd < 4, "seed 3 dropped %d of 4: pick a seed that mixes", nd);
    /* nearly always dropped: every item (P = 0.999^4 for this seed's draw) */
    nd = dropout_step(0.999f, 5, d);
    cr_assert_eq(nd, 4, "rate 0.999 dropped %d of 4", nd);
    /* never dropped */
    nd = dropout_step(0.0f, 5, d);
    cr_assert_eq(nd, 0);
}

/* The dropout stream moves on after a step (and only then): five steps on
 * the same list do not all drop the same items (each pattern of 4 at rate
 * 0.5 repeats with probability 1/16; this seed's do not). */
Test(train_step, slot_dropout_stream_advances_with_each_step)
{
    dropout_list d;
    dropout_list_init(&d, 0.5f, 3);
    ttr_model *m = d.m;
    int first[4], differs = 0;
    for (int s = 0; s < 5; s++) {
        uint64_t rng = m->rng;
        cr_assert_eq(ttr_train(m, &d.b, NULL), TTR_OK);
        cr_assert_neq(m->rng, rng, "step %d: the dropout stream did not move", s);
        for (int i = 0; i < 4; i++) {
            if (!s)
                first[i] = m->s.dropped[i] != 0;
            else
                differs |= first[i] != (m->s.dropped[i] != 0);
        }
    }
    cr_assert(differs, "five steps dropped the same items");
    free(d.arena);
}

/* Adam with beta2 = 0 sets v = g^2: a finite gradient whose square passes
 * FLT_MAX / 2 (its norm is still finite) must be refused with the model
 * unchanged; one whose square stays below is applied (ttrank.h: an update
 * that would take an optimizer value beyond about FLT_MAX / 2). */
Test(train_step, adam_second_moment_overflow_is_refused)
{
    for (int big = 0; big < 2; big++) {
        ttr_config c;
        ttr_config_default(&c, TTR_NAIVE, 2);
        c.n_hidden = 0;
        c.max_items = 1;
        c.max_batch = 1;
        c.loss = TTR_LOSS_BCE;
        c.optimizer = TTR_OPT_ADAM;
        c.lr = 1e-3f;
        c.beta1 = 0.9f;
        c.beta2 = 0.0f;
        c.adam_eps = 1e-8f;
        c.l2 = 0.0f;
        c.weight_decay = 0.0f;
        c.clip_norm = 0.0f;
        size_t bytes = ttr_arena_bytes(&c, TTR_MODE_TRAIN);
        void *arena = malloc(bytes);
        ttr_model *m;
        cr_assert_eq(ttr_model_init(&m, &c, TTR_MODE_TRAIN, arena, bytes), TTR_OK);
        ttr__tensor *W = tu_tensor(m, "rel.0.w"), *B = tu_tensor(m, "rel.0.b");
        W->w[0] = 0.0f;
        W->w[1] = 0.3f;
        B->w[0] = 0.0f;
        ttr__repack(m);
        size_t offs[2] = {0, 1};
        float x[2] = {big ? 3e19f : 1e19f, 0.5f};
        uint16_t slot = 0;
        uint8_t click = 0;
        ttr_batch b = {1, offs, x, 2, &slot, &click, NULL};
        /* z = 0.15: dL/dw0 = sigma(0.15) x0 */
        double dz = sigmoid(0.3 * 0.5), g0 = dz * x[0], g1 = dz * 0.5;
        double lim = 1.7e38;
        cr_assert(big ? g0 * g0 > 1.05 * lim : g0 * g0 < 0.5 * lim);
        cr_assert(g0 * g0 < 3.3e38, "the gradient norm must stay finite");
        state_copy before = copy_state(m);
        ttr_train_stats st;
        int err = ttr_train(m, &b, &st);
        if (big) {
            cr_assert_eq(err, TTR_ERR_NONFINITE, "v = %g accepted", g0 * g0);
            expect_unchanged(m, &before, "v beyond FLT_MAX / 2");
        } else {
            free(before.v);
            cr_assert_eq(err, TTR_OK);
            cr_assert(fabs(st.grad_norm - g0) <= 1e-5 * g0);
            /* beta2 = 0, t = 1: lr_t = lr / (1 - beta1), eps_t = eps */
            double g[3] = {g0, g1, dz}, w0[3] = {0.0, 0.3, 0.0};
            const float *w[3] = {&W->w[0], &W->w[1], &B->w[0]};
            const float *s1[3] = {&W->s1[0], &W->s1[1], &B->s1[0]};
            const float *s2[3] = {&W->s2[0], &W->s2[1], &B->s2[0]};
            for (int i = 0; i < 3; i++) {
                double mm = 0.1 * g[i], vv = g[i] * g[i];
                double want = w0[i] - 1e-2 * mm / (sqrt(vv) + 1e-8);
                cr_assert(fabs(*s1[i] - mm) <= 1e-5 * mm, "m[%d] %g vs %g", i, (double)*s1[i],
                          mm);
                cr_assert(fabs(*s2[i] - vv) <= 1e-5 * vv, "v[%d] %g vs %g", i, (double)*s2[i],
                          vv);
                cr_assert(fabs(*w[i] - want) <= 1e-5 * fabs(want - w0[i]) + 1e-7,
                          "w[%d] %.9g vs %.9g", i, (double)*w[i], want);
            }
        }
        free(arena);
    }
}

/* Momentum state as a hostile checkpoint may hold it: with s1 = 2e35 on
 * one weight, lr 1e3 and momentum 0.9 the step is about 1.8e38, past the
 * limit (about FLT_MAX / 2) though still finite in float: refused, model
 * unchanged. The first step after init measures its bounds exactly (max
 * |w|, |s1| over every tensor); with s1 = 1e35 the same step (0.9e38) is
 * applied. */
Test(train_step, sgd_momentum_state_past_the_limit_is_refused)
{
    for (int big = 0; big < 2; big++) {
        ttr_config c;
        tiny_config(&c, TTR_NAIVE, TTR_OPT_SGD);
        c.momentum = 0.9f;
        c.l2 = 0.0f;
        c.lr = 1e3f;
        size_t bytes = ttr_arena_bytes(&c, TTR_MODE_TRAIN);
        void *arena = malloc(bytes);
        ttr_model *m;
        hand h;
        hbatch hb;
        cr_assert_eq(ttr_model_init(&m, &c, TTR_MODE_TRAIN, arena, bytes), TTR_OK);
        set_weights(m, &h, 0);
        make_batch(&hb, 100);
        ttr__tensor *W1 = tu_tensor(m, "rel.1.w");
        W1->s1[1] = big ? 2e35f : 1e35f;
        hand_grads(&h, &hb.b, NULL);
        double g = h.g[T_W1][1];
        double want = W1->w[1] - (double)c.lr * (0.9 * W1->s1[1] + g);
        cr_assert(big ? fabs(want) > 1.75e38 : fabs(want) < 1.0e38, "%g", want);
        state_copy before = copy_state(m);
        int err = ttr_train(m, &hb.b, NULL);
        if (big) {
            cr_assert_eq(err, TTR_ERR_NONFINITE, "w = %g accepted", want);
            expect_unchanged(m, &before, "momentum past the limit");
        } else {
            free(before.v);
            cr_assert_eq(err, TTR_OK);
            cr_assert(fabs(W1->w[1] - want) <= 1e-6 * fabs(want), "w %g vs %g",
                      (double)W1->w[1], want);
        }
        free(arena);
    }
}
