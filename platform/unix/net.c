/* Ports on the loopback interface. */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../platform.h"

static int bind_loopback(int port, int *fd_out)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    /* PostgreSQL sets SO_REUSEADDR too, so a port in TIME_WAIT is usable. */
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    *fd_out = fd;
    return 0;
}

int pgb_port_is_free(int port)
{
    int fd;
    if (bind_loopback(port, &fd) != 0)
        return 0;
    close(fd);
    return 1;
}

int pgb_port_pick(int *port)
{
    int fd;
    if (bind_loopback(0, &fd) != 0)
        return pgb_fail(PGBOOT_EPORT, "cannot find a free port on 127.0.0.1: %s", strerror(errno));
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    int rc = getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd);
    if (rc != 0)
        return pgb_fail(PGBOOT_EPORT, "cannot find a free port on 127.0.0.1: %s", strerror(errno));
    *port = ntohs(a.sin_port);
    return 0;
}
