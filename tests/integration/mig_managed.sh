#!/usr/bin/env bash
# pgboot migrate --to URL into a database the role does not own, as on a
# managed server: a role that is neither superuser nor owner nor CREATEDB,
# allowed only to connect and to create tables in public.
#  - nowhere to record the migration: a clear error naming the role, the
#    database and the statement that helps; nothing written;
#  - with a pgboot schema the owner made and opened to it: the migration
#    runs, and a source big enough to load over two connections falls back to one
#    transaction on one connection (the role may not create the staging
#    schema); every value verified, the tables the role's;
#  - with CREATE on the database: the staged load over two connections.
#  - CREATE on the database but not in public: refused before any work, the
#    GRANT named; into the app's tables (--data-only), pgboot_porter that
#    cannot be made there: the same, then made with the grant and reused
#    without it.
# Also: a schema named pgboot_staging that is not pgboot's is left alone; a
# search_path without an existing schema is refused before any work.
set -euo pipefail
. "$(dirname "$0")/mig_lib.sh"

ml_setup
ml_server

BIG=$U/src/big.db
"$PY" "$MKDB" big "$BIG" 150000 # big_a: 100000 rows, the split threshold
user_own "$U/src"
BIG_SHA=$(sha256sum "$BIG" | cut -d' ' -f1)
SMALL=$U/src/small.db
mkdb "$SMALL" 'c.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, x TEXT)"); c.execute("INSERT INTO t VALUES (1, \"a\")")'
PORTER=$U/src/porter.db
mkdb "$PORTER" '
c.execute("CREATE VIRTUAL TABLE docs USING fts5(title, body, tokenize = \"porter\")")
c.execute("INSERT INTO docs (rowid, title, body) VALUES (1, \"hello\", \"the connected databases\")")'

# The cluster's superuser, from the app's pgpass (the app role may not create roles).
PGPASS=$U/data/$SERVER_APP/pgpass
[[ -r $PGPASS ]] || die "no pgpass at $PGPASS"
read -r SUPER_NAME SUPER_PW < <(grep -v '^#' "$PGPASS" | awk -F: -v app="$SERVER_APP" '$4 != app {print $4, $5; exit}')
[[ -n $SUPER_NAME && -n $SUPER_PW ]] || die "no superuser line in $PGPASS"
HOSTPORT=$(sed -E 's|^postgresql://[^@]*@([^/]*)/.*$|\1|' <<<"$SERVER_URL")
super_url() { echo "postgresql://$SUPER_NAME:$SUPER_PW@$HOSTPORT/$1"; }

RPW=restricted$RANDOM$RANDOM
q "$(super_url postgres)" "DROP ROLE IF EXISTS restricted" >/dev/null 2>&1 || true
q "$(super_url postgres)" "CREATE ROLE restricted LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD '$RPW'" >/dev/null

# managed_db NAME: database NAME, owned by the app role; restricted may
# connect and create tables in public (nothing more); prints its URL.
managed_db() {
    newdb "$1" >/dev/null
    q "$(db_url "$SERVER_URL" "$1")" "GRANT CONNECT ON DATABASE \"$1\" TO restricted; GRANT USAGE, CREATE ON SCHEMA public TO restricted" >/dev/null
    echo "postgresql://restricted:$RPW@$HOSTPORT/$1"
}

case_nowhere_to_record() {
    local url
    url=$(managed_db managed1)
    check_eq "$(q "$url" "SELECT rolsuper::text || rolcreatedb::text FROM pg_roles WHERE rolname = current_user")/$(q "$url" "SELECT has_database_privilege(current_database(), 'CREATE')")" "falsefalse/f" "the role is no superuser, may not create databases, nor schemas here"
    pgb migrate --sqlite "$BIG" --to "$url"
    check_ne "$RC" 0 "without a place to record it, the migration is refused"
    check_contains "$ERR" "role restricted may not create the schema pgboot in database managed1" "the error names the role, the database and what is missing"
    check_contains "$ERR" "GRANT CREATE ON DATABASE managed1 TO restricted" "and the statement that helps"
    check_contains "$ERR" "nothing was written" "and says nothing was written"
    check_untouched "$url" "after the refusal"
}

