/* Model configuration: defaults and validation. */
#include <math.h>

#include "model.h"

void ttr_config_default(ttr_config *cfg, ttr_variant variant, uint32_t n_features)
{
    ttr_config c;
    unsigned i;
    c.variant = variant;
    c.n_features = n_features;
    c.n_hidden = 2;
    for (i = 0; i < TTR_MAX_HIDDEN; i++)
        c.hidden[i] = 0;
    c.hidden[0] = 32;
    c.hidden[1] = 16;
    c.rows = 10;
    c.cols = 1;
    c.n_contexts = 0;
    c.embed_dim = 8;
    c.bias_hidden = 8;
    c.dot_dim = 4;
    c.components = 2;
    c.attn_dim = 8;
    c.max_items = 10;
    c.max_batch = 256;
    c.loss = TTR_LOSS_BCE;
    c.optimizer = TTR_OPT_ADAM;
    c.lr = 3e-3f;
    c.beta1 = 0.9f;
    c.beta2 = 0.999f;
    c.adam_eps = 1e-8f;
    c.momentum = 0.9f;
    c.l2 = 0.0f;
    c.weight_decay = 1e-3f;
    c.lr_schedule = TTR_LR_CONSTANT;
    c.warmup_steps = 0;
    c.decay_steps = 0;
    c.clip_norm = 0.0f;
    c.slot_dropout = 0.1f;
    c.dot_serving = TTR_DOT_REF_MEAN;
    c.seed = 1;
    *cfg = c;
}

static int bad(const char **bad_field, const char *name)
{
    if (bad_field)
        *bad_field = name;
    return TTR_ERR_ARG;
}

static int finite_in(float v, float lo, float hi)
{
    return isfinite(v) && v >= lo && v <= hi;
}

#define STR_(x) #x
#define STR(x) STR_(x)

/* A field outside [lo, hi]: the message names it and its range, from the
 * same tokens as the test (declared once). */
#define CHECK_RANGE(f, lo, hi)                                                                     \
    do {                                                                                           \
        if (c->f < (lo) || c->f > (hi))                                                            \
            return bad(bad_field, #f " must be " STR(lo) ".." STR(hi));                                    \
    } while (0)
#define CHECK_MAX(f, hi)                                                                           \
    do {                                                                                           \
        if (c->f > (hi))                                                                           \
            return bad(bad_field, #f " must be 0.." STR(hi));                                          \
    } while (0)
#define CHECK_FINITE(f, lo, hi)                                                                    \
    do {                                                                                           \
        if (!finite_in(c->f, lo, hi))                                                              \
            return bad(bad_field, #f " must be finite, " STR(lo) ".." STR(hi));                            \
    } while (0)
#define HIDDEN_MAX 4096
#define HIDDEN_RULE(i) "hidden[" #i "] must be 1.." STR(HIDDEN_MAX)

int ttr_config_check(const ttr_config *c, const char **bad_field)
{
    static const char *hidden_names[TTR_MAX_HIDDEN] = {HIDDEN_RULE(0), HIDDEN_RULE(1),
                                                      HIDDEN_RULE(2), HIDDEN_RULE(3)};
    if (!c)
        return bad(bad_field, "config is NULL");
    if ((unsigned)c->variant > TTR_XPA)
        return bad(bad_field, "variant must be a ttr_variant");
    CHECK_RANGE(n_features, 1, 65536);
    CHECK_MAX(n_hidden, TTR_MAX_HIDDEN);
    for (unsigned i = 0; i < c->n_hidden; i++)
        if (c->hidden[i] < 1 || c->hidden[i] > HIDDEN_MAX)
            return bad(bad_field, hidden_names[i]);
    CHECK_RANGE(rows, 1, TTR_MAX_SLOTS);
    CHECK_RANGE(cols, 1, TTR_MAX_SLOTS);
    if ((uint64_t)c->rows * c->cols > TTR_MAX_SLOTS)
        return bad(bad_field, "cols must keep rows x cols at most " STR(TTR_MAX_SLOTS));
    CHECK_MAX(n_contexts, 65536);
    CHECK_RANGE(embed_dim, 1, 256);
    CHECK_MAX(bias_hidden, 4096);
    if (c->variant == TTR_DOT)
        CHECK_RANGE(dot_dim, 2, 64);
    if (c->variant == TTR_MIXEM)
        CHECK_RANGE(components, 2, TTR_MAX_COMPONENTS);
    if (c->variant == TTR_XPA)
        CHECK_RANGE(attn_dim, 1, 64);
    CHECK_RANGE(max_items, 1, 1024);
    CHECK_RANGE(max_batch, 1, 65536);
    if ((unsigned)c->loss > TTR_LOSS_SOFTMAX ||
        (c->loss == TTR_LOSS_SOFTMAX && c->variant != TTR_NAIVE && c->variant != TTR_ADDITIVE))
        return bad(bad_field, "loss must be bce, or softmax for naive and additive");
    if ((unsigned)c->optimizer > TTR_OPT_SGD)
        return bad(bad_field, "optimizer must be a ttr_optimizer");
    CHECK_FINITE(lr, 1e-12, 1e3);
    CHECK_FINITE(beta1, 0.0, 0.999999);
    CHECK_FINITE(beta2, 0.0, 0.99999994);
    CHECK_FINITE(adam_eps, 1e-30, 1.0);
    CHECK_FINITE(momentum, 0.0, 0.999999);
    CHECK_FINITE(l2, 0.0, 1e3);
    CHECK_FINITE(weight_decay, 0.0, 1e3);
    if ((double)c->lr * c->weight_decay > 1.0)
        return bad(bad_field, "weight_decay must keep lr x weight_decay at most 1");
    if ((unsigned)c->lr_schedule > TTR_LR_LINEAR)
        return bad(bad_field, "lr_schedule must be a ttr_lr_schedule");
    if (c->lr_schedule != TTR_LR_CONSTANT && c->decay_steps <= c->warmup_steps)
        return bad(bad_field, "decay_steps must exceed warmup_steps for a decaying schedule");
    CHECK_FINITE(clip_norm, 0.0, 3e38);
    CHECK_FINITE(slot_dropout, 0.0, 0.999);
    if ((unsigned)c->dot_serving > TTR_DOT_REF_TOP)
        return bad(bad_field, "dot_serving must be a ttr_dot_serving");
    return TTR_OK;
}

float ttr_lr_at(const ttr_config *c, uint64_t step)
{
    if (!c)
        return 0.0f;
    double t = step ? (double)step : 1.0, lr = c->lr;
    if (c->warmup_steps && t < (double)c->warmup_steps)
        lr *= t / (double)c->warmup_steps;
    if (c->lr_schedule == TTR_LR_CONSTANT || c->decay_steps <= c->warmup_steps)
        return (float)lr;
    double p = (t - c->warmup_steps) / (double)(c->decay_steps - c->warmup_steps);
    p = p < 0.0 ? 0.0 : p > 1.0 ? 1.0 : p;
    if (c->lr_schedule == TTR_LR_COSINE)
        return (float)(lr * 0.5 * (1.0 + cos(3.14159265358979323846 * p)));
    return (float)(lr * (1.0 - p));
}

int ttr_config_set_steps(ttr_config *c, uint64_t total_steps)
{
    if (!c)
        return TTR_ERR_ARG;
    c->lr_schedule = total_steps ? TTR_LR_COSINE : TTR_LR_CONSTANT;
    c->warmup_steps = 0;
    c->decay_steps = total_steps;
    return TTR_OK;
}
