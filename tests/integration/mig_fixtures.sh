#!/usr/bin/env bash
# pgboot migrate on the real SQLite fixtures (chinook.sqlite, sqlite.db,
# test_pk.db): each into a fresh database with --verify full, then checked
# independently, value by value (tests/support/mig_compare.py reads SQLite
# with python's sqlite3 and PostgreSQL with psql), and against the facts of
# the fixtures' README.
set -euo pipefail
. "$(dirname "$0")/mig_lib.sh"

ml_setup
ml_server


# compare MODE SRC URL [ARGS...] DESC-is-last: mig_compare.py, must exit 0.
compare() {
    local mode=$1 src=$2 url=$3 desc=$4 out rc=0
    shift 4
    out=$("$PY" "$COMPARE" "$mode" --sqlite "$src" --url "$url" "$@" 2>&1) || rc=$?
    echo "$out" | grep -v '^ok: ' | sed 's/^/    /'
    if [[ $rc == 0 ]]; then
        ok "$desc: $(tail -n1 <<<"$out")"
    else
        nok "$desc: mig_compare.py $mode exit $rc: $(grep -E '^(PROBLEM|ERROR)' <<<"$out" | head -20)"
    fi
}

# migrate SRC URL REPORT: pgboot migrate --verify full --json --report REPORT.
migrate_full() {
    local src=$1 url=$2 report=$3
    pgb migrate --sqlite "$src" --to "$url" --verify full --json --report "$report"
    check_rc 0 "migrate ${src##*/} --verify full"
    [[ $RC == 0 ]] || return 1
    check_path "$report" "--report wrote the report"
    check_eq "$(rj "$report" 'd.get("verify")')" full "report: verify = full"
    check_eq "$(rj "$report" 'd["source"]["sha256"]')" "$(sha256sum "$src" | cut -d' ' -f1)" "report: source sha256"
    check_eq "$(rj "$report" 'd["source"]["size"]')" "$(stat -c %s "$src")" "report: source size"
    check_eq "$(rj "$report" 'd["source"]["path"]')" "$src" "report: source path"
    # --json on stdout is the same report
    check_py "--json stdout is the report written to --report" '
import json, sys
a = json.loads(open(sys.argv[1]).read()); b = json.load(open(sys.argv[2]))
if a != b: print("stdout and --report differ")' "$T/.out" "$report"
    check_eq "$(q "$url" "SELECT count(*) FROM pgboot.migrations WHERE source_sha256 = '$(sha256sum "$src" | cut -d' ' -f1)' AND source_size = $(stat -c %s "$src") AND source_path = '$src' AND finished_at >= started_at AND pgboot_version <> '' AND report ? 'tables'")" 1 \
        "pgboot.migrations records this migration (path, size, sha256, times, version, report)"
}

# --- Chinook ------------------------------------------------------------------

