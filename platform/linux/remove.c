/* Removing what pgboot made, and nothing else.
 *
 * Every removal in pgboot (a failed initdb, a stopped throwaway cluster, a
 * spare copy, a half-extracted bundle) goes through here. The walk:
 *   - never follows a symbolic link: a link is removed as a link, and a link
 *     given as the path itself is refused (it is not a tree pgboot made);
 *   - never enters "." or "..", and refuses a path whose last component is
 *     one of them (such a path names a directory pgboot did not create);
 *   - never leaves the file system it started on: a mount point inside the
 *     tree is left as it is, and the removal reports failure;
 *   - holds each directory open by descriptor (openat with O_NOFOLLOW), so a
 *     directory replaced by a link while the walk runs is not followed.
 * Only system calls and stack buffers are used, so a process forked from a
 * multi-threaded host can call it. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../platform.h"
#include "getdents.h"

/* PostgreSQL's trees are shallow (a data directory about 4 levels, the
 * bundle's timezone files about 7); anything deeper is not ours. */
#define MAX_DEPTH 32
#define MAX_PASSES 8

/* The last component of `path` (after trailing slashes). */
static int last_component_is_dots(const char *path)
{
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/')
        n--;
    size_t start = n;
    while (start > 0 && path[start - 1] != '/')
        start--;
    size_t len = n - start;
    return (len == 1 && path[start] == '.') ||
           (len == 2 && path[start] == '.' && path[start + 1] == '.');
}

static int empty_dirfd(int dirfd, dev_t dev, int depth);

/* Remove the entry `name` of `dirfd`: a file or link by unlink, a directory
 * on the same device by emptying it first. */
static int remove_entry(int dirfd, const char *name, dev_t dev, int depth)
{
    struct stat st;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(st.st_mode))
        return unlinkat(dirfd, name, 0) == 0 || errno == ENOENT ? 0 : -1;
    if (st.st_dev != dev) {
        errno = EXDEV; /* a mount point: another file system is not ours to empty */
        return -1;
    }
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == EACCES && fchmodat(dirfd, name, (st.st_mode & 07777) | S_IRWXU, 0) == 0)
        fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : -1;
    int rc = empty_dirfd(fd, dev, depth + 1);
    int e = errno;
    close(fd);
    if (rc != 0) {
        errno = e;
        return -1;
    }
    return unlinkat(dirfd, name, AT_REMOVEDIR) == 0 || errno == ENOENT ? 0 : -1;
}

/* Remove every entry of the open directory `dirfd`. Entries are removed while
 * the directory is read, which may make the read skip some: passes repeat
 * until one finds nothing left. */
static int empty_dirfd(int dirfd, dev_t dev, int depth)
{
    if (depth > MAX_DEPTH) {
        errno = ELOOP;
        return -1;
    }
    struct stat st;
    /* Installed trees are read-only: entries of a directory can only be
     * removed once the directory is writable. */
    if (fstat(dirfd, &st) == 0 && (st.st_mode & S_IRWXU) != S_IRWXU)
        fchmod(dirfd, (st.st_mode & 07777) | S_IRWXU);
    int failed = 0, saved = 0;
    /* ENOENT on reading: another remover removed this directory meanwhile
     * (a throwaway cluster's stop and its supervisor both remove it), so
     * nothing is left in it. */
    for (int pass = 0; pass < MAX_PASSES; pass++) {
        if (lseek(dirfd, 0, SEEK_SET) != 0)
            return errno == ENOENT ? 0 : -1;
        int seen = 0;
        char buf[2048];
        for (;;) {
            long n = pgb_getdents(dirfd, buf, sizeof buf);
            if (n < 0)
                return errno == ENOENT ? 0 : -1;
            if (n == 0)
                break;
            for (long off = 0; off < n;) {
                struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + off);
                off += d->d_reclen;
                if (pgb_is_dot_or_dotdot(d->d_name))
                    continue;
                seen++;
                if (remove_entry(dirfd, d->d_name, dev, depth) != 0 && !failed) {
                    failed = 1;
                    saved = errno;
                }
            }
        }
        if (seen == 0 || failed)
            break;
    }
    if (failed) {
        errno = saved;
        return -1;
    }
    return 0;
}

