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
#include "train_opts.h"
#include "sim/ttr_sim.h"

static const char *C = "train";

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
    ttr_weight_avg *avg;       /* --average: evaluated and kept instead of the weights */
} trainer;

/* The model holds the weight average from here to avg_out (nothing without
 * --average or before the first step). */
static void avg_in(trainer *t)
{
    if (t->avg && !ttr_weight_avg_swapped(t->avg))
        (void)ttr_weight_avg_swap(t->avg, t->m);
}

static void avg_out(trainer *t)
{
    if (t->avg && ttr_weight_avg_swapped(t->avg))
        (void)ttr_weight_avg_swap(t->avg, t->m);
}

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
    avg_in(t);
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
    if (err) {
        avg_out(t);
        return cli_err(C, "evaluation failed: %s", ttr_strerror(err));
    }
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
        avg_out(t);
        return 0;
    }
    t->best = score;
    t->best_epoch = epoch;
    t->evals_since_best = 0;
    err = cli_model_snapshot(t->m, t->checkpoint, &t->snap, &t->snap_size);
    avg_out(t);
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
    if (t->avg)
        (void)ttr_weight_avg_update(t->avg, t->m); /* the same model: cannot fail */
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

/* What the first pass over the log found. */
typedef struct log_layout {
    uint32_t rows, cols, F, max_ctx;
    int has_ctx;
    ttr_reader_stats st;
} log_layout;

/* Pass 1: the log's layout (header, else the largest pos and feature index),
 * contexts and sizes. Returns 0, or 1 after printing an error. */
static int scan_log(const char *path, log_layout *lo)
{
    cli_clicks_in in;
    ttr_reader_config rcfg;
    ttr_reader_config_default(&rcfg);
    rcfg.max_items = TTR_DATA_MAX_SLOTS;
    memset(lo, 0, sizeof *lo);
    if (cli_clicks_open(&in, C, path, &rcfg))
        return 1;
    int rc = ttr_clicks_layout(&in.r, &lo->rows, &lo->cols, &lo->F);
    if (rc < 0) {
        cli_clicks_error(&in);
        cli_clicks_close(&in);
        return 1;
    }
    ttr_list l;
    memset(&l, 0, sizeof l);
    uint16_t *sl = malloc(TTR_DATA_MAX_SLOTS * sizeof *sl);
    uint32_t max_pos = 0;
    l.slots = sl;
    while (sl && (rc = cli_clicks_next(&in, &l)) == 1) {
        for (size_t i = 0; i < l.n; i++)
            max_pos = sl[i] > max_pos ? sl[i] : max_pos;
        if (l.has_context) {
            lo->has_ctx = 1;
            lo->max_ctx = l.context > lo->max_ctx ? l.context : lo->max_ctx;
        }
    }
    free(sl);
    ttr_reader_stats_get(&in.r, &lo->st);
    cli_clicks_close(&in);
    if (!sl)
        return cli_err(C, "out of memory");
    if (rc < 0)
        return 1;
    if (!lo->st.lists)
        return cli_err(C, "%s: no lists", path);
    if (!lo->rows) {
        lo->rows = max_pos + 1;
        lo->cols = 1;
    }
    if (!lo->F)
        lo->F = lo->st.max_index ? lo->st.max_index : 1;
    return 0;
}

/* The model being trained and the run's length. */
typedef struct train_run_cfg {
    ttr_model *m;
    void *arena;
    ttr_config cfg;
    uint32_t epochs, batch;
} train_run_cfg;

/* Steps of a run of `epochs` over `lists` lists in batches of `batch`. */
static uint64_t run_steps(uint64_t lists, uint32_t batch, uint32_t epochs)
{
    return (lists + batch - 1) / batch * (uint64_t)epochs;
}

/* --resume: load the model, check it fits the log, set this run's rate.
 * Returns 0, 1 or 2 (printed). */
