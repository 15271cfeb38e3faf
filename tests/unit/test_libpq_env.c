/* The caller's libpq environment never steers pgboot's connections to its own
 * servers: the connection string names every parameter libpq would take from
 * a PG* variable; a URL the user gives keeps the user's settings except the
 * client encoding; and the library refuses PGSERVICE (which no connection
 * string can cancel) without touching its host's environment or the disk. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "dynload.h"
#include "platform.h"

static char tmpdir[] = "/tmp/pgboot-libpq-env-XXXXXX";

static int setup(void **state)
{
    (void)state;
    if (!mkdtemp(tmpdir))
        return -1;
    char *p = pgb_path_join(tmpdir, "data");
    setenv("XDG_DATA_HOME", p, 1);
    free(p);
    p = pgb_path_join(tmpdir, "cache");
    setenv("XDG_CACHE_HOME", p, 1);
    free(p);
    setenv("HOME", tmpdir, 1);
    setenv("PGBOOT_MIRROR", "file:///nonexistent", 1);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    pgb_rmtree(tmpdir);
    return 0;
}

/* Nothing at all was made under the scratch directory. */
static void assert_nothing_made(void)
{
    char *data = pgb_path_join(tmpdir, "data"), *cache = pgb_path_join(tmpdir, "cache"),
         *eph = pgb_path_join(tmpdir, "eph");
    assert_false(pgb_path_exists(data));
    assert_false(pgb_path_exists(cache));
    assert_false(pgb_path_exists(eph));
    free(data);
    free(cache);
    free(eph);
}

static void assert_pgservice_refusal(int rc)
{
    assert_int_equal(rc, PGBOOT_EINVALID);
    assert_non_null(strstr(pgboot_error_last(), "PGSERVICE"));
    assert_non_null(pgboot_error_hint());
    assert_non_null(strstr(pgboot_error_hint(), "unset PGSERVICE"));
    /* The host's environment is as it was. */
    assert_non_null(getenv("PGSERVICE"));
    assert_string_equal(getenv("PGSERVICE"), "elsewhere");
}

static void test_server_start_refuses_pgservice(void **state)
{
    (void)state;
    setenv("PGSERVICE", "elsewhere", 1);
    pgboot_server_options o = PGBOOT_SERVER_OPTIONS_INIT;
    o.app = "libpqenv";
    o.fetch.offline = 1;
    pgboot_server *s = NULL;
    assert_pgservice_refusal(pgboot_server_start(&s, &o));
    assert_null(s);
    assert_nothing_made();
    unsetenv("PGSERVICE");
}

static void test_ephemeral_start_refuses_pgservice(void **state)
{
    (void)state;
    setenv("PGSERVICE", "elsewhere", 1);
    char *eph = pgb_path_join(tmpdir, "eph");
    pgboot_ephemeral_options o = PGBOOT_EPHEMERAL_OPTIONS_INIT;
    o.tmp_dir = eph;
    o.fetch.offline = 1;
    pgboot_server *s = NULL;
    assert_pgservice_refusal(pgboot_ephemeral_start(&s, &o));
    assert_null(s);
    assert_nothing_made();
    free(eph);
    unsetenv("PGSERVICE");
}

/* Every hostile variable of the issue, and a few more. */
static const char *const hostile[][2] = {
    {"PGHOSTADDR", "127.0.0.2"},
    {"PGSSLMODE", "require"},
    {"PGOPTIONS", "-c default_transaction_read_only=on"},
    {"PGTARGETSESSIONATTRS", "read-only"},
    {"PGCHANNELBINDING", "require"},
    {"PGCLIENTENCODING", "LATIN1"},
    {"PGGSSENCMODE", "require"},
    {"PGSSLMINPROTOCOLVERSION", "bogus"},
    {"PGREQUIREPEER", "nobody"},
    {"PGCONNECT_TIMEOUT", "1"},
    {"PGHOST", "/nonexistent"},
    {"PGPORT", "1"},
    {"PGUSER", "someone"},
    {"PGDATABASE", "otherdb"},
    {"PGAPPNAME", "theirs"},
};

static void set_hostile(int on)
{
    for (size_t i = 0; i < sizeof hostile / sizeof *hostile; i++) {
        if (on)
            setenv(hostile[i][0], hostile[i][1], 1);
        else
            unsetenv(hostile[i][0]);
    }
}

static const char *val(const PQconninfoOption *o, const char *keyword)
{
    for (; o->keyword; o++)
        if (!strcmp(o->keyword, keyword))
            return o->val;
    fail_msg("libpq has no keyword %s", keyword);
    return NULL;
}

