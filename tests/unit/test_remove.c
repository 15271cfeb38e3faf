/* Unit tests of platform/linux/remove.c: pgboot removes only what it made.
 * Each test builds a real tree in a scratch directory, surrounds it with
 * sentinels (siblings, the parent, a directory a link points to) and checks
 * that every sentinel survives the removal. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "platform.h"

static char scratch[256];

static void path_of(char *out, const char *rel)
{
    snprintf(out, 4096, "%s/%s", scratch, rel);
}

static void make_dir(const char *rel)
{
    char p[4096];
    path_of(p, rel);
    assert_int_equal(mkdir(p, 0755), 0);
}

static void make_file(const char *rel)
{
    char p[4096];
    path_of(p, rel);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs("sentinel\n", f);
    fclose(f);
}

static void make_link(const char *target_rel, const char *rel)
{
    char p[4096], t[4096];
    path_of(p, rel);
    path_of(t, target_rel);
    assert_int_equal(symlink(t, p), 0);
}

static int exists(const char *rel)
{
    char p[4096];
    struct stat st;
    path_of(p, rel);
    return lstat(p, &st) == 0;
}

/* The sentinels around `box/tree`: a sibling file and directory, a file in
 * the parent, and a directory `outside` that links inside the tree point to. */
static void surround(void)
{
    make_dir("box");
    make_file("parent-sentinel");
    make_file("box/sibling-file");
    make_dir("box/sibling-dir");
    make_file("box/sibling-dir/keep");
    make_dir("outside");
    make_file("outside/keep");
}

static void assert_sentinels(void)
{
    assert_true(exists("parent-sentinel"));
    assert_true(exists("box/sibling-file"));
    assert_true(exists("box/sibling-dir/keep"));
    assert_true(exists("outside/keep"));
}

static int setup(void **state)
{
    (void)state;
    snprintf(scratch, sizeof scratch, "/tmp/pgboot-test-remove-XXXXXX");
    assert_non_null(mkdtemp(scratch));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[700];
    snprintf(cmd, sizeof cmd, "chmod -R u+rwx '%s'; rm -rf '%s'", scratch, scratch);
    return system(cmd) == 0 ? 0 : -1;
}

/* A tree with nested, read-only and linked parts goes; nothing around it. */
static void test_rmtree_removes_tree_only(void **state)
{
    (void)state;
    surround();
    make_dir("box/tree");
    make_dir("box/tree/a");
    make_dir("box/tree/a/b");
    make_file("box/tree/a/b/f");
    make_file("box/tree/.hidden");
    make_link("outside", "box/tree/link-to-dir");
    make_link("outside/keep", "box/tree/a/link-to-file");
    make_link("box", "box/tree/a/link-to-parent");
    char p[4096];
    path_of(p, "box/tree/a");
    chmod(p, 0555); /* installed trees are read-only */
    path_of(p, "box/tree");
    assert_int_equal(pgb_rmtree(p), 0);
    assert_false(exists("box/tree"));
    assert_sentinels();
}

/* Two removers of one tree at once (a stopped throwaway cluster: the stop's
 * remover and the supervisor's rm -rf of the same directory) both succeed and
 * leave nothing: a directory the other removed while this one read it is
 * gone, not an error (it was: the tree's emptied top directory stayed). */
static void test_rmtree_concurrent_removers(void **state)
{
    (void)state;
    surround();
    char p[4096], rel[128];
    path_of(p, "box/tree");
    for (int round = 0; round < 20; round++) {
        make_dir("box/tree");
        for (int d = 0; d < 30; d++) {
            snprintf(rel, sizeof rel, "box/tree/d%d", d);
            make_dir(rel);
            snprintf(rel, sizeof rel, "box/tree/d%d/sub", d);
            make_dir(rel);
            for (int f = 0; f < 6; f++) {
                snprintf(rel, sizeof rel, "box/tree/d%d/sub/f%d", d, f);
                make_file(rel);
            }
        }
        pid_t other = fork();
        assert_true(other >= 0);
        if (other == 0)
            _exit(pgb_rmtree(p) == 0 ? 0 : 1);
        int mine = pgb_rmtree(p);
        int st = 0;
        assert_int_equal(waitpid(other, &st, 0), other);
        assert_int_equal(mine, 0);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        assert_false(exists("box/tree"));
    }
    assert_sentinels();
}

/* "D/.." and "D/." name directories pgboot did not create: refused. */
static void test_rmtree_refuses_dots(void **state)
{
    (void)state;
    surround();
    make_dir("box/D");
    make_file("box/D/inside");
    const char *bad[] = {"box/D/..", "box/D/.", "box/D/../", "box/D/./"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char p[4096];
        path_of(p, bad[i]);
        errno = 0;
        assert_int_equal(pgb_rmtree(p), -1);
        assert_int_equal(errno, EINVAL);
        assert_int_equal(pgb_empty_dir(p), -1);
    }
    assert_true(exists("box/D/inside"));
    assert_sentinels();
}

