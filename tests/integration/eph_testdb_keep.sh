#!/usr/bin/env bash
# pgboot testdb keep: a test database renamed to carry a label (sanitised,
# shortened to 63 bytes, made unique), its sessions ended, still marked as
# pgboot's, never reused nor removed with its template; refusals.
# pgboot testdb snapshot URL --as NAME and testdb --template NAME: a suite's
# state cloned per test; testdb list (kinds, templates, ages; --json) and
# testdb clean [--kept], which never drops a database without pgboot's mark.
set -euo pipefail
# shellcheck source=eph_lib.sh
. "$(dirname "$0")/eph_lib.sh"
eph_setup

APP=ephkeep$$
SQL=$U/work/sql
KEPT_RE='^pgboot_k_[0-9a-f]{8}_[a-z0-9_]+_[a-z0-9]{6}$'
MARK="pgboot test database: made by pgboot testdb, which may drop it"

# comment_of DB: the database's comment (pgboot's mark, or not).
comment_of() { sql "$APP_URL" "select shobj_description(oid, 'pg_database') from pg_database where datname = '$1'"; }
marked() { [[ "$(comment_of "$1")" == "$MARK"* ]]; }
# marked_dbs PATTERN: the databases LIKE PATTERN that carry pgboot's mark.
marked_dbs() { sql "$APP_URL" "select datname from pg_database where datname like '$1' and shobj_description(oid, 'pg_database') like '$MARK%' order by 1"; }

case_keep() {
    local u d h k kd bg rc=0
    tdb --template-sql "$SQL/schema.sql"
    u=$(clone_url) || return 0
    d=$(url_db "$u")
    h=$(hash8 "$u")
    sql "$u" "insert into items(name) values ('from the failed test')" >/dev/null
    as_user_bg "$PSQL" -X -A -t -q "$u" -c 'select pg_sleep(60)'
    bg=$BG_PID
    wait_until 15 connected_to "$d" || nok "the background psql never connected to $d"
    pgb testdb keep "$u" --label 'tests/test_orders.py::TestOrders::test_Total[EUR-2]'
    check_rc 0 "testdb keep URL --label L (a session still open on it)"
    k=$OUT
    kd=$(url_db "$k")
    check_match "$kd" "$KEPT_RE" "the kept name is pgboot_k_<hash8>_<label>_<random6>"
    check_eq "$kd" "pgboot_k_${h}_tests_test_orders_py_testorders_test_t_${kd: -6}" \
        "the label sanitised to [a-z0-9_] and shortened so that the name fits 63 bytes"
    check_eq "${#kd}" 63 "the name is 63 bytes long at most (here exactly)"
    check_eq "$k" "${u%/*}/$kd" "the kept URL is the clone's URL with the new name"
    check_true "the old name is gone" db_gone "$d"
    check_eq "$(sql "$k" "select string_agg(name, ',' order by id) from items")" "alpha,beta,from the failed test" "the kept database holds the test's state"
    check_true "the kept database keeps pgboot's mark" marked "$kd"
    if wait_until 10 pid_dead "$bg"; then
        wait "$bg" || rc=$?
        check_ne "$rc" 0 "the session left on it was ended (psql exit $rc)"
    else
        nok "the session on the clone still runs after keep"
    fi
    echo "$k" >"$T/kept1"

    # the same label again: another, unique name
    local u2 k2
    tdb --template-sql "$SQL/schema.sql"
    u2=$(clone_url) || return 0
    pgb testdb keep --label 'tests/test_orders.py::TestOrders::test_Total[EUR-2]' "$u2"
    check_rc 0 "keep with the same label (--label before the URL)"
    k2=$OUT
    check_match "$(url_db "$k2")" "$KEPT_RE" "the second kept name"
    check_ne "$(url_db "$k2")" "$kd" "the same label twice: two different names"
    # no label usable: "kept"
    tdb --template-sql "$SQL/schema.sql"
    u2=$(clone_url) || return 0
    pgb testdb keep "$u2" --label '::/--'
    check_rc 0 "keep with a label of no letters"
    check_match "$(url_db "$OUT")" "^pgboot_k_${h}_kept_[a-z0-9]{6}\$" "a label with nothing left: 'kept'"
    pgb testdb drop "$OUT"
    check_rc 0 "testdb drop of a kept database"
}

