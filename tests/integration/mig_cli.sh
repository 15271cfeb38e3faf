#!/usr/bin/env bash
# pgboot migrate's command line: --dry-run, --json, --report FILE, the same
# file twice, another file (--force, --replace), an existing table of the same
# name, --schema FILE.sql and --data-only with value casts, the report's
# fields, and usage errors (exit 2).
set -euo pipefail
. "$(dirname "$0")/mig_lib.sh"

ml_setup
ml_server

CHINOOK=$(fixture chinook.sqlite "$U/src/chinook.sqlite")
TESTPK=$(fixture test_pk.db "$U/src/test_pk.db")
# another file with Chinook's tables: one value changed
CHINOOK2=$U/src/chinook-changed.sqlite
cp "$CHINOOK" "$CHINOOK2"
"$PY" -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute("UPDATE Genre SET Name = ? WHERE GenreId = 1", ("Changed",)); c.commit()' "$CHINOOK2"
# another file with test_pk's tables, holding rows
PK2=$U/src/pk-rows.db
"$PY" - "$PK2" <<'EOF'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.executescript("""
CREATE TABLE division_kind (division_kind_id INTEGER PRIMARY KEY, label TEXT);
CREATE TABLE division (division_id INTEGER PRIMARY KEY, division_kind_id INTEGER REFERENCES division_kind(division_kind_id));
INSERT INTO division_kind VALUES (1, 'k1'), (2, 'k2');
INSERT INTO division VALUES (10, 1), (11, 2);
""")
c.commit()
EOF
JSONCAST=$U/src/jsoncast.db
"$PY" "$MKDB" jsoncast "$JSONCAST"
user_own "$U/src"


# --- --dry-run -------------------------------------------------------------------------

