#!/usr/bin/env bash
# pgboot migrate of a real app's SQLite database into the app's own
# PostgreSQL schema, following the README's route step by step (issue 10):
# a password-manager server (Rust, diesel) with a Go event log and a .NET
# media table (tests/support/mig_real_app.py makes the SQLite file), its
# PostgreSQL schema as its migrations make it (integer, timestamp and
# timestamptz, serial and an `event_seq` sequence, uuid, jsonb, the
# schema-version rows the script inserts, a cycle of foreign keys, a child
# table first in SQLite's order). Checked: each refusal names what, where and
# the way out; then every row arrives, --verify full passes, the app's first
# INSERT works, a second run does nothing. Also: a value out of the range of
# the app's `integer` column is refused before anything is written (not a
# COPY error), nor are longer texts than char(n)/varchar(n), NULLs in NOT
# NULL, digits numeric(p,s) would round, nor a NOT NULL column SQLite has
# not; --dry-run finds what the real run would; a table the app names in
# mixed case points to
# --preserve-case.
set -euo pipefail
. "$(dirname "$0")/mig_lib.sh"

ml_setup
ml_server

SRC=$U/src/vault.db
"$PY" "$SUPPORT_DIR/mig_real_app.py" "$SRC"
user_own "$SRC"
SCHEMA=$(sql_file vault.sql <<'EOF'
-- the app's own PostgreSQL schema (as its migrations would create it)
CREATE TABLE __diesel_schema_migrations (version varchar(50) PRIMARY KEY NOT NULL, run_on timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP);
INSERT INTO __diesel_schema_migrations (version) VALUES ('2018-01-01-000000_create_tables'), ('2019-08-05-000000_add_devices'), ('2023-02-10-000000_add_event');
CREATE TABLE users (uuid char(36) NOT NULL PRIMARY KEY, created_at timestamp NOT NULL, updated_at timestamp NOT NULL,
  email text NOT NULL UNIQUE, name text NOT NULL, password_hash bytea NOT NULL, salt bytea NOT NULL,
  password_iterations integer NOT NULL, enabled boolean NOT NULL DEFAULT true, settings jsonb,
  default_org char(36), last_login timestamp NOT NULL DEFAULT '-infinity');
CREATE TABLE organizations (uuid char(36) NOT NULL PRIMARY KEY, name text NOT NULL, billing_email text NOT NULL,
  owner_uuid char(36) REFERENCES users (uuid));
ALTER TABLE users ADD CONSTRAINT users_default_org_fkey FOREIGN KEY (default_org) REFERENCES organizations (uuid);
CREATE TABLE users_organizations (uuid char(36) NOT NULL PRIMARY KEY, user_uuid char(36) NOT NULL REFERENCES users (uuid),
  org_uuid char(36) NOT NULL REFERENCES organizations (uuid), access_all boolean NOT NULL, akey text NOT NULL,
  status integer NOT NULL, atype integer NOT NULL, UNIQUE (user_uuid, org_uuid));
CREATE TABLE ciphers (uuid char(36) NOT NULL PRIMARY KEY, created_at timestamp NOT NULL, updated_at timestamp NOT NULL,
  user_uuid char(36) REFERENCES users (uuid), organization_uuid char(36) REFERENCES organizations (uuid),
  atype integer NOT NULL, name text NOT NULL, notes text, fields jsonb, data text NOT NULL,
  favorite boolean NOT NULL DEFAULT false, deleted_at timestamp, reprompt integer);
CREATE TABLE attachments (id text NOT NULL PRIMARY KEY, cipher_uuid char(36) NOT NULL REFERENCES ciphers (uuid),
  file_name text NOT NULL, file_size integer NOT NULL, akey text);
CREATE TABLE devices (uuid uuid NOT NULL, created_at timestamp NOT NULL, updated_at timestamp NOT NULL,
  user_uuid char(36) NOT NULL REFERENCES users (uuid), name text NOT NULL, atype integer NOT NULL,
  push_token text, refresh_token text NOT NULL, PRIMARY KEY (uuid, user_uuid));
CREATE TABLE invitations (email text NOT NULL PRIMARY KEY);
CREATE SEQUENCE event_seq;
CREATE TABLE event (id integer NOT NULL DEFAULT nextval('event_seq') PRIMARY KEY, user_uuid char(36) REFERENCES users (uuid),
  act_type integer NOT NULL, content text, created timestamptz NOT NULL, ip_address text);
CREATE TABLE version (id serial PRIMARY KEY, version bigint);
INSERT INTO version (version) VALUES (278);
CREATE TABLE media_items (id uuid NOT NULL PRIMARY KEY, name text NOT NULL, datecreated timestamp NOT NULL,
  datemodified timestamp NOT NULL, runtimeticks bigint, rating numeric(3,1));
EOF
)

