/* ttr_item_held_out: which items an app keeps out of training to measure
 * the click log-likelihood of documents the model has not seen. */
#include <string.h>

#include "model.h"

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

int ttr_item_held_out(const float *x, uint32_t n_features, uint64_t seed, float share)
{
    if (!x || !(share > 0.0f))
        return 0;
    uint64_t k = mix64(seed ^ 0x686f6c646f7574ull);
    for (uint32_t t = 0; t < n_features; t++) {
        uint32_t u;
        float v = x[t] == 0.0f ? 0.0f : x[t]; /* -0 and 0 are the same item */
        memcpy(&u, &v, 4);
        k = mix64(k ^ u ^ ((uint64_t)t << 32));
    }
    return (double)(k >> 11) * 0x1.0p-53 < (double)share;
}
