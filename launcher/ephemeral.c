/* Throwaway clusters for tests.
 *
 * Where things are:
 *   <cache>/templates/<bundle>-t3/data      the template cluster: initdb once per bundle
 *   <cache>/templates/<bundle>-t3/password  the superuser's password
 *   <base>/eph-XXXXXX/                     one ephemeral cluster: data/, s/ (socket),
 *                                          owner (pids, for the reaper)
 *   <base>/spare-<tpl>-<rand>/             a ready copy of a template's data
 *   <base>/.spare-tmp-<pid>-<rand>/        a copy in progress
 * with <base> = <tmp>/pgboot-<uid>, <tmp> being $TMPDIR, else /dev/shm (a
 * tmpfs: the copy takes ~45 ms there against hundreds on a disk), else /tmp.
 *
 * Speed: an ephemeral cluster claims a spare copy by rename(2) when one is
 * ready, else copies the template; starts postgres with durability off; and
 * asks a detached background process to prepare the next spare.
 *
 * Cleanup: postgres runs under the supervisor of child mode, which removes
 * the directory once postgres has exited, and stops postgres (immediately)
 * when the owner dies. Should the supervisor die too, the next call reaps
 * directories whose owner and postmaster are both gone. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <sodium.h>

#include "../platform/dynload.h"
#include "launcher.h"

/* t2: data checksums on by default (issue 12); t3: the superuser's verifier with
 * pgboot's SCRAM iterations (scram.c). */
#define TEMPLATE_CLUSTER_VERSION "t3"
#define SPARES_WANTED 2
#define SPARE_MAX_AGE_S 600
#define SUN_PATH_MAX 107
#define SOCKET_NAME "/.s.PGSQL.65535"
#define PASSWORD_LEN 32

int pgboot_server_is_ephemeral(const pgboot_server *s)
{
    return s->ephemeral_dir != NULL;
}

/* Room a cluster needs beyond its template's size: one more WAL segment,
 * what a test writing data takes first. */
#define CLUSTER_HEADROOM ((uint64_t)16 << 20)
#define MB(x) ((unsigned long long)((x) >> 20))

/* Where throwaway clusters may go, best first: the one the caller chose
 * (--tmp-dir, else $TMPDIR; then only that one), else /dev/shm (a tmpfs) if
 * writable, then /tmp. */
static int tmp_roots(const pgboot_ephemeral_options *o, const char *roots[2])
{
    const char *t = getenv("TMPDIR");
    if (o->tmp_dir) {
        roots[0] = o->tmp_dir;
        return 1;
    }
    if (t && t[0] == '/') {
        roots[0] = t;
        return 1;
    }
    if (pgb_fs_is_tmpfs("/dev/shm")) {
        roots[0] = "/dev/shm";
        roots[1] = "/tmp";
        return 2;
    }
    roots[0] = "/tmp";
    return 1;
}

