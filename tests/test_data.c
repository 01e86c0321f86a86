/* The LETOR / .query / click-log readers and the click-log writer
 * (include/ttr_data.h): every malformed input gives its code and line:col,
 * reading through a callback in chunks of any size gives what reading from
 * memory gives, writer -> reader is bit-exact, and (when the data folder is
 * there) the real MQ2008 and Yahoo sample files read completely. */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "ttr_data.h"

/* ---- helpers -------------------------------------------------------------- */

static size_t failing_read(void *ctx, void *buf, size_t n)
{
    (void)ctx;
    (void)buf;
    (void)n;
    return TTR_READ_ERROR;
}

enum { K_LETOR = 1, K_CLICKS = 2 };
#define MAXF 8
#define MAXI 64

/* Everything a read produced, for comparisons. */
typedef struct outcome {
    int rc;                      /* last return: 0 at the end or an error */
    unsigned long line, col;
    const char *msg;
    int in_groups;
    size_t lists, items;
    size_t sizes[64];
    uint64_t qids[64];
    uint32_t ctxs[64];
    float x[MAXI * MAXF];        /* features of the first MAXI items */
    float labels[MAXI];
    uint8_t clicks[MAXI];
    uint16_t slots[MAXI];
} outcome;

/* Read `text` (and `groups`) whole. chunk == 0: from memory; else through
 * the callback in chunks of `chunk` bytes with a line buffer of buf_size. */
static void read_all(int kind, const char *text, const char *groups, const ttr_reader_config *cfg,
                     size_t chunk, size_t buf_size, outcome *o)
{
    ttr_reader r;
    ttr_source s, g;
    tu_chunk_src cs = {text, strlen(text), 0, chunk}, cg = {groups, groups ? strlen(groups) : 0, 0, chunk};
    char *buf = chunk ? (char *)malloc(buf_size) : NULL;
    char gbuf[64];
    float x[MAXI * MAXF];
    float labels[MAXI];
    uint8_t clicks[MAXI];
    uint16_t slots[MAXI];
    int rc;
    memset(o, 0, sizeof *o);
    s = chunk ? ttr_source_callback(tu_chunk_read, &cs, buf, buf_size)
              : ttr_source_memory(text, strlen(text));
    g = chunk ? ttr_source_callback(tu_chunk_read, &cg, gbuf, sizeof gbuf)
              : ttr_source_memory(groups, groups ? strlen(groups) : 0);
    rc = kind == K_LETOR ? ttr_letor_open(&r, cfg, &s, groups ? &g : NULL)
                         : ttr_clicks_open(&r, cfg, &s);
    cr_assert_eq(rc, 0);
    for (;;) {
        ttr_list l;
        memset(&l, 0, sizeof l);
        l.x = cfg->n_features ? x : NULL;
        l.ldx = MAXF;
        l.labels = labels;
        l.clicks = clicks;
        l.slots = slots;
        rc = ttr_reader_next(&r, &l);
        if (rc != 1)
            break;
        cr_assert(l.n >= 1 && l.n <= cfg->max_items);
        if (o->lists < 64) {
            o->sizes[o->lists] = l.n;
            o->qids[o->lists] = l.qid;
            o->ctxs[o->lists] = l.has_context ? l.context : 0xFFFFFFFFu;
        }
        for (size_t i = 0; i < l.n && o->items + i < MAXI; i++) {
            size_t k = o->items + i;
            if (cfg->n_features)
                memcpy(o->x + k * MAXF, x + i * MAXF, cfg->n_features * sizeof(float));
            o->labels[k] = labels[i];
            if (kind == K_CLICKS) {
                o->clicks[k] = clicks[i];
                o->slots[k] = slots[i];
            }
        }
        o->lists++;
        o->items += l.n;
    }
    o->rc = rc;
    cr_assert_eq(ttr_reader_error(&r, &o->line, &o->col, &o->msg, &o->in_groups), rc < 0 ? rc : 0);
    /* errors are sticky */
    if (rc < 0) {
        ttr_list l;
        memset(&l, 0, sizeof l);
        cr_assert_eq(ttr_reader_next(&r, &l), rc);
    }
    free(buf);
}

static void expect_same(const outcome *a, const outcome *b, const char *what, size_t chunk)
{
    cr_assert_eq(a->rc, b->rc, "%s chunk %zu: rc %d vs %d", what, chunk, a->rc, b->rc);
    cr_assert_eq(a->line, b->line, "%s chunk %zu: line", what, chunk);
    cr_assert_eq(a->col, b->col, "%s chunk %zu: col", what, chunk);
    cr_assert_eq(a->in_groups, b->in_groups, "%s chunk %zu", what, chunk);
    cr_assert_eq(a->lists, b->lists, "%s chunk %zu: lists", what, chunk);
    cr_assert_eq(a->items, b->items, "%s chunk %zu: items", what, chunk);
    cr_assert(memcmp(a->sizes, b->sizes, sizeof a->sizes) == 0, "%s chunk %zu", what, chunk);
    cr_assert(memcmp(a->qids, b->qids, sizeof a->qids) == 0, "%s chunk %zu", what, chunk);
    cr_assert(memcmp(a->ctxs, b->ctxs, sizeof a->ctxs) == 0, "%s chunk %zu", what, chunk);
    cr_assert(memcmp(a->x, b->x, sizeof a->x) == 0, "%s chunk %zu: features", what, chunk);
    cr_assert(memcmp(a->labels, b->labels, sizeof a->labels) == 0, "%s chunk %zu", what, chunk);
    cr_assert(memcmp(a->clicks, b->clicks, sizeof a->clicks) == 0, "%s chunk %zu", what, chunk);
    cr_assert(memcmp(a->slots, b->slots, sizeof a->slots) == 0, "%s chunk %zu", what, chunk);
}

static ttr_reader_config letor_cfg(uint32_t F, uint32_t max_items, float max_label)
{
    ttr_reader_config c;
    ttr_reader_config_default(&c);
    c.n_features = F;
    c.max_items = max_items;
    c.max_label = max_label;
    return c;
}

/* ---- malformed inputs ------------------------------------------------------- */

typedef struct bad_case {
    int kind;
    const char *text, *groups;
    int code;
    unsigned long line, col;
    int in_groups;
    const char *msg_part; /* a substring of the message, or NULL */
} bad_case;

