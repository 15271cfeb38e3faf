/* Files and directories on POSIX systems. */
#define _GNU_SOURCE
#include <dirent.h>
#include <ftw.h>
#include <pthread.h>
#include <sys/statvfs.h>
#if defined(__linux__)
#include <linux/magic.h>
#include <sys/statfs.h>
#endif
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "../platform.h"

int pgb_read_file(const char *path, char **out, size_t *len, size_t max)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return pgb_fail(errno == ENOENT ? PGBOOT_ENOTFOUND : PGBOOT_ERROR, "cannot open %s: %s",
                        path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return pgb_fail(PGBOOT_EINVALID, "%s is not a regular file", path);
    }
    if ((size_t)st.st_size > max) {
        close(fd);
        return pgb_fail(PGBOOT_EINVALID, "%s is too large (%lld bytes, at most %zu)", path,
                        (long long)st.st_size, max);
    }
    char *buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        close(fd);
        return pgb_fail(PGBOOT_ENOMEM, "out of memory reading %s", path);
    }
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            int e = errno;
            free(buf);
            close(fd);
            return pgb_fail(PGBOOT_ERROR, "cannot read %s: %s", path,
                            r < 0 ? strerror(e) : "file shrank while reading");
        }
        got += (size_t)r;
    }
    close(fd);
    buf[got] = '\0';
    *out = buf;
    if (len)
        *len = got;
    return 0;
}

int pgb_mkdir_p(const char *path, unsigned mode)
{
    char *p = pgb_strdup(path);
    if (!p)
        return pgb_fail(PGBOOT_ENOMEM, "out of memory");
    for (char *s = p + 1;; s++) {
        if (*s == '/' || *s == '\0') {
            char c = *s;
            *s = '\0';
            if (mkdir(p, (mode_t)mode) != 0 && errno != EEXIST) {
                int e = errno;
                int rc = pgb_fail(PGBOOT_ERROR, "cannot create directory %s: %s", p, strerror(e));
                if (e == EACCES || e == EROFS)
                    pgb_hint("choose a writable place (for the cache: --cache-dir DIR or "
                             "PGBOOT_CACHE_DIR)");
                free(p);
                return rc;
            }
            *s = c;
            if (c == '\0')
                break;
        }
    }
    struct stat st;
    if (stat(p, &st) != 0 || !S_ISDIR(st.st_mode)) {
        int rc = pgb_fail(PGBOOT_ERROR, "%s exists and is not a directory", p);
        free(p);
        return rc;
    }
    free(p);
    return 0;
}

int pgb_path_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

int pgb_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int pgb_fsync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int pgb_fs_free_bytes(const char *path, uint64_t *out)
{
    struct statvfs fs;
    if (statvfs(path, &fs) != 0)
        return -1;
    *out = (uint64_t)fs.f_bavail * (uint64_t)fs.f_frsize;
    return 0;
}

int pgb_fs_is_tmpfs(const char *path)
{
#if defined(__linux__)
    struct statfs fs;
    return statfs(path, &fs) == 0 && fs.f_type == TMPFS_MAGIC && access(path, W_OK | X_OK) == 0;
#else
    (void)path;
    return 0;
#endif
}

static uint64_t usage_total;

static int add_usage(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)path;
    (void)flag;
    (void)ftw;
    usage_total += (uint64_t)st->st_blocks * 512u;
    return 0;
}

int pgb_tree_disk_usage(const char *path, uint64_t *out)
{
    /* nftw has no user pointer: a lock keeps the running total private. */
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&mu);
    usage_total = 0;
    int rc = nftw(path, add_usage, 32, FTW_PHYS);
    *out = usage_total;
    pthread_mutex_unlock(&mu);
    return rc == 0 ? 0 : -1;
}

int pgb_home_dir(char **out)
{
    const char *h = getenv("HOME");
    if (h && *h && h[0] != '/') {
        /* Relative to what? Each working directory would give another app
         * directory and cache, and postgres, which works in its data
         * directory, would read the paths from there. */
        int rc = pgb_fail(PGBOOT_EINVALID, "HOME is '%.200s', which is not an absolute path", h);
        pgb_hint("set HOME to the absolute path of your home directory, or unset it (pgboot then "
                 "uses the one in the password database)");
        return rc;
    }
    if (!h || !*h) {
        struct passwd *pw = getpwuid(getuid());
        h = pw ? pw->pw_dir : NULL;
    }
    if (!h || !*h)
        return pgb_fail(PGBOOT_ENOTFOUND, "cannot find the home directory: HOME is not set");
    *out = pgb_strdup(h);
    return *out ? 0 : pgb_fail(PGBOOT_ENOMEM, "out of memory");
}

void pgb_random_name(char *out, size_t len)
{
    static const char alnum[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    for (size_t i = 0; i + 1 < len; i++)
        out[i] = alnum[randombytes_uniform(sizeof alnum - 1)];
    out[len - 1] = '\0';
}

int pgb_write_file_atomic(const char *path, const char *data, size_t len, unsigned mode)
{
    char *tmp = pgb_printf("%s.tmp-%d", path, (int)getpid());
    if (!tmp)
        return pgb_fail(PGBOOT_ENOMEM, "out of memory");
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, (mode_t)mode);
    if (fd < 0) {
        int rc = pgb_fail(PGBOOT_ERROR, "cannot write %s: %s", tmp, strerror(errno));
        free(tmp);
        return rc;
    }
    int rc = 0;
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(fd, data + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = pgb_fail(PGBOOT_ERROR, "cannot write %s: %s", tmp, strerror(errno));
            break;
        }
        done += (size_t)n;
    }
    if (rc == 0 && fchmod(fd, (mode_t)mode) != 0)
        rc = pgb_fail(PGBOOT_ERROR, "cannot set the mode of %s: %s", tmp, strerror(errno));
    if (rc == 0 && fsync(fd) != 0)
        rc = pgb_fail(PGBOOT_ERROR, "cannot write %s: %s", tmp, strerror(errno));
    close(fd);
    if (rc == 0 && rename(tmp, path) != 0)
        rc = pgb_fail(PGBOOT_ERROR, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
    if (rc)
        unlink(tmp);
    free(tmp);
    return rc;
}

void pgb_touch(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    (void)futimens(fd, NULL);
    close(fd);
}
