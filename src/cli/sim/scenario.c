/* The demo's scenario runner (see ttr_sim.h): planted data, simulated
 * impressions, every variant trained and evaluated, inside one caller arena. */
#include <math.h>
#include <string.h>

#include "sim_internal.h"
#include "ttr_sim.h"

#define S_N TTR_SCENARIO_SLOTS
#define S_F TTR_SCENARIO_F

typedef struct row_spec {
    const char *name;
    ttr_variant variant;
    int oracle;
    ttr_dot_serving dot;
} row_spec;

static const row_spec g_mixed[] = {
    {"oracle", TTR_NAIVE, 1, TTR_DOT_REF_MEAN},
    {"naive", TTR_NAIVE, 0, TTR_DOT_REF_MEAN},
    {"additive", TTR_ADDITIVE, 0, TTR_DOT_REF_MEAN},
    {"pal", TTR_PAL, 0, TTR_DOT_REF_MEAN},
    {"dot (b_ref mean)", TTR_DOT, 0, TTR_DOT_REF_MEAN},
    {"dot (b_ref top)", TTR_DOT, 0, TTR_DOT_REF_TOP},
    {"mixem", TTR_MIXEM, 0, TTR_DOT_REF_MEAN},
};
static const row_spec g_grid[] = {
    {"oracle", TTR_NAIVE, 1, TTR_DOT_REF_MEAN},
    {"naive", TTR_NAIVE, 0, TTR_DOT_REF_MEAN},
    {"additive", TTR_ADDITIVE, 0, TTR_DOT_REF_MEAN},
    {"xpa", TTR_XPA, 0, TTR_DOT_REF_MEAN},
};

static const row_spec *rows_of(ttr_scenario_kind k, size_t *n)
{
    if (k == TTR_SCENARIO_MIXED) {
        *n = sizeof g_mixed / sizeof g_mixed[0];
        return g_mixed;
    }
    *n = sizeof g_grid / sizeof g_grid[0];
    return g_grid;
}

void ttr_scenario_config_default(ttr_scenario_config *c, ttr_scenario_kind kind, uint64_t seed)
{
    memset(c, 0, sizeof *c);
    c->kind = kind;
    c->seed = seed;
    c->train_lists = 20000;
    c->test_lists = 1000;
    c->epochs = 3;
    c->lr = 1e-2f;
    c->hidden[0] = 16;
    c->hidden[1] = 8;
    c->max_batch = 16;
    ttr_sim_config_default(&c->sim);
    if (kind == TTR_SCENARIO_MIXED) {
        c->sim.users[TTR_USER_PBM] = 0.4f;
        c->sim.users[TTR_USER_POSITION] = 0.4f;
        c->sim.users[TTR_USER_THOROUGH] = 0.2f;
        c->sim.position_scale = 0.8f;
    } else {
        c->sim.rows = 2;
        c->sim.cols = 5;
        c->sim.grid_top = 0.9f;
        c->sim.row_decay = 0.6f;
        c->sim.col_decay = 0.8f;
        c->sim.neighbour = 3.0f;
    }
}

static void model_config(const ttr_scenario_config *c, const row_spec *r, ttr_config *mc)
{
    ttr_config_default(mc, r->variant, S_F);
    mc->n_hidden = 2;
    mc->hidden[0] = c->hidden[0];
    mc->hidden[1] = c->hidden[1];
    mc->rows = c->sim.rows;
    mc->cols = c->sim.cols;
    mc->embed_dim = 4;
    mc->attn_dim = 4;
    mc->max_items = S_N;
    mc->max_batch = c->max_batch;
    mc->lr = c->lr;
    mc->dot_serving = r->dot;
    mc->seed = c->seed * 7919u + 17u;
}

