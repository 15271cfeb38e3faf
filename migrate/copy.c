/* Moving rows: a stream of COPY text built from the SQLite rows in bounded
 * buffers (memory does not grow with the database), and the canonical form of
 * every value for --verify full, computed as the rows go out and again from
 * what PostgreSQL gives back. */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libpq-fe.h>
#include <sodium.h>
#include <sqlite3.h>

#include "../platform/dynload.h"
#include "copy.h"
#include "plan.h"
#include "source.h"
#include "values.h"

#define FLUSH_AT (256 * 1024)

/* ---- canonical values ----------------------------------------------------- */

static void canon_add(crypto_generichash_state *h, const void *p, size_t n)
{
    unsigned char hdr[5] = {1, (unsigned char)(n >> 24), (unsigned char)(n >> 16),
                            (unsigned char)(n >> 8), (unsigned char)n};
    crypto_generichash_update(h, hdr, sizeof hdr);
    crypto_generichash_update(h, p, n);
}

static void canon_null(crypto_generichash_state *h)
{
    unsigned char z = 0;
    crypto_generichash_update(h, &z, 1);
}

static void canon_double(crypto_generichash_state *h, double d)
{
    if (d != d) {
        canon_add(h, "NaN", 3);
        return;
    }
    unsigned char b[8];
    memcpy(b, &d, 8);
    canon_add(h, b, 8);
}

static void canon_decimal(crypto_generichash_state *h, const char *s, size_t n)
{
    const char *special;
    if (pgb_numeric_special(s, n, &special)) { /* 'inf' is PostgreSQL's 'Infinity' */
        canon_add(h, special, strlen(special));
        return;
    }
    char plain[400];
    char tmp[400];
    snprintf(tmp, sizeof tmp, "%.*s", (int)n, s);
    pgb_plain_decimal(tmp, plain, sizeof plain);
    char out[420];
    pgb_decimal_normal(plain, strlen(plain), out);
    canon_add(h, out, strlen(out));
}

static void canon_micros(crypto_generichash_state *h, int64_t us)
{
    char b[32];
    int n = snprintf(b, sizeof b, "%lld", (long long)us);
    canon_add(h, b, (size_t)n);
}

static void canon_json(crypto_generichash_state *h, const char *s, size_t n)
{
    json_error_t e;
    json_t *j = json_loadb(s, n, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL, &e);
    char *d = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) : NULL;
    if (d)
        canon_add(h, d, strlen(d));
    else
        canon_add(h, s, n);
    free(d);
    json_decref(j);
}

/* The canonical value of a SQLite value for column c. */
/* The canonical form of a value both sides give as text: a timestamp as its
 * microseconds (the text itself when it does not parse), JSON normalised, a
 * UUID as its 32 hex digits. */
static void canon_text_form(crypto_generichash_state *h, pgb_pg_kind kind, const char *s, size_t n)
{
    pgb_iso iso;
    char hex[33];
    if (kind == PGB_K_JSONB) {
        canon_json(h, s, n);
    } else if (kind == PGB_K_UUID) {
        if (pgb_parse_uuid(s, n, hex) == 0)
            canon_add(h, hex, 32);
    } else if (pgb_parse_iso(s, n, &iso) == 0) {
        canon_micros(h, iso.micros);
    } else {
        canon_add(h, s, n);
    }
}

static void canon_sqlite(crypto_generichash_state *h, const pgb_plan_col *c, sqlite3_value *v)
{
    int type = sqlite3_value_type(v);
    if (type == SQLITE_NULL) {
        canon_null(h);
        return;
    }
    const char *s = (const char *)sqlite3_value_blob(v);
    size_t n = (size_t)sqlite3_value_bytes(v);
    char buf[64];
    switch (c->kind) {
    case PGB_K_BIGINT:
        n = (size_t)snprintf(buf, sizeof buf, "%lld", (long long)sqlite3_value_int64(v));
        canon_add(h, buf, n);
        return;
    case PGB_K_DOUBLE:
        canon_double(h, sqlite3_value_double(v));
        return;
    case PGB_K_NUMERIC:
        if (type == SQLITE_INTEGER) {
            n = (size_t)snprintf(buf, sizeof buf, "%lld", (long long)sqlite3_value_int64(v));
            canon_decimal(h, buf, n);
        } else if (type == SQLITE_FLOAT) {
            n = (size_t)pgb_double_text(sqlite3_value_double(v), buf);
            canon_decimal(h, buf, n);
        } else {
            canon_decimal(h, s ? s : "", n);
        }
        return;
    case PGB_K_BOOL:
        if (type == SQLITE_INTEGER)
            canon_add(h, sqlite3_value_int64(v) ? "t" : "f", 1);
        else
            canon_add(h, pgb_parse_bool_text(s, n) > 0 ? "t" : "f", 1);
        return;
    case PGB_K_DATE:
    case PGB_K_TS:
    case PGB_K_TSTZ:
        if (type == SQLITE_TEXT && c->zero_dates != PGBOOT_ZERO_DATES_REFUSE &&
            pgb_zero_date(s, n)) {
            if (c->zero_dates == PGBOOT_ZERO_DATES_INFINITY)
                canon_add(h, "-infinity", 9);
            else
                canon_null(h);
        } else if (c->kind == PGB_K_DATE) {
            canon_add(h, s, n);
        } else {
            canon_text_form(h, c->kind, s, n);
        }
        return;
    case PGB_K_JSONB:
    case PGB_K_UUID:
        canon_text_form(h, c->kind, s, n);
        return;
    case PGB_K_EPOCH_TSTZ:
        canon_micros(h, sqlite3_value_int64(v) * 1000000);
        return;
    case PGB_K_VARCHAR:
    case PGB_K_TEXT:
    case PGB_K_BYTEA:
        if (type == SQLITE_FLOAT) {
            n = (size_t)pgb_real_text(sqlite3_value_double(v), buf);
            canon_add(h, buf, n);
        } else if (type == SQLITE_INTEGER) {
            n = (size_t)snprintf(buf, sizeof buf, "%lld", (long long)sqlite3_value_int64(v));
            canon_add(h, buf, n);
        } else {
            canon_add(h, s ? s : "", n);
        }
        return;
    }
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c - 'A' + 10;
}

