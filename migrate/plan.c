/* Planning a migration: target names, and a type for every column chosen from
 * its declared type AND one scan of the values it actually holds.
 *
 * The declared type names a family. Strong families (INTEGER, REAL, NUMERIC,
 * TEXT, BLOB) are what the app meant: a value that does not fit is a bad value,
 * handled by the --on-error policy. Weak families (BOOLEAN, DATE, DATETIME,
 * JSON, UUID, VARCHAR(n), no type at all) are SQLite conventions: the richer
 * PostgreSQL type is taken when every value fits, else a type that holds every
 * value exactly, and the report says why. (No type holds numbers and blobs
 * together: such a column is bytea, its numbers bad values.) */
#define _GNU_SOURCE
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <sqlite3.h>

#include "plan.h"
#include "source.h"
#include "values.h"

#define MAX_NAME 63
#define TWO53 9007199254740992LL

typedef enum {
    F_ANY,
    F_INT,
    F_REAL,
    F_NUMERIC_PS,
    F_NUMERIC,
    F_NUMAFF, /* other words with SQLite's NUMERIC affinity */
    F_BOOL,
    F_DATE,
    F_TS,
    F_TIME,
    F_JSON,
    F_UUID,
    F_VARCHAR,
    F_CHAR,
    F_TEXT,
    F_BLOB,
} family;

/* ---- declared types ----------------------------------------------------------- */

/* The declared type in lower case, without quotes, spaces squeezed. */
static void normal_decl(const char *decl, char *out, size_t cap)
{
    size_t o = 0;
    int space = 0;
    for (const char *p = decl; *p && o + 1 < cap; p++) {
        char c = *p;
        if (c == '"' || c == '[' || c == ']' || c == '`' || c == '\'')
            continue;
        if (isspace((unsigned char)c)) {
            space = o > 0;
            continue;
        }
        if (space && c != '(' && c != ')' && c != ',' && out[o - 1] != '(' && out[o - 1] != ',') {
            out[o++] = ' ';
        }
        space = 0;
        out[o++] = (char)tolower((unsigned char)c);
    }
    out[o] = '\0';
}

static int has_word(const char *s, const char *w)
{
    size_t n = strlen(w);
    for (const char *p = strstr(s, w); p; p = strstr(p + 1, w)) {
        int before = p == s || !isalnum((unsigned char)p[-1]);
        int after = !isalnum((unsigned char)p[n]);
        if (before && after)
            return 1;
    }
    return 0;
}

static family classify(const char *decl, int *a, int *b)
{
    char d[128];
    normal_decl(decl, d, sizeof d);
    *a = *b = 0;
    if (!*d)
        return F_ANY;
    const char *paren = strchr(d, '(');
    int np = paren ? sscanf(paren, "(%d,%d)", a, b) : 0;
    if (has_word(d, "bool") || has_word(d, "boolean"))
        return F_BOOL;
    if (has_word(d, "json") || has_word(d, "jsonb"))
        return F_JSON;
    if (has_word(d, "uuid") || has_word(d, "guid"))
        return F_UUID;
    if (strstr(d, "datetime") || strstr(d, "timestamp"))
        return F_TS;
    if (has_word(d, "date"))
        return F_DATE;
    if (has_word(d, "time"))
        return F_TIME;
    if ((strstr(d, "numeric") || strstr(d, "decimal")) && np == 2 && *a > 0 && *a <= 1000 &&
        *b >= 0 && *b <= *a)
        return F_NUMERIC_PS;
    if ((strstr(d, "numeric") || strstr(d, "decimal")) && np == 1 && *a > 0 && *a <= 1000) {
        *b = 0;
        return F_NUMERIC_PS;
    }
    if (!strcmp(d, "numeric") || !strcmp(d, "decimal"))
        return F_NUMERIC;
    if ((strstr(d, "char") || strstr(d, "varying")) && np >= 1 && *a > 0 && *a <= 10485760)
        return (strstr(d, "varchar") || strstr(d, "varying")) ? F_VARCHAR : F_CHAR;
    /* Strong declarations: type names an app author writes on purpose. Other
     * words (SQLite accepts anything: "intege", "short integer") say little,
     * and the values decide. */
    char base[128];
    snprintf(base, sizeof base, "%s", d);
    char *paren2 = strchr(base, '(');
    if (paren2)
        *paren2 = '\0';
    size_t bl = strlen(base);
    while (bl > 0 && base[bl - 1] == ' ')
        base[--bl] = '\0';
    static const char *const ints[] = {"int",
                                       "integer",
                                       "tinyint",
                                       "smallint",
                                       "mediumint",
                                       "bigint",
                                       "int2",
                                       "int4",
                                       "int8",
                                       "big int",
                                       "unsigned big int",
                                       "smallint unsigned",
                                       "integer unsigned",
                                       "int unsigned",
                                       "bigint unsigned",
                                       "tinyint unsigned",
                                       NULL};
    static const char *const reals[] = {"real",   "double", "double precision", "float", "float4",
                                        "float8", NULL};
    static const char *const texts[] = {"text",
                                        "clob",
                                        "char",
                                        "varchar",
                                        "character",
                                        "nchar",
                                        "nvarchar",
                                        "character varying",
                                        "native character",
                                        "varying character",
                                        "tinytext",
                                        "mediumtext",
                                        "longtext",
                                        NULL};
    static const char *const blobs[] = {"blob", "bytea", "binary", "varbinary", "longblob", NULL};
    static const char *const *const lists[] = {ints, reals, texts, blobs};
    static const family families[] = {F_INT, F_REAL, F_TEXT, F_BLOB};
    for (int l = 0; l < 4; l++)
        for (int i = 0; lists[l][i]; i++)
            if (!strcmp(base, lists[l][i]))
                return families[l];
    /* "integer auto_increment", "text nocase": the first word is the type. */
    char *sp = strchr(base, ' ');
    if (sp) {
        *sp = '\0';
        for (int l = 0; l < 4; l++)
            for (int i = 0; lists[l][i]; i++)
                if (!strcmp(base, lists[l][i]))
                    return families[l];
    }
    return F_NUMAFF;
}

/* ---- names -------------------------------------------------------------------- */

static char *fold(const char *name, int preserve_case)
{
    char *s = pgb_strdup(name);
    if (s && !preserve_case)
        for (char *p = s; *p; p++)
            *p = (char)tolower((unsigned char)*p);
    return s;
}

