/* Error paths of the readers and the click-log writer that the table of
 * malformed inputs in test_data.c does not reach: argument checks, read
 * callbacks that fail or misbehave, a byte order mark, click-log header and
 * field errors, errors inside .query groups, a qid table that wraps around,
 * and a writer whose output callback fails at every call. Each case checks
 * its specific code (and line, column and message where the reader gives
 * them), and that errors stay. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "ttr_data.h"

/* ---- helpers --------------------------------------------------------------- */

/* Claims one byte more than it was asked for. */
static size_t greedy_read(void *ctx, void *buf, size_t n)
{
    (void)ctx;
    memset(buf, '1', n);
    return n + 1;
}

static ttr_reader_config cfg_of(uint32_t F, uint32_t max_items)
{
    ttr_reader_config c;
    ttr_reader_config_default(&c);
    c.n_features = F;
    c.max_items = max_items;
    c.max_label = 4.0f;
    return c;
}

/* The reader's error after reading lists until one call does not return 1:
 * that call's code, which must also be the sticky error. */
static int read_until_error(ttr_reader *r, uint32_t F)
{
    float x[16 * 8];
    float labels[16];
    ttr_list l;
    int rc;
    do {
        memset(&l, 0, sizeof l);
        l.x = F ? x : NULL;
        l.ldx = 8;
        l.labels = labels;
        rc = ttr_reader_next(r, &l);
    } while (rc == 1);
    if (rc < 0) {
        cr_assert_eq(l.n, 0, "a failed call returns no list");
        cr_assert_eq(ttr_reader_error(r, NULL, NULL, NULL, NULL), rc);
        cr_assert_eq(ttr_reader_next(r, &l), rc, "errors are sticky");
    }
    return rc;
}

/* Open text as LETOR (groups may be NULL) or a click log from memory, read
 * it whole and check code, line, column and a part of the message. */
static void expect_error(int clicks, const char *text, const char *groups, int code,
                         unsigned long line, unsigned long col, const char *msg_part)
{
    ttr_reader r;
    ttr_reader_config cfg = cfg_of(clicks ? 0 : 4, 4);
    ttr_source s = ttr_source_memory(text, strlen(text));
    ttr_source g = ttr_source_memory(groups, groups ? strlen(groups) : 0);
    unsigned long ln, co;
    const char *msg;
    int rc = clicks ? ttr_clicks_open(&r, &cfg, &s) : ttr_letor_open(&r, &cfg, &s, groups ? &g : NULL);
    cr_assert_eq(rc, TTR_OK);
    rc = read_until_error(&r, clicks ? 0 : 4);
    cr_assert_eq(rc, code, "'%s': %d, expected %d", text, rc, code);
    cr_assert_eq(ttr_reader_error(&r, &ln, &co, &msg, NULL), code);
    cr_assert_eq(ln, line, "'%s': line %lu, expected %lu (%s)", text, ln, line, msg);
    cr_assert_eq(co, col, "'%s': col %lu, expected %lu (%s)", text, co, col, msg);
    cr_assert(strstr(msg, msg_part) != NULL, "'%s': message '%s' lacks '%s'", text, msg, msg_part);
}

/* ---- arguments ---------------------------------------------------------------- */

