#!/usr/bin/env bash
# pgboot migrate: what the CREATE TABLE text says, carried exactly or named
# in the report (issue 10, items 8, 10, 12, 13 and 14). Each case builds its
# own SQLite file, migrates it into a fresh database of a real server, reads
# the catalogs back (pg_constraint, pg_attrdef, pg_indexes,
# information_schema) and tries what the constraint does.
#
#   defaults_final_type   literal defaults in the column's final type, or
#                         in skipped with the reason (item 8)
#   null_primary_key      a non-integer PRIMARY KEY holding NULLs: UNIQUE,
#                         with a warning (item 10)
#   uuid_canonical        uuid only when every value reads back exactly
#                         (item 12)
#   nocase_keys           PRIMARY KEY / UNIQUE over NOCASE columns stay
#                         case-insensitive, folding ASCII letters only
#                         (item 13)
#   constraint_grammar    every clause of SQLite's column- and
#                         table-constraint grammar (item 14)
set -euo pipefail
. "$(dirname "$0")/mig_lib.sh"

ml_setup
ml_server

# migrate_case NAME PYTHON-CODE: the SQLite file NAME.db built by the code,
# migrated into a fresh database NAME; sets URL and REP. Returns 1 (after a
# failed check) when the migration fails.
migrate_case() {
    local src=$U/src/$1.db
    mkdb "$src" "$2"
    URL=$(newdb "$1")
    REP=$U/out/$1.json
    pgb migrate --sqlite "$src" --to "$URL" --verify full --report "$REP"
    check_rc 0 "migrate $1.db"
    [[ $RC == 0 ]] || {
        show_last >&2
        return 1
    }
}

# skipped KIND: the report's skipped entries of KIND, "name: reason" each.
skipped() { rj "$REP" "'\n'.join(s['name'] + ': ' + s['reason'] for s in d['skipped'] if s['kind'] == '$1')"; }
warnings() { rj "$REP" '"\n".join(d["warnings"])'; }
# refused DESC SQL ERE: the statement fails with an error matching ERE.
refused() { check_match "$(q_try "$URL" "$2")" "^ERROR: .*$3" "$1"; }
# accepted DESC SQL: the statement succeeds.
accepted() { check_not_contains "$(q_try "$URL" "$2")" "ERROR:" "$1"; }
# condefs TABLE: "contype: definition" of TABLE's constraints, one a line.
condefs() { q "$URL" "SELECT contype::text || ': ' || pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = '$1'::regclass ORDER BY 1"; }
# coldefault TABLE COLUMN: information_schema's column_default ("<none>").
coldefault() { q "$URL" "SELECT coalesce(column_default, '<none>') FROM information_schema.columns WHERE table_schema = 'public' AND table_name = '$1' AND column_name = '$2'"; }