static int check_names(char **names, const char **origins, int n, const char *what,
                       int preserve_case)
{
    for (int i = 0; i < n; i++) {
        if (strlen(names[i]) > MAX_NAME) {
            int rc =
                pgb_fail(PGBOOT_EINVALID, "%s name '%.80s' is %zu bytes long; PostgreSQL allows %d",
                         what, origins[i], strlen(names[i]), MAX_NAME);
            pgb_hint("rename it in the SQLite database (or a copy of it); nothing was written");
            return rc;
        }
        for (int j = 0; j < i; j++)
            if (!strcmp(names[i], names[j])) {
                int rc = pgb_fail(PGBOOT_EINVALID,
                                  "%s names '%s' and '%s' are the same name '%s' in PostgreSQL",
                                  what, origins[j], origins[i], names[i]);
                if (!preserve_case)
                    pgb_hint("--preserve-case keeps the names as they are; nothing was written");
                else
                    pgb_hint("rename one of them; nothing was written");
                return rc;
            }
    }
    return 0;
}

const char *pgb_plan_table_name(const pgb_plan *p, const char *src_name)
{
    for (int i = 0; i < p->ntables; i++)
        if (!strcasecmp(p->tables[i].src->name, src_name))
            return p->tables[i].name;
    return NULL;
}

const char *pgb_plan_col_name(const pgb_plan_table *t, const char *src_name)
{
    for (int i = 0; i < t->ncols; i++)
        if (!strcasecmp(t->src->cols[t->cols[i].src].name, src_name))
            return t->cols[i].name;
    return NULL;
}

/* ---- the scan ----------------------------------------------------------------- */

static void number_shape(double d, int *id, int *fd)
{
    char buf[40];
    int n = pgb_double_text(d, buf);
    char *e = strchr(buf, 'e');
    if (!e) {
        if (pgb_decimal_shape(buf, (size_t)n, id, fd) != 0)
            *id = *fd = 99;
        return;
    }
    /* d.ddde+XX: digits and exponent */
    int exp = atoi(e + 1);
    int mant = 0;
    for (char *q = buf; q < e; q++)
        mant += isdigit((unsigned char)*q) != 0;
    if (exp >= 0) {
        *id = exp + 1;
        *fd = mant - 1 - exp > 0 ? mant - 1 - exp : 0;
    } else {
        *id = 0;
        *fd = mant - 1 - exp;
    }
}

/* What a column's scan must look at, by its declared family: every probe
 * costs time on a million rows. */
enum {
    NEED_DECIMAL = 1,
    NEED_CHARS = 2,
    NEED_BOOL = 4,
    NEED_ISO = 8,
    NEED_UUID = 16,
    NEED_JSON = 32,
    NEED_BLOBTEXT = 64, /* blobs that are UTF-8 text */
    NEED_ALL = 127,
};

static int needs_for(family f, int detect_json)
{
    switch (f) {
    case F_NUMERIC_PS:
    case F_NUMERIC:
        return NEED_DECIMAL;
    case F_BOOL:
        return NEED_BOOL;
    case F_DATE:
    case F_TS:
        return NEED_ISO;
    case F_UUID:
        return NEED_UUID;
    case F_JSON:
        return NEED_JSON | NEED_BLOBTEXT;
    case F_VARCHAR:
    case F_CHAR:
        return NEED_CHARS | NEED_BLOBTEXT;
    case F_TEXT:
        return NEED_BLOBTEXT | (detect_json ? NEED_JSON : 0);
    case F_ANY:
        return detect_json ? NEED_JSON : 0;
    default:
        return 0;
    }
}

/* Does the text of a UUID (its 32 hex digits in hex) read back from a uuid
 * column exactly: lower case, 8-4-4-4-12, no braces? */
static int uuid_canonical(const char *s, size_t n, const char *hex)
{
    char canon[37];
    snprintf(canon, sizeof canon, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16,
             hex + 20);
    return n == 36 && !memcmp(s, canon, 36);
}

static void see_value(pgb_col_stats *st, sqlite3_value *v, int need)
{
    int id, fd;
    switch (sqlite3_value_type(v)) {
    case SQLITE_NULL:
        st->n_null++;
        return;
    case SQLITE_INTEGER: {
        sqlite3_int64 i = sqlite3_value_int64(v);
        st->n_int++;
        if (i != 0 && i != 1)
            st->n_int_not01++;
        if (i > TWO53 || i < -TWO53)
            st->n_big_int++;
        if (i > INT16_MAX || i < INT16_MIN)
            st->n_int_over16++;
        if (i > INT32_MAX || i < INT32_MIN)
            st->n_int_over32++;
        if (!(need & NEED_DECIMAL))
            return;
        char buf[24];
        int n = snprintf(buf, sizeof buf, "%lld", (long long)i);
        id = i == 0 ? 0 : n - (i < 0); /* 0 has no digit before the point */
        if (id > st->max_int_digits)
            st->max_int_digits = id;
        return;
    }
    case SQLITE_FLOAT: {
        double d = sqlite3_value_double(v);
        st->n_real++;
        if (!isfinite(d)) {
            st->n_real_nonfinite++;
            st->n_real_nonint++;
            return;
        }
        if (d != trunc(d) || fabs(d) >= 9.2e18)
            st->n_real_nonint++;
        if (!(need & NEED_DECIMAL))
            return;
        number_shape(d, &id, &fd);
        if (id > st->max_int_digits)
            st->max_int_digits = id;
        if (fd > st->max_frac_digits)
            st->max_frac_digits = fd;
        return;
    }
    case SQLITE_BLOB:
        st->n_blob++;
        if (need & NEED_BLOBTEXT) {
            const char *b = (const char *)sqlite3_value_blob(v);
            size_t bn = (size_t)sqlite3_value_bytes(v);
            if (pgb_utf8_ok(b ? b : "", bn)) {
                st->n_blob_text++;
                size_t chars = pgb_utf8_len(b ? b : "", bn);
                if ((need & NEED_CHARS) && chars > st->max_chars)
                    st->max_chars = chars;
                int container;
                if ((need & NEED_JSON) && pgb_json_check(b ? b : "", bn, &container) == 0)
                    st->n_blob_json++;
            }
        }
        return;
    default:
        break;
    }
    /* Text, as the bytes it is stored with. */
    const char *s = (const char *)sqlite3_value_blob(v);
    size_t n = (size_t)sqlite3_value_bytes(v);
    if (!s)
        s = "";
    st->n_text++;
    if (!pgb_utf8_ok(s, n)) {
        st->n_badtext++;
        st->n_text_nonbool++;
        st->n_text_nondate++;
        st->n_text_nonts++;
        st->n_text_nonuuid++;
        st->n_text_nonjson++;
        st->n_text_noncontainer++;
        st->n_text_nonnumeric++;
        return;
    }
    if (need & NEED_CHARS) {
        size_t chars = pgb_utf8_len(s, n);
        if (chars > st->max_chars)
            st->max_chars = chars;
    }
    if (need & NEED_DECIMAL) {
        int special = 0;
        if (pgb_decimal_shape(s, n, &id, &fd) != 0 &&
            !(special = pgb_numeric_special(s, n, NULL))) {
            st->n_text_nonnumeric++;
        } else if (special) {
            st->n_text_inf += special > 1;
        } else {
            if (id > st->max_int_digits)
                st->max_int_digits = id;
            if (fd > st->max_frac_digits)
                st->max_frac_digits = fd;
        }
    }
    if ((need & NEED_BOOL) && pgb_parse_bool_text(s, n) < 0)
        st->n_text_nonbool++;
    pgb_iso iso;
    if (!(need & NEED_ISO)) {
        /* not looked at */
    } else if (pgb_parse_iso(s, n, &iso) != 0) {
        if (pgb_zero_date(s, n)) {
            st->n_text_zero_date++;
        } else {
            st->n_text_nondate++;
            st->n_text_nonts++;
        }
    } else {
        if (iso.has_time)
            st->n_text_nondate++;
        if (iso.has_zone)
            st->n_text_tz++;
        else
            st->n_text_naive++;
        if (iso.frac_lost)
            st->n_text_frac_lost++;
    }
    char hex[33];
    if ((need & NEED_UUID) && pgb_parse_uuid(s, n, hex) != 0)
        st->n_text_nonuuid++;
    else if ((need & NEED_UUID) && !uuid_canonical(s, n, hex))
        st->n_text_uuid_noncanon++;
    if (need & NEED_JSON) {
        int container;
        if (pgb_json_check(s, n, &container) != 0) {
            st->n_text_nonjson++;
            st->n_text_noncontainer++;
        } else if (!container) {
            st->n_text_noncontainer++;
        }
    }
}

