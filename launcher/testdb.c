/* A database per test: clones of a template database built once from the
 * app's SQL files.
 *
 * Names (all within PostgreSQL's 63 bytes):
 *   pgboot_tpl_<h16>          the template; <h16>: hash of the SQL files' contents
 *   pgboot_tplb_<h16>         a template being built (renamed when complete)
 *   pgboot_t_<h8>_<random12>  a clone; <h8> names its template, so that a
 *                             template no clone uses any more can be found
 *   pgboot_p_<h8>_<random12>  a clone made in advance, waiting in the pool
 *   pgboot_k_<h8>_<label>_<random6>  a clone kept (pgboot_testdb_keep): never
 *                             reused nor collected; only dropped on request
 * Parallel builders of the same template serialise on an advisory lock keyed
 * by the hash; the first builds it, the others find it built.
 *
 * Why a pool: CREATE DATABASE ... STRATEGY FILE_COPY copies every file of the
 * template, ~300 catalog files even for an empty schema, ~16 ms on tmpfs. A
 * clone made in advance is handed out by ALTER DATABASE ... RENAME, which
 * takes about a millisecond and is atomic: of several takers exactly one gets
 * it. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <sodium.h>

#include "../platform/dynload.h"
#include "launcher.h"

#define TPL_PREFIX "pgboot_tpl_"
#define BUILD_PREFIX "pgboot_tplb_"
#define CLONE_PREFIX "pgboot_t_"
#define POOL_PREFIX "pgboot_p_"
#define BUILDING_PREFIX "pgboot_b_" /* a pool clone not yet marked and named */
#define KEPT_PREFIX "pgboot_k_"     /* a clone kept: pgboot_k_<h8>_<label>_<random6> */
#define KEEP_LABEL_MAX (63 - 9 - 8 - 1 - 1 - 6)
/* Every database pgboot testdb creates carries this comment; it drops only
 * databases that do (a name with pgboot's prefix is not enough: a user may
 * have made it). */
#define MARK "pgboot test database: made by pgboot testdb, which may drop it"
#define IS_MARKED "shobj_description(oid, 'pg_database') = '" MARK "'"
#define DEFAULT_POOL 4

struct pgboot_testdb {
    PGconn *conn;
    char *url;
    pgb_pq_whose whose; /* one of pgboot's own servers, or a URL the user gave */
    char hash[17];
    char tpl[64];
    unsigned int pool_size;
    /* background refill */
    int refilling;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int wake, stop;
};

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

/* The database named in a URL (malloc'd), or NULL. */
static char *url_db(const char *url)
{
    char *err = NULL;
    PQconninfoOption *opts = PQconninfoParse(url, &err);
    if (err)
        PQfreemem(err);
    char *db = NULL;
    for (PQconninfoOption *o = opts; o && o->keyword; o++)
        if (!strcmp(o->keyword, "dbname") && o->val)
            db = pgb_strdup(o->val);
    PQconninfoFree(opts);
    return db;
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
        rc = pgb_fail(PGBOOT_ENOTRUNNING, "cannot connect to %s%s: %s",
                      db ? "database " : "the server", db ? db : "", PQerrorMessage(c));
        PQfinish(c);
        return rc;
    }
    *out = c;
    return 0;
}

/* ---- the template ------------------------------------------------------- */

typedef struct {
    char **texts;
    size_t *lens;
    size_t n;
} sql_set;

static void sql_set_free(sql_set *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->texts[i]);
    free(s->texts);
    free(s->lens);
}

static int read_sql(sql_set *s, const char *const *files, char hash[17])
{
    memset(s, 0, sizeof *s);
    size_t n = 0;
    while (files && files[n])
        n++;
    if (n == 0)
        return pgb_fail(PGBOOT_EINVALID, "no template SQL files given (--template-sql FILE)");
    s->texts = calloc(n, sizeof *s->texts);
    s->lens = calloc(n, sizeof *s->lens);
    if (!s->texts || !s->lens)
        return pgb_fail(PGBOOT_ENOMEM, "out of memory");
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 8);
    for (size_t i = 0; i < n; i++) {
        int rc = pgb_read_file(files[i], &s->texts[i], &s->lens[i], 256u << 20);
        if (rc) {
            if (rc == PGBOOT_ENOTFOUND)
                pgb_hint("--template-sql names the app's schema and migration files, in order");
            return rc;
        }
        s->n++;
        if (memchr(s->texts[i], '\0', s->lens[i]))
            return pgb_fail(PGBOOT_EINVALID, "%s holds a NUL byte; it is not an SQL file",
                            files[i]);
        /* The contents and their boundaries, not the file names, make the key. */
        unsigned char len8[8];
        for (int b = 0; b < 8; b++)
            len8[b] = (unsigned char)((uint64_t)s->lens[i] >> (8 * b));
        crypto_generichash_update(&st, len8, sizeof len8);
        crypto_generichash_update(&st, (const unsigned char *)s->texts[i], s->lens[i]);
    }
    unsigned char h[8];
    crypto_generichash_final(&st, h, sizeof h);
    pgb_hex(hash, h, sizeof h);
    return 0;
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
    int rc = sql ? pgb_pq_exec(c, sql, what) : pgb_fail(PGBOOT_ENOMEM, "out of memory");
    free(sql);
    free(id);
    return rc;
}

