#!/usr/bin/env bash
# `cmake --install` gives a usable pgboot: the CLI, the library, pgboot.h, a
# pkg-config file and a CMake package. The examples build against it both
# ways and run against the real bundle, as an unprivileged user.
set -euo pipefail
. "$(dirname "$0")/lib/harness.sh"
: "${PGBOOT_BUILD_DIR:?}" "${PGBOOT_TEST_TARBALL:?}"
harness_scratch
PREFIX=$T/prefix
# A sanitized build's library needs its consumers linked with the sanitizers.
EXTRA=${PGBOOT_EXAMPLE_CFLAGS:-}

# built NAME CMD...: CMD builds NAME (its output is shown when it does not).
built() {
    local name=$1 out
    shift
    if out=$("$@" 2>&1); then ok "$name"; else nok "$name: $(head -c 1500 <<<"$out")"; return 1; fi
}

case_install_and_build() {
    local f libdir
    cmake --install "$PGBOOT_BUILD_DIR" --prefix "$PREFIX" >/dev/null
    for f in bin/pgboot include/pgboot.h; do check_path "$PREFIX/$f" "$f installed"; done
    libdir=$(dirname "$(find "$PREFIX" -name 'libpgboot.so' | head -n1)")
    check_path "$libdir/libpgboot.so" "libpgboot.so installed"
    check_path "$libdir/libpgboot.a" "libpgboot.a installed"
    check_path "$libdir/pkgconfig/pgboot.pc" "pgboot.pc installed"
    check_path "$libdir/cmake/pgboot/pgbootConfig.cmake" "the CMake package installed"
    echo "$libdir" >"$T/libdir"

    # pkg-config
    export PKG_CONFIG_PATH="$libdir/pkgconfig"
    # shellcheck disable=SC2046,SC2086 # pkg-config output and flags are split on purpose
    built "host_api builds with pkg-config" \
        cc -Wall -Werror $EXTRA "$PGBOOT_SOURCE_DIR/examples/host_api.c" $(pkg-config --cflags --libs pgboot) -o "$T/host_api"
    # shellcheck disable=SC2086 # flags are split on purpose
    built "spawn_serve builds" cc -Wall -Werror $EXTRA "$PGBOOT_SOURCE_DIR/examples/spawn_serve.c" -o "$T/spawn_serve"
    # find_package(pgboot) -> pgboot::pgboot
    built "find_package(pgboot) configures" cmake -S "$PGBOOT_SOURCE_DIR/examples/cmake_consumer" -B "$T/consumer" \
        -DCMAKE_PREFIX_PATH="$PREFIX" -DCMAKE_C_FLAGS="$EXTRA"
    built "the CMake consumer builds" cmake --build "$T/consumer"
}

# ran NAME CMD...: CMD as the test user must exit 0; sets OUT (its stdout).
ran() {
    local name=$1 rc=0
    shift
    OUT=$(as_user "$@" 2>"$T/ran.err") || rc=$?
    if ((rc == 0)); then ok "$name exits 0"; else nok "$name failed (status $rc): $OUT $(head -c 1500 "$T/ran.err")"; fi
}

# Run them as an unprivileged user (PostgreSQL refuses root), from the user's
# area (reachable wherever the checkout is), with an empty bundle cache.
case_run_as_user() {
    local libdir
    libdir=$(cat "$T/libdir")
    cp -r "$PREFIX" "$U/prefix"
    cp "$T/host_api" "$T/spawn_serve" "$U/"
    cp "$T/consumer/host_api" "$U/host_api_cmake"
    chown -R "$TEST_USER:$USER_GID" "$U"
    user_env_set "LD_LIBRARY_PATH=$U/prefix/${libdir#"$PREFIX"/}"

    ran host_api "$U/host_api" ex-host "$U/bundle.tgz"
    check_match "$OUT" '^url postgresql://ex-host:' "host_api prints the URL"
    check_contains "$OUT" 'started_here 1' "host_api started the server"
    check_match "$OUT" '^memory [0-9]+\.[0-9] MB \(PSS of [0-9]+ processes\)$' "host_api reads the server tree's memory (pgboot_server_memory)"
    check_match "$OUT" '^stopped$' "host_api stopped it"
    ran "the CMake-built host_api" "$U/host_api_cmake" ex-host
    check_match "$OUT" '^stopped$' "the CMake-built host_api runs"
    ran spawn_serve "$U/spawn_serve" "$U/prefix/bin/pgboot" ex-serve
    check_match "$OUT" '^ready postgresql://ex-serve:' "spawn_serve gets the ready line"
    check_contains "$OUT" '"event":"stopped"' "serve reports stopping"
    check_contains "$OUT" 'serve exited with 0' "serve exits 0"
}

harness_user_area --no-seed
run_case install_and_build case_install_and_build
run_case run_as_user case_run_as_user
harness_finish
