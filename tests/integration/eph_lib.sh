# shellcheck shell=bash
# Shared helpers for the eph_* integration tests: throwaway clusters
# (`pgboot run --ephemeral`, `pgboot tmp`) and test databases (`pgboot testdb`)
# with the real CLI and the real bundle, run as an unprivileged account
# (PostgreSQL refuses root; the tests themselves run as root, as CI does).
#
#     set -euo pipefail
#     . "$(dirname "$0")/eph_lib.sh"
#     eph_setup                 # scratch dir, test user, seeded bundle cache
#     run_case NAME FUNCTION    # one independent scenario (subshell, set -e)
#     eph_finish                # summary "N passed, N failed", exit status
#
# Environment (set by CTest; defaults for running a script by hand):
#   PGBOOT               the CLI             (default: $PGBOOT_SOURCE_DIR/build/pgboot)
#   PGBOOT_TEST_TARBALL  the real linux-x64 bundle tarball (required)
#   PGBOOT_TEST_TMP      scratch dir of this test (default: a mktemp -d); wiped
#   PGBOOT_SOURCE_DIR    the repository root (default: two levels above this file)
#   PGBOOT_KEEP_TMP=1    keep the scratch dir (processes are still stopped)
#
# Every run as the test user gets `env -i` plus its own HOME, XDG_CACHE_HOME,
# XDG_DATA_HOME and TMPDIR under the user's area $U, PGBOOT_MIRROR pointing
# nowhere and proxies at a closed local port: nothing can reach the network,
# and this test's throwaway clusters live under $U/tmp/pgboot-<uid>/ only, so
# checks never see clusters of tests running in parallel.
#
# "No postgres left" means no live process: PID 1 of the test machine may not
# reap orphans, so a dead postmaster can linger as a zombie; zombies do not
# count. Postgres processes of this test are recognised by their executable
# (the bundle in this test's cache); those of one cluster by their working
# directory (postgres chdirs into its data directory), which stays meaningful
# after the directory is renamed or deleted.

EPH_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PGBOOT_SOURCE_DIR=${PGBOOT_SOURCE_DIR:-$(cd "$EPH_LIB_DIR/../.." && pwd)}
PGBOOT=${PGBOOT:-$PGBOOT_SOURCE_DIR/build/pgboot}
TEST_NAME=$(basename "$0" .sh)
TEST_USER=pgboottest
USER_LOCK=/tmp/pgboot-test-user.lock
PY=/usr/bin/python3
[[ -x $PY ]] || PY=$(command -v python3)
# The real psql binary (/usr/bin/psql is a perl wrapper that picks a cluster).
PSQL=${PSQL:-/usr/lib/postgresql/15/bin/psql}
CMD_TIMEOUT=${CMD_TIMEOUT:-120}
CLOSED_PROXY=http://127.0.0.1:9 # discard port: nothing listens there
SUN_PATH_MAX=107                # usable bytes of a Unix socket path

# --- results ------------------------------------------------------------------

. "$(dirname "${BASH_SOURCE[0]}")/checks.sh" # ok/nok, check_*, run_case

eph_finish() {
    local nf nc
    CASE=final
    # Whatever the cases did, no server of this test may be left running, and
    # pgboot's background helpers (spare copiers, pool refills) end.
    if ! wait_until 10 no_postgres; then
        nok "postgres processes of this test still run at the end: $(show_pids "$(live_postgres)")"
    fi
    if ! wait_copiers 30; then
        nok "pgboot processes of this test still run at the end: $(show_pids "$(live_pgboot)")"
    fi
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
        echo "$TEST_NAME: FAILED: no check ran"
        exit 1
    fi
    echo "$TEST_NAME: all passed"
    echo "$nc passed, 0 failed"
    exit 0
}

# --- the test user --------------------------------------------------------------

ensure_test_user() {
    flock "$USER_LOCK" sh -c "id $TEST_USER >/dev/null 2>&1 || useradd --create-home --shell /bin/bash $TEST_USER" ||
        die "cannot create the account $TEST_USER"
    USER_UID=$(id -u "$TEST_USER")
    USER_GID=$(id -g "$TEST_USER")
}

