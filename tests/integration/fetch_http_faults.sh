#!/usr/bin/env bash
# pgboot fetch over HTTP against tests/support/faultserver.py: resume after a
# cut connection, corrupted bodies, 404, 5xx retries, stalled transfers, a
# server ignoring Range, redirects, and an HTTP proxy.
set -euo pipefail
. "$(dirname "$0")/fetch_lib.sh"
fetch_setup

SRV=$T/srv
make_mirror "$SRV" "$REAL_TGZ" "$REAL_VERSION"
SIZE=$(stat -c %s "$REAL_TGZ")
# a second server whose 500then200 counter is fresh for case_500_exhausted
start_faultserver "$SRV" fs500
FS500_URL=$FS_URL FS500_LOG=$FS_LOG
start_faultserver "$SRV" fs
LOG=$FS_LOG
# fast retries for every run
FAST=(--retries 3 --retry-delay 50 --connect-timeout 5000)

# GETs of the bundle in MODE since log line $2 (default 0)
gets() { log_count "$LOG" "method == 'GET' and mode == '$1' and path.endswith('/linux-x64-$REAL_VERSION.tgz')${3:+ and ($3)}" "${2:-0}"; }

case_ok() {
    local C=$T/c-ok since
    since=$(log_lines "$LOG")
    pg fetch --mirror "$FS_URL/ok" --cache-dir "$C" --json "${FAST[@]}"
    if check_succeeded "mode ok"; then
        check_json "mode ok" origin=network url="$FS_URL/ok/$REAL_REL" root="$C/$REAL_KEY"
        check_installed "$C" "$REAL_KEY" "mode ok"
    fi
    log_settle "$LOG"
    check_eq "$(gets ok "$since" "status == 200")" 1 "mode ok: exactly one GET of the tarball, answered 200 ($(log_show "$LOG" "$since"))"
}

case_cut() {
    local C=$T/c-cut since total
    since=$(log_lines "$LOG")
    pg fetch --mirror "$FS_URL/cut" --cache-dir "$C" "${FAST[@]}"
    if check_succeeded "mode cut (connection closed after half the body)"; then
        check_bin_line "mode cut" "$C/$REAL_KEY/bin"
        check_installed "$C" "$REAL_KEY" "mode cut"
    fi
    log_settle "$LOG"
    check_eq "$(gets cut "$since" "status == 206 and (range or '').startswith('bytes=') and int(range[6:].split('-')[0] or 0) > 0")" 1 \
        "mode cut: the download was resumed with one 'Range: bytes=N-' request answered 206 ($(log_show "$LOG" "$since"))"
    total=$("$PY" - "$LOG" "$since" <<'EOF'
import json, sys
print(sum(json.loads(l).get("bytes") or 0 for l in open(sys.argv[1]).readlines()[int(sys.argv[2]):]))
EOF
)
    if ((total <= SIZE + SIZE / 20)); then
        ok "mode cut: resuming did not download the bundle again ($total bytes sent for $SIZE)"
    else
        nok "mode cut: $total bytes were sent for a $SIZE byte bundle: the resume re-downloaded ($(log_show "$LOG" "$since"))"
    fi
}

case_reset() {
    local C=$T/c-reset since
    since=$(log_lines "$LOG")
    pg fetch --mirror "$FS_URL/reset" --cache-dir "$C" "${FAST[@]}"
    if check_succeeded "mode reset (connection reset after half the body)"; then
        check_installed "$C" "$REAL_KEY" "mode reset"
    fi
    log_settle "$LOG"
    check_eq "$(gets reset "$since" "status == 206 and int((range or 'bytes=0-')[6:].split('-')[0] or 0) > 0")" 1 \
        "mode reset: the download was resumed with a Range request answered 206 ($(log_show "$LOG" "$since"))"
}

