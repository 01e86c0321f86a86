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

#ifdef __cplusplus
}
#endif
#endif
