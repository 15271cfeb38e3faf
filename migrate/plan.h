/* The plan: target names, and every column's type from one scan of its values (migrate/plan.c).
 * Internal. */
#ifndef PGBOOT_MIGRATE_PLAN_H
#define PGBOOT_MIGRATE_PLAN_H

#include <stdint.h>

#include "../platform/platform.h"
#include "source.h"

typedef enum {
    K_BIGINT,
    K_DOUBLE,
    K_NUMERIC, /* with p, s when p > 0 */
    K_BOOL,
    K_DATE,
    K_TS,
    K_TSTZ,
    K_EPOCH_TSTZ, /* integer epoch seconds -> timestamptz (--epoch-as-timestamp) */
    K_JSONB,
    K_UUID,
    K_VARCHAR, /* with len */
    K_TEXT,
    K_BYTEA,
} pg_kind;

/* What one scan of a column saw. */
typedef struct {
    int64_t n_null, n_int, n_real, n_text, n_blob;
    int64_t n_int_not01, n_big_int, n_real_nonint, n_real_nonfinite;
    int64_t n_badtext; /* invalid UTF-8 or NUL */
    int64_t n_text_nonbool, n_text_nondate, n_text_nonts, n_text_tz, n_text_naive;
    int64_t n_text_frac7, n_text_nonuuid, n_text_nonjson, n_text_noncontainer;
    int64_t n_text_nonnumeric;
    size_t max_chars;
    int max_int_digits, max_frac_digits; /* of numbers and numeric texts */
} col_stats;

typedef struct {
    int src;    /* index of the source column */
    char *name; /* target name */
    pg_kind kind;
    int p, s, len;
    char type_sql[64];
    char *reason;  /* why this type (NULL: the obvious one) */
    int identity;  /* the INTEGER PRIMARY KEY */
    int generated; /* computed by PostgreSQL, not copied */
    char *gen_sql; /* its translated expression */
    int64_t n_bad; /* values this type cannot hold exactly */
    col_stats st;
} plan_col;

typedef struct {
    src_table *src;
    char *name; /* target name */
    plan_col *cols;
    int ncols;
    int64_t rows;
    int64_t rejected;
    uint64_t bytes;           /* COPY bytes sent */
    uint64_t ms;              /* time to load */
    unsigned char digest[16]; /* of the rows sent (verify full) */
} plan_table;

typedef enum { ON_ERROR_STRICT = 0, ON_ERROR_WIDEN, ON_ERROR_REJECT } on_error_policy;

typedef struct {
    src_db *src;
    plan_table *tables;
    int ntables;
    int preserve_case;
    int epoch_as_timestamp;
    int detect_json;
    on_error_policy on_error;
} plan;

/* Fold and check names, scan every table, choose every type. */
PGB_MUST_USE int pgb_plan_make(plan *p, src_db *src, int preserve_case, int epoch_as_timestamp,
                               int detect_json, on_error_policy on_error, int full_scan);
void pgb_plan_free(plan *p);
/* Count again the values each column's type cannot hold (after the types
 * were changed, e.g. to the target's own). */
void pgb_plan_recount(plan *p);
/* The target name of a source table or column (for expression translation). */
const char *pgb_plan_table_name(const plan *p, const char *src_name);
const char *pgb_plan_col_name(const plan_table *t, const char *src_name);

/* Can a SQLite value (by storage class and bytes) be stored exactly in col? */
typedef struct sqlite3_value sqlite3_value;
int pgb_cell_ok(const plan_col *c, sqlite3_value *v, const char **why);
/* SELECT [rowid,] copied columns FROM the source table (malloc'd). */
char *pgb_plan_select_sql(const plan_table *t, int with_rowid);

#endif
