/* Click simulation and planted data; the model of users is in ttr_sim.h.
 *
 * Determinism: integer RNG; exp and log are computed below in double
 * precision with plain + - * / (the build uses -ffp-contract=off), so the
 * same seed gives the same bits on x86-64, aarch64 and armv7 whatever libm
 * the target has. */
#include <math.h>
#include <string.h>

#include "sim_internal.h"
#include "ttr_sim.h"

void ttr_rng_seed(ttr_rng *r, uint64_t seed)
{
    /* splitmix64 of the seed: nearby seeds give unrelated streams, never 0 */
    uint64_t z = seed + 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    r->s = z ? z : 0x2545f4914f6cdd1dull;
}

uint32_t ttr_rng_u32(ttr_rng *r)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return (uint32_t)((r->s * 0x2545f4914f6cdd1dull) >> 32);
}

float ttr_rng_uniform(ttr_rng *r)
{
    return (float)(ttr_rng_u32(r) >> 8) * (1.0f / 16777216.0f);
}

/* ---- libm-free exp and log (double, ~1 ulp) ------------------------------ */

static const double LN2_HI = 6.93147180369123816490e-01, LN2_LO = 1.90821492927058770002e-10;

double ttr__sim_exp(double x)
{
    if (x > 700.0)
        x = 700.0;
    if (x < -700.0)
        return 0.0;
    double kd = x * 1.44269504088896338700;
    int k = (int)(kd < 0 ? kd - 0.5 : kd + 0.5);
    double r = (x - (double)k * LN2_HI) - (double)k * LN2_LO; /* |r| <= 0.35 */
    double p = 1.0, t = 1.0;
    for (int i = 1; i <= 14; i++) {
        t = t * r / (double)i;
        p += t;
    }
    return ldexp(p, k);
}

double ttr__sim_log(double x)
{
    if (!(x > 0.0))
        return -1e300;
    int e;
    double m = frexp(x, &e); /* [0.5, 1) */
    if (m < 0.70710678118654752440) {
        m *= 2.0;
        e--;
    }
    double s = (m - 1.0) / (m + 1.0), s2 = s * s, term = s, sum = 0.0;
    for (int i = 1; i <= 25; i += 2) {
        sum += term / (double)i;
        term *= s2;
    }
    return (double)e * LN2_HI + ((double)e * LN2_LO + 2.0 * sum);
}

static double sim_pow(double b, double eta)
{
    if (eta == 1.0)
        return b;
    if (b <= 0.0)
        return 0.0;
    return ttr__sim_exp(eta * ttr__sim_log(b));
}

/* ---- configuration -------------------------------------------------------- */

static const float g_pbm_base[10] = {0.68f, 0.61f, 0.48f, 0.34f, 0.28f,
                                     0.20f, 0.11f, 0.10f, 0.08f, 0.06f};

void ttr_sim_config_default(ttr_sim_config *c)
{
    memset(c, 0, sizeof *c);
    c->users[TTR_USER_PBM] = 1.0f;
    c->eta = 1.0f;
    c->rows = 10;
    c->cols = 1;
    c->grid_top = 0.9f;
    c->row_decay = 0.6f;
    c->col_decay = 0.8f;
    c->neighbour = 0.0f;
    c->neighbour_center = 0.3f;
    c->position_scale = 0.5f;
    c->eps = 0.1f;
    c->ymax = 4;
    c->logging_rel = 1.0f;
    c->logging_feature = 1.5f;
    c->logging_noise = 1.0f;
    c->bias_feature = 6;
}

static int finite_f(float v)
{
    return v == v && v - v == 0.0f;
}

int ttr_sim_config_check(const ttr_sim_config *c)
{
    if (!c)
        return TTR_ERR_ARG;
    float sum = 0.0f;
    for (int u = 0; u < TTR_USER_TYPES; u++) {
        if (!finite_f(c->users[u]) || c->users[u] < 0.0f)
            return TTR_ERR_ARG;
        sum += c->users[u];
    }
    if (!(sum > 0.0f))
        return TTR_ERR_ARG;
    if (c->rows < 1 || c->cols < 1 || c->rows > TTR_MAX_SLOTS || c->cols > TTR_MAX_SLOTS ||
        c->rows * c->cols > TTR_MAX_SLOTS)
        return TTR_ERR_ARG;
    const float f[] = {c->eta,       c->grid_top,       c->row_decay,      c->col_decay,
                       c->neighbour, c->neighbour_center, c->position_scale, c->eps,
                       c->logging_rel, c->logging_feature, c->logging_noise};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (!finite_f(f[i]))
            return TTR_ERR_ARG;
    if (c->eta < 0.0f || c->grid_top < 0.0f || c->grid_top > 1.0f || c->row_decay < 0.0f ||
        c->row_decay > 1.0f || c->col_decay < 0.0f || c->col_decay > 1.0f ||
        c->position_scale < 0.0f || c->position_scale > 1.0f / g_pbm_base[0] ||
        c->eps < 0.0f || c->eps > 1.0f || c->ymax < 1 || c->ymax > 15 || c->logging_noise < 0.0f)
        return TTR_ERR_ARG;
    return TTR_OK;
}

