/* A postmaster seen from outside: its postmaster.pid, whether a pid is
 * really this data directory's postgres, readiness, launching it, and
 * signalling it. Shared by app servers (server.c) and throwaway clusters
 * (ephemeral.c). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "launcher.h"

/* The lines of postmaster.pid, as PostgreSQL names them (miscadmin.h). */
#define LOCK_FILE_LINE_PID 1
#define LOCK_FILE_LINE_DATA_DIR 2
#define LOCK_FILE_LINE_START_TIME 3
#define LOCK_FILE_LINE_PORT 4
#define LOCK_FILE_LINE_SOCKET_DIR 5
#define LOCK_FILE_LINE_LISTEN_ADDR 6
#define LOCK_FILE_LINE_SHMEM_KEY 7
#define LOCK_FILE_LINE_PM_STATUS 8

#define LOG_TAIL_LINES 8

/* ---- postmaster.pid ------------------------------------------------------ */

/* Read <data>/postmaster.pid. 0 and *found=0 if there is none. */
int pgb_pm_read(const char *data_dir, pm_info *pm, int *found)
{
    memset(pm, 0, sizeof *pm);
    *found = 0;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/postmaster.pid", data_dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT
                   ? 0
                   : pgb_fail(PGBOOT_ERROR, "cannot read %s: %s", path, strerror(errno));
    char buf[4096];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n < 0)
        return pgb_fail(PGBOOT_ERROR, "cannot read %s: %s", path, strerror(errno));
    buf[n] = '\0';
    *found = 1;
    char *line = buf;
    int lines = 0;
    for (int i = 1; line && *line && i <= LOCK_FILE_LINE_PM_STATUS; i++) {
        char *next = strchr(line, '\n');
        if (!next)
            break; /* a line still being written */
        *next++ = '\0';
        lines = i;
        if (i == LOCK_FILE_LINE_PID)
            pm->pid = atoi(line);
        else if (i == LOCK_FILE_LINE_PORT)
            pm->port = atoi(line);
        else if (i == LOCK_FILE_LINE_SOCKET_DIR)
            snprintf(pm->socket_dir, sizeof pm->socket_dir, "%.4000s", line);
        else if (i == LOCK_FILE_LINE_PM_STATUS) {
            snprintf(pm->status, sizeof pm->status, "%.15s", line);
            pm->status[strcspn(pm->status, " ")] = '\0';
        }
        line = next;
    }
    /* As pg_ctl: a status is only trusted once the file is complete. */
    pm->complete = lines >= LOCK_FILE_LINE_PM_STATUS;
    return 0;
}

/* Is pm->pid this data directory's postmaster? A pid can be reused by any
 * program, even by another cluster's postgres, after a crash. */
int pgb_pm_is_ours(const char *data_dir, const pm_info *pm)
{
    if (!pgb_pid_alive(pm->pid))
        return 0;
    char comm[64];
    if (pgb_pid_comm(pm->pid, comm, sizeof comm) != 0 || strcmp(comm, "postgres") != 0)
        return 0;
    return pgb_pid_cwd_is(pm->pid, data_dir) == 1;
}

int pgb_pm_answers(const pm_info *pm, uint64_t deadline)
{
    /* A server that does not answer within 5 s is not ready for anyone; and
     * never longer than the caller's deadline. */
    uint32_t wait = 5000;
    if (deadline) {
        uint64_t now = pgb_now_ms();
        uint64_t left = deadline > now ? deadline - now : 1;
        if (left < wait)
            wait = (uint32_t)left;
    }
    return pgb_pg_ping(pm->socket_dir, pm->port, wait) == PGB_PING_OK;
}

pgb_pm_state pgb_pm_probe(const pm_info *pm, uint32_t bound_ms)
{
    int ping = pgb_pg_ping(pm->socket_dir, pm->port, bound_ms);
    /* Connected but silent: the kernel accepts for a postmaster that does
     * not run (SIGSTOP, stuck), whatever its file says. */
    if (ping == PGB_PING_NO_ANSWER)
        return PGB_PM_SILENT;
    if (pm->complete && strcmp(pm->status, "stopping") == 0)
        return PGB_PM_STOPPING;
    if (pm->complete && strcmp(pm->status, "ready") == 0) {
        if (ping == PGB_PING_OK)
            return PGB_PM_SERVING;
        /* Ready, yet nothing accepts on its socket. */
        if (ping == PGB_PING_NO_SOCKET)
            return PGB_PM_SILENT;
    }
    return PGB_PM_STARTING;
}

