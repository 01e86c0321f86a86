/* What training keeps besides the weights, and where it starts: the running
 * means of dot's b_ref and XPA's attention map after several batches
 * (against means computed here), MixEM's click probability as the pi-weighted
 * mixture, the initialisation of every variant (He-uniform bounds, dot's
 * near-additive start, MixEM's uniform pi and unit gains), and the
 * stability of softmaxes over scores far apart.
 *
 * Every configuration field the checks depend on is set here explicitly. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "testutil.h"

static void restore_mask(void)
{
    ttr_set_cpu_mask(TTR_CPU_ALL);
}

TestSuite(train_stats, .fini = restore_mask);

#define F 3
#define MAXI 4

static void small_config(ttr_config *c, ttr_variant v)
{
    ttr_config_default(c, v, F);
    c->n_hidden = 1;
    c->hidden[0] = 4;
    c->rows = 4;
    c->cols = 1;
    c->n_contexts = 0;
    c->embed_dim = 3;
    c->bias_hidden = 0;
    c->dot_dim = 3;
    c->components = 3;
    c->attn_dim = 2;
    c->max_items = MAXI;
    c->max_batch = 4;
    c->loss = TTR_LOSS_BCE;
    /* plain SGD with a large step: the statistics of every batch differ */
    c->optimizer = TTR_OPT_SGD;
    c->lr = 0.5f;
    c->momentum = 0.0f;
    c->l2 = 0.0f;
    c->clip_norm = 0.0f;
    c->slot_dropout = 0.0f;
    c->dot_serving = TTR_DOT_REF_MEAN;
    c->seed = 9;
}

static ttr_model *new_model(const ttr_config *c, void **arena)
{
    size_t bytes = ttr_arena_bytes(c, TTR_MODE_TRAIN);
    cr_assert(bytes > 0);
    *arena = malloc(bytes);
    ttr_model *m;
    cr_assert_eq(ttr_model_init(&m, c, TTR_MODE_TRAIN, *arena, bytes), TTR_OK);
    return m;
}

/* A batch of up to 4 lists. */
typedef struct sbatch {
    size_t offsets[5];
    float x[4 * MAXI * F];
    uint16_t slots[4 * MAXI];
    uint8_t clicks[4 * MAXI];
    uint32_t ctx[4];
    ttr_batch b;
} sbatch;

/* Lists with the given lengths; slots distinct within a list (drawn from
 * the P slots), clicks and contexts drawn. */
static void make_batch(sbatch *sb, size_t n_lists, const size_t *lens, uint32_t P,
                       uint32_t n_ctx, uint64_t seed)
{
    tu_rng r = tu_rng_seed(seed);
    size_t at = 0;
    for (size_t l = 0; l < n_lists; l++) {
        uint32_t start = tu_u32(&r) % P;
        sb->offsets[l] = at;
        sb->ctx[l] = n_ctx ? tu_u32(&r) % n_ctx : 0;
        for (size_t i = 0; i < lens[l]; i++, at++) {
            tu_fill_uniform(&r, sb->x + at * F, F, -1.0f, 1.0f);
            sb->slots[at] = (uint16_t)((start + i * 5) % P); /* 5 is prime to P here */
            sb->clicks[at] = (uint8_t)(tu_u32(&r) % 2);
        }
    }
    sb->offsets[n_lists] = at;
    memset(&sb->b, 0, sizeof sb->b);
    sb->b.n_lists = n_lists;
    sb->b.offsets = sb->offsets;
    sb->b.x = sb->x;
    sb->b.ldx = F;
    sb->b.slots = sb->slots;
    sb->b.clicks = sb->clicks;
    sb->b.contexts = n_ctx ? sb->ctx : NULL;
}

/* ---- running means ------------------------------------------------------------ */

