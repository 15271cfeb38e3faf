/*
 * Internal interfaces of the SQLite -> PostgreSQL migration (the files of migrate/).
 * Not installed.
 */
#ifndef PGBOOT_MIGRATE_H
#define PGBOOT_MIGRATE_H

#include <pthread.h>
#include <stdint.h>

#include <sodium.h>

#include "../platform/platform.h"

/* ---- SQLite SQL tokens (migrate/tokens.c) ------------------------------ */
typedef enum {
    TK_END = 0,
    TK_IDENT,  /* bare word (keywords too) */
    TK_QIDENT, /* "x", [x] or `x` */
    TK_STRING, /* 'x' */
    TK_NUMBER,
    TK_BLOB,  /* x'ab' */
    TK_PARAM, /* ? :a @a $a */
    TK_OP,    /* punctuation and operators */
} pgb_tok_kind;

typedef struct {
    pgb_tok_kind kind;
    const char *start; /* in the source text */
    size_t len;
    char *text; /* unquoted value for identifiers and strings (malloc'd) */
} pgb_tok;

typedef struct {
    pgb_tok *t;
    size_t n;
} pgb_toks;

PGB_MUST_USE int pgb_tokenize(const char *sql, pgb_toks *out);
void pgb_toks_free(pgb_toks *t);
/* Is token i the (case-insensitive) keyword kw? */
int pgb_tok_is(const pgb_toks *t, size_t i, const char *kw);
/* Index of the token closing the parenthesis opened at i, or t->n. */
size_t pgb_tok_close(const pgb_toks *t, size_t i);

/* ---- translating SQLite expressions (migrate/tokens.c) ----------------- */

/* How names are mapped while translating: a callback from a source name to
 * the target name, or NULL if it is not known (then a double-quoted token is
 * taken as a string, as SQLite does); *is_bool tells that the column became
 * boolean, so that 0/1 compared with it become false/true. */
typedef const char *(*pgb_name_map)(void *ctx, const char *name, int *is_bool);

typedef enum {
    PGB_CTX_EXPR = 0, /* CHECK, WHERE, index expressions, generated columns */
    PGB_CTX_DEFAULT,  /* a column default; `target_type` is the column's type */
} pgb_expr_ctx;

/* Translate the SQLite expression tokens [from, to) to PostgreSQL. On
 * failure returns -1 and sets *why to a static reason (an unknown function,
 * ...). The result is appended to out. */
int pgb_translate_expr(const pgb_toks *t, size_t from, size_t to, pgb_expr_ctx ctx,
                       const char *target_type, pgb_name_map map, void *map_ctx, pgb_buf *out,
                       const char **why);

/* ---- values (migrate/values.c) ---------------------------------------- */

/* An ISO-8601 date or timestamp: "YYYY-MM-DD", optionally followed by "T" or
 * " " and "HH:MM[:SS[.f...]]", optionally by "Z" or "+HH[:MM]"/"-HH[:MM]".
 * Returns 0 if s is one, with its parts. */
typedef struct {
    int has_time;
    int has_zone;
    int frac_digits;
    int64_t micros; /* since 1970-01-01 00:00:00 (UTC when has_zone) */
} pgb_iso;
int pgb_parse_iso(const char *s, size_t n, pgb_iso *out);
/* A UUID as 8-4-4-4-12 hex (or 32 hex digits, or in braces): the 32 lower
 * hex digits into hex (33 bytes). */
int pgb_parse_uuid(const char *s, size_t n, char *hex);
/* 1: true-ish text, 0: false-ish, -1: neither. */
int pgb_parse_bool_text(const char *s, size_t n);
/* Valid UTF-8 without NUL bytes? */
int pgb_utf8_ok(const char *s, size_t n);
/* One JSON text as jansson's json_loadb(JSON_DECODE_ANY) takes it (and so
 * jsonb: valid UTF-8, no \u0000, paired surrogates, numbers within a
 * double / 64-bit integer, at most 2048 levels)? 0 if so, with *container
 * set for an object or array at the top; -1 if not. Allocates nothing. */
int pgb_json_check(const char *s, size_t n, int *container);
/* Number of UTF-8 characters. */
size_t pgb_utf8_len(const char *s, size_t n);
/* The shortest decimal text that reads back as exactly d (as PostgreSQL's
 * float8 output gives it); returns its length. buf: at least 32 bytes. */
int pgb_double_text(double d, char *buf);
/* Decimal digits of a number given as text: digits before and after the
 * point (after trimming trailing zeros); -1 if not a plain decimal number. */
int pgb_decimal_shape(const char *s, size_t n, int *int_digits, int *frac_digits);
/* A decimal text normalised for comparison: no '+', no leading zeros, no
 * trailing fraction zeros, "-0" -> "0". Into out (n + 2 bytes). */
void pgb_decimal_normal(const char *s, size_t n, char *out);

