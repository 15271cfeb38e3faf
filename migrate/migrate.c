/* Migrating a legacy SQLite database into PostgreSQL: pgboot_migrate runs
 * the phases below over one migration context, then one cleanup.
 *
 * 1. Read (source.c): open the file read-only, one read transaction.
 * 2. Plan (plan.c): names, and one scan of every table to choose every
 *    column's type. Values that cannot be stored exactly stop a strict
 *    migration before anything is written, listing up to 20 cells.
 * 3. Check the target (record.c): the role's privileges, a record of an
 *    earlier migration, the tables that exist already.
 * 4. Write (ddl.c, copy.c): tables; rows by COPY; then keys, indexes,
 *    identity positions, defaults, CHECKs, foreign keys, views and full-text
 *    search, each in a savepoint so that what PostgreSQL refuses is reported
 *    by name. A small database goes in one transaction (tables created in it
 *    also let PostgreSQL skip WAL at wal_level=minimal); one with a big
 *    table loads through a staging schema over two connections and is moved
 *    into place by the final transaction (staging.c). Either way a crash
 *    leaves the target as it was, but for the staging schema that the next
 *    run removes.
 * 5. Verify before commit (record.c): row counts, and with --verify full a
 *    digest of every value read back. Record the migration in
 *    pgboot.migrations, write the report (report.c), commit.
 *
 * Beside them, two threads read the whole file: its SHA-256 (for the record)
 * and SQLite's quick_check. They run on spare CPU only (gate.h): while a
 * staged load and its index builds keep every core busy they wait, and run
 * where the server leaves a core free.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "../platform/dynload.h"
#include "copy.h"
#include "migrate.h"
#include "ddl.h"
#include "plan.h"
#include "record.h"
#include "report.h"
#include "gate.h"
#include "sha256.h"
#include "source.h"
#include "porter.h"
#include "staging.h"
#include "target.h"

/* ---- the source file --------------------------------------------------------- */

/* The source file's SHA-256, on a thread of its own (it reads the whole
 * file while the tables are read and loaded): started by sha_start, its
 * result taken by sha_join when something needs it (a record in the
 * target to compare with, the report). */
typedef struct {
    const char *path;
    pgb_gate *gate; /* passed between reads */
    pthread_t thread;
    int started, err; /* err: an errno value, or -1 for out of memory */
    int64_t size;
    char hex[65];
} file_hash;

static void *sha_thread(void *arg)
{
    file_hash *fh = arg;
    int fd = open(fh->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fh->err = errno;
        return NULL;
    }
    pgb_sha256 st;
    pgb_sha256_init(&st, 0);
    unsigned char *buf = malloc(1 << 20);
    int64_t total = 0;
    ssize_t n = 0;
    int cancelled = 0;
    while (buf && !(cancelled = pgb_gate_pass(fh->gate) != 0) && (n = read(fd, buf, 1 << 20)) > 0) {
        pgb_sha256_update(&st, buf, (size_t)n);
        total += n;
    }
    fh->err = !buf ? -1 : n < 0 ? errno : cancelled ? ECANCELED : 0;
    close(fd);
    free(buf);
    unsigned char d[32];
    pgb_sha256_final(&st, d);
    pgb_hex(fh->hex, d, 32);
    fh->size = total;
    return NULL;
}

/* The thread's own start: joined late, it must not slow the load. */
static void *sha_thread_low(void *arg)
{
    pgb_thread_background();
    pthread_setname_np(pthread_self(), "pgb-sha256"); /* in top -H, ps -L */
    return sha_thread(arg);
}

static void sha_start(file_hash *fh, const char *path, pgb_gate *gate)
{
    memset(fh, 0, sizeof *fh);
    fh->path = path;
    fh->gate = gate;
    if (pthread_create(&fh->thread, NULL, sha_thread_low, fh) == 0)
        fh->started = 1;
    else /* in place, at the migration's own priority */
        sha_thread(fh);
}

static int sha_join(file_hash *fh, char hex[65], int64_t *size)
{
    if (fh->started)
        pthread_join(fh->thread, NULL);
    fh->started = 0;
    if (fh->err == -1)
        return pgb_fail(PGBOOT_ENOMEM, "out of memory");
    if (fh->err)
        return pgb_fail(PGBOOT_ERROR, "cannot read %s: %s", fh->path, strerror(fh->err));
    memcpy(hex, fh->hex, 65);
    *size = fh->size;
    return 0;
}

/* ---- the migration -------------------------------------------------------------- */

/* Where the rows go: one of pgboot's own servers (options.server), or a URL
 * the user gave. */
typedef struct {
    const char *url; /* NULL or "": none (a dry run) */
    pgb_pq_whose whose;
} target;

static int check_options(const pgboot_migrate_options *o, target *to)
{
    if (!o->sqlite_path || !*o->sqlite_path)
        return pgb_fail(PGBOOT_EINVALID, "no SQLite database given (--sqlite PATH)");
    if (!o->dry_run && (!to->url || !*to->url))
        return pgb_fail(PGBOOT_EINVALID, "no target given (--app NAME or --to URL)");
    if ((o->skip_tables || o->replace_tables || o->existing_rows) && !o->schema_file &&
        !o->data_only)
        return pgb_fail(PGBOOT_EINVALID, "skip_tables, replace_tables and existing_rows are for "
                                         "a migration into the app's own schema (schema_file or "
                                         "data_only)");
    if (o->version >= 4 && o->drop_columns && !o->schema_file && !o->data_only)
        return pgb_fail(PGBOOT_EINVALID, "drop_columns is for a migration into the app's own "
                                         "schema (schema_file or data_only)");
    if (o->on_error == PGBOOT_ON_ERROR_REJECT && !o->report_dir && !o->dry_run)
        return pgb_fail(PGBOOT_EINVALID, "--on-error reject needs a report directory for the "
                                         "rejected rows");
    return 0;
}

static void now_iso(char *buf, size_t cap)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* One migration, handed from phase to phase (as pg_ctl's do_start hands on
 * to start_postmaster and wait_for_postmaster_start); migration_end is the
 * one cleanup. */
