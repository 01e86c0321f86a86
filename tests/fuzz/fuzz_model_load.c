/* Fuzz target: the .ttr model loader (ttr_model_load_config, ttr_model_load)
 * on a memory stream, for every kind of file (train models and checkpoints,
 * serve-f32 and serve-int8 copies), and what a program does with a model
 * once it has loaded: score items, read out the bias side, train one step,
 * make serving and int8 copies, save and load again.
 *
 * The input is a .ttr file. A file whose CRC does not match is also loaded
 * a second time with its last four bytes replaced by the CRC of the bytes
 * before them, so that mutations reach the checks behind the CRC.
 *
 * Invariants (a violation traps):
 * - ttr_model_load and ttr_model_load_config agree on the configuration,
 *   mode and outcome of the header; a load returns TTR_OK or a negative
 *   code, and sets *out only on success;
 * - ttr_model_check (no arena) passes every file that loads, with its
 *   configuration, and no file it refuses loads: sizing an arena only for
 *   files it passes, as ttr_model_load_file_config does, keeps the memory to
 *   refuse a file small;
 * - an arena shorter than ttr_arena_bytes() gets TTR_ERR_NOMEM;
 * - a loaded model scores finite features (TTR_OK or TTR_ERR_NONFINITE);
 * - a loaded model saved again loads again, and saving that gives the same
 *   bytes; its scores are the same bits;
 * - a failed training step leaves the model byte for byte as it was;
 * - serving and int8 copies save and load again.
 *
 * Every model lives at the end of a static buffer (so ASan sees a write
 * past the arena) with a poisoned guard zone before it. Models whose arena
 * would exceed FUZZ_ARENA_CAP are only checked to fail with TTR_ERR_NOMEM. */
#include <math.h>
#include <string.h>

#include "fuzz_common.h"
#include "ttr_io.h"
#include "ttrank.h"

#define FUZZ_ARENA_CAP (768u * 1024u)
#define FUZZ_GUARD 256u
#define FUZZ_SAVE_CAP (1024u * 1024u)
#define FUZZ_X_CAP (1u << 17) /* floats of feature input */
#define FUZZ_MAX_SLOTS 1024u

typedef struct arena {
    unsigned char buf[FUZZ_GUARD + FUZZ_ARENA_CAP];
    size_t guard_at; /* poisoned [guard_at, guard_at + FUZZ_GUARD) while in use */
    int poisoned;
} arena;

static arena arenas[3];
static unsigned char save_a[FUZZ_SAVE_CAP], save_b[FUZZ_SAVE_CAP], save_c[FUZZ_SAVE_CAP];
static unsigned char patched[1u << 20];
static float xin[FUZZ_X_CAP];
static float out_a[FUZZ_X_CAP], out_b[FUZZ_X_CAP];

/* `need` bytes ending at the end of arena a, the FUZZ_GUARD bytes before
 * them poisoned. */
static void *arena_take(arena *a, size_t need)
{
    size_t at = sizeof a->buf - need;
    a->guard_at = at - FUZZ_GUARD;
    FUZZ_POISON(a->buf + a->guard_at, FUZZ_GUARD);
    a->poisoned = 1;
    return a->buf + at;
}

static void arena_release(arena *a)
{
    if (a->poisoned)
        FUZZ_UNPOISON(a->buf + a->guard_at, FUZZ_GUARD);
    a->poisoned = 0;
}

static int load_mem(ttr_model **m, void *ar, size_t bytes, const void *data, size_t size)
{
    ttr_mem_reader r = {data, size, 0};
    return ttr_model_load(m, ar, bytes, ttr_mem_read, &r);
}

/* Save m into buf (cap bytes): the size, or 0 if it does not fit. */
static size_t save_mem(const ttr_model *m, int with_state, unsigned char *buf, size_t cap)
{
    ttr_mem_writer q = {NULL, 0, 0};
    FUZZ_CHECK(ttr_model_save(m, with_state, ttr_mem_write, &q) == TTR_OK);
    if (q.size > cap)
        return 0;
    ttr_mem_writer w = {buf, cap, 0};
    FUZZ_CHECK(ttr_model_save(m, with_state, ttr_mem_write, &w) == TTR_OK);
    FUZZ_CHECK(w.size == q.size);
    return w.size;
}