Test(train_stats, dot_bref_is_the_mean_over_every_training_item)
{
    ttr_config c;
    small_config(&c, TTR_DOT);
    c.n_contexts = 2;
    /* D x max_items floats fill whole 64-byte blocks: a head that writes a
     * row past its list lands in the next scratch array, not in padding */
    c.dot_dim = 4;
    void *arena;
    ttr_model *m = new_model(&c, &arena);
    const uint32_t P = c.rows * c.cols, D = c.dot_dim;
    static const size_t lens[4][4] = {{4, 1, 0, 3}, {2, 2, 0, 0}, {4, 4, 4, 3}, {1, 0, 0, 0}};
    static const size_t n_lists[4] = {4, 2, 4, 1};
    double sum[8] = {0}, count = 0.0;
    for (int s = 0; s < 4; s++) {
        sbatch sb;
        make_batch(&sb, n_lists[s], lens[s], P, c.n_contexts, 40 + (uint64_t)s);
        /* b(p, k) of every slot and context with the weights of this step */
        float bs[2][16 * 8], bref[8];
        for (uint32_t k = 0; k < 2; k++)
            cr_assert_eq(ttr_dot_reference(m, bref, k, bs[k]), TTR_OK);
        for (size_t l = 0; l < sb.b.n_lists; l++)
            for (size_t i = sb.offsets[l]; i < sb.offsets[l + 1]; i++) {
                for (uint32_t j = 0; j < D; j++)
                    sum[j] += bs[sb.ctx[l]][sb.slots[i] * D + j];
                count += 1.0;
            }
        cr_assert_eq(ttr_train(m, &sb.b, NULL), TTR_OK);
        float got[8];
        cr_assert_eq(ttr_dot_reference(m, got, 0, NULL), TTR_OK);
        cr_assert_eq(m->bref_count, count, "after batch %d: count %g, items %g", s,
                     m->bref_count, count);
        for (uint32_t j = 0; j < D; j++) {
            double want = sum[j] / count;
            cr_assert(fabs(got[j] - want) <= 1e-5 * fabs(want) + 1e-6,
                      "after batch %d: b_ref[%u] = %.9g, mean of b over %g items %.9g", s, j,
                      (double)got[j], count, want);
        }
    }
    /* a batch that is refused leaves the mean alone */
    {
        sbatch sb;
        static const size_t one[1] = {2};
        float before[8], after[8];
        make_batch(&sb, 1, one, P, c.n_contexts, 77);
        sb.x[1] = NAN;
        cr_assert_eq(ttr_dot_reference(m, before, 0, NULL), TTR_OK);
        cr_assert_eq(ttr_train(m, &sb.b, NULL), TTR_ERR_NONFINITE);
        cr_assert_eq(ttr_dot_reference(m, after, 0, NULL), TTR_OK);
        cr_assert(!memcmp(before, after, D * sizeof(float)));
        cr_assert_eq(m->bref_count, count);
    }
    free(arena);
}

/* a(j, m) of one list in double, from the model's embeddings and projections:
 * the softmax over the other items (a(j, j) = 0; a list of one item has no
 * neighbours and an all-zero row). */
static void xpa_attention_of_list(const ttr_model *m, size_t n, const uint16_t *slots,
                                  double *a)
{
    const ttr_config *c = &m->cfg;
    uint32_t de = c->embed_dim, da = c->attn_dim;
    double e[MAXI][8], q[MAXI][8], k[MAXI][8];
    const ttr__bias_tower *bt = &m->bias[0];
    for (size_t i = 0; i < n; i++) {
        uint32_t row = slots[i] / c->cols, col = slots[i] % c->cols;
        for (uint32_t d = 0; d < de; d++)
            e[i][d] = (double)bt->E_row->w[row * de + d] + bt->E_col->w[col * de + d];
        for (uint32_t o = 0; o < da; o++) {
            q[i][o] = k[i][o] = 0.0;
            for (uint32_t d = 0; d < de; d++) {
                q[i][o] += (double)m->wq.W->w[o * de + d] * e[i][d];
                k[i][o] += (double)m->wk.W->w[o * de + d] * e[i][d];
            }
        }
    }
    for (size_t j = 0; j < n; j++) {
        double s[MAXI], mx = -INFINITY, sum = 0.0;
        for (size_t t = 0; t < n; t++) {
            s[t] = 0.0;
            for (uint32_t o = 0; o < da; o++)
                s[t] += q[j][o] * k[t][o];
            s[t] /= sqrt((double)da);
            if (t != j)
                mx = s[t] > mx ? s[t] : mx;
        }
        for (size_t t = 0; t < n; t++)
            sum += t != j ? exp(s[t] - mx) : 0.0;
        for (size_t t = 0; t < n; t++)
            a[j * n + t] = t != j ? exp(s[t] - mx) / sum : 0.0;
    }
}

