/* pgboot testdb (--app NAME | --url URL) (--template-sql FILE... | --template-cmd CMD
 *               [--template-key PATH]... | --template NAME) [--count N]
 * pgboot testdb drop URL...
 * pgboot testdb keep URL --label LABEL
 * pgboot testdb snapshot URL --as NAME
 * pgboot testdb list|clean (--app NAME | --url URL) [--json] [--kept]
 * pgboot testdb serve (--app NAME | --url URL) TEMPLATE-OPTIONS (the broker,
 *   testdb_serve.c)
 * Fresh databases cloned from a template database the SQL files or the app's
 * migration command build once, or from a snapshot.
 *
 * A subcommand (drop, keep, snapshot, list, clean, serve) is the first operand; what follows it is
 * parsed against its own option table, options and operands in any order. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* Where the databases are made and from what template: testdb's and serve's. */
static const cli_opt template_opts[] = {
    {CLI_OPT_URL, "url", 0, "URL", "the server to make the databases in, instead of --app's", NULL},
    {CLI_OPT_TEMPLATE_SQL, "template-sql", 0, "FILE",
     "an SQL file of the template (repeatable; the schema, then migrations; keyed by their "
     "contents)",
     NULL},
    {CLI_OPT_TEMPLATE_CMD, "template-cmd", 0, "CMD",
     "a shell line that builds the template (after the SQL files) with DATABASE_URL and PG* "
     "naming it: the app's migration tool",
     NULL},
    {CLI_OPT_TEMPLATE_KEY, "template-key", 0, "PATH",
     "a file or directory whose contents, with CMD's text, key the template (repeatable; the "
     "migrations folder)",
     NULL},
    {CLI_OPT_TEMPLATE_TIMEOUT, "template-timeout", 0, "SECONDS",
     "kill CMD (its process group) after this long (default 300)", NULL},
    {CLI_OPT_TEMPLATE, "template", 0, "NAME",
     "clone the snapshot NAME (testdb snapshot) instead of a template built here", NULL},
    CLI_OPT_END,
};
static const cli_opt_group template_group = {NULL, template_opts};

#define SERVER_GROUPS                                                                              \
    CLI_INCLUDE(cli_group_app), CLI_INCLUDE(cli_group_data_dir), CLI_INCLUDE(cli_group_start),     \
        CLI_INCLUDE(cli_group_timeout), CLI_INCLUDE(cli_group_set), CLI_INCLUDE(cli_group_unset),  \
        CLI_INCLUDE(cli_group_external), CLI_INCLUDE(cli_group_root),                              \
        CLI_INCLUDE(cli_group_bundle), CLI_INCLUDE(cli_group_cache_dir),                           \
        CLI_INCLUDE(cli_group_download)

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

static const cli_opt snapshot_opts[] = {
    {CLI_OPT_AS, "as", 0, "NAME",
     "the snapshot's name (1 to 40 of a-z, 0-9, '_'); testdb --template NAME clones it", NULL},
    CLI_OPT_END,
};

/* list, clean: the server as testdb finds it, without starting one. */
static const cli_opt list_opts[] = {
    {CLI_OPT_URL, "url", 0, "URL", "the server, instead of --app's", NULL},
    CLI_INCLUDE(cli_group_json),
    CLI_INCLUDE(cli_group_app),
    CLI_INCLUDE(cli_group_data_dir),
    CLI_INCLUDE(cli_group_timeout),
    CLI_INCLUDE(cli_group_external),
    CLI_INCLUDE(cli_group_root),
    CLI_OPT_END,
};

static const cli_opt clean_opts[] = {
    {CLI_OPT_URL, "url", 0, "URL", "the server, instead of --app's", NULL},
    {CLI_OPT_KEPT, "kept", 0, NULL, "remove the kept databases too", NULL},
    CLI_INCLUDE(cli_group_app),
    CLI_INCLUDE(cli_group_data_dir),
    CLI_INCLUDE(cli_group_timeout),
    CLI_INCLUDE(cli_group_external),
    CLI_INCLUDE(cli_group_root),
    CLI_OPT_END,
};

