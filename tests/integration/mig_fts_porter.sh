#!/usr/bin/env bash
# pgboot migrate: FTS tables with SQLite's porter tokenizer (tokenize=porter:
# FTS3, FTS4, FTS5, FTS5 'porter unicode61' and 'porter ascii') are searched
# in PostgreSQL as SQLite searches them, with pgboot's configuration
# pgboot_porter (the original Porter stemmer, no stop words), not english
# (stop words dropped, Porter2):
# - differential: for each table and each query (single and several words:
#   stop words, inflections, mixed case, digits, hyphens, non-ASCII words),
#   the rowids SQLite's MATCH finds (real SQLite, python3's sqlite3) are those
#   PostgreSQL finds with fts @@ plainto_tsquery(<the column's
#   configuration>, query); the known differences (README) by name, each
#   still differing (tests/support/mig_fts_porter.py);
# - the configuration and its dictionary in the target schema, marked with a
#   comment; a second migration into the database reuses them; one of that
#   name that pgboot did not make stops the migration before writing, named,
#   with a hint, and is left as it was;
# - --dry-run prints the CREATE statements: the DDL, run in an empty
#   database, gives the configuration and columns a migration gives;
# - staged (a table of 100,000 rows): the workers create the tables against
#   the configuration made in the staging schema (or pgboot's in the target
#   schema, reused), and it ends in the target schema; the generated column
#   (it stores the configuration's OID) still computes with it; a staged
#   migration that fails (a damaged file: SQLite's quick_check) leaves no
#   configuration behind, nor the staging schema;
# - into the app's own tables (--data-only): their plain tsvector columns are
#   filled with pgboot_porter, made there (the differential again); one not
#   pgboot's stops it, nothing written.
set -euo pipefail
. "$(dirname "$0")/mig_lib.sh"

ml_setup
ml_server

DIFF=$SUPPORT_DIR/mig_fts_porter.py
mkdir -p "$U/src"
SRC=$U/src/porter.db
"$PY" "$DIFF" mkdb "$SRC"
MORE=$U/src/more.db
mkdb "$MORE" '
c.execute("CREATE VIRTUAL TABLE more USING fts5(body, tokenize = \"porter\")")
c.execute("INSERT INTO more (rowid, body) VALUES (1, \"the generously connected\")")'
BIG=$U/src/porter-big.db
"$PY" "$DIFF" mkdb "$BIG" 100000
user_own "$U/src"
URL=$(newdb porter)
REP=$U/out/porter.json

# differential URL DESC [CONFIG]: mig_fts_porter.py compare, each line a
# check.
differential() {
    local url=$1 desc=$2 config=${3:-} st what n=0
    while IFS=$'\t' read -r st what; do
        n=$((n + 1))
        if [[ $st == ok ]]; then ok "$desc: $what"; else nok "$desc: $what"; fi
    done < <(PSQL=$PSQL "$PY" "$DIFF" compare "$SRC" "$url" ${config:+"$config"} 2>&1 | sed 's/^\([^\t]*\)$/nok\t\1/')
    ((n > 100)) || nok "$desc: only $n comparisons"
}

# ts_objects URL: the text search configurations and dictionaries named
# pgboot_porter, "kind schema.name: comment" a line.
ts_objects() {
    q "$1" "SELECT kind || ' ' || nsp || '.' || name || ': ' || coalesce(note, '(no comment)') FROM (
              SELECT 'configuration' AS kind, cfgnamespace::regnamespace::text AS nsp, cfgname::text AS name, obj_description(oid, 'pg_ts_config') AS note FROM pg_ts_config WHERE cfgname = 'pgboot_porter'
              UNION ALL SELECT 'dictionary', dictnamespace::regnamespace::text, dictname::text, obj_description(oid, 'pg_ts_dict') FROM pg_ts_dict WHERE dictname = 'pgboot_porter') x ORDER BY 1"
}

# ts_oids URL: their OIDs.
ts_oids() { q "$1" "SELECT (SELECT string_agg(oid::text, ',') FROM pg_ts_config WHERE cfgname = 'pgboot_porter') || '/' || (SELECT string_agg(oid::text, ',') FROM pg_ts_dict WHERE dictname = 'pgboot_porter')"; }

# ts_map URL: pgboot_porter's mapping, "token: dictionaries" a line.
ts_map() {
    q "$1" "SELECT t.alias || ': ' || string_agg(m.mapdict::regdictionary::text, ',' ORDER BY m.mapseqno) FROM pg_ts_config_map m
            JOIN ts_token_type('default') t ON t.tokid = m.maptokentype WHERE m.mapcfg = 'pgboot_porter'::regconfig GROUP BY t.alias ORDER BY 1"
}

