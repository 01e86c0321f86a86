/* Streaming readers of LETOR/SVMlight data (+ LightGBM .query groups) and
 * of the click log (include/ttr_data.h). No allocation, no printing: every
 * buffer is the caller's; lines are split in place. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reader_internal.h"
#include "text.h"
#include "ttr_data.h"

enum { KIND_LETOR = 1, KIND_CLICKS = 2 };

#define QT_EMPTY UINT64_MAX

/* ---- opening -------------------------------------------------------------- */

static int open_common(ttr_reader *r, const ttr_reader_config *cfg, const ttr_source *src,
                       int kind)
{
    int rc;
    if (!r || !cfg || !src)
        return TTR_ERR_ARG;
    memset(r, 0, sizeof *r);
    if (cfg->n_features > TTR_DATA_MAX_FEATURES || cfg->max_items < 1 ||
        cfg->max_items > TTR_DATA_MAX_ITEMS || !(cfg->max_label >= 0.0f) ||
        cfg->max_label > 3.0e38f || cfg->n_contexts > TTR_DATA_MAX_CONTEXTS ||
        (cfg->qid_table_size && !cfg->qid_table))
        return TTR_ERR_ARG;
    if ((cfg->rows == 0) != (cfg->cols == 0) ||
        (cfg->rows && (uint64_t)cfg->rows * cfg->cols > TTR_DATA_MAX_SLOTS))
        return TTR_ERR_ARG;
    rc = ttr__lines_init(&r->src, src);
    if (rc)
        return rc;
    r->cfg = *cfg;
    r->kind = kind;
    r->nf = cfg->n_features;
    r->n_slots = cfg->rows ? cfg->rows * cfg->cols : TTR_DATA_MAX_SLOTS;
    r->n_ctx = cfg->n_contexts ? cfg->n_contexts : TTR_DATA_MAX_CONTEXTS;
    for (size_t i = 0; i < cfg->qid_table_size; i++)
        cfg->qid_table[i] = QT_EMPTY;
    return TTR_OK;
}

int ttr_letor_open(ttr_reader *r, const ttr_reader_config *cfg, const ttr_source *data,
                   const ttr_source *groups)
{
    int rc = open_common(r, cfg, data, KIND_LETOR);
    if (rc)
        return rc;
    if (groups) {
        rc = ttr__lines_init(&r->grp, groups);
        if (rc) {
            memset(r, 0, sizeof *r);
            return rc;
        }
        r->has_groups = 1;
    }
    return TTR_OK;
}

int ttr_clicks_open(ttr_reader *r, const ttr_reader_config *cfg, const ttr_source *src)
{
    return open_common(r, cfg, src, KIND_CLICKS);
}

/* ---- the qid table -------------------------------------------------------- */

/* 1 if q was recorded before (else records it), or TTR_ERR_NOMEM. */
static int qt_seen(ttr_reader *r, uint64_t q)
{
    uint64_t *t = r->cfg.qid_table;
    size_t n = r->cfg.qid_table_size, i;
    if (!t)
        return 0;
    if (q == QT_EMPTY) {
        if (r->qt_has_max)
            return 1;
        r->qt_has_max = 1;
        return 0;
    }
    i = (size_t)((q * 0x9E3779B97F4A7C15ull) >> 17) % n;
    for (;;) {
        if (t[i] == q)
            return 1;
        if (t[i] == QT_EMPTY)
            break;
        if (++i == n)
            i = 0;
    }
    if (r->qt_count + 1 >= n) /* keep one entry empty so that probing ends */
        return TTR_ERR_NOMEM;
    t[i] = q;
    r->qt_count++;
    return 0;
}

/* ---- the click-log header --------------------------------------------------- */