# USER_ENV: the clean environment of every run as the test user (set up by
# eph_setup; a case may change it in its subshell, e.g. another TMPDIR).
USER_ENV=()

_default_user_env() {
    USER_ENV=(
        "PATH=/usr/bin:/bin"
        "HOME=$U/home" "USER=$TEST_USER" "LOGNAME=$TEST_USER"
        "XDG_CACHE_HOME=$U/cache" "XDG_DATA_HOME=$U/data" "TMPDIR=$U/tmp"
        "PGBOOT_MIRROR=file:///nonexistent"
        "https_proxy=$CLOSED_PROXY" "http_proxy=$CLOSED_PROXY" "all_proxy=$CLOSED_PROXY"
        "no_proxy=127.0.0.1,localhost"
        "PGB=$PGB" "PSQL=$PSQL" "EPH_TEST_TAG=$TAG"
    )
}

# user_env_set NAME=VALUE: set (or replace) one variable of USER_ENV.
user_env_set() {
    local name=${1%%=*} i kept=()
    for i in "${USER_ENV[@]}"; do [[ $i == "$name="* ]] || kept+=("$i"); done
    USER_ENV=("${kept[@]}" "$1")
}

# user_env_unset NAME
user_env_unset() {
    local i kept=()
    for i in "${USER_ENV[@]}"; do [[ $i == "$1="* ]] || kept+=("$i"); done
    USER_ENV=("${kept[@]}")
}

# user_env_get NAME
user_env_get() {
    local i
    for i in "${USER_ENV[@]}"; do [[ $i == "$1="* ]] && echo "${i#*=}" && return 0; done
    return 1
}

# as_user_bg CMD...: start CMD as the test user in the background, stdout and
# stderr to files under $T; sets BG_PID (the pid of CMD itself: setpriv and
# env exec it) and BG_LOG (BG_LOG.out, BG_LOG.err).
as_user_bg() {
    local log=$T/bg.$RANDOM$RANDOM
    setpriv --reuid="$TEST_USER" --regid="$USER_GID" --init-groups \
        env -C "$U" -i "${USER_ENV[@]}" "$@" >"$log.out" 2>"$log.err" </dev/null &
    BG_PID=$!
    # shellcheck disable=SC2034 # for the callers
    BG_LOG=$log
    register_bg "$BG_PID"
}

# --- running pgboot --------------------------------------------------------------

# _capture WHO ARGS-SHOWN RUNNER...: run RUNNER... with a time limit; sets RC
# OUT ERR and ELAPSED_MS.
_capture() {
    local who=$1 t0 t1
    CMD="[$who] pgboot $2"
    shift 2
    RC=0
    echo "$CMD" >"$T/.cmd"
    t0=$(date +%s%3N)
    timeout -k 5 "$CMD_TIMEOUT" "$@" >"$T/.out" 2>"$T/.err" </dev/null || RC=$?
    t1=$(date +%s%3N)
    # shellcheck disable=SC2034 # for the callers
    ELAPSED_MS=$((t1 - t0))
    echo "$RC" >"$T/.rc"
    OUT=$(cat "$T/.out")
    ERR=$(cat "$T/.err")
    if ((RC == 124)); then
        nok "did not finish within ${CMD_TIMEOUT}s: $CMD"
    fi
    return 0
}

# pgb ARGS...: pgboot as the test user.
pgb() { _capture "$TEST_USER" "$*" setpriv --reuid="$TEST_USER" --regid="$USER_GID" --init-groups env -C "$U" -i "${USER_ENV[@]}" "$PGB" "$@"; }

# pgb_root ARGS...: pgboot as root, clean environment (scratch HOME and TMPDIR).
pgb_root() {
    _capture root "$*" env -C "$T" -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$T/root/home" \
        XDG_CACHE_HOME="$T/root/cache" XDG_DATA_HOME="$T/root/data" TMPDIR="$T/root/tmp" \
        PGBOOT_MIRROR=file:///nonexistent https_proxy=$CLOSED_PROXY http_proxy=$CLOSED_PROXY \
        all_proxy=$CLOSED_PROXY no_proxy=127.0.0.1,localhost "$PGBOOT" "$@"
}

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

