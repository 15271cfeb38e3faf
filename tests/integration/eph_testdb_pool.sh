#!/usr/bin/env bash
# pgboot testdb's pool of clones made in advance (pgboot_p_<hash8>_<rand>,
# handed out by an atomic rename, refilled in the background after each
# call): parallel takers each get their own database; the pool stays small
# (pgboot keeps 4) whether callers come one after the other or all at once;
# and it goes with its template when a changed SQL file replaces that.
set -euo pipefail
# shellcheck source=eph_lib.sh
. "$(dirname "$0")/eph_lib.sh"
eph_setup

APP=ephpool$$
SQL=$U/work/sql
POOL=4 # the pool size pgboot keeps

# pool_of H8: the clones made in advance for template H8.
pool_of() { dbs "pgboot\\_p\\_$1\\_%"; }

# refills_done DESC: wait until the background refills of this test ended.
refills_done() {
    if wait_copiers 60; then
        ok "$1: the background refills ended"
    else
        nok "$1: pgboot processes of this test still run after 60 s: $(show_pids "$(live_pgboot)")"
        return 1
    fi
}

# check_pool_size H8 DESC
check_pool_size() {
    local n
    n=$(pool_of "$1" | grep -c . || true)
    if ((n >= 1 && n <= POOL)); then
        ok "$2: $n clones made in advance for template $1 (pool of $POOL)"
    else
        nok "$2: $n clones made in advance (pgboot_p_$1_*) for template $1; pgboot keeps a pool of $POOL"
    fi
}

case_takers() {
    local f i pids=() rc all="" h log
    f=$(sqlfile takers.sql "create table t(i int); insert into t values (7); -- $RANDOM$RANDOM")
    tdb --template-sql "$f"
    check_rc 0 "a first call (builds the template)"
    h=$(hash8 "$OUT")
    refills_done "after the first call" || return 0
    check_true "the pool is filled after a call" test -n "$(pool_of "$h")"
    # eight takers at once, more than the pool holds
    for ((i = 1; i <= 8; i++)); do
        as_user_bg timeout -k 5 60 "$PGB" testdb --app "$APP" --template-sql "$f"
        pids+=("$BG_PID")
        echo "$BG_LOG" >"$T/take.$i"
    done
    for ((i = 1; i <= 8; i++)); do
        rc=0
        wait "${pids[$((i - 1))]}" || rc=$?
        log=$(cat "$T/take.$i")
        if [[ $rc == 0 && $(grep -c . "$log.out") == 1 ]]; then
            ok "taker $i: exit 0, one URL"
        else
            nok "taker $i: exit $rc, stdout '$(cat "$log.out")', stderr '$(cat "$log.err")'"
        fi
        all+="$(cat "$log.out")"$'\n'
    done
    all=$(grep . <<<"$all" || true)
    check_eq "$(while read -r u; do url_db "$u"; done <<<"$all" | sort -u | wc -l)" 8 "eight takers, eight distinct databases"
    check_eq "$(while read -r u; do url_db "$u"; done <<<"$all" | grep -c -v -E '^pgboot_t_[0-9a-f]{8}_[A-Za-z0-9]{12}$' || true)" 0 "each handed out under a clone's name"
    while read -r u; do
        check_eq "$(sql "$u" 'select i from t')" 7 "$(url_db "$u"): exists, holds the template's data"
    done <<<"$all"
    refills_done "after eight takers" || true
    check_pool_size "$h" "after eight takers at once"
}

case_bounded_sequential() {
    local f i h
    f=$(sqlfile seq.sql "create table s(i int); -- $RANDOM$RANDOM")
    for ((i = 1; i <= 6; i++)); do
        tdb --template-sql "$f"
        [[ $RC == 0 ]] || nok "call $i failed"
    done
    h=$(hash8 "$OUT")
    refills_done "six calls one after the other" || return 0
    check_pool_size "$h" "after six calls one after the other"
}

case_bounded_parallel() {
    local f i h pids=()
    f=$(sqlfile par.sql "create table p(i int); -- $RANDOM$RANDOM")
    for ((i = 1; i <= 4; i++)); do
        as_user_bg timeout -k 5 60 "$PGB" testdb --app "$APP" --template-sql "$f"
        pids+=("$BG_PID")
    done
    for ((i = 1; i <= 4; i++)); do
        wait "${pids[$((i - 1))]}" || nok "parallel caller $i failed"
    done
    h=$(hash8 "$(cat "$BG_LOG.out")")
    refills_done "four callers at once" || return 0
    check_pool_size "$h" "after four callers at once (a new template)"
}

