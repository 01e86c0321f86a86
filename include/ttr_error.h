/* ttrank — error codes shared by every public header.
 *
 * Every fallible ttrank function returns 0 (TTR_OK) or one of the negative
 * codes below. No ttrank function aborts, exits or prints. */
#ifndef TTR_ERROR_H
#define TTR_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

/* Marks the functions exported by libttrank.so (everything else is hidden). */
#if defined(__GNUC__) || defined(__clang__)
#define TTR_API __attribute__((visibility("default")))
#else
#define TTR_API
#endif

enum ttr_error {
    TTR_OK = 0,
    TTR_ERR_ARG = -1,      /* a NULL pointer, a zero size, or a value outside its documented range */
    TTR_ERR_NOMEM = -2,    /* the caller's buffer is smaller than the size query returned */
    TTR_ERR_RANGE = -3,    /* a value that the operation cannot represent (e.g. int8 weight -128) */
    TTR_ERR_NONFINITE = -4,/* NaN or Inf in an input */
    TTR_ERR_FORMAT = -5,   /* malformed input data or file */
    TTR_ERR_IO = -6,       /* a read, write or rename failed */
    TTR_ERR_UNSUPPORTED = -7 /* the operation is not available for this configuration */
};

/* A short English description of an error code ("ok" for 0). Never NULL;
 * unknown codes give "unknown error". The string is static: do not free it. */
TTR_API const char *ttr_strerror(int err);

#ifdef __cplusplus
}
#endif
#endif