Test(data_errors, arguments)
{
    ttr_reader r;
    ttr_reader_config cfg = cfg_of(4, 4);
    ttr_source s = ttr_source_memory("1 qid:1 1:1\n", 12), nodata = ttr_source_memory(NULL, 5);
    ttr_source nobuf = ttr_source_callback(tu_chunk_read, NULL, NULL, 64);
    ttr_list l;
    uint32_t rows = 9, cols = 9, F = 9;

    ttr_reader_config_default(NULL); /* no crash */
    cr_assert_eq(ttr_reader_error(NULL, NULL, NULL, NULL, NULL), TTR_ERR_ARG);
    cr_assert_eq(ttr_letor_open(&r, &cfg, &nodata, NULL), TTR_ERR_ARG);
    cr_assert_eq(ttr_letor_open(&r, NULL, &s, NULL), TTR_ERR_ARG);
    cr_assert_eq(ttr_letor_open(&r, &cfg, NULL, NULL), TTR_ERR_ARG);
    cr_assert_eq(ttr_clicks_open(&r, &cfg, &nodata), TTR_ERR_ARG);
    /* layouts: rows and cols both set or both 0, at most TTR_DATA_MAX_SLOTS slots */
    cfg.rows = 2;
    cr_assert_eq(ttr_clicks_open(&r, &cfg, &s), TTR_ERR_ARG);
    cfg.cols = 513;
    cr_assert_eq(ttr_clicks_open(&r, &cfg, &s), TTR_ERR_ARG);
    cfg.cols = 512;
    cr_assert_eq(ttr_clicks_open(&r, &cfg, &s), TTR_OK);
    cfg.rows = cfg.cols = 0;
    /* a qid table size without a table */
    cfg.qid_table_size = 4;
    cr_assert_eq(ttr_letor_open(&r, &cfg, &s, NULL), TTR_ERR_ARG);
    cfg.qid_table_size = 0;
    cfg.n_contexts = TTR_DATA_MAX_CONTEXTS + 1;
    cr_assert_eq(ttr_clicks_open(&r, &cfg, &s), TTR_ERR_ARG);
    cfg.n_contexts = 0;
    /* a bad .query source: the open fails and leaves no usable reader */
    cr_assert_eq(ttr_letor_open(&r, &cfg, &s, &nobuf), TTR_ERR_ARG);
    memset(&l, 0, sizeof l);
    cr_assert_eq(ttr_reader_next(&r, &l), TTR_ERR_ARG);
    /* NULL reader or list */
    cr_assert_eq(ttr_reader_next(NULL, &l), TTR_ERR_ARG);
    cr_assert_eq(ttr_letor_open(&r, &cfg, &s, NULL), TTR_OK);
    cr_assert_eq(ttr_reader_next(&r, NULL), TTR_ERR_ARG);
    /* the layout of a LETOR reader, or of none, is an argument error */
    cr_assert_eq(ttr_clicks_layout(&r, &rows, &cols, &F), TTR_ERR_ARG);
    cr_assert_eq(ttr_clicks_layout(NULL, &rows, &cols, &F), TTR_ERR_ARG);
    cr_assert(rows == 9 && cols == 9 && F == 9, "outputs untouched");
    /* statistics of NULL: nothing happens */
    ttr_reader_stats_get(NULL, NULL);
    ttr_reader_stats_get(&r, NULL);
}

/* ---- read callbacks ------------------------------------------------------------ */

