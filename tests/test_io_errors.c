/* Error paths of the .ttr loader and of the file functions that the round
 * trips and corruption sweeps of test_io.c do not reach: int8 files cut at
 * every byte, a read callback failing at every byte, argument checks, the
 * memory streams, saves that fail (a directory in the way, a file size
 * limit) and leave the previous file alone, relative paths, and the 32-bit
 * size estimate checked against the real arena size. Every failure must
 * give its specific code, and a failed load must leave *out untouched and
 * write nothing outside the arena. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__unix__) || defined(__APPLE__)
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#define IOE_POSIX 1
#endif

#include "model.h"
#include "testutil.h"
#include "ttr_io.h"

/* ---- helpers --------------------------------------------------------------- */

static void tiny_config(ttr_config *c, ttr_variant v)
{
    ttr_config_default(c, v, 5);
    c->hidden[0] = 6;
    c->hidden[1] = 4;
    c->rows = 3;
    c->cols = 1;
    c->max_items = 5;
    c->max_batch = 2;
    c->seed = 5;
}

static ttr_model *new_model(const ttr_config *c, void **arena)
{
    size_t need = ttr_arena_bytes(c, TTR_MODE_TRAIN);
    ttr_model *m = NULL;
    cr_assert(need > 0);
    *arena = tu_alloc(need, 0);
    cr_assert_eq(ttr_model_init(&m, c, TTR_MODE_TRAIN, *arena, need), TTR_OK);
    return m;
}

/* An int8 serving file (mode 2: int8 hidden layers, f32 last layer). */
static unsigned char *int8_file(size_t *size)
{
    ttr_config c;
    void *ta;
    tiny_config(&c, TTR_ADDITIVE);
    ttr_model *m = new_model(&c, &ta), *q;
    size_t qb = ttr_arena_bytes(&c, TTR_MODE_SERVE_S8);
    void *qa = tu_alloc(qb, 0);
    cr_assert_eq(ttr_model_quantize(m, &q, qa, qb), TTR_OK);
    unsigned char *f = tu_save_mem(q, 0, size);
    tu_free(qa);
    tu_free(ta);
    return f;
}

/* A train checkpoint with Adam state (two optimizer arrays per record). */
static unsigned char *checkpoint_file(size_t *size)
{
    ttr_config c;
    void *a;
    tiny_config(&c, TTR_MIXEM);
    ttr_model *m = new_model(&c, &a);
    unsigned char *f = tu_save_mem(m, 1, size);
    tu_free(a);
    return f;
}

/* A reader over data[0..size) that fails (TTR_READ_ERROR) once `fail_at`
 * bytes have been served, handing out at most 5 bytes per call. */
typedef struct failing_src {
    ttr_mem_reader r;
    size_t fail_at;
} failing_src;

static size_t read_then_fail(void *ctx, void *buf, size_t n)
{
    failing_src *f = ctx;
    if (f->r.pos >= f->fail_at)
        return TTR_READ_ERROR;
    size_t k = f->fail_at - f->r.pos;
    if (k > n)
        k = n;
    if (k > 5)
        k = 5;
    return ttr_mem_read(&f->r, buf, k);
}

/* ---- streams cut or failing anywhere ----------------------------------------- */

/* Every truncation of an int8 file (weights, scales, CRC) is TTR_ERR_FORMAT,
 * and a read callback that fails at any byte gives TTR_ERR_IO; the same for
 * a checkpoint (values, then both Adam arrays of every record). */
Test(io_errors, int8_and_checkpoint_files_cut_or_failing_anywhere)
{
    for (int kind = 0; kind < 2; kind++) {
        size_t size;
        unsigned char *f = kind == 0 ? int8_file(&size) : checkpoint_file(&size);
        size_t need = tu_arena_for(f, size);
        void *arena = tu_alloc(need, 0);
        cr_assert_eq(tu_try_load(f, size, arena, need), TTR_OK);
        for (size_t len = 0; len < size; len++) {
            int err = tu_try_load(f, len, arena, need);
            cr_assert_eq(err, TTR_ERR_FORMAT, "kind %d cut at %zu of %zu: %d", kind, len, size,
                         err);
        }
        for (size_t at = 0; at < size; at++) {
            failing_src fs = {{f, size, 0}, at};
            int err = tu_try_load_fn(arena, need, read_then_fail, &fs);
            cr_assert_eq(err, TTR_ERR_IO, "kind %d, read error at %zu: %d", kind, at, err);
        }
        {
            failing_src fs = {{f, size, 0}, size};
            cr_assert_eq(tu_try_load_fn(arena, need, read_then_fail, &fs), TTR_OK);
        }
        cr_log_info("io_errors: kind %d, %zu bytes: every cut and read error rejected", kind, size);
        tu_free(arena);
        free(f);
    }
}

