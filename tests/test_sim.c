/* The simulator (determinism, click rates against the model), the ranking
 * metrics (hand-computed values) and the SVG plots (well-formed, required
 * attributes, finite numbers). */
#include <criterion/criterion.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/sim/sim_internal.h"
#include "cli/sim/ttr_sim.h"

#define F 8
#define N 10

/* FNV-1a over the outputs of a run */
static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = (const unsigned char *)p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

/* Simulate `lists` impressions of planted queries; hash everything drawn. */
static uint64_t run_hash(const ttr_sim_config *c, uint64_t seed, size_t lists)
{
    ttr_planted_config pc;
    ttr_planted_config_default(&pc);
    pc.seed = seed;
    float x[N * F], probs[N];
    uint8_t y[N], clicks[N];
    uint16_t slots[N];
    ttr_user u;
    ttr_rng r;
    ttr_rng_seed(&r, seed);
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t l = 0; l < lists; l++) {
        cr_assert_eq(ttr_sim_planted(&pc, l, 1, x, y), TTR_OK);
        cr_assert_eq(ttr_sim_impression(c, &r, N, x, F, y, slots, clicks, probs, &u), TTR_OK);
        h = fnv(h, x, sizeof x);
        h = fnv(h, y, sizeof y);
        h = fnv(h, slots, sizeof slots);
        h = fnv(h, clicks, sizeof clicks);
        h = fnv(h, probs, sizeof probs);
        h = fnv(h, &u, sizeof u);
    }
    return h;
}

static void mixed_grid(ttr_sim_config *c)
{
    ttr_sim_config_default(c);
    c->users[TTR_USER_PBM] = 0.4f;
    c->users[TTR_USER_POSITION] = 0.2f;
    c->users[TTR_USER_THOROUGH] = 0.2f;
    c->users[TTR_USER_CASCADE] = 0.2f;
    c->rows = 2;
    c->cols = 5;
    c->neighbour = 2.0f;
    c->eta = 1.5f;
}

Test(sim, deterministic_per_seed_and_the_same_bits_on_every_target)
{
    ttr_sim_config c;
    mixed_grid(&c);
    uint64_t a = run_hash(&c, 7, 500), b = run_hash(&c, 7, 500), d = run_hash(&c, 8, 500);
    cr_log_info("hash of seed 7: 0x%016llx", (unsigned long long)a);
    cr_assert_eq(a, b);
    cr_assert_neq(a, d);
    /* the value computed on x86-64: aarch64 and armv7 (under qemu) must agree */
    cr_assert_eq(a, (uint64_t)0xa3e79f9e97a34e00ull, "hash 0x%016llx differs from x86-64's",
                 (unsigned long long)a);
}

Test(sim, planted_data_in_chunks_and_grades)
{
    ttr_planted_config pc;
    ttr_planted_config_default(&pc);
    pc.seed = 3;
    static float x1[200 * N * F], x2[200 * N * F];
    static uint8_t y1[200 * N], y2[200 * N];
    cr_assert_eq(ttr_sim_planted(&pc, 0, 200, x1, y1), TTR_OK);
    cr_assert_eq(ttr_sim_planted(&pc, 0, 120, x2, y2), TTR_OK);
    cr_assert_eq(ttr_sim_planted(&pc, 120, 80, x2 + 120 * N * F, y2 + 120 * N), TTR_OK);
    cr_assert(!memcmp(x1, x2, sizeof x1) && !memcmp(y1, y2, sizeof y1));
    int count[5] = {0};
    for (size_t i = 0; i < 200 * N; i++) {
        cr_assert_leq(y1[i], 4);
        count[y1[i]]++;
        for (int t = 0; t < F; t++)
            cr_assert(x1[i * F + t] >= -1.0f && x1[i * F + t] < 1.0f);
    }
    for (int g = 0; g < 5; g++)
        cr_assert_gt(count[g], 40, "grade %d: %d of 2000", g, count[g]);
    pc.n_features = 7;
    cr_assert_eq(ttr_sim_planted(&pc, 0, 1, x1, y1), TTR_ERR_ARG);
}

