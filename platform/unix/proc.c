/* Child processes: argv arrays (never a shell), stdin from /dev/null, and a
 * close-on-exec status pipe so that a failed exec is reported as an error of
 * its own rather than as a strange exit status. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../platform.h"

int pgb_run_capture(char *const argv[], char **output, int *status, size_t max)
{
    *output = NULL;
    int out[2], st[2];
    if (pipe2(out, O_CLOEXEC) != 0)
        return pgb_fail(PGBOOT_ERROR, "cannot create a pipe: %s", strerror(errno));
    if (pipe2(st, O_CLOEXEC) != 0) {
        close(out[0]);
        close(out[1]);
        return pgb_fail(PGBOOT_ERROR, "cannot create a pipe: %s", strerror(errno));
    }
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(out[0]);
        close(out[1]);
        close(st[0]);
        close(st[1]);
        return pgb_fail(PGBOOT_ERROR, "cannot start %s: %s", argv[0], strerror(e));
    }
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2(devnull, 0);
        dup2(out[1], 1);
        dup2(out[1], 2);
        execv(argv[0], argv);
        int e = errno;
        ssize_t w = write(st[1], &e, sizeof e);
        (void)w;
        _exit(127);
    }
    close(out[1]);
    close(st[1]);

    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    char chunk[4096];
    for (;;) {
        ssize_t r = read(out[0], chunk, sizeof chunk);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        if (!buf || len >= max)
            continue; /* keep draining so the child never blocks */
        size_t take = (size_t)r;
        if (len + take > max)
            take = max - len;
        if (len + take + 1 > cap) {
            while (len + take + 1 > cap)
                cap *= 2;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                buf = NULL;
                continue;
            }
            buf = nb;
        }
        memcpy(buf + len, chunk, take);
        len += take;
    }
    close(out[0]);

    int exec_errno = 0;
    ssize_t n;
    do
        n = read(st[0], &exec_errno, sizeof exec_errno);
    while (n < 0 && errno == EINTR);
    close(st[0]);

    int ws;
    while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
        ;
    if (n == (ssize_t)sizeof exec_errno) {
        free(buf);
        return pgb_fail(PGBOOT_ERROR, "cannot run %s: %s", argv[0], strerror(exec_errno));
    }
    if (!buf)
        return pgb_fail(PGBOOT_ENOMEM, "out of memory reading the output of %s", argv[0]);
    buf[len] = '\0';
    *output = buf;
    *status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
    return 0;
}
