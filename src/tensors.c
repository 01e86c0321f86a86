/* A train model's parameter tensors by name (the names of its .ttr records:
 * "rel.0.w", "bias0.row", ...): enumerate, read and write them, e.g. to
 * start a model's relevance tower from another model's. */
#include <math.h>
#include <string.h>

#include "model.h"

static const ttr__tensor *find(const ttr_model *m, const char *name)
{
    for (uint32_t i = 0; name && i < m->n_tensors; i++)
        if (!strcmp(m->tensors[i].name, name))
            return &m->tensors[i];
    return NULL;
}

static int train_model(const ttr_model *m)
{
    return m && m->magic == TTR__MAGIC && m->mode == TTR_MODE_TRAIN;
}

uint32_t ttr_model_tensor_count(const ttr_model *m)
{
    return train_model(m) ? m->n_tensors : 0;
}

int ttr_model_tensor_info(const ttr_model *m, uint32_t i, const char **name, uint32_t *rows,
                          uint32_t *cols)
{
    if (!m || m->magic != TTR__MAGIC)
        return TTR_ERR_ARG;
    if (m->mode != TTR_MODE_TRAIN)
        return TTR_ERR_UNSUPPORTED;
    if (i >= m->n_tensors)
        return TTR_ERR_ARG;
    const ttr__tensor *t = &m->tensors[i];
    if (name)
        *name = t->name;
    if (rows)
        *rows = t->rows;
    if (cols)
        *cols = t->cols;
    return TTR_OK;
}

int ttr_model_tensor_get(const ttr_model *m, const char *name, float *out, size_t n)
{
    if (!m || m->magic != TTR__MAGIC || !out)
        return TTR_ERR_ARG;
    if (m->mode != TTR_MODE_TRAIN)
        return TTR_ERR_UNSUPPORTED;
    const ttr__tensor *t = find(m, name);
    if (!t || n != (size_t)t->rows * t->cols)
        return TTR_ERR_ARG;
    memcpy(out, t->w, n * sizeof(float));
    return TTR_OK;
}

int ttr_model_tensor_set(ttr_model *m, const char *name, const float *in, size_t n)
{
    if (!m || m->magic != TTR__MAGIC || !in)
        return TTR_ERR_ARG;
    if (m->mode != TTR_MODE_TRAIN)
        return TTR_ERR_UNSUPPORTED;
    const ttr__tensor *t = find(m, name);
    if (!t || n != (size_t)t->rows * t->cols)
        return TTR_ERR_ARG;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(in[i]))
            return TTR_ERR_NONFINITE;
    memcpy(t->w, in, n * sizeof(float));
    m->ub_valid = 0; /* the update guard's bounds no longer hold */
    ttr__repack(m);
    return TTR_OK;
}
