#!/usr/bin/env python3
"""Independent checks of a SQLite -> PostgreSQL migration (stdlib only).

    mig_compare.py data   --sqlite FILE --url URL [--preserve-case]
                          [--table NAME]... [--missing TABLE=KEY,...]...
    mig_compare.py schema --sqlite FILE --url URL [--preserve-case] [--report FILE]

`data` reads every row of every user table of the SQLite file with Python's
sqlite3 module (each value with its storage class, text as raw bytes) and the
same table from PostgreSQL with psql (COPY ... TO STDOUT, decoded here), and
compares value by value according to the PostgreSQL column type:

  bigint/integer/smallint   the same integer
  double precision          bit for bit (float.hex), NaN/Infinity included
  numeric[(p,s)]            the same decimal number as SQLite's value, a REAL
                            taken as its shortest repr (Decimal(repr(x)))
  text/varchar              the same bytes (SQLite text as stored; an integer as
                            its decimal digits; a REAL as any text that parses
                            back to the same double)
  bytea                     the same bytes
  boolean                   0/1/true/false/t/f
  date/timestamp            equal as dates/naive datetimes (ISO text)
  timestamptz               equal instants (ISO text with a zone, or an
                            integer epoch in seconds)
  jsonb/json                equal JSON documents (numbers as decimals)
  uuid                      equal UUIDs

Rows are matched by the INTEGER PRIMARY KEY (rowid alias), else by the primary
key, else by all columns whose comparison is exact. Every SQLite row must be
there exactly once and PostgreSQL must hold no other row. --missing says that
the rows with these keys (rowid alias / single primary key values) are expected
to be absent (rejected rows).

`schema` compares the structure: primary keys (columns, order), NOT NULL,
foreign keys (columns, referenced table/columns, ON DELETE/ON UPDATE), UNIQUE
constraints and every explicit index (columns, uniqueness, partial, COLLATE
NOCASE as lower()). Something missing is accepted only when the migration
report (--report) lists it in "skipped".

Prints one line per problem ("PROBLEM: ...") and a summary; exit 1 if any
problem was found, 2 on a usage or connection error.
"""

import argparse
import datetime
import json
import os
import re
import sqlite3
import subprocess
import sys
import uuid
from decimal import Decimal, InvalidOperation

PSQL = os.environ.get("PSQL") or "/usr/bin/psql"
PG_ENV = {
    "PATH": "/usr/bin:/bin",
    "PGTZ": "UTC",
    "PGCLIENTENCODING": "UTF8",
    "PGOPTIONS": "-c extra_float_digits=1 -c DateStyle=ISO,YMD -c IntervalStyle=postgres "
                 "-c bytea_output=hex -c TimeZone=UTC",
}
FS, RS = "\x1f", "\x1e"

problems = []
notes = []


def problem(msg):
    problems.append(msg)


def qi(name):
    return '"' + name.replace('"', '""') + '"'


def sq(s):
    return "'" + s.replace("'", "''") + "'"


def psql_raw(url, sql):
    p = subprocess.run([PSQL, "-X", "-q", "-v", "ON_ERROR_STOP=1", url, "-c", sql],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=PG_ENV, timeout=120)
    if p.returncode != 0:
        raise RuntimeError("psql failed (%d) for %s: %s" % (p.returncode, sql[:200], p.stderr.decode(errors="replace")))
    return p.stdout


def pg_rows(url, sql):
    """Rows of a catalog query, as lists of str (None for NULL)."""
    p = subprocess.run([PSQL, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-F", FS, "-R", RS,
                        "-P", "null=\x01NULL\x01", url, "-c", sql],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=PG_ENV, timeout=120)
    if p.returncode != 0:
        raise RuntimeError("psql failed (%d) for %s: %s" % (p.returncode, sql[:200], p.stderr.decode(errors="replace")))
    out = p.stdout.decode("utf-8")
    if out.endswith("\n"):
        out = out[:-1]
    rows = []
    for rec in out.split(RS):
        if rec == "" or rec == "\n":
            continue
        rec = rec.lstrip("\n")
        rows.append([None if f == "\x01NULL\x01" else f for f in rec.split(FS)])
    return rows


# --- COPY text format -------------------------------------------------------------

_ESC = {ord("b"): 8, ord("f"): 12, ord("n"): 10, ord("r"): 13, ord("t"): 9, ord("v"): 11}


