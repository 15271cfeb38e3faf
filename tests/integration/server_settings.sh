#!/usr/bin/env bash
# Settings (issue 9, item 3): a value PostgreSQL refuses is never written and
# the next plain start works; the settings pgboot owns are refused, naming
# what to use instead; --set on a running server is applied (reload) or saved
# for a restart, which `pgboot restart` applies; --unset removes a setting; a
# start that fails with new values puts pgboot.conf back; a bad value already
# in pgboot.conf is named with the way to remove it.
set -euo pipefail
. "$(dirname "$0")/server_lib.sh"
sl_setup

conf_of() { cat "$(data_dir "$1")/pgboot.conf"; }

# super_url APP: the superuser's URL (its password is in the app's pgpass).
super_url() {
    local pw port
    pw=$(sed -n 's/^\*:\*:\*:postgres:\(.*\)$/\1/p' "$(app_dir "$1")/pgpass")
    port=$(sed -n 4p "$(data_dir "$1")/postmaster.pid")
    echo "postgresql://postgres:$pw@127.0.0.1:$port/postgres"
}

show_is() { # URL NAME WANT: a new session sees NAME = WANT
    [[ $(sql "$1" "show $2" 2>/dev/null) == "$3" ]]
}

case_refused_values() {
    local app url v
    app=$(app_name bad)
    pgb start --app "$app"
    check_rc 0 "first start"
    url=$OUT
    for v in banana 128M; do
        # on the running server
        pgb start --app "$app" --set shared_buffers=$v
        check_rc 1 "running: --set shared_buffers=$v is refused"
        check_error_shape "running: shared_buffers=$v"
        check_contains "$ERR" 'shared_buffers' "running: the error names the setting"
        check_contains "$ERR" "\"$v\"" "running: the error quotes the value"
        check_not_contains "$(conf_of "$app")" "$v" "running: $v is not in pgboot.conf"
    done
    pgb stop --app "$app"
    check_rc 0 "stop"
    for v in banana 128M; do
        # on a stopped server
        pgb start --app "$app" --set shared_buffers=$v
        check_rc 1 "stopped: --set shared_buffers=$v is refused"
        check_error_shape "stopped: shared_buffers=$v"
        check_contains "$ERR" 'shared_buffers' "stopped: the error names the setting"
        check_not_contains "$(conf_of "$app")" "$v" "stopped: $v is not in pgboot.conf"
        pgb start --app "$app"
        check_rc 0 "a plain start after the refused $v"
        check_eq "$OUT" "$url" "same URL"
        pgb stop --app "$app"
    done
    # a name PostgreSQL does not know
    pgb start --app "$app" --set no_such_setting=1
    check_rc 1 "an unknown setting is refused"
    check_contains "$ERR" 'no_such_setting' "the error names it"
    check_not_contains "$(conf_of "$app")" 'no_such_setting' "it is not in pgboot.conf"
}

case_owned_settings() {
    local app before s
    app=$(app_name owned)
    pgb start --app "$app"
    check_rc 0 "start"
    before=$(conf_of "$app")
    pgb start --app "$app" --set port=5999
    check_rc 1 "--set port is refused"
    check_error_shape "--set port"
    check_contains "$ERR" '--port' "the error names --port"
    pgb start --app "$app" --set "listen_addresses=*"
    check_rc 1 "--set listen_addresses is refused"
    check_contains "$ERR" '127.0.0.1' "it says the server listens on loopback only"
    for s in Port=5999 unix_socket_directories=/tmp data_directory=/tmp hba_file=/tmp/x \
        logging_collector=on log_directory=/tmp; do
        pgb start --app "$app" --set "$s"
        check_rc 1 "--set $s is refused"
    done
    pgb start --app "$app" --unset listen_addresses
    check_rc 1 "--unset listen_addresses is refused"
    check_eq "$(conf_of "$app")" "$before" "pgboot.conf unchanged by the refusals"
    pgb stop --app "$app"
    pgb start --app "$app" --set port=5999
    check_rc 1 "--set port is refused on a stopped server too"
    check_eq "$(conf_of "$app")" "$before" "pgboot.conf still unchanged"
    check_eq "$(live_postgres_pids "$(data_dir "$app")" | wc -l)" 0 "no server was started"
}

