/* An ONNX file's protobuf into tables (src/io/onnx_internal.h): the
 * default-domain opset, the graph's nodes, its initializers and Constant
 * values, its data input and its output. Fields are located, not copied:
 * every name and tensor stays a span of the caller's bytes. Field numbers
 * are those of onnx/onnx.proto3. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "onnx_internal.h"

/* ModelProto, GraphProto, NodeProto, AttributeProto, TensorProto,
 * ValueInfoProto and TypeProto fields read here */
enum { MODEL_GRAPH = 7, MODEL_OPSET = 8, OPSET_DOMAIN = 1, OPSET_VERSION = 2 };
enum { GRAPH_NODE = 1, GRAPH_INIT = 5, GRAPH_INPUT = 11, GRAPH_OUTPUT = 12, GRAPH_SPARSE = 15 };
enum { NODE_IN = 1, NODE_OUT = 2, NODE_NAME = 3, NODE_OP = 4, NODE_ATTR = 5, NODE_DOMAIN = 7 };
enum { ATTR_NAME = 1, ATTR_F = 2, ATTR_I = 3, ATTR_T = 5 };
enum { T_DIMS = 1, T_TYPE = 2, T_FLOAT = 4, T_INT64 = 7, T_NAME = 8, T_RAW = 9, T_EXT = 13,
       T_LOCATION = 14 };
enum { VI_NAME = 1, VI_TYPE = 2, TYPE_TENSOR = 1, TT_ELEM = 1, TT_SHAPE = 2, SHAPE_DIM = 1,
       DIM_VALUE = 1 };

int ttr__onnx_fail(ttr_onnx *o, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(o->msg, sizeof o->msg, fmt, ap);
    va_end(ap);
    o->err = err;
    return err;
}

const char *ttr__onnx_text(pb_span s, char *buf, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < s.n && n + 4 < cap && n < 48; i++)
        buf[n++] = s.p[i] >= 0x20 && s.p[i] < 0x7f ? (char)s.p[i] : '?';
    if (s.n > n && n + 4 <= cap)
        buf[n++] = '.', buf[n++] = '.', buf[n++] = '.';
    buf[n] = '\0';
    return buf;
}

const char *ttr__onnx_node_label(const ttr_onnx *o, uint32_t i, char *buf, size_t cap)
{
    char name[56], op[56];
    const onnx_node *nd = &o->node[i];
    if (nd->name.n)
        snprintf(buf, cap, "node '%s' (op %s)", ttr__onnx_text(nd->name, name, sizeof name),
                 ttr__onnx_text(nd->op, op, sizeof op));
    else
        snprintf(buf, cap, "node #%u (op %s)", (unsigned)i, ttr__onnx_text(nd->op, op, sizeof op));
    return buf;
}

/* Count the values of a packed or unpacked repeated field: 4-byte floats
 * (I32) or varints. -1 when malformed. */
static int64_t count_values(const pb_field *f, int floats)
{
    if (f->wire == (floats ? PB_I32 : PB_VARINT))
        return 1;
    if (f->wire != PB_LEN)
        return -1;
    if (floats)
        return f->s.n % 4 ? -1 : (int64_t)(f->s.n / 4);
    int64_t n = 0;
    uint64_t v;
    int r;
    for (size_t pos = 0; (r = ttr__pb_varint(f->s, &pos, &v)) == 1;)
        n++;
    return r < 0 ? -1 : n;
}

static int add_dims(onnx_tensor *t, const pb_field *f)
{
    uint64_t v;
    size_t pos = 0;
    int r;
    if (f->wire == PB_VARINT) {
        if (t->ndim == ONNX_MAX_DIMS)
            return TTR_ERR_FORMAT;
        t->dim[t->ndim++] = f->v;
        return TTR_OK;
    }
    if (f->wire != PB_LEN)
        return TTR_ERR_FORMAT;
    while ((r = ttr__pb_varint(f->s, &pos, &v)) == 1) {
        if (t->ndim == ONNX_MAX_DIMS)
            return TTR_ERR_FORMAT;
        t->dim[t->ndim++] = v;
    }
    return r < 0 ? TTR_ERR_FORMAT : TTR_OK;
}

