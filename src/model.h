/* Private: the model's layout in its arena and the pieces the training and
 * serving code share. Everything a model owns lives in the arena given to
 * ttr_model_init(); this struct sits at its (aligned) start. */
#ifndef TTR_SRC_MODEL_H
#define TTR_SRC_MODEL_H

#include "ttr_stream.h"
#include "ttrank.h"

#define TTR__MAGIC 0x54545231u /* "TTR1" */
#define TTR__ALIGN 64

/* A trainable parameter tensor (rows x cols, row-major) with its gradient
 * and optimizer state (Adam: s1 = first moment, s2 = second; SGD: s1 =
 * velocity). g, s1, s2 are NULL in serving models. */
typedef struct ttr__tensor {
    const char *name;
    float *w, *g, *s1, *s2;
    uint32_t rows, cols;
    int decay; /* L2 applies (weight matrices and embeddings, not biases) */
} ttr__tensor;

/* A dense layer: y = W x + b, W out x in. `packed` is W in the kernel's
 * panel layout, refreshed after every update. In TTR_MODE_SERVE_S8 models
 * the hidden layers hold int8 weights instead (qpacked: ttr_gemm_s8_pack
 * layout, wscale: one f32 scale per output; W->w and packed are NULL) and
 * the last layer holds plain row-major f32 weights in W->w (packed NULL). */
typedef struct ttr__dense {
    uint32_t in, out;
    ttr__tensor *W, *b;
    float *packed;
    int8_t *qpacked;
    float *wscale;
} ttr__dense;

/* Slot embedding e(p, k) = E_row[row] + E_col[col] (+ E_ctx[k]), or E_unk
 * for a dropped slot, followed by an optional hidden ReLU layer and the
 * output layer. */
typedef struct ttr__bias_tower {
    ttr__tensor *E_row, *E_col, *E_ctx, *E_unk;
    int has_hidden;
    ttr__dense hid, out;
} ttr__bias_tower;

/* What scoring writes, for one chunk of max_items items: the model's own
 * (ttr__scratch.fwd, ttr_score) or a caller's (ttr_score_with_scratch), so
 * that several threads can score one model, each with its own. */
typedef struct ttr__fwd_scratch {
    float *xn;                            /* N x F normalised features */
    float *act[TTR_MAX_HIDDEN + 1];       /* relevance activations: act[l] = output of layer l */
    /* int8 serving: quantized layer inputs (N x KPAD(widest int8 input))
     * and their per-row scales (N), twice (ping-pong: ttr_gemm_s8_relu_q reads
     * one and writes the other; the second only with two int8 layers or
     * more); act[0] holds the last int8 layer's f32 output (N x its width) */
    int8_t *qx, *qx2;
    float *qscale, *qscale2;
    /* dot train models: one slot's embedding (d_e) and bias hidden row,
     * for b_ref before any training (b of the top slot) */
    float *bias_e, *bias_h;
} ttr__fwd_scratch;

/* Per-list scratch, sized for max_items items. Lifetimes are one list:
 * forward writes, backward reads and the next list overwrites. */
typedef struct ttr__scratch {
    ttr__fwd_scratch fwd;                 /* the relevance tower's forward pass */
    float *dact[2];                       /* ping-pong gradients, N x max width */
    float *e[TTR_MAX_COMPONENTS];         /* slot embeddings per bias tower, N x d_e */
    float *bh[TTR_MAX_COMPONENTS];        /* bias hidden activations, N x bias_hidden */
    float *bo[TTR_MAX_COMPONENTS];        /* bias outputs, N x out */
    float *de, *dbh, *dbo;                /* bias-tower gradients, N x ... */
    float *z, *dz;                        /* N x max(K, D, 2) logits and their gradients */
    float *df;                            /* N x out(f): gradient of the relevance output */
    /* XPA */
    float *q, *k, *p, *ht, *et, *dp, *dht, *det, *dq, *dk, *dh;
    int *dropped;                         /* N: slot dropout decisions */
    /* staged running statistics, committed after a successful step */
    float *stage_bref;                    /* D: sum of b over the batch's items */
    float *stage_attn;                    /* P x P: sums of a(p, p') over the batch */
    float *stage_attn_n;                  /* P: attending items per slot in the batch */
} ttr__scratch;

struct ttr_model {
    uint32_t magic;
    ttr_config cfg;
    ttr_mode mode;
    uint32_t n_slots;      /* rows * cols */
    uint32_t f_out;        /* outputs of the relevance tower: 1, or D for dot */
    uint32_t b_out;        /* outputs of a bias tower: 1, or D for dot */
    uint32_t h_dim;        /* width of h(x), the relevance tower's last hidden activation */
    uint32_t n_bias;       /* bias towers: 0 (naive), K (MixEM), else 1 */
    uint32_t n_tensors, cap_tensors;
    size_t grad_floats;                      /* total size of all tensors */
    ttr__tensor *tensors;                    /* cap_tensors entries, in the arena */
    float *norm_mean, *norm_scale;
    int norm_folded;                         /* serving copies: normalisation is in rel[0] */
    uint32_t n_rel;                          /* layers of the relevance tower */
    ttr__dense rel[TTR_MAX_HIDDEN + 1];
    ttr__bias_tower bias[TTR_MAX_COMPONENTS];
    ttr__tensor *gain, *phi;                 /* MixEM: K gains, K mixing logits */
    ttr__dense wq, wk;                       /* XPA: d_e -> d_a, no bias */
    ttr__tensor *u, *v, *c0;                 /* XPA: h~ weights, e~ weights, offset */
    float *bref_mean;                        /* dot: running mean of b over training items (D) */
    double bref_count;                       /* items in that mean */
    float *attn_mean, *attn_n;               /* XPA: P x P running mean of a(p, p'), and the
                                                number of attending items per slot p */
    uint64_t rng;                            /* slot dropout stream */
    uint64_t step;                           /* optimizer steps taken */
    uint64_t impressions;                    /* non-empty lists learned from */
    char tag[TTR_TAG_MAX + 1];               /* the caller's tag, NUL-terminated */
    int ub_valid;                            /* the three bounds below hold (ttr_train) */
    double ub_w, ub_s1, ub_s2;               /* >= max |w|, max |s1|, max s2 over all tensors */
    unsigned char *step_begin;               /* start of the per-step region: gradients and
                                                scratch; everything before it is the model */
    ttr__scratch s;
};

