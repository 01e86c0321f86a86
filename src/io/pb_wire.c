/* The protobuf wire format, read (src/io/pb_wire.h). */
#include "pb_wire.h"

#include <string.h>

int ttr__pb_varint(pb_span s, size_t *pos, uint64_t *v)
{
    uint64_t x = 0;
    if (*pos >= s.n)
        return 0;
    for (unsigned shift = 0; shift < 70; shift += 7) {
        if (*pos >= s.n)
            return -1;
        uint8_t b = s.p[(*pos)++];
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return 1;
        }
    }
    return -1; /* an eleventh byte: no varint is that long */
}

int ttr__pb_next(pb_span msg, size_t *pos, pb_field *f)
{
    uint64_t key;
    int r = ttr__pb_varint(msg, pos, &key);
    if (r <= 0)
        return r;
    if (key >> 3 == 0 || key >> 3 > 0x1fffffff)
        return -1;
    f->num = (uint32_t)(key >> 3);
    f->wire = (int)(key & 7);
    f->v = 0;
    f->s.p = NULL, f->s.n = 0;
    switch (f->wire) {
    case PB_VARINT:
        return ttr__pb_varint(msg, pos, &f->v) == 1 ? 1 : -1;
    case PB_I64:
        if (msg.n - *pos < 8)
            return -1;
        f->v = ttr__pb_u64le(msg.p + *pos);
        *pos += 8;
        return 1;
    case PB_I32:
        if (msg.n - *pos < 4)
            return -1;
        f->v = ttr__pb_u32le(msg.p + *pos);
        *pos += 4;
        return 1;
    case PB_LEN: {
        uint64_t n;
        if (ttr__pb_varint(msg, pos, &n) != 1 || n > msg.n - *pos)
            return -1;
        f->s.p = msg.p + *pos;
        f->s.n = (size_t)n;
        *pos += (size_t)n;
        return 1;
    }
    default:
        return -1; /* groups (3, 4) are deprecated and ONNX has none; 6, 7 do not exist */
    }
}

int ttr__pb_find(pb_span msg, uint32_t num, int wire, pb_field *f)
{
    size_t pos = 0;
    while (ttr__pb_next(msg, &pos, f) == 1)
        if (f->num == num && f->wire == wire)
            return 1;
    return 0;
}

uint32_t ttr__pb_u32le(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint64_t ttr__pb_u64le(const uint8_t *p)
{
    return (uint64_t)ttr__pb_u32le(p) | (uint64_t)ttr__pb_u32le(p + 4) << 32;
}

int ttr__pb_same(pb_span a, pb_span b)
{
    return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

int ttr__pb_is(pb_span s, const char *z)
{
    size_t n = strlen(z);
    return s.n == n && (n == 0 || memcmp(s.p, z, n) == 0);
}