# upsql ARGS...: the real psql as the test user (no psqlrc, unaligned, tuples
# only, stop on error), with a time limit.
upsql() {
    timeout -k 5 60 setpriv --reuid="$TEST_USER" --regid="$USER_GID" --init-groups \
        env -C "$U" -i "${USER_ENV[@]}" "$PSQL" -X -A -t -q -v ON_ERROR_STOP=1 "$@"
}

# sql URL QUERY: one query over a URL, one value per line.
sql() { upsql "$1" -c "$2"; }

# jget JSON KEY: a field of a JSON object (strings raw, others as JSON).
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

url_port() { sed -E 's|^.*@127\.0\.0\.1:([0-9]+)/.*$|\1|' <<<"$1"; }
url_db() { sed -E 's|^.*/([^/?]*)(\?.*)?$|\1|' <<<"$1"; }

# --- processes ---------------------------------------------------------------------

# live_postgres [DIR]: live (non-zombie) postgres processes of this test (their
# executable is in this test's cache); with DIR, only those whose data
# directory (working directory, or -D argument) is DIR or below it. A deleted
# working directory still counts (readlink shows "... (deleted)").
live_postgres() {
    "$PY" - "$U/cache" "${1:-}" <<'EOF'
import os, sys
cache = os.path.realpath(sys.argv[1]).rstrip("/") + "/"
want = sys.argv[2]
if want:
    want = os.path.realpath(want).rstrip("/")
def under(p):
    if p.endswith(" (deleted)"):
        p = p[: -len(" (deleted)")]
    return p == want or p.startswith(want + "/")
me = os.getpid()
for pid in os.listdir("/proc"):
    if not pid.isdigit() or int(pid) == me:
        continue
    try:
        st = open("/proc/%s/stat" % pid).read()
        if st[st.rindex(")") + 2] in "ZX":
            continue
        exe = os.readlink("/proc/%s/exe" % pid)
    except (OSError, ValueError, IndexError):
        continue
    if exe.endswith(" (deleted)"):
        exe = exe[: -len(" (deleted)")]
    if not exe.startswith(cache) or os.path.basename(exe) != "postgres":
        continue
    if want:
        hit = False
        try:
            hit = under(os.readlink("/proc/%s/cwd" % pid))
        except OSError:
            pass
        if not hit:
            try:
                a = open("/proc/%s/cmdline" % pid, "rb").read().split(b"\0")
                a = [x.decode("utf-8", "replace") for x in a]
                hit = any(a[i] == "-D" and under(a[i + 1]) for i in range(len(a) - 1))
            except OSError:
                pass
        if not hit:
            continue
    print(pid)
EOF
}

# live_tagged [pgboot]: live processes of this test other than postgres
# (they carry this test's tag in their environment); with "pgboot", only
# pgboot's own (run owners, tmp keepers, supervisors, spare copiers, pool
# refillers) and the rm -rf they exec.
live_tagged() {
    "$PY" - "$TAG" "$(readlink -f "$PGB")" "${1:-}" <<'EOF'
import os, sys
tag = ("EPH_TEST_TAG=" + sys.argv[1]).encode()
pgb, only = sys.argv[2], sys.argv[3] == "pgboot"
me = os.getpid()
for pid in os.listdir("/proc"):
    if not pid.isdigit() or int(pid) == me:
        continue
    try:
        st = open("/proc/%s/stat" % pid).read()
        if st[st.rindex(")") + 2] in "ZX":
            continue
        env = open("/proc/%s/environ" % pid, "rb").read().split(b"\0")
        comm = open("/proc/%s/comm" % pid).read().strip()
        exe = os.readlink("/proc/%s/exe" % pid)
    except (OSError, ValueError, IndexError):
        continue
    if tag not in env or comm == "postgres":
        continue
    if only and exe != pgb and os.path.basename(exe) != "rm":
        continue
    print(pid)
EOF
}
live_pgboot() { live_tagged pgboot; }