def copy_unescape(field):
    if field == b"\\N":
        return None
    if b"\\" not in field:
        return field
    out = bytearray()
    i, n = 0, len(field)
    while i < n:
        ch = field[i]
        if ch != 0x5C:
            out.append(ch)
            i += 1
            continue
        i += 1
        if i >= n:
            break
        c = field[i]
        if c in _ESC:
            out.append(_ESC[c])
            i += 1
        elif 0x30 <= c <= 0x37:
            j = i
            while j < n and j < i + 3 and 0x30 <= field[j] <= 0x37:
                j += 1
            out.append(int(field[i:j], 8) & 0xFF)
            i = j
        elif c == ord("x") and i + 1 < n and chr(field[i + 1]) in "0123456789abcdefABCDEF":
            j = i + 1
            while j < n and j < i + 3 and chr(field[j]) in "0123456789abcdefABCDEF":
                j += 1
            out.append(int(field[i + 1:j], 16))
            i = j
        else:
            out.append(c)
            i += 1
    return bytes(out)


def pg_copy(url, table, cols):
    sql = "COPY (SELECT %s FROM %s) TO STDOUT" % (", ".join(qi(c) for c in cols), qi(table))
    data = psql_raw(url, sql)
    rows = []
    if not data:
        return rows
    if not data.endswith(b"\n"):
        raise RuntimeError("COPY output of %s does not end with a newline" % table)
    for line in data[:-1].split(b"\n"):
        fields = line.split(b"\t")
        if len(fields) != len(cols):
            raise RuntimeError("COPY row of %s has %d fields, expected %d" % (table, len(fields), len(cols)))
        rows.append([copy_unescape(f) for f in fields])
    return rows


# --- canonical values --------------------------------------------------------------

class Bad:
    """A value that cannot be canonicalised for the type: never equal."""

    def __init__(self, why):
        self.why = why

    def __eq__(self, other):
        return False

    def __hash__(self):
        return id(self)

    def __repr__(self):
        return "<%s>" % self.why


AMBIG = "ambig"  # text column holding a SQLite REAL: compared leniently


def category(pgtype):
    t = pgtype.lower()
    if t in ("bigint", "integer", "smallint"):
        return "int"
    if t in ("double precision", "real"):
        return "float"
    if t.startswith("numeric"):
        return "numeric"
    if t == "boolean":
        return "bool"
    if t == "date":
        return "date"
    if t.startswith("timestamp") and "with time zone" in t:
        return "tstz"
    if t.startswith("timestamp"):
        return "ts"
    if t == "bytea":
        return "bytea"
    if t in ("jsonb", "json"):
        return "json"
    if t == "uuid":
        return "uuid"
    if t == "text" or t.startswith("character varying") or t.startswith("character(") or t == "character" \
            or t.startswith("varchar") or t == "name" or t.startswith("bpchar"):
        return "text"
    return "other:" + t


FLOAT_TEXT = re.compile(r"^[+-]?((\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?|inf|infinity|nan)$", re.I)


def fhex(x):
    if x != x:
        return "nan"
    return x.hex()


def jcanon(v):
    if isinstance(v, dict):
        return ("o",) + tuple(sorted((k, jcanon(x)) for k, x in v.items()))
    if isinstance(v, list):
        return ("a",) + tuple(jcanon(x) for x in v)
    if isinstance(v, Decimal):
        return ("n", v.normalize() if v != 0 else Decimal(0))
    if isinstance(v, bool) or v is None:
        return ("c", v)
    if isinstance(v, int):
        return ("n", Decimal(v).normalize() if v != 0 else Decimal(0))
    return ("s", v)


def jparse(b):
    return jcanon(json.loads(b, parse_float=Decimal, parse_int=Decimal,
                             parse_constant=lambda s: Bad("json constant " + s)))


def ts_parse(s):
    s = s.strip()
    if s.endswith("Z") or s.endswith("z"):
        s = s[:-1] + "+00:00"
    return datetime.datetime.fromisoformat(s)


def num_of_text(s):
    try:
        d = Decimal(s.strip())
    except InvalidOperation:
        return Bad("not a number")
    return d


def ndec(d):
    if isinstance(d, Bad):
        return d
    if d.is_nan():
        return "NaN"
    return d.normalize() if d != 0 else Decimal(0)


