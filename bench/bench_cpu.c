/* `ttrank bench`: what machine the numbers come from (bench_private.h):
 * the CPU's name (x86 brand string, ARM implementer/part or board), the
 * architecture, the load average and the compiler. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include "bench_private.h"

/* ------------------------------------------------------------------------
 * CPU description
 * ------------------------------------------------------------------------ */

static void trim_copy(char *dst, size_t len, const char *src)
{
    while (*src == ' ' || *src == '\t')
        src++;
    size_t n = strlen(src);
    while (n && (src[n - 1] == ' ' || src[n - 1] == '\t' || src[n - 1] == '\n' ||
                 src[n - 1] == '\r'))
        n--;
    if (n >= len)
        n = len - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* Append src to the string in dst (size len), truncating. */
static void str_append(char *dst, size_t len, const char *src)
{
    size_t n = strlen(dst), m = strlen(src);
    if (n + 1 >= len)
        return;
    if (m > len - 1 - n)
        m = len - 1 - n;
    memcpy(dst + n, src, m);
    dst[n + m] = '\0';
}

#if !defined(__x86_64__) && !defined(__i386__)
static const char *arm_part_name(unsigned impl, unsigned part)
{
    static const struct {
        unsigned part;
        const char *name;
    } arm[] = {
        {0xc05, "Cortex-A5"},   {0xc07, "Cortex-A7"},   {0xc08, "Cortex-A8"},
        {0xc09, "Cortex-A9"},   {0xc0d, "Cortex-A12"},  {0xc0e, "Cortex-A17"},
        {0xc0f, "Cortex-A15"},  {0xd03, "Cortex-A53"},  {0xd04, "Cortex-A35"},
        {0xd05, "Cortex-A55"},  {0xd07, "Cortex-A57"},  {0xd08, "Cortex-A72"},
        {0xd09, "Cortex-A73"},  {0xd0a, "Cortex-A75"},  {0xd0b, "Cortex-A76"},
        {0xd0c, "Neoverse-N1"}, {0xd0d, "Cortex-A77"},  {0xd40, "Neoverse-V1"},
        {0xd41, "Cortex-A78"},  {0xd44, "Cortex-X1"},   {0xd46, "Cortex-A510"},
        {0xd47, "Cortex-A710"}, {0xd48, "Cortex-X2"},   {0xd49, "Neoverse-N2"},
        {0xd4b, "Cortex-A78C"}, {0xd4d, "Cortex-A715"}, {0xd4e, "Cortex-X3"},
    };
    if (impl != 0x41)
        return NULL;
    for (size_t i = 0; i < NELEM(arm); i++)
        if (arm[i].part == part)
            return arm[i].name;
    return NULL;
}
#endif

/* Best effort from /proc/cpuinfo (and the device tree): "model name", the
 * ARM core names from "CPU implementer"/"CPU part", the board or SoC. */
static void cpu_name_proc(char *out, size_t len)
{
    char line[512], model[160] = "", hardware[160] = "", parts[200] = "", board[160] = "";
    unsigned impl = 0;
    int x86_fields = 0; /* an x86 /proc/cpuinfo: an ARM build runs under emulation */
    FILE *f = fopen("/proc/cpuinfo", "r");
    out[0] = '\0';
    if (f) {
        while (fgets(line, sizeof line, f)) {
            char *colon = strchr(line, ':');
            if (!colon)
                continue;
            *colon = '\0';
            char key[64], val[160];
            trim_copy(key, sizeof key, line);
            trim_copy(val, sizeof val, colon + 1);
            if (!strcmp(key, "model name") && !model[0])
                str_append(model, sizeof model, val);
            else if (!strcmp(key, "vendor_id"))
                x86_fields = 1;
            else if (!strcmp(key, "Hardware") && !hardware[0])
                str_append(hardware, sizeof hardware, val);
            else if (!strcmp(key, "CPU implementer"))
                impl = (unsigned)strtoul(val, NULL, 0);
            else if (!strcmp(key, "CPU part")) {
                char name[48] = "";
                unsigned part = (unsigned)strtoul(val, NULL, 0);
                const char *known = NULL;
#if !defined(__x86_64__) && !defined(__i386__)
                known = arm_part_name(impl, part);
#endif
                if (known)
                    str_append(name, sizeof name, known);
                else
                    snprintf(name, sizeof name, "0x%02x:0x%03x", impl, part);
                if (!strstr(parts, name) && strlen(parts) + strlen(name) + 4 < sizeof parts) {
                    if (parts[0])
                        strcat(parts, " + ");
                    strcat(parts, name);
                }
            }
        }
        fclose(f);
    }
    f = fopen("/proc/device-tree/model", "r");
    if (f) {
        size_t n = fread(board, 1, sizeof board - 1, f);
        board[n] = '\0'; /* the device tree string is NUL-terminated already */
        fclose(f);
    }
    if (!board[0])
        str_append(board, sizeof board, hardware);
    const char *core = parts[0] ? parts : model;
    out[0] = '\0';
#if !defined(__x86_64__) && !defined(__i386__)
    if (x86_fields && !parts[0]) {
        str_append(out, len, "emulated on ");
        str_append(out, len, model[0] ? model : "x86");
        return;
    }
#else
    (void)x86_fields;
#endif
    str_append(out, len, core[0] ? core : board);
    if (core[0] && board[0]) {
        str_append(out, len, " (");
        str_append(out, len, board);
        str_append(out, len, ")");
    }
}

void bench_cpu_name(char *out, size_t len)
{
    out[0] = '\0';
#if defined(__x86_64__) || defined(__i386__)
    unsigned r[12], a, b, c, d;
    if (__get_cpuid(0x80000000u, &a, &b, &c, &d) && a >= 0x80000004u) {
        char brand[49];
        for (unsigned i = 0; i < 3; i++)
            __get_cpuid(0x80000002u + i, &r[4 * i], &r[4 * i + 1], &r[4 * i + 2], &r[4 * i + 3]);
        memcpy(brand, r, 48);
        brand[48] = '\0';
        trim_copy(out, len, brand);
    }
#endif
    if (!out[0])
        cpu_name_proc(out, len);
    if (!out[0])
        snprintf(out, len, "unknown");
}

const char *bench_arch_name(void)
{
#if defined(__x86_64__)
    return "x86_64";
#elif defined(__i386__)
    return "i386";
#elif defined(__aarch64__)
    return "aarch64";
#elif defined(__arm__)
    return "armv7";
#else
    return "unknown";
#endif
}

/* The 1-minute load average (Linux), or -1: other work on the machine skews
 * the times, so the header records it. */
double bench_load_average(void)
{
    double l = -1.0;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &l) != 1)
            l = -1.0;
        fclose(f);
    }
    return l;
}

void bench_compiler_name(char *out, size_t len)
{
#if defined(__clang__)
    trim_copy(out, len, "clang " __clang_version__);
#elif defined(__GNUC__)
    trim_copy(out, len, "gcc " __VERSION__);
#else
    trim_copy(out, len, "unknown");
#endif
}
