/* The shared bundle cache: fetch, verify, install, and reuse.
 *
 * Layout of the cache (shared by every app of the user):
 *   <cache>/<platform>-<version>-<digest16>/   the installed, read-only tree
 *   <cache>/<platform>-<version>-<digest16>.tgz  the verified tarball, kept
 *                                                 so a reinstall needs no network
 *   <cache>/<key>.tgz.part                       a download in progress
 *   <cache>/.tmp-<key>-<random>/                 an extraction in progress
 *   <cache>/<key>.tree                           the list of the installed tree
 *   <cache>/locks/<key>.lock                     serialises fetches of one bundle
 * The key includes the digest, so a changed pin never reuses an old tree. A
 * tree appears only by rename(2) of a complete, checked extraction, so "the
 * directory exists" means "the bundle was installed".
 *
 * Self-repair: every fetch (so every start) checks the tree against its list
 * (one lstat per entry). A damaged tree (a file deleted or changed since) is
 * removed under the bundle's lock and installed again from the cached
 * tarball, verified first (downloaded again if it is gone or damaged too).
 * A tree without a list (installed by an older pgboot) is compared once with
 * its tarball, byte by byte, and listed. */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bootstrap.h"

struct pgboot_bundle {
    char *root;
    char *bin_dir;
    char *tarball;
    char *url;
    char *platform;
    char *pg_version;
    char *integrity;
    pgboot_bundle_origin origin;
    pgboot_bundle_timing timing;
};

void pgboot_bundle_free(pgboot_bundle *b)
{
    if (!b)
        return;
    free(b->root);
    free(b->bin_dir);
    free(b->tarball);
    free(b->url);
    free(b->platform);
    free(b->pg_version);
    free(b->integrity);
    free(b);
}

const char *pgboot_bundle_root(const pgboot_bundle *b)
{
    return b->root;
}
const char *pgboot_bundle_bin_dir(const pgboot_bundle *b)
{
    return b->bin_dir;
}
const char *pgboot_bundle_tarball_path(const pgboot_bundle *b)
{
    return b->tarball;
}
const char *pgboot_bundle_source_url(const pgboot_bundle *b)
{
    return b->url;
}
const char *pgboot_bundle_platform(const pgboot_bundle *b)
{
    return b->platform;
}
const char *pgboot_bundle_pg_version(const pgboot_bundle *b)
{
    return b->pg_version;
}
const char *pgboot_bundle_integrity(const pgboot_bundle *b)
{
    return b->integrity;
}
pgboot_bundle_origin pgboot_bundle_fetched_from(const pgboot_bundle *b)
{
    return b->origin;
}
const pgboot_bundle_timing *pgboot_bundle_timings(const pgboot_bundle *b)
{
    return &b->timing;
}

void pgboot_bundle_mark_used(const pgboot_bundle *b)
{
    char *stamp = pgb_printf("%s.used", b->root);
    if (stamp)
        pgb_touch(stamp);
    free(stamp);
}

int pgboot_cache_dir(char **out, const pgboot_fetch_options *opts)
{
    *out = NULL;
    const char *v;
    if (opts && opts->cache_dir && *opts->cache_dir)
        *out = pgb_strdup(opts->cache_dir);
    else if ((v = getenv("PGBOOT_CACHE_DIR")) && *v)
        *out = pgb_strdup(v);
    else if ((v = getenv("XDG_CACHE_HOME")) && v[0] == '/')
        *out = pgb_path_join(v, "pgboot");
    else {
        char *home;
        int rc = pgb_home_dir(&home);
        if (rc)
            return rc;
        *out = pgb_path_join(home, ".cache/pgboot");
        free(home);
    }
    return *out ? 0 : pgb_fail(PGBOOT_ENOMEM, "out of memory");
}

/* Everything a fetch or verify needs to know, resolved once. */
typedef struct {
    pgboot_manifest *manifest;
    const pgboot_bundle_pin *pin;
    unsigned char digest[PGBOOT_SHA512_BYTES];
    char *cache;
    char *key;
    char *root;
    char *tarball;
    char *part;
    char *lock;
    char *list;
    int repaired; /* a damaged tree was removed, to be installed again */
    pgboot_bundle_timing timing;
} plan;

static void plan_free(plan *p)
{
    pgboot_manifest_free(p->manifest);
    free(p->cache);
    free(p->key);
    free(p->root);
    free(p->tarball);
    free(p->part);
    free(p->lock);
    free(p->list);
}

