/* PLACEHOLDER main: replaced by the command-line tool. */
#include <stdio.h>

#include "ttr_kernels.h"

int main(void)
{
    printf("ttrank: path %s\n", ttr_cpu_path_name(ttr_cpu_flags()));
    return 0;
}
