#!/usr/bin/env bash
# pgboot run --ephemeral: a private throwaway cluster for one command. Its
# settings (durability off, --set), connection variables, socket, exit status
# propagation (0, N, 127, killed by a signal), removal of everything after the
# command, two clusters at once, where the cluster lives (TMPDIR, --tmp-dir,
# /dev/shm), a failed start, and the refusal as root.
set -euo pipefail
# shellcheck source=eph_lib.sh
. "$(dirname "$0")/eph_lib.sh"
eph_setup

BASE=$(eph_base)

case_basic() {
    local probe out data eph sock owner pm url tpl
    probe=$(probe_script)
    out=$U/work/basic.kv
    pgb run --ephemeral -- "$probe" "$out"
    check_rc 0 "run --ephemeral -- probe"
    [[ -s $out ]] || {
        nok "the command wrote nothing (it did not run, or psql failed): $ERR"
        return 0
    }
    data=$(kv "$out" data)
    eph=${data%/data}
    sock=$(kv "$out" sock)
    check_match "$data" "^$BASE/eph-[A-Za-z0-9]{6}/data\$" "the data directory is <TMPDIR>/pgboot-<uid>/eph-XXXXXX/data"
    check_eq "$(kv "$out" fsync)" off "fsync is off"
    check_eq "$(kv "$out" synchronous_commit)" off "synchronous_commit is off"
    check_eq "$(kv "$out" full_page_writes)" off "full_page_writes is off"
    check_eq "$(kv "$out" listen)" 127.0.0.1 "listens on 127.0.0.1 only"
    check_eq "$(kv "$out" PGHOST)" 127.0.0.1 "PGHOST"
    check_match "$(kv "$out" PGPORT)" '^[0-9]+$' "PGPORT is a number"
    check_eq "$(kv "$out" port)" "$(kv "$out" PGPORT)" "PGPORT is the server's port"
    check_eq "$(kv "$out" PGUSER)" postgres "PGUSER"
    check_eq "$(kv "$out" PGDATABASE)" postgres "PGDATABASE"
    check_match "$(kv "$out" PGPASSWORD)" '^.{16,}$' "PGPASSWORD is set (16+ characters)"
    url="postgresql://postgres:$(kv "$out" PGPASSWORD)@127.0.0.1:$(kv "$out" PGPORT)/postgres"
    check_eq "$(kv "$out" DATABASE_URL)" "$url" "DATABASE_URL"
    check_eq "$(kv "$out" url_query)" 42 "psql over DATABASE_URL"
    check_eq "$(kv "$out" socket_query)" t "psql over the Unix socket"
    check_socket_dir "$eph" "$sock" "the socket directory"
    check_eq "$(kv "$out" socket_mode)" 700 "the socket directory is private"
    owner=$(kv "$out" owner)
    pm=$(kv "$out" postmaster)
    # the command is a child of `pgboot run`, the owner
    check_eq "$owner" "$(kv "$out" cmd_ppid) $pm" "the owner file: <owner pid> <postmaster pid> (no paths: the reaper derives them)"
    check_stat_mode "$BASE" 700 "the base directory is private"
    check_gone "$eph" 0 "after the command"
    check_gone "$sock" 0 "after the command: the socket directory"
    check_clean "$BASE" "after the command"
    if pid_live "$pm"; then nok "the postmaster $pm still runs"; else ok "the postmaster is gone"; fi
    tpl=$U/cache/pgboot/templates/$BUNDLE_KEY-t3
    check_true "the template is in the cache ($tpl)" test -s "$tpl/data/PG_VERSION"
    check_eq "$(find "$U/cache/pgboot/templates" -mindepth 1 -maxdepth 1 | wc -l)" 1 "one template in the cache"
}

check_stat_mode() { # PATH MODE DESC
    check_eq "$(stat -c %a "$1" 2>/dev/null || echo missing)" "$2" "$3"
}

# exit_case WANT DESC CMD...: run --ephemeral -- CMD; expect exit WANT and a
# clean base afterwards.
exit_case() {
    local want=$1 desc=$2
    shift 2
    pgb run --ephemeral -- "$@"
    check_rc "$want" "$desc"
    check_clean "$BASE" "$desc"
}

