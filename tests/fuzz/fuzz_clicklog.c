/* Fuzz target: the click-log reader (layout header, pos/ctx fields) and the
 * click-log writer's round trip (see fuzz_reader.h for the input layout and
 * the invariants checked). */
#define FUZZ_KIND_CLICKS 1
#include "fuzz_reader.h"