/* Floats of act[0] in an int8 model with int8 layers: the last int8 layer's
 * N rows (features are normalised and quantized in one pass, without a
 * float copy: ttr_quantize_norm_s8). */
static inline size_t ttr__s8_act0_floats(const ttr_model *m)
{
    return (size_t)m->cfg.max_items * m->rel[m->n_rel - 2].out;
}

/* Deterministic generator (splitmix64): the same stream on every target. */
uint64_t ttr__rng_next(uint64_t *state);
float ttr__rng_uniform(uint64_t *state); /* [0, 1) */

/* Arena layout: runs in two phases with the same code, measuring (base NULL)
 * then committing, so ttr_arena_bytes is exact by construction. */
typedef struct ttr__layout {
    unsigned char *base; /* NULL while measuring */
    size_t used;
    int overflow;        /* the plan does not fit in size_t (32-bit targets) */
    struct ttr__layout *step; /* where a model's per-step region goes; NULL: here */
} ttr__layout;
void *ttr__alloc(ttr__layout *l, size_t bytes);
/* The first TTR__ALIGN boundary at or after p (NULL stays NULL): where a
 * layout starts in a caller's buffer of any alignment. */
unsigned char *ttr__align_up(void *p);
int ttr__plan(ttr_model *m, const ttr_config *cfg, ttr_mode mode, ttr__layout *l);

/* ttr_model_init for every mode, TTR_MODE_SERVE_S8 included (model.c): a
 * serving model starts with an all-zero tower (packed padding zero). */
int ttr__model_create(ttr_model **out, const ttr_config *cfg, ttr_mode mode, void *arena,
                      size_t bytes);

/* A train model that uses `owner`'s per-step region (gradients and scratch)
 * instead of one of its own: its arena holds only the model itself,
 * ttr__shared_step_bytes(cfg) bytes. For two models of one configuration
 * that never run at the same time (the loop's champion and learner, one
 * thread): nothing in the region outlives a call (tests/test_loop.c poisons
 * it between calls). owner: a train model of the same structure. */
size_t ttr__shared_step_bytes(const ttr_config *cfg);
int ttr__model_create_sharing(ttr_model **out, const ttr_config *cfg, void *arena, size_t bytes,
                              const ttr_model *owner);
/* ttr_model_load into such a model (io/model_io.c): a train-mode file. */
int ttr__model_load_sharing(ttr_model **out, void *arena, size_t bytes, ttr_read_fn read,
                            void *ctx, const ttr_model *owner);

/* A conservative estimate of ttr_arena_bytes(cfg, any mode) computed in
 * double, so that 32-bit targets can refuse a file's configuration before
 * sizing it (model_io.c). */
double ttr__arena_estimate(const ttr_config *cfg);

/* dst := src, two train models of the same structure (variant, sizes,
 * layout, optimizer; dst keeps its own rates, penalties and seed): weights,
 * optimizer state, normalisation, running statistics, step, generator,
 * impressions and tag, so that dst continues as src would with dst's
 * settings. TTR_ERR_ARG when the structures differ. */
int ttr__model_copy(ttr_model *dst, const ttr_model *src);
/* 1 when a and b agree on what ttr__model_copy needs (the structure). */
int ttr__same_structure(const ttr_config *a, const ttr_config *b);

/* What a serving copy keeps of where its weights come from: the
 * impressions and tag of src (model.c). */
void ttr__copy_provenance(ttr_model *dst, const ttr_model *src);

/* Weight initialisation from cfg->seed (model.c). */
void ttr__init_weights(ttr_model *m);
/* Repack every dense layer's W after an update. */
void ttr__repack(ttr_model *m);

/* Forward and backward over a batch (train.c). With grads != 0 the
 * gradients of every tensor are overwritten (scaled by 1 / lists), and the
 * staged statistics filled; with training != 0 slot dropout is drawn from
 * *rng. Returns the mean loss per list through *loss, or an error. Does not
 * change weights. click_probs (optional) receives P(click) per item. */
int ttr__forward_backward(ttr_model *m, const ttr_batch *b, int grads, int training,
                          uint64_t *rng, double *loss, float *click_probs);

/* Input checks shared by every batch entry point. */
int ttr__check_batch(const ttr_model *m, const ttr_batch *b);

/* Lay out the forward scratch of model m in l (measuring when l->base is
 * NULL). own: the model's own, whose dot rows are the training scratch's
 * (de, dbh; planned before) rather than new ones. */
void ttr__plan_fwd_scratch(const ttr_model *m, ttr__layout *l, ttr__fwd_scratch *s, int own);

/* Relevance tower forward for n <= max_items items into the forward
 * scratch fs: normalises x, fills act[]; returns the output rows (n x
 * f_out), or NULL when a feature is NaN or Inf. Reads the model only. */
const float *ttr__rel_forward(const ttr_model *m, const ttr__fwd_scratch *fs, size_t n,
                              const float *x, size_t ldx);

#endif
