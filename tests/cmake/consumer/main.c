/* A program built against libttrank with CMake (scripts/test-cmake.sh):
 * tests/cmake/consumer finds the installed package with find_package(ttrank),
 * tests/cmake/subdir builds the source tree with add_subdirectory(). It
 * trains an additive model on one impression and ranks its items. The output
 * is the same on every target and build but the CPU path and, on 32-bit
 * targets, the arena size (pointers are smaller). */
#include <stdio.h>
#include <stdlib.h>
#include <ttrank.h>

#define N_ITEMS 8
#define N_FEAT 12

int main(void)
{
    ttr_config cfg;
    ttr_config_default(&cfg, TTR_ADDITIVE, N_FEAT);
    cfg.seed = 7;
    size_t bytes = ttr_arena_bytes(&cfg, TTR_MODE_TRAIN);
    void *arena = malloc(bytes);
    ttr_model *m = NULL;
    int err = arena ? ttr_model_init(&m, &cfg, TTR_MODE_TRAIN, arena, bytes) : TTR_ERR_NOMEM;

    /* one list shown in slots 0..7; items 2 and 5 clicked, below unclicked ones */
    static float x[N_ITEMS * N_FEAT];
    uint16_t slots[N_ITEMS];
    uint8_t clicks[N_ITEMS] = {0, 0, 1, 0, 0, 1, 0, 0};
    for (int i = 0; i < N_ITEMS; i++) {
        slots[i] = (uint16_t)i;
        for (int t = 0; t < N_FEAT; t++)
            x[i * N_FEAT + t] = (float)((i * 5 + t * 3) % 7) / 7.0f;
    }
    size_t offsets[2] = {0, N_ITEMS};
    ttr_batch batch = {1, offsets, x, N_FEAT, slots, clicks, NULL};
    for (int step = 0; step < 60 && err == TTR_OK; step++)
        err = ttr_train(m, &batch, NULL);

    float scores[N_ITEMS];
    if (err == TTR_OK)
        err = ttr_score(m, N_ITEMS, x, N_FEAT, scores);
    if (err != TTR_OK) {
        fprintf(stderr, "consumer: %s\n", ttr_strerror(err));
        free(arena);
        return 1;
    }
    /* the items by score, best first (ties: lower index first) */
    int order[N_ITEMS];
    for (int i = 0; i < N_ITEMS; i++) {
        int j = i;
        while (j > 0 && scores[order[j - 1]] < scores[i]) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = i;
    }
    printf("version %s (header %s)\n", ttr_version(), TTR_VERSION_STRING);
    printf("arena %zu bytes\n", bytes);
    printf("order");
    for (int i = 0; i < N_ITEMS; i++)
        printf(" %d", order[i]);
    printf("\npath %s\n", ttr_cpu_path_name(ttr_cpu_flags()));
    free(arena);
    /* the clicked items must come first */
    return (order[0] == 2 || order[0] == 5) && (order[1] == 2 || order[1] == 5) ? 0 : 2;
}
