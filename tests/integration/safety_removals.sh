#!/usr/bin/env bash
# pgboot deletes only what it made. Every removal path (a failed initdb into
# a directory the user made or into pgboot's work directory, a killed first
# start's leftovers, a stopped throwaway cluster, the reaper, stale spares,
# half-extracted bundles) is made to run with sentinels around it: files
# beside the tree, in its parent, and a directory that links inside the tree
# point to. Every sentinel must survive, a directory pgboot did not create
# must be left as it was found, and nothing is written into a data directory
# pgboot refuses.
set -euo pipefail
. "$(dirname "$0")/server_lib.sh"
sl_setup

# surround BOX: sentinels beside BOX's future contents, in its parent, and
# an outside directory for links to point at ($BOX/../outside-<name>).
surround() {
    local box=$1
    mkdir -p "$box" "$box-outside"
    echo keep >"$box/sibling-file"
    mkdir -p "$box/sibling-dir"
    echo keep >"$box/sibling-dir/keep"
    echo keep >"$box-outside/keep"
    echo keep >"$(dirname "$box")/parent-sentinel-$(basename "$box")"
    chown -R "$TEST_USER:" "$box" "$box-outside" "$(dirname "$box")/parent-sentinel-$(basename "$box")"
}

check_sentinels() { # BOX WHEN
    local box=$1 when=$2
    check_path "$box/sibling-file" "$when: the file beside it survives"
    check_path "$box/sibling-dir/keep" "$when: the directory beside it survives"
    check_path "$box-outside/keep" "$when: the directory links pointed to survives"
    check_path "$(dirname "$box")/parent-sentinel-$(basename "$box")" "$when: the file in the parent survives"
}

# An initdb that writes part of a cluster (a file, a subdirectory, a link
# pointing out of the data directory), then fails.
failing_initdb() {
    cat >"$U/failing-initdb.sh" <<SH
#!/bin/sh
case "\$1" in --version) echo "initdb (PostgreSQL) 16.14"; exit 0;; esac
while [ \$# -gt 0 ]; do
  if [ "\$1" = "-D" ]; then
    mkdir -p "\$2/base/1" && echo half > "\$2/PG_VERSION" && echo x > "\$2/base/1/f"
    ln -s "$U/box-initdb-outside" "\$2/pg_wal"
  fi
  shift
done
echo "initdb: error: simulated failure half-way" >&2
exit 1
SH
    bundle_with_initdb "$U/failing-initdb.sh" "$U/failinit.tgz" "$U/failinit.json"
}

# The data-loss report: an empty directory the user made, and initdb fails in
# it. The old cleanup's walk matched ".." and removed the parent's files.
case_user_dir_initdb_fails() {
    local app box d
    app=$(app_name userdir)
    box=$U/box-initdb
    d=$box/D
    surround "$box"
    mkdir -p "$d"
    chown "$TEST_USER:" "$d"
    failing_initdb
    pgb start --app "$app" --data-dir "$d" --manifest "$U/failinit.json" --from "$U/failinit.tgz"
    check_rc 1 "start with an initdb that fails in the user's empty directory"
    check_contains "$ERR" "simulated failure half-way" "the error quotes initdb"
    check_sentinels "$box" "failed initdb in the user's directory"
    check_path "$d" "the user's directory is still there"
    check_eq "$(ls -A "$d")" "" "and empty, as it was found"
    check_eq "$(find "$box" -maxdepth 1 -name 'D.init-*' | head -n 3)" "" "no work directory is left"
}

# The same on a real small volume, with the real initdb: the disk fills up.
case_user_volume_full() {
    local app box d
    app=$(app_name volume)
    box=$U/box-volume
    d=$box/D
    surround "$box"
    mount_small_volume "$d" 8
    pgb start --app "$app" --data-dir "$d"
    check_rc 1 "start on a volume too small for a cluster"
    check_contains "$ERR" "initdb failed" "the error says initdb failed"
    check_contains "$ERR" "No space left on device" "the error names the cause (PostgreSQL's FATAL line)"
    check_sentinels "$box" "full volume"
    check_true "the mount point is still mounted" mountpoint -q "$d"
    check_eq "$(ls -A "$d")" "" "the volume is empty again"
}

# initdb fails in pgboot's own work directory beside a data directory that
# does not exist yet; decoys named like work directories but not marked as
# pgboot's (a directory, a link) are left alone.
case_work_dir_full() {
    local app box d
    app=$(app_name workdir)
    box=$U/box-work
    surround "$box"
    mount_small_volume "$box/vol" 8
    d=$box/vol/D
    mkdir -p "$d.init-decoy"
    echo keep >"$d.init-decoy/keep"
    ln -s "$box-outside" "$d.init-link"
    chown -R "$TEST_USER:" "$box/vol"
    pgb start --app "$app" --data-dir "$d"
    check_rc 1 "start whose initdb fills the volume"
    check_sentinels "$box" "full work directory"
    check_no_path "$d" "no data directory is left"
    check_path "$d.init-decoy/keep" "an unmarked directory named like a work directory is left"
    check_true "a link named like a work directory is left" test -L "$d.init-link"
    check_eq "$(find "$box/vol" -maxdepth 1 -name 'D.init-*' ! -name 'D.init-decoy' ! -name 'D.init-link' | head -n 3)" "" \
        "pgboot's own work directory is gone"
}

