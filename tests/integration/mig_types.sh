#!/usr/bin/env bash
# pgboot migrate: the type of every column, from its declared type and its
# values (tests/support/mig_mkdb.py builds a SQLite file with one column per
# rule), each value read back equal (tests/support/mig_compare.py), epoch
# columns with and without --epoch-as-timestamp, --detect-json,
# --preserve-case, and names PostgreSQL cannot take (> 63 bytes, collisions)
# refused before anything is written.
#
# The server runs with TimeZone=Asia/Kolkata (+05:30) so that a timestamp
# shifted through the server's zone would show.
set -euo pipefail
. "$(dirname "$0")/mig_lib.sh"

ml_setup
APP=mig-types
pgb start --app "$APP" --set TimeZone=Asia/Kolkata
[[ $RC == 0 ]] || {
    show_last >&2
    die "pgboot start --app $APP --set TimeZone=Asia/Kolkata failed"
}
register_app "$APP"
SERVER_URL=$(tail -n1 <<<"$OUT")
# q forces TimeZone=UTC on its own sessions; a session with no PGTZ gets the server's
SERVER_TZ=$(env -i PATH=/usr/bin:/bin "$PSQL" -X -A -t -q "$SERVER_URL" -c "SHOW TimeZone" 2>&1) || true
[[ "$SERVER_TZ" == Asia/Kolkata ]] || die "the server's TimeZone is '$SERVER_TZ', not Asia/Kolkata (--set TimeZone=... not applied?)"

TYPES_DB=$U/src/types.db
"$PY" "$MKDB" types "$TYPES_DB"
NAMES_DB=$U/src/names.db
"$PY" "$MKDB" names "$NAMES_DB"
user_own "$U/src"

# types_of URL TABLE: "col=type" lines of public.TABLE.
types_of() {
    q "$1" "SELECT a.attname || '=' || format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
            WHERE a.attrelid = 'public.\"$2\"'::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum"
}

