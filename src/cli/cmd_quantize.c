/* ttrank quantize: a trained (or serving f32) model -> an int8 serving model;
 * ttrank serving: a trained model -> its f32 serving copy. */
#include <math.h>
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
          "raw features: use it only when the features have comparable ranges. --fold on\n"
          "a trained model is refused when a feature would keep fewer than 2 int8 levels\n"
          "per standard deviation (--force writes it anyway).\n"
          "\n"
          "Options:\n"
          "  --model FILE       trained or serving f32 model (.ttr)\n"
          "  --out FILE         int8 model to write (atomically)\n"
          "  --fold             fold the normalisation into the first layer\n"
          "  --force            with --fold: fold even when a feature loses its precision\n"
          "  --help             this text\n",
          f);
}

/* What folding costs: with the normalisation folded, int8 layer 0 quantizes
 * raw features with one scale per item, about max_u(|mean_u| + 3 sd_u) /
 * 127, so feature t keeps 127 sd_t / that range int8 levels per standard
 * deviation. Returns the fewest over the features the model uses (scale >
 * 0) and that feature in *worst; a large number when there is nothing to
 * lose. */
static double fold_levels(const ttr_model *m, uint32_t *worst)
{
    uint32_t F = ttr_model_config(m)->n_features;
    float *mean = malloc(F * sizeof *mean), *scale = malloc(F * sizeof *scale);
    double range = 0.0, fewest = 1e30;
    *worst = 0;
    if (mean && scale) {
        ttr_get_normalization(m, mean, scale);
        for (uint32_t t = 0; t < F; t++)
            if (scale[t] > 0.0f) {
                double r = fabs((double)mean[t]) + 3.0 / (double)scale[t];
                range = r > range ? r : range;
            }
        for (uint32_t t = 0; range > 0.0 && t < F; t++)
            if (scale[t] > 0.0f && 127.0 / (double)scale[t] / range < fewest) {
                fewest = 127.0 / (double)scale[t] / range;
                *worst = t;
            }
    }
    free(mean);
    free(scale);
    return fewest;
}

/* Below this, folding loses a feature (MQ2008 with feature 1 x 1000: 0.03
 * levels, NDCG@10 0.647 -> 0.580; as it is: 21 levels, no loss). */
#define FOLD_MIN_LEVELS 2.0

/* quantize's options, the index of each in its flag table */
enum { QZ_MODEL, QZ_OUT, QZ_FOLD, QZ_FORCE, QZ_COUNT };
int ttr_cmd_quantize(int argc, char **argv)
{
    const char *C = "quantize";
    cli_flag fl[QZ_COUNT] = {
        [QZ_MODEL] = {"--model", 1, 0, 0},
        [QZ_OUT] = {"--out", 1, 0, 0},
        [QZ_FOLD] = {"--fold", 0, 0, 0},
        [QZ_FORCE] = {"--force", 0, 0, 0},
    };
    const size_t nf = QZ_COUNT;
    size_t npos = 0;
    int rc = cli_parse(C, argc, argv, fl, nf, NULL, 0, &npos);
    if (rc == 1) {
        quantize_usage(stdout);
        return 0;
    }
    if (rc)
        return 2;
    if (cli_need(C, &fl[QZ_MODEL]) || cli_need(C, &fl[QZ_OUT]))
        return 2;
    const char *path = cli_str(&fl[QZ_MODEL], NULL), *out = cli_str(&fl[QZ_OUT], NULL);
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
    if (fl[QZ_FOLD].seen && ttr_model_mode(m) == TTR_MODE_TRAIN) {
        uint32_t worst;
        double levels = fold_levels(m, &worst);
        if (levels < FOLD_MIN_LEVELS && !fl[QZ_FORCE].seen) {
            free(arena);
            return cli_err(C, "--fold would leave feature %u %.2f int8 levels per standard "
                              "deviation (features of very different ranges share one scale); "
                              "without --fold the int8 model keeps the normalisation (--force "
                              "folds anyway)",
                           (unsigned)worst + 1, levels);
        }
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

/* serving's options, the index of each in its flag table */
enum { SV_MODEL, SV_OUT, SV_COUNT };
int ttr_cmd_serving(int argc, char **argv)
{
    const char *C = "serving";
    cli_flag fl[SV_COUNT] = {
        [SV_MODEL] = {"--model", 1, 0, 0},
        [SV_OUT] = {"--out", 1, 0, 0},
    };
    const size_t nf = SV_COUNT;
    size_t npos = 0;
    int rc = cli_parse(C, argc, argv, fl, nf, NULL, 0, &npos);
    if (rc == 1) {
        serving_usage(stdout);
        return 0;
    }
    if (rc || cli_need(C, &fl[SV_MODEL]) || cli_need(C, &fl[SV_OUT]))
        return 2;
    const char *path = cli_str(&fl[SV_MODEL], NULL), *out = cli_str(&fl[SV_OUT], NULL);
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
