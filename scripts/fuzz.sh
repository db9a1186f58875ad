#!/bin/sh
# Fuzzes the complete application's handling of hostile input, one target at
# a time, each for FUZZTIME (default 60s):
#
#   FuzzSessionCookies  tampered, foreign and garbage session cookies (/account)
#   FuzzCallbackQuery   arbitrary callback query strings, with and without a login
#   FuzzMakeChangeForm  arbitrary make-change form posts
#
# Usage, from anywhere in the repository:
#
#   scripts/fuzz.sh                        # the three targets above, 60 s each
#   FUZZTIME=10m scripts/fuzz.sh FuzzCallbackQuery
#   scripts/fuzz.sh FuzzParseDollars       # any other Fuzz target of the package
#
# This is not part of CI: `go test` already runs every seed input. An input
# that fails is saved under complete-application/testdata/fuzz/<Target>/; fix
# the bug and commit that file, and it becomes a seed every `go test` runs.
# Minimizing each new interesting input may take 60 s by default, and on these
# handler-level targets that can eat a whole run, so it is capped at
# FUZZMINIMIZETIME (default 2s); a failing input is still minimized within it.
# Only loopback traffic: the application and the FusionAuth stand-in both run
# inside the test process.
set -eu

cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-60s}
minimizetime=${FUZZMINIMIZETIME:-2s}
if [ "$#" -eq 0 ]; then
	set -- FuzzSessionCookies FuzzCallbackQuery FuzzMakeChangeForm
fi

for target in "$@"; do
	echo "== $target for $fuzztime"
	go test ./complete-application -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" -fuzzminimizetime "$minimizetime"
done
