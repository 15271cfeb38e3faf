# What the benchmarks share; sourced by each of them (bench/*.sh), never run.
#
# bench_as_user ARGS...
#   As root: PostgreSQL refuses to run as root, so the calling script runs
#   again, with ARGS, as the unprivileged user $PGBOOT_BENCH_USER (default
#   pgbootbench, created as a system user if missing), in a clean
#   environment, in a fresh work directory that the user owns (BENCH_WORK),
#   with a copy of $PGBOOT_BENCH_TARBALL there as bundle.tgz when it is set.
#   The variables named in BENCH_PASS (space-separated) go along too. Not
#   root: returns at once.
# bench_work
#   Sets work (BENCH_WORK, or a new temporary directory), points pgboot's
#   data and cache directories into it, and sets from=(--from BUNDLE) when
#   bench_as_user left a bundle there, else from=().
# bench_cleanup
#   Removes the work directory (the scripts' EXIT traps call it).
# now_ns, median (of the numbers on stdin), bench_psql (the real psql
# binary: Debian's /usr/bin/psql is a Perl wrapper that adds ~40 ms a call).
# shellcheck shell=bash

bench_as_user() {
  [ "$(id -u)" -eq 0 ] || return 0
  local user=${PGBOOT_BENCH_USER:-pgbootbench} work home name
  id "$user" >/dev/null 2>&1 || useradd --system --create-home --shell /usr/sbin/nologin "$user"
  work=$(mktemp -d /tmp/pgboot-bench-XXXXXX)
  chown "$user" "$work"
  if [ -n "${PGBOOT_BENCH_TARBALL:-}" ]; then
    cp "$PGBOOT_BENCH_TARBALL" "$work/bundle.tgz"
    chown "$user" "$work/bundle.tgz"
  fi
  home=$(getent passwd "$user" | cut -d: -f6)
  local pass=()
  for name in ${BENCH_PASS:-}; do pass+=("$name=${!name:-}"); done
  exec setpriv --reuid="$user" --regid="$(id -g "$user")" --init-groups \
    env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$home" BENCH_WORK="$work" "${pass[@]}" \
    bash "$0" "$@"
}

bench_work() {
  work=${BENCH_WORK:-$(mktemp -d)}
  export XDG_DATA_HOME="$work/data" XDG_CACHE_HOME="$work/cache"
  # shellcheck disable=SC2034 # used by the scripts that source this file
  from=()
  # shellcheck disable=SC2034
  if [ -f "$work/bundle.tgz" ]; then from=(--from "$work/bundle.tgz"); fi
}

bench_cleanup() {
  rm -rf "$work" 2>/dev/null || {
    chmod -R u+w "$work"
    rm -rf "$work"
  }
}

now_ns() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

bench_psql() {
  local p
  p=$(ls /usr/lib/postgresql/*/bin/psql 2>/dev/null | sort -V | tail -n1)
  echo "${p:-$(command -v psql)}"
}
