/* `ttrank bench`: time every kernel of ttr_kernels.h on every ISA path this
 * CPU supports, over the shapes of the ranking towers and the attention layer.
 *
 * For each (kernel, shape) the scalar reference is timed first, then the
 * same call under each faster mask of the CPU's ladder (avx2, avxvnni on x86;
 * neon, neonfma, neondot on ARM), skipping a mask whose path for that kernel was
 * already timed; "speedup" compares with the scalar time of the same run.
 *
 * A measurement: one warm-up call, then the number of calls per sample R is
 * calibrated so that one sample lasts >= --min-time (50 us); then S samples
 * (21) of R back-to-back calls are timed with clock_gettime(CLOCK_MONOTONIC;
 * --clock cpu: the thread's CPU time) and "ns" is the median of sample time / R. The buffers are allocated once
 * per (kernel, shape), 64-byte aligned, filled with deterministic
 * pseudo-random data, and stay warm in cache between calls.
 *
 * This file is compiled for the target's baseline (no ISA flags): it only
 * calls the public kernels, which dispatch at run time. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "bench_private.h"
#include "cli/cmd_util.h"
#include "ttr_kernels.h"
#include "ttrank.h"

#define B_DEFAULT_SAMPLES 21
#define B_MIN_SAMPLES 7           /* fewest samples kept when a call is slow */
#define B_DEFAULT_MIN_TIME_US 50.0
#define B_BUDGET_NS 1e9           /* target wall time of one measurement */
#define B_ISA_LEN 32

/* ------------------------------------------------------------------------
 * The ISA paths: the library's list (ttr_cpu_path), lowest first
 * ------------------------------------------------------------------------ */

static const char *path_name(size_t i)
{
    return ttr_cpu_path(i, NULL);
}

static unsigned path_mask(size_t i)
{
    unsigned m = 0;
    ttr_cpu_path(i, &m);
    return m;
}

/* Path i exists and this CPU runs it. */
static int path_supported(size_t i)
{
    unsigned m;
    return ttr_cpu_path(i, &m) && (m & ttr_cpu_detected()) == m;
}

/* ------------------------------------------------------------------------
 * Output
 * ------------------------------------------------------------------------ */

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

static void print_header(const bopts *o)
{
    char cpu[256], cc[128];
    unsigned det = ttr_cpu_detected();
    double load = bench_load_average();
    static const struct {
        unsigned bit;
        const char *name;
    } feat[] = {
        {TTR_CPU_AVX2, "avx2"},
        {TTR_CPU_AVXVNNI, "avxvnni"},
        {TTR_CPU_NEON, "neon"},
        {TTR_CPU_NEON_FMA, "neonfma"},
        {TTR_CPU_NEON_DOT, "neondot"},
    };
    bench_cpu_name(cpu, sizeof cpu);
    bench_compiler_name(cc, sizeof cc);
    if (o->json) {
        int first = 1;
        printf("{\"cpu\":");
        json_string(stdout, cpu);
        printf(",\"arch\":\"%s\",\"features\":[", bench_arch_name());
        for (size_t i = 0; i < NELEM(feat); i++)
            if (det & feat[i].bit) {
                printf("%s\"%s\"", first ? "" : ",", feat[i].name);
                first = 0;
            }
        printf("],\"detected\":%u,\"paths\":[", det);
        first = 1;
        for (size_t i = 0; i < B_MAX_PATHS; i++)
            if (path_supported(i)) {
                printf("%s\"%s\"", first ? "" : ",", path_name(i));
                first = 0;
            }
        printf("],\"compiler\":");
        json_string(stdout, cc);
        printf(",\"samples\":%d,\"min_time_us\":%.1f,\"reps\":%ld,\"quick\":%s", o->samples,
               o->min_time_ns / 1e3, o->reps, o->quick ? "true" : "false");
        if (load >= 0.0)
            printf(",\"loadavg\":%.2f", load);
        printf(",\"clock\":\"%s\"}\n", o->cpu_clock ? "cpu" : "monotonic");
    } else {
        printf("# ttrank bench | cpu: %s | arch: %s | features:", cpu, bench_arch_name());
        int any = 0;
        for (size_t i = 0; i < NELEM(feat); i++)
            if (det & feat[i].bit) {
                printf(" %s", feat[i].name);
                any = 1;
            }
        printf("%s | compiler: %s", any ? "" : " none", cc);
        if (load >= 0.0)
            printf(" | load: %.2f", load);
        printf("\n");
        if (o->reps > 0)
            printf("# ns: median over %d samples of %ld call%s each", o->samples, o->reps,
                   o->reps == 1 ? "" : "s");
        else
            printf("# ns: median over %d samples of >= %.0f us each", o->samples,
                   o->min_time_ns / 1e3);
        printf(", per call, warm cache%s; speedup = scalar ns / ns (same run)%s\n",
               o->cpu_clock ? ", thread CPU time" : "", o->quick ? "; --quick: smoke test only" : "");
        printf("%-15s %-12s %-14s %12s %9s %8s %8s\n", "kernel", "isa", "shape", "ns/call",
               "GFLOP/s", "GB/s", "speedup");
    }
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (!o->quick && ncpu > 0 && load >= (double)ncpu) {
        fflush(stdout);
        fprintf(stderr, "ttrank bench: warning: load average %.2f on %ld CPUs: other work skews "
                        "the times\n",
                load, ncpu);
    }
    fflush(stdout);
}