/* ---- arguments and memory streams ------------------------------------------- */

Test(io_errors, arguments_and_memory_streams)
{
    ttr_config c, c2;
    ttr_mode md = TTR_MODE_SERVE_S8;
    void *a;
    size_t size;
    tiny_config(&c, TTR_PAL);
    ttr_model *m = new_model(&c, &a);
    unsigned char *f = tu_save_mem(m, 1, &size);
    size_t need = tu_arena_for(f, size);
    void *arena = tu_alloc(need, 0);
    ttr_mem_reader r = {f, size, 0};
    unsigned char byte;

    /* load_config: outputs may be NULL; a NULL callback is ARG */
    cr_assert_eq(ttr_model_load_config(ttr_mem_read, &r, NULL, NULL), TTR_OK);
    r.pos = 0;
    cr_assert_eq(ttr_model_load_config(NULL, &r, &c2, &md), TTR_ERR_ARG);
    cr_assert_eq(md, TTR_MODE_SERVE_S8, "outputs untouched on error");
    r.pos = 0;
    cr_assert_eq(ttr_model_load_config(ttr_mem_read, &r, &c2, &md), TTR_OK);
    cr_assert_eq(md, TTR_MODE_TRAIN);
    cr_assert_eq(c2.variant, TTR_PAL);

    /* load: NULL arena or callback */
    {
        ttr_model *sentinel = (ttr_model *)(void *)&sentinel, *out = sentinel;
        r.pos = 0;
        cr_assert_eq(ttr_model_load(&out, NULL, need, ttr_mem_read, &r), TTR_ERR_ARG);
        cr_assert_eq(ttr_model_load(&out, arena, need, NULL, &r), TTR_ERR_ARG);
        cr_assert(out == sentinel);
        cr_assert_eq(r.pos, 0, "nothing read on an argument error");
    }

    /* save: NULL callback, a model whose header is not a model's */
    cr_assert_eq(ttr_model_save(m, 0, NULL, NULL), TTR_ERR_ARG);
    {
        ttr_mem_writer w = {NULL, 0, 0};
        ttr_mode saved = m->mode;
        m->mode = (ttr_mode)7; /* a corrupted model struct */
        cr_assert_eq(ttr_model_save(m, 0, ttr_mem_write, &w), TTR_ERR_ARG);
        m->mode = saved;
        uint32_t magic = m->magic;
        m->magic ^= 1u;
        cr_assert_eq(ttr_model_save(m, 0, ttr_mem_write, &w), TTR_ERR_ARG);
        m->magic = magic;
        cr_assert_eq(w.size, 0, "nothing written on an argument error");
        cr_assert_eq(ttr_model_save(m, 0, ttr_mem_write, &w), TTR_OK);
    }

    /* memory reader: NULL reader or buffer, position past the end, no data */
    {
        ttr_mem_reader bad = {f, 4, 5};
        ttr_mem_reader nodata = {NULL, 4, 0}, empty = {NULL, 0, 0};
        cr_assert_eq(ttr_mem_read(NULL, &byte, 1), TTR_READ_ERROR);
        r.pos = 0;
        cr_assert_eq(ttr_mem_read(&r, NULL, 1), TTR_READ_ERROR);
        cr_assert_eq(ttr_mem_read(&bad, &byte, 1), TTR_READ_ERROR);
        cr_assert_eq(ttr_mem_read(&nodata, &byte, 1), TTR_READ_ERROR);
        cr_assert_eq(ttr_mem_read(&empty, &byte, 1), 0);
        /* a stream that errors at once: the loader reports IO, not FORMAT */
        ttr_model *sentinel = (ttr_model *)(void *)&sentinel, *out = sentinel;
        cr_assert_eq(ttr_model_load(&out, arena, need, ttr_mem_read, &bad), TTR_ERR_IO);
        cr_assert(out == sentinel);
        cr_assert_eq(ttr_model_load_config(ttr_mem_read, &bad, NULL, NULL), TTR_ERR_IO);
    }

    /* memory writer: NULL writer, data NULL with n > 0, capacity exceeded */
    {
        unsigned char buf[8];
        ttr_mem_writer w = {buf, sizeof buf, 0};
        cr_assert_eq(ttr_mem_write(NULL, "x", 1), -1);
        cr_assert_eq(ttr_mem_write(&w, NULL, 1), -1);
        cr_assert_eq(ttr_mem_write(&w, NULL, 0), 0);
        cr_assert_eq(ttr_mem_write(&w, "abcdef", 6), 0);
        cr_assert_eq(ttr_mem_write(&w, "xyz", 3), -1);
        cr_assert_eq(w.size, 6, "a refused write changes nothing");
        cr_assert_eq(ttr_mem_write(&w, "gh", 2), 0);
        cr_assert(memcmp(buf, "abcdefgh", 8) == 0);
        /* a save into a buffer one byte short fails with IO */
        unsigned char *small = malloc(size - 1);
        ttr_mem_writer ws = {small, size - 1, 0};
        cr_assert_eq(ttr_model_save(m, 1, ttr_mem_write, &ws), TTR_ERR_IO);
        free(small);
    }
    tu_free(arena);
    tu_free(a);
    free(f);
}

