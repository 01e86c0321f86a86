/* The .ttr model file (layout in include/ttr_io.h): streaming save and load
 * through caller callbacks, a fixed stack buffer, no allocation. Every value
 * is encoded byte by byte in little-endian order, so the file is the same
 * whatever the host's byte order and struct layout. */
#include <math.h>
#include <string.h>

#include "io_format.h"
#include "model.h"
#include "s8_layout.h"

/* ---- what a model holds: its records ---------------------------------------- */

/* One record: a named f32 array of rows x cols, stored plainly (w) or in the
 * packed panel layout of a dense layer (packed, k = cols), with optional
 * optimizer arrays. */
typedef struct io_rec {
    const char *name;
    uint32_t rows, cols;
    float *w;          /* plain row-major values, or NULL when packed */
    float *packed;     /* serving weights: ttr_gemm_f32_pack layout */
    int8_t *qpacked;   /* int8 serving weights: ttr_gemm_s8_pack layout ... */
    float *wscale;     /* ... and their per-row scales (dtype 1) */
    float *s1, *s2;
    int nonneg;        /* values must also be >= 0 (counts) */
} io_rec;

static const char *const stat_names[5] = {"norm.mean", "norm.scale", "dot.bref", "xpa.attn_mean",
                                          "xpa.attn_n"};

/* An int8 model with its normalisation folded into layer 0 does not keep it
 * (files of version 1 and int8 models of linear towers). */
static int has_norm_records(const ttr_model *m)
{
    return m->norm_mean && !(m->mode == TTR_MODE_SERVE_S8 && m->norm_folded);
}

/* Number of records of model m (tensors first, then the statistics). */
static uint32_t rec_count(const ttr_model *m)
{
    uint32_t n = m->n_tensors + (has_norm_records(m) ? 2 : 0);
    if (m->bref_mean)
        n++;
    if (m->attn_mean)
        n += 2;
    return n;
}

/* Record i of model m (i < rec_count(m)). */
static io_rec rec_get(const ttr_model *m, uint32_t i)
{
    io_rec r;
    memset(&r, 0, sizeof r);
    if (i < m->n_tensors) {
        const ttr__tensor *t = &m->tensors[i];
        r.name = t->name;
        r.rows = t->rows;
        r.cols = t->cols;
        r.w = t->w;
        r.s1 = t->s1;
        r.s2 = t->s2;
        if (!t->w) /* a serving model's weight matrix: only its packed form exists */
            for (uint32_t l = 0; l < m->n_rel; l++)
                if (m->rel[l].W == t) {
                    r.packed = m->rel[l].packed;
                    r.qpacked = m->rel[l].qpacked;
                    r.wscale = m->rel[l].wscale;
                }
        return r;
    }
    i -= m->n_tensors;
    r.rows = 1;
    if (has_norm_records(m)) {
        if (i < 2) {
            r.name = stat_names[i];
            r.cols = m->cfg.n_features;
            r.w = i ? m->norm_scale : m->norm_mean;
            return r;
        }
        i -= 2;
    }
    if (m->bref_mean) {
        if (i == 0) {
            r.name = stat_names[2];
            r.cols = m->f_out;
            r.w = m->bref_mean;
            return r;
        }
        i--;
    }
    if (i == 0) {
        r.name = stat_names[3];
        r.rows = r.cols = m->n_slots;
        r.w = m->attn_mean;
    } else {
        r.name = stat_names[4];
        r.cols = m->n_slots;
        r.w = m->attn_n;
        r.nonneg = 1;
    }
    return r;
}

/* Index of element (row, col) in the packed layout of a rows x k matrix. */
static size_t packed_index(uint32_t row, uint32_t col, uint32_t k)
{
    return (size_t)(row / TTR_F32_PANEL) * TTR_F32_PANEL * k + (size_t)col * TTR_F32_PANEL +
           row % TTR_F32_PANEL;
}

/* ---- saving ---------------------------------------------------------------- */

typedef struct io_out {
    ttr_write_fn fn;
    void *ctx;
    uint32_t crc;
    size_t len;
    int err;
    unsigned char buf[1024];
} io_out;

