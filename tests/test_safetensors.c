/* safetensors: round trips keep every bit, a file with some of the towers
 * fills the rest as ttr_model_init does, and malformed files get one
 * error, naming the tensor when there is one. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "ttr_io.h"
#include "ttr_safetensors.h"

#define F 5

static ttr_model *trained(ttr_variant v, void **arena)
{
    ttr_config c;
    ttr_config_default(&c, v, F);
    c.hidden[0] = 6;
    c.hidden[1] = 3;
    c.rows = v == TTR_XPA ? 2 : 4;
    c.cols = v == TTR_XPA ? 2 : 1;
    c.max_items = 4;
    c.n_contexts = v == TTR_ADDITIVE ? 2 : 0;
    size_t bytes = ttr_arena_bytes(&c, TTR_MODE_TRAIN);
    *arena = calloc(1, bytes);
    ttr_model *m;
    cr_assert_eq(ttr_model_init(&m, &c, TTR_MODE_TRAIN, *arena, bytes), TTR_OK);
    float mean[F] = {0.1f, -0.2f, 0.3f, 0, 1}, scale[F] = {1, 2, 0.5f, 1, 3};
    cr_assert_eq(ttr_set_normalization(m, mean, scale), TTR_OK);
    tu_rng r = tu_rng_seed(5 + v);
    float x[4 * F];
    uint16_t slots[4] = {0, 1, 2, 3};
    uint8_t clicks[4];
    size_t offs[2] = {0, 4};
    for (int s = 0; s < 6; s++) {
        tu_fill_uniform(&r, x, 4 * F, -1, 1);
        for (int i = 0; i < 4; i++)
            clicks[i] = tu_u32(&r) % 3 == 0;
        ttr_batch b = {1, offs, x, F, slots, clicks, NULL};
        cr_assert_eq(ttr_train(m, &b, NULL), TTR_OK);
    }
    return m;
}

static uint64_t get_u64_le(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static unsigned char *export_mem(const ttr_model *m, size_t *size)
{
    ttr_mem_writer count = {NULL, 0, 0};
    cr_assert_eq(ttr_safetensors_save(m, ttr_mem_write, &count), TTR_OK);
    unsigned char *b = malloc(count.size);
    ttr_mem_writer w = {b, count.size, 0};
    cr_assert_eq(ttr_safetensors_save(m, ttr_mem_write, &w), TTR_OK);
    *size = w.size;
    return b;
}

/* Open and load f; returns the error; *m and the arena on success. */
static int import_mem(const unsigned char *f, size_t size, const ttr_config *given,
                      ttr_model **m, void **arena, char *err_name)
{
    static unsigned char scratch[TTR_SAFETENSORS_SCRATCH];
    ttr_mem_reader r = {f, size, 0};
    ttr_safetensors *s;
    ttr_config c;
    *arena = NULL;
    int err = ttr_safetensors_open(&s, ttr_mem_read, &r, scratch, sizeof scratch);
    if (!err && !given)
        err = ttr_safetensors_config(s, &c);
    if (given)
        c = *given;
    if (!err) {
        size_t bytes = ttr_arena_bytes(&c, TTR_MODE_TRAIN);
        *arena = calloc(1, bytes);
        err = ttr_safetensors_load(m, &c, *arena, bytes, s);
        if (err_name)
            snprintf(err_name, 64, "%s", ttr_safetensors_error(s));
    }
    if (err) {
        free(*arena);
        *arena = NULL;
    }
    return err;
}

Test(safetensors, round_trip_keeps_every_bit)
{
    for (int v = TTR_NAIVE; v <= TTR_XPA; v++) {
        void *a, *la;
        ttr_model *m = trained((ttr_variant)v, &a), *l;
        cr_assert_eq(ttr_set_model_tag(m, "a \"quoted\" \\ tag"), TTR_OK);
        size_t size, size2;
        unsigned char *f = export_mem(m, &size);
        cr_assert_eq(get_u64_le(f) % 8, 0, "the header is padded to 8 bytes");
        cr_assert_eq(import_mem(f, size, NULL, &l, &la, NULL), TTR_OK, "variant %d", v);
        /* the .ttr bytes of both, without optimizer state: every tensor,
         * the normalisation and the statistics */
        size_t n1, n2;
        unsigned char *t1 = tu_save_mem(m, 0, &n1), *t2 = tu_save_mem(l, 0, &n2);
        size_t st = tu_state_offset(t1);
        cr_assert_eq(n1, n2, "variant %d", v);
        /* the records (past the state block, whose step and impressions differ) */
        cr_assert(!memcmp(t1 + st + 16, t2 + st + 16, n1 - st - 16 - 4), "variant %d", v);
        unsigned char *f2 = export_mem(l, &size2);
        cr_assert(size == size2 && !memcmp(f, f2, size), "variant %d: export differs", v);
        free(t1), free(t2), free(f), free(f2), free(a), free(la);
    }
}

