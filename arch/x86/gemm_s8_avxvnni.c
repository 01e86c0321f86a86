/* AVX-VNNI int8 layer kernels: ttr_gemm_s8 and ttr_gemm_s8_relu_q over the
 * packed layout of ttr_kernels.h (panels of 16 outputs, blocks of 4 inputs,
 * 64 bytes per block: output r's 4 weights at r*4), bit-exact with
 * src/ref_gemm_s8.c. Compiled with -mavx2 -mfma -mavxvnni; installed by
 * init_x86.c only when the CPU has AVX2+FMA and AVX-VNNI (TTR_CPU_AVXVNNI).
 * Activation quantization stays on the AVX2 code (ttr__quantize_s8_avx2).
 *
 * Same structure as gemm_s8_avx2.c (layers of up to 64 outputs: one item at
 * a time with every output in registers, the driver of gemm_s8_rows.h;
 * wider ones: tiles of 4 items x 16 outputs) and the same float epilogue
 * (gemm_s8_x86.h). Only the products differ. The VEX vpdpbusd
 * (_mm256_dpbusd_avx_epi32(acc, u, s)) multiplies, per 32-bit lane, 4
 * unsigned bytes of u by the 4 signed bytes of s, and adds the 4 products
 * and acc in int32 without saturation (wrapping, but see the bound below):
 * what AVX2 needs maddubs + madd(ones) + add for, in one instruction, and
 * with no int16 intermediate that could saturate.
 *
 *   rows with no negative byte (the ReLU outputs that ttr_gemm_s8_relu_q
 *   feeds to the next layer, non-negative features): u = the activations
 *   (0..127), s = the weights. 1 uop per 32 products.
 *   rows with a negative byte in the register path (layers of up to 64
 *   outputs) in calls of 3 items or more: the bias encoding, u = q ^ 0x80
 *   = q + 128 as an unsigned byte (0..255), s = the weights unchanged, so
 *   vpdpbusd sums (q + 128) * w, and the accumulators start at
 *   -128 * sum_t w[j][t] instead of 0. That start is minus the sums of a
 *   row of bytes 0x80 (SGN 4 below), computed by the call's first signed
 *   row and kept for the others. 1 uop per 32 products, one xor per block
 *   of 4 inputs (shared by all outputs), and one more pass over the
 *   weights per call. Padding needs no care: q's bytes k..KPAD(k) are 0
 *   (u = 128) but their weights are 0, as are all weights of padded
 *   outputs.
 *   the other rows with a negative byte (calls of 1 or 2 items, where the
 *   start would cost about what it saves; layers of more than 64 outputs,
 *   gemm_s8_tiles): the sign trick, u = |q| (0..128; abs(-128) = 0x80 =
 *   128 unsigned), s = sign(w, q) = w * sign(q) (-127..127, since w is
 *   never -128), so u * s = q * w. 2 uops per 32 products.
 *
 * Exactness: each product is exact, and vpdpbusd adds them into the int32
 * lane without saturation, wrapping around modulo 2^32 if a sum left int32;
 * none does, as w is never -128 and KPAD(k) <= 2^16 (the header's k):
 *   a lane starting at 0 gathers at most KPAD(k) * 255 * 127 = 2122383360
 *   < 2^31 in magnitude (u <= 255; the sign trick's u <= 128);
 *   the bias start, -128 * sum_t w, is at most KPAD(k) * 128 * 127 =
 *   1065353216, and a lane started there holds, after any set D of blocks,
 *   -128 * sum_{t not in D} w + sum_{t in D} q * w (the 128s of the blocks
 *   done cancel their part of the start): at most KPAD(k) * 128 * 127
 *   again, and in the end the true sum.
 * (Were there a wrap, it would cancel, the final sum being in range.) The
 * int32 sums therefore equal the reference's exactly, in any order, and the
 * epilogue (shared with the AVX2 file, -ffp-contract=off) does the rest. */
#include "gemm_s8_x86.h"

