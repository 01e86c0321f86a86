/* Private: what a model puts into a safetensors file, in order (its
 * tensors, then the normalisation and running statistics), shared by the
 * writer and the reader. */
#ifndef TTR_SRC_IO_SAFETENSORS_INTERNAL_H
#define TTR_SRC_IO_SAFETENSORS_INTERNAL_H

#include "../model.h"

typedef struct ttr__st_slot {
    const char *name;
    float *data;
    uint32_t rows, cols; /* cols 1: a vector, written 1-D */
    int nonneg;          /* a count or scale: negative values are refused */
    ttr__tensor *tensor; /* NULL for the statistics */
} ttr__st_slot;

/* A parsed header (safetensors_read.c); the loader reads on from it. */
#include "io_format.h"
#include "ttr_safetensors.h"

#define ST_MAX_TENSORS 256u
#define ST_NAME 40u   /* longer names are no model's: kept cut, never matched */
#define ST_CONFIG 512u

typedef struct st_entry {
    char name[ST_NAME];
    uint32_t ndim, dim[2];
    uint64_t begin, end;
} st_entry;

struct ttr_safetensors {
    io_in in;
    const char *h;          /* the JSON header */
    size_t hlen;
    st_entry *e;
    uint32_t n;
    uint64_t pos;           /* data bytes read so far */
    int has_config, has_count, has_tag;
    char config[ST_CONFIG];
    double bref_count;
    uint64_t impressions;
    char tag[TTR_TAG_MAX + 1];
    char err_name[ST_NAME];
};

uint32_t ttr__st_count(const ttr_model *m);
ttr__st_slot ttr__st_get(const ttr_model *m, uint32_t i);

#endif
