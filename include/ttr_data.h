/* ttrank — streaming readers and writers for the text formats of docs/formats.md:
 * LETOR / SVMlight relevance data (with qid:, or without it plus a LightGBM
 * `.query` file of group sizes) and the click log.
 *
 * Memory: nothing is allocated. The caller supplies the input (a read
 * callback with a line buffer, or the whole file in memory), the reader
 * state (ttr_reader, any storage: stack, static, arena) and the arrays of
 * one list (ttr_list). Memory is bounded by the longest line and the longest
 * list, never by the file. Nothing is printed: a failed read leaves a code,
 * a 1-based line and column and a short static message in the reader
 * (ttr_reader_error()), so that a tool can print `file:line:col: message`.
 *
 * Grammar (both formats; ' ' and '\t' separate tokens, a line ends at LF,
 * one CR before the LF or before the end of the input is dropped, the last
 * line needs no LF, blank lines and lines whose first non-blank is '#' are
 * skipped, '#' after a token starts a comment that runs to the end of line):
 *
 *   LETOR:      label [qid:Q] idx:val idx:val ... [# comment]
 *   click log:  c qid:L pos:P [ctx:K] idx:val ... [# comment]
 *   click-log layout header (optional, before the first data line):
 *               # ttrank-clicks v1 rows=R cols=C F=N
 *   .query:     one group size per line (the next that many data rows form a
 *               list); blank lines, comments and groups of size 0 are skipped.
 *
 * - label: a decimal number in [0, max_label]; c: exactly 0 or 1.
 * - qid, pos, ctx: unsigned decimal integers (qid up to 2^64-1). The named
 *   fields come after the label and before the features, in any order, each
 *   at most once; LETOR accepts only qid. Without a .query file every LETOR
 *   line needs qid; with one, qid is optional but, where given, must be the
 *   same on every row of a group.
 * - Features are 1-based; an index absent from a line means 0. Indices must
 *   strictly increase along a line (as SVMlight and LIBSVM require), which
 *   also rules out duplicates. Index 0, or an index above n_features (or
 *   above TTR_DATA_MAX_FEATURES), is an error.
 * - Numbers: [+-]digits[.digits][(e|E)[+-]digits] (".5" and "5." too).
 *   Values are rounded to the nearest float (correctly rounded). Overflow of
 *   float is TTR_ERR_RANGE; results that underflow are kept (0 or
 *   subnormal). nan/inf/infinity (any case, any sign) is TTR_ERR_NONFINITE.
 *   Hexadecimal floats are rejected; number tokens longer than
 *   TTR_DATA_MAX_NUMBER bytes are TTR_ERR_FORMAT. Numbers whose significant
 *   digits form an integer below 2^24 with a decimal exponent in [-10, 10]
 *   (such as all of MQ2008's "0.007477"-style values) are
 *   converted without the C library; the others go through strtof. Both are
 *   correctly rounded, so they agree; strtof depends on LC_NUMERIC, which
 *   must stay "C" (the default unless the program calls setlocale).
 * - Lists are contiguous: lines of one list are adjacent. A new qid ends the
 *   list. If the caller gives a qid table (ttr_reader_config.qid_table), a
 *   qid that reappears after another list is TTR_ERR_FORMAT; without one,
 *   that is not detected (it would need memory proportional to the file).
 * - Click logs: pos < rows * cols of the layout (the configuration's, else
 *   the header's, else TTR_DATA_MAX_SLOTS); a pos may appear once per list;
 *   ctx is a list property: every line of a list has the same ctx or none
 *   has one. A second layout header is accepted only if identical (logs
 *   concatenated with cat); a header after data without one first is an
 *   error.
 *
 * Errors are reported where they are met: a bad line that follows a
 * complete list fails the call that would have returned that list. Once a
 * reader returns an error it stays in that state (every later call returns
 * the same code). Errors and their messages are listed in
 * ttr_reader_error(). */
#ifndef TTR_DATA_H
#define TTR_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "ttr_error.h"
#include "ttr_stream.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TTR_DATA_MAX_FEATURES 65536u   /* largest feature index accepted */
#define TTR_DATA_MAX_SLOTS 1024u       /* pos < this when no layout is known */
#define TTR_DATA_MAX_CONTEXTS 65536u   /* ctx < this when n_contexts is 0 */
#define TTR_DATA_MAX_ITEMS (1u << 20)  /* largest max_items */
#define TTR_DATA_MAX_NUMBER 127        /* longest number token (bytes) */

/* Input and output go through the callbacks of ttr_stream.h (ttr_read_fn,
 * ttr_write_fn, and the stdio adapters ttr_stdio_read / ttr_stdio_write). */

/* Where a reader gets its bytes: a callback plus the caller's line buffer
 * (buf_size must exceed the longest line, counting a CR, by at least one
 * byte; a longer line is TTR_ERR_NOMEM, never truncated), or a whole input
 * held in memory (read == NULL; no line length limit, nothing is copied).
 * The buffer and the memory must outlive the reader. */