/* The canonical value of a field PostgreSQL sent back (already unescaped). */
static void canon_pg(crypto_generichash_state *h, const pgb_plan_col *c, const char *s, size_t n)
{
    switch (c->kind) {
    case PGB_K_BIGINT:
    case PGB_K_DATE:
    case PGB_K_BOOL:
    case PGB_K_VARCHAR:
    case PGB_K_TEXT:
        canon_add(h, s, n);
        return;
    case PGB_K_DOUBLE: {
        char tmp[64];
        snprintf(tmp, sizeof tmp, "%.*s", (int)n, s);
        canon_double(h, strtod(tmp, NULL));
        return;
    }
    case PGB_K_NUMERIC:
        canon_decimal(h, s, n);
        return;
    case PGB_K_TS:
    case PGB_K_TSTZ:
    case PGB_K_EPOCH_TSTZ: /* PostgreSQL gives it back as a timestamp's text */
    case PGB_K_JSONB:
    case PGB_K_UUID:
        canon_text_form(h, c->kind, s, n);
        return;
    case PGB_K_BYTEA: {
        /* \x followed by hex digits */
        size_t m = n > 2 ? (n - 2) / 2 : 0;
        unsigned char *b = malloc(m + 1);
        if (!b)
            return;
        for (size_t i = 0; i < m; i++)
            b[i] = (unsigned char)(hexval(s[2 + 2 * i]) << 4 | hexval(s[3 + 2 * i]));
        canon_add(h, b, m);
        free(b);
        return;
    }
    }
}

/* Order-independent digest of a table's rows: each row hashed, the hashes
 * summed (first half) and xored (second half). */
typedef struct {
    uint64_t sum, xr, rows;
} pgb_digest;

static void pgb_digest_row(pgb_digest *d, const unsigned char h[16])
{
    uint64_t a, b;
    memcpy(&a, h, 8);
    memcpy(&b, h + 8, 8);
    d->sum += a;
    d->xr ^= b;
    d->rows++;
}

/* ---- COPY text ---------------------------------------------------------------- */

static void put_escaped(pgb_buf *b, const char *s, size_t n)
{
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        const char *esc = NULL;
        switch (s[i]) {
        case '\\':
            esc = "\\\\";
            break;
        case '\t':
            esc = "\\t";
            break;
        case '\n':
            esc = "\\n";
            break;
        case '\r':
            esc = "\\r";
            break;
        default:
            continue;
        }
        pgb_buf_add(b, s + run, i - run);
        pgb_buf_puts(b, esc);
        run = i + 1;
    }
    pgb_buf_add(b, s + run, n - run);
}

/* A number stored in a text-typed column goes as the text SQLite would give
 * it: *s and *len point at its digits in num (40 bytes); any other value
 * leaves them as they are. */
static void number_as_text(sqlite3_value *v, int type, char num[40], const char **s, size_t *len)
{
    if (type == SQLITE_FLOAT) {
        *len = (size_t)pgb_real_text(sqlite3_value_double(v), num);
        *s = num;
    } else if (type == SQLITE_INTEGER) {
        *len = (size_t)snprintf(num, 40, "%lld", (long long)sqlite3_value_int64(v));
        *s = num;
    }
}

/* The bytes of a value, for what reads them: text and blobs, and the kinds
 * that read a number's text too (booleans, dates and times). Any other
 * number is written from its value: SQLite's own conversion to text would
 * format it only to be ignored, and costs more than the rest of the row. */
static const char *value_bytes(sqlite3_value *v, int type, pgb_pg_kind k, size_t *len)
{
    int number = type == SQLITE_INTEGER || type == SQLITE_FLOAT;
    if (number && k != PGB_K_BOOL && k != PGB_K_DATE && k != PGB_K_TS && k != PGB_K_TSTZ) {
        *len = 0;
        return NULL;
    }
    const char *s = (const char *)sqlite3_value_blob(v);
    *len = (size_t)sqlite3_value_bytes(v);
    return s;
}

static void put_value(pgb_buf *b, const pgb_plan_col *c, sqlite3_value *v)
{
    int type = sqlite3_value_type(v);
    if (type == SQLITE_NULL) {
        pgb_buf_add(b, "\\N", 2);
        return;
    }
    char buf[512];
    int n;
    size_t len;
    const char *s = value_bytes(v, type, c->kind, &len);
    switch (c->kind) {
    case PGB_K_BIGINT:
        n = snprintf(buf, sizeof buf, "%lld", (long long)sqlite3_value_int64(v));
        pgb_buf_add(b, buf, (size_t)n);
        return;
    case PGB_K_DOUBLE:
        if (type == SQLITE_INTEGER)
            n = snprintf(buf, sizeof buf, "%lld", (long long)sqlite3_value_int64(v));
        else
            n = pgb_double_exact(sqlite3_value_double(v), buf);
        pgb_buf_add(b, buf, (size_t)n);
        return;
    case PGB_K_NUMERIC:
        if (type == SQLITE_INTEGER) {
            n = snprintf(buf, sizeof buf, "%lld", (long long)sqlite3_value_int64(v));
            pgb_buf_add(b, buf, (size_t)n);
        } else if (type == SQLITE_FLOAT) {
            char t[40];
            pgb_double_text(sqlite3_value_double(v), t);
            pgb_plain_decimal(t, buf, sizeof buf);
            pgb_buf_puts(b, buf);
        } else {
            put_escaped(b, s, len);
        }
        return;
    case PGB_K_BOOL:
        if (type == SQLITE_INTEGER)
            pgb_buf_add(b, sqlite3_value_int64(v) ? "t" : "f", 1);
        else
            pgb_buf_add(b, pgb_parse_bool_text(s, len) > 0 ? "t" : "f", 1);
        return;
    case PGB_K_EPOCH_TSTZ:
        n = pgb_epoch_text(sqlite3_value_int64(v), buf, sizeof buf);
        pgb_buf_add(b, buf, (size_t)n);
        return;
    case PGB_K_DATE:
    case PGB_K_TS:
    case PGB_K_TSTZ:
        if (type != SQLITE_TEXT)
            break;
        if (c->zero_dates != PGBOOT_ZERO_DATES_REFUSE && pgb_zero_date(s, len)) {
            if (c->zero_dates == PGBOOT_ZERO_DATES_INFINITY)
                pgb_buf_add(b, "-infinity", 9);
            else
                pgb_buf_add(b, "\\N", 2);
            return;
        }
        if (c->round_ts && c->kind != PGB_K_DATE && len > 26) {
            /* more than six fractional digits: to the nearest microsecond */
            pgb_iso iso;
            if (pgb_parse_iso(s, len, &iso) == 0 && iso.frac_lost) {
                n = pgb_micros_text(iso.micros, iso.has_zone, buf, sizeof buf);
                pgb_buf_add(b, buf, (size_t)n);
                return;
            }
        }
        break;
    case PGB_K_BYTEA: {
        static const char hx[] = "0123456789abcdef";
        char num[40];
        number_as_text(v, type, num, &s, &len);
        pgb_buf_add(b, "\\\\x", 3);
        for (size_t i = 0; i < len; i += sizeof buf / 2) {
            size_t m = len - i < sizeof buf / 2 ? len - i : sizeof buf / 2;
            for (size_t k = 0; k < m; k++) {
                buf[2 * k] = hx[(unsigned char)s[i + k] >> 4];
                buf[2 * k + 1] = hx[(unsigned char)s[i + k] & 15];
            }
            pgb_buf_add(b, buf, 2 * m);
        }
        return;
    }
    default:
        break;
    }
    /* Text kinds (and dates as they are): integers in decimal, reals
     * exactly, text and blobs of UTF-8 text as their bytes. */
    if (type == SQLITE_FLOAT) {
        n = pgb_real_text(sqlite3_value_double(v), buf);
        pgb_buf_add(b, buf, (size_t)n);
    } else if (type == SQLITE_INTEGER) {
        n = snprintf(buf, sizeof buf, "%lld", (long long)sqlite3_value_int64(v));
        pgb_buf_add(b, buf, (size_t)n);
    } else {
        put_escaped(b, s ? s : "", len);
    }
}