case_dry_run() {
    local url ddl rep ddl_db
    url=$(newdb dryrun)
    pgb migrate --sqlite "$CHINOOK" --to "$url" --dry-run
    check_rc 0 "--dry-run --to URL"
    check_untouched "$url" "--dry-run"
    # stdout: the DDL, then the report (a JSON object starting with a line "{")
    "$PY" - "$T/.out" "$T/dry.ddl" "$T/dry.json" <<'EOF'
import sys
text = open(sys.argv[1]).read()
i = text.rfind("\n{\n")
if text.startswith("{\n"):
    i = -1 if i < 0 else i
ddl, rep = (text[:i + 1], text[i + 1:]) if i >= 0 else ("", text)
open(sys.argv[2], "w").write(ddl)
open(sys.argv[3], "w").write(rep)
EOF
    ddl=$(cat "$T/dry.ddl")
    check_eq "$(grep -c -i '^CREATE TABLE' <<<"$ddl" || true)" 11 "--dry-run prints the DDL: 11 CREATE TABLE"
    check_match "$ddl" 'CREATE TABLE "?invoice"? \(' "the DDL creates invoice"
    check_match "$ddl" '"?total"? numeric\(10,2\)' "the DDL has total numeric(10,2)"
    check_eq "$(rj "$T/dry.json" 'd.get("dry_run")')" true "then the report (JSON), dry_run: true"
    check_eq "$(rj "$T/dry.json" 'len(d["tables"])')" 11 "the report lists the 11 tables"
    # the DDL is what a real migration creates: run it in an empty database
    ddl_db=$(newdb dryddl)
    local out
    if out=$(q_script "$ddl_db" <"$T/dry.ddl" 2>&1); then
        ok "the printed DDL runs in an empty database"
    else
        nok "the printed DDL fails in PostgreSQL: $(head -c 600 <<<"$out")"
    fi
    local real
    real=$(newdb dryreal)
    pgb migrate --sqlite "$CHINOOK" --to "$real"
    check_rc 0 "(the same file migrated for real)"
    local cols="SELECT string_agg(table_name || '.' || column_name || ':' || data_type || coalesce('(' || character_maximum_length || ')', '') || coalesce('(' || numeric_precision || ',' || numeric_scale || ')', '') || ':' || is_nullable, ',' ORDER BY table_name, ordinal_position) FROM information_schema.columns WHERE table_schema = 'public'"
    check_eq "$(q "$ddl_db" "$cols")" "$(q "$real" "$cols")" "the dry-run DDL gives the same columns (types, NOT NULL) as the migration"
    local idx="SELECT string_agg(indexdef, ';' ORDER BY indexname) FROM pg_indexes WHERE schemaname = 'public'"
    check_eq "$(q "$ddl_db" "$idx")" "$(q "$real" "$idx")" "the dry-run DDL gives the same indexes"
    # ... and the same constraints, validated as the migration validates
    # them (a foreign key left NOT VALID by the DDL is not the same key)
    local cons="SELECT string_agg(conrelid::regclass::text || ' ' || pg_get_constraintdef(oid) || CASE WHEN convalidated THEN '' ELSE ' (not validated)' END, ';' ORDER BY conrelid::regclass::text, pg_get_constraintdef(oid)) FROM pg_constraint WHERE connamespace = 'public'::regnamespace"
    check_eq "$(q "$ddl_db" "$cons")" "$(q "$real" "$cons")" "the dry-run DDL gives the same constraints, foreign keys validated"
    check_match "$(q "$ddl_db" "SELECT count(*) FILTER (WHERE contype = 'f' AND convalidated) || '/' || count(*) FILTER (WHERE contype = 'f') FROM pg_constraint WHERE connamespace = 'public'::regnamespace")" '^([1-9][0-9]*)/\1$' "every foreign key of the dry-run DDL is validated"
    # --dry-run without a target, and with --app: nothing written anywhere
    pgb migrate --sqlite "$CHINOOK" --dry-run
    check_rc 0 "--dry-run without a target"
    local appdir=$U/data/$SERVER_APP before after
    before=$(find "$appdir" -path "$appdir/postgres_data" -prune -o -print 2>/dev/null | sort)
    pgb migrate --sqlite "$CHINOOK" --app "$SERVER_APP" --dry-run
    check_rc 0 "--dry-run --app"
    after=$(find "$appdir" -path "$appdir/postgres_data" -prune -o -print 2>/dev/null | sort)
    check_eq "$(diff <(echo "$before") <(echo "$after") | { grep '^>' || true; } | tr '\n' ' ')" "" "--dry-run --app writes nothing into the app directory (no report)"
    check_untouched "$SERVER_URL" "--dry-run --app"
}