/* <root>/pgboot-<uid>, private and ours. */
static int base_dir(const char *root, char **out)
{
    *out = pgb_printf("%s/pgboot-%u", root, (unsigned)geteuid());
    if (!*out)
        return pgb_fail(PGBOOT_ENOMEM, "out of memory");
    if (mkdir(*out, 0700) != 0 && errno != EEXIST) {
        int rc = pgb_fail(PGBOOT_ERROR, "cannot create %s: %s", *out, strerror(errno));
        pgb_hint("choose another temporary directory with TMPDIR or --tmp-dir");
        return rc;
    }
    struct stat st;
    if (lstat(*out, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid()) {
        int rc = pgb_fail(PGBOOT_EBUSY, "%s is not a directory of this user", *out);
        pgb_hint("remove it, or choose another temporary directory with TMPDIR");
        return rc;
    }
    if ((st.st_mode & 0777) != 0700 && chmod(*out, 0700) != 0) {
        int rc = pgb_fail(PGBOOT_ERROR, "cannot make %s private: %s", *out, strerror(errno));
        pgb_hint("remove it, or choose another temporary directory with TMPDIR or --tmp-dir");
        return rc;
    }
    return 0;
}

/* ---- the template cluster -------------------------------------------------------- */

static int read_password(const char *dir, char **out)
{
    char *path = pgb_path_join(dir, "password");
    size_t len = 0;
    int rc = path ? pgb_read_file(path, out, &len, 256) : pgb_fail(PGBOOT_ENOMEM, "out of memory");
    free(path);
    if (rc == 0)
        (*out)[strcspn(*out, "\n")] = '\0';
    return rc;
}

static int template_cluster_ready(const char *dir)
{
    char *v = pgb_path_join(dir, "data/PG_VERSION");
    char *p = pgb_path_join(dir, "password");
    int yes = v && p && pgb_path_exists(v) && pgb_path_exists(p);
    free(v);
    free(p);
    return yes;
}

/* The template cluster for this bundle (initdb once, under a lock), then reused:
 * not to be confused with the template databases of testdb.c. */
/* The template's name for a set of creation options: none for the defaults,
 * else a digest of them ("-" and 16 hex digits). */
static void options_key(const pgb_cluster_opts *co, char key[18])
{
    key[0] = '\0';
    if (!co->locale && !co->encoding && co->data_checksums >= 0)
        return;
    char *text = pgb_printf("%s|%s|%d", pgb_cluster_locale(co), co->encoding ? co->encoding : "",
                            co->data_checksums >= 0);
    unsigned char h[8];
    crypto_generichash(h, sizeof h, (const unsigned char *)(text ? text : ""),
                       text ? strlen(text) : 0, NULL, 0);
    free(text);
    key[0] = '-';
    pgb_hex(key + 1, h, sizeof h);
}

static int template_cluster_ensure(const pgboot_bundle *b, const pgboot_fetch_options *fo,
                                   const pgb_cluster_opts *co, char **dir_out, char **password)
{
    char *cache = NULL, *dir = NULL, *lock = NULL, *tmp = NULL, *data = NULL, *pwfile = NULL;
    int rc = pgboot_cache_dir(&cache, fo), lockfd = -1;
    if (rc)
        return rc;
    const char *root = pgboot_bundle_root(b);
    const char *bundle_key = strrchr(root, '/') ? strrchr(root, '/') + 1 : root;
    char key[18];
    options_key(co, key);
    dir = pgb_printf("%s/templates/%s-%s%s", cache, bundle_key, TEMPLATE_CLUSTER_VERSION, key);
    lock = pgb_printf("%s/locks/template-%s-%s%s.lock", cache, bundle_key, TEMPLATE_CLUSTER_VERSION,
                      key);
    if (!dir || !lock) {
        rc = pgb_fail(PGBOOT_ENOMEM, "out of memory");
        goto done;
    }
    if (template_cluster_ready(dir))
        goto found;
    char *locks = pgb_path_join(cache, "locks");
    char *templates = pgb_path_join(cache, "templates");
    rc = (!locks || !templates) ? pgb_fail(PGBOOT_ENOMEM, "out of memory")
                                : pgb_mkdir_p(locks, 0755);
    if (rc == 0)
        rc = pgb_mkdir_p(templates, 0700);
    free(locks);
    if (rc == 0)
        rc = pgb_lock(lock, &lockfd);
    if (rc == 0 && !template_cluster_ready(dir)) {
        /* What a killed maker left (we hold the lock): marked ones only. */
        pgb_workdir_remove_abandoned(templates, ".tmp-");
        char rnd[9];
        pgb_random_name(rnd, sizeof rnd);
        tmp = pgb_printf("%s/.tmp-%s", templates, rnd);
        data = tmp ? pgb_path_join(tmp, "data") : NULL;
        pwfile = tmp ? pgb_path_join(tmp, "password") : NULL;
        char pw[PASSWORD_LEN + 1];
        pgb_random_password(pw, sizeof pw);
        if (!tmp || !data || !pwfile)
            rc = pgb_fail(PGBOOT_ENOMEM, "out of memory");
        else
            rc = pgb_workdir_make(tmp, "template cluster");
        int made = rc == 0;
        if (rc == 0)
            rc = pgb_initdb(pgboot_bundle_bin_dir(b), data, PGB_SUPERUSER, pw, tmp, co);
        if (rc == 0)
            rc = pgb_write_file_atomic(pwfile, pw, strlen(pw), 0600);
        sodium_memzero(pw, sizeof pw);
        if (rc == 0 && (pgb_workdir_unmark(tmp) != 0 || rename(tmp, dir) != 0)) {
            rc = pgb_fail(PGBOOT_ERROR, "cannot move the template cluster into place at %s: %s",
                          dir, strerror(errno));
            pgb_hint("the cache must be writable, with room (choose another with --cache-dir DIR "
                     "or PGBOOT_CACHE_DIR)");
        }
        if (rc != 0 && made)
            pgb_workdir_remove(tmp);
    }
    free(templates);
    pgb_unlock(lockfd);
    if (rc)
        goto done;
found:
    rc = read_password(dir, password);
    if (rc == 0) {
        *dir_out = dir;
        dir = NULL;
    }
done:
    free(cache);
    free(dir);
    free(lock);
    free(tmp);
    free(data);
    free(pwfile);
    return rc;
}

/* ---- spares ----------------------------------------------------------------- */

static char *spare_prefix(const char *template_dir)
{
    unsigned char h[8];
    crypto_generichash(h, sizeof h, (const unsigned char *)template_dir, strlen(template_dir), NULL,
                       0);
    char hex[17];
    pgb_hex(hex, h, sizeof h);
    return pgb_printf("spare-%s-", hex);
}

/* Call fn(path, ctx) for each entry of `base` whose name starts with
 * `prefix`, until fn returns non-zero; returns that value (0 if none did). */
static int each_prefixed(const char *base, const char *prefix,
                         int (*fn)(const char *path, void *ctx), void *ctx)
{
    DIR *d = opendir(base);
    if (!d)
        return 0;
    int done = 0;
    size_t n = strlen(prefix);
    struct dirent *e;
    while (!done && (e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, prefix, n) != 0)
            continue;
        char *path = pgb_path_join(base, e->d_name);
        if (path)
            done = fn(path, ctx);
        free(path);
    }
    closedir(d);
    return done;
}