static const bad_case bad_cases[] = {
    /* numbers */
    {K_LETOR, "1 qid:1 1:abc\n", NULL, TTR_ERR_FORMAT, 1, 11, 0, "bad number"},
    {K_LETOR, "1 qid:1 1:\n", NULL, TTR_ERR_FORMAT, 1, 11, 0, "missing feature value"},
    {K_LETOR, "1 qid:1 1: 2:3\n", NULL, TTR_ERR_FORMAT, 1, 11, 0, "missing feature value"},
    {K_LETOR, "1 qid:1 :5\n", NULL, TTR_ERR_FORMAT, 1, 9, 0, "missing feature index"},
    {K_LETOR, "1 qid:1 1:1e999\n", NULL, TTR_ERR_RANGE, 1, 11, 0, "float range"},
    {K_LETOR, "1 qid:1 1:-3.5e38\n", NULL, TTR_ERR_RANGE, 1, 11, 0, "float range"},
    {K_LETOR, "1 qid:1 1:nan\n", NULL, TTR_ERR_NONFINITE, 1, 11, 0, "non-finite"},
    {K_LETOR, "1 qid:1 1:0.5 2:-Inf\n", NULL, TTR_ERR_NONFINITE, 1, 17, 0, NULL},
    {K_LETOR, "1 qid:1 1:infinity\n", NULL, TTR_ERR_NONFINITE, 1, 11, 0, NULL},
    {K_LETOR, "nan qid:1 1:1\n", NULL, TTR_ERR_NONFINITE, 1, 1, 0, NULL},
    {K_LETOR, "1 qid:1 1:0x10\n", NULL, TTR_ERR_FORMAT, 1, 12, 0, "bad number"},
    {K_LETOR, "1 qid:1 1:1.5e\n", NULL, TTR_ERR_FORMAT, 1, 15, 0, "bad number"},
    {K_LETOR, "1 qid:1 1:1.5e+\n", NULL, TTR_ERR_FORMAT, 1, 16, 0, "bad number"},
    {K_LETOR, "1 qid:1 1:.\n", NULL, TTR_ERR_FORMAT, 1, 12, 0, "bad number"},
    {K_LETOR, "1 qid:1 1:--1\n", NULL, TTR_ERR_FORMAT, 1, 12, 0, "bad number"},
    {K_LETOR, "1 qid:1 1:1:2\n", NULL, TTR_ERR_FORMAT, 1, 12, 0, "bad number"},
    {K_LETOR, "1 qid:1 1:1\x01\n", NULL, TTR_ERR_FORMAT, 1, 12, 0, "bad number"},
    {K_LETOR,
     "1 qid:1 1:0.00000000000000000000000000000000000000000000000000000000000000000000000000"
     "0000000000000000000000000000000000000000000000000000000000000000000000001\n",
     NULL, TTR_ERR_FORMAT, 1, 11, 0, "too long"},
    /* feature indices */
    {K_LETOR, "1 qid:1 0:1\n", NULL, TTR_ERR_RANGE, 1, 9, 0, "index 0"},
    {K_LETOR, "1 qid:1 5:1\n", NULL, TTR_ERR_RANGE, 1, 9, 0, "above n_features"},
    {K_LETOR, "1 qid:1 65537:1\n", NULL, TTR_ERR_RANGE, 1, 9, 0, "too large"},
    {K_LETOR, "1 qid:1 99999999999999999999:1\n", NULL, TTR_ERR_RANGE, 1, 9, 0, "too large"},
    {K_LETOR, "1 qid:1 2:1 2:3\n", NULL, TTR_ERR_FORMAT, 1, 13, 0, "duplicate"},
    {K_LETOR, "1 qid:1 3:1 2:3\n", NULL, TTR_ERR_FORMAT, 1, 13, 0, "increase"},
    {K_LETOR, "1 qid:1 1x:3\n", NULL, TTR_ERR_FORMAT, 1, 10, 0, "bad feature index"},
    {K_LETOR, "1 qid:1 -1:3\n", NULL, TTR_ERR_FORMAT, 1, 9, 0, "expected index:value"},
    /* truncated lines and named fields */
    {K_LETOR, "1 qid:1 1:0.5 2", NULL, TTR_ERR_FORMAT, 1, 16, 0, "expected ':'"},
    {K_LETOR, "1 qid:1 1:0.5 2\n", NULL, TTR_ERR_FORMAT, 1, 16, 0, "expected ':'"},
    {K_LETOR, "1 qid:", NULL, TTR_ERR_FORMAT, 1, 7, 0, "missing qid"},
    {K_LETOR, "1\n", NULL, TTR_ERR_FORMAT, 1, 2, 0, "missing qid"},
    {K_LETOR, "1 1:1\n", NULL, TTR_ERR_FORMAT, 1, 3, 0, "missing qid"},
    {K_LETOR, "1 qid:1 1:0.5 qid:1\n", NULL, TTR_ERR_FORMAT, 1, 15, 0, "named field"},
    {K_LETOR, "1 qid:1 qid:1 1:0.5\n", NULL, TTR_ERR_FORMAT, 1, 9, 0, "duplicate field"},
    {K_LETOR, "1 foo:3 1:1\n", NULL, TTR_ERR_FORMAT, 1, 3, 0, "unknown field"},
    {K_LETOR, "1 qid:1 pos:1 1:1\n", NULL, TTR_ERR_FORMAT, 1, 9, 0, "unknown field"},
    {K_LETOR, "1 qid 1:1\n", NULL, TTR_ERR_FORMAT, 1, 3, 0, "name:value"},
    {K_LETOR, "1 qid:x 1:1\n", NULL, TTR_ERR_FORMAT, 1, 7, 0, "unsigned integer"},
    {K_LETOR, "1 qid:-3 1:1\n", NULL, TTR_ERR_FORMAT, 1, 7, 0, "unsigned integer"},
    {K_LETOR, "1 qid:1\r 1:1\n", NULL, TTR_ERR_FORMAT, 1, 7, 0, "unsigned integer"},
    {K_LETOR, "1 qid:18446744073709551616 1:1\n", NULL, TTR_ERR_RANGE, 1, 7, 0, "qid too large"},
    /* labels */
    {K_LETOR, "5 qid:1 1:1\n", NULL, TTR_ERR_RANGE, 1, 1, 0, "label out of range"},
    {K_LETOR, "-1 qid:1 1:1\n", NULL, TTR_ERR_RANGE, 1, 1, 0, "label out of range"},
    {K_LETOR, "abc qid:1 1:1\n", NULL, TTR_ERR_FORMAT, 1, 1, 0, "bad number"},
    {K_LETOR, "qid:1 1:1\n", NULL, TTR_ERR_FORMAT, 1, 1, 0, "bad number"},
    /* lists */
    {K_LETOR, "1 qid:1 1:1\n1 qid:2 1:1\n# c\n1 qid:1 1:1\n", NULL, TTR_ERR_FORMAT, 4, 7, 0,
     "reappears"},
    {K_LETOR, "1 qid:1\n1 qid:1\n\n1 qid:1\n1 qid:1\n", NULL, TTR_ERR_RANGE, 5, 1, 0,
     "longer than max_items"},
    {K_LETOR, "1 qid:1 1:1\n1 qid:2 1:1\n1 qid:2 1:1 1:1\n", NULL, TTR_ERR_FORMAT, 3, 13, 0,
     "duplicate"},
    /* .query groups */
    {K_LETOR, "1 1:1\n0 2:1\n2 3:1\n", "2\n", TTR_ERR_FORMAT, 3, 1, 0, "more data rows"},
    {K_LETOR, "1 1:1\n0 2:1\n2 3:1\n", "2\n2\n", TTR_ERR_FORMAT, 2, 1, 1, "inside a .query"},
    {K_LETOR, "1 1:1\n", "x\n", TTR_ERR_FORMAT, 1, 1, 1, "bad group size"},
    {K_LETOR, "1 1:1\n", " 1 2\n", TTR_ERR_FORMAT, 1, 4, 1, "bad group size"},
    {K_LETOR, "1 1:1\n1 1:1\n1 1:1\n1 1:1\n", "# sizes\n4\n", TTR_ERR_RANGE, 2, 1, 1,
     "group larger"},
    {K_LETOR, "1 qid:5 1:1\n1 qid:6 1:1\n", "2\n", TTR_ERR_FORMAT, 2, 7, 0, "qid changes"},
    {K_LETOR, "1 qid:5 1:1\n1 1:1\n", "2\n", TTR_ERR_FORMAT, 2, 3, 0, "qid changes"},
    {K_LETOR, "1 qid:5 1:1\n1 qid:5 1:1\n", "1\n1\n", TTR_ERR_FORMAT, 2, 7, 0, "reappears"},
    {K_LETOR, "1 1:1\n1 1:abc\n", "1\n1\n", TTR_ERR_FORMAT, 2, 5, 0, "bad number"},
    /* click logs (layout 2 x 2, F = 3 from the header) */
    {K_CLICKS, "# ttrank-clicks v1 rows=2 cols=2 F=3\n2 qid:1 pos:0\n", NULL, TTR_ERR_RANGE, 2, 1,
     0, "click must be 0 or 1"},
    {K_CLICKS, "# ttrank-clicks v1 rows=2 cols=2 F=3\n1.0 qid:1 pos:0\n", NULL, TTR_ERR_RANGE, 2,
     1, 0, "click must be 0 or 1"},
    {K_CLICKS, "# ttrank-clicks v1 rows=2 cols=2 F=3\nx qid:1 pos:0\n", NULL, TTR_ERR_FORMAT, 2,
     1, 0, "bad click"},
    {K_CLICKS, "# ttrank-clicks v1 rows=2 cols=2 F=3\n0 qid:1 pos:4\n", NULL, TTR_ERR_RANGE, 2,
     13, 0, "pos out of range"},
    {K_CLICKS, "0 qid:1 pos:1024\n", NULL, TTR_ERR_RANGE, 1, 13, 0, "pos out of range"},
    {K_CLICKS, "0 qid:1 pos:x\n", NULL, TTR_ERR_FORMAT, 1, 13, 0, "pos must be"},
    {K_CLICKS, "# ttrank-clicks v1 rows=2 cols=2 F=3\n0 qid:1 pos:1\n1 qid:1 pos:1\n", NULL,
     TTR_ERR_FORMAT, 3, 13, 0, "pos repeated"},
    {K_CLICKS, "# ttrank-clicks v1 rows=2 cols=2 F=3\n0 qid:1 1:1\n", NULL, TTR_ERR_FORMAT, 2, 9,
     0, "missing pos"},
    {K_CLICKS, "0 pos:1 1:1\n", NULL, TTR_ERR_FORMAT, 1, 9, 0, "missing qid"},
    {K_CLICKS, "0 qid:1 pos:0 ctx:1\n0 qid:1 pos:1 ctx:2\n", NULL, TTR_ERR_FORMAT, 2, 19, 0,
     "ctx differs"},
    {K_CLICKS, "0 qid:1 pos:0 ctx:1\n0 qid:1 pos:1\n", NULL, TTR_ERR_FORMAT, 2, 14, 0,
     "ctx differs"},
    {K_CLICKS, "0 qid:1 pos:0 ctx:65536\n", NULL, TTR_ERR_RANGE, 1, 19, 0, "ctx out of range"},
    {K_CLICKS, "0 ctx:1 pos:0 qid:1 ctx:1\n", NULL, TTR_ERR_FORMAT, 1, 21, 0, "duplicate field"},
    {K_CLICKS, "# ttrank-clicks v1 rows=2 cols=2 F=3\n0 qid:1 pos:0 4:1\n", NULL, TTR_ERR_RANGE,
     2, 15, 0, "above n_features"},
    {K_CLICKS, "0 qid:1 pos:0\n# ttrank-clicks v1 rows=2 cols=2 F=3\n", NULL, TTR_ERR_FORMAT, 2,
     1, 0, "header after data"},
    {K_CLICKS, "# ttrank-clicks v1 rows=2 cols=2 F=3\n0 qid:1 pos:0\n# ttrank-clicks v1 rows=2 cols=3 F=3\n",
     NULL, TTR_ERR_FORMAT, 3, 1, 0, "differs from the first"},
    {K_CLICKS, "# ttrank-clicks v2 rows=2 cols=2 F=3\n", NULL, TTR_ERR_UNSUPPORTED, 1, 17, 0,
     "version"},
    {K_CLICKS, "# ttrank-clicks v1 rows=2 cols=2\n", NULL, TTR_ERR_FORMAT, 1, 1, 0, "F="},
    {K_CLICKS, "# ttrank-clicks v1 rows=2 cols=x F=3\n", NULL, TTR_ERR_FORMAT, 1, 32, 0,
     "header value"},
    {K_CLICKS, "# ttrank-clicks v1 rows=64 cols=32 F=3\n", NULL, TTR_ERR_RANGE, 1, 1, 0,
     "too large"},
    {K_CLICKS, "# ttrank-clicks v1 rows=0 cols=1 F=3\n", NULL, TTR_ERR_RANGE, 1, 25, 0,
     "out of range"},
    {K_CLICKS, "# ttrank-clicks v1 rows=1 cols=1 F=70000\n", NULL, TTR_ERR_RANGE, 1, 36, 0,
     "out of range"},
    {K_CLICKS, "# ttrank-clicks v1 rows=1 cols=1 F=3\n0 qid:1 pos:0\n0 qid:2 pos:0\n0 qid:1 pos:0\n",
     NULL, TTR_ERR_FORMAT, 4, 7, 0, "reappears"},
};

