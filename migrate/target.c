/* Into the app's own schema: the target's foreign keys, its tables that hold
 * rows already, and its sequences (see target.h).
 *
 * Order. Rows go in parents first, by a topological order of the target's
 * foreign keys among the tables loaded (a table referencing itself needs no
 * order: its checks run at the end of its COPY). A cycle between tables has
 * no such order: the cycle's DEFERRABLE keys are deferred to the end of the
 * load. If a cycle remains: a superuser loads with the triggers of its keys
 * that are not deferrable disabled (PostgreSQL lets only a superuser disable
 * a constraint's triggers), enabled again after; the owner of the tables
 * makes those keys DEFERRABLE inside the transaction, defers them, and makes
 * them NOT DEFERRABLE again after (ALTER CONSTRAINT); either way every
 * foreign key of the loaded tables is then validated by a query before
 * commit. Any other role is stopped before anything is written, with the
 * cycle named. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include "../platform/dynload.h"
#include "ddl.h"
#include "source.h"
#include "target.h"

/* ---- a set of keys (the text of a parent row's referenced columns) ----------- */

struct pgb_keyset {
    char **slot;
    size_t cap, n;
};

static uint64_t key_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static int keyset_has(const pgb_keyset *k, const char *s)
{
    if (!k || !k->n)
        return 0;
    for (size_t i = key_hash(s) & (k->cap - 1);; i = (i + 1) & (k->cap - 1)) {
        if (!k->slot[i])
            return 0;
        if (!strcmp(k->slot[i], s))
            return 1;
    }
}

/* 0, or -1 when out of memory. */
static int keyset_add(pgb_keyset **kp, const char *s)
{
    pgb_keyset *k = *kp;
    if (!k && !(k = *kp = calloc(1, sizeof *k)))
        return -1;
    if (keyset_has(k, s))
        return 0;
    if ((k->n + 1) * 2 > k->cap) {
        size_t cap = k->cap ? k->cap * 2 : 64;
        char **slot = calloc(cap, sizeof *slot);
        if (!slot)
            return -1;
        for (size_t i = 0; i < k->cap; i++) {
            if (!k->slot[i])
                continue;
            size_t j = key_hash(k->slot[i]) & (cap - 1);
            while (slot[j])
                j = (j + 1) & (cap - 1);
            slot[j] = k->slot[i];
        }
        free(k->slot);
        k->slot = slot;
        k->cap = cap;
    }
    char *d = pgb_strdup(s);
    if (!d)
        return -1;
    size_t j = key_hash(s) & (k->cap - 1);
    while (k->slot[j])
        j = (j + 1) & (k->cap - 1);
    k->slot[j] = d;
    k->n++;
    return 0;
}

static void keyset_free(pgb_keyset *k)
{
    if (!k)
        return;
    for (size_t i = 0; i < k->cap; i++)
        free(k->slot[i]);
    free(k->slot);
    free(k);
}

/* ---- small helpers ------------------------------------------------------------ */

static int fail_query(PGresult *r, const char *what)
{
    int rc = pgb_fail(PGBOOT_ERROR, "%s: %s", what, PQresultErrorMessage(r));
    PQclear(r);
    return rc;
}

/* Run a statement and record it in the DDL. */
static int exec_ddl(PGconn *c, pgb_buf *ddl, const char *sql, const char *what)
{
    pgb_ddl_add(ddl, sql);
    return pgb_pq_exec(c, sql, what);
}

static char **json_names(const char *text, int *n)
{
    *n = 0;
    json_t *j = json_loads(text, 0, NULL);
    if (!j || !json_is_array(j)) {
        json_decref(j);
        return NULL;
    }
    size_t m = json_array_size(j);
    char **out = calloc(m + 1, sizeof *out);
    for (size_t i = 0; out && i < m; i++)
        out[i] = pgb_strdup(
            json_string_value(json_array_get(j, i)) ? json_string_value(json_array_get(j, i)) : "");
    json_decref(j);
    *n = (int)m;
    return out;
}

