#!/usr/bin/env bash
# Throwaway-database benchmark, in one run, as ratios against baselines run
# alongside:
#  1. `pgboot run --ephemeral -- psql -c 'select 1'` end to end, against
#     initdb + pg_ctl start -w + the same query + pg_ctl stop + rm -rf, from the
#     same bundle;
#  2. a fresh database from a template with 50 tables (pgboot testdb, in
#     process), and the throughput of 8 parallel callers.
#   bench/ephemeral.sh [BUILD_DIR] [ROUNDS]
# psql: the real binary is used (Debian's /usr/bin/psql is a Perl wrapper that
# adds ~40 ms to every call, for both sides alike). As root it runs as the
# unprivileged user $PGBOOT_BENCH_USER (default pgbootbench).
set -euo pipefail
cd "$(dirname "$0")/.."
build=$(cd "${1:-build}" && pwd)
rounds=${2:-15}

# shellcheck source=bench/lib.sh
. bench/lib.sh
bench_as_user "$build" "$rounds"
bench_work
trap bench_cleanup EXIT
pgboot() { "$build/pgboot" "$@"; }
psql=$(bench_psql)
bin=$(pgboot fetch "${from[@]}")
pgboot run --ephemeral -- true # builds the template once (not measured)

: >"$work/t_eph"; : >"$work/t_base"
for i in $(seq "$rounds"); do
  t0=$(now_ns); pgboot run --ephemeral -- "$psql" -qAtc 'select 1' >/dev/null; t1=$(now_ns)
  echo $(( (t1 - t0) / 1000 )) >>"$work/t_eph"
  d="$work/base$i"
  printf 'pw\n' >"$work/pw"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  t0=$(now_ns)
  "$bin/initdb" -D "$d" -U postgres --pwfile="$work/pw" -A scram-sha-256 -E UTF8 \
    --locale=C.UTF-8 -N >/dev/null
  "$bin/pg_ctl" -D "$d" -o "-p $port -k $d -c listen_addresses=127.0.0.1 -c fsync=off" \
    -l "$d/log" -w start >/dev/null
  PGPASSWORD=pw "$psql" -h 127.0.0.1 -p "$port" -U postgres -qAtc 'select 1' >/dev/null
  "$bin/pg_ctl" -D "$d" -m immediate -w stop >/dev/null
  rm -rf "$d"
  t1=$(now_ns)
  echo $(( (t1 - t0) / 1000 )) >>"$work/t_base"
done
me=$(median <"$work/t_eph"); mb=$(median <"$work/t_base")
awk -v me="$me" -v mb="$mb" -v r="$rounds" -v p="$psql" 'BEGIN {
  printf "rounds: %d, psql: %s\n", r, p
  printf "pgboot run --ephemeral -- psql:            median %7.1f ms (goal: <= 100 ms)\n", me/1000
  printf "initdb + pg_ctl start + psql + stop + rm:  median %7.1f ms\n", mb/1000
  printf "speed-up:                                  %.1fx   (goal: >= 5x)\n", mb/me
}'

# 50 tables with indexes and a few rows, as an app schema would have.
sql="$work/schema.sql"
for i in $(seq 50); do
  echo "create table t$i (id bigserial primary key, name text not null, created timestamptz default now(), n int);"
  echo "create index on t$i (name);"
  echo "insert into t$i (name, n) select 'row ' || g, g from generate_series(1, 20) g;"
done >"$sql"
echo "== template clones on an ephemeral cluster (durability off)"
pgboot run --ephemeral -- sh -c "exec \"$build/bench/bench_testdb\" \"\$DATABASE_URL\" \"$sql\" $rounds"
