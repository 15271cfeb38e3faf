/* Ports on the loopback interface. */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
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

int pgb_pg_ping(const char *socket_dir, int port, uint32_t timeout_ms)
{
    struct sockaddr_un a;
    memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    int n = snprintf(a.sun_path, sizeof a.sun_path, "%s/.s.PGSQL.%d", socket_dir, port);
    if (n < 0 || (size_t)n >= sizeof a.sun_path)
        return PGB_PING_NO_SOCKET;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return PGB_PING_NO_SOCKET;
    struct timeval tv = {(time_t)(timeout_ms / 1000), (suseconds_t)(timeout_ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        /* A full backlog makes connect wait (SO_SNDTIMEO): a server that
         * does not accept, not a missing one. */
        int silent = errno == EAGAIN || errno == ETIMEDOUT || errno == EINTR;
        close(fd);
        return silent ? PGB_PING_NO_ANSWER : PGB_PING_NO_SOCKET;
    }
    /* A protocol 3.0 startup packet, as PQping sends: the server answers
     * with an authentication request ('R'), or an error ('E') whose SQLSTATE
     * 57P03 means "cannot connect now" (starting up or shutting down). */
    static const char params[] = "user\0postgres\0database\0postgres\0";
    unsigned char pkt[8 + sizeof params];
    uint32_t len = (uint32_t)sizeof pkt;
    uint32_t proto = 3u << 16;
    for (int i = 0; i < 4; i++) {
        pkt[i] = (unsigned char)(len >> (24 - 8 * i));
        pkt[4 + i] = (unsigned char)(proto >> (24 - 8 * i));
    }
    memcpy(pkt + 8, params, sizeof params);
    int result = PGB_PING_NO_ANSWER;
    if (send(fd, pkt, sizeof pkt, MSG_NOSIGNAL) == (ssize_t)sizeof pkt) {
        char buf[512];
        ssize_t got = recv(fd, buf, sizeof buf - 1, 0);
        if (got > 0 && buf[0] == 'R') {
            result = PGB_PING_OK;
        } else if (got > 0 && buf[0] == 'E') {
            buf[got] = '\0';
            int cannot_connect_now = 0;
            for (ssize_t i = 5; i + 6 <= got; i++)
                if (buf[i] == 'C' && !memcmp(buf + i + 1, "57P03", 5))
                    cannot_connect_now = 1;
            result = cannot_connect_now ? PGB_PING_REJECT : PGB_PING_OK;
        }
    }
    close(fd);
    return result;
}
