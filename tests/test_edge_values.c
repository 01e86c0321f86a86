/* Values exactly at the edges the code tests against:
 *   - int8 quantization: a row whose max |x| is exactly TTR_S8_MIN_RANGE (and
 *     the float just below), the optimizer's TTR_OPT_FLUSH, halves next to
 *     127 (round half to even, the clamp), for activations on every CPU path
 *     and for the weights ttr_model_quantize writes;
 *   - the readers' numbers with three-digit (and longer) exponents: underflow
 *     kept (0 or subnormal), overflow TTR_ERR_RANGE, as ttr_data.h says;
 *   - a model file with a negative b_ref count and a valid CRC;
 *   - simulated clicks only for shown documents, with more and fewer
 *     documents than slots.
 * Expected values are computed here (the kernels' arithmetic spelled out in
 * the test, strtof, hand values), never copied from a run. */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel_table.h" /* ttr__gemm_s8_relu_q_c, the two-pass reference */
#include "model.h"
#include "s8_layout.h"
#include "testutil.h"
#include "ttr_data.h"
#include "ttr_io.h"
#include "cli/sim/ttr_sim.h"

static void restore_mask(void)
{
    ttr_set_cpu_mask(TTR_CPU_ALL);
}

TestSuite(edge_values, .fini = restore_mask);

/* ttr_quantize_s8 of one row as ttr_kernels.h defines it, in the kernel's
 * float operations; rintf rounds half to even in the default mode. */
static float expect_row(size_t k, const float *x, int8_t *q)
{
    float mx = 0.0f;
    for (size_t t = 0; t < k; t++)
        mx = fabsf(x[t]) > mx ? fabsf(x[t]) : mx;
    if (!(mx >= TTR_S8_MIN_RANGE)) {
        memset(q, 0, k);
        return 0.0f;
    }
    float inv = 127.0f / mx;
    for (size_t t = 0; t < k; t++) {
        float r = rintf(x[t] * inv);
        q[t] = (int8_t)(r > 127.0f ? 127.0f : r < -127.0f ? -127.0f : r);
    }
    return mx / 127.0f;
}

#define QK 13

/* Rows: halves next to 127 with max 127 (inv = 1, exact) and with max 254
 * (inv = 0.5, exact); max exactly TTR_S8_MIN_RANGE; the float just below. */
static void quant_rows(float x[4][QK], int8_t want[4][16])
{
    static const float halves[QK] = {127.0f, 126.5f, 125.5f, -126.5f, -125.5f, 0.5f, 1.5f,
                                     2.5f,   -0.5f,  -1.5f,  3.5f,    -127.0f, 64.5f};
    for (int t = 0; t < QK; t++) {
        x[0][t] = halves[t];
        x[1][t] = 2.0f * halves[t]; /* 253 -> 126.5 -> 126 ... */
        x[2][t] = t ? TTR_S8_MIN_RANGE * (float)t / 16.0f * (t % 2 ? -1.0f : 1.0f) : TTR_S8_MIN_RANGE;
        x[3][t] = nextafterf(TTR_S8_MIN_RANGE, 0.0f) * (t ? 0.5f : 1.0f);
    }
    cr_assert_eq(fabsf(x[2][0]), TTR_S8_MIN_RANGE);
    for (int i = 0; i < 4; i++)
        expect_row(QK, x[i], want[i]);
    /* the hand values of the first row: half to even, 127 kept */
    static const int8_t hand0[QK] = {127, 126, 126, -126, -126, 0, 2, 2, 0, -2, 4, -127, 64};
    cr_assert(!memcmp(want[0], hand0, QK), "round half even of the test itself");
    cr_assert(!memcmp(want[1], hand0, QK));
    cr_assert_eq(want[2][0], 127);
    for (int t = 0; t < QK; t++)
        cr_assert_eq(want[3][t], 0);
}

