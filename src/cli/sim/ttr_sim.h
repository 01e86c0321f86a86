/* The ttrank tool's click simulator, SVG plots and the demo's scenario
 * runner. They are part of the tool, not of libttrank: an app on a device
 * never simulates users (the ranking metrics they use are the library's,
 * ttr_metrics.h).
 *
 * Everything here follows the library's rules anyway: no allocation (the caller
 * passes every buffer), no printing, no global state, errors as negative
 * ttr_error codes. The simulator is deterministic per seed and gives the same
 * bits on every target: its random numbers are integer (xorshift64*), and its
 * exp/log are computed here in double precision instead of by libm.
 *
 * The world it simulates:
 *   - a query's documents have features x (F floats) and a graded relevance
 *     label y in 0..ymax (from your data, or from ttr_sim_planted());
 *   - a weak, noisy logging ranker orders them, by
 *       logging_rel * y / ymax + logging_feature * x[bias_feature] + logging_noise * U(-1, 1),
 *     so items appear at many slots and a feature unrelated to relevance
 *     (x[bias_feature]) is favoured: a model that ignores position credits it;
 *   - the first rows*cols documents are shown, slot p = row*cols + col in
 *     logging order (row-major); one user type is drawn per list from the
 *     mixture `users`;
 *   - P(click | seen, y) = eps + (1 - eps) (2^y - 1) / (2^ymax - 1);
 *   - seen(slot) by user type:
 *       PBM:       base(slot)^eta; a list (cols == 1): base = 0.68 0.61 0.48
 *                  0.34 0.28 0.20 0.11 0.10 0.08 0.06 (the last value beyond);
 *                  a grid (cols > 1): base = grid_top * row_decay^row * col_decay^col.
 *                  On grids the odds of seeing are multiplied by
 *                  exp(neighbour * (mean over the same row's other items of
 *                  y / ymax - neighbour_center)) — the cross-positional effect;
 *       POSITION:  clicks by slot alone: P(click) = position_scale * base(slot)^eta;
 *       THOROUGH:  sees everything: P(click) = P(click | seen, y);
 *       CASCADE:   reads slots in order and leaves after its first click.
 */
#ifndef TTR_SIM_H
#define TTR_SIM_H

#include <stddef.h>
#include <stdint.h>

#include "ttr_error.h"
#include "ttr_metrics.h"
#include "ttr_loop.h"
#include "ttrank.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------
 * Random numbers: xorshift64*, the same sequence on every target.
 * ------------------------------------------------------------------------ */
typedef struct ttr_rng {
    uint64_t s;
} ttr_rng;

void ttr_rng_seed(ttr_rng *r, uint64_t seed);
uint32_t ttr_rng_u32(ttr_rng *r);
float ttr_rng_uniform(ttr_rng *r); /* in [0, 1), 24 random bits */

/* ------------------------------------------------------------------------
 * Click simulation
 * ------------------------------------------------------------------------ */
typedef enum ttr_user {
    TTR_USER_PBM = 0,
    TTR_USER_POSITION = 1,
    TTR_USER_THOROUGH = 2,
    TTR_USER_CASCADE = 3
} ttr_user;
#define TTR_USER_TYPES 4
#define TTR_SIM_MAX_DOCS 1024    /* documents per query */
#define TTR_SIM_UNSHOWN 0xFFFFu  /* slot of a document ranked below the last slot */