# expect_types URL TABLE "col=ERE" ...: each column's type matches the ERE (whole).
expect_types() {
    local url=$1 table=$2 have kv c want got
    shift 2
    have=$(types_of "$url" "$table")
    for kv in "$@"; do
        c=${kv%%=*}
        want=${kv#*=}
        got=$(grep -m1 "^$c=" <<<"$have" | cut -d= -f2- || true)
        if [[ -n "$got" ]] && grep -q -x -E -- "$want" <<<"$got"; then
            ok "$table.$c: $got"
        else
            nok "$table.$c: expected type /$want/, got '${got:-no such column}'"
        fi
    done
}

# vals URL SQL-EXPR: the expression over ty, one row per id, joined with ';'.
vals() { q "$1" "SELECT string_agg(coalesce(($2)::text, '<null>'), ';' ORDER BY id) FROM ty"; }

# --- declared types and values (no options) ------------------------------------------

case_types() {
    local url rep
    url=$(newdb types)
    rep=$U/out/types.json
    pgb migrate --sqlite "$TYPES_DB" --to "$url" --verify full --report "$rep"
    check_rc 0 "migrate the types database" || true
    [[ $RC == 0 ]] || return 0
    expect_types "$url" ty \
        'id=bigint' 'i_integer=bigint' 'i_int=bigint' 'i_bigint=bigint' 'i_tinyint=bigint' 'i_mediumint=bigint' \
        'r_real=double precision' 'r_inf=double precision' 'r_double=double precision' 'r_float=double precision' 'r_dprec=double precision' \
        'n_fit=numeric\(10,2\)' 'n_nofit=numeric' 'n_decimal=numeric\(8,3\)' 'n_numeric=numeric' 'n_decimal_plain=numeric' \
        'b_bool=boolean' 'b_bool_bad=bigint' \
        'd_date=date' 'd_date_bad=text' 'd_date_invalid=text' \
        't_invalid=text' 't_short=timestamp without time zone' 't_julian=double precision' \
        't_naive=timestamp without time zone' 't_zoned=timestamp with time zone' 't_mixed=text' \
        't_epoch=bigint' 't_epoch_ts=bigint' \
        'j_json=jsonb' 'j_jsonb=jsonb' 'j_bad=text' 'j_nul=text|json' 'j_surrogate=text|json' \
        'det_obj=text' 'det_mixed=text' 'det_scalar=text' \
        'u_uuid=text' 'u_bad=text' \
        'v_fit=character varying\(5\)' 'v_over=text' 'nv_fit=character varying\(10\)' 'c_char=character varying\(4\)' \
        'txt=text' 'blb=bytea' \
        'notype_int=bigint' 'notype_real=double precision' 'notype_text=text' 'notype_mixed=text' 'notype_blob=bytea' \
        'unk_int=bigint' 'unk_real=double precision' 'unk_text=text'
    expect_types "$url" empty_ty 'a=bigint' 'b=double precision' 'c=numeric\(6,1\)' 'd=boolean' 'e=date' \
        'f=timestamp without time zone|text' 'g=jsonb|json|text' 'h=uuid|text' 'i=character varying\(9\)' 'j=bytea' 'k=text'
    check_eq "$(q "$url" "SELECT count(*) FROM pg_attribute WHERE atttypid = 'real'::regtype AND attrelid IN (SELECT oid FROM pg_class WHERE relnamespace = 'public'::regnamespace)")" 0 \
        "no column is real (float4)"
    check_eq "$(q "$url" "SELECT count(*) FROM pg_attribute WHERE atttypid = 'bpchar'::regtype AND attrelid IN (SELECT oid FROM pg_class WHERE relnamespace = 'public'::regnamespace)")" 0 \
        "no column is char(n)"

    # every value equal, independently
    compare_data "$TYPES_DB" "$url" "every value of every column read back equal"

    # value by value, the ones that matter most
    check_eq "$(vals "$url" 'i_integer')" "1;-5;9223372036854775807;-9223372036854775808;0;<null>" "INTEGER: extremes of 64 bits"
    check_eq "$(vals "$url" 'float8send(r_real)')" '\x3ff8000000000000;\x3fb999999999999a;\x7fe1ccf385ebc8a0;\x0000000000000000;\x0000000000000001;\x4008000000000000' \
        "REAL: bit for bit (1.5, 0.1, 1e308, -0.0 (SQLite stores 0.0), 5e-324, 3)"
    check_eq "$(vals "$url" 'float8send(notype_real)')" '\x3ff8000000000000;\x4002000000000000;\x8000000000000000;<null>;<null>;<null>' \
        "no declared type: -0.0 keeps its sign bit"
    check_eq "$(vals "$url" 'r_inf')" "Infinity;-Infinity;1;<null>;<null>;<null>" "REAL: infinities"
    check_eq "$(vals "$url" 'float8send(r_float)')" '\x3fd3333333333334;\xc000000000000000;<null>;<null>;<null>;<null>' "FLOAT: 0.30000000000000004 bit for bit"
    check_eq "$(vals "$url" 'n_fit')" "1.25;19.99;0.00;-3.50;100.00;7.10" "NUMERIC(10,2): exact to the cent"
    check_eq "$(vals "$url" 'n_nofit')" "1.234;12345.6;1.5;<null>;<null>;<null>" "NUMERIC(5,2) not fitting: every value exact in numeric"
    check_match "$(rj "$rep" 'col("ty","n_nofit").get("reason") or ""')" "." "NUMERIC(5,2) -> numeric: a reason is given"
    check_eq "$(vals "$url" 'n_decimal')" "1.500;2.125;-0.001;<null>;<null>;<null>" "DECIMAL(8,3): exact"
    check_eq "$(vals "$url" 'n_numeric')" "1;2.5;123456789012345678;<null>;<null>;<null>" "NUMERIC: exact (an 18-digit integer too)"
    check_eq "$(vals "$url" 'b_bool')" "false;true;true;false;true;false" "BOOLEAN: 0/1/true/false/t/f"
    check_eq "$(vals "$url" 'b_bool_bad')" "0;1;2;<null>;<null>;<null>" "BOOLEAN holding 2: the values kept"
    check_match "$(rj "$rep" 'col("ty","b_bool_bad").get("reason") or ""')" "." "BOOLEAN holding 2: reported (reason)"
    check_eq "$(vals "$url" 'd_date')" "2024-02-29;1999-12-31;0001-01-01;<null>;<null>;<null>" "DATE: ISO dates"
    check_eq "$(vals "$url" 'd_date_invalid')" "2024-02-28;2023-02-29;<null>;<null>;<null>;<null>" "DATE holding 2023-02-29 (no such day): text, kept as it is"
    check_eq "$(vals "$url" 't_naive')" "2024-01-02 03:04:05;2024-01-02 03:04:05.123456;1999-12-31 23:59:59;<null>;<null>;<null>" \
        "DATETIME ISO text: timestamp, never shifted (server zone +05:30)"
    check_eq "$(vals "$url" 't_short')" "2024-01-02 03:04:00;2024-01-02 03:04:05.123;<null>;<null>;<null>;<null>" "DATETIME 'YYYY-MM-DD HH:MM' and milliseconds"
    check_eq "$(vals "$url" 't_zoned')" "2024-01-02 03:04:05+00;2024-01-02 01:04:05+00;2024-06-30 19:00:00.5+00;<null>;<null>;<null>" \
        "TIMESTAMP with Z/offsets: timestamptz, the same instants"
    check_eq "$(vals "$url" 't_mixed')" "2024-01-02 03:04:05Z;2024-01-02 03:04:05;<null>;<null>;<null>;<null>" "zoned and naive mixed: text as it was"
    check_eq "$(vals "$url" 't_epoch')" "1700000000;0;1;2000000000;<null>;<null>" "DATETIME of epochs: bigint (no --epoch-as-timestamp)"
    check_match "$(rj "$rep" 'col("ty","t_epoch").get("reason") or ""')" "epoch" "DATETIME of epochs: the reason mentions epochs"
    check_eq "$(q "$url" "SELECT (j_json IS NULL)::text || '/' || jsonb_typeof(j_json) FROM ty WHERE id = 4")" "false/null" "JSON 'null' stays JSON null, not SQL NULL"
    check_eq "$(q "$url" "SELECT j_json -> 'b' ->> 1 FROM ty WHERE id = 1")" "2.50" "JSON numbers exact (2.50)"
    check_eq "$(q "$url" "SELECT j_jsonb ->> 'u' FROM ty WHERE id = 2")" "é" "JSONB \\u00e9 escape"
    check_eq "$(q "$url" "SELECT j_nul::text FROM ty WHERE id = 2")" '{"a": "\u0000"}' "JSON with \\u0000 (jsonb cannot hold it): kept verbatim"
    check_eq "$(vals "$url" 'u_uuid')" "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11;A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A12;<null>;<null>;<null>;<null>" "UUID with an upper-case value: text, each value as written"
    check_match "$(rj "$rep" 'col("ty","u_uuid").get("reason") or ""')" "canonical" "UUID with an upper-case value: the reason says it is not canonical"
    check_eq "$(vals "$url" 'char_length(v_fit)::text || octet_length(v_fit)::text')" "33;56;55;<null>;<null>;<null>" "VARCHAR(5) holds 'héllo' (5 characters, 6 bytes)"
    check_eq "$(vals "$url" 'octet_length(c_char)')" "2;4;<null>;<null>;<null>;<null>" "CHAR(4) 'ab' is not padded"
    check_match "$(rj "$rep" 'col("ty","c_char").get("reason") or ""')" "pad" "CHAR(4): the reason says char(n) pads"
    check_match "$(rj "$rep" 'col("ty","v_over").get("reason") or ""')" "." "VARCHAR(3) holding 4 characters: reason"
    check_eq "$(vals "$url" 'length(blb)')" "4;0;256;12;<null>;<null>" "BLOB lengths (an empty blob stays empty, not NULL)"
    check_eq "$(q "$url" "SELECT md5(blb) FROM ty WHERE id = 3")" "$(python3 -c 'import hashlib; print(hashlib.md5(bytes(range(256))).hexdigest())')" "BLOB bytes 0..255"
    check_eq "$(vals "$url" "txt = E'tab\\tnew\\nline\\\\back\\r'")" "false;false;false;true;false;false" "TEXT with tab, newline, backslash, CR"
    check_eq "$(q "$url" "SELECT '[' || txt || ']' FROM ty WHERE id IN (2, 6) ORDER BY id" | paste -sd';')" "[];[ spaced ]" "TEXT: empty string and spaces kept"
    local col
    for col in b_bool_bad d_date_bad d_date_invalid t_invalid t_julian t_mixed j_bad u_bad notype_int notype_mixed unk_int unk_real unk_text; do
        check_match "$(rj "$rep" "col('ty','$col').get('reason') or ''")" "." "$col: the report says why its type was chosen"
    done
    check_match "$(rj "$rep" 'col("ty","unk_real").get("reason") or ""')" "floatish thing" "an unknown type name is named in the reason"

    # INTEGER PRIMARY KEY -> identity, next value past max and past sqlite_sequence
    check_match "$(q "$url" "SELECT attidentity FROM pg_attribute WHERE attrelid = 'ty'::regclass AND attname = 'id'")" "^[ad]$" "INTEGER PRIMARY KEY AUTOINCREMENT -> identity"
    check_eq "$(rj "$rep" 'col("ty","id").get("identity")')" true "report: id is identity"
    check_eq "$(q_try "$url" "INSERT INTO ty DEFAULT VALUES RETURNING id")" 1001 "AUTOINCREMENT: next id past sqlite_sequence (1000)"
    check_eq "$(q_try "$url" "INSERT INTO plainpk(v) VALUES ('n') RETURNING id")" 42 "INTEGER PRIMARY KEY: next id past max (41)"
    check_eq "$(q "$url" "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'plainpk'::regclass AND contype = 'p'")" "PRIMARY KEY (id)" "INTEGER PRIMARY KEY is the primary key"
    # big values, a STRICT table, names that need quoting (values by compare_data above)
    check_eq "$(q "$url" "SELECT octet_length(b) || '/' || char_length(t) FROM bigvals")" "2097152/300000" "a 2 MB blob and a 300000-character text"
    expect_types "$url" strict_t 'id=bigint' 'i=bigint' 'r=double precision' 't=text' 'b=bytea' 'a=text'
    check_match "$(rj "$rep" 'col("strict_t","a").get("reason") or ""')" "." "STRICT table's ANY column: reason"
    check_eq "$(q_try "$url" "SELECT \"c\"\"ol\" || '/' || \"sp ace\" || '/' || \"semi;colon\" FROM \"we\"\"ird.t\"")" 'q"uote/1/x;y' "names with quotes, a dot, a space and a semicolon"
}