case_pgboot_schema_given() {
    local url owner report
    url=$(managed_db managed2)
    q "$(db_url "$SERVER_URL" managed2)" "CREATE SCHEMA pgboot; GRANT USAGE, CREATE ON SCHEMA pgboot TO restricted" >/dev/null
    report=$U/managed2.json
    pgb migrate --sqlite "$BIG" --to "$url" --verify full --report "$report"
    check_rc 0 "with a pgboot schema made for it, the role migrates"
    check_eq "$(q "$url" "SELECT count(*) FROM big_a")/$(q "$url" "SELECT count(*) FROM big_b")" "100000/50000" "all rows are there"
    check_contains "$OUT$ERR" "every value verified" "every value verified"
    check_py "the report says: one connection, not staged (the role may not create the staging schema)" '
import json, sys
r = json.load(open(sys.argv[1]))
if r.get("load") != {"connections": 1, "staged": False, "restarted": False}:
    print("load:", r.get("load"))
' "$report"
    owner=$(q "$url" "SELECT string_agg(DISTINCT tableowner, ',') FROM pg_tables WHERE schemaname = 'public'")
    check_eq "$owner" "restricted" "the tables belong to the role that migrated"
    check_eq "$(q "$url" "SELECT count(*) FROM pgboot.migrations")" 1 "the migration is recorded in the given pgboot schema"
    check_eq "$(q "$url" "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'pgboot_staging%'")" 0 "no staging schema"
    # an INSERT without the key works: the identity is past the largest key
    check_eq "$(q "$url" "INSERT INTO big_b (a_id, label, amount) VALUES (1, 'new row', 0.5) RETURNING id > 50000" 2>&1 | head -1)" "t" "an insert as the restricted role, without the key, works"
}

case_create_on_database() {
    local url report
    url=$(managed_db managed3)
    q "$(db_url "$SERVER_URL" managed3)" "GRANT CREATE ON DATABASE managed3 TO restricted" >/dev/null
    report=$U/managed3.json
    pgb migrate --sqlite "$BIG" --to "$url" --verify full --report "$report"
    check_rc 0 "with CREATE on the database, the role migrates"
    check_py "the report says: two connections, through the staging schema" '
import json, sys
r = json.load(open(sys.argv[1]))
if r.get("load") != {"connections": 2, "staged": True, "restarted": False}:
    print("load:", r.get("load"))
' "$report"
    check_eq "$(q "$url" "SELECT count(*) FROM big_a")/$(q "$url" "SELECT count(*) FROM big_b")" "100000/50000" "all rows are there"
    check_eq "$(q "$url" "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'pgboot_staging%'")" 0 "the staging schema is gone"
    check_eq "$(q "$url" "SELECT string_agg(DISTINCT tableowner, ',') FROM pg_tables WHERE schemaname = 'public'")" "restricted" "the tables belong to the role that migrated"
    # the same rows as the one-connection migration above
    local a b
    a=$(q "$url" "SELECT md5(string_agg(x::text, ',' ORDER BY x.id)) FROM big_a x")
    b=$(q "postgresql://restricted:$RPW@$HOSTPORT/managed2" "SELECT md5(string_agg(x::text, ',' ORDER BY x.id)) FROM big_a x")
    check_eq "$a" "$b" "the staged load holds the same rows as the one-connection load (managed2)"
    # and the same structure: indexes (built ahead on the loading connections
    # when staged), constraints, column types
    local structure="SELECT string_agg(indexdef, '; ' ORDER BY indexname) FROM pg_indexes WHERE schemaname = 'public'
        UNION ALL SELECT string_agg(conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid) || ' ' || convalidated::text, '; ' ORDER BY conrelid::regclass::text, conname) FROM pg_constraint WHERE connamespace = 'public'::regnamespace
        UNION ALL SELECT string_agg(table_name || '.' || column_name || ':' || data_type || ':' || is_nullable || ':' || coalesce(column_default, '') || ':' || is_identity, ',' ORDER BY table_name, ordinal_position) FROM information_schema.columns WHERE table_schema = 'public'"
    a=$(q "$url" "$structure")
    b=$(q "postgresql://restricted:$RPW@$HOSTPORT/managed2" "$structure")
    check_eq "$a" "$b" "the staged migration has the same indexes, constraints and columns as the one-connection one"
    check_contains "$a" "CREATE INDEX big_b_label ON public.big_b USING btree (label)" "an index built ahead is in the target schema"
}

