/* Unit tests of cli/opt.c: parsing a command's arguments against its own
 * option table, and the usage generated from the tables. Two commands of
 * this file's own (cli_cmds below) share one group of common.c. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const cli_opt one_opts[] = {
    {CLI_OPT_TTL, "ttl", 0, "SECONDS", "how long", NULL},
    {CLI_OPT_FOLLOW, "follow", 'f', NULL, "keep going", NULL},
    CLI_INCLUDE(cli_group_app),
    CLI_INCLUDE(cli_group_root),
    CLI_OPT_END,
};

static const cli_opt two_opts[] = {
    {CLI_OPT_COUNT, "count", 0, "N", "how many", NULL},
    CLI_INCLUDE(cli_group_app),
    CLI_OPT_END,
};

static int no_cmd(const cli_cmd *cmd, int argc, char **argv)
{
    (void)cmd, (void)argc, (void)argv;
    return 0;
}

const cli_cmd cli_cmds[] = {
    {"one", no_cmd, "[X...]", "the first", NULL, one_opts},
    {"two", no_cmd, NULL, "the second", "the second command, at length", two_opts},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};

/* Parse argv (NULL-terminated) as command cmd: the ids in order in ids[],
 * their arguments in args[]; returns the last cli_parse_next() result. */
static int parse(const cli_cmd *cmd, char **argv, int *ids, const char **args, int *next,
                 int *status)
{
    int argc = 0;
    while (argv[argc])
        argc++;
    cli_parser p;
    assert_int_equal(cli_parser_init(&p, cmd, argc, argv), 0);
    int id, n = 0;
    const char *arg;
    while ((id = cli_parse_next(&p, &arg)) > 0) {
        ids[n] = id;
        args[n++] = arg;
    }
    ids[n] = 0;
    *next = p.next;
    *status = p.status;
    cli_parser_free(&p);
    return id;
}

static void test_own_and_group_options(void **state)
{
    (void)state;
    char *argv[] = {"one", "--ttl", "5", "--app=web", "-f", "--run-as", "u", "x", "--ttl", NULL};
    int ids[16], next, status;
    const char *args[16];
    assert_int_equal(parse(&cli_cmds[0], argv, ids, args, &next, &status), 0);
    assert_int_equal(ids[0], CLI_OPT_TTL);
    assert_string_equal(args[0], "5");
    assert_int_equal(ids[1], CLI_OPT_APP);
    assert_string_equal(args[1], "web");
    assert_int_equal(ids[2], CLI_OPT_FOLLOW);
    assert_null(args[2]);
    assert_int_equal(ids[3], CLI_OPT_RUN_AS);
    assert_int_equal(ids[4], 0);
    /* parsing stops at the first operand */
    assert_int_equal(next, 7);
}

static void test_prefix_and_double_dash(void **state)
{
    (void)state;
    char *argv[] = {"two", "--cou", "3", "--", "--count", NULL};
    int ids[16], next, status;
    const char *args[16];
    assert_int_equal(parse(&cli_cmds[1], argv, ids, args, &next, &status), 0);
    assert_int_equal(ids[0], CLI_OPT_COUNT);
    assert_string_equal(args[0], "3");
    assert_int_equal(ids[1], 0);
    assert_int_equal(next, 4);
}

static void test_option_of_another_command(void **state)
{
    (void)state;
    char *argv[] = {"two", "--ttl", "5", NULL};
    int ids[16], next, status;
    const char *args[16];
    assert_int_equal(parse(&cli_cmds[1], argv, ids, args, &next, &status), -1);
    assert_int_equal(status, CLI_EXIT_USAGE);
    char *argv2[] = {"two", "-f", NULL};
    assert_int_equal(parse(&cli_cmds[1], argv2, ids, args, &next, &status), -1);
    assert_int_equal(status, CLI_EXIT_USAGE);
    char *argv3[] = {"two", "--run-as", "u", NULL}; /* a group "one" includes, "two" not */
    assert_int_equal(parse(&cli_cmds[1], argv3, ids, args, &next, &status), -1);
    assert_int_equal(status, CLI_EXIT_USAGE);
}

static void test_usage_errors(void **state)
{
    (void)state;
    int ids[16], next, status;
    const char *args[16];
    char *unknown[] = {"one", "--nonesuch", NULL};
    char *missing[] = {"one", "--ttl", NULL};
    char *valued_flag[] = {"one", "--follow=yes", NULL};
    char **cases[] = {unknown, missing, valued_flag};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(parse(&cli_cmds[0], cases[i], ids, args, &next, &status), -1);
        assert_int_equal(status, CLI_EXIT_USAGE);
    }
}

static void test_help_and_seen(void **state)
{
    (void)state;
    char *argv[] = {"one", "--app", "a", "--help", "--nonesuch", NULL};
    int ids[16], next, status;
    const char *args[16];
    assert_int_equal(parse(&cli_cmds[0], argv, ids, args, &next, &status), -1);
    assert_int_equal(status, CLI_EXIT_OK);

    char *argv2[] = {"one", "--app", "a", NULL};
    cli_parser p;
    const char *arg;
    assert_int_equal(cli_parser_init(&p, &cli_cmds[0], 3, argv2), 0);
    assert_int_equal(cli_parse_next(&p, &arg), CLI_OPT_APP);
    assert_int_equal(cli_parse_next(&p, &arg), 0);
    assert_true(cli_parse_seen(&p, CLI_OPT_APP));
    assert_false(cli_parse_seen(&p, CLI_OPT_TTL));
    cli_parser_free(&p);
}

__attribute__((noinline)) static char *usage_of(const cli_cmd *cmd)
{
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    assert_non_null(f);
    if (cmd)
        cli_usage_cmd(f, cmd);
    else
        cli_usage_all(f);
    fclose(f);
    return text;
}

static void test_usage_from_tables(void **state)
{
    (void)state;
    char *one = usage_of(&cli_cmds[0]);
    assert_non_null(strstr(one, "usage: pgboot one [options] [X...]\n"));
    assert_non_null(strstr(one, "\n  --ttl SECONDS "));
    assert_non_null(strstr(one, "\n  -f, --follow "));
    assert_non_null(strstr(one, "\n  --app NAME "));
    assert_non_null(strstr(one, "\nas root:\n  --run-as USER "));
    assert_non_null(strstr(one, "\n  -h, --help "));
    assert_null(strstr(one, "--count"));
    free(one);

    char *two = usage_of(&cli_cmds[1]);
    assert_non_null(strstr(two, "the second command, at length"));
    assert_non_null(strstr(two, "\n  --count N "));
    assert_null(strstr(two, "--ttl"));
    assert_null(strstr(two, "--run-as"));
    free(two);

    /* the whole tool: every command, every option once, who takes it */
    char *all = usage_of(NULL);
    assert_non_null(strstr(all, "\n  one      the first\n"));
    assert_non_null(strstr(all, "\n  two      the second\n"));
    const char *app = strstr(all, "\n  --app NAME ");
    assert_non_null(app);
    assert_null(strstr(app + 1, "\n  --app NAME "));
    assert_non_null(strstr(app, "[one, two]"));
    assert_non_null(strstr(all, "\nas root [one]:\n"));
    free(all);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_own_and_group_options),
        cmocka_unit_test(test_prefix_and_double_dash),
        cmocka_unit_test(test_option_of_another_command),
        cmocka_unit_test(test_usage_errors),
        cmocka_unit_test(test_help_and_seen),
        cmocka_unit_test(test_usage_from_tables),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
