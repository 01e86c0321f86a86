/* `ttrank eval` (NDCG@1/3/5/10 and MRR of the relevance tower on LETOR data;
 * mean click log-likelihood of a held-out click log) and `ttrank rank` (one
 * relevance score per LETOR line, in input order). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_commands.h"
#include "cmd_model.h"
#include "cmd_util.h"
#include "ttr_metrics.h"

static void eval_usage(FILE *f)
{
    fprintf(f,
        "Usage: ttrank eval --model MODEL --data LETOR [--query FILE] [--json]\n"
        "       ttrank eval --model MODEL --clicks CLICKS [--json]\n"
        "\n"
        "--data: NDCG@1/3/5/10 and MRR of the model's relevance tower (what it serves)\n"
        "against the graded labels, averaged over queries; queries without a relevant item\n"
        "(every label 0) have no NDCG and are skipped and counted.\n"
        "--clicks: mean log-likelihood per item of a (held-out) click log under the full\n"
        "model (relevance and bias towers; train-mode models only).\n"
        "\n"
        "Options:\n"
        "  --model FILE   .ttr model (any mode for --data)\n"
        "  --data FILE    LETOR/SVMlight file\n"
        "  --query FILE   LightGBM group sizes (default: DATA.query when it exists)\n"
        "  --clicks FILE  click log with the model's layout\n"
        "  --json         one JSON object on stdout\n"
        "  -h, --help     this help\n");
}

static int eval_clicks(const char *C, ttr_model *m, const char *path, double *mean_ll,
                       size_t *items_out, size_t *lists_out)
{
    const ttr_config *cfg = ttr_model_config(m);
    if (ttr_model_mode(m) != TTR_MODE_TRAIN)
        return cli_err(C, "--clicks needs a train-mode model (the bias towers)");
    size_t F = cfg->n_features, ML = cfg->max_items, B = cfg->max_batch;
    ttr_reader_config rc;
    ttr_reader_config_default(&rc);
    rc.n_features = cfg->n_features;
    rc.max_items = cfg->max_items;
    rc.rows = cfg->rows;
    rc.cols = cfg->cols;
    rc.n_contexts = cfg->n_contexts ? cfg->n_contexts : 1;
    size_t *off = malloc((B + 1) * sizeof *off);
    float *x = malloc(B * ML * F * sizeof *x), *probs = malloc(B * ML * sizeof *probs);
    uint16_t *slots = malloc(B * ML * sizeof *slots);
    uint8_t *clicks = malloc(B * ML);
    uint32_t *ctx = malloc(B * sizeof *ctx);
    int ret = 0;
    cli_clicks_in in;
    double sum = 0;
    size_t items = 0, lists = 0;
    if (!off || !x || !probs || !slots || !clicks || !ctx) {
        ret = cli_err(C, "out of memory");
        goto done;
    }
    if (cli_clicks_open(&in, C, path, &rc)) {
        ret = 1;
        goto done;
    }
    uint32_t hr = 0, hc = 0, hf = 0;
    int h = ttr_clicks_layout(&in.r, &hr, &hc, &hf);
    if (h < 0) {
        ret = cli_clicks_error(&in);
        cli_clicks_close(&in);
        goto done;
    }
    if (h == 1 && hf != cfg->n_features) {
        cli_clicks_close(&in);
        ret = cli_err(C, "%s: %u features, the model has %u", path, (unsigned)hf,
                      (unsigned)cfg->n_features);
        goto done;
    }
    int eof = 0;
    while (!eof) {
        size_t nl = 0, n = 0;
        off[0] = 0;
        while (nl < B) {
            ttr_list l;
            memset(&l, 0, sizeof l);
            l.x = x + n * F;
            l.ldx = F;
            l.slots = slots + n;
            l.clicks = clicks + n;
            int r = cli_clicks_next(&in, &l);
            if (r < 0) {
                cli_clicks_close(&in);
                ret = 1;
                goto done;
            }
            if (!r) {
                eof = 1;
                break;
            }
            ctx[nl] = l.context;
            n += l.n;
            off[++nl] = n;
        }
        if (!nl)
            break;
        ttr_batch b = {nl, off, x, F, slots, clicks, cfg->n_contexts ? ctx : NULL};
        int err = ttr_click_probs(m, &b, probs);
        double s = 0;
        if (!err)
            err = ttr_click_loglik(n, probs, clicks, &s);
        if (err) {
            cli_clicks_close(&in);
            ret = cli_err(C, "%s: %s", path, ttr_strerror(err));
            goto done;
        }
        sum += s;
        items += n;
        lists += nl;
    }
    cli_clicks_close(&in);
    *mean_ll = items ? sum / (double)items : 0.0;
    *items_out = items;
    *lists_out = lists;
done:
    free(off);
    free(x);
    free(probs);
    free(slots);
    free(clicks);
    free(ctx);
    return ret;
}

/* eval's options, the index of each in its flag table */
enum { EV_MODEL, EV_DATA, EV_QUERY, EV_CLICKS, EV_JSON, EV_COUNT };
int ttr_cmd_eval(int argc, char **argv)
{
    const char *C = "eval";
    cli_flag fl[EV_COUNT] = {
        [EV_MODEL] = {"--model", 1, 0, 0},
        [EV_DATA] = {"--data", 1, 0, 0},
        [EV_QUERY] = {"--query", 1, 0, 0},
        [EV_CLICKS] = {"--clicks", 1, 0, 0},
        [EV_JSON] = {"--json", 0, 0, 0},
    };
    const size_t nf = EV_COUNT;
    int rc = cli_parse(C, argc, argv, fl, nf, NULL, 0, NULL);
    if (rc == 1) {
        eval_usage(stdout);
        return 0;
    }
    if (rc || cli_need(C, &fl[EV_MODEL]))
        return 2;
    const char *data = cli_str(&fl[EV_DATA], NULL), *cl = cli_str(&fl[EV_CLICKS], NULL);
    if (!data && !cl)
        return cli_err(C, "--data or --clicks is required (try --help)"), 2;
    int json = fl[EV_JSON].seen;
    ttr_model *m;
    void *arena;
    if (cli_model_load(C, cli_str(&fl[EV_MODEL], NULL), &m, &arena))
        return 1;
    ttr_rank_metrics rm;
    cli_letor d;
    memset(&d, 0, sizeof d);
    int ret = 0;
    double ll = 0;
    size_t ll_items = 0, ll_lists = 0;
    if (data) {
        char qbuf[4200];
        const char *qpath =
            cli_query_path(data, cli_str(&fl[EV_QUERY], NULL), qbuf, sizeof qbuf);
        if (cli_letor_load(C, data, qpath, ttr_model_config(m)->n_features, &d)) {
            free(arena);
            return 1;
        }
        int err = cli_rank_metrics(m, &d, &rm);
        if (err) {
            ret = cli_err(C, "%s: scoring failed: %s", data, ttr_strerror(err));
            goto done;
        }
    }
    if (cl && eval_clicks(C, m, cl, &ll, &ll_items, &ll_lists)) {
        ret = 1;
        goto done;
    }
    if (data && !rm.counted) {
        /* NDCG and MRR are undefined without a relevant item: no 0.0000 */
        ret = cli_err(C, "%s: none of its %zu queries has an item with a label above 0, so "
                         "NDCG and MRR are undefined",
                      data, d.n_lists);
        goto done;
    }
    if (json) {
        printf("{");
        const char *sep = "";
        if (data) {
            printf("\"queries\":%zu,\"counted\":%zu,\"skipped\":%zu,\"ndcg@1\":%.6f,"
                   "\"ndcg@3\":%.6f,\"ndcg@5\":%.6f,\"ndcg@10\":%.6f,\"mrr\":%.6f",
                   d.n_lists, rm.counted, rm.skipped, ttr_rank_metrics_ndcg(&rm, 1),
                   ttr_rank_metrics_ndcg(&rm, 3), ttr_rank_metrics_ndcg(&rm, 5),
                   ttr_rank_metrics_ndcg(&rm, 10), ttr_rank_metrics_mrr(&rm));
            sep = ",";
        }
        if (cl)
            printf("%s\"click_lists\":%zu,\"click_items\":%zu,\"click_loglik\":%.6f", sep,
                   ll_lists, ll_items, ll);
        printf("}\n");
    } else {
        if (data) {
            printf("%s: %zu queries, %zu with a relevant item (%zu without one skipped)\n", data,
                   d.n_lists, rm.counted, rm.skipped);
            printf("NDCG@1  %.4f\nNDCG@3  %.4f\nNDCG@5  %.4f\nNDCG@10 %.4f\nMRR     %.4f\n",
                   ttr_rank_metrics_ndcg(&rm, 1), ttr_rank_metrics_ndcg(&rm, 3),
                   ttr_rank_metrics_ndcg(&rm, 5), ttr_rank_metrics_ndcg(&rm, 10),
                   ttr_rank_metrics_mrr(&rm));
        }
        if (cl)
            printf("%s: %zu lists, %zu items, click log-likelihood %.5f per item\n", cl, ll_lists,
                   ll_items, ll);
    }
done:
    cli_letor_free(&d);
    free(arena);
    return ret;
}

