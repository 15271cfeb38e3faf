#!/usr/bin/env python3
"""Differential test of pgboot's SQLite -> PostgreSQL expression translation
(stdlib only).

    mig_expr_diff.py mkdb FILE [all|issue|desync|viewdiff]
                                      a SQLite file: the input table `inp` of
                                      edge values, one view per expression
                                      (`x_<name>`: id and v = the expression
                                      over inp; for CLOCK's date functions
                                      of the clock, one row) and the table
                                      `gen` of generated columns; with `issue`, only
                                      `gen` with the issue's two examples;
                                      `desync`: a generated column whose
                                      stored values SQLite computed with
                                      another expression than its schema
                                      now says (for --verify full to catch);
                                      `viewdiff`: a view whose translation
                                      gives other values (blob || text)
    mig_expr_diff.py compare FILE URL [--report FILE]
                                      every view and every generated column,
                                      value by value and type class by type
                                      class: SQLite (this module) against
                                      PostgreSQL (psql)
    mig_expr_diff.py list             the expressions, one "name<TAB>sql" a line

Type classes: SQLite's storage classes; in PostgreSQL integer types (and
boolean, SQLite's 0/1) are "integer", real/double precision "real", text
types "text", bytea "blob", anything else its own name (so numeric, say,
never matches). Reals are compared bit for bit (float.hex), text as bytes.

An expression of EXPECT_REPORTED is one pgboot does not translate: its view
must be missing in PostgreSQL and named in the report's "skipped" (with
--report). Every other view must exist. Prints "PROBLEM: ..." lines and a
summary; exit 1 on a problem, 2 on a usage or connection error.
"""

import json
import os
import sqlite3
import subprocess
import sys
import time

PSQL = os.environ.get("PSQL") or "/usr/bin/psql"
PG_ENV = {
    "PATH": "/usr/bin:/bin",
    "PGTZ": "UTC",
    "PGCLIENTENCODING": "UTF8",
    "PGOPTIONS": "-c extra_float_digits=1 -c DateStyle=ISO,YMD -c bytea_output=hex",
}

# The input: columns of one storage class each (so the plan keeps SQLite's
# types), and rows that cycle through the edge values with different periods,
# so that each pair of columns meets in many combinations.
TEXTS = ["Hello World", "", None, "abc", "ÉtÉ été", "  pad  ", "xxAxx", "a_b%c", "HELLO",
         "hello", "ü-Ü", "xyzzy", " -7x", "12abc", "1.5e2x", "99999999999999999999", "2.9",
         "- 5", ".5", "\t+5", "+x"]
NEEDLES = ["l", "", None, "A", "é", " ", "x", "a_b%", "h%", "H%", "%É%", "%é%", "L", "zz"]
INTS = [0, 1, -1, 2, -2, 5, -5, None, 7, 3, -3, 4, -4, 100, -100, 11]
KS = [2, 0, -3, None, 1, -1, 3, 5, -2, 30, -7, 4, 9]
REALS = [2.5, -2.5, 0.5, -0.5, 1.5, 2.675, 0.49999999999999994, None, -0.4, 3.7, -3.7,
         1234.5678, 0.125, -0.125, 1e300, 5.5, -5.5, 0.0, 7.0, 4503599627370497.0, 1.005,
         1e-05, -2.5e-07, 123456789012345.6, 1e15, 0.0001, 0.1, -1e20, 1.7976931348623157e308]
BLOBS = [b"\x00\xff", b"", None, b"abc", b"\xff\x00\xff", b"hello"]
ROWS = 120