# show_pids PIDS: "pid stat args; ..." of those still there (PIDS: one
# argument or several, separated by spaces or newlines).
show_pids() {
    local list
    list=$(tr -s ' \n' ',,' <<<"$*" | sed 's/^,//; s/,$//')
    [[ -n "$list" ]] || return 0
    ps -o pid=,stat=,args= -p "$list" 2>/dev/null | tr '\n' ';' || true
}

pid_live() {
    local s
    s=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
    [[ -n "$s" && $s != Z* ]]
}

ppid_of() { ps -o ppid= -p "$1" 2>/dev/null | tr -d ' '; }

# wait_until SECONDS CMD [ARGS...]: poll CMD every 50 ms until it succeeds.
wait_until() {
    local secs=$1 i
    shift
    for ((i = 0; i < secs * 20; i++)); do
        "$@" && return 0
        sleep 0.05
    done
    "$@"
}

no_postgres() { [[ -z "$(live_postgres "$@")" ]]; }
path_gone() { [[ ! -e "$1" && ! -L "$1" ]]; }
file_nonempty() { [[ -s "$1" ]]; }
pid_dead() { ! pid_live "$1"; }

# check_no_postgres DIR SECONDS DESC: within SECONDS, no live postgres of DIR.
check_no_postgres() {
    if wait_until "$2" no_postgres "$1"; then
        ok "$3: no live postgres of ${1##*/} (within $2 s)"
    else
        nok "$3: live postgres of $1 after $2 s: $(show_pids "$(live_postgres "$1")")"
    fi
}

# check_gone PATH SECONDS DESC
check_gone() {
    if wait_until "$2" path_gone "$1"; then
        ok "$3: ${1} is gone (within $2 s)"
    else
        nok "$3: $1 still exists after $2 s: $(ls -A "$1" 2>/dev/null | head -5 | tr '\n' ' ')"
    fi
}

# --- this test's throwaway-cluster area ------------------------------------------

# eph_base [TMP]: <tmp>/pgboot-<uid> for TMP (default: the user's TMPDIR).
# shellcheck disable=SC2120
eph_base() { echo "${1:-$(user_env_get TMPDIR)}/pgboot-$USER_UID"; }

# eph_dirs [BASE]: the eph-* directories in BASE (one per line).
eph_dirs() { find "${1:-$(eph_base)}" -mindepth 1 -maxdepth 1 -name 'eph-*' 2>/dev/null | sort || true; }
trash_dirs() { find "${1:-$(eph_base)}" -mindepth 1 -maxdepth 1 -name '.trash-*' 2>/dev/null || true; }
no_eph_dirs() { [[ -z "$(eph_dirs "$@")" ]]; }
no_trash() { [[ -z "$(trash_dirs "$@")" ]]; }

# check_clean BASE DESC: no eph-* left in BASE (at once), no .trash-* within
# 2 s, and no live postgres of BASE within 3 s.
check_clean() {
    local base=$1 desc=$2
    if no_eph_dirs "$base"; then
        ok "$desc: no eph-* directory left in $base"
    else
        nok "$desc: eph-* directories left in $base: $(eph_dirs "$base" | tr '\n' ' ')"
    fi
    if wait_until 2 no_trash "$base"; then
        ok "$desc: no .trash-* left (within 2 s)"
    else
        nok "$desc: .trash-* still there after 2 s: $(trash_dirs "$base" | tr '\n' ' ')"
    fi
    check_no_postgres "$base" 3 "$desc"
}

