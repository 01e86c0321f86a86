/* Model construction: the arena plan, weight initialisation, normalisation,
 * serving and the read-outs of what a model learned. */
#include <math.h>
#include <string.h>

#include "model.h"

uint64_t ttr__rng_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

float ttr__rng_uniform(uint64_t *state)
{
    return (float)(ttr__rng_next(state) >> 40) * (1.0f / 16777216.0f);
}

void *ttr__alloc(ttr__layout *l, size_t bytes)
{
    /* A large valid configuration can exceed a 32-bit size_t: saturate and
     * flag it rather than wrap to a small size. */
    if (l->overflow || l->used > SIZE_MAX - 2 * TTR__ALIGN - bytes) {
        l->overflow = 1;
        return NULL;
    }
    size_t at = (l->used + TTR__ALIGN - 1) & ~(size_t)(TTR__ALIGN - 1);
    l->used = at + bytes;
    return l->base ? l->base + at : NULL;
}

static float *alloc_f(ttr__layout *l, size_t n)
{
    if (n > SIZE_MAX / sizeof(float)) {
        l->overflow = 1;
        return NULL;
    }
    return ttr__alloc(l, n * sizeof(float));
}

/* Register a parameter tensor with its values and optimizer state; its
 * gradient is placed later, in the per-step region (alloc_gradients). */
static ttr__tensor *tensor(ttr_model *m, ttr__layout *l, const char *name, uint32_t rows,
                           uint32_t cols, int decay, int need_values)
{
    ttr__tensor t;
    size_t n = (size_t)rows * cols;
    t.name = name;
    t.rows = rows;
    t.cols = cols;
    t.decay = decay;
    t.w = need_values ? alloc_f(l, n) : NULL;
    t.g = t.s1 = t.s2 = NULL;
    m->grad_floats += n;
    if (m->mode == TTR_MODE_TRAIN) {
        t.s1 = alloc_f(l, n);
        if (m->cfg.optimizer == TTR_OPT_ADAM)
            t.s2 = alloc_f(l, n);
    }
    /* while measuring there is no table: only the count matters */
    if (!m->tensors || m->n_tensors >= m->cap_tensors) {
        m->n_tensors++;
        return NULL;
    }
    m->tensors[m->n_tensors] = t;
    return &m->tensors[m->n_tensors++];
}

static void alloc_gradients(ttr_model *m, ttr__layout *l)
{
    if (m->mode != TTR_MODE_TRAIN)
        return;
    /* one block, so that measuring (which has no tensor table) needs only the total */
    float *g = alloc_f(l, m->grad_floats);
    for (uint32_t i = 0; i < m->n_tensors && m->tensors; i++) {
        m->tensors[i].g = g;
        g += (size_t)m->tensors[i].rows * m->tensors[i].cols;
    }
}

/* How many tensors ttr__plan registers for a configuration. */
static uint32_t tensor_count(const ttr_config *c, ttr_mode mode)
{
    uint32_t n = 2 * (c->n_hidden + 1);
    if (mode != TTR_MODE_TRAIN)
        return n;
    uint32_t towers = c->variant == TTR_NAIVE ? 0 : c->variant == TTR_MIXEM ? c->components : 1;
    uint32_t per = 2 + (c->n_contexts ? 1 : 0) +
                   (c->variant == TTR_ADDITIVE || c->variant == TTR_PAL ? 1 : 0) +
                   (c->bias_hidden ? 2 : 0) + 2;
    n += towers * per;
    if (c->variant == TTR_MIXEM)
        n += 2;
    if (c->variant == TTR_XPA)
        n += 5;
    return n;
}

static void dense(ttr_model *m, ttr__layout *l, ttr__dense *d, const char *wname,
                  const char *bname, uint32_t in, uint32_t out)
{
    int train = m->mode == TTR_MODE_TRAIN;
    d->in = in;
    d->out = out;
    d->W = tensor(m, l, wname, out, in, 1, train);
    d->b = bname ? tensor(m, l, bname, out, 1, 0, 1) : NULL;
    d->packed = alloc_f(l, ttr_gemm_f32_packed_size(out, in));
}

