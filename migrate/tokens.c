/* SQLite SQL, token by token: a tokenizer for the schema SQL that SQLite keeps
 * (CREATE TABLE/INDEX/VIEW text), and a translator of its expressions
 * (CHECK, DEFAULT, partial-index WHERE, index expressions, generated columns)
 * into PostgreSQL. What has no faithful equivalent is refused with a reason,
 * never guessed: the caller reports it by name. */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tokens.h"

/* ---- tokens ------------------------------------------------------------- */

void pgb_toks_free(pgb_toks *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->t[i].text);
    free(t->t);
    memset(t, 0, sizeof *t);
}

static int is_id_start(unsigned char c)
{
    return isalpha(c) || c == '_' || c >= 0x80;
}

static int is_id_char(unsigned char c)
{
    return isalnum(c) || c == '_' || c == '$' || c >= 0x80;
}

/* The unquoted value of a quoted token: the quote char doubled inside. */
static char *unquote(const char *s, size_t n, char close)
{
    char *out = malloc(n + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 1; i + 1 < n; i++) {
        out[o++] = s[i];
        if (s[i] == close && close != ']' && i + 2 < n && s[i + 1] == close)
            i++;
    }
    out[o] = '\0';
    return out;
}

int pgb_tokenize(const char *sql, pgb_toks *out)
{
    memset(out, 0, sizeof *out);
    size_t cap = 0;
    const char *p = sql;
    for (;;) {
        while (*p && isspace((unsigned char)*p))
            p++;
        if (p[0] == '-' && p[1] == '-') {
            while (*p && *p != '\n')
                p++;
            continue;
        }
        if (p[0] == '/' && p[1] == '*') {
            const char *e = strstr(p + 2, "*/");
            p = e ? e + 2 : p + strlen(p);
            continue;
        }
        if (!*p)
            break;
        pgb_tok tk = {.start = p};
        unsigned char c = (unsigned char)*p;
        const char *q = p;
        if ((c == 'x' || c == 'X') && p[1] == '\'') {
            q = p + 2;
            while (*q && *q != '\'')
                q++;
            if (!*q)
                goto bad;
            q++;
            tk.kind = TK_BLOB;
            tk.text = pgb_strdup("");
        } else if (c == '\'' || c == '"' || c == '`' || c == '[') {
            char close = c == '[' ? ']' : (char)c;
            q = p + 1;
            for (;;) {
                if (!*q)
                    goto bad;
                if (*q == close) {
                    if (close != ']' && q[1] == close) {
                        q += 2;
                        continue;
                    }
                    q++;
                    break;
                }
                q++;
            }
            tk.kind = c == '\'' ? TK_STRING : TK_QIDENT;
            tk.text = unquote(p, (size_t)(q - p), close);
            if (!tk.text)
                goto oom;
        } else if (isdigit(c) || (c == '.' && isdigit((unsigned char)p[1]))) {
            if (c == '0' && (p[1] == 'x' || p[1] == 'X')) {
                q = p + 2;
                while (isxdigit((unsigned char)*q))
                    q++;
            } else {
                while (isdigit((unsigned char)*q) || *q == '.')
                    q++;
                if ((*q == 'e' || *q == 'E') &&
                    (isdigit((unsigned char)q[1]) ||
                     ((q[1] == '+' || q[1] == '-') && isdigit((unsigned char)q[2])))) {
                    q += 2;
                    while (isdigit((unsigned char)*q))
                        q++;
                }
            }
            tk.kind = TK_NUMBER;
        } else if (is_id_start(c)) {
            while (is_id_char((unsigned char)*q))
                q++;
            tk.kind = TK_IDENT;
            tk.text = pgb_printf("%.*s", (int)(q - p), p);
            if (!tk.text)
                goto oom;
        } else if (c == '?' || c == ':' || c == '@' || c == '$') {
            q = p + 1;
            while (is_id_char((unsigned char)*q))
                q++;
            tk.kind = TK_PARAM;
        } else {
            static const char *const two[] = {
                "||", "<<", ">>", "<=", ">=", "==", "!=", "<>", "->", NULL};
            q = p + 1;
            if (p[0] == '-' && p[1] == '>' && p[2] == '>')
                q = p + 3;
            else
                for (int i = 0; two[i]; i++)
                    if (p[0] == two[i][0] && p[1] == two[i][1])
                        q = p + 2;
            tk.kind = TK_OP;
        }
        tk.len = (size_t)(q - p);
        if (out->n + 1 >= cap) {
            cap = cap ? cap * 2 : 64;
            pgb_tok *nt = realloc(out->t, cap * sizeof *nt);
            if (!nt) {
                free(tk.text);
                goto oom;
            }
            out->t = nt;
        }
        out->t[out->n++] = tk;
        p = q;
    }
    if (!out->t && !(out->t = calloc(1, sizeof *out->t)))
        goto oom;
    out->t[out->n] = (pgb_tok){.kind = TK_END, .start = p};
    return 0;
bad:
    pgb_toks_free(out);
    return pgb_fail(PGBOOT_EINVALID, "unterminated quote in SQL near '%.40s'", p);
oom:
    pgb_toks_free(out);
    return pgb_fail(PGBOOT_ENOMEM, "out of memory");
}

int pgb_tok_is(const pgb_toks *t, size_t i, const char *kw)
{
    return i < t->n && t->t[i].kind == TK_IDENT && strcasecmp(t->t[i].text, kw) == 0;
}

static int tok_op(const pgb_toks *t, size_t i, const char *op)
{
    return i < t->n && t->t[i].kind == TK_OP && t->t[i].len == strlen(op) &&
           memcmp(t->t[i].start, op, t->t[i].len) == 0;
}

size_t pgb_tok_close(const pgb_toks *t, size_t i)
{
    int depth = 0;
    for (; i < t->n; i++) {
        if (tok_op(t, i, "("))
            depth++;
        else if (tok_op(t, i, ")") && --depth == 0)
            return i;
    }
    return t->n;
}

/* ---- translation ---------------------------------------------------------- */

/* Words that pass through as they are. */
static const char *const keywords[] = {
    "AND",   "OR",        "NOT",    "NULL",      "IS",     "IN",      "BETWEEN",
    "CASE",  "WHEN",      "THEN",   "ELSE",      "END",    "CAST",    "AS",
    "TRUE",  "FALSE",     "ESCAPE", "DISTINCT",  "EXISTS", "SELECT",  "FROM",
    "WHERE", "GROUP",     "BY",     "ORDER",     "HAVING", "LIMIT",   "OFFSET",
    "JOIN",  "LEFT",      "INNER",  "OUTER",     "ON",     "USING",   "UNION",
    "ALL",   "INTERSECT", "EXCEPT", "ASC",       "DESC",   "CROSS",   "NATURAL",
    "WITH",  "RECURSIVE", "OVER",   "PARTITION", "ISNULL", "NOTNULL", NULL};

static int is_keyword(const char *w)
{
    for (int i = 0; keywords[i]; i++)
        if (!strcasecmp(w, keywords[i]))
            return 1;
    return 0;
}

/* SQLite's functions that PostgreSQL has: under the same name, under
 * another, or translated with their arguments. */
typedef enum {
    FN_SAME,     /* the same meaning under the same name */
    FN_RENAME,   /* the same meaning as pg */
    FN_FORMAT,   /* pg is a template of the translated arguments (xl_format) */
    FN_MINMAX,   /* of several arguments: pg (least/greatest); of one: the aggregate */
    FN_SUBSTR,   /* xl_substr */
    FN_ROUND,    /* xl_round */
    FN_LENGTH,   /* length: of a number, of its text */
    FN_SUM,      /* sum: of integers an integer */
    FN_DATE,     /* date_function */
    FN_JSON_GET, /* json_extract */
} fn_kind;

typedef struct {
    const char *sqlite;
    fn_kind kind;
    const char *pg;
    int min_args, max_args; /* FN_FORMAT */
    unsigned textargs;      /* FN_FORMAT: arguments SQLite reads as text (bit k: %k+1) */
} sqlite_function;

/* Each one means what it means in SQLite, edge values included (NULLs,
 * negative and zero arguments, blobs); tests/support/mig_expr_diff.py
 * compares them with SQLite. SQLite's lower/upper fold ASCII letters only:
 * so does PostgreSQL's under the "C" collation. */
