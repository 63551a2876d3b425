#!/usr/bin/env bash
# Rebuilds the committed target lists with `reprocheck rebuild` and prints,
# for each list, the table (class per target, why, time), the rates, and
# the wall time of the whole list, split into inference, image builds and
# verification (from the command's own phase lines).
#
#   scripts/rebuild-lists.sh [pypi|debian|all] [OUT]   (default: all, /tmp/reprocheck-rebuild-lists)
#
# Needs a container engine, the package index pip is configured for and
# the Debian archive the host's apt sources name. The specs are inferred
# into OUT/<list>-specs (kept: a second run reuses their image locks) and
# the results go to OUT/<list>; JOBS=n sets --jobs (default 2), SUITE the
# Debian list's suite (default: the host's own).
set -euo pipefail
cd "$(dirname "$0")/.."
which=${1:-all}
out=${2:-/tmp/reprocheck-rebuild-lists}
jobs=${JOBS:-2}
cargo build --release -q
bin=$PWD/target/release/reprocheck
mkdir -p "$out"

run_list() {
  local list=$1 extra=("${@:2}")
  local log="$out/$list.log"
  local started=$SECONDS
  # exit 1 means some target is not bit-identical: the table says which.
  "$bin" rebuild "@specs/rebuild/$list.list" --write-spec "$out/$list-specs" --out "$out/$list" \
    --jobs "$jobs" "${extra[@]}" >"$out/$list.table" 2>"$log" || [ $? -eq 1 ]
  local total=$((SECONDS - started))
  echo "== $list: $(grep -c '^\[' "$log" || true) progress lines, ${total} s wall"
  cat "$out/$list.table"
  echo "images built and locked: $(grep -c 'building and locking the image' "$log" || true)"
  echo "results: $out/$list (rebuild.json, summary.json, index.html); log: $log"
}

case $which in
  pypi) run_list pypi ;;
  debian) run_list debian ${SUITE:+--suite "$SUITE"} ;;
  all) run_list pypi; run_list debian ${SUITE:+--suite "$SUITE"} ;;
  *) echo "usage: $0 [pypi|debian|all] [OUT]" >&2; exit 2 ;;
esac