/* rename is atomic: of concurrent claimers exactly one wins. */
static int try_claim(const char *path, void *dest)
{
    return rename(path, (const char *)dest) == 0;
}

/* Take a ready copy by renaming it to `dest`; 1 if one was claimed. */
static int claim_spare(const char *base, const char *prefix, const char *dest)
{
    return each_prefixed(base, prefix, try_claim, (void *)dest);
}

static int count_one(const char *path, void *count)
{
    (void)path;
    ++*(int *)count;
    return 0;
}

static int count_prefix(const char *base, const char *prefix)
{
    int count = 0;
    each_prefixed(base, prefix, count_one, &count);
    return count;
}

/* Prepare spare copies in a detached process, off the caller's critical path.
 * The copier uses only system calls (the host may be multi-threaded) and holds
 * a lock so that parallel callers do not copy in a crowd. */
static void replenish(const char *base, const char *prefix, const char *template_data,
                      uint64_t spare_size, uint64_t reserve)
{
    int have = count_prefix(base, prefix);
    if (have >= SPARES_WANTED)
        return;
    /* Spares only where they leave room for a cluster: on a small tmpfs
     * they would push the next cluster out (a claim needs no room, but a
     * parallel caller that finds none copies). */
    uint64_t free_bytes = 0;
    if (spare_size && pgb_fs_free_bytes(base, &free_bytes) == 0) {
        uint64_t fit = free_bytes > reserve ? (free_bytes - reserve) / spare_size : 0;
        if (fit < (uint64_t)(SPARES_WANTED - have))
            have = SPARES_WANTED - (int)fit;
        if (have >= SPARES_WANTED)
            return;
    }
    char *lock = pgb_path_join(base, "spare.lock");
    char *tmp[SPARES_WANTED] = {NULL}, *fin[SPARES_WANTED] = {NULL};
    int want = SPARES_WANTED - have, ok = lock != NULL;
    for (int i = 0; i < want && ok; i++) {
        char rnd[9];
        pgb_random_name(rnd, sizeof rnd);
        /* The copier's pid is not known yet: ours marks the temporary name,
         * and the reaper checks the lock instead of that pid. */
        tmp[i] = pgb_printf("%s/.spare-tmp-%s", base, rnd);
        fin[i] = pgb_printf("%s/%s%s", base, prefix, rnd);
        ok = tmp[i] && fin[i];
    }
    int lockfd = ok ? open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600) : -1;
    if (lockfd >= 0) {
        if (pgb_fork_detached() == 1) {
            if (dup2(lockfd, 3) < 0)
                _exit(1);
            close_range(4, ~0U, 0);
            if (flock(3, LOCK_EX | LOCK_NB) != 0)
                _exit(0); /* another copier is at work */
            for (int i = 0; i < want; i++) {
                if (pgb_copy_tree(template_data, tmp[i]) != 0 || rename(tmp[i], fin[i]) != 0) {
                    pgb_rmtree(tmp[i]);
                    _exit(1);
                }
            }
            _exit(0);
        }
        close(lockfd);
    }
    for (int i = 0; i < SPARES_WANTED; i++) {
        free(tmp[i]);
        free(fin[i]);
    }
    free(lock);
}

/* A throwaway cluster's socket directory: <eph>/s, else a short one under
 * /tmp named by a digest of <eph> (derived, never read from a file: the
 * reaper removes only what pgboot made). */
static char *socket_dir_for(const char *eph)
{
    char *s = pgb_path_join(eph, "s");
    char *d = s ? pgb_socket_dir_pick(s, eph, "e", 8, 0) : NULL;
    free(s);
    return d;
}

