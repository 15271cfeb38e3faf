#!/usr/bin/env bash
# Starts and stops that go wrong, and what is left afterwards: a server that
# exits during start-up (its log quoted, the way out given), a failing initdb
# (no half-made data directory), a data directory that is not empty, smart
# stop waiting for clients, immediate stop and recovery.
set -euo pipefail
. "$(dirname "$0")/server_lib.sh"
sl_setup

case_startup_failure() {
    local app
    app=$(app_name badset)
    # A value PostgreSQL takes when it reads it (postgres -C) but cannot start
    # with: the server exits during start-up. (A value it refuses outright is
    # refused before anything is written: server_settings.)
    pgb start --app "$app" --set shared_preload_libraries=pgboot_no_such_lib
    check_rc 1 "start with a setting the server cannot start with fails"
    check_contains "$ERR" "exited during start-up" "the error says the server exited during start-up"
    check_contains "$ERR" "$(data_dir "$app")/log/postgresql.log" "the error names the log file"
    check_contains "$ERR" "pgboot_no_such_lib" "the error quotes the log line about the setting"
    check_no_postgres "$(data_dir "$app")" 5 "after the failed start"
    pgb status --app "$app"
    check_rc 3 "status after the failed start"
    pgb start --app "$app" --set shared_buffers=16MB
    check_rc 0 "the next start works (the failed setting was not kept)"
    pgb stop --app "$app"
    check_rc 0 "stop"
}

case_failed_initdb() {
    local app bad manifest
    app=$(app_name initdb)
    bad="$U/bad-initdb.tgz"
    manifest="$U/bad-initdb.json"
    cat >"$U/bad-initdb.sh" <<'SH'
#!/bin/sh
case "$1" in --version) echo "initdb (PostgreSQL) 16.14"; exit 0;; esac
while [ $# -gt 0 ]; do
  if [ "$1" = "-D" ]; then mkdir -p "$2" && echo half > "$2/half-made"; fi
  shift
done
echo "initdb: error: simulated failure half-way" >&2
exit 1
SH
    bundle_with_initdb "$U/bad-initdb.sh" "$bad" "$manifest"
    pgb start --app "$app" --manifest "$manifest" --from "$bad"
    check_rc 1 "start with an initdb that fails"
    check_contains "$ERR" "initdb failed" "the error says initdb failed"
    check_contains "$ERR" "simulated failure half-way" "the error quotes initdb's output"
    [[ ! -e "$(data_dir "$app")" ]] && ok "no data directory is left" || nok "a data directory was left"
    local leftovers
    leftovers=$(find "$(app_dir "$app")" -maxdepth 1 -name 'postgres_data*' 2>/dev/null | head -n 3)
    check_eq "$leftovers" "" "no half-made initdb directory is left in the app directory"
    leftovers=$(find "$(app_dir "$app")" -maxdepth 1 -name '.pgboot-pw-*' 2>/dev/null | head -n 3)
    check_eq "$leftovers" "" "no password file is left"
}

case_data_dir_not_empty() {
    local app dir
    app=$(app_name notempty)
    dir="$U/not-empty"
    mkdir -p "$dir"
    echo "the user's own file" >"$dir/keep.txt"
    chown -R "$TEST_USER:" "$dir"
    pgb start --app "$app" --data-dir "$dir"
    check_rc 1 "start into a non-empty directory that is not a cluster"
    check_contains "$ERR" "not empty" "the error says the directory is not empty"
    check_eq "$(cat "$dir/keep.txt")" "the user's own file" "the user's file is untouched"
    check_eq "$(ls -A "$dir")" "keep.txt" "nothing was added to it"
}

case_smart_and_immediate_stop() {
    local app url dd
    app=$(app_name stops)
    dd=$(data_dir "$app")
    pgb start --app "$app"
    check_rc 0 "start"
    url=$OUT
    sql "$url" "create table kept(x int); insert into kept values (42)" >/dev/null
    hold_client "$url" 30
    pgb stop --app "$app" --mode smart --timeout 2
    check_rc 1 "smart stop with a client connected times out"
    check_contains "$ERR" "still running" "the error says the server is still running"
    check_contains "$ERR" "immediate" "the hint names the other modes"
    check_eq "$(postmaster_pids "$dd" | wc -w)" 1 "the server still runs after the smart stop timed out"
    pgb stop --app "$app" --mode fast
    check_rc 0 "fast stop disconnects the client"
    check_no_postgres "$dd" 5 "after the fast stop"
    pgb start --app "$app"
    check_rc 0 "start again"
    pgb stop --app "$app" --mode immediate
    check_rc 0 "immediate stop"
    check_no_postgres "$dd" 5 "after the immediate stop"
    pgb start --app "$app"
    check_rc 0 "start after an immediate stop (crash recovery)"
    check_eq "$(sql "$OUT" 'select x from kept')" 42 "the data survived"
    pgb stop --app "$app"
    check_rc 0 "final stop"
}

run_case startup_failure case_startup_failure
run_case failed_initdb case_failed_initdb
run_case data_dir_not_empty case_data_dir_not_empty
run_case smart_and_immediate_stop case_smart_and_immediate_stop
sl_finish