# --dry-run of a file whose rows break a foreign key (SQLite enforces none
# unless asked): the migration keeps such a key NOT VALID, with a warning;
# the dry run says the same (SQLite's foreign_key_check counts the rows) and
# its DDL leaves the key unvalidated too, so that the DDL, run and loaded
# with the rows, fails nowhere (was: it printed VALIDATE CONSTRAINT for every
# key, without a word). The other keys of the table, clean, are validated.
case_dry_run_orphans() {
    local src url ddl_db real warn_dry warn_real cons
    src=$U/src/orphans.db
    mkdb "$src" '
c.execute("CREATE TABLE p (id INTEGER PRIMARY KEY)")
c.execute("CREATE TABLE q (id INTEGER PRIMARY KEY)")
c.execute("CREATE TABLE ch (id INTEGER PRIMARY KEY, pid INTEGER REFERENCES p (id), qid INTEGER REFERENCES q)")
c.execute("CREATE TABLE ch2 (id INTEGER PRIMARY KEY, qid INTEGER REFERENCES q, pid INTEGER REFERENCES p)")
c.execute("INSERT INTO p VALUES (1)")
c.execute("INSERT INTO q VALUES (1)")
c.execute("INSERT INTO ch VALUES (1, 1, 1), (2, 99, 1), (3, 98, NULL), (4, NULL, 1)")
c.execute("INSERT INTO ch2 VALUES (1, 7, 1)")'
    url=$(newdb dryorphans)
    pgb migrate --sqlite "$src" --to "$url" --dry-run
    check_rc 0 "--dry-run of a file with orphan rows"
    check_untouched "$url" "--dry-run"
    # stdout: the DDL, then the report
    "$PY" - "$T/.out" "$T/orphans.ddl" "$U/out/dry-orphans.json" <<'EOF'
import sys
text = open(sys.argv[1]).read()
i = text.rfind("\n{\n")
open(sys.argv[2], "w").write(text[:i + 1])
open(sys.argv[3], "w").write(text[i + 1:])
EOF
    warn_dry=$(rj "$U/out/dry-orphans.json" '"\n".join(d["warnings"])')
    check_contains "$warn_dry" "foreign key ch -> p: existing rows reference missing rows (2 rows of ch, by SQLite's foreign_key_check); kept as NOT VALID" "the dry run warns of ch's key to p, with SQLite's count"
    check_contains "$warn_dry" "foreign key ch2 -> q: existing rows reference missing rows (1 row of ch2, by SQLite's foreign_key_check)" "and of ch2's key to q"
    check_eq "$(grep -c . <<<"$warn_dry" || true)" 2 "no other warning (ch -> q and ch2 -> p are clean)"
    ddl_db=$(newdb dryorphansddl)
    local out
    if out=$(q_script "$ddl_db" <"$T/orphans.ddl" 2>&1); then
        ok "the printed DDL runs in an empty database"
    else
        nok "the printed DDL fails in PostgreSQL: $(head -c 600 <<<"$out")"
    fi
    real=$(newdb dryorphansreal)
    pgb migrate --sqlite "$src" --to "$real" --report "$U/out/real-orphans.json"
    check_rc 0 "(the same file migrated for real)"
    warn_real=$(rj "$U/out/real-orphans.json" '"\n".join(w.split(" (")[0] + ";" + w.split(");")[1] for w in d["warnings"])')
    check_eq "$(rj "$U/out/dry-orphans.json" '"\n".join(w.split(" (")[0] + ";" + w.split(");")[1] for w in d["warnings"])')" "$warn_real" "the dry run's warnings are the migration's (but for the cause)"
    cons="SELECT string_agg(conrelid::regclass::text || ' ' || pg_get_constraintdef(oid) || CASE WHEN convalidated THEN '' ELSE ' (not validated)' END, ';' ORDER BY conrelid::regclass::text, pg_get_constraintdef(oid)) FROM pg_constraint WHERE connamespace = 'public'::regnamespace AND contype = 'f'"
    check_eq "$(q "$ddl_db" "$cons")" "$(q "$real" "$cons")" "the dry-run DDL gives the migration's foreign keys, validated or not alike"
    check_contains "$(q "$real" "$cons")" "ch FOREIGN KEY (qid) REFERENCES q(id);" "(ch's clean key is validated)"
}

# --- --json, --report, the report's fields ------------------------------------------

case_json_report() {
    local url rep
    url=$(newdb jsonrep)
    rep=$U/out/report.json
    pgb migrate --sqlite "$TESTPK" --to "$url" --json --report "$rep"
    check_rc 0 "--json --report FILE"
    check_py "--json: stdout is exactly one JSON document, equal to --report FILE" '
import json, sys
try:
    a = json.loads(open(sys.argv[1]).read())
except Exception as e:
    print("stdout is not one JSON document: %s" % e); sys.exit(0)
b = json.load(open(sys.argv[2]))
if a != b: print("stdout and the report file differ")' "$T/.out" "$rep"
    check_match "$ERR" "migrated 2 tables" "the human summary is on stderr"
    check_py "the report has the documented fields" '
import json, sys
d = json.load(open(sys.argv[1]))
need = ["source", "tables", "skipped", "warnings", "rejected", "verify", "already_done"]
for k in need:
    if k not in d: print("report: no %r" % k)
for k in ("path", "size", "sha256"):
    if k not in d.get("source", {}): print("report.source: no %r" % k)
for t in d.get("tables", []):
    for k in ("name", "source", "rows", "rejected", "bytes", "ms", "columns"):
        if k not in t: print("table %s: no %r" % (t.get("name"), k))
    for c in t.get("columns", []):
        for k in ("name", "source", "declared", "type", "identity", "generated"):
            if k not in c: print("column %s.%s: no %r" % (t.get("name"), c.get("name"), k))
if d.get("already_done") not in (False, None): print("already_done %r on a first migration" % d.get("already_done"))
if d.get("verify") != "counts": print("verify %r (default is counts)" % d.get("verify"))
' "$rep"
    check_eq "$(q "$url" "SELECT (report -> 'source' ->> 'sha256') = source_sha256 FROM pgboot.migrations")" t "pgboot.migrations.report is the report"
}

