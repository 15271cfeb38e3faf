/* pgboot_migrate_options_init(): the migration options for a binding that
 * cannot use PGBOOT_MIGRATE_OPTIONS_INIT. */
#include <stddef.h>
#include <string.h>

#include "../platform/platform.h"

int pgboot_migrate_options_init(pgboot_migrate_options *opts, unsigned int version)
{
    pgb_error_reset();
    int rc = pgb_version_check(version, PGBOOT_MIGRATE_OPTIONS_VERSION, "pgboot_migrate_options");
    if (rc == 0 && !opts)
        rc = pgb_fail(PGBOOT_EINVALID, "no pgboot_migrate_options to initialise");
    if (rc == 0) {
        /* Only the fields of that version: the caller's struct may be older. */
        pgboot_migrate_options init = PGBOOT_MIGRATE_OPTIONS_INIT;
        memcpy(opts, &init,
               version == 1   ? offsetof(pgboot_migrate_options, server)
               : version == 2 ? offsetof(pgboot_migrate_options, skip_tables)
               : version == 3 ? offsetof(pgboot_migrate_options, drop_columns)
                              : sizeof init);
        opts->version = version;
    }
    return rc;
}
