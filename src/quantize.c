/* int8 serving models: ttr_model_quantize builds a TTR_MODE_SERVE_S8 copy of
 * a model's relevance tower. Hidden layers become symmetric per-output int8
 * weights (scale = max|W_j| / 127, q = round_half_even(W / scale), in
 * [-127, 127]) written straight into the ttr_gemm_s8_pack layout; biases stay
 * f32; the last layer (1 or D outputs) stays f32. The int8 model keeps the
 * normalisation and quantizes normalised features: raw features of very
 * different magnitudes (counts next to 0/1 flags) would share one per-vector
 * scale, and the small ones would round to 0 (MQ2008 with four features x1000:
 * NDCG@10 0.638 f32, 0.479 int8 on raw features). It is folded into layer 0
 * (in f32/double, as ttr_model_to_serving does) only when there is nothing to
 * quantize in front of it (a linear tower) or the source has already folded
 * it (a serve-f32 copy). */
#include <math.h>
#include <string.h>

#include "model.h"
#include "s8_layout.h"

/* W[j][t] of a source layer, with the normalisation folded in when the
 * source has not folded it yet (train models): W'[j][t] = W[j][t] scale[t]. */
static float src_weight(const ttr_model *src, const ttr__dense *a, uint32_t layer, uint32_t j,
                        uint32_t t)
{
    float w;
    if (a->W->w)
        w = a->W->w[(size_t)j * a->in + t];
    else /* serving f32 copy: only the packed form exists (already folded) */
        w = a->packed[(size_t)(j / TTR_F32_PANEL) * TTR_F32_PANEL * a->in +
                      (size_t)t * TTR_F32_PANEL + j % TTR_F32_PANEL];
    if (layer == 0 && !src->norm_folded)
        w = w * src->norm_scale[t];
    return w;
}

/* The weight to quantize: src_weight, or with the normalisation kept (not
 * folded) layer 0's own weight. */
static float weight(const ttr_model *src, const ttr__dense *a, uint32_t layer, uint32_t j,
                    uint32_t t, int keep)
{
    if (layer == 0 && keep)
        return a->W->w[(size_t)j * a->in + t]; /* keep implies a train model's W */
    return src_weight(src, a, layer, j, t);
}

/* Round half to even in double (|v| <= 2^31): no dependence on the FPU's
 * rounding mode or on libm's rint. */
static double round_half_even_d(double v)
{
    double f = floor(v), d = v - f;
    if (d > 0.5)
        return f + 1.0;
    if (d < 0.5)
        return f;
    return fmod(f, 2.0) == 0.0 ? f : f + 1.0;
}

int ttr_model_quantize(const ttr_model *src, ttr_model **out, void *arena, size_t bytes)
{
    if (!src || !out || src->magic != TTR__MAGIC ||
        (src->mode != TTR_MODE_TRAIN && src->mode != TTR_MODE_SERVE_F32))
        return TTR_ERR_ARG;
    ttr_model *d;
    int err = ttr__model_create(&d, &src->cfg, TTR_MODE_SERVE_S8, arena, bytes);
    if (err)
        return err;
    uint32_t F = src->cfg.n_features;
    /* keep the normalisation in front of int8 layer 0 (see the top) */
    int keep = !src->norm_folded && src->n_rel > 1 && src->rel[0].W->w;
    for (uint32_t l = 0; l < src->n_rel; l++) {
        const ttr__dense *a = &src->rel[l];
        ttr__dense *q = &d->rel[l];
        size_t kpad = TTR_S8_KPAD(a->in);
        for (uint32_t j = 0; j < a->out; j++) {
            /* bias, with the normalisation's shift folded into layer 0 */
            double shift = 0.0;
            if (l == 0 && !src->norm_folded && !keep)
                for (uint32_t t = 0; t < F; t++)
                    shift += (double)src_weight(src, a, 0, j, t) * src->norm_mean[t];
            q->b->w[j] = (float)((double)a->b->w[j] - shift);
            /* Folding can overflow float (finite W * scale, or the shifted
             * bias): such a model would score NaN and not load (and a NaN
             * cannot be rounded to int8), so there is none. */
            if (!isfinite(q->b->w[j]))
                return TTR_ERR_NONFINITE;
            if (!q->qpacked) { /* the last layer: f32 rows */
                for (uint32_t t = 0; t < a->in; t++) {
                    float w = src_weight(src, a, l, j, t);
                    if (!isfinite(w))
                        return TTR_ERR_NONFINITE;
                    q->W->w[(size_t)j * a->in + t] = w;
                }
                continue;
            }
            float mx = 0.0f;
            for (uint32_t t = 0; t < a->in; t++) {
                float w = fabsf(weight(src, a, l, j, t, keep));
                if (!isfinite(w))
                    return TTR_ERR_NONFINITE;
                mx = w > mx ? w : mx;
            }
            float s = mx / 127.0f;
            q->wscale[j] = s;
            for (uint32_t t = 0; t < a->in; t++) {
                double r = 0.0;
                if (s > 0.0f) {
                    r = round_half_even_d((double)weight(src, a, l, j, t, keep) / (double)s);
                    r = r > 127.0 ? 127.0 : r < -127.0 ? -127.0 : r;
                }
                q->qpacked[ttr__s8_offset(j, t, kpad)] = (int8_t)r;
            }
        }
    }
    d->norm_folded = !keep;
    ttr__copy_provenance(d, src);
    for (uint32_t t = 0; t < F; t++) { /* folded: the identity, never used */
        d->norm_mean[t] = keep ? src->norm_mean[t] : 0.0f;
        d->norm_scale[t] = keep ? src->norm_scale[t] : 1.0f;
    }
    if (src->cfg.variant == TTR_DOT) {
        if (src->mode == TTR_MODE_TRAIN)
            ttr_dot_reference(src, d->bref_mean, 0, NULL); /* scratch only */
        else
            memcpy(d->bref_mean, src->bref_mean, src->f_out * sizeof(float));
        d->bref_count = 1.0;
        for (uint32_t i = 0; i < src->f_out; i++)
            if (!isfinite(d->bref_mean[i]))
                return TTR_ERR_NONFINITE; /* b(top slot) overflowed */
    }
    *out = d;
    return TTR_OK;
}
