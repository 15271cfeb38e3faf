/* Checking the target before anything is written, verifying before commit,
 * and recording the migration in pgboot.migrations, so that it never runs
 * twice by accident. */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "../platform/dynload.h"
#include "copy.h"
#include "record.h"
#include "tokens.h"

static int query_int(PGconn *c, const char *sql, const char *param, int64_t *out)
{
    const char *params[1] = {param};
    PGresult *r = PQexecParams(c, sql, param ? 1 : 0, NULL, params, NULL, NULL, 0);
    int rc = 0;
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        rc = pgb_fail(PGBOOT_ERROR, "cannot query the target: %s", PQresultErrorMessage(r));
    else
        *out =
            PQntuples(r) > 0 && !PQgetisnull(r, 0, 0) ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : -1;
    PQclear(r);
    return rc;
}

/* The last migration recorded in the target, if any. */
int pgb_record_find(PGconn *c, char **last_sha, char **when)
{
    *last_sha = NULL;
    *when = NULL;
    int64_t exists = -1;
    int rc = query_int(c,
                       "SELECT 1 FROM pg_tables WHERE schemaname = 'pgboot' AND "
                       "tablename = 'migrations'",
                       NULL, &exists);
    if (rc || exists != 1)
        return rc;
    PGresult *r = PQexec(c, "SELECT source_sha256, finished_at::text, source_path FROM "
                            "pgboot.migrations ORDER BY id DESC LIMIT 1");
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
        *last_sha = pgb_strdup(PQgetvalue(r, 0, 0));
        *when = pgb_printf("%s at %s", PQgetvalue(r, 0, 2), PQgetvalue(r, 0, 1));
        if (!*last_sha || !*when)
            rc = pgb_fail(PGBOOT_ENOMEM, "out of memory");
    }
    PQclear(r);
    return rc;
}