void pgb_copy_value(pgb_buf *b, const pgb_plan_col *c, sqlite3_value *v)
{
    put_value(b, c, v);
}

static long unescape(char *s, size_t n);

char *pgb_value_input_text(const pgb_plan_col *c, sqlite3_value *v)
{
    pgb_buf b = {0};
    put_value(&b, c, v);
    if (b.oom || !b.s) {
        pgb_buf_free(&b);
        return NULL;
    }
    long n = unescape(b.s, b.len);
    if (n < 0) {
        pgb_buf_free(&b);
        return NULL;
    }
    b.s[n] = '\0';
    return b.s;
}

/* ---- binary COPY ------------------------------------------------------------ */

/* PostgreSQL's binary COPY: a header, then per row the number of fields and
 * each field as its length (-1: NULL) and its bytes in the type's binary
 * form, then a trailer. Used for a table whose every copied column has a
 * binary form that gives exactly the value the text would: it spares the
 * encoding here and the parsing in the server (numbers, timestamps). */
static const char copy_header[19] = "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0";
static const char copy_trailer[2] = "\377\377";

/* Microseconds from 1970-01-01 to PostgreSQL's epoch, 2000-01-01. */
#define PG_EPOCH_MICROS INT64_C(946684800000000)

/* Can column c go out in binary, each value exactly as its text would be
 * read? Only the plain route's own types, and no value the type cannot hold
 * (those are the text path's business: rejected, widened or refused). */
static int binary_col(const pgb_plan_col *c)
{
    const pgb_col_stats *st = &c->st;
    if (c->n_bad)
        return 0;
    switch (c->kind) {
    case PGB_K_BIGINT:
        return !strcmp(c->type_sql, "bigint");
    case PGB_K_DOUBLE:
        return !strcmp(c->type_sql, "double precision");
    case PGB_K_BOOL:
        return !strcmp(c->type_sql, "boolean");
    case PGB_K_TEXT:
        return !strcmp(c->type_sql, "text");
    case PGB_K_VARCHAR:
        return !strncmp(c->type_sql, "varchar(", 8);
    case PGB_K_BYTEA:
        return !strcmp(c->type_sql, "bytea");
    case PGB_K_JSONB:
        return !strcmp(c->type_sql, "jsonb");
    case PGB_K_TS:
    case PGB_K_TSTZ:
        /* Only ISO-8601 texts, every one parsed by the scan (the counts add
         * up); none with digits past the microsecond unless rounded as the
         * text path rounds them; into a timestamp without time zone none with
         * an offset (PostgreSQL ignores it there, the binary form would not). */
        if (strcmp(c->type_sql, c->kind == PGB_K_TS ? "timestamp" : "timestamptz") != 0)
            return 0;
        if (st->n_int || st->n_real || st->n_blob)
            return 0;
        if (st->n_text != st->n_text_naive + st->n_text_tz + st->n_text_zero_date)
            return 0;
        if (st->n_text_frac_lost && !c->round_ts)
            return 0;
        if (st->n_text_zero_date && c->zero_dates == PGBOOT_ZERO_DATES_REFUSE)
            return 0;
        return c->kind == PGB_K_TSTZ || st->n_text_tz == 0;
    default:
        return 0;
    }
}

static void put_be(pgb_buf *b, uint64_t v, int bytes)
{
    unsigned char x[8];
    for (int i = 0; i < bytes; i++)
        x[i] = (unsigned char)(v >> (8 * (bytes - 1 - i)));
    pgb_buf_add(b, (const char *)x, (size_t)bytes);
}

/* A value in binary (binary_col(c)); -1 when a timestamp does not parse
 * after all. */
static int put_binary(pgb_buf *b, const pgb_plan_col *c, sqlite3_value *v)
{
    int type = sqlite3_value_type(v);
    if (type == SQLITE_NULL) {
        put_be(b, (uint32_t)-1, 4);
        return 0;
    }
    size_t len;
    const char *s = value_bytes(v, type, c->kind, &len);
    char num[40];
    switch (c->kind) {
    case PGB_K_BIGINT:
        put_be(b, 8, 4);
        put_be(b, (uint64_t)sqlite3_value_int64(v), 8);
        return 0;
    case PGB_K_DOUBLE: {
        /* the text path's decimal integer or 17 digits read back: the same
         * double (round to nearest either way) */
        double d =
            type == SQLITE_INTEGER ? (double)sqlite3_value_int64(v) : sqlite3_value_double(v);
        uint64_t u;
        memcpy(&u, &d, 8);
        put_be(b, 8, 4);
        put_be(b, u, 8);
        return 0;
    }
    case PGB_K_BOOL: {
        int t =
            type == SQLITE_INTEGER ? sqlite3_value_int64(v) != 0 : pgb_parse_bool_text(s, len) > 0;
        put_be(b, 1, 4);
        put_be(b, (uint64_t)t, 1);
        return 0;
    }
    case PGB_K_TS:
    case PGB_K_TSTZ: {
        if (c->zero_dates != PGBOOT_ZERO_DATES_REFUSE && pgb_zero_date(s, len)) {
            if (c->zero_dates == PGBOOT_ZERO_DATES_INFINITY) {
                put_be(b, 8, 4);
                put_be(b, (uint64_t)INT64_MIN, 8); /* -infinity */
            } else {
                put_be(b, (uint32_t)-1, 4);
            }
            return 0;
        }
        /* naive values in the session's time zone, UTC (pgb_set_session) */
        pgb_iso iso;
        if (pgb_parse_iso(s, len, &iso) != 0)
            return -1;
        put_be(b, 8, 4);
        put_be(b, (uint64_t)(iso.micros - PG_EPOCH_MICROS), 8);
        return 0;
    }
    default:
        break;
    }
    /* text, varchar, bytea, jsonb: the bytes the text path sends, unescaped */
    number_as_text(v, type, num, &s, &len);
    int jsonb = c->kind == PGB_K_JSONB;
    put_be(b, (uint32_t)(len + (size_t)jsonb), 4);
    if (jsonb)
        pgb_buf_add(b, "\1", 1); /* jsonb's binary format version */
    pgb_buf_add(b, s ? s : "", len);
    return 0;
}

