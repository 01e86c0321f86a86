/* safetensors output (include/ttr_safetensors.h): the JSON header, counted
 * first and then written, and the F32 data in the header's order. */
#include <stdio.h>
#include <string.h>

#include "../model.h"
#include "io_format.h"
#include "safetensors_internal.h"
#include "ttr_safetensors.h"

/* Buffered output that counts what it would write when fn is NULL. */
typedef struct emit {
    ttr_write_fn fn;
    void *ctx;
    unsigned char buf[512];
    size_t n;
    uint64_t total;
    int err;
} emit;

static void flush(emit *e)
{
    if (e->fn && e->n && !e->err && e->fn(e->ctx, e->buf, e->n) != 0)
        e->err = 1;
    e->n = 0;
}

static void put(emit *e, const void *p, size_t len)
{
    const unsigned char *c = p;
    e->total += len;
    while (len) {
        size_t k = sizeof e->buf - e->n < len ? sizeof e->buf - e->n : len;
        memcpy(e->buf + e->n, c, k);
        e->n += k, c += k, len -= k;
        if (e->n == sizeof e->buf)
            flush(e);
    }
}

static void puts_(emit *e, const char *s)
{
    put(e, s, strlen(s));
}

/* "ttrank.config": the structure of the model's configuration. */
static void config_string(const ttr_config *c, char *out, size_t cap)
{
    static const char *const variants[] = {"naive", "additive", "pal", "dot", "mixem", "xpa"};
    int n = snprintf(out, cap, "variant=%s;n_features=%u;hidden=", variants[c->variant],
                     (unsigned)c->n_features);
    for (uint32_t i = 0; i < c->n_hidden; i++)
        n += snprintf(out + n, cap - (size_t)n, "%s%u", i ? "," : "", (unsigned)c->hidden[i]);
    snprintf(out + n, cap - (size_t)n,
             ";rows=%u;cols=%u;n_contexts=%u;embed_dim=%u;bias_hidden=%u;dot_dim=%u;"
             "components=%u;attn_dim=%u;max_items=%u",
             (unsigned)c->rows, (unsigned)c->cols, (unsigned)c->n_contexts,
             (unsigned)c->embed_dim, (unsigned)c->bias_hidden, (unsigned)c->dot_dim,
             (unsigned)c->components, (unsigned)c->attn_dim, (unsigned)c->max_items);
}

/* The JSON header, without the padding. */
static void header(emit *e, const ttr_model *m)
{
    char line[640], cfg[400];
    uint64_t at = 0;
    config_string(&m->cfg, cfg, sizeof cfg);
    snprintf(line, sizeof line,
             "{\"__metadata__\":{\"ttrank.version\":\"%s\",\"ttrank.config\":\"%s\","
             "\"ttrank.bref_count\":\"%.17g\",\"ttrank.impressions\":\"%llu\",\"ttrank.tag\":\"",
             TTR_VERSION_STRING, cfg, m->bref_count, (unsigned long long)m->impressions);
    puts_(e, line);
    for (const char *t = m->tag; *t; t++) /* printable ASCII: only " and \ need escapes */
        put(e, *t == '"' ? "\\\"" : *t == '\\' ? "\\\\" : t, *t == '"' || *t == '\\' ? 2 : 1);
    puts_(e, "\"}");
    for (uint32_t i = 0; i < ttr__st_count(m); i++) {
        ttr__st_slot t = ttr__st_get(m, i);
        uint64_t len = 4 * (uint64_t)t.rows * t.cols;
        if (t.cols == 1)
            snprintf(line, sizeof line,
                     ",\"%s\":{\"dtype\":\"F32\",\"shape\":[%u],\"data_offsets\":[%llu,%llu]}",
                     t.name, (unsigned)t.rows, (unsigned long long)at,
                     (unsigned long long)(at + len));
        else
            snprintf(line, sizeof line,
                     ",\"%s\":{\"dtype\":\"F32\",\"shape\":[%u,%u],\"data_offsets\":[%llu,%llu]}",
                     t.name, (unsigned)t.rows, (unsigned)t.cols, (unsigned long long)at,
                     (unsigned long long)(at + len));
        puts_(e, line);
        at += len;
    }
    puts_(e, "}");
}

int ttr_safetensors_save(const ttr_model *m, ttr_write_fn write, void *ctx)
{
    if (!m || m->magic != TTR__MAGIC || !write)
        return TTR_ERR_ARG;
    if (m->mode != TTR_MODE_TRAIN)
        return TTR_ERR_UNSUPPORTED;
    emit count;
    memset(&count, 0, sizeof count);
    header(&count, m);
    uint64_t hlen = (count.total + 7) & ~(uint64_t)7; /* padded with spaces, as the format does */
    emit e;
    memset(&e, 0, sizeof e);
    e.fn = write;
    e.ctx = ctx;
    unsigned char len8[8];
    put_u64(len8, hlen);
    put(&e, len8, 8);
    header(&e, m);
    while (e.total < 8 + hlen)
        put(&e, " ", 1);
    for (uint32_t i = 0; i < ttr__st_count(m) && !e.err; i++) {
        ttr__st_slot t = ttr__st_get(m, i);
        for (size_t k = 0; k < (size_t)t.rows * t.cols; k++) {
            unsigned char b[4];
            put_u32(b, f32_bits(t.data[k]));
            put(&e, b, 4);
        }
    }
    flush(&e);
    return e.err ? TTR_ERR_IO : TTR_OK;
}