# Item 8. Before the fix: DEFAULT TRUE on a column that became bigint was
# dropped (cannot cast type boolean to bigint); 1.5 became 2 in a bigint
# column and 1.005 became 1.01 in numeric(10,2), silently; 1e3 became '1000'
# in a TEXT column where SQLite stores '1000.0'; 'yes' became true in a
# boolean column that SQLite would fill with the text 'yes'; a non-canonical
# UUID default became another text.
case_defaults_final_type() {
    migrate_case dflt "
c.execute('''CREATE TABLE d(id INTEGER PRIMARY KEY,
    flag BOOLEAN NOT NULL DEFAULT TRUE, flag1 BOOLEAN DEFAULT 1, flagf BOOLEAN DEFAULT FALSE,
    flagt BOOLEAN DEFAULT 'true', flagyes BOOLEAN DEFAULT 'yes',
    n INTEGER DEFAULT TRUE, nneg INTEGER DEFAULT (-7), nf INTEGER DEFAULT 1.5,
    amount NUMERIC(10,2) DEFAULT 1.005, amount2 NUMERIC(10,2) DEFAULT '2.50',
    txt TEXT DEFAULT 1e3, day DATE DEFAULT '2024-02-29', at DATETIME DEFAULT '2024-01-02 03:04:05',
    atz DATETIME DEFAULT '2024-01-02 03:04:05', u UUID DEFAULT 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11',
    bin BLOB DEFAULT x'00ff')''')
c.execute('''INSERT INTO d VALUES (1, 0, 1, 1, 'false', 1, 5, 1, 7, 1.25, '3.50', 'x', '2024-01-01',
    '2024-01-01 00:00:00', '2024-01-01 00:00:00Z', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12', x'01')''')
" || return 0
    check_eq "$(coltype "$URL" d flag)/$(coltype "$URL" d n)/$(coltype "$URL" d amount)/$(coltype "$URL" d atz)/$(coltype "$URL" d u)" \
        "boolean/bigint/numeric(10,2)/timestamp with time zone/uuid" "the final types the defaults must fit"
    local row
    row=$(q_try "$URL" "INSERT INTO d (id) VALUES (100) RETURNING flag, flag1, flagf, flagt, n, nneg, amount2, txt, day, at, encode(bin, 'hex')")
    check_eq "$row" "t|t|f|t|1|-7|2.50|1000.0|2024-02-29|2024-01-02 03:04:05|00ff" \
        "a new row gets every default SQLite would give it, in the column's type"
    check_eq "$(coldefault d n)" "'1'::bigint" "DEFAULT TRUE on a bigint column: pg_attrdef holds 1"
    check_eq "$(coldefault d flag)" "true" "DEFAULT TRUE on a boolean column: pg_attrdef holds true"
    check_eq "$(q_try "$URL" "INSERT INTO d (id) VALUES (101) RETURNING coalesce(flagyes::text, '<null>') || '|' || coalesce(nf::text, '<null>') || '|' || coalesce(amount::text, '<null>') || '|' || coalesce(atz::text, '<null>') || '|' || coalesce(u::text, '<null>')")" \
        "<null>|<null>|<null>|<null>|<null>" "defaults the type cannot hold exactly are not carried (no rounding, no zone guessed)"
    local sk
    sk=$(skipped default)
    check_match "$sk" "d\.flagyes: DEFAULT 'yes' not carried: .*boolean" "DEFAULT 'yes' on boolean: in skipped, by name, with the type"
    check_match "$sk" "d\.nf: DEFAULT 1\.5 not carried: .*fractional" "DEFAULT 1.5 on bigint: in skipped"
    check_match "$sk" "d\.amount: DEFAULT 1\.005 not carried: .*precision and scale" "DEFAULT 1.005 on numeric(10,2): in skipped"
    check_match "$sk" "d\.atz: DEFAULT '2024-01-02 03:04:05' not carried" "a zone-less DEFAULT on timestamptz: in skipped"
    check_match "$sk" "d\.u: DEFAULT 'A0EEBC99.* not carried: .*canonical" "a non-canonical UUID DEFAULT on uuid: in skipped"
    check_eq "$(grep -c . <<<"$sk")" 5 "exactly those five defaults are in skipped"
}

