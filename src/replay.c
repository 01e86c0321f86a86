/* The impression buffer: a ring of fixed-size list records (features in
 * bfloat16 or f32, slots, clicks, item count, context). */
#include <string.h>

#include "loop_internal.h" /* ttr__layout, ttr__alloc, ttr__replay_check */

/* f32 -> bfloat16, round to nearest even (the caller has refused NaN, Inf
 * and values that round up to Inf). */
static uint16_t to_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

static float from_bf16(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* 1 if f is NaN, Inf, or rounds to Inf in bfloat16 (|f| >= 0x7f7f8000's value). */
static int bf16_unsafe(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return (u & 0x7fffffffu) >= 0x7f7f8000u;
}

static int params_ok(uint32_t F, uint32_t N, uint32_t cap, ttr_replay_precision p)
{
    return F >= 1 && F <= 65536 && N >= 1 && N <= 1024 && cap >= 1 && cap <= (1u << 24) &&
           (p == TTR_REPLAY_BF16 || p == TTR_REPLAY_F32);
}

/* Lay the ring out in l (measuring when l->base is NULL). */
static void plan(ttr_replay *r, ttr__layout *l)
{
    size_t cells = (size_t)r->cap * r->N;
    (void)ttr__alloc(l, sizeof *r);
    if (cells > SIZE_MAX / 4 / r->F) {
        l->overflow = 1;
        return;
    }
    if (r->precision == TTR_REPLAY_BF16)
        r->feat16 = ttr__alloc(l, cells * r->F * sizeof(uint16_t));
    else
        r->feat32 = ttr__alloc(l, cells * r->F * sizeof(float));
    r->n_items = ttr__alloc(l, (size_t)r->cap * sizeof(uint16_t));
    r->context = ttr__alloc(l, (size_t)r->cap * sizeof(uint32_t));
    r->slots = ttr__alloc(l, cells * sizeof(uint16_t));
    r->clicks = ttr__alloc(l, cells);
}

size_t ttr_replay_bytes(uint32_t n_features, uint32_t max_items, uint32_t capacity,
                        ttr_replay_precision precision)
{
    ttr_replay probe;
    ttr__layout l = {NULL, 0, 0, NULL};
    if (!params_ok(n_features, max_items, capacity, precision))
        return 0;
    memset(&probe, 0, sizeof probe);
    probe.F = n_features, probe.N = max_items, probe.cap = capacity;
    probe.precision = precision;
    plan(&probe, &l);
    if (l.overflow || l.used > SIZE_MAX - TTR__ALIGN)
        return 0;
    return l.used + TTR__ALIGN - 1;
}

int ttr_replay_init(ttr_replay **out, uint32_t n_features, uint32_t max_items, uint32_t capacity,
                    ttr_replay_precision precision, void *buf, size_t bytes)
{
    if (!out || !buf || !params_ok(n_features, max_items, capacity, precision))
        return TTR_ERR_ARG;
    size_t need = ttr_replay_bytes(n_features, max_items, capacity, precision);
    if (!need)
        return TTR_ERR_ARG;
    if (bytes < need)
        return TTR_ERR_NOMEM;
    ttr__layout l = {ttr__align_up(buf), 0, 0, NULL};
    ttr_replay *r = (ttr_replay *)(void *)l.base;
    memset(r, 0, sizeof *r);
    r->F = n_features, r->N = max_items, r->cap = capacity, r->precision = precision;
    plan(r, &l);
    /* every record defined, so that a checkpoint writes no stale bytes */
    memset(r + 1, 0, l.used - sizeof *r);
    r->magic = TTR__REPLAY_MAGIC;
    *out = r;
    return TTR_OK;
}

int ttr__replay_check(const ttr_replay *r, const ttr_batch *b, size_t list)
{
    if (!r || r->magic != TTR__REPLAY_MAGIC || !b || list >= b->n_lists || !b->offsets ||
        b->offsets[list + 1] < b->offsets[list])
        return TTR_ERR_ARG;
    size_t i0 = b->offsets[list], n = b->offsets[list + 1] - i0, F = r->F;
    if (n > r->N || (n && (!b->x || !b->slots || !b->clicks || b->ldx < F)))
        return TTR_ERR_ARG;
    for (size_t i = 0; i < n; i++) {
        if (b->clicks[i0 + i] > 1)
            return TTR_ERR_ARG;
        for (size_t t = 0; t < F; t++)
            if (bf16_unsafe(b->x[(i0 + i) * b->ldx + t]))
                return TTR_ERR_NONFINITE;
    }
    return TTR_OK;
}

int ttr_replay_add(ttr_replay *r, const ttr_batch *b, size_t list)
{
    int err = ttr__replay_check(r, b, list);
    if (err)
        return err;
    size_t i0 = b->offsets[list], n = b->offsets[list + 1] - i0, F = r->F;
    size_t rec = r->head, cell = rec * r->N;
    for (size_t i = 0; i < n; i++) {
        const float *xi = b->x + (i0 + i) * b->ldx;
        if (r->feat16)
            for (size_t t = 0; t < F; t++)
                r->feat16[(cell + i) * F + t] = to_bf16(xi[t]);
        else
            memcpy(r->feat32 + (cell + i) * F, xi, F * sizeof(float));
        r->slots[cell + i] = b->slots[i0 + i];
        r->clicks[cell + i] = b->clicks[i0 + i];
    }
    r->n_items[rec] = (uint16_t)n;
    r->context[rec] = b->contexts ? b->contexts[list] : 0;
    r->head = r->head + 1 == r->cap ? 0 : r->head + 1;
    r->count += r->count < r->cap;
    r->added++;
    return TTR_OK;
}

uint32_t ttr_replay_count(const ttr_replay *r)
{
    return r ? r->count : 0;
}

uint64_t ttr_replay_added(const ttr_replay *r)
{
    return r ? r->added : 0;
}

int ttr_replay_get(const ttr_replay *r, uint32_t age, size_t *n_items, float *x, size_t ldx,
                   uint16_t *slots, uint8_t *clicks, uint32_t *context)
{
    if (!r || r->magic != TTR__REPLAY_MAGIC || !n_items || age >= r->count || (x && ldx < r->F))
        return TTR_ERR_ARG;
    size_t rec = (r->head + r->cap - 1 - age) % r->cap, cell = rec * r->N, F = r->F;
    size_t n = r->n_items[rec];
    for (size_t i = 0; x && i < n; i++) {
        float *xi = x + i * ldx;
        if (r->feat16)
            for (size_t t = 0; t < F; t++)
                xi[t] = from_bf16(r->feat16[(cell + i) * F + t]);
        else
            memcpy(xi, r->feat32 + (cell + i) * F, F * sizeof(float));
    }
    if (slots)
        memcpy(slots, r->slots + cell, n * sizeof(uint16_t));
    if (clicks)
        memcpy(clicks, r->clicks + cell, n);
    if (context)
        *context = r->context[rec];
    *n_items = n;
    return TTR_OK;
}