# fts_exprs URL: the expressions of the generated fts columns of the tables
# of SRC (p3, p4, ...; not more).
fts_exprs() {
    q "$1" "SELECT string_agg(c.relname || ': ' || pg_get_expr(d.adbin, d.adrelid), '; ' ORDER BY c.relname) FROM pg_attrdef d JOIN pg_class c ON c.oid = d.adrelid
            JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum WHERE a.attname = 'fts' AND c.relname LIKE 'p%'"
}

case_migrate() {
    pgb migrate --sqlite "$SRC" --to "$URL" --verify full --report "$REP"
    check_rc 0 "migrate five porter FTS tables (one transaction)"
    [[ $RC == 0 ]] || return 0
    echo 1 >"$T/migrated"
    check_eq "$(rj "$REP" 'd["load"]["staged"]')" false "(a small file: one transaction)"
    check_eq "$(ts_objects "$URL")" \
        "configuration public.pgboot_porter: pgboot: searches as the porter tokenizer of SQLite (tokenize=porter) does; made by pgboot migrate, which reuses it
dictionary public.pgboot_porter: pgboot: the original Porter stemmer, without stop words, for pgboot_porter" \
        "the configuration pgboot_porter and its dictionary, in the target schema, marked"
    check_match "$(fts_exprs "$URL")" "^(p[0-9a-z]+: to_tsvector\('pgboot_porter'::regconfig, [^;]*(; |$)){5}$" "every porter table's column: to_tsvector('pgboot_porter', ...)"
    check_not_contains "$(rj "$REP" "'\n'.join(s['name'] + ': ' + s['reason'] for s in d['skipped'] if s['kind'] == 'fts option')")" "tokenize" \
        "tokenize=porter, 'porter unicode61', 'porter ascii': not named as options without a counterpart"
}

migrated() { [[ -f "$T/migrated" ]]; }

case_differential() {
    migrated || return 0
    differential "$URL" "porter"
}

case_configuration() {
    migrated || return 0
    check_eq "$(ts_map "$URL")" "asciiword: pgboot_porter
email: simple
file: simple
float: simple
host: simple
hword_asciipart: pgboot_porter
hword_numpart: simple
hword_part: pgboot_porter
int: simple
numword: simple
sfloat: simple
uint: simple
url: simple
url_path: simple
version: simple
word: pgboot_porter" "pgboot_porter: words stemmed by the porter dictionary, hyphenated compounds left to their parts, the rest as simple"
    check_eq "$(q "$URL" "SELECT to_tsvector('pgboot_porter', 'The generously RUNNING happiness well-known')")" \
        "'gener':2 'happi':4 'known':6 'run':3 'the':1 'well':5" "the original Porter algorithm, every word kept"
    check_eq "$(q_try "$URL" "INSERT INTO p5 (body) VALUES ('the relational connections') RETURNING fts")" "'connect':3 'relat':2 'the':1" \
        "a new row's column is computed with it"
}

case_reuse() {
    migrated || return 0
    local rep=$U/out/more.json before
    before=$(ts_oids "$URL")
    pgb migrate --sqlite "$MORE" --to "$URL" --report "$rep" --force
    check_rc 0 "a second file with a porter FTS table into the same database (--force)"
    [[ $RC == 0 ]] || return 0
    check_eq "$(q "$URL" "SELECT (SELECT count(*) FROM pg_ts_config WHERE cfgname = 'pgboot_porter') || '/' || (SELECT count(*) FROM pg_ts_dict WHERE dictname = 'pgboot_porter')")" 1/1 \
        "pgboot's configuration reused: still one, and one dictionary"
    check_eq "$(q "$URL" "SELECT string_agg(rowid::text, ',') FROM more WHERE fts @@ plainto_tsquery('pgboot_porter', 'generous the connection')")" 1 "the second table searches with it"
    check_eq "$(ts_oids "$URL")" "$before" "the same objects (their OIDs), not made again"
}

case_not_ours() {
    local what stmt url
    for what in configuration dictionary; do
        url=$(newdb "theirs_$what")
        if [[ $what == configuration ]]; then
            stmt="CREATE TEXT SEARCH CONFIGURATION pgboot_porter (COPY = english)"
        else
            stmt="CREATE TEXT SEARCH DICTIONARY pgboot_porter (TEMPLATE = simple)"
        fi
        q "$url" "$stmt" >/dev/null
        pgb migrate --sqlite "$SRC" --to "$url"
        check_failed "$what: a text search $what pgboot_porter that pgboot did not make"
        check_match "$(err_line)" "schema public holds a text search $what pgboot_porter that pgboot did not make.*nothing was written" "$what: the error names it and says nothing was written"
        check_match "$(hint_line)" "ALTER TEXT SEARCH ${what^^} public.pgboot_porter RENAME TO" "$what: the hint says how to rename it"
        check_untouched "$url" "$what: refused"
        check_eq "$(ts_objects "$url")" "$what public.pgboot_porter: (no comment)" "$what: theirs is left as it was, and nothing is added"
    done
}

