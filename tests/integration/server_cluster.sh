#!/usr/bin/env bash
# A cluster's creation options and memory budget (issue 12): --locale,
# --encoding and data checksums (on by default, --no-data-checksums) reach
# initdb and are recorded; given for an existing cluster, stopped or
# running, they must match what it has, else the start is refused with what
# it has and nothing changed; a migration into a cluster that is not UTF8 is
# refused; --memory derives settings that are in effect (an explicit --set
# wins); status --json reports the server tree's memory (PSS). Throwaway
# clusters: eph_cluster.sh.
set -euo pipefail
. "$(dirname "$0")/server_lib.sh"
sl_setup

# snapshot APP: every entry of the data directory with its size, mtime, mode
# and content digest.
snapshot() {
    (cd "$(data_dir "$1")" && find . -printf '%p %s %T@ %m\n' | sort && find . -type f -exec sha256sum {} + | sort)
}
# check_same DESC BEFORE AFTER: two snapshots are equal (else the first differences).
check_same() {
    if [[ $2 == "$3" ]]; then ok "$1"; else nok "$1: $(diff <(echo "$2") <(echo "$3") | head -6 | tr '\n' ' ')"; fi
}
conf_of() { cat "$(data_dir "$1")/pgboot.conf"; }
show() { sql "$1" "show $2"; }

case_locale() {
    local app url pid before
    app=$(app_name loc)
    pgb start --app "$app" --locale C
    check_rc 0 "start --locale C"
    url=$OUT
    check_eq "$(sql "$url" "select datcollate || ',' || datctype from pg_database where datname = current_database()")" "C,C" "the app's database has datcollate C"
    check_eq "$(sql "$url" "select datcollate from pg_database where datname = 'template1'")" "C" "template1 too"
    check_eq "$(jget "$(cat "$(data_dir "$app")/pgboot.cluster")" locale)" "C" "pgboot.cluster records the locale"
    pid=$(sed -n 1p "$(data_dir "$app")/postmaster.pid")
    # running: another locale is refused, naming what the cluster has
    before=$(conf_of "$app")
    pgb start --app "$app" --locale C.UTF-8 --set work_mem=7MB
    check_failed "running: --locale C.UTF-8 on a locale C cluster is refused"
    check_contains "$(err_line)" "has locale C," "the error says what the cluster has"
    check_contains "$(err_line)" "--locale C.UTF-8" "and what was asked for"
    check_contains "$(hint_line)" "--data-dir" "the hint names the way out"
    check_eq "$(conf_of "$app")" "$before" "running: pgboot.conf unchanged (the --set was not applied)"
    check_eq "$(sed -n 1p "$(data_dir "$app")/postmaster.pid")" "$pid" "the same server still runs"
    pgb start --app "$app" --locale C
    check_rc 0 "running: the same --locale is fine"
    pgb stop --app "$app"
    check_rc 0 "stop"
    # stopped: refused before anything is written
    before=$(snapshot "$app")
    pgb start --app "$app" --locale C.UTF-8
    check_failed "stopped: --locale C.UTF-8 on a locale C cluster is refused"
    check_contains "$(err_line)" "has locale C," "the error says what the cluster has"
    check_same "stopped: the data directory is byte for byte as it was (names, sizes, mtimes, contents)" "$before" "$(snapshot "$app")"
    check_no_path "$(data_dir "$app")/postmaster.pid" "no server was started"
    pgb start --app "$app"
    check_rc 0 "a start without --locale starts it"
    check_eq "$OUT" "$url" "the same URL"
    pgb stop --app "$app"
}

case_checksums() {
    local app off url before
    app=$(app_name sum)
    pgb start --app "$app"
    check_rc 0 "a new cluster with the defaults"
    url=$OUT
    check_eq "$(show "$url" data_checksums)" "on" "data checksums are on by default"
    pgb start --app "$app" --no-data-checksums
    check_failed "running: --no-data-checksums on a cluster with checksums is refused"
    check_contains "$(err_line)" "data checksums on" "the error says what it has"
    pgb stop --app "$app"
    off=$(app_name nosum)
    pgb start --app "$off" --no-data-checksums
    check_rc 0 "a new cluster with --no-data-checksums"
    check_eq "$(show "$OUT" data_checksums)" "off" "data checksums are off"
    pgb stop --app "$off"
    before=$(snapshot "$off")
    pgb start --app "$off" --data-checksums
    check_failed "stopped: --data-checksums on a cluster without them is refused"
    check_contains "$(err_line)" "data checksums off" "the error says what it has (read from pg_control)"
    check_same "the data directory is as it was" "$before" "$(snapshot "$off")"
    pgb start --app "$off" --no-data-checksums
    check_rc 0 "the matching flag starts it"
    pgb stop --app "$off"
    pgb start --app "$off" --data-checksums --no-data-checksums
    check_rc 2 "both flags at once: a usage error"
    # a cluster of an older pgboot (no pgboot.cluster): pg_control and
    # postgresql.conf say what it has
    rm "$(data_dir "$off")/pgboot.cluster"
    before=$(snapshot "$off")
    pgb start --app "$off" --data-checksums
    check_failed "without pgboot.cluster: --data-checksums on a cluster without them is refused"
    check_contains "$(err_line)" "data checksums off" "read from pg_control"
    check_same "the data directory is as it was" "$before" "$(snapshot "$off")"
    pgb start --app "$off" --locale C
    check_failed "without pgboot.cluster: --locale C on a C.UTF-8 cluster is refused"
    check_contains "$(err_line)" "has locale C.UTF-8" "read from postgresql.conf's lc_messages"
    check_same "the data directory is as it was" "$before" "$(snapshot "$off")"
    pgb start --app "$off" --no-data-checksums --locale C.utf8
    check_rc 0 "what it has, C.utf8 spelled otherwise, starts it"
    pgb stop --app "$off"
}

