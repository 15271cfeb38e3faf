#!/usr/bin/env bash
# A big table's types come from its first 100,000 rows, and its load reads
# the rest while it sends them (issue 10, speed: the server no longer waits
# for a whole scan before the first row). The load sees every value as a
# whole scan would; when the rest does not fit the types of the first rows,
# the migration starts over, scanning every table whole, and ends exactly as
# a migration without the shortcut: the types a whole scan chooses, every
# value, the same refusal of values that cannot be stored, the same rejects.
# The report's load.restarted says whether it started over. The same holds
# where the first rows' types would decide before any row is sent: a CREATE
# TABLE they make fail, a refusal before anything is written (its values, a
# zero-date DEFAULT), a table SQLite cannot read past them.
set -euo pipefail
. "$(dirname "$0")/mig_lib.sh"

ml_setup
ml_server

# big_db PATH LATER: a table of 120,000 rows (over the 100,000 of the first
# rows); LATER is Python run on the open connection c after the rows went in
# (the changes past the first rows).
big_db() {
    mkdb "$1" '
c.execute("BEGIN")
c.execute("CREATE TABLE small (id INTEGER PRIMARY KEY, name TEXT)")
c.executemany("INSERT INTO small VALUES (?, ?)", [(1, "a"), (2, "b")])
c.execute("""CREATE TABLE big (id INTEGER PRIMARY KEY, n, k INTEGER, at DATETIME, j JSON,
             s TEXT)""")
c.executemany("INSERT INTO big VALUES (?, ?, ?, ?, ?, ?)",
              ((i, i * 3, i % 1000, "2024-%02d-%02d 10:%02d:00" % (1 + i % 12, 1 + i % 28, i % 60),
                "{\"i\": %d}" % i, "row %d" % i) for i in range(1, 120001)))
'"$2"'
c.execute("COMMIT")'
}

# md5 of a column of big, from SQLite (each value as text; NULL as "-").
lite_md5() {
    "$PY" - "$1" "$2" <<'PY'
import hashlib, sqlite3, sys
rows = sqlite3.connect(sys.argv[1]).execute(f"SELECT CASE WHEN {sys.argv[2]} IS NULL THEN '-' ELSE CAST({sys.argv[2]} AS TEXT) END FROM big ORDER BY id")
print(hashlib.md5(",".join(r[0] for r in rows).encode()).hexdigest())
PY
}
pg_md5() { q "$1" "SELECT md5(string_agg(coalesce($2::text, '-'), ',' ORDER BY id)) FROM big"; }

case_held() {
    local db url rep
    db=$U/src/held.db
    big_db "$db" ''
    url=$(newdb held)
    rep=$U/out/held.json
    pgb migrate --sqlite "$db" --to "$url" --verify full --report "$rep"
    check_rc 0 "a big table whose later rows fit the first rows' types"
    check_eq "$(rj "$rep" 'd.get("load")')" '{"connections": 2, "staged": true, "restarted": false}' \
        "staged over two connections, not started over"
    check_eq "$(coltype "$url" big n)/$(coltype "$url" big at)/$(coltype "$url" big j)/$(coltype "$url" big s)" \
        "bigint/timestamp without time zone/jsonb/text" "the types of the values"
    check_eq "$(q "$url" "SELECT count(*) FROM big")" 120000 "every row"
    check_eq "$(rj "$rep" 'tab("big").get("rows")')" 120000 "the report counts every row, not the first ones"
    check_eq "$(pg_md5 "$url" n)" "$(lite_md5 "$db" n)" "every value of n"
}

case_later_type() {
    local db url rep dry
    db=$U/src/later.db
    # past the first rows: a text among the integers of the untyped column, a
    # time zone among the naive timestamps, a JSON column's value that is not
    # JSON
    big_db "$db" '
c.execute("UPDATE big SET n = '"'"'x7'"'"' WHERE id = 110000")
c.execute("UPDATE big SET at = '"'"'2024-03-01 10:00:00+02:00'"'"' WHERE id = 119999")
c.execute("UPDATE big SET j = '"'"'not json'"'"' WHERE id = 105000")'
    url=$(newdb later)
    rep=$U/out/later.json
    pgb migrate --sqlite "$db" --to "$url" --verify full --report "$rep"
    check_rc 0 "a big table whose later rows need other types"
    check_eq "$(rj "$rep" 'd.get("load")')" '{"connections": 2, "staged": true, "restarted": true}' \
        "the report says it started over"
    check_eq "$(coltype "$url" big n)/$(coltype "$url" big at)/$(coltype "$url" big j)" "text/text/text" \
        "the types a whole scan chooses (text beside integers; naive beside zoned; a JSON column with a text that is not JSON)"
    check_eq "$(pg_md5 "$url" n)" "$(lite_md5 "$db" n)" "every value of n, the text too"
    check_eq "$(pg_md5 "$url" at)" "$(lite_md5 "$db" at)" "every value of at"
    check_eq "$(pg_md5 "$url" j)" "$(lite_md5 "$db" j)" "every value of j"
    check_eq "$(q "$url" "SELECT count(*) FROM big")/$(q "$url" "SELECT count(*) FROM small")" "120000/2" "every row, once"
    check_eq "$(q "$url" "SELECT count(*) FROM pg_namespace WHERE nspname = 'pgboot_staging'")" 0 "no staging schema left"
    check_eq "$(mig_count "$url")" 1 "recorded once"
    # the dry run scans every row: the same types
    pgb migrate --sqlite "$db" --dry-run
    dry=$OUT
    check_rc 0 "--dry-run"
    check_match "$dry" '"n" text' "--dry-run plans the same type for n"
}