Test(data, malformed_inputs_give_code_and_position)
{
    uint64_t table[16];
    size_t nc = sizeof bad_cases / sizeof bad_cases[0];
    for (size_t k = 0; k < nc; k++) {
        const bad_case *b = &bad_cases[k];
        ttr_reader_config cfg = letor_cfg(b->kind == K_LETOR ? 4 : 0, 3, 4.0f);
        outcome ref, o;
        cfg.qid_table = table;
        cfg.qid_table_size = 16;
        if (b->kind == K_CLICKS)
            cfg.max_items = 8;
        read_all(b->kind, b->text, b->groups, &cfg, 0, 0, &ref);
        cr_assert_eq(ref.rc, b->code, "case %zu (%s): rc %d, expected %d (%s)", k, b->text, ref.rc,
                     b->code, ref.msg);
        cr_assert_eq(ref.line, b->line, "case %zu (%s): line %lu, expected %lu", k, b->text,
                     ref.line, b->line);
        cr_assert_eq(ref.col, b->col, "case %zu (%s): col %lu, expected %lu (%s)", k, b->text,
                     ref.col, b->col, ref.msg);
        cr_assert_eq(ref.in_groups, b->in_groups, "case %zu", k);
        cr_assert_not_null(ref.msg);
        if (b->msg_part)
            cr_assert(strstr(ref.msg, b->msg_part) != NULL, "case %zu: message '%s' lacks '%s'", k,
                      ref.msg, b->msg_part);
        /* the same through the callback, in chunks of every size 1..17 */
        for (size_t chunk = 1; chunk <= 17; chunk++) {
            read_all(b->kind, b->text, b->groups, &cfg, chunk, 256, &o);
            expect_same(&ref, &o, b->text, chunk);
        }
    }
}