# A schema named pgboot_staging that is not pgboot's (no pgboot comment) is
# neither used nor dropped: the migration goes in one transaction.
case_foreign_staging_schema() {
    local url report
    url=$(newdb foreignstaging)
    q "$url" "CREATE SCHEMA pgboot_staging; CREATE TABLE pgboot_staging.keep (v text); INSERT INTO pgboot_staging.keep VALUES ('mine')" >/dev/null
    report=$U/foreign.json
    pgb migrate --sqlite "$BIG" --to "$url" --report "$report"
    check_rc 0 "the migration runs beside a user's schema named pgboot_staging"
    check_eq "$(q "$url" "SELECT v FROM pgboot_staging.keep")" "mine" "the user's schema and its table are intact"
    check_py "the report says: one connection, not staged" '
import json, sys
r = json.load(open(sys.argv[1]))
if r.get("load") != {"connections": 1, "staged": False, "restarted": False}:
    print("load:", r.get("load"))
' "$report"
    check_eq "$(q "$url" "SELECT count(*) FROM big_a")" 100000 "the rows are there"
}

# A role whose search_path names no existing schema: refused before any
# work, with the setting and the way out; nothing written.
case_no_schema() {
    local url
    url=$(managed_db managed4)
    q "$(db_url "$SERVER_URL" managed4)" "GRANT CREATE ON DATABASE managed4 TO restricted" >/dev/null
    q "$(super_url postgres)" "ALTER ROLE restricted IN DATABASE managed4 SET search_path = nosuch" >/dev/null
    pgb migrate --sqlite "$BIG" --to "$url"
    check_rc 1 "no schema to create tables in: refused"
    check_contains "$ERR" "role restricted has no schema to create tables in, in database managed4" "the error names the role and the database"
    check_contains "$ERR" "nosuch" "and the search_path"
    check_contains "$ERR" "ALTER ROLE restricted SET search_path" "and the way out"
    check_untouched "$url" "after the refusal"
}

# A role that may record the migration (CREATE on the database) but not
# create tables in public (PostgreSQL 15 and later grant that to the
# database's owner only): refused before any work, naming the role, the
# schema and the GRANT that helps (was: CREATE TABLE's, or with
# tokenize=porter pgboot_porter's, permission denied, with no way out);
# nothing written. With the grant, the migration runs.
case_no_create_in_schema() {
    local url owner
    newdb managed5 >/dev/null
    owner=$(db_url "$SERVER_URL" managed5)
    q "$owner" "GRANT CONNECT, CREATE ON DATABASE managed5 TO restricted" >/dev/null
    url="postgresql://restricted:$RPW@$HOSTPORT/managed5"
    check_eq "$(q "$url" "SELECT has_schema_privilege('public', 'CREATE')")" f "the role may not create in public"
    for src in "$SMALL" "$PORTER"; do
        pgb migrate --sqlite "$src" --to "$url"
        check_rc 1 "${src##*/}: no CREATE in the target schema: refused"
        check_contains "$ERR" "role restricted may not create tables in schema public of database managed5" "${src##*/}: the error names the role, the schema and the database"
        check_contains "$ERR" "nothing was written" "${src##*/}: and says nothing was written"
        check_contains "$(hint_line)" "GRANT CREATE ON SCHEMA public TO restricted" "${src##*/}: the hint gives the statement that helps"
        check_untouched "$url" "${src##*/}: after the refusal"
    done
    # the dry run prints its DDL (for a role that may run it) and warns
    # (was: 'would migrate', not a word)
    pgb migrate --sqlite "$SMALL" --to "$url" --dry-run
    check_rc 0 "--dry-run as the role"
    check_contains "$OUT" "CREATE TABLE" "the dry run prints the DDL"
    check_contains "$ERR" "warning: this role's migration would stop before writing: role restricted may not create tables in schema public" "and warns that this role's migration would stop"
    check_contains "$ERR" "GRANT CREATE ON SCHEMA public TO restricted" "with the statement that helps"
    check_untouched "$url" "after the dry run"
    q "$owner" "GRANT CREATE ON SCHEMA public TO restricted" >/dev/null
    pgb migrate --sqlite "$PORTER" --to "$url"
    check_rc 0 "with the grant, the role migrates"
    check_eq "$(q "$url" "SELECT count(*) FROM docs WHERE fts @@ plainto_tsquery('pgboot_porter', 'connect')")" 1 "the porter table searches with pgboot_porter"
}

