/* ttrank — position-debiasing two-tower ranking models, trained and served on
 * the device inside one caller-owned memory arena.
 *
 * A model learns from impressions: lists of items that were shown, each with
 * a feature vector, the slot it was shown in and whether it was clicked. The
 * click logit splits into a relevance tower f(x) and a bias tower g(slot,
 * context); ranking uses the relevance tower alone. The variants (see
 * docs/design.md §2):
 *
 *   TTR_NAIVE     z = f(x)                                  (no debiasing)
 *   TTR_ADDITIVE  z = f(x) + g(p, k)                        (YouTube shallow tower)
 *   TTR_PAL       P(click) = sigma(f(x)) * sigma(g(p, k))   (PAL product form)
 *   TTR_DOT       z = r(x) . b(p, k), r, b in R^D           (serves r(x) . b_ref)
 *   TTR_MIXEM     mixture of K (w_m f(x) + g_m(p, k)), trained by generalized EM
 *   TTR_XPA       z = f(x) + g(e) + u . h~ + v . e~ + c0    (cross-positional attention)
 *
 * XPA: e is the slot's embedding; h~ and e~ are the attention-weighted means
 * of the relevance tower's last hidden features h(x) and of the embeddings of
 * the list's *other* items (an item does not attend to itself; alone in its
 * list it has h~ = e~ = 0). The neighbour term u . h~ reads h(x) but does not
 * train the relevance tower, so the bias side cannot bend the features that
 * ranking uses.
 *
 * Memory: ttr_arena_bytes() gives the exact size of the buffer that
 * ttr_model_init() needs for a configuration and mode. The library never
 * calls malloc or free, keeps no global state besides the CPU dispatch table,
 * and never prints. Threads: any number may score one model at once with
 * ttr_score_with_scratch (each its own scratch) while none changes it; every
 * other call on a model (ttr_score and the read-outs included, which use the
 * model's own scratch) needs the model to itself.
 *
 * Errors: functions return TTR_OK (0) or a negative ttr_error code
 * (ttr_strerror() names it). On error a model is left exactly as it was. */
#ifndef TTRANK_H
#define TTRANK_H

#include <stddef.h>
#include <stdint.h>

#include "ttr_error.h"
#include "ttr_kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The library's version. TTR_VERSION_NUMBER is major * 10000 + minor *
 * 100 + patch; ttr_version() and ttr_version_number() give the version of
 * the library linked at run time (a shared library may be newer than the
 * header an app was built with). */
#define TTR_VERSION_MAJOR 0
#define TTR_VERSION_MINOR 2
#define TTR_VERSION_PATCH 0
#define TTR_VERSION_STRING "0.2.0"
#define TTR_VERSION_NUMBER (TTR_VERSION_MAJOR * 10000 + TTR_VERSION_MINOR * 100 + TTR_VERSION_PATCH)
TTR_API const char *ttr_version(void);
TTR_API uint32_t ttr_version_number(void);

typedef enum ttr_variant {
    TTR_NAIVE = 0,
    TTR_ADDITIVE = 1,
    TTR_PAL = 2,
    TTR_DOT = 3,
    TTR_MIXEM = 4,
    TTR_XPA = 5
} ttr_variant;

typedef enum ttr_loss {
    TTR_LOSS_BCE = 0,     /* pointwise binary cross-entropy on every item (all variants) */
    TTR_LOSS_SOFTMAX = 1  /* listwise softmax cross-entropy over each list (naive, additive) */
} ttr_loss;

typedef enum ttr_optimizer {
    TTR_OPT_ADAM = 0,
    TTR_OPT_SGD = 1       /* SGD with momentum */
} ttr_optimizer;

/* Learning-rate schedule over optimizer steps t = 1, 2, ... (ttr_lr_at). */
typedef enum ttr_lr_schedule {
    TTR_LR_CONSTANT = 0, /* lr after the warm-up */
    TTR_LR_COSINE = 1,   /* lr * (1 + cos(pi * progress)) / 2 from the end of the warm-up to decay_steps */
    TTR_LR_LINEAR = 2    /* lr * (1 - progress), the same span */
} ttr_lr_schedule;