# A template replaced while its pool is being refilled: once the refill is
# over, nothing of the old template may be left (a leftover clone made in
# advance is never removed: its template, which pgboot checks, is gone).
case_gone_with_template() {
    local f round hx c0 c1 cz left p
    f=$SQL/evolving.sql
    for round in 1 2; do
        # template X, with some data so that a clone takes a while to make
        user_file "$f" "create table ev(i int); -- v1 $round $RANDOM$RANDOM
create table seed as select g, repeat('x', 200) as pad from generate_series(1, 100000) g;"
        tdb --template-sql "$f"
        c0=$(clone_url) || return 0
        hx=$(hash8 "$c0")
        refills_done "round $round: template X ($hx), pool filled" || return 0
        pgb testdb drop "$c0"
        check_rc 0 "round $round: drop X's clone"
        # X's pool emptied, as takers would have (dropped by its owner, the app)
        for p in $(pool_of "$hx"); do sql "$APP_URL" "drop database $p" >/dev/null; done
        # one more clone of X: a refill of X's pool (4 clones) starts
        tdb --template-sql "$f"
        c1=$(clone_url) || return 0
        pgb testdb drop "$c1"
        check_rc 0 "round $round: drop that clone too: X has none left"
        # a changed file: template Z, whose build removes X (unused), while
        # X's pool is being refilled
        user_file "$f" "create table ev(i int, j int); -- v2 $round $RANDOM$RANDOM"
        tdb --template-sql "$f"
        cz=$(clone_url) || return 0
        check_eq "$(dbs "pgboot\\_tpl\\_$hx%")" "" "round $round: template X is removed"
        refills_done "round $round: Z built" || return 0
        left=$(dbs "pgboot\\_%$hx%")
        if [[ -n "$left" ]]; then
            nok "round $round: template X ($hx) was replaced, yet these of it are left for good: $(tr '\n' ' ' <<<"$left")"
            return 0
        fi
        ok "round $round: nothing of template X ($hx) is left"
        pgb testdb drop "$cz"
    done
}

case_no_orphans() {
    refills_done "at the end" || true
    check_eq "$(sql "$APP_URL" "select string_agg(p.datname, ' ') from pg_database p where p.datname like 'pgboot\\_p\\_%' and not exists (select 1 from pg_database t where t.datname like 'pgboot\\_tpl\\_' || substr(p.datname, 10, 8) || '%')")" "" "no clone made in advance outlives its template"
}

case_stop() {
    pgb stop --app "$APP"
    check_rc 0 "pgboot stop --app $APP"
    check_no_postgres "$U/data/$APP" 5 "the app server stopped"
}

user_mkdir "$SQL"
start_app --template-sql "$(sqlfile start.sql "select 1;")"
# Every database handed out is pgboot's to drop, even while other callers'
# refills add to the pool: a pool clone is marked before takers can see it.
case_takers_drop_theirs() {
    local f i round pids logs=()
    f=$(sqlfile takedrop.sql "create table d(i int); -- $RANDOM$RANDOM")
    for ((round = 1; round <= 3; round++)); do
        pids=()
        logs=()
        for ((i = 1; i <= 8; i++)); do
            as_user_bg sh -c 'u=$("$1" testdb --app "$2" --template-sql "$3") && "$1" testdb drop "$u"' \
                sh "$PGB" "$APP" "$f"
            pids+=("$BG_PID")
            logs+=("$BG_LOG")
        done
        for ((i = 1; i <= 8; i++)); do
            if wait "${pids[$((i - 1))]}"; then
                ok "round $round, caller $i: took a database and dropped it"
            else
                nok "round $round, caller $i: $(cat "${logs[$((i - 1))]}.err")"
            fi
        done
    done
}

run_case takers case_takers
run_case bounded-sequential case_bounded_sequential
run_case bounded-parallel case_bounded_parallel
run_case takers-drop-theirs case_takers_drop_theirs
run_case gone-with-template case_gone_with_template
run_case no-orphans case_no_orphans
run_case stop case_stop
eph_finish
