/* `ttrank info` (what a model file holds and what it learned) and
 * `ttrank plot bias|attention` (its read-outs as SVG). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cmd_commands.h"
#include "cmd_model.h"
#include "cmd_util.h"
#include "ttr_io.h"
#include "svg.h"
#include "sim/ttr_sim.h"

static const char *mode_name(ttr_mode m)
{
    return m == TTR_MODE_TRAIN ? "train" : m == TTR_MODE_SERVE_F32 ? "serve-f32" : "serve-int8";
}

typedef struct tcount {
    uint64_t params;
    size_t n;
    char names[64][36];
    uint32_t rows[64], cols[64], dtype[64];
} tcount;

static int is_statistic(const char *name)
{
    return !strncmp(name, "norm.", 5) || !strcmp(name, "dot.bref") || !strncmp(name, "xpa.attn_", 9);
}

static void on_tensor(void *ctx, const char *name, uint32_t rows, uint32_t cols, uint32_t dtype)
{
    tcount *t = (tcount *)ctx;
    if (!is_statistic(name))
        t->params += (uint64_t)rows * cols;
    if (t->n < 64) {
        snprintf(t->names[t->n], sizeof t->names[t->n], "%s", name);
        t->rows[t->n] = rows;
        t->cols[t->n] = cols;
        t->dtype[t->n] = dtype;
        t->n++;
    }
}

static void print_floats(FILE *f, const float *v, size_t n, int json);

/* The bias curve of each MixEM component (curve: context 0's, K x P), and
 * of each further context (up to 16), one line each. */
static void print_curves(const ttr_model *m, float *curve, size_t K, size_t P)
{
    uint32_t n_ctx = ttr_model_config(m)->n_contexts;
    for (uint32_t x = 0; x < (n_ctx ? n_ctx : 1) && x < 16; x++)
        for (size_t k = 0; k < K; k++) {
            if (x && ttr_bias_curve(m, (uint32_t)k, x, curve + k * P))
                return;
            if (n_ctx && K > 1)
                printf("bias[%zu] c%-2u ", k, (unsigned)x);
            else if (n_ctx)
                printf("bias ctx %-2u ", (unsigned)x);
            else if (K > 1)
                printf("bias[%zu]    ", k);
            else
                printf("bias curve ");
            print_floats(stdout, curve + k * P, P, 0);
            printf("  (logit per slot)\n");
        }
    if (n_ctx > 16)
        printf("(%u more contexts: ttrank plot bias --context K)\n", (unsigned)n_ctx - 16);
}

static void print_floats(FILE *f, const float *v, size_t n, int json)
{
    for (size_t i = 0; i < n; i++)
        fprintf(f, json ? "%s%.6g" : "%s%.4f", i ? (json ? "," : " ") : "", (double)v[i]);
}

static void info_usage(FILE *f)
{
    fprintf(f,
        "Usage: ttrank info --model MODEL [--json]\n"
        "\n"
        "Print a model's variant, configuration, mode, arena bytes per mode, parameter\n"
        "count and tensors, and its read-outs: the bias curve per slot (per MixEM\n"
        "component), MixEM mixing weights and relevance gains, the dot variant's b_ref,\n"
        "XPA's mean attention (for each slot, the other slot it attends most). A model\n"
        "with contexts shows a bias curve per context (up to 16). Serving models hold the\n"
        "relevance tower only.\n"
        "\n"
        "Options:\n"
        "  --model FILE   .ttr model\n"
        "  --json         one JSON object on stdout\n"
        "  -h, --help     this help\n");
}

/* info's options, the index of each in its flag table */
enum { IN_MODEL, IN_JSON, IN_COUNT };
/* A model and its read-outs, gathered once for either output. */
typedef struct info_data {
    const char *path;
    const ttr_model *m;
    const ttr_config *c;
    ttr_mode mode;
    tcount *tc;
    size_t P, K, file_bytes, ab[3];
    uint64_t steps;
    ttr_file_info fi; /* what the file says about itself */
    float *curve, *attn, *slots;
    float pi[TTR_MAX_COMPONENTS], gain[TTR_MAX_COMPONENTS], bref[64];
    int has_curve, has_mix, has_bref, has_slots, has_attn;
} info_data;

