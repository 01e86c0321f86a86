/* CPU feature detection, the mask (ttr_set_cpu_mask, TTR_CPU_MASK) and the
 * path names. Detection is checked against an independent source: the
 * compiler's __builtin_cpu_supports on x86, getauxval(AT_HWCAP) bits from
 * <asm/hwcap.h> on ARM.
 *
 * Environment knobs (set by scripts/check.sh; both optional):
 *   TTR_CPU_MASK          the library must have applied it at its first use
 *                         (checked against flags captured before any test
 *                         runs, since the shim runs every test in one process)
 *   TTR_TEST_EXPECT_PATH  the best detected path must have this name, e.g.
 *                         "neonfma" under QEMU_CPU=cortex-a53; this proves
 *                         that a fallback run really exercised the fallback.
 *
 * Only the Criterion subset of tests/shim/criterion/criterion.h is used. */
#include <criterion/criterion.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ttr_kernels.h"

#if (defined(__aarch64__) || defined(__arm__)) && defined(__linux__)
#include <sys/auxv.h>
#endif
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#define ARM_BITS (TTR_CPU_NEON | TTR_CPU_NEON_FMA | TTR_CPU_NEON_DOT)
#define X86_BITS (TTR_CPU_AVX2 | TTR_CPU_AVXVNNI)
#define KNOWN_BITS (X86_BITS | ARM_BITS)

/* ---- state captured at load time, before any test changes the mask ------- */
static int g_env_set;                    /* TTR_CPU_MASK present */
static int g_env_valid;                  /* ... and parsed */
static unsigned g_env_mask;              /* its value */
static unsigned g_initial_flags;         /* ttr_cpu_flags() at first use */
static unsigned g_initial_detected;      /* ttr_cpu_detected() then */
static const char *g_initial_isa[TTR_K_COUNT];

__attribute__((constructor)) static void capture_initial_state(void)
{
    const char *env = getenv("TTR_CPU_MASK");
    g_env_set = env != NULL;
    g_env_valid = env && ttr_parse_cpu_mask(env, &g_env_mask) == TTR_OK;
    /* First use of the library in this process: it reads TTR_CPU_MASK now. */
    g_initial_flags = ttr_cpu_flags();
    g_initial_detected = ttr_cpu_detected();
    for (int i = 0; i < TTR_K_COUNT; i++)
        g_initial_isa[i] = ttr_kernel_isa((ttr_kernel_id)i);
}

static void restore_mask(void)
{
    ttr_set_cpu_mask(TTR_CPU_ALL);
}

TestSuite(cpu, .fini = restore_mask);

/* The feature bits a kernel running on the path `name` needs. (A dot-product
 * kernel needs no fused multiply-add, so "neondot" here is NEON + DOT, while
 * ttr_cpu_path_name calls a set of flags "neondot" only with FMA too.) */
static unsigned path_bits(const char *name)
{
    if (!strcmp(name, "avx2"))
        return TTR_CPU_AVX2;
    if (!strcmp(name, "avxvnni"))
        return TTR_CPU_AVX2 | TTR_CPU_AVXVNNI;
    if (!strcmp(name, "neon"))
        return TTR_CPU_NEON;
    if (!strcmp(name, "neonfma"))
        return TTR_CPU_NEON | TTR_CPU_NEON_FMA;
    if (!strcmp(name, "neondot"))
        return TTR_CPU_NEON | TTR_CPU_NEON_DOT;
    return 0;
}

static int is_path_name(const char *name)
{
    static const char *const names[] = {"scalar", "avx2", "avxvnni", "neon", "neonfma", "neondot"};
    if (!name)
        return 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(name, names[i]))
            return 1;
    return 0;
}

