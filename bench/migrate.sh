#!/usr/bin/env bash
# Migration benchmark, in one run, into databases of the same server, for two
# variants of an app-like SQLite database (bench/gen_appdb.py: 1,000,000
# messages with JSON, booleans, timestamps, blobs, indexes, a partial index, a
# view, an external-content FTS5 table) -- with the FTS5 table, and the same
# file without it:
#  1. pgboot migrate;
#  2. pgloader (Debian package) of the same file;
#  3. the baseline: the same rows COPYed from files (client-side \copy) into
#     the same tables created unindexed, plus the same index and constraint
#     builds, the foreign keys' validation included (pgboot's own DDL, from
#     --dry-run, which validates them as the migration does); its wall time,
#     and the CPU
#     the server spent on it (postmaster and every backend). The limit is
#     that CPU divided by the cores: no migration can load and index the
#     same data faster on this machine;
#  4. peak RSS of pgboot and of pgloader.
#   bench/migrate.sh [BUILD_DIR] [MESSAGES]
# A smaller MESSAGES (e.g. 200000) is a quick run for iteration; the README's
# figures come from the full one.
# As root it runs as the unprivileged user $PGBOOT_BENCH_USER (pgbootbench).
set -euo pipefail
cd "$(dirname "$0")/.."
build=$(cd "${1:-build}" && pwd)
messages=${2:-1000000}
src=$(pwd)

# shellcheck source=bench/lib.sh
. bench/lib.sh
if [ "$(id -u)" -eq 0 ] && ! command -v pgloader >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgloader >/dev/null
fi
BENCH_PASS=PGBOOT_BENCH_DB bench_as_user "$build" "$messages"
bench_work
trap '"$build/pgboot" stop --app bench >/dev/null 2>&1 || true; bench_cleanup' EXIT
psql=$(bench_psql)

db=${PGBOOT_BENCH_DB:-}
if [ -z "$db" ] || [ ! -r "$db" ]; then
  db="$work/app.sqlite"
  echo "generating $messages messages ..." >&2
  python3 "$src/bench/gen_appdb.py" "$db" "$messages" >/dev/null
fi
url=$("$build/pgboot" start --app bench --no-migrate "${from[@]}")
# Wall time, peak RSS and CPU-seconds (user + system) of a command.
measure() {
  python3 - "$@" <<'PY'
import resource, subprocess, sys, time
t0 = time.monotonic()
p = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
t = time.monotonic() - t0
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
if p.returncode != 0:
    sys.stderr.write(p.stderr.decode(errors="replace")[-2000:])
    sys.exit(p.returncode)
print(f"{t:.3f} {ru.ru_maxrss} {ru.ru_utime + ru.ru_stime:.3f}")
PY
}

# CPU time of the whole machine (all processes: pgboot and the backends)
# while pgboot migrates: how close the run is to the cores' limit.
cpu_ticks() { awk '/^cpu / {print $2+$3+$4+$7+$8, $5+$6}' /proc/stat; }
hz=$(getconf CLK_TCK)

