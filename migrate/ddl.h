/* The DDL of a migration (migrate/ddl.c): CREATE TABLE, and the statements
 * that follow the data. Internal. */
#ifndef PGBOOT_MIGRATE_DDL_H
#define PGBOOT_MIGRATE_DDL_H

#include "../platform/platform.h"
#include "plan.h"
#include "report.h"
#include "target.h"

typedef struct pg_conn PGconn;

/* Indexes built ahead: in a staged migration, the CREATE INDEX statements
 * (and the primary key's unique index, which the final transaction makes the
 * key with ADD PRIMARY KEY USING INDEX; not the unique constraints, whose
 * ALTER TABLE locks the table) run on the staging workers, two at a time, before the final
 * transaction moves the tables; that transaction then finds them built. The statements are the very
 * ones the final pass generates: a first pass of the emitters (PGB_EMIT_COLLECT) gathers them, and
 * the final pass (PGB_EMIT_AHEAD_BUILT) skips those built and reports those refused, as it would
 * have. */
typedef struct {
    char *sql;
    char *err; /* PostgreSQL's refusal */
    int built; /* neither built nor refused: the final pass runs it */
} pgb_ahead_job;

typedef struct {
    pgb_ahead_job *jobs;
    int n, cap, oom;
} pgb_ahead;

/* What the emitters of the statements that follow the data (keys, indexes,
 * defaults, ...) do with each statement: every emitter takes it as an
 * argument, and after_data acts on it. */
typedef enum {
    PGB_EMIT_RUN = 0,     /* record it in the DDL and run it (unless dry_run) */
    PGB_EMIT_COLLECT,     /* only gather the CREATE INDEX statements into ahead */
    PGB_EMIT_AHEAD_BUILT, /* as PGB_EMIT_RUN, but what ahead built is not run again,
                           * and what it saw refused is reported */
} pgb_emit_mode;

typedef struct {
    pgb_emit_mode mode;
    PGconn *conn;
    pgb_buf *ddl;
    pgb_report *rep;
    int dry_run;
    pgb_ahead *ahead; /* PGB_EMIT_COLLECT and PGB_EMIT_AHEAD_BUILT */
} pgb_emit;

/* Does a table's full-text column use pgboot's configuration for the
 * porter tokenizer (porter.h)? 1 or 0. */
int pgb_ddl_fts_porter_wanted(pgb_plan *p);
/* CREATE TABLE for t, with its full-text columns, into b. */
void pgb_ddl_table(pgb_buf *b, pgb_plan *p, pgb_plan_table *t);
/* Append one statement to the DDL of the report and --dry-run. */
void pgb_ddl_add(pgb_buf *ddl, const char *sql);
void pgb_ahead_free(pgb_ahead *a);

/* What follows the data, for one table or for the whole plan. */
void pgb_ddl_keys_and_indexes(const pgb_emit *e, pgb_plan *p, pgb_plan_table *t);
void pgb_ddl_identities(const pgb_emit *e, pgb_plan_table *t);
void pgb_ddl_defaults_and_checks(const pgb_emit *e, pgb_plan *p, pgb_plan_table *t);
void pgb_ddl_foreign_keys(const pgb_emit *e, pgb_plan *p, pgb_plan_table *t);
void pgb_ddl_views_and_others(const pgb_emit *e, pgb_plan *p);

/* Generated columns: their expressions translated (col->gen_sql), or a
 * word in the report and the column made plain, its values copied
 * (pgb_plan_rescan()). 0, or that function's error. */
PGB_MUST_USE int pgb_ddl_generated_columns(pgb_plan *p, pgb_report *rep);
/* Generated columns whose translated expressions PostgreSQL refuses for the
 * types the plan chose (SQLite computes 'abc' * 2 as 0; PostgreSQL has no
 * text * integer): tried on a temporary table in a savepoint of c, rolled
 * back; such a column becomes a plain one holding SQLite's values, as an
 * expression not translated does, with a word in the report. A partial
 * table's refusal is first settled by its whole scan: if its types do not
 * hold, *respec is set and PGBOOT_ERROR returned (start over). 0, or the
 * error of pgb_plan_rescan(). */
PGB_MUST_USE int pgb_ddl_probe_generated(PGconn *c, pgb_plan *p, pgb_report *rep, int *respec);
/* --schema / --data-only: the plan takes the types of the target's existing
 * tables; those whose leave_out[i] is set (NULL: none) are left as they are
 * (they are not loaded, and need not exist). A SQLite column the target's
 * table has not is left out: with a warning when it holds only NULLs or is
 * in drop ("TABLE.COLUMN" entries, NULL-terminated; NULL: none), else the
 * migration stops here, before anything is written (PGBOOT_EINVALID, naming
 * such columns); so does an entry of drop that names no such column. */
PGB_MUST_USE int pgb_ddl_adopt_target_types(PGconn *c, pgb_plan *p, pgb_report *rep,
                                            const char *leave_out, const char *const *drop);
/* --schema / --data-only, after the rows: the app's own search tables. For
 * each FTS3/4/5 table of the source, its target table (the table of its
 * name; external content: the content table) got its text columns as rows;
 * a tsvector column there with no default and no generation is filled with
 * to_tsvector(<the tokenizer's configuration>, <the indexed FTS columns>)
 * (tokenize=porter: pgboot_porter, made in the current schema before the
 * first such column unless pgboot's is there: see pgb_porter_ensure)
 * where it is NULL (external content: the column named after the FTS table,
 * else the table's only such column). A table whose rows the target kept
 * (tg's action) is left alone. The options with no PostgreSQL meaning go to
 * rep's skipped, each filled column to rep's "full_text". Each UPDATE is
 * recorded in ddl. 0, or the error of PostgreSQL's refusal (PGBOOT_ERROR), or
 * PGBOOT_EINVALID when a pgboot_porter that pgboot did not make is in the
 * way. dry_run: the UPDATEs are recorded, not run (pgboot_porter is made
 * all the same, in c's transaction, which the dry run rolls back). */
PGB_MUST_USE int pgb_ddl_fts_fill(PGconn *c, pgb_plan *p, const pgb_target *tg, pgb_buf *ddl,
                                  pgb_report *rep, int dry_run);

#endif
