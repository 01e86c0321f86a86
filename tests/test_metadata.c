/* What a model says about itself: the library version, the steps and
 * impressions it learned from, the caller's tag; kept by saves, loads,
 * serving copies and int8 models (file version 4), and refused when a
 * file's metadata block is not what the format allows. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"
#include "ttr_io.h"

#define F 4

static void wr32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static ttr_model *fresh(void **arena)
{
    ttr_config c;
    ttr_config_default(&c, TTR_ADDITIVE, F);
    c.hidden[0] = 5;
    c.hidden[1] = 3;
    c.rows = 4;
    c.max_items = 4;
    c.max_batch = 3;
    size_t bytes = ttr_arena_bytes(&c, TTR_MODE_TRAIN);
    ttr_model *m;
    *arena = calloc(1, bytes);
    cr_assert_eq(ttr_model_init(&m, &c, TTR_MODE_TRAIN, *arena, bytes), TTR_OK);
    return m;
}

/* One step on three lists, the middle one empty: two impressions. */
static int step(ttr_model *m, float x0)
{
    size_t offs[4] = {0, 3, 3, 5};
    float x[5 * F];
    for (int i = 0; i < 5 * F; i++)
        x[i] = x0 + 0.1f * (float)i;
    uint16_t slots[5] = {0, 1, 2, 0, 1};
    uint8_t clicks[5] = {1, 0, 0, 0, 1};
    ttr_batch b = {3, offs, x, F, slots, clicks, NULL};
    return ttr_train(m, &b, NULL);
}

static ttr_file_info info_of(const unsigned char *f, size_t size)
{
    ttr_file_info info;
    ttr_mem_reader r = {f, size, 0};
    memset(&info, 0x5a, sizeof info);
    cr_assert_eq(ttr_model_check_info(ttr_mem_read, &r, NULL, &info), TTR_OK);
    return info;
}

Test(metadata, version)
{
    cr_assert_str_eq(ttr_version(), TTR_VERSION_STRING);
    cr_assert_eq(ttr_version_number(), TTR_VERSION_NUMBER);
    cr_assert_eq(TTR_VERSION_NUMBER,
                 TTR_VERSION_MAJOR * 10000 + TTR_VERSION_MINOR * 100 + TTR_VERSION_PATCH);
}

Test(metadata, impressions_count_non_empty_lists_of_successful_steps)
{
    void *a;
    ttr_model *m = fresh(&a);
    cr_assert_eq(ttr_model_impressions(m), 0);
    cr_assert_eq(step(m, 0.0f), TTR_OK);
    cr_assert_eq(ttr_model_impressions(m), 2);
    cr_assert_eq(step(m, 1.0f), TTR_OK);
    cr_assert_eq(ttr_model_impressions(m), 4);
    cr_assert_eq(step(m, NAN), TTR_ERR_NONFINITE); /* a refused step counts nothing */
    cr_assert_eq(ttr_model_impressions(m), 4);
    cr_assert_eq(ttr_model_steps(m), 2);
    cr_assert_eq(ttr_model_impressions(NULL), 0);
    free(a);
}

Test(metadata, tag_rules)
{
    void *a;
    ttr_model *m = fresh(&a);
    char longest[TTR_TAG_MAX + 2];
    cr_assert_str_eq(ttr_model_tag(m), "");
    cr_assert_eq(ttr_set_model_tag(m, "champion 2026-12-07 ~!"), TTR_OK);
    cr_assert_str_eq(ttr_model_tag(m), "champion 2026-12-07 ~!");
    memset(longest, 'x', sizeof longest);
    longest[TTR_TAG_MAX + 1] = '\0'; /* 49 bytes */
    cr_assert_eq(ttr_set_model_tag(m, longest), TTR_ERR_ARG);
    cr_assert_str_eq(ttr_model_tag(m), "champion 2026-12-07 ~!", "a refused tag changed it");
    cr_assert_eq(ttr_set_model_tag(m, "tab\there"), TTR_ERR_ARG);
    cr_assert_eq(ttr_set_model_tag(m, "caf\xc3\xa9"), TTR_ERR_ARG);
    cr_assert_eq(ttr_set_model_tag(NULL, "x"), TTR_ERR_ARG);
    longest[TTR_TAG_MAX] = '\0'; /* 48 bytes: the most */
    cr_assert_eq(ttr_set_model_tag(m, longest), TTR_OK);
    cr_assert_str_eq(ttr_model_tag(m), longest);
    cr_assert_eq(ttr_set_model_tag(m, "short"), TTR_OK); /* no tail of the longer tag */
    cr_assert_eq(memcmp(ttr_model_tag(m), "short\0\0", 7), 0);
    cr_assert_eq(ttr_set_model_tag(m, NULL), TTR_OK);
    cr_assert_str_eq(ttr_model_tag(m), "");
    cr_assert_null(ttr_model_tag(NULL));
    free(a);
}