Test(edge_values, quantize_s8_half_even_clamp_and_min_range_on_every_path)
{
    float x[4][QK];
    int8_t want[4][16];
    quant_rows(x, want);
    unsigned masks[8];
    const char *names[8];
    int nm = tu_masks(masks, names);
    for (int mi = 0; mi < nm; mi++) {
        ttr_set_cpu_mask(masks[mi]);
        for (int norm = 0; norm < 2; norm++) {
            int8_t q[4][16];
            float scale[4], mean[QK], nscale[QK];
            for (int t = 0; t < QK; t++) {
                mean[t] = 0.0f;
                nscale[t] = 1.0f;
            }
            memset(q, 0x55, sizeof q);
            if (norm)
                ttr_quantize_norm_s8(4, QK, x[0], QK, mean, nscale, q[0], 16, scale);
            else
                ttr_quantize_s8(4, QK, x[0], QK, q[0], 16, scale);
            for (int i = 0; i < 4; i++) {
                float mx = 0.0f;
                for (int t = 0; t < QK; t++)
                    mx = fabsf(x[i][t]) > mx ? fabsf(x[i][t]) : mx;
                float ws = i == 3 ? 0.0f : mx / 127.0f;
                cr_assert(scale[i] == ws, "%s%s row %d: scale %g, expected %g", names[mi],
                          norm ? " (norm)" : "", i, (double)scale[i], (double)ws);
                for (int t = 0; t < 16; t++) {
                    int w = t < QK ? want[i][t] : 0;
                    cr_assert_eq(q[i][t], w, "%s%s row %d: q[%d] = %d for %.9g, expected %d",
                                 names[mi], norm ? " (norm)" : "", i, t, q[i][t],
                                 t < QK ? (double)x[i][t] : 0.0, w);
                }
            }
        }
    }
}

Test(edge_values, int8_layer_output_at_the_minimum_range)
{
    /* zero inputs: y = relu(0 * s + b) = b, so the output row's max is the
     * largest bias, exactly */
    enum { M = 5, K = 4 };
    int8_t w[M * K], q[K] = {0, 0, 0, 0};
    for (int i = 0; i < M * K; i++)
        w[i] = (int8_t)(i % 7 - 3);
    int8_t *packed = malloc(ttr_gemm_s8_packed_size(M, K));
    cr_assert_eq(ttr_gemm_s8_pack(M, K, w, K, packed), TTR_OK);
    float xs = 1.0f, ws[M] = {1, 1, 1, 1, 1};
    float at[M], below[M];
    for (int j = 0; j < M; j++) {
        at[j] = j == M - 1 ? TTR_S8_MIN_RANGE : TTR_S8_MIN_RANGE * (float)(j + 1) / 8.0f;
        below[j] = nextafterf(TTR_S8_MIN_RANGE, 0.0f) * (float)(j + 1) / (float)M;
    }
    cr_assert_eq(at[M - 1], TTR_S8_MIN_RANGE);
    int8_t want_at[M], want_below[M];
    float sc_at = expect_row(M, at, want_at), sc_below = expect_row(M, below, want_below);
    cr_assert(sc_at > 0.0f && sc_below == 0.0f);
    unsigned masks[8];
    const char *names[8];
    int nm = tu_masks(masks, names);
    for (int mi = 0; mi <= nm; mi++) { /* the last: the two-pass reference */
        if (mi < nm)
            ttr_set_cpu_mask(masks[mi]);
        for (int c = 0; c < 2; c++) {
            int8_t qo[8];
            float os = -1.0f;
            memset(qo, 0x55, sizeof qo);
            if (mi < nm)
                ttr_gemm_s8_relu_q(1, M, K, packed, q, K, &xs, ws, c ? below : at, qo, 8, &os);
            else
                ttr__gemm_s8_relu_q_c(1, M, K, packed, q, K, &xs, ws, c ? below : at, qo, 8,
                                      &os);
            const char *path = mi < nm ? names[mi] : "two-pass reference";
            cr_assert(os == (c ? sc_below : sc_at), "%s %s: scale %g", path, c ? "below" : "at",
                      (double)os);
            for (int j = 0; j < M; j++)
                cr_assert_eq(qo[j], c ? want_below[j] : want_at[j], "%s %s: q[%d] = %d", path,
                             c ? "below" : "at", j, qo[j]);
        }
    }
    free(packed);
}

