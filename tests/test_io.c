/* The .ttr model file: round trips of every variant and mode, bit-exact
 * checkpoint resume, hostile and corrupted input (every bit position, every
 * truncation, crafted lengths), atomic saves that survive a killed writer,
 * and golden files written on x86 and read on every target.
 *
 * Golden files (tests/golden/, paths relative to the repository root, where
 * `make test` runs the binary): each NAME.ttr has a NAME.txt next to it with
 * the scores of fixed, deterministically generated items ("s" lines: right
 * after loading; "r" lines: checkpoints only, after two more training steps).
 * To regenerate them (only when the format or the model math changes on
 * purpose), on x86-64 from the repository root:
 *
 *     make test   # build first
 *     TTR_WRITE_GOLDEN=1 build/x86_64-gcc/ttrank-tests --filter 'io/golden*'
 *
 * (with the shim harness: TTR_WRITE_GOLDEN=1 build/DIR/ttrank-tests). The
 * test then writes the files instead of checking them. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__unix__) || defined(__APPLE__)
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#define IO_HAVE_FORK 1
#endif

#include "model.h"
#include "testutil.h"
#include "ttr_io.h"

static const ttr_variant all_variants[] = {TTR_NAIVE, TTR_ADDITIVE, TTR_PAL,
                                           TTR_DOT,   TTR_MIXEM,    TTR_XPA};
#define N_VARIANTS (sizeof all_variants / sizeof all_variants[0])

/* ---- helpers --------------------------------------------------------------- */

/* Small configurations; `shape` varies contexts, the bias hidden layer, the
 * grid, the depth, the optimizer and (shape 1) the schedule block of version 3. */
static void small_config(ttr_config *c, ttr_variant v, int shape)
{
    ttr_config_default(c, v, 5);
    c->hidden[0] = 6;
    c->hidden[1] = 4;
    c->rows = 3;
    c->cols = 1;
    c->max_items = 5;
    c->max_batch = 3;
    c->lr = 0.01f;
    c->seed = 11 + (uint64_t)v * 7 + (uint64_t)shape;
    c->weight_decay = 0.0f; /* version-1 train files but for shape 1 */
    if (shape == 1) {
        c->n_contexts = 2;
        c->bias_hidden = 3;
        c->clip_norm = 0.5f;
        c->lr_schedule = TTR_LR_COSINE; /* version 3: the schedule block */
        c->warmup_steps = 2;
        c->decay_steps = 50;
        c->weight_decay = 0.05f;
    } else if (shape == 2) {
        c->rows = 2;
        c->cols = 3;
        c->n_hidden = 1;
        c->hidden[1] = 0;
        c->optimizer = TTR_OPT_SGD;
        c->l2 = 1e-3f;
    } else if (shape == 3) {
        c->n_hidden = 0;
        c->hidden[0] = c->hidden[1] = 0;
        c->n_contexts = 3;
    }
}

/* A deterministic batch (storage owned by the struct). */
typedef struct io_batch {
    ttr_batch b;
    size_t offsets[17];
    float x[16 * 16 * 8];
    uint16_t slots[16 * 16];
    uint8_t clicks[16 * 16];
    uint32_t ctx[16];
} io_batch;

static void make_batch(io_batch *ib, const ttr_config *c, uint64_t seed)
{
    tu_rng r = tu_rng_seed(seed);
    uint32_t P = c->rows * c->cols, L = c->max_batch, F = c->n_features;
    size_t at = 0;
    cr_assert(L <= 16 && c->max_items <= 16 && F <= 8);
    ib->offsets[0] = 0;
    for (uint32_t l = 0; l < L; l++) {
        uint32_t n = 1 + tu_u32(&r) % c->max_items;
        if (n > P)
            n = P;
        for (uint32_t i = 0; i < n; i++, at++) {
            tu_fill_uniform(&r, ib->x + at * F, F, -1.0f, 1.0f);
            ib->slots[at] = (uint16_t)i; /* distinct slots per list */
            ib->clicks[at] = (uint8_t)(tu_u32(&r) % 3 == 0);
        }
        ib->offsets[l + 1] = at;
        ib->ctx[l] = c->n_contexts ? tu_u32(&r) % c->n_contexts : 0;
    }
    ib->b.n_lists = L;
    ib->b.offsets = ib->offsets;
    ib->b.x = ib->x;
    ib->b.ldx = F;
    ib->b.slots = ib->slots;
    ib->b.clicks = ib->clicks;
    ib->b.contexts = c->n_contexts ? ib->ctx : NULL;
}

static void train_steps(ttr_model *m, uint64_t seed0, int steps)
{
    io_batch ib;
    for (int s = 0; s < steps; s++) {
        make_batch(&ib, ttr_model_config(m), seed0 + (uint64_t)s);
        int err = ttr_train(m, &ib.b, NULL);
        cr_assert_eq(err, TTR_OK, "train: %s", ttr_strerror(err));
    }
}

static ttr_model *new_model(const ttr_config *c, ttr_mode mode, void **arena)
{
    size_t need = ttr_arena_bytes(c, mode);
    ttr_model *m = NULL;
    cr_assert(need > 0);
    *arena = tu_alloc(need, 0);
    cr_assert_eq(ttr_model_init(&m, c, mode, *arena, need), TTR_OK);
    return m;
}

/* A model whose state is not the initial one: normalisation set, trained. */
static ttr_model *trained_model(const ttr_config *c, void **arena, int steps)
{
    ttr_model *m = new_model(c, TTR_MODE_TRAIN, arena);
    float mean[8], scale[8];
    for (uint32_t t = 0; t < c->n_features; t++) {
        mean[t] = 0.1f * (float)t - 0.2f;
        scale[t] = 1.0f + 0.25f * (float)t;
    }
    cr_assert_eq(ttr_set_normalization(m, mean, scale), TTR_OK);
    train_steps(m, c->seed * 1000, steps);
    return m;
}

static int load_mem(ttr_model **out, void *arena, size_t bytes, const unsigned char *data,
                    size_t size)
{
    ttr_mem_reader r = {data, size, 0};
    return ttr_model_load(out, arena, bytes, ttr_mem_read, &r);
}

/* Load into a fresh guarded arena of exactly the size the file asks for. */
static ttr_model *load_fresh(const unsigned char *data, size_t size, void **arena)
{
    ttr_config c;
    ttr_mode mode;
    ttr_mem_reader r = {data, size, 0};
    ttr_model *m = NULL;
    cr_assert_eq(ttr_model_load_config(ttr_mem_read, &r, &c, &mode), TTR_OK);
    size_t need = ttr_arena_bytes(&c, mode);
    *arena = tu_alloc(need, 4);
    int err = load_mem(&m, *arena, need, data, size);
    cr_assert_eq(err, TTR_OK, "load: %s", ttr_strerror(err));
    cr_assert(tu_guard_ok(*arena));
    return m;
}