int pgb_record(PGconn *c, const pgboot_migrate_options *o, const char *sha, int64_t size,
               const char *started, const char *report)
{
    /* CREATE SCHEMA IF NOT EXISTS needs CREATE on the database even when
     * the schema is there: a role given only the schema could not record. */
    int64_t have_schema = 0;
    int rc = query_int(c, "SELECT count(*) FROM pg_namespace WHERE nspname = 'pgboot'", NULL,
                       &have_schema);
    if (rc == 0 && have_schema == 0)
        rc = pgb_pq_exec(c, "CREATE SCHEMA pgboot", "cannot record the migration");
    if (rc)
        return rc;
    rc = pgb_pq_exec(c,
                     "CREATE TABLE IF NOT EXISTS pgboot.migrations ("
                     " id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
                     " source_path text NOT NULL, source_size bigint NOT NULL,"
                     " source_sha256 text NOT NULL, started_at timestamptz NOT NULL,"
                     " finished_at timestamptz NOT NULL DEFAULT now(),"
                     " pgboot_version text NOT NULL, report jsonb NOT NULL)",
                     "cannot record the migration");
    if (rc)
        return rc;
    char sz[32];
    snprintf(sz, sizeof sz, "%lld", (long long)size);
    char *abs = realpath(o->sqlite_path, NULL);
    const char *params[6] = {abs ? abs : o->sqlite_path, sz,    sha, started,
                             PGBOOT_VERSION_STRING,      report};
    PGresult *r = PQexecParams(c,
                               "INSERT INTO pgboot.migrations (source_path, source_size, "
                               "source_sha256, started_at, pgboot_version, report) "
                               "VALUES ($1, $2, $3, $4, $5, $6)",
                               6, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        rc = pgb_fail(PGBOOT_ERROR, "cannot record the migration: %s", PQresultErrorMessage(r));
    PQclear(r);
    free(abs);
    return rc;
}

/* Tables of the plan that exist in the target: an error unless --force (and
 * --replace for tables holding rows); with drop, they are dropped. */
int pgb_record_check_tables(PGconn *c, pgb_plan *p, const pgboot_migrate_options *o, int drop)
{
    for (int i = 0; i < p->ntables; i++) {
        pgb_plan_table *t = &p->tables[i];
        int64_t exists = -1;
        int rc = query_int(c,
                           "SELECT 1 FROM pg_tables WHERE schemaname = current_schema() AND "
                           "tablename = $1",
                           t->name, &exists);
        if (rc)
            return rc;
        if (exists != 1)
            continue;
        if (!o->force) {
            rc = pgb_fail(PGBOOT_EINVALID, "table %s already exists in the target", t->name);
            pgb_hint("--data-only loads into existing tables; --force (with --replace for "
                     "tables holding rows) migrates again; nothing was written");
            return rc;
        }
        pgb_buf q = {0};
        pgb_buf_puts(&q, "SELECT count(*) FROM (SELECT 1 FROM ");
        pgb_buf_ident(&q, t->name);
        pgb_buf_puts(&q, " LIMIT 1) x");
        int64_t has_rows = 0;
        rc = query_int(c, q.s, NULL, &has_rows);
        pgb_buf_free(&q);
        if (rc)
            return rc;
        if (has_rows > 0 && !o->replace) {
            rc = pgb_fail(PGBOOT_EINVALID, "table %s exists in the target and holds rows", t->name);
            pgb_hint("--replace drops it and migrates again; nothing was written");
            return rc;
        }
        if (!drop)
            continue;
        pgb_buf d = {0};
        pgb_buf_puts(&d, "DROP TABLE ");
        pgb_buf_ident(&d, t->name);
        pgb_buf_puts(&d, " CASCADE");
        rc = pgb_pq_exec(c, d.s, "cannot replace a table");
        pgb_buf_free(&d);
        if (rc)
            return rc;
    }
    return 0;
}

/* Can this role create the tables (a schema in its search_path) and record
 * the migration (create the pgboot schema, or use it when someone created it
 * for the role)? Checked before anything is written: a managed server's role
 * may lack either. */
int pgb_record_check_role(PGconn *c, int creates_tables)
{
    PGresult *r = PQexec(c, "SELECT has_database_privilege(current_database(), 'CREATE') OR "
                            "coalesce((SELECT has_schema_privilege(oid, 'USAGE') AND "
                            "has_schema_privilege(oid, 'CREATE') FROM pg_namespace WHERE "
                            "nspname = 'pgboot'), false), current_user, current_database(), "
                            "current_schema() IS NOT NULL, current_setting('search_path'), "
                            "coalesce(has_schema_privilege(current_schema(), 'CREATE'), false), "
                            "quote_ident(current_schema()), quote_ident(current_user)");
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        int rc = pgb_fail(PGBOOT_ERROR, "cannot check the target's privileges: %s",
                          PQresultErrorMessage(r));
        PQclear(r);
        return rc;
    }
    int rc = 0;
    if (strcmp(PQgetvalue(r, 0, 3), "t") != 0) {
        /* no schema to create the tables in */
        rc = pgb_fail(PGBOOT_EINVALID,
                      "role %s has no schema to create tables in, in database %s: its "
                      "search_path (%s) names none that exists; nothing was written",
                      PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2), PQgetvalue(r, 0, 4));
        pgb_hint("create the schema, or ALTER ROLE %s SET search_path = public, then migrate "
                 "again",
                 PQgetvalue(r, 0, 1));
    } else if (strcmp(PQgetvalue(r, 0, 0), "t") != 0) {
        rc = pgb_fail(PGBOOT_EINVALID,
                      "role %s may not create the schema pgboot in database %s, where pgboot "
                      "records the migration; nothing was written",
                      PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2));
        pgb_hint("as the database's owner, run GRANT CREATE ON DATABASE %s TO %s (or CREATE "
                 "SCHEMA pgboot; GRANT USAGE, CREATE ON SCHEMA pgboot TO %s), then migrate again",
                 PQgetvalue(r, 0, 2), PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 1));
    } else if (creates_tables && strcmp(PQgetvalue(r, 0, 5), "t") != 0) {
        /* PostgreSQL 15 and later let only the database's owner create in
         * public: else CREATE TABLE would fail, with no way out named */
        rc = pgb_fail(PGBOOT_EINVALID,
                      "role %s may not create tables in schema %s of database %s (it lacks the "
                      "CREATE privilege there), where the migration creates them; nothing was "
                      "written",
                      PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 6), PQgetvalue(r, 0, 2));
        pgb_hint("as the schema's owner, run GRANT CREATE ON SCHEMA %s TO %s, then migrate again; "
                 "or migrate into a schema the role owns (first in its search_path)",
                 PQgetvalue(r, 0, 6), PQgetvalue(r, 0, 7));
    }
    PQclear(r);
    return rc;
}