static int config_ok(const ttr_scenario_config *c)
{
    return c && (c->kind == TTR_SCENARIO_MIXED || c->kind == TTR_SCENARIO_GRID) &&
           c->train_lists >= 1 && c->test_lists >= 1 && c->train_lists < ((size_t)1 << 26) &&
           c->test_lists < ((size_t)1 << 26) && c->epochs >= 1 && c->max_batch >= 1 &&
           c->sim.rows * c->sim.cols == S_N && c->sim.ymax == 4 &&
           c->sim.bias_feature < S_F && ttr_sim_config_check(&c->sim) == TTR_OK;
}

#define ALIGN 64u
static size_t up(size_t v)
{
    return (v + ALIGN - 1) & ~(size_t)(ALIGN - 1);
}

typedef struct plan {
    size_t x_tr, lab_tr, slot_tr, clk_tr, oclk_tr, off_tr;
    size_t x_te, lab_te, slot_te, clk_te, prob_te, off_te;
    size_t cprob, model, model_bytes, total;
} plan;

static int make_plan(const ttr_scenario_config *c, plan *p)
{
    if (!config_ok(c))
        return TTR_ERR_ARG;
    size_t ntr = c->train_lists * S_N, nte = c->test_lists * S_N, o = 0;
#define TAKE(field, bytes) (p->field = o, o += up(bytes))
    TAKE(x_tr, ntr * S_F * sizeof(float));
    TAKE(lab_tr, ntr);
    TAKE(slot_tr, ntr * sizeof(uint16_t));
    TAKE(clk_tr, ntr);
    TAKE(oclk_tr, ntr);
    TAKE(off_tr, (c->train_lists + 1) * sizeof(size_t));
    TAKE(x_te, nte * S_F * sizeof(float));
    TAKE(lab_te, nte);
    TAKE(slot_te, nte * sizeof(uint16_t));
    TAKE(clk_te, nte);
    TAKE(prob_te, nte * sizeof(float));
    TAKE(off_te, (c->test_lists + 1) * sizeof(size_t));
    TAKE(cprob, (size_t)c->max_batch * S_N * sizeof(float));
#undef TAKE
    size_t nr, mb = 0;
    const row_spec *rs = rows_of(c->kind, &nr);
    for (size_t i = 0; i < nr; i++) {
        ttr_config mc;
        model_config(c, &rs[i], &mc);
        size_t b = ttr_arena_bytes(&mc, TTR_MODE_TRAIN);
        if (!b)
            return TTR_ERR_ARG;
        if (b > mb)
            mb = b;
    }
    p->model = o;
    p->model_bytes = mb;
    p->total = o + mb + ALIGN; /* + slack to align the arena's start */
    return TTR_OK;
}

size_t ttr_scenario_bytes(const ttr_scenario_config *c)
{
    plan p;
    return make_plan(c, &p) ? 0 : p.total;
}

typedef struct data {
    size_t n_lists;
    float *x;
    uint8_t *labels, *clicks;
    uint16_t *slots;
    size_t *offsets;
} data;

static int train_model(const ttr_scenario_config *c, ttr_model *m, const data *d,
                       const uint8_t *clicks)
{
    for (uint32_t e = 0; e < c->epochs; e++)
        for (size_t l0 = 0; l0 < d->n_lists; l0 += c->max_batch) {
            size_t nl = d->n_lists - l0 < c->max_batch ? d->n_lists - l0 : c->max_batch;
            ttr_batch b = {nl, d->offsets + l0, d->x, S_F, d->slots, clicks, NULL};
            int err = ttr_train(m, &b, NULL);
            if (err)
                return err;
        }
    return TTR_OK;
}