typedef struct {
    const pgboot_migrate_options *o;
    target to;
    pgboot_migration *m; /* the result */
    pgb_report rep;
    uint64_t t0;
    char started[32];
    file_hash fh; /* the source file's SHA-256, computed meanwhile */
    /* fh and SQLite's quick_check run on spare CPU (gate.h) */
    pgb_gate gate;
    char sha[65];
    int64_t size;
    pgb_src_db src;
    pgb_plan p;
    pgb_buf ddl; /* every statement, for the report and --dry-run */
    PGconn *c;   /* the final transaction's connection */
    int in_txn;
    /* The migration ends here, and its report is still made: done already,
     * values that cannot be stored, a digest that differs. */
    int stop;
    int staging;     /* the plan wants a staged load (see pgb_staging_wanted) */
    int staged;      /* and the target allowed it: the workers are open */
    int connections; /* over how many the rows went in */
    PGconn *workers[PGB_STAGING_WORKERS];
    int nworkers;
    char **create_sql; /* staged: each table's CREATE TABLE, run by a worker */
    int porter_staged; /* staged: what of pgboot_porter is in the staging schema (porter.h) */
    pgb_ahead ahead;
    /* Into the app's own schema: the load order, what becomes of its
     * tables that hold rows, its sequences (target.c); tg.order is NULL
     * otherwise. */
    pgb_target tg;
    /* The big tables' types from their first rows, their scan finished by
     * their load (pgb_pass); respec: they did not hold, start over without. */
    int speculate, respec;
    int restarted; /* this is the second attempt, after respec */
    /* Between the attempts, the first one's connection, its lock on the
     * target held (see pgb_migrate_run): taken by the second, or NULL. */
    PGconn **held;
} migration;

static int begin(migration *mg)
{
    int rc = pgb_pq_exec(mg->c, "BEGIN", "cannot begin");
    if (rc == 0)
        mg->in_txn = 1;
    return rc;
}

/* The source: read-only, in one read transaction; its schema read while a
 * thread hashes the file. */
static int open_source(migration *mg)
{
    int rc = pgb_src_open(&mg->src, mg->o->sqlite_path, &mg->gate);
    if (rc)
        return rc;
    sha_start(&mg->fh, mg->o->sqlite_path, &mg->gate);
    if ((rc = pgb_src_introspect(&mg->src)) != 0)
        return rc;
    for (int i = 0; i < mg->src.nskipped; i++) {
        const char *skipped = mg->src.skipped[i];
        const char *colon = strchr(skipped, ':');
        char name[256];
        snprintf(name, sizeof name, "%.*s", colon ? (int)(colon - skipped) : 255, skipped);
        pgb_report_skip(&mg->rep, "table", name, colon ? colon + 2 : "internal");
    }
    return 0;
}

/* The plan: every column's type from one scan of the values. */
static int plan_tables(migration *mg)
{
    const pgboot_migrate_options *o = mg->o;
    pgb_value_opts values = {0};
    if (o->version >= 3) { /* the fields of version 3 */
        values.round_timestamps = o->round_timestamps;
        values.zero_dates = o->zero_dates;
    }
    /* A big table's types from its first rows (its load reads the rest;
     * run() starts over should they not hold): not in a dry run, which
     * shows the types of every row, nor into the app's own schema, whose
     * tables have their types; with one core, nothing would overlap. */
    int64_t prefix = mg->speculate && !o->dry_run && !o->schema_file && !o->data_only &&
                             sysconf(_SC_NPROCESSORS_ONLN) >= 2
                         ? PGB_STAGING_SPLIT_ROWS
                         : 0;
    int rc =
        pgb_plan_make(&mg->p, &mg->src, o->preserve_case, o->epoch_as_timestamp, o->detect_json,
                      o->on_error, o->schema_file || o->data_only, &values, prefix);
    if (rc)
        return rc;
    if ((rc = pgb_ddl_generated_columns(&mg->p, &mg->rep)) != 0)
        return rc;
    json_object_set_new(mg->rep.root, "on_error",
                        json_string(o->on_error == PGBOOT_ON_ERROR_WIDEN    ? "widen"
                                    : o->on_error == PGBOOT_ON_ERROR_REJECT ? "reject"
                                                                            : "strict"));
    return 0;
}

/* The source's hash, once: for the record and the report. */
static int source_hash(migration *mg)
{
    if (mg->sha[0])
        return 0;
    pgb_gate_set(&mg->gate, PGB_GATE_OPEN); /* whoever waits opens */
    int rc = sha_join(&mg->fh, mg->sha, &mg->size);
    if (rc == 0)
        json_object_set_new(mg->rep.root, "source",
                            json_pack("{s:s, s:I, s:s}", "path", mg->o->sqlite_path, "size",
                                      (json_int_t)mg->size, "sha256", mg->sha));
    return rc;
}

/* Was this file, or another, migrated into the target already? (Only a
 * target that holds a record waits for the source's hash.) */
static int check_recorded(migration *mg)
{
    char *last = NULL, *when = NULL;
    int rc = pgb_record_find(mg->c, &last, &when);
    if (rc == 0 && last && !mg->o->force)
        rc = source_hash(mg);
    int same = rc == 0 && last && !strcmp(last, mg->sha), other = rc == 0 && last && !same;
    free(last);
    if (rc == 0 && (same || other) && !mg->o->force) {
        if (same) {
            mg->m->already_done = 1;
            json_object_set_new(mg->rep.root, "already_done", json_true());
            mg->stop = 1;
        } else {
            rc = pgb_fail(PGBOOT_EINVALID, "the target already holds a migration (of %s)",
                          when ? when : "another file");
            if (mg->o->schema_file || mg->o->data_only)
                pgb_hint("--force migrates again (with --existing-rows replace, its rows "
                         "replace the earlier ones); nothing was written");
            else
                pgb_hint("--force migrates again (into tables that are empty, or with "
                         "--replace); nothing was written");
        }
    }
    free(when);
    return rc;
}

