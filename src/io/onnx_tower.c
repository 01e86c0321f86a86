/* The relevance tower in a parsed ONNX graph (include/ttr_onnx.h): one
 * chain of nodes from the data input to the output, read as dense layers
 * with Relu between them, and its weights into a model. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../model.h"
#include "onnx_internal.h"

/* The parse and its alignment fit in TTR_ONNX_SCRATCH (C99 has no static_assert). */
typedef char ttr__onnx_fits_scratch[sizeof(ttr_onnx) + TTR__ALIGN <= TTR_ONNX_SCRATCH ? 1 : -1];

/* What the chain ended with so far. */
enum { AT_START, AT_DENSE, AT_MATMUL, AT_RELU, AT_SIGMOID };

typedef struct walk {
    ttr_onnx *o;
    pb_span cur;    /* the value the chain has reached */
    uint32_t rank;  /* its rank, 0: unknown */
    uint64_t width; /* its last axis, 0: unknown */
    int at;
    uint32_t i;     /* the node */
    char label[160];
} walk;

static int fail(walk *w, int err, const char *what)
{
    return ttr__onnx_fail(w->o, err, "%s: %s", w->label, what);
}

/* A float32 tensor named by input k of the node, or a message. */
static const onnx_tensor *constant(walk *w, uint32_t k, const char *role)
{
    const onnx_node *nd = &w->o->node[w->i];
    char name[56], why[160];
    const onnx_tensor *t = k < nd->n_in ? ttr__onnx_value(w->o, nd->in[k]) : NULL;
    ttr__onnx_text(k < nd->n_in ? nd->in[k] : nd->out, name, sizeof name);
    if (!t)
        snprintf(why, sizeof why, "its %s '%s' is not an initializer or a constant", role, name);
    else if (t->external)
        snprintf(why, sizeof why, "its %s '%s' is in an external file", role, name);
    else if (t->dtype != ONNX_FLOAT)
        snprintf(why, sizeof why, "its %s '%s' is %s (ONNX type %d): ttrank reads float32", role,
                 name, t->dtype == ONNX_DOUBLE ? "double" : "not float", (int)t->dtype);
    else
        return t;
    fail(w, t ? TTR_ERR_UNSUPPORTED : TTR_ERR_FORMAT, why);
    return NULL;
}

/* NaN, Inf or a magnitude past 2^126 (the training guard's range) after
 * scaling by s: refused. */
static int finite_values(walk *w, const onnx_tensor *t, float s)
{
    onnx_f32_iter it;
    float v;
    int r;
    ttr__onnx_f32_begin(&it, t);
    while ((r = ttr__onnx_f32_next(&it, &v)) == 1)
        if (!isfinite(v * s) || fabsf(v * s) > 0x1p126f)
            return fail(w, TTR_ERR_NONFINITE, "a weight is NaN, Inf or beyond 2^126");
    return r < 0 ? fail(w, TTR_ERR_FORMAT, "malformed weights") : TTR_OK;
}

static int bias(walk *w, onnx_layer *l, uint32_t k)
{
    const onnx_tensor *b = constant(w, k, "bias");
    if (!b)
        return w->o->err;
    if (b->count != l->out || b->ndim < 1 || b->ndim > 2 || (b->ndim == 2 && b->dim[0] != 1))
        return fail(w, TTR_ERR_FORMAT, "its bias is not a vector of the layer's outputs");
    l->b = b;
    return finite_values(w, b, l->beta);
}

/* A dense layer with weight input 1 ([in, out] when transpose) and, for
 * Gemm, the bias input 2. */