Test(sim, model_values)
{
    ttr_sim_config c;
    ttr_sim_config_default(&c);
    cr_assert_float_eq(ttr_sim_click_given_seen(&c, 0), 0.1f, 1e-7);
    cr_assert_float_eq(ttr_sim_click_given_seen(&c, 2), 0.1f + 0.9f * 3.0f / 15.0f, 1e-6);
    cr_assert_float_eq(ttr_sim_click_given_seen(&c, 4), 1.0f, 1e-6);
    cr_assert_float_eq(ttr_sim_seen(&c, 0), 0.68f, 1e-7);
    cr_assert_float_eq(ttr_sim_seen(&c, 9), 0.06f, 1e-7);
    c.rows = 20;
    cr_assert_float_eq(ttr_sim_seen(&c, 15), 0.06f, 1e-7); /* the last value beyond */
    c.eta = 2.0f;
    cr_assert_float_eq(ttr_sim_seen(&c, 1), 0.61f * 0.61f, 1e-6);
    c.eta = 0.5f;
    cr_assert_float_eq(ttr_sim_seen(&c, 3), sqrtf(0.34f), 1e-6);
    c.eta = 1.0f;
    c.rows = 2;
    c.cols = 5;
    cr_assert_float_eq(ttr_sim_seen(&c, 7), 0.9f * 0.6f * 0.8f * 0.8f, 1e-6);
    /* libm-free exp/log */
    for (double v = -30.0; v < 30.0; v += 0.37) {
        cr_assert(fabs(ttr__sim_exp(v) - exp(v)) <= 2e-15 * exp(v), "exp(%g)", v);
        double p = exp(v);
        cr_assert(fabs(ttr__sim_log(p) - v) <= 1e-14 * (fabs(v) + 1), "log(%g)", p);
    }
    cr_assert_eq(ttr_sim_config_check(&c), TTR_OK);
    c.users[0] = 0.0f;
    cr_assert_eq(ttr_sim_config_check(&c), TTR_ERR_ARG);
}

Test(sim, neighbour_effect_and_cascade_probabilities)
{
    ttr_sim_config c;
    ttr_sim_config_default(&c);
    c.rows = 2;
    c.cols = 5;
    c.neighbour = 3.0f;
    uint16_t slots[N] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    uint8_t hot[N] = {2, 4, 4, 4, 4, 2, 0, 0, 0, 0};
    float p[N], q[N];
    cr_assert_eq(ttr_sim_click_probs(&c, TTR_USER_PBM, N, hot, slots, p), TTR_OK);
    /* same grade 2, same column: relevant neighbours raise the click odds */
    uint16_t swapped[N] = {5, 6, 7, 8, 9, 0, 1, 2, 3, 4};
    cr_assert_eq(ttr_sim_click_probs(&c, TTR_USER_PBM, N, hot, swapped, q), TTR_OK);
    double seen0 = 0.9, odds = seen0 / (1 - seen0) * exp(3.0 * (1.0 - 0.3));
    cr_assert_float_eq(p[0], (float)(odds / (1 + odds) * 0.28), 1e-5);
    cr_assert_gt(p[0] / 0.9f, q[5] / 0.9f);
    /* cascade: reach = prod of (1 - P(click)) above */
    ttr_sim_config_default(&c);
    uint8_t y[3] = {1, 0, 4};
    uint16_t s3[3] = {1, 0, 2};
    float pc1 = 0.1f + 0.9f / 15.0f;
    cr_assert_eq(ttr_sim_click_probs(&c, TTR_USER_CASCADE, 3, y, s3, p), TTR_OK);
    cr_assert_float_eq(p[1], 0.1f, 1e-6);
    cr_assert_float_eq(p[0], 0.9f * pc1, 1e-6);
    cr_assert_float_eq(p[2], 0.9f * (1 - pc1), 1e-6);
    /* duplicate slots are rejected */
    uint16_t dup[3] = {1, 1, 2};
    cr_assert_eq(ttr_sim_click_probs(&c, TTR_USER_PBM, 3, y, dup, p), TTR_ERR_ARG);
}

/* Empirical click rate per (user, slot) against the mean of the model's
 * probabilities: within 5 standard errors + 0.005. */