/* The target (none in a dry run without one): connected, locked against a
 * second migration into the same database, and asked for its record. */
static int connect_target(migration *mg)
{
    if (!mg->to.url || !*mg->to.url)
        return 0;
    if (mg->c) { /* the first attempt's, locked still: no other migration came between */
        pgb_set_session(mg->c);
        return check_recorded(mg);
    }
    int rc = pgb_pq_open(&mg->c, mg->to.whose, mg->to.url, NULL, NULL);
    if (rc)
        return rc;
    if (PQstatus(mg->c) != CONNECTION_OK) {
        const char *m = PQerrorMessage(mg->c);
        pgb_pq_refusal why = pgb_pq_refusal_of(m);
        rc = pgb_fail(why == PGB_PQ_LOGIN || why == PGB_PQ_NO_SUCH ? PGBOOT_ELOGIN : PGBOOT_ERROR,
                      "cannot connect to the target database: %s", m ? m : "");
        if (why == PGB_PQ_BAD_PARAM)
            pgb_hint("check the URL's parameters (libpq names the one it does not take); "
                     "nothing was written");
        else if (why == PGB_PQ_LOGIN)
            pgb_hint("check the URL's user and password ('pgboot url --app NAME' prints the "
                     "URL of an app's server); nothing was written");
        else if (why == PGB_PQ_NO_SUCH)
            pgb_hint("check the URL's user and database: pgboot migrates into a database that "
                     "exists (CREATE DATABASE, or --app NAME for an app's own); nothing was "
                     "written");
        else if (why == PGB_PQ_FULL)
            pgb_hint("the server has no connection slot left: close some, or raise "
                     "max_connections; nothing was written");
        else
            pgb_hint("start the server ('pgboot start --app NAME' for an app's server; 'pgboot "
                     "status --app NAME' tells whether it runs), or check the URL's host and "
                     "port; nothing was written");
        return rc;
    }
    if (PQserverVersion(mg->c) < 130000)
        return pgb_fail(PGBOOT_EINVALID,
                        "the target runs PostgreSQL %d; pgboot migrates into "
                        "PostgreSQL 13 or later",
                        PQserverVersion(mg->c) / 10000);
    /* SQLite's text is UTF-8: a database of another encoding could not
     * store every value as it is (SQL_ASCII would store bytes unchecked). */
    const char *enc = PQparameterStatus(mg->c, "server_encoding");
    if (enc && strcmp(enc, "UTF8") != 0) {
        rc = pgb_fail(PGBOOT_EINVALID,
                      "the target database %s is encoded %s; pgboot migrates only into UTF8 "
                      "databases (SQLite's text is UTF-8); nothing was written",
                      PQdb(mg->c), enc);
        pgb_hint("migrate into a UTF8 database: a new cluster with --encoding UTF8 (the "
                 "default) and another --data-dir or --app, or --to the URL of one");
        return rc;
    }
    pgb_set_session(mg->c);
    /* One migration into a database at a time: a second waits, then finds
     * the first one's record. */
    if (!mg->o->dry_run && (rc = pgb_pq_exec(mg->c, "SELECT pg_advisory_lock(7370636900001)",
                                             "cannot lock the target")))
        return rc;
    return check_recorded(mg);
}

/* The first statement of sql that begins or ends a transaction (BEGIN,
 * START, COMMIT, END, ROLLBACK but ROLLBACK TO, ABORT): its word, and its
 * line in *line; NULL if none. Strings, quoted names, comments, dollar
 * quotes and the bodies of BEGIN ATOMIC ... END are skipped. */
static const char *txn_statement(const char *sql, int *line, char *word, size_t cap)
{
    static const char *const ends[] = {"begin", "start", "commit", "end", "rollback", "abort"};
    const char *p = sql;
    int ln = 1, at_start = 1, atomic = 0;
    char prev[16] = "";
    while (*p) {
        if (*p == '\n') {
            ln++;
            p++;
        } else if (p[0] == '-' && p[1] == '-') {
            while (*p && *p != '\n')
                p++;
        } else if (p[0] == '/' && p[1] == '*') {
            int depth = 0;
            do {
                if (p[0] == '/' && p[1] == '*')
                    depth++, p++;
                else if (p[0] == '*' && p[1] == '/')
                    depth--, p++;
                else if (*p == '\n')
                    ln++;
                p++;
            } while (*p && depth > 0);
        } else if (*p == '\'' || *p == '"') {
            char q = *p;
            int esc = q == '\'' && p > sql && (p[-1] == 'E' || p[-1] == 'e');
            for (p++; *p; p++) {
                if (*p == '\n')
                    ln++;
                if (esc && *p == '\\' && p[1])
                    p++;
                else if (*p == q && p[1] == q)
                    p++;
                else if (*p == q)
                    break;
            }
            if (*p)
                p++;
            at_start = 0;
        } else if (*p == '$' && (p[1] == '$' || isalpha((unsigned char)p[1]) || p[1] == '_')) {
            const char *t = p + 1;
            while (isalnum((unsigned char)*t) || *t == '_')
                t++;
            if (*t != '$') {
                p++;
                continue;
            }
            size_t tl = (size_t)(t - p + 1);
            const char *e;
            for (e = t + 1; *e && strncmp(e, p, tl) != 0; e++)
                if (*e == '\n')
                    ln++;
            p = *e ? e + tl : e;
            at_start = 0;
        } else if (*p == ';') {
            if (!atomic)
                at_start = 1;
            p++;
        } else if (isalpha((unsigned char)*p) || *p == '_') {
            char w[16];
            size_t n = 0;
            while (isalnum((unsigned char)*p) || *p == '_' || *p == '$') {
                if (n + 1 < sizeof w)
                    w[n++] = (char)tolower((unsigned char)*p);
                p++;
            }
            w[n] = '\0';
            if (at_start && !atomic) {
                for (size_t i = 0; i < sizeof ends / sizeof *ends; i++)
                    if (!strcmp(w, ends[i])) {
                        const char *q = p;
                        while (isspace((unsigned char)*q))
                            q++;
                        if (!strcmp(w, "rollback") && !strncasecmp(q, "to", 2) &&
                            !isalnum((unsigned char)q[2]))
                            break;
                        snprintf(word, cap, "%s", w);
                        *line = ln;
                        return word;
                    }
            }
            if (!strcmp(w, "atomic") && !strcmp(prev, "begin"))
                atomic++;
            else if (atomic && !strcmp(w, "case"))
                atomic++;
            else if (atomic && !strcmp(w, "end"))
                atomic--;
            snprintf(prev, sizeof prev, "%s", w);
            at_start = 0;
        } else {
            if (!isspace((unsigned char)*p))
                at_start = 0;
            p++;
        }
    }
    return NULL;
}