static int evaluate(const ttr_scenario_config *c, ttr_model *m, const data *te, float *cprob,
                    ttr_scenario_row *row, ttr_scenario_result *out)
{
    ttr_rank_metrics rm;
    ttr_rank_metrics_reset(&rm);
    float s[S_N];
    uint32_t scratch[S_N];
    int err;
    for (size_t q = 0; q < te->n_lists; q++) {
        size_t b = te->offsets[q];
        if ((err = ttr_score(m, S_N, te->x + b * S_F, S_F, s)) ||
            (err = ttr_rank_metrics_add(&rm, S_N, s, te->labels + b, scratch)))
            return err;
    }
    row->ndcg5 = ttr_rank_metrics_ndcg(&rm, 5);
    row->ndcg10 = ttr_rank_metrics_ndcg(&rm, 10);
    row->mrr = ttr_rank_metrics_mrr(&rm);
    out->eval_counted = rm.counted;
    out->eval_skipped = rm.skipped;
    double ll = 0.0;
    for (size_t l0 = 0; l0 < te->n_lists; l0 += c->max_batch) {
        size_t nl = te->n_lists - l0 < c->max_batch ? te->n_lists - l0 : c->max_batch;
        ttr_batch b = {nl, te->offsets + l0, te->x, S_F, te->slots, te->clicks, NULL};
        size_t items = te->offsets[l0 + nl] - te->offsets[l0];
        double part;
        if ((err = ttr_click_probs(m, &b, cprob)) ||
            (err = ttr_click_loglik(items, cprob, te->clicks + te->offsets[l0], &part)))
            return err;
        ll += part;
    }
    row->loglik = ll / (double)te->offsets[te->n_lists];
    return TTR_OK;
}

static void relative(float *v, size_t n)
{
    float v0 = v[0];
    for (size_t i = 0; i < n; i++)
        v[i] -= v0;
}

static int readouts(const ttr_scenario_config *c, ttr_model *m, ttr_variant v,
                    ttr_scenario_result *out)
{
    int err = TTR_OK;
    if (v == TTR_ADDITIVE) {
        if (!(err = ttr_bias_curve(m, 0, 0, out->additive_bias)))
            relative(out->additive_bias, S_N);
    } else if (v == TTR_MIXEM) {
        out->mixem_k = 2;
        for (uint32_t k = 0; k < 2 && !err; k++)
            if (!(err = ttr_bias_curve(m, k, 0, out->mixem_bias[k])))
                relative(out->mixem_bias[k], S_N);
        if (!err)
            err = ttr_mixem_params(m, out->mixem_pi, out->mixem_gain);
    } else if (v == TTR_XPA && c->kind == TTR_SCENARIO_GRID) {
        err = ttr_xpa_attention(m, out->attention);
    }
    return err;
}