static int resume_model(const train_opts *o, const log_layout *lo, train_run_cfg *r)
{
    if (o->fixed_given)
        return cli_err(C, "%s cannot change when resuming: %s keeps its configuration "
                          "(--lr and --lr-schedule can)",
                       o->fixed_given, o->resume), 2;
    if (cli_model_load(C, o->resume, &r->m, &r->arena))
        return 1;
    const ttr_config *c = ttr_model_config(r->m);
    if (ttr_model_mode(r->m) != TTR_MODE_TRAIN)
        return cli_err(C, "%s: a serving model cannot be trained", o->resume);
    if (o->variant_name && c->variant != o->variant)
        return cli_err(C, "%s: a %s model, not %s", o->resume, cli_variant_name(c->variant),
                       o->variant_name);
    if (c->n_features != lo->F || c->rows * c->cols < lo->rows * lo->cols ||
        c->max_items < lo->st.max_list || (lo->has_ctx && c->n_contexts <= lo->max_ctx))
        return cli_err(C, "%s: the model's layout (%ux%u slots, %u features) does not fit "
                          "the click log (%ux%u, %u)",
                       o->resume, (unsigned)c->rows, (unsigned)c->cols,
                       (unsigned)c->n_features, (unsigned)lo->rows, (unsigned)lo->cols,
                       (unsigned)lo->F);
    r->batch = c->max_batch;
    r->epochs = o->epochs_given ? o->epochs : default_epochs(lo->st.lists, r->batch);
    /* this run's rate: from the model's lr (or --lr), decaying over this
     * run's steps as a fresh run does (the warm-up lies behind) */
    uint64_t at = ttr_model_steps(r->m), run = run_steps(lo->st.lists, r->batch, r->epochs);
    int decays = o->schedule != TTR_LR_CONSTANT;
    int err = ttr_set_learning_rate(r->m, o->lr > 0 ? o->lr : c->lr, o->schedule,
                                    decays ? at : 0, decays ? at + (run ? run : 1) : 0);
    if (err)
        return cli_err(C, "%s: --lr %g: %s", o->resume, (double)o->lr, ttr_strerror(err)), 2;
    r->cfg = *ttr_model_config(r->m);
    return 0;
}

/* A fresh model of the options' configuration over the log's layout.
 * Returns 0, 1 or 2 (printed). */
static int new_model(const train_opts *o, const log_layout *lo, train_run_cfg *r)
{
    ttr_config *c = &r->cfg;
    ttr_config_default(c, o->variant, lo->F);
    c->n_hidden = (uint32_t)o->n_hidden;
    memcpy(c->hidden, o->hidden, sizeof c->hidden);
    c->rows = lo->rows;
    c->cols = lo->cols;
    c->n_contexts = lo->has_ctx ? lo->max_ctx + 1 : 0;
    c->max_items = (uint32_t)(lo->st.max_list ? lo->st.max_list : 1);
    c->max_batch = r->batch = o->batch;
    c->components = o->components;
    c->dot_dim = o->dim;
    c->embed_dim = o->embed;
    c->attn_dim = o->attn;
    c->loss = o->loss;
    c->optimizer = o->optimizer;
    c->lr = o->lr > 0 ? o->lr : o->optimizer == TTR_OPT_SGD ? 1e-2f : c->lr;
    c->l2 = o->l2;
    c->weight_decay = o->weight_decay;
    r->epochs = o->epochs_given ? o->epochs : default_epochs(lo->st.lists, r->batch);
    /* a decaying schedule reaches 0 at the end of the last epoch */
    uint64_t steps = run_steps(lo->st.lists, r->batch, r->epochs);
    ttr_config_set_steps(c, o->schedule == TTR_LR_CONSTANT ? 0
                            : steps > o->warmup        ? steps
                                                       : o->warmup + 1u);
    c->lr_schedule = o->schedule;
    c->warmup_steps = o->warmup;
    c->bias_hidden = o->bias_hidden;
    c->clip_norm = o->clip;
    c->slot_dropout = o->dropout;
    c->dot_serving = o->dot_serving;
    c->seed = o->seed;
    const char *bad = NULL;
    if (ttr_config_check(c, &bad))
        return cli_err(C, "invalid model configuration (%s)", bad ? bad : "?"), 2;
    size_t bytes = ttr_arena_bytes(c, TTR_MODE_TRAIN);
    r->arena = bytes ? malloc(bytes) : NULL;
    if (!r->arena)
        return cli_err(C, "cannot allocate %zu bytes for the model", bytes);
    int err = ttr_model_init(&r->m, c, TTR_MODE_TRAIN, r->arena, bytes);
    if (err)
        return cli_err(C, "model init failed: %s", ttr_strerror(err));
    return 0;
}

/* Everything the training loop reads, and what owns it. */
typedef struct train_data {
    pool p;
    batch_buf b;
    holdout_set ho;
    cli_letor vd;
    cli_clicks_in in;
    ttr_reader_config rcfg;
    void *stats_buf;
    size_t in_memory; /* lists held whole in the pool, 0 = streaming */
} train_data;

