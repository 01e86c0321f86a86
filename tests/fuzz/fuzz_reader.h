/* The body of the two reader fuzz targets (fuzz_letor.c, fuzz_clicklog.c):
 * include after defining FUZZ_KIND_CLICKS to 0 (LETOR/SVMlight, with or
 * without a .query stream) or 1 (click log).
 *
 * Input: two option bytes, then the data. LETOR inputs whose options ask for
 * groups split the rest at the first NUL byte: data before it, the .query
 * stream after it.
 *   byte 0, bits 0-1  n_features: 0 (scan mode; click logs: the header's), 3, 8, 46
 *           bits 2-3  max_items: 1, 3, 10, 1024
 *           bit 4     a qid table of 8 entries (detects reappearing qids)
 *           bit 5     LETOR: a .query stream; click log: n_contexts = 3
 *           bits 6-7  LETOR: max_label 31, 4, 1, 0; click log: layout
 *                     0x0 (header or none), 10x1, 2x5, 1x1
 *   byte 1            chunk sizes of the callback reads, the small line buffer
 *
 * Each input is read three times:
 *   A. from memory, checking every list: 1 <= n <= max_items, labels in
 *      range, clicks 0/1 and equal to the labels, slots inside the layout and
 *      distinct, features finite, the reader writing nothing past F in a row;
 *      statistics matching what was returned; errors sticky, an end final;
 *   B. through a read callback handing out a few bytes per call, with a line
 *      buffer large enough for any line: exactly the lists, code, line,
 *      column and message of A;
 *   C. the same with a small line buffer: a prefix of A's lists, then A's
 *      end or TTR_ERR_NOMEM "line longer than the line buffer".
 * Click logs: the first two lists read with features are written with the
 * click-log writer (after a layout header) and read back: the same lists,
 * bit for bit. */
#include <math.h>
#include <string.h>

#include "fuzz_common.h"
#include "ttr_data.h"
#include "ttr_io.h"

#ifndef FUZZ_KIND_CLICKS
#error "define FUZZ_KIND_CLICKS"
#endif

#define FZ_MAX_LISTS 70000u
#define FZ_X_CAP (1u << 20) /* floats */
#define FZ_PAD_BITS 0x7FC0DEADu /* a NaN that the reader never writes */

static ttr_reader rd;
static uint64_t digests[FZ_MAX_LISTS];
static float xs[FZ_X_CAP];
static float labels[TTR_DATA_MAX_ITEMS];
static uint8_t clicks[TTR_DATA_MAX_ITEMS];
static uint16_t slots[TTR_DATA_MAX_ITEMS];
static uint64_t qid_table[8];
static char line_buf[1u << 17], group_buf[1u << 17];
#if FUZZ_KIND_CLICKS
/* the writer's round trip */
static ttr_reader rd2;
static char wbuf[1u << 16];
static char wout[1u << 21];
static float xs2[FZ_X_CAP];
static float labels2[TTR_DATA_MAX_ITEMS];
static uint8_t clicks2[TTR_DATA_MAX_ITEMS];
static uint16_t slots2[TTR_DATA_MAX_ITEMS];
#endif

typedef struct outcome {
    size_t n_lists;
    int rc;
    unsigned long line, col;
    const char *msg;
    int in_groups;
} outcome;

typedef struct chunked {
    const uint8_t *data;
    size_t size, pos, chunk, calls;
} chunked;

/* Hands out 1..chunk bytes per call, varying. */
static size_t chunked_read(void *ctx, void *buf, size_t n)
{
    chunked *c = (chunked *)ctx;
    size_t k = c->size - c->pos, lim = 1 + (c->calls++ * 7u) % c->chunk;
    if (k > lim)
        k = lim;
    if (k > n)
        k = n;
    if (k == 0)
        return 0;
    memcpy(buf, c->data + c->pos, k);
    c->pos += k;
    return k;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = (const unsigned char *)p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001B3ull;
    return h;
}

static uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float pad_value(void)
{
    float f;
    uint32_t u = FZ_PAD_BITS;
    memcpy(&f, &u, 4);
    return f;
}

typedef struct setup {
    ttr_reader_config cfg;
    const uint8_t *data, *groups;
    size_t data_size, groups_size;
    int has_groups;
    unsigned chunk1, chunk2, small_buf;
} setup;

/* The list arrays: x with ldx = F + 1 (the extra column must stay untouched)
 * when F is known and the arrays fit, else no features. */
