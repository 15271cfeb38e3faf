/* The server handle: what pgboot_server_start(), pgboot_ephemeral_start()
 * and an external URL hand to the caller, its getters, and the stop that its
 * creator chose (a handle knows how it is stopped; this file knows no kind).
 * The struct is in launcher.h. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "launcher.h"

pgboot_server *pgb_server_new(void)
{
    pgboot_server *s = calloc(1, sizeof *s);
    if (s)
        s->lifeline_fd = -1;
    return s;
}

void pgboot_server_free(pgboot_server *s)
{
    if (!s)
        return;
    if (s->lifeline_fd >= 0)
        close(s->lifeline_fd);
    free(s->ephemeral_dir);
    free(s->private_socket);
    free(s->tmp_fallback);
    if (s->password)
        sodium_memzero(s->password, strlen(s->password));
    if (s->url)
        sodium_memzero(s->url, strlen(s->url));
    free(s->url);
    free(s->host);
    free(s->user);
    free(s->password);
    free(s->database);
    free(s->socket_dir);
    free(s->data_dir);
    free(s->app_dir);
    free(s->log_path);
    free(s->pg_version);
    free(s->app);
    free(s->restart_needed);
    free(s->reloaded);
    free(s);
}

const char *pgboot_server_url(const pgboot_server *s)
{
    return s->url;
}
int pgboot_server_port(const pgboot_server *s)
{
    return s->port;
}
int pgboot_server_pid(const pgboot_server *s)
{
    return s->pid;
}
const char *pgboot_server_host(const pgboot_server *s)
{
    return s->host;
}
const char *pgboot_server_user(const pgboot_server *s)
{
    return s->user;
}
const char *pgboot_server_password(const pgboot_server *s)
{
    return s->password;
}
const char *pgboot_server_database(const pgboot_server *s)
{
    return s->database;
}
const char *pgboot_server_socket_dir(const pgboot_server *s)
{
    return s->socket_dir;
}
const char *pgboot_server_data_dir(const pgboot_server *s)
{
    return s->data_dir;
}
const char *pgboot_server_app_dir(const pgboot_server *s)
{
    return s->app_dir;
}
const char *pgboot_server_log_path(const pgboot_server *s)
{
    return s->log_path;
}
const char *pgboot_server_pg_version(const pgboot_server *s)
{
    return s->pg_version;
}
int pgboot_server_started_here(const pgboot_server *s)
{
    return s->started_here;
}
int pgboot_server_is_external(const pgboot_server *s)
{
    return s->external;
}
const char *pgboot_server_restart_needed(const pgboot_server *s)
{
    return s->restart_needed;
}
const char *pgboot_server_reloaded(const pgboot_server *s)
{
    return s->reloaded;
}

const char *pgboot_server_tmp_fallback(const pgboot_server *s)
{
    return s->tmp_fallback;
}

int pgboot_server_stop(pgboot_server *s, pgboot_stop_mode mode)
{
    pgb_error_reset();
    if (!s)
        return pgb_fail(PGBOOT_EINVALID, "no server given");
    if (!s->stop)
        return pgb_fail(PGBOOT_EINVALID, "an external database is not stopped by pgboot");
    return s->stop(s, mode);
}

int pgboot_server_memory(const pgboot_server *s, uint64_t *pss_bytes, int *processes)
{
    pgb_error_reset();
    *pss_bytes = 0;
    if (processes)
        *processes = 0;
    if (s->external || s->pid <= 0)
        return pgb_fail(PGBOOT_EINVALID, "an external server's memory is not pgboot's to measure");
    return pgb_proc_tree_pss(s->pid, pss_bytes, processes);
}
