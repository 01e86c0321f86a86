/* Scalar reference of the optimizer updates. */
#include <math.h>

#include "kernel_table.h"

static float flush_tiny(float v)
{
    return fabsf(v) < TTR_OPT_FLUSH ? 0.0f : v;
}

void ttr_adam_step_init(ttr_adam_step *s, float lr, float beta1, float beta2, float eps,
                        uint64_t t)
{
    double bc1 = 1.0 - pow(beta1, (double)t), sbc2 = sqrt(1.0 - pow(beta2, (double)t));
    s->beta1 = beta1;
    s->beta2 = beta2;
    s->lr_t = (float)(lr * sbc2 / bc1);
    s->eps_t = (float)(eps * sbc2);
}

void ttr__adam_c(size_t n, float *w, const float *g, float *m, float *v, float gscale,
                 const ttr_adam_step *s)
{
    float b1 = s->beta1, b2 = s->beta2, c1 = 1.0f - b1, c2 = 1.0f - b2;
    for (size_t i = 0; i < n; i++) {
        float gs = g[i] * gscale;
        float mi = flush_tiny(b1 * m[i] + c1 * gs);
        float vi = flush_tiny(b2 * v[i] + c2 * (gs * gs));
        m[i] = mi;
        v[i] = vi;
        w[i] -= s->lr_t * mi / (sqrtf(vi) + s->eps_t);
    }
}

void ttr__momentum_c(size_t n, float *w, const float *g, float *vel, float gscale, float lr,
                     float momentum)
{
    for (size_t i = 0; i < n; i++) {
        float vi = flush_tiny(momentum * vel[i] + g[i] * gscale);
        vel[i] = vi;
        w[i] -= lr * vi;
    }
}
