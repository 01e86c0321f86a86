/* safetensors input (include/ttr_safetensors.h): the header's JSON parsed
 * in the caller's scratch, then the data read once, in offset order. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io_format.h"
#include "safetensors_internal.h"
#include "ttr_safetensors.h"

/* ---- a small JSON reader: objects, arrays of integers, strings -------------------- */

typedef struct js {
    const char *p, *end;
} js;

static void ws(js *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

static int eat(js *j, char c)
{
    ws(j);
    if (j->p < j->end && *j->p == c) {
        j->p++;
        return 1;
    }
    return 0;
}

/* A string into out (cap bytes, NUL-terminated; longer ones are cut and
 * flagged by *cut); escapes decoded, \\u beyond ASCII as 0x7f (no name or
 * key of ours has one). 0, or -1 when malformed. */
static int string(js *j, char *out, size_t cap, int *cut)
{
    size_t n = 0;
    *cut = 0;
    if (!eat(j, '"'))
        return -1;
    while (j->p < j->end && *j->p != '"') {
        unsigned char c = (unsigned char)*j->p++;
        if (c < 0x20)
            return -1;
        if (c == '\\') {
            if (j->p >= j->end)
                return -1;
            c = (unsigned char)*j->p++;
            if (c == 'u') {
                unsigned v = 0;
                for (int k = 0; k < 4; k++, j->p++) {
                    if (j->p >= j->end)
                        return -1;
                    char h = *j->p;
                    int d = h >= '0' && h <= '9'   ? h - '0'
                            : h >= 'a' && h <= 'f' ? h - 'a' + 10
                            : h >= 'A' && h <= 'F' ? h - 'A' + 10
                                                   : -1;
                    if (d < 0)
                        return -1;
                    v = v * 16 + (unsigned)d;
                }
                c = v < 0x80 && v ? (unsigned char)v : 0x7f;
            } else {
                const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t";
                const char *at = strchr(from, c);
                if (!at || !c)
                    return -1;
                c = (unsigned char)to[at - from];
            }
        }
        if (n + 1 < cap)
            out[n++] = (char)c;
        else
            *cut = 1;
    }
    if (j->p >= j->end)
        return -1; /* no closing quote */
    j->p++;
    out[n] = '\0';
    return 0;
}

/* A non-negative integer up to 2^53. */
static int uint_(js *j, uint64_t *v)
{
    ws(j);
    const char *s = j->p;
    *v = 0;
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9') {
        if (*v > ((uint64_t)1 << 53) / 10)
            return -1;
        *v = *v * 10 + (uint64_t)(*j->p++ - '0');
    }
    if (j->p == s || (j->p < j->end && (*j->p == '.' || *j->p == 'e' || *j->p == 'E')))
        return -1;
    return 0;
}

/* [u, u, ...] with 1..max entries into v; the count into *n. */
static int uint_array(js *j, uint64_t *v, uint32_t max, uint32_t *n)
{
    *n = 0;
    if (!eat(j, '['))
        return -1;
    do {
        if (*n == max || uint_(j, &v[*n]))
            return -1;
        (*n)++;
    } while (eat(j, ','));
    return eat(j, ']') ? 0 : -1;
}

/* __metadata__: string to string; ttrank's keys kept. */
static int metadata(js *j, ttr_safetensors *s)
{
    char key[64], val[ST_CONFIG];
    int cut, cutv;
    if (!eat(j, '{'))
        return -1;
    if (eat(j, '}'))
        return 0;
    do {
        if (string(j, key, sizeof key, &cut) || !eat(j, ':') || string(j, val, sizeof val, &cutv))
            return -1;
        if (!cut && !strcmp(key, "ttrank.config")) {
            if (cutv)
                return -1;
            memcpy(s->config, val, sizeof val);
            s->has_config = 1;
        } else if (!cut && !strcmp(key, "ttrank.bref_count")) {
            char *endp;
            s->bref_count = strtod(val, &endp);
            s->has_count = *val && !*endp;
        } else if (!cut && !strcmp(key, "ttrank.impressions")) {
            js n = {val, val + strlen(val)};
            if (uint_(&n, &s->impressions) || n.p != n.end)
                return -1;
        } else if (!cut && !strcmp(key, "ttrank.tag")) {
            if (cutv || strlen(val) > TTR_TAG_MAX)
                return -1;
            memcpy(s->tag, val, strlen(val) + 1);
            s->has_tag = 1;
        }
    } while (eat(j, ','));
    return eat(j, '}') ? 0 : -1;
}