/* Every kernel's path is a known name whose features are all in `flags`. */
static void assert_kernels_within(unsigned flags)
{
    for (int i = 0; i < TTR_K_COUNT; i++) {
        const char *isa = ttr_kernel_isa((ttr_kernel_id)i);
        cr_assert(is_path_name(isa), "kernel %d: path %s", i, isa ? isa : "(null)");
        cr_assert_eq(path_bits(isa) & ~flags, 0u,
                     "kernel %d runs %s but flags are 0x%x", i, isa, flags);
    }
}

Test(cpu, parse_names)
{
    static const struct {
        const char *text;
        unsigned mask;
    } ok[] = {
        {"scalar", 0},
        {"none", 0},
        {"c", 0},
        {"avx2", TTR_CPU_AVX2},
        {"avxvnni", TTR_CPU_AVX2 | TTR_CPU_AVXVNNI},
        {"neon", TTR_CPU_NEON},
        {"neonfma", TTR_CPU_NEON | TTR_CPU_NEON_FMA},
        {"neondot", TTR_CPU_NEON | TTR_CPU_NEON_FMA | TTR_CPU_NEON_DOT},
        {"dotprod", TTR_CPU_NEON | TTR_CPU_NEON_FMA | TTR_CPU_NEON_DOT},
        {"all", TTR_CPU_ALL},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        unsigned m = 0x5a5a5a5au;
        cr_assert_eq(ttr_parse_cpu_mask(ok[i].text, &m), TTR_OK, "\"%s\"", ok[i].text);
        cr_assert_eq(m, ok[i].mask, "\"%s\" -> 0x%x", ok[i].text, m);
    }
}

Test(cpu, parse_numbers)
{
    static const struct {
        const char *text;
        unsigned mask;
    } ok[] = {
        {"0", 0},
        {"1", TTR_CPU_AVX2},
        {"3", TTR_CPU_AVX2 | TTR_CPU_AVXVNNI},
        {"256", TTR_CPU_NEON},
        {"0x300", TTR_CPU_NEON | TTR_CPU_NEON_FMA},
        {"0X701", TTR_CPU_AVX2 | ARM_BITS},
        {"0xffffffff", TTR_CPU_ALL},
        {"4294967295", TTR_CPU_ALL},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        unsigned m = 0x5a5a5a5au;
        cr_assert_eq(ttr_parse_cpu_mask(ok[i].text, &m), TTR_OK, "\"%s\"", ok[i].text);
        cr_assert_eq(m, ok[i].mask, "\"%s\" -> 0x%x", ok[i].text, m);
    }
}

Test(cpu, parse_rejects_junk)
{
    static const char *const bad[] = {
        "",       "avx3",      "neon ",     " neon",       "neon,avx2", "sse2",
        "-1",     "+1",        " 1",        "1x",          "0x",        "0xfg",
        "12abc",  "1.0",       "0x1ffffffff", "4294967296", "99999999999999999999999",
        "scalar\n", "avx-vnni", "vnni", "AVXVNNI",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        unsigned m = 0;
        cr_assert_eq(ttr_parse_cpu_mask(bad[i], &m), TTR_ERR_ARG, "\"%s\" was accepted", bad[i]);
    }
    unsigned m = 0;
    cr_assert_eq(ttr_parse_cpu_mask(NULL, &m), TTR_ERR_ARG);
    cr_assert_eq(ttr_parse_cpu_mask("all", NULL), TTR_ERR_ARG);
}

Test(cpu, mask_zero_is_scalar)
{
    ttr_set_cpu_mask(0);
    cr_assert_eq(ttr_cpu_flags(), 0u);
    cr_assert_str_eq(ttr_cpu_path_name(ttr_cpu_flags()), "scalar");
    for (int i = 0; i < TTR_K_COUNT; i++) {
        const char *isa = ttr_kernel_isa((ttr_kernel_id)i);
        cr_assert_not_null(isa, "kernel %d", i);
        cr_assert_str_eq(isa, "scalar", "kernel %d runs %s under mask 0", i, isa);
    }
    /* Detection is not masked. */
    cr_assert_eq(ttr_cpu_detected(), g_initial_detected);
}