int pgb_record_verify(PGconn *c, pgb_plan_table *t, const char *source, int full, int *differs)
{
    pgb_buf q = {0};
    pgb_buf_puts(&q, "SELECT count(*) FROM ");
    pgb_buf_ident(&q, t->name);
    int64_t n = -1;
    int rc = query_int(c, q.s, NULL, &n);
    pgb_buf_free(&q);
    if (rc)
        return rc;
    if (n != t->rows - t->rejected)
        return pgb_fail(PGBOOT_ERROR,
                        "verification failed: table %s holds %lld rows, %s had %lld%s; "
                        "nothing was committed",
                        t->name, (long long)n, source, (long long)(t->rows - t->rejected),
                        t->rejected ? " (after rejects)" : "");
    if (!full)
        return 0;
    unsigned char back[16];
    int64_t rows = 0;
    if ((rc = pgb_readback_digest(c, t, back, &rows)) != 0)
        return rc;
    if (memcmp(back, t->digest, 16) == 0)
        return 0;
    rc = pgb_fail(PGBOOT_ERROR,
                  "verification failed: the values of table %s read back from "
                  "PostgreSQL differ from %s; nothing was committed",
                  t->name, source);
    pgb_hint("please report this with the report file: it is a pgboot bug");
    *differs = 1;
    return rc;
}

/* A SQLite identifier, double-quoted. */
static void lite_ident(pgb_buf *b, const char *name)
{
    pgb_buf_puts(b, "\"");
    for (const char *q = name; *q; q++)
        pgb_buf_puts(b, *q == '"' ? "\"\"" : (char[2]){*q, 0});
    pgb_buf_puts(b, "\"");
}

/* The translated generated columns of t: SQLite's stored values against
 * PostgreSQL's. */
static int verify_generated(PGconn *c, pgb_plan *p, pgb_plan_table *t, const char *source,
                            pgb_report *rep, int *differs)
{
    const pgb_plan_col *cols[256];
    int n = 0;
    pgb_buf lite = {0}, pg = {0}, names = {0};
    pgb_buf_puts(&lite, "SELECT ");
    pgb_buf_puts(&pg, "SELECT ");
    for (int i = 0; i < t->ncols && n < 256; i++) {
        if (!t->cols[i].generated || !t->cols[i].gen_sql)
            continue;
        pgb_buf_puts(&lite, n ? ", " : "");
        pgb_buf_puts(&pg, n ? ", " : "");
        pgb_buf_puts(&names, n ? ", " : "");
        lite_ident(&lite, t->src->cols[t->cols[i].src].name);
        pgb_buf_ident(&pg, t->cols[i].name);
        pgb_buf_puts(&names, t->cols[i].name);
        cols[n++] = &t->cols[i];
    }
    int rc = 0, same = 1;
    if (n && t->rejected) {
        pgb_report_warn(rep,
                        "the generated columns of %s were not verified: rows were rejected, "
                        "so the two sides hold different rows",
                        t->name);
    } else if (n) {
        pgb_buf_puts(&lite, " FROM ");
        lite_ident(&lite, t->src->name);
        pgb_buf_puts(&pg, " FROM ");
        pgb_buf_ident(&pg, t->name);
        if (lite.oom || pg.oom || names.oom)
            rc = pgb_fail(PGBOOT_ENOMEM, "out of memory");
        else
            rc = pgb_verify_query(p->src->db, lite.s, c, pg.s, cols, n, &same);
    }
    if (rc == 0 && !same) {
        rc = pgb_fail(PGBOOT_ERROR,
                      "verification failed: the generated column(s) %s of table %s, computed "
                      "by PostgreSQL, differ from the values in %s; nothing was committed",
                      names.s, t->name, source);
        pgb_hint("their translation (in the report's ddl) does not give what SQLite gives: "
                 "please report this with the report file (it is a pgboot bug); --verify counts "
                 "migrates without comparing values");
        *differs = 1;
    }
    pgb_buf_free(&lite);
    pgb_buf_free(&pg);
    pgb_buf_free(&names);
    return rc;
}