static const sqlite_function functions[] = {
    {"lower", FN_FORMAT, "lower(%1::text COLLATE \"C\")", 1, 1, 1},
    {"upper", FN_FORMAT, "upper(%1::text COLLATE \"C\")", 1, 1, 1},
    {"length", FN_LENGTH, NULL, 0, 0, 0},
    {"abs", FN_SAME, NULL, 0, 0, 0},
    {"coalesce", FN_SAME, NULL, 0, 0, 0},
    {"nullif", FN_SAME, NULL, 0, 0, 0},
    {"replace", FN_FORMAT, "replace(%*)", 3, 3, 7},
    {"trim", FN_FORMAT, "trim(%*)", 1, 2, 3},
    {"ltrim", FN_FORMAT, "ltrim(%*)", 1, 2, 3},
    {"rtrim", FN_FORMAT, "rtrim(%*)", 1, 2, 3},
    {"substr", FN_SUBSTR, NULL, 0, 0, 0},
    {"substring", FN_SUBSTR, NULL, 0, 0, 0},
    {"round", FN_ROUND, NULL, 0, 0, 0},
    {"sum", FN_SUM, NULL, 0, 0, 0},
    {"count", FN_SAME, NULL, 0, 0, 0},
    /* SQLite's avg and total are reals */
    {"avg", FN_FORMAT, "avg(%1::float8)", 1, 1, 0},
    {"total", FN_FORMAT, "coalesce(sum(%1::float8), 0::float8)", 1, 1, 0},
    {"ifnull", FN_RENAME, "coalesce", 0, 0, 0},
    /* position() takes text and bytea alike; 0 when not found */
    {"instr", FN_FORMAT, "position(%2 IN %1)", 2, 2, 3},
    {"iif", FN_FORMAT, "(CASE WHEN %1 THEN %2 ELSE %3 END)", 3, 3, 0},
    {"min", FN_MINMAX, "least", 0, 0, 0},
    {"max", FN_MINMAX, "greatest", 0, 0, 0},
    {"datetime", FN_DATE, NULL, 0, 0, 0},
    {"date", FN_DATE, NULL, 0, 0, 0},
    {"time", FN_DATE, NULL, 0, 0, 0},
    {"strftime", FN_DATE, NULL, 0, 0, 0},
    {"unixepoch", FN_DATE, NULL, 0, 0, 0},
    {"json_extract", FN_JSON_GET, NULL, 0, 0, 0},
};

static const sqlite_function *find_function(const char *w)
{
    for (size_t i = 0; i < sizeof functions / sizeof *functions; i++)
        if (!strcasecmp(w, functions[i].sqlite))
            return &functions[i];
    return NULL;
}

static const char *type_name(const char *sqlite_type)
{
    if (!strcasecmp(sqlite_type, "INTEGER") || !strcasecmp(sqlite_type, "INT"))
        return "bigint";
    if (!strcasecmp(sqlite_type, "REAL") || !strcasecmp(sqlite_type, "FLOAT") ||
        !strcasecmp(sqlite_type, "DOUBLE"))
        return "double precision";
    if (!strcasecmp(sqlite_type, "TEXT"))
        return "text";
    if (!strcasecmp(sqlite_type, "BLOB"))
        return "bytea";
    if (!strcasecmp(sqlite_type, "NUMERIC"))
        return "numeric";
    return NULL;
}

static int is_type(const char *target, const char *prefix)
{
    return target && !strncmp(target, prefix, strlen(prefix));
}

/* strftime format -> to_char format; NULL if a specifier has no equivalent. */
static char *strftime_to_char(const char *f)
{
    pgb_buf b = {0};
    for (const char *p = f; *p; p++) {
        if (*p != '%') {
            /* to_char reads letters as patterns (Q, W, J, TZ, ...): quote them */
            if (isalpha((unsigned char)*p) || *p == '"') {
                pgb_buf_add(&b, "\"", 1);
                pgb_buf_add(&b, p, 1);
                pgb_buf_add(&b, "\"", 1);
            } else {
                pgb_buf_add(&b, p, 1);
            }
            continue;
        }
        p++;
        switch (*p) {
        case 'Y':
            pgb_buf_puts(&b, "YYYY");
            break;
        case 'm':
            pgb_buf_puts(&b, "MM");
            break;
        case 'd':
            pgb_buf_puts(&b, "DD");
            break;
        case 'H':
            pgb_buf_puts(&b, "HH24");
            break;
        case 'M':
            pgb_buf_puts(&b, "MI");
            break;
        case 'S':
            pgb_buf_puts(&b, "SS");
            break;
        case 'f':
            pgb_buf_puts(&b, "SS.MS");
            break;
        case 'j':
            pgb_buf_puts(&b, "DDD");
            break;
        case '%':
            pgb_buf_puts(&b, "%");
            break;
        default:
            pgb_buf_free(&b);
            return NULL;
        }
    }
    if (b.oom) {
        pgb_buf_free(&b);
        return NULL;
    }
    return b.s ? b.s : pgb_strdup("");
}

/* The current time as SQLite's date functions give it ('now', optionally
 * 'localtime'/'utc'), rendered for the target: a timestamp column gets a
 * timestamp, a text column text in the same format, an integer column epoch
 * seconds. */
static int now_expr(const char *fmt, int local, const char *target, pgb_buf *out, const char **why)
{
    const char *ts = local ? "localtimestamp" : "(now() AT TIME ZONE 'UTC')";
    if (!strcmp(fmt, "%s")) {
        /* whole seconds, truncated as SQLite's (a cast would round); with
         * 'localtime', SQLite's seconds of the local wall-clock time, as
         * if it were UTC, which is what extract gives for a timestamp */
        pgb_buf_printf(out, "(floor(extract(epoch from %s))::bigint)",
                       local ? "localtimestamp" : "now()");
        return 0;
    }
    /* A timestamp column gets the time at the format's precision: a date
     * format gives midnight, seconds give whole seconds, %f milliseconds. */
    int has_date = strstr(fmt, "%Y") || strstr(fmt, "%d");
    const char *unit = strstr(fmt, "%f")   ? "milliseconds"
                       : strstr(fmt, "%S") ? "second"
                       : strstr(fmt, "%M") ? "minute"
                       : strstr(fmt, "%H") ? "hour"
                                           : "day";
    if (is_type(target, "timestamp with time zone") || is_type(target, "timestamptz")) {
        if (!has_date) {
            *why = "a time of day for a timestamp column";
            return -1;
        }
        pgb_buf_printf(out, "date_trunc('%s', now())", unit);
        return 0;
    }
    if (is_type(target, "timestamp")) {
        if (!has_date) {
            *why = "a time of day for a timestamp column";
            return -1;
        }
        pgb_buf_printf(out, "date_trunc('%s', %s)", unit, ts);
        return 0;
    }
    if (is_type(target, "date")) {
        pgb_buf_printf(out, "(%s)::date", ts);
        return 0;
    }
    if (is_type(target, "bigint") || is_type(target, "integer") || is_type(target, "double") ||
        is_type(target, "numeric")) {
        *why = "a date/time default for a numeric column";
        return -1;
    }
    char *tc = strftime_to_char(fmt);
    if (!tc) {
        *why = "a strftime format with no PostgreSQL equivalent";
        return -1;
    }
    pgb_buf_printf(out, "to_char(%s, ", ts);
    pgb_buf_literal(out, tc, strlen(tc));
    pgb_buf_puts(out, ")");
    free(tc);
    return 0;
}

/* datetime()/date()/time()/strftime()/unixepoch() of 'now': args [a, close). */
static int date_function(const pgb_toks *t, const char *fn, size_t a, size_t close,
                         const char *target, pgb_buf *out, const char **why)
{
    const char *fmt = NULL;
    size_t i = a;
    if (!strcasecmp(fn, "strftime")) {
        if (i >= close || t->t[i].kind != TK_STRING) {
            *why = "strftime() with a computed format";
            return -1;
        }
        fmt = t->t[i].text;
        i++;
        if (tok_op(t, i, ","))
            i++;
    } else if (!strcasecmp(fn, "datetime")) {
        fmt = "%Y-%m-%d %H:%M:%S";
    } else if (!strcasecmp(fn, "date")) {
        fmt = "%Y-%m-%d";
    } else if (!strcasecmp(fn, "time")) {
        fmt = "%H:%M:%S";
    } else if (!strcasecmp(fn, "unixepoch")) {
        fmt = "%s";
    }
    if (!fmt) {
        *why = "a SQLite date function with no PostgreSQL equivalent";
        return -1;
    }
    /* The time value: 'now' (or nothing, which means now), then modifiers. */
    int local = 0;
    if (i < close) {
        if (t->t[i].kind != TK_STRING || strcasecmp(t->t[i].text, "now") != 0) {
            *why = "a date function of something other than 'now'";
            return -1;
        }
        i++;
    }
    while (i < close) {
        if (tok_op(t, i, ",")) {
            i++;
            continue;
        }
        /* in order: 'localtime' makes the time local, 'utc' makes it UTC
         * again ('now', 'localtime', 'utc' is now in UTC); each where the
         * time is so already changes nothing, as SQLite 3.42 and later have
         * it (earlier ones shift it by the zone once more) */
        if (t->t[i].kind == TK_STRING && !strcasecmp(t->t[i].text, "localtime"))
            local = 1;
        else if (t->t[i].kind == TK_STRING && !strcasecmp(t->t[i].text, "utc"))
            local = 0;
        else {
            *why = "a date function modifier other than 'localtime' or 'utc'";
            return -1;
        }
        i++;
    }
    if (!strcasecmp(fn, "time") && !is_type(target, "text") && target) {
        *why = "time('now') for a non-text column";
        return -1;
    }
    return now_expr(fmt, local, target, out, why);
}

