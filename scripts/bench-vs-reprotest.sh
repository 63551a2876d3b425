#!/usr/bin/env bash
# Wall time of one all-factor `reprocheck check` of the clean fixture, as a
# ratio to `reprotest` on the same fixture with its default variations, both
# measured here, interleaved, REPS times each; medians are compared.
# Usage: scripts/bench-vs-reprotest.sh [REPS]   (needs Docker, the pinned image, reprotest)
set -euo pipefail
cd "$(dirname "$0")/.."
reps=${1:-7}
command -v reprotest >/dev/null || { echo "reprotest is not installed (apt-get install reprotest)" >&2; exit 2; }
. scripts/bench-lib.sh
cp -r tests/fixtures/clean/. "$work/src/"
spec=$(bench_spec clean "sh build.sh")

now() { date +%s.%N; }
ours=() theirs=()
for _ in $(seq "$reps"); do
  t0=$(now); "$bin" check "$spec" --out "$work/results" >"$work/ours.log" 2>&1; t1=$(now)
  ours+=("$(echo "$t1 - $t0" | bc -l)")
  t0=$(now); (cd "$work" && reprotest -c 'sh build.sh' src 'out/*' >"$work/theirs.log" 2>&1); t1=$(now)
  theirs+=("$(echo "$t1 - $t0" | bc -l)")
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
m_ours=$(median "${ours[@]}")
m_theirs=$(median "${theirs[@]}")
printf 'reps: %d (interleaved)\n' "$reps"
printf 'reprocheck varied: %s\n' "$(sed -n 's/^varied: //p' "$work/ours.log")"
printf 'reprocheck not varied: %s\n' "$(sed -n 's/^not varied: \([a-z_]*\):.*/\1/p' "$work/ours.log" | tr '\n' ' ')"
printf 'reprotest: %s\n' "$(grep -c WARNING "$work/theirs.log") warnings (it ignores what it cannot apply without sudo); last line: $(tail -n1 "$work/theirs.log")"
printf 'reprocheck check, all factors (2 runs): median %.3f s\n' "$m_ours"
printf 'reprotest, default variations (2 runs): median %.3f s\n' "$m_theirs"
printf 'ratio reprocheck / reprotest: %.2f (target <= 1.0)\n' "$(echo "$m_ours / $m_theirs" | bc -l)"
