#include "fl_file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fl_mem.h"

int fl_file_read_all(const char *path, size_t max_bytes, char **out, size_t *length,
                     fl_error *err)
{
    *out = NULL;
    *length = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fl_error_set(err, errno == ENOENT ? FL_ENOTFOUND : FL_EIO,
                            "%s: cannot open: %s", path, strerror(errno));

    struct stat info;
    if (fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
        close(fd);
        return fl_error_set(err, FL_EIO, "%s: not a regular file", path);
    }
    if ((size_t)info.st_size > max_bytes) {
        close(fd);
        return fl_error_set(err, FL_ERANGE, "%s: file is %lld bytes, more than the %zu allowed",
                            path, (long long)info.st_size, max_bytes);
    }

    size_t size = (size_t)info.st_size;
    char *buffer = fl_xmalloc(size + 1);
    size_t done = 0;
    while (done < size) {
        ssize_t got = read(fd, buffer + done, size - done);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            int saved = errno;
            close(fd);
            free(buffer);
            return fl_error_set(err, FL_EIO, "%s: read failed after %zu bytes: %s", path, done,
                                got == 0 ? "file shrank while reading" : strerror(saved));
        }
        done += (size_t)got;
    }
    close(fd);
    buffer[size] = '\0';
    *out = buffer;
    *length = size;
    return FL_OK;
}

int fl_file_sync_parent(const char *path, fl_error *err)
{
    char *copy = fl_xstrdup(path);
    const char *folder = dirname(copy);
    int fd = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        int rc = fl_error_set(err, FL_EIO, "%s: cannot open folder: %s", folder, strerror(errno));
        free(copy);
        return rc;
    }
    int rc = FL_OK;
    if (fsync(fd) != 0)
        rc = fl_error_set(err, FL_EIO, "%s: fsync of folder failed: %s", folder, strerror(errno));
    close(fd);
    free(copy);
    return rc;
}

static int write_fully(int fd, const void *data, size_t length)
{
    const char *cursor = data;
    while (length > 0) {
        ssize_t wrote = write(fd, cursor, length);
        if (wrote < 0 && errno == EINTR)
            continue;
        if (wrote < 0)
            return -1;
        cursor += wrote;
        length -= (size_t)wrote;
    }
    return 0;
}

int fl_file_write_atomic(const char *path, const void *data, size_t length, mode_t mode,
                         fl_error *err)
{
    size_t tmp_size = strlen(path) + 32;
    char *tmp = fl_xmalloc(tmp_size);
    snprintf(tmp, tmp_size, "%s.tmp.%ld", path, (long)getpid());

    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) {
        int rc = fl_error_set(err, FL_EIO,
                              "%s: cannot create temporary file: %s; check that the folder "
                              "exists and is writable",
                              tmp, strerror(errno));
        free(tmp);
        return rc;
    }

    int rc = FL_OK;
    if (write_fully(fd, data, length) != 0 || fsync(fd) != 0)
        rc = fl_error_set(err, FL_EIO, "%s: write failed: %s; %s is unchanged", tmp,
                          strerror(errno), path);
    if (close(fd) != 0 && rc == FL_OK)
        rc = fl_error_set(err, FL_EIO, "%s: close failed: %s; %s is unchanged", tmp,
                          strerror(errno), path);
    if (rc == FL_OK && rename(tmp, path) != 0)
        rc = fl_error_set(err, FL_EIO, "%s: rename to %s failed: %s", tmp, path,
                          strerror(errno));
    if (rc != FL_OK) {
        unlink(tmp);
        free(tmp);
        return rc;
    }

    free(tmp);
    return fl_file_sync_parent(path, err);
}

int fl_file_mkdirs(const char *path, mode_t mode, fl_error *err)
{
    char *copy = fl_xstrdup(path);
    int rc = FL_OK;
    for (char *p = copy + 1; ; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char saved = *p;
        *p = '\0';
        if (mkdir(copy, mode) != 0 && errno != EEXIST) {
            rc = fl_error_set(err, FL_EIO, "%s: cannot create folder: %s", copy, strerror(errno));
            break;
        }
        *p = saved;
        if (saved == '\0')
            break;
    }
    free(copy);

    struct stat info;
    if (rc == FL_OK && stat(path, &info) == 0 && !S_ISDIR(info.st_mode))
        rc = fl_error_set(err, FL_EEXIST, "%s: exists and is not a folder; choose another path "
                          "or remove the file", path);
    return rc;
}

int fl_file_check_private(const char *path, fl_error *err)
{
    struct stat info;
    if (stat(path, &info) != 0)
        return fl_error_set(err, errno == ENOENT ? FL_ENOTFOUND : FL_EIO, "%s: %s", path,
                            strerror(errno));
    if ((info.st_mode & 077) != 0)
        return fl_error_set(err, FL_EPERM,
                            "%s: private key file has mode %04o, readable by other users; "
                            "run 'chmod 600 %s'",
                            path, (unsigned)(info.st_mode & 07777), path);
    return FL_OK;
}

int fl_path_format(char *out, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int length = vsnprintf(out, size, fmt, ap);
    va_end(ap);
    if (length < 0 || (size_t)length >= size)
        return FL_ERANGE;
    return FL_OK;
}
