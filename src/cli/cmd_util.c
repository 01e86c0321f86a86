/* Shared helpers of the ttrank commands (see cmd_util.h). */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cmd_util.h"

int cli_err(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "ttrank %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 1;
}

int cli_parse(const char *cmd, int argc, char **argv, cli_flag *flags, size_t n_flags,
              const char **pos, size_t max_pos, size_t *n_pos)
{
    size_t np = 0;
    int only_pos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (only_pos || a[0] != '-' || !a[1]) {
            if (np >= max_pos) {
                cli_err(cmd, "unexpected argument '%s' (try --help)", a);
                return 2;
            }
            pos[np++] = a;
            continue;
        }
        if (!strcmp(a, "--")) {
            only_pos = 1;
            continue;
        }
        if (!strcmp(a, "-h") || !strcmp(a, "--help"))
            return 1;
        const char *eq = strchr(a, '=');
        size_t len = eq ? (size_t)(eq - a) : strlen(a);
        cli_flag *f = NULL;
        for (size_t k = 0; k < n_flags; k++)
            if (strlen(flags[k].name) == len && !strncmp(flags[k].name, a, len))
                f = &flags[k];
        if (!f) {
            cli_err(cmd, "unknown option '%.*s' (try --help)", (int)len, a);
            return 2;
        }
        if (f->has_arg) {
            const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
            if (!v) {
                cli_err(cmd, "%s needs a value", f->name);
                return 2;
            }
            f->val = v;
        } else if (eq) {
            cli_err(cmd, "%s takes no value", f->name);
            return 2;
        }
        f->seen++;
    }
    if (n_pos)
        *n_pos = np;
    return 0;
}

const char *cli_str(const cli_flag *f, const char *def)
{
    return f->seen ? f->val : def;
}

int cli_need(const char *cmd, const cli_flag *f)
{
    if (f->seen)
        return 0;
    cli_err(cmd, "%s is required (try --help)", f->name);
    return 2;
}

int cli_parse_u64(const char *s, uint64_t *v)
{
    char *end;
    if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
        return -1;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (errno || *end)
        return -1;
    *v = (uint64_t)x;
    return 0;
}

int cli_u64(const char *cmd, const cli_flag *f, uint64_t lo, uint64_t hi, uint64_t *v)
{
    if (!f->seen)
        return 0;
    uint64_t x;
    if (cli_parse_u64(f->val, &x) || x < lo || x > hi) {
        cli_err(cmd, "%s: expected an integer in %llu..%llu, got '%s'", f->name,
                (unsigned long long)lo, (unsigned long long)hi, f->val);
        return 2;
    }
    *v = x;
    return 0;
}

int cli_u32(const char *cmd, const cli_flag *f, uint32_t lo, uint32_t hi, uint32_t *v)
{
    uint64_t x = *v;
    int rc = cli_u64(cmd, f, lo, hi, &x);
    if (!rc)
        *v = (uint32_t)x;
    return rc;
}

int cli_float(const char *cmd, const cli_flag *f, double lo, double hi, float *v)
{
    if (!f->seen)
        return 0;
    char *end;
    errno = 0;
    double x = f->val && *f->val ? strtod(f->val, &end) : NAN;
    if (!f->val || !*f->val || errno || *end || !(x >= lo && x <= hi)) {
        cli_err(cmd, "%s: expected a number in [%g, %g], got '%s'", f->name, lo, hi,
                f->val ? f->val : "");
        return 2;
    }
    *v = (float)x;
    return 0;
}

int cli_grid(const char *cmd, const char *s, uint32_t *rows, uint32_t *cols)
{
    unsigned long r, c;
    char *end;
    errno = 0;
    if (!s || *s < '0' || *s > '9')
        goto bad;
    r = strtoul(s, &end, 10);
    if (errno || (*end != 'x' && *end != 'X') || end[1] < '0' || end[1] > '9')
        goto bad;
    c = strtoul(end + 1, &end, 10);
    if (errno || *end || r < 1 || c < 1 || r * c > TTR_MAX_SLOTS)
        goto bad;
    *rows = (uint32_t)r;
    *cols = (uint32_t)c;
    return 0;
bad:
    cli_err(cmd, "--grid: expected RxC with 1 <= R*C <= %u, got '%s'", (unsigned)TTR_MAX_SLOTS,
            s ? s : "");
    return 2;
}

int cli_u32_list(const char *s, uint32_t *out, int max)
{
    int n = 0;
    if (!s)
        return -1;
    if (!*s)
        return 0;
    for (;;) {
        char *end;
        if (*s < '0' || *s > '9' || n >= max)
            return -1;
        errno = 0;
        unsigned long v = strtoul(s, &end, 10);
        if (errno || v > 0xFFFFFFFFul)
            return -1;
        out[n++] = (uint32_t)v;
        if (!*end)
            return n;
        if (*end != ',')
            return -1;
        s = end + 1;
    }
}

