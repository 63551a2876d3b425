#!/usr/bin/env bash
# Wall time of a 2-run `reprocheck check` of a trivial build, as a ratio to
# two plain `docker run --rm --network none IMAGE CMD` of the same command
# started in parallel (the fair floor for two builds) and to one, all
# measured here, interleaved, REPS times each; medians are compared.
# Usage: [VARY=factors] scripts/bench-check.sh [REPS]   (needs Docker and the pinned image)
# Without VARY the check varies every factor, as it does by default.
set -euo pipefail
cd "$(dirname "$0")/.."
reps=${1:-15}
. scripts/bench-lib.sh
echo data > "$work/src/input"
# Modes fixed: the umask factor must not make the trivial build unreproducible.
cmd='mkdir -p out && cat input > out/x && chmod -R go-w out'
spec=$(bench_spec trivial "$cmd")

now() { date +%s.%N; }
check_times=() run_times=() pair_times=()
for _ in $(seq "$reps"); do
  t0=$(now); "$bin" check "$spec" --out "$work/results" ${VARY:+--vary "$VARY"} >/dev/null 2>&1; t1=$(now)
  check_times+=("$(echo "$t1 - $t0" | bc -l)")
  t0=$(now); docker run --rm --network none -w /tmp "$digest" sh -c "echo data > input && $cmd" >/dev/null; t1=$(now)
  run_times+=("$(echo "$t1 - $t0" | bc -l)")
  t0=$(now)
  docker run --rm --network none -w /tmp "$digest" sh -c "echo data > input && $cmd" >/dev/null &
  docker run --rm --network none -w /tmp "$digest" sh -c "echo data > input && $cmd" >/dev/null &
  wait; t1=$(now)
  pair_times+=("$(echo "$t1 - $t0" | bc -l)")
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
check_median=$(median "${check_times[@]}")
run_median=$(median "${run_times[@]}")
pair_median=$(median "${pair_times[@]}")
printf 'reps: %d (interleaved), vary: %s, engine: %s\n' "$reps" "${VARY:-default (all)}" "$(docker version --format '{{.Server.Version}}')"
printf 'reprocheck check (2 runs): median %.3f s\n' "$check_median"
printf 'docker run --rm (1 run):   median %.3f s\n' "$run_median"
printf 'docker run --rm x2 at once: median %.3f s\n' "$pair_median"
printf 'ratio check / docker run:  %.2f\n' "$(echo "$check_median / $run_median" | bc -l)"
printf 'ratio check / parallel pair: %.2f (issue 36: <= 1.2)\n' "$(echo "$check_median / $pair_median" | bc -l)"