typedef struct ttr_source {
    ttr_read_fn read;
    void *ctx;
    char *buf;
    size_t buf_size;
    const char *data;
    size_t size;
} ttr_source;

TTR_API ttr_source ttr_source_callback(ttr_read_fn read, void *ctx, char *buf, size_t buf_size);
TTR_API ttr_source ttr_source_memory(const void *data, size_t size);

/* Reader settings. Start from ttr_reader_config_default(). */
typedef struct ttr_reader_config {
    uint32_t n_features; /* F: indices 1..F accepted and stored (default 0).
                            0 = scan mode: indices up to TTR_DATA_MAX_FEATURES
                            are checked but not stored (ttr_list.x must be
                            NULL; ttr_reader_stats() gives the largest);
                            click logs with a header take F from it. */
    uint32_t max_items;  /* longest list accepted (the rows of the caller's
                            arrays): 1..TTR_DATA_MAX_ITEMS (default 1024) */
    float max_label;     /* LETOR labels must lie in [0, max_label] (default 31) */
    uint32_t rows, cols; /* click logs: the slot layout; 0, 0 = the header's
                            (if any), else pos < TTR_DATA_MAX_SLOTS. Non-zero:
                            a header must agree. (default 0, 0) */
    uint32_t n_contexts; /* click logs: ctx < n_contexts; 0 = ctx <
                            TTR_DATA_MAX_CONTEXTS (default 0) */
    uint64_t *qid_table; /* optional caller storage that detects a qid
                            reappearing after other lists (lists not
                            contiguous): it needs one entry more than the
                            number of lists; the reader fills it at open.
                            TTR_ERR_NOMEM (at the first line of the list
                            that does not fit) when it is full. NULL = no
                            such check. */
    size_t qid_table_size;
} ttr_reader_config;

TTR_API void ttr_reader_config_default(ttr_reader_config *cfg);

/* One list, read into the caller's arrays (each may be NULL to skip it; the
 * arrays have max_items entries, x has max_items rows of ldx >= F floats, of
 * which the reader writes the first F of the rows it fills: zero, then the
 * features of the line). */
typedef struct ttr_list {
    float *x;
    size_t ldx;
    float *labels;     /* LETOR label; click logs: the click as 0.0 / 1.0 */
    uint8_t *clicks;   /* click logs: c (LETOR: not written) */
    uint16_t *slots;   /* click logs: pos (LETOR: not written) */
    /* filled by the reader */
    size_t n;          /* items in the list (>= 1 when a list was read) */
    uint64_t qid;      /* the list's qid (LETOR with .query and no qid: the
                          0-based group number) */
    int has_qid;
    uint32_t context;  /* click logs: ctx, 0 when absent */
    int has_context;
    unsigned long line;/* line of the list's first item */
} ttr_list;

/* Reader statistics so far. */
typedef struct ttr_reader_stats {
    uint64_t lists, items;  /* returned so far */
    unsigned long lines;    /* lines consumed of the data stream */
    uint32_t max_index;     /* largest feature index seen (0 if none) */
    size_t max_list;        /* longest list */
    float max_label;        /* largest label (or click) seen */
} ttr_reader_stats;

/* Private: one input stream split into lines. */
typedef struct ttr__lines {
    ttr_read_fn read;
    void *ctx;
    const char *data;
    size_t size, pos;
    char *buf;
    size_t cap, beg, end, scan;
    int eof, pending;
    const char *lp;
    size_t llen;
    unsigned long line;
} ttr__lines;

/* Reader state. Treat the fields as private; the struct is public only so
 * that callers can place it anywhere (no allocation). */
typedef struct ttr_reader {
    ttr_reader_config cfg;
    ttr__lines src, grp;
    int kind, has_groups, started, done;
    uint32_t nf, n_slots, n_ctx;
    int hdr, hdr_rows, hdr_cols, hdr_f; /* header seen and its values */
    int data_seen;
    size_t group_left;
    uint64_t group_no;
    unsigned long group_line;
    uint64_t prev_qid;
    int have_prev;
    size_t qt_count;
    int qt_has_max;
    int err, err_in_groups;
    unsigned long err_line, err_col;
    const char *err_msg;
    ttr_reader_stats st;
    uint32_t slot_seen[TTR_DATA_MAX_SLOTS / 32];
} ttr_reader;

/* Open a LETOR/SVMlight reader on `data`; `groups` is the .query stream or
 * NULL (then every line needs qid:). Nothing is read yet. TTR_ERR_ARG for a
 * NULL pointer, a callback source without a buffer (buf_size < 2), or a
 * configuration out of range. */
TTR_API int ttr_letor_open(ttr_reader *r, const ttr_reader_config *cfg, const ttr_source *data,
                           const ttr_source *groups);