static int same_config(const ttr_config *a, const ttr_config *b)
{
    /* field by field: the struct may have padding */
    if (a->variant != b->variant || a->n_features != b->n_features ||
        a->n_hidden != b->n_hidden || a->rows != b->rows || a->cols != b->cols ||
        a->n_contexts != b->n_contexts || a->embed_dim != b->embed_dim ||
        a->bias_hidden != b->bias_hidden || a->dot_dim != b->dot_dim ||
        a->components != b->components || a->attn_dim != b->attn_dim ||
        a->max_items != b->max_items || a->max_batch != b->max_batch || a->loss != b->loss ||
        a->optimizer != b->optimizer || a->dot_serving != b->dot_serving || a->seed != b->seed)
        return 0;
    for (int i = 0; i < TTR_MAX_HIDDEN; i++)
        if (a->hidden[i] != b->hidden[i])
            return 0;
    return memcmp(&a->lr, &b->lr, 4) == 0 && memcmp(&a->beta1, &b->beta1, 4) == 0 &&
           memcmp(&a->beta2, &b->beta2, 4) == 0 && memcmp(&a->adam_eps, &b->adam_eps, 4) == 0 &&
           memcmp(&a->momentum, &b->momentum, 4) == 0 && memcmp(&a->l2, &b->l2, 4) == 0 &&
           memcmp(&a->clip_norm, &b->clip_norm, 4) == 0 &&
           memcmp(&a->slot_dropout, &b->slot_dropout, 4) == 0;
}

/* Items to score: n rows of F deterministic features (n * F <= FUZZ_X_CAP). */
static size_t make_items(const ttr_config *c, uint32_t seed)
{
    size_t F = c->n_features, n = FUZZ_X_CAP / F;
    if (n > 5)
        n = 5;
    for (size_t i = 0; i < n * F; i++) {
        seed = seed * 1103515245u + 12345u;
        xin[i] = (float)((int)(seed >> 16 & 63u) - 32) * 0.0625f;
    }
    return n;
}

/* Save m, load the bytes into arena `slot`, save again: same bytes, same
 * configuration and mode, same scores. Returns the reloaded model (or NULL
 * when the file is too large to check). */
static ttr_model *reload_check(const ttr_model *m, int with_state, arena *slot, size_t n_items)
{
    const ttr_config *c = ttr_model_config(m);
    ttr_mode mode = ttr_model_mode(m);
    size_t len = save_mem(m, with_state, save_a, sizeof save_a);
    if (len == 0)
        return NULL;
    size_t need = ttr_arena_bytes(c, mode);
    FUZZ_CHECK(need > 0 && need <= FUZZ_ARENA_CAP);
    ttr_model *m2 = NULL;
    void *ar = arena_take(slot, need);
    int err = load_mem(&m2, ar, need, save_a, len);
    if (err != TTR_OK)
        fprintf(stderr, "reload: %s\n", ttr_strerror(err));
    FUZZ_CHECK(err == TTR_OK && m2 != NULL);
    FUZZ_CHECK(ttr_model_mode(m2) == mode && same_config(ttr_model_config(m2), c));
    size_t len2 = save_mem(m2, with_state, save_b, sizeof save_b);
    FUZZ_CHECK(len2 == len && memcmp(save_a, save_b, len) == 0);
    if (n_items) {
        int e1 = ttr_score((ttr_model *)m, n_items, xin, c->n_features, out_a);
        int e2 = ttr_score(m2, n_items, xin, c->n_features, out_b);
        FUZZ_CHECK(e1 == e2);
        if (e1 == TTR_OK)
            FUZZ_CHECK(memcmp(out_a, out_b, n_items * sizeof(float)) == 0);
    }
    return m2;
}