case_exit_status() {
    local rec=$U/work/rec
    local snippet="\"\$PSQL\" -XAtqc 'show data_directory' > $rec.d; \"\$PSQL\" -XAtqc 'show unix_socket_directories' > $rec.s"
    rm -f "$rec.d" "$rec.s"
    exit_case 0 "true" sh -c "$snippet; true"
    check_true "exit 0: the command ran" test -s "$rec.d"
    check_gone "$(dirname "$(cat "$rec.d" 2>/dev/null || echo /nonexistent/x)")" 0 "exit 0: the cluster directory"
    check_gone "$(cat "$rec.s" 2>/dev/null || echo /nonexistent)" 0 "exit 0: the socket directory"

    rm -f "$rec.d" "$rec.s"
    exit_case 7 "exit 7" sh -c "$snippet; exit 7"
    check_true "exit 7: the command ran" test -s "$rec.d"
    check_gone "$(dirname "$(cat "$rec.d" 2>/dev/null || echo /nonexistent/x)")" 0 "exit 7: the cluster directory"
    check_gone "$(cat "$rec.s" 2>/dev/null || echo /nonexistent)" 0 "exit 7: the socket directory"

    exit_case 127 "a command that does not exist" pgboot-no-such-command-$$
    check_contains "$ERR" "pgboot-no-such-command-$$" "127: stderr names the command"

    rm -f "$rec.d" "$rec.s"
    exit_case 143 "a command killed by SIGTERM (128+15)" sh -c "$snippet; kill -TERM \$\$; sleep 5"
    check_true "SIGTERM: the command ran" test -s "$rec.d"
    check_gone "$(dirname "$(cat "$rec.d" 2>/dev/null || echo /nonexistent/x)")" 0 "SIGTERM: the cluster directory"
    check_gone "$(cat "$rec.s" 2>/dev/null || echo /nonexistent)" 0 "SIGTERM: the socket directory"

    rm -f "$rec.d"
    exit_case 137 "a command killed by SIGKILL (128+9)" sh -c "$snippet; kill -KILL \$\$; sleep 5"
    check_true "SIGKILL: the command ran" test -s "$rec.d"
}

# SIGTERM to `pgboot run` itself is forwarded to the command; the cluster is
# removed and the status is the command's.
case_signal_forwarded() {
    local rec=$U/work/fwd pid
    rm -f "$rec.d" "$rec.t"
    as_user_bg "$PGB" run --ephemeral -- sh -c "\"\$PSQL\" -XAtqc 'show data_directory' > $rec.d.tmp && mv $rec.d.tmp $rec.d; trap 'echo got-term > $rec.t; kill \$!; exit 3' TERM; sleep 30 & wait"
    pid=$BG_PID
    if ! wait_until 30 file_nonempty "$rec.d"; then
        nok "the command did not start within 30 s: $(cat "$BG_LOG.err")"
        return 0
    fi
    kill -TERM "$pid"
    local rc=0
    wait "$pid" || rc=$?
    check_eq "$rc" 3 "SIGTERM to pgboot run: its status is the command's (3)"
    check_eq "$(cat "$rec.t" 2>/dev/null)" got-term "the command got the SIGTERM"
    check_gone "$(dirname "$(cat "$rec.d")")" 0 "SIGTERM to pgboot run: the cluster directory"
    check_clean "$BASE" "SIGTERM to pgboot run"
}

case_set() {
    local out=$U/work/set.kv
    pgb run --ephemeral --set work_mem=77MB --set application_name=eph-set-test -- sh -c \
        "\"\$PSQL\" -XAtqc 'show work_mem' > $out; \"\$PSQL\" -XAtqc \"select current_setting('application_name', true), current_setting('fsync')\" >> $out"
    check_rc 0 "run --ephemeral --set work_mem=77MB"
    check_eq "$(sed -n 1p "$out" 2>/dev/null)" 77MB "--set work_mem=77MB is visible inside"
    # application_name is overridden by psql itself; fsync stays off with --set given
    check_eq "$(sed -n 2p "$out" 2>/dev/null | cut -d'|' -f2)" off "durability stays off with --set"
    check_clean "$BASE" "--set"
}

case_bad_setting() {
    local marker=$U/work/bad-setting-ran
    rm -f "$marker"
    pgb run --ephemeral --set work_mem=banana -- touch "$marker"
    check_rc 1 "--set work_mem=banana: postgres does not start"
    check_error_shape "--set work_mem=banana"
    check_contains "$ERR" "work_mem" "the error quotes the server's complaint"
    check_true "the command did not run" test ! -e "$marker"
    check_clean "$BASE" "a failed start"
}