static void out_flush(io_out *o)
{
    if (o->len && !o->err) {
        o->crc = ttr_crc32(o->crc, o->buf, o->len);
        if (o->fn(o->ctx, o->buf, o->len) != 0)
            o->err = TTR_ERR_IO;
    }
    o->len = 0;
}

static void out_bytes(io_out *o, const void *data, size_t n)
{
    const unsigned char *p = data;
    while (n && !o->err) {
        size_t k = sizeof o->buf - o->len;
        if (k > n)
            k = n;
        memcpy(o->buf + o->len, p, k);
        o->len += k;
        p += k;
        n -= k;
        if (o->len == sizeof o->buf)
            out_flush(o);
    }
}

static void out_u32(io_out *o, uint32_t v)
{
    unsigned char b[4];
    put_u32(b, v);
    out_bytes(o, b, 4);
}

static void out_f32(io_out *o, float v)
{
    out_u32(o, f32_bits(v));
}

static void out_array(io_out *o, const float *a, size_t n)
{
    for (size_t i = 0; i < n && !o->err; i++)
        out_f32(o, a[i]);
}

int ttr_model_save(const ttr_model *m, int with_optimizer_state, ttr_write_fn write, void *ctx)
{
    io_out o;
    unsigned char h[IO_HEADER_BYTES + IO_SCHED_BYTES + IO_META_BYTES + IO_STATE_BYTES];
    uint32_t i, n_rec;
    if (!m || m->magic != TTR__MAGIC || !write)
        return TTR_ERR_ARG;
    if (m->mode != TTR_MODE_TRAIN && m->mode != TTR_MODE_SERVE_F32 &&
        m->mode != TTR_MODE_SERVE_S8)
        return TTR_ERR_ARG;
    int state = m->mode == TTR_MODE_TRAIN && with_optimizer_state;
    n_rec = rec_count(m);

    o.fn = write;
    o.ctx = ctx;
    o.crc = 0;
    o.len = 0;
    o.err = 0;
    memcpy(h, IO_MAGIC, 4);
    /* the lowest version that holds the model, so that every other file
     * stays readable by older loaders: 4 for metadata (impressions, a tag),
     * 3 for a train model's schedule or decoupled weight decay, 2 for an
     * int8 model that keeps its normalisation; version 3 and later carry
     * the schedule block of train models */
    uint32_t version = ttr__io_version_for(m);
    int sched = m->mode == TTR_MODE_TRAIN && version >= 3;
    put_u32(h + 4, version);
    put_u32(h + 8, (uint32_t)m->mode);
    put_u32(h + 12, (state ? IO_FLAG_STATE : 0u) | (m->norm_folded ? IO_FLAG_FOLDED : 0u));
    ttr__io_encode_config(h + 16, &m->cfg);
    unsigned char *p = h + IO_HEADER_BYTES;
    if (sched) {
        ttr__io_encode_sched(p, &m->cfg);
        p += IO_SCHED_BYTES;
    }
    if (version >= 4) {
        ttr__io_encode_meta(p, m);
        p += IO_META_BYTES;
    }
    put_u64(p, m->step);
    put_u64(p + 8, m->rng);
    put_u64(p + 16, f64_bits(m->bref_count));
    put_u32(p + 24, n_rec);
    out_bytes(&o, h, (size_t)(p + IO_STATE_BYTES - h));

    for (i = 0; i < n_rec && !o.err; i++) {
        io_rec r = rec_get(m, i);
        size_t n = (size_t)r.rows * r.cols;
        uint32_t len = (uint32_t)strlen(r.name), n_state = 0;
        if (state)
            n_state = r.s2 ? 2 : r.s1 ? 1 : 0;
        out_u32(&o, len);
        out_bytes(&o, r.name, len);
        out_u32(&o, r.qpacked ? IO_DTYPE_S8 : IO_DTYPE_F32);
        out_u32(&o, r.rows);
        out_u32(&o, r.cols);
        out_u32(&o, n_state);
        if (r.qpacked) {
            size_t kpad = TTR_S8_KPAD(r.cols);
            for (uint32_t row = 0; row < r.rows && !o.err; row++)
                for (uint32_t col = 0; col < r.cols; col++)
                    out_bytes(&o, &r.qpacked[ttr__s8_offset(row, col, kpad)], 1);
            out_array(&o, r.wscale, r.rows);
        } else if (r.packed) {
            for (uint32_t row = 0; row < r.rows && !o.err; row++)
                for (uint32_t col = 0; col < r.cols; col++)
                    out_f32(&o, r.packed[packed_index(row, col, r.cols)]);
        } else {
            out_array(&o, r.w, n);
        }
        if (n_state >= 1)
            out_array(&o, r.s1, n);
        if (n_state >= 2)
            out_array(&o, r.s2, n);
    }
    out_flush(&o);
    if (o.err)
        return o.err;
    unsigned char tail[4];
    put_u32(tail, o.crc);
    return write(ctx, tail, 4) != 0 ? TTR_ERR_IO : TTR_OK;
}