Test(edge_values, optimizer_state_flush_threshold)
{
    /* new state exactly TTR_OPT_FLUSH is kept, the float below it is 0:
     * momentum 0 and beta1 0 make the new state g itself */
    const float at = TTR_OPT_FLUSH, below = nextafterf(TTR_OPT_FLUSH, 0.0f);
    unsigned masks[8];
    const char *names[8];
    int nm = tu_masks(masks, names);
    for (int mi = 0; mi < nm; mi++) {
        ttr_set_cpu_mask(masks[mi]);
        enum { N = 19 }; /* vector bodies and a tail */
        float w[N], g[N], vel[N], m[N], v[N];
        for (int i = 0; i < N; i++) {
            w[i] = 1.0f;
            g[i] = i % 3 == 0 ? at : i % 3 == 1 ? -below : -at;
            vel[i] = m[i] = v[i] = 0.0f;
        }
        ttr_momentum_f32(N, w, g, vel, 1.0f, 0.1f, 0.0f);
        ttr_adam_step st;
        ttr_adam_step_init(&st, 0.1f, 0.0f, 0.5f, 1e-8f, 1);
        ttr_adam_f32(N, w, g, m, v, 1.0f, &st);
        for (int i = 0; i < N; i++) {
            float want = i % 3 == 1 ? 0.0f : g[i];
            cr_assert(vel[i] == want, "%s: velocity %d = %g for g = %g", names[mi], i,
                      (double)vel[i], (double)g[i]);
            cr_assert(m[i] == want, "%s: Adam m %d = %g for g = %g", names[mi], i, (double)m[i],
                      (double)g[i]);
        }
    }
}

Test(edge_values, quantized_weights_round_half_even_and_clamp)
{
    /* a hidden layer whose rows are the test rows (13 inputs): the scale is
     * max / 127, so the row with max 127 quantizes W itself, max 254 W / 2 */
    ttr_config c;
    ttr_config_default(&c, TTR_NAIVE, QK);
    c.n_hidden = 1;
    c.hidden[0] = 3;
    c.max_items = 2;
    size_t bytes = ttr_arena_bytes(&c, TTR_MODE_TRAIN);
    void *arena = malloc(bytes);
    ttr_model *m;
    cr_assert_eq(ttr_model_init(&m, &c, TTR_MODE_TRAIN, arena, bytes), TTR_OK);
    float x[4][QK];
    int8_t want[4][16];
    quant_rows(x, want);
    float *W = m->rel[0].W->w;
    for (int t = 0; t < QK; t++) {
        W[0 * QK + t] = x[0][t];
        W[1 * QK + t] = x[1][t];
        W[2 * QK + t] = 0.0f; /* an all-zero row: scale 0, q 0 */
    }
    ttr__repack(m);
    size_t qb = ttr_arena_bytes(&c, TTR_MODE_SERVE_S8);
    void *qarena = malloc(qb);
    ttr_model *q;
    cr_assert_eq(ttr_model_quantize(m, &q, qarena, qb), TTR_OK);
    const ttr__dense *d = &q->rel[0];
    cr_assert_not_null(d->qpacked);
    cr_assert_eq(d->wscale[0], 1.0f);
    cr_assert_eq(d->wscale[1], 2.0f);
    cr_assert_eq(d->wscale[2], 0.0f);
    size_t kpad = TTR_S8_KPAD(QK);
    for (uint32_t j = 0; j < 3; j++)
        for (uint32_t t = 0; t < QK; t++) {
            int8_t got = d->qpacked[ttr__s8_offset(j, t, kpad)];
            int w = j < 2 ? want[j][t] : 0;
            cr_assert_eq(got, w, "W[%u][%u] = %g: q %d, expected %d", j, t, (double)W[j * QK + t],
                         got, w);
        }
    free(qarena);
    free(arena);
}