/* ---- rejects -------------------------------------------------------------------- */

static json_t *value_json(sqlite3_value *v)
{
    char buf[40];
    switch (sqlite3_value_type(v)) {
    case SQLITE_NULL:
        return json_null();
    case SQLITE_INTEGER:
        snprintf(buf, sizeof buf, "%lld", (long long)sqlite3_value_int64(v));
        return json_pack("{s:s, s:s}", "type", "integer", "value", buf);
    case SQLITE_FLOAT:
        pgb_double_text(sqlite3_value_double(v), buf);
        return json_pack("{s:s, s:s}", "type", "real", "value", buf);
    default: {
        const char *s = (const char *)sqlite3_value_blob(v);
        size_t n = (size_t)sqlite3_value_bytes(v);
        int text = sqlite3_value_type(v) == SQLITE_TEXT;
        if (text && pgb_utf8_ok(s ? s : "", n))
            return json_pack("{s:s, s:s%}", "type", "text", "value", s ? s : "", n);
        size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
        char *b64 = malloc(cap);
        if (!b64)
            return json_null();
        sodium_bin2base64(b64, cap, (const unsigned char *)(s ? s : ""), n,
                          sodium_base64_VARIANT_ORIGINAL);
        json_t *j = json_pack("{s:s, s:s}", "type", text ? "text" : "blob", "base64", b64);
        free(b64);
        return j;
    }
    }
}

static int write_reject(pgb_load *L, pgb_plan_table *t, sqlite3_stmt *s, int first, const char *col,
                        const char *why)
{
    if (!L->rejects_dir)
        return pgb_fail(PGBOOT_ERROR, "internal: no rejects directory");
    if (!L->rejects) {
        if (pgb_mkdir_p(L->rejects_dir, 0700) != 0)
            return PGBOOT_ERROR;
        char *path = pgb_printf("%s/%s.jsonl", L->rejects_dir, t->name);
        L->rejects = path ? fopen(path, "w") : NULL;
        if (!L->rejects) {
            int rc = pgb_fail(PGBOOT_ERROR, "cannot write %s: %s", path ? path : "rejects",
                              strerror(errno));
            free(path);
            return rc;
        }
        free(path);
    }
    json_t *row = json_object();
    int k = first;
    for (int i = 0; i < t->ncols; i++) {
        if (t->cols[i].generated)
            continue;
        json_object_set_new(row, t->cols[i].name, value_json(sqlite3_column_value(s, k++)));
    }
    json_t *rec = json_pack("{s:s, s:o, s:s, s:s, s:o}", "table", t->src->name, "key",
                            first ? json_integer(sqlite3_column_int64(s, 0)) : json_null(),
                            "column", col, "reason", why, "row", row);
    char *line = rec ? json_dumps(rec, JSON_COMPACT) : NULL;
    json_decref(rec);
    int rc = 0;
    if (!line || fprintf(L->rejects, "%s\n", line) < 0)
        rc = pgb_fail(PGBOOT_ERROR, "cannot write the rejected row of %s", t->src->name);
    free(line);
    return rc;
}

/* ---- loading a table ---------------------------------------------------------- */

/* The table's COPY streams: one, or one per connection for a big table. */
typedef struct {
    PGconn *c[PGB_LOAD_MAX_CONNS];
    int n, next;
    int binary; /* each stream has its own header and trailer */
} copy_streams;

/* Send a chunk of whole rows to a backend: with one stream, blocking; with
 * several, non-blocking, to the first whose earlier chunks have gone out, so
 * that a busy backend never holds the others up. */
static int flush(copy_streams *cs, pgb_buf *b, pgb_plan_table *t)
{
    if (!b->len)
        return 0;
    if (cs->n == 1) {
        if (PQputCopyData(cs->c[0], b->s, (int)b->len) != 1)
            return pgb_fail(PGBOOT_ERROR, "COPY into %s failed: %s", t->name,
                            PQerrorMessage(cs->c[0]));
        t->bytes += b->len;
        b->len = 0;
        return 0;
    }
    for (;;) {
        for (int k = 0; k < cs->n; k++) {
            int i = (cs->next + k) % cs->n;
            int f = PQflush(cs->c[i]);
            if (f < 0)
                return pgb_fail(PGBOOT_ERROR, "COPY into %s failed: %s", t->name,
                                PQerrorMessage(cs->c[i]));
            if (f > 0)
                continue;
            int r = PQputCopyData(cs->c[i], b->s, (int)b->len);
            if (r < 0)
                return pgb_fail(PGBOOT_ERROR, "COPY into %s failed: %s", t->name,
                                PQerrorMessage(cs->c[i]));
            if (r == 1) {
                t->bytes += b->len;
                b->len = 0;
                cs->next = (i + 1) % cs->n;
                return 0;
            }
        }
        struct pollfd p[PGB_LOAD_MAX_CONNS];
        for (int k = 0; k < cs->n; k++)
            p[k] = (struct pollfd){.fd = PQsocket(cs->c[k]), .events = POLLOUT};
        if (poll(p, (nfds_t)cs->n, -1) < 0 && errno != EINTR)
            return pgb_fail(PGBOOT_ERROR, "COPY into %s failed: poll: %s", t->name,
                            strerror(errno));
    }
}

