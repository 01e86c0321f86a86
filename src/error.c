/* Messages of the error codes of ttr_error.h. */
#include "ttr_error.h"

const char *ttr_strerror(int err)
{
    switch (err) {
    case TTR_OK: return "ok";
    case TTR_ERR_ARG: return "invalid argument";
    case TTR_ERR_NOMEM: return "buffer too small";
    case TTR_ERR_RANGE: return "value out of range";
    case TTR_ERR_NONFINITE: return "non-finite value (NaN or Inf) in input";
    case TTR_ERR_FORMAT: return "malformed input";
    case TTR_ERR_IO: return "input/output error";
    case TTR_ERR_UNSUPPORTED: return "not supported";
    default: return "unknown error";
    }
}
