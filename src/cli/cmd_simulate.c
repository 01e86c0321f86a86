/* `ttrank simulate`: show logging-ranker lists of LETOR queries to simulated
 * users (ttr_sim.h) and write the click log (docs/formats.md). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_commands.h"
#include "cmd_util.h"
#include "sim/ttr_sim.h"

static const char *C = "simulate";

static void usage(FILE *f)
{
    fprintf(f,
        "Usage: ttrank simulate --data LETOR --out CLICKS [options]\n"
        "\n"
        "Order each LETOR query's documents with a weak, noisy logging ranker, show the\n"
        "first R*C of them to a simulated user and write the click log (one line per\n"
        "shown item, with the '# ttrank-clicks v1 rows=R cols=C F=N' header).\n"
        "\n"
        "Options:\n"
        "  --data FILE        LETOR/SVMlight input (labels are the graded relevance)\n"
        "  --query FILE       LightGBM group sizes for a file without qid\n"
        "                     (default: DATA.query when it exists)\n"
        "  --out FILE         click log to write ('-' = stdout)\n"
        "  --lists N          impressions to simulate (default: one per query)\n"
        "  --draw cycle|random  queries in file order, round-robin (default), or drawn\n"
        "                     uniformly at random per impression\n"
        "  --users SPEC       user mixture, e.g. pbm:0.5,position:0.3,thorough:0.2\n"
        "                     (types pbm, position, thorough, cascade; default pbm:1)\n"
        "  --eta E            PBM exponent (default 1)\n"
        "  --grid RxC         slot layout (default 10x1, a ranked list of 10)\n"
        "  --neighbour G      grids: same-row effect on the log-odds of seeing (default 0)\n"
        "  --eps E            click noise (default 0.1)\n"
        "  --position-scale S position-only users click with S * base(slot) (default 0.5)\n"
        "  --ymax Y           top relevance grade (default: the largest label in DATA)\n"
        "  --bias-feature I   1-based feature favoured by the logging ranker (default 7,\n"
        "                     or the last feature of data with fewer)\n"
        "  --logger R,F,N     logging ranker score: R * label/ymax + F * bias feature +\n"
        "                     N * uniform(-1,1) (default 1,1.5,1)\n"
        "  --seed S           random seed (default 1)\n"
        "  -h, --help         this help\n"
        "\n"
        "ttrank simulate --closed-loop: devices learning from their own rankings\n"
        "(ttrank simulate --closed-loop --help).\n");
}

static int parse_users(const char *s, float *users)
{
    static const char *const names[TTR_USER_TYPES] = {"pbm", "position", "thorough", "cascade"};
    for (int i = 0; i < TTR_USER_TYPES; i++)
        users[i] = 0.0f;
    while (*s) {
        const char *colon = strchr(s, ':');
        if (!colon)
            return -1;
        int t = -1;
        for (int i = 0; i < TTR_USER_TYPES; i++)
            if (strlen(names[i]) == (size_t)(colon - s) && !strncmp(names[i], s, (size_t)(colon - s)))
                t = i;
        if (t < 0)
            return -1;
        char *end;
        errno = 0;
        double v = strtod(colon + 1, &end);
        if (errno || end == colon + 1 || !(v >= 0 && v <= 1e6) || (*end && *end != ','))
            return -1;
        users[t] += (float)v;
        s = *end ? end + 1 : end;
    }
    float sum = 0;
    for (int i = 0; i < TTR_USER_TYPES; i++)
        sum += users[i];
    return sum > 0 ? 0 : -1;
}

/* Does feature f take two values within some list? On LETOR data, query-level
 * features (IDF, e.g. feature 7 of MQ2008) don't, and then the logging ranker's
 * bias does nothing. */
static int varies_within_a_list(const cli_letor *d, uint32_t f)
{
    for (size_t q = 0; q < d->n_lists; q++)
        for (size_t i = d->offsets[q] + 1; i < d->offsets[q + 1]; i++)
            if (d->x[i * d->n_features + f] != d->x[d->offsets[q] * d->n_features + f])
                return 1;
    return 0;
}

/* "R,F,N": the logging ranker's weights on label/ymax and on the bias feature,
 * and its noise amplitude. */
