/* ONNX import (include/ttr_onnx.h). The fixtures in tests/fixtures/interop/
 * were written by PyTorch's exporter (scripts/fixtures/make_fixtures.py);
 * MANIFEST lists them with their shapes and, for the bad ones, a word the
 * error must contain; NAME.out holds PyTorch's float32 scores of NAME.in.
 * Constructs the exporter does not write (Gemm with transB 0 and alpha,
 * unpacked float_data, external data, ...) are built here, field by field. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "ttr_onnx.h"
#include "ttr_safetensors.h"

#define DIR "tests/fixtures/interop/"

typedef struct entry {
    char file[64], kind[16], widths[64], word[32];
    unsigned F, sigmoid;
    int opset;
} entry;

static int manifest(entry *e, int cap)
{
    FILE *f = fopen(DIR "MANIFEST", "r");
    cr_assert_not_null(f, "run the tests from the repository's root");
    char line[256], op[16];
    int n = 0;
    while (fgets(line, sizeof line, f) && n < cap) {
        if (line[0] == '#')
            continue;
        entry *x = &e[n];
        memset(x, 0, sizeof *x);
        int k = sscanf(line, "%63s %15s %u %63s %u %15s %31s", x->file, x->kind, &x->F, x->widths,
                       &x->sigmoid, op, x->word);
        cr_assert_geq(k, 6, "MANIFEST: %s", line);
        x->opset = atoi(op);
        n++;
    }
    fclose(f);
    return n;
}

/* rows of floats, one per line */
static int read_rows(const char *path, float *v, int cap)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    int n = 0;
    while (n < cap && fscanf(f, "%f", &v[n]) == 1)
        n++;
    fclose(f);
    return n;
}

typedef struct opened {
    unsigned char *file;
    void *scratch;
    ttr_onnx *o;
    int err;
} opened;

static opened open_fixture(const char *name)
{
    char path[128];
    size_t n;
    opened r = {0};
    snprintf(path, sizeof path, DIR "%s", name);
    r.file = tu_read_file(path, &n);
    cr_assert_not_null(r.file, "%s", path);
    r.scratch = malloc(TTR_ONNX_SCRATCH);
    r.err = ttr_onnx_open(&r.o, r.file, n, r.scratch, TTR_ONNX_SCRATCH);
    return r;
}

static void close_fixture(opened *r)
{
    free(r->file), free(r->scratch);
}

/* The model's scores of NAME.in against NAME.out (PyTorch), within 1e-5. */
static void scores_match(ttr_model *m, const char *name, unsigned F)
{
    char path[128];
    float x[64 * 64], ref[64], got[64];
    size_t stem = strcspn(name, ".");
    snprintf(path, sizeof path, DIR "%.*s.in", (int)stem, name);
    int nx = read_rows(path, x, 64 * 64);
    snprintf(path, sizeof path, DIR "%.*s.out", (int)stem, name);
    int rows = read_rows(path, ref, 64);
    cr_assert(rows > 0 && nx == rows * (int)F, "%s: %d values for %d rows of %u", name, nx, rows,
              F);
    cr_assert_eq(ttr_score(m, (size_t)rows, x, F, got), TTR_OK);
    for (int i = 0; i < rows; i++)
        cr_assert(fabsf(got[i] - ref[i]) <= 1e-5f * fmaxf(1.0f, fabsf(ref[i])),
                  "%s row %d: ttrank %.9g, PyTorch %.9g", name, i, got[i], ref[i]);
}

static void check_shape(const ttr_onnx_tower *t, const entry *e)
{
    char w[64];
    int n = 0;
    for (uint32_t l = 0; l < t->n_hidden; l++)
        n += snprintf(w + n, sizeof w - (size_t)n, "%u,", (unsigned)t->hidden[l]);
    snprintf(w + n, sizeof w - (size_t)n, "%u", (unsigned)t->n_out);
    cr_assert_str_eq(w, e->widths, "%s", e->file);
    cr_assert_eq(t->n_features, e->F, "%s", e->file);
    cr_assert_eq(t->sigmoid_dropped, (int)e->sigmoid, "%s", e->file);
    cr_assert_eq(t->opset, e->opset, "%s", e->file);
}

