/* The listening socket of a broker that hands out test databases to other
 * processes of the same user (pgboot testdb serve): <dir>/broker.sock in a
 * private directory made for it, removed with its directory at the end. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "launcher.h"

#define DIR_PREFIX "pgboot-broker-"
#define SOCK_NAME "broker.sock"

/* A private directory <base>/pgboot-broker-XXXXXX whose socket path fits
 * sun_path, or NULL (errno set). */
static char *make_dir(const char *base)
{
    struct sockaddr_un sa;
    if (!base || base[0] != '/' ||
        strlen(base) + sizeof "/" DIR_PREFIX "XXXXXX/" SOCK_NAME > sizeof sa.sun_path) {
        errno = ENAMETOOLONG;
        return NULL;
    }
    char *dir = pgb_printf("%s/" DIR_PREFIX "XXXXXX", base);
    if (!dir)
        return NULL;
    if (!mkdtemp(dir)) { /* mode 0700 */
        free(dir);
        return NULL;
    }
    return dir;
}

int pgboot_testdb_socket_open(int *fd_out, char **path_out)
{
    pgb_error_reset();
    *fd_out = -1;
    *path_out = NULL;
    const char *bases[3] = {getenv("XDG_RUNTIME_DIR"), getenv("TMPDIR"), "/tmp"};
    char *dir = NULL;
    int err = 0;
    for (int i = 0; i < 3 && !dir; i++)
        if (bases[i] && *bases[i] && !(dir = make_dir(bases[i])))
            err = errno;
    if (!dir) {
        int rc = pgb_fail(PGBOOT_ERROR,
                          "cannot make a private directory for the broker's socket "
                          "in $XDG_RUNTIME_DIR, $TMPDIR or /tmp: %s",
                          strerror(err));
        pgb_hint("set TMPDIR to a short directory you may write to");
        return rc;
    }
    char *path = pgb_printf("%s/" SOCK_NAME, dir);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    int rc = 0;
    if (!path)
        rc = pgb_fail(PGBOOT_ENOMEM, "out of memory");
    else if (fd < 0) {
        int e = errno;
        rc = pgb_fail(PGBOOT_ERROR, "cannot create a Unix socket: %s", strerror(e));
        pgb_hint(e == EMFILE || e == ENFILE
                     ? "raise the limit of open files (ulimit -n)"
                     : "the system refuses Unix sockets to this process "
                       "(a sandbox?): run the broker where they are allowed");
    } else {
        memcpy(sa.sun_path, path, strlen(path) + 1); /* fits: checked by make_dir */
        if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 128) != 0) {
            rc = pgb_fail(PGBOOT_ERROR, "cannot listen on %s: %s", path, strerror(errno));
            pgb_hint("set TMPDIR to a directory on a local file system you may write to");
        }
    }
    if (rc) {
        if (fd >= 0)
            close(fd);
        pgb_rmtree(dir);
        free(dir);
        free(path);
        return rc;
    }
    free(dir);
    *fd_out = fd;
    *path_out = path;
    return 0;
}

int pgboot_testdb_socket_remove(const char *path)
{
    pgb_error_reset();
    const char *slash = path ? strrchr(path, '/') : NULL;
    /* Only what pgboot_testdb_socket_open made: <base>/pgboot-broker-XXXXXX/broker.sock */
    if (!slash || strcmp(slash + 1, SOCK_NAME) != 0)
        return pgb_fail(PGBOOT_EINVALID, "'%s' is not a broker socket pgboot made",
                        path ? path : "");
    char *dir = pgb_printf("%.*s", (int)(slash - path), path);
    if (!dir)
        return pgb_fail(PGBOOT_ENOMEM, "out of memory");
    const char *base = strrchr(dir, '/');
    int rc = 0;
    if (!base || strncmp(base + 1, DIR_PREFIX, strlen(DIR_PREFIX)) != 0 ||
        strlen(base + 1) != strlen(DIR_PREFIX) + 6)
        rc = pgb_fail(PGBOOT_EINVALID, "'%s' is not a broker socket pgboot made", path);
    else if (pgb_rmtree(dir) != 0) {
        rc = pgb_fail(PGBOOT_ERROR, "cannot remove %s: %s", dir, strerror(errno));
        pgb_hint("remove the directory by hand; no broker uses it any more");
    }
    free(dir);
    return rc;
}