case_encoding() {
    local app url before db
    app=$(app_name enc)
    pgb start --app "$app" --encoding LATIN1
    check_rc 0 "start --encoding LATIN1 (the locale becomes C)"
    url=$OUT
    check_eq "$(show "$url" server_encoding)" "LATIN1" "the server's encoding is LATIN1"
    check_eq "$(sql "$url" "select datcollate from pg_database where datname = current_database()")" "C" "its locale is C"
    pgb start --app "$app" --encoding UTF8
    check_failed "running: --encoding UTF8 on a LATIN1 cluster is refused"
    check_contains "$(err_line)" "encoding LATIN1" "the error says what it has"
    # a migration into it is refused, and writes nothing
    db=$U/src-enc.sqlite
    "$PY" -c 'import sqlite3, sys
c = sqlite3.connect(sys.argv[1]); c.execute("create table t (id integer primary key, s text)")
c.execute("insert into t (s) values (?)", ("\u20ac uro",)); c.commit()' "$db"
    chown "$TEST_USER:" "$db"
    pgb migrate --sqlite "$db" --app "$app"
    check_failed "a migration into the LATIN1 cluster is refused"
    check_contains "$(err_line)" "encoded LATIN1" "the error names the encoding"
    check_contains "$(err_line)" "only into UTF8" "and what a migration needs"
    check_eq "$(sql "$url" "select count(*) from pg_tables where schemaname not in ('pg_catalog', 'information_schema')")" "0" "nothing was written"
    check_eq "$(sql "$url" "select count(*) from pg_namespace where nspname like 'pgboot%'")" "0" "no pgboot schema either"
    pgb stop --app "$app"
    before=$(snapshot "$app")
    pgb start --app "$app" --encoding utf-8
    check_failed "stopped: --encoding utf-8 on a LATIN1 cluster is refused"
    check_same "the data directory is as it was" "$before" "$(snapshot "$app")"
    pgb start --app "$app" --encoding latin1
    check_rc 0 "the same encoding, spelled otherwise, starts it"
    pgb stop --app "$app"
}

# Creation options initdb refuses: the error carries initdb's reason (its
# detail line too), the hint how locale and encoding go together, and no
# cluster is left.
case_bad_creation() {
    local app
    app=$(app_name badc)
    pgb start --app "$app" --encoding LATIN1 --locale C.UTF-8
    check_failed "--encoding LATIN1 with the UTF-8 locale C.UTF-8 is refused"
    check_contains "$(err_line)" "encoding mismatch" "the error has initdb's cause"
    check_contains "$(err_line)" "(LATIN1)" "and its detail: the encoding asked for"
    check_contains "$(err_line)" "(UTF8)" "and the locale's"
    check_contains "$(hint_line)" "--locale C" "the hint names a locale that goes with any encoding"
    check_no_path "$(data_dir "$app")" "no data directory is left"
    pgb start --app "$app" --locale no_such_locale
    check_failed "--locale no_such_locale is refused"
    check_contains "$(err_line)" "no_such_locale" "the error names the locale"
    check_contains "$(hint_line)" "locale -a" "the hint says how to list the installed locales"
    check_no_path "$(data_dir "$app")" "no data directory is left"
}