# check_socket_dir EPH SOCK DESC: SOCK is where the socket of the cluster in
# EPH belongs: EPH/s when EPH/s/.s.PGSQL.65535 fits a socket path (107
# bytes), else /tmp/pgboot-<uid>-e<hash>.
check_socket_dir() {
    local eph=$1 sock=$2 name=/s/.s.PGSQL.65535
    if ((${#eph} + ${#name} <= SUN_PATH_MAX)); then
        check_eq "$sock" "$eph/s" "$3 (inside the cluster directory)"
    else
        check_match "$sock" "^/tmp/pgboot-$USER_UID-e[0-9a-f]+\$" "$3 (a long path: in /tmp)"
    fi
}

# spare_prefix: the name prefix of spare copies of this test's template
# (pgboot names them spare-<hash of the template directory>-<random>).
spare_prefix() {
    "$PY" -c 'import hashlib, sys; print("spare-" + hashlib.blake2b(sys.argv[1].encode(), digest_size=8).hexdigest() + "-")' \
        "$U/cache/pgboot/templates/$BUNDLE_KEY-t1"
}

# wait_copiers SECONDS: wait until no pgboot process of this test runs (the
# detached spare copiers of runs that ended).
wait_copiers() { wait_until "$1" no_pgboot; }
no_pgboot() { [[ -z "$(live_pgboot)" ]]; }

# remove_spares BASE: remove the spare copies of this test's template in BASE
# (they belong to this test's cache, which goes with the scratch dir).
remove_spares() {
    [[ -d "$1" && -n "${BUNDLE_KEY:-}" ]] || return 0
    local p
    p=$(spare_prefix)
    find "$1" -mindepth 1 -maxdepth 1 -name "$p*" -exec rm -rf {} + 2>/dev/null || true
}

# register_bg PID: a background process to kill at the end.
register_bg() { echo "$1" >>"$T/.bg"; }

# register_path PATH: something outside the scratch dir to remove at the end.
register_path() { echo "$1" >>"$T/.paths"; }

# --- setup and teardown -------------------------------------------------------------

_kill_list() { # SIG PIDS...
    local sig=$1 p
    shift
    for p in "$@"; do kill "-$sig" "$p" 2>/dev/null || true; done
}

_eph_cleanup() {
    local rc=$? p i pids
    set +e
    if [[ -n "${T:-}" && -d "$T" ]]; then
        if [[ -f "$T/.bg" ]]; then
            while read -r p; do [[ -n "$p" ]] && kill -TERM "$p" 2>/dev/null; done <"$T/.bg"
        fi
        # this test's pgboot processes (tmp daemons, run owners): their end
        # makes the supervisors stop the clusters
        if [[ -n "${TAG:-}" ]]; then
            # shellcheck disable=SC2046
            _kill_list TERM $(live_tagged)
            for ((i = 0; i < 60; i++)); do
                [[ -z "$(live_tagged)$(live_postgres)" ]] && break
                sleep 0.05
            done
            pids=$(live_postgres)
            if [[ -n "$pids" ]]; then
                echo "cleanup: stopping leftover postgres: $(tr '\n' ' ' <<<"$pids")" >&2
                # shellcheck disable=SC2086
                _kill_list QUIT $pids
                for ((i = 0; i < 100; i++)); do
                    [[ -z "$(live_postgres)" ]] && break
                    sleep 0.05
                done
            fi
            # shellcheck disable=SC2046
            _kill_list KILL $(live_postgres) $(live_tagged)
        fi
        if [[ -f "$T/.bg" ]]; then
            while read -r p; do [[ -n "$p" ]] && kill -KILL "$p" 2>/dev/null; done <"$T/.bg"
        fi
        # spare copies of this test's template outside the scratch dir (the
        # default /dev/shm): the template goes with the scratch dir
        [[ -n "${U:-}" ]] && remove_spares "/dev/shm/pgboot-$USER_UID"
        if [[ -f "$T/.paths" ]]; then
            while read -r p; do
                [[ -n "$p" && "$p" == /* && "$p" != / ]] && rm -rf "$p"
            done <"$T/.paths"
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

# eph_setup: scratch dir, test user, the user's area, a seeded bundle cache.
eph_setup() {
    [[ $(id -u) == 0 ]] || die "the eph tests run as root (they create and use the account $TEST_USER)"
    [[ -x "$PGBOOT" ]] || die "PGBOOT=$PGBOOT is not an executable (build pgboot first)"
    [[ -n "${PGBOOT_TEST_TARBALL:-}" && -f "$PGBOOT_TEST_TARBALL" ]] ||
        die "PGBOOT_TEST_TARBALL (the real bundle tarball) is not set or missing: '${PGBOOT_TEST_TARBALL:-}'"
    [[ -x "$PSQL" ]] || die "psql is needed at $PSQL (apt-get install postgresql-client-15)"
    [[ -x "$PY" ]] || die "python3 is needed"
    local c
    for c in setpriv flock useradd timeout ps; do
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
    if [[ -d "$T" ]]; then
        chmod -R u+w "$T" 2>/dev/null || true
        rm -rf "$T"
    fi
    mkdir -p "$T"
    T=$(cd "$T" && pwd)
    TAG="$TEST_NAME-$$-$RANDOM$RANDOM"
    trap _eph_cleanup EXIT
    trap 'exit 130' INT TERM
    : >"$T/.fails"
    : >"$T/.checks"
    : >"$T/.cmd"
    chmod 755 "$T"
    mkdir -p "$T/root/home" "$T/root/cache" "$T/root/data" "$T/root/tmp"

    ensure_test_user

    # The user's area: under the scratch dir if the user can get there, else
    # (a checkout under a private directory) a private dir in /tmp.
    U=$T/u
    mkdir -p "$U"
    chown "$TEST_USER:" "$U"
    chmod 755 "$U"
    if ! setpriv --reuid="$TEST_USER" --regid="$USER_GID" --init-groups env -C / test -w "$U" -a -x "$U"; then
        U_OUTSIDE=$(mktemp -d "/tmp/pgboot-$TEST_NAME-u.XXXXXX")
        U=$U_OUTSIDE
        chmod 755 "$U"
        echo "note: $TEST_USER cannot reach $T; using $U" >&2
    fi
    mkdir -p "$U/home" "$U/cache" "$U/data" "$U/tmp" "$U/work"
    cp "$PGBOOT_TEST_TARBALL" "$U/bundle.tgz"
    chmod 644 "$U/bundle.tgz"
    PGB=$PGBOOT
    if ! setpriv --reuid="$TEST_USER" --regid="$USER_GID" --init-groups env -C / test -x "$PGBOOT"; then
        cp "$PGBOOT" "$U/pgboot"
        chmod 755 "$U/pgboot"
        PGB=$U/pgboot
    fi
    chown -R "$TEST_USER:" "$U"
    _default_user_env

    # Seed the bundle cache: every later run finds it and needs no network.
    pgb fetch --from "$U/bundle.tgz"
    [[ $RC == 0 ]] || {
        show_last >&2
        die "pgboot fetch --from the test tarball failed as $TEST_USER"
    }
    BIN_DIR=$OUT
    [[ -x "$BIN_DIR/postgres" ]] || die "fetch printed '$BIN_DIR', which has no postgres"
    BUNDLE_KEY=${BIN_DIR%/bin}
    BUNDLE_KEY=${BUNDLE_KEY##*/}
    : >"$T/.cmd"
    echo "setup: user $TEST_USER (uid $USER_UID), area $U, bundle $BIN_DIR"
}

# user_file PATH CONTENT: a file the test user owns.
user_file() {
    mkdir -p "$(dirname "$1")"
    printf '%s' "$2" >"$1"
    chown "$TEST_USER:" "$1"
}

# probe_script: a script, run as CMD inside a cluster, that writes what it
# sees as NAME=VALUE lines to the file given as its argument (atomically):
# the connection variables, settings read with psql over TCP (the
# variables) and over the Unix socket, the cluster's data and socket
# directories, its owner file and postmaster.pid.
probe_script() {
    local f=$U/work/probe.sh
    if [[ ! -f $f ]]; then
        cat >"$f" <<'PROBE'
#!/bin/sh
set -eu
out=$1
q() { "$PSQL" -X -A -t -q -v ON_ERROR_STOP=1 -c "$1"; }
data=$(q 'show data_directory')
sock=$(q 'show unix_socket_directories')
{
    echo "cmd_pid=$$"
    echo "cmd_ppid=$PPID"
    echo "DATABASE_URL=${DATABASE_URL:-}"
    echo "PGHOST=${PGHOST:-}"
    echo "PGPORT=${PGPORT:-}"
    echo "PGUSER=${PGUSER:-}"
    echo "PGPASSWORD=${PGPASSWORD:-}"
    echo "PGDATABASE=${PGDATABASE:-}"
    echo "data=$data"
    echo "sock=$sock"
    echo "fsync=$(q 'show fsync')"
    echo "synchronous_commit=$(q 'show synchronous_commit')"
    echo "full_page_writes=$(q 'show full_page_writes')"
    echo "work_mem=$(q 'show work_mem')"
    echo "port=$(q 'show port')"
    echo "listen=$(q 'show listen_addresses')"
    echo "url_query=$("$PSQL" -X -A -t -q -v ON_ERROR_STOP=1 "$DATABASE_URL" -c 'select 40 + 2')"
    echo "socket_query=$(PGHOST=$sock "$PSQL" -X -A -t -q -v ON_ERROR_STOP=1 -c 'select inet_server_port() is null')"
    echo "owner=$(cat "$(dirname "$data")/owner")"
    echo "postmaster=$(head -n 1 "$data/postmaster.pid")"
    echo "socket_mode=$(stat -c %a "$sock")"
} >"$out.tmp"
mv "$out.tmp" "$out"
PROBE
        chmod 755 "$f"
        chown "$TEST_USER:" "$f"
    fi
    echo "$f"
}

# kv FILE NAME: the value of NAME=... in FILE.
kv() { sed -n "s/^$2=//p" "$1" | head -n 1; }

# user_mkdir DIR: a directory, with its missing parents, owned by the user.
user_mkdir() {
    local d=$1 top=""
    while [[ ! -e "$d" ]]; do
        top=$d
        d=$(dirname "$d")
    done
    mkdir -p "$1"
    if [[ -n "$top" ]]; then chown -R "$TEST_USER:" "$top"; fi
}

# --- pgboot testdb -------------------------------------------------------------
# For tests of one app server: APP (its name), APP_URL (its URL, set by
# start_app), SQL (a directory for SQL files).

# tdb ARGS...: pgboot testdb --app APP ARGS...
tdb() { pgb testdb --app "$APP" "$@"; }

# dbs PATTERN: databases whose name is LIKE PATTERN, one per line, sorted.
dbs() { sql "$APP_URL" "select datname from pg_database where datname like '$1' order by 1"; }
db_exists() { [[ "$(sql "$APP_URL" "select count(*) from pg_database where datname = '$1'")" == 1 ]]; }
db_gone() { ! db_exists "$1"; }

connected_to() { (($(sql "$APP_URL" "select count(*) from pg_stat_activity where datname = '$1'") >= 1)); }

# hash8 URL: the template part of a clone's name.
hash8() { url_db "$1" | sed -E 's/^pgboot_t_([0-9a-f]{8})_.*$/\1/'; }

# sqlfile NAME TEXT: an SQL file the user owns; prints its path.
sqlfile() {
    user_file "$SQL/$1" "$2"
    echo "$SQL/$1"
}

# clone_url: the single URL printed by the last run (fails the case if not).
clone_url() {
    local n
    n=$(grep -c . <<<"$OUT" || true)
    if [[ $RC != 0 || $n != 1 ]]; then
        nok "expected one URL from testdb, got exit $RC and $n line(s)"
        return 1
    fi
    echo "$OUT"
}

# start_app TESTDB-ARGS...: the first `pgboot testdb --app APP ARGS` (it
# starts the app's server); sets APP_URL. Dies if that fails.
start_app() {
    tdb "$@"
    [[ $RC == 0 ]] || {
        show_last >&2
        die "the first testdb --app $APP failed"
    }
    pgb url --app "$APP"
    [[ $RC == 0 ]] || die "pgboot url --app $APP failed after testdb started it"
    APP_URL=$OUT
    echo "app server: $APP_URL"
}