/* The modes of a row (SGN; the tiles use 0..2), xb being the block's 4
 * activations, broadcast, and xu the unsigned operand:
 *   0: no negative byte: xu = xb;
 *   1: the sign trick, xu = |xb| computed per block;
 *   2: the sign trick, xu = |q| read from the precomputed row u (abs_row);
 *   3: the bias encoding, xu = xb ^ 0x80 (to be started at minus mode 4);
 *   4: a row of bytes 0x80 (q not read): 128 * the column sums.
 * acc += one block's products for 8 outputs. */
TTR_AI __m256i dp_step(const int SGN, __m256i acc, __m256i xb, __m256i xu, __m256i w)
{
    return SGN == 1 || SGN == 2 ? _mm256_dpbusd_avx_epi32(acc, xu, _mm256_sign_epi8(w, xb))
                                : _mm256_dpbusd_avx_epi32(acc, xu, w);
}

/* The broadcast block at byte t, and its unsigned operand. Macros, so that
 * q and u (NULL where their mode does not read them) are only offset where
 * they are used. */
#define XB(SGN, q, t) ((SGN) == 4 ? _mm256_set1_epi8(-128) : bcast4((q) + (t)))
#define XU(SGN, xb, u, t)                                                                    \
    ((SGN) == 2   ? bcast4((u) + (t))                                                        \
     : (SGN) == 1 ? _mm256_abs_epi8(xb)                                                      \
     : (SGN) == 3 ? _mm256_xor_si256((xb), _mm256_set1_epi8(-128))                           \
                  : (xb))

/* ------------------------------------------------------------------------
 * Layers of more than 64 outputs: tiles of 4 items x 1 panel, as in the
 * AVX2 file. 8 accumulators: 8 independent vpdpbusd chains per block.
 * ------------------------------------------------------------------------ */

TTR_AI void tile4(const int SGN, const int8_t *w, size_t kpad, const int8_t *const qs[4],
                  const int8_t *const us[4], __m256i acc[8])
{
    __m256i a00 = _mm256_setzero_si256(), a01 = a00, a10 = a00, a11 = a00;
    __m256i a20 = a00, a21 = a00, a30 = a00, a31 = a00;
    for (size_t t = 0; t < kpad; t += 4, w += 64) {
        const __m256i w0 = LOADW(w), w1 = LOADW(w + 32);
#define TILE_ROW(r, A0, A1)                                                                  \
    do {                                                                                     \
        const __m256i xb_ = bcast4(qs[r] + t), xu_ = XU(SGN, xb_, us[r], t);                 \
        A0 = dp_step(SGN, A0, xb_, xu_, w0);                                                 \
        A1 = dp_step(SGN, A1, xb_, xu_, w1);                                                 \
    } while (0)
        TILE_ROW(0, a00, a01);
        TILE_ROW(1, a10, a11);
        TILE_ROW(2, a20, a21);
        TILE_ROW(3, a30, a31);
#undef TILE_ROW
    }
    acc[0] = a00, acc[1] = a01, acc[2] = a10, acc[3] = a11;
    acc[4] = a20, acc[5] = a21, acc[6] = a30, acc[7] = a31;
}

/* One item x 1 panel: even and odd blocks in separate accumulators (4
 * chains, so vpdpbusd's latency is not the bound), summed at the end. */
TTR_AI void tile1(const int SGN, const int8_t *w, size_t kpad, const int8_t *qi,
                  const int8_t *ui, __m256i *o0, __m256i *o1)
{
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, b0 = a0, b1 = a0;
    size_t t = 0;
    for (; t + 8 <= kpad; t += 8, w += 128) {
        __m256i xb = bcast4(qi + t), xu = XU(SGN, xb, ui, t);
        a0 = dp_step(SGN, a0, xb, xu, LOADW(w));
        a1 = dp_step(SGN, a1, xb, xu, LOADW(w + 32));
        xb = bcast4(qi + t + 4);
        xu = XU(SGN, xb, ui, t + 4);
        b0 = dp_step(SGN, b0, xb, xu, LOADW(w + 64));
        b1 = dp_step(SGN, b1, xb, xu, LOADW(w + 96));
    }
    if (t < kpad) {
        const __m256i xb = bcast4(qi + t), xu = XU(SGN, xb, ui, t);
        a0 = dp_step(SGN, a0, xb, xu, LOADW(w));
        a1 = dp_step(SGN, a1, xb, xu, LOADW(w + 32));
    }
    *o0 = _mm256_add_epi32(a0, b0);
    *o1 = _mm256_add_epi32(a1, b1);
}

