#!/usr/bin/env bash
# The web console's checks (web/): what CI runs on a fresh machine with
# Node and npm. The Go library never needs any of this: the bundle is
# committed under web/dist and embedded by the Go package web.
#
#   bash scripts/web.sh          # npm ci, gen + bundle drift, TS tests
#   bash scripts/web.sh browser  # also the headless Chromium test (webtest/)
set -euo pipefail
cd "$(dirname "$0")/.."

buf() { go tool -modfile=tools/go.mod github.com/bufbuild/buf/cmd/buf "$@"; }
step() { printf '\n== %s\n' "$*"; }
drift() { # drift <what> <paths...>: fail if git sees changes under paths
  local what=$1; shift
  if [ -n "$(git status --porcelain -- "$@")" ]; then
    git status --short -- "$@"
    echo "$what drifted: run it in web/ (see web/README.md) and commit" >&2
    exit 1
  fi
}

step "npm ci (web/, pinned by package-lock.json)"
(cd web && npm ci --no-audit --no-fund)

step "TypeScript generated from proto/ matches buf generate --template web/buf.gen.yaml"
buf generate --template web/buf.gen.yaml
drift "generated TypeScript (npm run gen)" web/src/gen

step "type check and TS unit tests"
(cd web && npx tsc --noEmit -p . && node scripts/test.mjs)

step "bundle matches the sources (web/dist)"
(cd web && node scripts/build.mjs)
drift "bundle (npm run build)" web/dist

step "Go package web (serves the embedded bundle)"
go vet ./web/...
go test -race -count=1 ./web/...

if [ "${1:-}" = browser ]; then
  step "the console in headless Chromium (webtest/)"
  (cd webtest && go mod tidy -diff && go vet ./... && go test -count=1 -timeout 5m ./...)
fi
