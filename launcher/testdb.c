/* A database per test: clones of a template database built once from the
 * app's SQL files and/or by the app's migration command (template_cmd, run
 * with /bin/sh -c), or of a snapshot of a test database.
 *
 * Names (all within PostgreSQL's 63 bytes):
 *   pgboot_tpl_<h16>          the template; <h16>: hash of the SQL files' contents
 *                             (and, with a command, of its text and its key paths)
 *   pgboot_tplb_<h16>         a template being built (renamed when complete)
 *   pgboot_s_<name>           a snapshot (pgboot_testdb_snapshot); its clones'
 *                             <h8>: hash of its name and OID
 *   pgboot_sb_<name>          a snapshot being made
 *   pgboot_t_<h8>_<random12>  a clone; <h8> names its template, so that a
 *                             template no clone uses any more can be found
 *   pgboot_p_<h8>_<random12>  a clone made in advance, waiting in the pool
 *   pgboot_b_<h8>_<random12>  a pool clone being made (not yet marked)
 *   pgboot_k_<h8>_<label>_<random6>  a clone kept (pgboot_testdb_keep): never
 *                             reused nor collected; only dropped on request
 * Each carries pgboot's mark, a COMMENT ON DATABASE that also records when it
 * was made; only marked databases are ever renamed or dropped.
 * Parallel builders of the same template serialise on an advisory lock keyed
 * by the hash; the first builds it, the others find it built. Advisory locks
 * belong to the database a session is connected to: the handles' sessions
 * connect to the URL's database, so callers that give the same server URL
 * (--app) share them.
 *
 * Why a pool: CREATE DATABASE ... STRATEGY FILE_COPY copies every file of the
 * template, ~300 catalog files even for an empty schema, ~16 ms on tmpfs. A
 * clone made in advance is handed out by ALTER DATABASE ... RENAME, which
 * takes about a millisecond and is atomic: of several takers exactly one gets
 * it. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <sodium.h>

#include "../platform/dynload.h"
#include "launcher.h"

#define TPL_PREFIX "pgboot_tpl_"
#define BUILD_PREFIX "pgboot_tplb_"
#define CLONE_PREFIX "pgboot_t_"
#define POOL_PREFIX "pgboot_p_"
#define BUILDING_PREFIX "pgboot_b_"    /* a pool clone not yet marked and named */
#define SNAP_PREFIX "pgboot_s_"        /* a snapshot: pgboot_s_<name> */
#define SNAP_BUILD_PREFIX "pgboot_sb_" /* a snapshot being made */
#define SNAP_NAME_MAX 40
#define KEPT_PREFIX "pgboot_k_" /* a clone kept: pgboot_k_<h8>_<label>_<random6> */
#define KEEP_LABEL_MAX (63 - 9 - 8 - 1 - 1 - 6)
/* Every database pgboot testdb creates carries this comment; it drops only
 * databases that do (a name with pgboot's prefix is not enough: a user may
 * have made it). */
#define MARK "pgboot test database: made by pgboot testdb, which may drop it"
#define CREATED "; created at "
#define IS_MARKED                                                                                  \
    "(shobj_description(oid, 'pg_database') = '" MARK "' OR shobj_description(oid, "               \
    "'pg_database') LIKE '" MARK CREATED "%')"
#define DEFAULT_POOL 4

struct pgboot_testdb {
    PGconn *conn;
    char *url;
    pgb_pq_whose whose; /* one of pgboot's own servers, or a URL the user gave */
    char hash[17];
    char tpl[64];
    unsigned int pool_size;
    const char *cmd; /* the template command (the caller's, during open only) */
    unsigned int cmd_timeout_ms;
    /* background refill */
    int refilling;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int wake, stop;
};

static int end_sessions(PGconn *c, const char *db, int *n);
static int is_snapshot_hash(PGconn *c, const char *h8);
static const char *kind_of(const char *name);
static int database_oid(PGconn *c, const char *name, char oid[16]);
static void snapshot_hash(const char *name, const char *oid, char hash[17]);

/* ---- URLs ----------------------------------------------------------------- */

static int is_url(const char *url)
{
    return url &&
           (pgb_str_has_prefix(url, "postgresql://") || pgb_str_has_prefix(url, "postgres://"));
}

/* The URL with its database replaced by `db` (malloc'd). */
static char *url_with_db(const char *url, const char *db)
{
    const char *auth = strstr(url, "://") + 3;
    const char *path = strchr(auth, '/');
    const char *query = strchr(auth, '?');
    if (path && query && path > query)
        path = NULL;
    size_t head = path ? (size_t)(path - url) : (query ? (size_t)(query - url) : strlen(url));
    return pgb_printf("%.*s/%s%s", (int)head, url, db, query ? query : "");
}

/* A parameter of a URL (malloc'd; "" when the URL leaves it out), or NULL
 * (not a URL libpq reads, out of memory). */
static char *url_param(const char *url, const char *key)
{
    char *err = NULL;
    PQconninfoOption *opts = PQconninfoParse(url, &err);
    if (err)
        PQfreemem(err);
    char *v = NULL;
    for (PQconninfoOption *o = opts; o && o->keyword; o++)
        if (!strcmp(o->keyword, key))
            v = pgb_strdup(o->val ? o->val : "");
    PQconninfoFree(opts);
    return v;
}

/* The way out of a failed connection, by what libpq says went wrong. */
static void connect_hint(pgb_pq_refusal why)
{
    switch (why) {
    case PGB_PQ_BAD_PARAM:
        pgb_hint("check the URL's parameters (libpq names the one it does not take): "
                 "postgresql://USER:PASSWORD@HOST:PORT/DATABASE?sslmode=require, for one");
        break;
    case PGB_PQ_LOGIN:
        pgb_hint("check the URL's user and password ('pgboot url --app NAME' prints the URL of an "
                 "app's server)");
        break;
    case PGB_PQ_FULL:
        pgb_hint("close the connections tests leave open, or raise max_connections ('pgboot start "
                 "--app NAME --set max_connections=200' for an app's server)");
        break;
    case PGB_PQ_NO_SUCH:
        pgb_hint("check the URL's user and database ('pgboot url --app NAME' prints the URL of an "
                 "app's server)");
        break;
    case PGB_PQ_UNREACHABLE:
        pgb_hint("start the server ('pgboot start --app NAME' for an app's server; 'pgboot status "
                 "--app NAME' tells whether it runs), or check the URL's host and port");
        break;
    }
}

static int connect_url(PGconn **out, pgb_pq_whose whose, const char *url, const char *db)
{
    const char *keys[] = {"dbname", "connect_timeout", "application_name", NULL};
    const char *vals[] = {db, "10", "pgboot testdb", NULL};
    PGconn *c = NULL;
    /* A NULL db leaves the URL's database. */
    int rc = pgb_pq_open(&c, whose, url, db ? keys : keys + 1, db ? vals : vals + 1);
    if (rc)
        return rc;
    if (PQstatus(c) != CONNECTION_OK) {
        /* A server that answered and refused the login runs: not
         * PGBOOT_ENOTRUNNING, which the CLI reports as "not running". */
        const char *m = PQerrorMessage(c);
        pgb_pq_refusal why = pgb_pq_refusal_of(m);
        int code = why == PGB_PQ_LOGIN || why == PGB_PQ_NO_SUCH ? PGBOOT_ELOGIN
                   : why == PGB_PQ_BAD_PARAM                    ? PGBOOT_EINVALID
                   : why == PGB_PQ_FULL                         ? PGBOOT_ERROR
                                                                : PGBOOT_ENOTRUNNING;
        rc = pgb_fail(code, "cannot connect to %s%s: %s", db ? "database " : "the server",
                      db ? db : "", m ? m : "");
        connect_hint(why);
        PQfinish(c);
        return rc;
    }
    *out = c;
    return 0;
}

/* The way out of a statement the server refused (r, NULL when there is no
 * result to read), by its SQLSTATE. */
static void sql_hint(PGconn *c, const PGresult *r)
{
    const char *st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    if (PQstatus(c) != CONNECTION_OK)
        pgb_hint("the server closed the connection (stopped or restarted?): start it again "
                 "('pgboot start --app NAME' for an app's server) and try again");
    else if (st && !strcmp(st, "42501")) /* insufficient_privilege */
        pgb_hint("the URL's role lacks a privilege this needs (CREATEDB to make databases, "
                 "ownership to drop or rename them): use a role that has it, or --app NAME");
    else if (st && !strcmp(st, "53100")) /* disk_full */
        pgb_hint("the server's disk is full: free space ('pgboot testdb clean --app NAME' drops "
                 "the pools and unused snapshots, with --kept the kept databases too)");
    else if (st && !strcmp(st, "55006")) /* object_in_use */
        pgb_hint("close the other sessions on the database (a test still connected to it), then "
                 "try again");
    else if (st && !strcmp(st, "3D000")) /* invalid_catalog_name: the template is gone */
        pgb_hint("a database it needs is gone (dropped by hand, or an unused snapshot by 'pgboot "
                 "testdb clean'): run pgboot testdb (or the broker) again, which builds the "
                 "template again; 'pgboot testdb snapshot URL --as NAME' makes a snapshot again");
    else
        pgb_hint("the server's log says more ('pgboot logs --app NAME' for an app's server)");
}

/* pgb_pq_exec() and pgb_pq_exists(), with the way out of a failure. */
static int exec_sql(PGconn *c, const char *sql, const char *what)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    int rc = 0;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY) {
        rc = pgb_fail(PGBOOT_ERROR, "%s: %s", what, PQresultErrorMessage(r));
        sql_hint(c, r);
    }
    PQclear(r);
    return rc;
}

static int exists_q(PGconn *c, const char *sql, const char *param, int *yes)
{
    int rc = pgb_pq_exists(c, sql, param, yes);
    if (rc)
        sql_hint(c, NULL);
    return rc;
}

/* ---- the template ------------------------------------------------------- */

typedef struct {
    char **texts;
    size_t *lens;
    size_t n;
} sql_set;

