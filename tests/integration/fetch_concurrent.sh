#!/usr/bin/env bash
# Concurrent fetches into one empty cache: one process downloads (from the
# fault server's "slow" mode, about 2 s), the others wait on the lock and reuse
# its result. All succeed with the same bin dir; the bundle is fetched once.
set -euo pipefail
. "$(dirname "$0")/fetch_lib.sh"
fetch_setup

SRV=$T/srv
make_mirror "$SRV" "$REAL_TGZ" "$REAL_VERSION"
start_faultserver "$SRV" fs
LOG=$FS_LOG

concurrent_case() { # N
    local n=$1
    local C=$T/c-$n D=$T/runs-$n since i rc pids=() bad=0 bins origins net others t0 t1
    mkdir -p "$D"
    since=$(log_lines "$LOG")
    t0=$(date +%s%3N)
    for ((i = 1; i <= n; i++)); do
        timeout -k 5 120 "$PGBOOT" fetch --mirror "$FS_URL/slow" --cache-dir "$C" --json --retries 2 --retry-delay 100 \
            >"$D/$i.out" 2>"$D/$i.err" </dev/null &
        pids+=($!)
    done
    for ((i = 1; i <= n; i++)); do
        rc=0
        wait "${pids[$((i - 1))]}" || rc=$?
        echo "$rc" >"$D/$i.rc"
        if [[ $rc != 0 ]]; then
            bad=1
            nok "$n concurrent: process $i exited $rc: $(head -c 500 "$D/$i.err")"
        fi
    done
    t1=$(date +%s%3N)
    [[ $bad == 1 ]] || ok "$n concurrent: all $n exited 0 ($((t1 - t0)) ms in all)"

    bins=$(for ((i = 1; i <= n; i++)); do
        "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["bin_dir"])' "$D/$i.out" 2>/dev/null || echo "<no JSON from $i>"
    done | sort | uniq -c | sed 's/^ *//')
    check_eq "$bins" "$n $C/$REAL_KEY/bin" "$n concurrent: all printed the same bin dir"

    origins=$(for ((i = 1; i <= n; i++)); do
        "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["origin"])' "$D/$i.out" 2>/dev/null || echo "?"
    done)
    net=$(grep -c -x network <<<"$origins" || true)
    others=$(grep -v -x -E 'network|cache|tarball' <<<"$origins" | tr '\n' ' ' || true)
    check_eq "$net" 1 "$n concurrent: exactly one process reports origin network (origins: $(tr '\n' ' ' <<<"$origins"))"
    check_eq "$others" "" "$n concurrent: the others report origin cache or tarball"

    log_settle "$LOG"
    check_eq "$(log_count "$LOG" "method == 'GET' and mode == 'slow' and status in (200, 206)" "$since")" 1 \
        "$n concurrent: the bundle was downloaded exactly once ($(log_show "$LOG" "$since"))"
    check_installed "$C" "$REAL_KEY" "$n concurrent"
    check_eq "$(find "$C" -mindepth 1 -maxdepth 1 -name '.tmp-*' | wc -l)" 0 "$n concurrent: no .tmp-* left"
}

run_case eight concurrent_case 8
rm_tree "$T/c-8"
run_case two concurrent_case 2
rm_tree "$T/c-2"
fetch_finish