Test(data, reappearing_qid_needs_the_table)
{
    ttr_reader_config cfg = letor_cfg(4, 3, 4.0f);
    outcome o;
    uint64_t table[3];
    read_all(K_LETOR, "1 qid:1 1:1\n1 qid:2 1:1\n1 qid:1 1:1\n", NULL, &cfg, 0, 0, &o);
    cr_assert_eq(o.rc, 0);
    cr_assert_eq(o.lists, 3);
    /* a table too small says so */
    cfg.qid_table = table;
    cfg.qid_table_size = 3;
    read_all(K_LETOR, "1 qid:1\n1 qid:2\n1 qid:3\n", NULL, &cfg, 0, 0, &o);
    cr_assert_eq(o.rc, TTR_ERR_NOMEM);
    cr_assert_eq(o.line, 3);
    cr_assert_eq(o.col, 7);
    /* qid 2^64-1 works and is tracked too */
    read_all(K_LETOR, "1 qid:18446744073709551615\n1 qid:0\n1 qid:18446744073709551615\n", NULL,
             &cfg, 0, 0, &o);
    cr_assert_eq(o.rc, TTR_ERR_FORMAT);
    cr_assert_eq(o.line, 3);
    cr_assert_eq(o.qids[0], UINT64_MAX);
}

/* ---- well-formed inputs ------------------------------------------------------ */

static const char good_letor[] =
    "# a LETOR file\n"
    "2 qid:10 1:0.5 2:-1.25 4:3e2 # docid = A\n"
    "0 qid:10 3:0.007477 #docid = B\n"
    "\n"
    "   # indented comment\n"
    "1\tqid:10\t1:1.000000\t2:.5\t3:5.\r\n"
    "4 qid:7 1:1e-50 2:-0 3:1.17549435e-38 4:3.40282347e38\r\n"
    "\t\r\n"
    "3 qid:8 4:0.1#no blank before the comment\n"
    "0.5 qid:9 1:123456789012345678901234567890 2:-0.000000000000000000000000000001";

Test(data, letor_values_comments_crlf_and_no_final_newline)
{
    ttr_reader_config cfg = letor_cfg(4, 3, 4.0f);
    outcome o, c;
    float z = 0.0f;
    read_all(K_LETOR, good_letor, NULL, &cfg, 0, 0, &o);
    cr_assert_eq(o.rc, 0, "%s at %lu:%lu", o.msg, o.line, o.col);
    cr_assert_eq(o.lists, 4);
    cr_assert_eq(o.items, 6);
    cr_assert_eq(o.sizes[0], 3);
    cr_assert_eq(o.qids[0], 10);
    cr_assert_eq(o.qids[1], 7);
    cr_assert_eq(o.qids[3], 9);
    cr_assert(o.labels[0] == 2.0f && o.labels[1] == 0.0f && o.labels[2] == 1.0f);
    cr_assert(o.labels[5] == 0.5f);
    cr_assert(o.x[0] == 0.5f && o.x[1] == -1.25f && o.x[2] == 0.0f && o.x[3] == 300.0f);
    cr_assert(o.x[MAXF + 0] == 0.0f && o.x[MAXF + 2] == 0.007477f);
    cr_assert(o.x[2 * MAXF + 0] == 1.0f && o.x[2 * MAXF + 1] == 0.5f && o.x[2 * MAXF + 2] == 5.0f);
    cr_assert(o.x[3 * MAXF + 0] == 0.0f);          /* underflow kept as 0 */
    cr_assert(o.x[3 * MAXF + 1] == 0.0f && signbit(o.x[3 * MAXF + 1])); /* -0 */
    cr_assert(o.x[3 * MAXF + 2] == FLT_MIN);
    cr_assert(o.x[3 * MAXF + 3] == FLT_MAX);
    cr_assert(o.x[4 * MAXF + 3] == 0.1f);
    cr_assert(o.x[5 * MAXF + 0] == 123456789012345678901234567890.0f);
    cr_assert(o.x[5 * MAXF + 1] == -1e-30f);
    (void)z;
    for (size_t chunk = 1; chunk <= 17; chunk++)
        for (size_t bs = 80; bs <= 4096; bs *= 4) {
            read_all(K_LETOR, good_letor, NULL, &cfg, chunk, bs, &c);
            expect_same(&o, &c, "good letor", chunk);
        }
}