/* A length, in 8 little-endian bytes: the boundaries of what is hashed. */
static void hash_len(crypto_generichash_state *st, size_t len)
{
    unsigned char len8[8];
    for (int b = 0; b < 8; b++)
        len8[b] = (unsigned char)((uint64_t)len >> (8 * b));
    crypto_generichash_update(st, len8, sizeof len8);
}

static void sql_set_free(sql_set *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->texts[i]);
    free(s->texts);
    free(s->lens);
}

static int read_sql(sql_set *s, const char *const *files, crypto_generichash_state *st)
{
    memset(s, 0, sizeof *s);
    size_t n = 0;
    while (files && files[n])
        n++;
    if (n == 0)
        return 0;
    s->texts = calloc(n, sizeof *s->texts);
    s->lens = calloc(n, sizeof *s->lens);
    if (!s->texts || !s->lens)
        return pgb_fail(PGBOOT_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        int rc = pgb_read_file(files[i], &s->texts[i], &s->lens[i], 256u << 20);
        if (rc) {
            if (rc == PGBOOT_ENOTFOUND)
                pgb_hint("--template-sql names the app's schema and migration files, in order");
            else if (rc == PGBOOT_EINVALID) /* not a regular file, too large */
                pgb_hint("--template-sql names SQL files of at most 256 MB, in order (for a "
                         "directory's: --template-sql migrations/*.sql)");
            else if (rc != PGBOOT_ENOMEM)
                pgb_hint("make it readable by the user pgboot runs as, or name another file");
            return rc;
        }
        s->n++;
        if (memchr(s->texts[i], '\0', s->lens[i])) {
            rc = pgb_fail(PGBOOT_EINVALID, "%s holds a NUL byte; it is not an SQL file", files[i]);
            pgb_hint(
                "a template file is SQL text: turn a custom-format dump (pg_dump -Fc) into one "
                "with 'pg_restore -f FILE.sql DUMP' and pass FILE.sql");
            return rc;
        }
        /* The contents and their boundaries, not the file names, make the key. */
        hash_len(st, s->lens[i]);
        crypto_generichash_update(st, (const unsigned char *)s->texts[i], s->lens[i]);
    }
    return 0;
}

/* ---- the key of a template command -------------------------------------- */

/* Names tools and editors write into a migrations folder: not part of the key. */
static int key_ignored(const char *name)
{
    size_t n = strlen(name);
    if (!strcmp(name, "__pycache__") || !strcmp(name, ".git") || pgb_str_has_prefix(name, ".#"))
        return 1;
    if (n > 0 && name[n - 1] == '~')
        return 1;
    if (n >= 2 && name[0] == '#' && name[n - 1] == '#')
        return 1;
    /* vim's swap files: .NAME.swp, .swo, .swn, ... */
    return n >= 6 && name[0] == '.' && !strncmp(name + n - 4, ".sw", 3);
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The way out of a template key path that cannot be read (errno e). */
static void key_hint(int e)
{
    if (e == EACCES || e == EPERM)
        pgb_hint("--template-key paths must be readable by the user pgboot runs as: fix their "
                 "permissions, or leave the path out");
    else
        pgb_hint("--template-key names the files and directories the template command reads; "
                 "check the path, or leave it out");
}

static int key_fail(const char *path, int e)
{
    int rc = pgb_fail(PGBOOT_ERROR, "cannot read the template key %s: %s", path, strerror(e));
    key_hint(e);
    return rc;
}

/* Feed `path` (shown as `rel`) into the key: its kind, its name below the
 * key path, and its contents (a file's by their own hash, a directory's
 * entries in sorted order, a link's target). Links below a key path are not
 * followed. */
static int hash_path(crypto_generichash_state *st, const char *path, const char *rel, int top)
{
    struct stat sb;
    if ((top ? stat(path, &sb) : lstat(path, &sb)) != 0) {
        int e = errno;
        int rc = pgb_fail(e == ENOENT ? PGBOOT_ENOTFOUND : PGBOOT_ERROR,
                          "cannot read the template key %s: %s", path, strerror(e));
        if (top && e == ENOENT)
            pgb_hint("--template-key names the files and directories the template command "
                     "reads (the migrations folder)");
        else
            key_hint(e);
        return rc;
    }
    char kind = S_ISDIR(sb.st_mode)   ? 'd'
                : S_ISREG(sb.st_mode) ? 'f'
                : S_ISLNK(sb.st_mode) ? 'l'
                                      : 0;
    if (!kind)
        return 0; /* a socket, a fifo: no contents */
    crypto_generichash_update(st, (const unsigned char *)&kind, 1);
    hash_len(st, strlen(rel));
    crypto_generichash_update(st, (const unsigned char *)rel, strlen(rel));
    if (kind == 'l') {
        char target[4096];
        ssize_t n = readlink(path, target, sizeof target);
        if (n < 0) {
            int e = errno;
            int rc = pgb_fail(PGBOOT_ERROR, "cannot read the link %s: %s", path, strerror(e));
            key_hint(e);
            return rc;
        }
        hash_len(st, (size_t)n);
        crypto_generichash_update(st, (const unsigned char *)target, (size_t)n);
        return 0;
    }
    if (kind == 'f') {
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
            return key_fail(path, errno);
        crypto_generichash_state fs;
        crypto_generichash_init(&fs, NULL, 0, 32);
        unsigned char chunk[65536];
        ssize_t n;
        while ((n = read(fd, chunk, sizeof chunk)) > 0 || (n < 0 && errno == EINTR))
            if (n > 0)
                crypto_generichash_update(&fs, chunk, (size_t)n);
        int e = errno;
        close(fd);
        if (n < 0)
            return key_fail(path, e);
        unsigned char h[32];
        crypto_generichash_final(&fs, h, sizeof h);
        crypto_generichash_update(st, h, sizeof h);
        return 0;
    }
    DIR *d = opendir(path);
    if (!d)
        return key_fail(path, errno);
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    for (struct dirent *e; rc == 0 && (e = readdir(d)) != NULL;) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || key_ignored(e->d_name))
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 32;
            char **nn = realloc(names, cap * sizeof *names);
            if (!nn) {
                rc = pgb_fail(PGBOOT_ENOMEM, "out of memory");
                break;
            }
            names = nn;
        }
        if (!(names[n] = pgb_strdup(e->d_name)))
            rc = pgb_fail(PGBOOT_ENOMEM, "out of memory");
        else
            n++;
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, name_cmp);
    hash_len(st, n);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        char *sub = pgb_path_join(path, names[i]);
        char *subrel = *rel ? pgb_path_join(rel, names[i]) : pgb_strdup(names[i]);
        rc = sub && subrel ? hash_path(st, sub, subrel, 0)
                           : pgb_fail(PGBOOT_ENOMEM, "out of memory");
        free(sub);
        free(subrel);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

/* ---- the template command ------------------------------------------------ */

#define CMD_OUTPUT_MAX 4096  /* the end of the command's output that is kept */
#define CMD_OUTPUT_SHOWN 640 /* of which an error message quotes */

static const char *const cmd_env_names[] = {"DATABASE_URL", "PGHOST",     "PGPORT", "PGUSER",
                                            "PGPASSWORD",   "PGDATABASE", NULL};

static void environ_free(char **env)
{
    for (size_t i = 0; env && env[i]; i++) {
        sodium_memzero(env[i], strlen(env[i]));
        free(env[i]);
    }
    free(env);
}

static int env_is(const char *entry, const char *name)
{
    size_t n = strlen(name);
    return !strncmp(entry, name, n) && entry[n] == '=';
}

/* The command's environment: ours, without the variables it is given and
 * (for pgboot's own server) those that could send libpq elsewhere, plus the
 * connection to database `db`. malloc'd, NULL-terminated. */
static int cmd_environ(const pgboot_testdb *t, const char *db, char ***out)
{
    *out = NULL;
    char **clear = NULL;
    int rc = t->whose == PGB_PQ_OURS ? pgb_pq_client_env_clear(cmd_env_names, &clear) : 0;
    if (rc)
        return rc;
    const char *vals[6] = {NULL};
    char *dburl = url_with_db(t->url, db);
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(t->url, &perr);
    if (perr)
        PQfreemem(perr);
    for (PQconninfoOption *o = opts; o && o->keyword; o++) {
        if (!o->val || !*o->val)
            continue;
        if (!strcmp(o->keyword, "host"))
            vals[1] = o->val;
        else if (!strcmp(o->keyword, "port"))
            vals[2] = o->val;
        else if (!strcmp(o->keyword, "user"))
            vals[3] = o->val;
        else if (!strcmp(o->keyword, "password"))
            vals[4] = o->val;
    }
    vals[0] = dburl;
    vals[5] = db;
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = calloc(n + 7, sizeof *env);
    size_t k = 0;
    int oom = !env || !dburl;
    for (size_t i = 0; !oom && i < n; i++) {
        int drop = 0;
        for (size_t j = 0; cmd_env_names[j] && !drop; j++)
            drop = env_is(environ[i], cmd_env_names[j]);
        for (size_t j = 0; clear && clear[j] && !drop; j++)
            drop = env_is(environ[i], clear[j]);
        if (!drop && !(env[k++] = pgb_strdup(environ[i])))
            oom = 1;
    }
    for (size_t j = 0; !oom && j < 6; j++)
        if (vals[j] && !(env[k++] = pgb_printf("%s=%s", cmd_env_names[j], vals[j])))
            oom = 1;
    if (opts) {
        for (PQconninfoOption *o = opts; o->keyword; o++)
            if (o->val)
                sodium_memzero(o->val, strlen(o->val));
        PQconninfoFree(opts);
    }
    if (dburl)
        sodium_memzero(dburl, strlen(dburl));
    free(dburl);
    for (size_t j = 0; clear && clear[j]; j++)
        free(clear[j]);
    free(clear);
    if (oom) {
        environ_free(env);
        return pgb_fail(PGBOOT_ENOMEM, "out of memory");
    }
    *out = env;
    return 0;
}

