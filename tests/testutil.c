/* See testutil.h. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "testutil.h"
#include "ttr_io.h"

unsigned char *tu_read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    size_t cap = 0, n = 0;
    if (!f)
        return NULL;
    for (;;) {
        if (n == cap) {
            unsigned char *b = realloc(buf, cap = cap ? 2 * cap : 4096);
            if (!b) {
                free(buf), fclose(f);
                return NULL;
            }
            buf = b;
        }
        size_t k = fread(buf + n, 1, cap - n, f);
        n += k;
        if (!k)
            break;
    }
    fclose(f);
    *size = n;
    return buf;
}

int tu_skip_slow(void)
{
    const char *v = getenv("TTR_TEST_SKIP_SLOW");
    return v && *v && strcmp(v, "0") != 0;
}

tu_rng tu_rng_seed(uint64_t seed)
{
    tu_rng r;
    r.s = seed * 0x9E3779B97F4A7C15ull + 0x2545F4914F6CDD1Dull;
    if (!r.s)
        r.s = 1;
    return r;
}

uint32_t tu_u32(tu_rng *r)
{
    uint64_t x = r->s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->s = x;
    return (uint32_t)((x * 0x2545F4914F6CDD1Dull) >> 32);
}

float tu_uniform(tu_rng *r, float lo, float hi)
{
    return lo + (hi - lo) * (float)(tu_u32(r) >> 8) * (1.0f / 16777216.0f);
}

void tu_fill_uniform(tu_rng *r, float *x, size_t n, float lo, float hi)
{
    for (size_t i = 0; i < n; i++)
        x[i] = tu_uniform(r, lo, hi);
}

#define GUARD 256
/* Layout: [size_t bytes][size_t misalign][pad to 64][GUARD][misalign][usable][GUARD] */
void *tu_alloc(size_t bytes, size_t misalign)
{
    size_t head = 64 + GUARD + (misalign % 64);
    unsigned char *base = malloc(head + bytes + GUARD + 64);
    if (!base)
        abort();
    unsigned char *aligned = (unsigned char *)(((uintptr_t)base + 63) & ~(uintptr_t)63);
    unsigned char *user = aligned + head;
    memset(aligned + 64, TU_SENTINEL_BYTE, GUARD + (misalign % 64) + bytes + GUARD);
    size_t meta[3] = {bytes, misalign % 64, (size_t)(aligned - base)};
    memcpy(aligned, meta, sizeof meta);
    return user;
}

static unsigned char *aligned_of(const void *p, size_t *bytes, size_t *mis, size_t *off)
{
    /* user = aligned + 64 + GUARD + mis, and mis < 64: scan back to the 64-aligned meta */
    uintptr_t u = (uintptr_t)p - 64 - GUARD;
    unsigned char *aligned = (unsigned char *)(u & ~(uintptr_t)63);
    size_t meta[3];
    memcpy(meta, aligned, sizeof meta);
    *bytes = meta[0];
    *mis = meta[1];
    *off = meta[2];
    return aligned;
}

int tu_guard_ok(const void *p)
{
    size_t bytes, mis, off;
    const unsigned char *user = p;
    aligned_of(p, &bytes, &mis, &off);
    for (size_t i = 1; i <= GUARD + mis; i++)
        if (user[-(long)i] != TU_SENTINEL_BYTE)
            return 0;
    for (size_t i = 0; i < GUARD; i++)
        if (user[bytes + i] != TU_SENTINEL_BYTE)
            return 0;
    return 1;
}

void tu_free(void *p)
{
    size_t bytes, mis, off;
    if (!p)
        return;
    unsigned char *aligned = aligned_of(p, &bytes, &mis, &off);
    free(aligned - off);
}

tu_exact tu_exact_alloc(size_t n, size_t mis)
{
    tu_exact b;
    size_t bytes = n * sizeof(float) + mis;
    b.base = malloc(bytes ? bytes : 1);
    if (!b.base)
        abort();
    b.p = (float *)(void *)((char *)b.base + mis);
    return b;
}

void tu_exact_free(tu_exact b)
{
    free(b.base);
}

int tu_untouched_2d(const void *buf, size_t esize, size_t total, size_t rows, size_t wcols,
                    size_t ld)
{
    const unsigned char *b = buf;
    for (size_t i = 0; i < total; i++) {
        size_t row = i / (ld ? ld : 1), col = i % (ld ? ld : 1);
        int written = row < rows && col < wcols;
        if (written)
            continue;
        for (size_t e = 0; e < esize; e++)
            if (b[i * esize + e] != TU_SENTINEL_BYTE)
                return 0;
    }
    return 1;
}