# name, SQLite expression over inp (or a whole SELECT of id and v). Each
# becomes the view x_<name>.
EXPRS = [
    # substr: negative and zero starts and lengths, NULLs, blobs
    ("substr_neg4", "substr(t, -4)"),
    ("substr_from", "substr(t, i)"),
    ("substr_len", "substr(t, i, k)"),
    ("substr_lit", "substr(t, 2, 3)"),
    ("substr_zero", "substr(t, 0, 2)"),
    ("substr_neglen", "substr(t, 4, -2)"),
    ("substr_blob", "substr(b, i, k)"),
    ("substring", "substring(t, i, k)"),
    ("substr_int", "substr(i, 2)"),
    ("substr_real", "substr(r, k, 3)"),
    # round: halves away from zero, digits (negative: 0), integers give reals
    ("round_1", "round(r)"),
    ("round_2", "round(r, 2)"),
    ("round_k", "round(r, k)"),
    ("round_int", "round(i)"),
    # min/max of several arguments: NULL if any is NULL
    ("min2", "min(i, k)"),
    ("max3", "max(i, k, 0)"),
    ("min_text", "min(t, u)"),
    ("max_real", "max(r, -1.5)"),
    # LIKE: ASCII case folded, nothing else
    ("like_col", "t LIKE u"),
    ("like_lit", "t LIKE 'h%'"),
    ("not_like", "t NOT LIKE 'H%'"),
    ("like_nonascii", "t LIKE '%é%'"),
    ("like_escape", "t LIKE 'a\\_%' ESCAPE '\\'"),
    # arithmetic: integer and real division, by zero, % on reals
    ("div_int", "i / k"),
    ("div_real", "r / k"),
    ("div_lit", "i / 2.0"),
    ("div_chain", "i * 3 / k + 1"),
    ("mod_int", "i % k"),
    ("mod_real", "r % k"),
    ("mod_neg", "-7 % k"),
    ("mul_real", "i * 1.5"),
    ("neg", "-i"),
    # iif, coalesce/ifnull, nullif
    ("iif", "iif(i > 0, 'pos', 'not')"),
    ("iif_null", "iif(k, i, -i)"),
    ("coalesce", "coalesce(t, u, 'z')"),
    ("ifnull", "ifnull(i, k)"),
    ("nullif", "nullif(i, k)"),
    # text functions
    ("length_t", "length(t)"),
    ("length_b", "length(b)"),
    ("instr", "instr(t, u)"),
    ("instr_blob", "instr(b, x'ff')"),
    ("replace", "replace(t, u, '-')"),
    ("replace_empty", "replace(t, '', 'x')"),
    ("trim", "trim(t)"),
    ("trim_chars", "trim(t, 'x')"),
    ("ltrim", "ltrim(t)"),
    ("rtrim", "rtrim(t)"),
    ("ltrim_chars", "ltrim(t, ' pH')"),
    ("rtrim_chars", "rtrim(t, 'do ')"),
    ("replace_num", "replace(i, '1', 'x')"),
    ("rtrim_real", "rtrim(r, '0')"),
    ("upper_real", "upper(r)"),
    ("instr_num", "instr(i, '0')"),
    ("upper", "upper(t)"),
    ("lower", "lower(t)"),
    ("abs_i", "abs(i)"),
    ("abs_r", "abs(r)"),
    ("concat", "t || u"),
    ("concat_int", "t || i"),
    ("concat_real", "r || ''"),
    ("concat_real2", "'(' || r || ')'"),
    ("length_i", "length(i)"),
    ("length_r", "length(r)"),
    ("is", "i IS k"),
    ("is_not", "i IS NOT k"),
    ("max_text", "max(t, u)"),
    # aggregates (one row)
    ("sum_i", "SELECT 1 AS id, sum(i) AS v FROM inp"),
    ("sum_r", "SELECT 1 AS id, sum(r) AS v FROM inp WHERE abs(r) < 1e10"),
    ("total_i", "SELECT 1 AS id, total(i) AS v FROM inp"),
    ("avg_i", "SELECT 1 AS id, avg(i) AS v FROM inp"),
    ("count_t", "SELECT 1 AS id, count(t) AS v FROM inp"),
    ("min_agg", "SELECT 1 AS id, min(t) AS v FROM inp"),
    ("max_agg_r", "SELECT 1 AS id, max(r) AS v FROM inp"),
    # casts
    ("cast_real_text", "CAST(r AS TEXT)"),
    ("cast_real_int", "CAST(r AS INTEGER)"),
    ("cast_text_int", "CAST(t AS INTEGER)"),
    ("cast_text_real", "CAST(t AS REAL)"),
    ("cast_int_real", "CAST(i AS REAL)"),
    ("cast_int_text", "CAST(i AS TEXT)"),
    # comparisons and logic (0/1 in SQLite)
    ("cmp", "i < k"),
    ("between", "i BETWEEN -2 AND 2"),
    ("in_list", "i IN (1, 2, NULL)"),
    ("is_null", "t IS NULL"),
    ("case", "CASE WHEN i > 0 THEN 'p' WHEN i < 0 THEN 'n' ELSE 'z' END"),
]

