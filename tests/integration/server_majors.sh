#!/usr/bin/env bash
# PostgreSQL 16, 17 and 18 side by side (issue 12): a cluster on each major
# (--pg-version, PGBOOT_PG_VERSION), status and --json say which version runs;
# a data directory always runs with its own major: another --pg-version is
# refused with the data directory byte-identical after, as is a data directory
# made by Debian's PostgreSQL 15 (no pinned bundle provides 15); a newer minor
# of the same major (the real 16.13 release, then 16.14) starts the same data
# directory.
set -euo pipefail
. "$(dirname "$0")/server_lib.sh"
sl_setup

: "${PGBOOT_TEST_TARBALL_17:?}" "${PGBOOT_TEST_TARBALL_18:?}" "${PGBOOT_TEST_TARBALL_16_13:?}"
declare -A TGZ=([17]=$PGBOOT_TEST_TARBALL_17 [18]=$PGBOOT_TEST_TARBALL_18 [16.13]=$PGBOOT_TEST_TARBALL_16_13)
declare -A VERSION=([16]=16.14 [17]=17.10 [18]=18.4)
PG15_INITDB=/usr/lib/postgresql/15/bin/initdb
MANIFEST_16_13=$U/manifest-16.13.json

# The other bundles into the user's cache, from the tarballs e2e_newcomer
# fetched (verified against the pins like any other).
for m in 17 18 16.13; do
    cp "${TGZ[$m]}" "$U/bundle-$m.tgz"
done
cp "$TEST_FIXTURES/manifest-16.13.json" "$MANIFEST_16_13"
chown "$TEST_USER:" "$U"/bundle-*.tgz "$MANIFEST_16_13"
for m in 17 18; do
    pgb fetch --pg-version "$m" --from "$U/bundle-$m.tgz"
    [[ $RC == 0 ]] || die "fetch --pg-version $m --from the test tarball failed: $ERR"
done
pgb fetch --manifest "$MANIFEST_16_13" --from "$U/bundle-16.13.tgz"
[[ $RC == 0 ]] || die "fetch of the 16.13 bundle failed: $ERR"

# snapshot DIR: every entry of DIR with its type, mode, size, mtime and the
# sha256 of its contents (as root: the data directory is the user's 0700).
snapshot() {
    (cd "$1" && find . -printf '%p %y %m %s %T@\n' | sort && find . -type f -print0 | sort -z | xargs -0 -r sha256sum)
}

case_each_major() {
    local m app url
    for m in 16 17 18; do
        app=$(app_name "on$m")
        pgb start --app "$app" --pg-version "$m" --json
        check_rc 0 "start --pg-version $m"
        [[ $RC == 0 ]] || continue
        url=$(jget "$OUT" url)
        check_eq "$(jget "$OUT" version)" "${VERSION[$m]}" "start --json says PostgreSQL ${VERSION[$m]} runs"
        check_match "$(sql "$url" 'select version()')" "^PostgreSQL ${VERSION[$m]} " "select version() on the $m cluster"
        check_eq "$(cat "$(data_dir "$app")/PG_VERSION")" "$m" "the data directory is a PostgreSQL $m cluster"
        pgb status --app "$app" --json
        check_eq "$(jget "$OUT" version)" "${VERSION[$m]}" "status --json says ${VERSION[$m]}"
        pgb status --app "$app"
        check_contains "$OUT" "PostgreSQL ${VERSION[$m]}" "status says which version runs"
        pgb stop --app "$app"
        check_rc 0 "stop the $m cluster"
        check_none "$(postmaster_pids "$(data_dir "$app")")" "no postmaster left for the $m cluster" "postmasters left"
    done
}

# PGBOOT_PG_VERSION chooses the major of a new cluster only: an existing one
# keeps its own, whatever the variable says.
case_variable() {
    local app url
    app=$(app_name env)
    PGB_ENV=(PGBOOT_PG_VERSION=18)
    pgb start --app "$app" --json
    check_rc 0 "start with PGBOOT_PG_VERSION=18"
    check_eq "$(jget "$OUT" version)" 18.4 "the new cluster is PostgreSQL 18"
    pgb stop --app "$app"
    PGB_ENV=(PGBOOT_PG_VERSION=17)
    pgb start --app "$app" --json
    check_rc 0 "the 18 cluster started with PGBOOT_PG_VERSION=17"
    url=$(jget "$OUT" url)
    check_match "$(sql "$url" 'select version()')" "^PostgreSQL 18\.4 " "it still runs PostgreSQL 18 (the variable is for new clusters)"
    pgb stop --app "$app"
    PGB_ENV=(PGBOOT_PG_VERSION=sixteen)
    pgb start --app "$(app_name envbad)"
    check_failed "PGBOOT_PG_VERSION=sixteen"
    check_contains "$(err_line)" "PGBOOT_PG_VERSION" "the error names the variable"
    PGB_ENV=()
}