case_readme_route() {
    local url rep=$U/out/vault.json
    url=$(newdb vault)
    # step 1 and 3: the schema script's rows are found before anything is written
    pgb migrate --sqlite "$SRC" --to "$url" --schema "$SCHEMA"
    check_failed "the schema script filled __diesel_schema_migrations and version"
    check_match "$(err_line)" "2 tables of the target hold rows already: __diesel_schema_migrations \(3 rows\), version \(1 row\)" "they are listed with their rows"
    check_match "$(hint_line)" "--skip-table T keeps T's rows.*--replace-table" "the hint gives the choices"
    check_eq "$(q "$url" "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")" 0 "nothing written (the schema's tables neither)"
    # step 6: Rust's 9 digits, .NET's 7, MySQL's zero dates
    pgb migrate --sqlite "$SRC" --to "$url" --schema "$SCHEMA" --skip-table __diesel_schema_migrations --skip-table version
    check_failed "timestamps past microseconds and zero dates into the app's timestamp columns"
    check_match "$(err_line)" "ciphers\.created_at \(rowid 1\): '2024-03-01 00:00:00\.[0-9]{9}' \(digits past microseconds" "the error names the column, the row and the value"
    check_match "$(hint_line)" "--round-timestamps.*--zero-dates infinity" "the hint names both options"
    pgb migrate --sqlite "$SRC" --to "$url" --schema "$SCHEMA" --skip-table __diesel_schema_migrations --skip-table version \
        --round-timestamps --zero-dates infinity --verify full --report "$rep"
    check_rc 0 "with --skip-table, --round-timestamps and --zero-dates infinity"
    check_match "$OUT$ERR" "every value verified" "--verify full passes"
    check_not_contains "$OUT$ERR" "got a type chosen from their values" "the summary claims no type of its own choosing (they are the app's)"
    check_match "$OUT$ERR" "column users.email is COLLATE NOCASE in SQLite: the target's column \(text\) compares it case-sensitively" "a NOCASE key of SQLite that the app's column compares case-sensitively is named"
    check_match "$OUT$ERR" "column invitations.email is COLLATE NOCASE in SQLite" "the NOCASE primary key too"
    check_eq "$(rj "$rep" '[c["reason"] for c in tab("__diesel_schema_migrations")["columns"]]')" "[null, null]" "a skipped table's columns have no type reason"
    check_eq "$(q_try "$url" "SELECT (SELECT count(*) FROM users) || '/' || (SELECT count(*) FROM organizations) || '/' || (SELECT count(*) FROM users_organizations) || '/' || (SELECT count(*) FROM ciphers) || '/' || (SELECT count(*) FROM attachments) || '/' || (SELECT count(*) FROM devices) || '/' || (SELECT count(*) FROM invitations) || '/' || (SELECT count(*) FROM event) || '/' || (SELECT count(*) FROM media_items)")" \
        "20/3/39/200/30/25/3/295/40" "every row arrives"
    check_eq "$(q_try "$url" "SELECT string_agg(version, ',' ORDER BY version) FROM __diesel_schema_migrations")/$(q_try "$url" "SELECT string_agg(id || ':' || version, ',') FROM version")" \
        "2018-01-01-000000_create_tables,2019-08-05-000000_add_devices,2023-02-10-000000_add_event/1:278" "the schema's own rows are kept"
    check_eq "$(q_try "$url" "SELECT count(*) FILTER (WHERE last_login = '-infinity') || '/' || count(*) FILTER (WHERE settings->>'emoji' = E'\U0001F511 clé') || '/' || count(*) FILTER (WHERE enabled) FROM users")" \
        "10/13/16" "zero dates are -infinity, JSON blobs are jsonb, 0/1 are booleans"
    check_eq "$(q_try "$url" "SELECT count(*) FROM devices WHERE uuid::text ~ '^[0-9a-f-]{36}\$'")/$(q_try "$url" "SELECT count(*) FROM media_items")" "25/40" "upper-case GUIDs are the app's uuids"
    check_match "$(q_try "$url" "SELECT created FROM event WHERE id = 1")" "^2024-03-31 22:00:00\.[0-9]{1,6}\+00\$" "a Go time with an offset (2024-04-01T00:00:00.xxxxxxxxx+02:00) is that instant, rounded"
    check_eq "$(rj "$rep" '[c["timestamps_rounded"] for c in tab("ciphers")["columns"] if c["name"] == "created_at"]')" "[200]" "the report counts the rounded timestamps"
    # step 4: the app's first INSERT
    check_eq "$(q_try "$url" "INSERT INTO event (act_type, created) VALUES (1, now()) RETURNING id")" 301 "event_seq is past sqlite_sequence (300)"
    check_eq "$(q_try "$url" "INSERT INTO version (version) VALUES (279) RETURNING id")" 2 "the skipped table's serial is the schema's"
    check_match "$(q_try "$url" "INSERT INTO users_organizations VALUES ('x', 'nobody', 'none', true, 'k', 0, 0)")" "^ERROR: .*foreign key" "the app's keys are enforced"
    # a second run
    pgb migrate --sqlite "$SRC" --to "$url" --schema "$SCHEMA" --skip-table __diesel_schema_migrations --skip-table version \
        --round-timestamps --zero-dates infinity
    check_rc 0 "the same command again"
    check_match "$ERR" "migrated into this database already; nothing to do" "does nothing, saying so"
}

