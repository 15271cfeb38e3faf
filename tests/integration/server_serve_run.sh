#!/usr/bin/env bash
# `pgboot serve` (foreground, for a parent process) and `pgboot run -- CMD`:
# the ready line; the server stops when stdin closes, on SIGTERM/SIGINT, when
# serve's parent is SIGKILLed, and when serve itself is SIGKILLed (its
# supervisor); a server serve did not start is left alone. `run` hands CMD the
# connection, exits with CMD's status and stops only a server it started.
set -euo pipefail
. "$(dirname "$0")/server_lib.sh"
sl_setup

# wait_event FILE EVENT SECONDS: the first JSON line of FILE with that event.
wait_event() {
    local f=$1 ev=$2 secs=$3 i line
    for ((i = 0; i < secs * 20; i++)); do
        line=$(grep -m1 "\"event\": *\"$ev\"" "$f" 2>/dev/null || true)
        if [[ -n "$line" ]]; then
            echo "$line"
            return 0
        fi
        sleep 0.05
    done
    return 1
}

# start_serve APP TAG [stdin-file]: serve in the background; sets SERVE_PID,
# READY (the ready line), and checks the ready line.
start_serve() {
    local app=$1 tag=$2 in=${3:-/dev/null}
    spawn_user "$U/$tag.pid" "$T/$tag.out" "$T/$tag.err" "$PGB" serve --app "$app" <"$in" || return 1
    SERVE_PID=$SPAWNED
    if READY=$(wait_event "$T/$tag.out" ready 60); then
        ok "$tag: serve printed a ready line"
    else
        nok "$tag: no ready line from serve; stdout: $(head -c 800 "$T/$tag.out"); stderr: $(head -c 1500 "$T/$tag.err")"
        return 1
    fi
    check_eq "$(wc -l <"$T/$tag.out")" 1 "$tag: one line on stdout before the end"
}

case_serve_ready_and_stdin_eof() {
    local app dd url
    app=$(app_name eof)
    dd=$(data_dir "$app")
    mkfifo "$T/eof.fifo"
    # the writer end is opened below, after serve opens the reader end
    spawn_user "$U/eof.pid" "$T/eof.out" "$T/eof.err" "$PGB" serve --app "$app" <"$T/eof.fifo" &
    local spawner=$!
    exec 8>"$T/eof.fifo"
    wait "$spawner" || true
    wait_until 10 file_nonempty "$U/eof.pid" || true
    SERVE_PID=$(cat "$U/eof.pid")
    register_bg "$SERVE_PID"
    if READY=$(wait_event "$T/eof.out" ready 60); then ok "serve printed a ready line"; else
        nok "no ready line; stderr: $(head -c 1500 "$T/eof.err")"
        exec 8>&-
        return 0
    fi
    check_eq "$(jget "$READY" event)" ready "event is ready"
    check_eq "$(jget "$READY" started)" true "started is true"
    check_eq "$(jget "$READY" external)" false "external is false"
    check_eq "$(jget "$READY" version)" "$PG_VERSION" "version"
    url=$(jget "$READY" url)
    check_match "$url" "^postgresql://$app:[^@]+@127\.0\.0\.1:[0-9]+/$app\$" "the ready line has the URL"
    check_eq "$(jget "$READY" pid)" "$(postmaster_pids "$dd")" "the ready line's pid is the postmaster"
    check_eq "$(sql "$url" 'select 1')" 1 "psql over the URL"
    pgb status --app "$app"
    check_rc 0 "status sees the server of serve"
    sleep 0.5
    pid_live "$SERVE_PID" && ok "serve stays while stdin is open" || nok "serve ended while stdin was open"
    exec 8>&-
    local stopped
    if stopped=$(wait_event "$T/eof.out" stopped 15); then
        check_eq "$(jget "$stopped" reason)" "stdin closed" "stopped because stdin closed"
    else
        nok "no stopped line after stdin closed; stdout: $(cat "$T/eof.out")"
    fi
    wait_until 15 pid_gone "$SERVE_PID" || wait_until 1 eval '! pid_live "$SERVE_PID"' || nok "serve still runs after stdin closed"
    check_no_postgres "$dd" 5 "after stdin closed"
    [[ ! -e "$(app_dir "$app")/pgboot.run" ]] && ok "pgboot.run removed" || nok "pgboot.run left behind"
    pgb status --app "$app"
    check_rc 3 "status after serve ended"
}

