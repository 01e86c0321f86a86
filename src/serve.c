/* Scoring with the relevance tower, serving copies, and the read-outs of
 * the bias side (slot curves, MixEM weights, the dot reference vector, XPA's
 * attention map). */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "dot_fixed.h"
#include "kernel_table.h" /* the int8 layer with the output layer (gemm_s8_dot) */
#include "model.h"

/* 1 if any of n rows of F values is NaN or Inf: the exponent bits all
 * ones, i.e. (bits & 0x7f800000) + 0x00800000 carries into bit 31; the
 * sums are ORed and bit 31 tested once. Where the baseline has vectors
 * (x86-64 SSE2, aarch64), in blocks of 4 with a constant trip count and one
 * accumulator per lane, which gcc -O2 vectorises (its very cheap cost model
 * takes no loop that needs a scalar epilogue); elsewhere (armv7's baseline
 * has no NEON) one plain loop, which compiles to the fewest scalar
 * instructions. */
static int any_nonfinite(size_t n, uint32_t F, const float *x, size_t ldx)
{
    uint32_t acc = 0;
    for (size_t i = 0; i < n; i++) {
        const float *row = x + i * ldx;
        uint32_t t = 0;
#if defined(__x86_64__) || defined(__aarch64__)
        uint32_t a4[4] = {0, 0, 0, 0};
        for (; t + 4 <= F; t += 4) {
            uint32_t bits[4];
            memcpy(bits, row + t, sizeof bits);
            for (int k = 0; k < 4; k++)
                a4[k] |= (bits[k] & 0x7f800000u) + 0x00800000u;
        }
        acc |= (a4[0] | a4[1]) | (a4[2] | a4[3]);
#endif
        for (; t < F; t++) {
            uint32_t bits;
            memcpy(&bits, row + t, sizeof bits);
            acc |= (bits & 0x7f800000u) + 0x00800000u;
        }
    }
    return (acc >> 31) != 0;
}

const float *ttr__rel_forward(const ttr_model *m, const ttr__fwd_scratch *fs, size_t n,
                              const float *x, size_t ldx)
{
    uint32_t F = m->cfg.n_features;
    const float *in = fs->xn;
    size_t ldin = F;
    if (any_nonfinite(n, F, x, ldx))
        return NULL;
    if (m->norm_folded) {
        in = x; /* serving: the normalisation lives in the first layer */
        ldin = ldx;
    } else {
        for (size_t i = 0; i < n; i++)
            for (uint32_t t = 0; t < F; t++)
                fs->xn[i * F + t] = (x[i * ldx + t] - m->norm_mean[t]) * m->norm_scale[t];
    }
    for (uint32_t l = 0; l < m->n_rel; l++) {
        const ttr__dense *d = &m->rel[l];
        ttr_gemm_f32(n, d->out, d->in, d->packed, in, ldin, d->b->w, fs->act[l], d->out,
                     l + 1 < m->n_rel);
        in = fs->act[l];
        ldin = d->out;
    }
    return in;
}

/* b(p, ctx) of the dot model's bias tower for one slot into out (D),
 * through the scratch rows e (d_e) and h (bias_hidden). */
static void dot_bias_vector(const ttr_model *m, uint32_t slot, uint32_t ctx, float *e, float *h,
                            float *out)
{
    const ttr_config *c = &m->cfg;
    const ttr__bias_tower *bt = &m->bias[0];
    uint32_t row = slot / c->cols, col = slot % c->cols, j;
    for (j = 0; j < c->embed_dim; j++)
        e[j] = bt->E_row->w[row * c->embed_dim + j] + bt->E_col->w[col * c->embed_dim + j] +
               (bt->E_ctx ? bt->E_ctx->w[ctx * c->embed_dim + j] : 0.0f);
    const float *in = e;
    if (bt->has_hidden) {
        ttr_gemv_f32(bt->hid.out, bt->hid.in, bt->hid.packed, e, bt->hid.b->w, h, 1);
        in = h;
    }
    ttr_gemv_f32(bt->out.out, bt->out.in, bt->out.packed, in, bt->out.b->w, out, 0);
}