Test(data, empty_inputs_and_query_groups)
{
    ttr_reader_config cfg = letor_cfg(4, 3, 4.0f);
    const char *empties[] = {"", "\n", "\r\n\n   \n", "# only a comment", "# a\n#b\n\t# c\r\n"};
    outcome o, c;
    for (size_t k = 0; k < sizeof empties / sizeof empties[0]; k++) {
        read_all(K_LETOR, empties[k], NULL, &cfg, 0, 0, &o);
        cr_assert_eq(o.rc, 0);
        cr_assert_eq(o.lists, 0);
        read_all(K_CLICKS, empties[k], NULL, &cfg, 3, 64, &o);
        cr_assert_eq(o.rc, 0);
        cr_assert_eq(o.lists, 0);
        read_all(K_LETOR, empties[k], "", &cfg, 1, 64, &o);
        cr_assert_eq(o.rc, 0);
        cr_assert_eq(o.lists, 0);
    }
    /* no qid + .query: groups of 2, (0 skipped), 1 and 3 */
    read_all(K_LETOR, "1 1:1\n0 2:1\n# c\n2 3:1\n3 1:2\n4 4:4\n0\n", "2\n0\n# c\n1\r\n3", &cfg,
             0, 0, &o);
    cr_assert_eq(o.rc, 0, "%s at %lu:%lu", o.msg, o.line, o.col);
    cr_assert_eq(o.lists, 3);
    cr_assert(o.sizes[0] == 2 && o.sizes[1] == 1 && o.sizes[2] == 3);
    cr_assert(o.qids[0] == 0 && o.qids[1] == 1 && o.qids[2] == 2);
    cr_assert(o.labels[3] == 3.0f && o.x[3 * MAXF] == 2.0f && o.x[4 * MAXF + 3] == 4.0f);
    for (size_t chunk = 1; chunk <= 17; chunk++) {
        read_all(K_LETOR, "1 1:1\n0 2:1\n# c\n2 3:1\n3 1:2\n4 4:4\n0\n", "2\n0\n# c\n1\r\n3",
                 &cfg, chunk, 64, &c);
        expect_same(&o, &c, "groups", chunk);
    }
    /* qid given with .query: kept when consistent */
    read_all(K_LETOR, "1 qid:5 1:1\n1 qid:5 1:1\n1 qid:9\n", "2\n1\n", &cfg, 0, 0, &o);
    cr_assert_eq(o.rc, 0);
    cr_assert(o.qids[0] == 5 && o.qids[1] == 9);
}

Test(data, click_log_layout_and_fields)
{
    static const char text[] =
        "# ttrank-clicks v1 rows=2 cols=2 F=3 note=ignored\n"
        "# simulated\n"
        "1 qid:4 pos:0 ctx:2 1:0.25 3:-1\n"
        "0 ctx:2 pos:3 qid:4 # fields in any order\n"
        "0 qid:5 pos:1 2:7\r\n"
        "# ttrank-clicks v1 rows=2 cols=2 F=3\n"
        "1 qid:6 pos:2 1:1";
    ttr_reader r;
    ttr_reader_config cfg;
    ttr_source s = ttr_source_memory(text, strlen(text));
    uint32_t rows = 9, cols = 9, F = 9;
    outcome o, c;
    ttr_reader_config_default(&cfg);
    cr_assert_eq(ttr_clicks_open(&r, &cfg, &s), 0);
    cr_assert_eq(ttr_clicks_layout(&r, &rows, &cols, &F), 1);
    cr_assert(rows == 2 && cols == 2 && F == 3);
    cfg.n_features = 3; /* MAXF-wide rows in read_all */
    read_all(K_CLICKS, text, NULL, &cfg, 0, 0, &o);
    cr_assert_eq(o.rc, 0, "%s at %lu:%lu", o.msg, o.line, o.col);
    cr_assert_eq(o.lists, 3);
    cr_assert(o.sizes[0] == 2 && o.sizes[1] == 1 && o.sizes[2] == 1);
    cr_assert(o.qids[0] == 4 && o.qids[1] == 5 && o.qids[2] == 6);
    cr_assert(o.ctxs[0] == 2 && o.ctxs[1] == 0xFFFFFFFFu);
    cr_assert(o.clicks[0] == 1 && o.clicks[1] == 0 && o.labels[0] == 1.0f);
    cr_assert(o.slots[0] == 0 && o.slots[1] == 3 && o.slots[2] == 1 && o.slots[3] == 2);
    cr_assert(o.x[0] == 0.25f && o.x[1] == 0.0f && o.x[2] == -1.0f && o.x[2 * MAXF + 1] == 7.0f);
    for (size_t chunk = 1; chunk <= 17; chunk++) {
        read_all(K_CLICKS, text, NULL, &cfg, chunk, 64, &c);
        expect_same(&o, &c, "clicks", chunk);
    }
    /* without a header: no layout, pos < TTR_DATA_MAX_SLOTS */
    s = ttr_source_memory("1 qid:1 pos:1023\n", 17);
    ttr_reader_config_default(&cfg);
    cr_assert_eq(ttr_clicks_open(&r, &cfg, &s), 0);
    cr_assert_eq(ttr_clicks_layout(&r, &rows, &cols, &F), 0);
    cr_assert(rows == 0 && cols == 0 && F == 0);
    /* the configuration's layout must agree with the header's */
    cfg.rows = 3;
    cfg.cols = 1;
    s = ttr_source_memory(text, strlen(text));
    cr_assert_eq(ttr_clicks_open(&r, &cfg, &s), 0);
    cr_assert_eq(ttr_clicks_layout(&r, NULL, NULL, NULL), TTR_ERR_FORMAT);
    cfg.rows = 2;
    cfg.cols = 2;
    cfg.n_features = 4;
    s = ttr_source_memory(text, strlen(text));
    cr_assert_eq(ttr_clicks_open(&r, &cfg, &s), 0);
    cr_assert_eq(ttr_clicks_layout(&r, NULL, NULL, NULL), TTR_ERR_FORMAT);
}