/* dims: each below 2^31 (a negative int64 is a huge varint), their product
 * at most 2^40; the stored values agree with it */
static int check_count(onnx_tensor *t, int64_t n_float, int64_t n_int64)
{
    t->count = 1;
    for (uint32_t i = 0; i < t->ndim; i++) {
        if (t->dim[i] >= (uint64_t)1 << 31)
            return TTR_ERR_FORMAT;
        t->count *= t->dim[i];
        if (t->count > (uint64_t)1 << 40)
            return TTR_ERR_FORMAT;
    }
    if (t->external)
        return TTR_OK;
    if (t->dtype == ONNX_FLOAT)
        return (t->has_raw ? t->raw.n / 4 == t->count && t->raw.n % 4 == 0
                           : (uint64_t)n_float == t->count)
                   ? TTR_OK
                   : TTR_ERR_FORMAT;
    if (t->dtype == ONNX_INT64)
        return (t->has_raw ? t->raw.n / 8 == t->count && t->raw.n % 8 == 0
                           : (uint64_t)n_int64 == t->count)
                   ? TTR_OK
                   : TTR_ERR_FORMAT;
    return TTR_OK; /* other types are refused where they are used */
}

int ttr__onnx_tensor(pb_span msg, onnx_tensor *t)
{
    pb_field f;
    size_t pos = 0;
    int r, err = TTR_OK;
    int64_t n_float = 0, n_int64 = 0, k;
    memset(t, 0, sizeof *t);
    t->msg = msg;
    while (!err && (r = ttr__pb_next(msg, &pos, &f)) == 1) {
        if (f.num == T_DIMS)
            err = add_dims(t, &f);
        else if (f.num == T_TYPE && f.wire == PB_VARINT)
            t->dtype = f.v > 0x7fffffff ? -1 : (int32_t)f.v;
        else if (f.num == T_NAME && f.wire == PB_LEN)
            t->name = f.s;
        else if (f.num == T_RAW && f.wire == PB_LEN)
            t->has_raw = 1, t->raw = f.s;
        else if (f.num == T_EXT || (f.num == T_LOCATION && f.v == 1))
            t->external = 1;
        else if (f.num == T_FLOAT || f.num == T_INT64) {
            if ((k = count_values(&f, f.num == T_FLOAT)) < 0)
                err = TTR_ERR_FORMAT;
            else if (f.num == T_FLOAT)
                n_float += k;
            else
                n_int64 += k;
        }
    }
    if (err || r < 0)
        return TTR_ERR_FORMAT;
    return check_count(t, n_float, n_int64);
}

const onnx_tensor *ttr__onnx_value(const ttr_onnx *o, pb_span name)
{
    for (uint32_t i = 0; i < o->n_values; i++)
        if (ttr__pb_same(o->value[i].name, name))
            return &o->value[i];
    return NULL;
}

void ttr__onnx_f32_begin(onnx_f32_iter *it, const onnx_tensor *t)
{
    memset(it, 0, sizeof *it);
    it->t = t;
}

int ttr__onnx_f32_next(onnx_f32_iter *it, float *v)
{
    uint32_t bits;
    if (it->t->has_raw) {
        if (it->pos + 4 > it->t->raw.n)
            return 0;
        bits = ttr__pb_u32le(it->t->raw.p + it->pos);
        it->pos += 4;
    } else {
        while (it->at + 4 > it->chunk.n) { /* the next float_data field */
            pb_field f;
            int r = ttr__pb_next(it->t->msg, &it->pos, &f);
            if (r <= 0)
                return r;
            if (f.num != T_FLOAT)
                continue;
            if (f.wire == PB_I32) {
                bits = (uint32_t)f.v;
                memcpy(v, &bits, 4);
                return 1;
            }
            it->chunk = f.s, it->at = 0;
        }
        bits = ttr__pb_u32le(it->chunk.p + it->at);
        it->at += 4;
    }
    memcpy(v, &bits, 4);
    return 1;
}

