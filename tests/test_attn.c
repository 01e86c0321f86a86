/* Attention kernels: ttr_attn_probs_f32, ttr_attn_apply_f32,
 * ttr_attn_apply_bwd_f32, ttr_attn_probs_bwd_f32.
 *
 * Each path of tu_masks() is compared with the scalar reference (mask 0)
 * within the tolerances of ttr_kernels.h, whose "sum of |terms|" scales are
 * computed here in double. Inputs have NaN in the gaps between rows (a kernel
 * that reads past a row's end poisons its result), outputs live in guarded
 * buffers with strides larger than needed (a write outside the documented
 * ranges is caught). The backward pass of every path is also checked against
 * central differences of an independent double-precision forward pass.
 *
 * Only the Criterion subset of tests/shim/criterion/criterion.h is used (the
 * same file runs on armv7 through the shim): many cases per Test(). */
#include <criterion/criterion.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "ttr_kernels.h"

static void restore_mask(void)
{
    ttr_set_cpu_mask(TTR_CPU_ALL);
}

TestSuite(attn, .fini = restore_mask);

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define TOL 1e-5f

/* rows x cols at stride ld, uniform in [lo, hi), NaN in the row gaps. */
static float *new_mat(tu_rng *r, size_t rows, size_t cols, size_t ld, size_t mis, float lo,
                      float hi)
{
    float *a = tu_alloc((rows * ld + 1) * sizeof(float), 4 * (mis % 16)); /* 4-aligned */
    for (size_t i = 0; i < rows * ld; i++)
        a[i] = NAN;
    for (size_t i = 0; i < rows; i++)
        tu_fill_uniform(r, a + i * ld, cols, lo, hi);
    return a;
}

/* An output buffer (sentinel everywhere), optionally holding src's rows x cols. */
static float *new_out(size_t rows, size_t cols, size_t ld, size_t mis, const float *src,
                      size_t lds)
{
    float *a = tu_alloc((rows * ld + 1) * sizeof(float), 4 * (mis % 16)); /* 4-aligned */
    if (src)
        for (size_t i = 0; i < rows; i++)
            memcpy(a + i * ld, src + i * lds, cols * sizeof(float));
    return a;
}

/* got (rows x cols, ld) vs ref (same shape, ldr) within TOL * scale + floor
 * (scale NULL: absolute TOL); also sentinels around and between rows. */
static void expect_close(const char *what, const char *path, size_t n, size_t d,
                         const float *got, const float *ref, size_t ldr, const double *scale,
                         size_t rows, size_t cols, size_t ld)
{
    cr_assert(tu_guard_ok(got), "%s %s n=%zu d=%zu: guard zone overwritten", what, path, n, d);
    cr_assert(tu_untouched_2d(got, sizeof(float), rows * ld + 1, rows, cols, ld),
              "%s %s n=%zu d=%zu: wrote outside its range", what, path, n, d);
    float sc[256];
    for (size_t i = 0; i < rows; i++) {
        cr_assert(cols <= COUNT(sc));
        for (size_t c = 0; c < cols; c++)
            sc[c] = scale ? (float)scale[i * cols + c] : 0.0f;
        long bad = tu_first_mismatch(got + i * ld, ref + i * ldr, sc, cols,
                                     scale ? TOL : 0.0f, scale ? 1e-30f : TOL);
        if (bad >= 0)
            cr_assert(0, "%s %s n=%zu d=%zu: [%zu][%ld] = %.9g, scalar %.9g (scale %.3g)", what,
                      path, n, d, i, bad, (double)got[i * ld + (size_t)bad],
                      (double)ref[i * ldr + (size_t)bad],
                      scale ? scale[i * cols + (size_t)bad] : 1.0);
    }
}

static const size_t n_list[] = {0, 1, 2, 3, 7, 8, 9, 10, 17, 64, 100, 200};
static const size_t d_list[] = {1, 3, 8, 16, 33, 64};

/* One shape: every kernel under every mask against mask 0. kind selects the
 * key mask: 0 NULL, 1 some masked, 2 all masked, 3 only the last key valid,
 * 4 all valid (non-NULL). */