/* End every stream; the first failure is the error. */
static int end_copy(copy_streams *cs, pgb_plan_table *t, int rc)
{
    for (int i = 0; i < cs->n; i++) {
        PGconn *c = cs->c[i];
        /* Back to blocking once all queued data went out (PQsetnonblocking
         * fails, without a message, while some is pending). */
        int f;
        while (cs->n > 1 && (f = PQflush(c)) > 0) {
            struct pollfd p = {.fd = PQsocket(c), .events = POLLOUT};
            if (poll(&p, 1, -1) < 0 && errno != EINTR)
                break;
        }
        if (cs->n > 1 && PQsetnonblocking(c, 0) != 0 && rc == 0)
            rc = pgb_fail(PGBOOT_ERROR, "COPY into %s failed: %s", t->name,
                          *PQerrorMessage(c) ? PQerrorMessage(c) : "cannot send the last rows");
        if (cs->binary && rc == 0 && PQputCopyData(c, copy_trailer, sizeof copy_trailer) != 1)
            rc = pgb_fail(PGBOOT_ERROR, "COPY into %s failed: %s", t->name, PQerrorMessage(c));
        if (PQputCopyEnd(c, rc ? "pgboot: migration failed" : NULL) != 1 && rc == 0)
            rc = pgb_fail(PGBOOT_ERROR, "COPY into %s failed: %s", t->name, PQerrorMessage(c));
        PGresult *r;
        while ((r = PQgetResult(c)) != NULL) {
            if (rc == 0 && PQresultStatus(r) != PGRES_COMMAND_OK)
                rc = pgb_fail(PGBOOT_ERROR, "COPY into %s failed: %s", t->name,
                              PQresultErrorMessage(r));
            PQclear(r);
        }
    }
    return rc;
}

/* "COPY t (its copied columns) FROM STDIN", into copy, in binary (*binary
 * set) when every copied column allows it; the copied columns into *cols
 * (NULL when out of memory). Returns how many there are. */
static int copy_statement(pgb_plan_table *t, pgb_buf *copy, pgb_plan_col ***cols, int *binary)
{
    *binary = 1;
    for (int i = 0; i < t->ncols; i++)
        if (!t->cols[i].generated && !binary_col(&t->cols[i]))
            *binary = 0;
    pgb_buf_puts(copy, "COPY ");
    pgb_buf_ident(copy, t->name);
    pgb_buf_puts(copy, " (");
    int ncopied = 0;
    for (int i = 0; i < t->ncols; i++) {
        if (t->cols[i].generated)
            continue;
        if (ncopied++)
            pgb_buf_puts(copy, ", ");
        pgb_buf_ident(copy, t->cols[i].name);
    }
    /* the source's bytes, as they are (binary: in the session's
     * client_encoding, UTF8, see pgb_set_session) */
    pgb_buf_puts(copy, *binary ? ") FROM STDIN (FORMAT binary)" : ") FROM STDIN (ENCODING 'UTF8')");
    *cols = calloc((size_t)ncopied + 1, sizeof **cols);
    for (int i = 0, k = 0; *cols && i < t->ncols; i++)
        if (!t->cols[i].generated)
            (*cols)[k++] = &t->cols[i];
    return ncopied;
}

/* Start the COPY on every connection of cs; on failure, end those started. */
static int start_copy(copy_streams *cs, pgb_plan_table *t, const char *copy)
{
    for (int i = 0; i < cs->n; i++) {
        PGresult *r = PQexec(cs->c[i], copy);
        if (PQresultStatus(r) != PGRES_COPY_IN) {
            int rc = pgb_fail(PGBOOT_ERROR, "cannot start COPY into %s: %s", t->name,
                              PQresultErrorMessage(r));
            PQclear(r);
            cs->n = i; /* end the ones started */
            (void)end_copy(cs, t, rc);
            return rc;
        }
        PQclear(r);
        if (cs->binary && PQputCopyData(cs->c[i], copy_header, sizeof copy_header) != 1) {
            int rc = pgb_fail(PGBOOT_ERROR, "COPY into %s failed: %s", t->name,
                              PQerrorMessage(cs->c[i]));
            cs->n = i + 1;
            (void)end_copy(cs, t, rc);
            return rc;
        }
        if (cs->n > 1 && PQsetnonblocking(cs->c[i], 1) != 0) {
            int rc = pgb_fail(PGBOOT_ERROR, "COPY into %s failed: %s", t->name,
                              PQerrorMessage(cs->c[i]));
            cs->n = i + 1;
            (void)end_copy(cs, t, rc);
            return rc;
        }
    }
    return 0;
}

/* Under reject: the first copied cell of the row that cannot be stored
 * (with *why), or -1. */
static int bad_cell(sqlite3_stmt *s, int first, pgb_plan_col **cols, int ncopied, const char **why)
{
    for (int k = 0; k < ncopied; k++)
        if (cols[k]->n_bad && !pgb_cell_ok(cols[k], sqlite3_column_value(s, first + k), why))
            return k;
    return -1;
}

/* One row as a line of COPY text into out; with verify_full, its hash
 * into dg. */
static int encode_row(const pgb_load *L, sqlite3_stmt *s, int first, pgb_plan_col **cols,
                      int ncopied, int binary, pgb_buf *out, pgb_digest *dg)
{
    crypto_generichash_state h;
    int bad = -1;
    if (L->verify_full)
        crypto_generichash_init(&h, NULL, 0, 16);
    if (binary)
        put_be(out, (uint64_t)ncopied, 2);
    for (int k = 0; k < ncopied; k++) {
        sqlite3_value *v = sqlite3_column_value(s, first + k);
        if (binary) {
            if (put_binary(out, cols[k], v) != 0 && bad < 0)
                bad = k;
        } else {
            if (k)
                pgb_buf_add(out, "\t", 1);
            put_value(out, cols[k], v);
        }
        if (L->verify_full)
            canon_sqlite(&h, cols[k], v);
    }
    if (!binary)
        pgb_buf_add(out, "\n", 1);
    if (L->verify_full) {
        unsigned char hash[16];
        crypto_generichash_final(&h, hash, sizeof hash);
        pgb_digest_row(dg, hash);
    }
    return bad;
}

