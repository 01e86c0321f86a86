/* Private: the int8 packed weight layout (ttr_kernels.h: panels of
 * TTR_S8_PANEL outputs; inside a panel, blocks of 4 consecutive inputs, each
 * holding output 0's 4 weights, output 1's 4 weights, ...), written once for
 * the code that packs or reads it element by element (the scalar reference,
 * quantization, the model file). */
#ifndef TTR_SRC_S8_LAYOUT_H
#define TTR_SRC_S8_LAYOUT_H

#include <stddef.h>

#include "ttr_kernels.h"

/* Offset of W[j][t] in the packed layout of an m x k matrix, kpad =
 * TTR_S8_KPAD(k). */
static inline size_t ttr__s8_offset(size_t j, size_t t, size_t kpad)
{
    return (j / TTR_S8_PANEL) * TTR_S8_PANEL * kpad + (t / 4) * (TTR_S8_PANEL * 4) +
           (j % TTR_S8_PANEL) * 4 + t % 4;
}

#endif