Test(data, long_lines_io_errors_and_arguments)
{
    char line[200], buf[64];
    ttr_reader r;
    ttr_reader_config cfg = letor_cfg(4, 3, 4.0f);
    ttr_list l;
    ttr_source s;
    unsigned long ln, col;
    const char *msg;
    outcome o;
    float x[4 * 8];
    /* a line of exactly buf_size - 1 bytes plus LF fits; one byte more does not */
    for (size_t extra = 0; extra < 3; extra++) {
        size_t len = 30 + extra; /* content bytes */
        memset(line, ' ', sizeof line);
        memcpy(line, "1 qid:1 1:1", 11);
        line[len] = '\n';
        memcpy(line + len + 1, "1 qid:2\n", 9);
        read_all(K_LETOR, line, NULL, &cfg, 7, 31, &o);
        if (extra == 0) {
            cr_assert_eq(o.rc, 0);
            cr_assert_eq(o.lists, 2);
        } else {
            cr_assert_eq(o.rc, TTR_ERR_NOMEM);
            cr_assert_eq(o.line, 1);
            cr_assert_eq(o.col, 31);
            cr_assert(strstr(o.msg, "line buffer") != NULL);
        }
        /* memory sources have no limit */
        read_all(K_LETOR, line, NULL, &cfg, 0, 0, &o);
        cr_assert_eq(o.rc, 0);
    }
    /* the long line in the middle of a file: its own line number */
    read_all(K_LETOR,
             "1 qid:1\n1 qid:1\n1 qid:2 1:1 2:1 3:1 4:1 # a comment longer than the buffer\n",
             NULL, &cfg, 5, 32, &o);
    cr_assert_eq(o.rc, TTR_ERR_NOMEM);
    cr_assert_eq(o.line, 3);
    /* read errors */
    s = ttr_source_callback(failing_read, NULL, buf, sizeof buf);
    cr_assert_eq(ttr_letor_open(&r, &cfg, &s, NULL), 0);
    memset(&l, 0, sizeof l);
    cr_assert_eq(ttr_reader_next(&r, &l), TTR_ERR_IO);
    cr_assert_eq(ttr_reader_error(&r, &ln, &col, &msg, NULL), TTR_ERR_IO);
    cr_assert_eq(ln, 1);
    /* arguments */
    s = ttr_source_callback(failing_read, NULL, buf, 1);
    cr_assert_eq(ttr_letor_open(&r, &cfg, &s, NULL), TTR_ERR_ARG);
    s = ttr_source_memory("1 qid:1\n", 8);
    cr_assert_eq(ttr_letor_open(NULL, &cfg, &s, NULL), TTR_ERR_ARG);
    cfg.max_items = 0;
    cr_assert_eq(ttr_letor_open(&r, &cfg, &s, NULL), TTR_ERR_ARG);
    cfg.max_items = 3;
    cfg.n_features = TTR_DATA_MAX_FEATURES + 1;
    cr_assert_eq(ttr_letor_open(&r, &cfg, &s, NULL), TTR_ERR_ARG);
    cfg.n_features = 4;
    cfg.max_label = NAN;
    cr_assert_eq(ttr_letor_open(&r, &cfg, &s, NULL), TTR_ERR_ARG);
    cfg.max_label = 4;
    cr_assert_eq(ttr_letor_open(&r, &cfg, &s, NULL), 0);
    memset(&l, 0, sizeof l);
    l.x = x;
    l.ldx = 3; /* < F */
    cr_assert_eq(ttr_reader_next(&r, &l), TTR_ERR_ARG);
    cr_assert_eq(ttr_reader_error(&r, NULL, NULL, NULL, NULL), 0); /* not sticky */
    l.ldx = 8;
    cr_assert_eq(ttr_reader_next(&r, &l), 1);
    cr_assert_eq(ttr_reader_next(&r, &l), 0);
    cr_assert_eq(ttr_reader_next(&r, &l), 0);
    /* scan mode (F = 0): features checked, not stored, largest index reported */
    {
        ttr_reader_stats st;
        cfg.n_features = 0;
        s = ttr_source_memory("1 qid:1 7:1 300:2\n2 qid:1 5:1\n", 30);
        cr_assert_eq(ttr_letor_open(&r, &cfg, &s, NULL), 0);
        memset(&l, 0, sizeof l);
        l.x = x;
        l.ldx = 8;
        cr_assert_eq(ttr_reader_next(&r, &l), TTR_ERR_ARG);
        l.x = NULL;
        cr_assert_eq(ttr_reader_next(&r, &l), 1);
        cr_assert_eq(l.n, 2);
        ttr_reader_stats_get(&r, &st);
        cr_assert_eq(st.max_index, 300);
        cr_assert_eq(st.items, 2);
        cr_assert_eq(st.lists, 1);
        cr_assert_eq(st.max_list, 2);
        cr_assert(st.max_label == 2.0f);
    }
}

/* ---- number conversion ----------------------------------------------------- */

/* Every decimal form the reader takes gives strtof's float (the fast path
 * and the library path agree), for random floats printed with 1..9 digits
 * and in %f / %e forms. */
Test(data, numbers_match_strtof)
{
    tu_rng g = tu_rng_seed(7);
    ttr_reader_config cfg = letor_cfg(1, 1, 4.0f);
    for (int k = 0; k < 20000; k++) {
        char text[96], num[64];
        uint32_t bits = tu_u32(&g);
        float v, want;
        ttr_reader r;
        ttr_list l;
        ttr_source s;
        float x;
        int form = k % 4;
        if (k % 3 == 0)
            v = tu_uniform(&g, 0.0f, 1.0f);
        else if (k % 3 == 1)
            v = (float)(tu_u32(&g) % 100000) / 1000.0f;
        else {
            memcpy(&v, &bits, sizeof v);
            if (!isfinite(v))
                continue;
        }
        if (form == 0)
            snprintf(num, sizeof num, "%.*g", 1 + (int)(tu_u32(&g) % 9), (double)v);
        else if (form == 1)
            snprintf(num, sizeof num, "%.6f", (double)v);
        else if (form == 2)
            snprintf(num, sizeof num, "%.*e", (int)(tu_u32(&g) % 9), (double)v);
        else
            snprintf(num, sizeof num, "%.9g", (double)v);
        if (strlen(num) > TTR_DATA_MAX_NUMBER)
            continue;
        want = strtof(num, NULL);
        snprintf(text, sizeof text, "0 qid:1 1:%s\n", num);
        s = ttr_source_memory(text, strlen(text));
        cr_assert_eq(ttr_letor_open(&r, &cfg, &s, NULL), 0);
        memset(&l, 0, sizeof l);
        l.x = &x;
        l.ldx = 1;
        cr_assert_eq(ttr_reader_next(&r, &l), 1, "%s", num);
        cr_assert(memcmp(&x, &want, sizeof x) == 0, "%s: %.9g vs %.9g", num, (double)x,
                  (double)want);
    }
}

