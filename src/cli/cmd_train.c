/* `ttrank train`: train a model variant on a click log, streaming lists in
 * mini-batches through a shuffle buffer, and save it (train mode) atomically. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_commands.h"
#include "cmd_model.h"
#include "cmd_util.h"
#include "train_holdout.h"
#include "sim/ttr_sim.h"

static const char *C = "train";

static void usage(FILE *f)
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
        "                     make 1500 steps when the log is small)\n"
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
        "  --vali LETOR       select on NDCG@10 of this labelled LETOR file instead\n"
        "  --vali-query FILE  .query file of --vali (default: VALI.query when it exists)\n"
        "  --checkpoint       save the optimizer state too (resumable with --resume)\n"
        "  --resume MODEL     continue training a saved train-mode model\n"
        "  --quiet            no per-epoch lines on stdout\n"
        "  -h, --help         this help\n");
}

typedef struct pool {
    size_t cap, max_items, F;
    float *x;
    uint16_t *slots;
    uint8_t *clicks;
    size_t *n;
    uint32_t *ctx;
} pool;

typedef struct batch_buf {
    size_t n_lists, n_items, max_items, F;
    size_t *offsets;
    float *x;
    uint16_t *slots;
    uint8_t *clicks;
    uint32_t *ctx;
} batch_buf;

/* List `from` of the pool into slot `to` (to != from). */
static void pool_move(pool *p, size_t to, size_t from)
{
    size_t ML = p->max_items;
    memcpy(p->x + to * ML * p->F, p->x + from * ML * p->F, ML * p->F * sizeof(float));
    memcpy(p->slots + to * ML, p->slots + from * ML, ML * sizeof *p->slots);
    memcpy(p->clicks + to * ML, p->clicks + from * ML, ML);
    p->n[to] = p->n[from];
    p->ctx[to] = p->ctx[from];
}

/* A reader's list that reads into pool slot j. */
static void pool_list(const pool *p, size_t j, ttr_list *l)
{
    memset(l, 0, sizeof *l);
    l->x = p->x + j * p->max_items * p->F;
    l->ldx = p->F;
    l->slots = p->slots + j * p->max_items;
    l->clicks = p->clicks + j * p->max_items;
}

static void batch_add(batch_buf *b, const pool *p, size_t j)
{
    size_t n = p->n[j], at = b->n_items;
    memcpy(b->x + at * b->F, p->x + j * p->max_items * p->F, n * p->F * sizeof(float));
    memcpy(b->slots + at, p->slots + j * p->max_items, n * sizeof(uint16_t));
    memcpy(b->clicks + at, p->clicks + j * p->max_items, n);
    b->ctx[b->n_lists] = p->ctx[j];
    b->n_items += n;
    b->offsets[++b->n_lists] = b->n_items;
}

typedef struct epoch_stats {
    double loss_sum;
    size_t steps, lists;
} epoch_stats;

static int run_step(ttr_model *m, batch_buf *b, int has_ctx, epoch_stats *es)
{
    if (!b->n_lists)
        return 0;
    ttr_batch tb;
    tb.n_lists = b->n_lists;
    tb.offsets = b->offsets;
    tb.x = b->x;
    tb.ldx = b->F;
    tb.slots = b->slots;
    tb.clicks = b->clicks;
    tb.contexts = has_ctx ? b->ctx : NULL;
    ttr_train_stats st;
    int err = ttr_train(m, &tb, &st);
    if (!err) {
        es->loss_sum += st.loss * (double)st.lists;
        es->lists += st.lists;
        es->steps++;
    }
    b->n_lists = b->n_items = 0;
    b->offsets[0] = 0;
    return err;
}

/* One pass over the log before training: feature statistics for the
 * normalisation (stats may be NULL), the held-out lists, and, when
 * `mem` is not NULL, every list with items left for training into the pool
 * (mem->cap lists; *kept receives the count). Returns 0, or 1 after printing
 * an error. */
