/* ttrank — learning on the device from its own impressions: an impression
 * buffer (ttr_replay) and the whole loop in one object (ttr_loop): a
 * learner that trains online, a frozen champion, progressive validation of
 * both on every new impression, promotion of the learner only when it
 * predicts clicks better than the champion, rollback when it falls behind,
 * and checkpoints that resume to the same bits. docs/loop.md shows an app's
 * loop and says how each rule was chosen.
 *
 * Memory: everything lives in the caller's buffer (ttr_replay_bytes,
 * ttr_loop_bytes); nothing here allocates. Objects point into their buffer:
 * do not move or copy it. Threads: a loop (and a replay buffer) is used by
 * one thread at a time; the serving models an app makes from the champion
 * (ttr_model_to_serving, ttr_model_quantize) are its own and can be scored
 * from many threads (ttr_score_with_scratch). Errors as in ttrank.h:
 * negative codes, and on error nothing changes. */
#ifndef TTR_LOOP_H
#define TTR_LOOP_H

#include <stddef.h>
#include <stdint.h>

#include "ttr_stream.h"
#include "ttrank.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- impression buffer ----------------------------------------------------- */

/* How the buffer stores features. bfloat16 keeps f32's range and 8
 * significant bits (a relative error below 2^-9, round to nearest even):
 * half the memory, and features are noisier than that. f32 keeps them
 * exactly. */
typedef enum ttr_replay_precision {
    TTR_REPLAY_BF16 = 0,
    TTR_REPLAY_F32 = 1
} ttr_replay_precision;

/* A ring of the last `capacity` impressions (lists of up to max_items
 * items: features copied in, slots, clicks, context); adding to a full
 * ring drops the oldest. */
typedef struct ttr_replay ttr_replay;

/* Bytes for a ring (any alignment); 0 for a parameter out of range:
 * n_features 1..65536, max_items 1..1024, capacity 1..16777216. */
TTR_API size_t ttr_replay_bytes(uint32_t n_features, uint32_t max_items, uint32_t capacity,
                                ttr_replay_precision precision);

/* An empty ring in buf. TTR_ERR_ARG (NULL, a parameter out of range),
 * TTR_ERR_NOMEM (bytes short; nothing written). */
TTR_API int ttr_replay_init(ttr_replay **out, uint32_t n_features, uint32_t max_items,
                            uint32_t capacity, ttr_replay_precision precision, void *buf,
                            size_t bytes);

/* Copy list `list` of batch b in (its items, slots, clicks and context;
 * b's checks as in ttr_train, except that the slots and contexts are not
 * range-checked: the ring knows no layout). TTR_ERR_ARG (NULL, list out of
 * range, longer than max_items, a click not 0/1), TTR_ERR_NONFINITE (a
 * feature NaN, Inf, or one a bfloat16 ring would round to Inf, |x| >=
 * 0x1.ffp127 ~ 3.396e38, in either precision): the
 * ring is then unchanged. */
TTR_API int ttr_replay_add(ttr_replay *r, const ttr_batch *b, size_t list);

/* Lists held (<= capacity) and lists ever added. */
TTR_API uint32_t ttr_replay_count(const ttr_replay *r);
TTR_API uint64_t ttr_replay_added(const ttr_replay *r);

/* The list `age` lists back (0 = the newest, < ttr_replay_count): its
 * n items' features into x (n x ldx, ldx >= n_features; bfloat16 widened to
 * f32), slots, clicks and context (any output may be NULL). TTR_ERR_ARG for
 * an age out of range, a NULL ring or n_items. */
TTR_API int ttr_replay_get(const ttr_replay *r, uint32_t age, size_t *n_items, float *x,
                           size_t ldx, uint16_t *slots, uint8_t *clicks, uint32_t *context);

/* ---- the loop --------------------------------------------------------------- */

/* How the loop learns and when it swaps models. Start from
 * ttr_loop_config_default(). */