typedef struct ttr_sim_config {
    float users[TTR_USER_TYPES]; /* mixture shares by ttr_user (>= 0, sum > 0; normalised) */
    float eta;                   /* PBM exponent, >= 0 (default 1) */
    uint32_t rows, cols;         /* layout, rows*cols slots in 1..TTR_MAX_SLOTS (default 10 x 1) */
    float grid_top, row_decay, col_decay; /* grid seen curve (default 0.9, 0.6, 0.8) */
    float neighbour;             /* G: same-row effect on the log-odds of seeing (default 0) */
    float neighbour_center;      /* subtracted from the neighbours' mean y/ymax (default 0.3) */
    float position_scale;        /* POSITION users: P(click) = scale * base (default 0.5) */
    float eps;                   /* click noise (default 0.1) */
    uint32_t ymax;               /* top grade, 1..15 (default 4) */
    float logging_rel;           /* logging ranker weights (defaults 1.0, 1.5, 1.0) */
    float logging_feature;
    float logging_noise;
    uint32_t bias_feature;       /* feature favoured by the logging ranker (default 6) */
} ttr_sim_config;

/* Defaults above: PBM users only, a plain list of 10 slots. */
void ttr_sim_config_default(ttr_sim_config *c);
/* TTR_OK or TTR_ERR_ARG (a range above violated). */
int ttr_sim_config_check(const ttr_sim_config *c);

/* P(click | seen, y) (0 for y > ymax). */
float ttr_sim_click_given_seen(const ttr_sim_config *c, uint32_t y);
/* The slot's seen curve base(slot)^eta, before any neighbour effect
 * (the truth a bias tower is compared with). 0 for a slot out of range. */
float ttr_sim_seen(const ttr_sim_config *c, uint32_t slot);

/* Exact marginal click probability of every item of one shown list for a
 * given user type: items 0..n-1 with labels[i] and slots[i] (distinct slots
 * < rows*cols, or TTR_SIM_UNSHOWN: probability 0). probs: n floats. */
int ttr_sim_click_probs(const ttr_sim_config *c, ttr_user user, size_t n,
                                const uint8_t *labels, const uint16_t *slots, float *probs);

/* One impression of one query: n documents (1..TTR_SIM_MAX_DOCS; features
 * x[i*ldx ...], labels 0..ymax), ordered by the logging ranker; writes
 * slots[i] (or TTR_SIM_UNSHOWN), clicks[i] (0/1), and, when not NULL,
 * probs[i] (the exact click probability given the drawn user) and *user.
 * Advances `rng`; same config, inputs and rng state => same outputs. */
int ttr_sim_impression(const ttr_sim_config *c, ttr_rng *rng, size_t n, const float *x,
                               size_t ldx, const uint8_t *labels, uint16_t *slots,
                               uint8_t *clicks, float *probs, ttr_user *user);

/* Planted LETOR-like data: documents with F features uniform in [-1, 1]
 * and a graded label from a fixed function of features 0..5 plus noise
 * (feature `bias_feature` = 6 and the rest are irrelevant).
 * Query q (counting from 0) depends only on (seed, q), so data can be made
 * in chunks: writes queries first .. first+n-1, x as n*docs rows of F floats,
 * labels n*docs bytes. */
typedef struct ttr_planted_config {
    uint32_t n_features; /* >= 8 (default 8) */
    uint32_t docs;       /* documents per query, 1..TTR_SIM_MAX_DOCS (default 10) */
    uint32_t ymax;       /* top grade, 1..15 (default 4) */
    float label_noise;   /* uniform noise added to the score before grading (default 0.5) */
    uint64_t seed;
} ttr_planted_config;

void ttr_planted_config_default(ttr_planted_config *c);
int ttr_sim_planted(const ttr_planted_config *c, size_t first, size_t n, float *x,
                            uint8_t *labels);

/* ------------------------------------------------------------------------
 * SVG plots (SVG 1.1, written into a caller buffer)
 * ------------------------------------------------------------------------
 * Each returns the length of the document (excluding the NUL), or
 * TTR_ERR_NOMEM if `cap` bytes are not enough (query the size with a
 * generous buffer: 64 KiB is plenty for the sizes below), TTR_ERR_ARG or
 * TTR_ERR_NONFINITE for bad inputs. Text is XML-escaped. */
#define TTR_SVG_MAX_SERIES 12

