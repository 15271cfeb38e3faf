#!/usr/bin/env bash
# Throwaway clusters end cleanly and take their command with them: a `pgboot
# tmp --ttl` cluster that expires shuts down cleanly (a fast shutdown that
# completes: its log says so, and its shared memory is gone); `pgboot run
# --ephemeral -- CMD` SIGKILLed, 15 times over, leaves no CMD running.
set -euo pipefail
# shellcheck source=eph_lib.sh
. "$(dirname "$0")/eph_lib.sh"
eph_setup

BASE=$(eph_base)

cluster_gone() { ! pid_live "$1" && [[ ! -e "$2" ]] && no_postgres "$2"; }

case_ttl_expiry_is_clean() {
    local url pm data eph log shm dsm f text
    pgb tmp --ttl 2 --json
    check_rc 0 "pgboot tmp --ttl 2 --json"
    url=$(jget "$OUT" url)
    pm=$(jget "$OUT" pid)
    data=$(jget "$OUT" data_dir)
    eph=${data%/data}
    log=$data/log/postgresql.log
    [[ "$pm" =~ ^[0-9]+$ && -f "$log" ]] || {
        nok "tmp: no usable cluster (pid '$pm', log '$log')"
        return 0
    }
    # The directory goes with the cluster: read its log through a descriptor
    # opened now.
    exec 9<"$log"
    check_eq "$(sql "$url" 'select 1')" 1 "psql over the URL"
    shm=$(sysv_shm_of "$pm")
    dsm=$(dsm_of "$pm")
    check_ne "$shm" "" "the postmaster ($pm) holds a shared memory segment"
    # idle from now on; a generous bound (TTL 2 s, then a fast shutdown)
    if wait_until 60 cluster_gone "$pm" "$eph"; then ok "the idle cluster expired and is gone"; else
        nok "the cluster $eph (postmaster $pm) is still there 60 s after its last client left (TTL 2)"
        return 0
    fi
    text=$(cat <&9)
    exec 9<&-
    check_contains "$text" "received fast shutdown request" "expiry asks for a fast shutdown"
    check_contains "$text" "database system is shut down" "the log says the server shut down"
    check_not_contains "$text" "immediate shutdown" "no immediate shutdown"
    # shellcheck disable=SC2086 # ids, one word each
    check_eq "$(sysv_shm_left $shm | paste -sd, -)" "" "no shared memory segment of the postmaster is left"
    for f in $dsm; do
        check_no_path "$f" "its dynamic shared memory ${f##*/} is removed"
    done
    check_clean "$BASE" "after expiry"
}

# live_marked ERE: live (not zombie) processes whose command line matches ERE.
# PID 1 here does not reap orphans: a dead one may stay a zombie.
live_marked() {
    local p s
    for p in $(pgrep -f -- "$1" || true); do
        s=$(awk '{ sub(/^.*\) /, ""); print substr($0, 1, 1) }' "/proc/$p/stat" 2>/dev/null) || continue
        [[ -n "$s" && $s != Z ]] && echo "$p"
    done
    return 0
}
any_marked() { [[ -n "$(live_marked "$1")" ]]; }
none_marked() { [[ -z "$(live_marked "$1")" ]]; }

case_run_sigkilled_takes_cmd() {
    local i owner mark pids left pid d host pm pms=() shms=()
    # the command's own command line (pgboot's holds the marker too)
    mark="^$PY -c .* eph-orphan-$TAG"
    for ((i = 1; i <= 15; i++)); do
        as_user_bg "$PGB" run --ephemeral -- "$PY" -c 'import time; time.sleep(300)' "eph-orphan-$TAG-$i"
        owner=$BG_PID
        if ! wait_until 30 any_marked "$mark-$i\$"; then
            nok "kill $i: the command did not start within 30 s: $(cat "$BG_LOG.err"); $(show_pids "$owner $(pgrep -P "$owner" | tr '\n' ' ')"); $(tail -n 5 "$BASE"/eph-*/data/log/postgresql.log 2>/dev/null | tr '\n' ' ')"
        fi
        for pid in $(live_marked "$mark-$i\$"); do register_bg "$pid"; done
        for d in "$BASE"/eph-*; do
            read -r host pm _ <"$d/owner" 2>/dev/null || continue
            [[ $host == "$owner" ]] || continue
            pms+=("$pm")
            # read now, while it runs (see sysv_shm_of)
            # shellcheck disable=SC2207 # ids, one word each
            shms+=($(sysv_shm_of "$pm"))
        done
        kill -KILL "$owner"
        wait "$owner" 2>/dev/null || true
    done
    ok "15 runs SIGKILLed while their command ran"
    # a generous bound; the kernel ends them at once
    if wait_until 10 none_marked "$mark-"; then
        ok "no command outlived its SIGKILLed run (15 of 15)"
    else
        pids=$(live_marked "$mark-")
        left=$(wc -w <<<"$pids")
        nok "$left of 15 commands outlived their SIGKILLed run: $(show_pids "$pids")"
    fi
    # the supervisors stop the clusters (immediately: their owner died) and
    # remove them; a generous bound
    wait_until 30 no_eph_dirs "$BASE" || true
    check_clean "$BASE" "after 15 SIGKILLed runs"
    check_eq "${#pms[@]}" 15 "the 15 clusters' postmasters were seen"
    check_eq "${#shms[@]}" 15 "the 15 postmasters' shared memory segments were seen"
    check_eq "$(sysv_shm_left "${shms[@]}" | paste -sd, -)" "" "no shared memory segment of their postmasters is left"
}

run_case ttl-expiry-is-clean case_ttl_expiry_is_clean
run_case run-sigkilled-takes-cmd case_run_sigkilled_takes_cmd
eph_finish