/* The dot model's serving reference vector (fs: the rows it may need). */
static void dot_reference(const ttr_model *m, const ttr__fwd_scratch *fs, float *bref)
{
    uint32_t D = m->f_out, j;
    if (m->mode == TTR_MODE_TRAIN &&
        (m->cfg.dot_serving == TTR_DOT_REF_TOP || m->bref_count == 0.0)) {
        /* b of the top slot: by choice, or as nothing was seen yet */
        dot_bias_vector(m, 0, 0, fs->bias_e, fs->bias_h, bref);
        return;
    }
    for (j = 0; j < D; j++)
        bref[j] = m->bref_mean[j];
}

/* int8 serving, per chunk of max_items items: quantize the features,
 * normalised on the way unless the normalisation is folded into layer 0 (a
 * NaN scale marks a row with NaN/Inf: that is the non-finite check, done
 * in the pass that reads the features anyway); each int8 layer but the last
 * goes straight from quantized input to the next quantized input
 * (ttr_gemm_s8_relu_q); with one output, the last int8 layer and the f32
 * output layer go together (gemm_s8_dot: on x86 and aarch64 from the
 * epilogue's registers);
 * otherwise the last int8 layer writes f32 rows, and the f32 last layer
 * reads them (ttr__dot_fixed). */
/* The int8 kernels need every output y_j = acc * (xscale * wscale_j) + b_j
 * finite (ttr_gemm_s8_relu_q), and ReLU would turn a NaN into 0 unseen.
 * |acc| <= 127 * 127 * KPAD(in), so the layer is safe for an item when
 * that bound times xscale * max wscale plus max |b| stays well inside float;
 * features or weights large enough to break it are refused, not ranked. */
static int s8_layer_fits(const ttr__dense *d, size_t c, const float *xscale)
{
    double wmax = 0.0, bmax = 0.0, acc = 127.0 * 127.0 * (double)TTR_S8_KPAD(d->in);
    for (uint32_t j = 0; j < d->out; j++) {
        wmax = d->wscale[j] > wmax ? d->wscale[j] : wmax;
        bmax = fabs(d->b->w[j]) > bmax ? fabs(d->b->w[j]) : bmax;
    }
    for (size_t i = 0; i < c; i++)
        if (!(acc * xscale[i] * wmax + bmax < 0x1p126))
            return 0;
    return 1;
}

static int score_s8(const ttr_model *m, const ttr__fwd_scratch *fs, size_t n, const float *x,
                    size_t ldx, float *scores)
{
    uint32_t F = m->cfg.n_features, D = m->f_out, L = m->n_rel - 1;
    const ttr__dense *last = &m->rel[L];
    size_t N = m->cfg.max_items;
    float r[64];
    for (size_t i0 = 0; i0 < n; i0 += N) {
        size_t c = n - i0 < N ? n - i0 : N;
        const float *in = x + i0 * ldx;
        size_t ldin = ldx;
        if (L == 0) {
            if (any_nonfinite(c, F, in, ldx))
                return TTR_ERR_NONFINITE;
        } else {
            int8_t *qa = fs->qx, *qb = fs->qx2;
            float *sa = fs->qscale, *sb = fs->qscale2;
            size_t kpad = TTR_S8_KPAD(F);
            if (m->norm_folded)
                ttr_quantize_s8(c, F, in, ldx, qa, kpad, sa);
            else /* normalise (as ttr__rel_forward does) and quantize in one pass */
                ttr_quantize_norm_s8(c, F, in, ldx, m->norm_mean, m->norm_scale, qa, kpad, sa);
            for (size_t i = 0; i < c; i++)
                if (sa[i] != sa[i])
                    return TTR_ERR_NONFINITE;
            for (uint32_t l = 0; l + 1 < L; l++) {
                const ttr__dense *d = &m->rel[l];
                size_t kout = TTR_S8_KPAD(d->out);
                if (!s8_layer_fits(d, c, sa))
                    return TTR_ERR_NONFINITE;
                ttr_gemm_s8_relu_q(c, d->out, d->in, d->qpacked, qa, kpad, sa, d->wscale,
                                   d->b->w, qb, kout, sb);
                int8_t *tq = qa;
                float *ts = sa;
                qa = qb, qb = tq, sa = sb, sb = ts, kpad = kout;
            }
            const ttr__dense *d = &m->rel[L - 1];
            if (!s8_layer_fits(d, c, sa))
                return TTR_ERR_NONFINITE;
            if (D == 1) { /* the last int8 layer and the output layer in one call */
                ttr__kernels_get()->gemm_s8_dot(c, d->out, d->in, d->qpacked, qa, kpad, sa,
                                                d->wscale, d->b->w, last->W->w, last->b->w[0],
                                                scores + i0);
                continue;
            }
            ttr_gemm_s8(c, d->out, d->in, d->qpacked, qa, kpad, sa, d->wscale, d->b->w,
                        fs->act[0], d->out, 1);
            in = fs->act[0];
            ldin = d->out;
        }
        for (size_t i = 0; i < c; i++) {
            const float *h = in + i * ldin;
            if (D == 1) {
                scores[i0 + i] = ttr__dot_fixed(last->in, last->W->w, h) + last->b->w[0];
                continue;
            }
            for (uint32_t j = 0; j < D; j++)
                r[j] = ttr__dot_fixed(last->in, last->W->w + (size_t)j * last->in, h) +
                       last->b->w[j];
            scores[i0 + i] = ttr__dot_fixed(D, r, m->bref_mean);
        }
    }
    return TTR_OK;
}

