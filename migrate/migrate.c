/* Migrating a legacy SQLite database into PostgreSQL.
 *
 * 1. Read (migrate/source.c): open the file read-only, one read transaction.
 * 2. Plan (migrate_plan.c): names, and one scan of every table to choose
 *    every column's type. Values that cannot be stored exactly stop a strict
 *    migration here, listing up to 20 cells, before anything is written.
 * 3. Write, in ONE target transaction (a crash at any point leaves the target
 *    as it was; tables created in the loading transaction also let PostgreSQL
 *    skip WAL at wal_level=minimal): tables; rows by COPY (migrate_copy.c);
 *    then keys, indexes, identity positions, defaults, CHECKs, foreign keys,
 *    views and full-text search, each in a savepoint so that what PostgreSQL
 *    refuses is reported by name, never dropped silently.
 * 4. Verify before commit: row counts, and with --verify full a digest of
 *    every value read back. Record the migration in pgboot.migrations. Commit.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <libpq-fe.h>
#include <sodium.h>
#include <sqlite3.h>

#include "../platform/dynload.h"
#include "migrate.h"
#include "copy.h"

#define MAX_BAD_CELLS 20

struct pgboot_migration {
    char *report;
    char *summary;
    char *ddl;
    int already_done;
    uint64_t rejected;
};

struct pgb_report {
    json_t *root;
    json_t *skipped;
    json_t *warnings;
};

const char *pgboot_migration_report(const pgboot_migration *m)
{
    return m->report ? m->report : "{}";
}
const char *pgboot_migration_summary(const pgboot_migration *m)
{
    return m->summary ? m->summary : "";
}
const char *pgboot_migration_ddl(const pgboot_migration *m)
{
    return m->ddl ? m->ddl : "";
}
int pgboot_migration_already_done(const pgboot_migration *m)
{
    return m->already_done;
}
uint64_t pgboot_migration_rejected(const pgboot_migration *m)
{
    return m->rejected;
}
void pgboot_migration_free(pgboot_migration *m)
{
    if (!m)
        return;
    free(m->report);
    free(m->summary);
    free(m->ddl);
    free(m);
}

void pgb_report_skip(pgb_report *r, const char *kind, const char *name, const char *reason)
{
    json_array_append_new(
        r->skipped, json_pack("{s:s, s:s, s:s}", "kind", kind, "name", name, "reason", reason));
}

void pgb_report_warn(pgb_report *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = pgb_vprintf(fmt, ap);
    va_end(ap);
    if (s)
        json_array_append_new(r->warnings, json_string(s));
    free(s);
}

/* The staging schema of a big migration, the rows of a table that make it
 * big, and how many connections load it (see staging_open). */
#define STAGING "pgboot_staging"
#define SPLIT_ROWS 100000
#define WORKERS 2

/* ---- the source file --------------------------------------------------------- */

/* The source file's SHA-256, on a thread of its own (it reads the whole
 * file while the scan reads the tables): started by sha_start, its result
 * taken by sha_join before anything depends on it. */
typedef struct {
    const char *path;
    pthread_t thread;
    int started, err; /* err: an errno value, or -1 for out of memory */
    int64_t size;
    char hex[65];
} file_hash;

static void *sha_thread(void *arg)
{
    file_hash *fh = arg;
    int fd = open(fh->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fh->err = errno;
        return NULL;
    }
    pgb_sha256 st;
    pgb_sha256_init(&st, 0);
    unsigned char *buf = malloc(1 << 20);
    int64_t total = 0;
    ssize_t n = 0;
    while (buf && (n = read(fd, buf, 1 << 20)) > 0) {
        pgb_sha256_update(&st, buf, (size_t)n);
        total += n;
    }
    fh->err = !buf ? -1 : n < 0 ? errno : 0;
    close(fd);
    free(buf);
    unsigned char d[32];
    pgb_sha256_final(&st, d);
    pgb_hex(fh->hex, d, 32);
    fh->size = total;
    return NULL;
}

static void sha_start(file_hash *fh, const char *path)
{
    memset(fh, 0, sizeof *fh);
    fh->path = path;
    if (pthread_create(&fh->thread, NULL, sha_thread, fh) == 0)
        fh->started = 1;
    else
        sha_thread(fh);
}

static int sha_join(file_hash *fh, char hex[65], int64_t *size)
{
    if (fh->started)
        pthread_join(fh->thread, NULL);
    fh->started = 0;
    if (fh->err == -1)
        return pgb_fail(PGBOOT_ENOMEM, "out of memory");
    if (fh->err)
        return pgb_fail(PGBOOT_ERROR, "cannot read %s: %s", fh->path, strerror(fh->err));
    memcpy(hex, fh->hex, 65);
    *size = fh->size;
    return 0;
}

/* ---- talking to the target ----------------------------------------------------- */

/* Run one statement in a savepoint; on failure roll back to it and return
 * PostgreSQL's message (malloc'd) in *err. */
static int try_sql(PGconn *c, const char *sql, char **err)
{
    *err = NULL;
    PGresult *r = PQexec(c, "SAVEPOINT pgboot_step");
    PQclear(r);
    r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    if (!ok) {
        const char *m = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
        *err = pgb_strdup(m ? m : PQresultErrorMessage(r));
    }
    PQclear(r);
    r = PQexec(c, ok ? "RELEASE SAVEPOINT pgboot_step" : "ROLLBACK TO SAVEPOINT pgboot_step");
    PQclear(r);
    return ok ? 0 : -1;
}

static int query_int(PGconn *c, const char *sql, const char *param, int64_t *out)
{
    const char *params[1] = {param};
    PGresult *r = PQexecParams(c, sql, param ? 1 : 0, NULL, params, NULL, NULL, 0);
    int rc = 0;
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        rc = pgb_fail(PGBOOT_ERROR, "cannot query the target: %s", PQresultErrorMessage(r));
    else
        *out =
            PQntuples(r) > 0 && !PQgetisnull(r, 0, 0) ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : -1;
    PQclear(r);
    return rc;
}

/* ---- names for translation ---------------------------------------------------- */

typedef struct {
    const plan *p;
    const plan_table *t;
} name_ctx;

static const char *map_column(void *ctx, const char *name, int *is_bool)
{
    name_ctx *n = ctx;
    *is_bool = 0;
    for (int i = 0; i < n->t->ncols; i++)
        if (!strcasecmp(n->t->src->cols[n->t->cols[i].src].name, name)) {
            *is_bool = n->t->cols[i].kind == K_BOOL;
            return n->t->cols[i].name;
        }
    return NULL;
}

static _Thread_local char fold_buf[256]; /* map_fold lends it */
static const char *map_fold(void *ctx, const char *name, int *is_bool)
{
    name_ctx *n = ctx;
    *is_bool = 0;
    const char *t = pgb_plan_table_name(n->p, name);
    if (t)
        return t;
    for (int i = 0; i < n->p->ntables; i++) {
        const plan_table *pt = &n->p->tables[i];
        for (int j = 0; j < pt->ncols; j++)
            if (!strcasecmp(pt->src->cols[pt->cols[j].src].name, name)) {
                *is_bool = pt->cols[j].kind == K_BOOL;
                return pt->cols[j].name;
            }
    }
    snprintf(fold_buf, sizeof fold_buf, "%s", name);
    if (!n->p->preserve_case)
        for (char *q = fold_buf; *q; q++)
            *q = (char)tolower((unsigned char)*q);
    return fold_buf;
}

/* Translate an expression text in a table's context. */
static char *translate(const char *text, pgb_expr_ctx ctx, const char *target_type, name_ctx *nc,
                       pgb_name_map map, const char **why)
{
    pgb_toks t;
    if (pgb_tokenize(text, &t) != 0) {
        pgb_error_reset();
        *why = "it does not parse";
        return NULL;
    }
    pgb_buf out = {0};
    int rc = pgb_translate_expr(&t, 0, t.n, ctx, target_type, map, nc, &out, why);
    pgb_toks_free(&t);
    if (rc != 0 || out.oom) {
        pgb_buf_free(&out);
        return NULL;
    }
    return out.s ? out.s : pgb_strdup("");
}

/* A constraint or index name within 63 bytes. */
static void object_name(char *out, size_t cap, const char *prefix, const char *table, int n)
{
    char full[512];
    snprintf(full, sizeof full, "%s_%s_%d", prefix, table, n);
    if (strlen(full) <= 63) {
        snprintf(out, cap, "%s", full);
        return;
    }
    unsigned char h[4];
    crypto_generichash(h, sizeof h, (const unsigned char *)full, strlen(full), NULL, 0);
    char hex[9];
    pgb_hex(hex, h, sizeof h);
    snprintf(out, cap, "%.45s_%s_%d", full, hex, n);
}

/* ---- DDL ---------------------------------------------------------------------- */

static void fts_columns(pgb_buf *b, plan *p, plan_table *t);

static void table_ddl(pgb_buf *b, plan *p, plan_table *t)
{
    pgb_buf_puts(b, "CREATE TABLE ");
    pgb_buf_ident(b, t->name);
    pgb_buf_puts(b, " (");
    for (int i = 0; i < t->ncols; i++) {
        plan_col *c = &t->cols[i];
        const src_col *sc = &t->src->cols[c->src];
        pgb_buf_puts(b, i ? ",\n    " : "\n    ");
        pgb_buf_ident(b, c->name);
        pgb_buf_puts(b, " ");
        pgb_buf_puts(b, c->type_sql);
        if (c->identity && c->kind == K_BIGINT)
            pgb_buf_puts(b, " GENERATED BY DEFAULT AS IDENTITY");
        if (c->generated && c->gen_sql) {
            pgb_buf_puts(b, " GENERATED ALWAYS AS (");
            pgb_buf_puts(b, c->gen_sql);
            pgb_buf_puts(b, ") STORED");
        }
        if (sc->notnull || (c->identity && c->kind == K_BIGINT))
            pgb_buf_puts(b, " NOT NULL");
    }
    fts_columns(b, p, t);
    pgb_buf_puts(b, "\n)");
}

static void add_ddl(pgb_buf *ddl, const char *sql)
{
    pgb_buf_puts(ddl, sql);
    pgb_buf_puts(ddl, ";\n");
}

/* Indexes built ahead: in a staged migration, the CREATE INDEX statements
 * (not the key and unique constraints, whose ALTER TABLE locks the table)
 * run on the staging workers, two at a time, before the final transaction
 * moves the tables; that transaction then finds them built. The statements
 * are the very ones the final pass generates: a first pass of the emitters
 * (EMIT_COLLECT) gathers them, and the final pass (EMIT_AHEAD_BUILT) skips
 * those built and reports those refused, as it would have. */
