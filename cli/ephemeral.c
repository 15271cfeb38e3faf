/* pgboot tmp: a throwaway cluster's URL; the cluster removes itself once no
 * client has been connected for --ttl seconds. (run --ephemeral is run's,
 * in server.c; both build their options here.) */
#include <stdio.h>
#include <string.h>

#include "cli.h"

const cli_opt cli_tmp_opts[] = {
    {CLI_OPT_TTL, "ttl", 0, "SECONDS",
     "remove the cluster once no client has been connected for this long (default 60)", NULL},
    CLI_INCLUDE(cli_group_tmp_dir),
    CLI_INCLUDE(cli_group_timeout),
    CLI_INCLUDE(cli_group_set),
    CLI_INCLUDE(cli_group_cluster),
    CLI_INCLUDE(cli_group_json),
    CLI_INCLUDE(cli_group_bundle),
    CLI_INCLUDE(cli_group_download),
    CLI_OPT_END,
};

pgboot_ephemeral_options cli_ephemeral_options(const cli_server_opts *s, const char *tmp_dir,
                                               uint32_t ttl_ms)
{
    pgboot_ephemeral_options e = PGBOOT_EPHEMERAL_OPTIONS_INIT;
    e.tmp_dir = tmp_dir;
    e.ttl_ms = ttl_ms;
    e.timeout_ms = s->o.timeout_ms;
    e.settings = s->o.settings;
    e.fetch = s->o.fetch;
    e.locale = s->o.locale;
    e.encoding = s->o.encoding;
    e.data_checksums = s->o.data_checksums;
    e.memory = s->o.memory;
    return e;
}

int cmd_tmp(const cli_cmd *cmd, int argc, char **argv)
{
    cli_server_opts srv; /* --timeout, --set and the bundle's */
    cli_server_opts_init(&srv);
    const char *tmp_dir = NULL, *arg;
    uint32_t ttl_ms = 60000;
    int as_json = 0, id = 0, rc;
    unsigned long v;
    cli_parser p;
    if ((rc = cli_parser_init(&p, cmd, argc, argv)) != 0)
        return rc;
    while (rc == 0 && (id = cli_parse_next(&p, &arg)) > 0) {
        if (id == CLI_OPT_TTL) {
            if ((rc = cli_parse_uint(arg, "--ttl", 86400 * 7, &v)) == 0 && v == 0)
                rc = cli_usage_error("--ttl needs at least 1 second");
            ttl_ms = (uint32_t)v * 1000;
        } else if (id == CLI_OPT_TMP_DIR) {
            tmp_dir = arg;
        } else if (id == CLI_OPT_JSON) {
            as_json = 1;
        } else {
            rc = cli_server_option(&srv, id, arg);
        }
    }
    cli_parser_free(&p);
    if (rc)
        return rc;
    if (id < 0)
        return p.status;
    if (p.next < argc)
        return cli_cmd_usage_error(cmd, "tmp: unexpected argument '%s'", argv[p.next]);
    if ((rc = cli_server_opts_finish(&srv)) != 0)
        return rc;
    cli_own_server_env();
    pgboot_ephemeral_options eo = cli_ephemeral_options(&srv, tmp_dir, ttl_ms);
    pgboot_server *s = NULL;
    if (pgboot_ephemeral_start(&s, &eo) != 0)
        return cli_fail();
    if (pgboot_server_tmp_fallback(s))
        fprintf(stderr, "pgboot: note: %s\n", pgboot_server_tmp_fallback(s));
    if (as_json)
        cli_print_json(cli_server_json(s, NULL));
    else
        printf("%s\n", pgboot_server_url(s));
    pgboot_server_free(s);
    return CLI_EXIT_OK;
}