# wait_for_initdb DIR-PREFIX: an initdb process writing under DIR-PREFIX.
initdb_running() { pgrep -u "$TEST_USER" -f "initdb -D $1" >/dev/null; }

# kill_during_initdb APP [ARGS...]: start, SIGKILL pgboot while initdb runs.
kill_during_initdb() {
    local app=$1 pid prefix
    shift
    prefix=$1
    shift
    as_user "$PGB" start --app "$app" "$@" >/dev/null 2>&1 &
    pid=$!
    register_bg "$pid"
    if ! wait_until 60 initdb_running "$prefix"; then
        nok "initdb did not start"
        return 1
    fi
    # initdb's parent is the pgboot process (the job is a subshell around it).
    local initdb pgboot
    initdb=$(pgrep -u "$TEST_USER" -f "initdb -D $prefix" | head -n 1)
    pgboot=$(ps -o ppid= -p "$initdb" | tr -d ' ')
    check_contains "$(cat "/proc/$pgboot/cmdline" 2>/dev/null | tr '\0' ' ')" "start --app $app" "initdb's parent is pgboot"
    kill -KILL "$pgboot"
    wait "$pid" 2>/dev/null || true
    ok "pgboot killed while initdb runs"
}

# A start killed during initdb: initdb does not run on; the next start
# removes the leftovers (marked ones only) and succeeds.
case_killed_initdb() {
    local app dd decoy
    app=$(app_name killed)
    dd=$(data_dir "$app")
    mkdir -p "$(app_dir "$app")"
    decoy=$dd.init-decoy
    mkdir -p "$decoy"
    echo keep >"$decoy/keep"
    chown -R "$TEST_USER:" "$(app_dir "$app")"
    kill_during_initdb "$app" "$dd.init-" || return 0
    check_true "initdb does not run on after pgboot was killed" wait_until 10 bash -c "! pgrep -u $TEST_USER -f 'initdb -D $dd.init-' >/dev/null"
    local left
    left=$(find "$(app_dir "$app")" -maxdepth 1 -name 'postgres_data.init-*' ! -name '*decoy' | head -n 1)
    check_ne "$left" "" "the killed start left its work directory (what the next start must remove)"
    check_path "$left/.pgboot-work" "the work directory carries pgboot's marker"
    pgb start --app "$app"
    check_rc 0 "the next start succeeds"
    check_eq "$(find "$(app_dir "$app")" -maxdepth 1 -name 'postgres_data.init-*' ! -name '*decoy' | head -n 3)" "" \
        "the next start removed the killed start's work directory (and its password file)"
    check_eq "$(find "$(app_dir "$app")" -name '.pgboot-pw-*' | head -n 3)" "" "no password file is left anywhere"
    check_path "$decoy/keep" "a directory named like a work directory but unmarked is left"
    pgb stop --app "$app"
    check_rc 0 "stop"
}

# The same into an empty directory the user made: the next start empties what
# the killed initdb wrote there (never the directory) and succeeds.
case_killed_initdb_user_dir() {
    local app box d
    app=$(app_name killeduser)
    box=$U/box-killed
    d=$box/D
    surround "$box"
    mkdir -p "$d"
    chown "$TEST_USER:" "$d"
    kill_during_initdb "$app" "$d" --data-dir "$d" || return 0
    check_true "initdb does not run on after pgboot was killed" wait_until 10 bash -c "! pgrep -u $TEST_USER -f 'initdb -D $d' >/dev/null"
    pgb start --app "$app" --data-dir "$d"
    check_rc 0 "the next start into the same directory succeeds"
    check_path "$d/PG_VERSION" "the data directory holds a cluster"
    check_sentinels "$box" "killed initdb in the user's directory"
    pgb stop --app "$app" --data-dir "$d"
    check_rc 0 "stop"
}