INT_SRC=$U/src/ints.db
sqlite_file "$INT_SRC" <<'SQL'
CREATE TABLE attachments (id TEXT PRIMARY KEY, file_size INTEGER, chunks INTEGER);
INSERT INTO attachments VALUES ('a', 1000, 1), ('b', 3000000000, 2), ('c', 5, 40000);
SQL
INT_SQL=$(sql_file ints.sql <<'SQL'
CREATE TABLE attachments (id text PRIMARY KEY, file_size integer NOT NULL, chunks smallint);
SQL
)

case_int_range() {
    local url dir=$U/out/ints
    url=$(newdb ints)
    pgb migrate --sqlite "$INT_SRC" --to "$url" --schema "$INT_SQL"
    check_failed "a value out of the range of the app's integer and smallint columns"
    check_match "$(err_line)" "2 values .*nothing was written: attachments.file_size \(rowid 2\): '3000000000' \(out of the range of the target's integer column\)" "refused before anything is written, naming the value"
    check_match "$(err_line)" "attachments.chunks \(rowid 3\): '40000' \(out of the range of the target's smallint column\)" "and the smallint one"
    check_match "$(hint_line)" "--on-error reject" "the hint gives the way out"
    check_eq "$(q "$url" "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")" 0 "nothing written"
    mkdir -p "$dir"
    user_own "$dir"
    pgb migrate --sqlite "$INT_SRC" --to "$url" --schema "$INT_SQL" --on-error reject --allow-rejects --report "$dir/report.json"
    check_rc 0 "--on-error reject"
    check_eq "$(q_try "$url" "SELECT string_agg(id, ',' ORDER BY id) FROM attachments")" "a" "the other rows are in"
    check_eq "$(grep -c . "$dir/rejects/attachments.jsonl" 2>&1)" 2 "the two rows are in rejects/attachments.jsonl"
}

