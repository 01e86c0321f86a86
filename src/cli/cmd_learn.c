/* `ttrank learn`: the device's loop on an impression stream (a click log
 * from a file, followed as it grows, or stdin): progressive validation,
 * online training, promotion of a better model, serving files written at
 * each promotion, atomic checkpoints, and resumption after a power cut to
 * the same bits (ttr_loop, include/ttr_loop.h). */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cmd_commands.h"
#include "cmd_model.h"
#include "cmd_util.h"
#include "ttr_loop.h"

static const char *const CMD = "learn";

enum {
    LE_MODEL, LE_CLICKS, LE_STATE, LE_SERVE_OUT, LE_INT8_OUT, LE_MODEL_OUT, LE_INIT, LE_FOLLOW, LE_PROGRESS,
    LE_CHECKPOINT_EVERY, LE_HIDDEN, LE_LR, LE_SEED, LE_CAPACITY, LE_TRAIN_EVERY, LE_REPLAY,
    LE_WINDOW, LE_PROMOTE_MARGIN, LE_ROLLBACK_MARGIN, LE_MIN_GAIN, LE_F32_BUFFER, LE_TAG,
    LE_NORM_LISTS, LE_COUNT
};

/* The flags that set up a new loop: refused with an existing --state. */
static const int g_setup_flags[] = {LE_INIT,   LE_HIDDEN,       LE_LR,          LE_SEED,
                                    LE_CAPACITY, LE_TRAIN_EVERY, LE_REPLAY,     LE_WINDOW,
                                    LE_PROMOTE_MARGIN, LE_ROLLBACK_MARGIN, LE_MIN_GAIN,
                                    LE_F32_BUFFER, LE_NORM_LISTS};

static void learn_usage(FILE *f)
{
    fprintf(f,
            "Usage: ttrank learn --clicks FILE|- --state CKPT [--model VARIANT] [options]\n"
            "Learns from an impression stream (the click-log format) as a device does: each\n"
            "list is predicted by the learner and the champion before the learner trains on\n"
            "it; the learner replaces the champion only when it predicts clicks better.\n"
            "Resumes from CKPT when it exists (skipping the lists it has already taken).\n"
            "  --clicks FILE|-        the stream; '-' reads stdin\n"
            "  --state CKPT           the loop's checkpoint (written atomically)\n"
            "  --model VARIANT        naive|additive|pal|dot|mixem|xpa for a new loop (additive)\n"
            "  --serve-out F.ttr      the champion's f32 serving model, at start and each promotion\n"
            "  --int8-out F8.ttr      the same as an int8 model\n"
            "  --model-out M.ttr      the same as a train model (for export and average)\n"
            "  --follow               at the end of FILE wait for more (stop with Ctrl-C)\n"
            "  --progress N           a progress line every N impressions (10000)\n"
            "  --checkpoint-every N   a checkpoint every N impressions (10000; and at the end)\n"
            "  --init MODEL.ttr       start from a trained model (its layout and normalisation)\n"
            "  --norm-lists N         without --init: the normalisation from the first N lists (1000)\n"
            "  --hidden W1,W2,..  --lr X  --seed S  --tag TEXT    the learner (new loops)\n"
            "  --capacity N (256)  --train-every N (12)  --replay N (4)  --window N (4096)\n"
            "  --promote-margin X (0.0005)  --rollback-margin X (0.02)  --min-gain X (0.01)\n"
            "  --f32-buffer           keep the buffer's features in f32 (default bfloat16)\n");
}

/* ---- the stream ------------------------------------------------------------------- */

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

typedef struct stream {
    FILE *f;
    int follow, stopped; /* stopped: the end came from a stop, the last list may be partial */
} stream;

