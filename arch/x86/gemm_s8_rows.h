/* Private: the driver of the int8 register path (layers of up to 64
 * outputs), as a template. The including file (gemm_s8_avx2.c,
 * gemm_s8_avxvnni.c) first includes gemm_s8_x86.h and defines
 *   TTR_AI void row_acc(const int P, const int SGN, const int8_t *w,
 *                       size_t pstride, const int8_t *qi, const int8_t *ua,
 *                       size_t nblk, __m256i acc[8]);
 * (one item's exact int32 sums over P panels of 16 outputs: acc[2p], acc[2p+1]
 * are outputs 16p..16p+7 and 16p+8..16p+15; SGN 0: a row without negative
 * bytes, 1: the sign trick in the loop, 2: with |q| precomputed in ua) and its
 * kernel for wider layers
 *   static void ROWS_WIDE(n, m, k, packed, q, ldq, xscale, wscale, b, y, ldy, relu)
 * (a macro naming it), then includes this file, which defines rows_run() for
 * that row_item_acc and the entry points rows_gemm_s8(), rows_gemm_s8_relu_q()
 * and rows_gemm_s8_dot() (the table's internal gemm_s8_dot). Include once
 * per file.
 *
 * With ROW_BIAS128 defined (gemm_s8_avxvnni.c only: its vpdpbusd takes
 * unsigned bytes up to 255, where the AVX2 file's maddubs would saturate
 * its int16 pairs), row_acc also has SGN 4, the sums of a row of bytes 0x80
 * (qi unused: 128 * the column sums), and the file also defines
 *   TTR_AI void row_acc_from(P, SGN, w, pstride, qi, ua, nblk,
 *                            const __m256i *start, __m256i acc[8]);
 * (row_acc with the accumulators starting at start[] for SGN 3: a signed
 * row as q ^ 0x80 = q + 128, started at minus SGN 4's sums). A call of 3
 * items or more (ROW_BIAS_CALL) computes that start for its first signed
 * row and reuses it for the others. */
#ifndef TTR_ARCH_X86_GEMM_S8_ROWS_H
#define TTR_ARCH_X86_GEMM_S8_ROWS_H

#ifdef ROW_BIAS128
/* SGN 3's start for one call: -128 * the column sums, once ready. */
typedef struct row_bias {
    __m256i acc[8];
    int ready;
} row_bias;
#define ROW_BIAS_ARG(x) , x
#else
#define ROW_BIAS_ARG(x)
#endif

/* One item's accumulators, for the sign of its row. rb (ROW_BIAS128 only):
 * the call's SGN 3 start, or NULL for the sign trick. */
TTR_AI void row_item_acc(const int P, const int8_t *w, size_t pstride, const int8_t *qi,
                         size_t kpad ROW_BIAS_ARG(row_bias *rb), __m256i acc[8])
{
    if (!row_has_negative(qi, kpad)) {
        row_acc(P, 0, w, pstride, qi, NULL, kpad / 4, acc);
#ifdef ROW_BIAS128
    } else if (rb) {
        if (!rb->ready) {
            row_acc(P, 4, w, pstride, NULL, NULL, kpad / 4, rb->acc);
            for (int v = 0; v < 8; v++)
                rb->acc[v] = _mm256_sub_epi32(_mm256_setzero_si256(), rb->acc[v]);
            rb->ready = 1;
        }
        row_acc_from(P, 3, w, pstride, qi, NULL, kpad / 4, rb->acc, acc);
#endif
    } else if (P <= 2 && kpad <= QABS_BYTES) {
        int8_t ua[QABS_BYTES];
        abs_row(qi, kpad, ua);
        row_acc(P, 2, w, pstride, qi, ua, kpad / 4, acc);
    } else {
        row_acc(P, 1, w, pstride, qi, NULL, kpad / 4, acc);
    }
}

