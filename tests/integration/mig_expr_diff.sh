#!/usr/bin/env bash
# pgboot migrate: translated expressions mean what they mean in SQLite
# (issue 10, item 11). tests/support/mig_expr_diff.py builds SQLite files
# and compares, value by value and type class by type class, what SQLite
# computes with what PostgreSQL computes from pgboot's translation:
#   - the issue's generated columns, substr(card, -4) and round(amount) of a
#     REAL (they gave other values, and --verify full said every value
#     verified);
#   - one view per translated function or operator over a table of edge
#     values (negative and zero arguments, NULLs, blobs, halves, LIKE's
#     case, division by zero, % of reals, min/max with NULLs, ...); what
#     pgboot does not translate is in the report's skipped, by name;
#   - one view per translated date function of the clock ('now' or no time
#     value, 'localtime'), read in SQLite just before and after PostgreSQL
#     with both in one time zone (+05:30);
#   - --verify full reads back generated columns and views: a generated
#     column whose stored values another expression made, and a view whose
#     translation still gives other values, stop the migration.
set -euo pipefail
. "$(dirname "$0")/mig_lib.sh"

ml_setup
ml_server

DIFF=$SUPPORT_DIR/mig_expr_diff.py
for kind in issue all desync viewdiff; do
    "$PY" "$DIFF" mkdb "$U/src/$kind.db" "$kind"
done
user_own "$U/src"

# diff_check SRC URL REPORT DESC: every expression the same on both sides.
diff_check() {
    local out rc=0
    out=$(PSQL=$PSQL "$PY" "$DIFF" compare "$1" "$2" --report "$3" 2>&1) || rc=$?
    if [[ $rc == 0 ]]; then ok "$4: $(tail -n1 <<<"$out")"; else nok "$4: $(grep -E '^(PROBLEM|ERROR|Traceback)' <<<"$out" | head -30)"; fi
}

case_issue() {
    local url rep=$U/out/issue.json
    url=$(newdb issue)
    pgb migrate --sqlite "$U/src/issue.db" --to "$url" --verify full --report "$rep"
    check_rc 0 "the issue's file (substr(card, -4), round(amount)) migrates with --verify full"
    [[ $RC == 0 ]] || return 0
    diff_check "$U/src/issue.db" "$url" "$rep" "the generated columns hold what SQLite computed"
    check_eq "$(q_try "$url" "INSERT INTO gen (id, card, amount) VALUES (100, '99887766', 0.5) RETURNING last4 || ' ' || rounded")" "7766 1" \
        "a new row: substr counts -4 from the end, round(0.5) is 1 (away from zero)"
    check_eq "$(q_try "$url" "INSERT INTO gen (id, card, amount) VALUES (101, 'ab', -2.5) RETURNING last4 || ' ' || rounded")" "ab -3" \
        "a new row: substr(-4) of a shorter text is all of it, round(-2.5) is -3"
}

case_every_function() {
    local url rep=$U/out/all.json
    url=$(newdb allfns)
    pgb migrate --sqlite "$U/src/all.db" --to "$url" --verify full --report "$rep"
    check_rc 0 "the file with a view per function migrates with --verify full (every view's rows verified)"
    [[ $RC == 0 ]] || return 0
    diff_check "$U/src/all.db" "$url" "$rep" "every translated function and operator, and the report"
    check_match "$(rj "$rep" "'\n'.join(d['warnings'])")" "view x_clock was not verified: it reads the clock" \
        "a view that reads the clock is created but not compared, and the report says so"
    check_match "$(rj "$rep" "'\n'.join(d['warnings'])")" "view x_clk_strftime_bare was not verified: it reads the clock" \
        "so is one that reads it with no time value (strftime('%H:%M:%f'), not 'now')"
    check_match "$(rj "$rep" "'\n'.join(s['name'] + ': ' + s['reason'] for s in d['skipped'])")" "x_typeof: .*typeof\(\) has no faithful PostgreSQL equivalent" \
        "an untranslated function is named in the report"
}

case_verify_generated() {
    local url rep=$U/out/desync.json
    url=$(newdb desync)
    pgb migrate --sqlite "$U/src/desync.db" --to "$url" --verify full --report "$rep"
    check_rc 1 "--verify full: a generated column whose values PostgreSQL computes otherwise stops the migration"
    check_contains "$ERR" "verification failed: the generated column(s) last4 of table gen" "the error names the column and the table"
    check_untouched "$url" "after the failed verification"
    pgb migrate --sqlite "$U/src/desync.db" --to "$url" --report "$rep"
    check_rc 0 "--verify counts does not read the values (and migrates)"
}