/* A train model saved and loaded, with and without its optimizer state;
 * its serving and int8 copies and their files. */
Test(metadata, kept_by_saves_loads_and_serving_copies)
{
    void *a;
    ttr_model *m = fresh(&a);
    cr_assert_eq(step(m, 0.0f), TTR_OK);
    cr_assert_eq(step(m, 0.5f), TTR_OK);
    cr_assert_eq(step(m, 0.7f), TTR_OK);
    cr_assert_eq(ttr_set_model_tag(m, "device 42"), TTR_OK);
    const ttr_config *c = ttr_model_config(m);
    for (int state = 0; state < 2; state++) {
        size_t size;
        unsigned char *f = tu_save_mem(m, state, &size);
        cr_assert_eq(f[4], 4, "a model with metadata is a version-4 file");
        ttr_file_info info = info_of(f, size);
        cr_assert_eq(info.format_version, 4);
        cr_assert_eq(info.library_version, TTR_VERSION_NUMBER);
        cr_assert_eq(info.mode, TTR_MODE_TRAIN);
        cr_assert_eq(info.has_optimizer_state, state);
        cr_assert_eq(info.steps, 3, "the steps are saved with or without the optimizer");
        cr_assert_eq(info.impressions, 6);
        cr_assert_str_eq(info.tag, "device 42");
        size_t need = tu_arena_for(f, size);
        void *la = calloc(1, need);
        ttr_model *l;
        ttr_mem_reader r = {f, size, 0};
        cr_assert_eq(ttr_model_load(&l, la, need, ttr_mem_read, &r), TTR_OK);
        cr_assert_eq(ttr_model_impressions(l), 6);
        cr_assert_str_eq(ttr_model_tag(l), "device 42");
        cr_assert_eq(ttr_model_steps(l), state ? 3 : 0, "without its optimizer it restarts");
        free(la);
        free(f);
    }
    size_t sb = ttr_arena_bytes(c, TTR_MODE_SERVE_F32), qb = ttr_arena_bytes(c, TTR_MODE_SERVE_S8);
    void *sa = calloc(1, sb), *qa = calloc(1, qb);
    ttr_model *s, *q;
    cr_assert_eq(ttr_model_to_serving(m, &s, sa, sb), TTR_OK);
    cr_assert_eq(ttr_model_quantize(s, &q, qa, qb), TTR_OK); /* from the serving copy */
    const ttr_model *copies[2] = {s, q};
    for (int k = 0; k < 2; k++) {
        cr_assert_eq(ttr_model_steps(copies[k]), 0, "serving models take no steps");
        cr_assert_eq(ttr_model_impressions(copies[k]), 6);
        cr_assert_str_eq(ttr_model_tag(copies[k]), "device 42");
        size_t size;
        unsigned char *f = tu_save_mem(copies[k], 0, &size);
        ttr_file_info info = info_of(f, size);
        cr_assert_eq(info.format_version, 4);
        cr_assert_eq(info.steps, 0);
        cr_assert_eq(info.impressions, 6);
        cr_assert_str_eq(info.tag, "device 42");
        size_t need = tu_arena_for(f, size);
        void *la = calloc(1, need);
        ttr_model *l;
        ttr_mem_reader r = {f, size, 0};
        cr_assert_eq(ttr_model_load(&l, la, need, ttr_mem_read, &r), TTR_OK);
        cr_assert_eq(ttr_model_impressions(l), 6);
        cr_assert_str_eq(ttr_model_tag(l), "device 42");
        size_t size2;
        unsigned char *f2 = tu_save_mem(l, 0, &size2);
        cr_assert(size2 == size && !memcmp(f, f2, size), "resaved bytes differ");
        free(f2), free(la), free(f);
    }
    free(qa), free(sa), free(a);
}

/* Without metadata a file keeps the lowest version: older loaders read it. */
Test(metadata, untrained_untagged_models_keep_the_old_versions)
{
    void *a;
    ttr_model *m = fresh(&a);
    size_t size;
    unsigned char *f = tu_save_mem(m, 0, &size);
    cr_assert_eq(f[4], 3, "defaults carry weight decay: the schedule block of version 3");
    ttr_file_info info = info_of(f, size);
    cr_assert_eq(info.format_version, 3);
    cr_assert_eq(info.library_version, 0, "files before version 4 do not say");
    cr_assert_eq(info.impressions, 0);
    cr_assert_str_eq(info.tag, "");
    free(f);
    cr_assert_eq(ttr_set_model_tag(m, "t"), TTR_OK);
    f = tu_save_mem(m, 0, &size);
    cr_assert_eq(f[4], 4, "a tag alone needs version 4");
    free(f);
    free(a);
}

