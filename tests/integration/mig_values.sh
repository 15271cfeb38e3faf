#!/usr/bin/env bash
# pgboot migrate and values of real apps (issue 10, items 4, 5, 7 and 9), in
# both routes: the plain migration, and into the app's own schema (--schema
# FILE.sql, --data-only). Each SQLite file is built here; the values are read
# back from PostgreSQL and compared exactly.
#   4. timestamps with more than six fractional digits (Rust/Go 9, .NET 7)
#   5. zero dates ('0000-00-00 00:00:00'), values and defaults
#   7. a BLOB of UTF-8 text in a TEXT column; excerpts in messages as UTF-8
#   9. Infinity and NaN in NUMERIC(p,s), also in --dry-run
set -euo pipefail
. "$(dirname "$0")/mig_lib.sh"

ml_setup
ml_server

# --- 4. timestamps past microseconds ---------------------------------------------------

# at: Rust/Go's 9 digits (not zeros); made: an app's own default, zeros past
# microseconds, with an offset; net: .NET's 7 digits with an offset.
TS_DB=$U/src/ts.db
mkdb "$TS_DB" '
c.execute("CREATE TABLE ev (id INTEGER PRIMARY KEY, at DATETIME NOT NULL, made DATETIME, net DATETIME)")
c.executemany("INSERT INTO ev VALUES (?, ?, ?, ?)", [
    (1, "2024-03-26 13:17:21.510011640", "2024-03-26 13:17:21.000000000+00:00", "2024-03-26T13:17:21.5100116+01:00"),
    (2, "2024-03-26 13:17:22.000000000", "2024-01-02 03:04:05.120000000+00:00", "2024-03-26T13:17:21.5100114+01:00"),
    (3, "2023-12-31 23:59:59.999999600", None, None)])'
# only zeros past microseconds: exact everywhere
TS_ZERO_DB=$U/src/ts-zero.db
mkdb "$TS_ZERO_DB" '
c.execute("CREATE TABLE ev (id INTEGER PRIMARY KEY, at DATETIME NOT NULL, made DATETIME)")
c.executemany("INSERT INTO ev VALUES (?, ?, ?)", [
    (1, "2024-03-26 13:17:21.510011000", "2024-03-26 13:17:21.000000000+00:00"),
    (2, "2024-03-26 13:17:22.0000000", "2024-01-02 03:04:05.120000000+00:00")])'
TS_SCHEMA=$U/src/ts-schema.sql
echo "CREATE TABLE ev (id integer PRIMARY KEY, at timestamp NOT NULL, made timestamptz, net timestamptz);" >"$TS_SCHEMA"
user_own "$TS_SCHEMA"

# ts_values URL: at, made and net of every row, as PostgreSQL gives them (UTC).
ts_values() {
    q_try "$1" "SELECT string_agg(concat_ws('|', id, at, coalesce(made::text, '-'), coalesce(net::text, '-')), ';' ORDER BY id) FROM ev"
}

case_ts_plain_strict() {
    local url rep
    url=$(newdb tsplain)
    rep=$U/out/ts-plain.json
    pgb migrate --sqlite "$TS_DB" --to "$url" --verify full --report "$rep"
    check_rc 0 "timestamps past microseconds, plain route, strict"
    check_eq "$(coltype "$url" ev at)" text "9 digits that are not zeros: the column stays text"
    check_imatch "$(rj "$rep" "col('ev','at').get('reason')")" "digits past microseconds.*not zeros.*--round-timestamps" \
        "the reason says why (digits past microseconds) and names --round-timestamps"
    check_not_contains "$(rj "$rep" "col('ev','at').get('reason')")" "not ISO-8601" "the reason no longer says 'not ISO-8601'"
    check_eq "$(coltype "$url" ev made)" "timestamp with time zone" "zeros past microseconds with an offset: timestamptz"
    check_eq "$(coltype "$url" ev net)" text ".NET's 7 digits with an offset: text"
    check_eq "$(ts_values "$url")" \
        "1|2024-03-26 13:17:21.510011640|2024-03-26 13:17:21+00|2024-03-26T13:17:21.5100116+01:00;2|2024-03-26 13:17:22.000000000|2024-01-02 03:04:05.12+00|2024-03-26T13:17:21.5100114+01:00;3|2023-12-31 23:59:59.999999600|-|-" \
        "every value exactly (texts as they were, the zeros' instants)"
    pgb migrate --sqlite "$TS_ZERO_DB" --to "$(newdb tszero)" --verify full
    check_rc 0 "zeros past microseconds only: accepted"
    check_eq "$(coltype "$(db_url "$SERVER_URL" tszero)" ev at)" "timestamp without time zone" "zeros only: timestamp"
    check_eq "$(q_try "$(db_url "$SERVER_URL" tszero)" "SELECT string_agg(at::text, ';' ORDER BY id) FROM ev")" \
        "2024-03-26 13:17:21.510011;2024-03-26 13:17:22" "zeros only: the values exactly"
}