Test(data_errors, callbacks_that_fail_or_overrun)
{
    ttr_reader r;
    ttr_reader_config cfg = cfg_of(4, 4);
    char buf[32];
    unsigned long ln, col;
    const char *msg;
    /* a callback that hands back more than it was asked for */
    ttr_source s = ttr_source_callback(greedy_read, NULL, buf, sizeof buf);
    cr_assert_eq(ttr_letor_open(&r, &cfg, &s, NULL), TTR_OK);
    cr_assert_eq(read_until_error(&r, 4), TTR_ERR_IO);
    cr_assert_eq(ttr_reader_error(&r, &ln, &col, &msg, NULL), TTR_ERR_IO);
    cr_assert_eq(ln, 1);
    cr_assert_eq(col, 0);
    cr_assert(strstr(msg, "too many bytes") != NULL, "%s", msg);
#if defined(__unix__) || defined(__APPLE__)
    /* the stdio adapters: a stream open for writing only fails to read */
    {
        char one;
        FILE *fp = fopen("/dev/null", "wb");
        cr_assert_not_null(fp);
        cr_assert_eq(ttr_stdio_read(fp, &one, 1), TTR_READ_ERROR);
        clearerr(fp);
        s = ttr_source_callback(ttr_stdio_read, fp, buf, sizeof buf);
        cr_assert_eq(ttr_letor_open(&r, &cfg, &s, NULL), TTR_OK);
        cr_assert_eq(read_until_error(&r, 4), TTR_ERR_IO);
        cr_assert_eq(ttr_reader_error(&r, NULL, NULL, &msg, NULL), TTR_ERR_IO);
        cr_assert(strstr(msg, "read error") != NULL, "%s", msg);
        fclose(fp);
        /* at the end of a readable stream it returns 0 */
        fp = fopen("/dev/null", "rb");
        cr_assert_not_null(fp);
        cr_assert_eq(ttr_stdio_read(fp, &one, 1), 0);
        /* the write adapter: a stream open for reading only cannot write */
        cr_assert_eq(ttr_stdio_write(fp, "x", 1), -1);
        fclose(fp);
        fp = fopen("/dev/null", "wb");
        cr_assert_not_null(fp);
        cr_assert_eq(ttr_stdio_write(fp, "xy", 2), 0);
        fclose(fp);
    }
#endif
    /* inside a .query group: the data line is too long for its buffer */
    {
        static const char data[] = "1 1:1\n0 2:1 3:1 4:1 # a line longer than 32 bytes\n";
        tu_chunk_src cs = {data, sizeof data - 1, 0, 5};
        ttr_source g = ttr_source_memory("2\n", 2);
        s = ttr_source_callback(tu_chunk_read, &cs, buf, sizeof buf);
        cr_assert_eq(ttr_letor_open(&r, &cfg, &s, &g), TTR_OK);
        cr_assert_eq(read_until_error(&r, 4), TTR_ERR_NOMEM);
        cr_assert_eq(ttr_reader_error(&r, &ln, NULL, NULL, NULL), TTR_ERR_NOMEM);
        cr_assert_eq(ln, 2);
    }
}

/* ---- inputs ------------------------------------------------------------------ */

