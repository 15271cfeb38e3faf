/* What the bundle cache holds (pgboot cache list) and the removal of bundles
 * no one uses (pgboot cache prune). See bundle.c for the layout; a bundle's
 * last use is the mtime of <cache>/<key>.used, touched by every start that
 * uses it (pgboot_bundle_mark_used), else the install time of its list or
 * tree. A bundle is in use while a live process runs a program of its tree
 * (/proc/<pid>/exe). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "bootstrap.h"

/* The minimum age of a prune: a start records its use before it launches
 * postgres, so for a moment the bundle is needed and nothing runs from it. */
#define PRUNE_MIN_AGE_S 60

/* A cache key: <platform>-<package version>-<16 hex digits>. */
static int is_key(const char *name)
{
    size_t n = strlen(name);
    if (name[0] == '.' || n < 20 || name[n - 17] != '-')
        return 0;
    for (size_t i = n - 16; i < n; i++)
        if (!strchr("0123456789abcdef", name[i]))
            return 0;
    /* the version starts at the first '-' followed by a digit */
    const char *v = name;
    while ((v = strchr(v, '-')) != NULL && !(v[1] >= '0' && v[1] <= '9'))
        v++;
    return v && v != name && v < name + n - 17;
}

static void entry_free(pgboot_cache_entry *e)
{
    free(e->name);
    free(e->platform);
    free(e->package_version);
    free(e->pg_version);
    free(e->root);
}

void pgboot_cache_entries_free(pgboot_cache_entry *entries, size_t count)
{
    for (size_t i = 0; entries && i < count; i++)
        entry_free(&entries[i]);
    free(entries);
}

static int64_t mtime_of(const char *path)
{
    struct stat st;
    return path && lstat(path, &st) == 0 ? (int64_t)st.st_mtime : 0;
}

static uint64_t size_of(const char *path)
{
    struct stat st;
    return path && lstat(path, &st) == 0 ? (uint64_t)st.st_blocks * 512 : 0;
}

/* The bytes of the template clusters of `key` (<cache>/templates/<key>-*). */
static uint64_t templates_size(const char *cache, const char *key)
{
    char *dir = pgb_path_join(cache, "templates");
    DIR *d = dir ? opendir(dir) : NULL;
    uint64_t total = 0;
    struct dirent *e;
    size_t n = strlen(key);
    while (d && (e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, key, n) != 0 || e->d_name[n] != '-')
            continue;
        char *path = pgb_path_join(dir, e->d_name);
        uint64_t bytes = 0;
        if (path && pgb_tree_disk_usage(path, &bytes) == 0)
            total += bytes;
        free(path);
    }
    if (d)
        closedir(d);
    free(dir);
    return total;
}

static int entry_make(pgboot_cache_entry *e, const char *cache, const char *key)
{
    memset(e, 0, sizeof *e);
    const char *v = key;
    while ((v = strchr(v, '-')) != NULL && !(v[1] >= '0' && v[1] <= '9'))
        v++;
    size_t klen = strlen(key);
    e->name = pgb_strdup(key);
    e->platform = pgb_printf("%.*s", (int)(v - key), key);
    e->package_version = pgb_printf("%.*s", (int)(key + klen - 17 - (v + 1)), v + 1);
    e->root = pgb_path_join(cache, key);
    char *tgz = e->root ? pgb_printf("%s.tgz", e->root) : NULL;
    char *list = e->root ? pgb_printf("%s.tree", e->root) : NULL;
    char *used = e->root ? pgb_printf("%s.used", e->root) : NULL;
    int rc = 0;
    if (!e->name || !e->platform || !e->package_version || !e->root || !tgz || !list || !used) {
        rc = pgb_fail(PGBOOT_ENOMEM, "out of memory");
    } else {
        /* "17.10.0-beta.17" -> "17.10" */
        const char *pv = e->package_version;
        size_t a = strspn(pv, "0123456789");
        size_t b = pv[a] == '.' ? strspn(pv + a + 1, "0123456789") : 0;
        e->pg_version = pgb_printf("%.*s", (int)(b ? a + 1 + b : a), pv);
        uint64_t tree = 0;
        if (pgb_is_dir(e->root) && pgb_tree_disk_usage(e->root, &tree) != 0)
            tree = 0;
        e->bytes = tree + size_of(tgz) + size_of(list) + templates_size(cache, key);
        e->last_used = mtime_of(used);
        if (!e->last_used)
            e->last_used = mtime_of(list);
        if (!e->last_used)
            e->last_used = mtime_of(e->root);
        if (!e->last_used)
            e->last_used = mtime_of(tgz);
        e->in_use_pid = pgb_is_dir(e->root) ? pgb_pid_running_from(e->root) : 0;
        if (!e->pg_version)
            rc = pgb_fail(PGBOOT_ENOMEM, "out of memory");
    }
    free(tgz);
    free(list);
    free(used);
    if (rc)
        entry_free(e);
    return rc;
}

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const pgboot_cache_entry *)a)->name, ((const pgboot_cache_entry *)b)->name);
}