/* SELECT the copied columns of a table ([rowid,] c1, c2, ...). */
char *pgb_plan_select_sql(const pgb_plan_table *t, int with_rowid)
{
    pgb_buf b = {0};
    pgb_buf_puts(&b, "SELECT ");
    int first = 1;
    if (with_rowid && !t->src->without_rowid) {
        pgb_buf_puts(&b, "_rowid_");
        first = 0;
    }
    for (int i = 0; i < t->ncols; i++) {
        if (t->cols[i].generated)
            continue;
        if (!first)
            pgb_buf_puts(&b, ", ");
        first = 0;
        pgb_buf_ident(&b, t->src->cols[t->cols[i].src].name);
    }
    if (first)
        pgb_buf_puts(&b, "NULL");
    pgb_buf_puts(&b, " FROM ");
    pgb_buf_ident(&b, t->src->name);
    if (b.oom) {
        pgb_buf_free(&b);
        return NULL;
    }
    return b.s;
}

int pgb_plan_rows_stmt(const pgb_plan *p, const pgb_plan_table *t, sqlite3_stmt **s, int *first)
{
    *s = NULL;
    *first = !t->src->without_rowid;
    char *select = pgb_plan_select_sql(t, *first);
    if (!select)
        return pgb_fail(PGBOOT_ENOMEM, "out of memory");
    int ok = sqlite3_prepare_v2(p->src->db, select, -1, s, NULL) == SQLITE_OK;
    free(select);
    if (ok)
        return 0;
    sqlite3_finalize(*s);
    *s = NULL;
    return pgb_src_fail(p->src, PGBOOT_ERROR, "cannot read a table");
}

/* The number of rows of a source table, without reading them. */
static int count_rows(pgb_src_db *db, const pgb_plan_table *t, int64_t *n)
{
    pgb_buf q = {0};
    pgb_buf_puts(&q, "SELECT count(*) FROM ");
    pgb_buf_ident(&q, t->src->name);
    if (q.oom)
        return pgb_fail(PGBOOT_ENOMEM, "out of memory");
    sqlite3_stmt *s = NULL;
    int ok =
        sqlite3_prepare_v2(db->db, q.s, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW;
    if (ok)
        *n = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    pgb_buf_free(&q);
    if (ok)
        return 0;
    char what[200]; /* counting reads the table: a whole scan's words */
    snprintf(what, sizeof what, "cannot read table %s", t->src->name);
    return pgb_src_fail(db, PGBOOT_EINVALID, what);
}

/* Scan t's values, all of them, or (limit > 0) its first limit rows: then
 * t->partial says whether more follow, and t->rows counts them all. */
static int scan_table(pgb_src_db *db, pgb_plan_table *t, int detect_json, int full, int64_t limit)
{
    t->partial = 0;
    char *sql = pgb_plan_select_sql(t, 0);
    if (!sql)
        return pgb_fail(PGBOOT_ENOMEM, "out of memory");
    sqlite3_stmt *s = NULL;
    int rc = 0;
    if (sqlite3_prepare_v2(db->db, sql, -1, &s, NULL) != SQLITE_OK) {
        free(sql);
        return pgb_src_fail(db, PGBOOT_ERROR, "cannot read a table");
    }
    free(sql);
    /* Which columns need the costlier checks. */
    int *json = calloc((size_t)t->ncols + 1, sizeof(int));
    int *map = calloc((size_t)t->ncols + 1, sizeof(int));
    int n = 0;
    if (!json || !map) {
        rc = pgb_fail(PGBOOT_ENOMEM, "out of memory");
        goto done;
    }
    for (int i = 0; i < t->ncols; i++) {
        if (t->cols[i].generated)
            continue;
        int a, b;
        family f = classify(t->src->cols[t->cols[i].src].decl, &a, &b);
        json[n] = full ? NEED_ALL : needs_for(f, detect_json);
        map[n++] = i;
    }
    int r;
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        if (limit > 0 && t->rows == limit) {
            t->partial = 1;
            r = SQLITE_DONE;
            break;
        }
        t->rows++;
        for (int k = 0; k < n; k++)
            see_value(&t->cols[map[k]].st, sqlite3_column_value(s, k), json[k]);
    }
    if (r == SQLITE_DONE && t->partial)
        rc = count_rows(db, t, &t->rows);
    else if (r != SQLITE_DONE) {
        char what[200];
        snprintf(what, sizeof what, "cannot read table %s", t->src->name);
        rc = pgb_src_fail(db, PGBOOT_EINVALID, what);
    }
done:
    sqlite3_finalize(s);
    free(json);
    free(map);
    return rc;
}

/* ---- choosing types ------------------------------------------------------------ */

