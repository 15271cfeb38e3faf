/* pgboot_migrate(): the public entry of the SQLite migration (migrate/).
 * It lives here, above migrate/, because a target may be one of pgboot's own
 * servers (options.server), a handle of this layer: its URL and kind are read
 * here and handed down, so migrate/ knows nothing of server handles. */
#include <stddef.h>
#include <string.h>

#include <libpq-fe.h>

#include "../migrate/migrate.h"
#include "../platform/dynload.h"
#include "launcher.h"

int pgboot_migrate(pgboot_migration **out, const pgboot_migrate_options *o)
{
    pgb_error_reset();
    if (out)
        *out = NULL;
    if (!o)
        return pgb_fail(PGBOOT_EINVALID, "no pgboot_migrate_options given");
    int rc =
        pgb_version_check(o->version, PGBOOT_MIGRATE_OPTIONS_VERSION, "pgboot_migrate_options");
    if (rc)
        return rc;
    /* The caller's struct may be older: its fields, and the defaults of the
     * newer ones. */
    pgboot_migrate_options full = PGBOOT_MIGRATE_OPTIONS_INIT;
    memcpy(&full, o,
           o->version == 1   ? offsetof(pgboot_migrate_options, server)
           : o->version == 2 ? offsetof(pgboot_migrate_options, skip_tables)
                             : sizeof full);
    full.version = o->version;
    o = &full;
    const pgboot_server *server = o->server;
    if (server && o->target_url)
        return pgb_fail(PGBOOT_EINVALID,
                        "pgboot_migrate_options has both a target_url and a server");
    const char *url = server ? pgboot_server_url(server) : o->target_url;
    pgb_pq_whose whose = server && !pgboot_server_is_external(server) ? PGB_PQ_OURS : PGB_PQ_USERS;
    return pgb_migrate_run(out, o, url, whose);
}
