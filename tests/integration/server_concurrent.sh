#!/usr/bin/env bash
# Eight `pgboot start --app X` at once, on a fresh app (all racing to initdb)
# and again on a stopped one: all succeed, all print the same URL, exactly one
# of them started the server, and exactly one postmaster runs.
set -euo pipefail
. "$(dirname "$0")/server_lib.sh"
sl_setup

N=8

# race APP TAG: N concurrent `start --json`; checks the outcome.
race() {
    local app=$1 tag=$2 dd i rc started=0 urls pm
    dd=$(data_dir "$app")
    local -a pids=()
    for ((i = 0; i < N; i++)); do
        as_user "$PGB" start --app "$app" --json >"$T/$tag.$i.out" 2>"$T/$tag.$i.err" </dev/null &
        pids+=($!)
    done
    for ((i = 0; i < N; i++)); do
        rc=0
        wait "${pids[$i]}" || rc=$?
        if [[ $rc == 0 ]]; then
            ok "$tag: start #$i exit 0"
        else
            nok "$tag: start #$i exit $rc: $(head -c 1500 "$T/$tag.$i.err")"
        fi
    done
    urls=$(for ((i = 0; i < N; i++)); do jget "$(cat "$T/$tag.$i.out")" url; done | sort -u)
    check_eq "$(wc -l <<<"$urls")" 1 "$tag: all $N starts print the same URL"
    check_match "$urls" "^postgresql://$app:" "$tag: and it is a URL"
    for ((i = 0; i < N; i++)); do
        [[ "$(jget "$(cat "$T/$tag.$i.out")" started)" == true ]] && started=$((started + 1))
    done
    check_eq "$started" 1 "$tag: exactly one start reports started=true"
    pm=$(postmaster_pids "$dd")
    check_eq "$(wc -w <<<"$pm")" 1 "$tag: exactly one live postmaster for the data dir"
    check_eq "$(for ((i = 0; i < N; i++)); do jget "$(cat "$T/$tag.$i.out")" pid; done | sort -u)" "$pm" "$tag: every start names that postmaster"
    check_eq "$(sql "$(head -1 <<<"$urls")" 'select 1')" 1 "$tag: the URL works"
    # no other postgres of this user under this test's data (a second
    # postmaster that lost a race and lingers would show here)
    check_eq "$(postmaster_pids "$U/data" prefix | wc -w)" 1 "$tag: no other postmaster under the test's data"
    URL=$(head -1 <<<"$urls")
}

case_fresh() {
    local app
    app=$(app_name fresh)
    race "$app" fresh
    echo "$URL" >"$T/fresh.url"
    # the cluster was created once: a single PG_VERSION, one role per app
    check_eq "$(sql "$URL" "select count(*) from pg_roles where rolname = '$app'")" 1 "one role for the app"
    pgb stop --app "$app"
    check_rc 0 "stop"
    check_no_postgres "$(data_dir "$app")" 5 "after stop"
    race "$app" restart
    check_eq "$URL" "$(cat "$T/fresh.url")" "the URL is the same after the concurrent restart"
    pgb stop --app "$app"
    check_rc 0 "stop"
    check_no_postgres "$(data_dir "$app")" 5 "at the end"
}

run_case fresh case_fresh
sl_finish