Test(onnx, exported_towers_score_as_pytorch)
{
    static const ttr_variant variants[] = {TTR_NAIVE, TTR_ADDITIVE, TTR_PAL, TTR_MIXEM, TTR_XPA};
    entry e[64];
    int n = manifest(e, 64), checked = 0;
    for (int i = 0; i < n; i++) {
        if (strcmp(e[i].kind, "onnx-ok"))
            continue;
        opened r = open_fixture(e[i].file);
        cr_assert_eq(r.err, TTR_OK, "%s: %s", e[i].file, ttr_onnx_error(r.o));
        cr_assert_str_eq(ttr_onnx_error(r.o), "");
        ttr_onnx_tower t;
        cr_assert_eq(ttr_onnx_tower_info(r.o, &t), TTR_OK);
        check_shape(&t, &e[i]);
        for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
            ttr_config c;
            ttr_model *m;
            cr_assert_eq(ttr_onnx_config(r.o, variants[v], &c), TTR_OK);
            size_t bytes = ttr_arena_bytes(&c, TTR_MODE_TRAIN);
            void *arena = malloc(bytes);
            cr_assert_eq(ttr_onnx_load(&m, &c, arena, bytes, r.o), TTR_OK, "%s", e[i].file);
            scores_match(m, e[i].file, e[i].F);
            free(arena);
        }
        close_fixture(&r);
        checked++;
    }
    cr_assert_geq(checked, 9);
}

Test(onnx, refused_files_name_what_is_wrong)
{
    entry e[64];
    int n = manifest(e, 64), checked = 0;
    for (int i = 0; i < n; i++) {
        if (strcmp(e[i].kind, "onnx-bad"))
            continue;
        opened r = open_fixture(e[i].file);
        ttr_config c;
        if (r.err == TTR_OK) { /* a tower, but not one a variant has: the last layer's width */
            cr_assert_eq(ttr_onnx_config(r.o, TTR_ADDITIVE, &c), TTR_ERR_UNSUPPORTED, "%s",
                         e[i].file);
            cr_assert_str_eq(e[i].word, "output", "%s opened", e[i].file);
        } else {
            cr_assert_not_null(r.o, "%s: no message", e[i].file);
            cr_assert(strstr(ttr_onnx_error(r.o), e[i].word), "%s: '%s' lacks '%s'", e[i].file,
                      ttr_onnx_error(r.o), e[i].word);
            cr_assert_eq(ttr_onnx_config(r.o, TTR_ADDITIVE, &c), r.err);
            cr_assert_eq(ttr_onnx_load(NULL, &c, &c, 1, r.o), TTR_ERR_ARG);
        }
        close_fixture(&r);
        checked++;
    }
    cr_assert_geq(checked, 7);
}

Test(onnx, safetensors_tower_from_the_specification_scores_as_pytorch)
{
    FILE *f = fopen(DIR "tower_rel.safetensors", "rb");
    cr_assert_not_null(f);
    void *scratch = malloc(TTR_SAFETENSORS_SCRATCH);
    ttr_safetensors *s;
    cr_assert_eq(ttr_safetensors_open(&s, ttr_stdio_read, f, scratch, TTR_SAFETENSORS_SCRATCH),
                 TTR_OK);
    ttr_config c;
    cr_assert_eq(ttr_safetensors_config(s, &c), TTR_ERR_FORMAT); /* no ttrank metadata */
    ttr_config_default(&c, TTR_ADDITIVE, 6);
    c.n_hidden = 2, c.hidden[0] = 8, c.hidden[1] = 4;
    size_t bytes = ttr_arena_bytes(&c, TTR_MODE_TRAIN);
    void *arena = malloc(bytes);
    ttr_model *m;
    cr_assert_eq(ttr_safetensors_load(&m, &c, arena, bytes, s), TTR_OK);
    scores_match(m, "tower_rel.safetensors", 6);
    fclose(f);
    free(arena), free(scratch);
}

