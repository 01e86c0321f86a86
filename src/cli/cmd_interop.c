/* `ttrank export` and `ttrank import`: models to and from safetensors
 * files (include/ttr_safetensors.h), e.g. a relevance tower trained in
 * PyTorch in, what a device learned out. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_commands.h"
#include "cmd_model.h"
#include "cmd_util.h"
#include "ttr_safetensors.h"

static int write_file(void *ctx, const void *data, size_t n)
{
    return fwrite(data, 1, n, ctx) == n ? 0 : -1;
}

int ttr_cmd_export(int argc, char **argv)
{
    enum { EX_MODEL, EX_OUT, EX_COUNT };
    cli_flag fl[EX_COUNT] = {[EX_MODEL] = {"--model", 1, 0, 0}, [EX_OUT] = {"--out", 1, 0, 0}};
    int rc = cli_parse("export", argc, argv, fl, EX_COUNT, NULL, 0, NULL);
    if (rc == 1) {
        printf("Usage: ttrank export --model M.ttr --out F.safetensors\n"
               "\nA trained model's tensors (F32, PyTorch's nn.Linear layout), normalisation and\n"
               "statistics as safetensors, its configuration in __metadata__ (docs/interop.md).\n");
        return 0;
    }
    if (rc || cli_need("export", &fl[EX_MODEL]) || cli_need("export", &fl[EX_OUT]))
        return 2;
    const char *path = cli_str(&fl[EX_OUT], NULL);
    ttr_model *m;
    void *arena;
    if (cli_model_load("export", cli_str(&fl[EX_MODEL], NULL), &m, &arena))
        return 1;
    if (ttr_model_mode(m) != TTR_MODE_TRAIN) {
        free(arena);
        return cli_err("export", "%s is a serving model: export the trained model",
                       cli_str(&fl[EX_MODEL], NULL));
    }
    FILE *f = fopen(path, "wb");
    int err = f ? ttr_safetensors_save(m, write_file, f) : TTR_ERR_IO;
    if (f && fclose(f) && !err)
        err = TTR_ERR_IO;
    free(arena);
    if (err) {
        if (f)
            remove(path);
        return cli_err("export", "%s: %s", path, f ? ttr_strerror(err) : strerror(errno));
    }
    printf("export: %s\n", path);
    return 0;
}

/* The configuration of a file without ttrank.config: the variant and
 * layout from the flags, n_features and the hidden widths from the shapes
 * of rel.*.w. */
static int infer_config(const ttr_safetensors *s, cli_flag *model, cli_flag *grid,
                        ttr_config *c)
{
    ttr_variant v = TTR_ADDITIVE;
    uint32_t rows = 10, cols = 1, F = 0, widths[TTR_MAX_HIDDEN + 1], n = 0;
    if (model->seen && cli_variant_parse(model->val, &v))
        return cli_err("import", "--model: unknown variant '%s'", model->val) + 1;
    if (grid->seen && cli_grid("import", grid->val, &rows, &cols))
        return 2;
    for (uint32_t l = 0; l <= TTR_MAX_HIDDEN; l++) {
        char want[16];
        snprintf(want, sizeof want, "rel.%u.w", (unsigned)l);
        for (uint32_t i = 0; i < ttr_safetensors_count(s); i++) {
            const char *name;
            uint32_t r, k;
            (void)ttr_safetensors_tensor(s, i, &name, &r, &k);
            if (strcmp(name, want))
                continue;
            if (l == 0)
                F = k;
            widths[n++] = r;
        }
        if (n != l + 1)
            break;
    }
    if (!F || !n)
        return cli_err("import", "the file has no ttrank configuration and no rel.0.w to take "
                                 "the feature count from");
    ttr_config_default(c, v, F);
    c->n_hidden = n - 1;
    memset(c->hidden, 0, sizeof c->hidden);
    for (uint32_t i = 0; i + 1 < n; i++)
        c->hidden[i] = widths[i];
    c->rows = rows, c->cols = cols, c->max_items = rows * cols;
    const char *bad;
    if (ttr_config_check(c, &bad))
        return cli_err("import", "the configuration taken from the file: %s", bad);
    return 0;
}

