#!/usr/bin/env bash
# pgboot testdb: a template database built once from SQL files (keyed by
# their contents) and fresh clones of it, against an app server (--app), a
# URL (--url) and a throwaway cluster; parallel callers; isolation of clones;
# drop (with connections still open, refusals, twice); old templates removed
# once unused; SQL errors. (The pool of clones made in advance: see
# eph_testdb_pool.sh.)
set -euo pipefail
# shellcheck source=eph_lib.sh
. "$(dirname "$0")/eph_lib.sh"
eph_setup

APP=ephtdb$$
SQL=$U/work/sql
CLONE_RE='^pgboot_t_[0-9a-f]{8}_[A-Za-z0-9]{12}$'

SCHEMA="create table items(id serial primary key, name text not null);
insert into items(name) values ('alpha'), ('beta');
"
MIGRATION="alter table items add column qty int not null default 1;
insert into items(name, qty) values ('gamma', 3);
"

setup_app() {
    local a b
    a=$(sqlfile schema.sql "$SCHEMA")
    b=$(sqlfile migration.sql "$MIGRATION")
    start_app --template-sql "$a" --template-sql "$b"
}

case_content_key() {
    local a b u1 u2 u3 u4 h d1 d2 tpl
    a=$SQL/schema.sql
    b=$SQL/migration.sql
    tdb --template-sql "$a" --template-sql "$b"
    u1=$(clone_url) || return 0
    tdb --template-sql "$a" --template-sql "$b"
    u2=$(clone_url) || return 0
    d1=$(url_db "$u1")
    d2=$(url_db "$u2")
    check_match "$d1" "$CLONE_RE" "the clone name is pgboot_t_<hash8>_<rand12>"
    check_eq "$u1" "${APP_URL%/*}/$d1" "the clone URL is the app's URL with the clone's database"
    check_eq "$(hash8 "$u2")" "$(hash8 "$u1")" "same files: same template hash"
    check_ne "$d2" "$d1" "two calls: two different clones"
    h=$(hash8 "$u1")
    tpl=$(dbs "pgboot\\_tpl\\_$h%")
    check_match "$tpl" "^pgboot_tpl_${h}[0-9a-f]{8}\$" "one template database pgboot_tpl_<hash16> for them"
    check_eq "$(sql "$u1" "select string_agg(name || ':' || qty, ',' order by id) from items")" "alpha:1,beta:1,gamma:3" "the clone holds the schema, the seed and the migration"
    check_eq "$(sql "$u1" 'select current_database()')" "$d1" "the URL connects to the clone"

    # same contents under other names: same template
    cp "$a" "$SQL/copy-a.sql"
    cp "$b" "$SQL/copy-b.sql"
    chown "$TEST_USER:" "$SQL/copy-a.sql" "$SQL/copy-b.sql"
    tdb --template-sql "$SQL/copy-a.sql" --template-sql "$SQL/copy-b.sql"
    u3=$(clone_url) || return 0
    check_eq "$(hash8 "$u3")" "$h" "same contents in other files: same template"

    # an edited file: another template
    user_file "$SQL/copy-b.sql" "$MIGRATION-- edited
"
    tdb --template-sql "$SQL/copy-a.sql" --template-sql "$SQL/copy-b.sql"
    u4=$(clone_url) || return 0
    check_ne "$(hash8 "$u4")" "$h" "an edited file: another template hash"
    check_eq "$(dbs "pgboot\\_tpl\\_$(hash8 "$u4")%" | wc -l)" 1 "an edited file: its own template database"
    check_eq "$(dbs "pgboot\\_tpl\\_$h%" | wc -l)" 1 "the first template stays (its clones exist)"

    # the same files in another order: another template
    local x y ux uy
    x=$(sqlfile x.sql "create table x(i int);")
    y=$(sqlfile y.sql "create table y(i int);")
    tdb --template-sql "$x" --template-sql "$y"
    ux=$(clone_url) || return 0
    tdb --template-sql "$y" --template-sql "$x"
    uy=$(clone_url) || return 0
    check_ne "$(hash8 "$uy")" "$(hash8 "$ux")" "the same files in another order: another template"
    echo "$u1" >"$T/clone1"
    echo "$u2" >"$T/clone2"
}