/* Every prefix and every byte flipped: an error or a tower, never a read
 * outside the file (the buffer ends where the file does: ASan, valgrind). */
Test(onnx, cut_or_flipped_files_fail_cleanly)
{
    size_t n;
    unsigned char *good = tu_read_file(DIR "gemm_op9.onnx", &n);
    cr_assert_not_null(good);
    void *scratch = malloc(TTR_ONNX_SCRATCH);
    int opened_ok = 0;
    for (size_t k = 0; k < 2 * n; k++) {
        size_t len = k < n ? k : n;
        unsigned char *b = malloc(len ? len : 1);
        memcpy(b, good, len);
        if (k >= n)
            b[k - n] ^= 0xff;
        ttr_onnx *o = NULL;
        int err = len ? ttr_onnx_open(&o, b, len, scratch, TTR_ONNX_SCRATCH) : TTR_ERR_ARG;
        if (err == TTR_OK) {
            ttr_config c;
            ttr_model *m;
            if (ttr_onnx_config(o, TTR_ADDITIVE, &c) == TTR_OK &&
                ttr_config_check(&c, NULL) == TTR_OK) {
                size_t bytes = ttr_arena_bytes(&c, TTR_MODE_TRAIN);
                void *arena = malloc(bytes);
                cr_assert_eq(ttr_onnx_load(&m, &c, arena, bytes, o), TTR_OK);
                free(arena);
            }
            opened_ok++;
        } else {
            cr_assert(err < 0);
            cr_assert(err == TTR_ERR_ARG || (o && *ttr_onnx_error(o)), "cut %zu: no message", k);
        }
        free(b);
    }
    cr_assert_lt(opened_ok, (int)n, "most damage must be noticed");
    free(good), free(scratch);
}

/* Found by fuzzing (tests/fuzz/regressions/onnx/empty-value-name.onnx): a
 * graph input with an empty name was looked up among the values with
 * memcmp(NULL, ...), undefined behaviour that UBSan reports (the sanitizer
 * row runs this test). Now it is refused like any graph without a feature
 * input. */
Test(onnx, fuzz_regression_empty_value_name)
{
    size_t n;
    unsigned char *f = tu_read_file("tests/fuzz/regressions/onnx/empty-value-name.onnx", &n);
    cr_assert_not_null(f);
    void *scratch = malloc(TTR_ONNX_SCRATCH);
    ttr_onnx *o = NULL;
    cr_assert_eq(ttr_onnx_open(&o, f, n, scratch, TTR_ONNX_SCRATCH), TTR_ERR_UNSUPPORTED);
    cr_assert(strstr(ttr_onnx_error(o), "no input"), "%s", ttr_onnx_error(o));
    free(f), free(scratch);
}

/* ---- graphs built field by field ----------------------------------------------- */

typedef struct pb {
    unsigned char b[4096];
    size_t n;
} pb;

