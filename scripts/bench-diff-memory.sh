#!/usr/bin/env bash
# Peak RSS and wall time of `reprocheck diff` on a CPython-sized pair of
# tarballs (issue 18): CPython 3.11.2's published source tarball (99 MB as
# .tar; fetched as Debian's python3.11 orig tarball, which is that release's
# tarball byte for byte, pinned here by sha256) against the same tree packed
# the way a rebuild packs it (tar --sort=name --owner=0 --group=0
# --numeric-owner --mtime=<last commit> --clamp-mtime, gzip -n).
#
#   scripts/bench-diff-memory.sh [ROUNDS]           (default 3)
#   BASELINE=/path/to/older/reprocheck scripts/bench-diff-memory.sh
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
cargo build --release -q
bin=$PWD/target/release/reprocheck
. scripts/cpython-tarball.sh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
gzip -dc "$cpython_tgz" > "$work/published.tar"
mkdir "$work/tree"
tar -xf "$work/published.tar" -C "$work/tree"
# The release's newest file is 13:52; its commit a quarter of an hour earlier.
tar -C "$work/tree" --sort=name --owner=0 --group=0 --numeric-owner --format=gnu \
  --mtime=2023-02-07T13:40:00Z --clamp-mtime -cf "$work/rebuilt.tar" Python-3.11.2
gzip -n -c "$work/rebuilt.tar" > "$work/rebuilt.tar.gz"
cp "$cpython_tgz" "$work/published.tar.gz"
printf 'pair: %s (%d bytes) and %s (%d bytes)\n' published.tar "$(stat -c %s "$work/published.tar")" \
  rebuilt.tar "$(stat -c %s "$work/rebuilt.tar")"

# measure LABEL BIN A B: peak RSS (MiB) and wall time (s), best of the rounds.
measure() {
  local label=$1 bin=$2 a=$3 b=$4 best_rss=0 best_wall=999999 i
  for i in $(seq "$rounds"); do
    /usr/bin/time -f '%M %e' -o "$work/time" "$bin" diff "$a" "$b" > "$work/out.txt" 2>&1 || [ $? -eq 1 ]
    read -r rss wall < <(tail -n1 "$work/time")
    [ "$best_wall" = 999999 ] || [ "$(echo "$wall < $best_wall" | bc)" = 1 ] && best_wall=$wall
    [ "$best_rss" = 0 ] || [ "$rss" -lt "$best_rss" ] && best_rss=$rss
  done
  printf '| %s | %s | %d MiB | %s s |\n' "$label" "$(basename "$a") vs $(basename "$b")" $((best_rss / 1024)) "$best_wall"
}
echo "| binary | pair | peak RSS | wall |"
echo "|---|---|---|---|"
for pair in "published.tar rebuilt.tar" "published.tar.gz rebuilt.tar.gz"; do
  set -- $pair
  measure this "$bin" "$work/$1" "$work/$2"
  [ -z "${BASELINE:-}" ] || measure baseline "$BASELINE" "$work/$1" "$work/$2"
done
echo "summary printed by this binary for the .tar.gz pair:"
"$bin" diff "$work/published.tar.gz" "$work/rebuilt.tar.gz" 2>&1 | head -40 || true
