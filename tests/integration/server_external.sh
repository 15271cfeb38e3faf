#!/usr/bin/env bash
# An external database (--database-url or PGBOOT_DATABASE_URL): pgboot uses it
# instead of an embedded server. Here the "external" database is the running
# embedded server of another app. A URL nothing answers at is an error.
set -euo pipefail
. "$(dirname "$0")/server_lib.sh"
sl_setup

HOST_APP=$(app_name host)
CLIENT_APP=$(app_name client)

case_external_running() {
    local url hdd pm
    hdd=$(data_dir "$HOST_APP")
    pgb start --app "$HOST_APP"
    check_rc 0 "start the app that plays the external database"
    url=$OUT
    pm=$(postmaster_pids "$hdd")
    sql "$url" "create table ext(v text); insert into ext values ('from outside')" >/dev/null

    pgb start --app "$CLIENT_APP" --database-url "$url"
    check_rc 0 "start --database-url"
    check_eq "$OUT" "$url" "start prints the external URL"
    pgb start --app "$CLIENT_APP" --database-url "$url" --json
    check_rc 0 "start --database-url --json"
    check_eq "$(jget "$OUT" external)" true "external is true"
    check_eq "$(jget "$OUT" url)" "$url" "url"
    check_eq "$(jget "$OUT" port)" "$(url_port "$url")" "port from the URL"
    check_eq "$(jget "$OUT" version)" "$PG_VERSION" "the external server's version"
    [[ ! -e "$(app_dir "$CLIENT_APP")" ]] && ok "no embedded cluster made for the client app" || nok "$(app_dir "$CLIENT_APP") was made although the database is external"

    pgb run --app "$CLIENT_APP" --database-url "$url" -- psql -X -A -t -c 'select current_user, current_database(), (select v from ext)'
    check_rc 0 "run --database-url -- psql"
    check_eq "$OUT" "$HOST_APP|$HOST_APP|from outside" "psql under run reaches the external database through PG*"
    pgb run --app "$CLIENT_APP" --database-url "$url" -- sh -c 'printf "%s|%s|%s|%s|%s\n" "$DATABASE_URL" "$PGHOST" "$PGPORT" "$PGUSER" "$PGDATABASE"'
    check_eq "$OUT" "$url|127.0.0.1|$(url_port "$url")|$HOST_APP|$HOST_APP" "run sets DATABASE_URL and PG* from the URL"
    pgb run --app "$CLIENT_APP" --database-url "$url" -- sh -c 'exit 9'
    check_rc 9 "run --database-url passes the command's status"
    check_eq "$(postmaster_pids "$hdd")" "$pm" "the external server is left running after run"

    PGB_ENV=(PGBOOT_DATABASE_URL="$url")
    pgb start --app "$CLIENT_APP"
    check_rc 0 "start with PGBOOT_DATABASE_URL"
    check_eq "$OUT" "$url" "PGBOOT_DATABASE_URL: start prints it"
    pgb env --app "$CLIENT_APP" --format json
    check_rc 0 "env with PGBOOT_DATABASE_URL"
    check_eq "$(jget "$OUT" DATABASE_URL)" "$url" "env DATABASE_URL"
    check_eq "$(jget "$OUT" PGPASSWORD)" "$(url_password "$url")" "env PGPASSWORD from the URL"
    pgb status --app "$CLIENT_APP"
    check_rc 0 "status with an external database that answers"
    pgb stop --app "$CLIENT_APP"
    check_ne "$RC" 0 "stop does not claim to stop an external database"
    PGB_ENV=()
    check_eq "$(postmaster_pids "$hdd")" "$pm" "the external server is still running"
    [[ ! -e "$(app_dir "$CLIENT_APP")" ]] && ok "still no cluster for the client app" || nok "$(app_dir "$CLIENT_APP") was made"
    echo "$url" >"$T/host.url"
}