static void put_varint(pb *p, uint64_t v)
{
    do {
        p->b[p->n++] = (unsigned char)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
}

static void put_int(pb *p, unsigned field, uint64_t v)
{
    put_varint(p, (uint64_t)field << 3);
    put_varint(p, v);
}

static void put_bytes(pb *p, unsigned field, const void *data, size_t n)
{
    put_varint(p, (uint64_t)field << 3 | 2);
    put_varint(p, n);
    memcpy(p->b + p->n, data, n);
    p->n += n;
}

static void put_str(pb *p, unsigned field, const char *s)
{
    put_bytes(p, field, s, strlen(s));
}

static void put_msg(pb *p, unsigned field, const pb *m)
{
    put_bytes(p, field, m->b, m->n);
}

static void put_f32(pb *p, unsigned field, float v)
{
    uint32_t u;
    memcpy(&u, &v, 4);
    put_varint(p, (uint64_t)field << 3 | 5);
    for (int i = 0; i < 4; i++)
        p->b[p->n++] = (unsigned char)(u >> 8 * i);
}

/* A float tensor: raw_data, or float_data one field per value (unpacked). */
static void tensor(pb *t, const char *name, uint64_t d0, uint64_t d1, const float *v, int raw)
{
    memset(t, 0, sizeof *t);
    put_int(t, 1, d0);
    if (d1)
        put_int(t, 1, d1);
    put_int(t, 2, 1);
    put_str(t, 8, name);
    size_t n = d0 * (d1 ? d1 : 1);
    if (raw) {
        unsigned char bytes[1024];
        for (size_t i = 0; i < n; i++) {
            uint32_t u;
            memcpy(&u, &v[i], 4);
            for (int k = 0; k < 4; k++)
                bytes[4 * i + k] = (unsigned char)(u >> 8 * k);
        }
        put_bytes(t, 9, bytes, 4 * n);
    } else {
        for (size_t i = 0; i < n; i++)
            put_f32(t, 4, v[i]);
    }
}

static void node_full(pb *g, const char *name, const char *op, const char *domain,
                      const char *const *in, int n_in, const char *out, const pb *attrs)
{
    pb nd = {{0}, 0};
    for (int i = 0; i < n_in; i++)
        put_str(&nd, 1, in[i]);
    put_str(&nd, 2, out);
    put_str(&nd, 3, name);
    put_str(&nd, 4, op);
    if (domain)
        put_str(&nd, 7, domain);
    if (attrs) {
        memcpy(nd.b + nd.n, attrs->b, attrs->n);
        nd.n += attrs->n;
    }
    put_msg(g, 1, &nd);
}

static void node(pb *g, const char *op, const char *in0, const char *in1, const char *in2,
                 const char *out, const pb *attrs)
{
    const char *in[3] = {in0, in1, in2};
    node_full(g, op, op, NULL, in, in2 ? 3 : in1 ? 2 : 1, out, attrs);
}

static void io(pb *g, unsigned field, const char *name, uint64_t width)
{
    pb dim = {{0}, 0}, shape = {{0}, 0}, tt = {{0}, 0}, type = {{0}, 0}, vi = {{0}, 0};
    put_str(&dim, 2, "batch");
    put_msg(&shape, 1, &dim);
    memset(&dim, 0, sizeof dim);
    put_int(&dim, 1, width);
    put_msg(&shape, 1, &dim);
    put_int(&tt, 1, 1);
    put_msg(&tt, 2, &shape);
    put_msg(&type, 1, &tt);
    put_str(&vi, 1, name);
    put_msg(&vi, 2, &type);
    put_msg(g, field, &vi);
}

static void model(pb *m, const pb *g, int opset)
{
    pb os = {{0}, 0};
    memset(m, 0, sizeof *m);
    put_int(m, 1, 8);
    put_msg(m, 7, g);
    put_int(&os, 2, (uint64_t)opset);
    put_msg(m, 8, &os);
}

static void attr_int(pb *a, const char *name, int64_t v)
{
    pb at = {{0}, 0};
    put_str(&at, 1, name);
    put_int(&at, 3, (uint64_t)v);
    put_int(&at, 20, 2);
    put_msg(a, 5, &at);
}

static void attr_float(pb *a, const char *name, float v)
{
    pb at = {{0}, 0};
    put_str(&at, 1, name);
    put_f32(&at, 2, v);
    put_int(&at, 20, 1);
    put_msg(a, 5, &at);
}

/* x (3) -> Gemm(W [3, 2] as [in, out], transB 0, alpha 2, beta 0.5, float_data
 * unpacked) -> Relu -> Gemm (W [1, 2], raw) -> y; `variant` changes one part:
 * 1 Tanh for Relu, 2 no Relu, 3 a Relu after the last layer, 4 a NaN bias,
 * 5 an input of the wrong width, 6 opset 7. */
static void two_layer(pb *m, int variant)
{
    static const float w0[6] = {1, -2, 0.5f, 3, -1, 0.25f}, b0[2] = {0.5f, -4};
    static const float w1[2] = {1.5f, -0.5f}, b1[1] = {0.125f};
    pb g = {{0}, 0}, t, a = {{0}, 0};
    attr_int(&a, "transB", 0);
    attr_float(&a, "alpha", 2.0f);
    attr_float(&a, "beta", 0.5f);
    node(&g, "Gemm", "x", "W0", "B0", "h0", &a);
    if (variant != 2) /* 2: no Relu between the layers */
        node(&g, variant == 1 ? "Tanh" : "Relu", "h0", NULL, NULL, "r0", NULL);
    memset(&a, 0, sizeof a);
    attr_int(&a, "transB", 1);
    node(&g, "Gemm", variant == 2 ? "h0" : "r0", "W1", "B1", "y", &a);
    if (variant == 3)
        node(&g, "Relu", "y", NULL, NULL, "y2", NULL);
    put_str(&g, 2, "g");
    tensor(&t, "W0", 3, 2, w0, 0);
    put_msg(&g, 5, &t);
    float nan_b0[2] = {b0[0], NAN};
    tensor(&t, "B0", 2, 0, variant == 4 ? nan_b0 : b0, 1);
    put_msg(&g, 5, &t);
    tensor(&t, "W1", 1, 2, w1, 1);
    put_msg(&g, 5, &t);
    tensor(&t, "B1", 1, 0, b1, 0);
    put_msg(&g, 5, &t);
    io(&g, 11, "x", variant == 5 ? 4 : 3);
    io(&g, 12, variant == 3 ? "y2" : "y", 1);
    model(m, &g, variant == 6 ? 7 : 13);
}

static int open_pb(const pb *m, ttr_onnx **o, void *scratch)
{
    return ttr_onnx_open(o, m->b, m->n, scratch, TTR_ONNX_SCRATCH);
}

Test(onnx, gemm_attributes_and_unpacked_float_data)
{
    pb m;
    ttr_onnx *o;
    void *scratch = malloc(TTR_ONNX_SCRATCH);
    two_layer(&m, 0);
    cr_assert_eq(open_pb(&m, &o, scratch), TTR_OK, "%s", ttr_onnx_error(o));
    ttr_config c;
    ttr_model *md;
    cr_assert_eq(ttr_onnx_config(o, TTR_ADDITIVE, &c), TTR_OK);
    cr_assert_eq(c.n_features, 3);
    cr_assert_eq(c.n_hidden, 1);
    cr_assert_eq(c.hidden[0], 2);
    size_t bytes = ttr_arena_bytes(&c, TTR_MODE_TRAIN);
    void *arena = malloc(bytes);
    cr_assert_eq(ttr_onnx_load(&md, &c, arena, bytes, o), TTR_OK);
    /* rel.0.w is [out, in] = 2 * W0', rel.0.b = 0.5 * B0 */
    float w[6], b[2], x[3] = {1.0f, 2.0f, -1.0f}, s;
    cr_assert_eq(ttr_model_tensor_get(md, "rel.0.w", w, 6), TTR_OK);
    cr_assert_eq(ttr_model_tensor_get(md, "rel.0.b", b, 2), TTR_OK);
    static const float want_w[6] = {2, 1, -2, -4, 6, 0.5f};
    for (int i = 0; i < 6; i++)
        cr_assert_eq(w[i], want_w[i], "w[%d] = %g", i, w[i]);
    cr_assert(b[0] == 0.25f && b[1] == -2.0f);
    /* by hand: h = relu(2 x W0 + 0.5 b0), y = W1 h + b1 */
    float h0 = 2 * (1 * 1 + 2 * 0.5f + -1 * -1) + 0.25f; /* 6.25 */
    float h1 = 2 * (1 * -2 + 2 * 3 + -1 * 0.25f) - 2.0f; /* 5.5 */
    float want = 1.5f * h0 - 0.5f * h1 + 0.125f;
    cr_assert_eq(ttr_score(md, 1, x, 3, &s), TTR_OK);
    cr_assert(fabsf(s - want) < 1e-5f, "score %g, want %g", s, want);
    free(arena), free(scratch);
}

Test(onnx, structures_outside_the_form_are_refused)
{
    static const struct {
        int variant, err;
        const char *word;
    } cases[] = {
        {1, TTR_ERR_UNSUPPORTED, "(op Tanh): not supported"},
        {2, TTR_ERR_UNSUPPORTED, "without a Relu"},
        {3, TTR_ERR_UNSUPPORTED, "Relu after the last"},
        {4, TTR_ERR_NONFINITE, "NaN"},
        {5, TTR_ERR_FORMAT, "width"},
        {6, TTR_ERR_UNSUPPORTED, "opset 7"},
    };
    void *scratch = malloc(TTR_ONNX_SCRATCH);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pb m;
        ttr_onnx *o = NULL;
        two_layer(&m, cases[i].variant);
        int err = open_pb(&m, &o, scratch);
        cr_assert_eq(err, cases[i].err, "case %d: %d (%s)", cases[i].variant, err,
                     ttr_onnx_error(o));
        cr_assert(strstr(ttr_onnx_error(o), cases[i].word), "case %d: '%s'", cases[i].variant,
                  ttr_onnx_error(o));
    }
    free(scratch);
}

