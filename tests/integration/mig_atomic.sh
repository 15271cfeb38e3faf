#!/usr/bin/env bash
# pgboot migrate is all or nothing: a SQLite file of ~300k rows
# (tests/support/mig_mkdb.py big; big enough to load over two connections
# through the pgboot_staging schema) is migrated and the `pgboot migrate`
# process killed with SIGKILL at three moments (after 0.3 s, after 1 s, and
# while PostgreSQL builds an index or adds a constraint); after each, once
# PostgreSQL has rolled back, the target holds nothing but, at most, that
# staging schema, which the next run removes. Then an undisturbed
# run into the same database gives exactly what a clean migration into
# another database gives (counts, a digest of every row, the same indexes,
# constraints and column types). Also: a writer busy on the source (WAL mode)
# during the migration; tables a and b, written in the same transactions,
# arrive with the same number of rows (one consistent snapshot).
set -euo pipefail
. "$(dirname "$0")/mig_lib.sh"

ml_setup
ml_server

BIG=$U/src/big.db
t0=$(date +%s)
"$PY" "$MKDB" big "$BIG" 300000
user_own "$U/src"
echo "setup: $(stat -c %s "$BIG") bytes of SQLite in $(($(date +%s) - t0)) s"
BIG_SHA=$(sha256sum "$BIG" | cut -d' ' -f1)
TARGET=$(newdb atomic)
TARGET_DB=atomic

# other_backends DB: sessions on database DB other than this query's own.
other_backends() {
    q "$SERVER_URL" "SELECT count(*) FROM pg_stat_activity WHERE datname = '$1' AND pid <> pg_backend_pid()"
}

# activity DB: what the other sessions on DB are running.
activity() {
    q "$SERVER_URL" "SELECT coalesce(string_agg(state || ': ' || left(regexp_replace(query, '\s+', ' ', 'g'), 80), ' | '), '(none)') FROM pg_stat_activity WHERE datname = '$1' AND pid <> pg_backend_pid()"
}

# in_ddl_phase DB: a session on DB runs CREATE INDEX or ALTER TABLE.
in_ddl_phase() {
    [[ "$(q "$SERVER_URL" "SELECT count(*) FROM pg_stat_activity WHERE datname = '$1' AND pid <> pg_backend_pid() AND state = 'active' AND query ~* '^\s*(CREATE\s+(UNIQUE\s+)?INDEX|ALTER\s+TABLE)'")" != 0 ]]
}

# kill_migration DESC WHEN: start `pgboot migrate` into the target, SIGKILL it
# at WHEN ("0.3", "1": seconds; "ddl": while an index or constraint is built),
# then wait for PostgreSQL to finish the session and check the target.
kill_migration() {
    local desc=$1 when=$2 pid i doing comm
    rm -f "$U/kill.pid"
    # sh writes its pid and execs pgboot: that pid is pgboot's
    as_user /bin/sh -c 'echo $$ >"$0"; exec "$@"' "$U/kill.pid" "$PGB" migrate --sqlite "$BIG" --to "$TARGET" \
        >"$T/kill.out" 2>"$T/kill.err" </dev/null &
    register_bg "$!"
    for ((i = 0; i < 200; i++)); do
        [[ -s "$U/kill.pid" ]] && break
        sleep 0.01
    done
    pid=$(cat "$U/kill.pid" 2>/dev/null || true)
    [[ -n "$pid" ]] || {
        nok "$desc: pgboot migrate did not start"
        return 0
    }
    for ((i = 0; i < 100; i++)); do
        comm=$(cat "/proc/$pid/comm" 2>/dev/null || echo gone)
        [[ $comm == pgboot || $comm == gone ]] && break
        sleep 0.01
    done
    case $when in
    ddl)
        for ((i = 0; i < 1200; i++)); do
            in_ddl_phase "$TARGET_DB" && break
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.02
        done
        ;;
    *) sleep "$when" ;;
    esac
    doing=$(activity "$TARGET_DB")
    if kill -0 "$pid" 2>/dev/null && [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == pgboot ]]; then
        kill -KILL "$pid"
        wait 2>/dev/null || true
        ok "$desc: killed pgboot migrate (pid $pid) while the server ran: $doing"
    else
        wait 2>/dev/null || true
        nok "$desc: pgboot migrate was no longer running at the kill (exit: $(cat "$T/kill.err" | tail -2 | tr '\n' ' '))"
        return 0
    fi
    if [[ $when == ddl ]]; then
        check_match "$doing" "CREATE .*INDEX|ALTER TABLE" "$desc: the kill came while building indexes/constraints"
    fi
    # PostgreSQL notices the client is gone and rolls back
    for ((i = 0; i < 600; i++)); do
        [[ "$(other_backends "$TARGET_DB")" == 0 ]] && break
        sleep 0.05
    done
    check_eq "$(other_backends "$TARGET_DB")" 0 "$desc: the migration's session ended within 30 s"
    check_untouched_or_staging "$TARGET" "$desc"
    check_eq "$(sha256sum "$BIG" | cut -d' ' -f1)" "$BIG_SHA" "$desc: the source file is unchanged"
}