/* The output of this thread's last template command that failed. */
static _Thread_local char last_output[CMD_OUTPUT_MAX + 1];
static _Thread_local int has_last_output;

const char *pgboot_testdb_template_output(void)
{
    return has_last_output ? last_output : NULL;
}

/* The end of the output for a one-line message: from a line's start, its
 * lines joined by " | ". */
static void output_tail(const char *buf, size_t len, char *out, size_t outsz)
{
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' '))
        len--;
    size_t start = len > CMD_OUTPUT_SHOWN ? len - CMD_OUTPUT_SHOWN : 0;
    if (start > 0) {
        const char *nl = memchr(buf + start, '\n', len - start);
        if (nl && (size_t)(nl - buf) + 1 < len)
            start = (size_t)(nl - buf) + 1;
    }
    size_t k = 0;
    if (start > 0)
        k = (size_t)snprintf(out, outsz, "... ");
    for (size_t i = start; i < len && k + 4 < outsz; i++) {
        if (buf[i] == '\n') {
            memcpy(out + k, " | ", 3);
            k += 3;
        } else if (buf[i] != '\r') {
            out[k++] = buf[i];
        }
    }
    out[k < outsz ? k : outsz - 1] = '\0';
    if (len == 0)
        snprintf(out, outsz, "(no output)");
}

/* Replace the server's password (the command has it in DATABASE_URL and
 * PGPASSWORD, and may print them) by "****" in its output, which is shown. */
static void redact_password(const pgboot_testdb *t, char *buf, size_t *len)
{
    PQconninfoOption *opts = PQconninfoParse(t->url, NULL);
    const char *pw = NULL;
    for (PQconninfoOption *o = opts; o && o->keyword; o++)
        if (!strcmp(o->keyword, "password") && o->val && strlen(o->val) >= 4)
            pw = o->val;
    if (pw) {
        size_t pl = strlen(pw), k = 0;
        for (size_t i = 0; i < *len;) {
            if (i + pl <= *len && !memcmp(buf + i, pw, pl)) {
                memcpy(buf + k, "****", 4);
                k += 4;
                i += pl;
            } else {
                buf[k++] = buf[i++];
            }
        }
        *len = k;
    }
    if (opts)
        PQconninfoFree(opts);
}

/* Run the template command against database `db` (see pgboot_testdb_open()). */
static int run_template_cmd(const pgboot_testdb *t, const char *db)
{
    char **env = NULL;
    int rc = cmd_environ(t, db, &env);
    if (rc)
        return rc;
    char buf[CMD_OUTPUT_MAX];
    size_t len = 0;
    unsigned timeout = t->cmd_timeout_ms ? t->cmd_timeout_ms : 300000;
    int status = 0, timed_out = 0;
    rc = pgb_run_shell(t->cmd, env, timeout, buf, sizeof buf, &len, &status, &timed_out);
    environ_free(env);
    if (rc)
        return rc;
    redact_password(t, buf, &len);
    char tail[CMD_OUTPUT_SHOWN + 64];
    output_tail(buf, len, tail, sizeof tail);
    int failed = timed_out || !WIFEXITED(status) || WEXITSTATUS(status) != 0;
    if (failed) { /* for pgboot_testdb_template_output() */
        memcpy(last_output, buf, len);
        last_output[len] = '\0';
        has_last_output = 1;
    }
    if (timed_out) {
        rc = pgb_fail(PGBOOT_ETIMEOUT,
                      "the template command did not finish within %u s and was killed (its whole "
                      "process group): %.160s; its output: %s",
                      (timeout + 999) / 1000, t->cmd, tail);
        pgb_hint("make it faster, or give it more time with --template-timeout SECONDS");
        return rc;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    char how[48];
    if (WIFEXITED(status))
        snprintf(how, sizeof how, "exit status %d", WEXITSTATUS(status));
    else
        snprintf(how, sizeof how, "killed by signal %d", WTERMSIG(status));
    rc = pgb_fail(PGBOOT_ERROR, "the template command failed (%s): %.160s; its output ends: %s",
                  how, t->cmd, tail);
    pgb_hint("the command runs with /bin/sh -c and DATABASE_URL (and PG*) naming the template "
             "database being built; no template is left");
    return rc;
}

static char *ident(PGconn *c, const char *name)
{
    char *q = PQescapeIdentifier(c, name, strlen(name));
    char *out = q ? pgb_strdup(q) : NULL;
    if (q)
        PQfreemem(q);
    return out;
}

/* Run `before` <name as an identifier> `after`. */
static int exec_fmt(PGconn *c, const char *what, const char *before, const char *name,
                    const char *after)
{
    char *id = ident(c, name);
    char *sql = id ? pgb_printf("%s%s%s", before, id, after) : NULL;
    int rc = sql ? exec_sql(c, sql, what) : pgb_fail(PGBOOT_ENOMEM, "out of memory");
    free(sql);
    free(id);
    return rc;
}

/* The mark, with the time it was made (for testdb list's age). */
static int mark_database(PGconn *c, const char *name)
{
    char after[sizeof MARK + 64];
    snprintf(after, sizeof after, " IS '" MARK CREATED "%lld'", (long long)time(NULL));
    return exec_fmt(c, "cannot mark a test database as pgboot's", "COMMENT ON DATABASE ", name,
                    after);
}

/* Drop `name` if it exists and carries pgboot's mark; else leave it. */
static int drop_database(PGconn *c, const char *name, int was_template)
{
    int ours = 0;
    int rc =
        exists_q(c, "SELECT 1 FROM pg_database WHERE datname = $1 AND " IS_MARKED, name, &ours);
    if (rc || !ours)
        return rc;
    if (was_template && exec_fmt(c, "cannot unfreeze an old template", "ALTER DATABASE ", name,
                                 " WITH IS_TEMPLATE false ALLOW_CONNECTIONS true") != 0)
        return PGBOOT_ERROR;
    return exec_fmt(c, "cannot drop a database", "DROP DATABASE IF EXISTS ", name, " WITH (FORCE)");
}

/* A database of a building name's exact shape (`regex`) that has no mark:
 * its builder died between CREATE DATABASE and COMMENT ON DATABASE (the two
 * cannot be one transaction). Called holding the lock every builder of such
 * a name holds, so no live builder has one; the name carries the template's
 * hash, which only pgboot computes. Dropped. */
static void drop_unmarked_builds(PGconn *c, const char *regex)
{
    const char *params[1] = {regex};
    PGresult *r = PQexecParams(c,
                               "SELECT datname FROM pg_database WHERE datname ~ $1 AND NOT "
                               "coalesce(" IS_MARKED ", false)",
                               1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) == PGRES_TUPLES_OK)
        for (int i = 0; i < PQntuples(r); i++)
            exec_fmt(c, "cannot drop a half-made clone", "DROP DATABASE IF EXISTS ",
                     PQgetvalue(r, i, 0), " WITH (FORCE)");
    PQclear(r);
    pgb_error_reset();
}

/* Build the template (called with the advisory lock held). */
static int build_template(pgboot_testdb *t, const sql_set *sql, const char *const *files)
{
    char build[64];
    snprintf(build, sizeof build, BUILD_PREFIX "%s", t->hash);
    /* A builder that died left this behind; we hold the lock, so it is stale
     * (marked, or not yet). */
    char shape[80];
    snprintf(shape, sizeof shape, "^" BUILD_PREFIX "%s$", t->hash);
    drop_unmarked_builds(t->conn, shape);
    int rc = drop_database(t->conn, build, 0);
    if (rc == 0)
        rc =
            exec_fmt(t->conn, "cannot create the template database", "CREATE DATABASE ", build, "");
    if (rc == 0)
        rc = mark_database(t->conn, build);
    if (rc)
        return rc;
    /* Each file in a session of its own: what one sets (pg_dump's empty
     * search_path, say) does not leak into the next. */
    for (size_t i = 0; i < sql->n && rc == 0; i++) {
        PGconn *b = NULL;
        if ((rc = connect_url(&b, t->whose, t->url, build)) == 0)
            rc = pgb_pq_run_script(b, sql->texts[i], sql->lens[i], files[i]);
        PQfinish(b);
    }
    /* Then the command; sessions it left (a daemon it started, already
     * killed, whose backend has not gone yet) would stop the rename. */
    if (rc == 0 && t->cmd && (rc = run_template_cmd(t, build)) == 0)
        rc = end_sessions(t->conn, build, NULL);
    if (rc) {
        /* The file's error stands; a failed clean-up is added after it. */
        pgb_error_saved first;
        pgb_error_save(&first);
        drop_database(t->conn, build, 0);
        pgb_error_restore(&first);
        return rc;
    }
    char *from = ident(t->conn, build), *to = ident(t->conn, t->tpl);
    char *sql1 = from && to ? pgb_printf("ALTER DATABASE %s RENAME TO %s", from, to) : NULL;
    rc = sql1 ? exec_sql(t->conn, sql1, "cannot finish the template")
              : pgb_fail(PGBOOT_ENOMEM, "out of memory");
    free(sql1);
    free(from);
    free(to);
    /* Frozen: nobody connects to it by accident, and FILE_COPY needs that. */
    if (rc == 0)
        rc = exec_fmt(t->conn, "cannot freeze the template", "ALTER DATABASE ", t->tpl,
                      " WITH IS_TEMPLATE true ALLOW_CONNECTIONS false");
    return rc;
}

/* Advisory locks keyed by a template's hash: one for building it, one for
 * filling (or removing) its pool. mode: 1 lock, 2 try (*got), 0 unlock. */
enum { LOCK_BUILD = 0, LOCK_POOL = 1 };