# --- --epoch-as-timestamp ----------------------------------------------------------------

case_epoch() {
    local url
    url=$(newdb epoch)
    pgb migrate --sqlite "$TYPES_DB" --to "$url" --epoch-as-timestamp --verify full
    check_rc 0 "migrate with --epoch-as-timestamp" || true
    [[ $RC == 0 ]] || return 0
    expect_types "$url" ty 't_epoch=timestamp with time zone' 't_epoch_ts=timestamp with time zone' \
        't_naive=timestamp without time zone' 't_zoned=timestamp with time zone' 't_julian=double precision' 'i_integer=bigint'
    check_eq "$(vals "$url" 't_epoch')" "2023-11-14 22:13:20+00;1970-01-01 00:00:00+00;1970-01-01 00:00:01+00;2033-05-18 03:33:20+00;<null>;<null>" \
        "epoch seconds -> the same instants"
    check_eq "$(vals "$url" 'extract(epoch FROM t_epoch_ts)::bigint')" "86400;1234567890;<null>;<null>;<null>;<null>" "epoch -> timestamptz -> epoch round trip"
    compare_data "$TYPES_DB" "$url" "--epoch-as-timestamp: every value equal"
}

# --- --detect-json -------------------------------------------------------------------------

case_detect_json() {
    local url
    url=$(newdb detectjson)
    pgb migrate --sqlite "$TYPES_DB" --to "$url" --detect-json --verify full
    check_rc 0 "migrate with --detect-json" || true
    [[ $RC == 0 ]] || return 0
    expect_types "$url" ty 'det_obj=jsonb' 'det_mixed=text' 'det_scalar=text' 'txt=text' 'j_json=jsonb' 'j_bad=text'
    check_eq "$(vals "$url" "det_obj ->> 'x'")" "1;<null>;<null>;<null>;<null>;<null>" "--detect-json: det_obj queryable as JSON"
    check_eq "$(vals "$url" 'det_mixed')" '{"x": 1};plain;<null>;<null>;<null>;<null>' "--detect-json: a TEXT column with a non-JSON value stays text, as it was"
    compare_data "$TYPES_DB" "$url" "--detect-json: every value equal"
}