CASE_SRC=$U/src/efcore.db
sqlite_file "$CASE_SRC" <<'SQL'
CREATE TABLE "MediaItems" ("Id" TEXT NOT NULL PRIMARY KEY, "Name" TEXT NOT NULL, "DateCreated" TEXT NOT NULL);
INSERT INTO "MediaItems" VALUES ('8490CDD7-3E51-455E-BAC3-16FCDD2017E4', 'a', '2023-11-01 10:11:12.1234560');
SQL
CASE_SQL=$(sql_file efcore.sql <<'SQL'
CREATE TABLE "MediaItems" ("Id" uuid NOT NULL PRIMARY KEY, "Name" text NOT NULL, "DateCreated" timestamp with time zone NOT NULL);
SQL
)

case_mixed_case() {
    local url
    url=$(newdb efcore)
    pgb migrate --sqlite "$CASE_SRC" --to "$url" --schema "$CASE_SQL"
    check_failed "the app's table named in mixed case, as EF Core names it"
    check_match "$(err_line)" "table mediaitems \(from MediaItems\) does not exist in the target" "the error names it"
    check_match "$(hint_line)" "\"MediaItems\".*--preserve-case" "the hint points to --preserve-case"
    pgb migrate --sqlite "$CASE_SRC" --to "$url" --schema "$CASE_SQL" --preserve-case --verify full
    check_rc 0 "with --preserve-case"
    check_eq "$(q_try "$url" "SELECT \"Id\" || ' ' || \"DateCreated\" FROM \"MediaItems\"")" "8490cdd7-3e51-455e-bac3-16fcdd2017e4 2023-11-01 10:11:12.123456+00" "the row is in; a time without a zone is UTC"
    check_match "$ERR$OUT" "column MediaItems.DateCreated: 1 timestamps without a zone go into the target's timestamptz column as UTC" "which a warning says"
}

# values the app's column types refuse: checked before anything is written,
# each named with its row (not a COPY error with no way out)
CHK_SRC=$U/src/checks.db
sqlite_file "$CHK_SRC" <<'SQL'
CREATE TABLE items (id INTEGER PRIMARY KEY, code TEXT, short TEXT, name TEXT, rating REAL, legacy TEXT);
INSERT INTO items VALUES (1, 'abc', 'toolong', NULL, 9.95, 'kept in SQLite only');
INSERT INTO items VALUES (2, 'ab', 'ok', 'n', 123.45, NULL);
INSERT INTO items VALUES (3, 'cd', 'ok', 'm', 1.50, NULL);
SQL
CHK_SQL=$(sql_file checks.sql <<'SQL'
CREATE TABLE items (id integer PRIMARY KEY, code char(2), short varchar(3), name text NOT NULL, rating numeric(3,1));
SQL
)
CHK_ADDED_SQL=$(sql_file checks-added.sql <<'SQL'
CREATE TABLE items (id integer PRIMARY KEY, code text, short text, name text, rating numeric,
    added text NOT NULL, flag boolean NOT NULL DEFAULT false, n integer GENERATED ALWAYS AS (id * 2) STORED);
SQL
)

