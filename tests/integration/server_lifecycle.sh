#!/usr/bin/env bash
# The life of one app's server: first start (initdb), reuse, status/url/env,
# files and their modes, secrets kept out of ps and the log, logs, stop,
# restart with the data and the URL kept, persisted --set, bad app names.
set -euo pipefail
. "$(dirname "$0")/server_lib.sh"
sl_setup

APP=$(app_name main)
AD=$(app_dir "$APP")
DD=$(data_dir "$APP")

case_fresh_start() {
    pgb start --app "$APP"
    check_rc 0 "first start"
    local lines
    lines=$(wc -l <"$T/.out")
    check_eq "$lines" 1 "start prints exactly one line"
    check_match "$OUT" "^postgresql://$APP:[A-Za-z0-9]{16,}@127\.0\.0\.1:[0-9]+/$APP\$" "the URL has the documented form"
    check_eq "$ERR" "" "a successful start writes nothing to stderr"
    URL=$OUT
    echo "$URL" >"$T/url"
    check_eq "$(sql "$URL" 'select 1')" 1 "psql over the URL: select 1"
    check_eq "$(sql "$URL" 'select current_user, current_database()')" "$APP|$APP" "the URL logs in as the app's role into the app's database"
    sql "$URL" "create table notes(id int primary key, body text); insert into notes values (1, 'kept across restarts')" >/dev/null
    check_eq "$(sql "$URL" 'select body from notes where id = 1')" "kept across restarts" "a table and a row written"
    check_eq "$(sql "$URL" 'show server_version')" "$PG_VERSION" "the server is PostgreSQL $PG_VERSION"
    local pms
    pms=$(postmaster_pids "$DD")
    check_eq "$(wc -w <<<"$pms")" 1 "exactly one live postmaster for the data directory"
    echo "$pms" >"$T/pm1"
}

case_reuse() {
    local url pm1
    url=$(cat "$T/url")
    pm1=$(cat "$T/pm1")
    pgb start --app "$APP" --json
    check_rc 0 "second start --json"
    check_eq "$(jget "$OUT" started)" false "second start: started is false"
    check_eq "$(jget "$OUT" url)" "$url" "second start: same URL"
    check_eq "$(jget "$OUT" pid)" "$pm1" "second start: the same postmaster pid"
    check_eq "$(jget "$OUT" port)" "$(url_port "$url")" "JSON port matches the URL"
    check_eq "$(jget "$OUT" host)" 127.0.0.1 "JSON host"
    check_eq "$(jget "$OUT" data_dir)" "$DD" "JSON data_dir"
    check_eq "$(jget "$OUT" version)" "$PG_VERSION" "JSON version"
    check_eq "$(jget "$OUT" external)" false "JSON external is false"
    check_ne "$(jget "$OUT" socket_dir)" "<missing>" "JSON has socket_dir"
    echo "$(jget "$OUT" socket_dir)" >"$T/sockdir"
    pgb start --app "$APP"
    check_rc 0 "third start (plain)"
    check_eq "$OUT" "$url" "third start prints the same URL"
    check_eq "$(postmaster_pids "$DD")" "$pm1" "still exactly the one postmaster"
}

case_status_url_env_running() {
    local url pm1 port pw
    url=$(cat "$T/url")
    pm1=$(cat "$T/pm1")
    port=$(url_port "$url")
    pw=$(url_password "$url")
    pgb status --app "$APP"
    check_rc 0 "status while running"
    check_match "$OUT" "^running .*pid $pm1.*port $port" "status names the pid and the port"
    pgb status --app "$APP" --json
    check_eq "$(jget "$OUT" running)" true "status --json: running is true"
    pgb url --app "$APP"
    check_rc 0 "url while running"
    check_eq "$OUT" "$url" "url prints the URL"

    pgb env --app "$APP"
    check_rc 0 "env (sh)"
    local name
    for name in DATABASE_URL PGHOST PGPORT PGUSER PGPASSWORD PGDATABASE; do
        check_match "$OUT" "^export $name='" "env sh has $name"
    done
    local got
    got=$(
        unset DATABASE_URL PGHOST PGPORT PGUSER PGPASSWORD PGDATABASE PGSERVICE PGPASSFILE
        eval "$OUT"
        [[ "$DATABASE_URL" == "$url" ]] || echo "DATABASE_URL differs: $DATABASE_URL"
        timeout 60 "$PSQL" -X -A -t -q -c 'select current_user, current_database(), (select body from notes where id = 1)'
    ) || true
    check_eq "$got" "$APP|$APP|kept across restarts" "psql with only the PG* variables of 'eval \$(pgboot env)'"

    pgb env --app "$APP" --format dotenv
    check_rc 0 "env --format dotenv"
    check_contains "$OUT" "DATABASE_URL=\"$url\"" "dotenv DATABASE_URL"
    check_contains "$OUT" "PGPORT=\"$port\"" "dotenv PGPORT"
    check_contains "$OUT" "PGPASSWORD=\"$pw\"" "dotenv PGPASSWORD"
    check_contains "$OUT" "PGUSER=\"$APP\"" "dotenv PGUSER"
    check_contains "$OUT" "PGDATABASE=\"$APP\"" "dotenv PGDATABASE"
    check_contains "$OUT" "PGHOST=\"127.0.0.1\"" "dotenv PGHOST"
    check_eq "$(grep -c '^[A-Z_]*=' <<<"$OUT")" 6 "dotenv sets six variables"
    check_eq "$(grep -v -c -E '^([A-Z_]*=|# )' <<<"$OUT")" 0 "dotenv has nothing but those and a comment (the variables to leave unset)"

    pgb env --app "$APP" --format json
    check_rc 0 "env --format json"
    check_eq "$(jget "$OUT" DATABASE_URL)" "$url" "json DATABASE_URL"
    check_eq "$(jget "$OUT" PGPORT)" "$port" "json PGPORT"
    check_eq "$(jget "$OUT" PGPASSWORD)" "$pw" "json PGPASSWORD"
    check_eq "$(jget "$OUT" PGUSER)|$(jget "$OUT" PGDATABASE)|$(jget "$OUT" PGHOST)" "$APP|$APP|127.0.0.1" "json PGUSER/PGDATABASE/PGHOST"

    pgb env --app "$APP" --format yaml
    check_rc 2 "env --format yaml is a usage error"
}