typedef struct {
    char *sql;
    char *err; /* PostgreSQL's refusal */
    int built; /* neither built nor refused: the final pass runs it */
} ahead_job;

typedef struct {
    ahead_job *jobs;
    int n, cap, oom;
} idx_ahead;

/* What the emitters of the statements that follow the data (keys, indexes,
 * defaults, ...) do with each statement: every emitter takes it as an
 * argument, and after_data acts on it. */
typedef enum {
    EMIT_RUN = 0,     /* record it in the DDL and run it (unless dry_run) */
    EMIT_COLLECT,     /* only gather the CREATE INDEX statements into ahead */
    EMIT_AHEAD_BUILT, /* as EMIT_RUN, but what ahead built is not run again,
                       * and what it saw refused is reported */
} emit_mode;

typedef struct {
    emit_mode mode;
    PGconn *conn;
    pgb_buf *ddl;
    pgb_report *rep;
    int dry_run;
    idx_ahead *ahead; /* EMIT_COLLECT and EMIT_AHEAD_BUILT */
} emit;

static int is_create_index(const char *sql)
{
    return !strncmp(sql, "CREATE INDEX ", 13) || !strncmp(sql, "CREATE UNIQUE INDEX ", 20);
}

static void ahead_add(idx_ahead *a, const char *sql)
{
    if (a->n == a->cap) {
        int cap = a->cap ? 2 * a->cap : 16;
        ahead_job *j = realloc(a->jobs, (size_t)cap * sizeof *j);
        if (!j) {
            a->oom = 1;
            return;
        }
        a->jobs = j;
        a->cap = cap;
    }
    a->jobs[a->n] = (ahead_job){pgb_strdup(sql), NULL, 0};
    if (!a->jobs[a->n].sql)
        a->oom = 1;
    else
        a->n++;
}

static void ahead_free(idx_ahead *a)
{
    for (int i = 0; i < a->n; i++) {
        free(a->jobs[i].sql);
        free(a->jobs[i].err);
    }
    free(a->jobs);
    memset(a, 0, sizeof *a);
}

/* Run the collected statements over the workers, each on the first idle one,
 * the GIN indexes (the slowest to build) first. */
static void ahead_build(idx_ahead *a, PGconn **w, int nw)
{
    int *order = malloc(((size_t)a->n + 1) * sizeof *order), no = 0;
    if (!order)
        return;
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < a->n; i++)
            if ((strstr(a->jobs[i].sql, " USING gin (") != NULL) == (pass == 0))
                order[no++] = i;
    int busy[WORKERS], alive[WORKERS], next = 0;
    for (int k = 0; k < nw; k++)
        busy[k] = -1, alive[k] = 1;
    for (;;) {
        int nbusy = 0;
        for (int k = 0; k < nw; k++) {
            if (alive[k] && busy[k] < 0 && next < no) {
                if (PQsendQuery(w[k], a->jobs[order[next]].sql) == 1)
                    busy[k] = order[next++];
                else
                    alive[k] = 0; /* its statements go to the final pass */
            }
            nbusy += busy[k] >= 0;
        }
        if (!nbusy)
            break;
        struct pollfd p[WORKERS];
        for (int k = 0; k < nw; k++)
            p[k] = (struct pollfd){.fd = busy[k] >= 0 ? PQsocket(w[k]) : -1, .events = POLLIN};
        if (poll(p, (nfds_t)nw, -1) < 0 && errno != EINTR)
            break;
        for (int k = 0; k < nw; k++) {
            if (busy[k] < 0 || !(p[k].revents & (POLLIN | POLLERR | POLLHUP)))
                continue;
            if (PQconsumeInput(w[k]) != 1) {
                alive[k] = 0;
                busy[k] = -1;
                continue;
            }
            while (busy[k] >= 0 && !PQisBusy(w[k])) {
                PGresult *r = PQgetResult(w[k]);
                if (!r) {
                    busy[k] = -1;
                    break;
                }
                ahead_job *j = &a->jobs[busy[k]];
                const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
                if (PQresultStatus(r) == PGRES_COMMAND_OK) {
                    j->built = 1;
                } else if (PQstatus(w[k]) != CONNECTION_OK ||
                           (state && (!strncmp(state, "57", 2) || !strncmp(state, "08", 2)))) {
                    /* the connection went, not the statement: the final
                     * pass builds it */
                    alive[k] = 0;
                } else if (!j->err) {
                    const char *m = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
                    j->err = pgb_strdup(m ? m : PQresultErrorMessage(r));
                }
                PQclear(r);
            }
        }
    }
    free(order);
}

/* Run a statement after the data; report it if PostgreSQL refuses. */
static int after_data(const emit *e, const char *sql, const char *kind, const char *name)
{
    if (e->mode == EMIT_COLLECT) {
        if (is_create_index(sql))
            ahead_add(e->ahead, sql);
        return 0;
    }
    add_ddl(e->ddl, sql);
    if (e->dry_run)
        return 0;
    if (e->mode == EMIT_AHEAD_BUILT && is_create_index(sql)) {
        for (int i = 0; i < e->ahead->n; i++) {
            ahead_job *j = &e->ahead->jobs[i];
            if (strcmp(j->sql, sql) != 0 || (!j->built && !j->err))
                continue;
            if (j->built)
                return 0;
            char *why = pgb_printf("PostgreSQL refused it: %s", j->err);
            pgb_report_skip(e->rep, kind, name, why ? why : "refused");
            free(why);
            return -1;
        }
    }
    char *err = NULL;
    if (try_sql(e->conn, sql, &err) != 0) {
        char *why = pgb_printf("PostgreSQL refused it: %s", err ? err : "unknown error");
        pgb_report_skip(e->rep, kind, name, why ? why : "refused");
        free(why);
        free(err);
        return -1;
    }
    return 0;
}

static int is_nocase(const char *collate)
{
    return collate && !strcasecmp(collate, "NOCASE");
}

/* An index item list "(a COLLATE NOCASE, lower(b) DESC)" of a CREATE INDEX. */
static char *index_items(const pgb_toks *t, size_t open, size_t close, plan_table *pt, name_ctx *nc,
                         const char **why)
{
    pgb_buf b = {0};
    size_t item = open + 1;
    int depth = 0;
    for (size_t i = open + 1; i <= close; i++) {
        int is_comma = t->t[i].kind == TK_OP && t->t[i].start[0] == ',' && depth == 0;
        if (t->t[i].kind == TK_OP && t->t[i].start[0] == '(')
            depth++;
        else if (t->t[i].kind == TK_OP && t->t[i].start[0] == ')' && i != close)
            depth--;
        if (!is_comma && i != close)
            continue;
        /* [item, i): expr [COLLATE x] [ASC|DESC] */
        size_t end = i;
        const char *dir = NULL;
        if (end > item && (pgb_tok_is(t, end - 1, "ASC") || pgb_tok_is(t, end - 1, "DESC"))) {
            dir = t->t[end - 1].text;
            end--;
        }
        int nocase = 0;
        if (end >= item + 2 && pgb_tok_is(t, end - 2, "COLLATE")) {
            nocase = t->t[end - 1].text && !strcasecmp(t->t[end - 1].text, "NOCASE");
            if (!nocase && !(t->t[end - 1].text && !strcasecmp(t->t[end - 1].text, "BINARY"))) {
                *why = "a collation other than NOCASE or BINARY";
                pgb_buf_free(&b);
                return NULL;
            }
            end -= 2;
        }
        /* A plain column inherits the column's collation. */
        if (end == item + 1 && (t->t[item].kind == TK_IDENT || t->t[item].kind == TK_QIDENT)) {
            for (int k = 0; k < pt->ncols; k++)
                if (!strcasecmp(pt->src->cols[pt->cols[k].src].name, t->t[item].text) &&
                    is_nocase(pt->src->cols[pt->cols[k].src].collate))
                    nocase = 1;
        }
        pgb_buf expr = {0};
        if (pgb_translate_expr(t, item, end, PGB_CTX_EXPR, NULL, map_column, nc, &expr, why) != 0) {
            pgb_buf_free(&expr);
            pgb_buf_free(&b);
            return NULL;
        }
        if (b.len)
            pgb_buf_puts(&b, ", ");
        int plain = end == item + 1;
        if (nocase)
            pgb_buf_printf(&b, "lower((%s) COLLATE \"C\")", expr.s ? expr.s : "");
        else if (plain)
            pgb_buf_puts(&b, expr.s ? expr.s : "");
        else
            pgb_buf_printf(&b, "(%s)", expr.s ? expr.s : "");
        pgb_buf_free(&expr);
        if (dir) {
            pgb_buf_puts(&b, " ");
            pgb_buf_puts(&b, dir);
        }
        item = i + 1;
    }
    return b.s;
}

static void create_index(const emit *e, plan *p, plan_table *t, src_index *x)
{
    name_ctx nc = {p, t};
    pgb_toks tk;
    const char *why = NULL;
    if (!x->sql || pgb_tokenize(x->sql, &tk) != 0) {
        pgb_error_reset();
        pgb_report_skip(e->rep, "index", x->name, "its SQL text cannot be read");
        return;
    }
    size_t open = 0;
    while (open < tk.n && !(tk.t[open].kind == TK_OP && tk.t[open].start[0] == '('))
        open++;
    size_t close = pgb_tok_close(&tk, open);
    char *items = close < tk.n ? index_items(&tk, open, close, t, &nc, &why) : NULL;
    char *where = NULL;
    if (items && close + 1 < tk.n && pgb_tok_is(&tk, close + 1, "WHERE")) {
        pgb_buf w = {0};
        if (pgb_translate_expr(&tk, close + 2, tk.n, PGB_CTX_EXPR, NULL, map_column, &nc, &w,
                               &why) == 0)
            where = w.s ? w.s : pgb_strdup("");
        else
            pgb_buf_free(&w);
        if (!where) {
            free(items);
            items = NULL;
        }
    }
    if (!items) {
        char *r = pgb_printf("not translated: %s", why ? why : "unknown construct");
        pgb_report_skip(e->rep, "index", x->name, r ? r : "not translated");
        free(r);
    } else {
        char name[128];
        snprintf(name, sizeof name, "%s", x->name);
        if (!p->preserve_case)
            for (char *q = name; *q; q++)
                *q = (char)tolower((unsigned char)*q);
        pgb_buf sql = {0};
        pgb_buf_puts(&sql, x->unique ? "CREATE UNIQUE INDEX " : "CREATE INDEX ");
        pgb_buf_ident(&sql, name);
        pgb_buf_puts(&sql, " ON ");
        pgb_buf_ident(&sql, t->name);
        pgb_buf_printf(&sql, " (%s)", items);
        if (where)
            pgb_buf_printf(&sql, " WHERE %s", where);
        if (!sql.oom)
            after_data(e, sql.s, "index", x->name);
        pgb_buf_free(&sql);
    }
    free(items);
    free(where);
    pgb_toks_free(&tk);
}