static int parse_logger(const char *s, ttr_sim_config *sc)
{
    double v[3];
    for (int i = 0; i < 3; i++) {
        char *end;
        errno = 0;
        v[i] = strtod(s, &end);
        if (errno || end == s || !(v[i] >= -1e6 && v[i] <= 1e6) || *end != (i < 2 ? ',' : '\0'))
            return -1;
        s = end + (i < 2);
    }
    if (v[2] < 0)
        return -1;
    sc->logging_rel = (float)v[0];
    sc->logging_feature = (float)v[1];
    sc->logging_noise = (float)v[2];
    return 0;
}

/* simulate's options, the index of each in its flag table */
enum {
    SIM_DATA, SIM_QUERY, SIM_OUT, SIM_LISTS, SIM_DRAW, SIM_USERS, SIM_ETA, SIM_GRID,
    SIM_NEIGHBOUR, SIM_EPS, SIM_YMAX, SIM_BIAS_FEATURE, SIM_SEED, SIM_LOGGER,
    SIM_POSITION_SCALE, SIM_COUNT,
};
/* The simulation a command line asks for. */
typedef struct sim_opts {
    ttr_sim_config sc;
    uint64_t seed, lists;     /* lists 0: one per query of the data */
    uint32_t ymax, bias_feature;
    int bias_given, random;
    const char *data, *out, *query;
} sim_opts;

/* Parse argv into o. Returns 0, 1 (--help: usage printed) or 2 (printed). */
static int parse_sim_opts(int argc, char **argv, sim_opts *o)
{
    cli_flag fl[SIM_COUNT] = {
        [SIM_DATA] = {"--data", 1, 0, 0},
        [SIM_QUERY] = {"--query", 1, 0, 0},
        [SIM_OUT] = {"--out", 1, 0, 0},
        [SIM_LISTS] = {"--lists", 1, 0, 0},
        [SIM_DRAW] = {"--draw", 1, 0, 0},
        [SIM_USERS] = {"--users", 1, 0, 0},
        [SIM_ETA] = {"--eta", 1, 0, 0},
        [SIM_GRID] = {"--grid", 1, 0, 0},
        [SIM_NEIGHBOUR] = {"--neighbour", 1, 0, 0},
        [SIM_EPS] = {"--eps", 1, 0, 0},
        [SIM_YMAX] = {"--ymax", 1, 0, 0},
        [SIM_BIAS_FEATURE] = {"--bias-feature", 1, 0, 0},
        [SIM_SEED] = {"--seed", 1, 0, 0},
        [SIM_LOGGER] = {"--logger", 1, 0, 0},
        [SIM_POSITION_SCALE] = {"--position-scale", 1, 0, 0},
    };
    int rc = cli_parse(C, argc, argv, fl, SIM_COUNT, NULL, 0, NULL);
    if (rc == 1) {
        usage(stdout);
        return 1;
    }
    if (rc || cli_need(C, &fl[SIM_DATA]) || cli_need(C, &fl[SIM_OUT]))
        return 2;
    memset(o, 0, sizeof *o);
    ttr_sim_config_default(&o->sc);
    o->seed = 1;
    o->bias_feature = 7;
    const char *users = cli_str(&fl[SIM_USERS], NULL);
    if (users && parse_users(users, o->sc.users))
        return cli_err(C, "--users: expected TYPE:SHARE,... with types pbm, position, "
                          "thorough, cascade, got '%s'", users), 2;
    const char *grid = cli_str(&fl[SIM_GRID], NULL);
    if (grid && cli_grid(C, grid, &o->sc.rows, &o->sc.cols))
        return 2;
    const char *logger = cli_str(&fl[SIM_LOGGER], NULL);
    if (logger && parse_logger(logger, &o->sc))
        return cli_err(C, "--logger: expected three numbers R,F,N (N >= 0), got '%s'", logger), 2;
    const char *draw = cli_str(&fl[SIM_DRAW], "cycle");
    if (strcmp(draw, "cycle") && strcmp(draw, "random"))
        return cli_err(C, "--draw: expected cycle or random, got '%s'", draw), 2;
    if (cli_float(C, &fl[SIM_ETA], 0, 100, &o->sc.eta) ||
        cli_float(C, &fl[SIM_NEIGHBOUR], -100, 100, &o->sc.neighbour) ||
        cli_float(C, &fl[SIM_EPS], 0, 1, &o->sc.eps) ||
        cli_float(C, &fl[SIM_POSITION_SCALE], 0, 1, &o->sc.position_scale) ||
        cli_u64(C, &fl[SIM_SEED], 0, UINT64_MAX, &o->seed) ||
        cli_u64(C, &fl[SIM_LISTS], 1, 1000000000ull, &o->lists) ||
        cli_u32(C, &fl[SIM_YMAX], 1, 15, &o->ymax) ||
        cli_u32(C, &fl[SIM_BIAS_FEATURE], 1, TTR_DATA_MAX_FEATURES, &o->bias_feature))
        return 2;
    o->random = !strcmp(draw, "random");
    o->bias_given = fl[SIM_BIAS_FEATURE].seen;
    o->data = cli_str(&fl[SIM_DATA], NULL);
    o->out = cli_str(&fl[SIM_OUT], NULL);
    o->query = cli_str(&fl[SIM_QUERY], NULL);
    return 0;
}