/* The read-outs a model has (bias curves, MixEM's mixture, dot's b_ref and
 * b(slot), XPA's attention), each flagged when present. */
static void gather_readouts(info_data *d)
{
    const ttr_model *m = d->m;
    const ttr_config *c = d->c;
    int train = d->mode == TTR_MODE_TRAIN;
    d->has_curve = train && c->variant != TTR_NAIVE && c->variant != TTR_DOT;
    for (size_t k = 0; d->has_curve && k < d->K; k++)
        if (ttr_bias_curve(m, (uint32_t)k, 0, d->curve + k * d->P))
            d->has_curve = 0;
    d->has_mix = train && c->variant == TTR_MIXEM && !ttr_mixem_params(m, d->pi, d->gain);
    d->has_bref = c->variant == TTR_DOT &&
                  !ttr_dot_reference(m, d->bref, 0, train ? d->slots : NULL);
    d->has_slots = d->has_bref && train;
    d->has_attn = train && c->variant == TTR_XPA && !ttr_xpa_attention(m, d->attn);
}

/* TTR_VERSION_NUMBER v as "major.minor.patch" in buf. */
static const char *version_text(uint32_t v, char buf[24])
{
    snprintf(buf, 24, "%u.%u.%u", (unsigned)(v / 10000), (unsigned)(v / 100 % 100),
             (unsigned)(v % 100));
    return buf;
}

/* s as a JSON string: quotes and backslashes escaped, control bytes as '?'. */
static void print_json_string(const char *s)
{
    putchar('"');
    for (; *s; s++)
        printf(*s == '"' || *s == '\\' ? "\\%c" : ((unsigned char)*s < 32 ? "?" : "%c"), *s);
    putchar('"');
}