Test(sim, click_rates_match_the_model, .timeout = 120)
{
    ttr_sim_config c;
    mixed_grid(&c);
    c.rows = 10;
    c.cols = 1;
    c.neighbour = 0.0f;
    ttr_planted_config pc;
    ttr_planted_config_default(&pc);
    static double clicks[TTR_USER_TYPES][N], expect[TTR_USER_TYPES][N], lists[TTR_USER_TYPES];
    static double at_slot[N][5];
    float x[N * F], probs[N];
    uint8_t y[N], ck[N];
    uint16_t slots[N];
    ttr_user u;
    ttr_rng r;
    ttr_rng_seed(&r, 99);
    const size_t L = 20000;
    size_t cascade_multi = 0;
    for (size_t l = 0; l < L; l++) {
        cr_assert_eq(ttr_sim_planted(&pc, l, 1, x, y), TTR_OK);
        cr_assert_eq(ttr_sim_impression(&c, &r, N, x, F, y, slots, ck, probs, &u), TTR_OK);
        lists[u]++;
        int n_clicks = 0;
        for (int i = 0; i < N; i++) {
            clicks[u][slots[i]] += ck[i];
            expect[u][slots[i]] += probs[i];
            n_clicks += ck[i];
            if (u == TTR_USER_PBM)
                at_slot[slots[i]][y[i]]++;
        }
        cascade_multi += u == TTR_USER_CASCADE && n_clicks > 1;
    }
    cr_assert_eq(cascade_multi, 0);
    for (int t = 0; t < TTR_USER_TYPES; t++) {
        double share = lists[t] / (double)L;
        cr_assert(fabs(share - c.users[t] / 1.0) < 0.02, "user %d share %.3f", t, share);
        for (int k = 0; k < N; k++) {
            double rate = clicks[t][k] / lists[t], model = expect[t][k] / lists[t];
            double se = sqrt(model * (1 - model) / lists[t]);
            cr_assert(fabs(rate - model) < 5 * se + 0.005, "user %d slot %d: %.4f vs %.4f", t,
                      k, rate, model);
            if (t == TTR_USER_POSITION)
                cr_assert_float_eq(model, 0.5 * ttr_sim_seen(&c, (uint32_t)k), 1e-6);
        }
    }
    /* the logging ranker is noisy: top and bottom slots both hold every grade */
    for (int g = 0; g < 5; g++)
        cr_assert(at_slot[0][g] > 20 && at_slot[9][g] > 20, "grade %d at slots 1/10: %g %g", g,
                  at_slot[0][g], at_slot[9][g]);
    /* ... but prefers relevant items at the top */
    cr_assert_gt(at_slot[0][4] / at_slot[0][0], at_slot[9][4] / at_slot[9][0]);
}

Test(metrics, hand_computed)
{
    uint32_t scratch[8];
    double v;
    const float s[3] = {3, 2, 1};
    const uint8_t y[3] = {0, 2, 1};
    /* DCG@3 = 0 + 3/log2(3) + 1/2; IDCG@3 = 3 + 1/log2(3) */
    double dcg = 3 / log2(3.0) + 0.5, idcg = 3 + 1 / log2(3.0);
    cr_assert_eq(ttr_ndcg(3, s, y, 3, scratch, &v), 1);
    cr_assert_float_eq(v, dcg / idcg, 1e-12);
    cr_assert_float_eq(v, 0.6590018, 1e-6);
    cr_assert_eq(ttr_ndcg(3, s, y, 10, scratch, &v), 1);
    cr_assert_float_eq(v, dcg / idcg, 1e-12);
    cr_assert_eq(ttr_ndcg(3, s, y, 1, scratch, &v), 1);
    cr_assert_float_eq(v, 0.0, 1e-12);
    cr_assert_eq(ttr_ndcg(3, s, y, 2, scratch, &v), 1);
    cr_assert_float_eq(v, (3 / log2(3.0)) / (3 + 1 / log2(3.0)), 1e-12);
    cr_assert_eq(ttr_mrr(3, s, y, scratch, &v), 1);
    cr_assert_float_eq(v, 0.5, 1e-12);
    /* ties keep input order */
    const float tie[3] = {1, 1, 1};
    cr_assert_eq(ttr_mrr(3, tie, y, scratch, &v), 1);
    cr_assert_float_eq(v, 0.5, 1e-12);
    /* perfect ranking */
    const float good[3] = {1, 3, 2};
    cr_assert_eq(ttr_ndcg(3, good, y, 3, scratch, &v), 1);
    cr_assert_float_eq(v, 1.0, 1e-12);
    /* no relevant item: skipped, counted apart */
    const uint8_t none[3] = {0, 0, 0};
    cr_assert_eq(ttr_ndcg(3, s, none, 3, scratch, &v), 0);
    cr_assert_eq(ttr_mrr(3, s, none, scratch, &v), 0);
    ttr_rank_metrics m;
    ttr_rank_metrics_reset(&m);
    cr_assert_eq(ttr_rank_metrics_add(&m, 3, s, y, scratch), TTR_OK);
    cr_assert_eq(ttr_rank_metrics_add(&m, 3, s, none, scratch), TTR_OK);
    cr_assert_eq(ttr_rank_metrics_add(&m, 3, good, y, scratch), TTR_OK);
    cr_assert_eq(m.counted, 2);
    cr_assert_eq(m.skipped, 1);
    cr_assert_float_eq(ttr_rank_metrics_ndcg(&m, 10), (dcg / idcg + 1.0) / 2, 1e-12);
    cr_assert_float_eq(ttr_rank_metrics_ndcg(&m, 1), 0.5, 1e-12);
    cr_assert_float_eq(ttr_rank_metrics_mrr(&m), 0.75, 1e-12);
    const float nanv[3] = {1, NAN, 0};
    cr_assert_eq(ttr_ndcg(3, nanv, y, 3, scratch, &v), TTR_ERR_NONFINITE);
    /* click log-likelihood */
    const float p[3] = {0.5f, 0.25f, 0.0f};
    const uint8_t c[3] = {1, 0, 0};
    cr_assert_eq(ttr_click_loglik(3, p, c, &v), TTR_OK);
    cr_assert_float_eq(v, log(0.5) + log(0.75) + log(1 - 1e-6), 1e-9);
    const uint8_t c1[1] = {1};
    cr_assert_eq(ttr_click_loglik(1, p + 2, c1, &v), TTR_OK);
    cr_assert_float_eq(v, log(1e-6), 1e-9); /* clamped */
}