static void print_row(const bopts *o, const bkernel *kd, const bshape *s, const char *isa,
                      const char *mask, double ns, double speedup, long reps, int samples)
{
    double flops, bytes, items;
    bench_metrics(kd, s, &flops, &bytes, &items);
    if (o->json) {
        printf("{\"kernel\":\"%s\",\"isa\":\"%s\",\"m\":%zu,\"n\":%zu,\"batch\":%zu,\"ns\":%.1f",
               kd->name, isa, s->m, s->k, s->batch, ns);
        if (flops > 0)
            printf(",\"gflops\":%.3f", flops / ns);
        if (kd->fam == F_ATTN)
            printf(",\"d\":%zu", s->d);
        printf(",\"gbps\":%.3f,\"items\":%.0f,\"speedup\":%.2f,\"mask\":\"%s\",\"reps\":%ld,"
               "\"samples\":%d}\n",
               bytes / ns, items, speedup, mask, reps, samples);
    } else {
        char shape[48], gf[16];
        bench_shape_text(kd, s, shape, sizeof shape);
        if (flops > 0)
            snprintf(gf, sizeof gf, "%9.2f", flops / ns);
        else
            snprintf(gf, sizeof gf, "%9s", "-");
        printf("%-15s %-12s %-14s %12.1f %s %8.2f %8.2f\n", kd->name, isa, shape, ns, gf,
               bytes / ns, speedup);
    }
    fflush(stdout);
}

/* ------------------------------------------------------------------------
 * Timing
 * ------------------------------------------------------------------------ */

