#!/usr/bin/env bash
# Paths and names PostgreSQL cannot take as they are: a comma in the app
# directory (a home folder "Smith, Jane": unix_socket_directories is split at
# commas), a relative HOME, a newline in HOME, a data directory too deep for
# PostgreSQL's 1024-byte paths, and app names that are PostgreSQL's own
# databases or roles. Each either works (pgboot picks a socket directory
# PostgreSQL can take) or is refused at once with what, where and the way out
# - never a start that waits out its timeout or fails later.
set -euo pipefail
. "$(dirname "$0")/server_lib.sh"
sl_setup

# A short directory of the user's in /tmp, so that the socket path under it
# fits the 107-byte limit: the comma itself must reach the socket directory
# (a long path goes to the short fallback anyway).
short_user_dir() {
    local d
    d=$(mktemp -d /tmp/pgb-paths.XXXXXX)
    chown "$TEST_USER:" "$d"
    register_path "$d"
    echo "$d"
}

case_comma_in_home() {
    local app dh url
    app=c-$$
    dh="$(short_user_dir)/Smith, Jane"
    as_user mkdir -p "$dh"
    (($(printf '%s/%s/run/.s.PGSQL.65535' "$dh" "$app" | wc -c) <= 107)) ||
        die "the socket path under $dh is too long for this test"
    PGB_ENV=("XDG_DATA_HOME=$dh")
    pgb start --app "$app" --timeout 30
    check_rc 0 "start with a comma in the app directory's path"
    url=$OUT
    if [[ $RC == 0 ]]; then
        check_eq "$(sql "$url" 'SELECT 1')" 1 "the URL logs in"
        pgb status --app "$app"
        check_rc 0 "status finds the server"
        pgb stop --app "$app"
        check_rc 0 "stop"
    fi
    check_no_postgres "$dh/$app/postgres_data" 10 "after stop"
}

case_comma_in_tmpdir() {
    local tmp
    tmp="$(short_user_dir)/t, 2"
    as_user mkdir -p "$tmp"
    (($(printf '%s/pgboot-%s/eph-XXXXXX/s/.s.PGSQL.65535' "$tmp" "$USER_UID" | wc -c) <= 107)) ||
        die "the socket path under $tmp is too long for this test"
    PGB_ENV=("TMPDIR=$tmp")
    pgb run --ephemeral --timeout 30 -- /usr/lib/postgresql/15/bin/psql -X -A -t -c 'SELECT 41+1'
    check_rc 0 "run --ephemeral with a comma in TMPDIR"
    check_eq "$OUT" 42 "the command reached its cluster"
}

case_relative_home() {
    local app
    app=$(app_name relhome)
    as_user mkdir -p "$U/rel"
    PGB_ENV=(-u XDG_DATA_HOME "HOME=relative-home")
    pgb start --app "$app" --timeout 20
    check_ne "$RC" 0 "start with a relative HOME is refused"
    check_error_shape "relative HOME"
    check_contains "$ERR" "HOME is 'relative-home'" "the error names HOME and its value"
    check_contains "$ERR" "absolute" "the error says why (not absolute)"
    check_match "$ERR" $'\nhint: .*HOME' "the hint says how to set HOME"
    check_no_path "$U/relative-home" "nothing is created relative to the working directory"
}

case_newline_in_home() {
    local app home
    app=$(app_name newline)
    home="$U/line"$'\n'"break"
    as_user mkdir -p "$home"
    PGB_ENV=(-u XDG_DATA_HOME "HOME=$home")
    pgb start --app "$app" --timeout 15
    check_ne "$RC" 0 "start with a newline in HOME is refused"
    check_error_shape "newline in HOME"
    check_contains "$ERR" "control character" "the error says the path has a control character"
    check_not_contains "$ERR" "not ready" "it does not wait out the timeout"
    check_match "$ERR" $'\nhint: .*--data-dir' "the hint gives the way out"
    check_no_path "$home/.local/share/$app/postgres_data" "no data directory is made"
    check_no_postgres "$home/.local/share/$app/postgres_data" 5 "after the refusal"
}

case_deep_path() {
    local app dh
    app=$(app_name deep)
    dh="$U/deep"
    while ((${#dh} < 1000)); do dh="$dh/$(printf 'd%.0s' {1..60})"; done
    as_user mkdir -p "$dh"
    PGB_ENV=("XDG_DATA_HOME=$dh")
    pgb start --app "$app" --timeout 30
    check_ne "$RC" 0 "start with a data directory deeper than PostgreSQL's paths is refused"
    check_error_shape "deep path"
    check_contains "$ERR" "bytes long" "the error says the path is too long"
    check_match "$ERR" $'\nhint: .*--data-dir' "the hint gives the way out"
    check_no_path "$dh/$app/postgres_data" "no data directory is made"
    check_no_postgres "$dh/$app/postgres_data" 5 "after the refusal"
}

# A path that is long but fits: the socket goes to the short fallback.
case_long_path_fits() {
    local app dh
    app=$(app_name long)
    dh="$U/long"
    while ((${#dh} < 300)); do dh="$dh/$(printf 'l%.0s' {1..60})"; done
    as_user mkdir -p "$dh"
    PGB_ENV=("XDG_DATA_HOME=$dh")
    pgb start --app "$app" --timeout 30
    check_rc 0 "start with a 300-byte app directory"
    [[ $RC == 0 ]] && check_eq "$(sql "$OUT" 'SELECT 1')" 1 "the URL logs in"
    pgb stop --app "$app"
    check_rc 0 "stop"
}

# The app directory's place is taken by a file: refused at once, with the way
# out.
case_app_dir_is_a_file() {
    local app
    app=$(app_name afile)
    as_user mkdir -p "$U/data"
    as_user sh -c "echo not a directory >'$(app_dir "$app")'"
    pgb start --app "$app" --timeout 20
    check_failed "start when the app directory is a file" || true
    check_contains "$(err_line)" "$(app_dir "$app") exists and is not a directory" "the error names the file"
    check_contains "$(hint_line)" "--app" "the hint gives the way out (another app name, or XDG_DATA_HOME)"
    check_eq "$(cat "$(app_dir "$app")")" "not a directory" "the file is left as it was"
}

case_reserved_names() {
    local name
    for name in postgres template0 template1 pg_app public none Template1; do
        pgb start --app "$name" --timeout 20
        check_ne "$RC" 0 "start --app $name is refused"
        check_error_shape "--app $name"
        check_contains "$ERR" "app name '$name' is reserved" "the error says $name is reserved"
        check_contains "$ERR" "PostgreSQL keeps" "the error says why"
        check_match "$ERR" $'\nhint: .*--app' "the hint gives the way out"
        check_no_path "$(app_dir "$name")/postgres_data" "no cluster is made for $name"
    done
    pgb start --app "my-pg_app-$$" --timeout 30
    check_rc 0 "a name with pg_ not at its start is fine"
    pgb stop --app "my-pg_app-$$"
}

run_case comma_in_home case_comma_in_home
run_case comma_in_tmpdir case_comma_in_tmpdir
run_case relative_home case_relative_home
run_case newline_in_home case_newline_in_home
run_case deep_path case_deep_path
run_case long_path_fits case_long_path_fits
run_case reserved_names case_reserved_names
run_case app_dir_is_a_file case_app_dir_is_a_file
sl_finish
