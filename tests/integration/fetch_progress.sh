#!/usr/bin/env bash
# A progress bar on stderr when it is a terminal; nothing at all when not.
set -euo pipefail
. "$(dirname "$0")/fetch_lib.sh"
fetch_setup
make_mirror "$T/mirror" "$REAL_TGZ" "$REAL_VERSION"

# Not a terminal: stderr stays empty, stdout is the bin/ directory alone.
case_not_a_terminal() {
    pg fetch --mirror "file://$T/mirror" --cache-dir "$T/c1"
    check_rc 0 "fetch from a file mirror"
    check_eq "$ERR" "" "stderr is not a terminal: pgboot writes nothing there"
    check_eq "$(wc -l <"$T/.out")" 1 "stdout has the bin/ line alone"
}

# A terminal (a pseudo-terminal made by python): the bar reaches 100%.
case_terminal() {
    local out
    out=$(on_terminal "$PGBOOT" fetch --mirror "file://$T/mirror" --cache-dir "$T/c2")
    check_match "$out" '^exit 0$' "on a terminal: fetch succeeds"
    check_contains "$out" "downloading PostgreSQL [" "on a terminal: a progress bar"
    check_contains "$out" "100%" "on a terminal: the bar reaches 100%"
}

run_case not_a_terminal case_not_a_terminal
run_case terminal case_terminal
fetch_finish
