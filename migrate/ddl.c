/* The DDL of a migration: CREATE TABLE, then what follows the data (keys,
 * indexes, identity positions, defaults, CHECKs, foreign keys, views and
 * full-text search), each statement in a savepoint so that what PostgreSQL
 * refuses is reported by name, never dropped silently. SQLite expressions
 * are translated (migrate/tokens.c) with the plan's names. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libpq-fe.h>
#include <sodium.h>
#include <sqlite3.h>

#include "../platform/dynload.h"
#include "copy.h"
#include "ddl.h"
#include "porter.h"
#include "tokens.h"
#include "values.h"

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

/* ---- names for translation ---------------------------------------------------- */

typedef struct {
    const pgb_plan *p;
    const pgb_plan_table *t;
} name_ctx;

/* The class of values a column holds in PostgreSQL, for the translator. */
static int col_class(const pgb_plan_col *c)
{
    return c->kind == PGB_K_BOOL                               ? PGB_CLS_BOOL
           : c->kind == PGB_K_BIGINT                           ? PGB_CLS_INT
           : c->kind == PGB_K_DOUBLE                           ? PGB_CLS_REAL
           : c->kind == PGB_K_BYTEA                            ? PGB_CLS_BLOB
           : c->kind == PGB_K_TEXT || c->kind == PGB_K_VARCHAR ? PGB_CLS_TEXT
                                                               : PGB_CLS_OTHER;
}

static const char *map_column(void *ctx, const char *name, int *cls)
{
    name_ctx *n = ctx;
    *cls = PGB_CLS_OTHER;
    for (int i = 0; i < n->t->ncols; i++)
        if (!strcasecmp(n->t->src->cols[n->t->cols[i].src].name, name)) {
            *cls = col_class(&n->t->cols[i]);
            return n->t->cols[i].name;
        }
    return NULL;
}