/* The settings that depend on the data: the grade range, the bias feature,
 * the number of lists. Returns 0, 1 or 2 (printed). */
static int fit_to_data(sim_opts *o, const cli_letor *d)
{
    if (d->max_list > TTR_SIM_MAX_DOCS)
        return cli_err(C, "%s: a query has %zu documents; at most %u are supported", o->data,
                       d->max_list, (unsigned)TTR_SIM_MAX_DOCS);
    if (!o->ymax) {
        o->ymax = (uint32_t)(d->max_label + 0.5f);
        o->ymax = o->ymax < 1 ? 1 : o->ymax;
        if (o->ymax > 15)
            return cli_err(C, "%s: labels up to %g; the simulator takes grades 0..15", o->data,
                           (double)d->max_label);
    }
    for (size_t i = 0; i < d->n_items; i++)
        if (d->labels[i] > o->ymax)
            return cli_err(C, "%s: a label is above --ymax %u", o->data, (unsigned)o->ymax), 2;
    o->sc.ymax = o->ymax;
    if (!o->bias_given && o->bias_feature > d->n_features)
        o->bias_feature = d->n_features;
    if (o->bias_feature > d->n_features)
        return cli_err(C, "--bias-feature %u: the data has %u features",
                       (unsigned)o->bias_feature, (unsigned)d->n_features), 2;
    o->sc.bias_feature = o->bias_feature - 1;
    if (o->sc.logging_feature != 0.0f && !varies_within_a_list(d, o->sc.bias_feature))
        fprintf(stderr,
                "ttrank %s: note: feature %u has one value within every query of %s (a query-level "
                "feature), so the logging ranker's bias feature changes no order; choose "
                "another with --bias-feature\n",
                C, (unsigned)o->bias_feature, o->data);
    if (ttr_sim_config_check(&o->sc))
        return cli_err(C, "invalid simulation settings"), 2;
    if (!o->lists)
        o->lists = d->n_lists;
    return 0;
}

/* Buffers of one simulated list and of the writer. */
typedef struct sim_bufs {
    uint16_t *slots, *wslots;
    uint8_t *clicks, *wclicks;
    float *wx;
    char *wbuf;
} sim_bufs;

/* The shown items of list [a, a+n) of d (slots[i]: where item i was shown),
 * in slot order into b's w* arrays. Returns their number; *clicked += the
 * clicks among them. */
static size_t shown_in_slot_order(const cli_letor *d, size_t a, size_t n, size_t P,
                                  sim_bufs *b, uint64_t *clicked)
{
    size_t F = d->n_features, shown = 0;
    for (size_t p = 0; p < P; p++)
        b->wslots[p] = TTR_SIM_UNSHOWN;
    for (size_t i = 0; i < n; i++)
        if (b->slots[i] != TTR_SIM_UNSHOWN && b->slots[i] < P)
            b->wslots[b->slots[i]] = (uint16_t)i;
    for (size_t p = 0; p < P; p++) {
        if (b->wslots[p] == TTR_SIM_UNSHOWN)
            continue;
        size_t i = b->wslots[p];
        memcpy(b->wx + shown * F, d->x + (a + i) * F, F * sizeof *b->wx);
        b->wclicks[shown] = b->clicks[i];
        b->wslots[shown] = (uint16_t)p;
        *clicked += b->clicks[i];
        shown++;
    }
    return shown;
}

/* Simulate o->lists impressions on d and write them to fo. Returns 0 or a
 * ttr_error; totals in *items and *clicked. */
