/* Learning-rate schedules and decoupled weight decay: ttr_lr_at against its
 * formula, the rate and the decay actually used by a training step, the
 * configuration checks, and the version-3 file block that keeps them. */
#include <criterion/criterion.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "testutil.h"
#include "ttr_io.h"

static ttr_config base_config(void)
{
    ttr_config c;
    ttr_config_default(&c, TTR_NAIVE, 3);
    c.n_hidden = 1;
    c.hidden[0] = 4;
    c.max_items = 4;
    c.max_batch = 2;
    c.optimizer = TTR_OPT_SGD;
    c.momentum = 0.0f;
    c.lr = 0.01f;
    c.l2 = 0.0f;
    c.weight_decay = 0.0f;
    c.clip_norm = 0.0f;
    c.slot_dropout = 0.0f;
    c.lr_schedule = TTR_LR_CONSTANT;
    c.warmup_steps = 0;
    c.decay_steps = 0;
    return c;
}


/* ttr_config_check's message: the field's name, then what it must be. */
static void assert_names(const char *bad, const char *field)
{
    size_t n = strlen(field);
    cr_assert(bad && !strncmp(bad, field, n) && bad[n] == ' ' && strstr(bad, " must "),
              "'%s' does not name %s and its rule", bad ? bad : "(null)", field);
}

Test(schedule, lr_at_follows_the_formula)
{
    ttr_config c = base_config();
    c.lr = 0.5f;
    cr_assert_eq(ttr_lr_at(&c, 1), 0.5f);
    cr_assert_eq(ttr_lr_at(&c, 1000000), 0.5f);
    cr_assert_eq(ttr_lr_at(NULL, 3), 0.0f);
    c.warmup_steps = 4;
    cr_assert_eq(ttr_lr_at(&c, 0), 0.125f); /* step 0 counts as 1 */
    cr_assert_eq(ttr_lr_at(&c, 1), 0.125f);
    cr_assert_eq(ttr_lr_at(&c, 3), 0.375f);
    cr_assert_eq(ttr_lr_at(&c, 4), 0.5f);
    cr_assert_eq(ttr_lr_at(&c, 9), 0.5f);
    c.lr_schedule = TTR_LR_COSINE;
    c.decay_steps = 104;
    cr_assert_eq(ttr_lr_at(&c, 4), 0.5f);
    for (uint64_t t = 4; t <= 110; t++) {
        double p = t >= 104 ? 1.0 : (double)(t - 4) / 100.0;
        double want = 0.25 * (1.0 + cos(3.14159265358979323846 * p));
        cr_assert(fabs(ttr_lr_at(&c, t) - want) <= 1e-7, "cosine step %u: %g vs %g",
                  (unsigned)t, ttr_lr_at(&c, t), want);
    }
    cr_assert_eq(ttr_lr_at(&c, 104), 0.0f);
    c.lr_schedule = TTR_LR_LINEAR;
    cr_assert_eq(ttr_lr_at(&c, 29), 0.375f);
    cr_assert_eq(ttr_lr_at(&c, 54), 0.25f);
    cr_assert_eq(ttr_lr_at(&c, 104), 0.0f);
    cr_assert_eq(ttr_lr_at(&c, 500), 0.0f);
}

Test(schedule, config_checks)
{
    ttr_config c = base_config();
    const char *bad = NULL;
    cr_assert_eq(ttr_config_check(&c, &bad), TTR_OK);
    c.lr_schedule = TTR_LR_COSINE;
    c.warmup_steps = 10;
    c.decay_steps = 10;
    cr_assert_eq(ttr_config_check(&c, &bad), TTR_ERR_ARG);
    assert_names(bad, "decay_steps");
    c.decay_steps = 11;
    cr_assert_eq(ttr_config_check(&c, &bad), TTR_OK);
    c.lr_schedule = (ttr_lr_schedule)3;
    cr_assert_eq(ttr_config_check(&c, &bad), TTR_ERR_ARG);
    assert_names(bad, "lr_schedule");
    c = base_config();
    c.lr = 0.5f;
    c.weight_decay = 2.0f; /* lr * wd = 1: the weights may go to 0, not past it */
    cr_assert_eq(ttr_config_check(&c, &bad), TTR_OK);
    c.weight_decay = 2.5f;
    cr_assert_eq(ttr_config_check(&c, &bad), TTR_ERR_ARG);
    assert_names(bad, "weight_decay");
    c.weight_decay = -1e-3f;
    cr_assert_eq(ttr_config_check(&c, &bad), TTR_ERR_ARG);
    c.weight_decay = NAN;
    cr_assert_eq(ttr_config_check(&c, &bad), TTR_ERR_ARG);
}