/* Open `path` as a directory of its own (not through a link) for removal. */
static int open_tree(const char *path, int *fd, dev_t *dev)
{
    if (!path || !*path || strcmp(path, "/") == 0 || last_component_is_dots(path)) {
        errno = EINVAL;
        return -1;
    }
    struct stat st;
    if (lstat(path, &st) != 0)
        return -1;
    if (S_ISLNK(st.st_mode)) {
        errno = ELOOP;
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    *fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (*fd < 0 && errno == EACCES && chmod(path, (st.st_mode & 07777) | S_IRWXU) == 0)
        *fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (*fd < 0)
        return -1;
    *dev = st.st_dev;
    return 0;
}

int pgb_rmtree(const char *path)
{
    struct stat st;
    if (!path || !*path || last_component_is_dots(path)) {
        errno = EINVAL;
        return -1;
    }
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : -1;
    if (S_ISLNK(st.st_mode)) {
        errno = ELOOP;
        return -1;
    }
    if (!S_ISDIR(st.st_mode))
        return unlink(path) == 0 || errno == ENOENT ? 0 : -1;
    int fd;
    dev_t dev;
    if (open_tree(path, &fd, &dev) != 0)
        return errno == ENOENT ? 0 : -1;
    int rc = empty_dirfd(fd, dev, 0);
    int e = errno;
    close(fd);
    if (rc != 0) {
        errno = e;
        return -1;
    }
    return rmdir(path) == 0 || errno == ENOENT ? 0 : -1;
}

int pgb_empty_dir(const char *path)
{
    int fd;
    dev_t dev;
    if (open_tree(path, &fd, &dev) != 0)
        return -1;
    int rc = empty_dirfd(fd, dev, 0);
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

void pgb_remove_matching(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    size_t n = strlen(prefix);
    while (n > 0 && (e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, prefix, n) != 0 || !strcmp(e->d_name, ".") ||
            !strcmp(e->d_name, ".."))
            continue;
        char *path = pgb_path_join(dir, e->d_name);
        if (path)
            pgb_rmtree(path);
        free(path);
    }
    closedir(d);
}

/* ---- marked work directories ---------------------------------------------- */

#define WORK_MARK ".pgboot-work"
#define WORK_MAGIC "pgboot work directory: removed by pgboot once its creator is gone\n"

int pgb_workdir_make(const char *path, const char *note)
{
    if (mkdir(path, 0700) != 0)
        return pgb_fail(PGBOOT_ERROR, "cannot create %s: %s", path, strerror(errno));
    char *mark = pgb_path_join(path, WORK_MARK);
    char *text = pgb_printf("%spid %ld\nnote %s\n", WORK_MAGIC, (long)getpid(), note ? note : "");
    int rc = 0;
    int fd = mark ? open(mark, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600) : -1;
    if (!mark || !text)
        rc = pgb_fail(PGBOOT_ENOMEM, "out of memory");
    else if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
        rc = pgb_fail(PGBOOT_ERROR, "cannot write %s: %s", mark, strerror(errno));
    if (fd >= 0)
        close(fd);
    if (rc != 0)
        pgb_workdir_remove(path);
    free(mark);
    free(text);
    return rc;
}

int pgb_workdir_abandoned(const char *path, char **note)
{
    if (note)
        *note = NULL;
    struct stat st;
    if (lstat(path, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid())
        return 0;
    int dfd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0)
        return 0;
    int fd = openat(dfd, WORK_MARK, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    close(dfd);
    if (fd < 0)
        return 0;
    char text[4096];
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    if (n <= 0)
        return 0;
    text[n] = '\0';
    size_t magic = strlen(WORK_MAGIC);
    if (strncmp(text, WORK_MAGIC, magic) != 0 || strncmp(text + magic, "pid ", 4) != 0)
        return 0;
    long pid = strtol(text + magic + 4, NULL, 10);
    if (pid <= 0 || (pid != (long)getpid() && pgb_pid_alive((int)pid)))
        return 0;
    const char *nl = strstr(text + magic, "\nnote ");
    if (note && nl) {
        *note = pgb_strdup(nl + 6);
        if (*note)
            (*note)[strcspn(*note, "\n")] = '\0';
    }
    return 1;
}

int pgb_workdir_remove(const char *path)
{
    int fd;
    dev_t dev;
    if (open_tree(path, &fd, &dev) != 0)
        return errno == ENOENT ? 0 : -1;
    /* Everything but the marker first: a removal cut short leaves a
     * directory that is still recognised as pgboot's. */
    int failed = 0, saved = 0;
    char buf[2048];
    for (int pass = 0; pass < MAX_PASSES && !failed; pass++) {
        int seen = 0;
        if (lseek(fd, 0, SEEK_SET) != 0)
            break;
        long n;
        while ((n = pgb_getdents(fd, buf, sizeof buf)) > 0) {
            for (long off = 0; off < n;) {
                struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + off);
                off += d->d_reclen;
                if (pgb_is_dot_or_dotdot(d->d_name) || strcmp(d->d_name, WORK_MARK) == 0)
                    continue;
                seen++;
                if (remove_entry(fd, d->d_name, dev, 0) != 0 && !failed) {
                    failed = 1;
                    saved = errno;
                }
            }
        }
        if (seen == 0)
            break;
    }
    if (!failed && unlinkat(fd, WORK_MARK, 0) != 0 && errno != ENOENT) {
        failed = 1;
        saved = errno;
    }
    close(fd);
    if (failed) {
        errno = saved;
        return -1;
    }
    return rmdir(path) == 0 || errno == ENOENT ? 0 : -1;
}

int pgb_workdir_unmark(const char *path)
{
    char *mark = pgb_path_join(path, WORK_MARK);
    int rc = mark && (unlink(mark) == 0 || errno == ENOENT) ? 0 : -1;
    free(mark);
    return rc;
}

void pgb_workdir_remove_abandoned(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t n = strlen(prefix);
    while (d && n > 0 && (e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, prefix, n) != 0 || pgb_is_dot_or_dotdot(e->d_name))
            continue;
        char *path = pgb_path_join(dir, e->d_name);
        if (path && pgb_workdir_abandoned(path, NULL))
            pgb_workdir_remove(path);
        free(path);
    }
    if (d)
        closedir(d);
}