int pgb_sql_reads_clock(const char *sql)
{
    static const char *const fns[] = {"datetime",  "date",     "time",
                                      "julianday", "strftime", "unixepoch"};
    pgb_toks t;
    if (!sql)
        return 0;
    if (pgb_tokenize(sql, &t) != 0)
        return 1;
    int reads = 0;
    for (size_t i = 0; i < t.n && !reads; i++) {
        if (t.t[i].kind == TK_STRING && !strcasecmp(t.t[i].text, "now"))
            reads = 1;
        for (size_t k = 0; k < sizeof fns / sizeof *fns && !reads; k++)
            reads = pgb_tok_is(&t, i, fns[k]) && tok_op(&t, i + 1, "(");
    }
    pgb_toks_free(&t);
    return reads;
}

static char *real_text(const char *a);

/* json_extract(col, '$.a.b[0]') for a column and a literal path of keys and
 * indexes: the value at ("col"::json #> '{a,b,0}') as SQLite gives it, in
 * text (PostgreSQL's column has one type where SQLite gives the JSON value's
 * own: a number in a text column reads the same). */
static int json_extract(const pgb_toks *t, size_t a, size_t close, pgb_name_map map, void *map_ctx,
                        pgb_buf *out, const char **why)
{
    *why = "json_extract() of something other than a column and a literal path";
    if (a + 3 != close || !tok_op(t, a + 1, ",") || t->t[a + 2].kind != TK_STRING ||
        (t->t[a].kind != TK_IDENT && t->t[a].kind != TK_QIDENT) || !map)
        return -1;
    int isb;
    const char *col = map(map_ctx, t->t[a].text, &isb);
    const char *p = t->t[a + 2].text;
    if (!col || p[0] != '$')
        return -1;
    pgb_buf path = {0};
    for (p++; *p;) {
        size_t n;
        if (*p == '.') {
            p++;
            n = strcspn(p, ".[");
        } else if (*p == '[') {
            p++;
            n = strspn(p, "0123456789");
            if (p[n] != ']' || n == 0) {
                pgb_buf_free(&path);
                return -1;
            }
        } else {
            pgb_buf_free(&path);
            return -1;
        }
        if (n == 0 || memchr(p, ',', n) || memchr(p, '}', n) || memchr(p, '"', n)) {
            pgb_buf_free(&path);
            return -1;
        }
        pgb_buf_puts(&path, path.len ? "," : "");
        pgb_buf_add(&path, p, n);
        p += n;
        if (*p == ']')
            p++;
    }
    /* j: the value at the path, as json (its own text, keys in order) */
    pgb_buf j = {0};
    pgb_buf_puts(&j, "(");
    pgb_buf_ident(&j, col);
    pgb_buf_printf(&j, "::json #> '{%s}')", path.s ? path.s : "");
    pgb_buf_free(&path);
    char *jt = j.s ? pgb_printf("%s::text", j.s) : NULL;
    char *num = jt ? real_text(jt) : NULL;
    free(jt);
    if (!num || j.oom) {
        free(num);
        pgb_buf_free(&j);
        *why = "out of memory";
        return -1;
    }
    /* As SQLite gives it (in text): a string unquoted, true and false as 1
     * and 0, an integer as its digits, another number as a REAL's text, an
     * object or array minified (white space outside strings removed). */
    const char *v = j.s;
    pgb_buf_printf(out,
                   "(CASE json_typeof(%s) WHEN 'string' THEN %s #>> '{}' WHEN 'boolean' THEN "
                   "CASE WHEN %s::text = 'true' THEN '1' ELSE '0' END WHEN 'number' THEN CASE "
                   "WHEN %s::text ~ '^-?[0-9]{1,19}$' AND (%s::text)::numeric BETWEEN "
                   "-9223372036854775808 AND 9223372036854775807 THEN (%s::text)::bigint::text "
                   "ELSE %s END "
                   "WHEN 'null' THEN NULL ELSE regexp_replace(%s::text, "
                   "'(\"(?:[^\"\\\\]|\\\\.)*\")|\\s+', '\\1', 'g') END)",
                   v, v, v, v, v, v, num, v);
    free(num);
    pgb_buf_free(&j);
    return 0;
}

static int needs_space(const pgb_buf *out)
{
    if (!out->len)
        return 0;
    char c = out->s[out->len - 1];
    return c != '(' && c != ' ';
}

static int is_cmp(const pgb_toks *t, size_t i)
{
    return tok_op(t, i, "=") || tok_op(t, i, "==") || tok_op(t, i, "!=") || tok_op(t, i, "<>");
}

static int is_01(const pgb_tok *k)
{
    return k->kind == TK_NUMBER && k->len == 1 && (k->start[0] == '0' || k->start[0] == '1');
}

/* Does token i name a column that became boolean? */
static int bool_col(const pgb_toks *t, size_t i, pgb_name_map map, void *map_ctx)
{
    if (!map || i >= t->n || (t->t[i].kind != TK_IDENT && t->t[i].kind != TK_QIDENT))
        return 0;
    int b = 0;
    map(map_ctx, t->t[i].text, &b);
    return b == PGB_CLS_BOOL;
}

/* One expression's translation: what every step reads. */
typedef struct {
    const pgb_toks *t;
    size_t from, to;
    pgb_expr_ctx ctx;
    const char *target;
    pgb_name_map map;
    void *map_ctx;
    pgb_buf *out;
    const char **why;
} xlate;

static void space(pgb_buf *out)
{
    if (needs_space(out))
        pgb_buf_puts(out, " ");
}

/* A real as SQLite converts it to an integer: truncated, saturating at
 * the ends of the 64-bit range (malloc'd). */
static char *real_to_int(const char *a)
{
    return pgb_printf("(CASE WHEN %s::float8 >= 9223372036854775807::float8 THEN "
                      "9223372036854775807::bigint WHEN %s::float8 <= "
                      "-9223372036854775808::float8 THEN '-9223372036854775808'::bigint ELSE "
                      "trunc(%s::float8)::bigint END)",
                      a, a, a);
}

/* A real as SQLite writes it as text (printf's %!.15g): 15 significant
 * digits, ".0" after an integral value, outside [1e-4, 1e15) a mantissa and
 * an exponent of at least two digits, Inf and -Inf (malloc'd). PostgreSQL's
 * float8 to numeric keeps the same 15 digits (%.15g). */