/* Patch byte `at` of the metadata block of a copy of f, fix the CRC, and
 * expect the load and the check to refuse it with `want`. */
static void expect_meta_patch(const unsigned char *f, size_t size, size_t at, unsigned char v,
                              int want, const char *what)
{
    unsigned char *b = malloc(size);
    memcpy(b, f, size);
    size_t meta = tu_state_offset(f) - 64;
    b[meta + at] = v;
    wr32(b + size - 4, ttr_crc32(0, b, size - 4));
    size_t need = tu_arena_for(f, size);
    void *arena = tu_alloc(need, 0);
    int err = tu_try_load(b, size, arena, need);
    cr_assert_eq(err, want, "%s: got %d (%s)", what, err, ttr_strerror(err));
    tu_free(arena);
    free(b);
}

Test(metadata, a_bad_metadata_block_is_refused)
{
    void *a;
    ttr_model *m = fresh(&a);
    cr_assert_eq(step(m, 0.0f), TTR_OK);
    cr_assert_eq(ttr_set_model_tag(m, "abc"), TTR_OK);
    size_t size;
    unsigned char *f = tu_save_mem(m, 1, &size);
    expect_meta_patch(f, size, 4, 49, TTR_ERR_FORMAT, "tag length 49");
    expect_meta_patch(f, size, 7, 1, TTR_ERR_FORMAT, "tag length 2^24 + 3");
    expect_meta_patch(f, size, 4, 4, TTR_ERR_FORMAT, "the length takes in a NUL");
    expect_meta_patch(f, size, 16 + 1, 0x07, TTR_ERR_FORMAT, "a control byte in the tag");
    expect_meta_patch(f, size, 16 + 1, 0x80, TTR_ERR_FORMAT, "a non-ASCII byte in the tag");
    expect_meta_patch(f, size, 16 + 47, 'x', TTR_ERR_FORMAT, "a byte after the tag");
    expect_meta_patch(f, size, 16 + 1, 'z', TTR_OK, "another printable tag");
    expect_meta_patch(f, size, 0, 0xff, TTR_OK, "any library version");
    expect_meta_patch(f, size, 8, 0xff, TTR_OK, "any impression count");
    free(f);
    free(a);
}

/* Version 3 is a train model's schedule: a serving file claiming it is not ours. */
Test(metadata, a_version_3_serving_file_is_refused)
{
    void *a;
    ttr_model *m = fresh(&a);
    size_t size;
    unsigned char *f = tu_save_mem(m, 0, &size);
    cr_assert_eq(f[4], 3);
    f[8] = TTR_MODE_SERVE_F32;
    wr32(f + size - 4, ttr_crc32(0, f, size - 4));
    ttr_mem_reader r = {f, size, 0};
    cr_assert_eq(ttr_model_check_info(ttr_mem_read, &r, NULL, NULL), TTR_ERR_FORMAT);
    free(f);
    free(a);
}

Test(metadata, file_info_on_a_file)
{
    void *a;
    ttr_model *m = fresh(&a);
    cr_assert_eq(step(m, 0.0f), TTR_OK);
    cr_assert_eq(ttr_set_model_tag(m, "on disk"), TTR_OK);
    char path[512];
    snprintf(path, sizeof path, "%s/ttr-meta-%d.ttr", tu_tmp_dir(), (int)getpid());
    cr_assert_eq(ttr_model_save_file(m, path, 1), TTR_OK);
    ttr_file_info info;
    ttr_config c;
    cr_assert_eq(ttr_model_file_info(path, &c, &info), TTR_OK);
    cr_assert_eq(info.format_version, 4);
    cr_assert_eq(info.has_optimizer_state, 1);
    cr_assert_eq(info.steps, 1);
    cr_assert_eq(info.impressions, 2);
    cr_assert_str_eq(info.tag, "on disk");
    cr_assert_eq(c.n_features, F);
    cr_assert_eq(ttr_model_file_info(NULL, &c, &info), TTR_ERR_ARG);
    cr_assert_eq(remove(path), 0);
    cr_assert_eq(ttr_model_file_info(path, &c, &info), TTR_ERR_IO);
    free(a);
}