typedef struct tiny {
    void *arena;
    ttr_model *m;
} tiny;

static tiny tiny_make(const ttr_config *c)
{
    tiny t;
    size_t bytes = ttr_arena_bytes(c, TTR_MODE_TRAIN);
    cr_assert(bytes > 0);
    t.arena = malloc(bytes);
    cr_assert_eq(ttr_model_init(&t.m, c, TTR_MODE_TRAIN, t.arena, bytes), TTR_OK);
    return t;
}

/* One list of three items, two clicked. */
static void one_step(ttr_model *m)
{
    static const float x[9] = {0.5f, -1.0f, 2.0f, 1.5f, 0.25f, -0.5f, -2.0f, 1.0f, 0.75f};
    static const uint16_t slots[3] = {0, 1, 2};
    static const uint8_t clicks[3] = {1, 0, 1};
    static const size_t off[2] = {0, 3};
    ttr_batch b = {1, off, x, 3, slots, clicks, NULL};
    cr_assert_eq(ttr_train(m, &b, NULL), TTR_OK);
}

/* SGD without momentum: w1 = w0 (1 - lr_t wd) - lr_t g on decay tensors,
 * w0 - lr_t g on biases. The difference to the same step without decay is
 * -lr_t wd w0 on weight matrices and exactly 0 on biases. */
static void check_decay_step(uint32_t warmup, float lr_t)
{
    ttr_config c = base_config();
    c.warmup_steps = warmup;
    tiny plain = tiny_make(&c);
    c.weight_decay = 3.0f;
    tiny dec = tiny_make(&c);
    size_t i, k;
    float *w0[16];
    cr_assert(plain.m->n_tensors <= 16);
    for (i = 0; i < plain.m->n_tensors; i++) {
        const ttr__tensor *t = &plain.m->tensors[i];
        size_t n = (size_t)t->rows * t->cols;
        w0[i] = malloc(n * sizeof(float));
        memcpy(w0[i], t->w, n * sizeof(float));
        cr_assert_eq(memcmp(t->w, dec.m->tensors[i].w, n * sizeof(float)), 0);
    }
    one_step(plain.m);
    one_step(dec.m);
    int decayed = 0, kept = 0;
    for (i = 0; i < plain.m->n_tensors; i++) {
        const ttr__tensor *tp = &plain.m->tensors[i], *td = &dec.m->tensors[i];
        size_t n = (size_t)tp->rows * tp->cols;
        for (k = 0; k < n; k++) {
            double want = tp->decay ? -(double)lr_t * 3.0 * w0[i][k] : 0.0;
            double got = (double)td->w[k] - tp->w[k];
            cr_assert(fabs(got - want) <= 2e-7 * (fabs(w0[i][k]) + 1.0),
                      "%s[%u]: %g vs %g", tp->name, (unsigned)k, got, want);
        }
        decayed += tp->decay;
        kept += !tp->decay;
        free(w0[i]);
    }
    cr_assert(decayed > 0 && kept > 0);
    free(plain.arena);
    free(dec.arena);
}

Test(schedule, decoupled_weight_decay_on_weights_only)
{
    check_decay_step(0, 0.01f);
}

Test(schedule, decay_uses_the_warmed_up_rate)
{
    check_decay_step(4, 0.0025f);
}

/* A warm-up of 4 steps makes step 1 the same as a constant lr / 4, to the
 * bit, for Adam and for SGD; a cosine schedule's step 1 uses lr itself. */
Test(schedule, training_steps_use_the_scheduled_rate)
{
    for (int opt = 0; opt < 2; opt++) {
        ttr_config c = base_config();
        c.optimizer = opt ? TTR_OPT_ADAM : TTR_OPT_SGD;
        c.lr = 0.01f;
        c.warmup_steps = 4;
        tiny warm = tiny_make(&c);
        c.warmup_steps = 0;
        c.lr = 0.0025f;
        tiny quarter = tiny_make(&c);
        c.lr = 0.01f;
        tiny full = tiny_make(&c);
        one_step(warm.m);
        one_step(quarter.m);
        one_step(full.m);
        int differs = 0;
        for (uint32_t i = 0; i < warm.m->n_tensors; i++) {
            const ttr__tensor *a = &warm.m->tensors[i], *b = &quarter.m->tensors[i];
            size_t n = (size_t)a->rows * a->cols;
            cr_assert_eq(memcmp(a->w, b->w, n * sizeof(float)), 0, "%s", a->name);
            differs |= memcmp(a->w, full.m->tensors[i].w, n * sizeof(float)) != 0;
        }
        cr_assert(differs);
        free(warm.arena);
        free(quarter.arena);
        free(full.arena);
    }
}

