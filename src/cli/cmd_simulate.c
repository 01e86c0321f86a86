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
        "  -h, --help         this help\n");
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
int ttr_cmd_simulate(int argc, char **argv)
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
    const size_t nf = SIM_COUNT;
    int rc = cli_parse(C, argc, argv, fl, nf, NULL, 0, NULL);
    if (rc == 1) {
        usage(stdout);
        return 0;
    }
    if (rc || cli_need(C, &fl[SIM_DATA]) || cli_need(C, &fl[SIM_OUT]))
        return 2;

    ttr_sim_config sc;
    ttr_sim_config_default(&sc);
    uint64_t seed = 1, lists = 0;
    uint32_t ymax = 0, bias_feature = 7;
    const char *users = cli_str(&fl[SIM_USERS], NULL);
    if (users && parse_users(users, sc.users))
        return cli_err(C, "--users: expected TYPE:SHARE,... with types pbm, position, "
                          "thorough, cascade, got '%s'", users), 2;
    const char *grid = cli_str(&fl[SIM_GRID], NULL);
    if (grid && cli_grid(C, grid, &sc.rows, &sc.cols))
        return 2;
    const char *logger = cli_str(&fl[SIM_LOGGER], NULL);
    if (logger && parse_logger(logger, &sc))
        return cli_err(C, "--logger: expected three numbers R,F,N (N >= 0), got '%s'", logger), 2;
    const char *draw = cli_str(&fl[SIM_DRAW], "cycle");
    if (strcmp(draw, "cycle") && strcmp(draw, "random"))
        return cli_err(C, "--draw: expected cycle or random, got '%s'", draw), 2;
    if (cli_float(C, &fl[SIM_ETA], 0, 100, &sc.eta) ||
        cli_float(C, &fl[SIM_NEIGHBOUR], -100, 100, &sc.neighbour) ||
        cli_float(C, &fl[SIM_EPS], 0, 1, &sc.eps) ||
        cli_float(C, &fl[SIM_POSITION_SCALE], 0, 1, &sc.position_scale) ||
        cli_u64(C, &fl[SIM_SEED], 0, UINT64_MAX, &seed) ||
        cli_u64(C, &fl[SIM_LISTS], 1, 1000000000ull, &lists) ||
        cli_u32(C, &fl[SIM_YMAX], 1, 15, &ymax) ||
        cli_u32(C, &fl[SIM_BIAS_FEATURE], 1, TTR_DATA_MAX_FEATURES, &bias_feature))
        return 2;

    const char *data = cli_str(&fl[SIM_DATA], NULL), *out = cli_str(&fl[SIM_OUT], NULL);
    char qbuf[4200];
    const char *qpath = cli_query_path(data, cli_str(&fl[SIM_QUERY], NULL), qbuf, sizeof qbuf);
    cli_letor d;
    if (cli_letor_load(C, data, qpath, 0, &d))
        return 1;
    if (d.max_list > TTR_SIM_MAX_DOCS) {
        cli_letor_free(&d);
        return cli_err(C, "%s: a query has %zu documents; at most %u are supported", data,
                       d.max_list, (unsigned)TTR_SIM_MAX_DOCS);
    }
    if (!ymax) {
        ymax = (uint32_t)(d.max_label + 0.5f);
        if (ymax < 1)
            ymax = 1;
        if (ymax > 15) {
            cli_letor_free(&d);
            return cli_err(C, "%s: labels up to %g; the simulator takes grades 0..15", data,
                           (double)d.max_label);
        }
    }
    for (size_t i = 0; i < d.n_items; i++)
        if (d.labels[i] > ymax) {
            cli_letor_free(&d);
            return cli_err(C, "%s: a label is above --ymax %u", data, (unsigned)ymax), 2;
        }
    sc.ymax = ymax;
    if (!fl[SIM_BIAS_FEATURE].seen && bias_feature > d.n_features)
        bias_feature = d.n_features;
    if (bias_feature > d.n_features) {
        cli_err(C, "--bias-feature %u: the data has %u features", (unsigned)bias_feature,
                (unsigned)d.n_features);
        cli_letor_free(&d);
        return 2;
    }
    sc.bias_feature = bias_feature - 1;
    if (sc.logging_feature != 0.0f && !varies_within_a_list(&d, sc.bias_feature))
        fprintf(stderr,
                "ttrank %s: note: feature %u has one value within every query of %s (a query-level "
                "feature), so the logging ranker's bias feature changes no order; choose "
                "another with --bias-feature\n",
                C, (unsigned)bias_feature, data);
    if (ttr_sim_config_check(&sc)) {
        cli_letor_free(&d);
        return cli_err(C, "invalid simulation settings"), 2;
    }
    if (!lists)
        lists = d.n_lists;

    FILE *fo = strcmp(out, "-") ? fopen(out, "wb") : stdout;
    if (!fo) {
        cli_letor_free(&d);
        return cli_err(C, "%s: %s", out, strerror(errno));
    }
    size_t ml = d.max_list, F = d.n_features, P = (size_t)sc.rows * sc.cols;
    uint16_t *slots = malloc(ml * sizeof *slots), *wslots = malloc(P * sizeof *wslots);
    uint8_t *clicks = malloc(ml), *wclicks = malloc(P);
    float *wx = malloc(P * F * sizeof *wx);
    char *wbuf = malloc(1 << 16);
    int ret = 0;
    if (!slots || !wslots || !clicks || !wclicks || !wx || !wbuf) {
        ret = cli_err(C, "out of memory");
        goto done;
    }
    ttr_writer w;
    int err = ttr_clicks_writer_open(&w, ttr_stdio_write, fo, wbuf, 1 << 16, sc.rows, sc.cols,
                                     (uint32_t)F);
    if (!err)
        err = ttr_clicks_write_header(&w);
    ttr_rng rng;
    ttr_rng_seed(&rng, seed);
    int random = !strcmp(draw, "random");
    uint64_t total_items = 0, total_clicks = 0;
    cli_progress pr;
    cli_progress_start(&pr);
    for (uint64_t t = 0; !err && t < lists; t++) {
        size_t q = random ? (size_t)(((uint64_t)ttr_rng_u32(&rng) * d.n_lists) >> 32)
                          : (size_t)(t % d.n_lists);
        size_t a = d.offsets[q], n = d.offsets[q + 1] - a;
        err = ttr_sim_impression(&sc, &rng, n, d.x + a * F, F, d.labels + a, slots, clicks, NULL,
                                 NULL);
        if (err)
            break;
        /* the shown items, in slot order */
        for (size_t p = 0; p < P; p++)
            wslots[p] = TTR_SIM_UNSHOWN;
        size_t shown = 0;
        for (size_t i = 0; i < n; i++)
            if (slots[i] != TTR_SIM_UNSHOWN && slots[i] < P) {
                size_t p = slots[i];
                wslots[p] = (uint16_t)i;
            }
        for (size_t p = 0; p < P; p++) {
            if (wslots[p] == TTR_SIM_UNSHOWN)
                continue;
            size_t i = wslots[p];
            memcpy(wx + shown * F, d.x + (a + i) * F, F * sizeof *wx);
            wclicks[shown] = clicks[i];
            wslots[shown] = (uint16_t)p;
            total_clicks += clicks[i];
            shown++;
        }
        total_items += shown;
        if (shown)
            err = ttr_clicks_write_list(&w, t, NULL, shown, wx, F, wslots, wclicks);
        if ((t & 255) == 0)
            cli_progress_update(&pr, "simulate:", (double)t / (double)lists);
    }
    cli_progress_end(&pr);
    if (!err)
        err = ttr_writer_flush(&w);
    if (err) {
        ret = cli_err(C, "%s: %s", out,
                      err == TTR_ERR_IO ? strerror(errno ? errno : EIO) : ttr_strerror(err));
        goto done;
    }
    if (fo != stdout) {
        int bad = fclose(fo);
        fo = NULL;
        if (bad) {
            ret = cli_err(C, "%s: %s", out, strerror(errno));
            goto done;
        }
    } else if (fflush(stdout)) {
        ret = cli_err(C, "stdout: %s", strerror(errno));
        goto done;
    }
    if (fo != stdout)
        printf("simulate: %llu lists from %zu queries, %llu items shown, %llu clicks "
                    "(%ux%u slots, %u features, ymax %u)\n",
            (unsigned long long)lists, d.n_lists, (unsigned long long)total_items,
            (unsigned long long)total_clicks, (unsigned)sc.rows, (unsigned)sc.cols, (unsigned)F,
            (unsigned)ymax);
done:
    if (fo && fo != stdout)
        fclose(fo);
    free(slots);
    free(wslots);
    free(clicks);
    free(wclicks);
    free(wx);
    free(wbuf);
    cli_letor_free(&d);
    return ret;
}
