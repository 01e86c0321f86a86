/* Optional comparison with XNNPACK (not part of the library, the tool or
 * make check): `make bench-xnnpack` builds build/.../bench-xnnpack when
 * libxnnpack-dev is installed. It times, in one process and with the
 * samples of every contender interleaved (thread CPU time, medians):
 *
 *   xnn_f32      the f32 fully-connected chain 46 -> 64 -> 32 -> 1 (ReLU
 *                between), batch 100: three xnn_run_operator calls;
 *   xnn_qs8      the qs8 chain of the same layers (static per-tensor scales,
 *                int8 in and out), batch 100;
 *   xnn_qs8_cvt  the same plus XNNPACK's f32 -> qs8 input and qs8 -> f32
 *                output conversions (what scoring f32 features needs);
 *   ttr_f32, ttr_s8      ttr_score of the same 100 items with a serving copy
 *                        of the reference configuration (max_items 10, so 10
 *                        chunks), and with its int8 copy (which keeps the
 *                        normalisation of make_models: signed layer-0 input);
 *   ttr_f32_n100, ttr_s8_n100   the same with max_items 100 (one chunk,
 *                        like XNNPACK's one batch);
 *   ttr_s8_fold          ttr_score with the int8 copy of the serving copy
 *                        (normalisation folded into layer 0, `ttrank
 *                        quantize --fold`), max_items 10.
 *
 * XNNPACK picks its own kernels for this CPU (on the AVX-512 Xeon of the
 * README, perf shows zmm kernels: f32 broadcast-FMA, qs8 vpmovsxbw +
 * vpmaddwd; Debian's 2022 build has no VNNI ones); ttrank runs its best
 * path (its int8 layers on avxvnni where the CPU has AVX-VNNI; run with
 * TTR_CPU_MASK=avx2 for the AVX2 code). Weights are random: only the times
 * matter here.
 *
 * --xnn-avx2: XNNPACK as on a CPU without AVX-512 (its AVX2 kernels, as on
 * the AVX2 machines of the int8 target). XNNPACK has no switch for that; it
 * chooses its kernels in xnn_initialize from cpuinfo's flags, so this
 * initializes cpuinfo first and clears its AVX-512 flags (cpuinfo_isa, the
 * struct that cpuinfo_has_x86_avx512*() read; libcpuinfo-dev's header).
 * Run it together with TTR_CPU_MASK=avx2 for AVX2 against AVX2.
 * Usage: bench-xnnpack [--xnn-avx2] [samples] [reps]. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cpuinfo.h>
#include <xnnpack.h>

#include "ttr_kernels.h"
#include "ttrank.h"

#define NI 100
#define F 46
#define H1 64
#define H2 32

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static unsigned g_seed = 12345;
static float frand(float lo, float hi)
{
    g_seed = g_seed * 1103515245u + 12345u;
    return lo + (hi - lo) * (float)((g_seed >> 8) & 0xffffff) / 16777216.0f;
}

static void die(const char *what)
{
    fprintf(stderr, "bench-xnnpack: %s failed\n", what);
    exit(1);
}

/* the contenders */
static xnn_operator_t f32_op[3], qs8_op[3], cvt_in, cvt_out;
static float xf[NI * F + 16], hf1[NI * H1 + 16], hf2[NI * H2 + 16], of[NI + 16];
static int8_t xq[NI * F + 16], hq1[NI * H1 + 16], hq2[NI * H2 + 16], oq[NI + 16];
static ttr_model *m_f32, *m_s8, *m_f32b, *m_s8b, *m_s8f;
static float scores[NI];

static void run3(xnn_operator_t *ops)
{
    for (int l = 0; l < 3; l++)
        if (xnn_run_operator(ops[l], NULL) != xnn_status_success)
            die("xnn_run_operator");
}
static void run_xnn_f32(void) { run3(f32_op); }
static void run_xnn_qs8(void) { run3(qs8_op); }
static void run_xnn_qs8_cvt(void)
{
    if (xnn_run_operator(cvt_in, NULL) != xnn_status_success)
        die("convert in");
    run3(qs8_op);
    if (xnn_run_operator(cvt_out, NULL) != xnn_status_success)
        die("convert out");
}
static void run_ttr_f32(void) { ttr_score(m_f32, NI, xf, F, scores); }
static void run_ttr_s8(void) { ttr_score(m_s8, NI, xf, F, scores); }
static void run_ttr_f32b(void) { ttr_score(m_f32b, NI, xf, F, scores); }
static void run_ttr_s8b(void) { ttr_score(m_s8b, NI, xf, F, scores); }
static void run_ttr_s8f(void) { ttr_score(m_s8f, NI, xf, F, scores); }

