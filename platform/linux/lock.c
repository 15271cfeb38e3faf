/* Inter-process locks: flock(2) on a lock file. The kernel drops the lock when
 * the holder dies, so a crashed fetch never wedges the others. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "../platform.h"

int pgb_lock(const char *path, int *fd_out)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return pgb_fail(PGBOOT_ERROR, "cannot open lock file %s: %s", path, strerror(errno));
    while (flock(fd, LOCK_EX) != 0) {
        if (errno == EINTR)
            continue;
        int e = errno;
        close(fd);
        return pgb_fail(PGBOOT_ERROR, "cannot lock %s: %s", path, strerror(e));
    }
    *fd_out = fd;
    return 0;
}

int pgb_lock_try(const char *path, int *fd_out)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return pgb_fail(PGBOOT_ERROR, "cannot open lock file %s: %s", path, strerror(errno));
    while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EINTR)
            continue;
        int e = errno;
        close(fd);
        if (e == EWOULDBLOCK)
            return 1;
        return pgb_fail(PGBOOT_ERROR, "cannot lock %s: %s", path, strerror(e));
    }
    *fd_out = fd;
    return 0;
}

void pgb_unlock(int fd)
{
    if (fd >= 0) {
        flock(fd, LOCK_UN);
        close(fd);
    }
}
