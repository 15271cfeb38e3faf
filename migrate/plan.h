/* The plan: target names, and every column's type from one scan of its values (migrate/plan.c).
 * Internal. */
#ifndef PGBOOT_MIGRATE_PLAN_H
#define PGBOOT_MIGRATE_PLAN_H

#include <stdint.h>

#include <sqlite3.h>

#include "../platform/platform.h"
#include "source.h"

typedef enum {
    PGB_K_BIGINT,
    PGB_K_DOUBLE,
    PGB_K_NUMERIC, /* with p, s when p > 0 */
    PGB_K_BOOL,
    PGB_K_DATE,
    PGB_K_TS,
    PGB_K_TSTZ,
    PGB_K_EPOCH_TSTZ, /* integer epoch seconds -> timestamptz (--epoch-as-timestamp) */
    PGB_K_JSONB,
    PGB_K_UUID,
    PGB_K_VARCHAR, /* with len */
    PGB_K_TEXT,
    PGB_K_BYTEA,
} pgb_pg_kind;

/* What one scan of a column saw. */
typedef struct {
    int64_t n_null, n_int, n_real, n_text, n_blob;
    int64_t n_int_not01, n_big_int, n_real_nonint, n_real_nonfinite;
    int64_t n_int_over16, n_int_over32; /* integers out of smallint's, integer's range */
    int64_t n_badtext;                  /* invalid UTF-8 or NUL */
    int64_t n_text_nonbool, n_text_nondate, n_text_nonts, n_text_tz, n_text_naive;
    int64_t n_text_frac_lost; /* ISO timestamps with non-zero digits past microseconds */
    int64_t n_text_zero_date; /* '0000-00-00[ 00:00:00]' (pgb_zero_date) */
    int64_t n_text_nonuuid, n_text_nonjson, n_text_noncontainer;
    int64_t n_text_nonnumeric;
    int64_t n_text_inf;  /* 'Infinity', '-inf', ... (pgb_numeric_special); 'NaN' is a number */
    int64_t n_blob_text; /* blobs whose bytes are valid UTF-8 without NUL (TEXT columns) */
    int64_t n_blob_json; /* and of those, JSON texts (JSON columns) */
    int64_t n_text_uuid_noncanon; /* UUIDs not in canonical lower-case 8-4-4-4-12 form */
    size_t max_chars;
    int max_int_digits, max_frac_digits; /* of numbers and numeric texts */
} pgb_col_stats;

typedef struct {
    int src;    /* index of the source column */
    char *name; /* target name */
    pgb_pg_kind kind;
    int p, s, len;
    char type_sql[64];
    char *reason;  /* why this type (NULL: the obvious one) */
    int identity;  /* the INTEGER PRIMARY KEY */
    int generated; /* computed by PostgreSQL, not copied */
    char *gen_sql; /* its translated expression */
    int64_t n_bad; /* values this type cannot hold exactly */
    pgb_col_stats st;
    /* How values are changed on the way (the migration's options): */
    int round_ts;                 /* round timestamps to microseconds */
    pgboot_zero_dates zero_dates; /* zero dates: refused, -infinity or NULL */
    int notnull;                  /* the column is NOT NULL (source, or the target's) */
    int int_bits;                 /* the target's integer column (--schema): 16 or 32 bits; 0: 64 */
} pgb_plan_col;

/* The options that change values on the way (see pgboot_migrate_options). */
typedef struct {
    int round_timestamps;
    pgboot_zero_dates zero_dates;
} pgb_value_opts;

typedef struct {
    pgb_src_table *src;
    char *name; /* target name */
    pgb_plan_col *cols;
    int ncols;
    int64_t rows;
    int64_t rejected;
    uint64_t bytes;           /* COPY bytes sent */
    uint64_t ms;              /* time to load */
    unsigned char digest[16]; /* of the rows sent (verify full) */
    /* The types were chosen from the first rows only (pgb_plan_make's
     * prefix); rows counts them all. The load reads the rest and sees
     * whether the types hold (pgb_pass). */
    int partial;
} pgb_plan_table;