case_ts_plain_round() {
    local url rep
    url=$(newdb tsround)
    rep=$U/out/ts-round.json
    pgb migrate --sqlite "$TS_DB" --to "$url" --round-timestamps --verify full --report "$rep"
    check_rc 0 "--round-timestamps, plain route"
    check_eq "$(coltype "$url" ev at)/$(coltype "$url" ev net)" "timestamp without time zone/timestamp with time zone" \
        "--round-timestamps: timestamp and timestamptz"
    check_eq "$(ts_values "$url")" \
        "1|2024-03-26 13:17:21.510012|2024-03-26 13:17:21+00|2024-03-26 12:17:21.510012+00;2|2024-03-26 13:17:22|2024-01-02 03:04:05.12+00|2024-03-26 12:17:21.510011+00;3|2024-01-01 00:00:00|-|-" \
        "rounded to the nearest microsecond (halves up, carried into the next year)"
    check_eq "$(rj "$rep" "[col('ev', c).get('timestamps_rounded') for c in ('at', 'made', 'net')]")" "[2, null, 2]" \
        "the report counts the rounded values per column"
    check_match "$ERR" "4 timestamps rounded to microseconds" "the summary counts them"
}

case_ts_schema() {
    local url
    # strict: refused, with the option named
    url=$(newdb tsschema)
    pgb migrate --sqlite "$TS_DB" --to "$url" --schema "$TS_SCHEMA"
    check_rc 1 "--schema: 9 digits into a timestamp column are refused (strict)"
    check_untouched "$url" "--schema strict"
    check_match "$(err_line)" "ev\.at \(rowid 1\): '2024-03-26 13:17:21\.510011640' \(digits past microseconds" "the message names the cell and why"
    check_contains "$(hint_line)" "--round-timestamps" "the hint names --round-timestamps"
    check_not_contains "$ERR" "widen" "the hint does not offer --on-error widen (it changes no column of the app's tables)"
    # widen changes nothing here, and says so (not "numbers beside blobs")
    pgb migrate --sqlite "$TS_DB" --to "$url" --schema "$TS_SCHEMA" --on-error widen
    check_rc 1 "--schema --on-error widen: still refused"
    check_not_contains "$ERR" "numbers beside blobs" "widen: not the wrong reason 'numbers beside blobs'"
    check_contains "$(err_line)" "in the target's columns (--on-error widen changes no column" "widen: the right reason"
    check_untouched "$url" "--schema widen"
    # --round-timestamps: loaded, rounded, counted
    pgb migrate --sqlite "$TS_DB" --to "$url" --schema "$TS_SCHEMA" --round-timestamps --verify full --report "$U/out/ts-schema.json"
    check_rc 0 "--schema --round-timestamps"
    check_eq "$(ts_values "$url")" \
        "1|2024-03-26 13:17:21.510012|2024-03-26 13:17:21+00|2024-03-26 12:17:21.510012+00;2|2024-03-26 13:17:22|2024-01-02 03:04:05.12+00|2024-03-26 12:17:21.510011+00;3|2024-01-01 00:00:00|-|-" \
        "--schema: the values rounded"
    check_eq "$(rj "$U/out/ts-schema.json" "[col('ev', c).get('timestamps_rounded') for c in ('at', 'net')]")" "[2, 2]" "--schema: counted in the report"
    # zeros past microseconds: exact, accepted by the app's columns (strict)
    url=$(newdb tsschemazero)
    q "$url" "CREATE TABLE ev (id integer PRIMARY KEY, at timestamp NOT NULL, made timestamptz)" >/dev/null
    pgb migrate --sqlite "$TS_ZERO_DB" --to "$url" --data-only --verify full
    check_rc 0 "--data-only: zeros past microseconds accepted (strict)"
    check_eq "$(q_try "$url" "SELECT string_agg(at || '|' || made, ';' ORDER BY id) FROM ev")" \
        "2024-03-26 13:17:21.510011|2024-03-26 13:17:21+00;2024-03-26 13:17:22|2024-01-02 03:04:05.12+00" "--data-only: the values exactly"
}