static void train_data_free(train_data *d)
{
    free(d->stats_buf);
    free(d->p.x);
    free(d->p.slots);
    free(d->p.clicks);
    free(d->p.n);
    free(d->p.ctx);
    free(d->b.offsets);
    free(d->b.x);
    free(d->b.slots);
    free(d->b.clicks);
    free(d->b.ctx);
    holdout_free(&d->ho);
    cli_letor_free(&d->vd);
}

/* The shuffle pool (the whole log when it fits in 256 MiB, else --shuffle
 * lists) and the batch buffer. Returns 0 or 1 (printed). */
static int alloc_buffers(const train_opts *o, const log_layout *lo, const train_run_cfg *r,
                         train_data *d)
{
    size_t ML = r->cfg.max_items, F = lo->F, per_list = ML * F * sizeof(float);
    size_t budget = (size_t)256 << 20, B = r->batch;
    size_t cap = !o->stream && lo->st.lists <= budget / per_list ? (size_t)lo->st.lists : 0;
    d->in_memory = cap != 0;
    if (!cap)
        cap = o->shuffle ? (size_t)o->shuffle : 1;
    if (!d->in_memory && cap > 1 && cap * per_list > budget)
        cap = budget / per_list > 1 ? budget / per_list : 1;
    pool *p = &d->p;
    batch_buf *b = &d->b;
    p->cap = cap;
    p->max_items = b->max_items = ML;
    p->F = b->F = F;
    p->x = malloc(cap * per_list);
    p->slots = malloc(cap * ML * sizeof *p->slots);
    p->clicks = malloc(cap * ML);
    p->n = malloc(cap * sizeof *p->n);
    p->ctx = malloc(cap * sizeof *p->ctx);
    b->offsets = malloc((B + 1) * sizeof *b->offsets);
    b->x = malloc(B * per_list);
    b->slots = malloc(B * ML * sizeof *b->slots);
    b->clicks = malloc(B * ML);
    b->ctx = malloc(B * sizeof *b->ctx);
    if (!p->x || !p->slots || !p->clicks || !p->n || !p->ctx || !b->offsets || !b->x ||
        !b->slots || !b->clicks || !b->ctx)
        return cli_err(C, "out of memory");
    b->offsets[0] = 0;
    return 0;
}

/* Pass 2: feature statistics (applied to a fresh model), held-out items,
 * the log into memory when it fits, and the --vali data. Returns 0 or 1. */
static int prepare_data(const train_opts *o, const log_layout *lo, train_run_cfg *r,
                        train_data *d)
{
    size_t ML = r->cfg.max_items, F = lo->F;
    int normalize = o->normalize && !o->resume; /* a resumed model keeps its own */
    ttr_feature_stats *stats = NULL;
    ttr_reader_config_default(&d->rcfg);
    d->rcfg.n_features = (uint32_t)F;
    d->rcfg.max_items = (uint32_t)ML;
    d->rcfg.rows = r->cfg.rows;
    d->rcfg.cols = r->cfg.cols;
    /* held-out lists: at most 10,000 or 64 MiB */
    size_t ho_cap = ((size_t)64 << 20) / (ML * F * sizeof(float) + 4 * ML + 16);
    ho_cap = ho_cap < 10000 ? ho_cap : 10000;
    if (normalize) {
        size_t sb = ttr_feature_stats_bytes((uint32_t)F);
        d->stats_buf = malloc(sb);
        if (d->stats_buf && ttr_feature_stats_init(&stats, (uint32_t)F, d->stats_buf, sb))
            stats = NULL;
    }
    if ((normalize && !stats) ||
        holdout_init(&d->ho, o->vali ? 0.0 : o->holdout, o->seed, F, ML, ho_cap))
        return cli_err(C, "out of memory");
    if (alloc_buffers(o, lo, r, d))
        return 1;
    size_t items = 0, kept = 0;
    if (normalize || d->ho.cap || d->in_memory) {
        if (prepass(&d->in, o->clicks, &d->rcfg, stats, &items, &d->ho,
                    d->in_memory ? &d->p : NULL, &kept))
            return 1;
        if (d->ho.cap && !d->ho.n_lists && !o->quiet)
            printf("no item of %s is held out: the last model is kept\n", o->clicks);
        if (d->in_memory)
            d->in_memory = kept;
    }
    int err = normalize ? ttr_feature_stats_apply(stats, r->m) : TTR_OK;
    if (err)
        return cli_err(C, "normalisation: %s", ttr_strerror(err));
    if (o->vali) {
        char qbuf[4200];
        const char *vq = cli_query_path(o->vali, o->vali_query, qbuf, sizeof qbuf);
        if (cli_letor_load(C, o->vali, vq, (uint32_t)F, &d->vd))
            return 1;
    }
    return 0;
}

