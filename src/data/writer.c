/* The click-log writer (include/ttr_data.h): lines that ttr_clicks_open()
 * reads back bit-exactly. Output is collected in the caller's buffer and
 * handed to the caller's callback; no allocation. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ttr_data.h"

int ttr_stdio_write(void *file, const void *data, size_t n)
{
    return fwrite(data, 1, n, (FILE *)file) == n ? 0 : -1;
}

int ttr_clicks_writer_open(ttr_writer *w, ttr_write_fn write, void *ctx, char *buf,
                           size_t buf_size, uint32_t rows, uint32_t cols, uint32_t n_features)
{
    if (!w)
        return TTR_ERR_ARG;
    memset(w, 0, sizeof *w);
    if (!write || !buf || buf_size < TTR_WRITER_MIN_BUF || rows == 0 || cols == 0 ||
        (uint64_t)rows * cols > TTR_DATA_MAX_SLOTS || n_features == 0 ||
        n_features > TTR_DATA_MAX_FEATURES)
        return TTR_ERR_ARG;
    w->write = write;
    w->ctx = ctx;
    w->buf = buf;
    w->cap = buf_size;
    w->rows = rows;
    w->cols = cols;
    w->n_features = n_features;
    return TTR_OK;
}

int ttr_writer_flush(ttr_writer *w)
{
    if (!w || !w->write)
        return TTR_ERR_ARG;
    if (w->err)
        return w->err;
    if (w->len) {
        if (w->write(w->ctx, w->buf, w->len) != 0)
            return w->err = TTR_ERR_IO;
        w->len = 0;
    }
    return TTR_OK;
}

/* Append n bytes (n < TTR_WRITER_MIN_BUF). */
static int put(ttr_writer *w, const char *s, size_t n)
{
    if (w->len + n > w->cap) {
        int rc = ttr_writer_flush(w);
        if (rc)
            return rc;
    }
    memcpy(w->buf + w->len, s, n);
    w->len += n;
    return TTR_OK;
}

static int put_u64(ttr_writer *w, const char *prefix, uint64_t v)
{
    char tmp[48];
    size_t n = strlen(prefix), k = sizeof tmp;
    memcpy(tmp, prefix, n);
    do {
        tmp[--k] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    memmove(tmp + n, tmp + k, sizeof tmp - k);
    return put(w, tmp, n + sizeof tmp - k);
}

/* The shortest %.Ng (N = 6..9) that reads back as v. */
static size_t format_float(char *out, size_t cap, float v)
{
    int len = 0;
    for (int prec = 6; prec <= 9; prec++) {
        len = snprintf(out, cap, "%.*g", prec, (double)v);
        if (len <= 0 || (size_t)len >= cap)
            return 0;
        if (prec == 9 || strtof(out, NULL) == v)
            break;
    }
    return (size_t)len;
}

int ttr_clicks_write_header(ttr_writer *w)
{
    char tmp[96];
    int n;
    if (!w || !w->write)
        return TTR_ERR_ARG;
    if (w->err)
        return w->err;
    n = snprintf(tmp, sizeof tmp, "# ttrank-clicks v1 rows=%lu cols=%lu F=%lu\n",
                 (unsigned long)w->rows, (unsigned long)w->cols, (unsigned long)w->n_features);
    if (n <= 0 || (size_t)n >= sizeof tmp)
        return TTR_ERR_ARG;
    w->lines++;
    return put(w, tmp, (size_t)n);
}

int ttr_clicks_write_list(ttr_writer *w, uint64_t list_id, const uint32_t *context, size_t n,
                          const float *x, size_t ldx, const uint16_t *slots,
                          const uint8_t *clicks)
{
    uint32_t seen[TTR_DATA_MAX_SLOTS / 32];
    uint32_t F, S;
    int rc;
    if (!w || !w->write || n == 0 || !x || !slots || !clicks)
        return TTR_ERR_ARG;
    if (w->err)
        return w->err;
    F = w->n_features;
    S = w->rows * w->cols;
    if (ldx < F || (context && *context >= TTR_DATA_MAX_CONTEXTS))
        return TTR_ERR_ARG;
    memset(seen, 0, sizeof seen);
    for (size_t i = 0; i < n; i++) {
        if (clicks[i] > 1 || slots[i] >= S || (seen[slots[i] >> 5] >> (slots[i] & 31)) & 1u)
            return TTR_ERR_ARG;
        seen[slots[i] >> 5] |= 1u << (slots[i] & 31);
        for (uint32_t j = 0; j < F; j++)
            if (!isfinite(x[i * ldx + j]))
                return TTR_ERR_NONFINITE;
    }
    for (size_t i = 0; i < n; i++) {
        const float *row = x + i * ldx;
        rc = put(w, clicks[i] ? "1" : "0", 1);
        if (!rc)
            rc = put_u64(w, " qid:", list_id);
        if (!rc)
            rc = put_u64(w, " pos:", slots[i]);
        if (!rc && context)
            rc = put_u64(w, " ctx:", *context);
        for (uint32_t j = 0; j < F && !rc; j++) {
            char tmp[64];
            size_t k;
            uint32_t bits;
            memcpy(&bits, &row[j], sizeof bits);
            if (bits == 0)
                continue; /* +0.0: left out */
            rc = put_u64(w, " ", (uint64_t)j + 1);
            if (rc)
                break;
            tmp[0] = ':';
            k = format_float(tmp + 1, sizeof tmp - 1, row[j]);
            if (k == 0)
                return w->err = TTR_ERR_IO; /* cannot happen for a finite float */
            rc = put(w, tmp, k + 1);
        }
        if (!rc)
            rc = put(w, "\n", 1);
        if (rc)
            return rc;
        w->lines++;
    }
    return TTR_OK;
}