static char *real_text(const char *a)
{
    char *v = pgb_printf("(%s)::float8::numeric", a);
    char *big = v ? pgb_printf("trunc(abs(%s))::text", v) : NULL;
    char *small = v ? pgb_printf("substring(abs(%s)::text from '^0\\.0*([1-9][0-9]*)$')", v) : NULL;
    char *zeros = v ? pgb_printf("length(substring(abs(%s)::text from '^0\\.(0*)'))", v) : NULL;
    char *digits =
        big && small
            ? pgb_printf("rtrim(CASE WHEN abs(%s) < 1 THEN %s ELSE %s END, '0')", v, small, big)
            : NULL;
    /* the exponent, of two digits at least (lpad would cut a third) */
    char *e = big && zeros ? pgb_printf("CASE WHEN abs(%s) < 1 THEN %s + 1 ELSE length(%s) - 1 END",
                                        v, zeros, big)
                           : NULL;
    char *exp = e ? pgb_printf("CASE WHEN abs(%s) < 1 THEN '-' ELSE '+' END || CASE WHEN %s < 10 "
                               "THEN '0' ELSE '' END || (%s)::text",
                               v, e, e)
                  : NULL;
    free(e);
    char *r =
        digits && exp
            ? pgb_printf("(CASE WHEN %s::float8 = 'Infinity' THEN 'Inf' WHEN %s::float8 = "
                         "'-Infinity' THEN '-Inf' WHEN %s::float8 = 0 THEN '0.0' WHEN "
                         "abs(%s) >= 1e15 OR abs(%s) < 0.0001 THEN CASE WHEN %s < 0 THEN "
                         "'-' ELSE '' END || left(%s, 1) || '.' || coalesce(nullif(substr(%s, "
                         "2), ''), '0') || 'e' || %s ELSE %s::text || CASE WHEN strpos(%s::text, "
                         "'.') > 0 THEN '' ELSE '.0' END END)",
                         a, a, a, v, v, v, digits, digits, exp, v, v)
            : NULL;
    free(v);
    free(big);
    free(small);
    free(zeros);
    free(digits);
    free(exp);
    return r;
}

/* A text as SQLite's CAST reads a number from it: after white space, the
 * longest prefix that is an integer (saturating at the ends of 64 bits) or
 * a real; 0 when there is none; NULL stays NULL (malloc'd). */
static char *text_to_number(const char *a, int to_int)
{
    if (to_int) {
        char *m = pgb_printf("substring(%s from '^[ \\t\\n\\v\\f\\r]*([+-]?[0-9]+)')", a);
        char *r = m ? pgb_printf("(CASE WHEN %s IS NULL THEN NULL WHEN %s IS NULL THEN 0::bigint "
                                 "WHEN %s::numeric > 9223372036854775807 THEN "
                                 "9223372036854775807::bigint WHEN %s::numeric < "
                                 "-9223372036854775808 THEN '-9223372036854775808'::bigint ELSE "
                                 "%s::bigint END)",
                                 a, m, m, m, m)
                    : NULL;
        free(m);
        return r;
    }
    char *m = pgb_printf("substring(%s from '^[ \\t\\n\\v\\f\\r]*([+-]?([0-9]+\\.?[0-9]*|\\.[0-9]+)"
                         "([eE][+-]?[0-9]+)?)')",
                         a);
    /* no number after a minus sign: -0.0 */
    char *r = m ? pgb_printf("(CASE WHEN %s IS NULL THEN NULL WHEN %s IS NULL THEN CASE WHEN %s ~ "
                             "'^[ \t\n\v\f\r]*-' THEN -0::float8 ELSE 0::float8 END ELSE "
                             "%s::float8 END)",
                             a, m, a, m)
                : NULL;
    free(m);
    return r;
}

/* ---- SQLite's meaning, spelled in PostgreSQL ------------------------------------ */

static int sub(const xlate *x, size_t from, size_t to)
{
    return pgb_translate_expr(x->t, from, to, x->ctx, x->target, x->map, x->map_ctx, x->out,
                              x->why);
}

/* The translation of [from, to) as a string of its own (malloc'd), in
 * parentheses. */
static char *sub_str(const xlate *x, size_t from, size_t to)
{
    pgb_buf b = {0};
    pgb_buf_puts(&b, "(");
    if (from >= to ||
        pgb_translate_expr(x->t, from, to, x->ctx, x->target, x->map, x->map_ctx, &b, x->why) !=
            0 ||
        b.oom) {
        if (from >= to)
            *x->why = "an empty argument";
        pgb_buf_free(&b);
        return NULL;
    }
    pgb_buf_puts(&b, ")");
    if (b.oom) {
        pgb_buf_free(&b);
        return NULL;
    }
    return b.s;
}

#define MAX_ARGS 16

/* The arguments of a call whose "(" is at open and ")" at close: up to
 * MAX_ARGS token ranges; returns their number, or -1 for too many. */
static int split_args(const pgb_toks *t, size_t open, size_t close, size_t from[MAX_ARGS],
                      size_t to[MAX_ARGS])
{
    if (open + 1 == close)
        return 0;
    int n = 0;
    from[0] = open + 1;
    for (size_t j = open + 1; j < close; j++) {
        if (tok_op(t, j, "("))
            j = pgb_tok_close(t, j);
        else if (tok_op(t, j, ",")) {
            to[n++] = j;
            if (n == MAX_ARGS)
                return -1;
            from[n] = j + 1;
        }
    }
    to[n++] = close;
    return n;
}

/* The class of the values of [from, to) when it is a literal or a column
 * (with a sign), else PGB_CLS_OTHER. */
static int range_class(const xlate *x, size_t from, size_t to)
{
    const pgb_toks *t = x->t;
    while (from + 1 < to && (tok_op(t, from, "-") || tok_op(t, from, "+")))
        from++;
    while (from + 2 < to && tok_op(t, from, "(") && pgb_tok_close(t, from) == to - 1) {
        from++;
        to--;
    }
    if (from + 1 != to)
        return PGB_CLS_OTHER;
    const pgb_tok *k = &t->t[from];
    if (k->kind == TK_NUMBER)
        return memchr(k->start, '.', k->len) ||
                       ((memchr(k->start, 'e', k->len) || memchr(k->start, 'E', k->len)) &&
                        !(k->len > 1 && (k->start[1] == 'x' || k->start[1] == 'X')))
                   ? PGB_CLS_REAL
                   : PGB_CLS_INT;
    if (k->kind == TK_STRING)
        return PGB_CLS_TEXT;
    if (k->kind == TK_BLOB)
        return PGB_CLS_BLOB;
    if ((k->kind == TK_IDENT || k->kind == TK_QIDENT) && x->map && !is_keyword(k->text)) {
        int cls = 0;
        if (x->map(x->map_ctx, k->text, &cls))
            return cls;
    }
    return PGB_CLS_OTHER;
}

/* A literal integer argument: 1 and its value in *v. */
static int literal_int(const pgb_toks *t, size_t from, size_t to, long long *v)
{
    int neg = 0;
    if (from + 2 == to && (tok_op(t, from, "-") || tok_op(t, from, "+"))) {
        neg = tok_op(t, from, "-");
        from++;
    }
    if (from + 1 != to || t->t[from].kind != TK_NUMBER)
        return 0;
    const pgb_tok *k = &t->t[from];
    for (size_t j = 0; j < k->len; j++)
        if (!isdigit((unsigned char)k->start[j]) || j > 9)
            return 0;
    *v = strtoll(k->start, NULL, 10) * (neg ? -1 : 1);
    return 1;
}

/* substr(X, Y[, Z]) as SQLite counts: characters of text, bytes of a blob,
 * from 1; Y < 0 counts from the end, Y = 0 is the place before the first,
 * Z < 0 takes the |Z| before Y. The window [lo, hi) in 0-based places is
 * clamped to the value, then PostgreSQL's substr(X, lo + 1, hi - lo). */
