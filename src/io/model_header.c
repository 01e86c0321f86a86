/* The .ttr header: the CRC, the configuration block and its checks, and
 * ttr_model_load_config / ttr_model_check, which read a stream without an
 * arena (layout in include/ttr_io.h). */
#include <math.h>
#include <string.h>

#include "io_format.h"
#include "model.h"

/* ---- CRC-32 (IEEE, reflected), half-byte table -------------------------- */

static const uint32_t crc_nibble[16] = {
    0x00000000u, 0x1DB71064u, 0x3B6E20C8u, 0x26D930ACu, 0x76DC4190u, 0x6B6B51F4u,
    0x4DB26158u, 0x5005713Cu, 0xEDB88320u, 0xF00F9344u, 0xD6D6A3E8u, 0xCB61B38Cu,
    0x9B64C2B0u, 0x86D3D2D4u, 0xA00AE278u, 0xBDBDF21Cu};

uint32_t ttr_crc32(uint32_t crc, const void *data, size_t n)
{
    const unsigned char *p = data;
    crc = ~crc;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        crc = (crc >> 4) ^ crc_nibble[crc & 15u];
        crc = (crc >> 4) ^ crc_nibble[crc & 15u];
    }
    return ~crc;
}

/* ---- the configuration block (120 bytes) ---------------------------------- */

void ttr__io_encode_config(unsigned char *p, const ttr_config *c)
{
    uint32_t u[19];
    float f[8];
    unsigned i;
    u[0] = (uint32_t)c->variant;
    u[1] = c->n_features;
    u[2] = c->n_hidden;
    for (i = 0; i < 4; i++)
        u[3 + i] = c->hidden[i];
    u[7] = c->rows;
    u[8] = c->cols;
    u[9] = c->n_contexts;
    u[10] = c->embed_dim;
    u[11] = c->bias_hidden;
    u[12] = c->dot_dim;
    u[13] = c->components;
    u[14] = c->attn_dim;
    u[15] = c->max_items;
    u[16] = c->max_batch;
    u[17] = (uint32_t)c->loss;
    u[18] = (uint32_t)c->optimizer;
    f[0] = c->lr;
    f[1] = c->beta1;
    f[2] = c->beta2;
    f[3] = c->adam_eps;
    f[4] = c->momentum;
    f[5] = c->l2;
    f[6] = c->clip_norm;
    f[7] = c->slot_dropout;
    for (i = 0; i < 19; i++)
        put_u32(p + 4 * i, u[i]);
    for (i = 0; i < 8; i++)
        put_u32(p + 76 + 4 * i, f32_bits(f[i]));
    put_u32(p + 108, (uint32_t)c->dot_serving);
    put_u64(p + 112, c->seed);
}

/* The version-3 training block: what a train model's schedule needs. */
int ttr__io_has_sched(const ttr_config *c)
{
    return c->lr_schedule != TTR_LR_CONSTANT || c->warmup_steps || c->decay_steps ||
           c->weight_decay != 0.0f;
}

void ttr__io_encode_sched(unsigned char *p, const ttr_config *c)
{
    put_u32(p, (uint32_t)c->lr_schedule);
    put_u32(p + 4, f32_bits(c->weight_decay));
    put_u64(p + 8, c->warmup_steps);
    put_u64(p + 16, c->decay_steps);
}

/* Enumerations are range-checked as u32 before conversion, so no
 * out-of-range value is ever stored in an enum. */
