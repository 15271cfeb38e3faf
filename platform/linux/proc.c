/* Child processes: argv arrays (never a shell, but for pgb_run_shell(): the
 * template command of pgboot testdb, a shell line by design), stdin from
 * /dev/null, and a close-on-exec status pipe so that a failed exec is
 * reported as an error of its own rather than as a strange exit status. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <linux/close_range.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../platform.h"

int pgb_die_with_parent(int parent)
{
    /* Set after any change of user (which clears it); the getppid() check
     * closes the race with a parent that died before the prctl. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
        return -1;
    return 0;
}

/* Keep the last `max` bytes of the output in buf. */
static void keep_tail(char *buf, size_t max, size_t *len, const char *in, size_t n)
{
    if (n >= max) {
        memcpy(buf, in + n - max, max);
        *len = max;
        return;
    }
    if (*len + n > max) {
        size_t drop = *len + n - max;
        memmove(buf, buf + drop, *len - drop);
        *len -= drop;
    }
    memcpy(buf + *len, in, n);
    *len += n;
}

int pgb_run_shell(const char *cmd, char *const envp[], unsigned timeout_ms, char *tail,
                  size_t tail_max, size_t *tail_len, int *status, int *timed_out)
{
    *tail_len = 0;
    *status = 0;
    *timed_out = 0;
    int out[2];
    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull < 0 || pipe2(out, O_CLOEXEC) != 0) {
        int rc = pgb_fail(PGBOOT_ERROR, "cannot start /bin/sh: %s", strerror(errno));
        if (devnull >= 0)
            close(devnull);
        return rc;
    }
    char *const argv[] = {"sh", "-c", (char *)cmd, NULL};
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        setpgid(0, 0);
        /* A killed pgboot does not leave the shell running. */
        if (pgb_die_with_parent(parent) != 0)
            _exit(127);
        dup2(devnull, 0);
        dup2(out[1], 1);
        dup2(out[1], 2);
        execve("/bin/sh", argv, envp);
        static const char msg[] = "pgboot: cannot run /bin/sh\n";
        ssize_t w = write(2, msg, sizeof msg - 1);
        (void)w;
        _exit(127);
    }
    int fork_errno = errno;
    close(devnull);
    close(out[1]);
    if (pid < 0) {
        close(out[0]);
        return pgb_fail(PGBOOT_ERROR, "cannot start /bin/sh: %s", strerror(fork_errno));
    }
    setpgid(pid, pid); /* also here: no race with a kill below */
    fcntl(out[0], F_SETFL, O_NONBLOCK);
    char chunk[4096];
    uint64_t deadline = pgb_now_ms() + timeout_ms, drain_until = 0;
    int exited = 0, eof = 0;
    while (!eof) {
        if (!exited && pgb_now_ms() >= deadline) {
            *timed_out = 1;
            kill(-pid, SIGKILL);
            while (waitpid(pid, status, 0) < 0 && errno == EINTR)
                ;
            exited = 1;
        }
        if (!exited && waitpid(pid, status, WNOHANG) == pid)
            exited = 1;
        if (exited && !drain_until) {
            /* What it left behind goes with it; their output is read to the end. */
            kill(-pid, SIGKILL);
            drain_until = pgb_now_ms() + 2000;
        }
        if (drain_until && pgb_now_ms() >= drain_until)
            break;
        struct pollfd pfd = {out[0], POLLIN, 0};
        if (poll(&pfd, 1, exited ? 50 : 100) > 0) {
            ssize_t n = read(out[0], chunk, sizeof chunk);
            if (n > 0)
                keep_tail(tail, tail_max, tail_len, chunk, (size_t)n);
            else if (n == 0 || (errno != EAGAIN && errno != EINTR))
                eof = exited;
            if (n == 0 && !exited)
                pgb_sleep_ms(20); /* it closed its output and still runs */
        }
    }
    close(out[0]);
    return 0;
}

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
    pid_t parent = getpid();
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
        /* A killed pgboot must not leave the program (initdb) running on its own. */
        if (pgb_die_with_parent(parent) != 0)
            _exit(127);
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