static clockid_t g_clock = CLOCK_MONOTONIC;

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(g_clock, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static double time_reps(brun_fn fn, bctx *c, long reps)
{
    double t0 = now_ns();
    for (long r = 0; r < reps; r++)
        fn(c);
    return now_ns() - t0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median ns of one call of fn; stores the calls per sample and samples used. */
static double measure(brun_fn fn, bctx *c, const bopts *o, long *reps_out, int *samples_out)
{
    double t[256];
    long reps = o->reps;
    double per_sample;
    fn(c); /* warm-up: caches, branch predictors, page faults */
    if (reps > 0) {
        per_sample = time_reps(fn, c, reps);
    } else {
        reps = 1;
        for (;;) {
            per_sample = time_reps(fn, c, reps);
            if (per_sample >= o->min_time_ns || reps >= (1L << 28))
                break;
            double grow = 1.25 * o->min_time_ns / (per_sample > 1.0 ? per_sample : 1.0);
            long next = grow > 100.0 ? reps * 100 : (long)((double)reps * grow) + 1;
            reps = next > reps ? next : reps + 1;
        }
    }
    int samples = o->samples;
    if (per_sample * samples > B_BUDGET_NS && samples > B_MIN_SAMPLES) {
        int fit = (int)(B_BUDGET_NS / (per_sample > 1.0 ? per_sample : 1.0));
        samples = fit > B_MIN_SAMPLES ? fit : B_MIN_SAMPLES;
    }
    for (int i = 0; i < samples; i++)
        t[i] = time_reps(fn, c, reps) / (double)reps;
    qsort(t, (size_t)samples, sizeof t[0], cmp_double);
    *reps_out = reps;
    *samples_out = samples;
    double med = samples % 2 ? t[samples / 2] : 0.5 * (t[samples / 2 - 1] + t[samples / 2]);
    return med > 1e-3 ? med : 1e-3; /* a coarse clock can read 0: keep the rates finite */
}

/* The path of a kernel under the current mask ("a+b" when attn_fwd's two
 * kernels run different paths). */
static void kernel_isa(const bkernel *kd, char *buf, size_t len)
{
    const char *a = ttr_kernel_isa((ttr_kernel_id)kd->id);
    const char *b = kd->id2 >= 0 ? ttr_kernel_isa((ttr_kernel_id)kd->id2) : NULL;
    if (!a)
        a = "?";
    if (b && strcmp(a, b))
        snprintf(buf, len, "%s+%s", a, b);
    else
        snprintf(buf, len, "%s", a);
}

/* score_ratio: per path of the ladder, ttr_score of the same items with the
 * f32 serving copy and with the int8 copy, their samples interleaved (f32,
 * int8, f32, ...) so that both see the same machine; one row per path with
 * both medians and f32 / int8. */
static int bench_ratio(const bopts *o, const bkernel *kd, const bshape *s)
{
    bctx c;
    char shape[48];
    if (bench_ctx_setup(&c, kd, s) != 0)
        return -1;
    bench_shape_text(kd, s, shape, sizeof shape);
    for (size_t li = 0; li < B_MAX_PATHS; li++) {
        if (!path_supported(li) || (o->isa_given && path_mask(li) != o->isa_mask))
            continue;
        ttr_set_cpu_mask(path_mask(li));
        double tf[256], tq[256];
        long rf, rq;
        int nf, nq;
        /* calibrate each, then interleave samples with the calibrated counts */
        (void)measure(bench_run_score, &c, o, &rf, &nf);
        (void)measure(bench_run_score_s8, &c, o, &rq, &nq);
        int ns = nf < nq ? nf : nq;
        for (int i = 0; i < ns; i++) {
            tf[i] = time_reps(bench_run_score, &c, rf) / (double)rf;
            tq[i] = time_reps(bench_run_score_s8, &c, rq) / (double)rq;
        }
        qsort(tf, (size_t)ns, sizeof tf[0], cmp_double);
        qsort(tq, (size_t)ns, sizeof tq[0], cmp_double);
        double mf = ns % 2 ? tf[ns / 2] : 0.5 * (tf[ns / 2 - 1] + tf[ns / 2]);
        double mq = ns % 2 ? tq[ns / 2] : 0.5 * (tq[ns / 2 - 1] + tq[ns / 2]);
        const char *isa = ttr_kernel_isa(TTR_K_GEMM_S8_RELU_Q);
        if (o->json)
            printf("{\"kernel\":\"%s\",\"isa\":\"%s\",\"m\":%zu,\"n\":%zu,\"batch\":%zu,"
                   "\"folded\":%d,\"f32_ns\":%.1f,\"s8_ns\":%.1f,\"ratio\":%.3f,\"mask\":\"%s\","
                   "\"samples\":%d}\n",
                   kd->name, isa, s->m, s->k, s->batch, s->d ? 1 : 0, mf, mq, mf / mq,
                   path_name(li), ns);
        else
            printf("%-15s %-12s %-14s f32 %10.1f ns  int8 %10.1f ns  f32/int8 %5.2f\n", kd->name,
                   isa, shape, mf, mq, mf / mq);
        fflush(stdout);
    }
    bench_ctx_sink(&c);
    bench_ctx_free(&c);
    return 0;
}

/* One (kernel, shape) on every selected mask. Returns 0, or -1 on OOM. */
static int bench_case(const bopts *o, const bkernel *kd, const bshape *s)
{
    if (kd->fam == F_RATIO)
        return bench_ratio(o, kd, s);
    bctx c;
    char isas[B_MAX_PATHS][B_ISA_LEN];
    double isa_ns[B_MAX_PATHS];
    long isa_reps[B_MAX_PATHS];
    int isa_samples[B_MAX_PATHS];
    int nisa = 0;
    double scalar_ns = 0.0, restore_ns = 0.0;

    if (bench_ctx_setup(&c, kd, s) != 0)
        return -1;
    if (kd->run == bench_run_attn_probs_bwd) {
        long r;
        int n;
        restore_ns = measure(bench_run_restore_dp, &c, o, &r, &n);
    }
    for (size_t li = 0; li < B_MAX_PATHS; li++) {
        if (!path_supported(li))
            continue;
        int report = !o->isa_given || path_mask(li) == o->isa_mask;
        if (li != 0 && !report)
            continue; /* the scalar reference is always timed, for "speedup" */
        char isa[B_ISA_LEN];
        ttr_set_cpu_mask(path_mask(li));
        kernel_isa(kd, isa, sizeof isa);
        int seen = -1;
        for (int i = 0; i < nisa; i++)
            if (!strcmp(isas[i], isa))
                seen = i;
        if (seen >= 0 && !o->isa_given)
            continue; /* same path as a lower mask: nothing new to time */
        if (seen < 0) {
            double ns = measure(kd->run, &c, o, &isa_reps[nisa], &isa_samples[nisa]);
            if (restore_ns > 0.0) {
                /* keep at least 1% of the raw time: never 0 or negative */
                ns = ns - restore_ns > 0.01 * ns ? ns - restore_ns : 0.01 * ns;
            }
            snprintf(isas[nisa], B_ISA_LEN, "%s", isa);
            isa_ns[nisa] = ns;
            seen = nisa++;
        }
        if (li == 0)
            scalar_ns = isa_ns[seen];
        if (report)
            print_row(o, kd, s, isa, path_name(li), isa_ns[seen],
                      isa_ns[seen] > 0.0 ? scalar_ns / isa_ns[seen] : 0.0, isa_reps[seen],
                      isa_samples[seen]);
    }
    bench_ctx_sink(&c);
    bench_ctx_free(&c);
    return 0;
}

/* ------------------------------------------------------------------------
 * Command line
 * ------------------------------------------------------------------------ */

static void usage(FILE *f)
{
    fputs(
        "Usage: ttrank bench [OPTIONS]\n"
        "\n"
        "Time the numeric kernels (ttr_kernels.h) on this CPU: every kernel, on every ISA\n"
        "path the CPU supports, over the shapes of the ranking towers and the attention\n"
        "layer. Each kernel and shape is timed on the scalar reference first, then under\n"
        "each faster CPU mask (x86: avx2, avxvnni; ARM: neon, neonfma, neondot); a mask\n"
        "whose path for that kernel was already timed is skipped. Single-threaded; the\n"
        "bench sets the CPU mask itself (TTR_CPU_MASK is ignored: use --isa).\n"
        "\n"
        "Options:\n"
        "  --json             one JSON object per line instead of the table: first a\n"
        "                     header {\"cpu\",\"arch\",\"features\",\"detected\",\"paths\",\n"
        "                     \"compiler\",\"loadavg\",...}, then one line per kernel,\n"
        "                     shape and path (rows have a \"kernel\" field, the header not)\n"
        "  --isa NAME         report only the mask NAME: scalar, avx2, avxvnni, neon,\n"
        "                     neonfma or neondot (must be supported by this CPU). The\n"
        "                     scalar reference is still timed for \"speedup\"; a kernel\n"
        "                     without a NAME path shows the path it falls back to under\n"
        "                     that mask.\n"
        "  --kernel LIST      only these kernels (comma-separated, see below)\n"
        "  --quick            smoke test (e.g. under qemu, where times mean nothing): the\n"
        "                     two smallest shapes per kernel, 3 samples of 1 call\n"
        "  --reps N           N calls per sample (default: calibrated by --min-time)\n"
        "  --samples N        samples per measurement, 1..255 (default 21; fewer, but at\n"
        "                     least 7, when one measurement would take over 1 s)\n"
        "  --min-time US      calls per sample calibrated so that a sample lasts at least\n"
        "                     US microseconds (default 50)\n"
        "  --clock CLOCK      monotonic (default): wall time, CLOCK_MONOTONIC; cpu: this\n"
        "                     thread's CPU time (CLOCK_THREAD_CPUTIME_ID), which leaves\n"
        "                     out the time other processes hold the core (busy machines)\n"
        "  --list             print the kernels and shapes that would run, and exit\n"
        "  --loop             the on-device loop instead: ttr_loop_observe per impression\n"
        "                     against ttr_train of one list, the promotion copy amortised,\n"
        "                     the loop's bytes (reference configuration, every variant)\n"
        "  -h, --help         print this help and exit\n"
        "\n"
        "Kernels (dense layers: m outputs x n inputs, batch vectors per call):\n"
        "  gemv_f32         ttr_gemv_f32: packed W, bias, ReLU; batch 1\n"
        "  gemm_f32         ttr_gemm_f32: the same for batch 10, 100, 200 (list sizes)\n"
        "  backprop_in_f32  ttr_backprop_input_f32: dX = dY W (overwrite); batch 10, 100\n"
        "  outer_acc_f32    ttr_outer_acc_f32: dW += dY^T X; batch 10, 100\n"
        "  quantize_s8      ttr_quantize_s8: batch rows (1, 100) of n floats (m = 1)\n"
        "  quantize_norm_s8 ttr_quantize_norm_s8: the same rows, normalised on the way\n"
        "  gemv_s8          ttr_gemv_s8: packed int8 W, bias, ReLU; batch 1\n"
        "  gemm_s8          ttr_gemm_s8: the same for batch 10, 100, 200\n"
        "  gemm_s8_relu_q   ttr_gemm_s8_relu_q: the same shapes, int8 output\n"
        "  attn_probs       ttr_attn_probs_f32: scores + softmax, no key mask\n"
        "  attn_apply       ttr_attn_apply_f32: P V\n"
        "  attn_fwd         attn_probs then attn_apply (isa \"a+b\" if they differ)\n"
        "  attn_apply_bwd   ttr_attn_apply_bwd_f32: dP += dOut V^T, dV += P^T dOut\n"
        "  attn_probs_bwd   ttr_attn_probs_bwd_f32: dS, dQ, dK. It overwrites its dP\n"
        "                   input, so each call is preceded by a copy restoring dP; the\n"
        "                   copy is timed on its own and its median subtracted.\n"
        "                   (attention: m = n = list items 10..200, d = width of q, k, v\n"
        "                   8, 16, 32)\n"
        "  vexp, vsigmoid, vsoftplus   element-wise on n floats in [-8, 8]\n"
        "  relu_bwd, axpy, scale, dot  the other vector helpers (n = 64..4096, m = 1)\n"
        "  adam, momentum        optimizer steps over n parameters\n"
        "  train_naive, train_additive, train_pal, train_dot, train_mixem, train_xpa\n"
        "                        one ttr_train step on 1 or 16 lists of 10 items, reference\n"
        "                        configuration (46 features, relevance 64-32); lists/s = batch/ns\n"
        "  score_f32             ttr_score of 1, 10, 100 items with a serving copy; features\n"
        "                        in [0, 1) (LETOR-like), normalisation mean 0.5, scale\n"
        "                        sqrt(12) (what training would set)\n"
        "  score_s8              the same with its int8 copy (ttr_model_quantize), which\n"
        "                        keeps the normalisation: its first layer reads signed values\n"
        "  score_ratio           score_f32 and score_s8 of 100 items, samples interleaved,\n"
        "                        one row per path: both medians and f32/int8; then the same\n"
        "                        with the int8 copy of the serving copy (\"fold\": the\n"
        "                        normalisation folded into layer 0, ttrank quantize --fold)\n"
        "  arena                 arena bytes per variant (train, serve_f32, serve_s8), no timing\n"
        "\n"
        "Timing: one warm-up call, then the calls per sample R are calibrated (unless\n"
        "--reps) so that a sample lasts >= --min-time; each sample times R back-to-back\n"
        "calls with clock_gettime(CLOCK_MONOTONIC, or see --clock) on the same 64-byte\n"
        "aligned buffers (deterministic pseudo-random data, warm cache). ns = median\n"
        "over the samples of sample time / R: the time of one call.\n"
        "\n"
        "Columns and JSON fields:\n"
        "  kernel, isa      kernel name; its path (ttr_kernel_isa()) under the mask\n"
        "  m, n, batch      shape as above; \"d\" too for attention kernels\n"
        "  ns               median time of one call, in nanoseconds\n"
        "  gflops           GFLOP/s, counting 2 flops per multiply-add of the matrix\n"
        "                   products only: 2*m*n*batch for dense layers (int8 operations,\n"
        "                   i.e. GOP/s, for gemv_s8/gemm_s8), 2*n*n*d per attention\n"
        "                   product (probs 1, apply 1, fwd 2, apply_bwd 2, probs_bwd 2;\n"
        "                   softmax not counted), 2n for axpy and dot, n for scale.\n"
        "                   Omitted (\"-\" in the table) for quantize_s8(_norm), vexp, vsigmoid,\n"
        "                   vsoftplus and relu_bwd, where flops mean nothing.\n"
        "  gbps             GB/s: bytes one call must move (inputs read once, outputs\n"
        "                   written once, accumulated outputs read and written) / ns.\n"
        "                   Data stay in cache between calls: not DRAM bandwidth.\n"
        "  items            per call: vectors (dense layers), list items (attention),\n"
        "                   elements (quantize_s8: batch*n; vector helpers: n)\n"
        "  speedup          scalar ns / ns, same kernel and shape, same run\n"
        "  mask             JSON only: the mask the row was timed under\n"
        "  reps, samples    JSON only: calls per sample and samples taken\n",
        f);
}

/* "--name VALUE" or "--name=VALUE". Returns 1 and sets *val when arg is the
 * option (*val NULL if its value is missing), 0 otherwise. */
static const bkernel *find_kernel(const char *name, size_t len)
{
    for (size_t i = 0; i < g_bench_nkernels; i++)
        if (strlen(g_bench_kernels[i].name) == len && !strncmp(g_bench_kernels[i].name, name, len))
            return &g_bench_kernels[i];
    return NULL;
}

/* Is kernel kd in the comma-separated list (NULL: all)? */
static int kernel_selected(const char *list, const bkernel *kd)
{
    if (!list)
        return 1;
    size_t n = strlen(kd->name);
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, ",");
        if (len == n && !strncmp(p, kd->name, n))
            return 1;
        p += len;
        if (*p == ',')
            p++;
    }
    return 0;
}

