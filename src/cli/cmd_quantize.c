/* ttrank quantize: a trained (or serving f32) model -> an int8 serving model;
 * ttrank serving: a trained model -> its f32 serving copy. */
#include <stdio.h>
#include <stdlib.h>

#include "cmd_commands.h"
#include "cmd_model.h"
#include "cmd_util.h"

static void quantize_usage(FILE *f)
{
    fputs("Usage: ttrank quantize --model MODEL --out MODEL8 [--fold]\n"
          "\n"
          "Quantize a model's relevance tower to int8 (per-output-channel weight scales,\n"
          "activations quantized per vector at run time, f32 scores) and save it as a\n"
          "serving model that never holds the float weights. Score it with rank/eval.\n"
          "From a trained model the int8 model keeps the feature normalisation and\n"
          "quantizes normalised features; from a serving f32 model (or with --fold) the\n"
          "normalisation is folded into the first layer, which is faster but quantizes\n"
          "raw features: use it only when the features have comparable ranges.\n"
          "\n"
          "Options:\n"
          "  --model FILE       trained or serving f32 model (.ttr)\n"
          "  --out FILE         int8 model to write (atomically)\n"
          "  --fold             fold the normalisation into the first layer\n"
          "  --help             this text\n",
          f);
}

int ttr_cmd_quantize(int argc, char **argv)
{
    const char *C = "quantize";
    cli_flag fl[] = {{"--model", 1, 0, 0}, {"--out", 1, 0, 0}, {"--fold", 0, 0, 0}};
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
    if (ttr_model_mode(m) == TTR_MODE_SERVE_S8) {
        free(arena);
        return cli_err(C, "%s is already an int8 model: quantize the train model or the f32 "
                          "serving copy it came from", path);
    }
    int ret = 0, err = 0;
    void *arena32 = NULL;
    if (cli_find(fl, nf, "--fold")->seen && ttr_model_mode(m) == TTR_MODE_TRAIN) {
        /* through a serving copy, whose normalisation is folded */
        size_t b32 = ttr_arena_bytes(ttr_model_config(m), TTR_MODE_SERVE_F32);
        ttr_model *f;
        arena32 = b32 ? malloc(b32) : NULL;
        err = arena32 ? ttr_model_to_serving(m, &f, arena32, b32) : TTR_ERR_NOMEM;
        if (!err)
            m = f;
    }
    size_t bytes = ttr_arena_bytes(ttr_model_config(m), TTR_MODE_SERVE_S8);
    void *arena8 = bytes ? malloc(bytes) : NULL;
    if (!err)
        err = arena8 ? ttr_model_quantize(m, &q, arena8, bytes) : TTR_ERR_NOMEM;
    if (err)
        ret = cli_err(C, "%s: %s", path, ttr_strerror(err));
    else if (cli_model_save(C, q, out, 0))
        ret = 1;
    free(arena8);
    free(arena32);
    free(arena);
    return ret;
}

static void serving_usage(FILE *f)
{
    fputs("Usage: ttrank serving --model MODEL --out SERVE\n"
          "\n"
          "Write the f32 serving copy of a trained model: the relevance tower alone, with\n"
          "the feature normalisation folded into its first layer (and, for dot, b_ref),\n"
          "without the bias side or optimizer state. It scores as the trained model does\n"
          "(within float rounding) and is what a device ships; `quantize` makes the int8\n"
          "one.\n"
          "\n"
          "Options:\n"
          "  --model FILE       trained model (.ttr)\n"
          "  --out FILE         serving model to write (atomically)\n"
          "  --help             this text\n",
          f);
}

int ttr_cmd_serving(int argc, char **argv)
{
    const char *C = "serving";
    cli_flag fl[] = {{"--model", 1, 0, 0}, {"--out", 1, 0, 0}};
    const size_t nf = sizeof fl / sizeof fl[0];
    size_t npos = 0;
    int rc = cli_parse(C, argc, argv, fl, nf, NULL, 0, &npos);
    if (rc == 1) {
        serving_usage(stdout);
        return 0;
    }
    if (rc || cli_need(C, fl, nf, "--model") || cli_need(C, fl, nf, "--out"))
        return 2;
    const char *path = cli_str(fl, nf, "--model", NULL), *out = cli_str(fl, nf, "--out", NULL);
    ttr_model *m, *s;
    void *arena;
    if (cli_model_load(C, path, &m, &arena))
        return 1;
    if (ttr_model_mode(m) != TTR_MODE_TRAIN) {
        free(arena);
        return cli_err(C, "%s is already a serving model", path);
    }
    size_t bytes = ttr_arena_bytes(ttr_model_config(m), TTR_MODE_SERVE_F32);
    void *sarena = bytes ? malloc(bytes) : NULL;
    int err = sarena ? ttr_model_to_serving(m, &s, sarena, bytes) : TTR_ERR_NOMEM;
    int ret = 0;
    if (err)
        ret = cli_err(C, "%s: %s", path, ttr_strerror(err));
    else if (cli_model_save(C, s, out, 0))
        ret = 1;
    free(sarena);
    free(arena);
    return ret;
}
