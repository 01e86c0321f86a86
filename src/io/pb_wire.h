/* Private: a reader of the protobuf wire format (the encoding of ONNX
 * files), over bytes in memory. It only splits a message into its fields;
 * what a field means is the caller's (onnx_read.c). Nothing is copied and
 * nothing allocated: a field's bytes are a span of the caller's buffer. */
#ifndef TTR_SRC_IO_PB_WIRE_H
#define TTR_SRC_IO_PB_WIRE_H

#include <stddef.h>
#include <stdint.h>

typedef struct pb_span {
    const uint8_t *p;
    size_t n;
} pb_span;

enum { PB_VARINT = 0, PB_I64 = 1, PB_LEN = 2, PB_I32 = 5 };

typedef struct pb_field {
    uint32_t num;  /* field number, >= 1 */
    int wire;      /* PB_VARINT, PB_I64, PB_LEN or PB_I32 */
    uint64_t v;    /* the value of a varint, I64 or I32 field */
    pb_span s;     /* the bytes of a PB_LEN field */
} pb_field;

/* The field of msg at *pos, *pos moved past it: 1, or 0 at the end of msg,
 * or -1 when malformed (a varint longer than 10 bytes, a length past the
 * end, a group or an unknown wire type, field number 0). */
int ttr__pb_next(pb_span msg, size_t *pos, pb_field *f);

/* The first field of msg numbered num with wire type wire: 1 (in *f), or 0
 * when msg has none (or is malformed before one). */
int ttr__pb_find(pb_span msg, uint32_t num, int wire, pb_field *f);

/* The varint at *pos of s: 1, 0 at the end, -1 when malformed. For packed
 * repeated integers (a PB_LEN field of varints). */
int ttr__pb_varint(pb_span s, size_t *pos, uint64_t *v);

/* Little-endian loads, the byte order of protobuf and of ONNX raw_data. */
uint32_t ttr__pb_u32le(const uint8_t *p);
uint64_t ttr__pb_u64le(const uint8_t *p);

/* 1 if spans a and b hold the same bytes (empty spans may be NULL). */
int ttr__pb_same(pb_span a, pb_span b);

/* 1 if span s holds exactly the NUL-free string z. */
int ttr__pb_is(pb_span s, const char *z);

#endif
