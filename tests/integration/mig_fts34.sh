#!/usr/bin/env bash
# pgboot migrate: FTS3 and FTS4 tables (issue 10 A.6), from a real SQLite
# file made here, into a real server, converted as FTS5 tables are:
# - an FTS3 table (tokenize simple) and an FTS4 table (tokenize=porter,
#   notindexed=, matchinfo=, prefix=, order=): tables of their own (docid,
#   the columns as text, a generated tsvector column "fts" with a GIN index),
#   their rows exactly as in SQLite; a full-text query in PostgreSQL finds
#   the rows SQLite's MATCH finds, word by word; the options with no
#   PostgreSQL meaning are named in the report (tokenizer arguments too);
# - an FTS4 table with languageid=: its language ids carried as data, the
#   option named;
# - an FTS4 external-content table: a tsvector column on the content table;
# - a contentless FTS4 table: skipped with a reason; shadow tables never
#   migrated; a compressed one (compress=, uncompress=: SQLite reads no row
#   without the app's function) stops the migration before writing, naming it;
# - into the app's own schema (--schema): the app's search table gets the
#   rows and its tsvector column (no default, no generation) is filled with
#   to_tsvector(<config>, <the FTS columns>), as is the tsvector column
#   named after an external-content FTS4 table on its content table, and an
#   FTS5 table's; a tsvector column with a default keeps it; --data-only too.
set -euo pipefail
. "$(dirname "$0")/mig_lib.sh"

ml_setup
ml_server

# lite FILE SQL [PARAM]: the rows of SQL in the SQLite file, as psql -A -t
# prints them ('|' between values, NULL empty).
lite() {
    "$PY" - "$@" <<'EOF'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
for row in c.execute(sys.argv[2], sys.argv[3:]):
    print("|".join("" if v is None else str(v) for v in row))
EOF
}

SRC=$U/src/fts34.db
sqlite_file "$SRC" <<'EOF'
CREATE VIRTUAL TABLE notes3 USING fts3(title, body TEXT, tokenize simple);
INSERT INTO notes3 (docid, title, body) VALUES
    (5, 'Quartz clock', 'a ticking quartz movement'),
    (9, 'Zebra', 'black and white stripes, a zebra'),
    (12, NULL, 'the café opens at dawn; it''s 7:30');
CREATE VIRTUAL TABLE posts USING fts4(subject, text, tag, tokenize=porter, notindexed=tag,
    matchinfo=fts3, prefix="2,3", order=desc);
INSERT INTO posts (docid, subject, text, tag) VALUES
    (1, 'Running shoes', 'the runners were running quickly', 'sport'),
    (2, 'Cooking', 'she generously cooks dinner for connected friends', 'food'),
    (3, 'Connections', 'connecting flights', 'travel');
CREATE VIRTUAL TABLE intl USING fts4(words, languageid="lid");
INSERT INTO intl (docid, words, lid) VALUES (1, 'hello world', 0), (2, 'bonjour monde', 1);
CREATE TABLE docs (id INTEGER PRIMARY KEY, title TEXT, body TEXT);
INSERT INTO docs VALUES (1, 'Quartz', 'crystals'), (2, 'Zebra', 'stripes and quartz'), (3, 'Other', NULL);
CREATE VIRTUAL TABLE docs_idx USING fts4(content="docs", title, body);
INSERT INTO docs_idx (docs_idx) VALUES ('rebuild');
CREATE VIRTUAL TABLE gone USING fts4(content="", a);
CREATE VIRTUAL TABLE accents USING fts4(words, tokenize=unicode61 "remove_diacritics=0");
INSERT INTO accents (docid, words) VALUES (1, 'un café noir'), (2, 'the cafe');
CREATE VIRTUAL TABLE accents5 USING fts5(words, tokenize='porter unicode61 remove_diacritics 0');
INSERT INTO accents5 (rowid, words) VALUES (1, 'un café noir'), (2, 'the cafe');
CREATE VIRTUAL TABLE typed USING fts4(title VARCHAR(10, 2), body TEXT);
INSERT INTO typed (docid, title, body) VALUES (1, 'typed', 'columns');
CREATE VIRTUAL TABLE tagged5 USING fts5(body, tag UNINDEXED);
INSERT INTO tagged5 (rowid, body, tag) VALUES (1, 'hello world', 'sport'), (2, 'sport news', 'misc');
EOF
URL=$(newdb fts34)
REP=$U/out/fts34.json

