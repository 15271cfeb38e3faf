#!/usr/bin/env bash
# Every command tells the same truth (issue 9): while a smart stop waits for a
# connected client, status, url, start and stop all say "stopping" (status and
# url exit 4), start says how to force it, and a fast stop takes over at once
# instead of waiting behind the smart stop's lock; while the postmaster hangs
# (SIGSTOP), they all say the server does not answer (status and url exit 5),
# give up within their --timeout, and everything recovers after SIGCONT.
# No timed assertions: each command only has to finish under CMD_TIMEOUT.
set -euo pipefail
. "$(dirname "$0")/server_lib.sh"
sl_setup
CMD_TIMEOUT=30

# A postmaster this script stopped (SIGSTOP) is resumed however the script
# ends, before the servers are swept.
cont_stopped() {
    local p
    [[ -f "$T/.stopped" ]] || return 0
    while read -r p; do [[ -n "$p" ]] && kill -CONT "$p" 2>/dev/null; done <"$T/.stopped"
    return 0
}
CLEANUP_HOOKS+=(cont_stopped)

pm_status() { awk 'NR == 8 { print $1 }' "$1/postmaster.pid" 2>/dev/null; }
is_stopping() { [[ "$(pm_status "$1")" == stopping ]]; }
# Whether a pgboot process holds the flock of file $1, read from /proc/locks:
# probing by taking the lock (flock -n) would itself hold it for a moment, and
# a stop that tries the lock then takes it for another stop's.
lock_held() {
    local ino pid
    ino=$(stat -c %i "$1" 2>/dev/null) || return 1
    for pid in $(awk -v ino="$ino" '$2 == "FLOCK" { n = split($6, f, ":"); if (f[n] == ino) print $5 }' /proc/locks); do
        [[ $(cat "/proc/$pid/comm" 2>/dev/null) == pgboot ]] && return 0
    done
    return 1
}

case_smart_stop_pending() {
    local app dd url client smart lock
    app=$(app_name smart)
    dd=$(data_dir "$app")
    lock="$(app_dir "$app")/pgboot.lock"
    pgb start --app "$app"
    check_rc 0 "start"
    url=$OUT
    hold_client "$url" 300
    client=$CLIENT_PID

    # A smart stop that gives up leaves the server in its smart shutdown.
    pgb stop --app "$app" --mode smart --timeout 2
    check_rc 1 "a smart stop with a client connected times out"
    check_contains "$ERR" "--mode fast" "its hint names the fast mode"
    check_true "the server is stopping" is_stopping "$dd"

    pgb status --app "$app"
    check_rc 4 "status while a smart shutdown waits: stopping"
    check_contains "$OUT" "stopping (app $app)" "status says stopping"
    check_not_contains "$OUT" "not running" "status does not say not running"
    pgb status --app "$app" --json
    check_rc 4 "status --json while stopping"
    check_eq "$(jget "$OUT" state)" stopping "status --json: state is stopping"
    check_eq "$(jget "$OUT" running)" false "status --json: running is false (no new connections)"
    pgb url --app "$app"
    check_rc 4 "url while stopping"
    check_eq "$OUT" "" "url prints no URL that cannot connect"
    check_contains "$ERR" "stopping" "url says the server is stopping"
    check_contains "$ERR" "pgboot stop --app $app --mode fast" "url's hint says how to end it now"
    pgb env --app "$app"
    check_rc 4 "env agrees with url"
    pgb start --app "$app" --timeout 2
    check_rc 1 "start during a pending smart shutdown fails"
    check_contains "$ERR" "stopping" "start says why: the server is stopping"
    check_contains "$ERR" "pgboot stop --app $app --mode fast" "start's hint says how to force it"
    check_true "the client is still served" pid_live "$client"

    # A smart stop that holds the app's lock while it waits for the client
    # (longer than CMD_TIMEOUT: a command that waits behind it fails).
    (
        rc=0
        as_user "$PGB" stop --app "$app" --mode smart --timeout 120 \
            >"$T/smart.out" 2>"$T/smart.err" </dev/null || rc=$?
        echo "$rc" >"$T/smart.rc"
    ) &
    smart=$!
    register_bg "$smart"
    wait_until 20 lock_held "$lock" || nok "the smart stop did not take the app's lock"
    pgb status --app "$app"
    check_rc 4 "status while a smart stop holds the lock"
    pgb start --app "$app" --timeout 2
    check_rc 1 "start while a smart stop holds the lock fails instead of waiting for it"
    check_contains "$ERR" "pgboot stop --app $app --mode fast" "with the hint to force it"
    pgb stop --app "$app" --mode fast --timeout 20
    check_rc 0 "a fast stop takes over from the pending smart stop"
    check_no_postgres "$dd" 10 "after the fast stop"
    wait "$smart" || true
    check_eq "$(cat "$T/smart.rc" 2>/dev/null)" 0 "the smart stop ends with the server (it did not time out)"
    check_contains "$(cat "$T/smart.err" 2>/dev/null)" "stopped the server" "the smart stop says it stopped the server"
    pgb status --app "$app"
    check_rc 3 "status after the stop: not running"
    pgb start --app "$app"
    check_rc 0 "start again"
    check_eq "$(sql "$OUT" 'select 1')" 1 "the new server serves"
    pgb stop --app "$app"
    check_rc 0 "final stop"
}