case_kept_not_reused() {
    local k kd f tag=$RANDOM$RANDOM u ux hx
    k=$(cat "$T/kept1" 2>/dev/null) || {
        nok "no kept database from the keep case"
        return 0
    }
    kd=$(url_db "$k")
    # a template whose only clone is kept goes when the next template is
    # built; the kept database stays
    f=$(sqlfile evolving.sql "create table ev(i int); -- v1 $tag")
    tdb --template-sql "$f"
    ux=$(clone_url) || return 0
    hx=$(hash8 "$ux")
    pgb testdb keep "$ux" --label only-clone
    check_rc 0 "keep the only clone of template $hx"
    local kx=$OUT
    user_file "$f" "create table ev(i int, j int); -- v2 $tag"
    tdb --template-sql "$f"
    clone_url >/dev/null || return 0
    check_eq "$(dbs "pgboot\\_tpl\\_$hx%")" "" "the template of a kept database is removed once no clone uses it"
    check_true "the kept database stays" db_exists "$(url_db "$kx")"
    check_eq "$(sql "$kx" "select count(*) from information_schema.columns where table_name = 'ev'")" 1 "and is intact"
    # never handed out: many clones later, it still exists under its name
    tdb --template-sql "$SQL/schema.sql" --count 6
    check_rc 0 "six more clones"
    for u in $OUT; do
        check_ne "$(url_db "$u")" "$kd" "a new clone is not the kept database"
    done
    check_true "the first kept database still exists" db_exists "$kd"
}

case_keep_refused() {
    local before
    pgb testdb keep "$APP_URL" --label x
    check_rc 1 "keep of the app's own database"
    check_error_shape "keep of the app's own database"
    check_contains "$ERR" "not made by pgboot testdb" "keep of the app's database: refused"
    check_true "the app's database is still there" db_exists "$APP"
    # a database with a clone's name but without pgboot's mark
    sql "$APP_URL" "create database pgboot_t_00000000_notpgbootsown" >/dev/null
    pgb testdb keep "${APP_URL%/*}/pgboot_t_00000000_notpgbootsown" --label x
    check_rc 1 "keep of an unmarked database with a clone's name"
    check_contains "$ERR" "lacks pgboot's mark" "the refusal says why"
    check_true "the unmarked database keeps its name" db_exists pgboot_t_00000000_notpgbootsown
    if [[ -s $T/kept1 ]]; then
        pgb testdb keep "$(cat "$T/kept1")" --label again
        check_rc 1 "keep of a kept database"
        check_contains "$(err_line)" "is pgboot testdb's (kept), not a clone it handed out" "the refusal says what it is"
    fi
    before=$(dbs 'pgboot\_k\_%')
    pgb testdb keep "${APP_URL%/*}/pgboot_t_00000000_nosuchdatabase" --label x
    check_rc 1 "keep of a database that does not exist"
    check_contains "$ERR" "does not exist: dropped already, or kept" "keep of a missing database: 'does not exist', dropped or kept"
    check_contains "$(hint_line)" "'pgboot testdb list' shows every one" "the hint says where a kept one is"
    check_eq "$(dbs 'pgboot\_k\_%')" "$before" "no kept database made by the refusals"
    pgb testdb keep
    check_rc 2 "keep without a URL: usage error"
    check_contains "$ERR" "pgboot testdb keep --help" "the usage hint names keep's help"
}


# refills_done: the detached pool refills of this test have ended.
refills_done() { wait_copiers 60 || nok "pgboot processes of this test still run: $(show_pids "$(live_pgboot)")"; }

