/* ttr_config: the documented defaults, and every range ttr_config_check
 * enforces, at and just past each end (a mutation run found range checks
 * that no test touched). */
#include <criterion/criterion.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "ttrank.h"

Test(config, defaults_are_the_documented_ones)
{
    ttr_config c;
    ttr_config_default(&c, TTR_DOT, 46);
    cr_assert_eq(c.n_features, 46);
    cr_assert(c.n_hidden == 2 && c.hidden[0] == 32 && c.hidden[1] == 16);
    cr_assert(c.rows == 10 && c.cols == 1 && c.n_contexts == 0);
    cr_assert(c.embed_dim == 8 && c.bias_hidden == 8 && c.dot_dim == 4 && c.components == 2);
    cr_assert(c.attn_dim == 8 && c.max_items == 10 && c.max_batch == 256);
    cr_assert(c.loss == TTR_LOSS_BCE && c.optimizer == TTR_OPT_ADAM);
    cr_assert(c.lr == 3e-3f && c.beta1 == 0.9f && c.beta2 == 0.999f && c.adam_eps == 1e-8f);
    cr_assert(c.momentum == 0.9f && c.l2 == 0.0f && c.weight_decay == 1e-3f);
    cr_assert(c.warmup_steps == 0 && c.decay_steps == 0 && c.lr_schedule == TTR_LR_CONSTANT);
    cr_assert(c.clip_norm == 0.0f && c.slot_dropout == 0.1f && c.dot_serving == TTR_DOT_REF_MEAN);
    cr_assert_eq(ttr_config_check(&c, NULL), TTR_OK);
}

/* An unsigned field: lo and hi pass, lo - 1 (when lo > 0) and hi + 1 fail,
 * naming the field; checked on the variant that uses it. */
typedef struct u32_range {
    const char *name;
    size_t offset;
    uint32_t lo, hi;
    ttr_variant variant;
} u32_range;

#define U32(f, lo, hi, v) {#f, offsetof(ttr_config, f), lo, hi, v}
static const u32_range g_u32[] = {
    U32(n_features, 1, 65536, TTR_NAIVE),   U32(n_hidden, 0, TTR_MAX_HIDDEN, TTR_NAIVE),
    U32(n_contexts, 0, 65536, TTR_ADDITIVE), U32(embed_dim, 1, 256, TTR_ADDITIVE),
    U32(bias_hidden, 0, 4096, TTR_ADDITIVE), U32(dot_dim, 2, 64, TTR_DOT),
    U32(components, 2, TTR_MAX_COMPONENTS, TTR_MIXEM), U32(attn_dim, 1, 64, TTR_XPA),
    U32(max_items, 1, 1024, TTR_NAIVE),     U32(max_batch, 1, 65536, TTR_NAIVE),
    U32(rows, 1, TTR_MAX_SLOTS, TTR_ADDITIVE),
};

static int check_u32(const u32_range *r, uint32_t v, const char **bad)
{
    ttr_config c;
    ttr_config_default(&c, r->variant, 8);
    if (!strcmp(r->name, "n_hidden"))
        for (int i = 0; i < TTR_MAX_HIDDEN; i++)
            c.hidden[i] = 4; /* valid widths for every count */
    memcpy((char *)&c + r->offset, &v, sizeof v);
    *bad = NULL;
    return ttr_config_check(&c, bad);
}

