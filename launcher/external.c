/* An external database (--database-url, PGBOOT_DATABASE_URL): pgboot starts
 * nothing and stops nothing; it checks that the URL connects and hands out a
 * handle that carries it (with no stop of its own). */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "../platform/dynload.h"
#include "launcher.h"

const char *pgb_external_url(const pgboot_server_options *o)
{
    if (o->database_url && *o->database_url)
        return o->database_url;
    const char *e = getenv("PGBOOT_DATABASE_URL");
    return e && *e ? e : NULL;
}

int pgb_external_server(pgboot_server **out, const char *url, uint32_t timeout_ms)
{
    char *err = NULL;
    PQconninfoOption *opts = PQconninfoParse(url, &err);
    if (!opts) {
        int rc = pgb_pq_url_invalid(url, err);
        if (err)
            PQfreemem(err);
        return rc;
    }
    pgboot_server *s = pgb_server_new();
    if (!s) {
        PQconninfoFree(opts);
        return pgb_fail(PGBOOT_ENOMEM, "out of memory");
    }
    s->external = 1;
    s->url = pgb_strdup(url);
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (!o->val)
            continue;
        if (!strcmp(o->keyword, "host"))
            s->host = pgb_strdup(o->val);
        else if (!strcmp(o->keyword, "port"))
            s->port = atoi(o->val);
        else if (!strcmp(o->keyword, "user"))
            s->user = pgb_strdup(o->val);
        else if (!strcmp(o->keyword, "password"))
            s->password = pgb_strdup(o->val);
        else if (!strcmp(o->keyword, "dbname"))
            s->database = pgb_strdup(o->val);
    }
    PQconninfoFree(opts);
    if (!s->port)
        s->port = 5432;
    s->pg_version = pgb_strdup("");
    if (!s->url || !s->pg_version) {
        pgboot_server_free(s);
        return pgb_fail(PGBOOT_ENOMEM, "out of memory");
    }
    /* It must answer now, as the embedded one would. */
    char timeout[16];
    snprintf(timeout, sizeof timeout, "%u", (timeout_ms ? timeout_ms : 60000) / 1000 + 1);
    const char *keys[] = {"connect_timeout", NULL};
    const char *vals[] = {timeout, NULL};
    PGconn *c = NULL;
    int rc = pgb_pq_open(&c, PGB_PQ_USERS, url, keys, vals);
    if (rc) {
        pgboot_server_free(s);
        return rc;
    }
    if (PQstatus(c) != CONNECTION_OK) {
        rc = pgb_fail(PGBOOT_ERROR, "cannot connect to the external database %s:%d: %s",
                      s->host ? s->host : "(default host)", s->port,
                      c ? PQerrorMessage(c) : "out of memory");
        pgb_hint("check --database-url / PGBOOT_DATABASE_URL, or unset it to use the embedded "
                 "server");
    } else {
        int v = PQserverVersion(c);
        free(s->pg_version);
        s->pg_version = pgb_printf("%d.%d", v / 10000, v % 10000);
    }
    PQfinish(c);
    if (rc) {
        pgboot_server_free(s);
        return rc;
    }
    *out = s;
    return 0;
}