static void check_shape(size_t n, size_t d, size_t dv, int kind, float scale, tu_rng *r,
                        const unsigned *masks, const char **names, int nm)
{
    size_t ldq = d + 1, ldk = d + 3, ldv = dv + 2, ldp = n + 5, ldo = dv + 1;
    float *q = new_mat(r, n, d, ldq, 4, -1.0f, 1.0f);
    float *k = new_mat(r, n, d, ldk, 8, -1.0f, 1.0f);
    float *v = new_mat(r, n, dv, ldv, 12, -2.0f, 2.0f);
    float *dout = new_mat(r, n, dv, ldo, 16, -1.0f, 1.0f);
    float *dp0 = new_mat(r, n, n, ldp, 20, -1.0f, 1.0f);
    float *dv0 = new_mat(r, n, dv, ldv, 24, -1.0f, 1.0f);
    float *dq0 = new_mat(r, n, d, ldq, 28, -1.0f, 1.0f);
    float *dk0 = new_mat(r, n, d, ldk, 32, -1.0f, 1.0f);
    uint8_t *km = NULL;
    if (kind != 0) {
        km = tu_alloc(n + 1, 3);
        for (size_t m = 0; m < n; m++)
            km[m] = kind == 1   ? (uint8_t)(tu_u32(r) % 3 != 0 ? 1 + tu_u32(r) % 255 : 0)
                    : kind == 2 ? 0
                    : kind == 3 ? (uint8_t)(m + 1 == n)
                                : 1;
        if (kind == 1 && n > 0)
            km[n / 2] = 1;
    }

    /* ---- scalar references ---- */
    ttr_set_cpu_mask(0);
    float *p_ref = new_out(n, n, ldp, 0, NULL, 0);
    ttr_attn_probs_f32(n, d, q, ldq, k, ldk, scale, km, p_ref, ldp);
    /* p as an input: the reference probabilities with NaN gaps */
    float *p = new_mat(r, n, n, ldp, 36, 0.0f, 1.0f);
    for (size_t j = 0; j < n; j++)
        memcpy(p + j * ldp, p_ref + j * ldp, n * sizeof(float));
    /* exact properties of the reference itself */
    for (size_t j = 0; j < n; j++) {
        double sum = 0.0;
        int anyv = 0;
        for (size_t m = 0; m < n; m++) {
            if (km && !km[m])
                cr_assert_eq(p_ref[j * ldp + m], 0.0f, "masked key m=%zu has p != 0", m);
            else
                anyv = 1;
            sum += p_ref[j * ldp + m];
        }
        cr_assert(anyv ? fabs(sum - 1.0) <= 1e-5 : sum == 0.0, "row %zu sums to %.9g", j, sum);
    }
    float *out_ref = new_out(n, dv, ldo, 0, NULL, 0);
    ttr_attn_apply_f32(n, dv, p, ldp, v, ldv, out_ref, ldo);
    float *abp_ref = new_out(n, n, ldp, 0, dp0, ldp), *abv_ref = new_out(n, dv, ldv, 0, dv0, ldv);
    ttr_attn_apply_bwd_f32(n, dv, p, ldp, v, ldv, dout, ldo, abp_ref, ldp, abv_ref, ldv);
    float *ds_ref = new_out(n, n, ldp, 0, dp0, ldp);
    float *dq_ref = new_out(n, d, ldq, 0, dq0, ldq), *dk_ref = new_out(n, d, ldk, 0, dk0, ldk);
    ttr_attn_probs_bwd_f32(n, d, q, ldq, k, ldk, scale, p, ldp, ds_ref, ldp, dq_ref, ldq, dk_ref,
                           ldk);

    /* ---- tolerance scales (double) ---- */
    size_t nn = n * n + 1, nd = n * d + 1, ndv = n * dv + 1;
    double *s_out = calloc(ndv, sizeof(double)), *s_abp = calloc(nn, sizeof(double));
    double *s_abv = calloc(ndv, sizeof(double)), *s_ds = calloc(nn, sizeof(double));
    double *s_dq = calloc(nd, sizeof(double)), *s_dk = calloc(nd, sizeof(double));
    cr_assert(s_out && s_abp && s_abv && s_ds && s_dq && s_dk);
    for (size_t j = 0; j < n; j++) {
        for (size_t c = 0; c < dv; c++)
            for (size_t m = 0; m < n; m++) {
                s_out[j * dv + c] += fabs((double)p[j * ldp + m] * v[m * ldv + c]);
                s_abv[m * dv + c] += fabs((double)p[j * ldp + m] * dout[j * ldo + c]);
            }
        double dotabs = 0.0;
        for (size_t m = 0; m < n; m++) {
            double t = fabs((double)dp0[j * ldp + m]);
            for (size_t c = 0; c < dv; c++)
                t += fabs((double)dout[j * ldo + c] * v[m * ldv + c]);
            s_abp[j * n + m] = t;
            dotabs += fabs((double)dp0[j * ldp + m] * p[j * ldp + m]);
        }
        /* dS = p (dp - dot): its error scales with p (|dp| + sum |dp p|); the
         * terms of dq and dk are then measured with that magnitude of dS */
        for (size_t m = 0; m < n; m++)
            s_ds[j * n + m] = fabs((double)p[j * ldp + m]) * (fabs((double)dp0[j * ldp + m]) + dotabs);
    }
    for (size_t j = 0; j < n; j++)
        for (size_t c = 0; c < d; c++) {
            s_dq[j * d + c] = fabs((double)dq0[j * ldq + c]);
            for (size_t m = 0; m < n; m++)
                s_dq[j * d + c] += fabs((double)scale * s_ds[j * n + m] * k[m * ldk + c]);
        }
    for (size_t m = 0; m < n; m++)
        for (size_t c = 0; c < d; c++) {
            s_dk[m * d + c] = fabs((double)dk0[m * ldk + c]);
            for (size_t j = 0; j < n; j++)
                s_dk[m * d + c] += fabs((double)scale * s_ds[j * n + m] * q[j * ldq + c]);
        }
    for (size_t i = 0; i < n * dv; i++)
        s_abv[i] += fabs((double)dv0[(i / dv) * ldv + i % dv]);

    /* ---- every path ---- */
    for (int mi = 0; mi < nm; mi++) {
        const char *path = names[mi];
        size_t mis = (size_t)mi * 4 + 4;
        ttr_set_cpu_mask(masks[mi]);
        float *pg = new_out(n, n, ldp, mis, NULL, 0);
        ttr_attn_probs_f32(n, d, q, ldq, k, ldk, scale, km, pg, ldp);
        expect_close("probs", path, n, d, pg, p_ref, ldp, NULL, n, n, ldp);
        for (size_t j = 0; j < n; j++) {
            double sum = 0.0;
            for (size_t m = 0; m < n; m++) {
                if (km && !km[m])
                    cr_assert_eq(pg[j * ldp + m], 0.0f, "probs %s: masked key %zu", path, m);
                sum += pg[j * ldp + m];
            }
            int anyv = !km;
            for (size_t m = 0; km && m < n; m++)
                anyv |= km[m] != 0;
            cr_assert(anyv ? fabs(sum - 1.0) <= 1e-5 : sum == 0.0, "probs %s: row %zu sums to %.9g",
                      path, j, sum);
        }
        float *og = new_out(n, dv, ldo, mis + 1, NULL, 0);
        ttr_attn_apply_f32(n, dv, p, ldp, v, ldv, og, ldo);
        expect_close("apply", path, n, dv, og, out_ref, ldo, s_out, n, dv, ldo);
        float *abp = new_out(n, n, ldp, mis + 2, dp0, ldp);
        float *abv = new_out(n, dv, ldv, mis + 3, dv0, ldv);
        ttr_attn_apply_bwd_f32(n, dv, p, ldp, v, ldv, dout, ldo, abp, ldp, abv, ldv);
        expect_close("apply_bwd dp", path, n, dv, abp, abp_ref, ldp, s_abp, n, n, ldp);
        expect_close("apply_bwd dv", path, n, dv, abv, abv_ref, ldv, s_abv, n, dv, ldv);
        float *ds = new_out(n, n, ldp, mis + 5, dp0, ldp);
        float *dq = new_out(n, d, ldq, mis + 6, dq0, ldq);
        float *dk = new_out(n, d, ldk, mis + 7, dk0, ldk);
        ttr_attn_probs_bwd_f32(n, d, q, ldq, k, ldk, scale, p, ldp, ds, ldp, dq, ldq, dk, ldk);
        expect_close("probs_bwd dS", path, n, d, ds, ds_ref, ldp, s_ds, n, n, ldp);
        expect_close("probs_bwd dq", path, n, d, dq, dq_ref, ldq, s_dq, n, d, ldq);
        expect_close("probs_bwd dk", path, n, d, dk, dk_ref, ldk, s_dk, n, d, ldk);
        tu_free(pg);
        tu_free(og);
        tu_free(abp);
        tu_free(abv);
        tu_free(ds);
        tu_free(dq);
        tu_free(dk);
    }

    free(s_out);
    free(s_abp);
    free(s_abv);
    free(s_ds);
    free(s_dq);
    free(s_dk);
    float *bufs[] = {q, k, v, dout, dp0, dv0, dq0, dk0, p_ref, p, out_ref, abp_ref, abv_ref,
                     ds_ref, dq_ref, dk_ref};
    for (size_t i = 0; i < COUNT(bufs); i++)
        tu_free(bufs[i]);
    tu_free(km);
}