case_kills() {
    STAGING_LEFT=0
    kill_migration "kill after 0.3 s" 0.3
    kill_migration "kill after 1 s" 1
    kill_migration "kill while building indexes" ddl
    # 300k rows load over two connections through pgboot_staging: the kills
    # must have caught that (the rerun below then has it to clean up)
    check_eq "$STAGING_LEFT" 1 "a kill left the staging schema of a big migration behind"
}

# digest URL: per table, count and md5 of every row in key order; plus the
# structure (column types, indexes, constraints).
digest() {
    local url=$1 t
    for t in a b big_a big_b; do
        echo "$t $(q "$url" "SELECT count(*) || ' ' || coalesce(md5(string_agg(x::text, ',' ORDER BY x.id)), '-') FROM $t x")"
    done
    q "$url" "SELECT 'columns ' || md5(string_agg(table_name || '.' || column_name || ':' || data_type || ':' || is_nullable || ':' || coalesce(column_default, '') || ':' || is_identity, ',' ORDER BY table_name, ordinal_position)) FROM information_schema.columns WHERE table_schema = 'public'"
    q "$url" "SELECT 'indexes ' || string_agg(indexdef, '; ' ORDER BY indexname) FROM pg_indexes WHERE schemaname = 'public'"
    q "$url" "SELECT 'constraints ' || string_agg(conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid) || ' ' || convalidated::text, '; ' ORDER BY conrelid::regclass::text, conname) FROM pg_constraint WHERE connamespace = 'public'::regnamespace"
    q "$url" "SELECT 'sequences ' || string_agg(c.relname || '=' || (pg_sequence_last_value(c.oid))::text, ',' ORDER BY c.relname) FROM pg_class c WHERE c.relkind = 'S' AND c.relnamespace = 'public'::regnamespace"
}

case_rerun() {
    local clean d1 d2
    pgb migrate --sqlite "$BIG" --to "$TARGET" --verify full
    check_rc 0 "after the kills, an undisturbed run into the same database"
    clean=$(newdb clean)
    pgb migrate --sqlite "$BIG" --to "$clean" --verify full
    check_rc 0 "a clean migration into another database"
    d1=$(digest "$TARGET")
    d2=$(digest "$clean")
    echo "$d1" | sed 's/^/    /' | cut -c1-200
    if [[ "$d1" == "$d2" ]]; then
        ok "the rerun and the clean migration are identical (rows, types, indexes, constraints, sequences)"
    else
        nok "the rerun differs from the clean migration: $(diff <(echo "$d1") <(echo "$d2") | head -10 | tr '\n' ' ')"
    fi
    check_eq "$(grep '^big_a ' <<<"$d1" | cut -d' ' -f2)/$(grep '^big_b ' <<<"$d1" | cut -d' ' -f2)" "200000/100000" "all 300000 big rows are there"
    check_eq "$(mig_count "$TARGET")/$(mig_count "$clean")" "1/1" "one migration recorded in each (the killed runs left no record)"
    check_eq "$(q "$TARGET" "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'pgboot_staging%'")/$(q "$clean" "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'pgboot_staging%'")" "0/0" "no staging schema is left after a run (the rerun removed the killed one's)"
    check_eq "$(sha256sum "$BIG" | cut -d' ' -f1)" "$BIG_SHA" "the source file is unchanged"
}

