/* ttrank — the .ttr model file: saving and loading models and training
 * checkpoints, through caller callbacks or POSIX files.
 *
 * Memory: nothing here allocates. Saving and loading stream through the
 * callbacks with a fixed stack buffer (about 1.5 KiB); a loaded model lives
 * in the caller's arena exactly like one built by ttr_model_init().
 *
 * The file is little-endian on every target, whatever the host; every
 * field is written byte by byte (docs/formats.md has the same table):
 *
 *   offset size  field
 *   0      4     magic "TTRK"
 *   4      4     u32 format version (1..4: the lowest that holds the model)
 *   8      4     u32 mode: 0 train, 1 serve f32, 2 serve int8
 *   12     4     u32 flags: bit 0 = optimizer state present (train mode
 *                only); bit 1 = the normalisation is folded into rel.0's
 *                weights and bias (serve-f32 copies: norm.* are then kept
 *                for information only; int8 files: norm.* are then absent;
 *                version-1 int8 files always have it, version-2 int8 files
 *                never: they keep norm.* and quantize normalised features);
 *                every other bit must be 0
 *   16     120   ttr_config, field by field in declaration order: variant,
 *                n_features, n_hidden, hidden[0..3], rows, cols, n_contexts,
 *                embed_dim, bias_hidden, dot_dim, components, attn_dim,
 *                max_items, max_batch, loss, optimizer (u32 each); lr, beta1,
 *                beta2, adam_eps, momentum, l2, clip_norm, slot_dropout
 *                (f32 each, IEEE-754 bits); dot_serving (u32); seed (u64)
 *   136    24    (train files of version 3 and later) u32 lr_schedule;
 *                f32 weight_decay; u64 warmup_steps; u64 decay_steps
 *   next   64    (version 4) u32 TTR_VERSION_NUMBER of the writer; u32 tag
 *                length (0..TTR_TAG_MAX); u64 impressions; 48 bytes of tag,
 *                printable ASCII, then zeros
 *   S      8     u64 optimizer steps taken (S = 136, + 24, + 64 as above)
 *   S+8    8     u64 state of the slot-dropout generator
 *   S+16   8     f64 dot: items in the running mean of b (b_ref count)
 *   S+24   4     u32 number of tensor records that follow
 *   S+28   ...   tensor records, any order, each:
 *                  u32 name length (1..32), the name (no terminator),
 *                  u32 dtype (0 = f32; 1 = int8 with one f32 scale per row:
 *                  the hidden layers' "rel.L.w" of int8 files, and only
 *                  those), u32 rows, u32 cols,
 *                  u32 optimizer arrays that follow the values (0, 1 SGD
 *                  velocity, 2 Adam moments), then the values: rows*cols f32
 *                  row-major (dtype 1: rows*cols int8 row-major, each in
 *                  [-127, 127], then rows f32 scales >= 0; W ~ q * scale),
 *                  then each optimizer array (rows*cols f32).
 *   end-4  4     u32 CRC-32 (IEEE 802.3, reflected 0xEDB88320, init and
 *                final xor 0xFFFFFFFF) of every byte before it.
 *
 * Records: every parameter tensor of the model under its name ("rel.0.w",
 * "bias0.row", "xpa.wq", ... as the model names them), plus "norm.mean" and
 * "norm.scale" (1 x n_features), for dot "dot.bref" (1 x D, the running mean
 * of b), for XPA train models "xpa.attn_mean" (P x P) and "xpa.attn_n"
 * (1 x P). Serving models hold the relevance tower only; its weights are
 * stored unpacked (row-major, out x in) and repacked on load, so the file
 * does not depend on the kernels' panel layout. Int8 serving files (mode 2)
 * hold the same records as serve f32 files (version 1, folded: without
 * norm.*), with the hidden layers' weights as dtype 1 and the last layer's
 * as f32; they load into
 * ttr_arena_bytes(cfg, TTR_MODE_SERVE_S8) bytes, straight into the packed
 * int8 layout, so a device never holds the float model. Exactly the records
 * the configuration and mode imply must be present, each once.
 *
 * A checkpoint (train mode, with_optimizer_state = 1) holds everything that
 * training depends on: weights, optimizer state, step counter, generator
 * state, normalisation and running statistics. Training resumed from it
 * continues bit for bit as if it had not stopped (same ISA path). A train
 * model saved without optimizer state loads with zeroed optimizer state,
 * step 0 and the generator state of a fresh model from its seed.
 *
 * Errors: TTR_ERR_ARG (NULL pointer, bad mode), TTR_ERR_IO (a callback or
 * system call failed), TTR_ERR_FORMAT (wrong magic, unknown mode, flag or
 * dtype, a dtype its record may not have, an unknown, duplicate or missing
 * tensor, a truncated file, a bad CRC, trailing bytes after a file's CRC),
 * TTR_ERR_RANGE (a configuration out of range, a length or shape that
 * disagrees with the configuration, an int8 weight of -128: the last
 * reported only once the CRC has matched), TTR_ERR_UNSUPPORTED (a newer
 * format version), TTR_ERR_NOMEM (the arena is shorter than ttr_arena_bytes
 * of the file's configuration and mode), TTR_ERR_NONFINITE (NaN/Inf in a
 * value, a negative count, scale or Adam second moment; reported only once
 * the CRC has matched, so a corrupted file reads as TTR_ERR_FORMAT). */
