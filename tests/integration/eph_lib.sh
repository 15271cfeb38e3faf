# shellcheck shell=bash
# The eph_* family of integration tests: throwaway clusters (`pgboot run
# --ephemeral`, `pgboot tmp`) and test databases (`pgboot testdb`) with the
# real CLI and the real bundle, run as an unprivileged account (PostgreSQL
# refuses root; the tests themselves run as root, as CI does). The harness
# (scratch dir, test user, running pgboot, checks, run_case, process helpers)
# is lib/harness.sh; this file adds the family's setup and helpers.
#
#     set -euo pipefail
#     . "$(dirname "$0")/eph_lib.sh"
#     eph_setup                 # scratch dir, test user, seeded bundle cache
#     run_case NAME FUNCTION    # one independent scenario (subshell, set -e)
#     eph_finish                # summary "N passed, N failed", exit status
#
# Every run as the test user gets the harness's clean environment plus its
# own TMPDIR under the user's area $U, so this test's throwaway clusters live
# under $U/tmp/pgboot-<uid>/ only, and checks never see clusters of tests
# running in parallel.
#
# Postgres processes of this test are recognised by their executable (the
# bundle in this test's cache); those of one cluster by their working
# directory (postgres chdirs into its data directory), which stays meaningful
# after the directory is renamed or deleted.

. "$(dirname "${BASH_SOURCE[0]}")/lib/harness.sh"
SUN_PATH_MAX=107 # usable bytes of a Unix socket path

# eph_final: whatever the cases did, no server of this test may be left
# running, and pgboot's background helpers (spare copiers, pool refills) end.
eph_final() {
    if ! wait_until 10 no_postgres; then
        nok "postgres processes of this test still run at the end: $(show_pids "$(live_postgres)")"
    fi
    if ! wait_copiers 30; then
        nok "pgboot processes of this test still run at the end: $(show_pids "$(live_pgboot)")"
    fi
}
FINISH_HOOKS+=(eph_final)

eph_finish() { harness_finish; }

# --- running pgboot ----------------------------------------------------------------

# upsql ARGS...: the real psql as the test user (no psqlrc, unaligned, tuples
# only, stop on error), with a time limit.
upsql() { RUN_TIMEOUT=60 as_user "$PSQL" -X -A -t -q -v ON_ERROR_STOP=1 "$@"; }

# sql URL QUERY: one query over a URL, one value per line.
sql() { upsql "$1" -c "$2"; }

url_db() { sed -E 's|^.*/([^/?]*)(\?.*)?$|\1|' <<<"$1"; }

# --- processes ---------------------------------------------------------------------

# live_postgres [DIR]: live (non-zombie) postgres processes of this test (their
# executable is in this test's cache); with DIR, only those whose data
# directory (working directory, or -D argument) is DIR or below it. A deleted
# working directory still counts.
# shellcheck disable=SC2120 # the suites pass DIR
live_postgres() { live_postgres_pids "${1:-}" prefix "$U/cache"; }
POSTGRES_OF=live_postgres

# live_tagged [pgboot]: live processes of this test other than postgres
# (they carry this test's tag in their environment); with "pgboot", only
# pgboot's own (run owners, tmp keepers, supervisors, spare copiers, pool
# refillers) and the rm -rf they exec.
live_tagged() {
    procs_py "$TAG" "$(readlink -f "$PGB")" "${1:-}" <<'EOF'
tag = ("EPH_TEST_TAG=" + sys.argv[1]).encode()
pgb, only = sys.argv[2], sys.argv[3] == "pgboot"
for pid, comm in live():
    try:
        env = open("/proc/%s/environ" % pid, "rb").read().split(b"\0")
        exe = os.readlink("/proc/%s/exe" % pid)
    except OSError:
        continue
    if tag not in env or comm == "postgres":
        continue
    if only and exe != pgb and os.path.basename(exe) != "rm":
        continue
    print(pid)
EOF
}
live_pgboot() { live_tagged pgboot; }

# check_no_postgres DIR SECONDS DESC (the harness's): within SECONDS, no
# live postgres of this test in or under DIR.

# --- this test's throwaway-cluster area ------------------------------------------

# eph_base [TMP]: <tmp>/pgboot-<uid> for TMP (default: the user's TMPDIR).
# shellcheck disable=SC2120
eph_base() { echo "${1:-$(user_env_get TMPDIR)}/pgboot-$USER_UID"; }

# eph_dirs [BASE]: the eph-* directories in BASE (one per line).
eph_dirs() { find "${1:-$(eph_base)}" -mindepth 1 -maxdepth 1 -name 'eph-*' 2>/dev/null | sort || true; }
trash_dirs() { find "${1:-$(eph_base)}" -mindepth 1 -maxdepth 1 -name '.trash-*' 2>/dev/null || true; }
no_eph_dirs() { [[ -z "$(eph_dirs "$@")" ]]; }
no_trash() { [[ -z "$(trash_dirs "$@")" ]]; }

