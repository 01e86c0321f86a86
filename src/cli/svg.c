/* The demo's plots: bias curves (scenario 1), XPA attention (scenario 2) and
 * NDCG per variant, rendered by the library (ttr_svg_*) and written here. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "demo.h"
#include "svg.h"
#include "sim/ttr_sim.h"

int ttr_cli_ensure_dir(const char *dir)
{
    struct stat st;
    if (!stat(dir, &st))
        return S_ISDIR(st.st_mode) ? 0 : (errno = ENOTDIR, -1);
    return mkdir(dir, 0777);
}

int ttr_cli_write_file(const char *path, const char *data, size_t len)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid()) >= (int)sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return -1;
    int ok = fwrite(data, 1, len, f) == len;
    ok &= fclose(f) == 0;
    if (!ok || rename(tmp, path)) {
        int e = errno;
        remove(tmp);
        errno = e ? e : EIO;
        return -1;
    }
    return 0;
}

static int save(const char *dir, const char *name, const char *buf, int len)
{
    char path[4096];
    if (len < 0) {
        errno = len == TTR_ERR_NOMEM ? ENOMEM : EINVAL;
        return -1;
    }
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return ttr_cli_write_file(path, buf, (size_t)len);
}

int ttr_demo_write_plots(const char *dir, const ttr_scenario_result *mixed,
                         const ttr_scenario_result *grid)
{
    enum { CAP = 1 << 17 };
    char *buf = malloc(CAP);
    int rc = -1;
    if (!buf)
        return -1;
    if (ttr_cli_ensure_dir(dir))
        goto out;
    {
        /* 1. bias per slot, relative to the top slot: truth and learned */
        const char *names[5] = {"truth: PBM log seen", "truth: position-only logit",
                                "additive g(slot)", "mixem component 1", "mixem component 2"};
        const float *vals[5] = {mixed->truth_pbm, mixed->truth_position, mixed->additive_bias,
                                mixed->mixem_bias[0], mixed->mixem_bias[1]};
        char n3[64], n4[64];
        snprintf(n3, sizeof n3, "mixem 1 (pi %.2f, w %.2f)", mixed->mixem_pi[0],
                 mixed->mixem_gain[0]);
        snprintf(n4, sizeof n4, "mixem 2 (pi %.2f, w %.2f)", mixed->mixem_pi[1],
                 mixed->mixem_gain[1]);
        names[3] = n3;
        names[4] = n4;
        int len = ttr_svg_lines(buf, CAP, "Scenario 1: learned slot bias vs simulated truth",
                                "slot", "logit relative to slot 1", 5, names, vals,
                                TTR_SCENARIO_SLOTS);
        if (save(dir, "bias_curves.svg", buf, len))
            goto out;
    }
    {
        /* 2. XPA attention over slot pairs, labelled row,col */
        char lab[TTR_SCENARIO_SLOTS][16];
        const char *labels[TTR_SCENARIO_SLOTS];
        for (uint32_t p = 0; p < TTR_SCENARIO_SLOTS; p++) {
            snprintf(lab[p], sizeof lab[p], "%u,%u", p / grid->cols, p % grid->cols);
            labels[p] = lab[p];
        }
        int len = ttr_svg_heatmap(buf, CAP, "Scenario 2: XPA mean attention a(p, p')",
                                  "attended slot p' (row,col)", "attending slot p (row,col)",
                                  TTR_SCENARIO_SLOTS, grid->attention, labels);
        if (save(dir, "attention.svg", buf, len))
            goto out;
    }
    {
        /* 3. NDCG@10 per variant, both scenarios */
        const char *names[2 * TTR_SCENARIO_MAX_ROWS];
        double vals[2 * TTR_SCENARIO_MAX_ROWS], lo = 1.0;
        int group[2 * TTR_SCENARIO_MAX_ROWS];
        size_t n = 0;
        const ttr_scenario_result *rs[2] = {mixed, grid};
        for (int s = 0; s < 2; s++)
            for (size_t i = 0; i < rs[s]->n_rows; i++) {
                names[n] = rs[s]->row[i].name;
                vals[n] = rs[s]->row[i].ndcg10;
                group[n] = s;
                lo = vals[n] < lo ? vals[n] : lo;
                n++;
            }
        const char *groups[2] = {"scenario 1: mixed users", "scenario 2: grid"};
        lo = (double)(int)(lo * 50.0 - 1.0) / 50.0; /* a bit below the lowest bar */
        int len = ttr_svg_bars(buf, CAP, "NDCG@10 per variant (held-out queries)", "NDCG@10", n,
                               names, vals, group, 2, groups, lo < 0 ? 0 : lo);
        if (save(dir, "ndcg.svg", buf, len))
            goto out;
    }
    rc = 0;
out:
    free(buf);
    return rc;
}
