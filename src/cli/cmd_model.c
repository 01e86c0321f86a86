/* Model files for the ttrank commands (see cmd_model.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cmd_model.h"
#include "ttr_io.h"

static const char *mode_name(ttr_mode m)
{
    return m == TTR_MODE_TRAIN ? "train" : m == TTR_MODE_SERVE_F32 ? "serve-f32" : "serve-int8";
}

int cli_model_load(const char *cmd, const char *path, ttr_model **m, void **arena)
{
    ttr_config cfg;
    ttr_mode mode;
    *arena = NULL;
    int err = ttr_model_load_file_config(path, &cfg, &mode);
    if (!err) {
        size_t bytes = ttr_arena_bytes(&cfg, mode);
        void *a = bytes ? malloc(bytes) : NULL;
        if (!a) {
            fprintf(stderr, "ttrank %s: %s: cannot allocate %zu bytes for a %s model\n", cmd, path,
                    bytes, mode_name(mode));
            return 1;
        }
        err = ttr_model_load_file(m, a, bytes, path);
        if (!err) {
            *arena = a;
            return 0;
        }
        free(a);
    }
    if (err == TTR_ERR_IO && errno)
        fprintf(stderr, "ttrank %s: %s: %s\n", cmd, path, strerror(errno));
    else
        fprintf(stderr, "ttrank %s: %s: not a loadable model file (%s)\n", cmd, path,
                ttr_strerror(err));
    return 1;
}

int cli_model_save(const char *cmd, const ttr_model *m, const char *path, int with_optimizer)
{
    errno = 0;
    int err = ttr_model_save_file(m, path, with_optimizer);
    if (!err)
        return 0;
    if (err == TTR_ERR_IO && errno) {
        /* the library writes PATH.tmp, then renames it over PATH: unless
         * PATH itself is in the way (a directory), the file that failed is
         * the temporary one */
        int e = errno;
        struct stat sb;
        int path_in_way = stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
        fprintf(stderr, "ttrank %s: %s%s: %s\n", cmd, path, path_in_way ? "" : ".tmp",
                strerror(e));
    } else
        fprintf(stderr, "ttrank %s: %s: cannot save the model (%s)\n", cmd, path,
                ttr_strerror(err));
    return 1;
}

int cli_model_snapshot(const ttr_model *m, int with_optimizer, unsigned char **buf, size_t *size)
{
    if (!*buf) {
        ttr_mem_writer cnt = {NULL, 0, 0};
        int err = ttr_model_save(m, with_optimizer, ttr_mem_write, &cnt);
        if (err)
            return err;
        *buf = malloc(cnt.size);
        if (!*buf)
            return TTR_ERR_NOMEM;
        *size = cnt.size;
    }
    ttr_mem_writer w = {*buf, *size, 0};
    return ttr_model_save(m, with_optimizer, ttr_mem_write, &w);
}

int cli_model_restore(const unsigned char *buf, size_t size, ttr_model **m, void *arena,
                      size_t bytes)
{
    ttr_mem_reader r = {buf, size, 0};
    return ttr_model_load(m, arena, bytes, ttr_mem_read, &r);
}

static uint32_t rd32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int cli_model_tensors(const ttr_model *m, cli_tensor_fn fn, void *ctx, size_t *file_bytes)
{
    ttr_mem_writer cnt = {NULL, 0, 0};
    int err = ttr_model_save(m, 0, ttr_mem_write, &cnt);
    if (err)
        return err;
    unsigned char *buf = malloc(cnt.size ? cnt.size : 1);
    if (!buf)
        return TTR_ERR_NOMEM;
    ttr_mem_writer w = {buf, cnt.size, 0};
    err = ttr_model_save(m, 0, ttr_mem_write, &w);
    if (file_bytes)
        *file_bytes = w.size;
    /* the records start after the header, the blocks its version adds and
     * the state block (docs/formats.md): 136 bytes, + 24 for the schedule
     * of version-3+ train models, + 64 for the metadata of version 4, + 28 */
    uint32_t version = w.size >= 16 ? rd32(buf + 4) : 0;
    int train = w.size >= 16 && rd32(buf + 8) == TTR_MODE_TRAIN;
    size_t pos = 136 + (version >= 3 && train ? 24 : 0) + (version >= 4 ? 64 : 0) + 28;
    size_t end = w.size >= 4 ? w.size - 4 : 0;
    uint32_t n = w.size >= pos ? rd32(buf + pos - 4) : 0;
    for (uint32_t t = 0; !err && t < n; t++) {
        if (pos + 4 > end) {
            err = TTR_ERR_FORMAT;
            break;
        }
        uint32_t len = rd32(buf + pos);
        if (len > 32 || pos + 4 + len + 16 > end) {
            err = TTR_ERR_FORMAT;
            break;
        }
        char name[33];
        memcpy(name, buf + pos + 4, len);
        name[len] = 0;
        const unsigned char *h = buf + pos + 4 + len;
        uint32_t dtype = rd32(h), rows = rd32(h + 4), cols = rd32(h + 8), nopt = rd32(h + 12);
        size_t vals = (size_t)rows * cols;
        size_t body = dtype == 1 ? vals + 4 * (size_t)rows : 4 * vals;
        body += 4 * vals * nopt;
        pos += 4 + len + 16 + body;
        if (pos > end) {
            err = TTR_ERR_FORMAT;
            break;
        }
        fn(ctx, name, rows, cols, dtype);
    }
    free(buf);
    return err;
}