static int run_schema_file(PGconn *c, const char *path)
{
    char *schema = NULL;
    int rc = pgb_read_file(path, &schema, NULL, 64u << 20);
    if (rc)
        return rc;
    char word[16];
    int line = 0;
    if (txn_statement(schema, &line, word, sizeof word)) {
        free(schema);
        for (char *q = word; *q; q++)
            *q = (char)toupper((unsigned char)*q);
        rc = pgb_fail(PGBOOT_EINVALID,
                      "the schema %s controls transactions (%s at line %d); pgboot runs it "
                      "inside the migration's own transaction, so that a failure leaves the "
                      "target as it was; nothing was written",
                      path, word, line);
        pgb_hint("remove its BEGIN and COMMIT (in a copy of the file)");
        return rc;
    }
    /* as psql runs it: pg_dump's \restrict lines and COPY ... FROM stdin
     * included; a failure names the line */
    rc = pgb_pq_run_script_txn(c, schema, strlen(schema), path);
    free(schema);
    return rc;
}

/* After the schema file: the session's settings are ours again (a file
 * made by pg_dump sets the search_path to '' and others), so the target's
 * tables are found where the file made them and values read as we send
 * them. */
static int restore_session(PGconn *c)
{
    pgb_set_session(c);
    PGresult *r = PQexec(c, "SELECT current_schema() IS NULL");
    int none = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
               !strcmp(PQgetvalue(r, 0, 0), "t");
    PQclear(r);
    return none ? pgb_pq_exec(c, "RESET search_path", "cannot reset the search_path") : 0;
}

/* Before anything is written: may the role record the migration; what a
 * crashed staged run left behind; the transaction (a staged load begins
 * it later); --schema; the tables that exist already. */
static int prepare_target(migration *mg)
{
    const pgboot_migrate_options *o = mg->o;
    int rc;
    if (!o->dry_run && (rc = pgb_record_check_role(mg->c, !o->schema_file && !o->data_only)) != 0)
        return rc;
    /* A dry run goes on (its DDL is for a role that may run it, say the
     * database's owner) but says what would stop this role's migration. */
    if (o->dry_run && mg->c &&
        pgb_record_check_role(mg->c, !o->schema_file && !o->data_only) != 0) {
        char why[PGB_ERROR_MSG_MAX];
        snprintf(why, sizeof why, "%s", pgboot_error_last());
        size_t n = strlen(why);
        const char *tail = "; nothing was written";
        if (n >= strlen(tail) && !strcmp(why + n - strlen(tail), tail))
            why[n - strlen(tail)] = '\0';
        const char *hint = pgboot_error_hint();
        pgb_report_warn(&mg->rep, "this role's migration would stop before writing: %s%s%s%s", why,
                        hint ? " (" : "", hint ? hint : "", hint ? ")" : "");
        pgb_error_reset();
    }
    /* See staging_open; should this fail, creating the staging schema
     * again says why. */
    if (!o->dry_run && pgb_staging_drop(mg->c) != 0)
        pgb_error_reset();
    mg->staging = pgb_staging_wanted(&mg->p, o);
    /* A dry run into the app's own schema checks against it too: the
     * schema file runs, and the target's types, rows and keys are read, in
     * a transaction that is rolled back. */
    if (o->dry_run && (!mg->c || (!o->schema_file && !o->data_only)))
        return 0;
    if (!mg->staging && (rc = begin(mg)) != 0)
        return rc;
    if (o->schema_file && (rc = run_schema_file(mg->c, o->schema_file)) != 0)
        return rc;
    if (o->schema_file && (rc = restore_session(mg->c)) != 0)
        return rc;
    if (!o->schema_file && !o->data_only)
        return pgb_record_check_tables(mg->c, &mg->p, o, !mg->staging);
    if ((rc = pgb_target_names(&mg->tg, &mg->p, o)) != 0 ||
        (rc = pgb_ddl_adopt_target_types(mg->c, &mg->p, &mg->rep, mg->tg.skipped,
                                         o->version >= 4 ? o->drop_columns : NULL)) != 0)
        return rc;
    pgb_plan_recount(&mg->p);
    return pgb_target_read(&mg->tg, mg->c, o, &mg->rep);
}

/* The options that would load the bad values of the plan (timestamps past
 * microseconds, zero dates), for the hint: "" if none. */
static void value_options_hint(const pgb_plan *p, char *out, size_t cap)
{
    int64_t lost = 0, zero = 0, zero_notnull = 0;
    for (int i = 0; i < p->ntables; i++)
        for (int j = 0; j < p->tables[i].ncols; j++) {
            const pgb_plan_col *c = &p->tables[i].cols[j];
            if (!c->n_bad ||
                (c->kind != PGB_K_TS && c->kind != PGB_K_TSTZ && c->kind != PGB_K_DATE))
                continue;
            if (c->kind != PGB_K_DATE && !c->round_ts)
                lost += c->st.n_text_frac_lost;
            if (c->zero_dates == PGBOOT_ZERO_DATES_REFUSE)
                zero += c->st.n_text_zero_date;
            else if (c->zero_dates == PGBOOT_ZERO_DATES_NULL && c->notnull)
                zero_notnull += c->st.n_text_zero_date;
        }
    snprintf(out, cap, "%s%s%s",
             lost ? "--round-timestamps rounds timestamps to microseconds (and counts them in "
                    "the report); "
                  : "",
             zero ? "--zero-dates infinity loads zero dates as -infinity (--zero-dates null: as "
                    "NULL where the column allows it); "
                  : "",
             zero_notnull ? "--zero-dates infinity loads zero dates of NOT NULL columns as "
                            "-infinity; "
                          : "");
}