/* A blob: the 8-byte length, the header, then data. */
static unsigned char *blob(const char *header, const float *data, size_t n, size_t *size)
{
    size_t h = strlen(header);
    *size = 8 + h + 4 * n;
    unsigned char *b = malloc(*size);
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)((uint64_t)h >> (8 * i));
    memcpy(b + 8, header, h);
    memcpy(b + 8 + h, data, 4 * n); /* the tests run little-endian and big alike: f32 bytes */
    return b;
}

/* Only the relevance tower (as PyTorch would export it): the bias tower
 * keeps ttr_model_init's values. */
Test(safetensors, a_file_with_the_relevance_tower_only)
{
    ttr_config c;
    ttr_config_default(&c, TTR_ADDITIVE, 2);
    c.n_hidden = 1;
    c.hidden[0] = 2;
    c.hidden[1] = 0;
    c.rows = 3;
    c.max_items = 3;
    float w0[4] = {1, 2, 3, 4}, b0[2] = {0.5f, -0.5f}, w1[2] = {7, 8}, b1[1] = {9};
    float data[9];
    memcpy(data, w0, 16), memcpy(data + 4, b0, 8), memcpy(data + 6, w1, 8), data[8] = b1[0];
    unsigned char probe[2] = {1, 0};
    uint16_t one;
    memcpy(&one, probe, 2);
    cr_assert_eq(one, 1, "the blob helper writes host floats: a little-endian host is assumed");
    size_t size;
    unsigned char *f = blob("{\"rel.0.w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
                            "\"rel.0.b\":{\"shape\":[2],\"dtype\":\"F32\",\"data_offsets\":[16,24]},"
                            "\"rel.1.w\":{\"dtype\":\"F32\",\"shape\":[1,2],\"data_offsets\":[24,32]},"
                            "\"rel.1.b\":{\"dtype\":\"F32\",\"shape\":[1,1],\"data_offsets\":[32,36]}}",
                            data, 9, &size);
    void *a, *fa;
    ttr_model *m, *fresh;
    cr_assert_eq(import_mem(f, size, NULL, &m, &a, NULL), TTR_ERR_FORMAT, "no ttrank.config");
    cr_assert_eq(import_mem(f, size, &c, &m, &a, NULL), TTR_OK);
    float got[4];
    cr_assert_eq(ttr_model_tensor_get(m, "rel.0.w", got, 4), TTR_OK);
    cr_assert(!memcmp(got, w0, 16));
    cr_assert_eq(ttr_model_tensor_get(m, "rel.1.b", got, 1), TTR_OK);
    cr_assert_eq(got[0], 9.0f);
    size_t bytes = ttr_arena_bytes(&c, TTR_MODE_TRAIN);
    fa = calloc(1, bytes);
    cr_assert_eq(ttr_model_init(&fresh, &c, TTR_MODE_TRAIN, fa, bytes), TTR_OK);
    float e1[3 * 8], e2[3 * 8];
    cr_assert_eq(ttr_model_tensor_get(m, "bias0.row", e1, 3 * c.embed_dim), TTR_OK);
    cr_assert_eq(ttr_model_tensor_get(fresh, "bias0.row", e2, 3 * c.embed_dim), TTR_OK);
    cr_assert(!memcmp(e1, e2, 3 * c.embed_dim * sizeof(float)), "the bias tower is not init's");
    float x[2] = {1, 1}, s;
    cr_assert_eq(ttr_score(m, 1, x, 2, &s), TTR_OK);
    /* relu([1+2, 3+4] + [0.5, -0.5]) = [3.5, 6.5]; 7*3.5 + 8*6.5 + 9 */
    cr_assert_float_eq(s, 7 * 3.5f + 8 * 6.5f + 9, 1e-4);
    free(f), free(a), free(fa);
}

static void expect(const char *header, const float *data, size_t n, const ttr_config *c, int want,
                   const char *name, const char *what)
{
    size_t size;
    unsigned char *f = blob(header, data, n, &size);
    void *a;
    ttr_model *m;
    char err_name[64] = "";
    int err = import_mem(f, size, c, &m, &a, err_name);
    cr_assert_eq(err, want, "%s: got %d (%s)", what, err, ttr_strerror(err));
    if (name)
        cr_assert_str_eq(err_name, name, "%s", what);
    free(f), free(a);
}