static void set_type(pgb_plan_col *c, pgb_pg_kind k, int p, int s, int len)
{
    c->kind = k;
    c->p = p;
    c->s = s;
    c->len = len;
    switch (k) {
    case PGB_K_BIGINT:
        snprintf(c->type_sql, sizeof c->type_sql, "bigint");
        break;
    case PGB_K_DOUBLE:
        snprintf(c->type_sql, sizeof c->type_sql, "double precision");
        break;
    case PGB_K_NUMERIC:
        if (p > 0)
            snprintf(c->type_sql, sizeof c->type_sql, "numeric(%d,%d)", p, s);
        else
            snprintf(c->type_sql, sizeof c->type_sql, "numeric");
        break;
    case PGB_K_BOOL:
        snprintf(c->type_sql, sizeof c->type_sql, "boolean");
        break;
    case PGB_K_DATE:
        snprintf(c->type_sql, sizeof c->type_sql, "date");
        break;
    case PGB_K_TS:
        snprintf(c->type_sql, sizeof c->type_sql, "timestamp");
        break;
    case PGB_K_TSTZ:
    case PGB_K_EPOCH_TSTZ:
        snprintf(c->type_sql, sizeof c->type_sql, "timestamptz");
        break;
    case PGB_K_JSONB:
        snprintf(c->type_sql, sizeof c->type_sql, "jsonb");
        break;
    case PGB_K_UUID:
        snprintf(c->type_sql, sizeof c->type_sql, "uuid");
        break;
    case PGB_K_VARCHAR:
        snprintf(c->type_sql, sizeof c->type_sql, "varchar(%d)", len);
        break;
    case PGB_K_TEXT:
        snprintf(c->type_sql, sizeof c->type_sql, "text");
        break;
    case PGB_K_BYTEA:
        snprintf(c->type_sql, sizeof c->type_sql, "bytea");
        break;
    }
}

/* Does an option load the column's zero dates (as NULL only where the
 * column allows it)? */
static int zero_dates_loaded(const pgb_plan_col *c)
{
    return c->zero_dates == PGBOOT_ZERO_DATES_INFINITY ||
           (c->zero_dates == PGBOOT_ZERO_DATES_NULL && !c->notnull);
}

/* Zero dates the column cannot take. */
static int64_t zero_dates_bad(const pgb_plan_col *c)
{
    return zero_dates_loaded(c) ? 0 : c->st.n_text_zero_date;
}

/* How many values a kind cannot hold exactly (mirrors pgb_cell_ok). */
static int64_t bad_for_kind(const pgb_plan_col *c);
static int64_t bad_for(const pgb_plan_col *c)
{
    /* NULLs in a NOT NULL column of the target's (--schema): SQLite's own
     * NOT NULL columns hold none */
    return bad_for_kind(c) + (c->notnull ? c->st.n_null : 0);
}

static int64_t bad_for_kind(const pgb_plan_col *c)
{
    const pgb_col_stats *st = &c->st;
    int64_t lost = c->round_ts ? 0 : st->n_text_frac_lost;
    switch (c->kind) {
    case PGB_K_BIGINT:
        return st->n_real + st->n_text + st->n_blob +
               (c->int_bits == 16   ? st->n_int_over16
                : c->int_bits == 32 ? st->n_int_over32
                                    : 0);
    case PGB_K_DOUBLE:
        return st->n_text + st->n_blob + st->n_big_int;
    case PGB_K_NUMERIC: /* numeric(p,s) holds NaN, not the infinities */
        return st->n_text_nonnumeric + st->n_blob +
               (c->p > 0 ? st->n_real_nonfinite + st->n_text_inf : 0);
    case PGB_K_BOOL:
        return st->n_real + st->n_blob + st->n_int_not01 + st->n_text_nonbool;
    case PGB_K_DATE:
        return st->n_int + st->n_real + st->n_blob + st->n_text_nondate + zero_dates_bad(c);
    case PGB_K_TS:
        return st->n_int + st->n_real + st->n_blob + st->n_text_nonts + st->n_text_tz + lost +
               zero_dates_bad(c);
    case PGB_K_TSTZ:
        return st->n_int + st->n_real + st->n_blob + st->n_text_nonts + st->n_text_naive + lost +
               zero_dates_bad(c);
    case PGB_K_EPOCH_TSTZ:
        return st->n_real + st->n_text + st->n_blob;
    case PGB_K_JSONB: /* blobs of UTF-8 JSON text are that JSON */
        return st->n_int + st->n_real + st->n_blob - st->n_blob_json + st->n_text_nonjson;
    case PGB_K_UUID:
        return st->n_int + st->n_real + st->n_blob + st->n_text_nonuuid;
    case PGB_K_VARCHAR:
    case PGB_K_TEXT: /* blobs of UTF-8 text are stored as that text */
        return st->n_blob - st->n_blob_text + st->n_badtext;
    case PGB_K_BYTEA:
        return st->n_int + st->n_real;
    }
    return 0;
}

static void reason(pgb_plan_col *c, const char *fmt, ...) PGB_PRINTF(2, 3);
static void reason(pgb_plan_col *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *r = pgb_vprintf(fmt, ap); /* the old reason may be an argument */
    va_end(ap);
    free(c->reason);
    c->reason = r;
}

/* The type that holds every value of the column exactly, by the data; when
 * none does (numbers beside blobs), bytea, and the numbers are bad values. */
static void by_data(pgb_plan_col *c)
{
    const pgb_col_stats *st = &c->st;
    int64_t nums = st->n_int + st->n_real, texts = st->n_text;
    if (!nums && !texts && !st->n_blob)
        set_type(c, PGB_K_TEXT, 0, 0, 0);
    else if (!texts && !st->n_blob && !st->n_real)
        set_type(c, PGB_K_BIGINT, 0, 0, 0);
    else if (!texts && !st->n_blob)
        set_type(c, st->n_big_int ? PGB_K_NUMERIC : PGB_K_DOUBLE, 0, 0, 0);
    else if (!st->n_blob && !st->n_badtext)
        set_type(c, PGB_K_TEXT, 0, 0, 0);
    else
        set_type(c, PGB_K_BYTEA, 0, 0, 0);
}

static void epoch_or_fallback(pgb_plan_col *c, const char *what, int epoch_as_ts)
{
    const pgb_col_stats *st = &c->st;
    if (st->n_int && !st->n_real && !st->n_text && !st->n_blob) {
        if (epoch_as_ts) {
            set_type(c, PGB_K_EPOCH_TSTZ, 0, 0, 0);
            reason(c, "%s column of integers: read as Unix epoch seconds (--epoch-as-timestamp)",
                   what);
        } else {
            set_type(c, PGB_K_BIGINT, 0, 0, 0);
            reason(c,
                   "%s column of integers (epoch values?) kept as integers; "
                   "--epoch-as-timestamp converts them",
                   what);
        }
        return;
    }
    by_data(c);
    reason(c,
           "%s column holds values that are not ISO-8601 dates/timestamps (%lld integers, "
           "%lld reals, %lld texts): kept as %s",
           what, (long long)st->n_int, (long long)st->n_real, (long long)st->n_text, c->type_sql);
}

