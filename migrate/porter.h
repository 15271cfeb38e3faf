/* The text search configuration for SQLite's porter tokenizer
 * (migrate/porter.c): an FTS table with tokenize=porter is searched in
 * PostgreSQL with the configuration pgboot_porter, which pgboot makes in the
 * target schema (with a dictionary of the same name) and marks with a
 * comment, so that a later migration reuses it. Internal. */
#ifndef PGBOOT_MIGRATE_PORTER_H
#define PGBOOT_MIGRATE_PORTER_H

#include "../platform/platform.h"

typedef struct pg_conn PGconn;

/* The name of both the configuration and its dictionary (they live in
 * different catalogs). */
#define PGB_PORTER "pgboot_porter"

/* What pgb_porter_stage left in the staging schema for the final
 * transaction to move into the target schema. */
enum { PGB_PORTER_STAGED_CONFIG = 1, PGB_PORTER_STAGED_DICT = 2 };

/* The statements that make the dictionary and the configuration, with their
 * comments, as the DDL shows them (unqualified: the current schema), into
 * ddl (for --dry-run, which does not look at the target). */
void pgb_porter_ddl(pgb_buf *ddl);

/* In c's open transaction: make the configuration in the current schema
 * unless pgboot's is there already (reused); the statements run are
 * appended to ddl (NULL: not recorded). 0; PGBOOT_EINVALID when an object
 * of that name that pgboot did not make is in the current schema (nothing
 * is changed; the hint says how to go on); PGBOOT_ERROR when PostgreSQL
 * refuses the statements. Not thread-safe for one c. */
PGB_MUST_USE int pgb_porter_ensure(PGconn *c, pgb_buf *ddl);

/* Staged: c outside a transaction, the staging schema made. Make the
 * configuration (committed) in the staging schema unless pgboot's is in the
 * target schema (c's current schema): then the workers' search_path gets the
 * target schema after the staging one, so that their CREATE TABLE finds it.
 * *staged: PGB_PORTER_STAGED_* bits of what was made (to move, see
 * pgb_porter_unstage); ddl (may be NULL) gets its statements as the
 * one-transaction route runs them (unqualified). Errors as
 * pgb_porter_ensure. */
PGB_MUST_USE int pgb_porter_stage(PGconn *c, PGconn **w, int nw, pgb_buf *ddl, int *staged);

/* In the final transaction: what pgb_porter_stage made moves from the
 * staging schema into schema (quoted here). The generated columns keep
 * referring to it (they store its OID). 0 or PGBOOT_ERROR. */
PGB_MUST_USE int pgb_porter_unstage(PGconn *c, int staged, const char *schema);

#endif
