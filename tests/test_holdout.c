/* ttr_item_held_out: a deterministic share of distinct items. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include "testutil.h"

Test(holdout, share_and_determinism)
{
    tu_rng r = tu_rng_seed(11);
    float x[5];
    int n = 20000, held = 0, held2 = 0, both = 0;
    for (int i = 0; i < n; i++) {
        tu_fill_uniform(&r, x, 5, -3.0f, 3.0f);
        int a = ttr_item_held_out(x, 5, 1, 0.2f);
        cr_assert_eq(a, ttr_item_held_out(x, 5, 1, 0.2f));
        int b = ttr_item_held_out(x, 5, 2, 0.2f);
        held += a;
        held2 += b;
        both += a & b;
        /* a larger share holds out a superset */
        cr_assert(!a || ttr_item_held_out(x, 5, 1, 0.5f));
        cr_assert_eq(ttr_item_held_out(x, 5, 1, 0.0f), 0);
        cr_assert_eq(ttr_item_held_out(x, 5, 1, 1.0f), 1);
    }
    /* binomial(20000, 0.2): sd 57; 5 sd either side */
    cr_assert(abs(held - 4000) < 285, "held %d", held);
    cr_assert(abs(held2 - 4000) < 285, "held2 %d", held2);
    /* another seed draws another set: independent, 20000 * 0.04 = 800 (sd 28) */
    cr_assert(abs(both - 800) < 140, "both %d", both);
    cr_assert_eq(ttr_item_held_out(NULL, 5, 1, 0.5f), 0);
    cr_assert_eq(ttr_item_held_out(x, 5, 1, NAN), 0);
}

Test(holdout, depends_on_every_feature_not_on_the_sign_of_zero)
{
    float x[4] = {0.0f, 1.0f, 2.0f, 3.0f}, y[4] = {-0.0f, 1.0f, 2.0f, 3.0f};
    for (uint64_t s = 0; s < 200; s++)
        cr_assert_eq(ttr_item_held_out(x, 4, s, 0.5f), ttr_item_held_out(y, 4, s, 0.5f));
    /* changing any one feature (or the count) moves the item for some seeds */
    for (int t = 0; t <= 4; t++) {
        int moved = 0;
        for (uint64_t s = 0; s < 200; s++) {
            float z[4] = {0.0f, 1.0f, 2.0f, 3.0f};
            if (t < 4)
                z[t] += 0.5f;
            moved |= ttr_item_held_out(x, 4, s, 0.5f) != ttr_item_held_out(z, t < 4 ? 4 : 3, s, 0.5f);
        }
        cr_assert(moved, "feature %d", t);
    }
}