#define N_ITEMS 23 /* more than max_items: several chunks */
static void score_items(ttr_model *m, uint64_t seed, float *scores)
{
    float x[N_ITEMS * 8];
    uint32_t F = ttr_model_config(m)->n_features;
    tu_rng r = tu_rng_seed(seed);
    tu_fill_uniform(&r, x, (size_t)N_ITEMS * F, -2.0f, 2.0f);
    cr_assert_eq(ttr_score(m, N_ITEMS, x, F, scores), TTR_OK);
}

static int same(const void *a, const void *b, size_t n)
{
    if (!a || !b)
        return a == b;
    return memcmp(a, b, n) == 0;
}

/* Everything that defines a model's behaviour, bit for bit. */
static void assert_same_model(const ttr_model *a, const ttr_model *b, int with_state,
                              const char *what)
{
    cr_assert_eq(a->mode, b->mode, "%s", what);
    cr_assert_eq(a->norm_folded, b->norm_folded, "%s", what);
    cr_assert(memcmp(&a->cfg, &b->cfg, sizeof a->cfg) == 0, "%s: config", what);
    cr_assert_eq(a->n_tensors, b->n_tensors, "%s", what);
    for (uint32_t i = 0; i < a->n_tensors; i++) {
        const ttr__tensor *s = &a->tensors[i], *t = &b->tensors[i];
        size_t n = (size_t)s->rows * s->cols * sizeof(float);
        cr_assert_str_eq(s->name, t->name);
        cr_assert(same(s->w, t->w, n), "%s: %s values", what, s->name);
        if (with_state) {
            cr_assert(same(s->s1, t->s1, n), "%s: %s s1", what, s->name);
            cr_assert(same(s->s2, t->s2, n), "%s: %s s2", what, s->name);
        }
    }
    for (uint32_t l = 0; l < a->n_rel; l++)
        cr_assert(same(a->rel[l].packed, b->rel[l].packed,
                       ttr_gemm_f32_packed_size(a->rel[l].out, a->rel[l].in) * sizeof(float)),
                  "%s: packed rel.%u", what, l);
    size_t F = a->cfg.n_features * sizeof(float);
    cr_assert(same(a->norm_mean, b->norm_mean, F) && same(a->norm_scale, b->norm_scale, F),
              "%s: normalisation", what);
    if (a->bref_mean) {
        cr_assert(same(a->bref_mean, b->bref_mean, a->f_out * sizeof(float)), "%s: bref", what);
        cr_assert(a->bref_count == b->bref_count, "%s: bref count", what);
    }
    if (a->attn_mean) {
        size_t P = a->n_slots;
        cr_assert(same(a->attn_mean, b->attn_mean, P * P * sizeof(float)), "%s: attn", what);
        cr_assert(same(a->attn_n, b->attn_n, P * sizeof(float)), "%s: attn_n", what);
    }
    if (with_state) {
        cr_assert_eq(a->step, b->step, "%s: step", what);
        cr_assert_eq(a->rng, b->rng, "%s: rng", what);
    }
}

/* ---- basics ---------------------------------------------------------------- */

Test(io, crc32_and_memory_streams)
{
    cr_assert_eq(ttr_crc32(0, "123456789", 9), 0xCBF43926u);
    cr_assert_eq(ttr_crc32(ttr_crc32(0, "1234", 4), "56789", 5), 0xCBF43926u);
    cr_assert_eq(ttr_crc32(0, "", 0), 0u);
    unsigned char buf[4];
    ttr_mem_writer w = {buf, sizeof buf, 0};
    cr_assert_eq(ttr_mem_write(&w, "abc", 3), 0);
    cr_assert_neq(ttr_mem_write(&w, "de", 2), 0);
    cr_assert_eq(w.size, 3);
    ttr_mem_reader r = {buf, 3, 0};
    unsigned char got[8];
    cr_assert_eq(ttr_mem_read(&r, got, 2), 2);
    cr_assert_eq(ttr_mem_read(&r, got + 2, 8), 1);
    cr_assert_eq(ttr_mem_read(&r, got, 8), 0);
    cr_assert(memcmp(got, "abc", 3) == 0);
}

/* ---- round trips ------------------------------------------------------------- */

static uint32_t rd32(const unsigned char *p);
static void wr32(unsigned char *p, uint32_t v);
static void fix_crc(unsigned char *f, size_t size);

