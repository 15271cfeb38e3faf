#!/usr/bin/env bash
# Hostile tarballs (tests/support/mkhostile.py), each pinned by its own digest
# in a custom manifest so it reaches the extractor, installed both with --from
# and from a file:// mirror: each must be refused with an error naming the
# offending entry, leave the cache untouched and write nothing outside.
# A benign crafted tarball is the control (it must install), and the real
# bundle without pg-symlinks.json must fail naming the missing library.
set -euo pipefail
. "$(dirname "$0")/fetch_lib.sh"
fetch_setup

# The sentinel: caches live three levels below it, so an entry escaping the
# cache by up to four ".." lands inside it; absolute entries and absolute link
# targets point into it (mkhostile --outside).
OUTSIDE=$T/outside
CACHES=$OUTSIDE/w1/w2/w3
mkdir -p "$CACHES"
printf 'sentinel\n' >"$OUTSIDE/target-file"
chmod 644 "$OUTSIDE/target-file"
SNAP0=$(snapshot "$OUTSIDE" 'cache-*')

HOSTILE=$T/hostile
MIRROR=$T/mirror
mkdir -p "$T/manifests"
"$PY" "$SUPPORT_DIR/mkhostile.py" "$HOSTILE" --outside "$OUTSIDE" >"$T/hostile.list" ||
    die "mkhostile.py failed"

# name -> an ERE matching the offending entry's name in the error
declare -A ENTRY=(
    [dotdot]='evil-dotdot'
    [dotdot_nonnative]='evil-dotdot-nonnative'
    [absolute]='evil-abs'
    [symlink_out]='evil-symlink-out'
    [symlink_abs]='evil-symlink-abs'
    [symlink_through]='evil-through'
    [symlink_chain]='evil-chain-b'
    [symlink_chain_write]='evil-chain'
    [hardlink_out]='evil-hardlink-out'
    [hardlink_abs]='evil-hardlink-abs'
    [pgsymlinks_target_out]='evil-pgsym-target'
    [pgsymlinks_source_out]='evil-pgsym-source|libpgboottest\.so\.1'
    [oversized]='evil-oversized'
    [oversized_total]='evil-total-[0-9]+'
    [device]='evil-device'
    [setuid]='evil-setuid'
    [setgid]='evil-setgid'
    [fifo]='evil-fifo'
)

declare -A TGZ
while IFS=$'\t' read -r name path integ; do
    TGZ[$name]=$path
    unpacked=""
    [[ $name == oversized* ]] && unpacked=100000
    make_manifest "$T/manifests/$name.json" "$path" "$unpacked"
    make_mirror "$MIRROR" "$path"
    [[ "$(sha512_integrity "$path")" == "$integ" ]] || die "mkhostile.py printed a wrong integrity for $name"
