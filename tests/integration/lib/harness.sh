# shellcheck shell=bash
# The one harness of pgboot's integration tests. A suite sources its family's
# library (fetch_lib.sh, server_lib.sh, eph_lib.sh, mig_lib.sh), which sources
# this file and adds what only that family needs; a suite with no family
# sources this file itself:
#
#     set -euo pipefail
#     . "$(dirname "$0")/lib/harness.sh"
#     harness_scratch           # the scratch dir $T, cleaned up at exit
#     run_case NAME FUNCTION    # one independent scenario (subshell, set -e)
#     harness_finish            # summary line "N passed, N failed", exit status
#
# What is here: locations, the scratch dir and its cleanup, results (ok/nok,
# one set of check_*, run_case, the summary), the test user and its area,
# running pgboot as that user and as root with a clean environment, and
# process helpers.
#
# Environment (set by CTest; defaults are for running a script by hand):
#   PGBOOT               the CLI binary            (default: $PGBOOT_SOURCE_DIR/build/pgboot)
#   PGBOOT_TEST_TARBALL  the real linux-x64 bundle (required by most suites)
#   PGBOOT_SOURCE_DIR    the repository root       (default: three levels above this file)
#   PGBOOT_TEST_TMP      scratch dir of this test  (default: a mktemp -d); wiped
#   PGBOOT_KEEP_TMP=1    keep the scratch dir (processes are still stopped)
#
# Style: checks never stop the script. Each check prints one "ok" or "FAIL"
# line; a FAIL is also recorded in $T/.fails (one line each), which
# harness_finish counts. On failure the last pgboot command is shown with its
# output.

# --- locations ------------------------------------------------------------------

HARNESS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PGBOOT_SOURCE_DIR=${PGBOOT_SOURCE_DIR:-$(cd "$HARNESS_DIR/../../.." && pwd)}
PGBOOT=${PGBOOT:-$PGBOOT_SOURCE_DIR/build/pgboot}
# shellcheck disable=SC2034 # read by the suites
SUPPORT_DIR=$(cd "$HARNESS_DIR/../../support" && pwd)
# Fixtures the project generates and keeps (tests/fixtures/).
# shellcheck disable=SC2034 # read by the suites
TEST_FIXTURES=$PGBOOT_SOURCE_DIR/tests/fixtures
# Fixtures shared by all clones: ../shared/fixtures beside the clone.
SHARED_FIXTURES=$PGBOOT_SOURCE_DIR/../shared/fixtures
if [[ -d $SHARED_FIXTURES ]]; then SHARED_FIXTURES=$(cd "$SHARED_FIXTURES" && pwd); fi
TEST_NAME=$(basename "$0" .sh)
TEST_USER=pgboottest
USER_LOCK=/tmp/pgboot-test-user.lock
# The system python (stdlib only), usable by the test user too (a pyenv shim
# under /root is not).
PY=/usr/bin/python3
[[ -x $PY ]] || PY=$(command -v python3)
# The real psql binary (/usr/bin/psql is a perl wrapper that picks a cluster).
if [[ -z "${PSQL:-}" ]]; then
    for _p in /usr/lib/postgresql/15/bin/psql /usr/bin/psql; do
        [[ -x $_p ]] && PSQL=$_p && break
    done
    unset _p
fi
export PSQL
CMD_TIMEOUT=${CMD_TIMEOUT:-120}
CLOSED_PROXY=http://127.0.0.1:9 # discard port: nothing listens there

# --- results --------------------------------------------------------------------

CASE=""
T=${T:-}

die() {
    echo "FATAL [$TEST_NAME]: $*" >&2
    [[ -n "${T:-}" && -d "${T:-/nonexistent}" ]] && echo "fatal: $*" >>"$T/.fails"
    exit 1
}

ok() {
    echo "ok${CASE:+ [$CASE]}: $*"
    echo x >>"$T/.checks"
}

# nok DESC: a failed check, shown with the last pgboot command and its output.
nok() {
    echo "FAIL${CASE:+ [$CASE]}: $*" >&2
    echo "${CASE:+[$CASE] }$*" | tr '\n' ' ' | sed 's/ *$//' >>"$T/.fails"
    echo >>"$T/.fails"
    echo x >>"$T/.checks"
    show_last >&2
}

