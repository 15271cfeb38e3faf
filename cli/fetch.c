/* pgboot fetch / verify. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"

/* A progress bar on stderr, only when stderr is a terminal. */
static void progress_bar(uint64_t done, uint64_t total, void *payload)
{
    (void)payload;
    static int last = -1;
    int pct = total ? (int)(done * 100 / total) : -1;
    if (pct == last)
        return;
    last = pct;
    if (pct < 0) {
        fprintf(stderr, "\rdownloading PostgreSQL: %.1f MB", (double)done / 1e6);
    } else {
        char bar[31];
        int fill = pct * 30 / 100;
        memset(bar, '#', (size_t)fill);
        memset(bar + fill, '-', (size_t)(30 - fill));
        bar[30] = '\0';
        fprintf(stderr, "\rdownloading PostgreSQL [%s] %3d%% %.1f/%.1f MB", bar, pct,
                (double)done / 1e6, (double)total / 1e6);
    }
    if (pct == 100)
        fputc('\n', stderr);
    fflush(stderr);
}

static const char *origin_name(pgboot_bundle_origin o)
{
    switch (o) {
    case PGBOOT_FROM_TARBALL:
        return "tarball";
    case PGBOOT_FROM_NETWORK:
        return "network";
    case PGBOOT_FROM_FILE:
        return "file";
    default:
        return "cache";
    }
}

static void print_bundle(const pgboot_bundle *b, int as_json)
{
    if (!as_json) {
        printf("%s\n", pgboot_bundle_bin_dir(b));
        return;
    }
    const char *url = pgboot_bundle_source_url(b);
    const pgboot_bundle_timing *t = pgboot_bundle_timings(b);
    json_t *o = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:{s:i, s:i, s:i, s:i, s:i}}", "bin_dir",
        pgboot_bundle_bin_dir(b), "root", pgboot_bundle_root(b), "tarball",
        pgboot_bundle_tarball_path(b), "platform", pgboot_bundle_platform(b), "postgresql_version",
        pgboot_bundle_pg_version(b), "integrity", pgboot_bundle_integrity(b), "origin",
        origin_name(pgboot_bundle_fetched_from(b)), "url", url ? json_string(url) : json_null(),
        "timing_ms", "total", (json_int_t)t->total_ms, "download", (json_int_t)t->download_ms,
        "verify", (json_int_t)t->verify_ms, "extract", (json_int_t)t->extract_ms, "check",
        (json_int_t)t->check_ms);
    cli_print_json(o);
}

const cli_opt cli_fetch_opts[] = {
    CLI_INCLUDE(cli_group_json),
    CLI_INCLUDE(cli_group_bundle),
    CLI_INCLUDE(cli_group_cache_dir),
    CLI_INCLUDE(cli_group_download),
    CLI_OPT_END,
};

/* verify never downloads: no download options. */
const cli_opt cli_verify_opts[] = {
    CLI_INCLUDE(cli_group_json),
    CLI_INCLUDE(cli_group_bundle),
    CLI_INCLUDE(cli_group_cache_dir),
    CLI_OPT_END,
};

int cmd_fetch(const cli_cmd *cmd, int argc, char **argv)
{
    int verify = !strcmp(cmd->name, "verify");
    pgboot_fetch_options o = PGBOOT_FETCH_OPTIONS_INIT;
    int as_json = 0, id, rc;
    const char *arg;
    cli_parser p;
    if ((rc = cli_parser_init(&p, cmd, argc, argv)) != 0)
        return rc;
    while ((id = cli_parse_next(&p, &arg)) > 0) {
        if (id == CLI_OPT_JSON)
            as_json = 1;
        else if ((rc = cli_bundle_option(id, arg, &o)) > 0)
            break;
    }
    cli_parser_free(&p);
    if (id < 0)
        return p.status;
    if (rc > 0)
        return rc;
    if (p.next < argc)
        return cli_cmd_usage_error(cmd, "%s: unexpected argument '%s'", cmd->name, argv[p.next]);
    if (!verify && isatty(2))
        o.progress = progress_bar;
    pgboot_bundle *b = NULL;
    rc = verify ? pgboot_bundle_verify(&b, &o) : pgboot_bundle_fetch(&b, &o);
    if (rc != 0)
        return cli_fail();
    print_bundle(b, as_json);
    pgboot_bundle_free(b);
    return CLI_EXIT_OK;
}