case_dry_run() {
    migrated || return 0
    local url ddl_db out
    url=$(newdb porter_dry)
    pgb migrate --sqlite "$SRC" --to "$url" --dry-run
    check_rc 0 "--dry-run"
    check_untouched "$url" "--dry-run"
    check_eq "$(q "$url" "SELECT count(*) FROM pg_ts_config WHERE cfgname = 'pgboot_porter'")" 0 "--dry-run makes no configuration"
    # stdout: the DDL, then the report
    sed -n '/^{$/q;p' <<<"$OUT" >"$T/dry.ddl"
    check_eq "$(grep -n -o -E '^CREATE (TEXT SEARCH DICTIONARY pgboot_porter|TEXT SEARCH CONFIGURATION pgboot_porter|TABLE)' "$T/dry.ddl" | sed 's/^[0-9]*://' | uniq)" \
        "CREATE TEXT SEARCH DICTIONARY pgboot_porter
CREATE TEXT SEARCH CONFIGURATION pgboot_porter
CREATE TABLE" "the DDL creates the dictionary and the configuration, then the tables"
    ddl_db=$(newdb porter_dryddl)
    if out=$(q_script "$ddl_db" <"$T/dry.ddl" 2>&1); then
        ok "the printed DDL runs in an empty database"
    else
        nok "the printed DDL fails in PostgreSQL: $(head -c 600 <<<"$out")"
    fi
    check_eq "$(ts_objects "$ddl_db")" "$(ts_objects "$URL")" "the DDL gives the configuration and dictionary a migration gives, marked"
    check_eq "$(ts_map "$ddl_db")" "$(ts_map "$URL")" "... with the same mapping"
    check_eq "$(fts_exprs "$ddl_db")" "$(fts_exprs "$URL")" "... and the same columns"
}

# staged_ok URL REP DESC: the staged migration's configuration is pgboot's,
# in the target schema, and the search is SQLite's.
staged_ok() {
    local url=$1 rep=$2 desc=$3
    check_eq "$(rj "$rep" 'd["load"]["staged"]')" true "$desc: the load is staged"
    check_eq "$(q "$url" "SELECT count(*) FROM pg_namespace WHERE nspname = 'pgboot_staging'")" 0 "$desc: no staging schema left"
    check_eq "$(ts_objects "$url" | sed 's/:.*//')" "configuration public.pgboot_porter
dictionary public.pgboot_porter" "$desc: the configuration and its dictionary end in the target schema"
    check_match "$(fts_exprs "$url")" "^(p[0-9a-z]+: to_tsvector\('pgboot_porter'::regconfig, [^;]*(; |$)){5}$" "$desc: the columns name it (unqualified: it is in the target schema)"
    check_eq "$(q "$url" "SELECT count(DISTINCT d.adrelid) FROM pg_depend p JOIN pg_attrdef d ON p.classid = 'pg_attrdef'::regclass AND p.objid = d.oid
                         WHERE d.adrelid::regclass::text LIKE 'p%' AND p.refclassid = 'pg_ts_config'::regclass AND p.refobjid = 'pgboot_porter'::regconfig")" 5 \
        "$desc: the five generated columns depend on it (by OID)"
    differential "$url" "$desc"
    check_eq "$(q_try "$url" "INSERT INTO p4 (body) VALUES ('generously') RETURNING fts")" "'gener':1" "$desc: a new row's column is computed with it"
}

case_staged() {
    local url rep=$U/out/porter-big.json
    url=$(newdb porter_big)
    pgb migrate --sqlite "$BIG" --to "$url" --report "$rep"
    check_rc 0 "staged: a file with a table of 100,000 rows and the porter FTS tables"
    [[ $RC == 0 ]] || return 0
    staged_ok "$url" "$rep" staged
}

case_staged_reuse() {
    local url rep=$U/out/porter-big-reuse.json
    url=$(newdb porter_big_reuse)
    pgb migrate --sqlite "$MORE" --to "$url"
    check_rc 0 "(a small porter file first: pgboot's configuration in the target schema)"
    local before
    before=$(ts_oids "$url")
    pgb migrate --sqlite "$BIG" --to "$url" --report "$rep" --force
    check_rc 0 "staged, into a database where pgboot's configuration is already (--force)"
    [[ $RC == 0 ]] || return 0
    staged_ok "$url" "$rep" "staged, reused"
    check_eq "$(ts_oids "$url")" "$before" "staged, reused: the same objects (their OIDs), not made again"
}