# A data directory made by another PostgreSQL major: refused, nothing written.
case_other_major_untouched() {
    local app d before after
    app=$(app_name major)
    d=$U/major-15
    # A cluster of ours, then relabelled as another major's: what matters is
    # that pgboot refuses it before writing anything.
    pgb start --app "$app" --data-dir "$d"
    check_rc 0 "start a cluster"
    pgb stop --app "$app" --data-dir "$d"
    check_rc 0 "stop it"
    echo 15 >"$d/PG_VERSION"
    rm -rf "$d/log"
    chown -R "$TEST_USER:" "$d"
    before=$(cd "$d" && find . -printf '%p %s %T@\n' | sort | sha256sum)
    pgb start --app "$app" --data-dir "$d" --set work_mem=8MB
    check_rc 1 "start of a data directory of PostgreSQL 15"
    check_contains "$ERR" "PostgreSQL 15" "the error names the directory's major"
    check_contains "$ERR" "$d" "the error names the data directory"
    check_contains "$ERR" "hint:" "a way out is given"
    after=$(cd "$d" && find . -printf '%p %s %T@\n' | sort | sha256sum)
    check_eq "$after" "$before" "nothing was written into it (no log/, no settings)"
}

# A stopped throwaway cluster whose directory holds links pointing out; the
# reaper's and the spares' removals with decoys and links around them.
case_ephemeral() {
    local tmp base out
    tmp=$U/eph-tmp
    mkdir -p "$tmp"
    chown "$TEST_USER:" "$tmp"
    surround "$U/box-eph"
    out=$U/box-eph-outside
    # shellcheck disable=SC2016 # expanded by the command's shell
    PGB_ENV=(TMPDIR="$tmp")
    pgb run --ephemeral -- sh -c '
        for d in "$TMPDIR"/pgboot-*/eph-*; do
            ln -s "$1" "$d/link-out"; ln -s "$1" "$d/data/link-out"; ln -s "$d/.." "$d/data/up"
        done' sh "$out"
    check_rc 0 "an ephemeral run whose command planted links in its cluster"
    base=$(echo "$tmp"/pgboot-*)
    wait_until 10 bash -c "! ls -d '$base'/eph-* '$base'/.trash-* >/dev/null 2>&1" ||
        nok "the cluster's directory was not removed"
    check_sentinels "$U/box-eph" "ephemeral stop"
    # Decoys in pgboot's base directory: links named like its entries, and an
    # old ownerless cluster directory and stale spare holding links out.
    ln -s "$out" "$base/eph-decoy-link"
    ln -s "$out" "$base/.trash-decoy-link"
    ln -s "$out" "$base/.spare-tmp-decoy-link"
    mkdir -p "$base/eph-ownerless" "$base/spare-0000000000000000-old"
    ln -s "$out" "$base/eph-ownerless/link-out"
    ln -s "$out" "$base/spare-0000000000000000-old/link-out"
    touch -h -d '1 hour ago' "$base/eph-ownerless" "$base/spare-0000000000000000-old"
    chown -R -h "$TEST_USER:" "$base"/eph-decoy-link "$base"/.trash-decoy-link "$base"/.spare-tmp-decoy-link \
        "$base/eph-ownerless" "$base/spare-0000000000000000-old"
    pgb run --ephemeral -- true
    check_rc 0 "another ephemeral run (it reaps)"
    check_no_path "$base/eph-ownerless" "the ownerless cluster directory was reaped"
    check_no_path "$base/spare-0000000000000000-old" "the stale spare was removed"
    check_true "a link named like a cluster is not touched" test -L "$base/eph-decoy-link"
    check_true "a link named like trash is not touched" test -L "$base/.trash-decoy-link"
    check_true "a link named like a spare copy is not touched" test -L "$base/.spare-tmp-decoy-link"
    PGB_ENV=()
    check_sentinels "$U/box-eph" "reaper and spares"
}

# Half-extracted bundles a killed fetch left in the cache go; links named like
# them, and what links inside them point to, stay.
case_bundle_cache() {
    local cache key out
    cache=$U/cache-fresh
    out=$U/box-cache-outside
    surround "$U/box-cache"
    key=$(basename "$(dirname "$BIN_DIR")")
    mkdir -p "$cache/pgboot/.tmp-$key-killed/bin"
    ln -s "$out" "$cache/pgboot/.tmp-$key-killed/bin/link-out"
    ln -s "$out" "$cache/pgboot/.tmp-$key-link"
    chmod 555 "$cache/pgboot/.tmp-$key-killed/bin"
    chown -R -h "$TEST_USER:" "$cache"
    PGB_ENV=(XDG_CACHE_HOME="$cache")
    pgb fetch --from "$U/bundle.tgz"
    PGB_ENV=()
    check_rc 0 "fetch into a cache holding a killed fetch's leftovers"
    check_no_path "$cache/pgboot/.tmp-$key-killed" "the half-extracted tree is removed"
    check_true "a link named like one is not touched" test -L "$cache/pgboot/.tmp-$key-link"
    check_sentinels "$U/box-cache" "bundle cache"
}

