#!/usr/bin/env bash
# pgboot testdb --template-cmd CMD --template-key PATH: a template database
# built by the app's own migration tool (here a shell script running psql on
# a migrations folder), keyed by CMD's text and the folder's contents
# (__pycache__, .git and editor leftovers aside); run with the connection in
# DATABASE_URL and PG* and the clean libpq environment of `pgboot run`; built
# once by parallel callers; a failing or hanging CMD leaves no template and
# shows its output; SQL files and a command combined (SQL first).
set -euo pipefail
# shellcheck source=eph_lib.sh
. "$(dirname "$0")/eph_lib.sh"
eph_setup

APP=ephcmd$$
SQL=$U/work/sql
APPDIR=$U/work/app
MIG=$APPDIR/migrations
BUILDS=$APPDIR/builds # one line per run of the migration script
MIGRATE=$APPDIR/migrate.sh

user_mkdir "$MIG"
# The migration tool: every migrations/*.sql in order through psql (which
# takes the connection from PG*), then a record of what it saw.
user_file "$MIGRATE" "$(
    cat <<'SCRIPT'
#!/bin/sh
set -eu
echo "build $$ $PGDATABASE" >>"$1"
for f in "$(dirname "$0")"/migrations/*.sql; do
    "$PSQL" -X -q -v ON_ERROR_STOP=1 -f "$f"
done
"$PSQL" -X -q -v ON_ERROR_STOP=1 <<SQL
create table built_by(db text, url_db text, work_mem text, ssl text);
insert into built_by select current_database(), '${DATABASE_URL##*/}', current_setting('work_mem'),
    coalesce((select ssl::text from pg_stat_ssl where pid = pg_backend_pid()), '?');
SQL
SCRIPT
)"
chmod 755 "$MIGRATE"
user_file "$MIG/001_items.sql" "create table items(id serial primary key, name text not null);
insert into items(name) values ('alpha'), ('beta');
"
user_file "$MIG/002_qty.sql" "alter table items add column qty int not null default 1;
"

builds() { grep -c . "$BUILDS" 2>/dev/null || echo 0; }
# tcmd ARGS...: testdb with the migration command and its folder as the key
tcmd() { tdb --template-cmd "$MIGRATE $BUILDS" --template-key "$MIG"; }

case_cmd() {
    local u d h
    # the caller's libpq variables must not reach the command (pgboot run's rule)
    PGB_ENV=(PGOPTIONS=-cwork_mem=77kB PGSSLMODE=require)
    tcmd
    PGB_ENV=()
    check_rc 0 "testdb --template-cmd CMD --template-key DIR"
    u=$(clone_url) || return 0
    d=$(url_db "$u")
    h=$(hash8 "$u")
    check_match "$d" '^pgboot_t_[0-9a-f]{8}_[a-z0-9]{12}$' "a clone of a template"
    check_eq "$(builds)" 1 "the command ran once"
    check_eq "$(sql "$u" "select string_agg(name || ':' || qty, ',' order by id) from items")" "alpha:1,beta:1" \
        "the clone holds what the migrations made"
    check_match "$(sql "$u" "select db from built_by")" "^pgboot_tplb_${h}[0-9a-f]{8}\$" \
        "the command's PG* variables named the template database being built"
    check_eq "$(sql "$u" "select url_db from built_by")" "$(sql "$u" "select db from built_by")" \
        "DATABASE_URL named it too"
    check_ne "$(sql "$u" "select work_mem from built_by")" "77kB" "the caller's PGOPTIONS did not reach the command"
    check_eq "$(sql "$u" "select ssl from built_by")" "false" "nor its PGSSLMODE=require (a plain connection)"
    check_eq "$(dbs "pgboot\\_tpl\\_$h%" | wc -l)" 1 "one template database"
    tcmd
    check_rc 0 "a second call"
    check_eq "$(hash8 "$OUT")" "$h" "the same command and folder: the same template"
    check_eq "$(builds)" 1 "the command did not run again"
    echo "$h" >"$T/h1"
}

case_ignored() {
    local h
    h=$(cat "$T/h1" 2>/dev/null) || {
        nok "no template from the first case"
        return 0
    }
    user_file "$MIG/__pycache__/m.cpython-311.pyc" "bytecode $RANDOM"
    user_file "$MIG/.002_qty.sql.swp" "vim swap $RANDOM"
    user_file "$MIG/002_qty.sql~" "backup $RANDOM"
    user_file "$MIG/#001_items.sql#" "emacs autosave $RANDOM"
    user_file "$MIG/.git/HEAD" "ref: refs/heads/main"
    tcmd
    check_rc 0 "testdb after __pycache__, .git and editor files appeared"
    check_eq "$(hash8 "$OUT")" "$h" "they do not change the template"
    check_eq "$(builds)" 1 "no new build"
    user_file "$MIG/__pycache__/m.cpython-311.pyc" "other bytecode $RANDOM"
    tcmd
    check_eq "$(hash8 "$OUT")" "$h" "a changed __pycache__ file does not either"
    check_eq "$(builds)" 1 "still one build"
}