case_writer() {
    local src url wpid n0 rc migrated_a migrated_b final_a
    src=$U/src/wal.db
    "$PY" "$MKDB" big "$src" 90000 wal
    user_own "$U/src"
    check_eq "$("$PY" -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("PRAGMA journal_mode").fetchone()[0])' "$src")" wal "the source is in WAL mode"
    rm -f "$U/src/writer.ready" "$U/src/writer.stop"
    # The writer runs as the test user, who may not reach the checkout: a copy.
    cp "$MKDB" "$U/mig_mkdb.py"
    chmod 644 "$U/mig_mkdb.py"
    (as_user "$PY" "$U/mig_mkdb.py" writer "$src" "$U/src/writer.ready" "$U/src/writer.stop" >"$T/writer.out" 2>"$T/writer.err") &
    wpid=$!
    register_bg "$wpid"
    for ((i = 0; i < 200; i++)); do
        [[ -s "$U/src/writer.ready" ]] && break
        sleep 0.05
    done
    [[ -s "$U/src/writer.ready" ]] || {
        nok "the writer did not start: $(cat "$T/writer.err")"
        return 0
    }
    n0=$("$PY" -c 'import sqlite3,sys; print(sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True).execute("SELECT count(*) FROM a").fetchone()[0])' "$src")
    url=$(newdb walsnap)
    pgb migrate --sqlite "$src" --to "$url"
    rc=$RC
    as_user touch "$U/src/writer.stop"
    wait "$wpid" || true
    check_eq "$rc" 0 "migration while a writer commits to a and b (WAL)"
    check_match "$(cat "$T/writer.out")" "^[0-9]+$" "the writer committed $(cat "$T/writer.out") transactions"
    [[ $rc == 0 ]] || return 0
    migrated_a=$(q "$url" "SELECT count(*) FROM a")
    migrated_b=$(q "$url" "SELECT count(*) FROM b")
    final_a=$("$PY" -c 'import sqlite3,sys; print(sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True).execute("SELECT count(*) FROM a").fetchone()[0])' "$src")
    check_eq "$migrated_a" "$migrated_b" "a and b migrated with the same number of rows (one snapshot)"
    check_eq "$(q "$url" "SELECT max(id) FROM a")" "$(q "$url" "SELECT max(id) FROM b")" "a and b end at the same id"
    if ((migrated_a >= n0)); then ok "the snapshot is not older than the migration's start ($migrated_a >= $n0): the WAL was read"; else nok "migrated $migrated_a rows of a, but $n0 were committed before the migration started (WAL not read?)"; fi
    if ((final_a > migrated_a)); then ok "the writer kept committing during the migration ($final_a > $migrated_a)"; else nok "the writer was blocked during the migration (final $final_a, migrated $migrated_a)"; fi
}

# A big table loaded over two connections whose last rows are large (2 MB
# each): the last chunks are still on their way when the COPY streams end,
# which must wait for them (it once failed with an empty message).
case_staged_tail() {
    local src=$U/src/tail.db url report
    "$PY" - "$src" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL, code TEXT)")
c.executemany("INSERT INTO t (body, code) VALUES (?, ?)", (("row %d" % i, "c%d" % (i % 977)) for i in range(100000)))
c.executemany("INSERT INTO t (body) VALUES (?)", ((("%02d" % i) * (1 << 20),) for i in range(24)))
# two indexes, built ahead on the loading connections: one PostgreSQL
# builds, one it refuses (id * 2^62 past 2^63 is a REAL in SQLite, an
# error here)
c.execute("CREATE INDEX t_code ON t (code)")
c.execute("CREATE INDEX t_code_num ON t (id * 4611686018427387904)")
c.commit()
PY
    user_own "$U/src"
    url=$(newdb tail)
    report=$U/tail.json
    pgb migrate --sqlite "$src" --to "$url" --verify full --report "$report"
    check_rc 0 "a big table with 2 MB rows at its end, over two connections"
    check_eq "$(q "$url" "SELECT count(*) || ' ' || sum(length(body)) FROM t")" "100024 $((24 * 2 * 1048576 + $(python3 -c 'print(sum(len("row %d" % i) for i in range(100000)))')))" "every row and every byte arrived"
    check_py "the report says it went over two connections, staged, and names the refused index" '
import json, sys
r = json.load(open(sys.argv[1]))
if r.get("load") != {"connections": 2, "staged": True, "restarted": False}:
    print("load:", r.get("load"))
sk = [s for s in r["skipped"] if s["name"] == "t_code_num"]
if len(sk) != 1 or sk[0]["kind"] != "index" or "refused" not in sk[0]["reason"] or "out of range" not in sk[0]["reason"]:
    print("skipped:", r["skipped"])
' "$report"
    check_eq "$(q "$url" "SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes WHERE tablename = 't'")" "t_code,t_pkey" "the index PostgreSQL builds is there, with the key"
}