show_last() {
    [[ -s "$T/.cmd" ]] || return 0
    echo "    last pgboot command: $(cat "$T/.cmd")"
    echo "    exit status: $(cat "$T/.rc" 2>/dev/null)${ELAPSED_MS:+ ($ELAPSED_MS ms)}"
    echo "    stdout: $(head -c 1500 "$T/.out" 2>/dev/null | sed '2,$s/^/      | /')"
    echo "    stderr: $(head -c 2500 "$T/.err" 2>/dev/null | sed '2,$s/^/      | /')"
}

fail_count() { wc -l <"$T/.fails" | tr -d ' '; }

check_eq() { # GOT WANT DESC
    if [[ "$1" == "$2" ]]; then ok "$3"; else nok "$3: expected '$2', got '$1'"; fi
}

check_ne() { # GOT UNWANTED DESC
    if [[ "$1" != "$2" ]]; then ok "$3"; else nok "$3: got '$1', which it must not be"; fi
}

check_contains() { # HAYSTACK NEEDLE DESC
    if [[ "$1" == *"$2"* ]]; then ok "$3"; else nok "$3: '$2' not in: $(head -c 1200 <<<"$1")"; fi
}

check_not_contains() { # HAYSTACK NEEDLE DESC
    if [[ "$1" != *"$2"* ]]; then ok "$3"; else nok "$3: '$2' must not be in: $(head -c 1200 <<<"$1")"; fi
}

check_match() { # HAYSTACK ERE DESC
    if grep -q -E -- "$2" <<<"$1"; then ok "$3"; else nok "$3: /$2/ does not match: $(head -c 1200 <<<"$1")"; fi
}

check_imatch() { # HAYSTACK ERE DESC (case-insensitive)
    if grep -q -i -E -- "$2" <<<"$1"; then ok "$3"; else nok "$3: /$2/i does not match: $(head -c 1200 <<<"$1")"; fi
}

check_rc() { # WANT DESC  (of the last pgboot run)
    if [[ "$RC" == "$1" ]]; then ok "$2 (exit $1)"; else nok "$2: expected exit $1, got $RC"; fi
}

check_true() { # DESC CMD [ARGS...]: CMD succeeds
    local desc=$1
    shift
    if "$@"; then ok "$desc"; else nok "$desc"; fi
}

check_path() { # PATH DESC: PATH exists (a link counts only if what it points to exists)
    if [[ -e "$1" ]]; then ok "$2"; else nok "$2: $1 does not exist"; fi
}

check_lpath() { # PATH DESC: PATH exists, or is a link (even a dangling one)
    if [[ -e "$1" || -L "$1" ]]; then ok "$2"; else nok "$2: $1 does not exist"; fi
}

check_no_path() { # PATH DESC: nothing at PATH, or a dangling link
    if [[ ! -e "$1" ]]; then ok "$2"; else nok "$2: $1 exists"; fi
}

check_no_lpath() { # PATH DESC: nothing at PATH, not even a dangling link
    if [[ ! -e "$1" && ! -L "$1" ]]; then ok "$2"; else nok "$2: $1 exists"; fi
}

# check_none FOUND DESC PROBLEM: ok DESC when FOUND (a list, one per line)
# is empty, else nok "PROBLEM: <the list>".
check_none() {
    if [[ -z "$1" ]]; then ok "$2"; else nok "$3: $(sed -z 's/\n$//; s/\n/;/g' <<<"$1" | head -c 1200)"; fi
}

# check_mode PATH OCTAL DESC
check_mode() {
    local m
    m=$(stat -c %a "$1" 2>/dev/null || echo missing)
    check_eq "$m" "$2" "$3: mode of ${1##*/}"
}