/* A comment line [p, e) (p just after '#'). Parses a layout header. */
static int comment_line(ttr_reader *r, const char *ls, const char *p, const char *e)
{
    const char *t;
    uint64_t rows = 0, cols = 0, f = 0;
    int got_r = 0, got_c = 0, got_f = 0;
    if (r->kind != KIND_CLICKS)
        return 0;
    p = skip_ws(p, e);
    t = tok_end(p, e);
    if (!((size_t)(t - p) == 13 && memcmp(p, "ttrank-clicks", 13) == 0))
        return 0;
    p = skip_ws(t, e);
    t = tok_end(p, e);
    if (!(t - p >= 2 && p[0] == 'v'))
        return ttr__reader_fail_at(r, TTR_ERR_FORMAT, ls, p, "bad layout header (expected v1)");
    if (!((size_t)(t - p) == 2 && p[1] == '1'))
        return ttr__reader_fail_at(r, TTR_ERR_UNSUPPORTED, ls, p, "unsupported click-log version");
    for (p = skip_ws(t, e); p < e && *p != '#'; p = skip_ws(t, e)) {
        const char *eq;
        uint64_t v;
        int rc;
        t = tok_end(p, e);
        eq = (const char *)memchr(p, '=', (size_t)(t - p));
        if (!eq)
            return ttr__reader_fail_at(r, TTR_ERR_FORMAT, ls, p,
                                       "bad layout header (expected key=value)");
        if (eq - p == 4 && memcmp(p, "rows", 4) == 0)
            got_r = 1;
        else if (eq - p == 4 && memcmp(p, "cols", 4) == 0)
            got_c = 1;
        else if (eq - p == 1 && p[0] == 'F')
            got_f = 1;
        else
            continue; /* unknown keys are ignored (later versions may add some) */
        rc = ttr__parse_uint(eq + 1, t, TTR_DATA_MAX_FEATURES, &v);
        if (rc == TTR_ERR_FORMAT)
            return ttr__reader_fail_at(r, rc, ls, eq + 1, "bad layout header value");
        if (rc == TTR_ERR_RANGE || v == 0)
            return ttr__reader_fail_at(r, TTR_ERR_RANGE, ls, eq + 1,
                                       "layout header value out of range");
        if (p[0] == 'r')
            rows = v;
        else if (p[0] == 'c')
            cols = v;
        else
            f = v;
    }
    if (!got_r || !got_c || !got_f)
        return ttr__reader_fail_at(r, TTR_ERR_FORMAT, ls, ls,
                                   "layout header needs rows=, cols= and F=");
    if (rows * cols > TTR_DATA_MAX_SLOTS)
        return ttr__reader_fail_at(r, TTR_ERR_RANGE, ls, ls, "layout header: rows*cols too large");
    if (r->hdr) {
        if ((uint64_t)r->hdr_rows != rows || (uint64_t)r->hdr_cols != cols ||
            (uint64_t)r->hdr_f != f)
            return ttr__reader_fail_at(r, TTR_ERR_FORMAT, ls, ls,
                                       "layout header differs from the first");
        return 0;
    }
    if (r->data_seen)
        return ttr__reader_fail_at(r, TTR_ERR_FORMAT, ls, ls, "layout header after data");
    if ((r->cfg.rows && (r->cfg.rows != rows || r->cfg.cols != cols)) ||
        (r->cfg.n_features && r->cfg.n_features != f))
        return ttr__reader_fail_at(r, TTR_ERR_FORMAT, ls, ls,
                                   "layout header differs from the expected layout");
    r->hdr = 1;
    r->hdr_rows = (int)rows;
    r->hdr_cols = (int)cols;
    r->hdr_f = (int)f;
    r->nf = (uint32_t)f;
    r->n_slots = (uint32_t)(rows * cols);
    return 0;
}

/* Classify a line: 1 = data (*pp at its first token), 0 = blank/comment
 * (handled), < 0 = error. */
static int classify(ttr_reader *r, const char *ls, size_t len, const char **pp)
{
    const char *e = ls + len, *p = skip_ws(ls, e);
    if (p == e)
        return 0;
    if (*p == '#') {
        int rc = comment_line(r, ls, p + 1, e);
        return rc < 0 ? rc : 0;
    }
    *pp = p;
    return 1;
}

/* ---- one line ------------------------------------------------------------- */

typedef struct head {
    float label;
    uint8_t click;
    uint64_t qid;
    uint32_t pos, ctx;
    int has_qid, has_pos, has_ctx;
    const char *qid_at, *pos_at, *ctx_at, *feat;
} head;

/* The label (or click) and the named fields of a data line. */