/* The keys in the cache: installed trees and tarballs kept without one. */
static int list_keys(const char *cache, char ***keys, size_t *n)
{
    *keys = NULL;
    *n = 0;
    DIR *d = opendir(cache);
    if (!d) {
        if (errno == ENOENT)
            return 0;
        return pgb_fail(PGBOOT_ERROR, "cannot read the bundle cache %s: %s", cache,
                        strerror(errno));
    }
    size_t cap = 0;
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        char name[256];
        snprintf(name, sizeof name, "%s", e->d_name);
        size_t len = strlen(name);
        if (len > 4 && !strcmp(name + len - 4, ".tgz"))
            name[len - 4] = '\0';
        else if (e->d_type != DT_DIR && e->d_type != DT_UNKNOWN)
            continue;
        if (!is_key(name))
            continue;
        int dup = 0;
        for (size_t i = 0; i < *n && !dup; i++)
            dup = !strcmp((*keys)[i], name);
        if (dup)
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            char **grown = realloc(*keys, cap * sizeof **keys);
            if (!grown) {
                rc = pgb_fail(PGBOOT_ENOMEM, "out of memory");
                break;
            }
            *keys = grown;
        }
        if (!((*keys)[*n] = pgb_strdup(name)))
            rc = pgb_fail(PGBOOT_ENOMEM, "out of memory");
        else
            (*n)++;
    }
    closedir(d);
    return rc;
}

static void keys_free(char **keys, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(keys[i]);
    free(keys);
}

int pgboot_cache_list(pgboot_cache_entry **out, size_t *count, const pgboot_fetch_options *opts)
{
    *out = NULL;
    *count = 0;
    pgb_error_reset();
    char *cache = NULL, **keys = NULL;
    size_t n = 0;
    int rc = pgboot_cache_dir(&cache, opts);
    if (rc == 0)
        rc = list_keys(cache, &keys, &n);
    pgboot_cache_entry *entries = NULL;
    if (rc == 0 && n && !(entries = calloc(n, sizeof *entries)))
        rc = pgb_fail(PGBOOT_ENOMEM, "out of memory");
    size_t made = 0;
    for (size_t i = 0; rc == 0 && i < n; i++)
        if ((rc = entry_make(&entries[made], cache, keys[i])) == 0)
            made++;
    if (rc) {
        pgboot_cache_entries_free(entries, made);
    } else if (made) {
        qsort(entries, made, sizeof *entries, cmp_entry);
        *out = entries;
        *count = made;
    }
    keys_free(keys, n);
    free(cache);
    return rc;
}

/* Under the bundle's lock: everything of `key`, the tree first (moved aside
 * under the name of an extraction in progress, so that a removal cut short
 * is cleaned up like one), then its tarball, list, stamp and templates. */
