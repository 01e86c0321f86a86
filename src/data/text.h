/* Private: the tokens and numbers of the text formats (LETOR/SVMlight and
 * the click log), shared by the reader's files. */
#ifndef TTR_DATA_TEXT_H
#define TTR_DATA_TEXT_H

#include <stdint.h>
#include <string.h>

static inline int is_ws(char c)
{
    return c == ' ' || c == '\t';
}

static inline int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static inline const char *skip_ws(const char *p, const char *e)
{
    while (p < e && is_ws(*p))
        p++;
    return p;
}

/* End of the token at p: the next blank, '#' or the end of line. */
static inline const char *tok_end(const char *p, const char *e)
{
    while (p < e && !is_ws(*p) && *p != '#')
        p++;
    return p;
}

static inline int lower_eq(const char *p, const char *e, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(e - p) != n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != word[i])
            return 0;
    }
    return 1;
}

/* Parse the number [p, e) into the nearest float. Returns 0, or an error
 * code with *msg set and *bad at the offending byte. */
int ttr__parse_float(const char *p, const char *e, float *out, const char **msg,
                     const char **bad);

/* Unsigned decimal [p, e) into *v (<= max). 0, TTR_ERR_FORMAT (not digits)
 * or TTR_ERR_RANGE (above max). */
int ttr__parse_uint(const char *p, const char *e, uint64_t max, uint64_t *v);

#endif
