/* The .ttr format's constants, byte encoding and header reader, shared by
 * the files of src/io/ (layout in include/ttr_io.h). Internal. */
#ifndef TTR_IO_FORMAT_H
#define TTR_IO_FORMAT_H

#include <stdint.h>
#include <string.h>

#include "ttr_io.h"
#include "ttrank.h"

#define IO_MAGIC "TTRK"
#define IO_HEADER_BYTES 136u  /* magic, version, mode, flags, config */
#define IO_SCHED_BYTES 24u    /* version 3: lr_schedule, weight_decay, warmup, decay_steps */
#define IO_META_BYTES 64u     /* version 4: library version, tag length, impressions, tag */
#define IO_STATE_BYTES 28u    /* step, rng, bref_count, record count */
#define IO_NAME_MAX 32u
#define IO_MAX_RECORDS 256u   /* far above what any configuration needs */
#define IO_FLAG_STATE 1u
#define IO_FLAG_FOLDED 2u     /* serving: normalisation folded into rel.0 */
#define IO_DTYPE_F32 0u
#define IO_DTYPE_S8 1u
#define IO_CHUNK 256u         /* floats converted per step */

/* ---- little-endian encoding ----------------------------------------------- */

static inline void put_u32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static inline uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void put_u64(unsigned char *p, uint64_t v)
{
    put_u32(p, (uint32_t)v);
    put_u32(p + 4, (uint32_t)(v >> 32));
}

static inline uint64_t get_u64(const unsigned char *p)
{
    return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

static inline uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static inline float bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static inline uint64_t f64_bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, 8);
    return u;
}

static inline double bits_f64(uint64_t u)
{
    double d;
    memcpy(&d, &u, 8);
    return d;
}

/* A stream being read: every byte read goes into the running CRC. */
typedef struct io_in {
    ttr_read_fn fn;
    void *ctx;
    uint32_t crc;
} io_in;

/* Read exactly n bytes (and add them to the CRC): TTR_ERR_FORMAT when the
 * stream ends first, TTR_ERR_IO when the callback fails. */
int ttr__io_in_bytes(io_in *in, void *buf, size_t n);

/* The file's last 4 bytes against the CRC of everything read before them:
 * TTR_ERR_FORMAT when they differ (or the stream ends), TTR_ERR_IO. */
int ttr__io_in_crc(io_in *in);

/* The header (and the schedule block of version-3+ train files, the
 * metadata block of version 4): the configuration, mode and flags, all
 * checked, and what info holds but the steps (in the state block that
 * follows). */
int ttr__io_read_header(io_in *in, ttr_config *cfg, uint32_t *flags, ttr_file_info *info);

/* The file version a save of m writes: the lowest that holds it. */
uint32_t ttr__io_version_for(const ttr_model *m);
void ttr__io_encode_meta(unsigned char *p, const ttr_model *m);

/* The configuration block (and the version-3 block, when the config needs
 * one: ttr__io_has_sched) written for a save. */
void ttr__io_encode_config(unsigned char *p, const ttr_config *c);
int ttr__io_has_sched(const ttr_config *c);
void ttr__io_encode_sched(unsigned char *p, const ttr_config *c);
/* The configuration from its 120-byte block and the schedule block (NULL:
 * none, a version-1/2 file); TTR_ERR_RANGE when ttr_config_check refuses. */
int ttr__io_decode_config(const unsigned char *p, const unsigned char *sched, ttr_config *c);

#endif
