#!/usr/bin/env bash
# A batch of N small specs (default 50): the sum of N single `reprocheck
# check` runs, one after another, against one `reprocheck check DIR` of the
# same specs; prints both, their ratio, and the most containers the batch
# had at once (sampled every 0.1 s), which --jobs bounds.
# Every 10th spec is unreproducible (it writes random bytes).
# Usage: [VARY=factors] [JOBS=n] scripts/bench-batch.sh [N]   (needs Docker and the pinned image)
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-50}
. scripts/bench-lib.sh

mkdir -p "$work/specs"
for i in $(seq -w 1 "$count"); do
  mkdir -p "$work/specs/s$i"
  if [ $((10#$i % 10)) -eq 0 ]; then
    echo 'mkdir -p out && head -c 16 /dev/urandom > out/x' > "$work/specs/s$i/build.sh"
  else
    echo "mkdir -p out && echo $i > out/x" > "$work/specs/s$i/build.sh"
  fi
  cat > "$work/specs/s$i.toml" <<SPEC
name = "s$i"
[image]
digest = "$digest"
[source]
path = "s$i"
[build]
command = "sh build.sh"
outputs = ["out"]
SPEC
done
vary=(); [ -n "${VARY:-}" ] && vary=(--vary "$VARY")
jobs=(); [ -n "${JOBS:-}" ] && jobs=(--jobs "$JOBS")
now() { date +%s.%N; }

sum=0
for spec in "$work"/specs/*.toml; do
  t0=$(now)
  "$bin" check "$spec" "${vary[@]}" "${jobs[@]}" --out "$work/single" -q >/dev/null 2>&1 || true
  sum=$(echo "$sum + $(now) - $t0" | bc -l)
done

"$bin" check "$work/specs" "${vary[@]}" "${jobs[@]}" --out "$work/batch" -q > "$work/table" 2>&1 &
pid=$!
boot=$(cat /proc/sys/kernel/random/boot_id)
most=0
t0=$(now)
while kill -0 "$pid" 2>/dev/null; do
  n=$(docker ps -aq --filter "label=reprocheck.owner=$pid@$boot" | wc -l)
  [ "$n" -gt "$most" ] && most=$n
  sleep 0.1
done
rc=0; wait "$pid" || rc=$?
batch=$(echo "$(now) - $t0" | bc -l)

printf 'specs: %d, vary: %s, jobs: %s, engine: docker %s, %s cores\n' "$count" "${VARY:-default (all)}" \
  "${JOBS:-default}" "$(docker version --format '{{.Server.Version}}')" "$(nproc)"
tail -n 2 "$work/table"
printf 'batch exit code: %d (1: some spec unreproducible)\n' "$rc"
printf 'sum of %d single checks: %.1f s\n' "$count" "$sum"
printf 'one batch of %d specs:   %.1f s\n' "$count" "$batch"
printf 'ratio batch / sum:       %.2f\n' "$(echo "$batch / $sum" | bc -l)"
printf 'most containers at once: %d\n' "$most"