static int prepass(cli_clicks_in *in, const char *path, const ttr_reader_config *rcfg,
                   ttr_feature_stats *stats, size_t *items, holdout_set *ho, pool *mem,
                   size_t *kept)
{
    size_t F = rcfg->n_features, ML = rcfg->max_items, k = 0;
    pool one = {1, ML, F, NULL, NULL, NULL, NULL, NULL};
    size_t n_one;
    uint32_t ctx_one;
    one.x = mem ? NULL : malloc(ML * F * sizeof *one.x);
    one.slots = mem ? NULL : malloc(ML * sizeof *one.slots);
    one.clicks = mem ? NULL : malloc(ML);
    one.n = &n_one;
    one.ctx = &ctx_one;
    pool *p = mem ? mem : &one;
    int rc = 1;
    if (!p->x || !p->slots || !p->clicks) {
        cli_err(C, "out of memory");
        goto out;
    }
    if (cli_clicks_open(in, C, path, rcfg))
        goto out;
    for (;;) {
        size_t j = mem ? k : 0;
        if (j >= p->cap) /* the log grew since the first pass */
            break;
        ttr_list l;
        pool_list(p, j, &l);
        if ((rc = cli_clicks_next(in, &l)) != 1)
            break;
        /* the reader refuses non-finite features, so this does not fail */
        int e = stats ? ttr_feature_stats_add(stats, l.n, l.x, F) : TTR_OK;
        if (e) {
            cli_err(C, "%s: feature statistics: %s", path, ttr_strerror(e));
            rc = -1;
            break;
        }
        *items += l.n;
        p->n[j] = holdout_split(ho, l.n, l.x, l.slots, l.clicks, l.context, 1);
        p->ctx[j] = l.context;
        k += p->n[j] > 0;
    }
    cli_clicks_close(in);
    rc = rc < 0;
    *kept = k;
out:
    if (!mem) {
        free(one.x);
        free(one.slots);
        free(one.clicks);
    }
    return rc;
}

/* The training loop's state: input, shuffle pool, batch, model selection. */
typedef struct trainer {
    ttr_model *m;
    pool *p;
    batch_buf *b;
    holdout_set *ho;
    const cli_letor *vd;       /* --vali: select on labels instead */
    cli_clicks_in *in;
    const ttr_reader_config *rcfg;
    const char *path;
    int has_ctx, quiet, checkpoint, selecting;
    size_t in_memory;          /* lists of a log held whole in the pool, 0 = streaming */
    int shuffle;
    uint32_t batch, epochs, patience, ep;
    ttr_rng rng;
    uint64_t total_lists, done_lists, eval_every, since_eval;
    uint32_t evals_since_best;
    double best, best_epoch;   /* selection score (higher is better) */
    unsigned char *snap;       /* the selected model, as its file bytes */
    size_t snap_size;
    epoch_stats es;
    cli_progress pr;
    char what[64];
} trainer;

/* Read the next list with items left for training into pool slot j:
 * 1, 0 at the end of the log, -1 on a read error (printed). */
static int read_train_list(trainer *t, size_t j)
{
    pool *p = t->p;
    for (;;) {
        ttr_list l;
        pool_list(p, j, &l);
        int rc = cli_clicks_next(t->in, &l);
        if (rc <= 0)
            return rc < 0 ? -1 : 0;
        size_t n = holdout_split(t->ho, l.n, l.x, l.slots, l.clicks, l.context, 0);
        if (!n)
            continue;
        p->n[j] = n;
        p->ctx[j] = l.context;
        return 1;
    }
}

/* Score the model for selection and keep it when it is the best so far.
 * Returns 0, or 1 after printing an error. */
static int evaluate(trainer *t)
{
    double score;
    const char *what;
    int err;
    if (t->vd) {
        ttr_rank_metrics rm;
        err = cli_rank_metrics(t->m, t->vd, &rm);
        score = ttr_rank_metrics_ndcg(&rm, 10);
        what = "vali NDCG@10";
    } else {
        size_t items;
        err = holdout_loglik(t->ho, t->m, t->has_ctx, &score, &items);
        what = "held-out click log-likelihood";
    }
    if (err)
        return cli_err(C, "evaluation failed: %s", ttr_strerror(err));
    double epoch = (double)t->done_lists / (double)(t->total_lists / (t->epochs ? t->epochs : 1));
    if (!t->quiet) {
        cli_progress_end(&t->pr);
        printf("epoch %.2f: loss %.6f per list, %s %.5f\n", epoch,
               t->es.lists ? t->es.loss_sum / (double)t->es.lists : 0.0, what, score);
        fflush(stdout);
    }
    t->since_eval = 0;
    if (t->snap && !(score > t->best)) {
        t->evals_since_best++;
        return 0;
    }
    t->best = score;
    t->best_epoch = epoch;
    t->evals_since_best = 0;
    err = cli_model_snapshot(t->m, t->checkpoint, &t->snap, &t->snap_size);
    return err ? cli_err(C, "cannot keep the model: %s", ttr_strerror(err)) : 0;
}

