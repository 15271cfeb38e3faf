#!/usr/bin/env bash
# pgboot migrate sends the rows of a table whose every column has an exact
# binary form (bigint, double precision, boolean, text, varchar, bytea, jsonb,
# timestamp, timestamptz) in PostgreSQL's binary COPY format, and every value
# arrives exactly as the text format would give it (issue 10, speed). The
# report's COPY bytes tell the format: the binary size of the rows, computed
# here from the values, is not their text size. A table with a column of
# another type (numeric) goes as text, in the same run; a table of more rows
# than the split threshold goes over two connections, each its own binary
# stream.
set -euo pipefail
. "$(dirname "$0")/mig_lib.sh"

ml_setup
ml_server

# Edge values of every binary kind. ts: naive ISO texts of every shape (date
# only, 'T', no seconds, fractions); tz: with offsets, Z and zeros past
# microseconds (timestamptz).
BIN_DB=$U/src/bin.db
mkdb "$BIN_DB" '
c.execute("BEGIN")
c.execute("""CREATE TABLE b (id INTEGER PRIMARY KEY, n INTEGER, r REAL, ok BOOLEAN, t TEXT,
             v VARCHAR(12), j JSON, bl BLOB, ts DATETIME, tz TIMESTAMP)""")
c.executemany("INSERT INTO b VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [
    (1, 9223372036854775807, 0.1, 1, "tab\there\nnew\\\\back\rcr", "short", "{\"a\": [1, 2.5, null]}",
     bytes([0, 92, 10, 9, 255]), "2024-03-26 13:17:21.510011", "2024-03-26T13:17:21+05:30"),
    (2, -9223372036854775808, -0.0, 0, "", "émoji 🎉", "[]", b"", "2024-02-29", "2024-03-26 13:17:21.000000000Z"),
    (3, 0, 1e308, 1, 42, 7, "{\"k\": \"v\\\\n\"}", b"\\x41", "1999-12-31T23:59", "1970-01-01 00:00:00-0800"),
    (4, -1, 5e-324, 0, 1.5, "", "[3]", None, "0001-01-01 00:00:00", "9999-12-31 23:59:59.999999+00:00"),
    (5, None, float("inf"), None, None, None, None, None, None, None),
    (6, 2 ** 53 + 1, float("-inf"), 1, "x" * 3000, "twelve chars", "{\"s\": 1}", bytes(range(256)), "2000-01-01 00:00:00.5", "2000-01-01T00:00:00+00")])
c.execute("CREATE TABLE price (id INTEGER PRIMARY KEY, amount NUMERIC(10,2), at DATETIME)")
c.executemany("INSERT INTO price VALUES (?, ?, ?)", [(1, 1.25, "2024-01-01 10:00:00"), (2, 3, None)])
c.execute("CREATE TABLE big (id INTEGER PRIMARY KEY, k INTEGER, s TEXT, at DATETIME)")
c.executemany("INSERT INTO big VALUES (?, ?, ?, ?)",
              ((i, i * 7919 % 1000003, "row %d\t%d" % (i, i % 17), "2024-%02d-%02d %02d:%02d:%02d.%03d" % (1 + i % 12, 1 + i % 28, i % 24, i % 60, (i * 7) % 60, i % 1000))
               for i in range(1, 120001)))
c.execute("COMMIT")'

# binary_size DB TABLE: the bytes of TABLE's rows in binary COPY format (the
# report's bytes: the rows, without each stream's header and trailer),
# computed from the SQLite values as the columns' types hold them.
binary_size() {
    "$PY" - "$1" "$2" <<'PYEOF'
import sqlite3, sys
db, table = sys.argv[1:]
c = sqlite3.connect(db)
cols = [r[1] for r in c.execute(f"PRAGMA table_info({table})")]
total = 0
for row in c.execute(f"SELECT * FROM {table}"):
    total += 2  # the number of fields
    for name, v in zip(cols, row):
        if v is None:
            total += 4
        elif name in ("id", "n", "k", "r", "ts", "tz", "at"):
            total += 4 + 8
        elif name == "ok":
            total += 4 + 1
        elif name == "j":
            total += 4 + 1 + len(str(v).encode())  # jsonb: a version byte
        else:
            total += 4 + len(v if isinstance(v, bytes) else str(v).encode())
print(total)
PYEOF
}

# col URL EXPR [SEP]: EXPR of every row of b, in id order ('-' for NULL).
col() { q "$1" "SET TimeZone = 'UTC'; SELECT string_agg(coalesce(($2)::text, '-'), '${3:-,}' ORDER BY id) FROM b"; }
# lite SQL: SQLite's answer on the source.
lite() { "$PY" -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])' "$BIN_DB" "$1"; }

