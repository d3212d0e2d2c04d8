#!/usr/bin/env bash
# Runs every Go fuzz target in the module for the given time each
# (default 5s; `make fuzz FUZZTIME=5m` for a long run). Fails on the first
# crasher, which go test writes to the package's testdata/fuzz folder.
set -euo pipefail
fuzztime="${1:-5s}"
cd "$(dirname "$0")/.."
found=0
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
    found=$((found + 1))
    echo "fuzz $pkg $target for $fuzztime"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg"
  done
done
echo "fuzz: $found targets ran for $fuzztime each"
