/* `ttrank simulate --closed-loop`: devices that learn from their own
 * rankings (ttr_sim.h, ttr_closed_loop_run), one learner per variant and
 * an oracle, NDCG@10 against impressions as a table and an SVG. */
#include <stdlib.h>
#include <string.h>

#include "cmd_commands.h"
#include "cmd_util.h"
#include "sim/ttr_sim.h"

static const char *const CMD = "simulate";

enum {
    CL_CLOSED, CL_SCENARIO, CL_IMPRESSIONS, CL_EVERY, CL_SEEDS, CL_LR, CL_SVG, CL_TEST, CL_WINDOW,
    CL_PROMOTE_MARGIN, CL_WARM, CL_COUNT
};

#define MAX_SEEDS 32
#define MAX_LEARNERS 5

typedef struct learner {
    const char *name;
    ttr_variant v;
    int oracle;
} learner;

static const learner g_mixed[] = {{"oracle", TTR_NAIVE, 1},
                                  {"naive", TTR_NAIVE, 0},
                                  {"additive", TTR_ADDITIVE, 0},
                                  {"mixem", TTR_MIXEM, 0}};
static const learner g_grid[] = {{"oracle", TTR_NAIVE, 1},
                                 {"naive", TTR_NAIVE, 0},
                                 {"additive", TTR_ADDITIVE, 0},
                                 {"xpa", TTR_XPA, 0}};

static void closed_usage(FILE *f)
{
    fprintf(f,
            "Usage: ttrank simulate --closed-loop [--scenario mixed|grid|both] [options]\n"
            "\n"
            "Devices that rank planted queries with their champion, show the ranking to\n"
            "simulated users and learn from the clicks online (ttrank learn's loop): what\n"
            "they learn from depends on what they showed. One learner per variant and an\n"
            "oracle whose users see everything; NDCG@10 of each champion on held-out queries\n"
            "against impressions (mean over the seeds).\n"
            "  --scenario S        mixed (a list of 10, mixed users: naive, additive, mixem),\n"
            "                      grid (2x5 with the same-row effect: naive, additive, xpa),\n"
            "                      or both (default)\n"
            "  --impressions N     per learner (default 50000)\n"
            "  --every N           NDCG@10 every N impressions (default 2500)\n"
            "  --seeds S1,S2,...   (default 1)\n"
            "  --lr X              the learners' rate (default 0.01)\n"
            "  --test-lists N      held-out queries (default 1000)\n"
            "  --warm-lists N      the devices start from a tower trained on N impressions of\n"
            "                      the biased logging ranker (default 20000; 0: cold start)\n"
            "  --window N  --promote-margin X   the loop's (ttrank learn --help)\n"
            "  --svg PREFIX        write PREFIX-mixed.svg / PREFIX-grid.svg\n");
}

static void on_progress(void *ctx, const char *step, double done)
{
    (void)step;
    cli_progress_update(ctx, "closed loop", done);
}

/* One scenario: every learner on every seed; means per point into mean. */
static int run_scenario(const ttr_closed_loop_config *base, const uint32_t *seeds, size_t n_seeds,
                        const learner *ls, size_t n_l, float *mean, double *promos,
                        cli_progress *pg)
{
    size_t P = ttr_closed_loop_points(base);
    float *curve = malloc(P * sizeof *curve);
    if (!curve)
        return cli_err(CMD, "out of memory");
    memset(mean, 0, n_l * P * sizeof *mean);
    for (size_t l = 0; l < n_l; l++) {
        promos[l] = 0.0;
        for (size_t s = 0; s < n_seeds; s++) {
            ttr_closed_loop_config c = *base;
            c.scenario.seed = seeds[s];
            size_t bytes = ttr_closed_loop_bytes(&c, ls[l].v);
            void *arena = bytes ? malloc(bytes) : NULL;
            uint64_t pr = 0;
            int err = arena ? ttr_closed_loop_run(&c, ls[l].v, ls[l].oracle, arena, bytes, curve,
                                                  &pr, pg->tty ? on_progress : NULL, pg)
                            : TTR_ERR_NOMEM;
            free(arena);
            if (err) {
                free(curve);
                return cli_err(CMD, "closed loop, %s: %s", ls[l].name, ttr_strerror(err));
            }
            for (size_t k = 0; k < P; k++)
                mean[l * P + k] += curve[k] / (float)n_seeds;
            promos[l] += (double)pr / (double)n_seeds;
        }
    }
    free(curve);
    return 0;
}