case_later_refused() {
    local db url rep
    db=$U/src/refused.db
    # past the first rows, only this: a JSON column's value that is not JSON,
    # which the server refuses in the middle of the load (jsonb)
    big_db "$db" '
c.execute("UPDATE big SET j = '"'"'{broken'"'"' WHERE id = 100500")'
    url=$(newdb refused)
    rep=$U/out/refused.json
    pgb migrate --sqlite "$db" --to "$url" --verify full --report "$rep"
    check_rc 0 "the server refused a row of the first rows' types: started over, not failed"
    check_eq "$(rj "$rep" 'd.get("load").get("restarted")')" true "the report says it started over"
    check_eq "$(coltype "$url" big j)" text "j: text, as a whole scan chooses"
    check_eq "$(pg_md5 "$url" j)" "$(lite_md5 "$db" j)" "every value of j"
}

case_later_bad() {
    local db url dir
    db=$U/src/bad.db
    # past the first rows: a text in an INTEGER column, which bigint cannot hold
    big_db "$db" '
c.execute("UPDATE big SET k = '"'"'oops'"'"' WHERE id = 115000")'
    url=$(newdb bad)
    pgb migrate --sqlite "$db" --to "$url"
    check_rc 1 "strict: a value past the first rows that its column cannot hold"
    check_contains "$ERR" "1 values in $db cannot be stored exactly" "the same refusal as a whole scan's"
    check_contains "$ERR" "nothing was written" "it says nothing was written"
    check_untouched "$url" "after the refusal"

    url=$(newdb badrej)
    dir=$U/out/badrej
    mkdir -p "$dir"
    user_own "$dir"
    pgb migrate --sqlite "$db" --to "$url" --on-error reject --allow-rejects --report "$dir/report.json"
    check_rc 0 "reject: that row set aside"
    check_eq "$(rj "$dir/report.json" 'd.get("rejected")')" 1 "one row rejected"
    check_contains "$(cat "$dir/rejects/big.jsonl" 2>&1)" '"oops"' "the rejects file holds it"
    check_eq "$(q "$url" "SELECT count(*) FROM big")/$(q "$url" "SELECT count(*) FROM big WHERE id = 115000")" "119999/0" \
        "every other row"
    check_eq "$(coltype "$url" big k)" bigint "k stays bigint"
}

# gen_db PATH: a big table whose untyped column v holds integers in its
# first rows and a text past them, and generated columns over v that
# PostgreSQL computes from a text but cannot take over a bigint (LIKE with
# a collation, coalesce with a text): CREATE TABLE with the first rows'
# types fails, with a whole scan's it does not.
gen_db() {
    mkdb "$1" '
c.execute("BEGIN")
c.execute("""CREATE TABLE big (id INTEGER PRIMARY KEY, v, g AS (coalesce(v, '"'"'z'"'"')),
             h AS (v LIKE '"'"'1%'"'"') STORED)""")
c.executemany("INSERT INTO big (id, v) VALUES (?, ?)", ((i, i) for i in range(1, 120001)))
c.execute("UPDATE big SET v = '"'"'txt'"'"' WHERE id = 110000")
c.execute("COMMIT")'
}

case_later_type_create() {
    local db url rep
    db=$U/src/create.db
    gen_db "$db"
    url=$(newdb create)
    rep=$U/out/create.json
    pgb migrate --sqlite "$db" --to "$url" --report "$rep"
    check_rc 0 "CREATE TABLE fails with the first rows' types: started over, not failed"
    check_eq "$(rj "$rep" 'd.get("load")')" '{"connections": 2, "staged": true, "restarted": true}' \
        "the report says it started over"
    check_eq "$(coltype "$url" big v)/$(coltype "$url" big g)" "text/text" "v: text, as a whole scan chooses"
    check_eq "$(pg_md5 "$url" g)" "$(lite_md5 "$db" g)" "every value of g"
    check_eq "$(q "$url" "SELECT count(*) FROM pg_namespace WHERE nspname = 'pgboot_staging'")" 0 "no staging schema left"
}

# The same on one connection, in one transaction: a role that may not
# create the staging schema (its tables are all created before any row).
case_later_type_create_unstaged() {
    local db url rep pgpass super super_pw
    db=$U/src/create1.db
    gen_db "$db"
    # the cluster's superuser, from the app's pgpass (the app role may not
    # create roles), makes a role that may not create schemas
    pgpass=$U/data/$SERVER_APP/pgpass
    read -r super super_pw < <(grep -v '^#' "$pgpass" | awk -F: -v app="$SERVER_APP" '$4 != app {print $4, $5; exit}')
    [[ -n $super && -n $super_pw ]] || die "no superuser line in $pgpass"
    q "$(sed -E "s|^postgresql://[^@]*@|postgresql://$super:$super_pw@|" <<<"$(db_url "$SERVER_URL" postgres)")" \
        "DROP ROLE IF EXISTS firstrows_one; CREATE ROLE firstrows_one LOGIN PASSWORD 'one1'" >/dev/null
    url=$(newdb create1)
    q "$url" "GRANT CONNECT ON DATABASE create1 TO firstrows_one; GRANT USAGE, CREATE ON SCHEMA public TO firstrows_one;
              CREATE SCHEMA pgboot; GRANT USAGE, CREATE ON SCHEMA pgboot TO firstrows_one" >/dev/null
    url=$(sed -E 's|^postgresql://[^@]*@|postgresql://firstrows_one:one1@|' <<<"$url")
    rep=$U/out/create1.json
    pgb migrate --sqlite "$db" --to "$url" --report "$rep"
    check_rc 0 "one connection: CREATE TABLE fails with the first rows' types: started over, not failed"
    check_eq "$(rj "$rep" 'd.get("load")')" '{"connections": 1, "staged": false, "restarted": true}' \
        "the report says it started over, on one connection"
    check_eq "$(coltype "$url" big v)/$(coltype "$url" big g)" "text/text" "v: text, as a whole scan chooses"
    check_eq "$(pg_md5 "$url" g)" "$(lite_md5 "$db" g)" "every value of g"
}

# A stop before anything is written, decided on the first rows, stands only
# as a whole scan decides it: a zero-date DEFAULT of a DATETIME column whose
# later value is no timestamp (a whole scan keeps it text: no stop).
case_zero_default() {
    local db url rep
    db=$U/src/zdefault.db
    mkdb "$db" '
c.execute("BEGIN")
c.execute("CREATE TABLE big (id INTEGER PRIMARY KEY, d DATETIME DEFAULT '"'"'0000-00-00 00:00:00'"'"')")
c.executemany("INSERT INTO big VALUES (?, ?)", ((i, "2024-01-01 10:00:00") for i in range(1, 120001)))
c.execute("UPDATE big SET d = '"'"'soon'"'"' WHERE id = 110000")
c.execute("COMMIT")'
    url=$(newdb zdefault)
    rep=$U/out/zdefault.json
    pgb migrate --sqlite "$db" --to "$url" --report "$rep"
    check_rc 0 "a zero-date DEFAULT stops nothing when a later value makes the column text"
    check_eq "$(rj "$rep" 'd.get("load").get("restarted")')" true "the report says it started over"
    check_eq "$(coltype "$url" big d)" text "d: text, as a whole scan chooses"
    check_eq "$(pg_md5 "$url" d)" "$(lite_md5 "$db" d)" "every value of d"
}

# ... and its refusal names every value a whole scan finds: those of a small
# table, and those past the first rows of a big one.
case_bad_elsewhere() {
    local db url rep
    db=$U/src/elsewhere.db
    big_db "$db" '
c.execute("CREATE TABLE few (id INTEGER PRIMARY KEY, k INTEGER)")
c.executemany("INSERT INTO few VALUES (?, ?)", [(1, 1), (2, "bad"), (3, 3)])
c.execute("UPDATE big SET k = '"'"'oops'"'"' WHERE id = 115000")'
    url=$(newdb elsewhere)
    rep=$U/out/elsewhere.json
    pgb migrate --sqlite "$db" --to "$url" --report "$rep"
    check_rc 1 "strict: bad values in a small table and past the first rows of a big one"
    check_contains "$ERR" "2 values in $db cannot be stored exactly" "both are counted"
    check_contains "$ERR" "big.k (rowid 115000): 'oops'" "the big table's value is named"
    check_contains "$ERR" "few.k (rowid 2): 'bad'" "the small table's too"
    check_eq "$(rj "$rep" 'len(d.get("bad_values", []))')/$(rj "$rep" 'tab("big").get("rows")')" "2/120000" \
        "the report lists both, and counts every row of big"
    check_untouched "$url" "after the refusal"
}

# The source's SHA-256 is computed at a low priority on a thread of its own;
# when no thread can be created (the account's process limit), it is
# computed in place, and the migration itself keeps its priority.
case_hash_in_place() {
    local db url rep nice=0 v samples=0
    db=$U/src/inplace.db
    big_db "$db" ''
    url=$(newdb inplace)
    rep=$U/out/inplace.json
    # the test user's server runs processes already: no thread can start
    # (nor LeakSanitizer's at exit, in a sanitized build)
    as_user_bg env "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
        prlimit --nproc=1 "$PGB" migrate --sqlite "$db" --to "$url" --report "$rep"
    while kill -0 "$BG_PID" 2>/dev/null; do
        v=$(awk '{print $19}' "/proc/$BG_PID/stat" 2>/dev/null) || v=
        [[ -n $v ]] && samples=$((samples + 1))
        ((${v:-0} > nice)) && nice=$v
        sleep 0.01
    done
    wait "$BG_PID" && v=0 || v=$?
    check_eq "$v" 0 "migrated with no thread for the hash ($(tail -n1 "$BG_LOG.err"))"
    check_eq "$nice" 0 "the migration ran at its own priority (the main thread's nice, $samples samples)"
    ((samples > 0)) && ok "its priority was read while it ran" || nok "its priority was never read"
    check_eq "$(rj "$rep" 'd["source"]["sha256"]')" "$(sha256sum "$db" | cut -d' ' -f1)" "the report's SHA-256"
}

# A page past the first rows that SQLite cannot read: the same refusal as a
# whole scan's, naming the table (counting its rows reads it too).
case_damaged_later() {
    local db url
    db=$U/src/damaged.db
    big_db "$db" ''
    "$PY" - "$db" <<'PY'
import os, sys
path = sys.argv[1]
size = os.path.getsize(path)
with open(path, "r+b") as f: # a page near the end: past the first rows
    f.seek((size * 9 // 10) // 4096 * 4096)
    f.write(b"\xff" * 4096)
PY
    url=$(newdb damaged)
    pgb migrate --sqlite "$db" --to "$url"
    check_rc 1 "a damaged page past the first rows"
    check_contains "$(err_line)" "$db: cannot read table big: database disk image is malformed" \
        "the error names the table, as a whole scan's does"
    check_contains "$(hint_line)" "repair a copy with sqlite3's .recover" "the hint"
    check_untouched "$url" "after the refusal"
}

# Starting over keeps the lock that lets one migration at a time into a
# database: the second attempt runs on the first one's connection, so no
# other migration can record itself between the two (the restart would then
# refuse: "the target already holds a migration").
case_one_lock() {
    local db url rep watch w holders
    db=$U/src/onelock.db
    big_db "$db" '
c.execute("UPDATE big SET n = '"'"'x7'"'"' WHERE id = 110000")'
    url=$(newdb onelock)
    rep=$U/out/onelock.json
    watch=$U/out/onelock.locks
    # every 10 ms: which backend holds pgboot's advisory lock on the database
    printf '%s\n' "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted
        AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND classid = (7370636900001 >> 32)::oid AND objid = (7370636900001 & 4294967295)::oid" \
        '\watch 0.01' |
        timeout -k 5 120 env -i PATH=/usr/bin:/bin "$PSQL" -X -A -t -q "$url" >"$watch" 2>&1 &
    w=$!
    sleep 0.2
    pgb migrate --sqlite "$db" --to "$url" --report "$rep"
    check_rc 0 "a migration that starts over"
    kill "$w" 2>/dev/null || true
    wait "$w" 2>/dev/null || true
    check_eq "$(rj "$rep" 'd["load"]["restarted"]')" true "it started over"
    holders=$(grep -E '^[0-9]+$' "$watch" | sort -u | wc -l)
    check_eq "$holders" 1 "one backend held the lock through both attempts ($(grep -cE '^[0-9]+$' "$watch") samples)"
}

run_case held case_held
run_case later_type case_later_type
run_case later_refused case_later_refused
run_case later_bad case_later_bad
run_case later_type_create case_later_type_create
run_case later_type_create_unstaged case_later_type_create_unstaged
run_case zero_default case_zero_default
run_case bad_elsewhere case_bad_elsewhere
run_case hash_in_place case_hash_in_place
run_case damaged_later case_damaged_later
run_case one_lock case_one_lock
ml_finish