/* `info --json`: one JSON object. */
static void print_json(const info_data *d)
{
    const char *path = d->path;
    const ttr_config *c = d->c;
    ttr_mode mode = d->mode;
    const tcount *tc = d->tc;
    size_t P = d->P, K = d->K, file_bytes = d->file_bytes;
    const size_t *ab = d->ab;
    uint64_t steps = d->steps;
    char ver[24];
    const float *curve = d->curve, *attn = d->attn;
    const float *pi = d->pi, *gain = d->gain, *bref = d->bref;
    int has_curve = d->has_curve, has_mix = d->has_mix, has_bref = d->has_bref;
    int has_attn = d->has_attn;
    static const char *const losses[] = {"bce", "softmax"}, *const opts[] = {"adam", "sgd"};
    static const char *const scheds[] = {"constant", "cosine", "linear"};
    const char *sched = scheds[c->lr_schedule <= TTR_LR_LINEAR ? c->lr_schedule : 0];
    printf("{\"file\":");
    print_json_string(path);
    printf(",\"file_bytes\":%zu,\"variant\":\"%s\",\"mode\":\"%s\",", file_bytes,
           cli_variant_name(c->variant), mode_name(mode));
    printf("\"format_version\":%u,\"library_version\":", (unsigned)d->fi.format_version);
    if (d->fi.library_version)
        printf("\"%s\",", version_text(d->fi.library_version, ver));
    else
        printf("null,");
    printf("\"steps\":%llu,\"impressions\":%llu,\"tag\":", (unsigned long long)steps,
           (unsigned long long)d->fi.impressions);
    print_json_string(d->fi.tag);
    printf(",\"optimizer_state\":%s,", d->fi.has_optimizer_state ? "true" : "false");
    printf("\"config\":{\"n_features\":%u,\"hidden\":[", (unsigned)c->n_features);
    for (uint32_t i = 0; i < c->n_hidden; i++)
        printf("%s%u", i ? "," : "", (unsigned)c->hidden[i]);
    printf("],\"rows\":%u,\"cols\":%u,\"n_contexts\":%u,\"embed_dim\":%u,\"bias_hidden\":%u,"
           "\"dot_dim\":%u,\"components\":%u,\"attn_dim\":%u,\"max_items\":%u,\"max_batch\":%u,"
           "\"loss\":\"%s\",\"optimizer\":\"%s\",\"lr\":%g,\"l2\":%g,\"clip_norm\":%g,"
           "\"slot_dropout\":%g,\"dot_serving\":\"%s\",\"seed\":%llu,\"weight_decay\":%g,"
           "\"lr_schedule\":\"%s\",\"warmup_steps\":%llu,\"decay_steps\":%llu},",
           (unsigned)c->rows, (unsigned)c->cols, (unsigned)c->n_contexts,
           (unsigned)c->embed_dim, (unsigned)c->bias_hidden, (unsigned)c->dot_dim,
           (unsigned)c->components, (unsigned)c->attn_dim, (unsigned)c->max_items,
           (unsigned)c->max_batch, losses[c->loss & 1], opts[c->optimizer & 1],
           (double)c->lr, (double)c->l2, (double)c->clip_norm, (double)c->slot_dropout,
           c->dot_serving == TTR_DOT_REF_TOP ? "top" : "mean", (unsigned long long)c->seed,
           (double)c->weight_decay, sched, (unsigned long long)c->warmup_steps,
           (unsigned long long)c->decay_steps);
    printf("\"arena_bytes\":{\"train\":%zu,\"serve_f32\":%zu,\"serve_int8\":%zu},"
           "\"parameters\":%llu,\"tensors\":[",
           ab[0], ab[1], ab[2], (unsigned long long)tc->params);
    for (size_t i = 0; i < tc->n; i++)
        printf("%s{\"name\":\"%s\",\"rows\":%u,\"cols\":%u,\"dtype\":\"%s\"}", i ? "," : "",
               tc->names[i], (unsigned)tc->rows[i], (unsigned)tc->cols[i],
               tc->dtype[i] ? "int8" : "f32");
    printf("]");
    if (has_curve) {
        printf(",\"bias_curve\":[");
        for (size_t k = 0; k < K; k++) {
            printf("%s[", k ? "," : "");
            print_floats(stdout, curve + k * P, P, 1);
            printf("]");
        }
        printf("]");
    }
    if (has_mix) {
        printf(",\"mixem_pi\":[");
        print_floats(stdout, pi, c->components, 1);
        printf("],\"mixem_gain\":[");
        print_floats(stdout, gain, c->components, 1);
        printf("]");
    }
    if (has_bref) {
        printf(",\"dot_bref\":[");
        print_floats(stdout, bref, c->dot_dim, 1);
        printf("]");
    }
    if (has_attn) {
        printf(",\"attention\":[");
        for (size_t p = 0; p < P; p++) {
            printf("%s[", p ? "," : "");
            print_floats(stdout, attn + p * P, P, 1);
            printf("]");
        }
        printf("]");
    }
    printf("}\n");
}