static int xl_substr(const xlate *x, int n, size_t *af, size_t *at)
{
    if (n != 2 && n != 3) {
        *x->why = "substr() takes two or three arguments";
        return -1;
    }
    long long y = 0, z = 0;
    int ly = literal_int(x->t, af[1], at[1], &y);
    int lz = n == 3 && literal_int(x->t, af[2], at[2], &z);
    char *a = sub_str(x, af[0], at[0]);
    /* of a number: of its text, as SQLite writes it */
    int cls = range_class(x, af[0], at[0]);
    if (a && (cls == PGB_CLS_INT || cls == PGB_CLS_REAL)) {
        char *as = cls == PGB_CLS_INT ? pgb_printf("(%s::text)", a) : real_text(a);
        free(a);
        a = as;
    }
    char *b = a ? sub_str(x, af[1], at[1]) : NULL;
    char *c = b && n == 3 ? sub_str(x, af[2], at[2]) : NULL;
    if (!a || !b || (n == 3 && !c)) {
        free(a);
        free(b);
        return -1;
    }
    pgb_buf *o = x->out;
    space(o);
    /* SQLite's substr of an empty blob is NULL */
    int blob = range_class(x, af[0], at[0]) == PGB_CLS_BLOB;
    if (blob)
        pgb_buf_printf(o, "(CASE WHEN length(%s) = 0 THEN NULL ELSE ", a);
    if (ly && y > 0 && (n == 2 || (lz && z >= 0))) {
        /* PostgreSQL's own substr means the same here */
        if (n == 2)
            pgb_buf_printf(o, "substr(%s, %lld)", a, y);
        else
            pgb_buf_printf(o, "substr(%s, %lld, %lld)", a, y, z);
    } else {
        /* s0: the 0-based place Y names */
        char *s0 = pgb_printf("(CASE WHEN %s::bigint > 0 THEN %s::bigint - 1 WHEN %s::bigint < 0 "
                              "THEN length(%s) + %s::bigint ELSE -1 END)",
                              b, b, b, a, b);
        char *lo = NULL, *hi = NULL;
        if (s0 && n == 2) {
            lo = pgb_strdup(s0);
            hi = pgb_printf("length(%s)", a);
        } else if (s0) {
            lo = pgb_printf("(%s + least(%s::bigint, 0))", s0, c);
            hi = pgb_printf("(%s + greatest(%s::bigint, 0))", s0, c);
        }
        /* greatest() and least() pass over NULLs: a NULL Y or Z is NULL */
        if (lo && hi)
            pgb_buf_printf(o,
                           "(CASE WHEN %s IS NULL%s%s%s THEN NULL ELSE substr(%s, (greatest(%s, 0) "
                           "+ 1)::int, greatest(least(%s, length(%s)) - greatest(%s, 0), 0)::int) "
                           "END)",
                           b, c ? " OR " : "", c ? c : "", c ? " IS NULL" : "", a, lo, hi, a, lo);
        else
            o->oom = 1;
        free(s0);
        free(lo);
        free(hi);
    }
    if (blob)
        pgb_buf_puts(o, " END)");
    free(a);
    free(b);
    free(c);
    return 0;
}

/* round(X[, N]) as SQLite: a real, N clamped to [0, 30]; halves away from
 * zero. N = 0 adds +-0.5 and truncates in double arithmetic (as SQLite does);
 * N > 0 rounds the double's decimal value (to about 30 digits: the double,
 * plus what its 15-digit numeric misses), and reads the result back as a
 * double. Beyond 2^52 a double has no fraction: X itself. */
static int xl_round(const xlate *x, int n, size_t *af, size_t *at)
{
    if (n != 1 && n != 2) {
        *x->why = "round() takes one or two arguments";
        return -1;
    }
    long long d = 0;
    int ld = n == 1 || literal_int(x->t, af[1], at[1], &d);
    char *a = sub_str(x, af[0], at[0]);
    char *b = a && n == 2 ? sub_str(x, af[1], at[1]) : NULL;
    if (!a || (n == 2 && !b)) {
        free(a);
        return -1;
    }
    char *r = pgb_printf("(%s)::float8", a);
    char *zero = pgb_printf("(trunc(%s + CASE WHEN %s < 0 THEN -0.5::float8 ELSE 0.5::float8 END) "
                            "+ 0::float8)",
                            r, r);
    char *digits = NULL;
    if (!ld || d > 0) {
        const char *nd = ld ? NULL : b;
        char *dn = ld ? pgb_printf("%lld", d > 30 ? 30 : d)
                      : pgb_printf("least(greatest(%s::int, 0), 30)", nd);
        /* SQLite (3.40, printf's %.Nf) prints |X| + 0.5e-N, plus |X| * 3e-16
         * when N + e/3 < 15 (e: X's binary exponent), with at most 16
         * significant digits (truncated), and reads it back. Exactly: |X| =
         * m / 2^k with m an integer below 2^54, so s = |X| * 10^40
         * (truncated) is an integer; add, then cut at N decimals or the
         * 16th digit. */
        char *e = pgb_printf("floor(ln(abs(%s)) / ln(2::float8))::int", r);
        char *s = e ? pgb_printf("div((abs(%s) * 2::float8 ^ (53 - %s))::bigint::numeric * "
                                 "10::numeric ^ 40, 2::numeric ^ (53 - %s))",
                                 r, e, e)
                    : NULL;
        char *sv = s ? pgb_printf("(%s + 5 * 10::numeric ^ (39 - %s) + CASE WHEN %s + %s / 3 < 15 "
                                  "THEN div(%s * 3, 10::numeric ^ 16) ELSE 0 END)",
                                  s, dn ? dn : "0", dn ? dn : "0", e, s)
                     : NULL;
        free(e);
        free(s);
        char *dd =
            sv ? pgb_printf("least(%s, 56 - length(trunc(%s)::text))", dn ? dn : "0", sv) : NULL;
        /* a negative value printed as zero reads back as -0.0 */
        digits = dd ? pgb_printf("CASE WHEN abs(%s) < 1e-35::float8 THEN sign(%s) * 0::float8 ELSE "
                                 "sign(%s) * (div(%s, 10::numeric ^ (40 - %s))::text || 'e-' || "
                                 "%s)::float8 END",
                                 r, r, r, sv, dd, dd)
                    : NULL;
        free(sv);
        free(dd);
        free(dn);
    }
    pgb_buf *o = x->out;
    space(o);
    if (!r || !zero || ((!ld || d > 0) && !digits)) {
        o->oom = 1;
    } else {
        pgb_buf_puts(o, "(CASE ");
        if (!ld)
            pgb_buf_printf(o, "WHEN %s IS NULL THEN NULL::float8 ", b);
        pgb_buf_printf(o, "WHEN abs(%s) > 4503599627370496::float8 THEN %s ELSE ", r, r);
        if (ld)
            pgb_buf_puts(o, d > 0 ? digits : zero);
        else
            pgb_buf_printf(o, "CASE WHEN %s::int > 0 THEN %s ELSE %s END", b, digits, zero);
        pgb_buf_puts(o, " END)");
    }
    free(a);
    free(b);
    free(r);
    free(zero);
    free(digits);
    return 0;
}

/* A function of its arguments, each translated: fmt's %1 .. %9 name them,
 * %* all of them (comma-separated), %N the condition "any is NULL". */
static int xl_format_text(const xlate *x, const char *fmt, int n, size_t *af, size_t *at,
                          unsigned textargs)
{
    char *args[MAX_ARGS] = {0};
    int rc = 0;
    for (int k = 0; k < n && rc == 0; k++) {
        if (!(args[k] = sub_str(x, af[k], at[k]))) {
            rc = -1;
            break;
        }
        /* a number where SQLite reads text: its text, as SQLite writes it */
        int cls = textargs & (1u << k) ? range_class(x, af[k], at[k]) : PGB_CLS_OTHER;
        if (cls == PGB_CLS_INT || cls == PGB_CLS_REAL) {
            char *t = cls == PGB_CLS_INT ? pgb_printf("(%s::text)", args[k]) : real_text(args[k]);
            free(args[k]);
            if (!(args[k] = t))
                rc = -1;
        }
    }
    pgb_buf *o = x->out;
    if (rc == 0) {
        space(o);
        for (const char *p = fmt; *p; p++) {
            if (*p != '%' || !p[1]) {
                pgb_buf_add(o, p, 1);
                continue;
            }
            p++;
            if (*p >= '1' && *p <= '9' && *p - '1' < n) {
                pgb_buf_puts(o, args[*p - '1']);
            } else if (*p == '*' || *p == 'N') {
                for (int k = 0; k < n; k++) {
                    pgb_buf_puts(o, k ? (*p == '*' ? ", " : " OR ") : "");
                    pgb_buf_puts(o, args[k]);
                    if (*p == 'N')
                        pgb_buf_puts(o, " IS NULL");
                }
            }
        }
    }
    for (int k = 0; k < n; k++)
        free(args[k]);
    return rc;
}

static int xl_format(const xlate *x, const char *fmt, int n, size_t *af, size_t *at)
{
    return xl_format_text(x, fmt, n, af, at, 0);
}

/* A call of the function named by token *i, arguments and all; *i moves to
 * its ")". */
