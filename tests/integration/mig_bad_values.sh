#!/usr/bin/env bash
# pgboot migrate and values that cannot be stored as declared: text in an
# INTEGER column, a fractional number in an INTEGER column, a blob in TEXT,
# invalid UTF-8 in TEXT, NUL in TEXT, text in REAL
# (tests/support/mig_mkdb.py bad: table "mixed", row k holds the bad value of
# column k, rows 7-9 are clean, row 10 has two bad cells; table "fine" is
# clean). Under --on-error strict (the default), widen and reject.
set -euo pipefail
. "$(dirname "$0")/mig_lib.sh"

ml_setup
ml_server

BAD_DB=$U/src/bad.db
MANY_DB=$U/src/many.db
"$PY" "$MKDB" bad "$BAD_DB"
"$PY" "$MKDB" bad "$MANY_DB" 25
user_own "$U/src"
BAD_SHA=$(sha256sum "$BAD_DB" | cut -d' ' -f1)

# the six kinds: column, rowid, what the reason must say (ERE, case-insensitive)
KINDS=(
    "i_text 1 text.*integer"
    "i_frac 2 fraction.*integer"
    "t_blob 3 blob.*text"
    "t_utf8 4 utf-?8"
    "t_nul 5 nul"
    "r_text 6 text.*(real|double)"
)

case_strict() {
    local url k col rowid why line
    url=$(newdb strict)
    pgb migrate --sqlite "$BAD_DB" --to "$url" --json
    check_rc 1 "strict (default): bad values fail the migration"
    check_untouched "$url" "strict"
    check_contains "$ERR" "$BAD_DB" "the message names the file"
    check_match "$ERR" "widen" "the message names --on-error widen"
    check_match "$ERR" "reject" "the message names --on-error reject"
    for k in "${KINDS[@]}"; do
        read -r col rowid why <<<"$k"
        # table, rowid, column and a reason, in the message
        line=$(grep -o -E "mixed[^;]*${col}[^;]*" <<<"$ERR" | head -1 || true)
        check_match "$line" "rowid $rowid|$rowid" "strict message: mixed.$col cell (rowid $rowid) listed"
        check_imatch "$line" "$why" "strict message: mixed.$col has its reason"
    done
    check_contains "$ERR" "'abc'" "strict message: the excerpt of the text in INTEGER"
    check_contains "$ERR" "'not a number'" "strict message: the excerpt of the text in REAL"
    # the report on stdout (--json) lists the cells
    check_py "--json report: bad_values has each cell {table, rowid, column, value, reason, type}" '
import json, re, sys
d = json.load(open(sys.argv[1]))
bv = d.get("bad_values") or []
want = {("i_text", 1): "abc", ("i_frac", 2): "2.5", ("t_blob", 3): None, ("t_utf8", 4): None, ("t_nul", 5): None,
        ("r_text", 6): "not a number", ("i_text", 10): "xyz", ("t_blob", 10): None}
got = {}
for b in bv:
    for k in ("table", "rowid", "column", "value", "reason", "type"):
        if k not in b:
            print("entry without %s: %r" % (k, b))
    got[(b.get("column"), b.get("rowid"))] = b
for key, v in want.items():
    if key not in got:
        if key[1] != 10 or key[0] == "i_text":
            print("cell %s rowid %d missing" % key)
        continue
    b = got[key]
    if b.get("table") != "mixed":
        print("cell %s: table %r" % (key, b.get("table")))
    if v is not None and b.get("value") != v:
        print("cell %s: value %r, expected %r" % (key, b.get("value"), v))
    if not b.get("reason"):
        print("cell %s: no reason" % (key,))
extra = [k for k in got if k not in want]
if extra:
    print("unexpected cells: %r" % extra)
' "$T/.out"
    check_eq "$(sha256sum "$BAD_DB" | cut -d' ' -f1)" "$BAD_SHA" "the source file is unchanged"
}