static int lock_key_kind(PGconn *c, const char *hash, int kind, int mode, int *got)
{
    char key[32];
    /* 15 hex digits fit a bigint; the pool's key differs in its top bits. */
    long long k = (long long)strtoull(hash + 1, NULL, 16);
    if (kind == LOCK_POOL)
        k ^= 0x5a5a5a5a5a5a5a5LL;
    snprintf(key, sizeof key, "%lld", k);
    const char *params[1] = {key};
    const char *sql = mode == 1   ? "SELECT pg_advisory_lock($1::bigint)"
                      : mode == 2 ? "SELECT pg_try_advisory_lock($1::bigint)"
                                  : "SELECT pg_advisory_unlock($1::bigint)";
    PGresult *r = PQexecParams(c, sql, 1, NULL, params, NULL, NULL, 0);
    int rc = 0;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        rc = pgb_fail(PGBOOT_ERROR, "cannot take a testdb lock: %s", PQresultErrorMessage(r));
        sql_hint(c, r);
    }
    if (rc == 0 && got)
        *got = PQntuples(r) == 1 && !strcmp(PQgetvalue(r, 0, 0), "t");
    PQclear(r);
    return rc;
}

static int lock_key(PGconn *c, const char *hash, int lock)
{
    return lock_key_kind(c, hash, LOCK_BUILD, lock ? 1 : 0, NULL);
}

/* Drop every database whose name matches a LIKE pattern (pool leftovers). */
static void drop_matching(PGconn *c, const char *pattern)
{
    const char *params[1] = {pattern};
    PGresult *r =
        PQexecParams(c, "SELECT datname FROM pg_database WHERE datname LIKE $1 AND " IS_MARKED, 1,
                     NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) == PGRES_TUPLES_OK)
        for (int i = 0; i < PQntuples(r); i++)
            drop_database(c, PQgetvalue(r, i, 0), 0);
    PQclear(r);
}

/* Remove templates of older SQL that no clone uses any more. */
static void remove_unused_templates(pgboot_testdb *t)
{
    PGresult *r = PQexec(t->conn, "SELECT datname FROM pg_database WHERE datname LIKE "
                                  "'pgboot\\_tpl\\_%' AND " IS_MARKED " ORDER BY 1");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        return;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        const char *name = PQgetvalue(r, i, 0);
        if (!strcmp(name, t->tpl) || strlen(name) != strlen(TPL_PREFIX) + 16)
            continue;
        char clones[64], pool[64];
        snprintf(clones, sizeof clones, "pgboot\\_t\\_%.8s\\_%%", name + strlen(TPL_PREFIX));
        snprintf(pool, sizeof pool, "pgboot\\_p\\_%.8s\\_%%", name + strlen(TPL_PREFIX));
        int used = 1;
        if (exists_q(t->conn, "SELECT 1 FROM pg_database WHERE datname LIKE $1", clones, &used) ==
                0 &&
            !used) {
            /* Waits for a filler of that pool, so none outlives the template. */
            const char *old_hash = name + strlen(TPL_PREFIX);
            if (lock_key_kind(t->conn, old_hash, LOCK_POOL, 1, NULL) == 0) {
                drop_matching(t->conn, pool);
                drop_database(t->conn, name, 1);
                lock_key_kind(t->conn, old_hash, LOCK_POOL, 0, NULL);
            }
        }
    }
    PQclear(r);
    /* Pool databases whose template is gone (a filler that lost a race);
     * those of a snapshot are not a template's. */
    r = PQexec(t->conn, "SELECT p.datname FROM pg_database p WHERE p.datname LIKE "
                        "'pgboot\\_p\\_%' AND " IS_MARKED
                        " AND NOT EXISTS (SELECT 1 FROM pg_database x WHERE "
                        "x.datname LIKE 'pgboot\\_tpl\\_' || substr(p.datname, 10, 8) || '%')");
    if (PQresultStatus(r) == PGRES_TUPLES_OK)
        for (int i = 0; i < PQntuples(r); i++)
            if (!is_snapshot_hash(t->conn, PQgetvalue(r, i, 0) + strlen(POOL_PREFIX)))
                drop_database(t->conn, PQgetvalue(r, i, 0), 0);
    PQclear(r);
    pgb_error_reset();
}

static int pool_count(PGconn *c, const char *hash, int *n)
{
    char pattern[64];
    snprintf(pattern, sizeof pattern, "pgboot\\_p\\_%.8s\\_%%", hash);
    const char *params[1] = {pattern};
    PGresult *r = PQexecParams(c, "SELECT count(*) FROM pg_database WHERE datname LIKE $1", 1, NULL,
                               params, NULL, NULL, 0);
    int rc = 0;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        rc = pgb_fail(PGBOOT_ERROR, "cannot count the pool: %s", PQresultErrorMessage(r));
        sql_hint(c, r);
    } else
        *n = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    return rc;
}

/* CREATE DATABASE <prefix><h8>_<random> from the template. */
static int create_clone(PGconn *c, const pgboot_testdb *t, const char *prefix, char name[64])
{
    char rnd[13], building[64];
    pgb_random_name(rnd, sizeof rnd);
    snprintf(name, 64, "%s%.8s_%s", prefix, t->hash, rnd);
    /* A pool database is visible to takers as soon as it has its name: it is
     * made and marked under another name first, then renamed into the pool. */
    int pooled = strcmp(prefix, POOL_PREFIX) == 0;
    if (pooled)
        snprintf(building, sizeof building, "%s%.8s_%s", BUILDING_PREFIX, t->hash, rnd);
    const char *made = pooled ? building : name;
    char *tpl = ident(c, t->tpl);
    char *sql =
        tpl ? pgb_printf("CREATE DATABASE %s TEMPLATE %s STRATEGY FILE_COPY", made, tpl) : NULL;
    int rc = sql ? exec_sql(c, sql, "cannot clone the template")
                 : pgb_fail(PGBOOT_ENOMEM, "out of memory");
    if (rc == 0)
        rc = mark_database(c, made);
    free(sql);
    if (rc == 0 && pooled) {
        sql = pgb_printf("ALTER DATABASE %s RENAME TO %s", building, name);
        rc = sql ? exec_sql(c, sql, "cannot add a clone to the pool")
                 : pgb_fail(PGBOOT_ENOMEM, "out of memory");
        free(sql);
    }
    free(tpl);
    return rc;
}

/* Top the pool up to pool_size. One filler per template at a time: the
 * others (and every pgboot testdb's detached refill) find it taken and leave,
 * so the pool never overshoots; the remover of an old template waits for it. */
static int fill_pool(PGconn *c, pgboot_testdb *t)
{
    int got = 0, rc = lock_key_kind(c, t->hash, LOCK_POOL, 2, &got);
    if (rc || !got)
        return rc;
    /* Holding the pool's lock, a clone still being built is a dead filler's
     * (marked, or not yet). */
    char building[64], shape[80];
    snprintf(building, sizeof building, "pgboot\\_b\\_%.8s\\_%%", t->hash);
    drop_matching(c, building);
    snprintf(shape, sizeof shape, "^" BUILDING_PREFIX "%.8s_[a-z0-9]{12}$", t->hash);
    drop_unmarked_builds(c, shape);
    int exists = 0, n = 0;
    rc = exists_q(c, "SELECT 1 FROM pg_database WHERE datname = $1", t->tpl, &exists);
    if (rc == 0 && exists && pgb_str_has_prefix(t->tpl, SNAP_PREFIX)) {
        /* A snapshot made again under this name is another one: its pool is not ours. */
        char oid[16], now[17];
        if ((rc = database_oid(c, t->tpl, oid)) == 0) {
            snapshot_hash(t->tpl + strlen(SNAP_PREFIX), oid, now);
            exists = *oid && !strcmp(now, t->hash);
        }
    }
    if (rc == 0 && exists)
        rc = pool_count(c, t->hash, &n);
    for (; rc == 0 && exists && n < (int)t->pool_size; n++) {
        char name[64];
        rc = create_clone(c, t, POOL_PREFIX, name);
    }
    int urc = lock_key_kind(c, t->hash, LOCK_POOL, 0, NULL);
    return rc ? rc : urc;
}

int pgboot_testdb_fill_pool(pgboot_testdb *t)
{
    pgb_error_reset();
    return fill_pool(t->conn, t);
}

static void *refill_main(void *arg)
{
    pgboot_testdb *t = arg;
    PGconn *c = NULL;
    if (connect_url(&c, t->whose, t->url, NULL) != 0)
        return NULL;
    pthread_mutex_lock(&t->mu);
    while (!t->stop) {
        t->wake = 0;
        pthread_mutex_unlock(&t->mu);
        fill_pool(c, t);
        pthread_mutex_lock(&t->mu);
        while (!t->wake && !t->stop)
            pthread_cond_wait(&t->cv, &t->mu);
    }
    pthread_mutex_unlock(&t->mu);
    PQfinish(c);
    return NULL;
}

void pgboot_testdb_free(pgboot_testdb *t)
{
    if (!t)
        return;
    if (t->refilling) {
        pthread_mutex_lock(&t->mu);
        t->stop = 1;
        pthread_cond_signal(&t->cv);
        pthread_mutex_unlock(&t->mu);
        pthread_join(t->thread, NULL);
        pthread_mutex_destroy(&t->mu);
        pthread_cond_destroy(&t->cv);
    }
    PQfinish(t->conn);
    if (t->url)
        sodium_memzero(t->url, strlen(t->url));
    free(t->url);
    free(t);
}

const char *pgboot_testdb_template(const pgboot_testdb *t)
{
    return t->tpl;
}

int pgboot_testdb_serves(const pgboot_testdb *t, const char *url)
{
    if (!t || !url || !is_url(url) || pgb_need_lib(PGB_LIB_PQ) != 0) {
        pgb_error_reset();
        return 0;
    }
    static const char *const keys[] = {"host", "hostaddr", "port", NULL};
    int same = 1;
    for (int i = 0; keys[i] && same; i++) {
        char *a = url_param(t->url, keys[i]), *b = url_param(url, keys[i]);
        same = a && b && !strcmp(a, b);
        free(a);
        free(b);
    }
    return same;
}