/* ---- files ------------------------------------------------------------------- */


Test(io_errors, file_arguments_failed_saves_and_relative_paths)
{
#ifndef IOE_POSIX
    cr_skip_test("POSIX files only");
#else
    ttr_config c, c2;
    ttr_mode md;
    void *a;
    char path[512], tmp[520], rel[64];
    tiny_config(&c, TTR_DOT);
    ttr_model *m = new_model(&c, &a);
    size_t need = ttr_arena_bytes(&c, TTR_MODE_TRAIN);
    void *arena = tu_alloc(need, 0);
    ttr_model *sentinel = (ttr_model *)(void *)&sentinel, *out = sentinel;
    snprintf(path, sizeof path, "%s/ttr-io-errors-%ld.ttr", tu_tmp_dir(), (long)getpid());
    snprintf(tmp, sizeof tmp, "%s.tmp", path);

    /* arguments */
    cr_assert_eq(ttr_model_save_file(NULL, path, 0), TTR_ERR_ARG);
    cr_assert_eq(ttr_model_save_file(m, NULL, 0), TTR_ERR_ARG);
    cr_assert_eq(ttr_model_save_file(m, "", 0), TTR_ERR_ARG);
    {
        /* the documented limit: shorter than 4092 bytes */
        char *longp = malloc(5000);
        memset(longp, 'a', 4999);
        longp[4999] = '\0';
        cr_assert_eq(ttr_model_save_file(m, longp, 0), TTR_ERR_ARG);
        longp[4092] = '\0';
        cr_assert_eq(ttr_model_save_file(m, longp, 0), TTR_ERR_ARG);
        free(longp);
    }
    cr_assert_eq(ttr_model_load_file_config(NULL, &c2, &md), TTR_ERR_ARG);
    cr_assert_eq(ttr_model_load_file_config("/nonexistent/dir/x.ttr", &c2, &md), TTR_ERR_IO);
    cr_assert_eq(ttr_model_load_file(NULL, arena, need, path), TTR_ERR_ARG);
    cr_assert_eq(ttr_model_load_file(&out, NULL, need, path), TTR_ERR_ARG);
    cr_assert_eq(ttr_model_load_file(&out, arena, need, NULL), TTR_ERR_ARG);
    cr_assert(out == sentinel);

    /* a good file first: what every failed save below must leave intact */
    cr_assert_eq(ttr_model_save_file(m, path, 1), TTR_OK);
    size_t n_good;
    unsigned char *good = tu_read_file(path, &n_good);
    cr_assert_not_null(good);
    cr_assert_eq(ttr_model_load_file_config(path, &c2, &md), TTR_OK);
    cr_assert_eq(c2.variant, TTR_DOT);
    cr_assert_eq(ttr_model_load_file(&out, arena, need - 1, path), TTR_ERR_NOMEM);
    cr_assert(out == sentinel);

    /* a directory where the file should go: the rename fails, IO, no .tmp */
    {
        char dir[540];
        snprintf(dir, sizeof dir, "%s.d", path);
        cr_assert_eq(mkdir(dir, 0700), 0);
        char inner[560];
        snprintf(inner, sizeof inner, "%s/keep", dir); /* not empty: rename cannot replace it */
        FILE *fp = fopen(inner, "wb");
        cr_assert_not_null(fp);
        fclose(fp);
        cr_assert_eq(ttr_model_save_file(m, dir, 0), TTR_ERR_IO);
        char dtmp[560];
        snprintf(dtmp, sizeof dtmp, "%s.tmp", dir);
        cr_assert(access(dtmp, F_OK) != 0, "a failed save removes its .tmp");
        struct stat sb;
        cr_assert(stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode), "the directory is untouched");
        unlink(inner);
        rmdir(dir);
    }

    /* a file size limit with SIGXFSZ ignored: write() fails (EFBIG) in this
     * process, the save reports IO, removes its .tmp, the old file stays */
    {
        struct rlimit old, rl;
        void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
        if (getrlimit(RLIMIT_FSIZE, &old) != 0) {
            cr_log_warn("io_errors: getrlimit failed; file size limit not tested");
        } else {
            rl = old;
            rl.rlim_cur = 100; /* the header alone is 164 bytes */
            if (setrlimit(RLIMIT_FSIZE, &rl) != 0) {
                cr_log_warn("io_errors: setrlimit failed; file size limit not tested");
            } else {
                int err = ttr_model_save_file(m, path, 1);
                int restored = setrlimit(RLIMIT_FSIZE, &old);
                cr_assert_eq(restored, 0);
                cr_assert_eq(err, TTR_ERR_IO, "save over the size limit: %d", err);
                cr_assert(access(tmp, F_OK) != 0, "a failed save removes its .tmp");
            }
        }
        signal(SIGXFSZ, old_handler);
        size_t n_now;
        unsigned char *now = tu_read_file(path, &n_now);
        cr_assert_not_null(now);
        cr_assert(n_now == n_good && memcmp(now, good, n_good) == 0, "the old file changed");
        free(now);
    }

    /* a path without a directory part: saved in the working directory
     * (the temporary one for a moment, then back before any assertion: the
     * shim runs every test in this process, golden files are relative) */
    {
        int here = open(".", O_RDONLY);
        cr_assert(here >= 0);
        int err_save = TTR_ERR_ARG, err_load = TTR_ERR_ARG;
        snprintf(rel, sizeof rel, "ttr-io-errors-%ld.ttr", (long)getpid());
        if (chdir(tu_tmp_dir()) == 0) {
            err_save = ttr_model_save_file(m, rel, 0);
            err_load = ttr_model_load_file(&out, arena, need, rel);
            unlink(rel);
        }
        int back = fchdir(here);
        close(here);
        cr_assert_eq(back, 0, "could not return to the working directory");
        cr_assert_eq(err_save, TTR_OK);
        cr_assert_eq(err_load, TTR_OK);
        cr_assert(out != sentinel);
    }

    unlink(path);
    free(good);
    tu_free(arena);
    tu_free(a);