static void make_models(uint32_t max_items, ttr_model **f, ttr_model **q, ttr_model **qf)
{
    ttr_config cfg;
    ttr_model *tm;
    ttr_config_default(&cfg, TTR_ADDITIVE, F);
    cfg.hidden[0] = 64; /* the reference tower of the dated tables */
    cfg.hidden[1] = 32;
    cfg.max_items = max_items;
    cfg.max_batch = 1;
    size_t tb = ttr_arena_bytes(&cfg, TTR_MODE_TRAIN), fb = ttr_arena_bytes(&cfg, TTR_MODE_SERVE_F32);
    size_t qb = ttr_arena_bytes(&cfg, TTR_MODE_SERVE_S8);
    void *ta = malloc(tb), *fa = malloc(fb), *qa = malloc(qb);
    /* the normalisation training would give features uniform in [0, 1): the
     * int8 model keeps it (its first layer reads signed values), the f32
     * serving copy folds it into its first layer */
    float mean[F], scale[F];
    for (int t = 0; t < F; t++)
        mean[t] = 0.5f, scale[t] = 3.4641016f;
    if (!ta || !fa || !qa || ttr_model_init(&tm, &cfg, TTR_MODE_TRAIN, ta, tb) != TTR_OK ||
        ttr_set_normalization(tm, mean, scale) != TTR_OK ||
        ttr_model_to_serving(tm, f, fa, fb) != TTR_OK || ttr_model_quantize(tm, q, qa, qb) != TTR_OK)
        die("ttrank models");
    if (qf) { /* from the serving copy: the normalisation folded */
        void *qfa = malloc(qb);
        if (!qfa || ttr_model_quantize(*f, qf, qfa, qb) != TTR_OK)
            die("ttrank folded int8 model");
    }
}

/* What XNNPACK will see of the CPU: no AVX-512 (see the top). */
static void xnn_hide_avx512(void)
{
    if (!cpuinfo_initialize())
        die("cpuinfo_initialize");
    cpuinfo_isa.avx512f = cpuinfo_isa.avx512pf = cpuinfo_isa.avx512er = false;
    cpuinfo_isa.avx512cd = cpuinfo_isa.avx512dq = cpuinfo_isa.avx512bw = false;
    cpuinfo_isa.avx512vl = cpuinfo_isa.avx512ifma = cpuinfo_isa.avx512vbmi = false;
    cpuinfo_isa.avx512vbmi2 = cpuinfo_isa.avx512bitalg = cpuinfo_isa.avx512vpopcntdq = false;
    cpuinfo_isa.avx512vnni = cpuinfo_isa.avx512bf16 = cpuinfo_isa.avx512vp2intersect = false;
    cpuinfo_isa.avx512_4vnniw = cpuinfo_isa.avx512_4fmaps = false;
}

