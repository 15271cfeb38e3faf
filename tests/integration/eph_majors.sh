#!/usr/bin/env bash
# Throwaway clusters and test databases on PostgreSQL 17 and 18 (issue 12):
# run --ephemeral --pg-version, tmp --pg-version (and PGBOOT_PG_VERSION), one
# template cluster per major, and testdb templates on two majors at once.
set -euo pipefail
# shellcheck source=eph_lib.sh
. "$(dirname "$0")/eph_lib.sh"
eph_setup

: "${PGBOOT_TEST_TARBALL_17:?}" "${PGBOOT_TEST_TARBALL_18:?}"
declare -A TGZ=([17]=$PGBOOT_TEST_TARBALL_17 [18]=$PGBOOT_TEST_TARBALL_18)
declare -A VERSION=([16]=16.14 [17]=17.10 [18]=18.4)
for m in 17 18; do
    cp "${TGZ[$m]}" "$U/bundle-$m.tgz"
    chown "$TEST_USER:" "$U/bundle-$m.tgz"
    pgb fetch --pg-version "$m" --from "$U/bundle-$m.tgz"
    [[ $RC == 0 ]] || die "fetch --pg-version $m --from the test tarball failed: $ERR"
done

case_run_ephemeral() {
    local m
    for m in 17 18; do
        pgb run --ephemeral --pg-version "$m" -- "$PSQL" -X -A -t -c 'select version()'
        check_rc 0 "run --ephemeral --pg-version $m"
        check_match "$OUT" "^PostgreSQL ${VERSION[$m]} " "the throwaway cluster runs PostgreSQL ${VERSION[$m]}"
        check_eq "$(cat "$U"/cache/pgboot/templates/linux-x64-"$m".*-t3/data/PG_VERSION 2>&1)" "$m" \
            "a template cluster of its own for $m"
    done
    PGB_ENV=(PGBOOT_PG_VERSION=18)
    pgb run --ephemeral -- "$PSQL" -X -A -t -c 'show server_version'
    check_eq "$OUT" 18.4 "run --ephemeral with PGBOOT_PG_VERSION=18"
    PGB_ENV=()
    pgb run --ephemeral -- "$PSQL" -X -A -t -c 'show server_version'
    check_eq "$OUT" 16.14 "run --ephemeral without a choice: 16"
    wait_until 10 no_postgres || nok "throwaway clusters still run after their commands"
}

case_tmp() {
    local url
    pgb tmp --pg-version 17 --ttl 5 --json
    check_rc 0 "tmp --pg-version 17"
    check_eq "$(jget "$OUT" version)" 17.10 "tmp --json says 17.10"
    url=$(jget "$OUT" url)
    check_match "$(sql "$url" 'select version()')" "^PostgreSQL 17\.10 " "the tmp cluster runs PostgreSQL 17.10"
}

# Two app servers of different majors, each with a template database of
# the same SQL, cloned side by side.
case_testdb_two_majors() {
    local sqlf m a u
    sqlf=$(user_file "$U/work/schema.sql" "create table t(id int primary key); insert into t values (1), (2);
" && echo "$U/work/schema.sql")
    for m in 16 18; do
        a=ephmaj$m-$$
        pgb testdb --app "$a" --pg-version "$m" --template-sql "$sqlf"
        check_rc 0 "testdb --pg-version $m"
        u=$OUT
        check_eq "$(sql "$u" 'select count(*) from t')" 2 "a clone on $m holds the template's rows"
        check_eq "$(sql "$u" 'show server_version')" "${VERSION[$m]}" "the clone is on PostgreSQL ${VERSION[$m]}"
        echo "$a" >>"$U/work/apps"
    done
    for a in $(cat "$U/work/apps"); do
        pgb testdb --app "$a" --template-sql "$sqlf"
        check_rc 0 "testdb again on $a (its own major, no --pg-version)"
        check_eq "$(sql "$OUT" 'select count(*) from t')" 2 "another clone on $a"
    done
    # --url with --pg-version: the server must run that major
    pgb url --app "ephmaj16-$$"
    u=$OUT
    pgb testdb --url "$u" --pg-version 18 --template-sql "$sqlf"
    check_failed "testdb --url (a 16 server) --pg-version 18"
    check_contains "$(err_line)" "runs PostgreSQL 16, and PostgreSQL 18 was asked for" "the error says both majors"
    pgb testdb --url "$u" --pg-version 16 --template-sql "$sqlf"
    check_rc 0 "testdb --url (a 16 server) --pg-version 16"
    for a in $(cat "$U/work/apps"); do
        pgb stop --app "$a"
    done
}

run_case run_ephemeral case_run_ephemeral
run_case tmp case_tmp
run_case testdb_two_majors case_testdb_two_majors
eph_finish