static void gemm_s8_tiles(size_t n, size_t m, size_t k, const int8_t *packed, const int8_t *q,
                          size_t ldq, const float *xscale, const float *wscale, const float *b,
                          float *y, size_t ldy, int relu)
{
    const size_t kpad = TTR_S8_KPAD(k);
    int8_t qa[QABS_BYTES]; /* |q| of the tile's rows, when one has a negative byte */
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const int8_t *const qs[4] = {q + i * ldq, q + (i + 1) * ldq, q + (i + 2) * ldq,
                                     q + (i + 3) * ldq};
        const int neg = row_has_negative(qs[0], kpad) || row_has_negative(qs[1], kpad) ||
                        row_has_negative(qs[2], kpad) || row_has_negative(qs[3], kpad);
        const int pre = neg && 4 * kpad <= QABS_BYTES;
        const int8_t *const us[4] = {qa, qa + kpad, qa + 2 * kpad, qa + 3 * kpad};
        if (pre)
            for (int r = 0; r < 4; r++)
                abs_row(qs[r], kpad, qa + (size_t)r * kpad);
        for (size_t j = 0; j < m; j += TTR_S8_PANEL) {
            const int8_t *w = packed + j * kpad;
            __m256i acc[8];
            if (!neg)
                tile4(0, w, kpad, qs, us, acc);
            else if (pre)
                tile4(2, w, kpad, qs, us, acc);
            else
                tile4(1, w, kpad, qs, us, acc);
            const size_t mr = m - j < TTR_S8_PANEL ? m - j : TTR_S8_PANEL;
            const float *bj = b ? b + j : NULL;
            float *yi = y + i * ldy + j;
            for (int r = 0; r < 4; r++)
                s8_out16(acc[2 * r], acc[2 * r + 1], xscale[i + (size_t)r], wscale + j, bj,
                         yi + (size_t)r * ldy, mr, relu);
        }
    }
    for (; i < n; i++) {
        const int8_t *qi = q + i * ldq;
        const int neg = row_has_negative(qi, kpad);
        const int pre = neg && kpad <= QABS_BYTES;
        if (pre)
            abs_row(qi, kpad, qa);
        for (size_t j = 0; j < m; j += TTR_S8_PANEL) {
            const int8_t *w = packed + j * kpad;
            __m256i a0, a1;
            if (!neg)
                tile1(0, w, kpad, qi, NULL, &a0, &a1);
            else if (pre)
                tile1(2, w, kpad, qi, qa, &a0, &a1);
            else
                tile1(1, w, kpad, qi, NULL, &a0, &a1);
            const size_t mr = m - j < TTR_S8_PANEL ? m - j : TTR_S8_PANEL;
            s8_out16(a0, a1, xscale[i], wscale + j, b ? b + j : NULL, y + i * ldy + j, mr, relu);
        }
    }
}

/* ------------------------------------------------------------------------
 * Layers of up to 64 outputs: the register path of gemm_s8_rows.h
 *
 * Per block, the item's 4 bytes are broadcast once and meet the block's
 * weights of all P panels (2P vectors). With P >= 3 the 2P accumulators
 * are enough independent chains; with P <= 2 (2 or 4 chains, each waiting
 * for vpdpbusd's latency) even and odd blocks go to separate accumulators
 * (acc[4..7]), added at the end. SGN as for dp_step; the accumulators
 * start at start[0..2P) with SGN 3, else at 0.
 * ------------------------------------------------------------------------ */
