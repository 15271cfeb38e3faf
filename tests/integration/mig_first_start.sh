#!/usr/bin/env bash
# The first-start migration: `pgboot start --app A` with <app dir>/db.sqlite
# present migrates it before printing the URL; once (a marker
# <app dir>/migrations/done.json and the record in pgboot.migrations); not
# with --no-migrate; a failed first-start migration leaves the server running
# and the database as it was, and the next start tries again. Also --sqlite
# PATH, two starts at once (migrated once, under the app lock), and an
# external database (--database-url).
set -euo pipefail
. "$(dirname "$0")/mig_lib.sh"

ml_setup


# app_with_db APP FILE: a fresh app directory holding FILE as db.sqlite.
app_with_db() {
    local dir=$U/data/$1
    mkdir -p "$dir"
    cp "$2" "$dir/db.sqlite"
    chmod 644 "$dir/db.sqlite"
    user_own "$dir"
    register_app "$1"
}

reports_of() { { find "$U/data/$1/migrations" -maxdepth 1 -name '*Z.json' 2>/dev/null || true; } | sort; }

case_first_start() {
    local app=fs-chinook dir url rep
    dir=$U/data/$app
    app_with_db "$app" "$(fixture chinook.sqlite "$U/src/chinook.sqlite")"
    pgb start --app "$app"
    check_rc 0 "first start with db.sqlite present"
    url=$(tail -n1 <<<"$OUT")
    check_match "$OUT" "^postgresql://[^[:space:]]+@127\.0\.0\.1:[0-9]+/[^[:space:]]+$" "start prints only the URL on stdout"
    check_eq "$(q_try "$url" "SELECT 1")" 1 "the URL works"
    check_eq "$(counts "$url")" "$CHINOOK_COUNTS" "the Chinook tables are there with their rows"
    check_eq "$(mig_count "$url")" 1 "one migration recorded in pgboot.migrations"
    check_eq "$(q "$url" "SELECT source_path FROM pgboot.migrations")" "$dir/db.sqlite" "the record names <app dir>/db.sqlite"
    rep=$(reports_of "$app")
    check_eq "$(wc -l <<<"$rep" | tr -d ' ')" 1 "one report under <app dir>/migrations/"
    check_match "$rep" "/migrations/[0-9]{8}T[0-9]{6}Z\.json$" "the report is <app dir>/migrations/<UTC stamp>.json"
    check_eq "$(rj "$rep" 'len(d.get("tables", []))')" 11 "the report lists the 11 tables"
    check_eq "$(rj "$rep" 'd["source"]["sha256"]')" "$(sha256sum "$dir/db.sqlite" | cut -d' ' -f1)" "the report has the source's sha256"
    check_path "$dir/migrations/done.json" "the marker migrations/done.json is written"
    check_py "the marker is JSON naming the source and the report" '
import json, sys
d = json.load(open(sys.argv[1]))
if d.get("source") != sys.argv[2]: print("source %r" % d.get("source"))
if d.get("report") != sys.argv[3]: print("report %r" % d.get("report"))' "$dir/migrations/done.json" "$dir/db.sqlite" "$rep"

    # again while running: reused, not migrated again
    pgb start --app "$app"
    check_rc 0 "start again (server running)"
    check_eq "$(tail -n1 <<<"$OUT")" "$url" "the same URL"
    # and after a stop
    pgb stop --app "$app"
    check_rc 0 "stop"
    pgb start --app "$app"
    check_rc 0 "start after stop"
    url=$(tail -n1 <<<"$OUT")
    check_eq "$(mig_count "$url")" 1 "still one migration recorded (no second one)"
    check_eq "$(reports_of "$app" | wc -l | tr -d ' ')" 1 "still one report"
    check_eq "$(counts "$url")" "$CHINOOK_COUNTS" "the rows are there once (not doubled)"
    # without the marker, the record in the target still prevents a second migration
    rm -f "$dir/migrations/done.json"
    pgb start --app "$app"
    check_rc 0 "start with the marker removed (the record remains)"
    check_eq "$(mig_count "$url")" 1 "the record prevents a second migration"
    check_eq "$(counts "$url")" "$CHINOOK_COUNTS" "the rows are still there once"
}

case_no_migrate() {
    local app=fs-nomig url
    app_with_db "$app" "$(fixture chinook.sqlite "$U/src/chinook2.sqlite")"
    pgb start --app "$app" --no-migrate
    check_rc 0 "start --no-migrate"
    url=$(tail -n1 <<<"$OUT")
    check_untouched "$url" "--no-migrate"
    check_no_path "$U/data/$app/migrations/done.json" "--no-migrate: no marker"
    check_eq "$(reports_of "$app")" "" "--no-migrate: no report"
}