int pgb_fetch_major(const pgboot_fetch_options *o, unsigned int *major)
{
    *major = 0;
    if (o && o->version >= 2 && o->pg_version) {
        *major = o->pg_version;
        return 0;
    }
    const char *env = getenv("PGBOOT_PG_VERSION");
    if (!env || !*env)
        return 0;
    int rc = pgb_pg_major_parse(env, major);
    if (rc) {
        char why[PGB_ERROR_MSG_MAX];
        snprintf(why, sizeof why, "%s", pgboot_error_last());
        rc = pgb_fail(PGBOOT_EINVALID, "PGBOOT_PG_VERSION: %s", why);
        pgb_hint("set it to a pinned major (16, 17 or 18), or unset it for the default");
    }
    return rc;
}

static int plan_make(plan *p, const pgboot_fetch_options *o)
{
    memset(p, 0, sizeof *p);
    int vrc =
        o ? pgb_version_check(o->version, PGBOOT_FETCH_OPTIONS_VERSION, "pgboot_fetch_options") : 0;
    if (vrc)
        return vrc;
    int rc = pgboot_manifest_load(&p->manifest, o ? o->manifest_path : NULL);
    if (rc)
        return rc;
    const char *platform = o && o->platform ? o->platform : pgboot_platform_current();
    unsigned int major = 0;
    if ((rc = pgb_fetch_major(o, &major)) != 0)
        return rc;
    if (!(p->pin = pgboot_manifest_find_major(p->manifest, major, platform)))
        return PGBOOT_ENOTFOUND;
    if ((rc = pgboot_integrity_parse(p->pin->integrity, p->digest)) != 0)
        return rc;
    if ((rc = pgboot_cache_dir(&p->cache, o)) != 0)
        return rc;
    char hex[17];
    pgb_hex(hex, p->digest, 8);
    p->key = pgb_printf("%s-%s-%s", p->pin->platform, p->pin->version, hex);
    p->root = p->key ? pgb_path_join(p->cache, p->key) : NULL;
    p->tarball = p->root ? pgb_printf("%s.tgz", p->root) : NULL;
    p->part = p->root ? pgb_printf("%s.tgz.part", p->root) : NULL;
    p->lock = p->key ? pgb_printf("%s/locks/%s.lock", p->cache, p->key) : NULL;
    p->list = p->root ? pgb_printf("%s.tree", p->root) : NULL;
    if (!p->lock || !p->part || !p->tarball || !p->list)
        return pgb_fail(PGBOOT_ENOMEM, "out of memory");
    return 0;
}

static int bundle_make(pgboot_bundle **out, const plan *p, const char *url,
                       pgboot_bundle_origin origin)
{
    pgboot_bundle *b = calloc(1, sizeof *b);
    if (!b)
        return pgb_fail(PGBOOT_ENOMEM, "out of memory");
    b->root = pgb_strdup(p->root);
    b->bin_dir = pgb_path_join(p->root, "bin");
    b->tarball = pgb_strdup(p->tarball);
    b->url = url ? pgb_strdup(url) : NULL;
    b->platform = pgb_strdup(p->pin->platform);
    b->pg_version = pgb_strdup(p->pin->pg_version);
    b->integrity = pgb_strdup(p->pin->integrity);
    b->origin = origin;
    b->timing = p->timing;
    if (!b->root || !b->bin_dir || !b->tarball || (url && !b->url) || !b->platform ||
        !b->pg_version || !b->integrity) {
        pgboot_bundle_free(b);
        return pgb_fail(PGBOOT_ENOMEM, "out of memory");
    }
    *out = b;
    return 0;
}

static int installed(const plan *p)
{
    char *bin = pgb_path_join(p->root, "bin");
    int yes = bin && pgb_is_dir(bin);
    free(bin);
    return yes;
}

/* Run each program of the tree with --version: it must load (a missing shared
 * library is named) and report the pinned PostgreSQL version. */