case_migrate() {
    pgb migrate --sqlite "$SRC" --to "$URL" --verify full --report "$REP"
    check_rc 0 "migrate FTS3 and FTS4 tables"
    [[ $RC == 0 ]] || return 0
    echo 1 >"$T/migrated"
}

migrated() { [[ -f "$T/migrated" ]]; }

# cols URL TABLE: "name type, ..." of TABLE.
cols() { q "$1" "SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum) FROM pg_attribute WHERE attrelid = '$2'::regclass AND attnum > 0 AND NOT attisdropped"; }

# same_search TABLE CONFIG PGCOL WORD...: for each word, the docids PostgreSQL's
# search (PGCOL @@ to_tsquery(CONFIG, WORD)) finds are those SQLite's MATCH
# finds, and there are some.
same_search() {
    local table=$1 config=$2 col=$3 w want got
    shift 3
    for w in "$@"; do
        want=$(lite "$SRC" "SELECT group_concat(docid, ',') FROM (SELECT docid FROM $table WHERE $table MATCH ? ORDER BY docid)" "$w")
        got=$(q_try "$URL" "SELECT string_agg(docid::text, ',' ORDER BY docid) FROM $table WHERE $col @@ to_tsquery('$config', '$w')")
        check_ne "$want" "" "$table: SQLite's MATCH '$w' finds rows"
        check_eq "$got" "$want" "$table: PostgreSQL's search for '$w' finds what SQLite's MATCH finds ($want)"
    done
}

case_fts3() {
    migrated || return 0
    check_eq "$(cols "$URL" notes3)" "docid bigint, title text, body text, fts tsvector" "FTS3: table notes3(docid, title, body, fts tsvector)"
    check_eq "$(q "$URL" "SELECT attgenerated FROM pg_attribute WHERE attrelid = 'notes3'::regclass AND attname = 'fts'")" s "notes3.fts is generated (stored)"
    check_match "$(q "$URL" "SELECT indexdef FROM pg_indexes WHERE tablename = 'notes3'")" "USING gin \(fts\)" "notes3.fts has a GIN index"
    check_eq "$(q "$URL" "SELECT docid, title, body FROM notes3 ORDER BY docid")" \
        "$(lite "$SRC" "SELECT docid, title, body FROM notes3 ORDER BY docid")" "notes3: its rows exactly, with their docids"
    same_search notes3 simple fts quartz stripes zebra café dawn
    check_eq "$(q_try "$URL" "INSERT INTO notes3 (title, body) VALUES ('t', 'b') RETURNING docid")" 13 "notes3: the next docid after 12"
}

case_fts4_porter() {
    migrated || return 0
    check_eq "$(cols "$URL" posts)" "docid bigint, subject text, text text, tag text, fts tsvector" "FTS4: table posts(docid, subject, text, tag, fts tsvector)"
    check_eq "$(q "$URL" "SELECT docid, subject, text, tag FROM posts ORDER BY docid")" \
        "$(lite "$SRC" "SELECT docid, subject, text, tag FROM posts ORDER BY docid")" "posts: its rows exactly"
    check_match "$(q "$URL" "SELECT pg_get_expr(adbin, adrelid) FROM pg_attrdef WHERE adrelid = 'posts'::regclass")" "to_tsvector\('pgboot_porter'" "tokenize=porter: pgboot's configuration pgboot_porter"
    same_search posts pgboot_porter fts run running connect cook quickly the generously
    # notindexed=tag: not searchable in SQLite, nor in PostgreSQL
    check_eq "$(lite "$SRC" "SELECT count(*) FROM posts WHERE posts MATCH 'sport'")" 0 "SQLite does not find the notindexed tag"
    check_eq "$(q_try "$URL" "SELECT count(*) FROM posts WHERE fts @@ to_tsquery('pgboot_porter', 'sport')")" 0 "notindexed=tag: PostgreSQL does not search it either"
    local opts
    opts=$(rj "$REP" "'\n'.join(s['name'] for s in d['skipped'] if s['kind'] == 'fts option' and s['name'].startswith('posts:'))")
    check_contains "$opts" "posts: matchinfo=fts3" "the report names matchinfo="
    check_contains "$opts" "posts: prefix=2,3" "the report names prefix="
    check_contains "$opts" "posts: order=desc" "the report names order="
    check_not_contains "$opts" "tokenize" "tokenize=porter is carried, not named"
    check_eq "$(rj "$REP" "[s['name'] for s in d['skipped'] if s['kind'] == 'virtual table']")" "[]" "no FTS3/4 table dropped as a virtual table"
}

