#!/usr/bin/env bash
# Child mode keeps real time: when the host of a child-mode server (`pgboot
# serve`, `pgboot run`) is SIGKILLed, its supervisor asks postgres for a fast
# shutdown and gives it the time it needs. The server shuts down cleanly (its
# log says so, no SIGKILL, no crash recovery at the next start, its shared
# memory is gone) and an UNLOGGED table keeps its rows, which it would lose
# to a crash. `pgboot run -- CMD` SIGKILLed: CMD does not outlive it.
set -euo pipefail
. "$(dirname "$0")/server_lib.sh"
sl_setup

log_size() { stat -c %s "$1" 2>/dev/null || echo 0; }
log_since() { tail -c +$(($2 + 1)) "$1" 2>/dev/null || true; }

# fill_unlogged URL: an UNLOGGED table of 1000 rows (a crash empties it).
fill_unlogged() {
    sql "$1" "CREATE UNLOGGED TABLE scratch AS SELECT g AS n FROM generate_series(1, 1000) g" >/dev/null
    check_eq "$(sql "$1" 'SELECT count(*) FROM scratch')" 1000 "$2: an UNLOGGED table with 1000 rows"
}

# kill_host_and_check TAG HOST APP DD PM URL: SIGKILL HOST (serve or run), then
# the server must shut down cleanly and come back with its UNLOGGED rows.
kill_host_and_check() {
    local tag=$1 host=$2 app=$3 dd=$4 pm=$5 url=$6 log off shm dsm after f
    log=$dd/log/postgresql.log
    shm=$(sysv_shm_of "$pm")
    dsm=$(dsm_of "$pm")
    check_ne "$shm" "" "$tag: the postmaster ($pm) holds a shared memory segment"
    off=$(log_size "$log")
    kill -KILL "$host"
    # a generous bound: the supervisor may give a fast shutdown up to 10 s
    if wait_no_postgres "$dd" 60; then ok "$tag: the server stopped after its host was SIGKILLed"; else
        nok "$tag: postgres still runs 60 s after its host was SIGKILLed"
        return 0
    fi
    after=$(log_since "$log" "$off")
    check_contains "$after" "received fast shutdown request" "$tag: the supervisor asked for a fast shutdown"
    check_contains "$after" "database system is shut down" "$tag: the log says the server shut down"
    check_not_contains "$after" "immediate shutdown" "$tag: no immediate shutdown"
    # shellcheck disable=SC2086 # ids, one word each
    check_eq "$(sysv_shm_left $shm | paste -sd, -)" "" "$tag: no shared memory segment of the postmaster is left"
    for f in $dsm; do
        check_no_path "$f" "$tag: its dynamic shared memory ${f##*/} is removed"
    done
    off=$(log_size "$log")
    pgb start --app "$app"
    check_rc 0 "$tag: the next start"
    after=$(log_since "$log" "$off")
    check_contains "$after" "database system was shut down at" "$tag: the next start finds a clean shutdown"
    check_not_contains "$after" "was interrupted" "$tag: no crash recovery at the next start"
    check_not_contains "$after" "not properly shut down" "$tag: no recovery of an unclean shutdown"
    check_eq "$(sql "$url" 'SELECT count(*) FROM scratch')" 1000 "$tag: the UNLOGGED table kept its 1000 rows"
    pgb stop --app "$app"
    check_rc 0 "$tag: stop"
    check_no_postgres "$dd" 10 "$tag: at the end"
}

case_serve_sigkilled() {
    local app dd ready url pm i
    app=$(app_name serve)
    dd=$(data_dir "$app")
    spawn_user "$U/serve.pid" "$T/serve.out" "$T/serve.err" "$PGB" serve --app "$app" </dev/null || return 0
    for ((i = 0; i < 1200; i++)); do
        ready=$(grep -m1 '"event": *"ready"' "$T/serve.out" 2>/dev/null || true)
        [[ -n $ready ]] && break
        sleep 0.05
    done
    [[ -n $ready ]] || {
        nok "serve printed no ready line: $(head -c 1500 "$T/serve.err")"
        return 0
    }
    url=$(jget "$ready" url)
    pm=$(jget "$ready" pid)
    ok "serve is ready (postmaster $pm)"
    fill_unlogged "$url" serve
    kill_host_and_check serve "$SPAWNED" "$app" "$dd" "$pm" "$url"
}

case_run_sigkilled() {
    local app dd url pm cmdpid rec=$U/run.rec
    app=$(app_name run)
    dd=$(data_dir "$app")
    rm -f "$rec"
    # CMD records its pid and the URL, then becomes a sleep with a marker
    spawn_user "$U/run.pid" "$T/run.out" "$T/run.err" "$PGB" run --app "$app" -- \
        sh -c 'printf "%s\n%s\n" $$ "$DATABASE_URL" >"$0.tmp" && mv "$0.tmp" "$0" && exec sleep 300' "$rec" </dev/null || return 0
    wait_until 60 file_nonempty "$rec" || {
        nok "run's command did not start: $(head -c 1500 "$T/run.err")"
        return 0
    }
    cmdpid=$(sed -n 1p "$rec")
    url=$(sed -n 2p "$rec")
    register_bg "$cmdpid"
    pm=$(postmaster_pids "$dd")
    check_match "$pm" '^[0-9]+$' "run started a server (postmaster $pm)"
    check_true "run's command (a sleep) runs" pid_live "$cmdpid"
    fill_unlogged "$url" run
    kill_host_and_check run "$SPAWNED" "$app" "$dd" "$pm" "$url"
    if wait_until 10 eval '! pid_live "$cmdpid"'; then ok "run's command did not outlive run"; else
        nok "run's command ($cmdpid: $(ps -o args= -p "$cmdpid")) still runs after run was SIGKILLed"
    fi
}

run_case serve_sigkilled case_serve_sigkilled
run_case run_sigkilled case_run_sigkilled
sl_finish
