#!/usr/bin/env bash
# A throwaway cluster's creation options and memory budget (issue 12): data
# checksums on by default, --locale, --encoding, --no-data-checksums and
# --memory for run --ephemeral and tmp (each set of creation options has a
# template cluster of its own; an explicit --set wins over the budget).
set -euo pipefail
# shellcheck source=eph_lib.sh
. "$(dirname "$0")/eph_lib.sh"
eph_setup

# in_cluster ARGS...: pgboot run --ephemeral ARGS -- psql, one line per value
# of: data_checksums, the postgres database's datcollate, server_encoding,
# shared_buffers, max_connections, work_mem.
in_cluster() {
    pgb run --ephemeral "$@" -- sh -c '"$PSQL" -X -A -t -q -v ON_ERROR_STOP=1 -c "show data_checksums" -c "select datcollate from pg_database where datname = current_database()" -c "show server_encoding" -c "show shared_buffers" -c "show max_connections" -c "show work_mem"'
    VALUES=$(tr '\n' ' ' <<<"$OUT")
}

case_defaults() {
    in_cluster
    check_rc 0 "run --ephemeral"
    check_match "$VALUES" '^on C(\.UTF-8)? UTF8 ' "data checksums on by default, locale C.UTF-8 (or C), UTF8 ($VALUES)"
}

case_options() {
    local tpl
    in_cluster --locale C --no-data-checksums --memory 512MB --set work_mem=3MB
    check_rc 0 "run --ephemeral --locale C --no-data-checksums --memory 512MB --set work_mem=3MB"
    check_eq "$VALUES" "off C UTF8 128MB 32 3MB " "checksums off, datcollate C, the budget's shared_buffers and max_connections, the explicit work_mem"
    tpl=$(find "$U/cache/pgboot/templates" -mindepth 1 -maxdepth 1 -name "$BUNDLE_KEY-t3*" | wc -l)
    check_eq "$tpl" 2 "two template clusters: the defaults' and these options'"
    in_cluster --locale C --no-data-checksums
    check_rc 0 "the same options again"
    check_match "$VALUES" '^off C UTF8 ' "from the same template"
    check_eq "$(find "$U/cache/pgboot/templates" -mindepth 1 -maxdepth 1 -name "$BUNDLE_KEY-t3*" | wc -l)" 2 "no third template"
    pgb run --ephemeral --memory 12MB -- true
    check_failed "run --ephemeral --memory 12MB is refused as a usage error" 2
}

case_tmp() {
    local url data
    pgb tmp --json --ttl 1 --encoding LATIN1 --memory 256MB
    check_rc 0 "tmp --encoding LATIN1 --memory 256MB"
    url=$(jget "$OUT" url)
    data=$(jget "$OUT" data_dir)
    check_eq "$(sql "$url" "show server_encoding")" "LATIN1" "server_encoding LATIN1"
    check_eq "$(sql "$url" "select datcollate from pg_database where datname = current_database()")" "C" "the locale becomes C"
    check_eq "$(sql "$url" "show shared_buffers")" "64MB" "shared_buffers 64MB"
    wait_until 20 no_postgres "$data" || nok "the tmp cluster did not go after its TTL"
}

run_case defaults case_defaults
run_case options case_options
run_case tmp case_tmp
eph_finish
