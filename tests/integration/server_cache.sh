#!/usr/bin/env bash
# pgboot cache list / prune (issue 12): the bundles of three majors in one
# cache with their sizes, versions and last use; prune removes those unused
# for the time given and never one a running server (an app's, a throwaway
# one) runs from; a recent start keeps a bundle; bad durations are refused.
set -euo pipefail
. "$(dirname "$0")/server_lib.sh"
sl_setup

: "${PGBOOT_TEST_TARBALL_17:?}" "${PGBOOT_TEST_TARBALL_18:?}"
declare -A TGZ=([17]=$PGBOOT_TEST_TARBALL_17 [18]=$PGBOOT_TEST_TARBALL_18)
for m in 17 18; do
    cp "${TGZ[$m]}" "$U/bundle-$m.tgz"
    chown "$TEST_USER:" "$U/bundle-$m.tgz"
done
CACHE=$U/cache/pgboot

seed() { # the 17 and 18 bundles (again, after a prune)
    local m
    for m in 17 18; do
        pgb fetch --pg-version "$m" --from "$U/bundle-$m.tgz"
        [[ $RC == 0 ]] || nok "fetch --pg-version $m --from the test tarball: $ERR"
    done
}

# field NAME-PREFIX KEY: KEY of the bundle whose name starts with NAME-PREFIX
# in the last `cache list --json` or prune output (under "bundles" or "removed").
field() {
    "$PY" -c '
import json, sys
d = json.loads(sys.argv[1])
for b in d.get("bundles", d.get("removed", [])):
    if b["name"].startswith(sys.argv[2]):
        v = b[sys.argv[3]]
        print("null" if v is None else v)
        break
else:
    print("<none>")
' "$OUT" "$1" "$2"
}

names() { "$PY" -c 'import json, sys; print(" ".join(b["name"].split("-")[2] for b in json.loads(sys.argv[1]).get(sys.argv[2], [])))' "$OUT" "$1"; }

# age: every bundle's last use (and install) three days back.
age() { find "$CACHE" -maxdepth 1 \( -name 'linux-x64-*' \) -exec touch -h -d '3 days ago' {} +; }

case_list() {
    seed
    pgb cache list --json
    check_rc 0 "cache list --json"
    check_eq "$(names bundles)" "16.14.0 17.10.0 18.4.0" "the three bundles are listed"
    check_eq "$(field linux-x64-17 postgresql_version)" 17.10 "17's PostgreSQL version"
    check_eq "$(field linux-x64-18 package_version)" 18.4.0-beta.17 "18's package version"
    check_eq "$(field linux-x64-16 in_use_pid)" null "nothing runs from 16"
    local bytes
    bytes=$(field linux-x64-18 bytes)
    if ((bytes > 50000000)); then ok "18's size counts its tree and tarball ($bytes bytes)"; else nok "18's size is $bytes bytes"; fi
    pgb cache list
    check_rc 0 "cache list"
    check_match "$OUT" "linux-x64-17\.10\.0-beta\.17-[0-9a-f]{16} +17\.10 +[0-9.]+ MB" "the human listing has name, version and size"
}

case_prune_keeps_what_runs() {
    local app url pid tmpurl tmppid
    seed
    app=$(app_name p17)
    pgb start --app "$app" --pg-version 17 --json
    check_rc 0 "a 17 server runs"
    url=$(jget "$OUT" url)
    pid=$(jget "$OUT" pid)
    # in this test's own TMPDIR, where no other test's clean-up can reach it
    PGB_ENV=("TMPDIR=$U/tmp")
    pgb tmp --pg-version 18 --ttl 120 --json
    PGB_ENV=()
    check_rc 0 "a throwaway 18 cluster runs"
    tmpurl=$(jget "$OUT" url)
    tmppid=$(jget "$OUT" pid)
    pgb cache list --json
    check_eq "$(field linux-x64-17 in_use_pid)" "$pid" "cache list names the 17 postmaster as the user of 17"
    check_ne "$(field linux-x64-18 in_use_pid)" null "the throwaway cluster uses 18"
    age
    pgb cache prune --older-than 1d --json
    check_rc 0 "cache prune --older-than 1d"
    check_eq "$(names removed)" "16.14.0" "only the unused 16 bundle was removed"
    check_eq "$(find "$CACHE" -maxdepth 1 -name 'linux-x64-16.*' | wc -l)" 0 "nothing of 16 is left in the cache"
    check_true "17's tree is still there" test -x "$(ls -d "$CACHE"/linux-x64-17.*-*[0-9a-f]/bin | head -1)/postgres"
    check_eq "$(sql "$url" 'select 1')" 1 "the 17 server still answers"
    check_eq "$(sql "$tmpurl" 'select 1')" 1 "the throwaway 18 cluster still answers"
    pgb stop --app "$app"
    pgb cache prune --older-than 1d --json
    check_eq "$(names removed)" "17.10.0" "once its server stopped, the unused 17 bundle goes"
    check_eq "$(find "$CACHE/templates" -maxdepth 1 -name 'linux-x64-18.*-t3' | wc -l)" 1 \
        "18's template cluster is there while the throwaway cluster runs"
    # The throwaway cluster ends (a fast shutdown; its supervisor removes it).
    kill -INT "$tmppid"
    wait_gone "$tmppid" 20 || nok "the throwaway cluster did not stop"
    pgb cache prune --older-than 1d --json
    check_eq "$(names removed)" "18.4.0" "then the 18 bundle goes too"
    check_eq "$(find "$CACHE/templates" -maxdepth 1 -name 'linux-x64-18.*' | wc -l)" 0 "with its template cluster"
    check_eq "$(find "$CACHE" -maxdepth 1 -name 'linux-x64-*' | wc -l)" 0 "the cache holds no bundle now"
}

# A start records its use: a bundle used a moment ago is kept however old
# its install; bad durations are refused.
case_recent_use_keeps() {
    local app
    seed
    age
    app=$(app_name recent)
    pgb start --app "$app" --pg-version 17
    check_rc 0 "a start on 17"
    pgb stop --app "$app"
    pgb cache prune --older-than 1h --json
    check_rc 0 "cache prune --older-than 1h"
    check_eq "$(names removed)" "18.4.0" "18 (unused for days) goes, 17 (used just now) stays"
    pgb cache list --json
    check_eq "$(names bundles)" "17.10.0" "17 is still in the cache"
    pgb cache prune
    check_rc 2 "prune without --older-than"
    pgb cache prune --older-than banana
    check_rc 2 "--older-than banana"
    pgb cache prune --older-than 10s
    check_failed "--older-than 10s (under a minute)"
    check_contains "$(err_line)" "60 seconds" "the error says why"
    pgb cache list --older-than 1d
    check_rc 2 "--older-than with list"
}

run_case list case_list
run_case prune_keeps_what_runs case_prune_keeps_what_runs
run_case recent_use_keeps case_recent_use_keeps
sl_finish