static int check_kernel_list(const char *list)
{
    for (const char *p = list;;) {
        size_t len = strcspn(p, ",");
        if (!find_kernel(p, len) && !(len == 5 && !strncmp(p, "arena", 5))) {
            fprintf(stderr, "ttrank bench: unknown kernel '%.*s' (valid:", (int)len, p);
            for (size_t i = 0; i < g_bench_nkernels; i++)
                fprintf(stderr, " %s", g_bench_kernels[i].name);
            fprintf(stderr, ")\n");
            return -1;
        }
        p += len;
        if (!*p)
            return 0;
        p++;
    }
}

/* --isa NAME: a path name of the library's list (or an alias that
 * ttr_parse_cpu_mask takes for one) that this CPU runs. */
static int parse_isa(const char *name, unsigned *mask)
{
    size_t i;
    unsigned m;
    if (ttr_parse_cpu_mask(name, &m) != TTR_OK)
        m = ~0u;
    for (i = 0; path_name(i) && path_mask(i) != m; i++) {
    }
    if (!path_name(i) || (name[0] >= '0' && name[0] <= '9')) {
        fprintf(stderr, "ttrank bench: unknown ISA path '%s' (", name);
        for (size_t j = 0; path_name(j); j++)
            fprintf(stderr, "%s%s", j ? ", " : "", path_name(j));
        fprintf(stderr, ")\n");
        return 2;
    }
    if (!path_supported(i)) {
        fprintf(stderr, "ttrank bench: ISA path '%s' is not available on this CPU (available:",
                name);
        for (size_t j = 0; path_name(j); j++)
            if (path_supported(j))
                fprintf(stderr, " %s", path_name(j));
        fprintf(stderr, ")\n");
        return 1;
    }
    *mask = m;
    return 0;
}