Test(data_errors, byte_order_mark_header_and_field_errors)
{
    /* a UTF-8 byte order mark before the first line is skipped; columns
     * count from after it */
    {
        static const char text[] = "\xEF\xBB\xBF" "2 qid:7 1:0.5\n1 qid:7 2:1\n";
        ttr_reader r;
        ttr_reader_config cfg = cfg_of(4, 4);
        ttr_source s = ttr_source_memory(text, sizeof text - 1);
        float x[4 * 8], labels[4];
        ttr_list l;
        memset(&l, 0, sizeof l);
        l.x = x;
        l.ldx = 8;
        l.labels = labels;
        cr_assert_eq(ttr_letor_open(&r, &cfg, &s, NULL), TTR_OK);
        cr_assert_eq(ttr_reader_next(&r, &l), 1);
        cr_assert_eq(l.n, 2);
        cr_assert_eq(l.qid, 7);
        cr_assert(labels[0] == 2.0f && x[0] == 0.5f && labels[1] == 1.0f);
        cr_assert_eq(ttr_reader_next(&r, &l), 0);
        expect_error(0, "\xEF\xBB\xBF" "1 qid:1 1:x\n", NULL, TTR_ERR_FORMAT, 1, 11, "bad number");
        /* only before the first line */
        expect_error(0, "1 qid:1 1:1\n\xEF\xBB\xBF" "1 qid:1 1:1\n", NULL, TTR_ERR_FORMAT, 2, 1,
                     "bad number");
    }
    /* click-log layout headers */
    expect_error(1, "# ttrank-clicks x1 rows=1 cols=1 F=1\n", NULL, TTR_ERR_FORMAT, 1, 17,
                 "expected v1");
    expect_error(1, "# ttrank-clicks v1 rows= cols=1 F=1\n", NULL, TTR_ERR_FORMAT, 1, 25,
                 "header value");
    expect_error(1, "# ttrank-clicks v1 rows=1 cols F=1\n", NULL, TTR_ERR_FORMAT, 1, 27,
                 "key=value");
    /* click-log fields and clicks */
    expect_error(1, "0 qid:1 pos:\n", NULL, TTR_ERR_FORMAT, 1, 13, "missing pos");
    expect_error(1, "0 qid:1 pos:0 ctx:\n", NULL, TTR_ERR_FORMAT, 1, 19, "missing ctx");
    expect_error(1, "0 qid:1 pos:0 ctx:x\n", NULL, TTR_ERR_FORMAT, 1, 19, "ctx must be");
    expect_error(1, "nan qid:1 pos:0\n", NULL, TTR_ERR_NONFINITE, 1, 1, "non-finite");
    expect_error(1, "1e99 qid:1 pos:0\n", NULL, TTR_ERR_RANGE, 1, 1, "float range");
    /* errors inside a .query group: a bad label, a feature error */
    expect_error(0, "1 1:1\n9 1:1\n", "2\n", TTR_ERR_RANGE, 2, 1, "label out of range");
    expect_error(0, "1 1:1\n1 5:1\n", "2\n", TTR_ERR_RANGE, 2, 3, "above n_features");
    /* data ends inside a group: reported in the .query stream at the group */
    {
        ttr_reader r;
        ttr_reader_config cfg = cfg_of(4, 4);
        ttr_source s = ttr_source_memory("1 1:1\n# c\n", 10), g = ttr_source_memory("\n2\n", 3);
        unsigned long ln, col;
        int in_groups;
        cr_assert_eq(ttr_letor_open(&r, &cfg, &s, &g), TTR_OK);
        cr_assert_eq(read_until_error(&r, 4), TTR_ERR_FORMAT);
        cr_assert_eq(ttr_reader_error(&r, &ln, &col, NULL, &in_groups), TTR_ERR_FORMAT);
        cr_assert(ln == 2 && col == 1 && in_groups == 1);
    }
    /* the layout query after an error returns the error */
    {
        ttr_reader r;
        ttr_reader_config cfg = cfg_of(0, 4);
        ttr_source s = ttr_source_memory("# ttrank-clicks v7 rows=1 cols=1 F=1\n", 37);
        uint32_t rows = 5;
        cr_assert_eq(ttr_clicks_open(&r, &cfg, &s), TTR_OK);
        cr_assert_eq(ttr_clicks_layout(&r, &rows, NULL, NULL), TTR_ERR_UNSUPPORTED);
        cr_assert_eq(ttr_clicks_layout(&r, &rows, NULL, NULL), TTR_ERR_UNSUPPORTED);
        cr_assert_eq(rows, 5);
    }
}

/* A qid table that is nearly full: probing wraps past its end, every list
 * still reads, a reappearing qid is still found, and one list more than the
 * table holds is TTR_ERR_NOMEM. */
Test(data_errors, qid_table_wraps_around)
{
    enum { LISTS = 300 };
    uint64_t table[LISTS + 1];
    char *text = malloc(LISTS * 32 + 64);
    size_t at = 0;
    for (int i = 0; i < LISTS; i++)
        at += (size_t)sprintf(text + at, "1 qid:%d 1:1\n", i * 7919 + 3);
    ttr_reader r;
    ttr_reader_config cfg = cfg_of(4, 4);
    cfg.qid_table = table;
    cfg.qid_table_size = LISTS + 1;
    ttr_source s = ttr_source_memory(text, at);
    cr_assert_eq(ttr_letor_open(&r, &cfg, &s, NULL), TTR_OK);
    cr_assert_eq(read_until_error(&r, 4), 0);
    ttr_reader_stats st;
    ttr_reader_stats_get(&r, &st);
    cr_assert_eq(st.lists, LISTS);
    /* every entry but one used: the probes must have wrapped */
    size_t used = 0;
    for (size_t i = 0; i < LISTS + 1; i++)
        used += table[i] != UINT64_MAX;
    cr_assert_eq(used, LISTS);
    /* a qid seen 100 lists ago */
    at += (size_t)sprintf(text + at, "1 qid:%d 1:1\n", 200 * 7919 + 3);
    s = ttr_source_memory(text, at);
    cr_assert_eq(ttr_letor_open(&r, &cfg, &s, NULL), TTR_OK);
    cr_assert_eq(read_until_error(&r, 4), TTR_ERR_FORMAT);
    cr_assert_eq(ttr_reader_error(&r, NULL, NULL, NULL, NULL), TTR_ERR_FORMAT);
    /* a table one entry short */
    cfg.qid_table_size = LISTS;
    s = ttr_source_memory(text, at);
    cr_assert_eq(ttr_letor_open(&r, &cfg, &s, NULL), TTR_OK);
    cr_assert_eq(read_until_error(&r, 4), TTR_ERR_NOMEM);
    free(text);
}

