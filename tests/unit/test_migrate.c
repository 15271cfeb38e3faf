/* Unit tests for the migration's decisions on single values and expressions:
 * ISO-8601 parsing, UUIDs, booleans, UTF-8, exact text of doubles, decimal
 * shapes, the translation of SQLite expressions to PostgreSQL, and the
 * gate of the background work (SQLite's integrity check waits there). */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <dirent.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sqlite3.h>

#include "gate.h"
#include "sha256.h"
#include "source.h"
#include "tokens.h"
#include "values.h"

static void test_iso(void **state)
{
    (void)state;
    pgb_iso iso;
    assert_int_equal(pgb_parse_iso("2024-02-29", 10, &iso), 0);
    assert_false(iso.has_time);
    assert_int_equal(iso.micros, (int64_t)19782 * 86400 * 1000000);
    assert_int_equal(pgb_parse_iso("2023-02-29", 10, &iso), -1); /* not a leap year */
    const char *s = "2024-01-01T10:00:00.5";
    assert_int_equal(pgb_parse_iso(s, strlen(s), &iso), 0);
    assert_true(iso.has_time);
    assert_false(iso.has_zone);
    assert_int_equal(iso.frac_digits, 1);
    int64_t naive = iso.micros;
    s = "2024-01-01 12:00:00.500+02:00";
    assert_int_equal(pgb_parse_iso(s, strlen(s), &iso), 0);
    assert_true(iso.has_zone);
    assert_int_equal(iso.micros, naive); /* 12:00+02 is 10:00 UTC */
    s = "2024-01-01 10:00:00.5Z";
    assert_int_equal(pgb_parse_iso(s, strlen(s), &iso), 0);
    assert_int_equal(iso.micros, naive);
    s = "2024-01-01 10:00:00+00"; /* PostgreSQL's timestamptz output */
    assert_int_equal(pgb_parse_iso(s, strlen(s), &iso), 0);
    assert_true(iso.has_zone);
    assert_int_equal(pgb_parse_iso("2024-13-01", 10, &iso), -1);
    assert_int_equal(pgb_parse_iso("0", 1, &iso), -1);
    assert_int_equal(pgb_parse_iso("", 0, &iso), -1);
    s = "2024-01-01 25:00";
    assert_int_equal(pgb_parse_iso(s, strlen(s), &iso), -1);
    s = "2024-01-01T10:00junk";
    assert_int_equal(pgb_parse_iso(s, strlen(s), &iso), -1);
}

/* Issue 10: more than six fractional digits (Rust and Go write 9, .NET 7)
 * are ISO-8601; zeros past microseconds lose nothing, other digits round. */
static void test_iso_fraction_digits(void **state)
{
    (void)state;
    pgb_iso iso, ref;
    const char *s = "2024-03-26 13:17:21.510011";
    assert_int_equal(pgb_parse_iso(s, strlen(s), &ref), 0);
    s = "2024-03-26 13:17:21.510011000"; /* exact: zeros */
    assert_int_equal(pgb_parse_iso(s, strlen(s), &iso), 0);
    assert_int_equal(iso.frac_digits, 9);
    assert_false(iso.frac_lost);
    assert_int_equal(iso.micros, ref.micros);
    s = "2024-03-26 13:17:21.510011640"; /* Rust/Go: rounds up to .510012 */
    assert_int_equal(pgb_parse_iso(s, strlen(s), &iso), 0);
    assert_true(iso.frac_lost);
    assert_int_equal(iso.micros, ref.micros + 1);
    s = "2024-03-26 13:17:21.5100114+02:00"; /* .NET, with an offset: rounds down */
    assert_int_equal(pgb_parse_iso(s, strlen(s), &iso), 0);
    assert_true(iso.frac_lost);
    assert_true(iso.has_zone);
    assert_int_equal(iso.micros, ref.micros - 2 * 3600 * (int64_t)1000000);
    s = "2024-03-26 13:17:21.000000000+00:00"; /* an app's own default: exact */
    assert_int_equal(pgb_parse_iso(s, strlen(s), &iso), 0);
    assert_false(iso.frac_lost);
    /* the carry runs through seconds, minutes, hours and the day */
    s = "2023-12-31T23:59:59.9999995";
    assert_int_equal(pgb_parse_iso(s, strlen(s), &iso), 0);
    char buf[64];
    assert_int_equal(pgb_micros_text(iso.micros, 0, buf, sizeof buf), 19);
    assert_string_equal(buf, "2024-01-01 00:00:00");
    s = "2024-03-26 13:17:21.510011640Z";
    assert_int_equal(pgb_parse_iso(s, strlen(s), &iso), 0);
    pgb_micros_text(iso.micros, 1, buf, sizeof buf);
    assert_string_equal(buf, "2024-03-26 13:17:21.510012+00");
    pgb_micros_text(-1, 0, buf, sizeof buf); /* before 1970 */
    assert_string_equal(buf, "1969-12-31 23:59:59.999999");
    pgb_micros_text((int64_t)-62135596800 * 1000000, 0, buf, sizeof buf);
    assert_string_equal(buf, "0001-01-01 00:00:00");
}