# Expressions pgboot does not translate (no faithful PostgreSQL equivalent):
# reported by name, never guessed.
EXPECT_REPORTED = [
    ("typeof", "typeof(i)"),
    ("glob", "t GLOB 'h*'"),
    ("date_mod", "date('2024-01-31', '+1 month')"),
    ("strftime_col", "strftime('%Y', t)"),
    # || binds tighter than + in SQLite, and the text then becomes a number:
    # PostgreSQL refuses text + integer (not translated into another meaning)
    ("concat_prec", "t || i + 1"),
]

# The date functions pgboot translates read the clock: 'now' (or nothing),
# with the modifier 'localtime'. Each becomes the view x_<name> (one row);
# compare reads it in SQLite just before and just after PostgreSQL does, with
# SQLite's local time zone and the PostgreSQL session's TimeZone both
# Asia/Kolkata (+05:30), so that 'localtime' means something: PostgreSQL's
# value must have SQLite's type class and lie between the two.
# Not here: the 'utc' modifier on a time in UTC, which SQLite before 3.42 applies to 'now' as
# to a local time (a shift by the zone) and later SQLite ignores; and
# strftime('%s', 'now'), text in SQLite, translated as bigint (PostgreSQL
# refuses text in the arithmetic views do with it, as in concat_prec).
CLOCK = [
    ("clk_datetime", "datetime('now')"),
    ("clk_datetime_bare", "datetime()"),
    ("clk_date", "date('now')"),
    ("clk_time", "time('now')"),
    ("clk_datetime_local", "datetime('now', 'localtime')"),
    ("clk_date_local", "date('now', 'localtime')"),
    ("clk_time_local", "time('now', 'localtime')"),
    ("clk_strftime_ms", "strftime('%Y-%m-%dT%H:%M:%f', 'now')"),
    ("clk_strftime_local", "strftime('%d/%m/%Y %H:%M %j', 'now', 'localtime')"),
    ("clk_unixepoch", "unixepoch('now')"),
    ("clk_unixepoch_local", "unixepoch('now', 'localtime')"),
    ("clk_strftime_s_local", "strftime('%s', 'now', 'localtime') + 0"),
    # 'utc' after 'localtime': back to UTC, in every SQLite
    ("clk_datetime_local_utc", "datetime('now', 'localtime', 'utc')"),
    ("clk_unixepoch_local_utc", "unixepoch('now', 'localtime', 'utc')"),
    # no time value: now (--verify full must see that it reads the clock)
    ("clk_strftime_bare", "strftime('%H:%M:%f')"),
]
CLOCK_TZ = "Asia/Kolkata"

# Generated columns (the issue's examples and friends) in table gen.
GENERATED = [
    ("last4", "TEXT", "substr(card, -4)"),
    ("rounded", "REAL", "round(amount)"),
    ("cents", "REAL", "round(amount, 1)"),
    ("share", "INTEGER", "qty / nullif(parts, 0)"),
    ("lo", "INTEGER", "min(qty, parts)"),
    ("label", "TEXT", "amount || ' EUR'"),
    ("num", "INTEGER", "CAST(card AS INTEGER)"),
    ("tail", "TEXT", "lower(substr(card, -3, 2))"),
    ("odd", "REAL", "amount % 2"),
]
# json_extract into text columns (SQLite's value, with the column's affinity)
JSON_GEN = [
    ("jk", "TEXT", "json_extract(doc, '$.k')"),
    ("jn", "TEXT", "json_extract(doc, '$.n')"),
    ("jb", "TEXT", "json_extract(doc, '$.b')"),
    ("jo", "TEXT", "json_extract(doc, '$.o')"),
    ("ja", "TEXT", "json_extract(doc, '$.a[1]')"),
]
JSON_DOCS = [
    '{"k": "v1", "n": 5, "b": true, "o": {"z": 1, "a": [1, 2]}, "a": [10, 20]}',
    '{"k":"x y","n":1.50,"b":false,"o":{"s":"a b\\"c"},"a":["p","q"]}',
    '{"n": -0, "b": null, "o": [], "a": [1]}',
    '{"n": 1e2, "k": 7, "o": "text", "a": [null, 2.5]}',
    '{"n": 123456789012345678901, "k": "\\u00e9"}',
    '{"n": 9223372036854775807, "a": [0, -9223372036854775808]}',
    '{"n": 9223372036854775808}',
    None,
    '{}',
]
GEN_ROWS = [
    ("4111111111111111", 2.5, 7, 2), ("5500000000000004", -2.5, 9, 0), ("340", 0.5, None, 3),
    ("12", 1.5, 4, None), (None, 3.45, 5, 5), ("", -0.5, -7, 2), ("a", 0.15, 1, 1),
]