static void decide(pgb_plan_col *c, const pgb_src_col *sc, int epoch_as_ts, int detect_json)
{
    int a, b;
    family f = classify(sc->decl, &a, &b);
    const pgb_col_stats *st = &c->st;
    int only_text = !st->n_int && !st->n_real && !st->n_blob;
    switch (f) {
    case F_INT:
        set_type(c, PGB_K_BIGINT, 0, 0, 0);
        break;
    case F_REAL:
        set_type(c, PGB_K_DOUBLE, 0, 0, 0);
        break;
    case F_NUMERIC_PS:
        if (st->n_real_nonfinite + st->n_text_inf) {
            /* What the load sends must fit: numeric(p,s) refuses the
             * infinities; plain numeric holds them (PostgreSQL 14+). */
            set_type(c, PGB_K_NUMERIC, 0, 0, 0);
            reason(c,
                   "%lld values are Infinity or -Infinity, which numeric(%d,%d) cannot hold: "
                   "unconstrained numeric",
                   (long long)(st->n_real_nonfinite + st->n_text_inf), a, b);
        } else if (st->max_int_digits <= a - b && st->max_frac_digits <= b) {
            set_type(c, PGB_K_NUMERIC, a, b, 0);
        } else {
            set_type(c, PGB_K_NUMERIC, 0, 0, 0);
            reason(c,
                   "values do not fit numeric(%d,%d) (up to %d digits before and %d after "
                   "the point): unconstrained numeric",
                   a, b, st->max_int_digits, st->max_frac_digits);
        }
        break;
    case F_NUMERIC:
        set_type(c, PGB_K_NUMERIC, 0, 0, 0);
        break;
    case F_BOOL:
        if (!st->n_real && !st->n_blob && !st->n_int_not01 && !st->n_text_nonbool) {
            set_type(c, PGB_K_BOOL, 0, 0, 0);
            if (st->n_int + st->n_text)
                reason(c, "BOOLEAN column of 0/1/true/false values");
        } else {
            by_data(c);
            reason(c, "BOOLEAN column holds values other than 0/1/true/false: kept as %s",
                   c->type_sql);
        }
        break;
    case F_DATE:
        if (only_text && st->n_text && !st->n_text_nondate)
            set_type(c, PGB_K_DATE, 0, 0, 0);
        else if (!st->n_int && !st->n_real && !st->n_text && !st->n_blob)
            set_type(c, PGB_K_DATE, 0, 0, 0);
        else
            epoch_or_fallback(c, "DATE", epoch_as_ts);
        break;
    case F_TS:
        if (!st->n_int && !st->n_real && !st->n_text && !st->n_blob) {
            set_type(c, PGB_K_TS, 0, 0, 0);
        } else if (only_text && !st->n_text_nonts && st->n_text_frac_lost && !c->round_ts &&
                   st->n_text_tz + st->n_text_naive) {
            set_type(c, PGB_K_TEXT, 0, 0, 0);
            reason(c,
                   "ISO-8601 timestamps, %lld of them with digits past microseconds that are "
                   "not zeros (PostgreSQL keeps microseconds): kept as text; "
                   "--round-timestamps rounds them to microseconds",
                   (long long)st->n_text_frac_lost);
        } else if (only_text && !st->n_text_nonts) {
            if (!st->n_text_tz) {
                set_type(c, PGB_K_TS, 0, 0, 0);
                reason(c, "ISO-8601 text without a zone: timestamp (never shifted)");
            } else if (!st->n_text_naive) {
                set_type(c, PGB_K_TSTZ, 0, 0, 0);
                reason(c, "ISO-8601 text with zones: timestamptz");
            } else {
                set_type(c, PGB_K_TEXT, 0, 0, 0);
                reason(c, "timestamps with and without a zone are mixed: kept as text");
            }
        } else {
            epoch_or_fallback(c, "DATETIME/TIMESTAMP", epoch_as_ts);
        }
        break;
    case F_TIME:
        by_data(c);
        reason(c, "TIME values are kept as %s", c->type_sql);
        break;
    case F_JSON:
        /* older app versions wrote JSON as blobs of its UTF-8 text */
        if (!st->n_int && !st->n_real && st->n_blob == st->n_blob_json && !st->n_text_nonjson) {
            set_type(c, PGB_K_JSONB, 0, 0, 0);
            if (st->n_blob_json)
                reason(c,
                       "every value parses as JSON (%lld of them BLOBs of UTF-8 JSON text): "
                       "jsonb",
                       (long long)st->n_blob_json);
            else if (st->n_text)
                reason(c, "every value parses as JSON: jsonb");
        } else {
            by_data(c);
            reason(c, "JSON column holds values that do not parse as JSON: kept as %s",
                   c->type_sql);
        }
        break;
    case F_UUID:
        if (only_text && !st->n_text_nonuuid && !st->n_text_uuid_noncanon) {
            set_type(c, PGB_K_UUID, 0, 0, 0);
        } else if (only_text && !st->n_text_nonuuid) {
            set_type(c, PGB_K_TEXT, 0, 0, 0);
            reason(c,
                   "%lld UUIDs are not in the canonical form (lower case, 8-4-4-4-12, no "
                   "braces): a uuid column would read them back changed, and values that "
                   "differ only in case or braces would become equal; kept as text",
                   (long long)st->n_text_uuid_noncanon);
        } else {
            by_data(c);
            reason(c, "UUID column holds values that are not UUIDs: kept as %s", c->type_sql);
        }
        break;
    case F_VARCHAR:
    case F_CHAR:
        if ((int64_t)st->max_chars <= a) {
            set_type(c, PGB_K_VARCHAR, 0, 0, a);
            if (f == F_CHAR)
                reason(c,
                       "CHAR(%d) as varchar(%d): PostgreSQL's char(n) would pad values "
                       "with spaces",
                       a, a);
        } else {
            set_type(c, PGB_K_TEXT, 0, 0, 0);
            reason(c, "values up to %zu characters exceed the declared length %d: text",
                   st->max_chars, a);
        }
        break;
    case F_TEXT:
        set_type(c, PGB_K_TEXT, 0, 0, 0);
        if (st->n_blob_text)
            reason(c, "%lld BLOB values are valid UTF-8 text without NUL: stored as that text",
                   (long long)st->n_blob_text);
        break;
    case F_BLOB:
        set_type(c, PGB_K_BYTEA, 0, 0, 0);
        break;
    case F_NUMAFF:
    case F_ANY:
        by_data(c);
        if (!st->n_int && !st->n_real && !st->n_text && !st->n_blob && *sc->decl) {
            /* No values to go by: SQLite's affinity rule for the name. */
            char d[128];
            normal_decl(sc->decl, d, sizeof d);
            if (strstr(d, "int"))
                set_type(c, PGB_K_BIGINT, 0, 0, 0);
            else if (strstr(d, "real") || strstr(d, "floa") || strstr(d, "doub"))
                set_type(c, PGB_K_DOUBLE, 0, 0, 0);
            else if (strstr(d, "blob"))
                set_type(c, PGB_K_BYTEA, 0, 0, 0);
            else if (!strstr(d, "char") && !strstr(d, "clob") && !strstr(d, "text"))
                set_type(c, PGB_K_NUMERIC, 0, 0, 0);
            reason(c,
                   "'%s' is not a type name PostgreSQL knows, and the column is empty: %s "
                   "by SQLite's affinity rules",
                   sc->decl, c->type_sql);
            break;
        }
        if (*sc->decl)
            reason(c, "'%s' is not a type name PostgreSQL knows: %s, chosen by the values",
                   sc->decl, c->type_sql);
        else if (st->n_int + st->n_real + st->n_text + st->n_blob)
            reason(c, "no declared type: %s by the values", c->type_sql);
        break;
    }
    if (c->round_ts && st->n_text_frac_lost && (c->kind == PGB_K_TS || c->kind == PGB_K_TSTZ))
        reason(c, "%s; %lld values rounded to microseconds (--round-timestamps)",
               c->reason ? c->reason : c->type_sql, (long long)st->n_text_frac_lost);
    if (st->n_text_zero_date && c->zero_dates != PGBOOT_ZERO_DATES_REFUSE &&
        (c->kind == PGB_K_DATE || c->kind == PGB_K_TS || c->kind == PGB_K_TSTZ))
        reason(c, "%s; %lld zero dates ('0000-00-00') loaded as %s",
               c->reason ? c->reason : c->type_sql, (long long)st->n_text_zero_date,
               c->zero_dates == PGBOOT_ZERO_DATES_INFINITY ? "-infinity (--zero-dates infinity)"
                                                           : "NULL (--zero-dates null)");
    if (detect_json && c->kind == PGB_K_TEXT && (f == F_TEXT || f == F_ANY) && st->n_text &&
        only_text && !st->n_text_noncontainer) {
        set_type(c, PGB_K_JSONB, 0, 0, 0);
        reason(c, "every value is a JSON object or array (--detect-json): jsonb");
    }
}

