/* `ttrank train`'s options: the table, the parsing and checks of every value,
 * and the usage text. cmd_train.c reads the parsed train_opts only. */
#ifndef TTR_CLI_TRAIN_OPTS_H
#define TTR_CLI_TRAIN_OPTS_H

#include <stdint.h>
#include <stdio.h>

#include "ttrank.h"

typedef struct train_opts {
    const char *variant_name;   /* --model as given, NULL with --resume alone */
    ttr_variant variant;
    const char *clicks, *out, *vali, *vali_query, *resume;
    /* with --resume: the first option given that would change the model */
    const char *fixed_given;
    uint32_t hidden[TTR_MAX_HIDDEN];
    int n_hidden;
    uint32_t epochs, batch, components, dim, embed, attn, warmup, bias_hidden, evals, patience;
    uint64_t seed, shuffle;
    float lr;                   /* 0: the default of the optimizer (or of a resumed model) */
    float l2, clip, dropout, weight_decay, holdout;
    float average;              /* --average: the decay of the weight average, 0 = off */
    ttr_loss loss;
    ttr_optimizer optimizer;
    ttr_dot_serving dot_serving;
    ttr_lr_schedule schedule;
    int normalize, quiet, epochs_given, stream, checkpoint;
} train_opts;

/* Parse argv into o, every value checked against its range. Returns 0, 1
 * when --help was asked (the usage is printed on stdout) or 2 after
 * printing a usage error. */
int train_opts_parse(int argc, char **argv, train_opts *o);

void train_usage(FILE *f);

#endif