Test(cpu, kernel_isa_out_of_range)
{
    cr_assert_null(ttr_kernel_isa(TTR_K_COUNT));
    cr_assert_null(ttr_kernel_isa((ttr_kernel_id)(TTR_K_COUNT + 7)));
    cr_assert_null(ttr_kernel_isa((ttr_kernel_id)-1));
}

Test(cpu, all_restores_detected)
{
    ttr_set_cpu_mask(0);
    ttr_set_cpu_mask(TTR_CPU_ALL);
    unsigned det = ttr_cpu_detected();
    cr_assert_eq(ttr_cpu_flags(), det);
    cr_assert_str_eq(ttr_cpu_path_name(ttr_cpu_flags()), ttr_cpu_path_name(det));
    assert_kernels_within(det);
}

Test(cpu, masks_never_enable_undetected)
{
    unsigned det = ttr_cpu_detected();
    unsigned masks[64];
    size_t n = 0;
    static const unsigned fixed[] = {
        0,
        TTR_CPU_AVX2,
        TTR_CPU_AVXVNNI, /* without AVX2: no path may use it */
        X86_BITS,
        TTR_CPU_NEON,
        TTR_CPU_NEON_FMA,
        TTR_CPU_NEON_DOT,
        TTR_CPU_NEON | TTR_CPU_NEON_FMA,
        TTR_CPU_NEON | TTR_CPU_NEON_DOT,
        ARM_BITS,
        KNOWN_BITS,
        ~KNOWN_BITS,
        TTR_CPU_ALL,
    };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        masks[n++] = fixed[i];
    uint32_t s = 0x9e3779b9u; /* xorshift32: random bit sets */
    while (n < sizeof masks / sizeof masks[0]) {
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        masks[n++] = s;
    }
    for (size_t i = 0; i < n; i++) {
        ttr_set_cpu_mask(masks[i]);
        unsigned f = ttr_cpu_flags();
        cr_assert_eq(f, det & masks[i], "mask 0x%x: flags 0x%x, detected 0x%x", masks[i], f, det);
        cr_assert_eq(f & ~det, 0u);
        assert_kernels_within(f);
        cr_assert_eq(ttr_cpu_detected(), det, "a mask changed detection");
    }
}

Test(cpu, path_names)
{
    cr_assert_str_eq(ttr_cpu_path_name(0), "scalar");
    cr_assert_str_eq(ttr_cpu_path_name(TTR_CPU_AVX2), "avx2");
    cr_assert_str_eq(ttr_cpu_path_name(X86_BITS), "avxvnni");
    cr_assert_str_eq(ttr_cpu_path_name(TTR_CPU_AVXVNNI), "scalar"); /* VNNI without AVX2 */
    cr_assert_str_eq(ttr_cpu_path_name(TTR_CPU_NEON), "neon");
    cr_assert_str_eq(ttr_cpu_path_name(TTR_CPU_NEON | TTR_CPU_NEON_FMA), "neonfma");
    cr_assert_str_eq(ttr_cpu_path_name(ARM_BITS), "neondot");
    /* FMA or DOT without NEON is no NEON path. */
    cr_assert_str_eq(ttr_cpu_path_name(TTR_CPU_NEON_FMA), "scalar");
    cr_assert_str_eq(ttr_cpu_path_name(TTR_CPU_NEON_DOT), "scalar");
    cr_assert_str_eq(ttr_cpu_path_name(TTR_CPU_NEON_FMA | TTR_CPU_NEON_DOT), "scalar");
    /* Unknown bits are ignored. */
    cr_assert_str_eq(ttr_cpu_path_name(~KNOWN_BITS), "scalar");
    cr_assert(is_path_name(ttr_cpu_path_name(ttr_cpu_flags())));
    /* Every name the parser accepts maps back onto itself. */
    static const char *const round[] = {"scalar", "avx2", "avxvnni", "neon", "neonfma", "neondot"};
    for (size_t i = 0; i < sizeof round / sizeof round[0]; i++) {
        unsigned m;
        cr_assert_eq(ttr_parse_cpu_mask(round[i], &m), TTR_OK);
        cr_assert_str_eq(ttr_cpu_path_name(m), round[i]);
    }
}

