#!/usr/bin/env bash
# pgboot tmp: prints the URL of a throwaway cluster and exits; a detached
# process keeps the cluster while clients are connected and removes it once
# none has been for --ttl seconds; its JSON form; the keeper SIGKILLed.
set -euo pipefail
# shellcheck source=eph_lib.sh
. "$(dirname "$0")/eph_lib.sh"
eph_setup

BASE=$(eph_base)

# cluster_alive PM DATA: the postmaster runs and the directory is there.
cluster_alive() { pid_live "$1" && [[ -d "$2" ]]; }
cluster_gone() { ! pid_live "$1" && [[ ! -e "$2" ]] && no_postgres "$2"; }

# tmp_json ARGS...: pgboot tmp --json ARGS; sets URL PM DATA SOCK KEEPER EPH.
tmp_json() {
    pgb tmp --json "$@"
    check_rc 0 "pgboot tmp --json $*"
    URL=$(jget "$OUT" url)
    PM=$(jget "$OUT" pid)
    DATA=$(jget "$OUT" data_dir)
    SOCK=$(jget "$OUT" socket_dir)
    EPH=${DATA%/data}
    KEEPER=""
    [[ -f "$EPH/owner" ]] && read -r KEEPER _ <"$EPH/owner"
    [[ $RC == 0 && -d "$DATA" && "$PM" =~ ^[0-9]+$ ]] || {
        nok "tmp: no usable cluster (url '$URL', pid '$PM', data_dir '$DATA')"
        return 1
    }
}

case_plain_output() {
    local url t0 t1 rc=0 pm eph
    # stdout is one line, and `$(pgboot tmp)` returns at once: the detached
    # keeper does not hold the caller's stdout
    t0=$(date +%s%3N)
    url=$(timeout -k 2 20 setpriv --reuid="$TEST_USER" --regid="$USER_GID" --init-groups env -C "$U" -i "${USER_ENV[@]}" "$PGB" tmp --ttl 2 2>"$T/tmp.err") || rc=$?
    t1=$(date +%s%3N)
    check_eq "$rc" 0 "url=\$(pgboot tmp --ttl 2)"
    check_match "$url" '^postgresql://postgres:[^@]+@127\.0\.0\.1:[0-9]+/postgres$' "the output is one postgresql:// URL"
    if ((t1 - t0 < 10000)); then ok "command substitution returned in $((t1 - t0)) ms"; else nok "command substitution took $((t1 - t0)) ms"; fi
    check_eq "$(sql "$url" "select current_setting('fsync')")" off "psql over the URL (fsync off)"
    eph=$(eph_dirs)
    check_eq "$(wc -l <<<"$eph")" 1 "one cluster in the base"
    read -r _ pm _ <"$eph/owner"
    # idle from now on: gone within ttl + 3 s, not before ~ttl
    sleep 1
    check_true "idle 1 s into a 2 s TTL: still there" cluster_alive "$pm" "$eph"
    if wait_until 4 cluster_gone "$pm" "$eph"; then
        ok "idle: gone within ttl + 3 s"
    else
        nok "idle: the cluster $eph (postmaster $pm) is still there 5 s after its last client left (TTL 2)"
    fi
    check_clean "$BASE" "idle"
}

case_ttl_with_client() {
    local t0 bg rc=0
    tmp_json --ttl 3 || return 0
    t0=$(date +%s%3N)
    check_match "$URL" '^postgresql://postgres:[^@]+@127\.0\.0\.1:[0-9]+/postgres$' "json: url"
    check_eq "$(jget "$OUT" port)" "$(url_port "$URL")" "json: port is the URL's"
    check_match "$DATA" "^$BASE/eph-[A-Za-z0-9]{6}/data\$" "json: data_dir"
    check_socket_dir "$EPH" "$SOCK" "json: socket_dir"
    check_true "json: pid is a live postgres" test -n "$(live_postgres "$DATA")"
    check_true "the keeper process is alive (owner file: $KEEPER)" pid_live "${KEEPER:-0}"
    check_eq "$(sql "$URL" 'select 1')" 1 "psql over the URL"
    # a client that stays connected 6 s, past the TTL
    as_user_bg "$PSQL" -X -A -t -q "$URL" -c 'select pg_sleep(6)'
    bg=$BG_PID
    sleep 4.5
    check_true "4.5 s into a 3 s TTL, a client connected: the cluster is there" cluster_alive "$PM" "$EPH"
    check_true "the client is still connected" pid_live "$bg"
    wait "$bg" || rc=$?
    check_eq "$rc" 0 "the client's pg_sleep(6) completed (nobody cut it)"
    echo "note: client disconnected $(($(date +%s%3N) - t0)) ms after tmp returned"
    sleep 1.5
    check_true "1.5 s after the client left (TTL 3): still there" cluster_alive "$PM" "$EPH"
    if wait_until 5 cluster_gone "$PM" "$EPH"; then
        ok "gone within ttl + 3 s of the client leaving"
    else
        nok "the cluster $EPH (postmaster $PM) is still there 6.5 s after its last client left (TTL 3)"
    fi
    check_gone "$SOCK" 1 "the socket directory"
    if wait_until 3 pid_dead "$KEEPER"; then ok "the keeper ended"; else nok "the keeper $KEEPER still runs"; fi
    check_clean "$BASE" "after the TTL"
}

case_keeper_killed() {
    tmp_json --ttl 60 || return 0
    check_true "the keeper runs" pid_live "${KEEPER:-0}"
    kill -KILL "$KEEPER"
    if wait_until 3 cluster_gone "$PM" "$EPH"; then
        ok "keeper SIGKILLed: the cluster is gone within 3 s"
    else
        nok "keeper SIGKILLed: the cluster $EPH (postmaster $PM) is still there after 3 s"
    fi
    check_gone "$SOCK" 1 "keeper SIGKILLed: the socket directory"
    check_clean "$BASE" "keeper SIGKILLed"
}

case_bad_ttl() {
    pgb tmp --ttl 0
    check_ne "$RC" 0 "--ttl 0 is refused"
    check_eq "$OUT" "" "--ttl 0: nothing on stdout"
    check_eq "$(eph_dirs)" "" "--ttl 0: no cluster made"
}

run_case plain-output case_plain_output
run_case ttl-with-client case_ttl_with_client
run_case keeper-killed case_keeper_killed
run_case bad-ttl case_bad_ttl
eph_finish
