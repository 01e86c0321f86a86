/* The training step (ttr_train): the gradient norm, clipping, the
 * learning-rate schedule and decoupled weight decay, the checks that the
 * update stays finite, the update itself and the running statistics; and
 * the two calls that run the forward pass without a step (ttr_eval_loss,
 * ttr_click_probs). The forward and backward passes are train.c's. */
#include <math.h>
#include <string.h>

#include "model.h"

/* ---- optimizer ------------------------------------------------------------ */

static double grad_norm(const ttr_model *m)
{
    double s = 0.0;
    for (uint32_t i = 0; i < m->n_tensors; i++) {
        const ttr__tensor *t = &m->tensors[i];
        size_t n = (size_t)t->rows * t->cols;
        s += ttr_dot_f32(n, t->g, t->g);
    }
    return sqrt(s);
}

/* The factor decoupled weight decay keeps of a tensor's weights this step:
 * 1 - lr * weight_decay on decay tensors (in [0, 1]: ttr_config_check
 * bounds lr * weight_decay), 1 elsewhere. */
static float decay_keep(const ttr_model *m, const ttr__tensor *tn, float lr)
{
    return tn->decay && m->cfg.weight_decay > 0.0f ? 1.0f - lr * m->cfg.weight_decay : 1.0f;
}

/* 1 if the update apply_update() is about to make keeps every weight and
 * every optimizer value finite. A finite gradient can still overflow them
 * (Adam's v = beta2 v + (1 - beta2) g^2, a step lr m / (sqrt(v) + eps) from
 * a large m and a tiny v, a weight near FLT_MAX): the step is then refused
 * before anything changes. The same arithmetic as the scalar kernels, with a
 * margin of 2x for the rounding of the vector paths. */
static int update_is_finite(const ttr_model *m, float gscale, float lr)
{
    const ttr_config *c = &m->cfg;
    const float lim = 1.7e38f; /* about FLT_MAX / 2 */
    ttr_adam_step st;
    int bad = 0;
    ttr_adam_step_init(&st, lr, c->beta1, c->beta2, c->adam_eps, m->step + 1);
    float b1 = st.beta1, b2 = st.beta2, c1 = 1.0f - b1, c2 = 1.0f - b2;
    for (uint32_t i = 0; i < m->n_tensors; i++) {
        const ttr__tensor *tn = &m->tensors[i];
        size_t n = (size_t)tn->rows * tn->cols;
        float keep = decay_keep(m, tn, lr);
        for (size_t k = 0; k < n; k++) {
            float gs = tn->g[k] * gscale, s1, w = tn->w[k] * keep;
            if (c->optimizer == TTR_OPT_ADAM) {
                float s2 = b2 * tn->s2[k] + c2 * (gs * gs);
                s1 = b1 * tn->s1[k] + c1 * gs;
                w -= st.lr_t * s1 / (sqrtf(s2) + st.eps_t);
                bad |= !(s2 <= lim);
            } else {
                s1 = c->momentum * tn->s1[k] + gs;
                w -= lr * s1;
            }
            bad |= !(fabsf(s1) <= lim) | !(fabsf(w) <= lim);
        }
    }
    return !bad;
}

/* Exact max |w|, max |s1| and max s2 over every tensor into b[0..2]. */
static void exact_bounds(const ttr_model *m, double b[3])
{
    double bw = 0.0, b1 = 0.0, b2 = 0.0;
    for (uint32_t i = 0; i < m->n_tensors; i++) {
        const ttr__tensor *tn = &m->tensors[i];
        size_t n = (size_t)tn->rows * tn->cols;
        for (size_t k = 0; k < n; k++) {
            double w = fabs((double)tn->w[k]), s1 = tn->s1 ? fabs((double)tn->s1[k]) : 0.0,
                   s2 = tn->s2 ? (double)tn->s2[k] : 0.0;
            bw = w > bw ? w : bw;
            b1 = s1 > b1 ? s1 : b1;
            b2 = s2 > b2 ? s2 : b2;
        }
    }
    b[0] = bw;
    b[1] = b1;
    b[2] = b2;
}

/* Would this step's update stay finite? update_is_finite() answers exactly,
 * but with a square root and a division per parameter it doubled the cost of
 * a one-list step. So bounds on max |w|, |s1| and s2 are carried from step to
 * step (Adam: |s1'| <= b1 B1 + (1-b1) G, s2' <= b2 B2 + (1-b2) G^2,
 * |w'| <= Bw + lr_t |s1'| / eps_t; momentum: |s1'| <= mu B1 + G,
 * |w'| <= Bw + lr |s1'|, with G >= max |g| from the gradient norm), and the
 * exact pass runs only when a bound passes 1e37, 17x below overflow (room for
 * the kernels' float rounding): from a hostile checkpoint, not in training.
 * The model struct starts zeroed (bounds not valid), and only ttr_train
 * changes weights after init or load. Nothing is written here (a refused
 * step leaves every byte as it was); bounds[] receives the bounds after the
 * update, or bounds[0] = -1 when they must be measured after it. */