# --- 5. zero dates ------------------------------------------------------------------------

ZD_DB=$U/src/zero.db
mkdb "$ZD_DB" '
c.execute("CREATE TABLE acct (id INTEGER PRIMARY KEY, born DATE, seen DATETIME NOT NULL DEFAULT \"0000-00-00 00:00:00\", left_at DATETIME)")
c.executemany("INSERT INTO acct VALUES (?, ?, ?, ?)", [
    (1, "1990-05-17", "2024-01-01 10:00:00", "2024-02-01 10:00:00"),
    (2, "0000-00-00", "0000-00-00 00:00:00", "0000-00-00 00:00:00"),
    (3, None, "2024-01-02 11:00:00", None)])'
# the same without NOT NULL and without the default
ZD_NULL_DB=$U/src/zero-null.db
mkdb "$ZD_NULL_DB" '
c.execute("CREATE TABLE acct (id INTEGER PRIMARY KEY, born DATE, seen DATETIME, left_at DATETIME)")
c.executemany("INSERT INTO acct VALUES (?, ?, ?, ?)", [
    (1, "1990-05-17", "2024-01-01 10:00:00", "2024-02-01 10:00:00"),
    (2, "0000-00-00", "0000-00-00 00:00:00", "0000-00-00 00:00:00"),
    (3, None, "2024-01-02 11:00:00", None)])'
ZD_SCHEMA=$U/src/zero-schema.sql
echo "CREATE TABLE acct (id integer PRIMARY KEY, born date, seen timestamp NOT NULL, left_at timestamp);" >"$ZD_SCHEMA"
user_own "$ZD_SCHEMA"

zd_values() {
    q_try "$1" "SELECT string_agg(concat_ws('|', id, coalesce(born::text, '<null>'), coalesce(seen::text, '<null>'), coalesce(left_at::text, '<null>')), ';' ORDER BY id) FROM acct"
}

