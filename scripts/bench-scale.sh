#!/usr/bin/env bash
# A big source tree: wall time and peak RSS of `reprocheck check` per factor.
#
# The tree is 20,000 files, 236 MB in 200 directories (pseudo-random bytes,
# made once under ~/.cache/reprocheck/bench). The build reads every file and
# writes one hash. Each row is one 2-run check, best of REPS; peak RSS is the
# reprocheck process's own (GNU time's %M), and "above baseline" subtracts
# the same check of a one-file tree.
# Usage: scripts/bench-scale.sh [REPS] [VARY...]   (default: 1 rep; none,
#   all, each factor alone, the environment-only factors)
set -euo pipefail
cd "$(dirname "$0")/.."
reps=${1:-1}
shift || true
. scripts/bench-lib.sh

tree=${BENCH_TREE:-$HOME/.cache/reprocheck/bench/tree-20000}
if [ ! -f "$tree/.complete" ]; then
  rm -rf "$tree" && mkdir -p "$tree"
  python3 - "$tree" <<'PY'
import os, random, sys
root = sys.argv[1]
rng = random.Random(19)
for d in range(200):
    sub = os.path.join(root, f"d{d:03}")
    os.mkdir(sub)
    for f in range(100):
        i = d * 100 + f
        size = 2000 + (i * 7919) % 19600
        with open(os.path.join(sub, f"f{f:03}.dat"), "wb") as out:
            out.write(rng.randbytes(size))
PY
  find "$tree" -exec touch -h -d @1700000000 {} +
  touch "$tree/.complete"
fi
# Modes fixed: the umask factor must not make the build unreproducible (check compares modes).
cmd='mkdir -p out && find . -path ./out -prune -o -type f -print0 | LC_ALL=C sort -z | xargs -0 cat | sha256sum > out/hash && chmod -R go-w out'

# The spec sits beside its source (a spec reaches only its own directory).
spec_for() { # NAME SOURCE-DIR
  mkdir -p "$work/$1"
  ln -sfn "$2" "$work/$1/src"
  (cd "$work" && bench_spec "$1" "$cmd" >/dev/null && mv "$1.toml" "$1/spec.toml")
  echo "$work/$1/spec.toml"
}
big=$(spec_for big "$tree")
mkdir -p "$work/tiny-src" && echo x > "$work/tiny-src/x"
tiny=$(spec_for tiny "$work/tiny-src")

# measure SPEC VARY: prints "wall_s rss_kib" of the best of $reps (by wall).
measure() {
  local best_wall='' best_rss=''
  for _ in $(seq "$reps"); do
    rm -rf "$work/results"
    local vary=(--vary "$2"); [ "$2" = all ] && vary=()
    /usr/bin/time -f '%e %M' -o "$work/time" "$bin" check "$1" --allow-host-paths "${vary[@]}" --out "$work/results" >"$work/log" 2>&1 ||
      { echo "check failed (vary $2):" >&2; tail -n 20 "$work/log" >&2; exit 1; }
    read -r wall rss < "$work/time"
    if [ -z "$best_wall" ] || [ "$(echo "$wall < $best_wall" | bc -l)" = 1 ]; then best_wall=$wall best_rss=$rss; fi
  done
  echo "$best_wall $best_rss"
}

if [ $# -gt 0 ]; then varies=("$@"); else
  varies=(none all fileordering time build_path user
    environment,user,umask,locales,timezone,home,exec_path,domain_host,num_cpus,kernel,build_path)
fi
read -r _ base_rss < <(measure "$tiny" none)
read -r control_wall _ < <(measure "$big" none)
printf 'tree: %s files, %s MB; reps: %d; engine: %s %s; %s cores\n' \
  "$(find "$tree" -type f ! -name .complete | wc -l)" "$(du -sm --apparent-size "$tree" | cut -f1)" "$reps" \
  "$(docker version --format '{{.Server.Os}}' 2>/dev/null || echo docker)" \
  "$(docker version --format '{{.Server.Version}}')" "$(nproc)"
printf 'baseline (one-file tree, vary none): peak RSS %d MiB\n' "$((base_rss / 1024))"
printf '%-40s %8s %10s %10s %8s\n' vary wall 'peak RSS' 'above base' '÷ none'
for vary in "${varies[@]}"; do
  if [ "$vary" = none ]; then wall=$control_wall; read -r _ rss < <(measure "$big" none)
  else read -r wall rss < <(measure "$big" "$vary"); fi
  label=$vary; [ ${#label} -gt 40 ] && label="${label:0:37}..."
  printf '%-40s %7.1fs %7d MiB %7d MiB %8.2f\n' "$label" "$wall" "$((rss / 1024))" \
    "$(((rss - base_rss) / 1024))" "$(echo "$wall / $control_wall" | bc -l)"
done