char *pgboot_testdb_address(const pgboot_testdb *t, const char *url)
{
    if (!url)
        url = t ? t->url : NULL;
    if (!url || !is_url(url) || pgb_need_lib(PGB_LIB_PQ) != 0) {
        pgb_error_reset();
        return NULL;
    }
    char *host = url_param(url, "host"), *addr = url_param(url, "hostaddr");
    char *port = url_param(url, "port"), *out = NULL;
    if (host && addr && port) {
        const char *h = *host ? host : *addr ? addr : "(default host)";
        int v6 = strchr(h, ':') && !strchr(h, '/') && !strchr(h, ',');
        out = pgb_printf("%s%s%s%s%s%s:%s", v6 ? "[" : "", h, v6 ? "]" : "",
                         *host && *addr ? " (" : "", *host && *addr ? addr : "",
                         *host && *addr ? ")" : "", *port ? port : "(default port)");
    }
    free(host);
    free(addr);
    free(port);
    return out;
}

/* A snapshot's name: [a-z0-9_], 1 to SNAP_NAME_MAX bytes. */
static int snapshot_name_check(const char *name)
{
    size_t n = strlen(name);
    int ok = n >= 1 && n <= SNAP_NAME_MAX;
    for (size_t i = 0; ok && i < n; i++)
        ok = (name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
             name[i] == '_';
    if (ok)
        return 0;
    int rc = pgb_fail(PGBOOT_EINVALID, "'%.80s' is not a snapshot name", name);
    pgb_hint("a snapshot's name is 1 to %d lower-case letters, digits and '_'", SNAP_NAME_MAX);
    return rc;
}

/* The hash that names a snapshot's clones and pool (pgboot_t_<hash8>_...):
 * of its name and its database's OID, so that a snapshot made again under
 * the same name has a pool of its own (a filler of the old one's, which
 * holds its lock in another database's lock space, cannot add to it). With
 * oid "": the key of the lock that serialises the snapshots of a name. */
static void snapshot_hash(const char *name, const char *oid, char hash[17])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 8);
    crypto_generichash_update(&st, (const unsigned char *)"pgboot snapshot", 16);
    hash_len(&st, strlen(name));
    crypto_generichash_update(&st, (const unsigned char *)name, strlen(name));
    crypto_generichash_update(&st, (const unsigned char *)oid, strlen(oid));
    unsigned char h[8];
    crypto_generichash_final(&st, h, sizeof h);
    pgb_hex(hash, h, sizeof h);
}

/* A marked database's OID as text into oid[16], "" when there is none. */
static int database_oid(PGconn *c, const char *name, char oid[16])
{
    const char *params[1] = {name};
    PGresult *r =
        PQexecParams(c, "SELECT oid::text FROM pg_database WHERE datname = $1 AND " IS_MARKED, 1,
                     NULL, params, NULL, NULL, 0);
    int rc = 0;
    oid[0] = '\0';
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        rc = pgb_fail(PGBOOT_ERROR, "cannot query the server: %s", PQresultErrorMessage(r));
        sql_hint(c, r);
    } else if (PQntuples(r) == 1)
        snprintf(oid, 16, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return rc;
}

/* Whether h8 is the hash of a snapshot's clones (see remove_unused_templates). */
static int is_snapshot_hash(PGconn *c, const char *h8)
{
    PGresult *r = PQexec(c, "SELECT datname, oid::text FROM pg_database WHERE datname LIKE "
                            "'pgboot\\_s\\_%'");
    int yes = 0;
    for (int i = 0; PQresultStatus(r) == PGRES_TUPLES_OK && i < PQntuples(r) && !yes; i++) {
        char hash[17];
        snapshot_hash(PQgetvalue(r, i, 0) + strlen(SNAP_PREFIX), PQgetvalue(r, i, 1), hash);
        yes = !strncmp(hash, h8, 8);
    }
    PQclear(r);
    return yes;
}

/* What a message shows of a string that is not a postgresql:// URL, which
 * may still hold a password (mysql://user:secret@host/db, a libpq
 * "host=... password=..." string): another scheme's URL by its scheme alone,
 * a string with '=' or '@' not at all, anything else by its first 60 bytes. */
static void not_url_shown(const char *s, char *out, size_t n)
{
    if (!s)
        s = "";
    const char *sep = strstr(s, "://");
    if (sep && sep - s <= 16 && strspn(s, "abcdefghijklmnopqrstuvwxyz+.-") == (size_t)(sep - s))
        snprintf(out, n, "%.*s://...", (int)(sep - s), s);
    else if (strpbrk(s, "=@"))
        snprintf(out, n, "(not shown: it may hold a password)");
    else
        snprintf(out, n, "%.60s", s);
}

/* The server opts names (its url, or its server's), and whose it is;
 * libpq loaded. PGBOOT_EINVALID (no opts, both or neither, not a URL),
 * PGBOOT_EVERSION (opts' version), or libpq's loading error. */
static int options_target(const pgboot_testdb_options *o, const char **url, pgb_pq_whose *whose)
{
    if (!o)
        return pgb_fail(PGBOOT_EINVALID, "no pgboot_testdb_options given");
    int rc = pgb_version_check(o->version, PGBOOT_TESTDB_OPTIONS_VERSION, "pgboot_testdb_options");
    if (rc)
        return rc;
    const pgboot_server *server = o->version >= 2 ? o->server : NULL;
    if (server && o->url)
        return pgb_fail(PGBOOT_EINVALID, "pgboot_testdb_options has both a url and a server");
    *url = server ? server->url : o->url;
    *whose = server && !server->external ? PGB_PQ_OURS : PGB_PQ_USERS;
    if (!is_url(*url)) {
        char shown[96];
        not_url_shown(*url, shown, sizeof shown);
        rc = pgb_fail(PGBOOT_EINVALID, "'%s' is not a postgresql:// URL", shown);
        pgb_hint("pass the server's URL (pgboot url --app NAME prints one), or use --app NAME");
        return rc;
    }
    return pgb_need_lib(PGB_LIB_PQ);
}

int pgboot_testdb_open(pgboot_testdb **out, const pgboot_testdb_options *o)
{
    pgb_error_reset();
    has_last_output = 0;
    *out = NULL;
    const char *url;
    pgb_pq_whose whose;
    int rc = options_target(o, &url, &whose);
    if (rc)
        return rc;
    const char *cmd = o->version >= 3 ? o->template_cmd : NULL;
    const char *const *keys = o->version >= 3 ? o->template_keys : NULL;
    const char *snap = o->version >= 3 ? o->template_name : NULL;
    int nsql = o->sql_files && o->sql_files[0];
    if (cmd && !*cmd) {
        rc = pgb_fail(PGBOOT_EINVALID, "the template command is empty");
        pgb_hint("give the app's migration command, e.g. --template-cmd 'alembic upgrade head', "
                 "or leave --template-cmd out");
        return rc;
    }
    if (snap && (nsql || cmd)) {
        rc = pgb_fail(PGBOOT_EINVALID,
                      "a snapshot (--template %s) is a template already: it "
                      "takes no SQL files nor a template command",
                      snap);
        pgb_hint("give either --template NAME or the template's files and command");
        return rc;
    }
    if (keys && keys[0] && !cmd) {
        rc = pgb_fail(PGBOOT_EINVALID, "template keys (--template-key) go with a template command "
                                       "(--template-cmd CMD)");
        pgb_hint("add --template-cmd CMD, or leave --template-key out (SQL files key the template "
                 "by their contents)");
        return rc;
    }
    if (!snap && !cmd && !nsql) {
        rc = pgb_fail(PGBOOT_EINVALID, "no template SQL files given (--template-sql FILE) nor "
                                       "a template command (--template-cmd CMD)");
        pgb_hint("name the app's schema and migrations (--template-sql schema.sql), its migration "
                 "command (--template-cmd CMD) or a snapshot (--template NAME)");
        return rc;
    }
    if (snap && (rc = snapshot_name_check(snap)) != 0)
        return rc;
    sql_set sql;
    memset(&sql, 0, sizeof sql);
    pgboot_testdb *t = calloc(1, sizeof *t);
    if (!t)
        return pgb_fail(PGBOOT_ENOMEM, "out of memory");
    t->whose = whose;
    t->pool_size = o->pool_size ? o->pool_size : DEFAULT_POOL;
    t->cmd = cmd;
    t->cmd_timeout_ms = o->version >= 3 ? o->template_timeout_ms : 0;
    if (snap) {
        snprintf(t->tpl, sizeof t->tpl, SNAP_PREFIX "%s", snap); /* hashed once connected */
    } else {
        crypto_generichash_state st;
        crypto_generichash_init(&st, NULL, 0, 8);
        if (cmd) /* a template of SQL alone keeps the key it always had */
            crypto_generichash_update(&st, (const unsigned char *)"pgboot template-cmd", 20);
        if ((rc = read_sql(&sql, o->sql_files, &st)) != 0)
            goto fail;
        if (cmd) {
            hash_len(&st, strlen(cmd));
            crypto_generichash_update(&st, (const unsigned char *)cmd, strlen(cmd));
            for (size_t i = 0; keys && keys[i] && rc == 0; i++) {
                hash_len(&st, i);
                rc = hash_path(&st, keys[i], "", 1);
            }
            if (rc)
                goto fail;
        }
        unsigned char h[8];
        crypto_generichash_final(&st, h, sizeof h);
        pgb_hex(t->hash, h, sizeof h);
        snprintf(t->tpl, sizeof t->tpl, TPL_PREFIX "%s", t->hash);
    }
    t->url = pgb_strdup(url);
    if (!t->url) {
        rc = pgb_fail(PGBOOT_ENOMEM, "out of memory");
        goto fail;
    }
    if ((rc = connect_url(&t->conn, t->whose, url, NULL)) != 0)
        goto fail;
    unsigned int want = o->version >= 3 ? o->pg_version : 0;
    int server_version = PQserverVersion(t->conn);
    if (want && (unsigned int)(server_version / 10000) != want) {
        rc = pgb_fail(PGBOOT_EVERSION,
                      "the server for the test databases runs PostgreSQL %d, and PostgreSQL %u "
                      "was asked for",
                      server_version / 10000, want);
        pgb_hint("start a server of PostgreSQL %u for them (pgboot testdb --app NAME "
                 "--pg-version %u, for an app whose cluster is new or of that major)",
                 want, want);
        goto fail;
    }
    int exists = 0;
    const char *q = "SELECT 1 FROM pg_database WHERE datname = $1";
    if (snap) {
        char oid[16] = "";
        if ((rc = database_oid(t->conn, t->tpl, oid)) != 0)
            goto fail;
        if (!*oid) {
            rc = pgb_fail(PGBOOT_ENOTFOUND, "there is no snapshot '%s' on this server", snap);
            pgb_hint("pgboot testdb snapshot URL --as %s makes one from a test database", snap);
            goto fail;
        }
        snapshot_hash(snap, oid, t->hash);
    }
    if ((rc = exists_q(t->conn, q, t->tpl, &exists)) != 0)
        goto fail;
    if (!exists) {
        if ((rc = lock_key(t->conn, t->hash, 1)) != 0)
            goto fail;
        if ((rc = exists_q(t->conn, q, t->tpl, &exists)) == 0 && !exists &&
            (rc = build_template(t, &sql, o->sql_files)) == 0)
            remove_unused_templates(t);
        int urc = lock_key(t->conn, t->hash, 0);
        if (rc == 0)
            rc = urc;
        if (rc)
            goto fail;
    }
    if (o->background_refill) {
        pthread_mutex_init(&t->mu, NULL);
        pthread_cond_init(&t->cv, NULL);
        if (pthread_create(&t->thread, NULL, refill_main, t) != 0) {
            pthread_mutex_destroy(&t->mu);
            pthread_cond_destroy(&t->cv);
            rc = pgb_fail(PGBOOT_ERROR, "cannot start the pool refill thread");
            goto fail;
        }
        t->refilling = 1;
    }
    sql_set_free(&sql);
    t->cmd = NULL; /* the caller's */
    *out = t;
    return 0;
fail:
    sql_set_free(&sql);
    pgboot_testdb_free(t);
    return rc;
}