def cycle(vals, i, step):
    return vals[(i * step) % len(vals)]


def mkdb(path, kind):
    if os.path.exists(path):
        os.unlink(path)
    c = sqlite3.connect(path)
    if kind == "desync":
        c.execute("CREATE TABLE gen (id INTEGER PRIMARY KEY, card TEXT, "
                  "last4 TEXT GENERATED ALWAYS AS (substr(card, -4)) STORED)")
        c.execute("INSERT INTO gen (id, card) VALUES (1, '4111111111111111'), (2, NULL)")
        c.commit()
        c.execute("PRAGMA writable_schema = ON")
        c.execute("UPDATE sqlite_master SET sql = replace(sql, 'substr(card, -4)', "
                  "'substr(card, -3)') WHERE name = 'gen'")
        c.commit()
        c.close()
        return
    if kind == "viewdiff":
        # a blob || text is text in SQLite, bytea in PostgreSQL: a
        # translation that does not mean the same (yet)
        c.execute("CREATE TABLE m (id INTEGER PRIMARY KEY, b BLOB)")
        c.execute("INSERT INTO m VALUES (1, x'6869'), (2, x'')")
        c.execute("CREATE VIEW shown AS SELECT id, b || '!' AS label FROM m")
        c.commit()
        c.close()
        return
    if kind == "issue":
        c.execute("CREATE TABLE gen (id INTEGER PRIMARY KEY, card TEXT, amount REAL, "
                  "last4 TEXT GENERATED ALWAYS AS (substr(card, -4)) STORED, "
                  "rounded REAL GENERATED ALWAYS AS (round(amount)) STORED)")
        for n, row in enumerate(GEN_ROWS):
            c.execute("INSERT INTO gen (id, card, amount) VALUES (?, ?, ?)", (n + 1,) + row[:2])
        c.commit()
        c.close()
        return
    c.execute("CREATE TABLE inp (id INTEGER PRIMARY KEY, t TEXT, u TEXT, i INTEGER, k INTEGER, "
              "r REAL, b BLOB)")
    for n in range(ROWS):
        c.execute("INSERT INTO inp VALUES (?, ?, ?, ?, ?, ?, ?)",
                  (n + 1, cycle(TEXTS, n, 1), cycle(NEEDLES, n, 5), cycle(INTS, n, 1),
                   cycle(KS, n, 7), cycle(REALS, n, 1), cycle(BLOBS, n, 5)))
    for name, sql in EXPRS + EXPECT_REPORTED:
        body = sql if sql.startswith("SELECT ") else "SELECT id, %s AS v FROM inp" % sql
        c.execute("CREATE VIEW x_%s AS %s" % (name, body))
    # a view that reads the clock: translated, but --verify full cannot compare it
    c.execute("CREATE VIEW x_clock AS SELECT 1 AS id, datetime('now') AS v")
    for name, sql in CLOCK:
        c.execute("CREATE VIEW x_%s AS SELECT 1 AS id, %s AS v" % (name, sql))
    cols = ", ".join("%s %s GENERATED ALWAYS AS (%s) STORED" % g for g in GENERATED)
    c.execute("CREATE TABLE gen (id INTEGER PRIMARY KEY, card TEXT, amount REAL, qty INTEGER, "
              "parts INTEGER, %s)" % cols)
    for n, row in enumerate(GEN_ROWS):
        c.execute("INSERT INTO gen (id, card, amount, qty, parts) VALUES (?, ?, ?, ?, ?)",
                  (n + 1,) + row)
    cols = ", ".join("%s %s GENERATED ALWAYS AS (%s) STORED" % g for g in JSON_GEN)
    c.execute("CREATE TABLE js (id INTEGER PRIMARY KEY, doc TEXT, %s)" % cols)
    for n, doc in enumerate(JSON_DOCS):
        c.execute("INSERT INTO js (id, doc) VALUES (?, ?)", (n + 1, doc))
    c.commit()
    c.close()