/* ---- progress ------------------------------------------------------------------- */
double cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void cli_progress_start(cli_progress *p)
{
    const char *every = getenv("TTRANK_PROGRESS_EVERY");
    char *end = NULL;
    p->tty = isatty(2);
    p->t0 = cli_now();
    p->last = -1.0;
    p->every = p->tty ? 0.2 : 30.0;
    if (every && *every) {
        double v = strtod(every, &end);
        if (!*end && v >= 0.0 && v <= 1e6)
            p->every = v;
    }
}

void cli_progress_update(cli_progress *p, const char *what, double done)
{
    double t = cli_now();
    /* a terminal gets one line redrawn 5 times a second; a log (not a
     * terminal) a line every 30 s once the work has run 30 s
     * (TTRANK_PROGRESS_EVERY=SECONDS changes the interval) */
    if (p->tty ? p->last >= 0 && t - p->last < p->every
               : t - (p->last >= 0 ? p->last : p->t0) < p->every)
        return;
    p->last = t;
    double el = t - p->t0;
    const char *lead = p->tty ? "\r\033[K" : "";
    if (done > 0.0 && done < 1.0)
        fprintf(stderr, "%s%s %.0f%% (ETA %.0f s)", lead, what, 100.0 * done,
                el / done * (1.0 - done));
    else
        fprintf(stderr, "%s%s", lead, what);
    if (!p->tty)
        fputc('\n', stderr);
    fflush(stderr);
}

void cli_progress_end(cli_progress *p)
{
    if (p->tty && p->last >= 0) {
        fprintf(stderr, "\r\033[K");
        fflush(stderr);
    }
}

/* ---- input -------------------------------------------------------------------------- */
static FILE *open_in(const char *cmd, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        cli_err(cmd, "%s: %s", path, strerror(errno));
    return f;
}

const char *cli_query_path(const char *path, const char *given, char *buf, size_t cap)
{
    struct stat st;
    if (given)
        return given;
    if ((size_t)snprintf(buf, cap, "%s.query", path) >= cap)
        return NULL;
    return !stat(buf, &st) && S_ISREG(st.st_mode) ? buf : NULL;
}

static void reader_error(const char *cmd, const ttr_reader *r, const char *path, const char *qpath)
{
    unsigned long line = 0, col = 0;
    const char *msg = NULL;
    int in_groups = 0;
    int code = ttr_reader_error(r, &line, &col, &msg, &in_groups);
    const char *file = in_groups && qpath ? qpath : path;
    if (line)
        cli_err(cmd, "%s:%lu:%lu: %s", file, line, col ? col : 1ul, msg ? msg : ttr_strerror(code));
    else
        cli_err(cmd, "%s: %s", file, msg ? msg : ttr_strerror(code));
}

int cli_letor_open(cli_letor_in *in, const char *cmd, const char *path, const char *qpath,
                   uint32_t n_features, uint32_t max_items)
{
    memset(in, 0, sizeof *in);
    in->cmd = cmd;
    in->path = path;
    in->qpath = qpath;
    in->f = open_in(cmd, path);
    if (!in->f)
        return 1;
    in->buf = malloc(CLI_LINE_BUF);
    if (qpath) {
        in->q = open_in(cmd, qpath);
        if (!in->q) {
            cli_letor_close(in);
            return 1;
        }
        in->qbuf = malloc(4096);
    }
    if (!in->buf || (qpath && !in->qbuf)) {
        cli_letor_close(in);
        return cli_err(cmd, "out of memory");
    }
    in->src = ttr_source_callback(ttr_stdio_read, in->f, in->buf, CLI_LINE_BUF);
    if (qpath)
        in->grp = ttr_source_callback(ttr_stdio_read, in->q, in->qbuf, 4096);
    ttr_reader_config rc;
    ttr_reader_config_default(&rc);
    rc.n_features = n_features;
    rc.max_items = max_items;
    rc.max_label = 255.0f;
    int err = ttr_letor_open(&in->r, &rc, &in->src, qpath ? &in->grp : NULL);
    if (err) {
        cli_letor_close(in);
        return cli_err(cmd, "%s: %s", path, ttr_strerror(err));
    }
    return 0;
}

int cli_letor_next(cli_letor_in *in, ttr_list *l)
{
    int rc = ttr_reader_next(&in->r, l);
    if (rc < 0)
        reader_error(in->cmd, &in->r, in->path, in->qpath);
    return rc;
}

void cli_letor_close(cli_letor_in *in)
{
    if (in->f)
        fclose(in->f);
    if (in->q)
        fclose(in->q);
    free(in->buf);
    free(in->qbuf);
    in->f = in->q = NULL;
    in->buf = in->qbuf = NULL;
}

int cli_clicks_open(cli_clicks_in *in, const char *cmd, const char *path,
                    const ttr_reader_config *cfg)
{
    memset(in, 0, sizeof *in);
    in->cmd = cmd;
    in->path = path;
    in->f = open_in(cmd, path);
    if (!in->f)
        return 1;
    in->buf = malloc(CLI_LINE_BUF);
    if (!in->buf) {
        cli_clicks_close(in);
        return cli_err(cmd, "out of memory");
    }
    in->src = ttr_source_callback(ttr_stdio_read, in->f, in->buf, CLI_LINE_BUF);
    int err = ttr_clicks_open(&in->r, cfg, &in->src);
    if (err) {
        cli_clicks_close(in);
        return cli_err(cmd, "%s: %s", path, ttr_strerror(err));
    }
    return 0;
}