static void keys_and_indexes(const emit *e, plan *p, plan_table *t)
{
    src_table *st = t->src;
    /* The primary key. */
    pgb_buf pk = {0};
    int npk = 0;
    for (int k = 1; k <= st->ncols; k++)
        for (int i = 0; i < t->ncols; i++)
            if (st->cols[t->cols[i].src].pk == k) {
                pgb_buf_puts(&pk, npk++ ? ", " : "");
                pgb_buf_ident(&pk, t->cols[i].name);
            }
    if (npk) {
        pgb_buf sql = {0};
        pgb_buf_puts(&sql, "ALTER TABLE ");
        pgb_buf_ident(&sql, t->name);
        pgb_buf_printf(&sql, " ADD PRIMARY KEY (%s)", pk.s);
        after_data(e, sql.s, "primary key", st->name);
        pgb_buf_free(&sql);
    }
    pgb_buf_free(&pk);
    for (int i = 0; i < st->nidx; i++) {
        src_index *x = &st->idx[i];
        if (x->origin == 'p')
            continue;
        if (x->origin == 'u') {
            /* A UNIQUE constraint; case-insensitive if its columns are NOCASE. */
            int nocase = 0;
            pgb_buf cols = {0};
            for (int k = 0; k < x->ncols; k++) {
                const char *n = x->cols[k] ? pgb_plan_col_name(t, x->cols[k]) : NULL;
                for (int j = 0; j < st->ncols; j++)
                    if (x->cols[k] && !strcasecmp(st->cols[j].name, x->cols[k]) &&
                        is_nocase(st->cols[j].collate))
                        nocase = 1;
                pgb_buf_puts(&cols, k ? ", " : "");
                pgb_buf_ident(&cols, n ? n : "?");
            }
            pgb_buf sql = {0};
            if (nocase) {
                char name[80];
                object_name(name, sizeof name, "uq", t->name, i);
                pgb_buf_puts(&sql, "CREATE UNIQUE INDEX ");
                pgb_buf_ident(&sql, name);
                pgb_buf_puts(&sql, " ON ");
                pgb_buf_ident(&sql, t->name);
                pgb_buf_puts(&sql, " (");
                for (int k = 0; k < x->ncols; k++) {
                    const char *n = x->cols[k] ? pgb_plan_col_name(t, x->cols[k]) : NULL;
                    /* COLLATE "C": only ASCII letters fold, as in SQLite's NOCASE */
                    pgb_buf_puts(&sql, k ? ", lower(" : "lower(");
                    pgb_buf_ident(&sql, n ? n : "?");
                    pgb_buf_puts(&sql, " COLLATE \"C\")");
                }
                pgb_buf_puts(&sql, ")");
            } else {
                pgb_buf_puts(&sql, "ALTER TABLE ");
                pgb_buf_ident(&sql, t->name);
                pgb_buf_printf(&sql, " ADD UNIQUE (%s)", cols.s ? cols.s : "");
            }
            after_data(e, sql.s, "unique constraint", x->name);
            pgb_buf_free(&sql);
            pgb_buf_free(&cols);
            continue;
        }
        create_index(e, p, t, x);
    }
}

static void defaults_and_checks(const emit *e, plan *p, plan_table *t)
{
    name_ctx nc = {p, t};
    for (int i = 0; i < t->ncols; i++) {
        plan_col *col = &t->cols[i];
        const src_col *sc = &t->src->cols[col->src];
        if (!sc->dflt || col->identity || col->generated)
            continue;
        if (!strcasecmp(sc->dflt, "NULL"))
            continue;
        const char *why = NULL;
        char *expr = translate(sc->dflt, PGB_CTX_DEFAULT, col->type_sql, &nc, map_column, &why);
        char name[300];
        snprintf(name, sizeof name, "%s.%s", t->src->name, sc->name);
        if (!expr) {
            char *r = pgb_printf("DEFAULT %s not translated: %s", sc->dflt, why);
            pgb_report_skip(e->rep, "default", name, r ? r : "not translated");
            free(r);
            continue;
        }
        pgb_buf sql = {0};
        pgb_buf_puts(&sql, "ALTER TABLE ");
        pgb_buf_ident(&sql, t->name);
        pgb_buf_puts(&sql, " ALTER COLUMN ");
        pgb_buf_ident(&sql, col->name);
        pgb_buf_printf(&sql, " SET DEFAULT CAST((%s) AS %s)", expr, col->type_sql);
        after_data(e, sql.s, "default", name);
        pgb_buf_free(&sql);
        free(expr);
    }
    for (int i = 0; i < t->src->nchecks; i++) {
        const char *why = NULL;
        char *expr = translate(t->src->checks[i], PGB_CTX_EXPR, NULL, &nc, map_column, &why);
        char name[300];
        snprintf(name, sizeof name, "%s: CHECK (%.200s)", t->src->name, t->src->checks[i]);
        if (!expr) {
            char *r = pgb_printf("not translated: %s", why);
            pgb_report_skip(e->rep, "check", name, r ? r : "not translated");
            free(r);
            continue;
        }
        char cname[80];
        object_name(cname, sizeof cname, "ck", t->name, i + 1);
        pgb_buf sql = {0};
        pgb_buf_puts(&sql, "ALTER TABLE ");
        pgb_buf_ident(&sql, t->name);
        pgb_buf_puts(&sql, " ADD CONSTRAINT ");
        pgb_buf_ident(&sql, cname);
        pgb_buf_printf(&sql, " CHECK (%s)", expr);
        after_data(e, sql.s, "check", name);
        pgb_buf_free(&sql);
        free(expr);
    }
}

static void foreign_keys(const emit *e, plan *p, plan_table *t)
{
    for (int i = 0; i < t->src->nfks; i++) {
        src_fk *f = &t->src->fks[i];
        const char *parent = pgb_plan_table_name(p, f->table);
        char name[300];
        snprintf(name, sizeof name, "%s -> %s", t->src->name, f->table);
        if (!parent) {
            pgb_report_skip(e->rep, "foreign key", name, "the referenced table does not exist");
            continue;
        }
        plan_table *pt = NULL;
        for (int k = 0; k < p->ntables; k++)
            if (!strcmp(p->tables[k].name, parent))
                pt = &p->tables[k];
        char cname[80];
        object_name(cname, sizeof cname, "fk", t->name, i + 1);
        pgb_buf sql = {0};
        pgb_buf_puts(&sql, "ALTER TABLE ");
        pgb_buf_ident(&sql, t->name);
        pgb_buf_puts(&sql, " ADD CONSTRAINT ");
        pgb_buf_ident(&sql, cname);
        pgb_buf_puts(&sql, " FOREIGN KEY (");
        int all_to = 1;
        for (int k = 0; k < f->n; k++) {
            const char *n = pgb_plan_col_name(t, f->from[k]);
            pgb_buf_puts(&sql, k ? ", " : "");
            pgb_buf_ident(&sql, n ? n : f->from[k]);
            all_to &= f->to[k] != NULL;
        }
        pgb_buf_puts(&sql, ") REFERENCES ");
        pgb_buf_ident(&sql, parent);
        if (all_to && pt) {
            pgb_buf_puts(&sql, " (");
            for (int k = 0; k < f->n; k++) {
                const char *n = pgb_plan_col_name(pt, f->to[k]);
                pgb_buf_puts(&sql, k ? ", " : "");
                pgb_buf_ident(&sql, n ? n : f->to[k]);
            }
            pgb_buf_puts(&sql, ")");
        }
        if (f->on_delete && strcasecmp(f->on_delete, "NO ACTION"))
            pgb_buf_printf(&sql, " ON DELETE %s", f->on_delete);
        if (f->on_update && strcasecmp(f->on_update, "NO ACTION"))
            pgb_buf_printf(&sql, " ON UPDATE %s", f->on_update);
        if (f->deferrable)
            pgb_buf_puts(&sql, " DEFERRABLE INITIALLY DEFERRED");
        pgb_buf_puts(&sql, " NOT VALID");
        if (after_data(e, sql.s, "foreign key", name) == 0 && !e->dry_run) {
            /* SQLite does not enforce foreign keys unless asked: orphans may
             * exist. The constraint stays (for new rows) either way. */
            pgb_buf v = {0};
            pgb_buf_puts(&v, "ALTER TABLE ");
            pgb_buf_ident(&v, t->name);
            pgb_buf_puts(&v, " VALIDATE CONSTRAINT ");
            pgb_buf_ident(&v, cname);
            char *err = NULL;
            if (try_sql(e->conn, v.s, &err) != 0)
                pgb_report_warn(e->rep,
                                "foreign key %s: existing rows reference missing rows (%s); "
                                "kept as NOT VALID, enforced for new rows",
                                name, err ? err : "");
            free(err);
            pgb_buf_free(&v);
        }
        pgb_buf_free(&sql);
    }
}

static void identities(const emit *e, plan_table *t)
{
    for (int i = 0; i < t->ncols; i++) {
        plan_col *col = &t->cols[i];
        if (!col->identity || col->kind != K_BIGINT)
            continue;
        /* Past the largest key, and past sqlite_sequence for AUTOINCREMENT. */
        pgb_buf tn = {0}, sql = {0};
        pgb_buf_ident(&tn, t->name);
        pgb_buf_puts(&sql, "SELECT setval(pg_get_serial_sequence(");
        pgb_buf_literal(&sql, tn.s, tn.len);
        pgb_buf_puts(&sql, ", ");
        pgb_buf_literal(&sql, col->name, strlen(col->name));
        pgb_buf_puts(&sql, "), GREATEST((SELECT max(");
        pgb_buf_ident(&sql, col->name);
        pgb_buf_puts(&sql, ") FROM ");
        pgb_buf_ident(&sql, t->name);
        pgb_buf_printf(&sql, "), %lld, 1), %s)", (long long)(t->src->has_seq ? t->src->seq : 0),
                       (t->rows || (t->src->has_seq && t->src->seq > 0)) ? "true" : "false");
        after_data(e, sql.s, "identity", t->src->name);
        pgb_buf_free(&sql);
        pgb_buf_free(&tn);
    }
}

