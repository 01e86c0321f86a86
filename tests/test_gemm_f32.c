/* f32 dense-layer kernels: forward (ttr_gemm_f32 / ttr_gemv_f32), input
 * gradient (ttr_backprop_input_f32) and weight gradient (ttr_outer_acc_f32).
 *
 * Every path the CPU supports (tu_masks) is compared with the scalar
 * reference (mask 0) within the tolerance of ttr_kernels.h, the scale
 * sum |terms| being computed in double from the unpacked matrices. Inputs
 * are allocated at their exact size (so a sanitizer build catches any
 * over-read) and misaligned; outputs live in guarded, sentinel-filled
 * buffers with row strides larger than the rows, so that any write outside
 * the documented range is caught. The scalar reference itself is checked
 * against double precision. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "ttr_kernels.h"

/* ---- helpers ------------------------------------------------------------ */

/* Output buffer: guarded, sentinel-filled. */
static float *out_alloc(size_t n, size_t mis)
{
    return tu_alloc(n * sizeof(float), mis);
}

/* Row-major matrix of `rows` rows of `cols` floats with stride ld; the
 * padding between rows is poisoned so that a kernel that reads it fails. */
static void fill_matrix(tu_rng *r, float *a, size_t rows, size_t cols, size_t ld, float lo,
                        float hi)
{
    for (size_t i = 0; i < rows; i++) {
        tu_fill_uniform(r, a + i * ld, cols, lo, hi);
        for (size_t t = cols; t < ld && i + 1 < rows; t++)
            a[i * ld + t] = 1e30f; /* padding: poisons any sum that reads it */
    }
}

static size_t mat_total(size_t rows, size_t cols, size_t ld)
{
    return rows ? (rows - 1) * ld + cols : 0;
}

static const size_t g_mis[] = {0, 4, 12, 8};

/* ---- forward -------------------------------------------------------------- */

typedef struct {
    size_t n, m, k, ldx, ldy, mis;
    int relu, bias, gemv;
} fwd_case;

/* Returns 0 on success; on failure fills msg. */
static int run_fwd(const fwd_case *c, const unsigned *masks, const char **names, int nmasks,
                   uint64_t seed, char *msg, size_t msglen)
{
    tu_rng r = tu_rng_seed(seed);
    size_t n = c->n, m = c->m, k = c->k;
    size_t ldx = c->gemv ? k : c->ldx, ldy = c->gemv ? m : c->ldy;
    size_t xt = mat_total(n, k, ldx), yt = mat_total(n, m, ldy);
    float *w = malloc((m * k + 1) * sizeof(float));
    tu_exact pk = tu_exact_alloc(ttr_gemm_f32_packed_size(m, k), c->mis);
    tu_exact x = tu_exact_alloc(xt, (c->mis + 4) % 16);
    tu_exact b = tu_exact_alloc(m, c->mis);
    float *yref = malloc((yt + 1) * sizeof(float));
    double *scale = malloc((n * m + 1) * sizeof(double));
    int fail = 0;
    if (!w || !yref || !scale)
        abort();
    tu_fill_uniform(&r, w, m * k, -1.0f, 1.0f);
    fill_matrix(&r, x.p, n, k, ldx, -1.0f, 1.0f);
    tu_fill_uniform(&r, b.p, m, -0.5f, 0.5f);
    ttr_gemm_f32_pack(m, k, w, k, pk.p);
    const float *bias = c->bias ? b.p : NULL;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < m; j++) {
            double s = bias ? fabs((double)bias[j]) : 0.0;
            for (size_t t = 0; t < k; t++)
                s += fabs((double)w[j * k + t] * (double)x.p[i * ldx + t]);
            scale[i * m + j] = s;
        }
    ttr_set_cpu_mask(0);
    ttr_gemm_f32(n, m, k, pk.p, x.p, ldx, bias, yref, ldy, c->relu);
    for (int mi = 0; mi < nmasks && !fail; mi++) {
        float *y = out_alloc(yt, c->mis);
        ttr_set_cpu_mask(masks[mi]);
        if (c->gemv)
            ttr_gemv_f32(m, k, pk.p, x.p, bias, y, c->relu);
        else
            ttr_gemm_f32(n, m, k, pk.p, x.p, ldx, bias, y, ldy, c->relu);
        if (!tu_guard_ok(y) || !tu_untouched_2d(y, sizeof(float), yt, n, m, ldy)) {
            snprintf(msg, msglen, "wrote out of range");
            fail = 1;
        }
        for (size_t i = 0; i < n && !fail; i++)
            for (size_t j = 0; j < m && !fail; j++) {
                double got = y[i * ldy + j], ref = yref[i * ldy + j];
                double tol = 1e-5 * scale[i * m + j] + 1e-30;
                if (!(fabs(got - ref) <= tol) || (c->relu && got < 0.0)) {
                    snprintf(msg, msglen, "y[%zu][%zu] = %.9g, scalar %.9g (tol %.3g)", i, j,
                             got, ref, tol);
                    fail = 1;
                }
            }
        if (fail) {
            size_t len = strlen(msg);
            snprintf(msg + len, msglen - len,
                     " [path %s: n=%zu m=%zu k=%zu ldx=%zu ldy=%zu mis=%zu relu=%d bias=%d gemv=%d]",
                     names[mi], n, m, k, ldx, ldy, c->mis, c->relu, c->bias, c->gemv);
        }
        tu_free(y);
    }
    ttr_set_cpu_mask(TTR_CPU_ALL);
    free(w);
    free(yref);
    free(scale);
    tu_exact_free(pk);
    tu_exact_free(x);
    tu_exact_free(b);
    return fail;
}

