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

# end_ssh_master: ends reprocheck's shared ssh connection (and with it the
# engine socket's forward), so that the next check over ssh starts cold.
end_ssh_master() {
  # shellcheck disable=SC2086,SC2016
  env $ssh_env sh -c 'ssh -O exit -o "ControlPath=$XDG_CACHE_HOME/reprocheck/ssh/%C" -p "${DOCKER_HOST##*:}" root@127.0.0.1' >/dev/null 2>&1 || true
}

# best_of ENV... -- FACTOR SPEC: the lowest wall time in seconds of $reps
# checks; with COLD=1 in the script's environment, each starts cold.
best_of() {
  local best=
  for _ in $(seq "$reps"); do
    local start end t
    [ -n "${COLD:-}" ] && end_ssh_master
    start=$(date +%s.%N)
    env "$@" "$bin" -q check "$spec" --vary "$factor" --out "$work/out" >/dev/null 2>&1 || true
    end=$(date +%s.%N)
    t=$(echo "$end - $start" | bc)
    if [ -z "$best" ] || [ "$(echo "$t < $best" | bc)" = 1 ]; then best=$t; fi
  done
  echo "$best"
}

declare -A total=([local]=0 [tls]=0 [ssh]=0 [cold]=0) timeless=([local]=0 [tls]=0 [ssh]=0 [cold]=0)
printf '%-14s %8s %8s %8s %9s\n' fixture local tls ssh 'ssh cold'
echo "(ssh: the shared ssh connection and its forward of the engine socket kept between checks, as a user's"
echo " checks within 60 s of each other; ssh cold: ended before each check, which then logs in and asks"
echo " the remote Docker CLI for its socket)"
for f in "${fixtures[@]}"; do
  spec=$work/specs/$f/spec.toml
  factor=${f%-date}
  l=$(best_of DOCKER_HOST="${DOCKER_HOST:-unix:///var/run/docker.sock}")
  # shellcheck disable=SC2086
  t=$(best_of $tls_env)
  # shellcheck disable=SC2086
  s=$(best_of $ssh_env)
  # shellcheck disable=SC2086
  c=$(COLD=1 best_of $ssh_env)
  printf '%-14s %8.2f %8.2f %8.2f %9.2f\n' "$f" "$l" "$t" "$s" "$c"
  total[local]=$(echo "${total[local]} + $l" | bc)
  total[tls]=$(echo "${total[tls]} + $t" | bc)
  total[ssh]=$(echo "${total[ssh]} + $s" | bc)
  total[cold]=$(echo "${total[cold]} + $c" | bc)
  if [ "$f" != time-date ]; then
    timeless[local]=$(echo "${timeless[local]} + $l" | bc)
    timeless[tls]=$(echo "${timeless[tls]} + $t" | bc)
    timeless[ssh]=$(echo "${timeless[ssh]} + $s" | bc)
    timeless[cold]=$(echo "${timeless[cold]} + $c" | bc)
  fi
done
printf '%-14s %8.2f %8.2f %8.2f %9.2f\n' total "${total[local]}" "${total[tls]}" "${total[ssh]}" "${total[cold]}"
ratios() { # NAME TABLE: each endpoint's ratio to local in total[] or timeless[]
  local -n sums=$2
  printf '%s: tls / local = %.2f   ssh / local = %.2f (issue 36: <= 1.5)   ssh cold / local = %.2f\n' "$1" \
    "$(echo "${sums[tls]} / ${sums[local]}" | bc -l)" "$(echo "${sums[ssh]} / ${sums[local]}" | bc -l)" \
    "$(echo "${sums[cold]} / ${sums[local]}" | bc -l)"
}
ratios all total
ratios 'without time-date' timeless