static void test_zero_date_special_excerpt(void **state)
{
    (void)state;
    static const char *const zero[] = {"0000-00-00", "0000-00-00 00:00:00", "0000-00-00T00:00",
                                       "0000-00-00 00:00:00.000000"};
    for (size_t i = 0; i < sizeof zero / sizeof *zero; i++)
        assert_true(pgb_zero_date(zero[i], strlen(zero[i])));
    static const char *const not_zero[] = {
        "0000-00-01",  "0000-00-00 00:00:01", "0000-00-00 ", "0000-00-00 00:00:00.",
        "0000-00-00x", "0000-00-0",           "0001-01-01",  ""};
    for (size_t i = 0; i < sizeof not_zero / sizeof *not_zero; i++)
        if (pgb_zero_date(not_zero[i], strlen(not_zero[i])))
            fail_msg("'%s' taken for a zero date", not_zero[i]);
    const char *canon = NULL;
    assert_int_equal(pgb_numeric_special("NaN", 3, &canon), 1);
    assert_string_equal(canon, "NaN");
    assert_int_equal(pgb_numeric_special("inf", 3, &canon), 2);
    assert_string_equal(canon, "Infinity");
    assert_int_equal(pgb_numeric_special("+Infinity", 9, &canon), 2);
    assert_int_equal(pgb_numeric_special("-INF", 4, &canon), 3);
    assert_string_equal(canon, "-Infinity");
    assert_int_equal(pgb_numeric_special("Infinit", 7, &canon), 0);
    assert_int_equal(pgb_numeric_special("1.5", 3, &canon), 0);
    /* excerpts: valid UTF-8 as it is (an emoji is not "????"), the rest escaped */
    char out[200];
    const char json[] = "{\"mood\":\"\xf0\x9f\x98\x80\"}";
    pgb_excerpt(json, sizeof json - 1, 40, out, sizeof out);
    assert_string_equal(out, json);
    pgb_excerpt("a\xff\x00"
                "b\n\\",
                6, 40, out, sizeof out);
    assert_string_equal(out, "a\\xff\\x00b\\x0a\\\\");
    pgb_excerpt("\xf0\x9f\x98", 3, 40, out, sizeof out); /* a cut character */
    assert_string_equal(out, "\\xf0\\x9f\\x98");
    pgb_excerpt("\xc3\xa9\xc3\xa9\xc3\xa9", 6, 2, out, sizeof out); /* characters, not bytes */
    assert_string_equal(out, "\xc3\xa9\xc3\xa9...");
    pgb_excerpt("abcdef", 6, 40, out, 6); /* a small buffer: cut, still a string */
    assert_true(strlen(out) < 6);
}

static void test_uuid_bool_utf8(void **state)
{
    (void)state;
    char hex[33];
    const char *u = "123E4567-E89B-12D3-A456-426614174000";
    assert_int_equal(pgb_parse_uuid(u, strlen(u), hex), 0);
    assert_string_equal(hex, "123e4567e89b12d3a456426614174000");
    u = "{123e4567e89b12d3a456426614174000}";
    assert_int_equal(pgb_parse_uuid(u, strlen(u), hex), 0);
    u = "123e4567-e89b-12d3-a456-42661417400";
    assert_int_equal(pgb_parse_uuid(u, strlen(u), hex), -1);
    assert_int_equal(pgb_parse_bool_text("TRUE", 4), 1);
    assert_int_equal(pgb_parse_bool_text("f", 1), 0);
    assert_int_equal(pgb_parse_bool_text("yes", 3), -1);
    assert_true(pgb_utf8_ok("h\xc3\xa9llo", 6));
    assert_false(pgb_utf8_ok("h\xc3llo", 5));     /* truncated sequence */
    assert_false(pgb_utf8_ok("a\0b", 3));         /* NUL */
    assert_false(pgb_utf8_ok("\xc0\xaf", 2));     /* overlong */
    assert_false(pgb_utf8_ok("\xed\xa0\x80", 3)); /* surrogate */
    /* Past the eight-bytes-at-a-time path: a NUL, a stray continuation
     * byte or a truncated sequence at every position of a long text. */
    char longer[40];
    memset(longer, 'a', sizeof longer);
    assert_true(pgb_utf8_ok(longer, sizeof longer));
    for (size_t at = 0; at < sizeof longer; at++) {
        char t[40];
        memcpy(t, longer, sizeof t);
        t[at] = '\0';
        assert_false(pgb_utf8_ok(t, sizeof t));
        t[at] = (char)0x80;
        assert_false(pgb_utf8_ok(t, sizeof t));
        t[at] = (char)0xc3; /* its continuation byte cut off (or an 'a') */
        assert_false(pgb_utf8_ok(t, sizeof t));
        if (at + 1 < sizeof t) {
            t[at + 1] = (char)0xa9;
            assert_true(pgb_utf8_ok(t, sizeof t));
        }
    }
    assert_int_equal(pgb_utf8_len("h\xc3\xa9llo", 6), 5);
}

