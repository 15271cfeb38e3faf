#!/usr/bin/env bash
# pgboot as root: refused without --run-as (PostgreSQL will not run as root),
# working with --run-as USER (files and server belong to USER), creating a
# system account with --create-user, and a data path too long for a Unix
# socket path under the app dir (the socket dir falls back to /tmp). Also the
# first-start migration of a db.sqlite on that path.
set -euo pipefail
. "$(dirname "$0")/server_lib.sh"
sl_setup

# new_user_name: an account name that does not exist yet.
new_user_name() {
    local n
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        n=pgbt$RANDOM
        getent passwd "$n" >/dev/null || {
            echo "$n"
            return 0
        }
    done
    return 1
}

owned_by_other() { # DIR USER: paths under DIR not owned by USER
    find "$1" ! -user "$2" -printf '%p (%u)\n' 2>/dev/null | head -5
}

case_root_without_run_as() {
    local app cmd
    app=$(app_name norunas)
    for cmd in start serve; do
        pgb_root "$cmd" --app "$app" --cache-dir "$U/cache/pgboot"
        check_rc 1 "root: $cmd without --run-as"
        check_contains "$ERR" "root" "root: $cmd: the error says root"
        check_match "$ERR" "^hint: .*--run-as" "root: $cmd: a hint line mentions --run-as"
        check_match "$ERR" "^pgboot: error: " "root: $cmd: an error line"
        check_eq "$(grep -c . <<<"$OUT" || true)" "$([[ $cmd == serve ]] && echo 1 || echo 0)" "root: $cmd: stdout (serve: one error event)"
    done
    pgb_root run --app "$app" --cache-dir "$U/cache/pgboot" -- true
    check_rc 1 "root: run without --run-as"
    check_contains "$ERR" "--run-as" "root: run: the hint names --run-as"
    [[ ! -e "$T/root/home/.local/share/$app" ]] && ok "nothing made in root's data home" || nok "root's $T/root/home/.local/share/$app was made"
    check_eq "$(postmaster_pids "$T/root/home" prefix)" "" "no postgres started"
    pgb_root start --app "$app" --run-as root --cache-dir "$U/cache/pgboot"
    check_rc 1 "--run-as root"
    check_contains "$ERR" "root" "--run-as root: the error says root"
}

case_run_as_existing_user() {
    local app ad dd url pm
    app=$(app_name runas)
    ad=$USER_HOME/.local/share/$app
    dd=$ad/postgres_data
    register_path "$ad"
    pgb_root start --app "$app" --run-as "$TEST_USER" --cache-dir "$U/cache/pgboot"
    check_rc 0 "root: start --run-as $TEST_USER"
    url=$OUT
    check_match "$url" "^postgresql://$app:[^@]+@127\.0\.0\.1:[0-9]+/$app\$" "the URL"
    check_eq "$(sql "$url" 'select current_user')" "$app" "psql over the URL"
    [[ -d "$dd" ]] && ok "the data is in ~$TEST_USER/.local/share/$app" || nok "no data dir $dd"
    check_eq "$(owned_by_other "$ad" "$TEST_USER")" "" "every file in the app dir belongs to $TEST_USER"
    check_mode "$ad" 700 "app dir"
    check_mode "$ad/pgpass" 600 "pgpass"
    pm=$(postmaster_pids "$dd")
    check_eq "$(wc -w <<<"$pm")" 1 "one postmaster"
    check_eq "$(ps -o user= -p "$pm" | tr -d ' ')" "$TEST_USER" "the postmaster runs as $TEST_USER"
    pgb_root status --app "$app" --run-as "$TEST_USER"
    check_rc 0 "root: status --run-as"
    check_contains "$OUT" "pid $pm" "status names the postmaster"
    pgb_root url --app "$app" --run-as "$TEST_USER"
    check_rc 0 "root: url --run-as"
    check_eq "$OUT" "$url" "url prints the URL"
    pgb_root start --app "$app" --run-as "$TEST_USER" --cache-dir "$U/cache/pgboot" --json
    check_rc 0 "root: second start"
    check_eq "$(jget "$OUT" started)" false "second start reuses (started false)"
    check_eq "$(jget "$OUT" pid)" "$pm" "same postmaster"
    pgb_root env --app "$app" --run-as "$TEST_USER" --format json
    check_rc 0 "root: env --run-as"
    check_eq "$(jget "$OUT" DATABASE_URL)" "$url" "env DATABASE_URL"
    # the user sees the same server without root
    PGB_ENV=(XDG_DATA_HOME="$USER_HOME/.local/share")
    pgb url --app "$app"
    check_eq "$OUT" "$url" "$TEST_USER itself sees the same server"
    PGB_ENV=()
    pgb_root stop --app "$app" --run-as "$TEST_USER"
    check_rc 0 "root: stop --run-as"
    check_no_postgres "$dd" 5 "after root's stop"
    pgb_root status --app "$app" --run-as "$TEST_USER"
    check_rc 3 "root: status after stop"
    pgb_root stop --app "$app" --run-as "$TEST_USER"
    check_rc 3 "root: stop when stopped"
    check_contains "$ERR" "nothing to stop" "stop when stopped says so"
    check_eq "$(owned_by_other "$ad" "$TEST_USER")" "" "still every file belongs to $TEST_USER"
}