static int update_safe(const ttr_model *m, double norm, float gscale, float lr, double bounds[3])
{
    const ttr_config *c = &m->cfg;
    const double lim = 1e37;
    double ub[3] = {m->ub_w, m->ub_s1, m->ub_s2};
    if (!m->ub_valid)
        exact_bounds(m, ub);
    double G = norm * (double)gscale * 1.001; /* the norm's float rounding */
    if (c->optimizer == TTR_OPT_ADAM) {
        ttr_adam_step st;
        ttr_adam_step_init(&st, lr, c->beta1, c->beta2, c->adam_eps, m->step + 1);
        bounds[1] = st.beta1 * ub[1] + (1.0 - st.beta1) * G;
        bounds[2] = st.beta2 * ub[2] + (1.0 - st.beta2) * G * G;
        bounds[0] = ub[0] + fabs((double)st.lr_t) * bounds[1] / (double)st.eps_t;
    } else {
        bounds[1] = fabs((double)c->momentum) * ub[1] + G;
        bounds[2] = 0.0;
        bounds[0] = ub[0] + fabs((double)lr) * bounds[1];
    }
    /* written so that NaN (eps_t = 0 gives Inf or NaN) takes the exact path */
    if (bounds[0] <= lim && bounds[1] <= lim && bounds[2] <= lim)
        return 1;
    bounds[0] = -1.0;
    return update_is_finite(m, gscale, lr);
}

/* Decoupled weight decay first (as AdamW: the decay does not pass through
 * the moments), then the optimizer's step at the scheduled rate lr. */
static void apply_update(ttr_model *m, float gscale, float lr)
{
    const ttr_config *c = &m->cfg;
    ttr_adam_step st;
    ttr_adam_step_init(&st, lr, c->beta1, c->beta2, c->adam_eps, m->step + 1);
    for (uint32_t i = 0; i < m->n_tensors; i++) {
        ttr__tensor *tn = &m->tensors[i];
        size_t n = (size_t)tn->rows * tn->cols;
        float keep = decay_keep(m, tn, lr);
        if (keep != 1.0f)
            for (size_t k = 0; k < n; k++)
                tn->w[k] *= keep;
        if (c->optimizer == TTR_OPT_ADAM)
            ttr_adam_f32(n, tn->w, tn->g, tn->s1, tn->s2, gscale, &st);
        else
            ttr_momentum_f32(n, tn->w, tn->g, tn->s1, gscale, lr, c->momentum);
    }
}

/* Fold the batch's staged statistics into the running means. */
static void commit_stats(ttr_model *m, size_t items)
{
    if (m->cfg.variant == TTR_DOT && items) {
        double total = m->bref_count + (double)items;
        for (uint32_t j = 0; j < m->f_out; j++)
            m->bref_mean[j] +=
                (float)((m->s.stage_bref[j] - (double)items * m->bref_mean[j]) / total);
        m->bref_count = total;
    }
    if (m->cfg.variant == TTR_XPA) {
        uint32_t P = m->n_slots;
        for (uint32_t p = 0; p < P; p++) {
            float add = m->s.stage_attn_n[p];
            if (add == 0.0f)
                continue;
            float total = m->attn_n[p] + add;
            for (uint32_t q = 0; q < P; q++) {
                float *mean = &m->attn_mean[(size_t)p * P + q];
                *mean += (m->s.stage_attn[(size_t)p * P + q] - add * *mean) / total;
            }
            m->attn_n[p] = total;
        }
    }
}

int ttr_train(ttr_model *m, const ttr_batch *b, ttr_train_stats *stats)
{
    int err = ttr__check_batch(m, b);
    if (err)
        return err;
    uint64_t rng = m->rng;
    double loss;
    err = ttr__forward_backward(m, b, 1, 1, &rng, &loss, NULL);
    if (err)
        return err;
    if (m->cfg.l2 > 0.0f)
        for (uint32_t i = 0; i < m->n_tensors; i++) {
            ttr__tensor *t = &m->tensors[i];
            if (t->decay)
                ttr_axpy_f32((size_t)t->rows * t->cols, m->cfg.l2, t->w, t->g);
        }
    double norm = grad_norm(m);
    if (!isfinite(loss) || !isfinite(norm))
        return TTR_ERR_NONFINITE;
    size_t items = b->n_lists ? b->offsets[b->n_lists] - b->offsets[0] : 0;
    if (stats) {
        stats->loss = loss;
        stats->grad_norm = norm;
        stats->lists = b->n_lists;
        stats->items = items;
    }
    if (!items)
        return TTR_OK;
    float gscale = 1.0f;
    if (m->cfg.clip_norm > 0.0f && norm > m->cfg.clip_norm)
        gscale = (float)(m->cfg.clip_norm / norm);
    double bounds[3];
    float lr = ttr_lr_at(&m->cfg, m->step + 1);
    if (!update_safe(m, norm, gscale, lr, bounds))
        return TTR_ERR_NONFINITE;
    apply_update(m, gscale, lr);
    if (bounds[0] < 0.0)
        exact_bounds(m, bounds);
    m->ub_w = bounds[0];
    m->ub_s1 = bounds[1];
    m->ub_s2 = bounds[2];
    m->ub_valid = 1;
    commit_stats(m, items);
    m->rng = rng;
    m->step++;
    for (size_t l = 0; l < b->n_lists; l++)
        m->impressions += b->offsets[l + 1] > b->offsets[l];
    ttr__repack(m);
    return TTR_OK;
}

int ttr_eval_loss(ttr_model *m, const ttr_batch *b, double *loss)
{
    int err = ttr__check_batch(m, b);
    if (err)
        return err;
    if (!loss)
        return TTR_ERR_ARG;
    return ttr__forward_backward(m, b, 0, 0, NULL, loss, NULL);
}

int ttr_click_probs(ttr_model *m, const ttr_batch *b, float *out)
{
    int err = ttr__check_batch(m, b);
    if (err)
        return err;
    if (!out)
        return TTR_ERR_ARG;
    double loss;
    return ttr__forward_backward(m, b, 0, 0, NULL, &loss, out);
}
