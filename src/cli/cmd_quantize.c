/* ttrank quantize: a trained (or serving f32) model -> an int8 serving model. */
#include <stdio.h>
#include <stdlib.h>

#include "cmd_commands.h"
#include "cmd_model.h"
#include "cmd_util.h"

static void quantize_usage(FILE *f)
{
    fputs("Usage: ttrank quantize --model MODEL --out MODEL8\n"
          "\n"
          "Quantize a model's relevance tower to int8 (per-output-channel weight scales,\n"
          "activations quantized per vector at run time, f32 scores) and save it as a\n"
          "serving model that never holds the float weights. Score it with rank/eval.\n"
          "\n"
          "Options:\n"
          "  --model FILE       trained or serving f32 model (.ttr)\n"
          "  --out FILE         int8 model to write (atomically)\n"
          "  --help             this text\n",
          f);
}

int ttr_cmd_quantize(int argc, char **argv)
{
    const char *C = "quantize";
    cli_flag fl[] = {{"--model", 1, 0, 0}, {"--out", 1, 0, 0}};
    const size_t nf = sizeof fl / sizeof fl[0];
    size_t npos = 0;
    int rc = cli_parse(C, argc, argv, fl, nf, NULL, 0, &npos);
    if (rc == 1) {
        quantize_usage(stdout);
        return 0;
    }
    if (rc)
        return 2;
    if (cli_need(C, fl, nf, "--model") || cli_need(C, fl, nf, "--out"))
        return 2;
    const char *path = cli_str(fl, nf, "--model", NULL), *out = cli_str(fl, nf, "--out", NULL);
    ttr_model *m, *q;
    void *arena;
    if (cli_model_load(C, path, &m, &arena))
        return 1;
    int ret = 0;
    size_t bytes = ttr_arena_bytes(ttr_model_config(m), TTR_MODE_SERVE_S8);
    void *arena8 = bytes ? malloc(bytes) : NULL;
    int err = arena8 ? ttr_model_quantize(m, &q, arena8, bytes) : TTR_ERR_NOMEM;
    if (err)
        ret = cli_err(C, "%s: %s", path, ttr_strerror(err));
    else if (cli_model_save(C, q, out, 0))
        ret = 1;
    free(arena8);
    free(arena);
    return ret;
}
