/* CPU feature detection and the user's mask.
 *
 * Detection runs once (pthread_once); the mask comes from TTR_CPU_MASK at the
 * same moment and can be replaced later with ttr_set_cpu_mask(). This file is
 * compiled for the baseline target: it must not execute any instruction the
 * CPU might lack, so XGETBV is emitted as raw bytes only after CPUID says
 * OSXSAVE is there. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static unsigned detect(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return 0;
    /* FMA (bit 12), OSXSAVE (27), AVX (28) */
    if ((c & ((1u << 12) | (1u << 27) | (1u << 28))) != ((1u << 12) | (1u << 27) | (1u << 28)))
        return 0;
    unsigned xlo, xhi;
    __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(xlo), "=d"(xhi) : "c"(0)); /* xgetbv */
    (void)xhi;
    if ((xlo & 0x6) != 0x6) /* the OS saves XMM and YMM state */
        return 0;
    if (__get_cpuid_max(0, NULL) < 7)
        return 0;
    __cpuid_count(7, 0, a, b, c, d);
    if (!(b & (1u << 5))) /* AVX2 */
        return 0;
    unsigned f = TTR_CPU_AVX2;
    /* AVX-VNNI (VEX vpdpbusd on YMM, whose state the OS saves: checked above):
     * leaf 7 subleaf 1 EAX bit 4; subleaf 1 exists if subleaf 0's EAX >= 1. */
    if (a >= 1) {
        unsigned a1, b1, c1, d1;
        __cpuid_count(7, 1, a1, b1, c1, d1);
        (void)b1, (void)c1, (void)d1;
        if (a1 & (1u << 4))
            f |= TTR_CPU_AVXVNNI;
    }
    return f;
}

#elif (defined(__aarch64__) || defined(__arm__)) && defined(__linux__)
#include <sys/auxv.h>

static unsigned detect(void)
{
    unsigned long hw = getauxval(AT_HWCAP);
#if defined(__aarch64__)
    /* Bit values of <asm/hwcap.h>, spelled out so that old headers can't hide them. */
    const unsigned long hwcap_asimd = 1ul << 1, hwcap_asimddp = 1ul << 20;
    unsigned f = 0;
    if (hw & hwcap_asimd)
        f |= TTR_CPU_NEON | TTR_CPU_NEON_FMA; /* ASIMD always has fused multiply-add */
    if ((f & TTR_CPU_NEON) && (hw & hwcap_asimddp))
        f |= TTR_CPU_NEON_DOT;
    return f;
#else
    /* armv7: NEON (bit 12); fused vfma needs VFPv4 (bit 16). Cortex-A8/A9 have NEON only. */
    const unsigned long hwcap_neon = 1ul << 12, hwcap_vfpv4 = 1ul << 16;
    unsigned f = 0;
    if (hw & hwcap_neon) {
        f |= TTR_CPU_NEON;
        if (hw & hwcap_vfpv4)
            f |= TTR_CPU_NEON_FMA;
    }
    return f;
#endif
}

#else
static unsigned detect(void)
{
    return 0;
}
#endif

static unsigned g_detected, g_mask = TTR_CPU_ALL;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void init_once(void)
{
    g_detected = detect();
    const char *env = getenv("TTR_CPU_MASK");
    unsigned m;
    if (env && ttr_parse_cpu_mask(env, &m) == TTR_OK)
        g_mask = m;
}

unsigned ttr_cpu_detected(void)
{
    pthread_once(&g_once, init_once);
    return g_detected;
}

unsigned ttr_cpu_flags(void)
{
    pthread_once(&g_once, init_once);
    return g_detected & g_mask;
}

void ttr__cpu_set_mask(unsigned mask)
{
    pthread_once(&g_once, init_once);
    g_mask = mask;
}

/* The kernel paths, once: in ISA order per architecture, each with the
 * cumulative mask that allows it (and every lower path of its architecture). */
enum { P_SCALAR, P_AVX2, P_AVXVNNI, P_NEON, P_NEONFMA, P_NEONDOT, P_COUNT };
typedef struct cpu_path {
    const char *name;
    unsigned mask;
} cpu_path;
static const cpu_path g_paths[P_COUNT] = {
    [P_SCALAR] = {"scalar", 0},
    [P_AVX2] = {"avx2", TTR_CPU_AVX2},
    [P_AVXVNNI] = {"avxvnni", TTR_CPU_AVX2 | TTR_CPU_AVXVNNI},
    [P_NEON] = {"neon", TTR_CPU_NEON},
    [P_NEONFMA] = {"neonfma", TTR_CPU_NEON | TTR_CPU_NEON_FMA},
    [P_NEONDOT] = {"neondot", TTR_CPU_NEON | TTR_CPU_NEON_FMA | TTR_CPU_NEON_DOT},
};

const char *ttr_cpu_path(size_t i, unsigned *mask)
{
    if (i >= P_COUNT)
        return NULL;
    if (mask)
        *mask = g_paths[i].mask;
    return g_paths[i].name;
}

int ttr_parse_cpu_mask(const char *text, unsigned *mask)
{
    /* other names TTR_CPU_MASK accepts */
    static const cpu_path aliases[] = {
        {"none", 0},
        {"c", 0},
        {"dotprod", TTR_CPU_NEON | TTR_CPU_NEON_FMA | TTR_CPU_NEON_DOT},
        {"all", TTR_CPU_ALL},
    };
    if (!text || !mask || !*text)
        return TTR_ERR_ARG;
    for (size_t i = 0; i < P_COUNT; i++)
        if (!strcmp(text, g_paths[i].name)) {
            *mask = g_paths[i].mask;
            return TTR_OK;
        }
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (!strcmp(text, aliases[i].name)) {
            *mask = aliases[i].mask;
            return TTR_OK;
        }
    if (text[0] < '0' || text[0] > '9')
        return TTR_ERR_ARG;
    char *end;
    errno = 0;
    unsigned long v = strtoul(text, &end, 0);
    if (*end || errno == ERANGE || v > 0xfffffffful) /* ERANGE: 32-bit long */
        return TTR_ERR_ARG;
    *mask = (unsigned)v;
    return TTR_OK;
}

const char *ttr_cpu_path_name(unsigned flags)
{
    /* as the arch inits dispatch: the dot-product kernels need NEON, not
     * the fused float ones */
    if ((flags & TTR_CPU_AVX2) && (flags & TTR_CPU_AVXVNNI))
        return g_paths[P_AVXVNNI].name;
    if (flags & TTR_CPU_AVX2)
        return g_paths[P_AVX2].name;
    if ((flags & TTR_CPU_NEON) && (flags & TTR_CPU_NEON_DOT))
        return g_paths[P_NEONDOT].name;
    if ((flags & TTR_CPU_NEON) && (flags & TTR_CPU_NEON_FMA))
        return g_paths[P_NEONFMA].name;
    if (flags & TTR_CPU_NEON)
        return g_paths[P_NEON].name;
    return g_paths[P_SCALAR].name;
}