Test(train_stats, xpa_attention_map_is_the_mean_per_attending_slot)
{
    ttr_config c;
    small_config(&c, TTR_XPA);
    c.rows = 2;
    c.cols = 3;
    void *arena;
    ttr_model *m = new_model(&c, &arena);
    enum { P = 6 };
    static const size_t lens[4][4] = {{4, 2, 3, 0}, {3, 3, 0, 0}, {4, 1, 4, 2}, {2, 0, 0, 0}};
    static const size_t n_lists[4] = {4, 2, 4, 1};
    double sum[P * P] = {0}, cnt[P] = {0}, with_neighbours[P] = {0};
    float got[P * P];
    cr_assert_eq(ttr_xpa_attention(m, got), TTR_OK);
    for (int i = 0; i < P * P; i++)
        cr_assert_eq(got[i], 0.0f, "attention map not zero at init");
    for (int s = 0; s < 4; s++) {
        sbatch sb;
        make_batch(&sb, n_lists[s], lens[s], P, 0, 60 + (uint64_t)s);
        for (size_t l = 0; l < sb.b.n_lists; l++) {
            size_t o = sb.offsets[l], n = sb.offsets[l + 1] - o;
            double a[MAXI * MAXI];
            xpa_attention_of_list(m, n, sb.slots + o, a);
            for (size_t j = 0; j < n; j++) {
                for (size_t t = 0; t < n; t++)
                    sum[sb.slots[o + j] * P + sb.slots[o + t]] += a[j * n + t];
                cnt[sb.slots[o + j]] += 1.0;
                with_neighbours[sb.slots[o + j]] += n > 1;
            }
        }
        cr_assert_eq(ttr_train(m, &sb.b, NULL), TTR_OK);
        cr_assert_eq(ttr_xpa_attention(m, got), TTR_OK);
        for (int p = 0; p < P; p++) {
            double row = 0.0;
            for (int q = 0; q < P; q++) {
                double want = cnt[p] > 0.0 ? sum[p * P + q] / cnt[p] : 0.0;
                row += got[p * P + q];
                cr_assert(fabs(got[p * P + q] - want) <= 1e-5,
                          "after batch %d: a(%d, %d) = %.9g, mean over %g items %.9g", s, p, q,
                          (double)got[p * P + q], cnt[p], want);
            }
            /* the row of an item with neighbours sums to 1, of one alone to 0 */
            if (cnt[p] > 0.0)
                cr_assert(fabs(row - with_neighbours[p] / cnt[p]) <= 1e-5,
                          "row %d sums to %.9g, %g of %g items had neighbours", p, row,
                          with_neighbours[p], cnt[p]);
        }
    }
    free(arena);
}

/* ---- MixEM --------------------------------------------------------------------- */

static double sigmoid(double z)
{
    return 1.0 / (1.0 + exp(-z));
}