case_changed() {
    local h u h2 h3 h4
    h=$(cat "$T/h1" 2>/dev/null) || {
        nok "no template from the first case"
        return 0
    }
    user_file "$MIG/002_qty.sql" "alter table items add column qty int not null default 2;
"
    tcmd
    check_rc 0 "testdb after a migration file changed"
    u=$(clone_url) || return 0
    h2=$(hash8 "$u")
    check_ne "$h2" "$h" "a changed file in the folder: a new template"
    check_eq "$(builds)" 2 "built again"
    check_eq "$(sql "$u" "select string_agg(qty::text, ',' order by id) from items")" "2,2" "the new template has the change"
    user_file "$MIG/003_more.sql" "insert into items(name) values ('gamma');
"
    tcmd
    u=$(clone_url) || return 0
    h3=$(hash8 "$u")
    check_ne "$h3" "$h2" "a new file in the folder: a new template"
    check_eq "$(sql "$u" "select count(*) from items")" 3 "it ran the new migration"
    mv "$MIG/003_more.sql" "$MIG/004_more.sql"
    tcmd
    h4=$(hash8 "$OUT")
    check_ne "$h4" "$h3" "a renamed file: a new template"
    tdb --template-cmd "$MIGRATE  $BUILDS" --template-key "$MIG"
    check_rc 0 "another command text (one more space)"
    check_ne "$(hash8 "$OUT")" "$h4" "another command text: another template"
    check_eq "$(builds)" 5 "one build per distinct key (5 so far)"
}

case_combined() {
    local base u
    base=$(sqlfile base.sql "create table base(v text); insert into base values ('from sql');")
    tdb --template-sql "$base" --template-cmd "\"\$PSQL\" -X -q -v ON_ERROR_STOP=1 -c \"insert into base values ('from cmd')\""
    check_rc 0 "--template-sql and --template-cmd together"
    u=$(clone_url) || return 0
    check_eq "$(sql "$u" "select string_agg(v, ',' order by v desc) from base")" "from sql,from cmd" \
        "the SQL files ran first, then the command"
}

case_failing() {
    local before tag=$RANDOM$RANDOM
    before=$(dbs 'pgboot\_tpl%')
    tdb --template-cmd "\"\$PSQL\" -X -q -c 'create table half(i int)'; echo 'applying 0007_orders'; echo 'migration 0007 failed: column customer_id $tag does not exist' >&2; exit 3"
    check_rc 1 "a failing template command"
    check_error_shape "a failing template command"
    check_contains "$(err_line)" "exit status 3" "the error gives its exit status"
    check_contains "$(err_line)" "migration 0007 failed: column customer_id $tag does not exist" "and shows its output (stderr)"
    check_contains "$(err_line)" "applying 0007_orders" "and its stdout"
    check_eq "$(dbs 'pgboot\_tpl%')" "$before" "no template (nor a half-built one) is left"
    # much output: the end is shown, bounded
    tdb --template-cmd "i=0; while [ \$i -lt 2000 ]; do echo \"line \$i of the migration log\"; i=\$((i+1)); done; echo 'the real cause $tag' >&2; exit 1"
    check_rc 1 "a failing command with 60 kB of output"
    check_error_shape "a failing command with much output"
    check_contains "$(err_line)" "the real cause $tag" "the end of its output is in the error line"
    check_not_contains "$(err_line)" "line 1950 of the migration log" "(only the end that fits one line)"
    check_contains "$ERR" "the template command's output (its last 4 kB):" "its last 4 kB are shown before it"
    check_contains "$ERR" "line 1950 of the migration log" "(a line 1.5 kB before the end)"
    check_not_contains "$ERR" "line 5 of the migration log" "the beginning is not shown"
    if (($(wc -c <<<"$ERR") < 6144)); then ok "stderr stays bounded ($(wc -c <<<"$ERR") bytes)"; else nok "stderr is $(wc -c <<<"$ERR") bytes long"; fi
    check_eq "$(dbs 'pgboot\_tpl%')" "$before" "still no template left"
    # a command that prints its URL and password: shown without the password
    tdb --template-cmd "echo \"url=\$DATABASE_URL pw=\$PGPASSWORD $tag\"; exit 2"
    check_rc 1 "a failing command that prints DATABASE_URL and PGPASSWORD"
    check_contains "$(err_line)" "pw=**** $tag" "the error shows its output, the password replaced by ****"
    check_contains "$ERR" "url=postgresql://$APP:****@" "and so does the output shown before it"
    check_eq "$(grep -cF -- "$(sed -E 's|^[a-z]+://[^:]*:([^@]*)@.*|\1|' <<<"$APP_URL")" <<<"$ERR")" 0 "the password is on no line of stderr"
    tdb --template-cmd "exit 0" --template-key "$U/work/no-such-dir"
    check_rc 1 "a key path that does not exist"
    check_contains "$(err_line)" "$U/work/no-such-dir" "the error names it"
}