/* Line chart: n_series lines of n_points values over x = 0..n_points-1,
 * x axis labelled 0..n_points-1 (slots or columns, numbered from 0 as in
 * the click log and the attention heatmap). Series whose name starts with
 * "truth" are drawn dashed. */
int ttr_svg_lines(char *buf, size_t cap, const char *title, const char *xlabel,
                          const char *ylabel, size_t n_series, const char *const *names,
                          const float *const *values, size_t n_points);
/* Heatmap of an n x n matrix (row-major) with axis labels; labels[i] names
 * row/column i (e.g. "0,3"). */
int ttr_svg_heatmap(char *buf, size_t cap, const char *title, const char *xlabel,
                            const char *ylabel, size_t n, const float *m,
                            const char *const *labels);
/* Bar chart: n bars with values (in [0, 1] typically) and names; bar i is
 * coloured by group[i] (group may be NULL), and group_names (may be NULL)
 * labels the groups in a legend. The y axis starts at `y_from` (e.g.
 * slightly below the smallest value) so close values are told apart. */
int ttr_svg_bars(char *buf, size_t cap, const char *title, const char *ylabel,
                         size_t n, const char *const *names, const double *values,
                         const int *group, size_t n_groups, const char *const *group_names,
                         double y_from);

/* ------------------------------------------------------------------------
 * Scenario runner (what `ttrank demo` runs; also used by the tests)
 * ------------------------------------------------------------------------
 * Scenario 1 (TTR_SCENARIO_MIXED): a ranked list of 10, mixed users (PBM,
 * position-only, thorough); variants oracle, naive, additive, pal,
 * dot (b_ref mean), dot (b_ref top slot), mixem.
 * Scenario 2 (TTR_SCENARIO_GRID): a 2 x 5 grid with the same-row effect;
 * variants oracle, naive, additive, xpa.
 * Planted data: train_lists training queries (one impression each), and
 * test_lists held-out queries (NDCG against their labels; one impression
 * each for the held-out click log-likelihood).
 * The oracle is the naive model trained on the same lists with clicks from
 * users who see everything (clicks drawn from P(click | seen, y)): the same
 * relevance tower and data size without position bias. Its click
 * log-likelihood row is that of the simulator's true probabilities (the
 * ceiling for that column). gap = (NDCG@10 - naive) / (oracle - naive). */
typedef enum ttr_scenario_kind { TTR_SCENARIO_MIXED = 1, TTR_SCENARIO_GRID = 2 } ttr_scenario_kind;

typedef struct ttr_scenario_config {
    ttr_scenario_kind kind;
    uint64_t seed;
    size_t train_lists, test_lists;
    uint32_t epochs;
    float lr;
    uint32_t hidden[2];
    uint32_t max_batch;
    ttr_sim_config sim;   /* filled by ttr_scenario_config_default for the kind */
} ttr_scenario_config;

#define TTR_SCENARIO_MAX_ROWS 8
#define TTR_SCENARIO_SLOTS 10
#define TTR_SCENARIO_F 8

typedef struct ttr_scenario_row {
    const char *name;     /* static string */
    double ndcg5, ndcg10, mrr;
    double gap;           /* share of the naive-to-oracle NDCG@10 gap closed */
    double loglik;        /* mean held-out click log-likelihood per item */
} ttr_scenario_row;

typedef struct ttr_scenario_result {
    ttr_scenario_kind kind;
    uint32_t rows, cols;
    size_t n_rows;
    ttr_scenario_row row[TTR_SCENARIO_MAX_ROWS];
    size_t eval_counted, eval_skipped; /* test queries in / out of the NDCG means */
    /* Read-outs for plots, relative to the top slot (slot 0 = 0):
     * truth_pbm = log seen(slot) of PBM users; truth_position = logit of the
     * position-only click probability; learned curves are bias-tower logits. */
    float truth_pbm[TTR_SCENARIO_SLOTS], truth_position[TTR_SCENARIO_SLOTS];
    float additive_bias[TTR_SCENARIO_SLOTS];
    uint32_t mixem_k;
    float mixem_bias[2][TTR_SCENARIO_SLOTS], mixem_pi[2], mixem_gain[2];
    float attention[TTR_SCENARIO_SLOTS * TTR_SCENARIO_SLOTS]; /* grid: XPA's a(p, p') */
} ttr_scenario_result;