/* ---- writer -> reader ----------------------------------------------------------- */

typedef struct sink {
    char *data;
    size_t len, cap;
    size_t calls;
    int fail;
} sink;

static int sink_write(void *ctx, const void *buf, size_t n)
{
    sink *s = (sink *)ctx;
    s->calls++;
    if (s->fail || s->len + n > s->cap)
        return -1;
    memcpy(s->data + s->len, buf, n);
    s->len += n;
    return 0;
}

Test(data, writer_reader_round_trip_is_bit_exact)
{
    enum { F = 5, L = 60, MAXN = 6 };
    static float xs[L][MAXN * F];
    static uint16_t slots[L][MAXN];
    static uint8_t clicks[L][MAXN];
    static size_t ns[L];
    static uint32_t ctx[L];
    tu_rng g = tu_rng_seed(11);
    sink sk = {NULL, 0, 1 << 20, 0, 0};
    char wbuf[TTR_WRITER_MIN_BUF];
    ttr_writer w;
    sk.data = (char *)malloc(sk.cap);
    cr_assert_not_null(sk.data);
    cr_assert_eq(ttr_clicks_writer_open(&w, sink_write, &sk, wbuf, sizeof wbuf, 3, 2, F), 0);
    cr_assert_eq(ttr_clicks_write_header(&w), 0);
    for (int l = 0; l < L; l++) {
        ns[l] = 1 + tu_u32(&g) % MAXN;
        ctx[l] = tu_u32(&g) % 3;
        for (size_t i = 0; i < ns[l]; i++) {
            slots[l][i] = (uint16_t)((i * 5 + (size_t)l) % 6); /* distinct within a list */
            clicks[l][i] = (uint8_t)(tu_u32(&g) & 1);
            for (int j = 0; j < F; j++) {
                float v;
                uint32_t b = tu_u32(&g);
                switch (tu_u32(&g) % 6) {
                case 0: v = 0.0f; break;
                case 1: v = -0.0f; break;
                case 2: memcpy(&v, &b, sizeof v); if (!isfinite(v)) v = FLT_MAX; break;
                case 3: b &= 0x807FFFFFu; memcpy(&v, &b, sizeof v); break; /* subnormal */
                case 4: v = (float)(b % 1000000) / 1e6f; break;
                default: v = tu_uniform(&g, -10.0f, 10.0f); break;
                }
                xs[l][i * F + j] = v;
            }
        }
        cr_assert_eq(ttr_clicks_write_list(&w, 1000u + (uint64_t)l * 977u, l % 2 ? &ctx[l] : NULL,
                                           ns[l], xs[l], F, slots[l], clicks[l]),
                     0);
    }
    cr_assert_eq(ttr_writer_flush(&w), 0);
    cr_assert(sk.calls > 10); /* the small buffer was flushed many times */
    /* read back, from memory and in chunks */
    for (size_t chunk = 0; chunk <= 17; chunk++) {
        ttr_reader r;
        ttr_reader_config cfg;
        ttr_source s;
        char *lb = (char *)malloc(512);
        tu_chunk_src cs = {sk.data, sk.len, 0, chunk};
        float x[MAXN * F];
        uint16_t sl[MAXN];
        uint8_t cl[MAXN];
        uint32_t rows, cols, nf;
        ttr_reader_config_default(&cfg);
        cfg.max_items = MAXN;
        s = chunk ? ttr_source_callback(tu_chunk_read, &cs, lb, 512) : ttr_source_memory(sk.data, sk.len);
        cr_assert_eq(ttr_clicks_open(&r, &cfg, &s), 0);
        cr_assert_eq(ttr_clicks_layout(&r, &rows, &cols, &nf), 1);
        cr_assert(rows == 3 && cols == 2 && nf == F);
        for (int l = 0; l < L; l++) {
            ttr_list li;
            memset(&li, 0, sizeof li);
            li.x = x;
            li.ldx = F;
            li.slots = sl;
            li.clicks = cl;
            cr_assert_eq(ttr_reader_next(&r, &li), 1, "list %d", l);
            cr_assert_eq(li.n, ns[l]);
            cr_assert_eq(li.qid, 1000u + (uint64_t)l * 977u);
            cr_assert_eq(li.has_context, l % 2);
            if (l % 2)
                cr_assert_eq(li.context, ctx[l]);
            cr_assert(memcmp(x, xs[l], ns[l] * F * sizeof(float)) == 0, "list %d chunk %zu", l,
                      chunk);
            cr_assert(memcmp(sl, slots[l], ns[l] * sizeof sl[0]) == 0);
            cr_assert(memcmp(cl, clicks[l], ns[l]) == 0);
        }
        {
            ttr_list li;
            memset(&li, 0, sizeof li);
            cr_assert_eq(ttr_reader_next(&r, &li), 0);
        }
        free(lb);
    }
    /* bad lists are refused before anything is written */
    {
        size_t before;
        float bad[2 * F];
        uint16_t s2[2] = {0, 1};
        uint8_t c2[2] = {0, 1};
        uint32_t big_ctx = TTR_DATA_MAX_CONTEXTS;
        memset(bad, 0, sizeof bad);
        cr_assert_eq(ttr_writer_flush(&w), 0);
        before = sk.len;
        c2[1] = 2;
        cr_assert_eq(ttr_clicks_write_list(&w, 1, NULL, 2, bad, F, s2, c2), TTR_ERR_ARG);
        c2[1] = 1;
        s2[1] = 6;
        cr_assert_eq(ttr_clicks_write_list(&w, 1, NULL, 2, bad, F, s2, c2), TTR_ERR_ARG);
        s2[1] = 0;
        cr_assert_eq(ttr_clicks_write_list(&w, 1, NULL, 2, bad, F, s2, c2), TTR_ERR_ARG);
        s2[1] = 1;
        bad[F + 2] = NAN;
        cr_assert_eq(ttr_clicks_write_list(&w, 1, NULL, 2, bad, F, s2, c2), TTR_ERR_NONFINITE);
        bad[F + 2] = INFINITY;
        cr_assert_eq(ttr_clicks_write_list(&w, 1, NULL, 2, bad, F, s2, c2), TTR_ERR_NONFINITE);
        bad[F + 2] = 0;
        cr_assert_eq(ttr_clicks_write_list(&w, 1, NULL, 0, bad, F, s2, c2), TTR_ERR_ARG);
        cr_assert_eq(ttr_clicks_write_list(&w, 1, NULL, 2, bad, F - 1, s2, c2), TTR_ERR_ARG);
        cr_assert_eq(ttr_clicks_write_list(&w, 1, &big_ctx, 2, bad, F, s2, c2), TTR_ERR_ARG);
        cr_assert_eq(ttr_writer_flush(&w), 0);
        cr_assert_eq(sk.len, before);
        /* an all-zero list: lines without features */
        cr_assert_eq(ttr_clicks_write_list(&w, 7, NULL, 2, bad, F, s2, c2), 0);
        cr_assert_eq(ttr_writer_flush(&w), 0);
        cr_assert(memcmp(sk.data + before, "0 qid:7 pos:0\n1 qid:7 pos:1\n", 28) == 0);
        cr_assert_eq(sk.len, before + 28);
        /* write errors are sticky */
        sk.fail = 1;
        cr_assert_eq(ttr_clicks_write_list(&w, 8, NULL, 2, bad, F, s2, c2), 0); /* buffered */
        cr_assert_eq(ttr_writer_flush(&w), TTR_ERR_IO);
        cr_assert_eq(ttr_clicks_write_list(&w, 9, NULL, 2, bad, F, s2, c2), TTR_ERR_IO);
    }
    cr_assert_eq(ttr_clicks_writer_open(&w, sink_write, &sk, wbuf, sizeof wbuf - 1, 3, 2, F),
                 TTR_ERR_ARG);
    cr_assert_eq(ttr_clicks_writer_open(&w, sink_write, &sk, wbuf, sizeof wbuf, 64, 32, F),
                 TTR_ERR_ARG);
    free(sk.data);
}