Test(safetensors, bad_files_get_one_error)
{
    ttr_config c;
    ttr_config_default(&c, TTR_NAIVE, 2);
    c.n_hidden = 0;
    c.hidden[0] = c.hidden[1] = 0;
    float d[4] = {1, 2, 3, NAN};
    const char *ok = "{\"rel.0.w\":{\"dtype\":\"F32\",\"shape\":[1,2],\"data_offsets\":[0,8]}}";
    expect(ok, d, 2, &c, TTR_OK, NULL, "fine");
    expect("{\"rel.0.w\":{\"dtype\":\"F16\",\"shape\":[1,2],\"data_offsets\":[0,4]}}", d, 1, &c,
           TTR_ERR_UNSUPPORTED, NULL, "F16");
    expect("{\"rel.0.w\":{\"dtype\":\"F32\",\"shape\":[2,1],\"data_offsets\":[0,8]}}", d, 2, &c,
           TTR_ERR_FORMAT, "rel.0.w", "transposed");
    expect("{\"fc.weight\":{\"dtype\":\"F32\",\"shape\":[1,2],\"data_offsets\":[0,8]}}", d, 2, &c,
           TTR_ERR_FORMAT, "fc.weight", "not our name");
    expect("{\"rel.0.w\":{\"dtype\":\"F32\",\"shape\":[1,2],\"data_offsets\":[8,16]}}", d + 2, 0, &c,
           TTR_ERR_FORMAT, NULL, "data past the end");
    expect("{\"rel.0.w\":{\"dtype\":\"F32\",\"shape\":[1,2],\"data_offsets\":[0,12]}}", d, 3, &c,
           TTR_ERR_FORMAT, NULL, "size is not the shape's");
    expect("{\"rel.0.b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
           "\"rel.0.w\":{\"dtype\":\"F32\",\"shape\":[1,2],\"data_offsets\":[0,8]}}",
           d, 2, &c, TTR_ERR_FORMAT, NULL, "overlapping");
    expect("{\"rel.0.w\":{\"dtype\":\"F32\",\"shape\":[1,2],\"data_offsets\":[0,8]},"
           "\"rel.0.w\":{\"dtype\":\"F32\",\"shape\":[1,2],\"data_offsets\":[8,16]}}",
           d, 4, &c, TTR_ERR_FORMAT, "rel.0.w", "twice");
    expect("{\"rel.0.w\":{\"dtype\":\"F32\",\"shape\":[1,2],\"data_offsets\":[8,16]}}", d, 4, &c,
           TTR_ERR_NONFINITE, NULL, "NaN");
    expect("{\"rel.0.w\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1,2],\"data_offsets\":[0,8]}}",
           d, 2, &c, TTR_ERR_FORMAT, NULL, "a key twice");
    expect("{\"rel.0.w\":{\"dtype\":\"F32\",\"shape\":[1,2]}}", d, 2, &c, TTR_ERR_FORMAT, NULL,
           "no offsets");
    expect("{\"rel.0.w\":{\"dtype\":\"F32\",\"shape\":[1,2,1],\"data_offsets\":[0,8]}}", d, 2, &c,
           TTR_ERR_FORMAT, NULL, "three dimensions");
    expect("{\"rel.0.w\":{\"dtype\":\"F32\",\"shape\":[1.5,2],\"data_offsets\":[0,8]}}", d, 2, &c,
           TTR_ERR_FORMAT, NULL, "a fraction");
    expect("{\"rel.0.w\":{\"dtype\":\"F32\",\"shape\":[99999999999999999999,2],"
           "\"data_offsets\":[0,8]}}",
           d, 2, &c, TTR_ERR_FORMAT, NULL, "a huge dimension");
    expect("{\"rel.0.w\":{\"dtype\":\"F32", d, 0, &c, TTR_ERR_FORMAT, NULL, "cut");
    expect("{\"rel.0.w\":{\"dtype\":\"F32\",\"shape\":[1,2],\"data_offsets\":[0,8]}} x", d, 2, &c,
           TTR_ERR_FORMAT, NULL, "after the object");
    expect("{\"__metadata__\":{\"ttrank.config\":\"variant=nope\"}}", d, 0, NULL, TTR_ERR_FORMAT,
           NULL, "a bad config");
    expect("{\"__metadata__\":{\"ttrank.config\":\"variant=naive;n_features=2;hidden=0\"}}", d, 0,
           NULL, TTR_ERR_RANGE, NULL, "a config out of range");
    /* a header that claims more than the file, or more than the limit */
    unsigned char big[16] = {0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, '{', '}'};
    static unsigned char scratch[TTR_SAFETENSORS_SCRATCH];
    ttr_safetensors *s;
    ttr_mem_reader r = {big, sizeof big, 0};
    cr_assert_eq(ttr_safetensors_open(&s, ttr_mem_read, &r, scratch, sizeof scratch),
                 TTR_ERR_FORMAT);
    big[0] = 200, big[1] = big[2] = big[3] = 0;
    ttr_mem_reader r2 = {big, sizeof big, 0};
    cr_assert_eq(ttr_safetensors_open(&s, ttr_mem_read, &r2, scratch, sizeof scratch),
                 TTR_ERR_FORMAT, "truncated header");
    ttr_mem_reader r3 = {big, sizeof big, 0};
    cr_assert_eq(ttr_safetensors_open(&s, ttr_mem_read, &r3, scratch, 1000), TTR_ERR_NOMEM);
}
