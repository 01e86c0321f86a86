/* SVG 1.1 plots written into a caller buffer (see ttr_sim.h). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ttr_sim.h"

typedef struct sbuf {
    char *p;
    size_t cap, len;
    int full;
} sbuf;

#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 2, 3)))
#endif
static void put(sbuf *b, const char *fmt, ...)
{
    if (b->full)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= b->cap - b->len) {
        b->full = 1;
        return;
    }
    b->len += (size_t)n;
}

/* XML-escaped text */
static void put_text(sbuf *b, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&': put(b, "&amp;"); break;
        case '<': put(b, "&lt;"); break;
        case '>': put(b, "&gt;"); break;
        case '"': put(b, "&quot;"); break;
        case '\'': put(b, "&#39;"); break;
        default:
            if ((unsigned char)*s >= 0x20 || *s == '\n' || *s == '\t')
                put(b, "%c", *s);
        }
    }
}

static void label(sbuf *b, double x, double y, const char *anchor, int size, const char *extra,
                  const char *text)
{
    put(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" font-size=\"%d\"%s>", x, y, anchor,
        size, extra ? extra : "");
    put_text(b, text);
    put(b, "</text>\n");
}

static int sb_begin(sbuf *b, char *buf, size_t cap, int w, int h, const char *title)
{
    if (!buf || cap < 2)
        return TTR_ERR_ARG;
    b->p = buf;
    b->cap = cap;
    b->len = 0;
    b->full = 0;
    buf[0] = 0;
    put(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
           "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%d\" height=\"%d\" "
           "viewBox=\"0 0 %d %d\" font-family=\"DejaVu Sans, Arial, sans-serif\">\n",
        w, h, w, h);
    put(b, "<title>");
    put_text(b, title);
    put(b, "</title>\n<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n", w, h);
    label(b, w / 2.0, 24, "middle", 16, " font-weight=\"bold\"", title);
    return TTR_OK;
}

static int sb_end(sbuf *b)
{
    put(b, "</svg>\n");
    if (b->full) {
        b->p[0] = 0;
        return TTR_ERR_NOMEM;
    }
    return (int)b->len;
}

static const char *g_palette[TTR_SVG_MAX_SERIES] = {
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
    "#e377c2", "#17becf", "#bcbd22", "#7f7f7f", "#393b79", "#637939"};

static int finite_d(double v)
{
    return v == v && v - v == 0.0;
}

/* "nice" tick step for a range */
static double tick_step(double span, int want)
{
    double raw = span / want, mag = pow(10.0, floor(log10(raw))), r = raw / mag;
    return (r < 1.5 ? 1.0 : r < 3.0 ? 2.0 : r < 7.0 ? 5.0 : 10.0) * mag;
}

/* y axis with grid lines from lo to hi over pixel rows [y0 (bottom), y1 (top)] */
static void y_axis(sbuf *b, double lo, double hi, double x0, double x1, double y0, double y1,
                   const char *ylabel)
{
    double step = tick_step(hi - lo, 5);
    for (double t = ceil(lo / step - 1e-9) * step; t <= hi + 1e-9 * step; t += step) {
        double y = y0 - (t - lo) / (hi - lo) * (y0 - y1);
        char txt[32];
        snprintf(txt, sizeof txt, "%.3g", fabs(t) < 1e-12 * step ? 0.0 : t);
        put(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#dddddd\"/>\n", x0,
            y, x1, y);
        label(b, x0 - 6, y + 4, "end", 11, NULL, txt);
    }
    put(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#000000\"/>\n", x0, y0,
        x0, y1);
    put(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#000000\"/>\n", x0, y0,
        x1, y0);
    char tr[96];
    snprintf(tr, sizeof tr, " transform=\"rotate(-90 %.1f %.1f)\"", x0 - 48, (y0 + y1) / 2);
    label(b, x0 - 48, (y0 + y1) / 2, "middle", 12, tr, ylabel);
}

int ttr_svg_lines(char *buf, size_t cap, const char *title, const char *xlabel,
                  const char *ylabel, size_t n_series, const char *const *names,
                  const float *const *values, size_t n_points)
{
    return ttr_svg_curves(buf, cap, title, xlabel, ylabel, n_series, names, values, n_points,
                          1.0);
}