int pgb_load_table(pgb_load *L, pgb_plan_table *t)
{
    uint64_t started = pgb_now_ms();
    int any_bad = 0;
    for (int i = 0; i < t->ncols; i++)
        any_bad |= t->cols[i].n_bad > 0;
    int check = any_bad && L->policy == PGBOOT_ON_ERROR_REJECT;
    int first = !t->src->without_rowid ? 1 : 0; /* the rowid, for reject keys */
    char *select = pgb_plan_select_sql(t, first);
    pgb_buf copy = {0};
    pgb_plan_col **cols = NULL;
    int binary;
    int ncopied = copy_statement(t, &copy, &cols, &binary);
    int rc = 0;
    sqlite3_stmt *s = NULL;
    pgb_buf out = {0};
    pgb_pass pass = {0};
    int partial = t->partial;
    if (!select || copy.oom || !cols) {
        rc = pgb_fail(PGBOOT_ENOMEM, "out of memory");
        goto done;
    }
    if (partial && (!L->plan || (rc = pgb_pass_begin(&pass, L->plan, t)) != 0)) {
        rc = rc ? rc : pgb_fail(PGBOOT_ERROR, "internal: %s was scanned in part", t->name);
        goto done;
    }
    if (sqlite3_prepare_v2(L->src->db, select, -1, &s, NULL) != SQLITE_OK) {
        rc = pgb_src_fail(L->src, PGBOOT_ERROR, "cannot read a table");
        goto done;
    }
    if (ncopied == 0)
        goto done;
    copy_streams cs = {.c = {L->conn}, .n = 1, .binary = binary};
    if (L->split_rows > 0 && t->rows >= L->split_rows)
        for (int i = 0; i < L->nhelpers && cs.n < PGB_LOAD_MAX_CONNS; i++)
            cs.c[cs.n++] = L->helpers[i];
    if ((rc = start_copy(&cs, t, copy.s)) != 0)
        goto done;
    pgb_digest dg = {0};
    int step = SQLITE_ERROR;
    while (rc == 0 && (step = sqlite3_step(s)) == SQLITE_ROW) {
        if (partial)
            pgb_pass_row(&pass, s, first);
        const char *why = NULL;
        int bad = check ? bad_cell(s, first, cols, ncopied, &why) : -1;
        const char *col = bad >= 0 ? cols[bad]->name : NULL;
        if (bad < 0 && L->policy == PGBOOT_ON_ERROR_REJECT && L->refuse_row &&
            L->refuse_row(L->rows_payload, t, s, first, &col, &why))
            bad = 0;
        if (bad >= 0) {
            rc = write_reject(L, t, s, first, col, why);
            t->rejected++;
            if (L->rejected_row)
                L->rejected_row(L->rows_payload, t, s, first);
            continue;
        }
        int unread = encode_row(L, s, first, cols, ncopied, binary, &out, &dg);
        if (unread >= 0)
            rc = pgb_fail(PGBOOT_ERROR,
                          "internal: a value of %s.%s is not the timestamp the scan saw",
                          t->src->name, cols[unread]->name);
        else if (out.oom)
            rc = pgb_fail(PGBOOT_ENOMEM, "out of memory");
        else if (out.len >= FLUSH_AT)
            rc = flush(&cs, &out, t);
        L->rows_done++;
        if (L->progress && (L->rows_done & 1023) == 0)
            L->progress(t->src->name, L->rows_done, L->rows_total, L->progress_payload);
    }
    if (rc == 0 && step != SQLITE_DONE) {
        char what[200];
        snprintf(what, sizeof what, "cannot read table %s", t->src->name);
        rc = pgb_src_fail(L->src, PGBOOT_EINVALID, what);
    }
    /* A partial table's verdict: do its types hold for every row? A load
     * that stopped early (the server refused a row, a value was not what
     * the first rows promised, the connection went) reads the rest for it
     * alone: if they hold, its failure is its own; if not, a whole scan
     * would have chosen other types (or stopped before writing), so the
     * migration starts over. */
    int held = 1;
    if (partial) {
        while (rc != 0 && step == SQLITE_ROW && (step = sqlite3_step(s)) == SQLITE_ROW)
            pgb_pass_row(&pass, s, first);
        if (step == SQLITE_DONE && !(held = pgb_pass_end(&pass, L->plan, t)) && rc == 0)
            rc = pgb_fail(PGBOOT_ERROR, "the types chosen from the first rows of %s do not hold",
                          t->src->name);
    }
    if (rc == 0)
        rc = flush(&cs, &out, t);
    rc = end_copy(&cs, t, rc);
    if (partial && !held)
        L->respec = 1;
    memcpy(t->digest, &dg.sum, 8);
    memcpy(t->digest + 8, &dg.xr, 8);
done:
    pgb_pass_free(&pass);
    if (L->rejects) {
        fclose(L->rejects);
        L->rejects = NULL;
    }
    sqlite3_finalize(s);
    pgb_buf_free(&out);
    pgb_buf_free(&copy);
    free(select);
    free(cols);
    t->ms = pgb_now_ms() - started;
    return rc;
}

/* ---- reading back ------------------------------------------------------------- */

/* Unescape one COPY text field in place; returns its length, or -1 for \N. */
static long unescape(char *s, size_t n)
{
    if (n == 2 && s[0] == '\\' && s[1] == 'N')
        return -1;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '\\' || i + 1 >= n) {
            s[o++] = s[i];
            continue;
        }
        /* COPY's backslash escapes; any other escaped byte is itself. */
        static const char from[] = "tnrbfv", to[] = "\t\n\r\b\f\v";
        char c = s[++i];
        const char *k = c ? strchr(from, c) : NULL;
        s[o++] = k ? to[k - from] : c;
    }
    return (long)o;
}

