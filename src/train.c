/* Training: input checks, forward and backward of every variant over a
 * batch of lists (the optimizer step is train_step.c's).
 *
 * Lists are processed one at a time through the per-list scratch (sized for
 * max_items), gradients accumulate in the tensors' g buffers, and the update
 * is applied only after the whole batch produced a finite loss and gradient,
 * so a rejected batch leaves weights, optimizer state and running
 * statistics untouched. Per-item loss arithmetic is done in double: it is a
 * few operations per item next to the towers' thousands. */
#include <math.h>
#include <string.h>

#include "model.h"

int ttr__check_batch(const ttr_model *m, const ttr_batch *b)
{
    if (!m || m->magic != TTR__MAGIC || !b)
        return TTR_ERR_ARG;
    if (m->mode != TTR_MODE_TRAIN)
        return TTR_ERR_UNSUPPORTED;
    const ttr_config *c = &m->cfg;
    if (b->n_lists > c->max_batch || (b->n_lists && !b->offsets))
        return TTR_ERR_ARG;
    size_t first = b->n_lists ? b->offsets[0] : 0, l, i;
    for (l = 0; l < b->n_lists; l++) {
        if (b->offsets[l + 1] < b->offsets[l] || b->offsets[l + 1] - b->offsets[l] > c->max_items)
            return TTR_ERR_ARG;
        if (b->contexts && b->contexts[l] >= (c->n_contexts ? c->n_contexts : 1))
            return TTR_ERR_ARG;
    }
    size_t last = b->n_lists ? b->offsets[b->n_lists] : 0;
    if (last > first && (!b->x || !b->slots || !b->clicks || b->ldx < c->n_features))
        return TTR_ERR_ARG;
    for (i = first; i < last; i++)
        if (b->slots[i] >= m->n_slots || b->clicks[i] > 1)
            return TTR_ERR_ARG;
    /* one item per slot in a list, as the click-log reader demands: two
     * items cannot have been shown in the same place */
    for (l = 0; l < b->n_lists; l++) {
        uint32_t taken[TTR_MAX_SLOTS / 32] = {0};
        for (i = b->offsets[l]; i < b->offsets[l + 1]; i++) {
            uint32_t p = b->slots[i], bit = 1u << (p % 32);
            if (taken[p / 32] & bit)
                return TTR_ERR_ARG;
            taken[p / 32] |= bit;
        }
    }
    for (i = first; i < last; i++)
        for (uint32_t t = 0; t < c->n_features; t++)
            if (!isfinite(b->x[i * b->ldx + t]))
                return TTR_ERR_NONFINITE;
    return TTR_OK;
}

static double softplus_d(double z)
{
    return z > 0.0 ? z + log1p(exp(-z)) : log1p(exp(z));
}

static double sigmoid_d(double z)
{
    if (z >= 0.0)
        return 1.0 / (1.0 + exp(-z));
    double e = exp(z);
    return e / (1.0 + e);
}

/* b.g[j] += sum_i d[i][j] */
static void colsum_acc(size_t n, uint32_t cols, const float *d, float *g)
{
    for (size_t i = 0; i < n; i++)
        ttr_axpy_f32(cols, 1.0f, d + i * cols, g);
}

/* ---- bias towers --------------------------------------------------------- */

