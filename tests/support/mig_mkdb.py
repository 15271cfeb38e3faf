#!/usr/bin/env python3
"""Crafted SQLite databases for the mig_* integration tests (stdlib only).

    mig_mkdb.py KIND OUT.sqlite [ARGS...]

KIND is one of: types, names, constraints, bad, big, writer, jsoncast.
Each builds a new file (any old one is removed first).
"""

import os
import sqlite3
import sys


def connect(path):
    for suf in ("", "-wal", "-shm", "-journal"):
        try:
            os.unlink(path + suf)
        except FileNotFoundError:
            pass
    return sqlite3.connect(path, isolation_level=None)


# --- types ------------------------------------------------------------------------

# column -> (declared type, values for rows 1..6; missing ones are NULL)
TYPES = [
    ("i_integer", "INTEGER", [1, -5, 9223372036854775807, -9223372036854775808, 0, None]),
    ("i_int", "INT", [1, 2, 3]),
    ("i_bigint", "BIGINT", [2 ** 40, -1]),
    ("i_tinyint", "TINYINT", [7]),
    ("i_mediumint", "MEDIUMINT", [8]),
    ("r_real", "REAL", [1.5, 0.1, 1e308, -0.0, 5e-324, 3]),
    ("r_inf", "REAL", [float("inf"), float("-inf"), 1.0]),
    ("r_double", "DOUBLE", [2.5, 1 / 3]),
    ("r_float", "FLOAT", [0.30000000000000004, -2.0]),
    ("r_dprec", "DOUBLE PRECISION", [6.02214076e23]),
    ("n_fit", "NUMERIC(10,2)", [1.25, 19.99, 0, -3.5, 100, "7.10"]),
    ("n_nofit", "NUMERIC(5,2)", [1.234, 12345.6, 1.5]),
    ("n_decimal", "DECIMAL(8,3)", [1.5, 2.125, -0.001]),
    ("n_numeric", "NUMERIC", [1, 2.5, 123456789012345678]),
    ("n_decimal_plain", "DECIMAL", [3.25, 4]),
    ("b_bool", "BOOLEAN", [0, 1, "true", "false", "t", "f"]),
    ("b_bool_bad", "BOOLEAN", [0, 1, 2]),
    ("d_date", "DATE", ["2024-02-29", "1999-12-31", "0001-01-01"]),
    ("d_date_bad", "DATE", ["2024-02-29", "yesterday"]),
    ("d_date_invalid", "DATE", ["2024-02-28", "2023-02-29"]),
    ("t_invalid", "DATETIME", ["2024-01-01 00:00:00", "2024-13-01 00:00:00"]),
    ("t_short", "DATETIME", ["2024-01-02 03:04", "2024-01-02T03:04:05.123"]),
    ("t_julian", "DATETIME", [2460000.5, 2451545.0]),
    ("t_naive", "DATETIME", ["2024-01-02 03:04:05", "2024-01-02T03:04:05.123456", "1999-12-31 23:59:59"]),
    ("t_zoned", "TIMESTAMP", ["2024-01-02 03:04:05Z", "2024-01-02T03:04:05+02:00", "2024-06-30 12:00:00.5-07:00"]),
    ("t_mixed", "DATETIME", ["2024-01-02 03:04:05Z", "2024-01-02 03:04:05"]),
    ("t_epoch", "DATETIME", [1700000000, 0, 1, 2000000000]),
    ("t_epoch_ts", "TIMESTAMP", [86400, 1234567890]),
    ("j_json", "JSON", ['{"a": 1, "b": [1, 2.50, "x"]}', "[1, 2]", '"s"', "null", '{"nested": {"k": true}}', "[]"]),
    ("j_jsonb", "JSONB", ['{"b": [true, false]}', '{"u": "\\u00e9"}']),
    ("j_bad", "JSON", ['{"a": 1}', "not json"]),
    ("j_nul", "JSON", ['{"a": 1}', '{"a": "\\u0000"}']),
    ("j_surrogate", "JSON", ['["\\ud83d\\ude00"]', '["\\ud800"]']),
    ("det_obj", "TEXT", ['{"x": 1}', "[2, 3]", '{"y": null}']),
    ("det_mixed", "TEXT", ['{"x": 1}', "plain"]),
    ("det_scalar", "TEXT", ["1", '"s"', "true"]),
    ("u_uuid", "UUID", ["a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A12"]),
    ("u_bad", "UUID", ["a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "not-a-uuid"]),
    ("v_fit", "VARCHAR(5)", ["abc", "h\u00e9llo", "12345"]),
    ("v_over", "VARCHAR(3)", ["abc", "abcd"]),
    ("nv_fit", "NVARCHAR(10)", ["x"]),
    ("c_char", "CHAR(4)", ["ab", "abcd"]),
    ("txt", "TEXT", ["plain", "", "\u65e5\u672c\u8a9e \U0001F600", "tab\tnew\nline\\back\r", "'quote\"", " spaced "]),
    ("blb", "BLOB", [b"\x00\x01\xff\xfe", b"", bytes(range(256)), b"\\x00 not hex"]),
    ("notype_int", "", [1, 2, 3]),
    ("notype_real", "", [1.5, 2.25]),
    ("notype_text", "", ["a", "b"]),
    ("notype_mixed", "", [1, "a", 2.5]),
    ("notype_blob", "", [b"\x01\x02"]),
    ("unk_int", "intege", [1, 2]),
    ("unk_real", "floatish thing", [1.5, 2.5]),
    ("unk_text", "strng", ["a", "b"]),
]


def mk_types(path):
    c = connect(path)
    cols = ", ".join('"%s" %s' % (n, d) for n, d, _ in TYPES)
    c.execute("CREATE TABLE ty (id INTEGER PRIMARY KEY AUTOINCREMENT, %s)" % cols)
    for r in range(6):
        names = ["id"] + [n for n, _, _ in TYPES]
        vals = [r + 1] + [v[r] if r < len(v) else None for _, _, v in TYPES]
        c.execute("INSERT INTO ty (%s) VALUES (%s)" % (", ".join('"%s"' % n for n in names), ", ".join("?" * len(vals))), vals)
    # AUTOINCREMENT: sqlite_sequence is past max(id)
    c.execute("UPDATE sqlite_sequence SET seq = 1000 WHERE name = 'ty'")
    # a plain INTEGER PRIMARY KEY (no AUTOINCREMENT): next value after max
    c.execute("CREATE TABLE plainpk (id INTEGER PRIMARY KEY, v TEXT)")
    c.executemany("INSERT INTO plainpk VALUES (?, ?)", [(5, "a"), (41, "b"), (17, "c")])
    # an empty table with every family of types (chosen from the declarations)
    c.execute("CREATE TABLE empty_ty (a INTEGER, b REAL, c NUMERIC(6,1), d BOOLEAN, e DATE, f DATETIME, g JSON, h UUID, i VARCHAR(9), j BLOB, k TEXT)")
    c.close()


# --- names ---------------------------------------------------------------------------

def mk_names(path):
    c = connect(path)
    c.execute('CREATE TABLE "MixedCase" ("CamelCol" INTEGER PRIMARY KEY, "lower" TEXT, "UPPER" TEXT)')
    c.executemany('INSERT INTO "MixedCase" VALUES (?, ?, ?)', [(1, "a", "A"), (2, "b", "B")])
    c.execute('CREATE TABLE "with space" ("a b" TEXT, "select" INTEGER)')
    c.execute('INSERT INTO "with space" VALUES (\'x\', 1)')
    c.execute('CREATE TABLE "Émile" (a INTEGER)')
    c.execute('CREATE TABLE "émile" (a INTEGER)')
    c.execute('INSERT INTO "Émile" VALUES (1)')
    c.execute('INSERT INTO "émile" VALUES (2)')
    c.execute('CREATE INDEX "IdxMixed" ON "MixedCase" ("lower")')
    c.close()


def mk_longname(path, what):
    c = connect(path)
    c.execute("CREATE TABLE ok_table (a INTEGER)")
    c.execute("INSERT INTO ok_table VALUES (1)")
    if what == "table":
        c.execute('CREATE TABLE "%s" (a INTEGER)' % ("t" * 64))
    elif what == "column":
        c.execute('CREATE TABLE short (id INTEGER, "%s" TEXT)' % ("c" * 70))
    elif what == "multibyte":
        # 32 characters, 64 bytes in UTF-8
        c.execute('CREATE TABLE "%s" (a INTEGER)' % ("\u00e9" * 32))
    elif what == "fits":
        c.execute('CREATE TABLE "%s" (a INTEGER)' % ("t" * 63))
        c.execute('INSERT INTO "%s" VALUES (63)' % ("t" * 63))
    c.close()


def mk_collide(path, what):
    c = connect(path)
    c.execute("CREATE TABLE ok_table (a INTEGER)")
    c.execute("INSERT INTO ok_table VALUES (1)")
    if what == "fts_column":
        # a normal FTS5 table gets a tsvector column named fts: a column of that name collides
        c.execute("CREATE VIRTUAL TABLE notes USING fts5(fts, body)")
        c.execute("INSERT INTO notes VALUES ('a', 'b')")
    elif what == "fts_external":
        # the external-content FTS table's name becomes a column of docs: docs already has one
        c.execute("CREATE TABLE docs (id INTEGER PRIMARY KEY, title TEXT, body TEXT, search TEXT)")
        c.execute("INSERT INTO docs VALUES (1, 't', 'b', 's')")
        c.execute("CREATE VIRTUAL TABLE search USING fts5(title, body, content='docs', content_rowid='id')")
        c.execute("INSERT INTO search(search) VALUES ('rebuild')")
    c.close()


# --- jsoncast (for --schema + --data-only) -----------------------------------------

def mk_jsoncast(path):
    c = connect(path)
    c.execute("CREATE TABLE ev (id INTEGER PRIMARY KEY, active INTEGER, payload TEXT, at INTEGER, note TEXT)")
    c.executemany("INSERT INTO ev VALUES (?, ?, ?, ?, ?)", [
        (1, 1, '{"k": 1}', 1700000000, "a"),
        (2, 0, '[1, 2, 3]', 0, None),
        (3, 1, '{"s": "\u00e9"}', 1234567890, "c"),
    ])
    c.close()


def main():
    kind, out = sys.argv[1], sys.argv[2]
    args = sys.argv[3:]
    if kind == "types":
        mk_types(out)
    elif kind == "names":
        mk_names(out)
    elif kind == "longname":
        mk_longname(out, args[0])
    elif kind == "collide":
        mk_collide(out, args[0])
    elif kind == "jsoncast":
        mk_jsoncast(out)
    else:
        sys.exit("unknown kind " + kind)


if __name__ == "__main__":
    main()