static PQconninfoOption *build(pgb_pq_whose whose, const char *url)
{
    const char *keys[] = {"host", "port", "user", "password", "dbname", NULL};
    const char *vals[] = {"/run/ours", "5999", "app", "secret", "app", NULL};
    char *conninfo = NULL;
    assert_int_equal(pgb_pq_conninfo(&conninfo, whose, url, url ? NULL : keys, url ? NULL : vals),
                     0);
    char *err = NULL;
    PQconninfoOption *o = PQconninfoParse(conninfo, &err);
    if (!o)
        fail_msg("%s does not parse: %s", conninfo, err ? err : "?");
    free(conninfo);
    return o;
}

static void test_own_conninfo_pins_every_variable(void **state)
{
    (void)state;
    assert_int_equal(pgb_need_lib(PGB_LIB_PQ), 0);
    set_hostile(1);
    PQconninfoOption *o = build(PGB_PQ_OURS, NULL);
    assert_string_equal(val(o, "host"), "/run/ours");
    assert_string_equal(val(o, "port"), "5999");
    assert_string_equal(val(o, "user"), "app");
    assert_string_equal(val(o, "dbname"), "app");
    assert_string_equal(val(o, "hostaddr"), "");
    assert_string_equal(val(o, "sslmode"), "disable");
    assert_string_equal(val(o, "gssencmode"), "disable");
    assert_string_equal(val(o, "channel_binding"), "disable");
    assert_string_equal(val(o, "options"), "");
    assert_string_equal(val(o, "target_session_attrs"), "any");
    assert_string_equal(val(o, "client_encoding"), "UTF8");
    assert_string_equal(val(o, "requirepeer"), "");
    assert_string_equal(val(o, "connect_timeout"), "10");
    assert_string_equal(val(o, "application_name"), "pgboot");
    /* The kind, not the examples: every parameter that has a variable, as
     * this libpq reports them, is named (so the variable is never read). */
    PQconninfoOption *d = PQconndefaults();
    assert_non_null(d);
    for (PQconninfoOption *p = d; p->keyword; p++) {
        if (!p->envvar || !strcmp(p->keyword, "service"))
            continue;
        if (!val(o, p->keyword))
            fail_msg("%s (%s) is left to the environment", p->keyword, p->envvar);
        if (getenv(p->envvar) && strcmp(p->keyword, "password") &&
            !strcmp(val(o, p->keyword), getenv(p->envvar)))
            fail_msg("%s took %s from the environment", p->keyword, p->envvar);
    }
    PQconninfoFree(d);
    PQconninfoFree(o);
    set_hostile(0);
}

static void test_own_conninfo_from_url(void **state)
{
    (void)state;
    assert_int_equal(pgb_need_lib(PGB_LIB_PQ), 0);
    set_hostile(1);
    PQconninfoOption *o = build(PGB_PQ_OURS, "postgresql://app:pw@127.0.0.1:5999/app");
    assert_string_equal(val(o, "host"), "127.0.0.1");
    assert_string_equal(val(o, "port"), "5999");
    assert_string_equal(val(o, "user"), "app");
    assert_string_equal(val(o, "password"), "pw");
    assert_string_equal(val(o, "hostaddr"), "");
    assert_string_equal(val(o, "sslmode"), "disable");
    PQconninfoFree(o);
    set_hostile(0);
}

static void test_users_url_keeps_their_settings(void **state)
{
    (void)state;
    assert_int_equal(pgb_need_lib(PGB_LIB_PQ), 0);
    set_hostile(1);
    setenv("PGSERVICE", "elsewhere", 1); /* theirs to use */
    PQconninfoOption *o =
        build(PGB_PQ_USERS, "postgresql://u:p@db.example:6432/d?sslmode=verify-full"
                            "&client_encoding=LATIN1");
    assert_string_equal(val(o, "sslmode"), "verify-full");
    assert_string_equal(val(o, "client_encoding"), "UTF8"); /* always */
    assert_null(val(o, "hostaddr"));                        /* PGHOSTADDR decides */
    assert_null(val(o, "options"));                         /* PGOPTIONS decides */
    assert_null(val(o, "target_session_attrs"));
    PQconninfoFree(o);
    unsetenv("PGSERVICE");
    set_hostile(0);
}

static void test_own_conninfo_refuses_pgservice(void **state)
{
    (void)state;
    assert_int_equal(pgb_need_lib(PGB_LIB_PQ), 0);
    setenv("PGSERVICE", "elsewhere", 1);
    char *conninfo = NULL;
    assert_pgservice_refusal(pgb_pq_conninfo(&conninfo, PGB_PQ_OURS, NULL, NULL, NULL));
    assert_null(conninfo);
    unsetenv("PGSERVICE");
}

int main(void)
{
    unsetenv("PGSERVICE");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_server_start_refuses_pgservice),
        cmocka_unit_test(test_ephemeral_start_refuses_pgservice),
        cmocka_unit_test(test_own_conninfo_pins_every_variable),
        cmocka_unit_test(test_own_conninfo_from_url),
        cmocka_unit_test(test_users_url_keeps_their_settings),
        cmocka_unit_test(test_own_conninfo_refuses_pgservice),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