int cli_clicks_error(cli_clicks_in *in)
{
    reader_error(in->cmd, &in->r, in->path, NULL);
    return 1;
}

int cli_clicks_next(cli_clicks_in *in, ttr_list *l)
{
    int rc = ttr_reader_next(&in->r, l);
    if (rc < 0)
        cli_clicks_error(in);
    return rc;
}

void cli_clicks_close(cli_clicks_in *in)
{
    if (in->f)
        fclose(in->f);
    free(in->buf);
    in->f = NULL;
    in->buf = NULL;
}

void cli_letor_free(cli_letor *d)
{
    free(d->offsets);
    free(d->x);
    free(d->labels);
    memset(d, 0, sizeof *d);
}

int cli_letor_load(const char *cmd, const char *path, const char *qpath, uint32_t n_features,
                   cli_letor *out)
{
    cli_letor_in in;
    ttr_list l;
    ttr_reader_stats st;
    int rc;
    memset(out, 0, sizeof *out);
    /* pass 1: scan (sizes, largest index); with the model's feature count
     * the reader names the line and column of an index above it */
    if (cli_letor_open(&in, cmd, path, qpath, n_features, TTR_DATA_MAX_ITEMS))
        return 1;
    memset(&l, 0, sizeof l);
    while ((rc = cli_letor_next(&in, &l)) == 1) {
    }
    ttr_reader_stats_get(&in.r, &st);
    cli_letor_close(&in);
    if (rc < 0)
        return 1;
    if (!st.lists)
        return cli_err(cmd, "%s: no data", path);
    uint32_t nf = n_features ? n_features : st.max_index;
    if (!nf)
        nf = 1;
    if (st.max_index > nf)
        return cli_err(cmd, "%s: feature index %u above the model's %u features", path,
                       (unsigned)st.max_index, (unsigned)nf);
    out->n_lists = (size_t)st.lists;
    out->n_items = (size_t)st.items;
    out->max_list = st.max_list;
    out->n_features = nf;
    out->max_label = st.max_label;
    out->offsets = malloc((out->n_lists + 1) * sizeof *out->offsets);
    out->x = malloc(out->n_items * nf * sizeof *out->x);
    out->labels = malloc(out->n_items);
    float *lab = malloc(out->max_list * sizeof *lab);
    if (!out->offsets || !out->x || !out->labels || !lab) {
        free(lab);
        cli_letor_free(out);
        return cli_err(cmd, "%s: out of memory", path);
    }
    /* pass 2: read */
    if (cli_letor_open(&in, cmd, path, qpath, nf, (uint32_t)out->max_list)) {
        free(lab);
        cli_letor_free(out);
        return 1;
    }
    size_t li = 0, it = 0;
    out->offsets[0] = 0;
    for (;;) {
        memset(&l, 0, sizeof l);
        l.x = out->x + it * nf;
        l.ldx = nf;
        l.labels = lab;
        if (li >= out->n_lists)
            l.x = NULL; /* the file changed under us: cannot happen normally */
        rc = l.x ? cli_letor_next(&in, &l) : 0;
        if (rc <= 0)
            break;
        for (size_t i = 0; i < l.n; i++) {
            float y = lab[i];
            out->labels[it + i] = (uint8_t)(y + 0.5f);
        }
        it += l.n;
        out->offsets[++li] = it;
    }
    cli_letor_close(&in);
    free(lab);
    if (rc < 0 || li != out->n_lists) {
        if (rc >= 0)
            cli_err(cmd, "%s: the file changed while it was read", path);
        cli_letor_free(out);
        return 1;
    }
    return 0;
}

int cli_rank_metrics(ttr_model *m, const cli_letor *d, ttr_rank_metrics *out)
{
    float *scores = malloc((d->max_list ? d->max_list : 1) * sizeof *scores);
    uint32_t *scratch = malloc((d->max_list ? d->max_list : 1) * sizeof *scratch);
    int err = scores && scratch ? TTR_OK : TTR_ERR_NOMEM;
    ttr_rank_metrics_reset(out);
    for (size_t q = 0; !err && q < d->n_lists; q++) {
        size_t a = d->offsets[q], n = d->offsets[q + 1] - a;
        err = ttr_score(m, n, d->x + a * d->n_features, d->n_features, scores);
        if (!err) {
            int r = ttr_rank_metrics_add(out, n, scores, d->labels + a, scratch);
            err = r < 0 ? r : 0;
        }
    }
    free(scores);
    free(scratch);
    return err;
}

static const char *const g_variants[] = {"naive", "additive", "pal", "dot", "mixem", "xpa"};

const char *cli_variant_name(ttr_variant v)
{
    return (unsigned)v < 6 ? g_variants[v] : "unknown";
}

int cli_variant_parse(const char *s, ttr_variant *v)
{
    for (int i = 0; i < 6; i++)
        if (s && !strcmp(s, g_variants[i])) {
            *v = (ttr_variant)i;
            return 0;
        }
    return -1;
}