# Into the app's own tables (--data-only) as a role that may write them but
# not create in their schema: pgboot_porter cannot be made there; refused,
# naming the role, the schema and the GRANT that helps; no row written. The
# owner grants CREATE: the migration makes it; the grant revoked, a later
# migration reuses it.
case_porter_no_create() {
    local url owner
    newdb managed6 >/dev/null
    owner=$(db_url "$SERVER_URL" managed6)
    q "$owner" "CREATE TABLE docs (rowid bigint PRIMARY KEY, title text, body text, fts tsvector);
                GRANT CONNECT ON DATABASE managed6 TO restricted; GRANT SELECT, INSERT, UPDATE, DELETE ON docs TO restricted;
                CREATE SCHEMA pgboot; GRANT USAGE, CREATE ON SCHEMA pgboot TO restricted" >/dev/null
    url="postgresql://restricted:$RPW@$HOSTPORT/managed6"
    pgb migrate --sqlite "$PORTER" --to "$url" --data-only
    check_rc 1 "no CREATE in the app's schema for pgboot_porter: refused"
    check_contains "$(err_line)" "role restricted may not create the text search configuration pgboot_porter in the target schema public" "the error names the role, the configuration and the schema"
    check_contains "$ERR" "nothing was written" "and says nothing was written"
    check_contains "$(hint_line)" "GRANT CREATE ON SCHEMA public TO restricted" "the hint gives the statement that helps"
    check_eq "$(q "$owner" "SELECT count(*) FROM docs")/$(q "$owner" "SELECT count(*) FROM pg_ts_config WHERE cfgname = 'pgboot_porter'")" "0/0" "no row, no configuration written"
    pgb migrate --sqlite "$PORTER" --to "$url" --data-only --dry-run
    check_failed "the dry run stops the same way" || true
    check_contains "$(err_line)" "may not create the text search configuration pgboot_porter" "the dry run's error names the configuration"
    q "$owner" "GRANT CREATE ON SCHEMA public TO restricted" >/dev/null
    pgb migrate --sqlite "$PORTER" --to "$url" --data-only
    check_rc 0 "with the grant, the role migrates into the app's tables"
    check_eq "$(q "$url" "SELECT count(*) FROM docs WHERE fts @@ plainto_tsquery('pgboot_porter', 'connect')")" 1 "the column is filled with pgboot_porter"
    q "$owner" "REVOKE CREATE ON SCHEMA public FROM restricted" >/dev/null
    pgb migrate --sqlite "$PORTER" --to "$url" --data-only --force --existing-rows replace
    check_rc 0 "the grant revoked, a later migration reuses pgboot_porter"
    check_eq "$(q "$url" "SELECT count(*) FROM docs WHERE fts @@ plainto_tsquery('pgboot_porter', 'connect')")" 1 "the column is filled again"
}

run_case no_schema case_no_schema
run_case no_create_in_schema case_no_create_in_schema
run_case porter_no_create case_porter_no_create
run_case foreign_staging_schema case_foreign_staging_schema
run_case nowhere_to_record case_nowhere_to_record
run_case pgboot_schema_given case_pgboot_schema_given
run_case create_on_database case_create_on_database
check_eq "$(sha256sum "$BIG" | cut -d' ' -f1)" "$BIG_SHA" "the source file is unchanged"
for d in managed1 managed2 managed3 managed4 foreignstaging; do q "$SERVER_URL" "DROP DATABASE IF EXISTS $d WITH (FORCE)" >/dev/null 2>&1 || true; done
q "$(super_url postgres)" "DROP ROLE IF EXISTS restricted" >/dev/null 2>&1 || true
ml_finish
