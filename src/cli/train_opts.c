/* `ttrank train`'s options (train_opts.h). */
#include <string.h>

#include "cmd_util.h"
#include "train_opts.h"

static const char *C = "train";

/* The options, the index of each in the flag table below. */
enum {
    TR_MODEL, TR_CLICKS, TR_OUT, TR_HIDDEN, TR_EPOCHS, TR_LR, TR_BATCH, TR_SEED, TR_COMPONENTS,
    TR_DIM, TR_DOT_SERVING, TR_LOSS, TR_OPTIMIZER, TR_L2, TR_CLIP, TR_SLOT_DROPOUT,
    TR_EMBED_DIM, TR_ATTN_DIM, TR_NORMALIZE, TR_NO_NORMALIZE, TR_SHUFFLE, TR_VALI,
    TR_VALI_QUERY, TR_CHECKPOINT, TR_RESUME, TR_QUIET, TR_WEIGHT_DECAY, TR_LR_SCHEDULE,
    TR_WARMUP, TR_BIAS_HIDDEN, TR_HOLDOUT, TR_EVALS, TR_PATIENCE, TR_STREAM, TR_AVERAGE, TR_COUNT,
};

/* The options that would change a model's configuration: refused with
 * --resume (the run's rate, --lr and --lr-schedule, can change). */
static const int g_fixed[] = {TR_HIDDEN,       TR_DIM,          TR_EMBED_DIM, TR_ATTN_DIM,
                              TR_COMPONENTS,   TR_BIAS_HIDDEN,  TR_LOSS,      TR_OPTIMIZER,
                              TR_BATCH,        TR_DOT_SERVING,  TR_NORMALIZE, TR_NO_NORMALIZE,
                              TR_SEED,         TR_L2,           TR_CLIP,      TR_SLOT_DROPOUT,
                              TR_WEIGHT_DECAY, TR_WARMUP};

/* The numbers, each against its range; 0 or 2 (printed). */
static int parse_numbers(const cli_flag *fl, train_opts *o)
{
    if (cli_u32(C, &fl[TR_EPOCHS], 0, 100000, &o->epochs) ||
        cli_u32(C, &fl[TR_BATCH], 1, 65536, &o->batch) ||
        cli_u32(C, &fl[TR_COMPONENTS], 2, TTR_MAX_COMPONENTS, &o->components) ||
        cli_u32(C, &fl[TR_DIM], 2, 64, &o->dim) ||
        cli_u32(C, &fl[TR_EMBED_DIM], 1, 256, &o->embed) ||
        cli_u32(C, &fl[TR_ATTN_DIM], 1, 64, &o->attn) ||
        cli_u64(C, &fl[TR_SEED], 0, UINT64_MAX, &o->seed) ||
        cli_u64(C, &fl[TR_SHUFFLE], 0, 1u << 24, &o->shuffle) ||
        cli_float(C, &fl[TR_LR], 1e-12, 100, &o->lr) ||
        cli_float(C, &fl[TR_L2], 0, 1e6, &o->l2) ||
        cli_float(C, &fl[TR_CLIP], 0, 1e12, &o->clip) ||
        cli_float(C, &fl[TR_SLOT_DROPOUT], 0, 0.999, &o->dropout) ||
        cli_float(C, &fl[TR_WEIGHT_DECAY], 0, 1e3, &o->weight_decay) ||
        cli_u32(C, &fl[TR_WARMUP], 0, UINT32_MAX, &o->warmup) ||
        cli_u32(C, &fl[TR_BIAS_HIDDEN], 0, 4096, &o->bias_hidden) ||
        cli_float(C, &fl[TR_HOLDOUT], 0, 0.9, &o->holdout) ||
        cli_u32(C, &fl[TR_EVALS], 1, 1000, &o->evals) ||
        cli_u32(C, &fl[TR_PATIENCE], 1, 1000000, &o->patience) ||
        cli_float(C, &fl[TR_AVERAGE], 0, 0.999999, &o->average))
        return 2;
    return 0;
}

/* The named choices; 0 or 2 (printed). */
static int parse_choices(const cli_flag *fl, train_opts *o)
{
    const char *hs = cli_str(&fl[TR_HIDDEN], NULL);
    if (hs && (o->n_hidden = cli_u32_list(hs, o->hidden, TTR_MAX_HIDDEN)) < 0)
        return cli_err(C, "--hidden: expected up to %d comma-separated widths, got '%s'",
                       TTR_MAX_HIDDEN, hs), 2;
    const char *loss = cli_str(&fl[TR_LOSS], "bce"), *opt = cli_str(&fl[TR_OPTIMIZER], "adam");
    const char *dots = cli_str(&fl[TR_DOT_SERVING], "mean");
    const char *sched = cli_str(&fl[TR_LR_SCHEDULE], "cosine");
    if (strcmp(loss, "bce") && strcmp(loss, "softmax"))
        return cli_err(C, "--loss: expected bce or softmax, got '%s'", loss), 2;
    if (strcmp(opt, "adam") && strcmp(opt, "sgd"))
        return cli_err(C, "--optimizer: expected adam or sgd, got '%s'", opt), 2;
    if (strcmp(dots, "mean") && strcmp(dots, "top"))
        return cli_err(C, "--dot-serving: expected mean or top, got '%s'", dots), 2;
    if (strcmp(sched, "constant") && strcmp(sched, "cosine") && strcmp(sched, "linear"))
        return cli_err(C, "--lr-schedule: expected constant, cosine or linear, got '%s'", sched),
               2;
    o->loss = strcmp(loss, "softmax") ? TTR_LOSS_BCE : TTR_LOSS_SOFTMAX;
    o->optimizer = strcmp(opt, "sgd") ? TTR_OPT_ADAM : TTR_OPT_SGD;
    o->dot_serving = strcmp(dots, "top") ? TTR_DOT_REF_MEAN : TTR_DOT_REF_TOP;
    o->schedule = !strcmp(sched, "cosine")   ? TTR_LR_COSINE
                  : !strcmp(sched, "linear") ? TTR_LR_LINEAR
                                             : TTR_LR_CONSTANT;
    return 0;
}

