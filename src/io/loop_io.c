/* Loop checkpoints: everything ttr_loop_observe depends on (both models
 * with their optimizer state, the buffer, the window, the counters and the
 * replay generator), so that a loop resumed from one continues bit for bit.
 * Layout in docs/formats.md ("Loop checkpoints"). */
#include <string.h>

#include "../loop_internal.h"
#include "io_format.h"
#include "ttr_io.h"

#define LOOP_MAGIC "TTRL"
#define LOOP_VERSION 1u
#define LOOP_HEAD_BYTES 192u  /* magic, version, model config + schedule, loop config */
#define LOOP_STATE_BYTES 112u /* generator, counters, constant rate, EWMAs, cursor */
#define LOOP_BLOCK_BYTES 40u  /* one window block: 3 f64, 2 u64 */
#define LOOP_RING_BYTES 16u   /* head, count, added */

/* ---- writing: every byte through the callback and into the CRC ------------ */

typedef struct loop_out {
    ttr_write_fn fn;
    void *ctx;
    uint32_t crc;
    int err;
} loop_out;

static int out_write(void *ctx, const void *data, size_t n)
{
    loop_out *o = ctx;
    if (o->err || o->fn(o->ctx, data, n) != 0) {
        o->err = 1;
        return -1;
    }
    o->crc = ttr_crc32(o->crc, data, n);
    return 0;
}

static void out_u16s(loop_out *o, const uint16_t *v, size_t n)
{
    unsigned char b[512];
    while (n && !o->err) {
        size_t k = n < sizeof b / 2 ? n : sizeof b / 2;
        for (size_t i = 0; i < k; i++)
            b[2 * i] = (unsigned char)v[i], b[2 * i + 1] = (unsigned char)(v[i] >> 8);
        (void)out_write(o, b, 2 * k);
        v += k, n -= k;
    }
}

static void out_u32s(loop_out *o, const uint32_t *v, size_t n)
{
    unsigned char b[512];
    while (n && !o->err) {
        size_t k = n < sizeof b / 4 ? n : sizeof b / 4;
        for (size_t i = 0; i < k; i++)
            put_u32(b + 4 * i, v[i]);
        (void)out_write(o, b, 4 * k);
        v += k, n -= k;
    }
}

static void encode_head(unsigned char *h, const ttr_loop *L)
{
    const ttr_loop_config *lc = &L->lc;
    memcpy(h, LOOP_MAGIC, 4);
    put_u32(h + 4, LOOP_VERSION);
    ttr__io_encode_config(h + 8, &L->mc);
    ttr__io_encode_sched(h + 128, &L->mc);
    put_u32(h + 152, lc->capacity);
    put_u32(h + 156, (uint32_t)lc->precision);
    put_u32(h + 160, lc->train_every);
    put_u32(h + 164, lc->replay);
    put_u32(h + 168, lc->window);
    put_u32(h + 172, f32_bits(lc->promote_margin));
    put_u32(h + 176, f32_bits(lc->rollback_margin));
    put_u32(h + 180, f32_bits(lc->min_gain));
    put_u64(h + 184, lc->seed);
}

static void encode_block(unsigned char *p, const ttr__pv_block *b)
{
    put_u64(p, f64_bits(b->learner));
    put_u64(p + 8, f64_bits(b->champion));
    put_u64(p + 16, f64_bits(b->constant));
    put_u64(p + 24, b->items);
    put_u64(p + 32, b->impressions);
}

static void encode_state(unsigned char *s, const ttr_loop *L)
{
    put_u64(s, L->rng);
    put_u32(s + 8, L->pending);
    put_u32(s + 12, L->n_blocks);
    put_u32(s + 16, L->block_head);
    put_u32(s + 20, L->block_fill);
    put_u64(s + 24, L->clicks_seen);
    put_u64(s + 32, L->items_seen);
    put_u64(s + 40, f64_bits(L->ew_learner));
    put_u64(s + 48, f64_bits(L->ew_champion));
    put_u64(s + 56, f64_bits(L->ew_items));
    put_u64(s + 64, L->impressions);
    put_u64(s + 72, L->steps);
    put_u64(s + 80, L->failed_steps);
    put_u64(s + 88, L->promotions);
    put_u64(s + 96, L->rollbacks);
    put_u64(s + 104, L->cursor);
}

static void write_ring(loop_out *o, const ttr_replay *r)
{
    unsigned char h[LOOP_RING_BYTES];
    size_t cells = (size_t)r->cap * r->N;
    put_u32(h, r->head);
    put_u32(h + 4, r->count);
    put_u64(h + 8, r->added);
    (void)out_write(o, h, sizeof h);
    if (r->feat16)
        out_u16s(o, r->feat16, cells * r->F);
    else
        out_u32s(o, (const uint32_t *)(const void *)r->feat32, cells * r->F);
    out_u16s(o, r->n_items, r->cap);
    out_u32s(o, r->context, r->cap);
    out_u16s(o, r->slots, cells);
    if (!o->err)
        (void)out_write(o, r->clicks, cells);
}