int tu_masks(unsigned masks[8], const char *names[8])
{
    unsigned have = ttr_cpu_detected(), mask;
    const char *name;
    int n = 0;
    for (size_t i = 0; n < 8 && (name = ttr_cpu_path(i, &mask)); i++)
        if ((mask & have) == mask) {
            masks[n] = mask;
            names[n] = name;
            n++;
        }
    return n;
}

long tu_first_mismatch(const float *got, const float *ref, const float *scale, size_t n,
                       float tol, float abs_floor)
{
    for (size_t i = 0; i < n; i++) {
        float g = got[i], r = ref[i];
        if (isnan(r) || isnan(g)) {
            if (!(isnan(r) && isnan(g)))
                return (long)i;
            continue;
        }
        if (isinf(r) || isinf(g)) {
            if (g != r)
                return (long)i;
            continue;
        }
        double s = scale ? fabs((double)scale[i]) : fabs((double)r);
        if (fabs((double)g - (double)r) > (double)tol * s + (double)abs_floor)
            return (long)i;
    }
    return -1;
}

size_t tu_chunk_read(void *ctx, void *buf, size_t n)
{
    tu_chunk_src *c = (tu_chunk_src *)ctx;
    size_t k = c->size - c->pos;
    if (k > c->chunk)
        k = c->chunk;
    if (k > n)
        k = n;
    memcpy(buf, c->data + c->pos, k);
    c->pos += k;
    return k;
}

unsigned char *tu_save_mem(const ttr_model *m, int state, size_t *size)
{
    ttr_mem_writer count = {NULL, 0, 0};
    cr_assert_eq(ttr_model_save(m, state, ttr_mem_write, &count), TTR_OK);
    unsigned char *buf = malloc(count.size);
    cr_assert_not_null(buf);
    ttr_mem_writer w = {buf, count.size, 0};
    cr_assert_eq(ttr_model_save(m, state, ttr_mem_write, &w), TTR_OK);
    cr_assert_eq(w.size, count.size);
    *size = w.size;
    return buf;
}

const char *tu_tmp_dir(void)
{
    const char *d = getenv("TMPDIR");
    return d && *d ? d : "/tmp";
}

int tu_try_load_fn(void *arena, size_t bytes, ttr_read_fn read, void *ctx)
{
    ttr_model *sentinel = (ttr_model *)(void *)&sentinel;
    ttr_model *m = sentinel;
    int err = ttr_model_load(&m, arena, bytes, read, ctx);
    cr_assert(tu_guard_ok(arena), "arena guard");
    if (err)
        cr_assert(m == sentinel, "*out set on error %d", err);
    else
        cr_assert(m != sentinel && m != NULL);
    return err;
}

int tu_try_load(const unsigned char *data, size_t size, void *arena, size_t bytes)
{
    ttr_mem_reader r = {data, size, 0}, rc = {data, size, 0};
    int err = tu_try_load_fn(arena, bytes, ttr_mem_read, &r);
    /* the arena-free check never refuses what loads, and whatever it
     * refuses does not load */
    int cerr = ttr_model_check(ttr_mem_read, &rc, NULL, NULL);
    cr_assert(cerr <= 0);
    if (err == TTR_OK)
        cr_assert_eq(cerr, TTR_OK, "loads, but the check says %d", cerr);
    if (cerr != TTR_OK)
        cr_assert_neq(err, TTR_OK);
    return err;
}

size_t tu_arena_for(const unsigned char *data, size_t size)
{
    ttr_config c;
    ttr_mode mode;
    ttr_mem_reader r = {data, size, 0};
    cr_assert_eq(ttr_model_load_config(ttr_mem_read, &r, &c, &mode), TTR_OK);
    return ttr_arena_bytes(&c, mode);
}

struct ttr__tensor *tu_tensor(ttr_model *m, const char *name)
{
    for (uint32_t i = 0; i < m->n_tensors; i++)
        if (!strcmp(m->tensors[i].name, name))
            return &m->tensors[i];
    cr_assert(0, "no tensor %s", name);
    return NULL;
}

size_t tu_state_offset(const unsigned char *f)
{
    uint32_t version = f[4] | (uint32_t)f[5] << 8, mode = f[8];
    return 136 + (version >= 3 && mode == 0 ? 24 : 0) + (version >= 4 ? 64 : 0);
}