/* Read-outs and one training step of a train-mode model. */
static void exercise_train(ttr_model *m, size_t n_items)
{
    const ttr_config *c = ttr_model_config(m);
    uint32_t P = c->rows * c->cols;
    static float buf[FUZZ_MAX_SLOTS * 64];
    float pi[TTR_MAX_COMPONENTS], gain[TTR_MAX_COMPONENTS], bref[64];
    int err;
    for (uint32_t k = 0; k < (c->variant == TTR_MIXEM ? c->components : 1); k++) {
        err = ttr_bias_curve(m, k, c->n_contexts ? c->n_contexts - 1 : 0, buf);
        FUZZ_CHECK(err == TTR_OK || err == TTR_ERR_UNSUPPORTED);
    }
    err = ttr_mixem_params(m, pi, gain);
    FUZZ_CHECK(err == (c->variant == TTR_MIXEM ? TTR_OK : TTR_ERR_UNSUPPORTED));
    err = ttr_dot_reference(m, bref, 0, buf);
    FUZZ_CHECK(err == TTR_OK || err == TTR_ERR_UNSUPPORTED);
    if ((size_t)P * P <= sizeof buf / sizeof buf[0]) {
        err = ttr_xpa_attention(m, buf);
        FUZZ_CHECK(err == TTR_OK || err == TTR_ERR_UNSUPPORTED);
    }
    if (n_items == 0)
        return;

    /* one list of up to max_items items in distinct slots */
    size_t n = n_items < c->max_items ? n_items : c->max_items;
    if (n > P)
        n = P;
    size_t offsets[2] = {0, n};
    uint16_t slots[8];
    uint8_t clicks[8];
    uint32_t ctx = c->n_contexts ? c->n_contexts - 1 : 0;
    for (size_t i = 0; i < n; i++) {
        slots[i] = (uint16_t)(P - 1 - i);
        clicks[i] = (uint8_t)(i % 2 == 0);
    }
    ttr_batch b = {1, offsets, xin, c->n_features, slots, clicks, c->n_contexts ? &ctx : NULL};
    double loss;
    err = ttr_eval_loss(m, &b, &loss);
    FUZZ_CHECK(err == TTR_OK || err == TTR_ERR_NONFINITE);
    err = ttr_click_probs(m, &b, buf);
    FUZZ_CHECK(err == TTR_OK || err == TTR_ERR_NONFINITE);

    /* a failed step leaves the model (and its optimizer state) unchanged */
    size_t before = save_mem(m, 1, save_c, sizeof save_c);
    ttr_train_stats st;
    err = ttr_train(m, &b, &st);
    FUZZ_CHECK(err == TTR_OK || err == TTR_ERR_NONFINITE);
    if (err != TTR_OK && before) {
        size_t after = save_mem(m, 1, save_b, sizeof save_b);
        FUZZ_CHECK(after == before && memcmp(save_b, save_c, before) == 0);
    }
}

/* Everything after a successful load of model m (arena 0). */
static void exercise(ttr_model *m, uint32_t seed)
{
    const ttr_config *c = ttr_model_config(m);
    ttr_mode mode = ttr_model_mode(m);
    size_t n_items = make_items(c, seed);
    int err = ttr_score(m, n_items, xin, c->n_features, out_a);
    FUZZ_CHECK(err == TTR_OK || err == TTR_ERR_NONFINITE);

    /* saved again, it loads again (as a checkpoint for train models) */
    if (reload_check(m, 1, &arenas[1], n_items))
        arena_release(&arenas[1]);

    if (mode == TTR_MODE_TRAIN) {
        exercise_train(m, n_items);
        size_t need = ttr_arena_bytes(c, TTR_MODE_SERVE_F32);
        ttr_model *s = NULL;
        FUZZ_CHECK(need > 0 && need <= FUZZ_ARENA_CAP);
        err = ttr_model_to_serving(m, &s, arena_take(&arenas[1], need), need);
        /* NONFINITE: folding the normalisation overflows float */
        FUZZ_CHECK(err == TTR_OK ? s != NULL : err == TTR_ERR_NONFINITE && s == NULL);
        if (err == TTR_OK) {
            err = ttr_score(s, n_items, xin, c->n_features, out_a);
            FUZZ_CHECK(err == TTR_OK || err == TTR_ERR_NONFINITE);
            if (reload_check(s, 0, &arenas[2], n_items))
                arena_release(&arenas[2]);
        }
        arena_release(&arenas[1]);
    }
    if (mode != TTR_MODE_SERVE_S8) {
        size_t need = ttr_arena_bytes(c, TTR_MODE_SERVE_S8);
        ttr_model *q = NULL;
        FUZZ_CHECK(need > 0 && need <= FUZZ_ARENA_CAP);
        void *ar = arena_take(&arenas[1], need);
        FUZZ_CHECK(ttr_model_quantize(m, &q, ar, need - 1) == TTR_ERR_NOMEM);
        err = ttr_model_quantize(m, &q, ar, need);
        FUZZ_CHECK(err == TTR_OK ? q != NULL : err == TTR_ERR_NONFINITE && q == NULL);
        if (err == TTR_OK) {
            err = ttr_score(q, n_items, xin, c->n_features, out_a);
            FUZZ_CHECK(err == TTR_OK || err == TTR_ERR_NONFINITE);
            if (reload_check(q, 0, &arenas[2], n_items))
                arena_release(&arenas[2]);
        }
        arena_release(&arenas[1]);
    }
}

