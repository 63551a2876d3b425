#!/usr/bin/env bash
# Peak RSS and wall time of `reprocheck explain` on CPython 3.11.2's source
# tree (103 MB, 4,770 files; Debian's python3.11 orig tarball, which is the
# release's tarball byte for byte, pinned by sha256) with a build that reads
# the whole tree and leaks the build user: round 1 starts 6 builds at once.
# Prints wall time, peak RSS, builds, the results directory's size and the culprit.
#
#   scripts/bench-explain-memory.sh
#   BASELINE=/path/to/older/reprocheck scripts/bench-explain-memory.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench-lib.sh
. scripts/cpython-tarball.sh
cp "$cpython_tgz" "$work/"
tgz=$(basename "$cpython_tgz")
cat > "$work/cpython.toml" <<SPEC
name = "cpython"
[image]
digest = "$digest"
[source]
tarball = "$tgz"
sha256 = "$cpython_sha"
strip_components = 1
[build]
command = "mkdir -p out && find . -path ./out -prune -o -type f -print0 | LC_ALL=C sort -z | xargs -0 cat | sha256sum > out/tree && id -u > out/user"
outputs = ["out"]
SPEC

measure() { # BIN: prints "wall_s rss_mib builds"
  rm -rf "$work/out"
  /usr/bin/time -f '%e %M' -o "$work/time" "$1" explain "$work/cpython.toml" --out "$work/out" -q >"$work/log" 2>&1 || true
  read -r wall rss < <(tail -n 1 "$work/time")
  builds=$(sed -n 's/.*"builds": \([0-9]*\).*/\1/p' "$work/out/report.json" | head -n1)
  culprit=$(tr -d '\n ' < "$work/out/report.json" | sed -n 's/.*"culprits":\[\[\([^]]*\)\]\].*/\1/p' | head -n1)
  kept=$(du -sm "$work/out" | cut -f1)
  echo "$wall $((rss / 1024)) ${builds:-?} ${kept} ${culprit:-?}"
}
printf 'engine: docker %s, %s cores; source: CPython 3.11.2 (%s)\n' \
  "$(docker version --format '{{.Server.Version}}')" "$(nproc)" "$tgz"
printf '%-10s %8s %10s %7s %9s  %s\n' binary wall 'peak RSS' builds 'results' culprit
read -r wall rss builds kept culprit < <(measure "$bin")
printf '%-10s %7.1fs %6d MiB %7s %6s MB  %s\n' current "$wall" "$rss" "$builds" "$kept" "$culprit"
if [ -n "${BASELINE:-}" ]; then
  read -r wall rss builds kept culprit < <(measure "$BASELINE")
  printf '%-10s %7.1fs %6d MiB %7s %6s MB  %s\n' baseline "$wall" "$rss" "$builds" "$kept" "$culprit"
fi
