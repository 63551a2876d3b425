#!/usr/bin/env bash
# Wall time of the leaky fixtures (tests/fixtures/leak-*, each checked
# varying its own factor) through the local socket, a TLS endpoint and an
# SSH endpoint on 127.0.0.1 (examples/loopback_endpoints.rs, in front of
# the same engine), best of $REPS; prints each endpoint's total and its
# ratio to the local socket, also without the time-date row (its
# experiment starts 2 s after the control on every endpoint, which hides
# the endpoints' own cost). Run from the repository root, as root (sshd).
set -euo pipefail
source scripts/bench-lib.sh
reps=${REPS:-3}
start_loopback_endpoints

fixtures=(environment build_path user umask locales timezone home exec_path domain_host num_cpus kernel aslr fileordering time-date)
for f in "${fixtures[@]}"; do
  mkdir -p "$work/specs/$f"
  cp -a "tests/fixtures/leak-$f" "$work/specs/$f/src"
  cat >"$work/specs/$f/spec.toml" <<SPEC
name = "leak-$f"
[image]
digest = "$digest"
[source]
path = "src"
[build]
command = "sh build.sh"
outputs = ["out"]
SPEC
done

# best_of ENV... -- FACTOR SPEC: the lowest wall time in seconds of $reps checks.
best_of() {
  local best=
  for _ in $(seq "$reps"); do
    local start end t
    start=$(date +%s.%N)
    env "$@" "$bin" -q check "$spec" --vary "$factor" --out "$work/out" >/dev/null 2>&1 || true
    end=$(date +%s.%N)
    t=$(echo "$end - $start" | bc)
    if [ -z "$best" ] || [ "$(echo "$t < $best" | bc)" = 1 ]; then best=$t; fi
  done
  echo "$best"
}

declare -A total=([local]=0 [tls]=0 [ssh]=0) timeless=([local]=0 [tls]=0 [ssh]=0)
printf '%-14s %8s %8s %8s\n' fixture local tls ssh
for f in "${fixtures[@]}"; do
  spec=$work/specs/$f/spec.toml
  factor=${f%-date}
  l=$(best_of DOCKER_HOST="${DOCKER_HOST:-unix:///var/run/docker.sock}")
  # shellcheck disable=SC2086
  t=$(best_of $tls_env)
  # shellcheck disable=SC2086
  s=$(best_of $ssh_env)
  printf '%-14s %8.2f %8.2f %8.2f\n' "$f" "$l" "$t" "$s"
  total[local]=$(echo "${total[local]} + $l" | bc)
  total[tls]=$(echo "${total[tls]} + $t" | bc)
  total[ssh]=$(echo "${total[ssh]} + $s" | bc)
  if [ "$f" != time-date ]; then
    timeless[local]=$(echo "${timeless[local]} + $l" | bc)
    timeless[tls]=$(echo "${timeless[tls]} + $t" | bc)
    timeless[ssh]=$(echo "${timeless[ssh]} + $s" | bc)
  fi
done
printf '%-14s %8.2f %8.2f %8.2f\n' total "${total[local]}" "${total[tls]}" "${total[ssh]}"
printf 'tls / local = %.2f   ssh / local = %.2f\n' "$(echo "${total[tls]} / ${total[local]}" | bc -l)" "$(echo "${total[ssh]} / ${total[local]}" | bc -l)"
printf 'without time-date: tls / local = %.2f   ssh / local = %.2f\n' \
  "$(echo "${timeless[tls]} / ${timeless[local]}" | bc -l)" "$(echo "${timeless[ssh]} / ${timeless[local]}" | bc -l)"