case_failed_first_start() {
    local app=fs-bad dir url
    dir=$U/data/$app
    "$PY" "$MKDB" bad "$U/src/bad.db"
    user_own "$U/src/bad.db"
    app_with_db "$app" "$U/src/bad.db"
    pgb start --app "$app"
    check_rc 1 "first start with a db.sqlite holding bad values (strict): exit 1"
    check_contains "$ERR" "$dir/db.sqlite" "the error names the file"
    check_match "$ERR" "^pgboot: error: " "an error line"
    check_imatch "$ERR" "first start|migrat" "the error says the first-start migration failed"
    check_imatch "$ERR" "text in an integer|cannot be stored|bad value" "the error says what is wrong"
    check_imatch "$ERR" "no-migrate|pgboot migrate|on-error" "the hint says what to do"
    pgb status --app "$app"
    check_rc 0 "the server keeps running (status 0)"
    pgb url --app "$app"
    check_rc 0 "url"
    url=$(tail -n1 <<<"$OUT")
    check_untouched "$url" "failed first start"
    check_no_path "$dir/migrations/done.json" "no marker after a failure"
    # the next start tries again (and fails again, the same way)
    pgb start --app "$app"
    check_rc 1 "the next start tries again and fails again"
    check_untouched "$url" "second failed start"
    # fix the file: the next start migrates
    cp "$(fixture chinook.sqlite "$U/src/chinook3.sqlite")" "$dir/db.sqlite"
    user_own "$dir/db.sqlite"
    pgb start --app "$app"
    check_rc 0 "after replacing db.sqlite with a good file, start succeeds"
    check_eq "$(counts "$url")" "$CHINOOK_COUNTS" "and migrates it"
    check_eq "$(mig_count "$url")" 1 "one migration recorded"
    check_path "$dir/migrations/done.json" "the marker is written now"
}

case_empty_db_sqlite() {
    local app=fs-empty url
    : >"$U/src/empty.db"
    app_with_db "$app" "$U/src/empty.db"
    pgb start --app "$app"
    check_rc 1 "first start with an empty db.sqlite: exit 1"
    check_contains "$ERR" "$U/data/$app/db.sqlite" "the error names the file"
    pgb url --app "$app"
    url=$(tail -n1 <<<"$OUT")
    pgb status --app "$app"
    check_rc 0 "the server keeps running"
    check_untouched "$url" "empty db.sqlite"
}

case_sqlite_option() {
    local app=fs-option url f dir
    dir=$U/data/$app
    register_app "$app"
    # a file name with a double quote and a backslash in it
    f="$U/src/legacy \"v1\"\\pk.db"
    cp "$(fixture test_pk.db "$U/src/test_pk.db")" "$f"
    user_own "$f"
    pgb start --app "$app" --sqlite "$f"
    check_rc 0 "start --sqlite PATH"
    url=$(tail -n1 <<<"$OUT")
    check_eq "$(q "$url" "SELECT string_agg(tablename, ',' ORDER BY tablename COLLATE \"C\") FROM pg_tables WHERE schemaname = 'public'")" "division,division_kind" "--sqlite PATH: that file is migrated"
    check_eq "$(q "$url" "SELECT source_path FROM pgboot.migrations")" "$f" "the record names the path (quote and backslash)"
    check_py "the marker is valid JSON naming the path" '
import json, sys
try:
    d = json.load(open(sys.argv[1]))
except Exception as e:
    print("done.json is not JSON (%s): %r" % (e, open(sys.argv[1]).read())); sys.exit(0)
if d.get("source") != sys.argv[2]: print("source %r, expected %r" % (d.get("source"), sys.argv[2]))' "$dir/migrations/done.json" "$f"
    pgb stop --app "$app"
    pgb start --app fs-option2 --sqlite "$U/src/no-such.db"
    register_app fs-option2
    check_rc 1 "start --sqlite with a missing file: exit 1"
    check_contains "$ERR" "$U/src/no-such.db" "the error names the missing file"
}

case_concurrent_starts() {
    local app=fs-race p1 p2 u1 u2
    app_with_db "$app" "$(fixture chinook.sqlite "$U/src/chinook4.sqlite")"
    (rc=0; RUN_TIMEOUT=120 as_user "$PGB" start --app "$app" >"$T/race1.out" 2>"$T/race1.err" </dev/null || rc=$?; echo "$rc" >"$T/race1.rc") &
    p1=$!
    (rc=0; RUN_TIMEOUT=120 as_user "$PGB" start --app "$app" >"$T/race2.out" 2>"$T/race2.err" </dev/null || rc=$?; echo "$rc" >"$T/race2.rc") &
    p2=$!
    wait "$p1" "$p2" || true
    check_eq "$(cat "$T/race1.rc")/$(cat "$T/race2.rc")" "0/0" "two starts at once both succeed"
    u1=$(tail -n1 "$T/race1.out")
    u2=$(tail -n1 "$T/race2.out")
    check_eq "$u1" "$u2" "both print the same URL"
    check_eq "$(mig_count "$u1")" 1 "migrated once"
    check_eq "$(counts "$u1")" "$CHINOOK_COUNTS" "the rows are there once"
    check_eq "$(reports_of "$app" | wc -l | tr -d ' ')" 1 "one report"
}

case_external() {
    local app=fs-ext ext
    ml_server mig-first-start-host
    ext=$(newdb external)
    app_with_db "$app" "$(fixture chinook.sqlite "$U/src/chinook5.sqlite")"
    pgb start --app "$app" --database-url "$ext"
    check_rc 0 "start --database-url EXTERNAL with db.sqlite present"
    check_eq "$(counts "$ext")" "$CHINOOK_COUNTS" "migrated into the external database"
    check_eq "$(mig_count "$ext")" 1 "recorded there"
    pgb start --app "$app" --database-url "$ext"
    check_rc 0 "again"
    check_eq "$(mig_count "$ext")" 1 "not migrated twice"
}

run_case first_start case_first_start
run_case no_migrate case_no_migrate
run_case failed_first_start case_failed_first_start
run_case empty_db_sqlite case_empty_db_sqlite
run_case sqlite_option case_sqlite_option
run_case concurrent_starts case_concurrent_starts
run_case external case_external
ml_finish
