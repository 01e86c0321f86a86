/* Private: CPU detection state shared by cpu.c and the dispatch table. */
#ifndef TTR_SRC_CPU_H
#define TTR_SRC_CPU_H

#include "ttr_kernels.h"

/* Replace the mask without rebuilding the kernel table (kernels.c does that). */
void ttr__cpu_set_mask(unsigned mask);

#endif