static void test_double_text(void **state)
{
    (void)state;
    char buf[40];
    /* Shortest text that reads back exactly, laid out like PostgreSQL's float8. */
    struct {
        double d;
        const char *want;
    } cases[] = {
        {0.1 + 0.2, "0.30000000000000004"},
        {0.99, "0.99"},
        {100000, "100000"},
        {1e15, "1e+15"},
        {1.5e-5, "1.5e-05"},
        {0.0001, "0.0001"},
        {-2.5, "-2.5"},
        {123456789012345.0, "123456789012345"},
        {1.0 / 3.0, "0.3333333333333333"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        pgb_double_text(cases[i].d, buf);
        if (strcmp(buf, cases[i].want) != 0)
            fail_msg("%.17g printed as %s, expected %s", cases[i].d, buf, cases[i].want);
        assert_true(strtod(buf, NULL) == cases[i].d);
    }
    /* Against the definition, over random bit patterns and random short
     * decimals: reads back exactly, and no fewer digits would. */
    uint64_t x = 0x9e3779b97f4a7c15u;
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        double d;
        if (i % 2) {
            memcpy(&d, &x, sizeof d);
            if (d != d || d - d != 0)
                continue;
        } else {
            char dec[40];
            snprintf(dec, sizeof dec, "%llu.%llue%d", (unsigned long long)(x % 100000),
                     (unsigned long long)((x >> 20) % 1000000), (int)((x >> 40) % 40) - 20);
            d = strtod(dec, NULL);
        }
        pgb_double_text(d, buf);
        if (strtod(buf, NULL) != d)
            fail_msg("%.17g printed as %s, which reads back differently", d, buf);
        int sig = 17; /* the fewest digits, one at a time */
        for (int p = 1; p < 17; p++) {
            char e[40];
            snprintf(e, sizeof e, "%.*e", p - 1, d);
            if (strtod(e, NULL) == d) {
                sig = p;
                break;
            }
        }
        int first = -1, last = -1; /* significant digits of buf */
        for (int k = 0; buf[k] && buf[k] != 'e'; k++)
            if (buf[k] >= '1' && buf[k] <= '9') {
                if (first < 0)
                    first = k;
                last = k;
            }
        int nd = 0;
        for (int k = first; k >= 0 && k <= last; k++)
            nd += buf[k] >= '0' && buf[k] <= '9';
        if (nd != sig)
            fail_msg("%.17g printed with %d digits (%s); the fewest is %d", d, nd, buf, sig);
    }
    /* For a double precision column: 17 digits, reading back exactly, over
     * the same kinds of values; and PostgreSQL's spellings of the specials. */
    uint64_t y = 0x51afd6ed558ccd2du;
    for (int i = 0; i < 200000; i++) {
        y ^= y << 13;
        y ^= y >> 7;
        y ^= y << 17;
        double d;
        memcpy(&d, &y, sizeof d);
        if (d != d)
            continue;
        int n = pgb_double_exact(d, buf);
        assert_true(n > 0 && n < 32);
        if (d - d == 0 && strtod(buf, NULL) != d)
            fail_msg("%a printed as %s, which reads back differently", d, buf);
    }
    pgb_double_exact(__builtin_nan(""), buf);
    assert_string_equal(buf, "NaN");
    pgb_double_exact(__builtin_inf(), buf);
    assert_string_equal(buf, "Infinity");
    pgb_double_exact(-__builtin_inf(), buf);
    assert_string_equal(buf, "-Infinity");
    pgb_double_exact(-0.0, buf);
    assert_string_equal(buf, "-0");
    /* As text: integral values keep ".0", the way SQLite shows a REAL. */
    pgb_real_text(3.0, buf);
    assert_string_equal(buf, "3.0");
    pgb_real_text(0.1 + 0.2, buf);
    assert_string_equal(buf, "0.30000000000000004");
    char plain[64];
    pgb_plain_decimal("1.5e-07", plain, sizeof plain);
    assert_string_equal(plain, "0.00000015");
    pgb_plain_decimal("1.2345e+20", plain, sizeof plain);
    assert_string_equal(plain, "123450000000000000000");
}

static void test_decimal_shape(void **state)
{
    (void)state;
    int id, fd;
    assert_int_equal(pgb_decimal_shape("123.4500", 8, &id, &fd), 0);
    assert_int_equal(id, 3);
    assert_int_equal(fd, 2);
    assert_int_equal(pgb_decimal_shape("-0.99", 5, &id, &fd), 0);
    assert_int_equal(id, 0);
    assert_int_equal(fd, 2);
    assert_int_equal(pgb_decimal_shape("12a", 3, &id, &fd), -1);
    assert_int_equal(pgb_decimal_shape("", 0, &id, &fd), -1);
    char out[32];
    pgb_decimal_normal("+007.5000", 9, out);
    assert_string_equal(out, "7.5");
    pgb_decimal_normal("-0.000", 6, out);
    assert_string_equal(out, "0");
    pgb_decimal_normal("10.00", 5, out);
    assert_string_equal(out, "10");
}