Test(onnx, arguments_and_scratch)
{
    pb m;
    ttr_onnx *o = NULL;
    unsigned char *scratch = malloc(TTR_ONNX_SCRATCH + 64);
    two_layer(&m, 0);
    cr_assert_eq(ttr_onnx_open(NULL, m.b, m.n, scratch, TTR_ONNX_SCRATCH), TTR_ERR_ARG);
    cr_assert_eq(ttr_onnx_open(&o, NULL, m.n, scratch, TTR_ONNX_SCRATCH), TTR_ERR_ARG);
    cr_assert_eq(ttr_onnx_open(&o, m.b, 0, scratch, TTR_ONNX_SCRATCH), TTR_ERR_ARG);
    cr_assert_eq(ttr_onnx_open(&o, m.b, m.n, scratch, 1024), TTR_ERR_NOMEM);
    cr_assert_null(o);
    cr_assert_str_eq(ttr_onnx_error(NULL), "");
    /* any alignment of the scratch */
    cr_assert_eq(ttr_onnx_open(&o, m.b, m.n, scratch + 3, TTR_ONNX_SCRATCH), TTR_OK);
    ttr_onnx_tower t;
    ttr_config c;
    cr_assert_eq(ttr_onnx_tower_info(o, NULL), TTR_ERR_ARG);
    cr_assert_eq(ttr_onnx_tower_info(o, &t), TTR_OK);
    cr_assert_eq(ttr_onnx_config(o, TTR_DOT, &c), TTR_ERR_UNSUPPORTED); /* one output */
    cr_assert_eq(ttr_onnx_config(o, (ttr_variant)99, &c), TTR_ERR_ARG);
    cr_assert_eq(ttr_onnx_config(o, TTR_ADDITIVE, &c), TTR_OK);
    c.hidden[0] = 3; /* not the tower's */
    size_t bytes = ttr_arena_bytes(&c, TTR_MODE_TRAIN);
    void *arena = malloc(bytes);
    ttr_model *md = NULL;
    cr_assert_eq(ttr_onnx_load(&md, &c, arena, bytes, o), TTR_ERR_FORMAT);
    cr_assert_null(md);
    free(arena), free(scratch);
}

