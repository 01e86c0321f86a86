/* .ttr files on POSIX systems: atomic saves (write path.tmp, fsync, rename,
 * fsync the directory) and loads. Plain file descriptors, not stdio: stdio
 * allocates its buffers, and the library never allocates. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h> /* rename */
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "ttr_io.h"
#include "ttr_loop.h"

#define PATH_BUF 4096

static int fd_write(void *ctx, const void *data, size_t n)
{
    int fd = *(int *)ctx;
    const unsigned char *p = data;
    while (n) {
        ssize_t r = write(fd, p, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

static size_t fd_read(void *ctx, void *buf, size_t n)
{
    int fd = *(int *)ctx;
    ssize_t r;
    do
        r = read(fd, buf, n);
    while (r < 0 && errno == EINTR);
    return r < 0 ? TTR_READ_ERROR : (size_t)r;
}

/* Make a completed rename durable: fsync the directory holding path.
 * Best effort (some file systems refuse to open or sync directories). */
static void sync_dir(const char *path)
{
    char dir[PATH_BUF];
    const char *slash = strrchr(path, '/');
    size_t len = 1;
    if (!slash) {
        dir[0] = '.';
    } else {
        if (slash > path)
            len = (size_t)(slash - path);
        memcpy(dir, path, len); /* "/name": the root, "/" */
    }
    dir[len] = '\0';
    int fd = open(dir, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        (void)close(fd);
    }
}

/* What an atomic save writes: a model or a loop. */
typedef struct saver {
    const ttr_model *model;
    int with_state;
    const ttr_loop *loop;
} saver;

static int save_to(const saver *s, ttr_write_fn write, void *ctx)
{
    return s->model ? ttr_model_save(s->model, s->with_state, write, ctx)
                    : ttr_loop_save(s->loop, write, ctx);
}

/* Write path.tmp, fsync it, rename it over path, fsync the directory. */
static int save_atomic(const saver *s, const char *path)
{
    char tmp[PATH_BUF];
    size_t len;
    if (!path || !*path)
        return TTR_ERR_ARG;
    len = strlen(path);
    if (len + 5 > sizeof tmp)
        return TTR_ERR_ARG;
    memcpy(tmp, path, len);
    memcpy(tmp + len, ".tmp", 5);

    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0)
        return TTR_ERR_IO;
    int err = save_to(s, fd_write, &fd);
    if (!err && fsync(fd) != 0)
        err = TTR_ERR_IO;
    if (close(fd) != 0 && !err)
        err = TTR_ERR_IO;
    if (!err && rename(tmp, path) != 0)
        err = TTR_ERR_IO;
    if (err) {
        (void)unlink(tmp);
        return err;
    }
    sync_dir(path);
    return TTR_OK;
}

int ttr_model_save_file(const ttr_model *m, const char *path, int with_optimizer_state)
{
    saver s = {m, with_optimizer_state, NULL};
    return m ? save_atomic(&s, path) : TTR_ERR_ARG;
}

int ttr_loop_save_file(const ttr_loop *L, const char *path)
{
    saver s = {NULL, 0, L};
    return L ? save_atomic(&s, path) : TTR_ERR_ARG;
}

/* A loop file's configurations, after its CRC has been checked over the
 * whole file (and nothing follows it). */
int ttr_loop_file_config(const char *path, ttr_config *mc, ttr_loop_config *lc)
{
    unsigned char buf[4096], last[4];
    uint32_t crc = 0;
    size_t total = 0;
    ttr_config c;
    ttr_loop_config l;
    if (!path)
        return TTR_ERR_ARG;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return TTR_ERR_IO;
    int err = ttr_loop_load_config(fd_read, &fd, &c, &l);
    if (!err && lseek(fd, 0, SEEK_SET) != 0)
        err = TTR_ERR_IO;
    /* the CRC of everything but the last 4 bytes, which must hold it */
    while (!err) {
        size_t r = fd_read(&fd, buf, sizeof buf);
        if (r == TTR_READ_ERROR) {
            err = TTR_ERR_IO;
            break;
        }
        if (r == 0)
            break;
        for (size_t i = 0; i < r; i++, total++) {
            if (total >= 4)
                crc = ttr_crc32(crc, &last[total % 4], 1);
            last[total % 4] = buf[i];
        }
    }
    (void)close(fd);
    if (!err) {
        unsigned char tail[4];
        for (int i = 0; i < 4; i++)
            tail[i] = last[(total + (size_t)i) % 4];
        uint32_t want = (uint32_t)tail[0] | (uint32_t)tail[1] << 8 | (uint32_t)tail[2] << 16 |
                        (uint32_t)tail[3] << 24;
        if (total < 4 || want != crc)
            err = TTR_ERR_FORMAT;
    }
    if (!err && mc)
        *mc = c;
    if (!err && lc)
        *lc = l;
    return err;
}

int ttr_loop_load_file(ttr_loop **out, void *buf, size_t bytes, const char *path)
{
    if (!out || !buf || !path)
        return TTR_ERR_ARG;
    int err = ttr_loop_file_config(path, NULL, NULL);
    if (err)
        return err;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return TTR_ERR_IO;
    err = ttr_loop_load(out, buf, bytes, fd_read, &fd); /* the CRC ends the file: checked */
    (void)close(fd);
    return err;
}

/* ttr_model_check on the file at path, and nothing after the CRC. */
static int check_file(const char *path, ttr_config *cfg, ttr_file_info *info)
{
    unsigned char extra;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return TTR_ERR_IO;
    int err = ttr_model_check_info(fd_read, &fd, cfg, info);
    if (!err) {
        size_t r = fd_read(&fd, &extra, 1);
        if (r == TTR_READ_ERROR)
            err = TTR_ERR_IO;
        else if (r > 0)
            err = TTR_ERR_FORMAT; /* bytes after the CRC */
    }
    (void)close(fd);
    return err;
}

int ttr_model_load_file_config(const char *path, ttr_config *cfg, ttr_mode *mode)
{
    ttr_file_info info;
    if (!path)
        return TTR_ERR_ARG;
    int err = check_file(path, cfg, &info);
    if (!err && mode)
        *mode = info.mode;
    return err;
}

int ttr_model_file_info(const char *path, ttr_config *cfg, ttr_file_info *info)
{
    if (!path)
        return TTR_ERR_ARG;
    return check_file(path, cfg, info);
}

int ttr_model_load_file(ttr_model **out, void *arena, size_t bytes, const char *path)
{
    ttr_model *m = NULL;
    if (!out || !arena || !path)
        return TTR_ERR_ARG;
    int err = check_file(path, NULL, NULL);
    if (err)
        return err;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return TTR_ERR_IO;
    err = ttr_model_load(&m, arena, bytes, fd_read, &fd);
    (void)close(fd);
    if (!err)
        *out = m;
    return err;
}