/* `info`: one line per field, then the read-outs. */
static void print_text(const info_data *d)
{
    const char *path = d->path;
    const ttr_config *c = d->c;
    ttr_mode mode = d->mode;
    const tcount *tc = d->tc;
    size_t P = d->P, K = d->K, file_bytes = d->file_bytes;
    const size_t *ab = d->ab;
    uint64_t steps = d->steps;
    char ver[24];
    const ttr_model *m = d->m;
    float *curve = d->curve; /* print_curves fills it per context */
    const float *attn = d->attn, *slots = d->slots;
    const float *pi = d->pi, *gain = d->gain, *bref = d->bref;
    int has_curve = d->has_curve, has_mix = d->has_mix, has_bref = d->has_bref;
    int has_slots = d->has_slots, has_attn = d->has_attn;
    static const char *const losses[] = {"bce", "softmax"}, *const opts[] = {"adam", "sgd"};
    static const char *const scheds[] = {"constant", "cosine", "linear"};
    const char *sched = scheds[c->lr_schedule <= TTR_LR_LINEAR ? c->lr_schedule : 0];
    printf("model      %s (%zu bytes)\n", path, file_bytes);
    printf("variant    %s\nmode       %s\n", cli_variant_name(c->variant), mode_name(mode));
    if (d->fi.library_version)
        printf("written by ttrank %s (file format %u)\n", version_text(d->fi.library_version, ver),
               (unsigned)d->fi.format_version);
    else
        printf("written by ttrank 0.1 or older (file format %u)\n",
               (unsigned)d->fi.format_version);
    printf("trained    %llu impressions", (unsigned long long)d->fi.impressions);
    if (d->fi.steps)
        printf(", %llu optimizer steps", (unsigned long long)d->fi.steps);
    printf("\n");
    if (d->fi.tag[0])
        printf("tag        %s\n", d->fi.tag);
    if (mode == TTR_MODE_TRAIN && d->fi.has_optimizer_state)
        printf("state      checkpoint: %llu optimizer steps and their optimizer state "
               "(train --resume continues exactly)\n",
               (unsigned long long)steps);
    else if (mode == TTR_MODE_TRAIN)
        printf("state      no optimizer state (train --resume starts a fresh optimizer; "
               "save with --checkpoint to keep it)\n");
    printf("features   %u\nrelevance  %u", (unsigned)c->n_features, (unsigned)c->n_features);
    for (uint32_t i = 0; i < c->n_hidden; i++)
        printf(" -> %u", (unsigned)c->hidden[i]);
    printf(" -> %u\n", c->variant == TTR_DOT ? (unsigned)c->dot_dim : 1u);
    printf("slots      %u x %u, contexts %u, max_items %u, max_batch %u\n", (unsigned)c->rows,
           (unsigned)c->cols, (unsigned)c->n_contexts, (unsigned)c->max_items,
           (unsigned)c->max_batch);
    printf("bias tower embed_dim %u, hidden %u", (unsigned)c->embed_dim,
           (unsigned)c->bias_hidden);
    if (c->variant == TTR_DOT)
        printf(", dot_dim %u, serving b_ref %s", (unsigned)c->dot_dim,
               c->dot_serving == TTR_DOT_REF_TOP ? "top slot" : "running mean");
    if (c->variant == TTR_MIXEM)
        printf(", components %u", (unsigned)c->components);
    if (c->variant == TTR_XPA)
        printf(", attn_dim %u", (unsigned)c->attn_dim);
    printf("\ntraining   %s loss, %s lr %g, l2 %g, clip %g, slot dropout %g, seed %llu\n",
           losses[c->loss & 1], opts[c->optimizer & 1], (double)c->lr, (double)c->l2,
           (double)c->clip_norm, (double)c->slot_dropout, (unsigned long long)c->seed);
    printf("schedule   %s", sched);
    if (c->warmup_steps)
        printf(", warm-up %llu steps", (unsigned long long)c->warmup_steps);
    if (c->lr_schedule != TTR_LR_CONSTANT)
        printf(", lr 0 at step %llu", (unsigned long long)c->decay_steps);
    printf(", weight decay %g\n", (double)c->weight_decay);
    printf("arena      train %zu, serve-f32 %zu, serve-int8 %zu bytes\n", ab[0], ab[1], ab[2]);
    printf("parameters %llu in %zu tensors:", (unsigned long long)tc->params, tc->n);
    for (size_t i = 0; i < tc->n; i++)
        printf(" %s[%ux%u%s]", tc->names[i], (unsigned)tc->rows[i], (unsigned)tc->cols[i],
               tc->dtype[i] ? " int8" : "");
    printf("\n");
    if (has_curve)
        print_curves(m, curve, K, P);
    if (has_mix) {
        printf("mixem pi   ");
        print_floats(stdout, pi, c->components, 0);
        printf("\nmixem gain ");
        print_floats(stdout, gain, c->components, 0);
        printf("\n");
    }
    if (has_bref) {
        printf("dot b_ref  ");
        print_floats(stdout, bref, c->dot_dim, 0);
        printf("\n");
        if (has_slots)
            for (size_t p = 0; p < P && p < 16; p++) {
                printf("  b(slot %zu) ", p);
                print_floats(stdout, slots + p * c->dot_dim, c->dot_dim, 0);
                printf("\n");
            }
    }
    if (has_attn) {
        printf("attention  (slot: the slot it attends most, and that weight)\n");
        for (size_t p = 0; p < P; p++) {
            size_t best = p == 0 && P > 1 ? 1 : 0;
            for (size_t q = 0; q < P; q++)
                if (q != p && attn[p * P + q] > attn[p * P + best])
                    best = q;
            printf("  %u,%u: top %u,%u %.3f\n", (unsigned)(p / c->cols),
                   (unsigned)(p % c->cols), (unsigned)(best / c->cols),
                   (unsigned)(best % c->cols), (double)attn[p * P + best]);
        }
    }
    if (mode != TTR_MODE_TRAIN)
        printf("(a serving model: the relevance tower only, no bias read-outs)\n");
}