case_hung_postmaster() {
    local app dd url pm
    app=$(app_name hung)
    dd=$(data_dir "$app")
    pgb start --app "$app"
    check_rc 0 "start"
    url=$OUT
    pm=$(postmaster_pids "$dd")
    if [[ $(wc -w <<<"$pm") != 1 ]]; then
        nok "expected one postmaster, got '$pm'"
        return 1
    fi
    echo "$pm" >>"$T/.stopped"
    trap cont_stopped EXIT
    kill -STOP "$pm"

    pgb status --app "$app" --timeout 2
    check_rc 5 "status of a hung server: not answering"
    check_contains "$OUT" "not answering (app $app)" "status says not answering"
    check_contains "$OUT" "does not answer" "status says the server does not answer"
    check_contains "$ERR" "kill -CONT $pm" "status's hint: resume the stopped process"
    pgb status --app "$app" --timeout 2 --json
    check_rc 5 "status --json of a hung server"
    check_eq "$(jget "$OUT" state)" "not answering" "status --json: state is not answering"
    pgb url --app "$app" --timeout 2
    check_rc 5 "url of a hung server"
    check_eq "$OUT" "" "url prints no URL"
    check_contains "$ERR" "does not answer" "url says the server does not answer"
    check_not_contains "$ERR" "is ready" "url does not call it ready"
    pgb start --app "$app" --timeout 3
    check_rc 1 "start with a hung server fails"
    check_contains "$ERR" "does not answer" "start says the server does not answer"
    check_not_contains "$ERR" "crash recovery" "start does not blame crash recovery"
    check_eq "$(postmaster_pids "$dd")" "$pm" "start left the hung server alone and launched no other"

    kill -CONT "$pm"
    pgb status --app "$app"
    check_rc 0 "status after SIGCONT: running"
    pgb url --app "$app"
    check_rc 0 "url after SIGCONT"
    check_eq "$OUT" "$url" "the same URL"
    check_eq "$(sql "$url" 'select 1')" 1 "the server serves again"

    kill -STOP "$pm"
    pgb stop --app "$app" --timeout 2
    check_rc 1 "a fast stop of a hung server gives up after its timeout"
    check_contains "$ERR" "does not answer" "stop says the server does not answer"
    check_not_contains "$ERR" "use --mode fast" "stop in fast mode does not suggest fast mode"
    check_contains "$ERR" "kill -CONT $pm" "stop's hint: resume the stopped process"
    check_true "the hung server was not killed" pid_live "$pm"
    kill -CONT "$pm"
    if wait_gone "$pm" 30; then ok "the pending fast shutdown ends the server once it resumes"; else nok "the server still runs after SIGCONT"; fi
    check_no_postgres "$dd" 10 "after the resumed shutdown"
    pgb status --app "$app"
    check_rc 3 "status: not running"
    pgb start --app "$app"
    check_rc 0 "start after the hung server stopped"
    check_eq "$(sql "$OUT" 'select 1')" 1 "the new server serves"
    pgb stop --app "$app"
    check_rc 0 "final stop"
}

run_case smart_stop_pending case_smart_stop_pending
run_case hung_postmaster case_hung_postmaster
sl_finish
