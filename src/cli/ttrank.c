/* ttrank — command-line tool: a small dispatcher over the commands.
 *
 *   ttrank COMMAND [OPTIONS]     run a command (`ttrank COMMAND --help` for its options)
 *   ttrank --help | help [CMD]   list the commands (or CMD's help)
 *   ttrank --version             version, compiler and the CPU's kernel path
 *
 * Each command is `int fn(int argc, char **argv)` with argv[0] the command
 * name; its return value is the exit status (0 ok, 1 failure, 2 usage). To add
 * a command, add a row to g_commands. */
#include <stdio.h>
#include <string.h>

#include "../../bench/bench.h"
#include "cmd_commands.h"
#include "demo.h"
#include "ttr_kernels.h"
#include "ttrank.h"

#ifndef TTR_VERSION_STRING /* from ttrank.h */
#define TTR_VERSION_STRING "unknown"
#endif

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command g_commands[] = {
    {"demo", ttr_demo_main,
     "simulate biased clicks, train every variant, print NDCG and write plots (no input files)"},
    {"bench", ttr_bench_main, "time the numeric kernels on this CPU (--json for scripts)"},
    {"simulate", ttr_cmd_simulate, "show LETOR queries to simulated users, write a click log"},
    {"train", ttr_cmd_train, "train a model variant on a click log, save a .ttr model"},
    {"eval", ttr_cmd_eval, "NDCG@1/3/5/10 and MRR on LETOR data; held-out click log-likelihood"},
    {"rank", ttr_cmd_rank, "score every line of a LETOR file (one score per line)"},
    {"info", ttr_cmd_info, "a model's configuration, sizes and what it learned (--json)"},
    {"plot", ttr_cmd_plot, "plot a model's bias curves or XPA attention as SVG"},
    {"learn", ttr_cmd_learn, "learn online from an impression stream, promote only a better model"},
    {"average", ttr_cmd_average, "the weighted mean of models learned on many devices (FedAvg)"},
    {"export", ttr_cmd_export, "a trained model as safetensors (PyTorch reads it)"},
    {"import", ttr_cmd_import, "a model from safetensors (e.g. a tower trained in PyTorch)"},
    {"serving", ttr_cmd_serving, "f32 serving model from a trained model (the relevance tower)"},
    {"quantize", ttr_cmd_quantize, "int8 serving model from a trained model (smaller, same API)"},
};
#define N_COMMANDS (sizeof g_commands / sizeof g_commands[0])

static void usage(FILE *f)
{
    fprintf(f, "Usage: ttrank COMMAND [OPTIONS]\n"
               "       ttrank --help | --version\n"
               "\n"
               "Train and serve two-tower position-debiased ranking models on the device.\n"
               "\n"
               "Commands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(f, "  %-10s %s\n", g_commands[i].name, g_commands[i].summary);
    fprintf(f, "\n"
               "Run 'ttrank COMMAND --help' for the options of a command.\n"
               "Environment: TTR_CPU_MASK=scalar|avx2|avxvnni|neon|neonfma|neondot limits the\n"
               "kernel paths (see ttr_kernels.h). Long commands show progress with an ETA on\n"
               "stderr: redrawn on a terminal, otherwise a line every 30 s\n"
               "(TTRANK_PROGRESS_EVERY=SECONDS).\n");
}

static void version(void)
{
#if defined(__clang__)
    const char *cc = "clang " __clang_version__;
#elif defined(__GNUC__)
    const char *cc = "gcc " __VERSION__;
#else
    const char *cc = "unknown compiler";
#endif
    printf("ttrank %s (%s; kernel path: %s)\n", TTR_VERSION_STRING, cc,
           ttr_cpu_path_name(ttr_cpu_flags()));
}

static const command *find_command(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (!strcmp(name, g_commands[i].name))
            return &g_commands[i];
    return NULL;
}

static int unknown_command(const char *name)
{
    fprintf(stderr, "ttrank: unknown command '%s' (try 'ttrank --help')\n", name);
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "-V") || !strcmp(cmd, "--version")) {
        version();
        return 0;
    }
    if (!strcmp(cmd, "help")) {
        if (argc < 3) {
            usage(stdout);
            return 0;
        }
        const command *c = find_command(argv[2]);
        if (!c)
            return unknown_command(argv[2]);
        char help[] = "--help";
        char *args[3];
        args[0] = argv[2];
        args[1] = help;
        args[2] = NULL;
        return c->run(2, args);
    }
    if (cmd[0] == '-') {
        fprintf(stderr, "ttrank: unknown option '%s' (try 'ttrank --help')\n", cmd);
        return 2;
    }
    const command *c = find_command(cmd);
    if (!c)
        return unknown_command(cmd);
    return c->run(argc - 1, argv + 1);
}
