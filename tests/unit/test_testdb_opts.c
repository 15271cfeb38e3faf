/* pgboot_testdb_options across versions (an older caller's struct is read and
 * initialised only as far as its version goes), and the argument checks of
 * the test-database calls that refuse before any connection is made (each
 * with a hint, the way out), and the server address of a URL for messages. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pgboot.h"

#define NOWHERE "postgresql://nobody:secret@127.0.0.1:1/postgres"

static void init_by_version(void **state)
{
    (void)state;
    pgboot_testdb_options o;
    /* version 2: the fields of version 3 are left as the caller had them */
    memset(&o, 0xab, sizeof o);
    assert_int_equal(pgboot_testdb_options_init(&o, 2), 0);
    assert_int_equal(o.version, 2);
    assert_null(o.url);
    assert_null(o.server);
    const unsigned char *tail =
        (const unsigned char *)&o + offsetof(pgboot_testdb_options, template_cmd);
    for (size_t i = 0; i < sizeof o - offsetof(pgboot_testdb_options, template_cmd); i++)
        assert_int_equal(tail[i], 0xab);
    /* version 3: all of them */
    memset(&o, 0xab, sizeof o);
    assert_int_equal(pgboot_testdb_options_init(&o, 3), 0);
    assert_int_equal(o.version, PGBOOT_TESTDB_OPTIONS_VERSION);
    assert_null(o.template_cmd);
    assert_null(o.template_keys);
    assert_int_equal(o.template_timeout_ms, 0);
    assert_null(o.template_name);
    assert_int_equal(pgboot_testdb_options_init(&o, PGBOOT_TESTDB_OPTIONS_VERSION + 1),
                     PGBOOT_EINVALID);
}

/* The last failure has a hint (a non-empty one) that says `want`. */
static void hinted(const char *want)
{
    const char *h = pgboot_error_hint();
    if (!h || !*h)
        fail_msg("'%s' has no hint", pgboot_error_last());
    if (!strstr(h, want))
        fail_msg("the hint of '%s', '%s', does not say '%s'", pgboot_error_last(), h, want);
}

/* open with these options: PGBOOT_EINVALID whose message has `want`, with a
 * hint that says `hint`. */
static void refused(const pgboot_testdb_options *o, const char *want, const char *hint)
{
    pgboot_testdb *t = NULL;
    assert_int_equal(pgboot_testdb_open(&t, o), PGBOOT_EINVALID);
    assert_null(t);
    assert_null(pgboot_testdb_template_output()); /* no command ran */
    if (!strstr(pgboot_error_last(), want))
        fail_msg("'%s' does not say '%s'", pgboot_error_last(), want);
    hinted(hint);
}

static void open_refusals(void **state)
{
    (void)state;
    const char *sql[] = {"schema.sql", NULL};
    const char *keys[] = {"migrations", NULL};
    pgboot_testdb_options o = PGBOOT_TESTDB_OPTIONS_INIT;
    o.url = NOWHERE;
    refused(&o, "no template SQL files given", "--template-sql");
    o.template_cmd = "";
    refused(&o, "the template command is empty", "--template-cmd '");
    o.template_cmd = NULL;
    o.template_keys = keys;
    refused(&o, "go with a template command", "add --template-cmd");
    o.template_keys = NULL;
    o.template_name = "seeded";
    o.sql_files = sql;
    refused(&o, "takes no SQL files nor a template command", "either --template NAME");
    o.sql_files = NULL;
    o.template_name = "Seeded-1";
    refused(&o, "not a snapshot name", "lower-case letters");
    o.template_name = "a_name_that_is_longer_than_forty_bytes_xyz";
    refused(&o, "not a snapshot name", "1 to 40");
    /* a version 2 caller's struct: the version 3 fields are not read */
    pgboot_testdb_options v2 = PGBOOT_TESTDB_OPTIONS_INIT;
    v2.version = 2;
    v2.url = NOWHERE;
    v2.template_cmd = "exit 0"; /* garbage to a version 2 caller */
    refused(&v2, "no template SQL files given", "--template-sql");
}

