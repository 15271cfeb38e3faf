/* The SQLite source: opened read-only, its schema read (migrate/source.c). Internal. */
#ifndef PGBOOT_MIGRATE_SOURCE_H
#define PGBOOT_MIGRATE_SOURCE_H

#include <pthread.h>
#include <stdint.h>

#include "../platform/platform.h"
#include "gate.h"

typedef struct sqlite3 sqlite3;

typedef struct {
    char *name;
    char *decl;     /* declared type, "" if none */
    char *dflt;     /* raw default expression text, or NULL */
    char *gen_expr; /* generated column expression text, or NULL */
    char *collate;  /* COLLATE name, or NULL */
    int notnull;
    int pk;     /* position in the primary key (1-based), 0 if not */
    int hidden; /* 2: virtual generated, 3: stored generated */
    int unique; /* a column-level UNIQUE */
} pgb_src_col;

typedef struct {
    char *table; /* referenced table */
    char **from; /* columns here */
    char **to;   /* columns there (NULL entries: its primary key) */
    int n;
    char *on_update, *on_delete;
    int deferrable;  /* DEFERRABLE INITIALLY DEFERRED */
    int id;          /* SQLite's id of the key (PRAGMA foreign_key_list, foreign_key_check) */
    int64_t orphans; /* pgb_src_fk_orphans's count, once counted */
} pgb_src_fk;

typedef struct {
    char *name;
    char *sql; /* CREATE INDEX text (NULL for constraint indexes) */
    int unique;
    char origin; /* 'c' CREATE INDEX, 'u' UNIQUE constraint, 'p' primary key */
    int partial;
    char **cols; /* for constraint indexes: column names */
    int ncols;
    char **colls; /* and the collation of each (PRAGMA index_xinfo) */
} pgb_src_index;

/* A clause of the CREATE TABLE text that PostgreSQL does not carry (an ON
 * CONFLICT clause, a constraint's name, ...): reported by name. */
typedef struct {
    char *name;         /* "t.col: NOT NULL ON CONFLICT IGNORE", "t: CONSTRAINT x" */
    const char *reason; /* static */
} pgb_src_note;

typedef struct {
    char *name;
    char *sql;
    int without_rowid;
    int autoincrement;
    int rowid_col; /* index of the INTEGER PRIMARY KEY column, -1 if none */
    pgb_src_col *cols;
    int ncols;
    char **checks; /* CHECK expression texts */
    int nchecks;
    pgb_src_fk *fks;
    int nfks;
    int fks_checked; /* pgb_src_fk_orphans counted the keys' orphans */
    pgb_src_index *idx;
    int nidx;
    int64_t seq; /* sqlite_sequence value, if has_seq */
    int has_seq;
    int fts; /* an FTS3/4/5 table with its own content, read as a table */
    pgb_src_note *notes;
    int nnotes;
} pgb_src_table;

typedef enum { PGB_SRC_VIEW, PGB_SRC_TRIGGER, PGB_SRC_FTS, PGB_SRC_VTAB } pgb_src_other_kind;

typedef struct {
    pgb_src_other_kind kind;
    char *name;
    char *table; /* a trigger's table */
    char *sql;
    /* FTS3, FTS4, FTS5: its columns and options */
    int fts_version; /* 3, 4 or 5 */
    char **fts_cols;
    unsigned char *fts_unindexed; /* per column: FTS4 notindexed=, FTS5 UNINDEXED */
    int nfts_cols;
    char *fts_content;       /* content= ("" contentless, NULL: its own) */
    char *fts_config;        /* "simple", or "pgboot_porter" for the porter tokenizer */
    char *fts_langid;        /* FTS4 languageid=: the column of language ids, or NULL */
    char *fts_uncompress;    /* FTS4 uncompress=: the app's SQLite function, or NULL */
    pgb_src_note *fts_notes; /* options with no PostgreSQL meaning ("t: order=desc") */
    int nfts_notes;
} pgb_src_other;

typedef struct {
    sqlite3 *db;
    char *path;
    /* PRAGMA quick_check, run on a connection of its own while we scan,
     * passing gate (NULL: none) */
    pgb_gate *gate;
    pthread_t check_thread;
    int check_started;
    int check_failed;
    char check_msg[512];
    pgb_src_table *tables;
    int ntables;
    pgb_src_other *others;
    int nothers;
    char **skipped; /* internal or shadow tables not migrated, with a reason */
    int nskipped;
} pgb_src_db;

/* Open read-only and begin the one read transaction everything happens in;
 * start the integrity check, which waits while gate is closed (gate may be
 * NULL; it must outlive pgb_src_close). */
PGB_MUST_USE int pgb_src_open(pgb_src_db *db, const char *path, pgb_gate *gate);
/* Wait for the integrity check started by pgb_src_open: damage anywhere in
 * the file (even in index pages a migration never reads) is an error. */
PGB_MUST_USE int pgb_src_check(pgb_src_db *db);

/* How many rows of tb have a value of its foreign key fk (one of tb->fks)
 * that no row of the referenced table holds, as SQLite's PRAGMA
 * foreign_key_check counts them: 0 or more; -1 when SQLite cannot check the
 * table's keys (a referenced key that is not a primary key or unique, a
 * read failed). Never fails: the caller goes on as if it were unknown. The
 * first call for a table counts for all its keys, in one pass over its
 * rows. In the thread that opened db. */
int64_t pgb_src_fk_orphans(pgb_src_db *db, pgb_src_table *tb, const pgb_src_fk *fk);
/* Read the schema. */
PGB_MUST_USE int pgb_src_introspect(pgb_src_db *db);
void pgb_src_close(pgb_src_db *db);
/* A message for the last SQLite error on db, naming the file. */
int pgb_src_fail(pgb_src_db *db, int code, const char *what);

#endif