case_run_as_run_and_serve() {
    local app ad dd
    app=$(app_name rootrun)
    ad=$USER_HOME/.local/share/$app
    dd=$ad/postgres_data
    register_path "$ad"
    pgb_root run --app "$app" --run-as "$TEST_USER" --cache-dir "$U/cache/pgboot" -- sh -c 'psql -X -A -t -c "select current_user" && exit 7'
    check_rc 7 "root: run --run-as -- psql && exit 7"
    check_eq "$OUT" "$app" "root: the command got a working connection"
    check_no_postgres "$dd" 5 "root: run stopped the server it started"

    as_root_clean "$PGBOOT" serve --app "$app" --run-as "$TEST_USER" --cache-dir "$U/cache/pgboot" </dev/null >"$T/rserve.out" 2>"$T/rserve.err" &
    local job=$!
    register_bg "$job"
    local i
    for ((i = 0; i < 600; i++)); do
        grep -q '"ready"' "$T/rserve.out" 2>/dev/null && break
        sleep 0.05
    done
    local ready
    ready=$(grep -m1 '"ready"' "$T/rserve.out" || true)
    check_eq "$(jget "$ready" started)" true "root: serve --run-as is ready"
    local serve
    serve=$(pgrep -f -x -- "$PGBOOT serve --app $app --run-as $TEST_USER --cache-dir $U/cache/pgboot" | head -1 || true)
    if [[ -z "$serve" ]]; then
        nok "root: cannot find the serve process; stderr: $(cat "$T/rserve.err")"
        return 0
    fi
    check_eq "$(ps -o user= -p "$(postmaster_pids "$dd")" | tr -d ' ')" "$TEST_USER" "root: serve's postmaster runs as $TEST_USER"
    kill -TERM "$serve"
    wait "$job" || true
    check_contains "$(cat "$T/rserve.out")" '"stopped"' "root: serve printed stopped"
    check_no_postgres "$dd" 5 "root: after SIGTERM to serve"

    # serve SIGKILLed: the supervisor (running as the user) stops the server
    as_root_clean "$PGBOOT" serve --app "$app" --run-as "$TEST_USER" --cache-dir "$U/cache/pgboot" </dev/null >"$T/rserve2.out" 2>"$T/rserve2.err" &
    job=$!
    register_bg "$job"
    for ((i = 0; i < 600; i++)); do
        grep -q '"ready"' "$T/rserve2.out" 2>/dev/null && break
        sleep 0.05
    done
    serve=$(pgrep -f -x -- "$PGBOOT serve --app $app --run-as $TEST_USER --cache-dir $U/cache/pgboot" | head -1 || true)
    [[ -n "$serve" && -n "$(postmaster_pids "$dd")" ]] || {
        nok "root: the second serve did not come up: $(cat "$T/rserve2.err")"
        return 0
    }
    kill -KILL "$serve"
    check_no_postgres "$dd" 2 "root: after serve was SIGKILLed"
}