static ttr_list list_arrays(uint32_t nf, uint32_t max_items, float *x, float *lab, uint8_t *clk,
                            uint16_t *slt)
{
    ttr_list l;
    memset(&l, 0, sizeof l);
    l.labels = lab;
    l.clicks = clk;
    l.slots = slt;
    if (nf > 0 && (size_t)max_items * (nf + 1) <= FZ_X_CAP) {
        l.x = x;
        l.ldx = (size_t)nf + 1;
        float pad = pad_value();
        for (size_t i = 0; i < max_items; i++)
            x[i * l.ldx + nf] = pad;
    }
    return l;
}

static int open_reader(ttr_reader *r, const setup *s, int mode, ttr_source *src, ttr_source *grp)
{
    static chunked cd, cg;
    ttr_reader_config cfg = s->cfg;
    if (mode == 0) {
        *src = ttr_source_memory(s->data, s->data_size);
        *grp = ttr_source_memory(s->groups, s->groups_size);
    } else {
        size_t cap = mode == 1 ? sizeof line_buf : s->small_buf;
        cd = (chunked){s->data, s->data_size, 0, mode == 1 ? s->chunk1 : s->chunk2, 0};
        cg = (chunked){s->groups, s->groups_size, 0, mode == 1 ? s->chunk2 : s->chunk1, 0};
        *src = ttr_source_callback(chunked_read, &cd, line_buf, cap);
        *grp = ttr_source_callback(chunked_read, &cg, group_buf, cap);
    }
#if FUZZ_KIND_CLICKS
    (void)grp;
    return ttr_clicks_open(r, &cfg, src);
#else
    return ttr_letor_open(r, &cfg, src, s->has_groups ? grp : NULL);
#endif
}

#if FUZZ_KIND_CLICKS
/* Write list l (F features, layout rows x cols) with the click-log writer
 * after a layout header and read it back: the same list, bit for bit. */
static void round_trip(const ttr_list *l, uint32_t nf, uint32_t rows, uint32_t cols,
                       uint32_t max_items, uint32_t n_ctx)
{
    ttr_writer w;
    ttr_mem_writer mw = {wout, sizeof wout, 0};
    uint32_t ctx = l->context;
    FUZZ_CHECK(ttr_clicks_writer_open(&w, ttr_mem_write, &mw, wbuf, sizeof wbuf, rows, cols,
                                      nf) == TTR_OK);
    FUZZ_CHECK(ttr_clicks_write_header(&w) == TTR_OK);
    int rc = ttr_clicks_write_list(&w, l->qid, l->has_context ? &ctx : NULL, l->n, l->x,
                                   l->ldx, l->slots, l->clicks);
    if (rc == TTR_OK)
        rc = ttr_writer_flush(&w);
    if (rc == TTR_ERR_IO)
        return; /* larger than wout */
    FUZZ_CHECK(rc == TTR_OK);

    ttr_reader_config cfg;
    ttr_source src = ttr_source_memory(wout, mw.size);
    ttr_reader_config_default(&cfg);
    cfg.max_items = max_items;
    cfg.n_contexts = n_ctx;
    FUZZ_CHECK(ttr_clicks_open(&rd2, &cfg, &src) == TTR_OK);
    uint32_t hr, hc, hf;
    FUZZ_CHECK(ttr_clicks_layout(&rd2, &hr, &hc, &hf) == 1);
    FUZZ_CHECK(hr == rows && hc == cols && hf == nf);
    ttr_list l2 = list_arrays(nf, max_items, xs2, labels2, clicks2, slots2);
    FUZZ_CHECK(l2.x != NULL);
    rc = ttr_reader_next(&rd2, &l2);
    if (rc != 1) {
        const char *msg;
        unsigned long line, col;
        ttr_reader_error(&rd2, &line, &col, &msg, NULL);
        fprintf(stderr, "round trip: %d %lu:%lu %s\n%.*s", rc, line, col, msg,
                (int)(mw.size < 2000 ? mw.size : 2000), wout);
    }
    FUZZ_CHECK(rc == 1);
    FUZZ_CHECK(l2.n == l->n && l2.qid == l->qid && l2.has_qid && l2.line == 2);
    FUZZ_CHECK(l2.has_context == l->has_context && l2.context == l->context);
    FUZZ_CHECK(memcmp(labels2, l->labels, l->n * sizeof(float)) == 0);
    FUZZ_CHECK(memcmp(clicks2, l->clicks, l->n) == 0);
    FUZZ_CHECK(memcmp(slots2, l->slots, l->n * sizeof(uint16_t)) == 0);
    for (size_t i = 0; i < l->n; i++)
        FUZZ_CHECK(memcmp(l2.x + i * l2.ldx, l->x + i * l->ldx, nf * sizeof(float)) == 0);
    FUZZ_CHECK(ttr_reader_next(&rd2, &l2) == 0);
}
#endif