static int translate_call(const xlate *x, size_t *i)
{
    const pgb_toks *t = x->t;
    const char *w = t->t[*i].text;
    size_t open = *i + 1, close = pgb_tok_close(t, open);
    if (close >= x->to) {
        *x->why = "unbalanced parentheses";
        return -1;
    }
    const sqlite_function *f = find_function(w);
    if (!f) {
        /* named in the report: the reason is this thread's until the next */
        static _Thread_local char why[128];
        snprintf(why, sizeof why, "%.60s() has no faithful PostgreSQL equivalent", w);
        *x->why = why;
        return -1;
    }
    size_t af[MAX_ARGS], at[MAX_ARGS];
    int n = split_args(t, open, close, af, at);
    if (n < 0) {
        *x->why = "a call with too many arguments";
        return -1;
    }
    int rc = 0;
    switch (f->kind) {
    case FN_DATE:
        space(x->out);
        rc = date_function(t, w, open + 1, close, x->target, x->out, x->why);
        break;
    case FN_JSON_GET:
        rc = json_extract(t, open + 1, close, x->map, x->map_ctx, x->out, x->why);
        break;
    case FN_SUBSTR:
        rc = xl_substr(x, n, af, at);
        break;
    case FN_ROUND:
        rc = xl_round(x, n, af, at);
        break;
    case FN_MINMAX:
        /* of one argument: the aggregate; of several: NULL if any is */
        if (n == 1 || (n >= 1 && pgb_tok_is(t, af[0], "DISTINCT"))) {
            space(x->out);
            pgb_buf_puts(x->out, w);
            pgb_buf_puts(x->out, "(");
            rc = sub(x, open + 1, close);
            pgb_buf_puts(x->out, ")");
        } else {
            /* texts compare as SQLite's BINARY: byte by byte */
            int texts = 1;
            for (int k = 0; k < n; k++)
                texts &= range_class(x, af[k], at[k]) == PGB_CLS_TEXT;
            char *fmt = pgb_printf("(CASE WHEN %%N THEN NULL ELSE %s(%s%%*) END)", f->pg,
                                   texts ? "%1 COLLATE \"C\", " : "");
            rc = fmt ? xl_format(x, fmt, n, af, at) : -1;
            free(fmt);
        }
        break;
    case FN_LENGTH:
    case FN_SUM: {
        int cls = n == 1 ? range_class(x, af[0], at[0]) : PGB_CLS_OTHER;
        const char *fmt = f->kind == FN_SUM ? (cls == PGB_CLS_INT ? "sum(%1)::bigint" : "sum(%*)")
                          : cls == PGB_CLS_INT ? "length(%1::text)"
                                               : "length(%*)";
        char *rt = NULL;
        if (f->kind == FN_LENGTH && cls == PGB_CLS_REAL) {
            char *a = sub_str(x, af[0], at[0]);
            rt = a ? real_text(a) : NULL;
            free(a);
            if (!rt)
                return -1;
            space(x->out);
            pgb_buf_printf(x->out, "length(%s)", rt);
            free(rt);
        } else if (n >= 1 && pgb_tok_is(t, af[0], "DISTINCT")) {
            space(x->out);
            pgb_buf_printf(x->out, "%s(", w);
            rc = sub(x, open + 1, close);
            pgb_buf_puts(x->out, ")");
        } else {
            rc = xl_format(x, fmt, n, af, at);
        }
        break;
    }
    case FN_FORMAT:
        if (n < f->min_args || n > f->max_args) {
            *x->why = "a function called with another number of arguments than SQLite takes";
            return -1;
        }
        if (n == 3 && !strcasecmp(w, "iif") &&
            (range_class(x, af[0], at[0]) == PGB_CLS_INT ||
             range_class(x, af[0], at[0]) == PGB_CLS_REAL)) {
            /* a number as the condition: true unless 0 */
            rc = xl_format(x, "(CASE WHEN %1 <> 0 THEN %2 ELSE %3 END)", n, af, at);
        } else if (n >= 1 && pgb_tok_is(t, af[0], "DISTINCT") && af[0] + 1 < at[0] &&
                   !strncmp(f->pg, "avg(", 4)) {
            af[0]++; /* avg(DISTINCT x) */
            rc = xl_format(x, "avg(DISTINCT %1::float8)", n, af, at);
        } else {
            rc = xl_format_text(x, f->pg, n, af, at, f->textargs);
        }
        break;
    case FN_RENAME:
    case FN_SAME:
        /* aggregates: DISTINCT and * pass through */
        space(x->out);
        pgb_buf_puts(x->out, f->kind == FN_RENAME ? f->pg : w);
        pgb_buf_puts(x->out, "(");
        if (open + 2 == close && tok_op(t, open + 1, "*"))
            pgb_buf_puts(x->out, "*");
        else if (open + 1 < close)
            rc = sub(x, open + 1, close);
        pgb_buf_puts(x->out, ")");
        break;
    }
    if (rc != 0)
        return -1;
    *i = close;
    return 0;
}

/* ---- operators whose meaning differs ----------------------------------------- */

/* Does the token before i end an operand (so that a + or - at i is binary)? */
static int ends_operand(const pgb_toks *t, size_t from, size_t i)
{
    if (i <= from)
        return 0;
    const pgb_tok *k = &t->t[i - 1];
    switch (k->kind) {
    case TK_QIDENT:
    case TK_STRING:
    case TK_NUMBER:
    case TK_BLOB:
        return 1;
    case TK_OP:
        return tok_op(t, i - 1, ")");
    case TK_IDENT:
        return !is_keyword(k->text) || !strcasecmp(k->text, "NULL") ||
               !strcasecmp(k->text, "TRUE") || !strcasecmp(k->text, "FALSE") ||
               !strcasecmp(k->text, "END");
    default:
        return 0;
    }
}

/* The end (exclusive) of the operand of unary signs, a primary and its
 * COLLATE that starts at i; i when none starts there. */
static size_t operand_end(const pgb_toks *t, size_t i, size_t to)
{
    size_t start = i;
    while (i < to && (tok_op(t, i, "-") || tok_op(t, i, "+") || tok_op(t, i, "~")))
        i++;
    if (i >= to)
        return start;
    const pgb_tok *k = &t->t[i];
    size_t e;
    if (k->kind == TK_STRING || k->kind == TK_NUMBER || k->kind == TK_BLOB) {
        e = i + 1;
    } else if (tok_op(t, i, "(")) {
        e = pgb_tok_close(t, i) + 1;
    } else if (k->kind == TK_QIDENT || (k->kind == TK_IDENT && !is_keyword(k->text))) {
        e = i + 1;
        if (k->kind == TK_IDENT && tok_op(t, e, "("))
            e = pgb_tok_close(t, e) + 1;
        else
            while (e + 1 < to && tok_op(t, e, ".") &&
                   (t->t[e + 1].kind == TK_IDENT || t->t[e + 1].kind == TK_QIDENT))
                e += 2;
    } else if (pgb_tok_is(t, i, "CAST") || pgb_tok_is(t, i, "EXISTS")) {
        e = tok_op(t, i + 1, "(") ? pgb_tok_close(t, i + 1) + 1 : start;
    } else if (pgb_tok_is(t, i, "NULL") || pgb_tok_is(t, i, "TRUE") || pgb_tok_is(t, i, "FALSE")) {
        e = i + 1;
    } else if (pgb_tok_is(t, i, "CASE")) {
        int depth = 0;
        for (e = i; e < to; e++) {
            if (tok_op(t, e, "("))
                e = pgb_tok_close(t, e);
            else if (pgb_tok_is(t, e, "CASE"))
                depth++;
            else if (pgb_tok_is(t, e, "END") && --depth == 0)
                break;
        }
        e = e < to ? e + 1 : start;
    } else {
        return start;
    }
    if (e > to)
        return start;
    if (e + 1 < to && pgb_tok_is(t, e, "COLLATE"))
        e += 2;
    return e;
}

static int chain_op(const pgb_toks *t, size_t i)
{
    return tok_op(t, i, "*") || tok_op(t, i, "/") || tok_op(t, i, "%") || tok_op(t, i, "||");
}

#define MAX_CHAIN 64

/* The operands joined by * / % || from i (at most MAX_CHAIN): their
 * ranges; returns their number (0: no operand starts at i). */
static int chain_at(const pgb_toks *t, size_t i, size_t to, size_t *cf, size_t *ct)
{
    int n = 0;
    for (;;) {
        size_t e = operand_end(t, i, to);
        if (e == i)
            return n ? -1 : 0;
        cf[n] = i;
        ct[n++] = e;
        if (n == MAX_CHAIN || e >= to || !chain_op(t, e) || operand_end(t, e + 1, to) == e + 1)
            return n;
        i = e + 1;
    }
}

static int combine(int a, int b)
{
    if (a == PGB_CLS_REAL || b == PGB_CLS_REAL)
        return a && b ? PGB_CLS_REAL : PGB_CLS_OTHER;
    return a == PGB_CLS_INT && b == PGB_CLS_INT ? PGB_CLS_INT : PGB_CLS_OTHER;
}

/* A chain of operands joined by * / % ||, in SQLite's precedence (|| binds
 * tighter than * / %, which bind tighter than + -: PostgreSQL puts || below
 * them), each step in parentheses: a division by zero is NULL, as is a
 * remainder by zero; % of reals works on their integer parts and gives a
 * real. */