/* Defaults for a scenario kind and seed (full size: the demo's). */
void ttr_scenario_config_default(ttr_scenario_config *c, ttr_scenario_kind kind,
                                         uint64_t seed);
/* Bytes of the arena ttr_scenario_run needs (0 for a bad config). */
size_t ttr_scenario_bytes(const ttr_scenario_config *c);
/* Run a scenario inside `arena`. `progress` (may be NULL) is called
 * between steps with a short step name and the fraction done. */
typedef void (*ttr_progress_fn)(void *ctx, const char *step, double done);
int ttr_scenario_run(const ttr_scenario_config *c, void *arena, size_t bytes,
                             ttr_scenario_result *out, ttr_progress_fn progress, void *ctx);

/* ------------------------------------------------------------------------
 * Closed loop (`ttrank simulate --closed-loop`): a device learning from its
 * own rankings
 * ------------------------------------------------------------------------
 * A stream of planted queries, one impression each. The device ranks the
 * query's 10 documents with its champion (relevance scores, ties by
 * document order), shows them in that order (slot = rank; on the grid,
 * row-major), a user drawn from the scenario's mixture clicks (ttr_sim
 * probabilities), and the loop (ttr_loop, default settings) takes the
 * impression. Every `every` impressions the champion's NDCG@10 on
 * test_lists held-out planted queries is recorded. The oracle learner is a
 * naive model whose users see everything (thorough: P(click | seen, y) on
 * the same shown lists). Every learner sees the same queries and the same
 * user draws.
 * A device starts from a tower trained elsewhere: with warm_lists > 0,
 * every learner's relevance tower starts as a naive model's trained (3
 * epochs) on warm_lists impressions of other planted queries shown by the
 * scenario's logging ranker (which favours an irrelevant feature) to the
 * scenario's users; its own bias side starts fresh. warm_lists 0: a cold
 * start from random weights. */
typedef struct ttr_closed_loop_config {
    ttr_scenario_config scenario; /* kind, seed, sim, hidden sizes, lr; train_lists unused */
    size_t impressions, every;    /* defaults 50000, 2500 */
    size_t test_lists;            /* default 1000 */
    size_t warm_lists;            /* the starting tower's training impressions (default 20000) */
    ttr_loop_config loop;         /* the learners' loop (default ttr_loop_config_default; its
                                     seed is the scenario's) */
} ttr_closed_loop_config;

void ttr_closed_loop_config_default(ttr_closed_loop_config *c, ttr_scenario_kind kind,
                                    uint64_t seed);
/* Points of a curve: impressions / every + 1 (the start included). */
size_t ttr_closed_loop_points(const ttr_closed_loop_config *c);
/* Bytes of the arena one learner's run needs (0 for a bad config). */
size_t ttr_closed_loop_bytes(const ttr_closed_loop_config *c, ttr_variant v);
/* One learner (`oracle`: naive with thorough users) through the stream:
 * ndcg10[ttr_closed_loop_points] receives the champion's NDCG@10, and
 * *promotions (may be NULL) the promotions made. */
int ttr_closed_loop_run(const ttr_closed_loop_config *c, ttr_variant v, int oracle, void *arena,
                        size_t bytes, float *ndcg10, uint64_t *promotions,
                        ttr_progress_fn progress, void *ctx);

/* ttr_svg_lines with the x axis labelled i * x_step (e.g. impressions). */
int ttr_svg_curves(char *buf, size_t cap, const char *title, const char *xlabel,
                   const char *ylabel, size_t n_series, const char *const *names,
                   const float *const *values, size_t n_points, double x_step);

#ifdef __cplusplus
}
#endif
#endif
