/* ttrank — models as safetensors files (the format of Hugging Face's
 * safetensors library; PyTorch loads them with safetensors.torch.load_file
 * into a state_dict), written and read without any dependency, through
 * the stream callbacks of ttr_stream.h.
 *
 * A train model's tensors go out under their .ttr names ("rel.0.w",
 * "rel.0.b", "bias0.row", ...; docs/interop.md has the table), F32,
 * dense weights [out, in] and biases 1-D [out] as nn.Linear holds them,
 * plus "norm.mean" and "norm.scale" [n_features], dot's "dot.bref" [D] and
 * XPA's "xpa.attn_mean" [P, P] and "xpa.attn_n" [P]. The configuration's
 * structure goes into __metadata__ as "ttrank.config" (e.g.
 * "variant=additive;n_features=46;hidden=32,16;rows=10;cols=1;..."), with
 * "ttrank.version". Optimizer state does not travel.
 *
 * Reading is bounded: the header (at most TTR_SAFETENSORS_MAX_HEADER bytes)
 * and its parsed entries live in the caller's scratch, nothing is
 * allocated, and the tensor data is read once, in order. A file may hold
 * only some of a model's tensors (e.g. a relevance tower trained in
 * PyTorch): the others keep ttr_model_init's values. */
#ifndef TTR_SAFETENSORS_H
#define TTR_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "ttr_stream.h"
#include "ttrank.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TTR_SAFETENSORS_MAX_HEADER ((size_t)1 << 16) /* 64 KiB of JSON */
#define TTR_SAFETENSORS_SCRATCH ((size_t)96 << 10)   /* bytes ttr_safetensors_open needs */

/* Write train model m (TTR_ERR_UNSUPPORTED for serving models).
 * TTR_ERR_ARG, TTR_ERR_IO. The model is not changed. */
TTR_API int ttr_safetensors_save(const ttr_model *m, ttr_write_fn write, void *ctx);

/* A stream whose header has been read and checked. */
typedef struct ttr_safetensors ttr_safetensors;

/* Read and check the header: its size, the JSON (objects, strings,
 * integers; every tensor with "dtype", "shape" of 1 or 2 dimensions and
 * "data_offsets" inside the data and not overlapping), into scratch
 * (TTR_SAFETENSORS_SCRATCH bytes, any alignment). Errors: TTR_ERR_ARG,
 * TTR_ERR_NOMEM (scratch short), TTR_ERR_FORMAT (malformed, truncated, a
 * header larger than TTR_SAFETENSORS_MAX_HEADER or than the stream),
 * TTR_ERR_UNSUPPORTED (a dtype other than F32, more than 256 tensors),
 * TTR_ERR_IO. *out is set only on success; the stream has then been read
 * up to the tensor data. */
TTR_API int ttr_safetensors_open(ttr_safetensors **out, ttr_read_fn read, void *ctx,
                                 void *scratch, size_t bytes);

/* The configuration from "ttrank.config": ttr_config_default for its
 * variant and n_features, with the structure fields it gives.
 * TTR_ERR_FORMAT when the file has none (a file from elsewhere: give the
 * configuration yourself) or it is malformed, TTR_ERR_RANGE when
 * ttr_config_check refuses it. */
TTR_API int ttr_safetensors_config(const ttr_safetensors *s, ttr_config *cfg);

/* Tensors in the file (in offset order): name (NUL-terminated, in the
 * scratch), shape (cols 1 for 1-D). */
TTR_API uint32_t ttr_safetensors_count(const ttr_safetensors *s);
TTR_API int ttr_safetensors_tensor(const ttr_safetensors *s, uint32_t i, const char **name,
                                   uint32_t *rows, uint32_t *cols);

/* A train model of cfg in arena (ttr_arena_bytes(cfg, TTR_MODE_TRAIN)),
 * initialised as ttr_model_init does, then every tensor of the file stored
 * into it. A tensor must be one of the model's, with its shape (a vector
 * may be 1-D or [n, 1]), each at most once. Errors: TTR_ERR_ARG,
 * TTR_ERR_NOMEM, TTR_ERR_FORMAT (a name the model does not have, naming
 * it through ttr_safetensors_error; a shape that differs; the stream ends
 * early), TTR_ERR_NONFINITE (NaN or Inf, a negative statistic), TTR_ERR_IO;
 * on error *out is not set and the arena's content is unspecified. */
TTR_API int ttr_safetensors_load(ttr_model **out, const ttr_config *cfg, void *arena,
                                 size_t bytes, ttr_safetensors *s);

/* What the last failed call on s was about: the tensor's name, or "" */
TTR_API const char *ttr_safetensors_error(const ttr_safetensors *s);

#ifdef __cplusplus
}
#endif
#endif