/* Text that reads back as exactly d, in one try (17 digits, not the fewest):
 * for a double precision column, where only the value counts. buf >= 32. */
int pgb_double_exact(double d, char *buf);
/* A REAL as text, exactly: the shortest digits that read back as the same
 * double, with ".0" kept on integral values (SQLite's own text form has
 * only 15 digits and would lose some). Returns the length; buf >= 40. */
int pgb_real_text(double d, char *buf);
/* Epoch seconds as "YYYY-MM-DD HH:MM:SS+00"; returns the length. */
int pgb_epoch_text(int64_t secs, char *buf, size_t cap);
/* A decimal in plain notation (no exponent) from "d.ddde+XX"-style text. */
void pgb_plain_decimal(const char *s, char *out, size_t cap);

/* ---- SHA-256 (migrate/sha256.c) -------------------------------------- */

/* With the CPU's SHA instructions when it has them (and portable is 0),
 * else libsodium's. */
typedef struct {
    int ni;
    uint32_t h[8];
    uint64_t len;
    unsigned char buf[64];
    size_t nbuf;
    crypto_hash_sha256_state sodium;
} pgb_sha256;
void pgb_sha256_init(pgb_sha256 *s, int portable);
void pgb_sha256_update(pgb_sha256 *s, const void *data, size_t n);
void pgb_sha256_final(pgb_sha256 *s, unsigned char out[32]);

/* ---- the SQLite source (migrate/source.c) ----------------------------- */

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
} src_col;

typedef struct {
    char *table; /* referenced table */
    char **from; /* columns here */
    char **to;   /* columns there (NULL entries: its primary key) */
    int n;
    char *on_update, *on_delete;
    int deferrable; /* DEFERRABLE INITIALLY DEFERRED */
} src_fk;

typedef struct {
    char *name;
    char *sql; /* CREATE INDEX text (NULL for constraint indexes) */
    int unique;
    char origin; /* 'c' CREATE INDEX, 'u' UNIQUE constraint, 'p' primary key */
    int partial;
    char **cols; /* for constraint indexes: column names */
    int ncols;
} src_index;

typedef struct {
    char *name;
    char *sql;
    int without_rowid;
    int autoincrement;
    int rowid_col; /* index of the INTEGER PRIMARY KEY column, -1 if none */
    src_col *cols;
    int ncols;
    char **checks; /* CHECK expression texts */
    int nchecks;
    src_fk *fks;
    int nfks;
    src_index *idx;
    int nidx;
    int64_t seq; /* sqlite_sequence value, if has_seq */
    int has_seq;
    int fts; /* an FTS5 table with its own content, read as a table */
} src_table;

typedef enum { SRC_VIEW, SRC_TRIGGER, SRC_FTS, SRC_VTAB } src_other_kind;

typedef struct {
    src_other_kind kind;
    char *name;
    char *table; /* a trigger's table */
    char *sql;
    /* FTS5: its columns and options */
    char **fts_cols;
    int nfts_cols;
    char *fts_content; /* content= ("" contentless, NULL: its own) */
    char *fts_config;  /* "simple", or "english" for the porter tokenizer */
} src_other;

typedef struct {
    sqlite3 *db;
    char *path;
    /* PRAGMA quick_check, run on a connection of its own while we scan */
    pthread_t check_thread;
    int check_started;
    int check_failed;
    char check_msg[512];
    src_table *tables;
    int ntables;
    src_other *others;
    int nothers;
    char **skipped; /* internal or shadow tables not migrated, with a reason */
    int nskipped;
} src_db;

/* Open read-only and begin the one read transaction everything happens in. */
PGB_MUST_USE int pgb_src_open(src_db *db, const char *path);
/* Wait for the integrity check started by pgb_src_open: damage anywhere in
 * the file (even in index pages a migration never reads) is an error. */
PGB_MUST_USE int pgb_src_check(src_db *db);
/* Read the schema. */
PGB_MUST_USE int pgb_src_introspect(src_db *db);
void pgb_src_close(src_db *db);
/* A message for the last SQLite error on db, naming the file. */
int pgb_src_fail(src_db *db, int code, const char *what);

/* ---- the plan (migrate/plan.c) --------------------------------- */

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

/* ---- canonical values for verification (migrate/copy.c) ---- */

/* Order-independent digest of a table's rows: each row hashed, the hashes
 * summed (first half) and xored (second half). */
typedef struct {
    uint64_t sum, xr, rows;
} pgb_digest;
void pgb_digest_row(pgb_digest *d, const unsigned char row_hash[16]);

/* ---- notes for the report (migrate/migrate.c) -------------------------- */
typedef struct pgb_report pgb_report;
void pgb_report_skip(pgb_report *r, const char *kind, const char *name, const char *reason);
void pgb_report_warn(pgb_report *r, const char *fmt, ...) PGB_PRINTF(2, 3);

#endif