static void widen(pgb_plan_col *c)
{
    const pgb_col_stats *st = &c->st;
    char from[64];
    snprintf(from, sizeof from, "%s", c->type_sql);
    int64_t bad = c->n_bad;
    if (!st->n_text && !st->n_blob)
        set_type(c, PGB_K_NUMERIC, 0, 0, 0);
    else if (st->n_blob == st->n_blob_text && !st->n_badtext)
        set_type(c, PGB_K_TEXT, 0, 0, 0);
    else
        set_type(c, PGB_K_BYTEA, 0, 0, 0);
    reason(c, "widened from %s to %s: %lld values would not fit (--on-error widen)", from,
           c->type_sql, (long long)bad);
    /* Numbers beside blobs: no type holds both exactly; those numbers stay
     * bad, and the migration stops on them as under strict. */
    c->n_bad = bad_for(c);
}

int pgb_plan_rescan(pgb_plan *p, pgb_plan_table *t)
{
    t->rows = 0;
    for (int k = 0; k < t->ncols; k++) {
        pgb_plan_col *c = &t->cols[k];
        if (c->generated)
            continue;
        memset(&c->st, 0, sizeof c->st);
        free(c->reason);
        c->reason = NULL;
    }
    int rc = scan_table(p->src, t, p->detect_json, p->full_scan, 0);
    for (int k = 0; k < t->ncols && rc == 0; k++) {
        pgb_plan_col *c = &t->cols[k];
        if (c->generated)
            continue;
        decide(c, &t->src->cols[c->src], p->epoch_as_timestamp, p->detect_json);
        c->n_bad = bad_for(c);
        if (c->n_bad && p->on_error == PGBOOT_ON_ERROR_WIDEN)
            widen(c);
    }
    return rc;
}

void pgb_plan_free(pgb_plan *p)
{
    for (int i = 0; i < p->ntables; i++) {
        for (int j = 0; j < p->tables[i].ncols; j++) {
            free(p->tables[i].cols[j].name);
            free(p->tables[i].cols[j].reason);
            free(p->tables[i].cols[j].gen_sql);
        }
        free(p->tables[i].cols);
        free(p->tables[i].name);
    }
    free(p->tables);
    memset(p, 0, sizeof *p);
}

int pgb_plan_make(pgb_plan *p, pgb_src_db *src, int preserve_case, int epoch_as_ts, int detect_json,
                  pgboot_on_error on_error, int full_scan, const pgb_value_opts *values,
                  int64_t prefix)
{
    memset(p, 0, sizeof *p);
    if (values)
        p->values = *values;
    p->src = src;
    p->preserve_case = preserve_case;
    p->epoch_as_timestamp = epoch_as_ts;
    p->detect_json = detect_json;
    p->on_error = on_error;
    p->full_scan = full_scan;
    p->tables = calloc((size_t)src->ntables, sizeof *p->tables);
    char **names = calloc((size_t)src->ntables + 1, sizeof(char *));
    const char **origins = calloc((size_t)src->ntables + 1, sizeof(char *));
    int rc = 0;
    if (!p->tables || !names || !origins) {
        rc = pgb_fail(PGBOOT_ENOMEM, "out of memory");
        goto done;
    }
    for (int i = 0; i < src->ntables && rc == 0; i++) {
        pgb_src_table *st = &src->tables[i];
        pgb_plan_table *t = &p->tables[p->ntables++];
        t->src = st;
        t->name = fold(st->name, preserve_case);
        t->cols = calloc((size_t)st->ncols + 1, sizeof *t->cols);
        if (!t->name || !t->cols) {
            rc = pgb_fail(PGBOOT_ENOMEM, "out of memory");
            break;
        }
        names[i] = t->name;
        origins[i] = st->name;
        char **cn = calloc((size_t)st->ncols + 1, sizeof(char *));
        const char **co = calloc((size_t)st->ncols + 1, sizeof(char *));
        if (!cn || !co) {
            free(cn);
            free(co);
            rc = pgb_fail(PGBOOT_ENOMEM, "out of memory");
            break;
        }
        for (int j = 0; j < st->ncols; j++) {
            pgb_plan_col *c = &t->cols[t->ncols++];
            c->src = j;
            c->name = fold(st->cols[j].name, preserve_case);
            c->generated = st->cols[j].hidden == 2 || st->cols[j].hidden == 3;
            c->identity = j == st->rowid_col && !st->without_rowid;
            c->round_ts = p->values.round_timestamps;
            c->zero_dates = p->values.zero_dates;
            c->notnull = st->cols[j].notnull;
            cn[j] = c->name;
            co[j] = st->cols[j].name;
            if (!c->name)
                rc = pgb_fail(PGBOOT_ENOMEM, "out of memory");
        }
        if (rc == 0) {
            char what[160];
            snprintf(what, sizeof what, "column (of table %.100s)", st->name);
            rc = check_names(cn, co, st->ncols, what, preserve_case);
        }
        free(cn);
        free(co);
    }
    if (rc == 0)
        rc = check_names(names, origins, p->ntables, "table", preserve_case);
    for (int i = 0; i < p->ntables && rc == 0; i++) {
        pgb_plan_table *t = &p->tables[i];
        if ((rc = scan_table(src, t, detect_json, full_scan, prefix)) != 0)
            break;
        int bad = 0;
        for (int j = 0; j < t->ncols; j++) {
            pgb_plan_col *c = &t->cols[j];
            decide(c, &t->src->cols[c->src], epoch_as_ts, detect_json);
            c->n_bad = c->generated ? 0 : bad_for(c);
            bad |= c->n_bad > 0;
            if (c->n_bad && on_error == PGBOOT_ON_ERROR_WIDEN)
                widen(c);
        }
        /* Values that do not fit stop the migration or change its course
         * before anything is written: those of every row count. */
        if (bad && t->partial)
            rc = pgb_plan_rescan(p, t);
    }
done:
    free(names);
    free(origins);
    return rc;
}