int ttr__io_decode_config(const unsigned char *p, const unsigned char *sched, ttr_config *c)
{
    uint32_t u[19];
    float f[8];
    unsigned i;
    for (i = 0; i < 19; i++)
        u[i] = get_u32(p + 4 * i);
    for (i = 0; i < 8; i++)
        f[i] = bits_f32(get_u32(p + 76 + 4 * i));
    uint32_t dot_serving = get_u32(p + 108);
    if (u[0] > TTR_XPA || u[17] > TTR_LOSS_SOFTMAX || u[18] > TTR_OPT_SGD ||
        dot_serving > TTR_DOT_REF_TOP)
        return TTR_ERR_RANGE;
    memset(c, 0, sizeof *c);
    c->variant = (ttr_variant)u[0];
    c->n_features = u[1];
    c->n_hidden = u[2];
    for (i = 0; i < 4; i++)
        c->hidden[i] = u[3 + i];
    c->rows = u[7];
    c->cols = u[8];
    c->n_contexts = u[9];
    c->embed_dim = u[10];
    c->bias_hidden = u[11];
    c->dot_dim = u[12];
    c->components = u[13];
    c->attn_dim = u[14];
    c->max_items = u[15];
    c->max_batch = u[16];
    c->loss = (ttr_loss)u[17];
    c->optimizer = (ttr_optimizer)u[18];
    c->lr = f[0];
    c->beta1 = f[1];
    c->beta2 = f[2];
    c->adam_eps = f[3];
    c->momentum = f[4];
    c->l2 = f[5];
    c->clip_norm = f[6];
    c->slot_dropout = f[7];
    c->dot_serving = (ttr_dot_serving)dot_serving;
    c->seed = get_u64(p + 112);
    if (sched) {
        uint32_t kind = get_u32(sched);
        if (kind > TTR_LR_LINEAR)
            return TTR_ERR_RANGE;
        c->lr_schedule = (ttr_lr_schedule)kind;
        c->weight_decay = bits_f32(get_u32(sched + 4));
        c->warmup_steps = get_u64(sched + 8);
        c->decay_steps = get_u64(sched + 16);
    }
    return ttr_config_check(c, NULL) == TTR_OK ? TTR_OK : TTR_ERR_RANGE;
}

/* ---- reading ----------------------------------------------------------------- */


int ttr__io_in_bytes(io_in *in, void *buf, size_t n)
{
    unsigned char *p = buf;
    size_t got = 0;
    while (got < n) {
        size_t r = in->fn(in->ctx, p + got, n - got);
        if (r == TTR_READ_ERROR || r > n - got)
            return TTR_ERR_IO;
        if (r == 0)
            return TTR_ERR_FORMAT; /* truncated */
        got += r;
    }
    in->crc = ttr_crc32(in->crc, buf, n);
    return TTR_OK;
}

int ttr__io_in_crc(io_in *in)
{
    uint32_t crc = in->crc;
    unsigned char tail[4];
    int err = ttr__io_in_bytes(in, tail, 4);
    if (err)
        return err;
    return get_u32(tail) == crc ? TTR_OK : TTR_ERR_FORMAT;
}

/* ---- the version-4 metadata block (64 bytes) ------------------------------ */

uint32_t ttr__io_version_for(const ttr_model *m)
{
    if (m->impressions || m->tag[0])
        return 4u;
    if (m->mode == TTR_MODE_TRAIN && ttr__io_has_sched(&m->cfg))
        return 3u;
    return m->mode == TTR_MODE_SERVE_S8 && !m->norm_folded ? 2u : 1u;
}

void ttr__io_encode_meta(unsigned char *p, const ttr_model *m)
{
    size_t n = strlen(m->tag);
    memset(p, 0, IO_META_BYTES);
    put_u32(p, TTR_VERSION_NUMBER);
    put_u32(p + 4, (uint32_t)n);
    put_u64(p + 8, m->impressions);
    memcpy(p + 16, m->tag, n);
}

/* A tag is printable ASCII, NUL-padded: anything else is not ours. */
static int decode_meta(const unsigned char *p, ttr_file_info *info)
{
    uint32_t n = get_u32(p + 4);
    if (n > TTR_TAG_MAX)
        return TTR_ERR_FORMAT;
    for (uint32_t i = 0; i < TTR_TAG_MAX; i++) {
        unsigned char c = p[16 + i];
        if (i < n ? c < 0x20 || c > 0x7e : c != 0)
            return TTR_ERR_FORMAT;
    }
    info->library_version = get_u32(p);
    info->impressions = get_u64(p + 8);
    memcpy(info->tag, p + 16, n);
    info->tag[n] = '\0';
    return TTR_OK;
}

