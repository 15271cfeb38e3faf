#!/usr/bin/env bash
# Test-database benchmark, in one run, on one app server with a template of
# 50 tables. The server runs with durability off (fsync, synchronous_commit,
# full_page_writes), as throwaway clusters do: test databases need none, and
# CREATE DATABASE's checkpoints (the pool's refill) would otherwise measure the
# disk. max_connections=60 leaves room for part 3's 8 parallel callers.
#  1. the broker (`pgboot testdb serve`) seen from a Python client on its
#     socket: request sent -> URL line read, 40 requests one after another
#     with 20 ms of "test" (then a drop) between them, the first excluded;
#  2. `pgboot testdb --app` from the command line, the same way (the whole
#     process; the drop untimed), with what a call is made of: process start
#     (`pgboot --version`), attaching (`pgboot url`); and `pgboot testdb`
#     under a broker (PGBOOT_BROKER_SOCKET set);
#  3. the C API (bench_testdb: pgboot_testdb_clone on an open handle).
#   bench/testdb.sh [BUILD_DIR] [ROUNDS]
# As root it runs as the unprivileged user $PGBOOT_BENCH_USER (default
# pgbootbench).
set -euo pipefail
cd "$(dirname "$0")/.."
build=$(cd "${1:-build}" && pwd)
rounds=${2:-40}

# shellcheck source=bench/lib.sh
. bench/lib.sh
bench_as_user "$build" "$rounds"
bench_work
export TMPDIR="$work"
app=benchtdb
pgboot() { "$build/pgboot" "$@"; }
cleanup() {
  pgboot stop --app "$app" >/dev/null 2>&1 || true
  bench_cleanup
}
trap cleanup EXIT
now_us() { echo $(($(date +%s%N) / 1000)); }
# median of the lines of a file, the first excluded
median_of() { tail -n +2 "$1" | median; }

pgboot fetch "${from[@]}" >/dev/null
pgboot start --app "$app" --set fsync=off --set synchronous_commit=off \
  --set full_page_writes=off --set max_connections=60 >/dev/null

sql="$work/schema.sql"
for i in $(seq 50); do
  echo "create table t$i (id bigserial primary key, name text not null, created timestamptz default now(), n int);"
  echo "create index on t$i (name);"
  echo "insert into t$i (name, n) select 'row ' || g, g from generate_series(1, 20) g;"
done >"$sql"
pgboot testdb --app "$app" --template-sql "$sql" | xargs "$build/pgboot" testdb drop # builds the template
sleep 2 # its pool is filled

echo "== 1. the broker, from a Python client on its socket ($rounds requests, 20 ms apart)"
python3 - "$build/pgboot" "$app" "$sql" "$rounds" >"$work/t_broker" <<'PY'
import json, socket, subprocess, sys, time
pgboot, app, sql, rounds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
p = subprocess.Popen([pgboot, "testdb", "serve", "--app", app, "--template-sql", sql],
                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
ready = json.loads(p.stdout.readline())
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(ready["socket"])
f = s.makefile("rb")
time.sleep(1)  # the broker's pool is filled
for i in range(rounds):
    t0 = time.perf_counter_ns()
    s.sendall(b'{"op":"clone"}\n')
    rep = json.loads(f.readline())
    t1 = time.perf_counter_ns()
    print((t1 - t0) // 1000)
    time.sleep(0.02)  # the test
    s.sendall(json.dumps({"op": "drop", "url": rep["url"]}).encode() + b"\n")
    assert json.loads(f.readline()) == {"ok": True}
s.close()
p.stdin.close()
p.wait()
PY
mb=$(median_of "$work/t_broker")

echo "== 2. pgboot testdb from the command line ($rounds calls, 20 ms apart)"
: >"$work/t_cli"; : >"$work/t_version"; : >"$work/t_url"
for i in $(seq "$rounds"); do
  sleep 0.02
  t0=$(now_us); u=$(pgboot testdb --app "$app" --template-sql "$sql"); t1=$(now_us)
  echo $((t1 - t0)) >>"$work/t_cli"
  pgboot testdb drop "$u"
done
for i in $(seq "$rounds"); do
  t0=$(now_us); pgboot --version >/dev/null; t1=$(now_us); echo $((t1 - t0)) >>"$work/t_version"
  t0=$(now_us); pgboot url --app "$app" >/dev/null; t1=$(now_us); echo $((t1 - t0)) >>"$work/t_url"
done
mc=$(median_of "$work/t_cli"); mv=$(median_of "$work/t_version"); mu=$(median_of "$work/t_url")

# the same command under a broker (PGBOOT_BROKER_SOCKET, no template named)
mkfifo "$work/broker.in"
pgboot testdb serve --app "$app" --template-sql "$sql" <"$work/broker.in" >"$work/broker.out" &
bpid=$!
exec 3>"$work/broker.in"
until [ -s "$work/broker.out" ]; do sleep 0.05; done
sock=$(head -n 1 "$work/broker.out" | python3 -c 'import json, sys; print(json.load(sys.stdin)["socket"])')
sleep 1 # its pool is filled
: >"$work/t_under"
for i in $(seq "$rounds"); do
  sleep 0.02
  t0=$(now_us); u=$(PGBOOT_BROKER_SOCKET=$sock pgboot testdb); t1=$(now_us)
  echo $((t1 - t0)) >>"$work/t_under"
  pgboot testdb drop "$u"
done
exec 3>&-
wait "$bpid"
mx=$(median_of "$work/t_under")

awk -v mb="$mb" -v mc="$mc" -v mv="$mv" -v mu="$mu" -v mx="$mx" 'BEGIN {
  printf "broker, request -> URL (Python client):  median %7.2f ms (goal: <= 2 ms)\n", mb/1000
  printf "pgboot testdb --app (whole process):     median %7.1f ms (goal: <= 25 ms)\n", mc/1000
  printf "  of which process start (--version):    median %7.1f ms\n", mv/1000
  printf "  process start + attach (pgboot url):   median %7.1f ms\n", mu/1000
  printf "pgboot testdb under a broker (whole process): median %5.1f ms\n", mx/1000
}'

echo "== 3. the C API (pgboot_testdb_clone on an open handle), same server and template"
"$build/bench/bench_testdb" "$(pgboot url --app "$app")" "$sql" "$rounds"