static int dense(walk *w, int transpose, float alpha, float beta, int matmul)
{
    ttr_onnx *o = w->o;
    if (w->at == AT_DENSE || w->at == AT_MATMUL)
        return fail(w, TTR_ERR_UNSUPPORTED, "two dense layers without a Relu between them "
                                            "(ttrank's tower has one after every hidden layer)");
    if (o->n_layers == TTR_MAX_HIDDEN + 1)
        return fail(w, TTR_ERR_UNSUPPORTED, "one dense layer too many: ttrank's relevance tower "
                                            "has at most 4 hidden layers");
    const onnx_tensor *W = constant(w, 1, "weight");
    if (!W)
        return o->err;
    if (W->ndim != 2)
        return fail(w, TTR_ERR_UNSUPPORTED, "its weight is not a matrix");
    onnx_layer *l = &o->layer[o->n_layers];
    memset(l, 0, sizeof *l);
    l->w = W, l->transpose = transpose, l->alpha = alpha, l->beta = beta, l->node = w->i;
    l->in = (uint32_t)W->dim[transpose ? 0 : 1];
    l->out = (uint32_t)W->dim[transpose ? 1 : 0];
    if (!l->in || !l->out || l->in > 65536 || l->out > 4096)
        return fail(w, TTR_ERR_UNSUPPORTED, "a layer of 1 to 65536 inputs and 1 to 4096 outputs "
                                            "is what ttrank's tower holds");
    if (w->width && l->in != w->width)
        return fail(w, TTR_ERR_FORMAT, "its weight does not take the width that reaches it");
    int err = finite_values(w, W, alpha);
    if (!err && !matmul && o->node[w->i].n_in > 2 && o->node[w->i].in[2].n) /* "" = no C */
        err = bias(w, l, 2);
    if (err)
        return err;
    o->n_layers++;
    w->width = l->out;
    w->at = matmul ? AT_MATMUL : AT_DENSE;
    return TTR_OK;
}

static int gemm(walk *w)
{
    const onnx_node *nd = &w->o->node[w->i];
    int64_t ta = 0, tb = 0;
    float alpha = 1.0f, beta = 1.0f;
    (void)ttr__onnx_attr_int(nd, "transA", &ta);
    (void)ttr__onnx_attr_int(nd, "transB", &tb);
    (void)ttr__onnx_attr_float(nd, "alpha", &alpha);
    (void)ttr__onnx_attr_float(nd, "beta", &beta);
    if (ta != 0 || nd->n_in < 2 || nd->n_in > 3)
        return fail(w, TTR_ERR_UNSUPPORTED, "only Gemm(x, W[, b]) with transA 0 is supported");
    return dense(w, tb == 0, alpha, beta, 0);
}

/* Add after a MatMul: its bias (either operand). */
static int add(walk *w)
{
    const onnx_node *nd = &w->o->node[w->i];
    if (w->at != AT_MATMUL || nd->n_in != 2)
        return fail(w, TTR_ERR_UNSUPPORTED, "an Add that is not the bias of a MatMul");
    w->at = AT_DENSE;
    return bias(w, &w->o->layer[w->o->n_layers - 1], ttr__pb_same(nd->in[0], w->cur) ? 1 : 0);
}

/* Flatten and Reshape must keep the feature axis: they only merge or
 * split the leading (batch) axes. */
static int flatten(walk *w)
{
    int64_t axis = 1;
    uint32_t r = w->rank ? w->rank : 2;
    (void)ttr__onnx_attr_int(&w->o->node[w->i], "axis", &axis);
    if (axis < 0)
        axis += r;
    if (r < 2 || axis != (int64_t)r - 1)
        return fail(w, TTR_ERR_UNSUPPORTED, "it flattens the feature axis into another");
    w->rank = 2;
    return TTR_OK;
}

static int reshape(walk *w)
{
    const onnx_node *nd = &w->o->node[w->i];
    const onnx_tensor *t = nd->n_in == 2 ? ttr__onnx_value(w->o, nd->in[1]) : NULL;
    int64_t s[8];
    uint32_t k = t && t->ndim == 1 ? (uint32_t)t->count : 0;
    if (!t || k < 1 || k > 8 || ttr__onnx_i64(t, s, k))
        return fail(w, TTR_ERR_UNSUPPORTED, "only a Reshape to a constant int64 shape is "
                                            "supported");
    int64_t last = s[k - 1];
    int keeps = last > 0 ? (!w->width || (uint64_t)last == w->width)
                         : last == 0 && k == w->rank && w->width; /* 0 copies the axis */
    if (!keeps)
        return fail(w, TTR_ERR_UNSUPPORTED, "it reshapes the feature axis");
    if (last > 0)
        w->width = (uint64_t)last;
    w->rank = k;
    return TTR_OK;
}