/* ---- numbers with long exponents ------------------------------------------------ */

/* Read "0 qid:1 1:<num>" and return the reader's code; *v gets the value. */
static int read_number(const char *num, float *v)
{
    char text[128];
    ttr_reader_config cfg;
    ttr_reader r;
    ttr_list l;
    ttr_source s;
    ttr_reader_config_default(&cfg);
    cfg.n_features = 1;
    cfg.max_items = 1;
    cfg.max_label = 4.0f;
    snprintf(text, sizeof text, "0 qid:1 1:%s\n", num);
    s = ttr_source_memory(text, strlen(text));
    cr_assert_eq(ttr_letor_open(&r, &cfg, &s, NULL), 0);
    memset(&l, 0, sizeof l);
    *v = -12345.0f;
    l.x = v;
    l.ldx = 1;
    return ttr_reader_next(&r, &l);
}

Test(edge_values, numbers_with_three_digit_exponents)
{
    /* underflow is kept (0 or a subnormal), as strtof rounds it */
    static const char *const kept[] = {
        "1e-100", "1E-100", "-1e-100", "1e-310", "2.5e-300", "1e-40", "1.4e-45", "7e-46",
        "1e-46", "123456789e-100", "0.000001e-39", "1e-0000000000000000000000000000045",
        "1e-99999999999", "0e999", "0.0e+500", "-0e-400", "1e+038", "3.4e+038",
        "-3.4028234e+038", "1e000000000000000000000000000000010", "100000e-005",
        "1.17549435e-038", "1e+0010"};
    for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++) {
        float got, want = strtof(kept[i], NULL);
        int rc = read_number(kept[i], &got);
        cr_assert_eq(rc, 1, "%s: code %d", kept[i], rc);
        cr_assert(memcmp(&got, &want, sizeof got) == 0, "%s: %.9g, strtof %.9g", kept[i],
                  (double)got, (double)want);
    }
    /* the cases above that matter, by hand: zero, subnormal, normal */
    float v;
    read_number("1e-100", &v);
    cr_assert(v == 0.0f && !signbit(v));
    read_number("-1e-100", &v);
    cr_assert(v == 0.0f && signbit(v));
    read_number("1e-40", &v);
    cr_assert(v > 0.0f && v < FLT_MIN && fabs(v - 1e-40) <= 1.5e-45);
    read_number("1e-0000000000000000000000000000045", &v);
    cr_assert(v > 0.0f && (double)v < 2e-45); /* the smallest subnormal */
    read_number("1e+0010", &v);
    cr_assert_eq(v, 1e10f);
    /* overflow of float is TTR_ERR_RANGE */
    static const char *const range[] = {"2.5E+102", "1e100", "-1e+100", "3.5e+038", "1e39",
                                        "1e+99999999999", "0.0000001e+046"};
    for (size_t i = 0; i < sizeof range / sizeof range[0]; i++) {
        int rc = read_number(range[i], &v);
        cr_assert_eq(rc, TTR_ERR_RANGE, "%s: code %d, value %g", range[i], rc, (double)v);
    }
}

/* ---- a model file's b_ref count ----------------------------------------------------- */

static void put_f64(unsigned char *p, double v)
{
    uint64_t b;
    memcpy(&b, &v, sizeof b);
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(b >> (8 * i));
}

static double get_f64(const unsigned char *p)
{
    uint64_t b = 0;
    double v;
    for (int i = 0; i < 8; i++)
        b |= (uint64_t)p[i] << (8 * i);
    memcpy(&v, &b, sizeof v);
    return v;
}

static void fix_crc(unsigned char *f, size_t size)
{
    uint32_t crc = ttr_crc32(0, f, size - 4);
    for (int i = 0; i < 4; i++)
        f[size - 4 + (size_t)i] = (unsigned char)(crc >> (8 * i));
}