# --- names ----------------------------------------------------------------------------------

case_names_folded() {
    local url
    url=$(newdb namesfolded)
    pgb migrate --sqlite "$NAMES_DB" --to "$url"
    check_rc 0 "migrate mixed-case names" || true
    [[ $RC == 0 ]] || return 0
    check_eq "$(q "$url" "SELECT string_agg(tablename, '|' ORDER BY tablename COLLATE \"C\") FROM pg_tables WHERE schemaname = 'public'")" "mixedcase|with space|Émile|émile" \
        "table names lower-cased (ASCII, as PostgreSQL folds); É and é stay two tables"
    expect_types "$url" mixedcase 'camelcol=bigint' 'lower=text' 'upper=text'
    expect_types "$url" "with space" 'a b=text' 'select=bigint'
    check_eq "$(q_try "$url" "SELECT camelcol, upper FROM MixedCase ORDER BY 1" | paste -sd';')" "1|A;2|B" "unquoted MixedCase works in SQL"
    check_eq "$(q "$url" "SELECT indexname FROM pg_indexes WHERE tablename = 'mixedcase' AND indexdef NOT LIKE '%UNIQUE%'")" "idxmixed" "index name lower-cased"
    check_eq "$(q_try "$url" "SELECT a FROM \"Émile\"")/$(q_try "$url" "SELECT a FROM \"émile\"")" "1/2" "É and é: each its own rows"
    compare_data "$NAMES_DB" "$url" "folded names: every value equal"
}