# --- the same file twice; another file; --force; --replace ----------------------------

case_again_and_force() {
    local url before
    url=$(newdb again)
    pgb migrate --sqlite "$CHINOOK" --to "$url"
    check_rc 0 "first migration"
    q "$url" "INSERT INTO genre (name) VALUES ('added after the migration')" >/dev/null
    before=$(counts "$url")
    pgb migrate --sqlite "$CHINOOK" --to "$url" --json
    check_rc 0 "the same file again: exit 0"
    check_match "$ERR" "already; nothing to do" "the same file again: 'migrated ... already; nothing to do'"
    check_eq "$(rj "$T/.out" 'd.get("already_done")')" true "the same file again: report already_done: true"
    check_eq "$(mig_count "$url")" 1 "the same file again: no second record"
    check_eq "$(counts "$url")" "$before" "the same file again: the data (with the app's new row) untouched"

    pgb migrate --sqlite "$CHINOOK2" --to "$url"
    check_rc 1 "another file into a target with a recorded migration: exit 1"
    check_contains "$ERR" "$CHINOOK" "the message names the earlier migration's file"
    check_imatch "$ERR" "force" "the message mentions --force"
    check_eq "$(mig_count "$url")/$(counts "$url")" "1/$before" "another file: nothing written"

    pgb migrate --sqlite "$CHINOOK2" --to "$url" --force
    check_rc 1 "--force into tables holding rows: exit 1 without --replace"
    check_imatch "$ERR" "replace" "the message mentions --replace"
    check_match "$ERR" "genre|album|track" "the message names a table holding rows"
    check_eq "$(mig_count "$url")/$(counts "$url")" "1/$before" "--force without --replace: nothing written"

    pgb migrate --sqlite "$CHINOOK2" --to "$url" --force --replace --verify full
    check_rc 0 "--force --replace: exit 0"
    check_eq "$(counts "$url")" "$CHINOOK_COUNTS" "--force --replace: the tables hold the new file's rows (the added genre is gone)"
    check_eq "$(q "$url" "SELECT name FROM genre WHERE genreid = 1")" "Changed" "--force --replace: the new file's values"
    check_eq "$(mig_count "$url")" 2 "--force --replace: a second record"
    check_eq "$(q "$url" "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND connamespace = 'public'::regnamespace")" 11 "--force --replace: the 11 FKs again (not doubled)"
}

case_force_empty_tables() {
    local url
    url=$(newdb forceempty)
    pgb migrate --sqlite "$TESTPK" --to "$url"
    check_rc 0 "test_pk (two empty tables)"
    pgb migrate --sqlite "$PK2" --to "$url"
    check_rc 1 "another file without --force: exit 1"
    pgb migrate --sqlite "$PK2" --to "$url" --force
    check_rc 0 "--force into tables that are empty: replaced"
    check_eq "$(q "$url" "SELECT string_agg(division_id || ':' || division_kind_id, ',' ORDER BY division_id) FROM division")" "10:1,11:2" "the new rows"
    check_eq "$(q "$url" "SELECT string_agg(label, ',' ORDER BY label) FROM division_kind")" "k1,k2" "the new file's columns (label)"
    check_eq "$(mig_count "$url")" 2 "two records"
}

case_existing_table() {
    local url
    url=$(newdb existing)
    q "$url" "CREATE TABLE genre (x int); INSERT INTO genre VALUES (42)" >/dev/null
    pgb migrate --sqlite "$CHINOOK" --to "$url"
    check_rc 1 "a table of the same name exists (no record): exit 1"
    check_contains "$ERR" "genre" "the message names the table"
    check_eq "$(q "$url" "SELECT string_agg(tablename, ',') FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')")" "genre" "nothing written (only the existing table)"
    check_eq "$(q "$url" "SELECT x FROM genre")" 42 "the existing table untouched"
    check_eq "$(q "$url" "SELECT count(*) FROM pg_namespace WHERE nspname = 'pgboot'")" 0 "no pgboot schema"
}