typedef enum ttr_mode {
    TTR_MODE_TRAIN = 0,     /* all towers, gradients, optimizer state */
    TTR_MODE_SERVE_F32 = 1, /* the relevance tower only, packed f32 */
    TTR_MODE_SERVE_S8 = 2   /* the relevance tower only, int8 (see ttr_model_quantize) */
} ttr_mode;

typedef enum ttr_dot_serving {
    TTR_DOT_REF_MEAN = 0, /* b_ref = running mean of b(p, k) over training impressions */
    TTR_DOT_REF_TOP = 1   /* b_ref = b(top slot, context 0) */
} ttr_dot_serving;

#define TTR_MAX_HIDDEN 4      /* hidden layers of the relevance tower */
#define TTR_MAX_COMPONENTS 8  /* MixEM components */
#define TTR_MAX_SLOTS 1024    /* rows * cols */

/* Model configuration. Start from ttr_config_default() and change fields;
 * ranges are checked by ttr_config_check(). */
typedef struct ttr_config {
    ttr_variant variant;
    uint32_t n_features;            /* F: 1..65536 */
    uint32_t n_hidden;              /* hidden layers of f: 0..TTR_MAX_HIDDEN (default 2) */
    uint32_t hidden[TTR_MAX_HIDDEN];/* their widths: 1..4096 (default 32, 16) */
    uint32_t rows, cols;            /* slot grid, slot p = row * cols + col; a list is cols = 1.
                                       rows * cols: 1..TTR_MAX_SLOTS (default 10 x 1) */
    uint32_t n_contexts;            /* 0 (no context) or 1..65536 context ids */
    uint32_t embed_dim;             /* d_e of the slot embedding: 1..256 (default 8) */
    uint32_t bias_hidden;           /* hidden width of the bias tower, 0 = linear (default 8) */
    uint32_t dot_dim;               /* D of the dot variant: 2..64 (default 4) */
    uint32_t components;            /* K of MixEM: 2..TTR_MAX_COMPONENTS (default 2) */
    uint32_t attn_dim;              /* d_a of XPA: 1..64 (default 8) */
    uint32_t max_items;             /* longest list: 1..1024 (default 10) */
    uint32_t max_batch;             /* lists per ttr_train() call: 1..65536 (default 256) */
    ttr_loss loss;                  /* default TTR_LOSS_BCE */
    ttr_optimizer optimizer;        /* default TTR_OPT_ADAM */
    float lr;                       /* learning rate, > 0 (default 3e-3; 1e-2 suits SGD) */
    float beta1, beta2, adam_eps;   /* Adam (0.9, 0.999, 1e-8) */
    float momentum;                 /* SGD momentum in [0, 1) (default 0.9) */
    float l2;                       /* L2 penalty on weight matrices and embeddings, added to
                                       their gradients (coupled), >= 0 (default 0) */
    float weight_decay;             /* decoupled weight decay (AdamW): before each update the
                                       same tensors shrink by w *= 1 - lr_t * weight_decay,
                                       lr_t the scheduled rate; >= 0, lr * weight_decay <= 1
                                       (default 1e-3) */
    uint64_t warmup_steps;          /* linear warm-up from lr / warmup_steps to lr (default 0) */
    uint64_t decay_steps;           /* step at which a decaying schedule reaches 0; it stays 0
                                       after (training then stops moving). Required (> warmup)
                                       for TTR_LR_COSINE and TTR_LR_LINEAR (default 0) */
    ttr_lr_schedule lr_schedule;    /* default TTR_LR_CONSTANT; ttr_config_set_steps() sets
                                       the recipe's cosine decay */
    float clip_norm;                /* global gradient-norm clip, 0 = off (default 0) */
    float slot_dropout;             /* additive/PAL: P(slot -> unknown slot) in [0, 1) (default 0.1) */
    ttr_dot_serving dot_serving;    /* default TTR_DOT_REF_MEAN */
    uint64_t seed;                  /* initialisation and dropout; same seed + ISA => same bits */
} ttr_config;