# restart with what a start refuses (other creation options, a bad budget, a
# setting PostgreSQL refuses): refused before the stop, the same server runs
# on and pgboot.conf is as it was.
case_restart_refused() {
    local app pid before a
    app=$(app_name rst)
    pgb start --app "$app" --locale C
    check_rc 0 "start --locale C"
    pid=$(sed -n 1p "$(data_dir "$app")/postmaster.pid")
    before=$(conf_of "$app")
    for a in "--locale C.UTF-8" "--encoding LATIN1" "--no-data-checksums" "--memory lots" "--memory 100MB" "--set shared_buffers=banana" "--set no_such_setting=1"; do
        # shellcheck disable=SC2086 # $a is an option and its value
        pgb restart --app "$app" $a
        # a budget that is no size is a usage error (2); the others, refusals (1)
        check_failed "restart $a is refused" "$([[ $a == --memory* ]] && echo 2 || echo 1)"
        check_eq "$(sed -n 1p "$(data_dir "$app")/postmaster.pid" 2>/dev/null || true)" "$pid" "restart $a: the same server runs on"
        check_eq "$(conf_of "$app")" "$before" "restart $a: pgboot.conf is as it was"
    done
    pgb restart --app "$app" --locale C --memory 256MB
    check_rc 0 "restart with the cluster's own locale and a budget"
    check_true "it is a new server" test "$(sed -n 1p "$(data_dir "$app")/postmaster.pid")" != "$pid"
    check_eq "$(show "$OUT" shared_buffers)" "64MB" "the budget is in effect"
    pgb stop --app "$app"
    pgb restart --app "$app" --encoding LATIN1
    check_failed "stopped: restart --encoding LATIN1 is refused"
    check_no_path "$(data_dir "$app")/postmaster.pid" "no server was started"
}

case_memory() {
    local app url before
    app=$(app_name mem)
    pgb start --app "$app" --memory 1GB --set work_mem=7MB
    check_rc 0 "start --memory 1GB --set work_mem=7MB"
    url=$OUT
    check_eq "$(show "$url" shared_buffers)" "256MB" "shared_buffers = 1/4 of the budget"
    check_eq "$(show "$url" effective_cache_size)" "768MB" "effective_cache_size = 3/4"
    check_eq "$(show "$url" max_connections)" "64" "max_connections = budget / 16MB"
    check_eq "$(show "$url" maintenance_work_mem)" "64MB" "maintenance_work_mem = 1/16"
    check_eq "$(show "$url" autovacuum_max_workers)" "2" "autovacuum_max_workers = 2 from 1GB"
    check_eq "$(show "$url" autovacuum_work_mem)" "32MB" "autovacuum_work_mem = 1/32"
    check_eq "$(show "$url" work_mem)" "7MB" "the explicit --set work_mem wins over the derived 4MB"
    check_contains "$(conf_of "$app")" "shared_buffers = '256MB'" "the derived settings are persisted in pgboot.conf"
    # a bad budget changes nothing
    before=$(conf_of "$app")
    for m in 512M 64MB lots 2TB; do
        pgb start --app "$app" --memory "$m"
        check_failed "--memory $m is refused as a usage error" 2
        check_eq "$(conf_of "$app")" "$before" "--memory $m: pgboot.conf unchanged"
    done
    # on the running server: shared_buffers waits for a restart
    pgb start --app "$app" --memory 2GB
    check_rc 0 "--memory 2GB on the running server"
    check_contains "$ERR" "restart" "it says a restart applies it"
    check_contains "$ERR" "shared_buffers" "naming shared_buffers"
    check_eq "$(show "$url" maintenance_work_mem)" "128MB" "maintenance_work_mem applied by the reload"
    pgb restart --app "$app"
    check_rc 0 "restart"
    check_eq "$(show "$url" shared_buffers)" "512MB" "after the restart shared_buffers = 512MB"
    check_eq "$(show "$url" max_connections)" "128" "and max_connections = 128"
    check_eq "$(show "$url" work_mem)" "7MB" "the earlier --set work_mem stays"
    pgb stop --app "$app"
}

# --unset NAME with --memory: the budget takes the setting over again (the
# earlier --set is dropped, the derived value written), never neither.
case_memory_unset() {
    local app url
    app=$(app_name memu)
    pgb start --app "$app" --memory 128MB --set work_mem=7MB
    check_rc 0 "start --memory 128MB --set work_mem=7MB"
    url=$OUT
    check_eq "$(show "$url" work_mem)" "7MB" "the explicit work_mem wins"
    pgb start --app "$app" --memory 128MB --unset work_mem
    check_rc 0 "start --memory 128MB --unset work_mem"
    check_contains "$(conf_of "$app")" "work_mem = '1638kB'  # from --memory" "pgboot.conf has the budget's work_mem"
    check_eq "$(show "$url" work_mem)" "1638kB" "the budget's work_mem (32MB / 20 connections) is in effect, not the server's default"
    pgb stop --app "$app"
}