Test(io, round_trip_every_variant_and_mode)
{
    for (size_t vi = 0; vi < N_VARIANTS; vi++)
        for (int shape = 0; shape < 4; shape++) {
            ttr_config c;
            void *a_train, *a_serve, *a1, *a2, *a3;
            char what[64];
            float s0[N_ITEMS], s1[N_ITEMS];
            size_t n_state, n_plain, n_serve;
            small_config(&c, all_variants[vi], shape);
            snprintf(what, sizeof what, "variant %d shape %d", (int)c.variant, shape);
            ttr_model *m = trained_model(&c, &a_train, 3);

            /* train mode, with and without optimizer state */
            unsigned char *f_state = tu_save_mem(m, 1, &n_state);
            unsigned char *f_plain = tu_save_mem(m, 0, &n_plain);
            cr_assert(n_plain < n_state, "%s", what);
            ttr_config c2;
            ttr_mode mode2;
            ttr_mem_reader r = {f_state, n_state, 0};
            cr_assert_eq(ttr_model_load_config(ttr_mem_read, &r, &c2, &mode2), TTR_OK);
            cr_assert(memcmp(&c, &c2, sizeof c) == 0 && mode2 == TTR_MODE_TRAIN, "%s", what);
            ttr_model *l1 = load_fresh(f_state, n_state, &a1);
            assert_same_model(m, l1, 1, what);
            score_items(m, 5, s0);
            score_items(l1, 5, s1);
            cr_assert(memcmp(s0, s1, sizeof s0) == 0, "%s: train scores", what);
            ttr_model *l2 = load_fresh(f_plain, n_plain, &a2);
            assert_same_model(m, l2, 0, what);
            cr_assert_eq(l2->step, 0);
            for (uint32_t i = 0; i < l2->n_tensors; i++)
                for (size_t j = 0; j < (size_t)l2->tensors[i].rows * l2->tensors[i].cols; j++)
                    cr_assert(l2->tensors[i].s1[j] == 0.0f, "%s: state without state", what);
            score_items(l2, 5, s1);
            cr_assert(memcmp(s0, s1, sizeof s0) == 0, "%s: plain scores", what);
            /* saving what was loaded gives the same bytes */
            size_t n_again;
            unsigned char *again = tu_save_mem(l1, 1, &n_again);
            cr_assert(n_again == n_state && memcmp(again, f_state, n_state) == 0, "%s", what);
            free(again);

            /* serving mode */
            ttr_model *sv;
            size_t need = ttr_arena_bytes(&c, TTR_MODE_SERVE_F32);
            a_serve = tu_alloc(need, 0);
            cr_assert_eq(ttr_model_to_serving(m, &sv, a_serve, need), TTR_OK);
            unsigned char *f_serve = tu_save_mem(sv, 1, &n_serve); /* state ignored */
            cr_assert(n_serve <= n_plain, "%s", what);
            ttr_model *l3 = load_fresh(f_serve, n_serve, &a3);
            cr_assert_eq(ttr_model_mode(l3), TTR_MODE_SERVE_F32);
            assert_same_model(sv, l3, 0, what);
            score_items(sv, 6, s0);
            score_items(l3, 6, s1);
            cr_assert(memcmp(s0, s1, sizeof s0) == 0, "%s: serve scores", what);
            score_items(m, 6, s1); /* serving folds the normalisation: rounding differs */
            cr_assert(tu_first_mismatch(s0, s1, NULL, N_ITEMS, 1e-4f, 1e-5f) < 0,
                      "%s: serve vs train scores", what);

            /* int8 serving: dtype 1 records, loaded straight into the packed layout */
            {
                size_t qneed = ttr_arena_bytes(&c, TTR_MODE_SERVE_S8), n_q, n_q2;
                void *qa = tu_alloc(qneed, 0), *qa2;
                ttr_model *q, *lq;
                cr_assert_eq(ttr_model_quantize(shape & 1 ? sv : m, &q, qa, qneed), TTR_OK);
                unsigned char *f_q = tu_save_mem(q, 1, &n_q);
                cr_assert(n_q < n_serve, "%s: int8 file %zu vs %zu", what, n_q, n_serve);
                ttr_mode mq;
                ttr_mem_reader rq = {f_q, n_q, 0};
                cr_assert_eq(ttr_model_load_config(ttr_mem_read, &rq, NULL, &mq), TTR_OK);
                cr_assert_eq(mq, TTR_MODE_SERVE_S8);
                lq = load_fresh(f_q, n_q, &qa2);
                cr_assert_eq(ttr_model_mode(lq), TTR_MODE_SERVE_S8);
                score_items(q, 7, s0);
                score_items(lq, 7, s1);
                cr_assert(memcmp(s0, s1, sizeof s0) == 0, "%s: int8 scores", what);
                unsigned char *f_q2 = tu_save_mem(lq, 0, &n_q2);
                cr_assert(n_q2 == n_q && memcmp(f_q, f_q2, n_q) == 0, "%s: int8 resave", what);
                /* a weight of -128 is out of the kernels' range */
                for (size_t at = tu_state_offset(f_q) + 28; at + 24 < n_q; at++)
                    if (memcmp(f_q + at + 4, "rel.0.w", 7) == 0 && rd32(f_q + at) == 7) {
                        size_t v0 = at + 4 + 7 + 16;
                        if (c.n_hidden == 0) { /* a single layer: the f32 last layer */
                            cr_assert_eq(rd32(f_q + v0 - 16), 0, "%s: rel.0.w dtype", what);
                            break;
                        }
                        cr_assert_eq(rd32(f_q + v0 - 16), 1, "%s: rel.0.w dtype", what);
                        f_q2[v0] = 0x80;
                        memcpy(f_q2 + v0 + 1, f_q + v0 + 1, n_q - v0 - 1);
                        fix_crc(f_q2, n_q);
                        cr_assert_eq(tu_try_load(f_q2, n_q, qa2, qneed), TTR_ERR_RANGE, "%s", what);
                        f_q2[v0 - 16] = 0; /* dtype f32 where int8 is due */
                        fix_crc(f_q2, n_q);
                        cr_assert_eq(tu_try_load(f_q2, n_q, qa2, qneed), TTR_ERR_FORMAT, "%s", what);
                        break;
                    }
                /* int8 files keep the normalisation (version 2) unless the
                 * tower is linear or the source a serving copy (folded,
                 * version 1); the other flag, or a kept one claiming
                 * version 1, is refused. A model that learned from
                 * impressions carries them: version 4 either way. */
                int kept = c.n_hidden > 0 && !(shape & 1);
                uint32_t want_v = ttr_model_impressions(q) ? 4u : kept ? 2u : 1u;
                cr_assert_eq(rd32(f_q + 4), want_v, "%s: version", what);
                cr_assert_eq(rd32(f_q + 12), kept ? 0u : 2u, "%s: flags", what);
                memcpy(f_q2, f_q, n_q);
                wr32(f_q2 + 12, rd32(f_q + 12) ^ 2u);
                fix_crc(f_q2, n_q);
                cr_assert_eq(tu_try_load(f_q2, n_q, qa2, qneed), TTR_ERR_FORMAT, "%s", what);
                if (kept) {
                    memcpy(f_q2, f_q, n_q);
                    wr32(f_q2 + 4, 1);
                    fix_crc(f_q2, n_q);
                    cr_assert_eq(tu_try_load(f_q2, n_q, qa2, qneed), TTR_ERR_FORMAT, "%s", what);
                }
                cr_assert_eq(tu_try_load(f_q, n_q, qa2, qneed - 1), TTR_ERR_NOMEM, "%s", what);
                free(f_q);
                free(f_q2);
                tu_free(qa);
                tu_free(qa2);
            }

            free(f_state);
            free(f_plain);
            free(f_serve);
            tu_free(a_train);
            tu_free(a_serve);
            tu_free(a1);
            tu_free(a2);
            tu_free(a3);
        }
}

/* Train N steps, checkpoint, load into a fresh arena, train M more on both:
 * the resumed model is bit-identical to the uninterrupted one. */
Test(io, checkpoint_resume_is_bit_identical)
{
    for (size_t vi = 0; vi < N_VARIANTS; vi++)
        for (int shape = 0; shape < 3; shape++) {
            ttr_config c;
            void *a_run, *a_res;
            size_t n;
            char what[64];
            small_config(&c, all_variants[vi], shape);
            if (c.variant == TTR_ADDITIVE || c.variant == TTR_PAL)
                c.slot_dropout = 0.4f; /* the generator state matters */
            snprintf(what, sizeof what, "variant %d shape %d", (int)c.variant, shape);
            ttr_model *run = trained_model(&c, &a_run, 3);
            unsigned char *ck = tu_save_mem(run, 1, &n);
            ttr_model *res = load_fresh(ck, n, &a_res);
            train_steps(run, 777, 4);
            train_steps(res, 777, 4);
            assert_same_model(run, res, 1, what);
            cr_assert_eq(res->step, 7);
            free(ck);
            tu_free(a_run);
            tu_free(a_res);
        }
}

