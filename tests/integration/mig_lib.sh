# shellcheck shell=bash
# Shared helpers for the mig_* integration tests: `pgboot migrate` (and the
# first-start migration of `pgboot start`) from real SQLite files into a real
# PostgreSQL server started by pgboot from the real bundle.
#
#     set -euo pipefail
#     . "$(dirname "$0")/mig_lib.sh"
#     ml_setup                  # scratch dir, test user, seeded bundle cache
#     ml_server                 # start this test's server: sets SERVER_URL
#     run_case NAME FUNCTION    # one independent scenario (subshell, set -e)
#     ml_finish                 # fixtures unchanged? summary, exit status
#
# Environment (set by CTest; defaults for running a script by hand):
#   PGBOOT               the CLI             (default: $PGBOOT_SOURCE_DIR/build/pgboot)
#   PGBOOT_TEST_TARBALL  the real linux-x64 bundle tarball (required)
#   PGBOOT_TEST_TMP      scratch dir of this test (default: a mktemp -d); wiped
#   PGBOOT_SOURCE_DIR    the repository root (default: two levels above this file)
#   PGBOOT_FIXTURES      the read-only SQLite fixtures (default /work/shared/fixtures/sqlite)
#   PGBOOT_KEEP_TMP=1    keep the scratch dir (servers are still stopped)
#
# Tests run as root; PostgreSQL refuses root, so pgboot runs as the account
# pgboottest with a clean environment (its own XDG dirs under the scratch dir,
# PGBOOT_MIRROR=file:///nonexistent, proxies at a closed local port). The
# fixtures are never handed to pgboot: a copy is, and ml_finish checks that
# every fixture's SHA-256 is what it was at the start.

ML_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PGBOOT_SOURCE_DIR=${PGBOOT_SOURCE_DIR:-$(cd "$ML_LIB_DIR/../.." && pwd)}
# shellcheck disable=SC2034 # used by the mig_* scripts
ML_SUPPORT=$(cd "$ML_LIB_DIR/../support" && pwd)
PGBOOT=${PGBOOT:-$PGBOOT_SOURCE_DIR/build/pgboot}
FIXTURES=${PGBOOT_FIXTURES:-/work/shared/fixtures/sqlite}
TEST_NAME=$(basename "$0" .sh)
TEST_USER=pgboottest
USER_LOCK=/tmp/pgboot-test-user.lock
# The system python (stdlib only), usable by the test user too.
PY=/usr/bin/python3
[[ -x $PY ]] || PY=$(command -v python3)
PSQL=${PSQL:-}
if [[ -z "$PSQL" ]]; then
    for _p in /usr/lib/postgresql/15/bin/psql /usr/bin/psql; do
        [[ -x $_p ]] && PSQL=$_p && break
    done
fi
export PSQL
CMD_TIMEOUT=${CMD_TIMEOUT:-120}
CLOSED_PROXY=http://127.0.0.1:9

# --- results -------------------------------------------------------------------

. "$(dirname "${BASH_SOURCE[0]}")/checks.sh" # ok/nok, check_*, run_case