case_fts4_languageid() {
    migrated || return 0
    check_eq "$(cols "$URL" intl)" "docid bigint, words text, lid bigint, fts tsvector" "languageid=lid: a column lid"
    check_eq "$(q "$URL" "SELECT docid, words, lid FROM intl ORDER BY docid")" "$(lite "$SRC" "SELECT docid, words, lid FROM intl ORDER BY docid")" "intl: rows and language ids exactly"
    check_match "$(rj "$REP" "'\n'.join(s['name'] + ': ' + s['reason'] for s in d['skipped'] if s['kind'] == 'fts option')")" "intl: languageid=lid: .+" "the report names languageid= with a reason"
}

case_fts4_external() {
    migrated || return 0
    check_eq "$(cols "$URL" docs)" "id bigint, title text, body text, docs_idx tsvector" "external content: docs.docs_idx tsvector"
    check_match "$(q "$URL" "SELECT indexdef FROM pg_indexes WHERE tablename = 'docs'")" "USING gin \(docs_idx\)" "docs.docs_idx has a GIN index"
    check_eq "$(q "$URL" "SELECT count(*) FROM pg_class WHERE relname = 'docs_idx' AND relkind IN ('r','v','m')")" 0 "no table docs_idx"
    local w want got
    for w in quartz stripes zebra; do
        want=$(lite "$SRC" "SELECT group_concat(docid, ',') FROM (SELECT docid FROM docs_idx WHERE docs_idx MATCH ? ORDER BY docid)" "$w")
        got=$(q_try "$URL" "SELECT string_agg(id::text, ',' ORDER BY id) FROM docs WHERE docs_idx @@ to_tsquery('simple', '$w')")
        check_ne "$want" "" "docs_idx: SQLite's MATCH '$w' finds rows"
        check_eq "$got" "$want" "docs: PostgreSQL's search for '$w' finds what SQLite's MATCH finds ($want)"
    done
}

case_tokenizer_arguments() {
    migrated || return 0
    same_search accents simple fts café cafe noir
    check_match "$(rj "$REP" "'\n'.join(s['name'] + ': ' + s['reason'] for s in d['skipped'] if s['kind'] == 'fts option')")" \
        "accents: tokenize=unicode61 remove_diacritics=0: .*simple configuration" "the report names the tokenizer's arguments"
    check_match "$(rj "$REP" "'\n'.join(s['name'] + ': ' + s['reason'] for s in d['skipped'] if s['kind'] == 'fts option')")" \
        "accents5: tokenize=porter unicode61 remove_diacritics 0: .*pgboot's pgboot_porter configuration" "the report names porter's arguments past the tokenizer it wraps"
    check_eq "$(q_try "$URL" "SELECT string_agg(rowid::text, ',' ORDER BY rowid) FROM accents5 WHERE fts @@ plainto_tsquery('pgboot_porter', 'café')")" \
        "$(lite "$SRC" "SELECT group_concat(rowid, ',') FROM accents5 WHERE accents5 MATCH 'café'")" "accents5: pgboot_porter finds what SQLite finds"
}

case_unindexed_and_types() {
    migrated || return 0
    check_eq "$(cols "$URL" typed)" "docid bigint, title text, body text, fts tsvector" "FTS4 columns with types (VARCHAR(10, 2)): two text columns"
    # FTS5's UNINDEXED, as FTS4's notindexed=: stored, not searched
    check_eq "$(q "$URL" "SELECT rowid, body, tag FROM tagged5 ORDER BY rowid")" "$(lite "$SRC" "SELECT rowid, body, tag FROM tagged5 ORDER BY rowid")" "tagged5: its rows exactly"
    local want got
    want=$(lite "$SRC" "SELECT group_concat(rowid, ',') FROM tagged5 WHERE tagged5 MATCH 'sport'")
    got=$(q_try "$URL" "SELECT string_agg(rowid::text, ',' ORDER BY rowid) FROM tagged5 WHERE fts @@ to_tsquery('simple', 'sport')")
    check_eq "$got" "$want" "FTS5 UNINDEXED: PostgreSQL's search finds what SQLite's MATCH finds ($want: not the tag)"
}

