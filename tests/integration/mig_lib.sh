# shellcheck shell=bash
# The mig_* family of integration tests: `pgboot migrate` (and the
# first-start migration of `pgboot start`) from real SQLite files into a real
# PostgreSQL server started by pgboot from the real bundle, as the account
# pgboottest. The harness (scratch dir, test user, running pgboot, checks,
# run_case, process helpers) is lib/harness.sh; this file adds the family's
# setup and helpers.
#
#     set -euo pipefail
#     . "$(dirname "$0")/mig_lib.sh"
#     ml_setup                  # scratch dir, test user, seeded bundle cache
#     ml_server                 # start this test's server: sets SERVER_URL
#     run_case NAME FUNCTION    # one independent scenario (subshell, set -e)
#     ml_finish                 # fixtures unchanged? summary, exit status
#
# Environment, besides the harness's:
#   PGBOOT_FIXTURES      the read-only SQLite fixtures
#                        (default: $PGBOOT_SOURCE_DIR/../shared/fixtures/sqlite,
#                        the shared folder beside the clone)
#
# The fixtures are never handed to pgboot: a copy is, and ml_finish checks
# that every fixture's SHA-256 is what it was at the start.

. "$(dirname "${BASH_SOURCE[0]}")/lib/harness.sh"
FIXTURES=${PGBOOT_FIXTURES:-$SHARED_FIXTURES/sqlite}
# The SQLite generators and the independent comparer (tests/support/).
# shellcheck disable=SC2034 # read by the mig_* scripts
MKDB=$SUPPORT_DIR/mig_mkdb.py
# shellcheck disable=SC2034 # read by the mig_* scripts
COMPARE=$SUPPORT_DIR/mig_compare.py
# The Chinook fixture's tables and their row counts (its README).
# shellcheck disable=SC2034 # read by the mig_* scripts
CHINOOK_COUNTS="album=347 artist=275 customer=59 employee=8 genre=25 invoice=412 invoiceline=2240 mediatype=5 playlist=18 playlisttrack=8715 track=3503"

# ml_fixtures_unchanged: the read-only fixtures are exactly as they were.
ml_fixtures_unchanged() {
    local f want got
    [[ -s "$T/.fixture-sums" ]] || return 0
    while read -r want f; do
        got=$(sha256sum "$f" | cut -d' ' -f1)
        check_eq "$got" "$want" "fixture ${f##*/} unchanged (SHA-256)"
    done <"$T/.fixture-sums"
}
FINISH_HOOKS+=(ml_fixtures_unchanged)

ml_finish() { harness_finish; }

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

# counts URL: the Chinook tables' row counts there, as in CHINOOK_COUNTS
# ("missing" for a table that is not there).
counts() {
    local url=$1 t out=""
    for t in album artist customer employee genre invoice invoiceline mediatype playlist playlisttrack track; do
        out+="$t=$(q "$url" "SELECT count(*) FROM $t" 2>/dev/null || echo missing) "
    done
    echo "${out% }"
}

# compare_data SRC URL DESC [ARGS...]: mig_compare.py finds every value of
# SQLite file SRC equal in the database at URL.
compare_data() {
    local src=$1 url=$2 desc=$3 out rc=0
    shift 3
    out=$("$PY" "$COMPARE" data --sqlite "$src" --url "$url" "$@" 2>&1) || rc=$?
    if [[ $rc == 0 ]]; then ok "$desc: $(tail -n1 <<<"$out")"; else nok "$desc: $(grep -E '^(PROBLEM|ERROR)' <<<"$out" | head -20)"; fi
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

# user_own PATH...: make PATH (files or dirs under $U) the test user's.
user_own() { chown -R "$TEST_USER:$USER_GID" "$@"; }

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
    user_own "$dest"
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
    user_own "$out"
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

# _ml_stop_apps: stop the servers of this test's apps (the harness then stops
# whatever postgres is left under $U).
_ml_stop_apps() {
    local a
    [[ -f "$T/.apps" && -n "${U:-}" ]] || return 0
    sort -u "$T/.apps" | while read -r a; do
        [[ -n "$a" ]] || continue
        RUN_TIMEOUT=60 as_user "$PGB" stop --app "$a" >/dev/null 2>&1
    done
}
CLEANUP_HOOKS+=(_ml_stop_apps)

ml_setup() {
    harness_scratch
    [[ -x "$PGBOOT" ]] || die "PGBOOT=$PGBOOT is not an executable (build pgboot first)"
    [[ -n "$PSQL" && -x "$PSQL" ]] || die "psql is needed (/usr/lib/postgresql/15/bin/psql or /usr/bin/psql)"
    "$PY" -c 'import sqlite3' || die "python3 has no sqlite3 module"
    harness_require sha256sum
    : >"$T/.fixture-sums"
    harness_user_area
    mkdir -p "$U/src" "$U/out"
    user_own "$U/src" "$U/out"
    echo "setup: user $TEST_USER, area $U, psql $PSQL"
}

# sql_file NAME: stdin into $U/src/NAME (the test user's); prints its path.
sql_file() {
    cat >"$U/src/$1"
    user_own "$U/src/$1"
    echo "$U/src/$1"
}

# sqlite_file PATH: a new SQLite file made by the SQL script on stdin (the
# test user's).
sqlite_file() {
    rm -f "$1"
    "$PY" -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.executescript(sys.stdin.read()); c.commit()' "$1"
    user_own "$1"
}