case_wrong() {
    local C=$T/c-wrong got
    got=$("$PY" - "$SUPPORT_DIR" "$REAL_TGZ" <<'EOF'
import base64, hashlib, sys
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, sys.argv[1])
from faultserver import flip
print("sha512-" + base64.b64encode(hashlib.sha512(flip(open(sys.argv[2], "rb").read(), 0)).digest()).decode())
EOF
)
    pg fetch --mirror "$FS_URL/wrong" --cache-dir "$C" "${FAST[@]}"
    if check_failed "mode wrong (corrupted body)"; then
        check_names_digest "$(err_line)" "$REAL_INTEGRITY" "mode wrong: the error names the expected digest"
        check_names_digest "$(err_line)" "$got" "mode wrong: the error names the digest received"
        check_contains "$(err_line)" "$FS_URL/wrong/$REAL_REL" "mode wrong: the error names the URL"
    fi
    check_cache_untouched "$C" "mode wrong (no .part, no .tgz, no tree)"
}

case_404() {
    local C=$T/c-404 since
    since=$(log_lines "$LOG")
    pg fetch --mirror "$FS_URL/404" --cache-dir "$C" "${FAST[@]}"
    if check_failed "mode 404"; then
        check_contains "$(err_line)" "$FS_URL/404/$REAL_REL" "mode 404: the error names the URL"
        check_contains "$(err_line)" "404" "mode 404: the error gives the HTTP status"
    fi
    log_settle "$LOG"
    check_eq "$(log_count "$LOG" "mode == '404'" "$since")" 1 "mode 404: exactly one request (404 is not retried) ($(log_show "$LOG" "$since"))"
    check_cache_untouched "$C" "mode 404"
}

case_500then200() {
    local C=$T/c-500 since gaps
    since=$(log_lines "$LOG")
    pg fetch --mirror "$FS_URL/500then200" --cache-dir "$C" --json --retries 3 --retry-delay 150
    if check_succeeded "mode 500then200 (two 500s, then the file)"; then
        check_json "mode 500then200" origin=network
        check_installed "$C" "$REAL_KEY" "mode 500then200"
    fi
    log_settle "$LOG"
    check_eq "$(gets 500then200 "$since" "status == 500")" 2 "mode 500then200: two 500 answers ($(log_show "$LOG" "$since"))"
    check_eq "$(gets 500then200 "$since" "status in (200, 206)")" 1 "mode 500then200: then one successful GET"
    # back-off: --retry-delay 150 waits 150 ms, then doubles to 300 ms
    gaps=$("$PY" - "$LOG" "$since" <<'EOF2'
import json, sys
rs = [json.loads(l) for l in open(sys.argv[1]).readlines()[int(sys.argv[2]):]]
rs = [r for r in rs if r.get("event") == "end" and r["mode"] == "500then200"]
print(" ".join("%d" % ((b["start"] - a["end"]) * 1000) for a, b in zip(rs, rs[1:])))
EOF2
)
    if [[ $gaps =~ ^([0-9]+)\ ([0-9]+)$ ]] && ((BASH_REMATCH[1] >= 140 && BASH_REMATCH[2] >= 290)); then
        ok "mode 500then200: back-off of ~150 ms then ~300 ms between attempts (gaps: $gaps ms)"
    else
        nok "mode 500then200: expected gaps of at least 150 ms then 300 ms between attempts (--retry-delay 150, doubling), got: $gaps"
    fi
}

case_500_exhausted() {
    # two 500s but only one retry allowed: fails, names the URL and the status
    local C=$T/c-500x
    pg fetch --mirror "$FS500_URL/500then200" --cache-dir "$C" --retries 1 --retry-delay 50
    if check_failed "two 500s with --retries 1"; then
        check_contains "$(err_line)" "500" "retries exhausted: the error gives the HTTP status"
        check_contains "$(err_line)" "$FS500_URL/500then200/$REAL_REL" "retries exhausted: the error names the URL"
    fi
    log_settle "$FS500_LOG"
    check_eq "$(log_count "$FS500_LOG" "method == 'GET'")" 2 "--retries 1 means two attempts ($(log_show "$FS500_LOG"))"
    check_no_tree "$C" "retries exhausted"
    check_no_lpath "$C/$REAL_KEY.tgz" "retries exhausted: no .tgz"
}

