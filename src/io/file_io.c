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

int ttr_model_save_file(const ttr_model *m, const char *path, int with_optimizer_state)
{
    char tmp[PATH_BUF];
    size_t len;
    if (!m || !path || !*path)
        return TTR_ERR_ARG;
    len = strlen(path);
    if (len + 5 > sizeof tmp)
        return TTR_ERR_ARG;
    memcpy(tmp, path, len);
    memcpy(tmp + len, ".tmp", 5);

    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0)
        return TTR_ERR_IO;
    int err = ttr_model_save(m, with_optimizer_state, fd_write, &fd);
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