static void print_table(const char *title, const ttr_closed_loop_config *c, const learner *ls,
                        size_t n_l, const float *mean, const double *promos, size_t n_seeds)
{
    size_t P = ttr_closed_loop_points(c), step = (P + 4) / 5;
    printf("%s: NDCG@10 of the champion after N impressions (mean of %zu seed%s)\n", title,
           n_seeds, n_seeds > 1 ? "s" : "");
    printf("  %-10s", "learner");
    for (size_t k = 0; k < P; k += step)
        printf(" %9zu", k * c->every);
    if ((P - 1) % step)
        printf(" %9zu", (P - 1) * c->every);
    printf("  promotions\n");
    for (size_t l = 0; l < n_l; l++) {
        printf("  %-10s", ls[l].name);
        for (size_t k = 0; k < P; k += step)
            printf(" %9.4f", (double)mean[l * P + k]);
        if ((P - 1) % step)
            printf(" %9.4f", (double)mean[l * P + P - 1]);
        printf("  %10.1f\n", promos[l]);
    }
    printf("\n");
}

static int write_svg(const char *prefix, const char *kind, const char *title,
                     const ttr_closed_loop_config *c, const learner *ls, size_t n_l,
                     const float *mean)
{
    const size_t cap = 1 << 20;
    char *buf = malloc(cap), path[4096];
    const char *names[MAX_LEARNERS];
    const float *vals[MAX_LEARNERS];
    size_t P = ttr_closed_loop_points(c);
    if (!buf)
        return cli_err(CMD, "out of memory");
    for (size_t l = 0; l < n_l; l++)
        names[l] = ls[l].name, vals[l] = mean + l * P;
    int len = ttr_svg_curves(buf, cap, title, "impressions", "NDCG@10 of the champion", n_l,
                             names, vals, P, (double)c->every);
    snprintf(path, sizeof path, "%s-%s.svg", prefix, kind);
    FILE *f = len > 0 ? fopen(path, "wb") : NULL;
    int rc = len < 0  ? cli_err(CMD, "%s: %s", path, ttr_strerror(len))
             : !f     ? cli_err(CMD, "%s: cannot write", path)
             : fwrite(buf, 1, (size_t)len, f) != (size_t)len ? cli_err(CMD, "%s: write error", path)
                                                            : 0;
    if (f && fclose(f) && !rc)
        rc = cli_err(CMD, "%s: write error", path);
    if (!rc)
        printf("wrote %s\n", path);
    free(buf);
    return rc;
}