case_running_reload_restart_unset() {
    local app url pm
    app=$(app_name run)
    pgb start --app "$app"
    check_rc 0 "start"
    url=$OUT
    pm=$(head -1 "$(data_dir "$app")/postmaster.pid")
    # a setting applied at a reload
    pgb start --app "$app" --set work_mem=7MB --json
    check_rc 0 "--set work_mem on the running server"
    check_contains "$ERR" 'reloaded' "stderr says it was applied"
    check_eq "$(jget "$OUT" reloaded)" '["work_mem"]' "JSON: reloaded"
    check_eq "$(jget "$OUT" restart_needed)" '[]' "JSON: no restart needed"
    check_contains "$(conf_of "$app")" "work_mem = '7MB'" "work_mem is in pgboot.conf"
    check_true "a new session sees work_mem = 7MB" wait_until 10 show_is "$url" work_mem 7MB
    # a setting PostgreSQL applies only at a start
    pgb start --app "$app" --set max_connections=33 --json
    check_rc 0 "--set max_connections on the running server"
    check_contains "$ERR" 'restart' "stderr says a restart is needed"
    check_contains "$ERR" 'pgboot restart' "and how"
    check_eq "$(jget "$OUT" restart_needed)" '["max_connections"]' "JSON: restart_needed"
    check_contains "$(conf_of "$app")" "max_connections = '33'" "max_connections is in pgboot.conf"
    check_eq "$(sql "$url" 'show max_connections')" 20 "the running server keeps 20 until a restart"
    check_eq "$(head -1 "$(data_dir "$app")/postmaster.pid")" "$pm" "the server was not restarted"
    pgb restart --app "$app"
    check_rc 0 "restart"
    check_eq "$OUT" "$url" "restart prints the same URL"
    check_ne "$(head -1 "$(data_dir "$app")/postmaster.pid")" "$pm" "a new postmaster"
    check_eq "$(sql "$url" 'show max_connections')" 33 "max_connections = 33 after the restart"
    check_eq "$(sql "$url" 'show work_mem')" 7MB "work_mem kept across the restart"
    # --unset on the running server
    pgb start --app "$app" --unset work_mem
    check_rc 0 "--unset work_mem on the running server"
    check_not_contains "$(conf_of "$app")" "work_mem" "work_mem is gone from pgboot.conf"
    check_true "a new session sees the default work_mem" wait_until 10 show_is "$url" work_mem 4MB
    pgb stop --app "$app"
    pgb restart --app "$app"
    check_rc 0 "restart of a stopped server starts it"
    check_eq "$(sql "$url" 'select 1')" 1 "it serves"
    pgb stop --app "$app"
}

case_start_failure_rolls_back() {
    local app before
    app=$(app_name rb)
    pgb start --app "$app"
    check_rc 0 "start"
    pgb stop --app "$app"
    before=$(conf_of "$app")
    # PostgreSQL takes the value (postgres -C) but cannot start with it
    pgb start --app "$app" --set shared_preload_libraries=pgboot_no_such_lib --timeout 30
    check_rc 1 "a start that fails with the new value"
    check_contains "$ERR" 'pgboot_no_such_lib' "the error quotes the server's reason"
    check_contains "$ERR" 'not kept' "it says the setting was not kept"
    check_eq "$(conf_of "$app")" "$before" "pgboot.conf is as it was"
    pgb start --app "$app"
    check_rc 0 "the next plain start works"
    pgb stop --app "$app"
}

case_bad_value_already_in_file() {
    local app dd
    app=$(app_name file)
    dd=$(data_dir "$app")
    pgb start --app "$app"
    check_rc 0 "start"
    pgb stop --app "$app"
    # as an older pgboot wrote it
    as_user sh -c 'printf "%s\n" "shared_buffers = '\''banana'\''" >>"$1"' sh "$dd/pgboot.conf"
    pgb start --app "$app"
    check_rc 1 "a start with a bad value in pgboot.conf fails"
    check_contains "$ERR" 'shared_buffers' "the error names the setting"
    check_contains "$ERR" "--unset shared_buffers" "the hint says how to remove it"
    pgb start --app "$app" --unset shared_buffers
    check_rc 0 "start --unset shared_buffers works"
    check_not_contains "$(conf_of "$app")" banana "the bad value is gone"
    pgb stop --app "$app"
}

run_case refused_values case_refused_values
run_case owned_settings case_owned_settings
run_case running_reload_restart_unset case_running_reload_restart_unset
run_case start_failure_rolls_back case_start_failure_rolls_back
run_case bad_value_already_in_file case_bad_value_already_in_file
sl_finish