def sqlite_class(v):
    if v is None:
        return None
    if isinstance(v, int):
        return ("integer", str(v).encode())
    if isinstance(v, float):
        return ("real", v.hex().encode())
    if isinstance(v, bytes):
        return ("blob", v.hex().encode())
    return ("text", v.encode("utf-8", "surrogatepass"))


INT_TYPES = {"bigint", "integer", "smallint"}
REAL_TYPES = {"double precision", "real"}
TEXT_TYPES = {"text", "character varying", "character", "unknown", "name"}


def pg_class(typ, raw):
    """PostgreSQL's value (text output) as (class, canonical bytes)."""
    s = raw.decode("utf-8")
    if typ in INT_TYPES:
        return ("integer", s.encode())
    if typ == "boolean":
        return ("integer", b"1" if s in ("t", "true") else b"0")
    if typ in REAL_TYPES:
        return ("real", float(s).hex().encode())
    if typ == "bytea":
        return ("blob", s[2:].encode())
    if typ in TEXT_TYPES:
        return ("text", raw)
    return (typ, raw)


def pg_query(url, sql, env=PG_ENV):
    """Rows of (id, type or None for NULL, value bytes) through psql."""
    q = ("COPY (SELECT id, CASE WHEN v IS NULL THEN NULL ELSE pg_typeof(v)::text END, "
         "encode(convert_to(v::text, 'UTF8'), 'hex') FROM (%s) s ORDER BY id) TO STDOUT" % sql)
    p = subprocess.run([PSQL, "-X", "-q", "-v", "ON_ERROR_STOP=1", url, "-c", q],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, timeout=120)
    if p.returncode != 0:
        return None, p.stderr.decode(errors="replace").strip()
    rows = []
    for line in p.stdout.decode().splitlines():
        f = line.split("\t")
        rows.append((int(f[0]), None if f[1] == "\\N" else f[1],
                     None if f[2] == "\\N" else bytes.fromhex(f[2])))
    return rows, None


def show(c):
    if c is None:
        return "NULL"
    cls, b = c
    if cls == "real":
        return "real %r" % float.fromhex(b.decode())
    return "%s %r" % (cls, b.decode("utf-8", "replace"))


def compare_rows(what, lite, pg, problems):
    got = {}
    for i, typ, raw in pg:
        got[i] = None if typ is None else pg_class(typ, raw)
    diffs = 0
    for i, v in lite:
        want = sqlite_class(v)
        have = got.pop(i, "missing")
        if have != want:
            diffs += 1
            if diffs <= 4:
                problems.append("%s: id %d: SQLite %s, PostgreSQL %s" %
                                (what, i, show(want), have if have == "missing" else show(have)))
    if got:
        problems.append("%s: PostgreSQL has rows SQLite has not: %s" % (what, sorted(got)[:5]))
    if diffs > 4:
        problems.append("%s: ... %d rows differ in all" % (what, diffs))
    return diffs == 0 and not got