Test(config, every_integer_range_at_both_ends)
{
    for (size_t i = 0; i < sizeof g_u32 / sizeof g_u32[0]; i++) {
        const u32_range *r = &g_u32[i];
        const char *bad;
        cr_assert_eq(check_u32(r, r->lo, &bad), TTR_OK, "%s = %u: %s", r->name, r->lo, bad);
        cr_assert_eq(check_u32(r, r->hi, &bad), TTR_OK, "%s = %u: %s", r->name, r->hi, bad);
        cr_assert_eq(check_u32(r, r->hi + 1, &bad), TTR_ERR_ARG, "%s = %u passed", r->name,
                     r->hi + 1);
        cr_assert(bad && !strncmp(bad, r->name, strlen(r->name)), "%s: '%s'", r->name, bad);
        if (r->lo > 0)
            cr_assert_eq(check_u32(r, r->lo - 1, &bad), TTR_ERR_ARG, "%s = %u passed", r->name,
                         r->lo - 1);
    }
    /* the grid: rows x cols at most TTR_MAX_SLOTS */
    ttr_config c;
    ttr_config_default(&c, TTR_XPA, 8);
    c.rows = 32;
    c.cols = 32;
    cr_assert_eq(ttr_config_check(&c, NULL), TTR_OK);
    c.cols = 33;
    cr_assert_eq(ttr_config_check(&c, NULL), TTR_ERR_ARG);
    /* each hidden width 1..4096 */
    ttr_config_default(&c, TTR_NAIVE, 8);
    c.hidden[1] = 4096;
    cr_assert_eq(ttr_config_check(&c, NULL), TTR_OK);
    c.hidden[1] = 4097;
    cr_assert_eq(ttr_config_check(&c, NULL), TTR_ERR_ARG);
}

/* A float field: lo and hi pass; just below lo and just above hi (and NaN)
 * fail. */
typedef struct f32_range {
    const char *name;
    size_t offset;
    float lo, hi, below, above;
} f32_range;

#define F32(f, lo, hi, below, above) {#f, offsetof(ttr_config, f), lo, hi, below, above}
static const f32_range g_f32[] = {
    F32(lr, 1e-12f, 1e3f, 5e-13f, 1.5e3f),
    F32(beta1, 0.0f, 0.999999f, -1e-7f, 1.0f),
    F32(beta2, 0.0f, 0.99999994f, -1e-7f, 1.0f),
    F32(adam_eps, 1e-30f, 1.0f, 5e-31f, 1.5f),
    F32(momentum, 0.0f, 0.999999f, -1e-7f, 1.0f),
    F32(l2, 0.0f, 1e3f, -1e-7f, 1.5e3f),
    F32(clip_norm, 0.0f, 3e38f, -1e-7f, 3.3e38f),
    F32(slot_dropout, 0.0f, 0.999f, -1e-7f, 0.9995f),
};

static int check_f32(const f32_range *r, float v)
{
    ttr_config c;
    ttr_config_default(&c, TTR_ADDITIVE, 8);
    c.weight_decay = 0.0f; /* lr x weight_decay is checked apart */
    memcpy((char *)&c + r->offset, &v, sizeof v);
    return ttr_config_check(&c, NULL);
}

Test(config, every_float_range_at_both_ends)
{
    for (size_t i = 0; i < sizeof g_f32 / sizeof g_f32[0]; i++) {
        const f32_range *r = &g_f32[i];
        cr_assert_eq(check_f32(r, r->lo), TTR_OK, "%s = %g", r->name, (double)r->lo);
        cr_assert_eq(check_f32(r, r->hi), TTR_OK, "%s = %g", r->name, (double)r->hi);
        cr_assert_eq(check_f32(r, r->below), TTR_ERR_ARG, "%s = %g passed", r->name,
                     (double)r->below);
        cr_assert_eq(check_f32(r, r->above), TTR_ERR_ARG, "%s = %g passed", r->name,
                     (double)r->above);
        cr_assert_eq(check_f32(r, NAN), TTR_ERR_ARG, "%s = NaN passed", r->name);
    }
    /* weight decay: 0..1000 (at lr 2^-11 the product stays below 1), and
     * lr x weight_decay <= 1 */
    ttr_config c;
    ttr_config_default(&c, TTR_ADDITIVE, 8);
    c.lr = 0x1p-11f;
    c.weight_decay = 1e3f;
    cr_assert_eq(ttr_config_check(&c, NULL), TTR_OK);
    c.weight_decay = 1.5e3f;
    cr_assert_eq(ttr_config_check(&c, NULL), TTR_ERR_ARG);
    c.weight_decay = -1e-7f;
    cr_assert_eq(ttr_config_check(&c, NULL), TTR_ERR_ARG);
    c.lr = 0.5f;
    c.weight_decay = 2.0f;
    cr_assert_eq(ttr_config_check(&c, NULL), TTR_OK);
    c.weight_decay = 2.5f;
    cr_assert_eq(ttr_config_check(&c, NULL), TTR_ERR_ARG);
}