# check_clean BASE DESC: no eph-* left in BASE (at once); no .trash-* once
# the detached removers are done, and no live postgres of BASE (waits bounded
# as wait_until bounds them).
check_clean() {
    local base=$1 desc=$2
    if no_eph_dirs "$base"; then
        ok "$desc: no eph-* directory left in $base"
    else
        nok "$desc: eph-* directories left in $base: $(eph_dirs "$base" | tr '\n' ' ')"
    fi
    if wait_until 2 no_trash "$base"; then
        ok "$desc: no .trash-* left"
    else
        local t
        t=$(trash_dirs "$base")
        nok "$desc: .trash-* still there after $((2 * WAIT_SCALE)) s: $(tr '\n' ' ' <<<"$t"); in it: $(find $t 2>/dev/null | head -8 | tr '\n' ' '); pgboot processes: $(show_pids "$(live_pgboot)"); postgres: $(show_pids "$(live_postgres)")"
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
        "$U/cache/pgboot/templates/$BUNDLE_KEY-t3"
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

# check_demo_kept OUTPUT PREFIX: a Node suite's deliberately failing test
# ("demo failure", on the app APP) left its database kept: its URL, without
# the password, is in OUTPUT; it holds what the test wrote; no other clone of
# the suite is left; no broker is left; then it is dropped. (eph_node and
# eph_node_runners.)
check_demo_kept() {
    local out=$1 pre=$2 kept db h url
    kept=$(grep -m1 -oE 'pgboot: kept database: postgresql://[^ ]+' <<<"$out" | sed 's/^pgboot: kept database: //' || true)
    check_match "$kept" "^postgresql://$APP@127\\.0\\.0\\.1:[0-9]+/pgboot_k_[0-9a-f]{8}_demo_failure_[A-Za-z0-9]{6}\$" "${pre}the output gives the kept database's URL (named after the test), without the password"
    db=$(url_db "$kept")
    url=$(sed -E "s|/[^/?]*(\\?.*)?\$|/$db|" <<<"$APP_URL")
    check_eq "$(sql "$url" "select name from items order by id")" $'from the template\nevidence' "${pre}the kept database holds what the failed test wrote"
    h=${db:9:8}
    check_eq "$(dbs "pgboot\\_t\\_${h}\\_%")" "" "${pre}no other clone of the suite is left"
    if wait_copiers 30; then ok "${pre}no broker is left"; else nok "${pre}pgboot processes left: $(show_pids "$(live_pgboot)")"; fi
    pgb testdb drop "$url"
    check_rc 0 "${pre}the kept database can be dropped"
}

# --- setup and teardown -------------------------------------------------------------

# _eph_cleanup: this test's pgboot processes (tmp daemons, run owners) end,
# which makes the supervisors stop the clusters; then leftover postgres;
# spare copies of this test's template outside the scratch dir (the default
# /dev/shm) go, as the template goes with the scratch dir.
_eph_cleanup() {
    local i pids
    [[ -n "${TAG:-}" && -n "${U:-}" ]] || return 0
    # shellcheck disable=SC2046
    _kill_pids TERM $(live_tagged)
    for ((i = 0; i < 60; i++)); do
        [[ -z "$(live_tagged)$(live_postgres)" ]] && break
        sleep 0.05
    done
    pids=$(live_postgres)
    if [[ -n "$pids" ]]; then
        echo "cleanup: stopping leftover postgres: $(tr '\n' ' ' <<<"$pids")" >&2
        # shellcheck disable=SC2086
        _kill_pids QUIT $pids
        for ((i = 0; i < 100; i++)); do
            [[ -z "$(live_postgres)" ]] && break
            sleep 0.05
        done
    fi
    # shellcheck disable=SC2046
    _kill_pids KILL $(live_postgres) $(live_tagged)
    remove_spares "/dev/shm/pgboot-$USER_UID"
}
CLEANUP_HOOKS+=(_eph_cleanup)

# eph_setup: scratch dir, test user, the user's area, a seeded bundle cache.
eph_setup() {
    harness_scratch
    TAG="$TEST_NAME-$$-$RANDOM$RANDOM"
    [[ -x "$PGBOOT" ]] || die "PGBOOT=$PGBOOT is not an executable (build pgboot first)"
    [[ -x "$PSQL" ]] || die "psql is needed at $PSQL (apt-get install postgresql-client-15)"
    harness_user_area --no-seed
    mkdir -p "$U/work" "$T/root/cache" "$T/root/data" "$T/root/tmp"
    chown "$TEST_USER:$USER_GID" "$U/work"
    user_env_set "TMPDIR=$U/tmp"
    user_env_set "PGB=$PGB"
    user_env_set "PSQL=$PSQL"
    user_env_set "EPH_TEST_TAG=$TAG"
    ROOT_ENV+=("XDG_CACHE_HOME=$T/root/cache" "XDG_DATA_HOME=$T/root/data" "TMPDIR=$T/root/tmp")
    ROOT_CWD=$T
    harness_seed_cache
    BUNDLE_KEY=${BIN_DIR%/bin}
    BUNDLE_KEY=${BUNDLE_KEY##*/}
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
