/* Loading rows and reading them back (bootstrap/migrate_copy.c). Internal. */
#ifndef PGBOOT_MIGRATE_COPY_H
#define PGBOOT_MIGRATE_COPY_H

#include <stdio.h>

#include "migrate.h"

typedef struct pg_conn PGconn;

typedef struct {
    PGconn *conn;
    src_db *src;
    on_error_policy policy;
    int verify_full;
    const char *rejects_dir; /* reject: where <table>.jsonl goes */
    FILE *rejects;
    uint64_t rows_done, rows_total;
    void (*progress)(const char *table, uint64_t done, uint64_t total, void *payload);
    void *progress_payload;
} pgb_load;

/* COPY every row of t (rejecting per policy); t->digest is set when
 * verify_full. */
PGB_MUST_USE int pgb_load_table(pgb_load *L, plan_table *t);
/* The digest of t's rows as PostgreSQL holds them. */
PGB_MUST_USE int pgb_readback_digest(PGconn *c, plan_table *t, unsigned char digest[16],
                                     int64_t *rows);
/* SELECT [rowid,] copied columns FROM the source table (malloc'd). */
char *pgb_plan_select_sql(const plan_table *t, int with_rowid);

#endif