Test(train_stats, mixem_click_probability_is_the_pi_weighted_mixture)
{
    ttr_config c;
    small_config(&c, TTR_MIXEM);
    void *arena;
    ttr_model *m = new_model(&c, &arena);
    const uint32_t K = c.components, P = c.rows * c.cols;
    static const float phi[3] = {0.8f, -0.4f, 0.1f}, gain[3] = {1.3f, 0.6f, -0.2f};
    for (uint32_t k = 0; k < K; k++) {
        m->phi->w[k] = phi[k];
        m->gain->w[k] = gain[k];
    }
    double pi[3], z = 0.0;
    for (uint32_t k = 0; k < K; k++)
        z += exp((double)phi[k]);
    for (uint32_t k = 0; k < K; k++)
        pi[k] = exp((double)phi[k]) / z;
    float got_pi[3], got_gain[3];
    cr_assert_eq(ttr_mixem_params(m, got_pi, got_gain), TTR_OK);
    for (uint32_t k = 0; k < K; k++) {
        cr_assert(fabs(got_pi[k] - pi[k]) <= 1e-6, "pi[%u] %.9g vs %.9g", k, (double)got_pi[k],
                  pi[k]);
        cr_assert_eq(got_gain[k], gain[k]);
    }
    static const size_t lens[2] = {4, 3};
    sbatch sb;
    make_batch(&sb, 2, lens, P, 0, 5);
    size_t n = sb.offsets[2];
    float f[2 * MAXI], probs[2 * MAXI], g[3][16];
    cr_assert_eq(ttr_score(m, n, sb.x, F, f), TTR_OK);
    for (uint32_t k = 0; k < K; k++)
        cr_assert_eq(ttr_bias_curve(m, k, 0, g[k]), TTR_OK);
    cr_assert_eq(ttr_click_probs(m, &sb.b, probs), TTR_OK);
    for (size_t i = 0; i < n; i++) {
        double want = 0.0;
        for (uint32_t k = 0; k < K; k++)
            want += pi[k] * sigmoid((double)gain[k] * f[i] + g[k][sb.slots[i]]);
        cr_assert(fabs(probs[i] - want) <= 1e-5, "item %zu: P(click) %.9g, mixture %.9g", i,
                  (double)probs[i], want);
    }
    /* mixing logits far apart: pi stays finite (softmax with its max out) */
    m->phi->w[0] = 800.0f; /* exp overflows double */
    m->phi->w[1] = 0.0f;
    m->phi->w[2] = -150.0f;
    cr_assert_eq(ttr_mixem_params(m, got_pi, NULL), TTR_OK);
    cr_assert(got_pi[0] == 1.0f && got_pi[1] >= 0.0f && got_pi[1] < 1e-30f && got_pi[2] == 0.0f,
              "pi %g %g %g", (double)got_pi[0], (double)got_pi[1], (double)got_pi[2]);
    double loss;
    cr_assert_eq(ttr_eval_loss(m, &sb.b, &loss), TTR_OK);
    cr_assert(isfinite(loss));
    cr_assert_eq(ttr_click_probs(m, &sb.b, probs), TTR_OK);
    for (size_t i = 0; i < n; i++) {
        double want = sigmoid((double)gain[0] * f[i] + g[0][sb.slots[i]]);
        cr_assert(fabs(probs[i] - want) <= 1e-5, "item %zu: P(click) %.9g, component 0 %.9g",
                  i, (double)probs[i], want);
    }
    /* lists so unlikely under every component (logits ~ +-1000 against the
     * clicks) that exp(log pi + ll) underflows: the loss -logsumexp stays
     * finite and exact */
    for (uint32_t k = 0; k < K; k++) {
        m->phi->w[k] = phi[k];
        m->gain->w[k] = 3000.0f * (float)(k + 1);
    }
    double want_loss = 0.0;
    for (size_t l = 0; l < 2; l++) {
        double a[3], amax = -INFINITY, asum = 0.0;
        for (uint32_t k = 0; k < K; k++) {
            a[k] = log(pi[k]);
            for (size_t i = sb.offsets[l]; i < sb.offsets[l + 1]; i++) {
                double zz = (double)m->gain->w[k] * f[i] + g[k][sb.slots[i]];
                a[k] -= (zz > 0.0 ? zz + log1p(exp(-zz)) : log1p(exp(zz))) - sb.clicks[i] * zz;
            }
            amax = a[k] > amax ? a[k] : amax;
        }
        for (uint32_t k = 0; k < K; k++)
            asum += exp(a[k] - amax);
        want_loss -= amax + log(asum);
    }
    want_loss /= 2.0;
    cr_assert(want_loss > 800.0, "the lists are not unlikely enough: %g", want_loss);
    cr_assert_eq(ttr_eval_loss(m, &sb.b, &loss), TTR_OK);
    cr_assert(fabs(loss - want_loss) <= 1e-5 * want_loss, "loss %.9g, hand %.9g", loss,
              want_loss);
    free(arena);
}

/* ---- initialisation ------------------------------------------------------------ */


/* n values uniform in [-a, a]: none beyond a, the largest above 0.8 a (for
 * n >= 30 that fails with probability below 0.8^30 = 1e-3 for a fixed seed,
 * and it does not here), and with n >= 500 a mean square of a^2 / 3 within
 * 5 standard errors (0.894 / sqrt(n) relative). */