case_create_user() {
    local name app home ad uid
    name=$(new_user_name)
    app=$(app_name cu)
    register_user "$name"
    pgb_root start --app "$app" --run-as "$name" --from "$U/bundle.tgz"
    check_rc 1 "root: --run-as a missing user without --create-user"
    check_contains "$ERR" "$name" "the error names the user"
    check_contains "$ERR" "--create-user" "the hint mentions --create-user"
    if getent passwd "$name" >/dev/null; then nok "the user $name was created without --create-user"; else ok "no user created without --create-user"; fi

    pgb_root start --app "$app" --run-as "$name" --create-user --from "$U/bundle.tgz"
    check_rc 0 "root: start --run-as $name --create-user"
    local pw
    pw=$(getent passwd "$name" || true)
    if [[ -z "$pw" ]]; then
        nok "getent passwd $name finds nothing"
        return 0
    fi
    ok "the account exists: $pw"
    uid=$(cut -d: -f3 <<<"$pw")
    home=$(cut -d: -f6 <<<"$pw")
    ((uid > 0 && uid < 1000)) && ok "a system account (uid $uid < 1000)" || nok "uid $uid is not a system uid (1-999)"
    [[ -d "$home" ]] && ok "its home $home exists" || nok "no home dir $home"
    ad=$home/.local/share/$app
    [[ -d "$ad/postgres_data" ]] && ok "the data is in its home" || nok "no $ad/postgres_data"
    check_eq "$(owned_by_other "$ad" "$name")" "" "the app dir belongs to $name"
    check_eq "$(sql "$OUT" 'select 1')" 1 "psql over the URL"
    local pm
    pm=$(postmaster_pids "$ad/postgres_data")
    check_eq "$(ps -o user= -p "$pm" | tr -d ' ')" "$name" "the postmaster runs as $name"
    pgb_root start --app "$app" --run-as "$name" --create-user --from "$U/bundle.tgz" --json
    check_rc 0 "root: start again with --create-user (the account exists now)"
    check_eq "$(jget "$OUT" started)" false "reused"
    pgb_root stop --app "$app" --run-as "$name"
    check_rc 0 "root: stop"
    check_no_postgres "$ad/postgres_data" 5 "after stop"
}