case_strict_many() {
    local url n
    url=$(newdb strictmany)
    pgb migrate --sqlite "$MANY_DB" --to "$url" --json
    check_rc 1 "strict with 33 bad cells"
    check_untouched "$url" "strict, many bad cells"
    check_eq "$(rj "$T/.out" 'len(d.get("bad_values") or [])')" 20 "the report lists 20 cells (the cap)"
    n=$(grep -o -E "rowid [0-9]+" <<<"$ERR" | wc -l)
    if ((n >= 1 && n <= 20)); then ok "the message lists $n cells (at most 20)"; else nok "the message lists $n cells (expected 1..20)"; fi
    check_match "$ERR" "33" "the message gives the total number of bad values (33)"
}

case_widen() {
    local url rep
    url=$(newdb widen)
    rep=$U/out/widen.json
    pgb migrate --sqlite "$BAD_DB" --to "$url" --on-error widen --verify full --report "$rep"
    check_rc 0 "--on-error widen"
    [[ $RC == 0 ]] || return 0
    check_eq "$(coltype "$url" mixed i_text)" text "text in INTEGER: the column becomes text"
    check_eq "$(coltype "$url" mixed i_frac)" numeric "fractional in INTEGER: the column becomes numeric"
    check_eq "$(coltype "$url" mixed t_blob)" bytea "blob in TEXT: the column becomes bytea"
    check_eq "$(coltype "$url" mixed t_utf8)" bytea "invalid UTF-8 in TEXT: bytea"
    check_eq "$(coltype "$url" mixed t_nul)" bytea "NUL in TEXT: bytea"
    check_eq "$(coltype "$url" mixed r_text)" text "text in REAL: text"
    check_eq "$(coltype "$url" mixed note)/$(coltype "$url" fine v)" "text/text" "clean columns keep their types"
    local c
    for c in i_text i_frac t_blob t_utf8 t_nul r_text; do
        check_match "$(rj "$rep" "col('mixed','$c').get('reason') or ''")" "^widened" "$c: the report's reason starts with 'widened'"
    done
    check_eq "$(q "$url" "SELECT string_agg(i_text, ',' ORDER BY id) FROM mixed")" "abc,7,7,7,7,7,7,7,7,xyz" "i_text values exactly"
    check_eq "$(q "$url" "SELECT string_agg(i_frac::text, ',' ORDER BY id) FROM mixed")" "8,2.5,8,8,8,8,8,8,8,8" "i_frac values exactly"
    check_eq "$(q "$url" "SELECT encode(t_blob, 'hex') || '|' || encode(t_utf8, 'hex') || '|' || encode(t_nul, 'hex') FROM mixed WHERE id = 3")" "deadbeef00|636166c3a9|6f6b" "row 3 bytes exactly (blob; text as UTF-8 bytes)"
    check_eq "$(q "$url" "SELECT encode(t_utf8, 'hex') || '|' || (SELECT encode(t_nul, 'hex') FROM mixed WHERE id = 5) FROM mixed WHERE id = 4")" "61ff62c328|61006200" "invalid UTF-8 and NUL bytes exactly"
    check_eq "$(q "$url" "SELECT string_agg(r_text, ',' ORDER BY id) FROM mixed WHERE id IN (5, 6, 10)")" "0.30000000000000004,not a number,1.5" "r_text values exactly (the double round-trips)"
    compare_data "$BAD_DB" "$url" "widen: every value equal"
}