/* ---- a small XML well-formedness checker --------------------------------- */

static int check_number_attrs(const char *tag, size_t len)
{
    /* every attribute value that starts like a number must be finite */
    static const char *bad[] = {"nan", "inf", "NaN", "Inf"};
    for (int i = 0; i < 4; i++) {
        for (const char *p = tag; p + 3 <= tag + len; p++)
            if (!strncmp(p, bad[i], 3) && (p == tag || !isalpha((unsigned char)p[-1])))
                return 0;
    }
    return 1;
}

/* 1 if the document is well-formed (balanced tags, quoted attributes) and
 * is an SVG with xmlns, viewBox and some text. */
static int svg_ok(const char *doc, char *why, size_t whylen)
{
    char stack[64][32];
    int depth = 0, root_seen = 0, texts = 0;
    const char *p = doc;
    if (strncmp(p, "<?xml", 5)) {
        snprintf(why, whylen, "no XML declaration");
        return 0;
    }
    p = strstr(p, "?>") + 2;
    while (*p) {
        if (*p != '<') {
            if (*p == '&' && strncmp(p, "&amp;", 5) && strncmp(p, "&lt;", 4) &&
                strncmp(p, "&gt;", 4) && strncmp(p, "&quot;", 6) && strncmp(p, "&#", 2)) {
                snprintf(why, whylen, "bare &");
                return 0;
            }
            if (*p == '>') {
                snprintf(why, whylen, "bare >");
                return 0;
            }
            p++;
            continue;
        }
        const char *end = p + 1;
        char quote = 0;
        while (*end && (quote || *end != '>')) {
            if (*end == '"' || *end == '\'')
                quote = quote == *end ? 0 : quote ? quote : *end;
            else if (*end == '<' && !quote) {
                snprintf(why, whylen, "< inside a tag");
                return 0;
            }
            end++;
        }
        if (!*end) {
            snprintf(why, whylen, "unterminated tag");
            return 0;
        }
        size_t len = (size_t)(end - p);
        if (!check_number_attrs(p, len)) {
            snprintf(why, whylen, "non-finite number in %.40s", p);
            return 0;
        }
        char name[32];
        int closing = p[1] == '/', self = end[-1] == '/';
        const char *n = p + 1 + closing;
        size_t k = 0;
        while (k < sizeof name - 1 && (isalnum((unsigned char)n[k]) || n[k] == ':'))
            name[k] = n[k], k++;
        name[k] = 0;
        if (!k) {
            snprintf(why, whylen, "empty tag name");
            return 0;
        }
        if (closing) {
            if (!depth || strcmp(stack[depth - 1], name)) {
                snprintf(why, whylen, "</%s> closes <%s>", name, depth ? stack[depth - 1] : "");
                return 0;
            }
            depth--;
        } else {
            /* attributes: name="value" pairs */
            const char *a = n + k;
            while (a < end - self) {
                while (a < end && isspace((unsigned char)*a))
                    a++;
                if (a >= end - self)
                    break;
                const char *an = a;
                while (a < end && (isalnum((unsigned char)*a) || *a == '-' || *a == ':'))
                    a++;
                if (a == an || a[0] != '=' || a[1] != '"') {
                    snprintf(why, whylen, "bad attribute in <%s>", name);
                    return 0;
                }
                a = strchr(a + 2, '"') + 1;
            }
            if (!strcmp(name, "svg")) {
                if (depth || root_seen) {
                    snprintf(why, whylen, "svg not the single root");
                    return 0;
                }
                root_seen = 1;
                if (!strstr(p, "xmlns=\"http://www.w3.org/2000/svg\"") ||
                    strstr(p, "viewBox=\"") > end || !strstr(p, "viewBox=\"")) {
                    snprintf(why, whylen, "svg without xmlns or viewBox");
                    return 0;
                }
            } else if (!depth) {
                snprintf(why, whylen, "element outside the root");
                return 0;
            }
            texts += !strcmp(name, "text");
            if (!self) {
                if (depth == 64) {
                    snprintf(why, whylen, "too deep");
                    return 0;
                }
                strcpy(stack[depth++], name);
            }
        }
        p = end + 1;
    }
    if (depth || !root_seen || !texts) {
        snprintf(why, whylen, "unbalanced (%d open) or no root/text", depth);
        return 0;
    }
    return 1;
}