/* ---- hostile input ------------------------------------------------------------ */

/* Tiny files of each kind: train checkpoint, train, serving (dot: b_ref). */
static unsigned char *tiny_file(int kind, size_t *size)
{
    ttr_config c;
    void *a, *as;
    ttr_model *sv;
    small_config(&c, kind == 0 ? TTR_XPA : kind == 1 ? TTR_ADDITIVE : TTR_DOT, 0);
    c.n_features = 2;
    c.hidden[0] = 3;
    c.n_hidden = 1;
    c.hidden[1] = 0;
    c.rows = 2;
    c.cols = kind == 0 ? 2 : 1;
    c.embed_dim = 2;
    c.attn_dim = 2;
    c.dot_dim = 2;
    ttr_model *m = trained_model(&c, &a, 2);
    unsigned char *f;
    if (kind == 2) {
        size_t need = ttr_arena_bytes(&c, TTR_MODE_SERVE_F32);
        as = tu_alloc(need, 0);
        cr_assert_eq(ttr_model_to_serving(m, &sv, as, need), TTR_OK);
        f = tu_save_mem(sv, 0, size);
        tu_free(as);
    } else {
        f = tu_save_mem(m, kind == 0, size);
    }
    tu_free(a);
    return f;
}

/* Flip one bit at every byte position (a different bit each time, all 8 bits
 * in the header), and truncate at every length: loading fails cleanly. */
Test(io, every_bit_flip_and_truncation_fails_cleanly)
{
    for (int kind = 0; kind < 3; kind++) {
        size_t size;
        unsigned char *f = tiny_file(kind, &size);
        size_t need = tu_arena_for(f, size);
        void *arena = tu_alloc(need, 0);
        unsigned char *bad = malloc(size);
        cr_assert_eq(tu_try_load(f, size, arena, need), TTR_OK);
        for (size_t pos = 0; pos < size; pos++) {
            int bits = pos < tu_state_offset(f) + 28 ? 8 : 1;
            for (int k = 0; k < bits; k++) {
                memcpy(bad, f, size);
                bad[pos] ^= (unsigned char)(1u << ((pos + (size_t)k) % 8));
                int err = tu_try_load(bad, size, arena, need);
                cr_assert(err < 0, "kind %d: flip at byte %zu loaded", kind, pos);
            }
        }
        for (size_t len = 0; len < size; len++) {
            int err = tu_try_load(f, len, arena, need);
            cr_assert(err < 0, "kind %d: truncated at %zu loaded", kind, len);
            if (len >= 136)
                cr_assert_eq(err, TTR_ERR_FORMAT, "kind %d at %zu: %d", kind, len, err);
        }
        cr_log_info("io: kind %d, %zu bytes: every flip and truncation rejected", kind, size);
        free(bad);
        free(f);
        tu_free(arena);
    }
}

/* Offsets of a file's fields, found by walking it as the format says. */
typedef struct walk {
    size_t n_rec;
    size_t rec[128];  /* offset of each record's name length */
    size_t data[128]; /* offset of its first value */
    size_t crc;
} walk;

static uint32_t rd32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void wr32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void walk_file(const unsigned char *f, size_t size, walk *w)
{
    size_t at = tu_state_offset(f) + 28;
    w->n_rec = rd32(f + at - 4);
    cr_assert(w->n_rec <= 128);
    for (size_t i = 0; i < w->n_rec; i++) {
        w->rec[i] = at;
        uint32_t len = rd32(f + at);
        at += 4 + len;
        uint32_t rows = rd32(f + at + 4), cols = rd32(f + at + 8), ns = rd32(f + at + 12);
        at += 16;
        w->data[i] = at;
        at += (size_t)rows * cols * 4 * (1 + ns);
    }
    w->crc = at;
    cr_assert_eq(at + 4, size);
}

static void fix_crc(unsigned char *f, size_t size)
{
    wr32(f + size - 4, ttr_crc32(0, f, size - 4));
}

/* Patch one u32 of a copy of f (and optionally fix the CRC); expect `want`. */
static void expect_patch(const unsigned char *f, size_t size, size_t at, uint32_t v, int crc,
                         int want, void *arena, size_t need, const char *what)
{
    unsigned char *b = malloc(size);
    memcpy(b, f, size);
    wr32(b + at, v);
    if (crc)
        fix_crc(b, size);
    int err = tu_try_load(b, size, arena, need);
    cr_assert_eq(err, want, "%s: got %d (%s), want %d", what, err, ttr_strerror(err), want);
    free(b);
}

static int fail_after;
static int failing_write(void *ctx, const void *data, size_t n)
{
    (void)data;
    (void)n;
    (void)ctx;
    return fail_after-- <= 0 ? -1 : 0;
}

static size_t failing_read(void *ctx, void *buf, size_t n)
{
    ttr_mem_reader *r = ctx;
    if (r->pos >= 300)
        return TTR_READ_ERROR;
    return ttr_mem_read(ctx, buf, n < 7 ? n : 7); /* short reads are fine */
}