Test(edge_values, negative_bref_count_with_a_valid_crc_is_refused)
{
    ttr_config c;
    ttr_config_default(&c, TTR_DOT, 3);
    c.weight_decay = 0.0f; /* a version-1 file: the count at offset 152 */
    c.n_hidden = 1;
    c.hidden[0] = 4;
    c.rows = 3;
    c.dot_dim = 3;
    c.embed_dim = 2;
    c.max_items = 3;
    c.max_batch = 1;
    c.optimizer = TTR_OPT_SGD;
    c.lr = 0.1f;
    c.dot_serving = TTR_DOT_REF_MEAN;
    size_t bytes = ttr_arena_bytes(&c, TTR_MODE_TRAIN);
    void *arena = malloc(bytes);
    ttr_model *m;
    cr_assert_eq(ttr_model_init(&m, &c, TTR_MODE_TRAIN, arena, bytes), TTR_OK);
    size_t offs[2] = {0, 3};
    float x[9] = {0.1f, 0.2f, -0.3f, 0.5f, -0.6f, 0.7f, -0.8f, 0.9f, 0.4f};
    uint16_t slots[3] = {0, 1, 2};
    uint8_t clicks[3] = {1, 0, 1};
    ttr_batch b = {1, offs, x, 3, slots, clicks, NULL};
    cr_assert_eq(ttr_train(m, &b, NULL), TTR_OK);
    cr_assert_eq(ttr_train(m, &b, NULL), TTR_OK);
    cr_assert_eq(m->bref_count, 6.0);
    for (int state = 0; state < 2; state++) {
        size_t size;
        unsigned char *f = tu_save_mem(m, state, &size);
        /* the count, f64 little-endian, 16 bytes into the state block (docs/formats.md) */
        size_t at = tu_state_offset(f) + 16;
        cr_assert_eq(get_f64(f + at), 6.0, "the count is not where docs/formats.md says");
        size_t need = tu_arena_for(f, size);
        void *la = tu_alloc(need, 0);
        static const double bad[] = {-1.0, -6.0, -1e-300, -4.9e-324, -1e300};
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            put_f64(f + at, bad[i]);
            fix_crc(f, size);
            int err = tu_try_load(f, size, la, need);
            cr_assert_eq(err, TTR_ERR_NONFINITE, "state %d, count %g: code %d", state, bad[i],
                         err);
        }
        /* the same file with a count >= 0 loads, and keeps it */
        static const double good[] = {0.0, 4.9e-324, 6.0, 1e12};
        for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
            ttr_model *lm;
            ttr_mem_reader r = {f, size, 0};
            put_f64(f + at, good[i]);
            fix_crc(f, size);
            cr_assert_eq(ttr_model_load(&lm, la, need, ttr_mem_read, &r), TTR_OK, "count %g",
                         good[i]);
            cr_assert_eq(lm->bref_count, good[i]);
        }
        tu_free(la);
        free(f);
    }
    free(arena);
}

/* ---- simulated clicks only where documents were shown ------------------------------ */

/* n documents whose logging order is fixed by feature 0 (the bias feature),
 * no noise: document i is ranked i-th. Labels: `shown_label` for the first
 * P, `hidden_label` below. */
static void sim_docs(size_t n, size_t P, uint8_t shown_label, uint8_t hidden_label, float *x,
                     uint8_t *labels)
{
    for (size_t i = 0; i < n; i++) {
        x[i] = 10.0f - (float)i;
        labels[i] = i < P ? shown_label : hidden_label;
    }
}

static void sim_config(ttr_sim_config *c, ttr_user who, float eps)
{
    ttr_sim_config_default(c);
    for (int u = 0; u < TTR_USER_TYPES; u++)
        c->users[u] = u == (int)who ? 1.0f : 0.0f;
    c->rows = 4;
    c->cols = 1;
    c->eps = eps;
    c->ymax = 4;
    c->logging_rel = 0.0f;
    c->logging_feature = 1.0f;
    c->logging_noise = 0.0f;
    c->bias_feature = 0;
}

