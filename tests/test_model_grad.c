/* Finite-difference checks of every parameter tensor's gradient, for every
 * variant and loss, under every CPU mask.
 *
 * The model is float, so central differences carry rounding noise of about
 * 2e-7 * |L| / eps; a ReLU kink inside [w - eps, w + eps] also breaks the
 * difference. Each element is therefore differenced at two step sizes: when
 * they disagree with each other, the point is at a kink and is skipped (at
 * most 5% of elements may be); otherwise the analytic gradient must match. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "testutil.h"

#define MAX_ITEMS 6
#define LISTS 3

typedef struct grad_case {
    const char *name;
    ttr_variant variant;
    ttr_loss loss;
    uint32_t bias_hidden, rows, cols, contexts;
} grad_case;

typedef struct fixture {
    size_t offsets[LISTS + 1];
    float x[LISTS * MAX_ITEMS * 5];
    uint16_t slots[LISTS * MAX_ITEMS];
    uint8_t clicks[LISTS * MAX_ITEMS];
    uint32_t contexts[LISTS];
    ttr_batch batch;
} fixture;

static void make_batch(fixture *fx, const ttr_config *c, uint64_t seed)
{
    tu_rng r = tu_rng_seed(seed);
    static const size_t lens[LISTS] = {MAX_ITEMS, 4, 5};
    size_t at = 0;
    for (int l = 0; l < LISTS; l++) {
        fx->offsets[l] = at;
        fx->contexts[l] = c->n_contexts ? tu_u32(&r) % c->n_contexts : 0;
        for (size_t i = 0; i < lens[l]; i++, at++) {
            tu_fill_uniform(&r, fx->x + at * c->n_features, c->n_features, -1.5f, 1.5f);
            fx->slots[at] = (uint16_t)(tu_u32(&r) % (c->rows * c->cols));
            fx->clicks[at] = (uint8_t)(tu_u32(&r) % 3 == 0);
        }
        fx->clicks[fx->offsets[l]] = 1; /* every list has a click (softmax loss) */
    }
    fx->offsets[LISTS] = at;
    fx->batch.n_lists = LISTS;
    fx->batch.offsets = fx->offsets;
    fx->batch.x = fx->x;
    fx->batch.ldx = c->n_features;
    fx->batch.slots = fx->slots;
    fx->batch.clicks = fx->clicks;
    fx->batch.contexts = c->n_contexts ? fx->contexts : NULL;
}

static double loss_of(ttr_model *m, const ttr_batch *b)
{
    double loss = 0.0;
    ttr__repack(m);
    cr_assert_eq(ttr__forward_backward(m, b, 0, 0, NULL, &loss, NULL), TTR_OK);
    return loss;
}

/* A model of the case's shape in a malloc'ed arena, moved away from the
 * symmetric start (zero biases, u = v = 0 ...) so that every term of the
 * gradient is exercised. */
static ttr_model *case_model(const grad_case *gc, void **arena_out)
{
    ttr_config c;
    ttr_config_default(&c, gc->variant, 5);
    c.n_hidden = 2;
    c.hidden[0] = 6;
    c.hidden[1] = 4;
    c.embed_dim = 3;
    c.attn_dim = 3;
    c.dot_dim = 3;
    c.components = 2;
    c.max_items = MAX_ITEMS;
    c.max_batch = LISTS;
    c.loss = gc->loss;
    c.bias_hidden = gc->bias_hidden;
    c.rows = gc->rows;
    c.cols = gc->cols;
    c.n_contexts = gc->contexts;
    c.seed = 7;
    size_t bytes = ttr_arena_bytes(&c, TTR_MODE_TRAIN);
    cr_assert(bytes > 0, "%s: config rejected", gc->name);
    void *arena = malloc(bytes);
    ttr_model *m;
    cr_assert_eq(ttr_model_init(&m, &c, TTR_MODE_TRAIN, arena, bytes), TTR_OK);
    tu_rng r = tu_rng_seed(101);
    for (uint32_t t = 0; t < m->n_tensors; t++) {
        ttr__tensor *tn = &m->tensors[t];
        for (size_t j = 0; j < (size_t)tn->rows * tn->cols; j++)
            tn->w[j] += tu_uniform(&r, -0.3f, 0.3f);
    }
    *arena_out = arena;
    return m;
}