Test(io, crafted_fields_give_specific_errors)
{
    size_t size;
    unsigned char *f = tiny_file(0, &size); /* xpa checkpoint, Adam */
    size_t need = tu_arena_for(f, size);
    void *arena = tu_alloc(need, 0);
    walk w;
    walk_file(f, size, &w);
    size_t st = tu_state_offset(f);
    cr_assert_eq(tu_try_load(f, size, arena, need), TTR_OK);

    /* header */
    expect_patch(f, size, 0, 0x4B525454u ^ 1u, 1, TTR_ERR_FORMAT, arena, need, "magic");
    expect_patch(f, size, 4, TTR_FILE_VERSION + 1, 1, TTR_ERR_UNSUPPORTED, arena, need,
                 "newer version");
    expect_patch(f, size, 4, 0, 1, TTR_ERR_FORMAT, arena, need, "version 0");
    expect_patch(f, size, 8, 2, 1, TTR_ERR_FORMAT, arena, need, "int8 mode with state");
    expect_patch(f, size, 8, 9, 1, TTR_ERR_FORMAT, arena, need, "mode 9");
    expect_patch(f, size, 8, 1, 1, TTR_ERR_FORMAT, arena, need, "state in a serving file");
    expect_patch(f, size, 12, 5, 1, TTR_ERR_FORMAT, arena, need, "unknown flag");
    expect_patch(f, size, 12, 3, 1, TTR_ERR_FORMAT, arena, need, "folded in a train file");
    expect_patch(f, size, 16, 99, 1, TTR_ERR_RANGE, arena, need, "variant");
    expect_patch(f, size, 20, 0, 1, TTR_ERR_RANGE, arena, need, "n_features 0");
    expect_patch(f, size, 20, 0xFFFFFFFFu, 1, TTR_ERR_RANGE, arena, need, "n_features huge");
    expect_patch(f, size, 28, 0x7FFFFFFFu, 1, TTR_ERR_RANGE, arena, need, "hidden[0] huge");
    expect_patch(f, size, 16 + 76, 0x7FC00000u, 1, TTR_ERR_RANGE, arena, need, "lr NaN");
    expect_patch(f, size, 20, 4096, 1, TTR_ERR_NOMEM, arena, need, "bigger config");
    /* records */
    expect_patch(f, size, st + 24, (uint32_t)w.n_rec - 1, 1, TTR_ERR_FORMAT, arena, need,
                 "a record missing");
    expect_patch(f, size, st + 24, (uint32_t)w.n_rec + 1, 1, TTR_ERR_FORMAT, arena, need,
                 "a record too many");
    expect_patch(f, size, st + 24, 0xFFFFFFFFu, 1, TTR_ERR_FORMAT, arena, need, "count huge");
    expect_patch(f, size, w.rec[1], 0xFFFFFFFFu, 1, TTR_ERR_RANGE, arena, need, "name length");
    expect_patch(f, size, w.rec[1], 0, 1, TTR_ERR_RANGE, arena, need, "empty name");
    expect_patch(f, size, w.rec[1], 33, 1, TTR_ERR_RANGE, arena, need, "name too long");
    expect_patch(f, size, w.data[1] - 16, 7, 1, TTR_ERR_FORMAT, arena, need, "dtype");
    expect_patch(f, size, w.data[1] - 16, 1, 1, TTR_ERR_FORMAT, arena, need, "int8 dtype");
    expect_patch(f, size, w.data[1] - 12, 0xFFFFFFFFu, 1, TTR_ERR_RANGE, arena, need, "rows");
    expect_patch(f, size, w.data[1] - 8, 0x80000000u, 1, TTR_ERR_RANGE, arena, need, "cols");
    expect_patch(f, size, w.data[1] - 4, 1, 1, TTR_ERR_RANGE, arena, need, "state arrays");
    expect_patch(f, size, w.data[1], 0x7FC00000u, 1, TTR_ERR_NONFINITE, arena, need, "NaN");
    expect_patch(f, size, w.data[1], 0x7F800000u, 0, TTR_ERR_FORMAT, arena, need, "Inf, bad CRC");
    expect_patch(f, size, st + 16 + 4, 0xFFF00000u, 1, TTR_ERR_NONFINITE, arena, need,
                 "bref count -Inf");
    expect_patch(f, size, w.crc, rd32(f + w.crc) ^ 0x100u, 0, TTR_ERR_FORMAT, arena, need, "CRC");
    {
        /* a negative Adam second moment: the last array of a record */
        uint32_t rows = rd32(f + w.data[0] - 12), cols = rd32(f + w.data[0] - 8);
        size_t at = w.data[0] + (size_t)rows * cols * 8;
        cr_assert_eq(rd32(f + w.data[0] - 4), 2);
        expect_patch(f, size, at, 0xBF800000u, 1, TTR_ERR_NONFINITE, arena, need, "v < 0");
    }
    {
        /* names: a NUL inside, an unknown one, a duplicate (same length) */
        unsigned char *b = malloc(size);
        int err;
        memcpy(b, f, size);
        b[w.rec[0] + 5] = 0;
        fix_crc(b, size);
        cr_assert_eq(tu_try_load(b, size, arena, need), TTR_ERR_FORMAT, "NUL in a name");
        memcpy(b, f, size);
        b[w.rec[0] + 4] = 'Q';
        fix_crc(b, size);
        cr_assert_eq(tu_try_load(b, size, arena, need), TTR_ERR_FORMAT, "unknown name");
        int dup = 0;
        for (size_t i = 1; i < w.n_rec && !dup; i++)
            if (rd32(f + w.rec[i]) == rd32(f + w.rec[0])) {
                memcpy(b, f, size);
                memcpy(b + w.rec[i] + 4, f + w.rec[0] + 4, rd32(f + w.rec[0]));
                fix_crc(b, size);
                err = tu_try_load(b, size, arena, need);
                cr_assert_eq(err, TTR_ERR_FORMAT, "duplicate name: %d", err);
                dup = 1;
            }
        cr_assert(dup);
        free(b);
    }
    /* arena, callbacks, files */
    for (size_t short_by = 1; short_by < 200; short_by += 37)
        cr_assert_eq(tu_try_load(f, size, arena, need - short_by), TTR_ERR_NOMEM);
    ttr_mem_reader r = {f, size, 0};
    ttr_model *m = NULL;
    cr_assert_eq(ttr_model_load(&m, arena, need, failing_read, &r), TTR_ERR_IO);
    cr_assert_null(m);
    cr_assert_eq(ttr_model_load(NULL, arena, need, ttr_mem_read, &r), TTR_ERR_ARG);
    {
        /* trailing data: fine in a stream, not in a file */
        unsigned char *b = malloc(size + 3);
        memcpy(b, f, size);
        memset(b + size, 0x55, 3);
        cr_assert_eq(tu_try_load(b, size + 3, arena, need), TTR_OK);
        free(b);
    }
    /* a write failure at every call fails the save with IO */
    {
        void *a;
        ttr_config c;
        small_config(&c, TTR_MIXEM, 1);
        ttr_model *mm = trained_model(&c, &a, 1);
        int calls;
        for (calls = 0;; calls++) {
            fail_after = calls;
            int err = ttr_model_save(mm, 1, failing_write, NULL);
            if (err == TTR_OK)
                break;
            cr_assert_eq(err, TTR_ERR_IO);
        }
        cr_assert(calls >= 2);
        cr_assert_eq(ttr_model_save(NULL, 1, ttr_mem_write, NULL), TTR_ERR_ARG);
        tu_free(a);
    }
    free(f);
    tu_free(arena);
}

/* ---- files and crashes --------------------------------------------------------- */

/* A small file whose header claims the largest configuration, with a
 * valid CRC: the header alone passes, and sizing an arena from it would ask
 * for gigabytes; ttr_model_check (and so ttr_model_load_file_config, which
 * the tool sizes its arena from) reads the records and refuses it. */