static int emit_chain(const xlate *x, int n, const size_t *cf, const size_t *ct)
{
    const pgb_toks *t = x->t;
    char *acc = NULL;
    int acc_cls = 0, rc = 0;
    const char *pending = NULL; /* the operator before the term being built */
    for (int j = 0; j < n && rc == 0;) {
        /* one term: operands joined by || */
        int k = j;
        while (k + 1 < n && tok_op(t, ct[k], "||"))
            k++;
        char *term = NULL;
        int term_cls = range_class(x, cf[j], ct[j]);
        if (k == j) {
            term = sub_str(x, cf[j], ct[j]);
        } else {
            pgb_buf b = {0};
            pgb_buf_puts(&b, "(");
            for (int m = j; m <= k; m++) {
                char *e = sub_str(x, cf[m], ct[m]);
                int cls = range_class(x, cf[m], ct[m]);
                if (e && cls == PGB_CLS_REAL) {
                    char *rt = real_text(e);
                    free(e);
                    e = rt;
                }
                if (!e) {
                    rc = -1;
                    break;
                }
                pgb_buf_printf(&b, "%s%s%s", m > j ? " || " : "", e,
                               cls == PGB_CLS_INT ? "::text" : "");
                free(e);
            }
            pgb_buf_puts(&b, ")");
            term = rc == 0 && !b.oom ? b.s : NULL;
            if (!term)
                pgb_buf_free(&b);
            term_cls = PGB_CLS_TEXT;
        }
        if (!term) {
            rc = -1;
            break;
        }
        char *next = NULL;
        if (!pending) {
            next = term;
            term = NULL;
            acc_cls = term_cls;
        } else if (!strcmp(pending, "*")) {
            next = pgb_printf("(%s * %s)", acc, term);
            acc_cls = combine(acc_cls, term_cls);
        } else if (!strcmp(pending, "/")) {
            next = pgb_printf("(%s / NULLIF(%s, 0))", acc, term);
            acc_cls = combine(acc_cls, term_cls);
        } else if (acc_cls == PGB_CLS_REAL || term_cls == PGB_CLS_REAL) {
            char *ia = acc_cls == PGB_CLS_INT ? pgb_strdup(acc) : real_to_int(acc);
            char *ib = term_cls == PGB_CLS_INT ? pgb_strdup(term) : real_to_int(term);
            next = ia && ib ? pgb_printf("((%s %% NULLIF(%s, 0))::float8)", ia, ib) : NULL;
            free(ia);
            free(ib);
            acc_cls = PGB_CLS_REAL;
        } else {
            next = pgb_printf("(%s %% NULLIF(%s, 0))", acc, term);
            acc_cls = combine(acc_cls, term_cls);
        }
        free(term);
        free(acc);
        acc = next;
        if (!acc) {
            rc = -1;
            break;
        }
        if (k + 1 < n)
            pending = tok_op(t, ct[k], "*") ? "*" : tok_op(t, ct[k], "/") ? "/" : "%";
        j = k + 1;
    }
    if (rc == 0) {
        space(x->out);
        pgb_buf_puts(x->out, acc);
    } else if (!*x->why) {
        *x->why = "out of memory";
    }
    free(acc);
    return rc;
}

/* At i, an operand chain whose meaning PostgreSQL's operators would change
 * (it holds / % or ||): translated whole, *i moved to its last token; 0 when
 * there is none (nothing done), 1 when done, -1 on failure. */
static int translate_chain(const xlate *x, size_t *i)
{
    const pgb_toks *t = x->t;
    if (ends_operand(t, x->from, *i))
        return 0;
    size_t cf[MAX_CHAIN], ct[MAX_CHAIN];
    int n = chain_at(t, *i, x->to, cf, ct);
    if (n < 0) {
        *x->why = "an operator without its operand";
        return -1;
    }
    int special = 0;
    for (int j = 0; j + 1 < n; j++)
        special |= !tok_op(t, ct[j], "*");
    if (!special)
        return 0;
    if (n == MAX_CHAIN) {
        *x->why = "too long a chain of operators";
        return -1;
    }
    if (emit_chain(x, n, cf, ct) != 0)
        return -1;
    *i = ct[n - 1] - 1;
    return 1;
}

/* The end (exclusive) of the pattern after LIKE at i. */
static size_t like_pattern_end(const xlate *x, size_t i)
{
    static const char *const stop[] = {"AND",   "OR",  "NOT",  "ESCAPE", "THEN",    "WHEN",
                                       "ELSE",  "END", "IS",   "IN",     "BETWEEN", "LIKE",
                                       "GLOB",  "AS",  "FROM", "WHERE",  "GROUP",   "ORDER",
                                       "LIMIT", "ASC", "DESC", "UNION",  "HAVING",  NULL};
    const pgb_toks *t = x->t;
    size_t e = i;
    for (; e < x->to; e++) {
        if (tok_op(t, e, "("))
            e = pgb_tok_close(t, e);
        else if (tok_op(t, e, ")") || tok_op(t, e, ",") || is_cmp(t, e))
            break;
        else if (t->t[e].kind == TK_IDENT) {
            int s = 0;
            for (int k = 0; stop[k] && !s; k++)
                s = !strcasecmp(t->t[e].text, stop[k]);
            if (s)
                break;
        }
    }
    return e;
}

/* [NOT] LIKE at *i: SQLite's LIKE folds ASCII letters only and has no
 * escape character unless ESCAPE names one; PostgreSQL's ILIKE under the
 * "C" collation folds ASCII letters only, and ESCAPE '' turns off its
 * default backslash. */
static int translate_like(const xlate *x, size_t *i, int not )
{
    size_t p = *i + (not ? 2 : 1);
    size_t e = like_pattern_end(x, p);
    if (e == p) {
        *x->why = "LIKE without a pattern";
        return -1;
    }
    space(x->out);
    pgb_buf_puts(x->out, not ? "COLLATE \"C\" NOT ILIKE" : "COLLATE \"C\" ILIKE");
    if (sub(x, p, e) != 0)
        return -1;
    if (!pgb_tok_is(x->t, e, "ESCAPE"))
        pgb_buf_puts(x->out, " ESCAPE ''");
    *i = e - 1;
    return 0;
}

/* CAST(real AS INTEGER): SQLite truncates (and saturates), PostgreSQL
 * rounds; CAST(real AS TEXT): SQLite's digits (real_text); CAST(text AS
 * INTEGER or REAL): the number the text starts with, 0 if none
 * (PostgreSQL would fail). */
static int translate_cast(const xlate *x, size_t *i)
{
    const pgb_toks *t = x->t;
    size_t open = *i + 1, close = pgb_tok_close(t, open);
    if (close >= x->to || close < open + 4 || !pgb_tok_is(t, close - 2, "AS"))
        return 0;
    const char *ty = t->t[close - 1].text;
    const char *pg = ty ? type_name(ty) : NULL;
    int cls = range_class(x, open + 1, close - 2);
    int to_int = pg && !strcmp(pg, "bigint"), to_text = pg && !strcmp(pg, "text");
    int to_real = pg && !strcmp(pg, "double precision");
    if (!(cls == PGB_CLS_REAL && (to_int || to_text)) &&
        !(cls == PGB_CLS_TEXT && (to_int || to_real)))
        return 0;
    char *a = sub_str(x, open + 1, close - 2);
    char *r = !a                    ? NULL
              : cls == PGB_CLS_TEXT ? text_to_number(a, to_int)
              : to_text             ? real_text(a)
                                    : real_to_int(a);
    free(a);
    if (!r)
        return -1;
    space(x->out);
    pgb_buf_puts(x->out, r);
    free(r);
    *i = close;
    return 1;
}

