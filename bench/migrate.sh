#!/usr/bin/env bash
# Migration benchmark, in one run, into databases of the same server:
#  1. pgboot migrate of an app-like SQLite database (bench/gen_appdb.py:
#     1,000,000 messages with JSON, booleans, timestamps, blobs, indexes, a
#     partial index, a view, an external-content FTS5 table);
#  2. pgloader (Debian package) of the same file;
#  3. the limit: the same rows COPYed from files (client-side \copy) into the
#     same tables created unindexed, plus the same index and constraint builds
#     (pgboot's own DDL, from --dry-run);
#  4. peak RSS of pgboot and of pgloader.
#   bench/migrate.sh [BUILD_DIR] [MESSAGES]
# As root it runs as the unprivileged user $PGBOOT_BENCH_USER (pgbootbench).
set -euo pipefail
cd "$(dirname "$0")/.."
build=$(cd "${1:-build}" && pwd)
messages=${2:-1000000}
src=$(pwd)

if [ "$(id -u)" -eq 0 ]; then
  command -v pgloader >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgloader >/dev/null
  user=${PGBOOT_BENCH_USER:-pgbootbench}
  id "$user" >/dev/null 2>&1 || useradd --system --create-home --shell /usr/sbin/nologin "$user"
  work=$(mktemp -d /tmp/pgboot-bench-XXXXXX)
  chown "$user" "$work"
  home=$(getent passwd "$user" | cut -d: -f6)
  exec setpriv --reuid="$user" --regid="$(id -g "$user")" --init-groups \
    env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$home" BENCH_WORK="$work" \
    PGBOOT_BENCH_DB="${PGBOOT_BENCH_DB:-}" PGBOOT_BENCH_TARBALL="${PGBOOT_BENCH_TARBALL:-}" \
    bash "$0" "$build" "$messages"
fi

work=${BENCH_WORK:-$(mktemp -d)}
export XDG_DATA_HOME="$work/data" XDG_CACHE_HOME="$work/cache"
trap '"$build/pgboot" stop --app bench >/dev/null 2>&1 || true; chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
psql=$(ls /usr/lib/postgresql/*/bin/psql 2>/dev/null | sort -V | tail -n1)
[ -n "$psql" ] || psql=$(command -v psql)

db=${PGBOOT_BENCH_DB:-}
if [ -z "$db" ] || [ ! -r "$db" ]; then
  db="$work/app.sqlite"
  echo "generating $messages messages ..." >&2
  python3 "$src/bench/gen_appdb.py" "$db" "$messages" >/dev/null
fi
from=()
if [ -n "${PGBOOT_BENCH_TARBALL:-}" ] && [ -r "$PGBOOT_BENCH_TARBALL" ]; then
  from=(--from "$PGBOOT_BENCH_TARBALL")
fi
url=$("$build/pgboot" start --app bench --no-migrate "${from[@]}")
for d in a b c; do "$psql" "$url" -qc "DROP DATABASE IF EXISTS bench_$d" -c "CREATE DATABASE bench_$d" 2>/dev/null; done
ua="${url%/bench}/bench_a"; ub="${url%/bench}/bench_b"; uc="${url%/bench}/bench_c"

# Wall time and peak RSS of a command.
measure() {
  python3 - "$@" <<'PY'
import resource, subprocess, sys, time
t0 = time.monotonic()
p = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
t = time.monotonic() - t0
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
if p.returncode != 0:
    sys.stderr.write(p.stderr.decode(errors="replace")[-2000:])
    sys.exit(p.returncode)
print(f"{t:.3f} {rss}")
PY
}

# CPU time of the whole machine (all processes: pgboot and the backends)
# while pgboot migrates: how close the run is to the cores' limit.
cpu_ticks() { awk '/^cpu / {print $2+$3+$4+$7+$8, $5+$6}' /proc/stat; }
read -r busy0 idle0 < <(cpu_ticks)
read -r t_pgboot rss_pgboot < <(measure "$build/pgboot" migrate --sqlite "$db" --to "$ua")
read -r busy1 idle1 < <(cpu_ticks)
hz=$(getconf CLK_TCK)
read -r t_pgloader rss_pgloader < <(cd "$work" && measure pgloader --root-dir "$work/pgloader" --no-ssl-cert-verification "sqlite://$db" "$ub")

# The limit: pgboot's DDL, split into tables and what follows the data.
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
copy_script="$work/copy.sql"
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
read -r t_limit _ < <(measure "$psql" "$uc" -q -v ON_ERROR_STOP=1 -f "$copy_script")

awk -v a="$t_pgboot" -v b="$t_pgloader" -v c="$t_limit" -v ra="$rss_pgboot" -v rb="$rss_pgloader" \
    -v n="$messages" -v busy=$((busy1 - busy0)) -v idle=$((idle1 - idle0)) -v hz="$hz" -v cores="$(nproc)" 'BEGIN {
  printf "messages: %d\n", n
  printf "pgboot migrate:       %7.1f s   peak RSS %6.1f MB (goal: < 64 MB)\n", a, ra/1024
  printf "  machine CPU meanwhile: %.0f CPU-seconds, %.0f%% of %d cores busy\n", busy/hz, 100*busy/(busy+idle), cores
  printf "pgloader:             %7.1f s   peak RSS %6.1f MB\n", b, rb/1024
  printf "limit (COPY + DDL):   %7.1f s\n", c
  printf "pgloader / pgboot:    %7.2fx  (goal: >= 4x)\n", b/a
  printf "pgboot / limit:       %7.2fx  (goal: <= 1.5x)\n", a/c
}'
