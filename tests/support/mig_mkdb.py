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
    ("notype_real", "", [1.5, 2.25, -0.0]),
    ("notype_text", "", ["a", "b"]),
    ("notype_mixed", "", [1, "a", 2.5, 0.30000000000000004, 1e100]),
    ("notype_blob", "", [b"\x01\x02"]),
    ("unk_int", "intege", [1, 2]),
    ("unk_real", "floatish thing", [1.5, 2.5]),
    ("unk_text", "strng", ["a", "b"]),
    ("unk_mixed", "intege", [1, "two", 0.1 + 0.2]),
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
    # big values: a 2 MB blob and a 1 MB text of all kinds of characters
    big_text = "".join(chr(cp) for cp in list(range(32, 0xD800, 7)) + list(range(0xE000, 0x110000, 97)))
    big_text = (big_text * (1048576 // len(big_text.encode()) + 1))[:300000]
    c.execute("CREATE TABLE bigvals (id INTEGER PRIMARY KEY, t TEXT, b BLOB)")
    c.execute("INSERT INTO bigvals VALUES (1, ?, ?)", (big_text, bytes(range(256)) * 8192))
    # a STRICT table (SQLite 3.37+), with an ANY column holding mixed values
    c.execute("CREATE TABLE strict_t (id INTEGER PRIMARY KEY, i INT, r REAL, t TEXT, b BLOB, a ANY) STRICT")
    c.executemany("INSERT INTO strict_t VALUES (?, ?, ?, ?, ?, ?)",
                  [(1, 1, 1.5, "x", b"\x01", 1), (2, 2, 2.5, "y", b"\x02", "text"), (3, None, None, None, None, 2.5)])
    # names that need quoting
    c.execute('CREATE TABLE "we""ird.t" ("c""ol" TEXT, "sp ace" INTEGER, "semi;colon" TEXT)')
    c.execute('INSERT INTO "we""ird.t" VALUES (?, ?, ?)', ('q"uote', 1, "x;y"))
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


# --- constraints ------------------------------------------------------------------------

CONSTRAINTS_SQL = r"""
PRAGMA foreign_keys = OFF;
CREATE TABLE parent (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    name TEXT,
    CHECK (length(code) <= 10),
    CHECK (typeof(id) = 'integer'),
    CHECK (code != 0)
);
CREATE TABLE child (
    id INTEGER PRIMARY KEY,
    parent_id INTEGER REFERENCES parent(id) ON DELETE CASCADE ON UPDATE SET NULL,
    parent_code TEXT,
    qty INTEGER NOT NULL DEFAULT 1 CHECK (qty > 0),
    price REAL DEFAULT 9.99,
    label TEXT DEFAULT 'none',
    quote TEXT DEFAULT 'it''s',
    created DATETIME DEFAULT CURRENT_TIMESTAMP,
    created_txt TEXT DEFAULT CURRENT_TIMESTAMP,
    created_date DATE DEFAULT CURRENT_DATE,
    created_time TEXT DEFAULT CURRENT_TIME,
    dt_now TEXT DEFAULT (datetime('now')),
    epoch INTEGER DEFAULT (strftime('%s','now')),
    neg INTEGER DEFAULT -5,
    big INTEGER DEFAULT 9007199254740993,
    flt REAL DEFAULT 1e-3,
    flag BOOLEAN DEFAULT 0,
    rnd INTEGER DEFAULT (random()),
    FOREIGN KEY (parent_code) REFERENCES parent(code) ON DELETE RESTRICT DEFERRABLE INITIALLY DEFERRED,
    CHECK (price >= 0)
);
CREATE TABLE comp (a INTEGER, b TEXT, c INTEGER, PRIMARY KEY (a, b), UNIQUE (b, c));
CREATE TABLE comp_ref (
    x INTEGER DEFAULT 1,
    y TEXT DEFAULT 'one',
    FOREIGN KEY (x, y) REFERENCES comp (a, b) ON DELETE SET DEFAULT ON UPDATE CASCADE
);
CREATE TABLE implicit_ref (id INTEGER PRIMARY KEY, p INTEGER REFERENCES PARENT);
CREATE TABLE orphan_child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent(id));
CREATE INDEX child_partial ON child(qty) WHERE qty > 10;
CREATE INDEX child_expr ON child(lower(label));
CREATE INDEX child_multi ON child(parent_id DESC, qty);
CREATE UNIQUE INDEX parent_name_nocase ON parent(name COLLATE NOCASE);
CREATE TABLE gen (
    a INTEGER,
    b INTEGER,
    s INTEGER GENERATED ALWAYS AS (a + b) STORED,
    v INTEGER AS (a * 2) VIRTUAL
);
CREATE VIEW "Bracketed" AS SELECT [id], [code] AS [Code Name] FROM [parent] WHERE [id] < 3;
CREATE TABLE kv (k TEXT PRIMARY KEY, v BLOB, n INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE tk (id INTEGER PRIMARY KEY, v TEXT);
CREATE TABLE tk_pkey (x INTEGER);
CREATE VIEW big_orders AS SELECT id, qty FROM child WHERE qty > 10;
CREATE VIEW lite_only AS SELECT id, printf('%05d', qty) AS padded, group_concat(label, '+') AS labels FROM child GROUP BY id;
CREATE VIEW with_rowid AS SELECT rowid AS r, name FROM parent;
CREATE TABLE nc (id INTEGER PRIMARY KEY, name TEXT);
CREATE UNIQUE INDEX nc_name ON nc(name COLLATE NOCASE);
CREATE TRIGGER child_touch AFTER UPDATE ON child BEGIN UPDATE child SET label = 'touched' WHERE id = new.id; END;
CREATE TABLE docs (id INTEGER PRIMARY KEY, title TEXT, body TEXT);
CREATE VIRTUAL TABLE docs_fts USING fts5(title, body, content='docs', content_rowid='id');
CREATE VIRTUAL TABLE notes USING fts5(subject, text);
CREATE VIRTUAL TABLE contentless USING fts5(a, content='');

INSERT INTO parent VALUES (1, 'abc-code', 'abc'), (2, 'def-code', 'Other'), (3, 'ghi', NULL);
INSERT INTO child (id, parent_id, parent_code, qty, price, label, created, created_txt, created_date, epoch, flag, rnd)
VALUES (1, 1, 'abc-code', 5, 1.5, 'Small', '2024-01-01 10:00:00', '2024-01-01 10:00:00', '2024-01-01', 1704103200, 1, 7),
       (2, 1, 'def-code', 20, 2.5, 'Large', '2024-01-02 11:00:00', 'x', '2024-01-02', 1704193200, 0, 8),
       (3, 3, NULL, 11, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
INSERT INTO comp VALUES (1, 'one', 10), (2, 'two', 20), (3, 'three', 30);
INSERT INTO comp_ref VALUES (2, 'two'), (3, 'three');
INSERT INTO implicit_ref VALUES (1, 2);
INSERT INTO orphan_child VALUES (1, 1), (2, 999);
INSERT INTO gen (a, b) VALUES (1, 2), (10, 20);
INSERT INTO kv VALUES ('alpha', X'00FF', 1), ('beta', NULL, 2);
INSERT INTO tk VALUES (1, 'a'), (2, 'b');
INSERT INTO tk_pkey VALUES (7);
INSERT INTO nc VALUES (1, 'Émile'), (2, 'émile'), (3, 'plain');
INSERT INTO docs VALUES (1, 'Quartz clocks', 'Timekeeping with a quartz crystal'),
                        (2, 'Zebra crossings', 'Stripes on the road'),
                        (3, 'Nothing', 'else here');
INSERT INTO docs_fts(docs_fts) VALUES ('rebuild');
INSERT INTO notes (rowid, subject, text) VALUES (10, 'meeting', 'discuss the quartz budget'), (20, 'lunch', 'zebra cafe');
INSERT INTO contentless (rowid, a) VALUES (1, 'gone');
"""


# SQLite's JSON functions in the schema: a generated column and an expression
# index (common in real applications)
JSONGEN_SQL = r"""
CREATE TABLE gen2 (
    id INTEGER PRIMARY KEY,
    doc TEXT,
    k TEXT AS (json_extract(doc, '$.k')) VIRTUAL,
    up TEXT AS (upper(doc)) STORED
);
CREATE INDEX gen2_doc_k ON gen2 (json_extract(doc, '$.k'));
INSERT INTO gen2 (id, doc) VALUES (1, '{"k": "v1"}'), (2, '{"k": 2}'), (3, NULL);
"""


def mk_jsongen(path):
    c = connect(path)
    c.executescript(JSONGEN_SQL)
    c.close()


def mk_constraints(path):
    c = connect(path)
    c.executescript(CONSTRAINTS_SQL)
    c.close()


# --- bad values -----------------------------------------------------------------------

# column -> (declared type, the bad value, a SQL expression making it, its kind)
BAD = [
    ("i_text", "INTEGER", "'abc'", "text in INTEGER"),
    ("i_frac", "INTEGER", "2.5", "fractional number in INTEGER"),
    ("t_blob", "TEXT", "X'DEADBEEF00'", "blob in TEXT"),
    ("t_utf8", "TEXT", "CAST(X'61FF62C328' AS TEXT)", "invalid UTF-8 in TEXT"),
    ("t_nul", "TEXT", "CAST(X'61006200' AS TEXT)", "NUL in TEXT"),
    ("r_text", "REAL", "'not a number'", "text in REAL"),
]
# good values of each column, for the other rows
GOOD = {"i_text": "7", "i_frac": "8", "t_blob": "'fine'", "t_utf8": "'caf\u00e9'", "t_nul": "'ok'", "r_text": "0.30000000000000004"}


def mk_bad(path, many=0):
    c = connect(path)
    cols = ", ".join("%s %s" % (n, d) for n, d, _, _ in BAD)
    c.execute("CREATE TABLE mixed (id INTEGER PRIMARY KEY, %s, note TEXT)" % cols)
    n = len(BAD)
    for row in range(1, n + 4):
        vals = []
        for k, (name, _, bad, _) in enumerate(BAD):
            vals.append(bad if k + 1 == row else GOOD[name].replace("\\u00e9", "\u00e9"))
        c.execute("INSERT INTO mixed VALUES (%d, %s, 'row %d')" % (row, ", ".join(vals), row))
    # a row with two bad cells: one rejected row
    c.execute("INSERT INTO mixed (id, i_text, i_frac, t_blob, t_utf8, t_nul, r_text, note) "
              "VALUES (%d, 'xyz', 8, X'00', 'ok', 'ok', 1.5, 'two bad cells')" % (n + 4))
    c.execute("CREATE TABLE fine (id INTEGER PRIMARY KEY, v TEXT)")
    c.executemany("INSERT INTO fine VALUES (?, ?)", [(1, "a"), (2, "b")])
    if many:
        c.execute("CREATE TABLE many (id INTEGER PRIMARY KEY, n INTEGER)")
        c.executemany("INSERT INTO many VALUES (?, ?)", [(i, "bad%02d" % i) for i in range(1, many + 1)])
    c.close()


# --- big (for the atomicity test) ------------------------------------------------------

def mk_big(path, n, wal=False):
    """n rows in all: 2/3 in big_a, 1/3 in big_b (FK to big_a), deterministic;
    a few indexes so that building them takes a while; tables a and b (for the
    consistent-snapshot check) with 1000 rows each."""
    import random
    rnd = random.Random(42)
    c = connect(path)
    c.execute("PRAGMA journal_mode = %s" % ("WAL" if wal else "DELETE"))
    c.execute("CREATE TABLE a (id INTEGER PRIMARY KEY, v TEXT)")
    c.execute("CREATE TABLE big_a (id INTEGER PRIMARY KEY, name TEXT NOT NULL, score REAL, qty INTEGER, "
              "price NUMERIC(12,2), created DATETIME, payload BLOB)")
    c.execute("CREATE TABLE big_b (id INTEGER PRIMARY KEY AUTOINCREMENT, a_id INTEGER NOT NULL REFERENCES big_a(id) ON DELETE CASCADE, "
              "label TEXT, amount REAL, UNIQUE (a_id, label))")
    c.execute("CREATE TABLE b (id INTEGER PRIMARY KEY, v TEXT)")
    na = n * 2 // 3
    nb = n - na
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet"]
    c.execute("BEGIN")
    c.executemany("INSERT INTO big_a VALUES (?, ?, ?, ?, ?, ?, ?)", (
        (i, "%s %s %d" % (rnd.choice(words), rnd.choice(words), i), rnd.random() * 1e6, rnd.randrange(-10 ** 9, 10 ** 9),
         "%d.%02d" % (rnd.randrange(0, 10 ** 8), rnd.randrange(100)),
         "2%03d-%02d-%02d %02d:%02d:%02d" % (rnd.randrange(0, 30), rnd.randrange(1, 13), rnd.randrange(1, 29),
                                              rnd.randrange(24), rnd.randrange(60), rnd.randrange(60)),
         rnd.randbytes(rnd.randrange(0, 24)) if i % 7 else None)
        for i in range(1, na + 1)))
    c.executemany("INSERT INTO big_b (a_id, label, amount) VALUES (?, ?, ?)", (
        (rnd.randrange(1, na + 1), "L%d-%s" % (i, rnd.choice(words)), rnd.random()) for i in range(nb)))
    c.executemany("INSERT INTO a VALUES (?, ?)", ((i, "a%d" % i) for i in range(1, 1001)))
    c.executemany("INSERT INTO b VALUES (?, ?)", ((i, "b%d" % i) for i in range(1, 1001)))
    c.execute("COMMIT")
    c.execute("CREATE INDEX big_a_name ON big_a(name)")
    c.execute("CREATE INDEX big_a_score ON big_a(score, qty)")
    c.execute("CREATE INDEX big_a_lower ON big_a(lower(name))")
    c.execute("CREATE INDEX big_a_created ON big_a(created) WHERE qty > 0")
    c.execute("CREATE INDEX big_b_label ON big_b(label)")
    c.execute("CREATE INDEX big_b_amount ON big_b(amount)")
    c.close()


# --- writer (keeps writing a and b, one transaction each time) -------------------------

def run_writer(path, ready_file, stop_file):
    import time
    c = sqlite3.connect(path, isolation_level=None, timeout=30)
    c.execute("PRAGMA busy_timeout = 30000")
    n = 0
    while not os.path.exists(stop_file):
        c.execute("BEGIN IMMEDIATE")
        c.execute("INSERT INTO a (v) VALUES ('w')")
        c.execute("INSERT INTO b (v) VALUES ('w')")
        c.execute("COMMIT")
        n += 1
        if n == 20:
            open(ready_file, "w").write("ready\n")
        time.sleep(0.002)
    c.close()
    print(n)


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
    elif kind == "bad":
        mk_bad(out, int(args[0]) if args else 0)
    elif kind == "big":
        mk_big(out, int(args[0]), wal=len(args) > 1 and args[1] == "wal")
    elif kind == "writer":
        run_writer(out, args[0], args[1])
    elif kind == "jsongen":
        mk_jsongen(out)
    elif kind == "constraints":
        mk_constraints(out)
    elif kind == "jsoncast":
        mk_jsoncast(out)
    else:
        sys.exit("unknown kind " + kind)


if __name__ == "__main__":
    main()
