/* `ttrank demo` (src/cli/demo.c). */
#ifndef TTR_CLI_DEMO_H
#define TTR_CLI_DEMO_H

#include <stddef.h>
#include <stdint.h>

#include "sim/ttr_sim.h"

int ttr_demo_main(int argc, char **argv);
/* The two scenario configurations the demo runs. */
int ttr_demo_configs(int quick, size_t lists, uint64_t seed, ttr_scenario_config *mixed,
                     ttr_scenario_config *grid);
/* Write bias_curves.svg, attention.svg and ndcg.svg into dir (created if
 * missing). 0 or -1 (errno set). */
int ttr_demo_write_plots(const char *dir, const ttr_scenario_result *mixed,
                         const ttr_scenario_result *grid);

#endif