# two migrations of the same file into the same database at once: one
# migrates; the other finds it done (exit 0) or fails cleanly (exit 1); the
# data is there once
case_concurrent() {
    local url r1 r2
    url=$(newdb concurrent)
    (rc=0; RUN_TIMEOUT=120 as_user "$PGB" migrate --sqlite "$CHINOOK" --to "$url" >"$T/c1.out" 2>"$T/c1.err" </dev/null || rc=$?; echo "$rc" >"$T/c1.rc") &
    (rc=0; RUN_TIMEOUT=120 as_user "$PGB" migrate --sqlite "$CHINOOK" --to "$url" >"$T/c2.out" 2>"$T/c2.err" </dev/null || rc=$?; echo "$rc" >"$T/c2.rc") &
    wait
    r1=$(cat "$T/c1.rc")
    r2=$(cat "$T/c2.rc")
    check_match "$r1/$r2" "^(0/0|0/1|1/0)$" "two at once: at least one succeeds, none crashes (exits $r1/$r2)"
    check_eq "$(mig_count "$url")" 1 "two at once: one migration recorded"
    check_eq "$(counts "$url")" "$CHINOOK_COUNTS" "two at once: the rows are there once"
    local e
    for e in 1 2; do
        if [[ $(cat "$T/c$e.rc") == 1 ]]; then
            check_match "$(cat "$T/c$e.err")" "^pgboot: error: " "two at once: the one that failed says why: $(grep -m1 '^pgboot: error: ' "$T/c$e.err" || true)"
            check_imatch "$(cat "$T/c$e.err")" "already; nothing to do|migrated .*already|another migration|in progress" "two at once: the loser says another migration of the file got there first (not a raw catalog error)"
        fi
    done
}

# --- --schema FILE.sql and --data-only ---------------------------------------------------

SCHEMA_SQL="CREATE TABLE ev (id bigint PRIMARY KEY, active boolean NOT NULL, payload jsonb, at timestamptz, note text);"

check_casts() { # URL DESC
    local url=$1 d=$2
    check_eq "$(q_try "$url" "SELECT string_agg(id || ':' || active::text, ',' ORDER BY id) FROM ev")" "1:true,2:false,3:true" "$d: 0/1 -> boolean"
    check_eq "$(q_try "$url" "SELECT string_agg(jsonb_typeof(payload), ',' ORDER BY id) FROM ev")" "object,array,object" "$d: JSON text -> jsonb"
    check_eq "$(q_try "$url" "SELECT payload ->> 's' FROM ev WHERE id = 3")" "é" "$d: jsonb content"
    check_eq "$(q_try "$url" "SELECT string_agg(at::text, ',' ORDER BY id) FROM ev")" "2023-11-14 22:13:20+00,1970-01-01 00:00:00+00,2009-02-13 23:31:30+00" "$d: epoch -> timestamptz"
    check_eq "$(q_try "$url" "SELECT string_agg(coalesce(note, '<null>'), ',' ORDER BY id) FROM ev")" "a,<null>,c" "$d: text and NULL"
    check_eq "$(q_try "$url" "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'ev'::regclass AND attname = 'at'")" "timestamp with time zone" "$d: the given schema's types are kept"
}

case_schema_file() {
    local url f
    url=$(newdb schemafile)
    f=$U/src/schema.sql
    echo "$SCHEMA_SQL" >"$f"
    user_own "$f"
    pgb migrate --sqlite "$JSONCAST" --to "$url" --schema "$f" --verify full
    check_rc 0 "--schema FILE.sql"
    [[ $RC == 0 ]] && check_casts "$url" "--schema"
}