Test(attn, paths_match_scalar)
{
    unsigned masks[8];
    const char *names[8];
    int nm = tu_masks(masks, names);
    tu_rng rng = tu_rng_seed(21);
    int rot = 0;
    for (size_t ni = 0; ni < COUNT(n_list); ni++)
        for (size_t di = 0; di < COUNT(d_list); di++) {
            size_t n = n_list[ni], d = d_list[di];
            size_t dv = d_list[(di + ni) % COUNT(d_list)];
            /* keep the big cases few (qemu): every other d from n = 64 on */
            if ((n >= 64 && di % 2 != ni % 2) || (n >= 200 && d + dv > 40))
                continue;
            float scale = rot % 5 == 4 ? -0.9f : 1.0f / sqrtf((float)d);
            check_shape(n, d, dv, rot % 5, scale, &rng, masks, names, nm);
            rot++;
        }
    /* inner dimension above one transposed chunk; zero scale; large scores */
    check_shape(20, 130, 70, 1, 0.1f, &rng, masks, names, nm);
    check_shape(9, 5, 3, 0, 0.0f, &rng, masks, names, nm);
    check_shape(12, 3, 5, 1, 3.0f, &rng, masks, names, nm);
}

/* ---------------------------------------------------------------------------
 * Finite differences of the whole layer: loss = sum_jc out[j][c] G[j][c]
 * with out = softmax_masked(scale Q K^T) V, in double.
 * ------------------------------------------------------------------------- */