/* Fill `cfg` with the defaults above for `variant` and `n_features`. They
 * are the recipe chosen on simulated click logs of two data sets, five user
 * scenarios and two logging rankers (docs/training.md): relevance tower
 * 32-16, a bias tower with a hidden layer of 8, batches of 256 lists, Adam at
 * 3e-3 with decoupled weight decay 1e-3; with ttr_config_set_steps(), a
 * cosine decay of the rate over the run; and early stopping on held-out
 * items (ttr_item_held_out), which is the training loop's part. */
TTR_API void ttr_config_default(ttr_config *cfg, ttr_variant variant, uint32_t n_features);

/* The run will take total_steps optimizer steps (e.g. epochs x lists /
 * max_batch): decay the learning rate to 0 over them with the default
 * schedule (cosine, no warm-up). total_steps 0 = a constant rate (learning
 * without an end, e.g. online). Sets lr_schedule, warmup_steps and
 * decay_steps. TTR_ERR_ARG for a NULL cfg. */
TTR_API int ttr_config_set_steps(ttr_config *cfg, uint64_t total_steps);

/* The learning rate of optimizer step `step` (the first step is 1) under
 * cfg's lr, lr_schedule, warmup_steps and decay_steps: lr * min(1, step /
 * warmup_steps) * decay(step), decay the schedule's factor of the progress
 * (step - warmup_steps) / (decay_steps - warmup_steps) clamped to [0, 1].
 * Step 0 is treated as 1. 0 for a NULL cfg. Pure, thread-safe. */
TTR_API float ttr_lr_at(const ttr_config *cfg, uint64_t step);

/* Check every field. Returns TTR_OK, or TTR_ERR_ARG and, if `bad_field` is
 * not NULL, points it at a static string that starts with the name of the
 * first offending field and says what it must be, e.g. "hidden[1] must be
 * 1..4096" (the name is the text before the first space). */
TTR_API int ttr_config_check(const ttr_config *cfg, const char **bad_field);

/* Exact bytes ttr_model_init() needs for `cfg` in `mode` (0 if cfg is
 * invalid, or if the size does not fit in size_t on this target). Includes the model header, weights, packed weights, optimizer
 * state and every per-step buffer; alignment slack included.
 * TTR_MODE_SERVE_S8 (what ttr_model_quantize and ttr_model_load need for an
 * int8 model) holds no float copy of the int8 weights: per hidden layer
 * ceil(out/16)*16*KPAD(in) bytes of packed int8 plus out f32 scales and
 * biases, the last layer (out = 1 or D) as f32, the normalisation (2
 * n_features floats), and a per-list scratch of max_items x (KPAD(widest
 * int8 input) bytes + 4 bytes, twice with two int8 layers or more) plus
 * max(max_items x the last hidden layer's width, n_features) floats. For 46
 * features, relevance 64-32, max_items 10 that is 11839 bytes, 37.9% of
 * TTR_MODE_SERVE_F32 (31271); dot 12287, 39.1%. */
TTR_API size_t ttr_arena_bytes(const ttr_config *cfg, ttr_mode mode);

typedef struct ttr_model ttr_model;

/* Build a model inside `arena` (`bytes` long, any alignment) and initialise
 * its weights from cfg->seed. `*out` points into the arena: the model needs
 * no teardown; it lives as long as the buffer. Returns TTR_ERR_ARG for a bad
 * config or mode (TTR_MODE_SERVE_S8 models come from ttr_model_quantize
 * or ttr_model_load),
 * TTR_ERR_NOMEM if bytes < ttr_arena_bytes(cfg, mode) — then nothing in the
 * buffer is written. */
TTR_API int ttr_model_init(ttr_model **out, const ttr_config *cfg, ttr_mode mode, void *arena,
                           size_t bytes);