/* ---- loading --------------------------------------------------------------- */

/* Where a record's values go while streaming: plain or packed. */
typedef struct io_sink {
    float *w, *packed;
    uint32_t cols, row, col;
} io_sink;

static void sink_put(io_sink *s, float v)
{
    if (s->packed) {
        s->packed[packed_index(s->row, s->col, s->cols)] = v;
        if (++s->col == s->cols) {
            s->col = 0;
            s->row++;
        }
    } else {
        *s->w++ = v;
    }
}

/* Stream n floats into a sink; *bad collects NaN/Inf (and, with nonneg,
 * negative values) so that a CRC error is reported in preference. */
static int in_floats(io_in *in, io_sink *s, size_t n, int nonneg, int *bad)
{
    unsigned char b[4 * IO_CHUNK];
    while (n) {
        size_t k = n < IO_CHUNK ? n : IO_CHUNK;
        int err = ttr__io_in_bytes(in, b, 4 * k);
        if (err)
            return err;
        for (size_t i = 0; i < k; i++) {
            float v = bits_f32(get_u32(b + 4 * i));
            if (!isfinite(v) || (nonneg && v < 0.0f)) {
                *bad |= 1;
                v = 0.0f;
            }
            sink_put(s, v);
        }
        n -= k;
    }
    return TTR_OK;
}

/* Stream rows x cols int8 weights (row-major in the file) into the packed
 * layout; -128 (outside the kernels' [-127, 127]) counts as a bad value. */
static int in_s8(io_in *in, int8_t *packed, uint32_t rows, uint32_t cols, int *bad)
{
    unsigned char b[4 * IO_CHUNK];
    size_t kpad = TTR_S8_KPAD(cols), n = (size_t)rows * cols, at = 0;
    while (at < n) {
        size_t k = n - at < sizeof b ? n - at : sizeof b;
        int err = ttr__io_in_bytes(in, b, k);
        if (err)
            return err;
        for (size_t i = 0; i < k; i++, at++) {
            int8_t v = (int8_t)((int)b[i] - (b[i] >= 128u ? 256 : 0));
            if (v == -128) {
                *bad |= 2;
                v = 0;
            }
            packed[ttr__s8_offset(at / cols, at % cols, kpad)] = v;
        }
    }
    return TTR_OK;
}

/* A conservative estimate (in bytes, as a double) of ttr_arena_bytes, used
 * only where size_t is narrower than 64 bits, to refuse configurations whose
 * size would not fit in size_t before asking for it. Not static: the tests
 * check on every target that it is never below ttr_arena_bytes. */