/* A link given as the tree is not followed, and not removed either. */
static void test_rmtree_refuses_link(void **state)
{
    (void)state;
    surround();
    make_link("outside", "box/tree");
    char p[4096];
    path_of(p, "box/tree");
    assert_int_equal(pgb_rmtree(p), -1);
    assert_int_equal(errno, ELOOP);
    assert_int_equal(pgb_empty_dir(p), -1);
    assert_true(exists("box/tree"));
    assert_sentinels();
    path_of(p, "box/missing");
    assert_int_equal(pgb_rmtree(p), 0); /* missing is fine */
}

/* Emptying a directory the user made keeps the directory itself. */
static void test_empty_dir_keeps_dir(void **state)
{
    (void)state;
    surround();
    make_dir("box/D");
    make_dir("box/D/base");
    make_file("box/D/base/f");
    make_file("box/D/PG_VERSION");
    make_link("outside", "box/D/pg_wal");
    make_link("box", "box/D/up");
    char p[4096];
    path_of(p, "box/D");
    assert_int_equal(pgb_empty_dir(p), 0);
    assert_true(exists("box/D"));
    assert_false(exists("box/D/base"));
    assert_false(exists("box/D/pg_wal"));
    assert_false(exists("box/D/up"));
    assert_sentinels();
}

/* pgb_remove_matching with an empty prefix removes nothing ("." and ".."
 * would match it), and never matches "." or "..". */
static void test_remove_matching_never_dots(void **state)
{
    (void)state;
    surround();
    make_dir("box/D");
    make_file("box/D/x");
    char p[4096];
    path_of(p, "box/D");
    pgb_remove_matching(p, "");
    assert_true(exists("box/D/x"));
    pgb_remove_matching(p, ".");
    assert_true(exists("box/D/x"));
    assert_sentinels();
    make_file("box/D/.tmp-a");
    make_dir("box/D/.tmp-b");
    pgb_remove_matching(p, ".tmp-");
    assert_false(exists("box/D/.tmp-a"));
    assert_false(exists("box/D/.tmp-b"));
    assert_true(exists("box/D/x"));
}

/* A work directory is recognised by its marker, not its name; its creator
 * alive keeps it; removal goes marker-last. */
static void test_workdir(void **state)
{
    (void)state;
    surround();
    char w[4096], named[4096];
    path_of(w, "box/data.init-abc");
    assert_int_equal(pgb_workdir_make(w, "a note"), 0);
    make_dir("box/data.init-abc/data");
    make_link("outside", "box/data.init-abc/data/link");
    char *note = NULL;
    assert_int_equal(pgb_workdir_abandoned(w, &note), 1); /* its creator is this process */
    assert_string_equal(note, "a note");
    free(note);
    /* A directory of the same shape of name without the marker: not ours. */
    make_dir("box/data.init-xyz");
    make_file("box/data.init-xyz/.pgboot-work-not");
    path_of(named, "box/data.init-xyz");
    assert_int_equal(pgb_workdir_abandoned(named, NULL), 0);
    /* A link to a marked directory: not ours either. */
    make_link("box/data.init-abc", "box/data.init-lnk");
    path_of(named, "box/data.init-lnk");
    assert_int_equal(pgb_workdir_abandoned(named, NULL), 0);
    assert_int_equal(pgb_workdir_remove(w), 0);
    assert_false(exists("box/data.init-abc"));
    assert_true(exists("box/data.init-xyz"));
    assert_sentinels();
}

/* A marker whose creator still runs: not abandoned. */
static void test_workdir_creator_alive(void **state)
{
    (void)state;
    char w[4096];
    path_of(w, "w");
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    pid_t pid = fork();
    if (pid == 0) {
        int rc = pgb_workdir_make(w, "");
        char c = rc == 0 ? 'y' : 'n';
        if (write(ready[1], &c, 1) != 1)
            _exit(1);
        pause();
        _exit(0);
    }
    char c = 0;
    assert_int_equal(read(ready[0], &c, 1), 1);
    assert_int_equal(c, 'y');
    assert_int_equal(pgb_workdir_abandoned(w, NULL), 0);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    assert_int_equal(pgb_workdir_abandoned(w, NULL), 1);
    assert_int_equal(pgb_workdir_remove(w), 0);
    close(ready[0]);
    close(ready[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_rmtree_removes_tree_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rmtree_concurrent_removers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rmtree_refuses_dots, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rmtree_refuses_link, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_dir_keeps_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove_matching_never_dots, setup, teardown),
        cmocka_unit_test_setup_teardown(test_workdir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_workdir_creator_alive, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