/* Infinity in a numeric column: PostgreSQL's numeric holds it from version
 * 14 on; into an older server the COPY would fail, so say so first. */
static int stop_on_infinity_before_14(migration *mg)
{
    if (!mg->c || PQserverVersion(mg->c) >= 140000)
        return 0;
    for (int i = 0; i < mg->p.ntables; i++)
        for (int j = 0; j < mg->p.tables[i].ncols; j++) {
            pgb_plan_table *t = &mg->p.tables[i];
            pgb_plan_col *c = &t->cols[j];
            if (c->kind != PGB_K_NUMERIC || c->generated ||
                !(c->st.n_real_nonfinite + c->st.n_text_inf))
                continue;
            int rc = pgb_fail(PGBOOT_EINVALID,
                              "column %s.%s of %s holds Infinity or -Infinity, which numeric "
                              "holds only from PostgreSQL 14 on (the target runs %d); nothing "
                              "was written",
                              t->src->name, t->src->cols[c->src].name, mg->o->sqlite_path,
                              PQserverVersion(mg->c) / 10000);
            pgb_hint("migrate into PostgreSQL 14 or later (pgboot's own server runs 16)");
            mg->stop = 1;
            return rc;
        }
    return 0;
}

/* Strict: a zero date as the default of a date or timestamp column (the
 * app's inserts would get another value) stops us too, unless --zero-dates
 * says what it becomes. */
static int stop_on_zero_defaults(migration *mg)
{
    for (int i = 0; i < mg->p.ntables; i++)
        for (int j = 0; j < mg->p.tables[i].ncols; j++) {
            pgb_plan_table *t = &mg->p.tables[i];
            pgb_plan_col *c = &t->cols[j];
            if (!pgb_plan_zero_default(t, c) || c->zero_dates == PGBOOT_ZERO_DATES_INFINITY ||
                (c->zero_dates == PGBOOT_ZERO_DATES_NULL && !c->notnull))
                continue;
            const pgb_src_col *sc = &t->src->cols[c->src];
            int rc = pgb_fail(PGBOOT_EINVALID,
                              "column %s.%s of %s has DEFAULT %s, a zero date PostgreSQL cannot "
                              "store (%s); nothing was written",
                              t->src->name, sc->name, mg->o->sqlite_path, sc->dflt,
                              c->notnull ? "the column is NOT NULL" : "no such date");
            pgb_hint("--zero-dates infinity makes zero dates (values and defaults) -infinity, "
                     "which NOT NULL columns accept%s",
                     c->notnull ? "" : "; --zero-dates null makes them NULL");
            mg->stop = 1;
            return rc;
        }
    return 0;
}

/* Values that cannot be stored exactly stop us here: under strict, and
 * under widen those that no type holds (numbers beside blobs; into the
 * target's own tables, whose types widen does not change, every one). */
static int stop_checks(migration *mg)
{
    const pgboot_migrate_options *o = mg->o;
    if (o->on_error == PGBOOT_ON_ERROR_REJECT)
        return stop_on_infinity_before_14(mg);
    json_t *problems = json_array();
    pgb_buf msg = {0};
    int total = pgb_report_bad_cells(&mg->p, problems, &msg);
    int widen = o->on_error == PGBOOT_ON_ERROR_WIDEN;
    int existing = o->schema_file || o->data_only;
    int rc = 0;
    if (total > 0) {
        json_object_set_new(mg->rep.root, "bad_values", problems);
        const char *where = !existing
                                ? (widen ? " by any type (numbers beside blobs in one column)" : "")
                            : widen ? " in the target's columns (--on-error widen changes no "
                                      "column of the target's own tables)"
                                    : " in the target's columns";
        rc = pgb_fail(PGBOOT_EINVALID,
                      "%d values in %s cannot be stored exactly%s; nothing was written: %s", total,
                      o->sqlite_path, where, msg.s ? msg.s : "");
        char opts[400];
        value_options_hint(&mg->p, opts, sizeof opts);
        if (widen || existing)
            pgb_hint("%s--on-error reject sets their rows aside in rejects/<table>.jsonl", opts);
        else
            pgb_hint("%s--on-error widen gives such columns a type that holds every value; "
                     "--on-error reject sets their rows aside in rejects/<table>.jsonl",
                     opts);
        mg->stop = 1; /* the transaction, if begun, is rolled back */
    } else {
        json_decref(problems);
    }
    pgb_buf_free(&msg);
    if (rc == 0 && !existing && o->on_error == PGBOOT_ON_ERROR_STRICT)
        rc = stop_on_zero_defaults(mg);
    if (rc == 0)
        rc = stop_on_infinity_before_14(mg);
    return rc;
}

/* The stops above, before anything is written. A big table's types from
 * its first rows decide one only if its whole scan agrees (a later value
 * may make a column text, where a zero date DEFAULT no longer matters, or
 * be one more value that cannot be stored): on a stop, every such table is
 * read whole, and if one's types do not hold, the migration starts over. */
static int stop_on_bad_values(migration *mg)
{
    int rc = stop_checks(mg);
    if (!mg->stop)
        return rc;
    for (int i = 0; i < mg->p.ntables; i++)
        if (!pgb_pass_verdict(&mg->p, &mg->p.tables[i]))
            mg->respec = 1;
    if (mg->respec)
        mg->stop = 0; /* the error stays; run() starts over */
    return rc;
}

/* Generated columns PostgreSQL refuses for the chosen types become plain
 * ones (pgb_ddl_probe_generated), before anything is written; tried in a
 * transaction of their own when none is open yet, rolled back. */