typedef struct {
    pgb_src_db *src;
    pgb_plan_table *tables;
    int ntables;
    int preserve_case;
    int epoch_as_timestamp;
    int detect_json;
    pgboot_on_error on_error;
    int full_scan; /* every value checked (into an app's own schema) */
    pgb_value_opts values;
} pgb_plan;

/* Fold and check names, scan every table, choose every type. values: NULL
 * for the defaults (nothing changed on the way). prefix > 0: a table of more
 * rows is scanned only that far and marked partial, unless a value of those
 * rows does not fit its type (then all are scanned, as with prefix 0). */
PGB_MUST_USE int pgb_plan_make(pgb_plan *p, pgb_src_db *src, int preserve_case,
                               int epoch_as_timestamp, int detect_json, pgboot_on_error on_error,
                               int full_scan, const pgb_value_opts *values, int64_t prefix);
void pgb_plan_free(pgb_plan *p);
/* Scan t again and choose its types anew (every column's figures start
 * over): after generated columns whose expressions PostgreSQL cannot
 * compute as SQLite does became plain columns (generated cleared), whose
 * values SQLite computed are then copied like any other. 0, or
 * PGBOOT_ERROR (SQLite cannot read the table), PGBOOT_ENOMEM. */
PGB_MUST_USE int pgb_plan_rescan(pgb_plan *p, pgb_plan_table *t);
/* The rest of a partial table's scan, made while its rows are loaded with
 * the types chosen from its first rows: pgb_pass_row sees each row the load
 * reads (all of them, from the first; s's columns are [rowid if first,] the
 * copied columns), pgb_pass_end chooses the types from all of them, as a
 * whole scan would, and puts them and the row count into t: 1 when every
 * column's type, its count of values that do not fit, and its infinities
 * are as the first rows said, else 0. begin: 0 or PGBOOT_ENOMEM. One
 * thread. */
typedef struct {
    pgb_col_stats *st;
    int *need, *map, n;
    int64_t rows;
} pgb_pass;
PGB_MUST_USE int pgb_pass_begin(pgb_pass *ps, const pgb_plan *p, const pgb_plan_table *t);
void pgb_pass_row(pgb_pass *ps, sqlite3_stmt *s, int first);
int pgb_pass_end(pgb_pass *ps, const pgb_plan *p, pgb_plan_table *t);
void pgb_pass_free(pgb_pass *ps);
/* A partial table whose load will not begin (its CREATE TABLE failed, which
 * the types of its first rows may cause: a generated column's expression
 * over them; or the migration stops before anything is written, a decision
 * those types may have made): its pass over every row, for the verdict
 * alone, as pgb_pass_end gives it (0: the types do not hold, start over).
 * 1 for a table that is not partial, and when SQLite cannot read it (the
 * caller's failure stays its own). The failure recorded is left as it was.
 * One thread. */
int pgb_pass_verdict(const pgb_plan *p, pgb_plan_table *t);
/* Count again the values each column's type cannot hold (after the types
 * were changed, e.g. to the target's own). */
void pgb_plan_recount(pgb_plan *p);
/* The target name of a source table or column (for expression translation). */
const char *pgb_plan_table_name(const pgb_plan *p, const char *src_name);
const char *pgb_plan_col_name(const pgb_plan_table *t, const char *src_name);

/* Can a SQLite value (by storage class and bytes) be stored exactly in col? */
typedef struct sqlite3_value sqlite3_value;
int pgb_cell_ok(const pgb_plan_col *c, sqlite3_value *v, const char **why);
/* Is the column's SQLite default a zero date ('0000-00-00 00:00:00') and
 * the column a date or timestamp? */
int pgb_plan_zero_default(const pgb_plan_table *t, const pgb_plan_col *c);
/* SELECT [rowid,] copied columns FROM the source table (malloc'd). */
char *pgb_plan_select_sql(const pgb_plan_table *t, int with_rowid);
/* The statement that reads t's rows from the source: the rowid first (when
 * the table has one), then the copied columns in order. *first is 1 when the
 * rowid is there, else 0 (the index of the first column). 0, or the source's
 * error (*s NULL). */
int pgb_plan_rows_stmt(const pgb_plan *p, const pgb_plan_table *t, sqlite3_stmt **s, int *first);

#endif
