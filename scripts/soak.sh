#!/usr/bin/env bash
# soak.sh: the real agent, in network namespaces the test creates, through
# the hostile conditions of issue 10, and a table of what it did. The cases
# are in cmd/jurismon/soak_linux_test.go (TestSoak); this script runs them
# and prints the rows they report.
#
# Usage: sudo scripts/soak.sh          (root: namespaces and raw sockets)
# Environment: SOAK_SHORT=1 for the short form that CI runs (under 5
# minutes; smaller counts and a shorter scan), GO (default go).
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}

if [ "$(id -u)" -ne 0 ]; then
	echo "soak.sh: needs root (network namespaces, AF_PACKET)" >&2
	exit 2
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
JURISMON_SOAK=1 SOAK_SHORT=${SOAK_SHORT:-} "$GO" test -count=1 -timeout 20m -run '^TestSoak$' -v ./cmd/jurismon >"$log" 2>&1 || status=$?

echo
echo "| Case | Measured | Limit | Result |"
echo "|---|---|---|---|"
{ grep '^SOAK|' "$log" || true; } | sed 's/^SOAK|/| /; s/|/ | /g; s/$/ |/; s/  */ /g'
if [ "$status" -ne 0 ]; then
	echo
	echo "soak.sh: some cases failed; the test's output:" >&2
	grep -v '^SOAK|' "$log" | grep -v '^        time=' | tail -60 >&2
fi
exit "$status"