/* ---- the writer ------------------------------------------------------------------- */

static int fail_after;
static int failing_write(void *ctx, const void *data, size_t n)
{
    (void)ctx;
    (void)data;
    (void)n;
    return fail_after-- <= 0 ? -1 : 0;
}

Test(data_errors, writer_arguments_and_failing_output)
{
    ttr_writer w;
    char buf[TTR_WRITER_MIN_BUF];
    float x[3 * 5];
    uint16_t slots[3] = {0, 2, 1};
    uint8_t clicks[3] = {1, 0, 0};
    uint32_t ctx = 4;
    for (int i = 0; i < 15; i++)
        x[i] = (float)(i % 4) * 0.3333333f - 0.1f * (float)i;
    x[3] = 0.0f; /* left out of the line */

    cr_assert_eq(ttr_clicks_writer_open(NULL, failing_write, NULL, buf, sizeof buf, 1, 3, 5),
                 TTR_ERR_ARG);
    cr_assert_eq(ttr_clicks_writer_open(&w, failing_write, NULL, buf, sizeof buf - 1, 1, 3, 5),
                 TTR_ERR_ARG);
    cr_assert_eq(ttr_writer_flush(NULL), TTR_ERR_ARG);
    cr_assert_eq(ttr_clicks_write_header(NULL), TTR_ERR_ARG);
    cr_assert_eq(ttr_clicks_write_list(NULL, 1, NULL, 3, x, 5, slots, clicks), TTR_ERR_ARG);
    /* a writer whose open failed is not usable */
    cr_assert_eq(ttr_writer_flush(&w), TTR_ERR_ARG);
    cr_assert_eq(ttr_clicks_write_header(&w), TTR_ERR_ARG);

    /* the output callback fails at its k-th call, for every k: the call
     * that meets it returns IO, and so does every later call */
    int k;
    for (k = 0;; k++) {
        int rc = TTR_OK;
        fail_after = k;
        cr_assert_eq(ttr_clicks_writer_open(&w, failing_write, NULL, buf, sizeof buf, 1, 3, 5),
                     TTR_OK);
        for (int rep = 0; rep < 6 && rc == TTR_OK; rep++) {
            rc = ttr_clicks_write_header(&w);
            if (rc == TTR_OK)
                rc = ttr_clicks_write_list(&w, 1000000007ull * (uint64_t)rep, rep % 2 ? &ctx : NULL,
                                           3, x, 5, slots, clicks);
        }
        if (rc == TTR_OK)
            rc = ttr_writer_flush(&w);
        if (rc == TTR_OK)
            break;
        cr_assert_eq(rc, TTR_ERR_IO, "failure at call %d: %d", k, rc);
        cr_assert_eq(ttr_writer_flush(&w), TTR_ERR_IO, "sticky");
        cr_assert_eq(ttr_clicks_write_header(&w), TTR_ERR_IO, "sticky");
        cr_assert_eq(ttr_clicks_write_list(&w, 1, NULL, 3, x, 5, slots, clicks), TTR_ERR_IO,
                     "sticky");
    }
    cr_assert(k >= 4, "the output took %d calls: the buffer should have filled", k);
}
