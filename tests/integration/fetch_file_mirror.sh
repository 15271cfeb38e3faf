#!/usr/bin/env bash
# pgboot fetch / verify against a file:// mirror, --from, --offline, the cache
# origins, the JSON output, and verify's tamper detection.
set -euo pipefail
. "$(dirname "$0")/fetch_lib.sh"
fetch_setup

M=$T/mirror
make_mirror "$M" "$REAL_TGZ" "$REAL_VERSION"
MURL=file://$M
URL=$MURL/$REAL_REL

case_install_and_cache() {
    local C=$T/c-main R
    R=$C/$REAL_KEY

    pg fetch --mirror "$MURL" --cache-dir "$C" --json
    check_succeeded "first fetch from a file:// mirror" || return 0
    check_json "first fetch" bin_dir="$R/bin" root="$R" tarball="$R.tgz" platform="$PLATFORM" \
        postgresql_version="$PG_VERSION" integrity="$REAL_INTEGRITY" origin=network url="$URL"
    check_installed "$C" "$REAL_KEY" "first fetch"
    check_tree_matches "$R" "$REAL_TGZ" "first fetch"
    check_eq "$(find "$R" -maxdepth 1 -mindepth 1 -type d -printf '%f\n' | sort | tr '\n' ' ')" "bin lib share " \
        "installed tree has exactly bin/ lib/ share/ directories"

    pg fetch --mirror "$MURL" --cache-dir "$C"
    check_succeeded "second fetch, plain output" && check_bin_line "second fetch" "$R/bin"

    pg fetch --mirror "$MURL" --cache-dir "$C" --json
    check_succeeded "third fetch" && check_json "fetch with the tree cached" origin=cache url=null bin_dir="$R/bin"

    pg fetch --offline --mirror "$MURL" --cache-dir "$C" --json
    check_succeeded "--offline with the tree cached" && check_json "--offline with the tree cached" origin=cache url=null

    # the tree is gone but the verified tarball is kept: reinstall offline
    rm_tree "$R"
    pg fetch --offline --mirror "$MURL" --cache-dir "$C" --json
    if check_succeeded "--offline with only the cached tarball"; then
        check_json "--offline with only the cached tarball" origin=tarball url=null root="$R"
        check_installed "$C" "$REAL_KEY" "reinstall from the cached tarball"
    fi
}

case_verify() {
    local C=$T/c-verify R f mode
    R=$C/$REAL_KEY
    pg fetch --mirror "$MURL" --cache-dir "$C"
    check_succeeded "fetch for verify" || return 0

    pg verify --cache-dir "$C"
    check_eq "$RC" 0 "verify of an intact install exits 0"
    pg verify --cache-dir "$C" --json
    check_eq "$RC" 0 "verify --json of an intact install exits 0"

    # change one byte of a file (same size), keep its read-only mode
    f=$R/share/postgresql/postgresql.conf.sample
    mode=$(stat -c %a "$f")
    chmod u+w "$f"
    flip_byte "$f" 100
    chmod "$mode" "$f"
    pg verify --cache-dir "$C"
    if check_failed "verify after a file was modified"; then
        check_contains "$(err_line)" "postgresql.conf.sample" "verify names the modified file"
    fi
    check_eq "$(cache_listing "$C" | tr '\n' ' ')" "$REAL_KEY $REAL_KEY.tgz $REAL_KEY.tree " "verify changed nothing in the cache"

    # put the byte back: verify checks content, so it passes again
    chmod u+w "$f"
    flip_byte "$f" 100
    chmod "$mode" "$f"
    pg verify --cache-dir "$C"
    check_eq "$RC" 0 "verify after the file was restored exits 0"

    # a write bit added to a file is a mode difference
    chmod u+w "$R/bin/pg_ctl"
    pg verify --cache-dir "$C"
    if check_failed "verify after a file was made writable"; then
        check_contains "$(err_line)" "pg_ctl" "verify names the file whose mode changed"
    fi
    chmod a-w "$R/bin/pg_ctl"

    # a soname link pointing elsewhere
    local l=$R/lib/libpq.so.5 orig
    orig=$(readlink "$l")
    chmod u+w "$R/lib"
    ln -sfn libecpg.so.6.16 "$l"
    chmod a-w "$R/lib"
    pg verify --cache-dir "$C"
    if check_failed "verify after a soname link was retargeted"; then
        check_contains "$(err_line)" "libpq.so.5" "verify names the retargeted link"
    fi
    chmod u+w "$R/lib"
    ln -sfn "$orig" "$l"
    chmod a-w "$R/lib"
    pg verify --cache-dir "$C"
    check_eq "$RC" 0 "verify after the link was restored exits 0"

    # a missing file
    chmod u+w "$R/share/postgresql/timezone/Africa"
    rm -f "$R/share/postgresql/timezone/Africa/Abidjan"
    chmod a-w "$R/share/postgresql/timezone/Africa"
    pg verify --cache-dir "$C"
    if check_failed "verify after a file was deleted"; then
        check_contains "$(err_line)" "Abidjan" "verify names the deleted file"
    fi
}

