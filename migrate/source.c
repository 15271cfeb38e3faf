/* The SQLite source of a migration: opened read-only, read inside one read
 * transaction (a consistent snapshot even while the app writes in WAL mode),
 * never written. Its schema comes from sqlite_schema and the PRAGMAs, plus the
 * CREATE TABLE text for what the PRAGMAs do not tell: CHECK constraints,
 * generated column expressions, collations, AUTOINCREMENT and the
 * deferrability of foreign keys. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <pthread.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "porter.h"
#include "source.h"
#include "tokens.h"

int pgb_src_fail(pgb_src_db *db, int code, const char *what)
{
    int ec = db->db ? sqlite3_extended_errcode(db->db) : SQLITE_ERROR;
    const char *msg = db->db ? sqlite3_errmsg(db->db) : "cannot open";
    int rc = pgb_fail(code, "%s: %s: %s", db->path, what, msg);
    switch (ec & 0xff) {
    case SQLITE_NOTADB:
        pgb_hint("the file is not an SQLite database, or it is encrypted; nothing was written");
        break;
    case SQLITE_CORRUPT:
        pgb_hint("the database is damaged; repair a copy with sqlite3's .recover, then migrate "
                 "the copy; nothing was written");
        break;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        pgb_hint("another program holds a lock on it; close it and try again; nothing was "
                 "written");
        break;
    case SQLITE_READONLY:
        pgb_hint("it has a journal left by a program that stopped in the middle of a write; "
                 "open it once with sqlite3 (or the app) to roll that back, then migrate; "
                 "nothing was written");
        break;
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
        pgb_hint("check that the file exists and is readable; nothing was written");
        break;
    default:
        break;
    }
    return rc;
}

/* SQLite's progress handler on the check's connection: the gate, every
 * few thousand steps of the check (under a millisecond); non-zero
 * interrupts the check. */
static int check_progress(void *arg)
{
    return pgb_gate_pass(arg) != 0;
}

/* The check's reads pass the gate too: SQLite (3.40) reads every page of
 * the file in one step of the check's program, where it never calls the
 * progress handler. A VFS of ours, used by the check's connection only,
 * is the default one with a gate before each read (the gate of the thread
 * that reads: quick_check sets it). Once cancelled, a read fails and the
 * check ends. */
static __thread pgb_gate *reads_gate;
static sqlite3_vfs *gated_base; /* the default VFS */
static sqlite3_vfs gated_vfs;
static int gated_registered;
static pthread_once_t gated_once = PTHREAD_ONCE_INIT;

typedef struct {
    sqlite3_file base;
    sqlite3_file *real; /* the default VFS's file, right after this struct */
} gated_file;

#define REAL(f) (((gated_file *)(f))->real)

static int gated_close(sqlite3_file *f)
{
    return REAL(f)->pMethods->xClose(REAL(f));
}
static int gated_read(sqlite3_file *f, void *buf, int n, sqlite3_int64 off)
{
    if (pgb_gate_pass(reads_gate) != 0)
        return SQLITE_IOERR_READ;
    return REAL(f)->pMethods->xRead(REAL(f), buf, n, off);
}
static int gated_write(sqlite3_file *f, const void *buf, int n, sqlite3_int64 off)
{
    return REAL(f)->pMethods->xWrite(REAL(f), buf, n, off);
}
static int gated_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    return REAL(f)->pMethods->xTruncate(REAL(f), size);
}
static int gated_sync(sqlite3_file *f, int flags)
{
    return REAL(f)->pMethods->xSync(REAL(f), flags);
}
static int gated_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
    return REAL(f)->pMethods->xFileSize(REAL(f), size);
}
static int gated_lock(sqlite3_file *f, int lock)
{
    return REAL(f)->pMethods->xLock(REAL(f), lock);
}
static int gated_unlock(sqlite3_file *f, int lock)
{
    return REAL(f)->pMethods->xUnlock(REAL(f), lock);
}
static int gated_check_reserved(sqlite3_file *f, int *out)
{
    return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}
static int gated_file_control(sqlite3_file *f, int op, void *arg)
{
    return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}
static int gated_sector_size(sqlite3_file *f)
{
    return REAL(f)->pMethods->xSectorSize(REAL(f));
}
static int gated_device(sqlite3_file *f)
{
    return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}
static int gated_shm_map(sqlite3_file *f, int pg, int pgsz, int extend, void volatile **pp)
{
    return REAL(f)->pMethods->xShmMap(REAL(f), pg, pgsz, extend, pp);
}
static int gated_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
    return REAL(f)->pMethods->xShmLock(REAL(f), offset, n, flags);
}
static void gated_shm_barrier(sqlite3_file *f)
{
    REAL(f)->pMethods->xShmBarrier(REAL(f));
}
static int gated_shm_unmap(sqlite3_file *f, int del)
{
    return REAL(f)->pMethods->xShmUnmap(REAL(f), del);
}
static int gated_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **pp)
{
    if (pgb_gate_pass(reads_gate) != 0)
        return SQLITE_IOERR_READ;
    return REAL(f)->pMethods->xFetch(REAL(f), off, n, pp);
}
static int gated_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
    return REAL(f)->pMethods->xUnfetch(REAL(f), off, p);
}

/* One per version of the default VFS's files: SQLite calls only the
 * methods of the version a file states. */
#define GATED_IO(v)                                                                                \
    {                                                                                              \
        v, gated_close, gated_read, gated_write, gated_truncate, gated_sync, gated_file_size,      \
            gated_lock, gated_unlock, gated_check_reserved, gated_file_control, gated_sector_size, \
            gated_device, gated_shm_map, gated_shm_lock, gated_shm_barrier, gated_shm_unmap,       \
            gated_fetch, gated_unfetch                                                             \
    }
static const sqlite3_io_methods gated_io[3] = {GATED_IO(1), GATED_IO(2), GATED_IO(3)};

static int gated_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out)
{
    (void)vfs;
    gated_file *g = (gated_file *)f;
    g->real = (sqlite3_file *)(g + 1);
    g->real->pMethods = NULL;
    int rc = gated_base->xOpen(gated_base, name, g->real, flags, out);
    const sqlite3_io_methods *m = g->real->pMethods;
    /* set, xClose is called even when the open failed */
    g->base.pMethods = !m ? NULL
                          : &gated_io[m->iVersion < 1   ? 0
                                      : m->iVersion > 3 ? 2
                                                        : m->iVersion - 1];
    return rc;
}

static void gated_register(void)
{
    gated_base = sqlite3_vfs_find(NULL);
    if (!gated_base)
        return;
    gated_vfs = *gated_base; /* the same methods, the same pAppData */
    gated_vfs.pNext = NULL;
    gated_vfs.zName = "pgboot-gated";
    gated_vfs.szOsFile = (int)sizeof(gated_file) + gated_base->szOsFile;
    gated_vfs.xOpen = gated_open;
    gated_registered = sqlite3_vfs_register(&gated_vfs, 0) == SQLITE_OK;
}

