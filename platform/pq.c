/* Small libpq helpers shared by the cluster set-up, testdb and the
 * migration (through the lazily loaded libpq of dynload.h). */
#include <libpq-fe.h>

#include "dynload.h"
#include "platform.h"

int pgb_pq_exec(PGconn *c, const char *sql, const char *what)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    int rc = 0;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY)
        rc = pgb_fail(PGBOOT_ERROR, "%s: %s", what, PQresultErrorMessage(r));
    PQclear(r);
    return rc;
}

int pgb_pq_exists(PGconn *c, const char *sql, const char *param, int *yes)
{
    const char *params[1] = {param};
    PGresult *r = PQexecParams(c, sql, param ? 1 : 0, NULL, param ? params : NULL, NULL, NULL, 0);
    int rc = 0;
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        rc = pgb_fail(PGBOOT_ERROR, "cannot query the server: %s", PQresultErrorMessage(r));
    else
        *yes = PQntuples(r) > 0;
    PQclear(r);
    return rc;
}