case_isolation() {
    local u1 u2
    u1=$(cat "$T/clone1" 2>/dev/null) && u2=$(cat "$T/clone2" 2>/dev/null) || {
        nok "no clones from the content-key case"
        return 0
    }
    sql "$u1" "insert into items(name) values ('only-in-1'); create table extra(i int);" >/dev/null
    check_eq "$(sql "$u1" 'select count(*) from items')" 4 "clone 1 has its new row"
    check_eq "$(sql "$u2" 'select count(*) from items')" 3 "clone 2 does not see it"
    check_eq "$(sql "$u2" "select count(*) from pg_tables where tablename = 'extra'")" 0 "clone 2 does not see clone 1's table"
    tdb --template-sql "$SQL/schema.sql" --template-sql "$SQL/migration.sql"
    local u3
    u3=$(clone_url) || return 0
    check_eq "$(sql "$u3" 'select count(*) from items')" 3 "a new clone starts from the template, not from a used clone"
}

case_count() {
    local line n=0 names
    tdb --template-sql "$SQL/schema.sql" --template-sql "$SQL/migration.sql" --count 3
    check_rc 0 "--count 3"
    check_eq "$(grep -c . <<<"$OUT")" 3 "--count 3: three lines"
    names=$(while read -r line; do url_db "$line"; done <<<"$OUT" | sort -u)
    check_eq "$(grep -c . <<<"$names")" 3 "--count 3: three distinct databases"
    while read -r line; do
        n=$((n + 1))
        check_match "$(url_db "$line")" "$CLONE_RE" "--count 3: URL $n names a clone"
        check_eq "$(sql "$line" 'select count(*) from items')" 3 "--count 3: clone $n is usable"
    done <<<"$OUT"
    check_eq "$(cut -d_ -f3 <<<"$names" | sort -u | wc -l)" 1 "--count 3: all of one template"
}