# Item 10. Before the fix: ADD PRIMARY KEY was refused (NULLs) and the table
# ended with no constraint at all: a duplicate 'a' was accepted.
case_null_primary_key() {
    migrate_case nullpk "
c.execute('CREATE TABLE np(code TEXT PRIMARY KEY, v INT)')
c.executemany('INSERT INTO np VALUES (?, ?)', [('a', 1), (None, 2), (None, 3)])
c.execute('CREATE TABLE np2(a TEXT, b TEXT, v INT, PRIMARY KEY (a, b))')
c.executemany('INSERT INTO np2 VALUES (?, ?, ?)', [('x', None, 1), ('x', None, 2), ('x', 'y', 3)])
c.execute('CREATE TABLE fine(code TEXT PRIMARY KEY, v INT)')
c.execute(\"INSERT INTO fine VALUES ('a', 1)\")
" || return 0
    check_eq "$(condefs np)" "u: UNIQUE (code)" "np: the key holding NULLs is UNIQUE (code)"
    check_eq "$(condefs np2)" "u: UNIQUE (a, b)" "np2: the composite key holding NULLs is UNIQUE (a, b)"
    check_eq "$(condefs fine)" "p: PRIMARY KEY (code)" "a key without NULLs stays the PRIMARY KEY"
    check_eq "$(q "$URL" "SELECT count(*) FROM np")/$(q "$URL" "SELECT count(*) FROM np2")" "3/3" "every row is there"
    accepted "np: another NULL key is accepted (NULLs distinct, as in SQLite)" "INSERT INTO np VALUES (NULL, 4)"
    refused "np: a duplicate non-NULL key is refused" "INSERT INTO np VALUES ('a', 5)" "duplicate key"
    accepted "np2: another ('x', NULL) is accepted" "INSERT INTO np2 VALUES ('x', NULL, 4)"
    refused "np2: a duplicate ('x', 'y') is refused" "INSERT INTO np2 VALUES ('x', 'y', 5)" "duplicate key"
    local w
    w=$(warnings)
    check_match "$w" "table np: its PRIMARY KEY \(code\) holds NULLs.*UNIQUE \(code\)" "a warning names np and what it became"
    check_match "$w" "table np2: its PRIMARY KEY \(a, b\) holds NULLs" "a warning names np2"
    check_not_contains "$w" "table fine:" "no warning for the key without NULLs"
    check_eq "$(skipped 'primary key')" "" "no key in skipped"
}

# Item 12. Before the fix: the column became uuid, the three spellings of
# one UUID became one value, the primary key was refused and dropped.
case_uuid_canonical() {
    migrate_case uuids "
c.execute('CREATE TABLE tok(id UUID PRIMARY KEY, v INT)')
c.executemany('INSERT INTO tok VALUES (?, ?)', [('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 1),
    ('A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', 2), ('{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}', 3)])
c.execute('CREATE TABLE good(id UUID PRIMARY KEY, v INT)')
c.executemany('INSERT INTO good VALUES (?, ?)', [('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 1),
    ('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12', 2)])
" || return 0
    check_eq "$(coltype "$URL" tok id)" text "UUIDs differing in case or braces: text"
    check_eq "$(coltype "$URL" good id)" uuid "canonical lower-case UUIDs: uuid"
    check_eq "$(q "$URL" "SELECT string_agg(id, ',' ORDER BY v) FROM tok")" \
        "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11,A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11,{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}" \
        "each value exactly as written"
    check_eq "$(condefs tok)" "p: PRIMARY KEY (id)" "tok keeps its primary key (no keys collapsed)"
    refused "tok: the primary key works" "INSERT INTO tok VALUES ('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 9)" "duplicate key"
    check_match "$(rj "$REP" 'col("tok","id").get("reason") or ""')" "canonical.*kept as text" "the report says why tok.id is text"
}

# Item 13. Before the fix: PRIMARY KEY ... COLLATE NOCASE became
# case-sensitive ('ALICE' accepted beside 'alice'), and a UNIQUE over a
# NOCASE and a BINARY column folded both (so ('x','B') and ('x','b'), distinct
# in SQLite, were refused and the constraint dropped).
case_nocase_keys() {
    migrate_case nocase "
c.execute('CREATE TABLE users(name TEXT PRIMARY KEY COLLATE NOCASE, v INT)')
c.executemany('INSERT INTO users VALUES (?, ?)', [('alice', 1), ('\u00c9mile', 2), ('\u00e9mile', 3), ('Bob', 4)])
c.execute('CREATE TABLE pkc(k TEXT, PRIMARY KEY (k COLLATE NOCASE))')
c.execute(\"INSERT INTO pkc VALUES ('Q')\")
c.execute('CREATE TABLE wr(k TEXT COLLATE NOCASE PRIMARY KEY, v INT) WITHOUT ROWID')
c.execute(\"INSERT INTO wr VALUES ('Key', 1)\")
c.execute('CREATE TABLE uq2(a TEXT COLLATE NOCASE, b TEXT, UNIQUE (a, b))')
c.executemany('INSERT INTO uq2 VALUES (?, ?)', [('x', 'B'), ('x', 'b')])
c.execute('CREATE TABLE par(code TEXT COLLATE NOCASE UNIQUE)')
c.execute(\"INSERT INTO par VALUES ('Abc')\")
c.execute('CREATE TABLE ch(r TEXT REFERENCES par(code))')
c.execute(\"INSERT INTO ch VALUES ('Abc')\")
c.execute('CREATE TABLE plain(s TEXT COLLATE NOCASE)')
c.execute(\"INSERT INTO plain VALUES ('Abc')\")
" || return 0
    check_eq "$(condefs users)" "p: PRIMARY KEY (name)" "users keeps its primary key"
    check_match "$(q "$URL" "SELECT indexdef FROM pg_indexes WHERE tablename = 'users'")" \
        "CREATE UNIQUE INDEX .* ON public\.users USING btree \(lower\(\(name COLLATE \"C\"\)\)\)" "users: a unique index on the ASCII-folded name"
    check_eq "$(q "$URL" "SELECT count(*) FROM users")" 4 "users: 'Émile' and 'émile' (distinct under SQLite's NOCASE) both migrated"
    refused "users: 'ALICE' refused beside 'alice'" "INSERT INTO users VALUES ('ALICE', 9)" "duplicate key"
    refused "users: 'ÉMILE' refused beside 'Émile' (only ASCII letters fold)" "INSERT INTO users VALUES ('ÉMILE', 9)" "duplicate key"
    accepted "users: 'Ésa' accepted" "INSERT INTO users VALUES ('Ésa', 10)"
    accepted "users: 'ésa' accepted beside 'Ésa' (É and é do not fold, as in SQLite)" "INSERT INTO users VALUES ('ésa', 11)"
    refused "pkc: PRIMARY KEY (k COLLATE NOCASE): 'q' refused beside 'Q'" "INSERT INTO pkc VALUES ('q')" "duplicate key"
    refused "WITHOUT ROWID, NOCASE key: 'KEY' refused beside 'Key'" "INSERT INTO wr VALUES ('KEY', 2)" "duplicate key"
    check_eq "$(q "$URL" "SELECT count(*) FROM uq2")" 2 "uq2: ('x','B') and ('x','b') both there"
    check_match "$(q "$URL" "SELECT indexdef FROM pg_indexes WHERE tablename = 'uq2'")" \
        "\(lower\(\(a COLLATE \"C\"\)\), b\)" "uq2: only the NOCASE column is folded"
    refused "uq2: ('X','B') refused" "INSERT INTO uq2 VALUES ('X', 'B')" "duplicate key"
    check_eq "$(condefs uq2)" "u: UNIQUE (a, b)" "uq2: the UNIQUE constraint itself is there too"
    refused "par: UNIQUE over a NOCASE column: 'ABC' refused beside 'Abc'" "INSERT INTO par VALUES ('ABC')" "duplicate key"
    check_eq "$(condefs ch)" "f: FOREIGN KEY (r) REFERENCES par(code)" "a foreign key to the NOCASE UNIQUE column is carried (it references the UNIQUE constraint)"
    accepted "uq2: ('X','c') accepted" "INSERT INTO uq2 VALUES ('X', 'c')"
    local w
    w=$(warnings)
    check_match "$w" "column users\.name is COLLATE NOCASE.*case-sensitively.*uniqueness stays case-insensitive" "users.name: NOCASE comparisons lost, reported"
    check_match "$w" "column plain\.s is COLLATE NOCASE.*case-sensitively" "plain.s (no key): NOCASE comparisons lost, reported"
    check_match "$w" "column pkc\.k is COLLATE NOCASE" "pkc.k (NOCASE in the key only): reported"
    check_eq "$(rj "$REP" '"\n".join(s["kind"] + " " + s["name"] for s in d["skipped"] if not s["name"].startswith("sqlite_"))')" "" "nothing in skipped"
}

# Item 13 through a staged migration (a table of 100,000 rows: the unique
# indexes are built ahead on the staging connections, the key in the final
# transaction): the same case-insensitive key, and each is built once.
case_nocase_key_staged() {
    migrate_case nocasebig "
c.execute('CREATE TABLE big(name TEXT PRIMARY KEY COLLATE NOCASE, v INT)')
c.execute('BEGIN')
c.executemany('INSERT INTO big VALUES (?, ?)', (('user%06d' % i, i) for i in range(100000)))
c.execute('COMMIT')
" || return 0
    check_eq "$(rj "$REP" 'd.get("load")')" '{"connections": 2, "staged": true, "restarted": false}' "the load was staged, over two connections"
    check_eq "$(q "$URL" "SELECT count(*) FROM big")" 100000 "all rows there"
    check_eq "$(condefs big)" "p: PRIMARY KEY (name)" "big keeps its primary key"
    check_eq "$(q "$URL" "SELECT count(*) FROM pg_indexes WHERE tablename = 'big' AND indexdef LIKE '%lower((name COLLATE \"C\"))%'")" 1 "one unique index on the folded name"
    refused "big: 'USER000042' refused beside 'user000042'" "INSERT INTO big VALUES ('USER000042', 1)" "duplicate key"
    check_eq "$(skipped 'primary key (case-insensitive)')" "" "the case-insensitive key is not in skipped"
}

# Item 14. Before the fix: the ON CONFLICT clauses, constraint names, MATCH,
# COLLATE RTRIM and DESC keys were dropped without a word; a foreign key
# NOT DEFERRABLE INITIALLY DEFERRED (checked at once by SQLite) became
# DEFERRABLE INITIALLY DEFERRED, and DEFERRABLE [INITIALLY IMMEDIATE] was
# dropped without a word.
case_constraint_grammar() {
    migrate_case grammar "
c.execute('CREATE TABLE parent(id INTEGER PRIMARY KEY AUTOINCREMENT, code TEXT UNIQUE)')
c.execute(\"INSERT INTO parent VALUES (1, 'p1')\")
c.execute('''CREATE TABLE g(
    id INTEGER CONSTRAINT pk_g PRIMARY KEY ASC ON CONFLICT REPLACE AUTOINCREMENT,
    a TEXT CONSTRAINT nn_a NOT NULL ON CONFLICT IGNORE,
    b TEXT UNIQUE ON CONFLICT FAIL,
    c INTEGER CONSTRAINT ck_c CHECK (c > 0),
    d TEXT DEFAULT 'dflt',
    e TEXT COLLATE NOCASE,
    e2 TEXT COLLATE RTRIM,
    p INTEGER REFERENCES parent(id) ON DELETE CASCADE ON UPDATE SET NULL MATCH FULL DEFERRABLE INITIALLY DEFERRED,
    s INTEGER GENERATED ALWAYS AS (c * 2) STORED,
    v INTEGER GENERATED ALWAYS AS (c + 1) VIRTUAL,
    x TEXT, y TEXT,
    z TEXT NOT NULL ON CONFLICT ROLLBACK,
    w TEXT NULL,
    CONSTRAINT uq_xy UNIQUE (x, y) ON CONFLICT IGNORE,
    CHECK (length(x) < 10) ON CONFLICT ABORT,
    CONSTRAINT fk_y FOREIGN KEY (y) REFERENCES parent(code) ON DELETE RESTRICT)''')
c.execute(\"INSERT INTO g (id, a, b, c, e, e2, p, x, y, z) VALUES (5, 'a', 'b', 3, 'E', 'r ', 1, 'x', 'p1', 'z')\")
c.execute('CREATE TABLE g2(k TEXT, l TEXT, PRIMARY KEY (k DESC, l) ON CONFLICT ROLLBACK) WITHOUT ROWID')
c.execute(\"INSERT INTO g2 VALUES ('k', 'l')\")
c.execute('CREATE TABLE g3(k TEXT PRIMARY KEY DESC, n INTEGER NOT NULL ON CONFLICT ABORT, t ANY) STRICT')
c.execute(\"INSERT INTO g3 VALUES ('k', 1, 'any')\")
c.execute('''CREATE TABLE g4(id INTEGER PRIMARY KEY,
    a INTEGER REFERENCES parent(id) NOT DEFERRABLE INITIALLY DEFERRED,
    b INTEGER REFERENCES parent(id) DEFERRABLE,
    c INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY IMMEDIATE,
    d INTEGER REFERENCES parent(id) NOT DEFERRABLE INITIALLY IMMEDIATE,
    e INTEGER, f INTEGER AS (id * 10),
    FOREIGN KEY (e) REFERENCES parent(id) NOT DEFERRABLE INITIALLY DEFERRED)''')
c.execute('INSERT INTO g4 VALUES (1, 1, 1, 1, 1, 1)')
" || return 0
    local cl w
    cl=$(skipped clause)
    w=$(warnings)
    echo "$cl" | sed 's/^/    clause: /'
    # CONSTRAINT name: named in the report
    check_match "$cl" "^g\.id: CONSTRAINT pk_g: .*names" "CONSTRAINT pk_g (column): named"
    check_match "$cl" "^g\.a: CONSTRAINT nn_a: " "CONSTRAINT nn_a: named"
    check_match "$cl" "^g\.c: CONSTRAINT ck_c: " "CONSTRAINT ck_c: named"
    check_match "$cl" "^g: CONSTRAINT uq_xy: " "CONSTRAINT uq_xy (table): named"
    check_match "$cl" "^g: CONSTRAINT fk_y: " "CONSTRAINT fk_y (table): named"
    # PRIMARY KEY ASC + conflict + AUTOINCREMENT: carried as an identity key, clause named
    check_match "$(condefs g)" "p: PRIMARY KEY \(id\)" "g.id: PRIMARY KEY carried"
    check_eq "$(q "$URL" "SELECT attidentity FROM pg_attribute WHERE attrelid = 'g'::regclass AND attname = 'id'")" d "AUTOINCREMENT: an identity column"
    check_eq "$(q_try "$URL" "INSERT INTO g (a, c, z, p, y) VALUES ('n', 1, 'z', 1, 'p1') RETURNING id")" 6 "AUTOINCREMENT: the next id is past the largest"
    check_match "$cl" "^g\.id: PRIMARY KEY ASC ON CONFLICT REPLACE: .*replaced the old row" "PRIMARY KEY ON CONFLICT REPLACE: named, with what changes"
    # NOT NULL + conflict
    check_eq "$(q "$URL" "SELECT string_agg(attname, ',' ORDER BY attname) FROM pg_attribute WHERE attrelid = 'g'::regclass AND attnotnull AND attnum > 0")" "a,id,z" "NOT NULL a, z (and the key) carried; w NULL stays nullable"
    check_match "$cl" "^g\.a: NOT NULL ON CONFLICT IGNORE: .*skipped it silently" "NOT NULL ON CONFLICT IGNORE: named"
    check_match "$cl" "^g\.z: NOT NULL ON CONFLICT ROLLBACK: " "NOT NULL ON CONFLICT ROLLBACK: named"
    check_match "$cl" "^g3\.n: NOT NULL ON CONFLICT ABORT: .*default" "NOT NULL ON CONFLICT ABORT: named as SQLite's default"
    # UNIQUE + conflict
    check_match "$(condefs g)" "u: UNIQUE \(b\)" "UNIQUE b carried"
    check_match "$cl" "^g\.b: UNIQUE ON CONFLICT FAIL: " "UNIQUE ON CONFLICT FAIL: named"
    refused "UNIQUE b refuses a duplicate" "INSERT INTO g (a, b, c, z) VALUES ('a', 'b', 1, 'z')" "duplicate key"
    # CHECK, column and table
    check_match "$(condefs g)" "c: CHECK \(\(c > 0\)\)" "column CHECK carried"
    check_match "$(condefs g)" "c: CHECK \(\(length\(x\) < 10\)\)" "table CHECK carried"
    check_match "$cl" "^g: CHECK \(length\(x\) < 10\) ON CONFLICT ABORT: SQLite itself ignores" "table CHECK ... ON CONFLICT: named"
    refused "CHECK (c > 0) refuses 0" "INSERT INTO g (a, c, z) VALUES ('a', 0, 'z')" "check constraint"
    # DEFAULT
    check_eq "$(coldefault g d)" "'dflt'::text" "DEFAULT 'dflt' carried"
    # COLLATE
    check_match "$w" "column g\.e is COLLATE NOCASE" "COLLATE NOCASE (no key): its comparisons, reported"
    check_match "$cl" "^g\.e2: COLLATE RTRIM: " "COLLATE RTRIM: named"
    # REFERENCES with actions, MATCH, DEFERRABLE
    check_match "$(condefs g)" "f: FOREIGN KEY \(p\) REFERENCES parent\(id\) ON UPDATE SET NULL ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED" \
        "REFERENCES ... ON DELETE CASCADE ON UPDATE SET NULL DEFERRABLE INITIALLY DEFERRED carried"
    check_match "$cl" "^g\.p: MATCH FULL: " "MATCH FULL: named"
    check_match "$(condefs g)" "f: FOREIGN KEY \(y\) REFERENCES parent\(code\) ON DELETE RESTRICT" "table FOREIGN KEY ... ON DELETE RESTRICT carried"
    # GENERATED ALWAYS AS ... STORED / VIRTUAL
    check_eq "$(q "$URL" "SELECT string_agg(attname || ':' || attgenerated::text, ',' ORDER BY attname) FROM pg_attribute WHERE attrelid = 'g'::regclass AND attname IN ('s', 'v')")" \
        "s:s,v:s" "GENERATED ... STORED and VIRTUAL: generated (stored) columns"
    check_eq "$(q "$URL" "SELECT s || '/' || v FROM g WHERE id = 5")" "6/4" "generated values"
    # table UNIQUE + conflict
    check_match "$(condefs g)" "u: UNIQUE \(x, y\)" "table UNIQUE (x, y) carried"
    check_match "$cl" "^g: UNIQUE \(x, y\) ON CONFLICT IGNORE: " "table UNIQUE ... ON CONFLICT IGNORE: named"
    # WITHOUT ROWID, table PRIMARY KEY with DESC and conflict
    check_eq "$(condefs g2)" "p: PRIMARY KEY (k, l)" "WITHOUT ROWID table: its PRIMARY KEY (k, l)"
    check_match "$cl" "^g2: PRIMARY KEY \(k DESC, l\) ON CONFLICT ROLLBACK: " "table PRIMARY KEY ... ON CONFLICT ROLLBACK: named"
    check_match "$cl" "^g2: PRIMARY KEY \(k DESC, l\): .*descending" "table PRIMARY KEY (k DESC, ...): the order named"
    # STRICT, column PRIMARY KEY DESC
    check_eq "$(coltype "$URL" g3 k)/$(coltype "$URL" g3 n)" "text/bigint" "STRICT table: its declared types"
    refused "STRICT INTEGER column refuses text" "INSERT INTO g3 VALUES ('k2', 'two', 'x')" "invalid input syntax"
    check_match "$cl" "^g3\.k: PRIMARY KEY DESC: " "column PRIMARY KEY DESC: named"
    check_eq "$(condefs g3)" "p: PRIMARY KEY (k)" "g3 keeps its key"
    # [NOT] DEFERRABLE [INITIALLY DEFERRED|IMMEDIATE]: SQLite defers a key
    # only for DEFERRABLE INITIALLY DEFERRED; the others are checked at once
    check_eq "$(q "$URL" "SELECT string_agg(a.attname || ':' || c.condeferrable::text || ':' || c.condeferred::text, ',' ORDER BY a.attname) FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] WHERE c.conrelid = 'g4'::regclass AND c.contype = 'f'")" \
        "a:false:false,b:false:false,c:false:false,d:false:false,e:false:false" "g4: every key checked at once, as SQLite checks them (NOT DEFERRABLE INITIALLY DEFERRED is not deferred)"
    local col
    for col in a b c d e; do
        check_match "$(q_try "$URL" "BEGIN; INSERT INTO g4 (id, $col) VALUES (9, 99); DELETE FROM g4 WHERE id = 9; COMMIT")" "^ERROR: .*foreign key" \
            "g4.$col: a row that breaks the key is refused at once, as in SQLite (not at commit)"
    done
    check_match "$cl" "^g4\.a: REFERENCES parent NOT DEFERRABLE INITIALLY DEFERRED: .*at once" "NOT DEFERRABLE INITIALLY DEFERRED (column): named"
    check_match "$cl" "^g4\.b: REFERENCES parent DEFERRABLE: .*at once" "DEFERRABLE alone: named"
    check_match "$cl" "^g4\.c: REFERENCES parent DEFERRABLE INITIALLY IMMEDIATE: .*at once" "DEFERRABLE INITIALLY IMMEDIATE: named"
    check_match "$cl" "^g4: REFERENCES parent NOT DEFERRABLE INITIALLY DEFERRED: " "NOT DEFERRABLE INITIALLY DEFERRED (table): named"
    check_not_contains "$cl" "g4.d:" "NOT DEFERRABLE INITIALLY IMMEDIATE, PostgreSQL's own default: carried, not named"
    # AS (expr) without GENERATED ALWAYS
    check_eq "$(q "$URL" "SELECT attgenerated::text FROM pg_attribute WHERE attrelid = 'g4'::regclass AND attname = 'f'")/$(q "$URL" "SELECT f FROM g4")" "s/10" "AS (expr): a generated column"
    # nothing else was dropped
    check_eq "$(rj "$REP" '"\n".join(s["kind"] + " " + s["name"] for s in d["skipped"] if s["kind"] != "clause" and not s["name"].startswith("sqlite_"))')" "" "no constraint in skipped"
    check_eq "$(grep -c . <<<"$cl")" 21 "21 clauses named, each once"
}

run_case defaults_final_type case_defaults_final_type
run_case null_primary_key case_null_primary_key
run_case uuid_canonical case_uuid_canonical
run_case nocase_keys case_nocase_keys
run_case nocase_key_staged case_nocase_key_staged
run_case constraint_grammar case_constraint_grammar
ml_finish