/* ---- the real data sets (skipped without them) ----------------------------------- */

static FILE *open_data(const char *rel, char *path, size_t cap)
{
    /* the data sets are not part of the repository: the Makefile passes
     * their folder (DATA_DIR) */
    const char *dir = getenv("TTR_DATA_DIR");
    if (!dir || !*dir)
        dir = "data-not-set";
    snprintf(path, cap, "%s/%s", dir, rel);
    return fopen(path, "rb");
}

Test(data, real_mq2008_and_yahoo_sample)
{
    char path[512];
    FILE *f = open_data("MQ2008/Fold1/train.txt", path, sizeof path);
    FILE *fy, *fq;
    ttr_reader r;
    ttr_reader_config cfg;
    ttr_source s, q;
    ttr_reader_stats st;
    ttr_list l;
    char *buf, qbuf[64];
    float *x, labels[1024];
    uint64_t *table;
    size_t counts[5] = {0, 0, 0, 0, 0};
    int rc;
    if (!f)
        cr_skip_test("no %s (set TTR_DATA_DIR)", path);
    buf = (char *)malloc(1 << 16);
    x = (float *)malloc(1024 * 300 * sizeof(float));
    table = (uint64_t *)malloc(4096 * sizeof(uint64_t));
    cr_assert(buf && x && table);
    ttr_reader_config_default(&cfg);
    cfg.n_features = 46;
    cfg.max_label = 2;
    cfg.qid_table = table;
    cfg.qid_table_size = 4096;
    s = ttr_source_callback(ttr_stdio_read, f, buf, 1 << 16);
    cr_assert_eq(ttr_letor_open(&r, &cfg, &s, NULL), 0);
    memset(&l, 0, sizeof l);
    l.x = x;
    l.ldx = 46;
    l.labels = labels;
    while ((rc = ttr_reader_next(&r, &l)) == 1)
        for (size_t i = 0; i < l.n; i++)
            counts[(int)labels[i]]++;
    fclose(f);
    cr_assert_eq(rc, 0, "%s", r.err_msg);
    ttr_reader_stats_get(&r, &st);
    cr_assert_eq(st.lists, 471);
    cr_assert_eq(st.items, 9630);
    cr_assert_eq(st.max_index, 46);
    cr_assert_eq(st.max_list, 121);
    cr_assert(counts[0] == 7820 && counts[1] == 1223 && counts[2] == 587);

    fy = open_data("lightgbm_lambdarank_yahoo_sample/rank.train", path, sizeof path);
    fq = open_data("lightgbm_lambdarank_yahoo_sample/rank.train.query", path, sizeof path);
    if (fy && fq) {
        memset(counts, 0, sizeof counts);
        cfg.n_features = 300;
        cfg.max_label = 4;
        s = ttr_source_callback(ttr_stdio_read, fy, buf, 1 << 16);
        q = ttr_source_callback(ttr_stdio_read, fq, qbuf, sizeof qbuf);
        cr_assert_eq(ttr_letor_open(&r, &cfg, &s, &q), 0);
        memset(&l, 0, sizeof l);
        l.x = x;
        l.ldx = 300;
        l.labels = labels;
        while ((rc = ttr_reader_next(&r, &l)) == 1)
            for (size_t i = 0; i < l.n; i++)
                counts[(int)labels[i]]++;
        cr_assert_eq(rc, 0, "%s", r.err_msg);
        ttr_reader_stats_get(&r, &st);
        cr_assert_eq(st.lists, 201);
        cr_assert_eq(st.items, 3005);
        cr_assert_eq(st.max_list, 27);
        cr_assert(st.max_index <= 300);
        cr_assert(counts[0] == 645 && counts[1] == 1211 && counts[2] == 858 && counts[3] == 222 &&
                  counts[4] == 69);
    }
    if (fy)
        fclose(fy);
    if (fq)
        fclose(fq);
    free(buf);
    free(x);
    free(table);
}