typedef struct {
    cli_server_opts srv;
    const char *url;
    const char *sql_files[CLI_MAX_LIST + 1];
    int nsql;
    unsigned long count;
    const char *template_cmd;
    const char *keys[CLI_MAX_LIST + 1];
    int nkeys;
    unsigned long template_timeout;
    const char *template_name;
    const char *label;
    const char *as;
    int kept, json;
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
    case CLI_OPT_TEMPLATE_CMD:
        a->template_cmd = arg;
        return 0;
    case CLI_OPT_TEMPLATE_KEY:
        if (a->nkeys == CLI_MAX_LIST)
            return cli_usage_error("at most %d --template-key paths", CLI_MAX_LIST);
        a->keys[a->nkeys++] = arg;
        return 0;
    case CLI_OPT_TEMPLATE_TIMEOUT:
        if ((rc = cli_parse_uint(arg, "--template-timeout", 86400, &v)) != 0)
            return rc;
        if (v == 0)
            return cli_usage_error("--template-timeout needs at least 1 second");
        a->template_timeout = v;
        return 0;
    case CLI_OPT_TEMPLATE:
        a->template_name = arg;
        return 0;
    case CLI_OPT_AS:
        a->as = arg;
        return 0;
    case CLI_OPT_KEPT:
        a->kept = 1;
        return 0;
    case CLI_OPT_JSON:
        a->json = 1;
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

static int snapshot(const cli_cmd *sub, testdb_args *a)
{
    if (a->nrest != 1)
        return cli_cmd_usage_error(sub, "testdb snapshot needs the URL of one test database");
    if (!a->as)
        return cli_cmd_usage_error(sub, "testdb snapshot needs --as NAME");
    unsigned ended = 0;
    int rc = pgboot_testdb_snapshot(a->rest[0], a->as, &ended);
    if (ended)
        fprintf(stderr,
                "pgboot: note: ended %u other session%s on the database to snapshot it "
                "(PostgreSQL copies only a database no one is connected to)\n",
                ended, ended == 1 ? "" : "s");
    if (rc != 0)
        return cli_fail();
    printf("%s\n", a->as);
    return 0;
}

/* The server of list and clean: --url, or the app's running server. */
static int attach(const cli_cmd *sub, testdb_args *a, pgboot_server **s, pgboot_testdb_options *to)
{
    *s = NULL;
    if (!a->url == !a->srv.app_given)
        return cli_cmd_usage_error(sub, "%s needs exactly one of --app NAME and --url URL",
                                   sub->name);
    const char *ext = getenv("PGBOOT_DATABASE_URL");
    int external = (a->srv.o.database_url && *a->srv.o.database_url) || (ext && *ext);
    if (!external && !a->url)
        cli_own_server_env();
    if (!a->url && pgboot_server_attach(s, &a->srv.o) != 0)
        return cli_fail();
    if (*s)
        to->server = *s;
    else
        to->url = a->url;
    return 0;
}

static void put_age(char *out, size_t n, long long s)
{
    if (s < 0)
        snprintf(out, n, "?");
    else if (s < 120)
        snprintf(out, n, "%llds", s);
    else if (s < 7200)
        snprintf(out, n, "%lldm", s / 60);
    else if (s < 172800)
        snprintf(out, n, "%lldh", s / 3600);
    else
        snprintf(out, n, "%lldd", s / 86400);
}

static int list(const cli_cmd *sub, testdb_args *a)
{
    if (a->nrest)
        return cli_cmd_usage_error(sub, "testdb list takes no operand ('%s')", a->rest[0]);
    pgboot_server *s = NULL;
    pgboot_testdb_options to = PGBOOT_TESTDB_OPTIONS_INIT;
    int rc = attach(sub, a, &s, &to);
    if (rc)
        return rc;
    pgboot_testdb_entry *e = NULL;
    size_t n = 0;
    if (pgboot_testdb_list(&to, &e, &n) != 0) {
        rc = cli_fail();
    } else if (a->json) {
        json_t *dbs = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(
                dbs,
                json_pack("{s:s, s:s, s:o, s:o}", "name", e[i].name, "kind", e[i].kind, "template",
                          e[i].template_name ? json_string(e[i].template_name) : json_null(),
                          "age_s", e[i].age_s >= 0 ? json_integer(e[i].age_s) : json_null()));
        cli_print_json(json_pack("{s:o}", "databases", dbs));
    } else {
        printf("%-9s %-63s %-32s %s\n", "KIND", "DATABASE", "TEMPLATE", "AGE");
        for (size_t i = 0; i < n; i++) {
            char age[32];
            put_age(age, sizeof age, e[i].age_s);
            printf("%-9s %-63s %-32s %s\n", e[i].kind, e[i].name,
                   e[i].template_name ? e[i].template_name : "-", age);
        }
    }
    pgboot_testdb_list_free(e, n);
    pgboot_server_free(s);
    return rc;
}

static int clean(const cli_cmd *sub, testdb_args *a)
{
    if (a->nrest)
        return cli_cmd_usage_error(sub, "testdb clean takes no operand ('%s')", a->rest[0]);
    pgboot_server *s = NULL;
    pgboot_testdb_options to = PGBOOT_TESTDB_OPTIONS_INIT;
    int rc = attach(sub, a, &s, &to);
    if (rc)
        return rc;
    unsigned dropped = 0;
    rc = pgboot_testdb_clean(&to, a->kept, &dropped) != 0 ? cli_fail() : 0;
    if (dropped || rc == 0)
        fprintf(stderr, "pgboot: dropped %u test database%s\n", dropped, dropped == 1 ? "" : "s");
    pgboot_server_free(s);
    return rc;
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
    if (a->nsql == 0 && !a->template_cmd && !a->template_name)
        return cli_usage_error("testdb needs --template-sql FILE (the schema, then migrations), "
                               "--template-cmd CMD (the app's migration tool) or --template NAME "
                               "(a snapshot)");
    if (a->template_name && (a->nsql || a->template_cmd))
        return cli_usage_error("--template NAME (a snapshot) takes no --template-sql nor "
                               "--template-cmd");
    if (a->nkeys && !a->template_cmd)
        return cli_usage_error("--template-key goes with --template-cmd CMD");
    a->keys[a->nkeys] = NULL;
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
    int attached = !a->url && !a->srv.nsettings && !a->srv.nunset && geteuid() != 0;
    if (attached && pgboot_server_attach(s, &a->srv.o) != 0) {
        attached = 0;
        *s = NULL;
    }
    if (!a->url && !*s && pgboot_server_start(s, &a->srv.o) != 0)
        return cli_fail();
    to->sql_files = a->sql_files;
    to->pg_version = a->srv.o.pg_version; /* --url: the server must run it */
    to->template_cmd = a->template_cmd;
    to->template_keys = a->nkeys ? a->keys : NULL;
    to->template_timeout_ms = (unsigned)a->template_timeout * 1000u;
    to->template_name = a->template_name;
    for (;;) {
        if (*s)
            to->server = *s;
        else
            to->url = a->url;
        if (pgboot_testdb_open(t, to) == 0)
            return 0;
        int code = pgboot_error_code_last();
        if (!attached || (code != PGBOOT_ENOTRUNNING && code != PGBOOT_ELOGIN))
            break;
        /* The app could not log in to the server attached to (a first start
         * killed before its role was made: PostgreSQL says the password
         * failed): the full start finishes it. */
        attached = 0;
        pgboot_server_free(*s);
        *s = NULL;
        if (pgboot_server_start(s, &a->srv.o) != 0)
            return cli_fail();
    }
    const char *output = pgboot_testdb_template_output();
    if (output)
        fprintf(stderr, "pgboot: the template command's output (its last 4 kB):\n%s%s", output,
                *output && output[strlen(output) - 1] != '\n' ? "\n" : "");
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
    {{"testdb snapshot", NULL, "URL --as NAME",
      "make a template from a test database's current state",
      "make a template from the current state of the test database URL names (ending the other "
      "sessions on it first, as PostgreSQL requires), so that testdb --template NAME clones it; "
      "an older snapshot of that name is replaced",
      snapshot_opts},
     snapshot},
    {{"testdb list", NULL, NULL, "list the test databases of a server",
      "list the databases pgboot testdb made on the server: templates, snapshots, pools, clones "
      "and kept ones, with their template and age",
      list_opts},
     list},
    {{"testdb clean", NULL, NULL, "remove the pools and the snapshots no one uses",
      "remove the pools of clones made in advance and the snapshots no clone uses; with --kept, "
      "the kept databases too. Only databases with pgboot's mark are dropped",
      clean_opts},
     clean},
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
    /* Under a broker (PGBOOT_BROKER_SOCKET, as the test helpers set it) and
     * naming no server nor template: its databases, without a connection of
     * our own. */
    const char *broker = getenv("PGBOOT_BROKER_SOCKET");
    if (broker && *broker && !a.url && !a.srv.app_given && !a.nsql && !a.nrest && !a.template_cmd &&
        !a.template_name && !a.nkeys)
        return cli_testdb_from_broker(broker, a.count ? a.count : 1);
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