case_chinook() {
    local src url rep
    src=$(fixture chinook.sqlite)
    url=$(newdb chinook)
    rep=$U/out/chinook.json
    migrate_full "$src" "$url" "$rep" || return 0

    # 11 tables with these row counts
    local got
    check_eq "$(counts "$url")" "$CHINOOK_COUNTS" "Chinook: 11 tables with the README's row counts"
    check_eq "$(q "$url" "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")" 11 "Chinook: exactly 11 tables in public (no sqlite_sequence)"

    # 11 primary keys, PlaylistTrack's composite
    check_eq "$(q "$url" "SELECT count(*) FROM pg_constraint WHERE contype = 'p' AND connamespace = 'public'::regnamespace")" 11 "Chinook: 11 primary keys"
    check_eq "$(q "$url" "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE contype = 'p' AND conrelid = 'playlisttrack'::regclass")" \
        "PRIMARY KEY (playlistid, trackid)" "Chinook: PlaylistTrack's primary key is composite"

    # 11 foreign keys, each with the source's actions (all NO ACTION), validated
    check_eq "$(q "$url" "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND connamespace = 'public'::regnamespace")" 11 "Chinook: 11 foreign keys"
    got=$(q "$url" "SELECT string_agg(x, ' ' ORDER BY x COLLATE \"C\") FROM (SELECT conrelid::regclass::text || '(' || (SELECT string_agg(attname, ',') FROM pg_attribute WHERE attrelid = conrelid AND attnum = ANY (conkey)) || ')->' || confrelid::regclass::text || ':' || confupdtype::text || confdeltype::text || CASE WHEN convalidated THEN '' ELSE ':NOT VALID' END AS x FROM pg_constraint WHERE contype = 'f' AND connamespace = 'public'::regnamespace) s")
    check_eq "$got" "album(artistid)->artist:aa customer(supportrepid)->employee:aa employee(reportsto)->employee:aa invoice(customerid)->customer:aa invoiceline(invoiceid)->invoice:aa invoiceline(trackid)->track:aa playlisttrack(playlistid)->playlist:aa playlisttrack(trackid)->track:aa track(albumid)->album:aa track(genreid)->genre:aa track(mediatypeid)->mediatype:aa" \
        "Chinook: the 11 foreign keys, ON UPDATE/ON DELETE NO ACTION, validated"
    # an FK really acts: deleting a referenced artist fails
    check_match "$(q_try "$url" "DELETE FROM artist WHERE artistid = 1")" "ERROR: .*foreign key" "Chinook: deleting a referenced artist is refused by the FK"

    # every explicit index (11 unique IPK_*, 10 IFK_*), by name and definition
    got=$(q "$url" "SELECT count(*) FROM pg_indexes WHERE schemaname = 'public' AND indexname LIKE 'ipk\_%' AND indexdef LIKE 'CREATE UNIQUE INDEX%'")
    check_eq "$got" 11 "Chinook: the 11 unique IPK_* indexes"
    got=$(q "$url" "SELECT count(*) FROM pg_indexes WHERE schemaname = 'public' AND indexname LIKE 'ifk\_%' AND indexdef NOT LIKE 'CREATE UNIQUE%'")
    check_eq "$got" 10 "Chinook: the 10 plain IFK_* indexes"
    check_eq "$(q "$url" "SELECT indexdef FROM pg_indexes WHERE indexname = 'ipk_playlisttrack'")" \
        "CREATE UNIQUE INDEX ipk_playlisttrack ON public.playlisttrack USING btree (playlistid, trackid)" "Chinook: IPK_PlaylistTrack on both columns"

    # types: NUMERIC(10,2) -> numeric(10,2), NVARCHAR(n) -> varchar(n), DATETIME -> timestamp
    check_eq "$(coltype "$url" invoice total)/$(coltype "$url" invoiceline unitprice)/$(coltype "$url" track unitprice)" \
        "numeric(10,2)/numeric(10,2)/numeric(10,2)" "Chinook: NUMERIC(10,2) columns are numeric(10,2)"
    check_eq "$(coltype "$url" track name)/$(coltype "$url" customer email)" "character varying(200)/character varying(60)" "Chinook: NVARCHAR(n) -> varchar(n)"
    check_eq "$(coltype "$url" invoice invoicedate)/$(coltype "$url" employee birthdate)" \
        "timestamp without time zone/timestamp without time zone" "Chinook: DATETIME (ISO text) -> timestamp"
    # money to the cent: the sums in PostgreSQL equal the exact decimal sums of SQLite's values
    local exp
    exp=$("$PY" - "$src" <<'EOF'
import sqlite3, sys
from decimal import Decimal
c = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
a = sum(Decimal(repr(v)) for (v,) in c.execute("SELECT Total FROM Invoice"))
b = sum(Decimal(repr(v)) * q for v, q in c.execute("SELECT UnitPrice, Quantity FROM InvoiceLine"))
print("%s/%s" % (a, b))
EOF
)
    check_eq "$(q "$url" "SELECT (SELECT sum(total) FROM invoice)::text || '/' || (SELECT sum(unitprice * quantity) FROM invoiceline)::text")" "$exp" \
        "Chinook: invoice totals and line amounts add up to the cent"

    # NOT NULL where the source says NOT NULL (and only there / on keys): mig_compare schema
    compare schema "$src" "$url" "Chinook: keys, NOT NULL, FKs, indexes as in SQLite; report true" --report "$rep"
    compare data "$src" "$url" "Chinook: every value of every row equal"

    # AUTOINCREMENT: an INSERT without the key gets max+1 (and past sqlite_sequence)
    local expect
    expect=$("$PY" - "$src" <<'EOF'
import sqlite3, sys
c = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
seq = dict(c.execute("SELECT name, seq FROM sqlite_sequence"))
out = []
for t in ["Album", "Artist", "Customer", "Employee", "Genre", "Invoice", "InvoiceLine", "MediaType", "Playlist", "Track"]:
    m = c.execute("SELECT max(rowid) FROM %s" % t).fetchone()[0]
    out.append("%s=%d" % (t.lower(), max(m, seq.get(t, 0)) + 1))
print(" ".join(out))
EOF
)
    got=$(q "$url" "
        WITH a AS (INSERT INTO album(title, artistid) VALUES ('t', 1) RETURNING albumid),
             b AS (INSERT INTO artist(name) VALUES ('n') RETURNING artistid),
             c AS (INSERT INTO customer(firstname, lastname, email) VALUES ('f', 'l', 'e') RETURNING customerid),
             d AS (INSERT INTO employee(lastname, firstname) VALUES ('l', 'f') RETURNING employeeid),
             e AS (INSERT INTO genre(name) VALUES ('g') RETURNING genreid),
             f AS (INSERT INTO invoice(customerid, invoicedate, total) VALUES (1, '2024-01-01', 1.00) RETURNING invoiceid),
             g AS (INSERT INTO invoiceline(invoiceid, trackid, unitprice, quantity) VALUES (1, 1, 0.99, 1) RETURNING invoicelineid),
             h AS (INSERT INTO mediatype(name) VALUES ('m') RETURNING mediatypeid),
             i AS (INSERT INTO playlist(name) VALUES ('p') RETURNING playlistid),
             j AS (INSERT INTO track(name, mediatypeid, milliseconds, unitprice) VALUES ('t', 1, 1, 0.99) RETURNING trackid)
        SELECT 'album=' || a.albumid || ' artist=' || b.artistid || ' customer=' || c.customerid || ' employee=' || d.employeeid
            || ' genre=' || e.genreid || ' invoice=' || f.invoiceid || ' invoiceline=' || g.invoicelineid || ' mediatype=' || h.mediatypeid
            || ' playlist=' || i.playlistid || ' track=' || j.trackid FROM a, b, c, d, e, f, g, h, i, j" 2>&1 || true)
    check_eq "$got" "$expect" "Chinook: INSERT without the key works in each AUTOINCREMENT table and gets the next value"
    # and a second one the value after that
    check_eq "$(q_try "$url" "INSERT INTO genre(name) VALUES ('g2') RETURNING genreid")" 27 "Chinook: the next genre key after that is 27"
    # an explicit key that exists is refused (the primary key acts)
    check_match "$(q_try "$url" "INSERT INTO genre(genreid, name) VALUES (1, 'dup')")" "ERROR: .*duplicate key" "Chinook: a duplicate key is refused"

    # the checker itself can fail: tamper one cent, one ulp, one text byte
    q "$url" "UPDATE invoiceline SET unitprice = unitprice + 0.01 WHERE invoicelineid = 7;
              UPDATE track SET name = name || ' ' WHERE trackid = 2;
              DELETE FROM playlisttrack WHERE playlistid = 1 AND trackid = 3402;
              INSERT INTO artist(name) VALUES ('extra')" >/dev/null
    local out rc=0
    out=$("$PY" "$COMPARE" data --sqlite "$src" --url "$url" 2>&1) || rc=$?
    check_eq "$rc" 1 "self-check: mig_compare.py notices tampered values (exit 1)"
    check_contains "$out" "row invoicelineid=7, column unitprice" "self-check: one cent off is reported"
    check_contains "$out" "row trackid=2, column name" "self-check: one added space is reported"
    check_contains "$out" "SQLite row playlistid=1, trackid=3402 not found" "self-check: a missing row is reported"
    check_contains "$out" "PostgreSQL row artistid=" "self-check: an extra row is reported"
}

# --- sqlite.db ------------------------------------------------------------------

case_sqlite_db() {
    local src url rep got
    src=$(fixture sqlite.db)
    url=$(newdb pgloader)
    rep=$U/out/sqlite_db.json
    migrate_full "$src" "$url" "$rep" || return 0

    # all 20 user tables, not sqlite_sequence
    got=$(q "$url" "SELECT string_agg(tablename, ' ' ORDER BY tablename COLLATE \"C\") FROM pg_tables WHERE schemaname = 'public'")
    check_eq "$got" "appointments autoinc blobs character currentdate datetime_default def double intege ints item long reals references stamps t548 tablename typenames unsigned user" \
        "sqlite.db: the 20 user tables (TableName folded, references and user quoted), no sqlite_sequence"
    check_eq "$(rj "$rep" '[s["kind"] for s in d["skipped"] if s["name"] == "sqlite_sequence"]')" '["table"]' \
        "sqlite.db: sqlite_sequence is listed in skipped"

    # every row, every value (REAL bit for bit, the 28 KB blob byte for byte)
    compare data "$src" "$url" "sqlite.db: every value of every row equal"
    compare schema "$src" "$url" "sqlite.db: keys, NOT NULL, indexes as in SQLite or in skipped; report true" --report "$rep"
    check_eq "$(q "$url" "SELECT length(data) || ' ' || md5(data) FROM blobs WHERE id = 1")" \
        "$("$PY" -c 'import sqlite3,sys,hashlib; c=sqlite3.connect("file:%s?mode=ro"%sys.argv[1],uri=True); b=c.execute("select data from blobs where id=1").fetchone()[0]; print(len(b), hashlib.md5(b).hexdigest())' "$src")" \
        "sqlite.db: the 28 KB blob byte for byte (length and md5)"
    check_eq "$(q "$url" "SELECT float8send(f1)::text FROM reals ORDER BY id")" "$(printf '%s\n' '\x0000000000000000' '\x3ff3333333333333' '\xc0091eb851eb851f')" \
        "sqlite.db: reals.f1 bit for bit (0.0, 1.2, -3.14)"

    # odd types: a faithful equivalent or a named reason
    check_eq "$(coltype "$url" long name)" "character varying(70)" "char(70) -> varchar(70)"
    check_match "$(rj "$rep" 'col("long","name").get("reason")')" "pad" "char(70): the reason says char(n) pads"
    check_eq "$(coltype "$url" character f1)" "character varying(20)" "character(20) -> varchar(20)"
    check_eq "$(coltype "$url" long amount)" "double precision" "double -> double precision"
    check_eq "$(coltype "$url" double x)/$(coltype "$url" double y)" "double precision/double precision" '"double precision" and real -> double precision'
    check_match "$(coltype "$url" unsigned action_flag)" "^(integer|bigint)$" "smallint unsigned -> an integer type holding 0..65535"
    check_match "$(coltype "$url" unsigned s)" "^(smallint|integer|bigint)$" "short integer -> an integer type"
    check_match "$(coltype "$url" ints a)/$(coltype "$url" ints b)/$(coltype "$url" ints d)" "^(smallint|integer|bigint)/(smallint|integer|bigint)/bigint$" "tinyint/smallint/bigint -> integer types"
    check_eq "$(coltype "$url" intege id)" text "intege (values 1, 'toto', 12.3) -> text, chosen by the values"
    check_match "$(rj "$rep" 'col("intege","id").get("reason")')" "intege" "intege: the reason names the unknown type"
    check_eq "$(coltype "$url" typenames name)" text "text nocase -> text"
    check_eq "$(coltype "$url" t548 foo)/$(coltype "$url" t548 bar)" "numeric(20,6)/numeric(12,4)" "numeric(20, 6)/numeric(12,4) keep precision and scale"
    check_eq "$(coltype "$url" blobs data)" bytea "blob -> bytea"
    check_eq "$(q "$url" "SELECT string_agg(coalesce(id, '<null>'), ',' ORDER BY id) FROM intege")" "1,12.3,toto" "intege: the values as text"
    # stamps: DATETIME holding 0, ISO text, 2024, NULL: not timestamp; reasons given
    local st et
    st=$(coltype "$url" stamps starttime)
    et=$(coltype "$url" stamps endtime)
    check_match "$st" "^(text)$" "stamps.StartTime (0, ISO text): text"
    check_match "$et" "^(bigint|text)$" "stamps.EndTime (0, 2024): bigint (epoch-like) or text"
    check_match "$(rj "$rep" 'col("stamps","StartTime").get("reason") or ""')" "." "stamps.StartTime: a reason is given"
    check_match "$(rj "$rep" 'col("stamps","EndTime").get("reason") or ""')" "." "stamps.EndTime: a reason is given"
    check_eq "$(q "$url" "SELECT string_agg(coalesce(starttime::text,'<null>') || '|' || coalesce(endtime::text,'<null>'), ';' ORDER BY endtime NULLS LAST) FROM stamps")" \
        "0|0;2014-07-30 16:18:51|2024;<null>|<null>" "stamps: values as SQLite holds them"
    # the autoinc table's "integer auto_increment primary key" holds NULLs:
    # UNIQUE (id) (NULLs distinct, as in SQLite), with a warning
    check_eq "$(q "$url" "SELECT count(*) FROM autoinc WHERE id IS NULL")" 3 "autoinc: the NULL ids are kept"
    check_eq "$(q "$url" "SELECT string_agg(contype::text || ' ' || pg_get_constraintdef(oid), ',') FROM pg_constraint WHERE conrelid = 'autoinc'::regclass")" "u UNIQUE (id)" \
        "autoinc: the key holding NULLs is UNIQUE (id)"
    check_match "$(rj "$rep" '"\n".join(d["warnings"])')" "table autoinc: its PRIMARY KEY \(id\) holds NULLs" \
        "autoinc: a warning says the key holds NULLs and what it became"

    # defaults: each a faithful default, or named in skipped
    check_eq "$(q_try "$url" "INSERT INTO ints(id) VALUES (100) RETURNING a")" 0 "ints.a tinyint default '0' -> 0"
    check_eq "$(q_try "$url" "INSERT INTO def(f2) VALUES ('x') RETURNING '[' || f1 || ']'")" "[]" 'def.f1 default "" -> empty string'
    check_eq "$(q_try "$url" "INSERT INTO def(f2) VALUES ('y') RETURNING id")" 4 "def: AUTOINCREMENT keys go on after max(id) = sqlite_sequence = 2 (3, then 4)"
    check_eq "$(q_try "$url" "INSERT INTO reals(f1) VALUES (1) RETURNING id")" 4 "reals: next key 4 (sqlite_sequence 3)"
    check_eq "$(q_try "$url" "INSERT INTO \"user\"(name) VALUES ('new') RETURNING id")" 5 "user: next key 5 (sqlite_sequence 4)"
    check_eq "$(q_try "$url" "INSERT INTO stamps DEFAULT VALUES RETURNING starttime::text || '|' || endtime::text")" "0|0" "stamps: DEFAULT 0 in both columns"
    # typenames.is_public integer default '"0"': SQLite stores the text "0" with quotes; no bigint can: skipped, or a text column
    if [[ "$(coltype "$url" typenames is_public)" == text ]]; then
        check_eq "$(q_try "$url" "INSERT INTO typenames(name) VALUES ('x') RETURNING is_public")" '"0"' "typenames.is_public: default '\"0\"' as text"
    else
        check_match "$(rj "$rep" '[s["kind"] + ": " + s["reason"] for s in d["skipped"] if "typenames.is_public" in s["name"]]')" "default" \
            "typenames.is_public default '\"0\"': named in skipped with the reason"
        check_eq "$(q_try "$url" "INSERT INTO typenames(name) VALUES ('x') RETURNING coalesce(is_public::text, '<null>')")" "<null>" \
            "typenames.is_public: no default left behind"
    fi
    # current_date into a datetime column: today's UTC date (at midnight if the column is a timestamp)
    local today
    today=$(date -u +%Y-%m-%d)
    got=$(q_try "$url" "INSERT INTO currentdate(id) VALUES (2) RETURNING my_value::text")
    case "$(coltype "$url" currentdate my_value)" in
    timestamp*) check_eq "$got" "$today 00:00:00" "currentdate.my_value default current_date: today's date (UTC) at midnight, as SQLite's current_date" ;;
    *) check_eq "$got" "$today" "currentdate.my_value default current_date: today's date (UTC)" ;;
    esac
    # strftime('%Y-%m-%d %H:%M:%f','now') into TIMESTAMP: now, UTC
    got=$(q_try "$url" "INSERT INTO appointments DEFAULT VALUES RETURNING abs(extract(epoch FROM (time - (now() AT TIME ZONE 'UTC'))))::int")
    check_eq "$got" 0 "appointments.time default strftime(...,'now'): the current UTC time"
    got=$(q_try "$url" "INSERT INTO datetime_default(i) VALUES (4) RETURNING abs(extract(epoch FROM (foo::timestamp - localtimestamp)))::int < 2")
    check_eq "$got" t "datetime_default.foo default DATETIME('now','localtime'): the current local time"
    # names
    check_eq "$(q_try "$url" "SELECT count(*) FROM tablename")/$(q_try "$url" "SELECT count(*) FROM \"references\"")" "0/0" "TableName and references: empty tables there"
}