int ttr__onnx_i64(const onnx_tensor *t, int64_t *v, uint32_t n)
{
    if (t->dtype != ONNX_INT64 || t->count < n || n > 8 || t->external)
        return TTR_ERR_FORMAT;
    if (t->has_raw) {
        for (uint32_t i = 0; i < n; i++)
            v[i] = (int64_t)ttr__pb_u64le(t->raw.p + 8 * i);
        return TTR_OK;
    }
    pb_field f;
    size_t pos = 0;
    uint32_t got = 0;
    while (got < n && ttr__pb_next(t->msg, &pos, &f) == 1) {
        if (f.num != T_INT64)
            continue;
        if (f.wire == PB_VARINT) {
            v[got++] = (int64_t)f.v;
            continue;
        }
        uint64_t x;
        for (size_t p = 0; got < n && ttr__pb_varint(f.s, &p, &x) == 1;)
            v[got++] = (int64_t)x;
    }
    return got == n ? TTR_OK : TTR_ERR_FORMAT;
}

int ttr__onnx_default_domain(pb_span domain)
{
    return domain.n == 0 || ttr__pb_is(domain, "ai.onnx");
}

/* The AttributeProto of node nd named `name`: 1 (in *a), or 0. */
static int attr(const onnx_node *nd, const char *name, pb_span *a)
{
    pb_field f, g;
    size_t pos = 0;
    while (ttr__pb_next(nd->msg, &pos, &f) == 1)
        if (f.num == NODE_ATTR && f.wire == PB_LEN && ttr__pb_find(f.s, ATTR_NAME, PB_LEN, &g) &&
            ttr__pb_is(g.s, name)) {
            *a = f.s;
            return 1;
        }
    return 0;
}

int ttr__onnx_attr_int(const onnx_node *nd, const char *name, int64_t *v)
{
    pb_span a;
    pb_field g;
    if (!attr(nd, name, &a))
        return 0;
    *v = ttr__pb_find(a, ATTR_I, PB_VARINT, &g) ? (int64_t)g.v : 0;
    return 1;
}

int ttr__onnx_attr_float(const onnx_node *nd, const char *name, float *v)
{
    pb_span a;
    pb_field g;
    if (!attr(nd, name, &a))
        return 0;
    uint32_t bits = ttr__pb_find(a, ATTR_F, PB_I32, &g) ? (uint32_t)g.v : 0;
    memcpy(v, &bits, 4);
    return 1;
}

/* The next free entry of the value table, or NULL after setting the error. */
static onnx_tensor *next_value(ttr_onnx *o)
{
    if (o->n_values < TTR_ONNX_MAX_VALUES)
        return &o->value[o->n_values];
    ttr__onnx_fail(o, TTR_ERR_UNSUPPORTED, "more than %u initializers and constants",
                   TTR_ONNX_MAX_VALUES);
    return NULL;
}

/* A Constant node's "value" tensor, named after the node's output. */
static int add_constant(ttr_onnx *o, const onnx_node *nd, uint32_t i)
{
    pb_span a;
    pb_field t;
    char label[160];
    if (!attr(nd, "value", &a) || !ttr__pb_find(a, ATTR_T, PB_LEN, &t))
        return ttr__onnx_fail(o, TTR_ERR_UNSUPPORTED, "%s: only a 'value' tensor is supported",
                              ttr__onnx_node_label(o, i, label, sizeof label));
    onnx_tensor *v = next_value(o);
    if (!v)
        return o->err;
    if (ttr__onnx_tensor(t.s, v) || nd->n_out != 1)
        return ttr__onnx_fail(o, TTR_ERR_FORMAT, "%s: a malformed value",
                              ttr__onnx_node_label(o, i, label, sizeof label));
    v->name = nd->out;
    o->n_values++;
    return TTR_OK;
}

