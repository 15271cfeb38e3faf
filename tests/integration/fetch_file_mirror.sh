#!/usr/bin/env bash
# pgboot fetch / verify against a file:// mirror, --from, --offline, the cache
# origins, the JSON output, and verify's tamper detection.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
require_env

M=$T/mirror
make_mirror "$M" "$REAL_TGZ" "$REAL_VERSION"
MURL=file://$M
URL=$MURL/$REAL_REL

case_install_and_cache() {
    local C=$T/c-main R
    R=$C/$REAL_KEY

    pg fetch --mirror "$MURL" --cache-dir "$C" --json
    expect_ok "first fetch from a file:// mirror" || return 0
    expect_json "first fetch" bin_dir="$R/bin" root="$R" tarball="$R.tgz" platform="$PLATFORM" \
        postgresql_version="$PG_VERSION" integrity="$REAL_INTEGRITY" origin=network url="$URL"
    assert_installed "$C" "$REAL_KEY" "first fetch"
    check_tree_matches "$R" "$REAL_TGZ" "first fetch"
    assert_eq "$(find "$R" -maxdepth 1 -mindepth 1 -type d -printf '%f\n' | sort | tr '\n' ' ')" "bin lib share " \
        "installed tree has exactly bin/ lib/ share/ directories"

    pg fetch --mirror "$MURL" --cache-dir "$C"
    expect_ok "second fetch, plain output" && expect_bin_line "second fetch" "$R/bin"

    pg fetch --mirror "$MURL" --cache-dir "$C" --json
    expect_ok "third fetch" && expect_json "fetch with the tree cached" origin=cache url=null bin_dir="$R/bin"

    pg fetch --offline --mirror "$MURL" --cache-dir "$C" --json
    expect_ok "--offline with the tree cached" && expect_json "--offline with the tree cached" origin=cache url=null

    # the tree is gone but the verified tarball is kept: reinstall offline
    rm_tree "$R"
    pg fetch --offline --mirror "$MURL" --cache-dir "$C" --json
    if expect_ok "--offline with only the cached tarball"; then
        expect_json "--offline with only the cached tarball" origin=tarball url=null root="$R"
        assert_installed "$C" "$REAL_KEY" "reinstall from the cached tarball"
    fi
}

case_verify() {
    local C=$T/c-verify R f mode
    R=$C/$REAL_KEY
    pg fetch --mirror "$MURL" --cache-dir "$C"
    expect_ok "fetch for verify" || return 0

    pg verify --cache-dir "$C"
    assert_eq "$PG_RC" 0 "verify of an intact install exits 0"
    pg verify --cache-dir "$C" --json
    assert_eq "$PG_RC" 0 "verify --json of an intact install exits 0"

    # change one byte of a file (same size), keep its read-only mode
    f=$R/share/postgresql/postgresql.conf.sample
    mode=$(stat -c %a "$f")
    chmod u+w "$f"
    flip_byte "$f" 100
    chmod "$mode" "$f"
    pg verify --cache-dir "$C"
    if expect_fail "verify after a file was modified"; then
        assert_contains "$(err_line)" "postgresql.conf.sample" "verify names the modified file"
    fi
    assert_eq "$(cache_listing "$C" | tr '\n' ' ')" "$REAL_KEY $REAL_KEY.tgz $REAL_KEY.tree " "verify changed nothing in the cache"

    # put the byte back: verify checks content, so it passes again
    chmod u+w "$f"
    flip_byte "$f" 100
    chmod "$mode" "$f"
    pg verify --cache-dir "$C"
    assert_eq "$PG_RC" 0 "verify after the file was restored exits 0"

    # a write bit added to a file is a mode difference
    chmod u+w "$R/bin/pg_ctl"
    pg verify --cache-dir "$C"
    if expect_fail "verify after a file was made writable"; then
        assert_contains "$(err_line)" "pg_ctl" "verify names the file whose mode changed"
    fi
    chmod a-w "$R/bin/pg_ctl"

    # a soname link pointing elsewhere
    local l=$R/lib/libpq.so.5 orig
    orig=$(readlink "$l")
    chmod u+w "$R/lib"
    ln -sfn libecpg.so.6.16 "$l"
    chmod a-w "$R/lib"
    pg verify --cache-dir "$C"
    if expect_fail "verify after a soname link was retargeted"; then
        assert_contains "$(err_line)" "libpq.so.5" "verify names the retargeted link"
    fi
    chmod u+w "$R/lib"
    ln -sfn "$orig" "$l"
    chmod a-w "$R/lib"
    pg verify --cache-dir "$C"
    assert_eq "$PG_RC" 0 "verify after the link was restored exits 0"

    # a missing file
    chmod u+w "$R/share/postgresql/timezone/Africa"
    rm -f "$R/share/postgresql/timezone/Africa/Abidjan"
    chmod a-w "$R/share/postgresql/timezone/Africa"
    pg verify --cache-dir "$C"
    if expect_fail "verify after a file was deleted"; then
        assert_contains "$(err_line)" "Abidjan" "verify names the deleted file"
    fi
}

