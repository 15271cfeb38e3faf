#!/usr/bin/env python3
"""Differential test of SQLite's porter tokenizer against the search of the
migrated tables in PostgreSQL (stdlib only).

    mig_fts_porter.py mkdb FILE [ROWS]
        a SQLite file with one full-text table per way of asking for the
        porter tokenizer (FTS3, FTS4, FTS5, FTS5 'porter unicode61', FTS5
        'porter ascii'), each holding DOCS (rowid/docid = index + 1); with
        ROWS, also a plain table `big` of ROWS rows (a staged migration)
    mig_fts_porter.py compare FILE URL [CONFIG]
        for every table and every query of QUERIES: the rowids SQLite's MATCH
        finds (the query's words, each a quoted string: SQLite's implicit
        AND) against those PostgreSQL finds with
        fts @@ plainto_tsquery(<the configuration of the table's generated
        column>, query) (plainto_tsquery ANDs the words, as SQLite does);
        with CONFIG, that configuration (the tables' fts columns are plain
        ones, filled by the migration into the app's own schema).
        Prints one line per comparison, "ok<TAB>what" or "nok<TAB>what".
        A pair in KNOWN is not compared for equality: it must still differ
        (else KNOWN and the README's list are out of date).
"""

import os
import re
import sqlite3
import subprocess
import sys

PSQL = os.environ.get("PSQL") or "/usr/bin/psql"
PG_ENV = {"PATH": "/usr/bin:/bin", "PGCLIENTENCODING": "UTF8"}

# table -> the CREATE VIRTUAL TABLE arguments
TABLES = {
    "p3": "fts3(body, tokenize porter)",
    "p4": "fts4(body, tokenize=porter)",
    "p5": "fts5(body, tokenize='porter')",
    "p5u": "fts5(body, tokenize='porter unicode61')",
    "p5a": "fts5(body, tokenize='porter ascii')",
}

DOCS = [
    "The quick brown fox jumps over a lazy dog",                        # 1
    "She generously donated to the running club",                       # 2
    "Connection pooling: connected clients and connections",            # 3
    "Happiness is a relational database",                               # 4
    "RELATIONAL Databases and SQL, Mixed CASE Words",                   # 5
    "Route 66 opened in 1926; the 2024 trip was 3.14 times longer",     # 6
    "A well-known state-of-the-art design",                             # 7
    "well known facts",                                                 # 8
    "Un café noir et une idée naïve",                                   # 9
    "CAFÉ NAÏVE résumés",                                               # 10
    "as is",                                                            # 11
    "covid-19 reached user@example.com",                                # 12
    "generous generosity general",                                      # 13
    "runs runner ran",                                                  # 14
    "Relating to relations, they related",                              # 15
]

QUERIES = [
    # stop words: SQLite keeps them, PostgreSQL's english drops them
    "the", "a", "and", "to", "is",
    # inflections: the original Porter algorithm (generously -> gener)
    "generously", "generous", "generosity", "general", "running", "run", "runs",
    "connection", "connected", "connect", "connections", "happiness", "happy",
    "relational", "relate", "relations", "database", "databases",
    # mixed case
    "DATABASE", "Relational", "CASE", "sql",
    # digits
    "66", "2024", "1926", "3.14",
    # hyphenated words
    "well", "known", "well-known", "state-of-the-art", "art", "covid-19", "covid",
    # non-ASCII words
    "café", "naïve", "idée", "résumés", "CAFÉ",
    # several words: all of them (SQLite's implicit AND)
    "the running", "generously running club", "connected connections",
    "relational database", "happy database", "well known", "the lazy dog",
    "quick fox", "café noir", "Route 66", "a lazy", "the 2024 trip",
]

# (tables, query) -> why PostgreSQL cannot find what SQLite finds: not
# compared for equality, but each must still differ (else this list and the
# README's are out of date). Each is in the README's list of known
# differences. A query here that is not in QUERIES is compared normally on
# the other tables.
KNOWN = {
    ("p3 p4 p5a", "CAFÉ"): "FTS3/4's porter and FTS5's ascii tokenizer fold only ASCII letters "
    "(CAFÉ stays cafÉ); PostgreSQL folds every letter",
    ("p3 p4 p5a", "café"): "FTS3/4's porter and FTS5's ascii tokenizer fold only ASCII letters "
    "(they miss CAFÉ); PostgreSQL folds every letter",
    ("p3 p4 p5a", "naïve"): "FTS3/4's porter and FTS5's ascii tokenizer fold only ASCII letters "
    "(they miss NAÏVE); PostgreSQL folds every letter",
    ("p3 p4", "résumé"): "FTS3/4's porter does not stem a word with a non-ASCII letter "
    "(résumés); PostgreSQL's porter dictionary does",
    ("p5 p5u", "cafe"): "FTS5's unicode61 (its default) removes diacritics, so cafe finds café; "
    "PostgreSQL keeps them",
    ("p5 p5u", "naive"): "FTS5's unicode61 (its default) removes diacritics, so naive finds "
    "naïve; PostgreSQL keeps them",
    ("p3 p4 p5 p5u p5a", "a"): "SQLite does not stem a word of one or two letters; PostgreSQL's "
    "porter dictionary stems as to a",
    ("p3 p4 p5 p5u p5a", "14"): "PostgreSQL reads 3.14 as one number; SQLite as the words 3 and "
    "14",
    ("p3 p4 p5 p5u p5a", "19"): "PostgreSQL reads covid-19 as covid and the number -19; SQLite "
    "as covid and 19",
    ("p3 p4 p5 p5u p5a", "example"): "PostgreSQL reads user@example.com as one e-mail address; "
    "SQLite as the words user, example and com",
}