/* An int64 shape as a Constant node's value: int64_data packed, or one field
 * per value (unpacked). */
static void shape_constant(pb *g, const char *out, int64_t a, int64_t b, int packed)
{
    pb t = {{0}, 0}, at = {{0}, 0}, attrs = {{0}, 0}, vals = {{0}, 0};
    put_int(&t, 1, 2);
    put_int(&t, 2, 7);
    if (packed) {
        put_varint(&vals, (uint64_t)a);
        put_varint(&vals, (uint64_t)b);
        put_msg(&t, 7, &vals);
    } else {
        put_int(&t, 7, (uint64_t)a);
        put_int(&t, 7, (uint64_t)b);
    }
    put_str(&at, 1, "value");
    put_msg(&at, 5, &t);
    put_msg(&attrs, 5, &at);
    node(g, "Constant", "", NULL, NULL, out, &attrs); /* no input: node() writes "" */
}

/* x (3) -> [one node given by `variant`] -> Gemm(W [1, 3] with packed dims,
 * transB 1) -> y: the reshapes, attributes and layouts the fixtures lack. */
static void one_layer(pb *m, int variant)
{
    static const float w[3] = {0.5f, -1.0f, 2.0f}, b[2] = {0.25f, 1.0f};
    pb g = {{0}, 0}, t = {{0}, 0}, a = {{0}, 0}, dims = {{0}, 0}, raw = {{0}, 0};
    const char *in0 = "x";
    if (variant <= 1 || variant == 17) { /* Reshape to [-1, 3], [1, -1], unpacked [-1, 3] */
        shape_constant(&g, "S", variant == 1 ? 1 : -1, variant == 1 ? -1 : 3, variant != 17);
        node(&g, "Reshape", "x", "S", NULL, "xr", NULL), in0 = "xr";
    } else if (variant == 2 || variant == 3) {
        attr_int(&a, "axis", variant == 2 ? 0 : -1);
        node(&g, "Flatten", "x", NULL, NULL, "xr", &a), in0 = "xr";
    } else if (variant == 8 || variant == 9) {
        node(&g, variant == 8 ? "Relu" : "Add", "x", variant == 9 ? "B" : NULL, NULL, "xr", NULL);
        in0 = "xr";
    } else if (variant == 12) {
        const char *x = "x";
        node_full(&g, "", "Tanh", NULL, &x, 1, "xr", NULL), in0 = "xr";
    } else if (variant == 13) {
        attr_float(&a, "value_float", 1.0f);
        node(&g, "Constant", "", NULL, NULL, "C", &a);
    } else if (variant == 14) {
        char from[16] = "x", to[16];
        for (int i = 0; i < 65; i++) {
            snprintf(to, sizeof to, "i%d", i);
            node(&g, "Identity", from, NULL, NULL, to, NULL);
            memcpy(from, to, sizeof to);
        }
        in0 = "i64";
    } else if (variant == 19) { /* 64 more initializers: 66 values in all */
        for (int k = 0; k < 64; k++) {
            char name[24];
            snprintf(name, sizeof name, "unused%d", k);
            tensor(&t, name, 1, 0, w, 1);
            put_msg(&g, 5, &t);
        }
        memset(&t, 0, sizeof t);
    } else if (variant == 20) { /* a Constant whose value claims 3 floats and holds 1 */
        pb bad = {{0}, 0}, at = {{0}, 0};
        tensor(&bad, "C", 1, 0, w, 1);
        bad.b[1] = 3; /* dims [1] -> [3]: byte 0 is the key of dims, byte 1 its value */
        put_str(&at, 1, "value");
        put_msg(&at, 5, &bad);
        put_msg(&a, 5, &at);
        node(&g, "Constant", "", NULL, NULL, "C", &a);
    } else if (variant == 16) {
        const char *x = "x";
        node_full(&g, "id", "Identity", "com.microsoft", &x, 1, "xr", NULL), in0 = "xr";
    }
    memset(&a, 0, sizeof a);
    attr_int(&a, "transB", 1);
    attr_int(&a, "transA", variant == 11);
    node(&g, "Gemm", in0, "W", variant == 18 ? "" : "B", "y", &a); /* 18: C omitted */
    if (variant == 7) {
        node(&g, "Sigmoid", "y", NULL, NULL, "p", NULL);
        node(&g, "Relu", "p", NULL, NULL, "q", NULL);
    }
    if (variant != 15) /* W: dims [1, 3] packed (15: [3]), raw data */
        put_varint(&dims, 1);
    put_varint(&dims, 3);
    put_msg(&t, 1, &dims);
    put_int(&t, 2, 1);
    put_str(&t, 8, "W");
    for (int i = 0; i < 3; i++) {
        uint32_t u;
        memcpy(&u, &w[i], 4);
        for (int k = 0; k < 4; k++)
            raw.b[raw.n++] = (unsigned char)(u >> 8 * k);
    }
    put_msg(&t, 9, &raw);
    if (variant == 5)
        put_int(&t, 14, 1); /* data_location EXTERNAL */
    put_msg(&g, variant == 10 ? 15 : 5, &t);
    tensor(&t, "B", variant == 4 ? 2 : 1, 0, b, 1);
    put_msg(&g, 5, &t);
    io(&g, 11, "x", 3);
    if (variant != 6)
        io(&g, 12, variant == 7 ? "q" : "y", 1);
    model(m, &g, variant == 3 ? 16 : 13); /* opset 16: no fixture of torch has it */
}

