/* Shared helpers of the ttrank commands (src/cli/cmd_*.c): GNU-style flag
 * parsing, one-line errors, progress on a terminal, and LETOR / click-log
 * input through the streaming readers of ttr_data.h.
 *
 * This header includes ttr_data.h; model files (ttr_io.h) are reached only
 * through cmd_model.h, so no file includes both. */
#ifndef TTR_CLI_CMD_UTIL_H
#define TTR_CLI_CMD_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ttr_data.h"
#include "ttrank.h"

/* ---- flags ----------------------------------------------------------------
 * A command's options are a table indexed by an enum of the command
 * (fl[TR_EPOCHS] = {"--epochs", 1, ...}): the name is written once, in the
 * table; code reads fl[ID].seen and passes &fl[ID] to the helpers below, so
 * a mistyped option is a compile error, not a look-up that finds nothing. */
typedef struct cli_flag {
    const char *name;  /* "--lists" */
    int has_arg;       /* 1: takes a value (--f V or --f=V) */
    const char *val;   /* filled: the value (has_arg) */
    int seen;          /* filled: how many times given */
} cli_flag;

/* Parse argv[1..argc-1] against flags (-h/--help always known). Positional
 * arguments go to pos (at most max_pos). Returns 0 ok, 1 help asked (caller
 * prints usage to stdout and exits 0), 2 usage error (printed). */
int cli_parse(const char *cmd, int argc, char **argv, cli_flag *flags, size_t n_flags,
              const char **pos, size_t max_pos, size_t *n_pos);
/* Value of a flag or `def` when not given. */
const char *cli_str(const cli_flag *f, const char *def);
/* Typed values: 0 ok (or flag absent: *v untouched), 2 after printing an error. */
/* A decimal unsigned integer, the whole string (no sign, no blanks): 0, or
 * -1 when s is not one or does not fit. */
int cli_parse_u64(const char *s, uint64_t *v);
int cli_u64(const char *cmd, const cli_flag *f, uint64_t lo, uint64_t hi, uint64_t *v);
int cli_u32(const char *cmd, const cli_flag *f, uint32_t lo, uint32_t hi, uint32_t *v);
int cli_float(const char *cmd, const cli_flag *f, double lo, double hi, float *v);
/* "RxC" */
int cli_grid(const char *cmd, const char *s, uint32_t *rows, uint32_t *cols);
/* Comma-separated unsigned list ("64,32"); returns the count or -1. */
int cli_u32_list(const char *s, uint32_t *out, int max);

/* One line on stderr: "ttrank CMD: message". Returns 1. */
int cli_err(const char *cmd, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Requires a flag; prints "--NAME is required" and returns 2 when absent. */
int cli_need(const char *cmd, const cli_flag *f);

/* ---- progress (stderr: redrawn on a terminal, a line every 30 s in a log) ---- */
typedef struct cli_progress {
    int tty;
    double t0, last, every; /* every: seconds between lines (TTRANK_PROGRESS_EVERY) */
} cli_progress;
double cli_now(void);
void cli_progress_start(cli_progress *p);
void cli_progress_update(cli_progress *p, const char *what, double done);
void cli_progress_end(cli_progress *p);

/* ---- input files ---------------------------------------------------------------- */
#define CLI_LINE_BUF (1u << 20) /* longest accepted line: 1 MiB */

/* A LETOR stream (callback source; .query file optional). */
typedef struct cli_letor_in {
    const char *cmd, *path, *qpath;
    FILE *f, *q;
    char *buf, *qbuf;
    ttr_source src, grp;
    ttr_reader r;
} cli_letor_in;

/* The .query file to use for `path`: `given` if not NULL, else path.query if
 * it exists (written to buf), else NULL. */
const char *cli_query_path(const char *path, const char *given, char *buf, size_t cap);
/* Open: n_features 0 = scan mode; max_items as ttr_reader_config. Prints the
 * error and returns 1 on failure. */
int cli_letor_open(cli_letor_in *in, const char *cmd, const char *path, const char *qpath,
                   uint32_t n_features, uint32_t max_items);
/* ttr_reader_next; on error prints `ttrank CMD: file:line:col: msg`. */
int cli_letor_next(cli_letor_in *in, ttr_list *l);
void cli_letor_close(cli_letor_in *in);

/* A click log stream. */
typedef struct cli_clicks_in {
    const char *cmd, *path;
    FILE *f;
    char *buf;
    ttr_source src;
    ttr_reader r;
} cli_clicks_in;
int cli_clicks_open(cli_clicks_in *in, const char *cmd, const char *path,
                    const ttr_reader_config *cfg);
int cli_clicks_next(cli_clicks_in *in, ttr_list *l);
/* Reports the reader's current error (file:line:col) and returns 1. */
int cli_clicks_error(cli_clicks_in *in);
void cli_clicks_close(cli_clicks_in *in);

/* A whole LETOR file in memory. */
typedef struct cli_letor {
    size_t n_lists, n_items, max_list;
    uint32_t n_features;
    float max_label;
    size_t *offsets;  /* n_lists + 1 */
    float *x;         /* n_items x n_features */
    uint8_t *labels;  /* n_items (label rounded to an integer) */
} cli_letor;
/* n_features 0: take the largest index in the file. Returns 0 or 1 (printed). */
int cli_letor_load(const char *cmd, const char *path, const char *qpath, uint32_t n_features,
                   cli_letor *out);
void cli_letor_free(cli_letor *d);

/* NDCG@1/3/5/10 and MRR of a model's relevance scores on a loaded LETOR set.
 * Returns 0 or a ttr error. */
#include "ttr_metrics.h"
int cli_rank_metrics(ttr_model *m, const cli_letor *d, ttr_rank_metrics *out);

const char *cli_variant_name(ttr_variant v);
int cli_variant_parse(const char *s, ttr_variant *v);

#endif
