#!/usr/bin/env bash
# pgboot testdb keep: a test database renamed to carry a label (sanitised,
# shortened to 63 bytes, made unique), its sessions ended, still marked as
# pgboot's, never reused nor removed with its template; refusals.
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
    before=$(dbs 'pgboot\_k\_%')
    pgb testdb keep "${APP_URL%/*}/pgboot_t_00000000_nosuchdatabase" --label x
    check_rc 1 "keep of a database that does not exist"
    check_contains "$ERR" "does not exist" "keep of a missing database: 'does not exist'"
    check_eq "$(dbs 'pgboot\_k\_%')" "$before" "no kept database made by the refusals"
    pgb testdb keep
    check_rc 2 "keep without a URL: usage error"
    check_contains "$ERR" "pgboot testdb keep --help" "the usage hint names keep's help"
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
run_case stop case_stop
eph_finish