static void rank_usage(FILE *f)
{
    fprintf(f,
        "Usage: ttrank rank --model MODEL --data LETOR [--query FILE]\n"
        "\n"
        "Score every line of a LETOR/SVMlight file with the model's relevance tower and\n"
        "print one score per data line (%%.9g), in input order, on stdout. Labels are read\n"
        "but not used.\n"
        "\n"
        "Options:\n"
        "  --model FILE   .ttr model (any mode)\n"
        "  --data FILE    LETOR/SVMlight file ('-' is not supported: the file is read twice)\n"
        "  --query FILE   LightGBM group sizes (default: DATA.query when it exists)\n"
        "  -h, --help     this help\n");
}

/* rank's options, the index of each in its flag table */
enum { RK_MODEL, RK_DATA, RK_QUERY, RK_COUNT };
int ttr_cmd_rank(int argc, char **argv)
{
    const char *C = "rank";
    cli_flag fl[RK_COUNT] = {
        [RK_MODEL] = {"--model", 1, 0, 0},
        [RK_DATA] = {"--data", 1, 0, 0},
        [RK_QUERY] = {"--query", 1, 0, 0},
    };
    const size_t nf = RK_COUNT;
    int rc = cli_parse(C, argc, argv, fl, nf, NULL, 0, NULL);
    if (rc == 1) {
        rank_usage(stdout);
        return 0;
    }
    if (rc || cli_need(C, &fl[RK_MODEL]) || cli_need(C, &fl[RK_DATA]))
        return 2;
    const char *data = cli_str(&fl[RK_DATA], NULL);
    char qbuf[4200];
    const char *qpath = cli_query_path(data, cli_str(&fl[RK_QUERY], NULL), qbuf, sizeof qbuf);
    ttr_model *m;
    void *arena;
    if (cli_model_load(C, cli_str(&fl[RK_MODEL], NULL), &m, &arena))
        return 1;
    size_t F = ttr_model_config(m)->n_features;
    /* pass 1: the longest list */
    cli_letor_in in;
    ttr_list l;
    ttr_reader_stats st;
    if (cli_letor_open(&in, C, data, qpath, 0, TTR_DATA_MAX_ITEMS)) {
        free(arena);
        return 1;
    }
    memset(&l, 0, sizeof l);
    while ((rc = cli_letor_next(&in, &l)) == 1) {
    }
    ttr_reader_stats_get(&in.r, &st);
    cli_letor_close(&in);
    if (rc < 0) {
        free(arena);
        return 1;
    }
    size_t ML = st.max_list ? st.max_list : 1;
    float *x = malloc(ML * F * sizeof *x), *scores = malloc(ML * sizeof *scores);
    int ret = 0;
    if (!x || !scores) {
        ret = cli_err(C, "out of memory");
        goto done;
    }
    if (cli_letor_open(&in, C, data, qpath, (uint32_t)F, (uint32_t)ML)) {
        ret = 1;
        goto done;
    }
    for (;;) {
        memset(&l, 0, sizeof l);
        l.x = x;
        l.ldx = F;
        rc = cli_letor_next(&in, &l);
        if (rc <= 0)
            break;
        int err = ttr_score(m, l.n, x, F, scores);
        if (err) {
            ret = cli_err(C, "%s:%lu: scoring failed: %s", data, l.line, ttr_strerror(err));
            break;
        }
        for (size_t i = 0; i < l.n; i++)
            printf("%.9g\n", (double)scores[i]);
    }
    cli_letor_close(&in);
    if (rc < 0)
        ret = 1;
    if (fflush(stdout) || ferror(stdout))
        ret = cli_err(C, "stdout: %s", strerror(errno));
done:
    free(x);
    free(scores);
    free(arena);
    return ret;
}