/* Messages of slot_field(): missing value, not a number, out of range. */
static const char *const pos_msgs[3] = {"missing pos", "pos must be an unsigned integer",
                                        "pos out of range for the layout"};
static const char *const ctx_msgs[3] = {"missing ctx", "ctx must be an unsigned integer",
                                        "ctx out of range"};

/* A click-log field "pos:P" or "ctx:K" (name..v is "pos:", v..t the value):
 * once per line, an unsigned integer below `limit`. */
static int slot_field(ttr_reader *r, const char *ls, const char *name, const char *v,
                      const char *t, uint64_t limit, const char *const m[3], int *seen,
                      uint32_t *out)
{
    uint64_t x;
    if (*seen)
        return ttr__reader_fail_at(r, TTR_ERR_FORMAT, ls, name, "duplicate field");
    if (v == t)
        return ttr__reader_fail_at(r, TTR_ERR_FORMAT, ls, v, m[0]);
    int rc = ttr__parse_uint(v, t, UINT64_MAX, &x);
    if (rc == TTR_ERR_FORMAT)
        return ttr__reader_fail_at(r, rc, ls, v, m[1]);
    if (rc || x >= limit)
        return ttr__reader_fail_at(r, TTR_ERR_RANGE, ls, v, m[2]);
    *out = (uint32_t)x;
    *seen = 1;
    return TTR_OK;
}

static int parse_head(ttr_reader *r, const char *ls, const char *p, const char *e, head *h)
{
    const char *t = tok_end(p, e), *bad, *msg;
    int rc;
    memset(h, 0, sizeof *h);
    if (r->kind == KIND_CLICKS) {
        if (t - p == 1 && (*p == '0' || *p == '1')) {
            h->click = (uint8_t)(*p - '0');
            h->label = (float)h->click;
        } else {
            float v;
            rc = ttr__parse_float(p, t, &v, &msg, &bad);
            if (rc == TTR_ERR_FORMAT)
                return ttr__reader_fail_at(r, rc, ls, p, "bad click (expected 0 or 1)");
            if (rc)
                return ttr__reader_fail_at(r, rc, ls, p, msg);
            return ttr__reader_fail_at(r, TTR_ERR_RANGE, ls, p, "click must be 0 or 1");
        }
    } else {
        /* p is at a token (classify() skipped blank and comment lines) */
        rc = ttr__parse_float(p, t, &h->label, &msg, &bad);
        if (rc)
            return ttr__reader_fail_at(r, rc, ls, rc == TTR_ERR_FORMAT ? bad : p, msg);
        if (!(h->label >= 0.0f && h->label <= r->cfg.max_label))
            return ttr__reader_fail_at(r, TTR_ERR_RANGE, ls, p, "label out of range");
    }
    for (p = skip_ws(t, e); p < e && *p != '#'; p = skip_ws(t, e)) {
        const char *name = p, *v;
        uint64_t x;
        size_t nl;
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
            break; /* the features */
        t = tok_end(p, e);
        while (p < t && *p != ':')
            p++;
        if (p == t)
            return ttr__reader_fail_at(r, TTR_ERR_FORMAT, ls, name, "expected name:value");
        nl = (size_t)(p - name);
        v = p + 1;
        if (nl == 3 && memcmp(name, "qid", 3) == 0) {
            if (h->has_qid)
                return ttr__reader_fail_at(r, TTR_ERR_FORMAT, ls, name, "duplicate field");
            if (v == t)
                return ttr__reader_fail_at(r, TTR_ERR_FORMAT, ls, v, "missing qid");
            rc = ttr__parse_uint(v, t, UINT64_MAX, &x);
            if (rc == TTR_ERR_FORMAT)
                return ttr__reader_fail_at(r, rc, ls, v, "qid must be an unsigned integer");
            if (rc)
                return ttr__reader_fail_at(r, rc, ls, v, "qid too large");
            h->qid = x;
            h->has_qid = 1;
            h->qid_at = v;
        } else if (r->kind == KIND_CLICKS && nl == 3 && memcmp(name, "pos", 3) == 0) {
            rc = slot_field(r, ls, name, v, t, r->n_slots, pos_msgs, &h->has_pos, &h->pos);
            if (rc)
                return rc;
            h->pos_at = v;
        } else if (r->kind == KIND_CLICKS && nl == 3 && memcmp(name, "ctx", 3) == 0) {
            rc = slot_field(r, ls, name, v, t, r->n_ctx, ctx_msgs, &h->has_ctx, &h->ctx);
            if (rc)
                return rc;
            h->ctx_at = v;
        } else {
            return ttr__reader_fail_at(r, TTR_ERR_FORMAT, ls, name, "unknown field");
        }
    }
    h->feat = p;
    if (r->kind == KIND_CLICKS && !h->has_pos)
        return ttr__reader_fail_at(r, TTR_ERR_FORMAT, ls, p, "missing pos");
    if (!h->has_qid && !r->has_groups)
        return ttr__reader_fail_at(r, TTR_ERR_FORMAT, ls, p, "missing qid");
    return 0;
}

