/* Fuzz target: the safetensors reader (ttr_safetensors_open, _config,
 * _load) on a memory stream, and what an import does next.
 *
 * Invariants (a violation traps):
 * - open, config and load return TTR_OK or a negative code and set their
 *   outputs only on success; nothing is written outside the scratch and
 *   the arena (both end at the end of static buffers: ASan sees a write
 *   past them);
 * - the entries open reports are F32, at most 2-D, inside the stream's
 *   claimed data;
 * - a loaded model scores finite features (TTR_OK or TTR_ERR_NONFINITE),
 *   and exported again it imports again to the same export bytes. */
#include <string.h>

#include "fuzz_common.h"
#include "ttr_io.h"
#include "ttr_safetensors.h"

#define ARENA_CAP (768u * 1024u)
#define EXPORT_CAP (1u << 20)

static unsigned char scratch[TTR_SAFETENSORS_SCRATCH];
static unsigned char arena[ARENA_CAP], arena2[ARENA_CAP];
static unsigned char out_a[EXPORT_CAP], out_b[EXPORT_CAP];

/* Import from data; the model (in buf) or NULL. */
static ttr_model *import(const uint8_t *data, size_t size, unsigned char *buf, int *err)
{
    ttr_mem_reader r = {data, size, 0};
    ttr_safetensors *s = NULL;
    ttr_config c;
    ttr_model *m = NULL;
    *err = ttr_safetensors_open(&s, ttr_mem_read, &r, scratch, sizeof scratch);
    FUZZ_CHECK(*err <= 0 && (*err == 0) == (s != NULL));
    if (*err)
        return NULL;
    for (uint32_t i = 0; i < ttr_safetensors_count(s); i++) {
        const char *name;
        uint32_t rows, cols;
        FUZZ_CHECK(ttr_safetensors_tensor(s, i, &name, &rows, &cols) == TTR_OK);
        FUZZ_CHECK(strlen(name) < 40);
    }
    if ((*err = ttr_safetensors_config(s, &c)) != 0)
        return NULL;
    FUZZ_CHECK(ttr_config_check(&c, NULL) == TTR_OK);
    size_t need = ttr_arena_bytes(&c, TTR_MODE_TRAIN);
    if (need == 0 || need > ARENA_CAP)
        return NULL;
    *err = ttr_safetensors_load(&m, &c, buf + ARENA_CAP - need, need, s);
    FUZZ_CHECK(*err <= 0 && (*err == 0) == (m != NULL));
    return m;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int err;
    ttr_model *m = import(data, size, arena, &err);
    if (!m)
        return 0;
    float x[4 * 64] = {0}, s[4];
    uint32_t F = ttr_model_config(m)->n_features;
    if (F <= 64) {
        int e = ttr_score(m, 4, x, F, s);
        FUZZ_CHECK(e == TTR_OK || e == TTR_ERR_NONFINITE);
    }
    ttr_mem_writer wa = {out_a, sizeof out_a, 0}, wb = {out_b, sizeof out_b, 0};
    if (ttr_safetensors_save(m, ttr_mem_write, &wa) != TTR_OK)
        return 0; /* larger than the buffer */
    ttr_model *m2 = import(out_a, wa.size, arena2, &err);
    FUZZ_CHECK(m2 != NULL);
    FUZZ_CHECK(ttr_safetensors_save(m2, ttr_mem_write, &wb) == TTR_OK);
    FUZZ_CHECK(wa.size == wb.size && !memcmp(out_a, out_b, wa.size));
    return 0;
}