/* The node's part of the chain; w->cur moves to its output. */
static int step(walk *w)
{
    const onnx_node *nd = &w->o->node[w->i];
    pb_span op = nd->op;
    int err;
    if (w->at == AT_SIGMOID)
        return fail(w, TTR_ERR_UNSUPPORTED, "a node after the final Sigmoid");
    if (ttr__pb_is(op, "Gemm"))
        err = gemm(w);
    else if (ttr__pb_is(op, "MatMul"))
        err = nd->n_in == 2 ? dense(w, 1, 1.0f, 1.0f, 1)
                            : fail(w, TTR_ERR_FORMAT, "a MatMul of two inputs expected");
    else if (ttr__pb_is(op, "Add"))
        err = add(w);
    else if (ttr__pb_is(op, "Relu") || ttr__pb_is(op, "Sigmoid")) {
        int relu = ttr__pb_is(op, "Relu");
        if (w->at != AT_DENSE && w->at != AT_MATMUL)
            return fail(w, TTR_ERR_UNSUPPORTED, "it must follow a dense layer");
        w->at = relu ? AT_RELU : AT_SIGMOID;
        w->o->tower.sigmoid_dropped = !relu;
        err = TTR_OK;
    } else if (ttr__pb_is(op, "Flatten"))
        err = flatten(w);
    else if (ttr__pb_is(op, "Reshape"))
        err = reshape(w);
    else
        err = TTR_OK; /* Identity */
    w->cur = nd->out;
    return err;
}

static int on_chain(const walk *w, const onnx_node *nd)
{
    return (nd->n_in >= 1 && ttr__pb_same(nd->in[0], w->cur)) ||
           (ttr__pb_is(nd->op, "Add") && nd->n_in == 2 && ttr__pb_same(nd->in[1], w->cur));
}

static int known_op(pb_span op)
{
    static const char *const ops[] = {"Gemm",    "MatMul",   "Add",      "Relu",
                                      "Sigmoid", "Flatten",  "Identity", "Reshape"};
    for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++)
        if (ttr__pb_is(op, ops[k]))
            return 1;
    return 0;
}

static void fill_tower(ttr_onnx *o)
{
    ttr_onnx_tower *t = &o->tower;
    t->n_features = o->layer[0].in;
    t->n_hidden = o->n_layers - 1;
    for (uint32_t l = 0; l + 1 < o->n_layers; l++)
        t->hidden[l] = o->layer[l].out;
    t->n_out = o->layer[o->n_layers - 1].out;
    t->opset = o->opset;
}

int ttr__onnx_walk(ttr_onnx *o)
{
    walk w;
    char a[56], b[56];
    memset(&w, 0, sizeof w);
    w.o = o, w.cur = o->input, w.rank = o->in_rank, w.width = o->in_width;
    for (w.i = 0; w.i < o->n_nodes; w.i++) {
        const onnx_node *nd = &o->node[w.i];
        if (ttr__pb_is(nd->op, "Constant") && ttr__onnx_default_domain(nd->domain))
            continue;
        ttr__onnx_node_label(o, w.i, w.label, sizeof w.label);
        if (!known_op(nd->op) || !ttr__onnx_default_domain(nd->domain))
            return fail(&w, TTR_ERR_UNSUPPORTED, "not supported (a relevance tower is Gemm or "
                                                 "MatMul+Add layers with Relu between them)");
        if (!on_chain(&w, nd))
            return fail(&w, TTR_ERR_UNSUPPORTED, "not on the one chain of nodes from the input "
                                                 "that a relevance tower is");
        int err = step(&w);
        if (err)
            return err;
    }
    if (!ttr__pb_same(w.cur, o->output))
        return ttr__onnx_fail(o, TTR_ERR_UNSUPPORTED, "the chain from input '%s' ends at '%s', "
                              "not at the graph's output", ttr__onnx_text(o->input, a, sizeof a),
                              ttr__onnx_text(w.cur, b, sizeof b));
    if (!o->n_layers || w.at == AT_RELU)
        return ttr__onnx_fail(o, TTR_ERR_UNSUPPORTED, "%s", o->n_layers ? "a Relu after the last "
                              "dense layer: ttrank's tower ends in a linear layer" : "no dense "
                              "layer (Gemm or MatMul) from the input to the output");
    fill_tower(o);
    return TTR_OK;
}