/* The model's configuration and mode. A serving model's configuration has
 * no schedule and no weight decay (TTR_LR_CONSTANT, warmup_steps,
 * decay_steps and weight_decay 0): it does not train. */
TTR_API const ttr_config *ttr_model_config(const ttr_model *m);
TTR_API ttr_mode ttr_model_mode(const ttr_model *m);

/* Optimizer steps a train model has taken (successful ttr_train calls since
 * ttr_model_init, continued across a checkpoint: a model loaded from a file
 * saved with its optimizer state resumes the count, one saved without
 * starts at 0, as its optimizer does): the steps ttr_lr_at counts. 0 for
 * serving models and NULL; ttr_model_impressions tells what any model
 * learned from. Thread-safe with other read-only calls. */
TTR_API uint64_t ttr_model_steps(const ttr_model *m);

/* Impressions (non-empty lists) the model has learned from: counted by
 * every successful ttr_train, kept by every save and load (with or without
 * optimizer state) and by serving copies and int8 models, so a device can
 * tell what a model it serves was trained on. 0 for NULL. */
TTR_API uint64_t ttr_model_impressions(const ttr_model *m);

/* A caller's tag for a model: up to TTR_TAG_MAX bytes of printable ASCII
 * (0x20..0x7e), e.g. a build id, a device id or "champion 2026-12-07".
 * Saved in the file (format version 4), kept by serving copies and int8
 * models, shown by `ttrank info`. ttr_model_tag: the tag, "" when none
 * (NULL for NULL); the string lives in the arena. ttr_set_model_tag: NULL
 * or "" clears it; TTR_ERR_ARG for a NULL model, a longer tag or another
 * byte (the model is then unchanged). Not thread-safe with other calls on
 * the model. */
#define TTR_TAG_MAX 48
TTR_API const char *ttr_model_tag(const ttr_model *m);
TTR_API int ttr_set_model_tag(ttr_model *m, const char *tag);

/* Change a train model's learning rate and schedule (ttr_config's lr,
 * lr_schedule, warmup_steps, decay_steps; ttr_lr_at gives the rate of each
 * step), e.g. to go on training a loaded model. Steps count from the
 * model's first: to decay over the next N steps of a model at step S
 * (ttr_model_steps), pass warmup_steps S and decay_steps S + N (the rate
 * then starts at lr: the warm-up ramp lies behind). Saved with the model.
 * TTR_ERR_ARG for NULL or a value ttr_config_check refuses (lr <= 0, lr *
 * weight_decay > 1, decay_steps <= warmup_steps for a decaying schedule),
 * TTR_ERR_UNSUPPORTED for a serving model; the model is then unchanged.
 * Not thread-safe with ttr_train on the same model. */
TTR_API int ttr_set_learning_rate(ttr_model *m, float lr, ttr_lr_schedule schedule,
                                  uint64_t warmup_steps, uint64_t decay_steps);

/* Per-feature affine normalisation applied to every feature vector before
 * the towers: x'[t] = (x[t] - mean[t]) * scale[t]. Both arrays have
 * n_features finite entries (scale may be 0 to ignore a feature). Defaults:
 * mean 0, scale 1. TTR_ERR_NONFINITE on NaN/Inf; TTR_ERR_UNSUPPORTED on a
 * serving copy, whose normalisation is folded into its first layer. An int8
 * model (TTR_MODE_SERVE_S8) keeps its normalisation when it has int8 layers
 * and was quantized from a train model (see ttr_model_quantize); otherwise
 * it is folded, set fails with TTR_ERR_UNSUPPORTED and get reports mean 0,
 * scale 1. */
TTR_API int ttr_set_normalization(ttr_model *m, const float *mean, const float *scale);
TTR_API void ttr_get_normalization(const ttr_model *m, float *mean, float *scale);