case_snapshot() {
    local u d bg rc=0 u2 u3 h
    tdb --template-sql "$SQL/schema.sql"
    u=$(clone_url) || return 0
    d=$(url_db "$u")
    sql "$u" "insert into items(name) values ('expensive'); create table state(v int); insert into state values (1)" >/dev/null
    as_user_bg "$PSQL" -X -A -t -q "$u" -c 'select pg_sleep(60)'
    bg=$BG_PID
    wait_until 15 connected_to "$d" || nok "the background psql never connected to $d"
    pgb testdb snapshot "$u" --as seeded
    check_rc 0 "testdb snapshot URL --as seeded (a session open on it)"
    check_contains "$ERR" "ended 1 other session on the database" "it says it ended the other session"
    if wait_until 10 pid_dead "$bg"; then
        wait "$bg" || rc=$?
        check_ne "$rc" 0 "that session was ended (psql exit $rc)"
    else
        nok "the session on the database still runs after snapshot"
    fi
    check_eq "$(sql "$APP_URL" "select datistemplate::text || ',' || datallowconn::text from pg_database where datname = 'pgboot_s_seeded'")" "true,false" \
        "the snapshot is a frozen template database pgboot_s_seeded"
    check_true "the snapshot carries pgboot's mark" marked pgboot_s_seeded
    check_eq "$(sql "$u" "select count(*) from items")" 3 "the source database is intact and usable again"
    tdb --template seeded
    check_rc 0 "testdb --template seeded"
    u2=$(clone_url) || return 0
    check_match "$(url_db "$u2")" '^pgboot_t_[0-9a-f]{8}_[a-z0-9]{12}$' "a clone of the snapshot"
    check_eq "$(sql "$u2" "select string_agg(name, ',' order by id) || '/' || (select v from state) from items")" "alpha,beta,expensive/1" \
        "the clone has the state of the snapshot"
    sql "$u2" "update state set v = 99" >/dev/null
    refills_done
    h=$(hash8 "$u2")
    check_true "the snapshot's pool was filled" test -n "$(dbs "pgboot\\_p\\_${h}\\_%")"
    tdb --template seeded
    u3=$(clone_url) || return 0
    check_eq "$(sql "$u3" "select v from state")" 1 "the next clone (from the pool) starts from the snapshot, not from a used clone"
    # a snapshot again under the same name replaces it, pool included
    pgb testdb snapshot "$u2" --as seeded
    check_rc 0 "snapshot again as seeded (from the changed clone)"
    check_not_contains "$ERR" "ended" "no session to end: nothing said"
    tdb --template seeded
    u3=$(clone_url) || return 0
    check_eq "$(sql "$u3" "select v from state")" 99 "a clone after the new snapshot has the new state (the old pool went)"
    # again, with the old pool's refill still at work while the snapshot is
    # replaced (it must add nothing the new snapshot's clones get)
    local i
    for i in 1 2 3; do
        sql "$u3" "update state set v = $i" >/dev/null
        tdb --template seeded
        pgb testdb snapshot "$u3" --as seeded
        check_rc 0 "snapshot again (round $i) while the pool refills"
        tdb --template seeded
        u3=$(clone_url) || return 0
        check_eq "$(sql "$u3" "select v from state")" "$i" "round $i: the next clone has the new snapshot's state"
    done
    echo "$u3" >"$T/snapclone"
    tdb --template nosuch
    check_rc 1 "testdb --template of a snapshot that does not exist"
    check_contains "$(err_line)" "no snapshot 'nosuch'" "the error names it"
    check_contains "$(hint_line)" "testdb snapshot URL --as nosuch" "the hint says how to make it"
    pgb testdb snapshot "$u" --as 'Bad-Name'
    check_rc 1 "a snapshot name outside [a-z0-9_]"
    check_contains "$(err_line)" "not a snapshot name" "refused"
    pgb testdb snapshot "$APP_URL" --as appdb
    check_rc 1 "a snapshot of the app's own database"
    check_eq "$(dbs 'pgboot\_s\_appdb')" "" "refused: no snapshot made"
    pgb testdb snapshot "$u"
    check_rc 2 "snapshot without --as: usage error"
    tdb --template seeded --template-sql "$SQL/schema.sql"
    check_rc 2 "--template with --template-sql: usage error"
}

