/* ttrank — the byte-stream callbacks shared by every reader and writer of
 * the library (LETOR and click logs, model files), so that devices without
 * a file system can feed them from memory, flash or a socket. */
#ifndef TTR_STREAM_H
#define TTR_STREAM_H

#include <stddef.h>

#include "ttr_error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Input callback: store up to n bytes in buf and return how many. Fewer
 * than n is fine (the caller asks again); 0 means the end of the input;
 * TTR_READ_ERROR means an I/O error (reported as TTR_ERR_IO). */
typedef size_t (*ttr_read_fn)(void *ctx, void *buf, size_t n);
#define TTR_READ_ERROR ((size_t)-1)

/* Output callback: write all n bytes of data. Returns 0 on success, any
 * other value on failure (reported as TTR_ERR_IO). */
typedef int (*ttr_write_fn)(void *ctx, const void *data, size_t n);

/* stdio adapters, ctx being a FILE *: the read adapter returns
 * TTR_READ_ERROR when fread fails with ferror set; the write adapter
 * returns 0 when fwrite wrote everything. (stdio buffers are allocated by
 * libc, not by ttrank.) */
TTR_API size_t ttr_stdio_read(void *file, void *buf, size_t n);
TTR_API int ttr_stdio_write(void *file, const void *data, size_t n);

#ifdef __cplusplus
}
#endif
#endif