Test(svg, plots_are_well_formed)
{
    static char buf[1 << 17];
    char why[128] = "";
    float a[N], b[N], m[N * N];
    for (int i = 0; i < N; i++) {
        a[i] = -0.3f * (float)i;
        b[i] = -0.25f * (float)i + 0.1f;
        for (int j = 0; j < N; j++)
            m[i * N + j] = (float)((i + j) % 7) / 7.0f;
    }
    const float *vals[2] = {a, b};
    const char *names[2] = {"truth: a <&> b", "learned \"g\""};
    int len = ttr_svg_lines(buf, sizeof buf, "bias & truth", "slot", "logit", 2, names, vals, N);
    cr_assert_gt(len, 0);
    cr_assert_eq((size_t)len, strlen(buf));
    cr_assert(svg_ok(buf, why, sizeof why), "lines: %s", why);
    cr_assert(strstr(buf, "stroke-dasharray") != NULL); /* the truth line is dashed */
    cr_assert(strstr(buf, "a &lt;&amp;&gt; b") != NULL);
    const char *labels[N] = {"0,0", "0,1", "0,2", "0,3", "0,4", "1,0", "1,1", "1,2", "1,3", "1,4"};
    len = ttr_svg_heatmap(buf, sizeof buf, "attention", "p'", "p", N, m, labels);
    cr_assert_gt(len, 0);
    cr_assert(svg_ok(buf, why, sizeof why), "heatmap: %s", why);
    cr_assert(strstr(buf, ">1,4<") != NULL);
    const double nd[3] = {0.93, 0.97, 0.975};
    const char *bn[3] = {"naive", "additive", "mixem"};
    const int grp[3] = {0, 0, 1};
    const char *gn[2] = {"one", "two"};
    len = ttr_svg_bars(buf, sizeof buf, "NDCG", "NDCG@10", 3, bn, nd, grp, 2, gn, 0.9);
    cr_assert_gt(len, 0);
    cr_assert(svg_ok(buf, why, sizeof why), "bars: %s", why);
    /* errors: too small a buffer, non-finite input */
    cr_assert_eq(ttr_svg_bars(buf, 100, "NDCG", "NDCG@10", 3, bn, nd, grp, 2, gn, 0.9),
                 TTR_ERR_NOMEM);
    a[3] = NAN;
    cr_assert_eq(ttr_svg_lines(buf, sizeof buf, "t", "x", "y", 2, names, vals, N),
                 TTR_ERR_NONFINITE);
    /* the checker itself catches broken documents */
    cr_assert_not(svg_ok("<?xml version=\"1.0\"?><svg xmlns=\"http://www.w3.org/2000/svg\" "
                         "viewBox=\"0 0 1 1\"><text>a</svg>",
                         why, sizeof why));
    cr_assert_not(svg_ok("<?xml version=\"1.0\"?><svg xmlns=\"http://www.w3.org/2000/svg\" "
                         "viewBox=\"0 0 1 1\"><line x1=\"nan\"/><text>a</text></svg>",
                         why, sizeof why));
}