/* ---- the rest of a partial scan ---------------------------------------------- */

int pgb_pass_begin(pgb_pass *ps, const pgb_plan *p, const pgb_plan_table *t)
{
    memset(ps, 0, sizeof *ps);
    ps->st = calloc((size_t)t->ncols + 1, sizeof *ps->st);
    ps->need = calloc((size_t)t->ncols + 1, sizeof *ps->need);
    ps->map = calloc((size_t)t->ncols + 1, sizeof *ps->map);
    if (!ps->st || !ps->need || !ps->map) {
        pgb_pass_free(ps);
        return pgb_fail(PGBOOT_ENOMEM, "out of memory");
    }
    for (int i = 0; i < t->ncols; i++) {
        if (t->cols[i].generated)
            continue;
        int a, b;
        family f = classify(t->src->cols[t->cols[i].src].decl, &a, &b);
        ps->need[ps->n] = p->full_scan ? NEED_ALL : needs_for(f, p->detect_json);
        ps->map[ps->n++] = i;
    }
    return 0;
}

void pgb_pass_row(pgb_pass *ps, sqlite3_stmt *s, int first)
{
    ps->rows++;
    for (int k = 0; k < ps->n; k++)
        see_value(&ps->st[k], sqlite3_column_value(s, first + k), ps->need[k]);
}

int pgb_pass_end(pgb_pass *ps, const pgb_plan *p, pgb_plan_table *t)
{
    int same = 1;
    for (int k = 0; k < ps->n; k++) {
        pgb_plan_col *c = &t->cols[ps->map[k]];
        pgb_plan_col was = *c;
        int was_inf = c->st.n_real_nonfinite + c->st.n_text_inf > 0;
        c->st = ps->st[k];
        char *old_reason = c->reason;
        c->reason = NULL;
        decide(c, &t->src->cols[c->src], p->epoch_as_timestamp, p->detect_json);
        c->n_bad = bad_for(c);
        if (c->n_bad && p->on_error == PGBOOT_ON_ERROR_WIDEN)
            widen(c);
        free(old_reason);
        same &= c->kind == was.kind && c->p == was.p && c->s == was.s && c->len == was.len &&
                !strcmp(c->type_sql, was.type_sql) && c->n_bad == was.n_bad &&
                (c->st.n_real_nonfinite + c->st.n_text_inf > 0) == was_inf;
    }
    t->rows = ps->rows;
    t->partial = 0;
    return same;
}

void pgb_pass_free(pgb_pass *ps)
{
    free(ps->st);
    free(ps->need);
    free(ps->map);
    memset(ps, 0, sizeof *ps);
}

int pgb_pass_verdict(const pgb_plan *p, pgb_plan_table *t)
{
    if (!t->partial)
        return 1;
    pgb_error_saved why;
    pgb_error_save(&why);
    pgb_pass ps;
    sqlite3_stmt *s = NULL;
    int first = 0, held = 1;
    if (pgb_pass_begin(&ps, p, t) != 0)
        goto done;
    if (pgb_plan_rows_stmt(p, t, &s, &first) == 0) {
        int r;
        while ((r = sqlite3_step(s)) == SQLITE_ROW)
            pgb_pass_row(&ps, s, first);
        if (r == SQLITE_DONE)
            held = pgb_pass_end(&ps, p, t);
    }
    sqlite3_finalize(s);
    pgb_pass_free(&ps);
done:
    pgb_error_reset(); /* a failure to read it here is not the caller's */
    pgb_error_restore(&why);
    return held;
}

/* ---- single cells ----------------------------------------------------------- */