/* Spares hold memory on a tmpfs, and no process owns them: each goes once it
 * has not been claimed for SPARE_MAX_AGE_S, whatever its template (one of an
 * older bundle or a removed cache is never claimed; one of the current
 * template is copied again, ~45 ms, when next wanted). Every ephemeral start
 * does this in every directory it looks at. */
static void remove_stale_spares(const char *base)
{
    DIR *d = opendir(base);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "spare-", 6) != 0)
            continue;
        char *path = pgb_path_join(base, e->d_name);
        struct stat st;
        /* A claim renames the spare away: the removal then finds nothing. */
        if (path && lstat(path, &st) == 0 && S_ISDIR(st.st_mode) &&
            time(NULL) - st.st_mtime > SPARE_MAX_AGE_S)
            pgb_rmtree(path);
        free(path);
    }
    closedir(d);
}

/* ---- the reaper -------------------------------------------------------------- */

/* Remove what owners that died left behind: an ephemeral directory whose
 * owner and postmaster are both gone, a half-made spare whose copier is gone
 * (no one holds the spare lock). */
static void reap(const char *base)
{
    DIR *d = opendir(base);
    if (!d)
        return;
    char *lock = pgb_path_join(base, "spare.lock");
    int copier_busy = 1;
    int lfd = lock ? open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600) : -1;
    if (lfd >= 0 && flock(lfd, LOCK_EX | LOCK_NB) == 0)
        copier_busy = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char *path = pgb_path_join(base, e->d_name);
        if (!path)
            break;
        if (!strncmp(e->d_name, ".spare-tmp-", 11)) {
            if (!copier_busy)
                pgb_rmtree(path);
        } else if (!strncmp(e->d_name, ".trash-", 7)) {
            pgb_rmtree(path); /* renamed away by a stop; a second remover is harmless */
        } else if (!strncmp(e->d_name, "eph-", 4)) {
            char *owner = pgb_path_join(path, "owner");
            char *text = NULL;
            struct stat st;
            if (owner && pgb_read_file(owner, &text, NULL, 8192) == 0) {
                int host = 0, pm = 0;
                if (sscanf(text, "%d %d", &host, &pm) >= 1 && !pgb_pid_alive(host) &&
                    !pgb_pid_alive(pm)) {
                    /* Its socket directory is derived from its path, never read
                     * from a file: nothing but what pgboot made is removed. */
                    char *sock = socket_dir_for(path);
                    if (sock && !pgb_str_has_prefix(sock, path))
                        pgb_rmtree(sock);
                    free(sock);
                    pgb_rmtree(path);
                }
            } else if (stat(path, &st) == 0 && time(NULL) - st.st_mtime > 600) {
                pgb_rmtree(path); /* never got an owner: a creation that died */
            }
            pgb_error_reset();
            free(text);
            free(owner);
        }
        free(path);
    }
    if (lfd >= 0)
        close(lfd);
    free(lock);
    closedir(d);
}

/* "<owner pid> <postmaster pid>": what the reaper checks before it removes. */
static int write_owner(const char *eph, int host, int pm)
{
    char *path = pgb_path_join(eph, "owner");
    char *text = pgb_printf("%d %d\n", host, pm);
    int rc = (!path || !text) ? pgb_fail(PGBOOT_ENOMEM, "out of memory")
                              : pgb_write_file_atomic(path, text, strlen(text), 0600);
    free(path);
    free(text);
    return rc;
}

/* ---- TTL: a detached owner that ends the cluster when idle ------------------ */

static int client_count(PGconn *c)
{
    PGresult *r = PQexec(c, "SELECT count(*) FROM pg_stat_activity "
                            "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()");
    int n = -1;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
        n = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    return n;
}

/* The daemon holds the owner's end of the lifeline pipe: when it exits, the
 * supervisor stops postgres and removes the directory. */
