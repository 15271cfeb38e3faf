/* SQLite SQL tokens, and SQLite expressions translated to PostgreSQL (migrate/tokens.c). Internal.
 */
#ifndef PGBOOT_MIGRATE_TOKENS_H
#define PGBOOT_MIGRATE_TOKENS_H

#include <stddef.h>

#include "../platform/platform.h"

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

/* Translating SQLite expressions. */
/* The class of values a column holds in the target (0 when not known). */
enum { PGB_CLS_OTHER = 0, PGB_CLS_BOOL, PGB_CLS_INT, PGB_CLS_REAL, PGB_CLS_TEXT, PGB_CLS_BLOB };

/* How names are mapped while translating: a callback from a source name to
 * the target name, or NULL if it is not known (then a double-quoted token is
 * taken as a string, as SQLite does); *cls is the column's PGB_CLS_*: 0/1
 * compared with a boolean column become false/true, and operators whose
 * meaning depends on the operands' types (%, CAST, round) use it. */
typedef const char *(*pgb_name_map)(void *ctx, const char *name, int *cls);

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

/* Does the SQLite statement text read the clock: a call of datetime(),
 * date(), time(), julianday(), strftime() or unixepoch() (the only ones
 * translated are those of 'now' or of no time value, which means now), or
 * the string 'now'? 1 if so (or when it cannot be tokenized), else 0 (also
 * for NULL). */
int pgb_sql_reads_clock(const char *sql);

#endif