/* Take a database from the pool by renaming it; 1 if one was taken. */
static int take_from_pool(pgboot_testdb *t, const char *name)
{
    char pattern[64];
    snprintf(pattern, sizeof pattern, "pgboot\\_p\\_%.8s\\_%%", t->hash);
    const char *params[1] = {pattern};
    PGresult *r = PQexecParams(t->conn,
                               "SELECT datname FROM pg_database WHERE datname LIKE $1 "
                               "ORDER BY random() LIMIT 4",
                               1, NULL, params, NULL, NULL, 0);
    int taken = 0;
    for (int i = 0; PQresultStatus(r) == PGRES_TUPLES_OK && i < PQntuples(r) && !taken; i++) {
        char *from = ident(t->conn, PQgetvalue(r, i, 0));
        char *sql = from ? pgb_printf("ALTER DATABASE %s RENAME TO %s", from, name) : NULL;
        /* Another taker may have renamed it first: then try the next. */
        if (sql) {
            PGresult *a = PQexec(t->conn, sql);
            taken = PQresultStatus(a) == PGRES_COMMAND_OK;
            PQclear(a);
        }
        free(sql);
        free(from);
    }
    PQclear(r);
    return taken;
}

static int server_gone(pgboot_testdb *t);

/* The handle's connection, made again when the server dropped it (a stop,
 * a restart): 0, or PGBOOT_ENOTRUNNING naming the server. */
static int reconnect_if_dropped(pgboot_testdb *t)
{
    if (PQstatus(t->conn) == CONNECTION_OK)
        return 0;
    PQreset(t->conn);
    if (PQstatus(t->conn) == CONNECTION_OK)
        return 0;
    return server_gone(t);
}

static int server_gone(pgboot_testdb *t)
{
    const char *why = PQerrorMessage(t->conn);
    int rc =
        pgb_fail(PGBOOT_ENOTRUNNING, "the server at %s:%s does not answer: %.*s",
                 PQhost(t->conn) ? PQhost(t->conn) : "?", PQport(t->conn) ? PQport(t->conn) : "?",
                 why && *why ? (int)strcspn(why, "\n") : 14, why && *why ? why : "connection lost");
    pgb_hint("start it again (pgboot start --app NAME for an app's server), then ask again: "
             "the connection is made again at the next request");
    return rc;
}

int pgboot_testdb_ping(pgboot_testdb *t)
{
    pgb_error_reset();
    int rc = reconnect_if_dropped(t);
    if (rc)
        return rc;
    PGresult *r = PQexec(t->conn, "SELECT 1");
    int ok = PQresultStatus(r) == PGRES_TUPLES_OK;
    PQclear(r);
    if (ok)
        return 0;
    /* Dropped just now: once more, made again. */
    return PQstatus(t->conn) == CONNECTION_OK ? server_gone(t) : reconnect_if_dropped(t);
}

int pgboot_testdb_clone(pgboot_testdb *t, char **url_out)
{
    pgb_error_reset();
    *url_out = NULL;
    int gone = reconnect_if_dropped(t);
    if (gone)
        return gone;
    char rnd[13], name[64];
    pgb_random_name(rnd, sizeof rnd);
    snprintf(name, sizeof name, CLONE_PREFIX "%.8s_%s", t->hash, rnd);
    int rc = 0;
    if (!take_from_pool(t, name))
        rc = create_clone(t->conn, t, CLONE_PREFIX, name);
    if (t->refilling) {
        pthread_mutex_lock(&t->mu);
        t->wake = 1;
        pthread_cond_signal(&t->cv);
        pthread_mutex_unlock(&t->mu);
    }
    if (rc && PQstatus(t->conn) != CONNECTION_OK) /* dropped meanwhile: say so */
        return server_gone(t);
    if (rc)
        return rc;
    *url_out = url_with_db(t->url, name);
    return *url_out ? 0 : pgb_fail(PGBOOT_ENOMEM, "out of memory");
}

/* A connection to the server of a test database's URL, to another database
 * (a database cannot drop or rename itself). */
static int admin_connect(PGconn **c, const char *url)
{
    int rc = connect_url(c, PGB_PQ_USERS, url, "postgres");
    if (rc != 0) {
        pgb_error_reset();
        rc = connect_url(c, PGB_PQ_USERS, url, "template1");
    }
    return rc;
}

/* 0 when `db` exists and carries pgboot's mark; else the error, `what`
 * naming what is refused ("dropping it"). */
static int check_ours(PGconn *c, const char *db, const char *what)
{
    int exists = 0, ours = 0;
    int rc = exists_q(c, "SELECT 1 FROM pg_database WHERE datname = $1", db, &exists);
    if (rc == 0 && exists)
        rc = exists_q(c, "SELECT 1 FROM pg_database WHERE datname = $1 AND " IS_MARKED, db, &ours);
    if (rc == 0 && !exists && pgb_str_has_prefix(db, CLONE_PREFIX)) {
        /* a kept clone was renamed: its old URL names nothing */
        rc = pgb_fail(PGBOOT_ENOTFOUND, "database %s does not exist: dropped already, or kept", db);
        pgb_hint("keeping gives a database a new name (" KEPT_PREFIX
                 "...), which keep printed; 'pgboot testdb list' shows every one");
        return rc;
    }
    if (rc == 0 && !exists) {
        rc = pgb_fail(PGBOOT_ENOTFOUND, "database %s does not exist (dropped already?)", db);
        pgb_hint(
            "'pgboot testdb list --app NAME' (or --url URL) shows the test databases there are");
        return rc;
    }
    if (rc == 0 && !ours) {
        rc = pgb_fail(PGBOOT_EINVALID,
                      "database %s was not made by pgboot testdb (it lacks pgboot's mark); "
                      "not %s",
                      db, what);
        pgb_hint("if it is yours to remove, drop it yourself with DROP DATABASE");
    }
    return rc;
}

#define URL_HINT                                                                                   \
    "pass the URL pgboot testdb printed (postgresql://USER:PASSWORD@HOST:PORT/pgboot_t_...)"

/* The database of a URL, checked to be a test database: one of the name
 * prefixes (NULL-terminated). malloc'd into *db. The hint of a refusal:
 * kind_hint for another of pgboot testdb's databases (a template, ...),
 * other_hint for a database it did not make. */
static int test_db_of(const char *url, const char *const *prefixes, const char *what,
                      const char *kind_hint, const char *other_hint, char **db)
{
    *db = NULL;
    int rc;
    if (!is_url(url)) {
        char shown[96];
        not_url_shown(url, shown, sizeof shown);
        rc = pgb_fail(PGBOOT_EINVALID, "'%s' is not a postgresql:// URL", shown);
        pgb_hint(URL_HINT);
        return rc;
    }
    if ((rc = pgb_need_lib(PGB_LIB_PQ)) != 0)
        return rc;
    char *d = url_param(url, "dbname"); /* NULL: libpq cannot read the URL */
    int ok = 0;
    for (size_t i = 0; d && strlen(d) <= 63 && prefixes[i]; i++)
        ok |= pgb_str_has_prefix(d, prefixes[i]);
    if (ok) {
        *db = d;
        return 0;
    }
    if (!d || !*d) {
        /* Not the URL: libpq's complaint quotes it, password included. */
        rc = pgb_fail(
            PGBOOT_EINVALID, "%s; not %s",
            d ? "the URL names no database" : "the URL is not valid (libpq cannot read it)", what);
        pgb_hint(URL_HINT);
    } else if (kind_of(d)) {
        rc = pgb_fail(PGBOOT_EINVALID,
                      "database '%s' is pgboot testdb's (%s), not a clone it handed out; not %s", d,
                      kind_of(d), what);
        pgb_hint("%s", kind_hint);
    } else {
        rc = pgb_fail(PGBOOT_EINVALID, "database '%s' was not made by pgboot testdb; not %s", d,
                      what);
        pgb_hint("%s", other_hint);
    }
    free(d);
    return rc;
}