case_zero_dates_plain() {
    local url rep
    url=$(newdb zdstrict)
    pgb migrate --sqlite "$ZD_DB" --to "$url"
    check_rc 1 "zero dates, plain route, strict: refused"
    check_untouched "$url" "zero dates strict"
    check_match "$(err_line)" "acct\.born \(rowid 2\): '0000-00-00' \(a zero date" "the message names the zero date and why"
    check_contains "$(hint_line)" "--zero-dates infinity" "the hint names --zero-dates"
    # --zero-dates infinity: values and the default become -infinity
    url=$(newdb zdinf)
    rep=$U/out/zd-inf.json
    pgb migrate --sqlite "$ZD_DB" --to "$url" --zero-dates infinity --verify full --report "$rep"
    check_rc 0 "--zero-dates infinity"
    check_eq "$(coltype "$url" acct born)/$(coltype "$url" acct seen)" "date/timestamp without time zone" "date and timestamp columns"
    check_eq "$(zd_values "$url")" \
        "1|1990-05-17|2024-01-01 10:00:00|2024-02-01 10:00:00;2|-infinity|-infinity|-infinity;3|<null>|2024-01-02 11:00:00|<null>" \
        "zero dates are -infinity, everything else exactly"
    check_eq "$(q_try "$url" "INSERT INTO acct (id) VALUES (9) RETURNING seen")" "-infinity" "the zero-date default is -infinity (the NOT NULL column takes it)"
    check_eq "$(rj "$rep" "[col('acct', c).get('zero_dates') for c in ('born', 'seen', 'left_at')]")" "[1, 1, 1]" "the report counts them per column"
    check_eq "$(rj "$rep" "col('acct', 'seen').get('zero_dates_as')")" "-infinity" "the report says what they became"
    check_match "$ERR" "3 zero dates \('0000-00-00'\) loaded as -infinity" "the summary counts them"
    # --zero-dates null: refused for the NOT NULL column (and its default) ...
    url=$(newdb zdnullnn)
    pgb migrate --sqlite "$ZD_DB" --to "$url" --zero-dates null
    check_rc 1 "--zero-dates null with a NOT NULL column: refused"
    check_match "$(err_line)" "acct\.seen \(rowid 2\).*NOT NULL" "the NOT NULL column is named"
    check_contains "$(hint_line)" "--zero-dates infinity" "the hint names --zero-dates infinity"
    check_untouched "$url" "--zero-dates null, NOT NULL"
    # ... and NULL where the column allows it
    url=$(newdb zdnull)
    rep=$U/out/zd-null.json
    pgb migrate --sqlite "$ZD_NULL_DB" --to "$url" --zero-dates null --verify full --report "$rep"
    check_rc 0 "--zero-dates null"
    check_eq "$(zd_values "$url")" \
        "1|1990-05-17|2024-01-01 10:00:00|2024-02-01 10:00:00;2|<null>|<null>|<null>;3|<null>|2024-01-02 11:00:00|<null>" \
        "zero dates are NULL"
    check_eq "$(rj "$rep" "col('acct', 'born').get('zero_dates_as')")" "null" "the report says NULL"
}

case_zero_dates_reject() {
    local url dir=$U/out/zd-reject
    url=$(newdb zdreject)
    mkdir -p "$dir"
    user_own "$dir"
    pgb migrate --sqlite "$ZD_NULL_DB" --to "$url" --on-error reject --allow-rejects --report "$dir/report.json"
    check_rc 0 "--on-error reject: the row with zero dates is set aside"
    check_eq "$(zd_values "$url")" \
        "1|1990-05-17|2024-01-01 10:00:00|2024-02-01 10:00:00;3|<null>|2024-01-02 11:00:00|<null>" "the other rows exactly"
    check_py "rejects/acct.jsonl: row 2, its zero date and why, the row exactly" '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
if len(rows) != 1:
    print("%d rejected rows, expected 1" % len(rows)); sys.exit()
r = rows[0]
if r.get("key") != 2 or "zero date" not in r.get("reason", ""):
    print("rejected %r" % r)
if r.get("row", {}).get("seen") != {"type": "text", "value": "0000-00-00 00:00:00"}:
    print("row %r" % r.get("row"))
' "$dir/rejects/acct.jsonl"
}

case_zero_default_only() {
    local url db=$U/src/zero-default.db
    # no zero date among the values: the default alone is refused (strict)
    mkdb "$db" 'c.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, at DATETIME NOT NULL DEFAULT (\x270000-00-00 00:00:00\x27))"); c.execute("INSERT INTO t VALUES (1, \x272024-01-01 10:00:00\x27)")'
    url=$(newdb zddefault)
    pgb migrate --sqlite "$db" --to "$url"
    check_rc 1 "a zero-date default: refused (strict)"
    check_contains "$(err_line)" "t.at" "the column is named"
    check_contains "$(err_line)" "DEFAULT '0000-00-00 00:00:00'" "the default is named"
    check_contains "$(hint_line)" "--zero-dates infinity" "the hint names --zero-dates infinity"
    check_untouched "$url" "zero-date default"
}

