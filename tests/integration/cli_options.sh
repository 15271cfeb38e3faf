#!/usr/bin/env bash
# Each command's options (issue 11): `pgboot --help` names every command;
# `pgboot CMD --help` lists exactly the options CMD accepts (each one listed is
# accepted; each option of the tool not listed is refused with exit 2 and a
# message naming the option and the command). The options are read from the
# generated usage itself, so a new option or command is covered without
# touching this file. Every run ends with --help after the option tried: an
# accepted option changes nothing (the usage is printed, exit 0), so no
# server is started.
set -euo pipefail
. "$(dirname "$0")/server_lib.sh"
sl_setup

COMMANDS=(start serve run restart status url env logs stop tmp testdb migrate fetch verify cache)

# opt_args USAGE: "--name ARG" (ARG empty for a flag) for each option line of
# a usage text; an option line starts "  --name" or "  -f, --name".
opt_args() {
    sed -nE 's/^  (-[a-zA-Z], )?--([a-z][a-z-]*)( ([^ ]+))?.*/--\2 \4/p' <<<"$1" | sort -u
}

# value_for ARG: a value the option accepts (numbers, NAME=VALUE, the first
# of a|b|c, else a word).
value_for() {
    case $1 in
    N | SECONDS | MS | B) echo 1 ;;
    DURATION) echo 30d ;;
    SIZE) echo 512MB ;;
    TABLE.COLUMN) echo t.c ;;
    *=*) echo work_mem=1MB ;;
    *'|'*) echo "${1%%|*}" ;;
    *) echo x ;;
    esac
}

# try CMD OPT ARG: pgboot CMD OPT [VALUE] --help.
try() {
    if [[ -n $3 ]]; then
        pgb "$1" "$2" "$(value_for "$3")" --help
    else
        pgb "$1" "$2" --help
    fi
}

pgb --help
[[ $RC == 0 ]] || die "pgboot --help failed: $ERR"
ALL_USAGE=$OUT
ALL_OPTS=$(opt_args "$ALL_USAGE")

case_usage_names_every_command() {
    local c listed
    for c in "${COMMANDS[@]}"; do
        check_match "$ALL_USAGE" "^  $c +[a-z]" "pgboot --help lists the command $c"
    done
    listed=$(sed -n '/^commands:/,/^$/p' <<<"$ALL_USAGE" | sed -nE 's/^  ([a-z]+) .*/\1/p' | sort | paste -sd' ')
    check_eq "$listed" "$(printf '%s\n' "${COMMANDS[@]}" | sort | paste -sd' ')" \
        "the commands listed are exactly the tool's"
    check_contains "$ALL_USAGE" "exit status: 0 ok, 1 failure, 2 usage error, 3 not running" \
        "the usage states the exit statuses"
    (($(wc -l <<<"$ALL_OPTS") >= 40)) && ok "pgboot --help lists $(wc -l <<<"$ALL_OPTS") options" ||
        nok "pgboot --help lists only $(wc -l <<<"$ALL_OPTS") options: $ALL_OPTS"
}

# Each option a command's usage lists is accepted by it.
case_listed_options_accepted() {
    local c opt arg usage n
    for c in "${COMMANDS[@]}"; do
        pgb "$c" --help
        check_rc 0 "$c --help"
        check_match "$OUT" "^usage: pgboot $c " "$c --help: its usage line"
        usage=$OUT
        n=0
        while read -r opt arg; do
            [[ $opt == --help ]] && continue
            try "$c" "$opt" "$arg"
            if [[ $RC == 0 && $OUT == "usage: pgboot $c "* ]]; then
                n=$((n + 1))
            else
                nok "$c accepts $opt (listed in its usage): exit $RC: $ERR"
            fi
        done < <(opt_args "$usage")
        ((n > 0)) && ok "$c accepts the $n options its usage lists" || nok "$c: no option accepted"
        pgb "$c" -h
        check_rc 0 "$c -h"
    done
}

# Each option of the tool a command's usage does not list is refused by it.
case_other_options_refused() {
    local c opt arg mine n
    for c in "${COMMANDS[@]}"; do
        pgb "$c" --help
        mine=$(opt_args "$OUT" | cut -d' ' -f1)
        n=0
        while read -r opt arg; do
            grep -qx -- "$opt" <<<"$mine" && continue
            try "$c" "$opt" "$arg"
            if [[ $RC == 2 && $ERR == *"$opt does not apply to $c"* && -z $OUT ]]; then
                n=$((n + 1))
            else
                nok "$c refuses $opt (an option of another command): exit $RC, stdout '${OUT:0:60}', stderr: $ERR"
            fi
        done <<<"$ALL_OPTS"
        ((n > 0)) && ok "$c refuses the $n options of other commands (exit 2, naming them)" ||
            nok "$c refused no option"
    done
}

case_issue_example() {
    pgb status --ttl 5 --count 2 --template-sql x
    check_rc 2 "status --ttl 5 --count 2 --template-sql x is a usage error"
    check_contains "$ERR" "--ttl does not apply to status" "the message names the option and the command"
    check_contains "$ERR" "tmp" "and the command the option belongs to"
    check_contains "$ERR" "pgboot status --help" "the hint points at the command's usage"
    pgb status -f
    check_rc 2 "status -f (logs' short option) is a usage error"
    check_contains "$ERR" "-f does not apply to status" "the message names -f"
    pgb status --no-such-option
    check_rc 2 "an option no command has is a usage error"
    check_contains "$ERR" "unknown" "it is called unknown"
    pgb stop --mode
    check_rc 2 "an option without its value is a usage error"
    check_contains "$ERR" "--mode needs a value" "the message names the option"
    pgb status --json=yes
    check_rc 2 "a flag given a value is a usage error"
}

case_run_ephemeral() {
    pgb run --ephemeral --app other -- true
    check_rc 2 "run --ephemeral --app is a usage error"
    check_contains "$ERR" "--app does not apply to run --ephemeral" "the message names --app"
    pgb run --ephemeral --run-as nobody -- true
    check_rc 2 "run --ephemeral --run-as is a usage error"
    pgb run --tmp-dir "$U" -- true
    check_rc 2 "run --tmp-dir without --ephemeral is a usage error"
    check_contains "$ERR" "--tmp-dir goes with run --ephemeral" "the message says what it goes with"
    as_user mkdir -p "$U/tmp"
    pgb run --ephemeral --tmp-dir "$U/tmp" --set work_mem=8MB --timeout 60 -- true
    check_rc 0 "run --ephemeral with --tmp-dir, --set and --timeout runs"
}

run_case "the usage names every command" case_usage_names_every_command
run_case "listed options are accepted" case_listed_options_accepted
run_case "other options are refused" case_other_options_refused
run_case "the issue's example" case_issue_example
run_case "run --ephemeral's options" case_run_ephemeral
sl_finish