/* AVX-VNNI: only the int8 layer kernels take it, and only with both bits;
 * the "avx2" mask (as TTR_CPU_MASK=avx2) turns it off. */
Test(cpu, avxvnni_dispatch)
{
    unsigned det = ttr_cpu_detected(), m = 0;
    cr_assert_eq(ttr_parse_cpu_mask("avx2", &m), TTR_OK);
    cr_assert_eq(m & TTR_CPU_AVXVNNI, 0u, "\"avx2\" allows AVX-VNNI");
    ttr_set_cpu_mask(m);
    for (int i = 0; i < TTR_K_COUNT; i++)
        cr_assert(strcmp(ttr_kernel_isa((ttr_kernel_id)i), "avxvnni") != 0, "kernel %d under avx2", i);
    ttr_set_cpu_mask(TTR_CPU_AVXVNNI); /* without AVX2: no x86 path at all */
    for (int i = 0; i < TTR_K_COUNT; i++)
        cr_assert_str_eq(ttr_kernel_isa((ttr_kernel_id)i), "scalar", "kernel %d", i);
    ttr_set_cpu_mask(TTR_CPU_ALL);
    if (!(det & TTR_CPU_AVXVNNI)) {
        for (int i = 0; i < TTR_K_COUNT; i++)
            cr_assert(strcmp(ttr_kernel_isa((ttr_kernel_id)i), "avxvnni") != 0, "kernel %d", i);
        cr_skip_test("no AVX-VNNI on this CPU");
    }
    cr_assert(det & TTR_CPU_AVX2, "AVX-VNNI detected without AVX2");
    cr_assert_str_eq(ttr_cpu_path_name(ttr_cpu_flags()), "avxvnni");
    cr_assert_str_eq(ttr_kernel_isa(TTR_K_GEMM_S8), "avxvnni");
    cr_assert_str_eq(ttr_kernel_isa(TTR_K_GEMM_S8_RELU_Q), "avxvnni");
    cr_assert_str_eq(ttr_kernel_isa(TTR_K_QUANTIZE_S8), "avx2");
    cr_assert_str_eq(ttr_kernel_isa(TTR_K_GEMM_F32), "avx2");
}

Test(cpu, detection_matches_the_platform)
{
    unsigned det = ttr_cpu_detected();
    cr_assert_eq(det & ~KNOWN_BITS, 0u, "unknown bits 0x%x", det);
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    /* AVX-VNNI: no __builtin_cpu_supports name in clang 14, so CPUID.(7,1):EAX[4] */
    unsigned a = 0, b = 0, c = 0, d = 0;
    int vnni = 0;
    if (__get_cpuid_max(0, NULL) >= 7) {
        __cpuid_count(7, 0, a, b, c, d);
        if (a >= 1) {
            __cpuid_count(7, 1, a, b, c, d);
            vnni = (a & (1u << 4)) != 0;
        }
    }
    unsigned want = avx2 ? TTR_CPU_AVX2 | (vnni ? TTR_CPU_AVXVNNI : 0u) : 0u;
    cr_assert_eq(det, want, "detected 0x%x, __builtin_cpu_supports avx2+fma %d, avx-vnni %d",
                 det, avx2, vnni);
#elif defined(__aarch64__) && defined(__linux__)
    unsigned long hw = getauxval(AT_HWCAP);
    const unsigned long asimd = 1ul << 1, asimddp = 1ul << 20; /* <asm/hwcap.h> HWCAP_* */
    unsigned want = 0;
    if (hw & asimd)
        want = TTR_CPU_NEON | TTR_CPU_NEON_FMA | ((hw & asimddp) ? TTR_CPU_NEON_DOT : 0u);
    cr_assert_eq(det, want, "detected 0x%x, AT_HWCAP 0x%lx", det, hw);
#elif defined(__arm__) && defined(__linux__)
    unsigned long hw = getauxval(AT_HWCAP);
    const unsigned long neon = 1ul << 12, vfpv4 = 1ul << 16; /* <asm/hwcap.h> HWCAP_NEON, _VFPv4 */
    unsigned want = 0;
    if (hw & neon)
        want = TTR_CPU_NEON | ((hw & vfpv4) ? TTR_CPU_NEON_FMA : 0u);
    cr_assert_eq(det, want, "detected 0x%x, AT_HWCAP 0x%lx", det, hw);
    cr_assert_eq(det & TTR_CPU_NEON_DOT, 0u, "no dot product on armv7");
#else
    cr_assert_eq(det, 0u);
#endif
    cr_log_info("detected 0x%x: best path %s", det, ttr_cpu_path_name(det));
}