static int probe_generated(migration *mg)
{
    const pgboot_migrate_options *o = mg->o;
    if (!mg->c || o->schema_file || o->data_only)
        return 0;
    int begun = !mg->in_txn, rc = 0, respec = 0;
    if (begun && (rc = pgb_pq_exec(mg->c, "BEGIN", "cannot begin")) != 0)
        return rc;
    rc = pgb_ddl_probe_generated(mg->c, &mg->p, &mg->rep, &respec);
    if (begun) {
        PGresult *r = PQexec(mg->c, "ROLLBACK");
        PQclear(r);
    }
    mg->respec |= respec;
    return rc;
}

/* A staged load's workers; without them, one transaction on one
 * connection. */
static int open_staging(migration *mg)
{
    mg->staged = pgb_staging_open(mg->c, mg->to.whose, mg->to.url, mg->workers, &mg->nworkers) == 0;
    mg->connections = mg->staged ? mg->nworkers : 1;
    if (!mg->staged) {
        int rc = begin(mg);
        return rc ? rc : pgb_record_check_tables(mg->c, &mg->p, mg->o, 1);
    }
    if (!(mg->create_sql = calloc((size_t)mg->p.ntables + 1, sizeof *mg->create_sql)))
        return pgb_fail(PGBOOT_ENOMEM, "out of memory");
    return 0;
}

/* CREATE TABLE: here, or (staged) by a worker just before the table's
 * rows. */
static int create_tables(migration *mg)
{
    int rc;
    if (mg->staging && (rc = open_staging(mg)) != 0)
        return rc;
    if (mg->o->schema_file || mg->o->data_only)
        return 0;
    /* The configuration of tokenize=porter, before the tables that use it:
     * staged, committed in the staging schema, so that the workers see it */
    if (pgb_ddl_fts_porter_wanted(&mg->p)) {
        rc = 0;
        if (mg->o->dry_run)
            pgb_porter_ddl(&mg->ddl);
        else if (mg->staged)
            rc = pgb_porter_stage(mg->c, mg->workers, mg->nworkers, &mg->ddl, &mg->porter_staged);
        else
            rc = pgb_porter_ensure(mg->c, &mg->ddl);
        if (rc)
            return rc;
    }
    for (int i = 0; i < mg->p.ntables; i++) {
        pgb_buf sql = {0};
        pgb_ddl_table(&sql, &mg->p, &mg->p.tables[i]);
        if (sql.oom) {
            pgb_buf_free(&sql);
            return pgb_fail(PGBOOT_ENOMEM, "out of memory");
        }
        pgb_ddl_add(&mg->ddl, sql.s);
        rc = 0;
        if (mg->staged) {
            mg->create_sql[i] = sql.s;
            continue;
        }
        if (!mg->o->dry_run) {
            char what[300];
            snprintf(what, sizeof what, "cannot create table %s", mg->p.tables[i].name);
            rc = pgb_pq_exec(mg->c, sql.s, what);
            /* perhaps refused for the types of its first rows */
            if (rc && !pgb_pass_verdict(&mg->p, &mg->p.tables[i]))
                mg->respec = 1;
        }
        pgb_buf_free(&sql);
        if (rc)
            return rc;
    }
    return 0;
}

/* The rows, by COPY (staged: over the workers). */
static int load_rows(migration *mg)
{
    const pgboot_migrate_options *o = mg->o;
    if (o->dry_run)
        return 0;
    pgb_load L = {.conn = mg->c,
                  .src = &mg->src,
                  .plan = &mg->p,
                  .policy = o->on_error,
                  .verify_full = o->verify == PGBOOT_VERIFY_FULL,
                  .progress = o->progress,
                  .progress_payload = o->progress_payload};
    char *rejects = o->report_dir ? pgb_path_join(o->report_dir, "rejects") : NULL;
    L.rejects_dir = rejects;
    for (int i = 0; i < mg->p.ntables; i++)
        L.rows_total += (uint64_t)mg->p.tables[i].rows;
    if (mg->staged) {
        L.conn = mg->workers[0];
        for (int i = 1; i < mg->nworkers; i++)
            L.helpers[L.nhelpers++] = mg->workers[i];
        L.split_rows = PGB_STAGING_SPLIT_ROWS;
    }
    int rc = 0;
    if (mg->tg.order) { /* into the app's own schema: parents first */
        pgb_target_hooks(&mg->tg, &L);
        rc = pgb_target_before_load(&mg->tg, mg->c, &mg->ddl);
        for (int k = 0; k < mg->p.ntables && rc == 0; k++) {
            int i = mg->tg.order[k];
            if (mg->tg.action[i] == PGB_TT_SKIP)
                continue;
            if (o->on_error == PGBOOT_ON_ERROR_REJECT)
                rc = pgb_target_find_missing(&mg->tg, mg->c, i);
            if (rc == 0)
                rc = pgb_load_table(&L, &mg->p.tables[i]);
        }
    }
    for (int i = 0; i < mg->p.ntables && rc == 0 && !mg->tg.order; i++)
        rc = mg->staged ? pgb_staging_load(&L, &mg->p.tables[i], mg->create_sql[i])
                        : pgb_load_table(&L, &mg->p.tables[i]);
    free(rejects);
    mg->respec |= L.respec;
    if (o->progress && !L.respec)
        o->progress(NULL, L.rows_done, L.rows_total, o->progress_payload);
    return rc;
}

/* Staged: the indexes built ahead on the workers (see pgb_ahead); then the
 * final transaction begins and moves the tables into the target schema. */
static int build_indexes_ahead(migration *mg)
{
    if (!mg->staged)
        return 0;
    pgb_report scratch = {json_object(), json_array(), json_array()};
    pgb_buf scratch_ddl = {0};
    pgb_emit collect = {PGB_EMIT_COLLECT, mg->c, &scratch_ddl, &scratch, 0, &mg->ahead};
    for (int i = 0; i < mg->p.ntables; i++)
        pgb_ddl_keys_and_indexes(&collect, &mg->p, &mg->p.tables[i]);
    pgb_ddl_views_and_others(&collect, &mg->p);
    json_decref(scratch.root);
    json_decref(scratch.skipped);
    json_decref(scratch.warnings);
    pgb_buf_free(&scratch_ddl);
    if (!mg->ahead.oom)
        pgb_staging_build_ahead(&mg->ahead, mg->workers, mg->nworkers);
    /* What is left runs mostly on one backend at a time (foreign keys,
     * counts): a core for the background work, without a probe. */
    pgb_gate_set(&mg->gate, PGB_GATE_OPEN);
    while (mg->nworkers > 0)
        PQfinish(mg->workers[--mg->nworkers]);
    int rc = begin(mg);
    if (rc == 0 && (rc = pgb_record_check_tables(mg->c, &mg->p, mg->o, 1)) == 0)
        rc = pgb_staging_move(mg->c, &mg->p, mg->porter_staged);
    return rc;
}