Test(io, a_huge_header_on_a_small_file_is_refused_before_any_arena)
{
    /* F 65536, hidden 4096 (x4 in the second claim), max_items 1024,
     * max_batch 65536; the first claim keeps the record count, so only the
     * number of values gives it away */
    static const struct { size_t at; uint32_t v; } claim[] = {
        {20, 65536}, {28, 4096}, {16 + 60, 1024}, {16 + 64, 65536},
        {24, 4}, {32, 4096}, {36, 4096}, {40, 4096}};
    for (int deep = 0; deep < 2; deep++) {
        size_t size;
        unsigned char *f = tiny_file(1, &size); /* additive train model, 1 hidden layer */
        for (size_t i = 0; i < (deep ? 8u : 4u); i++)
            wr32(f + claim[i].at, claim[i].v);
        fix_crc(f, size);
        int want = deep ? TTR_ERR_FORMAT : TTR_ERR_RANGE; /* count, or values */
        ttr_config c;
        ttr_mode mode;
        ttr_mem_reader r = {f, size, 0};
        cr_assert_eq(ttr_model_load_config(ttr_mem_read, &r, &c, &mode), TTR_OK);
        size_t need = ttr_arena_bytes(&c, mode);
        cr_assert(need == 0 || need > ((size_t)1 << 30), "the header asks for %zu bytes", need);
        r.pos = 0;
        cr_assert_eq(ttr_model_check(ttr_mem_read, &r, &c, &mode), want, "claim %d", deep);

        char path[512];
        snprintf(path, sizeof path, "%s/ttr-io-huge-%ld.ttr", tu_tmp_dir(), (long)getpid());
        FILE *fp = fopen(path, "wb");
        cr_assert(fp && fwrite(f, 1, size, fp) == size && fclose(fp) == 0);
        cr_assert_eq(ttr_model_load_file_config(path, &c, &mode), want);
        unsigned char small[256];
        ttr_model *m = NULL;
        cr_assert_eq(ttr_model_load_file(&m, small, sizeof small, path), want);
        cr_assert_null(m);
        remove(path);
        free(f);
    }
}

/* The check passes every kind of intact file with the loader's config, and
 * a file with bytes after its CRC is refused on the file path. */
Test(io, check_passes_intact_files_with_their_configuration)
{
    for (int kind = 0; kind < 3; kind++) {
        size_t size;
        unsigned char *f = tiny_file(kind, &size);
        ttr_config a, b;
        ttr_mode ma, mb;
        ttr_mem_reader r = {f, size, 0};
        cr_assert_eq(ttr_model_load_config(ttr_mem_read, &r, &a, &ma), TTR_OK);
        r.pos = 0;
        cr_assert_eq(ttr_model_check(ttr_mem_read, &r, &b, &mb), TTR_OK);
        cr_assert(!memcmp(&a, &b, sizeof a) && ma == mb, "kind %d", kind);
        cr_assert_eq(r.pos, size, "kind %d: the check reads the whole file", kind);

        char path[512];
        snprintf(path, sizeof path, "%s/ttr-io-check-%ld.ttr", tu_tmp_dir(), (long)getpid());
        FILE *fp = fopen(path, "wb");
        cr_assert(fp && fwrite(f, 1, size, fp) == size && fputc(0, fp) == 0 && fclose(fp) == 0);
        cr_assert_eq(ttr_model_load_file_config(path, &b, &mb), TTR_ERR_FORMAT);
        remove(path);
        free(f);
    }
    cr_assert_eq(ttr_model_check(NULL, NULL, NULL, NULL), TTR_ERR_ARG);
}

Test(io, files_save_atomically_and_survive_a_killed_writer)
{
#ifndef IO_HAVE_FORK
    cr_skip_test("no fork/rlimit on this platform");
#else
    char path[512], tmp[520], tail[560];
    void *a_old, *a_new, *a_l;
    ttr_config c;
    float s_old[N_ITEMS], s[N_ITEMS];
    snprintf(path, sizeof path, "%s/ttr-io-test-%ld.ttr", tu_tmp_dir(), (long)getpid());
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    snprintf(tail, sizeof tail, "%s.tail", path);

    small_config(&c, TTR_XPA, 1);
    ttr_model *old = trained_model(&c, &a_old, 1);
    c.hidden[0] = 8; /* a different, bigger model to overwrite it with */
    c.seed = 99;
    ttr_model *nw = trained_model(&c, &a_new, 2);
    cr_assert_eq(ttr_model_save_file(old, path, 1), TTR_OK);
    cr_assert(access(tmp, F_OK) != 0, "no .tmp after a successful save");
    score_items(old, 3, s_old);

    size_t n_new;
    unsigned char *f_new = tu_save_mem(nw, 1, &n_new);
    free(f_new);
    for (int scenario = 0; scenario < 2; scenario++) {
        pid_t pid = fork();
        if (pid < 0)
            cr_skip_test("fork failed");
        if (pid == 0) {
            /* The writer may write only part of the new file: over the limit,
             * write() raises SIGXFSZ (kills: a crash mid-write) or, with the
             * signal ignored, fails with EFBIG (the save must report IO). */
            struct rlimit rl;
            rl.rlim_cur = rl.rlim_max = (rlim_t)(n_new / 2);
            if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
                _exit(3);
            if (scenario == 1)
                signal(SIGXFSZ, SIG_IGN);
            int err = ttr_model_save_file(nw, path, 1);
            _exit(err == TTR_ERR_IO ? 0 : err == TTR_OK ? 1 : 2);
        }
        int st = 0;
        cr_assert_eq(waitpid(pid, &st, 0), pid);
        if (scenario == 0) {
            if (WIFEXITED(st) && WEXITSTATUS(st) == 3)
                cr_skip_test("setrlimit unavailable");
            cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGXFSZ,
                      "the writer should die mid-write (status %d)", st);
            struct stat sb;
            cr_assert_eq(stat(tmp, &sb), 0, "a partial .tmp is left behind");
            cr_assert(sb.st_size > 0 && (size_t)sb.st_size < n_new);
        } else {
            cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "a failed save reports IO (%d)",
                      st);
            cr_assert(access(tmp, F_OK) != 0, "a failed save removes its .tmp");
        }
        /* the previous model is intact */
        ttr_config c2;
        ttr_mode md;
        ttr_model *l = NULL;
        cr_assert_eq(ttr_model_load_file_config(path, &c2, &md), TTR_OK);
        size_t need = ttr_arena_bytes(&c2, md);
        a_l = tu_alloc(need, 0);
        cr_assert_eq(ttr_model_load_file(&l, a_l, need, path), TTR_OK);
        score_items(l, 3, s);
        cr_assert(memcmp(s, s_old, sizeof s) == 0, "scenario %d: old model changed", scenario);
        tu_free(a_l);
    }
    /* a later save replaces the stale .tmp and the model */
    cr_assert_eq(ttr_model_save_file(nw, path, 0), TTR_OK);
    cr_assert(access(tmp, F_OK) != 0);
    {
        ttr_model *l = NULL;
        size_t need = ttr_arena_bytes(&c, TTR_MODE_TRAIN);
        a_l = tu_alloc(need, 0);
        cr_assert_eq(ttr_model_load_file(&l, a_l, need, path), TTR_OK);
        assert_same_model(nw, l, 0, "saved file");
        /* bytes after the CRC: a file must end there */
        FILE *fp = fopen(path, "ab");
        cr_assert_not_null(fp);
        fputc(0, fp);
        fclose(fp);
        l = NULL;
        cr_assert_eq(ttr_model_load_file(&l, a_l, need, path), TTR_ERR_FORMAT);
        cr_assert_null(l);
        tu_free(a_l);
    }
    cr_assert_eq(ttr_model_load_file(&old, a_old, 1, "/nonexistent/dir/x.ttr"), TTR_ERR_IO);
    cr_assert_eq(ttr_model_save_file(nw, "/nonexistent/dir/x.ttr", 0), TTR_ERR_IO);
    unlink(path);
    unlink(tmp);
    unlink(tail);
    tu_free(a_old);
    tu_free(a_new);