Test(gemm_f32, forward_small_sweep)
{
    unsigned masks[8];
    const char *names[8];
    int nm = tu_masks(masks, names);
    static const size_t ks[] = {0, 1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 31, 33, 37, 46};
    static const size_t ns[] = {0, 1, 2, 3, 4, 5, 7};
    char msg[512];
    uint64_t seed = 1;
    for (size_t m = 0; m <= 37; m++)
        for (size_t ki = 0; ki < sizeof ks / sizeof ks[0]; ki++)
            for (size_t ni = 0; ni < sizeof ns / sizeof ns[0]; ni++) {
                fwd_case c;
                c.n = ns[ni];
                c.m = m;
                c.k = ks[ki];
                c.ldx = c.k + (seed % 3 == 0 ? 0 : seed % 5 + 1);
                c.ldy = c.m + (seed % 4 == 0 ? 0 : seed % 7 + 1);
                c.mis = g_mis[seed % 4];
                c.relu = (int)(seed % 2);
                c.bias = (seed / 2) % 3 != 0;
                c.gemv = c.n == 1 && seed % 3 == 1;
                msg[0] = 0;
                int fail = run_fwd(&c, masks, names, nm, seed++, msg, sizeof msg);
                cr_assert(!fail, "%s", msg);
            }
}

Test(gemm_f32, forward_tower_and_large)
{
    unsigned masks[8];
    const char *names[8];
    int nm = tu_masks(masks, names);
    static const size_t shapes[][2] = {{64, 46}, {32, 64}, {46, 64}, {1, 64},  {64, 32},
                                       {48, 100}, {80, 20}, {16, 700}, {17, 700}, {700, 33},
                                       {512, 512}};
    static const size_t ns[] = {1, 2, 3, 4, 5, 7, 100};
    char msg[512];
    uint64_t seed = 1000;
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
        for (size_t ni = 0; ni < sizeof ns / sizeof ns[0]; ni++) {
            size_t m = shapes[si][0], k = shapes[si][1], n = ns[ni];
            if (m * k * n > 600000 && n > 7) /* keep the scalar runs short */
                continue;
            fwd_case c;
            c.n = n;
            c.m = m;
            c.k = k;
            c.ldx = k + (seed % 2 ? 3 : 0);
            c.ldy = m + (seed % 3 ? 5 : 0);
            c.mis = g_mis[seed % 4];
            c.relu = (int)(seed % 2);
            c.bias = seed % 5 != 0;
            c.gemv = n == 1 && seed % 2 == 0;
            msg[0] = 0;
            int fail = run_fwd(&c, masks, names, nm, seed++, msg, sizeof msg);
            cr_assert(!fail, "%s", msg);
        }
}

/* The scalar reference against a double-precision sum: within the standard
 * bound of a sequential float sum, (k + 2) u sum|terms| with u = 2^-24. */