/* A table with columns a, b and a boolean flag. */
static const char *map(void *ctx, const char *name, int *is_bool)
{
    (void)ctx;
    *is_bool = !strcasecmp(name, "flag");
    if (!strcasecmp(name, "A") || !strcasecmp(name, "b") || !strcasecmp(name, "flag") ||
        !strcasecmp(name, "doc"))
        return !strcasecmp(name, "A") ? "a" : name;
    return NULL;
}

static char *tr(const char *sql, pgb_expr_ctx ctx, const char *type, const char **why)
{
    pgb_toks t;
    if (pgb_tokenize(sql, &t) != 0)
        return NULL;
    pgb_buf out = {0};
    int rc = pgb_translate_expr(&t, 0, t.n, ctx, type, map, NULL, &out, why);
    pgb_toks_free(&t);
    if (rc != 0) {
        pgb_buf_free(&out);
        return NULL;
    }
    return out.s ? out.s : strdup("");
}

static void expect(const char *sql, pgb_expr_ctx ctx, const char *type, const char *want)
{
    const char *why = NULL;
    char *got = tr(sql, ctx, type, &why);
    if (!got || strcmp(got, want) != 0)
        fail_msg("%s -> '%s' (%s), expected '%s'", sql, got ? got : "(refused)", why ? why : "",
                 want);
    free(got);
}

static void expect_prefix(const char *sql, const char *want)
{
    const char *why = NULL;
    char *got = tr(sql, PGB_CTX_EXPR, NULL, &why);
    if (!got || strncmp(got, want, strlen(want)) != 0)
        fail_msg("%s -> '%s' (%s), expected it to start with '%s'", sql, got ? got : "(refused)",
                 why ? why : "", want);
    free(got);
}

static void refuse(const char *sql, pgb_expr_ctx ctx, const char *type)
{
    const char *why = NULL;
    char *got = tr(sql, ctx, type, &why);
    if (got)
        fail_msg("%s was translated to '%s', expected a refusal", sql, got);
    assert_non_null(why);
}