static void bias_forward(ttr_model *m, uint32_t c, size_t n, const uint16_t *slots,
                         uint32_t ctx, int training, uint64_t *rng)
{
    const ttr_config *cfg = &m->cfg;
    ttr__bias_tower *bt = &m->bias[c];
    uint32_t de = cfg->embed_dim;
    float *e = m->s.e[c];
    for (size_t i = 0; i < n; i++) {
        uint32_t row = slots[i] / cfg->cols, col = slots[i] % cfg->cols;
        int drop = 0;
        if (bt->E_unk && training && cfg->slot_dropout > 0.0f)
            drop = ttr__rng_uniform(rng) < cfg->slot_dropout;
        if (c == 0)
            m->s.dropped[i] = drop;
        for (uint32_t j = 0; j < de; j++)
            e[i * de + j] = drop ? bt->E_unk->w[j]
                                 : bt->E_row->w[row * de + j] + bt->E_col->w[col * de + j] +
                                       (bt->E_ctx ? bt->E_ctx->w[ctx * de + j] : 0.0f);
    }
    const float *in = e;
    if (bt->has_hidden) {
        ttr_gemm_f32(n, bt->hid.out, bt->hid.in, bt->hid.packed, e, de, bt->hid.b->w, m->s.bh[c],
                     bt->hid.out, 1);
        in = m->s.bh[c];
    }
    ttr_gemm_f32(n, bt->out.out, bt->out.in, bt->out.packed, in, bt->out.in, bt->out.b->w,
                 m->s.bo[c], bt->out.out, 0);
}

/* From dL/d(output) in s.dbo to dL/de in s.de (overwritten), with the
 * tower's weight gradients accumulated. */
static void bias_backward_to_e(ttr_model *m, uint32_t c, size_t n)
{
    ttr__bias_tower *bt = &m->bias[c];
    uint32_t de = m->cfg.embed_dim;
    const float *in = bt->has_hidden ? m->s.bh[c] : m->s.e[c];
    ttr_outer_acc_f32(n, bt->out.out, bt->out.in, m->s.dbo, bt->out.out, in, bt->out.in,
                      bt->out.W->g, bt->out.in);
    colsum_acc(n, bt->out.out, m->s.dbo, bt->out.b->g);
    if (!bt->has_hidden) {
        ttr_backprop_input_f32(n, bt->out.out, de, bt->out.W->w, de, m->s.dbo, bt->out.out,
                               m->s.de, de, 0);
        return;
    }
    uint32_t bh = bt->hid.out;
    ttr_backprop_input_f32(n, bt->out.out, bh, bt->out.W->w, bh, m->s.dbo, bt->out.out, m->s.dbh,
                           bh, 0);
    ttr_relu_bwd_f32(n * bh, m->s.bh[c], m->s.dbh, m->s.dbh);
    ttr_outer_acc_f32(n, bh, de, m->s.dbh, bh, m->s.e[c], de, bt->hid.W->g, de);
    colsum_acc(n, bh, m->s.dbh, bt->hid.b->g);
    ttr_backprop_input_f32(n, bh, de, bt->hid.W->w, de, m->s.dbh, bh, m->s.de, de, 0);
}

/* Scatter dL/de (s.de) into the embedding tables' gradients. */
static void bias_scatter_e(ttr_model *m, uint32_t c, size_t n, const uint16_t *slots,
                           uint32_t ctx)
{
    const ttr_config *cfg = &m->cfg;
    ttr__bias_tower *bt = &m->bias[c];
    uint32_t de = cfg->embed_dim;
    for (size_t i = 0; i < n; i++) {
        const float *d = m->s.de + i * de;
        if (c == 0 && m->s.dropped[i]) {
            ttr_axpy_f32(de, 1.0f, d, bt->E_unk->g);
            continue;
        }
        uint32_t row = slots[i] / cfg->cols, col = slots[i] % cfg->cols;
        ttr_axpy_f32(de, 1.0f, d, bt->E_row->g + (size_t)row * de);
        ttr_axpy_f32(de, 1.0f, d, bt->E_col->g + (size_t)col * de);
        if (bt->E_ctx)
            ttr_axpy_f32(de, 1.0f, d, bt->E_ctx->g + (size_t)ctx * de);
    }
}

/* ---- relevance tower ------------------------------------------------------ */

/* Backward from df (s.df, n x f_out). XPA's neighbour term reads h(x),
 * the input of the last layer, but its gradient does not flow back into the
 * tower (see xpa_backward). */
