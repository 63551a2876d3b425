#!/usr/bin/env bash
# Measures what building the test suite costs, from a clean target dir:
# the wall time of `cargo test --no-run --release --locked`, the size of the
# target dir afterwards, and how many test binaries it built (integration
# test binaries from tests/, and all test executables including the unit
# tests of the library and the binary). Prints the machine's load before and
# after, and the CPU time besides the wall time, since on a shared machine a
# concurrent build slows this one.
#
# Usage: scripts/measure-test-build.sh [TARGET_DIR]
# TARGET_DIR (default: a fresh directory under /tmp) is removed before the
# build and again at the end, unless KEEP_TARGET=1.
# It measures the checkout it lives in, wherever it is run from.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TERM_COLOR=never

target=${1:-/tmp/reprocheck-measure-test-build}
case "$target" in
  /*) ;;
  *) echo "TARGET_DIR must be an absolute path, got: $target" >&2; exit 2 ;;
esac
rm -rf "$target"
export CARGO_TARGET_DIR=$target

log=$(mktemp)
trap 'rm -f "$log"; [ "${KEEP_TARGET:-0}" = 1 ] || rm -rf "$target"' EXIT

echo "commit:      $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
echo "load before: $(uptime | sed 's/.*load average: //')"
timing=$(mktemp)
TIMEFORMAT='%R %U %S'
{ time cargo test --no-run --release --locked >"$log" 2>&1; } 2>"$timing" ||
  { tail -n 40 "$log" >&2; echo "build failed" >&2; exit 1; }
read -r wall user sys <"$timing"
rm -f "$timing"
echo "load after:  $(uptime | sed 's/.*load average: //')"

# cargo prints one "Executable <target> (<path>)" line per test executable.
all=$(grep -c '^ *Executable ' "$log" || true)
integration=$(grep -c '^ *Executable tests/' "$log" || true)
printf 'wall time:   %.0f s\n' "$wall"
# CPU time (user + system, all processes cargo ran) depends much less on
# what else the machine is doing than wall time does.
printf 'CPU time:    %.0f s (user %.0f s, system %.0f s)\n' "$(echo "$user + $sys" | bc)" "$user" "$sys"
echo "target size: $(du -sh "$target" | cut -f1)"
echo "test binaries from tests/: $integration"
echo "test executables in all:   $all"
grep '^ *Executable ' "$log" | sed 's/^ */  /'
