/* Safe extraction of a verified bundle tarball.
 *
 * Only package/native/ is extracted, into a fresh directory, and nothing in the
 * archive is trusted: every path is checked before anything is written, files
 * are created with O_EXCL|O_NOFOLLOW relative to the destination directory,
 * modes come from us (only the executable bit is taken from the archive), and
 * links are created last, after every regular file exists, so that no file is
 * ever written through a link. Symbolic links may use ".." only as leading
 * components and must resolve inside the tree, lexically and by realpath().
 * The soname links that npm tarballs cannot carry are restored from
 * native/pg-symlinks.json under the same rules. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <jansson.h>

#include "../platform/dynload.h"
#include "bootstrap.h"

#define PREFIX "package/native/"
#define MAX_ENTRIES 200000
#define SYMLINKS_JSON "pg-symlinks.json"

typedef struct {
    char *path;   /* relative to the tree */
    char *target; /* symlink value */
} link_rec;

typedef struct {
    const char *tarball;
    int dirfd;
    uint64_t written;
    uint64_t max_total;
    link_rec *links;
    size_t nlinks, caplinks;
} extractor;

static int refuse(const char *tarball, const char *entry, const char *why)
{
    int rc =
        pgb_fail(PGBOOT_EUNSAFE, "refusing to install %s: entry '%s': %s", tarball, entry, why);
    pgb_hint("the archive is not a PostgreSQL bundle pgboot can trust; nothing was installed");
    return rc;
}

/* The path of an entry relative to package/native/, or NULL (with *skip set)
 * for entries outside it. Any unsafe path anywhere in the archive is refused:
 * a hostile archive is rejected whole, not partly installed. */
static int entry_rel(const char *tarball, const char *name, const char **rel, int *skip)
{
    const char *why;
    *skip = 0;
    while (name[0] == '.' && name[1] == '/')
        name += 2;
    if (pgb_path_is_safe_relative(name, &why) != 0)
        return refuse(tarball, name, why);
    if (!pgb_str_has_prefix(name, PREFIX)) {
        *skip = 1;
        return 0;
    }
    *rel = name + strlen(PREFIX);
    while (**rel == '/')
        (*rel)++;
    if (!**rel)
        *skip = 1;
    return 0;
}

/* The target of a hard link entry, relative to package/native/; a target
 * anywhere else is refused, naming the entry (not the target). */
static int hardlink_target(const char *tarball, const char *entry, const char *target,
                           const char **rel)
{
    const char *why;
    while (target[0] == '.' && target[1] == '/')
        target += 2;
    if (pgb_path_is_safe_relative(target, &why) != 0 || !pgb_str_has_prefix(target, PREFIX) ||
        !target[strlen(PREFIX)]) {
        char msg[600];
        snprintf(msg, sizeof msg, "hard link to '%.400s', outside package/native/", target);
        return refuse(tarball, entry, msg);
    }
    *rel = target + strlen(PREFIX);
    return 0;
}

/* Create the parent directories of rel (relative to dirfd). */
static int make_parents(extractor *x, const char *rel)
{
    char buf[PATH_MAX];
    size_t n = strlen(rel);
    if (n >= sizeof buf)
        return refuse(x->tarball, rel, "path too long");
    memcpy(buf, rel, n + 1);
    for (char *s = buf; (s = strchr(s, '/')) != NULL; s++) {
        *s = '\0';
        if (mkdirat(x->dirfd, buf, 0755) != 0 && errno != EEXIST)
            return pgb_fail(PGBOOT_ERROR, "cannot create directory %s in the cache: %s", buf,
                            strerror(errno));
        struct stat st;
        if (fstatat(x->dirfd, buf, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode))
            return refuse(x->tarball, rel, "a parent of this path is not a directory");
        *s = '/';
    }
    return 0;
}

static int strip_trailing_slashes(char *buf, size_t cap, const char *rel)
{
    size_t n = strlen(rel);
    if (n >= cap)
        return -1;
    memcpy(buf, rel, n + 1);
    while (n > 1 && buf[n - 1] == '/')
        buf[--n] = '\0';
    return 0;
}

/* Does a symlink at `rel` with value `target` stay inside the tree? ".." is
 * allowed only as leading components, so that no link can climb through
 * another link; the climb may not go above the tree's root. */
