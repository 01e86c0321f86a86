/* ttrank — benchmarks linked into the `ttrank` tool (not part of the library).
 *
 * Each entry point takes the command's own argv (argv[0] is the command name,
 * e.g. "bench") and returns the process exit status: 0 on success, 1 when the
 * run failed (out of memory, an ISA path this CPU lacks), 2 on a usage error.
 * Results go to stdout, diagnostics to stderr. */
#ifndef TTR_BENCH_BENCH_H
#define TTR_BENCH_BENCH_H

/* `ttrank bench [--json] [--isa NAME] [--kernel NAME[,NAME...]] [--quick]
 *  [--reps N] [--samples N] [--min-time US] [--list] [--help]`:
 * time every kernel of ttr_kernels.h on every ISA path this CPU supports,
 * over the shapes of the ranking towers and the attention layer. */
int ttr_bench_main(int argc, char **argv);

#endif
