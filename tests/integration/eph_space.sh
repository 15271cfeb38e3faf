#!/usr/bin/env bash
# Space for throwaway clusters. On a small /dev/shm (Docker's default is
# 64 MB; a cluster takes ~40 MB) three parallel `run --ephemeral` all run:
# those that do not fit (checked before the copy, or found out by ENOSPC
# during it, as parallel copies race) go to /tmp, and say so on stderr. An
# explicit TMPDIR is used as given, without fallback. Spare copies that no
# one claimed for 10 minutes are removed by the next start.
#
# The small /dev/shm is a private tmpfs in a private mount namespace
# (unshare -m, as root), with a private tmpfs on /tmp as well, so that the
# fallback sees no other test's clusters; both go with the namespace.
set -euo pipefail
# shellcheck source=eph_lib.sh
. "$(dirname "$0")/eph_lib.sh"
eph_setup
command -v unshare >/dev/null || die "unshare (util-linux) is needed"

# in_small_shm SCRIPT: run the bash SCRIPT as root in a private mount
# namespace with a 64 MB tmpfs on /dev/shm and a 1 GB one on /tmp. SCRIPT
# runs user commands with `asu CMD...` (the test user, USER_ENV minus
# TMPDIR, so that pgboot picks the place itself).
in_small_shm() {
    local envf=$U/work/user.env
    user_env_unset TMPDIR
    printf '%s\0' "${USER_ENV[@]}" >"$envf"
    unshare -m --propagation private env ENVF="$envf" TEST_USER="$TEST_USER" UGID="$USER_GID" PGB="$PGB" \
        UDIR="$U" bash -euc '
mount -t tmpfs -o size=64m,mode=1777 tmpfs /dev/shm
# The user area may itself be under /tmp (a checkout the test user cannot
# reach): keep it visible through the new /tmp at the same path.
case $UDIR in /tmp/*)
    mkdir /dev/shm/.user-area && mount --bind "$UDIR" /dev/shm/.user-area ;;
esac
mount -t tmpfs -o size=1g,mode=1777 tmpfs /tmp
case $UDIR in /tmp/*)
    mkdir -p "$UDIR" && mount --bind /dev/shm/.user-area "$UDIR" ;;
esac
mapfile -d "" -t UENV <"$ENVF"
asu() { setpriv --reuid="$TEST_USER" --regid="$UGID" --init-groups env -C "$UDIR" -i "${UENV[@]}" "$@"; }
'"$1"
}

case_three_parallel_small_shm() {
    local w=$U/work/three i rc n_shm=0 n_tmp=0 data
    user_mkdir "$w"
    cat >"$w/cmd.sh" <<'EOF'
#!/bin/sh
set -eu
w=$1 i=$2
q() { "$PSQL" -X -A -t -q -v ON_ERROR_STOP=1 "$@"; }
q -c 'create table t(x int)' -c 'insert into t select generate_series(1, 1000)' >/dev/null
q -c 'show data_directory' >"$w/data.$i"
echo up >"$w/up.$i"
k=0
while [ "$(ls "$w" | grep -c '^up\.')" -lt 3 ]; do
    k=$((k + 1))
    [ $k -lt 1200 ] || { echo "timed out waiting for the others" >&2; exit 9; }
    sleep 0.05
done
q -c 'select count(*) from t' >"$w/count.$i"
EOF
    chmod 755 "$w/cmd.sh"
    chown -R "$TEST_USER:" "$w"
    in_small_shm '
for i in 1 2 3; do
    asu "$PGB" run --ephemeral --timeout 60 -- "'"$w"'/cmd.sh" "'"$w"'" $i >"'"$w"'/out.$i" 2>"'"$w"'/err.$i" &
done
rc=0
for i in 1 2 3; do wait -n || rc=$?; done
# what is left in the small /dev/shm once they have ended
sleep 1
ls -A /dev/shm/pgboot-* >"'"$w"'/shm-left" 2>/dev/null || true
exit $rc
' || true
    for i in 1 2 3; do
        check_eq "$(cat "$w/count.$i" 2>/dev/null)" 1000 "cluster $i ran its command to the end"
        if ! grep -q '^pgboot: error' "$w/err.$i"; then ok "run $i printed no error"; else nok "run $i: $(cat "$w/err.$i")"; fi
        data=$(cat "$w/data.$i" 2>/dev/null || true)
        case "$data" in
        /dev/shm/*)
            n_shm=$((n_shm + 1))
            check_not_contains "$(cat "$w/err.$i")" "pgboot: note:" "run $i in /dev/shm printed no fallback note"
            ;;
        /tmp/*)
            n_tmp=$((n_tmp + 1))
            check_match "$(cat "$w/err.$i")" "^pgboot: note: /dev/shm/pgboot-$USER_UID (has [0-9]+ MB free and a throwaway cluster needs [0-9]+ MB|ran out of space|is full): the throwaway cluster is in /tmp/pgboot-$USER_UID instead" \
                "run $i in /tmp says on stderr why, in one line"
            check_eq "$(grep -c . "$w/err.$i")" 1 "run $i: the note is one line"
            ;;
        *) nok "cluster $i: data directory '$data' is neither in /dev/shm nor in /tmp" ;;
        esac
    done
    check_eq "$((n_shm + n_tmp))" 3 "three clusters ran"
    # Parallel starts check and copy one at a time: the first fits, the
    # others see it has no room left.
    check_eq "$n_shm" 1 "one cluster in the 64 MB /dev/shm"
    check_eq "$(grep -c '^eph-\|^\.spare-tmp-' "$w/shm-left" || true)" 0 "no cluster or half-made copy is left in /dev/shm"
}

case_explicit_tmpdir_no_fallback() {
    local w=$U/work/explicit
    user_mkdir "$w"
    chown -R "$TEST_USER:" "$w"
    in_small_shm '
# /dev/shm nearly full: 40 of 64 MB taken by a file of the user
asu dd if=/dev/zero of=/dev/shm/ballast bs=1M count=40 status=none
asu env TMPDIR=/dev/shm "$PGB" run --ephemeral --timeout 60 -- true >"'"$w"'/explicit.out" 2>"'"$w"'/explicit.err" || echo $? >"'"$w"'/explicit.rc"
asu "$PGB" run --ephemeral --timeout 60 -- sh -c "echo \$PGHOST" >"'"$w"'/auto.out" 2>"'"$w"'/auto.err" || echo $? >"'"$w"'/auto.rc"
ls -A /dev/shm/pgboot-* >"'"$w"'/shm-left" 2>/dev/null || true
' || true
    check_eq "$(cat "$w/explicit.rc" 2>/dev/null)" 1 "TMPDIR=/dev/shm without room fails (no fallback)"
    check_contains "$(cat "$w/explicit.err")" "No space left on device" "the error says there is no space"
    check_contains "$(cat "$w/explicit.err")" "/dev/shm/pgboot-$USER_UID" "the error names the directory"
    check_match "$(cat "$w/explicit.err")" $'\nhint: .*TMPDIR' "the hint gives the way out"
    check_eq "$(cat "$w/auto.rc" 2>/dev/null || echo 0)" 0 "without TMPDIR the run succeeds"
    check_match "$(cat "$w/auto.err")" "^pgboot: note: /dev/shm/pgboot-$USER_UID has [0-9]+ MB free and a throwaway cluster needs [0-9]+ MB: the throwaway cluster is in /tmp/pgboot-$USER_UID instead$" \
        "the note says why and where, on stderr"
    check_eq "$(grep -c '^eph-\|^\.spare-tmp-\|^spare-' "$w/shm-left" || true)" 0 "nothing was left in the full /dev/shm"
}

case_stale_spares_reaped() {
    local base old new s
    base=$(eph_base)
    pgb_ok "a first run (makes spares)" run --ephemeral -- true
    wait_copiers 60 || nok "the spare copier did not finish"
    mapfile -t old < <(find "$base" -mindepth 1 -maxdepth 1 -name 'spare-*' | sort)
    ((${#old[@]} >= 1)) && ok "spares were made (${#old[@]})" || {
        nok "no spare was made in $base"
        return 0
    }
    for s in "${old[@]}"; do touch -h -d '20 minutes ago' "$s"; done
    pgb_ok "a run 20 minutes later" run --ephemeral -- true
    wait_copiers 60 || nok "the spare copier did not finish"
    for s in "${old[@]}"; do
        check_true "the unclaimed spare $(basename "$s") (untouched for 20 minutes) is removed" path_gone "$s"
    done
    mapfile -t new < <(find "$base" -mindepth 1 -maxdepth 1 -name 'spare-*' -mmin -5 | sort)
    ((${#new[@]} >= 1)) && ok "fresh spares replace them" || nok "no fresh spare"
    # a spare used within the 10 minutes is kept
    mapfile -t old < <(find "$base" -mindepth 1 -maxdepth 1 -name 'spare-*' | sort)
    pgb_ok "a run at once" run --ephemeral -- true
    wait_copiers 60 || true
    local still=0
    for s in "${old[@]}"; do [[ -e "$s" ]] && still=$((still + 1)); done
    ((still >= ${#old[@]} - 1)) && ok "fresh spares are kept (only the claimed one went)" || nok "fresh spares were removed ($still of ${#old[@]} left)"
}

run_case three_parallel_small_shm case_three_parallel_small_shm
run_case explicit_tmpdir_no_fallback case_explicit_tmpdir_no_fallback
run_case stale_spares_reaped case_stale_spares_reaped
eph_finish