static int link_stays_inside(const char *rel, const char *target)
{
    if (!*target || target[0] == '/')
        return 0;
    int depth = 0;
    for (const char *s = rel; (s = strchr(s, '/')) != NULL; s++)
        depth++;
    int seen_name = 0;
    const char *s = target;
    while (*s) {
        size_t n = strcspn(s, "/");
        if (n == 2 && s[0] == '.' && s[1] == '.') {
            if (seen_name || --depth < 0)
                return 0;
        } else if (n > 0 && !(n == 1 && s[0] == '.')) {
            seen_name = 1;
            depth++;
        }
        s += n;
        while (*s == '/')
            s++;
    }
    return 1;
}

static int add_link(extractor *x, const char *rel, const char *target)
{
    if (x->nlinks == x->caplinks) {
        size_t cap = x->caplinks ? x->caplinks * 2 : 32;
        link_rec *nl = realloc(x->links, cap * sizeof *nl);
        if (!nl)
            return pgb_fail(PGBOOT_ENOMEM, "out of memory");
        x->links = nl;
        x->caplinks = cap;
    }
    link_rec *l = &x->links[x->nlinks];
    l->path = pgb_strdup(rel);
    l->target = pgb_strdup(target);
    if (!l->path || !l->target) {
        free(l->path);
        free(l->target);
        return pgb_fail(PGBOOT_ENOMEM, "out of memory");
    }
    x->nlinks++;
    return 0;
}

static int write_file(extractor *x, struct archive *a, struct archive_entry *e, const char *rel)
{
    int rc = make_parents(x, rel);
    if (rc)
        return rc;
    mode_t mode = (archive_entry_perm(e) & 0111) ? 0755 : 0644;
    int fd = openat(x->dirfd, rel, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0) {
        if (errno == EEXIST)
            return refuse(x->tarball, rel, "appears twice in the archive");
        return pgb_fail(PGBOOT_ERROR, "cannot create %s in the cache: %s", rel, strerror(errno));
    }
    const void *buf;
    size_t size;
    la_int64_t offset;
    int r;
    while ((r = archive_read_data_block(a, &buf, &size, &offset)) == ARCHIVE_OK) {
        /* Count what is written, not what the header claims. */
        x->written += size;
        if (x->written > x->max_total) {
            close(fd);
            char why[160];
            snprintf(why, sizeof why,
                     "the bundle unpacks to more than %llu bytes, far above its pinned size",
                     (unsigned long long)x->max_total);
            return refuse(x->tarball, rel, why);
        }
        for (size_t w = 0; w < size;) {
            ssize_t n = pwrite(fd, (const char *)buf + w, size - w, (off_t)(offset + (off_t)w));
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0) {
                int err = errno;
                close(fd);
                rc = pgb_fail(PGBOOT_ERROR, "cannot write %s in the cache: %s", rel, strerror(err));
                if (err == ENOSPC)
                    pgb_hint("free some disk space or use another --cache-dir");
                return rc;
            }
            w += (size_t)n;
        }
    }
    if (r != ARCHIVE_EOF) {
        rc = pgb_fail(PGBOOT_ERROR, "cannot read entry %s of %s: %s", rel, x->tarball,
                      archive_error_string(a));
        close(fd);
        return rc;
    }
    /* Sparse entries end in a hole: give the file its full length. */
    if (ftruncate(fd, (off_t)archive_entry_size(e)) != 0) {
        close(fd);
        return pgb_fail(PGBOOT_ERROR, "cannot write %s in the cache: %s", rel, strerror(errno));
    }
    close(fd);
    return 0;
}