case_contentless_and_shadows() {
    migrated || return 0
    check_match "$(rj "$REP" "'\n'.join(s['kind'] + ' ' + s['name'] + ': ' + s['reason'] for s in d['skipped'] if s['name'] == 'gone')")" "fts4 table gone: .*contentless" \
        "contentless FTS4: in skipped with a reason"
    check_eq "$(q "$URL" "SELECT count(*) FROM pg_class WHERE relname = 'gone'")" 0 "contentless FTS4: no table"
    check_eq "$(q "$URL" "SELECT coalesce(string_agg(relname, ','), '') FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r' AND relname ~ '_(content|segments|segdir|docsize|stat)$'")" "" \
        "no FTS3/4 shadow table in PostgreSQL"
}

# --- compress=/uncompress=: SQLite reads no row without the app's function ---------

ZIP_SRC=$U/src/fts_zip.db
mkdb "$ZIP_SRC" '
import zlib
c.create_function("zip", 1, lambda s: zlib.compress(s.encode()))
c.create_function("unzip", 1, lambda b: zlib.decompress(b).decode())
c.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
c.execute("CREATE VIRTUAL TABLE packed USING fts4(a, compress=zip, uncompress=unzip)")
c.execute("INSERT INTO packed (docid, a) VALUES (1, \"hello world\")")
'

case_compressed() {
    local url
    url=$(newdb ftszip)
    pgb migrate --sqlite "$ZIP_SRC" --to "$url"
    check_failed "a compressed FTS4 table"
    check_match "$(err_line)" "packed.*uncompress=unzip" "the error names the table and its uncompress function"
    check_match "$(hint_line)" "nothing was written" "the hint says nothing was written"
    check_eq "$(q "$url" "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace")" 0 "nothing written"
}

# --- into the app's own schema -----------------------------------------------------

APP_SRC=$U/src/fts_app.db
sqlite_file "$APP_SRC" <<'EOF'
CREATE TABLE docs (id INTEGER PRIMARY KEY, title TEXT, body TEXT);
INSERT INTO docs VALUES (1, 'Running', 'runners run'), (2, 'Cooking', 'cooked meals'), (3, 'Empty', NULL);
CREATE VIRTUAL TABLE docs_fts USING fts4(content="docs", title, body, tokenize=porter);
INSERT INTO docs_fts (docs_fts) VALUES ('rebuild');
CREATE VIRTUAL TABLE notes USING fts4(subject, text, tokenize=porter, order=desc);
INSERT INTO notes (docid, subject, text) VALUES (4, 'Connections', 'connecting flights'), (8, 'Cooks', 'she cooks');
CREATE VIRTUAL TABLE memos USING fts5(subject, body, tokenize='porter');
INSERT INTO memos (rowid, subject, body) VALUES (3, 'Trips', 'travelling by train'), (7, 'Food', 'cooking lessons');
EOF
APP_SQL=$U/src/fts_app.sql
cat >"$APP_SQL" <<'EOF'
CREATE TABLE docs (id serial PRIMARY KEY, title text, body text, docs_fts tsvector);
CREATE INDEX docs_fts_idx ON docs USING gin (docs_fts);
CREATE TABLE notes (docid bigint PRIMARY KEY, subject text, text text, search tsvector,
    tagged tsvector DEFAULT 'x'::tsvector,
    short tsvector GENERATED ALWAYS AS (to_tsvector('simple', coalesce(subject, ''))) STORED);
CREATE INDEX notes_search_idx ON notes USING gin (search);
CREATE TABLE memos (rowid bigint PRIMARY KEY, subject text, body text, search tsvector);
EOF
user_own "$APP_SQL"