int main(int argc, char **argv)
{
    int xnn_avx2 = argc > 1 && !strcmp(argv[1], "--xnn-avx2");
    if (xnn_avx2)
        argc--, argv++;
    int samples = argc > 1 ? atoi(argv[1]) : 41;
    long reps = argc > 2 ? atol(argv[2]) : 200;
    if (samples < 1 || samples > 1001 || reps < 1)
        die("arguments");
    if (xnn_avx2)
        xnn_hide_avx512();
    if (xnn_initialize(NULL) != xnn_status_success)
        die("xnn_initialize");
    static const size_t in[3] = {F, H1, H2}, out[3] = {H1, H2, 1};
    for (int l = 0; l < 3; l++) {
        size_t n = in[l] * out[l];
        float *w = malloc(n * sizeof(float)), *b = malloc(out[l] * sizeof(float));
        int8_t *w8 = malloc(n);
        int32_t *b32 = malloc(out[l] * sizeof(int32_t));
        for (size_t i = 0; i < n; i++) {
            w[i] = frand(-0.2f, 0.2f);
            w8[i] = (int8_t)(int)frand(-127.0f, 127.99f);
        }
        for (size_t j = 0; j < out[l]; j++) {
            b[j] = frand(-0.1f, 0.1f);
            b32[j] = (int32_t)frand(-1000.0f, 1000.0f);
        }
        int relu = l < 2;
        if (xnn_create_fully_connected_nc_f32(in[l], out[l], in[l], out[l], w, b,
                                              relu ? 0.0f : -INFINITY, INFINITY, 0,
                                              &f32_op[l]) != xnn_status_success)
            die("create f32");
        /* ReLU: output_min at the zero point */
        if (xnn_create_fully_connected_nc_qs8(in[l], out[l], in[l], out[l], 0, 0.02f, 0.01f, w8,
                                              b32, relu ? -128 : 0, 0.05f, relu ? -128 : -127, 127,
                                              0, &qs8_op[l]) != xnn_status_success)
            die("create qs8");
        free(w), free(b), free(w8), free(b32);
    }
    for (size_t i = 0; i < NI * F; i++)
        xf[i] = frand(0.0f, 1.0f);
    const float *fin[3] = {xf, hf1, hf2};
    float *fout[3] = {hf1, hf2, of};
    const int8_t *qin[3] = {xq, hq1, hq2};
    int8_t *qout[3] = {hq1, hq2, oq};
    for (int l = 0; l < 3; l++) {
        if (xnn_setup_fully_connected_nc_f32(f32_op[l], NI, fin[l], fout[l], NULL) !=
            xnn_status_success)
            die("setup f32");
        if (xnn_setup_fully_connected_nc_qs8(qs8_op[l], NI, qin[l], qout[l], NULL) !=
            xnn_status_success)
            die("setup qs8");
    }
    if (xnn_create_convert_nc_f32_qs8(F, F, F, 1.0f / 127.0f, 0, -128, 127, 0, &cvt_in) !=
            xnn_status_success ||
        xnn_setup_convert_nc_f32_qs8(cvt_in, NI, xf, xq, NULL) != xnn_status_success ||
        xnn_create_convert_nc_qs8_f32(1, 1, 1, 0.05f, 0, 0, &cvt_out) != xnn_status_success ||
        xnn_setup_convert_nc_qs8_f32(cvt_out, NI, oq, of, NULL) != xnn_status_success)
        die("convert ops");
    make_models(10, &m_f32, &m_s8, &m_s8f);
    make_models(100, &m_f32b, &m_s8b, NULL);

    static const struct {
        const char *name;
        void (*fn)(void);
    } c[] = {{"xnn_f32", run_xnn_f32},     {"xnn_qs8", run_xnn_qs8},
             {"xnn_qs8_cvt", run_xnn_qs8_cvt}, {"ttr_f32", run_ttr_f32},
             {"ttr_s8", run_ttr_s8},       {"ttr_f32_n100", run_ttr_f32b},
             {"ttr_s8_n100", run_ttr_s8b}, {"ttr_s8_fold", run_ttr_s8f}};
    enum { NC = sizeof c / sizeof c[0] };
    double *t = malloc((size_t)NC * (size_t)samples * sizeof(double)), med[NC];
    for (int k = 0; k < NC; k++)
        c[k].fn(); /* warm-up */
    for (int s = 0; s < samples; s++)
        for (int k = 0; k < NC; k++) {
            double t0 = now_ns();
            for (long r = 0; r < reps; r++)
                c[k].fn();
            t[k * samples + s] = (now_ns() - t0) / (double)reps;
        }
    printf("# bench-xnnpack: 100 items, tower 46 -> 64 -> 32 -> 1; median of %d samples x %ld "
           "calls, thread CPU time, samples interleaved\n# ttrank path: %s (gemm_s8_relu_q: %s); "
           "XNNPACK: %s\n",
           samples, reps, ttr_cpu_path_name(ttr_cpu_flags()), ttr_kernel_isa(TTR_K_GEMM_S8_RELU_Q),
           xnn_avx2 ? "AVX-512 hidden (--xnn-avx2)" : "its own choice for this CPU");
    for (int k = 0; k < NC; k++) {
        qsort(t + k * samples, (size_t)samples, sizeof(double), cmp_double);
        med[k] = t[k * samples + samples / 2];
        printf("%-14s %10.1f ns\n", c[k].name, med[k]);
    }
    printf("ratios (time of the other / time of ttr_s8; > 1: ttr_s8 faster):\n");
    for (int k = 0; k < NC; k++)
        if (k != 4)
            printf("  %-14s / ttr_s8 = %.2f\n", c[k].name, med[k] / med[4]);
    printf("  ttr_f32_n100 / ttr_s8_n100 = %.2f, xnn_qs8 / ttr_s8_n100 = %.2f, "
           "xnn_qs8_cvt / ttr_s8_n100 = %.2f, xnn_f32 / ttr_f32_n100 = %.2f\n",
           med[5] / med[6], med[1] / med[6], med[2] / med[6], med[0] / med[5]);
    printf("  ttr_f32 / ttr_s8_fold = %.2f, xnn_qs8 / ttr_s8_fold = %.2f, "
           "xnn_qs8_cvt / ttr_s8_fold = %.2f\n",
           med[3] / med[7], med[1] / med[7], med[2] / med[7]);
    free(t);
    return 0;
}