ml_finish() {
    local nf nc f want got
    CASE=fixtures
    # the read-only fixtures must be exactly as they were
    if [[ -s "$T/.fixture-sums" ]]; then
        while read -r want f; do
            got=$(sha256sum "$f" | cut -d' ' -f1)
            check_eq "$got" "$want" "fixture ${f##*/} unchanged (SHA-256)"
        done <"$T/.fixture-sums"
    fi
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

# --- the test user and running pgboot ---------------------------------------------

ensure_test_user() {
    getent passwd "$TEST_USER" >/dev/null ||
        flock "$USER_LOCK" sh -c 'id "$1" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash "$1"' sh "$TEST_USER" ||
        die "cannot create the test user $TEST_USER"
    getent passwd "$TEST_USER" >/dev/null || die "user $TEST_USER still missing after useradd"
    USER_GID=$(id -g "$TEST_USER")
}

user_env() {
    printf '%s\n' "HOME=$U/home" "USER=$TEST_USER" "LOGNAME=$TEST_USER" \
        "PATH=/usr/bin:/bin" \
        "XDG_DATA_HOME=$U/data" "XDG_CACHE_HOME=$U/cache" \
        "PGBOOT_MIRROR=file:///nonexistent" \
        "https_proxy=$CLOSED_PROXY" "http_proxy=$CLOSED_PROXY" "all_proxy=$CLOSED_PROXY" \
        "no_proxy=127.0.0.1,localhost"
    local v
    for v in ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS; do
        [[ -n "${!v:-}" ]] && echo "$v=${!v}"
    done
    return 0
}

# as_user CMD [ARGS...]: CMD as the test user, clean environment, from $U.
# With ML_TIMEOUT set, CMD is killed after that many seconds.
as_user() {
    local -a envs
    mapfile -t envs < <(user_env)
    (cd "$U" && exec ${ML_TIMEOUT:+timeout -k 5 "$ML_TIMEOUT"} setpriv --reuid="$TEST_USER" --regid="$USER_GID" --init-groups \
        env -i "${envs[@]}" "$@")
}

# pgb ARGS...: pgboot as the test user; sets RC OUT ERR CMD (files $T/.out/.err).
pgb() {
    CMD="pgboot $*"
    echo "$CMD" >"$T/.cmd"
    RC=0
    ML_TIMEOUT=$CMD_TIMEOUT as_user "$PGB" "$@" >"$T/.out" 2>"$T/.err" </dev/null || RC=$?
    echo "$RC" >"$T/.rc"
    OUT=$(cat "$T/.out")
    # shellcheck disable=SC2034 # read by the mig_* scripts
    ERR=$(cat "$T/.err")
    if ((RC == 124 || RC == 137)); then
        nok "did not finish within ${CMD_TIMEOUT}s: $CMD"
    fi
    return 0
}

# pgb_ok DESC ARGS...: pgb, and it must exit 0 (else the case aborts).
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

# --- SQL ---------------------------------------------------------------------------

# q URL SQL: psql over the URL; unaligned, tuples only, '|' separated.
q() {
    timeout -k 5 60 env -i PATH=/usr/bin:/bin PGTZ=UTC PGCLIENTENCODING=UTF8 PGOPTIONS='-c client_min_messages=warning' \
        "$PSQL" -X -A -t -q -v ON_ERROR_STOP=1 "$1" -c "$2"
}

# q_script URL: psql over the URL with the SQL script on stdin; every
# statement's rows are printed; stops at the first error (exit status 3).
q_script() {
    timeout -k 5 60 env -i PATH=/usr/bin:/bin PGTZ=UTC PGCLIENTENCODING=UTF8 PGOPTIONS='-c client_min_messages=warning' \
        "$PSQL" -X -A -t -q -v ON_ERROR_STOP=1 "$1" -f -
}

# q_try URL SQL: like q but never fails; prints "ERROR: ..." on failure.
q_try() {
    local out
    if out=$(q "$1" "$2" 2>&1); then printf '%s\n' "$out"; else printf 'ERROR: %s\n' "$(tr '\n' ' ' <<<"$out")"; fi
}

# base_url URL: the URL without its database; db_url URL DB: with database DB.
base_url() { sed -E 's|^(postgresql://[^/]*)/.*$|\1|' <<<"$1"; }
db_url() { echo "$(base_url "$1")/$2"; }

# newdb NAME: a fresh, empty database NAME on this test's server; prints its URL.
newdb() {
    q "$SERVER_URL" "DROP DATABASE IF EXISTS \"$1\" WITH (FORCE)" >/dev/null
    q "$SERVER_URL" "CREATE DATABASE \"$1\"" >/dev/null
    db_url "$SERVER_URL" "$1"
}

# db_state URL: what migration could have left: user tables, views, sequences,
# types, functions and schemas (all but the system ones), one per line.
db_state() {
    q "$1" "SELECT c.relkind::text || ' ' || n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname NOT IN ('pg_catalog','information_schema','pg_toast') AND n.nspname NOT LIKE 'pg_temp%' AND n.nspname NOT LIKE 'pg_toast_temp%'
            UNION ALL SELECT 'schema ' || nspname FROM pg_namespace WHERE nspname NOT IN ('pg_catalog','information_schema','pg_toast','public') AND nspname NOT LIKE 'pg_temp%' AND nspname NOT LIKE 'pg_toast_temp%'
            UNION ALL SELECT 'type ' || t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = 'public' AND t.typtype NOT IN ('c') AND t.typrelid = 0 AND t.typelem = 0
            UNION ALL SELECT 'function ' || p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'
            ORDER BY 1"
}

# check_untouched URL DESC: nothing at all in the database (no tables, no
# pgboot schema, ...).
check_untouched() {
    local st
    st=$(db_state "$1" 2>&1) || st="(query failed) $st"
    if [[ -z "$st" ]]; then
        ok "$2: target untouched (no tables, no pgboot schema)"
    else
        nok "$2: target not untouched: $(tr '\n' ';' <<<"$st" | head -c 1000)"
    fi
}

# check_untouched_or_staging URL DESC: as check_untouched, except for the
# staging schema of a big migration (pgboot_staging and what is in it), which
# a killed run may leave and the next run removes. Sets STAGING_LEFT=1 when
# there was one.
check_untouched_or_staging() {
    local st rest
    st=$(db_state "$1" 2>&1) || st="(query failed) $st"
    rest=$(grep -v -E '^(schema pgboot_staging|[a-zA-Z] pgboot_staging\.)' <<<"$st" || true)
    if [[ -n "$rest" ]]; then
        nok "$2: target not untouched: $(tr '\n' ';' <<<"$rest" | head -c 1000)"
    elif [[ -n "$st" ]]; then
        # shellcheck disable=SC2034 # read by the suites that source this file
        STAGING_LEFT=1
        ok "$2: target untouched but for the staging schema ($(grep -c . <<<"$st") objects in pgboot_staging)"
    else
        ok "$2: target untouched (no tables, no pgboot schema)"
    fi
}

# mig_count URL: rows in pgboot.migrations ("none" without the table).
mig_count() {
    local n
    n=$(q "$1" "SELECT count(*) FROM pgboot.migrations" 2>/dev/null) || n=none
    echo "$n"
}

# coltype URL TABLE COLUMN: format_type of public.TABLE.COLUMN ("missing" if none).
coltype() {
    local t
    t=$(q "$1" "SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
                JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = 'public' AND c.relname = '$2' AND a.attname = '$3' AND a.attnum > 0 AND NOT a.attisdropped")
    echo "${t:-missing}"
}

# --- the server ---------------------------------------------------------------------

# ml_server [APP]: start the app's server (as the test user); sets SERVER_URL
# (its own database) and SERVER_APP. Stopped at the end.
ml_server() {
    local app=${1:-${TEST_NAME//_/-}}
    pgb start --app "$app"
    [[ $RC == 0 ]] || {
        show_last >&2
        die "pgboot start --app $app failed"
    }
    echo "$app" >>"$T/.apps"
    SERVER_URL=$(tail -n1 <<<"$OUT")
    # shellcheck disable=SC2034 # read by the mig_* scripts
    SERVER_APP=$app
    [[ "$SERVER_URL" == postgresql://*@127.0.0.1:*/* ]] || die "start printed no URL: $OUT"
    q "$SERVER_URL" "SELECT 1" >/dev/null || die "cannot connect to $SERVER_URL"
    echo "setup: server of app $app at $(base_url "$SERVER_URL")/..."
}

# register_app NAME: an app whose server is stopped at the end.
register_app() { echo "$1" >>"$T/.apps"; }

# --- files ----------------------------------------------------------------------------

# src_dir: a directory of the test user for source files.
# user_file PATH: make PATH (a file or dir under $U) the test user's.
user_file() { chown -R "$TEST_USER:$USER_GID" "$@"; }

# fixture NAME [DEST]: copy fixture NAME to DEST (default $U/src/NAME), owned
# by the test user; prints the path. The original's SHA-256 is recorded and
# checked by ml_finish.
fixture() {
    local name=$1 dest=${2:-$U/src/$1}
    [[ -f "$FIXTURES/$name" ]] || die "fixture $FIXTURES/$name missing"
    if ! grep -q " $FIXTURES/$name\$" "$T/.fixture-sums" 2>/dev/null; then
        echo "$(sha256sum "$FIXTURES/$name" | cut -d' ' -f1) $FIXTURES/$name" >>"$T/.fixture-sums"
    fi
    mkdir -p "$(dirname "$dest")"
    cp "$FIXTURES/$name" "$dest"
    chmod 644 "$dest"
    user_file "$dest"
    echo "$dest"
}

# mkdb OUT PYTHON-CODE: run PYTHON-CODE with `c` a sqlite3 connection to OUT
# (a new file); the file is then the test user's.
mkdb() {
    local out=$1 code=$2
    rm -f "$out" "$out-wal" "$out-shm" "$out-journal"
    mkdir -p "$(dirname "$out")"
    "$PY" - "$out" "$code" <<'EOF'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1], isolation_level=None)
exec(sys.argv[2], {"c": c, "sqlite3": sqlite3})
c.close()
EOF
    chmod 644 "$out"
    user_file "$out"
}

# rj FILE PYEXPR: evaluate PYEXPR with `d` the JSON document in FILE; prints
# the result (strings raw, others as JSON).
rj() {
    "$PY" - "$1" "$2" <<'EOF'
import json, sys
try:
    d = json.load(open(sys.argv[1]))
except Exception as e:
    print("<no JSON in %s: %s>" % (sys.argv[1], e)); sys.exit(0)
def col(t, c):
    for tt in d.get("tables", []):
        if tt.get("name") == t or tt.get("source") == t:
            for cc in tt.get("columns", []):
                if cc.get("name") == c or cc.get("source") == c:
                    return cc
    return {}
def tab(t):
    for tt in d.get("tables", []):
        if tt.get("name") == t or tt.get("source") == t:
            return tt
    return {}
try:
    v = eval(sys.argv[2], {"d": d, "col": col, "tab": tab, "json": json})
except Exception as e:
    v = "<error: %r>" % e
print(v if isinstance(v, str) else json.dumps(v))
EOF
}

# --- setup and teardown ------------------------------------------------------------

live_postgres_pids() { # DIR: live postgres processes whose data dir is under DIR
    "$PY" - "$1" <<'EOF'
import os, sys
want = os.path.realpath(sys.argv[1]).rstrip("/") + "/"
me = os.getpid()
for pid in os.listdir("/proc"):
    if not pid.isdigit() or int(pid) == me:
        continue
    try:
        st = open("/proc/%s/stat" % pid).read()
        if st[st.rindex(")") + 2] in "ZX":
            continue
        comm = open("/proc/%s/comm" % pid).read().strip()
        if comm != "postgres":
            continue
        cwd = os.path.realpath(os.readlink("/proc/%s/cwd" % pid)) + "/"
    except (OSError, ValueError, IndexError):
        continue
    if cwd.startswith(want):
        print(pid)
EOF
}

_ml_cleanup() {
    local rc=$? p a i
    set +e
    if [[ -n "${T:-}" && -d "$T" ]]; then
        if [[ -f "$T/.bg" ]]; then
            while read -r p; do [[ -n "$p" ]] && kill -KILL "$p" 2>/dev/null; done <"$T/.bg"
        fi
        if [[ -f "$T/.apps" ]]; then
            sort -u "$T/.apps" | while read -r a; do
                [[ -n "$a" ]] || continue
                ML_TIMEOUT=60 as_user "$PGB" stop --app "$a" >/dev/null 2>&1
            done
        fi
        if [[ -n "${U:-}" ]]; then
            for ((i = 0; i < 40; i++)); do
                [[ -z "$(live_postgres_pids "$U")" ]] && break
                ((i == 0)) && for p in $(live_postgres_pids "$U"); do kill -QUIT "$p" 2>/dev/null; done
                sleep 0.1
            done
            for p in $(live_postgres_pids "$U"); do kill -KILL "$p" 2>/dev/null; done
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

# register_bg PID: a background process to kill at the end.
register_bg() { echo "$1" >>"$T/.bg"; }

ml_setup() {
    [[ $(id -u) == 0 ]] || die "the migration tests run as root (they use the account $TEST_USER)"
    [[ -x "$PGBOOT" ]] || die "PGBOOT=$PGBOOT is not an executable (build pgboot first)"
    [[ -n "${PGBOOT_TEST_TARBALL:-}" && -f "$PGBOOT_TEST_TARBALL" ]] ||
        die "PGBOOT_TEST_TARBALL (the real bundle tarball) is not set or missing: '${PGBOOT_TEST_TARBALL:-}'"
    [[ -n "$PSQL" && -x "$PSQL" ]] || die "psql is needed (/usr/lib/postgresql/15/bin/psql or /usr/bin/psql)"
    [[ -x "$PY" ]] || die "python3 is needed"
    "$PY" -c 'import sqlite3' || die "python3 has no sqlite3 module"
    local c
    for c in setpriv flock useradd timeout sha256sum; do
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
    trap _ml_cleanup EXIT
    trap 'exit 130' INT TERM
    if [[ -d "$T" ]]; then
        local p
        for p in $(live_postgres_pids "$T"); do kill -KILL "$p" 2>/dev/null || true; done
        rm -rf "$T"
    fi
    mkdir -p "$T"
    T=$(cd "$T" && pwd)
    : >"$T/.fails"
    : >"$T/.checks"
    : >"$T/.fixture-sums"
    chmod 755 "$T"
    ensure_test_user

    U=$T/u
    mkdir -p "$U"
    chown "$TEST_USER:$USER_GID" "$U"
    chmod 755 "$U"
    if ! (cd / && setpriv --reuid="$TEST_USER" --regid="$USER_GID" --init-groups test -w "$U" -a -x "$U"); then
        U_OUTSIDE=$(mktemp -d "/tmp/pgboot-$TEST_NAME-u.XXXXXX")
        U=$U_OUTSIDE
        chown "$TEST_USER:$USER_GID" "$U"
        chmod 755 "$U"
        echo "note: $TEST_USER cannot reach $T; using $U" >&2
    fi
    mkdir -p "$U/data" "$U/cache" "$U/home" "$U/src" "$U/out"
    cp "$PGBOOT_TEST_TARBALL" "$U/bundle.tgz"
    chmod 644 "$U/bundle.tgz"
    PGB=$PGBOOT
    if ! as_user test -x "$PGBOOT"; then
        cp "$PGBOOT" "$U/pgboot"
        chmod 755 "$U/pgboot"
        PGB=$U/pgboot
    fi
    chown -R "$TEST_USER:$USER_GID" "$U"
    pgb fetch --from "$U/bundle.tgz"
    [[ $RC == 0 ]] || {
        show_last >&2
        die "pgboot fetch --from the test tarball failed as $TEST_USER"
    }
    : >"$T/.cmd"
    echo "setup: user $TEST_USER, area $U, psql $PSQL"
}