static int add_node(ttr_onnx *o, pb_span msg)
{
    if (o->n_nodes == TTR_ONNX_MAX_NODES)
        return ttr__onnx_fail(o, TTR_ERR_UNSUPPORTED, "more than %u nodes: not a relevance "
                              "tower", TTR_ONNX_MAX_NODES);
    onnx_node *nd = &o->node[o->n_nodes];
    pb_field f;
    size_t pos = 0;
    int r;
    memset(nd, 0, sizeof *nd);
    nd->msg = msg;
    while ((r = ttr__pb_next(msg, &pos, &f)) == 1) {
        if (f.wire != PB_LEN)
            continue;
        if (f.num == NODE_IN && nd->n_in < ONNX_MAX_INPUTS)
            nd->in[nd->n_in] = f.s;
        if (f.num == NODE_IN)
            nd->n_in++;
        else if (f.num == NODE_OUT && nd->n_out++ == 0)
            nd->out = f.s;
        else if (f.num == NODE_NAME)
            nd->name = f.s;
        else if (f.num == NODE_OP)
            nd->op = f.s;
        else if (f.num == NODE_DOMAIN)
            nd->domain = f.s;
    }
    if (r < 0 || !nd->n_out)
        return ttr__onnx_fail(o, TTR_ERR_FORMAT, "node #%u: malformed or without an output",
                              (unsigned)o->n_nodes);
    o->n_nodes++;
    int constant = ttr__pb_is(nd->op, "Constant") && ttr__onnx_default_domain(nd->domain);
    return constant ? add_constant(o, nd, o->n_nodes - 1) : TTR_OK;
}

static int add_initializer(ttr_onnx *o, pb_span msg)
{
    char name[56];
    onnx_tensor *t = next_value(o);
    if (!t)
        return o->err;
    if (ttr__onnx_tensor(msg, t))
        return ttr__onnx_fail(o, TTR_ERR_FORMAT, "initializer '%s': malformed (its shape and "
                              "data disagree)", ttr__onnx_text(t->name, name, sizeof name));
    o->n_values++;
    return TTR_OK;
}

/* The model's fields: the graph (once) and the default domain's opset. */
static int read_model(ttr_onnx *o, pb_span file)
{
    pb_field f, g;
    size_t pos = 0;
    int r, graphs = 0;
    o->opset = -1;
    while ((r = ttr__pb_next(file, &pos, &f)) == 1) {
        if (f.num == MODEL_GRAPH && f.wire == PB_LEN)
            o->graph = f.s, graphs++;
        if (f.num != MODEL_OPSET || f.wire != PB_LEN)
            continue;
        pb_span domain = {NULL, 0};
        if (ttr__pb_find(f.s, OPSET_DOMAIN, PB_LEN, &g))
            domain = g.s;
        if (ttr__onnx_default_domain(domain))
            o->opset = ttr__pb_find(f.s, OPSET_VERSION, PB_VARINT, &g) ? (int64_t)g.v : -1;
    }
    if (r < 0 || graphs != 1)
        return ttr__onnx_fail(o, TTR_ERR_FORMAT, "not an ONNX model (%s)",
                              r < 0 ? "malformed protobuf" : graphs ? "two graphs" : "no graph");
    if (o->opset < 9 || o->opset > 17)
        return ttr__onnx_fail(o, TTR_ERR_UNSUPPORTED,
                              "opset %lld of the default domain: ttrank reads opsets 9 to 17",
                              (long long)o->opset);
    return TTR_OK;
}

static const char *type_name(uint64_t t)
{
    return t == ONNX_DOUBLE ? "double" : t == 10 ? "float16" : t == 16 ? "bfloat16" : "not float";
}