Test(edge_values, simulated_clicks_only_for_shown_documents)
{
    enum { P = 4 };
    static const ttr_user users[4] = {TTR_USER_PBM, TTR_USER_POSITION, TTR_USER_THOROUGH,
                                      TTR_USER_CASCADE};
    static const size_t ns[3] = {P + 3, P, 2};
    for (int ui = 0; ui < 4; ui++)
        for (int ni = 0; ni < 3; ni++)
            for (int lab = 0; lab < 2; lab++) {
                /* lab 0: the shown documents are never clicked (eps 0, grade 0)
                 * and the hidden ones always would be (grade 4); lab 1: every
                 * document is clicked when seen (eps 1) */
                ttr_sim_config c;
                sim_config(&c, users[ui], lab ? 1.0f : 0.0f);
                size_t n = ns[ni];
                float x[P + 3];
                uint8_t labels[P + 3];
                sim_docs(n, P, 0, 4, x, labels);
                uint16_t *slots = tu_alloc(n * sizeof(uint16_t), 0);
                uint8_t *clicks = tu_alloc(n, 0);
                float *probs = tu_alloc(n * sizeof(float), 0);
                ttr_user who;
                ttr_rng rng;
                ttr_rng_seed(&rng, 17 + (uint64_t)lab);
                for (int rep = 0; rep < 20; rep++) {
                    cr_assert_eq(ttr_sim_impression(&c, &rng, n, x, 1, labels, slots, clicks,
                                                    probs, &who),
                                 TTR_OK);
                    cr_assert(tu_guard_ok(slots) && tu_guard_ok(clicks) && tu_guard_ok(probs),
                              "wrote outside the n = %zu documents", n);
                    cr_assert_eq(who, users[ui]);
                    size_t n_clicks = 0;
                    for (size_t i = 0; i < n; i++) {
                        if (i < P) {
                            cr_assert_eq(slots[i], i, "document %zu at slot %u", i, slots[i]);
                        } else {
                            cr_assert_eq(slots[i], TTR_SIM_UNSHOWN);
                            cr_assert_eq(clicks[i], 0, "user %d n %zu: unshown document %zu "
                                         "clicked", ui, n, i);
                            cr_assert_eq(probs[i], 0.0f, "user %d: unshown document %zu has "
                                         "P(click) %g", ui, i, (double)probs[i]);
                        }
                        cr_assert(clicks[i] <= 1);
                        n_clicks += clicks[i];
                        /* a click never where its probability is 0 */
                        if (probs[i] == 0.0f)
                            cr_assert_eq(clicks[i], 0);
                    }
                    size_t shown = n < P ? n : P;
                    if (!lab && users[ui] != TTR_USER_POSITION) {
                        cr_assert_eq(n_clicks, 0, "user %d n %zu: %zu clicks, none shown "
                                     "clickable", ui, n, n_clicks);
                    } else if (lab && users[ui] == TTR_USER_THOROUGH) {
                        cr_assert_eq(n_clicks, shown);
                    } else if (lab && users[ui] == TTR_USER_CASCADE) {
                        cr_assert(n_clicks == 1 && clicks[0] == 1);
                    }
                }
                tu_free(slots);
                tu_free(clicks);
                tu_free(probs);
            }
}

/* Finite features near FLT_MAX overflow the towers: ttr_score refuses the
 * result on the train model, its f32 serving copy and its int8 copy alike
 * (the f32 copy used to return NaN scores with TTR_OK), and so for a
 * serving weight near FLT_MAX with ordinary features. */