static int check_runs(const char *root, const char *pg_version)
{
    static const char *const progs[] = {"postgres", "initdb", "pg_ctl"};
    char want[64];
    snprintf(want, sizeof want, "(PostgreSQL) %s", pg_version);
    for (size_t i = 0; i < sizeof progs / sizeof *progs; i++) {
        char rel[32];
        snprintf(rel, sizeof rel, "bin/%s", progs[i]);
        char *path = pgb_path_join(root, rel);
        if (!path)
            return pgb_fail(PGBOOT_ENOMEM, "out of memory");
        if (access(path, X_OK) != 0) {
            int rc = pgb_fail(PGBOOT_EBROKEN, "the bundle has no runnable %s", rel);
            free(path);
            return rc;
        }
        char *argv[] = {path, "--version", NULL};
        char *output = NULL;
        int status = 0;
        int rc = pgb_run_capture(argv, &output, &status, 64 * 1024);
        if (rc) {
            free(path);
            return rc;
        }
        const char *lib = strstr(output, "error while loading shared libraries: ");
        if (lib) {
            lib += strlen("error while loading shared libraries: ");
            size_t n = strcspn(lib, ": \n");
            rc = pgb_fail(PGBOOT_EBROKEN,
                          "%s of the PostgreSQL bundle cannot start: shared library %.*s is "
                          "missing",
                          rel, (int)n, lib);
            pgb_hint("install the library with your package manager, or report the bundle as "
                     "broken; nothing was installed");
        } else if (status != 0 || !strstr(output, want)) {
            rc = pgb_fail(PGBOOT_EBROKEN,
                          "%s --version of the PostgreSQL bundle did not report %s (exit %d: "
                          "%.200s)",
                          rel, pg_version, status, pgb_tail_lines(output, 2));
        }
        free(output);
        free(path);
        if (rc)
            return rc;
    }
    return 0;
}

static uint64_t extraction_bound(const pgboot_bundle_pin *pin)
{
    /* "Far above the bundle's size": twice the pinned unpacked size, or, when
     * the manifest does not say, twenty times the compressed size. */
    if (pin->unpacked_size)
        return pin->unpacked_size * 2 + (1u << 20);
    if (pin->size)
        return pin->size * 20;
    return (uint64_t)4 << 30;
}

/* Extract the verified tarball into a temporary directory in the cache, check
 * that it runs, and rename it into place. */
static int install_tree(plan *p)
{
    char rnd[9];
    pgb_random_name(rnd, sizeof rnd);
    char *tmp = pgb_printf("%s/.tmp-%s-%s", p->cache, p->key, rnd);
    if (!tmp)
        return pgb_fail(PGBOOT_ENOMEM, "out of memory");
    uint64_t t0 = pgb_now_ms();
    int rc = pgb_extract_bundle(p->tarball, tmp, extraction_bound(p->pin));
    uint64_t t1 = pgb_now_ms();
    p->timing.extract_ms = (uint32_t)(t1 - t0);
    if (rc == 0)
        rc = check_runs(tmp, p->pin->pg_version);
    /* Listed before the rename: paths are relative, and an installed tree
     * then always has its list (a stale list of a tree killed before its
     * rename describes the same tarball's contents, and is rewritten). */
    if (rc == 0)
        rc = pgb_tree_list_write(tmp, p->list);
    p->timing.check_ms = (uint32_t)(pgb_now_ms() - t1);
    if (rc == 0 && rename(tmp, p->root) != 0)
        rc = pgb_fail(PGBOOT_ERROR, "cannot move the bundle into place at %s: %s", p->root,
                      strerror(errno));
    if (rc == 0) {
        pgb_fsync_dir(p->cache);
    } else {
        pgb_rmtree(tmp);
        unlink(p->list); /* nothing in place for it to describe */
    }
    free(tmp);
    return rc;
}

/* Remove extraction directories that a killed fetch left behind. Only called
 * while holding the bundle's lock, so none of them is in use. */
static void remove_stale_tmp(const plan *p)
{
    char *pattern = pgb_printf(".tmp-%s-", p->key);
    if (!pattern)
        return;
    pgb_remove_matching(p->cache, pattern);
    free(pattern);
}

static int obtain_tarball(plan *p, const pgboot_fetch_options *o, char **url_out,
                          pgboot_bundle_origin *origin);

/* Under the bundle's lock, with the tree installed: leave an intact tree,
 * list an unlisted one that matches its tarball, and remove a damaged one
 * (the caller then installs it again) once its tarball is at hand: a damaged
 * tree is kept when it cannot be reinstalled, and the error names the damage
 * and the way out. */