/* f32 scoring (train and serve-f32 models), per chunk of max_items items. */
static int score_f32(const ttr_model *m, const ttr__fwd_scratch *fs, size_t n, const float *x,
                     size_t ldx, float *scores)
{
    size_t N = m->cfg.max_items;
    float bref[64];
    if (m->cfg.variant == TTR_DOT)
        dot_reference(m, fs, bref);
    for (size_t i0 = 0; i0 < n; i0 += N) {
        size_t c = n - i0 < N ? n - i0 : N;
        const float *f = ttr__rel_forward(m, fs, c, x + i0 * ldx, ldx);
        if (!f)
            return TTR_ERR_NONFINITE;
        if (m->cfg.variant == TTR_DOT) {
            for (size_t i = 0; i < c; i++)
                scores[i0 + i] = ttr_dot_f32(m->f_out, f + i * m->f_out, bref);
        } else {
            memcpy(scores + i0, f, c * sizeof(float));
        }
    }
    return TTR_OK;
}

static int score(const ttr_model *m, const ttr__fwd_scratch *fs, size_t n, const float *x,
                 size_t ldx, float *scores)
{
    int err = m->mode == TTR_MODE_SERVE_S8 ? score_s8(m, fs, n, x, ldx, scores)
                                           : score_f32(m, fs, n, x, ldx, scores);
    /* finite features can still overflow the towers (values near FLT_MAX,
     * or huge weights): refuse the result on every model kind alike rather
     * than hand back Inf or NaN to rank by */
    for (size_t i = 0; !err && i < n; i++)
        if (!isfinite(scores[i]))
            err = TTR_ERR_NONFINITE;
    return err;
}

static int score_args_ok(const ttr_model *m, size_t n, const float *x, size_t ldx,
                         const float *scores)
{
    return m && m->magic == TTR__MAGIC && (!n || (x && scores)) && ldx >= m->cfg.n_features;
}

int ttr_score(ttr_model *m, size_t n, const float *x, size_t ldx, float *scores)
{
    if (!score_args_ok(m, n, x, ldx, scores))
        return TTR_ERR_ARG;
    return score(m, &m->s.fwd, n, x, ldx, scores);
}

/* The caller's scratch laid out for m: measured when buf is NULL. Returns
 * the bytes it takes, alignment slack included. */