#endif
}

/* ---- golden files ------------------------------------------------------------- */

typedef struct golden {
    const char *name;
    ttr_variant variant;
    int kind; /* 0 train, 1 serving, 2 checkpoint, 3 int8 of a serving copy (version 1:
                 normalisation folded), 4 int8 of a train model (version 2: kept) */
} golden;

static const golden goldens[] = {
    {"additive_train", TTR_ADDITIVE, 0},
    {"dot_serve", TTR_DOT, 1},
    {"xpa_checkpoint", TTR_XPA, 2},
    {"naive_int8", TTR_NAIVE, 3},
    {"additive_int8", TTR_ADDITIVE, 4},
};

static void golden_config(ttr_config *c, ttr_variant v)
{
    ttr_config_default(c, v, 6);
    c->hidden[0] = 8;
    c->hidden[1] = 4;
    c->rows = v == TTR_XPA ? 2 : 4;
    c->cols = v == TTR_XPA ? 2 : 1;
    c->n_contexts = v == TTR_ADDITIVE ? 2 : 0;
    c->embed_dim = 3;
    c->attn_dim = 3;
    c->dot_dim = 3;
    c->max_items = 4;
    c->max_batch = 4;
    c->lr = 0.02f;
    c->seed = 2024;
    /* the configuration the golden files were written with (before the
     * defaults gained a bias hidden layer and weight decay) */
    c->bias_hidden = 0;
    c->weight_decay = 0.0f;
}

static int read_expected(const char *path, float *s, float *r, int *nr)
{
    FILE *fp = fopen(path, "r");
    char line[128];
    int ns = 0;
    *nr = 0;
    if (!fp)
        return -1;
    while (fgets(line, sizeof line, fp)) {
        if (line[0] == 's' && ns < N_ITEMS)
            s[ns++] = strtof(line + 2, NULL);
        else if (line[0] == 'r' && *nr < N_ITEMS)
            r[(*nr)++] = strtof(line + 2, NULL);
    }
    fclose(fp);
    return ns;
}

Test(io, golden_files_load_on_every_target)
{
    const char *write_env = getenv("TTR_WRITE_GOLDEN");
    int write = write_env && write_env[0] == '1';
    unsigned masks[8];
    const char *mask_names[8];
    int n_masks = tu_masks(masks, mask_names);
    for (size_t gi = 0; gi < sizeof goldens / sizeof goldens[0]; gi++) {
        const golden *g = &goldens[gi];
        char ttr_path[128], txt_path[128];
        float s[N_ITEMS], r[N_ITEMS], es[N_ITEMS], er[N_ITEMS];
        snprintf(ttr_path, sizeof ttr_path, "tests/golden/%s.ttr", g->name);
        snprintf(txt_path, sizeof txt_path, "tests/golden/%s.txt", g->name);
        if (write) {
            ttr_config c;
            void *a, *as = NULL;
            golden_config(&c, g->variant);
            ttr_model *m = trained_model(&c, &a, 6), *sm = m;
            void *af = NULL;
            if (g->kind == 1 || g->kind == 3) {
                size_t need = ttr_arena_bytes(&c, TTR_MODE_SERVE_F32);
                af = tu_alloc(need, 0);
                cr_assert_eq(ttr_model_to_serving(m, &sm, af, need), TTR_OK);
            }
            if (g->kind >= 3) {
                size_t need = ttr_arena_bytes(&c, TTR_MODE_SERVE_S8);
                as = tu_alloc(need, 0);
                cr_assert_eq(ttr_model_quantize(g->kind == 3 ? sm : m, &sm, as, need), TTR_OK);
            }
            cr_assert_eq(ttr_model_save_file(sm, ttr_path, g->kind == 2), TTR_OK,
                         "writing %s (run from the repository root)", ttr_path);
            FILE *fp = fopen(txt_path, "w");
            cr_assert_not_null(fp);
            fprintf(fp, "# %s.ttr: scores of tests/test_io.c's fixed items (s: as loaded%s)\n",
                    g->name, g->kind == 2 ? "; r: after two more training steps" : "");
            score_items(sm, 42, s);
            for (int i = 0; i < N_ITEMS; i++)
                fprintf(fp, "s %.9g\n", (double)s[i]);
            if (g->kind == 2) {
                train_steps(m, 4242, 2);
                score_items(m, 42, r);
                for (int i = 0; i < N_ITEMS; i++)
                    fprintf(fp, "r %.9g\n", (double)r[i]);
            }
            fclose(fp);
            cr_log_warn("io: wrote %s and %s", ttr_path, txt_path);
            tu_free(a);
            if (as)
                tu_free(as);
            if (af)
                tu_free(af);
            continue;
        }
        int nr, ns = read_expected(txt_path, es, er, &nr);
        cr_assert_eq(ns, N_ITEMS, "%s: expected scores missing (run from the repository root)",
                     txt_path);
        cr_assert_eq(nr, g->kind == 2 ? N_ITEMS : 0, "%s", txt_path);
        for (int mi = 0; mi < n_masks; mi++) {
            ttr_config c, want;
            ttr_mode md;
            ttr_model *m = NULL;
            ttr_set_cpu_mask(masks[mi]);
            cr_assert_eq(ttr_model_load_file_config(ttr_path, &c, &md), TTR_OK, "%s", ttr_path);
            golden_config(&want, g->variant);
            cr_assert(memcmp(&c, &want, sizeof c) == 0, "%s: config", ttr_path);
            cr_assert_eq(md, g->kind == 1   ? TTR_MODE_SERVE_F32
                             : g->kind >= 3 ? TTR_MODE_SERVE_S8
                                            : TTR_MODE_TRAIN);
            size_t need = ttr_arena_bytes(&c, md);
            void *a = tu_alloc(need, 8);
            int err = ttr_model_load_file(&m, a, need, ttr_path);
            cr_assert_eq(err, TTR_OK, "%s: %s", ttr_path, ttr_strerror(err));
            score_items(m, 42, s);
            /* int8 scores are the same bits on every path and target */
            long bad = g->kind >= 3 ? tu_first_mismatch(s, es, NULL, N_ITEMS, 0.0f, 0.0f)
                                    : tu_first_mismatch(s, es, NULL, N_ITEMS, 1e-5f, 1e-6f);
            cr_assert(bad < 0, "%s [%s]: score %ld: %.9g vs %.9g", ttr_path, mask_names[mi], bad,
                      bad < 0 ? 0.0 : (double)s[bad], bad < 0 ? 0.0 : (double)es[bad]);
            if (g->kind == 2) {
                cr_assert_eq(m->step, 6);
                train_steps(m, 4242, 2);
                score_items(m, 42, r);
                /* training amplifies the kernels' rounding differences a little */
                bad = tu_first_mismatch(r, er, NULL, N_ITEMS, 1e-4f, 1e-5f);
                cr_assert(bad < 0, "%s [%s]: resumed score %ld: %.9g vs %.9g", ttr_path,
                          mask_names[mi], bad, bad < 0 ? 0.0 : (double)r[bad],
                          bad < 0 ? 0.0 : (double)er[bad]);
            }
            tu_free(a);
        }
        ttr_set_cpu_mask(TTR_CPU_ALL);
    }
}