/* Feature statistics for the normalisation: the per-feature mean and
 * variance over items, gathered in one streaming pass (Welford's update in
 * double, so a feature with a large mean and a small spread keeps its
 * variance), mergeable (statistics of several threads, files or devices
 * combine into those of the union), and turned into mean[t] and scale[t] =
 * 1 / sd[t] (population sd; 0 when the variance is below 1e-12: a constant
 * feature is then ignored by the towers). Typical use, before the first
 * ttr_train: init, add every item of the training log (or a sample), apply.
 *
 * The object lives in the caller's buffer (any alignment) and points into
 * it, like a model into its arena: do not copy or move the buffer. It is
 * not thread-safe: give each thread its own and merge them. */
typedef struct ttr_feature_stats ttr_feature_stats;

/* Bytes for the statistics of n_features (1..65536) features: 16 per
 * feature and a few dozen more; 0 for a count out of range. */
TTR_API size_t ttr_feature_stats_bytes(uint32_t n_features);

/* Empty statistics in `buf`. TTR_ERR_ARG (NULL, n_features out of range),
 * TTR_ERR_NOMEM (bytes < ttr_feature_stats_bytes; nothing written). */
TTR_API int ttr_feature_stats_init(ttr_feature_stats **s, uint32_t n_features, void *buf,
                                   size_t bytes);

/* Adds n_items items, item i at x[i * ldx .. i * ldx + n_features - 1]
 * (ldx >= n_features; a batch's x and ldx as they are). TTR_ERR_NONFINITE
 * if any value is NaN or Inf, TTR_ERR_ARG for NULL or ldx < n_features: on
 * error nothing is added. */
TTR_API int ttr_feature_stats_add(ttr_feature_stats *s, size_t n_items, const float *x,
                                  size_t ldx);

/* into := the statistics of the items of both (from is unchanged; the two
 * may be the same object). TTR_ERR_ARG for NULL or different n_features
 * (into unchanged). */
TTR_API int ttr_feature_stats_merge(ttr_feature_stats *into, const ttr_feature_stats *from);

/* Items added so far (0 for NULL). */
TTR_API uint64_t ttr_feature_stats_count(const ttr_feature_stats *s);

/* The normalisation, n_features floats each, finite. TTR_ERR_ARG for NULL
 * or before any item was added (nothing written). */
TTR_API int ttr_feature_stats_normalization(const ttr_feature_stats *s, float *mean,
                                            float *scale);

/* ttr_set_normalization(m, the normalisation above) without the caller's
 * arrays. TTR_ERR_ARG (NULL, no item added, n_features differ from the
 * model's), TTR_ERR_UNSUPPORTED (a model whose normalisation is folded into
 * its first layer); on error the model is unchanged. */
TTR_API int ttr_feature_stats_apply(const ttr_feature_stats *s, ttr_model *m);

/* A batch of impression lists, ragged, referenced in place (nothing copied).
 * List l has items offsets[l] .. offsets[l+1]-1 (offsets has n_lists + 1
 * non-decreasing entries, offsets[0] may be non-zero); item i has features
 * x[i * ldx .. i * ldx + n_features - 1], slot slots[i] in [0, rows*cols)
 * and click clicks[i] in {0, 1}; contexts[l] in [0, n_contexts) or
 * contexts == NULL (context 0). Empty lists are allowed and ignored. */
typedef struct ttr_batch {
    size_t n_lists;
    const size_t *offsets;
    const float *x;
    size_t ldx;
    const uint16_t *slots;
    const uint8_t *clicks;
    const uint32_t *contexts;
} ttr_batch;

/* Statistics of one training step. */
typedef struct ttr_train_stats {
    double loss;        /* mean loss per list (before the update; L2 not included) */
    double grad_norm;   /* global gradient norm before clipping */
    size_t lists, items;/* what the batch held */
} ttr_train_stats;

/* One optimizer step on a batch (forward, backward, update). Fails with
 * TTR_ERR_ARG (NULL, n_lists > max_batch, a list longer than max_items,
 * slot/context/click out of range, two items of a list in the same slot),
 * TTR_ERR_UNSUPPORTED (a serving model), TTR_ERR_NONFINITE (a
 * non-finite feature, a batch whose loss or gradient is not finite, or an
 * update that would take a weight or an optimizer value beyond about
 * FLT_MAX / 2): the model, its optimizer state and its running statistics
 * are then unchanged. stats may be NULL. */