typedef struct ttr_loop_config {
    uint32_t capacity;              /* impressions in the buffer: 1..16777216 (default 256) */
    ttr_replay_precision precision; /* how the buffer keeps features (default TTR_REPLAY_BF16) */
    uint32_t train_every;           /* new impressions per training step, >= 1 (default 12) */
    uint32_t replay;                /* lists replayed from the buffer into each step
                                       (default 4); train_every + replay <= max_batch */
    uint32_t window;                /* W: impressions compared before a promotion or rollback,
                                       a multiple of 16, 16..2^24 (default 4096) */
    float promote_margin;           /* nats per item by which the learner's progressive click
                                       log-likelihood over the window must beat the champion's
                                       on the same impressions (default 0.0005) */
    float rollback_margin;          /* nats per item behind the champion that roll the learner
                                       back to it (default 0.02) */
    float min_gain;                 /* nats per item by which the learner must also beat a
                                       constant click rate (the stream's own, learned as it
                                       goes) in every sixteenth of the window to be promoted:
                                       clicks that carry no information, e.g. a broken
                                       logger's random ones, promote nothing (default 0.01) */
    uint64_t seed;                  /* which lists are replayed */
} ttr_loop_config;

TTR_API void ttr_loop_config_default(ttr_loop_config *lc);

/* Check a loop configuration with the model configuration it will train
 * (ttr_config_check's rules, and train_every + replay <= mc->max_batch).
 * Returns TTR_OK or TTR_ERR_ARG with *bad_field (may be NULL) naming the
 * field and its rule, as ttr_config_check does. */
TTR_API int ttr_loop_config_check(const ttr_config *mc, const ttr_loop_config *lc,
                                  const char **bad_field);

typedef struct ttr_loop ttr_loop;

/* Exact bytes of a loop (any alignment): a learner (a train model of mc:
 * ttr_arena_bytes(mc, TTR_MODE_TRAIN)), a champion (a train model without
 * gradients and scratch of its own: it uses the learner's), the buffer
 * (ttr_replay_bytes), the staging of one training batch ((train_every +
 * replay) x max_items x n_features floats) and a few hundred bytes. 0 for a
 * configuration ttr_loop_config_check refuses. */
TTR_API size_t ttr_loop_bytes(const ttr_config *mc, const ttr_loop_config *lc);

/* A loop in buf: learner and champion initialised from mc->seed (the same
 * weights), an empty buffer. mc's learning rate is used as it is: for
 * learning without an end, a constant rate (the default;
 * ttr_config_set_steps(mc, 0)). TTR_ERR_ARG, TTR_ERR_NOMEM (nothing
 * written). */
TTR_API int ttr_loop_init(ttr_loop **out, const ttr_config *mc, const ttr_loop_config *lc,
                          void *buf, size_t bytes);

/* Start from model m (a train model of the loop's configuration, its rate
 * and schedule aside: e.g. a tower trained elsewhere and loaded, or a fresh
 * one whose normalisation the app has set): learner and champion become
 * copies of it (weights, optimizer state, normalisation, statistics,
 * impressions, tag). The buffer and the comparison window are emptied.
 * TTR_ERR_ARG for a model of another structure (the loop is unchanged). */
TTR_API int ttr_loop_start_from(ttr_loop *L, const ttr_model *m);

/* The models. The learner may be read and its normalisation, tag and rate
 * set (ttr_set_learning_rate) between calls; train it only through the
 * loop. The champion is the model in service: make the app's serving
 * copies from it (ttr_model_to_serving, ttr_model_quantize) after each
 * promotion. Both live in the loop's buffer. The champion shares the
 * learner's scratch: from another thread than the loop's, score it only
 * with ttr_score_with_scratch (or serve a copy). NULL for NULL. */
TTR_API ttr_model *ttr_loop_learner(ttr_loop *L);
TTR_API const ttr_model *ttr_loop_champion(const ttr_loop *L);

/* What one ttr_loop_observe call did. */
typedef struct ttr_loop_event {
    int trained;          /* a training step ran (every train_every impressions) */
    int train_error;      /* its error if it was refused (the learner is then unchanged;
                             e.g. TTR_ERR_NONFINITE), else 0 */
    int promoted;         /* the learner became the champion */
    int rolled_back;      /* the learner fell behind and was reset to the champion */
    double loglik_learner;   /* this impression's click log-likelihood (nats, summed over
                                its items) under the learner, before learning from it */
    double loglik_champion;  /* ... under the champion */
} ttr_loop_event;