#ifndef TTR_IO_H
#define TTR_IO_H

#include <stddef.h>
#include <stdint.h>

#include "ttr_stream.h"
#include "ttrank.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The newest file version this library reads and writes. Version 2 adds
 * int8 models that keep their normalisation (quantizing normalised
 * features); version 3 train models with a learning-rate schedule or
 * decoupled weight decay (the 24-byte block at offset 136); version 4 the
 * metadata block (the writer's library version, impressions, the tag) of
 * models that have learned from impressions or carry a tag. A file is
 * written in the lowest version that holds it, so untrained models stay
 * readable by older loaders. docs/formats.md has the layout. */
#define TTR_FILE_VERSION 4u

/* What a .ttr file says about itself (ttr_model_check_info). */
typedef struct ttr_file_info {
    uint32_t format_version;   /* 1..TTR_FILE_VERSION */
    uint32_t library_version;  /* TTR_VERSION_NUMBER of the library that wrote it; 0 before
                                  format version 4 (those files do not say) */
    ttr_mode mode;
    int has_optimizer_state;   /* a checkpoint: training resumes bit for bit */
    uint64_t steps;            /* ttr_model_steps of the saved model (its optimizer's) */
    uint64_t impressions;      /* ttr_model_impressions of the saved model */
    char tag[TTR_TAG_MAX + 1]; /* ttr_model_tag, "" when none */
} ttr_file_info;

/* Streams go through the callbacks of ttr_stream.h (ttr_read_fn,
 * ttr_write_fn); the loader asks for at most a few KiB per call. */

/* CRC-32 (IEEE) of n bytes, continuing from crc (start with 0):
 * ttr_crc32(0, "123456789", 9) == 0xCBF43926. */
TTR_API uint32_t ttr_crc32(uint32_t crc, const void *data, size_t n);

/* Write model m (any mode) as a .ttr stream. with_optimizer_state
 * (train mode only; ignored for serving models) adds the optimizer state,
 * making a checkpoint. The model is not changed. Errors: TTR_ERR_ARG,
 * TTR_ERR_IO. */
TTR_API int ttr_model_save(const ttr_model *m, int with_optimizer_state, ttr_write_fn write,
                           void *ctx);

/* Read the header and configuration (the first 136 bytes and the blocks
 * the version adds) and check them. Cheap, but it does not look at the rest: a damaged or
 * hostile file whose header claims a huge configuration passes. Before
 * sizing an arena from a file you did not write, use ttr_model_check. The
 * stream is consumed: reopen or rewind it for ttr_model_load(). Either
 * output may be NULL. */
TTR_API int ttr_model_load_config(ttr_read_fn read, void *ctx, ttr_config *cfg, ttr_mode *mode);

/* Check a whole .ttr stream without an arena (a few KB of stack, no
 * allocation): the header, the record count, every record's name length,
 * dtype, shape and optimizer-state count, that the records hold exactly as
 * many values as the header's configuration needs, and the CRC. Only then
 * are *cfg and *mode set, so that ttr_arena_bytes(cfg, mode) is asked for
 * a model whose values really are in the stream: a small file claiming the
 * largest configuration is refused after reading it, not after allocating
 * for it. Errors as ttr_model_load (TTR_ERR_FORMAT, TTR_ERR_RANGE,
 * TTR_ERR_UNSUPPORTED, TTR_ERR_IO). A stream that passes may still fail
 * ttr_model_load on what needs the model to see (a record's name, a
 * non-finite value, an int8 weight of -128). The stream is consumed. */
TTR_API int ttr_model_check(ttr_read_fn read, void *ctx, ttr_config *cfg, ttr_mode *mode);

/* ttr_model_check that also fills *info (either output may be NULL; both
 * are set only when the whole stream passes). */
TTR_API int ttr_model_check_info(ttr_read_fn read, void *ctx, ttr_config *cfg,
                                 ttr_file_info *info);

/* Load a whole .ttr stream into `arena` (`bytes` long, any alignment):
 * a model of the file's configuration and mode, ready to score (and, for
 * train files, to train). Reads exactly the model's bytes, so a model may be
 * followed by other data in a stream. Every length, count, dtype and shape
 * is checked against the configuration before anything is stored; the CRC
 * is checked at the end. On error *out is not set and the arena's content
 * is unspecified. */
TTR_API int ttr_model_load(ttr_model **out, void *arena, size_t bytes, ttr_read_fn read,
                           void *ctx);

/* Memory streams for the callbacks above. A reader serves data[pos..size).
 * A writer appends at data[size]; with data == NULL it only counts bytes
 * (a size query: save, then read .size); with data it fails once cap would
 * be exceeded. Initialise with {buf, len, 0} / {buf, cap, 0}. */
typedef struct ttr_mem_reader {
    const void *data;
    size_t size, pos;
} ttr_mem_reader;
typedef struct ttr_mem_writer {
    void *data;
    size_t cap, size;
} ttr_mem_writer;
TTR_API size_t ttr_mem_read(void *reader, void *buf, size_t n);
TTR_API int ttr_mem_write(void *writer, const void *data, size_t n);

/* Files (POSIX). ttr_model_save_file writes `path`.tmp, fsyncs it, renames
 * it over `path` and fsyncs the directory: a crash or failure at any point
 * leaves the previous `path` intact (a failed save removes the .tmp; a
 * killed one may leave it behind, and the next save replaces it). Two
 * concurrent saves to the same path are not supported. path must be shorter
 * than 4092 bytes (else TTR_ERR_ARG). */
TTR_API int ttr_model_save_file(const ttr_model *m, const char *path, int with_optimizer_state);

/* On a file: load_file_config is ttr_model_check (the whole file, not only
 * the header) and also rejects bytes after the CRC (TTR_ERR_FORMAT), so an
 * arena sized from its result is never sized from a damaged file.
 * load_file checks the whole file the same way before it writes the arena
 * (the file is read twice), then loads it. */
TTR_API int ttr_model_load_file_config(const char *path, ttr_config *cfg, ttr_mode *mode);
/* The same with what the file says about itself (ttr_model_check_info). */
TTR_API int ttr_model_file_info(const char *path, ttr_config *cfg, ttr_file_info *info);
TTR_API int ttr_model_load_file(ttr_model **out, void *arena, size_t bytes, const char *path);

#ifdef __cplusplus
}
#endif
#endif
