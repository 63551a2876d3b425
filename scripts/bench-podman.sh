#!/usr/bin/env bash
# Podman ÷ Docker on Debian hello 2.10-3 (issue 36, item 2): one all-factor
# `reprocheck check specs/debian/hello/hello.toml` on local Docker and one on
# a Podman service, interleaved, REPS times each; medians are compared. Also
# prints the CPU time each engine's own process spent per check.
#
#   scripts/bench-podman.sh [REPS]      (default 3)
#
# Needs: dockerd; the Podman service at $PODMAN_SOCKET (default
# /run/reprocheck-podman/podman.sock; see README, Requirements); hello's
# source (specs/debian/hello/fetch.sh). The hello image is built into each
# engine first when missing (not timed).
set -euo pipefail
cd "$(dirname "$0")/.."
reps=${1:-3}
podman_socket=${PODMAN_SOCKET:-/run/reprocheck-podman/podman.sock}
. scripts/bench-lib.sh
spec=specs/debian/hello/hello.toml
specs/debian/hello/fetch.sh >/dev/null
[ -S "$podman_socket" ] || { echo "no Podman service at $podman_socket" >&2; exit 2; }

engine_pid() { # docker|podman
  if [ "$1" = docker ]; then pgrep -x dockerd | head -n1; else pgrep -f "podman system service .*unix://$podman_socket" | head -n1; fi
}
engine_host() { if [ "$1" = docker ]; then echo "${DOCKER_HOST:-}"; else echo "unix://$podman_socket"; fi; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
now() { date +%s.%N; }

for engine in docker podman; do # the image into each engine, untimed
  DOCKER_HOST=$(engine_host $engine) "$bin" check "$spec" --build-missing --vary=none --out "$work/warm-$engine" >"$work/warm-$engine.log" 2>&1 || [ $? -eq 1 ] ||
    { echo "warming $engine failed:" >&2; tail -n 20 "$work/warm-$engine.log" >&2; exit 2; }
done

declare -A walls cpus verdicts
hz=$(getconf CLK_TCK)
for rep in $(seq "$reps"); do
  for engine in docker podman; do
    pid=$(engine_pid $engine)
    c0=$(cpu_ticks "$pid"); t0=$(now)
    rc=0; DOCKER_HOST=$(engine_host $engine) "$bin" check "$spec" --out "$work/$engine-$rep" >"$work/$engine-$rep.log" 2>&1 || rc=$?
    t1=$(now); c1=$(cpu_ticks "$pid")
    [ $rc -le 1 ] || { echo "$engine check failed (exit $rc):" >&2; tail -n 20 "$work/$engine-$rep.log" >&2; exit 2; }
    walls[$engine]+="$(echo "$t1 - $t0" | bc -l) "
    cpus[$engine]+="$(echo "($c1 - $c0) / $hz" | bc -l) "
    verdicts[$engine]+="$(sed -n 's/^\(REPRODUCIBLE\|UNREPRODUCIBLE\).*/\1/p' "$work/$engine-$rep.log" | head -n1) "
    printf 'rep %d %-6s %6.1f s wall, engine process %5.1f s CPU, %s\n' "$rep" "$engine" \
      "$(echo "$t1 - $t0" | bc -l)" "$(echo "($c1 - $c0) / $hz" | bc -l)" "$(echo "${verdicts[$engine]}" | awk '{print $NF}')"
  done
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
# shellcheck disable=SC2086
d=$(median ${walls[docker]}) p=$(median ${walls[podman]})
printf 'Docker: median %.1f s   Podman: median %.1f s   (reps: %d, interleaved)\n' "$d" "$p" "$reps"
printf 'verdicts: Docker %s| Podman %s\n' "${verdicts[docker]}" "${verdicts[podman]}"
printf 'ratio Podman / Docker: %.2f (issue 36: <= 1.15)\n' "$(echo "$p / $d" | bc -l)"