int ttr_svg_curves(char *buf, size_t cap, const char *title, const char *xlabel,
                   const char *ylabel, size_t n_series, const char *const *names,
                   const float *const *values, size_t n_points, double x_step)
{
    if (!title || !xlabel || !ylabel || !names || !values || n_series < 1 ||
        n_series > TTR_SVG_MAX_SERIES || n_points < 2 || n_points > 4096 ||
        !(x_step > 0.0 && x_step < 1e12))
        return TTR_ERR_ARG;
    double lo = INFINITY, hi = -INFINITY;
    for (size_t s = 0; s < n_series; s++) {
        if (!values[s] || !names[s])
            return TTR_ERR_ARG;
        for (size_t i = 0; i < n_points; i++) {
            double v = values[s][i];
            if (!finite_d(v))
                return TTR_ERR_NONFINITE;
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
    }
    if (hi - lo < 1e-6) {
        lo -= 0.5;
        hi += 0.5;
    }
    double pad = (hi - lo) * 0.05;
    lo -= pad;
    hi += pad;
    const int W = 840, H = 460;
    const double x0 = 80, x1 = W - 280, y0 = H - 60, y1 = 50;
    sbuf b;
    int err = sb_begin(&b, buf, cap, W, H, title);
    if (err)
        return err;
    y_axis(&b, lo, hi, x0, x1, y0, y1, ylabel);
    size_t every = (n_points + 10) / 11; /* at most 11 tick labels */
    for (size_t i = 0; i < n_points; i += every) {
        double x = x0 + 20 + (double)i / (double)(n_points - 1) * (x1 - x0 - 40);
        char txt[24];
        snprintf(txt, sizeof txt, "%.0f", (double)i * x_step); /* slots from 0, as in the click log */
        label(&b, x, y0 + 18, "middle", 11, NULL, txt);
    }
    label(&b, (x0 + x1) / 2, y0 + 40, "middle", 12, NULL, xlabel);
    for (size_t s = 0; s < n_series; s++) {
        int truth = !strncmp(names[s], "truth", 5);
        put(&b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"%s\"%s points=\"",
            g_palette[s], truth ? "2.5" : "2", truth ? " stroke-dasharray=\"7 4\"" : "");
        for (size_t i = 0; i < n_points; i++) {
            double x = x0 + 20 + (double)i / (double)(n_points - 1) * (x1 - x0 - 40);
            double y = y0 - (values[s][i] - lo) / (hi - lo) * (y0 - y1);
            put(&b, "%s%.1f,%.1f", i ? " " : "", x, y);
        }
        put(&b, "\"/>\n");
        for (size_t i = 0; i < n_points; i++) {
            double x = x0 + 20 + (double)i / (double)(n_points - 1) * (x1 - x0 - 40);
            double y = y0 - (values[s][i] - lo) / (hi - lo) * (y0 - y1);
            put(&b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n", x, y,
                g_palette[s]);
        }
        double ly = y1 + 10 + 22.0 * (double)s;
        put(&b,
            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
            "stroke-width=\"2.5\"%s/>\n",
            x1 + 15, ly, x1 + 45, ly, g_palette[s], truth ? " stroke-dasharray=\"7 4\"" : "");
        label(&b, x1 + 52, ly + 4, "start", 12, NULL, names[s]);
    }
    return sb_end(&b);
}

int ttr_svg_heatmap(char *buf, size_t cap, const char *title, const char *xlabel,
                    const char *ylabel, size_t n, const float *m, const char *const *labels)
{
    if (!title || !xlabel || !ylabel || !m || !labels || n < 1 || n > 64)
        return TTR_ERR_ARG;
    double hi = 0.0;
    for (size_t i = 0; i < n * n; i++) {
        if (!finite_d(m[i]))
            return TTR_ERR_NONFINITE;
        hi = m[i] > hi ? m[i] : hi;
    }
    for (size_t i = 0; i < n; i++)
        if (!labels[i])
            return TTR_ERR_ARG;
    if (hi <= 0.0)
        hi = 1.0;
    const double cell = n <= 12 ? 48.0 : 576.0 / (double)n;
    const double x0 = 100, y0 = 60;
    const int W = (int)(x0 + cell * (double)n + 130), H = (int)(y0 + cell * (double)n + 70);
    sbuf b;
    int err = sb_begin(&b, buf, cap, W, H, title);
    if (err)
        return err;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            double v = m[i * n + j] / hi; /* 0..1 (negative clamped) */
            v = v < 0 ? 0 : v;
            int r = (int)(255 - 222 * v), g = (int)(255 - 160 * v), bl = (int)(255 - 75 * v);
            double x = x0 + cell * (double)j, y = y0 + cell * (double)i;
            put(&b,
                "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                "fill=\"#%02x%02x%02x\" stroke=\"#ffffff\"/>\n",
                x, y, cell, cell, r, g, bl);
            if (cell >= 36) {
                char txt[16];
                snprintf(txt, sizeof txt, "%.2f", m[i * n + j]);
                put(&b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"10\" "
                        "fill=\"%s\">%s</text>\n",
                    x + cell / 2, y + cell / 2 + 4, v > 0.6 ? "#ffffff" : "#000000", txt);
            }
        }
    for (size_t i = 0; i < n; i++) {
        label(&b, x0 - 6, y0 + cell * ((double)i + 0.5) + 4, "end", 11, NULL, labels[i]);
        label(&b, x0 + cell * ((double)i + 0.5), y0 + cell * (double)n + 16, "middle", 11, NULL,
              labels[i]);
    }
    label(&b, x0 + cell * (double)n / 2, y0 + cell * (double)n + 40, "middle", 12, NULL, xlabel);
    char tr[96];
    snprintf(tr, sizeof tr, " transform=\"rotate(-90 %.1f %.1f)\"", x0 - 60,
             y0 + cell * (double)n / 2);
    label(&b, x0 - 60, y0 + cell * (double)n / 2, "middle", 12, tr, ylabel);
    /* colour scale */
    double lx = x0 + cell * (double)n + 30;
    for (int k = 0; k < 10; k++) {
        double v = (9 - k) / 9.0;
        put(&b,
            "<rect x=\"%.1f\" y=\"%.1f\" width=\"18\" height=\"16\" fill=\"#%02x%02x%02x\"/>\n",
            lx, y0 + 16.0 * k, (int)(255 - 222 * v), (int)(255 - 160 * v), (int)(255 - 75 * v));
    }
    char txt[32];
    snprintf(txt, sizeof txt, "%.2f", hi);
    label(&b, lx + 24, y0 + 12, "start", 11, NULL, txt);
    label(&b, lx + 24, y0 + 160, "start", 11, NULL, "0");
    return sb_end(&b);
}