/* FTS5 -> PostgreSQL full-text search: a stored tsvector column generated
 * from the indexed columns, with a GIN index. External content: the column
 * goes on the content table, named after the FTS table. Own content: the FTS
 * table was migrated as a table (rowid + its columns); the column is "fts".
 * The column is part of CREATE TABLE, so COPY computes it while loading
 * (adding it afterwards would rewrite the whole table). */
static int fts_plan(plan *p, src_other *o, plan_table **t_out, char colname[128], pgb_buf *expr,
                    char **skip)
{
    *t_out = NULL;
    *skip = NULL;
    if (o->fts_content && !*o->fts_content) {
        *skip = pgb_strdup("a contentless FTS5 table does not store its text, so there is "
                           "nothing to index in PostgreSQL");
        return -1;
    }
    const char *target = pgb_plan_table_name(p, o->fts_content ? o->fts_content : o->name);
    plan_table *t = NULL;
    for (int i = 0; target && i < p->ntables; i++)
        if (!strcmp(p->tables[i].name, target))
            t = &p->tables[i];
    if (!t || o->nfts_cols == 0) {
        *skip = pgb_strdup(o->fts_content ? "its content table was not migrated"
                                          : "it has no columns to index");
        return -1;
    }
    name_ctx nc = {p, t};
    int isb;
    snprintf(colname, 128, "%s", o->fts_content ? map_fold(&nc, o->name, &isb) : "fts");
    pgb_buf doc = {0};
    for (int i = 0; i < o->nfts_cols; i++) {
        const char *n = pgb_plan_col_name(t, o->fts_cols[i]);
        if (!n) {
            *skip = pgb_printf("column %s is not a column of %s", o->fts_cols[i], t->name);
            pgb_buf_free(&doc);
            return -1;
        }
        pgb_buf_puts(&doc, i ? " || ' ' || coalesce(" : "coalesce(");
        pgb_buf_ident(&doc, n);
        pgb_buf_puts(&doc, "::text, '')");
    }
    if (pgb_plan_col_name(t, colname)) {
        *skip = pgb_printf("%s already has a column named %s", t->name, colname);
        pgb_buf_free(&doc);
        return -1;
    }
    pgb_buf_printf(expr, "to_tsvector('%s', %s)", o->fts_config ? o->fts_config : "simple",
                   doc.s ? doc.s : "''");
    pgb_buf_free(&doc);
    *t_out = t;
    return 0;
}

/* The tsvector columns that go into table t's CREATE TABLE. */
static void fts_columns(pgb_buf *b, plan *p, plan_table *t)
{
    for (int i = 0; i < p->src->nothers; i++) {
        src_other *o = &p->src->others[i];
        if (o->kind != SRC_FTS)
            continue;
        plan_table *ft;
        char col[128];
        char *skip = NULL;
        pgb_buf expr = {0};
        if (fts_plan(p, o, &ft, col, &expr, &skip) == 0 && ft == t) {
            pgb_buf_puts(b, ",\n    ");
            pgb_buf_ident(b, col);
            pgb_buf_printf(b, " tsvector GENERATED ALWAYS AS (%s) STORED", expr.s);
        }
        free(skip);
        pgb_buf_free(&expr);
    }
}

static void full_text(const emit *e, plan *p, src_other *o)
{
    plan_table *t;
    char colname[128];
    char *skip = NULL;
    pgb_buf expr = {0};
    if (fts_plan(p, o, &t, colname, &expr, &skip) != 0) {
        pgb_report_skip(e->rep, "fts5 table", o->name, skip ? skip : "not translated");
        free(skip);
        pgb_buf_free(&expr);
        return;
    }
    pgb_buf_free(&expr);
    char idx[80];
    if (o->fts_content)
        snprintf(idx, sizeof idx, "%.50s_idx", colname);
    else
        snprintf(idx, sizeof idx, "%.50s_fts_idx", t->name);
    pgb_buf i = {0};
    pgb_buf_puts(&i, "CREATE INDEX ");
    pgb_buf_ident(&i, idx);
    pgb_buf_puts(&i, " ON ");
    pgb_buf_ident(&i, t->name);
    pgb_buf_puts(&i, " USING gin (");
    pgb_buf_ident(&i, colname);
    pgb_buf_puts(&i, ")");
    after_data(e, i.s, "fts5 index", o->name);
    pgb_buf_free(&i);
}

static void views_and_others(const emit *e, plan *p)
{
    name_ctx nc = {p, NULL};
    for (int i = 0; i < p->src->nothers; i++) {
        src_other *o = &p->src->others[i];
        if (o->kind == SRC_TRIGGER) {
            pgb_report_skip(e->rep, "trigger", o->name,
                            "triggers are not carried over: rewrite it as a PostgreSQL trigger "
                            "function");
            continue;
        }
        if (o->kind == SRC_FTS) {
            full_text(e, p, o);
            continue;
        }
        if (o->kind == SRC_VTAB) {
            pgb_report_skip(e->rep, "virtual table", o->name,
                            "a virtual table of a SQLite extension module has no PostgreSQL "
                            "equivalent");
            continue;
        }
        /* A view: CREATE VIEW name AS <select> */
        pgb_toks tk;
        if (!o->sql || pgb_tokenize(o->sql, &tk) != 0) {
            pgb_error_reset();
            pgb_report_skip(e->rep, "view", o->name, "its SQL text cannot be read");
            continue;
        }
        size_t as = 0;
        while (as < tk.n && !pgb_tok_is(&tk, as, "AS"))
            as++;
        pgb_buf body = {0};
        const char *why = NULL;
        if (as >= tk.n || pgb_translate_expr(&tk, as + 1, tk.n, PGB_CTX_EXPR, NULL, map_fold, &nc,
                                             &body, &why) != 0) {
            char *r = pgb_printf("not translated: %s", why ? why : "no AS");
            pgb_report_skip(e->rep, "view", o->name, r ? r : "not translated");
            free(r);
        } else {
            pgb_buf sql = {0};
            pgb_buf_puts(&sql, "CREATE VIEW ");
            int isb;
            pgb_buf_ident(&sql, map_fold(&nc, o->name, &isb));
            pgb_buf_printf(&sql, " AS %s", body.s);
            after_data(e, sql.s, "view", o->name);
            pgb_buf_free(&sql);
        }
        pgb_buf_free(&body);
        pgb_toks_free(&tk);
    }
}

/* ---- strict: the cells that cannot be stored ------------------------------------ */

static int collect_bad_cells(plan *p, json_t *problems, pgb_buf *msg)
{
    int listed = 0;
    int64_t total = 0;
    for (int i = 0; i < p->ntables; i++)
        for (int j = 0; j < p->tables[i].ncols; j++)
            total += p->tables[i].cols[j].n_bad;
    for (int i = 0; i < p->ntables && listed < MAX_BAD_CELLS; i++) {
        plan_table *t = &p->tables[i];
        int any = 0;
        for (int j = 0; j < t->ncols; j++)
            any |= t->cols[j].n_bad > 0;
        if (!any)
            continue;
        int first = !t->src->without_rowid;
        char *select = pgb_plan_select_sql(t, first);
        sqlite3_stmt *s = NULL;
        if (!select || sqlite3_prepare_v2(p->src->db, select, -1, &s, NULL) != SQLITE_OK) {
            free(select);
            continue;
        }
        free(select);
        while (listed < MAX_BAD_CELLS && sqlite3_step(s) == SQLITE_ROW) {
            int k = first;
            for (int j = 0; j < t->ncols && listed < MAX_BAD_CELLS; j++) {
                plan_col *c = &t->cols[j];
                if (c->generated)
                    continue;
                sqlite3_value *v = sqlite3_column_value(s, k++);
                const char *why = NULL;
                if (!c->n_bad || pgb_cell_ok(c, v, &why))
                    continue;
                const unsigned char *txt = sqlite3_value_text(v);
                char excerpt[48];
                snprintf(excerpt, sizeof excerpt, "%.40s", txt ? (const char *)txt : "");
                for (char *q = excerpt; *q; q++)
                    if ((unsigned char)*q < 32 || (unsigned char)*q >= 127)
                        *q = '?';
                long long key = first ? (long long)sqlite3_column_int64(s, 0) : -1;
                json_array_append_new(problems,
                                      json_pack("{s:s, s:I, s:s, s:s, s:s, s:s}", "table",
                                                t->src->name, "rowid", (json_int_t)key, "column",
                                                t->src->cols[c->src].name, "value", excerpt,
                                                "reason", why, "type", c->type_sql));
                pgb_buf_printf(msg, "%s%s.%s (rowid %lld): '%s' (%s)", listed ? "; " : "",
                               t->src->name, t->src->cols[c->src].name, key, excerpt, why);
                listed++;
            }
        }
        sqlite3_finalize(s);
    }
    return (int)total;
}

/* ---- --schema / --data-only: the target's own types ------------------------------ */