/* The features of a line from p into row (F floats, may be NULL). */
static int parse_features(ttr_reader *r, const char *ls, const char *p, const char *e, float *row)
{
    uint32_t cap = r->nf ? r->nf : TTR_DATA_MAX_FEATURES;
    uint64_t last = 0;
    if (row)
        memset(row, 0, r->nf * sizeof *row);
    for (p = skip_ws(p, e); p < e && *p != '#'; p = skip_ws(p, e)) {
        const char *tok = p, *v, *bad, *msg;
        uint64_t idx = 0;
        int big = 0, rc;
        float val;
        if (!is_digit(*p)) {
            if (*p == ':')
                return ttr__reader_fail_at(r, TTR_ERR_FORMAT, ls, p, "missing feature index");
            if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))
                return ttr__reader_fail_at(r, TTR_ERR_FORMAT, ls, p,
                               "named field after the features (or unknown)");
            return ttr__reader_fail_at(r, TTR_ERR_FORMAT, ls, p, "expected index:value");
        }
        for (; p < e && is_digit(*p); p++) {
            if (idx > 100000000000ull)
                big = 1;
            else
                idx = idx * 10 + (uint64_t)(*p - '0');
        }
        if (p == e || *p != ':') {
            if (p == e || is_ws(*p) || *p == '#')
                return ttr__reader_fail_at(r, TTR_ERR_FORMAT, ls, p,
                                           "expected ':' after feature index");
            return ttr__reader_fail_at(r, TTR_ERR_FORMAT, ls, p, "bad feature index");
        }
        if (idx == 0 && !big)
            return ttr__reader_fail_at(r, TTR_ERR_RANGE, ls, tok,
                                       "feature index 0 (indices start at 1)");
        if (big || idx > TTR_DATA_MAX_FEATURES)
            return ttr__reader_fail_at(r, TTR_ERR_RANGE, ls, tok, "feature index too large");
        if (idx > cap)
            return ttr__reader_fail_at(r, TTR_ERR_RANGE, ls, tok, "feature index above n_features");
        if (idx <= last)
            return ttr__reader_fail_at(r, TTR_ERR_FORMAT, ls, tok,
                           idx == last ? "duplicate feature index"
                                       : "feature indices must increase");
        v = ++p;
        p = tok_end(p, e);
        if (v == p)
            return ttr__reader_fail_at(r, TTR_ERR_FORMAT, ls, v, "missing feature value");
        rc = ttr__parse_float(v, p, &val, &msg, &bad);
        if (rc)
            return ttr__reader_fail_at(r, rc, ls, rc == TTR_ERR_FORMAT ? bad : v, msg);
        if (row)
            row[idx - 1] = val;
        last = idx;
    }
    if (last > r->st.max_index)
        r->st.max_index = (uint32_t)last;
    return 0;
}

/* ---- lists ---------------------------------------------------------------- */

/* Read ahead to the first data line (header comments processed). */
static int start(ttr_reader *r)
{
    const char *ls, *p;
    size_t len;
    int rc;
    if (r->started)
        return 0;
    for (;;) {
        rc = ttr__next_line(r, &r->src, 0, &ls, &len);
        if (rc < 0)
            return rc;
        if (rc == 0)
            break;
        rc = classify(r, ls, len, &p);
        if (rc < 0)
            return rc;
        if (rc == 1) {
            r->src.pending = 1;
            break;
        }
    }
    r->started = 1;
    return 0;
}