# A data path so deep that <app dir>/run/.s.PGSQL.NNNNN would not fit in a
# Unix socket path (107 bytes).
case_deep_path() {
    local deep app ad dd sock url
    deep=$U/deep
    while ((${#deep} < 130)); do deep=$deep/a-rather-long-directory-name; done
    mkdir -p "$deep"
    chown -R "$TEST_USER:" "$U/deep"
    app=$(app_name deep)
    ad=$deep/$app
    dd=$ad/postgres_data
    PGB_ENV=(XDG_DATA_HOME="$deep")
    pgb start --app "$app" --json
    check_rc 0 "start with a ${#ad}-character app dir"
    sock=$(jget "$OUT" socket_dir)
    url=$(jget "$OUT" url)
    [[ "$sock" == /* ]] && register_path "$sock"
    check_eq "$(jget "$OUT" data_dir)" "$dd" "the data dir is under the deep XDG_DATA_HOME"
    [[ "$sock" != "$ad"/* ]] && ok "the socket dir ($sock) is not under the app dir" || nok "the socket dir $sock is under the app dir"
    check_match "$sock" "^/tmp/pgboot-$USER_UID-[0-9a-f]+\$" "the socket dir falls back to /tmp/pgboot-<uid>-<hash>"
    check_mode "$sock" 700 "fallback socket dir"
    check_eq "$(stat -c %U "$sock" 2>/dev/null)" "$TEST_USER" "the fallback socket dir belongs to $TEST_USER"
    local port
    port=$(url_port "$url")
    [[ -S "$sock/.s.PGSQL.$port" ]] && ok "the server's Unix socket is there" || nok "no socket $sock/.s.PGSQL.$port"
    check_eq "$(sql "$url" 'select current_user')" "$app" "psql over the URL"
    pgb status --app "$app"
    check_rc 0 "status"
    pgb start --app "$app" --json
    check_eq "$(jget "$OUT" started)" false "a second start reuses it"
    pgb stop --app "$app"
    check_rc 0 "stop"
    check_no_postgres "$dd" 5 "after stop"
    pgb start --app "$app" --json
    check_rc 0 "restart"
    check_eq "$(jget "$OUT" socket_dir)" "$sock" "the same fallback socket dir"
    check_eq "$(jget "$OUT" url)" "$url" "the same URL"
    pgb stop --app "$app"
    check_rc 0 "stop"
    check_no_postgres "$dd" 5 "at the end"
    PGB_ENV=()
}

# root, and an account whose home is that deep
case_deep_home_run_as() {
    local name home app ad sock
    name=$(new_user_name)
    register_user "$name"
    home=$U/homes # $U: a place the test's users can reach, wherever the checkout is
    while ((${#home} < 120)); do home=$home/deeper-and-deeper; done
    home=$home/$name
    mkdir -p "$(dirname "$home")"
    chmod -R 755 "$U/homes"
    flock "$USER_LOCK" useradd --system --create-home --home-dir "$home" --shell /usr/sbin/nologin "$name"
    app=$(app_name dh)
    ad=$home/.local/share/$app
    pgb_root start --app "$app" --run-as "$name" --from "$U/bundle.tgz" --json
    check_rc 0 "root: start --run-as a user with a ${#home}-character home"
    sock=$(jget "$OUT" socket_dir)
    [[ "$sock" == /* ]] && register_path "$sock"
    [[ "$sock" != "$ad"/* ]] && ok "the socket dir ($sock) is not under the app dir" || nok "the socket dir $sock is under the app dir"
    check_match "$sock" "^/tmp/pgboot-$(id -u "$name")-[0-9a-f]+\$" "the socket dir falls back to /tmp/pgboot-<uid>-<hash>"
    check_eq "$(sql "$(jget "$OUT" url)" 'select 1')" 1 "psql over the URL"
    pgb_root stop --app "$app" --run-as "$name"
    check_rc 0 "root: stop"
    check_no_postgres "$ad/postgres_data" 5 "after stop"
}

# The first-start migration on the root path: root starts the app with
# --run-as; the worker that drops to the user finds <app dir>/db.sqlite (big
# enough to load over two connections through the staging schema) and
# migrates it before the URL is printed; every file it writes is the user's.
case_root_first_start_migration() {
    local app ad url rep
    app=$(app_name rootmig)
    ad=$USER_HOME/.local/share/$app
    register_path "$ad"
    # As the user: a root mkdir -p would leave ~/.local/share owned by root.
    as_user mkdir -p "$ad"
    "$PY" - "$ad/db.sqlite" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL, done BOOLEAN NOT NULL)")
c.executemany("INSERT INTO notes (body, done) VALUES (?, ?)", (("note %d" % i, i % 2) for i in range(120000)))
c.execute("CREATE INDEX notes_done ON notes (done)")
c.commit()
PY
    chown -R "$TEST_USER:$(id -g "$TEST_USER")" "$ad"
    chmod 700 "$ad"
    pgb_root start --app "$app" --run-as "$TEST_USER" --cache-dir "$U/cache/pgboot"
    check_rc 0 "root: first start --run-as with a db.sqlite of 120000 rows"
    url=$OUT
    check_eq "$(sql "$url" 'select count(*) || '"'"' '"'"' || count(*) filter (where done) from notes')" "120000 60000" "the rows arrived, 0/1 as boolean"
    check_eq "$(sql "$url" "select indexname from pg_indexes where tablename = 'notes' order by 1" | tr '\n' ' ')" "notes_done notes_pkey " "the index and the key"
    rep=$(ls "$ad"/migrations/*Z.json 2>/dev/null | head -1)
    check_eq "$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["load"])' "$rep" 2>&1)" "{'connections': 2, 'staged': True, 'restarted': False}" "the report: two connections, staged"
    check_eq "$(owned_by_other "$ad" "$TEST_USER")" "" "every file in the app dir, the migration's too, belongs to $TEST_USER"
    pgb_root stop --app "$app" --run-as "$TEST_USER"
    check_rc 0 "root: stop"
}

# As root, `migrate --app` says what works (issue: it hinted --run-as, which
# migrate does not take), and what it says works: the migration by URL into
# the server started --run-as.
case_root_migrate_hint() {
    local app db url
    app=$(app_name rootmighint)
    db=$T/root-mig.sqlite
    "$PY" -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute("create table t(x integer)"); c.execute("insert into t values (7)"); c.commit()' "$db"
    pgb_root migrate --sqlite "$db" --app "$app"
    check_rc 1 "root: migrate --app"
    check_contains "$ERR" "not as root" "the error says why"
    check_not_contains "$ERR" "add --run-as" "it no longer suggests an option migrate does not take"
    check_contains "$ERR" "--to" "the hint gives the migration by URL"
    pgb_root start --app "$app" --run-as "$TEST_USER" --cache-dir "$U/cache/pgboot"
    check_rc 0 "root: start --run-as, as the hint says"
    pgb_root url --app "$app" --run-as "$TEST_USER"
    check_rc 0 "root: url --run-as"
    url=$OUT
    (cd "$T" && pgb_root migrate --sqlite "$db" --to "$url")
    check_rc 0 "root: migrate --to the URL, as the hint says"
    check_eq "$(sql "$url" 'select x from t')" 7 "the rows arrived"
    pgb_root stop --app "$app" --run-as "$TEST_USER"
    check_rc 0 "root: stop"
}

run_case root_without_run_as case_root_without_run_as
run_case root_first_start_migration case_root_first_start_migration
run_case root_migrate_hint case_root_migrate_hint
run_case run_as_existing_user case_run_as_existing_user
run_case run_as_run_and_serve case_run_as_run_and_serve
run_case create_user case_create_user
run_case deep_path case_deep_path
run_case deep_home_run_as case_deep_home_run_as
sl_finish