/* n items through a layer of P panels (y rows of ldy, or qo rows of ldqo);
 * BIAS (a constant, ROW_BIAS128 only): signed rows take SGN 3.
 * Items go in groups: the accumulators of ROW_GROUP items first (parked on
 * the stack), then their epilogues. An epilogue is one long dependency
 * chain (row max, a division, quantization: ~80 cycles) of few uops; back
 * to back, the epilogues of a group overlap each other and the next
 * group's products, where one item at a time left most of the chain
 * exposed. */
#define ROW_GROUP 4
TTR_AI void rows_impl(const int P, const int BIAS, size_t n, size_t kpad, const int8_t *packed,
                      const int8_t *q, size_t ldq, const float *xscale, const row_consts *rc,
                      float *y, size_t ldy, int8_t *qo, size_t ldqo, float *oscale)
{
    const size_t pstride = TTR_S8_PANEL * kpad;
    __m256i acc[ROW_GROUP][8];
#ifdef ROW_BIAS128
    row_bias bias, *rb = BIAS ? &bias : NULL;
    bias.ready = 0;
#else
    (void)BIAS;
#endif
    for (size_t i0 = 0; i0 < n; i0 += ROW_GROUP) {
        size_t g = n - i0 < ROW_GROUP ? n - i0 : ROW_GROUP;
        for (size_t u = 0; u < g; u++)
            row_item_acc(P, packed, pstride, q + (i0 + u) * ldq, kpad ROW_BIAS_ARG(rb), acc[u]);
        for (size_t u = 0; u < g; u++) {
            size_t i = i0 + u;
            row_item_out(P, acc[u], xscale[i], rc, qo ? NULL : y + i * ldy,
                         qo ? qo + i * ldqo : NULL, qo ? oscale + i : NULL);
        }
    }
}

#ifdef ROW_BIAS128
/* The start costs one more pass over the weights, about what SGN 3 saves
 * on two signed items (measured: 3-12% slower than the sign trick at n = 2,
 * level at n = 3, up to 28% faster at n = 100). Each rows_p* holds both
 * versions of rows_impl, so that calls of 1 or 2 items run the sign trick
 * as fast as before (a test of rb per row cost them 4-8%). */
#define ROW_BIAS_CALL(n) ((n) >= 3)
#else
#define ROW_BIAS_CALL(n) 0
#endif
#define ROWS_FN(P)                                                                          \
    static void rows_p##P(size_t n, size_t kpad, const int8_t *packed, const int8_t *q,      \
                          size_t ldq, const float *xscale, const row_consts *rc, float *y,   \
                          size_t ldy, int8_t *qo, size_t ldqo, float *oscale)                \
    {                                                                                       \
        if (ROW_BIAS_CALL(n))                                                               \
            rows_impl(P, 1, n, kpad, packed, q, ldq, xscale, rc, y, ldy, qo, ldqo, oscale);  \
        else                                                                                \
            rows_impl(P, 0, n, kpad, packed, q, ldq, xscale, rc, y, ldy, qo, ldqo, oscale);  \
    }
ROWS_FN(1)
ROWS_FN(2)
ROWS_FN(3)
ROWS_FN(4)

/* m in 1..64 (rc->m): the layer through the register path. */
static void rows_dispatch(size_t n, size_t k, const int8_t *packed, const int8_t *q, size_t ldq,
                          const float *xscale, const row_consts *rc, float *y, size_t ldy,
                          int8_t *qo, size_t ldqo, float *oscale)
{
    const size_t kpad = TTR_S8_KPAD(k);
    switch ((rc->m + TTR_S8_PANEL - 1) / TTR_S8_PANEL) {
    case 1:
        rows_p1(n, kpad, packed, q, ldq, xscale, rc, y, ldy, qo, ldqo, oscale);
        break;
    case 2:
        rows_p2(n, kpad, packed, q, ldq, xscale, rc, y, ldy, qo, ldqo, oscale);
        break;
    case 3:
        rows_p3(n, kpad, packed, q, ldq, xscale, rc, y, ldy, qo, ldqo, oscale);
        break;
    default:
        rows_p4(n, kpad, packed, q, ldq, xscale, rc, y, ldy, qo, ldqo, oscale);
        break;
    }
}