# check_error_shape DESC: the last run failed the documented way: empty
# stdout, one "pgboot: error: " line, at most one "hint: " line.
check_error_shape() {
    local n nh
    n=$(grep -c '^pgboot: error: .' <<<"$ERR" || true)
    nh=$(grep -c '^hint: ' <<<"$ERR" || true)
    check_eq "$n" 1 "$1: one 'pgboot: error:' line on stderr"
    if ((nh > 1)); then nok "$1: $nh 'hint:' lines (at most one)"; fi
    check_eq "$OUT" "" "$1: nothing on stdout"
}

# check_succeeded DESC: the last run succeeded (exit 0, something on stdout).
# Returns 1 if not, so callers can `check_succeeded ... || return 0`.
check_succeeded() {
    if [[ $RC == 0 && -n "$OUT" ]]; then
        ok "$1 (exit 0)"
        return 0
    fi
    nok "$1: expected success (exit 0 and output), got exit $RC"
    return 1
}

# check_failed DESC [STATUS]: the last run failed the documented way: exit
# STATUS (default 1), empty stdout, exactly one "pgboot: error: " line on
# stderr and at most one "hint: " line. One check; returns 1 if it failed.
check_failed() {
    local desc=$1 want=${2:-1} n nh good=1
    if [[ $RC != "$want" ]]; then
        nok "$desc: expected exit $want, got $RC"
        good=0
    fi
    if [[ -n "$OUT" ]]; then
        nok "$desc: stdout must be empty on failure"
        good=0
    fi
    n=$(grep -c '^pgboot: error: .' <<<"$ERR" || true)
    nh=$(grep -c '^hint: ' <<<"$ERR" || true)
    if [[ $n != 1 ]]; then
        nok "$desc: stderr must have exactly one 'pgboot: error: <message>' line (has $n)"
        good=0
    fi
    if ((nh > 1)); then
        nok "$desc: stderr has $nh 'hint:' lines (at most one allowed)"
        good=0
    fi
    if [[ $good == 1 ]]; then
        ok "$desc (exit $want, error: $(err_line))"
        return 0
    fi
    return 1
}

# The "pgboot: error: " line and the "hint: " line of the last run.
err_line() { grep -m1 '^pgboot: error: ' <<<"$ERR" || true; }
hint_line() { grep -m1 '^hint: ' <<<"$ERR" || true; }

# check_py DESC PYTHON-SNIPPET [ARGS...]: the snippet prints nothing on
# success, else the problems (one per line). ARGS are in sys.argv[1:].
check_py() {
    local desc=$1 code=$2 out
    shift 2
    out=$("$PY" -c "$code" "$@" 2>&1) || out="(python failed) $out"
    if [[ -z "$out" ]]; then ok "$desc"; else nok "$desc: $(head -c 2500 <<<"$out")"; fi
}

# run_case NAME FUNCTION [ARGS...]: one independent scenario, in a subshell
# with `set -e`; an unexpected error fails the case and the next one runs.
run_case() {
    local name=$1 before rc t0
    shift
    before=$(fail_count)
    t0=$(date +%s%3N)
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
        echo "[$name] scenario aborted by an unexpected error (status $rc), see ERROR above" >>"$T/.fails"
        echo "FAIL [$name]: scenario aborted (status $rc)" >&2
        show_last >&2
    fi
    if (($(fail_count) > before)); then
        echo "=== $name: FAILED ($(($(date +%s%3N) - t0)) ms)"
    else
        echo "=== $name: passed ($(($(date +%s%3N) - t0)) ms)"
    fi
}

# FINISH_HOOKS: functions harness_finish runs first (as case "final"), for
# the checks a family makes at the end of every suite.
FINISH_HOOKS=()

