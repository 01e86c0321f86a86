/* safetensors into a model (include/ttr_safetensors.h): the configuration
 * from the metadata, then every tensor of the file into a fresh model. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "safetensors_internal.h"

/* The next "key=value" of a ttrank.config string at *p (';'-separated):
 * key and value NUL-terminated in kv (cap bytes). 0, 1 at the end, -1 when
 * malformed. (Not strtok: it keeps hidden state, and the library is
 * reentrant.) */
static int next_pair(const char **p, char *kv, size_t cap, char **val)
{
    if (!**p)
        return 1;
    size_t n = 0;
    while (**p && **p != ';') {
        if (n + 1 == cap)
            return -1;
        kv[n++] = *(*p)++;
    }
    if (**p == ';')
        (*p)++;
    kv[n] = '\0';
    char *eq = strchr(kv, '=');
    if (!eq)
        return -1;
    *eq = '\0';
    *val = eq + 1;
    return 0;
}

/* "hidden=32,16" */
static int hidden_list(const char *v, ttr_config *cfg)
{
    uint32_t n = 0;
    char *end;
    memset(cfg->hidden, 0, sizeof cfg->hidden);
    for (const char *p = v; *p; n++) {
        unsigned long w = strtoul(p, &end, 10);
        if (end == p || n == TTR_MAX_HIDDEN || w > 65536 || (*end && *end != ','))
            return TTR_ERR_FORMAT;
        cfg->hidden[n] = (uint32_t)w;
        p = *end ? end + 1 : end;
    }
    cfg->n_hidden = n;
    return TTR_OK;
}

/* ttrank.config over ttr_config_default of its variant and n_features. */
static int apply_config(const char *s, ttr_config *cfg)
{
    static const char *const variants[] = {"naive", "additive", "pal", "dot", "mixem", "xpa"};
    static const char *const names[] = {"rows", "cols", "n_contexts", "embed_dim", "bias_hidden",
                                        "dot_dim", "components", "attn_dim", "max_items"};
    uint32_t *fields[] = {&cfg->rows, &cfg->cols, &cfg->n_contexts, &cfg->embed_dim,
                          &cfg->bias_hidden, &cfg->dot_dim, &cfg->components, &cfg->attn_dim,
                          &cfg->max_items};
    char kv[ST_CONFIG], *v, *end;
    int variant = -1, rc;
    unsigned long F = 0;
    /* the variant and n_features decide the defaults: find them first */
    for (const char *p = s; (rc = next_pair(&p, kv, sizeof kv, &v)) == 0;) {
        for (int k = 0; k < 6; k++)
            if (!strcmp(kv, "variant") && !strcmp(v, variants[k]))
                variant = k;
        if (!strcmp(kv, "n_features"))
            F = strtoul(v, NULL, 10);
    }
    if (rc < 0 || variant < 0 || F < 1 || F > 65536)
        return TTR_ERR_FORMAT;
    ttr_config_default(cfg, (ttr_variant)variant, (uint32_t)F);
    for (const char *p = s; next_pair(&p, kv, sizeof kv, &v) == 0;) {
        if (!strcmp(kv, "hidden") && hidden_list(v, cfg))
            return TTR_ERR_FORMAT;
        for (size_t f = 0; f < sizeof names / sizeof names[0]; f++)
            if (!strcmp(kv, names[f])) {
                unsigned long w = strtoul(v, &end, 10);
                if (end == v || *end || w > 0xffffffffu)
                    return TTR_ERR_FORMAT;
                *fields[f] = (uint32_t)w;
            }
    }
    return ttr_config_check(cfg, NULL) ? TTR_ERR_RANGE : TTR_OK;
}

int ttr_safetensors_config(const ttr_safetensors *s, ttr_config *cfg)
{
    if (!s || !cfg)
        return TTR_ERR_ARG;
    ttr_config c;
    if (!s->has_config)
        return TTR_ERR_FORMAT;
    int err = apply_config(s->config, &c);
    if (!err)
        *cfg = c;
    return err;
}

