/* The impression buffer: what goes in comes out (f32 exactly, bfloat16
 * rounded to nearest even), the oldest list drops out of a full ring, and
 * bad lists are refused with the ring unchanged. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "ttr_loop.h"

#define F 5
#define N 4

/* List k: k % N + 1 items with features k + i + t / 8, slots reversed,
 * clicks on odd items, context k. */
static void make_list(int k, size_t *n, float *x, uint16_t *slots, uint8_t *clicks)
{
    *n = (size_t)(k % N) + 1;
    for (size_t i = 0; i < *n; i++) {
        for (int t = 0; t < F; t++)
            x[i * F + t] = (float)k + (float)i + (float)t / 8.0f;
        slots[i] = (uint16_t)(*n - 1 - i);
        clicks[i] = (uint8_t)(i & 1);
    }
}

static int add_list(ttr_replay *r, int k)
{
    size_t n, offs[2] = {0, 0};
    float x[N * F];
    uint16_t slots[N];
    uint8_t clicks[N];
    uint32_t ctx = (uint32_t)k;
    make_list(k, &n, x, slots, clicks);
    offs[1] = n;
    ttr_batch b = {1, offs, x, F, slots, clicks, &ctx};
    return ttr_replay_add(r, &b, 0);
}

static void assert_list(const ttr_replay *r, uint32_t age, int k)
{
    size_t n, want_n;
    float x[N * (F + 2)], wx[N * F];
    uint16_t slots[N], wslots[N];
    uint8_t clicks[N], wclicks[N];
    uint32_t ctx;
    make_list(k, &want_n, wx, wslots, wclicks);
    cr_assert_eq(ttr_replay_get(r, age, &n, x, F + 2, slots, clicks, &ctx), TTR_OK);
    cr_assert_eq(n, want_n, "age %u: %zu items, want %zu", age, n, want_n);
    cr_assert_eq(ctx, (uint32_t)k);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(slots[i], wslots[i]);
        cr_assert_eq(clicks[i], wclicks[i]);
        for (int t = 0; t < F; t++) /* these values are exact in bfloat16 too */
            cr_assert_eq(x[i * (F + 2) + t], wx[i * F + t], "age %u item %zu feature %d", age,
                         i, t);
    }
}

static ttr_replay *new_ring(uint32_t cap, ttr_replay_precision p, void **buf)
{
    size_t bytes = ttr_replay_bytes(F, N, cap, p);
    cr_assert_gt(bytes, 0);
    *buf = tu_alloc(bytes, 12);
    ttr_replay *r;
    cr_assert_eq(ttr_replay_init(&r, F, N, cap, p, *buf, bytes - 1), TTR_ERR_NOMEM);
    cr_assert_eq(ttr_replay_init(&r, F, N, cap, p, *buf, bytes), TTR_OK);
    return r;
}

Test(replay, ring_keeps_the_newest_lists)
{
    for (int p = 0; p < 2; p++) {
        void *buf;
        ttr_replay *r = new_ring(5, (ttr_replay_precision)p, &buf);
        cr_assert_eq(ttr_replay_count(r), 0);
        for (int k = 0; k < 13; k++) {
            cr_assert_eq(add_list(r, k), TTR_OK);
            cr_assert_eq(ttr_replay_count(r), k + 1 < 5 ? (uint32_t)k + 1 : 5u);
            cr_assert_eq(ttr_replay_added(r), (uint64_t)k + 1);
            for (uint32_t age = 0; age < ttr_replay_count(r); age++)
                assert_list(r, age, k - (int)age);
        }
        size_t n;
        cr_assert_eq(ttr_replay_get(r, 5, &n, NULL, 0, NULL, NULL, NULL), TTR_ERR_ARG);
        cr_assert(tu_guard_ok(buf));
        tu_free(buf);
    }
}

/* bfloat16 is the top half of the f32 bits after rounding to nearest even:
 * checked against the rounding done in double. */