# Two clusters at once (one run inside the other): different ports, data
# directories and sockets, each psql reaching its own cluster.
case_two_at_once() {
    local probe a=$U/work/outer.kv b=$U/work/inner.kv
    probe=$(probe_script)
    rm -f "$a" "$b"
    pgb run --ephemeral -- sh -c "\"$probe\" $a && \"\$PGB\" run --ephemeral -- \"$probe\" $b && \"$probe\" $a.after"
    check_rc 0 "a run inside a run"
    [[ -s $a && -s $b ]] || {
        nok "the probes did not both run"
        return 0
    }
    check_ne "$(kv "$b" port)" "$(kv "$a" port)" "different ports"
    check_ne "$(kv "$b" data)" "$(kv "$a" data)" "different data directories"
    check_ne "$(kv "$b" sock)" "$(kv "$a" sock)" "different socket directories"
    check_ne "$(kv "$b" PGPASSWORD)" "" "the inner cluster has a password"
    check_eq "$(kv "$b" port)" "$(kv "$b" PGPORT)" "the inner command reaches the inner cluster"
    check_eq "$(kv "$a.after" data)" "$(kv "$a" data)" "the outer cluster is untouched by the inner one's end"
    check_gone "$(dirname "$(kv "$b" data)")" 0 "the inner cluster directory"
    check_gone "$(dirname "$(kv "$a" data)")" 0 "the outer cluster directory"
    check_clean "$BASE" "two at once"
}

# Where: --tmp-dir wins over TMPDIR; without TMPDIR, /dev/shm.
case_locations() {
    local probe out=$U/work/loc.kv alt=$U/alt
    probe=$(probe_script)
    user_mkdir "$alt"
    pgb run --ephemeral --tmp-dir "$alt" -- "$probe" "$out"
    check_rc 0 "run --ephemeral --tmp-dir DIR"
    check_match "$(kv "$out" data)" "^$alt/pgboot-$USER_UID/eph-[A-Za-z0-9]{6}/data\$" "--tmp-dir DIR: the cluster is in DIR/pgboot-<uid>/"
    check_clean "$alt/pgboot-$USER_UID" "--tmp-dir"
    check_eq "$(eph_dirs)" "" "--tmp-dir: nothing in TMPDIR"

    if [[ -w /dev/shm && "$(stat -f -c %T /dev/shm 2>/dev/null)" == tmpfs ]]; then
        rm -f "$out"
        user_env_unset TMPDIR
        pgb run --ephemeral -- "$probe" "$out"
        check_rc 0 "run --ephemeral without TMPDIR"
        check_match "$(kv "$out" data)" "^/dev/shm/pgboot-$USER_UID/eph-[A-Za-z0-9]{6}/data\$" "without TMPDIR: in /dev/shm/pgboot-<uid>/"
        check_gone "$(dirname "$(kv "$out" data)")" 0 "without TMPDIR: the cluster directory"
        check_no_postgres "$(dirname "$(kv "$out" data)")" 3 "without TMPDIR"
        wait_copiers 20 || true
        remove_spares "/dev/shm/pgboot-$USER_UID"
    else
        echo "note: /dev/shm is no writable tmpfs here; its default is not checked"
    fi
}

case_root() {
    local marker=$T/root/ran
    pgb_root run --ephemeral -- touch "$marker"
    check_rc 1 "as root: run --ephemeral"
    check_error_shape "as root"
    check_contains "$(grep '^pgboot: error: ' <<<"$ERR")" root "as root: the error mentions root"
    check_match "$ERR" '^hint: .' "as root: a hint line"
    check_true "as root: the command did not run" test ! -e "$marker"
    check_eq "$(find "$T/root/tmp" -mindepth 1 | head -3)" "" "as root: nothing created in TMPDIR"
    pgb_root tmp
    check_rc 1 "as root: tmp"
    check_contains "$(grep '^pgboot: error: ' <<<"$ERR")" root "as root: tmp: the error mentions root"
}

run_case basic case_basic
run_case exit-status case_exit_status
run_case signal-forwarded case_signal_forwarded
run_case set case_set
run_case bad-setting case_bad_setting
run_case two-at-once case_two_at_once
run_case locations case_locations
run_case root case_root
eph_finish