TTR_AI void row_acc_from(const int P, const int SGN, const int8_t *w, size_t pstride,
                         const int8_t *qi, const int8_t *ua, size_t nblk, const __m256i *start,
                         __m256i acc[8])
{
    const int8_t *w0 = w, *w1 = P > 1 ? w + pstride : w;
    const int8_t *w2 = P > 2 ? w + 2 * pstride : w, *w3 = P > 3 ? w + 3 * pstride : w;
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
    __m256i a4 = a0, a5 = a0, a6 = a0, a7 = a0;
    if (SGN == 3) { /* P <= 2: a4..a7, the odd blocks' sums, from 0 */
        a0 = start[0], a1 = start[1];
        if (P > 1)
            a2 = start[2], a3 = start[3];
        if (P > 2)
            a4 = start[4], a5 = start[5];
        if (P > 3)
            a6 = start[6], a7 = start[7];
    }
    size_t bk = 0, off = 0;
    if (P <= 2) {
        for (; bk + 2 <= nblk; bk += 2, off += 128) {
            __m256i xb = XB(SGN, qi, 4 * bk), xu = XU(SGN, xb, ua, 4 * bk);
            a0 = dp_step(SGN, a0, xb, xu, LOADW(w0 + off));
            a1 = dp_step(SGN, a1, xb, xu, LOADW(w0 + off + 32));
            if (P > 1) {
                a2 = dp_step(SGN, a2, xb, xu, LOADW(w1 + off));
                a3 = dp_step(SGN, a3, xb, xu, LOADW(w1 + off + 32));
            }
            xb = XB(SGN, qi, 4 * bk + 4);
            xu = XU(SGN, xb, ua, 4 * bk + 4);
            a4 = dp_step(SGN, a4, xb, xu, LOADW(w0 + off + 64));
            a5 = dp_step(SGN, a5, xb, xu, LOADW(w0 + off + 96));
            if (P > 1) {
                a6 = dp_step(SGN, a6, xb, xu, LOADW(w1 + off + 64));
                a7 = dp_step(SGN, a7, xb, xu, LOADW(w1 + off + 96));
            }
        }
    }
    for (; bk < nblk; bk++, off += 64) { /* P >= 3: every block; P <= 2: the odd last one */
        const __m256i xb = XB(SGN, qi, 4 * bk), xu = XU(SGN, xb, ua, 4 * bk);
        a0 = dp_step(SGN, a0, xb, xu, LOADW(w0 + off));
        a1 = dp_step(SGN, a1, xb, xu, LOADW(w0 + off + 32));
        if (P > 1) {
            a2 = dp_step(SGN, a2, xb, xu, LOADW(w1 + off));
            a3 = dp_step(SGN, a3, xb, xu, LOADW(w1 + off + 32));
        }
        if (P > 2) {
            a4 = dp_step(SGN, a4, xb, xu, LOADW(w2 + off));
            a5 = dp_step(SGN, a5, xb, xu, LOADW(w2 + off + 32));
        }
        if (P > 3) {
            a6 = dp_step(SGN, a6, xb, xu, LOADW(w3 + off));
            a7 = dp_step(SGN, a7, xb, xu, LOADW(w3 + off + 32));
        }
    }
    if (P <= 2) {
        a0 = _mm256_add_epi32(a0, a4);
        a1 = _mm256_add_epi32(a1, a5);
        a2 = _mm256_add_epi32(a2, a6);
        a3 = _mm256_add_epi32(a3, a7);
    }
    acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3;
    acc[4] = a4, acc[5] = a5, acc[6] = a6, acc[7] = a7;
}

/* What gemm_s8_rows.h calls for SGN 0, 1, 2 and 4. */
TTR_AI void row_acc(const int P, const int SGN, const int8_t *w, size_t pstride,
                    const int8_t *qi, const int8_t *ua, size_t nblk, __m256i acc[8])
{
    row_acc_from(P, SGN, w, pstride, qi, ua, nblk, NULL, acc);
}

#define ROWS_WIDE gemm_s8_tiles
#define ROW_BIAS128 /* signed rows: SGN 3 and 4 (see the top of the file) */
#include "gemm_s8_rows.h"

void ttr__init_gemm_s8_avxvnni(ttr__kernels *t)
{
    TTR__SET(t, gemm_s8, rows_gemm_s8, "avxvnni");
    TTR__SET(t, gemm_s8_relu_q, rows_gemm_s8_relu_q, "avxvnni");
    TTR__SET(t, gemm_s8_dot, rows_gemm_s8_dot, "avxvnni");
}