def src_canon(cat, st, v):
    """Canonical value of a SQLite value (storage class st) for a column of category cat."""
    if st == "null":
        return None
    try:
        if cat == "int":
            if st == "integer":
                return v
            if st == "real" and v == v and v not in (float("inf"), float("-inf")) and v.is_integer():
                return int(v)
            return Bad("%s in an integer column" % st)
        if cat == "float":
            if st == "real":
                return fhex(v)
            if st == "integer":
                f = float(v)
                if int(f) != v:
                    return Bad("integer %d not exact as a double" % v)
                return fhex(f)
            return Bad("%s in a double column" % st)
        if cat == "numeric":
            if st == "integer":
                return ndec(Decimal(v))
            if st == "real":
                return ndec(Decimal(repr(v)))
            if st == "text":
                return ndec(num_of_text(v.decode("utf-8")))
            return Bad("blob in a numeric column")
        if cat == "bool":
            if st == "integer" and v in (0, 1):
                return bool(v)
            if st == "text":
                s = v.decode("utf-8").strip().lower()
                if s in ("true", "t", "1"):
                    return True
                if s in ("false", "f", "0"):
                    return False
            return Bad("%s %r not a boolean" % (st, v))
        if cat == "date":
            if st == "text":
                return datetime.date.fromisoformat(v.decode("utf-8"))
            return Bad("%s in a date column" % st)
        if cat == "ts":
            if st == "text":
                d = ts_parse(v.decode("utf-8"))
                if d.tzinfo is not None:
                    return Bad("zoned text in a timestamp without time zone column")
                return d
            return Bad("%s in a timestamp column" % st)
        if cat == "tstz":
            if st == "text":
                d = ts_parse(v.decode("utf-8"))
                if d.tzinfo is None:
                    return Bad("text without a zone in a timestamptz column")
                return d
            if st == "integer":
                return datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc) + datetime.timedelta(seconds=v)
            return Bad("%s in a timestamptz column" % st)
        if cat == "bytea":
            if st == "blob":
                return bytes(v)
            if st == "text":
                return bytes(v)
            return Bad("%s in a bytea column" % st)
        if cat == "json":
            if st == "text":
                return jparse(v.decode("utf-8"))
            if st == "integer":
                return jcanon(v)
            if st == "real":
                return jcanon(Decimal(repr(v)))
            return Bad("blob in a json column")
        if cat == "uuid":
            if st == "text":
                return uuid.UUID(v.decode("utf-8"))
            if st == "blob" and len(v) == 16:
                return uuid.UUID(bytes=bytes(v))
            return Bad("%s in a uuid column" % st)
        if cat == "text":
            if st == "text":
                return bytes(v)
            if st == "integer":
                return str(v).encode()
            if st == "real":
                return AMBIG
            if st == "blob" and b"\0" not in v:
                bytes(v).decode("utf-8")  # UTF-8 text stored as a blob: that text
                return bytes(v)
            return Bad("blob in a text column")
    except (ValueError, UnicodeDecodeError, json.JSONDecodeError, InvalidOperation) as e:
        return Bad("%s: %s" % (type(e).__name__, e))
    return Bad("cannot compare type " + cat)


def pg_canon(cat, b):
    """Canonical value of PostgreSQL's text output b (bytes) for category cat."""
    if b is None:
        return None
    try:
        s = b.decode("utf-8")
        if cat == "int":
            return int(s)
        if cat == "float":
            return fhex(float(s))
        if cat == "numeric":
            return ndec(Decimal(s))
        if cat == "bool":
            return {"t": True, "f": False}[s]
        if cat == "date":
            return datetime.date.fromisoformat(s)
        if cat in ("ts", "tstz"):
            return ts_parse(s)
        if cat == "bytea":
            if not s.startswith("\\x"):
                return Bad("bytea not in hex")
            return bytes.fromhex(s[2:])
        if cat == "json":
            return jparse(s)
        if cat == "uuid":
            return uuid.UUID(s)
        if cat == "text":
            return bytes(b)
    except (ValueError, KeyError, json.JSONDecodeError, InvalidOperation) as e:
        return Bad("%s: %s" % (type(e).__name__, e))
    return Bad("cannot compare type " + cat)