static void run_pass(const setup *s, int mode, outcome *o)
{
    ttr_source src, grp;
    ttr_list l;
    uint32_t nf = s->cfg.n_features, rows = s->cfg.rows, cols = s->cfg.cols;
    uint64_t items = 0;
    size_t max_list = 0;
    int rc = open_reader(&rd, s, mode, &src, &grp);
    FUZZ_CHECK(rc == TTR_OK);
    memset(o, 0, sizeof *o);
#if FUZZ_KIND_CLICKS
    {
        uint32_t hr = 0, hc = 0, hf = 0;
        rc = ttr_clicks_layout(&rd, &hr, &hc, &hf);
        FUZZ_CHECK(rc <= 1);
        if (rc >= 0) {
            if (rc == 1) {
                FUZZ_CHECK(hr >= 1 && hc >= 1 && (uint64_t)hr * hc <= TTR_DATA_MAX_SLOTS);
                FUZZ_CHECK(hf >= 1 && hf <= TTR_DATA_MAX_FEATURES);
                FUZZ_CHECK(!s->cfg.n_features || hf == s->cfg.n_features);
                FUZZ_CHECK(!s->cfg.rows || (hr == s->cfg.rows && hc == s->cfg.cols));
            } else {
                FUZZ_CHECK(hr == s->cfg.rows && hc == s->cfg.cols && hf == s->cfg.n_features);
            }
            nf = hf;
            rows = hr;
            cols = hc;
        }
    }
#endif
    l = list_arrays(nf, s->cfg.max_items, xs, labels, clicks, slots);
    uint32_t n_slots = rows ? rows * cols : TTR_DATA_MAX_SLOTS;
    (void)n_slots; /* LETOR: no slots */
    while (rc >= 0) {
        rc = ttr_reader_next(&rd, &l);
        FUZZ_CHECK(rc <= 1 && rc != TTR_ERR_ARG);
        if (rc != 1)
            break;
        /* one list */
        FUZZ_CHECK(l.n >= 1 && l.n <= s->cfg.max_items);
        FUZZ_CHECK(l.line >= 1);
        uint64_t h = 0xCBF29CE484222325ull;
        h = fnv(h, &l.n, sizeof l.n);
        h = fnv(h, &l.qid, sizeof l.qid);
        h = fnv(h, &l.has_qid, sizeof l.has_qid);
        h = fnv(h, &l.context, sizeof l.context);
        h = fnv(h, &l.has_context, sizeof l.has_context);
        h = fnv(h, &l.line, sizeof l.line);
        h = fnv(h, labels, l.n * sizeof labels[0]);
        if (!s->has_groups || FUZZ_KIND_CLICKS)
            FUZZ_CHECK(l.has_qid);
        for (size_t i = 0; i < l.n; i++) {
            FUZZ_CHECK(isfinite(labels[i]) && labels[i] >= 0.0f);
#if FUZZ_KIND_CLICKS
            FUZZ_CHECK(clicks[i] <= 1 && labels[i] == (float)clicks[i]);
            FUZZ_CHECK(slots[i] < n_slots);
            for (size_t j = 0; j < i; j++)
                FUZZ_CHECK(slots[j] != slots[i]);
            FUZZ_CHECK(!l.has_context || l.context < (s->cfg.n_contexts ? s->cfg.n_contexts
                                                                       : TTR_DATA_MAX_CONTEXTS));
#else
            FUZZ_CHECK(labels[i] <= s->cfg.max_label);
#endif
            if (l.x) {
                const float *row = l.x + i * l.ldx;
                for (uint32_t t = 0; t < nf; t++)
                    FUZZ_CHECK(isfinite(row[t]));
                FUZZ_CHECK(f32_bits(row[nf]) == FZ_PAD_BITS);
                h = fnv(h, row, nf * sizeof(float));
            }
        }
#if FUZZ_KIND_CLICKS
        h = fnv(h, clicks, l.n);
        h = fnv(h, slots, l.n * sizeof slots[0]);
        if (mode == 0 && l.x && o->n_lists < 2) /* the writer's float formatting is slow */
            round_trip(&l, nf, rows ? rows : TTR_DATA_MAX_SLOTS, rows ? cols : 1,
                       s->cfg.max_items, s->cfg.n_contexts);
#endif
        if (mode == 0) {
            FUZZ_CHECK(o->n_lists < FZ_MAX_LISTS);
            digests[o->n_lists] = h;
        } else {
            /* B and C: the list that A returned at this place */
            FUZZ_CHECK(o->n_lists < FZ_MAX_LISTS && digests[o->n_lists] == h);
        }
        o->n_lists++;
        items += l.n;
        if (l.n > max_list)
            max_list = l.n;
        ttr_reader_stats st;
        ttr_reader_stats_get(&rd, &st);
        FUZZ_CHECK(st.lists == o->n_lists && st.items == items && st.max_list == max_list);
        FUZZ_CHECK(st.max_index <= (nf ? nf : TTR_DATA_MAX_FEATURES));
    }
    o->rc = rc;
    int code = ttr_reader_error(&rd, &o->line, &o->col, &o->msg, &o->in_groups);
    FUZZ_CHECK(code == rc && o->msg != NULL);
    FUZZ_CHECK(rc == 0 ? (o->line == 0 && o->col == 0) : o->line >= 1);
    /* sticky: the end stays the end, an error stays */
    FUZZ_CHECK(ttr_reader_next(&rd, &l) == rc && l.n == 0);
    FUZZ_CHECK(ttr_reader_next(&rd, &l) == rc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint32_t nfs[4] = {0, 3, 8, 46}, items[4] = {1, 3, 10, 1024};
    setup s;
    outcome a, b, c;
    if (size < 2)
        return 0;
    uint8_t opt = data[0], opt2 = data[1];
    memset(&s, 0, sizeof s);
    ttr_reader_config_default(&s.cfg);
    s.cfg.n_features = nfs[opt & 3];
    s.cfg.max_items = items[(opt >> 2) & 3];
    if (opt & 16) {
        s.cfg.qid_table = qid_table;
        s.cfg.qid_table_size = sizeof qid_table / sizeof qid_table[0];
    }
    s.data = data + 2;
    s.data_size = size - 2;
#if FUZZ_KIND_CLICKS
    static const uint32_t rws[4] = {0, 10, 2, 1}, cls[4] = {0, 1, 5, 1};
    if (opt & 32)
        s.cfg.n_contexts = 3;
    s.cfg.rows = rws[opt >> 6];
    s.cfg.cols = cls[opt >> 6];
#else
    static const float labs[4] = {31.0f, 4.0f, 1.0f, 0.0f};
    s.cfg.max_label = labs[opt >> 6];
    if (opt & 32) {
        const uint8_t *nul = (const uint8_t *)memchr(s.data, 0, s.data_size);
        s.has_groups = 1;
        if (nul) {
            s.groups = nul + 1;
            s.groups_size = s.data_size - (size_t)(nul + 1 - s.data);
            s.data_size = (size_t)(nul - s.data);
        }
    }
#endif
    if (s.data_size + 2 > sizeof line_buf || s.groups_size + 2 > sizeof group_buf)
        return 0;
    s.chunk1 = 1 + (opt2 & 7u) * 9u;
    s.chunk2 = 1 + (opt2 >> 3 & 3u);
    s.small_buf = 2 + (opt2 >> 5) * 9u;

    run_pass(&s, 0, &a);
    run_pass(&s, 1, &b);
    FUZZ_CHECK(a.n_lists == b.n_lists && a.rc == b.rc && a.line == b.line && a.col == b.col &&
               a.in_groups == b.in_groups && strcmp(a.msg, b.msg) == 0);
    run_pass(&s, 2, &c);
#ifdef FUZZ_DEBUG
    fprintf(stderr, "lists %zu, end %d %lu:%lu %s; small buffer: lists %zu, end %d %s\n",
            a.n_lists, a.rc, a.line, a.col, a.msg, c.n_lists, c.rc, c.msg);
#endif
    if (c.rc == TTR_ERR_NOMEM && strcmp(c.msg, "line longer than the line buffer") == 0) {
        FUZZ_CHECK(c.n_lists <= a.n_lists);
    } else {
        FUZZ_CHECK(a.n_lists == c.n_lists && a.rc == c.rc && a.line == c.line &&
                   a.col == c.col && a.in_groups == c.in_groups && strcmp(a.msg, c.msg) == 0);
    }
    return 0;
}