int pgb_cell_ok(const pgb_plan_col *c, sqlite3_value *v, const char **why)
{
    int type = sqlite3_value_type(v);
    if (type == SQLITE_NULL) {
        /* only the target's NOT NULL columns (--schema) meet a NULL */
        *why = "the target's column is NOT NULL";
        return !c->notnull;
    }
    const char *s = NULL;
    size_t n = 0;
    if (type == SQLITE_TEXT) {
        s = (const char *)sqlite3_value_blob(v);
        n = (size_t)sqlite3_value_bytes(v);
        if (!s)
            s = "";
        if (c->kind != PGB_K_BYTEA && !pgb_utf8_ok(s, n)) {
            *why = memchr(s, '\0', n) ? "text with a NUL byte" : "text that is not valid UTF-8";
            return 0;
        }
    }
    pgb_iso iso;
    char hex[33];
    int id, fd;
    switch (c->kind) {
    case PGB_K_BIGINT:
        *why = type == SQLITE_FLOAT  ? "a fractional number in an integer column"
               : type == SQLITE_BLOB ? "a blob in an integer column"
                                     : "text in an integer column";
        if (type == SQLITE_INTEGER && c->int_bits) {
            /* the app's integer or smallint column (--schema, --data-only) */
            sqlite3_int64 i = sqlite3_value_int64(v);
            sqlite3_int64 max = c->int_bits == 16 ? INT16_MAX : INT32_MAX;
            *why = c->int_bits == 16 ? "out of the range of the target's smallint column"
                                     : "out of the range of the target's integer column";
            return i >= -max - 1 && i <= max;
        }
        return type == SQLITE_INTEGER;
    case PGB_K_DOUBLE: {
        *why = type == SQLITE_BLOB ? "a blob in a real column" : "text in a real column";
        if (type == SQLITE_INTEGER) {
            sqlite3_int64 i = sqlite3_value_int64(v);
            *why = "an integer too large for a double";
            return i <= TWO53 && i >= -TWO53;
        }
        return type == SQLITE_FLOAT;
    }
    case PGB_K_NUMERIC: {
        *why = type == SQLITE_BLOB ? "a blob in a numeric column" : "text that is not a number";
        int special = 0;
        if (type == SQLITE_TEXT && pgb_decimal_shape(s, n, &id, &fd) != 0 &&
            !(special = pgb_numeric_special(s, n, NULL)))
            return 0;
        if (type == SQLITE_FLOAT && !isfinite(sqlite3_value_double(v)))
            special = 2;
        if (special > 1 && c->p > 0) {
            *why = "Infinity in a numeric(p,s) column, which cannot hold it";
            return 0;
        }
        if (type == SQLITE_BLOB)
            return 0;
        if (c->p > 0 && !special) {
            /* the target's numeric(p,s) (--schema): more digits would be
             * rounded, or overflow */
            *why = "more digits than the column's precision and scale hold";
            if (type == SQLITE_TEXT) {
                if (pgb_decimal_shape(s, n, &id, &fd) != 0)
                    return 0;
            } else if (type == SQLITE_INTEGER) {
                char buf[24];
                int len = snprintf(buf, sizeof buf, "%lld", (long long)sqlite3_value_int64(v));
                if (pgb_decimal_shape(buf, (size_t)len, &id, &fd) != 0)
                    return 0;
            } else {
                number_shape(sqlite3_value_double(v), &id, &fd);
            }
            return id <= c->p - c->s && fd <= c->s;
        }
        return 1;
    }
    case PGB_K_BOOL:
        *why = "a value other than 0/1/true/false";
        if (type == SQLITE_INTEGER) {
            sqlite3_int64 i = sqlite3_value_int64(v);
            return i == 0 || i == 1;
        }
        return type == SQLITE_TEXT && pgb_parse_bool_text(s, n) >= 0;
    case PGB_K_DATE:
    case PGB_K_TS:
    case PGB_K_TSTZ:
        *why = c->kind == PGB_K_DATE ? "not an ISO-8601 date"
                                     : "not an ISO-8601 timestamp of the column's kind";
        if (type == SQLITE_INTEGER && c->kind != PGB_K_DATE)
            *why = "an integer (epoch seconds?) in a timestamp column: only a timestamptz "
                   "column of the target takes epoch seconds";
        if (type != SQLITE_TEXT)
            return 0;
        if (pgb_zero_date(s, n)) {
            if (c->zero_dates == PGBOOT_ZERO_DATES_NULL && c->notnull)
                *why = "a zero date ('0000-00-00') in a NOT NULL column: --zero-dates null "
                       "cannot make it NULL";
            else
                *why = "a zero date ('0000-00-00'): PostgreSQL has no such date";
            return zero_dates_loaded(c);
        }
        if (pgb_parse_iso(s, n, &iso) != 0)
            return 0;
        if (c->kind == PGB_K_DATE)
            return !iso.has_time;
        if (iso.frac_lost && !c->round_ts) {
            *why = "digits past microseconds that are not zeros (PostgreSQL keeps "
                   "microseconds)";
            return 0;
        }
        return iso.has_zone == (c->kind == PGB_K_TSTZ);
    case PGB_K_EPOCH_TSTZ:
        *why = "not an integer epoch";
        return type == SQLITE_INTEGER;
    case PGB_K_JSONB: {
        *why = "not JSON";
        if (type == SQLITE_BLOB) {
            s = (const char *)sqlite3_value_blob(v);
            n = (size_t)sqlite3_value_bytes(v);
            type = pgb_utf8_ok(s ? s : "", n) ? SQLITE_TEXT : SQLITE_BLOB;
        }
        if (type != SQLITE_TEXT)
            return 0;
        int container;
        return pgb_json_check(s ? s : "", n, &container) == 0;
    }
    case PGB_K_UUID:
        /* The same UUID in another spelling (upper case, braces) is the
         * same value: into a target's uuid column (--schema) it goes. The
         * plan chooses uuid only when every value is canonical. */
        *why = "not a UUID";
        return type == SQLITE_TEXT && pgb_parse_uuid(s, n, hex) == 0;
    case PGB_K_VARCHAR:
    case PGB_K_TEXT:
        /* A blob of UTF-8 text (no NUL) is stored as that text. */
        if (type == SQLITE_BLOB) {
            *why = "a blob in a text column";
            s = (const char *)sqlite3_value_blob(v);
            n = (size_t)sqlite3_value_bytes(v);
            if (!pgb_utf8_ok(s ? s : "", n))
                return 0;
            type = SQLITE_TEXT;
        }
        *why = "longer than the column";
        if (c->kind == PGB_K_VARCHAR && type == SQLITE_TEXT)
            return (int64_t)pgb_utf8_len(s ? s : "", n) <= c->len;
        return 1;
    case PGB_K_BYTEA:
        *why = "a number in a blob column";
        return type == SQLITE_BLOB || type == SQLITE_TEXT;
    }
    return 1;
}

int pgb_plan_zero_default(const pgb_plan_table *t, const pgb_plan_col *c)
{
    const char *d = t->src->cols[c->src].dflt;
    if (!d || c->generated || c->identity ||
        (c->kind != PGB_K_DATE && c->kind != PGB_K_TS && c->kind != PGB_K_TSTZ))
        return 0;
    size_t n = strlen(d);
    while (n >= 2 && d[0] == '(' && d[n - 1] == ')') { /* DEFAULT ('0000-00-00') */
        d++;
        n -= 2;
    }
    return n >= 2 && (d[0] == '\'' || d[0] == '"') && d[n - 1] == d[0] &&
           pgb_zero_date(d + 1, n - 2);
}

/* A column of the target's own whose bad values its scan cannot count:
 * varchar(n) and numeric(p,s) (the scan looked for the types SQLite's
 * declared type suggested). */
static int needs_exact_count(const pgb_plan_col *c)
{
    return !c->generated &&
           ((c->kind == PGB_K_VARCHAR && c->len > 0) || (c->kind == PGB_K_NUMERIC && c->p > 0));
}

/* Count the cells of such columns of t that pgb_cell_ok refuses: one read
 * of the table. */
static void count_exact(pgb_plan *p, pgb_plan_table *t)
{
    int first;
    sqlite3_stmt *s;
    if (pgb_plan_rows_stmt(p, t, &s, &first) != 0) {
        pgb_error_reset();
        return; /* the load's own read reports it */
    }
    while (sqlite3_step(s) == SQLITE_ROW) {
        int k = first;
        for (int j = 0; j < t->ncols; j++) {
            pgb_plan_col *c = &t->cols[j];
            if (c->generated)
                continue;
            sqlite3_value *v = sqlite3_column_value(s, k++);
            const char *why;
            if (needs_exact_count(c) && sqlite3_value_type(v) != SQLITE_NULL &&
                !pgb_cell_ok(c, v, &why))
                c->n_bad++;
        }
    }
    sqlite3_finalize(s);
}

void pgb_plan_recount(pgb_plan *p)
{
    for (int i = 0; i < p->ntables; i++) {
        int exact = 0;
        for (int j = 0; j < p->tables[i].ncols; j++) {
            pgb_plan_col *c = &p->tables[i].cols[j];
            c->n_bad = c->generated ? 0 : bad_for(c);
            if (needs_exact_count(c)) { /* count_exact counts every other cell */
                c->n_bad = c->notnull ? c->st.n_null : 0;
                exact = 1;
            }
        }
        if (exact)
            count_exact(p, &p->tables[i]);
    }
}