int pgb_pid_alive(int pid)
{
    if (pid <= 0)
        return 0;
    if (kill(pid, 0) != 0 && errno != EPERM)
        return 0;
    /* A zombie holds its pid but is gone for our purposes. */
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 1;
    buf[n] = '\0';
    const char *rp = strrchr(buf, ')');
    return !(rp && rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X'));
}

int pgb_pid_stopped(int pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    const char *rp = strrchr(buf, ')');
    return rp && rp[1] == ' ' && (rp[2] == 'T' || rp[2] == 't');
}

int pgb_pid_comm(int pid, char *buf, size_t len)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/comm", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, len - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
    return 0;
}

int pgb_pid_cwd_is(int pid, const char *dir)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/cwd", pid);
    char *a = realpath(path, NULL);
    if (!a)
        return -1;
    char *b = realpath(dir, NULL);
    int same = b && strcmp(a, b) == 0;
    free(a);
    free(b);
    return same;
}

int pgb_pid_running_from(const char *dir)
{
    char *real = realpath(dir, NULL);
    if (!real)
        return 0;
    size_t n = strlen(real);
    DIR *d = opendir("/proc");
    struct dirent *e;
    int found = 0;
    while (!found && d && (e = readdir(d)) != NULL) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        if (*end || pid <= 0 || pid > INT_MAX)
            continue;
        char link[64], exe[PATH_MAX];
        snprintf(link, sizeof link, "/proc/%ld/exe", pid);
        ssize_t len = readlink(link, exe, sizeof exe - 1);
        if (len <= 0)
            continue;
        exe[len] = '\0';
        if (!strncmp(exe, real, n) && exe[n] == '/' && pgb_pid_alive((int)pid) > 0)
            found = (int)pid;
    }
    if (d)
        closedir(d);
    free(real);
    return found;
}

/* In the forked children below only async-signal-safe calls are made: the
 * host may be multi-threaded. */
static void child_exec(const pgb_launch *l, int status_fd)
{
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0 && devnull != 0) {
        dup2(devnull, 0);
        close(devnull);
    }
    dup2(l->log_fd, 1);
    dup2(l->log_fd, 2);
    /* The server must hold none of the host's descriptors (sockets, pipes a
     * parent reads to EOF, locks). Marked close-on-exec rather than closed so
     * the status pipe still reports a failed exec. */
    close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
    execv(l->argv[0], l->argv);
    int e = errno;
    ssize_t w = write(status_fd, &e, sizeof e);
    (void)w;
    _exit(127);
}

/* The supervisor: parent of the server, watching the host's pipe. When the
 * pipe says the host is gone, it asks the server for a fast shutdown and
 * escalates if that takes too long. It exits when the server does.
 *
 * Once the host is gone the pipe stays readable (at end of file) for good, so
 * a poll on it returns at once: the escalation is timed by the monotonic
 * clock, never by counting turns of the loop. (Counting turns once gave the
 * 10 s of a fast shutdown a few milliseconds: postgres was SIGKILLed, the
 * next start ran crash recovery, UNLOGGED tables came back empty and shared
 * memory leaked.) */
#define SUPERVISE_IMMEDIATE_AFTER_MS 10000
#define SUPERVISE_KILL_AFTER_MS 20000

static void supervise(int server_pid, int lifeline_fd, int gone_signal, char *const *rm_argv)
{
    int signalled = 0, escalated = 0;
    uint64_t signalled_at = 0;
    for (;;) {
        int st;
        pid_t r = waitpid(server_pid, &st, WNOHANG);
        if (r == server_pid || (r < 0 && errno == ECHILD))
            break;
        if (!signalled) {
            struct pollfd pfd = {.fd = lifeline_fd, .events = POLLIN};
            if (poll(&pfd, 1, 200) <= 0)
                continue;
            char c;
            ssize_t got = read(lifeline_fd, &c, 1);
            if (got == 0 || (got < 0 && errno != EINTR && errno != EAGAIN)) {
                kill(server_pid, gone_signal);
                signalled = 1;
                signalled_at = pgb_now_ms();
            }
            continue;
        }
        pgb_sleep_ms(20);
        uint64_t waited = pgb_now_ms() - signalled_at;
        if (escalated == 0 && waited >= SUPERVISE_IMMEDIATE_AFTER_MS) {
            kill(server_pid, SIGQUIT); /* immediate shutdown */
            escalated = 1;
        } else if (escalated == 1 && waited >= SUPERVISE_KILL_AFTER_MS) {
            kill(server_pid, SIGKILL);
            escalated = 2;
        }
    }
    /* Throwaway clusters leave nothing behind: the supervisor removes them
     * (an exec, since only async-signal-safe calls are allowed here). */
    if (rm_argv)
        execv(rm_argv[0], rm_argv);
    _exit(0);
}