static void expect_uniform(const float *w, size_t n, double a, const char *what)
{
    double mx = 0.0, ms = 0.0;
    cr_assert(n >= 30, "%s: too few values to check (%zu)", what, n);
    for (size_t i = 0; i < n; i++) {
        double v = fabs((double)w[i]);
        cr_assert(v <= a * (1.0 + 1e-6), "%s[%zu] = %g beyond the bound %g", what, i,
                  (double)w[i], a);
        mx = v > mx ? v : mx;
        ms += v * v;
    }
    cr_assert(mx >= 0.8 * a, "%s: largest |w| %g, bound %g", what, mx, a);
    ms /= (double)n;
    if (n >= 500)
        cr_assert(fabs(ms / (a * a / 3.0) - 1.0) <= 5.0 * 0.894 / sqrt((double)n),
                  "%s: mean square %g, uniform on +-%g has %g", what, ms, a, a * a / 3.0);
}

static void expect_zero(const float *w, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(w[i], 0.0f, "%s[%zu] = %g, not 0", what, i, (double)w[i]);
}

Test(train_stats, initialisation_of_every_variant)
{
    const double s2 = sqrt(2.0);
    ttr_config c;
    void *arena;
    ttr_model *m;

    /* relevance tower: He-uniform (gain sqrt 2) for ReLU layers, plain for
     * the output, zero biases; normalisation identity; state zero */
    ttr_config_default(&c, TTR_NAIVE, 40);
    c.n_hidden = 2;
    c.hidden[0] = 64;
    c.hidden[1] = 32;
    c.optimizer = TTR_OPT_ADAM;
    c.seed = 21;
    m = new_model(&c, &arena);
    expect_uniform(tu_tensor(m, "rel.0.w")->w, 64 * 40, s2 * sqrt(3.0 / 40), "rel.0.w");
    expect_uniform(tu_tensor(m, "rel.1.w")->w, 32 * 64, s2 * sqrt(3.0 / 64), "rel.1.w");
    expect_uniform(tu_tensor(m, "rel.2.w")->w, 32, sqrt(3.0 / 32), "rel.2.w");
    expect_zero(tu_tensor(m, "rel.0.b")->w, 64, "rel.0.b");
    expect_zero(tu_tensor(m, "rel.1.b")->w, 32, "rel.1.b");
    expect_zero(tu_tensor(m, "rel.2.b")->w, 1, "rel.2.b");
    for (uint32_t i = 0; i < m->n_tensors; i++) {
        const ttr__tensor *t = &m->tensors[i];
        expect_zero(t->s1, (size_t)t->rows * t->cols, t->name);
        expect_zero(t->s2, (size_t)t->rows * t->cols, t->name);
    }
    {
        float mean[40], scale[40];
        ttr_get_normalization(m, mean, scale);
        for (int t = 0; t < 40; t++)
            cr_assert(mean[t] == 0.0f && scale[t] == 1.0f);
    }
    cr_assert_eq(m->step, 0);
    free(arena);

    /* additive bias tower: embeddings uniform in +-0.5, E_unk zero, a hidden
     * ReLU layer (gain sqrt 2) and a plain output layer */
    ttr_config_default(&c, TTR_ADDITIVE, 5);
    c.n_hidden = 0;
    c.rows = 40;
    c.cols = 3;
    c.n_contexts = 12;
    c.embed_dim = 16;
    c.bias_hidden = 40;
    c.seed = 22;
    m = new_model(&c, &arena);
    expect_uniform(tu_tensor(m, "bias0.row")->w, 40 * 16, 0.5, "bias0.row");
    expect_uniform(tu_tensor(m, "bias0.col")->w, 3 * 16, 0.5, "bias0.col");
    expect_uniform(tu_tensor(m, "bias0.ctx")->w, 12 * 16, 0.5, "bias0.ctx");
    expect_zero(tu_tensor(m, "bias0.unk")->w, 16, "bias0.unk");
    expect_uniform(tu_tensor(m, "bias0.hid.w")->w, 40 * 16, s2 * sqrt(3.0 / 16), "bias0.hid.w");
    expect_zero(tu_tensor(m, "bias0.hid.b")->w, 40, "bias0.hid.b");
    expect_uniform(tu_tensor(m, "bias0.out.w")->w, 40, sqrt(3.0 / 40), "bias0.out.w");
    expect_zero(tu_tensor(m, "bias0.out.b")->w, 1, "bias0.out.b");
    free(arena);

    /* dot: r = (f, 1, ~0), b = (1, g, ~0), so r . b = f + g at the start */
    ttr_config_default(&c, TTR_DOT, 6);
    c.n_hidden = 1;
    c.hidden[0] = 48;
    c.rows = 10;
    c.cols = 1;
    c.n_contexts = 0;
    c.embed_dim = 40;
    c.bias_hidden = 0;
    c.dot_dim = 4;
    c.dot_serving = TTR_DOT_REF_MEAN;
    c.seed = 23;
    m = new_model(&c, &arena);
    {
        const float *rw = tu_tensor(m, "rel.1.w")->w, *rb = tu_tensor(m, "rel.1.b")->w;
        const float *bw = tu_tensor(m, "bias0.out.w")->w, *bb = tu_tensor(m, "bias0.out.b")->w;
        expect_uniform(rw, 48, sqrt(3.0 / 48), "dot r row 0 (f)");
        expect_zero(rw + 48, 48, "dot r row 1");
        cr_assert(rb[0] == 0.0f && rb[1] == 1.0f && rb[2] == 0.0f && rb[3] == 0.0f,
                  "r bias %g %g %g %g", (double)rb[0], (double)rb[1], (double)rb[2],
                  (double)rb[3]);
        expect_uniform(rw + 2 * 48, 2 * 48, 0.01, "dot r rows 2..3");
        expect_zero(bw, 40, "dot b row 0");
        expect_uniform(bw + 40, 40, sqrt(3.0 / 40), "dot b row 1 (g)");
        expect_uniform(bw + 2 * 40, 2 * 40, 0.01, "dot b rows 2..3");
        cr_assert(bb[0] == 1.0f && bb[1] == 0.0f && bb[2] == 0.0f && bb[3] == 0.0f,
                  "b bias %g %g %g %g", (double)bb[0], (double)bb[1], (double)bb[2],
                  (double)bb[3]);
        cr_assert_eq(m->bref_count, 0.0);
        /* so the click logit of a fresh model is f(x) + g(p) up to the small rows */
        float bs[10 * 4], bref[4], x[6] = {0.3f, -0.7f, 0.5f, 0.1f, -0.2f, 0.9f}, p;
        cr_assert_eq(ttr_dot_reference(m, bref, 0, bs), TTR_OK);
        cr_assert_eq(bref[0], 1.0f, "b_ref of a fresh model is b(top slot)");
        for (int s = 0; s < 10; s++) {
            size_t offs[2] = {0, 1};
            uint16_t slot = (uint16_t)s;
            uint8_t click = 0;
            ttr_batch b = {1, offs, x, 6, &slot, &click, NULL};
            const float *r = ttr__rel_forward(m, &m->s.fwd, 1, x, 6);
            double f = r[0], small = (double)r[2] * bs[s * 4 + 2] + (double)r[3] * bs[s * 4 + 3];
            cr_assert_eq(r[1], 1.0f);
            cr_assert_eq(bs[s * 4], 1.0f);
            cr_assert(fabs(small) < 0.05 * (fabs(f) + fabs(bs[s * 4 + 1])) + 1e-3);
            cr_assert_eq(ttr_click_probs(m, &b, &p), TTR_OK);
            double z = log(p / (1.0 - p));
            cr_assert(fabs(z - (f + bs[s * 4 + 1] + small)) <= 1e-4 * (1.0 + fabs(z)),
                      "slot %d: logit %.6g, f + g %.6g", s, z, f + bs[s * 4 + 1]);
        }
    }
    free(arena);

    /* MixEM: uniform pi (phi = 0), gains 1, components drawn apart */
    ttr_config_default(&c, TTR_MIXEM, 4);
    c.n_hidden = 1;
    c.hidden[0] = 8;
    c.rows = 10;
    c.cols = 1;
    c.embed_dim = 8;
    c.components = 4;
    c.seed = 24;
    m = new_model(&c, &arena);
    {
        float pi[4], gain[4];
        cr_assert_eq(ttr_mixem_params(m, pi, gain), TTR_OK);
        for (int k = 0; k < 4; k++) {
            cr_assert_eq(m->phi->w[k], 0.0f);
            cr_assert(fabs(pi[k] - 0.25f) <= 1e-7f, "pi[%d] = %g", k, (double)pi[k]);
            cr_assert_eq(gain[k], 1.0f);
        }
        cr_assert(memcmp(tu_tensor(m, "bias0.row")->w, tu_tensor(m, "bias1.row")->w, 80 * sizeof(float)),
                  "components 0 and 1 start equal");
    }
    free(arena);

    /* XPA: projections plain uniform, u and v small, c0 zero */
    ttr_config_default(&c, TTR_XPA, 6);
    c.n_hidden = 1;
    c.hidden[0] = 50;
    c.rows = 2;
    c.cols = 5;
    c.embed_dim = 32;
    c.attn_dim = 8;
    c.seed = 25;
    m = new_model(&c, &arena);
    expect_uniform(tu_tensor(m, "xpa.wq")->w, 8 * 32, sqrt(3.0 / 32), "xpa.wq");
    expect_uniform(tu_tensor(m, "xpa.wk")->w, 8 * 32, sqrt(3.0 / 32), "xpa.wk");
    expect_uniform(tu_tensor(m, "xpa.u")->w, 50, 0.1 / sqrt(50.0), "xpa.u");
    expect_uniform(tu_tensor(m, "xpa.v")->w, 32, 0.1 / sqrt(32.0), "xpa.v");
    expect_zero(tu_tensor(m, "xpa.c0")->w, 1, "xpa.c0");
    free(arena);
}

