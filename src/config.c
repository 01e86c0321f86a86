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

int ttr_config_check(const ttr_config *c, const char **bad_field)
{
    static const char *hidden_names[TTR_MAX_HIDDEN] = {"hidden[0]", "hidden[1]", "hidden[2]",
                                                      "hidden[3]"};
    if (!c)
        return bad(bad_field, "config");
    if ((unsigned)c->variant > TTR_XPA)
        return bad(bad_field, "variant");
    if (c->n_features < 1 || c->n_features > 65536)
        return bad(bad_field, "n_features");
    if (c->n_hidden > TTR_MAX_HIDDEN)
        return bad(bad_field, "n_hidden");
    for (unsigned i = 0; i < c->n_hidden; i++)
        if (c->hidden[i] < 1 || c->hidden[i] > 4096)
            return bad(bad_field, hidden_names[i]);
    if (c->rows < 1 || c->cols < 1 || (uint64_t)c->rows * c->cols > TTR_MAX_SLOTS)
        return bad(bad_field, c->rows < 1 || c->rows > TTR_MAX_SLOTS ? "rows" : "cols");
    if (c->n_contexts > 65536)
        return bad(bad_field, "n_contexts");
    if (c->embed_dim < 1 || c->embed_dim > 256)
        return bad(bad_field, "embed_dim");
    if (c->bias_hidden > 4096)
        return bad(bad_field, "bias_hidden");
    if (c->variant == TTR_DOT && (c->dot_dim < 2 || c->dot_dim > 64))
        return bad(bad_field, "dot_dim");
    if (c->variant == TTR_MIXEM && (c->components < 2 || c->components > TTR_MAX_COMPONENTS))
        return bad(bad_field, "components");
    if (c->variant == TTR_XPA && (c->attn_dim < 1 || c->attn_dim > 64))
        return bad(bad_field, "attn_dim");
    if (c->max_items < 1 || c->max_items > 1024)
        return bad(bad_field, "max_items");
    if (c->max_batch < 1 || c->max_batch > 65536)
        return bad(bad_field, "max_batch");
    if ((unsigned)c->loss > TTR_LOSS_SOFTMAX ||
        (c->loss == TTR_LOSS_SOFTMAX && c->variant != TTR_NAIVE && c->variant != TTR_ADDITIVE))
        return bad(bad_field, "loss");
    if ((unsigned)c->optimizer > TTR_OPT_SGD)
        return bad(bad_field, "optimizer");
    if (!finite_in(c->lr, 1e-12f, 1e3f))
        return bad(bad_field, "lr");
    if (!finite_in(c->beta1, 0.0f, 0.999999f))
        return bad(bad_field, "beta1");
    if (!finite_in(c->beta2, 0.0f, 0.99999994f))
        return bad(bad_field, "beta2");
    if (!finite_in(c->adam_eps, 1e-30f, 1.0f))
        return bad(bad_field, "adam_eps");
    if (!finite_in(c->momentum, 0.0f, 0.999999f))
        return bad(bad_field, "momentum");
    if (!finite_in(c->l2, 0.0f, 1e3f))
        return bad(bad_field, "l2");
    if (!finite_in(c->weight_decay, 0.0f, 1e3f) || (double)c->lr * c->weight_decay > 1.0)
        return bad(bad_field, "weight_decay");
    if ((unsigned)c->lr_schedule > TTR_LR_LINEAR)
        return bad(bad_field, "lr_schedule");
    if (c->lr_schedule != TTR_LR_CONSTANT && c->decay_steps <= c->warmup_steps)
        return bad(bad_field, "decay_steps");
    if (!finite_in(c->clip_norm, 0.0f, 3e38f))
        return bad(bad_field, "clip_norm");
    if (!finite_in(c->slot_dropout, 0.0f, 0.999f))
        return bad(bad_field, "slot_dropout");
    if ((unsigned)c->dot_serving > TTR_DOT_REF_TOP)
        return bad(bad_field, "dot_serving");
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