static void ttl_daemon(const pgboot_server *s, uint32_t ttl_ms)
{
    char port[16];
    snprintf(port, sizeof port, "%d", s->port);
    const char *keys[] = {"host", "port", "user", "password", "dbname", "application_name", NULL};
    const char *vals[] = {s->socket_dir, port,         s->user, s->password,
                          s->database,   "pgboot tmp", NULL};
    PGconn *c = NULL;
    if (pgb_pq_open(&c, PGB_PQ_OURS, NULL, keys, vals) != 0)
        _exit(0); /* unreachable: the start refused PGSERVICE already */
    uint64_t last_active = pgb_now_ms();
    int expired = 0;
    while (PQstatus(c) == CONNECTION_OK) {
        pgb_sleep_ms(250);
        int n = client_count(c);
        if (n < 0)
            break; /* the server is gone */
        uint64_t now = pgb_now_ms();
        if (n > 0)
            last_active = now;
        else if (now - last_active >= ttl_ms) {
            expired = 1;
            break;
        }
    }
    PQfinish(c);
    /* Expiry is an orderly end: a fast shutdown, waited for here, so postgres
     * removes its shared memory and says it shut down. Only then does the
     * pipe close; the supervisor removes the directory once postgres has
     * exited. (Closing the pipe alone asks for an immediate shutdown, which
     * is for an owner that died.) Should postgres not stop in time, the
     * supervisor escalates as usual. */
    if (expired)
        (void)pgb_signal_and_wait(s->pid, SIGINT, pgb_now_ms() + 20000);
    _exit(0);
}

/* ---- create ----------------------------------------------------------------- */

static int check_options(const pgboot_ephemeral_options *o)
{
    if (!o)
        return pgb_fail(PGBOOT_EINVALID, "no ephemeral options given");
    int vrc =
        pgb_version_check(o->version, PGBOOT_EPHEMERAL_OPTIONS_VERSION, "pgboot_ephemeral_options");
    if (vrc == 0)
        vrc = pgb_version_check(o->fetch.version, PGBOOT_FETCH_OPTIONS_VERSION,
                                "pgboot_ephemeral_options.fetch");
    if (vrc)
        return vrc;
    int env_rc = pgb_pq_check_own_env();
    if (env_rc)
        return env_rc;
    if (geteuid() == 0) {
        int rc = pgb_fail(PGBOOT_EROOT, "PostgreSQL refuses to run as root, and an ephemeral "
                                        "cluster runs as the calling user");
        pgb_hint("run the tests as an unprivileged user (e.g. setpriv --reuid=USER "
                 "--regid=GROUP --init-groups pgboot run --ephemeral -- CMD)");
        return rc;
    }
    size_t n = 0;
    while (o->settings && o->settings[n])
        n++;
    if (n > PGB_MAX_EXTRA_SETTINGS - 5 - PGB_MEMORY_SETTINGS) {
        int rc = pgb_fail(PGBOOT_EINVALID, "at most %d settings",
                          PGB_MAX_EXTRA_SETTINGS - 5 - PGB_MEMORY_SETTINGS);
        pgb_hint("give at most %d --set options", PGB_MAX_EXTRA_SETTINGS - 5 - PGB_MEMORY_SETTINGS);
        return rc;
    }
    for (size_t i = 0; i < n; i++)
        if (!strchr(o->settings[i], '=') || o->settings[i][0] == '=') {
            int rc = pgb_fail(PGBOOT_EINVALID, "setting '%s' is not name=value", o->settings[i]);
            pgb_hint("for example --set work_mem=64MB");
            return rc;
        }
    /* The port, socket, listen address and files are the cluster's own here too. */
    return pgb_settings_check(o->settings, NULL);
}

typedef struct {
    char *base, *eph, *data, *sock, *log, *tpl, *password, *prefix, *tpl_data;
    char *fallback;     /* why the cluster is not in the first place it was meant for */
    char *fallback_why; /* why the last place tried had no room */
    pgboot_bundle *bundle;
    int lifeline[2];
    int pid;
} eph_state;

static void eph_state_free(eph_state *e, int failed)
{
    if (failed) {
        if (e->pid > 0)
            pgb_abandon(e->pid);
        if (e->eph)
            pgb_rmtree(e->eph);
        if (e->sock && e->eph && !pgb_str_has_prefix(e->sock, e->eph))
            pgb_rmtree(e->sock);
        if (e->lifeline[1] >= 0)
            close(e->lifeline[1]);
    }
    if (e->lifeline[0] >= 0)
        close(e->lifeline[0]);
    if (e->password)
        sodium_memzero(e->password, strlen(e->password));
    free(e->base);
    free(e->eph);
    free(e->data);
    free(e->sock);
    free(e->log);
    free(e->tpl);
    free(e->password);
    free(e->prefix);
    free(e->tpl_data);
    free(e->fallback);
    free(e->fallback_why);
    pgboot_bundle_free(e->bundle);
}

/* Any free port, at every launch attempt. */
static int pick_any_port(void *ctx, int attempt, int *port)
{
    (void)ctx;
    (void)attempt;
    return pgb_port_pick(port);
}

static int ephemeral_stop(pgboot_server *s, pgboot_stop_mode mode);

