/* The public header alone, as a C or C++ caller sees it: every _INIT macro and
 * every _options_init() function is used, and the result compared, so a
 * macro that stops compiling (or no longer matches its function) fails the
 * build. Compiled as C99 and C11 with -pedantic -Werror, and (as
 * headertest.cpp) as C++11 and C++17. */
#include "pgboot.h"

#include <string.h>

/* Field by field (padding bytes carry no meaning): the function's result
 * equals the macro's, starting from a struct full of garbage. */
#define SAME(type, macro, fn, ver, fields)                                                         \
    do {                                                                                           \
        type a = macro;                                                                            \
        type b;                                                                                    \
        memset(&b, 0xff, sizeof b);                                                                \
        if (fn(&b, ver) != 0 || a.version != b.version || !(fields))                               \
            failures++;                                                                            \
    } while (0)

#ifdef __cplusplus
extern "C"
#endif
    int
    pgboot_headertest(void);

int pgboot_headertest(void)
{
    int failures = 0;
    SAME(pgboot_fetch_options, PGBOOT_FETCH_OPTIONS_INIT, pgboot_fetch_options_init,
         PGBOOT_FETCH_OPTIONS_VERSION,
         !b.platform && !b.cache_dir && !b.offline && !b.low_speed_limit && !b.progress &&
             !b.progress_payload);
    SAME(pgboot_server_options, PGBOOT_SERVER_OPTIONS_INIT, pgboot_server_options_init,
         PGBOOT_SERVER_OPTIONS_VERSION,
         !b.app && !b.port && !b.settings && !b.child && b.fetch.version == a.fetch.version &&
             !b.fetch.mirror && !b.sqlite_path && !b.no_migrate && !b.unset && !b.locale &&
             !b.encoding && !b.data_checksums && !b.memory);
    SAME(pgboot_ephemeral_options, PGBOOT_EPHEMERAL_OPTIONS_INIT, pgboot_ephemeral_options_init,
         PGBOOT_EPHEMERAL_OPTIONS_VERSION,
         !b.tmp_dir && !b.ttl_ms && !b.settings && b.fetch.version == a.fetch.version &&
             !b.locale && !b.encoding && !b.data_checksums && !b.memory);
    SAME(pgboot_testdb_options, PGBOOT_TESTDB_OPTIONS_INIT, pgboot_testdb_options_init,
         PGBOOT_TESTDB_OPTIONS_VERSION,
         !b.url && !b.sql_files && !b.pool_size && !b.background_refill && !b.server);
    SAME(pgboot_migrate_options, PGBOOT_MIGRATE_OPTIONS_INIT, pgboot_migrate_options_init,
         PGBOOT_MIGRATE_OPTIONS_VERSION,
         !b.sqlite_path && b.on_error == PGBOOT_ON_ERROR_STRICT &&
             b.verify == PGBOOT_VERIFY_COUNTS && !b.replace && !b.progress_payload && !b.server &&
             !b.skip_tables && !b.replace_tables &&
             b.existing_rows == PGBOOT_EXISTING_ROWS_REFUSE && !b.round_timestamps &&
             b.zero_dates == PGBOOT_ZERO_DATES_REFUSE);
    {
        /* The nested fetch options of an _INIT are initialised too. */
        pgboot_server_options s = PGBOOT_SERVER_OPTIONS_INIT;
        pgboot_ephemeral_options e = PGBOOT_EPHEMERAL_OPTIONS_INIT;
        if (s.fetch.version != PGBOOT_FETCH_OPTIONS_VERSION ||
            e.fetch.version != PGBOOT_FETCH_OPTIONS_VERSION)
            failures++;
    }
    {
        /* An older version's init leaves the fields of later versions alone:
         * the caller's struct may end before them. */
        pgboot_server_options s;
        pgboot_ephemeral_options e;
        memset(&s, 0xab, sizeof s);
        memset(&e, 0xab, sizeof e);
        if (pgboot_server_options_init(&s, 2) != 0 || s.version != 2 || s.unset ||
            s.data_checksums != (int)0xabababab || pgboot_ephemeral_options_init(&e, 1) != 0 ||
            e.version != 1 || e.settings || e.data_checksums != (int)0xabababab)
            failures++;
    }
    {
        /* Version 0 and a version from the future are refused. */
        pgboot_fetch_options f;
        if (pgboot_fetch_options_init(&f, 0) != PGBOOT_EINVALID ||
            pgboot_fetch_options_init(&f, PGBOOT_FETCH_OPTIONS_VERSION + 1) != PGBOOT_EINVALID)
            failures++;
    }
#if !PGBOOT_VERSION_CHECK(0, 1, 0) || PGBOOT_VERSION_CHECK(99, 0, 0)
    failures++;
#endif
    pgboot_free(NULL);
    return failures;
}