case_binary_exact() {
    local url rep
    url=$(newdb binplain)
    rep=$U/out/bin.json
    pgb migrate --sqlite "$BIN_DB" --to "$url" --verify full --report "$rep"
    check_rc 0 "every kind with a binary form, --verify full"
    check_eq "$(q "$url" "SELECT string_agg(format_type(atttypid, atttypmod), ',' ORDER BY attnum) FROM pg_attribute WHERE attrelid = 'b'::regclass AND attnum > 0")" \
        "bigint,bigint,double precision,boolean,text,character varying(12),jsonb,bytea,timestamp without time zone,timestamp with time zone" \
        "the columns' types: all with an exact binary form"
    check_eq "$(rj "$rep" "tab('b').get('bytes')")" "$(binary_size "$BIN_DB" b)" "b went as binary COPY (its bytes are the rows' binary size)"
    check_eq "$(rj "$rep" "tab('big').get('bytes')")" "$(binary_size "$BIN_DB" big)" \
        "big (over the split threshold: two connections, each its own binary stream) went as binary COPY"
    check_eq "$(col "$url" n)" "9223372036854775807,-9223372036854775808,0,-1,-,9007199254740993" "bigint: the extremes"
    check_eq "$(col "$url" r)" "0.1,0,1e+308,5e-324,Infinity,-Infinity" "double precision: exactly, the extremes and infinities"
    check_eq "$(col "$url" ok)" "true,false,true,false,-,true" "boolean"
    check_eq "$(col "$url" "encode(convert_to(t, 'UTF8'), 'hex')")" \
        "$(lite "SELECT group_concat(CASE WHEN t IS NULL THEN '-' ELSE lower(hex(CAST(t AS TEXT))) END, ',') FROM (SELECT t FROM b ORDER BY id)")" \
        "text: the same bytes (tab, newline, backslashes, CR; an integer and a real as their text)"
    check_eq "$(col "$url" v)" "short,émoji 🎉,7,,-,twelve chars" "varchar: UTF-8, an integer as its text, the empty string"
    check_eq "$(col "$url" j '|')" '{"a": [1, 2.5, null]}|[]|{"k": "v\\n"}|[3]|-|{"s": 1}' "jsonb"
    check_eq "$(col "$url" "encode(bl, 'hex')")" "005c0a09ff,,5c783431,-,-,$("$PY" -c 'print(bytes(range(256)).hex())')" "bytea: every byte"
    check_eq "$(col "$url" ts)" "2024-03-26 13:17:21.510011,2024-02-29 00:00:00,1999-12-31 23:59:00,0001-01-01 00:00:00,-,2000-01-01 00:00:00.5" \
        "timestamp: date only, 'T' and no seconds, year 1, fractions"
    check_eq "$(col "$url" tz)" "2024-03-26 07:47:21+00,2024-03-26 13:17:21+00,1970-01-01 08:00:00+00,9999-12-31 23:59:59.999999+00,-,2000-01-01 00:00:00+00" \
        "timestamptz: offsets, Z, zeros past microseconds, the last microsecond of 9999"
    check_eq "$(q "$url" "SELECT md5(string_agg(concat(id, '|', k, '|', s, '|', to_char(at, 'YYYY-MM-DD HH24:MI:SS.MS')), ',' ORDER BY id)) FROM big")" \
        "$("$PY" -c '
import hashlib, sqlite3, sys
rows = sqlite3.connect(sys.argv[1]).execute("SELECT id, k, s, at FROM big ORDER BY id")
print(hashlib.md5(",".join("%d|%d|%s|%s" % r for r in rows).encode()).hexdigest())' "$BIN_DB")" \
        "the big table's rows, every one"
    check_eq "$(q "$url" "SELECT string_agg(concat(id, '|', amount, '|', at), ';' ORDER BY id) FROM price")" "1|1.25|2024-01-01 10:00:00;2|3.00|" \
        "a table with a numeric column (text COPY) in the same run"
    check_eq "$(rj "$rep" "tab('price').get('bytes')")" "$(printf '1\t1.25\t2024-01-01 10:00:00\n2\t3\t\\N\n' | wc -c)" "price went as text COPY"
    check_contains "$(rj "$rep" "d.get('verify')")" "full" "the report says --verify full ran"
}

run_case binary_exact case_binary_exact
ml_finish
