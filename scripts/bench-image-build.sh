#!/usr/bin/env bash
# The first build of a recipe from nothing: a copy of the recipe with no
# lock, an empty download cache, so mmdebstrap resolves and downloads every
# package from the archive the host's apt sources name (with the recipe's
# suite). Prints the wall time, the package count, libc6's version and the
# image id (the same as the bundled lock's when the archive has not moved).
# Usage: scripts/bench-image-build.sh [RECIPE_DIR]   (default specs/containers/debian-trixie;
# needs Docker and mmdebstrap; run under the engine lock when others share the machine)
set -euo pipefail
cd "$(dirname "$0")/.."
recipe=${1:-specs/containers/debian-trixie}
cargo build --release -q
bin=${CARGO_TARGET_DIR:-$PWD/target}/release/reprocheck
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$recipe/recipe.toml" "$work/"
start=$(date +%s.%N)
XDG_CACHE_HOME=$work/cache "$bin" image build "$work" >"$work/out" 2>"$work/err" ||
  { tail -n 30 "$work/err"; exit 1; }
end=$(date +%s.%N)
packages=$(grep -c '{ name = ' "$work/packages.lock")
libc6=$(sed -n 's/.*{ name = "libc6", version = "\([^"]*\)".*/\1/p' "$work/packages.lock")
printf 'recipe %s: built from nothing in %.1f s, %s packages, libc6 %s, image %s\n' \
  "$recipe" "$(echo "$end - $start" | bc)" "$packages" "$libc6" "$(tail -n1 "$work/out")"
