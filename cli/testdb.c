/* pgboot testdb (--app NAME | --url URL) --template-sql FILE... [--count N]
 * pgboot testdb drop URL...
 * pgboot testdb keep URL --label LABEL
 * pgboot testdb serve (--app NAME | --url URL) --template-sql FILE... (the
 *   broker, testdb_serve.c)
 * Fresh databases cloned from a template database the SQL files build once.
 *
 * A subcommand (drop, keep, serve) is the first operand; what follows it is parsed
 * against its own option table, options and operands in any order. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* Where the databases are made and their template: testdb's and serve's. */
static const cli_opt template_opts[] = {
    {CLI_OPT_URL, "url", 0, "URL", "the server to make the databases in, instead of --app's", NULL},
    {CLI_OPT_TEMPLATE_SQL, "template-sql", 0, "FILE",
     "an SQL file of the template (repeatable; the schema, then migrations; keyed by their "
     "contents)",
     NULL},
    CLI_OPT_END,
};
static const cli_opt_group template_group = {NULL, template_opts};

#define SERVER_GROUPS                                                                              \
    CLI_INCLUDE(cli_group_app), CLI_INCLUDE(cli_group_data_dir), CLI_INCLUDE(cli_group_start),     \
        CLI_INCLUDE(cli_group_timeout), CLI_INCLUDE(cli_group_set), CLI_INCLUDE(cli_group_unset),  \
        CLI_INCLUDE(cli_group_external), CLI_INCLUDE(cli_group_root),                              \
        CLI_INCLUDE(cli_group_bundle), CLI_INCLUDE(cli_group_download)

const cli_opt cli_testdb_opts[] = {
    CLI_INCLUDE(template_group),
    {CLI_OPT_COUNT, "count", 0, "N", "print N fresh databases (default 1)", NULL},
    SERVER_GROUPS,
    CLI_OPT_END,
};

static const cli_opt serve_opts[] = {
    CLI_INCLUDE(template_group),
    SERVER_GROUPS,
    CLI_OPT_END,
};

static const cli_opt drop_opts[] = {
    CLI_OPT_END,
};

static const cli_opt keep_opts[] = {
    {CLI_OPT_LABEL, "label", 0, "LABEL",
     "what the kept database's name carries (letters, digits and '_'; the rest becomes '_')", NULL},
    CLI_OPT_END,
};

typedef struct {
    cli_server_opts srv;
    const char *url;
    const char *sql_files[CLI_MAX_LIST + 1];
    int nsql;
    unsigned long count;
    const char *label;
    char **rest; /* the operands (a subcommand's: those after its name) */
    int nrest;
    char *ops[CLI_MAX_LIST + 1];
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
    case CLI_OPT_LABEL:
        a->label = arg;
        return 0;
    default:
        return cli_server_option(&a->srv, id, arg);
    }
}