double ttr__arena_estimate(const ttr_config *c)
{
    double F = c->n_features, N = c->max_items, de = c->embed_dim, bh = c->bias_hidden;
    double D = c->variant == TTR_DOT ? c->dot_dim : 1, K = c->components, da = c->attn_dim;
    double P = (double)c->rows * c->cols, w = 0, s = 0, maxw = F + de + bh + D, sumh = 0;
    double in = F;
    for (uint32_t i = 0; i < c->n_hidden; i++) {
        w += (in + 1) * (c->hidden[i] + 16);
        in = c->hidden[i];
        sumh += in;
        maxw += in;
    }
    w += (in + 1) * (D + 16);
    double H = in;
    w += K * ((c->rows + c->cols + c->n_contexts + 1.0) * de + (de + 1) * (bh + 16) +
              (bh + de + 1) * (D + 16));
    w += 2 * (de + 1) * (da + 16) + H + de + 1 + 2 * K + 3 * P * P + 2 * P + 3 * F + D;
    s = N * (F + sumh + D + 2 * maxw + K * (de + bh + D) + de + bh + 2 * D + 2 * (K + D + 2) + 1 +
             4 * da + 2 * N + 3 * H + 2 * de);
    return 4.0 * (6.0 * w + s) + 64.0 * 1024.0;
}

static int find_rec(const ttr_model *m, const char *name, uint32_t *idx)
{
    uint32_t n = rec_count(m);
    for (uint32_t i = 0; i < n; i++) {
        io_rec r = rec_get(m, i);
        if (strcmp(r.name, name) == 0) {
            *idx = i;
            return 1;
        }
    }
    return 0;
}

/* ttr_model_load; with step_owner, a train model sharing its per-step region. */
static int load(ttr_model **out, void *arena, size_t bytes, ttr_read_fn read, void *ctx,
                const ttr_model *step_owner)
{
    io_in in = {read, ctx, 0};
    ttr_config cfg;
    ttr_file_info info;
    uint32_t flags, i;
    unsigned char st[IO_STATE_BYTES];
    unsigned char seen[IO_MAX_RECORDS];
    int err, bad = 0;
    ttr_model *m;
    if (!out || !arena || !read)
        return TTR_ERR_ARG;
    err = ttr__io_read_header(&in, &cfg, &flags, &info);
    if (err)
        return err;
    ttr_mode mode = info.mode;
    if (sizeof(size_t) < 8 && ttr__arena_estimate(&cfg) > (double)SIZE_MAX / 2)
        return TTR_ERR_RANGE;
    if (step_owner && mode != TTR_MODE_TRAIN)
        return TTR_ERR_FORMAT;
    size_t need = step_owner ? ttr__shared_step_bytes(&cfg) : ttr_arena_bytes(&cfg, mode);
    if (need == 0)
        return TTR_ERR_RANGE;
    if (bytes < need)
        return TTR_ERR_NOMEM;
    err = ttr__io_in_bytes(&in, st, sizeof st);
    if (err)
        return err;
    uint64_t step = get_u64(st), rng = get_u64(st + 8);
    double bref_count = bits_f64(get_u64(st + 16));
    uint32_t n_rec = get_u32(st + 24);
    if (!isfinite(bref_count) || bref_count < 0.0)
        bad = 1;

    err = step_owner ? ttr__model_create_sharing(&m, &cfg, arena, bytes, step_owner)
                     : ttr__model_create(&m, &cfg, mode, arena, bytes);
    if (err)
        return err;
    m->norm_folded = (flags & IO_FLAG_FOLDED) != 0; /* decides the records of int8 models */
    uint32_t want = rec_count(m);
    if (want > IO_MAX_RECORDS)
        return TTR_ERR_RANGE; /* unreachable: configurations have at most ~90 */
    if (n_rec != want)
        return TTR_ERR_FORMAT;
    int state = (flags & IO_FLAG_STATE) != 0;
    memset(seen, 0, sizeof seen);

    for (i = 0; i < n_rec; i++) {
        unsigned char b[20];
        char name[IO_NAME_MAX + 1];
        uint32_t idx;
        if ((err = ttr__io_in_bytes(&in, b, 4)) != 0)
            return err;
        uint32_t len = get_u32(b);
        if (len < 1 || len > IO_NAME_MAX)
            return TTR_ERR_RANGE;
        if ((err = ttr__io_in_bytes(&in, name, len)) != 0)
            return err;
        name[len] = '\0';
        if (memchr(name, '\0', len))
            return TTR_ERR_FORMAT;
        if ((err = ttr__io_in_bytes(&in, b, 16)) != 0)
            return err;
        uint32_t dtype = get_u32(b), rows = get_u32(b + 4), cols = get_u32(b + 8);
        uint32_t n_state = get_u32(b + 12);
        if (!find_rec(m, name, &idx))
            return TTR_ERR_FORMAT;
        if (seen[idx])
            return TTR_ERR_FORMAT;
        seen[idx] = 1;
        io_rec r = rec_get(m, idx);
        uint32_t want_state = state ? (r.s2 ? 2u : r.s1 ? 1u : 0u) : 0u;
        if (dtype != (r.qpacked ? IO_DTYPE_S8 : IO_DTYPE_F32))
            return TTR_ERR_FORMAT;
        if (rows != r.rows || cols != r.cols || n_state != want_state)
            return TTR_ERR_RANGE;
        size_t n = (size_t)rows * cols;
        if (r.qpacked) {
            /* int8 rows straight into the packed layout (padding stays 0
             * from the model's creation), then the scales */
            if ((err = in_s8(&in, r.qpacked, rows, cols, &bad)) != 0)
                return err;
            io_sink sc = {r.wscale, NULL, 1, 0, 0};
            if ((err = in_floats(&in, &sc, rows, 1, &bad)) != 0)
                return err;
            continue;
        }
        io_sink s = {r.w, r.packed, cols, 0, 0};
        if ((err = in_floats(&in, &s, n, r.nonneg, &bad)) != 0)
            return err;
        if (n_state >= 1) {
            io_sink s1 = {r.s1, NULL, cols, 0, 0};
            if ((err = in_floats(&in, &s1, n, 0, &bad)) != 0)
                return err;
        }
        if (n_state >= 2) {
            io_sink s2 = {r.s2, NULL, cols, 0, 0};
            if ((err = in_floats(&in, &s2, n, 1, &bad)) != 0)
                return err;
        }
    }
    /* n_rec == want with no unknown or duplicate name: none is missing */
    if ((err = ttr__io_in_crc(&in)) != 0)
        return err;
    if (bad & 2)
        return TTR_ERR_RANGE; /* an int8 weight of -128 */
    if (bad)
        return TTR_ERR_NONFINITE;

    if (m->bref_mean)
        m->bref_count = bref_count;
    if (state) {
        m->step = step;
        m->rng = rng;
    }
    m->impressions = info.impressions;
    memcpy(m->tag, info.tag, sizeof m->tag);
    ttr__repack(m); /* train mode: packed weights from the loaded W */
    *out = m;
    return TTR_OK;
}