# harness_finish: the final checks, the summary line "N passed, N failed" and
# the exit status (1 if a check failed or none ran).
harness_finish() {
    local nf nc h
    for h in "${FINISH_HOOKS[@]}"; do
        CASE=final
        "$h"
    done
    CASE=""
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

# --- the scratch directory and cleanup ------------------------------------------------

# rm_tree PATH...: make trees writable again (installed trees are read-only)
# and remove them.
rm_tree() {
    local d
    for d in "$@"; do
        [[ -e "$d" || -L "$d" ]] || continue
        chmod -R u+w "$d" 2>/dev/null || true
        rm -rf "$d"
    done
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
    mount -t tmpfs -o "size=${2}m,uid=$USER_UID,gid=$USER_GID,mode=0755" tmpfs "$1" ||
        die "cannot mount a tmpfs at $1 (the test needs root)"
    echo "$1" >>"$T/.mounts"
}

# CLEANUP_HOOKS: functions the exit trap runs after the background processes
# got SIGTERM and before they get SIGKILL: a family stops what it started
# (servers, pgboot's helpers).
CLEANUP_HOOKS=()

_kill_pids() { # SIG PIDS...
    local sig=$1 p
    shift
    for p in "$@"; do kill "-$sig" "$p" 2>/dev/null || true; done
}

_harness_cleanup() {
    local rc=$? p u h
    set +e
    if [[ -n "${T:-}" && -d "$T" ]]; then
        if [[ -s "$T/.bg" ]]; then
            while read -r p; do [[ -n "$p" ]] && kill -TERM "$p" 2>/dev/null; done <"$T/.bg"
            sleep 0.2
        fi
        for h in "${CLEANUP_HOOKS[@]}"; do "$h"; done
        if [[ -f "$T/.bg" ]]; then
            while read -r p; do [[ -n "$p" ]] && kill -KILL "$p" 2>/dev/null; done <"$T/.bg"
        fi
        [[ -n "${U:-}" ]] && sweep_postgres "$U" prefix
        sweep_postgres "$T" prefix
        if [[ -f "$T/.mounts" ]]; then
            while read -r p; do [[ -n "$p" ]] && umount -l "$p"; done <"$T/.mounts"
        fi
        if [[ -f "$T/.paths" ]]; then
            while read -r p; do
                [[ -n "$p" && "$p" == /* && "$p" != / ]] || continue
                sweep_postgres "$p" prefix
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
            rm_tree "$T"
            [[ -n "${U_OUTSIDE:-}" ]] && rm_tree "$U_OUTSIDE"
        fi
    fi
    exit "$rc"
}

# harness_scratch: the scratch dir T (PGBOOT_TEST_TMP, else a new one in
# /tmp), emptied of what an earlier run left (servers included), removed at
# exit with everything registered above.
harness_scratch() {
    if [[ -n "${PGBOOT_TEST_TMP:-}" ]]; then
        T=$PGBOOT_TEST_TMP
    else
        T=$(mktemp -d "${TMPDIR:-/tmp}/pgboot-$TEST_NAME.XXXXXX")
    fi
    case "$T" in
    / | /tmp | /tmp/ | /root | /home | "$HOME" | "") die "refusing scratch dir '$T'" ;;
    esac
    trap _harness_cleanup EXIT
    trap 'exit 130' INT TERM
    # a run before us may have left servers in here
    if [[ -d "$T" ]]; then
        sweep_postgres "$T" prefix
        rm_tree "$T"
    fi
    mkdir -p "$T"
    T=$(cd "$T" && pwd)
    : >"$T/.fails"
    : >"$T/.checks"
    : >"$T/.cmd"
    chmod 755 "$T"
}

# harness_require CMD...: die unless every CMD is on PATH.
harness_require() {
    local c
    for c in "$@"; do
        command -v "$c" >/dev/null || die "$c is needed"
    done
}

# --- the test user and its area -------------------------------------------------------

# ensure_user NAME: create NAME (with a home) unless it exists; race-safe when
# tests run in parallel.
ensure_user() {
    local name=$1
    getent passwd "$name" >/dev/null && return 0
    flock "$USER_LOCK" sh -c 'getent passwd "$1" >/dev/null || useradd --create-home --shell /bin/bash "$1"' sh "$name" ||
        die "cannot create the test user $name"
    getent passwd "$name" >/dev/null || die "user $name still missing after useradd"
}

# ensure_test_user: the account the tests run pgboot as (PostgreSQL refuses
# root); sets USER_UID, USER_GID and USER_HOME (its real home).
ensure_test_user() {
    ensure_user "$TEST_USER"
    USER_UID=$(id -u "$TEST_USER")
    USER_GID=$(id -g "$TEST_USER")
    USER_HOME=$(getent passwd "$TEST_USER" | cut -d: -f6)
    [[ -d "$USER_HOME" ]] || {
        mkdir -p "$USER_HOME"
        chown "$TEST_USER:" "$USER_HOME"
    }
}

# USER_ENV: the clean environment of every run as the test user (set by
# harness_user_area; a family or a case may change it with user_env_set).
USER_ENV=()

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

# user_env: USER_ENV, one assignment per line.
user_env() { printf '%s\n' "${USER_ENV[@]}"; }

# sanitizer_env: the sanitizers' settings of the caller (CI runs the suite
# under ASan/UBSan too), passed on through the clean environments.
sanitizer_env() {
    local v
    for v in ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS; do
        [[ -n "${!v:-}" ]] && echo "$v=${!v}"
    done
    return 0
}

# The parts of a clean environment that keep pgboot off the network: no
# mirror, proxies at a closed port.
_offline_env() {
    printf '%s\n' "PGBOOT_MIRROR=file:///nonexistent" \
        "https_proxy=$CLOSED_PROXY" "http_proxy=$CLOSED_PROXY" "all_proxy=$CLOSED_PROXY" \
        "no_proxy=127.0.0.1,localhost"
    sanitizer_env
}

# as_user [NAME=VALUE...] CMD [ARGS...]: CMD as the test user with USER_ENV
# (plus the given assignments), from $U. With RUN_TIMEOUT set, CMD is killed
# after that many seconds.
as_user() {
    (cd "${U:-/}" && exec ${RUN_TIMEOUT:+timeout -k 5 "$RUN_TIMEOUT"} setpriv --reuid="$TEST_USER" --regid="$USER_GID" --init-groups \
        env -i "${USER_ENV[@]}" "$@")
}

# as_user_bg CMD...: start CMD as the test user in the background, stdout and
# stderr to files under $T; sets BG_PID (the pid of CMD itself: setpriv and
# env exec it) and BG_LOG (BG_LOG.out, BG_LOG.err).
as_user_bg() {
    local log=$T/bg.$RANDOM$RANDOM
    setpriv --reuid="$TEST_USER" --regid="$USER_GID" --init-groups \
        env -C "${U:-/}" -i "${USER_ENV[@]}" "$@" >"$log.out" 2>"$log.err" </dev/null &
    BG_PID=$!
    # shellcheck disable=SC2034 # for the callers
    BG_LOG=$log
    register_bg "$BG_PID"
}

# ROOT_ENV, ROOT_CWD: the clean environment of runs as root, and where they
# start (a family may change both).
ROOT_ENV=()
ROOT_CWD=/

# as_root_clean CMD [ARGS...]: CMD as root with ROOT_ENV, from ROOT_CWD.
as_root_clean() {
    (cd "$ROOT_CWD" && exec ${RUN_TIMEOUT:+timeout -k 5 "$RUN_TIMEOUT"} env -i "${ROOT_ENV[@]}" "$@")
}

# harness_user_area [--no-seed]: the test user and its area U (under the
# scratch dir if the user can get there, else, for a checkout under a private
# directory, a private dir in /tmp) holding home/, data/, cache/, tmp/ and a
# copy of the bundle (bundle.tgz); PGB, the pgboot binary as the user runs it;
# USER_ENV and ROOT_ENV. Unless --no-seed, harness_seed_cache follows.
harness_user_area() {
    [[ $(id -u) == 0 ]] || die "$TEST_NAME runs as root (it creates and uses the account $TEST_USER)"
    [[ -x "$PY" ]] || die "python3 is needed"
    harness_require setpriv flock useradd timeout ps
    ensure_test_user
    U=$T/u
    mkdir -p "$U"
    chown "$TEST_USER:$USER_GID" "$U"
    chmod 755 "$U"
    if ! setpriv --reuid="$TEST_USER" --regid="$USER_GID" --init-groups env -C / test -w "$U" -a -x "$U"; then
        U_OUTSIDE=$(mktemp -d "/tmp/pgboot-$TEST_NAME-u.XXXXXX")
        U=$U_OUTSIDE
        chmod 755 "$U"
        echo "note: $TEST_USER cannot reach $T; using $U" >&2
    fi
    mkdir -p "$U/home" "$U/data" "$U/cache" "$U/tmp" "$T/root/home"
    if [[ -n "${PGBOOT_TEST_TARBALL:-}" ]]; then
        cp "$PGBOOT_TEST_TARBALL" "$U/bundle.tgz"
        chmod 644 "$U/bundle.tgz"
    fi
    PGB=$PGBOOT
    if ! setpriv --reuid="$TEST_USER" --regid="$USER_GID" --init-groups env -C / test -x "$PGBOOT"; then
        cp "$PGBOOT" "$U/pgboot"
        chmod 755 "$U/pgboot"
        PGB=$U/pgboot
    fi
    chown -R "$TEST_USER:$USER_GID" "$U"
    mapfile -t USER_ENV < <(printf '%s\n' "HOME=$U/home" "USER=$TEST_USER" "LOGNAME=$TEST_USER" \
        "PATH=/usr/bin:/bin" "XDG_DATA_HOME=$U/data" "XDG_CACHE_HOME=$U/cache"
        _offline_env)
    mapfile -t ROOT_ENV < <(printf '%s\n' "HOME=$T/root/home" \
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        _offline_env)
    ROOT_CWD=$U
    [[ "${1:-}" == --no-seed ]] || harness_seed_cache
}

# harness_seed_cache: seed the user's bundle cache from the test tarball by
# `pgboot fetch --from`, so no later run needs the network; sets BIN_DIR.
harness_seed_cache() {
    [[ -n "${PGBOOT_TEST_TARBALL:-}" && -f "$PGBOOT_TEST_TARBALL" ]] ||
        die "PGBOOT_TEST_TARBALL (the real bundle tarball) is not set or missing: '${PGBOOT_TEST_TARBALL:-}'"
    pgb fetch --from "$U/bundle.tgz"
    [[ $RC == 0 ]] || {
        show_last >&2
        die "pgboot fetch --from the test tarball failed as $TEST_USER"
    }
    BIN_DIR=$OUT
    [[ -x "$BIN_DIR/postgres" ]] || die "fetch printed '$BIN_DIR', which has no postgres"
    : >"$T/.cmd"
}

# --- running pgboot ------------------------------------------------------------------

# run_captured WHO ARGS-SHOWN RUNNER...: run RUNNER... with a time limit of
# CMD_TIMEOUT seconds; sets RC OUT ERR CMD ELAPSED_MS (and $T/.cmd .rc .out
# .err, which show_last shows).
run_captured() {
    local who=$1 t0 t1
    CMD="[$who] pgboot $2"
    shift 2
    RC=0
    echo "$CMD" >"$T/.cmd"
    t0=$(date +%s%3N)
    RUN_TIMEOUT=$CMD_TIMEOUT "$@" >"$T/.out" 2>"$T/.err" </dev/null || RC=$?
    t1=$(date +%s%3N)
    ELAPSED_MS=$((t1 - t0))
    echo "$RC" >"$T/.rc"
    OUT=$(cat "$T/.out")
    ERR=$(cat "$T/.err")
    # timeout(1) exits 124, or 137 when its SIGKILL was needed
    if ((RC == 124 || (RC == 137 && ELAPSED_MS >= CMD_TIMEOUT * 1000))); then
        nok "did not finish within ${CMD_TIMEOUT}s: $CMD"
    fi
    return 0
}

# _timed CMD...: CMD under RUN_TIMEOUT (for runs in the caller's environment).
_timed() { ${RUN_TIMEOUT:+timeout -k 5 "$RUN_TIMEOUT"} "$@"; }

# PGB_ENV: extra env(1) arguments for pgb (NAME=VALUE, -u NAME).
PGB_ENV=()

# pgb ARGS...: pgboot as the test user.
pgb() { run_captured "$TEST_USER${PGB_ENV[*]:+ ${PGB_ENV[*]}}" "$*" as_user env "${PGB_ENV[@]}" "$PGB" "$@"; }

# pgb_root ARGS...: pgboot as root, clean environment.
pgb_root() { run_captured root "$*" as_root_clean "$PGBOOT" "$@"; }

# pg ARGS...: pgboot as the caller (root), in the caller's environment.
pg() { run_captured caller "$*" _timed "$PGBOOT" "$@"; }

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

# on_terminal CMD [ARGS...]: CMD with a pseudo-terminal as its stdin, stdout
# and stderr; prints "exit STATUS", then what CMD wrote, a carriage return
# shown as <CR>. Runs as the caller; with RUNNER=as_user, as the test user.
on_terminal() {
    ${RUNNER:-} "$PY" - "$@" <<'PY'
import os, pty, sys
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
out = b""
while True:
    try:
        chunk = os.read(fd, 4096)
    except OSError:
        break
    if not chunk:
        break
    out += chunk
_, status = os.waitpid(pid, 0)
print("exit", os.waitstatus_to_exitcode(status))
print(out.decode(errors="replace").replace(chr(13), "<CR>"))
PY
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

url_port() { sed -E 's|^.*@127\.0\.0\.1:([0-9]+)/.*$|\1|' <<<"$1"; }

# free_port: a port on 127.0.0.1 that is free right now.
free_port() {
    "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# --- processes ------------------------------------------------------------------------
# "No postgres left" means no live process: the machine's PID 1 may reap
# orphans late, so a stopped postmaster can linger as a zombie; zombies do not
# count.

# procs_py ARGS... <SCRIPT: the python SCRIPT (on stdin) with ARGS, after a
# prelude that defines live(): the live (non-zombie) processes but this one,
# as (pid, comm) pairs.
procs_py() {
    "$PY" -c '
import os, sys
def live():
    me = os.getpid()
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == me:
            continue
        try:
            st = open("/proc/%s/stat" % pid).read()
            if st[st.rindex(")") + 2] in "ZX":
                continue
            comm = open("/proc/%s/comm" % pid).read().strip()
        except (OSError, ValueError, IndexError):
            continue
        yield pid, comm
exec(sys.stdin.read())' "$@"
}

# live_postgres_pids DIR [prefix [CACHE]]: live (non-zombie) processes of the
# server of data directory DIR: the postmaster (its args hold "-D DIR") and
# its children ("postgres: ..." whose working directory is DIR). With
# "prefix", every data directory under DIR counts. With CACHE, only postgres
# executables under CACHE count (this test's bundle), DIR may be empty (all of
# them), and a deleted working directory still counts.
live_postgres_pids() {
    procs_py "$1" "${2:-}" "${3:-}" <<'EOF'
want, prefix, cache = sys.argv[1], sys.argv[2] == "prefix", sys.argv[3]
if want:
    want = os.path.realpath(want).rstrip("/") or "/"
if cache:
    cache = os.path.realpath(cache).rstrip("/") + "/"
def undeleted(p):
    return p[: -len(" (deleted)")] if cache and p.endswith(" (deleted)") else p
def hit(d):
    d = undeleted(d)
    d = d if cache else os.path.realpath(d)
    return d == want or (prefix and d.startswith(want.rstrip("/") + "/"))
for pid, comm in live():
    try:
        if cache:
            exe = undeleted(os.readlink("/proc/%s/exe" % pid))
            if not exe.startswith(cache) or os.path.basename(exe) != "postgres":
                continue
            if not want:
                print(pid)
                continue
        args = open("/proc/%s/cmdline" % pid, "rb").read().split(b"\0")
    except OSError:
        continue
    a = [x.decode("utf-8", "replace") for x in args]
    found = any(a[i] == "-D" and hit(a[i + 1]) for i in range(len(a) - 1))
    if not found and (cache or comm == "postgres"):
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

# sweep_postgres DIR [prefix]: stop what live_postgres_pids finds (SIGQUIT,
# then after 5 s SIGKILL); for cleanup.
sweep_postgres() {
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
    # shellcheck disable=SC2046
    _kill_pids KILL $(live_postgres_pids "$@" || true)
}

# wait_until SECONDS CMD [ARGS...]: poll CMD every 50 ms until it succeeds;
# 1 if it never did. SECONDS is what the step takes at most on an idle
# machine; the wait allows WAIT_SCALE times that, because a bound here is a
# limit on waiting, never a measurement (the suite also runs under ASan, two
# tests at a time on two cores). Speed is measured in bench/, not here.
WAIT_SCALE=${PGBOOT_TEST_WAIT_SCALE:-10}
wait_until() {
    local end=$((SECONDS + $1 * WAIT_SCALE))
    shift
    while ((SECONDS < end)); do
        "$@" && return 0
        sleep 0.05
    done
    "$@"
}

# sysv_shm_of PID: the ids of the System V shared memory segments PID has
# attached, one per line (a postmaster keeps one for its whole life; in
# /proc/PID/maps the inode of a /SYSV mapping is the segment's id). Read it
# while PID runs: a segment outlives a postmaster that was killed, and the
# pid of its creator is reused (pid_max is 32768 here), so "the segments
# whose creator has pid P" may name another, older one.
sysv_shm_of() { awk '$6 ~ /^\/SYSV/ { print $5 }' "/proc/$1/maps" 2>/dev/null | sort -u || true; }

# sysv_shm_left ID...: those of the segments ID... that still exist.
sysv_shm_left() {
    (($#)) || return 0
    awk 'NR == FNR { want[$1]; next } FNR > 1 && ($2 in want) { print $2 }' \
        <(printf '%s\n' "$@") /proc/sysvipc/shm
}

# dsm_of PID: the POSIX shared memory files PID has mapped (postgres's dynamic
# shared memory, /dev/shm/PostgreSQL.*), one path per line.
dsm_of() { grep -o '/dev/shm/PostgreSQL\.[0-9]*' "/proc/$1/maps" 2>/dev/null | sort -u || true; }

pid_live() {
    local s
    s=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
    [[ -n "$s" && $s != Z* ]]
}
pid_dead() { ! pid_live "$1"; }
# pid_exists PID: the pid is in use (even by a zombie).
pid_exists() { [[ -e /proc/$1 ]]; }
pid_gone() { [[ ! -e /proc/$1 ]]; }
ppid_of() { ps -o ppid= -p "$1" 2>/dev/null | tr -d ' '; }
file_nonempty() { [[ -s $1 ]]; }
path_gone() { [[ ! -e "$1" && ! -L "$1" ]]; }

# wait_gone PID SECONDS: 0 once PID is gone (or a zombie).
wait_gone() { wait_until "$2" pid_dead "$1"; }

# show_pids PIDS: "pid stat args; ..." of those still there (PIDS: one
# argument or several, separated by spaces or newlines).
show_pids() {
    local list
    list=$(tr -s ' \n' ',,' <<<"$*" | sed 's/^,//; s/,$//')
    [[ -n "$list" ]] || return 0
    ps -o pid=,stat=,args= -p "$list" 2>/dev/null | tr '\n' ';' || true
}

# POSTGRES_OF: the function that lists the live postgres processes of a
# directory (live_postgres_pids; a family may narrow it to its own).
POSTGRES_OF=live_postgres_pids
no_postgres() { [[ -z "$("$POSTGRES_OF" "$@")" ]]; }

# wait_no_postgres DIR SECONDS: 0 once no live postgres of DIR is left.
wait_no_postgres() { wait_until "$2" no_postgres "$1"; }

# check_no_postgres DIR SECONDS DESC: within SECONDS, no live postgres of DIR.
check_no_postgres() {
    if wait_no_postgres "$1" "$2"; then
        ok "$3: no live postgres left for ${1##*/}"
    else
        nok "$3: live postgres still running for $1 after $(($2 * WAIT_SCALE)) s: $(show_pids "$("$POSTGRES_OF" "$1")")"
    fi
}

# check_gone PATH SECONDS DESC
check_gone() {
    if wait_until "$2" path_gone "$1"; then
        ok "$3: ${1} is gone"
    else
        nok "$3: $1 still exists after $(($2 * WAIT_SCALE)) s: $(ls -A "$1" 2>/dev/null | head -5 | tr '\n' ' ')"
    fi
}