case_zero_dates_schema() {
    local url
    url=$(newdb zdschema)
    pgb migrate --sqlite "$ZD_DB" --to "$url" --schema "$ZD_SCHEMA"
    check_rc 1 "--schema: zero dates refused (strict)"
    check_contains "$(hint_line)" "--zero-dates infinity" "the hint names --zero-dates"
    check_untouched "$url" "--schema zero dates strict"
    pgb migrate --sqlite "$ZD_DB" --to "$url" --schema "$ZD_SCHEMA" --zero-dates null
    check_rc 1 "--schema --zero-dates null: the app's NOT NULL column refuses NULL"
    check_match "$(err_line)" "acct\.seen \(rowid 2\).*NOT NULL" "the NOT NULL column is named"
    pgb migrate --sqlite "$ZD_DB" --to "$url" --schema "$ZD_SCHEMA" --zero-dates infinity --verify full --report "$U/out/zd-schema.json"
    check_rc 0 "--schema --zero-dates infinity"
    check_eq "$(zd_values "$url")" \
        "1|1990-05-17|2024-01-01 10:00:00|2024-02-01 10:00:00;2|-infinity|-infinity|-infinity;3|<null>|2024-01-02 11:00:00|<null>" \
        "--schema: zero dates are -infinity (the NOT NULL column takes it)"
    check_eq "$(rj "$U/out/zd-schema.json" "[col('acct', c).get('zero_dates') for c in ('born', 'seen', 'left_at')]")" "[1, 1, 1]" "--schema: counted"
}

# --- 7. a BLOB of UTF-8 text in a TEXT column; excerpts ------------------------------------