static int adopt_target_types(PGconn *c, plan *p, pgb_report *rep)
{
    for (int i = 0; i < p->ntables; i++) {
        plan_table *t = &p->tables[i];
        const char *params[1] = {t->name};
        PGresult *r = PQexecParams(c,
                                   "SELECT column_name, data_type, character_maximum_length, "
                                   "numeric_precision, numeric_scale, is_generated, "
                                   "is_identity FROM information_schema.columns WHERE "
                                   "table_schema = current_schema() AND table_name = $1",
                                   1, NULL, params, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) == 0) {
            PQclear(r);
            int rc = pgb_fail(PGBOOT_EINVALID,
                              "table %s (from %s) does not exist in the target; --schema and "
                              "--data-only load into existing tables",
                              t->name, t->src->name);
            pgb_hint("create it in the schema file, or leave out --data-only");
            return rc;
        }
        for (int j = 0; j < t->ncols; j++) {
            plan_col *col = &t->cols[j];
            int found = 0;
            for (int k = 0; k < PQntuples(r) && !found; k++) {
                if (strcmp(PQgetvalue(r, k, 0), col->name) != 0)
                    continue;
                found = 1;
                const char *dt = PQgetvalue(r, k, 1);
                int len = atoi(PQgetvalue(r, k, 2));
                col->identity = !strcmp(PQgetvalue(r, k, 6), "YES");
                col->generated = !strcmp(PQgetvalue(r, k, 5), "ALWAYS");
                const col_stats *st = &col->st;
                if (strstr(dt, "int"))
                    col->kind = K_BIGINT;
                else if (!strcmp(dt, "double precision") || !strcmp(dt, "real"))
                    col->kind = K_DOUBLE;
                else if (!strcmp(dt, "numeric"))
                    col->kind = K_NUMERIC;
                else if (!strcmp(dt, "boolean"))
                    col->kind = K_BOOL;
                else if (!strcmp(dt, "date"))
                    col->kind = K_DATE;
                else if (!strcmp(dt, "timestamp without time zone"))
                    col->kind = K_TS;
                else if (!strcmp(dt, "timestamp with time zone"))
                    /* Integers are epoch seconds; naive texts are UTC. */
                    col->kind = st->n_int ? K_EPOCH_TSTZ : (st->n_text_naive ? K_TS : K_TSTZ);
                else if (!strcmp(dt, "jsonb") || !strcmp(dt, "json"))
                    col->kind = K_JSONB;
                else if (!strcmp(dt, "uuid"))
                    col->kind = K_UUID;
                else if (!strcmp(dt, "character varying") && len > 0) {
                    col->kind = K_VARCHAR;
                    col->len = len;
                } else if (!strcmp(dt, "bytea"))
                    col->kind = K_BYTEA;
                else
                    col->kind = K_TEXT;
                snprintf(col->type_sql, sizeof col->type_sql, "%s", dt);
                free(col->reason);
                col->reason = pgb_printf("the target's column is %s", dt);
            }
            if (!found) {
                pgb_report_warn(rep,
                                "column %s.%s has no column in the target table %s; "
                                "not migrated",
                                t->src->name, t->src->cols[col->src].name, t->name);
                col->generated = 1; /* not copied */
            }
        }
        PQclear(r);
    }
    return 0;
}

/* ---- the report ---------------------------------------------------------------- */

static json_t *plan_json(plan *p)
{
    json_t *tables = json_array();
    for (int i = 0; i < p->ntables; i++) {
        plan_table *t = &p->tables[i];
        json_t *cols = json_array();
        for (int j = 0; j < t->ncols; j++) {
            plan_col *c = &t->cols[j];
            const src_col *sc = &t->src->cols[c->src];
            json_t *jc = json_pack("{s:s, s:s, s:s, s:s?, s:b, s:b}", "name", c->name, "source",
                                   sc->name, "declared", sc->decl, "reason", c->reason, "identity",
                                   c->identity, "generated", c->generated);
            json_object_set_new(jc, "type", json_string(c->type_sql));
            if (c->n_bad)
                json_object_set_new(jc, "bad_values", json_integer(c->n_bad));
            json_array_append_new(cols, jc);
        }
        json_array_append_new(
            tables,
            json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:o}", "name", t->name, "source",
                      t->src->name, "rows_migrated", (json_int_t)(t->rows - t->rejected), "rows",
                      (json_int_t)t->rows, "rejected", (json_int_t)t->rejected, "bytes",
                      (json_int_t)t->bytes, "ms", (json_int_t)t->ms, "columns", cols));
    }
    return tables;
}

static char *summary_text(plan *p, pgb_report *rep, int64_t ms, int verify_full, int dry_run,
                          uint64_t rejected)
{
    pgb_buf b = {0};
    int64_t rows = 0;
    for (int i = 0; i < p->ntables; i++)
        rows += p->tables[i].rows - p->tables[i].rejected;
    pgb_buf_printf(&b, "%s %d tables, %lld rows from %s in %.1f s%s\n",
                   dry_run ? "would migrate" : "migrated", p->ntables, (long long)rows,
                   p->src->path, (double)ms / 1000.0,
                   dry_run ? "" : (verify_full ? " (every value verified)" : " (counts verified)"));
    int changed = 0;
    for (int i = 0; i < p->ntables; i++)
        for (int j = 0; j < p->tables[i].ncols; j++)
            changed += p->tables[i].cols[j].reason != NULL;
    if (changed)
        pgb_buf_printf(&b, "  %d columns got a type chosen from their values (see the report)\n",
                       changed);
    size_t n = json_array_size(rep->skipped);
    if (n)
        pgb_buf_printf(&b, "  %zu things not carried over:\n", n);
    for (size_t i = 0; i < n && i < 30; i++) {
        json_t *s = json_array_get(rep->skipped, i);
        pgb_buf_printf(&b, "    %s %s: %s\n", json_string_value(json_object_get(s, "kind")),
                       json_string_value(json_object_get(s, "name")),
                       json_string_value(json_object_get(s, "reason")));
    }
    for (size_t i = 0; i < json_array_size(rep->warnings) && i < 30; i++)
        pgb_buf_printf(&b, "  warning: %s\n", json_string_value(json_array_get(rep->warnings, i)));
    if (rejected)
        pgb_buf_printf(&b, "  %llu rows rejected (see rejects/)\n", (unsigned long long)rejected);
    return b.oom ? NULL : b.s;
}

/* ---- the migration -------------------------------------------------------------- */

/* Where the rows go: one of pgboot's own servers (options.server), or a URL
 * the user gave. */
typedef struct {
    const char *url; /* NULL or "": none (a dry run) */
    pgb_pq_whose whose;
} target;

static int check_options(const pgboot_migrate_options *o, target *to)
{
    if (!o || o->version < 1 || o->version > PGBOOT_MIGRATE_OPTIONS_VERSION)
        return pgb_fail(PGBOOT_EINVALID, "pgboot_migrate_options.version is %u, expected 1 to %u",
                        o ? o->version : 0, PGBOOT_MIGRATE_OPTIONS_VERSION);
    const pgboot_server *server = o->version >= 2 ? o->server : NULL;
    if (server && o->target_url)
        return pgb_fail(PGBOOT_EINVALID,
                        "pgboot_migrate_options has both a target_url and a server");
    to->url = server ? pgboot_server_url(server) : o->target_url;
    to->whose = server && !pgboot_server_is_external(server) ? PGB_PQ_OURS : PGB_PQ_USERS;
    if (!o->sqlite_path || !*o->sqlite_path)
        return pgb_fail(PGBOOT_EINVALID, "no SQLite database given (--sqlite PATH)");
    if (!o->dry_run && (!to->url || !*to->url))
        return pgb_fail(PGBOOT_EINVALID, "no target given (--app NAME or --to URL)");
    if (o->on_error == PGBOOT_ON_ERROR_REJECT && !o->report_dir && !o->dry_run)
        return pgb_fail(PGBOOT_EINVALID, "--on-error reject needs a report directory for the "
                                         "rejected rows");
    return 0;
}

static void set_session(PGconn *c)
{
    static const char *const settings[] = {"SET client_min_messages = warning",
                                           "SET client_encoding = 'UTF8'",
                                           "SET TimeZone = 'UTC'",
                                           "SET DateStyle = 'ISO, YMD'",
                                           "SET extra_float_digits = 1",
                                           "SET bytea_output = 'hex'",
                                           "SET standard_conforming_strings = on",
                                           "SET statement_timeout = 0",
                                           "SET maintenance_work_mem = '64MB'",
                                           NULL};
    for (int i = 0; settings[i]; i++) {
        PGresult *r = PQexec(c, settings[i]);
        PQclear(r);
    }
}

/* Was this source migrated into the target already? */
static int recorded(PGconn *c, const char *sha, int *same, int *other, char **when)
{
    *same = *other = 0;
    *when = NULL;
    int64_t exists = -1;
    int rc = query_int(c,
                       "SELECT 1 FROM pg_tables WHERE schemaname = 'pgboot' AND "
                       "tablename = 'migrations'",
                       NULL, &exists);
    if (rc || exists != 1)
        return rc;
    PGresult *r = PQexec(c, "SELECT source_sha256, finished_at::text, source_path FROM "
                            "pgboot.migrations ORDER BY id DESC LIMIT 1");
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
        *same = !strcmp(PQgetvalue(r, 0, 0), sha);
        *other = !*same;
        *when = pgb_printf("%s at %s", PQgetvalue(r, 0, 2), PQgetvalue(r, 0, 1));
    }
    PQclear(r);
    return 0;
}

