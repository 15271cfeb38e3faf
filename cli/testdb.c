/* pgboot testdb (--app NAME | --url URL) --template-sql FILE... [--count N]
 * pgboot testdb drop URL...
 * pgboot testdb serve (--app NAME | --url URL) --template-sql FILE... (testdb_serve.c)
 * Fresh databases cloned from a template database the SQL files build once. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

const cli_opt cli_testdb_opts[] = {
    {CLI_OPT_URL, "url", 0, "URL", "the server to make the databases in, instead of --app's", NULL},
    {CLI_OPT_TEMPLATE_SQL, "template-sql", 0, "FILE",
     "an SQL file of the template (repeatable; the schema, then migrations; keyed by their "
     "contents)",
     NULL},
    {CLI_OPT_COUNT, "count", 0, "N", "print N fresh databases (default 1)", NULL},
    CLI_INCLUDE(cli_group_app),
    CLI_INCLUDE(cli_group_data_dir),
    CLI_INCLUDE(cli_group_start),
    CLI_INCLUDE(cli_group_timeout),
    CLI_INCLUDE(cli_group_set),
    CLI_INCLUDE(cli_group_unset),
    CLI_INCLUDE(cli_group_external),
    CLI_INCLUDE(cli_group_root),
    CLI_INCLUDE(cli_group_bundle),
    CLI_INCLUDE(cli_group_download),
    CLI_OPT_END,
};

typedef struct {
    cli_server_opts srv;
    const char *url;
    const char *sql_files[CLI_MAX_LIST + 1];
    int nsql;
    unsigned long count;
    char **rest; /* the operands */
    int nrest;
    int serve; /* testdb serve: rest are the operands after it */
} testdb_args;

static int testdb_option(void *ctx, cli_opt_id id, const char *arg)
{
    testdb_args *a = ctx;
    unsigned long v;
    int rc;
    switch (id) {
    case CLI_OPT_URL:
        a->url = arg;
        return 0;
    case CLI_OPT_TEMPLATE_SQL:
        if (a->nsql == CLI_MAX_LIST)
            return cli_usage_error("at most %d --template-sql files", CLI_MAX_LIST);
        a->sql_files[a->nsql++] = arg;
        return 0;
    case CLI_OPT_COUNT:
        if ((rc = cli_parse_uint(arg, "--count", 1000, &v)) != 0)
            return rc;
        if (v == 0)
            return cli_usage_error("--count needs at least 1");
        a->count = v;
        return 0;
    default:
        return cli_server_option(&a->srv, id, arg);
    }
}

/* The options of argv (argv[0]: the command's or subcommand's name) into a:
 * 0, -1 after --help, or a usage exit status. */
static int parse_more(const cli_cmd *cmd, int argc, char **argv, testdb_args *a)
{
    cli_parser p;
    int rc = cli_parser_init(&p, cmd, argc, argv);
    if (rc)
        return rc;
    rc = cli_parse_all(&p, testdb_option, a); /* -1: --help, done */
    cli_parser_free(&p);
    if (rc)
        return rc;
    a->rest = argv + p.next;
    a->nrest = argc - p.next;
    return 0;
}

static int parse_args(const cli_cmd *cmd, int argc, char **argv, testdb_args *a)
{
    memset(a, 0, sizeof *a);
    cli_server_opts_init(&a->srv);
    int rc = parse_more(cmd, argc, argv, a);
    /* `testdb serve --app X`: the options after the subcommand too. */
    if (rc == 0 && a->nrest > 0 && !strcmp(a->rest[0], "serve")) {
        a->serve = 1;
        rc = parse_more(cmd, a->nrest, a->rest, a);
    }
    return rc ? rc : cli_server_opts_finish(&a->srv);
}

static int drop(testdb_args *a)
{
    if (a->nrest < 2)
        return cli_usage_error("testdb drop needs the URL of a database to drop");
    int rc = 0;
    for (int i = 1; i < a->nrest; i++)
        if (pgboot_testdb_drop(a->rest[i]) != 0)
            rc = cli_fail();
    return rc;
}

/* The app's server (started or found) or the --url server, and the
 * template open on it: 0, or an exit status (printed). *s: NULL with --url. */
static int open_testdb(testdb_args *a, pgboot_server **s, pgboot_testdb_options *to,
                       pgboot_testdb **t)
{
    *s = NULL;
    *t = NULL;
    a->sql_files[a->nsql] = NULL;
    if (!a->url == !a->srv.app_given)
        return cli_usage_error("testdb needs exactly one of --app NAME and --url URL");
    if (a->nsql == 0)
        return cli_usage_error("testdb needs --template-sql FILE (the schema, then migrations)");
    /* pgboot's own server: not a URL the user gave (--url, --database-url,
     * PGBOOT_DATABASE_URL). */
    const char *ext = getenv("PGBOOT_DATABASE_URL");
    int external = (a->srv.o.database_url && *a->srv.o.database_url) || (ext && *ext);
    if (!external && !a->url)
        cli_own_server_env();
    if (!a->url && pgboot_server_start(s, &a->srv.o) != 0)
        return cli_fail();
    if (*s)
        to->server = *s;
    else
        to->url = a->url;
    to->sql_files = a->sql_files;
    if (pgboot_testdb_open(t, to) != 0) {
        int rc = cli_fail();
        pgboot_server_free(*s);
        *s = NULL;
        return rc;
    }
    return 0;
}

int cmd_testdb(const cli_cmd *cmd, int argc, char **argv)
{
    testdb_args a;
    int rc = parse_args(cmd, argc, argv, &a);
    if (rc)
        return rc < 0 ? CLI_EXIT_OK : rc;
    if (!a.serve && a.nrest > 0 && !strcmp(a.rest[0], "drop"))
        return drop(&a); /* URLs the user gave */
    /* Extra operands are more SQL files. */
    for (int i = 0; i < a.nrest && a.nsql < CLI_MAX_LIST; i++)
        a.sql_files[a.nsql++] = a.rest[i];
    pgboot_testdb_options to = PGBOOT_TESTDB_OPTIONS_INIT;
    pgboot_server *s = NULL;
    pgboot_testdb *t = NULL;
    if (a.serve) {
        /* Before anything starts: the broker dies with its parent. */
        if ((rc = cli_testdb_serve_prepare()) != 0)
            return rc;
        to.background_refill = 1;
        if ((rc = open_testdb(&a, &s, &to, &t)) != 0)
            return cli_testdb_serve_failed(rc);
        rc = cli_testdb_serve(t);
        pgboot_testdb_free(t);
        pgboot_server_free(s);
        return rc;
    }
    if ((rc = open_testdb(&a, &s, &to, &t)) != 0)
        return rc;
    for (unsigned long i = 0; i < (a.count ? a.count : 1); i++) {
        char *clone = NULL;
        if (pgboot_testdb_clone(t, &clone) != 0) {
            rc = cli_fail();
            break;
        }
        printf("%s\n", clone);
        pgboot_free(clone);
    }
    pgboot_testdb_free(t);
    fflush(stdout);
    /* Top up the pool of ready clones after we are done, in a detached
     * process with its own connection, so that the next `pgboot testdb` finds
     * one. Its output goes nowhere: $(pgboot testdb ...) must not wait for it. */
    if (rc == 0)
        pgboot_testdb_fill_pool_detached(&to);
    pgboot_server_free(s);
    return rc;
}