Test(edge_values, scores_that_overflow_are_refused_on_every_model_kind)
{
    static const ttr_variant vs[] = {TTR_NAIVE, TTR_ADDITIVE, TTR_DOT, TTR_XPA};
    for (size_t vi = 0; vi < sizeof vs / sizeof vs[0]; vi++) {
        ttr_config c;
        ttr_config_default(&c, vs[vi], 4);
        c.hidden[0] = 8;
        c.hidden[1] = 4;
        c.max_items = 4;
        c.max_batch = 2;
        ttr_model *m[3];
        void *arena[3];
        static const ttr_mode modes[3] = {TTR_MODE_TRAIN, TTR_MODE_SERVE_F32, TTR_MODE_SERVE_S8};
        for (int k = 0; k < 3; k++) {
            size_t need = ttr_arena_bytes(&c, modes[k]);
            arena[k] = malloc(need);
            if (k == 0) {
                cr_assert_eq(ttr_model_init(&m[0], &c, TTR_MODE_TRAIN, arena[0], need), TTR_OK);
                /* every relevance weight 1, every bias 0: features near
                 * FLT_MAX sum past it in layer 0, whatever the model kind */
                for (uint32_t t = 0; t < m[0]->n_tensors; t++) {
                    ttr__tensor *tn = &m[0]->tensors[t];
                    if (!strncmp(tn->name, "rel.", 4))
                        for (size_t j = 0; j < (size_t)tn->rows * tn->cols; j++)
                            tn->w[j] = strstr(tn->name, ".w") ? 1.0f : 0.0f;
                }
                ttr__repack(m[0]);
            } else if (k == 1)
                cr_assert_eq(ttr_model_to_serving(m[0], &m[1], arena[1], need), TTR_OK);
            else
                cr_assert_eq(ttr_model_quantize(m[0], &m[2], arena[2], need), TTR_OK);
        }
        float big[3 * 4], ordinary[3 * 4], s[3];
        for (int i = 0; i < 12; i++) {
            big[i] = 3.3e38f;
            ordinary[i] = 0.25f * (float)(i % 5) - 0.5f;
        }
        for (int k = 0; k < 3; k++) {
            cr_assert_eq(ttr_score(m[k], 3, ordinary, 4, s), TTR_OK, "variant %d kind %d",
                         vs[vi], k);
            int err = ttr_score(m[k], 3, big, 4, s);
            cr_assert_eq(err, TTR_ERR_NONFINITE, "variant %d kind %d: %d", vs[vi], k, err);
        }
        /* a serving weight near FLT_MAX, ordinary features */
        m[1]->rel[0].packed[0] = 3.0e38f;
        m[1]->rel[0].packed[1] = -3.0e38f;
        cr_assert_eq(ttr_score(m[1], 3, ordinary, 4, s), TTR_ERR_NONFINITE, "variant %d", vs[vi]);
        for (int k = 0; k < 3; k++)
            free(arena[k]);
    }
}

/* Found by a mutation run (scripts/mutate.py, seed 2) over model.c and
 * serve.c: what nothing else checked. */

/* A serving model built by ttr_model_init starts from zero weights and the
 * identity normalisation whatever the arena held: its scores are 0. */
Test(edge_values, serving_init_does_not_depend_on_the_arena_contents)
{
    static const ttr_mode modes[2] = {TTR_MODE_SERVE_F32, TTR_MODE_TRAIN};
    for (int k = 0; k < 2; k++) {
        ttr_config c;
        ttr_config_default(&c, TTR_ADDITIVE, 5);
        c.hidden[0] = 6;
        c.hidden[1] = 4;
        size_t need = ttr_arena_bytes(&c, modes[k]);
        unsigned char *a = malloc(need);
        memset(a, 0xA5, need); /* a float of -2.9e-16, everywhere */
        ttr_model *m;
        cr_assert_eq(ttr_model_init(&m, &c, modes[k], a, need), TTR_OK);
        float mean[5], scale[5], x[10], s[2];
        ttr_get_normalization(m, mean, scale);
        for (int t = 0; t < 5; t++)
            cr_assert(mean[t] == 0.0f && scale[t] == 1.0f, "mode %d feature %d: %g %g", k, t,
                      (double)mean[t], (double)scale[t]);
        for (int i = 0; i < 10; i++)
            x[i] = 0.5f * (float)i - 2.0f;
        cr_assert_eq(ttr_score(m, 2, x, 5, s), TTR_OK);
        if (modes[k] == TTR_MODE_SERVE_F32)
            cr_assert(s[0] == 0.0f && s[1] == 0.0f, "scores %g %g", (double)s[0], (double)s[1]);
        free(a);
    }
}