static int repair_if_damaged(plan *p, const pgboot_fetch_options *o, char **url_out,
                             pgboot_bundle_origin *origin)
{
    char damage[600] = "";
    int state = pgb_tree_list_check(p->root, p->list, damage, sizeof damage);
    if (state == PGB_TREE_OK)
        return 0;
    int rc = obtain_tarball(p, o, url_out, origin);
    if (rc && state == PGB_TREE_UNLISTED) {
        /* An older pgboot's tree and no tarball to compare it with: used as
         * before, unchecked. */
        pgb_error_reset();
        return 0;
    }
    if (rc) {
        char why[PGB_ERROR_MSG_MAX];
        snprintf(why, sizeof why, "%s", pgboot_error_last());
        rc = pgb_fail(PGBOOT_EBROKEN,
                      "the installed PostgreSQL bundle %s is damaged (%s) and cannot be "
                      "installed again: %s",
                      p->root, damage, why);
        pgb_hint("run 'pgboot fetch' with network access (or 'pgboot fetch --from FILE.tgz') "
                 "to install it again");
        return rc;
    }
    if (state == PGB_TREE_UNLISTED) {
        if (pgb_verify_tree(p->tarball, p->root) == 0)
            return pgb_tree_list_write(p->root, p->list);
        snprintf(damage, sizeof damage, "%s", pgboot_error_last());
        pgb_error_reset();
    }
    /* Out of the way at once, under the name of an extraction in progress,
     * so that a removal cut short is cleaned up like one. */
    char rnd[9];
    pgb_random_name(rnd, sizeof rnd);
    char *aside = pgb_printf("%s/.tmp-%s-%s", p->cache, p->key, rnd);
    if (!aside)
        return pgb_fail(PGBOOT_ENOMEM, "out of memory");
    if (rename(p->root, aside) != 0) {
        rc = pgb_fail(PGBOOT_ERROR,
                      "the installed PostgreSQL bundle %s is damaged (%s) and cannot be moved "
                      "aside: %s",
                      p->root, damage, strerror(errno));
        pgb_hint("remove %s and run 'pgboot fetch'", p->root);
    } else {
        unlink(p->list);
        pgb_rmtree(aside);
        p->repaired = 1;
    }
    free(aside);
    return rc;
}

static int obtain_tarball(plan *p, const pgboot_fetch_options *o, char **url_out,
                          pgboot_bundle_origin *origin)
{
    int rc, match = 0;
    *url_out = NULL;
    uint64_t t0 = pgb_now_ms();
    if (o && o->from_file) {
        *origin = PGBOOT_FROM_FILE;
        rc = pgb_copy_verified(o->from_file, p->tarball, p->digest, &p->timing.verify_ms);
        p->timing.download_ms = (uint32_t)(pgb_now_ms() - t0) - p->timing.verify_ms;
        return rc;
    }
    if (pgb_path_exists(p->tarball)) {
        rc = pgb_file_matches(p->tarball, p->digest, &match);
        p->timing.verify_ms = (uint32_t)(pgb_now_ms() - t0);
        if (rc != 0)
            return rc;
        if (match) {
            *origin = PGBOOT_FROM_TARBALL;
            return 0;
        }
        unlink(p->tarball); /* damaged since it was verified; get it again */
    }
    if (o && o->offline) {
        rc = pgb_fail(PGBOOT_EOFFLINE,
                      "PostgreSQL bundle %s is not in the cache %s and --offline forbids "
                      "downloading it",
                      p->key, p->cache);
        pgb_hint("run 'pgboot fetch' once with network access, or install a tarball with "
                 "--from FILE.tgz");
        return rc;
    }
    char *registry;
    pgboot_registry_source src;
    if ((rc = pgboot_registry_resolve(&registry, &src, o ? o->mirror : NULL)) != 0)
        return rc;
    rc = pgboot_bundle_url(url_out, registry, p->pin);
    free(registry);
    if (rc)
        return rc;
    *origin = PGBOOT_FROM_NETWORK;
    static const pgboot_fetch_options defaults = PGBOOT_FETCH_OPTIONS_INIT;
    t0 = pgb_now_ms();
    rc = pgb_download(*url_out, p->part, p->tarball, p->digest, p->pin->size, o ? o : &defaults,
                      &p->timing.verify_ms);
    p->timing.download_ms = (uint32_t)(pgb_now_ms() - t0) - p->timing.verify_ms;
    return rc;
}