def cell_equal(cat, st, v, sc, pb, pc):
    """sc/pc: canonical source / PostgreSQL values."""
    if sc is AMBIG:
        if pb is None:
            return False
        s = pb.decode("utf-8", "replace")
        if not FLOAT_TEXT.match(s.strip()):
            return False
        return fhex(float(s)) == fhex(v)
    if isinstance(sc, Bad) or isinstance(pc, Bad):
        return False
    if sc is None or pc is None:
        return sc is None and pc is None
    return sc == pc


def show(v, limit=60):
    r = repr(v)
    return r if len(r) <= limit else r[:limit] + "...(%d)" % len(v) if hasattr(v, "__len__") else r[:limit] + "..."


# --- SQLite side ------------------------------------------------------------------------

def dec(x):
    return x.decode("utf-8") if isinstance(x, (bytes, bytearray)) else x


def sqlite_open(path):
    c = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    c.text_factory = bytes
    return c


def user_tables(c):
    rows = c.execute("SELECT name, sql FROM sqlite_master WHERE type='table'").fetchall()
    names = [(dec(n), dec(s) or "") for n, s in rows]
    virtual = [n for n, s in names if s.upper().startswith("CREATE VIRTUAL")]
    shadow = set()
    for v in virtual:
        for suf in ("_data", "_idx", "_content", "_docsize", "_config"):
            shadow.add(v + suf)
    return [n for n, s in names if not n.startswith("sqlite_") and n not in virtual and n not in shadow
            and not s.upper().startswith("CREATE VIRTUAL")], virtual


def table_cols(c, t):
    cols = []
    for cid, name, typ, notnull, dflt, pk, hidden in c.execute("PRAGMA table_xinfo(%s)" % qi(t)):
        if hidden == 1:  # hidden column of a virtual table
            continue
        cols.append({"name": dec(name), "type": dec(typ) or "", "notnull": notnull, "pk": pk,
                     "generated": hidden in (2, 3)})
    return cols


def without_rowid(c, t):
    sql = dec(c.execute("SELECT sql FROM sqlite_master WHERE type='table' AND name=?", (t,)).fetchone()[0]) or ""
    return bool(re.search(r"\)\s*WITHOUT\s+ROWID\s*;?\s*$", sql, re.I))


def mapped(name, preserve):
    """PostgreSQL's folding of an unquoted name: ASCII letters only."""
    return name if preserve else "".join(ch.lower() if "A" <= ch <= "Z" else ch for ch in name)


# --- data -------------------------------------------------------------------------------

def pg_columns(url, table):
    rows = pg_rows(url, "SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attgenerated "
                        "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
                        "WHERE n.nspname = 'public' AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum" % sq(table))
    return [(r[0], r[1], r[2]) for r in rows]