/* Found by fuzzing (tests/fuzz/regressions/model_load/serving-fold-overflow.ttr):
 * a model with finite weights and normalisation whose fold into the serving
 * layer 0 overflows float (W * scale, or the bias shift W * mean). Serving
 * and int8 copies of it used to be built (TTR_OK) with Inf/NaN weights: they
 * scored NaN, their files did not load, and int8 rounding converted a NaN to
 * int8 (undefined behaviour). Both now fail with TTR_ERR_NONFINITE. */
Test(io, serving_copy_of_a_fold_that_overflows_is_refused)
{
    /* lin: a linear tower, whose int8 copy folds the normalisation too; with
     * hidden layers the int8 copy keeps it (nothing to fold: TTR_OK) */
    for (int lin = 0; lin < 2; lin++)
        for (int how = 0; how < 2; how++)
            for (int v = 0; v < 2; v++) {
                ttr_config c;
                void *arena, *arena2;
                small_config(&c, v ? TTR_DOT : TTR_ADDITIVE, 0);
                if (lin)
                    c.n_hidden = 0;
                ttr_model *m = trained_model(&c, &arena, 1);
                float mean[8] = {0}, scale[8] = {1, 1, 1, 1, 1, 1, 1, 1};
                if (how == 0) { /* W * scale overflows */
                    m->rel[0].W->w[0] = 3.0e38f;
                    scale[0] = 2.0f;
                } else { /* the bias shift W * mean overflows */
                    m->rel[0].W->w[0] = m->rel[0].W->w[1] = 1.0f;
                    mean[0] = mean[1] = 3.0e38f;
                }
                ttr__repack(m);
                cr_assert_eq(ttr_set_normalization(m, mean, scale), TTR_OK);
                /* the file of the model itself is fine and loads */
                size_t size;
                unsigned char *f = tu_save_mem(m, 1, &size);
                ttr_model *m2 = load_fresh(f, size, &arena2);
                for (int k = 0; k < 2; k++) {
                    ttr_model *src = k ? m2 : m, *s = NULL;
                    size_t n1 = ttr_arena_bytes(&c, TTR_MODE_SERVE_F32);
                    size_t n8 = ttr_arena_bytes(&c, TTR_MODE_SERVE_S8);
                    void *a1 = tu_alloc(n1, 0), *a8 = tu_alloc(n8, 0);
                    cr_assert_eq(ttr_model_to_serving(src, &s, a1, n1), TTR_ERR_NONFINITE,
                                 "lin %d how %d variant %d", lin, how, v);
                    cr_assert_null(s);
                    cr_assert_eq(ttr_model_quantize(src, &s, a8, n8),
                                 lin ? TTR_ERR_NONFINITE : TTR_OK, "lin %d how %d variant %d",
                                 lin, how, v);
                    cr_assert(lin ? s == NULL : s != NULL);
                    cr_assert(tu_guard_ok(a1) && tu_guard_ok(a8));
                    tu_free(a1);
                    tu_free(a8);
                }
                free(f);
                tu_free(arena);
                tu_free(arena2);
            }
}

/* Found by fuzzing (tests/fuzz/regressions/model_load/train-update-overflow.ttr):
 * a checkpoint with finite but extreme optimizer state (a large Adam first
 * moment over a zero second moment, a large SGD velocity) loads, and its next
 * training step had a finite loss and gradient but overflowed a weight to
 * Inf: ttr_train returned TTR_OK and the model scored NaN from then on (and
 * its checkpoint no longer loaded). The step is now refused with
 * TTR_ERR_NONFINITE and the model stays byte for byte as it was. */
Test(io, training_step_that_would_overflow_is_refused)
{
    for (int sgd = 0; sgd < 2; sgd++) {
        ttr_config c;
        void *arena, *arena2;
        small_config(&c, TTR_XPA, sgd ? 2 : 0);
        cr_assert_eq(c.optimizer, sgd ? TTR_OPT_SGD : TTR_OPT_ADAM);
        ttr_model *m = trained_model(&c, &arena, 1);
        ttr__tensor *t = &m->tensors[0];
        m->cfg.lr = 1000.0f; /* the largest lr ttr_config_check accepts */
        t->s1[0] = 1.0e38f;  /* SGD: w -= lr * vel overflows */
        if (!sgd)
            t->s2[0] = 0.0f; /* Adam: w -= lr_t * m / (sqrt(v) + eps) overflows */
        size_t size, size2;
        unsigned char *f = tu_save_mem(m, 1, &size);
        ttr_model *m2 = load_fresh(f, size, &arena2); /* the checkpoint itself is valid */
        io_batch ib;
        make_batch(&ib, &c, 77);
        cr_assert_eq(ttr_train(m2, &ib.b, NULL), TTR_ERR_NONFINITE, "sgd %d", sgd);
        unsigned char *f2 = tu_save_mem(m2, 1, &size2);
        cr_assert(size2 == size && memcmp(f, f2, size) == 0, "model changed by a refused step");
        free(f);
        free(f2);
        tu_free(arena);
        tu_free(arena2);
    }
}