static void test_translate(void **state)
{
    (void)state;
    expect("A == 1 AND b <> 'x''y'", PGB_CTX_EXPR, NULL, "\"a\" = 1 AND \"b\" <> 'x''y'");
    /* SQLite's LIKE folds ASCII only and has no default escape */
    expect("b LIKE 'a%'", PGB_CTX_EXPR, NULL, "\"b\" COLLATE \"C\" ILIKE 'a%' ESCAPE ''");
    expect("b NOT LIKE 'a!%' ESCAPE '!' AND a = 1", PGB_CTX_EXPR, NULL,
           "\"b\" COLLATE \"C\" NOT ILIKE 'a!%' ESCAPE '!' AND \"a\" = 1");
    expect("ifnull(a, 0) > 1", PGB_CTX_EXPR, NULL, "coalesce(\"a\", 0) > 1");
    expect("a IN (1, 2)", PGB_CTX_EXPR, NULL, "\"a\" IN (1, 2)");
    /* of several arguments: NULL if any is */
    expect("max(a, b)", PGB_CTX_EXPR, NULL,
           "(CASE WHEN (\"a\") IS NULL OR (\"b\") IS NULL THEN NULL ELSE greatest((\"a\"), "
           "(\"b\")) END)");
    expect("max(a)", PGB_CTX_EXPR, NULL, "max(\"a\")");
    expect("count(*) > 1", PGB_CTX_EXPR, NULL, "count(*) > 1");
    /* substr with a literal start from 1: PostgreSQL's own */
    expect("substr(b, 2, 3)", PGB_CTX_EXPR, NULL, "substr((\"b\"), 2, 3)");
    /* / and % in SQLite's precedence, by zero NULL; || before + */
    expect("a / b + 1", PGB_CTX_EXPR, NULL, "((\"a\") / NULLIF((\"b\"), 0)) + 1");
    expect("a % 2 = 0", PGB_CTX_EXPR, NULL, "((\"a\") % NULLIF((2), 0)) = 0");
    expect("b || a * 2", PGB_CTX_EXPR, NULL, "(((\"b\") || (\"a\")) * (2))");
    expect("a * 1.5", PGB_CTX_EXPR, NULL, "\"a\" * 1.5::float8");
    expect("a - -1", PGB_CTX_EXPR, NULL, "\"a\" - -1"); /* never "--", a comment */
    /* SQLite's IS compares any values */
    expect("a IS b", PGB_CTX_EXPR, NULL, "\"a\" IS NOT DISTINCT FROM \"b\"");
    expect("a IS NOT b", PGB_CTX_EXPR, NULL, "\"a\" IS DISTINCT FROM \"b\"");
    expect("a IS NOT NULL", PGB_CTX_EXPR, NULL, "\"a\" IS NOT NULL");
    expect("iif(a > 1, 'x', 'y')", PGB_CTX_EXPR, NULL,
           "(CASE WHEN (\"a\" > 1) THEN ('x') ELSE ('y') END)");
    /* 0/1 next to a column that became boolean */
    expect("flag = 0", PGB_CTX_EXPR, NULL, "\"flag\" = false");
    expect("1 = flag", PGB_CTX_EXPR, NULL, "true = \"flag\"");
    expect("flag IN (0, 1)", PGB_CTX_EXPR, NULL, "\"flag\" IN (false, true)");
    expect("a = 1", PGB_CTX_EXPR, NULL, "\"a\" = 1");
    /* the value at the path, as SQLite gives it (tests/support/mig_expr_diff.py) */
    expect_prefix("json_extract(doc, '$.k[0]')", "(CASE json_typeof((\"doc\"::json #> '{k,0}')) ");
    /* defaults, by the column's type */
    expect("\"\"", PGB_CTX_DEFAULT, "text", "''");
    expect("CURRENT_TIMESTAMP", PGB_CTX_DEFAULT, "timestamp",
           "date_trunc('second', (now() AT TIME ZONE 'UTC'))");
    expect("current_date", PGB_CTX_DEFAULT, "timestamp",
           "date_trunc('day', (now() AT TIME ZONE 'UTC'))");
    expect("current_date", PGB_CTX_DEFAULT, "date", "((now() AT TIME ZONE 'UTC'))::date");
    expect("(strftime('%s','now'))", PGB_CTX_DEFAULT, "bigint",
           "((floor(extract(epoch from now()))::bigint))");
    expect("(strftime('%Y-%m-%d %H:%M:%f','now'))", PGB_CTX_DEFAULT, "text",
           "(to_char((now() AT TIME ZONE 'UTC'), 'YYYY-MM-DD HH24:MI:SS.MS'))");
    /* letters of a strftime format are text, not to_char patterns (Q: quarter) */
    expect("(strftime('%Y Q%j','now'))", PGB_CTX_DEFAULT, "text",
           "(to_char((now() AT TIME ZONE 'UTC'), 'YYYY \"Q\"DDD'))");
    expect("(datetime('now','localtime'))", PGB_CTX_DEFAULT, "timestamp",
           "(date_trunc('second', localtimestamp))");
    /* SQLite's epoch seconds of the local wall-clock time */
    expect("(unixepoch('now','localtime'))", PGB_CTX_DEFAULT, "bigint",
           "((floor(extract(epoch from localtimestamp))::bigint))");
    /* the modifiers in order: 'utc' after 'localtime' is UTC again */
    expect("(datetime('now','localtime','utc'))", PGB_CTX_DEFAULT, "timestamp",
           "(date_trunc('second', (now() AT TIME ZONE 'UTC')))");
    expect("(unixepoch('now','localtime','utc'))", PGB_CTX_DEFAULT, "bigint",
           "((floor(extract(epoch from now()))::bigint))");
    expect("-1", PGB_CTX_DEFAULT, "bigint", "-1");
    expect("1.5", PGB_CTX_DEFAULT, "numeric", "1.5"); /* the column's type decides */
    expect("x'0aff'", PGB_CTX_DEFAULT, "bytea", "'\\x0aff'::bytea");
    /* refused, never guessed */
    refuse("typeof(a) = 'integer'", PGB_CTX_EXPR, NULL);
    refuse("a GLOB 'x*'", PGB_CTX_EXPR, NULL);
    refuse("nosuchcolumn > 1", PGB_CTX_EXPR, NULL);
    refuse("datetime(a, '+1 day')", PGB_CTX_DEFAULT, "timestamp");
    refuse("CURRENT_TIMESTAMP", PGB_CTX_EXPR, NULL);
    refuse("a = ?", PGB_CTX_EXPR, NULL);
    refuse("nosuchfunction(a)", PGB_CTX_EXPR, NULL);
    refuse("iif(a, b)", PGB_CTX_EXPR, NULL);
    refuse("substr(b)", PGB_CTX_EXPR, NULL);
}

/* What --verify full leaves out of a view's comparison: what reads the clock. */
static void test_reads_clock(void **state)
{
    (void)state;
    assert_true(pgb_sql_reads_clock("CREATE VIEW v AS SELECT datetime('now') AS d"));
    assert_true(pgb_sql_reads_clock("CREATE VIEW v AS SELECT datetime() AS d"));
    assert_true(pgb_sql_reads_clock("CREATE VIEW v AS SELECT STRFTIME('%H:%M:%f') AS d"));
    assert_true(pgb_sql_reads_clock("CREATE VIEW v AS SELECT unixepoch ( ) AS d"));
    assert_false(pgb_sql_reads_clock("CREATE VIEW v AS SELECT \"date\", time FROM t"));
    assert_false(pgb_sql_reads_clock("CREATE VIEW v AS SELECT 'now is' AS d"));
    assert_false(pgb_sql_reads_clock(NULL));
}