/* After the data: keys, indexes, identities, defaults, checks, foreign
 * keys, views, full-text search. */
static int finish_schema(migration *mg)
{
    const pgboot_migrate_options *o = mg->o;
    pgb_plan *p = &mg->p;
    pgb_emit e = {mg->staged ? PGB_EMIT_AHEAD_BUILT : PGB_EMIT_RUN,
                  mg->c,
                  &mg->ddl,
                  &mg->rep,
                  o->dry_run,
                  &mg->ahead};
    if (o->schema_file || o->data_only) { /* identities among the sequences */
        /* a dry run against the target (in its transaction, rolled back)
         * fills nothing, but makes pgboot_porter, or meets what stops it */
        if (o->dry_run)
            return mg->c && mg->in_txn ? pgb_ddl_fts_fill(mg->c, p, &mg->tg, &mg->ddl, &mg->rep, 1)
                                       : 0;
        int rc = pgb_ddl_fts_fill(mg->c, p, &mg->tg, &mg->ddl, &mg->rep, 0);
        return rc ? rc : pgb_target_after_load(&mg->tg, mg->c, &mg->ddl, &mg->rep);
    }
    for (int i = 0; i < p->ntables; i++) {
        pgb_ddl_keys_and_indexes(&e, p, &p->tables[i]);
        pgb_ddl_identities(&e, &p->tables[i]);
        pgb_ddl_defaults_and_checks(&e, p, &p->tables[i]);
    }
    for (int i = 0; i < p->ntables; i++)
        pgb_ddl_foreign_keys(&e, p, &p->tables[i]);
    pgb_ddl_views_and_others(&e, p);
    return 0;
}

/* Every table, then SQLite's quick_check (which ran on its own thread
 * meanwhile, and may still be finishing on a core the counts leave free).
 * A damaged file's error comes first all the same. */
static int verify_tables(migration *mg);

static int verify(migration *mg)
{
    pgb_gate_set(&mg->gate, PGB_GATE_OPEN);
    if (mg->o->dry_run)
        return pgb_src_check(&mg->src);
    int rc = verify_tables(mg);
    pgb_error_saved why;
    pgb_error_save(&why);
    int check = pgb_src_check(&mg->src);
    if (check) {
        mg->stop = 0; /* not a difference of values: the file itself */
        return check;
    }
    if (rc)
        pgb_error_restore(&why);
    return rc;
}

static int verify_tables(migration *mg)
{
    int rc = 0;
    for (int i = 0; i < mg->p.ntables; i++) {
        mg->m->rejected += (uint64_t)mg->p.tables[i].rejected;
        if (mg->tg.action && mg->tg.action[i] == PGB_TT_SKIP)
            continue; /* the target's rows, kept */
        int differs = 0;
        if ((rc = pgb_record_verify(mg->c, &mg->p.tables[i], mg->o->sqlite_path,
                                    mg->o->verify == PGBOOT_VERIFY_FULL, &differs)) != 0) {
            mg->stop = differs; /* reported */
            return rc;
        }
    }
    /* generated columns and views, where pgboot made them */
    int differs = 0;
    if (mg->o->verify == PGBOOT_VERIFY_FULL && !mg->o->schema_file && !mg->o->data_only &&
        (rc = pgb_record_verify_exprs(mg->c, &mg->p, mg->o->sqlite_path, &mg->rep, &differs)) !=
            0) {
        mg->stop = differs; /* reported */
        return rc;
    }
    json_object_set_new(mg->rep.root, "verify",
                        json_string(mg->o->verify == PGBOOT_VERIFY_FULL ? "full" : "counts"));
    return 0;
}

/* The report and the summary; then, if all went well, the record and the
 * commit. A migration that stopped with its report (rc may be an error)
 * still writes it. */
static int report_and_commit(migration *mg, int rc)
{
    const pgboot_migrate_options *o = mg->o;
    pgboot_migration *m = mg->m;
    json_t *root = mg->rep.root;
    pgb_error_saved why;
    pgb_error_save(&why);
    int hashed = source_hash(mg);
    if (rc == 0)
        rc = hashed;
    else /* the migration's own failure stays first */
        pgb_error_restore(&why);
    json_object_set_new(root, "tables", pgb_report_tables(&mg->p));
    json_object_set_new(root, "skipped", json_incref(mg->rep.skipped));
    json_object_set_new(root, "warnings", json_incref(mg->rep.warnings));
    json_object_set_new(root, "started_at", json_string(mg->started));
    json_object_set_new(root, "duration_ms", json_integer((json_int_t)(pgb_now_ms() - mg->t0)));
    json_object_set_new(root, "rejected", json_integer((json_int_t)m->rejected));
    json_object_set_new(root, "dry_run", json_boolean(o->dry_run));
    /* how the rows went in: over how many connections, through the staging
     * schema or not */
    json_object_set_new(root, "load",
                        json_pack("{s:i, s:b, s:b}", "connections", mg->connections, "staged",
                                  mg->staged, "restarted", mg->restarted));
    if (!json_object_get(root, "already_done"))
        json_object_set_new(root, "already_done", json_false());
    json_object_set_new(root, "pgboot_version", json_string(PGBOOT_VERSION_STRING));
    m->report = json_dumps(root, JSON_INDENT(2));
    m->summary = m->already_done
                     ? pgb_printf("%s was migrated into this database already; nothing to do\n",
                                  o->sqlite_path)
                     : pgb_report_summary(&mg->p, &mg->rep, (int64_t)(pgb_now_ms() - mg->t0),
                                          o->verify == PGBOOT_VERIFY_FULL, o->dry_run, m->rejected);
    m->ddl = mg->ddl.s ? pgb_strdup(mg->ddl.s) : pgb_strdup("");
    if (rc == 0 && mg->in_txn && !m->already_done && !o->dry_run) {
        if ((rc = pgb_record(mg->c, o, mg->sha, mg->size, mg->started, m->report)) == 0 &&
            (rc = pgb_pq_exec(mg->c, "COMMIT", "cannot commit the migration")) == 0)
            mg->in_txn = 0;
    }
    if (o->report_path && m->report && !o->dry_run) {
        /* A failed migration still writes its report; should that fail too,
         * the migration's own failure stays first. */
        pgb_error_saved failure;
        pgb_error_save(&failure);
        int wrc = pgb_report_write(o->report_path, m->report);
        if (rc == 0)
            rc = wrc;
        else
            pgb_error_restore(&failure);
    }
    return rc;
}