Test(replay, bf16_rounds_to_nearest_even)
{
    void *buf;
    ttr_replay *r = new_ring(1, TTR_REPLAY_BF16, &buf);
    tu_rng g = tu_rng_seed(9);
    for (int round = 0; round < 200; round++) {
        float x[F];
        uint32_t bits[F];
        for (int t = 0; t < F; t++) {
            bits[t] = tu_u32(&g) & 0xbf7fffffu; /* finite, |x| < 2^1 * 2^127 */
            if (t == 0)
                bits[t] = (bits[t] & 0xffff0000u) | 0x8000u; /* a tie */
            memcpy(&x[t], &bits[t], 4);
        }
        size_t offs[2] = {0, 1}, n;
        uint16_t s = 0;
        uint8_t c = 1;
        ttr_batch b = {1, offs, x, F, &s, &c, NULL};
        cr_assert_eq(ttr_replay_add(r, &b, 0), TTR_OK);
        float y[F];
        cr_assert_eq(ttr_replay_get(r, 0, &n, y, F, NULL, NULL, NULL), TTR_OK);
        for (int t = 0; t < F; t++) {
            /* the two bfloat16 neighbours of x and the nearest (even on a tie) */
            uint32_t lo = bits[t] & 0xffff0000u, hi = lo + 0x10000u;
            float flo, fhi;
            memcpy(&flo, &lo, 4);
            memcpy(&fhi, &hi, 4);
            double dlo = fabs((double)x[t] - flo), dhi = fabs((double)fhi - x[t]);
            uint32_t want = dlo < dhi ? lo : dhi < dlo ? hi : ((lo >> 16) & 1 ? hi : lo);
            uint32_t got;
            memcpy(&got, &y[t], 4);
            cr_assert_eq(got, want, "round %d feature %d: %08x -> %08x, want %08x", round, t,
                         bits[t], got, want);
        }
    }
    tu_free(buf);
}

Test(replay, bad_lists_leave_the_ring_unchanged)
{
    void *buf;
    ttr_replay *r = new_ring(3, TTR_REPLAY_BF16, &buf);
    cr_assert_eq(add_list(r, 1), TTR_OK);
    float x[N * F] = {0};
    uint16_t slots[N] = {0, 1, 2, 3};
    uint8_t clicks[N] = {0};
    size_t offs[2] = {0, 2}, long_offs[2] = {0, N + 1};
    ttr_batch b = {1, offs, x, F, slots, clicks, NULL};
    x[3] = NAN;
    cr_assert_eq(ttr_replay_add(r, &b, 0), TTR_ERR_NONFINITE);
    uint32_t inf_bits = 0x7f7f8000u, max_bits = 0x7f7f7fffu;
    memcpy(&x[3], &inf_bits, 4); /* 0x1.ffp127: rounds to Inf in bfloat16 */
    cr_assert_eq(ttr_replay_add(r, &b, 0), TTR_ERR_NONFINITE);
    memcpy(&x[3], &max_bits, 4); /* the largest that does not */
    clicks[1] = 2;
    cr_assert_eq(ttr_replay_add(r, &b, 0), TTR_ERR_ARG);
    clicks[1] = 1;
    cr_assert_eq(ttr_replay_add(r, &b, 1), TTR_ERR_ARG, "list out of range");
    b.offsets = long_offs;
    cr_assert_eq(ttr_replay_add(r, &b, 0), TTR_ERR_ARG, "longer than max_items");
    b.offsets = offs;
    b.ldx = F - 1;
    cr_assert_eq(ttr_replay_add(r, &b, 0), TTR_ERR_ARG);
    cr_assert_eq(ttr_replay_add(NULL, &b, 0), TTR_ERR_ARG);
    cr_assert_eq(ttr_replay_count(r), 1);
    cr_assert_eq(ttr_replay_added(r), 1);
    assert_list(r, 0, 1);
    b.ldx = F;
    cr_assert_eq(ttr_replay_add(r, &b, 0), TTR_OK);
    cr_assert_eq(ttr_replay_count(r), 2);
    cr_assert_eq(ttr_replay_bytes(0, N, 3, TTR_REPLAY_F32), 0);
    cr_assert_eq(ttr_replay_bytes(F, 0, 3, TTR_REPLAY_F32), 0);
    cr_assert_eq(ttr_replay_bytes(F, N, 0, TTR_REPLAY_F32), 0);
    cr_assert_eq(ttr_replay_bytes(F, N, 3, (ttr_replay_precision)7), 0);
    tu_free(buf);
}

/* bfloat16 takes about half the bytes of f32 for the features. */
Test(replay, bf16_halves_the_features)
{
    size_t f32 = ttr_replay_bytes(46, 10, 256, TTR_REPLAY_F32);
    size_t b16 = ttr_replay_bytes(46, 10, 256, TTR_REPLAY_BF16);
    cr_assert_eq(f32 - b16, 256u * 10 * 46 * 2, "%zu vs %zu", f32, b16);
}