/* Open a click-log reader. */
TTR_API int ttr_clicks_open(ttr_reader *r, const ttr_reader_config *cfg, const ttr_source *src);

/* Click logs: read up to the first data line (header comments included) and
 * give the layout in effect: rows, cols and F (each may be NULL; 0 when
 * unknown). Returns 1 if the file has a layout header, 0 if not, or a
 * negative error. Call it before the first ttr_reader_next() to size the
 * list arrays from the header. */
TTR_API int ttr_clicks_layout(ttr_reader *r, uint32_t *rows, uint32_t *cols, uint32_t *n_features);

/* Read the next list into `out`. Returns 1 (a list of out->n >= 1 items), 0
 * (end of input: no more lists), or a negative error (see
 * ttr_reader_error()). An empty input has zero lists. TTR_ERR_ARG (not
 * sticky, nothing read) if out is NULL, x is given in scan mode or
 * ldx < F. */
TTR_API int ttr_reader_next(ttr_reader *r, ttr_list *out);

/* The reader's error: returns its code (0 if none) and, for any pointer not
 * NULL, the 1-based line and column (a byte offset; 0 for errors that have
 * no position) and a short static message. *in_groups is 1 when the error
 * is in the .query stream, else 0.
 *
 *   code               message (examples)
 *   TTR_ERR_FORMAT     "bad number", "missing feature value", "missing feature index",
 *                      "expected index:value", "expected ':' after feature index",
 *                      "feature indices must increase", "duplicate feature index",
 *                      "missing qid", "qid must be an unsigned integer",
 *                      "qid reappears after another list", "unknown field",
 *                      "duplicate field", "bad click (expected 0 or 1)",
 *                      "pos repeated in a list", "ctx differs within a list",
 *                      "more data rows than the .query groups",
 *                      "data ends inside a .query group", "bad group size",
 *                      "layout header after data", "bad layout header", ...
 *   TTR_ERR_RANGE      "number out of float range", "label out of range",
 *                      "click must be 0 or 1", "feature index 0 (indices start at 1)",
 *                      "feature index above n_features", "feature index too large",
 *                      "qid too large", "pos out of range for the layout",
 *                      "ctx out of range", "list longer than max_items",
 *                      "group larger than max_items", ...
 *   TTR_ERR_NONFINITE  "non-finite number"
 *   TTR_ERR_NOMEM      "line longer than the line buffer", "qid table full"
 *   TTR_ERR_IO         "read error", "read callback returned too many bytes"
 *   TTR_ERR_UNSUPPORTED "unsupported click-log version" */
TTR_API int ttr_reader_error(const ttr_reader *r, unsigned long *line, unsigned long *col,
                             const char **msg, int *in_groups);

TTR_API void ttr_reader_stats_get(const ttr_reader *r, ttr_reader_stats *st);

/* ---- click-log writer ---------------------------------------------------- */

#define TTR_WRITER_MIN_BUF 128 /* smallest output buffer */

typedef struct ttr_writer {
    ttr_write_fn write;
    void *ctx;
    char *buf;
    size_t cap, len;
    uint32_t rows, cols, n_features;
    int err;
    uint64_t lines;
} ttr_writer;

/* Start a click-log writer for a rows x cols layout and F features. `buf`
 * (buf_size >= TTR_WRITER_MIN_BUF) collects output between calls of
 * `write`; lines of any length are fine. Nothing is written yet. */
TTR_API int ttr_clicks_writer_open(ttr_writer *w, ttr_write_fn write, void *ctx, char *buf,
                                   size_t buf_size, uint32_t rows, uint32_t cols,
                                   uint32_t n_features);

/* Write the layout header `# ttrank-clicks v1 rows=R cols=C F=N`. */
TTR_API int ttr_clicks_write_header(ttr_writer *w);

/* Write one list: n >= 1 items, item i with features x[i*ldx .. i*ldx+F-1],
 * slot slots[i] < rows*cols (distinct within the list), click clicks[i] in
 * {0,1}; context: NULL (no ctx field) or the list's ctx. Each line is
 * `c qid:L pos:P [ctx:K] idx:val ...`; features equal to +0.0 are left out
 * (missing means 0), every other value is written with the fewest digits
 * (at most 9 significant) that read back as the same float, so reading the
 * log gives the same bits. Everything is checked before anything is written:
 * TTR_ERR_ARG (n == 0, NULL arrays, click or slot out of range, a repeated
 * slot, ldx < F), TTR_ERR_NONFINITE (a NaN/Inf feature). TTR_ERR_IO from
 * the callback is sticky. */
TTR_API int ttr_clicks_write_list(ttr_writer *w, uint64_t list_id, const uint32_t *context,
                                  size_t n, const float *x, size_t ldx, const uint16_t *slots,
                                  const uint8_t *clicks);

/* Hand everything buffered to the callback. */
TTR_API int ttr_writer_flush(ttr_writer *w);

#ifdef __cplusplus
}
#endif
#endif