static uint32_t rd32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* Rewrite the CRC after an edit, so that the edit itself is what is refused. */
static void fix_crc(unsigned char *d, size_t size)
{
    put32(d + size - 4, ttr_crc32(0, d, size - 4));
}

Test(schedule, file_keeps_the_schedule)
{
    ttr_config c = base_config();
    size_t size;
    tiny t = tiny_make(&c);
    unsigned char *d = tu_save_mem(t.m, 1, &size);
    cr_assert_eq(rd32(d + 4), 1u, "no schedule: still version 1");
    free(d);
    free(t.arena);

    c.lr_schedule = TTR_LR_COSINE;
    c.warmup_steps = 7;
    c.decay_steps = 5000000000ull;
    c.weight_decay = 0.125f;
    t = tiny_make(&c);
    one_step(t.m);
    d = tu_save_mem(t.m, 1, &size);
    cr_assert_eq(rd32(d + 4), 4u); /* trained: the metadata of version 4, with the schedule */
    size_t bytes = tu_arena_for(d, size);
    void *arena = tu_alloc(bytes, 0);
    ttr_mem_reader r = {d, size, 0};
    ttr_model *m = NULL;
    cr_assert_eq(ttr_model_load(&m, arena, bytes, ttr_mem_read, &r), TTR_OK);
    const ttr_config *lc = ttr_model_config(m);
    cr_assert_eq(lc->lr_schedule, TTR_LR_COSINE);
    cr_assert_eq(lc->warmup_steps, 7u);
    cr_assert_eq(lc->decay_steps, 5000000000ull);
    cr_assert_eq(lc->weight_decay, 0.125f);
    /* and the model goes on training on the same schedule, bit for bit */
    one_step(m);
    one_step(t.m);
    for (uint32_t i = 0; i < m->n_tensors; i++) {
        size_t n = (size_t)m->tensors[i].rows * m->tensors[i].cols;
        cr_assert_eq(memcmp(m->tensors[i].w, t.m->tensors[i].w, n * sizeof(float)), 0);
    }
    tu_free(arena);

    /* a warm-up that reaches past the decay and an unknown schedule are refused */
    unsigned char *e = malloc(size);
    memcpy(e, d, size);
    put32(e + 136 + 8, 0);
    put32(e + 136 + 12, 2); /* warm-up 2^33 > decay_steps 5e9 */
    fix_crc(e, size);
    arena = tu_alloc(bytes, 0);
    cr_assert_eq(tu_try_load(e, size, arena, bytes), TTR_ERR_RANGE);
    memcpy(e, d, size);
    put32(e + 136, 3);
    fix_crc(e, size);
    cr_assert_eq(tu_try_load(e, size, arena, bytes), TTR_ERR_RANGE);
    /* a serving mode with a version-3 block is not a file this library writes */
    memcpy(e, d, size);
    put32(e + 8, TTR_MODE_SERVE_F32);
    put32(e + 12, 2); /* folded, as serve-f32 files are */
    fix_crc(e, size);
    cr_assert_eq(tu_try_load(e, size, arena, bytes), TTR_ERR_FORMAT);
    tu_free(arena);
    free(e);
    free(d);
    free(t.arena);
}

Test(schedule, set_steps_gives_the_default_cosine)
{
    ttr_config c = base_config();
    c.warmup_steps = 9;
    cr_assert_eq(ttr_config_set_steps(&c, 400), TTR_OK);
    cr_assert_eq(c.lr_schedule, TTR_LR_COSINE);
    cr_assert_eq(c.warmup_steps, 0u);
    cr_assert_eq(c.decay_steps, 400u);
    cr_assert_eq(ttr_config_check(&c, NULL), TTR_OK);
    cr_assert_eq(ttr_lr_at(&c, 200), 0.5f * c.lr);
    cr_assert_eq(ttr_config_set_steps(&c, 0), TTR_OK);
    cr_assert_eq(c.lr_schedule, TTR_LR_CONSTANT);
    cr_assert_eq(c.decay_steps, 0u);
    cr_assert_eq(ttr_lr_at(&c, 200), c.lr);
    cr_assert_eq(ttr_config_set_steps(NULL, 5), TTR_ERR_ARG);
}

/* Tests and callers compare configurations with memcmp: no padding bytes
 * on any target (the 8-byte fields sit where 8-byte alignment puts them). */