case_target_checks() {
    local url dir=$U/out/checks
    url=$(newdb checks)
    # a column of SQLite's that the app's schema has not, with a value: refused,
    # named, nothing written (it was a warning, and the value was lost)
    pgb migrate --sqlite "$CHK_SRC" --to "$url" --schema "$CHK_SQL"
    check_failed "a SQLite column with values that the app's table lacks"
    check_match "$(err_line)" "^pgboot: error: 1 SQLite column with values has no column in the target's table: \"items\"\.\"legacy\" \(1 value not NULL\); nothing was written" "the error names it and its values"
    check_match "$(hint_line)" "--drop-column TABLE.COLUMN" "the hint gives the way out"
    check_eq "$(q "$url" "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")" 0 "nothing written"
    pgb migrate --sqlite "$CHK_SRC" --to "$url" --schema "$CHK_SQL" --drop-column items.legacy --drop-column items.nosuch
    check_failed "--drop-column of a column that is not missing"
    check_match "$(err_line)" "--drop-column items.nosuch names no SQLite column that the target's table lacks" "a typo is named"
    pgb migrate --sqlite "$CHK_SRC" --to "$url" --drop-column items.legacy
    check_rc 2 "--drop-column without --schema or --data-only is a usage error"
    check_contains "$ERR" "go with --schema FILE.sql or --data-only" "which says what it goes with"
    # SQLite's names in any case, as SQLite itself takes them
    pgb migrate --sqlite "$CHK_SRC" --to "$url" --schema "$CHK_SQL" --drop-column Items.LEGACY
    check_failed "values longer than char(n) and varchar(n), a NULL in NOT NULL, digits numeric(p,s) would round or overflow"
    check_match "$(err_line)" "^pgboot: error: 5 values .*nothing was written" "refused before anything is written, counted"
    check_match "$(err_line)" "items.code \(rowid 1\): 'abc' \(longer than the column\)" "char(2)"
    check_match "$(err_line)" "items.short \(rowid 1\): 'toolong' \(longer than the column\)" "varchar(3)"
    check_match "$(err_line)" "items.name \(rowid 1\): NULL \(the target's column is NOT NULL\)" "NOT NULL"
    check_match "$(err_line)" "items.rating \(rowid 1\): '9.95' \(more digits than the column's precision and scale hold\); items.rating \(rowid 2\): '123.45'" "numeric(3,1): rounded, and overflowing"
    check_match "$(hint_line)" "--on-error reject" "the hint gives the way out"
    check_eq "$(q "$url" "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")" 0 "nothing written"
    mkdir -p "$dir"
    user_own "$dir"
    pgb migrate --sqlite "$CHK_SRC" --to "$url" --schema "$CHK_SQL" --on-error reject --allow-rejects --report "$dir/report.json" --verify full --drop-column items.legacy
    check_rc 0 "--on-error reject"
    check_eq "$(q_try "$url" "SELECT string_agg(id || ':' || code || ':' || rating, ',' ORDER BY id) FROM items")" "3:cd:1.5" "the rows that fit are in (1.50 is 1.5 exactly)"
    check_match "$(rj "$dir/report.json" '"\n".join(d["warnings"])')" "column items.legacy has no column in the target table items; not migrated \(1 value not NULL, left behind as asked: --drop-column\)" "the report says how many values a column the target has not leaves behind"

    url=$(newdb checksadded)
    pgb migrate --sqlite "$CHK_SRC" --to "$url" --schema "$CHK_ADDED_SQL"
    check_failed "a NOT NULL column of the app's, with no default, that SQLite's table has not"
    check_match "$(err_line)" "column items.added of the target is NOT NULL and has no default, and SQLite's table items has no such column" "the error names it (not the other new columns, which have a default or are generated)"
    check_match "$(hint_line)" "default in the schema file.*--skip-table items" "the hint gives the ways out"
    check_eq "$(q "$url" "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")" 0 "nothing written"
}

