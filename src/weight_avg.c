/* Weight averaging (include/ttrank.h): an exponential moving average of a
 * train model's parameters, kept beside the model in the caller's buffer,
 * and swapped with them for evaluation and for the model that is kept. */
#include <math.h>
#include <string.h>

#include "model.h"

#define TTR__AVG_MAGIC 0x54544156u /* "TTAV" */

struct ttr_weight_avg {
    uint32_t magic;
    float decay;
    int swapped;      /* the model holds the average, `avg` its own weights */
    uint64_t updates;
    size_t n;         /* parameters: the sum of the model's tensor sizes */
    ttr_config cfg;   /* the structure it averages */
    float *avg;
};

static size_t param_count(const ttr_model *m)
{
    size_t n = 0;
    for (uint32_t i = 0; i < m->n_tensors; i++)
        n += (size_t)m->tensors[i].rows * m->tensors[i].cols;
    return n;
}

static int train_model(const ttr_model *m)
{
    return m && m->magic == TTR__MAGIC && m->mode == TTR_MODE_TRAIN;
}

size_t ttr_weight_avg_bytes(const ttr_model *m)
{
    if (!train_model(m))
        return 0;
    ttr__layout l = {NULL, 0, 0, NULL};
    (void)ttr__alloc(&l, sizeof(ttr_weight_avg));
    (void)ttr__alloc(&l, param_count(m) * sizeof(float));
    return l.overflow ? 0 : l.used + TTR__ALIGN - 1;
}

int ttr_weight_avg_init(ttr_weight_avg **out, const ttr_model *m, float decay, void *buf,
                        size_t bytes)
{
    if (!out || !buf || !train_model(m) || !(decay >= 0.0f && decay < 1.0f))
        return TTR_ERR_ARG;
    size_t need = ttr_weight_avg_bytes(m);
    if (!need)
        return TTR_ERR_ARG;
    if (bytes < need)
        return TTR_ERR_NOMEM;
    ttr__layout l = {ttr__align_up(buf), 0, 0, NULL};
    ttr_weight_avg *a = ttr__alloc(&l, sizeof *a);
    memset(a, 0, sizeof *a);
    a->n = param_count(m);
    a->avg = ttr__alloc(&l, a->n * sizeof(float));
    a->decay = decay;
    a->cfg = m->cfg;
    a->magic = TTR__AVG_MAGIC;
    *out = a;
    return TTR_OK;
}

static int matches(const ttr_weight_avg *a, const ttr_model *m)
{
    return a && a->magic == TTR__AVG_MAGIC && train_model(m) &&
           ttr__same_structure(&a->cfg, &m->cfg) && param_count(m) == a->n;
}

int ttr_weight_avg_update(ttr_weight_avg *a, const ttr_model *m)
{
    if (!matches(a, m) || a->swapped)
        return TTR_ERR_ARG;
    float d = a->decay, e = 1.0f - a->decay;
    float *p = a->avg;
    for (uint32_t i = 0; i < m->n_tensors; i++) {
        const ttr__tensor *t = &m->tensors[i];
        size_t n = (size_t)t->rows * t->cols;
        if (a->updates == 0)
            memcpy(p, t->w, n * sizeof(float)); /* the average starts at the first step */
        else
            for (size_t k = 0; k < n; k++)
                p[k] = d * p[k] + e * t->w[k];
        p += n;
    }
    a->updates++;
    return TTR_OK;
}

int ttr_weight_avg_swap(ttr_weight_avg *a, ttr_model *m)
{
    if (!matches(a, m) || a->updates == 0)
        return TTR_ERR_ARG;
    float *p = a->avg;
    for (uint32_t i = 0; i < m->n_tensors; i++) {
        ttr__tensor *t = &m->tensors[i];
        size_t n = (size_t)t->rows * t->cols;
        for (size_t k = 0; k < n; k++) {
            float w = t->w[k];
            t->w[k] = p[k];
            p[k] = w;
        }
        p += n;
    }
    a->swapped = !a->swapped;
    m->ub_valid = 0; /* the update guard's bounds no longer hold */
    ttr__repack(m);
    return TTR_OK;
}

int ttr_weight_avg_swapped(const ttr_weight_avg *a)
{
    return a && a->magic == TTR__AVG_MAGIC ? a->swapped : 0;
}