static void rel_backward(ttr_model *m, size_t n)
{
    const float *g = m->s.df;
    int buf = 0;
    for (uint32_t l = m->n_rel; l-- > 0;) {
        ttr__dense *d = &m->rel[l];
        const float *in = l ? m->s.fwd.act[l - 1] : m->s.fwd.xn;
        ttr_outer_acc_f32(n, d->out, d->in, g, d->out, in, d->in, d->W->g, d->in);
        colsum_acc(n, d->out, g, d->b->g);
        if (l == 0)
            break;
        float *gin = m->s.dact[buf];
        buf ^= 1;
        ttr_backprop_input_f32(n, d->out, d->in, d->W->w, d->in, g, d->out, gin, d->in, 0);
        ttr_relu_bwd_f32(n * d->in, m->s.fwd.act[l - 1], gin, gin);
        g = gin;
    }
}

/* ---- per-variant heads ---------------------------------------------------- */

/* Pointwise BCE on logits z (stride 1): returns the loss, writes
 * dz = (sigma(z) - c) * scale and, if probs, sigma(z). */
static double bce_head(size_t n, const float *z, const uint8_t *c, float scale, float *dz,
                       float *probs)
{
    double loss = 0.0;
    for (size_t i = 0; i < n; i++) {
        double zi = z[i], s = sigmoid_d(zi);
        loss += softplus_d(zi) - c[i] * zi;
        if (dz)
            dz[i] = (float)((s - c[i]) * scale);
        if (probs)
            probs[i] = (float)s;
    }
    return loss;
}

/* Listwise softmax cross-entropy: L = -sum_i c_i log softmax(z)_i. */
static double softmax_head(size_t n, const float *z, const uint8_t *c, float scale, float *dz,
                           float *probs)
{
    double mx = z[0], sum = 0.0, clicks = 0.0, loss = 0.0;
    size_t i;
    for (i = 1; i < n; i++)
        mx = z[i] > mx ? z[i] : mx;
    for (i = 0; i < n; i++) {
        sum += exp(z[i] - mx);
        clicks += c[i];
    }
    double lse = mx + log(sum);
    for (i = 0; i < n; i++) {
        double p = exp(z[i] - lse);
        loss -= c[i] * (z[i] - lse);
        if (dz)
            dz[i] = (float)((clicks * p - c[i]) * scale);
        if (probs)
            probs[i] = (float)sigmoid_d(z[i]); /* per-item click probability of the logit */
    }
    return loss;
}

/* PAL: P(click) = sigma(f) sigma(g), BCE on that product. */
static double pal_head(ttr_model *m, size_t n, const float *f, const float *g, const uint8_t *c,
                       float scale, float *probs)
{
    double loss = 0.0;
    for (size_t i = 0; i < n; i++) {
        double a = sigmoid_d(f[i]), b = sigmoid_d(g[i]);
        double na = sigmoid_d(-f[i]), nb = sigmoid_d(-g[i]); /* 1 - a, 1 - b without cancellation */
        double p = a * b, np = na + a * nb;                  /* 1 - ab = (1 - a) + a (1 - b) */
        double logp = -softplus_d(-f[i]) - softplus_d(-g[i]);
        loss -= c[i] ? logp : log(np);
        /* dL/df = (p - c)(1 - a) / (1 - p), dL/dg = (p - c)(1 - b) / (1 - p) */
        double df = c[i] ? -na : p * na / np;
        double dg = c[i] ? -nb : p * nb / np;
        if (m->s.df) {
            m->s.df[i] = (float)(df * scale);
            m->s.dbo[i] = (float)(dg * scale);
        }
        if (probs)
            probs[i] = (float)p;
    }
    return loss;
}

/* Dot: z_i = r_i . b_i. */
static double dot_head(ttr_model *m, size_t n, const float *r, const uint8_t *c, float scale,
                       int grads, float *probs)
{
    uint32_t D = m->f_out;
    const float *b = m->s.bo[0];
    for (size_t i = 0; i < n; i++)
        m->s.z[i] = ttr_dot_f32(D, r + i * D, b + i * D);
    double loss = bce_head(n, m->s.z, c, scale, m->s.dz, probs);
    if (grads)
        for (size_t i = 0; i < n; i++) {
            for (uint32_t j = 0; j < D; j++) {
                m->s.df[i * D + j] = m->s.dz[i] * b[i * D + j];
                m->s.dbo[i * D + j] = m->s.dz[i] * r[i * D + j];
            }
            ttr_axpy_f32(D, 1.0f, b + i * D, m->s.stage_bref);
        }
    return loss;
}