int ttr_loop_save(const ttr_loop *L, ttr_write_fn write, void *ctx)
{
    unsigned char h[LOOP_HEAD_BYTES + LOOP_STATE_BYTES + LOOP_BLOCK_BYTES];
    if (!L || L->magic != TTR__LOOP_MAGIC || !write)
        return TTR_ERR_ARG;
    loop_out o = {write, ctx, 0, 0};
    encode_head(h, L);
    encode_state(h + LOOP_HEAD_BYTES, L);
    (void)out_write(&o, h, LOOP_HEAD_BYTES + LOOP_STATE_BYTES);
    for (uint32_t i = 0; i <= TTR__LOOP_BLOCKS && !o.err; i++) {
        encode_block(h, i < TTR__LOOP_BLOCKS ? &L->blocks[i] : &L->cur);
        (void)out_write(&o, h, LOOP_BLOCK_BYTES);
    }
    write_ring(&o, L->ring);
    if (!o.err && (ttr_model_save(L->learner, 1, out_write, &o) != TTR_OK ||
                   ttr_model_save(L->champion, 1, out_write, &o) != TTR_OK))
        o.err = 1;
    if (!o.err) {
        unsigned char c[4];
        put_u32(c, o.crc);
        if (write(ctx, c, 4) != 0)
            o.err = 1;
    }
    return o.err ? TTR_ERR_IO : TTR_OK;
}

/* ---- reading ----------------------------------------------------------------- */

static int decode_head(const unsigned char *h, ttr_config *mc, ttr_loop_config *lc)
{
    if (memcmp(h, LOOP_MAGIC, 4) != 0)
        return TTR_ERR_FORMAT;
    if (get_u32(h + 4) != LOOP_VERSION)
        return get_u32(h + 4) > LOOP_VERSION ? TTR_ERR_UNSUPPORTED : TTR_ERR_FORMAT;
    int err = ttr__io_decode_config(h + 8, h + 128, mc);
    if (err)
        return err;
    uint32_t precision = get_u32(h + 156);
    if (precision > TTR_REPLAY_F32)
        return TTR_ERR_RANGE;
    memset(lc, 0, sizeof *lc);
    lc->capacity = get_u32(h + 152);
    lc->precision = (ttr_replay_precision)precision;
    lc->train_every = get_u32(h + 160);
    lc->replay = get_u32(h + 164);
    lc->window = get_u32(h + 168);
    lc->promote_margin = bits_f32(get_u32(h + 172));
    lc->rollback_margin = bits_f32(get_u32(h + 176));
    lc->min_gain = bits_f32(get_u32(h + 180));
    lc->seed = get_u64(h + 184);
    return ttr_loop_config_check(mc, lc, NULL) ? TTR_ERR_RANGE : TTR_OK;
}

int ttr_loop_load_config(ttr_read_fn read, void *ctx, ttr_config *mc, ttr_loop_config *lc)
{
    io_in in = {read, ctx, 0};
    unsigned char h[LOOP_HEAD_BYTES];
    ttr_config c;
    ttr_loop_config l;
    if (!read)
        return TTR_ERR_ARG;
    int err = ttr__io_in_bytes(&in, h, sizeof h);
    if (!err)
        err = decode_head(h, &c, &l);
    if (err)
        return err;
    if (mc)
        *mc = c;
    if (lc)
        *lc = l;
    return TTR_OK;
}

static void decode_block(const unsigned char *p, ttr__pv_block *b)
{
    b->learner = bits_f64(get_u64(p));
    b->champion = bits_f64(get_u64(p + 8));
    b->constant = bits_f64(get_u64(p + 16));
    b->items = get_u64(p + 24);
    b->impressions = get_u64(p + 32);
}

/* The state block; TTR_ERR_RANGE for positions a loop of lc cannot have. */
static int decode_state(const unsigned char *s, ttr_loop *L)
{
    L->rng = get_u64(s);
    L->pending = get_u32(s + 8);
    L->n_blocks = get_u32(s + 12);
    L->block_head = get_u32(s + 16);
    L->block_fill = get_u32(s + 20);
    L->clicks_seen = get_u64(s + 24);
    L->items_seen = get_u64(s + 32);
    L->ew_learner = bits_f64(get_u64(s + 40));
    L->ew_champion = bits_f64(get_u64(s + 48));
    L->ew_items = bits_f64(get_u64(s + 56));
    L->impressions = get_u64(s + 64);
    L->steps = get_u64(s + 72);
    L->failed_steps = get_u64(s + 80);
    L->promotions = get_u64(s + 88);
    L->rollbacks = get_u64(s + 96);
    L->cursor = get_u64(s + 104);
    if (L->pending >= L->lc.train_every || L->n_blocks > TTR__LOOP_BLOCKS ||
        L->block_head >= TTR__LOOP_BLOCKS || L->block_fill >= L->lc.window / TTR__LOOP_BLOCKS)
        return TTR_ERR_RANGE;
    return TTR_OK;
}