/* The VFS whose reads pass the gate, or NULL (SQLite's default). */
static const char *gated_vfs_name(void)
{
    pthread_once(&gated_once, gated_register);
    return gated_registered ? gated_vfs.zName : NULL;
}

static void *quick_check(void *arg)
{
    pgb_src_db *db = arg;
    /* Joined only before commit: it must not take a core from the scan,
     * which every later step waits for, nor (the gate: spare CPU only)
     * from the server. */
    pgb_thread_background();
    pthread_setname_np(pthread_self(), "pgb-quick-check"); /* in top -H, ps -L */
    sqlite3 *c = NULL;
    sqlite3_stmt *s = NULL;
    reads_gate = db->gate;
    int ok = sqlite3_open_v2(db->path, &c, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
                             db->gate ? gated_vfs_name() : NULL) == SQLITE_OK &&
             sqlite3_busy_timeout(c, 5000) == SQLITE_OK;
    if (ok)
        sqlite3_progress_handler(c, 1000, check_progress, db->gate);
    if (!ok || sqlite3_prepare_v2(c, "PRAGMA quick_check(5)", -1, &s, NULL) != SQLITE_OK) {
        db->check_failed = 1;
        snprintf(db->check_msg, sizeof db->check_msg, "%s", c ? sqlite3_errmsg(c) : "cannot open");
    } else {
        int r;
        while ((r = sqlite3_step(s)) == SQLITE_ROW) {
            const char *m = (const char *)sqlite3_column_text(s, 0);
            if (m && strcmp(m, "ok") != 0 && !db->check_failed) {
                db->check_failed = 1;
                snprintf(db->check_msg, sizeof db->check_msg, "%s", m);
            }
        }
        if (r != SQLITE_DONE && !db->check_failed) {
            db->check_failed = 1;
            snprintf(db->check_msg, sizeof db->check_msg, "%s", sqlite3_errmsg(c));
        }
    }
    sqlite3_finalize(s);
    sqlite3_close_v2(c);
    return NULL;
}

int pgb_src_check(pgb_src_db *db)
{
    if (!db->check_started)
        return 0;
    pthread_join(db->check_thread, NULL);
    db->check_started = 0;
    if (!db->check_failed)
        return 0;
    int rc = pgb_fail(PGBOOT_EINVALID, "%s is damaged: SQLite's integrity check says: %s", db->path,
                      db->check_msg);
    pgb_hint("repair a copy with sqlite3's .recover and migrate the copy; nothing was written");
    return rc;
}