case_parallel_build() {
    local f i pids=() rc h t0 t1 all=""
    f=$(sqlfile par.sql "create table p(i int);
insert into p values (42);
-- make the build slow, so that the callers overlap
select pg_sleep(4);
-- unique to this run: $RANDOM$RANDOM$$
")
    t0=$(date +%s%3N)
    for ((i = 1; i <= 4; i++)); do
        as_user_bg timeout -k 5 60 "$PGB" testdb --app "$APP" --template-sql "$f"
        pids+=("$BG_PID")
        echo "$BG_LOG" >"$T/par.$i"
    done
    for ((i = 1; i <= 4; i++)); do
        rc=0
        wait "${pids[$((i - 1))]}" || rc=$?
        local log
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
    h=$(hash8 "$(head -n 1 <<<"$all")")
    check_eq "$(while read -r u; do hash8 "$u"; done <<<"$all" | sort -u)" "$h" "all four clones are of one template"
    check_eq "$(while read -r u; do url_db "$u"; done <<<"$all" | sort -u | wc -l)" 4 "four distinct clones"
    check_eq "$(dbs "pgboot\\_tpl\\_$h%" | wc -l)" 1 "exactly one template database pgboot_tpl_$h..."
    check_eq "$(dbs "pgboot\\_tplb\\_%")" "" "no template left half-built"
    # built once: the builders serialise, so four builds of 4 s would take 16 s
    if ((t1 - t0 < 12000)); then
        ok "the template was built once ($((t1 - t0)) ms for four callers and a 4 s build)"
    else
        nok "four callers took $((t1 - t0)) ms for a 4 s build: built more than once?"
    fi
    while read -r u; do
        check_eq "$(sql "$u" 'select i from p')" 42 "clone $(url_db "$u") usable"
    done <<<"$all"
}

case_drop_with_connection() {
    local u d bg rc=0 i
    tdb --template-sql "$SQL/schema.sql"
    u=$(clone_url) || return 0
    d=$(url_db "$u")
    as_user_bg "$PSQL" -X -A -t -q "$u" -c 'select pg_sleep(60)'
    bg=$BG_PID
    if wait_until 15 connected_to "$d"; then
        ok "a connection to the clone is open"
    else
        nok "the background psql never connected to $d"
    fi
    pgb testdb drop "$u"
    check_rc 0 "testdb drop with a connection still open"
    check_eq "$OUT" "" "drop prints nothing on stdout"
    if ((ELAPSED_MS < 15000)); then ok "drop did not wait for the connection ($ELAPSED_MS ms)"; else nok "drop took $ELAPSED_MS ms"; fi
    check_true "the clone is gone" db_gone "$d"
    if wait_until 5 pid_dead "$bg"; then
        wait "$bg" || rc=$?
        check_ne "$rc" 0 "the leaked connection was terminated (psql exit $rc)"
    else
        nok "the leaked connection's psql still runs"
    fi
    pgb testdb drop "$u"
    check_rc 1 "a second drop"
    check_error_shape "a second drop"
    check_contains "$ERR" "does not exist" "a second drop: 'does not exist'"

    # several at once
    local u1 u2
    tdb --template-sql "$SQL/schema.sql" --count 2
    u1=$(sed -n 1p <<<"$OUT")
    u2=$(sed -n 2p <<<"$OUT")
    pgb testdb drop "$u1" "$u2"
    check_rc 0 "drop of two URLs"
    check_true "both are gone" db_gone "$(url_db "$u1")"
    check_true "both are gone" db_gone "$(url_db "$u2")"
}

case_drop_refused() {
    local tpl turl
    pgb testdb drop "$APP_URL"
    check_rc 1 "drop of the app's own database"
    check_error_shape "drop of the app's own database"
    check_true "the app's database still exists" db_exists "$APP"
    tpl=$(dbs 'pgboot\_tpl\_%' | head -n 1)
    turl="${APP_URL%/*}/$tpl"
    pgb testdb drop "$turl"
    check_rc 1 "drop of a template database ($tpl)"
    check_true "the template still exists" db_exists "$tpl"
    pgb testdb drop "${APP_URL%/*}/postgres"
    check_rc 1 "drop of postgres"
    check_true "postgres still exists" db_exists postgres
    pgb testdb drop "not-a-url"
    check_ne "$RC" 0 "drop of something that is no URL"
}

case_old_template_removed() {
    local f tag=$RANDOM$RANDOM ux1 ux2 hx uy hy uz hz
    f=$(sqlfile evolving.sql "create table ev(i int); -- v1 $tag")
    tdb --template-sql "$f" --count 2
    check_rc 0 "template X with two clones"
    ux1=$(sed -n 1p <<<"$OUT")
    ux2=$(sed -n 2p <<<"$OUT")
    hx=$(hash8 "$ux1")
    user_file "$f" "create table ev(i int, j int); -- v2 $tag"
    tdb --template-sql "$f"
    uy=$(clone_url) || return 0
    hy=$(hash8 "$uy")
    check_ne "$hy" "$hx" "an edited file makes template Y"
    check_eq "$(dbs "pgboot\\_tpl\\_$hx%" | wc -l)" 1 "template X stays while its clones exist"
    pgb testdb drop "$ux1" "$ux2"
    check_rc 0 "drop X's clones"
    user_file "$f" "create table ev(i int, j int, k int); -- v3 $tag"
    tdb --template-sql "$f"
    uz=$(clone_url) || return 0
    hz=$(hash8 "$uz")
    check_eq "$(dbs "pgboot\\_tpl\\_$hx%")" "" "building template Z removed template X (no clone of it left)"
    check_eq "$(dbs "pgboot\\_tpl\\_$hy%" | wc -l)" 1 "template Y stays (a clone of it exists)"
    check_eq "$(dbs "pgboot\\_tpl\\_$hz%" | wc -l)" 1 "template Z exists"
    check_eq "$(sql "$uy" "select count(*) from information_schema.columns where table_name = 'ev'")" 2 "Y's clone is intact"
    # and the next one removes Y once its clone is gone
    pgb testdb drop "$uy"
    user_file "$f" "create table ev(i int, j int, k int, l int); -- v4 $tag"
    tdb --template-sql "$f"
    check_rc 0 "template W"
    check_eq "$(dbs "pgboot\\_tpl\\_$hy%")" "" "building template W removed template Y"
    check_eq "$(dbs "pgboot\\_tpl\\_$hz%" | wc -l)" 1 "template Z stays (its clone exists)"
}

case_names() {
    local long
    long=$(sql "$APP_URL" "select string_agg(datname, ' ') from pg_database where datname like 'pgboot%' and octet_length(datname) > 63")
    check_eq "$long" "" "no pgboot database name over 63 bytes"
    # (a pooled clone still being made, pgboot_b_, by the refill a call
    # before started in the background, is one too)
    check_eq "$(dbs 'pgboot%' | grep -v -E '^(pgboot_tpl_[0-9a-f]{16}|pgboot_[tpb]_[0-9a-f]{8}_[A-Za-z0-9]{12})$' || true)" "" "every pgboot database is a template, a clone or a pooled clone (made or being made) by name"
    # a name printed is the name created (no truncation): connect by it
    tdb --template-sql "$SQL/schema.sql"
    local u
    u=$(clone_url) || return 0
    check_true "the printed clone name is the database's name" db_exists "$(url_db "$u")"
}

case_sql_error() {
    local good bad before after tag=$RANDOM$RANDOM
    good=$(sqlfile good.sql "create table g(i int); -- $tag")
    bad=$(sqlfile bad.sql "create table b(i int);
select * from no_such_table_$tag;
")
    before=$(dbs 'pgboot\_tpl%')
    tdb --template-sql "$good" --template-sql "$bad"
    check_rc 1 "a template file with an SQL error"
    check_error_shape "SQL error"
    check_contains "$(grep '^pgboot: error: ' <<<"$ERR")" "$bad" "the error names the failing file"
    check_not_contains "$(grep '^pgboot: error: ' <<<"$ERR" | sed "s|$bad||")" "$good" "the error does not blame the good file"
    check_contains "$ERR" "no_such_table_$tag" "the error quotes the server's complaint"
    after=$(dbs 'pgboot\_tpl%')
    check_eq "$after" "$before" "no pgboot_tpl_/pgboot_tplb_ database left by the failed build"
    tdb --template-sql "$good" --template-sql "$bad"
    check_rc 1 "the same error again (no stale state)"
    check_eq "$(dbs 'pgboot\_tpl%')" "$before" "still no template left"
    user_file "$bad" "create table b(i int); -- fixed $tag"
    tdb --template-sql "$good" --template-sql "$bad"
    check_rc 0 "the fixed file builds"
    tdb --template-sql "$SQL/does-not-exist.sql"
    check_rc 1 "a missing file"
    check_error_shape "a missing file"
    check_contains "$ERR" "$SQL/does-not-exist.sql" "a missing file: named"
}

case_url_form() {
    local u
    pgb testdb --url "$APP_URL" --template-sql "$SQL/schema.sql" --template-sql "$SQL/migration.sql"
    check_rc 0 "testdb --url APP_URL"
    u=$(clone_url) || return 0
    check_eq "$(hash8 "$u")" "$(hash8 "$(cat "$T/clone1")")" "--url: the same template as with --app (same files, same server)"
    check_eq "$u" "${APP_URL%/*}/$(url_db "$u")" "--url: the clone URL is the given URL with the clone's database"
    check_eq "$(sql "$u" 'select count(*) from items')" 3 "--url: the clone is usable"
    pgb testdb drop "$u"
    check_rc 0 "--url: drop"
}

case_ephemeral() {
    local f out=$U/work/eph-tdb
    f=$(sqlfile eph.sql "create table e(i int); insert into e values (1), (2);")
    rm -f "$out".*
    pgb run --ephemeral -- sh -c "
        set -e
        \"\$PGB\" testdb --url \"\$DATABASE_URL\" --template-sql $f > $out.url
        \"\$PSQL\" -XAtq \"\$(cat $out.url)\" -c 'select count(*) from e' > $out.count
        \"\$PGB\" testdb --url \"\$DATABASE_URL\" --template-sql $f --count 2 > $out.more
        \"\$PSQL\" -XAtq -c \"select count(*) from pg_database where datname like 'pgboot\\_tpl\\_%'\" > $out.tpls
        \"\$PGB\" testdb drop \"\$(cat $out.url)\"
        \"\$PSQL\" -XAtq -c \"select count(*) from pg_database where datname = '\$(basename \"\$(cat $out.url)\")'\" > $out.after
        echo \"\$PGPORT\" > $out.port"
    check_rc 0 "run --ephemeral -- testdb --url \$DATABASE_URL"
    check_match "$(cat "$out.url" 2>/dev/null)" "^postgresql://postgres:[^@]+@127\\.0\\.0\\.1:$(cat "$out.port" 2>/dev/null)/pgboot_t_" "ephemeral: a clone URL on the throwaway cluster"
    check_eq "$(cat "$out.count" 2>/dev/null)" 2 "ephemeral: the clone holds the template's rows"
    check_eq "$(grep -c . "$out.more" 2>/dev/null)" 2 "ephemeral: --count 2"
    check_eq "$(cat "$out.tpls" 2>/dev/null)" 1 "ephemeral: one template"
    check_eq "$(cat "$out.after" 2>/dev/null)" 0 "ephemeral: drop"
    check_clean "$(eph_base)" "ephemeral"
}

# Errors a user meets give the way out on a "hint:" line: a URL that is no
# URL, a database that is no clone, one dropped already, a wrong password, a
# server that does not run, an empty template command, a file that is not
# SQL text, a key path the user cannot read.
case_hints() {
    local u kept tpl f port noread
    pgb testdb drop "not-a-url"
    check_failed "drop of something that is no URL" || true
    check_contains "$(hint_line)" "the URL pgboot testdb printed" "no URL: the hint says which URL"
    tpl=$(dbs 'pgboot\_tpl\_%' | head -n 1)
    pgb testdb drop "${APP_URL%/*}/$tpl"
    check_failed "drop of a template" || true
    check_contains "$(hint_line)" "pgboot testdb clean" "a template: the hint names testdb clean"
    pgb testdb drop "${APP_URL%/*}/postgres"
    check_failed "drop of postgres" || true
    check_contains "$(hint_line)" "DROP DATABASE" "not a test database: the hint says how to drop it yourself"
    tdb --template-sql "$SQL/schema.sql"
    u=$(clone_url) || return 0
    pgb testdb drop "$(sed -E 's|^(postgresql://[^:/@]+:)[^@]*@|\1wrong@|' <<<"$u")"
    check_eq "$RC" 1 "drop with a wrong password fails with exit 1 (the server runs: exit 3 would say it does not)"
    check_error_shape "drop with a wrong password"
    check_contains "$(hint_line)" "password" "a wrong password: the hint names the password"
    check_not_contains "$ERR" "$(sed -E 's|^postgresql://[^:/@]+:([^@]*)@.*$|\1|' <<<"$APP_URL")" "the server's password is not shown"
    pgb testdb keep "$u" --label hints
    check_rc 0 "keep"
    kept=$OUT
    pgb testdb drop "$kept"
    check_rc 0 "drop of the kept database"
    pgb testdb drop "$kept"
    check_failed "drop of a kept database dropped already" || true
    check_contains "$(hint_line)" "pgboot testdb list" "dropped already: the hint says how to see what is left"
    port=$(free_port)
    pgb testdb --url "postgresql://u:pw@127.0.0.1:$port/postgres" --template-sql "$SQL/schema.sql"
    check_failed "a server that does not run" 3 || true
    check_contains "$(hint_line)" "pgboot start --app" "no server: the hint says how to start one"
    pgb testdb --url "postgresql://u:pw@127.0.0.1:$port/postgres?sslmode=bogus" --template-sql "$SQL/schema.sql"
    check_failed "a parameter libpq does not take (exit 1: bad input, not a server that does not run)" 1 || true
    check_contains "$(hint_line)" "the URL's parameters" "a bad parameter: the hint names the URL's parameters (not: start the server)"
    pgb testdb --url "postgresql://u:topsecret@[bad/x" --template-sql "$SQL/schema.sql"
    check_failed "a URL libpq cannot read" || true
    check_not_contains "$ERR" "topsecret" "a URL libpq cannot read: its password is not shown"
    check_contains "$(hint_line)" "postgresql://USER:PASSWORD@HOST:PORT/DATABASE" "a URL libpq cannot read: the hint says how one is written"
    tdb --template-cmd ''
    check_failed "an empty template command" || true
    check_contains "$(hint_line)" "--template-cmd" "an empty command: the hint names --template-cmd"
    f=$U/work/nul.sql
    printf 'create table n(i int);\0' >"$f"
    chown "$TEST_USER:" "$f"
    tdb --template-sql "$f"
    check_failed "a template file with a NUL byte" || true
    check_contains "$(hint_line)" "pg_restore" "not SQL text: the hint names pg_restore for a custom-format dump"
    noread=$U/work/noread
    printf 'x' >"$noread"
    chmod 600 "$noread"
    tdb --template-cmd true --template-key "$noread"
    check_failed "a template key the user cannot read" || true
    check_contains "$(hint_line)" "--template-key" "unreadable key: the hint names --template-key"
}

# A role that may not do what testdb needs (a --url of a managed server):
# the error is PostgreSQL's, the hint names the privilege.
case_role_hints() {
    local pgpass name pw hostport rpw u
    pgpass=$U/data/$APP/pgpass
    read -r name pw < <(grep -v '^#' "$pgpass" | awk -F: -v app="$APP" '$4 != app {print $4, $5; exit}')
    if [[ -z $name || -z $pw ]]; then
        nok "no superuser line in $pgpass"
        return 0
    fi
    hostport=$(sed -E 's|^postgresql://[^@]*@([^/]*)/.*$|\1|' <<<"$APP_URL")
    rpw=limited$RANDOM$RANDOM
    sql "postgresql://$name:$pw@$hostport/postgres" "create role limited login nocreatedb password '$rpw'" >/dev/null
    pgb testdb --url "postgresql://limited:$rpw@$hostport/postgres" --template-sql "$(sqlfile limited.sql "create table l(i int); -- $RANDOM$RANDOM")"
    check_failed "testdb --url of a role without CREATEDB" || true
    check_contains "$(err_line)" "permission denied to create database" "the error is PostgreSQL's"
    check_contains "$(hint_line)" "CREATEDB" "the hint names the privilege"
    tdb --template-sql "$SQL/schema.sql"
    u=$(clone_url) || return 0
    pgb testdb drop "postgresql://limited:$rpw@$hostport/$(url_db "$u")"
    check_failed "drop of another role's clone" || true
    check_contains "$(err_line)" "must be owner of database" "the error is PostgreSQL's"
    check_contains "$(hint_line)" "ownership" "the hint says it takes the owner"
    check_true "the clone is still there" db_exists "$(url_db "$u")"
    pgb testdb drop "$u"
    check_rc 0 "its owner drops it"
    sql "postgresql://$name:$pw@$hostport/postgres" "drop role limited" >/dev/null
}

case_stop() {
    local dd
    dd=$U/data/$APP
    pgb stop --app "$APP"
    check_rc 0 "pgboot stop --app $APP"
    check_no_postgres "$dd" 5 "the app server stopped"
}

setup_app
# A template from what Debian's pg_dump 15 writes in plain format (a real
# dump, tests/fixtures/pg_dump15_app.sql: \restrict, set_config of an empty
# search_path, COPY ... FROM stdin blocks with tabs, backslashes, newlines and
# "\." in the data, a dollar-quoted function), followed by a file that uses
# unqualified names: each file runs in a session of its own.
case_pg_dump_plain() {
    local dump after u fix=$TEST_FIXTURES
    dump=$SQL/pg_dump15_app.sql
    user_file "$dump" "$(cat "$fix/pg_dump15_app.sql")
"
    after=$(sqlfile after-dump.sql "create table extra(n int);
insert into extra select count(*) from app.widgets;
")
    tdb --template-sql "$dump" --template-sql "$after"
    u=$(clone_url) || return 0
    check_eq "$(sql "$u" "$(cat "$fix/pg_dump15_app.check.sql")")" "$(cat "$fix/pg_dump15_app.expected")" \
        "every row, value and sequence of the dump arrived as PostgreSQL 15 had them"
    check_eq "$(sql "$u" "select n from public.extra")" 4 "the next file ran with the default search_path"
    # A meta-command psql would run and pgboot cannot: named with its line.
    local bad tag=$RANDOM$RANDOM
    bad=$(sqlfile meta.sql "-- $tag
create table m(i int);
\\set x 1
insert into m values (1);
")
    tdb --template-sql "$bad"
    check_rc 1 "a file with a psql meta-command"
    check_contains "$ERR" "$bad:3: psql meta-command \\set" "the error names the file, the line and the command"
    bad=$(sqlfile lineerr.sql "-- $tag
create table l(i int);

insert into l values (1);
insert into l values ('not a number');
insert into l values (3);
")
    tdb --template-sql "$bad"
    check_rc 1 "a file whose fifth line fails"
    check_contains "$ERR" "$bad:5:" "the error names the line of the failing statement"
    check_contains "$ERR" "not a number" "and quotes the server's complaint"
}

run_case content-key case_content_key
run_case isolation case_isolation
run_case count case_count
run_case parallel-build case_parallel_build
run_case drop-with-connection case_drop_with_connection
run_case drop-refused case_drop_refused
run_case old-template-removed case_old_template_removed
run_case names case_names
run_case sql-error case_sql_error
run_case pg-dump-plain case_pg_dump_plain
run_case url-form case_url_form
run_case ephemeral case_ephemeral
run_case hints case_hints
run_case role-hints case_role_hints
run_case stop case_stop
eph_finish