/* A ValueInfoProto's name, element type and shape (rank, last axis). */
static void value_info(pb_span msg, pb_span *name, uint64_t *elem, uint32_t *rank, uint64_t *last)
{
    pb_field f, type, tensor, shape, d;
    *elem = 0, *rank = 0, *last = 0;
    if (ttr__pb_find(msg, VI_NAME, PB_LEN, &f))
        *name = f.s;
    if (!ttr__pb_find(msg, VI_TYPE, PB_LEN, &type) ||
        !ttr__pb_find(type.s, TYPE_TENSOR, PB_LEN, &tensor))
        return;
    if (ttr__pb_find(tensor.s, TT_ELEM, PB_VARINT, &f))
        *elem = f.v;
    if (!ttr__pb_find(tensor.s, TT_SHAPE, PB_LEN, &shape))
        return;
    for (size_t p = 0; ttr__pb_next(shape.s, &p, &d) == 1;) {
        if (d.num != SHAPE_DIM || d.wire != PB_LEN)
            continue;
        (*rank)++; /* a dim_param (a name) leaves the axis open: 0 */
        *last = ttr__pb_find(d.s, DIM_VALUE, PB_VARINT, &f) ? f.v : 0;
    }
}

/* The graph's one data input (an input that no initializer fills) and its
 * one output. */
static int read_io(ttr_onnx *o)
{
    pb_field f;
    pb_span name;
    size_t pos = 0;
    uint32_t n_in = 0, n_out = 0, rank;
    uint64_t elem, last;
    char a[56], b[56];
    while (ttr__pb_next(o->graph, &pos, &f) == 1) {
        if (f.wire != PB_LEN || (f.num != GRAPH_INPUT && f.num != GRAPH_OUTPUT))
            continue;
        name.p = NULL, name.n = 0;
        value_info(f.s, &name, &elem, &rank, &last);
        if (f.num == GRAPH_OUTPUT && n_out++ == 0)
            o->output = name;
        if (f.num == GRAPH_OUTPUT || ttr__onnx_value(o, name))
            continue;
        if (n_in++ == 0) {
            o->input = name, o->in_rank = rank, o->in_width = rank ? last : 0;
            if (elem != ONNX_FLOAT)
                return ttr__onnx_fail(o, TTR_ERR_UNSUPPORTED, "input '%s' is %s (ONNX type %llu): "
                                      "ttrank reads float32", ttr__onnx_text(name, a, sizeof a),
                                      type_name(elem), (unsigned long long)elem);
        } else if (n_in == 2) {
            return ttr__onnx_fail(o, TTR_ERR_UNSUPPORTED, "the graph has more than one input "
                                  "('%s', '%s'): a relevance tower reads one feature vector",
                                  ttr__onnx_text(o->input, a, sizeof a),
                                  ttr__onnx_text(name, b, sizeof b));
        }
    }
    if (n_in != 1)
        return ttr__onnx_fail(o, TTR_ERR_UNSUPPORTED, "the graph has no input: a relevance tower "
                              "reads one feature vector");
    if (n_out != 1)
        return ttr__onnx_fail(o, TTR_ERR_UNSUPPORTED, "the graph has %u outputs: a relevance "
                              "tower has one", (unsigned)n_out);
    return TTR_OK;
}

int ttr__onnx_parse(ttr_onnx *o, pb_span file)
{
    pb_field f;
    size_t pos = 0;
    int r = 0, err = read_model(o, file);
    while (!err && (r = ttr__pb_next(o->graph, &pos, &f)) == 1) {
        if (f.wire != PB_LEN)
            continue;
        if (f.num == GRAPH_NODE)
            err = add_node(o, f.s);
        else if (f.num == GRAPH_INIT)
            err = add_initializer(o, f.s);
        else if (f.num == GRAPH_SPARSE)
            err = ttr__onnx_fail(o, TTR_ERR_UNSUPPORTED, "sparse initializers are not supported");
    }
    if (!err && r < 0)
        err = ttr__onnx_fail(o, TTR_ERR_FORMAT, "not an ONNX model (a malformed graph)");
    return err ? err : read_io(o);
}