static void free_names(char **v, int n)
{
    for (int i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

static int plan_index(const pgb_plan *p, const char *name)
{
    for (int i = 0; name && i < p->ntables; i++)
        if (!strcmp(p->tables[i].name, name))
            return i;
    return -1;
}

/* The position of column `name` among t's copied columns, or -1. */
static int copied_pos(const pgb_plan_table *t, const char *name)
{
    for (int i = 0, k = 0; i < t->ncols; i++) {
        if (t->cols[i].generated)
            continue;
        if (!strcmp(t->cols[i].name, name))
            return k;
        k++;
    }
    return -1;
}

static const pgb_plan_col *copied_col(const pgb_plan_table *t, int pos)
{
    for (int i = 0, k = 0; i < t->ncols; i++) {
        if (t->cols[i].generated)
            continue;
        if (k++ == pos)
            return &t->cols[i];
    }
    return NULL;
}

/* ---- reading the foreign keys ------------------------------------------------- */

static int read_fks(pgb_target *tg, PGconn *c)
{
    PGresult *r = PQexec(
        c, "SELECT c.oid, quote_ident(cn.nspname) || '.' || quote_ident(c.conname), c.conname, "
           "c.conrelid::regclass::text, c.confrelid::regclass::text, "
           "CASE WHEN cl.relnamespace = s.oid THEN cl.relname END, "
           "CASE WHEN pl.relnamespace = s.oid THEN pl.relname END, "
           "c.condeferrable, c.confmatchtype = 'f', "
           "(SELECT json_agg(a.attname ORDER BY k.i) FROM unnest(c.conkey) WITH ORDINALITY "
           "k(n, i) JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n), "
           "(SELECT json_agg(a.attname ORDER BY k.i) FROM unnest(c.confkey) WITH ORDINALITY "
           "k(n, i) JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n), "
           "pg_has_role(cl.relowner, 'USAGE'), "
           "(SELECT json_agg(format_type(a.atttypid, a.atttypmod) ORDER BY k.i) FROM "
           "unnest(c.confkey) WITH ORDINALITY k(n, i) JOIN pg_attribute a ON a.attrelid = "
           "c.confrelid AND a.attnum = k.n) "
           "FROM pg_constraint c JOIN pg_namespace cn ON cn.oid = c.connamespace "
           "JOIN pg_class cl ON cl.oid = c.conrelid JOIN pg_class pl ON pl.oid = c.confrelid, "
           "(SELECT oid FROM pg_namespace WHERE nspname = current_schema()) s "
           "WHERE c.contype = 'f' AND c.conparentid = 0 AND "
           "(cl.relnamespace = s.oid OR pl.relnamespace = s.oid) ORDER BY c.conrelid, c.conname");
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return fail_query(r, "cannot read the target's foreign keys");
    int n = PQntuples(r);
    tg->fks = calloc((size_t)n + 1, sizeof *tg->fks);
    if (!tg->fks) {
        PQclear(r);
        return pgb_fail(PGBOOT_ENOMEM, "out of memory");
    }
    for (int i = 0; i < n; i++) {
        pgb_tfk *f = &tg->fks[tg->nfks++];
        f->oid = (unsigned int)strtoul(PQgetvalue(r, i, 0), NULL, 10);
        f->qname = pgb_strdup(PQgetvalue(r, i, 1));
        f->name = pgb_strdup(PQgetvalue(r, i, 2));
        f->child_rel = pgb_strdup(PQgetvalue(r, i, 3));
        f->parent_rel = pgb_strdup(PQgetvalue(r, i, 4));
        f->child = PQgetisnull(r, i, 5) ? -1 : plan_index(tg->p, PQgetvalue(r, i, 5));
        f->parent = PQgetisnull(r, i, 6) ? -1 : plan_index(tg->p, PQgetvalue(r, i, 6));
        f->deferrable = !strcmp(PQgetvalue(r, i, 7), "t");
        f->match_full = !strcmp(PQgetvalue(r, i, 8), "t");
        f->owned = !strcmp(PQgetvalue(r, i, 11), "t");
        int nc = 0, np = 0;
        f->ccols = json_names(PQgetvalue(r, i, 9), &nc);
        f->pcols = json_names(PQgetvalue(r, i, 10), &np);
        int nt = 0;
        f->ptypes = json_names(PQgetvalue(r, i, 12), &nt);
        if (nt < np)
            np = nt;
        f->ncols = nc < np ? nc : np;
        f->ckey = calloc((size_t)f->ncols + 1, sizeof *f->ckey);
        f->pkey = calloc((size_t)f->ncols + 1, sizeof *f->pkey);
        if (!f->qname || !f->name || !f->child_rel || !f->parent_rel || !f->ccols || !f->pcols ||
            !f->ptypes || !f->ckey || !f->pkey) {
            PQclear(r);
            return pgb_fail(PGBOOT_ENOMEM, "out of memory");
        }
        for (int k = 0; k < f->ncols; k++) {
            f->ckey[k] = f->child >= 0 ? copied_pos(&tg->p->tables[f->child], f->ccols[k]) : -1;
            f->pkey[k] = f->parent >= 0 ? copied_pos(&tg->p->tables[f->parent], f->pcols[k]) : -1;
        }
    }
    PQclear(r);
    return 0;
}

/* ---- tables that hold rows -------------------------------------------------------- */

/* rows: how many rows table rel (regclass text, or an identifier when
 * ident) holds. */
static int count_rows(PGconn *c, const char *rel, int ident, int64_t *rows)
{
    pgb_buf q = {0};
    pgb_buf_puts(&q, "SELECT count(*) FROM ");
    if (ident)
        pgb_buf_ident(&q, rel);
    else
        pgb_buf_puts(&q, rel);
    if (q.oom) {
        pgb_buf_free(&q);
        return pgb_fail(PGBOOT_ENOMEM, "out of memory");
    }
    PGresult *r = PQexec(c, q.s);
    pgb_buf_free(&q);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return fail_query(r, "cannot count the rows of a target table");
    *rows = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return 0;
}

/* The tables named in a list of o (a target or a SQLite name) get action a. */
static int name_tables(pgb_target *tg, const char *const *names, pgb_tt_action a, const char *opt)
{
    for (int i = 0; names && names[i]; i++) {
        int found = -1;
        for (int k = 0; k < tg->p->ntables && found < 0; k++)
            if (!strcmp(tg->p->tables[k].name, names[i]) ||
                !strcmp(tg->p->tables[k].src->name, names[i]))
                found = k;
        if (found < 0) {
            int rc = pgb_fail(PGBOOT_EINVALID,
                              "%s %s: no table of that name is migrated (a table of the target "
                              "that the SQLite database also has); nothing was written",
                              opt, names[i]);
            pgb_hint("name the table as in the target or in the SQLite database");
            return rc;
        }
        if (tg->action[found] != PGB_TT_LOAD && tg->action[found] != a) {
            int rc = pgb_fail(PGBOOT_EINVALID,
                              "table %s is named by both --skip-table and --replace-table; "
                              "nothing was written",
                              names[i]);
            pgb_hint("choose one of them for it");
            return rc;
        }
        tg->action[found] = a;
    }
    return 0;
}

int pgb_target_names(pgb_target *tg, pgb_plan *p, const pgboot_migrate_options *o)
{
    memset(tg, 0, sizeof *tg);
    tg->p = p;
    size_t n = (size_t)p->ntables + 1;
    tg->action = calloc(n, sizeof *tg->action);
    tg->held = calloc(n, sizeof *tg->held);
    tg->order = calloc(n, sizeof *tg->order);
    tg->skipped = calloc(n, 1);
    if (!tg->action || !tg->held || !tg->order || !tg->skipped)
        return pgb_fail(PGBOOT_ENOMEM, "out of memory");
    int rc = name_tables(tg, o->skip_tables, PGB_TT_SKIP, "--skip-table");
    if (rc == 0)
        rc = name_tables(tg, o->replace_tables, PGB_TT_REPLACE, "--replace-table");
    for (int i = 0; i < p->ntables; i++)
        tg->skipped[i] = tg->action[i] == PGB_TT_SKIP;
    return rc;
}

/* Does table `name` exist in the target schema? */
static int table_exists(PGconn *c, const char *name, int *yes)
{
    const char *params[1] = {name};
    PGresult *r = PQexecParams(c,
                               "SELECT 1 FROM pg_tables WHERE schemaname = current_schema() AND "
                               "tablename = $1",
                               1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return fail_query(r, "cannot read the target's tables");
    *yes = PQntuples(r) > 0;
    PQclear(r);
    return 0;
}

static int decide_actions(pgb_target *tg, PGconn *c, const pgboot_migrate_options *o,
                          pgb_report *rep)
{
    pgb_plan *p = tg->p;
    int rc = 0;
    pgb_buf list = {0};
    int refused = 0;
    for (int i = 0; i < p->ntables; i++) {
        int exists = 1;
        tg->held[i] = -1; /* a skipped table that is not in the target */
        if (tg->skipped[i] && (rc = table_exists(c, p->tables[i].name, &exists)) != 0)
            break;
        if (exists && (rc = count_rows(c, p->tables[i].name, 1, &tg->held[i])) != 0)
            break;
        if (tg->held[i] == 0 || tg->action[i] != PGB_TT_LOAD) /* none, or named */
            continue;
        if (o->existing_rows == PGBOOT_EXISTING_ROWS_SKIP) {
            tg->action[i] = PGB_TT_SKIP;
            tg->skipped[i] = 1;
        } else if (o->existing_rows == PGBOOT_EXISTING_ROWS_REPLACE)
            tg->action[i] = PGB_TT_REPLACE;
        else
            pgb_buf_printf(&list, "%s%s (%lld row%s)", refused++ ? ", " : "", p->tables[i].name,
                           (long long)tg->held[i], tg->held[i] == 1 ? "" : "s");
    }
    if (rc == 0 && refused) {
        rc = pgb_fail(PGBOOT_EINVALID,
                      "%d tables of the target hold rows already: %s; nothing was written", refused,
                      list.s ? list.s : "");
        pgb_hint("--skip-table T keeps T's rows and loads nothing into it; --replace-table T "
                 "deletes its rows and loads SQLite's; --existing-rows skip|replace does one "
                 "of these for every such table");
    }
    pgb_buf_free(&list);
    if (rc)
        return rc;
    for (int i = 0; i < p->ntables; i++) {
        pgb_plan_table *t = &p->tables[i];
        if (tg->action[i] != PGB_TT_SKIP)
            continue;
        char *why = tg->held[i] < 0 ? pgb_printf("skipped as asked: not in the target; its rows "
                                                 "in SQLite (%lld) are not loaded",
                                                 (long long)t->rows)
                                    : pgb_printf("skipped as asked: the target's rows (%lld) "
                                                 "are kept, its rows in SQLite (%lld) are not "
                                                 "loaded",
                                                 (long long)tg->held[i], (long long)t->rows);
        pgb_report_skip(rep, "table", t->src->name, why ? why : "skipped as asked");
        free(why);
        t->rows = 0;
        for (int k = 0; k < t->ncols; k++) /* not loaded: its values stop nothing */
            t->cols[k].n_bad = 0;
    }
    /* A table whose rows stay must not lose the rows they reference (nor
     * lose rows of its own to an ON DELETE CASCADE). */
    for (int i = 0; i < tg->nfks; i++) {
        pgb_tfk *f = &tg->fks[i];
        if (f->parent < 0 || tg->action[f->parent] != PGB_TT_REPLACE || f->child == f->parent ||
            (f->child >= 0 && tg->action[f->child] != PGB_TT_SKIP))
            continue;
        int64_t rows = 0;
        if ((rc = count_rows(c, f->child_rel, 0, &rows)) != 0)
            return rc;
        if (rows == 0)
            continue;
        rc = pgb_fail(PGBOOT_EINVALID,
                      "table %s keeps its rows (%lld), which reference %s (foreign key %s), whose "
                      "rows are to be replaced; nothing was written",
                      f->child_rel, (long long)rows, f->parent_rel, f->name);
        pgb_hint("replace %s too (--replace-table), or keep %s's rows (--skip-table)", f->child_rel,
                 f->parent_rel);
        return rc;
    }
    return 0;
}

/* ---- the order ------------------------------------------------------------------- */

/* Is foreign key f an edge of the load order (both tables loaded, not a
 * self-reference, neither deferred nor bypassed)? */
static int edge(const pgb_target *tg, const pgb_tfk *f)
{
    return f->child >= 0 && f->parent >= 0 && f->child != f->parent &&
           tg->action[f->child] != PGB_TT_SKIP && tg->action[f->parent] != PGB_TT_SKIP &&
           !f->defer && !f->bypass;
}

/* Strongly connected components (Tarjan) of the tables over the edges. */
typedef struct {
    const pgb_target *tg;
    int *index, *low, *onstack, *stack, *comp;
    int next, sp, ncomp;
} scc_state;

static void scc_visit(scc_state *s, int v)
{
    s->index[v] = s->low[v] = s->next++;
    s->stack[s->sp++] = v;
    s->onstack[v] = 1;
    for (int i = 0; i < s->tg->nfks; i++) {
        const pgb_tfk *f = &s->tg->fks[i];
        if (f->child != v || !edge(s->tg, f))
            continue;
        int w = f->parent;
        if (s->index[w] < 0) {
            scc_visit(s, w);
            if (s->low[w] < s->low[v])
                s->low[v] = s->low[w];
        } else if (s->onstack[w] && s->index[w] < s->low[v]) {
            s->low[v] = s->index[w];
        }
    }
    if (s->low[v] == s->index[v]) {
        int w;
        do {
            w = s->stack[--s->sp];
            s->onstack[w] = 0;
            s->comp[w] = s->ncomp;
        } while (w != v);
        s->ncomp++;
    }
}

/* comp[i]: the component of table i; returns 0 or -1 (out of memory). */
static int scc(const pgb_target *tg, int *comp)
{
    int n = tg->p->ntables;
    scc_state s = {tg,
                   calloc((size_t)n + 1, sizeof(int)),
                   calloc((size_t)n + 1, sizeof(int)),
                   calloc((size_t)n + 1, sizeof(int)),
                   calloc((size_t)n + 1, sizeof(int)),
                   comp,
                   0,
                   0,
                   0};
    int ok = s.index && s.low && s.onstack && s.stack;
    for (int i = 0; ok && i < n; i++)
        s.index[i] = -1;
    for (int i = 0; ok && i < n; i++)
        if (s.index[i] < 0)
            scc_visit(&s, i);
    free(s.index);
    free(s.low);
    free(s.onstack);
    free(s.stack);
    return ok ? 0 : -1;
}

/* Kahn's order over the edges, the plan's order among tables that are
 * ready: 1 if every table has its place, 0 if a cycle remains. */
static int topo(pgb_target *tg)
{
    int n = tg->p->ntables, placed = 0;
    int *done = calloc((size_t)n + 1, sizeof *done);
    if (!done)
        return -1;
    while (placed < n) {
        int pick = -1;
        for (int v = 0; v < n && pick < 0; v++) {
            if (done[v])
                continue;
            int ready = 1;
            for (int i = 0; i < tg->nfks && ready; i++)
                if (tg->fks[i].child == v && edge(tg, &tg->fks[i]) && !done[tg->fks[i].parent])
                    ready = 0;
            if (ready)
                pick = v;
        }
        if (pick < 0)
            break;
        done[pick] = 1;
        tg->order[placed++] = pick;
    }
    free(done);
    return placed == n;
}

/* How the foreign keys on a cycle (both ends in one component of several
 * tables) stop being edges of the order. */
typedef enum {
    BREAK_DEFER,  /* the DEFERRABLE ones are deferred */
    BREAK_BYPASS, /* the others' triggers are off (a superuser) */
    BREAK_ALTER,  /* the others are made DEFERRABLE and deferred (their owner) */
} break_how;

/* 0; 1 for BREAK_ALTER when the role does not own the table of one of
 * them (nothing changed); or an error. */
static int break_cycles(pgb_target *tg, break_how how)
{
    int *comp = calloc((size_t)tg->p->ntables + 1, sizeof *comp);
    if (!comp || scc(tg, comp) != 0) {
        free(comp);
        return pgb_fail(PGBOOT_ENOMEM, "out of memory");
    }
    int pass = how == BREAK_ALTER ? 0 : 1, foreign = 0;
    for (; pass < 2 && !foreign; pass++) {
        for (int i = 0; i < tg->nfks; i++) {
            pgb_tfk *f = &tg->fks[i];
            if (!edge(tg, f) || comp[f->child] != comp[f->parent] ||
                f->deferrable != (how == BREAK_DEFER))
                continue;
            if (pass == 0) /* may the role alter them all? */
                foreign |= !f->owned;
            else if (how == BREAK_DEFER)
                f->defer = 1;
            else if (how == BREAK_ALTER)
                f->defer = f->made_deferrable = 1;
            else
                f->bypass = tg->bypass = 1;
        }
    }
    free(comp);
    return foreign;
}

/* The error for a cycle that cannot be loaded: its tables and keys. */
static int refuse_cycle(pgb_target *tg)
{
    int *comp = calloc((size_t)tg->p->ntables + 1, sizeof *comp);
    if (!comp || scc(tg, comp) != 0) {
        free(comp);
        return pgb_fail(PGBOOT_ENOMEM, "out of memory");
    }
    pgb_buf keys = {0};
    int shown = -1, nk = 0;
    for (int i = 0; i < tg->nfks; i++) {
        pgb_tfk *f = &tg->fks[i];
        if (!edge(tg, f) || comp[f->child] != comp[f->parent])
            continue;
        if (shown < 0)
            shown = comp[f->child];
        if (comp[f->child] != shown)
            continue;
        pgb_buf_printf(&keys, "%s%s (%s -> %s)", nk++ ? ", " : "", f->name,
                       tg->p->tables[f->child].name, tg->p->tables[f->parent].name);
    }
    free(comp);
    int rc = pgb_fail(PGBOOT_EINVALID,
                      "the target's tables reference each other in a cycle of foreign keys that "
                      "are not DEFERRABLE: %s; no load order satisfies them, and only the "
                      "owner of their tables or a superuser may defer or turn off their checks "
                      "while loading; nothing was written",
                      keys.s ? keys.s : "?");
    pgb_hint("declare one of these foreign keys DEFERRABLE in the schema, or migrate as the "
             "tables' owner or a superuser (pgboot then validates every foreign key before "
             "commit)");
    pgb_buf_free(&keys);
    return rc;
}

static int is_superuser(PGconn *c, int *yes)
{
    PGresult *r = PQexec(c, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user");
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return fail_query(r, "cannot read the role's attributes");
    *yes = PQntuples(r) == 1 && !strcmp(PQgetvalue(r, 0, 0), "t");
    PQclear(r);
    return 0;
}

int pgb_target_read(pgb_target *tg, PGconn *c, const pgboot_migrate_options *o, pgb_report *rep)
{
    int rc = read_fks(tg, c);
    if (rc == 0)
        rc = decide_actions(tg, c, o, rep);
    if (rc)
        return rc;
    int placed = topo(tg);
    if (placed == 0 && (rc = break_cycles(tg, BREAK_DEFER)) == 0)
        placed = topo(tg);
    if (placed == 0) {
        int super = 0;
        if ((rc = is_superuser(c, &super)) != 0)
            return rc;
        rc = break_cycles(tg, super ? BREAK_BYPASS : BREAK_ALTER);
        if (rc == 1)
            return refuse_cycle(tg);
        if (rc == 0)
            placed = topo(tg);
    }
    if (rc == 0 && placed < 0)
        rc = pgb_fail(PGBOOT_ENOMEM, "out of memory");
    if (rc == 0 && placed == 0)
        rc = pgb_fail(PGBOOT_ERROR, "internal: no load order after breaking the cycles");
    for (int i = 0; rc == 0 && i < tg->nfks; i++) {
        pgb_tfk *f = &tg->fks[i];
        if (f->made_deferrable)
            pgb_report_warn(rep,
                            "foreign key %s (%s -> %s) is on a cycle and not DEFERRABLE: made "
                            "DEFERRABLE for the load and deferred to its end, then NOT DEFERRABLE "
                            "again; every foreign key of the loaded tables was validated before "
                            "commit",
                            f->name, f->child_rel, f->parent_rel);
        else if (f->defer)
            pgb_report_warn(rep,
                            "foreign key %s (%s -> %s) is on a cycle: deferred to the end of the "
                            "load",
                            f->name, f->child_rel, f->parent_rel);
        if (f->bypass)
            pgb_report_warn(rep,
                            "foreign key %s (%s -> %s) is on a cycle and not DEFERRABLE: its "
                            "triggers were off while loading, and every foreign key of the loaded "
                            "tables was validated before commit",
                            f->name, f->child_rel, f->parent_rel);
    }
    return rc;
}

/* ---- before and after the rows ------------------------------------------------------ */

/* ALTER TABLE ... ENABLE/DISABLE TRIGGER for each trigger of a bypassed
 * foreign key. */
static int switch_triggers(pgb_target *tg, PGconn *c, pgb_buf *ddl, int on)
{
    for (int i = 0; i < tg->nfks; i++) {
        if (!tg->fks[i].bypass)
            continue;
        char oid[16];
        snprintf(oid, sizeof oid, "%u", tg->fks[i].oid);
        const char *params[2] = {oid, on ? "ENABLE" : "DISABLE"};
        PGresult *r = PQexecParams(c,
                                   "SELECT format('ALTER TABLE %s %s TRIGGER %I', "
                                   "tgrelid::regclass, $2::text, tgname) FROM pg_trigger "
                                   "WHERE tgconstraint = $1::oid ORDER BY tgname",
                                   2, NULL, params, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK)
            return fail_query(r, "cannot read a foreign key's triggers");
        int rc = 0;
        for (int k = 0; k < PQntuples(r) && rc == 0; k++)
            rc = exec_ddl(c, ddl, PQgetvalue(r, k, 0),
                          on ? "cannot enable a foreign key's triggers again"
                             : "cannot disable a foreign key's triggers");
        PQclear(r);
        if (rc)
            return rc;
    }
    return 0;
}

/* ALTER TABLE ... ALTER CONSTRAINT ... [NOT] DEFERRABLE for the keys made
 * deferrable for the load. */
static int alter_deferrable(pgb_target *tg, PGconn *c, pgb_buf *ddl, int on)
{
    int rc = 0;
    for (int i = 0; i < tg->nfks && rc == 0; i++) {
        pgb_tfk *f = &tg->fks[i];
        if (!f->made_deferrable)
            continue;
        pgb_buf sql = {0};
        pgb_buf_printf(&sql, "ALTER TABLE %s ALTER CONSTRAINT ", f->child_rel);
        pgb_buf_ident(&sql, f->name);
        pgb_buf_puts(&sql, on ? " DEFERRABLE" : " NOT DEFERRABLE");
        rc = sql.oom ? pgb_fail(PGBOOT_ENOMEM, "out of memory")
                     : exec_ddl(c, ddl, sql.s,
                                on ? "cannot make a foreign key deferrable for the load"
                                   : "cannot make a foreign key NOT DEFERRABLE again");
        pgb_buf_free(&sql);
    }
    return rc;
}

/* SET CONSTRAINTS ... DEFERRED (on) or IMMEDIATE (off, which checks the
 * rows loaded meanwhile) for the foreign keys deferred to break a cycle. */
static int set_deferred(pgb_target *tg, PGconn *c, pgb_buf *ddl, int on)
{
    int rc = 0;
    for (int i = 0; i < tg->nfks && rc == 0; i++) {
        if (!tg->fks[i].defer)
            continue;
        char *sql =
            pgb_printf("SET CONSTRAINTS %s %s", tg->fks[i].qname, on ? "DEFERRED" : "IMMEDIATE");
        rc = sql ? exec_ddl(c, ddl, sql,
                            on ? "cannot defer a foreign key"
                               : "a foreign key deferred while loading fails")
                 : pgb_fail(PGBOOT_ENOMEM, "out of memory");
        free(sql);
    }
    return rc;
}

int pgb_target_before_load(pgb_target *tg, PGconn *c, pgb_buf *ddl)
{
    int rc = alter_deferrable(tg, c, ddl, 1);
    if (rc == 0)
        rc = set_deferred(tg, c, ddl, 1);
    if (rc == 0)
        rc = switch_triggers(tg, c, ddl, 0);
    /* Emptied children first: the reverse of the load order. */
    for (int k = tg->p->ntables - 1; k >= 0 && rc == 0; k--) {
        int i = tg->order[k];
        if (tg->action[i] != PGB_TT_REPLACE)
            continue;
        pgb_buf sql = {0};
        pgb_buf_puts(&sql, "DELETE FROM ");
        pgb_buf_ident(&sql, tg->p->tables[i].name);
        char what[300];
        snprintf(what, sizeof what, "cannot delete the rows of %s (--replace-table)",
                 tg->p->tables[i].name);
        rc = sql.oom ? pgb_fail(PGBOOT_ENOMEM, "out of memory") : exec_ddl(c, ddl, sql.s, what);
        pgb_buf_free(&sql);
    }
    return rc;
}

/* The key of row s for the columns at positions pos (of table t), as the
 * target receives them; NULL when a column is NULL or not copied. */
static const char *row_key(pgb_target *tg, const pgb_plan_table *t, sqlite3_stmt *s, int first,
                           const int *pos, int n, pgb_buf *b)
{
    b->len = 0;
    for (int k = 0; k < n; k++) {
        const pgb_plan_col *col = pos[k] >= 0 ? copied_col(t, pos[k]) : NULL;
        if (!col)
            return NULL;
        sqlite3_value *v = sqlite3_column_value(s, first + pos[k]);
        if (sqlite3_value_type(v) == SQLITE_NULL)
            return NULL;
        if (k)
            pgb_buf_add(b, "\t", 1);
        pgb_copy_value(b, col, v);
    }
    (void)tg;
    pgb_buf_add(b, "", 1);
    return b->oom ? NULL : b->s;
}

static int refuse_row(void *payload, const pgb_plan_table *t, sqlite3_stmt *s, int first,
                      const char **col, const char **why)
{
    pgb_target *tg = payload;
    int ti = (int)(t - tg->p->tables);
    pgb_buf b = {0};
    int refused = 0;
    for (int i = 0; i < tg->nfks && !refused; i++) {
        pgb_tfk *f = &tg->fks[i];
        int rejected = f->rejected && f->rejected->n, missing = f->missing && f->missing->n;
        if (f->child != ti || (!rejected && !missing))
            continue;
        const char *key = row_key(tg, t, s, first, f->ckey, f->ncols, &b);
        if (!key)
            continue;
        rejected = rejected && keyset_has(f->rejected, key);
        if (!rejected && !(missing && keyset_has(f->missing, key)))
            continue;
        refused = 1;
        free(tg->why);
        tg->why = pgb_printf("the row of %s it references (foreign key %s) %s", f->parent_rel,
                             f->name, rejected ? "was rejected" : "is not there");
        *why = tg->why ? tg->why : "the row it references was rejected";
        *col = f->ccols[0];
    }
    pgb_buf_free(&b);
    return refused;
}

static void rejected_row(void *payload, const pgb_plan_table *t, sqlite3_stmt *s, int first)
{
    pgb_target *tg = payload;
    int ti = (int)(t - tg->p->tables);
    pgb_buf b = {0};
    for (int i = 0; i < tg->nfks; i++) {
        pgb_tfk *f = &tg->fks[i];
        if (f->parent != ti || f->child < 0 || tg->action[f->child] == PGB_TT_SKIP)
            continue;
        const char *key = row_key(tg, t, s, first, f->pkey, f->ncols, &b);
        /* Out of memory: the child row is not refused here, and its
         * foreign key stops the migration instead. */
        if (key)
            (void)keyset_add(&f->rejected, key);
    }
    pgb_buf_free(&b);
}

#define MISSING_BATCH 500

/* One batch of keys (COPY text, and the VALUES rows that ask for them):
 * those the parent table does not hold go into f->missing. */
static int ask_missing(PGconn *c, pgb_tfk *f, pgb_buf *values, char **keys, int n)
{
    if (n == 0)
        return 0;
    pgb_buf q = {0};
    pgb_buf_puts(&q, "SELECT v.i FROM (VALUES ");
    pgb_buf_add(&q, values->s, values->len);
    pgb_buf_puts(&q, ") v(i");
    for (int k = 0; k < f->ncols; k++)
        pgb_buf_printf(&q, ", k%d", k);
    pgb_buf_printf(&q, ") WHERE NOT EXISTS (SELECT 1 FROM %s p WHERE ", f->parent_rel);
    for (int k = 0; k < f->ncols; k++) {
        pgb_buf_puts(&q, k ? " AND p." : "p.");
        pgb_buf_ident(&q, f->pcols[k]);
        pgb_buf_printf(&q, " = v.k%d", k);
    }
    pgb_buf_puts(&q, ")");
    if (q.oom) {
        pgb_buf_free(&q);
        return pgb_fail(PGBOOT_ENOMEM, "out of memory");
    }
    PGresult *r = PQexec(c, q.s);
    pgb_buf_free(&q);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return fail_query(r, "cannot look up the rows a table's rows reference");
    int rc = 0;
    for (int k = 0; k < PQntuples(r) && rc == 0; k++) {
        int i = atoi(PQgetvalue(r, k, 0));
        if (i >= 0 && i < n && keyset_add(&f->missing, keys[i]) != 0)
            rc = pgb_fail(PGBOOT_ENOMEM, "out of memory");
    }
    PQclear(r);
    return rc;
}

/* Is foreign key f of table ti checked against rows that are there when
 * ti's rows go in (its parent kept, or loaded before ti)? */
static int parent_before(const pgb_target *tg, const pgb_tfk *f, int ti)
{
    if (f->child != ti || f->parent == ti || f->defer || f->bypass)
        return 0;
    if (f->parent < 0 || tg->action[f->parent] == PGB_TT_SKIP)
        return 1;
    for (int k = 0; k < tg->p->ntables; k++) {
        if (tg->order[k] == f->parent)
            return 1;
        if (tg->order[k] == ti)
            return 0;
    }
    return 0;
}

static int find_missing_fk(pgb_target *tg, PGconn *c, pgb_tfk *f, int ti)
{
    const pgb_plan_table *t = &tg->p->tables[ti];
    for (int k = 0; k < f->ncols; k++)
        if (f->ckey[k] < 0)
            return 0; /* a column not loaded: the target's default */
    int first;
    sqlite3_stmt *s;
    int err = pgb_plan_rows_stmt(tg->p, t, &s, &first);
    if (err)
        return err;
    char *keys[MISSING_BATCH];
    int n = 0, rc = 0;
    pgb_buf values = {0}, key = {0};
    pgb_keyset *batch = NULL; /* the batch's keys, each asked once */
    while (rc == 0 && sqlite3_step(s) == SQLITE_ROW) {
        int bad = 0; /* a key that cannot be stored: the row is rejected for it */
        for (int k = 0; k < f->ncols && !bad; k++) {
            const pgb_plan_col *col = copied_col(t, f->ckey[k]);
            const char *why = NULL;
            bad =
                col->n_bad && !pgb_cell_ok(col, sqlite3_column_value(s, first + f->ckey[k]), &why);
        }
        const char *kt = bad ? NULL : row_key(tg, t, s, first, f->ckey, f->ncols, &key);
        if (!kt || keyset_has(batch, kt))
            continue;
        pgb_buf_printf(&values, "%s(%d", n ? ", " : "", n);
        for (int k = 0; k < f->ncols; k++) {
            const pgb_plan_col *col = copied_col(t, f->ckey[k]);
            char *v = pgb_value_input_text(col, sqlite3_column_value(s, first + f->ckey[k]));
            pgb_buf_puts(&values, ", ");
            if (v)
                pgb_buf_literal(&values, v, strlen(v));
            else
                pgb_buf_puts(&values, "NULL");
            pgb_buf_printf(&values, "::%s", f->ptypes[k]);
            free(v);
        }
        pgb_buf_puts(&values, ")");
        if (keyset_add(&batch, kt) != 0 || !(keys[n++] = pgb_strdup(kt)) || values.oom) {
            rc = pgb_fail(PGBOOT_ENOMEM, "out of memory");
            break;
        }
        if (n == MISSING_BATCH) {
            rc = ask_missing(c, f, &values, keys, n);
            while (n > 0)
                free(keys[--n]);
            values.len = 0;
            keyset_free(batch);
            batch = NULL;
        }
    }
    if (rc == 0)
        rc = ask_missing(c, f, &values, keys, n);
    while (n > 0)
        free(keys[--n]);
    keyset_free(batch);
    pgb_buf_free(&values);
    pgb_buf_free(&key);
    sqlite3_finalize(s);
    return rc;
}

/* A key on a cycle, checked only at the end: its parent table may load
 * after ti, too late for rejected_row. The parent rows its load will reject
 * for their values (as pgb_load_table does: a cell pgb_cell_ok refuses)
 * are found now, in SQLite, so that the rows of ti that reference them are
 * rejected too. */
static int find_bad_parents(pgb_target *tg, pgb_tfk *f)
{
    const pgb_plan_table *t = &tg->p->tables[f->parent];
    int any = 0;
    for (int k = 0; k < f->ncols; k++)
        if (f->pkey[k] < 0)
            return 0;
    for (int j = 0; j < t->ncols; j++)
        any |= !t->cols[j].generated && t->cols[j].n_bad > 0;
    if (!any)
        return 0;
    int first;
    sqlite3_stmt *s;
    int err = pgb_plan_rows_stmt(tg->p, t, &s, &first);
    if (err)
        return err;
    int rc = 0;
    pgb_buf b = {0};
    while (rc == 0 && sqlite3_step(s) == SQLITE_ROW) {
        int bad = 0, k = first;
        for (int j = 0; j < t->ncols && !bad; j++) {
            const pgb_plan_col *col = &t->cols[j];
            if (col->generated)
                continue;
            const char *why = NULL;
            bad = col->n_bad && !pgb_cell_ok(col, sqlite3_column_value(s, k), &why);
            k++;
        }
        const char *key = bad ? row_key(tg, t, s, first, f->pkey, f->ncols, &b) : NULL;
        if (key && keyset_add(&f->rejected, key) != 0)
            rc = pgb_fail(PGBOOT_ENOMEM, "out of memory");
    }
    pgb_buf_free(&b);
    sqlite3_finalize(s);
    return rc;
}

/* One row of a table that references itself: its own key, the key of the
 * row it references (NULL: none), whether it goes in. */
typedef struct {
    char *own, *ref;
    int out;
} self_row;

static int cmp_own(const void *a, const void *b)
{
    const self_row *x = *(self_row *const *)a, *y = *(self_row *const *)b;
    return strcmp(x->own ? x->own : "", y->own ? y->own : "");
}

static int cmp_ref(const void *a, const void *b)
{
    const self_row *x = *(self_row *const *)a, *y = *(self_row *const *)b;
    return strcmp(x->ref ? x->ref : "", y->ref ? y->ref : "");
}

/* The first of the n rows sorted by field (own or ref) holding key, or n. */
static size_t first_with(self_row **v, size_t n, const char *key, int by_ref)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *m = by_ref ? v[mid]->ref : v[mid]->own;
        if (strcmp(m ? m : "", key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    const char *m = lo < n ? (by_ref ? v[lo]->ref : v[lo]->own) : NULL;
    return m && !strcmp(m, key) ? lo : n;
}

/* Is row s of table ti set aside for a reason other than foreign key self:
 * a value its column cannot hold, or a row another key of ti refuses? */
static int refused_elsewhere(pgb_target *tg, const pgb_tfk *self, const pgb_plan_table *t,
                             sqlite3_stmt *s, int first, pgb_buf *b)
{
    int k = first;
    for (int j = 0; j < t->ncols; j++) {
        const pgb_plan_col *col = &t->cols[j];
        if (col->generated)
            continue;
        const char *why = NULL;
        if (col->n_bad && !pgb_cell_ok(col, sqlite3_column_value(s, k), &why))
            return 1;
        k++;
    }
    for (int i = 0; i < tg->nfks; i++) {
        const pgb_tfk *g = &tg->fks[i];
        if (g == self || g->child != self->child || (!g->rejected && !g->missing))
            continue;
        const char *key = row_key(tg, t, s, first, g->ckey, g->ncols, b);
        if (key && (keyset_has(g->rejected, key) || keyset_has(g->missing, key)))
            return 1;
    }
    return 0;
}

/* A key of table ti on itself (a tree: employees and their bosses), under
 * reject. Rows go in in SQLite's order, where a row may come before the row
 * it references, so refuse_row cannot learn in time that its parent is
 * rejected. Found first, in SQLite: the rows set aside for their values or
 * by another key, then, from them, every row whose chain of parents leads
 * to one of them, and every row whose parent no row of the table is (the
 * table is empty in the target, or emptied); their keys go into f->rejected
 * and the keys no row holds into f->missing, so that refuse_row sets each
 * of them aside wherever it comes. */
static int find_self_rejects(pgb_target *tg, pgb_tfk *f, int ti)
{
    const pgb_plan_table *t = &tg->p->tables[ti];
    for (int k = 0; k < f->ncols; k++)
        if (f->pkey[k] < 0 || f->ckey[k] < 0)
            return 0; /* a column not loaded */
    int first;
    sqlite3_stmt *s;
    int rc = pgb_plan_rows_stmt(tg->p, t, &s, &first);
    if (rc)
        return rc;
    self_row *rows = NULL;
    size_t n = 0, cap = 0;
    pgb_buf b = {0};
    while (rc == 0 && sqlite3_step(s) == SQLITE_ROW) {
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 256;
            self_row *g = realloc(rows, nc * sizeof *g);
            if (!g) {
                rc = pgb_fail(PGBOOT_ENOMEM, "out of memory");
                break;
            }
            rows = g;
            cap = nc;
        }
        self_row *r = &rows[n++];
        *r = (self_row){NULL, NULL, refused_elsewhere(tg, f, t, s, first, &b)};
        const char *own = row_key(tg, t, s, first, f->pkey, f->ncols, &b);
        if (own && !(r->own = pgb_strdup(own)))
            rc = pgb_fail(PGBOOT_ENOMEM, "out of memory");
        const char *ref = rc ? NULL : row_key(tg, t, s, first, f->ckey, f->ncols, &b);
        if (ref && !(r->ref = pgb_strdup(ref)))
            rc = pgb_fail(PGBOOT_ENOMEM, "out of memory");
    }
    sqlite3_finalize(s);
    pgb_buf_free(&b);
    self_row **by_own = rc || !n ? NULL : malloc(n * sizeof *by_own);
    self_row **by_ref = by_own ? malloc(n * sizeof *by_ref) : NULL;
    size_t *todo = by_ref ? malloc(n * sizeof *todo) : NULL;
    if (rc == 0 && n && !todo)
        rc = pgb_fail(PGBOOT_ENOMEM, "out of memory");
    if (rc == 0 && n) {
        for (size_t i = 0; i < n; i++)
            by_own[i] = by_ref[i] = &rows[i];
        qsort(by_own, n, sizeof *by_own, cmp_own);
        qsort(by_ref, n, sizeof *by_ref, cmp_ref);
        /* the rows set aside, and those whose parent is not there */
        size_t nt = 0;
        for (size_t i = 0; i < n && rc == 0; i++) {
            self_row *r = by_ref[i];
            if (r->ref && first_with(by_own, n, r->ref, 0) == n) {
                r->out = 1;
                if (keyset_add(&f->missing, r->ref) != 0)
                    rc = pgb_fail(PGBOOT_ENOMEM, "out of memory");
            }
            if (r->out)
                todo[nt++] = (size_t)(r - rows);
        }
        /* and their children, grandchildren, ... */
        while (rc == 0 && nt > 0) {
            self_row *r = &rows[todo[--nt]];
            if (!r->own)
                continue;
            if (keyset_add(&f->rejected, r->own) != 0) {
                rc = pgb_fail(PGBOOT_ENOMEM, "out of memory");
                break;
            }
            for (size_t i = first_with(by_ref, n, r->own, 1);
                 i < n && by_ref[i]->ref && !strcmp(by_ref[i]->ref, r->own); i++)
                if (!by_ref[i]->out) {
                    by_ref[i]->out = 1;
                    todo[nt++] = (size_t)(by_ref[i] - rows);
                }
        }
    }
    for (size_t i = 0; i < n; i++) {
        free(rows[i].own);
        free(rows[i].ref);
    }
    free(rows);
    free(by_own);
    free(by_ref);
    free(todo);
    return rc;
}

int pgb_target_find_missing(pgb_target *tg, PGconn *c, int ti)
{
    int rc = 0;
    for (int i = 0; i < tg->nfks && rc == 0; i++) {
        pgb_tfk *f = &tg->fks[i];
        if (parent_before(tg, f, ti))
            rc = find_missing_fk(tg, c, f, ti);
        else if (f->child == ti && f->parent >= 0 && f->parent != ti && (f->defer || f->bypass) &&
                 tg->action[f->parent] != PGB_TT_SKIP)
            rc = find_bad_parents(tg, f);
    }
    /* after the other keys: a row they refuse is set aside with its children */
    for (int i = 0; i < tg->nfks && rc == 0; i++) {
        pgb_tfk *f = &tg->fks[i];
        if (f->child == ti && f->parent == ti && !f->defer && !f->bypass)
            rc = find_self_rejects(tg, f, ti);
    }
    return rc;
}

void pgb_target_hooks(pgb_target *tg, pgb_load *L)
{
    L->refuse_row = refuse_row;
    L->rejected_row = rejected_row;
    L->rows_payload = tg;
}

/* Every foreign key of the loaded tables: rows that reference no row are
 * an error naming the key and a few of them. */
static int validate(pgb_target *tg, PGconn *c)
{
    for (int i = 0; i < tg->nfks; i++) {
        pgb_tfk *f = &tg->fks[i];
        int loaded = (f->child >= 0 && tg->action[f->child] != PGB_TT_SKIP) ||
                     (f->parent >= 0 && tg->action[f->parent] != PGB_TT_SKIP);
        if (!loaded || f->ncols == 0)
            continue;
        pgb_buf q = {0}, vals = {0}, nn = {0}, match = {0}, names = {0};
        for (int k = 0; k < f->ncols; k++) {
            pgb_buf_printf(&names, "%s%s", k ? ", " : "", f->ccols[k]);
            pgb_buf_puts(&vals, k ? ", c." : "c.");
            pgb_buf_ident(&vals, f->ccols[k]);
            pgb_buf_puts(&nn, k ? " AND c." : "c.");
            pgb_buf_ident(&nn, f->ccols[k]);
            pgb_buf_puts(&nn, " IS NOT NULL");
            pgb_buf_puts(&match, k ? " AND p." : "p.");
            pgb_buf_ident(&match, f->pcols[k]);
            pgb_buf_puts(&match, " = c.");
            pgb_buf_ident(&match, f->ccols[k]);
        }
        pgb_buf_printf(&q,
                       "SELECT count(*) OVER (), ROW(%s, NULL)::text FROM %s c WHERE (%s AND NOT "
                       "EXISTS (SELECT 1 FROM %s p WHERE %s))",
                       vals.s, f->child_rel, nn.s, f->parent_rel, match.s);
        if (f->match_full && f->ncols > 1)
            pgb_buf_printf(&q, " OR num_nulls(%s) BETWEEN 1 AND %d", vals.s, f->ncols - 1);
        pgb_buf_puts(&q, " LIMIT 5");
        int oom = q.oom || vals.oom || nn.oom || match.oom || names.oom;
        pgb_buf_free(&vals);
        pgb_buf_free(&nn);
        pgb_buf_free(&match);
        if (oom) {
            pgb_buf_free(&names);
            pgb_buf_free(&q);
            return pgb_fail(PGBOOT_ENOMEM, "out of memory");
        }
        PGresult *r = PQexec(c, q.s);
        pgb_buf_free(&q);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            pgb_buf_free(&names);
            return fail_query(r, "cannot validate a foreign key");
        }
        if (PQntuples(r) == 0) {
            pgb_buf_free(&names);
            PQclear(r);
            continue;
        }
        pgb_buf ex = {0};
        for (int k = 0; k < PQntuples(r); k++) {
            /* "(v1,v2,)": the row's text without the NULL added to make
             * a one-column row a row */
            const char *t = PQgetvalue(r, k, 1);
            size_t len = strlen(t);
            pgb_buf_printf(&ex, "%s(%.*s)", k ? ", " : "", len > 3 ? (int)(len - 3) : 0, t + 1);
        }
        int rc = pgb_fail(PGBOOT_EINVALID,
                          "foreign key %s: rows of %s (%s) reference no row of %s: (%s) = %s; "
                          "nothing was written",
                          f->name, f->child_rel, PQgetvalue(r, 0, 0), f->parent_rel,
                          names.s ? names.s : "", ex.s ? ex.s : "");
        pgb_buf_free(&names);
        if (f->rejected && f->rejected->n)
            /* a key on a cycle is checked at the end: its rows went in
             * before their parent rows were rejected */
            pgb_hint("rows of %s were rejected (--on-error reject), and rows on a cycle of "
                     "foreign keys that reference them cannot be set aside: fix the rejected "
                     "rows in a copy of the file (rejects/%s.jsonl says why)",
                     f->parent_rel, f->parent >= 0 ? tg->p->tables[f->parent].name : "<table>");
        else
            pgb_hint("the SQLite database holds these rows without the rows they reference; "
                     "fix them in a copy of the file, or leave out the table (--skip-table)");
        pgb_buf_free(&ex);
        PQclear(r);
        return rc;
    }
    return 0;
}

/* ---- sequences --------------------------------------------------------------------------- */

/* Every sequence owned by (serial, identity) or used in the default of an
 * integer column: the sequence, the column's table and name, and the
 * table's name when it is in the target schema. */
static const char SEQ_COLUMNS_SQL[] =
    "WITH d AS ("
    " SELECT d.objid AS seq, d.refobjid AS rel, d.refobjsubid AS att FROM pg_depend d"
    " WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass"
    " AND d.deptype IN ('a', 'i') AND d.refobjsubid > 0"
    " UNION"
    " SELECT d.refobjid, ad.adrelid, ad.adnum FROM pg_attrdef ad JOIN pg_depend d"
    " ON d.classid = 'pg_attrdef'::regclass AND d.objid = ad.oid"
    " AND d.refclassid = 'pg_class'::regclass) "
    "SELECT d.seq::regclass::text, d.rel::regclass::text, a.attname,"
    " CASE WHEN r.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())"
    " THEN r.relname END "
    "FROM d JOIN pg_class s ON s.oid = d.seq AND s.relkind = 'S'"
    " JOIN pg_sequence sq ON sq.seqrelid = d.seq AND sq.seqincrement > 0"
    " JOIN pg_class r ON r.oid = d.rel AND r.relkind IN ('r', 'p')"
    " JOIN pg_attribute a ON a.attrelid = d.rel AND a.attnum = d.att AND NOT a.attisdropped "
    "WHERE a.atttypid IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype) "
    "ORDER BY 1, 2, 3";

/* Was column `name` of target table `rel` (NULL: not in the target schema)
 * loaded? *seq: the SQLite table's sqlite_sequence when it is the table's
 * INTEGER PRIMARY KEY. */
static int loaded_col(const pgb_target *tg, const char *rel, const char *name, int64_t *seq)
{
    int i = rel ? plan_index(tg->p, rel) : -1;
    if (i < 0 || tg->action[i] == PGB_TT_SKIP)
        return 0;
    const pgb_plan_table *t = &tg->p->tables[i];
    for (int k = 0; k < t->ncols; k++) {
        if (t->cols[k].generated || strcmp(t->cols[k].name, name) != 0)
            continue;
        if (t->src->has_seq && t->cols[k].src == t->src->rowid_col && t->src->seq > *seq)
            *seq = t->src->seq;
        return 1;
    }
    return 0;
}

/* setval for one sequence: past the largest value of every column it
 * serves (and sqlite_sequence's), never back. */
static int set_sequence(PGconn *c, pgb_buf *ddl, json_t *list, const char *seq,
                        const pgb_buf *maxes, int64_t sqlite_seq)
{
    pgb_buf sql = {0};
    pgb_buf_puts(&sql, "SELECT setval(");
    pgb_buf_literal(&sql, seq, strlen(seq));
    pgb_buf_printf(&sql,
                   ", m) FROM (SELECT GREATEST(%s, %lld) AS m) x, %s s WHERE m > 0 AND (NOT "
                   "s.is_called OR s.last_value < m)",
                   maxes->s, (long long)sqlite_seq, seq);
    if (sql.oom) {
        pgb_buf_free(&sql);
        return pgb_fail(PGBOOT_ENOMEM, "out of memory");
    }
    pgb_ddl_add(ddl, sql.s);
    PGresult *r = PQexec(c, sql.s);
    pgb_buf_free(&sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        char what[400];
        snprintf(what, sizeof what, "cannot set sequence %s past the loaded values", seq);
        return fail_query(r, what);
    }
    PQclear(r);
    char *read = pgb_printf("SELECT last_value, is_called FROM %s", seq);
    r = read ? PQexec(c, read) : NULL;
    free(read);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return fail_query(r, "cannot read a sequence");
    json_array_append_new(list, json_pack("{s:s, s:I, s:b}", "sequence", seq, "last_value",
                                          (json_int_t)strtoll(PQgetvalue(r, 0, 0), NULL, 10),
                                          "is_called", !strcmp(PQgetvalue(r, 0, 1), "t")));
    PQclear(r);
    return 0;
}

static int set_sequences(pgb_target *tg, PGconn *c, pgb_buf *ddl, pgb_report *rep)
{
    PGresult *r = PQexec(c, SEQ_COLUMNS_SQL);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return fail_query(r, "cannot read the target's sequences");
    json_t *list = json_array();
    int rc = 0, n = PQntuples(r);
    for (int i = 0; i < n && rc == 0;) {
        /* the rows of one sequence */
        int end = i;
        while (end < n && !strcmp(PQgetvalue(r, end, 0), PQgetvalue(r, i, 0)))
            end++;
        int64_t sqlite_seq = 0;
        int any = 0;
        pgb_buf maxes = {0};
        for (int k = i; k < end; k++) {
            const char *rel = PQgetisnull(r, k, 3) ? NULL : PQgetvalue(r, k, 3);
            any |= loaded_col(tg, rel, PQgetvalue(r, k, 2), &sqlite_seq);
            pgb_buf_printf(&maxes, "%s(SELECT max(", k > i ? ", " : "");
            pgb_buf_ident(&maxes, PQgetvalue(r, k, 2));
            pgb_buf_printf(&maxes, ") FROM %s)", PQgetvalue(r, k, 1));
        }
        if (maxes.oom)
            rc = pgb_fail(PGBOOT_ENOMEM, "out of memory");
        else if (any)
            rc = set_sequence(c, ddl, list, PQgetvalue(r, i, 0), &maxes, sqlite_seq);
        pgb_buf_free(&maxes);
        i = end;
    }
    PQclear(r);
    json_object_set_new(rep->root, "sequences", list);
    return rc;
}

int pgb_target_after_load(pgb_target *tg, PGconn *c, pgb_buf *ddl, pgb_report *rep)
{
    int rc = 0, broken = tg->bypass;
    for (int i = 0; i < tg->nfks; i++)
        broken |= tg->fks[i].defer;
    /* A cycle was broken: every key checked by a query first (a clear
     * error naming the rows), then the deferred keys checked now (before
     * ALTER TABLE, which pending checks would stop), then the keys as they
     * were. */
    if (broken)
        rc = validate(tg, c);
    if (rc == 0)
        rc = set_deferred(tg, c, ddl, 0);
    if (rc == 0)
        rc = alter_deferrable(tg, c, ddl, 0);
    if (rc == 0 && tg->bypass)
        rc = switch_triggers(tg, c, ddl, 1);
    if (rc == 0)
        rc = set_sequences(tg, c, ddl, rep);
    return rc;
}

void pgb_target_free(pgb_target *tg)
{
    for (int i = 0; i < tg->nfks; i++) {
        pgb_tfk *f = &tg->fks[i];
        free(f->qname);
        free(f->name);
        free(f->child_rel);
        free(f->parent_rel);
        free_names(f->ccols, f->ncols);
        free_names(f->pcols, f->ncols);
        free_names(f->ptypes, f->ncols);
        keyset_free(f->missing);
        free(f->ckey);
        free(f->pkey);
        keyset_free(f->rejected);
    }
    free(tg->fks);
    free(tg->action);
    free(tg->held);
    free(tg->order);
    free(tg->skipped);
    free(tg->why);
    memset(tg, 0, sizeof *tg);
}
