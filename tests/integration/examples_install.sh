#!/usr/bin/env bash
# `cmake --install` gives a usable pgboot: the CLI, the library, pgboot.h, a
# pkg-config file and a CMake package. The examples build against it both
# ways and run against the real bundle, as an unprivileged user.
set -euo pipefail
: "${PGBOOT_BUILD_DIR:?}" "${PGBOOT_SOURCE_DIR:?}" "${PGBOOT_TEST_TARBALL:?}" "${PGBOOT_TEST_TMP:?}"
fail() { echo "FAIL: $*" >&2; exit 1; }
t=$PGBOOT_TEST_TMP
rm -rf "$t"; mkdir -p "$t"
cleanup() { chmod -R u+w "$t" 2>/dev/null || true; rm -rf "$t"; }
trap cleanup EXIT

prefix="$t/prefix"
cmake --install "$PGBOOT_BUILD_DIR" --prefix "$prefix" >/dev/null
for f in bin/pgboot include/pgboot.h; do [ -e "$prefix/$f" ] || fail "$f not installed"; done
libdir=$(dirname "$(find "$prefix" -name 'libpgboot.so' | head -n1)")
[ -n "$libdir" ] && [ -e "$libdir/libpgboot.a" ] || fail "libpgboot.so / libpgboot.a not installed"
[ -e "$libdir/pkgconfig/pgboot.pc" ] || fail "pgboot.pc not installed"
[ -e "$libdir/cmake/pgboot/pgbootConfig.cmake" ] || fail "CMake package not installed"

# pkg-config
export PKG_CONFIG_PATH="$libdir/pkgconfig"
# A sanitized build's library needs its consumers linked with the sanitizers.
extra=${PGBOOT_EXAMPLE_CFLAGS:-}
# shellcheck disable=SC2046,SC2086 # pkg-config output and flags are split on purpose
cc -Wall -Werror $extra "$PGBOOT_SOURCE_DIR/examples/host_api.c" $(pkg-config --cflags --libs pgboot) \
   -o "$t/host_api" || fail "host_api does not build with pkg-config"
cc -Wall -Werror $extra "$PGBOOT_SOURCE_DIR/examples/spawn_serve.c" -o "$t/spawn_serve" ||
  fail "spawn_serve does not build"
# find_package(pgboot) -> pgboot::pgboot
cmake -S "$PGBOOT_SOURCE_DIR/examples/cmake_consumer" -B "$t/consumer" \
      -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_FLAGS="$extra" >/dev/null ||
  fail "find_package(pgboot) failed"
cmake --build "$t/consumer" >/dev/null || fail "the CMake consumer does not build"

# Run them as an unprivileged user (PostgreSQL refuses root), from a place
# that user can reach wherever the checkout is (a clone may sit in a 0700
# directory).
user=pgboottest
if ! id "$user" >/dev/null 2>&1; then
  flock /tmp/pgboot-test-user.lock sh -c "id $user >/dev/null 2>&1 || useradd --create-home --shell /bin/bash $user"
fi
u=$(mktemp -d /tmp/pgboot-examples-XXXXXX)
cleanup() { chmod -R u+w "$t" "$u" 2>/dev/null || true; rm -rf "$t" "$u"; }
trap cleanup EXIT
cp -r "$prefix" "$u/prefix"
cp "$t/host_api" "$t/spawn_serve" "$u/"
cp "$t/consumer/host_api" "$u/host_api_cmake"
cp "$PGBOOT_TEST_TARBALL" "$u/bundle.tgz"
mkdir -p "$u/home"
chown -R "$user" "$u"
chmod 755 "$u"
ulib=$u/prefix/${libdir#"$prefix"/}
as_user() {
  setpriv --reuid="$user" --regid="$(id -g "$user")" --init-groups \
    env -i PATH=/usr/bin:/bin HOME="$u/home" XDG_DATA_HOME="$u/home/data" \
    XDG_CACHE_HOME="$u/home/cache" PGBOOT_MIRROR=file:///nonexistent \
    LD_LIBRARY_PATH="$ulib" "$@"
}
out=$(as_user "$u/host_api" ex-host "$u/bundle.tgz") || fail "host_api failed: $out"
echo "$out" | grep -q '^url postgresql://ex-host:' || fail "host_api printed no URL: $out"
echo "$out" | grep -q 'started_here 1' || fail "host_api did not start the server: $out"
echo "$out" | grep -q '^stopped$' || fail "host_api did not stop: $out"
out=$(as_user "$u/host_api_cmake" ex-host) || fail "the CMake-built host_api failed: $out"
echo "$out" | grep -q '^stopped$' || fail "CMake-built host_api: $out"
out=$(as_user "$u/spawn_serve" "$u/prefix/bin/pgboot" ex-serve) || fail "spawn_serve failed: $out"
echo "$out" | grep -q '^ready postgresql://ex-serve:' || fail "spawn_serve got no ready line: $out"
echo "$out" | grep -q '"event":"stopped"' || fail "serve did not report stopping: $out"
echo "$out" | grep -q 'serve exited with 0' || fail "serve exit status: $out"
echo "ok: installed pgboot builds and runs both examples"