# One of the two loading backends dies mid-COPY (pg_terminate_backend): the
# migration fails with the server's reason, and removes its staging schema.
case_worker_dies() {
    local url pid victim=""
    url=$(newdb workerdies)
    as_user "$PGB" migrate --sqlite "$BIG" --to "$url" >"$T/wd.out" 2>"$T/wd.err" </dev/null &
    pid=$!
    for ((i = 0; i < 400; i++)); do
        victim=$(q "$SERVER_URL" "SELECT pid FROM pg_stat_activity WHERE datname = 'workerdies' AND query LIKE 'COPY \"big_a\"%' AND state = 'active' LIMIT 1")
        [[ -n $victim ]] && break
        sleep 0.02
    done
    check_ne "$victim" "" "a backend copying big_a was found"
    [[ -n $victim ]] && q "$SERVER_URL" "SELECT pg_terminate_backend($victim)" >/dev/null
    local rc=0
    wait "$pid" || rc=$?
    check_ne "$rc" 0 "the migration fails when a loading backend dies"
    check_contains "$(cat "$T/wd.err")" "COPY into big_a failed" "the error names the table"
    check_imatch "$(cat "$T/wd.err")" "terminat" "and gives the server's reason"
    check_untouched "$url" "after the failed staged load"
}

# --on-error reject on a table big enough to be staged: the bad rows go to
# rejects/<table>.jsonl, the others over two connections.
case_staged_reject() {
    local src=$U/src/reject.db url dir=$U/out/staged-reject
    "$PY" - "$src" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("CREATE TABLE r (id INTEGER PRIMARY KEY, n INTEGER NOT NULL, label TEXT)")
c.executemany("INSERT INTO r (n, label) VALUES (?, ?)", ((i, "l%d" % i) for i in range(120000)))
c.executemany("UPDATE r SET n = ? WHERE id = ?", (("oops", 7), ("x9", 60000), ("", 119999)))
c.commit()
PY
    user_own "$U/src"
    mkdir -p "$dir"
    user_own "$dir"
    url=$(newdb stagedreject)
    pgb migrate --sqlite "$src" --to "$url" --on-error reject --allow-rejects --report "$dir/report.json"
    check_rc 0 "a staged migration with --on-error reject --allow-rejects"
    check_eq "$(q "$url" "SELECT count(*) FROM r")/$(q "$url" "SELECT count(*) FROM r WHERE id IN (7, 60000, 119999)")" "119997/0" "all rows but the three bad ones"
    check_py "rejects/r.jsonl holds the three rows; the report counts them and says staged" '
import json, sys, os
d = sys.argv[1]
lines = [json.loads(l) for l in open(os.path.join(d, "rejects", "r.jsonl"))]
keys = sorted(l["key"] for l in lines)
if keys != [7, 60000, 119999]:
    print("rejected keys:", keys)
r = json.load(open(os.path.join(d, "report.json")))
if r.get("rejected") != 3 or r.get("load", {}).get("staged") is not True:
    print("report:", r.get("rejected"), r.get("load"))
' "$dir"
}

# A backend building an index ahead (on a loading connection) dies: that
# index is built by the final transaction instead; the migration succeeds
# with every index. (Up to 3 tries to catch a build in progress.)
case_index_worker_dies() {
    local url pid victim="" try rc
    for try in 1 2 3; do
        url=$(newdb indexdies)
        as_user "$PGB" migrate --sqlite "$BIG" --to "$url" >"$T/id.out" 2>"$T/id.err" </dev/null &
        pid=$!
        victim=""
        while kill -0 "$pid" 2>/dev/null; do
            victim=$(q "$SERVER_URL" "SELECT pid FROM pg_stat_activity WHERE datname = 'indexdies' AND query LIKE 'CREATE INDEX%' AND state = 'active' AND backend_type = 'client backend' LIMIT 1")
            [[ -n $victim ]] && break
            sleep 0.01
        done
        if [[ -n $victim ]]; then
            q "$SERVER_URL" "SELECT pg_terminate_backend($victim)" >/dev/null
            rc=0
            wait "$pid" || rc=$?
            break
        fi
        wait "$pid" || true
    done
    check_ne "$victim" "" "a backend building an index ahead was caught (try $try)"
    check_eq "$rc" 0 "the migration succeeds though a loading connection died: $(tail -n2 "$T/id.err" | tr '\n' ' ')"
    check_eq "$(q "$url" "SELECT count(*) FROM pg_indexes WHERE schemaname = 'public'")" "$(q "$(db_url "$SERVER_URL" clean)" "SELECT count(*) FROM pg_indexes WHERE schemaname = 'public'" 2>/dev/null || echo '?')" "every index is there (as in the clean migration)"
    check_not_contains "$(cat "$T/id.err")" "refused" "no index reported as refused"
}

run_case staged_tail case_staged_tail
run_case staged_reject case_staged_reject
run_case worker_dies case_worker_dies
run_case kills case_kills
run_case rerun case_rerun
run_case writer case_writer
run_case index_worker_dies case_index_worker_dies
ml_finish