def mkdb(path, rows):
    for suf in ("", "-wal", "-shm", "-journal"):
        try:
            os.unlink(path + suf)
        except FileNotFoundError:
            pass
    c = sqlite3.connect(path, isolation_level=None)
    c.execute("BEGIN")
    for t, args in TABLES.items():
        c.execute("CREATE VIRTUAL TABLE %s USING %s" % (t, args))
        key = "docid" if args.startswith(("fts3", "fts4")) else "rowid"
        c.executemany("INSERT INTO %s (%s, body) VALUES (?, ?)" % (t, key),
                      list(enumerate(DOCS, 1)))
    if rows:
        c.execute("CREATE TABLE big (id INTEGER PRIMARY KEY, name TEXT)")
        c.executemany("INSERT INTO big VALUES (?, ?)", ((i, "name %d" % i) for i in range(1, rows + 1)))
    c.execute("COMMIT")
    c.close()


def sqlite_ids(c, table, query):
    match = " ".join('"%s"' % w.replace('"', '""') for w in query.split())
    key = "docid" if TABLES[table].startswith(("fts3", "fts4")) else "rowid"
    rows = c.execute("SELECT %s FROM %s WHERE %s MATCH ? ORDER BY 1" % (key, table, table), (match,))
    return ",".join(str(r[0]) for r in rows)


def lit(s):
    return "'" + s.replace("'", "''") + "'"


def psql(url, sql):
    out = subprocess.run([PSQL, "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", url, "-f", "-"],
                         input=sql, capture_output=True, text=True, env=PG_ENV, timeout=120)
    if out.returncode != 0:
        sys.exit("psql failed: %s" % out.stderr.strip())
    return out.stdout


def compare(path, url, config=None):
    c = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    # the configuration of each table's generated column, as PostgreSQL has it
    cfgs = {}
    for line in psql(url, "SELECT c.relname, pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d "
                          "JOIN pg_class c ON c.oid = d.adrelid JOIN pg_attribute a ON "
                          "a.attrelid = d.adrelid AND a.attnum = d.adnum WHERE a.attname = 'fts';"
                     ).splitlines():
        name, expr = line.split("|", 1)
        m = re.search(r"to_tsvector\('([^']+)'::regconfig", expr)
        cfgs[name] = m.group(1) if m else None
    if config:
        cfgs = {t: config for t in TABLES}
    pairs = []
    for t in TABLES:
        if not cfgs.get(t):
            print("nok\t%s: no generated column fts with to_tsvector(<configuration>, ...)" % t)
            continue
        key = "docid" if TABLES[t].startswith(("fts3", "fts4")) else "rowid"
        for q in QUERIES + sorted({q for (_, q) in KNOWN if q not in QUERIES}):
            pairs.append((t, q, "SELECT %s, %s, coalesce(string_agg(%s::text, ',' ORDER BY %s), '') "
                                "FROM %s WHERE fts @@ plainto_tsquery(%s, %s);"
                          % (lit(t), lit(q), key, key, t, lit(cfgs[t]), lit(q))))
    got = {}
    for line in psql(url, "\n".join(p[2] for p in pairs)).splitlines():
        t, q, ids = line.split("|")
        got[(t, q)] = ids
    known = {(t, q): why for (ts, q), why in KNOWN.items() for t in ts.split()}
    found = 0
    for t, q, _ in pairs:
        want, pg = sqlite_ids(c, t, q), got.get((t, q), "<no answer>")
        found += want != ""
        if (t, q) in known:
            print("%s\t%s: '%s': SQLite finds %s, PostgreSQL %s (known difference: %s)"
                  % ("ok" if want != pg else "nok", t, q, want or "nothing", pg or "nothing",
                     known[(t, q)] + ("" if want != pg else "; but they agree now: update "
                                      "KNOWN and the README")))
        else:
            print("%s\t%s: '%s': PostgreSQL finds %s, SQLite's MATCH %s"
                  % ("ok" if want == pg else "nok", t, q, pg or "nothing", want or "nothing"))
    # a comparison of empty answers proves little: most queries find rows
    print("%s\t%d of %d comparisons find rows in SQLite" % ("ok" if found * 10 >= len(pairs) * 8 else "nok", found, len(pairs)))


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "mkdb":
        mkdb(sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 0)
    elif len(sys.argv) in (4, 5) and sys.argv[1] == "compare":
        compare(sys.argv[2], sys.argv[3], sys.argv[4] if len(sys.argv) == 5 else None)
    else:
        sys.exit(__doc__)