static int remove_bundle(const char *cache, const char *key)
{
    char rnd[9];
    pgb_random_name(rnd, sizeof rnd);
    char *root = pgb_path_join(cache, key);
    char *aside = pgb_printf("%s/.tmp-%s-%s", cache, key, rnd);
    char *tgz = root ? pgb_printf("%s.tgz", root) : NULL;
    char *part = root ? pgb_printf("%s.tgz.part", root) : NULL;
    char *list = root ? pgb_printf("%s.tree", root) : NULL;
    char *used = root ? pgb_printf("%s.used", root) : NULL;
    char *templates = pgb_path_join(cache, "templates");
    char *prefix = pgb_printf("%s-", key);
    int rc = 0;
    if (!root || !aside || !tgz || !part || !list || !used || !templates || !prefix) {
        rc = pgb_fail(PGBOOT_ENOMEM, "out of memory");
    } else if (pgb_is_dir(root) && rename(root, aside) != 0) {
        rc = pgb_fail(PGBOOT_ERROR, "cannot move the bundle %s aside to remove it: %s", root,
                      strerror(errno));
    } else {
        /* The list goes with the tree: a tree without its list would be
         * taken for an older pgboot's. */
        if (pgb_rmtree(aside) != 0 || pgb_rmtree(list) != 0 || pgb_rmtree(tgz) != 0 ||
            pgb_rmtree(part) != 0 || pgb_rmtree(used) != 0)
            rc = pgb_fail(PGBOOT_ERROR, "cannot remove all of the bundle %s: %s", root,
                          strerror(errno));
        pgb_remove_matching(templates, prefix);
    }
    free(root);
    free(aside);
    free(tgz);
    free(part);
    free(list);
    free(used);
    free(templates);
    free(prefix);
    return rc;
}

int pgboot_cache_prune(pgboot_cache_entry **removed, size_t *count,
                       const pgboot_fetch_options *opts, uint64_t older_than_s)
{
    *removed = NULL;
    *count = 0;
    pgb_error_reset();
    if (older_than_s < PRUNE_MIN_AGE_S) {
        int rc = pgb_fail(PGBOOT_EINVALID,
                          "a prune keeps bundles used in the last %d seconds (a start in "
                          "progress may be about to run one)",
                          PRUNE_MIN_AGE_S);
        pgb_hint("give --older-than 1m or more");
        return rc;
    }
    pgboot_cache_entry *all = NULL;
    size_t n = 0;
    int rc = pgboot_cache_list(&all, &n, opts);
    if (rc)
        return rc;
    char *cache = NULL;
    if ((rc = pgboot_cache_dir(&cache, opts)) != 0) {
        pgboot_cache_entries_free(all, n);
        return rc;
    }
    int64_t cutoff = (int64_t)time(NULL) - (int64_t)older_than_s;
    size_t gone = 0;
    for (size_t i = 0; i < n; i++) {
        pgboot_cache_entry *e = &all[i];
        int take = 0;
        if (rc == 0 && !e->in_use_pid && e->last_used <= cutoff) {
            char *lock = pgb_printf("%s/locks/%s.lock", cache, e->name);
            char *locks = pgb_path_join(cache, "locks");
            int fd = -1;
            if (!lock || !locks)
                rc = pgb_fail(PGBOOT_ENOMEM, "out of memory");
            else if ((rc = pgb_mkdir_p(locks, 0755)) == 0 && (rc = pgb_lock(lock, &fd)) == 0) {
                /* Again under the lock: a start may have come meanwhile. */
                pgboot_cache_entry now;
                if ((rc = entry_make(&now, cache, e->name)) == 0) {
                    take = !now.in_use_pid && now.last_used <= cutoff;
                    entry_free(&now);
                }
                if (rc == 0 && take)
                    rc = remove_bundle(cache, e->name);
                pgb_unlock(fd);
            }
            free(lock);
            free(locks);
        }
        if (take && rc == 0)
            all[gone++] = *e; /* gone <= i: a slot already handled */
        else
            entry_free(e);
    }
    free(cache);
    if (gone == 0) {
        free(all);
        return rc;
    }
    *removed = all;
    *count = gone;
    return rc;
}