int ttr_svg_bars(char *buf, size_t cap, const char *title, const char *ylabel, size_t n,
                 const char *const *names, const double *values, const int *group,
                 size_t n_groups, const char *const *group_names, double y_from)
{
    if (!title || !ylabel || !names || !values || n < 1 || n > 256 ||
        n_groups > TTR_SVG_MAX_SERIES)
        return TTR_ERR_ARG;
    if (!finite_d(y_from))
        return TTR_ERR_NONFINITE;
    double hi = y_from;
    for (size_t i = 0; i < n; i++) {
        if (!names[i] || (group && (group[i] < 0 || group[i] >= TTR_SVG_MAX_SERIES)))
            return TTR_ERR_ARG;
        if (!finite_d(values[i]))
            return TTR_ERR_NONFINITE;
        hi = values[i] > hi ? values[i] : hi;
    }
    double lo = y_from;
    if (hi - lo < 1e-9)
        hi = lo + 1.0;
    hi += (hi - lo) * 0.08;
    const double bw = 46, x0 = 80, y0 = 330, y1 = 50;
    const int W = (int)(x0 + bw * (double)n + 40 + (group_names ? 170 : 0)), H = 470;
    sbuf b;
    int err = sb_begin(&b, buf, cap, W, H, title);
    if (err)
        return err;
    double x1 = x0 + bw * (double)n + 20;
    y_axis(&b, lo, hi, x0, x1, y0, y1, ylabel);
    for (size_t i = 0; i < n; i++) {
        double v = values[i] < lo ? lo : values[i];
        double top = y0 - (v - lo) / (hi - lo) * (y0 - y1), x = x0 + 10 + bw * (double)i;
        put(&b,
            "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>\n", x + 4,
            top, bw - 8, y0 - top, g_palette[group ? group[i] : 0]);
        char txt[32], tr[96];
        snprintf(txt, sizeof txt, "%.3f", values[i]);
        label(&b, x + bw / 2, top - 4, "middle", 9, NULL, txt);
        snprintf(tr, sizeof tr, " transform=\"rotate(-45 %.1f %.1f)\"", x + bw / 2, y0 + 14);
        label(&b, x + bw / 2, y0 + 14, "end", 11, tr, names[i]);
    }
    if (group_names)
        for (size_t g = 0; g < n_groups; g++) {
            double ly = y1 + 10 + 22.0 * (double)g;
            if (!group_names[g])
                continue;
            put(&b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"16\" height=\"12\" fill=\"%s\"/>\n",
                x1 + 20, ly - 8, g_palette[g]);
            label(&b, x1 + 42, ly + 3, "start", 12, NULL, group_names[g]);
        }
    return sb_end(&b);
}