int ttr_onnx_open(ttr_onnx **out, const void *data, size_t bytes, void *scratch,
                  size_t scratch_bytes)
{
    if (!out || !data || !bytes || !scratch)
        return TTR_ERR_ARG;
    unsigned char *p = ttr__align_up(scratch);
    size_t skip = (size_t)(p - (unsigned char *)scratch);
    if (scratch_bytes < skip || scratch_bytes - skip < sizeof(ttr_onnx))
        return TTR_ERR_NOMEM;
    ttr_onnx *o = (ttr_onnx *)(void *)p;
    memset(o, 0, sizeof *o);
    pb_span file = {data, bytes};
    int err = ttr__onnx_parse(o, file);
    if (!err)
        err = ttr__onnx_walk(o);
    *out = o;
    return err;
}

const char *ttr_onnx_error(const ttr_onnx *o)
{
    return o ? o->msg : "";
}

int ttr_onnx_tower_info(const ttr_onnx *o, ttr_onnx_tower *t)
{
    if (!o || !t)
        return TTR_ERR_ARG;
    if (o->err)
        return o->err;
    *t = o->tower;
    return TTR_OK;
}

static int out_fits(const ttr_onnx *o, ttr_variant v)
{
    uint32_t n = o->tower.n_out;
    return v == TTR_DOT ? n >= 2 && n <= 64 : n == 1;
}

int ttr_onnx_config(const ttr_onnx *o, ttr_variant variant, ttr_config *cfg)
{
    if (!o || !cfg || (unsigned)variant > TTR_XPA)
        return TTR_ERR_ARG;
    if (o->err)
        return o->err;
    if (!out_fits(o, variant))
        return TTR_ERR_UNSUPPORTED;
    ttr_config c;
    ttr_config_default(&c, variant, o->tower.n_features);
    c.n_hidden = o->tower.n_hidden;
    memcpy(c.hidden, o->tower.hidden, sizeof c.hidden);
    if (variant == TTR_DOT)
        c.dot_dim = o->tower.n_out;
    *cfg = c;
    return TTR_OK;
}

/* Layer l's weights as [out, in] and bias into the model's tensors. */
static void store_layer(const onnx_layer *l, ttr__dense *d)
{
    onnx_f32_iter it;
    float v;
    uint32_t rows = l->transpose ? l->in : l->out, cols = l->transpose ? l->out : l->in;
    ttr__onnx_f32_begin(&it, l->w);
    for (uint32_t r = 0; r < rows; r++)
        for (uint32_t c = 0; c < cols && ttr__onnx_f32_next(&it, &v) == 1; c++)
            d->W->w[l->transpose ? (size_t)c * l->in + r : (size_t)r * l->in + c] = v * l->alpha;
    for (uint32_t j = 0; j < l->out; j++)
        d->b->w[j] = 0.0f;
    if (!l->b)
        return;
    ttr__onnx_f32_begin(&it, l->b);
    for (uint32_t j = 0; j < l->out && ttr__onnx_f32_next(&it, &v) == 1; j++)
        d->b->w[j] = v * l->beta;
}

int ttr_onnx_load(ttr_model **out, const ttr_config *cfg, void *arena, size_t bytes,
                  const ttr_onnx *o)
{
    if (!out || !cfg || !arena || !o)
        return TTR_ERR_ARG;
    if (o->err)
        return o->err;
    const ttr_onnx_tower *t = &o->tower;
    int match = cfg->n_features == t->n_features && cfg->n_hidden == t->n_hidden &&
                out_fits(o, cfg->variant) && (cfg->variant != TTR_DOT || cfg->dot_dim == t->n_out);
    for (uint32_t l = 0; match && l < t->n_hidden; l++)
        match = cfg->hidden[l] == t->hidden[l];
    if (!match)
        return TTR_ERR_FORMAT;
    ttr_model *m;
    int err = ttr_model_init(&m, cfg, TTR_MODE_TRAIN, arena, bytes);
    if (err)
        return err;
    for (uint32_t l = 0; l < o->n_layers; l++)
        store_layer(&o->layer[l], &m->rel[l]);
    m->ub_valid = 0;
    ttr__repack(m);
    *out = m;
    return TTR_OK;
}