/* XPA's relevance tower does not learn from the neighbour term (a
 * stop-gradient, src/train.c): its gradient is not that of the loss but of
 * sum_i dz_i f(x_i) with dz held at its value. */
static int is_xpa_relevance(const ttr_model *m, const ttr__tensor *tn)
{
    return m->cfg.variant == TTR_XPA && !strncmp(tn->name, "rel.", 4);
}

/* What is differenced: the loss of a batch, or (XPA's relevance tower) the
 * sum over one list of dz_i f(x_i) with dz fixed. */
typedef struct objective {
    const ttr_batch *batch;
    const float *dz; /* NULL: the loss */
} objective;

static double objective_of(ttr_model *m, const objective *o)
{
    if (!o->dz)
        return loss_of(m, o->batch);
    size_t n = o->batch->offsets[1];
    float f[MAX_ITEMS];
    ttr__repack(m);
    cr_assert_eq(ttr_score(m, n, o->batch->x, o->batch->ldx, f), TTR_OK);
    double sum = 0.0;
    for (size_t i = 0; i < n; i++)
        sum += (double)o->dz[i] * f[i];
    return sum;
}

typedef struct tally {
    int checked, skipped;
} tally;

/* Central differences of the objective against the analytic gradient in
 * tn->g, element by element, at two step sizes (see the top). */
static void check_tensor(ttr_model *m, ttr__tensor *tn, const objective *o, double value,
                         const char *name, const char *path, tally *t)
{
    size_t n = (size_t)tn->rows * tn->cols;
    float *analytic = malloc(n * sizeof(float));
    memcpy(analytic, tn->g, n * sizeof(float));
    for (size_t j = 0; j < n; j++) {
        float w0 = tn->w[j];
        double fd[2];
        static const float eps[2] = {2e-3f, 1e-3f};
        for (int e = 0; e < 2; e++) {
            tn->w[j] = w0 + eps[e];
            double lp = objective_of(m, o);
            tn->w[j] = w0 - eps[e];
            double lm = objective_of(m, o);
            tn->w[j] = w0;
            /* the step actually taken in float */
            fd[e] = (lp - lm) / ((double)(w0 + eps[e]) - (double)(w0 - eps[e]));
        }
        /* float rounding of the objective, relative ~2e-7, over the smaller step */
        double noise = 2e-7 * (fabs(value) + 1.0) / 1e-3;
        if (fabs(fd[0] - fd[1]) > 0.5 * noise + 1e-2 * fabs(fd[0])) {
            t->skipped++;
            continue;
        }
        double a = analytic[j];
        double tol = noise + 2e-2 * fabs(fd[1]);
        t->checked++;
        cr_assert(fabs(a - fd[1]) <= tol,
                  "%s [%s]: d/d %s[%zu]: analytic %.6g, finite difference %.6g", name, path,
                  tn->name, j, a, fd[1]);
    }
    free(analytic);
}

static void assert_few_kinks(const tally *t, const char *name, const char *path)
{
    cr_assert(t->skipped * 20 <= t->checked + t->skipped, "%s [%s]: %d of %d elements at kinks",
              name, path, t->skipped, t->checked + t->skipped);
}

/* Checks every element of every tensor (XPA: all but the relevance tower,
 * see check_xpa_relevance); returns the number checked. */
static int check_case(const grad_case *gc, const char *path)
{
    void *arena;
    ttr_model *m = case_model(gc, &arena);
    fixture fx;
    make_batch(&fx, &m->cfg, 5);
    double loss;
    ttr__repack(m);
    cr_assert_eq(ttr__forward_backward(m, &fx.batch, 1, 0, NULL, &loss, NULL), TTR_OK);
    cr_assert(isfinite(loss));
    objective o = {&fx.batch, NULL};
    tally t = {0, 0};
    for (uint32_t i = 0; i < m->n_tensors; i++)
        if (!is_xpa_relevance(m, &m->tensors[i]))
            check_tensor(m, &m->tensors[i], &o, loss, gc->name, path, &t);
    assert_few_kinks(&t, gc->name, path);
    loss_of(m, &fx.batch);
    free(arena);
    return t.checked;
}

