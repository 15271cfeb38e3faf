#!/usr/bin/env bash
# Throwaway clusters whose owner dies: `pgboot run --ephemeral` SIGKILLed while
# its command runs (the supervisor stops postgres and removes the directory);
# the owner, the supervisor and the postmaster all SIGKILLed (the directory
# stays until the next ephemeral invocation's reaper removes it, leaving the
# live clusters of others alone); a reaper facing a TMPDIR with a space.
set -euo pipefail
# shellcheck source=eph_lib.sh
. "$(dirname "$0")/eph_lib.sh"
eph_setup

BASE=$(eph_base)

# start_sleeper NAME: `pgboot run --ephemeral -- CMD` in the background, CMD
# recording its data directory then sleeping. Sets OWNER (pgboot's pid),
# EPH, DATA, SOCK, PW (its password), PM (the postmaster, from the owner file), SUP (its parent,
# the supervisor) and CMDPID (the command).
start_sleeper() {
    local rec=$U/work/$1
    rm -f "$rec"
    as_user_bg "$PGB" run --ephemeral -- sh -c "d=\$(\"\$PSQL\" -XAtqc 'show data_directory'); s=\$(\"\$PSQL\" -XAtqc 'show unix_socket_directories'); printf '%s\n%s\n%s\n%s\n' \"\$d\" \"\$s\" \$\$ \"\$PGPASSWORD\" > $rec.tmp; mv $rec.tmp $rec; exec sleep 60"
    OWNER=$BG_PID
    if ! wait_until 30 file_nonempty "$rec"; then
        nok "$1: the command did not start within 30 s: $(cat "$BG_LOG.err")"
        return 1
    fi
    DATA=$(sed -n 1p "$rec")
    SOCK=$(sed -n 2p "$rec")
    CMDPID=$(sed -n 3p "$rec")
    PW=$(sed -n 4p "$rec")
    register_bg "$CMDPID"
    EPH=${DATA%/data}
    read -r _ PM _ <"$EPH/owner"
    SUP=$(ppid_of "$PM")
    [[ -n "$PM" && "$PM" != 0 && -n "$SUP" ]] || {
        nok "$1: no postmaster/supervisor found (owner file: $(cat "$EPH/owner"))"
        return 1
    }
    ok "$1: cluster up (owner $OWNER, supervisor $SUP, postmaster $PM)"
}

case_owner_killed() {
    start_sleeper owner-killed || return 0
    check_true "the postgres processes of the cluster are seen" test -n "$(live_postgres "$EPH")"
    check_eq "$(tr '\0' ' ' <"/proc/$SUP/cmdline" | cut -d' ' -f1 | xargs basename)" "$(basename "$PGB")" "the postmaster's parent is a pgboot process (the supervisor)"
    kill -KILL "$OWNER"
    wait "$OWNER" 2>/dev/null || true
    check_no_postgres "$EPH" 3 "owner SIGKILLed"
    check_gone "$EPH" 3 "owner SIGKILLed: the cluster directory"
    check_gone "$SOCK" 3 "owner SIGKILLed: the socket directory"
    if wait_until 3 pid_dead "$SUP"; then ok "the supervisor ended"; else nok "the supervisor $SUP still runs"; fi
    kill -KILL "$CMDPID" 2>/dev/null || true
    check_clean "$BASE" "owner SIGKILLed"
}