def pg_views(url):
    p = subprocess.run([PSQL, "-X", "-q", "-A", "-t", url, "-c",
                        "SELECT viewname FROM pg_views WHERE schemaname = current_schema()"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=PG_ENV, timeout=60)
    if p.returncode != 0:
        sys.stderr.write("ERROR: cannot list the views: %s\n" % p.stderr.decode(errors="replace"))
        sys.exit(2)
    return set(p.stdout.decode().split())


def compare(path, url, report):
    c = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    c.text_factory = str
    views = pg_views(url)
    skipped = {}
    if report:
        with open(report) as f:
            for s in json.load(f).get("skipped", []):
                skipped[s["name"]] = s["reason"]
    problems = []
    good = 0
    issue_only = not c.execute("SELECT 1 FROM sqlite_master WHERE name = 'inp'").fetchall()
    exprs, reported = ([], []) if issue_only else (EXPRS, EXPECT_REPORTED)
    generated = GENERATED[:2] if issue_only else GENERATED
    for name, sql in exprs:
        view = "x_" + name
        lite = c.execute("SELECT id, v FROM %s ORDER BY id" % view).fetchall()
        if view not in views:
            problems.append("%s (%s): not created in PostgreSQL (%s)" %
                            (name, sql, skipped.get(view, "not in the report either")))
            continue
        pg, err = pg_query(url, "SELECT id, v FROM %s" % view)
        if pg is None:
            problems.append("%s (%s): PostgreSQL cannot read the view: %s" % (name, sql, err))
            continue
        good += compare_rows("%s (%s)" % (name, sql), lite, pg, problems)
    for name, sql in reported:
        view = "x_" + name
        if view in views:
            problems.append("%s (%s): translated, but it has no faithful equivalent" % (name, sql))
        elif report and view not in skipped:
            problems.append("%s (%s): neither created nor in the report's skipped" % (name, sql))
        else:
            good += 1
    clock = [] if issue_only else CLOCK
    if clock:
        os.environ["TZ"] = CLOCK_TZ
        time.tzset()
    clock_env = dict(PG_ENV, PGTZ=CLOCK_TZ)
    for name, sql in clock:
        view = "x_" + name
        if view not in views:
            problems.append("%s (%s): not created in PostgreSQL (%s)" %
                            (name, sql, skipped.get(view, "not in the report either")))
            continue
        read = "SELECT v FROM %s" % view
        before = sqlite_class(c.execute(read).fetchone()[0])
        pg, err = pg_query(url, "SELECT id, v FROM %s" % view, clock_env)
        after = sqlite_class(c.execute(read).fetchone()[0])
        if pg is None or len(pg) != 1 or pg[0][1] is None:
            problems.append("%s (%s): PostgreSQL gives %s" % (name, sql, err or pg))
            continue
        have = pg_class(pg[0][1], pg[0][2])
        key = (lambda v: int(v[1])) if before[0] == "integer" else (lambda v: v[1])
        if have[0] != before[0] or not (have in (before, after) or
                                        key(before) < key(have) < key(after)):
            problems.append("%s (%s): PostgreSQL %s, SQLite %s just before and %s just after" %
                            (name, sql, show(have), show(before), show(after)))
            continue
        good += 1
    json_gen = [] if issue_only else [("js",) + g for g in JSON_GEN]
    for table, col, _typ, sql in [("gen",) + g for g in generated] + json_gen:
        lite = c.execute("SELECT id, %s FROM %s ORDER BY id" % (col, table)).fetchall()
        pg, err = pg_query(url, "SELECT id, %s AS v FROM %s" % (col, table))
        if pg is None:
            problems.append("%s.%s (%s): %s" % (table, col, sql, err))
            continue
        good += compare_rows("generated %s.%s (%s)" % (table, col, sql), lite, pg, problems)
    for p in problems:
        print("PROBLEM: " + p)
    total = len(exprs) + len(reported) + len(generated) + len(json_gen) + len(clock)
    print("%d of %d expressions give the same values and type classes" % (good, total))
    return 1 if problems else 0


def main():
    a = sys.argv[1:]
    if a[:1] == ["mkdb"] and len(a) in (2, 3) and a[2:3] in ([], ["all"], ["issue"], ["desync"],
                                                             ["viewdiff"]):
        mkdb(a[1], a[2] if len(a) == 3 else "all")
        return 0
    if a[:1] == ["list"]:
        for name, sql in EXPRS + EXPECT_REPORTED:
            print("%s\t%s" % (name, sql))
        return 0
    if a[:1] == ["compare"] and len(a) in (3, 5):
        report = a[4] if len(a) == 5 and a[3] == "--report" else None
        return compare(a[1], a[2], report)
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main())