int ttr_cmd_info(int argc, char **argv)
{
    const char *C = "info";
    cli_flag fl[IN_COUNT] = {
        [IN_MODEL] = {"--model", 1, 0, 0},
        [IN_JSON] = {"--json", 0, 0, 0},
    };
    const size_t nf = IN_COUNT;
    int rc = cli_parse(C, argc, argv, fl, nf, NULL, 0, NULL);
    if (rc == 1) {
        info_usage(stdout);
        return 0;
    }
    if (rc || cli_need(C, &fl[IN_MODEL]))
        return 2;
    int json = fl[IN_JSON].seen;
    const char *path = cli_str(&fl[IN_MODEL], NULL);
    ttr_model *m;
    void *arena;
    if (cli_model_load(C, path, &m, &arena))
        return 1;
    const ttr_config *c = ttr_model_config(m);
    ttr_mode mode = ttr_model_mode(m);
    tcount *tc = calloc(1, sizeof *tc);
    size_t P = (size_t)c->rows * c->cols, K = c->variant == TTR_MIXEM ? c->components : 1;
    float *curve = malloc(K * P * sizeof *curve), *attn = malloc(P * P * sizeof *attn);
    float *slots = malloc(P * 64 * sizeof *slots);
    size_t file_bytes = 0;
    int ret = 0;
    if (!tc || !curve || !attn || !slots) {
        ret = cli_err(C, "out of memory");
        goto done;
    }
    size_t saved_bytes = 0; /* the model serialised again: tensors and their count */
    int err = cli_model_tensors(m, on_tensor, tc, &saved_bytes);
    if (err) {
        ret = cli_err(C, "%s: %s", path, ttr_strerror(err));
        goto done;
    }
    struct stat sb;
    file_bytes = stat(path, &sb) == 0 ? (size_t)sb.st_size : saved_bytes;
    /* a train model loads its optimizer state and step count only from a
     * checkpoint; without them it starts at step 0 */
    uint64_t steps = ttr_model_steps(m);
    size_t ab[3];
    for (int i = 0; i < 3; i++)
        ab[i] = ttr_arena_bytes(c, (ttr_mode)i);
    info_data d;
    memset(&d, 0, sizeof d);
    d.path = path;
    d.m = m;
    d.c = c;
    d.mode = mode;
    d.tc = tc;
    d.P = P;
    d.K = K;
    d.file_bytes = file_bytes;
    d.steps = steps;
    if ((err = ttr_model_file_info(path, NULL, &d.fi)) != 0) {
        ret = cli_err(C, "%s: %s", path, ttr_strerror(err));
        goto done;
    }
    d.curve = curve;
    d.attn = attn;
    d.slots = slots;
    memcpy(d.ab, ab, sizeof d.ab);
    gather_readouts(&d);
    if (json)
        print_json(&d);
    else
        print_text(&d);
done:
    free(tc);
    free(curve);
    free(attn);
    free(slots);
    free(arena);
    return ret;
}