static int make_server(pgboot_server **out, eph_state *e, int port)
{
    pgboot_server *s = pgb_server_new();
    if (!s)
        return pgb_fail(PGBOOT_ENOMEM, "out of memory");
    s->stop = ephemeral_stop;
    s->pid = e->pid;
    s->port = port;
    s->started_here = 1;
    s->host = pgb_strdup("127.0.0.1");
    s->user = pgb_strdup(PGB_SUPERUSER);
    s->database = pgb_strdup("postgres");
    s->password = pgb_strdup(e->password);
    s->socket_dir = pgb_strdup(e->sock);
    s->data_dir = pgb_strdup(e->data);
    s->app_dir = pgb_strdup(e->eph);
    s->log_path = pgb_strdup(e->log);
    s->pg_version = pgb_strdup(pgboot_bundle_pg_version(e->bundle));
    s->app = pgb_strdup("ephemeral");
    s->ephemeral_dir = pgb_strdup(e->eph);
    s->private_socket = pgb_str_has_prefix(e->sock, e->eph) ? NULL : pgb_strdup(e->sock);
    s->tmp_fallback = e->fallback;
    e->fallback = NULL;
    s->url =
        pgb_printf("postgresql://%s:%s@127.0.0.1:%d/postgres", PGB_SUPERUSER, e->password, port);
    if (!s->host || !s->user || !s->database || !s->password || !s->socket_dir || !s->data_dir ||
        !s->app_dir || !s->log_path || !s->pg_version || !s->app || !s->ephemeral_dir || !s->url) {
        pgboot_server_free(s);
        return pgb_fail(PGBOOT_ENOMEM, "out of memory");
    }
    *out = s;
    return 0;
}

/* Drop a cluster directory that did not fit, to try the next place. */
static void unplace(eph_state *e)
{
    if (e->eph)
        pgb_rmtree(e->eph);
    free(e->eph);
    free(e->data);
    free(e->sock);
    free(e->log);
    e->eph = e->data = e->sock = e->log = NULL;
}

#define PLACE_NO_ROOM 1

/* Make the cluster's directory in e->base and put the template's data in
 * it: a spare's by rename (no room needed), else a copy. Unless `must`
 * (the caller's own directory, or the last place to try), a place without
 * room for `need` bytes is left for the next (PLACE_NO_ROOM, with the reason
 * in `why`), and so is one that fills up during the copy: the free-space
 * check races with other processes. */
static int place_cluster(eph_state *e, uint64_t need, int must, char *why, size_t len)
{
    e->eph = pgb_printf("%s/eph-XXXXXX", e->base);
    if (!e->eph)
        return pgb_fail(PGBOOT_ENOMEM, "out of memory");
    if (!mkdtemp(e->eph)) {
        int err = errno;
        free(e->eph);
        e->eph = NULL;
        if (err == ENOSPC && !must) {
            snprintf(why, len, "%s is full", e->base);
            return PLACE_NO_ROOM;
        }
        int rc =
            pgb_fail(PGBOOT_ERROR, "cannot create a directory in %s: %s", e->base, strerror(err));
        pgb_hint("free some space in %s, or choose another temporary directory with TMPDIR or "
                 "--tmp-dir",
                 e->base);
        return rc;
    }
    e->data = pgb_path_join(e->eph, "data");
    e->sock = socket_dir_for(e->eph);
    e->log = e->data ? pgb_path_join(e->data, "log/postgresql.log") : NULL;
    if (!e->data || !e->sock || !e->log)
        return pgb_fail(PGBOOT_ENOMEM, "out of memory");
    int rc = pgb_data_dir_check(e->data, "choose another temporary directory with TMPDIR or "
                                         "--tmp-dir");
    if (rc == 0)
        rc = write_owner(e->eph, getpid(), 0);
    if (rc)
        return rc;
    if (claim_spare(e->base, e->prefix, e->data))
        return 0;
    /* Parallel starts check and copy one at a time (a copy takes ~45 ms on
     * a tmpfs), so that they do not all pass the check, all run out of
     * space half-way and all move on. Without the lock, they still fit. */
    char *lock = pgb_path_join(e->base, "place.lock");
    int lockfd = -1;
    if (!lock || pgb_lock(lock, &lockfd) != 0) {
        pgb_error_reset();
        lockfd = -1;
    }
    free(lock);
    uint64_t free_bytes = 0;
    if (!must && pgb_fs_free_bytes(e->base, &free_bytes) == 0 && free_bytes < need) {
        pgb_unlock(lockfd);
        snprintf(why, len, "%s has %llu MB free and a throwaway cluster needs %llu MB", e->base,
                 MB(free_bytes), MB(need));
        unplace(e);
        return PLACE_NO_ROOM;
    }
    int copied = pgb_copy_tree(e->tpl_data, e->data);
    int err = errno;
    pgb_unlock(lockfd);
    if (copied != 0) {
        if (err == ENOSPC && !must) {
            snprintf(why, len, "%s ran out of space", e->base);
            unplace(e);
            return PLACE_NO_ROOM;
        }
        rc = pgb_fail(PGBOOT_ERROR, "cannot copy the template %s to %s: %s", e->tpl_data, e->data,
                      strerror(err));
        pgb_hint("free some space in %s, or point TMPDIR elsewhere", e->base);
        return rc;
    }
    return 0;
}

