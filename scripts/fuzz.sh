#!/usr/bin/env bash
# Runs every fuzz target for a bounded time (FUZZTIME, default 20s each).
# Seed corpora live in each package's testdata/fuzz/; plain `go test` runs
# them. New failing inputs are written there by the fuzzer: commit them.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZTIME="${FUZZTIME:-20s}"
targets=(
	"./internal/routing FuzzRouting"
	"./server FuzzHandlersAllProtocols"
	"./client FuzzClientValidation"
	"./server FuzzDataDir"
)
# The server owner's FuzzHandlers (Connect only), if present.
if grep -q "func FuzzHandlers(" server/*_test.go 2>/dev/null; then
	targets+=("./server FuzzHandlers")
fi
for t in "${targets[@]}"; do
	set -- $t
	echo "== fuzz $2 ($1) for $FUZZTIME"
	# Minimizing new inputs can take a minute of the budget with no
	# progress shown; cap it.
	go test -run "^$" -fuzz "^$2\$" -fuzztime "$FUZZTIME" -fuzzminimizetime 3s -parallel 2 "$1"
done
