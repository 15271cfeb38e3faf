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
    FN_MINMAX,   /* of several arguments: pg (least/greatest); of one: the aggregate */
    FN_DATE,     /* date_function */
    FN_JSON_GET, /* json_extract */
} fn_kind;

typedef struct {
    const char *sqlite;
    fn_kind kind;
    const char *pg;
} sqlite_function;

static const sqlite_function functions[] = {
    {"lower", FN_SAME, NULL},
    {"upper", FN_SAME, NULL},
    {"length", FN_SAME, NULL},
    {"abs", FN_SAME, NULL},
    {"coalesce", FN_SAME, NULL},
    {"nullif", FN_SAME, NULL},
    {"replace", FN_SAME, NULL},
    {"trim", FN_SAME, NULL},
    {"ltrim", FN_SAME, NULL},
    {"rtrim", FN_SAME, NULL},
    {"substr", FN_SAME, NULL},
    {"round", FN_SAME, NULL},
    {"sum", FN_SAME, NULL},
    {"count", FN_SAME, NULL},
    {"avg", FN_SAME, NULL},
    {"total", FN_SAME, NULL},
    {"ifnull", FN_RENAME, "coalesce"},
    {"instr", FN_RENAME, "strpos"},
    {"min", FN_MINMAX, "least"},
    {"max", FN_MINMAX, "greatest"},
    {"datetime", FN_DATE, NULL},
    {"date", FN_DATE, NULL},
    {"time", FN_DATE, NULL},
    {"strftime", FN_DATE, NULL},
    {"unixepoch", FN_DATE, NULL},
    {"json_extract", FN_JSON_GET, NULL},
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
            if (strchr("YMDHISFA", toupper((unsigned char)*p)) || *p == '"') {
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
        pgb_buf_puts(out, "(extract(epoch from now())::bigint)");
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
        if (t->t[i].kind == TK_STRING && !strcasecmp(t->t[i].text, "localtime"))
            local = 1;
        else if (!(t->t[i].kind == TK_STRING && !strcasecmp(t->t[i].text, "utc"))) {
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

/* json_extract(col, '$.a.b[0]') -> ("col"::jsonb #>> '{a,b,0}') for a
 * column and a literal path of keys and indexes. (PostgreSQL gives text where
 * SQLite gives the JSON value's own type.) */
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
    pgb_buf_puts(out, "(");
    pgb_buf_ident(out, col);
    pgb_buf_puts(out, "::jsonb #>> '{");
    if (path.s)
        pgb_buf_puts(out, path.s);
    pgb_buf_puts(out, "}')");
    pgb_buf_free(&path);
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
    return b;
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

/* Does the argument list (from, close) hold a comma of its own? */
static int several_args(const pgb_toks *t, size_t from, size_t close)
{
    int commas = 0;
    for (size_t j = from; j < close; j++) {
        if (tok_op(t, j, "("))
            j = pgb_tok_close(t, j);
        else if (tok_op(t, j, ","))
            commas++;
    }
    return commas > 0;
}

/* A call of the function named by token *i; *i moves to its ")" when the
 * arguments were translated here, else the "(" follows as an operator. */
static int translate_call(const xlate *x, size_t *i)
{
    const pgb_toks *t = x->t;
    const char *w = t->t[*i].text;
    size_t close = pgb_tok_close(t, *i + 1);
    if (close >= x->to) {
        *x->why = "unbalanced parentheses";
        return -1;
    }
    const sqlite_function *f = find_function(w);
    const char *pg = w;
    switch (f ? f->kind : FN_SAME) {
    case FN_DATE:
        space(x->out);
        if (date_function(t, w, *i + 2, close, x->target, x->out, x->why) != 0)
            return -1;
        *i = close;
        return 0;
    case FN_JSON_GET:
        if (json_extract(t, *i + 2, close, x->map, x->map_ctx, x->out, x->why) != 0)
            return -1;
        *i = close;
        return 0;
    case FN_RENAME:
        pg = f->pg;
        break;
    case FN_MINMAX:
        pg = several_args(t, *i + 2, close) ? f->pg : w;
        break;
    case FN_SAME:
        break;
    }
    if (!f) {
        *x->why = "a function with no PostgreSQL equivalent";
        return -1;
    }
    space(x->out);
    pgb_buf_puts(x->out, pg);
    return 0;
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
    space(out);
    if (!strcasecmp(w, "LIKE")) {
        pgb_buf_puts(out, "ILIKE"); /* SQLite's LIKE ignores ASCII case */
        return 0;
    }
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
        int unary = !out->len || strchr("(,=<>+-*/%", out->s[out->len - 1]) ||
                    (out->len && out->s[out->len - 1] == ' ');
        if (!unary)
            pgb_buf_puts(out, " ");
        pgb_buf_add(out, k->start, k->len);
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
        if (k->len > 2 && (k->start[1] == 'x' || k->start[1] == 'X'))
            pgb_buf_printf(out, "%lld", (long long)strtoull(k->start, NULL, 16));
        else
            pgb_buf_add(out, k->start, k->len);
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
        if ((k->kind == TK_IDENT ? translate_ident(&x, &i) : translate_token(&x, i)) != 0)
            return -1;
    }
    if (out->oom) {
        *why = "out of memory";
        return -1;
    }
    return 0;
}