/* MixEM: L = -logsumexp_m(log pi_m + ll_m), ll_m = -sum_i BCE(w_m f_i + g_mi, c_i). */
static double mixem_head(ttr_model *m, size_t n, const float *f, const uint8_t *c, float scale,
                         int grads, float *probs)
{
    uint32_t K = m->cfg.components, k;
    double logpi[TTR_MAX_COMPONENTS], a[TTR_MAX_COMPONENTS], gamma[TTR_MAX_COMPONENTS];
    double mx = m->phi->w[0], sum = 0.0;
    for (k = 1; k < K; k++)
        mx = m->phi->w[k] > mx ? m->phi->w[k] : mx;
    for (k = 0; k < K; k++)
        sum += exp(m->phi->w[k] - mx);
    for (k = 0; k < K; k++)
        logpi[k] = m->phi->w[k] - mx - log(sum);
    double amax = -INFINITY;
    for (k = 0; k < K; k++) {
        double ll = 0.0;
        for (size_t i = 0; i < n; i++) {
            double z = (double)m->gain->w[k] * f[i] + m->s.bo[k][i];
            m->s.z[i * K + k] = (float)z;
            ll -= softplus_d(z) - c[i] * z;
        }
        a[k] = logpi[k] + ll;
        amax = a[k] > amax ? a[k] : amax;
    }
    double asum = 0.0;
    for (k = 0; k < K; k++)
        asum += exp(a[k] - amax);
    double lse = amax + log(asum);
    for (k = 0; k < K; k++)
        gamma[k] = exp(a[k] - lse);
    if (probs)
        for (size_t i = 0; i < n; i++) {
            double p = 0.0;
            for (k = 0; k < K; k++)
                p += exp(logpi[k]) * sigmoid_d(m->s.z[i * K + k]);
            probs[i] = (float)p;
        }
    if (grads) {
        for (size_t i = 0; i < n; i++) {
            double dfi = 0.0;
            for (k = 0; k < K; k++) {
                double dz = gamma[k] * (sigmoid_d(m->s.z[i * K + k]) - c[i]) * scale;
                m->s.dz[i * K + k] = (float)dz;
                dfi += dz * m->gain->w[k];
                m->gain->g[k] += (float)(dz * f[i]);
            }
            m->s.df[i] = (float)dfi;
        }
        for (k = 0; k < K; k++)
            m->phi->g[k] += (float)((exp(logpi[k]) - gamma[k]) * scale);
    }
    return -lse;
}

/* Attention over the other items of the list: row j of the softmax p
 * renormalised without its own entry (p[j][j] = 0), which is the softmax of
 * the scores with the diagonal masked, so the usual softmax backward applied
 * to the result is its exact gradient. Without it the own item's share of h~
 * is a second relevance path, u . h(x_j), that ranking by f(x) alone ignores.
 * A row with no other item (or whose others all underflowed) is all zero:
 * no neighbours, no neighbour term. */
static void mask_self_attention(size_t n, float *p)
{
    for (size_t j = 0; j < n; j++) {
        float *row = p + j * n;
        float others = 0.0f;
        row[j] = 0.0f;
        for (size_t m = 0; m < n; m++)
            others += row[m];
        float inv = others > 0.0f ? 1.0f / others : 0.0f;
        for (size_t m = 0; m < n; m++)
            row[m] *= inv;
    }
}

/* XPA forward: attention of each item over the other items of the list; z =
 * f + g + u . h~ + v . e~ + c0 into s.z. */
