/* Fuzz target: the LETOR/SVMlight reader, with qid: or with a LightGBM
 * .query stream of group sizes (see fuzz_reader.h for the input layout and
 * the invariants checked). */
#define FUZZ_KIND_CLICKS 0
#include "fuzz_reader.h"