/* Train, keep the selected model, save it. Returns 0 or 1 (printed). */
static int fit_and_save(const train_opts *o, const log_layout *lo, train_run_cfg *r,
                        train_data *d)
{
    trainer t;
    memset(&t, 0, sizeof t);
    t.m = r->m;
    t.p = &d->p;
    t.b = &d->b;
    t.ho = &d->ho;
    t.vd = o->vali ? &d->vd : NULL;
    t.in = &d->in;
    t.rcfg = &d->rcfg;
    t.path = o->clicks;
    t.in_memory = d->in_memory;
    t.shuffle = o->shuffle != 0;
    t.has_ctx = lo->has_ctx;
    t.batch = r->batch;
    t.epochs = r->epochs;
    t.quiet = o->quiet;
    t.checkpoint = o->checkpoint;
    t.patience = o->patience;
    t.eval_every = lo->st.lists / o->evals ? lo->st.lists / o->evals : 1;
    t.total_lists = lo->st.lists * (uint64_t)r->epochs;
    ttr_rng_seed(&t.rng, o->seed ^ 0x5eed5eed5eedull);
    size_t bytes = ttr_arena_bytes(&r->cfg, TTR_MODE_TRAIN);
    void *avg_buf = NULL;
    if (o->average > 0.0f) {
        size_t ab = ttr_weight_avg_bytes(t.m);
        if (!(avg_buf = malloc(ab)) || ttr_weight_avg_init(&t.avg, t.m, o->average, avg_buf, ab)) {
            free(avg_buf);
            return cli_err(C, "out of memory");
        }
    }
    if (!o->quiet)
        printf("train %s: %llu lists, %llu items, %ux%u slots, %u features%s; %u epochs, batch %u; "
               "model arena %.1f MB\n",
               cli_variant_name(r->cfg.variant), (unsigned long long)lo->st.lists,
               (unsigned long long)lo->st.items, (unsigned)r->cfg.rows, (unsigned)r->cfg.cols,
               (unsigned)lo->F, o->normalize && !o->resume ? " (normalised)" : "",
               (unsigned)r->epochs, (unsigned)r->batch, (double)bytes / 1e6);
    int ret = train_run(&t);
    if (!ret && !t.snap)
        avg_in(&t); /* no selection: the average of the whole run is kept */
    if (!ret && t.snap) {
        /* the selected model replaces the last one in the arena */
        int err = cli_model_restore(t.snap, t.snap_size, &r->m, r->arena, bytes);
        if (err)
            ret = cli_err(C, "cannot restore the selected model: %s", ttr_strerror(err));
    }
    if (!ret)
        ret = cli_model_save(C, r->m, o->out, o->checkpoint);
    if (!ret && !o->quiet) {
        if (t.snap && o->vali)
            printf("saved %s: epoch %.2f (best vali NDCG@10 %.4f)\n", o->out, t.best_epoch,
                   t.best);
        else if (t.snap)
            printf("saved %s: epoch %.2f (best held-out click log-likelihood %.5f)\n", o->out,
                   t.best_epoch, t.best);
        else
            printf("saved %s\n", o->out);
    }
    free(t.snap);
    free(avg_buf);
    return ret;
}

int ttr_cmd_train(int argc, char **argv)
{
    train_opts o;
    int rc = train_opts_parse(argc, argv, &o);
    if (rc)
        return rc == 1 ? 0 : 2;
    log_layout lo;
    if (scan_log(o.clicks, &lo))
        return 1;
    train_run_cfg r;
    memset(&r, 0, sizeof r);
    rc = o.resume ? resume_model(&o, &lo, &r) : new_model(&o, &lo, &r);
    train_data d;
    memset(&d, 0, sizeof d);
    if (!rc && !(rc = prepare_data(&o, &lo, &r, &d)))
        rc = fit_and_save(&o, &lo, &r, &d);
    train_data_free(&d);
    free(r.arena);
    return rc;
}