static void test_tokenize(void **state)
{
    (void)state;
    pgb_toks t;
    assert_int_equal(pgb_tokenize("CREATE TABLE [My Table] (\"a\"\"b\" INT, `c` TEXT) -- x\n", &t),
                     0);
    assert_int_equal(t.t[2].kind, TK_QIDENT);
    assert_string_equal(t.t[2].text, "My Table");
    assert_string_equal(t.t[4].text, "a\"b");
    assert_string_equal(t.t[7].text, "c");
    assert_int_equal(pgb_tok_close(&t, 3), t.n - 1);
    pgb_toks_free(&t);
    assert_int_not_equal(pgb_tokenize("SELECT 'unterminated", &t), 0);
}

/* ---- pgb_json_check against jansson, which it stands in for ----------------- */

static uint64_t rng_state = 0x2545F4914F6CDD1Du;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void gen_json(pgb_buf *b, int depth)
{
    static const char *const atoms[] = {"0",
                                        "-0",
                                        "1",
                                        "-12",
                                        "3.25",
                                        "1e5",
                                        "-1E-3",
                                        "2.5e+10",
                                        "1e400",
                                        "-1e400",
                                        "1e-400",
                                        "9223372036854775807",
                                        "9223372036854775808",
                                        "-9223372036854775808",
                                        "-9223372036854775809",
                                        "123456789012345678901234567890",
                                        "0.000001",
                                        "true",
                                        "false",
                                        "null",
                                        "\"\"",
                                        "\"abc\"",
                                        "\"\\u00e9\"",
                                        "\"\\ud834\\udd1e\"",
                                        "\"\\ud834\"",
                                        "\"\\udd1e\"",
                                        "\"\\u0000\"",
                                        "\"\\n\\t\\/\\\\\\\"\"",
                                        "\"\xc3\xa9\"",
                                        "\"\xf0\x9d\x84\x9e\"",
                                        "\"\\u12\"",
                                        "\"\\x\""};
    int k = (int)(rnd() % 10);
    if (depth > 4 || k < 5) {
        pgb_buf_puts(b, atoms[rnd() % (sizeof atoms / sizeof *atoms)]);
        return;
    }
    int obj = k < 8;
    pgb_buf_puts(b, obj ? "{" : "[");
    int n = (int)(rnd() % 4);
    for (int i = 0; i < n; i++) {
        if (i)
            pgb_buf_puts(b, rnd() % 3 ? "," : " , ");
        if (obj) {
            pgb_buf_puts(b, rnd() % 5 ? "\"k\"" : "\"\\u00e9t\xc3\xa9\"");
            pgb_buf_puts(b, rnd() % 3 ? ":" : " :\n");
        }
        gen_json(b, depth + 1);
    }
    pgb_buf_puts(b, obj ? "}" : "]");
}

static void check_json_same(const char *s, size_t n)
{
    json_error_t e;
    json_t *j = json_loadb(s, n, JSON_DECODE_ANY, &e);
    int container = -1;
    int mine = pgb_json_check(s, n, &container);
    if ((j != NULL) != (mine == 0))
        fail_msg("JSON %.*s: jansson %s, pgb_json_check %s", (int)(n > 200 ? 200 : n), s,
                 j ? "accepts" : e.text, mine == 0 ? "accepts" : "refuses");
    if (j && container != (json_is_object(j) || json_is_array(j)))
        fail_msg("JSON %.*s: container %d", (int)(n > 200 ? 200 : n), s, container);
    json_decref(j);
}

static void test_json_check(void **state)
{
    (void)state;
    static const char *const fixed[] = {"",
                                        " ",
                                        "{}",
                                        "[]",
                                        " [1] ",
                                        "01",
                                        "1.",
                                        ".5",
                                        "-",
                                        "1e",
                                        "1e+",
                                        "tru",
                                        "truex",
                                        "nul",
                                        "[1,]",
                                        "{\"a\"}",
                                        "{\"a\":1,}",
                                        "{1:2}",
                                        "\"a\x01\"",
                                        "\"\xc3\"",
                                        "\"\xed\xa0\x80\"",
                                        "\"\xc0\xaf\"",
                                        "[1] x",
                                        "\"\\u00\"",
                                        "\"a\"\"b\"",
                                        "[\"\\uD800\\u0041\"]"};
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
        check_json_same(fixed[i], strlen(fixed[i]));
    /* nesting up to jansson's limit and one past it */
    for (int d = 2046; d <= 2050; d++) {
        pgb_buf b = {0};
        for (int i = 0; i < d; i++)
            pgb_buf_puts(&b, "[");
        for (int i = 0; i < d; i++)
            pgb_buf_puts(&b, "]");
        check_json_same(b.s, b.len);
        pgb_buf_free(&b);
    }
    /* generated documents, and each one damaged at random */
    static const char damage[] = "{}[],:\"\\ \n0-.eEu\x01\x80\xc3\xff";
    for (int i = 0; i < 60000; i++) {
        pgb_buf b = {0};
        gen_json(&b, 0);
        assert_false(b.oom);
        check_json_same(b.s, b.len);
        size_t at = b.len ? rnd() % b.len : 0;
        switch (rnd() % 3) {
        case 0: /* a byte replaced */
            if (b.len)
                b.s[at] = damage[rnd() % (sizeof damage - 1)];
            break;
        case 1: /* cut short */
            b.len = at;
            break;
        default: /* a byte removed */
            if (b.len) {
                memmove(b.s + at, b.s + at + 1, b.len - at - 1);
                b.len--;
            }
        }
        check_json_same(b.s, b.len);
        pgb_buf_free(&b);
    }
}