/* Defaults: the library's recipe (ttr_config_default) where it has one. */
static void defaults(train_opts *o)
{
    ttr_config def;
    ttr_config_default(&def, TTR_NAIVE, 1);
    memset(o, 0, sizeof *o);
    o->epochs = 4;
    o->batch = def.max_batch;
    o->components = def.components;
    o->dim = def.dot_dim;
    o->embed = def.embed_dim;
    o->attn = def.attn_dim;
    o->bias_hidden = def.bias_hidden;
    o->evals = 4;
    o->patience = 8;
    o->seed = 1;
    o->shuffle = 4096;
    o->l2 = def.l2;
    o->clip = def.clip_norm;
    o->dropout = def.slot_dropout;
    o->weight_decay = def.weight_decay;
    o->holdout = 0.1f;
    o->average = 0.0f; /* 0.99 ranked no better (docs/training.md) */
    o->n_hidden = (int)def.n_hidden;
    memcpy(o->hidden, def.hidden, sizeof o->hidden);
}

int train_opts_parse(int argc, char **argv, train_opts *o)
{
    cli_flag fl[TR_COUNT] = {
        [TR_MODEL] = {"--model", 1, 0, 0},
        [TR_CLICKS] = {"--clicks", 1, 0, 0},
        [TR_OUT] = {"--out", 1, 0, 0},
        [TR_HIDDEN] = {"--hidden", 1, 0, 0},
        [TR_EPOCHS] = {"--epochs", 1, 0, 0},
        [TR_LR] = {"--lr", 1, 0, 0},
        [TR_BATCH] = {"--batch", 1, 0, 0},
        [TR_SEED] = {"--seed", 1, 0, 0},
        [TR_COMPONENTS] = {"--components", 1, 0, 0},
        [TR_DIM] = {"--dim", 1, 0, 0},
        [TR_DOT_SERVING] = {"--dot-serving", 1, 0, 0},
        [TR_LOSS] = {"--loss", 1, 0, 0},
        [TR_OPTIMIZER] = {"--optimizer", 1, 0, 0},
        [TR_L2] = {"--l2", 1, 0, 0},
        [TR_CLIP] = {"--clip", 1, 0, 0},
        [TR_SLOT_DROPOUT] = {"--slot-dropout", 1, 0, 0},
        [TR_EMBED_DIM] = {"--embed-dim", 1, 0, 0},
        [TR_ATTN_DIM] = {"--attn-dim", 1, 0, 0},
        [TR_NORMALIZE] = {"--normalize", 0, 0, 0},
        [TR_NO_NORMALIZE] = {"--no-normalize", 0, 0, 0},
        [TR_SHUFFLE] = {"--shuffle", 1, 0, 0},
        [TR_VALI] = {"--vali", 1, 0, 0},
        [TR_VALI_QUERY] = {"--vali-query", 1, 0, 0},
        [TR_CHECKPOINT] = {"--checkpoint", 0, 0, 0},
        [TR_RESUME] = {"--resume", 1, 0, 0},
        [TR_QUIET] = {"--quiet", 0, 0, 0},
        [TR_WEIGHT_DECAY] = {"--weight-decay", 1, 0, 0},
        [TR_LR_SCHEDULE] = {"--lr-schedule", 1, 0, 0},
        [TR_WARMUP] = {"--warmup", 1, 0, 0},
        [TR_BIAS_HIDDEN] = {"--bias-hidden", 1, 0, 0},
        [TR_HOLDOUT] = {"--holdout", 1, 0, 0},
        [TR_EVALS] = {"--evals", 1, 0, 0},
        [TR_PATIENCE] = {"--patience", 1, 0, 0},
        [TR_STREAM] = {"--stream", 0, 0, 0},
        [TR_AVERAGE] = {"--average", 1, 0, 0},
    };
    defaults(o);
    int rc = cli_parse(C, argc, argv, fl, TR_COUNT, NULL, 0, NULL);
    if (rc == 1) {
        train_usage(stdout);
        return 1;
    }
    if (rc || cli_need(C, &fl[TR_CLICKS]) || cli_need(C, &fl[TR_OUT]))
        return 2;
    o->resume = cli_str(&fl[TR_RESUME], NULL);
    if (!o->resume && cli_need(C, &fl[TR_MODEL]))
        return 2;
    o->variant_name = cli_str(&fl[TR_MODEL], NULL);
    if (o->variant_name && cli_variant_parse(o->variant_name, &o->variant))
        return cli_err(C, "--model: expected naive, additive, pal, dot, mixem or xpa, got '%s'",
                       o->variant_name), 2;
    if (parse_numbers(fl, o) || parse_choices(fl, o))
        return 2;
    for (size_t i = 0; o->resume && !o->fixed_given && i < sizeof g_fixed / sizeof g_fixed[0]; i++)
        if (fl[g_fixed[i]].seen)
            o->fixed_given = fl[g_fixed[i]].name;
    o->clicks = cli_str(&fl[TR_CLICKS], NULL);
    o->out = cli_str(&fl[TR_OUT], NULL);
    o->vali = cli_str(&fl[TR_VALI], NULL);
    o->vali_query = cli_str(&fl[TR_VALI_QUERY], NULL);
    o->normalize = !fl[TR_NO_NORMALIZE].seen;
    o->quiet = fl[TR_QUIET].seen;
    o->epochs_given = fl[TR_EPOCHS].seen;
    o->stream = fl[TR_STREAM].seen;
    o->checkpoint = fl[TR_CHECKPOINT].seen;
    return 0;
}

