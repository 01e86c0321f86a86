/* Numbers of the text formats (text.h): the nearest float of a decimal
 * (short mantissas with exact powers of ten directly, the rest through
 * strtof, which needs LC_NUMERIC "C") and bounded unsigned integers. */
#include <errno.h>
#include <stdlib.h>

#include "text.h"
#include "ttr_data.h"

static const float pow10f_tab[11] = {1e0f, 1e1f, 1e2f, 1e3f, 1e4f, 1e5f,
                                     1e6f, 1e7f, 1e8f, 1e9f, 1e10f};

int ttr__parse_float(const char *p, const char *e, float *out, const char **msg,
                     const char **bad)
{
    const char *s = p, *q = p;
    uint64_t m = 0;
    int sig = 0, exp10 = 0, any = 0, neg = 0, eneg = 0;
    long ev = 0;
    *bad = p;
    if (q < e && (*q == '+' || *q == '-')) {
        neg = *q == '-';
        q++;
    }
    if (q < e && !is_digit(*q) && *q != '.') {
        if (lower_eq(q, e, "nan") || lower_eq(q, e, "inf") || lower_eq(q, e, "infinity")) {
            *msg = "non-finite number";
            return TTR_ERR_NONFINITE;
        }
        *bad = q;
        *msg = "bad number";
        return TTR_ERR_FORMAT;
    }
    for (; q < e && is_digit(*q); q++) {
        any = 1;
        if (m == 0 && *q == '0')
            continue;
        if (sig < 19)
            m = m * 10 + (uint64_t)(*q - '0');
        else
            exp10++;
        sig++;
    }
    if (q < e && *q == '.') {
        for (q++; q < e && is_digit(*q); q++) {
            any = 1;
            if (m == 0 && *q == '0') {
                exp10--;
                continue;
            }
            if (sig < 19) {
                m = m * 10 + (uint64_t)(*q - '0');
                exp10--;
            }
            sig++;
        }
    }
    if (!any) {
        *bad = q;
        *msg = "bad number";
        return TTR_ERR_FORMAT;
    }
    if (q < e && (*q == 'e' || *q == 'E')) {
        int edig = 0;
        q++;
        if (q < e && (*q == '+' || *q == '-')) {
            eneg = *q == '-';
            q++;
        }
        for (; q < e && is_digit(*q); q++) {
            edig = 1;
            if (ev < 100000)
                ev = ev * 10 + (*q - '0');
        }
        if (!edig) {
            *bad = q;
            *msg = "bad number";
            return TTR_ERR_FORMAT;
        }
    }
    if (q != e) {
        *bad = q;
        *msg = "bad number";
        return TTR_ERR_FORMAT;
    }
    if (m == 0) {
        *out = neg ? -0.0f : 0.0f;
        return 0;
    }
    {
        long x10 = exp10 + (eneg ? -ev : ev);
        /* Fast path: m and 10^|x10| exact in float, one correctly rounded
         * operation (same result as strtof). */
        if (sig <= 19 && m < (1u << 24) && x10 >= -10 && x10 <= 10) {
            float f = (float)m;
            f = x10 < 0 ? f / pow10f_tab[-x10] : f * pow10f_tab[x10];
            *out = neg ? -f : f;
            return 0;
        }
    }
    {
        char tmp[TTR_DATA_MAX_NUMBER + 1];
        char *endp;
        float f;
        size_t n = (size_t)(e - s);
        if (n > TTR_DATA_MAX_NUMBER) {
            *msg = "number too long";
            return TTR_ERR_FORMAT;
        }
        memcpy(tmp, s, n);
        tmp[n] = 0;
        errno = 0;
        f = strtof(tmp, &endp);
        if (endp != tmp + n) {
            *msg = "bad number (is LC_NUMERIC \"C\"?)";
            return TTR_ERR_FORMAT;
        }
        if (errno == ERANGE && !(f > -1.0f && f < 1.0f)) {
            *msg = "number out of float range";
            return TTR_ERR_RANGE;
        }
        *out = f;
        return 0;
    }
}

int ttr__parse_uint(const char *p, const char *e, uint64_t max, uint64_t *v)
{
    uint64_t x = 0;
    int big = 0;
    if (p == e)
        return TTR_ERR_FORMAT;
    for (; p < e; p++) {
        unsigned d;
        if (!is_digit(*p))
            return TTR_ERR_FORMAT;
        d = (unsigned)(*p - '0');
        if (x > (UINT64_MAX - d) / 10)
            big = 1;
        else
            x = x * 10 + d;
    }
    if (big || x > max)
        return TTR_ERR_RANGE;
    *v = x;
    return 0;
}