/* Whether the last statement failed with SQLSTATE `state`. */
static int failed_with(const PGresult *r, const char *state)
{
    const char *s = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    return s && !strcmp(s, state);
}

/* End the sessions on `db` other than this one, waiting until they are gone
 * (PostgreSQL 14's pg_terminate_backend timeout); how many in *n. */
static int end_sessions(PGconn *c, const char *db, int *n)
{
    const char *params[1] = {db};
    PGresult *r = PQexecParams(c,
                               "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 5000)) "
                               "FROM pg_stat_activity WHERE datname = $1 AND pid <> "
                               "pg_backend_pid()",
                               1, NULL, params, NULL, NULL, 0);
    int rc = 0;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        rc = pgb_fail(PGBOOT_ERROR, "cannot end the sessions on database %s: %s", db,
                      PQresultErrorMessage(r));
        if (failed_with(r, "42501"))
            pgb_hint("the URL's role may end only its own sessions (or needs pg_signal_backend): "
                     "close the other sessions on the database, then try again");
        else
            sql_hint(c, r);
    } else if (n)
        *n += atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    return rc;
}

int pgboot_testdb_drop(const char *url)
{
    pgb_error_reset();
    static const char *const ours[] = {CLONE_PREFIX, KEPT_PREFIX, NULL};
    char *db = NULL;
    int rc = test_db_of(url, ours, "dropping it",
                        "drop removes clones and kept databases; 'pgboot testdb clean --app NAME' "
                        "removes the pools and unused snapshots (a template goes once no clone "
                        "uses it)",
                        "if it is yours to remove, drop it yourself with DROP DATABASE", &db);
    if (rc)
        return rc;
    PGconn *c = NULL;
    if ((rc = admin_connect(&c, url)) == 0) {
        if ((rc = check_ours(c, db, "dropping it")) == 0)
            rc = drop_database(c, db, 0);
        PQfinish(c);
    }
    free(db);
    return rc;
}

/* A label as a part of a database name: [a-z0-9_] (upper case folded, any
 * other byte a '_'), no '_' at either end nor two in a row, at most max
 * bytes; "kept" when nothing is left. */
static void label_part(const char *label, char *out, size_t max)
{
    size_t n = 0;
    for (const char *p = label ? label : ""; *p && n < max; p++) {
        char ch = *p;
        if (ch >= 'A' && ch <= 'Z')
            ch = (char)(ch - 'A' + 'a');
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')))
            ch = '_';
        if (ch == '_' && (n == 0 || out[n - 1] == '_'))
            continue;
        out[n++] = ch;
    }
    while (n > 0 && out[n - 1] == '_')
        n--;
    out[n] = '\0';
    if (n == 0)
        snprintf(out, max + 1, "kept");
}

int pgboot_testdb_keep(const char *url, const char *label, char **kept_url_out)
{
    pgb_error_reset();
    if (!kept_url_out)
        return pgb_fail(PGBOOT_EINVALID, "pgboot_testdb_keep() needs kept_url_out");
    *kept_url_out = NULL;
    static const char *const clones[] = {CLONE_PREFIX, NULL};
    char *db = NULL;
    static const char keep_hint[] =
        "keep takes the URL of a database pgboot testdb handed out (pgboot_t_...)";
    int rc = test_db_of(url, clones, "keeping it", keep_hint, keep_hint, &db);
    if (rc)
        return rc;
    PGconn *c = NULL;
    if ((rc = admin_connect(&c, url)) != 0 || (rc = check_ours(c, db, "keeping it")) != 0) {
        PQfinish(c);
        free(db);
        return rc;
    }
    /* pgboot_k_<h8>_<label>_<random6>: the template's hash as in a clone's
     * name, the label, and a random part that makes it unique. */
    char part[KEEP_LABEL_MAX + 1], name[64];
    label_part(label, part, KEEP_LABEL_MAX);
    const char *h8 = db + strlen(CLONE_PREFIX);
    int ended = 0;
    for (int attempt = 0;; attempt++) {
        char rnd[7];
        pgb_random_name(rnd, sizeof rnd);
        snprintf(name, sizeof name, KEPT_PREFIX "%.8s_%s_%s", h8, part, rnd);
        char *from = ident(c, db);
        char *sql = from ? pgb_printf("ALTER DATABASE %s RENAME TO %s", from, name) : NULL;
        free(from);
        if (!sql) {
            rc = pgb_fail(PGBOOT_ENOMEM, "out of memory");
            break;
        }
        PGresult *r = PQexec(c, sql);
        free(sql);
        int done = PQresultStatus(r) == PGRES_COMMAND_OK;
        int taken = failed_with(r, "42P04");  /* duplicate_database */
        int in_use = failed_with(r, "55006"); /* object_in_use */
        if (!done && !((taken || in_use) && attempt < 5)) {
            rc = pgb_fail(PGBOOT_ERROR, "cannot rename database %s to %s: %s", db, name,
                          PQresultErrorMessage(r));
            sql_hint(c, r);
        }
        PQclear(r);
        if (done || rc)
            break;
        /* A database in use cannot be renamed: end its sessions (the test's,
         * which failed) and try again. */
        if (in_use && (rc = end_sessions(c, db, &ended)) != 0)
            break;
    }
    PQfinish(c);
    free(db);
    if (rc)
        return rc;
    *kept_url_out = url_with_db(url, name);
    return *kept_url_out ? 0 : pgb_fail(PGBOOT_ENOMEM, "out of memory");
}

void pgboot_testdb_fill_pool_detached(const pgboot_testdb_options *o)
{
    if (pgb_fork_detached() != 1)
        return;
    pgboot_testdb *t = NULL;
    if (pgboot_testdb_open(&t, o) == 0 && pgboot_testdb_fill_pool(t) == 0)
        pgboot_testdb_free(t);
    _exit(0);
}

int pgboot_testdb_options_init(pgboot_testdb_options *opts, unsigned int version)
{
    pgb_error_reset();
    int rc = pgb_version_check(version, PGBOOT_TESTDB_OPTIONS_VERSION, "pgboot_testdb_options");
    if (rc == 0 && !opts)
        rc = pgb_fail(PGBOOT_EINVALID, "no pgboot_testdb_options to initialise");
    if (rc == 0) {
        /* Only the fields of that version: the caller's struct may be older. */
        pgboot_testdb_options init = PGBOOT_TESTDB_OPTIONS_INIT;
        size_t n = version == 1   ? offsetof(pgboot_testdb_options, server)
                   : version == 2 ? offsetof(pgboot_testdb_options, pg_version)
                                  : sizeof init;
        memcpy(opts, &init, n);
        opts->version = version;
    }
    return rc;
}

/* ---- list, clean ---------------------------------------------------------- */

/* The connection of pgboot_testdb_list() and _clean(): opts' url or server. */
static int options_connect(const pgboot_testdb_options *o, PGconn **c)
{
    *c = NULL;
    const char *url;
    pgb_pq_whose whose;
    int rc = options_target(o, &url, &whose);
    return rc ? rc : connect_url(c, whose, url, NULL);
}

static const char *kind_of(const char *name)
{
    static const struct {
        const char *prefix, *kind;
    } kinds[] = {
        {BUILD_PREFIX, "building"}, {TPL_PREFIX, "template"},      {SNAP_BUILD_PREFIX, "building"},
        {SNAP_PREFIX, "snapshot"},  {BUILDING_PREFIX, "building"}, {POOL_PREFIX, "pool"},
        {CLONE_PREFIX, "clone"},    {KEPT_PREFIX, "kept"},
    };
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (pgb_str_has_prefix(name, kinds[i].prefix))
            return kinds[i].kind;
    return NULL;
}

void pgboot_testdb_list_free(pgboot_testdb_entry *e, size_t n)
{
    for (size_t i = 0; e && i < n; i++) {
        free(e[i].name);
        free(e[i].template_name);
    }
    free(e);
}

int pgboot_testdb_list(const pgboot_testdb_options *o, pgboot_testdb_entry **out, size_t *count)
{
    pgb_error_reset();
    if (!out || !count)
        return pgb_fail(PGBOOT_EINVALID, "pgboot_testdb_list() needs out and count");
    *out = NULL;
    *count = 0;
    PGconn *c = NULL;
    int rc = options_connect(o, &c);
    if (rc)
        return rc;
    PGresult *r = PQexec(c, "SELECT datname, split_part(shobj_description(oid, 'pg_database'), "
                            "'" CREATED "', 2), extract(epoch FROM now())::bigint, oid::text "
                            "FROM pg_database WHERE datname LIKE 'pgboot\\_%' AND " IS_MARKED
                            " ORDER BY datname");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        rc = pgb_fail(PGBOOT_ERROR, "cannot list the test databases: %s", PQresultErrorMessage(r));
        sql_hint(c, r);
        PQclear(r);
        PQfinish(c);
        return rc;
    }
    int n = PQntuples(r);
    pgboot_testdb_entry *e = calloc((size_t)n + 1, sizeof *e);
    char(*oids)[16] = calloc((size_t)n + 1, sizeof *oids);
    if (!oids) {
        free(e);
        e = NULL;
    }
    size_t k = 0;
    for (int i = 0; e && i < n && rc == 0; i++) {
        const char *name = PQgetvalue(r, i, 0), *kind = kind_of(name);
        if (!kind)
            continue;
        snprintf(oids[k], sizeof oids[k], "%s", PQgetvalue(r, i, 3));
        e[k].kind = kind;
        e[k].age_s = -1;
        const char *made = PQgetvalue(r, i, 1);
        if (*made)
            e[k].age_s = atoll(PQgetvalue(r, i, 2)) - atoll(made);
        if (!(e[k].name = pgb_strdup(name)))
            rc = pgb_fail(PGBOOT_ENOMEM, "out of memory");
        k++;
    }
    PQclear(r);
    PQfinish(c);
    if (!e)
        rc = pgb_fail(PGBOOT_ENOMEM, "out of memory");
    /* A clone's, pool database's or kept database's template: the template
     * or snapshot whose hash its name carries. */
    for (size_t i = 0; rc == 0 && i < k; i++) {
        const char *h8 = NULL;
        if (!strcmp(e[i].kind, "clone") || !strcmp(e[i].kind, "kept") || !strcmp(e[i].kind, "pool"))
            h8 = strchr(e[i].name + strlen("pgboot_"), '_') + 1;
        for (size_t j = 0; h8 && j < k && !e[i].template_name; j++) {
            char hash[17] = "";
            if (!strcmp(e[j].kind, "template"))
                snprintf(hash, sizeof hash, "%s", e[j].name + strlen(TPL_PREFIX));
            else if (!strcmp(e[j].kind, "snapshot"))
                snapshot_hash(e[j].name + strlen(SNAP_PREFIX), oids[j], hash);
            if (*hash && !strncmp(hash, h8, 8) && !(e[i].template_name = pgb_strdup(e[j].name)))
                rc = pgb_fail(PGBOOT_ENOMEM, "out of memory");
        }
    }
    free(oids);
    if (rc) {
        pgboot_testdb_list_free(e, k);
        return rc;
    }
    *out = e;
    *count = k;
    return 0;
}