/* A view created in the target: its rows on both sides. */
static int verify_view(PGconn *c, pgb_plan *p, const pgb_src_other *o, const char *source,
                       pgb_report *rep, int *differs)
{
    char name[256];
    snprintf(name, sizeof name, "%s", o->name);
    if (!p->preserve_case)
        for (char *q = name; *q; q++)
            *q = (char)tolower((unsigned char)*q);
    int64_t exists = -1;
    int rc = query_int(c,
                       "SELECT 1 FROM pg_views WHERE schemaname = current_schema() AND "
                       "viewname = $1",
                       name, &exists);
    if (rc || exists != 1)
        return rc; /* not created: in the report's skipped */
    if (pgb_sql_reads_clock(o->sql)) {
        pgb_report_warn(rep, "view %s was not verified: it reads the clock ('now')", name);
        return 0;
    }
    pgb_buf lite = {0}, pg = {0};
    pgb_buf_puts(&lite, "SELECT * FROM ");
    lite_ident(&lite, o->name);
    pgb_buf_puts(&pg, "SELECT * FROM ");
    pgb_buf_ident(&pg, name);
    int same = 1;
    sqlite3_stmt *probe = NULL;
    if (lite.oom || pg.oom) {
        rc = pgb_fail(PGBOOT_ENOMEM, "out of memory");
    } else if (sqlite3_prepare_v2(p->src->db, lite.s, -1, &probe, NULL) != SQLITE_OK) {
        /* a view SQLite itself cannot read (a module it lacks): nothing
         * to compare with */
        pgb_report_warn(rep, "view %s was not verified: SQLite cannot read it (%s)", name,
                        sqlite3_errmsg(p->src->db));
    } else
        rc = pgb_verify_query(p->src->db, lite.s, c, pg.s, NULL, 0, &same);
    sqlite3_finalize(probe);
    pgb_buf_free(&lite);
    pgb_buf_free(&pg);
    if (rc == 0 && !same) {
        rc = pgb_fail(PGBOOT_ERROR,
                      "verification failed: the rows of view %s in PostgreSQL differ from those "
                      "of view %s in %s; nothing was committed",
                      name, o->name, source);
        pgb_hint("its translation (in the report's ddl) does not give what SQLite gives: "
                 "please report this with the report file (it is a pgboot bug); --verify counts "
                 "migrates without comparing values");
        *differs = 1;
    }
    return rc;
}

int pgb_record_verify_exprs(PGconn *c, pgb_plan *p, const char *source, pgb_report *rep,
                            int *differs)
{
    int rc = 0;
    for (int i = 0; i < p->ntables && rc == 0; i++)
        rc = verify_generated(c, p, &p->tables[i], source, rep, differs);
    int64_t rejected = 0;
    for (int i = 0; i < p->ntables; i++)
        rejected += p->tables[i].rejected;
    for (int i = 0; i < p->src->nothers && rc == 0; i++) {
        if (p->src->others[i].kind != PGB_SRC_VIEW)
            continue;
        if (rejected)
            pgb_report_warn(rep,
                            "view %s was not verified: rows were rejected, so the two sides "
                            "hold different rows",
                            p->src->others[i].name);
        else
            rc = verify_view(c, p, &p->src->others[i], source, rep, differs);
    }
    return rc;
}