float ttr_sim_click_given_seen(const ttr_sim_config *c, uint32_t y)
{
    if (y > c->ymax)
        return 0.0f;
    double g = (double)((1u << y) - 1u) / (double)((1u << c->ymax) - 1u);
    return (float)((double)c->eps + (1.0 - (double)c->eps) * g);
}

float ttr_sim_seen(const ttr_sim_config *c, uint32_t slot)
{
    if (slot >= c->rows * c->cols)
        return 0.0f;
    double b;
    if (c->cols == 1) {
        b = g_pbm_base[slot < 10 ? slot : 9];
    } else {
        uint32_t row = slot / c->cols, col = slot % c->cols;
        b = c->grid_top;
        for (uint32_t i = 0; i < row; i++)
            b *= c->row_decay;
        for (uint32_t i = 0; i < col; i++)
            b *= c->col_decay;
    }
    return (float)sim_pow(b, c->eta);
}

/* PBM seen probability of the item at slots[i], with the same-row effect. */
static double pbm_seen(const ttr_sim_config *c, size_t n, const uint8_t *labels,
                       const uint16_t *slots, size_t i)
{
    double seen = ttr_sim_seen(c, slots[i]);
    if (c->cols == 1 || c->neighbour == 0.0f || seen <= 0.0 || seen >= 1.0)
        return seen;
    uint32_t row = slots[i] / c->cols;
    double rel = 0.0;
    int cnt = 0;
    for (size_t j = 0; j < n; j++)
        if (j != i && slots[j] != TTR_SIM_UNSHOWN && slots[j] / c->cols == row) {
            rel += (double)labels[j] / (double)c->ymax;
            cnt++;
        }
    if (!cnt)
        return seen;
    double odds = seen / (1.0 - seen) *
                  ttr__sim_exp((double)c->neighbour * (rel / cnt - (double)c->neighbour_center));
    return odds / (1.0 + odds);
}

int ttr_sim_click_probs(const ttr_sim_config *c, ttr_user user, size_t n, const uint8_t *labels,
                        const uint16_t *slots, float *probs)
{
    if (ttr_sim_config_check(c) || (unsigned)user >= TTR_USER_TYPES || n > TTR_SIM_MAX_DOCS ||
        (n && (!labels || !slots || !probs)))
        return TTR_ERR_ARG;
    uint32_t P = c->rows * c->cols;
    uint16_t at[TTR_MAX_SLOTS]; /* slot -> item, for the cascade */
    for (uint32_t p = 0; p < P; p++)
        at[p] = TTR_SIM_UNSHOWN;
    for (size_t i = 0; i < n; i++) {
        if (labels[i] > c->ymax)
            return TTR_ERR_ARG;
        if (slots[i] == TTR_SIM_UNSHOWN)
            continue;
        if (slots[i] >= P || at[slots[i]] != TTR_SIM_UNSHOWN)
            return TTR_ERR_ARG;
        at[slots[i]] = (uint16_t)i;
    }
    if (user == TTR_USER_CASCADE) {
        double reach = 1.0;
        for (size_t i = 0; i < n; i++)
            probs[i] = 0.0f;
        for (uint32_t p = 0; p < P; p++) {
            if (at[p] == TTR_SIM_UNSHOWN)
                continue;
            double pc = ttr_sim_click_given_seen(c, labels[at[p]]);
            probs[at[p]] = (float)(reach * pc);
            reach *= 1.0 - pc;
        }
        return TTR_OK;
    }
    for (size_t i = 0; i < n; i++) {
        if (slots[i] == TTR_SIM_UNSHOWN) {
            probs[i] = 0.0f;
            continue;
        }
        double pc = ttr_sim_click_given_seen(c, labels[i]), p;
        if (user == TTR_USER_POSITION)
            p = (double)c->position_scale * ttr_sim_seen(c, slots[i]);
        else if (user == TTR_USER_THOROUGH)
            p = pc;
        else
            p = pbm_seen(c, n, labels, slots, i) * pc;
        probs[i] = (float)(p > 1.0 ? 1.0 : p);
    }
    return TTR_OK;
}