/* The model's slot for an entry, its shape checked. */
static int slot_for(const ttr_model *m, const st_entry *e, ttr__st_slot *out, uint32_t *index)
{
    for (uint32_t i = 0; i < ttr__st_count(m); i++) {
        ttr__st_slot t = ttr__st_get(m, i);
        if (strcmp(t.name, e->name))
            continue;
        int vector_ok = t.cols == 1 && e->dim[0] == t.rows && e->dim[1] == 1;
        int matrix_ok = e->ndim == 2 && e->dim[0] == t.rows && e->dim[1] == t.cols;
        if (!vector_ok && !matrix_ok)
            return TTR_ERR_FORMAT;
        *out = t;
        *index = i;
        return TTR_OK;
    }
    return TTR_ERR_FORMAT;
}

/* Read and drop n bytes of the data. */
static int skip(ttr_safetensors *s, uint64_t n)
{
    unsigned char b[1024];
    while (n) {
        size_t k = n < sizeof b ? (size_t)n : sizeof b;
        int err = ttr__io_in_bytes(&s->in, b, k);
        if (err)
            return err;
        n -= k;
    }
    return TTR_OK;
}

/* One entry's values into its slot. */
static int read_values(ttr_safetensors *s, const st_entry *e, const ttr__st_slot *t)
{
    unsigned char b[1024];
    size_t n = (size_t)t->rows * t->cols, done = 0;
    int bad = 0;
    while (done < n) {
        size_t k = n - done < sizeof b / 4 ? n - done : sizeof b / 4;
        int err = ttr__io_in_bytes(&s->in, b, 4 * k);
        if (err)
            return err;
        for (size_t i = 0; i < k; i++) {
            float v = bits_f32(get_u32(b + 4 * i));
            bad |= !isfinite(v) || (t->nonneg && v < 0.0f) || fabsf(v) > 0x1p126f;
            t->data[done + i] = v;
        }
        done += k;
    }
    s->pos = e->end;
    return bad ? TTR_ERR_NONFINITE : TTR_OK;
}

int ttr_safetensors_load(ttr_model **out, const ttr_config *cfg, void *arena, size_t bytes,
                         ttr_safetensors *s)
{
    unsigned char seen[ST_MAX_TENSORS + 8];
    ttr_model *m;
    if (!out || !cfg || !arena || !s)
        return TTR_ERR_ARG;
    int err = ttr_model_init(&m, cfg, TTR_MODE_TRAIN, arena, bytes);
    if (err)
        return err;
    if (ttr__st_count(m) > sizeof seen)
        return TTR_ERR_RANGE; /* unreachable: models have at most ~90 */
    memset(seen, 0, sizeof seen);
    for (uint32_t i = 0; i < s->n && !err; i++) {
        const st_entry *e = &s->e[i];
        ttr__st_slot t;
        uint32_t at;
        memcpy(s->err_name, e->name, sizeof s->err_name);
        if ((err = slot_for(m, e, &t, &at)) != 0)
            break;
        if (seen[at]++)
            err = TTR_ERR_FORMAT;
        if (!err)
            err = skip(s, e->begin - s->pos);
        if (!err)
            err = read_values(s, e, &t);
    }
    if (err)
        return err;
    s->err_name[0] = '\0';
    if (m->bref_mean && seen[m->n_tensors + 2]) /* b_ref's count: the file's, or one */
        m->bref_count = s->has_count && s->bref_count >= 0.0 && isfinite(s->bref_count)
                            ? s->bref_count
                            : 1.0;
    m->impressions = s->impressions;
    if (s->has_tag && ttr_set_model_tag(m, s->tag) != TTR_OK)
        return TTR_ERR_FORMAT; /* not printable ASCII */
    m->ub_valid = 0;
    ttr__repack(m);
    *out = m;
    return TTR_OK;
}
