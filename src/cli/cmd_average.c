/* `ttrank average`: the FedAvg step over models learned on many devices
 * (ttr_model_average). */
#include <stdlib.h>
#include <string.h>

#include "cmd_commands.h"
#include "cmd_model.h"
#include "cmd_util.h"

static const char *const CMD = "average";

#define MAX_MODELS 64

enum { AV_OUT, AV_WEIGHTS, AV_COUNT };

static void average_usage(FILE *f)
{
    fprintf(f, "Usage: ttrank average --out M.ttr A.ttr B.ttr ... [--weights impressions|equal]\n"
               "\n"
               "The weighted mean of trained models of one configuration (up to %d), e.g. what\n"
               "devices learned from one global model: the next global model. Weights: each\n"
               "model's impressions (default) or equal. The models must share one normalisation;\n"
               "MixEM components are matched before they are averaged; the optimizer starts\n"
               "afresh (docs/api.md, ttr_model_average).\n",
            MAX_MODELS);
}

int ttr_cmd_average(int argc, char **argv)
{
    cli_flag fl[AV_COUNT] = {[AV_OUT] = {"--out", 1, 0, 0}, [AV_WEIGHTS] = {"--weights", 1, 0, 0}};
    const char *paths[MAX_MODELS];
    size_t n = 0;
    int rc = cli_parse(CMD, argc, argv, fl, AV_COUNT, paths, MAX_MODELS, &n);
    if (rc == 1) {
        average_usage(stdout);
        return 0;
    }
    if (rc || cli_need(CMD, &fl[AV_OUT]))
        return 2;
    const char *wname = cli_str(&fl[AV_WEIGHTS], "impressions");
    int by_impressions = !strcmp(wname, "impressions");
    if (!by_impressions && strcmp(wname, "equal"))
        return cli_err(CMD, "--weights: expected impressions or equal, not '%s'", wname) + 1;
    if (n < 1)
        return cli_err(CMD, "give the models to average") + 1;
    ttr_model *ms[MAX_MODELS], *out = NULL;
    void *arenas[MAX_MODELS], *out_arena = NULL;
    double w[MAX_MODELS];
    size_t loaded = 0;
    double total = 0.0;
    for (; loaded < n && !rc; loaded++) {
        if (cli_model_load(CMD, paths[loaded], &ms[loaded], &arenas[loaded])) {
            rc = 1;
            break;
        }
        if (ttr_model_mode(ms[loaded]) != TTR_MODE_TRAIN)
            rc = cli_err(CMD, "%s is a serving model: average trained models", paths[loaded]);
        w[loaded] = by_impressions ? (double)ttr_model_impressions(ms[loaded]) : 1.0;
        total += w[loaded];
    }
    if (!rc && by_impressions && total <= 0.0)
        rc = cli_err(CMD, "the models learned from no impressions: use --weights equal");
    if (!rc) {
        const ttr_config *c = ttr_model_config(ms[0]);
        size_t bytes = ttr_arena_bytes(c, TTR_MODE_TRAIN);
        out_arena = malloc(bytes);
        int err = out_arena ? ttr_model_init(&out, c, TTR_MODE_TRAIN, out_arena, bytes)
                            : TTR_ERR_NOMEM;
        if (!err)
            err = ttr_model_average(out, (const ttr_model *const *)ms, w, n);
        if (err == TTR_ERR_ARG)
            rc = cli_err(CMD, "the models differ in configuration or normalisation: only models "
                              "of one configuration, started from one model, average");
        else if (err)
            rc = cli_err(CMD, "%s", ttr_strerror(err));
    }
    if (!rc)
        rc = cli_model_save(CMD, out, cli_str(&fl[AV_OUT], NULL), 0);
    if (!rc)
        printf("average: %zu models, weights %s, %llu impressions -> %s\n", n, wname,
               (unsigned long long)ttr_model_impressions(out), cli_str(&fl[AV_OUT], NULL));
    for (size_t k = 0; k < loaded; k++)
        free(arenas[k]);
    free(out_arena);
    return rc;
}