case_serve_signals() {
    local app dd sig tag stopped
    app=$(app_name sig)
    dd=$(data_dir "$app")
    for sig in TERM INT; do
        tag=sig$sig
        start_serve "$app" "$tag" /dev/null || return 0
        sleep 0.5
        pid_live "$SERVE_PID" && ok "$tag: a /dev/null stdin does not end serve" || nok "$tag: serve ended with stdin /dev/null"
        check_eq "$(sql "$(jget "$READY" url)" 'select 1')" 1 "$tag: psql over the URL"
        kill "-$sig" "$SERVE_PID"
        if stopped=$(wait_event "$T/$tag.out" stopped 15); then
            check_eq "$(jget "$stopped" reason)" signal "$tag: stopped, reason signal"
        else
            nok "$tag: no stopped line after SIG$sig; stdout: $(cat "$T/$tag.out"); stderr: $(cat "$T/$tag.err")"
        fi
        local rc=0
        wait "$SPAWNED_JOB" || rc=$?
        check_eq "$rc" 0 "$tag: serve exits 0"
        check_no_postgres "$dd" 5 "$tag: after SIG$sig"
    done
}

case_serve_parent_sigkilled() {
    local app dd
    app=$(app_name parent)
    dd=$(data_dir "$app")
    cat >"$U/parent.py" <<'PYEOF'
import os, subprocess, sys, time
pidfile, out, err = sys.argv[1:4]
with open(out, "w") as o, open(err, "w") as e, open("/dev/zero", "rb") as z:
    subprocess.Popen(sys.argv[4:], stdin=z, stdout=o, stderr=e)
with open(pidfile + ".tmp", "w") as f:
    f.write("%d\n" % os.getpid())
os.rename(pidfile + ".tmp", pidfile)
while True:
    time.sleep(60)
PYEOF
    chmod 644 "$U/parent.py"
    as_user "$PY" "$U/parent.py" "$U/parent.pid" "$U/parent.out" "$U/parent.err" "$PGB" serve --app "$app" </dev/null >/dev/null 2>&1 &
    register_bg $!
    wait_until 10 file_nonempty "$U/parent.pid" || {
        nok "the python parent did not start"
        return 0
    }
    local parent ready
    parent=$(cat "$U/parent.pid")
    register_bg "$parent"
    if ready=$(wait_event "$U/parent.out" ready 60); then ok "serve (child of python, stdin /dev/zero) is ready"; else
        nok "no ready line; stderr: $(head -c 1500 "$U/parent.err")"
        return 0
    fi
    check_eq "$(sql "$(jget "$ready" url)" 'select 1')" 1 "psql over the URL"
    local serve
    serve=$(pgrep -P "$parent" || true)
    check_match "$serve" '^[0-9]+$' "serve is the python parent's child"
    sleep 0.5
    [[ -n "$(postmaster_pids "$dd")" ]] && ok "the server still runs (stdin /dev/zero is no lifeline)" || nok "the server stopped before the parent died"
    kill -KILL "$parent"
    check_no_postgres "$dd" 2 "after serve's parent was SIGKILLed"
    [[ -n "$serve" ]] && { wait_until 5 eval '! pid_live "$serve"' && ok "serve ended too" || nok "serve ($serve) still runs after its parent died"; }
    if wait_event "$U/parent.out" stopped 5 >/dev/null; then ok "serve printed a stopped line"; else nok "no stopped line from serve after its parent died"; fi
}

case_serve_self_sigkilled() {
    local app dd
    app=$(app_name self)
    dd=$(data_dir "$app")
    start_serve "$app" self /dev/null || return 0
    check_eq "$(sql "$(jget "$READY" url)" 'select 1')" 1 "psql over the URL"
    kill -KILL "$SERVE_PID"
    check_no_postgres "$dd" 2 "after serve itself was SIGKILLed (its supervisor stops the server)"
    pgb start --app "$app" --json
    check_rc 0 "a later start works"
    check_eq "$(jget "$OUT" started)" true "the later start started a server"
    pgb stop --app "$app"
    check_rc 0 "stop"
    check_no_postgres "$dd" 5 "at the end"
}

