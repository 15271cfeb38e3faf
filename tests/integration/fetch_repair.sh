#!/usr/bin/env bash
# A damaged bundle cache repairs itself: with a file of the installed tree
# deleted or changed, the next start notices (the tree's list, checked with
# one lstat per entry) and installs the tree again from the cached tarball,
# which it verifies first; without a tarball to install from it keeps the tree
# and names the damage and the command that repairs it. A link placed in the
# damaged tree is removed as a link (what it points to survives), and a tree
# an older pgboot installed (no list) is compared with its tarball once and
# listed, not reinstalled.
set -euo pipefail
. "$(dirname "$0")/server_lib.sh"
sl_setup

ROOT=$(dirname "$BIN_DIR")
LIST=$ROOT.tree
TARBALL=$ROOT.tgz

# damage REL: delete REL from the installed (read-only) tree, as its owner.
damage_delete() {
    as_user chmod u+w "$ROOT/$(dirname "$1")"
    as_user rm -f "$ROOT/$1"
    as_user chmod u-w "$ROOT/$(dirname "$1")"
    [[ ! -e "$ROOT/$1" ]] || die "could not delete $ROOT/$1"
}

start_works() { # APP DESC
    pgb start --app "$1" --timeout 60
    check_rc 0 "$2: start"
    [[ $RC == 0 ]] && check_eq "$(sql "$OUT" 'SELECT 1')" 1 "$2: the URL logs in"
    pgb stop --app "$1"
}

case_initdb_deleted() {
    damage_delete bin/initdb
    start_works "$(app_name initdb)" "bin/initdb deleted"
    check_true "bin/initdb is back" test -x "$ROOT/bin/initdb"
    pgb verify
    check_rc 0 "the repaired tree verifies against the tarball"
}

case_timezoneset_deleted() {
    damage_delete share/postgresql/timezonesets/Default
    start_works "$(app_name tzset)" "timezonesets/Default deleted"
    check_path "$ROOT/share/postgresql/timezonesets/Default" "timezonesets/Default is back"
}

case_file_changed() {
    local f=share/postgresql/postgresql.conf.sample
    as_user chmod u+w "$ROOT/$f"
    as_user sh -c 'echo "# changed" >>"$1"' sh "$ROOT/$f"
    pgb fetch --offline
    check_rc 0 "fetch with a changed file"
    check_not_contains "$(cat "$ROOT/$f")" "# changed" "the changed file is installed again"
    pgb verify
    check_rc 0 "the repaired tree verifies against the tarball"
}

case_link_inside_survives() {
    local outside="$U/outside-sentinel"
    as_user sh -c 'mkdir -p "$1" && echo keep >"$1/keep"' sh "$outside"
    as_user chmod u+w "$ROOT/share"
    as_user ln -s "$outside" "$ROOT/share/evil-link"
    damage_delete bin/pg_ctl
    pgb fetch --offline
    check_rc 0 "fetch repairs a tree holding a link"
    check_eq "$(cat "$outside/keep" 2>/dev/null)" keep "the link's target survives the removal"
    check_no_path "$ROOT/share/evil-link" "the link went with the damaged tree"
    check_true "bin/pg_ctl is back" test -x "$ROOT/bin/pg_ctl"
}

case_no_tarball_offline() {
    as_user mv "$TARBALL" "$U/kept.tgz"
    damage_delete bin/initdb
    pgb start --app "$(app_name notgz)" --offline --timeout 30
    check_rc 1 "start with a damaged tree and no tarball, offline"
    check_error_shape "no tarball"
    check_contains "$ERR" "is damaged (bin/initdb is missing)" "the error names the damage"
    check_contains "$ERR" "$ROOT" "the error names the tree"
    check_match "$ERR" $'\nhint: .*pgboot fetch' "the hint names the command that repairs it"
    check_true "the damaged tree is kept (nothing to install instead)" test -d "$ROOT/bin"
    pgb fetch --from "$U/kept.tgz"
    check_rc 0 "fetch --from the tarball repairs it"
    check_true "bin/initdb is back" test -x "$ROOT/bin/initdb"
    check_path "$TARBALL" "the tarball is in the cache again"
}

case_unlisted_tree() {
    local before after
    as_user rm -f "$LIST"
    before=$(stat -c %i "$ROOT/bin/postgres")
    pgb fetch --offline
    check_rc 0 "fetch with a tree of an older pgboot (no list)"
    after=$(stat -c %i "$ROOT/bin/postgres")
    check_eq "$after" "$before" "an intact unlisted tree is kept, not reinstalled"
    check_path "$LIST" "the tree is listed"
    as_user rm -f "$LIST"
    damage_delete share/postgresql/timezonesets/Default
    start_works "$(app_name unlisted)" "unlisted tree with a file deleted"
    check_path "$ROOT/share/postgresql/timezonesets/Default" "timezonesets/Default is back"
}

run_case initdb_deleted case_initdb_deleted
run_case timezoneset_deleted case_timezoneset_deleted
run_case file_changed case_file_changed
run_case link_inside_survives case_link_inside_survives
run_case no_tarball_offline case_no_tarball_offline
run_case unlisted_tree case_unlisted_tree
sl_finish
