/* Built with PGBOOT_DEFAULT_REGISTRY="" (see tests/CMakeLists.txt): a machine
 * whose build recorded no registry. With nothing configured at run time and
 * nothing cached, resolving fails with a message that says how to set one, and
 * a fetch fails the same way without touching the cache beyond its lock. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "platform.h"

static void test_nothing_configured(void **state)
{
    (void)state;
    char home[] = "/tmp/pgboot-noreg-XXXXXX";
    assert_non_null(mkdtemp(home));
    setenv("HOME", home, 1);
    unsetenv("PGBOOT_MIRROR");
    unsetenv("npm_config_registry");
    unsetenv("NPM_CONFIG_REGISTRY");
    unsetenv("NPM_CONFIG_USERCONFIG");
    unsetenv("npm_config_userconfig");
    assert_string_equal(pgboot_registry_builtin(), "");

    char *url = (char *)1;
    pgboot_registry_source src;
    assert_int_equal(pgboot_registry_resolve(&url, &src, NULL), PGBOOT_ENOREGISTRY);
    assert_null(url);
    assert_int_equal(src, PGBOOT_REGISTRY_NONE);
    assert_non_null(strstr(pgboot_error_last(), "no registry is configured"));
    assert_non_null(pgboot_error_hint());
    assert_non_null(strstr(pgboot_error_hint(), "PGBOOT_MIRROR"));
    assert_non_null(strstr(pgboot_error_hint(), "--from"));

    /* An .npmrc without a registry= line changes nothing. */
    char *npmrc = pgb_path_join(home, ".npmrc");
    FILE *f = fopen(npmrc, "w");
    assert_non_null(f);
    fputs("fund=false\n", f);
    fclose(f);
    assert_int_equal(pgboot_registry_resolve(&url, &src, NULL), PGBOOT_ENOREGISTRY);

    /* The whole fetch says the same, and installs nothing. */
    char *cache = pgb_path_join(home, "cache");
    pgboot_fetch_options o = PGBOOT_FETCH_OPTIONS_INIT;
    o.cache_dir = cache;
    o.platform = "linux-x64";
    pgboot_bundle *b = NULL;
    assert_int_equal(pgboot_bundle_fetch(&b, &o), PGBOOT_ENOREGISTRY);
    assert_null(b);
    char *tree = pgb_path_join(cache, "linux-x64-16.14.0-beta.17-f1fafb844888ed79");
    assert_false(pgb_path_exists(tree));
    free(tree);
    free(cache);
    free(npmrc);
    pgb_rmtree(home);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_nothing_configured)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
