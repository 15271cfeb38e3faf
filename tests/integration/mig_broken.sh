#!/usr/bin/env bash
# pgboot migrate with sources that cannot be migrated: not a database (text,
# random bytes), an empty file, corrupt copies of chinook (table pages
# overwritten; only index pages overwritten; truncated), a copy locked by
# another process (BEGIN EXCLUSIVE), encrypted-looking random bytes of a
# plausible size, a missing file, a directory, an unreadable file. Each: exit
# 1, the message names the file, the target untouched (no tables, no pgboot
# schema), the source unchanged and nothing created beside it.
set -euo pipefail
. "$(dirname "$0")/mig_lib.sh"

ml_setup
ml_server
# shellcheck disable=SC2034 # read by pgb in mig_lib.sh
CMD_TIMEOUT=60

B=$U/broken
mkdir -p "$B"
CHINOOK=$(fixture chinook.sqlite "$B/chinook-pristine.sqlite")

"$PY" - "$B" "$CHINOOK" <<'EOF'
import os, random, shutil, sqlite3, sys
d, src = sys.argv[1], sys.argv[2]
rnd = random.Random(20240229)
def w(name, data):
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)
w("text.db", b"this is not a database, just some text\n" * 100)
w("random-small.db", rnd.randbytes(3000))
w("empty.db", b"")
# encrypted-looking: random bytes, the size of a real database (a multiple of 4096)
w("encrypted.db", rnd.randbytes(1067008 // 4096 * 4096))
size = os.path.getsize(src)
# pages of a table and of an index, from SQLite's own page map
c = sqlite3.connect("file:%s?mode=ro" % src, uri=True)
psz = c.execute("PRAGMA page_size").fetchone()[0]
def leaves(name):
    return [r[0] for r in c.execute("SELECT pageno FROM dbstat WHERE name = ? AND pagetype = 'leaf' ORDER BY pageno", (name,))]
for out, name in (("corrupt-data.db", "Track"), ("corrupt-index.db", "IFK_PlaylistTrackTrackId")):
    shutil.copy(src, os.path.join(d, out))
    p = leaves(name)
    with open(os.path.join(d, out), "r+b") as f:
        for pg in p[len(p) // 2 - 2: len(p) // 2 + 2]:
            f.seek((pg - 1) * psz)
            f.write(rnd.randbytes(psz))
# a corrupt copy: pages in the middle of the file overwritten
shutil.copy(src, os.path.join(d, "corrupt-middle.db"))
with open(os.path.join(d, "corrupt-middle.db"), "r+b") as f:
    f.seek((size // psz // 2) * psz)
    f.write(rnd.randbytes(8 * psz))
shutil.copy(src, os.path.join(d, "truncated.db"))
os.truncate(os.path.join(d, "truncated.db"), size // 2)
shutil.copy(src, os.path.join(d, "locked.db"))
shutil.copy(src, os.path.join(d, "unreadable.db"))
os.mkdir(os.path.join(d, "a-directory.db"))
EOF
chmod 644 "$B"/*.db
user_own "$B"
chmod 000 "$B/unreadable.db"

N=0
# broken DESC FILE [ERE]: migrate FILE into a fresh database: exit 1, the
# message names FILE (and matches ERE), the target untouched, FILE unchanged,
# nothing new beside it.
broken() {
    local desc=$1 f=$2 ere=${3:-} url before after sum_before sum_after
    N=$((N + 1))
    url=$(newdb "broken$N")
    before=$(ls -A "$B" | sort)
    sum_before=$(sha256sum "$f" 2>/dev/null | cut -d' ' -f1 || echo none)
    pgb migrate --sqlite "$f" --to "$url"
    check_rc 1 "$desc: refused"
    check_contains "$ERR" "$f" "$desc: the message names the file"
    check_match "$ERR" "^pgboot: error: " "$desc: an error line"
    [[ -n "$ere" ]] && check_imatch "$ERR" "$ere" "$desc: the message says why (/$ere/)"
    check_untouched "$url" "$desc"
    sum_after=$(sha256sum "$f" 2>/dev/null | cut -d' ' -f1 || echo none)
    check_eq "$sum_after" "$sum_before" "$desc: the file is unchanged"
    after=$(ls -A "$B" | sort)
    check_eq "$after" "$before" "$desc: nothing created beside it (no -journal, -wal, -shm)"
}

case_not_a_database() {
    broken "a text file" "$B/text.db" "not (an SQLite|a) database|encrypted"
    broken "3000 random bytes" "$B/random-small.db" "not (an SQLite|a) database|encrypted"
}

case_empty() {
    broken "an empty file" "$B/empty.db" "empty"
}

case_encrypted() {
    broken "encrypted-looking (random bytes, 1 MB)" "$B/encrypted.db" "encrypted|not (an SQLite|a) database"
}

case_corrupt() {
    broken "corrupt: table pages overwritten" "$B/corrupt-data.db" "malformed|corrupt|damaged"
    broken "corrupt: pages in the middle overwritten" "$B/corrupt-middle.db" "malformed|corrupt|damaged"
    broken "corrupt: truncated to half" "$B/truncated.db" "malformed|corrupt|damaged|truncated"
    # SQLite's quick_check reports this one; the table data itself reads fine
    check_match "$("$PY" -c 'import sqlite3,sys; print(sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True).execute("PRAGMA quick_check").fetchone()[0])' "$B/corrupt-index.db")" \
        "btreeInitPage|corrupt|malformed" "(SQLite's quick_check finds corrupt-index.db damaged)"
    broken "corrupt: only index pages overwritten" "$B/corrupt-index.db" "malformed|corrupt|damaged"
}

# a big table (120,000 rows: its load is staged over more connections into
# a server on this machine, while SQLite's quick_check waits at the gate)
# in a file whose free pages were cut loose from the header's free list:
# every row reads fine, only the check finds the damage; it still says so,
# and nothing stays of the load
case_corrupt_staged() {
    local pristine=$B/big-pristine.db damaged=$B/big-lost-pages.db url rep
    mkdb "$pristine" '
c.execute("BEGIN")
c.execute("CREATE TABLE big (id INTEGER PRIMARY KEY, name TEXT, k INTEGER)")
c.executemany("INSERT INTO big VALUES (?, ?, ?)", ((i, "name %d" % i, i % 977) for i in range(1, 120001)))
c.execute("CREATE TABLE junk (x TEXT)")
c.executemany("INSERT INTO junk VALUES (?)", (("x" * 500,) for i in range(2000)))
c.execute("COMMIT")
c.execute("DROP TABLE junk")'
    cp "$pristine" "$damaged"
    # the free list's first trunk page and count in the header (bytes 32-39)
    printf '\0\0\0\0\0\0\0\0' | dd of="$damaged" bs=1 seek=32 conv=notrunc status=none
    check_match "$("$PY" -c 'import sqlite3,sys; print(sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True).execute("PRAGMA quick_check").fetchone()[0])' "$damaged")" \
        "never used" "(SQLite's quick_check finds $damaged damaged)"
    chmod 644 "$damaged"
    user_own "$damaged"
    url=$(newdb big_pristine)
    rep=$U/out/big-pristine.json
    pgb migrate --sqlite "$pristine" --to "$url" --report "$rep"
    check_rc 0 "(control) the pristine big file migrates"
    check_eq "$(rj "$rep" 'd["load"]["staged"]')" true "(control) its load is staged"
    broken "corrupt: free pages lost, in a staged load" "$damaged" "damaged"
    check_contains "$ERR" "integrity check says: " "staged: SQLite's integrity check says so"
    check_contains "$ERR" "is never used" "staged: and what it found"
}

case_locked() {
    local hold
    rm -f "$T/lock.ready"
    "$PY" - "$B/locked.db" "$T/lock.ready" <<'EOF' &
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN EXCLUSIVE")
c.execute("UPDATE Genre SET Name = Name")
open(sys.argv[2], "w").write("locked\n")
time.sleep(120)
EOF
    hold=$!
    register_bg "$hold"
    for ((i = 0; i < 100; i++)); do
        [[ -s "$T/lock.ready" ]] && break
        sleep 0.05
    done
    [[ -s "$T/lock.ready" ]] || {
        nok "the lock holder did not start"
        return 0
    }
    local t0 t1
    t0=$(date +%s)
    broken "locked by another process (BEGIN EXCLUSIVE)" "$B/locked.db" "lock|busy"
    t1=$(date +%s)
    if ((t1 - t0 <= 45)); then ok "locked: gave up after $((t1 - t0)) s"; else nok "locked: took $((t1 - t0)) s"; fi
    kill "$hold" 2>/dev/null || true
    wait "$hold" 2>/dev/null || true
    # the lock gone (its journal rolled back by the next reader), the same file migrates
    local url
    url=$(newdb unlocked)
    pgb migrate --sqlite "$CHINOOK" --to "$url"
    check_rc 0 "(control) a pristine chinook copy migrates into a fresh database"
}

# a writer that crashed mid-transaction leaves a hot journal: the file alone
# is not a consistent database, and a read-only reader cannot roll it back
case_hot_journal() {
    local f=$B/crashed.db
    cp "$CHINOOK" "$f"
    chmod 644 "$f"
    "$PY" - "$f" <<'EOF2'
import os, sqlite3, sys
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("PRAGMA cache_size = 1")  # spill changed pages into the file
c.execute("BEGIN")
c.execute("UPDATE Track SET Name = 'CHANGED ' || Name")
c.execute("DELETE FROM PlaylistTrack")
os._exit(0)  # a crash: no rollback
EOF2
    user_own "$f" "$f-journal"
    check_path "$f-journal" "the crash left a hot journal"
    local jsum
    jsum=$(sha256sum "$f-journal" | cut -d' ' -f1)
    broken "a crashed writer's hot journal" "$f" ""
    check_eq "$(sha256sum "$f-journal" | cut -d' ' -f1)" "$jsum" "hot journal: the journal is unchanged"
}

case_missing() {
    broken "a missing file" "$B/no-such-file.db" "not exist|no such|missing|not found"
    broken "a directory" "$B/a-directory.db" ""
    broken "an unreadable file (mode 000)" "$B/unreadable.db" "permission|cannot (open|read)|denied"
}

run_case not_a_database case_not_a_database
run_case empty case_empty
run_case encrypted case_encrypted
run_case corrupt case_corrupt
run_case corrupt_staged case_corrupt_staged
run_case locked case_locked
run_case hot_journal case_hot_journal
run_case missing case_missing
ml_finish