int pgb_spawn_server(const pgb_launch *l, int *pid_out)
{
    /* Everything the children need is prepared before fork(). */
    char *rm_argv[16] = {NULL};
    if (l->remove_after && l->remove_after[0]) {
        int n = 0;
        rm_argv[n++] = "/bin/rm";
        rm_argv[n++] = "-rf";
        rm_argv[n++] = "--";
        for (int i = 0; l->remove_after[i] && n < 15; i++)
            rm_argv[n++] = l->remove_after[i];
        rm_argv[n] = NULL;
    }
    int gone_signal = l->owner_gone_signal ? l->owner_gone_signal : SIGINT;
    int st[2], report[2];
    if (pipe2(st, O_CLOEXEC) != 0)
        return pgb_fail(PGBOOT_ERROR, "cannot create a pipe: %s", strerror(errno));
    if (pipe2(report, O_CLOEXEC) != 0) {
        close(st[0]);
        close(st[1]);
        return pgb_fail(PGBOOT_ERROR, "cannot create a pipe: %s", strerror(errno));
    }
    /* First child: a new session, then forks the server (and, supervised,
     * stays as its parent). The caller reaps only this first child when it is
     * detached, so nothing lingers as a zombie of the host. */
    pid_t first = fork();
    if (first < 0) {
        int e = errno;
        close(st[0]);
        close(st[1]);
        close(report[0]);
        close(report[1]);
        return pgb_fail(PGBOOT_ERROR, "cannot fork: %s", strerror(e));
    }
    if (first == 0) {
        close(st[0]);
        close(report[0]);
        setsid();
        if (l->lifeline_fd >= 0) {
            /* The supervisor lives on as a grandchild of the host (the host
             * reaps the intermediate below), so it is no zombie to the host. */
            pid_t mid = fork();
            if (mid != 0)
                _exit(mid < 0 ? 1 : 0);
        }
        pid_t server = fork();
        if (server < 0)
            _exit(1);
        if (server == 0) {
            close(report[1]);
            if (l->lifeline_fd >= 0) {
                /* Should the supervisor itself be killed, take the server down. */
                prctl(PR_SET_PDEATHSIG, SIGQUIT);
                close(l->lifeline_fd);
            }
            child_exec(l, st[1]);
        }
        int sp = (int)server;
        ssize_t w = write(report[1], &sp, sizeof sp);
        (void)w;
        close(report[1]);
        close(st[1]);
        if (l->lifeline_fd >= 0) {
            /* Keep only the host's pipe, as fd 3; in particular not the
             * host's stdout, which a parent may read until EOF. */
            int devnull = open("/dev/null", O_RDWR);
            if (devnull >= 0) {
                dup2(devnull, 0);
                dup2(devnull, 1);
                dup2(devnull, 2);
            }
            if (l->lifeline_fd != 3 && dup2(l->lifeline_fd, 3) < 0)
                _exit(1);
            close_range(4, ~0U, 0);
            supervise(server, 3, gone_signal, rm_argv[0] ? rm_argv : NULL);
        }
        _exit(0);
    }
    close(st[1]);
    close(report[1]);
    int server = 0, exec_errno = 0;
    ssize_t n;
    do
        n = read(report[0], &server, sizeof server);
    while (n < 0 && errno == EINTR);
    close(report[0]);
    int status;
    while (waitpid(first, &status, 0) < 0 && errno == EINTR)
        ;
    /* The status pipe closes on exec (success) or carries exec's errno. */
    ssize_t m;
    do
        m = read(st[0], &exec_errno, sizeof exec_errno);
    while (m < 0 && errno == EINTR);
    close(st[0]);
    if (n != (ssize_t)sizeof server || server <= 0)
        return pgb_fail(PGBOOT_ERROR, "cannot start %s: fork failed", l->argv[0]);
    if (m == (ssize_t)sizeof exec_errno)
        return pgb_fail(PGBOOT_ESTART, "cannot run %s: %s", l->argv[0], strerror(exec_errno));
    *pid_out = server;
    return 0;
}