/* One impression: a list of n_items items (features x, n_items x ldx;
 * slots, clicks, context as in ttr_batch; context 0 without contexts).
 * Progressive validation first: the learner and the champion predict its
 * clicks before anything learns from it. Then it goes into the buffer;
 * every train_every impressions the learner takes one step on the newest
 * train_every lists and `replay` lists drawn from the rest of the buffer.
 * Every window / 16 impressions, once a whole window has been seen since
 * the last swap, the window decides: promote when the learner beats the
 * champion by promote_margin over the window and the constant rate by
 * min_gain in each of its 16 blocks (per item), roll back when it is
 * rollback_margin behind the champion. ev may be NULL. Errors:
 * TTR_ERR_ARG (NULL, n_items 0 or above max_items, a slot, click or context
 * out of range, two items in one slot), TTR_ERR_NONFINITE (a feature NaN,
 * Inf or beyond bfloat16's range): nothing changes. A training step that
 * fails is reported in ev->train_error, not as the call's error: the
 * impression has been taken. */
TTR_API int ttr_loop_observe(ttr_loop *L, size_t n_items, const float *x, size_t ldx,
                             const uint16_t *slots, const uint8_t *clicks, uint32_t context,
                             ttr_loop_event *ev);

/* Promote now (champion := learner) or roll back now (learner :=
 * champion, bit for bit, optimizer state included); either empties the
 * comparison window. TTR_ERR_ARG for NULL. */
TTR_API int ttr_loop_promote(ttr_loop *L);
TTR_API int ttr_loop_rollback(ttr_loop *L);

/* Counters and the progressive click log-likelihoods, per item (nats). */
typedef struct ttr_loop_stats {
    uint64_t impressions, items, steps, failed_steps, promotions, rollbacks;
    uint32_t window_impressions;     /* impressions in the window so far (<= window) */
    double window_learner, window_champion, window_constant; /* over the window */
    double ewma_learner, ewma_champion; /* exponentially weighted, half-life window / 2 */
} ttr_loop_stats;
TTR_API int ttr_loop_stats_get(const ttr_loop *L, ttr_loop_stats *st);

/* ---- checkpoints -------------------------------------------------------------- */

/* The app's own position in its impression source (a byte offset, a count
 * of lists read, a log sequence number: the loop does not interpret it),
 * saved in checkpoints, so that after a power cut the app resumes reading
 * where the checkpoint was taken. 0 after ttr_loop_init. */
TTR_API int ttr_loop_set_cursor(ttr_loop *L, uint64_t cursor);
TTR_API uint64_t ttr_loop_cursor(const ttr_loop *L);

/* Write everything ttr_loop_observe depends on: both models with their
 * optimizer state, the buffer, the window, the counters and the replay
 * generator (docs/formats.md, "Loop checkpoints"; about the size of the
 * loop's buffer). A loop loaded from it continues bit for bit (same ISA
 * path). TTR_ERR_ARG, TTR_ERR_IO. */
TTR_API int ttr_loop_save(const ttr_loop *L, ttr_write_fn write, void *ctx);

/* The model and loop configurations of a checkpoint stream (its first 192
 * bytes), to size the buffer: ttr_loop_bytes(mc, lc). Either output may be
 * NULL. TTR_ERR_FORMAT (not a loop checkpoint), TTR_ERR_UNSUPPORTED (a
 * newer one), TTR_ERR_RANGE (configurations out of range), TTR_ERR_IO. */
TTR_API int ttr_loop_load_config(ttr_read_fn read, void *ctx, ttr_config *mc,
                                 ttr_loop_config *lc);

/* A loop from a checkpoint stream into buf (bytes >= ttr_loop_bytes of its
 * configurations, else TTR_ERR_NOMEM). Errors as ttr_loop_load_config and
 * ttr_model_load, and TTR_ERR_FORMAT for a bad CRC or models that are not
 * the loop's; *out is then not set and buf's content is unspecified. */
TTR_API int ttr_loop_load(ttr_loop **out, void *buf, size_t bytes, ttr_read_fn read, void *ctx);

/* Files (POSIX). save_file is atomic as ttr_model_save_file (path.tmp,
 * fsync, rename, fsync the directory): a power cut leaves the previous
 * checkpoint whole. file_config reads the configurations and checks the
 * whole file's CRC, so a buffer is never sized from a damaged file;
 * load_file checks the file the same way before writing buf. */
TTR_API int ttr_loop_save_file(const ttr_loop *L, const char *path);
TTR_API int ttr_loop_file_config(const char *path, ttr_config *mc, ttr_loop_config *lc);
TTR_API int ttr_loop_load_file(ttr_loop **out, void *buf, size_t bytes, const char *path);

#ifdef __cplusplus
}
#endif
#endif