static void keep_snapshot_refusals(void **state)
{
    (void)state;
    char *url = (char *)"unchanged";
    assert_int_equal(pgboot_testdb_keep(NOWHERE, "x", NULL), PGBOOT_EINVALID);
    assert_int_equal(pgboot_testdb_keep("not a url", "x", &url), PGBOOT_EINVALID);
    assert_null(url);
    hinted("the URL pgboot testdb printed");
    assert_int_equal(pgboot_testdb_keep(NOWHERE, "x", &url), PGBOOT_EINVALID);
    assert_non_null(strstr(pgboot_error_last(), "not made by pgboot testdb"));
    hinted("pgboot_t_");
    assert_int_equal(
        pgboot_testdb_keep("postgresql://a@127.0.0.1:1/pgboot_tpl_0123456789abcdef", "x", &url),
        PGBOOT_EINVALID);
    assert_non_null(strstr(pgboot_error_last(), "(template), not a clone it handed out"));
    hinted("pgboot_t_");
    /* a URL libpq cannot read: not quoted (it may hold a password) */
    assert_int_equal(pgboot_testdb_drop("postgresql://a:secret@[::1/pgboot_t_0"), PGBOOT_EINVALID);
    assert_non_null(strstr(pgboot_error_last(), "not valid"));
    assert_null(strstr(pgboot_error_last(), "secret"));
    hinted("the URL pgboot testdb printed");
    assert_int_equal(pgboot_testdb_drop("postgresql://a@127.0.0.1:1"), PGBOOT_EINVALID);
    assert_non_null(strstr(pgboot_error_last(), "names no database"));
    hinted("the URL pgboot testdb printed");
    assert_int_equal(pgboot_testdb_drop("not a url"), PGBOOT_EINVALID);
    hinted("the URL pgboot testdb printed");
    /* what is not a postgresql:// URL is not quoted where it may hold a
     * password: another scheme's URL, a libpq key=value string */
    assert_int_equal(pgboot_testdb_drop("mysql://u:secret@127.0.0.1/pgboot_t_0"), PGBOOT_EINVALID);
    assert_non_null(strstr(pgboot_error_last(), "'mysql://...' is not a postgresql:// URL"));
    assert_int_equal(pgboot_testdb_drop("host=127.0.0.1 password=secret dbname=pgboot_t_0"),
                     PGBOOT_EINVALID);
    assert_null(strstr(pgboot_error_last(), "secret"));
    pgboot_testdb_options bad = PGBOOT_TESTDB_OPTIONS_INIT;
    bad.url = "mysql://u:secret@127.0.0.1/x";
    refused(&bad, "'mysql://...' is not a postgresql:// URL", "pgboot url --app NAME");
    assert_int_equal(pgboot_testdb_drop(NOWHERE), PGBOOT_EINVALID);
    hinted("DROP DATABASE");
    assert_int_equal(pgboot_testdb_drop("postgresql://a@127.0.0.1:1/pgboot_tpl_0123456789abcdef"),
                     PGBOOT_EINVALID);
    hinted("pgboot testdb clean");
    unsigned ended = 7;
    assert_int_equal(pgboot_testdb_snapshot(NOWHERE, "Bad Name", &ended), PGBOOT_EINVALID);
    assert_int_equal(ended, 0);
    hinted("lower-case letters");
    assert_int_equal(pgboot_testdb_snapshot(NOWHERE, NULL, NULL), PGBOOT_EINVALID);
    hinted("--as NAME");
    assert_int_equal(
        pgboot_testdb_snapshot("postgresql://a@127.0.0.1:1/pgboot_s_seeded", "copy", NULL),
        PGBOOT_EINVALID);
    assert_non_null(strstr(pgboot_error_last(), "(snapshot)"));
    hinted("pgboot_k_");
    pgboot_testdb_entry *e = NULL;
    size_t n = 9;
    assert_int_equal(pgboot_testdb_list(NULL, &e, &n), PGBOOT_EINVALID);
    assert_int_equal(pgboot_testdb_clean(NULL, 1, NULL), PGBOOT_EINVALID);
}

/* pgboot_testdb_address(NULL, url) is `want` (NULL: none). */
static void address_is(const char *url, const char *want)
{
    char *a = pgboot_testdb_address(NULL, url);
    if (!want ? a != NULL : !a || strcmp(a, want) != 0)
        fail_msg("the address of '%s' is '%s', not '%s'", url ? url : "(null)", a ? a : "(null)",
                 want ? want : "(null)");
    pgboot_free(a);
}

static void addresses(void **state)
{
    (void)state;
    address_is("postgresql://u:secret@127.0.0.1:5432/pgboot_t_x", "127.0.0.1:5432");
    address_is("postgres://u:secret@[::1]:5433/db", "[::1]:5433");
    address_is("postgresql:///db?host=/run/pg&port=6000", "/run/pg:6000");
    address_is("postgresql://u@db.example/x?hostaddr=10.0.0.2",
               "db.example (10.0.0.2):(default port)");
    address_is("postgresql://u@/x", "(default host):(default port)");
    address_is("postgresql://u:secret@[::1/x", NULL);
    address_is("mysql://u@127.0.0.1:1/x", NULL);
    address_is(NULL, NULL); /* nor a handle */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(init_by_version),
        cmocka_unit_test(open_refusals),
        cmocka_unit_test(keep_snapshot_refusals),
        cmocka_unit_test(addresses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