/* XPA's relevance tower on one list: its gradient is that of sum_i dz_i
 * f(x_i), the loss's dz flowing back through f alone. */
static int check_xpa_relevance(const grad_case *gc, const char *path)
{
    void *arena;
    ttr_model *m = case_model(gc, &arena);
    fixture fx;
    make_batch(&fx, &m->cfg, 5);
    fx.batch.n_lists = 1;
    size_t n = fx.offsets[1];
    double loss;
    ttr__repack(m);
    cr_assert_eq(ttr__forward_backward(m, &fx.batch, 1, 0, NULL, &loss, NULL), TTR_OK);
    float dz[MAX_ITEMS];
    memcpy(dz, m->s.dz, n * sizeof(float));
    int through_u = 0; /* the neighbour term is live: u != 0 */
    for (uint32_t j = 0; j < m->u->rows * m->u->cols; j++)
        through_u |= m->u->w[j] != 0.0f;
    cr_assert(through_u);
    objective o = {&fx.batch, dz};
    double value = objective_of(m, &o);
    tally t = {0, 0};
    for (uint32_t i = 0; i < m->n_tensors; i++)
        if (is_xpa_relevance(m, &m->tensors[i]))
            check_tensor(m, &m->tensors[i], &o, value, gc->name, path, &t);
    assert_few_kinks(&t, gc->name, path);
    free(arena);
    return t.checked;
}

static const grad_case cases[] = {
    {"naive-bce", TTR_NAIVE, TTR_LOSS_BCE, 0, 4, 1, 0},
    {"naive-softmax", TTR_NAIVE, TTR_LOSS_SOFTMAX, 0, 4, 1, 0},
    {"additive-bce", TTR_ADDITIVE, TTR_LOSS_BCE, 0, 4, 1, 0},
    {"additive-softmax-ctx", TTR_ADDITIVE, TTR_LOSS_SOFTMAX, 0, 4, 1, 3},
    {"additive-hidden-grid", TTR_ADDITIVE, TTR_LOSS_BCE, 3, 2, 3, 2},
    {"pal", TTR_PAL, TTR_LOSS_BCE, 0, 4, 1, 0},
    {"pal-hidden", TTR_PAL, TTR_LOSS_BCE, 2, 4, 1, 2},
    {"dot", TTR_DOT, TTR_LOSS_BCE, 0, 4, 1, 0},
    {"dot-hidden-ctx", TTR_DOT, TTR_LOSS_BCE, 3, 2, 2, 2},
    {"mixem", TTR_MIXEM, TTR_LOSS_BCE, 0, 4, 1, 0},
    {"mixem-hidden", TTR_MIXEM, TTR_LOSS_BCE, 2, 2, 2, 0},
    {"xpa-grid", TTR_XPA, TTR_LOSS_BCE, 0, 2, 3, 0},
    {"xpa-hidden-ctx", TTR_XPA, TTR_LOSS_BCE, 2, 2, 3, 2},
};

Test(model_grad, every_variant_every_mask, .timeout = 600)
{
    unsigned masks[8];
    const char *names[8];
    int nm = tu_masks(masks, names);
    for (int k = 0; k < nm; k++) {
        ttr_set_cpu_mask(masks[k]);
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            int checked = check_case(&cases[i], names[k]);
            if (cases[i].variant == TTR_XPA) {
                int rel = check_xpa_relevance(&cases[i], names[k]);
                cr_assert(rel > 40, "%s: only %d relevance elements checked", cases[i].name, rel);
                checked += rel;
            }
            cr_assert(checked > 50, "%s: only %d elements checked", cases[i].name, checked);
        }
    }
    ttr_set_cpu_mask(TTR_CPU_ALL);
}
