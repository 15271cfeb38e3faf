#!/usr/bin/env bash
# Recovery: a postmaster killed with SIGKILL (reaped, and left as a zombie as
# under an init that does not reap), and stale postmaster.pid files naming a
# live non-postgres process, a dead process, or another cluster's postmaster.
# Each time the next `pgboot start` must bring the server back with the data.
set -euo pipefail
. "$(dirname "$0")/server_lib.sh"
sl_setup

# start_with_row APP: start APP, create a table with one row; sets URL.
start_with_row() {
    pgb start --app "$1"
    check_rc 0 "start $1"
    URL=$OUT
    sql "$URL" "create table if not exists survivor(v text); insert into survivor values ('still here')" >/dev/null
}

expect_row() { # URL DESC
    local got
    got=$(sql "$1" 'select v from survivor' 2>&1 || true)
    check_eq "$got" "still here" "$2: the data is intact"
}

# pm_of DATA_DIR: the pid on line 1 of its postmaster.pid.
pm_of() { head -1 "$1/postmaster.pid"; }

case_kill9_reaped() {
    local app dd pm url
    app=$(app_name k9)
    dd=$(data_dir "$app")
    start_with_row "$app"
    url=$URL
    pm=$(pm_of "$dd")
    kill -KILL "$pm"
    # wait until the killed postmaster is reaped (PID 1 does it late here)
    wait_until 15 pid_gone "$pm" || nok "the killed postmaster $pm was not reaped within 15 s"
    check_no_postgres "$dd" 10 "after kill -9"
    pgb status --app "$app"
    check_rc 3 "status after kill -9"
    pgb start --app "$app"
    check_rc 0 "start after kill -9"
    check_eq "$OUT" "$url" "same URL after kill -9"
    expect_row "$url" "after kill -9"
    pgb stop --app "$app"
    check_rc 0 "stop"
    check_no_postgres "$dd" 5 "after stop"
}