case_parallel() {
    local i pids=() rc log all="" slow=$APPDIR/slow.sh pb=$APPDIR/par-builds t0 t1
    user_file "$slow" "#!/bin/sh
echo \"build \$\$\" >>$pb
sleep 3
\"\$PSQL\" -X -q -v ON_ERROR_STOP=1 -c 'create table p(i int); insert into p values (42)'
# unique to this run: $RANDOM$RANDOM
"
    chmod 755 "$slow"
    t0=$(date +%s%3N)
    for ((i = 1; i <= 4; i++)); do
        as_user_bg timeout -k 5 60 "$PGB" testdb --app "$APP" --template-cmd "$slow" --template-key "$slow"
        pids+=("$BG_PID")
        echo "$BG_LOG" >"$T/par.$i"
    done
    for ((i = 1; i <= 4; i++)); do
        rc=0
        wait "${pids[$((i - 1))]}" || rc=$?
        log=$(cat "$T/par.$i")
        if [[ $rc == 0 && $(grep -c . "$log.out") == 1 ]]; then
            ok "parallel caller $i: exit 0, one URL"
        else
            nok "parallel caller $i: exit $rc, stdout '$(cat "$log.out")', stderr '$(cat "$log.err")'"
        fi
        all+="$(cat "$log.out")"$'\n'
    done
    t1=$(date +%s%3N)
    all=$(grep . <<<"$all" || true)
    check_eq "$(grep -c . "$pb")" 1 "four parallel first uses: the command ran once"
    check_eq "$(while read -r u; do hash8 "$u"; done <<<"$all" | sort -u | wc -l)" 1 "all four clones are of one template"
    check_eq "$(dbs "pgboot\\_tplb\\_%")" "" "no template left half-built"
    while read -r u; do
        check_eq "$(sql "$u" 'select i from p')" 42 "clone $(url_db "$u") usable"
    done <<<"$all"
    ok "four callers took $((t1 - t0)) ms for a 3 s build"
}

case_timeout() {
    local before hang=$APPDIR/hang.sh pidfile=$APPDIR/hang.pids t0 p
    before=$(dbs 'pgboot\_tpl%')
    # a shell that starts a child of its own, then hangs: the whole group goes
    user_file "$hang" "#!/bin/sh
sleep 300 &
echo \$! >$pidfile
echo \$\$ >>$pidfile
echo 'waiting for a lock that never comes'
sleep 300
"
    chmod 755 "$hang"
    rm -f "$pidfile"
    t0=$(date +%s%3N)
    tdb --template-cmd "$hang" --template-timeout 2
    check_rc 1 "a command that hangs, with --template-timeout 2"
    check_error_shape "timeout"
    check_contains "$(err_line)" "did not finish within 2 s" "the error says it timed out"
    check_contains "$(err_line)" "waiting for a lock that never comes" "and shows its output"
    if (($(date +%s%3N) - t0 < 15000)); then ok "it gave up after about 2 s"; else nok "it took $(($(date +%s%3N) - t0)) ms"; fi
    if [[ -s $pidfile ]]; then
        while read -r p; do
            check_true "process $p of the command's group was killed" wait_until 5 pid_dead "$p"
        done <"$pidfile"
    else
        nok "the command never started"
    fi
    check_eq "$(dbs 'pgboot\_tpl%')" "$before" "no template left"
}

case_stop() {
    pgb stop --app "$APP"
    check_rc 0 "pgboot stop --app $APP"
    check_no_postgres "$U/data/$APP" 5 "the app server stopped"
}

start_app --template-sql "$(sqlfile first.sql "create table first(i int);")"
run_case cmd case_cmd
run_case ignored case_ignored
run_case changed case_changed
run_case combined case_combined
run_case failing case_failing
run_case parallel case_parallel
run_case timeout case_timeout
run_case stop case_stop
eph_finish