case_serve_external() {
    local url hdd pm ready
    url=$(cat "$T/host.url")
    hdd=$(data_dir "$HOST_APP")
    pm=$(postmaster_pids "$hdd")
    as_user "$PGB" serve --app "$CLIENT_APP" --database-url "$url" </dev/null >"$T/serve.out" 2>"$T/serve.err" &
    local job=$!
    register_bg "$job"
    wait_until 30 grep -q '"ready"' "$T/serve.out" || true
    ready=$(grep -m1 '"ready"' "$T/serve.out" || true)
    check_eq "$(jget "$ready" external)" true "serve --database-url: ready, external"
    check_eq "$(jget "$ready" url)" "$url" "serve --database-url: the URL"
    local serve
    serve=$(pgrep -u "$TEST_USER" -f -x -- "$PGB serve --app $CLIENT_APP --database-url $url" | head -1 || true)
    if [[ -z "$serve" ]]; then
        nok "cannot find the serve process; stderr: $(cat "$T/serve.err")"
        return 0
    fi
    kill -TERM "$serve"
    wait "$job" || true
    check_contains "$(cat "$T/serve.out")" '"stopped"' "serve printed stopped"
    check_eq "$(postmaster_pids "$hdd")" "$pm" "the external server is still running after serve ended"
}

case_bad_external() {
    local port bad url
    url=$(cat "$T/host.url")
    port=$(free_port)
    bad="postgresql://someone:secret@127.0.0.1:$port/somedb"
    pgb start --app "$CLIENT_APP" --database-url "$bad"
    check_rc 1 "start --database-url with nothing listening on $port"
    check_match "$ERR" "^pgboot: error: .*(connect|connection).*" "the error says it cannot connect"
    check_contains "$ERR" "$port" "the error names the port"
    check_not_contains "$ERR" "secret" "the error does not show the password"
    check_eq "$OUT" "" "nothing on stdout"
    pgb run --app "$CLIENT_APP" --database-url "$bad" -- sh -c 'echo ran'
    check_rc 1 "run --database-url with nothing listening"
    check_not_contains "$OUT" "ran" "the command did not run"

    # a wrong password at a server that answers
    local wrong
    wrong=$(sed -E 's|^(postgresql://[^:]*:)[^@]*@|\1wrong-password@|' <<<"$url")
    pgb start --app "$CLIENT_APP" --database-url "$wrong"
    check_rc 1 "start --database-url with a wrong password"
    check_contains "$ERR" "password authentication failed" "the error gives the server's reason"

    pgb start --app "$CLIENT_APP" --database-url "postgresql://x:y@[::1/db"
    [[ $RC == 1 || $RC == 2 ]] && ok "a malformed URL is refused (exit $RC)" || nok "a malformed URL: expected exit 1 or 2, got $RC"
    check_contains "$ERR" "not valid" "the error says the URL is not valid"
    pgb start --app "$CLIENT_APP" --database-url "postgresql://x:topsecret@[::1/db"
    check_contains "$ERR" "not valid" "a malformed URL with a password: the error says the URL is not valid"
    check_not_contains "$ERR" "topsecret" "the error does not show the password"
    check_contains "$(hint_line)" "postgresql://USER:PASSWORD@HOST:PORT/DATABASE" "the hint says how a URL is written"
    [[ ! -e "$(app_dir "$CLIENT_APP")" ]] && ok "no cluster made for a failing external URL" || nok "$(app_dir "$CLIENT_APP") was made"
}

# stop and restart leave an external database alone, and say how to reach
# pgboot's own server instead.
case_stop_external() {
    local url
    url=$(cat "$T/host.url")
    pgb stop --app "$CLIENT_APP" --database-url "$url"
    check_ne "$RC" 0 "stop --database-url is refused"
    check_error_shape "stop --database-url"
    check_contains "$(err_line)" "pgboot does not stop it" "the error says pgboot does not stop it"
    check_contains "$(hint_line)" "leave out --database-url" "the hint says how to use pgboot's own server"
    PGB_ENV=("PGBOOT_DATABASE_URL=$url")
    pgb restart --app "$CLIENT_APP"
    check_ne "$RC" 0 "restart with PGBOOT_DATABASE_URL is refused"
    check_contains "$(hint_line)" "unset PGBOOT_DATABASE_URL" "the hint names the variable"
    PGB_ENV=()
    check_true "the external server still answers" sql "$url" "select 1"
}

case_cleanup() {
    pgb stop --app "$HOST_APP"
    check_rc 0 "stop the host app"
    check_no_postgres "$(data_dir "$HOST_APP")" 5 "at the end"
}

run_case external_running case_external_running
run_case serve_external case_serve_external
run_case bad_external case_bad_external
run_case stop_external case_stop_external
run_case cleanup case_cleanup
sl_finish