int ttr_cmd_closed_loop(int argc, char **argv)
{
    cli_flag fl[CL_COUNT] = {
        [CL_CLOSED] = {"--closed-loop", 0, 0, 0},   [CL_SCENARIO] = {"--scenario", 1, 0, 0},
        [CL_IMPRESSIONS] = {"--impressions", 1, 0, 0}, [CL_EVERY] = {"--every", 1, 0, 0},
        [CL_SEEDS] = {"--seeds", 1, 0, 0},          [CL_LR] = {"--lr", 1, 0, 0},
        [CL_SVG] = {"--svg", 1, 0, 0},              [CL_TEST] = {"--test-lists", 1, 0, 0},
        [CL_WINDOW] = {"--window", 1, 0, 0},
        [CL_PROMOTE_MARGIN] = {"--promote-margin", 1, 0, 0},
        [CL_WARM] = {"--warm-lists", 1, 0, 0},
    };
    int rc = cli_parse(CMD, argc, argv, fl, CL_COUNT, NULL, 0, NULL);
    if (rc == 1) {
        closed_usage(stdout);
        return 0;
    }
    if (rc)
        return 2;
    const char *sc = cli_str(&fl[CL_SCENARIO], "both");
    int want[2] = {!strcmp(sc, "mixed") || !strcmp(sc, "both"),
                   !strcmp(sc, "grid") || !strcmp(sc, "both")};
    if (!want[0] && !want[1])
        return cli_err(CMD, "--scenario: expected mixed, grid or both, not '%s'", sc) + 1;
    uint32_t seeds[MAX_SEEDS] = {1};
    int n_seeds = 1;
    if (fl[CL_SEEDS].seen &&
        (n_seeds = cli_u32_list(cli_str(&fl[CL_SEEDS], ""), seeds, MAX_SEEDS)) < 1)
        return cli_err(CMD, "--seeds: expected S1,S2,... (at most %d)", MAX_SEEDS) + 1;
    ttr_closed_loop_config base[2];
    for (int k = 0; k < 2; k++) {
        ttr_closed_loop_config_default(&base[k], k ? TTR_SCENARIO_GRID : TTR_SCENARIO_MIXED, 1);
        uint64_t imp = base[k].impressions, every = base[k].every, test = base[k].test_lists;
        uint64_t warm = base[k].warm_lists;
        if (cli_u64(CMD, &fl[CL_IMPRESSIONS], 1, 1u << 30, &imp) ||
            cli_u64(CMD, &fl[CL_EVERY], 1, 1u << 30, &every) ||
            cli_u64(CMD, &fl[CL_TEST], 1, 1u << 24, &test) ||
            cli_u64(CMD, &fl[CL_WARM], 0, 1u << 24, &warm) ||
            cli_float(CMD, &fl[CL_LR], 1e-6, 10, &base[k].scenario.lr) ||
            cli_u32(CMD, &fl[CL_WINDOW], 16, 1u << 24, &base[k].loop.window) ||
            cli_float(CMD, &fl[CL_PROMOTE_MARGIN], 0, 10, &base[k].loop.promote_margin))
            return 2;
        if (base[k].loop.window % 16)
            return cli_err(CMD, "--window must be a multiple of 16") + 1;
        if (every > imp || imp / every > 4000)
            return cli_err(CMD, "--every must divide the run into 1..4000 points") + 1;
        base[k].impressions = (size_t)imp, base[k].every = (size_t)every;
        base[k].test_lists = (size_t)test;
        base[k].warm_lists = (size_t)warm;
    }
    static const char *const titles[2] = {
        "Closed loop, scenario 1: a list of 10, mixed users",
        "Closed loop, scenario 2: a 2x5 grid with the same-row effect"};
    cli_progress pg;
    cli_progress_start(&pg);
    for (int k = 0; k < 2 && !rc; k++) {
        if (!want[k])
            continue;
        const learner *ls = k ? g_grid : g_mixed;
        size_t n_l = k ? sizeof g_grid / sizeof g_grid[0] : sizeof g_mixed / sizeof g_mixed[0];
        size_t P = ttr_closed_loop_points(&base[k]);
        float *mean = malloc(n_l * P * sizeof *mean);
        double promos[MAX_LEARNERS];
        rc = mean ? run_scenario(&base[k], seeds, (size_t)n_seeds, ls, n_l, mean, promos, &pg)
                  : cli_err(CMD, "out of memory");
        cli_progress_end(&pg);
        if (!rc)
            print_table(titles[k], &base[k], ls, n_l, mean, promos, (size_t)n_seeds);
        if (!rc && fl[CL_SVG].seen)
            rc = write_svg(cli_str(&fl[CL_SVG], ""), k ? "grid" : "mixed", titles[k], &base[k],
                           ls, n_l, mean);
        free(mean);
    }
    return rc;
}