# A budget the machine cannot give (shared_buffers of 256GB): the start
# fails with PostgreSQL's reason, the hint names --memory, and pgboot.conf
# is as it was, so the next start without it runs.
case_memory_too_big() {
    local app before
    app=$(app_name memb)
    pgb start --app "$app"
    check_rc 0 "start"
    pgb stop --app "$app"
    before=$(conf_of "$app")
    pgb start --app "$app" --memory 1024GB
    check_failed "start --memory 1024GB on a machine with less memory"
    check_contains "$(err_line)" "shared memory" "the error has PostgreSQL's reason"
    check_contains "$(hint_line)" "--memory" "the hint names --memory, not only --set/--unset"
    check_eq "$(conf_of "$app")" "$before" "pgboot.conf is as it was"
    pgb start --app "$app"
    check_rc 0 "the next start without --memory runs"
    pgb stop --app "$app"
}

case_status_memory() {
    local app url pss pid procs
    app=$(app_name pss)
    pgb start --app "$app"
    check_rc 0 "start"
    url=$OUT
    pgb status --app "$app" --json
    check_rc 0 "status --json"
    pss=$(jget "$OUT" memory_pss_bytes)
    procs=$(jget "$OUT" memory_processes)
    pid=$(jget "$OUT" pid)
    check_match "$pss" '^[0-9]+$' "status --json has memory_pss_bytes ($pss)"
    check_true "the figure is more than 1 MB" test "${pss:-0}" -gt 1000000
    check_true "and counts the postmaster and its children ($procs)" test "${procs:-0}" -ge 4
    # /proc says the same (the tree's PSS moves a little between the two reads)
    check_py "within 25% of the sum of Pss in /proc/<pid>/smaps_rollup of the tree" '
import os, sys
pid, pss = int(sys.argv[1]), int(sys.argv[2])
def rollup(p):
    for line in open("/proc/%d/smaps_rollup" % p):
        if line.startswith("Pss:"):
            return int(line.split()[1]) * 1024
    return 0
total = rollup(pid)
for d in os.listdir("/proc"):
    if d.isdigit():
        try:
            st = open("/proc/%s/stat" % d).read()
            if int(st[st.rindex(")") + 2:].split()[1]) == pid:
                total += rollup(int(d))
        except (OSError, ValueError):
            pass
if not 0.75 * total <= pss <= 1.25 * total:
    print("status says %d, /proc %d" % (pss, total))' "$pid" "${pss:-0}"
    pgb status --app "$app"
    check_contains "$OUT" "MB (PSS of" "plain status shows it too"
    pgb stop --app "$app"
}

# ready_line FILE: serve's ready line, within 60 s.
ready_line() {
    local i line
    for ((i = 0; i < 1200; i++)); do
        line=$(grep -m1 '"event": *"ready"' "$1" 2>/dev/null || true)
        [[ -n "$line" ]] && echo "$line" && return 0
        sleep 0.05
    done
    return 1
}

case_serve_and_run() {
    local app ready url other
    app=$(app_name srv)
    spawn_user "$U/srv.pid" "$T/srv.out" "$T/srv.err" "$PGB" serve --app "$app" --locale C --no-data-checksums --memory 256MB </dev/null || return 0
    ready=$(ready_line "$T/srv.out") || {
        nok "serve: no ready line; stderr: $(head -c 1500 "$T/srv.err")"
        return 0
    }
    url=$(jget "$ready" url)
    check_eq "$(sql "$url" "select datcollate from pg_database where datname = current_database()")" "C" "serve --locale C: datcollate C"
    check_eq "$(show "$url" data_checksums)" "off" "serve --no-data-checksums: off"
    check_eq "$(show "$url" shared_buffers)" "64MB" "serve --memory 256MB: shared_buffers 64MB"
    kill -TERM "$SPAWNED"
    wait_until 15 eval '! pid_live "$SPAWNED"' || nok "serve did not end on SIGTERM"
    pgb run --app "$app" --locale C.UTF-8 -- true
    check_failed "run --locale C.UTF-8 on the locale C cluster is refused"
    check_contains "$(err_line)" "has locale C," "the error says what it has"
    other=$(app_name run)
    pgb run --app "$other" --encoding SQL_ASCII --memory 512MB -- sh -c '"$0" -X -A -t -q -c "show server_encoding" -c "show shared_buffers"' "$PSQL"
    check_rc 0 "run --encoding SQL_ASCII --memory 512MB"
    check_eq "$(tr '\n' ' ' <<<"$OUT")" "SQL_ASCII 128MB " "run: the new cluster's encoding and the budget's shared_buffers"
}

run_case locale case_locale
run_case checksums case_checksums
run_case encoding case_encoding
run_case bad_creation case_bad_creation
run_case restart_refused case_restart_refused
run_case memory case_memory
run_case memory_unset case_memory_unset
run_case memory_too_big case_memory_too_big
run_case status_memory case_status_memory
run_case serve_and_run case_serve_and_run
sl_finish