def pg_tables(url):
    return [r[0] for r in pg_rows(url, "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                                       "WHERE n.nspname = 'public' AND c.relkind IN ('r','p') ORDER BY 1")]


def compare_table(c, url, t, pt, preserve, missing_keys):
    scols = table_cols(c, t)
    pcols = {n: (typ, gen) for n, typ, gen in pg_columns(url, pt)}
    if not pcols:
        problem("table %s: no table %s in PostgreSQL" % (t, pt))
        return 0
    use = []
    for col in scols:
        pn = mapped(col["name"], preserve)
        if pn not in pcols:
            problem("table %s: column %s (%s) has no column %s in PostgreSQL (has: %s)"
                    % (t, col["name"], col["type"], pn, ", ".join(pcols)))
            continue
        typ = pcols[pn][0]
        cat = category(typ)
        if cat.startswith("other:"):
            problem("table %s: column %s became %s, which this checker does not know" % (t, pn, typ))
            continue
        if typ == "real":
            problem("table %s: column %s is real (float4): REAL must become double precision" % (t, pn))
        use.append((col, pn, typ, cat))
    extra = [n for n in pcols if n not in [u[1] for u in use] and n not in [mapped(x["name"], preserve) for x in scols]]
    if extra:
        notes.append("table %s: PostgreSQL columns without a SQLite column (not compared): %s" % (pt, ", ".join(extra)))
    if not use:
        return 0

    # SQLite rows: storage class and value of each column
    sel = ", ".join("typeof(%s), %s" % (qi(col["name"]), qi(col["name"])) for col, _, _, _ in use)
    srows = []
    for r in c.execute("SELECT %s FROM %s" % (sel, qi(t))):
        srows.append([(r[2 * i].decode(), r[2 * i + 1]) for i in range(len(use))])
    prows = pg_copy(url, pt, [u[1] for u in use])

    # canonical values
    cats = [u[3] for u in use]
    scan = [[src_canon(cats[i], st, v) for i, (st, v) in enumerate(row)] for row in srows]
    pcan = [[pg_canon(cats[i], b) for i, b in enumerate(row)] for row in prows]

    # the matching key
    pkcols = sorted([(col["pk"], i) for i, (col, _, _, _) in enumerate(use) if col["pk"]])
    keyidx = None
    if pkcols:
        idx = [i for _, i in pkcols]
        keys = [tuple(row[i] for i in idx) for row in scan]
        if all(all(k is not None and not isinstance(k, Bad) and k is not AMBIG for k in key) for key in keys) \
                and len(set(keys)) == len(keys):
            keyidx = idx
    if keyidx is None:
        # every column compared exactly
        keyidx = [i for i in range(len(use)) if not any(row[i] is AMBIG for row in scan)]

    def key_of(row):
        return tuple(row[i] if not isinstance(row[i], Bad) else ("bad", row[i].why) for i in keyidx)

    missing = set()
    for k in missing_keys:
        missing.add(k)

    groups = {}
    for n, row in enumerate(scan):
        groups.setdefault(key_of(row), [[], []])[0].append(n)
    for n, row in enumerate(pcan):
        groups.setdefault(key_of(row), [[], []])[1].append(n)

    nbad = 0
    cells = 0
    for key, (sl, pl) in groups.items():
        keyshow = ", ".join("%s=%s" % (use[i][1], show(k)) for i, k in zip(keyidx, key))
        if len(sl) == 1 and len(keyidx) == 1 and key[0] in missing:
            if pl:
                problem("table %s: row %s should have been left out (rejected) but is in PostgreSQL" % (t, keyshow))
                nbad += 1
            continue
        # pair them: greedily, with the full comparison
        pl = list(pl)
        for sn in sl:
            hit = None
            for pn_ in pl:
                if all(cell_equal(cats[i], srows[sn][i][0], srows[sn][i][1], scan[sn][i], prows[pn_][i], pcan[pn_][i])
                       for i in range(len(use))):
                    hit = pn_
                    break
            if hit is None and len(pl) == 1 and len(sl) == 1:
                # the same key: report the differing cells
                pn_ = pl[0]
                for i in range(len(use)):
                    if not cell_equal(cats[i], srows[sn][i][0], srows[sn][i][1], scan[sn][i], prows[pn_][i], pcan[pn_][i]):
                        why = ""
                        if isinstance(scan[sn][i], Bad):
                            why = " (%s)" % scan[sn][i].why
                        elif isinstance(pcan[pn_][i], Bad):
                            why = " (PostgreSQL side: %s)" % pcan[pn_][i].why
                        problem("table %s, row %s, column %s (%s): SQLite %s %s, PostgreSQL %s%s"
                                % (t, keyshow, use[i][1], use[i][2], srows[sn][i][0], show(srows[sn][i][1]),
                                   show(prows[pn_][i]), why))
                nbad += 1
                pl.remove(pn_)
                continue
            if hit is None:
                problem("table %s: SQLite row %s not found in PostgreSQL (values %s)"
                        % (t, keyshow, show([v for _, v in srows[sn]], 200)))
                nbad += 1
                continue
            pl.remove(hit)
            cells += len(use)
        for pn_ in pl:
            problem("table %s: PostgreSQL row %s matches no SQLite row (values %s)"
                    % (t, keyshow, show(prows[pn_], 200)))
            nbad += 1
    nexp = len(srows) - len([1 for row in scan if len(keyidx) == 1 and key_of(row)[0] in missing])
    if len(prows) != nexp:
        problem("table %s: %d rows in PostgreSQL, expected %d" % (t, len(prows), nexp))
    print("table %s -> %s: %d SQLite rows, %d PostgreSQL rows, %d cells equal, %d row problems (key: %s)"
          % (t, pt, len(srows), len(prows), cells, nbad, ", ".join(use[i][1] for i in keyidx) or "-"))
    return cells


def cmd_data(a):
    c = sqlite_open(a.sqlite)
    tables, virtual = user_tables(c)
    if a.table:
        tables = [t for t in tables if t in a.table or mapped(t, False) in [mapped(x, False) for x in a.table]]
    missing = {}
    for m in a.missing or []:
        t, _, keys = m.partition("=")
        ks = []
        for k in keys.split(","):
            k = k.strip()
            if not k:
                continue
            ks.append(int(k) if re.fullmatch(r"-?\d+", k) else k.encode())
        missing[t] = ks
    have = set(pg_tables(a.url))
    total = 0
    for t in tables:
        pt = mapped(t, a.preserve_case)
        if pt not in have:
            problem("table %s: no table %s in PostgreSQL" % (t, pt))
            continue
        total += compare_table(c, a.url, t, pt, a.preserve_case, missing.get(t, []))
    print("compared %d tables, %d cells" % (len(tables), total))


# --- schema -------------------------------------------------------------------------

ACTIONS = {"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}


def cmd_schema(a):
    c = sqlite_open(a.sqlite)
    c.text_factory = str
    report = None
    if a.report:
        report = json.load(open(a.report))
    skipped = (report or {}).get("skipped", []) or []

    def skipped_for(kind_words, table):
        out = []
        for s in skipped:
            k = (s.get("kind") or "").lower()
            n = (s.get("name") or "")
            if any(w in k for w in kind_words) and (n.lower() == table.lower() or n.lower().startswith(table.lower() + ".")
                                                    or table.lower() in n.lower()):
                out.append(s)
        return out

    tables, virtual = user_tables(c)
    pgt = set(pg_tables(a.url))
    for t in tables:
        pt = mapped(t, a.preserve_case)
        if pt not in pgt:
            problem("table %s: missing in PostgreSQL" % t)
            continue
        cols = table_cols(c, t)
        # primary key
        pk = [col["name"] for col in sorted([x for x in cols if x["pk"]], key=lambda x: x["pk"])]
        ppk = pg_rows(a.url, "SELECT a.attname FROM pg_constraint k, unnest(k.conkey) WITH ORDINALITY u(attnum, ord) "
                             "JOIN pg_attribute a ON a.attnum = u.attnum "
                             "WHERE k.contype = 'p' AND k.conrelid = %s::regclass AND a.attrelid = k.conrelid ORDER BY u.ord"
                      % sq("public." + qi(pt)))
        ppk = [r[0] for r in ppk]
        want = [mapped(x, a.preserve_case) for x in pk]
        if want != ppk:
            sk = skipped_for(["primary"], t)
            # a key holding NULLs (SQLite allows them): UNIQUE on the same
            # columns, with a warning naming the table
            puq = [r[0].split(",") for r in pg_rows(a.url, "SELECT (SELECT string_agg(a.attname, ',' ORDER BY u.ord) FROM unnest(k.conkey) WITH ORDINALITY u(n, ord) "
                                                          "JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.n) "
                                                          "FROM pg_constraint k WHERE k.contype = 'u' AND k.conrelid = %s::regclass" % sq("public." + qi(pt)))]
            warned = [w for w in ((report or {}).get("warnings") or []) if w.startswith("table %s: its PRIMARY KEY" % t)]
            if not ppk and want in puq and warned:
                notes.append("table %s: primary key %s holds NULLs: UNIQUE in PostgreSQL; the report says: %s" % (t, pk, warned[0]))
            elif sk and not ppk:
                notes.append("table %s: primary key %s not carried over; the report says: %s" % (t, pk, sk[0].get("reason")))
            else:
                problem("table %s: primary key %s in SQLite, %s in PostgreSQL" % (t, want, ppk))
        # NOT NULL
        nn = {r[0]: r[1] == "t" for r in pg_rows(a.url, "SELECT a.attname, a.attnotnull FROM pg_attribute a WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped"
                                                 % sq("public." + qi(pt)))}
        for col in cols:
            pn = mapped(col["name"], a.preserve_case)
            if pn not in nn:
                continue
            want_nn = bool(col["notnull"]) or (bool(col["pk"]) and pn in ppk)
            if nn[pn] != want_nn:
                problem("table %s: column %s NOT NULL is %s in SQLite (pk: %s), %s in PostgreSQL"
                        % (t, col["name"], bool(col["notnull"]), bool(col["pk"]), nn[pn]))
        # foreign keys
        fks = {}
        for fid, seq, rt, fr, to, onu, ond, match in c.execute("PRAGMA foreign_key_list(%s)" % qi(t)):
            fks.setdefault(fid, {"table": rt, "from": [], "to": [], "onu": onu, "ond": ond})
            fks[fid]["from"].append(fr)
            fks[fid]["to"].append(to)
        pfk = pg_rows(a.url, "SELECT k.conname, k.confrelid::regclass::text, "
                             "(SELECT string_agg(a.attname, ',' ORDER BY u.ord) FROM unnest(k.conkey) WITH ORDINALITY u(n, ord) JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.n), "
                             "(SELECT string_agg(a.attname, ',' ORDER BY u.ord) FROM unnest(k.confkey) WITH ORDINALITY u(n, ord) JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.n), "
                             "k.confupdtype, k.confdeltype, k.convalidated "
                             "FROM pg_constraint k WHERE k.contype = 'f' AND k.conrelid = %s::regclass" % sq("public." + qi(pt)))
        used = set()
        for fid, fk in sorted(fks.items()):
            rt = mapped(fk["table"], a.preserve_case)
            to = fk["to"]
            if any(x is None for x in to):
                rcols = table_cols(c, fk["table"])
                to = [x["name"] for x in sorted([x for x in rcols if x["pk"]], key=lambda x: x["pk"])]
            wf = ",".join(mapped(x, a.preserve_case) for x in fk["from"])
            wt = ",".join(mapped(x, a.preserve_case) for x in to)
            hit = None
            for r in pfk:
                if r[0] in used:
                    continue
                if r[2] == wf and r[1].strip('"').split(".")[-1].strip('"') == rt and r[3] == wt:
                    hit = r
                    break
            desc = "%s(%s) -> %s(%s)" % (t, wf, rt, wt)
            if hit is None:
                sk = skipped_for(["foreign"], t)
                if sk:
                    notes.append("foreign key %s not carried over; the report says: %s" % (desc, sk[0].get("reason")))
                else:
                    problem("foreign key %s missing in PostgreSQL (has: %s)" % (desc, pfk))
                continue
            used.add(hit[0])
            if ACTIONS[hit[4]] != fk["onu"].upper():
                problem("foreign key %s: ON UPDATE %s in SQLite, %s in PostgreSQL" % (desc, fk["onu"], ACTIONS[hit[4]]))
            if ACTIONS[hit[5]] != fk["ond"].upper():
                problem("foreign key %s: ON DELETE %s in SQLite, %s in PostgreSQL" % (desc, fk["ond"], ACTIONS[hit[5]]))
        for r in pfk:
            if r[0] not in used:
                problem("table %s: PostgreSQL has a foreign key %s (%s -> %s(%s)) that SQLite does not" % (t, r[0], r[2], r[1], r[3]))
        # indexes and unique constraints
        pidx = pg_rows(a.url, "SELECT i.relname, x.indisunique, x.indisprimary, x.indpred IS NOT NULL, pg_get_indexdef(x.indexrelid), "
                              "(SELECT string_agg(coalesce(a.attname, '<expr>'), ',' ORDER BY u.ord) FROM unnest(x.indkey::int2[]) WITH ORDINALITY u(n, ord) "
                              " LEFT JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = u.n AND u.n > 0) "
                              "FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = %s::regclass" % sq("public." + qi(pt)))
        for seq, iname, unique, origin, partial in c.execute("PRAGMA index_list(%s)" % qi(t)).fetchall():
            if origin == "pk":
                continue
            info = c.execute("PRAGMA index_xinfo(%s)" % qi(iname)).fetchall()
            keycols = [r for r in info if r[5]]
            names = []
            lower = False
            expr = False
            for r in keycols:
                if r[1] == -2:
                    expr = True
                    names.append("<expr>")
                else:
                    names.append(mapped(r[2], a.preserve_case))
                    if (r[4] or "").upper() == "NOCASE":
                        lower = True
            want = ",".join(names)
            hits = []
            for r in pidx:
                if r[2] == "t":
                    continue
                if (r[1] == "t") != bool(unique) or (r[3] == "t") != bool(partial):
                    continue
                if lower or expr:
                    if r[0] != mapped(iname, a.preserve_case) and not (lower and "lower(" in r[4]):
                        continue
                    if lower and "lower(" not in r[4]:
                        continue
                elif r[5] != want:
                    continue
                hits.append(r)
            desc = "%s index %s on %s(%s)%s%s" % ("unique" if unique else "plain", iname, t, want,
                                                   " partial" if partial else "", " nocase" if lower else "")
            if origin == "u" and not hits:
                # a UNIQUE constraint: a unique index or constraint on the columns
                pass
            if not hits:
                sk = skipped_for(["index", "unique"], t) + [s for s in skipped if (s.get("name") or "").lower() == iname.lower()]
                if sk:
                    notes.append("%s not carried over; the report says: %s" % (desc, sk[0].get("reason")))
                else:
                    problem("%s missing in PostgreSQL (has: %s)" % (desc, "; ".join(r[4] for r in pidx)))
            else:
                print("ok: %s -> %s" % (desc, hits[0][4]))
    print("schema compared for %d tables" % len(tables))
    if report is not None:
        check_report(a, report, tables)


def norm_type(t):
    """A type name in PostgreSQL's format_type spelling."""
    t = re.sub(r"\s+", " ", (t or "").strip().lower())
    t = re.sub(r"\s*\(\s*", "(", t)
    t = re.sub(r"\s*,\s*", ",", t)
    t = re.sub(r"\s*\)", ")", t)
    m = re.match(r"^([a-z ]+?)(\(.*\))?$", t)
    if not m:
        return t
    base, mod = m.group(1), m.group(2) or ""
    alias = {"varchar": "character varying", "char": "character", "bpchar": "character",
             "int8": "bigint", "int4": "integer", "int": "integer", "int2": "smallint",
             "float8": "double precision", "float4": "real", "bool": "boolean",
             "timestamp": "timestamp without time zone", "timestamptz": "timestamp with time zone",
             "time": "time without time zone", "timetz": "time with time zone", "decimal": "numeric"}
    base = alias.get(base, base)
    if base.startswith("timestamp") and mod:
        base = base.replace("timestamp", "timestamp" + mod, 1)
        mod = ""
    return base + mod


def check_report(a, report, tables):
    """The report tells the truth: its tables, rows and column types are the
    ones in PostgreSQL; every skipped entry is named and has a reason."""
    rt = {t.get("source"): t for t in report.get("tables", [])}
    for t in tables:
        if t not in rt:
            problem("report: table %s is not in the report's tables" % t)
            continue
        e = rt[t]
        pt = e.get("name")
        if pt != mapped(t, a.preserve_case):
            problem("report: table %s is named %r, expected %r" % (t, pt, mapped(t, a.preserve_case)))
            continue
        n = int(pg_rows(a.url, "SELECT count(*) FROM %s" % qi(pt))[0][0])
        if e.get("rows") != n:
            problem("report: table %s rows %r, PostgreSQL holds %d" % (t, e.get("rows"), n))
        types = {n_: typ for n_, typ, _ in pg_columns(a.url, pt)}
        for col in e.get("columns", []):
            got = types.get(col.get("name"))
            if got is None:
                problem("report: column %s.%s is not in PostgreSQL" % (pt, col.get("name")))
            elif got != norm_type(col.get("type")):
                problem("report: column %s.%s has type %r in the report, %r in PostgreSQL" % (pt, col.get("name"), col.get("type"), got))
    for s in report.get("skipped", []) or []:
        if not (s.get("kind") and s.get("name") and s.get("reason")):
            problem("report: skipped entry without kind, name or reason: %r" % (s,))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["data", "schema"])
    ap.add_argument("--sqlite", required=True)
    ap.add_argument("--url", required=True)
    ap.add_argument("--preserve-case", action="store_true")
    ap.add_argument("--table", action="append")
    ap.add_argument("--missing", action="append")
    ap.add_argument("--report")
    a = ap.parse_args()
    try:
        if a.mode == "data":
            cmd_data(a)
        else:
            cmd_schema(a)
    except (RuntimeError, sqlite3.Error, subprocess.TimeoutExpired) as e:
        print("ERROR: %s" % e)
        sys.exit(2)
    for n in notes:
        print("note: " + n)
    for p in problems[:60]:
        print("PROBLEM: " + p)
    if len(problems) > 60:
        print("PROBLEM: ... and %d more" % (len(problems) - 60))
    print("%d problem(s)" % len(problems))
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