/* int8 serving: hidden layers as int8 (packed, per-output scales), the last
 * layer (out = 1 or D) as plain f32 rows, which is smaller than an int8
 * panel of 16 outputs and needs no quantization of its input. */
static void dense_s8(ttr_model *m, ttr__layout *l, ttr__dense *d, const char *wname,
                     const char *bname, uint32_t in, uint32_t out, int int8)
{
    d->in = in;
    d->out = out;
    d->W = tensor(m, l, wname, out, in, 1, !int8);
    d->b = tensor(m, l, bname, out, 1, 0, 1);
    d->packed = NULL;
    if (int8) {
        d->qpacked = ttr__alloc(l, ttr_gemm_s8_packed_size(out, in));
        d->wscale = alloc_f(l, out);
    }
}

static const char *const rel_w[] = {"rel.0.w", "rel.1.w", "rel.2.w", "rel.3.w", "rel.4.w"};
static const char *const rel_b[] = {"rel.0.b", "rel.1.b", "rel.2.b", "rel.3.b", "rel.4.b"};
static const char *const bias_names[TTR_MAX_COMPONENTS][8] = {
#define BIAS_NAMES(c) \
    {"bias" #c ".row", "bias" #c ".col", "bias" #c ".ctx", "bias" #c ".unk", "bias" #c ".hid.w", \
     "bias" #c ".hid.b", "bias" #c ".out.w", "bias" #c ".out.b"}
    BIAS_NAMES(0), BIAS_NAMES(1), BIAS_NAMES(2), BIAS_NAMES(3),
    BIAS_NAMES(4), BIAS_NAMES(5), BIAS_NAMES(6), BIAS_NAMES(7)
#undef BIAS_NAMES
};

/* The relevance tower's layers (int8 in SERVE_S8); returns the widest
 * layer output (and F). */
static uint32_t plan_relevance(ttr_model *m, const ttr_config *cfg, ttr__layout *l)
{
    uint32_t maxw = cfg->n_features;
    m->n_rel = cfg->n_hidden + 1;
    for (uint32_t i = 0; i < m->n_rel; i++) {
        uint32_t in = i ? cfg->hidden[i - 1] : cfg->n_features;
        uint32_t out = i < cfg->n_hidden ? cfg->hidden[i] : m->f_out;
        if (m->mode == TTR_MODE_SERVE_S8)
            dense_s8(m, l, &m->rel[i], rel_w[i], rel_b[i], in, out, i + 1 < m->n_rel);
        else
            dense(m, l, &m->rel[i], rel_w[i], rel_b[i], in, out);
        maxw = out > maxw ? out : maxw;
    }
    return maxw;
}

/* The bias side of a train model: the bias towers, MixEM's mixture, XPA's
 * attention parameters and statistics, dot's b_ref. */
static void plan_bias(ttr_model *m, const ttr_config *cfg, ttr__layout *l)
{
    uint32_t de = cfg->embed_dim;
    int train = m->mode == TTR_MODE_TRAIN;
    for (uint32_t i = 0; i < m->n_bias; i++) {
        ttr__bias_tower *bt = &m->bias[i];
        const char *const *nm = bias_names[i];
        bt->E_row = tensor(m, l, nm[0], cfg->rows, de, 1, 1);
        bt->E_col = tensor(m, l, nm[1], cfg->cols, de, 1, 1);
        bt->E_ctx = cfg->n_contexts ? tensor(m, l, nm[2], cfg->n_contexts, de, 1, 1) : NULL;
        bt->E_unk = cfg->variant == TTR_ADDITIVE || cfg->variant == TTR_PAL
                        ? tensor(m, l, nm[3], 1, de, 1, 1)
                        : NULL;
        bt->has_hidden = cfg->bias_hidden > 0;
        if (bt->has_hidden)
            dense(m, l, &bt->hid, nm[4], nm[5], de, cfg->bias_hidden);
        dense(m, l, &bt->out, nm[6], nm[7], bt->has_hidden ? cfg->bias_hidden : de, m->b_out);
    }
    if (train && cfg->variant == TTR_MIXEM) {
        m->gain = tensor(m, l, "mixem.gain", cfg->components, 1, 0, 1);
        m->phi = tensor(m, l, "mixem.phi", cfg->components, 1, 0, 1);
    }
    if (train && cfg->variant == TTR_XPA) {
        dense(m, l, &m->wq, "xpa.wq", NULL, de, cfg->attn_dim);
        dense(m, l, &m->wk, "xpa.wk", NULL, de, cfg->attn_dim);
        m->u = tensor(m, l, "xpa.u", m->h_dim, 1, 1, 1);
        m->v = tensor(m, l, "xpa.v", de, 1, 1, 1);
        m->c0 = tensor(m, l, "xpa.c0", 1, 1, 0, 1);
        m->attn_mean = alloc_f(l, (size_t)m->n_slots * m->n_slots);
        m->attn_n = alloc_f(l, m->n_slots);
    }
    if (cfg->variant == TTR_DOT)
        m->bref_mean = alloc_f(l, m->f_out);
}

/* int8 serving scratch: quantize the features into qx; every int8 layer but
 * the last writes the next one's quantized input (qx -> qx2 -> qx ...); the
 * last writes f32 rows into act[0], which the last (f32) layer reads row by
 * row (or x, without int8 layers). */
static void plan_fwd_s8(const ttr_model *m, ttr__layout *l, ttr__fwd_scratch *s)
{
    size_t kmax = 0, n8 = m->n_rel - 1, N = m->cfg.max_items;
    for (size_t i = 0; i < n8; i++)
        if (TTR_S8_KPAD(m->rel[i].in) > kmax)
            kmax = TTR_S8_KPAD(m->rel[i].in);
    if (!kmax)
        return;
    /* qx then its scales in one block (N * kmax is a multiple of 4) */
    size_t qbytes = N * kmax + N * sizeof(float);
    s->qx = ttr__alloc(l, qbytes);
    s->qscale = s->qx ? (float *)(void *)(s->qx + N * kmax) : NULL;
    if (n8 >= 2) {
        s->qx2 = ttr__alloc(l, qbytes);
        s->qscale2 = s->qx2 ? (float *)(void *)(s->qx2 + N * kmax) : NULL;
    }
    /* act[0]: the last int8 layer's rows */
    s->act[0] = alloc_f(l, ttr__s8_act0_floats(m));
}

void ttr__plan_fwd_scratch(const ttr_model *m, ttr__layout *l, ttr__fwd_scratch *s, int own)
{
    size_t N = m->cfg.max_items;
    memset(s, 0, sizeof *s);
    if (m->mode == TTR_MODE_SERVE_S8) {
        plan_fwd_s8(m, l, s);
        return;
    }
    s->xn = alloc_f(l, N * m->cfg.n_features);
    for (uint32_t i = 0; i < m->n_rel; i++)
        s->act[i] = alloc_f(l, N * m->rel[i].out);
    if (!own && m->mode == TTR_MODE_TRAIN && m->cfg.variant == TTR_DOT) {
        s->bias_e = alloc_f(l, m->cfg.embed_dim);
        s->bias_h = alloc_f(l, m->cfg.bias_hidden ? m->cfg.bias_hidden : 1);
    }
}

/* XPA's per-list attention scratch and staged statistics. */
static void plan_scratch_xpa(ttr_model *m, const ttr_config *cfg, ttr__layout *l)
{
    ttr__scratch *s = &m->s;
    size_t N = cfg->max_items, da = cfg->attn_dim, H = m->h_dim, de = cfg->embed_dim;
    s->q = alloc_f(l, N * da);
    s->k = alloc_f(l, N * da);
    s->p = alloc_f(l, N * N);
    s->ht = alloc_f(l, N * H);
    s->et = alloc_f(l, N * de);
    s->dp = alloc_f(l, N * N);
    s->dht = alloc_f(l, N * H);
    s->det = alloc_f(l, N * de);
    s->dq = alloc_f(l, N * da);
    s->dk = alloc_f(l, N * da);
    s->dh = alloc_f(l, N * H);
    s->stage_attn = alloc_f(l, (size_t)m->n_slots * m->n_slots);
    s->stage_attn_n = alloc_f(l, m->n_slots);
}

/* The training scratch of one list: gradients of the activations, the
 * bias side's rows, logits, and the variant's own buffers. */
static void plan_scratch_train(ttr_model *m, const ttr_config *cfg, ttr__layout *l,
                               uint32_t maxw)
{
    ttr__scratch *s = &m->s;
    size_t N = cfg->max_items;
    uint32_t de = cfg->embed_dim, bh = cfg->bias_hidden;
    uint32_t bw = de > bh ? de : bh;
    uint32_t zw = m->n_bias > m->f_out ? m->n_bias : m->f_out;
    zw = zw < 2 ? 2 : zw;
    bw = bw < m->b_out ? m->b_out : bw;
    maxw = bw > maxw ? bw : maxw;
    maxw = m->h_dim > maxw ? m->h_dim : maxw;
    s->dact[0] = alloc_f(l, N * maxw);
    s->dact[1] = alloc_f(l, N * maxw);
    for (uint32_t i = 0; i < m->n_bias; i++) {
        s->e[i] = alloc_f(l, N * de);
        if (bh)
            s->bh[i] = alloc_f(l, N * bh);
        s->bo[i] = alloc_f(l, N * m->b_out);
    }
    s->de = alloc_f(l, N * de);
    s->dbh = alloc_f(l, N * (bh ? bh : 1));
    s->dbo = alloc_f(l, N * m->b_out);
    s->z = alloc_f(l, N * zw);
    s->dz = alloc_f(l, N * zw);
    s->df = alloc_f(l, N * m->f_out);
    s->dropped = ttr__alloc(l, N * sizeof(int));
    if (cfg->variant == TTR_XPA)
        plan_scratch_xpa(m, cfg, l);
    if (cfg->variant == TTR_DOT)
        s->stage_bref = alloc_f(l, m->f_out);
}

int ttr__plan(ttr_model *m, const ttr_config *cfg, ttr_mode mode, ttr__layout *l)
{
    uint32_t F = cfg->n_features;
    memset(m, 0, sizeof *m);
    m->magic = TTR__MAGIC;
    m->cfg = *cfg;
    m->mode = mode;
    m->n_slots = cfg->rows * cfg->cols;
    m->f_out = cfg->variant == TTR_DOT ? cfg->dot_dim : 1;
    m->b_out = m->f_out;
    m->h_dim = cfg->n_hidden ? cfg->hidden[cfg->n_hidden - 1] : F;
    m->n_bias = cfg->variant == TTR_NAIVE ? 0 : cfg->variant == TTR_MIXEM ? cfg->components : 1;
    if (mode != TTR_MODE_TRAIN)
        m->n_bias = 0;
    (void)ttr__alloc(l, sizeof *m); /* the struct itself heads the arena */
    m->cap_tensors = tensor_count(cfg, mode);
    m->tensors = ttr__alloc(l, m->cap_tensors * sizeof(ttr__tensor));
    m->norm_mean = alloc_f(l, F); /* int8 models too: they quantize normalised features */
    m->norm_scale = alloc_f(l, F);
    uint32_t maxw = plan_relevance(m, cfg, l);
    plan_bias(m, cfg, l);

    /* The per-step region: gradients, then the per-list scratch; in another
     * layout when l->step says so (a model sharing another's region). */
    ttr__layout *sl = l->step ? l->step : l;
    m->step_begin = sl->base ? sl->base + ((sl->used + TTR__ALIGN - 1) & ~(size_t)(TTR__ALIGN - 1))
                             : NULL;
    alloc_gradients(m, sl);
    ttr__plan_fwd_scratch(m, sl, &m->s.fwd, 1);
    if (mode == TTR_MODE_TRAIN) {
        plan_scratch_train(m, cfg, sl, maxw);
        m->s.fwd.bias_e = m->s.de; /* b_ref's slot rows: free outside a step */
        m->s.fwd.bias_h = m->s.dbh;
    }
    if (sl->overflow)
        l->overflow = 1;
    return m->n_tensors == m->cap_tensors ? TTR_OK : TTR_ERR_ARG;
}

size_t ttr__shared_step_bytes(const ttr_config *cfg)
{
    ttr_model probe;
    ttr__layout step = {NULL, 0, 0, NULL}, l = {NULL, 0, 0, &step};
    if (ttr_config_check(cfg, NULL) != TTR_OK)
        return 0;
    ttr__plan(&probe, cfg, TTR_MODE_TRAIN, &l);
    if (l.overflow || l.used > SIZE_MAX - TTR__ALIGN)
        return 0;
    return l.used + TTR__ALIGN - 1;
}

size_t ttr_arena_bytes(const ttr_config *cfg, ttr_mode mode)
{
    ttr_model probe;
    ttr__layout l = {NULL, 0, 0, NULL};
    if (ttr_config_check(cfg, NULL) != TTR_OK ||
        (mode != TTR_MODE_TRAIN && mode != TTR_MODE_SERVE_F32 && mode != TTR_MODE_SERVE_S8))
        return 0;
    ttr__plan(&probe, cfg, mode, &l);
    if (l.overflow || l.used > SIZE_MAX - TTR__ALIGN)
        return 0; /* does not fit this target's address space */
    return l.used + TTR__ALIGN - 1; /* slack to align an arbitrary buffer */
}

static void fill_uniform(uint64_t *rng, float *w, size_t n, float a)
{
    for (size_t i = 0; i < n; i++)
        w[i] = (2.0f * ttr__rng_uniform(rng) - 1.0f) * a;
}

static void init_dense(uint64_t *rng, ttr__dense *d, float gain)
{
    fill_uniform(rng, d->W->w, (size_t)d->in * d->out, gain * sqrtf(3.0f / (float)d->in));
    if (d->b)
        memset(d->b->w, 0, d->out * sizeof(float));
}

void ttr__init_weights(ttr_model *m)
{
    const ttr_config *c = &m->cfg;
    uint64_t rng = c->seed ^ 0x7474726Bull;
    uint32_t i, r;
    /* He-uniform for ReLU layers (gain sqrt 2), plain for the output */
    for (i = 0; i < m->n_rel; i++)
        init_dense(&rng, &m->rel[i], i + 1 < m->n_rel ? 1.41421356f : 1.0f);
    for (i = 0; i < m->n_bias; i++) {
        ttr__bias_tower *bt = &m->bias[i];
        /* every component draws its own embeddings: MixEM must start asymmetric */
        fill_uniform(&rng, bt->E_row->w, (size_t)c->rows * c->embed_dim, 0.5f);
        fill_uniform(&rng, bt->E_col->w, (size_t)c->cols * c->embed_dim, 0.5f);
        if (bt->E_ctx)
            fill_uniform(&rng, bt->E_ctx->w, (size_t)c->n_contexts * c->embed_dim, 0.5f);
        if (bt->E_unk)
            memset(bt->E_unk->w, 0, c->embed_dim * sizeof(float));
        if (bt->has_hidden)
            init_dense(&rng, &bt->hid, 1.41421356f);
        init_dense(&rng, &bt->out, 1.0f);
    }
    if (c->variant == TTR_DOT) {
        /* Start close to additive: r = (f, 1, ~0...), b = (1, g, ~0...), so r.b = f + g. */
        ttr__dense *fo = &m->rel[m->n_rel - 1], *bo = &m->bias[0].out;
        memset(fo->W->w + fo->in, 0, fo->in * sizeof(float));
        fo->b->w[1] = 1.0f;
        memset(bo->W->w, 0, bo->in * sizeof(float));
        bo->b->w[0] = 1.0f;
        for (r = 2; r < m->f_out; r++) {
            fill_uniform(&rng, fo->W->w + (size_t)r * fo->in, fo->in, 0.01f);
            fill_uniform(&rng, bo->W->w + (size_t)r * bo->in, bo->in, 0.01f);
        }
        memset(m->bref_mean, 0, m->f_out * sizeof(float));
        m->bref_count = 0.0;
    }
    if (c->variant == TTR_MIXEM) {
        for (i = 0; i < c->components; i++) {
            m->gain->w[i] = 1.0f;
            m->phi->w[i] = 0.0f;
        }
    }
    if (c->variant == TTR_XPA) {
        init_dense(&rng, &m->wq, 1.0f);
        init_dense(&rng, &m->wk, 1.0f);
        fill_uniform(&rng, m->u->w, m->h_dim, 0.1f / sqrtf((float)m->h_dim));
        fill_uniform(&rng, m->v->w, c->embed_dim, 0.1f / sqrtf((float)c->embed_dim));
        m->c0->w[0] = 0.0f;
        memset(m->attn_mean, 0, (size_t)m->n_slots * m->n_slots * sizeof(float));
        memset(m->attn_n, 0, m->n_slots * sizeof(float));
    }
    for (i = 0; i < m->n_tensors; i++) {
        ttr__tensor *t = &m->tensors[i];
        size_t n = (size_t)t->rows * t->cols;
        if (t->g)
            memset(t->g, 0, n * sizeof(float));
        if (t->s1)
            memset(t->s1, 0, n * sizeof(float));
        if (t->s2)
            memset(t->s2, 0, n * sizeof(float));
    }
    for (i = 0; i < c->n_features; i++) {
        m->norm_mean[i] = 0.0f;
        m->norm_scale[i] = 1.0f;
    }
    m->rng = c->seed * 0xD1B54A32D192ED03ull + 1;
    m->step = 0;
    ttr__repack(m);
}

static void repack_dense(ttr__dense *d)
{
    if (d->W && d->W->w && d->packed)
        ttr_gemm_f32_pack(d->out, d->in, d->W->w, d->in, d->packed);
}

void ttr__repack(ttr_model *m)
{
    uint32_t i;
    for (i = 0; i < m->n_rel; i++)
        repack_dense(&m->rel[i]);
    for (i = 0; i < m->n_bias; i++) {
        if (m->bias[i].has_hidden)
            repack_dense(&m->bias[i].hid);
        repack_dense(&m->bias[i].out);
    }
    if (m->cfg.variant == TTR_XPA && m->mode == TTR_MODE_TRAIN) {
        repack_dense(&m->wq);
        repack_dense(&m->wk);
    }
}

unsigned char *ttr__align_up(void *p)
{
    uintptr_t a = (uintptr_t)p;
    return p ? (unsigned char *)p + (TTR__ALIGN - a % TTR__ALIGN) % TTR__ALIGN : NULL;
}

int ttr_model_init(ttr_model **out, const ttr_config *cfg, ttr_mode mode, void *arena,
                   size_t bytes)
{
    if (mode != TTR_MODE_TRAIN && mode != TTR_MODE_SERVE_F32)
        return TTR_ERR_ARG; /* int8 models come from ttr_model_quantize or a file */
    return ttr__model_create(out, cfg, mode, arena, bytes);
}

/* A model in arena; its per-step region in step_owner's when given. */
static int create(ttr_model **out, const ttr_config *cfg, ttr_mode mode, void *arena,
                  size_t bytes, const ttr_model *step_owner)
{
    if (!out || !arena || ttr_config_check(cfg, NULL) != TTR_OK ||
        (mode != TTR_MODE_TRAIN && mode != TTR_MODE_SERVE_F32 && mode != TTR_MODE_SERVE_S8))
        return TTR_ERR_ARG;
    /* the owner's region must be the size this model's would be */
    if (step_owner && (step_owner->magic != TTR__MAGIC || step_owner->mode != TTR_MODE_TRAIN ||
                       mode != TTR_MODE_TRAIN || !ttr__same_structure(&step_owner->cfg, cfg) ||
                       ttr_arena_bytes(&step_owner->cfg, mode) != ttr_arena_bytes(cfg, mode)))
        return TTR_ERR_ARG;
    size_t need = step_owner ? ttr__shared_step_bytes(cfg) : ttr_arena_bytes(cfg, mode);
    if (need == 0)
        return TTR_ERR_NOMEM; /* larger than this target can address */
    if (bytes < need)
        return TTR_ERR_NOMEM;
    ttr__layout step = {step_owner ? step_owner->step_begin : NULL, 0, 0, NULL};
    ttr__layout l = {ttr__align_up(arena), 0, 0, step_owner ? &step : NULL};
    /* The struct heads the arena and holds pointers into itself (tensor
     * handles), so it is planned in place, never copied. */
    ttr_model *m = (ttr_model *)(void *)l.base;
    if (ttr__plan(m, cfg, mode, &l) != TTR_OK || l.used + TTR__ALIGN - 1 != need)
        return TTR_ERR_ARG; /* unreachable: the plan is the same code as the size query */
    if (mode == TTR_MODE_SERVE_S8)
        m->norm_folded = 1; /* until ttr_model_quantize or the loader says otherwise */
    if (mode == TTR_MODE_TRAIN) {
        ttr__init_weights(m);
    } else {
        /* A serving model does not train: it keeps no schedule or weight
         * decay (so its file, which has no place for them, round-trips). */
        m->cfg.lr_schedule = TTR_LR_CONSTANT;
        m->cfg.warmup_steps = 0;
        m->cfg.decay_steps = 0;
        m->cfg.weight_decay = 0.0f;
        /* A fresh serving model has an all-zero tower (every score 0) until
         * weights are copied in (ttr_model_to_serving) or loaded. */
        uint32_t i;
        for (i = 0; i < m->n_rel; i++) {
            ttr__dense *d = &m->rel[i];
            if (d->packed)
                memset(d->packed, 0, ttr_gemm_f32_packed_size(d->out, d->in) * sizeof(float));
            if (d->qpacked) {
                memset(d->qpacked, 0, ttr_gemm_s8_packed_size(d->out, d->in));
                memset(d->wscale, 0, d->out * sizeof(float));
            }
            if (d->W->w)
                memset(d->W->w, 0, (size_t)d->out * d->in * sizeof(float));
            memset(d->b->w, 0, d->out * sizeof(float));
        }
        for (i = 0; i < cfg->n_features && m->norm_mean; i++) {
            m->norm_mean[i] = 0.0f;
            m->norm_scale[i] = 1.0f;
        }
        if (m->bref_mean) {
            memset(m->bref_mean, 0, m->f_out * sizeof(float));
            m->bref_count = 0.0;
        }
    }
    *out = m;
    return TTR_OK;
}

int ttr__model_create(ttr_model **out, const ttr_config *cfg, ttr_mode mode, void *arena,
                      size_t bytes)
{
    return create(out, cfg, mode, arena, bytes, NULL);
}

int ttr__model_create_sharing(ttr_model **out, const ttr_config *cfg, void *arena, size_t bytes,
                              const ttr_model *owner)
{
    return owner ? create(out, cfg, TTR_MODE_TRAIN, arena, bytes, owner) : TTR_ERR_ARG;
}

const ttr_config *ttr_model_config(const ttr_model *m)
{
    return m ? &m->cfg : NULL;
}

ttr_mode ttr_model_mode(const ttr_model *m)
{
    return m ? m->mode : TTR_MODE_TRAIN;
}

uint64_t ttr_model_steps(const ttr_model *m)
{
    return m && m->mode == TTR_MODE_TRAIN ? m->step : 0;
}

void ttr__copy_provenance(ttr_model *dst, const ttr_model *src)
{
    dst->impressions = src->impressions;
    memcpy(dst->tag, src->tag, sizeof dst->tag);
}

/* The fields a model's tensors and optimizer state depend on; the others
 * (rates, penalties, seed, batch) are how it trains, not what it holds. */
int ttr__same_structure(const ttr_config *a, const ttr_config *b)
{
    if (a->n_hidden != b->n_hidden)
        return 0;
    for (uint32_t i = 0; i < a->n_hidden; i++)
        if (a->hidden[i] != b->hidden[i])
            return 0;
    return a->variant == b->variant && a->n_features == b->n_features && a->rows == b->rows &&
           a->cols == b->cols && a->n_contexts == b->n_contexts &&
           a->embed_dim == b->embed_dim && a->bias_hidden == b->bias_hidden &&
           a->dot_dim == b->dot_dim && a->components == b->components &&
           a->attn_dim == b->attn_dim && a->max_items == b->max_items &&
           a->optimizer == b->optimizer;
}

static void copy_f(float *dst, const float *src, size_t n)
{
    if (dst && src)
        memcpy(dst, src, n * sizeof(float));
}

int ttr__model_copy(ttr_model *dst, const ttr_model *src)
{
    if (!dst || !src || dst->magic != TTR__MAGIC || src->magic != TTR__MAGIC ||
        dst->mode != TTR_MODE_TRAIN || src->mode != TTR_MODE_TRAIN ||
        !ttr__same_structure(&dst->cfg, &src->cfg) || dst->n_tensors != src->n_tensors)
        return TTR_ERR_ARG;
    if (dst == src)
        return TTR_OK;
    for (uint32_t i = 0; i < src->n_tensors; i++) {
        const ttr__tensor *s = &src->tensors[i];
        ttr__tensor *d = &dst->tensors[i];
        size_t n = (size_t)s->rows * s->cols;
        copy_f(d->w, s->w, n);
        copy_f(d->s1, s->s1, n);
        copy_f(d->s2, s->s2, n);
    }
    uint32_t F = src->cfg.n_features, P = src->n_slots;
    copy_f(dst->norm_mean, src->norm_mean, F);
    copy_f(dst->norm_scale, src->norm_scale, F);
    copy_f(dst->bref_mean, src->bref_mean, src->f_out);
    copy_f(dst->attn_mean, src->attn_mean, (size_t)P * P);
    copy_f(dst->attn_n, src->attn_n, P);
    dst->bref_count = src->bref_count;
    dst->rng = src->rng;
    dst->step = src->step;
    dst->ub_valid = src->ub_valid;
    dst->ub_w = src->ub_w, dst->ub_s1 = src->ub_s1, dst->ub_s2 = src->ub_s2;
    ttr__copy_provenance(dst, src);
    ttr__repack(dst);
    return TTR_OK;
}

uint64_t ttr_model_impressions(const ttr_model *m)
{
    return m ? m->impressions : 0;
}

const char *ttr_model_tag(const ttr_model *m)
{
    return m ? m->tag : NULL;
}

int ttr_set_model_tag(ttr_model *m, const char *tag)
{
    size_t n = 0;
    if (!m || m->magic != TTR__MAGIC)
        return TTR_ERR_ARG;
    for (; tag && tag[n]; n++)
        if (n == TTR_TAG_MAX || tag[n] < 0x20 || tag[n] > 0x7e)
            return TTR_ERR_ARG;
    memset(m->tag, 0, sizeof m->tag);
    if (n)
        memcpy(m->tag, tag, n);
    return TTR_OK;
}

const char *ttr_version(void)
{
    return TTR_VERSION_STRING;
}

uint32_t ttr_version_number(void)
{
    return TTR_VERSION_NUMBER;
}

int ttr_set_learning_rate(ttr_model *m, float lr, ttr_lr_schedule schedule,
                          uint64_t warmup_steps, uint64_t decay_steps)
{
    if (!m || m->magic != TTR__MAGIC)
        return TTR_ERR_ARG;
    if (m->mode != TTR_MODE_TRAIN)
        return TTR_ERR_UNSUPPORTED;
    ttr_config c = m->cfg;
    c.lr = lr;
    c.lr_schedule = schedule;
    c.warmup_steps = warmup_steps;
    c.decay_steps = decay_steps;
    if (ttr_config_check(&c, NULL) != TTR_OK)
        return TTR_ERR_ARG;
    m->cfg = c;
    return TTR_OK;
}

int ttr_set_normalization(ttr_model *m, const float *mean, const float *scale)
{
    uint32_t i, F;
    if (!m || !mean || !scale)
        return TTR_ERR_ARG;
    if (m->norm_folded)
        return TTR_ERR_UNSUPPORTED; /* already folded into the first layer's weights */
    F = m->cfg.n_features;
    for (i = 0; i < F; i++)
        if (!isfinite(mean[i]) || !isfinite(scale[i]))
            return TTR_ERR_NONFINITE;
    memcpy(m->norm_mean, mean, F * sizeof(float));
    memcpy(m->norm_scale, scale, F * sizeof(float));
    return TTR_OK;
}

void ttr_get_normalization(const ttr_model *m, float *mean, float *scale)
{
    if (!m)
        return;
    /* an int8 model with the normalisation folded into layer 0 reads raw
     * features: its own normalisation is the identity */
    int identity = m->mode == TTR_MODE_SERVE_S8 && m->norm_folded;
    for (uint32_t i = 0; identity && i < m->cfg.n_features; i++) {
        if (mean)
            mean[i] = 0.0f;
        if (scale)
            scale[i] = 1.0f;
    }
    if (identity)
        return;
    if (mean)
        memcpy(mean, m->norm_mean, m->cfg.n_features * sizeof(float));
    if (scale)
        memcpy(scale, m->norm_scale, m->cfg.n_features * sizeof(float));
}