/* ---- softmax over scores far apart ---------------------------------------------- */

Test(train_stats, attention_softmax_of_scores_far_apart)
{
    /* one query dimension: score(j, m) = scale q_j k_m, with keys spread
     * so that a row's scores differ by up to 500: exp of most of them
     * alone overflows float, exp of their differences from the row's max
     * does not. Lists of 5 (vector tails) and 21 (full vectors) items. */
    enum { NMAX = 21 };
    static const size_t sizes[2] = {5, NMAX};
    float q[NMAX], k[NMAX];
    for (int t = 0; t < NMAX; t++) {
        k[t] = 150.0f - 12.5f * (float)((t * 8) % NMAX); /* 150 .. -100, shuffled */
        q[t] = (float)(t % 5) * 0.5f - (t % 2 ? 1.0f : 0.0f); /* -1 .. 2, zero too */
    }
    const float scale = 1.0f;
    unsigned masks[8];
    const char *names[8];
    int nm = tu_masks(masks, names);
    for (int mi = 0; mi < nm; mi++)
        for (int si = 0; si < 2; si++) {
            int n = (int)sizes[si];
            ttr_set_cpu_mask(masks[mi]);
            float p[NMAX * NMAX];
            ttr_attn_probs_f32((size_t)n, 1, q, 1, k, 1, scale, NULL, p, (size_t)n);
            for (int j = 0; j < n; j++) {
                double s[NMAX], mx = -INFINITY, sum = 0.0, row = 0.0;
                for (int t = 0; t < n; t++) {
                    s[t] = (double)scale * q[j] * k[t];
                    mx = s[t] > mx ? s[t] : mx;
                }
                for (int t = 0; t < n; t++)
                    sum += exp(s[t] - mx);
                for (int t = 0; t < n; t++) {
                    double want = exp(s[t] - mx) / sum;
                    cr_assert(isfinite(p[j * n + t]) && fabs(p[j * n + t] - want) <= 1e-6,
                              "%s n=%d: p[%d][%d] = %.9g, softmax %.9g", names[mi], n, j, t,
                              (double)p[j * n + t], want);
                    row += p[j * n + t];
                }
                cr_assert(fabs(row - 1.0) <= 1e-6, "%s n=%d: row %d sums to %.9g", names[mi], n,
                          j, row);
            }
        }
}