/* One training step on the batch, then an evaluation when one is due. */
static int step(trainer *t)
{
    size_t lists = t->b->n_lists;
    int err = run_step(t->m, t->b, t->has_ctx, &t->es);
    if (err)
        return cli_err(C, "training step failed at epoch %u: %s", (unsigned)t->ep + 1,
                       ttr_strerror(err));
    t->since_eval += lists;
    if (t->selecting && t->since_eval >= t->eval_every)
        return evaluate(t);
    return 0;
}

/* One pass over the log through the shuffle pool. Returns 0 or 1 (printed). */
static int train_epoch(trainer *t)
{
    pool *p = t->p;
    size_t filled = 0;
    int eof = 0, rc;
    if (cli_clicks_open(t->in, C, t->path, t->rcfg))
        return 1;
    while (t->evals_since_best <= t->patience) {
        size_t j;
        if (!eof && filled < p->cap) {
            j = filled;
        } else if (filled) {
            /* emit a random pooled list, refill its place */
            size_t k = p->cap > 1 ? (size_t)(((uint64_t)ttr_rng_u32(&t->rng) * filled) >> 32) : 0;
            batch_add(t->b, p, k);
            t->done_lists++;
            if (t->b->n_lists == t->batch && step(t)) {
                cli_clicks_close(t->in);
                return 1;
            }
            if ((t->done_lists & 63) == 0)
                cli_progress_update(&t->pr, t->what,
                                    (double)t->done_lists / (double)t->total_lists);
            if (eof) {
                /* drain: move the last into the gap */
                if (k != --filled)
                    pool_move(p, k, filled);
                continue;
            }
            j = k;
        } else {
            break;
        }
        rc = read_train_list(t, j);
        if (rc < 0) {
            cli_clicks_close(t->in);
            return 1;
        }
        if (rc == 0) {
            eof = 1;
            if (j != filled && j != --filled) /* slot j was emitted: fill it with the last */
                pool_move(p, j, filled);
            continue;
        }
        if (j == filled)
            filled++;
    }
    cli_clicks_close(t->in);
    return t->b->n_lists && step(t);
}

/* One pass over a log held in memory, in a fresh random order (file order
 * with --shuffle 0). Returns 0 or 1 (printed). */
static int train_epoch_memory(trainer *t, size_t *order)
{
    size_t n = t->in_memory, i;
    for (i = 0; i < n; i++)
        order[i] = i;
    for (i = n; t->shuffle && i > 1; i--) {
        size_t k = (size_t)(((uint64_t)ttr_rng_u32(&t->rng) * i) >> 32), tmp = order[i - 1];
        order[i - 1] = order[k];
        order[k] = tmp;
    }
    for (i = 0; i < n && t->evals_since_best <= t->patience; i++) {
        batch_add(t->b, t->p, order[i]);
        t->done_lists++;
        if (t->b->n_lists == t->batch && step(t))
            return 1;
        if ((t->done_lists & 63) == 0)
            cli_progress_update(&t->pr, t->what, (double)t->done_lists / (double)t->total_lists);
    }
    return t->b->n_lists && step(t);
}

static int train_run(trainer *t)
{
    size_t *order = NULL;
    if (t->in_memory && !(order = malloc(t->in_memory * sizeof *order)))
        return cli_err(C, "out of memory");
    t->selecting = t->vd || t->ho->n_lists;
    cli_progress_start(&t->pr);
    for (t->ep = 0; t->ep < t->epochs && t->evals_since_best <= t->patience; t->ep++) {
        memset(&t->es, 0, sizeof t->es);
        snprintf(t->what, sizeof t->what, "train: epoch %u/%u", (unsigned)t->ep + 1,
                 (unsigned)t->epochs);
        if (t->in_memory ? train_epoch_memory(t, order) : train_epoch(t)) {
            free(order);
            return 1;
        }
        if (t->selecting && t->since_eval && evaluate(t)) {
            free(order);
            return 1;
        }
        if (!t->selecting && !t->quiet) {
            cli_progress_end(&t->pr);
            printf("epoch %u: loss %.6f per list\n", (unsigned)t->ep + 1,
                   t->es.lists ? t->es.loss_sum / (double)t->es.lists : 0.0);
            fflush(stdout);
        }
    }
    cli_progress_end(&t->pr);
    free(order);
    return 0;
}

