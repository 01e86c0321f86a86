/* Fuzz target: the ONNX reader (ttr_onnx_open, _tower_info, _config,
 * _load) on the bytes as a file, and a score with the imported tower.
 *
 * Invariants (a violation traps):
 * - open returns TTR_OK or a negative code; on any code but ARG and NOMEM
 *   it sets the ttr_onnx, whose message is empty exactly on success and
 *   printable; nothing is read outside the input (a copy that ends where
 *   the input does: ASan sees a read past it) or written outside the
 *   scratch and the arena;
 * - a tower that opens has 1..4 hidden layers' worth of widths in range,
 *   and its configuration loads; the model scores finite features. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "ttr_onnx.h"

#define ARENA_CAP (768u * 1024u)

static unsigned char scratch[TTR_ONNX_SCRATCH];
static unsigned char arena[ARENA_CAP];

static void check_message(const ttr_onnx *o, int err)
{
    const char *msg = ttr_onnx_error(o);
    size_t n = strlen(msg);
    FUZZ_CHECK((n == 0) == (err == TTR_OK) && n < 200);
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK(msg[i] >= 0x20 && msg[i] < 0x7f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    unsigned char *copy = malloc(size); /* ends where the input does */
    FUZZ_CHECK(copy != NULL);
    memcpy(copy, data, size);
    ttr_onnx *o = NULL;
    int err = ttr_onnx_open(&o, copy, size, scratch, sizeof scratch);
    FUZZ_CHECK(err <= 0 && err != TTR_ERR_ARG && err != TTR_ERR_NOMEM && o != NULL);
    check_message(o, err);
    ttr_onnx_tower t;
    ttr_config c;
    ttr_model *m = NULL;
    FUZZ_CHECK(ttr_onnx_tower_info(o, &t) == err);
    if (err || ttr_onnx_config(o, t.n_out == 1 ? TTR_ADDITIVE : TTR_DOT, &c) != TTR_OK) {
        free(copy);
        return 0;
    }
    FUZZ_CHECK(t.n_hidden <= TTR_MAX_HIDDEN && t.n_features >= 1 && t.n_features <= 65536);
    size_t need = ttr_arena_bytes(&c, TTR_MODE_TRAIN);
    if (need && need <= ARENA_CAP) {
        FUZZ_CHECK(ttr_onnx_load(&m, &c, arena + ARENA_CAP - need, need, o) == TTR_OK);
        float x[4 * 64] = {0}, s[4];
        if (t.n_features <= 64) {
            int e = ttr_score(m, 4, x, t.n_features, s);
            FUZZ_CHECK(e == TTR_OK || e == TTR_ERR_NONFINITE);
        }
    }
    free(copy);
    return 0;
}
