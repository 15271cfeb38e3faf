#!/usr/bin/env bash
# The Node helper (integrations/node/) under jest and vitest, the runners most
# Node suites use, as the test user against the real server: one broker for
# all workers from the runner's global setup (jest: jest/setup.js and
# jest/teardown.js; vitest: a setup file returning the teardown), a fresh
# clone per test (the example suite integrations/node/example-runners); with
# a deliberately failing test the run fails for exactly that test, whose
# database is kept (named by the test's label, holding what it wrote, its URL
# without the password in the output) and every other clone is dropped; no
# broker is left after either run.
#
# jest 29.7.0 and vitest 3.2.4 (both run on Node 18+) are installed once per
# build directory with npm from the registry npm is configured with, into
# <build>/tests/data/node-runners; no registry reachable is a failure.
set -euo pipefail
# shellcheck source=eph_lib.sh
. "$(dirname "$0")/eph_lib.sh"
eph_setup

APP=ephrun$$
NODE=$(command -v node || true)
NPM=$(command -v npm || true)
[[ -x "$NODE" && -x "$NPM" ]] || die "$TEST_NAME needs node (18 or later) and npm on PATH"
RUNNERS=(jest@29.7.0 vitest@3.2.4)
CACHE=$(dirname "$PGBOOT_TEST_TARBALL")/node-runners
HELPER=$U/work/node
SUITE=$HELPER/example-runners
SQL=$U/work/sql

# install_runners: the pinned runners in CACHE (once; under a lock, as two
# build passes may run this test at once).
install_runners() {
    mkdir -p "$CACHE"
    (
        flock 9
        if [[ ! -f "$CACHE/installed" || "$(cat "$CACHE/installed")" != "${RUNNERS[*]}" ]]; then
            rm -rf "$CACHE/node_modules" "$CACHE/package.json" "$CACHE/package-lock.json"
            echo '{"private": true}' >"$CACHE/package.json"
            if ! (cd "$CACHE" && npm_config_cache=$CACHE/.npm timeout 600 "$NPM" install --no-audit --no-fund "${RUNNERS[@]}" >"$CACHE/npm.log" 2>&1); then
                echo "cannot install ${RUNNERS[*]} with npm: $(tail -n 5 "$CACHE/npm.log" | tr '\n' ' ')" >&2
                exit 1
            fi
            echo "${RUNNERS[*]}" >"$CACHE/installed"
        fi
    ) 9>"$CACHE.lock" || die "$TEST_NAME: the runners could not be installed (see above): the registry npm is configured with must be reachable"
}

# The helper with its jest/vitest example (integrations/node/example-runners)
# and the runners beside it.
write_suite() {
    cp -r "$PGBOOT_SOURCE_DIR/integrations/node" "$HELPER"
    cp -a "$CACHE/node_modules" "$SUITE/node_modules"
    chown -R "$TEST_USER:" "$HELPER"
}

# run_runner NAME [ENV...]: the runner as the test user in the suite; sets
# NRC and NOUT.
run_runner() {
    local name=$1 cmd
    shift
    case $name in
        jest) cmd=(node_modules/jest/bin/jest.js --ci) ;;
        vitest) cmd=(node_modules/vitest/vitest.mjs run) ;;
    esac
    NRC=0
    NOUT=$(cd "$SUITE" && RUN_TIMEOUT=300 U="$SUITE" as_user env PGBOOT_BIN="$PGB" PGBOOT_TESTDB_APP="$APP" \
        PGBOOT_TESTDB_TEMPLATE_SQL=schema.sql CI=true NO_COLOR=1 "$@" "$NODE" "${cmd[@]}" 2>&1) || NRC=$?
}

case_passes() {
    local r
    for r in jest vitest; do
        run_runner "$r"
        check_eq "$NRC" 0 "$r: the suite passes (one broker from the global setup)"
        [[ $NRC == 0 ]] || echo "$r's output: $(tail -n 30 <<<"$NOUT")" >&2
        check_match "$NOUT" "Tests:? +2 passed" "$r: two tests passed"
        check_not_contains "$NOUT" "kept database" "$r: nothing is kept"
        if wait_copiers 30; then ok "$r: no broker is left"; else nok "$r: pgboot processes left: $(show_pids "$(live_pgboot)")"; fi
    done
}

case_failure_kept() {
    local r
    for r in jest vitest; do
        run_runner "$r" PGBOOT_DEMO_FAILURE=1
        check_eq "$NRC" 1 "$r: the run fails (a test failed)"
        check_match "$NOUT" "Tests:? +1 failed" "$r: exactly one test failed"
        check_demo_kept "$NOUT" "$r: "
    done
}

install_runners
user_mkdir "$SQL"
write_suite
start_app --template-sql "$(sqlfile start.sql "select 1;")"
run_case passes case_passes
run_case failure-kept case_failure_kept
pgb stop --app "$APP"
eph_finish