int ttr_sim_impression(const ttr_sim_config *c, ttr_rng *rng, size_t n, const float *x,
                       size_t ldx, const uint8_t *labels, uint16_t *slots, uint8_t *clicks,
                       float *probs, ttr_user *user_out)
{
    if (ttr_sim_config_check(c) || !rng || n < 1 || n > TTR_SIM_MAX_DOCS || !x || !labels ||
        !slots || !clicks || c->bias_feature >= ldx)
        return TTR_ERR_ARG;
    float score[TTR_SIM_MAX_DOCS], pr[TTR_SIM_MAX_DOCS];
    uint16_t order[TTR_SIM_MAX_DOCS];
    for (size_t i = 0; i < n; i++) {
        float f = x[i * ldx + c->bias_feature];
        if (labels[i] > c->ymax || !finite_f(f))
            return labels[i] > c->ymax ? TTR_ERR_ARG : TTR_ERR_NONFINITE;
    }
    /* logging ranker */
    for (size_t i = 0; i < n; i++) {
        float u = ttr_rng_uniform(rng) * 2.0f - 1.0f;
        score[i] = c->logging_rel * (float)labels[i] / (float)c->ymax +
                   c->logging_feature * x[i * ldx + c->bias_feature] + c->logging_noise * u;
        order[i] = (uint16_t)i;
    }
    for (size_t i = 1; i < n; i++) { /* stable insertion sort, descending */
        uint16_t t = order[i];
        size_t j = i;
        while (j > 0 && score[order[j - 1]] < score[t]) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = t;
    }
    uint32_t P = c->rows * c->cols;
    for (size_t r = 0; r < n; r++)
        slots[order[r]] = r < P ? (uint16_t)r : (uint16_t)TTR_SIM_UNSHOWN;
    /* the user of this list */
    float total = 0.0f, u = ttr_rng_uniform(rng), acc = 0.0f;
    for (int t = 0; t < TTR_USER_TYPES; t++)
        total += c->users[t];
    ttr_user who = TTR_USER_PBM;
    int last = 0;
    for (int t = 0; t < TTR_USER_TYPES; t++)
        if (c->users[t] > 0.0f)
            last = t;
    who = (ttr_user)last;
    for (int t = 0; t < TTR_USER_TYPES; t++) {
        if (c->users[t] <= 0.0f)
            continue;
        acc += c->users[t] / total;
        if (u < acc) {
            who = (ttr_user)t;
            break;
        }
    }
    int err = ttr_sim_click_probs(c, who, n, labels, slots, pr);
    if (err)
        return err;
    for (size_t i = 0; i < n; i++)
        clicks[i] = 0;
    int stopped = 0;
    for (size_t r = 0; r < n && r < P; r++) { /* one draw per shown slot, in slot order */
        size_t i = order[r];
        float v = ttr_rng_uniform(rng);
        if (who == TTR_USER_CASCADE) {
            if (!stopped && v < ttr_sim_click_given_seen(c, labels[i])) {
                clicks[i] = 1;
                stopped = 1;
            }
        } else {
            clicks[i] = v < pr[i];
        }
    }
    if (probs)
        memcpy(probs, pr, n * sizeof *probs);
    if (user_out)
        *user_out = who;
    return TTR_OK;
}

/* ---- planted data --------------------------------------------------------- */

void ttr_planted_config_default(ttr_planted_config *c)
{
    c->n_features = 8;
    c->docs = 10;
    c->ymax = 4;
    c->label_noise = 0.5f;
    c->seed = 1;
}

float ttr__planted_score(const float *x)
{
    return 1.2f * x[0] - 0.9f * x[1] + 0.7f * x[2] + 0.5f * x[3] * x[4] + 0.3f * x[5];
}

int ttr_sim_planted(const ttr_planted_config *c, size_t first, size_t n, float *x,
                    uint8_t *labels)
{
    if (!c || c->n_features < 8 || c->docs < 1 || c->docs > TTR_SIM_MAX_DOCS || c->ymax < 1 ||
        c->ymax > 15 || !finite_f(c->label_noise) || c->label_noise < 0.0f ||
        (n && (!x || !labels)))
        return TTR_ERR_ARG;
    const size_t F = c->n_features;
    for (size_t q = 0; q < n; q++) {
        ttr_rng r;
        ttr_rng_seed(&r, c->seed * 0x9e3779b97f4a7c15ull + (uint64_t)(first + q));
        for (size_t d = 0; d < c->docs; d++) {
            size_t it = q * c->docs + d;
            float *xi = x + it * F;
            for (size_t t = 0; t < F; t++)
                xi[t] = ttr_rng_uniform(&r) * 2.0f - 1.0f;
            float s = ttr__planted_score(xi) + c->label_noise * (ttr_rng_uniform(&r) * 2.0f - 1.0f);
            /* cuts spread evenly over [-0.6, 1.5]: grade 4 of 4 above 1.5 */
            uint32_t g = 0;
            while (g < c->ymax) {
                float cut = c->ymax == 1 ? 0.45f
                                         : -0.6f + 2.1f * (float)g / (float)(c->ymax - 1);
                if (!(s > cut))
                    break;
                g++;
            }
            labels[it] = (uint8_t)g;
        }
    }
    return TTR_OK;
}
