/* A migration with a big table loads through a staging schema: worker
 * connections create and fill the tables there, each table committed on its
 * own (a small one created in the same transaction that fills it, so that
 * the embedded cluster skips its WAL), and a big table's rows are spread
 * over all the workers, so that the server parses them and computes their
 * generated columns (to_tsvector) on several cores. The final transaction
 * then moves the tables into the target schema, builds keys, indexes and
 * constraints, verifies and records: all or nothing, as before. A crash in
 * between leaves only this schema, which the next migration into the
 * database removes (it holds the migration lock, so no other one uses it). */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "porter.h"
#include "staging.h"

#define STAGING "pgboot_staging"

void pgb_set_session(PGconn *c)
{
    static const char *const settings[] = {"SET client_min_messages = warning",
                                           "SET client_encoding = 'UTF8'",
                                           "SET TimeZone = 'UTC'",
                                           "SET DateStyle = 'ISO, YMD'",
                                           "SET extra_float_digits = 1",
                                           "SET bytea_output = 'hex'",
                                           "SET standard_conforming_strings = on",
                                           "SET statement_timeout = 0",
                                           "SET maintenance_work_mem = '64MB'",
                                           NULL};
    for (int i = 0; settings[i]; i++) {
        PGresult *r = PQexec(c, settings[i]);
        PQclear(r);
    }
}

#define STAGING_MARK "pgboot: the staging of a migration; the next migration removes it"

/* Drop the staging schema: only pgboot's (marked by its comment), never a
 * schema of that name that someone else made. */
int pgb_staging_drop(PGconn *c)
{
    const char *params[1] = {STAGING_MARK};
    PGresult *r = PQexecParams(c,
                               "SELECT count(*) FROM pg_namespace WHERE nspname = '" STAGING
                               "' AND obj_description(oid, 'pg_namespace') = $1",
                               1, NULL, params, NULL, NULL, 0);
    int ours = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
               strcmp(PQgetvalue(r, 0, 0), "0") != 0;
    if (PQresultStatus(r) == PGRES_TUPLES_OK) {
        PQclear(r);
        r = ours ? PQexec(c, "DROP SCHEMA " STAGING " CASCADE") : NULL;
    }
    int rc = 0;
    if (r && PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK)
        rc = pgb_fail(PGBOOT_ERROR, "cannot remove the staging schema " STAGING ": %s",
                      PQresultErrorMessage(r));
    PQclear(r);
    return rc;
}

int pgb_staging_wanted(const pgb_plan *p, const pgboot_migrate_options *o)
{
    if (o->dry_run || o->schema_file || o->data_only || sysconf(_SC_NPROCESSORS_ONLN) < 2)
        return 0;
    for (int i = 0; i < p->ntables; i++)
        if (p->tables[i].rows >= PGB_STAGING_SPLIT_ROWS)
            return 1;
    return 0;
}

/* Create the staging schema and connect the workers: 0, or -1 when the
 * target does not allow it (then everything runs in one transaction on one
 * connection, as for a small database). */
int pgb_staging_open(PGconn *c, pgb_pq_whose whose, const char *url, PGconn **w, int *nw)
{
    *nw = 0;
    /* A schema of that name that is not pgboot's makes this fail: then no
     * staging, and the user's schema is left alone. */
    PGresult *r =
        PQexec(c, "CREATE SCHEMA " STAGING "; COMMENT ON SCHEMA " STAGING " IS '" STAGING_MARK "'");
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!ok)
        return -1;
    for (int i = 0; i < PGB_STAGING_WORKERS; i++) {
        PGconn *x = NULL;
        if (pgb_pq_open(&x, whose, url, NULL, NULL) != 0) {
            pgb_error_reset(); /* as for any connection that fails: no staging */
            break;
        }
        if (PQstatus(x) != CONNECTION_OK) {
            PQfinish(x);
            break;
        }
        pgb_set_session(x);
        r = PQexec(x, "SET search_path = " STAGING);
        ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        if (!ok) {
            PQfinish(x);
            break;
        }
        w[(*nw)++] = x;
    }
    if (*nw < 2) {
        while (*nw > 0)
            PQfinish(w[--*nw]);
        pgb_staging_drop(c);
        return -1;
    }
    return 0;
}