int pgb_become_user(const char *user, int create)
{
    struct passwd *pw = getpwnam(user);
    if (!pw && create) {
        char *argv[] = {
            "/usr/sbin/useradd", "--system", "--create-home", "--shell", "/usr/sbin/nologin",
            (char *)user,        NULL};
        char *out = NULL;
        int status = 0;
        int rc = pgb_run_capture(argv, &out, &status, 4096);
        if (rc)
            return rc;
        if (status != 0) {
            rc = pgb_fail(PGBOOT_ERROR, "cannot create user %s: useradd said: %s", user,
                          pgb_tail_lines(out, 2));
            free(out);
            return rc;
        }
        free(out);
        pw = getpwnam(user);
    }
    if (!pw) {
        int rc = pgb_fail(PGBOOT_EINVALID, "there is no user account named '%s'", user);
        pgb_hint("add --create-user to create it as a system user, or name an existing "
                 "unprivileged account");
        return rc;
    }
    if (pw->pw_uid == 0) {
        int rc = pgb_fail(PGBOOT_EROOT,
                          "--run-as %s names a root account; PostgreSQL refuses "
                          "to run as root",
                          user);
        pgb_hint("name an unprivileged account, e.g. --run-as pgboot --create-user");
        return rc;
    }
    if (!pw->pw_dir || pw->pw_dir[0] != '/' || !pgb_is_dir(pw->pw_dir)) {
        int rc = pgb_fail(PGBOOT_ENOTFOUND,
                          "user %s has no home directory (%s) to keep its data "
                          "in",
                          user, pw->pw_dir ? pw->pw_dir : "none");
        pgb_hint("create the home directory, or pass --data-dir DIR owned by %s", user);
        return rc;
    }
    uid_t uid = pw->pw_uid;
    gid_t gid = pw->pw_gid;
    char *home = pgb_strdup(pw->pw_dir);
    char *name = pgb_strdup(pw->pw_name);
    if (!home || !name) {
        free(home);
        free(name);
        return pgb_fail(PGBOOT_ENOMEM, "out of memory");
    }
    if (initgroups(name, gid) != 0 || setgid(gid) != 0 || setuid(uid) != 0 || getuid() != uid ||
        geteuid() != uid) {
        int rc = pgb_fail(PGBOOT_ERROR, "cannot switch to user %s: %s", name, strerror(errno));
        free(home);
        free(name);
        return rc;
    }
    setenv("HOME", home, 1);
    setenv("USER", name, 1);
    setenv("LOGNAME", name, 1);
    unsetenv("XDG_DATA_HOME");
    unsetenv("XDG_CACHE_HOME");
    unsetenv("XDG_RUNTIME_DIR");
    unsetenv("XDG_CONFIG_HOME");
    free(home);
    free(name);
    return 0;
}

void pgb_thread_background(void)
{
    /* On Linux, PRIO_PROCESS with a thread id sets that thread's nice. */
    (void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10);
}

double pgb_cpu_idle_seconds(void)
{
    FILE *f = fopen("/proc/stat", "re");
    if (!f)
        return -1;
    unsigned long long user, nice, sys, idle, iowait;
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu", &user, &nice, &sys, &idle, &iowait);
    fclose(f);
    long hz = sysconf(_SC_CLK_TCK);
    if (n != 5 || hz <= 0)
        return -1;
    return (double)(idle + iowait) / (double)hz;
}

int pgb_fork_detached(void)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        setsid();
        pid_t g = fork();
        if (g != 0)
            _exit(g < 0 ? 1 : 0);
        int devnull = open("/dev/null", O_RDWR);
        if (devnull >= 0) {
            dup2(devnull, 0);
            dup2(devnull, 1);
            dup2(devnull, 2);
            if (devnull > 2)
                close(devnull);
        }
        return 1;
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