case_names_preserved() {
    local url
    url=$(newdb namespreserved)
    pgb migrate --sqlite "$NAMES_DB" --to "$url" --preserve-case
    check_rc 0 "migrate with --preserve-case" || true
    [[ $RC == 0 ]] || return 0
    check_eq "$(q "$url" "SELECT string_agg(tablename, '|' ORDER BY tablename COLLATE \"C\") FROM pg_tables WHERE schemaname = 'public'")" "MixedCase|with space|Émile|émile" \
        "--preserve-case: table names as in SQLite"
    expect_types "$url" MixedCase 'CamelCol=bigint' 'lower=text' 'UPPER=text'
    check_eq "$(q "$url" "SELECT indexname FROM pg_indexes WHERE tablename = 'MixedCase' AND indexdef NOT LIKE '%UNIQUE%'")" "IdxMixed" "--preserve-case: index name as in SQLite"
    check_eq "$(q_try "$url" "SELECT \"CamelCol\" FROM \"MixedCase\" ORDER BY 1" | paste -sd';')" "1;2" "--preserve-case: quoted names work"
    compare_data "$NAMES_DB" "$url" "--preserve-case: every value equal" --preserve-case
}

case_long_names() {
    local what url src
    for what in table column multibyte; do
        src=$U/src/long-$what.db
        "$PY" "$MKDB" longname "$src" "$what"
        user_own "$src"
        url=$(newdb "long$what")
        pgb migrate --sqlite "$src" --to "$url"
        check_rc 1 "a $what name over 63 bytes is refused"
        case $what in
        table) check_contains "$ERR" "$(printf 't%.0s' {1..64})" "the message names the 64-byte table" ;;
        column) check_contains "$ERR" "$(printf 'c%.0s' {1..70})" "the message names the 70-byte column" ;;
        multibyte) check_contains "$ERR" "$(printf 'é%.0s' {1..32})" "the message names the 32-character, 64-byte table" ;;
        esac
        check_match "$ERR" "63" "the message says the limit (63 bytes)"
        check_untouched "$url" "$what name too long"
    done
    src=$U/src/long-fits.db
    "$PY" "$MKDB" longname "$src" fits
    user_own "$src"
    url=$(newdb longfits)
    pgb migrate --sqlite "$src" --to "$url"
    check_rc 0 "a 63-byte name is fine"
    check_eq "$(q_try "$url" "SELECT a FROM $(printf 't%.0s' {1..63})")" 63 "the 63-byte table is there with its row"
}