case_files_and_modes() {
    local pm1 sockdir
    pm1=$(cat "$T/pm1")
    sockdir=$(cat "$T/sockdir")
    check_mode "$AD" 700 "app dir"
    check_mode "$DD" 700 "data dir"
    check_mode "$AD/pgpass" 600 "pgpass"
    check_mode "$AD/pgboot.run" 600 "pgboot.run"
    check_eq "$(stat -c %U "$DD")" "$TEST_USER" "the data dir belongs to $TEST_USER"
    [[ -f "$DD/log/postgresql.log" ]] && ok "the log is postgres_data/log/postgresql.log" || nok "no $DD/log/postgresql.log"
    [[ -f "$AD/pgboot.state" ]] && ok "pgboot.state exists" || nok "no pgboot.state"
    local run
    run=$(cat "$AD/pgboot.run")
    local k
    for k in pid port socket_dir data_dir database user postgresql_version started_at; do
        check_ne "$(jget "$run" "$k")" "<missing>" "pgboot.run has $k"
    done
    check_eq "$(jget "$run" pid)" "$pm1" "pgboot.run pid is the postmaster"
    check_eq "$(jget "$run" data_dir)" "$DD" "pgboot.run data_dir"
    # The socket dir: <app dir>/run when the socket path fits in sun_path.
    local sock_tail=/run/.s.PGSQL.65535
    if ((${#AD} + ${#sock_tail} <= 107)); then
        check_eq "$sockdir" "$AD/run" "socket dir is the app dir's run/"
    else
        check_match "$sockdir" "^/tmp/pgboot-$USER_UID-" "socket dir falls back to /tmp (long app dir)"
    fi
    check_mode "$sockdir" 700 "socket dir"
    check_eq "$(jget "$run" socket_dir)" "$sockdir" "pgboot.run socket_dir"
}

case_no_password_leak() {
    local url pw
    url=$(cat "$T/url")
    pw=$(url_password "$url")
    [[ ${#pw} -ge 16 ]] || {
        nok "password too short to grep for: '$pw'"
        return 0
    }
    check_not_contains "$(ps -eo args)" "$pw" "password not in any process's args while the server runs"
    # and while `pgboot run` holds a command with PGPASSWORD in its environment
    as_user "$PGB" run --app "$APP" -- sleep 3 >"$T/run.out" 2>"$T/run.err" </dev/null &
    local rp=$!
    register_bg "$rp"
    sleep 1
    check_not_contains "$(ps -eo args)" "$pw" "password not in any process's args during 'pgboot run'"
    wait "$rp" || true
    local superpw
    superpw=$(grep -v '^#' "$AD/pgpass" | grep -v ":$APP:" | head -1 | awk -F: '{print $NF}')
    check_not_contains "$(cat "$DD/log/postgresql.log")" "$pw" "the app password is not in postgresql.log"
    if [[ -n "$superpw" ]]; then
        check_not_contains "$(cat "$DD/log/postgresql.log")" "$superpw" "the superuser password is not in postgresql.log"
        check_not_contains "$(ps -eo args)" "$superpw" "the superuser password is not in any process's args"
    fi
    # the catalogs hold SCRAM verifiers with pgboot's iterations (16: the
    # passwords are random, and every login repeats the iterations), made by
    # pgboot: the superuser's at initdb, the app role's at each start
    local superuser super_url
    superuser=$(grep -v '^#' "$AD/pgpass" | grep -v ":$APP:" | head -1 | awk -F: '{print $4}')
    super_url=$(sed -E "s|//[^@]+@|//$superuser:$superpw@|; s|/[^/]*$|/postgres|" <<<"$url")
    check_eq "$(sql "$super_url" "SELECT rolname || ' ' || split_part(rolpassword, ':', 1) FROM pg_authid WHERE rolpassword IS NOT NULL ORDER BY rolname" | tr '\n' ,)" \
        "$APP SCRAM-SHA-256\$16,$superuser SCRAM-SHA-256\$16," "the app role's and the superuser's verifiers have 16 iterations"
    # nor in any file but pgpass (the catalogs hold only a SCRAM verifier)
    check_eq "$(grep -rlF -- "$pw" "$AD" 2>/dev/null | grep -v -x -F "$AD/pgpass" || true)" "" "the password is in no file of the app dir but pgpass"
}

case_logs() {
    pgb logs --app "$APP"
    check_rc 0 "logs"
    check_contains "$OUT" "database system is ready to accept connections" "logs prints the server log"
    local first
    first=$(head -1 "$DD/log/postgresql.log")
    check_contains "$OUT" "$first" "logs starts with the log file's first line"
    as_user timeout 2 "$PGB" logs -f --app "$APP" >"$T/logs-f.out" 2>&1 </dev/null || true
    check_contains "$(cat "$T/logs-f.out")" "ready to accept connections" "logs -f prints the log and keeps following"
}

case_stop() {
    local pm1
    pm1=$(cat "$T/pm1")
    pgb stop --app "$APP"
    check_rc 0 "stop"
    check_contains "$ERR" "stopped" "stop says it stopped"
    check_no_postgres "$DD" 5 "after stop"
    [[ ! -e "$AD/pgboot.run" ]] && ok "pgboot.run removed after stop" || nok "pgboot.run still exists after stop"
    [[ ! -e "$DD/postmaster.pid" ]] && ok "postmaster.pid gone after stop" || nok "postmaster.pid still exists after stop"
    pgb status --app "$APP"
    check_rc 3 "status when stopped"
    check_eq "$OUT" "not running (app $APP)" "status says not running"
    pgb url --app "$APP"
    check_rc 3 "url when stopped"
    check_eq "$OUT" "" "url prints nothing when stopped"
    pgb env --app "$APP"
    check_rc 3 "env when stopped"
    pgb stop --app "$APP"
    check_rc 3 "stop when stopped"
    check_contains "$ERR" "nothing to stop" "stop when stopped says 'nothing to stop'"
    pgb status --app "never-started-$$"
    check_rc 3 "status of an app never started"
    [[ ! -e "$(app_dir "never-started-$$")" ]] && ok "status creates no app dir" || nok "status created $(app_dir "never-started-$$")"
}

case_restart_keeps_data() {
    local url
    url=$(cat "$T/url")
    pgb start --app "$APP" --json
    check_rc 0 "restart"
    check_eq "$(jget "$OUT" started)" true "restart: started is true"
    check_eq "$(jget "$OUT" url)" "$url" "restart: the same URL (same port, same password)"
    check_eq "$(sql "$url" 'select body from notes where id = 1')" "kept across restarts" "restart: the row is still there"
    check_ne "$(postmaster_pids "$DD")" "$(cat "$T/pm1")" "restart: a new postmaster"
}

case_settings_persist() {
    local url
    url=$(cat "$T/url")
    pgb stop --app "$APP"
    check_rc 0 "stop before --set"
    pgb start --app "$APP" --set work_mem=77MB
    check_rc 0 "start --set work_mem=77MB"
    check_eq "$(sql "$url" 'show work_mem')" 77MB "work_mem is 77MB"
    check_contains "$(cat "$DD/pgboot.conf" 2>/dev/null)" "work_mem" "pgboot.conf holds work_mem"
    pgb stop --app "$APP"
    check_rc 0 "stop"
    pgb start --app "$APP"
    check_rc 0 "start without --set"
    check_eq "$(sql "$url" 'show work_mem')" 77MB "work_mem is still 77MB after a restart without --set"
    pgb start --app "$APP" --set 'work_mem'
    check_rc 2 "--set without '=' is a usage error"
}

case_bad_app_names() {
    local name
    for name in 'a b' 'x/y' '../evil' 'semi;colon' "quote'd" 'é' '.'; do
        pgb start --app "$name"
        check_rc 2 "start --app '$name'"
        check_contains "$ERR" "app name" "the message for '$name' talks about the app name"
        check_eq "$OUT" "" "nothing on stdout for '$name'"
    done
    pgb start --app ''
    check_rc 2 "start --app ''"
    pgb status --app 'x/y'
    check_rc 2 "status --app 'x/y'"
    pgb start --app "$(printf 'a%.0s' {1..64})"
    check_rc 2 "a 64-character app name"
    [[ ! -e "$U/evil" && ! -e "$U/data/x" ]] && ok "no directory made for a bad name" || nok "a directory was made for a bad name"
}

case_final_stop() {
    pgb stop --app "$APP"
    check_rc 0 "final stop"
    check_no_postgres "$DD" 5 "after the final stop"
}

run_case fresh_start case_fresh_start
run_case reuse case_reuse
run_case status_url_env_running case_status_url_env_running
run_case files_and_modes case_files_and_modes
run_case no_password_leak case_no_password_leak
run_case logs case_logs
run_case stop case_stop
run_case restart_keeps_data case_restart_keeps_data
run_case settings_persist case_settings_persist
run_case bad_app_names case_bad_app_names
run_case final_stop case_final_stop
sl_finish
