/* Private: an ONNX file's parse (onnx_read.c) and the tower found in it
 * (onnx_tower.c), behind include/ttr_onnx.h. */
#ifndef TTR_SRC_IO_ONNX_INTERNAL_H
#define TTR_SRC_IO_ONNX_INTERNAL_H

#include "pb_wire.h"
#include "ttr_onnx.h"

#define ONNX_MAX_INPUTS 4u /* per node: Gemm has 3 */
#define ONNX_MAX_DIMS 4u

/* ONNX's TensorProto.DataType values read here */
enum { ONNX_FLOAT = 1, ONNX_INT64 = 7, ONNX_DOUBLE = 11 };

/* A TensorProto, its fields located (not decoded). */
typedef struct onnx_tensor {
    pb_span msg;                /* the whole TensorProto */
    pb_span name;
    int32_t dtype;
    uint32_t ndim;
    uint64_t dim[ONNX_MAX_DIMS];
    uint64_t count;             /* product of dim (1 for a scalar) */
    int has_raw;                /* values in raw_data (else float_data / int64_data) */
    pb_span raw;
    int external;               /* data_location EXTERNAL: the values are in another file */
} onnx_tensor;

typedef struct onnx_node {
    pb_span msg, name, op, domain;
    pb_span in[ONNX_MAX_INPUTS];
    uint32_t n_in, n_out;
    pb_span out; /* the first output */
} onnx_node;

/* A dense layer of the tower: y = alpha * x W' + beta * b, W' the weight
 * as [out, in] (transposed from [in, out] when `transpose`). */
typedef struct onnx_layer {
    const onnx_tensor *w, *b; /* b NULL: no bias */
    int transpose;
    float alpha, beta;
    uint32_t in, out;
    uint32_t node;            /* the Gemm or MatMul, for messages */
} onnx_layer;

struct ttr_onnx {
    int err;
    char msg[200];
    pb_span graph;
    int64_t opset;
    onnx_node node[TTR_ONNX_MAX_NODES];
    uint32_t n_nodes;
    onnx_tensor value[TTR_ONNX_MAX_VALUES]; /* initializers and Constant nodes' values */
    uint32_t n_values;
    pb_span input, output;                  /* the graph's data input and its output */
    uint32_t in_rank;                       /* 0: not given */
    uint64_t in_width;                      /* the input's last axis, 0: not given */
    onnx_layer layer[TTR_MAX_HIDDEN + 1];
    uint32_t n_layers;
    ttr_onnx_tower tower;
};

/* onnx_read.c */
int ttr__onnx_parse(ttr_onnx *o, pb_span file);
int ttr__onnx_tensor(pb_span msg, onnx_tensor *t); /* TTR_OK or TTR_ERR_FORMAT */
const onnx_tensor *ttr__onnx_value(const ttr_onnx *o, pb_span name);
/* Values of a FLOAT tensor in storage order, one at a time. */
typedef struct onnx_f32_iter {
    const onnx_tensor *t;
    size_t pos;    /* in t->msg (float_data) or t->raw */
    pb_span chunk; /* the packed float_data being read */
    size_t at;
} onnx_f32_iter;
void ttr__onnx_f32_begin(onnx_f32_iter *it, const onnx_tensor *t);
int ttr__onnx_f32_next(onnx_f32_iter *it, float *v); /* 1, 0 at the end, -1 malformed */
/* The first n (<= 8) values of an INT64 tensor: TTR_OK or TTR_ERR_FORMAT. */
int ttr__onnx_i64(const onnx_tensor *t, int64_t *v, uint32_t n);

/* 1 for ONNX's default operator domain ("" or "ai.onnx"). */
int ttr__onnx_default_domain(pb_span domain);
/* Node nd's attribute `name` as an int or a float: 1 (in *v), or 0 when the
 * node has no such attribute. */
int ttr__onnx_attr_int(const onnx_node *nd, const char *name, int64_t *v);
int ttr__onnx_attr_float(const onnx_node *nd, const char *name, float *v);

/* Set o->err and o->msg (printf-style); returns err. */
int ttr__onnx_fail(ttr_onnx *o, int err, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* "node 'NAME' (op OP)" of node i, printable characters only, into buf. */
const char *ttr__onnx_node_label(const ttr_onnx *o, uint32_t i, char *buf, size_t cap);
/* span s as printable text (at most 48 characters), into buf */
const char *ttr__onnx_text(pb_span s, char *buf, size_t cap);

/* onnx_tower.c: the chain from input to output, into o->layer and o->tower */
int ttr__onnx_walk(ttr_onnx *o);

#endif
