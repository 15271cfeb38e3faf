#!/usr/bin/env bash
# Throwaway clusters in a deep temporary directory: when
# <base>/eph-XXXXXX/s/.s.PGSQL.65535 would not fit a Unix socket path (107
# bytes), the socket goes to /tmp/pgboot-<uid>-e<hash>/ and is removed too;
# right at the limit it stays inside. With TMPDIR and with --tmp-dir; and the
# reaper removes a dead deep cluster's socket directory in /tmp.
set -euo pipefail
# shellcheck source=eph_lib.sh
. "$(dirname "$0")/eph_lib.sh"
eph_setup

# deep_dir LEN: a new directory path exactly LEN bytes long, under $U (or
# under a fresh directory in /tmp if $U itself is too long for LEN).
deep_dir() {
    local root=$U/deep
    if ((${#root} + 2 > $1)); then
        root=$(mktemp -d /tmp/pgbe.XXXXXX)
        register_path "$root"
        chown "$TEST_USER:" "$root"
    fi
    "$PY" - "$root" "$1" <<'EOF'
import sys
p, want = sys.argv[1], int(sys.argv[2])
i = 0
while len(p) < want:
    room = want - len(p) - 1
    if room < 1:
        p += "y"
        continue
    n = min(room, 40)
    p += "/" + ("d%d" % i).ljust(n, "x")[:n]
    i += 1
assert len(p) == want
print(p)
EOF
}

# probe_in LABEL ARGS...: run --ephemeral ARGS -- probe; sets KV (its file).
probe_in() {
    local label=$1 probe
    shift
    probe=$(probe_script)
    KV=$U/work/$label.kv
    rm -f "$KV"
    pgb run --ephemeral "$@" -- "$probe" "$KV"
    check_rc 0 "$label: run --ephemeral $*"
    [[ -s $KV ]] || {
        nok "$label: the probe did not run"
        return 1
    }
}

# check_deep LABEL TMP: the last probe ran in TMP/pgboot-<uid> and its socket
# was outside (in /tmp), reachable; everything is gone afterwards.
check_deep() {
    local label=$1 tmp=$2 data eph sock
    data=$(kv "$KV" data)
    eph=${data%/data}
    sock=$(kv "$KV" sock)
    register_path "$sock"
    check_match "$data" "^$tmp/pgboot-$USER_UID/eph-[A-Za-z0-9]{6}/data\$" "$label: the cluster is in the deep directory"
    check_match "$sock" "^/tmp/pgboot-$USER_UID-e[0-9a-f]{16}\$" "$label: the socket directory is /tmp/pgboot-<uid>-e<hash>"
    check_eq "$(kv "$KV" socket_query)" t "$label: psql over the Unix socket (PGHOST=$sock)"
    check_eq "$(kv "$KV" url_query)" 42 "$label: psql over DATABASE_URL"
    check_eq "$(kv "$KV" socket_mode)" 700 "$label: the socket directory is private"
    check_eq "$(kv "$KV" owner | wc -w | tr -d " ")" 2 "$label: the owner file holds only pids (the reaper derives the socket directory, never reads a path)"
    check_gone "$eph" 0 "$label: the cluster directory"
    check_gone "$sock" 0 "$label: the socket directory in /tmp"
    check_clean "$tmp/pgboot-$USER_UID" "$label"
}

case_deep_tmpdir() {
    local tmp
    tmp=$(deep_dir 160)
    user_mkdir "$tmp"
    check_eq "${#tmp}" 160 "TMPDIR is 160 bytes long"
    user_env_set "TMPDIR=$tmp"
    probe_in deep-tmpdir || return 0
    check_deep deep-tmpdir "$tmp"
}

case_deep_tmp_dir_option() {
    local tmp
    tmp=$(deep_dir 130)
    tmp=$tmp.opt
    user_mkdir "$tmp"
    probe_in deep-option --tmp-dir "$tmp" || return 0
    check_deep deep-option "$tmp"
    check_eq "$(eph_dirs)" "" "--tmp-dir: nothing in TMPDIR"
}

# <tmp>/pgboot-<uid>/eph-XXXXXX/s/.s.PGSQL.65535 exactly 107 bytes: the socket
# stays in the cluster directory; one byte more: it moves to /tmp.
case_limit() {
    local suffix="/pgboot-$USER_UID/eph-XXXXXX/s/.s.PGSQL.65535" tmp sock data
    tmp=$(deep_dir $((SUN_PATH_MAX - ${#suffix})))
    user_mkdir "$tmp"
    user_env_set "TMPDIR=$tmp"
    probe_in limit-107 || return 0
    data=$(kv "$KV" data)
    sock=$(kv "$KV" sock)
    local name=/.s.PGSQL.65535
    check_eq "$((${#sock} + ${#name}))" "$SUN_PATH_MAX" "at the limit: the longest socket path is 107 bytes"
    check_eq "$sock" "${data%/data}/s" "at the limit (107 bytes): the socket stays in the cluster directory"
    check_eq "$(kv "$KV" socket_query)" t "at the limit: psql over the Unix socket"
    check_gone "${data%/data}" 0 "at the limit: the cluster directory"
    check_clean "$tmp/pgboot-$USER_UID" "at the limit"

    tmp=$(deep_dir $((SUN_PATH_MAX - ${#suffix} + 1)))
    user_mkdir "$tmp"
    user_env_set "TMPDIR=$tmp"
    probe_in limit-108 || return 0
    check_deep "one byte over the limit" "$tmp"
}

# A deep cluster whose owner, supervisor and postmaster all die: the reaper
# removes both its directory and its socket directory in /tmp.
case_deep_reaped() {
    local tmp rec=$U/work/deep-reap data sock eph pm sup owner cmdpid
    tmp=$(deep_dir 150)
    user_mkdir "$tmp"
    user_env_set "TMPDIR=$tmp"
    rm -f "$rec"
    as_user_bg "$PGB" run --ephemeral -- sh -c "d=\$(\"\$PSQL\" -XAtqc 'show data_directory'); s=\$(\"\$PSQL\" -XAtqc 'show unix_socket_directories'); printf '%s\n%s\n%s\n' \"\$d\" \"\$s\" \$\$ > $rec.tmp; mv $rec.tmp $rec; exec sleep 60"
    owner=$BG_PID
    if ! wait_until 30 file_nonempty "$rec"; then
        nok "the command did not start within 30 s: $(cat "$BG_LOG.err")"
        return 0
    fi
    data=$(sed -n 1p "$rec")
    sock=$(sed -n 2p "$rec")
    cmdpid=$(sed -n 3p "$rec")
    register_bg "$cmdpid"
    register_path "$sock"
    eph=${data%/data}
    read -r _ pm _ <"$eph/owner"
    sup=$(ppid_of "$pm")
    check_match "$sock" "^/tmp/pgboot-$USER_UID-e" "the deep cluster's socket is in /tmp"
    kill -KILL "$owner" "$sup" "$pm"
    wait "$owner" 2>/dev/null || true
    kill -KILL "$cmdpid" 2>/dev/null || true
    check_no_postgres "$eph" 3 "all SIGKILLed"
    sleep 0.5
    check_true "the dead cluster stays for now" test -d "$eph" -a -d "$sock"
    pgb run --ephemeral -- true
    check_rc 0 "the next run in the same TMPDIR"
    check_gone "$eph" 0 "the reaper removed the dead deep cluster"
    check_gone "$sock" 0 "the reaper removed its socket directory in /tmp"
    check_clean "$tmp/pgboot-$USER_UID" "reaped"
}

run_case deep-tmpdir case_deep_tmpdir
run_case deep-tmp-dir-option case_deep_tmp_dir_option
run_case limit case_limit
run_case deep-reaped case_deep_reaped
eph_finish
