#!/usr/bin/env bash
# Memory benchmark of the budget (--memory): at each budget, a fresh cluster
# started with `pgboot start --memory B`, then
#  1. the idle footprint: the server tree's PSS (`pgboot status --json`,
#     memory_pss_bytes) once it has settled;
#  2. the peak under a load: Debian's pgbench (postgresql-contrib; its
#     /usr/lib/postgresql/*/bin/pgbench), TPC-B-like, 8 clients, 2 threads,
#     DURATION seconds, on a scale-10 database (~160 MB); the PSS sampled
#     every 0.5 s;
# and checks that both stay within the budget (exit 1 if not).
#   bench/memory.sh [BUILD_DIR] [DURATION] [BUDGETS]
#   (defaults: build, 60, "256MB 1GB 2GB")
# As root it runs as the unprivileged user $PGBOOT_BENCH_USER (default
# pgbootbench, created if missing), since PostgreSQL refuses to run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
build=$(cd "${1:-build}" && pwd)
duration=${2:-60}
budgets=${3:-256MB 1GB 2GB}

pgbench=${PGBENCH:-$(find /usr/lib/postgresql/*/bin -name pgbench 2>/dev/null | sort -V | tail -n1)}
if [ ! -x "$pgbench" ]; then
  echo "memory.sh: pgbench is needed (apt-get install postgresql-contrib)" >&2
  exit 2
fi

# shellcheck source=bench/lib.sh
. bench/lib.sh
PGBENCH=$pgbench BENCH_PASS=PGBENCH bench_as_user "$build" "$duration" "$budgets"
bench_work
apps=()
cleanup() {
  for a in "${apps[@]}"; do "$build/pgboot" stop --app "$a" >/dev/null 2>&1 || true; done
  bench_cleanup
}
trap cleanup EXIT
pgboot() { "$build/pgboot" "$@"; }
pss_of() { # APP: the server tree's PSS in kB
  pgboot status --app "$1" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["memory_pss_bytes"] // 1024)'
}
to_kb() { # 512MB -> kB
  case $1 in
  *GB) echo $((${1%GB} * 1024 * 1024)) ;;
  *MB) echo $((${1%MB} * 1024)) ;;
  *kB) echo "${1%kB}" ;;
  esac
}

pgboot fetch "${from[@]}" >/dev/null
echo "pgbench: $pgbench; 8 clients, 2 threads, ${duration} s, scale 10"
printf '%-8s %14s %14s %12s %10s %s\n' budget "idle PSS MB" "peak PSS MB" "peak/budget" tps within
status=0
for b in $budgets; do
  app=bench-mem-$b
  apps+=("$app")
  url=$(pgboot start --app "$app" --memory "$b" "${from[@]}")
  sleep 3 # let the idle server settle
  idle=$(pss_of "$app")
  "$pgbench" -i -q -s 10 "$url" >/dev/null 2>&1
  "$pgbench" -c 8 -j 2 -T "$duration" -n "$url" >"$work/pgbench.out" 2>&1 &
  bench=$!
  peak=0
  while kill -0 "$bench" 2>/dev/null; do
    v=$(pss_of "$app" 2>/dev/null || echo 0)
    [ "$v" -gt "$peak" ] && peak=$v
    sleep 0.5
  done
  wait "$bench" || { cat "$work/pgbench.out" >&2; exit 1; }
  tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$work/pgbench.out" | head -n1)
  kb=$(to_kb "$b")
  within=yes
  if [ "$idle" -gt "$kb" ] || [ "$peak" -gt "$kb" ]; then within=NO; status=1; fi
  awk -v b="$b" -v i="$idle" -v p="$peak" -v k="$kb" -v t="$tps" -v w="$within" 'BEGIN {
    printf "%-8s %14.1f %14.1f %11.0f%% %10.0f %s\n", b, i/1024, p/1024, 100*p/k, t, w }'
  pgboot stop --app "$app" 2>/dev/null
done
exit $status