/* A ttr_read_fn over an io_in: what it reads goes into the loop's CRC. */
static size_t in_read(void *ctx, void *buf, size_t n)
{
    io_in *in = ctx;
    size_t r = in->fn(in->ctx, buf, n);
    if (r != TTR_READ_ERROR && r > 0 && r <= n)
        in->crc = ttr_crc32(in->crc, buf, r);
    return r;
}

static int in_u16s(io_in *in, uint16_t *v, size_t n)
{
    unsigned char b[512];
    while (n) {
        size_t k = n < sizeof b / 2 ? n : sizeof b / 2;
        int err = ttr__io_in_bytes(in, b, 2 * k);
        if (err)
            return err;
        for (size_t i = 0; i < k; i++)
            v[i] = (uint16_t)(b[2 * i] | b[2 * i + 1] << 8);
        v += k, n -= k;
    }
    return TTR_OK;
}

static int in_u32s(io_in *in, uint32_t *v, size_t n)
{
    unsigned char b[512];
    while (n) {
        size_t k = n < sizeof b / 4 ? n : sizeof b / 4;
        int err = ttr__io_in_bytes(in, b, 4 * k);
        if (err)
            return err;
        for (size_t i = 0; i < k; i++)
            v[i] = get_u32(b + 4 * i);
        v += k, n -= k;
    }
    return TTR_OK;
}

static int read_ring(io_in *in, ttr_replay *r)
{
    unsigned char h[LOOP_RING_BYTES];
    size_t cells = (size_t)r->cap * r->N;
    int err = ttr__io_in_bytes(in, h, sizeof h);
    if (err)
        return err;
    r->head = get_u32(h);
    r->count = get_u32(h + 4);
    r->added = get_u64(h + 8);
    if (r->head >= r->cap || r->count > r->cap || r->count > r->added)
        return TTR_ERR_RANGE;
    if (r->feat16)
        err = in_u16s(in, r->feat16, cells * r->F);
    else
        err = in_u32s(in, (uint32_t *)(void *)r->feat32, cells * r->F);
    if (!err)
        err = in_u16s(in, r->n_items, r->cap);
    if (!err)
        err = in_u32s(in, r->context, r->cap);
    if (!err)
        err = in_u16s(in, r->slots, cells);
    if (!err)
        err = ttr__io_in_bytes(in, r->clicks, cells);
    for (size_t i = 0; !err && i < r->cap; i++)
        if (r->n_items[i] > r->N)
            err = TTR_ERR_RANGE;
    return err;
}

/* One embedded model into its place in the loop: a train model of the
 * loop's structure (its rate may have been changed since: it is the
 * model's own). */
/* A model of the checkpoint; with owner, one that shares its per-step region. */
static int read_model(io_in *in, ttr_model **m, void *buf, size_t bytes, const ttr_config *mc,
                      const ttr_model *owner)
{
    int err = owner ? ttr__model_load_sharing(m, buf, bytes, in_read, in, owner)
                    : ttr_model_load(m, buf, bytes, in_read, in);
    if (err)
        return err == TTR_ERR_NOMEM ? TTR_ERR_FORMAT : err;
    if (!ttr__same_structure(ttr_model_config(*m), mc) || ttr_model_mode(*m) != TTR_MODE_TRAIN)
        return TTR_ERR_FORMAT;
    return TTR_OK;
}

int ttr_loop_load(ttr_loop **out, void *buf, size_t bytes, ttr_read_fn read, void *ctx)
{
    io_in in = {read, ctx, 0};
    unsigned char h[LOOP_HEAD_BYTES + LOOP_STATE_BYTES];
    ttr_config mc;
    ttr_loop_config lc;
    ttr_loop *L;
    if (!out || !buf || !read)
        return TTR_ERR_ARG;
    int err = ttr__io_in_bytes(&in, h, sizeof h);
    if (!err)
        err = decode_head(h, &mc, &lc);
    if (!err)
        err = ttr_loop_init(&L, &mc, &lc, buf, bytes);
    if (!err)
        err = decode_state(h + LOOP_HEAD_BYTES, L);
    for (uint32_t i = 0; !err && i <= TTR__LOOP_BLOCKS; i++) {
        err = ttr__io_in_bytes(&in, h, LOOP_BLOCK_BYTES);
        if (!err)
            decode_block(h, i < TTR__LOOP_BLOCKS ? &L->blocks[i] : &L->cur);
    }
    if (!err)
        err = read_ring(&in, L->ring);
    if (!err)
        err = read_model(&in, &L->learner, L->learner_buf, L->model_bytes, &mc, NULL);
    if (!err)
        err = read_model(&in, &L->champion, L->champion_buf, L->champion_bytes, &mc,
                         L->learner);
    if (!err)
        err = ttr__io_in_crc(&in);
    if (err)
        return err;
    *out = L;
    return TTR_OK;
}