# The killed postmaster stays a zombie: its parent is a subreaper that never
# reaps, as an init that does not reap orphans (a container without --init,
# or this machine's PID 1 for a while after a kill).
case_kill9_zombie_postmaster() {
    local app dd pm url
    app=$(app_name k9z)
    dd=$(data_dir "$app")
    cat >"$T/subreaper.py" <<'EOF'
import ctypes, os, subprocess, sys, time
PR_SET_CHILD_SUBREAPER = 36
if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
    sys.exit("prctl(PR_SET_CHILD_SUBREAPER) failed")
stop_file, out = sys.argv[1], sys.argv[2]
with open(out, "w") as f:
    rc = subprocess.call(sys.argv[3:], stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
with open(out + ".rc", "w") as f:
    f.write("%d\n" % rc)
# never reap the orphans that come to us
while not os.path.exists(stop_file):
    time.sleep(0.1)
EOF
    local -a envs
    mapfile -t envs < <(user_env)
    (cd "$U" && exec "$PY" "$T/subreaper.py" "$T/subreaper.stop" "$T/subreaper.out" \
        setpriv --reuid="$TEST_USER" --regid="$TEST_USER" --init-groups env -i "${envs[@]}" \
        "$PGB" start --app "$app") </dev/null &
    local harness=$!
    register_bg "$harness"
    wait_until 60 file_nonempty "$T/subreaper.out.rc" || true
    check_eq "$(cat "$T/subreaper.out.rc" 2>/dev/null)" 0 "start under a non-reaping subreaper"
    url=$(head -1 "$T/subreaper.out")
    sql "$url" "create table survivor(v text); insert into survivor values ('still here')" >/dev/null
    pm=$(pm_of "$dd")
    check_eq "$(ps -o ppid= -p "$pm" | tr -d ' ')" "$harness" "the postmaster's parent is the subreaper"
    kill -KILL "$pm"
    check_no_postgres "$dd" 10 "after kill -9"
    check_match "$(ps -o stat= -p "$pm" || echo gone)" "^Z" "the killed postmaster is a zombie"
    pgb start --app "$app"
    check_rc 0 "start while the killed postmaster is an unreaped zombie"
    if [[ $RC == 0 ]]; then
        check_eq "$OUT" "$url" "same URL"
        expect_row "$url" "after kill -9 (zombie)"
    fi
    touch "$T/subreaper.stop"
    wait "$harness" || true
    pgb stop --app "$app"
    wait_no_postgres "$dd" 5 || true
}

# After a SIGKILL the postmaster's pid may be reused by another program
# before the next start: postmaster.pid and the socket's lock file (both left
# by the crash) then name a live process that is no postgres.
case_kill9_pid_reused() {
    local app dd url pm sockdir port lock sleeper
    app=$(app_name k9r)
    dd=$(data_dir "$app")
    start_with_row "$app"
    url=$URL
    pm=$(pm_of "$dd")
    sockdir=$(sed -n 5p "$dd/postmaster.pid")
    port=$(url_port "$url")
    lock=$sockdir/.s.PGSQL.$port.lock
    kill -KILL "$pm"
    wait_until 15 pid_gone "$pm" || nok "the killed postmaster $pm was not reaped within 15 s"
    check_no_postgres "$dd" 10 "after kill -9"
    [[ -f "$lock" ]] && ok "the crash left the socket lock file" || nok "no socket lock file $lock after kill -9"
    as_user sh -c 'echo $$ >"$1"; exec sleep 300' sh "$U/reuse.pid" </dev/null >/dev/null 2>&1 &
    register_bg $!
    wait_until 5 file_nonempty "$U/reuse.pid" || true
    sleeper=$(cat "$U/reuse.pid")
    register_bg "$sleeper"
    # the pid is reused: both files left by the crash now name the sleeper
    local f
    for f in "$dd/postmaster.pid" "$lock"; do
        [[ -f "$f" ]] || continue
        { echo "$sleeper"; tail -n +2 "$f"; } >"$f.new"
        cat "$f.new" >"$f"
        rm -f "$f.new"
    done
    pgb start --app "$app"
    check_rc 0 "start after kill -9, the old pid now a live 'sleep'"
    if [[ $RC == 0 ]]; then
        check_eq "$OUT" "$url" "same URL"
        expect_row "$url" "after kill -9 and pid reuse"
    fi
    pid_live "$sleeper" && ok "the 'sleep' process was left alone" || nok "pgboot killed the unrelated process $sleeper"
    kill "$sleeper" 2>/dev/null || true
    pgb stop --app "$app"
    wait_no_postgres "$dd" 5 || true
}

write_stale_pid() { # DATA_DIR SAVED_COPY PID
    {
        echo "$3"
        tail -n +2 "$2"
    } >"$1/postmaster.pid"
    chown "$TEST_USER:" "$1/postmaster.pid"
    chmod 600 "$1/postmaster.pid"
}

case_stale_pid_live_other_program() {
    local app dd url saved sleeper
    app=$(app_name live)
    dd=$(data_dir "$app")
    start_with_row "$app"
    url=$URL
    saved=$T/postmaster.pid.$app
    cp "$dd/postmaster.pid" "$saved"
    pgb stop --app "$app"
    check_rc 0 "clean stop"
    check_no_postgres "$dd" 5 "after the clean stop"
    # a live process of the same user that is no postgres
    as_user sh -c 'echo $$ >"$1"; exec sleep 300' sh "$U/sleeper.pid" </dev/null >/dev/null 2>&1 &
    register_bg $!
    wait_until 5 file_nonempty "$U/sleeper.pid" || true
    sleeper=$(cat "$U/sleeper.pid")
    register_bg "$sleeper"
    pid_live "$sleeper" || {
        nok "the sleep process did not start"
        return 0
    }
    write_stale_pid "$dd" "$saved" "$sleeper"
    pgb status --app "$app"
    check_rc 3 "status with postmaster.pid naming a live 'sleep'"
    pgb url --app "$app"
    check_rc 3 "url with postmaster.pid naming a live 'sleep'"
    pgb start --app "$app"
    check_rc 0 "start with postmaster.pid naming a live 'sleep'"
    check_eq "$OUT" "$url" "same URL"
    expect_row "$url" "stale pid of a live program"
    pid_live "$sleeper" && ok "the 'sleep' process was left alone" || nok "pgboot killed the unrelated process $sleeper"
    check_ne "$(pm_of "$dd")" "$sleeper" "postmaster.pid now names the new postmaster"
    pgb stop --app "$app"
    check_rc 0 "stop"
    pid_live "$sleeper" && ok "the 'sleep' process survives stop too" || nok "stop killed the unrelated process $sleeper"
    kill "$sleeper" 2>/dev/null || true
    check_no_postgres "$dd" 5 "after stop"
}

case_stale_pid_dead() {
    local app dd url saved dead
    app=$(app_name dead)
    dd=$(data_dir "$app")
    start_with_row "$app"
    url=$URL
    saved=$T/postmaster.pid.$app
    cp "$dd/postmaster.pid" "$saved"
    pgb stop --app "$app"
    check_rc 0 "clean stop"
    check_no_postgres "$dd" 5 "after the clean stop"
    # a pid that was just used and is gone
    dead=$(as_user sh -c 'sh -c "echo \$\$"')
    wait_until 15 pid_gone "$dead" || {
        nok "pid $dead is still in use"
        return 0
    }
    write_stale_pid "$dd" "$saved" "$dead"
    pgb status --app "$app"
    check_rc 3 "status with postmaster.pid naming a dead pid"
    pgb start --app "$app"
    check_rc 0 "start with postmaster.pid naming a dead pid"
    check_eq "$OUT" "$url" "same URL"
    expect_row "$url" "stale pid of a dead process"
    pgb stop --app "$app"
    check_rc 0 "stop"
    check_no_postgres "$dd" 5 "after stop"
}

# After a crash the pid in postmaster.pid may belong to another cluster's
# postmaster (same user, same program name): it must not be taken as ours.
case_stale_pid_other_cluster() {
    local a b dda ddb urla urlb saved pmb
    a=$(app_name pa)
    b=$(app_name pb)
    dda=$(data_dir "$a")
    ddb=$(data_dir "$b")
    start_with_row "$a"
    urla=$URL
    saved=$T/postmaster.pid.$a
    cp "$dda/postmaster.pid" "$saved"
    pgb stop --app "$a"
    check_rc 0 "stop A"
    pgb start --app "$b"
    check_rc 0 "start B"
    urlb=$OUT
    pmb=$(pm_of "$ddb")
    write_stale_pid "$dda" "$saved" "$pmb"
    pgb status --app "$a"
    check_rc 3 "status of A whose postmaster.pid names B's postmaster"
    pgb start --app "$a" --json
    check_rc 0 "start A whose postmaster.pid names B's postmaster"
    check_eq "$(jget "$OUT" started)" true "A was started, not taken for B"
    check_ne "$(jget "$OUT" pid)" "$pmb" "A's pid is not B's"
    check_eq "$(jget "$OUT" url)" "$urla" "A's URL"
    expect_row "$urla" "A"
    check_eq "$(pm_of "$ddb")" "$pmb" "B still runs with its pid"
    check_eq "$(sql "$urlb" 'select current_database()')" "$b" "B still answers"
    pgb stop --app "$a"
    check_rc 0 "stop A"
    pid_live "$pmb" && ok "stopping A left B alone" || nok "stopping A killed B's postmaster"
    pgb stop --app "$b"
    check_rc 0 "stop B"
    check_no_postgres "$dda" 5 "A after stop"
    check_no_postgres "$ddb" 5 "B after stop"
}

run_case kill9_reaped case_kill9_reaped
run_case kill9_zombie_postmaster case_kill9_zombie_postmaster
run_case kill9_pid_reused case_kill9_pid_reused
run_case stale_pid_live_other_program case_stale_pid_live_other_program
run_case stale_pid_dead case_stale_pid_dead
run_case stale_pid_other_cluster case_stale_pid_other_cluster
sl_finish