/* The default length of a run: 4 epochs, or as many as make MIN_STEPS
 * optimizer steps when the log is small (a log of 5,000 lists gives 20 steps
 * of 256 lists an epoch: 4 epochs left every variant 0.06 NDCG@5 short on
 * MQ2008). Early stopping ends a run that starts to overfit. */
#define MIN_STEPS 1500u
static uint32_t default_epochs(uint64_t lists, uint32_t batch)
{
    uint64_t per_epoch = (lists + batch - 1) / batch, e = 4;
    if (per_epoch && per_epoch * e < MIN_STEPS)
        e = (MIN_STEPS + per_epoch - 1) / per_epoch;
    return (uint32_t)(e < 1000 ? e : 1000);
}

/* train's options, the index of each in its flag table */
enum {
    TR_MODEL, TR_CLICKS, TR_OUT, TR_HIDDEN, TR_EPOCHS, TR_LR, TR_BATCH, TR_SEED, TR_COMPONENTS,
    TR_DIM, TR_DOT_SERVING, TR_LOSS, TR_OPTIMIZER, TR_L2, TR_CLIP, TR_SLOT_DROPOUT,
    TR_EMBED_DIM, TR_ATTN_DIM, TR_NORMALIZE, TR_NO_NORMALIZE, TR_SHUFFLE, TR_VALI,
    TR_VALI_QUERY, TR_CHECKPOINT, TR_RESUME, TR_QUIET, TR_WEIGHT_DECAY, TR_LR_SCHEDULE,
    TR_WARMUP, TR_BIAS_HIDDEN, TR_HOLDOUT, TR_EVALS, TR_PATIENCE, TR_STREAM, TR_COUNT,
};
int ttr_cmd_train(int argc, char **argv)
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
    };
    const size_t nf = TR_COUNT;
    int rc = cli_parse(C, argc, argv, fl, nf, NULL, 0, NULL);
    if (rc == 1) {
        usage(stdout);
        return 0;
    }
    if (rc || cli_need(C, &fl[TR_CLICKS]) || cli_need(C, &fl[TR_OUT]))
        return 2;
    const char *resume = cli_str(&fl[TR_RESUME], NULL);
    if (!resume && cli_need(C, &fl[TR_MODEL]))
        return 2;
    ttr_variant variant = TTR_NAIVE;
    const char *vs = cli_str(&fl[TR_MODEL], NULL);
    if (vs && cli_variant_parse(vs, &variant))
        return cli_err(C, "--model: expected naive, additive, pal, dot, mixem or xpa, got '%s'",
                       vs), 2;
    /* the defaults of the library's recipe (ttr_config_default) where it has them */
    ttr_config def;
    ttr_config_default(&def, TTR_NAIVE, 1);
    uint32_t epochs = 4, batch = def.max_batch, components = def.components, dim = def.dot_dim;
    uint32_t embed = def.embed_dim, attn = def.attn_dim, warmup = 0, bias_hidden = def.bias_hidden;
    uint32_t evals = 4, patience = 8;
    uint64_t seed = 1, shuffle = 4096;
    float lr = 0, l2 = def.l2, clip = def.clip_norm, dropout = def.slot_dropout;
    float wd = def.weight_decay, holdout = 0.1f;
    if (cli_u32(C, &fl[TR_EPOCHS], 1, 100000, &epochs) ||
        cli_u32(C, &fl[TR_BATCH], 1, 65536, &batch) ||
        cli_u32(C, &fl[TR_COMPONENTS], 2, TTR_MAX_COMPONENTS, &components) ||
        cli_u32(C, &fl[TR_DIM], 2, 64, &dim) || cli_u32(C, &fl[TR_EMBED_DIM], 1, 256, &embed) ||
        cli_u32(C, &fl[TR_ATTN_DIM], 1, 64, &attn) ||
        cli_u64(C, &fl[TR_SEED], 0, UINT64_MAX, &seed) ||
        cli_u64(C, &fl[TR_SHUFFLE], 0, 1u << 24, &shuffle) ||
        cli_float(C, &fl[TR_LR], 1e-12, 100, &lr) || cli_float(C, &fl[TR_L2], 0, 1e6, &l2) ||
        cli_float(C, &fl[TR_CLIP], 0, 1e12, &clip) ||
        cli_float(C, &fl[TR_SLOT_DROPOUT], 0, 0.999, &dropout) ||
        cli_float(C, &fl[TR_WEIGHT_DECAY], 0, 1e3, &wd) ||
        cli_u32(C, &fl[TR_WARMUP], 0, UINT32_MAX, &warmup) ||
        cli_u32(C, &fl[TR_BIAS_HIDDEN], 0, 4096, &bias_hidden) ||
        cli_float(C, &fl[TR_HOLDOUT], 0, 0.9, &holdout) ||
        cli_u32(C, &fl[TR_EVALS], 1, 1000, &evals) ||
        cli_u32(C, &fl[TR_PATIENCE], 1, 1000000, &patience))
        return 2;
    uint32_t hidden[TTR_MAX_HIDDEN];
    int n_hidden = (int)def.n_hidden;
    memcpy(hidden, def.hidden, sizeof hidden);
    const char *hs = cli_str(&fl[TR_HIDDEN], NULL);
    if (hs && (n_hidden = cli_u32_list(hs, hidden, TTR_MAX_HIDDEN)) < 0)
        return cli_err(C, "--hidden: expected up to %d comma-separated widths, got '%s'",
                       TTR_MAX_HIDDEN, hs), 2;
    const char *loss = cli_str(&fl[TR_LOSS], "bce"), *opt = cli_str(&fl[TR_OPTIMIZER], "adam");
    const char *dots = cli_str(&fl[TR_DOT_SERVING], "mean");
    if (strcmp(loss, "bce") && strcmp(loss, "softmax"))
        return cli_err(C, "--loss: expected bce or softmax, got '%s'", loss), 2;
    if (strcmp(opt, "adam") && strcmp(opt, "sgd"))
        return cli_err(C, "--optimizer: expected adam or sgd, got '%s'", opt), 2;
    if (strcmp(dots, "mean") && strcmp(dots, "top"))
        return cli_err(C, "--dot-serving: expected mean or top, got '%s'", dots), 2;
    const char *sched = cli_str(&fl[TR_LR_SCHEDULE], "cosine");
    ttr_lr_schedule schedule = TTR_LR_CONSTANT;
    if (!strcmp(sched, "cosine"))
        schedule = TTR_LR_COSINE;
    else if (!strcmp(sched, "linear"))
        schedule = TTR_LR_LINEAR;
    else if (strcmp(sched, "constant"))
        return cli_err(C, "--lr-schedule: expected constant, cosine or linear, got '%s'", sched), 2;
    int normalize = !fl[TR_NO_NORMALIZE].seen;
    const char *clicks_path = cli_str(&fl[TR_CLICKS], NULL);
    const char *out = cli_str(&fl[TR_OUT], NULL);
    const char *vali = cli_str(&fl[TR_VALI], NULL);
    int quiet = fl[TR_QUIET].seen;
    int epochs_given = fl[TR_EPOCHS].seen;
    int stream = fl[TR_STREAM].seen;
    int checkpoint = fl[TR_CHECKPOINT].seen;

    /* ---- pass 1: layout and sizes ---- */
    cli_clicks_in in;
    ttr_reader_config rcfg;
    ttr_reader_config_default(&rcfg);
    rcfg.max_items = TTR_DATA_MAX_SLOTS;
    if (cli_clicks_open(&in, C, clicks_path, &rcfg))
        return 1;
    uint32_t rows = 0, cols = 0, F = 0;
    rc = ttr_clicks_layout(&in.r, &rows, &cols, &F);
    if (rc < 0) {
        cli_clicks_error(&in);
        cli_clicks_close(&in);
        return 1;
    }
    ttr_list l;
    memset(&l, 0, sizeof l);
    uint16_t *sl = malloc(TTR_DATA_MAX_SLOTS * sizeof *sl);
    uint32_t max_pos = 0, max_ctx = 0;
    int has_ctx = 0;
    l.slots = sl;
    while (sl && (rc = cli_clicks_next(&in, &l)) == 1) {
        for (size_t i = 0; i < l.n; i++)
            if (sl[i] > max_pos)
                max_pos = sl[i];
        if (l.has_context) {
            has_ctx = 1;
            if (l.context > max_ctx)
                max_ctx = l.context;
        }
    }
    free(sl);
    ttr_reader_stats st;
    ttr_reader_stats_get(&in.r, &st);
    cli_clicks_close(&in);
    if (!sl)
        return cli_err(C, "out of memory");
    if (rc < 0)
        return 1;
    if (!st.lists)
        return cli_err(C, "%s: no lists", clicks_path);
    if (!rows) {
        rows = max_pos + 1;
        cols = 1;
    }
    if (!F)
        F = st.max_index ? st.max_index : 1;

    /* ---- the model ---- */
    ttr_config cfg;
    ttr_model *m = NULL;
    void *arena = NULL;
    if (resume) {
        /* the configuration is in the model; only the run's rate can change */
        static const int fixed[] = {TR_HIDDEN,       TR_DIM,          TR_EMBED_DIM, TR_ATTN_DIM,
                                    TR_COMPONENTS,   TR_BIAS_HIDDEN,  TR_LOSS,      TR_OPTIMIZER,
                                    TR_BATCH,        TR_DOT_SERVING,  TR_NORMALIZE, TR_NO_NORMALIZE,
                                    TR_SEED,         TR_L2,           TR_CLIP,      TR_SLOT_DROPOUT,
                                    TR_WEIGHT_DECAY, TR_WARMUP};
        for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
            if (fl[fixed[i]].seen)
                return cli_err(C, "%s cannot change when resuming: %s keeps its configuration "
                                  "(--lr and --lr-schedule can)",
                               fl[fixed[i]].name, resume), 2;
        if (cli_model_load(C, resume, &m, &arena))
            return 1;
        cfg = *ttr_model_config(m);
        if (ttr_model_mode(m) != TTR_MODE_TRAIN) {
            free(arena);
            return cli_err(C, "%s: a serving model cannot be trained", resume);
        }
        if (vs && cfg.variant != variant) {
            free(arena);
            return cli_err(C, "%s: a %s model, not %s", resume, cli_variant_name(cfg.variant), vs);
        }
        variant = cfg.variant;
        if (cfg.n_features != F || cfg.rows * cfg.cols < rows * cols ||
            cfg.max_items < st.max_list || (has_ctx && cfg.n_contexts <= max_ctx)) {
            free(arena);
            return cli_err(C, "%s: the model's layout (%ux%u slots, %u features) does not fit "
                              "the click log (%ux%u, %u)",
                           resume, (unsigned)cfg.rows, (unsigned)cfg.cols,
                           (unsigned)cfg.n_features, (unsigned)rows, (unsigned)cols, (unsigned)F);
        }
        batch = cfg.max_batch;
        if (!epochs_given)
            epochs = default_epochs(st.lists, batch);
        normalize = 0; /* the model keeps its own */
        /* this run's rate: from the model's lr (or --lr), decaying over this
         * run's steps as a fresh run does (the warm-up lies behind) */
        uint64_t at = ttr_model_steps(m);
        uint64_t run = (st.lists + batch - 1) / batch * (uint64_t)epochs;
        int err = ttr_set_learning_rate(m, lr > 0 ? lr : cfg.lr, schedule,
                                        schedule == TTR_LR_CONSTANT ? 0 : at,
                                        schedule == TTR_LR_CONSTANT ? 0 : at + (run ? run : 1));
        if (err) {
            free(arena);
            return cli_err(C, "%s: --lr %g: %s", resume, (double)lr, ttr_strerror(err)), 2;
        }
        cfg = *ttr_model_config(m);
    } else {
        ttr_config_default(&cfg, variant, F);
        cfg.n_hidden = (uint32_t)n_hidden;
        for (int i = 0; i < n_hidden; i++)
            cfg.hidden[i] = hidden[i];
        cfg.rows = rows;
        cfg.cols = cols;
        cfg.n_contexts = has_ctx ? max_ctx + 1 : 0;
        cfg.max_items = (uint32_t)(st.max_list ? st.max_list : 1);
        cfg.max_batch = batch;
        cfg.components = components;
        cfg.dot_dim = dim;
        cfg.embed_dim = embed;
        cfg.attn_dim = attn;
        cfg.loss = strcmp(loss, "softmax") ? TTR_LOSS_BCE : TTR_LOSS_SOFTMAX;
        cfg.optimizer = strcmp(opt, "sgd") ? TTR_OPT_ADAM : TTR_OPT_SGD;
        if (cfg.optimizer == TTR_OPT_SGD)
            cfg.lr = 1e-2f;
        if (lr > 0)
            cfg.lr = lr;
        cfg.l2 = l2;
        cfg.weight_decay = wd;
        if (!epochs_given)
            epochs = default_epochs(st.lists, batch);
        /* a decaying schedule reaches 0 at the end of the last epoch */
        uint64_t steps = (st.lists + batch - 1) / batch * (uint64_t)epochs;
        ttr_config_set_steps(&cfg, schedule == TTR_LR_CONSTANT ? 0 : steps > warmup ? steps : warmup + 1u);
        cfg.lr_schedule = schedule;
        cfg.warmup_steps = warmup;
        cfg.bias_hidden = bias_hidden;
        cfg.clip_norm = clip;
        cfg.slot_dropout = dropout;
        cfg.dot_serving = strcmp(dots, "top") ? TTR_DOT_REF_MEAN : TTR_DOT_REF_TOP;
        cfg.seed = seed;
        const char *bad = NULL;
        if (ttr_config_check(&cfg, &bad))
            return cli_err(C, "invalid model configuration (%s)", bad ? bad : "?"), 2;
        size_t bytes = ttr_arena_bytes(&cfg, TTR_MODE_TRAIN);
        arena = bytes ? malloc(bytes) : NULL;
        if (!arena)
            return cli_err(C, "cannot allocate %zu bytes for the model", bytes);
        int err = ttr_model_init(&m, &cfg, TTR_MODE_TRAIN, arena, bytes);
        if (err) {
            free(arena);
            return cli_err(C, "model init failed: %s", ttr_strerror(err));
        }
    }

    size_t ML = cfg.max_items;
    pool p;
    batch_buf b;
    memset(&p, 0, sizeof p);
    memset(&b, 0, sizeof b);
    cli_letor vd;
    memset(&vd, 0, sizeof vd);
    holdout_set ho;
    memset(&ho, 0, sizeof ho);
    void *stats_buf = NULL;
    ttr_feature_stats *stats = NULL;
    int ret = 0, err = 0;
    in.f = NULL;

    /* ---- pass 2: normalisation and held-out items ---- */
    rcfg.n_features = F;
    rcfg.max_items = (uint32_t)ML;
    rcfg.rows = cfg.rows;
    rcfg.cols = cfg.cols;
    /* a log without a header may use fewer slots than a resumed model */
    size_t per_list = ML * F * sizeof(float);
    /* held-out lists: at most 10,000 or 64 MiB */
    size_t ho_cap = ((size_t)64 << 20) / (per_list + 4 * ML + 16);
    ho_cap = ho_cap < 10000 ? ho_cap : 10000;
    if (normalize) {
        size_t sb = ttr_feature_stats_bytes((uint32_t)F);
        stats_buf = malloc(sb);
        if (stats_buf && ttr_feature_stats_init(&stats, (uint32_t)F, stats_buf, sb))
            stats = NULL;
    }
    if ((normalize && !stats) ||
        holdout_init(&ho, vali ? 0.0 : holdout, seed, F, ML, ho_cap)) {
        ret = cli_err(C, "out of memory");
        goto done;
    }
    /* a log that fits in 256 MiB is read once and shuffled whole in memory;
     * a larger one streams through a shuffle buffer of --shuffle lists */
    size_t budget = (size_t)256 << 20, in_memory = 0;
    size_t cap = !stream && st.lists <= budget / per_list ? (size_t)st.lists : 0;
    if (cap)
        in_memory = 1;
    else
        cap = shuffle ? (size_t)shuffle : 1;
    if (!in_memory && cap > 1 && cap * per_list > budget)
        cap = budget / per_list > 1 ? budget / per_list : 1;
    p.cap = cap;
    p.max_items = ML;
    p.F = F;
    p.x = malloc(cap * per_list);
    p.slots = malloc(cap * ML * sizeof *p.slots);
    p.clicks = malloc(cap * ML);
    p.n = malloc(cap * sizeof *p.n);
    p.ctx = malloc(cap * sizeof *p.ctx);
    if (!p.x || !p.slots || !p.clicks || !p.n || !p.ctx) {
        ret = cli_err(C, "out of memory");
        goto done;
    }
    size_t items = 0, kept = 0;
    if (normalize || ho.cap || in_memory) {
        if (prepass(&in, clicks_path, &rcfg, stats, &items, &ho, in_memory ? &p : NULL,
                    &kept)) {
            ret = 1;
            goto done;
        }
        if (ho.cap && !ho.n_lists && !quiet)
            printf("no item of %s is held out: the last model is kept\n", clicks_path);
        if (in_memory)
            in_memory = kept;
    }
    if (normalize) {
        err = ttr_feature_stats_apply(stats, m);
        if (err) {
            ret = cli_err(C, "normalisation: %s", ttr_strerror(err));
            goto done;
        }
    }

    /* ---- validation data ---- */
    if (vali) {
        char qbuf[4200];
        const char *vq = cli_query_path(vali, cli_str(&fl[TR_VALI_QUERY], NULL), qbuf, sizeof qbuf);
        if (cli_letor_load(C, vali, vq, F, &vd)) {
            ret = 1;
            goto done;
        }
    }

    /* ---- the batch ---- */
    b.max_items = ML;
    b.F = F;
    b.offsets = malloc((batch + 1) * sizeof *b.offsets);
    b.x = malloc(batch * per_list);
    b.slots = malloc(batch * ML * sizeof *b.slots);
    b.clicks = malloc(batch * ML);
    b.ctx = malloc(batch * sizeof *b.ctx);
    if (!b.offsets || !b.x || !b.slots || !b.clicks || !b.ctx) {
        ret = cli_err(C, "out of memory");
        goto done;
    }
    b.offsets[0] = 0;

    trainer t;
    memset(&t, 0, sizeof t);
    t.m = m;
    t.p = &p;
    t.b = &b;
    t.ho = &ho;
    t.vd = vali ? &vd : NULL;
    t.in = &in;
    t.rcfg = &rcfg;
    t.path = clicks_path;
    t.in_memory = in_memory;
    t.shuffle = shuffle != 0;
    t.has_ctx = has_ctx;
    t.batch = batch;
    t.epochs = epochs;
    t.quiet = quiet;
    t.checkpoint = checkpoint;
    t.patience = patience;
    t.eval_every = st.lists / evals ? st.lists / evals : 1;
    t.total_lists = st.lists * (uint64_t)(epochs ? epochs : 1);
    ttr_rng_seed(&t.rng, seed ^ 0x5eed5eed5eedull);
    if (!quiet)
        printf("train %s: %llu lists, %llu items, %ux%u slots, %u features%s; %u epochs, batch %u; "
               "model arena %.1f MB\n",
               cli_variant_name(variant), (unsigned long long)st.lists,
               (unsigned long long)st.items, (unsigned)cfg.rows, (unsigned)cfg.cols, (unsigned)F,
               normalize ? " (normalised)" : "", (unsigned)epochs, (unsigned)batch,
               (double)ttr_arena_bytes(&cfg, TTR_MODE_TRAIN) / 1e6);
    ret = train_run(&t);
    if (!ret && t.snap) {
        /* the selected model replaces the last one in the arena */
        err = cli_model_restore(t.snap, t.snap_size, &m, arena,
                                ttr_arena_bytes(&cfg, TTR_MODE_TRAIN));
        if (err)
            ret = cli_err(C, "cannot restore the selected model: %s", ttr_strerror(err));
    }
    if (!ret)
        ret = cli_model_save(C, m, out, checkpoint);
    if (!ret && !quiet) {
        if (t.snap && vali)
            printf("saved %s: epoch %.2f (best vali NDCG@10 %.4f)\n", out, t.best_epoch, t.best);
        else if (t.snap)
            printf("saved %s: epoch %.2f (best held-out click log-likelihood %.5f)\n", out,
                   t.best_epoch, t.best);
        else
            printf("saved %s\n", out);
    }
    free(t.snap);
done:
    free(stats_buf);
    free(p.x);
    free(p.slots);
    free(p.clicks);
    free(p.n);
    free(p.ctx);
    free(b.offsets);
    free(b.x);
    free(b.slots);
    free(b.clicks);
    free(b.ctx);
    holdout_free(&ho);
    cli_letor_free(&vd);
    free(arena);
    return ret;
}