static int write_log(const sim_opts *o, const cli_letor *d, FILE *fo, sim_bufs *b,
                     uint64_t *items, uint64_t *clicked)
{
    size_t F = d->n_features, P = (size_t)o->sc.rows * o->sc.cols;
    ttr_writer w;
    int err = ttr_clicks_writer_open(&w, ttr_stdio_write, fo, b->wbuf, 1 << 16, o->sc.rows,
                                     o->sc.cols, (uint32_t)F);
    if (!err)
        err = ttr_clicks_write_header(&w);
    ttr_rng rng;
    ttr_rng_seed(&rng, o->seed);
    cli_progress pr;
    cli_progress_start(&pr);
    for (uint64_t t = 0; !err && t < o->lists; t++) {
        size_t q = o->random ? (size_t)(((uint64_t)ttr_rng_u32(&rng) * d->n_lists) >> 32)
                             : (size_t)(t % d->n_lists);
        size_t a = d->offsets[q], n = d->offsets[q + 1] - a;
        err = ttr_sim_impression(&o->sc, &rng, n, d->x + a * F, F, d->labels + a, b->slots,
                                 b->clicks, NULL, NULL);
        if (err)
            break;
        size_t shown = shown_in_slot_order(d, a, n, P, b, clicked);
        *items += shown;
        if (shown)
            err = ttr_clicks_write_list(&w, t, NULL, shown, b->wx, F, b->wslots, b->wclicks);
        if ((t & 255) == 0)
            cli_progress_update(&pr, "simulate:", (double)t / (double)o->lists);
    }
    cli_progress_end(&pr);
    return err ? err : ttr_writer_flush(&w);
}

/* Close the output (stdout: flush it). Returns 0 or 1 (printed). */
static int close_out(const char *out, FILE *fo)
{
    if (fo != stdout)
        return fclose(fo) ? cli_err(C, "%s: %s", out, strerror(errno)) : 0;
    return fflush(stdout) ? cli_err(C, "stdout: %s", strerror(errno)) : 0;
}

int ttr_cmd_simulate(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--closed-loop"))
            return ttr_cmd_closed_loop(argc, argv);
    sim_opts o;
    int rc = parse_sim_opts(argc, argv, &o);
    if (rc)
        return rc == 1 ? 0 : 2;
    char qbuf[4200];
    const char *qpath = cli_query_path(o.data, o.query, qbuf, sizeof qbuf);
    cli_letor d;
    if (cli_letor_load(C, o.data, qpath, 0, &d))
        return 1;
    int ret = fit_to_data(&o, &d);
    FILE *fo = NULL;
    if (!ret && !(fo = strcmp(o.out, "-") ? fopen(o.out, "wb") : stdout))
        ret = cli_err(C, "%s: %s", o.out, strerror(errno));
    size_t ml = d.max_list, F = d.n_features, P = (size_t)o.sc.rows * o.sc.cols;
    sim_bufs b = {malloc(ml * sizeof *b.slots), malloc(P * sizeof *b.wslots), malloc(ml),
                  malloc(P), malloc(P * F * sizeof *b.wx), malloc(1 << 16)};
    if (!ret && (!b.slots || !b.wslots || !b.clicks || !b.wclicks || !b.wx || !b.wbuf))
        ret = cli_err(C, "out of memory");
    uint64_t items = 0, clicked = 0;
    int err = ret ? TTR_OK : write_log(&o, &d, fo, &b, &items, &clicked);
    if (!ret && err)
        ret = cli_err(C, "%s: %s", o.out,
                      err == TTR_ERR_IO ? strerror(errno ? errno : EIO) : ttr_strerror(err));
    if (fo && !ret)
        ret = close_out(o.out, fo);
    else if (fo && fo != stdout)
        fclose(fo);
    if (!ret && fo != stdout)
        printf("simulate: %llu lists from %zu queries, %llu items shown, %llu clicks "
               "(%ux%u slots, %u features, ymax %u)\n",
               (unsigned long long)o.lists, d.n_lists, (unsigned long long)items,
               (unsigned long long)clicked, (unsigned)o.sc.rows, (unsigned)o.sc.cols,
               (unsigned)F, (unsigned)o.ymax);
    free(b.slots);
    free(b.wslots);
    free(b.clicks);
    free(b.wclicks);
    free(b.wx);
    free(b.wbuf);
    cli_letor_free(&d);
    return ret;
}
