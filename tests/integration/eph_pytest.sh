#!/usr/bin/env bash
# The pytest plugin (integrations/pytest/) with Debian's python3-pytest
# under /usr/bin/python3, as the test user, against the real server: its
# example suite passes; with the deliberately failing test switched on,
# pytest fails for exactly that test, whose database is kept (it exists,
# holds what the test wrote) and listed in the report without its password;
# every other database is dropped; the same under pytest-xdist (workers share
# the controller's broker).
set -euo pipefail
# shellcheck source=eph_lib.sh
. "$(dirname "$0")/eph_lib.sh"
eph_setup

APP=ephpyt$$
SQL=$U/work/sql
PLUGIN=$U/work/pytest
PYTHON=/usr/bin/python3
"$PYTHON" -c 'import pytest' 2>/dev/null || die "$TEST_NAME needs python3-pytest (.ci/setup installs it)"

# run_pytest ARGS...: the example suite as the test user; sets PRC and POUT.
run_pytest() {
    PRC=0
    POUT=$(RUN_TIMEOUT=300 as_user "$@" "$PYTHON" -m pytest -p no:cacheprovider -q \
        "$PLUGIN/example" --pgboot-app "$APP" --pgboot-bin "$PGB" 2>&1) || PRC=$?
}

# with_db DB: APP_URL naming database DB.
with_db() { sed -E "s|/[^/?]*(\\?.*)?\$|/$1|" <<<"$APP_URL"; }

case_passes() {
    run_pytest env
    check_eq "$PRC" 0 "the example suite passes (exit 0): $(tail -n 1 <<<"$POUT")"
    check_match "$(tail -n 1 <<<"$POUT")" '^3 passed, 1 skipped' "three tests pass, the demo failure is skipped"
    check_not_contains "$POUT" "kept" "nothing is kept"
}

# check_failed_run DESC: exactly test_demo_failure failed; its database is kept.
check_failed_run() {
    local desc=$1 line kept
    check_eq "$PRC" 1 "$desc: pytest exits 1 (a test failed)"
    check_match "$(tail -n 1 <<<"$POUT")" '(^|= )1 failed, 3 passed in ' "$desc: one failed, three passed, no error"
    check_eq "$(grep -E '^(FAILED|ERROR) ' <<<"$POUT" | sed -E 's/ - .*//; s|^([A-Z]+) .*/|\1 |')" "FAILED test_example.py::test_demo_failure" "$desc: the one failure is test_demo_failure"
    check_contains "$POUT" "pgboot: databases of failed tests, kept" "$desc: the report has a section for kept databases"
    check_contains "$POUT" "pgboot_database_url = 'postgresql://$APP@" "$desc: the traceback shows the failed test's URL argument"
    check_eq "$(grep -cF -- "$(sed -E 's|^[a-z]+://[^:]*:([^@]*)@.*|\1|' <<<"$APP_URL")" <<<"$POUT")" 0 "$desc: ... without the password: no line of the output has it"
    line=$(grep -E '^(.*/)?test_example.py::test_demo_failure: postgresql://' <<<"$POUT" || true)
    kept=${line#*: }
    check_match "$kept" "^postgresql://$APP@127\\.0\\.0\\.1:[0-9]+/pgboot_k_[0-9a-f]{8}_[a-z0-9_]*test_demo_failure_[A-Za-z0-9]{6}\$" "$desc: the report gives the kept database's URL, without the password"
    KEPT_DB=$(url_db "$kept")
    check_eq "$(sql "$APP_URL" "select count(*) from pg_database where datname = '$KEPT_DB'")" 1 "$desc: the kept database exists"
    check_eq "$(sql "$(with_db "$KEPT_DB")" "select name from items order by id")" $'from the template\nevidence' "$desc: it holds what the failed test wrote"
}

check_rest_dropped() {
    local h=${KEPT_DB:9:8} # pgboot_k_<hash8>_...: the example's template
    check_eq "$(dbs "pgboot\\_t\\_${h}\\_%")" "" "$1: no other database of the suite is left (template $h)"
    if wait_copiers 30; then ok "$1: the broker ended with the session"; else nok "$1: pgboot processes left: $(show_pids "$(live_pgboot)")"; fi
}

case_failure_kept() {
    run_pytest env PGBOOT_DEMO_FAILURE=1
    check_failed_run "one process"
    check_rest_dropped "one process"
    pgb testdb drop "$(with_db "$KEPT_DB")"
}

# --pgboot-template-cmd: the template is built by a command (after the ini's
# SQL files); the kept database shows what the command made.
case_template_cmd() {
    PRC=0
    POUT=$(RUN_TIMEOUT=300 as_user env PGBOOT_DEMO_FAILURE=1 "$PYTHON" -m pytest -p no:cacheprovider -q \
        "$PLUGIN/example" --pgboot-app "$APP" --pgboot-bin "$PGB" \
        --pgboot-template-cmd '"$PSQL" -X -q -v ON_ERROR_STOP=1 -c "create table cmd_made (i int)"' 2>&1) || PRC=$?
    check_failed_run "template-cmd"
    check_eq "$(sql "$(with_db "$KEPT_DB")" "select count(*) from pg_tables where tablename = 'cmd_made'")" 1 "template-cmd: the kept database has the table the command made"
    pgb testdb drop "$(with_db "$KEPT_DB")"
}

case_xdist() {
    if ! "$PYTHON" -c 'import xdist' 2>/dev/null; then
        nok "pytest-xdist is not importable by $PYTHON (.ci/setup installs python3-pytest-xdist)"
        return 0
    fi
    run_pytest_xdist
    check_contains "$POUT" "gw0 [4] / gw1 [4]" "xdist: two workers ran the suite (on the controller's broker: a worker starts none)"
    check_failed_run "xdist -n 2"
    check_rest_dropped "xdist -n 2"
    pgb testdb drop "$(with_db "$KEPT_DB")"
}

run_pytest_xdist() {
    PRC=0
    POUT=$(RUN_TIMEOUT=300 as_user env PGBOOT_DEMO_FAILURE=1 "$PYTHON" -m pytest -p no:cacheprovider -n 2 \
        "$PLUGIN/example" --pgboot-app "$APP" --pgboot-bin "$PGB" 2>&1) || PRC=$?
}

user_mkdir "$SQL"
cp -r "$PGBOOT_SOURCE_DIR/integrations/pytest" "$PLUGIN"
chown -R "$TEST_USER:" "$PLUGIN"
start_app --template-sql "$(sqlfile start.sql "select 1;")"
run_case passes case_passes
run_case failure-kept case_failure_kept
run_case template-cmd case_template_cmd
run_case xdist case_xdist
pgb stop --app "$APP"
eph_finish