int pgboot_bundle_fetch(pgboot_bundle **out, const pgboot_fetch_options *o)
{
    *out = NULL;
    pgb_error_reset();
    uint64_t started = pgb_now_ms();
    plan p;
    int rc = plan_make(&p, o);
    if (rc) {
        plan_free(&p);
        return rc;
    }
    /* The fast path: no lock, no hashing, one lstat per file of the tree.
     * Every start of a server goes here. */
    char damage[8];
    if (installed(&p) && !(o && o->from_file) &&
        pgb_tree_list_check(p.root, p.list, damage, sizeof damage) == PGB_TREE_OK) {
        rc = bundle_make(out, &p, NULL, PGBOOT_FROM_CACHE);
        plan_free(&p);
        return rc;
    }
    char *locks = pgb_path_join(p.cache, "locks");
    int lockfd = -1;
    if (!locks)
        rc = pgb_fail(PGBOOT_ENOMEM, "out of memory");
    else if ((rc = pgb_mkdir_p(locks, 0755)) == 0)
        rc = pgb_lock(p.lock, &lockfd);
    free(locks);
    char *url = NULL;
    pgboot_bundle_origin origin = PGBOOT_FROM_CACHE;
    if (rc == 0 && installed(&p))
        rc = repair_if_damaged(&p, o, &url, &origin);
    if (rc == 0 && !installed(&p)) {
        remove_stale_tmp(&p);
        if (!p.repaired) /* else the tarball was obtained for the repair */
            rc = obtain_tarball(&p, o, &url, &origin);
        if (rc == 0) {
            rc = install_tree(&p);
            /* A verified tarball that will never install is of no use. */
            if (rc == PGBOOT_EUNSAFE || rc == PGBOOT_EBROKEN)
                unlink(p.tarball);
        }
    } else if (rc == 0 && o && o->from_file) {
        /* Already installed: still check that the given file is the pinned one. */
        int match;
        if ((rc = pgb_file_matches(o->from_file, p.digest, &match)) == 0 && !match) {
            rc = pgb_fail(PGBOOT_EINTEGRITY, "%s does not match the pinned digest %s of %s",
                          o->from_file, p.pin->integrity, p.pin->platform);
        }
        origin = PGBOOT_FROM_CACHE;
    }
    pgb_unlock(lockfd);
    p.timing.total_ms = (uint32_t)(pgb_now_ms() - started);
    if (rc == 0)
        rc = bundle_make(out, &p, url, origin);
    free(url);
    plan_free(&p);
    return rc;
}

int pgboot_bundle_verify(pgboot_bundle **out, const pgboot_fetch_options *o)
{
    *out = NULL;
    pgb_error_reset();
    plan p;
    int rc = plan_make(&p, o);
    if (rc == 0 && !installed(&p)) {
        rc = pgb_fail(PGBOOT_ENOTFOUND, "PostgreSQL bundle %s is not installed in %s", p.key,
                      p.cache);
        pgb_hint("run 'pgboot fetch' first");
    }
    int match = 0;
    if (rc == 0 && (rc = pgb_file_matches(p.tarball, p.digest, &match)) == PGBOOT_ENOTFOUND) {
        pgb_hint("the verified tarball is gone from the cache; run 'pgboot fetch' to get it back");
    }
    if (rc == 0 && !match) {
        rc = pgb_fail(PGBOOT_EINTEGRITY, "cached tarball %s no longer matches the pinned digest %s",
                      p.tarball, p.pin->integrity);
        pgb_hint("delete it and run 'pgboot fetch' again");
    }
    if (rc == 0)
        rc = pgb_verify_tree(p.tarball, p.root);
    if (rc == 0)
        rc = check_runs(p.root, p.pin->pg_version);
    if (rc == 0)
        rc = bundle_make(out, &p, NULL, PGBOOT_FROM_CACHE);
    plan_free(&p);
    return rc;
}

int pgboot_fetch_options_init(pgboot_fetch_options *opts, unsigned int version)
{
    pgb_error_reset();
    int rc = pgb_version_check(version, PGBOOT_FETCH_OPTIONS_VERSION, "pgboot_fetch_options");
    if (rc == 0 && !opts)
        rc = pgb_fail(PGBOOT_EINVALID, "no pgboot_fetch_options to initialise");
    if (rc == 0) {
        /* Only the fields of that version: the caller's struct may be older. */
        pgboot_fetch_options init = PGBOOT_FETCH_OPTIONS_INIT;
        memcpy(opts, &init,
               version == 1 ? offsetof(pgboot_fetch_options, pg_version) : sizeof init);
        opts->version = version;
    }
    return rc;
}