# The throwaway clusters' template cluster: what a killed maker left in the
# cache (marked, its process gone) is removed; an unmarked look-alike is not.
case_template_leftovers() {
    local cache tpl
    cache=$U/cache-tpl
    surround "$U/box-tpl"
    mkdir -p "$cache/pgboot/templates/.tmp-dead/data" "$cache/pgboot/templates/.tmp-decoy"
    printf 'pgboot work directory: removed by pgboot once its creator is gone\npid 999999\nnote template cluster\n' \
        >"$cache/pgboot/templates/.tmp-dead/.pgboot-work"
    ln -s "$U/box-tpl-outside" "$cache/pgboot/templates/.tmp-dead/data/link-out"
    echo keep >"$cache/pgboot/templates/.tmp-decoy/keep"
    mkdir -p "$U/tpl-tmp"
    chown -R -h "$TEST_USER:" "$cache" "$U/tpl-tmp"
    PGB_ENV=(XDG_CACHE_HOME="$cache" TMPDIR="$U/tpl-tmp")
    pgb fetch --from "$U/bundle.tgz"
    check_rc 0 "fetch into a fresh cache"
    pgb run --ephemeral -- true
    check_rc 0 "an ephemeral run builds the template cluster"
    PGB_ENV=()
    check_no_path "$cache/pgboot/templates/.tmp-dead" "the killed maker's marked work directory is removed"
    check_path "$cache/pgboot/templates/.tmp-decoy/keep" "an unmarked look-alike is left"
    tpl=$(find "$cache/pgboot/templates" -maxdepth 1 -name '*-t3' | head -n 1)
    check_path "$tpl/data/PG_VERSION" "the template cluster is in place"
    check_no_path "$tpl/.pgboot-work" "the template in place carries no work marker"
    check_sentinels "$U/box-tpl" "template leftovers"
}

# Test databases: a database the user made with a name like pgboot's is
# never dropped by pgboot testdb; the ones it made are.
case_test_databases() {
    local app url turl mine
    app=$(app_name testdb)
    pgb start --app "$app"
    check_rc 0 "start"
    url=$OUT
    echo "create table t(x int);" >"$U/tpl.sql"
    chown "$TEST_USER:" "$U/tpl.sql"
    pgb testdb --app "$app" --template-sql "$U/tpl.sql"
    check_rc 0 "a test database"
    turl=$OUT
    sql "$url" "create database pgboot_t_12345678_usersown" >/dev/null
    sql "${url%/*}/pgboot_t_12345678_usersown" "create table precious(x int); insert into precious values (7)" >/dev/null
    mine=${url%/*}/pgboot_t_12345678_usersown
    pgb testdb drop "$mine"
    check_rc 1 "testdb drop of the user's database with pgboot's prefix is refused"
    check_contains "$ERR" "not made by pgboot testdb" "the error says why"
    check_eq "$(sql "$mine" "select x from precious")" 7 "the user's database and its rows survive"
    pgb testdb drop "$turl"
    check_rc 0 "testdb drop of pgboot's own test database"
    pgb testdb --app "$app" --template-sql "$U/tpl.sql" --count 3
    check_rc 0 "more test databases (the pool is refilled and collected)"
    check_eq "$(sql "$mine" "select x from precious")" 7 "the user's database survives pgboot's pool work"
    pgb stop --app "$app"
    check_rc 0 "stop"
}

# The migration's staging schema: a schema of that name the user made (no
# pgboot mark) is neither used nor dropped by a migration big enough to stage.
case_staging_schema() {
    local app url db
    app=$(app_name staging)
    pgb start --app "$app"
    check_rc 0 "start"
    url=$OUT
    sql "$url" "create schema pgboot_staging; create table pgboot_staging.precious(x int); insert into pgboot_staging.precious values (42)" >/dev/null
    db=$U/staging-src.sqlite
    "$PY" - "$db" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
c.executemany("INSERT INTO notes (body) VALUES (?)", (("note %d" % i,) for i in range(120000)))
c.commit()
PY
    chown "$TEST_USER:" "$db"
    pgb migrate --sqlite "$db" --app "$app"
    check_rc 0 "a migration big enough to stage, beside the user's schema of the staging name"
    check_eq "$(sql "$url" 'select count(*) from public.notes')" 120000 "the rows arrived"
    check_eq "$(sql "$url" 'select x from pgboot_staging.precious')" 42 "the user's schema and its rows survive"
    pgb stop --app "$app"
    check_rc 0 "stop"
}

run_case user_dir_initdb_fails case_user_dir_initdb_fails
run_case user_volume_full case_user_volume_full
run_case work_dir_full case_work_dir_full
run_case killed_initdb case_killed_initdb
run_case killed_initdb_user_dir case_killed_initdb_user_dir
run_case other_major_untouched case_other_major_untouched
run_case ephemeral case_ephemeral
run_case bundle_cache case_bundle_cache
run_case template_leftovers case_template_leftovers
run_case test_databases case_test_databases
run_case staging_schema case_staging_schema
sl_finish
