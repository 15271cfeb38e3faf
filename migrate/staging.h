/* Loading over several connections, through a staging schema
 * (migrate/staging.c). Internal. */
#ifndef PGBOOT_MIGRATE_STAGING_H
#define PGBOOT_MIGRATE_STAGING_H

#include "../platform/dynload.h"
#include "copy.h"
#include "ddl.h"
#include "plan.h"

/* The rows of a table that make a migration big (staged), and how many
 * connections load it. */
#define PGB_STAGING_SPLIT_ROWS 100000
#define PGB_STAGING_WORKERS 2

/* The session settings of every connection to the target. */
void pgb_set_session(PGconn *c);
/* Does this migration load through the staging schema? */
int pgb_staging_wanted(const pgb_plan *p, const pgboot_migrate_options *o);
/* Create the staging schema and connect the workers (PGB_STAGING_WORKERS
 * into w): 0, or -1 when the target does not allow it (then everything runs
 * in one transaction on one connection). */
int pgb_staging_open(PGconn *c, pgb_pq_whose whose, const char *url, PGconn **w, int *nw);
/* Drop the staging schema, if it is pgboot's. */
int pgb_staging_drop(PGconn *c);
/* Create a table in the staging schema (create: its CREATE TABLE) and fill it. */
PGB_MUST_USE int pgb_staging_load(pgb_load *L, pgb_plan_table *t, const char *create);
/* Build the indexes collected in a ahead over the workers. */
void pgb_staging_build_ahead(pgb_ahead *a, PGconn **w, int nw);
/* In the final transaction: the staged tables into the target schema, and
 * what of the configuration pgboot_porter the staging schema holds
 * (porter_staged: pgb_porter_stage's bits). */
PGB_MUST_USE int pgb_staging_move(PGconn *c, pgb_plan *p, int porter_staged);

#endif