static void plot_usage(FILE *f)
{
    fprintf(f,
        "Usage: ttrank plot bias|attention --model MODEL --out FILE.svg [--context K]\n"
        "\n"
        "bias:      the bias tower's logit per slot relative to slot 0 (one line per\n"
        "           MixEM component; dot: each dimension of b(slot)); slots numbered from\n"
        "           0 as in the click log; on a grid one line per row over the columns.\n"
        "attention: XPA's mean attention a(p, p') as a heatmap (xpa models).\n"
        "Train-mode models only (serving models hold no bias tower).\n"
        "\n"
        "Options:\n"
        "  --model FILE   .ttr model\n"
        "  --out FILE     SVG file to write\n"
        "  --context K    bias: the context to plot (default 0)\n"
        "  -h, --help     this help\n");
}

/* The bias side of a train model as a line chart into buf: the logit per
 * slot relative to the top slot (one line per MixEM component; dot: each
 * dimension of b(slot)), for one context. Slots are numbered from 0, as in
 * the click log; on a grid each row is a line over the columns. vals holds
 * 64 x rows*cols floats. Returns the length or a negative ttr_error. */
static int plot_bias(const ttr_model *m, uint32_t context, char *buf, size_t cap, float *vals)
{
    const ttr_config *c = ttr_model_config(m);
    size_t P = (size_t)c->rows * c->cols, ns = 0, R = c->cols > 1 ? c->rows : 1;
    size_t W = P / R; /* points per line: the columns of a grid, the slots of a list */
    const float *series[TTR_SVG_MAX_SERIES];
    char names[TTR_SVG_MAX_SERIES][40], title[160];
    const char *np[TTR_SVG_MAX_SERIES];
    size_t curves = c->variant == TTR_DOT ? c->dot_dim
                    : c->variant == TTR_MIXEM ? c->components
                                              : 1;
    float *curve = vals + 64 * P - P; /* the last P floats: one curve at a time */
    int err = 0;
    for (size_t k = 0; !err && k < curves; k++) {
        if (c->variant == TTR_DOT) {
            float bref[64], *bs = malloc(P * c->dot_dim * sizeof *bs);
            err = bs ? ttr_dot_reference(m, bref, context, bs) : TTR_ERR_NOMEM;
            for (size_t p = 0; !err && p < P; p++)
                curve[p] = bs[p * c->dot_dim + k];
            free(bs);
        } else {
            err = ttr_bias_curve(m, (uint32_t)k, context, curve);
            for (size_t p = P; !err && p-- > 0;)
                curve[p] -= curve[0];
        }
        for (size_t r = 0; !err && r < R && ns < TTR_SVG_MAX_SERIES; r++, ns++) {
            memcpy(vals + ns * W, curve + r * W, W * sizeof *vals);
            series[ns] = vals + ns * W;
            int n = snprintf(names[ns], sizeof names[ns], "%s",
                             c->variant == TTR_DOT     ? "b"
                             : c->variant == TTR_MIXEM ? "component"
                                                       : cli_variant_name(c->variant));
            if (curves > 1)
                n += snprintf(names[ns] + n, sizeof names[ns] - (size_t)n,
                              c->variant == TTR_DOT ? "[%zu]" : " %zu", k);
            if (R > 1)
                snprintf(names[ns] + n, sizeof names[ns] - (size_t)n, ", row %zu", r);
            np[ns] = names[ns];
        }
    }
    if (err)
        return err;
    snprintf(title, sizeof title, "%s: %s%s, context %u", cli_variant_name(c->variant),
             c->variant == TTR_DOT ? "bias vector b(slot) per dimension"
                                   : "bias logit per slot (relative to slot 0)",
             ns < curves * R ? " (first lines only)" : "", (unsigned)context);
    return ttr_svg_lines(buf, cap, title, R > 1 ? "column" : "slot",
                         c->variant == TTR_DOT ? "b" : "logit", ns, np, series, W);
}

