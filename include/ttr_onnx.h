/* ttrank — a relevance tower from an ONNX file, read without any
 * dependency (a protobuf reader of its own).
 *
 * What is read: the MLP that torch.onnx.export writes for
 * nn.Sequential(Linear, ReLU, ..., Linear), i.e. a chain from the graph's one
 * float input to its one output of
 *   Gemm (transA 0, any transB, alpha, beta), or MatMul with an optional Add
 *   of a constant bias;
 *   Relu between two dense layers (ttrank's tower has one after every
 *   hidden layer and none after the last);
 *   Flatten, Identity, or Reshape of the leading (batch) axes, which leave
 *   the feature axis as it is;
 *   a final Sigmoid, dropped (ttr_onnx_tower.sigmoid_dropped says so: the
 *   imported tower scores logits, which rank the same);
 * with weights as float32 initializers or Constant nodes, in raw_data or
 * float_data; default-domain opsets 9 to 17; at most TTR_MAX_HIDDEN hidden
 * layers. Anything else is refused with a message naming the node and its
 * op (ttr_onnx_error). docs/interop.md shows the PyTorch side.
 *
 * Memory: the file is read in place from the caller's buffer (mapped or
 * read whole; it must stay alive and unchanged while the ttr_onnx is used),
 * and the parse lives in the caller's scratch of TTR_ONNX_SCRATCH bytes.
 * Nothing is allocated or copied; an ONNX file may hold at most
 * TTR_ONNX_MAX_NODES nodes and TTR_ONNX_MAX_VALUES initializers and Constant
 * nodes.
 *
 * Thread-safety: a ttr_onnx is only read after ttr_onnx_open, so several
 * threads may use one at once. */
#ifndef TTR_ONNX_H
#define TTR_ONNX_H

#include <stddef.h>
#include <stdint.h>

#include "ttrank.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TTR_ONNX_MAX_NODES 64u
#define TTR_ONNX_MAX_VALUES 64u
#define TTR_ONNX_SCRATCH ((size_t)32 << 10) /* bytes ttr_onnx_open needs */

typedef struct ttr_onnx ttr_onnx;

/* The tower an ONNX file holds. */
typedef struct ttr_onnx_tower {
    uint32_t n_features;             /* F: the first layer's inputs */
    uint32_t n_hidden;               /* hidden layers: dense layers - 1 (0..TTR_MAX_HIDDEN) */
    uint32_t hidden[TTR_MAX_HIDDEN]; /* their widths */
    uint32_t n_out;                  /* outputs of the last layer (1; dot: dot_dim) */
    int sigmoid_dropped;             /* 1: the graph ended in a Sigmoid, not imported */
    int64_t opset;                   /* the default domain's opset */
} ttr_onnx_tower;

/* Parse the ONNX file of `bytes` bytes at `data` and check that its graph is
 * a tower of the form above. scratch: TTR_ONNX_SCRATCH bytes, any
 * alignment.
 * Returns TTR_OK, or TTR_ERR_ARG (NULL pointers, bytes 0), TTR_ERR_NOMEM
 * (scratch short), TTR_ERR_FORMAT (not protobuf, not an ONNX model,
 * truncated or inconsistent: sizes that disagree, a value nothing defines),
 * TTR_ERR_UNSUPPORTED (an op, attribute, data type, opset or structure
 * outside the form above, or more nodes or values than the limits),
 * TTR_ERR_NONFINITE (a NaN or Inf weight, or one beyond 2^126).
 * Unless the error is TTR_ERR_ARG or TTR_ERR_NOMEM, *out is set even on
 * error (as sqlite3_open does) so that ttr_onnx_error() can say what is
 * wrong; such a ttr_onnx can only be asked for its error. */
TTR_API int ttr_onnx_open(ttr_onnx **out, const void *data, size_t bytes, void *scratch,
                          size_t scratch_bytes);

/* One line naming what is wrong, e.g. "node '/1/Tanh' (op Tanh): not
 * supported (a relevance tower is Gemm or MatMul+Add layers with Relu
 * between them)"; "" after a successful open; never NULL ("" for NULL). */
TTR_API const char *ttr_onnx_error(const ttr_onnx *o);

/* The tower's shape. TTR_ERR_ARG for NULLs, or the error open returned. */
TTR_API int ttr_onnx_tower_info(const ttr_onnx *o, ttr_onnx_tower *t);

/* ttr_config_default(cfg, variant, F) with the tower's hidden widths (and,
 * for dot, dot_dim = n_out). TTR_ERR_ARG, the error open returned, or
 * TTR_ERR_UNSUPPORTED when the last layer's outputs do not fit the variant
 * (n_out must be 1, or for dot 2..64). cfg is set only on success. */
TTR_API int ttr_onnx_config(const ttr_onnx *o, ttr_variant variant, ttr_config *cfg);

/* A train model in arena (ttr_arena_bytes(cfg, TTR_MODE_TRAIN) bytes),
 * initialised as ttr_model_init does, with the tower's weights in its
 * relevance tower (rel.L.w [out, in], rel.L.b [out]); the other towers and
 * the normalisation (identity: the ONNX tower reads raw features) keep
 * their initial values. cfg's n_features, n_hidden and hidden must be the
 * tower's (ttr_onnx_config gives them). Errors: TTR_ERR_ARG, the error
 * open returned, TTR_ERR_FORMAT (cfg does not match the tower), and
 * ttr_model_init's; on error *out is not set. */
TTR_API int ttr_onnx_load(ttr_model **out, const ttr_config *cfg, void *arena, size_t bytes,
                          const ttr_onnx *o);

#ifdef __cplusplus
}
#endif

#endif