case_verify_tarball() {
    local C=$T/c-verify-tgz
    pg fetch --mirror "$MURL" --cache-dir "$C"
    expect_ok "fetch for verify (tarball)" || return 0
    chmod u+w "$C/$REAL_KEY.tgz"
    flip_byte "$C/$REAL_KEY.tgz" 5000000
    pg verify --cache-dir "$C"
    if expect_fail "verify after the cached tarball was modified"; then
        assert_match "$(err_line)" "$REAL_KEY\.tgz|tarball" "verify names the cached tarball"
    fi
}

case_verify_never_downloads() {
    local C=$T/c-verify-empty
    PGBOOT_MIRROR=$MURL pg verify --cache-dir "$C"
    expect_fail "verify with nothing installed (a mirror is configured)"
    assert_cache_untouched "$C" "verify with nothing installed"
}

case_offline_empty() {
    local C=$T/c-offline
    pg fetch --offline --mirror "$MURL" --cache-dir "$C"
    if expect_fail "--offline with an empty cache"; then
        assert_match "$(err_line)" "[Oo]ffline" "the --offline error says it is because of --offline"
    fi
    assert_cache_untouched "$C" "--offline with an empty cache"
}

case_from_file() {
    local C=$T/c-from R before
    R=$C/$REAL_KEY
    before=$(sha512_hex "$REAL_TGZ")
    pg fetch --from "$REAL_TGZ" --cache-dir "$C" --json
    if expect_ok "--from the real tarball"; then
        expect_json "--from the real tarball" origin=file url=null bin_dir="$R/bin" integrity="$REAL_INTEGRITY" \
            tarball="$R.tgz"
        assert_installed "$C" "$REAL_KEY" "--from the real tarball"
    fi
    assert_eq "$(sha512_hex "$REAL_TGZ")" "$before" "--from leaves the source file as it was"
}

case_from_wrong_file() {
    local C=$T/c-from-wrong W got
    W=$T/not-the-bundle.tgz
    cp "$REAL_TGZ" "$W"
    flip_byte "$W" 12345678
    got=$(sha512_integrity "$W")
    pg fetch --from "$W" --cache-dir "$C"
    if expect_fail "--from a file whose digest differs"; then
        assert_names_digest "$(err_line)" "$REAL_INTEGRITY" "integrity error names the expected digest"
        assert_names_digest "$(err_line)" "$got" "integrity error names the digest it got"
    fi
    assert_cache_untouched "$C" "--from a wrong file"
    assert_path "$W" "--from a wrong file does not delete the user's file"
}

case_usage() {
    pg fetch --no-such-option
    assert_eq "$PG_RC" 2 "an unknown option is a usage error (exit 2)"
    assert_eq "$PG_OUT" "" "usage error: stdout empty"
    pg fetch --retries
    assert_eq "$PG_RC" 2 "an option missing its value is a usage error (exit 2)"
}

case_manifest_errors() {
    local C=$T/c-manifest bad=$T/bad-manifest.json
    pg fetch --manifest "$T/no-such-manifest.json" --mirror "$MURL" --cache-dir "$C"
    if expect_fail "--manifest naming a missing file"; then
        assert_contains "$(err_line)" "no-such-manifest.json" "the error names the missing manifest"
    fi
    "$PYTHON" - "$PGBOOT_SOURCE_DIR/vendor-manifest.json" "$bad" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
del d["platforms"]["linux-x64"]["integrity"]
json.dump(d, open(sys.argv[2], "w"))
EOF
    pg fetch --manifest "$bad" --mirror "$MURL" --cache-dir "$C"
    if expect_fail "--manifest without an integrity field"; then
        assert_contains "$(err_line)" "integrity" "the error names the missing field"
    fi
    assert_cache_untouched "$C" "bad manifests"
}

run_case install_and_cache case_install_and_cache
rm_tree "$T/c-main"
run_case verify case_verify
rm_tree "$T/c-verify"
run_case verify_tarball case_verify_tarball
rm_tree "$T/c-verify-tgz"
run_case verify_never_downloads case_verify_never_downloads
run_case offline_empty case_offline_empty
run_case from_file case_from_file
rm_tree "$T/c-from"
run_case from_wrong_file case_from_wrong_file
run_case usage case_usage
run_case manifest_errors case_manifest_errors
finish