case_serve_leaves_a_reused_server() {
    local app dd url pm
    app=$(app_name reuse)
    dd=$(data_dir "$app")
    pgb start --app "$app"
    check_rc 0 "start"
    url=$OUT
    pm=$(postmaster_pids "$dd")
    start_serve "$app" reuse /dev/null || return 0
    check_eq "$(jget "$READY" started)" false "serve reuses the running server: started is false"
    check_eq "$(jget "$READY" url)" "$url" "same URL"
    kill -TERM "$SERVE_PID"
    wait_event "$T/reuse.out" stopped 15 >/dev/null || nok "no stopped line"
    wait "$SPAWNED_JOB" || true
    sleep 0.5
    check_eq "$(postmaster_pids "$dd")" "$pm" "the server serve did not start still runs"
    check_eq "$(sql "$url" 'select 1')" 1 "and answers"
    pgb stop --app "$app"
    check_rc 0 "stop"
    check_no_postgres "$dd" 5 "at the end"
}

case_run_exit_status_and_env() {
    local app dd
    app=$(app_name run)
    dd=$(data_dir "$app")
    pgb run --app "$app" -- sh -c 'exit 0'
    check_rc 0 "run -- sh -c 'exit 0'"
    check_no_postgres "$dd" 5 "run stopped the server it started"
    pgb status --app "$app"
    check_rc 3 "status after run"
    pgb run --app "$app" -- sh -c 'exit 7'
    check_rc 7 "run -- sh -c 'exit 7'"
    pgb run --app "$app" -- /nonexistent/command --flag
    check_rc 127 "run -- a command that does not exist"
    check_contains "$ERR" "/nonexistent/command" "the error names the command"
    pgb run --app "$app" -- sh -c 'kill -TERM $$'
    check_rc 143 "run -- a command killed by SIGTERM (128+15)"
    check_no_postgres "$dd" 5 "no server left after the runs"

    pgb run --app "$app" -- sh -c 'printf "%s|%s|%s|%s|%s|%s\n" "$DATABASE_URL" "$PGHOST" "$PGPORT" "$PGUSER" "$PGDATABASE" "${#PGPASSWORD}"'
    check_rc 0 "run -- print the connection variables"
    local url host port user db pwlen
    IFS='|' read -r url host port user db pwlen <<<"$OUT"
    check_match "$url" "^postgresql://$app:[^@]+@127\.0\.0\.1:$port/$app\$" "DATABASE_URL"
    check_eq "$host|$user|$db" "127.0.0.1|$app|$app" "PGHOST PGUSER PGDATABASE"
    check_ne "$pwlen" 0 "PGPASSWORD is set"
    pgb run --app "$app" -- psql -X -A -t -c 'select current_user, current_database()'
    check_rc 0 "run -- psql (only the PG* variables)"
    check_eq "$OUT" "$app|$app" "psql under run connects as the app"
    pgb run --app "$app" -- psql -X -A -t -c 'select 1/0'
    check_rc 1 "run -- a failing psql: its status"
    pgb run --app "$app" --
    check_rc 2 "run without a command"
    check_no_postgres "$dd" 5 "at the end"
}

case_run_leaves_a_reused_server() {
    local app dd url pm
    app=$(app_name runreuse)
    dd=$(data_dir "$app")
    pgb start --app "$app"
    check_rc 0 "start"
    url=$OUT
    pm=$(postmaster_pids "$dd")
    pgb run --app "$app" -- sh -c 'test "$DATABASE_URL" = "$1"' _ "$url"
    check_rc 0 "run reuses the server (same DATABASE_URL)"
    pgb run --app "$app" -- sh -c 'exit 5'
    check_rc 5 "run -- exit 5 on a reused server"
    check_eq "$(postmaster_pids "$dd")" "$pm" "the server run did not start still runs"
    check_eq "$(sql "$url" 'select 1')" 1 "and answers"
    pgb stop --app "$app"
    check_rc 0 "stop"
    check_no_postgres "$dd" 5 "at the end"
}

run_case serve_ready_and_stdin_eof case_serve_ready_and_stdin_eof
run_case serve_signals case_serve_signals
run_case serve_parent_sigkilled case_serve_parent_sigkilled
run_case serve_self_sigkilled case_serve_self_sigkilled
run_case serve_leaves_a_reused_server case_serve_leaves_a_reused_server
run_case run_exit_status_and_env case_run_exit_status_and_env
run_case run_leaves_a_reused_server case_run_leaves_a_reused_server
sl_finish