# A schema file as a current pg_dump writes it (plain format): its
# \restrict / \unrestrict lines, the search_path set to '', COPY ... FROM
# stdin of a lookup table (was: a syntax error at the backslash). A statement
# that fails is named by file and line, another meta-command is refused so,
# each with its way out; nothing written.
case_schema_pg_dump() {
    local url f
    url=$(newdb schemadump)
    f=$U/src/schema-dump.sql
    cat >"$f" <<'EOF'
--
-- PostgreSQL database dump
--

\restrict K3yFr0mPgDump

SET statement_timeout = 0;
SELECT pg_catalog.set_config('search_path', '', false);
SET client_min_messages = warning;

CREATE TABLE public.ev (
    id bigint NOT NULL,
    active boolean NOT NULL,
    payload jsonb,
    at timestamp with time zone,
    note text
);

CREATE TABLE public.kinds (
    k text NOT NULL
);

COPY public.kinds (k) FROM stdin;
a
b;c
\.

ALTER TABLE ONLY public.ev
    ADD CONSTRAINT ev_pkey PRIMARY KEY (id);

--
-- PostgreSQL database dump complete
--

\unrestrict K3yFr0mPgDump
EOF
    user_own "$f"
    pgb migrate --sqlite "$JSONCAST" --to "$url" --schema "$f" --verify full
    check_rc 0 "--schema with pg_dump's plain format (\\restrict, COPY ... FROM stdin)"
    [[ $RC == 0 ]] && check_casts "$url" "--schema (pg_dump)"
    check_eq "$(q_try "$url" "SELECT string_agg(k, ',' ORDER BY k) FROM kinds")" "a,b;c" "the COPY's rows are there"
    url=$(newdb schemadumpbad)
    sed -i 's/^    note text$/    note text,\n    bad nosuchtype/' "$f"
    pgb migrate --sqlite "$JSONCAST" --to "$url" --schema "$f"
    check_failed "a schema file with a statement PostgreSQL refuses" || true
    check_match "$(err_line)" "schema-dump.sql:17: .*nosuchtype" "the error names the file and the line of the word PostgreSQL refuses"
    check_contains "$(hint_line)" "nothing was written" "the hint: fix the file, nothing written"
    check_untouched "$url" "after the refused schema file"
    url=$(newdb schemadumpmeta)
    printf '\\connect other\n' >>"$f"
    sed -i '/nosuchtype/d; s/^    note text,$/    note text/' "$f"
    pgb migrate --sqlite "$JSONCAST" --to "$url" --schema "$f"
    check_failed "a schema file with a psql meta-command" || true
    check_contains "$(err_line)" "psql meta-command \\connect" "the error names the meta-command"
    check_contains "$(hint_line)" "--data-only" "the hint: remove the line, or apply the file with psql and use --data-only"
    check_untouched "$url" "after the refused meta-command"
}

case_data_only() {
    local url
    url=$(newdb dataonly)
    q "$url" "$SCHEMA_SQL" >/dev/null
    pgb migrate --sqlite "$JSONCAST" --to "$url" --data-only --verify full
    check_rc 0 "--data-only into an existing schema"
    [[ $RC == 0 ]] && check_casts "$url" "--data-only"
    # a value that cannot be cast: refused, nothing written
    url=$(newdb dataonlybad)
    q "$url" "CREATE TABLE ev (id bigint PRIMARY KEY, active boolean NOT NULL, payload jsonb, at timestamptz, note integer)" >/dev/null
    pgb migrate --sqlite "$JSONCAST" --to "$url" --data-only
    check_rc 1 "--data-only: text 'a' into an integer column is refused"
    check_eq "$(q "$url" "SELECT count(*) FROM ev")/$(q "$url" "SELECT count(*) FROM pg_namespace WHERE nspname = 'pgboot'")" "0/0" "nothing written"
}

# --- usage errors ---------------------------------------------------------------------

usage() { # DESC ARGS...
    local desc=$1
    shift
    pgb migrate "$@"
    check_rc 2 "usage error: $desc"
    check_eq "$OUT" "" "usage error: $desc: nothing on stdout"
    check_match "$ERR" "." "usage error: $desc: a message on stderr"
}