case_list() {
    local k kd line
    k=$(cat "$T/kept1" 2>/dev/null) || {
        nok "no kept database from the keep case"
        return 0
    }
    kd=$(url_db "$k")
    sql "$APP_URL" "create database pgboot_k_00000000_decoy_aaaaaa" >/dev/null
    refills_done
    pgb testdb list --app "$APP"
    check_rc 0 "testdb list --app"
    check_match "$(head -n 1 <<<"$OUT")" '^KIND +DATABASE +TEMPLATE +AGE$' "a header line"
    line=$(grep " $kd " <<<"$OUT" || true)
    check_match "$line" "^kept +$kd +pgboot_tpl_$(hash8 "${k/pgboot_k_/pgboot_t_}")[0-9a-f]{8} +[0-9]+[smhd]\$" "the kept database: kind, template, age"
    local h=${kd#pgboot_k_}
    h=${h%%_*}
    check_match "$(grep -E "^pool +pgboot_p_${h}_" <<<"$OUT" | head -n 1)" "^pool +pgboot_p_${h}_[a-z0-9]{12} +pgboot_tpl_${h}[0-9a-f]{8} +[0-9]+[sm]\$" "a pool database with its template"
    check_match "$(grep -E '^snapshot ' <<<"$OUT" | head -n 1)" '^snapshot +pgboot_s_seeded +- +[0-9]+[sm]$' "the snapshot"
    check_match "$(grep " $(url_db "$(cat "$T/snapclone")") " <<<"$OUT")" '^clone +pgboot_t_[0-9a-f]{8}_[a-z0-9]{12} +pgboot_s_seeded +' "a clone of the snapshot names it as its template"
    check_not_contains "$OUT" "decoy" "a database without pgboot's mark is not listed"
    pgb testdb list --url "$APP_URL" --json
    check_rc 0 "testdb list --url --json"
    check_py "the JSON lists what pg_database holds, with kinds, templates and ages" '
import json, sys
j = json.loads(sys.argv[1])
dbs = {d["name"]: d for d in j["databases"]}
kept = dbs[sys.argv[2]]
assert kept["kind"] == "kept" and kept["template"].startswith("pgboot_tpl_"), kept
assert isinstance(kept["age_s"], int) and kept["age_s"] >= 0, kept
assert dbs["pgboot_s_seeded"]["kind"] == "snapshot" and dbs["pgboot_s_seeded"]["template"] is None
kinds = {d["kind"] for d in j["databases"]}
assert {"template", "snapshot", "pool", "clone", "kept"} <= kinds, kinds
assert not any("decoy" in n for n in dbs), dbs
' "$OUT" "$kd"
    pgb testdb list
    check_rc 2 "list without --app or --url: usage error"
}

case_clean() {
    local u before_tpl before_clones decoys kd
    kd=$(url_db "$(cat "$T/kept1" 2>/dev/null)")
    # databases named like pgboot's but without its mark
    for d in pgboot_p_deadbeef_decoy0000000 pgboot_s_decoy pgboot_tpl_deadbeefdeadbeef pgboot_b_deadbeef_decoy0000000; do
        sql "$APP_URL" "create database $d" >/dev/null
    done
    decoys=$(dbs '%decoy%'; dbs 'pgboot\_tpl\_deadbeef%')
    # a snapshot no clone uses
    tdb --template-sql "$SQL/schema.sql"
    u=$(clone_url) || return 0
    pgb testdb snapshot "$u" --as unused
    check_rc 0 "a snapshot no one clones"
    refills_done
    check_true "there is a pool to clean" test -n "$(marked_dbs 'pgboot\_p\_%')"
    before_tpl=$(dbs 'pgboot\_tpl\_%')
    before_clones=$(dbs 'pgboot\_t\_%')
    pgb testdb clean --app "$APP"
    check_rc 0 "testdb clean"
    check_match "$ERR" "^pgboot: dropped [0-9]+ test databases?\$" "it says how many it dropped"
    check_eq "$(marked_dbs 'pgboot\_p\_%')" "" "the pools are gone"
    check_eq "$(dbs 'pgboot\_s\_unused')" "" "the snapshot no one uses is gone"
    check_eq "$(dbs 'pgboot\_s\_seeded')" "pgboot_s_seeded" "the snapshot with a clone stays"
    check_eq "$(dbs 'pgboot\_tpl\_%')" "$before_tpl" "the templates stay"
    check_eq "$(dbs 'pgboot\_t\_%')" "$before_clones" "the clones handed out stay"
    check_true "the kept database stays" db_exists "$kd"
    check_eq "$(dbs '%decoy%'; dbs 'pgboot\_tpl\_deadbeef%')" "$decoys" "no database without pgboot's mark was dropped"
    pgb testdb clean --url "$APP_URL" --kept
    check_rc 0 "testdb clean --kept"
    check_eq "$(marked_dbs 'pgboot\_k\_%')" "" "the kept databases are gone"
    check_eq "$(dbs 'pgboot\_k\_%')" "pgboot_k_00000000_decoy_aaaaaa" "except the one without pgboot's mark"
    check_eq "$(dbs '%decoy%'; dbs 'pgboot\_tpl\_deadbeef%')" "$decoys" "still no database without pgboot's mark dropped"
    tdb --template-sql "$SQL/schema.sql"
    check_rc 0 "testdb works after clean"
}

case_stop() {
    pgb stop --app "$APP"
    check_rc 0 "pgboot stop --app $APP"
    check_no_postgres "$U/data/$APP" 5 "the app server stopped"
}

sqlfile schema.sql "create table items(id serial primary key, name text not null);
insert into items(name) values ('alpha'), ('beta');
" >/dev/null
start_app --template-sql "$SQL/schema.sql"
run_case keep case_keep
run_case kept-not-reused case_kept_not_reused
run_case keep-refused case_keep_refused
run_case snapshot case_snapshot
run_case list case_list
run_case clean case_clean
run_case stop case_stop
eph_finish