int ttr_model_load(ttr_model **out, void *arena, size_t bytes, ttr_read_fn read, void *ctx)
{
    return load(out, arena, bytes, read, ctx, NULL);
}

int ttr__model_load_sharing(ttr_model **out, void *arena, size_t bytes, ttr_read_fn read,
                            void *ctx, const ttr_model *owner)
{
    return owner ? load(out, arena, bytes, read, ctx, owner) : TTR_ERR_ARG;
}

/* ---- memory streams ---------------------------------------------------------- */

size_t ttr_mem_read(void *reader, void *buf, size_t n)
{
    ttr_mem_reader *r = reader;
    if (!r || !buf || r->pos > r->size || (r->size > r->pos && !r->data))
        return TTR_READ_ERROR;
    size_t k = r->size - r->pos;
    if (k > n)
        k = n;
    if (k) { /* an empty reader may have data == NULL: no memcpy from it */
        memcpy(buf, (const unsigned char *)r->data + r->pos, k);
        r->pos += k;
    }
    return k;
}

int ttr_mem_write(void *writer, const void *data, size_t n)
{
    ttr_mem_writer *w = writer;
    if (!w || (n && !data))
        return -1;
    if (w->data) {
        if (n > w->cap || w->size > w->cap - n)
            return -1;
        if (n) /* data may be NULL when n == 0 */
            memcpy((unsigned char *)w->data + w->size, data, n);
    }
    w->size += n;
    return 0;
}