TTR_API int ttr_train(ttr_model *m, const ttr_batch *batch, ttr_train_stats *stats);

/* Mean loss per list of a batch without training (held-out evaluation).
 * Same checks as ttr_train; the model is not changed. Train mode only. */
TTR_API int ttr_eval_loss(ttr_model *m, const ttr_batch *batch, double *loss);

/* Click probabilities of a batch's items under the full model (relevance +
 * bias), in item order: out[offsets[l] - offsets[0] + j]. Train mode only.
 * Used for held-out click log-likelihood. */
TTR_API int ttr_click_probs(ttr_model *m, const ttr_batch *batch, float *out);

/* Early stopping from clicks alone. A click log holds no relevance labels,
 * so the signal to stop training is the click log-likelihood of data the
 * model did not learn from. Held-out lists do not measure that when the
 * same documents recur in many lists (a model that memorises them does well
 * on such lists and ranks new documents worse): hold out items instead.
 * Returns 1 when the item with features x[0..n_features-1] is one of the
 * `share` (in [0, 1]) of distinct feature vectors held out under `seed`: a
 * hash of the bits of the features (-0 counts as 0), the same answer in
 * every list, on every target. Training lists leave held-out items out;
 * their log-likelihood comes from ttr_click_probs on the whole list. 0 for
 * x NULL or share <= 0 (or NaN). Pure, thread-safe. */
TTR_API int ttr_item_held_out(const float *x, uint32_t n_features, uint64_t seed, float share);

/* Weight averaging: an exponential moving average of a train model's
 * parameters, avg = decay * avg + (1 - decay) * w after every ttr_train
 * (starting at the first step's weights), to evaluate and keep instead of
 * the last step's weights; like early stopping it is the training loop's
 * part (ttrank train --average D). Not part of the default recipe: with
 * decay 0.99 it ranked no better on 60 simulated click logs
 * (docs/training.md). The average lives in the caller's buffer of
 * ttr_weight_avg_bytes(m) bytes (any alignment): m's parameter count in
 * floats and a few dozen bytes. Running statistics (dot's b_ref, XPA's
 * attention map), optimizer state and normalisation are not averaged.
 * ttr_weight_avg_swap exchanges m's parameters with the average: call it to
 * evaluate or save the average, and again to go on training (two swaps
 * restore every bit). Update refuses a swapped average (TTR_ERR_ARG), and
 * swap one that has seen no update. Errors: TTR_ERR_ARG (NULL, a serving
 * model, a model of another structure, decay outside [0, 1)),
 * TTR_ERR_NOMEM (init: buffer short). Bytes: 0 for a non-train model. Not
 * thread-safe with training the same model. */
typedef struct ttr_weight_avg ttr_weight_avg;
TTR_API size_t ttr_weight_avg_bytes(const ttr_model *m);
TTR_API int ttr_weight_avg_init(ttr_weight_avg **out, const ttr_model *m, float decay, void *buf,
                                size_t bytes);
TTR_API int ttr_weight_avg_update(ttr_weight_avg *a, const ttr_model *m);
TTR_API int ttr_weight_avg_swap(ttr_weight_avg *a, ttr_model *m);
/* 1 while the model holds the average (after an odd number of swaps). */
TTR_API int ttr_weight_avg_swapped(const ttr_weight_avg *a);

