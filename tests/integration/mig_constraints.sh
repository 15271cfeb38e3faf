#!/usr/bin/env bash
# pgboot migrate: constraints, defaults, indexes, generated columns, WITHOUT
# ROWID, views, triggers and FTS5 (tests/support/mig_mkdb.py constraints
# builds the SQLite file). Each constraint is checked twice: in the catalog,
# and by what it does (a violating INSERT fails, a cascade cascades, a
# deferred FK waits for COMMIT, a search finds the row).
set -euo pipefail
. "$(dirname "$0")/mig_lib.sh"

ml_setup
ml_server

SRC=$U/src/constraints.db
"$PY" "$MKDB" constraints "$SRC"
user_own "$SRC"
URL=$(newdb cons)
REP=$U/out/cons.json

case_migrate() {
    pgb migrate --sqlite "$SRC" --to "$URL" --verify full --report "$REP"
    check_rc 0 "migrate the constraints database"
    [[ $RC == 0 ]] || return 0
    echo 1 >"$T/migrated"
    local out rc=0
    out=$("$PY" "$COMPARE" data --sqlite "$SRC" --url "$URL" 2>&1) || rc=$?
    if [[ $rc == 0 ]]; then ok "every value equal: $(tail -n1 <<<"$out")"; else nok "values differ: $(grep -E '^(PROBLEM|ERROR)' <<<"$out" | head)"; fi
    rc=0
    out=$("$PY" "$COMPARE" schema --sqlite "$SRC" --url "$URL" --report "$REP" 2>&1) || rc=$?
    echo "$out" | grep -v '^ok: ' | sed 's/^/    /'
    if [[ $rc == 0 ]]; then ok "keys, NOT NULL, FKs, indexes as in SQLite (or in skipped); report true"; else nok "structure differs: $(grep -E '^(PROBLEM|ERROR)' <<<"$out" | head)"; fi
}

migrated() { [[ -f "$T/migrated" ]]; }

# skipped_has KIND NAME-ERE: the report's skipped entries of KIND whose name matches, "name: reason" each.
skipped_of() { rj "$REP" "'\n'.join(s['name'] + ': ' + s['reason'] for s in d['skipped'] if s['kind'] == '$1')"; }

# expect_refused DESC SQL ERE: the statement fails with an error matching ERE.
expect_refused() {
    check_match "$(q_try "$URL" "$2")" "^ERROR: .*$3" "$1"
}

case_keys() {
    migrated || return 0
    check_eq "$(q "$URL" "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'comp'::regclass AND contype = 'p'")" "PRIMARY KEY (a, b)" "composite primary key"
    check_eq "$(q "$URL" "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'kv'::regclass AND contype = 'p'")" "PRIMARY KEY (k)" "WITHOUT ROWID table: its primary key"
    check_eq "$(q "$URL" "SELECT string_agg(k || ':' || encode(v, 'hex'), ',' ORDER BY k) FROM kv")" "alpha:00ff" "WITHOUT ROWID table: rows and bytes (NULL blob left out of the agg)"
    check_eq "$(q "$URL" "SELECT count(*) FROM pg_constraint WHERE conrelid = 'tk'::regclass AND contype = 'p'")/$(q_try "$URL" "SELECT x FROM tk_pkey")" "1/7" \
        "table tk keeps its primary key although a table named tk_pkey exists (and keeps its row)"
    expect_refused "UNIQUE (code): a duplicate is refused" "INSERT INTO parent (id, code) VALUES (50, 'abc-code')" "duplicate key"
    expect_refused "UNIQUE (b, c): a duplicate pair is refused" "INSERT INTO comp VALUES (9, 'one', 10)" "duplicate key"
    check_eq "$(q_try "$URL" "INSERT INTO comp VALUES (9, 'one', 11) RETURNING a")" 9 "UNIQUE (b, c): another pair is fine"
    expect_refused "composite PK: a duplicate is refused" "INSERT INTO comp VALUES (1, 'one', 99)" "duplicate key"
    expect_refused "NOT NULL code: NULL refused" "INSERT INTO parent (id, code) VALUES (51, NULL)" "null value"
    expect_refused "NOT NULL on the WITHOUT ROWID table" "INSERT INTO kv (k) VALUES ('gamma')" "null value"
    expect_refused "NOT NULL qty with DEFAULT: explicit NULL refused" "INSERT INTO child (id, qty) VALUES (60, NULL)" "null value"
}