int ttr__io_read_header(io_in *in, ttr_config *cfg, uint32_t *flags, ttr_file_info *info)
{
    unsigned char h[IO_HEADER_BYTES];
    int err = ttr__io_in_bytes(in, h, sizeof h);
    if (err)
        return err;
    if (memcmp(h, IO_MAGIC, 4) != 0)
        return TTR_ERR_FORMAT;
    uint32_t version = get_u32(h + 4), md = get_u32(h + 8);
    *flags = get_u32(h + 12);
    if (version == 0)
        return TTR_ERR_FORMAT;
    if (version > TTR_FILE_VERSION)
        return TTR_ERR_UNSUPPORTED;
    if (md > TTR_MODE_SERVE_S8)
        return TTR_ERR_FORMAT;
    if ((*flags & ~(IO_FLAG_STATE | IO_FLAG_FOLDED)) ||
        ((*flags & IO_FLAG_STATE) && md != TTR_MODE_TRAIN) ||
        ((*flags & IO_FLAG_FOLDED) && md == TTR_MODE_TRAIN) ||
        (!(*flags & IO_FLAG_FOLDED) && md == TTR_MODE_SERVE_S8 && version < 2))
        return TTR_ERR_FORMAT; /* version-1 int8 models have the normalisation folded */
    if (version == 3 && md != TTR_MODE_TRAIN)
        return TTR_ERR_FORMAT; /* version 3 is a train model's schedule */
    int sched = version >= 3 && md == TTR_MODE_TRAIN;
    unsigned char blocks[IO_SCHED_BYTES + IO_META_BYTES];
    size_t more = (sched ? IO_SCHED_BYTES : 0) + (version >= 4 ? IO_META_BYTES : 0);
    if ((err = ttr__io_in_bytes(in, blocks, more)) != TTR_OK)
        return err;
    memset(info, 0, sizeof *info);
    info->format_version = version;
    info->mode = (ttr_mode)md;
    info->has_optimizer_state = (*flags & IO_FLAG_STATE) != 0;
    if (version >= 4 && (err = decode_meta(blocks + (sched ? IO_SCHED_BYTES : 0), info)) != 0)
        return err;
    return ttr__io_decode_config(h + 16, sched ? blocks : NULL, cfg);
}

int ttr_model_load_config(ttr_read_fn read, void *ctx, ttr_config *cfg, ttr_mode *mode)
{
    io_in in = {read, ctx, 0};
    ttr_config c;
    ttr_file_info info;
    uint32_t flags;
    if (!read)
        return TTR_ERR_ARG;
    int err = ttr__io_read_header(&in, &c, &flags, &info);
    if (err)
        return err;
    if (cfg)
        *cfg = c;
    if (mode)
        *mode = info.mode;
    return TTR_OK;
}

/* ---- checking a whole stream without an arena ------------------------------ */

/* How many records a model of (cfg, mode) holds and how many values they
 * hold in all (rows x cols summed), from a measuring plan: the same code
 * that lays out the arena. folded: an int8 model whose normalisation is
 * folded into layer 0 has no norm.* records. Mirrors rec_count in
 * model_io.c; a file that ttr_model_load accepts always agrees with it. */
static void expected_records(const ttr_config *cfg, ttr_mode mode, int folded, uint32_t *count,
                             uint64_t *values)
{
    ttr_model probe;
    ttr__layout l = {NULL, 0, 0, NULL};
    (void)ttr__plan(&probe, cfg, mode, &l);
    uint64_t P = (uint64_t)cfg->rows * cfg->cols;
    *count = probe.n_tensors;
    *values = probe.grad_floats;
    if (!(mode == TTR_MODE_SERVE_S8 && folded)) {
        *count += 2;
        *values += 2 * (uint64_t)cfg->n_features;
    }
    if (cfg->variant == TTR_DOT) {
        *count += 1;
        *values += probe.f_out;
    }
    if (mode == TTR_MODE_TRAIN && cfg->variant == TTR_XPA) {
        *count += 2;
        *values += P * P + P;
    }
}

