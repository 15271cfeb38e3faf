/* Unit tests of launcher/memory.c: the memory budget (--memory) is parsed
 * with PostgreSQL's units, the settings derived from it follow the formula
 * of the README, and an explicit setting (given now, or a --set line already
 * in pgboot.conf) wins over a derived one. Also the server tree's memory
 * (platform's PSS sum) of this very process. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "launcher.h"

static void test_parse(void **state)
{
    (void)state;
    uint64_t kb = 1;
    assert_int_equal(pgb_memory_parse("512MB", "--memory", &kb), 0);
    assert_int_equal(kb, 512 * 1024);
    assert_int_equal(pgb_memory_parse("2GB", "--memory", &kb), 0);
    assert_int_equal(kb, 2 * 1024 * 1024);
    assert_int_equal(pgb_memory_parse("262144kB", "--memory", &kb), 0);
    assert_int_equal(kb, 262144);
    static const char *const bad[] = {"",
                                      "512",
                                      "512M",
                                      "512mb",
                                      "1.5GB",
                                      "-1GB",
                                      "64MB",
                                      "2TB",
                                      "MB",
                                      "1025GB",
                                      " 1GB",
                                      "1GB ",
                                      "99999999999999GB",
                                      NULL};
    for (size_t i = 0; bad[i]; i++) {
        assert_int_equal(pgb_memory_parse(bad[i], "--memory", &kb), PGBOOT_EINVALID);
        assert_int_equal(kb, 0);
        assert_non_null(strstr(pgboot_error_last(), "--memory"));
        uint64_t bytes = 1;
        assert_int_equal(pgboot_memory_budget_parse(bad[i], &bytes), PGBOOT_EINVALID);
        assert_int_equal(bytes, 0);
        assert_non_null(pgboot_error_hint());
    }
    uint64_t bytes = 0;
    assert_int_equal(pgboot_memory_budget_parse("2GB", &bytes), 0);
    assert_int_equal(bytes, 2ULL << 30);
}

static void test_derive(void **state)
{
    (void)state;
    char d[PGB_MEMORY_SETTINGS][PGB_MEMORY_ITEM];
    pgb_memory_derive(256 * 1024, d);
    assert_string_equal(d[0], "shared_buffers=64MB");
    assert_string_equal(d[1], "effective_cache_size=192MB");
    assert_string_equal(d[2], "max_connections=20");
    assert_string_equal(d[3], "work_mem=3276kB");
    assert_string_equal(d[4], "maintenance_work_mem=16MB");
    assert_string_equal(d[5], "autovacuum_max_workers=1");
    assert_string_equal(d[6], "autovacuum_work_mem=8MB");
    pgb_memory_derive(2 * 1024 * 1024, d);
    assert_string_equal(d[0], "shared_buffers=512MB");
    assert_string_equal(d[1], "effective_cache_size=1536MB");
    assert_string_equal(d[2], "max_connections=128");
    assert_string_equal(d[3], "work_mem=4MB");
    assert_string_equal(d[4], "maintenance_work_mem=128MB");
    assert_string_equal(d[5], "autovacuum_max_workers=2");
    assert_string_equal(d[6], "autovacuum_work_mem=64MB");
    pgb_memory_derive(64ULL * 1024 * 1024, d); /* 64GB: the caps */
    assert_string_equal(d[2], "max_connections=200");
    assert_string_equal(d[4], "maintenance_work_mem=2048MB");
    assert_string_equal(d[5], "autovacuum_max_workers=3");
    assert_string_equal(d[6], "autovacuum_work_mem=1024MB");
}

static size_t count(char **list)
{
    size_t n = 0;
    while (list[n])
        n++;
    return n;
}

static void test_explicit_wins(void **state)
{
    (void)state;
    char **out = NULL;
    size_t nd = 9;
    assert_int_equal(pgb_memory_settings(NULL, NULL, NULL, NULL, 0, &out, &nd), 0);
    assert_null(out);
    assert_int_equal(nd, 0);
    const char *set[] = {"WORK_MEM=7MB", "jit=on", NULL};
    assert_int_equal(pgb_memory_settings("1GB", set, NULL, NULL, 0, &out, &nd), 0);
    assert_int_equal(nd, PGB_MEMORY_SETTINGS - 1);
    assert_int_equal(count(out), PGB_MEMORY_SETTINGS + 1);
    for (size_t i = 0; i < nd; i++)
        assert_null(strstr(out[i], "work_mem=4MB"));
    assert_string_equal(out[nd], "WORK_MEM=7MB");
    assert_string_equal(out[nd + 1], "jit=on");
    free(out);
    /* pgboot.conf: a --set line wins, a budget's line and the creation
     * profile's lines do not */
    const char conf[] = "max_connections = 20\n"
                        "shared_buffers = '16MB'\n"
                        "maintenance_work_mem = '64MB'  # from --memory\n"
                        "autovacuum_work_mem = '20MB'\n";
    assert_int_equal(pgb_memory_settings("2GB", NULL, NULL, conf, strlen(conf), &out, &nd), 0);
    assert_int_equal(nd, PGB_MEMORY_SETTINGS - 1);
    for (size_t i = 0; i < nd; i++)
        assert_null(strstr(out[i], "autovacuum_work_mem"));
    assert_string_equal(out[0], "shared_buffers=512MB");
    assert_string_equal(out[2], "max_connections=128");
    free(out);
    /* unset in the same start: the budget takes autovacuum_work_mem over again */
    const char *unset[] = {"AUTOVACUUM_WORK_MEM", NULL};
    assert_int_equal(pgb_memory_settings("2GB", NULL, unset, conf, strlen(conf), &out, &nd), 0);
    assert_int_equal(nd, PGB_MEMORY_SETTINGS);
    assert_string_equal(out[6], "autovacuum_work_mem=64MB");
    free(out);
    assert_int_equal(pgb_memory_settings("lots", NULL, NULL, NULL, 0, &out, &nd), PGBOOT_EINVALID);
    assert_null(out);
}

static void test_tree_pss(void **state)
{
    (void)state;
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    pid_t child = fork();
    if (child == 0) {
        char c;
        close(pipefd[1]);
        (void)!read(pipefd[0], &c, 1); /* until the parent closes it */
        _exit(0);
    }
    close(pipefd[0]);
    uint64_t bytes = 0;
    int n = 0;
    assert_int_equal(pgb_proc_tree_pss(getpid(), &bytes, &n), 0);
    assert_true(n >= 2); /* this process and its child */
    assert_true(bytes > 100 * 1024);
    close(pipefd[1]);
    waitpid(child, NULL, 0);
    assert_int_equal(pgb_proc_tree_pss(child, &bytes, &n), PGBOOT_ENOTRUNNING);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_derive),
        cmocka_unit_test(test_explicit_wins),
        cmocka_unit_test(test_tree_pss),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
