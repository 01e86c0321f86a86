/* The slots of a model in a safetensors file (safetensors_internal.h). */
#include "safetensors_internal.h"

/* statistics after the tensors: normalisation, dot's b_ref, XPA's map */
static uint32_t n_stats(const ttr_model *m)
{
    return 2 + (m->bref_mean ? 1 : 0) + (m->attn_mean ? 2 : 0);
}

uint32_t ttr__st_count(const ttr_model *m)
{
    return m->n_tensors + n_stats(m);
}

ttr__st_slot ttr__st_get(const ttr_model *m, uint32_t i)
{
    ttr__st_slot s = {NULL, NULL, 0, 0, 0, NULL};
    uint32_t F = m->cfg.n_features, P = m->n_slots;
    if (i < m->n_tensors) {
        ttr__tensor *t = &m->tensors[i];
        s.name = t->name, s.data = t->w, s.rows = t->rows, s.cols = t->cols, s.tensor = t;
        return s;
    }
    i -= m->n_tensors;
    if (i == 0)
        s.name = "norm.mean", s.data = m->norm_mean, s.rows = F, s.cols = 1;
    else if (i == 1)
        s.name = "norm.scale", s.data = m->norm_scale, s.rows = F, s.cols = 1;
    else if (m->bref_mean && i == 2)
        s.name = "dot.bref", s.data = m->bref_mean, s.rows = m->f_out, s.cols = 1;
    else if (m->attn_mean && i == 2)
        s.name = "xpa.attn_mean", s.data = m->attn_mean, s.rows = P, s.cols = P;
    else if (m->attn_mean && i == 3)
        s.name = "xpa.attn_n", s.data = m->attn_n, s.rows = P, s.cols = 1, s.nonneg = 1;
    return s;
}
