#!/usr/bin/env bash
# Server benchmark, in one run, as ratios against baselines measured alongside:
#  1. start of an existing, stopped cluster until ready: `pgboot start` against
#     `pg_ctl start -w` (the bundle's own) on the same data directory;
#  2. attaching to a running server: `pgboot url` (median, whole process);
#  3. memory of the idle server tree: sum of PSS of all its processes.
#   bench/server.sh [BUILD_DIR] [ROUNDS]
# As root it runs as the unprivileged user $PGBOOT_BENCH_USER (default
# pgbootbench, created if missing), since PostgreSQL refuses to run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
build=$(cd "${1:-build}" && pwd)
rounds=${2:-15}

# shellcheck source=bench/lib.sh
. bench/lib.sh
bench_as_user "$build" "$rounds"
bench_work
trap 'pgboot stop --app bench >/dev/null 2>&1 || true; bench_cleanup' EXIT
pgboot() { "$build/pgboot" "$@"; }
bin=$(pgboot fetch "${from[@]}")
pgboot start --app bench "${from[@]}" >/dev/null
pgboot stop --app bench 2>/dev/null
data="$XDG_DATA_HOME/bench/postgres_data"
sock="$XDG_DATA_HOME/bench/run"
port=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["port"])' "$XDG_DATA_HOME/bench/pgboot.state")

: >"$work/t_pgboot"; : >"$work/t_pgctl"
for _ in $(seq "$rounds"); do
  t0=$(now_ns); pgboot start --app bench >/dev/null; t1=$(now_ns)
  echo $(( (t1 - t0) / 1000 )) >>"$work/t_pgboot"
  pgboot stop --app bench 2>/dev/null
  t0=$(now_ns)
  "$bin/pg_ctl" -D "$data" -o "-p $port -k $sock" -l "$data/log/pg_ctl.log" -w start >/dev/null
  t1=$(now_ns)
  echo $(( (t1 - t0) / 1000 )) >>"$work/t_pgctl"
  "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null
done
mp=$(median <"$work/t_pgboot"); mc=$(median <"$work/t_pgctl")

pgboot start --app bench >/dev/null
: >"$work/t_url"
for _ in $(seq 50); do
  t0=$(now_ns); pgboot url --app bench >/dev/null; t1=$(now_ns)
  echo $(( (t1 - t0) / 1000 )) >>"$work/t_url"
done
mu=$(median <"$work/t_url")

sleep 2 # let the idle server settle
pid=$(head -n1 "$data/postmaster.pid")
pss=0
for p in $pid $(pgrep -P "$pid"); do
  v=$(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0)
  pss=$((pss + v))
done
nproc_tree=$(( $(pgrep -P "$pid" | wc -l) + 1 ))

awk -v mp="$mp" -v mc="$mc" -v mu="$mu" -v pss="$pss" -v n="$nproc_tree" -v r="$rounds" 'BEGIN {
  printf "rounds: %d\n", r
  printf "start of a stopped cluster, pgboot start:     median %7.1f ms\n", mp/1000
  printf "start of a stopped cluster, pg_ctl start -w:  median %7.1f ms\n", mc/1000
  printf "speed-up over pg_ctl:                         %.2fx   (goal: >= 1.5x)\n", mc/mp
  printf "attach to a running server, pgboot url:       median %7.2f ms (goal: < 10 ms)\n", mu/1000
  printf "idle server tree: %d processes, PSS sum       %7.1f MB (goal: < 16 MB)\n", n, pss/1024
}'