static void xpa_forward(ttr_model *m, size_t n, const float *f, const uint16_t *slots,
                        int grads)
{
    uint32_t da = m->cfg.attn_dim, de = m->cfg.embed_dim, H = m->h_dim, P = m->n_slots;
    const float *e = m->s.e[0];
    const float *h = m->n_rel > 1 ? m->s.fwd.act[m->n_rel - 2] : m->s.fwd.xn;
    ttr__scratch *s = &m->s;
    ttr_gemm_f32(n, da, de, m->wq.packed, e, de, NULL, s->q, da, 0);
    ttr_gemm_f32(n, da, de, m->wk.packed, e, de, NULL, s->k, da, 0);
    ttr_attn_probs_f32(n, da, s->q, da, s->k, da, 1.0f / sqrtf((float)da), NULL, s->p, n);
    mask_self_attention(n, s->p);
    ttr_attn_apply_f32(n, H, s->p, n, h, H, s->ht, H);
    ttr_attn_apply_f32(n, de, s->p, n, e, de, s->et, de);
    for (size_t i = 0; i < n; i++)
        s->z[i] = f[i] + s->bo[0][i] + ttr_dot_f32(H, s->ht + i * H, m->u->w) +
                  ttr_dot_f32(de, s->et + i * de, m->v->w) + m->c0->w[0];
    if (grads)
        for (size_t j = 0; j < n; j++) {
            for (size_t q = 0; q < n; q++)
                s->stage_attn[(size_t)slots[j] * P + slots[q]] += s->p[j * n + q];
            s->stage_attn_n[slots[j]] += 1.0f;
        }
}

/* XPA backward of everything but the towers: from dz (s.dz) to the
 * attention parameters and dL/de added into s.de. The neighbour term u . h~
 * reads the relevance tower's features h(x) of the other items but does not
 * train them (a stop-gradient: dL/dh lands in s.dh and is dropped). Left to
 * shape h, the bias side bends the relevance features towards explaining
 * where attention went, and ranking by f(x) loses: on MQ2008 grid logs with
 * a same-row effect the tower ranked worse than additive's (docs/training.md). */
static void xpa_backward(ttr_model *m, size_t n)
{
    uint32_t da = m->cfg.attn_dim, de = m->cfg.embed_dim, H = m->h_dim;
    const float *e = m->s.e[0];
    const float *h = m->n_rel > 1 ? m->s.fwd.act[m->n_rel - 2] : m->s.fwd.xn;
    ttr__scratch *s = &m->s;
    for (size_t i = 0; i < n; i++) {
        float d = s->dz[i];
        m->c0->g[0] += d;
        ttr_axpy_f32(H, d, s->ht + i * H, m->u->g);
        ttr_axpy_f32(de, d, s->et + i * de, m->v->g);
        for (uint32_t j = 0; j < H; j++)
            s->dht[i * H + j] = d * m->u->w[j];
        for (uint32_t j = 0; j < de; j++)
            s->det[i * de + j] = d * m->v->w[j];
    }
    memset(s->dp, 0, n * n * sizeof(float));
    memset(s->dh, 0, n * H * sizeof(float));
    memset(s->dq, 0, n * da * sizeof(float));
    memset(s->dk, 0, n * da * sizeof(float));
    ttr_attn_apply_bwd_f32(n, H, s->p, n, h, H, s->dht, H, s->dp, n, s->dh, H);
    ttr_attn_apply_bwd_f32(n, de, s->p, n, e, de, s->det, de, s->dp, n, s->de, de);
    ttr_attn_probs_bwd_f32(n, da, s->q, da, s->k, da, 1.0f / sqrtf((float)da), s->p, n, s->dp, n,
                           s->dq, da, s->dk, da);
    ttr_outer_acc_f32(n, da, de, s->dq, da, e, de, m->wq.W->g, de);
    ttr_outer_acc_f32(n, da, de, s->dk, da, e, de, m->wk.W->g, de);
    ttr_backprop_input_f32(n, da, de, m->wq.W->w, de, s->dq, da, s->de, de, 1);
    ttr_backprop_input_f32(n, da, de, m->wk.W->w, de, s->dk, da, s->de, de, 1);
}

