/* A small, non-forking stand-in for the part of Criterion that ttrank's tests
 * use, for targets where Criterion is not packaged (armv7). The same test
 * sources build against either. Supported: Test(suite, name, .init, .fini,
 * .disabled, .timeout), TestSuite(suite, .init, .fini), cr_assert*,
 * cr_expect (as assert), cr_skip_test, cr_log_info/warn, cr_fail.
 * Differences: a crash ends the run (no isolation); tests run in order. */
#ifndef TTR_SHIM_CRITERION_H
#define TTR_SHIM_CRITERION_H

#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

struct criterion_test_extra_data {
    int shim_pad_;
    void (*init)(void);
    void (*fini)(void);
    int disabled;
    double timeout;
};
typedef void (*shim_fn)(void);

void shim_register_test(const char *suite, const char *name, shim_fn fn,
                        struct criterion_test_extra_data x);
void shim_register_suite(const char *suite, struct criterion_test_extra_data x);
void shim_msg(const char *prefix, const char *fmt, ...);
void shim_fail_here(const char *file, int line, const char *cond);
void shim_skip_here(void);
extern jmp_buf shim_jmp;

#define SHIM_CAT_(a, b) a##b
#define SHIM_CAT(a, b) SHIM_CAT_(a, b)
#define Test(suite, name, ...)                                                         \
    static void suite##_##name(void);                                                  \
    __attribute__((constructor)) static void SHIM_CAT(shim_reg_, suite##_##name)(void) \
    {                                                                                  \
        struct criterion_test_extra_data x = {.shim_pad_ = 0, __VA_ARGS__};            \
        shim_register_test(#suite, #name, suite##_##name, x);                          \
    }                                                                                  \
    static void suite##_##name(void)
#define TestSuite(suite, ...)                                                          \
    __attribute__((constructor)) static void SHIM_CAT(shim_suite_, suite)(void)        \
    {                                                                                  \
        struct criterion_test_extra_data x = {.shim_pad_ = 0, __VA_ARGS__};            \
        shim_register_suite(#suite, x);                                                \
    }

#define cr_log_info(...) shim_msg("[----] ", __VA_ARGS__)
#define cr_log_warn(...) shim_msg("[WARN] ", __VA_ARGS__)
#define cr_skip_test(...) do { shim_msg("[SKIP] ", "" __VA_ARGS__); shim_skip_here(); } while (0)
#define cr_fail(...) do { shim_fail_here(__FILE__, __LINE__, "cr_fail"); \
                          shim_msg("", "" __VA_ARGS__); longjmp(shim_jmp, 1); } while (0)
#define cr_assert(cond, ...) do { if (!(cond)) {                           \
        shim_fail_here(__FILE__, __LINE__, #cond);                         \
        shim_msg("", "" __VA_ARGS__); longjmp(shim_jmp, 1); } } while (0)
#define cr_expect(cond, ...) cr_assert(cond, __VA_ARGS__)
#define cr_assert_not(cond, ...) cr_assert(!(cond), __VA_ARGS__)
#define cr_assert_eq(a, b, ...) cr_assert((a) == (b), __VA_ARGS__)
#define cr_assert_neq(a, b, ...) cr_assert((a) != (b), __VA_ARGS__)
#define cr_assert_lt(a, b, ...) cr_assert((a) < (b), __VA_ARGS__)
#define cr_assert_leq(a, b, ...) cr_assert((a) <= (b), __VA_ARGS__)
#define cr_assert_gt(a, b, ...) cr_assert((a) > (b), __VA_ARGS__)
#define cr_assert_geq(a, b, ...) cr_assert((a) >= (b), __VA_ARGS__)
#define cr_assert_null(p, ...) cr_assert((p) == NULL, __VA_ARGS__)
#define cr_assert_not_null(p, ...) cr_assert((p) != NULL, __VA_ARGS__)
#define cr_assert_str_eq(a, b, ...) cr_assert(strcmp((a), (b)) == 0, __VA_ARGS__)
#define cr_assert_float_eq(a, b, eps, ...) \
    cr_assert(fabs((double)(a) - (double)(b)) <= (eps), __VA_ARGS__)

#endif