# rejects_check FILE: the rejects file holds exactly rows 1-6 and 10, each
# with its key, column, reason and the whole row as SQLite holds it.
rejects_check() {
    check_py "$2: rejects/mixed.jsonl: one object per rejected row (1-6, 10), key, column, reason, the row exactly" '
import base64, json, sqlite3, sys
path, src = sys.argv[1], sys.argv[2]
try:
    lines = [l for l in open(path, "rb").read().split(b"\n") if l.strip()]
except OSError as e:
    print("cannot read %s: %s" % (path, e)); sys.exit(0)
c = sqlite3.connect("file:%s?mode=ro" % src, uri=True)
c.text_factory = bytes
cols = [r[1].decode() for r in c.execute("PRAGMA table_info(mixed)")]
want = {1: "i_text", 2: "i_frac", 3: "t_blob", 4: "t_utf8", 5: "t_nul", 6: "r_text", 10: ("i_text", "t_blob")}
seen = set()
for l in lines:
    o = json.loads(l)
    for k in ("table", "key", "column", "reason", "row"):
        if k not in o:
            print("line without %s: %r" % (k, o))
    if o.get("table") != "mixed":
        print("table %r" % o.get("table"))
    key = o.get("key")
    if key in seen:
        print("row %r rejected twice" % key)
    seen.add(key)
    if key not in want:
        print("row %r should not be rejected" % key); continue
    w = want[key]
    if (o.get("column") not in w) if isinstance(w, tuple) else (o.get("column") != w):
        print("row %r: column %r, expected %r" % (key, o.get("column"), w))
    if not o.get("reason"):
        print("row %r: no reason" % key)
    row = o.get("row") or {}
    for name in cols:
        st, v = c.execute("SELECT typeof(%s), %s FROM mixed WHERE id = ?" % (name, name), (key,)).fetchone()
        st = st.decode()
        cell = row.get(name)
        if cell is None:
            print("row %r: column %s missing from row" % (key, name)); continue
        if cell.get("type") != st:
            print("row %r %s: type %r, SQLite has %r" % (key, name, cell.get("type"), st))
        if "base64" in cell:
            got = base64.b64decode(cell["base64"])
        elif "value" in cell:
            got = cell["value"]
        else:
            print("row %r %s: neither value nor base64" % (key, name)); continue
        if st == "integer":
            ok = int(got) == v
        elif st == "real":
            ok = float(got).hex() == v.hex()
        elif st in ("text", "blob"):
            ok = (got if isinstance(got, bytes) else got.encode("utf-8")) == v
        else:
            ok = got is None
        if not ok:
            print("row %r %s: %r, SQLite holds %r" % (key, name, got, v))
missing = set(want) - seen
if missing:
    print("rows not in the rejects file: %r" % sorted(missing))
' "$1" "$BAD_DB"
}

case_reject() {
    local url dir
    url=$(newdb reject1)
    dir=$U/out/reject1
    mkdir -p "$dir"
    user_own "$dir"
    pgb migrate --sqlite "$BAD_DB" --to "$url" --on-error reject --report "$dir/report.json"
    check_rc 1 "--on-error reject without --allow-rejects: exit 1"
    check_match "$ERR" "7 rows" "the message says 7 rows were rejected"
    check_contains "$ERR" "$dir/rejects" "the message says where the rejects are"
    check_path "$dir/rejects/mixed.jsonl" "rejects go to <--report dir>/rejects/mixed.jsonl"
    check_no_path "$dir/rejects/fine.jsonl" "no rejects file for the clean table"
    rejects_check "$dir/rejects/mixed.jsonl" "reject"
    check_eq "$(q_try "$url" "SELECT string_agg(id::text, ',' ORDER BY id) FROM mixed")" "7,8,9" "the clean rows of mixed are migrated"
    check_eq "$(q_try "$url" "SELECT count(*) FROM fine")" 2 "the clean table is migrated"
    check_eq "$(coltype "$url" mixed i_text)/$(coltype "$url" mixed t_utf8)/$(coltype "$url" mixed r_text)" "bigint/text/double precision" "reject keeps the declared types"
    check_eq "$(rj "$dir/report.json" 'd.get("rejected")')/$(rj "$dir/report.json" 'tab("mixed").get("rejected")')" "7/7" \
        "report: rejected 7 (mixed: 7 rejected)"
    # "rows" of a table with rejects: the rows migrated (3) or read (10)
    check_match "$(rj "$dir/report.json" 'tab("mixed").get("rows")')" "^(3|10)$" "report: mixed rows is 3 (migrated) or 10 (read)"
    check_eq "$(mig_count "$url")" 1 "the migration is recorded"
    compare_data "$BAD_DB" "$url" "reject: the migrated rows equal, the rejected ones absent" --missing "mixed=1,2,3,4,5,6,10"

    url=$(newdb reject2)
    dir=$U/out/reject2
    mkdir -p "$dir"
    user_own "$dir"
    pgb migrate --sqlite "$BAD_DB" --to "$url" --on-error reject --allow-rejects --report "$dir/report.json"
    check_rc 0 "--on-error reject --allow-rejects: exit 0"
    rejects_check "$dir/rejects/mixed.jsonl" "reject --allow-rejects"
    check_eq "$(q_try "$url" "SELECT count(*) FROM mixed")/$(q_try "$url" "SELECT count(*) FROM fine")" "3/2" "the rest is migrated"
}