int pgb_run_as_user(const char *user, int create_user, int want_lifeline, pgb_worker_fn fn,
                    void *arg, char **result, int *lifeline_out)
{
    *result = NULL;
    if (lifeline_out)
        *lifeline_out = -1;
    int res[2], lifeline[2] = {-1, -1};
    if (pipe2(res, O_CLOEXEC) != 0)
        return pgb_fail(PGBOOT_ERROR, "cannot create a pipe: %s", strerror(errno));
    if (want_lifeline && pipe2(lifeline, O_CLOEXEC) != 0) {
        close(res[0]);
        close(res[1]);
        return pgb_fail(PGBOOT_ERROR, "cannot create a pipe: %s", strerror(errno));
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(res[0]);
        close(res[1]);
        if (lifeline[0] >= 0) {
            close(lifeline[0]);
            close(lifeline[1]);
        }
        return pgb_fail(PGBOOT_ERROR, "cannot fork: %s", strerror(e));
    }
    if (pid == 0) {
        close(res[0]);
        if (lifeline[1] >= 0)
            close(lifeline[1]);
        int rc = pgb_become_user(user, create_user);
        /* A killed caller takes its worker (and what it runs, initdb) along. */
        if (rc == 0 && pgb_die_with_parent(parent) != 0)
            _exit(1);
        char *text = fn(arg, lifeline[0], rc);
        for (size_t n = text ? strlen(text) : 0, done = 0; done < n;) {
            ssize_t w = write(res[1], text + done, n - done);
            if (w <= 0)
                break;
            done += (size_t)w;
        }
        _exit(0);
    }
    close(res[1]);
    if (lifeline[0] >= 0)
        close(lifeline[0]);
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int oom = 0;
    for (;;) {
        if (len + 4096 > cap) {
            cap = cap ? cap * 2 : 8192;
            char *nb = realloc(buf, cap);
            if (!nb) {
                oom = 1;
                break;
            }
            buf = nb;
        }
        ssize_t r = read(res[0], buf + len, cap - len - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    close(res[0]);
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (oom || !buf) {
        free(buf);
        if (lifeline[1] >= 0)
            close(lifeline[1]);
        return pgb_fail(PGBOOT_ENOMEM, "out of memory");
    }
    buf[len] = '\0';
    *result = buf;
    if (lifeline_out)
        *lifeline_out = lifeline[1];
    else if (lifeline[1] >= 0)
        close(lifeline[1]);
    return 0;
}

/* The Pss: line of /proc/<pid>/smaps_rollup in kB; -1 when it cannot be read
 * (errno says why). */
static long long pss_kb(int pid)
{
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/smaps_rollup", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    int err = errno;
    close(fd);
    if (n <= 0) {
        errno = n < 0 ? err : ESRCH;
        return -1;
    }
    buf[n] = '\0';
    const char *line = strstr(buf, "\nPss:");
    if (!line) {
        errno = ESRCH; /* a zombie's rollup is empty */
        return -1;
    }
    return strtoll(line + 5, NULL, 10);
}

/* The parent pid in /proc/<pid>/stat (after the command name's last ')'). */
static int parent_of(int pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    const char *end = strrchr(buf, ')');
    int ppid = -1;
    char state;
    if (!end || sscanf(end + 1, " %c %d", &state, &ppid) != 2)
        return -1;
    return ppid;
}

int pgb_proc_tree_pss(int pid, uint64_t *bytes, int *count)
{
    *bytes = 0;
    if (count)
        *count = 0;
    long long kb = pss_kb(pid);
    if (kb < 0) {
        if (errno == ENOENT || errno == ESRCH || !pgb_pid_alive(pid))
            return pgb_fail(PGBOOT_ENOTRUNNING, "process %d is not running", pid);
        int rc = pgb_fail(PGBOOT_ERROR, "cannot read the memory of process %d (%s)", pid,
                          strerror(errno));
        pgb_hint("/proc/PID/smaps_rollup of another account's process is readable only by it "
                 "and by root: ask as the account that runs the server");
        return rc;
    }
    uint64_t total = (uint64_t)kb;
    int n = 1;
    DIR *d = opendir("/proc");
    if (!d)
        return pgb_fail(PGBOOT_ERROR, "cannot read /proc: %s", strerror(errno));
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char *end;
        long child = strtol(e->d_name, &end, 10);
        if (*end || child <= 0 || child == pid || parent_of((int)child) != pid)
            continue;
        long long ckb = pss_kb((int)child);
        if (ckb >= 0) { /* one that ended meanwhile is left out */
            total += (uint64_t)ckb;
            n++;
        }
    }
    closedir(d);
    *bytes = total * 1024;
    if (count)
        *count = n;
    return 0;
}
