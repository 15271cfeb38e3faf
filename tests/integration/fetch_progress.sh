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
    local out rc=0
    out=$("$PY" - "$PGBOOT" "$T" 2>&1 <<'PY'
import os, pty, sys
pgboot, t = sys.argv[1], sys.argv[2]
pid, fd = pty.fork()
if pid == 0:
    os.execv(pgboot, [pgboot, "fetch", "--mirror", "file://" + t + "/mirror",
                      "--cache-dir", t + "/c2"])
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
text = out.decode(errors="replace")
assert os.waitstatus_to_exitcode(status) == 0, text
assert "downloading PostgreSQL [" in text and "100%" in text, text
PY
) || rc=$?
    if ((rc == 0)); then ok "a progress bar reaching 100% on a terminal"; else nok "no progress bar on a terminal: $(head -c 1500 <<<"$out")"; fi
}

run_case not_a_terminal case_not_a_terminal
run_case terminal case_terminal
fetch_finish