BLOB_DB=$U/src/blob.db
mkdb "$BLOB_DB" '
c.execute("CREATE TABLE prefs (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
c.execute("INSERT INTO prefs VALUES (1, ?)", ("{\"theme\": \"dark\"}",))
c.execute("INSERT INTO prefs VALUES (2, ?)", ("{\"mood\": \"\U0001F600\", \"name\": \"Zo\u00eb\"}".encode(),))
c.execute("INSERT INTO prefs VALUES (3, ?)", (b"tab\there\\back",))'
BLOB_HEX="1:7b227468656d65223a20226461726b227d;2:7b226d6f6f64223a2022f09f9880222c20226e616d65223a20225a6fc3ab227d;3:74616209686572655c6261636b"

blob_values() {
    q_try "$1" "SELECT string_agg(id || ':' || encode(convert_to(body, 'UTF8'), 'hex'), ';' ORDER BY id) FROM prefs"
}

case_blob_text() {
    local url rep
    url=$(newdb blobtext)
    rep=$U/out/blob.json
    pgb migrate --sqlite "$BLOB_DB" --to "$url" --verify full --report "$rep"
    check_rc 0 "blobs of UTF-8 text in a TEXT column, plain route (strict)"
    check_eq "$(coltype "$url" prefs body)" text "the column is text"
    check_eq "$(blob_values "$url")" "$BLOB_HEX" "every value's bytes exactly"
    compare_data "$BLOB_DB" "$url" "blobs of UTF-8 text: every value equal (mig_compare.py)"
    check_eq "$(rj "$rep" "col('prefs', 'body').get('blobs_as_text')")" 2 "the report counts the blobs stored as text"
    check_match "$ERR" "2 BLOB values of valid UTF-8 stored as text: prefs.body" "the summary says so"
    url=$(newdb blobschema)
    q "$url" "CREATE TABLE prefs (id integer PRIMARY KEY, body text NOT NULL)" >/dev/null
    pgb migrate --sqlite "$BLOB_DB" --to "$url" --data-only --verify full --report "$U/out/blob-schema.json"
    check_rc 0 "--data-only: blobs of UTF-8 text into the app's text column"
    check_eq "$(blob_values "$url")" "$BLOB_HEX" "--data-only: every value's bytes exactly"
    check_eq "$(rj "$U/out/blob-schema.json" "col('prefs', 'body').get('blobs_as_text')")" 2 "--data-only: counted"
}

# JSON written as blobs of its UTF-8 text: a JSON column (plain route), and
# the app's jsonb column (--data-only)
case_blob_json() {
    local db=$U/src/blob-json.db url want
    mkdb "$db" '
c.execute("CREATE TABLE prefs (id INTEGER PRIMARY KEY, body JSON)")
c.execute("INSERT INTO prefs VALUES (1, ?)", ("{\"theme\": \"dark\"}",))
c.execute("INSERT INTO prefs VALUES (2, ?)", ("{\"mood\": \"\U0001F600\"}".encode(),))'
    want="1:{\"theme\": \"dark\"};2:{\"mood\": \""$'\xf0\x9f\x98\x80'"\"}"
    url=$(newdb blobjson)
    pgb migrate --sqlite "$db" --to "$url" --verify full --report "$U/out/blob-json.json"
    check_rc 0 "a JSON column with blobs of UTF-8 JSON text (strict)"
    check_eq "$(coltype "$url" prefs body)" jsonb "the column is jsonb"
    check_eq "$(q_try "$url" "SELECT string_agg(id || ':' || body::text, ';' ORDER BY id) FROM prefs")" "$want" "the JSON values exactly"
    check_eq "$(rj "$U/out/blob-json.json" "col('prefs', 'body').get('blobs_as_text')")" 1 "counted in the report"
    url=$(newdb blobjsonb)
    q "$url" "CREATE TABLE prefs (id integer PRIMARY KEY, body jsonb NOT NULL)" >/dev/null
    pgb migrate --sqlite "$db" --to "$url" --data-only --verify full
    check_rc 0 "--data-only: blobs of UTF-8 JSON text into the app's jsonb column"
    check_eq "$(q_try "$url" "SELECT string_agg(id || ':' || body::text, ';' ORDER BY id) FROM prefs")" "$want" "--data-only: the JSON values exactly"
    # a blob that is text but not JSON: refused by the jsonb column
    url=$(newdb blobjsonbad)
    q "$url" "CREATE TABLE prefs (id integer PRIMARY KEY, body jsonb NOT NULL)" >/dev/null
    pgb migrate --sqlite "$BLOB_DB" --to "$url" --data-only
    check_rc 1 "--data-only: a blob of text that is not JSON, into jsonb: refused"
    check_contains "$(err_line)" "prefs.body (rowid 3): 'tab\\x09here\\\\back' (not JSON)" "the cell, its excerpt escaped, and why"
}

case_excerpts() {
    local db=$U/src/excerpt.db url
    mkdb "$db" '
c.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER, body TEXT)")
c.execute("INSERT INTO t VALUES (1, ?, ?)", ("\U0001F600 Zo\u00eb", "ok"))
c.execute("INSERT INTO t VALUES (2, 3, ?)", (b"a\xff\x00b",))'
    url=$(newdb excerpts)
    pgb migrate --sqlite "$db" --to "$url" --json
    check_rc 1 "bad values: refused"
    check_contains "$(err_line)" "t.n (rowid 1): '"$'\xf0\x9f\x98\x80'" Zoë' (text in an integer column)" "the message shows the emoji and the accent as they are (not ????)"
    check_contains "$(err_line)" "t.body (rowid 2): 'a\\xff\\x00b' (a blob in a text column)" "bytes that are not UTF-8 are escaped"
    check_py "--json report: the excerpts are the same valid UTF-8" '
import json, sys
d = json.load(open(sys.argv[1], encoding="utf-8"))
got = {(b["column"], b["rowid"]): b["value"] for b in d.get("bad_values") or []}
want = {("n", 1): "\U0001F600 Zo\u00eb", ("body", 2): "a\\xff\\x00b"}
if got != want:
    print("bad_values: %r, expected %r" % (got, want))
' "$T/.out"
}

case_usage() {
    pgb migrate --sqlite "$ZD_DB" --dry-run --zero-dates maybe
    check_rc 2 "--zero-dates takes infinity or null"
    check_contains "$ERR" "--zero-dates is infinity or null, not 'maybe'" "the usage error says so"
    pgb migrate --help
    check_contains "$OUT$ERR" "--round-timestamps" "--help lists --round-timestamps"
    check_contains "$OUT$ERR" "--zero-dates infinity|null" "--help lists --zero-dates"
}

# --- 9. Infinity and NaN in NUMERIC(p,s) ----------------------------------------------------

NUM_DB=$U/src/num.db
mkdb "$NUM_DB" '
c.execute("CREATE TABLE price (id INTEGER PRIMARY KEY, amount NUMERIC(10,2), fee NUMERIC(10,2))")
c.executemany("INSERT INTO price VALUES (?, ?, ?)", [
    (1, 1.5, 2.25), (2, float("inf"), "NaN"), (3, float("-inf"), 3), (4, "-inf", None)])'