/* MixEM's mixing weights from logits far apart: pi = softmax(phi), finite
 * and summing to 1 (exp(200) overflows float without the shift by the max). */
Test(edge_values, mixem_pi_from_logits_far_apart)
{
    ttr_config c;
    ttr_config_default(&c, TTR_MIXEM, 3);
    c.components = 3;
    size_t need = ttr_arena_bytes(&c, TTR_MODE_TRAIN);
    void *a = malloc(need);
    ttr_model *m;
    cr_assert_eq(ttr_model_init(&m, &c, TTR_MODE_TRAIN, a, need), TTR_OK);
    m->phi->w[0] = -50.0f;
    m->phi->w[1] = 0.0f;
    m->phi->w[2] = 200.0f;
    float pi[3];
    cr_assert_eq(ttr_mixem_params(m, pi, NULL), TTR_OK);
    cr_assert(pi[2] == 1.0f && pi[0] == 0.0f && pi[1] == 0.0f, "pi %g %g %g", (double)pi[0],
              (double)pi[1], (double)pi[2]); /* e^-200 underflows: exactly 0 */
    free(a);
}

/* The bias curve of context n_contexts (one past the last) is refused. */
Test(edge_values, bias_curve_context_range)
{
    ttr_config c;
    ttr_config_default(&c, TTR_ADDITIVE, 3);
    c.n_contexts = 2;
    size_t need = ttr_arena_bytes(&c, TTR_MODE_TRAIN);
    void *a = malloc(need);
    ttr_model *m;
    cr_assert_eq(ttr_model_init(&m, &c, TTR_MODE_TRAIN, a, need), TTR_OK);
    float curve[10];
    cr_assert_eq(ttr_bias_curve(m, 0, 1, curve), TTR_OK);
    cr_assert_eq(ttr_bias_curve(m, 0, 2, curve), TTR_ERR_ARG);
    free(a);
}

/* A serving copy keeps the training model's normalisation for information
 * (it is folded into layer 0, as ttr_io.h says of serve-f32 files). */
Test(edge_values, serving_copy_keeps_the_normalisation_it_folded)
{
    ttr_config c;
    ttr_config_default(&c, TTR_NAIVE, 4);
    size_t need = ttr_arena_bytes(&c, TTR_MODE_TRAIN);
    size_t sneed = ttr_arena_bytes(&c, TTR_MODE_SERVE_F32);
    void *a = malloc(need), *sa = malloc(sneed);
    ttr_model *m, *s;
    cr_assert_eq(ttr_model_init(&m, &c, TTR_MODE_TRAIN, a, need), TTR_OK);
    static const float mean[4] = {1.0f, -2.0f, 3.5f, 0.25f}, scale[4] = {0.5f, 2.0f, 1.0f, 4.0f};
    cr_assert_eq(ttr_set_normalization(m, mean, scale), TTR_OK);
    cr_assert_eq(ttr_model_to_serving(m, &s, sa, sneed), TTR_OK);
    cr_assert(!memcmp(s->norm_mean, mean, sizeof mean) &&
              !memcmp(s->norm_scale, scale, sizeof scale));
    free(a);
    free(sa);
}

/* Dot's b(slot) of context n_contexts (one past the last) is refused. */
Test(edge_values, dot_reference_context_range)
{
    ttr_config c;
    ttr_config_default(&c, TTR_DOT, 3);
    c.n_contexts = 2;
    size_t need = ttr_arena_bytes(&c, TTR_MODE_TRAIN);
    void *a = malloc(need);
    ttr_model *m;
    cr_assert_eq(ttr_model_init(&m, &c, TTR_MODE_TRAIN, a, need), TTR_OK);
    float bref[64], slots[10 * 64];
    cr_assert_eq(ttr_dot_reference(m, bref, 1, slots), TTR_OK);
    cr_assert_eq(ttr_dot_reference(m, bref, 2, slots), TTR_ERR_ARG);
    free(a);
}
