/* A device's learning loop with ttrank (docs/loop.md): rank with the model
 * in service, learn from what users clicked, swap in a better model, keep
 * a checkpoint for power cuts. make check compiles and runs this file
 * (scripts/test-install.sh). The "device" here is simulated by
 * next_impression(): 10 items of 8 features, users who click relevant
 * items (feature 0) more often near the top. */
#include <stdio.h>
#include <stdlib.h>

#include <ttr_io.h>
#include <ttr_loop.h>

#define F 8
#define N 10

static unsigned long long g_state = 88172645463325252ull;
static float uniform(void) /* xorshift64: the same stream everywhere */
{
    g_state ^= g_state << 13, g_state ^= g_state >> 7, g_state ^= g_state << 17;
    return (float)(g_state >> 40) / 16777216.0f;
}

/* The app's UI: candidates, shown in slots by the ranking, clicked. */
static void next_impression(const ttr_model *serving, void *scratch, size_t scratch_bytes,
                            float *x, uint16_t *slots, uint8_t *clicks)
{
    float score[N];
    for (int i = 0; i < N * F; i++)
        x[i] = 2.0f * uniform() - 1.0f;
    ttr_score_with_scratch(serving, scratch, scratch_bytes, N, x, F, score);
    for (int i = 0; i < N; i++) { /* slot = rank by the serving model */
        slots[i] = 0;
        for (int j = 0; j < N; j++)
            slots[i] += score[j] > score[i] || (score[j] == score[i] && j < i);
    }
    for (int i = 0; i < N; i++)
        clicks[i] = uniform() < (x[i * F] > 0.3f ? 0.6f : 0.05f) / (1.0f + slots[i]);
}

int main(void)
{
    ttr_config mc;
    ttr_loop_config lc;
    ttr_config_default(&mc, TTR_ADDITIVE, F);
    ttr_loop_config_default(&lc);
    lc.window = 1024;
    size_t bytes = ttr_loop_bytes(&mc, &lc);
    size_t serve_bytes = ttr_arena_bytes(&mc, TTR_MODE_SERVE_F32);
    void *buf = malloc(bytes), *serve_buf = malloc(serve_bytes);
    ttr_loop *loop;
    ttr_model *serving;
    if (!buf || !serve_buf || ttr_loop_init(&loop, &mc, &lc, buf, bytes) ||
        ttr_model_to_serving(ttr_loop_champion(loop), &serving, serve_buf, serve_bytes))
        return 1;
    size_t scratch_bytes = ttr_score_scratch_bytes(serving);
    void *scratch = malloc(scratch_bytes);

    float x[N * F];
    uint16_t slots[N];
    uint8_t clicks[N];
    for (int t = 1; t <= 20000; t++) {
        ttr_loop_event ev;
        next_impression(serving, scratch, scratch_bytes, x, slots, clicks);
        if (ttr_loop_observe(loop, N, x, F, slots, clicks, 0, &ev))
            return 1;
        if (ev.promoted) /* a better champion: serve it (ttr_model_quantize for int8) */
            ttr_model_to_serving(ttr_loop_champion(loop), &serving, serve_buf, serve_bytes);
        if (t % 5000 == 0 && ttr_loop_save_file(loop, "/tmp/ttrank-example-loop.ckpt"))
            return 1;
    }

    ttr_loop_stats st;
    ttr_loop_stats_get(loop, &st);
    printf("%llu impressions, %llu promotions; click log-likelihood per item: learner %.3f, "
           "champion %.3f, constant rate %.3f\n",
           (unsigned long long)st.impressions, (unsigned long long)st.promotions,
           st.window_learner, st.window_champion, st.window_constant);
    remove("/tmp/ttrank-example-loop.ckpt");
    free(scratch), free(serve_buf), free(buf);
    return st.promotions > 0 && st.window_learner > st.window_constant ? 0 : 1;
}
