/* `ttrank demo`: the main job, with no input files. Two simulated scenarios
 * (ttr_sim.h: ttr_scenario_run) — mixed user behaviour in a ranked list, and
 * a 2 x 5 grid with a same-row effect — every variant trained on the
 * simulated clicks, a table of NDCG against the planted relevance and of
 * held-out click log-likelihood on stdout, and SVG plots in the output
 * directory (default ./ttrank-demo). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cmd_util.h"
#include "demo.h"
#include "svg.h"
#include "sim/ttr_sim.h"
#include "ttrank.h"

typedef struct demo_opts {
    uint64_t seed;
    const char *out;
    size_t lists;
    int quick;
    int no_plots;
} demo_opts;

static void demo_usage(FILE *f)
{
    fprintf(f,
            "Usage: ttrank demo [--seed S] [--out DIR] [--lists N] [--quick] [--no-plots]\n"
            "\n"
            "Simulate clicks on planted data and compare every model variant; no input files.\n"
            "  Scenario 1: a ranked list of 10 seen by a mixture of users (PBM readers,\n"
            "              users who click by position alone, users who read everything):\n"
            "              naive, additive, PAL, dot (both serving references), MixEM.\n"
            "  Scenario 2: a 2 x 5 grid where an item is seen more next to relevant items in\n"
            "              its row: naive, additive, XPA.\n"
            "The oracle row is the same relevance tower trained on clicks without position\n"
            "bias (users who see everything); its log-likelihood column is the simulator's\n"
            "own. NDCG is against the planted graded relevance on held-out queries.\n"
            "\n"
            "Options:\n"
            "  --seed S     simulation and training seed (default 1)\n"
            "  --out DIR    directory for the SVG plots (default ./ttrank-demo)\n"
            "  --lists N    training lists per scenario (default 20000; --quick 6000)\n"
            "  --quick      smaller run (fewer lists and epochs)\n"
            "  --no-plots   do not write plots\n"
            "  -h, --help   this help\n");
}

static int parse_opts(int argc, char **argv, demo_opts *o)
{
    o->seed = 1;
    o->out = "ttrank-demo";
    o->lists = 0;
    o->quick = 0;
    o->no_plots = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = NULL;
        const char *eq = strchr(a, '=');
        char name[32];
        size_t len = eq ? (size_t)(eq - a) : strlen(a);
        if (len >= sizeof name) {
            fprintf(stderr, "ttrank demo: unknown option '%s' (try --help)\n", a);
            return 2;
        }
        memcpy(name, a, len);
        name[len] = 0;
        int takes = !strcmp(name, "--seed") || !strcmp(name, "--out") || !strcmp(name, "--lists");
        if (takes) {
            val = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
            if (!val) {
                fprintf(stderr, "ttrank demo: %s needs a value\n", name);
                return 2;
            }
        } else if (eq) {
            fprintf(stderr, "ttrank demo: %s takes no value\n", name);
            return 2;
        }
        uint64_t v;
        if (!strcmp(name, "-h") || !strcmp(name, "--help")) {
            demo_usage(stdout);
            return 1;
        } else if (!strcmp(name, "--seed")) {
            if (cli_parse_u64(val, &o->seed)) {
                fprintf(stderr, "ttrank demo: --seed: not a number: '%s'\n", val);
                return 2;
            }
        } else if (!strcmp(name, "--out")) {
            o->out = val;
        } else if (!strcmp(name, "--lists")) {
            if (cli_parse_u64(val, &v) || v < 100 || v > 1000000) {
                fprintf(stderr, "ttrank demo: --lists: a number in 100..1000000, got '%s'\n", val);
                return 2;
            }
            o->lists = (size_t)v;
        } else if (!strcmp(name, "--quick")) {
            o->quick = 1;
        } else if (!strcmp(name, "--no-plots")) {
            o->no_plots = 1;
        } else {
            fprintf(stderr, "ttrank demo: unknown option '%s' (try --help)\n", a);
            return 2;
        }
    }
    return 0;
}

typedef struct progress_ctx {
    const char *scenario;
    double t0;
} progress_ctx;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void on_progress(void *ctx, const char *step, double done)
{
    progress_ctx *p = (progress_ctx *)ctx;
    double el = now_s() - p->t0;
    if (done >= 1.0)
        fprintf(stderr, "\r\033[K");
    else if (done > 0.0)
        fprintf(stderr, "\r\033[K%s: training %s (%.0f%%, ETA %.0f s)", p->scenario, step,
                100.0 * done, el / done * (1.0 - done));
    else
        fprintf(stderr, "\r\033[K%s: training %s", p->scenario, step);
    fflush(stderr);
}

static void print_table(const char *title, const ttr_scenario_result *r)
{
    printf("%s\n", title);
    printf("  %-18s | %7s | %7s | %10s | %16s\n", "variant", "NDCG@5", "NDCG@10", "gap closed",
           "click loglik");
    printf("  -------------------+---------+---------+------------+-----------------\n");
    for (size_t i = 0; i < r->n_rows; i++) {
        const ttr_scenario_row *w = &r->row[i];
        printf("  %-18s | %7.4f | %7.4f | %9.1f%% | %16.5f%s\n", w->name, w->ndcg5, w->ndcg10,
               100.0 * w->gap, w->loglik, i == 0 ? " (truth)" : "");
    }
    printf("  (%zu held-out queries; %zu without a relevant item left out of NDCG)\n",
           r->eval_counted, r->eval_skipped);
}

int ttr_demo_configs(int quick, size_t lists, uint64_t seed, ttr_scenario_config *mixed,
                     ttr_scenario_config *grid)
{
    ttr_scenario_config_default(mixed, TTR_SCENARIO_MIXED, seed);
    ttr_scenario_config_default(grid, TTR_SCENARIO_GRID, seed);
    if (quick) {
        mixed->train_lists = grid->train_lists = 6000;
        mixed->test_lists = grid->test_lists = 500;
        mixed->epochs = grid->epochs = 3;
    }
    if (lists)
        mixed->train_lists = grid->train_lists = lists;
    return 0;
}

int ttr_demo_main(int argc, char **argv)
{
    demo_opts o;
    int rc = parse_opts(argc, argv, &o);
    if (rc)
        return rc == 1 ? 0 : rc;
    ttr_scenario_config cfg[2];
    ttr_demo_configs(o.quick, o.lists, o.seed, &cfg[0], &cfg[1]);
    static const char *titles[2] = {
        "Scenario 1: ranked list of 10, mixed users (40% PBM, 40% position-only, 20% thorough)",
        "Scenario 2: 2 x 5 grid, seen odds raised by relevant items in the same row"};
    static const char *short_names[2] = {"scenario 1", "scenario 2"};
    ttr_scenario_result res[2];
    int tty = isatty(2);
    double t0 = now_s();
    printf("ttrank demo (seed %llu): planted data, %zu training lists per scenario, %u epochs\n\n",
           (unsigned long long)o.seed, cfg[0].train_lists, cfg[0].epochs);
    for (int s = 0; s < 2; s++) {
        size_t bytes = ttr_scenario_bytes(&cfg[s]);
        void *arena = bytes ? malloc(bytes) : NULL;
        if (!arena) {
            fprintf(stderr, "ttrank demo: out of memory (%zu bytes)\n", bytes);
            return 1;
        }
        progress_ctx pc = {short_names[s], now_s()};
        int err = ttr_scenario_run(&cfg[s], arena, bytes, &res[s], tty ? on_progress : NULL, &pc);
        free(arena);
        if (err) {
            fprintf(stderr, "ttrank demo: %s failed: %s\n", short_names[s], ttr_strerror(err));
            return 1;
        }
        print_table(titles[s], &res[s]);
        if (s == 0 && res[0].mixem_k == 2)
            printf("  mixem: pi = %.2f / %.2f, relevance gains w = %.2f / %.2f\n",
                   res[0].mixem_pi[0], res[0].mixem_pi[1], res[0].mixem_gain[0],
                   res[0].mixem_gain[1]);
        if (s == 0 && res[0].mixem_k == 2)
            printf("  (two components for three planted user types: PBM and position-only users\n"
                   "  both click less further down, 80%% of the lists; thorough users 20%%)\n");
        printf("\n");
        fflush(stdout);
    }
    printf("gap closed: share of the NDCG@10 gap between naive and the oracle; click loglik:\n"
           "mean log-likelihood per item of held-out clicks (higher is better).\n");
    if (!o.no_plots) {
        int err = ttr_demo_write_plots(o.out, &res[0], &res[1]);
        if (err) {
            fprintf(stderr, "ttrank demo: could not write the plots into '%s': %s\n", o.out,
                    strerror(errno));
            return 1;
        }
        printf("plots: %s/bias_curves.svg, %s/attention.svg, %s/ndcg.svg\n", o.out, o.out, o.out);
    }
    printf("time: %.1f s\n", now_s() - t0);
    return 0;
}