Test(cpu, expected_path)
{
    const char *want = getenv("TTR_TEST_EXPECT_PATH");
    if (!want || !*want)
        cr_skip_test("TTR_TEST_EXPECT_PATH not set");
    const char *got = ttr_cpu_path_name(ttr_cpu_detected());
    cr_assert_str_eq(got, want, "detected path %s, expected %s", got, want);
}

Test(cpu, env_mask_applied_at_first_use)
{
    /* What the library saw at its first use in this process. */
    cr_assert_eq(g_initial_detected, ttr_cpu_detected());
    if (!g_env_set) {
        cr_assert_eq(g_initial_flags, g_initial_detected, "no TTR_CPU_MASK: all detected paths");
        cr_skip_test("TTR_CPU_MASK not set");
    }
    unsigned want = g_env_valid ? (g_env_mask & g_initial_detected) : g_initial_detected;
    cr_assert_eq(g_initial_flags, want, "TTR_CPU_MASK=%s: flags 0x%x, want 0x%x (detected 0x%x)",
                 getenv("TTR_CPU_MASK"), g_initial_flags, want, g_initial_detected);
    for (int i = 0; i < TTR_K_COUNT; i++) {
        cr_assert(is_path_name(g_initial_isa[i]));
        cr_assert_eq(path_bits(g_initial_isa[i]) & ~want, 0u,
                     "kernel %d ran %s at start under TTR_CPU_MASK=%s", i, g_initial_isa[i],
                     getenv("TTR_CPU_MASK"));
    }
    /* ttr_set_cpu_mask replaces the environment's mask. */
    ttr_set_cpu_mask(TTR_CPU_ALL);
    cr_assert_eq(ttr_cpu_flags(), ttr_cpu_detected());
}

/* The one list of paths: each name parses to its mask and is the name of
 * that mask's best path; the list ends with NULL; x86 paths come before
 * ARM ones and each architecture's masks grow. */
Test(cpu, path_list_is_the_one_the_parser_and_names_use)
{
    const char *name;
    unsigned mask, prev = 0;
    size_t i;
    for (i = 0; (name = ttr_cpu_path(i, &mask)); i++) {
        unsigned parsed = 0xdeadu;
        cr_assert_eq(ttr_parse_cpu_mask(name, &parsed), TTR_OK, "%s", name);
        cr_assert_eq(parsed, mask, "%s parses to %#x, the list says %#x", name, parsed, mask);
        cr_assert_str_eq(ttr_cpu_path_name(mask), name);
        if (i && (mask & prev) == prev) /* same architecture: cumulative */
            cr_assert_neq(mask, prev);
        prev = mask;
        for (size_t j = 0; j < i; j++)
            cr_assert(strcmp(ttr_cpu_path(j, NULL), name) != 0, "%s twice", name);
    }
    cr_assert_eq(i, 6);
    cr_assert_null(ttr_cpu_path(i, &mask));
    cr_assert_null(ttr_cpu_path((size_t)-1, NULL));
}