case_verify_tarball() {
    local C=$T/c-verify-tgz
    pg fetch --mirror "$MURL" --cache-dir "$C"
    check_succeeded "fetch for verify (tarball)" || return 0
    chmod u+w "$C/$REAL_KEY.tgz"
    flip_byte "$C/$REAL_KEY.tgz" 5000000
    pg verify --cache-dir "$C"
    if check_failed "verify after the cached tarball was modified"; then
        check_match "$(err_line)" "$REAL_KEY\.tgz|tarball" "verify names the cached tarball"
    fi
}

case_verify_never_downloads() {
    local C=$T/c-verify-empty
    PGBOOT_MIRROR=$MURL pg verify --cache-dir "$C"
    check_failed "verify with nothing installed (a mirror is configured)"
    check_cache_untouched "$C" "verify with nothing installed"
}

case_offline_empty() {
    local C=$T/c-offline
    pg fetch --offline --mirror "$MURL" --cache-dir "$C"
    if check_failed "--offline with an empty cache"; then
        check_match "$(err_line)" "[Oo]ffline" "the --offline error says it is because of --offline"
    fi
    check_cache_untouched "$C" "--offline with an empty cache"
}

case_from_file() {
    local C=$T/c-from R before
    R=$C/$REAL_KEY
    before=$(sha512_hex "$REAL_TGZ")
    pg fetch --from "$REAL_TGZ" --cache-dir "$C" --json
    if check_succeeded "--from the real tarball"; then
        check_json "--from the real tarball" origin=file url=null bin_dir="$R/bin" integrity="$REAL_INTEGRITY" \
            tarball="$R.tgz"
        check_installed "$C" "$REAL_KEY" "--from the real tarball"
    fi
    check_eq "$(sha512_hex "$REAL_TGZ")" "$before" "--from leaves the source file as it was"
}

case_from_wrong_file() {
    local C=$T/c-from-wrong W got
    W=$T/not-the-bundle.tgz
    cp "$REAL_TGZ" "$W"
    flip_byte "$W" 12345678
    got=$(sha512_integrity "$W")
    pg fetch --from "$W" --cache-dir "$C"
    if check_failed "--from a file whose digest differs"; then
        check_names_digest "$(err_line)" "$REAL_INTEGRITY" "integrity error names the expected digest"
        check_names_digest "$(err_line)" "$got" "integrity error names the digest it got"
    fi
    check_cache_untouched "$C" "--from a wrong file"
    check_lpath "$W" "--from a wrong file does not delete the user's file"
}

case_usage() {
    pg fetch --no-such-option
    check_eq "$RC" 2 "an unknown option is a usage error (exit 2)"
    check_eq "$OUT" "" "usage error: stdout empty"
    pg fetch --retries
    check_eq "$RC" 2 "an option missing its value is a usage error (exit 2)"
}

case_manifest_errors() {
    local C=$T/c-manifest bad=$T/bad-manifest.json
    pg fetch --manifest "$T/no-such-manifest.json" --mirror "$MURL" --cache-dir "$C"
    if check_failed "--manifest naming a missing file"; then
        check_contains "$(err_line)" "no-such-manifest.json" "the error names the missing manifest"
    fi
    "$PY" - "$PGBOOT_SOURCE_DIR/vendor-manifest.json" "$bad" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
del d["releases"]["16"]["platforms"]["linux-x64"]["integrity"]
json.dump(d, open(sys.argv[2], "w"))
EOF
    pg fetch --manifest "$bad" --mirror "$MURL" --cache-dir "$C"
    if check_failed "--manifest without an integrity field"; then
        check_contains "$(err_line)" "integrity" "the error names the missing field"
    fi
    check_cache_untouched "$C" "bad manifests"
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
fetch_finish