#define FD_MAX 24

static double fd_loss(size_t n, size_t d, size_t dv, const double *q, const double *k,
                      const double *v, const double *g, double scale, const uint8_t *km)
{
    double loss = 0.0;
    for (size_t j = 0; j < n; j++) {
        double s[FD_MAX], mx = -INFINITY, sum = 0.0;
        for (size_t m = 0; m < n; m++) {
            s[m] = 0.0;
            for (size_t c = 0; c < d; c++)
                s[m] += q[j * d + c] * k[m * d + c];
            s[m] *= scale;
            if ((!km || km[m]) && s[m] > mx)
                mx = s[m];
        }
        for (size_t m = 0; m < n; m++) {
            s[m] = !km || km[m] ? exp(s[m] - mx) : 0.0;
            sum += s[m];
        }
        for (size_t c = 0; c < dv; c++) {
            double o = 0.0;
            for (size_t m = 0; m < n; m++)
                o += s[m] / sum * v[m * dv + c];
            loss += o * g[j * dv + c];
        }
    }
    return loss;
}

static void fd_case(size_t n, size_t d, size_t dv, float scale, const uint8_t *km, tu_rng *r,
                    const unsigned *masks, const char **names, int nm)
{
    cr_assert(n <= FD_MAX && d <= FD_MAX && dv <= FD_MAX);
    float q[FD_MAX * FD_MAX], k[FD_MAX * FD_MAX], v[FD_MAX * FD_MAX], g[FD_MAX * FD_MAX];
    double qd[FD_MAX * FD_MAX], kd[FD_MAX * FD_MAX], vd[FD_MAX * FD_MAX], gd[FD_MAX * FD_MAX];
    tu_fill_uniform(r, q, n * d, -1.0f, 1.0f);
    tu_fill_uniform(r, k, n * d, -1.0f, 1.0f);
    tu_fill_uniform(r, v, n * dv, -1.0f, 1.0f);
    tu_fill_uniform(r, g, n * dv, -1.0f, 1.0f);
    for (size_t i = 0; i < n * d; i++) {
        qd[i] = q[i];
        kd[i] = k[i];
    }
    for (size_t i = 0; i < n * dv; i++) {
        vd[i] = v[i];
        gd[i] = g[i];
    }
    /* central differences, h small against the O(1) curvature */
    const double h = 1e-4;
    double fq[FD_MAX * FD_MAX], fk[FD_MAX * FD_MAX], fv[FD_MAX * FD_MAX];
    for (int which = 0; which < 3; which++) {
        double *x = which == 0 ? qd : which == 1 ? kd : vd, *f = which == 0 ? fq : which == 1 ? fk : fv;
        size_t cnt = which == 2 ? n * dv : n * d;
        for (size_t i = 0; i < cnt; i++) {
            double x0 = x[i];
            x[i] = x0 + h;
            double lp = fd_loss(n, d, dv, qd, kd, vd, gd, scale, km);
            x[i] = x0 - h;
            double lm = fd_loss(n, d, dv, qd, kd, vd, gd, scale, km);
            x[i] = x0;
            f[i] = (lp - lm) / (2.0 * h);
        }
    }
    for (int mi = 0; mi < nm; mi++) {
        float p[FD_MAX * FD_MAX], dp[FD_MAX * FD_MAX];
        float dq[FD_MAX * FD_MAX], dk[FD_MAX * FD_MAX], dvv[FD_MAX * FD_MAX];
        memset(dp, 0, sizeof dp);
        memset(dq, 0, sizeof dq);
        memset(dk, 0, sizeof dk);
        memset(dvv, 0, sizeof dvv);
        ttr_set_cpu_mask(masks[mi]);
        ttr_attn_probs_f32(n, d, q, d, k, d, scale, km, p, n);
        ttr_attn_apply_bwd_f32(n, dv, p, n, v, dv, g, dv, dp, n, dvv, dv);
        ttr_attn_probs_bwd_f32(n, d, q, d, k, d, scale, p, n, dp, n, dq, d, dk, d);
        for (int which = 0; which < 3; which++) {
            const float *a = which == 0 ? dq : which == 1 ? dk : dvv;
            const double *f = which == 0 ? fq : which == 1 ? fk : fv;
            size_t cols = which == 2 ? dv : d;
            for (size_t i = 0; i < n * cols; i++) {
                cr_assert(fabs((double)a[i] - f[i]) <= 2e-5 + 1e-4 * fabs(f[i]),
                          "fd %s n=%zu d=%zu: d%s[%zu][%zu] = %.9g, finite difference %.9g",
                          names[mi], n, d, which == 0 ? "q" : which == 1 ? "k" : "v", i / cols,
                          i % cols, (double)a[i], f[i]);
                if (km && which > 0 && !km[i / cols]) /* masked keys: exactly no gradient */
                    cr_assert_eq(a[i], 0.0f, "fd %s: masked key %zu has a gradient", names[mi],
                                 i / cols);
            }
        }
    }
}

Test(attn, backward_vs_finite_differences)
{
    unsigned masks[8];
    const char *names[8];
    int nm = tu_masks(masks, names);
    tu_rng rng = tu_rng_seed(22);
    static const uint8_t km5[5] = {1, 1, 0, 1, 1};
    fd_case(5, 3, 4, 0.6f, km5, &rng, masks, names, nm);
    fd_case(11, 17, 9, 0.3f, NULL, &rng, masks, names, nm);
    static const uint8_t km19[19] = {1, 0, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1};
    fd_case(19, 2, 18, 1.1f, km19, &rng, masks, names, nm);
}
