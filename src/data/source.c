/* Where the readers read from (ttr_data.h): a stdio FILE, a callback with
 * the caller's buffer, or memory; and the readers' default configuration. */
#include <stdio.h>
#include <string.h>

#include "ttr_data.h"

size_t ttr_stdio_read(void *file, void *buf, size_t n)
{
    size_t got = fread(buf, 1, n, (FILE *)file);
    if (got == 0 && ferror((FILE *)file))
        return TTR_READ_ERROR;
    return got;
}

ttr_source ttr_source_callback(ttr_read_fn read, void *ctx, char *buf, size_t buf_size)
{
    ttr_source s;
    memset(&s, 0, sizeof s);
    s.read = read;
    s.ctx = ctx;
    s.buf = buf;
    s.buf_size = buf_size;
    return s;
}

ttr_source ttr_source_memory(const void *data, size_t size)
{
    ttr_source s;
    memset(&s, 0, sizeof s);
    s.data = (const char *)data;
    s.size = size;
    return s;
}

void ttr_reader_config_default(ttr_reader_config *cfg)
{
    if (!cfg)
        return;
    memset(cfg, 0, sizeof *cfg);
    cfg->max_items = 1024;
    cfg->max_label = 31.0f;
}
