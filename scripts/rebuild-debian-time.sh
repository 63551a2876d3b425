#!/usr/bin/env bash
# Wall time of `reprocheck rebuild debian:PACKAGE` end to end, into an empty
# directory (the image resolved, built and locked by mmdebstrap) and again
# into the same directory (the image loaded and locked), with the verdict.
# Runs under the engine lock, as every engine-heavy job here does.
#
#   scripts/rebuild-debian-time.sh [PACKAGE]      (default: distro-info-data)
set -euo pipefail
package=${1:-distro-info-data}
bin=${REPROCHECK:-${CARGO_TARGET_DIR:-target}/release/reprocheck}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
run() {
  local start end code=0
  start=$(date +%s.%N)
  flock -o /tmp/reprocheck-engine.lock "$bin" rebuild "debian:$package" --write-spec "$dir/specs" \
    --out "$dir/out-$1" >"$dir/$1.out" 2>"$dir/$1.err" || code=$?
  end=$(date +%s.%N)
  printf '%-6s %7.1f s  exit %s  %s  (mmdebstrap: %s)\n' "$1" "$(echo "$end - $start" | bc)" "$code" \
    "$(grep -E '^(VERIFIED|NOT VERIFIED)' "$dir/$1.out" | head -1)" \
    "$(grep -o 'success in [0-9.]* seconds' "$dir/$1.err" || echo 'not run')"
}
run cold
run warm