static void rows_run(size_t n, size_t m, size_t k, const int8_t *packed, const int8_t *q,
                     size_t ldq, const float *xscale, const float *wscale, const float *b,
                     int relu, float *y, size_t ldy, int8_t *qo, size_t ldqo, float *oscale)
{
    row_consts rc;
    row_consts_fill(&rc, m, wscale, b, relu);
    rows_dispatch(n, k, packed, q, ldq, xscale, &rc, y, ldy, qo, ldqo, oscale);
}

/* ttr_gemm_s8: the register path up to 64 outputs, the file's own kernel
 * beyond. */
static void rows_gemm_s8(size_t n, size_t m, size_t k, const int8_t *packed, const int8_t *q,
                         size_t ldq, const float *xscale, const float *wscale, const float *b,
                         float *y, size_t ldy, int relu)
{
    if (m == 0 || n == 0)
        return;
    if (m <= ROW_MAX_M)
        rows_run(n, m, k, packed, q, ldq, xscale, wscale, b, relu, y, ldy, NULL, 0, NULL);
    else
        ROWS_WIDE(n, m, k, packed, q, ldq, xscale, wscale, b, y, ldy, relu);
}

/* ttr_gemm_s8_relu_q: the register path up to 64 outputs; wider layers go
 * through ROWS_WIDE and ttr_quantize_s8 (AVX2) by a stack buffer, and beyond
 * RELU_Q_FLOATS outputs through the scalar reference. */
#define RELU_Q_FLOATS 1024
static void rows_gemm_s8_relu_q(size_t n, size_t m, size_t k, const int8_t *packed,
                                const int8_t *q, size_t ldq, const float *xscale,
                                const float *wscale, const float *b, int8_t *qo, size_t ldqo,
                                float *oscale)
{
    if (n == 0)
        return;
    if (m == 0) {
        for (size_t i = 0; i < n; i++)
            oscale[i] = 0.0f;
        return;
    }
    if (m <= ROW_MAX_M) {
        rows_run(n, m, k, packed, q, ldq, xscale, wscale, b, 1, NULL, 0, qo, ldqo, oscale);
        return;
    }
    if (m > RELU_Q_FLOATS) {
        ttr__gemm_s8_relu_q_c(n, m, k, packed, q, ldq, xscale, wscale, b, qo, ldqo, oscale);
        return;
    }
    float yb[RELU_Q_FLOATS];
    size_t rows = RELU_Q_FLOATS / m;
    for (size_t i = 0; i < n; i += rows) {
        size_t c = n - i < rows ? n - i : rows;
        ROWS_WIDE(c, m, k, packed, q + i * ldq, ldq, xscale + i, wscale, b, yb, m, 1);
        ttr__quantize_s8_avx2(c, m, yb, m, qo + i * ldqo, ldqo, oscale + i);
    }
}

/* gemm_s8_dot (kernel_table.h): up to 64 outputs, the score from the
 * registers (row_dot); wider layers through the composite. */
static void rows_gemm_s8_dot(size_t n, size_t m, size_t k, const int8_t *packed, const int8_t *q,
                             size_t ldq, const float *xscale, const float *wscale, const float *b,
                             const float *w2, float b2, float *score)
{
    if (n == 0)
        return;
    if (m == 0 || m > ROW_MAX_M) {
        ttr__gemm_s8_dot_composite(n, m, k, packed, q, ldq, xscale, wscale, b, w2, b2, score);
        return;
    }
    row_consts rc;
    row_consts_fill(&rc, m, wscale, b, 1);
    row_consts_dot(&rc, w2, b2);
    rows_dispatch(n, k, packed, q, ldq, xscale, &rc, score, 1, NULL, 0, NULL);
}

#endif