int pgb_readback_digest(PGconn *c, pgb_plan_table *t, unsigned char digest[16], int64_t *rows)
{
    pgb_buf q = {0};
    pgb_buf_puts(&q, "COPY (SELECT ");
    int n = 0;
    for (int i = 0; i < t->ncols; i++) {
        if (t->cols[i].generated)
            continue;
        if (n++)
            pgb_buf_puts(&q, ", ");
        /* An app's char(n) pads what it stores; as text, the padding goes
         * (PostgreSQL's own comparison of char(n) values ignores it). */
        int padded = !strcmp(t->cols[i].type_sql, "character");
        if (padded)
            pgb_buf_puts(&q, "CAST(");
        pgb_buf_ident(&q, t->cols[i].name);
        if (padded)
            pgb_buf_puts(&q, " AS text)");
    }
    if (!n)
        pgb_buf_puts(&q, "NULL");
    pgb_buf_puts(&q, " FROM ");
    pgb_buf_ident(&q, t->name);
    /* In UTF-8 whatever the session's client_encoding: the digest is of the
     * stored bytes, so a client setting that garbles both ways cannot hide
     * a difference. */
    pgb_buf_puts(&q, ") TO STDOUT (ENCODING 'UTF8')");
    if (q.oom) {
        pgb_buf_free(&q);
        return pgb_fail(PGBOOT_ENOMEM, "out of memory");
    }
    PGresult *r = PQexec(c, q.s);
    pgb_buf_free(&q);
    if (PQresultStatus(r) != PGRES_COPY_OUT) {
        int rc =
            pgb_fail(PGBOOT_ERROR, "cannot read back %s: %s", t->name, PQresultErrorMessage(r));
        PQclear(r);
        return rc;
    }
    PQclear(r);
    pgb_digest dg = {0};
    char *line;
    int len, rc = 0;
    while ((len = PQgetCopyData(c, &line, 0)) > 0) {
        crypto_generichash_state h;
        crypto_generichash_init(&h, NULL, 0, 16);
        if (len > 0 && line[len - 1] == '\n')
            len--;
        int k = 0;
        size_t start = 0;
        for (int i = 0; i < t->ncols; i++) {
            if (t->cols[i].generated)
                continue;
            size_t end = start;
            while (end < (size_t)len && line[end] != '\t')
                end++;
            long fl = unescape(line + start, end - start);
            if (fl < 0)
                canon_null(&h);
            else
                canon_pg(&h, &t->cols[i], line + start, (size_t)fl);
            start = end + 1;
            k++;
        }
        unsigned char hash[16];
        crypto_generichash_final(&h, hash, sizeof hash);
        pgb_digest_row(&dg, hash);
        PQfreemem(line);
    }
    if (len == -2)
        rc = pgb_fail(PGBOOT_ERROR, "cannot read back %s: %s", t->name, PQerrorMessage(c));
    while ((r = PQgetResult(c)) != NULL)
        PQclear(r);
    memcpy(digest, &dg.sum, 8);
    memcpy(digest + 8, &dg.xr, 8);
    *rows = (int64_t)dg.rows;
    return rc;
}

/* ---- expressions read back: generated columns and views ----------------------- */

/* A number, whatever its class on either side: an integral value (within
 * 64 bits) as its digits, else the double's bits. */
static void canon_number(crypto_generichash_state *h, double d, int is_int, long long i)
{
    char buf[32];
    if (!is_int && d == d && d >= -9223372036854775808.0 && d < 9223372036854775808.0 &&
        d == (double)(long long)d) {
        is_int = 1;
        i = (long long)d;
    }
    if (!is_int) {
        canon_double(h, d);
        return;
    }
    canon_add(h, buf, (size_t)snprintf(buf, sizeof buf, "%lld", i));
}

static void canon_tag(crypto_generichash_state *h, char tag)
{
    crypto_generichash_update(h, (const unsigned char *)&tag, 1);
}

/* A value of an expression SQLite computed, for a PostgreSQL column of
 * kind: numbers as numbers (an integer equals the same real), text as its
 * bytes (a number in a text column as the migration writes it), blobs as
 * bytes, times, JSON and UUIDs in their canonical forms. */
static void canon_expr_sqlite(crypto_generichash_state *h, pgb_pg_kind kind, sqlite3_value *v)
{
    int type = sqlite3_value_type(v);
    const char *s = (const char *)sqlite3_value_blob(v);
    size_t n = (size_t)sqlite3_value_bytes(v);
    if (type == SQLITE_NULL) {
        canon_null(h);
    } else if (type == SQLITE_BLOB) {
        canon_tag(h, 'b');
        canon_add(h, s ? s : "", n);
    } else if (kind == PGB_K_TEXT || kind == PGB_K_VARCHAR || kind == PGB_K_DATE) {
        char buf[64];
        if (type == SQLITE_FLOAT)
            n = (size_t)pgb_real_text(sqlite3_value_double(v), buf);
        else if (type == SQLITE_INTEGER)
            n = (size_t)snprintf(buf, sizeof buf, "%lld", (long long)sqlite3_value_int64(v));
        canon_tag(h, 't');
        canon_add(h, type == SQLITE_TEXT ? (s ? s : "") : buf, n);
    } else if ((kind == PGB_K_TS || kind == PGB_K_TSTZ) && type == SQLITE_INTEGER) {
        canon_tag(h, 'x');
        canon_micros(h, sqlite3_value_int64(v) * 1000000);
    } else if (type == SQLITE_INTEGER) {
        canon_tag(h, 'n');
        canon_number(h, 0, 1, (long long)sqlite3_value_int64(v));
    } else if (type == SQLITE_FLOAT) {
        canon_tag(h, 'n');
        canon_number(h, sqlite3_value_double(v), 0, 0);
    } else if (kind == PGB_K_BOOL && pgb_parse_bool_text(s, n) >= 0) {
        canon_tag(h, 'n');
        canon_number(h, 0, 1, pgb_parse_bool_text(s, n) > 0);
    } else if (kind == PGB_K_TS || kind == PGB_K_TSTZ || kind == PGB_K_JSONB ||
               kind == PGB_K_UUID) {
        canon_tag(h, 'x');
        canon_text_form(h, kind, s, n);
    } else {
        canon_tag(h, 't');
        canon_add(h, s ? s : "", n);
    }
}

/* The same for a field PostgreSQL sent back (already unescaped). */
static void canon_expr_pg(crypto_generichash_state *h, pgb_pg_kind kind, char *s, size_t n)
{
    char tmp[400];
    snprintf(tmp, sizeof tmp, "%.*s", (int)n, s);
    switch (kind) {
    case PGB_K_BIGINT:
        canon_tag(h, 'n');
        canon_number(h, 0, 1, strtoll(tmp, NULL, 10));
        return;
    case PGB_K_BOOL:
        canon_tag(h, 'n');
        canon_number(h, 0, 1, n > 0 && s[0] == 't');
        return;
    case PGB_K_NUMERIC: {
        /* integral: its digits (if they fit), else the nearest double */
        char *dot = strchr(tmp, '.');
        int integral = n > 0 && (tmp[0] == '-' || (tmp[0] >= '0' && tmp[0] <= '9'));
        for (const char *q = dot ? dot + 1 : ""; *q && integral; q++)
            integral = *q == '0';
        if (dot)
            *dot = '\0';
        errno = 0;
        long long i = integral ? strtoll(tmp, NULL, 10) : 0;
        if (dot)
            *dot = '.';
        canon_tag(h, 'n');
        if (integral && errno == 0)
            canon_number(h, 0, 1, i);
        else
            canon_number(h, strtod(tmp, NULL), 0, 0);
        return;
    }
    case PGB_K_DOUBLE:
        canon_tag(h, 'n');
        canon_number(h, strtod(tmp, NULL), 0, 0);
        return;
    case PGB_K_BYTEA: {
        size_t m = n > 2 ? (n - 2) / 2 : 0;
        for (size_t i = 0; i < m; i++)
            s[i] = (char)(hexval(s[2 + 2 * i]) << 4 | hexval(s[3 + 2 * i]));
        canon_tag(h, 'b');
        canon_add(h, s, m);
        return;
    }
    case PGB_K_TS:
    case PGB_K_TSTZ:
    case PGB_K_EPOCH_TSTZ:
    case PGB_K_JSONB:
    case PGB_K_UUID:
        canon_tag(h, 'x');
        canon_text_form(h, kind == PGB_K_EPOCH_TSTZ ? PGB_K_TSTZ : kind, s, n);
        return;
    case PGB_K_DATE:
    case PGB_K_TEXT:
    case PGB_K_VARCHAR:
        canon_tag(h, 't');
        canon_add(h, s, n);
        return;
    }
}

