/* Runner of the Criterion stand-in (see criterion/criterion.h). It prints
 * Criterion's synthesis line and the plain "N passed, N failed" line, and
 * exits 1 if a test failed. An optional argument filters tests by substring
 * of "suite::name". Each test's line gives its wall time, so the slow ones
 * under emulation or valgrind can be found. */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stdlib.h>
#include <time.h>

#include "criterion/criterion.h"

struct shim_test {
    const char *suite, *name;
    shim_fn fn;
    struct criterion_test_extra_data x;
};
struct shim_suite {
    const char *name;
    struct criterion_test_extra_data x;
};

static struct shim_test tests[1024];
static int ntests;
static struct shim_suite suites[128];
static int nsuites;
static int state; /* 0 pass, 1 fail, 2 skip */
jmp_buf shim_jmp;

void shim_register_test(const char *suite, const char *name, shim_fn fn,
                        struct criterion_test_extra_data x)
{
    if (ntests == (int)(sizeof tests / sizeof tests[0])) {
        fprintf(stderr, "shim: too many tests\n");
        exit(2);
    }
    tests[ntests].suite = suite;
    tests[ntests].name = name;
    tests[ntests].fn = fn;
    tests[ntests].x = x;
    ntests++;
}

void shim_register_suite(const char *suite, struct criterion_test_extra_data x)
{
    if (nsuites == (int)(sizeof suites / sizeof suites[0])) {
        fprintf(stderr, "shim: too many suites\n");
        exit(2);
    }
    suites[nsuites].name = suite;
    suites[nsuites].x = x;
    nsuites++;
}

void shim_msg(const char *prefix, const char *fmt, ...)
{
    va_list ap;
    if (!*prefix && !*fmt)
        return;
    fputs(prefix, stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void shim_fail_here(const char *file, int line, const char *cond)
{
    fprintf(stderr, "[FAIL] %s:%d: assertion failed: %s\n", file, line, cond);
    state = 1;
}

void shim_skip_here(void)
{
    state = 2;
    longjmp(shim_jmp, 1);
}

/* setjmp lives in its own frame so that main's counters are never clobbered. */
static void run_one(shim_fn fn)
{
    if (!setjmp(shim_jmp))
        fn();
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    const char *filter = argc > 1 ? argv[1] : NULL;
    int passed = 0, failed = 0, skipped = 0;
    char full[256];
    for (int i = 0; i < ntests; i++) {
        struct shim_test *t = &tests[i];
        snprintf(full, sizeof full, "%s::%s", t->suite, t->name);
        if ((filter && !strstr(full, filter)) || t->x.disabled)
            continue;
        struct criterion_test_extra_data sx = {0, NULL, NULL, 0, 0.0};
        for (int s = 0; s < nsuites; s++)
            if (!strcmp(suites[s].name, t->suite))
                sx = suites[s].x;
        state = 0;
        double t0 = now_s();
        if (sx.init)
            sx.init();
        if (t->x.init)
            t->x.init();
        run_one(t->fn);
        if (t->x.fini)
            t->x.fini();
        if (sx.fini)
            sx.fini();
        if (state == 1)
            failed++;
        else if (state == 2)
            skipped++;
        else
            passed++;
        fprintf(stderr, "[%s] %s (%.2f s)\n", state == 1 ? "FAIL" : state == 2 ? "SKIP" : "PASS",
                full, now_s() - t0);
    }
    printf("[====] Synthesis: Tested: %d | Passing: %d | Failing: %d | Crashing: 0 \n",
           passed + failed, passed, failed);
    printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    return failed ? 1 : 0;
}
