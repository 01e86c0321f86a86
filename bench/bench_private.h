/* Private to bench/: the options, the kernel cases and the machine
 * description shared by the files of `ttrank bench`. */
#ifndef TTR_BENCH_PRIVATE_H
#define TTR_BENCH_PRIVATE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ttr_kernels.h"
#include "ttrank.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define B_MAX_CASES 64
#define B_MAX_PATHS 8 /* at least as many as ttr_cpu_path lists */

/* ------------------------------------------------------------------------
 * Options
 * ------------------------------------------------------------------------ */

typedef struct bopts {
    int json;
    int quick;
    int list;
    int isa_given;
    unsigned isa_mask;          /* with isa_given: the only mask reported */
    long reps;                  /* > 0: fixed calls per sample */
    int samples;
    double min_time_ns;
    const char *kernels;        /* comma-separated names, or NULL for all */
    int cpu_clock;              /* --clock cpu: CLOCK_THREAD_CPUTIME_ID */
} bopts;

/* ------------------------------------------------------------------------
 * Kernels, shapes and their buffers
 * ------------------------------------------------------------------------ */

enum bfam { F_GEMV, F_GEMM, F_BWD, F_QUANT, F_GEMV8, F_GEMM8, F_ATTN, F_VEC, F_TRAIN, F_SCORE,
            F_RATIO };

/* One shape. Dense layers: m outputs x k inputs, batch vectors. Attention:
 * k = list items (m = k), d = width of q, k and v. Quantize and vectors:
 * k elements per row, batch rows (m = 1). */
typedef struct bshape {
    size_t m, k, batch, d;
} bshape;

/* The buffers of one (kernel, shape); unused pointers stay NULL. */
typedef struct bctx {
    bshape s;
    float *w, *packed, *x, *b, *y, *dy, *dx, *dw, *xscale, *wscale;
    int8_t *w8, *packed8, *q8;
    float *qa, *ka, *va, *p, *out, *dout, *dp, *dp0, *dv, *dq, *dk;
    float attn_scale;
    int toggle;
    /* whole-model cases: the reference configuration (46 features, relevance
     * 64-32, lists of 10 items) */
    void *arena, *serve_arena, *s8_arena;
    ttr_model *model, *serve, *serve8; /* serve8: int8 copy (score_s8, score_ratio) */
    ttr_batch batch;
    size_t offsets[17];
    uint16_t *slots;
    uint8_t *clicks;
} bctx;

typedef void (*brun_fn)(bctx *c);

typedef struct bkernel {
    const char *name;
    int id, id2;    /* ttr_kernel_id, and a second one for attn_fwd (else -1) */
    enum bfam fam;
    brun_fn run;
} bkernel;

/* ---- the cases (bench_cases.c) ---- */
extern const bkernel g_bench_kernels[];
extern const size_t g_bench_nkernels;
/* The shapes of a kernel family into out (at most B_MAX_CASES); their number. */
int bench_make_shapes(enum bfam fam, bshape *out);
/* The buffers (and models) of one case: 0, or -1 when out of memory. */
int bench_ctx_setup(bctx *c, const bkernel *kd, const bshape *s);
void bench_ctx_free(bctx *c);
/* Read a result so that no call can be optimised away. */
void bench_ctx_sink(const bctx *c);
/* FLOPs, bytes moved and items of one call of a case. */
void bench_metrics(const bkernel *kd, const bshape *s, double *flops, double *bytes,
                   double *items);
/* Calls the harness names: the two scoring cases of score_ratio, and the
 * attention backward with what undoes its in-place write (timed apart). */
void bench_run_score(bctx *c);
void bench_run_score_s8(bctx *c);
void bench_run_attn_probs_bwd(bctx *c);
void bench_run_restore_dp(bctx *c);
void bench_shape_text(const bkernel *kd, const bshape *s, char *buf, size_t len);
/* The arena bytes of the reference configuration per variant. */
void bench_print_arena(const bopts *o);

/* ---- the machine (bench_cpu.c) ---- */
void bench_cpu_name(char *out, size_t len);
const char *bench_arch_name(void);
double bench_load_average(void);
void bench_compiler_name(char *out, size_t len);

/* `--loop`: the on-device loop against plain training (bench_loop.c). */
int bench_loop(const bopts *o);

#endif
