/* pgboot cache list / pgboot cache prune --older-than DURATION: the bundles in
 * the cache (sizes, last use, whether a server runs from one) and the removal
 * of those no one has used for DURATION. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

const cli_opt cli_cache_opts[] = {
    {CLI_OPT_OLDER_THAN, "older-than", 0, "DURATION",
     "prune: remove the bundles not used for this long (e.g. 30d, 12h, 90m; at least 1m) that "
     "no running server uses",
     NULL},
    CLI_INCLUDE(cli_group_cache_dir),
    CLI_INCLUDE(cli_group_json),
    CLI_OPT_END,
};

/* "30d", "12h", "90m", "45s", "2w", or seconds: 0 or a usage error. */
static int parse_duration(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    uint64_t unit = 1;
    if (end != s && end[0] && !end[1]) {
        switch (end[0]) {
        case 's':
            unit = 1;
            break;
        case 'm':
            unit = 60;
            break;
        case 'h':
            unit = 3600;
            break;
        case 'd':
            unit = 86400;
            break;
        case 'w':
            unit = 7 * 86400;
            break;
        default:
            unit = 0;
        }
        end++;
    }
    if (end == s || *end || unit == 0 || s[0] == '-' || v > 100ULL * 365 * 86400)
        return cli_usage_error("--older-than needs a duration such as 30d, 12h, 90m or 3600s, "
                               "not '%s'",
                               s);
    *out = (uint64_t)v * unit;
    return 0;
}

static void when(char *buf, size_t len, int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!t || !gmtime_r(&tt, &tm) || !strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(buf, len, "unknown");
}

static json_t *entry_json(const pgboot_cache_entry *e)
{
    char at[32];
    when(at, sizeof at, e->last_used);
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:I, s:o}", "name", e->name, "platform",
                     e->platform, "package_version", e->package_version, "postgresql_version",
                     e->pg_version, "root", e->root, "bytes", (json_int_t)e->bytes, "last_used", at,
                     "last_used_unix", (json_int_t)e->last_used, "in_use_pid",
                     e->in_use_pid ? json_integer(e->in_use_pid) : json_null());
}

static void print_entries(const pgboot_cache_entry *e, size_t n, int removed)
{
    if (!removed)
        printf("%-48s %-10s %9s  %-20s  %s\n", "BUNDLE", "POSTGRESQL", "SIZE", "LAST USED",
               "IN USE");
    for (size_t i = 0; i < n; i++) {
        char at[32], pid[32] = "-";
        when(at, sizeof at, e[i].last_used);
        if (e[i].in_use_pid)
            snprintf(pid, sizeof pid, "pid %d", e[i].in_use_pid);
        if (removed)
            printf("removed %s (PostgreSQL %s, %.1f MB, last used %s)\n", e[i].name,
                   e[i].pg_version, (double)e[i].bytes / 1e6, at);
        else
            printf("%-48s %-10s %6.1f MB  %-20s  %s\n", e[i].name, e[i].pg_version,
                   (double)e[i].bytes / 1e6, at, pid);
    }
}

int cmd_cache(const cli_cmd *cmd, int argc, char **argv)
{
    pgboot_fetch_options o = PGBOOT_FETCH_OPTIONS_INIT;
    int as_json = 0, id, rc = 0;
    uint64_t older = 0;
    const char *arg;
    /* 'list' or 'prune' first (the options may follow it, or come before). */
    const char *what = NULL;
    char *args[64];
    int nargs = 0;
    if (argc >= 64)
        return cli_cmd_usage_error(cmd, "cache: too many arguments");
    for (int i = 0; i < argc; i++) {
        if (i > 0 && !what && (!strcmp(argv[i], "list") || !strcmp(argv[i], "prune")))
            what = argv[i];
        else
            args[nargs++] = argv[i];
    }
    args[nargs] = NULL;
    cli_parser p;
    if ((rc = cli_parser_init(&p, cmd, nargs, args)) != 0)
        return rc;
    while (rc == 0 && (id = cli_parse_next(&p, &arg)) > 0) {
        if (id == CLI_OPT_JSON)
            as_json = 1;
        else if (id == CLI_OPT_OLDER_THAN)
            rc = parse_duration(arg, &older);
        else if ((rc = cli_bundle_option(id, arg, &o)) < 0)
            rc = 0;
    }
    int seen_older = cli_parse_seen(&p, CLI_OPT_OLDER_THAN);
    cli_parser_free(&p);
    if (rc)
        return rc;
    if (id < 0)
        return p.status;
    if (p.next < nargs)
        return cli_cmd_usage_error(cmd, "cache: unexpected argument '%s'", args[p.next]);
    if (!what)
        return cli_cmd_usage_error(cmd, "cache needs 'list' or 'prune'");
    int prune = !strcmp(what, "prune");
    if (prune && !seen_older)
        return cli_cmd_usage_error(cmd, "cache prune needs --older-than DURATION");
    if (!prune && seen_older)
        return cli_cmd_usage_error(cmd, "--older-than is for 'cache prune'");
    pgboot_cache_entry *e = NULL;
    size_t n = 0;
    rc = prune ? pgboot_cache_prune(&e, &n, &o, older) : pgboot_cache_list(&e, &n, &o);
    int status = rc ? cli_fail() : CLI_EXIT_OK;
    if (rc == 0 || n) {
        if (as_json) {
            json_t *list = json_array();
            uint64_t total = 0;
            for (size_t i = 0; i < n; i++) {
                json_array_append_new(list, entry_json(&e[i]));
                total += e[i].bytes;
            }
            cli_print_json(json_pack("{s:o, s:I}", prune ? "removed" : "bundles", list,
                                     prune ? "freed_bytes" : "bytes", (json_int_t)total));
        } else {
            print_entries(e, n, prune);
            if (prune && rc == 0 && n == 0)
                fprintf(stderr, "pgboot: no bundle to remove (each was used within the time "
                                "given, or a running process uses it)\n");
        }
    }
    pgboot_cache_entries_free(e, n);
    return status;
}
