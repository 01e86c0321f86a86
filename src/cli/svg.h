/* Writing the library's SVG plots (sim/ttr_sim.h: ttr_svg_*) to files. */
#ifndef TTR_CLI_SVG_H
#define TTR_CLI_SVG_H

#include <stddef.h>

/* Write `len` bytes to `path` atomically (a temporary file, then rename).
 * 0 or -1 with errno set. */
int ttr_cli_write_file(const char *path, const char *data, size_t len);
/* mkdir -p of one level (an existing directory is fine). 0 or -1. */
int ttr_cli_ensure_dir(const char *dir);

#endif
