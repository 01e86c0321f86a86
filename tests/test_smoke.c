/* Smoke test: the library links and the dispatch answers. */
#include <criterion/criterion.h>

#include "ttr_kernels.h"

Test(smoke, path_name_is_known)
{
    const char *name = ttr_cpu_path_name(ttr_cpu_flags());
    cr_assert_not_null(name);
    cr_assert_str_eq(ttr_strerror(TTR_OK), "ok");
}