#endif
}

/* ---- the 32-bit size estimate -------------------------------------------------- */

/* Where size_t has 32 bits, ttr_model_load refuses a configuration whose
 * ttr__arena_estimate is above SIZE_MAX / 2 before sizing it, so the
 * estimate must never be below the real size. Checked here on random valid
 * configurations (every variant, sizes up to the limits) in every mode. */
Test(io_errors, arena_estimate_is_never_below_the_arena)
{
    static const ttr_mode modes[3] = {TTR_MODE_TRAIN, TTR_MODE_SERVE_F32, TTR_MODE_SERVE_S8};
    tu_rng r = tu_rng_seed(77);
    int checked = 0, too_big = 0;
    for (int k = 0; k < 3000; k++) {
        ttr_config c;
        /* small or large, each field on its own */
#define PICK(lo, hi) (tu_u32(&r) % 2 ? (lo) + tu_u32(&r) % 4 : (lo) + tu_u32(&r) % ((hi) - (lo) + 1))
        ttr_config_default(&c, (ttr_variant)(tu_u32(&r) % 6), PICK(1u, 65536u));
        c.n_hidden = tu_u32(&r) % (TTR_MAX_HIDDEN + 1);
        for (uint32_t i = 0; i < TTR_MAX_HIDDEN; i++)
            c.hidden[i] = i < c.n_hidden ? PICK(1u, 4096u) : 0;
        c.rows = PICK(1u, 32u);
        c.cols = PICK(1u, 32u);
        c.n_contexts = tu_u32(&r) % 3 ? 0 : PICK(1u, 65536u);
        c.embed_dim = PICK(1u, 256u);
        c.bias_hidden = tu_u32(&r) % 2 ? 0 : PICK(1u, 4096u);
        c.dot_dim = PICK(2u, 64u);
        c.components = PICK(2u, (unsigned)TTR_MAX_COMPONENTS);
        c.attn_dim = PICK(1u, 64u);
        c.max_items = PICK(1u, 1024u);
        c.max_batch = PICK(1u, 65536u);
#undef PICK
        if (ttr_config_check(&c, NULL) != TTR_OK)
            continue;
        double est = ttr__arena_estimate(&c);
        for (int mi = 0; mi < 3; mi++) {
            size_t bytes = ttr_arena_bytes(&c, modes[mi]);
            if (bytes == 0) {
                /* larger than the address space (32-bit targets): so must
                 * the estimate be */
                cr_assert(sizeof(size_t) < 8, "config %d: no size on a 64-bit target", k);
                cr_assert(est > (double)SIZE_MAX, "config %d mode %d: estimate %.0f fits", k,
                          modes[mi], est);
                too_big++;
                continue;
            }
            cr_assert(est >= (double)bytes,
                      "config %d (variant %d, F %u, N %u, batch %u) mode %d: estimate %.0f < %zu",
                      k, c.variant, c.n_features, c.max_items, c.max_batch, modes[mi], est, bytes);
        }
        checked++;
    }
    cr_assert(checked > 1000, "only %d valid configurations", checked);
    if (too_big)
        cr_log_info("io_errors: %d (configuration, mode) pairs larger than size_t", too_big);
}