/* Relevance scores of n items (x: n x ldx), scores[i] = serving score of
 * item i (f(x), or r(x) . b_ref for dot). Any n: items are processed in
 * chunks of max_items through the model's own scratch. TTR_ERR_NONFINITE for
 * a non-finite feature or a score that is not finite (finite features that
 * overflow the towers, e.g. values near FLT_MAX, or huge weights), alike on
 * every model kind; the scores are then unspecified.
 * TTR_MODE_SERVE_S8 models: the features are normalised (unless folded),
 * each hidden layer quantizes its input rows per
 * vector (ttr_quantize_s8) and runs ttr_gemm_s8 (+bias, ReLU); the last
 * layer and, for dot, the product with b_ref are f32 in a fixed summation
 * order. The int8 kernels are bit-exact, so an int8 model's scores are the
 * same bits on every CPU path (and, IEEE f32 being what it is, on every
 * target); they differ from the f32 model's by the quantization error. */
TTR_API int ttr_score(ttr_model *m, size_t n, const float *x, size_t ldx, float *scores);

/* Bytes of the scratch that ttr_score_with_scratch needs for model m (any
 * alignment; the same for every model of m's configuration and mode): the
 * forward pass of one chunk of max_items items. 0 for NULL. The default
 * configuration with 46 features (relevance 32-16, max_items 10): 3,879
 * bytes for f32 models, 1,855 for int8. */
TTR_API size_t ttr_score_scratch_bytes(const ttr_model *m);

/* ttr_score through the caller's scratch instead of the model's: the same
 * scores, bit for bit, and the model is only read. So any number of threads
 * may score one model at once, each with its own scratch (a buffer of
 * ttr_score_scratch_bytes(m), any alignment, reused across calls), while no
 * thread changes the model (ttr_train, ttr_set_*, ttr_model_load into it).
 * Errors as ttr_score; TTR_ERR_ARG for a NULL scratch, TTR_ERR_NOMEM when
 * scratch_bytes is short (nothing written). */
TTR_API int ttr_score_with_scratch(const ttr_model *m, void *scratch, size_t scratch_bytes,
                                   size_t n, const float *x, size_t ldx, float *scores);

/* A train model's parameter tensors by name: the names of its .ttr records
 * ("rel.0.w", "rel.0.b", "bias0.row", "mixem.phi", ...; `ttrank info`
 * lists them), dense weights as [out, in] row-major. count: how many (0 for
 * NULL and serving models); info: the i-th's name (a static string), rows
 * and cols (any output may be NULL). get/set copy its n = rows x cols
 * values out or in; set refuses a non-finite value (TTR_ERR_NONFINITE) and
 * leaves the optimizer state as it is. Errors: TTR_ERR_ARG (NULL, an index
 * or name that is not there, n not rows x cols), TTR_ERR_UNSUPPORTED
 * (serving models); the model is then unchanged. Not thread-safe with other
 * calls that change the model. */
TTR_API uint32_t ttr_model_tensor_count(const ttr_model *m);
TTR_API int ttr_model_tensor_info(const ttr_model *m, uint32_t i, const char **name,
                                  uint32_t *rows, uint32_t *cols);
TTR_API int ttr_model_tensor_get(const ttr_model *m, const char *name, float *out, size_t n);
TTR_API int ttr_model_tensor_set(ttr_model *m, const char *name, const float *in, size_t n);

/* Fleet averaging, the FedAvg step: out := the weighted mean of n (1..64)
 * train models of out's structure (models learned on many devices from one
 * global model), weights[k] >= 0 (NULL: equal; e.g. their impressions).
 * The models must share one normalisation (they do when they started from
 * the same model: devices do not change it), else TTR_ERR_ARG. MixEM: the
 * components of each model are first matched to model 0's (the
 * permutation with the least squared distance between their bias towers,
 * gains and mixing logits; a mixture's components can come out in any
 * order). The running statistics (dot's b_ref, XPA's attention map) are
 * pooled by their counts; impressions add up; the optimizer state and step
 * of out start afresh (its own rate and schedule stay). out may be
 * models[0] (not another of them). Errors: TTR_ERR_ARG, TTR_ERR_NONFINITE (a mean beyond about
 * FLT_MAX / 2); out is then unchanged. */
TTR_API int ttr_model_average(ttr_model *out, const ttr_model *const *models,
                              const double *weights, size_t n);

/* Read-outs of what the model learned. */