case_verify_views() {
    local url rep=$U/out/viewdiff.json
    url=$(newdb viewdiff)
    pgb migrate --sqlite "$U/src/viewdiff.db" --to "$url" --verify full --report "$rep"
    check_rc 1 "--verify full: a view whose rows differ in PostgreSQL stops the migration"
    check_contains "$ERR" "verification failed: the rows of view shown" "the error names the view"
    check_untouched "$url" "after the failed verification"
}

# A generated column pgboot cannot translate (typeof(), a date function of a
# column) is created as a plain column holding what SQLite computed: its
# values are data like any other, not lost (they were, before).
case_untranslated_generated() {
    local url rep=$U/out/untr.json db=$U/src/untr.db
    "$PY" - "$db" <<'PYEOF'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("CREATE TABLE ev (id INTEGER PRIMARY KEY, v, at TEXT,"
          " kind TEXT GENERATED ALWAYS AS (typeof(v)) VIRTUAL,"
          " yr TEXT GENERATED ALWAYS AS (strftime('%Y', at)) STORED)")
c.executemany("INSERT INTO ev (id, v, at) VALUES (?, ?, ?)",
              [(1, 5, '2024-03-26 13:17:21'), (2, 'x', '1999-12-31'), (3, None, None), (4, 2.5, '2000-01-01T00:00:00')])
c.commit()
PYEOF
    user_own "$U/src"
    url=$(newdb untr)
    pgb migrate --sqlite "$db" --to "$url" --verify full --report "$rep"
    check_rc 0 "a table with untranslatable generated columns migrates with --verify full"
    [[ $RC == 0 ]] || return 0
    check_eq "$(q "$url" "SELECT string_agg(id || ':' || coalesce(kind, '-') || ':' || coalesce(yr, '-'), ' ' ORDER BY id) FROM ev")" \
        "1:integer:2024 2:text:1999 3:null:- 4:real:2000" "the values SQLite computed are in the plain columns"
    check_match "$(rj "$rep" "'\n'.join(s['name'] + ': ' + s['reason'] for s in d['skipped'])")" \
        "ev.kind: .*plain column holding the values SQLite computed" "the report says the column is plain and holds SQLite's values"
}

# A translated expression PostgreSQL refuses for the types the values chose:
# v holds text beside numbers (text in PostgreSQL), and text * integer,
# abs(text) or text || ... > 0 do not exist there, while SQLite computes
# them. Such a column is created plain, with SQLite's values, as an
# untranslated one is; the expressions PostgreSQL takes stay generated.
case_refused_generated() {
    local url rep=$U/out/refused.json db=$U/src/refused.db
    "$PY" - "$db" <<'PYEOF'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("CREATE TABLE ev (id INTEGER PRIMARY KEY, v, n INTEGER,"
          " twice GENERATED ALWAYS AS (v * 2) STORED,"
          " mag GENERATED ALWAYS AS (abs(v)) VIRTUAL,"
          " n2 INTEGER GENERATED ALWAYS AS (n * 2) STORED)")
c.executemany("INSERT INTO ev (id, v, n) VALUES (?, ?, ?)", [(1, 3, 1), (2, 'abc', 2), (3, None, None), (4, '-4', 4)])
c.commit()
PYEOF
    user_own "$U/src"
    url=$(newdb refusedgen)
    pgb migrate --sqlite "$db" --to "$url" --verify full --report "$rep"
    check_rc 0 "generated columns PostgreSQL refuses for the columns' types: the migration goes on"
    [[ $RC == 0 ]] || return 0
    check_eq "$(q "$url" "SELECT string_agg(id || ':' || coalesce(twice::text, '-') || ':' || coalesce(mag::text, '-') || ':' || coalesce(n2::text, '-'), ' ' ORDER BY id) FROM ev")" \
        "1:6:3:2 2:0:0:4 3:-:-:- 4:-8:4:8" "the values SQLite computed are in the plain columns (mag: double precision)"
    check_eq "$(q "$url" "SELECT string_agg(attname || '=' || attgenerated::text, ',' ORDER BY attnum) FROM pg_attribute WHERE attrelid = 'ev'::regclass AND attname IN ('twice', 'mag', 'n2')")" \
        "twice=,mag=,n2=s" "twice and mag are plain; n2 (integer * 2) stays generated"
    check_match "$(rj "$rep" "'\n'.join(s['name'] + ': ' + s['reason'] for s in d['skipped'])")" \
        "ev.twice: PostgreSQL refuses the translated expression for the columns' types \(operator does not exist: text \* integer\): created as a plain column holding the values SQLite computed" \
        "the report names the column and PostgreSQL's reason"
}

run_case issue case_issue
run_case every_function case_every_function
run_case verify_generated case_verify_generated
run_case verify_views case_verify_views
run_case untranslated_generated case_untranslated_generated
run_case refused_generated case_refused_generated
ml_finish