/* plot's options, the index of each in its flag table */
enum { PL_MODEL, PL_OUT, PL_CONTEXT, PL_COUNT };
int ttr_cmd_plot(int argc, char **argv)
{
    const char *C = "plot";
    cli_flag fl[PL_COUNT] = {
        [PL_MODEL] = {"--model", 1, 0, 0},
        [PL_OUT] = {"--out", 1, 0, 0},
        [PL_CONTEXT] = {"--context", 1, 0, 0},
    };
    const size_t nf = PL_COUNT;
    const char *pos[1];
    size_t npos = 0;
    int rc = cli_parse(C, argc, argv, fl, nf, pos, 1, &npos);
    if (rc == 1) {
        plot_usage(stdout);
        return 0;
    }
    if (rc)
        return 2;
    if (npos != 1 || (strcmp(pos[0], "bias") && strcmp(pos[0], "attention")))
        return cli_err(C, "expected 'bias' or 'attention' (try --help)"), 2;
    if (cli_need(C, &fl[PL_MODEL]) || cli_need(C, &fl[PL_OUT]))
        return 2;
    int attention = !strcmp(pos[0], "attention");
    uint32_t context = 0;
    if (cli_u32(C, &fl[PL_CONTEXT], 0, 65535, &context))
        return 2;
    const char *path = cli_str(&fl[PL_MODEL], NULL), *out = cli_str(&fl[PL_OUT], NULL);
    ttr_model *m;
    void *arena;
    if (cli_model_load(C, path, &m, &arena))
        return 1;
    const ttr_config *c = ttr_model_config(m);
    size_t P = (size_t)c->rows * c->cols;
    size_t cap = 256 * 1024 + P * P * 256;
    char *buf = malloc(cap);
    float *vals = malloc((P * P > 64 * P ? P * P : 64 * P) * sizeof *vals);
    char(*labels)[24] = malloc(P * sizeof *labels);
    const char **lab = malloc(P * sizeof *lab);
    int ret = 0, len = 0;
    if (!buf || !vals || !labels || !lab) {
        ret = cli_err(C, "out of memory");
        goto done;
    }
    if (ttr_model_mode(m) != TTR_MODE_TRAIN) {
        ret = cli_err(C, "%s: a serving model has no bias tower or attention to plot", path);
        goto done;
    }
    char title[160];
    if (attention) {
        if (c->variant != TTR_XPA) {
            ret = cli_err(C, "%s: attention needs an xpa model (this is %s)", path,
                          cli_variant_name(c->variant));
            goto done;
        }
        int err = ttr_xpa_attention(m, vals);
        for (size_t p = 0; p < P; p++) {
            snprintf(labels[p], sizeof labels[p], "%u,%u", (unsigned)(p / c->cols),
                     (unsigned)(p % c->cols));
            lab[p] = labels[p];
        }
        snprintf(title, sizeof title, "XPA mean attention a(p, p') (%ux%u slots)",
                 (unsigned)c->rows, (unsigned)c->cols);
        len = err ? err
                  : ttr_svg_heatmap(buf, cap, title, "attended slot (row,col)",
                                    "attending slot (row,col)", P, vals, lab);
    } else {
        if (c->variant == TTR_NAIVE) {
            ret = cli_err(C, "%s: a naive model has no bias tower", path);
            goto done;
        }
        if (context >= (c->n_contexts ? c->n_contexts : 1)) {
            unsigned n_ctx = (unsigned)c->n_contexts;
            ret = cli_err(C, "--context %u: %s has %u contexts (0..%u)", (unsigned)context, path,
                          n_ctx, n_ctx ? n_ctx - 1 : 0u);
            goto done;
        }
        len = plot_bias(m, context, buf, cap, vals);
    }
    if (len < 0) {
        ret = cli_err(C, "%s: cannot plot: %s", path, ttr_strerror(len));
        goto done;
    }
    if (ttr_cli_write_file(out, buf, (size_t)len)) {
        ret = cli_err(C, "%s: %s", out, strerror(errno));
        goto done;
    }
done:
    free(buf);
    free(vals);
    free(labels);
    free(lab);
    free(arena);
    return ret;
}