/* Create a table in the staging schema and fill it. */
int pgb_staging_load(pgb_load *L, pgb_plan_table *t, const char *create)
{
    int alone = t->rows < L->split_rows;
    char what[300];
    snprintf(what, sizeof what, "cannot create table %s", t->name);
    int rc = alone ? pgb_pq_exec(L->conn, "BEGIN", "cannot begin") : 0;
    if (rc)
        return rc;
    if ((rc = pgb_pq_exec(L->conn, create, what)) == 0)
        rc = pgb_load_table(L, t);
    else if (L->plan && !pgb_pass_verdict(L->plan, t))
        L->respec = 1; /* perhaps refused for the types of its first rows */
    if (alone && rc) {
        PGresult *r = PQexec(L->conn, "ROLLBACK");
        PQclear(r);
    } else if (alone) {
        rc = pgb_pq_exec(L->conn, "COMMIT", "cannot commit a table");
    }
    return rc;
}

/* In the final transaction: the staged tables into the target schema. */
int pgb_staging_move(PGconn *c, pgb_plan *p, int porter_staged)
{
    /* pgb_record_check_role made sure, before any work, that there is one */
    PGresult *r = PQexec(c, "SELECT current_schema()");
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1 || PQgetisnull(r, 0, 0)) {
        int rc =
            pgb_fail(PGBOOT_ERROR, "cannot find the target schema: %s", PQresultErrorMessage(r));
        PQclear(r);
        return rc;
    }
    char *schema = pgb_strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    int rc = schema ? 0 : pgb_fail(PGBOOT_ENOMEM, "out of memory");
    for (int i = 0; i < p->ntables && rc == 0; i++) {
        pgb_buf q = {0};
        pgb_buf_puts(&q, "ALTER TABLE " STAGING ".");
        pgb_buf_ident(&q, p->tables[i].name);
        pgb_buf_puts(&q, " SET SCHEMA ");
        pgb_buf_ident(&q, schema);
        char what[300];
        snprintf(what, sizeof what, "cannot move table %s out of the staging schema",
                 p->tables[i].name);
        rc = q.oom ? pgb_fail(PGBOOT_ENOMEM, "out of memory") : pgb_pq_exec(c, q.s, what);
        pgb_buf_free(&q);
    }
    if (rc == 0)
        rc = pgb_porter_unstage(c, porter_staged, schema);
    if (rc == 0)
        rc = pgb_pq_exec(c, "DROP SCHEMA " STAGING, "cannot drop the staging schema");
    free(schema);
    return rc;
}

/* Run the collected statements over the workers, each on the first idle one,
 * the GIN indexes (the slowest to build) first. */
void pgb_staging_build_ahead(pgb_ahead *a, PGconn **w, int nw)
{
    int *order = malloc(((size_t)a->n + 1) * sizeof *order), no = 0;
    if (!order)
        return;
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < a->n; i++)
            if ((strstr(a->jobs[i].sql, " USING gin (") != NULL) == (pass == 0))
                order[no++] = i;
    int busy[PGB_STAGING_WORKERS], alive[PGB_STAGING_WORKERS], next = 0;
    for (int k = 0; k < nw; k++)
        busy[k] = -1, alive[k] = 1;
    for (;;) {
        int nbusy = 0;
        for (int k = 0; k < nw; k++) {
            if (alive[k] && busy[k] < 0 && next < no) {
                if (PQsendQuery(w[k], a->jobs[order[next]].sql) == 1)
                    busy[k] = order[next++];
                else
                    alive[k] = 0; /* its statements go to the final pass */
            }
            nbusy += busy[k] >= 0;
        }
        if (!nbusy)
            break;
        struct pollfd p[PGB_STAGING_WORKERS];
        for (int k = 0; k < nw; k++)
            p[k] = (struct pollfd){.fd = busy[k] >= 0 ? PQsocket(w[k]) : -1, .events = POLLIN};
        if (poll(p, (nfds_t)nw, -1) < 0 && errno != EINTR)
            break;
        for (int k = 0; k < nw; k++) {
            if (busy[k] < 0 || !(p[k].revents & (POLLIN | POLLERR | POLLHUP)))
                continue;
            if (PQconsumeInput(w[k]) != 1) {
                alive[k] = 0;
                busy[k] = -1;
                continue;
            }
            while (busy[k] >= 0 && !PQisBusy(w[k])) {
                PGresult *r = PQgetResult(w[k]);
                if (!r) {
                    busy[k] = -1;
                    break;
                }
                pgb_ahead_job *j = &a->jobs[busy[k]];
                const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
                if (PQresultStatus(r) == PGRES_COMMAND_OK) {
                    j->built = 1;
                } else if (PQstatus(w[k]) != CONNECTION_OK ||
                           (state && (!strncmp(state, "57", 2) || !strncmp(state, "08", 2)))) {
                    /* the connection went, not the statement: the final
                     * pass builds it */
                    alive[k] = 0;
                } else if (!j->err) {
                    const char *m = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
                    j->err = pgb_strdup(m ? m : PQresultErrorMessage(r));
                }
                PQclear(r);
            }
        }
    }
    free(order);
}