case_usage() {
    local url
    url=$(newdb usage)
    usage "no --sqlite" --to "$url"
    usage "no target" --sqlite "$CHINOOK"
    usage "--app and --to" --sqlite "$CHINOOK" --app "$SERVER_APP" --to "$url"
    usage "--replace without --force" --sqlite "$CHINOOK" --to "$url" --replace
    usage "--on-error bogus" --sqlite "$CHINOOK" --to "$url" --on-error bogus
    usage "--verify bogus" --sqlite "$CHINOOK" --to "$url" --verify all
    usage "unknown option" --sqlite "$CHINOOK" --to "$url" --frobnicate
    usage "an extra argument" --sqlite "$CHINOOK" --to "$url" extra
    usage "--sqlite without a value" --sqlite
    usage "a bad app name" --sqlite "$CHINOOK" --app "no/slash"
    check_untouched "$url" "after the usage errors"
}

# A target it cannot connect to: the error has a hint by libpq's cause (was:
# none), and never shows the URL's password.
case_connect_hints() {
    local port base
    port=$(free_port)
    base=$(base_url "$SERVER_URL")
    pgb migrate --sqlite "$CHINOOK" --to "postgresql://u:topsecret@127.0.0.1:$port/x"
    check_failed "a server that does not run" || true
    check_contains "$(hint_line)" "pgboot start --app NAME" "no server: the hint says how to start one"
    check_contains "$(hint_line)" "nothing was written" "and that nothing was written"
    check_not_contains "$ERR" "topsecret" "the URL's password is not shown"
    pgb migrate --sqlite "$CHINOOK" --to "postgresql://u:topsecret@127.0.0.1:$port/x?sslmode=bogus"
    check_failed "a parameter libpq does not take" || true
    check_contains "$(hint_line)" "the URL's parameters" "a bad parameter: the hint names the URL's parameters"
    pgb migrate --sqlite "$CHINOOK" --to "$base/nosuchdb"
    check_failed "a database that does not exist" || true
    check_contains "$(hint_line)" "CREATE DATABASE" "no database: the hint says to make it"
    pgb migrate --sqlite "$CHINOOK" --to "$(sed -E 's|^(postgresql://[^:/@]+:)[^@]*@|\1wrong@|' <<<"$SERVER_URL")"
    check_failed "a wrong password" || true
    check_contains "$(hint_line)" "password" "a wrong password: the hint names the password"
}

# On a terminal: a progress line per table (rows, rows/s, %), then the
# phase after the rows, cleared before the summary; not on a pipe.
case_progress() {
    local url out
    url=$(newdb progress)
    out=$(RUNNER=as_user on_terminal "$PGB" migrate --sqlite "$CHINOOK" --to "$url")
    check_contains "$out" "exit 0" "on a terminal: the migration succeeds"
    check_match "$out" "migrating [A-Za-z]+ +[0-9]+ rows +[0-9]+ rows/s +[0-9]+%" "a progress line: table, rows, rows/s, percent"
    check_contains "$out" "15607 rows in; building keys, indexes and constraints, verifying" "then the phase after the rows, with the row count (all of Chinook's)"
    check_match "$out" "<CR> +<CR>migrated 11 tables" "the line is cleared before the summary"
    # not a terminal: no progress on stderr
    url=$(newdb progress2)
    pgb migrate --sqlite "$CHINOOK" --to "$url"
    check_rc 0 "on a pipe"
    check_not_contains "$ERR" "rows/s" "on a pipe: no progress line"
    check_not_contains "$ERR" "building keys" "on a pipe: no phase line"
}

run_case progress case_progress
run_case dry_run case_dry_run
run_case dry_run_orphans case_dry_run_orphans
run_case json_report case_json_report
run_case again_and_force case_again_and_force
run_case force_empty_tables case_force_empty_tables
run_case existing_table case_existing_table
run_case concurrent case_concurrent
run_case schema_file case_schema_file
run_case schema_pg_dump case_schema_pg_dump
run_case data_only case_data_only
run_case usage case_usage
run_case connect_hints case_connect_hints
ml_finish