int pgb_src_open(pgb_src_db *db, const char *path, pgb_gate *gate)
{
    memset(db, 0, sizeof *db);
    db->gate = gate;
    db->path = pgb_strdup(path);
    if (!db->path)
        return pgb_fail(PGBOOT_ENOMEM, "out of memory");
    struct stat st;
    if (stat(path, &st) != 0) {
        int rc = pgb_fail(PGBOOT_ENOTFOUND, "SQLite database %s does not exist", path);
        pgb_hint("pass the app's database with --sqlite PATH");
        return rc;
    }
    if (!S_ISREG(st.st_mode))
        return pgb_fail(PGBOOT_EINVALID, "%s is not a regular file", path);
    if (st.st_size == 0) {
        int rc = pgb_fail(PGBOOT_EINVALID, "%s is empty: there is nothing to migrate", path);
        pgb_hint("nothing was written; pass --no-migrate, or remove the empty file");
        return rc;
    }
    /* Read-only, no mutex games: this connection belongs to one thread. */
    if (sqlite3_open_v2(path, &db->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK)
        return pgb_src_fail(db, PGBOOT_EINVALID, "cannot open");
    sqlite3_busy_timeout(db->db, 5000);
    sqlite3_extended_result_codes(db->db, 1);
    /* Defensive: no writes through any path, no surprises from the file. */
    sqlite3_db_config(db->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
    char *err = NULL;
    if (sqlite3_exec(db->db, "PRAGMA query_only = 1; BEGIN; SELECT count(*) FROM sqlite_schema;",
                     NULL, NULL, &err) != SQLITE_OK) {
        sqlite3_free(err);
        return pgb_src_fail(db, PGBOOT_EINVALID, "cannot read");
    }
    if (pthread_create(&db->check_thread, NULL, quick_check, db) == 0)
        db->check_started = 1;
    return 0;
}

static void free_table(pgb_src_table *t)
{
    for (int i = 0; i < t->ncols; i++) {
        free(t->cols[i].name);
        free(t->cols[i].decl);
        free(t->cols[i].dflt);
        free(t->cols[i].gen_expr);
        free(t->cols[i].collate);
    }
    free(t->cols);
    for (int i = 0; i < t->nchecks; i++)
        free(t->checks[i]);
    free(t->checks);
    for (int i = 0; i < t->nfks; i++) {
        for (int j = 0; j < t->fks[i].n; j++) {
            free(t->fks[i].from[j]);
            free(t->fks[i].to[j]);
        }
        free(t->fks[i].from);
        free(t->fks[i].to);
        free(t->fks[i].table);
        free(t->fks[i].on_update);
        free(t->fks[i].on_delete);
    }
    free(t->fks);
    for (int i = 0; i < t->nidx; i++) {
        free(t->idx[i].name);
        free(t->idx[i].sql);
        for (int j = 0; j < t->idx[i].ncols; j++) {
            free(t->idx[i].cols[j]);
            free(t->idx[i].colls ? t->idx[i].colls[j] : NULL);
        }
        free(t->idx[i].cols);
        free(t->idx[i].colls);
    }
    free(t->idx);
    for (int i = 0; i < t->nnotes; i++)
        free(t->notes[i].name);
    free(t->notes);
    free(t->name);
    free(t->sql);
}

void pgb_src_close(pgb_src_db *db)
{
    if (db->check_started)
        pthread_join(db->check_thread, NULL);
    if (db->db) {
        sqlite3_exec(db->db, "COMMIT", NULL, NULL, NULL);
        sqlite3_close_v2(db->db);
    }
    for (int i = 0; i < db->ntables; i++)
        free_table(&db->tables[i]);
    free(db->tables);
    for (int i = 0; i < db->nothers; i++) {
        free(db->others[i].name);
        free(db->others[i].table);
        free(db->others[i].sql);
        for (int k = 0; k < db->others[i].nfts_cols; k++)
            free(db->others[i].fts_cols[k]);
        free(db->others[i].fts_cols);
        free(db->others[i].fts_unindexed);
        free(db->others[i].fts_content);
        free(db->others[i].fts_config);
        free(db->others[i].fts_langid);
        free(db->others[i].fts_uncompress);
        for (int k = 0; k < db->others[i].nfts_notes; k++)
            free(db->others[i].fts_notes[k].name);
        free(db->others[i].fts_notes);
    }
    free(db->others);
    for (int i = 0; i < db->nskipped; i++)
        free(db->skipped[i]);
    free(db->skipped);
    free(db->path);
    memset(db, 0, sizeof *db);
}

static int grow(void **arr, int n, size_t size)
{
    /* Arrays grow by one; schemas are small. */
    void *na = realloc(*arr, (size_t)(n + 1) * size);
    if (!na)
        return pgb_fail(PGBOOT_ENOMEM, "out of memory");
    *arr = na;
    memset((char *)na + (size_t)n * size, 0, size);
    return 0;
}

static char *col_text(sqlite3_stmt *s, int i)
{
    const unsigned char *t = sqlite3_column_text(s, i);
    return t ? pgb_strdup((const char *)t) : NULL;
}

static int add_skipped(pgb_src_db *db, const char *name, const char *reason)
{
    if (grow((void **)&db->skipped, db->nskipped, sizeof(char *)))
        return PGBOOT_ENOMEM;
    db->skipped[db->nskipped] = pgb_printf("%s: %s", name, reason);
    if (!db->skipped[db->nskipped])
        return pgb_fail(PGBOOT_ENOMEM, "out of memory");
    db->nskipped++;
    return 0;
}

/* ---- CREATE TABLE text ------------------------------------------------------- */

static char *tok_span(const pgb_toks *t, size_t from, size_t to)
{
    if (from >= to)
        return pgb_strdup("");
    const char *a = t->t[from].start;
    const char *b = t->t[to - 1].start + t->t[to - 1].len;
    return pgb_printf("%.*s", (int)(b - a), a);
}

static pgb_src_col *find_col(pgb_src_table *tb, const char *name)
{
    for (int i = 0; i < tb->ncols; i++)
        if (!strcasecmp(tb->cols[i].name, name))
            return &tb->cols[i];
    return NULL;
}

static int is_constraint_word(const pgb_toks *t, size_t i)
{
    static const char *const words[] = {"CONSTRAINT", "PRIMARY",   "NOT",     "NULL",
                                        "UNIQUE",     "CHECK",     "DEFAULT", "COLLATE",
                                        "REFERENCES", "GENERATED", "AS",      NULL};
    for (int k = 0; words[k]; k++)
        if (pgb_tok_is(t, i, words[k]))
            return 1;
    return 0;
}

static int add_check(pgb_src_table *tb, char *text)
{
    if (!text || grow((void **)&tb->checks, tb->nchecks, sizeof(char *))) {
        free(text);
        return pgb_fail(PGBOOT_ENOMEM, "out of memory");
    }
    tb->checks[tb->nchecks++] = text;
    return 0;
}

/* Does the DEFERRABLE at token i defer its foreign key in SQLite? Only
 * DEFERRABLE INITIALLY DEFERRED does: SQLite's parser takes NOT DEFERRABLE
 * as immediate whatever INITIALLY follows, and DEFERRABLE alone or
 * DEFERRABLE INITIALLY IMMEDIATE as immediate too. */
static int defers(const pgb_toks *t, size_t i)
{
    return pgb_tok_is(t, i, "DEFERRABLE") && !(i > 0 && pgb_tok_is(t, i - 1, "NOT")) &&
           pgb_tok_is(t, i + 1, "INITIALLY") && pgb_tok_is(t, i + 2, "DEFERRED");
}

/* Mark the foreign key on (table, first column) as deferrable, if the clause
 * [from, to) says DEFERRABLE INITIALLY DEFERRED (not NOT DEFERRABLE ...). */
static void note_deferrable(pgb_src_table *tb, const pgb_toks *t, size_t from, size_t to,
                            const char *ref_table, const char *first_col)
{
    int deferred = 0;
    for (size_t i = from; i + 2 < to; i++)
        if (defers(t, i))
            deferred = 1;
    if (!deferred)
        return;
    for (int k = 0; k < tb->nfks; k++)
        if (!strcasecmp(tb->fks[k].table, ref_table) && tb->fks[k].n > 0 &&
            !strcasecmp(tb->fks[k].from[0], first_col))
            tb->fks[k].deferrable = 1;
}

static const char *tok_name(const pgb_toks *t, size_t i)
{
    if (i >= t->n ||
        (t->t[i].kind != TK_IDENT && t->t[i].kind != TK_QIDENT && t->t[i].kind != TK_STRING))
        return NULL;
    return t->t[i].text;
}

static int add_note(pgb_src_table *tb, char *name, const char *reason)
{
    if (!name || grow((void **)&tb->notes, tb->nnotes, sizeof(pgb_src_note))) {
        free(name);
        return pgb_fail(PGBOOT_ENOMEM, "out of memory");
    }
    tb->notes[tb->nnotes++] = (pgb_src_note){name, reason};
    return 0;
}

static const char *conflict_reason(const char *res, int check)
{
    if (check)
        return "SQLite itself ignores a conflict clause on a CHECK constraint: the CHECK is "
               "kept";
    if (!strcasecmp(res, "REPLACE"))
        return "PostgreSQL has no conflict resolution per constraint: the constraint is kept, "
               "and a row that breaks it is refused where SQLite replaced the old row (or, for "
               "NOT NULL, used the default); INSERT ... ON CONFLICT ... DO UPDATE does it in "
               "PostgreSQL";
    if (!strcasecmp(res, "IGNORE"))
        return "PostgreSQL has no conflict resolution per constraint: the constraint is kept, "
               "and a row that breaks it is refused where SQLite skipped it silently; INSERT "
               "... ON CONFLICT DO NOTHING does it in PostgreSQL";
    if (!strcasecmp(res, "FAIL"))
        return "PostgreSQL has no conflict resolution per constraint: the constraint is kept, "
               "and the statement that breaks it is undone entirely, where SQLite kept the "
               "rows it had already changed";
    if (!strcasecmp(res, "ROLLBACK"))
        return "PostgreSQL has no conflict resolution per constraint: the constraint is kept; "
               "the statement that breaks it fails and its transaction can only roll back, as "
               "in SQLite";
    return "SQLite's default (ABORT): the constraint is kept and PostgreSQL does the same, the "
           "statement that breaks it fails";
}

/* The clauses of a column definition or table constraint (tokens [a, b);
 * col: the column, or NULL) that PostgreSQL does not carry: into tb->notes. */
static int note_clauses(pgb_src_table *tb, const pgb_toks *t, size_t a, size_t b, const char *col)
{
    size_t cur = a; /* where the current constraint begins */
    int rc = 0;
    char *where = col ? pgb_printf("%s.%s", tb->name, col) : pgb_strdup(tb->name);
    if (!where)
        return pgb_fail(PGBOOT_ENOMEM, "out of memory");
    for (size_t j = a; j < b && rc == 0; j++) {
        if (t->t[j].kind == TK_OP && t->t[j].start[0] == '(') {
            size_t close = pgb_tok_close(t, j);
            /* PRIMARY KEY (a DESC, b): the order of a key's column */
            int desc = 0, key = pgb_tok_is(t, cur, "PRIMARY") || pgb_tok_is(t, cur, "UNIQUE");
            for (size_t k = j + 1; !col && key && k < close && k < b && rc == 0; k++) {
                desc |= pgb_tok_is(t, k, "DESC");
                if (pgb_tok_is(t, k, "COLLATE") && tok_name(t, k + 1) &&
                    strcasecmp(tok_name(t, k + 1), "BINARY") != 0 &&
                    strcasecmp(tok_name(t, k + 1), "NOCASE") != 0)
                    rc = add_note(tb,
                                  pgb_printf("%s: COLLATE %s in a key", where, tok_name(t, k + 1)),
                                  "no PostgreSQL collation compares as it does: the key "
                                  "compares the column's bytes (BINARY)");
            }
            if (rc == 0 && desc && key) {
                char *span = tok_span(t, cur, close + 1);
                rc = add_note(tb, pgb_printf("%s: %s", where, span ? span : "?"),
                              "the descending order of a key column is not kept: PostgreSQL's "
                              "key index is ascending (what the key accepts is the same)");
                free(span);
            }
            j = close;
            continue;
        }
        if (pgb_tok_is(t, j, "PRIMARY") || pgb_tok_is(t, j, "UNIQUE") ||
            pgb_tok_is(t, j, "CHECK") || pgb_tok_is(t, j, "REFERENCES") ||
            pgb_tok_is(t, j, "FOREIGN") || pgb_tok_is(t, j, "DEFAULT") ||
            pgb_tok_is(t, j, "COLLATE") || pgb_tok_is(t, j, "GENERATED") ||
            (pgb_tok_is(t, j, "NOT") && pgb_tok_is(t, j + 1, "NULL")))
            cur = j;
        if (pgb_tok_is(t, j, "CONSTRAINT") && tok_name(t, j + 1)) {
            rc = add_note(tb, pgb_printf("%s: CONSTRAINT %s", where, tok_name(t, j + 1)),
                          "constraint names are not kept: PostgreSQL names the constraint "
                          "itself (the constraint is carried)");
            j++;
        } else if (pgb_tok_is(t, j, "ON") && pgb_tok_is(t, j + 1, "CONFLICT") && j + 2 < b &&
                   t->t[j + 2].text) {
            char *span = tok_span(t, cur, j);
            rc = add_note(
                tb, pgb_printf("%s: %s ON CONFLICT %s", where, span ? span : "?", t->t[j + 2].text),
                conflict_reason(t->t[j + 2].text, pgb_tok_is(t, cur, "CHECK")));
            free(span);
            j += 2;
        } else if (col && pgb_tok_is(t, j, "DESC") && pgb_tok_is(t, cur, "PRIMARY")) {
            rc = add_note(tb, pgb_printf("%s: PRIMARY KEY DESC", where),
                          "the key's descending order is not kept: PostgreSQL's key index is "
                          "ascending (what the key accepts is the same)");
        } else if (pgb_tok_is(t, j, "DEFERRABLE") && !defers(t, j)) {
            /* Checked at once in SQLite, as PostgreSQL's NOT DEFERRABLE is:
             * carried so; named unless it says just that. */
            int not = j > a && pgb_tok_is(t, j - 1, "NOT");
            size_t end = j + 1;
            if (pgb_tok_is(t, end, "INITIALLY") && end + 1 < b)
                end += 2;
            const char *ref = "?";
            for (size_t k = j; k > a; k--)
                if (pgb_tok_is(t, k - 1, "REFERENCES") && tok_name(t, k)) {
                    ref = tok_name(t, k);
                    break;
                }
            if (!not || pgb_tok_is(t, end - 1, "DEFERRED")) {
                char *span = tok_span(t, not ? j - 1 : j, end);
                rc = add_note(
                    tb, pgb_printf("%s: REFERENCES %s %s", where, ref, span ? span : "?"),
                    not ? "SQLite checks a NOT DEFERRABLE foreign key at once, whatever INITIALLY "
                          "says: carried as NOT DEFERRABLE, checked at once as in SQLite"
                        : "SQLite checks this foreign key at once (only DEFERRABLE INITIALLY "
                          "DEFERRED defers one): carried as NOT DEFERRABLE, checked at once as "
                          "in SQLite");
                free(span);
            }
            j = end - 1;
        } else if (pgb_tok_is(t, j, "MATCH") && tok_name(t, j + 1)) {
            rc = add_note(tb, pgb_printf("%s: MATCH %s", where, tok_name(t, j + 1)),
                          "SQLite parses MATCH but does not act on it: the foreign key is "
                          "carried as SQLite enforces it (MATCH SIMPLE)");
            j++;
        } else if (col && pgb_tok_is(t, j, "COLLATE") && tok_name(t, j + 1) &&
                   strcasecmp(tok_name(t, j + 1), "BINARY") != 0 &&
                   strcasecmp(tok_name(t, j + 1), "NOCASE") != 0) {
            rc = add_note(tb, pgb_printf("%s: COLLATE %s", where, tok_name(t, j + 1)),
                          "no PostgreSQL collation compares as it does: the column compares "
                          "its bytes (BINARY)");
            j++;
        }
    }
    free(where);
    return rc;
}

/* One column definition or table constraint, tokens [a, b). */
static int parse_item(pgb_src_table *tb, const pgb_toks *t, size_t a, size_t b)
{
    size_t i = a;
    if (pgb_tok_is(t, i, "CONSTRAINT"))
        i += 2;
    if (pgb_tok_is(t, i, "CHECK") || pgb_tok_is(t, i, "FOREIGN") || pgb_tok_is(t, i, "PRIMARY") ||
        pgb_tok_is(t, i, "UNIQUE")) {
        int rc = note_clauses(tb, t, a, b, NULL);
        if (rc)
            return rc;
        if (pgb_tok_is(t, i, "CHECK")) {
            size_t close = pgb_tok_close(t, i + 1);
            return add_check(tb, tok_span(t, i + 2, close));
        }
        if (pgb_tok_is(t, i, "FOREIGN")) {
            const char *first = tok_name(t, i + 3);
            for (size_t j = i; j < b; j++)
                if (pgb_tok_is(t, j, "REFERENCES") && first && tok_name(t, j + 1))
                    note_deferrable(tb, t, j, b, tok_name(t, j + 1), first);
        }
        if (pgb_tok_is(t, i, "PRIMARY"))
            for (size_t j = i; j < b; j++)
                if (pgb_tok_is(t, j, "AUTOINCREMENT"))
                    tb->autoincrement = 1;
        return 0;
    }
    /* A column: its name, then type words, then constraints. */
    const char *name = tok_name(t, i);
    pgb_src_col *c = name ? find_col(tb, name) : NULL;
    if (!c)
        return 0;
    int rc = note_clauses(tb, t, i + 1, b, c->name);
    if (rc)
        return rc;
    for (size_t j = i + 1; j < b; j++) {
        if (pgb_tok_is(t, j, "CHECK") && j + 1 < b) {
            size_t close = pgb_tok_close(t, j + 1);
            if ((rc = add_check(tb, tok_span(t, j + 2, close))) != 0)
                return rc;
            j = close;
        } else if (pgb_tok_is(t, j, "COLLATE") && tok_name(t, j + 1)) {
            free(c->collate);
            c->collate = pgb_strdup(tok_name(t, j + 1));
            j++;
        } else if (pgb_tok_is(t, j, "AUTOINCREMENT")) {
            tb->autoincrement = 1;
        } else if (pgb_tok_is(t, j, "UNIQUE")) {
            c->unique = 1;
        } else if ((pgb_tok_is(t, j, "AS") && j + 1 < b && t->t[j + 1].kind == TK_OP &&
                    t->t[j + 1].start[0] == '(')) {
            size_t close = pgb_tok_close(t, j + 1);
            free(c->gen_expr);
            c->gen_expr = tok_span(t, j + 2, close);
            j = close;
        } else if (pgb_tok_is(t, j, "REFERENCES") && tok_name(t, j + 1)) {
            note_deferrable(tb, t, j, b, tok_name(t, j + 1), c->name);
        } else if (pgb_tok_is(t, j, "DEFAULT") && j + 1 < b && t->t[j + 1].kind == TK_OP &&
                   t->t[j + 1].start[0] == '(') {
            j = pgb_tok_close(t, j + 1);
        } else if (is_constraint_word(t, j)) {
            continue;
        }
    }
    return 0;
}

/* Tokens of a statement and its first parenthesised list: `open` is the
 * index of its "(", `close` of the matching ")". */
static int tokenize_parenthesised(const char *sql, pgb_toks *t, size_t *open, size_t *close)
{
    int rc = pgb_tokenize(sql, t);
    if (rc)
        return rc;
    *open = 0;
    while (*open < t->n && !(t->t[*open].kind == TK_OP && t->t[*open].start[0] == '('))
        (*open)++;
    *close = pgb_tok_close(t, *open);
    return 0;
}

static int parse_create_table(pgb_src_table *tb)
{
    if (!tb->sql)
        return 0;
    pgb_toks t;
    size_t open, close;
    int rc = tokenize_parenthesised(tb->sql, &t, &open, &close);
    if (rc)
        return rc;
    size_t item = open + 1;
    int depth = 0;
    for (size_t i = open + 1; i <= close && i < t.n && rc == 0; i++) {
        if (t.t[i].kind == TK_OP && t.t[i].start[0] == '(')
            depth++;
        else if (t.t[i].kind == TK_OP && t.t[i].start[0] == ')' && depth > 0)
            depth--;
        else if ((i == close) || (depth == 0 && t.t[i].kind == TK_OP && t.t[i].start[0] == ',')) {
            rc = parse_item(tb, &t, item, i);
            item = i + 1;
        }
    }
    for (size_t i = close + 1; i + 1 < t.n; i++)
        if (pgb_tok_is(&t, i, "WITHOUT") && pgb_tok_is(&t, i + 1, "ROWID"))
            tb->without_rowid = 1;
    pgb_toks_free(&t);
    return rc;
}

/* ---- PRAGMAs -------------------------------------------------------------- */

static sqlite3_stmt *pragma(pgb_src_db *db, const char *what, const char *arg)
{
    char *sql = sqlite3_mprintf("PRAGMA %s(%Q)", what, arg);
    sqlite3_stmt *s = NULL;
    if (sql)
        sqlite3_prepare_v2(db->db, sql, -1, &s, NULL);
    sqlite3_free(sql);
    return s;
}

/* Is column i the rowid? Not always when declared INTEGER PRIMARY KEY: "x
 * INTEGER PRIMARY KEY DESC" is an ordinary column with a unique index (a
 * quirk SQLite keeps for compatibility), which may hold NULL or text. SQLite
 * itself says: a lookup by the column is a rowid lookup only for the alias. */
static int is_rowid_alias(pgb_src_db *db, const pgb_src_table *tb, int i)
{
    char *q = sqlite3_mprintf("EXPLAIN QUERY PLAN SELECT 1 FROM \"%w\" WHERE \"%w\" = 1", tb->name,
                              tb->cols[i].name);
    sqlite3_stmt *s = NULL;
    int alias = 0;
    if (q && sqlite3_prepare_v2(db->db, q, -1, &s, NULL) == SQLITE_OK)
        while (sqlite3_step(s) == SQLITE_ROW) {
            const char *d = (const char *)sqlite3_column_text(s, sqlite3_column_count(s) - 1);
            if (d && strstr(d, "USING INTEGER PRIMARY KEY"))
                alias = 1;
        }
    sqlite3_finalize(s);
    sqlite3_free(q);
    return alias;
}

/* Each row of PRAGMA name(table) to row(); a failure to read names `what`. */
static int each_pragma_row(pgb_src_db *db, pgb_src_table *tb, const char *name, const char *what,
                           int (*row)(pgb_src_table *tb, sqlite3_stmt *s, void *state), void *state)
{
    sqlite3_stmt *s = pragma(db, name, tb->name);
    if (!s)
        return pgb_src_fail(db, PGBOOT_ERROR, what);
    int rc = 0, r = SQLITE_DONE;
    while (rc == 0 && (r = sqlite3_step(s)) == SQLITE_ROW)
        rc = row(tb, s, state);
    if (rc == 0 && r != SQLITE_DONE)
        rc = pgb_src_fail(db, PGBOOT_ERROR, what);
    sqlite3_finalize(s);
    return rc;
}

static int column_row(pgb_src_table *tb, sqlite3_stmt *s, void *state)
{
    (void)state;
    int rc = grow((void **)&tb->cols, tb->ncols, sizeof(pgb_src_col));
    if (rc)
        return rc;
    pgb_src_col *c = &tb->cols[tb->ncols++];
    c->name = col_text(s, 1);
    c->decl = col_text(s, 2);
    c->notnull = sqlite3_column_int(s, 3);
    c->dflt = col_text(s, 4);
    c->pk = sqlite3_column_int(s, 5);
    c->hidden = sqlite3_column_int(s, 6);
    return c->name && c->decl ? 0 : pgb_fail(PGBOOT_ENOMEM, "out of memory");
}

static int read_columns(pgb_src_db *db, pgb_src_table *tb)
{
    int rc = each_pragma_row(db, tb, "table_xinfo", "cannot read the columns", column_row, NULL);
    if (rc)
        return rc;
    /* The rowid alias: the only primary key column, declared exactly INTEGER. */
    tb->rowid_col = -1;
    int npk = 0;
    for (int i = 0; i < tb->ncols; i++)
        npk += tb->cols[i].pk > 0;
    for (int i = 0; i < tb->ncols && npk == 1; i++)
        if (tb->cols[i].pk == 1 && !strcasecmp(tb->cols[i].decl, "INTEGER") &&
            is_rowid_alias(db, tb, i))
            tb->rowid_col = i;
    return 0;
}

/* One row per column of a foreign key; rows of one key share its id. */
static int fk_row(pgb_src_table *tb, sqlite3_stmt *s, void *state)
{
    int *last_id = state, rc;
    int id = sqlite3_column_int(s, 0);
    if (id != *last_id) {
        if ((rc = grow((void **)&tb->fks, tb->nfks, sizeof(pgb_src_fk))) != 0)
            return rc;
        pgb_src_fk *f = &tb->fks[tb->nfks++];
        f->table = col_text(s, 2);
        f->on_update = col_text(s, 5);
        f->on_delete = col_text(s, 6);
        f->id = id;
        *last_id = id;
    }
    pgb_src_fk *f = &tb->fks[tb->nfks - 1];
    if ((rc = grow((void **)&f->from, f->n, sizeof(char *))) != 0 ||
        (rc = grow((void **)&f->to, f->n, sizeof(char *))) != 0)
        return rc;
    f->from[f->n] = col_text(s, 3);
    f->to[f->n] = col_text(s, 4); /* NULL: the parent's primary key */
    f->n++;
    return 0;
}

static int read_fks(pgb_src_db *db, pgb_src_table *tb)
{
    int last_id = -1;
    return each_pragma_row(db, tb, "foreign_key_list", "cannot read the foreign keys", fk_row,
                           &last_id);
}

int64_t pgb_src_fk_orphans(pgb_src_db *db, pgb_src_table *tb, const pgb_src_fk *fk)
{
    if (!tb->fks_checked) {
        tb->fks_checked = 1;
        for (int i = 0; i < tb->nfks; i++)
            tb->fks[i].orphans = 0;
        /* table, rowid, parent, fkid: one row per row and key it breaks */
        sqlite3_stmt *s = pragma(db, "foreign_key_check", tb->name);
        int step = SQLITE_ERROR;
        while (s && (step = sqlite3_step(s)) == SQLITE_ROW)
            for (int i = 0; i < tb->nfks; i++)
                tb->fks[i].orphans += tb->fks[i].id == sqlite3_column_int(s, 3);
        sqlite3_finalize(s);
        for (int i = 0; i < tb->nfks && step != SQLITE_DONE; i++)
            tb->fks[i].orphans = -1;
    }
    return fk->orphans;
}

static int index_row(pgb_src_table *tb, sqlite3_stmt *s, void *state)
{
    (void)state;
    int rc = grow((void **)&tb->idx, tb->nidx, sizeof(pgb_src_index));
    if (rc)
        return rc;
    pgb_src_index *x = &tb->idx[tb->nidx++];
    x->name = col_text(s, 1);
    x->unique = sqlite3_column_int(s, 2);
    const unsigned char *origin = sqlite3_column_text(s, 3);
    x->origin = origin ? (char)origin[0] : 'c';
    x->partial = sqlite3_column_int(s, 4);
    return x->name ? 0 : pgb_fail(PGBOOT_ENOMEM, "out of memory");
}

static int read_indexes(pgb_src_db *db, pgb_src_table *tb)
{
    int rc = each_pragma_row(db, tb, "index_list", "cannot read the indexes", index_row, NULL);
    /* Their columns (constraint indexes) and text (CREATE INDEX). */
    for (int i = 0; i < tb->nidx && rc == 0; i++) {
        pgb_src_index *x = &tb->idx[i];
        /* seqno, cid, name, desc, coll, key: the key columns and the
         * collation each is compared with (a UNIQUE or PRIMARY KEY over
         * NOCASE columns is case-insensitive) */
        sqlite3_stmt *c = pragma(db, "index_xinfo", x->name);
        while (c && sqlite3_step(c) == SQLITE_ROW) {
            if (!sqlite3_column_int(c, 5))
                continue;
            if ((rc = grow((void **)&x->cols, x->ncols, sizeof(char *))) != 0 ||
                (rc = grow((void **)&x->colls, x->ncols, sizeof(char *))) != 0)
                break;
            x->cols[x->ncols] = col_text(c, 2);
            x->colls[x->ncols++] = col_text(c, 4);
        }
        sqlite3_finalize(c);
        sqlite3_stmt *q = NULL;
        if (sqlite3_prepare_v2(db->db,
                               "SELECT sql FROM sqlite_schema WHERE type = 'index' AND name = ?",
                               -1, &q, NULL) == SQLITE_OK) {
            sqlite3_bind_text(q, 1, x->name, -1, SQLITE_STATIC);
            if (sqlite3_step(q) == SQLITE_ROW)
                x->sql = col_text(q, 0);
        }
        sqlite3_finalize(q);
    }
    return rc;
}

static int is_shadow(pgb_src_db *db, const char *name)
{
    static const char *const suffixes[] = {"_data",   "_idx",      "_content", "_docsize",
                                           "_config", "_segments", "_segdir",  "_stat",
                                           "_node",   "_rowid",    "_parent",  NULL};
    for (int i = 0; i < db->nothers; i++) {
        if (db->others[i].kind != PGB_SRC_FTS && db->others[i].kind != PGB_SRC_VTAB)
            continue;
        size_t n = strlen(db->others[i].name);
        if (strncasecmp(name, db->others[i].name, n) != 0)
            continue;
        for (int k = 0; suffixes[k]; k++)
            if (!strcasecmp(name + n, suffixes[k]))
                return 1;
    }
    return 0;
}

/* An option of an FTS table that PostgreSQL's full-text search does not
 * carry: into o->fts_notes as "name: key=value". */
static int fts_note(pgb_src_other *o, const char *key, const char *val, const char *reason)
{
    char *name = pgb_printf("%s: %s%s%s", o->name, key, *val ? "=" : "", val);
    if (!name || grow((void **)&o->fts_notes, o->nfts_notes, sizeof(pgb_src_note))) {
        free(name);
        return pgb_fail(PGBOOT_ENOMEM, "out of memory");
    }
    o->fts_notes[o->nfts_notes++] = (pgb_src_note){name, reason};
    return 0;
}

/* Why an option of FTS version v has no PostgreSQL meaning; NULL for the
 * options that are carried (content=, content_rowid=, tokenize=,
 * languageid=, notindexed=). */
static const char *fts_option_reason(int v, const char *key)
{
    if (!strcasecmp(key, "content") || !strcasecmp(key, "tokenize") ||
        (v == 5 && !strcasecmp(key, "content_rowid")) ||
        (v == 4 && (!strcasecmp(key, "languageid") || !strcasecmp(key, "notindexed"))))
        return NULL;
    if (!strcasecmp(key, "prefix"))
        return "prefix indexes speed up SQLite's prefix queries; PostgreSQL's GIN index answers "
               "prefix queries (to_tsquery('word:*')) without one";
    if (v == 4 && !strcasecmp(key, "matchinfo"))
        return "it changes what SQLite's matchinfo() returns; PostgreSQL has no matchinfo() "
               "(ts_rank ranks)";
    if (v == 4 && !strcasecmp(key, "order"))
        return "the order of SQLite's full-text index; PostgreSQL orders by ORDER BY";
    if (v == 4 && (!strcasecmp(key, "compress") || !strcasecmp(key, "uncompress")))
        return "SQLite functions that compress the stored text; PostgreSQL stores it as text "
               "(compressed by TOAST when large)";
    return "an option of SQLite's full-text index with no PostgreSQL counterpart";
}

/* tokenize=NAME ARGS: the text search configuration (porter: pgboot's
 * pgboot_porter, migrate/porter.c; else simple); a tokenizer other than
 * simple/porter/unicode61/ascii, or any argument but the tokenizer porter
 * wraps (unicode61, ascii), is named in the notes. */
static int fts_tokenizer(pgb_src_other *o, const char *spec)
{
    char name[64];
    size_t n = strcspn(spec, " \t\n");
    snprintf(name, sizeof name, "%.*s", (int)(n < 63 ? n : 63), spec);
    int porter = !strcasecmp(name, "porter");
    free(o->fts_config);
    o->fts_config = pgb_strdup(porter ? PGB_PORTER : "simple");
    if (!o->fts_config)
        return pgb_fail(PGBOOT_ENOMEM, "out of memory");
    int known = !strcasecmp(name, "simple") || porter || !strcasecmp(name, "unicode61") ||
                !strcasecmp(name, "ascii");
    if (!known)
        return fts_note(o, "tokenize", spec,
                        "a SQLite tokenizer with no PostgreSQL counterpart; searched with "
                        "PostgreSQL's simple configuration");
    const char *args = spec + n + strspn(spec + n, " \t\n");
    if (porter) { /* porter unicode61, porter ascii: the words it stems */
        size_t w = strcspn(args, " \t\n");
        if ((w == 9 && !strncasecmp(args, "unicode61", 9)) ||
            (w == 5 && !strncasecmp(args, "ascii", 5)))
            if (!args[w + strspn(args + w, " \t\n")])
                return 0;
    }
    if (*args)
        return fts_note(o, "tokenize", spec,
                        porter ? "the tokenizer's arguments have no PostgreSQL counterpart; "
                                 "searched with pgboot's " PGB_PORTER " configuration"
                               : "the tokenizer's arguments have no PostgreSQL counterpart; "
                                 "searched with PostgreSQL's simple configuration");
    return 0;
}

/* The module of CREATE VIRTUAL TABLE ... USING module(...): 3, 4 or 5 for
 * FTS3, FTS4 and FTS5, else 0. */
static int fts_module(const char *sql)
{
    pgb_toks t;
    size_t open, close;
    if (!sql || tokenize_parenthesised(sql, &t, &open, &close) != 0) {
        pgb_error_reset();
        return 0;
    }
    int v = 0;
    if (open >= 2 && open < t.n && pgb_tok_is(&t, open - 2, "USING") && t.t[open - 1].text) {
        const char *m = t.t[open - 1].text;
        v = !strcasecmp(m, "fts3")   ? 3
            : !strcasecmp(m, "fts4") ? 4
            : !strcasecmp(m, "fts5") ? 5
                                     : 0;
    }
    pgb_toks_free(&t);
    return v;
}

/* fts5(col, col UNINDEXED, content='t', content_rowid='id', tokenize='porter')
 * fts4(col, col TEXT, content="t", tokenize=porter, notindexed=col, ...)
 * fts3(col, tokenize porter): FTS3 reads no option but the tokenizer; the
 * tokenizer of FTS3/4 may follow "tokenize" without "=" (SQLite's own
 * reading: fts3.c). */
static int parse_fts(pgb_src_other *o)
{
    pgb_toks t;
    size_t open, close;
    int rc = tokenize_parenthesised(o->sql, &t, &open, &close);
    if (rc)
        return rc;
    size_t item = open + 1;
    int v = o->fts_version;
    char **notindexed = NULL;
    int nnotindexed = 0;
    int depth = 0; /* fts4(a VARCHAR(10, 2), ...) */
    o->fts_config = pgb_strdup("simple");
    for (size_t i = open + 1; i <= close && i < t.n && rc == 0; i++) {
        if (t.t[i].kind == TK_OP && t.t[i].start[0] == '(')
            depth++;
        else if (t.t[i].kind == TK_OP && t.t[i].start[0] == ')' && depth > 0 && i != close)
            depth--;
        int end = i == close || (depth == 0 && t.t[i].kind == TK_OP && t.t[i].start[0] == ',');
        if (!end)
            continue;
        if (i > item && t.t[item].text) {
            const char *key = t.t[item].text;
            int eq = item + 1 < i && t.t[item + 1].kind == TK_OP && t.t[item + 1].start[0] == '=';
            if (v != 5 && !strcasecmp(key, "tokenize") &&
                (eq || (item + 1 < i && t.t[item + 1].kind != TK_OP))) {
                /* the tokenizer and its arguments, each token a word */
                pgb_buf spec = {0};
                for (size_t k = item + 1 + (size_t)eq; k < i; k++) {
                    if (k > item + 1 + (size_t)eq)
                        pgb_buf_puts(&spec, " ");
                    if (t.t[k].text)
                        pgb_buf_puts(&spec, t.t[k].text);
                    else
                        pgb_buf_printf(&spec, "%.*s", (int)t.t[k].len, t.t[k].start);
                }
                rc = spec.oom ? pgb_fail(PGBOOT_ENOMEM, "out of memory")
                              : fts_tokenizer(o, spec.s ? spec.s : "");
                pgb_buf_free(&spec);
            } else if (v != 3 && eq) {
                const char *val = item + 2 < i && t.t[item + 2].text ? t.t[item + 2].text : "";
                const char *why = fts_option_reason(v, key);
                if (why) {
                    rc = fts_note(o, key, val, why);
                } else if (!strcasecmp(key, "content")) {
                    free(o->fts_content);
                    o->fts_content = pgb_strdup(val);
                } else if (!strcasecmp(key, "tokenize")) {
                    rc = fts_tokenizer(o, val);
                } else if (!strcasecmp(key, "languageid") && *val) {
                    free(o->fts_langid);
                    o->fts_langid = pgb_strdup(val);
                } else if (!strcasecmp(key, "notindexed") &&
                           (rc = grow((void **)&notindexed, nnotindexed, sizeof(char *))) == 0) {
                    notindexed[nnotindexed++] = (char *)val;
                }
            } else if ((rc = grow((void **)&o->fts_cols, o->nfts_cols, sizeof(char *))) == 0 &&
                       (rc = grow((void **)&o->fts_unindexed, o->nfts_cols, 1)) == 0) {
                o->fts_unindexed[o->nfts_cols] =
                    v == 5 && item + 1 < i && pgb_tok_is(&t, i - 1, "UNINDEXED");
                o->fts_cols[o->nfts_cols++] = pgb_strdup(key);
            }
        }
        item = i + 1;
    }
    for (int k = 0; k < nnotindexed && rc == 0; k++)
        for (int c = 0; c < o->nfts_cols; c++)
            if (o->fts_cols[c] && !strcasecmp(o->fts_cols[c], notindexed[k]))
                o->fts_unindexed[c] = 1;
    free(notindexed);
    for (int k = 0; k < o->nfts_notes && rc == 0 && !o->fts_uncompress; k++) {
        const char *n = o->fts_notes[k].name + strlen(o->name) + 2;
        if (!strncasecmp(n, "uncompress=", 11) && n[11] &&
            !(o->fts_uncompress = pgb_strdup(n + 11)))
            rc = pgb_fail(PGBOOT_ENOMEM, "out of memory");
    }
    if (rc == 0 && o->fts_langid)
        rc = fts_note(o, "languageid", o->fts_langid,
                      "SQLite tokenizes each row by its language id; PostgreSQL's tsvector "
                      "column uses one configuration for every row (the ids are carried as "
                      "data)");
    pgb_toks_free(&t);
    return rc;
}

/* An FTS table with its own content is migrated as a table of its own: its
 * rowid (FTS3/4: docid, the name apps use), its columns as text and an
 * FTS4 languageid= column as an integer (the full-text index is rebuilt in
 * PostgreSQL). */
static int fts_as_table(pgb_src_db *db, pgb_src_other *o)
{
    int rc = grow((void **)&db->tables, db->ntables, sizeof(pgb_src_table));
    if (rc)
        return rc;
    pgb_src_table *tb = &db->tables[db->ntables++];
    tb->name = pgb_strdup(o->name);
    tb->fts = 1;
    tb->rowid_col = 0;
    tb->cols = calloc((size_t)o->nfts_cols + 2, sizeof(pgb_src_col));
    if (!tb->name || !tb->cols)
        return pgb_fail(PGBOOT_ENOMEM, "out of memory");
    tb->cols[0].name = pgb_strdup(o->fts_version == 5 ? "rowid" : "docid");
    tb->cols[0].decl = pgb_strdup("INTEGER");
    tb->cols[0].pk = 1;
    tb->cols[0].notnull = 1;
    tb->ncols = 1;
    for (int i = 0; i < o->nfts_cols + (o->fts_langid != NULL); i++) {
        int lang = i == o->nfts_cols;
        tb->cols[tb->ncols].name = pgb_strdup(lang ? o->fts_langid : o->fts_cols[i]);
        tb->cols[tb->ncols].decl = pgb_strdup(lang ? "INTEGER" : "TEXT");
        if (!tb->cols[tb->ncols].name || !tb->cols[tb->ncols].decl)
            return pgb_fail(PGBOOT_ENOMEM, "out of memory");
        tb->ncols++;
    }
    return 0;
}

int pgb_src_introspect(pgb_src_db *db)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(db->db,
                           "SELECT type, name, tbl_name, sql FROM sqlite_schema "
                           "WHERE type IN ('table', 'view', 'trigger') ORDER BY rowid",
                           -1, &s, NULL) != SQLITE_OK)
        return pgb_src_fail(db, PGBOOT_EINVALID, "cannot read the schema");
    int rc = 0, r;
    /* Virtual tables first, so that their shadow tables can be recognised. */
    while ((r = sqlite3_step(s)) == SQLITE_ROW && rc == 0) {
        const char *type = (const char *)sqlite3_column_text(s, 0);
        const char *sql = (const char *)sqlite3_column_text(s, 3);
        int vtab = sql && !strncasecmp(sql, "CREATE VIRTUAL TABLE", 20);
        if (!type || (!strcmp(type, "table") && !vtab))
            continue;
        if ((rc = grow((void **)&db->others, db->nothers, sizeof(pgb_src_other))) != 0)
            break;
        pgb_src_other *o = &db->others[db->nothers++];
        int fts = vtab ? fts_module(sql) : 0;
        o->kind = !strcmp(type, "view")      ? PGB_SRC_VIEW
                  : !strcmp(type, "trigger") ? PGB_SRC_TRIGGER
                  : fts                      ? PGB_SRC_FTS
                                             : PGB_SRC_VTAB;
        o->fts_version = fts;
        o->name = col_text(s, 1);
        o->table = col_text(s, 2);
        o->sql = col_text(s, 3);
    }
    if (rc == 0 && r != SQLITE_DONE)
        rc = pgb_src_fail(db, PGBOOT_EINVALID, "cannot read the schema");
    sqlite3_reset(s);
    while (rc == 0 && (r = sqlite3_step(s)) == SQLITE_ROW) {
        const char *type = (const char *)sqlite3_column_text(s, 0);
        const char *name = (const char *)sqlite3_column_text(s, 1);
        const char *sql = (const char *)sqlite3_column_text(s, 3);
        if (!type || strcmp(type, "table") != 0 || !name)
            continue;
        if (sql && !strncasecmp(sql, "CREATE VIRTUAL TABLE", 20))
            continue;
        if (!strncasecmp(name, "sqlite_", 7)) {
            rc = add_skipped(db, name, "SQLite's own table");
            continue;
        }
        if (is_shadow(db, name)) {
            rc = add_skipped(db, name, "storage of a virtual (full-text) table");
            continue;
        }
        if ((rc = grow((void **)&db->tables, db->ntables, sizeof(pgb_src_table))) != 0)
            break;
        pgb_src_table *tb = &db->tables[db->ntables++];
        tb->name = pgb_strdup(name);
        tb->sql = sql ? pgb_strdup(sql) : NULL;
        tb->rowid_col = -1;
        if (!tb->name)
            rc = pgb_fail(PGBOOT_ENOMEM, "out of memory");
    }
    if (rc == 0 && r != SQLITE_DONE)
        rc = pgb_src_fail(db, PGBOOT_EINVALID, "cannot read the schema");
    sqlite3_finalize(s);
    for (int i = 0; i < db->ntables && rc == 0; i++) {
        pgb_src_table *tb = &db->tables[i];
        if ((rc = read_columns(db, tb)) == 0 && (rc = read_fks(db, tb)) == 0 &&
            (rc = read_indexes(db, tb)) == 0)
            rc = parse_create_table(tb);
    }
    for (int i = 0; i < db->nothers && rc == 0; i++) {
        pgb_src_other *o = &db->others[i];
        if (o->kind != PGB_SRC_FTS || !o->sql)
            continue;
        if ((rc = parse_fts(o)) != 0 || o->fts_content || o->nfts_cols == 0)
            continue;
        if (o->fts_uncompress) {
            /* SQLite reads no row of it without the app's function */
            rc = pgb_fail(PGBOOT_EINVALID,
                          "%s: the FTS4 table %s stores its text compressed (uncompress=%s): "
                          "only the app's own SQLite function %s can read it, and pgboot "
                          "cannot call it",
                          db->path, o->name, o->fts_uncompress, o->fts_uncompress);
            pgb_hint("nothing was written; where %s is defined (in the app), copy the rows of "
                     "%s with their docids into an FTS4 table without compress=/uncompress=, "
                     "drop %s, and migrate again",
                     o->fts_uncompress, o->name, o->name);
            break;
        }
        rc = fts_as_table(db, o);
    }
    /* AUTOINCREMENT counters. */
    if (rc == 0 && sqlite3_prepare_v2(db->db, "SELECT name, seq FROM sqlite_sequence", -1, &s,
                                      NULL) == SQLITE_OK) {
        while (sqlite3_step(s) == SQLITE_ROW) {
            const char *name = (const char *)sqlite3_column_text(s, 0);
            for (int i = 0; name && i < db->ntables; i++)
                if (!strcmp(db->tables[i].name, name)) {
                    db->tables[i].seq = sqlite3_column_int64(s, 1);
                    db->tables[i].has_seq = 1;
                }
        }
        sqlite3_finalize(s);
    }
    if (rc == 0 && db->ntables == 0) {
        rc = pgb_fail(PGBOOT_EINVALID, "%s holds no tables: there is nothing to migrate", db->path);
        pgb_hint("nothing was written; check that this is the app's database");
    }
    return rc;
}