# Names that collide in PostgreSQL. Two SQLite tables cannot differ only in
# ASCII case (SQLite refuses to open such a file: "table foo already exists"),
# so collisions come from the names pgboot adds: the tsvector column "fts" of
# a normal FTS5 table, and the column named after an external-content FTS5
# table on its content table. Either refused before anything is written
# (exit 1, both named), or migrated with the search column left out and named
# in "skipped", the data intact.
case_collisions() {
    local what url src rep
    for what in fts_column fts_external; do
        src=$U/src/collide-$what.db
        "$PY" "$MKDB" collide "$src" "$what"
        user_own "$src"
        url=$(newdb "collide${what//_/}")
        rep=$U/out/collide-$what.json
        pgb migrate --sqlite "$src" --to "$url" --report "$rep"
        if [[ $RC == 1 ]]; then
            ok "$what: refused (exit 1)"
            check_match "$ERR" "fts|search" "$what: the message names the colliding name"
            check_untouched "$url" "$what: collision refused"
        elif [[ $RC == 0 ]]; then
            case $what in
            fts_column)
                check_eq "$(q_try "$url" "SELECT fts || '/' || body FROM notes")" "a/b" "fts_column: the FTS table's own column fts keeps its value"
                check_match "$(rj "$rep" '[s["kind"] + " " + s["name"] + ": " + s["reason"] for s in d["skipped"] if "notes" in s["name"] and "_" not in s["name"]]')" "fts" \
                    "fts_column: the left-out search column is named in skipped"
                ;;
            fts_external)
                check_eq "$(q_try "$url" "SELECT search FROM docs")" "s" "fts_external: docs.search keeps its value (not replaced by a tsvector)"
                check_eq "$(coltype "$url" docs search)" text "fts_external: docs.search is still text"
                check_match "$(rj "$rep" '[s["kind"] + " " + s["name"] + ": " + s["reason"] for s in d["skipped"] if s["name"] == "search"]')" "search" \
                    "fts_external: the left-out search column is named in skipped"
                ;;
            esac
        else
            nok "$what: expected exit 1 (refused) or 0 (left out, named), got $RC"
        fi
    done
}

run_case types case_types
run_case epoch case_epoch
run_case detect_json case_detect_json
run_case names_folded case_names_folded
run_case names_preserved case_names_preserved
run_case long_names case_long_names
run_case collisions case_collisions
ml_finish