static int mark_database(PGconn *c, const char *name)
{
    return exec_fmt(c, "cannot mark a test database as pgboot's", "COMMENT ON DATABASE ", name,
                    " IS '" MARK "'");
}

/* Drop `name` if it exists and carries pgboot's mark; else leave it. */
static int drop_database(PGconn *c, const char *name, int was_template)
{
    int ours = 0;
    int rc = pgb_pq_exists(c, "SELECT 1 FROM pg_database WHERE datname = $1 AND " IS_MARKED, name,
                           &ours);
    if (rc || !ours)
        return rc;
    if (was_template && exec_fmt(c, "cannot unfreeze an old template", "ALTER DATABASE ", name,
                                 " WITH IS_TEMPLATE false ALLOW_CONNECTIONS true") != 0)
        return PGBOOT_ERROR;
    return exec_fmt(c, "cannot drop a database", "DROP DATABASE IF EXISTS ", name, " WITH (FORCE)");
}

/* Build the template (called with the advisory lock held). */
static int build_template(pgboot_testdb *t, const sql_set *sql, const char *const *files)
{
    char build[64];
    snprintf(build, sizeof build, BUILD_PREFIX "%s", t->hash);
    /* A builder that died left this behind; we hold the lock, so it is stale. */
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
    rc = sql1 ? pgb_pq_exec(t->conn, sql1, "cannot finish the template")
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
    int rc = PQresultStatus(r) == PGRES_TUPLES_OK
                 ? 0
                 : pgb_fail(PGBOOT_ERROR, "cannot take a testdb lock: %s", PQresultErrorMessage(r));
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
        if (pgb_pq_exists(t->conn, "SELECT 1 FROM pg_database WHERE datname LIKE $1", clones,
                          &used) == 0 &&
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
    /* Pool databases whose template is gone (a filler that lost a race). */
    r = PQexec(t->conn, "SELECT p.datname FROM pg_database p WHERE p.datname LIKE "
                        "'pgboot\\_p\\_%' AND " IS_MARKED
                        " AND NOT EXISTS (SELECT 1 FROM pg_database x WHERE "
                        "x.datname LIKE 'pgboot\\_tpl\\_' || substr(p.datname, 10, 8) || '%')");
    if (PQresultStatus(r) == PGRES_TUPLES_OK)
        for (int i = 0; i < PQntuples(r); i++)
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
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        rc = pgb_fail(PGBOOT_ERROR, "cannot count the pool: %s", PQresultErrorMessage(r));
    else
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
    int rc = sql ? pgb_pq_exec(c, sql, "cannot clone the template")
                 : pgb_fail(PGBOOT_ENOMEM, "out of memory");
    if (rc == 0)
        rc = mark_database(c, made);
    free(sql);
    if (rc == 0 && pooled) {
        sql = pgb_printf("ALTER DATABASE %s RENAME TO %s", building, name);
        rc = sql ? pgb_pq_exec(c, sql, "cannot add a clone to the pool")
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
    /* Holding the pool's lock, a clone still being built is a dead filler's. */
    char building[64];
    snprintf(building, sizeof building, "pgboot\\_b\\_%.8s\\_%%", t->hash);
    drop_matching(c, building);
    int exists = 0, n = 0;
    rc = pgb_pq_exists(c, "SELECT 1 FROM pg_database WHERE datname = $1", t->tpl, &exists);
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

int pgboot_testdb_open(pgboot_testdb **out, const pgboot_testdb_options *o)
{
    pgb_error_reset();
    *out = NULL;
    if (!o)
        return pgb_fail(PGBOOT_EINVALID, "no pgboot_testdb_options given");
    int vrc = pgb_version_check(o->version, PGBOOT_TESTDB_OPTIONS_VERSION, "pgboot_testdb_options");
    if (vrc)
        return vrc;
    const pgboot_server *server = o->version >= 2 ? o->server : NULL;
    if (server && o->url)
        return pgb_fail(PGBOOT_EINVALID, "pgboot_testdb_options has both a url and a server");
    const char *url = server ? server->url : o->url;
    pgb_pq_whose whose = server && !server->external ? PGB_PQ_OURS : PGB_PQ_USERS;
    if (!is_url(url)) {
        int rc = pgb_fail(PGBOOT_EINVALID, "'%.60s' is not a postgresql:// URL", url ? url : "");
        pgb_hint("pass the server's URL (pgboot url --app NAME prints one), or use --app NAME");
        return rc;
    }
    int rc = pgb_need_lib(PGB_LIB_PQ);
    if (rc)
        return rc;
    sql_set sql;
    pgboot_testdb *t = calloc(1, sizeof *t);
    if (!t)
        return pgb_fail(PGBOOT_ENOMEM, "out of memory");
    t->whose = whose;
    t->pool_size = o->pool_size ? o->pool_size : DEFAULT_POOL;
    if ((rc = read_sql(&sql, o->sql_files, t->hash)) != 0)
        goto fail;
    snprintf(t->tpl, sizeof t->tpl, TPL_PREFIX "%s", t->hash);
    t->url = pgb_strdup(url);
    if (!t->url) {
        rc = pgb_fail(PGBOOT_ENOMEM, "out of memory");
        goto fail;
    }
    if ((rc = connect_url(&t->conn, t->whose, url, NULL)) != 0)
        goto fail;
    int exists = 0;
    const char *q = "SELECT 1 FROM pg_database WHERE datname = $1";
    if ((rc = pgb_pq_exists(t->conn, q, t->tpl, &exists)) != 0)
        goto fail;
    if (!exists) {
        if ((rc = lock_key(t->conn, t->hash, 1)) != 0)
            goto fail;
        if ((rc = pgb_pq_exists(t->conn, q, t->tpl, &exists)) == 0 && !exists &&
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

int pgboot_testdb_clone(pgboot_testdb *t, char **url_out)
{
    pgb_error_reset();
    *url_out = NULL;
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
    int rc = pgb_pq_exists(c, "SELECT 1 FROM pg_database WHERE datname = $1", db, &exists);
    if (rc == 0 && exists)
        rc = pgb_pq_exists(c, "SELECT 1 FROM pg_database WHERE datname = $1 AND " IS_MARKED, db,
                           &ours);
    if (rc == 0 && !exists)
        return pgb_fail(PGBOOT_ENOTFOUND, "database %s does not exist (dropped already?)", db);
    if (rc == 0 && !ours) {
        rc = pgb_fail(PGBOOT_EINVALID,
                      "database %s was not made by pgboot testdb (it lacks pgboot's mark); "
                      "not %s",
                      db, what);
        pgb_hint("if it is yours to remove, drop it yourself with DROP DATABASE");
    }
    return rc;
}

/* The database of a URL, checked to be a test database: one of the name
 * prefixes (NULL-terminated). malloc'd into *db. */
static int test_db_of(const char *url, const char *const *prefixes, const char *what, char **db)
{
    *db = NULL;
    if (!is_url(url))
        return pgb_fail(PGBOOT_EINVALID, "'%.60s' is not a postgresql:// URL", url ? url : "");
    int rc = pgb_need_lib(PGB_LIB_PQ);
    if (rc)
        return rc;
    char *d = url_db(url);
    int ok = 0;
    for (size_t i = 0; d && strlen(d) <= 63 && prefixes[i]; i++)
        ok |= pgb_str_has_prefix(d, prefixes[i]);
    if (!ok) {
        rc = pgb_fail(PGBOOT_EINVALID, "database '%s' was not made by pgboot testdb; not %s",
                      d ? d : "(none)", what);
        free(d);
        return rc;
    }
    *db = d;
    return 0;
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
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        rc = pgb_fail(PGBOOT_ERROR, "cannot end the sessions on database %s: %s", db,
                      PQresultErrorMessage(r));
    else if (n)
        *n += atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    return rc;
}

/* Whether the last statement failed with SQLSTATE `state`. */
static int failed_with(const PGresult *r, const char *state)
{
    const char *s = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    return s && !strcmp(s, state);
}

int pgboot_testdb_drop(const char *url)
{
    pgb_error_reset();
    static const char *const ours[] = {CLONE_PREFIX, KEPT_PREFIX, NULL};
    char *db = NULL;
    int rc = test_db_of(url, ours, "dropping it", &db);
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
    int rc = test_db_of(url, clones, "keeping it", &db);
    if (rc) {
        if (rc == PGBOOT_EINVALID && db == NULL && is_url(url))
            pgb_hint("keep takes the URL of a database pgboot testdb handed out (pgboot_t_...)");
        return rc;
    }
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
        if (!done && !((taken || in_use) && attempt < 5))
            rc = pgb_fail(PGBOOT_ERROR, "cannot rename database %s to %s: %s", db, name,
                          PQresultErrorMessage(r));
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
        memcpy(opts, &init, version == 1 ? offsetof(pgboot_testdb_options, server) : sizeof init);
        opts->version = version;
    }
    return rc;
}