#define FS(f) sizeof(((ttr_config *)0)->f)
Test(schedule, config_has_no_padding)
{
    size_t sum = FS(variant) + FS(n_features) + FS(n_hidden) + FS(hidden) + FS(rows) +
                 FS(cols) + FS(n_contexts) + FS(embed_dim) + FS(bias_hidden) + FS(dot_dim) +
                 FS(components) + FS(attn_dim) + FS(max_items) + FS(max_batch) + FS(loss) +
                 FS(optimizer) + FS(lr) + FS(beta1) + FS(beta2) + FS(adam_eps) + FS(momentum) +
                 FS(l2) + FS(weight_decay) + FS(warmup_steps) + FS(decay_steps) +
                 FS(lr_schedule) + FS(clip_norm) + FS(slot_dropout) + FS(dot_serving) + FS(seed);
    cr_assert_eq(sizeof(ttr_config), sum);
}

/* ttr_set_learning_rate: a model that has taken steps gets a new rate and
 * schedule, its next step uses it (the same bits as a model built with that
 * configuration and the same history), the file keeps it; refusals leave the
 * model as it was. ttr_model_steps counts the steps taken. */
Test(schedule, set_learning_rate_on_a_trained_model)
{
    ttr_config c = base_config();
    tiny a = tiny_make(&c), b;
    cr_assert_eq(ttr_model_steps(a.m), 0);
    one_step(a.m);
    one_step(a.m);
    cr_assert_eq(ttr_model_steps(a.m), 2);
    /* decay over the next 10 steps, from 0.05 */
    cr_assert_eq(ttr_set_learning_rate(a.m, 0.05f, TTR_LR_LINEAR, 2, 12), TTR_OK);
    const ttr_config *got = ttr_model_config(a.m);
    cr_assert(got->lr == 0.05f && got->lr_schedule == TTR_LR_LINEAR && got->warmup_steps == 2 &&
              got->decay_steps == 12);
    cr_assert_float_eq(ttr_lr_at(got, 3), 0.05f * 0.9f, 1e-7);

    /* the same history under the other configuration from the start */
    ttr_config c2 = c;
    c2.lr = 0.05f;
    c2.lr_schedule = TTR_LR_LINEAR;
    c2.warmup_steps = 2;
    c2.decay_steps = 12;
    b = tiny_make(&c);
    one_step(b.m);
    one_step(b.m);
    b.m->cfg = c2; /* what the setter is meant to do, done by hand */
    one_step(a.m);
    one_step(b.m);
    for (uint32_t i = 0; i < a.m->n_tensors; i++) {
        size_t n = (size_t)a.m->tensors[i].rows * a.m->tensors[i].cols;
        cr_assert_eq(memcmp(a.m->tensors[i].w, b.m->tensors[i].w, n * sizeof(float)), 0);
    }
    size_t size;
    unsigned char *d = tu_save_mem(a.m, 1, &size);
    ttr_config fc;
    ttr_mode fm;
    ttr_mem_reader r = {d, size, 0};
    cr_assert_eq(ttr_model_check(ttr_mem_read, &r, &fc, &fm), TTR_OK);
    cr_assert(fc.lr == 0.05f && fc.lr_schedule == TTR_LR_LINEAR && fc.decay_steps == 12);
    free(d);

    /* refused: the model keeps its configuration */
    ttr_config before = *ttr_model_config(a.m);
    cr_assert_eq(ttr_set_learning_rate(a.m, 0.0f, TTR_LR_CONSTANT, 0, 0), TTR_ERR_ARG);
    cr_assert_eq(ttr_set_learning_rate(a.m, 0.1f, TTR_LR_COSINE, 5, 5), TTR_ERR_ARG);
    cr_assert_eq(ttr_set_learning_rate(a.m, NAN, TTR_LR_CONSTANT, 0, 0), TTR_ERR_ARG);
    cr_assert_eq(ttr_set_learning_rate(a.m, 0.1f, (ttr_lr_schedule)7, 0, 10), TTR_ERR_ARG);
    cr_assert_eq(ttr_set_learning_rate(NULL, 0.1f, TTR_LR_CONSTANT, 0, 0), TTR_ERR_ARG);
    cr_assert(!memcmp(&before, ttr_model_config(a.m), sizeof before));
    cr_assert_eq(ttr_model_steps(a.m), 3);

    size_t sb = ttr_arena_bytes(&c, TTR_MODE_SERVE_F32);
    void *sa = malloc(sb);
    ttr_model *s;
    cr_assert_eq(ttr_model_to_serving(a.m, &s, sa, sb), TTR_OK);
    cr_assert_eq(ttr_set_learning_rate(s, 0.1f, TTR_LR_CONSTANT, 0, 0), TTR_ERR_UNSUPPORTED);
    cr_assert_eq(ttr_model_steps(s), 0);
    free(sa);
    free(a.arena);
    free(b.arena);
}