static int record(PGconn *c, const pgboot_migrate_options *o, const char *sha, int64_t size,
                  const char *started, const char *report)
{
    /* CREATE SCHEMA IF NOT EXISTS needs CREATE on the database even when
     * the schema is there: a role given only the schema could not record. */
    int64_t have_schema = 0;
    int rc = query_int(c, "SELECT count(*) FROM pg_namespace WHERE nspname = 'pgboot'", NULL,
                       &have_schema);
    if (rc == 0 && have_schema == 0)
        rc = pgb_pq_exec(c, "CREATE SCHEMA pgboot", "cannot record the migration");
    if (rc)
        return rc;
    rc = pgb_pq_exec(c,
                     "CREATE TABLE IF NOT EXISTS pgboot.migrations ("
                     " id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
                     " source_path text NOT NULL, source_size bigint NOT NULL,"
                     " source_sha256 text NOT NULL, started_at timestamptz NOT NULL,"
                     " finished_at timestamptz NOT NULL DEFAULT now(),"
                     " pgboot_version text NOT NULL, report jsonb NOT NULL)",
                     "cannot record the migration");
    if (rc)
        return rc;
    char sz[32];
    snprintf(sz, sizeof sz, "%lld", (long long)size);
    char *abs = realpath(o->sqlite_path, NULL);
    const char *params[6] = {abs ? abs : o->sqlite_path, sz,    sha, started,
                             PGBOOT_VERSION_STRING,      report};
    PGresult *r = PQexecParams(c,
                               "INSERT INTO pgboot.migrations (source_path, source_size, "
                               "source_sha256, started_at, pgboot_version, report) "
                               "VALUES ($1, $2, $3, $4, $5, $6)",
                               6, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        rc = pgb_fail(PGBOOT_ERROR, "cannot record the migration: %s", PQresultErrorMessage(r));
    PQclear(r);
    free(abs);
    return rc;
}

/* Tables of the plan that exist in the target: an error unless --force (and
 * --replace for tables holding rows); with drop, they are dropped. */
static int prepare_targets(PGconn *c, plan *p, const pgboot_migrate_options *o, int drop)
{
    for (int i = 0; i < p->ntables; i++) {
        plan_table *t = &p->tables[i];
        int64_t exists = -1;
        int rc = query_int(c,
                           "SELECT 1 FROM pg_tables WHERE schemaname = current_schema() AND "
                           "tablename = $1",
                           t->name, &exists);
        if (rc)
            return rc;
        if (exists != 1)
            continue;
        if (!o->force) {
            rc = pgb_fail(PGBOOT_EINVALID, "table %s already exists in the target", t->name);
            pgb_hint("--data-only loads into existing tables; --force (with --replace for "
                     "tables holding rows) migrates again; nothing was written");
            return rc;
        }
        pgb_buf q = {0};
        pgb_buf_puts(&q, "SELECT count(*) FROM (SELECT 1 FROM ");
        pgb_buf_ident(&q, t->name);
        pgb_buf_puts(&q, " LIMIT 1) x");
        int64_t has_rows = 0;
        rc = query_int(c, q.s, NULL, &has_rows);
        pgb_buf_free(&q);
        if (rc)
            return rc;
        if (has_rows > 0 && !o->replace) {
            rc = pgb_fail(PGBOOT_EINVALID, "table %s exists in the target and holds rows", t->name);
            pgb_hint("--replace drops it and migrates again; nothing was written");
            return rc;
        }
        if (!drop)
            continue;
        pgb_buf d = {0};
        pgb_buf_puts(&d, "DROP TABLE ");
        pgb_buf_ident(&d, t->name);
        pgb_buf_puts(&d, " CASCADE");
        rc = pgb_pq_exec(c, d.s, "cannot replace a table");
        pgb_buf_free(&d);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- loading over several connections ------------------------------------------ */

/* A migration with a big table loads through a staging schema: worker
 * connections create and fill the tables there, each table committed on its
 * own (a small one created in the same transaction that fills it, so that
 * the embedded cluster skips its WAL), and a big table's rows are spread
 * over all the workers, so that the server parses them and computes their
 * generated columns (to_tsvector) on several cores. The final transaction
 * then moves the tables into the target schema, builds keys, indexes and
 * constraints, verifies and records: all or nothing, as before. A crash in
 * between leaves only this schema, which the next migration into the
 * database removes (it holds the migration lock, so no other one uses it). */

#define STAGING_MARK "pgboot: the staging of a migration; the next migration removes it"

/* Drop the staging schema: only pgboot's (marked by its comment), never a
 * schema of that name that someone else made. */
static int drop_staging(PGconn *c)
{
    const char *params[1] = {STAGING_MARK};
    PGresult *r = PQexecParams(c,
                               "SELECT count(*) FROM pg_namespace WHERE nspname = '" STAGING
                               "' AND obj_description(oid, 'pg_namespace') = $1",
                               1, NULL, params, NULL, NULL, 0);
    int ours = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
               strcmp(PQgetvalue(r, 0, 0), "0") != 0;
    if (PQresultStatus(r) == PGRES_TUPLES_OK) {
        PQclear(r);
        r = ours ? PQexec(c, "DROP SCHEMA " STAGING " CASCADE") : NULL;
    }
    int rc = 0;
    if (r && PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK)
        rc = pgb_fail(PGBOOT_ERROR, "cannot remove the staging schema " STAGING ": %s",
                      PQresultErrorMessage(r));
    PQclear(r);
    return rc;
}

static int want_staging(const plan *p, const pgboot_migrate_options *o)
{
    if (o->dry_run || o->schema_file || o->data_only || sysconf(_SC_NPROCESSORS_ONLN) < 2)
        return 0;
    for (int i = 0; i < p->ntables; i++)
        if (p->tables[i].rows >= SPLIT_ROWS)
            return 1;
    return 0;
}

/* Create the staging schema and connect the workers: 0, or -1 when the
 * target does not allow it (then everything runs in one transaction on one
 * connection, as for a small database). */
static int staging_open(PGconn *c, const target *to, PGconn **w, int *nw)
{
    *nw = 0;
    /* A schema of that name that is not pgboot's makes this fail: then no
     * staging, and the user's schema is left alone. */
    PGresult *r =
        PQexec(c, "CREATE SCHEMA " STAGING "; COMMENT ON SCHEMA " STAGING " IS '" STAGING_MARK "'");
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!ok)
        return -1;
    for (int i = 0; i < WORKERS; i++) {
        PGconn *x = NULL;
        if (pgb_pq_open(&x, to->whose, to->url, NULL, NULL) != 0) {
            pgb_error_reset(); /* as for any connection that fails: no staging */
            break;
        }
        if (PQstatus(x) != CONNECTION_OK) {
            PQfinish(x);
            break;
        }
        set_session(x);
        r = PQexec(x, "SET search_path = " STAGING);
        ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        if (!ok) {
            PQfinish(x);
            break;
        }
        w[(*nw)++] = x;
    }
    if (*nw < 2) {
        while (*nw > 0)
            PQfinish(w[--*nw]);
        drop_staging(c);
        return -1;
    }
    return 0;
}

/* Create a table in the staging schema and fill it. */
static int staged_load(pgb_load *L, plan_table *t, const char *create)
{
    int alone = t->rows < L->split_rows;
    char what[300];
    snprintf(what, sizeof what, "cannot create table %s", t->name);
    int rc = alone ? pgb_pq_exec(L->conn, "BEGIN", "cannot begin") : 0;
    if (rc)
        return rc;
    if ((rc = pgb_pq_exec(L->conn, create, what)) == 0)
        rc = pgb_load_table(L, t);
    if (alone && rc) {
        PGresult *r = PQexec(L->conn, "ROLLBACK");
        PQclear(r);
    } else if (alone) {
        rc = pgb_pq_exec(L->conn, "COMMIT", "cannot commit a table");
    }
    return rc;
}

/* In the final transaction: the staged tables into the target schema. */
static int staging_move(PGconn *c, plan *p)
{
    /* can_record made sure, before any work, that there is one */
    PGresult *r = PQexec(c, "SELECT current_schema()");
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1 || PQgetisnull(r, 0, 0)) {
        int rc =
            pgb_fail(PGBOOT_ERROR, "cannot find the target schema: %s", PQresultErrorMessage(r));
        PQclear(r);
        return rc;
    }
    char *schema = pgb_strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    int rc = schema ? 0 : pgb_fail(PGBOOT_ENOMEM, "out of memory");
    for (int i = 0; i < p->ntables && rc == 0; i++) {
        pgb_buf q = {0};
        pgb_buf_puts(&q, "ALTER TABLE " STAGING ".");
        pgb_buf_ident(&q, p->tables[i].name);
        pgb_buf_puts(&q, " SET SCHEMA ");
        pgb_buf_ident(&q, schema);
        char what[300];
        snprintf(what, sizeof what, "cannot move table %s out of the staging schema",
                 p->tables[i].name);
        rc = q.oom ? pgb_fail(PGBOOT_ENOMEM, "out of memory") : pgb_pq_exec(c, q.s, what);
        pgb_buf_free(&q);
    }
    if (rc == 0)
        rc = pgb_pq_exec(c, "DROP SCHEMA " STAGING, "cannot drop the staging schema");
    free(schema);
    return rc;
}

/* Can this role create the tables (a schema in its search_path) and record
 * the migration (create the pgboot schema, or use it when someone created it
 * for the role)? Checked before anything is written: a managed server's role
 * may lack either. */
static int can_record(PGconn *c)
{
    PGresult *r = PQexec(c, "SELECT has_database_privilege(current_database(), 'CREATE') OR "
                            "coalesce((SELECT has_schema_privilege(oid, 'USAGE') AND "
                            "has_schema_privilege(oid, 'CREATE') FROM pg_namespace WHERE "
                            "nspname = 'pgboot'), false), current_user, current_database(), "
                            "current_schema() IS NOT NULL, current_setting('search_path')");
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        int rc = pgb_fail(PGBOOT_ERROR, "cannot check the target's privileges: %s",
                          PQresultErrorMessage(r));
        PQclear(r);
        return rc;
    }
    int rc = 0;
    if (strcmp(PQgetvalue(r, 0, 3), "t") != 0) {
        /* no schema to create the tables in */
        rc = pgb_fail(PGBOOT_EINVALID,
                      "role %s has no schema to create tables in, in database %s: its "
                      "search_path (%s) names none that exists; nothing was written",
                      PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2), PQgetvalue(r, 0, 4));
        pgb_hint("create the schema, or ALTER ROLE %s SET search_path = public, then migrate "
                 "again",
                 PQgetvalue(r, 0, 1));
    } else if (strcmp(PQgetvalue(r, 0, 0), "t") != 0) {
        rc = pgb_fail(PGBOOT_EINVALID,
                      "role %s may not create the schema pgboot in database %s, where pgboot "
                      "records the migration; nothing was written",
                      PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2));
        pgb_hint("as the database's owner, run GRANT CREATE ON DATABASE %s TO %s (or CREATE "
                 "SCHEMA pgboot; GRANT USAGE, CREATE ON SCHEMA pgboot TO %s), then migrate again",
                 PQgetvalue(r, 0, 2), PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 1));
    }
    PQclear(r);
    return rc;
}

static void now_iso(char *buf, size_t cap)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int write_report_file(const char *path, const char *json)
{
    char *dir = pgb_strdup(path);
    char *slash = dir ? strrchr(dir, '/') : NULL;
    if (slash && slash != dir) {
        *slash = '\0';
        if (pgb_mkdir_p(dir, 0700) != 0) {
            free(dir);
            return PGBOOT_ERROR;
        }
    }
    free(dir);
    FILE *f = fopen(path, "w");
    if (!f || fputs(json, f) < 0 || fputc('\n', f) < 0 || fclose(f) != 0) {
        if (f)
            fclose(f);
        return pgb_fail(PGBOOT_ERROR, "cannot write the report %s: %s", path, strerror(errno));
    }
    return 0;
}

/* Generated columns: translated, or created as plain columns (and their
 * values copied as data) with a word in the report. */
static void generated_columns(plan *p, pgb_report *rep)
{
    for (int i = 0; i < p->ntables; i++) {
        plan_table *t = &p->tables[i];
        name_ctx nc = {p, t};
        for (int j = 0; j < t->ncols; j++) {
            plan_col *col = &t->cols[j];
            const src_col *sc = &t->src->cols[col->src];
            if (!col->generated)
                continue;
            const char *why = NULL;
            col->gen_sql = sc->gen_expr
                               ? translate(sc->gen_expr, PGB_CTX_EXPR, NULL, &nc, map_column, &why)
                               : NULL;
            if (!col->gen_sql) {
                char name[300];
                snprintf(name, sizeof name, "%s.%s", t->src->name, sc->name);
                char *r = pgb_printf("generated column expression not translated (%s): created "
                                     "as a plain column, no values copied",
                                     why ? why : "not found");
                pgb_report_skip(rep, "generated column", name, r ? r : "not translated");
                free(r);
            }
        }
    }
}