# SQLite columns the app's schema has not, of every kind: all of them named
# (not the first ten), with SQLite's names quoted; a name with dots given to
# --drop-column (any dot may be the separator); a column of a table left out
# with --skip-table needs no --drop-column; a generated column is no loss.
MISS_SRC=$U/src/missing.db
sqlite_file "$MISS_SRC" <<'SQL'
CREATE TABLE "a.b" (id INTEGER PRIMARY KEY, "c.d" TEXT, keep TEXT);
INSERT INTO "a.b" VALUES (1, 'dotted', 'k');
CREATE TABLE wide (id INTEGER PRIMARY KEY, c01 TEXT, c02 TEXT, c03 TEXT, c04 TEXT, c05 TEXT, c06 TEXT, c07 TEXT, c08 TEXT, c09 TEXT, c10 TEXT, c11 TEXT, c12 TEXT);
INSERT INTO wide VALUES (1, 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l');
CREATE TABLE g (id INTEGER PRIMARY KEY, x TEXT, y TEXT GENERATED ALWAYS AS (upper(x)) VIRTUAL);
INSERT INTO g (id, x) VALUES (1, 'lower');
SQL
MISS_SQL=$(sql_file missing.sql <<'SQL'
CREATE TABLE "a.b" (id integer PRIMARY KEY, keep text);
CREATE TABLE wide (id integer PRIMARY KEY);
CREATE TABLE g (id integer PRIMARY KEY, x text);
SQL
)

case_missing_columns() {
    local url dir=$U/out/missing
    url=$(newdb missing)
    pgb migrate --sqlite "$MISS_SRC" --to "$url" --schema "$MISS_SQL"
    check_failed "13 SQLite columns with values that the app's tables lack"
    check_match "$(err_line)" "^pgboot: error: 13 SQLite columns with values have no column in the target's table: " "counted"
    check_contains "$(err_line)" '"a.b"."c.d" (1 value not NULL)' "a name with dots, quoted"
    check_contains "$(err_line)" '"wide"."c12" (1 value not NULL); nothing was written' "the thirteenth named too"
    check_not_contains "$(err_line)" '"g"."y"' "a generated column is not among them"
    mkdir -p "$dir"
    user_own "$dir"
    pgb migrate --sqlite "$MISS_SRC" --to "$url" --schema "$MISS_SQL" --drop-column 'a.b.c.d' --skip-table wide --drop-column wide.c01 --report "$dir/report.json"
    check_rc 0 "--drop-column a.b.c.d (dots in both names), --skip-table wide with a --drop-column of it"
    check_eq "$(q "$url" 'SELECT keep FROM "a.b"')" k "the other column of the dotted table arrived"
    check_eq "$(q "$url" 'SELECT x FROM g')" lower "the generated column's table arrived"
    check_match "$(rj "$dir/report.json" '"\n".join(d["warnings"])')" "column g.y has no column in the target table g; it is generated in SQLite" "the generated column is named as such, no values counted"
}

# --dry-run into the app's schema says what the real run would: the schema
# file's rows, the timestamps the app's columns refuse; then nothing is left
case_dry_run() {
    local url skips=(--skip-table __diesel_schema_migrations --skip-table version)
    url=$(newdb vaultdry)
    pgb migrate --sqlite "$SRC" --to "$url" --schema "$SCHEMA" --dry-run
    check_failed "--dry-run: the schema script's rows"
    check_match "$(err_line)" "2 tables of the target hold rows already" "found as the real run finds them"
    pgb migrate --sqlite "$SRC" --to "$url" --schema "$SCHEMA" --dry-run "${skips[@]}"
    check_failed "--dry-run: timestamps past microseconds into the app's timestamp columns"
    check_match "$(err_line)" "values in .* cannot be stored exactly in the target's columns.*digits past microseconds" "found as the real run finds them"
    pgb migrate --sqlite "$SRC" --to "$url" --schema "$SCHEMA" --dry-run "${skips[@]}" --round-timestamps --zero-dates infinity
    check_rc 0 "--dry-run with the options the real run needs"
    check_match "$ERR$OUT" "would migrate 11 tables, 655 rows" "it says what it would do"
    check_match "$ERR$OUT" "[1-9][0-9]* timestamps rounded to microseconds" "and what it would round"
    check_eq "$(q "$url" "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")/$(q "$url" "SELECT count(*) FROM pg_namespace WHERE nspname = 'pgboot'")" "0/0" "nothing is left: the schema file's tables are rolled back, no record"
}

# --on-error reject and the cycle users <-> organizations: an owner whose
# row is rejected (a value past the app's integer column). The key on the
# cycle is checked only at the end, and organizations loads before users:
# the owner's rejection is found in SQLite before organizations loads, so
# the organization is rejected too, then the users whose default
# organization it is, then their rows elsewhere; nothing fails on a key.
case_cycle_reject() {
    local url src=$U/src/vault-rej.db dir=$U/out/cycrej
    cp "$SRC" "$src"
    "$PY" -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute("UPDATE users SET password_iterations = 3000000000 WHERE uuid = (SELECT owner_uuid FROM organizations ORDER BY rowid LIMIT 1)"); c.commit()' "$src"
    user_own "$src"
    mkdir -p "$dir"
    user_own "$dir"
    url=$(newdb vaultrej)
    pgb migrate --sqlite "$src" --to "$url" --schema "$SCHEMA" --existing-rows skip --round-timestamps --zero-dates infinity \
        --on-error reject --allow-rejects --report "$dir/report.json" --verify full
    check_rc 0 "a rejected user who owns an organization (a key on a cycle)"
    check_match "$(cat "$dir/rejects/users.jsonl" 2>&1)" "out of the range of the target's integer column" "rejects/users.jsonl says why"
    check_match "$(cat "$dir/rejects/organizations.jsonl" 2>&1)" '"reason": *"the row of users it references \(foreign key organizations_owner_uuid_fkey\) was rejected"' "the organization it owns is rejected, saying why"
    check_match "$(cat "$dir/rejects/users.jsonl" 2>&1)" '"reason": *"the row of organizations it references \(foreign key users_default_org_fkey\) was rejected"' "and the users whose default organization that is"
    check_eq "$(rj "$dir/report.json" '"%d/%d" % (tab("organizations")["rejected"], tab("users")["rejected"])')" "1/6" "counted"
    check_py "every row is in PostgreSQL or rejected" '
import json, sqlite3, subprocess, sys
d = json.load(open(sys.argv[1])); lite = sqlite3.connect(sys.argv[2])
for t in d["tables"]:
    if t["name"] in ("__diesel_schema_migrations", "version"):
        continue
    n = lite.execute("SELECT count(*) FROM \"%s\"" % t["source"]).fetchone()[0]
    pg = int(subprocess.run([sys.argv[3], "-X", "-A", "-t", "-q", sys.argv[4], "-c", "SELECT count(*) FROM " + t["name"]], capture_output=True, text=True).stdout)
    if pg + t["rejected"] != n or (t["name"] == "ciphers" and t["rejected"] == 0):
        print("%s: %d in PostgreSQL + %d rejected, %d in SQLite" % (t["name"], pg, t["rejected"], n))
' "$dir/report.json" "$src" "$PSQL" "$url"
}

# the app's schema as pg_dump --schema-only writes it: its preamble sets
# the search_path to '' (names qualified with public.)
DUMP_SQL=$U/src/vault-dump.sql
{
    cat <<'SQL'
SET statement_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET client_min_messages = warning;
SET default_table_access_method = heap;
SQL
    sed -e 's/CREATE TABLE /CREATE TABLE public./; s/REFERENCES /REFERENCES public./g; s/ALTER TABLE users/ALTER TABLE public.users/' \
        -e "s/INSERT INTO /INSERT INTO public./; s/CREATE SEQUENCE event_seq/CREATE SEQUENCE public.event_seq/; s/nextval('event_seq')/nextval('public.event_seq'::regclass)/" "$SCHEMA"
} >"$DUMP_SQL"
user_own "$DUMP_SQL"

case_pg_dump_schema() {
    local url
    url=$(newdb vaultdump)
    pgb migrate --sqlite "$SRC" --to "$url" --schema "$DUMP_SQL" --existing-rows skip --round-timestamps --zero-dates infinity --verify full
    check_rc 0 "a schema file from pg_dump (search_path set to '')"
    check_eq "$(q_try "$url" "SELECT (SELECT count(*) FROM users) || '/' || (SELECT count(*) FROM event)")" "20/295" "the rows are in the file's tables"
    check_eq "$(q_try "$url" "INSERT INTO event (act_type, created) VALUES (1, now()) RETURNING id")" 301 "and its sequence is set"
}

# a schema file with its own BEGIN ... COMMIT would commit the migration's
# transaction half-way (its tables left behind by a failed migration):
# refused before it runs, naming the line. The words in strings, comments,
# dollar quotes, quoted names and a BEGIN ATOMIC body are no such statements.
TXN_SQL=$(sql_file vault-txn.sql <<'SQL'
-- the app's migration 0001
BEGIN;
CREATE TABLE notes (id integer PRIMARY KEY, body text);
COMMIT;
SQL
)
TRICKY_SQL=$(sql_file tricky.sql <<'SQL'
-- BEGIN; in a comment
/* COMMIT; /* nested */ END; */
CREATE TABLE notes (id integer PRIMARY KEY, body text DEFAULT 'it''s; COMMIT', e text DEFAULT E'a\'; end');
CREATE FUNCTION notes_touch() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  RETURN NEW;
END;
$fn$;
CREATE FUNCTION sign01(a int) RETURNS int LANGUAGE sql
BEGIN ATOMIC
  SELECT CASE WHEN a > 0 THEN 1 ELSE 0 END;
END;
CREATE TABLE "begin" (x int);
SAVEPOINT s1;
ROLLBACK TO s1;
SQL
)
NOTES_SRC=$U/src/notes.db
sqlite_file "$NOTES_SRC" <<'SQL'
CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);
INSERT INTO notes VALUES (1, 'hello'), (2, NULL);
SQL