# the free list's first trunk page and count cut from the header: every row
# reads fine, only SQLite's quick_check (after the load) finds the damage
case_staged_fails() {
    local damaged=$U/src/porter-big-damaged.db url
    cp "$BIG" "$damaged"
    "$PY" - "$damaged" <<'EOF'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("CREATE TABLE junk (x TEXT)")
c.executemany("INSERT INTO junk VALUES (?)", (("x" * 500,) for i in range(2000)))
c.execute("DROP TABLE junk")
EOF
    printf '\0\0\0\0\0\0\0\0' | dd of="$damaged" bs=1 seek=32 conv=notrunc status=none
    user_own "$damaged"
    url=$(newdb porter_big_fails)
    pgb migrate --sqlite "$damaged" --to "$url"
    check_failed "staged: a damaged file fails after the load"
    check_contains "$ERR" "integrity check says: " "staged: failed at SQLite's check (after the workers created the tables that use the configuration)"
    check_untouched "$url" "staged, failed"
    check_eq "$(ts_objects "$url")" "" "staged, failed: no configuration, no dictionary left (gone with the staging schema)"
}

# --- into the app's own schema (more in mig_fts34.sh): its plain tsvector
# columns filled with to_tsvector(<configuration>, ...) --------------------------------

APP_SQL=$U/src/porter-app.sql
for t in p3 p4 p5 p5u p5a; do
    key=rowid
    [[ $t == p3 || $t == p4 ]] && key=docid
    echo "CREATE TABLE $t ($key bigint PRIMARY KEY, body text, fts tsvector);"
done >"$APP_SQL"
user_own "$APP_SQL"

case_app_schema() {
    local url rep=$U/out/porter-app.json cfg
    url=$(newdb porter_app)
    q_script "$url" <"$APP_SQL" >/dev/null
    # the dry run (was: no DDL, no full_text, nothing checked): the
    # statements the migration runs, the configuration made in its
    # transaction only
    pgb migrate --sqlite "$SRC" --to "$url" --data-only --dry-run
    check_rc 0 "--data-only --dry-run"
    check_contains "$OUT" "CREATE TEXT SEARCH CONFIGURATION pgboot_porter" "the dry run prints the configuration's statements"
    check_match "$OUT" "UPDATE \"?p3\"? SET \"?fts\"? = to_tsvector\('pgboot_porter'" "and the UPDATEs that fill the columns"
    check_eq "$(ts_objects "$url")/$(q "$url" "SELECT (SELECT count(*) FROM p3) + (SELECT count(*) FROM p5)")" "/0" "the dry run leaves no configuration and no row"
    pgb migrate --sqlite "$SRC" --to "$url" --data-only --report "$rep"
    check_rc 0 "--data-only into the app's own tables with plain tsvector columns"
    [[ $RC == 0 ]] || return 0
    cfg=$(rj "$rep" "','.join(sorted({f['configuration'] for f in d.get('full_text', [])}))")
    check_eq "$(rj "$rep" "len(d.get('full_text', []))")/$cfg" "5/pgboot_porter" "the report: five columns filled with pgboot_porter"
    check_eq "$(ts_objects "$url" | sed 's/:.*//')" "configuration public.pgboot_porter
dictionary public.pgboot_porter" "the configuration and its dictionary made in the target schema"
    differential "$url" "app schema" "$cfg"
}

case_app_schema_not_ours() {
    local url
    url=$(newdb porter_app_theirs)
    q_script "$url" <"$APP_SQL" >/dev/null
    q "$url" "CREATE TEXT SEARCH CONFIGURATION pgboot_porter (COPY = english)" >/dev/null
    pgb migrate --sqlite "$SRC" --to "$url" --data-only
    check_failed "--data-only, a configuration pgboot_porter that pgboot did not make"
    check_match "$(err_line)" "text search configuration pgboot_porter that pgboot did not make.*nothing was written" "the error names it"
    check_eq "$(q "$url" "SELECT (SELECT count(*) FROM p3) + (SELECT count(*) FROM p5)")" 0 "nothing written"
    check_eq "$(ts_objects "$url")" "configuration public.pgboot_porter: (no comment)" "theirs is left as it was"
    pgb migrate --sqlite "$SRC" --to "$url" --data-only --dry-run
    check_failed "--data-only --dry-run stops as the migration does (was: 'would migrate')" || true
    check_match "$(err_line)" "text search configuration pgboot_porter that pgboot did not make" "the dry run's error names it"
}

run_case migrate case_migrate
run_case differential case_differential
run_case configuration case_configuration
run_case reuse case_reuse
run_case not_ours case_not_ours
run_case dry_run case_dry_run
run_case staged case_staged
run_case staged_reuse case_staged_reuse
run_case staged_fails case_staged_fails
run_case app_schema case_app_schema
run_case app_schema_not_ours case_app_schema_not_ours
ml_finish