/* One migration, handed from phase to phase (as pg_ctl's do_start hands on
 * to start_postmaster and wait_for_postmaster_start); migration_end is the
 * one cleanup. */
typedef struct {
    const pgboot_migrate_options *o;
    target to;
    pgboot_migration *m; /* the result */
    pgb_report rep;
    uint64_t t0;
    char started[32];
    file_hash fh; /* the source file's SHA-256, computed meanwhile */
    char sha[65];
    int64_t size;
    src_db src;
    plan p;
    pgb_buf ddl; /* every statement, for the report and --dry-run */
    PGconn *c;   /* the final transaction's connection */
    int in_txn;
    /* The migration ends here, and its report is still made: done already,
     * values that cannot be stored, a digest that differs. */
    int stop;
    int staging;     /* the plan wants a staged load (see want_staging) */
    int staged;      /* and the target allowed it: the workers are open */
    int connections; /* over how many the rows went in */
    PGconn *workers[WORKERS];
    int nworkers;
    char **create_sql; /* staged: each table's CREATE TABLE, run by a worker */
    idx_ahead ahead;
} migration;

static int begin(migration *mg)
{
    int rc = pgb_pq_exec(mg->c, "BEGIN", "cannot begin");
    if (rc == 0)
        mg->in_txn = 1;
    return rc;
}

/* The source: read-only, in one read transaction; its schema read while a
 * thread hashes the file. */
static int open_source(migration *mg)
{
    int rc = pgb_src_open(&mg->src, mg->o->sqlite_path);
    if (rc)
        return rc;
    sha_start(&mg->fh, mg->o->sqlite_path);
    if ((rc = pgb_src_introspect(&mg->src)) != 0)
        return rc;
    for (int i = 0; i < mg->src.nskipped; i++) {
        const char *skipped = mg->src.skipped[i];
        const char *colon = strchr(skipped, ':');
        char name[256];
        snprintf(name, sizeof name, "%.*s", colon ? (int)(colon - skipped) : 255, skipped);
        pgb_report_skip(&mg->rep, "table", name, colon ? colon + 2 : "internal");
    }
    return 0;
}

/* The plan: every column's type from one scan of the values. */
static int plan_tables(migration *mg)
{
    const pgboot_migrate_options *o = mg->o;
    int rc =
        pgb_plan_make(&mg->p, &mg->src, o->preserve_case, o->epoch_as_timestamp, o->detect_json,
                      (on_error_policy)o->on_error, o->schema_file || o->data_only);
    if (rc)
        return rc;
    generated_columns(&mg->p, &mg->rep);
    if ((rc = sha_join(&mg->fh, mg->sha, &mg->size)) != 0)
        return rc;
    json_object_set_new(mg->rep.root, "source",
                        json_pack("{s:s, s:I, s:s}", "path", o->sqlite_path, "size",
                                  (json_int_t)mg->size, "sha256", mg->sha));
    json_object_set_new(mg->rep.root, "on_error",
                        json_string(o->on_error == PGBOOT_ON_ERROR_WIDEN    ? "widen"
                                    : o->on_error == PGBOOT_ON_ERROR_REJECT ? "reject"
                                                                            : "strict"));
    return 0;
}

/* Was this file, or another, migrated into the target already? */
static int check_recorded(migration *mg)
{
    int same, other;
    char *when = NULL;
    int rc = recorded(mg->c, mg->sha, &same, &other, &when);
    if (rc == 0 && (same || other) && !mg->o->force) {
        if (same) {
            mg->m->already_done = 1;
            json_object_set_new(mg->rep.root, "already_done", json_true());
            mg->stop = 1;
        } else {
            rc = pgb_fail(PGBOOT_EINVALID, "the target already holds a migration (of %s)",
                          when ? when : "another file");
            pgb_hint("--force migrates again (into tables that are empty, or with --replace); "
                     "nothing was written");
        }
    }
    free(when);
    return rc;
}

/* The target (none in a dry run without one): connected, locked against a
 * second migration into the same database, and asked for its record. */
static int connect_target(migration *mg)
{
    if (!mg->to.url || !*mg->to.url)
        return 0;
    int rc = pgb_pq_open(&mg->c, mg->to.whose, mg->to.url, NULL, NULL);
    if (rc)
        return rc;
    if (PQstatus(mg->c) != CONNECTION_OK)
        return pgb_fail(PGBOOT_ERROR, "cannot connect to the target database: %s",
                        PQerrorMessage(mg->c));
    if (PQserverVersion(mg->c) < 130000)
        return pgb_fail(PGBOOT_EINVALID,
                        "the target runs PostgreSQL %d; pgboot migrates into "
                        "PostgreSQL 13 or later",
                        PQserverVersion(mg->c) / 10000);
    set_session(mg->c);
    /* One migration into a database at a time: a second waits, then finds
     * the first one's record. */
    if (!mg->o->dry_run && (rc = pgb_pq_exec(mg->c, "SELECT pg_advisory_lock(7370636900001)",
                                             "cannot lock the target")))
        return rc;
    return check_recorded(mg);
}

static int run_schema_file(PGconn *c, const char *path)
{
    char *schema = NULL;
    int rc = pgb_read_file(path, &schema, NULL, 64u << 20);
    if (rc)
        return rc;
    char what[600];
    snprintf(what, sizeof what, "the schema %s failed", path);
    rc = pgb_pq_exec(c, schema, what);
    free(schema);
    return rc;
}

/* Before anything is written: may the role record the migration; what a
 * crashed staged run left behind; the transaction (a staged load begins
 * it later); --schema; the tables that exist already. */
static int prepare_target(migration *mg)
{
    const pgboot_migrate_options *o = mg->o;
    int rc;
    if (!o->dry_run && (rc = can_record(mg->c)) != 0)
        return rc;
    /* See staging_open; should this fail, creating the staging schema
     * again says why. */
    if (!o->dry_run && drop_staging(mg->c) != 0)
        pgb_error_reset();
    mg->staging = want_staging(&mg->p, o);
    if (o->dry_run)
        return 0;
    if (!mg->staging && (rc = begin(mg)) != 0)
        return rc;
    if (o->schema_file && (rc = run_schema_file(mg->c, o->schema_file)) != 0)
        return rc;
    if (!o->schema_file && !o->data_only)
        return prepare_targets(mg->c, &mg->p, o, !mg->staging);
    if ((rc = adopt_target_types(mg->c, &mg->p, &mg->rep)) != 0)
        return rc;
    pgb_plan_recount(&mg->p);
    return 0;
}

/* Values that cannot be stored exactly stop us here: under strict, and
 * under widen those that no type holds (numbers beside blobs). */
static int stop_on_bad_values(migration *mg)
{
    const pgboot_migrate_options *o = mg->o;
    if (o->on_error == PGBOOT_ON_ERROR_REJECT)
        return 0;
    json_t *problems = json_array();
    pgb_buf msg = {0};
    int total = collect_bad_cells(&mg->p, problems, &msg);
    int widen = o->on_error == PGBOOT_ON_ERROR_WIDEN;
    int rc = 0;
    if (total > 0) {
        json_object_set_new(mg->rep.root, "bad_values", problems);
        rc = pgb_fail(
            PGBOOT_EINVALID, "%d values in %s cannot be stored exactly%s; nothing was written: %s",
            total, o->sqlite_path, widen ? " by any type (numbers beside blobs in one column)" : "",
            msg.s ? msg.s : "");
        if (widen)
            pgb_hint("--on-error reject sets their rows aside in rejects/<table>.jsonl");
        else
            pgb_hint("--on-error widen gives such columns a type that holds every value; "
                     "--on-error reject sets their rows aside in rejects/<table>.jsonl");
        mg->stop = 1; /* the transaction, if begun, is rolled back */
    } else {
        json_decref(problems);
    }
    pgb_buf_free(&msg);
    return rc;
}

/* A staged load's workers; without them, one transaction on one
 * connection. */
static int open_staging(migration *mg)
{
    mg->staged = staging_open(mg->c, &mg->to, mg->workers, &mg->nworkers) == 0;
    mg->connections = mg->staged ? mg->nworkers : 1;
    if (!mg->staged) {
        int rc = begin(mg);
        return rc ? rc : prepare_targets(mg->c, &mg->p, mg->o, 1);
    }
    if (!(mg->create_sql = calloc((size_t)mg->p.ntables + 1, sizeof *mg->create_sql)))
        return pgb_fail(PGBOOT_ENOMEM, "out of memory");
    return 0;
}

/* CREATE TABLE: here, or (staged) by a worker just before the table's
 * rows. */
static int create_tables(migration *mg)
{
    int rc;
    if (mg->staging && (rc = open_staging(mg)) != 0)
        return rc;
    if (mg->o->schema_file || mg->o->data_only)
        return 0;
    for (int i = 0; i < mg->p.ntables; i++) {
        pgb_buf sql = {0};
        table_ddl(&sql, &mg->p, &mg->p.tables[i]);
        if (sql.oom) {
            pgb_buf_free(&sql);
            return pgb_fail(PGBOOT_ENOMEM, "out of memory");
        }
        add_ddl(&mg->ddl, sql.s);
        rc = 0;
        if (mg->staged) {
            mg->create_sql[i] = sql.s;
            continue;
        }
        if (!mg->o->dry_run) {
            char what[300];
            snprintf(what, sizeof what, "cannot create table %s", mg->p.tables[i].name);
            rc = pgb_pq_exec(mg->c, sql.s, what);
        }
        pgb_buf_free(&sql);
        if (rc)
            return rc;
    }
    return 0;
}

/* The rows, by COPY (staged: over the workers). */
static int load_rows(migration *mg)
{
    const pgboot_migrate_options *o = mg->o;
    if (o->dry_run)
        return 0;
    pgb_load L = {.conn = mg->c,
                  .src = &mg->src,
                  .policy = (on_error_policy)o->on_error,
                  .verify_full = o->verify == PGBOOT_VERIFY_FULL,
                  .progress = o->progress,
                  .progress_payload = o->progress_payload};
    char *rejects = o->report_dir ? pgb_path_join(o->report_dir, "rejects") : NULL;
    L.rejects_dir = rejects;
    for (int i = 0; i < mg->p.ntables; i++)
        L.rows_total += (uint64_t)mg->p.tables[i].rows;
    if (mg->staged) {
        L.conn = mg->workers[0];
        for (int i = 1; i < mg->nworkers; i++)
            L.helpers[L.nhelpers++] = mg->workers[i];
        L.split_rows = SPLIT_ROWS;
    }
    int rc = 0;
    for (int i = 0; i < mg->p.ntables && rc == 0; i++)
        rc = mg->staged ? staged_load(&L, &mg->p.tables[i], mg->create_sql[i])
                        : pgb_load_table(&L, &mg->p.tables[i]);
    free(rejects);
    if (o->progress)
        o->progress(NULL, L.rows_done, L.rows_total, o->progress_payload);
    return rc;
}