static void list_cases(const bopts *o)
{
    bshape shapes[B_MAX_CASES];
    for (size_t ki = 0; ki < g_bench_nkernels; ki++) {
        const bkernel *kd = &g_bench_kernels[ki];
        if (!kernel_selected(o->kernels, kd))
            continue;
        int n = bench_make_shapes(kd->fam, shapes);
        if (o->quick && n > 2)
            n = 2;
        printf("%-15s", kd->name);
        for (int i = 0; i < n; i++) {
            char shape[48];
            bench_shape_text(kd, &shapes[i], shape, sizeof shape);
            printf("%s%s", i ? ", " : " ", shape);
        }
        printf("\n");
    }
}

int ttr_bench_main(int argc, char **argv)
{
    enum {
        B_JSON, B_QUICK, B_LIST, B_ISA, B_KERNEL, B_CLOCK, B_REPS, B_SAMPLES, B_MIN_TIME, B_LOOP,
        B_COUNT
    };
    cli_flag fl[B_COUNT] = {
        [B_JSON] = {"--json", 0, 0, 0},      [B_QUICK] = {"--quick", 0, 0, 0},
        [B_LIST] = {"--list", 0, 0, 0},      [B_ISA] = {"--isa", 1, 0, 0},
        [B_KERNEL] = {"--kernel", 1, 0, 0},  [B_CLOCK] = {"--clock", 1, 0, 0},
        [B_REPS] = {"--reps", 1, 0, 0},      [B_SAMPLES] = {"--samples", 1, 0, 0},
        [B_MIN_TIME] = {"--min-time", 1, 0, 0}, [B_LOOP] = {"--loop", 0, 0, 0},
    };
    bopts o;
    memset(&o, 0, sizeof o);
    o.samples = B_DEFAULT_SAMPLES;
    o.min_time_ns = B_DEFAULT_MIN_TIME_US * 1e3;
    int rc = cli_parse("bench", argc, argv, fl, B_COUNT, NULL, 0, NULL);
    if (rc == 1) {
        usage(stdout);
        return 0;
    }
    uint64_t reps = 0, samples = (uint64_t)o.samples;
    uint64_t min_time_us = (uint64_t)B_DEFAULT_MIN_TIME_US;
    if (rc || cli_u64("bench", &fl[B_REPS], 1, 1u << 30, &reps) ||
        cli_u64("bench", &fl[B_SAMPLES], 1, 255, &samples) ||
        cli_u64("bench", &fl[B_MIN_TIME], 0, 10000000, &min_time_us))
        return 2;
    o.json = fl[B_JSON].seen;
    o.quick = fl[B_QUICK].seen;
    o.list = fl[B_LIST].seen;
    o.reps = (long)reps;
    o.samples = (int)samples;
    o.min_time_ns = (double)min_time_us * 1e3;
    const char *clock = cli_str(&fl[B_CLOCK], "monotonic");
    if (strcmp(clock, "monotonic") && strcmp(clock, "cpu"))
        return cli_err("bench", "--clock: expected monotonic or cpu, got '%s'", clock), 2;
    o.cpu_clock = !strcmp(clock, "cpu");
    if (fl[B_ISA].seen) {
        int irc = parse_isa(fl[B_ISA].val, &o.isa_mask);
        if (irc)
            return irc;
        o.isa_given = 1;
    }
    if (fl[B_KERNEL].seen) {
        if (check_kernel_list(fl[B_KERNEL].val))
            return 2;
        o.kernels = fl[B_KERNEL].val;
    }
    int samples_given = fl[B_SAMPLES].seen, min_time_given = fl[B_MIN_TIME].seen;
    if (o.quick) {
        if (!samples_given)
            o.samples = 3;
        if (!min_time_given && o.reps == 0)
            o.reps = 1;
    }
    if (o.list) {
        list_cases(&o);
        return 0;
    }
    if (fl[B_LOOP].seen)
        return bench_loop(&o);

    g_clock = o.cpu_clock ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC;
    unsigned mask_before = ttr_cpu_flags();
    rc = 0;
    print_header(&o);
    for (size_t ki = 0; ki < g_bench_nkernels && rc == 0; ki++) {
        const bkernel *kd = &g_bench_kernels[ki];
        bshape shapes[B_MAX_CASES];
        if (!kernel_selected(o.kernels, kd))
            continue;
        int n = bench_make_shapes(kd->fam, shapes);
        if (o.quick && n > 2)
            n = 2;
        for (int i = 0; i < n; i++)
            if (bench_case(&o, kd, &shapes[i]) != 0) {
                fprintf(stderr, "ttrank bench: out of memory for %s\n", kd->name);
                rc = 1;
                break;
            }
    }
    if (rc == 0 && (!o.kernels || strstr(o.kernels, "arena")))
        bench_print_arena(&o);
    ttr_set_cpu_mask(mask_before);
    return rc;
}
