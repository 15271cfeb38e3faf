#!/usr/bin/env bash
# The Node helper (integrations/node/) with the Node on the machine, as the
# test user, against the real server: its example suite under node:test
# passes (one broker per process, from the environment); through run.js (one
# broker for the whole run) with the deliberately failing test switched on,
# node --test fails for exactly that test, whose database is kept (it
# exists, holds what the test wrote; its URL without the password is in the
# error) and every other database is dropped; no broker is left.
set -euo pipefail
# shellcheck source=eph_lib.sh
. "$(dirname "$0")/eph_lib.sh"
eph_setup

APP=ephnode$$
SQL=$U/work/sql
HELPER=$U/work/node
NODE=$(command -v node || true)
[[ -x "$NODE" ]] || die "$TEST_NAME needs node (Node 18 or later) on PATH"

# run_node ENV... -- ARGS...: node as the test user in the example directory;
# sets NRC and NOUT (TAP: stdout is not a terminal).
run_node() {
    NRC=0
    NOUT=$(cd "$HELPER/example" && RUN_TIMEOUT=300 U="$HELPER/example" as_user "$@" 2>&1) || NRC=$?
}

case_passes() {
    run_node env PGBOOT_BIN="$PGB" PGBOOT_TESTDB_APP="$APP" PGBOOT_TESTDB_TEMPLATE_SQL=schema.sql "$NODE" --test
    check_eq "$NRC" 0 "the example suite passes under node --test (a broker per process, from the environment)"
    check_eq "$(grep -E '^# (pass|fail|skipped) ' <<<"$NOUT" | tr '\n' ' ')" "# pass 3 # fail 0 # skipped 1 " "three pass, the demo failure is skipped"
    check_not_contains "$NOUT" "kept database" "nothing is kept"
    if wait_copiers 30; then ok "no broker is left"; else nok "pgboot processes left: $(show_pids "$(live_pgboot)")"; fi
}

case_failure_kept() {
    run_node env PGBOOT_DEMO_FAILURE=1 "$NODE" ../run.js --app "$APP" --template-sql schema.sql --pgboot "$PGB" -- "$NODE" --test
    check_eq "$NRC" 1 "node --test through run.js exits 1 (a test failed)"
    check_eq "$(grep -E '^# (pass|fail) ' <<<"$NOUT" | tr '\n' ' ')" "# pass 3 # fail 1 " "three pass, one fails"
    check_eq "$(grep -E '^not ok ' <<<"$NOUT")" "not ok 4 - demo failure" "the one failure is the demo failure"
    check_demo_kept "$NOUT" ""
}

user_mkdir "$SQL"
cp -r "$PGBOOT_SOURCE_DIR/integrations/node" "$HELPER"
chown -R "$TEST_USER:" "$HELPER"
start_app --template-sql "$(sqlfile start.sql "select 1;")"
run_case passes case_passes
run_case failure-kept case_failure_kept
pgb stop --app "$APP"
eph_finish
