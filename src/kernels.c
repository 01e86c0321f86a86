/* The kernel table and the public kernel entry points, generated from the
 * list in kernel_list.h.
 *
 * The table is filled with the scalar references, then the architecture's
 * init upgrades the entries it has for the allowed features (dav1d style:
 * C first, then in ISA order). Public functions forward to the table. */
#include <pthread.h>

#include "cpu.h"
#include "kernel_table.h"

static ttr__kernels g_table;
static pthread_once_t g_table_once = PTHREAD_ONCE_INIT;

/* The scalar table: every reference under its name, designated (a list
 * edit cannot shift an entry into another's place). */
#define TTR__KERNEL_REF_ENTRY(name, ...) .name = ttr__##name##_c, .name##_isa = "scalar",
static const ttr__kernels g_scalar = {
    TTR__KERNELS(TTR__KERNEL_REF_ENTRY)
    .gemm_s8_dot = ttr__gemm_s8_dot_composite,
    .gemm_s8_dot_isa = "scalar",
};
#undef TTR__KERNEL_REF_ENTRY

static void build_table(void)
{
    ttr__kernels t = g_scalar;
    /* the fused int8 kernels run as their composites: the same bits as the
     * references, in one pass where the references recompute */
    t.quantize_norm_s8 = ttr__quantize_norm_s8_composite;
    t.gemm_s8_relu_q = ttr__gemm_s8_relu_q_composite;
    unsigned flags = ttr_cpu_flags();
#if defined(__x86_64__) || defined(__i386__)
    ttr__kernels_init_x86(&t, flags);
#endif
#if defined(__aarch64__) || defined(__arm__)
    ttr__kernels_init_arm(&t, flags);
#endif
    (void)flags;
    g_table = t;
}

const ttr__kernels *ttr__kernels_get(void)
{
    pthread_once(&g_table_once, build_table);
    return &g_table;
}

void ttr_set_cpu_mask(unsigned mask)
{
    pthread_once(&g_table_once, build_table);
    ttr__cpu_set_mask(mask);
    build_table();
}

const char *ttr_kernel_isa(ttr_kernel_id id)
{
    const ttr__kernels *t = ttr__kernels_get();
    switch (id) {
#define TTR__KERNEL_ISA_CASE(name, id, ...)                                                        \
    case id:                                                                                       \
        return t->name##_isa;
        TTR__KERNELS(TTR__KERNEL_ISA_CASE)
#undef TTR__KERNEL_ISA_CASE
    default:
        return NULL;
    }
}

/* The public kernels: each forwards to its entry of the active table. */
#define TTR__KERNEL_FORWARD(name, id, ret, rk, pub, params, args)                                  \
    ret pub params                                                                                 \
    {                                                                                              \
        rk ttr__kernels_get()->name args;                                                          \
    }
TTR__KERNELS(TTR__KERNEL_FORWARD)
#undef TTR__KERNEL_FORWARD

/* The matrix-vector forms of the two dense kernels. */
void ttr_gemv_f32(size_t m, size_t k, const float *packed, const float *x, const float *b,
                  float *y, int relu)
{
    ttr__kernels_get()->gemm_f32(1, m, k, packed, x, k, b, y, m, relu);
}

void ttr_gemv_s8(size_t m, size_t k, const int8_t *packed, const int8_t *q, float xscale,
                 const float *wscale, const float *b, float *y, int relu)
{
    ttr__kernels_get()->gemm_s8(1, m, k, packed, q, TTR_S8_KPAD(k), &xscale, wscale, b, y, m,
                                relu);
}