/* ttr_model_check agrees with the load's outcome `err` (and config). */
static void check_agrees(const uint8_t *data, size_t size, int err, const ttr_config *cfg,
                         ttr_mode mode)
{
    ttr_config c;
    ttr_mode md;
    ttr_mem_reader r = {data, size, 0};
    int kerr = ttr_model_check(ttr_mem_read, &r, &c, &md);
    FUZZ_CHECK(kerr <= 0);
    if (err == TTR_OK)
        FUZZ_CHECK(kerr == TTR_OK && same_config(&c, cfg) && md == mode);
    if (kerr != TTR_OK)
        FUZZ_CHECK(err != TTR_OK);
}

/* Load one stream; returns the load's code. */
static int try_load(const uint8_t *data, size_t size)
{
    ttr_config cfg;
    ttr_mode mode;
    ttr_mem_reader r = {data, size, 0};
    int cerr = ttr_model_load_config(ttr_mem_read, &r, &cfg, &mode);
    FUZZ_CHECK(cerr <= 0);
    if (cerr != TTR_OK) {
        /* the header alone is bad: a load must fail the same way */
        ttr_model *m = NULL;
        void *ar = arena_take(&arenas[0], 4096);
        int err = load_mem(&m, ar, 4096, data, size);
        arena_release(&arenas[0]);
        FUZZ_CHECK(err == cerr && m == NULL);
        return err;
    }
    FUZZ_CHECK(ttr_config_check(&cfg, NULL) == TTR_OK);
    size_t need = ttr_arena_bytes(&cfg, mode);
    FUZZ_CHECK(need > 0);
    ttr_model *m = NULL;
    if (need > FUZZ_ARENA_CAP) {
        void *ar = arena_take(&arenas[0], FUZZ_ARENA_CAP);
        int err = load_mem(&m, ar, FUZZ_ARENA_CAP, data, size);
        arena_release(&arenas[0]);
        FUZZ_CHECK(err == TTR_ERR_NOMEM && m == NULL);
        return err;
    }
    void *ar = arena_take(&arenas[0], need);
    int err = load_mem(&m, ar, need - 1, data, size);
    FUZZ_CHECK(err == TTR_ERR_NOMEM && m == NULL);
    err = load_mem(&m, ar, need, data, size);
    FUZZ_CHECK(err <= 0);
    check_agrees(data, size, err, &cfg, mode);
    if (err == TTR_OK) {
        FUZZ_CHECK(m != NULL && ttr_model_mode(m) == mode);
        FUZZ_CHECK(same_config(ttr_model_config(m), &cfg));
        exercise(m, ttr_crc32(0, data, size < 64 ? size : 64));
    } else {
        FUZZ_CHECK(m == NULL);
    }
    arena_release(&arenas[0]);
    return err;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int err = try_load(data, size);
#ifdef FUZZ_DEBUG
    fprintf(stderr, "load: %d %s\n", err, ttr_strerror(err));
#endif
    /* a CRC mismatch hides everything behind it: also try with a fixed CRC */
    if (err == TTR_ERR_FORMAT && size >= 168 && size <= sizeof patched) {
        uint32_t crc = ttr_crc32(0, data, size - 4);
        memcpy(patched, data, size - 4);
        for (int i = 0; i < 4; i++)
            patched[size - 4 + (size_t)i] = (unsigned char)(crc >> (8 * i));
        if (memcmp(patched + size - 4, data + size - 4, 4) != 0)
            try_load(patched, size);
    }
    return 0;
}