# A 16 cluster asked to start as 17 or 18: refused before anything is touched,
# stopped or running.
case_other_major_refused() {
    local app dd before m pid
    app=$(app_name refuse)
    dd=$(data_dir "$app")
    pgb start --app "$app" --pg-version 16
    check_rc 0 "a 16 cluster"
    pgb stop --app "$app"
    before=$(snapshot "$dd")
    for m in 17 18; do
        pgb start --app "$app" --pg-version "$m"
        check_failed "start --pg-version $m on a 16 cluster"
        check_contains "$(err_line)" "made by PostgreSQL 16" "the error says the cluster's major ($m)"
        check_contains "$(err_line)" "asks for $m" "the error says what was asked ($m)"
        check_contains "$(hint_line)" "nothing was changed" "the hint says nothing changed ($m)"
        check_contains "$(hint_line)" "without --pg-version" "the hint gives the way out ($m)"
        check_contains "$(hint_line)" "pg_upgrade or pg_dump" "the hint explains what an upgrade needs ($m)"
        check_eq "$(snapshot "$dd")" "$before" "the data directory is byte-identical after --pg-version $m"
        check_none "$(postmaster_pids "$dd")" "no server was started ($m)" "postmasters"
    done
    pgb start --app "$app" --json
    check_rc 0 "without --pg-version the 16 cluster starts"
    check_eq "$(jget "$OUT" version)" 16.14 "as PostgreSQL 16.14"
    pid=$(jget "$OUT" pid)
    pgb start --app "$app" --pg-version 18
    check_failed "start --pg-version 18 on the running 16 cluster"
    check_contains "$(err_line)" "made by PostgreSQL 16" "the running cluster: the error says why"
    check_eq "$(postmaster_pids "$dd")" "$pid" "the running server is left alone"
    pgb restart --app "$app" --pg-version 17
    check_failed "restart --pg-version 17 on the running 16 cluster"
    check_contains "$(err_line)" "asks for 17" "restart: the error says why"
    check_eq "$(postmaster_pids "$dd")" "$pid" "restart: the running server was not stopped"
    pgb stop --app "$app"
}

# A data directory made by Debian's PostgreSQL 15 (its own initdb, run
# directly as the test user): no pinned bundle provides 15, so it is refused
# and nothing is written into it.
case_pg15_refused() {
    local dd before app
    [[ -x $PG15_INITDB ]] || {
        nok "$PG15_INITDB is missing (apt-get install postgresql-15)"
        return 0
    }
    dd=$U/pg15data
    as_user "$PG15_INITDB" -D "$dd" -A trust -U postgres >/dev/null
    check_eq "$(cat "$dd/PG_VERSION")" 15 "Debian's initdb made a PostgreSQL 15 data directory"
    before=$(snapshot "$dd")
    app=$(app_name pg15)
    for args in "" "--pg-version 15" "--pg-version 16"; do
        # shellcheck disable=SC2086 # args is a word list
        pgb start --app "$app" --data-dir "$dd" $args
        check_failed "start on the PostgreSQL 15 data directory ${args:-(no --pg-version)}"
        check_contains "$(err_line)" "PostgreSQL 15" "the error names its major (${args:-plain})"
        check_contains "$(hint_line)" "pg_upgrade or pg_dump" "the hint explains what an upgrade needs (${args:-plain})"
        check_eq "$(snapshot "$dd")" "$before" "nothing was written into it (${args:-plain})"
    done
    pgb start --app "$app" --data-dir "$dd"
    check_contains "$(err_line)" "no bundle pinned by this pgboot provides it" "plain start: no pinned bundle provides 15"
    check_none "$(postmaster_pids "$dd")" "no server was started on it" "postmasters"
    # A new cluster of a major no bundle provides: refused, nothing made.
    pgb start --app "$(app_name new15)" --pg-version 15
    check_failed "start --pg-version 15 for a new cluster"
    check_contains "$(err_line)" "no PostgreSQL 15 bundle is pinned" "the error says 15 is not pinned"
    check_no_lpath "$(data_dir "$(app_name new15)")" "no data directory was made"
}

# A newer minor of the same major starts the same data directory: a manifest
# pinning the real 16.13.0-beta.17 release, then the built-in one (16.14).
case_minor_update() {
    local app url dd
    app=$(app_name minor)
    dd=$(data_dir "$app")
    pgb start --app "$app" --manifest "$MANIFEST_16_13" --json
    check_rc 0 "start with a manifest pinning 16.13"
    url=$(jget "$OUT" url)
    check_eq "$(sql "$url" 'show server_version')" 16.13 "the cluster runs PostgreSQL 16.13"
    sql "$url" "create table kept(v text); insert into kept values ('from 16.13')" >/dev/null
    pgb stop --app "$app"
    pgb start --app "$app" --json
    check_rc 0 "the same data directory with the built-in manifest (16.14)"
    url=$(jget "$OUT" url)
    check_eq "$(jget "$OUT" version)" 16.14 "start --json says 16.14"
    check_eq "$(sql "$url" 'show server_version')" 16.14 "the server is PostgreSQL 16.14 now"
    check_eq "$(sql "$url" 'select v from kept')" "from 16.13" "the data written by 16.13 is there"
    check_eq "$(cat "$dd/PG_VERSION")" 16 "still a PostgreSQL 16 data directory"
    pgb stop --app "$app"
}

run_case each_major case_each_major
run_case variable case_variable
run_case other_major_refused case_other_major_refused
run_case pg15_refused case_pg15_refused
run_case minor_update case_minor_update
sl_finish
