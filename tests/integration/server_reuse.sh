#!/usr/bin/env bash
# Reusing a running server (issue 9, items 8 and 10):
# - --timeout bounds the whole start, the app's login included, and the error
#   says which step did not finish: a login held up by a lock on the app's
#   database, and a server whose every connection waits (pre_auth_delay);
# - a start killed after the server was ready but before the app's role and
#   database existed is finished by the next start (a URL that logs in), and
#   url does not hand out a URL that cannot log in meanwhile.
set -euo pipefail
. "$(dirname "$0")/server_lib.sh"
sl_setup

# super_url APP: the superuser's URL (its password is in the app's pgpass).
super_url() {
    local pw port
    pw=$(sed -n 's/^\*:\*:\*:postgres:\(.*\)$/\1/p' "$(app_dir "$1")/pgpass")
    port=$(sed -n 4p "$(data_dir "$1")/postmaster.pid")
    echo "postgresql://postgres:$pw@127.0.0.1:$port/postgres"
}

logs_in() { [[ $(sql "$1" 'select 1' 2>/dev/null) == 1 ]]; }

# held_lock SUPER_URL: a session holds the app database's object lock.
held_lock() {
    [[ $(sql "$1" "select count(*) from pg_locks where locktype = 'object' and
        classid = 'pg_database'::regclass and mode = 'AccessExclusiveLock' and granted") == 1 ]]
}

case_login_held_up() {
    local app url su holder
    app=$(app_name lock)
    pgb start --app "$app"
    check_rc 0 "start"
    url=$OUT
    su=$(super_url "$app")
    # Renaming a database takes its object lock; a login to it waits for
    # that lock after authentication, while the server answers everyone else.
    timeout 300 env -i PATH=/usr/bin:/bin "$PSQL" -X -q "$su" \
        -c "begin; alter database \"$app\" rename to \"held_$$\"; select pg_sleep(240)" \
        >/dev/null 2>&1 &
    holder=$!
    register_bg "$holder"
    wait_until 30 held_lock "$su" || nok "the lock on the app's database was not taken"
    CMD_TIMEOUT=40 pgb start --app "$app" --timeout 2
    check_rc 1 "start --timeout 2 while the app's login waits"
    check_error_shape "login held up"
    check_contains "$ERR" "login" "the error says the app's login did not finish"
    check_contains "$ERR" "in time" "... in time"
    check_contains "$ERR" "--timeout (2 s)" "the hint names the limit"
    check_not_contains "$ERR" "first start" "it does not blame a first start"
    sql "$su" "select pg_terminate_backend(pid) from pg_stat_activity where query like 'begin; alter database%'" >/dev/null
    wait "$holder" 2>/dev/null || true
    pgb start --app "$app" --timeout 10
    check_rc 0 "start once the lock is gone"
    check_eq "$OUT" "$url" "same URL"
    pgb stop --app "$app"
}

case_server_does_not_answer() {
    local app su dd
    app=$(app_name slow)
    dd=$(data_dir "$app")
    pgb start --app "$app"
    check_rc 0 "start"
    su=$(super_url "$app")
    # Every new connection now waits 60 s before it is even read.
    sql "$su" "alter system set pre_auth_delay = 60" >/dev/null
    sql "$su" "select pg_reload_conf()" >/dev/null
    CMD_TIMEOUT=40 pgb start --app "$app" --timeout 2
    check_rc 1 "start --timeout 2 against a server whose connections wait 60 s"
    check_error_shape "no answer"
    check_contains "$ERR" "does not answer" "the error says the server does not answer"
    check_not_contains "$ERR" "first start" "it does not blame a first start"
    check_not_contains "$ERR" "crash" "nor crash recovery"
    # the sleeping backends end with an immediate stop
    pgb stop --app "$app" --mode immediate
    as_user sed -i '/pre_auth_delay/d' "$dd/postgresql.auto.conf"
    pgb start --app "$app"
    check_rc 0 "start after pre_auth_delay is gone"
    pgb stop --app "$app"
}

case_app_dropped_while_running() {
    local app url su
    app=$(app_name dropped)
    pgb start --app "$app"
    check_rc 0 "start"
    url=$OUT
    su=$(super_url "$app")
    sql "$su" "drop database \"$app\"" >/dev/null
    sql "$su" "drop role \"$app\"" >/dev/null
    check_true "the URL no longer logs in (the state a killed first start leaves)" \
        bash -c '! [[ $(timeout 30 psql -X -A -t -q "$1" -c "select 1" 2>/dev/null) == 1 ]]' _ "$url"
    pgb start --app "$app"
    check_rc 0 "start reusing the server"
    check_eq "$OUT" "$url" "same URL"
    check_true "the URL logs in after the start" logs_in "$url"
    # a password changed behind pgboot's back
    sql "$su" "alter role \"$app\" password 'not-the-one-in-pgpass'" >/dev/null
    pgb start --app "$app"
    check_rc 0 "start after the password changed"
    check_true "the URL logs in again" logs_in "$url"
    pgb stop --app "$app"
}

# ready_and_blocked DATA_DIR PID: postmaster.pid says ready and PID waits in
# open() of the pgpass FIFO (openat is syscall 257 on x86_64).
ready_and_blocked() {
    [[ $(sed -n 8p "$1/postmaster.pid" 2>/dev/null) == ready* ]] &&
        [[ $(cut -d' ' -f1 "/proc/$2/syscall" 2>/dev/null) == 257 ]]
}

case_killed_after_ready() {
    local app url su dd ad pid
    [[ $(uname -m) == x86_64 ]] || {
        nok "this case reads /proc/PID/syscall with x86_64 numbers"
        return 0
    }
    app=$(app_name killed)
    dd=$(data_dir "$app")
    ad=$(app_dir "$app")
    pgb start --app "$app"
    check_rc 0 "first start"
    url=$OUT
    su=$(super_url "$app")
    sql "$su" "drop database \"$app\"" >/dev/null
    sql "$su" "drop role \"$app\"" >/dev/null
    pgb stop --app "$app"
    check_rc 0 "stop"
    # The start reads pgpass first once the server is ready (to make the URL,
    # before the role and database are checked): a FIFO there holds it at
    # exactly that point until it is killed.
    as_user mv "$ad/pgpass" "$ad/pgpass.saved"
    as_user mkfifo -m 600 "$ad/pgpass"
    local -a envs
    mapfile -t envs < <(user_env)
    # exec all the way down: $! is pgboot itself
    (cd "$U" && exec setpriv --reuid="$TEST_USER" --regid="$TEST_USER" --init-groups \
        env -i "${envs[@]}" "$PGB" start --app "$app") >"$T/killed.out" 2>&1 </dev/null &
    pid=$!
    register_bg "$pid"
    if wait_until 60 ready_and_blocked "$dd" "$pid"; then
        ok "the start is held after the server is ready"
    else
        nok "the start did not reach the pgpass read with the server ready: $(cat "$T/killed.out")"
    fi
    check_eq "$(cat "/proc/$pid/comm" 2>/dev/null)" pgboot "the process held is pgboot"
    kill -STOP "$pid"
    kill -KILL "$pid"
    wait "$pid" 2>/dev/null || true
    as_user rm "$ad/pgpass"
    as_user mv "$ad/pgpass.saved" "$ad/pgpass"
    [[ $(sed -n 8p "$dd/postmaster.pid") == ready* ]] && ok "the server runs on after the kill" ||
        nok "the server is not running after the kill"
    pgb url --app "$app"
    if [[ $RC == 0 ]]; then
        check_true "url hands out a URL that logs in" logs_in "$OUT"
    else
        check_rc 3 "url refuses a server whose start did not finish"
        check_contains "$ERR" "pgboot start --app $app" "and says how to finish it"
    fi
    pgb start --app "$app"
    check_rc 0 "the next start"
    check_eq "$OUT" "$url" "same URL"
    check_true "the URL logs in" logs_in "$url"
    pgb url --app "$app"
    check_rc 0 "url after the start"
    check_true "url's URL logs in" logs_in "$OUT"
    pgb stop --app "$app"
}

run_case login_held_up case_login_held_up
run_case server_does_not_answer case_server_does_not_answer
run_case app_dropped_while_running case_app_dropped_while_running
run_case killed_after_ready case_killed_after_ready
sl_finish