# --- test_pk.db ---------------------------------------------------------------------

case_test_pk() {
    local src url rep
    src=$(fixture test_pk.db)
    url=$(newdb testpk)
    rep=$U/out/test_pk.json
    migrate_full "$src" "$url" "$rep" || return 0
    check_eq "$(q "$url" "SELECT string_agg(tablename, ' ' ORDER BY tablename COLLATE \"C\") FROM pg_tables WHERE schemaname = 'public'")" "division division_kind" "test_pk: 2 tables"
    check_eq "$(q "$url" "SELECT string_agg(x, ' ; ' ORDER BY x COLLATE \"C\") FROM (SELECT conrelid::regclass::text || ':' || pg_get_constraintdef(oid) AS x FROM pg_constraint WHERE contype = 'p' AND connamespace = 'public'::regnamespace) s")" \
        "division:PRIMARY KEY (division_id) ; division_kind:PRIMARY KEY (division_kind_id)" "test_pk: 2 primary keys"
    check_eq "$(q "$url" "SELECT string_agg(conrelid::regclass::text || ':' || pg_get_constraintdef(oid), ' ; ') FROM pg_constraint WHERE contype = 'f' AND connamespace = 'public'::regnamespace")" \
        "division:FOREIGN KEY (division_kind_id) REFERENCES division_kind(division_kind_id)" "test_pk: 1 foreign key"
    check_eq "$(q "$url" "SELECT (SELECT count(*) FROM division) + (SELECT count(*) FROM division_kind)")" 0 "test_pk: 0 rows"
    compare schema "$src" "$url" "test_pk: structure as in SQLite; report true" --report "$rep"
    check_match "$(q_try "$url" "INSERT INTO division(division_kind_id) VALUES (42)")" "ERROR: .*foreign key" "test_pk: the FK acts on the empty tables"
    check_eq "$(q_try "$url" "INSERT INTO division_kind DEFAULT VALUES RETURNING division_kind_id")" 1 "test_pk: INTEGER PRIMARY KEY of an empty table starts at 1"
}

run_case chinook case_chinook
run_case sqlite_db case_sqlite_db
run_case test_pk case_test_pk
ml_finish