/* ---- the log ----------------------------------------------------------- */

long pgb_log_size(const char *log)
{
    struct stat st;
    return stat(log, &st) == 0 ? (long)st.st_size : 0;
}

/* What the server logged since `offset`, its last lines, malloc'd. */
char *pgb_log_since(const char *log, long offset, int lines)
{
    int fd = open(log, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return pgb_strdup("");
    long size = pgb_log_size(log);
    if (offset > size)
        offset = 0;
    if (size - offset > 65536)
        offset = size - 65536;
    size_t n = (size_t)(size - offset);
    char *buf = malloc(n + 1);
    ssize_t got = buf ? pread(fd, buf, n, offset) : -1;
    close(fd);
    if (got < 0) {
        free(buf);
        return pgb_strdup("");
    }
    buf[got] = '\0';
    pgb_tail_lines(buf, lines);
    for (char *p = buf; *p; p++)
        if (*p == '\n')
            *p = '|';
    return buf;
}

/* Wait until postmaster.pid says ready for `pid` and the server answers. */
int pgb_wait_ready(const char *data_dir, const char *log_file, int pid, uint64_t deadline,
                   long log_offset, int *bind_failed)
{
    *bind_failed = 0;
    uint64_t started = pgb_now_ms();
    for (;;) {
        pm_info pm;
        int found, said_ready = 0;
        if (pgb_pm_read(data_dir, &pm, &found) == 0 && found && pm.pid == pid &&
            strcmp(pm.status, "ready") == 0) {
            said_ready = 1;
            if (pgb_pm_answers(&pm, deadline))
                return 0;
        }
        if (!pgb_pid_alive(pid)) {
            char *tail = pgb_log_since(log_file, log_offset, LOG_TAIL_LINES);
            if (tail && (strstr(tail, "could not bind") || strstr(tail, "Address already in use") ||
                         strstr(tail, "could not create any TCP/IP sockets")))
                *bind_failed = 1;
            int rc = pgb_fail(PGBOOT_ESTART,
                              "PostgreSQL exited during start-up; its log %s "
                              "says: %s",
                              log_file, tail ? tail : "");
            free(tail);
            return rc;
        }
        if (pgb_now_ms() >= deadline) {
            char *tail = pgb_log_since(log_file, log_offset, LOG_TAIL_LINES);
            int rc;
            /* Say which step did not finish: the server's own start-up (its
             * pid file), or answering on its socket once it says ready. */
            if (said_ready) {
                rc = pgb_fail(PGBOOT_ETIMEOUT,
                              "PostgreSQL (pid %d) says it is ready but did not answer on its "
                              "socket in %s in time; its log %s says: %s",
                              pid, pm.socket_dir, log_file, tail ? tail : "");
                pgb_hint("the server may be stopped (SIGSTOP) or overloaded; a longer --timeout "
                         "waits for it, 'pgboot stop' stops it");
            } else {
                rc = pgb_fail(PGBOOT_ETIMEOUT,
                              "PostgreSQL (pid %d) was not ready in time: its postmaster.pid "
                              "says '%s'; its log %s says: %s",
                              pid, found && pm.pid == pid && pm.status[0] ? pm.status : "starting",
                              log_file, tail ? tail : "");
                pgb_hint("a start that replays WAL after a crash can take long: a longer "
                         "--timeout waits for it");
            }
            free(tail);
            return rc;
        }
        /* A start takes 25-60 ms: poll finely at first (pg_ctl waits 100 ms). */
        pgb_sleep_ms(pgb_now_ms() - started < 1000 ? 2 : 20);
    }
}

int pgb_signal_and_wait(int pid, int sig, uint64_t deadline)
{
    if (kill(pid, sig) != 0 && errno != ESRCH)
        return pgb_fail(PGBOOT_ERROR, "cannot signal the server (pid %d): %s", pid,
                        strerror(errno));
    uint32_t nap = 1;
    while (pgb_pid_alive(pid)) {
        if (pgb_now_ms() >= deadline)
            return PGBOOT_ETIMEOUT;
        pgb_sleep_ms(nap);
        if (nap < 20)
            nap *= 2;
    }
    return 0;
}

/* Stop a server we failed to bring up, so it holds nothing. A cleanup: the
 * failure that brought us here stays the one reported. */
void pgb_abandon(int pid)
{
    pgb_error_saved first;
    pgb_error_save(&first);
    if (pgb_signal_and_wait(pid, SIGQUIT, pgb_now_ms() + 10000) != 0 &&
        pgb_signal_and_wait(pid, SIGKILL, pgb_now_ms() + 5000) != 0)
        pgb_fail(PGBOOT_ETIMEOUT, "the server (pid %d) does not stop", pid);
    pgb_error_restore(&first);
}

int pgb_launch_postgres(const pgb_postgres_launch *l, int *pid)
{
    char *postgres = pgb_path_join(l->bin_dir, "postgres");
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", l->port);
    int logfd = open(l->log_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (!postgres || logfd < 0) {
        int rc = pgb_fail(PGBOOT_ERROR, "cannot open the log %s: %s", l->log_file, strerror(errno));
        free(postgres);
        if (logfd >= 0)
            close(logfd);
        return rc;
    }
    char *argv[8 + 2 * PGB_MAX_EXTRA_SETTINGS + 1];
    int n = 0;
    argv[n++] = postgres;
    argv[n++] = "-D";
    argv[n++] = (char *)l->data_dir;
    argv[n++] = "-p";
    argv[n++] = portstr;
    argv[n++] = "-k";
    argv[n++] = (char *)l->socket_dir;
    for (int i = 0; l->settings && l->settings[i] && i < PGB_MAX_EXTRA_SETTINGS; i++) {
        argv[n++] = "-c";
        argv[n++] = (char *)l->settings[i];
    }
    argv[n] = NULL;
    pgb_launch pl = {.argv = argv,
                     .log_fd = logfd,
                     .lifeline_fd = l->lifeline_fd,
                     .owner_gone_signal = l->owner_gone_signal,
                     .remove_after = l->remove_after};
    int rc = pgb_spawn_server(&pl, pid);
    close(logfd);
    free(postgres);
    return rc;
}

void pgb_clear_stale_socket_locks(const char *socket_dir)
{
    DIR *d = opendir(socket_dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (strncmp(e->d_name, ".s.PGSQL.", 9) != 0 || n < 5 ||
            strcmp(e->d_name + n - 5, ".lock") != 0)
            continue;
        char lock[PATH_MAX], sock[PATH_MAX], buf[64] = "";
        snprintf(lock, sizeof lock, "%s/%s", socket_dir, e->d_name);
        snprintf(sock, sizeof sock, "%s/%.*s", socket_dir, (int)(n - 5), e->d_name);
        int fd = open(lock, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            ssize_t r = read(fd, buf, sizeof buf - 1);
            buf[r > 0 ? r : 0] = '\0';
            close(fd);
        }
        int pid = atoi(buf);
        char comm[64];
        int owner_lives = pid > 0 && pgb_pid_alive(pid) &&
                          pgb_pid_comm(pid, comm, sizeof comm) == 0 && !strcmp(comm, "postgres");
        if (!owner_lives) {
            unlink(sock);
            unlink(lock);
        }
    }
    closedir(d);
}

#define LAUNCH_ATTEMPTS 5

int pgb_launch_until_ready(pgb_postgres_launch *l, uint64_t deadline, pgb_port_chooser choose,
                           void *ctx, int *pid)
{
    *pid = 0;
    for (int attempt = 1;; attempt++) {
        int rc = choose(ctx, attempt, &l->port);
        if (rc)
            return rc;
        long offset = pgb_log_size(l->log_file);
        if ((rc = pgb_launch_postgres(l, pid)) != 0)
            return rc;
        int bind_failed = 0;
        rc = pgb_wait_ready(l->data_dir, l->log_file, *pid, deadline, offset, &bind_failed);
        if (rc == 0)
            return 0;
        pgb_abandon(*pid); /* nothing if it exited by itself */
        *pid = 0;
        if (!bind_failed || attempt == LAUNCH_ATTEMPTS)
            return rc;
        /* Someone took the port between the choice and the bind. */
        pgb_error_reset();
    }
}
