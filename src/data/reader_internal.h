/* Private to src/data/: what the reader's files share. */
#ifndef TTR_DATA_READER_INTERNAL_H
#define TTR_DATA_READER_INTERNAL_H

#include "ttr_data.h"

/* Record an error in r (code, whether in the groups file, line, column,
 * message) and return code. */
int ttr__reader_fail(ttr_reader *r, int code, int in_groups, unsigned long line,
                     unsigned long col, const char *msg);
/* An error at byte `at` of the current data line starting at `ls`. */
int ttr__reader_fail_at(ttr_reader *r, int code, const char *ls, const char *at,
                        const char *msg);

/* Start splitting the source into lines. 0 or a ttr_error. */
int ttr__lines_init(ttr__lines *s, const ttr_source *in);
/* The next line of s into *lp (without its end of line), *llen bytes: 1, 0
 * at the end, or a ttr_error recorded in r. */
int ttr__next_line(ttr_reader *r, ttr__lines *s, int in_groups, const char **lp, size_t *llen);

#endif