static int do_entry(extractor *x, struct archive *a, struct archive_entry *e, const char *rel)
{
    const char *hard = archive_entry_hardlink(e);
    mode_t type = archive_entry_filetype(e);
    mode_t mode = archive_entry_mode(e);
    if (mode & (S_ISUID | S_ISGID))
        return refuse(x->tarball, rel, "setuid/setgid bit");
    if (archive_entry_size_is_set(e) && (uint64_t)archive_entry_size(e) > x->max_total)
        return refuse(x->tarball, rel, "entry larger than the whole bundle may be");

    if (hard) {
        const char *trel = NULL;
        int rc = hardlink_target(x->tarball, rel, hard, &trel);
        if (rc)
            return rc;
        struct stat st;
        if (fstatat(x->dirfd, trel, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
            return refuse(x->tarball, rel, "hard link to something that is not a file before it");
        if ((rc = make_parents(x, rel)) != 0)
            return rc;
        if (linkat(x->dirfd, trel, x->dirfd, rel, 0) != 0) {
            if (errno == EEXIST)
                return refuse(x->tarball, rel, "appears twice in the archive");
            return pgb_fail(PGBOOT_ERROR, "cannot link %s in the cache: %s", rel, strerror(errno));
        }
        return 0;
    }
    switch (type) {
    case AE_IFREG:
        return write_file(x, a, e, rel);
    case AE_IFDIR: {
        char buf[PATH_MAX];
        if (strip_trailing_slashes(buf, sizeof buf, rel) != 0)
            return refuse(x->tarball, rel, "path too long");
        int rc = make_parents(x, buf);
        if (rc)
            return rc;
        if (mkdirat(x->dirfd, buf, 0755) != 0 && errno != EEXIST)
            return pgb_fail(PGBOOT_ERROR, "cannot create directory %s in the cache: %s", buf,
                            strerror(errno));
        return 0;
    }
    case AE_IFLNK: {
        const char *target = archive_entry_symlink(e);
        if (!target || !link_stays_inside(rel, target))
            return refuse(x->tarball, rel, "symbolic link pointing outside the bundle");
        return add_link(x, rel, target);
    }
    case AE_IFCHR:
    case AE_IFBLK:
        return refuse(x->tarball, rel, "device file");
    case AE_IFIFO:
        return refuse(x->tarball, rel, "named pipe");
    case AE_IFSOCK:
        return refuse(x->tarball, rel, "socket");
    default:
        return refuse(x->tarball, rel, "unknown entry type");
    }
}

/* The next entry of an open archive in *e (NULL at its end): 0, or an error
 * naming the tarball. */
static int next_entry(struct archive *a, struct archive_entry **e, const char *tarball)
{
    int r = archive_read_next_header(a, e);
    if (r == ARCHIVE_EOF)
        *e = NULL;
    else if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
        return pgb_fail(PGBOOT_ERROR, "cannot read %s: %s", tarball, archive_error_string(a));
    return 0;
}

static int open_archive(struct archive **out, const char *tarball)
{
    struct archive *a = archive_read_new();
    if (!a)
        return pgb_fail(PGBOOT_ENOMEM, "out of memory");
    archive_read_support_filter_gzip(a);
    archive_read_support_format_tar(a);
    if (archive_read_open_filename(a, tarball, 256 * 1024) != ARCHIVE_OK) {
        int rc = pgb_fail(PGBOOT_ERROR, "cannot open %s: %s", tarball, archive_error_string(a));
        archive_read_free(a);
        return rc;
    }
    *out = a;
    return 0;
}

/* The symlink value that makes `target` (a path in the tree) point to
 * `source` (another path in the tree). */
static char *relative_link(const char *target, const char *source)
{
    const char *ts = strrchr(target, '/');
    const char *ss = strrchr(source, '/');
    size_t tdir = ts ? (size_t)(ts - target) : 0;
    size_t sdir = ss ? (size_t)(ss - source) : 0;
    if (tdir == sdir && strncmp(target, source, tdir) == 0)
        return pgb_strdup(ss ? ss + 1 : source);
    int depth = 0;
    for (const char *s = target; (s = strchr(s, '/')) != NULL; s++)
        depth++;
    size_t n = (size_t)depth * 3 + strlen(source) + 1;
    char *v = malloc(n);
    if (!v)
        return NULL;
    v[0] = '\0';
    for (int i = 0; i < depth; i++)
        strcat(v, "../");
    strcat(v, source);
    return v;
}

static int json_path(const char *tarball, json_t *item, const char *key, const char **rel)
{
    const char *v = json_string_value(json_object_get(item, key));
    const char *why;
    if (!v)
        return refuse(tarball, "native/" SYMLINKS_JSON, "an entry lacks source or target");
    if (pgb_path_is_safe_relative(v, &why) != 0)
        return refuse(tarball, v, why);
    if (!pgb_str_has_prefix(v, "native/") || !v[7])
        return refuse(tarball, v, "points outside native/");
    *rel = v + 7;
    return 0;
}

/* Restore the soname links listed in native/pg-symlinks.json. */
static int read_symlinks_json(extractor *x)
{
    struct stat st;
    if (fstatat(x->dirfd, SYMLINKS_JSON, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return 0; /* a bundle without soname links */
    int fd = openat(x->dirfd, SYMLINKS_JSON, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 || !S_ISREG(st.st_mode) || st.st_size > (1 << 20)) {
        if (fd >= 0)
            close(fd);
        return refuse(x->tarball, "native/" SYMLINKS_JSON, "not a small regular file");
    }
    json_error_t jerr;
    json_t *root = json_loadfd(fd, 0, &jerr);
    close(fd);
    if (!json_is_array(root)) {
        json_decref(root);
        return refuse(x->tarball, "native/" SYMLINKS_JSON, "not a JSON array");
    }
    int rc = 0;
    size_t i;
    json_t *item;
    json_array_foreach(root, i, item)
    {
        const char *src, *dst;
        if ((rc = json_path(x->tarball, item, "source", &src)) ||
            (rc = json_path(x->tarball, item, "target", &dst)))
            break;
        if (fstatat(x->dirfd, src, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) {
            rc = refuse(x->tarball, src, "pg-symlinks.json names a source that is not a file");
            break;
        }
        char *value = relative_link(dst, src);
        if (!value) {
            rc = pgb_fail(PGBOOT_ENOMEM, "out of memory");
            break;
        }
        if (!link_stays_inside(dst, value))
            rc = refuse(x->tarball, dst, "pg-symlinks.json link pointing outside the bundle");
        else
            rc = add_link(x, dst, value);
        free(value);
        if (rc)
            break;
    }
    json_decref(root);
    return rc;
}

static int create_links(extractor *x, const char *dest)
{
    char *real_root = realpath(dest, NULL);
    if (!real_root)
        return pgb_fail(PGBOOT_ERROR, "cannot resolve %s: %s", dest, strerror(errno));
    size_t rl = strlen(real_root);
    int rc = 0;
    for (size_t i = 0; i < x->nlinks && rc == 0; i++) {
        link_rec *l = &x->links[i];
        if ((rc = make_parents(x, l->path)) != 0)
            break;
        if (symlinkat(l->target, x->dirfd, l->path) != 0) {
            rc = errno == EEXIST ? refuse(x->tarball, l->path, "appears twice in the archive")
                                 : pgb_fail(PGBOOT_ERROR, "cannot create link %s: %s", l->path,
                                            strerror(errno));
            break;
        }
    }
    /* Belt and braces: every link that resolves must resolve inside. */
    for (size_t i = 0; i < x->nlinks && rc == 0; i++) {
        char *full = pgb_path_join(dest, x->links[i].path);
        char *real = full ? realpath(full, NULL) : NULL;
        if (real && !(strncmp(real, real_root, rl) == 0 && (real[rl] == '/' || !real[rl])))
            rc = refuse(x->tarball, x->links[i].path, "link resolves outside the bundle");
        free(real);
        free(full);
    }
    free(real_root);
    return rc;
}

static int make_read_only(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)ftw;
    if (flag == FTW_SL || flag == FTW_SLN)
        return 0;
    mode_t m = S_ISDIR(st->st_mode) ? 0555 : ((st->st_mode & 0100) ? 0555 : 0444);
    return chmod(path, m);
}

int pgb_extract_bundle(const char *tarball, const char *dest, uint64_t max_total)
{
    if (pgb_need_lib(PGB_LIB_ARCHIVE) != 0)
        return PGBOOT_EBROKEN;
    if (mkdir(dest, 0755) != 0)
        return pgb_fail(PGBOOT_ERROR, "cannot create %s: %s", dest, strerror(errno));
    extractor x = {.tarball = tarball, .max_total = max_total};
    x.dirfd = open(dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (x.dirfd < 0)
        return pgb_fail(PGBOOT_ERROR, "cannot open %s: %s", dest, strerror(errno));
    struct archive *a = NULL;
    int rc = open_archive(&a, tarball);
    size_t entries = 0;
    struct archive_entry *e;
    while (rc == 0 && (rc = next_entry(a, &e, tarball)) == 0 && e) {
        if (++entries > MAX_ENTRIES) {
            rc = refuse(tarball, archive_entry_pathname(e), "too many entries");
            break;
        }
        const char *name = archive_entry_pathname(e);
        const char *rel = NULL;
        int skip;
        if (!name) {
            rc = refuse(tarball, "(unnamed)", "entry without a name");
            break;
        }
        if ((rc = entry_rel(tarball, name, &rel, &skip)) != 0)
            break;
        if (skip) {
            /* Outside native/ and not extracted, but the archive must still
             * be harmless as a whole. */
            const char *hard = archive_entry_hardlink(e), *why;
            if (hard && pgb_path_is_safe_relative(
                            hard[0] == '.' && hard[1] == '/' ? hard + 2 : hard, &why) != 0) {
                char msg[600];
                snprintf(msg, sizeof msg, "hard link to '%.400s': %s", hard, why);
                rc = refuse(tarball, name, msg);
                break;
            }
            continue;
        }
        rc = do_entry(&x, a, e, rel);
    }
    if (a)
        archive_read_free(a);
    if (rc == 0)
        rc = read_symlinks_json(&x);
    if (rc == 0)
        rc = create_links(&x, dest);
    if (rc == 0 && nftw(dest, make_read_only, 32, FTW_PHYS | FTW_DEPTH) != 0)
        rc = pgb_fail(PGBOOT_ERROR, "cannot make %s read-only: %s", dest, strerror(errno));
    for (size_t i = 0; i < x.nlinks; i++) {
        free(x.links[i].path);
        free(x.links[i].target);
    }
    free(x.links);
    close(x.dirfd);
    return rc;
}

/* ---- verification of an installed tree --------------------------------- */

typedef struct {
    char **paths;
    size_t n, cap;
} pathset;

static int pathset_add(pathset *s, const char *p)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1024;
        char **np = realloc(s->paths, cap * sizeof *np);
        if (!np)
            return pgb_fail(PGBOOT_ENOMEM, "out of memory");
        s->paths = np;
        s->cap = cap;
    }
    if (!(s->paths[s->n] = pgb_strdup(p)))
        return pgb_fail(PGBOOT_ENOMEM, "out of memory");
    s->n++;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static _Thread_local struct {
    pathset *expected;
    size_t root_len;
    char *unexpected;
} walk;

static int check_listed(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (flag == FTW_D || flag == FTW_DP || strlen(path) <= walk.root_len)
        return 0;
    const char *rel = path + walk.root_len + 1;
    if (!bsearch(&rel, walk.expected->paths, walk.expected->n, sizeof(char *), cmp_str)) {
        walk.unexpected = pgb_strdup(rel);
        return 1;
    }
    return 0;
}

static int tree_differs(const char *root, const char *rel, const char *why)
{
    int rc = pgb_fail(PGBOOT_EINTEGRITY,
                      "installed tree %s differs from its verified tarball: "
                      "%s: %s",
                      root, rel, why);
    pgb_hint("remove the tree (chmod -R u+w DIR && rm -rf DIR) and run 'pgboot fetch' again");
    return rc;
}

static int compare_file(struct archive *a, int dirfd, const char *root, const char *rel,
                        struct archive_entry *e)
{
    struct stat st;
    if (fstatat(dirfd, rel, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return tree_differs(root, rel, "missing");
    if (!S_ISREG(st.st_mode))
        return tree_differs(root, rel, "not a regular file");
    if ((uint64_t)st.st_size != (uint64_t)archive_entry_size(e))
        return tree_differs(root, rel, "size differs");
    if (st.st_mode & 0222)
        return tree_differs(root, rel, "writable (the tree must be read-only)");
    if (!!(st.st_mode & 0100) != !!(archive_entry_perm(e) & 0111))
        return tree_differs(root, rel, "executable bit differs");
    int fd = openat(dirfd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return tree_differs(root, rel, strerror(errno));
    char *mine = malloc(64 * 1024);
    char *theirs = malloc(64 * 1024);
    int rc = 0;
    if (!mine || !theirs) {
        rc = pgb_fail(PGBOOT_ENOMEM, "out of memory");
    } else {
        for (;;) {
            la_ssize_t n = archive_read_data(a, theirs, 64 * 1024);
            if (n < 0) {
                rc = pgb_fail(PGBOOT_ERROR, "cannot read %s from the tarball: %s", rel,
                              archive_error_string(a));
                break;
            }
            if (n == 0)
                break;
            size_t got = 0;
            while (got < (size_t)n) {
                ssize_t r = read(fd, mine + got, (size_t)n - got);
                if (r < 0 && errno == EINTR)
                    continue;
                if (r <= 0)
                    break;
                got += (size_t)r;
            }
            if (got != (size_t)n || memcmp(mine, theirs, (size_t)n) != 0) {
                rc = tree_differs(root, rel, "content differs");
                break;
            }
        }
    }
    free(mine);
    free(theirs);
    close(fd);
    return rc;
}

int pgb_verify_tree(const char *tarball, const char *root)
{
    if (pgb_need_lib(PGB_LIB_ARCHIVE) != 0)
        return PGBOOT_EBROKEN;
    int dirfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0)
        return pgb_fail(PGBOOT_ENOTFOUND, "cannot open the installed tree %s: %s", root,
                        strerror(errno));
    pathset expected = {0};
    struct archive *a = NULL;
    int rc = open_archive(&a, tarball);
    struct archive_entry *e;
    while (rc == 0 && (rc = next_entry(a, &e, tarball)) == 0 && e) {
        const char *rel;
        int skip;
        if ((rc = entry_rel(tarball, archive_entry_pathname(e), &rel, &skip)) != 0 || skip)
            continue;
        char buf[PATH_MAX];
        if (strip_trailing_slashes(buf, sizeof buf, rel) != 0)
            continue;
        struct stat st;
        if (archive_entry_hardlink(e) || archive_entry_filetype(e) == AE_IFREG) {
            rc = compare_file(a, dirfd, root, buf, e);
            if (rc == 0 && archive_entry_hardlink(e) && !archive_entry_size_is_set(e))
                rc = 0;
        } else if (archive_entry_filetype(e) == AE_IFDIR) {
            if (fstatat(dirfd, buf, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode))
                rc = tree_differs(root, buf, "directory missing");
            continue;
        } else if (archive_entry_filetype(e) == AE_IFLNK) {
            char value[PATH_MAX];
            ssize_t n = readlinkat(dirfd, buf, value, sizeof value - 1);
            if (n < 0)
                rc = tree_differs(root, buf, "link missing");
            else if ((value[n] = '\0', strcmp(value, archive_entry_symlink(e)) != 0))
                rc = tree_differs(root, buf, "link points elsewhere");
        }
        if (rc == 0)
            rc = pathset_add(&expected, buf);
    }
    if (a)
        archive_read_free(a);
    /* The soname links restored at install time. */
    if (rc == 0) {
        json_error_t jerr;
        char *jpath = pgb_path_join(root, SYMLINKS_JSON);
        json_t *links = jpath ? json_load_file(jpath, 0, &jerr) : NULL;
        free(jpath);
        size_t i;
        json_t *item;
        json_array_foreach(links, i, item)
        {
            const char *t = json_string_value(json_object_get(item, "target"));
            const char *s = json_string_value(json_object_get(item, "source"));
            if (!t || !s || !pgb_str_has_prefix(t, "native/") || !pgb_str_has_prefix(s, "native/"))
                continue;
            char value[PATH_MAX];
            char *want = relative_link(t + 7, s + 7);
            ssize_t n = readlinkat(dirfd, t + 7, value, sizeof value - 1);
            if (n < 0)
                rc = tree_differs(root, t + 7, "soname link missing");
            else if (value[n] = '\0', !want || strcmp(value, want) != 0)
                rc = tree_differs(root, t + 7, "soname link points elsewhere");
            free(want);
            if (rc || (rc = pathset_add(&expected, t + 7)) != 0)
                break;
        }
        json_decref(links);
    }
    /* Nothing may have been added. */
    if (rc == 0) {
        qsort(expected.paths, expected.n, sizeof(char *), cmp_str);
        walk.expected = &expected;
        walk.root_len = strlen(root);
        walk.unexpected = NULL;
        nftw(root, check_listed, 32, FTW_PHYS);
        if (walk.unexpected)
            rc = tree_differs(root, walk.unexpected, "not part of the bundle");
        free(walk.unexpected);
        walk.unexpected = NULL;
    }
    for (size_t i = 0; i < expected.n; i++)
        free(expected.paths[i]);
    free(expected.paths);
    close(dirfd);
    return rc;
}