static size_t plan_caller_scratch(const ttr_model *m, void *buf, ttr__fwd_scratch *fs)
{
    ttr__layout l = {ttr__align_up(buf), 0, 0, NULL};
    ttr__plan_fwd_scratch(m, &l, fs, 0);
    return l.overflow ? 0 : l.used + TTR__ALIGN - 1;
}

size_t ttr_score_scratch_bytes(const ttr_model *m)
{
    ttr__fwd_scratch fs;
    if (!m || m->magic != TTR__MAGIC)
        return 0;
    return plan_caller_scratch(m, NULL, &fs);
}

int ttr_score_with_scratch(const ttr_model *m, void *scratch, size_t scratch_bytes, size_t n,
                           const float *x, size_t ldx, float *scores)
{
    ttr__fwd_scratch fs;
    if (!score_args_ok(m, n, x, ldx, scores) || !scratch)
        return TTR_ERR_ARG;
    if (scratch_bytes < ttr_score_scratch_bytes(m))
        return TTR_ERR_NOMEM;
    plan_caller_scratch(m, scratch, &fs);
    return score(m, &fs, n, x, ldx, scores);
}

int ttr_bias_curve(const ttr_model *cm, uint32_t component, uint32_t context, float *out)
{
    ttr_model *m = (ttr_model *)cm; /* scratch only: the model's values are not changed */
    if (!m || !out)
        return TTR_ERR_ARG;
    const ttr_config *c = &m->cfg;
    if (m->mode != TTR_MODE_TRAIN || c->variant == TTR_NAIVE || c->variant == TTR_DOT)
        return TTR_ERR_UNSUPPORTED;
    if (component >= m->n_bias || context >= (c->n_contexts ? c->n_contexts : 1))
        return TTR_ERR_ARG;
    ttr__bias_tower *bt = &m->bias[component];
    uint32_t de = c->embed_dim, p, j;
    float *e = m->s.de, *h = m->s.dbh; /* scratch rows, used one slot at a time */
    for (p = 0; p < m->n_slots; p++) {
        uint32_t row = p / c->cols, col = p % c->cols;
        for (j = 0; j < de; j++)
            e[j] = bt->E_row->w[row * de + j] + bt->E_col->w[col * de + j] +
                   (bt->E_ctx ? bt->E_ctx->w[context * de + j] : 0.0f);
        const float *in = e;
        if (bt->has_hidden) {
            ttr_gemv_f32(bt->hid.out, bt->hid.in, bt->hid.packed, e, bt->hid.b->w, h, 1);
            in = h;
        }
        ttr_gemv_f32(1, bt->out.in, bt->out.packed, in, bt->out.b->w, out + p, 0);
    }
    return TTR_OK;
}

int ttr_mixem_params(const ttr_model *m, float *pi, float *gain)
{
    if (!m)
        return TTR_ERR_ARG;
    if (m->cfg.variant != TTR_MIXEM || m->mode != TTR_MODE_TRAIN)
        return TTR_ERR_UNSUPPORTED;
    uint32_t K = m->cfg.components, i;
    if (pi) {
        float mx = m->phi->w[0], sum = 0.0f;
        for (i = 1; i < K; i++)
            mx = m->phi->w[i] > mx ? m->phi->w[i] : mx;
        for (i = 0; i < K; i++)
            sum += pi[i] = expf(m->phi->w[i] - mx);
        for (i = 0; i < K; i++)
            pi[i] /= sum;
    }
    if (gain)
        memcpy(gain, m->gain->w, K * sizeof(float));
    return TTR_OK;
}

int ttr_dot_reference(const ttr_model *cm, float *b_ref, uint32_t context, float *b_slots)
{
    ttr_model *m = (ttr_model *)cm; /* scratch only */
    if (!m || !b_ref)
        return TTR_ERR_ARG;
    if (m->cfg.variant != TTR_DOT)
        return TTR_ERR_UNSUPPORTED;
    if (b_slots && (m->mode != TTR_MODE_TRAIN ||
                    context >= (m->cfg.n_contexts ? m->cfg.n_contexts : 1)))
        return m->mode != TTR_MODE_TRAIN ? TTR_ERR_UNSUPPORTED : TTR_ERR_ARG;
    dot_reference(m, &m->s.fwd, b_ref);
    if (b_slots)
        for (uint32_t p = 0; p < m->n_slots; p++)
            dot_bias_vector(m, p, context, m->s.de, m->s.dbh, b_slots + (size_t)p * m->f_out);
    return TTR_OK;
}