Test(onnx, reshapes_layouts_and_their_refusals)
{
    static const struct {
        int variant, err;
        const char *word;
    } cases[] = {
        {0, TTR_OK, ""},
        {1, TTR_ERR_UNSUPPORTED, "reshapes the feature axis"},
        {2, TTR_ERR_UNSUPPORTED, "flattens the feature axis"},
        {3, TTR_OK, ""},
        {4, TTR_ERR_FORMAT, "bias"},
        {5, TTR_ERR_UNSUPPORTED, "external"},
        {6, TTR_ERR_UNSUPPORTED, "0 outputs"},
        {7, TTR_ERR_UNSUPPORTED, "after the final Sigmoid"},
        {8, TTR_ERR_UNSUPPORTED, "must follow a dense layer"},
        {9, TTR_ERR_UNSUPPORTED, "an Add that is not the bias"},
        {10, TTR_ERR_UNSUPPORTED, "sparse"},
        {11, TTR_ERR_UNSUPPORTED, "transA"},
        {12, TTR_ERR_UNSUPPORTED, "node #0 (op Tanh)"},
        {13, TTR_ERR_UNSUPPORTED, "only a 'value' tensor"},
        {14, TTR_ERR_UNSUPPORTED, "more than 64 nodes"},
        {15, TTR_ERR_UNSUPPORTED, "not a matrix"},
        {16, TTR_ERR_UNSUPPORTED, "node 'id' (op Identity): not supported"},
        {17, TTR_OK, ""},
        {18, TTR_OK, ""},
        {19, TTR_ERR_UNSUPPORTED, "more than 64 initializers and constants"},
        {20, TTR_ERR_FORMAT, "(op Constant): a malformed value"},
    };
    void *scratch = malloc(TTR_ONNX_SCRATCH);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pb m;
        ttr_onnx *o = NULL;
        one_layer(&m, cases[i].variant);
        int err = open_pb(&m, &o, scratch);
        cr_assert_eq(err, cases[i].err, "case %d: %d (%s)", cases[i].variant, err,
                     ttr_onnx_error(o));
        cr_assert(strstr(ttr_onnx_error(o), cases[i].word), "case %d: '%s'", cases[i].variant,
                  ttr_onnx_error(o));
        if (err)
            continue;
        ttr_config c;
        ttr_model *md;
        float x[3] = {2.0f, 1.0f, 0.5f}, sc;
        cr_assert_eq(ttr_onnx_config(o, TTR_NAIVE, &c), TTR_OK);
        cr_assert_eq(c.n_hidden, 0);
        size_t bytes = ttr_arena_bytes(&c, TTR_MODE_TRAIN);
        void *arena = malloc(bytes);
        cr_assert_eq(ttr_onnx_load(&md, &c, arena, bytes, o), TTR_OK);
        cr_assert_eq(ttr_score(md, 1, x, 3, &sc), TTR_OK);
        float bias = cases[i].variant == 18 ? 0.0f : 0.25f;
        cr_assert(fabsf(sc - (1.0f - 1.0f + 1.0f + bias)) < 1e-6f, "case %d: %g",
                  cases[i].variant, sc);
        free(arena);
    }
    static const unsigned char junk[] = "not a model";
    ttr_onnx *o = NULL;
    cr_assert_eq(ttr_onnx_open(&o, junk, sizeof junk, scratch, TTR_ONNX_SCRATCH),
                 TTR_ERR_FORMAT);
    cr_assert(strstr(ttr_onnx_error(o), "not an ONNX model"), "%s", ttr_onnx_error(o));
    free(scratch);
}