Test(gemm_f32, reference_vs_double)
{
    tu_rng r = tu_rng_seed(77);
    static const size_t shapes[][3] = {{1, 1, 1}, {3, 17, 5},   {5, 64, 46},
                                       {2, 33, 700}, {1, 512, 512}, {4, 16, 0}};
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        size_t n = shapes[si][0], m = shapes[si][1], k = shapes[si][2];
        float *w = malloc((m * k + 1) * sizeof(float));
        float *pk = malloc((ttr_gemm_f32_packed_size(m, k) + 1) * sizeof(float));
        float *x = malloc((n * k + 1) * sizeof(float));
        float *b = malloc(m * sizeof(float));
        float *y = malloc(n * m * sizeof(float));
        cr_assert(w && pk && x && b && y);
        tu_fill_uniform(&r, w, m * k, -2.0f, 2.0f);
        tu_fill_uniform(&r, x, n * k, -1.0f, 1.0f);
        tu_fill_uniform(&r, b, m, -1.0f, 1.0f);
        ttr_gemm_f32_pack(m, k, w, k, pk);
        ttr_set_cpu_mask(0);
        for (int relu = 0; relu < 2; relu++) {
            ttr_gemm_f32(n, m, k, pk, x, k, b, y, m, relu);
            for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < m; j++) {
                    double s = b[j], sa = fabs((double)b[j]);
                    for (size_t t = 0; t < k; t++) {
                        s += (double)w[j * k + t] * x[i * k + t];
                        sa += fabs((double)w[j * k + t] * x[i * k + t]);
                    }
                    if (relu && !(s > 0.0))
                        s = 0.0;
                    double bound = (double)(k + 2) * ldexp(1.0, -24) * sa + 1e-30;
                    cr_assert(fabs(y[i * m + j] - s) <= bound,
                              "ref y[%zu][%zu] = %.9g, exact %.12g (n=%zu m=%zu k=%zu)", i, j,
                              y[i * m + j], s, n, m, k);
                }
        }
        ttr_set_cpu_mask(TTR_CPU_ALL);
        free(w);
        free(pk);
        free(x);
        free(b);
        free(y);
    }
}

/* ReLU: a NaN or negative pre-activation gives +0 on every path; b NULL adds
 * +0 (so -0 sums come out as +0). */
Test(gemm_f32, relu_and_zero_semantics)
{
    unsigned masks[8];
    const char *names[8];
    int nm = tu_masks(masks, names);
    const size_t m = 20, k = 3, n = 2;
    float w[20 * 3], pk[32 * 3], x[2 * 3], y[2 * 20];
    for (size_t j = 0; j < m; j++)
        for (size_t t = 0; t < k; t++)
            w[j * k + t] = (j % 2) ? -1.0f : 1.0f;
    w[5 * k + 1] = NAN;
    for (size_t i = 0; i < n * k; i++)
        x[i] = 0.5f;
    ttr_gemm_f32_pack(m, k, w, k, pk);
    for (int mi = 0; mi < nm; mi++) {
        ttr_set_cpu_mask(masks[mi]);
        ttr_gemm_f32(n, m, k, pk, x, k, NULL, y, m, 1);
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < m; j++) {
                float want = (j % 2) ? 0.0f : 1.5f;
                cr_assert(y[i * m + j] == want && !signbit(y[i * m + j]),
                          "path %s: relu y[%zu][%zu] = %g", names[mi], i, j, y[i * m + j]);
            }
        ttr_gemm_f32(n, m, 0, pk, x, k, NULL, y, m, 0);
        for (size_t i = 0; i < n * m; i++)
            cr_assert(y[i] == 0.0f && !signbit(y[i]), "path %s: k=0 gives %g", names[mi], y[i]);
    }
    ttr_set_cpu_mask(TTR_CPU_ALL);
}

/* ---- backward -------------------------------------------------------------- */

