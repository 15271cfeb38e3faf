# shellcheck shell=bash
# Results and checks shared by the server_*, eph_* and mig_* integration
# tests (sourced by server_lib.sh, eph_lib.sh and mig_lib.sh, which set T,
# the scratch dir that holds .fails, .checks and the last pgboot run's
# .cmd/.rc/.out/.err; and TEST_NAME). Each check prints one "ok" or "FAIL"
# line; a FAIL is also recorded in $T/.fails (one line each), which the
# suite's finish function counts.

CASE=""

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
    echo "    exit status: $(cat "$T/.rc" 2>/dev/null)"
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

check_rc() { # WANT DESC  (of the last pgb/pgb_root run)
    if [[ "$RC" == "$1" ]]; then ok "$2 (exit $1)"; else nok "$2: expected exit $1, got $RC"; fi
}

check_true() { # DESC CMD [ARGS...]: CMD succeeds
    local desc=$1
    shift
    if "$@"; then ok "$desc"; else nok "$desc"; fi
}

check_path() { # PATH DESC
    if [[ -e "$1" ]]; then ok "$2"; else nok "$2: $1 does not exist"; fi
}

check_no_path() { # PATH DESC
    if [[ ! -e "$1" ]]; then ok "$2"; else nok "$2: $1 exists"; fi
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

# check_py DESC PYTHON-SNIPPET [ARGS...]: the snippet prints nothing on
# success, else the problems (one per line). ARGS are in sys.argv[1:].
check_py() {
    local desc=$1 code=$2 out
    shift 2
    out=$("${PY:-python3}" -c "$code" "$@" 2>&1) || out="(python failed) $out"
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
