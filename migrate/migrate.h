/* The migration's entry (migrate/migrate.c), called by pgboot_migrate()
 * (launcher/migration.c) once the target is a URL. Internal. */
#ifndef PGBOOT_MIGRATE_MIGRATE_H
#define PGBOOT_MIGRATE_MIGRATE_H

#include <libpq-fe.h>

#include "../platform/dynload.h"

/* Migrate as pgboot_migrate() documents, into `url` (NULL or "" for a dry
 * run), whose connections pin what pgboot's own servers need (PGB_PQ_OURS)
 * or keep what the user's URL and environment say (PGB_PQ_USERS). The
 * options' version is checked by the caller. */
PGB_MUST_USE int pgb_migrate_run(pgboot_migration **out, const pgboot_migrate_options *o,
                                 const char *url, pgb_pq_whose whose);

#endif