/* The bias tower's logit g(p, context) for every slot p < rows*cols
 * (`out` holds rows*cols floats), for MixEM component `component` (0 for
 * the other variants) and `context` (0 without contexts). PAL: the logit of
 * the observation probability; XPA: the own-slot term g(e_p) alone.
 * TTR_ERR_UNSUPPORTED for naive, dot (see ttr_dot_reference) and serving
 * models; TTR_ERR_ARG for a component or context out of range. */
TTR_API int ttr_bias_curve(const ttr_model *m, uint32_t component, uint32_t context, float *out);

/* MixEM: mixing weights pi (K) and relevance gains w (K); either may be NULL. */
TTR_API int ttr_mixem_params(const ttr_model *m, float *pi, float *gain);

/* Dot: the reference vector b_ref (D floats) used for serving, and the
 * bias vector b(p, k) of every slot (rows*cols x D, may be NULL). */
TTR_API int ttr_dot_reference(const ttr_model *m, float *b_ref, uint32_t context, float *b_slots);

/* Train-mode model -> serving copy: builds a TTR_MODE_SERVE_F32 model in
 * `arena` (ttr_arena_bytes(cfg, TTR_MODE_SERVE_F32) bytes) holding the
 * relevance tower and, for dot, the current b_ref. The normalisation is
 * folded into the first layer (W' = W diag(scale), b' = b - W' mean), so the
 * copy reads features in place; its scores equal the training model's
 * within float rounding. The training model is not changed. Errors as
 * ttr_model_init, and TTR_ERR_NONFINITE when the fold (or b_ref) overflows
 * float, e.g. huge weights times a huge normalisation scale: then *out is
 * not set (the arena is written). */
TTR_API int ttr_model_to_serving(const ttr_model *train, ttr_model **out, void *arena,
                                 size_t bytes);

/* Train-mode or serve-f32 model -> int8 serving model: builds a
 * TTR_MODE_SERVE_S8 model in `arena` (ttr_arena_bytes(cfg,
 * TTR_MODE_SERVE_S8) bytes, any alignment) holding the relevance tower with
 * every hidden layer as symmetric per-output-channel int8 weights (scale_j =
 * max_t |W[j][t]| / 127 in f32, q = round_half_even(W / scale_j) in
 * [-127, 127], packed for ttr_gemm_s8) and f32 biases; the last layer (1 or
 * D outputs) stays f32, which is both smaller than a 16-output int8 panel and
 * faster (no quantization of its input). From a train model with hidden
 * layers the int8 model keeps the normalisation (2 n_features floats) and
 * quantizes normalised features, so features of very different magnitudes
 * keep their resolution (saved as file version 2). From a serve-f32 copy,
 * or for a linear tower (nothing quantized in front of the f32 layer), the
 * normalisation is folded into layer 0 in f32/double, as in
 * ttr_model_to_serving, and int8 layer 0 quantizes raw features: features of
 * very different magnitudes then share one per-vector scale, and the small
 * ones lose precision (file version 1). Dot models keep b_ref. The source is not
 * changed. ttr_model_init() does not build SERVE_S8 models (TTR_ERR_ARG):
 * they come from here or from a file (ttr_model_load). Errors: TTR_ERR_ARG
 * (NULL, or an int8 source), TTR_ERR_NOMEM (short buffer, nothing written),
 * TTR_ERR_NONFINITE (a fold or b_ref overflows float, as in
 * ttr_model_to_serving; *out not set, the arena written). */
TTR_API int ttr_model_quantize(const ttr_model *src, ttr_model **out, void *arena, size_t bytes);

/* XPA: mean attention a(p, p') over training lists, rows*cols x rows*cols
 * (row p: the slot attending, columns: attended slots; rows of slots never
 * seen are 0). The diagonal is 0 (no item attends to itself); a row sums to
 * the share of its slot's items that had neighbours in their list. */
TTR_API int ttr_xpa_attention(const ttr_model *m, float *out);

#ifdef __cplusplus
}
#endif
#endif
