#!/usr/bin/env bash
# Ports: the last port is reused when free (a stable URL), another one is
# chosen when it is taken, --port N is used exactly, and a taken --port N is
# an error naming N.
set -euo pipefail
. "$(dirname "$0")/server_lib.sh"
sl_setup

case_last_port_reused_or_replaced() {
    local app dd url1 p1 url2 p2
    app=$(app_name last)
    dd=$(data_dir "$app")
    pgb start --app "$app"
    check_rc 0 "first start"
    url1=$OUT
    p1=$(url_port "$url1")
    pgb stop --app "$app"
    check_rc 0 "stop"
    pgb start --app "$app"
    check_rc 0 "restart with the last port free"
    check_eq "$OUT" "$url1" "the last port is reused: same URL"
    pgb stop --app "$app"
    check_rc 0 "stop"
    check_no_postgres "$dd" 5 "after stop"

    start_listener 127.0.0.1 "$p1"
    pgb start --app "$app"
    check_rc 0 "start while another program listens on the last port $p1"
    url2=$OUT
    p2=$(url_port "$url2")
    check_ne "$p2" "$p1" "another port was chosen"
    check_eq "$(sql "$url2" 'select 1')" 1 "psql over the new URL"
    check_eq "$(sql "$url2" 'show port')" "$p2" "the server listens on the port of the URL"
    pid_live "$LISTENER_PID" && ok "the listener still holds $p1" || nok "the listener on $p1 died"
    pgb stop --app "$app"
    check_rc 0 "stop"
    stop_listener
    pgb start --app "$app"
    check_rc 0 "start with both ports free"
    check_eq "$OUT" "$url2" "the port last used ($p2) is reused"
    pgb stop --app "$app"
    check_rc 0 "stop"

    # a listener on the wildcard address takes the loopback port too
    start_listener 0.0.0.0 "$p2"
    pgb start --app "$app"
    check_rc 0 "start while 0.0.0.0:$p2 is taken"
    check_ne "$(url_port "$OUT")" "$p2" "another port than the one taken on 0.0.0.0"
    check_eq "$(sql "$OUT" 'select 1')" 1 "psql over that URL"
    pgb stop --app "$app"
    check_rc 0 "stop"
    stop_listener
    check_no_postgres "$dd" 5 "at the end"
}

case_port_requested_busy() {
    local app dd n
    app=$(app_name busy)
    dd=$(data_dir "$app")
    n=$(free_port)
    start_listener 127.0.0.1 "$n"
    pgb start --app "$app" --port "$n"
    check_rc 1 "start --port $n while $n is taken"
    check_contains "$ERR" "$n" "the error names port $n"
    check_contains "$ERR" "in use" "the error says 'in use'"
    check_match "$ERR" "^pgboot: error: " "an error line"
    check_eq "$OUT" "" "nothing on stdout"
    check_no_postgres "$dd" 3 "after the refused start"
    pgb status --app "$app"
    check_rc 3 "status after the refused start"
    stop_listener

    # taken on the wildcard address: the same
    n=$(free_port)
    start_listener 0.0.0.0 "$n"
    pgb start --app "$app" --port "$n"
    check_rc 1 "start --port $n while 0.0.0.0:$n is taken"
    check_contains "$ERR" "$n" "the error names port $n"
    stop_listener
    check_no_postgres "$dd" 3 "at the end"
}

case_port_requested_free() {
    local app dd n url
    app=$(app_name exact)
    dd=$(data_dir "$app")
    n=$(free_port)
    pgb start --app "$app" --port "$n" --json
    check_rc 0 "start --port $n (free)"
    check_eq "$(jget "$OUT" port)" "$n" "JSON port is exactly $n"
    url=$(jget "$OUT" url)
    check_eq "$(url_port "$url")" "$n" "the URL has port $n"
    check_eq "$(sql "$url" 'show port')" "$n" "the server listens on $n"
    pgb status --app "$app"
    check_match "$OUT" "port $n" "status names port $n"
    # asking for the port it already runs on reuses it
    pgb start --app "$app" --port "$n" --json
    check_rc 0 "start --port $n again while it runs there"
    check_eq "$(jget "$OUT" started)" false "reused, not started again"
    pgb stop --app "$app"
    check_rc 0 "stop"
    # the next start without --port keeps $n (the last port)
    pgb start --app "$app"
    check_rc 0 "start without --port"
    check_eq "$(url_port "$OUT")" "$n" "the last port ($n) is kept"
    pgb stop --app "$app"
    check_rc 0 "stop"
    check_no_postgres "$dd" 5 "at the end"
}

case_port_usage_errors() {
    local app p
    app=$(app_name usage)
    for p in 0 65536 -1 abc 80x ''; do
        pgb start --app "$app" --port "$p"
        check_rc 2 "start --port '$p'"
    done
    [[ ! -e "$(app_dir "$app")" ]] && ok "no app dir made by the refused starts" || nok "a refused start made $(app_dir "$app")"
}

run_case last_port_reused_or_replaced case_last_port_reused_or_replaced
run_case port_requested_busy case_port_requested_busy
run_case port_requested_free case_port_requested_free
run_case port_usage_errors case_port_usage_errors
sl_finish