/* ---- the batch ------------------------------------------------------------ */

int ttr__forward_backward(ttr_model *m, const ttr_batch *b, int grads, int training,
                          uint64_t *rng, double *loss_out, float *click_probs)
{
    const ttr_config *cfg = &m->cfg;
    size_t lists = 0, l, i;
    uint32_t k;
    for (l = 0; l < b->n_lists; l++)
        lists += b->offsets[l + 1] > b->offsets[l];
    if (grads) {
        for (i = 0; i < m->n_tensors; i++) {
            ttr__tensor *t = &m->tensors[i];
            memset(t->g, 0, (size_t)t->rows * t->cols * sizeof(float));
        }
        if (m->s.stage_bref)
            memset(m->s.stage_bref, 0, m->f_out * sizeof(float));
        if (m->s.stage_attn) {
            memset(m->s.stage_attn, 0, (size_t)m->n_slots * m->n_slots * sizeof(float));
            memset(m->s.stage_attn_n, 0, m->n_slots * sizeof(float));
        }
    }
    float scale = lists ? 1.0f / (float)lists : 0.0f;
    double total = 0.0;
    for (l = 0; l < b->n_lists; l++) {
        size_t base = b->offsets[l], n = b->offsets[l + 1] - base;
        if (!n)
            continue;
        const uint16_t *slots = b->slots + base;
        const uint8_t *clicks = b->clicks + base;
        uint32_t ctx = b->contexts ? b->contexts[l] : 0;
        float *probs = click_probs ? click_probs + (base - b->offsets[0]) : NULL;
        const float *f = ttr__rel_forward(m, &m->s.fwd, n, b->x + base * b->ldx, b->ldx);
        if (!f)
            return TTR_ERR_NONFINITE;
        for (k = 0; k < m->n_bias; k++)
            bias_forward(m, k, n, slots, ctx, training, rng);

        double loss = 0.0;
        switch (cfg->variant) {
        case TTR_NAIVE:
        case TTR_ADDITIVE:
            for (i = 0; i < n; i++)
                m->s.z[i] = f[i] + (cfg->variant == TTR_ADDITIVE ? m->s.bo[0][i] : 0.0f);
            loss = cfg->loss == TTR_LOSS_SOFTMAX
                       ? softmax_head(n, m->s.z, clicks, scale, grads ? m->s.df : NULL, probs)
                       : bce_head(n, m->s.z, clicks, scale, grads ? m->s.df : NULL, probs);
            if (grads && cfg->variant == TTR_ADDITIVE)
                memcpy(m->s.dbo, m->s.df, n * sizeof(float));
            break;
        case TTR_PAL:
            loss = pal_head(m, n, f, m->s.bo[0], clicks, grads ? scale : 0.0f, probs);
            break;
        case TTR_DOT:
            loss = dot_head(m, n, f, clicks, scale, grads, probs);
            break;
        case TTR_MIXEM:
            loss = mixem_head(m, n, f, clicks, scale, grads, probs);
            break;
        case TTR_XPA:
            xpa_forward(m, n, f, slots, grads);
            loss = bce_head(n, m->s.z, clicks, scale, m->s.dz, probs);
            if (grads) {
                memcpy(m->s.df, m->s.dz, n * sizeof(float));
                memcpy(m->s.dbo, m->s.dz, n * sizeof(float));
            }
            break;
        }
        total += loss;
        if (!grads)
            continue;

        /* backward: bias side first (XPA adds its attention terms into s.de) */
        for (k = 0; k < m->n_bias; k++) {
            if (cfg->variant == TTR_MIXEM)
                for (i = 0; i < n; i++)
                    m->s.dbo[i] = m->s.dz[i * cfg->components + k];
            bias_backward_to_e(m, k, n);
            if (cfg->variant == TTR_XPA)
                xpa_backward(m, n);
            bias_scatter_e(m, k, n, slots, ctx);
        }
        rel_backward(m, n);
    }
    *loss_out = lists ? total / (double)lists : 0.0;
    return TTR_OK;
}
