#!/usr/bin/env bash
# The first error is kept: the server of a staged migration (a SQLite file of
# ~300k rows, loaded over two connections through pgboot_staging) is SIGKILLed
# while a table is being copied. The migration fails saying what failed (the
# table's COPY and the server's reason), not with an empty `pgboot: error: `
# that its cleanup (which cannot reach the server either) left behind.
set -euo pipefail
. "$(dirname "$0")/mig_lib.sh"

ml_setup
ml_server

BIG=$U/src/big.db
"$PY" "$MKDB" big "$BIG" 300000
user_own "$U/src"

case_server_dies() {
    local url pid pm dd victim="" rc=0 err first
    url=$(newdb serverdies)
    dd=$U/data/$SERVER_APP/postgres_data # XDG_DATA_HOME is $U/data
    pm=$(head -n1 "$dd/postmaster.pid")
    check_match "$pm" '^[0-9]+$' "the postmaster's pid ($pm)"
    as_user "$PGB" migrate --sqlite "$BIG" --to "$url" >"$T/sd.out" 2>"$T/sd.err" </dev/null &
    pid=$!
    register_bg "$pid"
    for ((i = 0; i < 1000; i++)); do
        victim=$(q "$SERVER_URL" "SELECT pid FROM pg_stat_activity WHERE datname = 'serverdies' AND query LIKE 'COPY \"big_a\"%' AND state = 'active' LIMIT 1")
        [[ -n $victim ]] && break
        sleep 0.02
    done
    check_ne "$victim" "" "a backend copying big_a was found"
    kill -KILL "$pm"
    wait "$pid" || rc=$?
    err=$(cat "$T/sd.err")
    first=$(grep -m1 '^pgboot: error:' <<<"$err" || true)
    echo "    $first"
    check_ne "$rc" 0 "the migration fails when its server dies mid-load"
    check_match "$first" '^pgboot: error: [^ ]' "the error line says what failed (not empty after 'error: ')"
    check_contains "$first" "big_a" "the error names the table being loaded"
    check_imatch "$first" "terminat|closed the connection|postmaster|no connection" "and gives the server's reason"
    # the server comes back (crash recovery), and the target holds at most
    # the staging schema, which the next migration removes
    pgb start --app "$SERVER_APP"
    check_rc 0 "the server starts again"
    check_untouched_or_staging "$url" "after the server died"
}

run_case server_dies case_server_dies
ml_finish