/* A bare word at *i: a function, a keyword, or a name. */
static int translate_ident(const xlate *x, size_t *i)
{
    const pgb_toks *t = x->t;
    pgb_buf *out = x->out;
    const char *w = t->t[*i].text;
    if (tok_op(t, *i + 1, "(") && !is_keyword(w))
        return translate_call(x, i);
    if (!strcasecmp(w, "CURRENT_TIMESTAMP") || !strcasecmp(w, "CURRENT_DATE") ||
        !strcasecmp(w, "CURRENT_TIME")) {
        const char *fmt = !strcasecmp(w, "CURRENT_TIMESTAMP") ? "%Y-%m-%d %H:%M:%S"
                          : !strcasecmp(w, "CURRENT_DATE")    ? "%Y-%m-%d"
                                                              : "%H:%M:%S";
        space(out);
        if (x->ctx == PGB_CTX_DEFAULT)
            return now_expr(fmt, 0, x->target, out, x->why) != 0 ? -1 : 0;
        *x->why = "the current time inside an expression";
        return -1;
    }
    if (!strcasecmp(w, "GLOB") || !strcasecmp(w, "REGEXP") || !strcasecmp(w, "MATCH")) {
        *x->why = "GLOB/REGEXP/MATCH";
        return -1;
    }
    if (!strcasecmp(w, "COLLATE")) {
        /* NOCASE comparisons inside expressions have no one-word
         * equivalent; BINARY is the default anyway. */
        if (*i + 1 < x->to && t->t[*i + 1].text && !strcasecmp(t->t[*i + 1].text, "BINARY")) {
            (*i)++;
            return 0;
        }
        *x->why = "COLLATE inside an expression";
        return -1;
    }
    if (!strcasecmp(w, "IS")) {
        /* SQLite's "a IS b" of any values: IS NOT DISTINCT FROM */
        size_t j = *i + 1;
        int neg = pgb_tok_is(t, j, "NOT");
        j += neg;
        if (j < x->to && !pgb_tok_is(t, j, "NULL") && !pgb_tok_is(t, j, "TRUE") &&
            !pgb_tok_is(t, j, "FALSE") && !pgb_tok_is(t, j, "DISTINCT") &&
            !pgb_tok_is(t, j, "UNKNOWN")) {
            space(out);
            pgb_buf_puts(out, neg ? "IS DISTINCT FROM" : "IS NOT DISTINCT FROM");
            *i = j - 1;
            return 0;
        }
    }
    if (!strcasecmp(w, "LIKE"))
        return translate_like(x, i, 0);
    if (!strcasecmp(w, "NOT") && pgb_tok_is(t, *i + 1, "LIKE"))
        return translate_like(x, i, 1);
    if (!strcasecmp(w, "CAST") && tok_op(t, *i + 1, "(")) {
        int rc = translate_cast(x, i);
        if (rc != 0)
            return rc < 0 ? -1 : 0;
    }
    space(out);
    if (is_keyword(w)) {
        if (!strcasecmp(w, "AS") && *i + 1 < x->to && t->t[*i + 1].text &&
            type_name(t->t[*i + 1].text) && *i > x->from) {
            pgb_buf_puts(out, "AS ");
            pgb_buf_puts(out, type_name(t->t[*i + 1].text));
            (*i)++;
            return 0;
        }
        pgb_buf_puts(out, w);
        return 0;
    }
    int isb = 0;
    const char *name = x->map ? x->map(x->map_ctx, w, &isb) : NULL;
    if (!name) {
        *x->why = "a name that is not a column of the table";
        return -1;
    }
    pgb_buf_ident(out, name);
    return 0;
}

/* A quoted name: a column, or (double-quoted and unknown) a string, as in
 * SQLite. */
static int translate_qident(const xlate *x, const pgb_tok *k)
{
    int isb = 0;
    const char *name = x->map ? x->map(x->map_ctx, k->text, &isb) : NULL;
    space(x->out);
    if (name) {
        pgb_buf_ident(x->out, name);
    } else if (k->start[0] == '"') {
        pgb_buf_literal(x->out, k->text, strlen(k->text));
    } else {
        *x->why = "a name that is not a column of the table";
        return -1;
    }
    return 0;
}

static int translate_op(const xlate *x, size_t i)
{
    const pgb_toks *t = x->t;
    const pgb_tok *k = &t->t[i];
    pgb_buf *out = x->out;
    if (tok_op(t, i, "==")) {
        pgb_buf_puts(out, " = ");
    } else if (tok_op(t, i, "(")) {
        /* "IN (", but "lower(" */
        if (i > x->from && t->t[i - 1].kind == TK_IDENT && is_keyword(t->t[i - 1].text))
            pgb_buf_puts(out, " ");
        pgb_buf_puts(out, "(");
    } else if (tok_op(t, i, ")")) {
        pgb_buf_puts(out, ")");
    } else if (tok_op(t, i, ",")) {
        pgb_buf_puts(out, ", ");
    } else if (tok_op(t, i, "->") || tok_op(t, i, "->>")) {
        *x->why = "JSON operators";
        return -1;
    } else if (tok_op(t, i, "-") || tok_op(t, i, "+")) {
        /* Unary signs stick to what follows. */
        int unary = !ends_operand(t, x->from, i);
        if (!unary) {
            pgb_buf_puts(out, " ");
            pgb_buf_add(out, k->start, k->len);
            pgb_buf_puts(out, " ");
        } else {
            /* "- -1" must not become "--1", a comment */
            if (out->len && (out->s[out->len - 1] == '-' || out->s[out->len - 1] == '+'))
                pgb_buf_puts(out, " ");
            pgb_buf_add(out, k->start, k->len);
        }
    } else {
        pgb_buf_puts(out, " ");
        pgb_buf_add(out, k->start, k->len);
        pgb_buf_puts(out, " ");
    }
    return 0;
}

/* Every token but the bare words. */
static int translate_token(const xlate *x, size_t i)
{
    const pgb_tok *k = &x->t->t[i];
    pgb_buf *out = x->out;
    switch (k->kind) {
    case TK_QIDENT:
        return translate_qident(x, k);
    case TK_STRING:
        space(out);
        pgb_buf_literal(out, k->text, strlen(k->text));
        return 0;
    case TK_NUMBER:
        if (needs_space(out) && out->s[out->len - 1] != '-' && out->s[out->len - 1] != '+')
            pgb_buf_puts(out, " ");
        if (k->len > 2 && (k->start[1] == 'x' || k->start[1] == 'X')) {
            pgb_buf_printf(out, "%lld", (long long)strtoull(k->start, NULL, 16));
        } else {
            pgb_buf_add(out, k->start, k->len);
            /* 1.5 is a real in SQLite, a numeric in PostgreSQL */
            if (x->ctx == PGB_CTX_EXPR && range_class(x, i, i + 1) == PGB_CLS_REAL)
                pgb_buf_puts(out, "::float8");
        }
        return 0;
    case TK_BLOB:
        space(out);
        pgb_buf_puts(out, "'\\x");
        pgb_buf_add(out, k->start + 2, k->len - 3);
        pgb_buf_puts(out, "'::bytea");
        return 0;
    case TK_PARAM:
        *x->why = "a parameter";
        return -1;
    case TK_OP:
        return translate_op(x, i);
    case TK_IDENT:
    case TK_END:
        break;
    }
    return 0;
}

int pgb_translate_expr(const pgb_toks *t, size_t from, size_t to, pgb_expr_ctx ctx,
                       const char *target, pgb_name_map map, void *map_ctx, pgb_buf *out,
                       const char **why)
{
    const xlate x = {t, from, to, ctx, target, map, map_ctx, out, why};
    /* SQLite writes booleans as 0/1: next to a boolean column they are
     * false/true (in "col = 1", "0 <> col", "col IN (0, 1)"). */
    int bool_next = 0, bool_list = 0;
    for (size_t i = from; i < to && i < t->n; i++) {
        const pgb_tok *k = &t->t[i];
        int was_bool_next = bool_next;
        bool_next = 0;
        if (bool_list && tok_op(t, i, ")"))
            bool_list = 0;
        if (k->kind == TK_NUMBER && is_01(k) &&
            (was_bool_next || bool_list ||
             (is_cmp(t, i + 1) && bool_col(t, i + 2, map, map_ctx)))) {
            space(out);
            pgb_buf_puts(out, k->start[0] == '1' ? "true" : "false");
            continue;
        }
        if (bool_col(t, i, map, map_ctx)) {
            if (is_cmp(t, i + 1))
                bool_next = 2; /* skip the operator, then the literal */
            else if (pgb_tok_is(t, i + 1, "IN") && tok_op(t, i + 2, "("))
                bool_list = 1;
        }
        if (was_bool_next == 2 && is_cmp(t, i))
            bool_next = 1;
        int ch = translate_chain(&x, &i);
        if (ch < 0)
            return -1;
        if (ch > 0)
            continue;
        if ((k->kind == TK_IDENT ? translate_ident(&x, &i) : translate_token(&x, i)) != 0)
            return -1;
    }
    if (out->oom) {
        *why = "out of memory";
        return -1;
    }
    return 0;
}