static _Thread_local char fold_buf[256]; /* map_fold lends it */
static const char *map_fold(void *ctx, const char *name, int *cls)
{
    name_ctx *n = ctx;
    *cls = PGB_CLS_OTHER;
    const char *t = pgb_plan_table_name(n->p, name);
    if (t)
        return t;
    /* A view's column: the first table's of that name; its class only when
     * every table's column of that name has it (a boolean as before). */
    const char *found = NULL;
    for (int i = 0; i < n->p->ntables; i++) {
        const pgb_plan_table *pt = &n->p->tables[i];
        for (int j = 0; j < pt->ncols; j++) {
            if (strcasecmp(pt->src->cols[pt->cols[j].src].name, name) != 0)
                continue;
            int c = col_class(&pt->cols[j]);
            if (!found) {
                found = pt->cols[j].name;
                *cls = c;
            } else if (c != *cls && *cls != PGB_CLS_BOOL) {
                *cls = PGB_CLS_OTHER;
            }
        }
    }
    if (found)
        return found;
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

/* "ALTER TABLE table ADD CONSTRAINT name" into sql, the name made by
 * object_name from prefix, table and n (and left in cname). */
static void add_constraint(pgb_buf *sql, const char *table, const char *prefix, int n,
                           char cname[80])
{
    object_name(cname, 80, prefix, table, n);
    pgb_buf_puts(sql, "ALTER TABLE ");
    pgb_buf_ident(sql, table);
    pgb_buf_puts(sql, " ADD CONSTRAINT ");
    pgb_buf_ident(sql, cname);
}

/* ---- DDL ---------------------------------------------------------------------- */

static void fts_columns(pgb_buf *b, pgb_plan *p, pgb_plan_table *t);

void pgb_ddl_table(pgb_buf *b, pgb_plan *p, pgb_plan_table *t)
{
    pgb_buf_puts(b, "CREATE TABLE ");
    pgb_buf_ident(b, t->name);
    pgb_buf_puts(b, " (");
    for (int i = 0; i < t->ncols; i++) {
        pgb_plan_col *c = &t->cols[i];
        const pgb_src_col *sc = &t->src->cols[c->src];
        pgb_buf_puts(b, i ? ",\n    " : "\n    ");
        pgb_buf_ident(b, c->name);
        pgb_buf_puts(b, " ");
        pgb_buf_puts(b, c->type_sql);
        if (c->identity && c->kind == PGB_K_BIGINT)
            pgb_buf_puts(b, " GENERATED BY DEFAULT AS IDENTITY");
        if (c->generated && c->gen_sql) {
            pgb_buf_puts(b, " GENERATED ALWAYS AS (");
            pgb_buf_puts(b, c->gen_sql);
            pgb_buf_puts(b, ") STORED");
        }
        if (sc->notnull || (c->identity && c->kind == PGB_K_BIGINT))
            pgb_buf_puts(b, " NOT NULL");
    }
    fts_columns(b, p, t);
    pgb_buf_puts(b, "\n)");
}

void pgb_ddl_add(pgb_buf *ddl, const char *sql)
{
    pgb_buf_puts(ddl, sql);
    pgb_buf_puts(ddl, ";\n");
}

static int is_create_index(const char *sql)
{
    return !strncmp(sql, "CREATE INDEX ", 13) || !strncmp(sql, "CREATE UNIQUE INDEX ", 20);
}

static void ahead_add(pgb_ahead *a, const char *sql)
{
    if (a->n == a->cap) {
        int cap = a->cap ? 2 * a->cap : 16;
        pgb_ahead_job *j = realloc(a->jobs, (size_t)cap * sizeof *j);
        if (!j) {
            a->oom = 1;
            return;
        }
        a->jobs = j;
        a->cap = cap;
    }
    a->jobs[a->n] = (pgb_ahead_job){pgb_strdup(sql), NULL, 0};
    if (!a->jobs[a->n].sql)
        a->oom = 1;
    else
        a->n++;
}

void pgb_ahead_free(pgb_ahead *a)
{
    for (int i = 0; i < a->n; i++) {
        free(a->jobs[i].sql);
        free(a->jobs[i].err);
    }
    free(a->jobs);
    memset(a, 0, sizeof *a);
}

/* Was `sql` built ahead (not refused)? */
static int ahead_built(const pgb_ahead *a, const char *sql)
{
    for (int i = 0; a && i < a->n; i++)
        if (a->jobs[i].built && !strcmp(a->jobs[i].sql, sql))
            return 1;
    return 0;
}

/* Run a statement after the data; report it if PostgreSQL refuses. */
static int after_data(const pgb_emit *e, const char *sql, const char *kind, const char *name)
{
    if (e->mode == PGB_EMIT_COLLECT) {
        if (is_create_index(sql))
            ahead_add(e->ahead, sql);
        return 0;
    }
    pgb_ddl_add(e->ddl, sql);
    if (e->dry_run)
        return 0;
    if (e->mode == PGB_EMIT_AHEAD_BUILT && is_create_index(sql)) {
        for (int i = 0; i < e->ahead->n; i++) {
            pgb_ahead_job *j = &e->ahead->jobs[i];
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
static char *index_items(const pgb_toks *t, size_t open, size_t close, pgb_plan_table *pt,
                         name_ctx *nc, const char **why)
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

static void create_index(const pgb_emit *e, pgb_plan *p, pgb_plan_table *t, pgb_src_index *x)
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

/* The collation SQLite compares key column `col` of index x with (its
 * index_xinfo), else the column's own. */
static int key_nocase(const pgb_src_table *st, const pgb_src_index *x, const char *col)
{
    for (int k = 0; x && k < x->ncols; k++)
        if (x->cols[k] && x->colls && x->colls[k] && !strcasecmp(x->cols[k], col))
            return is_nocase(x->colls[k]);
    for (int j = 0; j < st->ncols; j++)
        if (!strcasecmp(st->cols[j].name, col))
            return is_nocase(st->cols[j].collate);
    return 0;
}

/* The items of a unique index over key columns cols: the NOCASE ones folded
 * as SQLite's NOCASE folds them, ASCII letters only (lower() under COLLATE
 * "C" folds A-Z and nothing else, whatever the database's locale). */
static void key_items(pgb_buf *b, const pgb_plan_table *t, const pgb_src_index *x,
                      char *const *cols, int n)
{
    for (int k = 0; k < n; k++) {
        const char *name = cols[k] ? pgb_plan_col_name(t, cols[k]) : NULL;
        pgb_buf_puts(b, k ? ", " : "");
        if (cols[k] && key_nocase(t->src, x, cols[k])) {
            pgb_buf_puts(b, "lower(");
            pgb_buf_ident(b, name ? name : "?");
            pgb_buf_puts(b, " COLLATE \"C\")");
        } else {
            pgb_buf_ident(b, name ? name : "?");
        }
    }
}

static int any_nocase(const pgb_src_table *st, const pgb_src_index *x, char *const *cols, int n)
{
    for (int k = 0; k < n; k++)
        if (cols[k] && key_nocase(st, x, cols[k]))
            return 1;
    return 0;
}

/* CREATE UNIQUE INDEX name ON t (items), the NOCASE columns folded. */
static void unique_index_sql(pgb_buf *sql, const pgb_plan_table *t, const pgb_src_index *x,
                             char *const *cols, int n, const char *prefix, int num)
{
    char name[80];
    object_name(name, sizeof name, prefix, t->name, num);
    pgb_buf_puts(sql, "CREATE UNIQUE INDEX ");
    pgb_buf_ident(sql, name);
    pgb_buf_puts(sql, " ON ");
    pgb_buf_ident(sql, t->name);
    pgb_buf_puts(sql, " (");
    key_items(sql, t, x, cols, n);
    pgb_buf_puts(sql, ")");
}

/* The primary key. SQLite lets a key that is not an INTEGER PRIMARY KEY
 * (nor WITHOUT ROWID) hold NULLs; PostgreSQL's cannot: such a key becomes
 * UNIQUE on the same columns, where NULLs are distinct as in SQLite. Over
 * NOCASE columns it stays case-insensitive: a unique index on the folded
 * columns beside it. */
static void primary_key(const pgb_emit *e, pgb_plan_table *t)
{
    pgb_src_table *st = t->src;
    char *cols[64];
    int npk = 0, nulls = 0;
    pgb_buf list = {0}, plain = {0};
    for (int k = 1; k <= st->ncols; k++)
        for (int i = 0; i < t->ncols && npk < 64; i++)
            if (st->cols[t->cols[i].src].pk == k) {
                cols[npk] = st->cols[t->cols[i].src].name;
                pgb_buf_puts(&list, npk++ ? ", " : "");
                pgb_buf_ident(&list, t->cols[i].name);
                pgb_buf_puts(&plain, npk > 1 ? ", " : "");
                pgb_buf_puts(&plain, t->cols[i].name);
                if (t->cols[i].st.n_null > 0 && !t->cols[i].identity)
                    nulls = 1;
            }
    if (!npk) {
        pgb_buf_free(&plain);
        return;
    }
    const pgb_src_index *px = NULL;
    for (int i = 0; i < st->nidx; i++)
        if (st->idx[i].origin == 'p')
            px = &st->idx[i];
    int nocase = any_nocase(st, px, cols, npk);
    pgb_buf sql = {0};
    if (nulls) {
        pgb_report_warn(e->rep,
                        "table %s: its PRIMARY KEY (%s) holds NULLs, which SQLite allows in a "
                        "key that is not an INTEGER PRIMARY KEY and PostgreSQL does not: it is "
                        "UNIQUE (%s) instead (NULLs distinct, as in SQLite), and the table has "
                        "no primary key",
                        st->name, plain.s, plain.s);
        if (nocase) {
            unique_index_sql(&sql, t, px, cols, npk, "pk_nocase", 1);
        } else {
            pgb_buf_puts(&sql, "ALTER TABLE ");
            pgb_buf_ident(&sql, t->name);
            pgb_buf_printf(&sql, " ADD UNIQUE (%s)", list.s);
        }
        after_data(e, sql.s, "primary key", st->name);
    } else {
        /* Staged: its index is built ahead on a worker, beside the other
         * indexes, and the final transaction only makes it the key (ADD
         * PRIMARY KEY USING INDEX), under PostgreSQL's own name for it. */
        char key[80];
        snprintf(key, sizeof key, "%s_pkey", t->name);
        pgb_buf idx = {0};
        if (strlen(key) <= 63 && e->mode != PGB_EMIT_RUN) {
            pgb_buf_puts(&idx, "CREATE UNIQUE INDEX ");
            pgb_buf_ident(&idx, key);
            pgb_buf_puts(&idx, " ON ");
            pgb_buf_ident(&idx, t->name);
            pgb_buf_printf(&idx, " (%s)", list.s);
        }
        pgb_buf_puts(&sql, "ALTER TABLE ");
        pgb_buf_ident(&sql, t->name);
        if (idx.s && e->mode == PGB_EMIT_COLLECT) {
            after_data(e, idx.s, "primary key", st->name);
        } else if (idx.s && ahead_built(e->ahead, idx.s)) {
            pgb_buf_puts(&sql, " ADD CONSTRAINT ");
            pgb_buf_ident(&sql, key);
            pgb_buf_puts(&sql, " PRIMARY KEY USING INDEX ");
            pgb_buf_ident(&sql, key);
            after_data(e, sql.s, "primary key", st->name);
        } else {
            pgb_buf_printf(&sql, " ADD PRIMARY KEY (%s)", list.s);
            after_data(e, sql.s, "primary key", st->name);
        }
        pgb_buf_free(&idx);
        if (nocase) {
            pgb_buf_free(&sql);
            unique_index_sql(&sql, t, px, cols, npk, "pk_nocase", 1);
            after_data(e, sql.s, "primary key (case-insensitive)", st->name);
        }
    }
    pgb_buf_free(&sql);
    pgb_buf_free(&list);
    pgb_buf_free(&plain);
}

void pgb_ddl_keys_and_indexes(const pgb_emit *e, pgb_plan *p, pgb_plan_table *t)
{
    pgb_src_table *st = t->src;
    primary_key(e, t);
    for (int i = 0; i < st->nidx; i++) {
        pgb_src_index *x = &st->idx[i];
        if (x->origin == 'p')
            continue;
        if (x->origin == 'u') {
            /* A UNIQUE constraint (which a foreign key may reference);
             * over NOCASE columns, a unique index on them folded beside
             * it keeps it case-insensitive. */
            pgb_buf sql = {0};
            pgb_buf_puts(&sql, "ALTER TABLE ");
            pgb_buf_ident(&sql, t->name);
            pgb_buf_puts(&sql, " ADD UNIQUE (");
            for (int k = 0; k < x->ncols; k++) {
                const char *n = x->cols[k] ? pgb_plan_col_name(t, x->cols[k]) : NULL;
                pgb_buf_puts(&sql, k ? ", " : "");
                pgb_buf_ident(&sql, n ? n : "?");
            }
            pgb_buf_puts(&sql, ")");
            if (after_data(e, sql.s, "unique constraint", x->name) == 0 &&
                any_nocase(st, x, x->cols, x->ncols)) {
                pgb_buf_free(&sql);
                unique_index_sql(&sql, t, x, x->cols, x->ncols, "uq", i);
                after_data(e, sql.s, "unique constraint (case-insensitive)", x->name);
            }
            pgb_buf_free(&sql);
            continue;
        }
        create_index(e, p, t, x);
    }
}

/* What the CREATE TABLE text says that PostgreSQL does not carry (ON
 * CONFLICT clauses, constraint names, ...), and the NOCASE columns, whose
 * comparisons PostgreSQL no longer makes case-insensitively. */
static void report_clauses(const pgb_emit *e, pgb_plan_table *t)
{
    pgb_src_table *st = t->src;
    for (int i = 0; i < st->nnotes; i++)
        pgb_report_skip(e->rep, "clause", st->notes[i].name, st->notes[i].reason);
    for (int j = 0; j < t->ncols; j++) {
        const pgb_src_col *sc = &st->cols[t->cols[j].src];
        int nocase = is_nocase(sc->collate), in_key = 0;
        for (int i = 0; i < st->nidx; i++)
            for (int k = 0; k < st->idx[i].ncols; k++)
                if (st->idx[i].cols[k] && !strcasecmp(st->idx[i].cols[k], sc->name) &&
                    st->idx[i].colls && is_nocase(st->idx[i].colls[k])) {
                    nocase = 1;
                    in_key |= st->idx[i].origin != 'c';
                }
        if (!nocase)
            continue;
        pgb_report_warn(e->rep,
                        "column %s.%s is COLLATE NOCASE in SQLite: PostgreSQL compares it "
                        "case-sensitively (=, <, IN, ORDER BY, GROUP BY, DISTINCT, joins), so "
                        "queries that relied on NOCASE may find fewer rows%s",
                        st->name, sc->name,
                        in_key || sc->unique || sc->pk
                            ? "; its uniqueness stays case-insensitive (ASCII letters, as "
                              "SQLite's NOCASE)"
                            : "");
    }
}

/* Is a default's text one literal: a number (signed), a string, a blob,
 * TRUE or FALSE, perhaps in parentheses? */
static int is_literal(const char *text)
{
    pgb_toks t;
    if (!text || pgb_tokenize(text, &t) != 0) {
        pgb_error_reset();
        return 0;
    }
    size_t a = 0, b = t.n;
    while (b >= a + 2 && t.t[a].kind == TK_OP && t.t[a].start[0] == '(' &&
           pgb_tok_close(&t, a) == b - 1) {
        a++;
        b--;
    }
    if (b == a + 2 && t.t[a].kind == TK_OP && (t.t[a].start[0] == '-' || t.t[a].start[0] == '+') &&
        t.t[a].len == 1 && t.t[a + 1].kind == TK_NUMBER)
        a++;
    int lit = b == a + 1 &&
              (t.t[a].kind == TK_NUMBER || t.t[a].kind == TK_STRING || t.t[a].kind == TK_BLOB ||
               pgb_tok_is(&t, a, "TRUE") || pgb_tok_is(&t, a, "FALSE"));
    pgb_toks_free(&t);
    return lit;
}

/* A literal default in the column's final type, exactly: the value SQLite
 * stores for it (evaluated by SQLite, with the column's affinity, in a
 * private in-memory database), held by the type as a cell would be, and
 * written as COPY writes the rows. Returns 1 with *out (malloc'd) set, 0 when
 * the type cannot hold it (*why set), -1 when SQLite cannot evaluate it here
 * (the translation path then decides). */
static int literal_in_type(const pgb_plan_col *col, const pgb_src_col *sc, char **out,
                           const char **why)
{
    *out = NULL;
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    char *create = sqlite3_mprintf("CREATE TABLE d(x %s DEFAULT %s); INSERT INTO d DEFAULT VALUES",
                                   sc->decl ? sc->decl : "", sc->dflt);
    int rc = -1;
    if (create &&
        sqlite3_open_v2(":memory:", &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_MEMORY, NULL) ==
            SQLITE_OK &&
        sqlite3_exec(db, create, NULL, NULL, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "SELECT x FROM d", -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW) {
        sqlite3_value *v = sqlite3_column_value(s, 0);
        rc = 0;
        if (sqlite3_value_type(v) == SQLITE_NULL)
            rc = -1;
        else if (pgb_cell_ok(col, v, why) && (*out = pgb_value_input_text(col, v)) != NULL) {
            rc = 1;
            int id, fd;
            char hex[33], canon[37];
            if (col->kind == PGB_K_UUID && pgb_parse_uuid(*out, strlen(*out), hex) == 0) {
                snprintf(canon, sizeof canon, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12,
                         hex + 16, hex + 20);
                if (strcmp(*out, canon) != 0) {
                    *why = "a UUID not in canonical form (lower case, 8-4-4-4-12), which would "
                           "read back changed";
                    free(*out);
                    *out = NULL;
                    rc = 0;
                }
            }
            if (rc == 1 && col->kind == PGB_K_NUMERIC && col->p > 0 &&
                (pgb_decimal_shape(*out, strlen(*out), &id, &fd) != 0 || id > col->p - col->s ||
                 fd > col->s)) {
                *why = "a number that does not fit the column's precision and scale";
                free(*out);
                *out = NULL;
                rc = 0;
            }
        }
    }
    sqlite3_finalize(s);
    sqlite3_close(db);
    sqlite3_free(create);
    return rc;
}

void pgb_ddl_defaults_and_checks(const pgb_emit *e, pgb_plan *p, pgb_plan_table *t)
{
    name_ctx nc = {p, t};
    report_clauses(e, t);
    for (int i = 0; i < t->ncols; i++) {
        pgb_plan_col *col = &t->cols[i];
        const pgb_src_col *sc = &t->src->cols[col->src];
        if (!sc->dflt || col->identity || col->generated)
            continue;
        if (!strcasecmp(sc->dflt, "NULL"))
            continue;
        char name[300];
        snprintf(name, sizeof name, "%s.%s", t->src->name, sc->name);
        if (pgb_plan_zero_default(t, col) && col->zero_dates != PGBOOT_ZERO_DATES_INFINITY) {
            /* MySQL's "no date": none (NULL), as --zero-dates null asks, or
             * refused before anything was written (strict) */
            if (col->zero_dates == PGBOOT_ZERO_DATES_NULL)
                pgb_report_warn(e->rep,
                                "DEFAULT %s of %s is a zero date: no default (NULL) "
                                "(--zero-dates null)",
                                sc->dflt, name);
            else
                pgb_report_skip(e->rep, "default", name,
                                "a zero date, which PostgreSQL cannot store; --zero-dates "
                                "infinity makes it -infinity, --zero-dates null drops it");
            continue;
        }
        const char *why = NULL;
        int zero = pgb_plan_zero_default(t, col); /* --zero-dates infinity here */
        char *lit = NULL;
        int in_type = !zero && is_literal(sc->dflt) ? literal_in_type(col, sc, &lit, &why) : -1;
        if (in_type == 0) {
            char *r = pgb_printf("DEFAULT %s not carried: SQLite stores it as %s, which the "
                                 "column's type %s cannot hold exactly",
                                 sc->dflt, why ? why : "a value", col->type_sql);
            pgb_report_skip(e->rep, "default", name, r ? r : "not carried");
            free(r);
            continue;
        }
        char *expr = NULL;
        if (zero) {
            expr = pgb_strdup("'-infinity'");
            if (expr)
                pgb_report_warn(e->rep,
                                "DEFAULT %s of %s is a zero date: -infinity "
                                "(--zero-dates infinity)",
                                sc->dflt, name);
        } else if (in_type == 1) {
            pgb_buf l = {0};
            pgb_buf_literal(&l, lit, strlen(lit));
            expr = l.s;
            free(lit);
        } else {
            expr = translate(sc->dflt, PGB_CTX_DEFAULT, col->type_sql, &nc, map_column, &why);
        }
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
        pgb_buf sql = {0};
        add_constraint(&sql, t->name, "ck", i + 1, cname);
        pgb_buf_printf(&sql, " CHECK (%s)", expr);
        after_data(e, sql.s, "check", name);
        pgb_buf_free(&sql);
        free(expr);
    }
}

void pgb_ddl_foreign_keys(const pgb_emit *e, pgb_plan *p, pgb_plan_table *t)
{
    for (int i = 0; i < t->src->nfks; i++) {
        pgb_src_fk *f = &t->src->fks[i];
        const char *parent = pgb_plan_table_name(p, f->table);
        char name[300];
        snprintf(name, sizeof name, "%s -> %s", t->src->name, f->table);
        if (!parent) {
            pgb_report_skip(e->rep, "foreign key", name, "the referenced table does not exist");
            continue;
        }
        pgb_plan_table *pt = NULL;
        for (int k = 0; k < p->ntables; k++)
            if (!strcmp(p->tables[k].name, parent))
                pt = &p->tables[k];
        char cname[80];
        pgb_buf sql = {0};
        add_constraint(&sql, t->name, "fk", i + 1, cname);
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
        if (after_data(e, sql.s, "foreign key", name) == 0) {
            /* SQLite does not enforce foreign keys unless asked: orphans may
             * exist. The constraint stays (for new rows) either way. The
             * DDL lists the validation where it ran (and, in a dry run,
             * where it will run), so that the DDL alone gives the same
             * constraints. */
            pgb_buf v = {0};
            pgb_buf_puts(&v, "ALTER TABLE ");
            pgb_buf_ident(&v, t->name);
            pgb_buf_puts(&v, " VALIDATE CONSTRAINT ");
            pgb_buf_ident(&v, cname);
            char *err = NULL;
            /* A dry run loads nothing to validate: SQLite counts the rows
             * whose key has no row in the referenced table, so that the
             * DDL and the warning are those of the migration. */
            int64_t orphans = e->dry_run ? pgb_src_fk_orphans(p->src, t->src, f) : 0;
            if (e->dry_run && orphans > 0)
                err = pgb_printf("%lld row%s of %s, by SQLite's foreign_key_check",
                                 (long long)orphans, orphans == 1 ? "" : "s", t->src->name);
            if (e->dry_run ? orphans <= 0 : try_sql(e->conn, v.s, &err) == 0)
                pgb_ddl_add(e->ddl, v.s);
            else
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

void pgb_ddl_identities(const pgb_emit *e, pgb_plan_table *t)
{
    for (int i = 0; i < t->ncols; i++) {
        pgb_plan_col *col = &t->cols[i];
        if (!col->identity || col->kind != PGB_K_BIGINT)
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

/* FTS3, FTS4, FTS5 -> PostgreSQL full-text search: a stored tsvector column
 * generated from the indexed columns (not FTS4's notindexed=, FTS5's
 * UNINDEXED), with a GIN index. External content: the column goes on the
 * content table, named after the FTS table. Own content: the FTS table was
 * migrated as a table (rowid or docid + its columns); the column is "fts".
 * The column is part of CREATE TABLE, so COPY computes it while loading
 * (adding it afterwards would rewrite the whole table). */
static int fts_plan(pgb_plan *p, pgb_src_other *o, pgb_plan_table **t_out, char colname[128],
                    pgb_buf *expr, char **skip)
{
    *t_out = NULL;
    *skip = NULL;
    if (o->fts_content && !*o->fts_content) {
        *skip = pgb_printf("a contentless FTS%d table does not store its text, so there is "
                           "nothing to index in PostgreSQL",
                           o->fts_version);
        return -1;
    }
    const char *target = pgb_plan_table_name(p, o->fts_content ? o->fts_content : o->name);
    pgb_plan_table *t = NULL;
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
        if (o->fts_unindexed && o->fts_unindexed[i])
            continue;
        const char *n = pgb_plan_col_name(t, o->fts_cols[i]);
        if (!n) {
            *skip = pgb_printf("column %s is not a column of %s", o->fts_cols[i], t->name);
            pgb_buf_free(&doc);
            return -1;
        }
        pgb_buf_puts(&doc, doc.len ? " || ' ' || coalesce(" : "coalesce(");
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

int pgb_ddl_fts_porter_wanted(pgb_plan *p)
{
    int wanted = 0;
    for (int i = 0; i < p->src->nothers && !wanted; i++) {
        pgb_src_other *o = &p->src->others[i];
        if (o->kind != PGB_SRC_FTS || !o->fts_config || strcmp(o->fts_config, PGB_PORTER) != 0)
            continue;
        pgb_plan_table *t;
        char col[128];
        char *skip = NULL;
        pgb_buf expr = {0};
        wanted = fts_plan(p, o, &t, col, &expr, &skip) == 0;
        free(skip);
        pgb_buf_free(&expr);
    }
    return wanted;
}

/* The tsvector columns that go into table t's CREATE TABLE. */
static void fts_columns(pgb_buf *b, pgb_plan *p, pgb_plan_table *t)
{
    for (int i = 0; i < p->src->nothers; i++) {
        pgb_src_other *o = &p->src->others[i];
        if (o->kind != PGB_SRC_FTS)
            continue;
        pgb_plan_table *ft;
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

static void full_text(const pgb_emit *e, pgb_plan *p, pgb_src_other *o)
{
    pgb_plan_table *t;
    char colname[128];
    char *skip = NULL;
    pgb_buf expr = {0};
    char kind[32];
    snprintf(kind, sizeof kind, "fts%d table", o->fts_version);
    for (int i = 0; i < o->nfts_notes; i++)
        pgb_report_skip(e->rep, "fts option", o->fts_notes[i].name, o->fts_notes[i].reason);
    if (fts_plan(p, o, &t, colname, &expr, &skip) != 0) {
        pgb_report_skip(e->rep, kind, o->name, skip ? skip : "not translated");
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
    snprintf(kind, sizeof kind, "fts%d index", o->fts_version);
    after_data(e, i.s, kind, o->name);
    pgb_buf_free(&i);
}

void pgb_ddl_views_and_others(const pgb_emit *e, pgb_plan *p)
{
    name_ctx nc = {p, NULL};
    for (int i = 0; i < p->src->nothers; i++) {
        pgb_src_other *o = &p->src->others[i];
        if (o->kind == PGB_SRC_TRIGGER) {
            pgb_report_skip(e->rep, "trigger", o->name,
                            "triggers are not carried over: rewrite it as a PostgreSQL trigger "
                            "function");
            continue;
        }
        if (o->kind == PGB_SRC_FTS) {
            full_text(e, p, o);
            continue;
        }
        if (o->kind == PGB_SRC_VTAB) {
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

/* ---- --schema / --data-only: the target's own types ------------------------------ */

/* Did the plan's scan see a row of t? */
static int has_rows(const pgb_plan_table *t)
{
    for (int j = 0; j < t->ncols; j++) {
        const pgb_col_stats *st = &t->cols[j].st;
        if (st->n_null + st->n_int + st->n_real + st->n_text + st->n_blob > 0)
            return 1;
    }
    return 0;
}

static int adopt_tables(PGconn *c, pgb_plan *p, pgb_report *rep, const char *leave_out,
                        const char *const *drop, char *used, pgb_buf *missing, int *nmissing);

/* Do two names match as SQLite matches identifiers: ASCII letters in either
 * case, every other byte as it is? n: compare that many bytes of a (b must
 * be exactly that long), or -1 for all of a. */
static int same_name(const char *a, const char *b, long n)
{
    size_t la = n < 0 ? strlen(a) : (size_t)n;
    if (strlen(b) != la)
        return 0;
    for (size_t i = 0; i < la; i++) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
        if (x >= 'A' && x <= 'Z')
            x = (unsigned char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z')
            y = (unsigned char)(y - 'A' + 'a');
        if (x != y)
            return 0;
    }
    return 1;
}

/* Is TABLE.COLUMN (SQLite's table name or its target name) in drop? Any dot
 * may be the one between them, so that names with dots ("a.b"."c.d" as
 * a.b.c.d) can be given; letters in either case, as SQLite takes its names.
 * Marks the entry used. */
static int names_column(const char *entry, const pgb_plan_table *t, const char *col)
{
    for (const char *dot = strchr(entry, '.'); dot; dot = strchr(dot + 1, '.')) {
        long n = (long)(dot - entry);
        if (same_name(dot + 1, col, -1) &&
            (same_name(entry, t->src->name, n) || same_name(entry, t->name, n)))
            return 1;
    }
    return 0;
}

static int in_drop(const char *const *drop, char *used, const pgb_plan_table *t, const char *col)
{
    int found = 0;
    for (int k = 0; drop && drop[k]; k++)
        if (names_column(drop[k], t, col)) {
            used[k] = 1;
            found = 1;
        }
    return found;
}

/* Entries of drop that name a column of a table left out (--skip-table):
 * nothing of it is loaded, so they are satisfied. */
static void mark_skipped(const char *const *drop, char *used, const pgb_plan_table *t)
{
    for (int j = 0; j < t->ncols; j++)
        in_drop(drop, used, t, t->src->cols[t->cols[j].src].name);
}

/* The columns with values that the target has no column for: refused,
 * naming them (listed in `missing`, `nmissing` of them); or an entry of drop
 * that named no such column. 0 when there is neither. */
static int refuse_missing(const pgb_buf *missing, int nmissing, const char *const *drop,
                          const char *used)
{
    if (nmissing > 0) {
        int rc = pgb_fail(PGBOOT_EINVALID,
                          "%d SQLite column%s with values %s no column in the target's table: "
                          "%s; nothing was written",
                          nmissing, nmissing == 1 ? "" : "s", nmissing == 1 ? "has" : "have",
                          missing->s ? missing->s : "");
        pgb_hint("add them to the schema, or leave their values behind on purpose with "
                 "--drop-column TABLE.COLUMN (repeatable; SQLite's names, as written here "
                 "without the quotes)");
        return rc;
    }
    for (int k = 0; drop && drop[k]; k++)
        if (!used[k]) {
            int rc = pgb_fail(PGBOOT_EINVALID,
                              "--drop-column %s names no SQLite column that the target's table "
                              "lacks",
                              drop[k]);
            pgb_hint("give TABLE.COLUMN with SQLite's column name, of a column the app's schema "
                     "does not have");
            return rc;
        }
    return 0;
}

int pgb_ddl_adopt_target_types(PGconn *c, pgb_plan *p, pgb_report *rep, const char *leave_out,
                               const char *const *drop)
{
    size_t ndrop = 0;
    while (drop && drop[ndrop])
        ndrop++;
    char *used = calloc(ndrop + 1, 1);
    pgb_buf missing = {0};
    int nmissing = 0;
    if (!used)
        return pgb_fail(PGBOOT_ENOMEM, "out of memory");
    int rc = adopt_tables(c, p, rep, leave_out, drop, used, &missing, &nmissing);
    if (rc == 0)
        rc = refuse_missing(&missing, nmissing, drop, used);
    pgb_buf_free(&missing);
    free(used);
    return rc;
}

static int adopt_tables(PGconn *c, pgb_plan *p, pgb_report *rep, const char *leave_out,
                        const char *const *drop, char *used, pgb_buf *missing, int *nmissing)
{
    for (int i = 0; i < p->ntables; i++) {
        pgb_plan_table *t = &p->tables[i];
        if (leave_out && leave_out[i]) {
            mark_skipped(drop, used, t);
            for (int j = 0; j < t->ncols; j++) { /* no type of ours was chosen */
                free(t->cols[j].reason);
                t->cols[j].reason = NULL;
            }
            continue;
        }
        const char *params[1] = {t->name};
        PGresult *r = PQexecParams(c,
                                   "SELECT column_name, data_type, character_maximum_length, "
                                   "numeric_precision, numeric_scale, is_generated, "
                                   "is_identity, is_nullable, column_default IS NOT NULL "
                                   "FROM information_schema.columns WHERE "
                                   "table_schema = current_schema() AND table_name = $1",
                                   1, NULL, params, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) == 0) {
            PQclear(r);
            /* An app whose schema keeps SQLite's mixed-case names (quoted, as
             * .NET's EF Core makes them) has the table under SQLite's name. */
            int as_is = 0;
            if (strcmp(t->name, t->src->name) != 0) {
                const char *p1[1] = {t->src->name};
                r = PQexecParams(c,
                                 "SELECT 1 FROM pg_class WHERE relname = $1 AND relnamespace = "
                                 "current_schema()::regnamespace AND relkind IN ('r', 'p')",
                                 1, NULL, p1, NULL, NULL, 0);
                as_is = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0;
                PQclear(r);
            }
            int rc = pgb_fail(PGBOOT_EINVALID,
                              "table %s (from %s) does not exist in the target; --schema and "
                              "--data-only load into existing tables",
                              t->name, t->src->name);
            if (as_is)
                pgb_hint("the target has a table named \"%s\", as in SQLite: --preserve-case "
                         "keeps SQLite's names",
                         t->src->name);
            else
                pgb_hint("create it in the schema file, or leave the table out (--skip-table %s)",
                         t->src->name);
            return rc;
        }
        for (int j = 0; j < t->ncols; j++) {
            pgb_plan_col *col = &t->cols[j];
            int found = 0;
            for (int k = 0; k < PQntuples(r) && !found; k++) {
                if (strcmp(PQgetvalue(r, k, 0), col->name) != 0)
                    continue;
                found = 1;
                const char *dt = PQgetvalue(r, k, 1);
                int len = atoi(PQgetvalue(r, k, 2));
                col->identity = !strcmp(PQgetvalue(r, k, 6), "YES");
                col->generated = !strcmp(PQgetvalue(r, k, 5), "ALWAYS");
                col->notnull = !strcmp(PQgetvalue(r, k, 7), "NO");
                col->p = col->s = 0;
                const pgb_col_stats *st = &col->st;
                col->int_bits = 0;
                if (strstr(dt, "int")) {
                    col->kind = PGB_K_BIGINT;
                    col->int_bits = !strcmp(dt, "smallint") ? 16 : !strcmp(dt, "integer") ? 32 : 0;
                } else if (!strcmp(dt, "double precision") || !strcmp(dt, "real"))
                    col->kind = PGB_K_DOUBLE;
                else if (!strcmp(dt, "numeric")) {
                    col->kind = PGB_K_NUMERIC; /* numeric(p,s) cannot hold the infinities */
                    col->p = atoi(PQgetvalue(r, k, 3));
                    col->s = atoi(PQgetvalue(r, k, 4));
                } else if (!strcmp(dt, "boolean"))
                    col->kind = PGB_K_BOOL;
                else if (!strcmp(dt, "date"))
                    col->kind = PGB_K_DATE;
                else if (!strcmp(dt, "timestamp without time zone"))
                    col->kind = PGB_K_TS;
                else if (!strcmp(dt, "timestamp with time zone")) {
                    /* Integers are epoch seconds; naive texts are UTC. */
                    col->kind =
                        st->n_int ? PGB_K_EPOCH_TSTZ : (st->n_text_naive ? PGB_K_TS : PGB_K_TSTZ);
                    if (col->kind == PGB_K_TS)
                        pgb_report_warn(rep,
                                        "column %s.%s: %lld timestamps without a zone go into "
                                        "the target's timestamptz column as UTC",
                                        t->src->name, t->src->cols[col->src].name,
                                        (long long)st->n_text_naive);
                } else if (!strcmp(dt, "jsonb") || !strcmp(dt, "json"))
                    col->kind = PGB_K_JSONB;
                else if (!strcmp(dt, "uuid"))
                    col->kind = PGB_K_UUID;
                else if ((!strcmp(dt, "character varying") || !strcmp(dt, "character")) &&
                         len > 0) {
                    col->kind = PGB_K_VARCHAR;
                    col->len = len;
                } else if (!strcmp(dt, "bytea"))
                    col->kind = PGB_K_BYTEA;
                else
                    col->kind = PGB_K_TEXT;
                snprintf(col->type_sql, sizeof col->type_sql, "%s", dt);
                free(col->reason);
                col->reason = pgb_printf("the target's column is %s", dt);
                if (is_nocase(t->src->cols[col->src].collate) &&
                    (!strcmp(dt, "text") || !strncmp(dt, "character", 9)))
                    pgb_report_warn(rep,
                                    "column %s.%s is COLLATE NOCASE in SQLite: the target's "
                                    "column (%s) compares it case-sensitively, and no "
                                    "case-insensitive uniqueness is added to the app's schema",
                                    t->src->name, t->src->cols[col->src].name, dt);
            }
            if (!found) {
                const pgb_col_stats *st = &col->st;
                const char *cname = t->src->cols[col->src].name;
                long long values = (long long)(st->n_int + st->n_real + st->n_text + st->n_blob);
                if (t->src->cols[col->src].gen_expr) {
                    pgb_report_warn(rep,
                                    "column %s.%s has no column in the target table %s; it is "
                                    "generated in SQLite (computed from the others), so it is "
                                    "not needed",
                                    t->src->name, cname, t->name);
                } else if (in_drop(drop, used, t, cname) || values == 0) {
                    pgb_report_warn(rep,
                                    "column %s.%s has no column in the target table %s; "
                                    "not migrated (%lld value%s not NULL%s)",
                                    t->src->name, cname, t->name, values, values == 1 ? "" : "s",
                                    values ? ", left behind as asked: --drop-column" : "");
                } else {
                    pgb_buf_printf(missing, "%s\"%s\".\"%s\" (%lld value%s not NULL)",
                                   (*nmissing)++ ? ", " : "", t->src->name, cname, values,
                                   values == 1 ? "" : "s");
                }
                col->generated = 1; /* not copied */
            }
        }
        /* A NOT NULL column of the target's with no default that SQLite's
         * table has not: every row would break it. */
        for (int k = 0; k < PQntuples(r); k++) {
            const char *name = PQgetvalue(r, k, 0);
            int from_src = 0;
            for (int j = 0; j < t->ncols && !from_src; j++)
                from_src = !t->cols[j].generated && !strcmp(t->cols[j].name, name);
            if (from_src || strcmp(PQgetvalue(r, k, 7), "NO") != 0 ||
                !strcmp(PQgetvalue(r, k, 8), "t") || !strcmp(PQgetvalue(r, k, 5), "ALWAYS") ||
                !strcmp(PQgetvalue(r, k, 6), "YES") || !has_rows(t))
                continue;
            int rc = pgb_fail(PGBOOT_EINVALID,
                              "column %s.%s of the target is NOT NULL and has no default, and "
                              "SQLite's table %s has no such column; nothing was written",
                              t->name, name, t->src->name);
            pgb_hint("give it a default in the schema file (or load its values after the "
                     "migration), or leave the table out (--skip-table %s)",
                     t->src->name);
            PQclear(r);
            return rc;
        }
        PQclear(r);
    }
    return 0;
}

/* Generated columns: translated, or created as plain columns (and their
 * values copied as data) with a word in the report. 0, or the error of
 * pgb_plan_rescan(). */
int pgb_ddl_generated_columns(pgb_plan *p, pgb_report *rep)
{
    int rc = 0;
    for (int i = 0; i < p->ntables && rc == 0; i++) {
        pgb_plan_table *t = &p->tables[i];
        name_ctx nc = {p, t};
        int plain = 0;
        for (int j = 0; j < t->ncols; j++) {
            pgb_plan_col *col = &t->cols[j];
            const pgb_src_col *sc = &t->src->cols[col->src];
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
                                     "as a plain column holding the values SQLite computed; "
                                     "new rows get none",
                                     why ? why : "not found");
                pgb_report_skip(rep, "generated column", name, r ? r : "not translated");
                free(r);
                col->generated = 0;
                plain = 1;
            }
        }
        if (plain)
            rc = pgb_plan_rescan(p, t);
    }
    return rc;
}

/* One CREATE TEMP TABLE of t as pgb_ddl_table makes it, with only the
 * generated column `only` kept generated (-1: all of them, -2: none), in a
 * savepoint rolled back at once: NULL when PostgreSQL takes it, else its
 * message (malloc'd; "" when out of memory). */
static char *probe_table(PGconn *c, pgb_plan *p, pgb_plan_table *t, int only)
{
    char *saved = calloc((size_t)t->ncols + 1, 1);
    if (!saved)
        return pgb_strdup("");
    for (int j = 0; j < t->ncols; j++) {
        saved[j] = (char)t->cols[j].generated;
        if (only != -1 && j != only)
            t->cols[j].generated = 0;
    }
    pgb_buf sql = {0};
    pgb_ddl_table(&sql, p, t);
    for (int j = 0; j < t->ncols; j++)
        t->cols[j].generated = saved[j];
    free(saved);
    char *msg = NULL;
    if (sql.oom || strncmp(sql.s, "CREATE TABLE ", 13) != 0) {
        pgb_buf_free(&sql);
        return pgb_strdup("");
    }
    pgb_buf q = {0};
    pgb_buf_puts(&q, "SAVEPOINT pgboot_probe; CREATE TEMP TABLE pgboot_probe ");
    /* past "CREATE TABLE <name> ": the columns */
    const char *cols = strstr(sql.s, " (");
    pgb_buf_puts(&q, cols ? cols + 1 : "");
    pgb_buf_free(&sql);
    if (q.oom) {
        pgb_buf_free(&q);
        return pgb_strdup("");
    }
    PGresult *r = PQexec(c, q.s);
    pgb_buf_free(&q);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        const char *m = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
        msg = pgb_strdup(m ? m : PQresultErrorMessage(r));
        if (!msg)
            msg = pgb_strdup("");
    }
    PQclear(r);
    r = PQexec(c, "ROLLBACK TO SAVEPOINT pgboot_probe; RELEASE SAVEPOINT pgboot_probe");
    PQclear(r);
    return msg;
}

int pgb_ddl_probe_generated(PGconn *c, pgb_plan *p, pgb_report *rep, int *respec)
{
    *respec = 0;
    int rc = 0;
    for (int i = 0; i < p->ntables && rc == 0; i++) {
        pgb_plan_table *t = &p->tables[i];
        int any = 0;
        for (int j = 0; j < t->ncols; j++)
            any |= t->cols[j].generated && t->cols[j].gen_sql;
        char *all = any ? probe_table(c, p, t, -1) : NULL;
        if (!all)
            continue;
        /* Refused: by which generated columns? Only a table PostgreSQL
         * takes without them says; else the failure is not theirs. */
        char *none = probe_table(c, p, t, -2);
        int plain = 0;
        for (int j = 0; j < t->ncols && !none; j++) {
            pgb_plan_col *col = &t->cols[j];
            if (!col->generated || !col->gen_sql)
                continue;
            char *why = probe_table(c, p, t, j);
            if (why && t->partial && !pgb_pass_verdict(p, t)) {
                /* refused for the types of the first rows, perhaps */
                free(why);
                *respec = 1;
                break;
            }
            if (why) {
                char name[300];
                snprintf(name, sizeof name, "%s.%s", t->src->name, t->src->cols[col->src].name);
                char *r = pgb_printf("PostgreSQL refuses the translated expression for the "
                                     "columns' types (%s): created as a plain column holding "
                                     "the values SQLite computed; new rows get none",
                                     *why ? why : "out of memory");
                pgb_report_skip(rep, "generated column", name, r ? r : "refused");
                free(r);
                free(col->gen_sql);
                col->gen_sql = NULL;
                col->generated = 0;
                plain = 1;
            }
            free(why);
        }
        free(all);
        free(none);
        if (*respec)
            return pgb_fail(PGBOOT_ERROR, "the types chosen from the first rows of %s do not hold",
                            t->src->name);
        if (plain)
            rc = pgb_plan_rescan(p, t);
    }
    return rc;
}

/* ---- --schema / --data-only: the app's own search tables ------------------------ */

/* The target table's columns: names, and whether each is a tsvector with no
 * default and no generation. NULL after a failed query (PQclear it). */
static PGresult *target_columns(PGconn *c, const char *table)
{
    const char *params[1] = {table};
    PGresult *r = PQexecParams(c,
                               "SELECT a.attname, a.atttypid = 'tsvector'::regtype AND "
                               "a.attgenerated = '' AND NOT a.atthasdef FROM pg_attribute a "
                               "JOIN pg_class c ON c.oid = a.attrelid WHERE c.relname = $1 AND "
                               "c.relnamespace = current_schema()::regnamespace AND a.attnum > 0 "
                               "AND NOT a.attisdropped ORDER BY a.attnum",
                               1, NULL, params, NULL, NULL, 0);
    return r;
}

static int has_row(PGresult *r, const char *name)
{
    for (int k = 0; k < PQntuples(r); k++)
        if (!strcmp(PQgetvalue(r, k, 0), name))
            return 1;
    return 0;
}

static int fts_fill_one(PGconn *c, pgb_plan *p, const pgb_target *tg, pgb_src_other *o,
                        pgb_buf *ddl, pgb_report *rep, int dry_run, int *porter_made)
{
    char kind[32];
    snprintf(kind, sizeof kind, "fts%d table", o->fts_version);
    for (int i = 0; i < o->nfts_notes; i++)
        pgb_report_skip(rep, "fts option", o->fts_notes[i].name, o->fts_notes[i].reason);
    if (o->fts_content && !*o->fts_content) {
        char *why = pgb_printf("a contentless FTS%d table does not store its text, so there is "
                               "nothing to load",
                               o->fts_version);
        pgb_report_skip(rep, kind, o->name, why ? why : "contentless");
        free(why);
        return 0;
    }
    const char *target = pgb_plan_table_name(p, o->fts_content ? o->fts_content : o->name);
    int ti = -1;
    for (int i = 0; target && i < p->ntables; i++)
        if (!strcmp(p->tables[i].name, target))
            ti = i;
    if (ti < 0 || (tg->action && tg->action[ti] == PGB_TT_SKIP))
        return 0; /* not loaded, or the target's rows kept */
    pgb_plan_table *t = &p->tables[ti];
    PGresult *r = target_columns(c, t->name);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        int rc = pgb_fail(PGBOOT_ERROR, "cannot read the columns of %s: %s", t->name,
                          PQresultErrorMessage(r));
        PQclear(r);
        return rc;
    }
    /* the columns to fill */
    int nfill = 0, named = -1;
    for (int k = 0; k < PQntuples(r); k++)
        if (!strcmp(PQgetvalue(r, k, 1), "t")) {
            nfill++;
            if (!strcasecmp(PQgetvalue(r, k, 0), o->name))
                named = k;
        }
    if (nfill == 0) {
        PQclear(r);
        return 0;
    }
    if (o->fts_content && named < 0 && nfill > 1) {
        pgb_report_warn(rep,
                        "%s: the content table %s has several tsvector columns and none is named "
                        "%s; none was filled from it",
                        o->name, t->name, o->name);
        PQclear(r);
        return 0;
    }
    pgb_buf doc = {0};
    for (int i = 0; i < o->nfts_cols; i++) {
        if (o->fts_unindexed && o->fts_unindexed[i])
            continue;
        const char *n = pgb_plan_col_name(t, o->fts_cols[i]);
        if (!n || !has_row(r, n)) {
            pgb_report_warn(rep,
                            "%s: column %s has no column in the target table %s; the search "
                            "column is filled without it",
                            o->name, o->fts_cols[i], t->name);
            continue;
        }
        pgb_buf_puts(&doc, doc.len ? " || ' ' || coalesce(" : "coalesce(");
        pgb_buf_ident(&doc, n);
        pgb_buf_puts(&doc, "::text, '')");
    }
    if (!doc.len) {
        pgb_report_warn(rep,
                        "%s: no column of it is in the target table %s; no search column "
                        "was filled from it",
                        o->name, t->name);
        PQclear(r);
        return 0;
    }
    const char *cfg = o->fts_config ? o->fts_config : "simple";
    int rc = 0;
    for (int k = 0; k < PQntuples(r) && rc == 0; k++) {
        if (strcmp(PQgetvalue(r, k, 1), "t") != 0 || (named >= 0 && k != named))
            continue;
        /* pgboot's configuration, before the first column filled with it */
        if (!strcmp(cfg, PGB_PORTER) && !*porter_made) {
            if ((rc = pgb_porter_ensure(c, ddl)) != 0)
                break;
            *porter_made = 1;
        }
        const char *col = PQgetvalue(r, k, 0);
        pgb_buf sql = {0};
        pgb_buf_puts(&sql, "UPDATE ");
        pgb_buf_ident(&sql, t->name);
        pgb_buf_puts(&sql, " SET ");
        pgb_buf_ident(&sql, col);
        pgb_buf_printf(&sql, " = to_tsvector('%s', %s) WHERE ", cfg, doc.s);
        pgb_buf_ident(&sql, col);
        pgb_buf_puts(&sql, " IS NULL");
        if (sql.oom) {
            rc = pgb_fail(PGBOOT_ENOMEM, "out of memory");
        } else {
            char what[300];
            snprintf(what, sizeof what, "cannot fill the search column %s.%s", t->name, col);
            pgb_ddl_add(ddl, sql.s);
            rc = dry_run ? 0 : pgb_pq_exec(c, sql.s, what);
        }
        if (rc == 0) {
            json_t *list = json_object_get(rep->root, "full_text");
            if (!list) {
                list = json_array();
                json_object_set_new(rep->root, "full_text", list);
            }
            json_array_append_new(list,
                                  json_pack("{s:s, s:s, s:s, s:s}", "table", t->name, "column", col,
                                            "from", o->name, "configuration", cfg));
        }
        pgb_buf_free(&sql);
    }
    pgb_buf_free(&doc);
    PQclear(r);
    return rc;
}

int pgb_ddl_fts_fill(PGconn *c, pgb_plan *p, const pgb_target *tg, pgb_buf *ddl, pgb_report *rep,
                     int dry_run)
{
    int rc = 0, porter_made = 0;
    for (int i = 0; i < p->src->nothers && rc == 0; i++)
        if (p->src->others[i].kind == PGB_SRC_FTS)
            rc = fts_fill_one(c, p, tg, &p->src->others[i], ddl, rep, dry_run, &porter_made);
    return rc;
}
