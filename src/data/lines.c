/* The readers' errors and line splitting (reader_internal.h): lines are
 * cut in place out of the source's buffer, or out of memory, and an error
 * records where it happened (line, column, and whether in the .query
 * file). */
#include <stdio.h>
#include <string.h>

#include "reader_internal.h"

/* ---- errors --------------------------------------------------------------- */

int ttr__reader_fail(ttr_reader *r, int code, int in_groups, unsigned long line,
                     unsigned long col, const char *msg)
{
    r->err = code;
    r->err_in_groups = in_groups;
    r->err_line = line;
    r->err_col = col;
    r->err_msg = msg;
    return code;
}

int ttr__reader_fail_at(ttr_reader *r, int code, const char *ls, const char *at,
                        const char *msg)
{
    return ttr__reader_fail(r, code, 0, r->src.line, (unsigned long)(at - ls) + 1, msg);
}

int ttr_reader_error(const ttr_reader *r, unsigned long *line, unsigned long *col,
                     const char **msg, int *in_groups)
{
    if (!r)
        return TTR_ERR_ARG;
    if (line)
        *line = r->err ? r->err_line : 0;
    if (col)
        *col = r->err ? r->err_col : 0;
    if (msg)
        *msg = r->err ? r->err_msg : "ok";
    if (in_groups)
        *in_groups = r->err ? r->err_in_groups : 0;
    return r->err;
}

void ttr_reader_stats_get(const ttr_reader *r, ttr_reader_stats *st)
{
    if (r && st) {
        *st = r->st;
        st->lines = r->src.line;
    }
}

/* ---- line splitting ------------------------------------------------------- */

int ttr__lines_init(ttr__lines *s, const ttr_source *in)
{
    memset(s, 0, sizeof *s);
    if (in->read) {
        if (!in->buf || in->buf_size < 2)
            return TTR_ERR_ARG;
        s->read = in->read;
        s->ctx = in->ctx;
        s->buf = in->buf;
        s->cap = in->buf_size;
    } else {
        if (!in->data && in->size)
            return TTR_ERR_ARG;
        s->data = in->data;
        s->size = in->size;
    }
    return TTR_OK;
}

/* The next line of `s` (without its LF and a CR before it): 1, 0 at the end,
 * or a negative error recorded in r. The line stays valid until the next
 * call; s->pending = 1 makes the next call return it again. */
int ttr__next_line(ttr_reader *r, ttr__lines *s, int in_groups, const char **lp, size_t *llen)
{
    const char *p;
    size_t len;
    if (s->pending) {
        s->pending = 0;
        *lp = s->lp;
        *llen = s->llen;
        return 1;
    }
    if (!s->read) {
        const char *nl;
        if (s->pos >= s->size)
            return 0;
        p = s->data + s->pos;
        nl = (const char *)memchr(p, '\n', s->size - s->pos);
        if (nl) {
            len = (size_t)(nl - p);
            s->pos += len + 1;
        } else {
            len = s->size - s->pos;
            s->pos = s->size;
        }
    } else {
        for (;;) {
            char *nl = (char *)memchr(s->buf + s->scan, '\n', s->end - s->scan);
            size_t got;
            if (nl) {
                p = s->buf + s->beg;
                len = (size_t)(nl - p);
                s->beg = s->scan = (size_t)(nl - s->buf) + 1;
                break;
            }
            s->scan = s->end;
            if (s->eof) {
                if (s->beg == s->end)
                    return 0;
                p = s->buf + s->beg;
                len = s->end - s->beg;
                s->beg = s->scan = s->end;
                break;
            }
            if (s->beg > 0) {
                memmove(s->buf, s->buf + s->beg, s->end - s->beg);
                s->end -= s->beg;
                s->scan -= s->beg;
                s->beg = 0;
            }
            if (s->end == s->cap)
                return ttr__reader_fail(r, TTR_ERR_NOMEM, in_groups, s->line + 1,
                                        (unsigned long)s->cap, "line longer than the line buffer");
            got = s->read(s->ctx, s->buf + s->end, s->cap - s->end);
            if (got == TTR_READ_ERROR)
                return ttr__reader_fail(r, TTR_ERR_IO, in_groups, s->line + 1, 0, "read error");
            if (got > s->cap - s->end)
                return ttr__reader_fail(r, TTR_ERR_IO, in_groups, s->line + 1, 0,
                            "read callback returned too many bytes");
            if (got == 0)
                s->eof = 1;
            s->end += got;
        }
    }
    if (len && p[len - 1] == '\r')
        len--;
    s->line++;
    /* A UTF-8 byte order mark before the first line is skipped. */
    if (s->line == 1 && len >= 3 && (unsigned char)p[0] == 0xEF && (unsigned char)p[1] == 0xBB &&
        (unsigned char)p[2] == 0xBF) {
        p += 3;
        len -= 3;
    }
    s->lp = p;
    s->llen = len;
    *lp = p;
    *llen = len;
    return 1;
}