done <"$T/hostile.list"
# the hostile ones, plus benign and prefix_confusion
[[ ${#TGZ[@]} == $((${#ENTRY[@]} + 2)) ]] || die "mkhostile.py made ${#TGZ[@]} tarballs, expected $((${#ENTRY[@]} + 2))"

check_outside_unchanged() {
    local now
    now=$(snapshot "$OUTSIDE" 'cache-*')
    if [[ "$now" == "$SNAP0" ]]; then
        ok "$1: nothing changed outside the cache"
    else
        nok "$1: the sentinel directory changed: $(diff <(echo "$SNAP0") <(echo "$now") | grep '^[<>]' | head -8 | tr '\n' ';' || true)"
    fi
    if [[ -e /tmp/evil-abs || -e /tmp/evil-dotdot ]]; then
        nok "$1: /tmp/evil-abs or /tmp/evil-dotdot exists"
    fi
}

case_benign() {
    local C=$CACHES/cache-benign key
    key=$(cache_key_for "${TGZ[benign]}")
    pg fetch --manifest "$T/manifests/benign.json" --mirror "file://$MIRROR" --cache-dir "$C" --json
    if check_succeeded "the benign crafted tarball (control) installs"; then
        check_json "benign" origin=network root="$C/$key" postgresql_version="$PG_VERSION"
        check_installed "$C" "$key" "benign" "${TGZ[benign]}"
        check_tree_matches "$C/$key" "${TGZ[benign]}" "benign"
        check_eq "$(readlink "$C/$key/lib/libpgboottest.so" 2>&1)" "libpgboottest.so.1.0" \
            "benign: a symlink inside the tree is kept as it was"
    else
        nok "benign: the control did not install, so the refusals below may not be about the hostile entries"
    fi
    check_outside_unchanged "benign"
}

hostile_case() { # NAME VIA(from|mirror)
    local name=$1 via=$2 C tgz before src
    C=$CACHES/cache-$name-$via
    tgz=${TGZ[$name]}
    before=$(sha512_hex "$tgz")
    if [[ $via == from ]]; then
        src=(--from "$tgz")
    else
        src=(--mirror "file://$MIRROR")
    fi
    pg fetch --manifest "$T/manifests/$name.json" --cache-dir "$C" "${src[@]}"
    if check_failed "$name via --$via is refused"; then
        check_match "$(err_line)" "${ENTRY[$name]}" "$name via --$via: the error names the offending entry"
    fi
    check_cache_untouched "$C" "$name via --$via"
    check_outside_unchanged "$name via --$via"
    if [[ $via == from ]]; then
        check_eq "$(sha512_hex "$tgz")" "$before" "$name via --from: the source tarball is left alone"
    fi
    rm_tree "$C"
}

case_prefix_confusion() {
    # entries under package/native-evil/ and package/nativeevil-prefix-b are
    # not under package/native/: they are either ignored (the install then
    # succeeds) or refused, but never extracted anywhere
    local C=$CACHES/cache-prefix found
    pg fetch --manifest "$T/manifests/prefix_confusion.json" --cache-dir "$C" --from "${TGZ[prefix_confusion]}"
    if [[ $RC == 0 ]]; then
        ok "prefix_confusion: installed (the non-native entries were ignored)"
    else
        check_failed "prefix_confusion: refused"
        check_cache_untouched "$C" "prefix_confusion (refused)"
    fi
    found=$(find "$OUTSIDE" -name 'evil-prefix*' | head -3 || true)
    check_eq "$found" "" "prefix_confusion: no entry outside package/native/ was extracted"
    check_outside_unchanged "prefix_confusion"
    rm_tree "$C"
}

case_no_pgsymlinks() {
    local C=$CACHES/cache-nosymlinks line tgz
    line=$("$PY" "$SUPPORT_DIR/mkhostile.py" "$HOSTILE" --strip-pgsymlinks "$REAL_TGZ")
    tgz=$(cut -f2 <<<"$line")
    make_manifest "$T/manifests/no_pgsymlinks.json" "$tgz"
    pg fetch --manifest "$T/manifests/no_pgsymlinks.json" --cache-dir "$C" --from "$tgz"
    if check_failed "the real bundle without pg-symlinks.json"; then
        check_match "$(err_line)" 'lib[A-Za-z0-9_+-]*\.so\.[0-9]+' "the error names the missing shared library"
        check_contains "$(err_line)" "libicui18n.so.60" "the error names libicui18n.so.60 (the first library postgres misses)"
    fi
    check_no_tree "$C" "bundle without pg-symlinks.json"
    check_outside_unchanged "bundle without pg-symlinks.json"
    rm_tree "$C"
}

run_case benign case_benign
rm_tree "$CACHES/cache-benign"
for name in dotdot dotdot_nonnative absolute symlink_out symlink_abs symlink_through symlink_chain \
    symlink_chain_write hardlink_out hardlink_abs \
    pgsymlinks_target_out pgsymlinks_source_out oversized oversized_total device setuid setgid fifo; do
    run_case "$name/from" hostile_case "$name" from
    run_case "$name/mirror" hostile_case "$name" mirror
done
run_case prefix_confusion case_prefix_confusion
run_case no_pgsymlinks case_no_pgsymlinks
fetch_finish