/* The names of marked databases LIKE pattern (a query result to PQclear). */
static PGresult *marked_like(PGconn *c, const char *pattern)
{
    const char *params[1] = {pattern};
    return PQexecParams(
        c, "SELECT datname FROM pg_database WHERE datname LIKE $1 AND " IS_MARKED " ORDER BY 1", 1,
        NULL, params, NULL, NULL, 0);
}

/* Whether a clone of the template of hash h8 exists. */
static int has_clones(PGconn *c, const char *h8, int *yes)
{
    char pattern[64];
    snprintf(pattern, sizeof pattern, "pgboot\\_t\\_%.8s\\_%%", h8);
    return exists_q(c, "SELECT 1 FROM pg_database WHERE datname LIKE $1", pattern, yes);
}

/* Drop the pool of the template of `hash` (holding its pool lock, so that no
 * filler adds to it meanwhile), and the template too when `tpl` is given. */
static int drop_pool(PGconn *c, const char *hash, const char *tpl, unsigned *dropped)
{
    int rc = lock_key_kind(c, hash, LOCK_POOL, 1, NULL);
    if (rc)
        return rc;
    char pattern[64];
    for (int pass = 0; pass < 2 && rc == 0; pass++) {
        snprintf(pattern, sizeof pattern,
                 pass ? "pgboot\\_b\\_%.8s\\_%%" : "pgboot\\_p\\_%.8s\\_%%", hash);
        PGresult *r = marked_like(c, pattern);
        for (int i = 0; PQresultStatus(r) == PGRES_TUPLES_OK && i < PQntuples(r) && rc == 0; i++)
            if ((rc = drop_database(c, PQgetvalue(r, i, 0), 0)) == 0)
                (*dropped)++;
        PQclear(r);
    }
    if (rc == 0 && tpl && (rc = drop_database(c, tpl, 1)) == 0)
        (*dropped)++;
    int urc = lock_key_kind(c, hash, LOCK_POOL, 0, NULL);
    return rc ? rc : urc;
}

int pgboot_testdb_clean(const pgboot_testdb_options *o, int kept, unsigned int *dropped_out)
{
    pgb_error_reset();
    unsigned dropped = 0;
    if (dropped_out)
        *dropped_out = 0;
    PGconn *c = NULL;
    int rc = options_connect(o, &c);
    if (rc)
        return rc;
    /* The pools of the templates, and the snapshots no clone uses (with their pools). */
    PGresult *r = marked_like(c, "pgboot\\_tpl\\_%");
    for (int i = 0; PQresultStatus(r) == PGRES_TUPLES_OK && i < PQntuples(r) && rc == 0; i++) {
        const char *name = PQgetvalue(r, i, 0);
        if (strlen(name) == strlen(TPL_PREFIX) + 16)
            rc = drop_pool(c, name + strlen(TPL_PREFIX), NULL, &dropped);
    }
    PQclear(r);
    r = marked_like(c, "pgboot\\_s\\_%");
    for (int i = 0; PQresultStatus(r) == PGRES_TUPLES_OK && i < PQntuples(r) && rc == 0; i++) {
        const char *name = PQgetvalue(r, i, 0);
        char hash[17], oid[16];
        if ((rc = database_oid(c, name, oid)) != 0 || !*oid)
            continue;
        snapshot_hash(name + strlen(SNAP_PREFIX), oid, hash);
        int used = 1;
        if ((rc = has_clones(c, hash, &used)) == 0)
            rc = drop_pool(c, hash, used ? NULL : name, &dropped);
    }
    PQclear(r);
    /* Pool databases whose template is gone. */
    r = marked_like(c, "pgboot\\_p\\_%");
    for (int i = 0; PQresultStatus(r) == PGRES_TUPLES_OK && i < PQntuples(r) && rc == 0; i++)
        if ((rc = drop_database(c, PQgetvalue(r, i, 0), 0)) == 0)
            dropped++;
    PQclear(r);
    if (kept) {
        r = marked_like(c, "pgboot\\_k\\_%");
        for (int i = 0; PQresultStatus(r) == PGRES_TUPLES_OK && i < PQntuples(r) && rc == 0; i++)
            if ((rc = drop_database(c, PQgetvalue(r, i, 0), 0)) == 0)
                dropped++;
        PQclear(r);
    }
    PQfinish(c);
    if (dropped_out)
        *dropped_out = dropped;
    return rc;
}

/* ---- snapshots -------------------------------------------------------------- */

int pgboot_testdb_snapshot(const char *url, const char *name, unsigned int *ended_out)
{
    pgb_error_reset();
    if (ended_out)
        *ended_out = 0;
    if (!name) {
        int rc = pgb_fail(PGBOOT_EINVALID, "a snapshot needs a name");
        pgb_hint("name it (--as NAME): 1 to %d lower-case letters, digits and '_'", SNAP_NAME_MAX);
        return rc;
    }
    int rc = snapshot_name_check(name);
    if (rc)
        return rc;
    static const char *const sources[] = {CLONE_PREFIX, KEPT_PREFIX, NULL};
    char *db = NULL;
    static const char snap_hint[] = "snapshot takes the URL of a test database pgboot testdb "
                                    "handed out (pgboot_t_...) or kept (pgboot_k_...)";
    if ((rc = test_db_of(url, sources, "snapshotting it", snap_hint, snap_hint, &db)) != 0)
        return rc;
    PGconn *c = NULL;
    if ((rc = admin_connect(&c, url)) != 0 || (rc = check_ours(c, db, "snapshotting it")) != 0) {
        PQfinish(c);
        free(db);
        return rc;
    }
    char hash[17], snap[64], building[64];
    snapshot_hash(name, "", hash);
    snprintf(snap, sizeof snap, SNAP_PREFIX "%s", name);
    snprintf(building, sizeof building, SNAP_BUILD_PREFIX "%s", name);
    int ended = 0;
    /* One snapshot of a name at a time; a stale half-made one goes. */
    if ((rc = lock_key(c, hash, 1)) != 0)
        goto out;
    if ((rc = drop_database(c, building, 0)) != 0)
        goto unlock;
    /* CREATE DATABASE copies a database no one is connected to: end the
     * sessions on it, again if one came back meanwhile. */
    for (int attempt = 0;; attempt++) {
        if ((rc = end_sessions(c, db, &ended)) != 0)
            break;
        char *from = ident(c, db);
        char *sql =
            from ? pgb_printf("CREATE DATABASE %s TEMPLATE %s STRATEGY FILE_COPY", building, from)
                 : NULL;
        free(from);
        if (!sql) {
            rc = pgb_fail(PGBOOT_ENOMEM, "out of memory");
            break;
        }
        PGresult *r = PQexec(c, sql);
        free(sql);
        int done = PQresultStatus(r) == PGRES_COMMAND_OK;
        int in_use = failed_with(r, "55006");
        if (!done && !(in_use && attempt < 5)) {
            rc = pgb_fail(PGBOOT_ERROR, "cannot snapshot database %s: %s", db,
                          PQresultErrorMessage(r));
            sql_hint(c, r);
        }
        PQclear(r);
        if (done || rc)
            break;
    }
    if (rc == 0)
        rc = mark_database(c, building);
    /* An older snapshot of that name goes, with its pool (clones of the old
     * state); its clones stay. The new one's pool has another hash (its
     * OID's), so a filler of the old pool still at work adds nothing to it. */
    int exists = 0;
    if (rc == 0)
        rc = exists_q(c, "SELECT 1 FROM pg_database WHERE datname = $1", snap, &exists);
    if (rc == 0 && exists && (rc = check_ours(c, snap, "replacing it")) == PGBOOT_EINVALID)
        pgb_hint("it is not pgboot's to replace: choose another name (--as NAME)");
    if (rc == 0 && exists) {
        char oid[16], old_hash[17];
        unsigned n = 0;
        if ((rc = database_oid(c, snap, oid)) == 0) {
            snapshot_hash(name, oid, old_hash);
            rc = drop_pool(c, old_hash, snap, &n);
        }
    }
    if (rc == 0) {
        char *sql = pgb_printf("ALTER DATABASE %s RENAME TO %s", building, snap);
        rc = sql ? exec_sql(c, sql, "cannot finish the snapshot")
                 : pgb_fail(PGBOOT_ENOMEM, "out of memory");
        free(sql);
    }
    if (rc == 0)
        rc = exec_fmt(c, "cannot freeze the snapshot", "ALTER DATABASE ", snap,
                      " WITH IS_TEMPLATE true ALLOW_CONNECTIONS false");
    if (rc) {
        pgb_error_saved first;
        pgb_error_save(&first);
        drop_database(c, building, 0);
        pgb_error_restore(&first);
    }
unlock:;
    int urc = lock_key(c, hash, 0);
    if (rc == 0)
        rc = urc;
out:
    PQfinish(c);
    free(db);
    if (ended_out)
        *ended_out = (unsigned)ended;
    return rc;
}