/* The one cleanup. It must not hide why we got here (a server that died
 * fails the cleanup too): its failures go after the first. */
static int migration_end(migration *mg, int rc, pgboot_migration **out)
{
    pgb_error_saved first;
    pgb_error_save(&first);
    /* the background work, if still running, is of no use now */
    pgb_gate_set(&mg->gate, PGB_GATE_CANCELLED);
    if (mg->in_txn && mg->c) {
        PGresult *r = PQexec(mg->c, "ROLLBACK");
        PQclear(r);
    }
    while (mg->nworkers > 0)
        PQfinish(mg->workers[--mg->nworkers]);
    if (mg->staged && (rc != 0 || mg->respec) && mg->c) /* nothing of it stays */
        (void)pgb_staging_drop(mg->c);
    if (rc != 0)
        pgb_error_restore(&first);
    pgb_ahead_free(&mg->ahead);
    pgb_target_free(&mg->tg);
    if (mg->create_sql)
        for (int i = 0; i < mg->p.ntables; i++)
            free(mg->create_sql[i]);
    free(mg->create_sql);
    /* Starting over: the connection, and with it the lock, to the next
     * attempt (if it is still good and out of any transaction). */
    if (mg->respec && mg->held && mg->c && PQstatus(mg->c) == CONNECTION_OK &&
        PQtransactionStatus(mg->c) == PQTRANS_IDLE) {
        *mg->held = mg->c;
        mg->c = NULL;
    }
    if (mg->c)
        PQfinish(mg->c);
    if (mg->fh.started)
        pthread_join(mg->fh.thread, NULL);
    pgb_plan_free(&mg->p);
    pgb_src_close(&mg->src);
    pgb_gate_destroy(&mg->gate);
    pgb_buf_free(&mg->ddl);
    json_decref(mg->rep.root);
    json_decref(mg->rep.skipped);
    json_decref(mg->rep.warnings);
    if (rc == 0 || mg->stop)
        *out = mg->m;
    else
        pgboot_migration_free(mg->m);
    return rc;
}

/* One attempt. held: in, a connection to take over (the previous
 * attempt's, locked) or NULL; out, this one's when it asks to start over
 * (*respec). */
static int run(pgboot_migration **out, const pgboot_migrate_options *o, const char *url,
               pgb_pq_whose whose, int restarted, int *respec, PGconn **held)
{
    /* The phases, in order. Each returns 0 or an error; one that ends the
     * migration with its report sets mg.stop. */
    static int (*const phases[])(migration *) = {
        open_source,         /* read-only, one read transaction */
        plan_tables,         /* names, and every column's type */
        connect_target,      /* locked; migrated already? */
        prepare_target,      /* privileges, transaction, existing tables */
        probe_generated,     /* generated columns PostgreSQL refuses: plain */
        stop_on_bad_values,  /* strict / widen: before anything is written */
        create_tables,       /* in the transaction, or staged */
        load_rows,           /* COPY */
        build_indexes_ahead, /* staged: on the workers; then the transaction */
        finish_schema,       /* keys, indexes, constraints, views */
        verify,              /* quick_check, row counts, digests */
    };
    pgb_error_reset();
    *out = NULL;
    migration mg = {.o = o,
                    .connections = 1,
                    .to = {url, whose},
                    .speculate = !restarted,
                    .restarted = restarted,
                    .c = *held,
                    .held = held};
    *held = NULL;
    int rc = check_options(o, &mg.to);
    if (rc || (rc = pgb_need_lib(PGB_LIB_PQ)) != 0) {
        if (mg.c)
            PQfinish(mg.c);
        return rc;
    }
    pgb_gate_init(&mg.gate);
    mg.t0 = pgb_now_ms();
    now_iso(mg.started, sizeof mg.started);
    mg.m = calloc(1, sizeof *mg.m);
    mg.rep = (pgb_report){json_object(), json_array(), json_array()};
    if (!mg.m || !mg.rep.root || !mg.rep.skipped || !mg.rep.warnings)
        rc = pgb_fail(PGBOOT_ENOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && !mg.stop && !mg.respec && i < sizeof phases / sizeof *phases; i++)
        rc = phases[i](&mg);
    if ((rc == 0 || mg.stop) && !mg.respec)
        rc = report_and_commit(&mg, rc);
    *respec = mg.respec;
    return migration_end(&mg, rc, out);
}

int pgb_migrate_run(pgboot_migration **out, const pgboot_migrate_options *o, const char *url,
                    pgb_pq_whose whose)
{
    /* The second attempt runs on the first one's connection: the lock
     * against other migrations into the target is held throughout. */
    int respec = 0;
    PGconn *held = NULL;
    int rc = run(out, o, url, whose, 0, &respec, &held);
    if (respec) { /* the first attempt left nothing behind */
        pgb_error_reset();
        rc = run(out, o, url, whose, 1, &respec, &held);
    }
    if (held)
        PQfinish(held);
    return rc;
}