int ttr_clicks_layout(ttr_reader *r, uint32_t *rows, uint32_t *cols, uint32_t *n_features)
{
    int rc;
    if (!r || r->kind != KIND_CLICKS)
        return TTR_ERR_ARG;
    if (r->err)
        return r->err;
    rc = start(r);
    if (rc)
        return rc;
    if (rows)
        *rows = r->hdr ? (uint32_t)r->hdr_rows : r->cfg.rows;
    if (cols)
        *cols = r->hdr ? (uint32_t)r->hdr_cols : r->cfg.cols;
    if (n_features)
        *n_features = r->nf;
    return r->hdr ? 1 : 0;
}

/* Store one parsed line as item out->n of the list. */
static int add_item(ttr_reader *r, ttr_list *out, const char *ls, const char *e, const head *h)
{
    size_t i = out->n;
    int rc;
    if (i >= r->cfg.max_items)
        return ttr__reader_fail_at(r, TTR_ERR_RANGE, ls, ls, "list longer than max_items");
    if (r->kind == KIND_CLICKS) {
        uint32_t bit = 1u << (h->pos & 31);
        if (i == 0) {
            memset(r->slot_seen, 0, sizeof r->slot_seen);
            out->has_context = h->has_ctx;
            out->context = h->ctx;
        } else if (h->has_ctx != out->has_context || h->ctx != out->context) {
            return ttr__reader_fail_at(r, TTR_ERR_FORMAT, ls, h->has_ctx ? h->ctx_at : h->feat,
                           "ctx differs within a list");
        }
        if (r->slot_seen[h->pos >> 5] & bit)
            return ttr__reader_fail_at(r, TTR_ERR_FORMAT, ls, h->pos_at, "pos repeated in a list");
        r->slot_seen[h->pos >> 5] |= bit;
    }
    rc = parse_features(r, ls, h->feat, e, out->x ? out->x + i * out->ldx : NULL);
    if (rc)
        return rc;
    if (out->labels)
        out->labels[i] = h->label;
    if (r->kind == KIND_CLICKS) {
        if (out->clicks)
            out->clicks[i] = h->click;
        if (out->slots)
            out->slots[i] = (uint16_t)h->pos;
    }
    if (h->label > r->st.max_label)
        r->st.max_label = h->label;
    out->n = i + 1;
    return 0;
}

/* A new list starts with qid q at line ls: the contiguity checks. */
static int new_qid(ttr_reader *r, const char *ls, const head *h)
{
    int rc;
    if (r->have_prev && r->prev_qid == h->qid)
        return ttr__reader_fail_at(r, TTR_ERR_FORMAT, ls, h->qid_at,
                                   "qid reappears after another list");
    rc = qt_seen(r, h->qid);
    if (rc < 0)
        return ttr__reader_fail_at(r, rc, ls, h->qid_at, "qid table full");
    if (rc)
        return ttr__reader_fail_at(r, TTR_ERR_FORMAT, ls, h->qid_at,
                                   "qid reappears after another list");
    r->prev_qid = h->qid;
    r->have_prev = 1;
    return 0;
}

static int next_by_qid(ttr_reader *r, ttr_list *out)
{
    const char *ls, *p;
    size_t len;
    head h;
    int rc;
    for (;;) {
        rc = ttr__next_line(r, &r->src, 0, &ls, &len);
        if (rc < 0)
            return rc;
        if (rc == 0) {
            r->done = 1;
            break;
        }
        rc = classify(r, ls, len, &p);
        if (rc < 0)
            return rc;
        if (rc == 0)
            continue;
        r->data_seen = 1;
        rc = parse_head(r, ls, p, ls + len, &h);
        if (rc)
            return rc;
        if (out->n > 0 && h.qid != out->qid) {
            r->src.pending = 1;
            break;
        }
        if (out->n == 0) {
            rc = new_qid(r, ls, &h);
            if (rc)
                return rc;
            out->qid = h.qid;
            out->has_qid = 1;
            out->line = r->src.line;
        }
        rc = add_item(r, out, ls, ls + len, &h);
        if (rc)
            return rc;
    }
    return out->n > 0;
}