case_schema_txn() {
    local url
    url=$(newdb schematxn)
    pgb migrate --sqlite "$NOTES_SRC" --to "$url" --schema "$TXN_SQL"
    check_failed "a schema file with BEGIN and COMMIT"
    check_match "$(err_line)" "the schema .*vault-txn.sql controls transactions \(BEGIN at line 2\).*nothing was written" "refused, naming the statement and its line"
    check_match "$(hint_line)" "remove its BEGIN and COMMIT" "the hint gives the way out"
    check_eq "$(q "$url" "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")" 0 "nothing written (not even the file's table)"
    url=$(newdb schematricky)
    pgb migrate --sqlite "$NOTES_SRC" --to "$url" --schema "$TRICKY_SQL" --verify full
    check_rc 0 "the words in strings, comments, dollar quotes, names and BEGIN ATOMIC are not statements"
    check_eq "$(q_try "$url" "SELECT string_agg(id || '=' || coalesce(body, 'null'), ',' ORDER BY id) FROM notes")" "1=hello,2=null" "loaded"
}

# char(n) pads what it stores: a shorter text reads back with trailing
# spaces, and --verify full compares it as PostgreSQL compares char(n)
# values (the padding is not part of the value).
case_char_padding() {
    local url src=$U/src/pad.db sql
    sqlite_file "$src" <<'SQL'
CREATE TABLE codes (id INTEGER PRIMARY KEY, code TEXT, label TEXT);
INSERT INTO codes VALUES (1, 'ab', 'x'), (2, 'abcde', 'y'), (3, NULL, 'z'), (4, 'é', 'w');
SQL
    sql=$(sql_file pad.sql <<'SQL'
CREATE TABLE codes (id integer PRIMARY KEY, code char(5), label varchar(10));
SQL
)
    url=$(newdb padding)
    pgb migrate --sqlite "$src" --to "$url" --schema "$sql" --verify full
    check_rc 0 "shorter texts into char(5) pass --verify full"
    check_eq "$(q_try "$url" "SELECT string_agg(id || ':' || coalesce(code::text, '-') || ':' || coalesce(octet_length(code), 0), ' ' ORDER BY id) FROM codes")" \
        "1:ab:5 2:abcde:5 3:-:0 4:é:6" "the values are in, padded by PostgreSQL as char(5) does"
}

run_case readme_route case_readme_route
run_case schema_txn case_schema_txn
run_case pg_dump_schema case_pg_dump_schema
run_case cycle_reject case_cycle_reject
run_case dry_run case_dry_run
run_case target_checks case_target_checks
run_case missing_columns case_missing_columns
run_case int_range case_int_range
run_case mixed_case case_mixed_case
run_case char_padding case_char_padding
ml_finish