/* The kind of a column PostgreSQL sends, by its type's OID. */
static pgb_pg_kind kind_of_oid(unsigned oid)
{
    switch (oid) {
    case 16:
        return PGB_K_BOOL;
    case 17:
        return PGB_K_BYTEA;
    case 20:
    case 21:
    case 23:
    case 26:
        return PGB_K_BIGINT;
    case 700:
    case 701:
        return PGB_K_DOUBLE;
    case 1700:
        return PGB_K_NUMERIC;
    case 1082:
        return PGB_K_DATE;
    case 1114:
        return PGB_K_TS;
    case 1184:
        return PGB_K_TSTZ;
    case 114:
    case 3802:
        return PGB_K_JSONB;
    case 2950:
        return PGB_K_UUID;
    default:
        return PGB_K_TEXT;
    }
}

int pgb_verify_query(sqlite3 *db, const char *lite_sql, PGconn *c, const char *pg_sql,
                     const pgb_plan_col *const *cols, int ncols, int *same)
{
    *same = 0;
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(db, lite_sql, -1, &s, NULL) != SQLITE_OK)
        return pgb_fail(PGBOOT_ERROR, "cannot read %s from the source: %s", lite_sql,
                        sqlite3_errmsg(db));
    int n = sqlite3_column_count(s);
    pgb_pg_kind *kinds = calloc((size_t)n + 1, sizeof *kinds);
    /* The types PostgreSQL gives the columns. */
    char *probe = pgb_printf("SELECT * FROM (%s) pgboot_v LIMIT 0", pg_sql);
    PGresult *r = probe && kinds ? PQexec(c, probe) : NULL;
    free(probe);
    int rc = 0;
    if (!kinds) {
        rc = pgb_fail(PGBOOT_ENOMEM, "out of memory");
    } else if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        rc = pgb_fail(PGBOOT_ERROR, "cannot read back %s: %s", pg_sql, PQresultErrorMessage(r));
    } else if (PQnfields(r) != n || (cols && ncols != n)) {
        rc = pgb_fail(PGBOOT_ERROR, "cannot verify %s: PostgreSQL gives %d columns, the source %d",
                      pg_sql, PQnfields(r), n);
    } else {
        for (int i = 0; i < n; i++)
            kinds[i] = cols ? cols[i]->kind : kind_of_oid(PQftype(r, i));
    }
    PQclear(r);
    if (rc) {
        sqlite3_finalize(s);
        free(kinds);
        return rc;
    }
    /* SQLite's rows */
    pgb_digest lite = {0}, back = {0};
    int step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        crypto_generichash_state h;
        crypto_generichash_init(&h, NULL, 0, 16);
        for (int i = 0; i < n; i++) {
            if (cols)
                canon_sqlite(&h, cols[i], sqlite3_column_value(s, i));
            else
                canon_expr_sqlite(&h, kinds[i], sqlite3_column_value(s, i));
        }
        unsigned char hash[16];
        crypto_generichash_final(&h, hash, sizeof hash);
        pgb_digest_row(&lite, hash);
    }
    if (step != SQLITE_DONE)
        rc = pgb_fail(PGBOOT_ERROR, "cannot read %s from the source: %s", lite_sql,
                      sqlite3_errmsg(db));
    sqlite3_finalize(s);
    if (rc) {
        free(kinds);
        return rc;
    }
    /* PostgreSQL's, as UTF-8 whatever the session's encoding */
    char *copy = pgb_printf("COPY (%s) TO STDOUT (ENCODING 'UTF8')", pg_sql);
    r = copy ? PQexec(c, copy) : NULL;
    free(copy);
    if (PQresultStatus(r) != PGRES_COPY_OUT) {
        rc = pgb_fail(PGBOOT_ERROR, "cannot read back %s: %s", pg_sql, PQresultErrorMessage(r));
        PQclear(r);
        free(kinds);
        return rc;
    }
    PQclear(r);
    char *line;
    int len;
    while ((len = PQgetCopyData(c, &line, 0)) > 0) {
        crypto_generichash_state h;
        crypto_generichash_init(&h, NULL, 0, 16);
        if (line[len - 1] == '\n')
            len--;
        size_t start = 0;
        for (int i = 0; i < n; i++) {
            size_t end = start;
            while (end < (size_t)len && line[end] != '\t')
                end++;
            long fl = unescape(line + start, end - start);
            if (fl < 0)
                canon_null(&h);
            else if (cols)
                canon_pg(&h, cols[i], line + start, (size_t)fl);
            else
                canon_expr_pg(&h, kinds[i], line + start, (size_t)fl);
            start = end + 1;
        }
        unsigned char hash[16];
        crypto_generichash_final(&h, hash, sizeof hash);
        pgb_digest_row(&back, hash);
        PQfreemem(line);
    }
    r = PQgetResult(c);
    if (len == -2 || PQresultStatus(r) != PGRES_COMMAND_OK)
        rc = pgb_fail(PGBOOT_ERROR, "cannot read back %s: %s", pg_sql, PQerrorMessage(c));
    PQclear(r);
    while ((r = PQgetResult(c)) != NULL)
        PQclear(r);
    *same = rc == 0 && lite.rows == back.rows && lite.sum == back.sum && lite.xr == back.xr;
    free(kinds);
    return rc;
}