case_all_killed_then_reaped() {
    local keep_url keep_json keep_data keep_pm keep_sock dead_eph dead_sock
    # A healthy cluster of `pgboot tmp`, and a healthy run, to be left alone.
    pgb tmp --ttl 30 --json
    check_rc 0 "pgboot tmp --ttl 30 --json (a healthy neighbour)"
    keep_json=$OUT
    keep_url=$(jget "$keep_json" url)
    keep_data=$(jget "$keep_json" data_dir)
    keep_sock=$(jget "$keep_json" socket_dir)
    keep_pm=$(jget "$keep_json" pid)
    [[ -d "$keep_data" ]] || {
        nok "the tmp cluster's data_dir '$keep_data' does not exist"
        return 0
    }
    start_sleeper healthy-run || return 0
    local run_owner=$OWNER run_eph=$EPH run_sock=$SOCK run_cmd=$CMDPID run_pw=$PW

    start_sleeper doomed || return 0
    dead_eph=$EPH
    dead_sock=$SOCK
    # everything of that cluster at once: owner, supervisor, postmaster
    kill -KILL "$OWNER" "$SUP" "$PM"
    wait "$OWNER" 2>/dev/null || true
    kill -KILL "$CMDPID" 2>/dev/null || true
    check_no_postgres "$dead_eph" 3 "owner, supervisor and postmaster SIGKILLed"
    sleep 1
    check_true "with its supervisor dead, the cluster directory stays" test -d "$dead_eph"

    pgb run --ephemeral -- true
    check_rc 0 "the next run --ephemeral -- true"
    check_gone "$dead_eph" 0 "the reaper removed the dead cluster"
    check_gone "$dead_sock" 0 "the reaper removed its socket directory"
    check_true "the tmp cluster's directory is untouched" test -d "$keep_data" -a -S "$keep_sock/.s.PGSQL.$(url_port "$keep_url")"
    check_true "the tmp cluster's postmaster still runs" pid_live "$keep_pm"
    check_eq "$(sql "$keep_url" 'select 7')" 7 "the tmp cluster still answers"
    check_true "the running cluster's directory is untouched" test -d "$run_eph/data" -a -d "$run_sock"
    check_eq "$(user_env_set "PGPASSWORD=$run_pw" && upsql -h "$run_sock" -p "$(sed -n 4p "$run_eph/data/postmaster.pid")" -U postgres -d postgres -c 'select 8' 2>&1)" 8 "the running cluster still answers over its socket"
    check_true "the running cluster's owner still runs" pid_live "$run_owner"

    # end the healthy run normally
    kill -TERM "$run_owner"
    local rc=0
    wait "$run_owner" || rc=$?
    kill -KILL "$run_cmd" 2>/dev/null || true
    check_eq "$rc" 143 "the healthy run ends with its command's status"
    check_gone "$run_eph" 3 "the healthy run's directory after it ended"
    if pid_live "$keep_pm"; then ok "the tmp cluster lives on"; else nok "the tmp cluster died"; fi
    # end the tmp cluster: its keeper goes, and the cluster with it
    local keeper keep_eph=${keep_data%/data}
    read -r keeper _ <"$keep_eph/owner"
    kill -TERM "$keeper"
    check_no_postgres "$keep_eph" 5 "the tmp cluster's keeper ended"
    check_gone "$keep_eph" 3 "the tmp cluster's keeper ended: its directory"
}

# The reaper reads the socket directory from the owner file: with a TMPDIR
# holding a space, it must remove that directory, not a prefix of its path.
case_reaper_space_in_tmpdir() {
    local tmp="$U/sp ace" victim="$U/sp"
    user_mkdir "$tmp"
    user_mkdir "$victim"
    user_file "$victim/precious" "keep me"
    user_env_set "TMPDIR=$tmp"
    start_sleeper space || return 0
    check_eq "$EPH" "$tmp/pgboot-$USER_UID/${EPH##*/}" "TMPDIR with a space: the cluster is there"
    kill -KILL "$OWNER" "$SUP" "$PM"
    wait "$OWNER" 2>/dev/null || true
    kill -KILL "$CMDPID" 2>/dev/null || true
    check_no_postgres "$EPH" 3 "space: all SIGKILLed"
    sleep 0.5
    check_true "space: the dead cluster stays for now" test -d "$EPH"
    pgb run --ephemeral -- true
    check_rc 0 "space: the next run"
    check_gone "$EPH" 0 "space: the reaper removed the dead cluster"
    check_true "space: the reaper left $victim (a prefix of the socket path up to the space) alone" test -f "$victim/precious"
    check_clean "$tmp/pgboot-$USER_UID" "space"
}

run_case owner-killed case_owner_killed
run_case all-killed-then-reaped case_all_killed_then_reaped
run_case reaper-space-in-tmpdir case_reaper_space_in_tmpdir
eph_finish