case_drip() {
    local C=$T/c-drip since n
    since=$(log_lines "$LOG")
    CMD_TIMEOUT=60 pg fetch --mirror "$FS_URL/drip" --cache-dir "$C" --low-speed-time 2000 --retries 1 --retry-delay 100 \
        --connect-timeout 5000
    check_failed "mode drip (a few bytes per second)"
    if ((ELAPSED_MS < 15000)); then
        ok "mode drip: gave up within 15 s (${ELAPSED_MS} ms)"
    else
        nok "mode drip: took ${ELAPSED_MS} ms (limit 15 s with --low-speed-time 2000 --retries 1)"
    fi
    if ((ELAPSED_MS >= 3500)); then
        ok "mode drip: both attempts waited for the low-speed window (${ELAPSED_MS} ms)"
    else
        nok "mode drip: failed after only ${ELAPSED_MS} ms; two attempts with --low-speed-time 2000 take about 4 s"
    fi
    log_settle "$LOG"
    n=$(gets drip "$since")
    check_eq "$n" 2 "mode drip: --retries 1 means two attempts ($(log_show "$LOG" "$since"))"
    check_no_tree "$C" "mode drip"
    check_no_lpath "$C/$REAL_KEY.tgz" "mode drip: no verified .tgz"
}

case_norange() {
    local C=$T/c-norange since
    since=$(log_lines "$LOG")
    mkdir -p "$C"
    head -c 1048576 /dev/urandom >"$C/$REAL_KEY.tgz.part"
    pg fetch --mirror "$FS_URL/norange" --cache-dir "$C" "${FAST[@]}"
    if check_succeeded "mode norange with 1 MiB of garbage in the .part"; then
        check_installed "$C" "$REAL_KEY" "mode norange"
    fi
    check_no_lpath "$C/$REAL_KEY.tgz.part" "mode norange: the .part is gone"
    log_settle "$LOG"
    check_eq "$(gets norange "$since" "(range or '').startswith('bytes=1048576-')")" 1 \
        "mode norange: the .part was resumed with 'Range: bytes=1048576-' ($(log_show "$LOG" "$since"))"
    check_eq "$(gets norange "$since")" 1 \
        "mode norange: the 200 answer replaced the .part, no second download"
}

case_complete_part() {
    # a previous run died after the last byte but before the rename: the
    # .part is complete, so "Range: bytes=SIZE-" gets 416 from the server
    local C=$T/c-complete since
    since=$(log_lines "$LOG")
    mkdir -p "$C"
    cp "$REAL_TGZ" "$C/$REAL_KEY.tgz.part"
    pg fetch --mirror "$FS_URL/ok" --cache-dir "$C" "${FAST[@]}"
    if check_succeeded "a complete .part left by an earlier run (the server answers 416)"; then
        check_installed "$C" "$REAL_KEY" "complete .part"
    fi
    log_settle "$LOG"
    check_eq "$(gets ok "$since" "range == 'bytes=$SIZE-'")" 1 \
        "complete .part: pgboot asked for the rest with 'Range: bytes=$SIZE-' ($(log_show "$LOG" "$since"))"
}

case_killed_resume() {
    # kill -9 a fetch in the middle of a slow download; the next fetch (another
    # process) resumes the .part with a Range request
    local C=$T/c-killed since pid i have=0 part
    part=$C/$REAL_KEY.tgz.part
    "$PGBOOT" fetch --mirror "$FS_URL/slow" --cache-dir "$C" --retries 0 >"$T/killed.out" 2>"$T/killed.err" </dev/null &
    pid=$!
    for ((i = 0; i < 100; i++)); do
        have=$(stat -c %s "$part" 2>/dev/null || echo 0)
        ((have < 2000000)) || break
        sleep 0.05
    done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    have=$(stat -c %s "$part" 2>/dev/null || echo 0)
    if ((have > 0 && have < SIZE)); then
        ok "killed mid-download: $REAL_KEY.tgz.part holds $have bytes"
    else
        nok "killed mid-download: expected a partial $part, its size is $have"
        return 0
    fi
    log_settle "$LOG"
    since=$(log_lines "$LOG")
    pg fetch --mirror "$FS_URL/ok" --cache-dir "$C" --json "${FAST[@]}"
    if check_succeeded "fetch after a killed fetch"; then
        check_json "fetch after a killed fetch" origin=network
        check_installed "$C" "$REAL_KEY" "fetch after a killed fetch"
    fi
    log_settle "$LOG"
    check_eq "$(gets ok "$since" "status == 206 and range == 'bytes=$have-'")" 1 \
        "fetch after a killed fetch: resumed with 'Range: bytes=$have-' ($(log_show "$LOG" "$since"))"
    check_eq "$(gets ok "$since")" 1 "fetch after a killed fetch: one GET"
}

