/* Checking the target, verifying before commit, and recording the migration
 * in pgboot.migrations (migrate/record.c). Internal. */
#ifndef PGBOOT_MIGRATE_RECORD_H
#define PGBOOT_MIGRATE_RECORD_H

#include <stdint.h>

#include "../platform/platform.h"
#include "plan.h"
#include "report.h"

typedef struct pg_conn PGconn;

/* The last source migrated into the target: *last_sha its SHA-256 (hex),
 * *when what and when (both malloc'd), or both NULL when there is none.
 * 0, PGBOOT_ERROR (the query failed), PGBOOT_ENOMEM. */
PGB_MUST_USE int pgb_record_find(PGconn *c, char **last_sha, char **when);
/* May the role record the migration, and (creates_tables) create the
 * tables in its current schema? Before anything is written. 0;
 * PGBOOT_EINVALID (the hint names the statement that helps); PGBOOT_ERROR
 * (the query failed). */
PGB_MUST_USE int pgb_record_check_role(PGconn *c, int creates_tables);
/* The plan's tables that exist in the target: an error unless --force
 * (and --replace for tables holding rows); with drop, they are dropped. */
PGB_MUST_USE int pgb_record_check_tables(PGconn *c, pgb_plan *p, const pgboot_migrate_options *o,
                                         int drop);
/* Before commit: the table's row count, and with full the digest of its
 * values read back; *differs is set when the digests differ. */
PGB_MUST_USE int pgb_record_verify(PGconn *c, pgb_plan_table *t, const char *source, int full,
                                   int *differs);
/* Before commit, with --verify full: every translated generated column's
 * values and every view's rows, computed by PostgreSQL, against what SQLite
 * holds and computes (pgb_verify_query). A view whose SQL reads the clock
 * ('now') or that SQLite cannot read cannot be compared: a warning in rep
 * says so, as for a table with rejected rows (and every view when rows
 * were rejected). On a difference: PGBOOT_ERROR naming the
 * table's columns or the view, and *differs is set. */
PGB_MUST_USE int pgb_record_verify_exprs(PGconn *c, pgb_plan *p, const char *source,
                                         pgb_report *rep, int *differs);
/* INSERT the record of this migration. */
PGB_MUST_USE int pgb_record(PGconn *c, const pgboot_migrate_options *o, const char *sha,
                            int64_t size, const char *started, const char *report);

#endif
