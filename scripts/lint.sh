#!/usr/bin/env bash
# golangci-lint over every Go module of the repo, with the one
# configuration at the top (.golangci.yml). The linter is pinned in
# tools/go.mod and run with `go tool`: nothing is installed globally.
#
#   bash scripts/lint.sh            # every module
#   bash scripts/lint.sh bench      # one module
#
# The first run builds golangci-lint (minutes, once per build cache).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

lint() {
  go tool -modfile="$root/tools/go.mod" github.com/golangci/golangci-lint/v2/cmd/golangci-lint "$@"
}

modules=("$@")
[ ${#modules[@]} -gt 0 ] || modules=(. bench otel webtest tools)
for m in "${modules[@]}"; do
  echo "golangci-lint: module ${m}"
  (cd "$m" && lint run --config "$root/.golangci.yml" ./...)
done