/* Read callback: with --follow, the end of the file is waited out. */
static size_t stream_read(void *ctx, void *buf, size_t n)
{
    stream *s = ctx;
    for (;;) {
        size_t r = fread(buf, 1, n, s->f);
        if (r > 0)
            return r;
        if (ferror(s->f))
            return TTR_READ_ERROR;
        if (!s->follow || g_stop) {
            s->stopped = g_stop != 0;
            return 0;
        }
        clearerr(s->f);
        struct timespec ts = {0, 200 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

typedef struct learn_ctx {
    cli_flag *fl;
    const char *state, *outs[3]; /* --serve-out, --int8-out, --model-out */
    ttr_loop *L;
    void *buf;
    uint64_t progress_every, checkpoint_every, refused;
    double t0;
    uint64_t n0;
    /* one list */
    float *x;
    uint16_t *slots;
    uint8_t *clicks;
} learn_ctx;

/* ---- setting up ------------------------------------------------------------------- */

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* The loop configuration from the flags. */
static int loop_flags(cli_flag *fl, ttr_loop_config *lc)
{
    ttr_loop_config_default(lc);
    if (cli_u32(CMD, &fl[LE_CAPACITY], 1, 1u << 24, &lc->capacity) ||
        cli_u32(CMD, &fl[LE_TRAIN_EVERY], 1, 65536, &lc->train_every) ||
        cli_u32(CMD, &fl[LE_REPLAY], 0, 65536, &lc->replay) ||
        cli_u32(CMD, &fl[LE_WINDOW], 16, 1u << 24, &lc->window) ||
        cli_float(CMD, &fl[LE_PROMOTE_MARGIN], 0, 10, &lc->promote_margin) ||
        cli_float(CMD, &fl[LE_ROLLBACK_MARGIN], 1e-9, 10, &lc->rollback_margin) ||
        cli_float(CMD, &fl[LE_MIN_GAIN], 0, 10, &lc->min_gain) ||
        cli_u64(CMD, &fl[LE_SEED], 0, UINT64_MAX, &lc->seed))
        return 2;
    if (fl[LE_F32_BUFFER].seen)
        lc->precision = TTR_REPLAY_F32;
    return 0;
}

/* The model configuration of a new loop: --init's, or the variant's
 * defaults on the stream's layout. */
static int model_flags(cli_flag *fl, const ttr_model *init, uint32_t rows, uint32_t cols,
                       uint32_t F, ttr_config *mc)
{
    ttr_variant v = TTR_ADDITIVE;
    if (fl[LE_MODEL].seen && cli_variant_parse(cli_str(&fl[LE_MODEL], ""), &v))
        return cli_err(CMD, "--model: unknown variant '%s'", cli_str(&fl[LE_MODEL], "")) + 1;
    if (init) {
        *mc = *ttr_model_config(init);
        if (fl[LE_MODEL].seen && v != mc->variant)
            return cli_err(CMD, "--model %s differs from --init's %s",
                           cli_str(&fl[LE_MODEL], ""), cli_variant_name(mc->variant)) + 1;
    } else {
        if (!F || !rows)
            return cli_err(CMD, "%s: a new loop needs the click log's layout header "
                                "(# ttrank-clicks v1 rows=R cols=C F=N) or --init",
                           cli_str(&fl[LE_CLICKS], "")) + 1;
        ttr_config_default(mc, v, F);
        mc->rows = rows;
        mc->cols = cols;
        mc->max_items = rows * cols;
    }
    if (fl[LE_HIDDEN].seen) {
        int n = cli_u32_list(cli_str(&fl[LE_HIDDEN], ""), mc->hidden, TTR_MAX_HIDDEN);
        if (n < 0 || init)
            return cli_err(CMD, init ? "--hidden: the layout is --init's"
                                     : "--hidden: expected W1,W2,... (at most 4 widths)") + 1;
        mc->n_hidden = (uint32_t)n;
        for (int i = n; i < TTR_MAX_HIDDEN; i++)
            mc->hidden[i] = 0;
    }
    if (cli_float(CMD, &fl[LE_LR], 1e-9, 10, &mc->lr) ||
        cli_u64(CMD, &fl[LE_SEED], 0, UINT64_MAX, &mc->seed))
        return 2;
    (void)ttr_config_set_steps(mc, 0); /* learning without an end: a constant rate */
    return 0;
}

/* ---- outputs ------------------------------------------------------------------------ */

/* The champion's files: f32 and int8 serving models and the train model,
 * each saved atomically. */
static int write_outputs(learn_ctx *c)
{
    const ttr_model *champ = ttr_loop_champion(c->L);
    const ttr_config *mc = ttr_model_config(champ);
    for (int k = 0; k < 3; k++) {
        const char *out = c->outs[k];
        if (!out)
            continue;
        if (k == 2) {
            if (cli_model_save(CMD, champ, out, 0))
                return 1;
            continue;
        }
        ttr_mode mode = k ? TTR_MODE_SERVE_S8 : TTR_MODE_SERVE_F32;
        size_t bytes = ttr_arena_bytes(mc, mode);
        void *arena = malloc(bytes);
        ttr_model *s = NULL;
        if (!arena)
            return cli_err(CMD, "out of memory");
        int err = k ? ttr_model_quantize(champ, &s, arena, bytes)
                    : ttr_model_to_serving(champ, &s, arena, bytes);
        int rc = err ? cli_err(CMD, "%s: %s", out, ttr_strerror(err))
                     : cli_model_save(CMD, s, out, 0);
        free(arena);
        if (rc)
            return rc;
    }
    return 0;
}

static int checkpoint(learn_ctx *c)
{
    int err = ttr_loop_save_file(c->L, c->state);
    if (err)
        return cli_err(CMD, "%s: cannot save the checkpoint (%s%s%s)", c->state,
                       ttr_strerror(err), errno ? ": " : "", errno ? strerror(errno) : "");
    return 0;
}

static void progress_line(learn_ctx *c, const char *what)
{
    ttr_loop_stats st;
    (void)ttr_loop_stats_get(c->L, &st);
    double dt = cli_now() - c->t0;
    double rate = dt > 0 ? (double)(st.impressions - c->n0) / dt : 0.0;
    printf("learn: %s%llu impressions (%.0f/s); ", what, (unsigned long long)st.impressions, rate);
    if (st.window_impressions) /* empty right after a promotion or rollback */
        printf("click log-likelihood per item over the last %u: learner %.4f, champion %.4f, "
               "constant rate %.4f; ", (unsigned)st.window_impressions, st.window_learner,
               st.window_champion, st.window_constant);
    printf("promotions %llu, rollbacks %llu", (unsigned long long)st.promotions,
           (unsigned long long)st.rollbacks);
    if (c->refused)
        printf(", %llu lists refused", (unsigned long long)c->refused);
    if (st.failed_steps)
        printf(", %llu training steps refused (non-finite)", (unsigned long long)st.failed_steps);
    printf("\n");
    fflush(stdout);
}

/* ---- the loop ----------------------------------------------------------------------- */

/* One list of the stream into the loop; the cursor counts it either way. */
static int take(learn_ctx *c, const ttr_list *l)
{
    ttr_loop_event ev;
    int err = ttr_loop_observe(c->L, l->n, c->x, ttr_model_config(ttr_loop_learner(c->L))->n_features,
                               c->slots, c->clicks, l->context, &ev);
    (void)ttr_loop_set_cursor(c->L, ttr_loop_cursor(c->L) + 1);
    if (err) {
        if (!c->refused)
            fprintf(stderr, "ttrank learn: line %lu: list refused (%s); further refusals are "
                            "counted in the progress lines\n", l->line, ttr_strerror(err));
        c->refused++;
        return 0;
    }
    if (ev.train_error && ev.train_error != TTR_ERR_NONFINITE)
        return cli_err(CMD, "training step: %s", ttr_strerror(ev.train_error));
    uint64_t n = ttr_loop_cursor(c->L) - c->refused;
    if (ev.promoted) {
        progress_line(c, "promoted at ");
        if (write_outputs(c))
            return 1;
    }
    if (c->progress_every && n % c->progress_every == 0)
        progress_line(c, "");
    if (c->checkpoint_every && n % c->checkpoint_every == 0 && checkpoint(c))
        return 1;
    return 0;
}

/* Feed the stream to the loop from its cursor on: the lists a resumed
 * loop has already taken are read and skipped. */
static int run(learn_ctx *c, cli_clicks_in *in, stream *s, uint64_t skip)
{
    ttr_list l;
    memset(&l, 0, sizeof l);
    l.x = c->x;
    l.ldx = ttr_model_config(ttr_loop_learner(c->L))->n_features;
    l.slots = c->slots;
    l.clicks = c->clicks;
    for (uint64_t k = 0;; k++) {
        int rc = ttr_reader_next(&in->r, &l);
        if (rc < 0)
            return cli_clicks_error(in);
        if (rc == 0 || (s->stopped && rc > 0))
            return 0; /* the end, or a stop: a list cut by it is read again on resume */
        if (k < skip)
            continue;
        if (take(c, &l))
            return 1;
        if (g_stop && !s->follow)
            return 0;
    }
}

/* A new loop's normalisation: the feature statistics of the first lists of
 * the stream, which are kept and then taken in order. */
typedef struct stash {
    size_t n, cap, F, N;
    float *x;
    uint16_t *slots;
    uint8_t *clicks;
    size_t *items;
    uint32_t *ctx;
    unsigned long *line;
} stash;

static void stash_free(stash *s)
{
    free(s->x), free(s->slots), free(s->clicks), free(s->items), free(s->ctx), free(s->line);
}

static int stash_read(stash *s, cli_clicks_in *in, stream *st, size_t want, size_t F, size_t N)
{
    memset(s, 0, sizeof *s);
    s->F = F, s->N = N, s->cap = want;
    s->x = malloc(want * N * F * sizeof(float));
    s->slots = malloc(want * N * sizeof(uint16_t));
    s->clicks = malloc(want * N);
    s->items = malloc(want * sizeof(size_t));
    s->ctx = malloc(want * sizeof(uint32_t));
    s->line = malloc(want * sizeof(unsigned long));
    if (!s->x || !s->slots || !s->clicks || !s->items || !s->ctx || !s->line)
        return cli_err(CMD, "out of memory");
    while (s->n < want && !g_stop) {
        ttr_list l;
        memset(&l, 0, sizeof l);
        l.x = s->x + s->n * N * F;
        l.ldx = F;
        l.slots = s->slots + s->n * N;
        l.clicks = s->clicks + s->n * N;
        int rc = ttr_reader_next(&in->r, &l);
        if (rc < 0)
            return cli_clicks_error(in);
        if (rc == 0 || st->stopped)
            break;
        s->items[s->n] = l.n;
        s->ctx[s->n] = l.context;
        s->line[s->n] = l.line;
        s->n++;
    }
    return 0;
}

/* A fresh learner normalised on the stash (or --init's model), tagged. */
static int start_model(learn_ctx *c, const ttr_config *mc, const stash *s, ttr_model *init)
{
    size_t bytes = ttr_arena_bytes(mc, TTR_MODE_TRAIN);
    void *arena = init ? NULL : malloc(bytes);
    ttr_model *m = init;
    int err = 0;
    if (!init) {
        if (!arena)
            return cli_err(CMD, "out of memory");
        err = ttr_model_init(&m, mc, TTR_MODE_TRAIN, arena, bytes);
        size_t sb = ttr_feature_stats_bytes(mc->n_features);
        void *sbuf = malloc(sb);
        ttr_feature_stats *fs;
        if (!err && !sbuf)
            err = TTR_ERR_NOMEM;
        if (!err)
            err = ttr_feature_stats_init(&fs, mc->n_features, sbuf, sb);
        for (size_t i = 0; !err && i < s->n; i++)
            err = ttr_feature_stats_add(fs, s->items[i], s->x + i * s->N * s->F, s->F);
        if (!err && s->n)
            err = ttr_feature_stats_apply(fs, m);
        free(sbuf);
    }
    if (!err && c->fl[LE_TAG].seen)
        err = ttr_set_model_tag(m, cli_str(&c->fl[LE_TAG], ""));
    if (!err)
        err = ttr_loop_start_from(c->L, m);
    free(arena);
    return err ? cli_err(CMD, "starting the loop: %s%s", ttr_strerror(err),
                         err == TTR_ERR_ARG && c->fl[LE_TAG].seen
                             ? " (a --tag has at most 48 printable ASCII characters)"
                             : "")
               : 0;
}

/* A new loop: configurations from the flags, the stream's layout or --init. */
static int new_loop(learn_ctx *c, cli_clicks_in *in, stream *st, ttr_model *init)
{
    cli_flag *fl = c->fl;
    uint32_t rows = 0, cols = 0, F = 0, norm_lists = 1000;
    ttr_config mc;
    ttr_loop_config lc;
    stash s;
    memset(&s, 0, sizeof s);
    int rc = 0;
    if (ttr_clicks_layout(&in->r, &rows, &cols, &F) < 0)
        rc = cli_clicks_error(in);
    if (!rc)
        rc = model_flags(fl, init, rows, cols, F, &mc);
    if (!rc && init && F && F != mc.n_features)
        rc = cli_err(CMD, "the stream has %u features, --init's model %u", (unsigned)F,
                     (unsigned)mc.n_features);
    if (!rc)
        rc = loop_flags(fl, &lc) || cli_u32(CMD, &fl[LE_NORM_LISTS], 0, 1u << 24, &norm_lists);
    if (!rc && mc.max_batch < lc.train_every + lc.replay)
        mc.max_batch = lc.train_every + lc.replay; /* a step's lists; the layout is the same */
    const char *bad = NULL;
    if (!rc && ttr_loop_config_check(&mc, &lc, &bad))
        rc = cli_err(CMD, "%s", bad);
    size_t bytes = rc ? 0 : ttr_loop_bytes(&mc, &lc);
    if (!rc && !(c->buf = malloc(bytes)))
        rc = cli_err(CMD, "out of memory (%zu bytes for the loop)", bytes);
    if (!rc && ttr_loop_init(&c->L, &mc, &lc, c->buf, bytes))
        rc = cli_err(CMD, "cannot set up the loop");
    if (!rc && !init)
        rc = stash_read(&s, in, st, norm_lists, mc.n_features, 1024);
    if (!rc)
        rc = start_model(c, &mc, &s, init);
    if (!rc)
        printf("learn: new %s loop, %zu bytes (learner, champion, buffer of %u lists); "
               "normalisation from %s\n",
               cli_variant_name(mc.variant), bytes, (unsigned)lc.capacity,
               init ? "--init's model" : s.n ? "the first lists" : "none (no lists)");
    if (!rc)
        rc = write_outputs(c);
    for (size_t i = 0; !rc && i < s.n; i++) {
        ttr_list l;
        memset(&l, 0, sizeof l);
        l.n = s.items[i];
        l.context = s.ctx[i];
        l.line = s.line[i];
        memcpy(c->x, s.x + i * s.N * s.F, s.items[i] * s.F * sizeof(float));
        memcpy(c->slots, s.slots + i * s.N, s.items[i] * sizeof(uint16_t));
        memcpy(c->clicks, s.clicks + i * s.N, s.items[i]);
        rc = take(c, &l);
    }
    stash_free(&s);
    return rc;
}

/* --init: a trained model to start from. */
static int load_init(learn_ctx *c, ttr_model **m, void **arena)
{
    const char *path = cli_str(&c->fl[LE_INIT], "");
    if (cli_model_load(CMD, path, m, arena))
        return 1;
    if (ttr_model_mode(*m) != TTR_MODE_TRAIN)
        return cli_err(CMD, "--init: %s is a serving model; learning needs a trained model "
                            "(ttrank train's output)", path);
    return 0;
}

/* An existing loop: the checkpoint's configurations; setup flags refused. */
static int resume_loop(learn_ctx *c)
{
    for (size_t i = 0; i < sizeof g_setup_flags / sizeof g_setup_flags[0]; i++)
        if (c->fl[g_setup_flags[i]].seen)
            return cli_err(CMD, "%s: with an existing --state the loop resumes as it was "
                                "set up; remove the checkpoint to start a new one",
                           c->fl[g_setup_flags[i]].name);
    ttr_config mc;
    ttr_loop_config lc;
    int err = ttr_loop_file_config(c->state, &mc, &lc);
    if (err)
        return cli_err(CMD, "%s: not a loadable loop checkpoint (%s)", c->state,
                       ttr_strerror(err));
    ttr_variant v;
    if (c->fl[LE_MODEL].seen &&
        (cli_variant_parse(cli_str(&c->fl[LE_MODEL], ""), &v) || v != mc.variant))
        return cli_err(CMD, "--model %s: the checkpoint holds a %s loop",
                       cli_str(&c->fl[LE_MODEL], ""), cli_variant_name(mc.variant));
    size_t bytes = ttr_loop_bytes(&mc, &lc);
    if (!(c->buf = malloc(bytes)))
        return cli_err(CMD, "out of memory (%zu bytes for the loop)", bytes);
    if ((err = ttr_loop_load_file(&c->L, c->buf, bytes, c->state)) != 0)
        return cli_err(CMD, "%s: %s", c->state, ttr_strerror(err));
    printf("learn: resuming a %s loop from %s after %llu lists\n", cli_variant_name(mc.variant),
           c->state, (unsigned long long)ttr_loop_cursor(c->L));
    for (int k = 0; k < 3; k++)
        if (c->outs[k] && !file_exists(c->outs[k]))
            return write_outputs(c);
    return 0;
}

static int open_stream(learn_ctx *c, cli_clicks_in *in, stream *s, const ttr_config *mc)
{
    const char *path = cli_str(&c->fl[LE_CLICKS], "-");
    memset(in, 0, sizeof *in);
    in->cmd = CMD;
    in->path = path;
    s->follow = c->fl[LE_FOLLOW].seen;
    if (!strcmp(path, "-") && s->follow)
        return cli_err(CMD, "--follow reads a file; stdin is followed anyway");
    s->f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!s->f)
        return cli_err(CMD, "%s: %s", path, strerror(errno));
    in->f = s->f == stdin ? NULL : s->f; /* cli_clicks_close closes it */
    if (!(in->buf = malloc(CLI_LINE_BUF)))
        return cli_err(CMD, "out of memory");
    in->src = ttr_source_callback(stream_read, s, in->buf, CLI_LINE_BUF);
    ttr_reader_config rc;
    ttr_reader_config_default(&rc);
    if (mc) { /* a loop exists: the stream must match it */
        rc.n_features = mc->n_features;
        rc.rows = mc->rows;
        rc.cols = mc->cols;
        rc.n_contexts = mc->n_contexts;
    }
    int err = ttr_clicks_open(&in->r, &rc, &in->src);
    return err ? cli_err(CMD, "%s: %s", path, ttr_strerror(err)) : 0;
}

int ttr_cmd_learn(int argc, char **argv)
{
    cli_flag fl[LE_COUNT] = {
        [LE_MODEL] = {"--model", 1, 0, 0},          [LE_CLICKS] = {"--clicks", 1, 0, 0},
        [LE_STATE] = {"--state", 1, 0, 0},          [LE_SERVE_OUT] = {"--serve-out", 1, 0, 0},
        [LE_INT8_OUT] = {"--int8-out", 1, 0, 0},    [LE_INIT] = {"--init", 1, 0, 0},
        [LE_MODEL_OUT] = {"--model-out", 1, 0, 0},
        [LE_FOLLOW] = {"--follow", 0, 0, 0},        [LE_PROGRESS] = {"--progress", 1, 0, 0},
        [LE_CHECKPOINT_EVERY] = {"--checkpoint-every", 1, 0, 0},
        [LE_HIDDEN] = {"--hidden", 1, 0, 0},        [LE_LR] = {"--lr", 1, 0, 0},
        [LE_SEED] = {"--seed", 1, 0, 0},            [LE_CAPACITY] = {"--capacity", 1, 0, 0},
        [LE_TRAIN_EVERY] = {"--train-every", 1, 0, 0}, [LE_REPLAY] = {"--replay", 1, 0, 0},
        [LE_WINDOW] = {"--window", 1, 0, 0},
        [LE_PROMOTE_MARGIN] = {"--promote-margin", 1, 0, 0},
        [LE_ROLLBACK_MARGIN] = {"--rollback-margin", 1, 0, 0},
        [LE_MIN_GAIN] = {"--min-gain", 1, 0, 0},    [LE_F32_BUFFER] = {"--f32-buffer", 0, 0, 0},
        [LE_TAG] = {"--tag", 1, 0, 0},              [LE_NORM_LISTS] = {"--norm-lists", 1, 0, 0},
    };
    int rc = cli_parse(CMD, argc, argv, fl, LE_COUNT, NULL, 0, NULL);
    if (rc == 1) {
        learn_usage(stdout);
        return 0;
    }
    if (rc || cli_need(CMD, &fl[LE_CLICKS]) || cli_need(CMD, &fl[LE_STATE]))
        return 2;
    learn_ctx c;
    memset(&c, 0, sizeof c);
    c.fl = fl;
    c.state = cli_str(&fl[LE_STATE], NULL);
    c.outs[0] = cli_str(&fl[LE_SERVE_OUT], NULL);
    c.outs[1] = cli_str(&fl[LE_INT8_OUT], NULL);
    c.outs[2] = cli_str(&fl[LE_MODEL_OUT], NULL);
    c.progress_every = c.checkpoint_every = 10000;
    if (cli_u64(CMD, &fl[LE_PROGRESS], 0, UINT64_MAX, &c.progress_every) ||
        cli_u64(CMD, &fl[LE_CHECKPOINT_EVERY], 0, UINT64_MAX, &c.checkpoint_every))
        return 2;
    cli_clicks_in in;
    memset(&in, 0, sizeof in);
    stream s = {NULL, 0, 0};
    ttr_model *init = NULL;
    void *init_arena = NULL;
    const ttr_config *known = NULL; /* the layout, when a model gives it */
    int resuming = file_exists(c.state);
    if (resuming && !(rc = resume_loop(&c)))
        known = ttr_model_config(ttr_loop_learner(c.L));
    if (!resuming && fl[LE_INIT].seen && !(rc = load_init(&c, &init, &init_arena)))
        known = ttr_model_config(init);
    if (!rc)
        rc = open_stream(&c, &in, &s, known);
    /* one list: the reader's longest (TTR_DATA_MAX_ITEMS) of the stream's features */
    uint32_t F = known ? known->n_features : 0;
    if (!rc && !F && ttr_clicks_layout(&in.r, NULL, NULL, &F) < 0)
        rc = cli_clicks_error(&in);
    if (!rc && !F)
        rc = cli_err(CMD, "%s: a new loop needs the click log's layout header "
                          "(# ttrank-clicks v1 rows=R cols=C F=N) or --init",
                     cli_str(&fl[LE_CLICKS], ""));
    if (!rc) {
        c.x = malloc((size_t)TTR_DATA_MAX_ITEMS * (F ? F : 1) * sizeof(float));
        c.slots = malloc(TTR_DATA_MAX_ITEMS * sizeof(uint16_t));
        c.clicks = malloc(TTR_DATA_MAX_ITEMS);
        if (!c.x || !c.slots || !c.clicks)
            rc = cli_err(CMD, "out of memory");
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (!rc && !resuming)
        rc = new_loop(&c, &in, &s, init);
    int ready = !rc; /* a loop worth a checkpoint, even if the stream fails later */
    if (!rc) {
        c.t0 = cli_now();
        ttr_loop_stats st;
        (void)ttr_loop_stats_get(c.L, &st);
        c.n0 = st.impressions;
        rc = run(&c, &in, &s, resuming ? ttr_loop_cursor(c.L) : 0);
    }
    if (ready && checkpoint(&c))
        rc = 1;
    if (ready && !rc)
        progress_line(&c, g_stop ? "stopped after " : "done: ");
    if (in.buf || in.f)
        cli_clicks_close(&in);
    free(c.x), free(c.slots), free(c.clicks), free(c.buf), free(init_arena);
    return rc;
}
