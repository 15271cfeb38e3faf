#!/usr/bin/env bash
# Eight `pgboot run --ephemeral` at once, from a cache without a template yet
# (they all need it: it is made once): all succeed, each with its own cluster
# (port, data directory), all alive at the same time; nothing is left after.
set -euo pipefail
# shellcheck source=eph_lib.sh
. "$(dirname "$0")/eph_lib.sh"
eph_setup

BASE=$(eph_base)
N=8

case_parallel() {
    local i w=$U/work/par pids=() rcs=() rc ports dirs socks tpl
    user_mkdir "$w"
    # Each command: a table, rows, a count; then it waits until all N
    # clusters are up (so they really coexist), and reports.
    cat >"$w/cmd.sh" <<'EOF'
#!/bin/sh
set -eu
w=$1 i=$2 n=$3
q() { "$PSQL" -X -A -t -q -v ON_ERROR_STOP=1 "$@"; }
count=$(q -c 'create table t(x int)' -c "insert into t select generate_series(1, 100 + $i)" -c 'select count(*) from t')
data=$(q -c 'show data_directory')
sock=$(q -c 'show unix_socket_directories')
echo up >"$w/up.$i"
k=0
while [ "$(ls "$w" | grep -c '^up\.')" -lt "$n" ]; do
    k=$((k + 1))
    [ $k -lt 600 ] || { echo "timed out waiting for the others" >&2; exit 9; }
    sleep 0.05
done
# still our own table (nobody else's cluster)
again=$(q -c 'select count(*) from t')
printf 'port=%s\ndata=%s\nsock=%s\ncount=%s\nagain=%s\n' "$PGPORT" "$data" "$sock" "$count" "$again" >"$w/out.$i.tmp"
mv "$w/out.$i.tmp" "$w/out.$i"
EOF
    chmod 755 "$w/cmd.sh"
    chown -R "$TEST_USER:" "$w"
    check_true "no template yet" test ! -e "$U/cache/pgboot/templates/$BUNDLE_KEY-t3"

    for ((i = 1; i <= N; i++)); do
        as_user_bg timeout -k 5 100 "$PGB" run --ephemeral -- "$w/cmd.sh" "$w" "$i" "$N"
        pids+=("$BG_PID")
        echo "$BG_LOG" >"$T/par.$i.log"
    done
    for ((i = 1; i <= N; i++)); do
        rc=0
        wait "${pids[$((i - 1))]}" || rc=$?
        rcs+=("$rc")
        if [[ $rc == 0 ]]; then
            ok "run $i: exit 0"
        else
            nok "run $i: exit $rc; stderr: $(head -c 1500 "$(cat "$T/par.$i.log").err")"
        fi
    done
    for ((i = 1; i <= N; i++)); do
        [[ -s "$w/out.$i" ]] || {
            nok "run $i reported nothing"
            continue
        }
        check_eq "$(kv "$w/out.$i" count)" "$((100 + i))" "run $i: create/insert/count"
        check_eq "$(kv "$w/out.$i" again)" "$((100 + i))" "run $i: its table, unchanged while the others ran"
        check_match "$(kv "$w/out.$i" data)" "^$BASE/eph-[A-Za-z0-9]{6}/data\$" "run $i: data directory in the base"
    done
    ports=$(cat "$w"/out.* 2>/dev/null | sed -n 's/^port=//p' | sort -u | wc -l)
    dirs=$(cat "$w"/out.* 2>/dev/null | sed -n 's/^data=//p' | sort -u | wc -l)
    socks=$(cat "$w"/out.* 2>/dev/null | sed -n 's/^sock=//p' | sort -u | wc -l)
    check_eq "$ports" "$N" "$N distinct ports"
    check_eq "$dirs" "$N" "$N distinct data directories"
    check_eq "$socks" "$N" "$N distinct socket directories"
    for ((i = 1; i <= N; i++)); do
        [[ -s "$w/out.$i" ]] || continue
        check_gone "$(kv "$w/out.$i" sock)" 0 "run $i: the socket directory"
    done
    check_clean "$BASE" "after $N parallel runs"
    tpl=$U/cache/pgboot/templates
    check_eq "$(find "$tpl" -mindepth 1 -maxdepth 1 | sed 's|.*/||' | tr '\n' ' ')" "$BUNDLE_KEY-t3 " "one template made, no half-made one left"
    # The background copier ends; half-made spare copies do not stay.
    if wait_copiers 30; then
        ok "the spare copiers ended"
    else
        nok "pgboot processes of this test still run 30 s later: $(show_pids "$(live_pgboot)")"
    fi
    check_eq "$(find "$BASE" -mindepth 1 -maxdepth 1 -name '.spare-tmp-*' | wc -l)" 0 "no half-made spare copy left"
    local spares
    spares=$(find "$BASE" -mindepth 1 -maxdepth 1 -name 'spare-*' | wc -l)
    # pgboot wants 2; two copiers racing may make 2 more, but no more than that
    if ((spares <= 4)); then
        ok "a few spare copies kept ($spares, 2 wanted)"
    else
        nok "$spares spare copies of the template kept (2 wanted): $(du -sh "$BASE" | cut -f1) in $BASE"
    fi
}

# A second round reuses the template (and the spares): fast, and as clean.
case_second_round() {
    local i pids=() rc t0 t1
    t0=$(date +%s%3N)
    for ((i = 1; i <= 4; i++)); do
        as_user_bg timeout -k 5 60 "$PGB" run --ephemeral -- "$PSQL" -X -A -t -q -c 'select 1'
        pids+=("$BG_PID")
    done
    for ((i = 1; i <= 4; i++)); do
        rc=0
        wait "${pids[$((i - 1))]}" || rc=$?
        check_eq "$rc" 0 "second round, run $i"
    done
    t1=$(date +%s%3N)
    echo "note: 4 parallel runs with a ready template took $((t1 - t0)) ms"
    check_clean "$BASE" "second round"
}

run_case parallel case_parallel
run_case second-round case_second_round
eph_finish