/* Staged: the indexes built ahead on the workers (see idx_ahead); then the
 * final transaction begins and moves the tables into the target schema. */
static int build_indexes_ahead(migration *mg)
{
    if (!mg->staged)
        return 0;
    pgb_report scratch = {json_object(), json_array(), json_array()};
    pgb_buf scratch_ddl = {0};
    emit collect = {EMIT_COLLECT, mg->c, &scratch_ddl, &scratch, 0, &mg->ahead};
    for (int i = 0; i < mg->p.ntables; i++)
        keys_and_indexes(&collect, &mg->p, &mg->p.tables[i]);
    views_and_others(&collect, &mg->p);
    json_decref(scratch.root);
    json_decref(scratch.skipped);
    json_decref(scratch.warnings);
    pgb_buf_free(&scratch_ddl);
    if (!mg->ahead.oom)
        ahead_build(&mg->ahead, mg->workers, mg->nworkers);
    while (mg->nworkers > 0)
        PQfinish(mg->workers[--mg->nworkers]);
    int rc = begin(mg);
    if (rc == 0 && (rc = prepare_targets(mg->c, &mg->p, mg->o, 1)) == 0)
        rc = staging_move(mg->c, &mg->p);
    return rc;
}

/* After the data: keys, indexes, identities, defaults, checks, foreign
 * keys, views, full-text search. */
static int finish_schema(migration *mg)
{
    const pgboot_migrate_options *o = mg->o;
    plan *p = &mg->p;
    emit e = {mg->staged ? EMIT_AHEAD_BUILT : EMIT_RUN,
              mg->c,
              &mg->ddl,
              &mg->rep,
              o->dry_run,
              &mg->ahead};
    if (o->schema_file || o->data_only) {
        for (int i = 0; i < p->ntables && !o->dry_run; i++)
            identities(&e, &p->tables[i]);
        return 0;
    }
    for (int i = 0; i < p->ntables; i++) {
        keys_and_indexes(&e, p, &p->tables[i]);
        identities(&e, &p->tables[i]);
        defaults_and_checks(&e, p, &p->tables[i]);
    }
    for (int i = 0; i < p->ntables; i++)
        foreign_keys(&e, p, &p->tables[i]);
    views_and_others(&e, p);
    return 0;
}

/* One table: its row count, and with --verify full the digest of its
 * values read back. */
static int verify_table(migration *mg, plan_table *t)
{
    const pgboot_migrate_options *o = mg->o;
    pgb_buf q = {0};
    pgb_buf_puts(&q, "SELECT count(*) FROM ");
    pgb_buf_ident(&q, t->name);
    int64_t n = -1;
    int rc = query_int(mg->c, q.s, NULL, &n);
    pgb_buf_free(&q);
    if (rc)
        return rc;
    if (n != t->rows - t->rejected)
        return pgb_fail(PGBOOT_ERROR,
                        "verification failed: table %s holds %lld rows, %s had %lld%s; "
                        "nothing was committed",
                        t->name, (long long)n, o->sqlite_path, (long long)(t->rows - t->rejected),
                        t->rejected ? " (after rejects)" : "");
    if (o->verify != PGBOOT_VERIFY_FULL)
        return 0;
    unsigned char back[16];
    int64_t rows = 0;
    if ((rc = pgb_readback_digest(mg->c, t, back, &rows)) != 0)
        return rc;
    if (memcmp(back, t->digest, 16) == 0)
        return 0;
    rc = pgb_fail(PGBOOT_ERROR,
                  "verification failed: the values of table %s read back from "
                  "PostgreSQL differ from %s; nothing was committed",
                  t->name, o->sqlite_path);
    pgb_hint("please report this with the report file: it is a pgboot bug");
    mg->stop = 1;
    return rc;
}

/* Before commit: SQLite's quick_check (which ran on its own thread
 * meanwhile), then every table. */
static int verify(migration *mg)
{
    int rc = pgb_src_check(&mg->src);
    if (rc || mg->o->dry_run)
        return rc;
    for (int i = 0; i < mg->p.ntables; i++) {
        mg->m->rejected += (uint64_t)mg->p.tables[i].rejected;
        if ((rc = verify_table(mg, &mg->p.tables[i])) != 0)
            return rc;
    }
    json_object_set_new(mg->rep.root, "verify",
                        json_string(mg->o->verify == PGBOOT_VERIFY_FULL ? "full" : "counts"));
    return 0;
}

/* The report and the summary; then, if all went well, the record and the
 * commit. A migration that stopped with its report (rc may be an error)
 * still writes it. */
static int report_and_commit(migration *mg, int rc)
{
    const pgboot_migrate_options *o = mg->o;
    pgboot_migration *m = mg->m;
    json_t *root = mg->rep.root;
    json_object_set_new(root, "tables", plan_json(&mg->p));
    json_object_set_new(root, "skipped", json_incref(mg->rep.skipped));
    json_object_set_new(root, "warnings", json_incref(mg->rep.warnings));
    json_object_set_new(root, "started_at", json_string(mg->started));
    json_object_set_new(root, "duration_ms", json_integer((json_int_t)(pgb_now_ms() - mg->t0)));
    json_object_set_new(root, "rejected", json_integer((json_int_t)m->rejected));
    json_object_set_new(root, "dry_run", json_boolean(o->dry_run));
    /* how the rows went in: over how many connections, through the staging
     * schema or not */
    json_object_set_new(
        root, "load",
        json_pack("{s:i, s:b}", "connections", mg->connections, "staged", mg->staged));
    if (!json_object_get(root, "already_done"))
        json_object_set_new(root, "already_done", json_false());
    json_object_set_new(root, "pgboot_version", json_string(PGBOOT_VERSION_STRING));
    m->report = json_dumps(root, JSON_INDENT(2));
    m->summary = m->already_done
                     ? pgb_printf("%s was migrated into this database already; nothing to do\n",
                                  o->sqlite_path)
                     : summary_text(&mg->p, &mg->rep, (int64_t)(pgb_now_ms() - mg->t0),
                                    o->verify == PGBOOT_VERIFY_FULL, o->dry_run, m->rejected);
    m->ddl = mg->ddl.s ? pgb_strdup(mg->ddl.s) : pgb_strdup("");
    if (rc == 0 && mg->in_txn && !m->already_done) {
        if ((rc = record(mg->c, o, mg->sha, mg->size, mg->started, m->report)) == 0 &&
            (rc = pgb_pq_exec(mg->c, "COMMIT", "cannot commit the migration")) == 0)
            mg->in_txn = 0;
    }
    if (o->report_path && m->report && !o->dry_run) {
        /* A failed migration still writes its report; should that fail too,
         * the migration's own failure stays first. */
        pgb_error_saved failure;
        pgb_error_save(&failure);
        int wrc = write_report_file(o->report_path, m->report);
        if (rc == 0)
            rc = wrc;
        else
            pgb_error_restore(&failure);
    }
    return rc;
}

/* The one cleanup. It must not hide why we got here (a server that died
 * fails the cleanup too): its failures go after the first. */
static int migration_end(migration *mg, int rc, pgboot_migration **out)
{
    pgb_error_saved first;
    pgb_error_save(&first);
    if (mg->in_txn && mg->c) {
        PGresult *r = PQexec(mg->c, "ROLLBACK");
        PQclear(r);
    }
    while (mg->nworkers > 0)
        PQfinish(mg->workers[--mg->nworkers]);
    if (mg->staged && rc != 0 && mg->c) /* failed: nothing of it stays */
        (void)drop_staging(mg->c);
    if (rc != 0)
        pgb_error_restore(&first);
    ahead_free(&mg->ahead);
    if (mg->create_sql)
        for (int i = 0; i < mg->p.ntables; i++)
            free(mg->create_sql[i]);
    free(mg->create_sql);
    if (mg->c)
        PQfinish(mg->c);
    if (mg->fh.started)
        pthread_join(mg->fh.thread, NULL);
    pgb_plan_free(&mg->p);
    pgb_src_close(&mg->src);
    pgb_buf_free(&mg->ddl);
    json_decref(mg->rep.root);
    json_decref(mg->rep.skipped);
    json_decref(mg->rep.warnings);
    if (rc == 0 || mg->stop)
        *out = mg->m;
    else
        pgboot_migration_free(mg->m);
    return rc;
}

int pgboot_migrate(pgboot_migration **out, const pgboot_migrate_options *o)
{
    /* The phases, in order. Each returns 0 or an error; one that ends the
     * migration with its report sets mg.stop. */
    static int (*const phases[])(migration *) = {
        open_source,         /* read-only, one read transaction */
        plan_tables,         /* names, and every column's type */
        connect_target,      /* locked; migrated already? */
        prepare_target,      /* privileges, transaction, existing tables */
        stop_on_bad_values,  /* strict / widen: before anything is written */
        create_tables,       /* in the transaction, or staged */
        load_rows,           /* COPY */
        build_indexes_ahead, /* staged: on the workers; then the transaction */
        finish_schema,       /* keys, indexes, constraints, views */
        verify,              /* quick_check, row counts, digests */
    };
    pgb_error_reset();
    *out = NULL;
    migration mg = {.o = o, .connections = 1};
    int rc = check_options(o, &mg.to);
    if (rc || (rc = pgb_need_lib(PGB_LIB_PQ)) != 0)
        return rc;
    mg.t0 = pgb_now_ms();
    now_iso(mg.started, sizeof mg.started);
    mg.m = calloc(1, sizeof *mg.m);
    mg.rep = (pgb_report){json_object(), json_array(), json_array()};
    if (!mg.m || !mg.rep.root || !mg.rep.skipped || !mg.rep.warnings)
        rc = pgb_fail(PGBOOT_ENOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && !mg.stop && i < sizeof phases / sizeof *phases; i++)
        rc = phases[i](&mg);
    if (rc == 0 || mg.stop)
        rc = report_and_commit(&mg, rc);
    return migration_end(&mg, rc, out);
}