int pgboot_ephemeral_start(pgboot_server **out, const pgboot_ephemeral_options *o)
{
    pgb_error_reset();
    *out = NULL;
    int rc = check_options(o);
    if (rc)
        return rc;
    if (o->ttl_ms && (rc = pgb_need_lib(PGB_LIB_PQ)) != 0)
        return rc;
    eph_state e = {.lifeline = {-1, -1}};
    int port = 0;
    pgb_cluster_opts co = {NULL, NULL, 0};
    const char *memory = NULL;
    char **merged = NULL;
    if (o->version >= 2) {
        co.locale = o->locale;
        co.encoding = o->encoding;
        co.data_checksums = o->data_checksums;
        memory = o->memory;
    }
    /* The budget's settings, unless given explicitly (then after the
     * throwaway profile, so they win over it too). */
    size_t nderived = 0;
    if ((rc = pgb_memory_settings(memory, o->settings, NULL, NULL, 0, &merged, &nderived)) != 0)
        return rc;
    const char *const *extra = merged ? (const char *const *)merged : o->settings;
    const char *roots[2] = {NULL, NULL};
    int nroots = tmp_roots(o, roots);
    pgboot_fetch_options fetch =
        pgb_fetch_options_for(&o->fetch, o->version >= 2 ? o->pg_version : 0);
    if ((rc = pgboot_bundle_fetch(&e.bundle, &fetch)) == 0)
        pgboot_bundle_mark_used(e.bundle);
    if (rc != 0 || (rc = template_cluster_ensure(e.bundle, &fetch, &co, &e.tpl, &e.password)) != 0)
        goto done;
    e.prefix = spare_prefix(e.tpl);
    e.tpl_data = pgb_path_join(e.tpl, "data");
    if (!e.prefix || !e.tpl_data) {
        rc = pgb_fail(PGBOOT_ENOMEM, "out of memory");
        goto done;
    }
    uint64_t tpl_size = 0;
    if (pgb_tree_disk_usage(e.tpl_data, &tpl_size) != 0)
        tpl_size = 0;
    uint64_t need = tpl_size + CLUSTER_HEADROOM;
    for (int i = 0; i < nroots; i++) {
        int last = i == nroots - 1;
        free(e.base);
        e.base = NULL;
        if ((rc = base_dir(roots[i], &e.base)) != 0) {
            if (last)
                goto done;
            pgb_error_reset();
            continue;
        }
        reap(e.base);
        remove_stale_spares(e.base);
        char why[512] = "";
        rc = place_cluster(&e, need, last, why, sizeof why);
        if (rc == 0 && i > 0 && !e.fallback)
            e.fallback = pgb_printf("%s: the throwaway cluster is in %s instead",
                                    e.fallback_why ? e.fallback_why : roots[0], e.base);
        if (rc != PLACE_NO_ROOM)
            break;
        free(e.fallback_why);
        e.fallback_why = pgb_strdup(why);
    }
    if (rc)
        goto done;
    if ((rc = pgb_socket_dir_prepare(e.sock)) != 0)
        goto done;
    if (pipe2(e.lifeline, O_CLOEXEC) != 0) {
        rc = pgb_fail(PGBOOT_ERROR, "cannot create a pipe: %s", strerror(errno));
        goto done;
    }
    /* Durability off: nothing here outlives the tests. */
    const char *settings[PGB_MAX_EXTRA_SETTINGS + 1];
    size_t ns = 0;
    settings[ns++] = "fsync=off";
    settings[ns++] = "synchronous_commit=off";
    settings[ns++] = "full_page_writes=off";
    /* Test workers, each with a few connections, rather than one desktop app. */
    settings[ns++] = "max_connections=100";
    for (size_t i = 0; extra && extra[i]; i++)
        settings[ns++] = extra[i];
    settings[ns] = NULL;
    char *remove_after[3] = {e.eph, pgb_str_has_prefix(e.sock, e.eph) ? NULL : e.sock, NULL};
    uint64_t deadline = pgb_now_ms() + (o->timeout_ms ? o->timeout_ms : 60000);
    pgb_postgres_launch l = {.bin_dir = pgboot_bundle_bin_dir(e.bundle),
                             .data_dir = e.data,
                             .socket_dir = e.sock,
                             .log_file = e.log,
                             .settings = settings,
                             .lifeline_fd = e.lifeline[0],
                             .owner_gone_signal = SIGQUIT,
                             .remove_after = remove_after};
    if ((rc = pgb_launch_until_ready(&l, deadline, pick_any_port, NULL, &e.pid)) != 0)
        goto done;
    port = l.port;
    if ((rc = write_owner(e.eph, getpid(), e.pid)) != 0 || (rc = make_server(out, &e, port)) != 0)
        goto done;
    replenish(e.base, e.prefix, e.tpl_data, tpl_size, need);
    if (o->ttl_ms) {
        /* Hand the cluster to a detached owner that ends it when idle. */
        int detached = pgb_fork_detached();
        if (detached == 1) {
            if (write_owner(e.eph, getpid(), e.pid) != 0)
                _exit(1);
            ttl_daemon(*out, o->ttl_ms);
        }
        close(e.lifeline[1]);
        e.lifeline[1] = -1;
        if (detached != 0) {
            pgboot_server_free(*out);
            *out = NULL;
            rc = pgb_fail(PGBOOT_ERROR, "cannot start the process that watches the cluster");
            goto done;
        }
    } else {
        (*out)->lifeline_fd = e.lifeline[1];
        e.lifeline[1] = -1;
    }
done:
    eph_state_free(&e, rc != 0);
    free(merged);
    return rc;
}