int ttr_scenario_run(const ttr_scenario_config *c, void *arena, size_t bytes,
                     ttr_scenario_result *out, ttr_progress_fn progress, void *ctx)
{
    plan p;
    int err;
    if (!arena || !out || (err = make_plan(c, &p)))
        return TTR_ERR_ARG;
    if (bytes < p.total)
        return TTR_ERR_NOMEM;
    unsigned char *base = (unsigned char *)arena;
    base += (ALIGN - (uintptr_t)base % ALIGN) % ALIGN;
    memset(out, 0, sizeof *out);
    out->kind = c->kind;
    out->rows = c->sim.rows;
    out->cols = c->sim.cols;

    data tr, te;
    tr.n_lists = c->train_lists;
    tr.x = (float *)(void *)(base + p.x_tr);
    tr.labels = base + p.lab_tr;
    tr.slots = (uint16_t *)(void *)(base + p.slot_tr);
    tr.clicks = base + p.clk_tr;
    tr.offsets = (size_t *)(void *)(base + p.off_tr);
    uint8_t *oclicks = base + p.oclk_tr;
    te.n_lists = c->test_lists;
    te.x = (float *)(void *)(base + p.x_te);
    te.labels = base + p.lab_te;
    te.slots = (uint16_t *)(void *)(base + p.slot_te);
    te.clicks = base + p.clk_te;
    te.offsets = (size_t *)(void *)(base + p.off_te);
    float *tprob = (float *)(void *)(base + p.prob_te);
    float *cprob = (float *)(void *)(base + p.cprob);
    void *marena = base + p.model;

    /* planted queries: training and held-out from unrelated seeds */
    ttr_planted_config pc;
    ttr_planted_config_default(&pc);
    pc.n_features = S_F;
    pc.docs = S_N;
    pc.ymax = c->sim.ymax;
    pc.seed = c->seed * 2u + 1u;
    if ((err = ttr_sim_planted(&pc, 0, tr.n_lists, tr.x, tr.labels)))
        return err;
    pc.seed = c->seed * 2u + 2u;
    if ((err = ttr_sim_planted(&pc, 0, te.n_lists, te.x, te.labels)))
        return err;

    /* impressions: biased clicks; the oracle's clicks by users who see all */
    ttr_rng rng, orng;
    ttr_rng_seed(&rng, c->seed ^ 0x5eed5eedull);
    ttr_rng_seed(&orng, c->seed ^ 0x0eac1eull);
    for (size_t l = 0; l < tr.n_lists; l++) {
        size_t b = l * S_N;
        tr.offsets[l] = b;
        if ((err = ttr_sim_impression(&c->sim, &rng, S_N, tr.x + b * S_F, S_F, tr.labels + b,
                                      tr.slots + b, tr.clicks + b, NULL, NULL)))
            return err;
        for (size_t i = 0; i < S_N; i++)
            oclicks[b + i] = ttr_rng_uniform(&orng) < ttr_sim_click_given_seen(&c->sim,
                                                                                tr.labels[b + i]);
    }
    tr.offsets[tr.n_lists] = tr.n_lists * S_N;
    double truth_ll = 0.0;
    for (size_t l = 0; l < te.n_lists; l++) {
        size_t b = l * S_N;
        double part;
        te.offsets[l] = b;
        if ((err = ttr_sim_impression(&c->sim, &rng, S_N, te.x + b * S_F, S_F, te.labels + b,
                                      te.slots + b, te.clicks + b, tprob + b, NULL)) ||
            (err = ttr_click_loglik(S_N, tprob + b, te.clicks + b, &part)))
            return err;
        truth_ll += part;
    }
    te.offsets[te.n_lists] = te.n_lists * S_N;

    /* truth curves, relative to the top slot */
    for (uint32_t k = 0; k < S_N; k++) {
        double s = ttr_sim_seen(&c->sim, k), q = c->sim.position_scale * s;
        out->truth_pbm[k] = (float)ttr__sim_log(s);
        out->truth_position[k] = (float)(ttr__sim_log(q) - ttr__sim_log(1.0 - q));
    }
    relative(out->truth_pbm, S_N);
    relative(out->truth_position, S_N);

    size_t nr;
    const row_spec *rs = rows_of(c->kind, &nr);
    out->n_rows = nr;
    for (size_t i = 0; i < nr; i++) {
        ttr_config mc;
        ttr_model *m;
        ttr_scenario_row *row = &out->row[i];
        row->name = rs[i].name;
        if (progress)
            progress(ctx, rs[i].name, (double)i / (double)nr);
        model_config(c, &rs[i], &mc);
        if ((err = ttr_model_init(&m, &mc, TTR_MODE_TRAIN, marena, p.model_bytes)) ||
            (err = train_model(c, m, &tr, rs[i].oracle ? oclicks : tr.clicks)) ||
            (err = evaluate(c, m, &te, cprob, row, out)) ||
            (err = readouts(c, m, rs[i].variant, out)))
            return err;
        if (rs[i].oracle)
            row->loglik = truth_ll / (double)te.offsets[te.n_lists];
    }
    if (progress)
        progress(ctx, "done", 1.0);
    /* rows 0 and 1 are the oracle and naive */
    double lo = out->row[1].ndcg10, span = out->row[0].ndcg10 - lo;
    for (size_t i = 0; i < nr; i++)
        out->row[i].gap = span > 1e-9 ? (out->row[i].ndcg10 - lo) / span : 0.0;
    return TTR_OK;
}