# the issue's example: --dry-run planned numeric(10,2) and passed, the real
# run failed in COPY
NUM_REAL_DB=$U/src/num-real.db
mkdb "$NUM_REAL_DB" '
c.execute("CREATE TABLE price (id INTEGER PRIMARY KEY, amount NUMERIC(10,2))")
c.executemany("INSERT INTO price VALUES (?, ?)", [(1, 19.99), (2, float("inf"))])'

case_numeric_infinity() {
    local url rep
    pgb migrate --sqlite "$NUM_REAL_DB" --dry-run
    check_rc 0 "--dry-run, REAL Infinity in NUMERIC(10,2)"
    check_match "$OUT" '"?amount"? numeric([,)]|$)' "--dry-run plans plain numeric, which holds Infinity"
    url=$(newdb numreal)
    pgb migrate --sqlite "$NUM_REAL_DB" --to "$url" --verify full
    check_rc 0 "the real run passes too (no COPY failure)"
    check_eq "$(q_try "$url" "SELECT string_agg(amount::text, ';' ORDER BY id) FROM price")" "19.99;Infinity" "the values exactly"
    pgb migrate --sqlite "$NUM_DB" --dry-run
    check_rc 0 "--dry-run"
    check_match "$OUT" '"?amount"? numeric([,)]|$)' "--dry-run plans amount as plain numeric"
    check_match "$OUT" '"?fee"? numeric\(10,2\)' "--dry-run keeps numeric(10,2) for NaN, which it holds"
    url=$(newdb numinf)
    rep=$U/out/num.json
    pgb migrate --sqlite "$NUM_DB" --to "$url" --verify full --report "$rep"
    check_rc 0 "Infinity in NUMERIC(10,2): the real run passes too"
    check_eq "$(coltype "$url" price amount)/$(coltype "$url" price fee)" "numeric/numeric(10,2)" "the types the dry run planned"
    check_eq "$(q_try "$url" "SELECT string_agg(id || ':' || coalesce(amount::text, '-') || ':' || coalesce(fee::text, '-'), ';' ORDER BY id) FROM price")" \
        "1:1.5:2.25;2:Infinity:NaN;3:-Infinity:3.00;4:-Infinity:-" "every value, Infinity and NaN among them"
    compare_data "$NUM_DB" "$url" "Infinity and NaN: every value equal (mig_compare.py)"
    check_imatch "$(rj "$rep" "col('price', 'amount').get('reason')")" "3 values are Infinity or -Infinity, which numeric\(10,2\) cannot hold" "the reason"
    # into the app's numeric(10,2): refused before anything is written
    url=$(newdb numschema)
    q "$url" "CREATE TABLE price (id integer PRIMARY KEY, amount numeric(10,2), fee numeric(10,2))" >/dev/null
    pgb migrate --sqlite "$NUM_DB" --to "$url" --data-only
    check_rc 1 "--data-only: Infinity into the app's numeric(10,2) is refused"
    check_contains "$(err_line)" "3 values" "all three counted"
    check_contains "$(err_line)" "price.amount (rowid 2): 'Infinity' (Infinity in a numeric(p,s) column" "the cell and why"
    check_eq "$(q "$url" "SELECT count(*) FROM price")/$(q "$url" "SELECT count(*) FROM pg_namespace WHERE nspname = 'pgboot'")" "0/0" "nothing written"
}

run_case ts_plain_strict case_ts_plain_strict
run_case ts_plain_round case_ts_plain_round
run_case ts_schema case_ts_schema
run_case zero_dates_plain case_zero_dates_plain
run_case zero_dates_reject case_zero_dates_reject
run_case zero_default_only case_zero_default_only
run_case zero_dates_schema case_zero_dates_schema
run_case blob_text case_blob_text
run_case blob_json case_blob_json
run_case excerpts case_excerpts
run_case numeric_infinity case_numeric_infinity
run_case usage case_usage
ml_finish