case_app_schema() {
    local url rep=$U/out/fts_app.json
    url=$(newdb ftsapp)
    pgb migrate --sqlite "$APP_SRC" --to "$url" --schema "$APP_SQL" --verify full --report "$rep"
    check_rc 0 "FTS4 tables into the app's own search tables"
    [[ $RC == 0 ]] || return 0
    check_eq "$(q "$url" "SELECT docid, subject, text FROM notes ORDER BY docid")" "$(lite "$APP_SRC" "SELECT docid, subject, text FROM notes ORDER BY docid")" "notes: the app's search table gets the rows"
    check_eq "$(q "$url" "SELECT count(*) FROM notes WHERE search IS NOT NULL AND search = to_tsvector('pgboot_porter', coalesce(subject, '') || ' ' || coalesce(text, ''))")" 2 \
        "notes.search (no default, no generation) = to_tsvector('pgboot_porter', subject || ' ' || text)"
    check_eq "$(q "$url" "SELECT string_agg(tagged::text, ',') FROM notes")" "'x','x'" "a tsvector column with a default keeps it"
    check_eq "$(q "$url" "SELECT string_agg(docid::text, ',' ORDER BY docid) FROM notes WHERE search @@ to_tsquery('pgboot_porter', 'connect')")" \
        "$(lite "$APP_SRC" "SELECT group_concat(docid, ',') FROM notes WHERE notes MATCH 'connect'")" "notes: the search finds what SQLite's MATCH finds"
    check_eq "$(q "$url" "SELECT count(*) FROM docs WHERE docs_fts IS NOT NULL AND docs_fts = to_tsvector('pgboot_porter', coalesce(title, '') || ' ' || coalesce(body, ''))")" 3 \
        "docs.docs_fts (named after the external-content FTS4 table) filled"
    check_eq "$(q "$url" "SELECT string_agg(id::text, ',' ORDER BY id) FROM docs WHERE docs_fts @@ to_tsquery('pgboot_porter', 'run')")" \
        "$(lite "$APP_SRC" "SELECT group_concat(docid, ',') FROM docs_fts WHERE docs_fts MATCH 'run'")" "docs: the search finds what SQLite's MATCH finds"
    check_eq "$(q "$url" "SELECT rowid, subject, body FROM memos ORDER BY rowid")" "$(lite "$APP_SRC" "SELECT rowid, subject, body FROM memos ORDER BY rowid")" "FTS5 memos: the app's search table gets the rows"
    check_eq "$(q "$url" "SELECT string_agg(rowid::text, ',' ORDER BY rowid) FROM memos WHERE search @@ to_tsquery('pgboot_porter', 'cook')")" \
        "$(lite "$APP_SRC" "SELECT group_concat(rowid, ',') FROM memos WHERE memos MATCH 'cook'")" "FTS5 memos.search filled: the search finds what SQLite's MATCH finds"
    check_eq "$(rj "$rep" "','.join(sorted(f['table'] + '.' + f['column'] + ':' + f['configuration'] for f in d.get('full_text', [])))")" "docs.docs_fts:pgboot_porter,memos.search:pgboot_porter,notes.search:pgboot_porter" \
        "the report lists the search columns filled"
    check_eq "$(q "$url" "SELECT cfgnamespace::regnamespace::text || ': ' || (obj_description(oid, 'pg_ts_config') LIKE 'pgboot: %') FROM pg_ts_config WHERE cfgname = 'pgboot_porter'")" "public: true" \
        "tokenize=porter: pgboot's configuration pgboot_porter made in the target schema, marked"
    check_eq "$(q "$url" "SELECT string_agg(rowid::text, ',' ORDER BY rowid) FROM memos WHERE search @@ plainto_tsquery('pgboot_porter', 'by train')")" \
        "$(lite "$APP_SRC" "SELECT group_concat(rowid, ',') FROM memos WHERE memos MATCH 'by train'")" "FTS5 memos.search: stop words kept, as SQLite keeps them"
    check_contains "$(rj "$rep" "'\n'.join(s['name'] for s in d['skipped'] if s['kind'] == 'fts option')")" "notes: order=desc" "the report names order="
    check_eq "$(q_try "$url" "INSERT INTO docs (title, body) VALUES ('n', 'b') RETURNING id")" 4 "the app's serial goes on after the loaded ids"
}

case_data_only() {
    local url
    url=$(newdb ftsdata)
    q_script "$url" <"$APP_SQL" >/dev/null
    pgb migrate --sqlite "$APP_SRC" --to "$url" --data-only
    check_rc 0 "--data-only into the app's existing search tables"
    [[ $RC == 0 ]] || return 0
    check_eq "$(q "$url" "SELECT (SELECT count(*) FROM notes WHERE search IS NOT NULL) || '/' || (SELECT count(*) FROM docs WHERE docs_fts IS NOT NULL) || '/' || (SELECT count(*) FROM memos WHERE search IS NOT NULL)")" "2/3/2" \
        "--data-only: every search column filled"
    check_eq "$(q "$url" "SELECT count(*) FROM pg_ts_config WHERE cfgname = 'pgboot_porter'")" 1 "--data-only: pgboot_porter made"
}

run_case migrate case_migrate
run_case fts3 case_fts3
run_case fts4_porter case_fts4_porter
run_case fts4_languageid case_fts4_languageid
run_case fts4_external case_fts4_external
run_case tokenizer_arguments case_tokenizer_arguments
run_case unindexed_and_types case_unindexed_and_types
run_case contentless_and_shadows case_contentless_and_shadows
run_case compressed case_compressed
run_case app_schema case_app_schema
run_case data_only case_data_only
ml_finish