/* Remove a tree in a detached process (pgb_rmtree makes system calls only,
 * which is what a child of a multi-threaded host may do). */
static void remove_detached(const char *path)
{
    int detached = pgb_fork_detached();
    if (detached == 1) {
        close_range(3, ~0U, 0);
        _exit(pgb_rmtree(path) == 0 ? 0 : 1);
    }
    if (detached < 0)
        pgb_rmtree(path);
}

/* The stop of an ephemeral cluster's handle (pgboot_server_stop()). */
static int ephemeral_stop(pgboot_server *s, pgboot_stop_mode mode)
{
    int rc = 0;
    if (pgb_pid_alive(s->pid) && pgb_signal_and_wait(s->pid, SIGQUIT, pgb_now_ms() + 10000) != 0 &&
        pgb_signal_and_wait(s->pid, SIGKILL, pgb_now_ms() + 5000) != 0)
        rc = pgb_fail(PGBOOT_ETIMEOUT, "the ephemeral server (pid %d) does not stop", s->pid);
    /* Out of the way at once (rename is atomic), deleted off the critical
     * path; the supervisor also removes the old path once postgres is gone,
     * and the reaper any trash a killed remover left. */
    char rnd[9];
    pgb_random_name(rnd, sizeof rnd);
    char *base = pgb_strdup(s->ephemeral_dir);
    char *slash = base ? strrchr(base, '/') : NULL;
    char *trash = slash ? (*slash = '\0', pgb_printf("%s/.trash-%s", base, rnd)) : NULL;
    if (trash && rename(s->ephemeral_dir, trash) == 0)
        remove_detached(trash);
    else if (pgb_rmtree(s->ephemeral_dir) != 0 && pgb_path_exists(s->ephemeral_dir) && rc == 0) {
        rc = pgb_fail(PGBOOT_ERROR, "cannot remove %s: %s", s->ephemeral_dir, strerror(errno));
        pgb_hint("remove it by hand; the cluster in it is stopped");
    }
    free(trash);
    free(base);
    if (s->private_socket)
        pgb_rmtree(s->private_socket);
    if (s->lifeline_fd >= 0) {
        close(s->lifeline_fd);
        s->lifeline_fd = -1;
    }
    return rc;
}

int pgboot_ephemeral_options_init(pgboot_ephemeral_options *opts, unsigned int version)
{
    pgb_error_reset();
    int rc =
        pgb_version_check(version, PGBOOT_EPHEMERAL_OPTIONS_VERSION, "pgboot_ephemeral_options");
    if (rc == 0 && !opts)
        rc = pgb_fail(PGBOOT_EINVALID, "no pgboot_ephemeral_options to initialise");
    if (rc == 0) {
        /* Only the fields of that version: the caller's struct may be older. */
        pgboot_ephemeral_options init = PGBOOT_EPHEMERAL_OPTIONS_INIT;
        memcpy(opts, &init,
               version == 1 ? offsetof(pgboot_ephemeral_options, locale) : sizeof init);
        opts->version = version;
    }
    return rc;
}
