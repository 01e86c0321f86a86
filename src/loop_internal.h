/* Private: the loop's layout in its buffer, shared by loop.c and its
 * checkpoints (loop_io.c). */
#ifndef TTR_SRC_LOOP_INTERNAL_H
#define TTR_SRC_LOOP_INTERNAL_H

#include "model.h"
#include "ttr_loop.h"

#define TTR__LOOP_MAGIC 0x5454524cu /* "TTRL" */
#define TTR__LOOP_BLOCKS 16u       /* the window is kept as 16 blocks of window / 16 */

/* The impression buffer: a ring of fixed-size list records. */
#define TTR__REPLAY_MAGIC 0x54545252u /* "TTRR" */

struct ttr_replay {
    uint32_t magic;
    uint32_t F, N, cap;
    ttr_replay_precision precision;
    uint32_t head;          /* record written next */
    uint32_t count;         /* records held */
    uint64_t added;
    uint16_t *feat16;       /* cap x N x F (bfloat16), or */
    float *feat32;          /* cap x N x F (f32) */
    uint16_t *n_items;      /* cap */
    uint32_t *context;      /* cap */
    uint16_t *slots;        /* cap x N */
    uint8_t *clicks;        /* cap x N */
};

/* Progressive log-likelihood sums (nats) over some impressions. */
typedef struct ttr__pv_block {
    double learner, champion, constant;
    uint64_t items, impressions;
} ttr__pv_block;

struct ttr_loop {
    uint32_t magic;
    ttr_config mc;
    ttr_loop_config lc;
    ttr_model *learner, *champion;
    ttr_replay *ring;
    size_t model_bytes, champion_bytes, ring_bytes; /* the champion uses the learner's
                                                       per-step region (model.h) */
    void *learner_buf, *champion_buf, *ring_buf;
    /* the staging of one training batch */
    float *x;
    uint16_t *slots;
    uint8_t *clicks;
    uint32_t *contexts;
    size_t *offsets;
    float *probs;           /* max_items click probabilities */
    uint64_t rng;           /* replay draws */
    uint32_t pending;       /* impressions since the last step */
    /* the comparison window: complete blocks in a ring, and the open one */
    ttr__pv_block blocks[TTR__LOOP_BLOCKS];
    ttr__pv_block cur;
    uint32_t n_blocks, block_head, block_fill;
    uint64_t clicks_seen, items_seen; /* the constant rate */
    double ew_learner, ew_champion, ew_items;
    uint64_t impressions, steps, failed_steps, promotions, rollbacks;
    uint64_t cursor;        /* the app's position in its source (ttr_loop_set_cursor) */
};

/* ttr_replay_add's checks of list `list` of b, without adding (replay.c). */
int ttr__replay_check(const ttr_replay *r, const ttr_batch *b, size_t list);

#endif
