/* Loading rows and reading them back (migrate/copy.c). Internal. */
#ifndef PGBOOT_MIGRATE_COPY_H
#define PGBOOT_MIGRATE_COPY_H

#include <stdint.h>
#include <stdio.h>

#include "plan.h"

typedef struct pg_conn PGconn;
typedef struct sqlite3_stmt sqlite3_stmt;

/* Connections a big table's rows are spread over (see pgb_load.helpers). */
#define PGB_LOAD_MAX_CONNS 4

typedef struct {
    PGconn *conn;
    /* More connections to the same database, for tables of at least
     * split_rows rows that they can see (created and committed, in the
     * staging schema): the rows go out in chunks to whichever backend is
     * ready, so the server's work (parsing, generated columns such as
     * to_tsvector) runs on several cores. */
    PGconn *helpers[PGB_LOAD_MAX_CONNS - 1];
    int nhelpers;
    int64_t split_rows;
    pgb_src_db *src;
    /* A partial table's load finishes its scan (pgb_pass) under the plan's
     * rules; should the types not hold, respec is set and the load fails:
     * the migration starts over with every table scanned whole. */
    const pgb_plan *plan;
    int respec;
    pgboot_on_error policy;
    int verify_full;
    const char *rejects_dir; /* reject: where <table>.jsonl goes */
    FILE *rejects;
    uint64_t rows_done, rows_total;
    void (*progress)(const char *table, uint64_t done, uint64_t total, void *payload);
    void *progress_payload;
    /* Under reject, besides the values: refuse_row says whether the target
     * would refuse a row of t all the same (a child of a rejected parent
     * row), with the column and the reason (valid until its next call);
     * rejected_row is told of every row of t set aside. s's columns are
     * [rowid if first,] the copied columns. Either may be NULL. */
    int (*refuse_row)(void *payload, const pgb_plan_table *t, sqlite3_stmt *s, int first,
                      const char **col, const char **why);
    void (*rejected_row)(void *payload, const pgb_plan_table *t, sqlite3_stmt *s, int first);
    void *rows_payload;
} pgb_load;

/* COPY every row of t (rejecting per policy); t->digest is set when
 * verify_full. */
PGB_MUST_USE int pgb_load_table(pgb_load *L, pgb_plan_table *t);
/* A value as COPY text for column c (what the target receives), into b. */
void pgb_copy_value(pgb_buf *b, const pgb_plan_col *c, sqlite3_value *v);
/* The digest of t's rows as PostgreSQL holds them. */
PGB_MUST_USE int pgb_readback_digest(PGconn *c, pgb_plan_table *t, unsigned char digest[16],
                                     int64_t *rows);

/* The text PostgreSQL reads as the value v of column c: exactly what COPY
 * sends for it, unescaped (malloc'd; NULL for SQL NULL or out of memory).
 * For a literal default, so that it is carried as the rows are. */
char *pgb_value_input_text(const pgb_plan_col *c, sqlite3_value *v);

/* Compare what an expression gives on both sides: the rows of lite_sql (a
 * SELECT run on the source db) and of pg_sql (the same SELECT on c), as
 * order-independent digests of canonical values. cols: the target columns'
 * plan (generated columns: the canonical forms --verify full uses), or NULL
 * (views: by the types PostgreSQL gives, an integer equal to the same real).
 * *same is set when they are equal. Errors: PGBOOT_ERROR when either side
 * cannot be read. */
PGB_MUST_USE int pgb_verify_query(sqlite3 *db, const char *lite_sql, PGconn *c, const char *pg_sql,
                                  const pgb_plan_col *const *cols, int ncols, int *same);

#endif
