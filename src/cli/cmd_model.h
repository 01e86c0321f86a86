/* Model files for the ttrank commands (wraps ttr_io.h, so that the command
 * files need not include it next to ttr_data.h). */
#ifndef TTR_CLI_CMD_MODEL_H
#define TTR_CLI_CMD_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "ttrank.h"

/* Load a .ttr file of any mode into a malloc'd arena (*arena, free it after
 * use). Prints `ttrank CMD: PATH: reason` and returns 1 on failure. */
int cli_model_load(const char *cmd, const char *path, ttr_model **m, void **arena);
/* Atomic save (ttr_model_save_file). Prints and returns 1 on failure. */
int cli_model_save(const char *cmd, const ttr_model *m, const char *path, int with_optimizer);

/* The model as its file's bytes in memory, for keeping the best model while
 * training goes on: *buf is malloc'd on first use (*buf NULL) and reused
 * after (a model's file size does not change while it trains). Returns 0 or
 * a ttr error (TTR_ERR_NOMEM when malloc fails). */
int cli_model_snapshot(const ttr_model *m, int with_optimizer, unsigned char **buf, size_t *size);
/* Load such a snapshot into arena (bytes long). Returns 0 or a ttr error. */
int cli_model_restore(const unsigned char *buf, size_t size, ttr_model **m, void *arena,
                      size_t bytes);

/* Tensor records of a model, as its file would hold them (without optimizer
 * state): calls fn for each (name, rows, cols, dtype). Returns 0 or a ttr
 * error. Also gives the file size in *file_bytes (may be NULL). */
typedef void (*cli_tensor_fn)(void *ctx, const char *name, uint32_t rows, uint32_t cols,
                              uint32_t dtype);
int cli_model_tensors(const ttr_model *m, cli_tensor_fn fn, void *ctx, size_t *file_bytes);

#endif
