#!/usr/bin/env bash
# Offline checks of the packaging: the systemd unit and the Nix files.
#
#   scripts/check-packaging.sh [PATH-TO-BUILT-ENLIST]     (default: target/debug/enlist)
#
# 1. `systemd-analyze verify` on systemd/enlist.service and systemd/enlist.timer together, with
#    ExecStart= pointed at the built binary (verify fails when ExecStart= is not executable). verify
#    exits 0 even for unknown keys or unparsable values, so any diagnostic it prints fails the
#    check. The timer must start enlist.service and be wanted by timers.target.
# 2. `systemd-analyze security --offline=true`: the exposure score of enlist.service — the only
#    process; the timer runs it — must stay <= 2.5 (SPEC §6). (A timer has no sandbox of its own:
#    scored as if it were a service it reports the absence of one, 9.8, which says nothing.)
# 3. `nix-instantiate --parse` on every *.nix file of the repository (target/ excluded).
#
# Needs systemd-analyze >= 250 (--offline, --threshold) and nix-instantiate (Debian: systemd,
# nix-bin). No network, no Nix store writes, no systemd running as PID 1.
set -euo pipefail

# Exposure is reported with one decimal; --threshold takes it times ten.
readonly MAX_EXPOSURE=2.5
readonly MAX_EXPOSURE_THRESHOLD=25

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"

binary=${1:-target/debug/enlist}
if [[ ! -x $binary ]]; then
    echo "error: $binary is not an executable; build it first (cargo build -p enlist) or pass its path" >&2
    exit 64
fi
binary=$(realpath "$binary")

for tool in systemd-analyze nix-instantiate; do
    if ! command -v "$tool" >/dev/null; then
        echo "error: $tool not found (Debian: apt-get install systemd nix-bin)" >&2
        exit 69
    fi
done

workdir=$(mktemp -d)
trap 'rm -rf "$workdir"' EXIT

# --- 1. unit syntax and semantics -------------------------------------------------------------
# The copy keeps the name enlist.service: verify derives the unit name (and type) from it.
unit=$workdir/enlist.service
sed "s|^ExecStart=/usr/bin/enlist |ExecStart=$binary |" systemd/enlist.service >"$unit"
if ! grep -q "^ExecStart=$binary " "$unit"; then
    echo "error: systemd/enlist.service has no 'ExecStart=/usr/bin/enlist ...' line to rewrite" >&2
    exit 65
fi

timer=$workdir/enlist.timer
cp systemd/enlist.timer "$timer"
for line in '^Unit=enlist\.service$' '^WantedBy=timers\.target$' '^OnUnitInactiveSec=' '^RandomizedDelaySec='; do
    if ! grep -q "$line" "$timer"; then
        echo "FAIL: systemd/enlist.timer has no line matching $line" >&2
        exit 1
    fi
done
if grep -q '^RemainAfterExit=yes' "$unit"; then
    echo "FAIL: enlist.service has RemainAfterExit=yes: the timer could never start it again" >&2
    exit 1
fi

echo "== systemd-analyze verify systemd/enlist.service systemd/enlist.timer (ExecStart=$binary)"
verify_log=$workdir/verify.log
verify_status=0
systemd-analyze verify "$unit" "$timer" >"$verify_log" 2>&1 || verify_status=$?
if [[ $verify_status -ne 0 || -s $verify_log ]]; then
    sed "s|$workdir/|systemd/|g" "$verify_log" >&2
    echo "FAIL: systemd-analyze verify (exit $verify_status)" >&2
    exit 1
fi
echo "ok: no diagnostics"

# --- 2. hardening score -------------------------------------------------------------------------
echo "== systemd-analyze security --offline=true (must be <= $MAX_EXPOSURE)"
security_log=$workdir/security.log
security_status=0
systemd-analyze security --offline=true --no-pager --threshold="$MAX_EXPOSURE_THRESHOLD" "$unit" \
    >"$security_log" 2>&1 || security_status=$?
# Lines that still carry exposure end with their weight, e.g. "... runs as root user   0.4".
grep -E '[0-9]\.[0-9]+$' "$security_log" | grep -v 'Overall exposure' || true
overall=$(grep 'Overall exposure level' "$security_log" || true)
if [[ -z $overall ]]; then
    cat "$security_log" >&2
    echo "FAIL: no overall exposure level in the output of systemd-analyze security" >&2
    exit 1
fi
echo "$overall"
if [[ $security_status -ne 0 ]]; then
    echo "FAIL: exposure above $MAX_EXPOSURE (systemd-analyze security exit $security_status)" >&2
    exit 1
fi
echo "ok: exposure within $MAX_EXPOSURE"

# --- 3. Nix syntax ------------------------------------------------------------------------------
echo "== nix-instantiate --parse"
nix_files=()
while IFS= read -r -d '' file; do
    nix_files+=("$file")
done < <(find . \( -path ./target -o -path ./.git \) -prune -o -type f -name '*.nix' -print0 | sort -z)
if [[ ${#nix_files[@]} -eq 0 ]]; then
    echo "FAIL: no .nix files found (expected flake.nix, nix/package.nix, nix/module.nix)" >&2
    exit 1
fi
for file in "${nix_files[@]}"; do
    if ! nix-instantiate --parse "$file" >/dev/null; then
        echo "FAIL: nix-instantiate --parse ${file#./}" >&2
        exit 1
    fi
    echo "ok: ${file#./}"
done

echo "== packaging checks passed"