# CPU ticks of the server: the postmaster's own and its reaped children's,
# and those of its children alive now.
postmaster=$(head -n1 "$(find "$work/data" -name postmaster.pid | head -n1)")
server_ticks() {
  python3 - "$postmaster" <<'PY'
import os, sys
pm = sys.argv[1]
def fields(pid):
    s = open(f"/proc/{pid}/stat").read()
    return s[s.rindex(")") + 2:].split()
f = fields(pm)
total = sum(int(x) for x in f[11:15])
for pid in os.listdir("/proc"):
    if pid.isdigit():
        try:
            f = fields(pid)
        except OSError:
            continue
        if f[1] == pm:
            total += int(f[11]) + int(f[12])
print(total)
PY
}
# Wait (up to a minute) until no autovacuum worker runs, so that the
# baseline's server CPU is its own.
quiet() {
  for _ in $(seq 120); do
    [ "$("$psql" "$url" -Atc "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'")" = 0 ] && return
    sleep 0.5
  done
}

# One variant: pgboot, pgloader and the baseline on the file $1; prints
# "t_pgboot rss_pgboot busy idle t_pgloader rss_pgloader t_base cpu_base
# cpu_pgboot".
run_variant() {
  local db=$1
  for d in a b c; do "$psql" "$url" -qc "DROP DATABASE IF EXISTS bench_$d" -c "CREATE DATABASE bench_$d" 2>/dev/null; done
  local ua="${url%/bench}/bench_a" ub="${url%/bench}/bench_b" uc="${url%/bench}/bench_c"
  local busy0 idle0 busy1 idle1 t_pgboot rss_pgboot cpu_pgboot t_pgloader rss_pgloader t_base s0 s1
  quiet
  read -r busy0 idle0 < <(cpu_ticks)
  read -r t_pgboot rss_pgboot cpu_pgboot < <(measure "$build/pgboot" migrate --sqlite "$db" --to "$ua")
  read -r busy1 idle1 < <(cpu_ticks)
  read -r t_pgloader rss_pgloader _ < <(cd "$work" && measure pgloader --root-dir "$work/pgloader" --no-ssl-cert-verification "sqlite://$db" "$ub")

  # The baseline: pgboot's DDL, split into tables and what follows the data.
  "$build/pgboot" migrate --sqlite "$db" --dry-run >"$work/dry.out" 2>/dev/null
  python3 - "$work" <<'PY'
import sys
work = sys.argv[1]
text = open(f"{work}/dry.out").read()
ddl = text[:text.index("\n{\n")] if "\n{\n" in text else text
stmts = [s.strip() for s in ddl.split(";\n") if s.strip()]
tables = [s for s in stmts if s.startswith("CREATE TABLE")]
rest = [s for s in stmts if not s.startswith("CREATE TABLE")]
open(f"{work}/tables.sql", "w").write(";\n".join(tables) + ";\n")
open(f"{work}/rest.sql", "w").write(";\n".join(rest) + ";\n")
names = [s.split('"')[1] for s in tables]
open(f"{work}/names", "w").write("\n".join(names) + "\n")
PY
  local copy_script="$work/copy.sql" t cols
  {
    echo "BEGIN;"
    echo "\\i $work/tables.sql"
    while read -r t; do
      cols=$("$psql" "$ua" -Atc "SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute WHERE attrelid = 'public.\"$t\"'::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = ''")
      "$psql" "$ua" -qc "\\copy \"$t\" ($cols) TO '$work/$t.copy'"
      echo "\\copy \"$t\" ($cols) FROM '$work/$t.copy'"
    done <"$work/names"
    echo "\\i $work/rest.sql"
    echo "COMMIT;"
  } >"$copy_script"
  quiet
  s0=$(server_ticks)
  read -r t_base _ _ < <(measure "$psql" "$uc" -q -v ON_ERROR_STOP=1 -f "$copy_script")
  sleep 1 # the backend's exit, reaped by the postmaster
  s1=$(server_ticks)
  rm -f "$work"/*.copy
  for d in a b c; do "$psql" "$url" -qc "DROP DATABASE IF EXISTS bench_$d" 2>/dev/null; done
  echo "$t_pgboot $rss_pgboot $((busy1 - busy0)) $((idle1 - idle0)) $t_pgloader $rss_pgloader $t_base $((s1 - s0)) $cpu_pgboot"
}

# The same file without its FTS5 table (and its shadow tables).
nofts="$work/app-nofts.sqlite"
cp "$db" "$nofts"
python3 - "$nofts" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE 'CREATE VIRTUAL TABLE%USING fts5%'").fetchall():
    db.execute(f'DROP TABLE "{name}"')
db.commit()
db.execute("VACUUM")
db.close()
PY

echo "with FTS5 ..." >&2
read -r -a fts < <(run_variant "$db")
echo "without FTS5 ..." >&2
read -r -a plain < <(run_variant "$nofts")

report() {
  awk -v what="$1" -v a="$2" -v ra="$3" -v busy="$4" -v idle="$5" -v b="$6" -v rb="$7" -v c="$8" \
      -v sc="$9" -v own="${10}" -v hz="$hz" -v cores="$(nproc)" -v goal_pgl="${11}" 'BEGIN {
  lim = sc / hz / cores
  printf "%s\n", what
  printf "  pgboot migrate:       %7.1f s   peak RSS %6.1f MB (goal: < 64 MB)\n", a, ra/1024
  printf "    pgboot itself: CPU %.1f s; machine CPU meanwhile: %.0f CPU-seconds, %.0f%% of %d cores busy\n", own, busy/hz, 100*busy/(busy+idle), cores
  printf "  pgloader:             %7.1f s   peak RSS %6.1f MB\n", b, rb/1024
  printf "  baseline (COPY + DDL): %6.1f s   server CPU %.1f s\n", c, sc/hz
  printf "  limit (server CPU / %d cores): %.1f s\n", cores, lim
  printf "  pgloader / pgboot:    %7.2fx  (goal: >= %sx)\n", b/a, goal_pgl
  printf "  pgboot / limit:       %7.2fx%s\n", a/lim, goal_pgl == "1.2" ? "  (goal: <= 1.2x)" : ""
  printf "  pgboot / baseline:    %7.2fx\n", a/c
}'
}
echo "messages: $messages"
report "with FTS5:" "${fts[@]}" 1.2
report "without FTS5:" "${plain[@]}" 4