/* which: 0 = backprop_input (accumulate flag acc), 1 = outer_acc */
static int run_bwd(int which, size_t n, size_t m, size_t k, size_t pad, size_t mis, int acc,
                   const unsigned *masks, const char **names, int nmasks, uint64_t seed,
                   char *msg, size_t msglen)
{
    tu_rng r = tu_rng_seed(seed);
    size_t ldw = k + pad % 3, lddy = m + pad % 5, ldx = k + pad % 4, ldo = k + pad % 7;
    size_t orows = which == 0 ? n : m; /* output: dx (n x k) or dw (m x k) */
    size_t wt = mat_total(m, k, ldw), dyt = mat_total(n, m, lddy), xt = mat_total(n, k, ldx);
    size_t ot = mat_total(orows, k, ldo);
    tu_exact w = tu_exact_alloc(wt, mis), dy = tu_exact_alloc(dyt, (mis + 8) % 16), x = tu_exact_alloc(xt, mis);
    float *init = malloc((ot + 1) * sizeof(float));
    float *ref = malloc((ot + 1) * sizeof(float));
    double *scale = malloc((orows * k + 1) * sizeof(double));
    int fail = 0;
    if (!init || !ref || !scale)
        abort();
    fill_matrix(&r, w.p, m, k, ldw, -1.0f, 1.0f);
    fill_matrix(&r, dy.p, n, m, lddy, -1.0f, 1.0f);
    fill_matrix(&r, x.p, n, k, ldx, -1.0f, 1.0f);
    memset(init, TU_SENTINEL_BYTE, (ot + 1) * sizeof(float));
    for (size_t i = 0; i < orows; i++)
        tu_fill_uniform(&r, init + i * ldo, k, -3.0f, 3.0f);
    int accum = which == 1 || acc;
    for (size_t i = 0; i < orows; i++)
        for (size_t t = 0; t < k; t++) {
            double s = accum ? fabs((double)init[i * ldo + t]) : 0.0;
            if (which == 0)
                for (size_t j = 0; j < m; j++)
                    s += fabs((double)dy.p[i * lddy + j] * w.p[j * ldw + t]);
            else
                for (size_t q = 0; q < n; q++)
                    s += fabs((double)dy.p[q * lddy + i] * x.p[q * ldx + t]);
            scale[i * k + t] = s;
        }
    memcpy(ref, init, ot * sizeof(float));
    ttr_set_cpu_mask(0);
    if (which == 0)
        ttr_backprop_input_f32(n, m, k, w.p, ldw, dy.p, lddy, ref, ldo, acc);
    else
        ttr_outer_acc_f32(n, m, k, dy.p, lddy, x.p, ldx, ref, ldo);
    for (int mi = 0; mi < nmasks && !fail; mi++) {
        float *o = out_alloc(ot, mis);
        for (size_t i = 0; i < orows; i++)
            memcpy(o + i * ldo, init + i * ldo, k * sizeof(float));
        ttr_set_cpu_mask(masks[mi]);
        if (which == 0)
            ttr_backprop_input_f32(n, m, k, w.p, ldw, dy.p, lddy, o, ldo, acc);
        else
            ttr_outer_acc_f32(n, m, k, dy.p, lddy, x.p, ldx, o, ldo);
        if (!tu_guard_ok(o) || !tu_untouched_2d(o, sizeof(float), ot, orows, k, ldo)) {
            snprintf(msg, msglen, "wrote out of range");
            fail = 1;
        }
        for (size_t i = 0; i < orows && !fail; i++)
            for (size_t t = 0; t < k && !fail; t++) {
                double got = o[i * ldo + t], want = ref[i * ldo + t];
                double tol = 1e-5 * scale[i * k + t] + 1e-30;
                if (!(fabs(got - want) <= tol)) {
                    snprintf(msg, msglen, "out[%zu][%zu] = %.9g, scalar %.9g (tol %.3g)", i, t,
                             got, want, tol);
                    fail = 1;
                }
            }
        if (fail) {
            size_t len = strlen(msg);
            snprintf(msg + len, msglen - len,
                     " [%s path %s: n=%zu m=%zu k=%zu pad=%zu mis=%zu acc=%d]",
                     which ? "outer_acc" : "backprop_input", names[mi], n, m, k, pad, mis, acc);
        }
        tu_free(o);
    }
    ttr_set_cpu_mask(TTR_CPU_ALL);
    tu_exact_free(w);
    tu_exact_free(dy);
    tu_exact_free(x);
    free(init);
    free(ref);
    free(scale);
    return fail;
}

