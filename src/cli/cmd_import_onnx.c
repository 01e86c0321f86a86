/* `ttrank import --onnx F.onnx --out M.ttr [--model VARIANT] [--grid RxC]`:
 * a relevance tower from ONNX (include/ttr_onnx.h) in a fresh model whose
 * other towers start as ttrank train's would. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_commands.h"
#include "cmd_model.h"
#include "cmd_util.h"
#include "ttr_onnx.h"

#define ONNX_MAX_FILE ((long)512 << 20)

/* The whole file in a malloc'd buffer (the parser reads it in place). */
static int read_whole(const char *path, unsigned char **buf, size_t *n)
{
    FILE *f = fopen(path, "rb");
    long size = -1;
    if (!f)
        return cli_err("import", "%s: %s", path, strerror(errno));
    if (fseek(f, 0, SEEK_END) == 0)
        size = ftell(f);
    if (size < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return cli_err("import", "%s: not a regular file", path);
    }
    if (size == 0 || size > ONNX_MAX_FILE) {
        fclose(f);
        return cli_err("import", "%s: %s", path, size ? "larger than 512 MiB" : "empty");
    }
    *buf = malloc((size_t)size);
    int ok = *buf && fread(*buf, 1, (size_t)size, f) == (size_t)size;
    fclose(f);
    if (!ok) {
        free(*buf);
        return cli_err("import", "%s: %s", path, *buf ? "read failed" : "out of memory");
    }
    *n = (size_t)size;
    return 0;
}

static void print_tower(const char *path, const char *out, const ttr_onnx_tower *t,
                        ttr_variant v)
{
    printf("import: tower %u", (unsigned)t->n_features);
    for (uint32_t l = 0; l < t->n_hidden; l++)
        printf(" -> %u", (unsigned)t->hidden[l]);
    printf(" -> %u from %s (opset %lld) -> %s (%s)\n", (unsigned)t->n_out, path,
           (long long)t->opset, out, cli_variant_name(v));
    if (t->sigmoid_dropped)
        printf("import: the final Sigmoid was dropped: the model scores logits, which rank "
               "the same\n");
}

/* The configuration for the tower: the variant and layout from the flags. */
static int tower_config(const ttr_onnx *o, const char *variant, const char *grid, ttr_config *c)
{
    ttr_variant v = TTR_ADDITIVE;
    uint32_t rows = 10, cols = 1;
    ttr_onnx_tower t;
    if (variant && cli_variant_parse(variant, &v))
        return cli_err("import", "--model: unknown variant '%s'", variant);
    if (grid && cli_grid("import", grid, &rows, &cols))
        return 1;
    (void)ttr_onnx_tower_info(o, &t);
    if (ttr_onnx_config(o, v, c) != TTR_OK)
        return cli_err("import", "the tower's last layer has %u outputs: the relevance tower "
                                 "of --model %s has %s", (unsigned)t.n_out, cli_variant_name(v),
                       v == TTR_DOT ? "2 to 64 (dot_dim)" : "one output");
    c->rows = rows, c->cols = cols, c->max_items = rows * cols;
    const char *bad;
    if (ttr_config_check(c, &bad))
        return cli_err("import", "the configuration for the tower: %s", bad);
    return 0;
}

int ttr_cmd_import_onnx(const char *path, const char *out, const char *variant, const char *grid)
{
    unsigned char *file = NULL;
    size_t n = 0;
    if (read_whole(path, &file, &n))
        return 1;
    void *scratch = malloc(TTR_ONNX_SCRATCH), *arena = NULL;
    ttr_onnx *o = NULL;
    ttr_onnx_tower t;
    ttr_config c;
    ttr_model *m;
    int rc = 0, err = scratch ? ttr_onnx_open(&o, file, n, scratch, TTR_ONNX_SCRATCH)
                              : TTR_ERR_NOMEM;
    if (err)
        rc = cli_err("import", "%s: %s", path, o ? ttr_onnx_error(o) : ttr_strerror(err));
    if (!rc)
        rc = tower_config(o, variant, grid, &c);
    size_t bytes = rc ? 0 : ttr_arena_bytes(&c, TTR_MODE_TRAIN);
    if (!rc && !(arena = malloc(bytes)))
        rc = cli_err("import", "out of memory");
    if (!rc && (err = ttr_onnx_load(&m, &c, arena, bytes, o)) != 0)
        rc = cli_err("import", "%s: %s", path, ttr_strerror(err));
    if (!rc)
        rc = cli_model_save("import", m, out, 0);
    if (!rc && ttr_onnx_tower_info(o, &t) == TTR_OK)
        print_tower(path, out, &t, c.variant);
    free(arena), free(scratch), free(file);
    return rc;
}