/* 0, -1 after --help, or a usage exit status. */
static int parse_args(const cli_cmd *cmd, int argc, char **argv, testdb_args *a)
{
    memset(a, 0, sizeof *a);
    cli_server_opts_init(&a->srv);
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

/* A subcommand's arguments (argv[0] its name): options of its table and
 * operands, in any order ("--" ends the options). 0, -1 after --help, or a
 * usage exit status. */
static int parse_sub(const cli_cmd *sub, int argc, char **argv, testdb_args *a)
{
    int n = 0, i = 0; /* argv[i]: the "argv[0]" of the next round */
    while (i < argc) {
        cli_parser p;
        int rc = cli_parser_init(&p, sub, argc - i, argv + i);
        if (rc)
            return rc;
        rc = cli_parse_all(&p, testdb_option, a);
        cli_parser_free(&p);
        if (rc)
            return rc;
        int dashes = p.next > 1 && !strcmp(argv[i + p.next - 1], "--");
        int j = i + p.next; /* the first operand */
        for (; j < argc && n < CLI_MAX_LIST; j++) {
            a->ops[n++] = argv[j];
            if (!dashes)
                break;
        }
        if (j < argc && n == CLI_MAX_LIST)
            return cli_cmd_usage_error(sub, "%s: too many operands", sub->name);
        if (dashes || j >= argc)
            break;
        i = j; /* options may follow the operand */
    }
    a->ops[n] = NULL;
    a->rest = a->ops;
    a->nrest = n;
    return 0;
}

static int drop(const cli_cmd *sub, testdb_args *a)
{
    if (a->nrest < 1)
        return cli_cmd_usage_error(sub, "testdb drop needs the URL of a database to drop");
    int rc = 0;
    for (int i = 0; i < a->nrest; i++)
        if (pgboot_testdb_drop(a->rest[i]) != 0)
            rc = cli_fail();
    return rc;
}

static int keep(const cli_cmd *sub, testdb_args *a)
{
    if (a->nrest != 1)
        return cli_cmd_usage_error(sub, "testdb keep needs the URL of one test database");
    char *url = NULL;
    if (pgboot_testdb_keep(a->rest[0], a->label, &url) != 0)
        return cli_fail();
    printf("%s\n", url);
    pgboot_free(url);
    return 0;
}

/* The app's server (started or found) or the --url server, and the
 * template open on it: 0, or an exit status (printed). *s: NULL with --url.
 * Operands are more SQL files. */
static int open_testdb(testdb_args *a, pgboot_server **s, pgboot_testdb_options *to,
                       pgboot_testdb **t)
{
    *s = NULL;
    *t = NULL;
    for (int i = 0; i < a->nrest && a->nsql < CLI_MAX_LIST; i++)
        a->sql_files[a->nsql++] = a->rest[i];
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
    /* A running server is attached to without the app's login that
     * pgboot_server_start() makes to check it (the template's connection
     * logs in anyway): one login less per call. Settings to apply, and the
     * run-as path of root, go through pgboot_server_start(), as does a
     * server the attach or the template's login finds unfinished. */
    int attach = !a->url && !a->srv.nsettings && !a->srv.nunset && geteuid() != 0;
    if (attach && pgboot_server_attach(s, &a->srv.o) != 0) {
        attach = 0;
        *s = NULL;
    }
    if (!a->url && !*s && pgboot_server_start(s, &a->srv.o) != 0)
        return cli_fail();
    to->sql_files = a->sql_files;
    for (;;) {
        if (*s)
            to->server = *s;
        else
            to->url = a->url;
        if (pgboot_testdb_open(t, to) == 0)
            return 0;
        if (!attach || pgboot_error_code_last() != PGBOOT_ENOTRUNNING)
            break;
        /* The app could not log in to the server attached to (a first start
         * killed before its role was made): the full start finishes it. */
        attach = 0;
        pgboot_server_free(*s);
        *s = NULL;
        if (pgboot_server_start(s, &a->srv.o) != 0)
            return cli_fail();
    }
    int rc = cli_fail();
    pgboot_server_free(*s);
    *s = NULL;
    return rc;
}

static int serve(const cli_cmd *sub, testdb_args *a)
{
    (void)sub;
    /* Before anything starts: the broker dies with its parent. */
    int rc = cli_testdb_serve_prepare();
    if (rc)
        return rc;
    pgboot_testdb_options to = PGBOOT_TESTDB_OPTIONS_INIT;
    to.background_refill = 1;
    pgboot_server *s = NULL;
    pgboot_testdb *t = NULL;
    if ((rc = open_testdb(a, &s, &to, &t)) != 0)
        return cli_testdb_serve_failed(rc);
    rc = cli_testdb_serve(t);
    pgboot_testdb_free(t);
    pgboot_server_free(s);
    return rc;
}

typedef struct {
    cli_cmd cmd;
    int (*fn)(const cli_cmd *sub, testdb_args *a);
} testdb_sub;

static const testdb_sub subs[] = {
    {{"testdb drop", NULL, "URL...", "drop test databases",
      "drop test databases pgboot testdb made (clones, kept ones), even with connections still "
      "open; it refuses any other database",
      drop_opts},
     drop},
    {{"testdb keep", NULL, "URL --label LABEL", "keep a test database for a look afterwards",
      "keep the test database URL names (say, a failed test's): rename it to "
      "pgboot_k_<template>_<label>_<random>, never handed out again nor removed with its "
      "template (testdb clean --kept, testdb drop remove it); prints its new URL",
      keep_opts},
     keep},
    {{"testdb serve", NULL, "[FILE...]",
      "hand out test databases to several clients (JSON lines; a broker)",
      "hand out test databases from one open template and its pool, refilled in the "
      "background: JSON lines, one request per line, on stdin/stdout and on a Unix socket in "
      "a private directory, named in the first line ({\"event\":\"ready\",\"socket\":...}); "
      "requests {\"op\":\"clone\"}, {\"op\":\"drop\",\"url\":...}, "
      "{\"op\":\"keep\",\"url\":...,\"label\":...}; it stops when stdin closes, on "
      "SIGTERM/SIGINT and when its parent dies, dropping what it handed out that nobody dropped "
      "or kept",
      serve_opts},
     serve},
};

int cmd_testdb(const cli_cmd *cmd, int argc, char **argv)
{
    testdb_args a;
    int rc = parse_args(cmd, argc, argv, &a);
    if (rc)
        return rc < 0 ? CLI_EXIT_OK : rc;
    for (size_t i = 0; a.nrest > 0 && i < sizeof subs / sizeof subs[0]; i++) {
        if (strcmp(a.rest[0], subs[i].cmd.name + strlen("testdb ")) != 0)
            continue;
        if ((rc = parse_sub(&subs[i].cmd, a.nrest, a.rest, &a)) != 0)
            return rc < 0 ? CLI_EXIT_OK : rc;
        if ((rc = cli_server_opts_finish(&a.srv)) != 0)
            return rc;
        return subs[i].fn(&subs[i].cmd, &a);
    }
    if ((rc = cli_server_opts_finish(&a.srv)) != 0)
        return rc;
    pgboot_testdb_options to = PGBOOT_TESTDB_OPTIONS_INIT;
    pgboot_server *s = NULL;
    pgboot_testdb *t = NULL;
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