void train_usage(FILE *f)
{
    fprintf(f,
        "Usage: ttrank train --model VARIANT --clicks CLICKS --out MODEL [options]\n"
        "\n"
        "Train a two-tower model on a click log and save it (train mode, .ttr).\n"
        "The slot layout and feature count come from the log's header (else from the data).\n"
        "\n"
        "Options:\n"
        "  --model V          naive | additive | pal | dot | mixem | xpa\n"
        "  --clicks FILE      click log (docs/formats.md)\n"
        "  --out FILE         model file to write (atomically)\n"
        "  --hidden LIST      relevance tower widths (default 32,16); '' = linear\n"
        "  --epochs E         passes over the log, at most (default: 4, or as many as\n"
        "                     make 1500 steps when the log is small; 0 saves the\n"
        "                     initialised model, untrained)\n"
        "  --lr L             learning rate (default 3e-3 Adam, 1e-2 SGD)\n"
        "  --batch B          lists per step (default 256)\n"
        "  --seed S           initialisation and shuffling seed (default 1)\n"
        "  --components K     MixEM components (default 2)\n"
        "  --dim D            dot variant dimension (default 4)\n"
        "  --dot-serving mean|top  dot: serve with the mean b (default) or the top slot's b\n"
        "  --loss bce|softmax pointwise (default) or listwise (naive, additive)\n"
        "  --optimizer adam|sgd  (default adam)\n"
        "  --l2 X             L2 penalty on weight matrices, added to the gradient (default 0)\n"
        "  --weight-decay X   decoupled weight decay, AdamW-style (default 1e-3)\n"
        "  --lr-schedule S    constant | cosine | linear: decay to 0 over all epochs\n"
        "                     (default cosine)\n"
        "  --warmup N         linear learning-rate warm-up over N steps (default 0)\n"
        "  --bias-hidden N    hidden width of the bias tower, 0 = linear (default 8)\n"
        "  --clip X           global gradient-norm clip, 0 = off (default 0)\n"
        "  --slot-dropout Q   additive/PAL slot dropout (default 0.1)\n"
        "  --embed-dim D      slot embedding size (default 8)\n"
        "  --attn-dim D       XPA attention size (default 8)\n"
        "  --normalize        per-feature mean/scale from a first pass, stored in the model\n"
        "                     (default)\n"
        "  --no-normalize     use the features as they are\n"
        "  --shuffle N        0 = file order; else a log that fits in 256 MiB is shuffled\n"
        "                     whole in memory, a larger one streams through a buffer of N\n"
        "                     lists (default 4096)\n"
        "  --stream           read the log every epoch even when it fits in memory\n"
        "  --holdout Q        hold out this share of the distinct items (by a hash of their\n"
        "                     features) and keep the model with the best click\n"
        "                     log-likelihood on them (early stopping from clicks alone);\n"
        "                     0 = train on everything, save the last model (default 0.1)\n"
        "  --evals N          held-out evaluations per epoch (default 4)\n"
        "  --patience N       stop after N evaluations without improvement (default 8)\n"
        "  --average D        evaluate and keep the moving average of the weights,\n"
        "                     avg = D * avg + (1 - D) * w after each step (e.g. 0.99);\n"
        "                     default 0: the weights of the last step\n"
        "  --vali LETOR       select on NDCG@10 of this labelled LETOR file instead\n"
        "  --vali-query FILE  .query file of --vali (default: VALI.query when it exists)\n"
        "  --checkpoint       save the optimizer state too (resumable with --resume)\n"
        "  --resume MODEL     continue training a saved train-mode model\n"
        "  --quiet            no per-epoch lines on stdout\n"
        "  -h, --help         this help\n");
}