/* The next group size of the .query stream: 1, 0 at its end, or an error. */
static int next_group(ttr_reader *r, size_t *size)
{
    const char *ls, *p, *e, *t;
    size_t len;
    uint64_t v;
    int rc;
    for (;;) {
        rc = ttr__next_line(r, &r->grp, 1, &ls, &len);
        if (rc <= 0)
            return rc;
        e = ls + len;
        p = skip_ws(ls, e);
        if (p == e || *p == '#')
            continue;
        t = tok_end(p, e);
        rc = ttr__parse_uint(p, t, UINT64_MAX, &v);
        if (rc == TTR_ERR_FORMAT)
            return ttr__reader_fail(r, rc, 1, r->grp.line, (unsigned long)(p - ls) + 1,
                                    "bad group size");
        if (rc || v > r->cfg.max_items)
            return ttr__reader_fail(r, TTR_ERR_RANGE, 1, r->grp.line, (unsigned long)(p - ls) + 1,
                        "group larger than max_items");
        t = skip_ws(t, e);
        if (t < e && *t != '#')
            return ttr__reader_fail(r, TTR_ERR_FORMAT, 1, r->grp.line, (unsigned long)(t - ls) + 1,
                        "bad group size");
        if (v == 0)
            continue;
        *size = (size_t)v;
        r->group_line = r->grp.line;
        return 1;
    }
}

static int next_by_group(ttr_reader *r, ttr_list *out)
{
    const char *ls, *p;
    size_t len, want = 0;
    head h;
    int rc = next_group(r, &want);
    if (rc < 0)
        return rc;
    if (rc == 0) {
        /* No more groups: the data must have no more rows. */
        for (;;) {
            rc = ttr__next_line(r, &r->src, 0, &ls, &len);
            if (rc <= 0) {
                r->done = rc == 0;
                return rc;
            }
            rc = classify(r, ls, len, &p);
            if (rc < 0)
                return rc;
            if (rc == 1)
                return ttr__reader_fail_at(r, TTR_ERR_FORMAT, ls, p,
                                           "more data rows than the .query groups");
        }
    }
    while (out->n < want) {
        rc = ttr__next_line(r, &r->src, 0, &ls, &len);
        if (rc < 0)
            return rc;
        if (rc == 0)
            return ttr__reader_fail(r, TTR_ERR_FORMAT, 1, r->group_line, 1,
                                    "data ends inside a .query group");
        rc = classify(r, ls, len, &p);
        if (rc < 0)
            return rc;
        if (rc == 0)
            continue;
        rc = parse_head(r, ls, p, ls + len, &h);
        if (rc)
            return rc;
        if (out->n == 0) {
            out->line = r->src.line;
            out->has_qid = h.has_qid;
            out->qid = h.has_qid ? h.qid : r->group_no;
            if (h.has_qid) {
                rc = new_qid(r, ls, &h);
                if (rc)
                    return rc;
            }
        } else if (h.has_qid != out->has_qid || (h.has_qid && h.qid != out->qid)) {
            return ttr__reader_fail_at(r, TTR_ERR_FORMAT, ls, h.has_qid ? h.qid_at : h.feat,
                           "qid changes inside a .query group");
        }
        rc = add_item(r, out, ls, ls + len, &h);
        if (rc)
            return rc;
    }
    r->group_no++;
    return 1;
}

int ttr_reader_next(ttr_reader *r, ttr_list *out)
{
    int rc;
    if (!r || !out || !r->kind)
        return TTR_ERR_ARG;
    if (r->err)
        return r->err;
    rc = start(r);
    if (rc)
        return rc;
    if (out->x && (r->nf == 0 || out->ldx < r->nf))
        return TTR_ERR_ARG;
    out->n = 0;
    out->qid = 0;
    out->has_qid = 0;
    out->context = 0;
    out->has_context = 0;
    out->line = 0;
    if (r->done)
        return 0;
    rc = r->has_groups ? next_by_group(r, out) : next_by_qid(r, out);
    if (rc == 1) {
        r->st.lists++;
        r->st.items += out->n;
        if (out->n > r->st.max_list)
            r->st.max_list = out->n;
    } else if (rc < 0) {
        out->n = 0;
    }
    return rc;
}