case_checks() {
    migrated || return 0
    expect_refused "CHECK (qty > 0)" "INSERT INTO child (id, qty) VALUES (61, 0)" "check constraint"
    expect_refused "table CHECK (price >= 0)" "INSERT INTO child (id, price) VALUES (62, -1)" "check constraint"
    expect_refused "CHECK (length(code) <= 10)" "INSERT INTO parent (id, code) VALUES (52, 'eleven-char')" "check constraint"
    check_eq "$(q_try "$URL" "INSERT INTO child (id, qty, price) VALUES (63, 2, 0) RETURNING id")" 63 "a row within the CHECKs is accepted"
    check_match "$(skipped_of check)" "typeof.*: .+" "CHECK (typeof(id) = 'integer'): in skipped with a reason"
    check_match "$(skipped_of check)" "code != 0.*operator does not exist" "CHECK (code != 0): in skipped with PostgreSQL's reason"
}

case_defaults() {
    migrated || return 0
    local row today
    today=$(date -u +%Y-%m-%d)
    row=$(q_try "$URL" "INSERT INTO child (id) VALUES (100) RETURNING
        qty, float8send(price), label, quote,
        abs(extract(epoch FROM created - (now() AT TIME ZONE 'UTC'))) < 5,
        created_txt ~ '^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$' AND abs(extract(epoch FROM created_txt::timestamp - (now() AT TIME ZONE 'UTC'))) < 5,
        created_date, created_time ~ '^\d\d:\d\d:\d\d$',
        dt_now ~ '^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$' AND abs(extract(epoch FROM dt_now::timestamp - (now() AT TIME ZONE 'UTC'))) < 5,
        abs(epoch - extract(epoch FROM now())) < 5, neg, big, float8send(flt), flag, coalesce(rnd::text, '<null>')")
    IFS='|' read -r qty price label quote created ctxt cdate ctime dtnow epoch neg big flt flag rnd <<<"$row"
    check_eq "$qty" 1 "DEFAULT 1"
    check_eq "$price" '\x4023fae147ae147b' "DEFAULT 9.99 (double, bit for bit)"
    check_eq "$label" none "DEFAULT 'none'"
    check_eq "$quote" "it's" "DEFAULT 'it''s' (quote inside)"
    check_eq "$created" t "DEFAULT CURRENT_TIMESTAMP into DATETIME: now, UTC"
    check_eq "$ctxt" t "DEFAULT CURRENT_TIMESTAMP into TEXT: 'YYYY-MM-DD HH:MM:SS', now UTC"
    check_eq "$cdate" "$today" "DEFAULT CURRENT_DATE into DATE: today (UTC)"
    check_eq "$ctime" t "DEFAULT CURRENT_TIME into TEXT: 'HH:MM:SS'"
    check_eq "$dtnow" t "DEFAULT (datetime('now')) into TEXT: 'YYYY-MM-DD HH:MM:SS', now UTC"
    check_eq "$epoch" t "DEFAULT (strftime('%s','now')) into INTEGER: epoch seconds now"
    check_eq "$neg" -5 "DEFAULT -5"
    check_eq "$big" 9007199254740993 "DEFAULT 9007199254740993 (not through a double)"
    check_eq "$flt" '\x3f50624dd2f1a9fc' "DEFAULT 1e-3"
    check_eq "$flag" f "DEFAULT 0 into BOOLEAN: false"
    if [[ "$rnd" == "<null>" ]]; then
        check_match "$(skipped_of default)" "rnd: .+" "DEFAULT (random()) left out: in skipped with a reason"
    else
        # SQLite's random() is a 64-bit integer; PostgreSQL's random() is in [0,1)
        check_py "DEFAULT (random()) gives 64-bit random integers, as in SQLite" '
import sys
v = int(sys.argv[1])
if abs(v) <= 1: print("got %d: looks like PostgreSQL random() in [0,1) cast to bigint" % v)' "$rnd"
    fi
    # the defaults of existing rows were not applied over their values
    check_eq "$(q "$URL" "SELECT coalesce(label, '<null>') || '|' || coalesce(created::text, '<null>') FROM child WHERE id = 3")" "<null>|<null>" "explicit NULLs stay NULL"
}

case_foreign_keys() {
    migrated || return 0
    local got
    got=$(q "$URL" "SELECT string_agg(x, ' ; ' ORDER BY x COLLATE \"C\") FROM (SELECT conrelid::regclass::text || ': ' || pg_get_constraintdef(oid) AS x FROM pg_constraint WHERE contype = 'f' AND connamespace = 'public'::regnamespace) s")
    check_contains "$got" "child: FOREIGN KEY (parent_id) REFERENCES parent(id) ON UPDATE SET NULL ON DELETE CASCADE" "FK ON DELETE CASCADE ON UPDATE SET NULL"
    check_contains "$got" "child: FOREIGN KEY (parent_code) REFERENCES parent(code) ON DELETE RESTRICT DEFERRABLE INITIALLY DEFERRED" "FK ON DELETE RESTRICT DEFERRABLE INITIALLY DEFERRED"
    check_contains "$got" "comp_ref: FOREIGN KEY (x, y) REFERENCES comp(a, b) ON UPDATE CASCADE ON DELETE SET DEFAULT" "composite FK ON UPDATE CASCADE ON DELETE SET DEFAULT"
    check_contains "$got" "implicit_ref: FOREIGN KEY (p) REFERENCES parent(id)" "REFERENCES PARENT (no columns, other case) -> parent(id)"
    check_match "$got" "orphan_child: FOREIGN KEY \(parent_id\) REFERENCES parent\(id\) NOT VALID" "FK with orphan rows: kept NOT VALID"
    check_eq "$(q "$URL" "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND connamespace = 'public'::regnamespace")" 5 "5 foreign keys"
    check_match "$(rj "$REP" '"\n".join(d["warnings"])')" "orphan_child" "FK with orphan rows: a warning names the table"
    check_eq "$(q "$URL" "SELECT string_agg(id || ':' || parent_id, ',' ORDER BY id) FROM orphan_child")" "1:1,2:999" "the orphan row is kept"
    expect_refused "the NOT VALID FK is enforced for new rows" "INSERT INTO orphan_child VALUES (3, 12345)" "foreign key"

    # what they do
    got=$(q_script "$URL" <<'EOF' 2>&1 || true
BEGIN;
DELETE FROM parent WHERE id = 3;
SELECT 'cascade:' || count(*) FROM child WHERE id = 3;
ROLLBACK;
BEGIN;
UPDATE parent SET id = 33 WHERE id = 3;
SELECT 'setnull:' || coalesce(parent_id::text, 'null') FROM child WHERE id = 3;
ROLLBACK;
BEGIN;
DELETE FROM comp WHERE a = 2 AND b = 'two';
SELECT 'setdefault:' || string_agg(x || '/' || y, ',' ORDER BY x) FROM comp_ref;
ROLLBACK;
BEGIN;
UPDATE comp SET a = 333 WHERE a = 3;
SELECT 'updcascade:' || string_agg(x || '/' || y, ',' ORDER BY x) FROM comp_ref;
ROLLBACK;
BEGIN;
INSERT INTO child (id, parent_code) VALUES (300, 'late-code');
INSERT INTO parent (id, code) VALUES (300, 'late-code');
COMMIT;
SELECT 'deferred:' || count(*) FROM child WHERE id = 300;
EOF
)
    check_contains "$got" "cascade:0" "ON DELETE CASCADE: deleting the parent deletes the child"
    check_contains "$got" "setnull:null" "ON UPDATE SET NULL: changing the parent key sets the child's to NULL"
    check_contains "$got" "setdefault:1/one,3/three" "ON DELETE SET DEFAULT (composite): the child gets the defaults (1, 'one')"
    check_contains "$got" "updcascade:2/two,333/three" "ON UPDATE CASCADE (composite): the child follows"
    check_contains "$got" "deferred:1" "DEFERRABLE INITIALLY DEFERRED: the parent may come later in the transaction"
    expect_refused "deferred FK: still checked at COMMIT" "INSERT INTO child (id, parent_code) VALUES (301, 'never')" "foreign key"
    expect_refused "ON DELETE RESTRICT: a referenced parent cannot go" "DELETE FROM parent WHERE id = 1" "foreign key"
}

case_indexes() {
    migrated || return 0
    local idx
    idx=$(q "$URL" "SELECT indexname || ': ' || indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1")
    check_match "$idx" "child_partial: CREATE INDEX child_partial ON public\.child USING btree \(qty\) WHERE \(qty > 10\)" "partial index with its WHERE"
    check_match "$idx" "child_expr: CREATE INDEX child_expr ON public\.child USING btree \(lower\(\(label COLLATE \"C\"\)\)\)" "expression index lower(label): ASCII folding, as SQLite's lower()"
    check_match "$idx" "child_multi: CREATE INDEX child_multi ON public\.child USING btree \(parent_id DESC, qty\)" "multi-column index with DESC"
    check_match "$idx" "parent_name_nocase: CREATE UNIQUE INDEX parent_name_nocase ON public\.parent USING btree \(lower\(\(name COLLATE \"C\"\)\)\)" "COLLATE NOCASE unique index -> unique on lower(name COLLATE \"C\") (ASCII folding, as SQLite)"
    expect_refused "COLLATE NOCASE unique: 'ABC' refused when 'abc' exists" "INSERT INTO parent (id, code, name) VALUES (70, 'x', 'ABC')" "duplicate key"
    # nc: 'Émile' and 'émile' are distinct under SQLite's NOCASE (ASCII only)
    if grep -q "^nc_name:" <<<"$idx"; then
        check_eq "$(q "$URL" "SELECT count(*) FROM nc")" 3 "nc: NOCASE index kept and all rows there"
    else
        check_match "$(skipped_of index)" "nc_name: .+" "nc: the NOCASE unique index PostgreSQL cannot build is in skipped with the reason"
        check_eq "$(q "$URL" "SELECT count(*) FROM nc")" 3 "nc: all rows there"
    fi
    check_py "the planner can use the partial index" '
import sys
if "child_partial" not in sys.argv[1]: print("plan: " + sys.argv[1])' "$(q "$URL" "SET enable_seqscan = off; EXPLAIN SELECT id FROM child WHERE qty > 10" | tr '\n' ' ')"
}

case_generated() {
    migrated || return 0
    check_eq "$(q "$URL" "SELECT attname || ':' || attgenerated::text FROM pg_attribute WHERE attrelid = 'gen'::regclass AND attname = 's'")" "s:s" "STORED generated column is generated in PostgreSQL"
    check_eq "$(q_try "$URL" "INSERT INTO gen (a, b) VALUES (2, 3) RETURNING s")" 5 "generated column computes a + b"
    expect_refused "a generated column cannot be written" "INSERT INTO gen (a, b, s) VALUES (1, 1, 7)" "generated"
    check_eq "$(q "$URL" "SELECT string_agg(a || '+' || b || '=' || s, ',' ORDER BY a) FROM gen WHERE a IN (1, 10)")" "1+2=3,10+20=30" "migrated rows' generated values"
    local v
    v=$(q "$URL" "SELECT attgenerated FROM pg_attribute WHERE attrelid = 'gen'::regclass AND attname = 'v'")
    if [[ "$v" == s ]]; then
        check_eq "$(q_try "$URL" "INSERT INTO gen (a, b) VALUES (21, 0) RETURNING v")" 42 "VIRTUAL generated column -> STORED, computes a * 2"
    else
        check_match "$(rj "$REP" 'col("gen","v").get("reason") or ""')$(skipped_of generated)" "." "VIRTUAL generated column not generated: the report says why"
    fi
}

# SQLite's JSON functions in the schema (a generated column, an expression
# index), in a file of their own: the file opens, the values SQLite computed
# arrive; translated, or a plain column / skipped index with the reason
case_json_in_schema() {
    local src=$U/src/jsongen.db url rep gk
    "$PY" "$MKDB" jsongen "$src"
    user_own "$src"
    url=$(newdb jsongen)
    rep=$U/out/jsongen.json
    pgb migrate --sqlite "$src" --to "$url" --verify full --report "$rep"
    check_rc 0 "a file with json_extract() in a generated column and an index migrates"
    [[ $RC == 0 ]] || return 0
    check_eq "$(q_try "$url" "SELECT string_agg(coalesce(k, '<null>'), ',' ORDER BY id) FROM gen2")" "v1,2,<null>" "gen2.k (json_extract): the values SQLite computed are there"
    check_eq "$(q_try "$url" "SELECT string_agg(coalesce(up, '<null>'), ',' ORDER BY id) FROM gen2")" '{"K": "V1"},{"K": 2},<null>' "gen2.up (upper, STORED): values"
    gk=$(q "$url" "SELECT attgenerated::text FROM pg_attribute WHERE attrelid = 'gen2'::regclass AND attname = 'k'")
    if [[ "$gk" == s ]]; then
        check_eq "$(q_try "$url" "INSERT INTO gen2 (doc) VALUES ('{\"k\": \"new\"}') RETURNING k")" new "gen2.k translated: computes json_extract"
    else
        check_match "$(rj "$rep" 'col("gen2","k").get("reason") or ""')$(rj "$rep" '[s for s in d["skipped"] if "gen2" in s["name"]]')" "[a-z]" "gen2.k not generated in PostgreSQL: the report says why"
    fi
    check_match "$(q "$url" "SELECT coalesce(string_agg(indexname, ','), '') FROM pg_indexes WHERE tablename = 'gen2'")$(rj "$rep" '[s["reason"] for s in d["skipped"] if s["name"] == "gen2_doc_k"]')" "gen2_doc_k|[a-z]{3}" \
        "the json_extract index: created or in skipped with a reason"
}

case_views_triggers() {
    migrated || return 0
    check_eq "$(q_try "$URL" "SELECT string_agg(id::text, ',' ORDER BY id) FROM big_orders")" "2,3" "view big_orders works"
    if [[ "$(q "$URL" "SELECT count(*) FROM pg_views WHERE viewname = 'lite_only'")" == 1 ]]; then
        check_eq "$(q_try "$URL" "SELECT padded FROM lite_only WHERE id = 2")" 00020 "view lite_only translated and right"
    else
        check_match "$(skipped_of view)" "lite_only: .+" "view with SQLite-only functions: in skipped with a reason"
    fi
    check_match "$(skipped_of view)" "with_rowid: .*rowid" "view using rowid: in skipped with PostgreSQL's reason"
    if [[ "$(q "$URL" "SELECT count(*) FROM pg_views WHERE viewname IN ('bracketed', 'Bracketed')")" == 1 ]]; then
        check_eq "$(q_try "$URL" "SELECT string_agg(\"code name\", ',' ORDER BY id) FROM bracketed")" "abc-code,def-code" "view with [bracket] names translated (names folded) and right"
    else
        check_match "$(skipped_of view)" "(B|b)racketed: .+" "view with [bracket] names: in skipped with a reason"
    fi
    check_match "$(skipped_of trigger)" "child_touch: .+" "trigger: in skipped with a reason"
    check_eq "$(q "$URL" "SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid WHERE NOT t.tgisinternal AND c.relnamespace = 'public'::regnamespace")" 0 "no trigger created"
}

case_fts() {
    migrated || return 0
    # external content: a generated tsvector column named after the FTS table on docs, GIN index
    check_eq "$(coltype "$URL" docs docs_fts)" tsvector "external-content FTS5: docs.docs_fts is a tsvector"
    check_eq "$(q "$URL" "SELECT attgenerated FROM pg_attribute WHERE attrelid = 'docs'::regclass AND attname = 'docs_fts'")" s "docs.docs_fts is generated (stored)"
    check_match "$(q "$URL" "SELECT indexdef FROM pg_indexes WHERE tablename = 'docs'")" "USING gin \(docs_fts\)" "docs.docs_fts has a GIN index"
    check_eq "$(q_try "$URL" "SELECT string_agg(id::text, ',' ORDER BY id) FROM docs WHERE docs_fts @@ to_tsquery('simple', 'quartz')")" 1 "a to_tsquery search finds the quartz doc"
    check_eq "$(q_try "$URL" "SELECT string_agg(id::text, ',' ORDER BY id) FROM docs WHERE docs_fts @@ to_tsquery('simple', 'stripes')")" 2 "a search on the body finds the zebra doc"
    check_eq "$(q_try "$URL" "INSERT INTO docs (title, body) VALUES ('New', 'quartz again') RETURNING id")" 4 "a new doc gets the next id"
    check_eq "$(q_try "$URL" "SELECT string_agg(id::text, ',' ORDER BY id) FROM docs WHERE docs_fts @@ to_tsquery('simple', 'quartz')")" "1,4" "the new doc is searchable at once"
    check_eq "$(q "$URL" "SELECT count(*) FROM pg_class WHERE relname = 'docs_fts' AND relkind IN ('r','v','m')")" 0 "no table docs_fts"
    # a normal FTS5 table: a table of its own
    check_eq "$(q "$URL" "SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum) FROM pg_attribute WHERE attrelid = 'notes'::regclass AND attnum > 0 AND NOT attisdropped")" \
        "rowid bigint, subject text, text text, fts tsvector" "normal FTS5: table notes(rowid bigint, subject, text, fts tsvector)"
    check_eq "$(q "$URL" "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'notes'::regclass AND contype = 'p'")" "PRIMARY KEY (rowid)" "notes: rowid is the primary key"
    check_match "$(q "$URL" "SELECT indexdef FROM pg_indexes WHERE tablename = 'notes'")" "USING gin \(fts\)" "notes.fts has a GIN index"
    check_eq "$(q "$URL" "SELECT string_agg(rowid || '|' || subject || '|' || text, ';' ORDER BY rowid) FROM notes")" "10|meeting|discuss the quartz budget;20|lunch|zebra cafe" "notes: its rows, with their rowids"
    check_eq "$(q_try "$URL" "SELECT rowid FROM notes WHERE fts @@ to_tsquery('simple', 'zebra')")" 20 "notes: a search finds the row"
    check_eq "$(q_try "$URL" "INSERT INTO notes (subject, text) VALUES ('s', 't') RETURNING rowid")" 21 "notes: the next rowid after 20"
    # contentless: skipped
    check_match "$(rj "$REP" '"\n".join(s["kind"] + " " + s["name"] + ": " + s["reason"] for s in d["skipped"] if s["name"] == "contentless")')" "contentless: .+" \
        "contentless FTS5: in skipped with a reason"
    check_eq "$(q "$URL" "SELECT count(*) FROM pg_class WHERE relname = 'contentless'")" 0 "contentless FTS5: no table"
    # shadow tables never migrated
    check_eq "$(q "$URL" "SELECT coalesce(string_agg(relname, ','), '') FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r' AND relname ~ '_(data|idx|content|docsize|config)$'")" "" \
        "no FTS shadow table in PostgreSQL"
}

run_case migrate case_migrate
run_case keys case_keys
run_case checks case_checks
run_case defaults case_defaults
run_case foreign_keys case_foreign_keys
run_case indexes case_indexes
run_case generated case_generated
run_case json_in_schema case_json_in_schema
run_case views_triggers case_views_triggers
run_case fts case_fts
ml_finish