static void bwd_sweep(int which)
{
    unsigned masks[8];
    const char *names[8];
    int nm = tu_masks(masks, names);
    static const size_t ks[] = {0,  1,  2,  3,  5,  7,  8,  9,  15, 16, 17, 24,
                                31, 32, 33, 37, 46, 48, 49, 63, 64, 65, 97};
    static const size_t ms[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 13, 16, 17, 33};
    static const size_t ns[] = {0, 1, 2, 3, 4, 5, 7};
    char msg[512];
    uint64_t seed = 5000 + (uint64_t)which * 100000;
    for (size_t ki = 0; ki < sizeof ks / sizeof ks[0]; ki++)
        for (size_t mi = 0; mi < sizeof ms / sizeof ms[0]; mi++)
            for (size_t ni = 0; ni < sizeof ns / sizeof ns[0]; ni++) {
                msg[0] = 0;
                int fail = run_bwd(which, ns[ni], ms[mi], ks[ki], (size_t)(seed % 11),
                                   g_mis[seed % 4], (int)(seed % 2), masks, names, nm, seed, msg,
                                   sizeof msg);
                seed++;
                cr_assert(!fail, "%s", msg);
            }
    /* tower-sized and large */
    static const size_t big[][3] = {{1, 64, 46},  {100, 64, 46}, {100, 32, 64}, {7, 46, 64},
                                    {1, 512, 512}, {3, 16, 700},  {2, 700, 17},  {100, 1, 64},
                                    {1, 1, 700},  {100, 64, 1}};
    for (size_t bi = 0; bi < sizeof big / sizeof big[0]; bi++)
        for (int acc = 0; acc < 2; acc++) {
            msg[0] = 0;
            int fail = run_bwd(which, big[bi][0], big[bi][1], big[bi][2], (size_t)(seed % 11),
                               g_mis[seed % 4], acc, masks, names, nm, seed, msg, sizeof msg);
            seed++;
            cr_assert(!fail, "%s", msg);
        }
}

Test(gemm_f32, backprop_input_paths)
{
    bwd_sweep(0);
}

Test(gemm_f32, outer_acc_paths)
{
    bwd_sweep(1);
}

/* The backward references against double precision. */
Test(gemm_f32, backward_reference_vs_double)
{
    tu_rng r = tu_rng_seed(99);
    const size_t n = 5, m = 37, k = 29;
    float w[37 * 29], dy[5 * 37], x[5 * 29], dx[5 * 29], dw[37 * 29], dw0[37 * 29];
    tu_fill_uniform(&r, w, m * k, -1.0f, 1.0f);
    tu_fill_uniform(&r, dy, n * m, -1.0f, 1.0f);
    tu_fill_uniform(&r, x, n * k, -1.0f, 1.0f);
    tu_fill_uniform(&r, dw0, m * k, -1.0f, 1.0f);
    memcpy(dw, dw0, sizeof dw);
    ttr_set_cpu_mask(0);
    ttr_backprop_input_f32(n, m, k, w, k, dy, m, dx, k, 0);
    ttr_outer_acc_f32(n, m, k, dy, m, x, k, dw, k);
    ttr_set_cpu_mask(TTR_CPU_ALL);
    for (size_t i = 0; i < n; i++)
        for (size_t t = 0; t < k; t++) {
            double s = 0, sa = 0;
            for (size_t j = 0; j < m; j++) {
                s += (double)dy[i * m + j] * w[j * k + t];
                sa += fabs((double)dy[i * m + j] * w[j * k + t]);
            }
            cr_assert(fabs(dx[i * k + t] - s) <= (double)(m + 2) * ldexp(1.0, -24) * sa + 1e-30);
        }
    for (size_t j = 0; j < m; j++)
        for (size_t t = 0; t < k; t++) {
            double s = dw0[j * k + t], sa = fabs((double)dw0[j * k + t]);
            for (size_t i = 0; i < n; i++) {
                s += (double)dy[i * m + j] * x[i * k + t];
                sa += fabs((double)dy[i * m + j] * x[i * k + t]);
            }
            cr_assert(fabs(dw[j * k + t] - s) <= (double)(n + 2) * ldexp(1.0, -24) * sa + 1e-30);
        }
}

/* Each mask reports the path it runs. */
Test(gemm_f32, isa_names)
{
    unsigned masks[8];
    const char *names[8];
    int nm = tu_masks(masks, names);
    for (int mi = 0; mi < nm; mi++) {
        ttr_set_cpu_mask(masks[mi]);
        const char *isa = ttr_kernel_isa(TTR_K_GEMM_F32);
        cr_assert_not_null(isa);
        if (masks[mi] == 0 || strcmp(names[mi], "avx2") == 0) {
            cr_assert_str_eq(isa, names[mi]);
            cr_assert_str_eq(ttr_kernel_isa(TTR_K_BACKPROP_IN_F32), names[mi]);
            cr_assert_str_eq(ttr_kernel_isa(TTR_K_OUTER_ACC_F32), names[mi]);
        }
    }
    ttr_set_cpu_mask(TTR_CPU_ALL);
}