/* Read and drop n bytes (they still go into the CRC). */
static int skip_bytes(io_in *in, uint64_t n)
{
    unsigned char b[1024];
    while (n) {
        size_t k = n < sizeof b ? (size_t)n : sizeof b;
        int err = ttr__io_in_bytes(in, b, k);
        if (err)
            return err;
        n -= k;
    }
    return TTR_OK;
}

/* One record's framing; its payload skipped. *values += rows x cols,
 * refused before reading the payload when that passes `limit`. */
static int check_record(io_in *in, uint32_t flags, uint64_t *values, uint64_t limit)
{
    unsigned char b[16];
    char name[IO_NAME_MAX];
    int err = ttr__io_in_bytes(in, b, 4);
    if (err)
        return err;
    uint32_t len = get_u32(b);
    if (len < 1 || len > IO_NAME_MAX)
        return TTR_ERR_RANGE;
    if ((err = ttr__io_in_bytes(in, name, len)) != 0 || (err = ttr__io_in_bytes(in, b, 16)) != 0)
        return err;
    if (memchr(name, '\0', len))
        return TTR_ERR_FORMAT;
    uint32_t dtype = get_u32(b), rows = get_u32(b + 4), cols = get_u32(b + 8);
    uint32_t n_state = get_u32(b + 12);
    if (dtype > IO_DTYPE_S8 || n_state > 2 || (n_state && !(flags & IO_FLAG_STATE)) ||
        (n_state && dtype == IO_DTYPE_S8))
        return TTR_ERR_FORMAT;
    uint64_t n = (uint64_t)rows * cols; /* < 2^64: a product of two u32 */
    if (n > limit - *values)
        return TTR_ERR_RANGE; /* more than the configuration holds: read no further */
    *values += n;
    /* int8: one byte a value and a scale a row; f32: 4 bytes, times the
     * state (no overflow: n <= limit, the size of a plannable model) */
    uint64_t payload = dtype == IO_DTYPE_S8 ? n + 4 * (uint64_t)rows : 4 * n * (1 + n_state);
    return skip_bytes(in, payload);
}

int ttr_model_check_info(ttr_read_fn read, void *ctx, ttr_config *cfg, ttr_file_info *info)
{
    io_in in = {read, ctx, 0};
    ttr_config c;
    ttr_file_info fi;
    uint32_t flags, want_n;
    uint64_t want_values, values = 0;
    unsigned char st[IO_STATE_BYTES];
    if (!read)
        return TTR_ERR_ARG;
    int err = ttr__io_read_header(&in, &c, &flags, &fi);
    if (err || (err = ttr__io_in_bytes(&in, st, sizeof st)) != 0)
        return err;
    fi.steps = get_u64(st);
    expected_records(&c, fi.mode, (flags & IO_FLAG_FOLDED) != 0, &want_n, &want_values);
    if (get_u32(st + 24) != want_n)
        return TTR_ERR_FORMAT;
    for (uint32_t i = 0; i < want_n; i++) {
        if ((err = check_record(&in, flags, &values, want_values)) != 0)
            return err;
    }
    if (values != want_values)
        return TTR_ERR_RANGE;
    if ((err = ttr__io_in_crc(&in)) != 0)
        return err;
    if (cfg)
        *cfg = c;
    if (info)
        *info = fi;
    return TTR_OK;
}

int ttr_model_check(ttr_read_fn read, void *ctx, ttr_config *cfg, ttr_mode *mode)
{
    ttr_file_info info;
    int err = ttr_model_check_info(read, ctx, cfg, &info);
    if (!err && mode)
        *mode = info.mode;
    return err;
}