# with --app: the report and the rejects go under <app dir>/migrations/
case_reject_app() {
    local appdir stamp_dir
    appdir=$U/data/$SERVER_APP
    pgb migrate --sqlite "$BAD_DB" --app "$SERVER_APP" --on-error reject --allow-rejects
    check_rc 0 "--app, --on-error reject --allow-rejects"
    stamp_dir=$(find "$appdir/migrations" -mindepth 1 -maxdepth 1 -type d -name '*Z' 2>/dev/null | head -1)
    if [[ -z "$stamp_dir" ]]; then
        nok "no <app dir>/migrations/<stamp>/ directory: $(find "$appdir/migrations" 2>/dev/null | tr '\n' ' ')"
        return 0
    fi
    ok "report dir $stamp_dir"
    check_path "$stamp_dir.json" "the report is <app dir>/migrations/<stamp>.json"
    check_path "$stamp_dir/rejects/mixed.jsonl" "the rejects are in <app dir>/migrations/<stamp>/rejects/"
    rejects_check "$stamp_dir/rejects/mixed.jsonl" "--app"
    check_eq "$(q_try "$SERVER_URL" "SELECT count(*) FROM mixed")" 3 "migrated into the app's database"
}

# Numbers beside blobs in one column: no PostgreSQL type holds both
# exactly, so --on-error widen cannot help; the migration stops (naming the
# cells and --on-error reject), and reject sets the blob's row aside.
case_widen_impossible() {
    local src=$U/src/numblob.db url dir=$U/out/numblob
    "$PY" - "$src" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("CREATE TABLE nb (id INTEGER PRIMARY KEY, v INTEGER)")
c.executemany("INSERT INTO nb VALUES (?, ?)", [(1, 10), (2, b"\x00\xff"), (3, 30)])
c.commit()
PY
    user_own "$U/src"
    url=$(newdb numblob)
    pgb migrate --sqlite "$src" --to "$url" --on-error widen
    check_rc 1 "widen: numbers beside blobs cannot be widened"
    check_contains "$ERR" "cannot be stored exactly by any type" "the error says no type holds them"
    check_match "$ERR" "nb[^;]*(rowid )?1[^;]*v|nb[^;]*v[^;]*1" "the error lists a cell of nb.v"
    check_contains "$ERR" "--on-error reject" "and names --on-error reject"
    check_untouched "$url" "widen refused"
    mkdir -p "$dir"
    user_own "$dir"
    pgb migrate --sqlite "$src" --to "$url" --on-error reject --allow-rejects --report "$dir/report.json"
    check_rc 0 "reject: the declared INTEGER stays bigint, the blob's row is set aside"
    check_eq "$(q "$url" "SELECT string_agg(id || ':' || v, ',' ORDER BY id) FROM nb")" "1:10,3:30" "the number rows are there"
    check_eq "$(wc -l <"$dir/rejects/nb.jsonl")" 1 "the blob row is in rejects/nb.jsonl"
}

run_case strict case_strict
run_case widen_impossible case_widen_impossible
run_case strict_many case_strict_many
run_case widen case_widen
run_case reject case_reject
run_case reject_app case_reject_app
ml_finish