/* ---- SHA-256: the SHA-instruction code against libsodium's ------------------ */

static void test_sha256(void **state)
{
    (void)state;
    unsigned char want[32], got[32], fast[32];
    /* a known answer: "abc" */
    static const unsigned char abc[32] = {0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea,
                                          0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
                                          0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c,
                                          0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
    for (int portable = 0; portable < 2; portable++) {
        pgb_sha256 s;
        pgb_sha256_init(&s, portable);
        pgb_sha256_update(&s, "abc", 3);
        pgb_sha256_final(&s, got);
        assert_memory_equal(got, abc, 32);
    }
    /* every length from 0 to 300 bytes (all the padding cases), then random
     * lengths up to 100 kB fed in random pieces, as libsodium hashes them */
    size_t cap = 100000;
    unsigned char *data = malloc(cap);
    assert_non_null(data);
    uint64_t x = 0x9e3779b97f4a7c15u;
    for (size_t i = 0; i < cap; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        data[i] = (unsigned char)x;
    }
    for (int round = 0; round < 600; round++) {
        size_t n = round <= 300 ? (size_t)round : (size_t)(x % cap);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        crypto_hash_sha256(want, data, n);
        pgb_sha256 s;
        pgb_sha256_init(&s, 0);
        size_t off = 0;
        while (off < n) {
            size_t piece = 1 + (size_t)((x >> (off % 17)) % 200);
            if (piece > n - off)
                piece = n - off;
            pgb_sha256_update(&s, data + off, piece);
            off += piece;
        }
        pgb_sha256_final(&s, fast);
        if (memcmp(fast, want, 32) != 0)
            fail_msg("SHA-256 of %zu bytes differs from libsodium's (SHA instructions: %d)", n,
                     s.ni);
    }
    free(data);
}

/* A background thread at the gate: what pgb_gate_pass returned, and when. */
typedef struct {
    pgb_gate *g;
    int passes, rc;
    volatile int done;
} gate_walker;

static void *walk_gate(void *arg)
{
    gate_walker *w = arg;
    for (int i = 0; i < w->passes; i++)
        if ((w->rc = pgb_gate_pass(w->g)) != 0)
            break;
    __atomic_store_n(&w->done, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

static int walker_done(gate_walker *w)
{
    return __atomic_load_n(&w->done, __ATOMIC_SEQ_CST);
}

static void pause_ms(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The machine the gate sees: busy (no idle time passes) or with two idle
 * cores. */
static int machine_idle;
static double fake_idle_seconds(void)
{
    if (!__atomic_load_n(&machine_idle, __ATOMIC_SEQ_CST))
        return 1000.0;
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return 2.0 * ((double)t.tv_sec + (double)t.tv_nsec / 1e9);
}

static void start_walker(pthread_t *t, gate_walker *w, pgb_gate *g, int passes)
{
    *w = (gate_walker){g, passes, 99, 0};
    assert_int_equal(pthread_create(t, NULL, walk_gate, w), 0);
}

/* On spare CPU only: on a busy machine a thread waits at the gate (it
 * cannot be done while the machine stays busy: three probes' time), and
 * goes on once a probe finds a spare core. Opening releases a waiting
 * thread at once; cancelling releases it with -1, and cancelled stays
 * cancelled. A NULL gate is always open. */
static void test_gate(void **state)
{
    (void)state;
    assert_int_equal(pgb_gate_pass(NULL), 0);
    pthread_t t;
    gate_walker w;

    pgb_gate g;
    pgb_gate_init(&g);
    g.idle_seconds = fake_idle_seconds;
    machine_idle = 0;
    start_walker(&t, &w, &g, 3);
    pause_ms(3 * PGB_GATE_PROBE_MS + 50);
    assert_false(walker_done(&w)); /* held: no spare core */
    __atomic_store_n(&machine_idle, 1, __ATOMIC_SEQ_CST);
    pthread_join(t, NULL); /* a probe found one */
    assert_int_equal(w.rc, 0);
    pgb_gate_destroy(&g);

    pgb_gate_init(&g);
    g.idle_seconds = fake_idle_seconds;
    machine_idle = 0;
    start_walker(&t, &w, &g, 3);
    pause_ms(PGB_GATE_PROBE_MS + 50);
    assert_false(walker_done(&w));
    pgb_gate_set(&g, PGB_GATE_OPEN); /* someone needs the result */
    pthread_join(t, NULL);
    assert_int_equal(w.rc, 0);
    assert_int_equal(pgb_gate_pass(&g), 0);
    pgb_gate_destroy(&g);

    pgb_gate_init(&g);
    g.idle_seconds = fake_idle_seconds;
    start_walker(&t, &w, &g, 1000000);
    pause_ms(PGB_GATE_PROBE_MS + 50);
    assert_false(walker_done(&w));
    pgb_gate_set(&g, PGB_GATE_CANCELLED);
    pthread_join(t, NULL);
    assert_int_equal(w.rc, -1);
    pgb_gate_set(&g, PGB_GATE_OPEN);
    assert_int_equal(pgb_gate_pass(&g), -1);
    pgb_gate_destroy(&g);
}

/* The thread of this process named name (pthread_setname_np): its state
 * letter (/proc/.../stat) and the bytes it read by read/pread so far
 * (rchar: from the page cache or not). 0 when there is one. */
static int named_thread(const char *name, char *state, long long *rchar)
{
    DIR *d = opendir("/proc/self/task");
    if (!d)
        return -1;
    char tid[300] = "", path[400], line[512];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (f && fgets(line, sizeof line, f) && !strncmp(line, name, strlen(name)) &&
            line[strlen(name)] == '\n') {
            snprintf(tid, sizeof tid, "%s", e->d_name);
            n++;
        }
        if (f)
            fclose(f);
    }
    closedir(d);
    if (n != 1)
        return -1;
    snprintf(path, sizeof path, "/proc/self/task/%s/stat", tid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char *close_paren = fgets(line, sizeof line, f) ? strrchr(line, ')') : NULL;
    fclose(f);
    if (!close_paren)
        return -1;
    *state = close_paren[2];
    snprintf(path, sizeof path, "/proc/self/task/%s/io", tid);
    if (!(f = fopen(path, "r")))
        return -1;
    *rchar = -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "rchar: ", 7))
            *rchar = atoll(line + 7);
    fclose(f);
    return *rchar < 0 ? -1 : 0;
}

/* SQLite's integrity check (started by pgb_src_open on a thread of its
 * own) waits at the gate of a busy machine before it reads the file: SQLite walks every
 * page in one step of its program, where its progress handler is not
 * called, so the gate is passed on every read of the file. Once the
 * thread sleeps at the gate, it has read no more than the file's first
 * pages; opened, the check runs to its end and finds the file sound. */
static void test_check_waits_at_gate(void **state)
{
    (void)state;
    char dir[] = "/tmp/pgboot-test-gate-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[96];
    snprintf(path, sizeof path, "%s/big.sqlite", dir);
    sqlite3 *w = NULL;
    assert_int_equal(sqlite3_open(path, &w), SQLITE_OK);
    assert_int_equal(sqlite3_exec(w,
                                  "CREATE TABLE t (id INTEGER PRIMARY KEY, b TEXT);"
                                  "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
                                  "WHERE i < 60000) INSERT INTO t SELECT i, hex(randomblob(60)) "
                                  "FROM n; CREATE INDEX t_b ON t (b);",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_close(w), SQLITE_OK);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(st.st_size > 8 << 20);

    pgb_gate g;
    pgb_gate_init(&g);
    g.idle_seconds = fake_idle_seconds; /* a busy machine */
    __atomic_store_n(&machine_idle, 0, __ATOMIC_SEQ_CST);
    pgb_src_db db;
    assert_int_equal(pgb_src_open(&db, path, &g), 0);
    assert_true(db.check_started);
    /* asleep (at the gate) for five looks in a row, or 10 s */
    char st_letter = '?';
    long long rchar = -1;
    for (int i = 0, asleep = 0; i < 500 && asleep < 5; i++) {
        pause_ms(20);
        assert_int_equal(named_thread("pgb-quick-check", &st_letter, &rchar), 0);
        asleep = st_letter == 'S' ? asleep + 1 : 0;
    }
    assert_int_equal(st_letter, 'S');
    if (rchar > st.st_size / 4)
        fail_msg("the check read %lld of the file's %lld bytes at the gate of a busy machine",
                 rchar, (long long)st.st_size);
    pgb_gate_set(&g, PGB_GATE_OPEN);
    assert_int_equal(pgb_src_check(&db), 0);
    pgb_src_close(&db);
    pgb_gate_destroy(&g);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_iso),
        cmocka_unit_test(test_uuid_bool_utf8),
        cmocka_unit_test(test_iso_fraction_digits),
        cmocka_unit_test(test_zero_date_special_excerpt),
        cmocka_unit_test(test_double_text),
        cmocka_unit_test(test_json_check),
        cmocka_unit_test(test_sha256),
        cmocka_unit_test(test_decimal_shape),
        cmocka_unit_test(test_translate),
        cmocka_unit_test(test_reads_clock),
        cmocka_unit_test(test_tokenize),
        cmocka_unit_test(test_gate),
        cmocka_unit_test(test_check_waits_at_gate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