case_size_bound() {
    # the manifest's size bounds the download
    local C=$T/c-size M=$T/small-size.json
    make_manifest "$M" "$REAL_TGZ" "" "$REAL_VERSION"
    "$PY" - "$M" <<'EOF2'
import json, sys
d = json.load(open(sys.argv[1]))
d["platforms"]["linux-x64"]["size"] = 1000000
json.dump(d, open(sys.argv[1], "w"))
EOF2
    pg fetch --manifest "$M" --mirror "$FS_URL/ok" --cache-dir "$C" "${FAST[@]}"
    if check_failed "a download larger than the manifest's size"; then
        check_contains "$(err_line)" "$FS_URL/ok/$REAL_REL" "size bound: the error names the URL"
        check_contains "$(err_line)" "1000000" "size bound: the error gives the bound"
    fi
    check_cache_untouched "$C" "size bound (no .part kept)"
}

case_redirect() {
    local C=$T/c-redirect since
    since=$(log_lines "$LOG")
    pg fetch --mirror "$FS_URL/redirect" --cache-dir "$C" --json "${FAST[@]}"
    if check_succeeded "mode redirect (302 to /ok/)"; then
        check_json "mode redirect" origin=network
        check_installed "$C" "$REAL_KEY" "mode redirect"
    fi
    log_settle "$LOG"
    check_eq "$(log_count "$LOG" "mode == 'redirect' and status == 302" "$since")" 1 "mode redirect: one 302 ($(log_show "$LOG" "$since"))"
    check_eq "$(gets ok "$since" "status == 200")" 1 "mode redirect: the redirect was followed to /ok/"
}

case_proxy() {
    local C=$T/c-proxy since url=http://pgboot-mirror.invalid/ok
    since=$(log_lines "$LOG")
    http_proxy=$FS_URL pg fetch --mirror "$url" --cache-dir "$C" --json "${FAST[@]}"
    if check_succeeded "through http_proxy to http://pgboot-mirror.invalid"; then
        check_json "through http_proxy" origin=network url="$url/$REAL_REL"
        check_installed "$C" "$REAL_KEY" "through http_proxy"
    fi
    log_settle "$LOG"
    check_eq "$(log_count "$LOG" "proxy and target == '$url/$REAL_REL' and status == 200" "$since")" 1 \
        "http_proxy: the proxy got the absolute-URI request ($(log_show "$LOG" "$since"))"
}

run_case ok case_ok
rm_tree "$T/c-ok"
run_case cut case_cut
rm_tree "$T/c-cut"
run_case reset case_reset
rm_tree "$T/c-reset"
run_case wrong case_wrong
run_case 404 case_404
run_case 500then200 case_500then200
rm_tree "$T/c-500"
run_case 500_retries_exhausted case_500_exhausted
run_case drip case_drip
run_case norange case_norange
rm_tree "$T/c-norange"
run_case complete_part case_complete_part
rm_tree "$T/c-complete"
run_case killed_resume case_killed_resume
rm_tree "$T/c-killed"
run_case size_bound case_size_bound
run_case redirect case_redirect
rm_tree "$T/c-redirect"
run_case proxy case_proxy
rm_tree "$T/c-proxy"
fetch_finish
