/* The environment of a client program of a server (pgboot run's command,
 * pgboot env's output): the connection, and none of the caller's libpq
 * variables that could send it to another server or database. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include <sodium.h>

#include "../platform/dynload.h"
#include "launcher.h"

static const char *const set_names[] = {"DATABASE_URL", "PGHOST",     "PGPORT", "PGUSER",
                                        "PGPASSWORD",   "PGDATABASE", NULL};

void pgboot_env_free(pgboot_env_var *vars)
{
    if (!vars)
        return;
    for (pgboot_env_var *v = vars; v->name; v++) {
        char *value = (char *)v->value;
        if (value) /* PGPASSWORD, DATABASE_URL */
            sodium_memzero(value, strlen(value));
        free(value);
        free((char *)v->name);
    }
    free(vars);
}

int pgboot_server_env(pgboot_env_var **out, const pgboot_server *s)
{
    pgb_error_reset();
    *out = NULL;
    char port[16];
    snprintf(port, sizeof port, "%d", s->port);
    const char *values[] = {s->url,     s->host ? s->host : "127.0.0.1", port, s->user, s->password,
                            s->database};
    char **clear = NULL;
    int rc = s->external ? 0 : pgb_pq_client_env_clear(set_names, &clear);
    if (rc)
        return rc;
    size_t nclear = 0;
    while (clear && clear[nclear])
        nclear++;
    pgboot_env_var *v = calloc(6 + nclear + 1, sizeof *v);
    size_t n = 0;
    int oom = !v;
    for (size_t i = 0; !oom && i < 6; i++) {
        if (!values[i])
            continue;
        char *name = pgb_strdup(set_names[i]), *value = pgb_strdup(values[i]);
        if (!name || !value) {
            free(name);
            free(value);
            oom = 1;
            break;
        }
        v[n].name = name;
        v[n++].value = value;
    }
    for (size_t i = 0; i < nclear; i++) {
        if (!oom)
            v[n++].name = clear[i]; /* taken over */
        else
            free(clear[i]);
    }
    free(clear);
    if (oom) {
        pgboot_env_free(v);
        return pgb_fail(PGBOOT_ENOMEM, "out of memory");
    }
    *out = v;
    return 0;
}
