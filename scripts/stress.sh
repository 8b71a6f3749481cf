#!/usr/bin/env bash
# Runs check.sh's test step (go test -race over the root, bench and otel
# modules) ROUNDS times, two copies at once, so every run sees at least
# double the load CI gives it: a test that depends on timing shows up here
# before it fails one CI run in ten. With "browser" it also runs the web
# console's headless-Chromium tests (webtest/), two copies at once.
#
#   bash scripts/stress.sh 10            # 20 runs of the Go suite
#   bash scripts/stress.sh 3 browser     # also 6 runs of webtest/
#
# Each run's output is kept under $STRESS_OUT (default: a new temp dir);
# the summary line of every round, and every failing test, are printed.
set -uo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-10}
browser=${2:-}
out=${STRESS_OUT:-$(mktemp -d)}
mkdir -p "$out"
echo "stress: $rounds rounds x 2 copies, output in $out"

suite() {
  local rc=0
  go test -race -count=1 -timeout 30m ./... || rc=1
  (cd bench && go test -race -count=1 -timeout 15m ./...) || rc=1
  (cd otel && go test -race -count=1 -timeout 15m ./...) || rc=1
  if [ "$browser" = browser ]; then
    (cd webtest && go test -count=1 -timeout 5m ./...) || rc=1
  fi
  return $rc
}

failed=0
for i in $(seq 1 "$rounds"); do
  start=$(date +%s)
  suite >"$out/$i-a.txt" 2>&1 &
  a=$!
  suite >"$out/$i-b.txt" 2>&1 &
  b=$!
  wait $a; ra=$?
  wait $b; rb=$?
  printf 'round %d: %s %s, %ds, load %s\n' "$i" \
    "$([ $ra = 0 ] && echo pass || echo FAIL)" "$([ $rb = 0 ] && echo pass || echo FAIL)" \
    $(($(date +%s) - start)) "$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)"
  for r in a b; do
    grep -h -e '^--- FAIL' -e '^FAIL' -e '^panic:' "$out/$i-$r.txt" | sed "s/^/  $i-$r: /"
  done
  [ $ra = 0 ] && [ $rb = 0 ] || failed=$((failed + 1))
done
echo "stress: $((rounds * 2)) runs, $failed rounds with a failure"
[ $failed = 0 ]
