#!/usr/bin/env bash
# Every test and check of norikv-go, in the order a failure is cheapest to
# find. CI runs exactly this (.ci/run); run it yourself before you push:
#
#   bash scripts/check.sh
#
# Needs Go, plus Node/npm and Chromium for the web console's step
# (scripts/web.sh; .ci/run installs Chromium). buf, the protoc plugins and
# mockgen run through the tools module (tools/go.mod) with `go tool`; the
# web tools come from web/package-lock.json. Nothing is installed globally.
set -euo pipefail
cd "$(dirname "$0")/.."

buf() { go tool -modfile=tools/go.mod github.com/bufbuild/buf/cmd/buf "$@"; }
step() { printf '\n== %s\n' "$*"; }

step "protovalidate's validate.proto is printed from its Go package (drift check)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go -C tools run ./validateproto "$tmp"
diff -ru third_party/protovalidate/buf "$tmp/buf"

step "buf lint, format, breaking (against the committed wire baseline)"
echo "building buf through the tools module (first run: a few minutes, once per build cache; later runs: seconds)"
buf lint
buf format -d --exit-code proto
buf breaking proto --against .ci/wire-baseline.binpb

step "generated code matches buf generate and go generate (go generate builds mockgen on the first run)"
buf generate
go generate ./...
if [ -n "$(git status --porcelain -- gen third_party mocks)" ]; then
  git status --short -- gen third_party mocks
  git diff --stat -- gen third_party mocks
  echo "generated code drifted: run 'buf generate' and 'go generate ./...' and commit" >&2
  exit 1
fi

step "go.mod files are tidy"
go mod tidy -diff
(cd tools && go mod tidy -diff)
(cd bench && go mod tidy -diff)
(cd otel && go mod tidy -diff)

step "gofmt and go vet"
unformatted=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change: $unformatted" >&2
  exit 1
fi
go vet ./...
(cd tools && go vet ./...)
(cd bench && go vet ./...)
(cd otel && go vet ./...)

step "golangci-lint, every module (scripts/lint.sh, .golangci.yml; first run builds it: minutes, once per build cache)"
bash scripts/lint.sh

step "tests (race detector on): compiles and runs every package, the longest step (minutes on 2 cores)"
go test -race -count=1 -timeout 20m ./...
(cd bench && go test -race -count=1 -timeout 10m ./...)
(cd otel && go test -race -count=1 -timeout 10m ./...)

step "web console: npm ci, TS generation and bundle drift, TS tests, headless Chromium (scripts/web.sh)"
bash scripts/web.sh browser

step "vector recall at full size (10k x 32; the race run uses 2k): builds the package without -race first"
go test -count=1 -run 'Recall' ./vector/

step "conformance table: the embedded cluster over every transport"
go run ./cmd/norikv conformance

step "conformance table: the embedded cluster gRPC-only, the production server's shape"
go run ./cmd/norikv conformance --grpc-only

step "fuzz targets, ${FUZZTIME:-20s} each (set FUZZTIME to change it)"
bash scripts/fuzz.sh