/* One tensor's description: dtype, shape, data_offsets, each once. */
static int tensor_entry(js *j, st_entry *e, int *f32)
{
    char key[32], val[16];
    int cut, seen = 0;
    uint64_t v[2];
    if (!eat(j, '{'))
        return -1;
    do {
        if (string(j, key, sizeof key, &cut) || cut || !eat(j, ':'))
            return -1;
        if (!strcmp(key, "dtype") && !(seen & 1)) {
            if (string(j, val, sizeof val, &cut))
                return -1;
            *f32 = !cut && !strcmp(val, "F32");
            seen |= 1;
        } else if (!strcmp(key, "shape") && !(seen & 2)) {
            if (uint_array(j, v, 2, &e->ndim) || v[0] > 0x7fffffffu ||
                (e->ndim == 2 && v[1] > 0x7fffffffu))
                return -1;
            e->dim[0] = (uint32_t)v[0];
            e->dim[1] = e->ndim == 2 ? (uint32_t)v[1] : 1;
            seen |= 2;
        } else if (!strcmp(key, "data_offsets") && !(seen & 4)) {
            uint32_t n;
            if (uint_array(j, v, 2, &n) || n != 2)
                return -1;
            e->begin = v[0], e->end = v[1];
            seen |= 4;
        } else {
            return -1; /* an unknown or repeated key */
        }
    } while (eat(j, ','));
    return eat(j, '}') && seen == 7 ? 0 : -1;
}

/* The whole header; entries into s->e. */
static int parse(ttr_safetensors *s)
{
    js j = {s->h, s->h + s->hlen};
    char key[ST_NAME];
    int cut;
    if (!eat(&j, '{'))
        return TTR_ERR_FORMAT;
    if (!eat(&j, '}'))
        do {
            if (string(&j, key, sizeof key, &cut) || !eat(&j, ':'))
                return TTR_ERR_FORMAT;
            if (!cut && !strcmp(key, "__metadata__")) {
                if (metadata(&j, s))
                    return TTR_ERR_FORMAT;
                continue;
            }
            if (s->n == ST_MAX_TENSORS)
                return TTR_ERR_UNSUPPORTED;
            st_entry *e = &s->e[s->n++];
            int f32 = 0;
            memcpy(e->name, key, sizeof e->name);
            if (tensor_entry(&j, e, &f32))
                return TTR_ERR_FORMAT;
            if (!f32) {
                memcpy(s->err_name, key, sizeof s->err_name);
                return TTR_ERR_UNSUPPORTED;
            }
        } while (eat(&j, ','));
    if (!eat(&j, '}'))
        return TTR_ERR_FORMAT;
    ws(&j);
    return j.p == j.end ? TTR_OK : TTR_ERR_FORMAT;
}

/* Sizes agree with shapes, and the data ranges do not overlap (sorted by
 * offset: the order the data is read in). */
static int check_entries(ttr_safetensors *s)
{
    for (uint32_t i = 1; i < s->n; i++) /* insertion sort: at most 256 */
        for (uint32_t k = i; k > 0 && s->e[k].begin < s->e[k - 1].begin; k--) {
            st_entry t = s->e[k];
            s->e[k] = s->e[k - 1];
            s->e[k - 1] = t;
        }
    for (uint32_t i = 0; i < s->n; i++) {
        const st_entry *e = &s->e[i];
        if (e->end < e->begin || e->end - e->begin != 4 * (uint64_t)e->dim[0] * e->dim[1] ||
            (i && e->begin < s->e[i - 1].end)) {
            memcpy(s->err_name, e->name, sizeof s->err_name);
            return TTR_ERR_FORMAT;
        }
    }
    return TTR_OK;
}

int ttr_safetensors_open(ttr_safetensors **out, ttr_read_fn read, void *ctx, void *scratch,
                         size_t bytes)
{
    if (!out || !read || !scratch)
        return TTR_ERR_ARG;
    uintptr_t a = (uintptr_t)scratch;
    size_t skip = (8 - a % 8) % 8;
    size_t need = skip + sizeof(ttr_safetensors) + ST_MAX_TENSORS * sizeof(st_entry) +
                  TTR_SAFETENSORS_MAX_HEADER;
    if (bytes < need || need > TTR_SAFETENSORS_SCRATCH)
        return TTR_ERR_NOMEM;
    ttr_safetensors *s = (ttr_safetensors *)(void *)((unsigned char *)scratch + skip);
    memset(s, 0, sizeof *s);
    s->in.fn = read;
    s->in.ctx = ctx;
    s->e = (st_entry *)(void *)(s + 1);
    char *h = (char *)(s->e + ST_MAX_TENSORS);
    unsigned char len8[8];
    int err = ttr__io_in_bytes(&s->in, len8, 8);
    if (err)
        return err;
    uint64_t hlen = get_u64(len8);
    if (hlen < 2 || hlen > TTR_SAFETENSORS_MAX_HEADER)
        return TTR_ERR_FORMAT;
    if ((err = ttr__io_in_bytes(&s->in, h, (size_t)hlen)) != 0)
        return err;
    s->h = h;
    s->hlen = (size_t)hlen;
    if ((err = parse(s)) != 0 || (err = check_entries(s)) != 0)
        return err;
    *out = s;
    return TTR_OK;
}

uint32_t ttr_safetensors_count(const ttr_safetensors *s)
{
    return s ? s->n : 0;
}

int ttr_safetensors_tensor(const ttr_safetensors *s, uint32_t i, const char **name,
                           uint32_t *rows, uint32_t *cols)
{
    if (!s || i >= s->n)
        return TTR_ERR_ARG;
    if (name)
        *name = s->e[i].name;
    if (rows)
        *rows = s->e[i].dim[0];
    if (cols)
        *cols = s->e[i].dim[1];
    return TTR_OK;
}

const char *ttr_safetensors_error(const ttr_safetensors *s)
{
    return s ? s->err_name : "";
}