int ttr_cmd_import(int argc, char **argv)
{
    enum { IM_ST, IM_ONNX, IM_OUT, IM_MODEL, IM_GRID, IM_COUNT };
    cli_flag fl[IM_COUNT] = {[IM_ST] = {"--safetensors", 1, 0, 0}, [IM_ONNX] = {"--onnx", 1, 0, 0},
                             [IM_OUT] = {"--out", 1, 0, 0}, [IM_MODEL] = {"--model", 1, 0, 0},
                             [IM_GRID] = {"--grid", 1, 0, 0}};
    int rc = cli_parse("import", argc, argv, fl, IM_COUNT, NULL, 0, NULL);
    if (rc == 1) {
        printf("Usage: ttrank import --safetensors F.safetensors --out M.ttr [--model VARIANT] "
               "[--grid RxC]\n"
               "       ttrank import --onnx F.onnx --out M.ttr [--model VARIANT] [--grid RxC]\n"
               "\nA model from safetensors: the configuration from its __metadata__ (files from\n"
               "ttrank export), or, for a file from elsewhere, the variant and layout from the\n"
               "flags (additive, 10x1) and the sizes from the shapes of rel.*.w. From ONNX: the\n"
               "relevance tower of an MLP exported by PyTorch (Gemm or MatMul+Add, Relu, opsets\n"
               "9-17), the feature count and widths from its weights. Tensors the file does not\n"
               "hold start as ttrank train's would (docs/interop.md).\n");
        return 0;
    }
    if (!rc && fl[IM_ST].seen == fl[IM_ONNX].seen)
        rc = cli_err("import", "give one of --safetensors F and --onnx F") + 1;
    if (rc || cli_need("import", &fl[IM_OUT]))
        return 2;
    if (fl[IM_ONNX].seen)
        return ttr_cmd_import_onnx(fl[IM_ONNX].val, cli_str(&fl[IM_OUT], NULL),
                                   fl[IM_MODEL].seen ? fl[IM_MODEL].val : NULL,
                                   fl[IM_GRID].seen ? fl[IM_GRID].val : NULL);
    const char *path = cli_str(&fl[IM_ST], NULL);
    FILE *f = fopen(path, "rb");
    if (!f)
        return cli_err("import", "%s: %s", path, strerror(errno));
    void *scratch = malloc(TTR_SAFETENSORS_SCRATCH), *arena = NULL;
    ttr_safetensors *s = NULL;
    ttr_config c;
    ttr_model *m;
    int err = scratch ? ttr_safetensors_open(&s, ttr_stdio_read, f, scratch,
                                             TTR_SAFETENSORS_SCRATCH)
                      : TTR_ERR_NOMEM;
    if (err)
        rc = cli_err("import", "%s: %s", path,
                     err == TTR_ERR_UNSUPPORTED ? "not supported: a tensor of another dtype than "
                                                  "F32, or more than 256 tensors"
                     : err == TTR_ERR_FORMAT ? "malformed or truncated (its header, or data "
                                               "that the header claims and the file lacks)"
                                             : ttr_strerror(err));
    int has = !rc && ttr_safetensors_config(s, &c) == TTR_OK;
    if (!rc && has && (fl[IM_MODEL].seen || fl[IM_GRID].seen))
        rc = cli_err("import", "%s holds its configuration: --model and --grid are for files "
                               "from elsewhere", path);
    if (!rc && !has)
        rc = infer_config(s, &fl[IM_MODEL], &fl[IM_GRID], &c);
    size_t bytes = rc ? 0 : ttr_arena_bytes(&c, TTR_MODE_TRAIN);
    if (!rc && !(arena = malloc(bytes)))
        rc = cli_err("import", "out of memory");
    if (!rc && (err = ttr_safetensors_load(&m, &c, arena, bytes, s)) != 0)
        rc = cli_err("import", "%s: %s%s%s", path, ttr_strerror(err),
                     *ttr_safetensors_error(s) ? ": tensor " : "", ttr_safetensors_error(s));
    if (!rc)
        rc = cli_model_save("import", m, cli_str(&fl[IM_OUT], NULL), 0);
    if (!rc)
        printf("import: %u tensors from %s -> %s (%s)\n", (unsigned)ttr_safetensors_count(s),
               path, cli_str(&fl[IM_OUT], NULL), cli_variant_name(c.variant));
    fclose(f);
    free(scratch), free(arena);
    return rc;
}