int ttr_xpa_attention(const ttr_model *m, float *out)
{
    if (!m || !out)
        return TTR_ERR_ARG;
    if (m->cfg.variant != TTR_XPA || m->mode != TTR_MODE_TRAIN)
        return TTR_ERR_UNSUPPORTED;
    uint32_t P = m->n_slots;
    for (uint32_t p = 0; p < P; p++)
        for (uint32_t q = 0; q < P; q++)
            out[(size_t)p * P + q] = m->attn_mean[(size_t)p * P + q];
    return TTR_OK;
}

int ttr_model_to_serving(const ttr_model *train, ttr_model **out, void *arena, size_t bytes)
{
    if (!train || !out || train->mode != TTR_MODE_TRAIN)
        return TTR_ERR_ARG;
    ttr_model *s;
    int err = ttr_model_init(&s, &train->cfg, TTR_MODE_SERVE_F32, arena, bytes);
    if (err)
        return err;
    for (uint32_t l = 1; l < train->n_rel; l++) {
        const ttr__dense *a = &train->rel[l];
        memcpy(s->rel[l].packed, a->packed,
               ttr_gemm_f32_packed_size(a->out, a->in) * sizeof(float));
        memcpy(s->rel[l].b->w, a->b->w, a->out * sizeof(float));
    }
    /* Fold the normalisation into the first layer, so that serving reads
     * features in place: W'[j][t] = W[j][t] scale[t] and
     * b'[j] = b[j] - sum_t W'[j][t] mean[t]. The packed layout holds W'[j][t]
     * at panel(j)[t * 16 + j % 16], so it is rescaled in place. */
    const ttr__dense *a = &train->rel[0];
    ttr__dense *d = &s->rel[0];
    uint32_t F = train->cfg.n_features;
    for (uint32_t j = 0; j < a->out; j++) {
        double shift = 0.0;
        for (uint32_t t = 0; t < F; t++) {
            float wt = a->W->w[(size_t)j * F + t] * train->norm_scale[t];
            shift += (double)wt * train->norm_mean[t];
        }
        d->b->w[j] = (float)((double)a->b->w[j] - shift);
    }
    {
        float *pk = d->packed;
        size_t panels = (a->out + TTR_F32_PANEL - 1) / TTR_F32_PANEL;
        memcpy(pk, a->packed, ttr_gemm_f32_packed_size(a->out, a->in) * sizeof(float));
        for (size_t p = 0; p < panels; p++)
            for (uint32_t t = 0; t < F; t++)
                for (uint32_t r = 0; r < TTR_F32_PANEL; r++)
                    pk[(p * F + t) * TTR_F32_PANEL + r] *= train->norm_scale[t];
    }
    memcpy(s->norm_mean, train->norm_mean, F * sizeof(float));
    memcpy(s->norm_scale, train->norm_scale, F * sizeof(float));
    s->norm_folded = 1;
    ttr__copy_provenance(s, train);
    if (train->cfg.variant == TTR_DOT) {
        dot_reference(train, &train->s.fwd, s->bref_mean); /* scratch only */
        s->bref_count = 1.0;
    }
    /* Finite weights and normalisation can still overflow float when folded
     * (W * scale, the shifted bias) or in b_ref: such a copy would score NaN
     * and its file would not load, so there is none. */
    if (any_nonfinite((a->out + TTR_F32_PANEL - 1) / TTR_F32_PANEL * TTR_F32_PANEL, F,
                      d->packed, F) ||
        any_nonfinite(1, a->out, d->b->w, a->out) ||
        (s->bref_mean && any_nonfinite(1, s->f_out, s->bref_mean, s->f_out)))
        return TTR_ERR_NONFINITE;
    *out = s;
    return TTR_OK;
}
